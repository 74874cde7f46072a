/*
 * Two stacks joined by in-process queues (stack_pair.h).
 */
#include "stack_pair.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* `b` whole, or gathered from `iov` when b is NULL. */
static void link_put(sk_pair_link *l, const uint8_t *b, size_t len, const sk_iovec *iov, size_t cnt)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    if (b) {
        memcpy(c, b, len);
    } else {
        size_t off = 0;
        for (size_t i = 0; i < cnt; i++) {
            memcpy(c + off, iov[i].base, iov[i].len);
            off += iov[i].len;
        }
        assert_int_equal(off, len);
    }
    if (len > l->max_len)
        l->max_len = len;
    if (len > 100 && l->drop_nth && ++l->big_seen == l->drop_nth) {
        l->dropped++;
        l->dropped_len = len;
        free(c);
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->q = realloc(l->q, l->cap * sizeof(*l->q));
        assert_non_null(l->q);
    }
    l->q[l->n++] = (sk_pair_dgram){c, len};
    if (l->logging) {
        if (l->nlog == l->logcap) {
            l->logcap = l->logcap ? l->logcap * 2 : 64;
            l->log = realloc(l->log, l->logcap * sizeof(*l->log));
            assert_non_null(l->log);
        }
        uint8_t *d = malloc(len ? len : 1);
        assert_non_null(d);
        memcpy(d, c, len);
        l->log[l->nlog++] = (sk_pair_dgram){d, len};
    }
}

void sk_pair_tx(void *ctx, const uint8_t *b, size_t len) { link_put(ctx, b, len, NULL, 0); }

void sk_pair_txv(void *ctx, const sk_iovec *iov, size_t count, size_t len)
{
    sk_pair_link *l = ctx;
    assert_true(count >= 2 && count <= SK_TRANSMITV_MAX);
    l->vectored++;
    if (count == 3)
        l->wrapped++;
    if (l->direct) {
        sk_pair_drain_one(l, l->direct, *l->now); /* keep the link's order */
        sk_inputv(l->direct, iov, count, *l->now);
        return;
    }
    link_put(l, NULL, len, iov, count);
}

void sk_pair_link_free(sk_pair_link *l)
{
    for (size_t i = l->head; i < l->n; i++)
        free(l->q[i].b);
    free(l->q);
    for (size_t i = 0; i < l->nlog; i++)
        free(l->log[i].b);
    free(l->log);
    memset(l, 0, sizeof(*l));
}

static sk_stack *mk(sk_pair *p, uint32_t addr, sk_pair_link *out, const sk_pair_opts *o)
{
    sk_stack_params sp = {.addr = addr, .mtu = o->mtu, .seed = addr, .now = p->now, .transmit = sk_pair_tx,
                          .transmit_ctx = out, .offloads = o->offloads, .gso_max_size = o->gso};
    for (int i = 0; i < 32; i++)
        sp.secret[i] = (uint8_t)(i * 7 + addr);
    if (o->sg)
        sp.transmitv = sk_pair_txv;
    if (addr == SK_PAIR_SERVER_ADDR) {
        sp.on_event = o->srv_event;
        sp.event_ctx = o->srv_event_ctx;
    } else {
        sp.on_event = o->cli_event;
        sp.event_ctx = o->cli_event_ctx;
    }
    sk_stack *s = sk_stack_new(&sp);
    assert_non_null(s);
    return s;
}

size_t sk_pair_drain_one(sk_pair_link *l, sk_stack *dst, sk_time_ns now)
{
    size_t k = 0;
    while (l->head < l->n) {
        sk_pair_dgram d = l->q[l->head++];
        sk_input(dst, d.b, d.len, now);
        free(d.b);
        k++;
    }
    l->n = l->head = 0;
    return k;
}

void sk_pair_drain(sk_pair *p)
{
    while (sk_pair_drain_one(&p->to_s, p->s, p->now) + sk_pair_drain_one(&p->to_c, p->c, p->now))
        ;
}

void sk_pair_up(sk_pair *p, const sk_pair_opts *o)
{
    memset(p, 0, sizeof(*p));
    p->now = 1000 * SK_NSEC_PER_SEC;
    p->c = mk(p, SK_PAIR_CLIENT_ADDR, &p->to_s, o);
    p->s = mk(p, SK_PAIR_SERVER_ADDR, &p->to_c, o);
    p->lfd = sk_socket(p->s);
    if (o->srv_rcvbuf)
        assert_int_equal(sk_setsockopt(p->s, p->lfd, SK_SOL_SOCKET, SK_SO_RCVBUF, &o->srv_rcvbuf, sizeof(int)), 0);
    sk_endpoint srv = {.addr = SK_PAIR_SERVER_ADDR, .port = SK_PAIR_PORT, .family = SK_AF_INET};
    assert_int_equal(sk_bind(p->s, p->lfd, &srv), 0);
    assert_int_equal(sk_listen(p->s, p->lfd, 8), 0);
    p->cfd = sk_socket(p->c);
    assert_int_equal(sk_connect(p->c, p->cfd, &srv), -EINPROGRESS);
    sk_pair_drain(p);
    p->sfd = sk_accept(p->s, p->lfd, NULL);
    assert_true(p->sfd >= 0);
    if (o->direct) {
        p->to_s.direct = p->s;
        p->to_s.now = &p->now;
    }
}

void sk_pair_down(sk_pair *p)
{
    sk_stack_free(p->c);
    sk_stack_free(p->s);
    sk_pair_link_free(&p->to_s);
    sk_pair_link_free(&p->to_c);
}

size_t sk_pair_read_check(sk_pair *p, size_t got, size_t rd)
{
    uint8_t *buf = malloc(rd);
    assert_non_null(buf);
    for (;;) {
        ssize_t n = sk_recv(p->s, p->sfd, buf, rd, 0);
        if (n == -EAGAIN)
            break;
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
            assert_int_equal(buf[i], sk_pair_pat(got + (size_t)i));
        got += (size_t)n;
    }
    free(buf);
    return got;
}

void sk_pair_stream(sk_pair *p, size_t total, size_t chunk, size_t rd)
{
    uint8_t *src = malloc(chunk);
    assert_non_null(src);
    size_t sent = 0, got = 0;
    int idle = 0;
    while (got < total) {
        bool progress = false;
        while (sent < total) {
            size_t want = total - sent < chunk ? total - sent : chunk;
            for (size_t i = 0; i < want; i++)
                src[i] = sk_pair_pat(sent + i);
            ssize_t n = sk_send(p->c, p->cfd, src, want, 0);
            if (n == -EAGAIN)
                break;
            assert_true(n > 0);
            sent += (size_t)n;
            progress = true;
        }
        sk_pair_drain(p);
        size_t before = got;
        got = sk_pair_read_check(p, got, rd);
        progress = progress || got != before;
        sk_pair_drain(p);
        if (!progress) {
            /* Only timers (delayed ACKs, retransmissions) can move things on. */
            sk_time_ns a = sk_next_deadline(p->c), b = sk_next_deadline(p->s);
            sk_time_ns t = a < b ? a : b;
            assert_true(t != SK_TIME_NEVER);
            assert_true(++idle < 1000);
            p->now = t > p->now ? t : p->now;
            sk_advance(p->c, p->now);
            sk_advance(p->s, p->now);
            sk_pair_drain(p);
        }
    }
    free(src);
}
