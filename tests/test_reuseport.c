/*
 * SO_REUSEPORT listener groups (Linux's inet_bind_conflict with
 * sk_reuseport, inet_reuseport_add_sock, and reuseport_select_sock
 * picking by reciprocal_scale of the flow hash).
 *
 * The flow hash is keyed with the stack's secret, which the fixture
 * fixes, so which listener a client port lands on is exact here.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

#define PORT 80
#define NCLIENTS 16
#define CPORT0 40000


static int rp_socket(sk_stack *s, bool reuseport)
{
    int fd = sk_socket(s);
    assert_true(fd >= 0);
    int one = 1;
    if (reuseport)
        assert_int_equal(sk_setsockopt(s, fd, SK_SOL_SOCKET, SK_SO_REUSEPORT, &one, sizeof one), 0);
    return fd;
}

static int rp_bind(sk_stack *s, int fd)
{
    sk_endpoint local = {.addr = SK_TEST_SERVER_ADDR, .port = PORT, .family = SK_AF_INET};
    return sk_bind(s, fd, &local);
}

static int rp_listener(sk_stack *s, int backlog)
{
    int fd = rp_socket(s, true);
    assert_int_equal(rp_bind(s, fd), 0);
    assert_int_equal(sk_listen(s, fd, backlog), 0);
    return fd;
}

/* A client connection from a chosen port, so the 4-tuple is known. */
static int connect_from(sk_fixture *f, uint16_t cport)
{
    int fd = sk_socket(f->client);
    assert_true(fd >= 0);
    sk_endpoint local = {.addr = SK_TEST_CLIENT_ADDR, .port = cport, .family = SK_AF_INET};
    assert_int_equal(sk_bind(f->client, fd, &local), 0);
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = PORT, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, fd, &remote), -EINPROGRESS);
    return fd;
}

/* Accepts everything queued on lfd; records the client ports in order. */
static int accept_all(sk_stack *s, int lfd, uint16_t *ports, int max, int *fds)
{
    int n = 0;
    for (;;) {
        sk_endpoint peer;
        int fd = sk_accept(s, lfd, &peer);
        if (fd < 0) {
            assert_int_equal(fd, -EAGAIN);
            return n;
        }
        assert_true(n < max);
        if (ports)
            ports[n] = peer.port;
        if (fds)
            fds[n] = fd;
        n++;
    }
}

struct lq {
    int fd;
    uint32_t recv_q, send_q;
    int seen;
};

static void visit(void *ctx, const sk_sock_info *info)
{
    struct lq *q = ctx;
    if (info->state == SK_TCP_LISTEN && info->fd == q->fd) {
        q->recv_q = info->recv_q;
        q->send_q = info->send_q;
        q->seen++;
    }
}

/* ss's line for the listener: its own accept queue and backlog. */
static struct lq ss_listener(sk_stack *s, int fd)
{
    struct lq q = {fd, 0, 0, 0};
    sk_sockets(s, visit, &q);
    assert_int_equal(q.seen, 1);
    return q;
}

/* Which of n listeners' accepted port lists holds cport. */
static int listener_index(int n, uint16_t cport, uint16_t (*ports)[NCLIENTS], const int *counts)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < counts[i]; j++)
            if (ports[i][j] == cport)
                return i;
    return -1;
}

/* Two and then four sockets with SO_REUSEPORT share 10.0.0.2:80 and all
 * listen; ss shows each with its own Recv-Q (0) and Send-Q (its
 * backlog). */
static void test_reuseport_listeners_bind_and_listen(void **state)
{
    sk_fixture *f = *state;
    int l[4];
    for (int i = 0; i < 4; i++) {
        l[i] = rp_listener(f->server, 10 + i);
        if (i == 1)
            for (int j = 0; j < 2; j++)
                assert_int_equal(ss_listener(f->server, l[j]).send_q, 10 + j);
    }
    for (int i = 0; i < 4; i++) {
        struct lq q = ss_listener(f->server, l[i]);
        assert_int_equal(q.recv_q, 0);
        assert_int_equal(q.send_q, 10 + i);
    }
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_LISTEN), 4);
}

/* A socket without SO_REUSEPORT conflicts with the group, and the group
 * with it, bound or listening (Linux: both must set it). */
static void test_reuseport_conflicts_with_plain_socket(void **state)
{
    sk_fixture *f = *state;
    int a = rp_listener(f->server, 4);
    int b = rp_socket(f->server, true);
    assert_int_equal(rp_bind(f->server, b), 0); /* bound, not listening */
    int plain = rp_socket(f->server, false);
    assert_int_equal(rp_bind(f->server, plain), -EADDRINUSE);
    assert_int_equal(sk_close(f->server, plain), 0);
    assert_int_equal(sk_close(f->server, a), 0);
    assert_int_equal(sk_close(f->server, b), 0);

    /* the other way round: the plain socket first */
    plain = rp_socket(f->server, false);
    assert_int_equal(rp_bind(f->server, plain), 0);
    int c = rp_socket(f->server, true);
    assert_int_equal(rp_bind(f->server, c), -EADDRINUSE);
    assert_int_equal(sk_listen(f->server, plain, 4), 0);
    assert_int_equal(rp_bind(f->server, c), -EADDRINUSE);
    assert_int_equal(sk_close(f->server, plain), 0);
    /* the port is free again: the group forms */
    assert_int_equal(rp_bind(f->server, c), 0);
    assert_int_equal(sk_listen(f->server, c, 4), 0);
    int d = rp_listener(f->server, 4);
    assert_true(d >= 0);

    /* SO_REUSEPORT set only after bind does not make the earlier
     * socket's port shareable for a socket without it */
    int e = rp_socket(f->server, false);
    assert_int_equal(rp_bind(f->server, e), -EADDRINUSE);
}

/* Sixteen client ports spread over four listeners by the keyed flow
 * hash: every listener gets some, in exact numbers for the fixed
 * secret.  Each connection is then reset (SO_LINGER 0, no TIME_WAIT)
 * and made again from the same port: it lands on the same listener. */
static void test_reuseport_spreads_flows_and_keeps_each(void **state)
{
    sk_fixture *f = *state;
    int l[4];
    for (int i = 0; i < 4; i++)
        l[i] = rp_listener(f->server, 64);
    int bound = rp_socket(f->server, true);
    assert_int_equal(rp_bind(f->server, bound), 0); /* in no group until it listens: takes no SYN */
    for (int k = 0; k < NCLIENTS; k++)
        connect_from(f, (uint16_t)(CPORT0 + k));
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_ESTABLISHED), NCLIENTS);

    uint16_t ports[4][NCLIENTS];
    int counts[4], fds[4][NCLIENTS], total = 0;
    for (int i = 0; i < 4; i++) {
        counts[i] = accept_all(f->server, l[i], ports[i], NCLIENTS, fds[i]);
        total += counts[i];
        assert_true(counts[i] >= 1);
    }
    assert_int_equal(total, NCLIENTS);
    static const int want[4] = {1, 6, 5, 4};
    for (int i = 0; i < 4; i++)
        assert_int_equal(counts[i], want[i]);
    assert_int_equal(sk_accept(f->server, bound, NULL), -EINVAL);

    /* again from each port: the same listener */
    struct sk_linger lg = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < counts[i]; j++) {
            assert_int_equal(sk_setsockopt(f->server, fds[i][j], SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg), 0);
            assert_int_equal(sk_close(f->server, fds[i][j]), 0);
        }
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_ESTABLISHED), 0);
    for (int fd = 0; fd < 64; fd++)
        sk_close(f->client, fd);
    for (int k = 0; k < NCLIENTS; k++)
        connect_from(f, (uint16_t)(CPORT0 + k));
    sk_test_run_for(f, MSEC(100));
    for (int i = 0; i < 4; i++) {
        uint16_t again[NCLIENTS];
        int n = accept_all(f->server, l[i], again, NCLIENTS, NULL);
        assert_int_equal(n, counts[i]);
        for (int j = 0; j < n; j++)
            assert_int_equal(listener_index(4, again[j], ports, counts), i);
    }
}

/* Client ports the flow hash gives to the first (A) and the second (B)
 * of two listeners, for the fixture's secret (as the spread test finds
 * them for four). */
static const uint16_t to_a[3] = {40001, 40002, 40004};
static const uint16_t to_b[2] = {40000, 40003};

/* A holds backlog 0 (so one connection fills it: Linux's
 * sk_acceptq_is_full is >), B 64.  With A full, the SYNs of A's flows
 * are dropped (Linux's tcp_conn_request: ListenOverflows and
 * ListenDrops) and B's go on. */
static void test_reuseport_full_queue_drops_only_its_share(void **state)
{
    sk_fixture *f = *state;
    int a = rp_listener(f->server, 0), b = rp_listener(f->server, 64);
    connect_from(f, to_a[0]);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(ss_listener(f->server, a).recv_q, 1);
    assert_int_equal(ss_listener(f->server, b).recv_q, 0);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 0);

    connect_from(f, to_a[1]);
    connect_from(f, to_a[2]);
    connect_from(f, to_b[0]);
    connect_from(f, to_b[1]);
    sk_test_run_for(f, MSEC(500)); /* short of the SYN retransmission */
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 2);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 2);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 3);
    struct lq qa = ss_listener(f->server, a), qb = ss_listener(f->server, b);
    assert_int_equal(qa.recv_q, 1);
    assert_int_equal(qa.send_q, 0);
    assert_int_equal(qb.recv_q, 2);
    assert_int_equal(qb.send_q, 64);
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_SYN_SENT), 2);
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_ESTABLISHED), 3);
    uint16_t got[4];
    assert_int_equal(accept_all(f->server, b, got, 4, NULL), 2);
    assert_int_equal(got[0], to_b[0]);
    assert_int_equal(got[1], to_b[1]);
}

/* Closing A resets the connection waiting in its queue (as for a lone
 * listener) and leaves the group: A's flows go to B from then on. */
static void test_reuseport_closed_listener_leaves_group(void **state)
{
    sk_fixture *f = *state;
    int a = rp_listener(f->server, 8), b = rp_listener(f->server, 8);
    int c0 = connect_from(f, to_a[0]);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(ss_listener(f->server, a).recv_q, 1);
    assert_int_equal(sk_close(f->server, a), 0);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_state(f->client, c0), SK_TCP_CLOSE);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 0);

    connect_from(f, to_a[1]);
    connect_from(f, to_a[2]);
    connect_from(f, to_b[0]);
    sk_test_run_for(f, MSEC(100));
    uint16_t got[4];
    assert_int_equal(accept_all(f->server, b, got, 4, NULL), 3);
    assert_int_equal(ss_listener(f->server, b).recv_q, 0);
}

/* With tcp_syncookies = 2 every SYN is answered statelessly; the ACK
 * carries the same 4-tuple, so it finds the listener of the group the
 * SYN was hashed to (Linux looks the listener up again for it). */
static void test_reuseport_syncookie_ack_finds_group_listener(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    int a = rp_listener(f->server, 8), b = rp_listener(f->server, 8);
    for (int i = 0; i < 3; i++)
        connect_from(f, to_a[i]);
    for (int i = 0; i < 2; i++)
        connect_from(f, to_b[i]);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 5);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 5);
    assert_int_equal(sk_counter(f->server, "SyncookiesFailed"), 0);
    uint16_t got[4];
    assert_int_equal(accept_all(f->server, a, got, 4, NULL), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(got[i], to_a[i]);
    assert_int_equal(accept_all(f->server, b, got, 4, NULL), 2);
}


/* A connection waiting in a listener's queue has no handle yet; it
 * inherits SO_REUSEPORT from its listener (Linux's sk_clone_lock copies
 * sk_reuseport), so another member may still join the group while a
 * socket without the option still may not take the port. */
static void test_reuseport_unaccepted_child_shares_port(void **state)
{
    sk_fixture *f = *state;
    int a = rp_listener(f->server, 8);
    connect_from(f, 40000);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(ss_listener(f->server, a).recv_q, 1);
    int plain = rp_socket(f->server, false);
    assert_int_equal(rp_bind(f->server, plain), -EADDRINUSE);
    int b = rp_listener(f->server, 8);
    assert_int_equal(ss_listener(f->server, b).recv_q, 0);
    uint16_t got[2];
    assert_int_equal(accept_all(f->server, a, got, 2, NULL), 1);
    assert_int_equal(got[0], 40000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reuseport_listeners_bind_and_listen, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_conflicts_with_plain_socket, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_unaccepted_child_shares_port, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_spreads_flows_and_keeps_each, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_full_queue_drops_only_its_share, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_closed_listener_leaves_group, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_reuseport_syncookie_ack_finds_group_listener, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
