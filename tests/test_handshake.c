/*
 * Opening connections: the three-way handshake, simultaneous open and a
 * lost final ACK (RFC 9293 §3.5, Linux tcp_rcv_synsent_state_process and
 * tcp_check_req).
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

static void test_three_way_handshake_segments_and_states(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    sk_conn_pair p = sk_test_establish(f, 80);

    EXPECT_SEGMENTS(f, "c>s S seq 0 len 0", "s>c S. seq 0 ack 1 len 0", "c>s . seq 1 ack 1 len 0");
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80, "SYN_SENT ESTABLISHED");
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport, "SYN_RECV ESTABLISHED");
    EXPECT_TRANSITIONS(f, f->server, 80, 0, "LISTEN");

    assert_int_equal(sk_counter(f->client, "ActiveOpens"), 1);
    assert_int_equal(sk_counter(f->client, "PassiveOpens"), 0);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "ActiveOpens"), 0);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 1);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 1);
    assert_int_equal(sk_counter(f->client, "OutRsts"), 0);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 0);

    /* The non-blocking connect completed in the background: the next
     * connect() reports success once, then EISCONN (Linux's
     * __inet_stream_connect moves SS_CONNECTING to SS_CONNECTED). */
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, p.cfd, &remote), 0);
    assert_int_equal(sk_connect(f->client, p.cfd, &remote), -EISCONN);
}

/* IPv4 identification: one value per datagram, as Linux's
 * ip_select_ident_segs advances inet_id by the segment count; the client's
 * SYN and its ACK of the SYN-ACK are consecutive datagrams of its stack. */
static void test_ipv4_id_advances_by_one_per_datagram(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    sk_test_establish(f, 80);
    const sk_trace_entry *syn = sk_test_find(f, 0, "c>s S seq 0 len 0");
    const sk_trace_entry *ack = sk_test_find(f, 0, "c>s . seq 1 ack 1 len 0");
    assert_non_null(syn);
    assert_non_null(ack);
    assert_int_equal((uint16_t)(ack->seg.ip_id - syn->seg.ip_id), 1);
}

static void test_connect_twice_while_in_progress_gives_ealready(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, fd, &remote), -EALREADY);
    assert_int_equal(sk_state(f->client, fd), SK_TCP_SYN_SENT);
    ASSERT_RUN_UNTIL_STATE(f, f->client, fd, SK_TCP_ESTABLISHED, SEC(1));
    /* The first call after completion reports success, as a blocking
     * connect would have; later ones EISCONN. */
    assert_int_equal(sk_connect(f->client, fd, &remote), 0);
    assert_int_equal(sk_connect(f->client, fd, &remote), -EISCONN);
}

static void test_handshake_takes_one_round_trip_per_side(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    sk_time_ns t0 = sk_wire_now(f->wire);
    sk_conn_pair p = sk_test_establish(f, 80);

    const sk_trace_entry *syn = sk_test_find(f, 0, "c>s S");
    const sk_trace_entry *synack = sk_test_find(f, 0, "s>c S.");
    const sk_trace_entry *ack = sk_test_find(f, 0, "c>s .");
    assert_non_null(syn);
    assert_non_null(synack);
    assert_non_null(ack);
    assert_int_equal(syn->time, t0);
    assert_int_equal(synack->time, t0 + f->delay);
    assert_int_equal(ack->time, t0 + 2 * f->delay);
    assert_int_equal(sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_ESTABLISHED),
                     t0 + 2 * f->delay);
    assert_int_equal(sk_test_transition_time(f, f->server, 80, p.cport, SK_TCP_ESTABLISHED),
                     t0 + 3 * f->delay);
}

/* Both sides connect() to each other at the same instant: each SYN
 * reaches a socket in SYN_SENT, which answers with a SYN-ACK and moves
 * to SYN_RECV (RFC 9293 §3.5 figure 7); each SYN-ACK then completes the
 * other side, which ACKs it (Linux ACKs the SYN-ACK's already-received
 * SYN in SYN_RECV, tcp_validate_incoming). */
static void test_simultaneous_open(void **state)
{
    sk_fixture *f = *state;
    int cfd = sk_socket(f->client);
    int sfd = sk_socket(f->server);
    assert_true(cfd >= 0 && sfd >= 0);
    sk_endpoint cl = {.addr = SK_TEST_CLIENT_ADDR, .port = 5000, .family = SK_AF_INET}, sl = {.addr = SK_TEST_SERVER_ADDR, .port = 6000, .family = SK_AF_INET};
    assert_int_equal(sk_bind(f->client, cfd, &cl), 0);
    assert_int_equal(sk_bind(f->server, sfd, &sl), 0);
    assert_int_equal(sk_connect(f->client, cfd, &sl), -EINPROGRESS);
    assert_int_equal(sk_connect(f->server, sfd, &cl), -EINPROGRESS);

    ASSERT_RUN_UNTIL_STATE(f, f->client, cfd, SK_TCP_ESTABLISHED, SEC(1));
    ASSERT_RUN_UNTIL_STATE(f, f->server, sfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(100));

    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c S seq 0", "s>c S. seq 0 ack 1", "c>s S. seq 0 ack 1",
                    "c>s . seq 1 ack 1", "s>c . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_TRANSITIONS(f, f->client, 5000, 6000, "SYN_SENT SYN_RECV ESTABLISHED");
    EXPECT_TRANSITIONS(f, f->server, 6000, 5000, "SYN_SENT SYN_RECV ESTABLISHED");
    assert_int_equal(sk_counter(f->client, "ActiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "ActiveOpens"), 1);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 1);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 1);

    /* And it carries data both ways. */
    assert_int_equal(sk_test_transfer(f, f->client, cfd, f->server, sfd, 3000, SEC(5)), 3000);
    assert_int_equal(sk_test_transfer(f, f->server, sfd, f->client, cfd, 3000, SEC(5)), 3000);
}

/* The client's ACK of the SYN-ACK is lost: the client is ESTABLISHED, the
 * server still holds a request; the client's first data segment carries
 * the same ACK and completes the server side (RFC 9293 §3.10.7.3, Linux
 * tcp_check_req accepts any segment whose ACK acknowledges the SYN-ACK). */
static void test_lost_final_ack_completes_on_first_data_segment(void **state)
{
    sk_fixture *f = *state;
    int lfd = sk_test_listen(f, f->server, 80, 16);
    sk_test_drop(f, "c>s . seq 1 ack 1 len 0", 1);
    int cfd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, cfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));

    sk_endpoint peer;
    assert_int_equal(sk_accept(f->server, lfd, &peer), -EAGAIN);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 0);

    assert_int_equal(sk_send(f->client, cfd, "0123456789", 10, 0), 10);
    sk_test_run_for(f, MSEC(100));

    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c S. seq 0 ack 1", "c>s . seq 1 ack 1 len 0",
                    "c>s P. seq 1:11 ack 1", "s>c . seq 1 ack 11");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[2].fate, SK_WIRE_LOST);

    int sfd = sk_accept(f->server, lfd, &peer);
    assert_true(sfd >= 0);
    assert_int_equal(peer.addr, SK_TEST_CLIENT_ADDR);
    assert_int_equal(sk_state(f->server, sfd), SK_TCP_ESTABLISHED);
    char buf[32];
    assert_int_equal(sk_recv(f->server, sfd, buf, sizeof buf, 0), 10);
    assert_memory_equal(buf, "0123456789", 10);
    uint16_t cport = sk_test_local_port(f->client, cfd);
    EXPECT_TRANSITIONS(f, f->server, 80, cport, "SYN_RECV ESTABLISHED");
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "TCPSynRetrans"), 0);
}

/* No answer to the SYN: Linux retransmits it after 1 s doubling each time
 * (TCP_TIMEOUT_INIT, exponential backoff), tcp_syn_retries = 6 times, and
 * gives up when the 7th timeout expires: 1+2+4+8+16+32+64 = 127 s. */
static void test_syn_retransmission_times_and_etimedout(void **state)
{
    sk_fixture *f = *state;
    sk_test_drop(f, "c>s *", -1);
    sk_time_ns t0 = sk_wire_now(f->wire);
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    uint16_t cport = sk_test_local_port(f->client, fd);

    sk_test_run_until(f, t0 + SEC(127) - MSEC(1));
    assert_int_equal(sk_state(f->client, fd), SK_TCP_SYN_SENT);
    sk_test_run_until(f, t0 + SEC(127));
    assert_int_equal(sk_state(f->client, fd), SK_TCP_CLOSE);

    static const unsigned sent_at[] = {0, 1, 3, 7, 15, 31, 63};
    assert_int_equal(sk_test_count(f, 0, "*>* *"), 7);
    for (size_t i = 0; i < 7; i++) {
        const sk_trace_entry *e = &f->trace[i];
        assert_true(sk_test_matches(f, e, "c>s S seq 0 len 0"));
        assert_int_equal(e->fate, SK_WIRE_LOST);
        assert_int_equal(e->time - t0, SEC(sent_at[i]));
    }
    assert_int_equal(sk_test_so_error(f->client, fd), ETIMEDOUT);
    assert_int_equal(sk_test_so_error(f->client, fd), 0);
    EXPECT_TRANSITIONS(f, f->client, cport, 80, "SYN_SENT CLOSED");
    assert_int_equal(sk_counter(f->client, "TCPSynRetrans"), 6);
    assert_int_equal(sk_counter(f->client, "RetransSegs"), 6);
    /* tcp_retransmit_timer counts every expiry, the 7th that gives up too. */
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 7);
    assert_int_equal(sk_counter(f->client, "TCPAbortOnTimeout"), 1);
    assert_int_equal(sk_counter(f->client, "AttemptFails"), 1);
    assert_int_equal(sk_counter(f->client, "ActiveOpens"), 1);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
}

/* connect()'s error is also what a later connect() call returns (Linux's
 * __inet_stream_connect: sock_error() of the closed socket). */
static void test_connect_after_syn_timeout_returns_etimedout(void **state)
{
    sk_fixture *f = *state;
    sk_test_drop(f, "c>s *", -1);
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, SEC(128));
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, fd, &remote), -ETIMEDOUT);
}

/* TCP_SYNCNT overrides tcp_syn_retries for one socket. */
static void test_syncnt_limits_syn_retransmissions(void **state)
{
    sk_fixture *f = *state;
    sk_test_drop(f, "c>s *", -1);
    int fd = sk_socket(f->client);
    int two = 2;
    assert_int_equal(sk_setsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_SYNCNT, &two, sizeof two), 0);
    sk_time_ns t0 = sk_wire_now(f->wire);
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, fd, &remote), -EINPROGRESS);
    sk_test_run_until(f, t0 + SEC(7) - MSEC(1));
    assert_int_equal(sk_state(f->client, fd), SK_TCP_SYN_SENT);
    sk_test_run_until(f, t0 + SEC(7));
    assert_int_equal(sk_state(f->client, fd), SK_TCP_CLOSE);
    assert_int_equal(sk_test_count(f, 0, "c>s S"), 3);
    assert_int_equal(sk_test_so_error(f->client, fd), ETIMEDOUT);
}

/* The SYN and SYN-ACK look like Linux's: SYN window 64240 (44 × 1460),
 * options in Linux's order mss, sackOK, TS, nop, wscale; the wscale from
 * tcp_rmem[2] = 32 MiB is 10 (tcp_select_initial_window); the SYN-ACK
 * window is 65160 (45 × 1448, the MSS less the timestamp option). */
static void test_syn_and_synack_carry_linux_options(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    sk_test_establish(f, 80);
    EXPECT_SEGMENTS(f, "c>s S seq 0 win 64240", "s>c S. seq 0 ack 1 win 65160");

    static const uint8_t syn_layout[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10};
    for (int k = 0; k < 2; k++) {
        const sk_segment *seg = &f->trace[k].seg;
        assert_int_equal(seg->options_len, 20);
        assert_memory_equal(seg->options, syn_layout, sizeof syn_layout);
        assert_int_equal(seg->options[16], 1);  /* nop */
        assert_int_equal(seg->options[17], 3);  /* wscale */
        assert_int_equal(seg->options[18], 3);
        assert_true(seg->opts.has_mss && seg->opts.mss == 1460);
        assert_true(seg->opts.sack_permitted);
        assert_true(seg->opts.has_ts);
        assert_true(seg->opts.has_wscale);
        assert_int_equal(seg->opts.wscale, 10);
        assert_int_equal(seg->ip_len, 60);
        assert_true(seg->df);
        assert_int_equal(seg->ttl, 64);
    }
    /* The SYN echoes nothing; the SYN-ACK echoes the SYN's TSval. */
    assert_int_equal(f->trace[0].seg.opts.ts_ecr, 0);
    assert_int_equal(f->trace[1].seg.opts.ts_ecr, f->trace[0].seg.opts.ts_val);
    /* The final ACK: nop, nop, TS, echoing the SYN-ACK's TSval. */
    const sk_segment *ack = &f->trace[2].seg;
    assert_int_equal(ack->options_len, 12);
    assert_int_equal(ack->options[0], 1);
    assert_int_equal(ack->options[1], 1);
    assert_int_equal(ack->options[2], 8);
    assert_int_equal(ack->opts.ts_ecr, f->trace[1].seg.opts.ts_val);
}

/* A RST at RCV.NXT reaching an active opener that a crossing SYN moved to
 * SYN_RCVD resets it: ECONNRESET, as Linux's tcp_reset() reports for any
 * state but SYN_SENT (refused) and CLOSE_WAIT (EPIPE), and the transition
 * is SYN_RCVD -> CLOSED, counted as a failed attempt. */
static void test_rst_in_simultaneous_open_syn_rcvd_resets(void **state)
{
    sk_fixture *f = *state;
    int cfd = sk_socket(f->client);
    sk_endpoint cl = {.addr = SK_TEST_CLIENT_ADDR, .port = 5000, .family = SK_AF_INET}, sl = {.addr = SK_TEST_SERVER_ADDR, .port = 6000, .family = SK_AF_INET};
    assert_int_equal(sk_bind(f->client, cfd, &cl), 0);
    sk_test_drop(f, "c>s *", -1); /* the test plays the peer */
    assert_int_equal(sk_connect(f->client, cfd, &sl), -EINPROGRESS);
    sk_segment_spec syn = {.src = SK_TEST_SERVER_ADDR, .dst = SK_TEST_CLIENT_ADDR, .sport = 6000,
                           .dport = 5000, .seq = 1000, .flags = SK_TH_SYN, .window = 65535};
    sk_test_inject(f, &syn);
    sk_test_run_for(f, MSEC(10));
    assert_int_equal(sk_state(f->client, cfd), SK_TCP_SYN_RECV);
    sk_segment_spec rst = syn;
    rst.seq = 1001;
    rst.flags = SK_TH_RST;
    sk_test_inject(f, &rst);
    sk_test_run_for(f, MSEC(10));
    assert_int_equal(sk_state(f->client, cfd), SK_TCP_CLOSE);
    assert_int_equal(sk_test_so_error(f->client, cfd), ECONNRESET);
    EXPECT_TRANSITIONS(f, f->client, 5000, 6000, "SYN_SENT SYN_RECV CLOSED");
    assert_int_equal(sk_counter(f->client, "AttemptFails"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rst_in_simultaneous_open_syn_rcvd_resets, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_three_way_handshake_segments_and_states, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_ipv4_id_advances_by_one_per_datagram, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syn_and_synack_carry_linux_options, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_connect_twice_while_in_progress_gives_ealready,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_handshake_takes_one_round_trip_per_side, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_open, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_lost_final_ack_completes_on_first_data_segment,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syn_retransmission_times_and_etimedout, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_connect_after_syn_timeout_returns_etimedout,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syncnt_limits_syn_retransmissions, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
