/*
 * Local ports: ephemeral port selection and exhaustion, TIME_WAIT reuse
 * for active opens (Linux __inet_hash_connect, tcp_twsk_unique) and
 * bind() conflicts.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"

#define SETTLE MSEC(300)

static int try_connect(sk_stack *s, uint32_t addr, uint16_t port)
{
    int fd = sk_socket(s);
    assert_true(fd >= 0);
    sk_endpoint remote = {.addr = addr, .port = port, .family = SK_AF_INET};
    int rc = sk_connect(s, fd, &remote);
    if (rc != -EINPROGRESS) {
        sk_close(s, fd);
        return rc;
    }
    return fd;
}

static void test_ephemeral_ports_come_from_ip_local_port_range(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.ip_local_port_range", "40000 40003");
    char buf[32];
    assert_int_equal(sk_sysctl_get(f->client, "net.ipv4.ip_local_port_range", buf, sizeof buf), 0);
    assert_string_equal(buf, "40000\t40003");
    sk_test_listen(f, f->server, 80, 16);

    bool used[4] = {false, false, false, false};
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = try_connect(f->client, SK_TEST_SERVER_ADDR, 80);
        assert_true(fds[i] >= 0);
        uint16_t port = sk_test_local_port(f->client, fds[i]);
        assert_in_range(port, 40000, 40003);
        assert_false(used[port - 40000]);
        used[port - 40000] = true;
    }
    /* Every port of the range now has a connection to 10.0.0.2:80. */
    assert_int_equal(try_connect(f->client, SK_TEST_SERVER_ADDR, 80), -EADDRNOTAVAIL);

    sk_test_run_for(f, SETTLE);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sk_state(f->client, fds[i]), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->client, "ActiveOpens"), 4);

    /* A different destination makes a different 4-tuple, so the same
     * local ports serve again (connect() only needs the tuple unique). */
    int other = try_connect(f->client, SK_TEST_SERVER_ADDR, 81);
    assert_true(other >= 0);
    assert_in_range(sk_test_local_port(f->client, other), 40000, 40003);
}

/* Four connections closed actively by the client leave four TIME_WAIT
 * records holding every port of the range. */
static sk_time_ns fill_range_with_time_wait(sk_fixture *f, sk_time_ns *first_tw)
{
    sk_test_sysctl(f->client, "net.ipv4.ip_local_port_range", "40000 40003");
    sk_conn_pair p[4];
    for (int i = 0; i < 4; i++)
        p[i] = sk_test_establish(f, 80);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sk_close(f->client, p[i].cfd), 0);
    sk_test_run_for(f, SETTLE);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sk_close(f->server, p[i].sfd), 0);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_TIME_WAIT), 4);
    sk_time_ns last = 0;
    *first_tw = SK_TIME_NEVER;
    for (int i = 0; i < 4; i++) {
        sk_time_ns t = sk_test_transition_time(f, f->client, p[i].cport, 80, SK_TCP_TIME_WAIT);
        assert_int_not_equal(t, SK_TIME_NEVER);
        if (t > last)
            last = t;
        if (t < *first_tw)
            *first_tw = t;
    }
    return last;
}

/* tcp_tw_reuse = 1 with timestamps: an active open may take over a
 * TIME_WAIT tuple once the record is older than tcp_tw_reuse_delay
 * (1000 ms), counted as TWRecycled (tcp_twsk_unique). */
static void test_tw_reuse_takes_over_time_wait_tuple(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_tw_reuse", "1");
    sk_time_ns first_tw;
    sk_time_ns last_tw = fill_range_with_time_wait(f, &first_tw);

    sk_test_run_until(f, first_tw + MSEC(500));
    assert_int_equal(try_connect(f->client, SK_TEST_SERVER_ADDR, 80), -EADDRNOTAVAIL);
    assert_int_equal(sk_counter(f->client, "TWRecycled"), 0);

    sk_test_run_until(f, last_tw + MSEC(1500));
    sk_test_skip(f);
    int fd = try_connect(f->client, SK_TEST_SERVER_ADDR, 80);
    assert_true(fd >= 0);
    uint16_t port = sk_test_local_port(f->client, fd);
    assert_in_range(port, 40000, 40003);
    assert_int_equal(sk_counter(f->client, "TWRecycled"), 1);
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_TIME_WAIT), 3);

    ASSERT_RUN_UNTIL_STATE(f, f->client, fd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c S. seq 0 ack 1", "c>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    sk_endpoint peer;
    int sfd = sk_accept(f->server, f->listen_fd, &peer);
    assert_true(sfd >= 0);
    assert_int_equal(peer.port, port);
    assert_int_equal(sk_test_transfer(f, f->client, fd, f->server, sfd, 2000, SEC(2)), 2000);
}

/* tcp_tw_reuse = 0: TIME_WAIT tuples stay taken for their 60 s. */
static void test_no_tw_reuse_gives_eaddrnotavail_until_time_wait_ends(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_tw_reuse", "0");
    sk_time_ns first_tw;
    sk_time_ns last_tw = fill_range_with_time_wait(f, &first_tw);

    sk_test_run_until(f, last_tw + SEC(2));
    assert_int_equal(try_connect(f->client, SK_TEST_SERVER_ADDR, 80), -EADDRNOTAVAIL);
    sk_test_run_until(f, first_tw + SEC(59));
    assert_int_equal(try_connect(f->client, SK_TEST_SERVER_ADDR, 80), -EADDRNOTAVAIL);
    assert_int_equal(sk_counter(f->client, "TWRecycled"), 0);

    sk_test_run_until(f, last_tw + SEC(60));
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_TIME_WAIT), 0);
    int fd = try_connect(f->client, SK_TEST_SERVER_ADDR, 80);
    assert_true(fd >= 0);
    ASSERT_RUN_UNTIL_STATE(f, f->client, fd, SK_TCP_ESTABLISHED, SEC(1));
    assert_int_equal(sk_counter(f->client, "TW"), 4);
}

/* The default tcp_tw_reuse = 2 allows reuse only for loopback traffic,
 * which 10.0.0.x is not. */
static void test_default_tw_reuse_is_loopback_only(void **state)
{
    sk_fixture *f = *state;
    char buf[16];
    assert_int_equal(sk_sysctl_get(f->client, "net.ipv4.tcp_tw_reuse", buf, sizeof buf), 0);
    assert_string_equal(buf, "2");
    sk_time_ns first_tw;
    sk_time_ns last_tw = fill_range_with_time_wait(f, &first_tw);
    sk_test_run_until(f, last_tw + SEC(2));
    assert_int_equal(try_connect(f->client, SK_TEST_SERVER_ADDR, 80), -EADDRNOTAVAIL);
}

static void test_bind_conflicts(void **state)
{
    sk_fixture *f = *state;
    sk_endpoint ep = {.addr = SK_TEST_SERVER_ADDR, .port = 8080, .family = SK_AF_INET};
    int a = sk_socket(f->server);
    int b = sk_socket(f->server);
    assert_int_equal(sk_bind(f->server, a, &ep), 0);
    assert_int_equal(sk_bind(f->server, b, &ep), -EADDRINUSE);
    /* bind() twice on one socket: EINVAL (inet_bind: already bound). */
    sk_endpoint other = {.addr = SK_TEST_SERVER_ADDR, .port = 8081, .family = SK_AF_INET};
    assert_int_equal(sk_bind(f->server, a, &other), -EINVAL);
    /* An address this host does not have: EADDRNOTAVAIL. */
    sk_endpoint foreign = {.addr = 0x0a000063u, .port = 8082, .family = SK_AF_INET};
    assert_int_equal(sk_bind(f->server, b, &foreign), -EADDRNOTAVAIL);
    /* Closing the first frees the port. */
    assert_int_equal(sk_close(f->server, a), 0);
    assert_int_equal(sk_bind(f->server, b, &ep), 0);
    assert_int_equal(sk_getsockname(f->server, b, &other), 0);
    assert_int_equal(other.port, 8080);
}

/* ---- bind() against TIME_WAIT records (inet_csk_bind_conflict) ---- */

#define ep6 sk_test_ep6

/* A listener of `family` on `addr`:port (SO_REUSEADDR and V6ONLY as
 * given) takes one connection from the client (IPv4 or IPv6 as `to`),
 * closes it first so that the server holds the TIME_WAIT record, and
 * then closes the listener: only the record is left on the port. */
static void server_time_wait(sk_fixture *f, int family, const sk_endpoint *addr, bool reuse, bool v6only,
                             const sk_endpoint *to)
{
    size_t tw_before = sk_test_count_state(f->server, SK_TCP_TIME_WAIT);
    int l = sk_socket_family(f->server, family);
    assert_true(l >= 0);
    int v = reuse;
    assert_int_equal(sk_setsockopt(f->server, l, SK_SOL_SOCKET, SK_SO_REUSEADDR, &v, sizeof v), 0);
    if (family == SK_AF_INET6) {
        v = v6only;
        assert_int_equal(sk_setsockopt(f->server, l, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &v, sizeof v), 0);
    }
    assert_int_equal(sk_bind(f->server, l, addr), 0);
    assert_int_equal(sk_listen(f->server, l, 8), 0);
    int c = sk_socket_family(f->client, to->family);
    assert_true(c >= 0);
    assert_int_equal(sk_connect(f->client, c, to), -EINPROGRESS);
    sk_test_run_for(f, SETTLE);
    int a = sk_accept(f->server, l, NULL);
    assert_true(a >= 0);
    if (family == SK_AF_INET6) { /* the child keeps its listener's sk_ipv6only */
        size_t len = sizeof v;
        assert_int_equal(sk_getsockopt(f->server, a, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &v, &len), 0);
        assert_int_equal(v, v6only);
    }
    assert_int_equal(sk_close(f->server, a), 0);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_close(f->client, c), 0);
    sk_test_run_for(f, SETTLE);
    assert_int_equal(sk_close(f->server, l), 0);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_TIME_WAIT), tw_before + 1);
}

static int try_bind(sk_stack *s, int family, const sk_endpoint *ep, bool reuse, bool v6only)
{
    int fd = sk_socket_family(s, family);
    assert_true(fd >= 0);
    int v = reuse;
    assert_int_equal(sk_setsockopt(s, fd, SK_SOL_SOCKET, SK_SO_REUSEADDR, &v, sizeof v), 0);
    if (family == SK_AF_INET6) {
        v = v6only;
        assert_int_equal(sk_setsockopt(s, fd, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &v, sizeof v), 0);
    }
    int rc = sk_bind(s, fd, ep);
    sk_close(s, fd);
    return rc;
}

/* IPv4: a TIME_WAIT record holds its own address and port only; a
 * second address of the host is free, the wildcard and the same
 * address are not, unless both the record's socket and the new one set
 * SO_REUSEADDR. */
static void test_bind_against_time_wait_v4(void **state)
{
    sk_fixture *f = *state;
    sk_endpoint extra = sk_endpoint_ipv4(0x0a000003u, 0);
    assert_int_equal(sk_stack_add_addr(f->server, &extra, 24), 0);
    sk_endpoint at = sk_endpoint_ipv4(SK_TEST_SERVER_ADDR, 8080);
    sk_endpoint any = sk_endpoint_ipv4(0, 8080);
    sk_endpoint second = sk_endpoint_ipv4(0x0a000003u, 8080);
    server_time_wait(f, SK_AF_INET, &at, false, false, &at);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &second, false, false), 0);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &at, false, false), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &any, false, false), -EADDRINUSE);
    /* The record's socket had no SO_REUSEADDR: the new one's does not help. */
    assert_int_equal(try_bind(f->server, SK_AF_INET, &at, true, false), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &any, true, false), -EADDRINUSE);
    /* Dual stack: "::" covers it unless IPV6_V6ONLY; a real IPv6 address does not. */
    assert_int_equal(sk_stack_add_addr(f->server, &(sk_endpoint){.family = SK_AF_INET6}, 0), -EINVAL);
    sk_endpoint any6 = ep6("::", 8080);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &any6, false, false), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &any6, false, true), 0);
    sk_endpoint mapped = ep6("::ffff:10.0.0.2", 8080);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &mapped, false, false), -EADDRINUSE);
    sk_endpoint mapped2 = ep6("::ffff:10.0.0.3", 8080);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &mapped2, false, false), 0);

    /* A record from a socket with SO_REUSEADDR yields to another one. */
    sk_endpoint at2 = sk_endpoint_ipv4(SK_TEST_SERVER_ADDR, 8081);
    sk_endpoint any2 = sk_endpoint_ipv4(0, 8081);
    server_time_wait(f, SK_AF_INET, &any2, true, false, &at2);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_TIME_WAIT), 2);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &at2, false, false), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &at2, true, false), 0);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &any2, true, false), 0);
    /* Once the record is gone, nothing holds the port. */
    sk_test_run_for(f, SEC(61));
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_TIME_WAIT), 0);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &any, false, false), 0);
}

/* IPv6: a record of an IPv6 connection holds its address; an IPv4
 * wildcard meets it (Linux gives IPv6 sockets 127.0.0.6 as their IPv4
 * address, which the wildcard matches) unless its socket was
 * IPV6_V6ONLY; a specific IPv4 address does not. */
static void test_bind_against_time_wait_v6(void **state)
{
    sk_fixture *f = *state;
    sk_endpoint c6 = ep6("fd00::1", 0), s6 = ep6("fd00::2", 0), s6b = ep6("fd00::3", 0);
    assert_int_equal(sk_stack_add_addr(f->client, &c6, 64), 0);
    assert_int_equal(sk_stack_add_addr(f->server, &s6, 64), 0);
    assert_int_equal(sk_stack_add_addr(f->server, &s6b, 64), 0);
    sk_endpoint any6 = ep6("::", 9000), at6 = ep6("fd00::2", 9000), other6 = ep6("fd00::3", 9000);
    server_time_wait(f, SK_AF_INET6, &any6, false, false, &at6);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &other6, false, false), 0);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &at6, false, false), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &any6, false, true), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &at6, true, false), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &(sk_endpoint){.family = SK_AF_INET, .port = 9000}, false,
                              false),
                     -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &(sk_endpoint){.family = SK_AF_INET, .addr = SK_TEST_SERVER_ADDR,
                                                                     .port = 9000},
                              false, false),
                     0);

    /* From a V6ONLY socket with SO_REUSEADDR: the IPv4 wildcard is free,
     * and SO_REUSEADDR on both shares the address. */
    sk_endpoint any6b = ep6("::", 9001), at6b = ep6("fd00::2", 9001);
    server_time_wait(f, SK_AF_INET6, &any6b, true, true, &at6b);
    assert_int_equal(try_bind(f->server, SK_AF_INET, &(sk_endpoint){.family = SK_AF_INET, .port = 9001}, false,
                              false),
                     0);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &at6b, false, false), -EADDRINUSE);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &at6b, true, false), 0);
    assert_int_equal(try_bind(f->server, SK_AF_INET6, &any6b, true, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ephemeral_ports_come_from_ip_local_port_range,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_tw_reuse_takes_over_time_wait_tuple, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_tw_reuse_gives_eaddrnotavail_until_time_wait_ends,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_default_tw_reuse_is_loopback_only, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_bind_conflicts, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_bind_against_time_wait_v4, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_bind_against_time_wait_v6, sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
