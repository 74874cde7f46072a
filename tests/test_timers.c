/*
 * Keepalive (RFC 1122 §4.2.3.6; Linux tcp_keepalive_timer and
 * tcp_write_wakeup): probes after TCP_KEEPIDLE of silence, every
 * TCP_KEEPINTVL while unanswered, death after TCP_KEEPCNT of them.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

static void set_int(sk_stack *s, int fd, int level, int name, int value)
{
    assert_int_equal(sk_setsockopt(s, fd, level, name, &value, sizeof value), 0);
}

static int keepalive_socket(sk_fixture *f, int idle, int intvl, int cnt)
{
    int fd = sk_socket(f->client);
    assert_true(fd >= 0);
    set_int(f->client, fd, SK_SOL_SOCKET, SK_SO_KEEPALIVE, 1);
    set_int(f->client, fd, SK_IPPROTO_TCP, SK_TCP_KEEPIDLE, idle);
    set_int(f->client, fd, SK_IPPROTO_TCP, SK_TCP_KEEPINTVL, intvl);
    set_int(f->client, fd, SK_IPPROTO_TCP, SK_TCP_KEEPCNT, cnt);
    return fd;
}

/* A probe is an ACK carrying SND.NXT - 1 so the peer must answer with
 * an ACK (Linux tcp_xmit_probe_skb uses snd_una - 1). */
static void test_keepalive_probes_answered_while_peer_lives(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish_socket(f, keepalive_socket(f, 10, 5, 3), 80);
    sk_time_ns est = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_ESTABLISHED);
    assert_int_not_equal(est, SK_TIME_NEVER);
    EXPECT_SEGMENTS(f, "c>s S", "s>c S.", "c>s .");

    sk_test_run_until(f, est + SEC(10) - MSEC(1));
    EXPECT_NO_MORE_SEGMENTS(f);
    sk_test_run_until(f, est + SEC(10) + MSEC(500));
    EXPECT_SEGMENTS(f, "c>s . seq 0 ack 1 len 0", "s>c . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->cursor - 2].time, est + SEC(10));
    assert_int_equal(sk_counter(f->client, "TCPKeepAlive"), 1);

    /* The idle time counts from the answer, received one round trip
     * after the probe. */
    sk_time_ns answered = f->trace[f->cursor - 1].time + f->delay;
    sk_test_run_until(f, answered + SEC(10) + MSEC(500));
    EXPECT_SEGMENTS(f, "c>s . seq 0 ack 1 len 0", "s>c . seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->cursor - 2].time, answered + SEC(10));
    assert_int_equal(sk_counter(f->client, "TCPKeepAlive"), 2);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);
}

/* With the peer cut off: TCP_KEEPCNT probes TCP_KEEPINTVL apart, then the
 * connection is reset and fails with ETIMEDOUT (Linux sends a RST and
 * counts TCPAbortOnTimeout in tcp_write_err). */
static void test_keepalive_kills_unreachable_peer_after_keepcnt_probes(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish_socket(f, keepalive_socket(f, 10, 5, 3), 80);
    sk_time_ns est = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_ESTABLISHED);
    sk_test_run_until(f, est + SEC(10) + MSEC(500));
    EXPECT_SEGMENTS(f, "c>s S", "s>c S.", "c>s .", "c>s . seq 0 ack 1", "s>c . seq 1 ack 1");
    sk_time_ns last_heard = f->trace[f->cursor - 1].time + f->delay;

    sk_link_params cut;
    memset(&cut, 0, sizeof cut);
    cut.loss = 1.0;
    sk_test_set_link(f, 0, 0, &cut);

    sk_test_run_until(f, last_heard + SEC(25) - MSEC(1));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    sk_test_run_until(f, last_heard + SEC(25));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_CLOSE);

    EXPECT_SEGMENTS(f, "c>s . seq 0 ack 1 len 0", "c>s . seq 0 ack 1 len 0",
                    "c>s . seq 0 ack 1 len 0", "c>s R. seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    static const unsigned probe_at[] = {10, 15, 20, 25};
    for (size_t i = 0; i < 4; i++) {
        const sk_trace_entry *e = &f->trace[f->cursor - 4 + i];
        assert_int_equal(e->fate, SK_WIRE_LOST);
        assert_int_equal(e->time, last_heard + SEC(probe_at[i]));
    }

    assert_int_equal(sk_test_so_error(f->client, p.cfd), ETIMEDOUT);
    char buf[8];
    assert_int_equal(sk_recv(f->client, p.cfd, buf, sizeof buf, 0), 0);
    EXPECT_TRANSITIONS(f, f->client, p.cport, 80, "SYN_SENT ESTABLISHED CLOSED");
    assert_int_equal(sk_counter(f->client, "TCPKeepAlive"), 4);
    assert_int_equal(sk_counter(f->client, "TCPAbortOnTimeout"), 1);
    assert_int_equal(sk_counter(f->client, "OutRsts"), 1);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    /* The server never heard a thing. */
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);
}

/* The same death reported through recv() when nothing read SO_ERROR. */
static void test_keepalive_death_reported_by_recv(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish_socket(f, keepalive_socket(f, 10, 5, 3), 80);
    sk_link_params cut;
    memset(&cut, 0, sizeof cut);
    cut.loss = 1.0;
    sk_test_set_link(f, 0, 0, &cut);
    sk_test_run_for(f, SEC(30));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_CLOSE);
    char buf[8];
    assert_int_equal(sk_recv(f->client, p.cfd, buf, sizeof buf, 0), -ETIMEDOUT);
}

/* Keepalive off (the default): an idle connection sends nothing. */
static void test_idle_connection_without_keepalive_stays_silent(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_skip(f);
    sk_test_run_for(f, SEC(3 * 3600));
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->client, "TCPKeepAlive"), 0);
}

/* The peer's window closes: nothing is sent, the persist timer probes with
 * an ACK one below SND.UNA (TCPWinProbe).  When the window reopens by less
 * than a segment, the next probe is one PSH segment cut to fit it, past
 * cwnd and Nagle, as Linux's tcp_write_wakeup() sends — not a probe again. */
static void test_persist_probes_zero_window_then_fills_small_window(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_window_scaling", "0");
    sk_test_sysctl(f->client, "net.ipv4.tcp_timestamps", "0");
    sk_conn_pair p = sk_test_establish(f, 80);
    const sk_trace_entry *synack = sk_test_find(f, 0, "s>c S.");
    assert_non_null(synack);
    uint32_t s_seq = synack->seg.seq + 1, c_ack = synack->seg.ack;
    /* From here the test plays the server: the real one sees nothing. */
    sk_test_drop(f, "c>s *", -1);
    sk_segment_spec ack = {.src = SK_TEST_SERVER_ADDR, .dst = SK_TEST_CLIENT_ADDR, .sport = 80,
                           .dport = p.cport, .seq = s_seq, .ack = c_ack, .flags = SK_TH_ACK,
                           .window = 0};
    sk_test_inject(f, &ack);
    sk_test_run_for(f, MSEC(1));
    size_t mark = f->trace_len;

    static uint8_t data[3000];
    assert_int_equal(sk_send(f->client, p.cfd, data, sizeof data, 0), (ssize_t)sizeof data);
    sk_test_run_for(f, SEC(1));
    assert_int_equal(sk_test_count(f, mark, "c>s * len 0"), sk_test_count(f, mark, "c>s *"));
    assert_true(sk_test_count(f, mark, "c>s . seq 0 ack 1 len 0") >= 1);
    /* One TCPWinProbe per probe ACK (tcp_xmit_probe_skb). */
    uint64_t probes = sk_test_count(f, mark, "c>s . seq 0 ack 1 len 0");
    assert_int_equal(sk_counter(f->client, "TCPWinProbe"), probes);
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(f->client, p.cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    assert_true(ti.tcpi_probes >= 1);

    ack.window = 500;
    sk_test_inject(f, &ack);
    mark = f->trace_len;
    sk_test_run_for(f, SEC(5));
    const sk_trace_entry *seg = sk_test_find(f, mark, "c>s * len 500");
    assert_non_null(seg);
    assert_true(sk_test_matches(f, seg, "c>s P. seq 1:501 ack 1"));
    /* The window is full now: nothing beyond it follows — only the same
     * 500 bytes again, retransmitted since this test never ACKs them. */
    size_t data_segs = sk_test_count(f, mark, "c>s *") - sk_test_count(f, mark, "c>s * len 0");
    assert_true(data_segs >= 1);
    assert_int_equal(sk_test_count(f, mark, "c>s * seq 1:501"), data_segs);
    /* Data sent by tcp_write_wakeup is no window probe. */
    assert_int_equal(sk_counter(f->client, "TCPWinProbe"),
                     probes + sk_test_count(f, mark, "c>s . seq 0 ack 1 len 0"));
}

/* ------------------------------------------------------------------ */
/* Timers between datagrams within a millisecond                        */
/* ------------------------------------------------------------------ */

/* Every timer runs on the 1 ms tick, so sk_advance returns at once when
 * the clock has not reached the next millisecond since it last ran (the
 * common case: sk_input calls it for every datagram).  These tests move
 * the wire's clock in 250 µs steps, with a start and a one-way delay off
 * the millisecond grid, so that most calls fall inside a millisecond
 * already advanced to and datagrams arrive between ticks; each timer must
 * still fire on its own millisecond: the first boundary at or after the
 * time it was armed for (TIME_WAIT's, counted in whole milliseconds of
 * the stack's clock, the boundary at or before). */
#define OFFGRID_START (SEC(1) + 123457)
#define OFFGRID_DELAY (MSEC(10) + 370001)
#define STEP 250000

static int offgrid_setup(void **state)
{
    sk_fixture_opts o = {.delay = OFFGRID_DELAY, .start = OFFGRID_START};
    *state = sk_test_fixture_new(&o);
    return *state ? 0 : -1;
}

static sk_time_ns ms_ceil(sk_time_ns t) { return (t + MSEC(1) - 1) / MSEC(1) * MSEC(1); }
static sk_time_ns ms_floor(sk_time_ns t) { return t / MSEC(1) * MSEC(1); }

static void step_until(sk_fixture *f, sk_time_ns end)
{
    for (sk_time_ns t = sk_wire_now(f->wire) + STEP; t < end; t += STEP)
        sk_test_run_until(f, t);
    sk_test_run_until(f, end);
}

/* RTO (RFC 6298 §5.1, 5.5): without SACK there is no loss probe, so the
 * first retransmission comes one RTO after the send, the second two RTOs
 * after the first. */
static void test_offgrid_rto_fires_on_its_millisecond(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_sack", "0");
    sk_conn_pair p = sk_test_establish(f, 80);
    step_until(f, sk_wire_now(f->wire) + MSEC(300));
    sk_test_skip(f);
    sk_link_params cut;
    memset(&cut, 0, sizeof cut);
    cut.loss = 1.0;
    sk_test_set_link(f, 0, 0, &cut);
    step_until(f, sk_wire_now(f->wire) + STEP / 2 + 1);
    sk_time_ns sent = sk_wire_now(f->wire);
    assert_int_not_equal(sent % MSEC(1), 0);
    static const uint8_t data[100];
    assert_int_equal(sk_send(f->client, p.cfd, data, sizeof data, 0), (ssize_t)sizeof data);
    sk_time_ns rto = (sk_time_ns)sk_test_tcp_info(f->client, p.cfd).tcpi_rto * 1000;
    assert_true(rto >= MSEC(200));
    sk_time_ns first = ms_ceil(sent + rto);
    step_until(f, first - 1);
    EXPECT_SEGMENTS(f, "c>s P. seq 1:101");
    EXPECT_NO_MORE_SEGMENTS(f);
    step_until(f, first + 2 * rto + MSEC(2));
    EXPECT_SEGMENTS(f, "c>s P. seq 1:101", "c>s P. seq 1:101");
    assert_int_equal(f->trace[f->cursor - 2].time, first);
    assert_int_equal(f->trace[f->cursor - 1].time, ms_ceil(first + 2 * rto));
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 2);
}

/* The delayed ACK of data with a FIN (pingpong after tcp_fin): the
 * 40 ms minimum ATO after the segment arrived. */
static void test_offgrid_delayed_ack_fires_on_its_millisecond(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    step_until(f, sk_wire_now(f->wire) + MSEC(300));
    sk_test_skip(f);
    static const uint8_t data[8];
    assert_int_equal(sk_send(f->client, p.cfd, data, sizeof data, 0), (ssize_t)sizeof data);
    assert_int_equal(sk_shutdown(f->client, p.cfd, SK_SHUT_WR), 0);
    step_until(f, sk_wire_now(f->wire) + MSEC(200));
    EXPECT_SEGMENTS(f, "c>s P. seq 1:9 ack 1");
    const sk_trace_entry *fin = sk_test_find(f, 0, "c>s F.");
    const sk_trace_entry *ack = sk_test_find(f, 0, "s>c . ack 10");
    assert_non_null(fin);
    assert_non_null(ack);
    sk_time_ns arrived = fin->time + OFFGRID_DELAY;
    assert_int_not_equal(arrived % MSEC(1), 0);
    assert_int_equal(ack->time, ms_ceil(arrived + MSEC(40)));
}

/* TIME_WAIT ends 60 s (TCP_TIMEWAIT_LEN) after it began, in the stack's
 * whole milliseconds. */
static void test_offgrid_time_wait_ends_on_its_millisecond(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    step_until(f, sk_wire_now(f->wire) + MSEC(300));
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    step_until(f, sk_wire_now(f->wire) + MSEC(300));
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    step_until(f, sk_wire_now(f->wire) + MSEC(300));
    sk_time_ns tw = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_TIME_WAIT);
    assert_int_not_equal(tw, SK_TIME_NEVER);
    assert_int_not_equal(tw % MSEC(1), 0);
    sk_time_ns end = ms_floor(tw) + SEC(60);
    step_until(f, end - 1);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), SK_TCP_TIME_WAIT);
    step_until(f, end);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_CLOSE), end);
}

/* Keepalive: the probe TCP_KEEPIDLE after the last segment received,
 * the next TCP_KEEPINTVL later while unanswered. */
static void test_offgrid_keepalive_fires_on_its_millisecond(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish_socket(f, keepalive_socket(f, 10, 5, 3), 80);
    sk_time_ns est = sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_ESTABLISHED);
    assert_int_not_equal(est % MSEC(1), 0);
    EXPECT_SEGMENTS(f, "c>s S", "s>c S.", "c>s .");
    sk_link_params cut;
    memset(&cut, 0, sizeof cut);
    cut.loss = 1.0;
    sk_test_set_link(f, 0, 0, &cut);
    sk_time_ns first = ms_ceil(est + SEC(10));
    step_until(f, first - 1);
    EXPECT_NO_MORE_SEGMENTS(f);
    step_until(f, first + SEC(5));
    EXPECT_SEGMENTS(f, "c>s . seq 0 ack 1 len 0", "c>s . seq 0 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->cursor - 2].time, first);
    assert_int_equal(f->trace[f->cursor - 1].time, first + SEC(5));
    assert_int_equal(sk_counter(f->client, "TCPKeepAlive"), 2);
}

/* tcp_fin_timeout 0: the orphan's FIN_WAIT_2 record is due the moment it
 * is made, inside a millisecond sk_advance has already run, and goes in
 * that same instant (Linux's inet_twsk_schedule with a zero timeout). */
static void test_offgrid_zero_fin_timeout_ends_at_once(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_fin_timeout", "0");
    sk_conn_pair p = sk_test_establish(f, 80);
    step_until(f, sk_wire_now(f->wire) + MSEC(300));
    sk_test_skip(f);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    step_until(f, sk_wire_now(f->wire) + MSEC(300));
    EXPECT_SEGMENTS(f, "c>s F. seq 1 ack 1", "s>c . seq 1 ack 2");
    sk_time_ns acked = f->trace[f->cursor - 1].time + OFFGRID_DELAY;
    assert_int_not_equal(acked % MSEC(1), 0);
    assert_int_equal(sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_FIN_WAIT2), acked);
    assert_int_equal(sk_test_transition_time(f, f->client, p.cport, 80, SK_TCP_CLOSE), acked);
    assert_int_equal(sk_test_tuple_state(f->client, p.cport, SK_TEST_SERVER_ADDR, 80), 0);
    assert_int_equal(sk_counter(f->client, "TWKilled"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keepalive_probes_answered_while_peer_lives,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_kills_unreachable_peer_after_keepcnt_probes,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_death_reported_by_recv, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_persist_probes_zero_window_then_fills_small_window,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_idle_connection_without_keepalive_stays_silent,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_offgrid_rto_fires_on_its_millisecond, offgrid_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_offgrid_delayed_ack_fires_on_its_millisecond, offgrid_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_offgrid_time_wait_ends_on_its_millisecond, offgrid_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_offgrid_keepalive_fires_on_its_millisecond, offgrid_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_offgrid_zero_fin_timeout_ends_at_once, offgrid_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
