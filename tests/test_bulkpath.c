/*
 * The bulk data path's copy-saving features (issue 16): scatter-gather
 * transmit (sk_stack_params.transmitv), receive buffers posted by a
 * waiting reader (sk_recv_post / sk_recv_posted, Linux's direct copy to
 * the reader), and datagrams above the MTU on a link that takes them
 * (sk_stack_params.gso_max_size).  Two stacks joined by a queue in each
 * direction, the clock still: every figure here is exact and repeatable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "synack/packet.h"
#include "synack/synack.h"
#include "observe/trace.h"

#define CLIENT 0x0a000001u
#define SERVER 0x0a000002u
#define PORT 5001
#define MAXDG 4096

/* Every datagram sent one way, kept in order, gathered whole. */
typedef struct dgram {
    uint8_t *b;
    size_t len;
} dgram;

typedef struct link {
    dgram *q;
    size_t n, cap, head;
    size_t vectored, wrapped; /* datagrams through transmitv; of them, with 3 pieces */
    size_t max_len;           /* the largest datagram seen */
    dgram *log;               /* every datagram, when logging */
    size_t nlog, logcap;
    bool logging;
    size_t drop_nth; /* drop the n-th datagram longer than 100 bytes (1-based), 0: none */
    size_t big_seen, dropped, dropped_len;
} link;

static void link_put(link *l, const uint8_t *b, size_t len, const sk_iovec *iov, size_t cnt)
{
    uint8_t *c = malloc(len);
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
    l->q[l->n++] = (dgram){c, len};
    if (l->logging) {
        if (l->nlog == l->logcap) {
            l->logcap = l->logcap ? l->logcap * 2 : 64;
            l->log = realloc(l->log, l->logcap * sizeof(*l->log));
            assert_non_null(l->log);
        }
        uint8_t *d = malloc(len);
        assert_non_null(d);
        memcpy(d, c, len);
        l->log[l->nlog++] = (dgram){d, len};
    }
}

static void tx(void *ctx, const uint8_t *b, size_t len) { link_put(ctx, b, len, NULL, 0); }

static void txv(void *ctx, const sk_iovec *iov, size_t count, size_t len)
{
    link *l = ctx;
    assert_true(count >= 2 && count <= SK_TRANSMITV_MAX);
    l->vectored++;
    if (count == 3)
        l->wrapped++;
    link_put(l, NULL, len, iov, count);
}

static void link_free(link *l)
{
    for (size_t i = l->head; i < l->n; i++)
        free(l->q[i].b);
    free(l->q);
    for (size_t i = 0; i < l->nlog; i++)
        free(l->log[i].b);
    free(l->log);
    memset(l, 0, sizeof(*l));
}

typedef struct pair {
    sk_stack *c, *s;
    link to_s, to_c;
    int cfd, sfd, lfd;
    sk_time_ns now;
} pair;

typedef struct pair_opts {
    bool sg;
    uint32_t gso;
    uint16_t mtu;
    uint32_t offloads;
    int srv_rcvbuf; /* 0: default */
} pair_opts;

static sk_stack *mk(pair *p, uint32_t addr, link *out, const pair_opts *o)
{
    sk_stack_params sp = {.addr = addr, .mtu = o->mtu, .seed = addr, .now = p->now, .transmit = tx,
                          .transmit_ctx = out, .offloads = o->offloads, .gso_max_size = o->gso};
    for (int i = 0; i < 32; i++)
        sp.secret[i] = (uint8_t)(i * 7 + addr);
    if (o->sg)
        sp.transmitv = txv;
    sk_stack *s = sk_stack_new(&sp);
    assert_non_null(s);
    return s;
}

static size_t drain_one(link *l, sk_stack *dst, sk_time_ns now)
{
    size_t k = 0;
    while (l->head < l->n) {
        dgram d = l->q[l->head++];
        sk_input(dst, d.b, d.len, now);
        free(d.b);
        k++;
    }
    l->n = l->head = 0;
    return k;
}

static void drain(pair *p)
{
    while (drain_one(&p->to_s, p->s, p->now) + drain_one(&p->to_c, p->c, p->now))
        ;
}

static void pair_up(pair *p, const pair_opts *o)
{
    memset(p, 0, sizeof(*p));
    p->now = 1000 * SK_NSEC_PER_SEC;
    p->c = mk(p, CLIENT, &p->to_s, o);
    p->s = mk(p, SERVER, &p->to_c, o);
    p->lfd = sk_socket(p->s);
    if (o->srv_rcvbuf)
        assert_int_equal(sk_setsockopt(p->s, p->lfd, SK_SOL_SOCKET, SK_SO_RCVBUF, &o->srv_rcvbuf, sizeof(int)), 0);
    assert_int_equal(sk_bind(p->s, p->lfd, &(sk_endpoint){.addr = SERVER, .port = PORT, .family = SK_AF_INET}), 0);
    assert_int_equal(sk_listen(p->s, p->lfd, 8), 0);
    p->cfd = sk_socket(p->c);
    assert_int_equal(sk_connect(p->c, p->cfd, &(sk_endpoint){.addr = SERVER, .port = PORT, .family = SK_AF_INET}),
                     -EINPROGRESS);
    drain(p);
    p->sfd = sk_accept(p->s, p->lfd, NULL);
    assert_true(p->sfd >= 0);
}

static void pair_down(pair *p)
{
    sk_stack_free(p->c);
    sk_stack_free(p->s);
    link_free(&p->to_s);
    link_free(&p->to_c);
}

static uint8_t pat(size_t i) { return (uint8_t)(i * 131 + (i >> 9)); }

/* Moves `total` bytes client -> server in writes of `chunk` (odd sizes
 * make the send ring wrap at odd offsets), reading with plain reads of
 * `rd` bytes; checks every byte. */
static void stream(pair *p, size_t total, size_t chunk, size_t rd)
{
    uint8_t *src = malloc(chunk), *dst = malloc(rd);
    assert_non_null(src);
    assert_non_null(dst);
    size_t sent = 0, got = 0;
    int idle = 0;
    while (got < total) {
        bool progress = false;
        while (sent < total) {
            size_t want = total - sent < chunk ? total - sent : chunk;
            for (size_t i = 0; i < want; i++)
                src[i] = pat(sent + i);
            ssize_t n = sk_send(p->c, p->cfd, src, want, 0);
            if (n == -EAGAIN)
                break;
            assert_true(n > 0);
            sent += (size_t)n;
            progress = true;
        }
        drain(p);
        for (;;) {
            ssize_t n = sk_recv(p->s, p->sfd, dst, rd, 0);
            if (n == -EAGAIN)
                break;
            assert_true(n > 0);
            for (ssize_t i = 0; i < n; i++)
                assert_int_equal(dst[i], pat(got + (size_t)i));
            got += (size_t)n;
            progress = true;
        }
        drain(p);
        if (!progress) {
            /* Only timers (delayed ACKs) can move things on. */
            sk_time_ns a = sk_next_deadline(p->c), b = sk_next_deadline(p->s);
            sk_time_ns t = a < b ? a : b;
            assert_true(t != SK_TIME_NEVER);
            assert_true(++idle < 1000);
            p->now = t > p->now ? t : p->now;
            sk_advance(p->c, p->now);
            sk_advance(p->s, p->now);
            drain(p);
        }
    }
    free(src);
    free(dst);
}

/* Scatter-gather sends exactly the datagrams the contiguous path sends,
 * checksums included (computed over the pieces where they lie, some at
 * odd offsets), with pieces that wrap the send ring; the bytes arrive
 * whole and in order. */
static void test_sg_same_datagrams(void **state)
{
    (void)state;
    pair a, b;
    pair_opts oa = {.sg = false}, ob = {.sg = true};
    pair_up(&a, &oa);
    pair_up(&b, &ob);
    a.to_s.logging = b.to_s.logging = true;
    stream(&a, 600000, 7777, 5000);
    stream(&b, 600000, 7777, 5000);
    assert_true(b.to_s.vectored > 300);
    assert_true(b.to_s.wrapped > 0);
    assert_int_equal(a.to_s.vectored, 0);
    assert_int_equal(a.to_s.nlog, b.to_s.nlog);
    for (size_t i = 0; i < a.to_s.nlog; i++) {
        assert_int_equal(a.to_s.log[i].len, b.to_s.log[i].len);
        assert_memory_equal(a.to_s.log[i].b, b.to_s.log[i].b, a.to_s.log[i].len);
        /* Checksums are real here (no offload): a correct segment sums to 0. */
        const uint8_t *d = b.to_s.log[i].b;
        assert_int_equal(sk_tcp_checksum(CLIENT, SERVER, d + 20, b.to_s.log[i].len - 20), 0);
    }
    assert_int_equal(sk_counter(b.s, "TcpInCsumErrors"), 0);
    pair_down(&a);
    pair_down(&b);
}

/* The SEGMENT_OUT event of a vectored datagram: the headers in data/len,
 * the whole datagram in iov. */
typedef struct ev_seen {
    size_t with_iov, hdr_len_ok, traced_1448;
    sk_trace *tr;
} ev_seen;

static void on_ev(void *ctx, const sk_event *ev)
{
    ev_seen *e = ctx;
    if (ev->type != SK_EV_SEGMENT_OUT || !ev->iov)
        return;
    e->with_iov++;
    size_t total = 0;
    for (size_t i = 0; i < ev->iovcnt; i++)
        total += ev->iov[i].len;
    if (ev->data == ev->iov[0].base && ev->len == ev->iov[0].len && ev->len == 52 &&
        total == (size_t)(ev->data[2] << 8 | ev->data[3]))
        e->hdr_len_ok++;
    /* The trace shows the whole datagram, not a truncated one. */
    char line[8192];
    sk_trace_format_event(e->tr, ev, line, sizeof(line));
    if (total == 1500 && strstr(line, "length 1448") && !strstr(line, "truncated"))
        e->traced_1448++;
}

static void test_sg_event(void **state)
{
    (void)state;
    pair p;
    pair_opts o = {.sg = true};
    pair_up(&p, &o);
    ev_seen e = {.tr = sk_trace_new(0)};
    assert_non_null(e.tr);
    sk_stack_free(p.c);
    /* A fresh client with an event callback. */
    sk_stack_params sp = {.addr = CLIENT, .seed = 9, .now = p.now, .transmit = tx, .transmitv = txv,
                          .transmit_ctx = &p.to_s, .on_event = on_ev, .event_ctx = &e};
    p.c = sk_stack_new(&sp);
    assert_non_null(p.c);
    p.cfd = sk_socket(p.c);
    assert_int_equal(sk_connect(p.c, p.cfd, &(sk_endpoint){.addr = SERVER, .port = PORT, .family = SK_AF_INET}),
                     -EINPROGRESS);
    drain(&p);
    p.sfd = sk_accept(p.s, p.lfd, NULL);
    assert_true(p.sfd >= 0);
    stream(&p, 20000, 20000, 20000);
    assert_true(e.with_iov >= 14);
    assert_int_equal(e.hdr_len_ok, e.with_iov);
    assert_int_equal(e.traced_1448, 13); /* 20000 bytes: 13 full segments and a tail */
    sk_trace_free(e.tr);
    pair_down(&p);
}

/* What sk_select_window puts in an ACK: the window field of the last
 * datagram the server sent. */
static uint16_t last_window(const link *l)
{
    assert_true(l->nlog > 0);
    const uint8_t *d = l->log[l->nlog - 1].b;
    return (uint16_t)(d[20 + 14] << 8 | d[20 + 15]);
}

static void send_all(pair *p, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = sk_send(p->c, p->cfd, buf + off, len - off, 0);
        assert_true(n > 0);
        off += (size_t)n;
    }
}

/* A reader whose posted buffer is smaller than the segment: the head goes
 * into the buffer, the rest queues, and reading on gives every byte once
 * and in order. */
static void test_post_smaller_than_segment(void **state)
{
    (void)state;
    pair p;
    pair_opts o = {0};
    pair_up(&p, &o);
    uint8_t src[1000], post[100], rest[2000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = pat(i);
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), -EBUSY);
    send_all(&p, src, sizeof(src));
    drain(&p);
    assert_true(sk_poll(p.s, p.sfd) & SK_POLLIN);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 100);
    assert_memory_equal(post, src, 100);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), -EINVAL); /* no longer posted */
    assert_int_equal(sk_recv(p.s, p.sfd, rest, sizeof(rest), 0), 900);
    assert_memory_equal(rest, src + 100, 900);
    assert_int_equal(sk_recv(p.s, p.sfd, rest, sizeof(rest), 0), -EAGAIN);
    pair_down(&p);
}

/* Posting when data is queued copies it at once; data that arrives with
 * bytes still queued queues behind them (never overtakes); end of stream
 * reaches the posted reader as a read of 0. */
static void test_post_order_and_eof(void **state)
{
    (void)state;
    pair p;
    pair_opts o = {0};
    pair_up(&p, &o);
    uint8_t src[3000], post[4000], rd[4000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = pat(i);
    send_all(&p, src, 1000);
    drain(&p);
    /* 1000 queued; a 600-byte post takes 600 at once, 400 stay queued. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, 600), 0);
    send_all(&p, src + 1000, 1000);
    drain(&p);
    /* The queue was not empty: the new data queued behind the 400. */
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 600);
    assert_memory_equal(post, src, 600);
    assert_int_equal(sk_recv(p.s, p.sfd, rd, sizeof(rd), 0), 1400);
    assert_memory_equal(rd, src + 600, 1400);
    /* Now empty: posted data goes straight in. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    send_all(&p, src + 2000, 1000);
    drain(&p);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 1000);
    assert_memory_equal(post, src + 2000, 1000);
    /* End of stream to a posted reader. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    assert_int_equal(sk_shutdown(p.c, p.cfd, SK_SHUT_WR), 0);
    drain(&p);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 0);
    /* Wrong calls. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, NULL, 10), -EINVAL);
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, 0), -EINVAL);
    assert_int_equal(sk_recv_post(p.s, p.lfd, post, 10), -ENOTCONN);
    assert_int_equal(sk_recv_post(p.s, 999, post, 10), -EBADF);
    assert_int_equal(sk_recv_posted(p.s, 999), -EBADF);
    pair_down(&p);
}

/* Window accounting as Linux's direct copy: bytes the reader took need no
 * receive memory, so the ACK for them offers the whole window again,
 * where queued bytes shrink it by their truesize. */
static uint16_t ack_window_after(bool posted)
{
    pair p;
    pair_opts o = {.srv_rcvbuf = 4608};
    pair_up(&p, &o);
    p.to_c.logging = true;
    uint8_t src[3000], post[4000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = pat(i);
    int one = 1;
    assert_int_equal(sk_setsockopt(p.s, p.sfd, SK_IPPROTO_TCP, SK_TCP_QUICKACK, &one, sizeof(one)), 0);
    if (posted)
        assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    send_all(&p, src, sizeof(src));
    drain(&p);
    p.now += 200 * SK_NSEC_PER_MSEC; /* the delayed ACK, if any */
    sk_advance(p.s, p.now);
    drain(&p);
    uint16_t w = last_window(&p.to_c);
    struct sk_tcp_info ti;
    size_t tl = sizeof(ti);
    assert_int_equal(sk_getsockopt(p.s, p.sfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &tl), 0);
    assert_int_equal(ti.tcpi_rcv_wscale, 0);
    assert_int_equal(ti.tcpi_rcv_ssthresh, 3160);
    if (posted) {
        assert_int_equal(sk_recv_posted(p.s, p.sfd), 3000);
        assert_memory_equal(post, src, 3000);
    }
    pair_down(&p);
    return w;
}

static void test_post_window(void **state)
{
    (void)state;
    /* SO_RCVBUF 4608 (doubled to 9216 as Linux does), no window scaling,
     * rcv_ssthresh 3160.  Taken by the reader, the 3000 bytes charge
     * nothing: __tcp_select_window offers the free space, capped at
     * rcv_ssthresh and rounded down to whole segments, 2 x 1448 as with
     * an empty buffer.  Queued, their truesize leaves room for one
     * segment's worth. */
    assert_int_equal(ack_window_after(false), 1448);
    assert_int_equal(ack_window_after(true), 2896);
}

/* gso_max_size: a burst's TSO packets leave as datagrams above the MTU,
 * counted as the MSS-sized segments they stand for; without it, or with
 * it at or below the MTU, no datagram exceeds the MTU. */
static void gso_run(uint32_t gso, bool sg, size_t *max_len, uint64_t *out_segs, size_t *datagrams)
{
    pair p;
    pair_opts o = {.gso = gso, .sg = sg};
    pair_up(&p, &o);
    int big = 4 << 20;
    sk_setsockopt(p.c, p.cfd, SK_SOL_SOCKET, SK_SO_SNDBUF, &big, sizeof(big));
    p.to_s.logging = true;
    stream(&p, 3000000, 65536, 100000);
    *max_len = p.to_s.max_len;
    *out_segs = sk_counter(p.c, "TcpOutSegs");
    *datagrams = p.to_s.nlog;
    struct sk_tcp_info ti;
    size_t tl = sizeof(ti);
    assert_int_equal(sk_getsockopt(p.c, p.cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &tl), 0);
    /* Data segments are counted per MSS, as Linux's tcp_skb_pcount. */
    assert_true(ti.tcpi_data_segs_out >= 3000000 / 1448);
    assert_true(ti.tcpi_data_segs_out <= 3000000 / 1448 + 64);
    pair_down(&p);
}

static void test_gso(void **state)
{
    (void)state;
    size_t max_plain, max_gso, max_low, n_plain, n_gso, n_low, max_sg, n_sg;
    uint64_t segs_plain, segs_gso, segs_low, segs_sg;
    gso_run(0, false, &max_plain, &segs_plain, &n_plain);
    gso_run(65536, false, &max_gso, &segs_gso, &n_gso);
    gso_run(1500, false, &max_low, &segs_low, &n_low);
    gso_run(65536, true, &max_sg, &segs_sg, &n_sg);
    assert_int_equal(max_plain, 1500);
    assert_int_equal(max_low, 1500);
    assert_true(max_gso > 1500 && max_gso <= 65535);
    assert_true(max_sg > 1500 && max_sg <= 65535);
    assert_true(n_gso * 4 < n_plain);
    /* OutSegs counts what the datagrams stand for: within a few segments
     * of the plain run (ACK patterns differ with fewer datagrams). */
    assert_true(segs_gso + 64 >= 3000000 / 1448);
    assert_int_equal(segs_gso, segs_sg);
    assert_int_equal(n_gso, n_sg);
}

/* A lost GSO datagram (and with it a whole TSO packet's worth of
 * segments) is repaired: every byte arrives once, in order, with SACK
 * recovery resending MSS-sized pieces. */
static void test_gso_loss(void **state)
{
    (void)state;
    for (size_t nth = 3; nth <= 9; nth += 3) {
        pair p;
        pair_opts o = {.gso = 65536, .sg = true, .offloads = SK_OFFLOAD_TCP_CSUM_TX | SK_OFFLOAD_TCP_CSUM_RX};
        pair_up(&p, &o);
        p.to_s.drop_nth = nth;
        p.to_s.logging = true;
        stream(&p, 2000000, 65536, 100000);
        assert_int_equal(p.to_s.dropped, 1);
        assert_true(p.to_s.dropped_len > 1500);
        assert_true(sk_counter(p.c, "TcpRetransSegs") >= 1);
        pair_down(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sg_same_datagrams),
        cmocka_unit_test(test_sg_event),
        cmocka_unit_test(test_post_smaller_than_segment),
        cmocka_unit_test(test_post_order_and_eof),
        cmocka_unit_test(test_post_window),
        cmocka_unit_test(test_gso),
        cmocka_unit_test(test_gso_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
