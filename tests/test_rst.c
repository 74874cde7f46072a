/*
 * Resets: refused connections, segments for no connection, aborts on
 * close, and RFC 5961 RST/SYN validation (RFC 9293 §3.10.7, RFC 5961 §3
 * and §4, Linux tcp_v4_send_reset, tcp_validate_incoming, tcp_close).
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

#define SETTLE MSEC(300)

/* The client's ISN, from its SYN in the trace. */
static uint32_t client_isn(const sk_fixture *f)
{
    const sk_trace_entry *syn = sk_test_find(f, 0, "c>s S");
    assert_non_null(syn);
    return syn->seg.seq;
}

/* A segment "from the client" on the pair's connection, built by the test. */
static void inject_from_client(sk_fixture *f, const sk_conn_pair *p, uint32_t seq, uint32_t ack,
                               uint16_t flags, const void *payload, size_t len)
{
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.src = SK_TEST_CLIENT_ADDR;
    spec.dst = SK_TEST_SERVER_ADDR;
    spec.sport = p->cport;
    spec.dport = p->sport;
    spec.seq = seq;
    spec.ack = ack;
    spec.flags = flags;
    spec.window = 1000;
    spec.payload = payload;
    spec.payload_len = len;
    sk_test_inject(f, &spec);
}

/* RFC 9293 §3.10.7.1: a SYN to a port nobody listens on gets <SEQ=0>
 * <ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the connecting side reports
 * ECONNREFUSED through SO_ERROR. */
static void test_syn_to_closed_port_gets_rst_ack_and_so_error(void **state)
{
    sk_fixture *f = *state;
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 81);
    uint16_t cport = sk_test_local_port(f->client, fd);
    sk_test_run_for(f, SETTLE);

    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c R. seq 0 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[1].seg.seq, 0);
    assert_int_equal(f->trace[1].seg.ack, client_isn(f) + 1);

    assert_int_equal(sk_state(f->client, fd), SK_TCP_CLOSE);
    assert_true(sk_poll(f->client, fd) & SK_POLLERR);
    assert_int_equal(sk_test_so_error(f->client, fd), ECONNREFUSED);
    assert_int_equal(sk_test_so_error(f->client, fd), 0);
    EXPECT_TRANSITIONS(f, f->client, cport, 81, "SYN_SENT CLOSED");
    assert_int_equal(sk_counter(f->client, "AttemptFails"), 1);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 1);
    assert_int_equal(sk_counter(f->client, "OutRsts"), 0);
}

/* Without SO_ERROR read first, the next connect() returns the error
 * (Linux __inet_stream_connect → sock_error). */
static void test_connect_after_refusal_returns_econnrefused(void **state)
{
    sk_fixture *f = *state;
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 81);
    sk_test_run_for(f, SETTLE);
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = 81, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, fd, &remote), -ECONNREFUSED);
}

/* RFC 9293 §3.10.7.1: a segment with ACK for no connection gets
 * <SEQ=SEG.ACK><CTL=RST>, no ACK flag; and a RST is never answered. */
static void test_ack_for_no_connection_gets_reset_from_its_ack_field(void **state)
{
    sk_fixture *f = *state;
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.src = SK_TEST_CLIENT_ADDR;
    spec.dst = SK_TEST_SERVER_ADDR;
    spec.sport = 4444;
    spec.dport = 9;
    spec.seq = 1000;
    spec.ack = 777777;
    spec.flags = SK_TH_ACK;
    spec.window = 100;
    sk_test_inject(f, &spec);
    sk_test_run_for(f, SETTLE);

    /* The client stack gets the RST for a connection it does not have
     * either, and must not answer it. */
    EXPECT_SEGMENTS(f, "c>s . seq 1000 ack 777777 abs", "s>c R seq 777777 ack 0 abs len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[1].seg.sport, 9);
    assert_int_equal(f->trace[1].seg.dport, 4444);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 1);
    assert_int_equal(sk_counter(f->client, "OutRsts"), 0);
}

/* Without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, where a FIN
 * counts one. */
static void test_data_without_ack_for_no_connection_gets_rst_ack(void **state)
{
    sk_fixture *f = *state;
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.src = SK_TEST_CLIENT_ADDR;
    spec.dst = SK_TEST_SERVER_ADDR;
    spec.sport = 4444;
    spec.dport = 9;
    spec.seq = 5000;
    spec.flags = SK_TH_FIN | SK_TH_PSH;
    spec.window = 100;
    spec.payload = (const uint8_t *)"hello";
    spec.payload_len = 5;
    sk_test_inject(f, &spec);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s FP seq 5000 abs len 5", "s>c R. seq 0 ack 5006 abs len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
}

static void test_rst_for_no_connection_is_not_answered(void **state)
{
    sk_fixture *f = *state;
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.src = SK_TEST_CLIENT_ADDR;
    spec.dst = SK_TEST_SERVER_ADDR;
    spec.sport = 4444;
    spec.dport = 9;
    spec.seq = 1000;
    spec.ack = 2000;
    spec.flags = SK_TH_RST | SK_TH_ACK;
    sk_test_inject(f, &spec);
    spec.flags = SK_TH_RST;
    sk_test_inject(f, &spec);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s R. abs", "c>s R abs");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 0);
}

/* close() with received data the application never read aborts with a
 * RST instead of a FIN (RFC 9293 §3.10.4 permits it; Linux tcp_close
 * counts TCPAbortOnClose); the peer's next recv fails with ECONNRESET. */
static void test_close_with_unread_data_sends_rst(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_send(f->client, p.cfd, "unread data", 11, 0), 11);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_inq(f->server, p.sfd), 11);
    sk_test_skip(f);

    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "s>c R. seq 1 ack 12 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);

    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_CLOSE);
    char buf[16];
    assert_int_equal(sk_recv(f->client, p.cfd, buf, sizeof buf, 0), -ECONNRESET);
    assert_int_equal(sk_recv(f->client, p.cfd, buf, sizeof buf, 0), 0);
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport, "SYN_RECV ESTABLISHED CLOSED");
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80, "SYN_SENT ESTABLISHED CLOSED");
    assert_int_equal(sk_counter(f->server, "TCPAbortOnClose"), 1);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 1);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->client, "EstabResets"), 1);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport), 0);
}

/* SO_LINGER {1, 0}: close() aborts with a RST and no TIME_WAIT.  Linux
 * (tcp_close → tcp_disconnect) counts this as TCPAbortOnData, not
 * TCPAbortOnLinger. */
static void test_linger_zero_close_sends_rst(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    struct sk_linger lg = {1, 0};
    assert_int_equal(sk_setsockopt(f->client, p.cfd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);

    EXPECT_SEGMENTS(f, "c>s R. seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_CLOSE);
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80, "SYN_SENT ESTABLISHED CLOSED");
    assert_int_equal(sk_counter(f->client, "TCPAbortOnData"), 1);
    assert_int_equal(sk_counter(f->client, "TCPAbortOnLinger"), 0);
    assert_int_equal(sk_counter(f->client, "OutRsts"), 1);
    assert_int_equal(sk_counter(f->client, "TW"), 0);
    assert_int_equal(sk_counter(f->server, "EstabResets"), 1);
}

/* TCP_LINGER2 < 0: close() of a socket already in FIN_WAIT_2 resets at
 * once; this is what Linux counts as TCPAbortOnLinger (tcp_close). */
static void test_negative_linger2_close_in_fin_wait_2_sends_rst(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    int minus_one = -1;
    assert_int_equal(sk_setsockopt(f->client, p.cfd, SK_IPPROTO_TCP, SK_TCP_LINGER2, &minus_one,
                                   sizeof minus_one),
                     0);
    assert_int_equal(sk_shutdown(f->client, p.cfd, SK_SHUT_WR), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->client, p.cfd, SK_TCP_FIN_WAIT2, SEC(1));
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s R. seq 2 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->client, "TCPAbortOnLinger"), 1);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
}

/* After the peer's RST the pending error is reported once (ECONNRESET),
 * then writing gives EPIPE (Linux: sk_stream_wait_connect returns the
 * socket error, then -EPIPE for a closed socket). */
static void test_send_after_peer_rst_gives_econnreset_then_epipe(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    struct sk_linger lg = {1, 0};
    assert_int_equal(sk_setsockopt(f->client, p.cfd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_CLOSE);
    assert_int_equal(sk_send(f->server, p.sfd, "x", 1, SK_MSG_NOSIGNAL), -ECONNRESET);
    assert_int_equal(sk_send(f->server, p.sfd, "x", 1, SK_MSG_NOSIGNAL), -EPIPE);
    assert_int_equal(sk_send(f->server, p.sfd, "x", 1, SK_MSG_NOSIGNAL), -EPIPE);
}

static void test_send_after_reading_the_reset_gives_epipe(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    struct sk_linger lg = {1, 0};
    assert_int_equal(sk_setsockopt(f->client, p.cfd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    char buf[8];
    assert_int_equal(sk_recv(f->server, p.sfd, buf, sizeof buf, 0), -ECONNRESET);
    assert_int_equal(sk_send(f->server, p.sfd, "x", 1, SK_MSG_NOSIGNAL), -EPIPE);
    assert_true(sk_poll(f->server, p.sfd) & SK_POLLHUP);
}

/* RFC 5961 §3.2: a RST inside the window but not at RCV.NXT draws a
 * challenge ACK and leaves the connection alone; one exactly at RCV.NXT
 * resets it. */
static void test_inexact_rst_draws_challenge_ack_exact_rst_resets(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    uint32_t rcv_nxt = client_isn(f) + 1;

    inject_from_client(f, &p, rcv_nxt + 10, 0, SK_TH_RST, NULL, 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s R seq 11", "s>c . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 1);

    /* Still a working connection. */
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 1000, SEC(2)), 1000);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);

    inject_from_client(f, &p, rcv_nxt + 1000, 0, SK_TH_RST, NULL, 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s R seq 1001");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_CLOSE);
    char buf[8];
    assert_int_equal(sk_recv(f->server, p.sfd, buf, sizeof buf, 0), -ECONNRESET);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 1);
    assert_int_equal(sk_counter(f->server, "EstabResets"), 1);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 0);
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport, "SYN_RECV ESTABLISHED CLOSED");
}

/* A RST outside the window is dropped silently (RFC 5961 §3.2). */
static void test_out_of_window_rst_is_ignored(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    inject_from_client(f, &p, client_isn(f) + 1 + 0x40000000u, 0, SK_TH_RST, NULL, 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s R");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 0);
}

/* RFC 5961 §4.2: a SYN on a synchronized connection, whatever its
 * sequence number, draws a challenge ACK (TCPSYNChallenge). */
static void test_syn_in_established_draws_challenge_ack(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);

    inject_from_client(f, &p, client_isn(f) + 12345, 0, SK_TH_SYN, NULL, 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s S seq 12345", "s>c . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "TCPSYNChallenge"), 1);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 1);
    /* tcp_rcv_established validates with syn_inerr: an InErr too. */
    assert_int_equal(sk_counter(f->server, "InErrs"), 1);
    /* Past the host-wide limit the SYN is still a TCPSYNChallenge, but no
     * ACK goes and nothing else is counted.  (The per-connection limit,
     * tcp_invalid_ratelimit, would hold back the second ACK first: it is
     * lifted here to reach the host-wide one.) */
    sk_test_sysctl(f->server, "net.ipv4.tcp_invalid_ratelimit", "0");
    sk_test_sysctl(f->server, "net.ipv4.tcp_challenge_ack_limit", "1");
    sk_test_run_for(f, SEC(1)); /* a new second: one challenge ACK allowed */
    inject_from_client(f, &p, client_isn(f) + 22345, 0, SK_TH_SYN, NULL, 0);
    inject_from_client(f, &p, client_isn(f) + 32345, 0, SK_TH_SYN, NULL, 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s S seq 22345", "c>s S seq 32345", "s>c . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "TCPSYNChallenge"), 3);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 2);
    assert_int_equal(sk_counter(f->server, "TCPACKSkippedChallenge"), 0);
    assert_int_equal(sk_test_transfer(f, f->server, p.sfd, f->client, p.cfd, 1000, SEC(2)), 1000);
}

/* Linux's tcp_invalid_ratelimit (500 ms by default): the duplicate ACKs
 * answering out-of-window segments and the challenge ACKs of one
 * connection share one per-connection limit (__tcp_oow_rate_limited on
 * last_oow_ack_time); what it holds back is counted TCPACKSkippedSeq or
 * TCPACKSkippedChallenge.  A segment carrying data is always answered
 * (tcp_oow_rate_limited) and does not restart the interval. */
static void test_invalid_ratelimit_holds_back_oow_acks(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    uint32_t rcv_nxt = client_isn(f) + 1, far = rcv_nxt + 0x40000000u;

    inject_from_client(f, &p, far, 0, SK_TH_ACK, NULL, 0);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s .", "s>c . seq 1 ack 1 len 0");
    inject_from_client(f, &p, far, 0, SK_TH_ACK, NULL, 0);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s .");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "TCPACKSkippedSeq"), 1);
    /* Data out of the window is answered whatever the limit says. */
    inject_from_client(f, &p, far, 0, SK_TH_ACK, "x", 1);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s . len 1", "s>c . seq 1 ack 1 len 0");
    /* A RST in the window but not at RCV.NXT: its challenge ACK falls
     * under the same limit, 300 ms after the first duplicate ACK. */
    inject_from_client(f, &p, rcv_nxt + 10, 0, SK_TH_RST, NULL, 0);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s R");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "TCPACKSkippedChallenge"), 1);
    assert_int_equal(sk_counter(f->server, "TCPChallengeACK"), 0);
    /* 500 ms after the last ACK sent the next one goes. */
    sk_test_run_for(f, MSEC(100));
    inject_from_client(f, &p, far, 0, SK_TH_ACK, NULL, 0);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s .", "s>c . seq 1 ack 1 len 0");
    assert_int_equal(sk_counter(f->server, "TCPACKSkippedSeq"), 1);
    /* 0 lifts the limit. */
    sk_test_sysctl(f->server, "net.ipv4.tcp_invalid_ratelimit", "0");
    inject_from_client(f, &p, far, 0, SK_TH_ACK, NULL, 0);
    inject_from_client(f, &p, far, 0, SK_TH_ACK, NULL, 0);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s .", "c>s .", "s>c . seq 1 ack 1 len 0", "s>c . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "TCPACKSkippedSeq"), 1);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);
}

/* Closing a connecting socket just stops it (tcp_close_state): no RST,
 * and no AttemptFails, which Linux counts only in tcp_done() (a reset or
 * a timeout ending the attempt). */
static void test_close_while_connecting_counts_no_attempt_fail(void **state)
{
    sk_fixture *f = *state;
    sk_test_drop(f, "c>s *", -1);
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(5));
    size_t mark = f->trace_len;
    assert_int_equal(sk_close(f->client, fd), 0);
    sk_test_run_for(f, SEC(5));
    assert_int_equal(sk_test_count(f, mark, "c>s *"), 0);
    assert_int_equal(sk_counter(f->client, "AttemptFails"), 0);
    assert_int_equal(sk_counter(f->client, "TCPAbortOnData"), 0);
    /* With SO_LINGER {1, 0} it is tcp_disconnect(): TCPAbortOnData, but
     * still no RST to a peer that never answered. */
    fd = sk_socket(f->client);
    assert_true(fd >= 0);
    struct sk_linger lg = {1, 0};
    assert_int_equal(sk_setsockopt(f->client, fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg), 0);
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, fd, &remote), -EINPROGRESS);
    sk_test_run_for(f, MSEC(5));
    mark = f->trace_len;
    assert_int_equal(sk_close(f->client, fd), 0);
    sk_test_run_for(f, SEC(5));
    assert_int_equal(sk_test_count(f, mark, "c>s *"), 0);
    assert_int_equal(sk_counter(f->client, "TCPAbortOnData"), 1);
    assert_int_equal(sk_counter(f->client, "AttemptFails"), 0);
    assert_int_equal(sk_counter(f->client, "OutRsts"), 0);
}

/* Only the receive queue counts as unread at close() (__tcp_close): data
 * held out of order never was readable, so the close is a plain FIN. */
static void test_close_with_only_out_of_order_data_sends_fin(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    const sk_trace_entry *sa = sk_test_find(f, 0, "s>c S.");
    assert_non_null(sa);
    inject_from_client(f, &p, client_isn(f) + 100, sa->seg.seq + 1, SK_TH_ACK, "late", 4);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_counter(f->server, "TCPOFOQueue"), 1);
    sk_test_skip(f);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, MSEC(5));
    EXPECT_EVENTUALLY(f, "s>c F.");
    assert_int_equal(sk_counter(f->server, "TCPAbortOnClose"), 0);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_syn_to_closed_port_gets_rst_ack_and_so_error,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_connect_after_refusal_returns_econnrefused,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_ack_for_no_connection_gets_reset_from_its_ack_field,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_data_without_ack_for_no_connection_gets_rst_ack,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_rst_for_no_connection_is_not_answered, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_close_with_unread_data_sends_rst, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_linger_zero_close_sends_rst, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_negative_linger2_close_in_fin_wait_2_sends_rst,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_send_after_peer_rst_gives_econnreset_then_epipe,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_send_after_reading_the_reset_gives_epipe,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_inexact_rst_draws_challenge_ack_exact_rst_resets,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_window_rst_is_ignored, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syn_in_established_draws_challenge_ack, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_ratelimit_holds_back_oow_acks, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_close_while_connecting_counts_no_attempt_fail, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_close_with_only_out_of_order_data_sends_fin, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
