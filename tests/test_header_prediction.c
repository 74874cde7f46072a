/*
 * Header prediction (input.c's `predicted`, after Linux's
 * tcp_rcv_established): in ESTABLISHED the next expected segment, an ACK
 * with at most PSH beside it, is processed without the general checks.
 * These tests push the segments it takes and, above all, those it must
 * leave to the general path of RFC 9293 §3.10.7.4 (with RFC 5961 and RFC
 * 7323's PAWS), and assert the exact reply, state and counters, which are
 * the same as before the fast path existed.
 *
 * The peer "p" (tests/support/one_sided.h) offers MSS 1000 and, unless a
 * test negotiates timestamps itself, no other option; both streams start
 * at relative sequence 1.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "one_sided.h"

static sk_fixture *fixture(void **state)
{
    return *state;
}

static ssize_t drain(sk_one *t, char *buf, size_t cap)
{
    return sk_recv(t->s, t->fd, buf, cap, 0);
}

/* ---- what the fast path takes --------------------------------------- */

/* In-order data, ACK flag only: queued, and ACKed at once (the first data
 * segment starts quickack mode, tcp_event_data_recv). */
static void test_in_order_data__queued_and_acked(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), 10);
    assert_memory_equal(buf, "abcdefghij", 10);
    struct sk_tcp_info ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_data_segs_in, 1);
    assert_int_equal(ti.tcpi_bytes_received, 10);
}

/* PSH beside ACK is still predicted; two segments in a row both land. */
static void test_in_order_data_psh__queued_and_acked(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "P. seq 1 ack 1 len 10");
    sk_one_send(&t, "P. seq 11 ack 1 len 5");
    EXPECT_SEGMENTS(f, "p>s P. seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0", "p>s P. seq 11:16 ack 1",
                    "s>p . seq 1 ack 16 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), 15);
    assert_memory_equal(buf, "abcdefghijabcde", 15);
}

/* A pure ACK of our data: SND.UNA moves, nothing is sent back. */
static void test_ack_of_data__snd_una_moves(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    assert_int_equal(sk_send(t.s, t.fd, "0123456789", 10, 0), 10);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p P. seq 1:11 ack 1");
    sk_one_send(&t, ". seq 1 ack 11");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 11");
    EXPECT_NO_MORE_SEGMENTS(f);
    struct sk_tcp_info ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_unacked, 0);
    assert_int_equal(ti.tcpi_bytes_acked, 10);
    /* Nothing is retransmitted later: the timer was stopped. */
    sk_test_run_for(f, SEC(5));
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* Data that also acknowledges ours. */
static void test_data_with_ack_of_data__both_taken(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    assert_int_equal(sk_send(t.s, t.fd, "0123456789", 10, 0), 10);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p P. seq 1:11 ack 1");
    sk_one_send(&t, "P. seq 1 ack 11 len 4");
    EXPECT_SEGMENTS(f, "p>s P. seq 1:5 ack 11", "s>p . seq 11 ack 5 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    struct sk_tcp_info ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_unacked, 0);
    char buf[8];
    assert_int_equal(drain(&t, buf, sizeof buf), 4);
}

/* ---- what it must leave to the general path -------------------------- */

/* Data past the right edge of the window: RFC 9293 §3.10.7.4 first check
 * fails, an ACK goes back and nothing is queued. */
static void test_out_of_window_data__dupack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1000001 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1000001:1000011 ack 1", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "OutOfWindow"), 1);
    assert_int_equal(sk_counter(f->server, "BeyondWindow"), 1);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), -EAGAIN);
}

/* Below the window (a retransmission of what we have): the ACK goes out
 * at once with a D-SACK's worth of accounting (DelayedACKLost). */
static void test_old_data__dupack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    sk_one_send(&t, ". seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "DelayedACKLost"), 1);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), 10);
}

/* Ahead of RCV.NXT but in the window: kept out of order, ACKed at once
 * with the old RCV.NXT; the hole's filling delivers both. */
static void test_out_of_order_data__queued_apart(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 11 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 11:21 ack 1", "s>p . seq 1 ack 1 len 0");
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), -EAGAIN);
    sk_one_send(&t, ". seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 21 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(drain(&t, buf, sizeof buf), 20);
}

/* An ACK of what was never sent: dropped in ESTABLISHED without a reply
 * (tcp_rcv_established), its data with it. */
static void test_ack_beyond_snd_nxt__dropped(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 500 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 500");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "OutOfWindow"), 1);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), -EAGAIN);
}

/* An ACK below SND.UNA (older than what the peer acknowledged before):
 * its data is still good. */
static void test_old_ack_with_data__data_taken(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    assert_int_equal(sk_send(t.s, t.fd, "0123456789", 10, 0), 10);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p P. seq 1:11 ack 1");
    sk_one_send(&t, ". seq 1 ack 11");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 11");
    sk_one_send(&t, ". seq 1 ack 6 len 3");
    EXPECT_SEGMENTS(f, "p>s . seq 1:4 ack 6", "s>p . seq 11 ack 4 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    char buf[8];
    assert_int_equal(drain(&t, buf, sizeof buf), 3);
    struct sk_tcp_info ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_bytes_acked, 10);
}

/* A segment without ACK is dropped, data and all (Linux's tcp_rcv_established). */
static void test_data_without_ack__dropped(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "P seq 1 len 10");
    EXPECT_SEGMENTS(f, "p>s P seq 1:11");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "InvalidSegment"), 1);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), -EAGAIN);
}

/* SYN with data at RCV.NXT: a challenge ACK (RFC 5961 §4.2), no data. */
static void test_syn_at_rcv_nxt__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "S. seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s S. seq 1:11 ack 1", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "TCPSYNChallenge"), 1);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), -EAGAIN);
}

/* RST with ACK at RCV.NXT: the connection is reset (RFC 5961 §3.2). */
static void test_rst_ack_at_rcv_nxt__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "R. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s R. seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    char buf[4];
    assert_int_equal(drain(&t, buf, sizeof buf), -ECONNRESET);
}

/* FIN with data at RCV.NXT: both taken, CLOSE_WAIT, and one ACK for
 * both, delayed (tcp_fin enters pingpong mode so that a prompt close
 * sends its FIN with it) by the minimum ATO. */
static void test_fin_with_data__close_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "FP. seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s FP. seq 1:11 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "s>p . seq 1 ack 12 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), 10);
    assert_int_equal(drain(&t, buf, sizeof buf), 0);
}

/* URG: synack keeps no urgent mark (SO_OOBINLINE's reading, as Linux's
 * tcp_urg leaves the byte in line); the data is taken as any other. */
static void test_urg_data__taken_in_line(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "U. seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s U. seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), 10);
}

/* CWR with data: the ACK goes out at once (tcp_ecn_accept_cwr). */
static void test_cwr_data__acked_at_once(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    /* Out of quickack mode the next segment would wait for the delayed
     * ACK; CWR sends it at once. */
    sk_one_send(&t, "W. seq 11 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s W. seq 11:21 ack 1", "s>p . seq 1 ack 21 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* A pure ACK that changes only the window: no data, nothing acknowledged;
 * the general path takes it as a window update under RFC 9293
 * §3.10.7.4's SND.WL1/SND.WL2 rule as Linux's tcp_may_update_window
 * words it: at the same SND.WL1 the window may grow or close, not
 * shrink. */
static void test_window_update__taken(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 1 win 20000");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1 win 20000");
    EXPECT_NO_MORE_SEGMENTS(f);
    struct sk_tcp_info ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_snd_wnd, 20000);
    sk_one_send(&t, ". seq 1 ack 1 win 5000");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1 win 5000");
    ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_snd_wnd, 20000);
    sk_one_send(&t, ". seq 1 ack 1 win 0");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1 win 0");
    ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_snd_wnd, 0);
    /* Then data opening it again: the predicted segment updates the
     * window by the same rule. */
    sk_one_send(&t, ". seq 1 ack 1 len 10 win 3000");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1 win 3000", "s>p . seq 1 ack 11 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    ti = sk_test_tcp_info(t.s, t.fd);
    assert_int_equal(ti.tcpi_snd_wnd, 3000);
}

/* Duplicate ACKs with data outstanding are counted (RFC 5681 §2) by the
 * general path: the third starts a fast retransmission. */
static void test_duplicate_acks__fast_retransmit(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    static char data[4000];
    memset(data, 'x', sizeof data);
    assert_int_equal(sk_send(t.s, t.fd, data, sizeof data, 0), (ssize_t)sizeof data);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p . seq 1:1001 ack 1", "s>p . seq 1001:2001 ack 1", "s>p . seq 2001:3001 ack 1",
                    "s>p P. seq 3001:4001 ack 1");
    sk_one_send(&t, ". seq 1 ack 1001");
    sk_one_send(&t, ". seq 1 ack 1001");
    sk_one_send(&t, ". seq 1 ack 1001");
    sk_one_send(&t, ". seq 1 ack 1001");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1001", "p>s . seq 1 ack 1001", "p>s . seq 1 ack 1001",
                    "p>s . seq 1 ack 1001", "s>p . seq 1001:2001 ack 1");
    assert_int_equal(sk_counter(f->server, "RetransSegs"), 1);
}

/* ---- with timestamps: PAWS ------------------------------------------ */

/* ESTABLISHED by a passive open whose peer sends timestamps from val 1000
 * (RFC 7323): the socket's TS.Recent is then 1001. */
static sk_one open_with_timestamps(sk_fixture *f)
{
    sk_one t;
    memset(&t, 0, sizeof t);
    t.f = f;
    t.s = f->server;
    t.port = 80;
    t.peer_port = 40000;
    t.lfd = sk_test_listen(f, t.s, t.port, 16);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, sk_stack_addr(t.s), t.port, SK_ONE_PEER_ISN);
    t.fd = -1;
    sk_one_send(&t, "S seq 0 val 1000 ecr 0");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1");
    sk_one_send(&t, ". seq 1 ack 1 val 1001 ecr 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1");
    t.fd = sk_accept(t.s, t.lfd, NULL);
    assert_true(t.fd >= 0);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    return t;
}

/* A timestamp at or past TS.Recent: predicted, taken. */
static void test_timestamps_in_order__taken(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = open_with_timestamps(f);
    sk_one_send(&t, ". seq 1 ack 1 len 10 val 1001 ecr 1");
    sk_one_send(&t, ". seq 11 ack 1 len 10 val 1002 ecr 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0", "p>s . seq 11:21 ack 1",
                    "s>p . seq 1 ack 21 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), 20);
    assert_int_equal(sk_counter(f->server, "PAWSEstab"), 0);
}

/* An old timestamp marks an old duplicate (RFC 7323 §5.3): refused with an
 * ACK, counted in PAWSEstab, nothing queued. */
static void test_old_timestamp__paws_rejected(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = open_with_timestamps(f);
    sk_one_send(&t, ". seq 1 ack 1 len 10 val 500 ecr 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "PAWSEstab"), 1);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), -EAGAIN);
    /* A timestamp one tick behind is within Linux's window of 1
     * (tcp_paws_check): accepted. */
    sk_one_send(&t, ". seq 1 ack 1 len 10 val 1000 ecr 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    assert_int_equal(drain(&t, buf, sizeof buf), 10);
    assert_int_equal(sk_counter(f->server, "PAWSEstab"), 1);
}

/* With timestamps negotiated, a segment without one is still processed
 * (RFC 7323 §3.2 leaves it to the receiver; Linux takes it) by the
 * general path. */
static void test_missing_timestamp__taken(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = open_with_timestamps(f);
    sk_one_send(&t, ". seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    char buf[32];
    assert_int_equal(drain(&t, buf, sizeof buf), 10);
}

/* ---- data beyond the receive window ---------------------------------- */

/* The window the socket advertised last (the peer offered no window
 * scaling, so it is in bytes), after its delayed ACK went out. */
static uint32_t advertised(sk_fixture *f)
{
    sk_test_run_for(f, MSEC(500));
    for (size_t i = f->trace_len; i-- > 0;)
        if (strcmp(f->trace[i].from, "s") == 0) {
            f->cursor = f->trace_len;
            return f->trace[i].seg.window;
        }
    fail_msg("no segment from the socket");
    return 0;
}

/* With data already queued, a segment from RCV.NXT that ends past the
 * window is refused whole (tcp_sequence, Linux 6.17+: BeyondWindow) and
 * the ACK repeats RCV.NXT; into the empty queue it would have been taken. */
static void test_data_past_window_with_queue__refused(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    uint32_t seq = 1, wnd;
    char desc[96], want[96];
    /* Fill the window, unread, 1400 bytes a time. */
    while ((wnd = advertised(f)) >= 1400) {
        snprintf(desc, sizeof desc, ". seq %u ack 1 len 1400", seq);
        sk_one_send(&t, desc);
        seq += 1400;
    }
    assert_true(seq > 1);
    snprintf(desc, sizeof desc, ". seq %u ack 1 len %u", seq, wnd + 1);
    sk_one_send(&t, desc);
    snprintf(desc, sizeof desc, "p>s . seq %u:%u ack 1", seq, seq + wnd + 1);
    snprintf(want, sizeof want, "s>p . seq 1 ack %u len 0", seq);
    EXPECT_SEGMENTS(f, desc, want);
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "BeyondWindow"), 1);
    assert_int_equal(sk_counter(f->server, "OutOfWindow"), 1);
    /* What fits the window still goes in. */
    if (wnd) {
        snprintf(desc, sizeof desc, ". seq %u ack 1 len %u", seq, wnd);
        sk_one_send(&t, desc);
        snprintf(desc, sizeof desc, "p>s . seq %u:%u ack 1", seq, seq + wnd);
        EXPECT_SEGMENTS(f, desc);
        struct sk_tcp_info ti = sk_test_tcp_info(t.s, t.fd);
        assert_int_equal(ti.tcpi_bytes_received, seq - 1 + wnd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, sk_one_setup, sk_one_teardown)
        T(test_in_order_data__queued_and_acked),
        T(test_in_order_data_psh__queued_and_acked),
        T(test_ack_of_data__snd_una_moves),
        T(test_data_with_ack_of_data__both_taken),
        T(test_out_of_window_data__dupack),
        T(test_old_data__dupack),
        T(test_out_of_order_data__queued_apart),
        T(test_ack_beyond_snd_nxt__dropped),
        T(test_old_ack_with_data__data_taken),
        T(test_data_without_ack__dropped),
        T(test_syn_at_rcv_nxt__challenge_ack),
        T(test_rst_ack_at_rcv_nxt__closed),
        T(test_fin_with_data__close_wait),
        T(test_urg_data__taken_in_line),
        T(test_cwr_data__acked_at_once),
        T(test_window_update__taken),
        T(test_duplicate_acks__fast_retransmit),
        T(test_timestamps_in_order__taken),
        T(test_old_timestamp__paws_rejected),
        T(test_missing_timestamp__taken),
        T(test_data_past_window_with_queue__refused),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
