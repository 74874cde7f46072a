/*
 * The bulk data path's copy-saving features (issue 16): scatter-gather
 * transmit (sk_stack_params.transmitv), receive buffers posted by a
 * waiting reader (sk_recv_post / sk_recv_posted, Linux's direct copy to
 * the reader), and datagrams above the MTU on a link that takes them
 * (sk_stack_params.gso_max_size).  Two stacks joined by a queue in each
 * direction (support/stack_pair.h), the clock still: every figure here is
 * exact and repeatable.
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
#include "stack_pair.h"

#define CLIENT SK_PAIR_CLIENT_ADDR
#define SERVER SK_PAIR_SERVER_ADDR

/* Scatter-gather sends exactly the datagrams the contiguous path sends,
 * checksums included (computed over the pieces where they lie, some at
 * odd offsets), with pieces that wrap the send ring; the bytes arrive
 * whole and in order. */
static void test_sg_same_datagrams(void **state)
{
    (void)state;
    sk_pair a, b;
    sk_pair_opts oa = {.sg = false}, ob = {.sg = true};
    sk_pair_up(&a, &oa);
    sk_pair_up(&b, &ob);
    a.to_s.logging = b.to_s.logging = true;
    sk_pair_stream(&a, 600000, 7777, 5000);
    sk_pair_stream(&b, 600000, 7777, 5000);
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
    sk_pair_down(&a);
    sk_pair_down(&b);
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
    ev_seen e = {.tr = sk_trace_new(0)};
    assert_non_null(e.tr);
    sk_pair p;
    sk_pair_opts o = {.sg = true, .cli_event = on_ev, .cli_event_ctx = &e};
    sk_pair_up(&p, &o);
    sk_pair_stream(&p, 20000, 20000, 20000);
    assert_true(e.with_iov >= 14);
    assert_int_equal(e.hdr_len_ok, e.with_iov);
    assert_int_equal(e.traced_1448, 13); /* 20000 bytes: 13 full segments and a tail */
    sk_trace_free(e.tr);
    sk_pair_down(&p);
}

/* What sk_select_window puts in an ACK: the window field of the last
 * datagram the server sent. */
static uint16_t last_window(const sk_pair_link *l)
{
    assert_true(l->nlog > 0);
    const uint8_t *d = l->log[l->nlog - 1].b;
    return (uint16_t)(d[20 + 14] << 8 | d[20 + 15]);
}

static void send_all(sk_pair *p, const uint8_t *buf, size_t len)
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
    sk_pair p;
    sk_pair_opts o = {0};
    sk_pair_up(&p, &o);
    uint8_t src[1000], post[100], rest[2000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = sk_pair_pat(i);
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), -EBUSY);
    send_all(&p, src, sizeof(src));
    sk_pair_drain(&p);
    assert_true(sk_poll(p.s, p.sfd) & SK_POLLIN);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 100);
    assert_memory_equal(post, src, 100);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), -EINVAL); /* no longer posted */
    assert_int_equal(sk_recv(p.s, p.sfd, rest, sizeof(rest), 0), 900);
    assert_memory_equal(rest, src + 100, 900);
    assert_int_equal(sk_recv(p.s, p.sfd, rest, sizeof(rest), 0), -EAGAIN);
    sk_pair_down(&p);
}

/* Posting when data is queued copies it at once; data that arrives with
 * bytes still queued queues behind them (never overtakes); end of stream
 * reaches the posted reader as a read of 0. */
static void test_post_order_and_eof(void **state)
{
    (void)state;
    sk_pair p;
    sk_pair_opts o = {0};
    sk_pair_up(&p, &o);
    uint8_t src[3000], post[4000], rd[4000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = sk_pair_pat(i);
    send_all(&p, src, 1000);
    sk_pair_drain(&p);
    /* 1000 queued; a 600-byte post takes 600 at once, 400 stay queued. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, 600), 0);
    send_all(&p, src + 1000, 1000);
    sk_pair_drain(&p);
    /* The queue was not empty: the new data queued behind the 400. */
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 600);
    assert_memory_equal(post, src, 600);
    assert_int_equal(sk_recv(p.s, p.sfd, rd, sizeof(rd), 0), 1400);
    assert_memory_equal(rd, src + 600, 1400);
    /* Now empty: posted data goes straight in. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    send_all(&p, src + 2000, 1000);
    sk_pair_drain(&p);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 1000);
    assert_memory_equal(post, src + 2000, 1000);
    /* End of stream to a posted reader. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    assert_int_equal(sk_shutdown(p.c, p.cfd, SK_SHUT_WR), 0);
    sk_pair_drain(&p);
    assert_int_equal(sk_recv_posted(p.s, p.sfd), 0);
    /* Wrong calls. */
    assert_int_equal(sk_recv_post(p.s, p.sfd, NULL, 10), -EINVAL);
    assert_int_equal(sk_recv_post(p.s, p.sfd, post, 0), -EINVAL);
    assert_int_equal(sk_recv_post(p.s, p.lfd, post, 10), -ENOTCONN);
    assert_int_equal(sk_recv_post(p.s, 999, post, 10), -EBADF);
    assert_int_equal(sk_recv_posted(p.s, 999), -EBADF);
    sk_pair_down(&p);
}

/* Window accounting as Linux's direct copy: bytes the reader took need no
 * receive memory, so the ACK for them offers the whole window again,
 * where queued bytes shrink it by their truesize. */
static uint16_t ack_window_after(bool posted)
{
    sk_pair p;
    sk_pair_opts o = {.srv_rcvbuf = 4608};
    sk_pair_up(&p, &o);
    p.to_c.logging = true;
    uint8_t src[3000], post[4000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = sk_pair_pat(i);
    int one = 1;
    assert_int_equal(sk_setsockopt(p.s, p.sfd, SK_IPPROTO_TCP, SK_TCP_QUICKACK, &one, sizeof(one)), 0);
    if (posted)
        assert_int_equal(sk_recv_post(p.s, p.sfd, post, sizeof(post)), 0);
    send_all(&p, src, sizeof(src));
    sk_pair_drain(&p);
    p.now += 200 * SK_NSEC_PER_MSEC; /* the delayed ACK, if any */
    sk_advance(p.s, p.now);
    sk_pair_drain(&p);
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
    sk_pair_down(&p);
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
    sk_pair p;
    sk_pair_opts o = {.gso = gso, .sg = sg};
    sk_pair_up(&p, &o);
    int big = 4 << 20;
    sk_setsockopt(p.c, p.cfd, SK_SOL_SOCKET, SK_SO_SNDBUF, &big, sizeof(big));
    p.to_s.logging = true;
    sk_pair_stream(&p, 3000000, 65536, 100000);
    *max_len = p.to_s.max_len;
    *out_segs = sk_counter(p.c, "TcpOutSegs");
    *datagrams = p.to_s.nlog;
    struct sk_tcp_info ti;
    size_t tl = sizeof(ti);
    assert_int_equal(sk_getsockopt(p.c, p.cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &tl), 0);
    /* Data segments are counted per MSS, as Linux's tcp_skb_pcount. */
    assert_true(ti.tcpi_data_segs_out >= 3000000 / 1448);
    assert_true(ti.tcpi_data_segs_out <= 3000000 / 1448 + 64);
    sk_pair_down(&p);
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
        sk_pair p;
        sk_pair_opts o = {.gso = 65536, .sg = true, .offloads = SK_OFFLOAD_TCP_CSUM_TX | SK_OFFLOAD_TCP_CSUM_RX};
        sk_pair_up(&p, &o);
        p.to_s.drop_nth = nth;
        p.to_s.logging = true;
        sk_pair_stream(&p, 2000000, 65536, 100000);
        assert_int_equal(p.to_s.dropped, 1);
        assert_true(p.to_s.dropped_len > 1500);
        assert_true(sk_counter(p.c, "TcpRetransSegs") >= 1);
        sk_pair_down(&p);
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
