/*
 * Listeners: the SYN queue's SYN-ACK retransmissions and the accept
 * queue's overflow (Linux tcp_conn_request, reqsk_timer_handler,
 * tcp_check_req, tcp_v4_syn_recv_sock).
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

#define C2_ADDR 0x0a000003u
#define C3_ADDR 0x0a000004u
#define C4_ADDR 0x0a000005u

struct listener_info {
    uint16_t port;
    uint32_t recv_q, send_q;
    bool found;
};

static void visit_listener(void *ctx, const sk_sock_info *info)
{
    struct listener_info *l = ctx;
    if (info->state == SK_TCP_LISTEN && info->local.port == l->port) {
        l->recv_q = info->recv_q;
        l->send_q = info->send_q;
        l->found = true;
    }
}

static struct listener_info listener(sk_stack *s, uint16_t port)
{
    struct listener_info l = {port, 0, 0, false};
    sk_sockets(s, visit_listener, &l);
    assert_true(l.found);
    return l;
}

/* A SYN whose SYN-ACK is never answered: Linux retransmits the SYN-ACK
 * after 1 s doubling each time, tcp_synack_retries = 5 times, and drops
 * the request when the 6th timeout expires (reqsk_timer_handler). */
static void test_synack_retransmission_times_and_request_expiry(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    sk_segment_spec syn;
    memset(&syn, 0, sizeof syn);
    syn.src = 0x0a000009u; /* no such host: the SYN-ACKs go nowhere */
    syn.dst = SK_TEST_SERVER_ADDR;
    syn.sport = 5555;
    syn.dport = 80;
    syn.seq = 1000;
    syn.flags = SK_TH_SYN;
    syn.window = 65535;
    sk_time_ns t0 = sk_wire_now(f->wire);
    sk_test_inject(f, &syn);
    sk_test_run_until(f, t0 + SEC(63) - MSEC(1));
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 1);
    sk_test_run_until(f, t0 + SEC(63));
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);

    static const unsigned sent_at[] = {0, 1, 3, 7, 15, 31};
    assert_int_equal(sk_test_count(f, 0, "s>? S. ack 1001 abs"), 6);
    size_t k = 0;
    for (size_t i = 0; i < f->trace_len; i++) {
        const sk_trace_entry *e = &f->trace[i];
        if (!sk_test_matches(f, e, "s>? S."))
            continue;
        assert_int_equal(e->fate, SK_WIRE_NO_ROUTE);
        assert_int_equal(e->time - t0, SEC(sent_at[k]));
        k++;
    }
    assert_int_equal(sk_test_count(f, 0, "*>* *"), 7);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 0);
    assert_int_equal(sk_counter(f->server, "RetransSegs"), 5);
    /* Each expiry of the request's timer is a TCPTimeout, the last one
     * (which drops it) too (reqsk_timer_handler, tcp_syn_ack_timeout). */
    assert_int_equal(sk_counter(f->server, "TCPSynRetrans"), 5);
    assert_int_equal(sk_counter(f->server, "TCPTimeouts"), 6);
    assert_int_equal(sk_counter(f->server, "TCPSynRetrans"), 5);
}

/* Two clients complete their handshakes first and wait in the accept
 * queue of a listen(fd, 2) socket. */
static void fill_accept_queue_to_backlog(sk_fixture *f)
{
    sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_test_connect(f, sk_wire_host(f->wire, C2_ADDR), SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(200));
    assert_int_equal(listener(f->server, 80).recv_q, 2);
    sk_test_skip(f);
}

/* listen(fd, 2): Linux's accept queue is full only when it holds more
 * than the backlog (sk_acceptq_is_full uses >), so it takes three.  c3
 * and c4 start their handshakes together while it holds two: both SYNs
 * get requests; c3's final ACK fills the queue, c4's overflows — counted
 * in ListenOverflows and ListenDrops and dropped, while the request stays
 * (inet_rsk(req)->acked) and its timer retransmits the SYN-ACK; c4 ACKs
 * each retransmission, and once accept() made room that ACK completes
 * the connection (tcp_check_req, tcp_v4_syn_recv_sock). */
static void test_accept_queue_overflow_drops_final_ack_and_retransmits_synack(void **state)
{
    sk_fixture *f = *state;
    sk_test_add_host(f, "c2", C2_ADDR);
    sk_stack *c3 = sk_test_add_host(f, "c3", C3_ADDR);
    sk_stack *c4 = sk_test_add_host(f, "c4", C4_ADDR);
    int lfd = sk_test_listen(f, f->server, 80, 2);
    fill_accept_queue_to_backlog(f);

    sk_time_ns t0 = sk_wire_now(f->wire);
    int fd3 = sk_test_connect(f, c3, SK_TEST_SERVER_ADDR, 80);
    int fd4 = sk_test_connect(f, c4, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_until(f, t0 + MSEC(500));
    EXPECT_SEGMENTS(f, "c3>s S", "c4>s S", "s>c3 S. ack 1", "s>c4 S. ack 1", "c3>s . seq 1 ack 1",
                    "c4>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(c3, fd3), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(c4, fd4), SK_TCP_ESTABLISHED);
    assert_int_equal(listener(f->server, 80).recv_q, 3);
    assert_int_equal(listener(f->server, 80).send_q, 2);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 3);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 1);

    /* The request's timer retransmits the SYN-ACK 1 s after the first;
     * c4 ACKs it again; the queue is still full. */
    sk_test_run_until(f, t0 + MSEC(1500));
    EXPECT_SEGMENTS(f, "s>c4 S. seq 0 ack 1", "c4>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->cursor - 2].time, t0 + f->delay + SEC(1));
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 2);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 2);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 3);

    sk_endpoint peer;
    int a1 = sk_accept(f->server, lfd, &peer);
    assert_true(a1 >= 0);
    assert_int_equal(peer.addr, SK_TEST_CLIENT_ADDR);

    /* Next retransmission 2 s after the last: now there is room. */
    sk_test_run_until(f, t0 + SEC(3) + MSEC(500));
    EXPECT_SEGMENTS(f, "s>c4 S. seq 0 ack 1", "c4>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(f->trace[f->cursor - 2].time, t0 + f->delay + SEC(3));
    assert_int_equal(listener(f->server, 80).recv_q, 3);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 4);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 2);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    int a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = sk_accept(f->server, lfd, &peer);
        assert_true(a[i] >= 0);
    }
    assert_int_equal(peer.addr, C4_ADDR);
    assert_int_equal(sk_state(f->server, a[2]), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_accept(f->server, lfd, &peer), -EAGAIN);

    /* And it works. */
    assert_int_equal(sk_test_transfer(f, c4, fd4, f->server, a[2], 5000, SEC(5)), 5000);
}

/* net.ipv4.tcp_abort_on_overflow = 1: the overflowing final ACK is
 * answered with a reset instead (tcp_check_req → embryonic_reset, a RST
 * built from the ACK: seq = its ack field, no ACK flag). */
static void test_accept_queue_overflow_with_abort_on_overflow_sends_rst(void **state)
{
    sk_fixture *f = *state;
    sk_test_add_host(f, "c2", C2_ADDR);
    sk_stack *c3 = sk_test_add_host(f, "c3", C3_ADDR);
    sk_stack *c4 = sk_test_add_host(f, "c4", C4_ADDR);
    sk_test_sysctl(f->server, "net.ipv4.tcp_abort_on_overflow", "1");
    sk_test_listen(f, f->server, 80, 2);
    fill_accept_queue_to_backlog(f);

    int fd3 = sk_test_connect(f, c3, SK_TEST_SERVER_ADDR, 80);
    int fd4 = sk_test_connect(f, c4, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, SEC(3));

    EXPECT_SEGMENTS(f, "c3>s S", "c4>s S", "s>c3 S.", "s>c4 S.", "c3>s .", "c4>s . seq 1 ack 1",
                    "s>c4 R seq 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(c3, fd3), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(c4, fd4), SK_TCP_CLOSE);
    assert_int_equal(sk_test_so_error(c4, fd4), ECONNRESET);
    assert_int_equal(listener(f->server, 80).recv_q, 3);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(sk_counter(f->server, "EmbryonicRsts"), 1);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 1);
}

/* listen(fd, 1) and three clients, one after the other, none accepted:
 * the first two fill the accept queue (it takes backlog + 1); the third
 * one's SYN finds it full and is dropped (Linux tcp_conn_request:
 * ListenOverflows and ListenDrops); its SYN retransmission gets in once
 * accept() made room. */
static void test_syn_dropped_while_accept_queue_full(void **state)
{
    sk_fixture *f = *state;
    sk_stack *c2 = sk_test_add_host(f, "c2", C2_ADDR);
    sk_stack *c3 = sk_test_add_host(f, "c3", C3_ADDR);
    int lfd = sk_test_listen(f, f->server, 80, 1);
    sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(200));
    sk_test_connect(f, c2, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(200));
    assert_int_equal(listener(f->server, 80).recv_q, 2);
    assert_int_equal(listener(f->server, 80).send_q, 1);
    sk_test_skip(f);

    sk_time_ns t0 = sk_wire_now(f->wire);
    int fd3 = sk_test_connect(f, c3, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_until(f, t0 + MSEC(500));
    EXPECT_SEGMENTS(f, "c3>s S seq 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);

    sk_endpoint peer;
    assert_true(sk_accept(f->server, lfd, &peer) >= 0);
    sk_test_run_until(f, t0 + SEC(1) + MSEC(500));
    EXPECT_SEGMENTS(f, "c3>s S seq 0", "s>c3 S. ack 1", "c3>s . seq 1 ack 1");
    assert_int_equal(f->trace[f->cursor - 3].time, t0 + SEC(1));
    assert_int_equal(sk_state(c3, fd3), SK_TCP_ESTABLISHED);
    assert_int_equal(listener(f->server, 80).recv_q, 2);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 1);
}

/* listen(fd, 1) and three clients at the same instant: the SYN queue is
 * bounded by the backlog too, so with tcp_syncookies = 1 (the default)
 * Linux answers the SYNs it cannot queue with SYN cookies (no request is
 * kept, SyncookiesSent); the cookie ACKs are validated (SyncookiesRecv);
 * the one that finds the accept queue full overflows, and with no
 * request left nothing is retransmitted to it. */
static void test_simultaneous_clients_beyond_backlog_get_syncookies(void **state)
{
    sk_fixture *f = *state;
    sk_stack *c2 = sk_test_add_host(f, "c2", C2_ADDR);
    sk_stack *c3 = sk_test_add_host(f, "c3", C3_ADDR);
    int lfd = sk_test_listen(f, f->server, 80, 1);
    int fd1 = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    int fd2 = sk_test_connect(f, c2, SK_TEST_SERVER_ADDR, 80);
    int fd3 = sk_test_connect(f, c3, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, SEC(5));

    EXPECT_SEGMENTS(f, "c>s S", "c2>s S", "c3>s S", "s>c S. ack 1", "s>c2 S. ack 1",
                    "s>c3 S. ack 1", "c>s . seq 1 ack 1", "c2>s . seq 1 ack 1",
                    "c3>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->client, fd1), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(c2, fd2), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(c3, fd3), SK_TCP_ESTABLISHED);
    assert_true(sk_counter(f->server, "SyncookiesSent") >= 1);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"),
                     sk_counter(f->server, "SyncookiesSent"));
    assert_int_equal(sk_counter(f->server, "SyncookiesFailed"), 0);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(listener(f->server, 80).recv_q, 2);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    sk_endpoint peer;
    assert_true(sk_accept(f->server, lfd, &peer) >= 0);
    assert_true(sk_accept(f->server, lfd, &peer) >= 0);
    assert_int_not_equal(peer.addr, C3_ADDR);
    assert_int_equal(sk_accept(f->server, lfd, &peer), -EAGAIN);
}

/* Closing a listener resets the connections still in its accept queue
 * (Linux inet_csk_listen_stop → tcp_disconnect: RST+ACK from SND.NXT) and
 * frees the port. */
static void test_closing_listener_resets_unaccepted_connections(void **state)
{
    sk_fixture *f = *state;
    sk_stack *c2 = sk_test_add_host(f, "c2", C2_ADDR);
    int lfd = sk_test_listen(f, f->server, 80, 8);
    int fd1 = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    int fd2 = sk_test_connect(f, c2, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(200));
    assert_int_equal(listener(f->server, 80).recv_q, 2);
    sk_test_skip(f);

    assert_int_equal(sk_close(f->server, lfd), 0);
    sk_test_run_for(f, MSEC(200));
    EXPECT_SEGMENTS(f, "s>c R. seq 1 ack 1 len 0", "s>c2 R. seq 1 ack 1 len 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    char buf[8];
    assert_int_equal(sk_recv(f->client, fd1, buf, sizeof buf, 0), -ECONNRESET);
    assert_int_equal(sk_recv(c2, fd2, buf, sizeof buf, 0), -ECONNRESET);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 0);

    int again = sk_socket(f->server);
    sk_endpoint ep = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_bind(f->server, again, &ep), 0);
    assert_int_equal(sk_listen(f->server, again, 8), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_synack_retransmission_times_and_request_expiry,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(
            test_accept_queue_overflow_drops_final_ack_and_retransmits_synack, sk_test_setup,
            sk_test_teardown),
        cmocka_unit_test_setup_teardown(
            test_accept_queue_overflow_with_abort_on_overflow_sends_rst, sk_test_setup,
            sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syn_dropped_while_accept_queue_full, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_simultaneous_clients_beyond_backlog_get_syncookies,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_closing_listener_resets_unaccepted_connections,
                                        sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
