/*
 * RFC 9293's state machine, one transition per test: a socket put into a
 * state (tests/support/one_sided.h), one event (a segment from the peer
 * the test plays, a call, or time), the exact reply and the new state.
 * Each test is named STATE__EVENT__RESULT.  Where the RFC leaves room the
 * expected reply is Linux's (tcp_rcv_state_process, tcp_validate_incoming,
 * tcp_rcv_synsent_state_process, tcp_check_req, tcp_timewait_state_process,
 * tcp_close_state); the arrows are those of the diagram in RFC 9293
 * §3.3.2, the rest the event processing of §3.10.7 with RFC 5961.
 *
 * In every test the peer "p" (10.0.0.9) offers MSS 1000 and no other
 * option; the socket's stream starts at relative sequence 1 and so does the
 * peer's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "one_sided.h"

#define TIME_WAIT_LEN SEC(60) /* Linux's TCP_TIMEWAIT_LEN */

static sk_fixture *fixture(void **state)
{
    return *state;
}

/* ---- §3.3.2: the arrows of the diagram ------------------------------ */

/* CLOSED → LISTEN on a passive OPEN: nothing is sent. */
static void test_closed__passive_open__listen(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    EXPECT_ONE_STATE(&t, SK_TCP_LISTEN);
    sk_test_run_for(f, SEC(5));
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* CLOSED → SYN_SENT on an active OPEN, with the SYN. */
static void test_closed__active_open__syn_sent(void **state)
{
    sk_fixture *f = fixture(state);
    int fd = sk_test_connect(f, f->server, SK_ONE_PEER_ADDR, 80);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p S seq 0 ack 0 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, fd), SK_TCP_SYN_SENT);
}

/* LISTEN → SYN_RECEIVED on a SYN, answered with SYN,ACK; the listener
 * stays in LISTEN and the half-open connection is a request on it. */
static void test_listen__syn__syn_received(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, 40000, SK_TEST_SERVER_ADDR, 80, SK_ONE_PEER_ISN);
    t.peer_port = 40000;
    sk_one_send(&t, "S seq 0");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, t.lfd), SK_TCP_LISTEN);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_ONE_PEER_ADDR, 40000), SK_TCP_SYN_RECV);
}

/* LISTEN → SYN_SENT on SEND is the RFC's option Linux does not take:
 * connect() on a listener fails with EISCONN and sends nothing
 * (inet_stream_connect), a send fails with EPIPE (sk_stream_wait_connect). */
static void test_listen__connect__eisconn(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    sk_endpoint remote = sk_endpoint_ipv4(SK_ONE_PEER_ADDR, 80);
    assert_int_equal(sk_connect(f->server, t.lfd, &remote), -EISCONN);
    assert_int_equal(sk_send(f->server, t.lfd, "x", 1, 0), -EPIPE);
    sk_test_run_for(f, SEC(1));
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_LISTEN);
}

/* LISTEN → CLOSED on CLOSE: the descriptor is gone, nothing is sent. */
static void test_listen__close__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    assert_int_equal(sk_close(f->server, t.lfd), 0);
    sk_test_run_for(f, SEC(1));
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, t.lfd), -EBADF);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_LISTEN), 0);
}

/* SYN_SENT → CLOSED on CLOSE: Linux's tcp_close_state sends nothing for a
 * connection that never heard from its peer. */
static void test_syn_sent__close__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    assert_int_equal(sk_close(f->server, t.fd), 0);
    sk_test_run_for(f, SEC(5));
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
}

/* SYN_SENT → SYN_RECEIVED on a SYN without ACK (simultaneous open): the
 * SYN goes out again with the ACK, at the same ISS. */
static void test_syn_sent__syn__syn_received(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port,
                      SK_ONE_PEER_ISN);
    sk_one_send(&t, "S seq 0");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_RECV);
    assert_int_equal(sk_state(f->server, t.fd), SK_TCP_SYN_RECV);
}

/* SYN_SENT → ESTABLISHED on SYN,ACK, with the third segment of the
 * handshake. */
static void test_syn_sent__syn_ack__established(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port,
                      SK_ONE_PEER_ISN);
    sk_one_send(&t, "S. seq 0 ack 1");
    EXPECT_SEGMENTS(f, "p>s S. seq 0 ack 1", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_test_so_error(f->server, t.fd), 0);
    /* The active side's SYN counts as acknowledged (tcp_snd_una_update). */
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(f->server, t.fd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    assert_int_equal(ti.tcpi_bytes_acked, 1);
}

/* SYN_RECEIVED → ESTABLISHED on the ACK of our SYN (passive): silent, and
 * the connection waits in the accept queue. */
static void test_syn_received__ack__established(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    sk_endpoint peer;
    int fd = sk_accept(f->server, t.lfd, &peer);
    assert_true(fd >= 0);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    /* Linux's child starts past its SYN-ACK: no byte acknowledged yet. */
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(f->server, fd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    assert_int_equal(ti.tcpi_bytes_acked, 0);
}

/* The same arrow after a simultaneous open: the peer's ACK of our SYN. */
static void test_syn_received__ack__established_simultaneous(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_ACTIVE);
    sk_one_send(&t, ". seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_true(sk_poll(f->server, t.fd) & SK_POLLOUT);
}

/* A FIN on the ACK that completes a simultaneous open: Linux's
 * tcp_rcv_state_process takes the ACK first (SYN_RECV -> ESTABLISHED),
 * then the FIN through tcp_data_queue/tcp_fin as in ESTABLISHED
 * (-> CLOSE_WAIT), ACKed at once. */
static void test_syn_received__fin_ack__close_wait_simultaneous(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_ACTIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
}

/* In a simultaneous open the peer's answer is usually its SYN,ACK (our
 * SYN crossed its): Linux lets that one SYN through the RFC 5961 check
 * (tcp_validate_incoming) and, its SYN being a duplicate by then, ACKs it
 * at once from tcp_data_queue. */
static void test_syn_received__syn_ack__established_simultaneous(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_ACTIVE);
    sk_one_send(&t, "S. seq 0 ack 1");
    EXPECT_SEGMENTS(f, "p>s S. seq 0 ack 1", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
}

/* SYN_RECEIVED → FIN_WAIT_1 on CLOSE: a full socket (simultaneous open)
 * sends its FIN before the handshake completes (tcp_close_state, then
 * tcp_send_fin pushes it behind the unacknowledged SYN).
 *
 * Known divergence, skipped until fixed: synack changes state but holds
 * the FIN until its SYN is acknowledged (its sender counts the queue from
 * SND.UNA, still the SYN's), and meanwhile its retransmission timer
 * resends nothing, the SYN,ACK included (sk_retransmit_head resends a SYN
 * only in SYN_SENT/SYN_RECV). */
static void test_syn_received__close__fin_wait_1(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_ACTIVE);
    assert_int_equal(sk_shutdown(f->server, t.fd, 1), 0);
    sk_test_run_for(f, MSEC(1));
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT1);
    skip();
    EXPECT_SEGMENTS(f, "s>p F. seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* ESTABLISHED → FIN_WAIT_1 on CLOSE, with the FIN. */
static void test_established__close__fin_wait_1(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    assert_int_equal(sk_close(f->server, t.fd), 0);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p F. seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT1);
}

/* ESTABLISHED → CLOSE_WAIT on a FIN, ACKed at once; the application reads
 * end of file. */
static void test_established__fin__close_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
    char buf[4];
    assert_int_equal(sk_recv(f->server, t.fd, buf, sizeof buf, 0), 0);
}

/* FIN_WAIT_1 → FIN_WAIT_2 on the ACK of our FIN: silent. */
static void test_fin_wait_1__ack__fin_wait_2(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 2");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT2);
}

/* FIN_WAIT_1 → CLOSING on a FIN that does not ACK ours (simultaneous
 * close): the FIN is ACKed, ours is still outstanding. */
static void test_fin_wait_1__fin__closing(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSING);
}

/* FIN_WAIT_1 → TIME_WAIT on a FIN that also ACKs ours (§3.10.7.4, eighth
 * step: "if our FIN has been ACKed (perhaps in this segment)"). */
static void test_fin_wait_1__fin_ack__time_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 2");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 2", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* FIN_WAIT_2 → TIME_WAIT on a FIN, ACKed. */
static void test_fin_wait_2__fin__time_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT2, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 2");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 2", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* The same for an orphan (the application closed): the connection lives
 * on as Linux's FIN_WAIT_2 timewait record and still takes the FIN. */
static void test_fin_wait_2__fin__time_wait_orphan(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT2, SK_ONE_PASSIVE);
    assert_int_equal(sk_close(f->server, t.fd), 0);
    sk_test_run_for(f, MSEC(1));
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT2);
    sk_one_send(&t, "F. seq 1 ack 2");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 2", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* CLOSING → TIME_WAIT on the ACK of our FIN: silent. */
static void test_closing__ack__time_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSING, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 2 ack 2");
    EXPECT_SEGMENTS(f, "p>s . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* CLOSE_WAIT → LAST_ACK on CLOSE, with our FIN. */
static void test_close_wait__close__last_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSE_WAIT, SK_ONE_PASSIVE);
    assert_int_equal(sk_close(f->server, t.fd), 0);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p F. seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_LAST_ACK);
}

/* LAST_ACK → CLOSED on the ACK of our FIN: silent, and the connection is
 * gone at once. */
static void test_last_ack__ack__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LAST_ACK, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 2 ack 2");
    EXPECT_SEGMENTS(f, "p>s . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_state(f->server, t.fd), SK_TCP_CLOSE);
}

/* TIME_WAIT → CLOSED after 2 MSL, Linux's fixed 60 s (TCP_TIMEWAIT_LEN),
 * silently. */
static void test_time_wait__timeout__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_time_ns entered = sk_test_elapsed(f);
    sk_test_run_until(f, f->start + entered + TIME_WAIT_LEN - MSEC(100));
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
    sk_test_run_until(f, f->start + entered + TIME_WAIT_LEN + MSEC(100));
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* ---- §3.10.7: RST in each state ------------------------------------- */

/* LISTEN: "an incoming RST should be ignored". */
static void test_listen__rst__listen(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    t.peer_port = 40000;
    sk_one_send(&t, "R seq 5 abs");
    EXPECT_SEGMENTS(f, "p>s R");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, t.lfd), SK_TCP_LISTEN);
}

/* SYN_SENT: a RST whose ACK acknowledges our SYN refuses the connection:
 * CLOSED, ECONNREFUSED. */
static void test_syn_sent__rst_ack__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port, 0);
    sk_one_send(&t, "R. seq 0 ack 1");
    EXPECT_SEGMENTS(f, "p>s R. seq 0 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_test_so_error(f->server, t.fd), ECONNREFUSED);
}

/* SYN_SENT: a RST without ACK is dropped ("if the ACK bit is off, drop"). */
static void test_syn_sent__rst_without_ack__syn_sent(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_one_send(&t, "R seq 0 abs");
    EXPECT_SEGMENTS(f, "p>s R");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_SENT);
}

/* SYN_SENT: a RST whose ACK is not acceptable is dropped. */
static void test_syn_sent__rst_bad_ack__syn_sent(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port, 0);
    sk_one_send(&t, "R. seq 0 ack 5");
    EXPECT_SEGMENTS(f, "p>s R. seq 0 ack 5");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_SENT);
}

/* SYN_RECEIVED (passive): a RST in the window drops the request; the
 * listener carries on (§3.10.7.4 "return to the LISTEN state"); Linux's
 * tcp_check_req takes any in-window RST, exact or not, and counts
 * EmbryonicRsts. */
static void test_syn_received__rst__listen(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 1");
    EXPECT_SEGMENTS(f, "p>s R seq 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_state(f->server, t.lfd), SK_TCP_LISTEN);
    assert_int_equal(sk_counter(f->server, "EmbryonicRsts"), 1);
    assert_int_equal(sk_counter(f->server, "AttemptFails"), 1);
}

static void test_syn_received__rst_in_window__listen(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 100");
    EXPECT_SEGMENTS(f, "p>s R seq 100");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_state(f->server, t.lfd), SK_TCP_LISTEN);
}

/* SYN_RECEIVED (simultaneous open): the exact RST closes the connection;
 * Linux's tcp_reset reports ECONNRESET from this state (the RFC's
 * "connection refused" is for SYN_SENT only there). */
static void test_syn_received__rst__closed_simultaneous(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_ACTIVE);
    sk_one_send(&t, "R seq 1");
    EXPECT_SEGMENTS(f, "p>s R seq 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_test_so_error(f->server, t.fd), ECONNRESET);
}

/* Synchronized states: a RST at exactly RCV.NXT resets (RFC 5961 §3.2),
 * with the errno Linux's tcp_reset gives; no reply. */
static void expect_exact_rst_closes(void **state, int st, const char *rst, int err)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, st, SK_ONE_PASSIVE);
    sk_one_send(&t, rst);
    EXPECT_SEGMENTS(f, "p>s R");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    if (err >= 0)
        assert_int_equal(sk_test_so_error(f->server, t.fd), err);
    assert_int_equal(sk_counter(f->server, "EstabResets"),
                     st == SK_TCP_ESTABLISHED || st == SK_TCP_CLOSE_WAIT ? 1 : 0);
}

static void test_established__rst__closed(void **state)
{
    expect_exact_rst_closes(state, SK_TCP_ESTABLISHED, "R seq 1", ECONNRESET);
}

static void test_fin_wait_1__rst__closed(void **state)
{
    expect_exact_rst_closes(state, SK_TCP_FIN_WAIT1, "R seq 1", ECONNRESET);
}

static void test_fin_wait_2__rst__closed(void **state)
{
    expect_exact_rst_closes(state, SK_TCP_FIN_WAIT2, "R seq 1", ECONNRESET);
}

/* In CLOSE_WAIT Linux reports EPIPE: the peer had closed already. */
static void test_close_wait__rst__closed(void **state)
{
    expect_exact_rst_closes(state, SK_TCP_CLOSE_WAIT, "R seq 2", EPIPE);
}

static void test_closing__rst__closed(void **state)
{
    expect_exact_rst_closes(state, SK_TCP_CLOSING, "R seq 2", ECONNRESET);
}

static void test_last_ack__rst__closed(void **state)
{
    expect_exact_rst_closes(state, SK_TCP_LAST_ACK, "R seq 2", ECONNRESET);
}

/* After the peer's FIN Linux also takes a RST at RCV.NXT-1, the sequence
 * of that FIN (tcp_reset_check): peers reset from the FIN's number. */
static void test_close_wait__rst_at_fin__closed(void **state)
{
    expect_exact_rst_closes(state, SK_TCP_CLOSE_WAIT, "R seq 1", EPIPE);
}

/* With SACK, Linux also takes a RST at the right edge of the highest
 * SACK block it sent (tcp_validate_incoming): a peer that reset after
 * sending past a hole uses its SND.NXT. */
static void test_established__rst_at_sack_edge__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, 40000, SK_TEST_SERVER_ADDR, 80, SK_ONE_PEER_ISN);
    t.peer_port = 40000;
    sk_one_send(&t, "S seq 0 sackOK");
    sk_one_send(&t, ". seq 1 ack 1");
    sk_endpoint peer;
    t.fd = sk_accept(f->server, t.lfd, &peer);
    assert_true(t.fd >= 0);
    sk_one_send(&t, "P. seq 101 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1", "p>s . seq 1 ack 1", "p>s P. seq 101:111 ack 1",
                    "s>p . seq 1 ack 1");
    sk_one_send(&t, "R seq 111");
    EXPECT_SEGMENTS(f, "p>s R seq 111");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_test_so_error(f->server, t.fd), ECONNRESET);
}

/* TIME_WAIT: an exact RST ends the record early (Linux with
 * tcp_rfc1337 0, its default: TIME-WAIT assassination allowed). */
static void test_time_wait__rst__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 2");
    EXPECT_SEGMENTS(f, "p>s R seq 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
}

/* With tcp_rfc1337 1 the record ignores it (RFC 1337's remedy). */
static void test_time_wait__rst_rfc1337__time_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_test_sysctl(f->server, "net.ipv4.tcp_rfc1337", "1");
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 2");
    EXPECT_SEGMENTS(f, "p>s R seq 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* RFC 5961 §3.2: a RST in the window but not at RCV.NXT draws a challenge
 * ACK and changes nothing. */
static void test_established__rst_in_window__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 500");
    EXPECT_SEGMENTS(f, "p>s R seq 500", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 1);
}

static void test_fin_wait_2__rst_in_window__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT2, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 500");
    EXPECT_SEGMENTS(f, "p>s R seq 500", "s>p . seq 2 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT2);
}

static void test_close_wait__rst_in_window__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSE_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 500");
    EXPECT_SEGMENTS(f, "p>s R seq 500", "s>p . seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
}

/* A RST outside the window is dropped without a word. */
static void test_established__rst_out_of_window__established(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 1000000");
    EXPECT_SEGMENTS(f, "p>s R seq 1000000");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 0);
}

/* TIME_WAIT: a RST that is not exact is ignored (tcp_timewait_state_process
 * acts only on a RST at RCV.NXT). */
static void test_time_wait__rst_in_window__time_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, "R seq 500");
    EXPECT_SEGMENTS(f, "p>s R seq 500");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* ---- §3.10.7.4 fourth: SYN in a synchronized state ------------------ */

/* RFC 5961 §4.2: any SYN, in the window or not, draws a challenge ACK. */
static void test_established__syn__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 500");
    EXPECT_SEGMENTS(f, "p>s S seq 500", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "TCPSYNChallenge"), 1);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 1);
}

/* An old duplicate of the peer's SYN, below the window. */
static void test_established__old_syn__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 0");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
}

static void test_fin_wait_1__syn__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 500");
    EXPECT_SEGMENTS(f, "p>s S seq 500", "s>p . seq 2 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT1);
}

static void test_close_wait__syn__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSE_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 500");
    EXPECT_SEGMENTS(f, "p>s S seq 500", "s>p . seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
}

static void test_last_ack__syn__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LAST_ACK, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 500");
    EXPECT_SEGMENTS(f, "p>s S seq 500", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_LAST_ACK);
}

/* SYN_RECEIVED (passive): the peer's SYN again (same ISN) means our
 * SYN,ACK was lost: it is sent again (tcp_check_req). */
static void test_syn_received__syn_again__syn_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 0");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_RECV);
}

/* SYN_RECEIVED (passive): a SYN in the window that is not the peer's
 * first again resets the half-open connection, answered with
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (tcp_check_req's
 * embryonic_reset). */
static void test_syn_received__new_syn__rst(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 5");
    char rst[64];
    snprintf(rst, sizeof rst, "s>p R. seq 0 ack %u abs len 0", SK_ONE_PEER_ISN + 6);
    EXPECT_SEGMENTS(f, "p>s S seq 5", rst);
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_state(f->server, t.lfd), SK_TCP_LISTEN);
    assert_int_equal(sk_counter(f->server, "AttemptFails"), 1);
}

/* SYN_RECEIVED (passive): a segment outside the window gets an ACK and
 * changes nothing (tcp_check_req: "Out of window: send ACK and drop"). */
static void test_syn_received__out_of_window__ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1000000 ack 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1000000 ack 1", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_RECV);
}

/* TIME_WAIT: a SYN above RCV.NXT may open a new incarnation when a
 * listener is there (RFC 9293 §3.6.1, Linux's TCP_TW_SYN): the record
 * yields and the listener answers. */
static void test_time_wait__new_syn__syn_received(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port,
                      SK_ONE_PEER_ISN + 100000);
    sk_one_send(&t, "S seq 0");
    const sk_trace_entry *synack = EXPECT_EVENTUALLY(f, "s>p S.");
    assert_int_equal(synack->rel_ack, 1);
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_RECV);
}

/* TIME_WAIT: an old duplicate (a SYN at or below RCV.NXT, or any segment
 * that is not exact) is answered with an ACK of what the record knows. */
static void test_time_wait__old_syn__ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, "S seq 0");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* ---- §3.10.7.4 fifth: the ACK field --------------------------------- */

/* ESTABLISHED: an ACK of data never sent is dropped; Linux's
 * tcp_rcv_established drops it silently (tcp_ack's
 * TCP_ACK_UNSENT_DATA), not with the ACK the RFC asks for. */
static void test_established__ack_of_unsent__dropped(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 100 len 10");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 100");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_inq(f->server, t.fd), 0);
}

/* The other synchronized states go through tcp_rcv_state_process, which
 * answers an unacceptable ACK with a challenge ACK. */
static void test_fin_wait_1__ack_of_unsent__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 100");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 100", "s>p . seq 2 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT1);
}

static void test_close_wait__ack_of_unsent__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSE_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 2 ack 100");
    EXPECT_SEGMENTS(f, "p>s . seq 2 ack 100", "s>p . seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
}

static void test_last_ack__ack_of_unsent__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LAST_ACK, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 2 ack 100");
    EXPECT_SEGMENTS(f, "p>s . seq 2 ack 100", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_LAST_ACK);
}

/* SYN_RECEIVED (passive): an ACK that does not acknowledge our SYN,ACK
 * gets <SEQ=SEG.ACK><CTL=RST> and the request stays. */
static void test_syn_received__bad_ack__rst(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 1 ack 100");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 100", "s>p R seq 100 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_RECV);
}

/* SYN_SENT: an ACK that does not acknowledge our SYN gets
 * <SEQ=SEG.ACK><CTL=RST>; the connection attempt goes on. */
static void test_syn_sent__bad_ack__rst(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port, 0);
    sk_one_send(&t, ". seq 0 ack 100");
    EXPECT_SEGMENTS(f, "p>s . seq 0 ack 100", "s>p R seq 100 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_SENT);
}

/* LISTEN: any ACK gets <SEQ=SEG.ACK><CTL=RST>. */
static void test_listen__ack__rst(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    t.peer_port = 40000;
    sk_one_send(&t, ". seq 7 ack 100 abs");
    EXPECT_SEGMENTS(f, "p>s . seq 7 ack 100 abs", "s>p R seq 100 abs len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, t.lfd), SK_TCP_LISTEN);
}

/* ---- old duplicates and the sequence check --------------------------- */

/* Data entirely below RCV.NXT: an immediate duplicate ACK, the data
 * dropped (tcp_sequence fails; tcp_send_dupack). */
static void test_established__old_data__dup_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "P. seq 1 ack 1 len 10");
    sk_test_run_for(f, SEC(1)); /* its delayed ACK */
    EXPECT_SEGMENTS(f, "p>s P. seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    sk_one_send(&t, "P. seq 1 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s P. seq 1:11 ack 1", "s>p . seq 1 ack 11 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_inq(f->server, t.fd), 10);
    assert_int_equal(sk_counter(f->server, "DelayedACKLost"), 1);
}

/* A segment beyond the window: a duplicate ACK, nothing taken. */
static void test_established__beyond_window__dup_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "P. seq 1000000 ack 1 len 10");
    EXPECT_SEGMENTS(f, "p>s P. seq 1000000:1000010 ack 1", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_inq(f->server, t.fd), 0);
}

/* An old ACK (below SND.UNA, within the window we had) is no error: the
 * segment's data still counts. */
static void test_established__old_ack_with_data__accepted(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    assert_int_equal(sk_send(f->server, t.fd, "0123456789", 10, 0), 10);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p P. seq 1:11 ack 1");
    sk_one_send(&t, ". seq 1 ack 11");
    sk_one_send(&t, "P. seq 1 ack 1 len 5");
    sk_test_run_for(f, SEC(1));
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 11", "p>s P. seq 1:6 ack 1", "s>p . seq 11 ack 6 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_inq(f->server, t.fd), 5);
}

/* An ACK below SND.UNA by more than the data ever acknowledged is a
 * blind injection attempt (RFC 5961 §5.2): a challenge ACK, the segment
 * dropped.  Linux bounds the acceptable range by min(max_window,
 * bytes_acked) ("do not accept ACK for bytes we never sent", tcp_ack), so
 * right after a passive open, with nothing acknowledged, any ACK below
 * SND.UNA is one. */
static void test_established__ack_below_snd_una__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "P. seq 1 ack 0 len 5");
    EXPECT_SEGMENTS(f, "p>s P. seq 1:6 ack 0", "s>p . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_inq(f->server, t.fd), 0);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 1);
}

/* With 10 bytes acknowledged, an ACK 10 below SND.UNA is an old duplicate
 * (its data is taken) and one 11 below is too old. */
static void test_established__ack_older_than_bytes_acked__challenge_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    assert_int_equal(sk_send(f->server, t.fd, "0123456789", 10, 0), 10);
    sk_test_run_for(f, MSEC(1));
    sk_one_send(&t, ". seq 1 ack 11");
    EXPECT_SEGMENTS(f, "s>p P. seq 1:11 ack 1", "p>s . seq 1 ack 11");
    sk_one_send(&t, "P. seq 1 ack 0 len 5");
    EXPECT_SEGMENTS(f, "p>s P. seq 1:6 ack 0", "s>p . seq 11 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_inq(f->server, t.fd), 0);
}

/* An old duplicate told by its timestamp (RFC 7323 §5, PAWS): a segment
 * in the window whose TSval is older than the last one taken is dropped
 * with an immediate duplicate ACK, counted as PAWSEstab (Linux's
 * tcp_validate_incoming). */
static void test_established__paws_old_duplicate__dup_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, 40000, SK_TEST_SERVER_ADDR, 80, SK_ONE_PEER_ISN);
    t.peer_port = 40000;
    sk_one_send(&t, "S seq 0 val 1000 ecr 0");
    sk_one_send(&t, ". seq 1 ack 1 val 1001 ecr 0");
    sk_endpoint peer;
    t.fd = sk_accept(f->server, t.lfd, &peer);
    assert_true(t.fd >= 0);
    sk_one_send(&t, "P. seq 1 ack 1 len 5 val 2000 ecr 0");
    sk_test_run_for(f, SEC(1));
    sk_test_skip(f);
    sk_one_send(&t, "P. seq 6 ack 1 len 5 val 1500 ecr 0");
    EXPECT_SEGMENTS(f, "p>s P. seq 6:11 ack 1", "s>p . seq 1 ack 6 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    assert_int_equal(sk_inq(f->server, t.fd), 5);
    assert_int_equal(sk_counter(f->server, "PAWSEstab"), 1);
}

/* A retransmitted FIN in CLOSE_WAIT (our ACK of it was lost) is ACKed
 * again at once. */
static void test_close_wait__fin_again__ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSE_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
}

/* ---- FIN in each state (§3.10.7.4 eighth) ---------------------------- */

/* SYN_SENT: a FIN cannot be processed, the SEG.SEQ cannot be validated. */
static void test_syn_sent__fin__syn_sent(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_one_send(&t, "F seq 0 abs");
    EXPECT_SEGMENTS(f, "p>s F");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_SENT);
}

/* LISTEN: a FIN without ACK is not a SYN: dropped (Linux's
 * tcp_rcv_state_process discards what is neither). */
static void test_listen__fin__listen(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LISTEN, SK_ONE_PASSIVE);
    t.peer_port = 40000;
    sk_one_send(&t, "F seq 7 abs");
    EXPECT_SEGMENTS(f, "p>s F");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, t.lfd), SK_TCP_LISTEN);
}

/* SYN_RECEIVED (passive): a FIN that ACKs our SYN,ACK completes the
 * handshake and is taken at once: the child is born in CLOSE_WAIT. */
static void test_syn_received__fin_ack__close_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 1 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
}

/* CLOSING: the peer's FIN again gets an ACK, the state stays. */
static void test_closing__fin_again__closing(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSING, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSING);
}

/* LAST_ACK: likewise. */
static void test_last_ack__fin_again__last_ack(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LAST_ACK, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_LAST_ACK);
}

/* TIME_WAIT: the peer's FIN again (our last ACK was lost) is ACKed and
 * the 2 MSL timer restarts (tcp_timewait_state_process). */
static void test_time_wait__fin_again__time_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_test_run_for(f, SEC(30));
    sk_one_send(&t, "F. seq 1 ack 2");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 2", "s>p . seq 2 ack 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    sk_test_run_for(f, SEC(59));
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
    sk_test_run_for(f, SEC(2));
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
}

/* ---- half-close -------------------------------------------------------- */

/* FIN_WAIT_2 after shutdown(SHUT_WR) still receives: data is ACKed and
 * read, and the peer's FIN then ends it in TIME_WAIT. */
static void test_fin_wait_2__data__fin_wait_2(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT2, SK_ONE_PASSIVE);
    sk_one_send(&t, "P. seq 1 ack 2 len 20");
    sk_test_run_for(f, SEC(1));
    EXPECT_SEGMENTS(f, "p>s P. seq 1:21 ack 2", "s>p . seq 2 ack 21 len 0");
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT2);
    char buf[32];
    assert_int_equal(sk_recv(f->server, t.fd, buf, sizeof buf, 0), 20);
    assert_memory_equal(buf, "abcdefghijklmnopqrst", 20);
    sk_one_send(&t, "F. seq 21 ack 2");
    EXPECT_SEGMENTS(f, "p>s F. seq 21 ack 2", "s>p . seq 2 ack 22 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* CLOSE_WAIT still sends: data goes out after the peer's FIN, and the
 * peer ACKs it. */
static void test_close_wait__send__close_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_CLOSE_WAIT, SK_ONE_PASSIVE);
    assert_int_equal(sk_send(f->server, t.fd, "reply", 5, 0), 5);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "s>p P. seq 1:6 ack 2");
    sk_one_send(&t, ". seq 2 ack 6");
    EXPECT_SEGMENTS(f, "p>s . seq 2 ack 6");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
    assert_int_equal(sk_outq(f->server, t.fd), 0);
}

/* An orphan in FIN_WAIT_2 cannot read: new data resets the connection
 * (RFC 1122 §4.2.2.13).  Linux keeps such an orphan as a FIN_WAIT2
 * timewait sock, whose answer is tcp_v4_send_reset's <SEQ=SEG.ACK><RST>
 * (TCP_TW_RST), counted in OutRsts only: TCPAbortOnData is the full
 * socket's count. */
static void test_fin_wait_2__data_after_close__rst(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    assert_int_equal(sk_close(f->server, t.fd), 0);
    sk_one_send(&t, ". seq 1 ack 2");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 2");
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT2);
    sk_one_send(&t, "P. seq 1 ack 2 len 5");
    EXPECT_SEGMENTS(f, "p>s P. seq 1:6 ack 2", "s>p R seq 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 1);
    assert_int_equal(sk_counter(f->server, "TCPAbortOnData"), 0);
}

/* LISTEN → CLOSED with a request pending: the half-open connection goes
 * with the listener, without a RST (Linux's reqsk timer drops a request
 * whose listener is gone); the peer's ACK then finds no one and is reset. */
static void test_syn_received__listener_close__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    assert_int_equal(sk_close(f->server, t.lfd), 0);
    sk_test_run_for(f, MSEC(1));
    EXPECT_NO_MORE_SEGMENTS(f);
    t.lfd = -1;
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    sk_one_send(&t, ". seq 1 ack 1");
    EXPECT_SEGMENTS(f, "p>s . seq 1 ack 1", "s>p R seq 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* FIN_WAIT_2 (orphan) → CLOSED when tcp_fin_timeout (60 s) passes
 * without the peer's FIN; nothing is sent. */
static void test_fin_wait_2__timeout__closed(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT2, SK_ONE_PASSIVE);
    assert_int_equal(sk_close(f->server, t.fd), 0);
    sk_test_run_for(f, SEC(59));
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT2);
    sk_test_run_for(f, SEC(2));
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE);
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* TIME_WAIT: a bare ACK at RCV.NXT is taken silently. */
static void test_time_wait__ack__time_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_TIME_WAIT, SK_ONE_PASSIVE);
    sk_one_send(&t, ". seq 2 ack 2");
    EXPECT_SEGMENTS(f, "p>s . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
}

/* SYN_SENT: a SYN,ACK acknowledging something else is reset from its ACK
 * field and the attempt goes on. */
static void test_syn_sent__syn_ack_bad_ack__rst(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port,
                      SK_ONE_PEER_ISN);
    sk_one_send(&t, "S. seq 0 ack 100");
    EXPECT_SEGMENTS(f, "p>s S. seq 0 ack 100", "s>p R seq 100 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_SENT);
}

/* ESTABLISHED → CLOSE_WAIT on data with FIN: both taken; the ACK waits
 * the 40 ms delayed-ACK minimum, because tcp_fin puts the socket in
 * pingpong mode (an application answering at once sends its FIN with the
 * ACK) after the data started the delayed-ACK clock. */
static void test_established__data_fin__close_wait(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_ESTABLISHED, SK_ONE_PASSIVE);
    sk_one_send(&t, "FP. seq 1 ack 1 len 8");
    EXPECT_SEGMENTS(f, "p>s FP. seq 1:9 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_CLOSE_WAIT);
    assert_int_equal(sk_inq(f->server, t.fd), 8);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "s>p . seq 1 ack 10 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    const sk_trace_entry *fin = sk_test_last(f, "p>s FP.");
    const sk_trace_entry *ack = sk_test_last(f, "s>p .");
    assert_int_equal(ack->time - fin->time, MSEC(40));
}

/* FIN_WAIT_1 after shutdown(SHUT_WR) still receives (half-close). */
static void test_fin_wait_1__data__fin_wait_1(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_one_send(&t, "P. seq 1 ack 1 len 10");
    sk_test_run_for(f, SEC(1));
    EXPECT_SEGMENTS(f, "p>s P. seq 1:11 ack 1", "s>p . seq 2 ack 11 len 0");
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT1);
    assert_int_equal(sk_inq(f->server, t.fd), 10);
}

/* ---- timeouts (§3.10.8): the state holds, the segment goes again ------ */

/* SYN_SENT: the SYN again after Linux's initial RTO, 1 s
 * (TCP_TIMEOUT_INIT), then after 2 s. */
static void test_syn_sent__timeout__syn_again(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    const sk_trace_entry *syn = sk_test_last(f, "s>p S");
    sk_time_ns sent = syn->time;
    sk_test_run_for(f, MSEC(3100));
    EXPECT_SEGMENTS(f, "s>p S seq 0", "s>p S seq 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->trace_len - 2].time - sent, SEC(1));
    assert_int_equal(f->trace[f->trace_len - 1].time - sent, SEC(3));
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_SENT);
}

/* SYN_RECEIVED (passive): the SYN,ACK again after 1 s (the request's
 * timer, reqsk_timer_handler). */
static void test_syn_received__timeout__syn_ack_again(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_RECV, SK_ONE_PASSIVE);
    sk_time_ns sent = sk_test_last(f, "s>p S.")->time;
    sk_test_run_for(f, MSEC(1100));
    EXPECT_SEGMENTS(f, "s>p S. seq 0 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->trace_len - 1].time - sent, SEC(1));
    EXPECT_ONE_STATE(&t, SK_TCP_SYN_RECV);
}

/* FIN_WAIT_1: an unacknowledged FIN goes again at the RTO. */
static void test_fin_wait_1__timeout__fin_again(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_test_run_for(f, SEC(1));
    EXPECT_SEGMENTS(f, "s>p F. seq 1 ack 1");
    EXPECT_ONE_STATE(&t, SK_TCP_FIN_WAIT1);
}

/* LAST_ACK: likewise. */
static void test_last_ack__timeout__fin_again(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_LAST_ACK, SK_ONE_PASSIVE);
    sk_test_run_for(f, SEC(1));
    EXPECT_SEGMENTS(f, "s>p F. seq 1 ack 2");
    EXPECT_ONE_STATE(&t, SK_TCP_LAST_ACK);
}

/* ---- simultaneous open and close, whole ------------------------------ */

/* Both SYNs cross: SYN_SENT → SYN_RECEIVED → ESTABLISHED with the
 * peer's SYN,ACK, each side's SYN ACKed once. */
static void test_simultaneous_open(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_SYN_SENT, SK_ONE_ACTIVE);
    sk_test_learn_isn(f, SK_ONE_PEER_ADDR, t.peer_port, SK_TEST_SERVER_ADDR, t.port,
                      SK_ONE_PEER_ISN);
    sk_one_send(&t, "S seq 0");
    sk_one_send(&t, "S. seq 0 ack 1");
    EXPECT_SEGMENTS(f, "p>s S seq 0", "s>p S. seq 0 ack 1", "p>s S. seq 0 ack 1",
                    "s>p . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_ESTABLISHED);
    EXPECT_TRANSITIONS(f, f->server, t.port, t.peer_port, "SYN_SENT SYN_RECV ESTABLISHED");
}

/* Both FINs cross: FIN_WAIT_1 → CLOSING → TIME_WAIT. */
static void test_simultaneous_close(void **state)
{
    sk_fixture *f = fixture(state);
    sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT1, SK_ONE_PASSIVE);
    sk_one_send(&t, "F. seq 1 ack 1");
    sk_one_send(&t, ". seq 2 ack 2");
    EXPECT_SEGMENTS(f, "p>s F. seq 1 ack 1", "s>p . seq 2 ack 2", "p>s . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
    EXPECT_TRANSITIONS(f, f->server, t.port, t.peer_port,
                       "SYN_RECV ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, sk_one_setup, sk_one_teardown)
    const struct CMUnitTest tests[] = {
        T(test_closed__passive_open__listen),
        T(test_closed__active_open__syn_sent),
        T(test_listen__syn__syn_received),
        T(test_listen__connect__eisconn),
        T(test_listen__close__closed),
        T(test_syn_sent__close__closed),
        T(test_syn_sent__syn__syn_received),
        T(test_syn_sent__syn_ack__established),
        T(test_syn_received__ack__established),
        T(test_syn_received__ack__established_simultaneous),
        T(test_syn_received__fin_ack__close_wait_simultaneous),
        T(test_syn_received__syn_ack__established_simultaneous),
        T(test_syn_received__close__fin_wait_1),
        T(test_established__close__fin_wait_1),
        T(test_established__fin__close_wait),
        T(test_fin_wait_1__ack__fin_wait_2),
        T(test_fin_wait_1__fin__closing),
        T(test_fin_wait_1__fin_ack__time_wait),
        T(test_fin_wait_2__fin__time_wait),
        T(test_fin_wait_2__fin__time_wait_orphan),
        T(test_closing__ack__time_wait),
        T(test_close_wait__close__last_ack),
        T(test_last_ack__ack__closed),
        T(test_time_wait__timeout__closed),
        T(test_listen__rst__listen),
        T(test_syn_sent__rst_ack__closed),
        T(test_syn_sent__rst_without_ack__syn_sent),
        T(test_syn_sent__rst_bad_ack__syn_sent),
        T(test_syn_received__rst__listen),
        T(test_syn_received__rst_in_window__listen),
        T(test_syn_received__rst__closed_simultaneous),
        T(test_established__rst__closed),
        T(test_fin_wait_1__rst__closed),
        T(test_fin_wait_2__rst__closed),
        T(test_close_wait__rst__closed),
        T(test_closing__rst__closed),
        T(test_last_ack__rst__closed),
        T(test_close_wait__rst_at_fin__closed),
        T(test_established__rst_at_sack_edge__closed),
        T(test_time_wait__rst__closed),
        T(test_time_wait__rst_rfc1337__time_wait),
        T(test_established__rst_in_window__challenge_ack),
        T(test_fin_wait_2__rst_in_window__challenge_ack),
        T(test_close_wait__rst_in_window__challenge_ack),
        T(test_established__rst_out_of_window__established),
        T(test_time_wait__rst_in_window__time_wait),
        T(test_established__syn__challenge_ack),
        T(test_established__old_syn__challenge_ack),
        T(test_fin_wait_1__syn__challenge_ack),
        T(test_close_wait__syn__challenge_ack),
        T(test_last_ack__syn__challenge_ack),
        T(test_syn_received__syn_again__syn_ack),
        T(test_syn_received__new_syn__rst),
        T(test_syn_received__out_of_window__ack),
        T(test_time_wait__new_syn__syn_received),
        T(test_time_wait__old_syn__ack),
        T(test_established__ack_of_unsent__dropped),
        T(test_fin_wait_1__ack_of_unsent__challenge_ack),
        T(test_close_wait__ack_of_unsent__challenge_ack),
        T(test_last_ack__ack_of_unsent__challenge_ack),
        T(test_syn_received__bad_ack__rst),
        T(test_syn_sent__bad_ack__rst),
        T(test_listen__ack__rst),
        T(test_established__old_data__dup_ack),
        T(test_established__beyond_window__dup_ack),
        T(test_established__old_ack_with_data__accepted),
        T(test_established__ack_below_snd_una__challenge_ack),
        T(test_established__ack_older_than_bytes_acked__challenge_ack),
        T(test_established__paws_old_duplicate__dup_ack),
        T(test_close_wait__fin_again__ack),
        T(test_syn_sent__fin__syn_sent),
        T(test_listen__fin__listen),
        T(test_syn_received__fin_ack__close_wait),
        T(test_closing__fin_again__closing),
        T(test_last_ack__fin_again__last_ack),
        T(test_time_wait__fin_again__time_wait),
        T(test_fin_wait_2__data__fin_wait_2),
        T(test_close_wait__send__close_wait),
        T(test_fin_wait_2__data_after_close__rst),
        T(test_syn_received__listener_close__closed),
        T(test_fin_wait_2__timeout__closed),
        T(test_time_wait__ack__time_wait),
        T(test_syn_sent__syn_ack_bad_ack__rst),
        T(test_established__data_fin__close_wait),
        T(test_fin_wait_1__data__fin_wait_1),
        T(test_syn_sent__timeout__syn_again),
        T(test_syn_received__timeout__syn_ack_again),
        T(test_fin_wait_1__timeout__fin_again),
        T(test_last_ack__timeout__fin_again),
        T(test_simultaneous_open),
        T(test_simultaneous_close),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
