/*
 * Closing connections: both close orders, the three-segment close,
 * simultaneous close, half-close, TIME_WAIT and the orphaned FIN_WAIT_2
 * timeout (RFC 9293 §3.6, Linux tcp_close, tcp_fin, tcp_time_wait and
 * tcp_timewait_state_process).
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

/* Long enough for any delayed ACK (Linux's TCP_DELACK_MAX is 200 ms). */
#define SETTLE MSEC(300)

static void assert_time_wait_lasts_60s(sk_fixture *f, sk_stack *s, uint16_t lport, uint32_t raddr,
                                       uint16_t rport, sk_time_ns since)
{
    sk_test_run_until(f, since + SEC(60) - MSEC(1));
    assert_int_equal(sk_test_tuple_state(s, lport, raddr, rport), SK_TCP_TIME_WAIT);
    /* Linux (since 5.18) counts TW (LINUX_MIB_TIMEWAITED) when the record
     * is scheduled, not when it expires. */
    assert_int_equal(sk_counter(s, "TW"), 1);
    sk_test_run_until(f, since + SEC(60));
    assert_int_equal(sk_test_tuple_state(s, lport, raddr, rport), 0);
    assert_int_equal(sk_counter(s, "TW"), 1);
    assert_int_equal(sk_counter(s, "TWKilled"), 0);
}

static void test_active_close_by_client(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);

    assert_int_equal(sk_close(f->client, p.cfd), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->server, p.sfd, SK_TCP_CLOSE_WAIT, SEC(1));
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_FIN_WAIT2);
    /* tcpCurrEstab counts ESTABLISHED and CLOSE_WAIT (RFC 1213; Linux
     * tcp_set_state). */
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 1);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    char buf[16];
    assert_int_equal(sk_recv(f->server, p.sfd, buf, sizeof buf, 0), 0);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, SETTLE);

    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "s>c . seq 1 ack 2", "s>c F. seq 1 ack 2",
                    "c>s . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport), 0);
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport, "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");

    sk_time_ns tw = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_TIME_WAIT);
    assert_int_not_equal(tw, SK_TIME_NEVER);
    assert_time_wait_lasts_60s(f, f->client, p.cport, SK_TEST_SERVER_ADDR, 80, tw);
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80,
                       "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");

    assert_int_equal(sk_counter(f->client, "ActiveOpens"), 1);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->client, "EstabResets"), 0);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->server, "EstabResets"), 0);
    assert_int_equal(sk_counter(f->server, "TW"), 0);
    assert_int_equal(sk_counter(f->client, "OutRsts") + sk_counter(f->server, "OutRsts"), 0);
    EXPECT_NO_MORE_SEGMENTS(f);
}

static void test_active_close_by_server(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);

    assert_int_equal(sk_close(f->server, p.sfd), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->client, p.cfd, SK_TCP_CLOSE_WAIT, SEC(1));
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport),
                     SK_TCP_FIN_WAIT2);
    char buf[16];
    assert_int_equal(sk_recv(f->client, p.cfd, buf, sizeof buf, 0), 0);
    assert_true(sk_poll(f->client, p.cfd) & SK_POLLIN);
    assert_true(sk_poll(f->client, p.cfd) & SK_POLLRDHUP);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);

    EXPECT_SEGMENTS(f, "s>c F. seq 1 ack 1", "c>s . seq 1 ack 2", "c>s F. seq 1 ack 2",
                    "s>c . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80,
                       "SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");

    sk_time_ns tw = sk_test_transition_time(f, f->server, 80, p.cport, SK_TCP_TIME_WAIT);
    assert_int_not_equal(tw, SK_TIME_NEVER);
    assert_time_wait_lasts_60s(f, f->server, 80, SK_TEST_CLIENT_ADDR, p.cport, tw);
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport,
                       "SYN_RECV ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED");

    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->client, "TW"), 0);
    /* The listener is untouched by its child's close. */
    assert_int_equal(sk_state(f->server, f->listen_fd), SK_TCP_LISTEN);
}

/* The passive closer's ACK of the FIN is delayed (Linux enters pingpong
 * mode on a FIN, tcp_fin), and its application closes before the delayed
 * ACK is due: its FIN carries the ACK, a three-segment close, as the
 * tcpdump capture in shared/reference/linux-observability.md shows. */
static void test_three_segment_close_fin_carries_ack(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_send(f->client, p.cfd, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
    sk_test_run_for(f, SETTLE);
    char buf[64];
    assert_int_equal(sk_recv(f->server, p.sfd, buf, sizeof buf, 0), 18);
    EXPECT_SEGMENTS(f, "c>s S", "s>c S.", "c>s .", "c>s P. seq 1:19 ack 1", "s>c . seq 1 ack 19");

    assert_int_equal(sk_close(f->client, p.cfd), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->server, p.sfd, SK_TCP_CLOSE_WAIT, SEC(1));
    assert_int_equal(sk_recv(f->server, p.sfd, buf, sizeof buf, 0), 0);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, SETTLE);

    EXPECT_SEGMENTS(f, "c>s F. seq 19 ack 1", "s>c F. seq 1 ack 20", "c>s . seq 20 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80,
                       "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT");
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport, "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
}

/* Both FINs cross: each side gets a FIN in FIN_WAIT_1, ACKs it at once and
 * moves to CLOSING, then to TIME_WAIT on the ACK of its own FIN
 * (RFC 9293 §3.6 case 2; Linux tcp_fin and tcp_rcv_state_process). */
static void test_simultaneous_close_via_closing(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);

    assert_int_equal(sk_close(f->client, p.cfd), 0);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, SETTLE);

    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "s>c F. seq 1 ack 1", "s>c . seq 2 ack 2",
                    "c>s . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80,
                       "SYN_SENT ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT");
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport,
                       "SYN_RECV ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT");
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport),
                     SK_TCP_TIME_WAIT);

    sk_time_ns ctw = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_TIME_WAIT);
    sk_time_ns stw = sk_test_transition_time(f, f->server, 80, p.cport, SK_TCP_TIME_WAIT);
    sk_test_run_until(f, (ctw > stw ? ctw : stw) + SEC(60));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport), 0);
    assert_int_equal(sk_counter(f->client, "TW"), 1);
    assert_int_equal(sk_counter(f->server, "TW"), 1);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 0);
}

/* shutdown(SHUT_WR) closes only the sending direction: the peer keeps
 * sending, the half-closed side keeps reading until the peer's FIN. A
 * FIN_WAIT_2 socket that still has its handle does not time out. */
static void test_half_close_peer_keeps_sending_100k(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);

    assert_int_equal(sk_shutdown(f->client, p.cfd, SK_SHUT_WR), 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "s>c . seq 1 ack 2");
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_FIN_WAIT2);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_CLOSE_WAIT);
    assert_int_equal(sk_send(f->client, p.cfd, "x", 1, SK_MSG_NOSIGNAL), -EPIPE);

    sk_test_run_for(f, SEC(70));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_FIN_WAIT2);

    assert_int_equal(sk_test_transfer(f, f->server, p.sfd, f->client, p.cfd, 100 * 1024, SEC(30)),
                     100 * 1024);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, SETTLE);
    char buf[16];
    assert_int_equal(sk_recv(f->client, p.cfd, buf, sizeof buf, 0), 0);
    /* As in Linux (tcp_time_wait → tcp_done), the socket itself is
     * CLOSED; a TIME_WAIT record holds the tuple. */
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_CLOSE);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80,
                       "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT");
    EXPECT_TRANSITIONS(f, f->server, 80, p.cport, "SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED");
    assert_int_equal(sk_close(f->client, p.cfd), 0);
}

/* Client closes first; the server closes after it has ACKed the FIN; the
 * client ends in TIME_WAIT.  Returns when it entered it. */
static sk_time_ns client_into_time_wait(sk_fixture *f, sk_conn_pair *p)
{
    *p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    assert_int_equal(sk_close(f->client, p->cfd), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->server, p->sfd, SK_TCP_CLOSE_WAIT, SEC(1));
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_close(f->server, p->sfd), 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "s>c . seq 1 ack 2", "s>c F. seq 1 ack 2",
                    "c>s . seq 2 ack 2");
    sk_time_ns tw = sk_test_transition_time(f, f->client, p->cport, 80, SK_TCP_TIME_WAIT);
    assert_int_not_equal(tw, SK_TIME_NEVER);
    return tw;
}

/* A duplicate of the peer's FIN reaching TIME_WAIT is ACKed again and
 * restarts the 60 s (Linux tcp_timewait_state_process: an out-of-window
 * non-RST segment with ACK → inet_twsk_reschedule(TCP_TIMEWAIT_LEN) and
 * TCP_TW_ACK).  The re-ACK is kept off the wire: the server is already
 * CLOSED and would answer it with a RST, which (tcp_rfc1337 = 0) would end
 * the TIME_WAIT early — see the next test. */
static void test_time_wait_reacks_duplicate_fin_and_restarts_60s(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p;
    sk_time_ns tw = client_into_time_wait(f, &p);

    sk_test_run_until(f, tw + SEC(30));
    sk_time_ns refin = sk_wire_now(f->wire);
    sk_test_drop(f, "c>s .", -1);
    sk_test_reinject(f, sk_test_last(f, "s>c F."));
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "s>c F. seq 1 ack 2", "c>s . seq 2 ack 2");
    assert_true(f->trace[f->cursor - 2].injected);
    assert_int_equal(f->trace[f->cursor - 1].time, refin);

    /* The original 60 s have passed; the restarted ones have not. */
    sk_test_run_until(f, tw + SEC(60) + MSEC(1));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    sk_test_run_until(f, refin + SEC(60) - MSEC(1));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    sk_test_run_until(f, refin + SEC(60));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_counter(f->client, "TW"), 1);
    assert_int_equal(sk_counter(f->client, "TWKilled"), 0);
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* The same duplicate FIN with the re-ACK delivered: the CLOSED server
 * answers the ACK with a RST (seq = its ack field), and the RST ends the
 * TIME_WAIT at once — Linux's default tcp_rfc1337 = 0.  Linux counts the
 * record once, as TW when it was scheduled for 60 s; the RST's kill is
 * not TWKilled (that is a record scheduled for 4 s or less). */
static void test_rst_ends_time_wait_unless_rfc1337(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p;
    sk_time_ns tw = client_into_time_wait(f, &p);
    sk_test_run_until(f, tw + SEC(30));
    sk_test_reinject(f, sk_test_last(f, "s>c F."));
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "s>c F. seq 1 ack 2", "c>s . seq 2 ack 2", "s>c R seq 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_counter(f->client, "TWKilled"), 0);
    assert_int_equal(sk_counter(f->client, "TW"), 1);
}

static void test_rfc1337_keeps_time_wait_through_rst(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_rfc1337", "1");
    sk_conn_pair p;
    sk_time_ns tw = client_into_time_wait(f, &p);
    sk_test_run_until(f, tw + SEC(30));
    sk_time_ns refin = sk_wire_now(f->wire);
    sk_test_reinject(f, sk_test_last(f, "s>c F."));
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "s>c F. seq 1 ack 2", "c>s . seq 2 ack 2", "s>c R seq 2 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    assert_int_equal(sk_counter(f->client, "TWKilled"), 0);
    sk_test_run_until(f, refin + SEC(60));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
}

/* The natural case: the client's last ACK is lost, the server in LAST_ACK
 * retransmits its FIN after its RTO, the client in TIME_WAIT ACKs it again
 * and its 60 s run from that last FIN. */
static void test_lost_last_ack_fin_retransmitted_into_time_wait(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->server, p.sfd, SK_TCP_CLOSE_WAIT, SEC(1));
    sk_test_run_for(f, SETTLE);
    sk_test_drop(f, "c>s . seq 2 ack 2", 1);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, SEC(3));

    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "s>c . seq 1 ack 2", "s>c F. seq 1 ack 2",
                    "c>s . seq 2 ack 2", "s>c F. seq 1 ack 2", "c>s . seq 2 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->cursor - 3].fate, SK_WIRE_LOST);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport), 0);
    assert_int_equal(sk_counter(f->server, "RetransSegs"), 1);

    sk_time_ns last_fin = f->trace[f->cursor - 2].time + f->delay;
    sk_test_run_until(f, last_fin + SEC(60) - MSEC(1));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    sk_test_run_until(f, last_fin + SEC(60));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    EXPECT_NO_MORE_SEGMENTS(f);
}

/* A lost FIN is retransmitted when the retransmission timer expires,
 * after the RTO the connection had when it was sent. */
static void test_lost_fin_retransmitted_after_rto(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(f->client, p.cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    assert_true(ti.tcpi_rto >= 200000); /* tcp_rto_min 200 ms */
    sk_time_ns rto = (sk_time_ns)ti.tcpi_rto * SK_NSEC_PER_USEC;

    sk_test_drop(f, "c>s F.", 1);
    sk_time_ns t0 = sk_wire_now(f->wire);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, rto + SETTLE);

    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "c>s F. seq 1 ack 1", "s>c . seq 1 ack 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->cursor - 3].fate, SK_WIRE_LOST);
    assert_int_equal(f->trace[f->cursor - 3].time, t0);
    assert_int_equal(f->trace[f->cursor - 2].time, t0 + rto);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_FIN_WAIT2);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_CLOSE_WAIT);
    assert_int_equal(sk_counter(f->client, "RetransSegs"), 1);
}

/* close() leaves an orphan in FIN_WAIT_2 when the peer never closes; it
 * lives tcp_fin_timeout (60 s) from entering FIN_WAIT_2 and then is gone
 * (Linux moves it to a FIN_WAIT2-substate timewait record for that time,
 * tcp_rcv_state_process case TCP_FIN_WAIT1). A late FIN then meets no
 * connection and draws a reset. */
static void test_orphan_fin_wait_2_gone_after_fin_timeout(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    sk_test_skip(f);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "s>c . seq 1 ack 2");
    sk_time_ns fw2 = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_FIN_WAIT2);
    assert_int_not_equal(fw2, SK_TIME_NEVER);

    sk_test_run_until(f, fw2 + SEC(60) - MSEC(1));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_FIN_WAIT2);
    sk_test_run_until(f, fw2 + SEC(60));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    EXPECT_NO_MORE_SEGMENTS(f);

    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "s>c F. seq 1 ack 2", "c>s R seq 2");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport), 0);
}

/* tcp_fin_timeout shortens the orphan's FIN_WAIT_2 lifetime. */
static void test_orphan_fin_wait_2_follows_tcp_fin_timeout(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_fin_timeout", "5");
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    sk_time_ns fw2 = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_FIN_WAIT2);
    assert_int_not_equal(fw2, SK_TIME_NEVER);
    sk_test_run_until(f, fw2 + SEC(5) - MSEC(1));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_FIN_WAIT2);
    sk_test_run_until(f, fw2 + SEC(5));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_counter(f->client, "TW"), 1);
    assert_int_equal(sk_counter(f->client, "TWKilled"), 0);
}

/* Data for an orphan waiting in its FIN_WAIT_2 record draws a RST
 * (tcp_timewait_state_process: TCP_TW_RST), which Linux does not count as
 * TCPAbortOnData (only a full socket's tcp_rcv_state_process does). */
static void test_data_to_fin_wait_2_record_resets_uncounted(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), SK_TCP_FIN_WAIT2);
    sk_test_skip(f);
    assert_int_equal(sk_send(f->server, p.sfd, "late", 4, 0), 4);
    sk_test_run_for(f, SETTLE);
    EXPECT_SEGMENTS(f, "s>c P. seq 1:5 ack 2", "c>s R seq 2 len 0");
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_counter(f->client, "TCPAbortOnData"), 0);
    assert_int_equal(sk_counter(f->client, "OutRsts"), 1);
}

/* A SYN above the old connection reopens a TIME_WAIT tuple: the record
 * goes without TWKilled (Linux's TCP_TW_SYN path deschedules it, counting
 * nothing); it was counted as TW when scheduled. */
static void test_syn_reusing_time_wait_is_not_tw_killed(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->client, p.cfd, SK_TCP_CLOSE_WAIT, SEC(1));
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p.cport), SK_TCP_TIME_WAIT);
    assert_int_equal(sk_counter(f->server, "TW"), 1);
    const sk_trace_entry *fin = sk_test_last(f, "c>s F.");
    assert_non_null(fin);
    sk_segment_spec syn;
    memset(&syn, 0, sizeof syn);
    syn.src = SK_TEST_CLIENT_ADDR;
    syn.dst = SK_TEST_SERVER_ADDR;
    syn.sport = p.cport;
    syn.dport = 80;
    syn.seq = fin->seg.seq + 100000;
    syn.flags = SK_TH_SYN;
    syn.window = 65535;
    size_t mark = f->trace_len;
    sk_test_inject(f, &syn);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_count(f, mark, "s>c S."), 1);
    assert_int_equal(sk_counter(f->server, "TWKilled"), 0);
    assert_int_equal(sk_counter(f->server, "TW"), 1);
}

/* A FIN_WAIT_2 record scheduled for 4 s or less is what Linux counts as
 * TWKilled (__inet_twsk_schedule), once, when it is scheduled. */
static void test_short_fin_wait_2_record_counts_tw_killed(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_fin_timeout", "3");
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), SK_TCP_FIN_WAIT2);
    assert_int_equal(sk_counter(f->client, "TWKilled"), 1);
    assert_int_equal(sk_counter(f->client, "TW"), 0);
    sk_test_run_for(f, SEC(4));
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_counter(f->client, "TWKilled"), 1);
    assert_int_equal(sk_counter(f->client, "TW"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_active_close_by_client, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_active_close_by_server, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_three_segment_close_fin_carries_ack, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_close_via_closing, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_half_close_peer_keeps_sending_100k, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_time_wait_reacks_duplicate_fin_and_restarts_60s,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_rst_ends_time_wait_unless_rfc1337, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_rfc1337_keeps_time_wait_through_rst, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_lost_last_ack_fin_retransmitted_into_time_wait,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_lost_fin_retransmitted_after_rto, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_orphan_fin_wait_2_gone_after_fin_timeout,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_orphan_fin_wait_2_follows_tcp_fin_timeout,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_short_fin_wait_2_record_counts_tw_killed, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syn_reusing_time_wait_is_not_tw_killed, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_data_to_fin_wait_2_record_resets_uncounted, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
