/*
 * IPv6 in the engine (issue 13): local addresses of either family,
 * AF_INET6 sockets (dual-stack with IPv4-mapped addresses, IPV6_V6ONLY),
 * the IPv6 data path (handshake, data, close, TIME_WAIT and its reuse,
 * SYN cookies), source address selection, and the reference-counted
 * table of IPv6 addresses returning to what the local addresses hold.
 *
 * Linux is the reference: tcp_ipv6.c, inet6_bind/inet6_create,
 * inet_csk_bind_conflict with ipv6_rcv_saddr_equal, ip6_make_flowlabel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "addr.h"
#include "fastopen.h"
#include "stack.h"

#define ep6 sk_test_ep6

static void add6(sk_stack *s, const char *text, unsigned plen)
{
    sk_endpoint e = ep6(text, 0);
    assert_int_equal(sk_stack_add_addr(s, &e, plen), 0);
}

typedef struct message_log_t {
    char last[160];
} message_log_t;

static void assert_ep6(const sk_endpoint *e, const char *text, uint16_t port)
{
    sk_endpoint want = ep6(text, port);
    char got[64];
    inet_ntop(AF_INET6, e->addr6, got, sizeof got);
    if (e->family != SK_AF_INET6 || memcmp(e->addr6, want.addr6, 16) != 0 || e->port != port)
        fail_msg("endpoint [%s]:%u (family %u), want [%s]:%u", got, e->port, e->family, text, port);
}

static int listen6(sk_stack *s, const char *addr, uint16_t port, bool v6only)
{
    int l = sk_socket_family(s, SK_AF_INET6);
    assert_true(l >= 0);
    int one = v6only ? 1 : 0;
    assert_int_equal(sk_setsockopt(s, l, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &one, sizeof one), 0);
    sk_endpoint a = ep6(addr, port);
    assert_int_equal(sk_bind(s, l, &a), 0);
    assert_int_equal(sk_listen(s, l, 16), 0);
    return l;
}

static int connect6(sk_fixture *f, sk_stack *s, const char *addr, uint16_t port)
{
    int c = sk_socket_family(s, SK_AF_INET6);
    assert_true(c >= 0);
    sk_endpoint r = ep6(addr, port);
    assert_int_equal(sk_connect(s, c, &r), -EINPROGRESS);
    return c;
}

/* ---------------------------------------------------------------- */

static void test_record_sizes_stay_within_the_memory_aims(void **state)
{
    (void)state;
    /* An idle ESTABLISHED connection must stay within 512 bytes in either
     * family, and a TIME_WAIT record within 48 (IPv4) and 80 (IPv6): the
     * addresses are 4-byte handles, so neither record grew. */
    assert_true(sizeof(sk_tcb) <= 456);
    assert_true(sizeof(sk_tw) <= 44);
    assert_true(sizeof(sk_request) <= 64);
    assert_int_equal(sizeof(sk_addr6_ent), 24);
}

static void test_socket_families_as_linux(void **state)
{
    sk_fixture *f = *state;
    assert_int_equal(sk_socket_family(f->client, 1 /* AF_UNIX */), -EAFNOSUPPORT);
    assert_int_equal(sk_socket_family(f->client, 17 /* AF_PACKET */), -EAFNOSUPPORT);
    int s4 = sk_socket_family(f->client, SK_AF_INET);
    int s6 = sk_socket_family(f->client, SK_AF_INET6);
    assert_true(s4 >= 0 && s6 >= 0);
    /* An AF_INET6 socket takes only sockaddr_in6, an AF_INET one only
     * sockaddr_in (inet6_bind, inet_bind). */
    sk_endpoint v4 = sk_endpoint_ipv4(SK_TEST_CLIENT_ADDR, 0);
    sk_endpoint v6 = ep6("::", 0);
    assert_int_equal(sk_bind(f->client, s6, &v4), -EAFNOSUPPORT);
    assert_int_equal(sk_bind(f->client, s4, &v6), -EAFNOSUPPORT);
    /* A fresh AF_INET6 socket is unbound on "::" */
    sk_endpoint name;
    assert_int_equal(sk_getsockname(f->client, s6, &name), 0);
    assert_ep6(&name, "::", 0);
    /* IPV6 options are not an AF_INET socket's */
    int one = 1;
    assert_int_equal(sk_setsockopt(f->client, s4, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &one, sizeof one),
                     -ENOPROTOOPT);
    int v = -1;
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, s6, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &v, &len), 0);
    assert_int_equal(v, 0); /* net.ipv6.bindv6only = 0 */
    sk_test_sysctl(f->client, "net.ipv6.bindv6only", "1");
    int s6b = sk_socket_family(f->client, SK_AF_INET6);
    len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, s6b, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &v, &len), 0);
    assert_int_equal(v, 1);
    len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, s6, SK_IPPROTO_IPV6, SK_IPV6_UNICAST_HOPS, &v, &len), 0);
    assert_int_equal(v, 64);
    v = 256;
    assert_int_equal(sk_setsockopt(f->client, s6, SK_IPPROTO_IPV6, SK_IPV6_TCLASS, &v, sizeof v), -EINVAL);
}

static void test_addresses_added_and_removed(void **state)
{
    sk_fixture *f = *state;
    sk_endpoint a = ep6("fd00::1", 0);
    assert_int_equal(sk_stack_add_addr(f->client, &a, 64), 0);
    assert_int_equal(sk_stack_add_addr(f->client, &a, 64), -EEXIST);
    sk_endpoint bad = ep6("ff02::1", 0);
    assert_int_equal(sk_stack_add_addr(f->client, &bad, 64), -EINVAL);
    bad = ep6("::ffff:10.0.0.9", 0);
    assert_int_equal(sk_stack_add_addr(f->client, &bad, 64), -EINVAL);
    assert_int_equal(sk_stack_add_addr(f->client, &a, 129), -EINVAL);
    sk_endpoint v4 = sk_endpoint_ipv4(0x0a000063u, 0); /* 10.0.0.99 */
    assert_int_equal(sk_stack_add_addr(f->client, &v4, 24), 0);

    sk_endpoint list[8];
    uint8_t plen[8];
    assert_int_equal(sk_stack_addrs(f->client, list, plen, 8), 3);
    assert_int_equal(list[0].family, SK_AF_INET);
    assert_int_equal(list[0].addr, SK_TEST_CLIENT_ADDR);
    assert_int_equal(plen[0], 32);
    assert_ep6(&list[1], "fd00::1", 0);
    assert_int_equal(plen[1], 64);
    assert_int_equal(list[2].addr, 0x0a000063u);
    assert_int_equal(plen[2], 24);

    /* bind() accepts only the stack's addresses (inet6_bind, inet_bind). */
    int s6 = sk_socket_family(f->client, SK_AF_INET6);
    sk_endpoint foreign = ep6("fd00::99", 0);
    assert_int_equal(sk_bind(f->client, s6, &foreign), -EADDRNOTAVAIL);
    int s4 = sk_socket(f->client);
    sk_endpoint foreign4 = sk_endpoint_ipv4(0x0a090909u, 0);
    assert_int_equal(sk_bind(f->client, s4, &foreign4), -EADDRNOTAVAIL);
    sk_endpoint second4 = sk_endpoint_ipv4(0x0a000063u, 0);
    assert_int_equal(sk_bind(f->client, s4, &second4), 0);

    assert_int_equal(sk_stack_del_addr(f->client, &a), 0);
    assert_int_equal(sk_stack_del_addr(f->client, &a), -EADDRNOTAVAIL);
    assert_int_equal(sk_bind(f->client, s6, &a), -EADDRNOTAVAIL);
    assert_int_equal(sk_stack_addrs(f->client, NULL, NULL, 0), 2);
    /* The table holds nothing for the address once nobody refers to it. */
    assert_int_equal(f->client->a6.count, 0);
}

static void test_ipv6_handshake_data_close_and_time_wait(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = listen6(f->server, "::", 80, false);
    int c = connect6(f, f->client, "fd00::2", 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    sk_endpoint peer;
    int a = sk_accept(f->server, l, &peer);
    assert_true(a >= 0);
    uint16_t cport = peer.port;
    assert_ep6(&peer, "fd00::1", cport);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(f->client, c, &name), 0);
    assert_ep6(&name, "fd00::1", cport);
    assert_int_equal(sk_getpeername(f->client, c, &name), 0);
    assert_ep6(&name, "fd00::2", 80);
    assert_int_equal(sk_getsockname(f->server, a, &name), 0);
    assert_ep6(&name, "fd00::2", 80);

    EXPECT_SEGMENTS(f, "c>s S seq 0 len 0", "s>c S. seq 0 ack 1 len 0", "c>s . seq 1 ack 1 len 0");
    const sk_segment *syn = &f->trace[0].seg, *synack = &f->trace[1].seg, *ack = &f->trace[2].seg;
    /* IPv6 with hop limit 64 (IPV6_UNICAST_HOPS's default), the MSS of
     * a 1500-byte link less 60 bytes of headers, and automatic flow
     * labels (net.ipv6.auto_flowlabels = 1): one per direction, kept
     * for the connection's life. */
    assert_int_equal(syn->ip_version, 6);
    assert_int_equal(synack->ip_version, 6);
    assert_int_equal(syn->ttl, 64);
    assert_int_equal(synack->ttl, 64);
    assert_int_equal(syn->opts.mss, 1440);
    assert_int_equal(synack->opts.mss, 1440);
    assert_true(syn->flowlabel != 0);
    assert_true(synack->flowlabel != 0);
    assert_int_equal(ack->flowlabel, syn->flowlabel);
    assert_int_not_equal(synack->flowlabel, syn->flowlabel);

    assert_int_equal(sk_send(f->client, c, "hello", 5, 0), 5);
    sk_test_run_for(f, MSEC(300));
    char buf[16];
    assert_int_equal(sk_recv(f->server, a, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    EXPECT_SEGMENTS(f, "c>s P. seq 1:6 ack 1", "s>c . seq 1 ack 6");

    assert_int_equal(sk_close(f->client, c), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->server, a, SK_TCP_CLOSE_WAIT, SEC(1));
    assert_int_equal(sk_close(f->server, a), 0);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s F. seq 6 ack 1", "s>c F. seq 1 ack 7", "c>s . seq 7 ack 2");
    EXPECT_TRANSITIONS(f, f->client, cport, 80,
                       "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT");
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_TIME_WAIT), 1);
    /* The record answers a retransmitted FIN from its own address. */
    const sk_trace_entry *fin = sk_test_last(f, "s>c F.");
    assert_non_null(fin);
    sk_test_reinject(f, fin);
    sk_test_run_for(f, MSEC(50));
    EXPECT_SEGMENTS(f, "s>c F. seq 1 ack 7", "c>s . seq 7 ack 2");
    const sk_trace_entry *twack = sk_test_last(f, "c>s .");
    assert_int_equal(twack->seg.ip_version, 6);
    assert_int_equal(twack->seg.flowlabel, syn->flowlabel);

    /* Exactly the six datagrams each way the segments above show. */
    assert_int_equal(sk_counter(f->client, "Ip6OutRequests"), 6);
    assert_int_equal(sk_counter(f->server, "Ip6InDelivers"), 6);
    assert_int_equal(sk_counter(f->server, "Ip6InAddrErrors"), 0);
    assert_int_equal(sk_counter(f->client, "IpOutRequests"), 0);

    /* TIME_WAIT ends after 60 s, and with it the last reference to the
     * server's address in the client's table. */
    sk_test_run_for(f, SEC(61));
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_TIME_WAIT), 0);
    assert_int_equal(f->client->a6.count, 1); /* fd00::1, its own */
    assert_int_equal(f->server->a6.count, 1);
}

static void test_datagram_to_a_foreign_ipv6_address_is_an_addr_error(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.ip_version = 6;
    sk_endpoint src = ep6("fd00::1", 0), dst = ep6("fd00::2", 0), other = ep6("fd00::77", 0);
    memcpy(spec.src6, src.addr6, 16);
    memcpy(spec.dst6, dst.addr6, 16);
    spec.sport = 40000;
    spec.dport = 81;
    spec.seq = 1000;
    spec.flags = SK_TH_SYN;
    spec.window = 1000;
    /* A SYN to a closed port draws RST,ACK over IPv6 from the address
     * it was sent to. */
    sk_test_inject(f, &spec);
    sk_test_run_for(f, MSEC(50));
    EXPECT_SEGMENTS(f, "c>s S abs seq 1000", "s>c R. abs seq 0 ack 1001");
    assert_int_equal(f->trace[1].seg.ip_version, 6);
    /* To an address the server does not have: Ip6InAddrErrors, no
     * answer (ip6_input finds no local route). */
    memcpy(spec.dst6, other.addr6, 16);
    uint8_t buf[128];
    size_t n = sk_build_segment(&spec, buf, sizeof buf);
    assert_true(n > 0);
    uint64_t before = sk_counter(f->server, "Ip6InAddrErrors");
    sk_input(f->server, buf, n, sk_wire_now(f->wire));
    sk_test_run_for(f, MSEC(50));
    assert_int_equal(sk_counter(f->server, "Ip6InAddrErrors"), before + 1);
    EXPECT_NO_MORE_SEGMENTS(f);
}

static void test_dual_stack_listener_accepts_ipv4_as_mapped(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = listen6(f->server, "::", 80, false);
    /* An IPv4 client reaches the AF_INET6 listener on "::" */
    int c = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    sk_endpoint peer;
    int a = sk_accept(f->server, l, &peer);
    assert_true(a >= 0);
    uint16_t cport = sk_test_local_port(f->client, c);
    assert_ep6(&peer, "::ffff:10.0.0.1", cport);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(f->server, a, &name), 0);
    assert_ep6(&name, "::ffff:10.0.0.2", 80);
    assert_int_equal(sk_getpeername(f->server, a, &name), 0);
    assert_ep6(&name, "::ffff:10.0.0.1", cport);
    /* The segments are IPv4 */
    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c S. seq 0 ack 1", "c>s . seq 1 ack 1");
    assert_int_equal(f->trace[1].seg.ip_version, 4);
    assert_int_equal(f->trace[1].seg.opts.mss, 1460);
    assert_int_equal(sk_counter(f->server, "Ip6OutRequests"), 0);

    /* An AF_INET6 client connects to an IPv4 server by its mapped address. */
    sk_test_listen(f, f->server, 81, 16);
    int c6 = connect6(f, f->client, "::ffff:10.0.0.2", 81);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c6, SK_TCP_ESTABLISHED, SEC(1));
    assert_int_equal(sk_getsockname(f->client, c6, &name), 0);
    assert_ep6(&name, "::ffff:10.0.0.1", name.port);
    assert_int_equal(sk_counter(f->client, "Ip6OutRequests"), 0);
}

static void test_v6only_listener_refuses_ipv4(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    listen6(f->server, "::", 80, true);
    int c = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_CLOSE, SEC(1));
    assert_int_equal(sk_test_so_error(f->client, c), ECONNREFUSED);
    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c R. seq 0 ack 1");
    /* and an IPV6_V6ONLY socket cannot connect to an IPv4-mapped peer
     * (tcp_v6_connect: ENETUNREACH) nor bind one (inet6_bind: EINVAL). */
    int s6 = sk_socket_family(f->client, SK_AF_INET6);
    int one = 1;
    assert_int_equal(sk_setsockopt(f->client, s6, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &one, sizeof one), 0);
    sk_endpoint mapped = ep6("::ffff:10.0.0.2", 80);
    assert_int_equal(sk_connect(f->client, s6, &mapped), -ENETUNREACH);
    sk_endpoint mine = ep6("::ffff:10.0.0.1", 0);
    assert_int_equal(sk_bind(f->client, s6, &mine), -EINVAL);
}

static void test_bind_conflicts_between_families_as_linux(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_stack *s = f->server;
    /* "::" without IPV6_V6ONLY covers 0.0.0.0 too (ipv6_rcv_saddr_equal) */
    int a = sk_socket_family(s, SK_AF_INET6);
    sk_endpoint any6 = ep6("::", 80);
    assert_int_equal(sk_bind(s, a, &any6), 0);
    int b = sk_socket(s);
    sk_endpoint any4 = sk_endpoint_ipv4(0, 80);
    assert_int_equal(sk_bind(s, b, &any4), -EADDRINUSE);
    sk_endpoint spec4 = sk_endpoint_ipv4(SK_TEST_SERVER_ADDR, 80);
    assert_int_equal(sk_bind(s, b, &spec4), -EADDRINUSE);
    /* ... but not a specific IPv6 address's socket either way round */
    int c = sk_socket_family(s, SK_AF_INET6);
    sk_endpoint spec6 = ep6("fd00::2", 80);
    assert_int_equal(sk_bind(s, c, &spec6), -EADDRINUSE);

    /* With IPV6_V6ONLY, "::" and 0.0.0.0 share the port. */
    int d = sk_socket_family(s, SK_AF_INET6);
    int one = 1;
    assert_int_equal(sk_setsockopt(s, d, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &one, sizeof one), 0);
    sk_endpoint any6b = ep6("::", 90);
    assert_int_equal(sk_bind(s, d, &any6b), 0);
    int e = sk_socket(s);
    sk_endpoint any4b = sk_endpoint_ipv4(0, 90);
    assert_int_equal(sk_bind(s, e, &any4b), 0);
    assert_int_equal(sk_listen(s, d, 8), 0);
    assert_int_equal(sk_listen(s, e, 8), 0);
    /* V6ONLY cannot change once bound */
    assert_int_equal(sk_setsockopt(s, d, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &one, sizeof one), -EINVAL);
    /* Both take their own family's clients. */
    int c4 = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 90);
    int c6 = connect6(f, f->client, "fd00::2", 90);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c4, SK_TCP_ESTABLISHED, SEC(1));
    ASSERT_RUN_UNTIL_STATE(f, f->client, c6, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    sk_endpoint peer;
    assert_true(sk_accept(s, e, &peer) >= 0);
    assert_int_equal(peer.family, SK_AF_INET);
    assert_int_equal(peer.addr, SK_TEST_CLIENT_ADDR);
    assert_true(sk_accept(s, d, &peer) >= 0);
    assert_ep6(&peer, "fd00::1", peer.port);

    /* Two specific addresses of one family share a port. */
    sk_endpoint other = ep6("fd00::3", 0);
    assert_int_equal(sk_stack_add_addr(s, &other, 64), 0);
    int g = sk_socket_family(s, SK_AF_INET6), h = sk_socket_family(s, SK_AF_INET6);
    sk_endpoint g_a = ep6("fd00::2", 100), h_a = ep6("fd00::3", 100);
    assert_int_equal(sk_bind(s, g, &g_a), 0);
    assert_int_equal(sk_bind(s, h, &h_a), 0);
    /* A specific IPv6 address makes the socket IPv6-only (inet6_bind). */
    int v = 0;
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(s, g, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &v, &len), 0);
    assert_int_equal(v, 1);
    int k = sk_socket(s);
    sk_endpoint any4c = sk_endpoint_ipv4(0, 100);
    assert_int_equal(sk_bind(s, k, &any4c), 0);
}

static void test_source_address_selection_with_two_addresses(void **state)
{
    sk_fixture *f = *state;
    add6(f->client, "fd00::1", 64);
    add6(f->client, "2001:db8::1", 64);
    add6(f->server, "fd00::2", 64);
    add6(f->server, "2001:db8::2", 64);
    listen6(f->server, "::", 80, false);
    /* RFC 6724 rule 8: the source sharing the longest prefix with the
     * destination; otherwise the first address. */
    int c1 = connect6(f, f->client, "2001:db8::2", 80);
    int c2 = connect6(f, f->client, "fd00::2", 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c1, SK_TCP_ESTABLISHED, SEC(1));
    ASSERT_RUN_UNTIL_STATE(f, f->client, c2, SK_TCP_ESTABLISHED, SEC(1));
    sk_endpoint name;
    assert_int_equal(sk_getsockname(f->client, c1, &name), 0);
    assert_ep6(&name, "2001:db8::1", name.port);
    assert_int_equal(sk_getsockname(f->client, c2, &name), 0);
    assert_ep6(&name, "fd00::1", name.port);

    /* IPv4: the address on the peer's subnet, else the first. */
    sk_endpoint second = sk_endpoint_ipv4(0xc0a80001u, 0); /* 192.168.0.1/24 */
    assert_int_equal(sk_stack_add_addr(f->client, &second, 24), 0);
    sk_endpoint sv = sk_endpoint_ipv4(0xc0a80002u, 0);
    assert_int_equal(sk_stack_add_addr(f->server, &sv, 24), 0);
    int l4 = sk_socket(f->server);
    sk_endpoint any4 = sk_endpoint_ipv4(0, 81);
    assert_int_equal(sk_bind(f->server, l4, &any4), 0);
    assert_int_equal(sk_listen(f->server, l4, 16), 0);
    int c3 = sk_test_connect(f, f->client, 0xc0a80002u, 81);
    int c4 = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 81);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c3, SK_TCP_ESTABLISHED, SEC(1));
    ASSERT_RUN_UNTIL_STATE(f, f->client, c4, SK_TCP_ESTABLISHED, SEC(1));
    assert_int_equal(sk_getsockname(f->client, c3, &name), 0);
    assert_int_equal(name.addr, 0xc0a80001u);
    assert_int_equal(sk_getsockname(f->client, c4, &name), 0);
    assert_int_equal(name.addr, SK_TEST_CLIENT_ADDR);
    /* A stack without an IPv6 address cannot reach an IPv6 peer. */
    int s6 = sk_socket_family(f->server, SK_AF_INET6);
    sk_endpoint far = ep6("fd00::1", 80);
    sk_endpoint e = ep6("fd00::2", 0), e2 = ep6("2001:db8::2", 0);
    assert_int_equal(sk_stack_del_addr(f->server, &e), 0);
    assert_int_equal(sk_stack_del_addr(f->server, &e2), 0);
    assert_int_equal(sk_connect(f->server, s6, &far), -ENETUNREACH);
}

static void test_syn_cookies_over_ipv6(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    int l = listen6(f->server, "fd00::2", 80, false);
    int c = connect6(f, f->client, "fd00::2", 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    sk_endpoint peer;
    int a = sk_accept(f->server, l, &peer);
    assert_true(a >= 0);
    assert_ep6(&peer, "fd00::1", peer.port);
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 1);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 1);
    assert_int_equal(sk_counter(f->server, "SyncookiesFailed"), 0);
    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c S. seq 0 ack 1", "c>s . seq 1 ack 1");
    /* The cookie's MSS comes from the IPv6 table (1500 - 60 = 1440). */
    assert_int_equal(f->trace[1].seg.opts.mss, 1440);
    assert_int_equal(sk_test_transfer(f, f->client, c, f->server, a, 100000, SEC(5)), 100000);
    /* No request was kept: the table holds the two local addresses only
     * plus the connection's peer. */
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    assert_int_equal(f->server->a6.count, 2);
}

static void test_time_wait_reuse_over_ipv6(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_test_sysctl(f->client, "net.ipv4.tcp_tw_reuse", "1");
    int l = listen6(f->server, "::", 80, false);
    int c = sk_socket_family(f->client, SK_AF_INET6);
    /* SO_REUSEADDR on both: the record it leaves lets the next socket bind
     * the same address and port (inet_csk_bind_conflict wants it of both). */
    int reuse = 1;
    assert_int_equal(sk_setsockopt(f->client, c, SK_SOL_SOCKET, SK_SO_REUSEADDR, &reuse, sizeof reuse), 0);
    sk_endpoint me = ep6("fd00::1", 50000);
    assert_int_equal(sk_bind(f->client, c, &me), 0);
    sk_endpoint srv = ep6("fd00::2", 80);
    assert_int_equal(sk_connect(f->client, c, &srv), -EINPROGRESS);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    int a = sk_accept(f->server, l, NULL);
    assert_true(a >= 0);
    assert_int_equal(sk_close(f->client, c), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->server, a, SK_TCP_CLOSE_WAIT, SEC(1));
    assert_int_equal(sk_close(f->server, a), 0);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_TIME_WAIT), 1);
    sk_test_run_for(f, SEC(2)); /* older than tcp_tw_reuse_delay */
    sk_test_skip(f);

    int c2 = sk_socket_family(f->client, SK_AF_INET6);
    int one = 1;
    assert_int_equal(sk_setsockopt(f->client, c2, SK_SOL_SOCKET, SK_SO_REUSEADDR, &one, sizeof one), 0);
    assert_int_equal(sk_bind(f->client, c2, &me), 0);
    assert_int_equal(sk_connect(f->client, c2, &srv), -EINPROGRESS);
    assert_int_equal(sk_counter(f->client, "TWRecycled"), 1);
    assert_int_equal(sk_test_count_state(f->client, SK_TCP_TIME_WAIT), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c2, SK_TCP_ESTABLISHED, SEC(1));
    EXPECT_SEGMENTS(f, "c>s S", "s>c S. ack 1", "c>s . seq 1 ack 1");
}

static void test_flow_label_changes_on_rto(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = listen6(f->server, "::", 80, false);
    int c = connect6(f, f->client, "fd00::2", 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    int a = sk_accept(f->server, l, NULL);
    assert_true(a >= 0);
    uint32_t label = f->trace[0].seg.flowlabel;
    sk_test_skip(f);
    /* The data and its tail loss probe are lost: the retransmission
     * timeout re-chooses the flow hash (tcp_write_timeout's
     * sk_rethink_txhash), so the RTO's retransmission has another label;
     * the probe, no timeout, kept the old one. */
    sk_test_drop(f, "c>s P.", 2);
    assert_int_equal(sk_send(f->client, c, "x", 1, 0), 1);
    sk_test_run_for(f, SEC(2));
    EXPECT_SEGMENTS(f, "c>s P. seq 1:2", "c>s P. seq 1:2", "c>s P. seq 1:2", "s>c . ack 2");
    size_t n = f->trace_len;
    assert_int_equal(f->trace[n - 4].seg.flowlabel, label);
    assert_int_equal(f->trace[n - 3].seg.flowlabel, label);
    uint32_t again = f->trace[n - 2].seg.flowlabel;
    assert_int_not_equal(again, label);
    /* the peer's direction is untouched */
    assert_int_equal(f->trace[n - 1].seg.flowlabel, f->trace[1].seg.flowlabel);
    /* and later segments keep the new label */
    assert_int_equal(sk_send(f->client, c, "y", 1, 0), 1);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s P. seq 2:3");
    const sk_trace_entry *later = sk_test_last(f, "c>s P. seq 2:3");
    assert_non_null(later);
    assert_int_equal(later->seg.flowlabel, again);
}

static void test_v4_mapped_source_syn_is_dropped(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    listen6(f->server, "::", 80, false);
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.ip_version = 6;
    sk_endpoint src = ep6("::ffff:10.0.0.1", 0), dst = ep6("fd00::2", 0);
    memcpy(spec.src6, src.addr6, 16);
    memcpy(spec.dst6, dst.addr6, 16);
    spec.sport = 40000;
    spec.dport = 80;
    spec.seq = 1;
    spec.flags = SK_TH_SYN;
    spec.window = 1000;
    sk_test_inject(f, &spec);
    sk_test_run_for(f, MSEC(50));
    /* tcp_v6_conn_request: no answer, an Ip6InHdrErrors */
    assert_int_equal(sk_counter(f->server, "Ip6InHdrErrors"), 1);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    EXPECT_SEGMENTS(f, "*>s S abs seq 1");
    EXPECT_NO_MORE_SEGMENTS(f);
}

typedef struct found_socks {
    size_t n;
    sk_sock_info si[16];
} found_socks;

static void keep_sock(void *ctx, const sk_sock_info *si)
{
    found_socks *f = ctx;
    if (f->n < 16)
        f->si[f->n++] = *si;
}

static const sk_sock_info *sock_in_state(const found_socks *fs, int state)
{
    for (size_t i = 0; i < fs->n; i++)
        if (fs->si[i].state == state)
            return &fs->si[i];
    return NULL;
}

/* ss lists IPv6 sockets with their IPv6 endpoints, and an AF_INET6
 * socket's IPv4 connection (TIME_WAIT too) with mapped addresses, as
 * /proc/net/tcp6 shows them. */
static void test_socket_listing_shows_ipv6_endpoints(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = listen6(f->server, "::", 80, false);
    int c6 = connect6(f, f->client, "fd00::2", 80);
    int c4 = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c6, SK_TCP_ESTABLISHED, SEC(1));
    ASSERT_RUN_UNTIL_STATE(f, f->client, c4, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    found_socks fs = {0};
    sk_sockets(f->server, keep_sock, &fs);
    const sk_sock_info *li = sock_in_state(&fs, SK_TCP_LISTEN);
    assert_non_null(li);
    assert_ep6(&li->local, "::", 80);
    assert_int_equal(li->remote.family, SK_AF_INET6);
    size_t seen6 = 0, seen4 = 0;
    for (size_t i = 0; i < fs.n; i++) {
        if (fs.si[i].state != SK_TCP_ESTABLISHED)
            continue;
        assert_int_equal(fs.si[i].local.family, SK_AF_INET6);
        if (sk_addr6_is_v4mapped(fs.si[i].remote.addr6)) {
            assert_ep6(&fs.si[i].local, "::ffff:10.0.0.2", 80);
            seen4++;
        } else {
            assert_ep6(&fs.si[i].local, "fd00::2", 80);
            assert_ep6(&fs.si[i].remote, "fd00::1", fs.si[i].remote.port);
            seen6++;
        }
    }
    assert_int_equal(seen6, 1);
    assert_int_equal(seen4, 1);
    /* The server closes the IPv4 one first: its TIME_WAIT record keeps
     * the AF_INET6 socket's mapped view. */
    uint16_t c4port = sk_test_local_port(f->client, c4);
    int a1 = sk_accept(f->server, l, NULL), a2 = sk_accept(f->server, l, NULL);
    assert_true(a1 >= 0 && a2 >= 0);
    sk_endpoint pn;
    int a4 = a1;
    assert_int_equal(sk_getpeername(f->server, a1, &pn), 0);
    if (!sk_addr6_is_v4mapped(pn.addr6))
        a4 = a2;
    assert_int_equal(sk_close(f->server, a4), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c4, SK_TCP_CLOSE_WAIT, SEC(1));
    assert_int_equal(sk_close(f->client, c4), 0);
    sk_test_run_for(f, MSEC(100));
    fs.n = 0;
    sk_sockets(f->server, keep_sock, &fs);
    const sk_sock_info *tw = sock_in_state(&fs, SK_TCP_TIME_WAIT);
    assert_non_null(tw);
    assert_ep6(&tw->local, "::ffff:10.0.0.2", 80);
    assert_ep6(&tw->remote, "::ffff:10.0.0.1", c4port);
    /* On the client, the IPv6 connection is the one still ESTABLISHED. */
    fs.n = 0;
    sk_sockets(f->client, keep_sock, &fs);
    const sk_sock_info *ci = sock_in_state(&fs, SK_TCP_ESTABLISHED);
    assert_non_null(ci);
    assert_ep6(&ci->local, "fd00::1", sk_test_local_port(f->client, c6));
    assert_ep6(&ci->remote, "fd00::2", 80);
}

/* IPV6_TCLASS and IPV6_UNICAST_HOPS reach the header; TCP keeps the
 * traffic class's ECN bits. */
static void test_tclass_and_hop_limit_options(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = listen6(f->server, "::", 80, false);
    int c = sk_socket_family(f->client, SK_AF_INET6);
    int v = 0x2b; /* DSCP AF11 with ECN bits that must not leak */
    assert_int_equal(sk_setsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_TCLASS, &v, sizeof v), 0);
    v = 7;
    assert_int_equal(sk_setsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_UNICAST_HOPS, &v, sizeof v), 0);
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_TCLASS, &v, &len), 0);
    assert_int_equal(v, 0x2b);
    sk_endpoint srv = ep6("fd00::2", 80);
    assert_int_equal(sk_connect(f->client, c, &srv), -EINPROGRESS);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    assert_int_equal(sk_send(f->client, c, "abc", 3, 0), 3);
    sk_test_run_for(f, MSEC(100));
    (void)l;
    EXPECT_SEGMENTS(f, "c>s S", "s>c S.", "c>s .", "c>s P. seq 1:4");
    for (size_t i = 0; i < 4; i++) {
        const sk_segment *g = &f->trace[i].seg;
        if (i == 1) {
            assert_int_equal(g->tos, 0); /* the server's socket set nothing */
            assert_int_equal(g->ttl, 64);
        } else {
            assert_int_equal(g->tos, 0x28);
            assert_int_equal(g->ttl, 7);
        }
    }
}

/* A link-local address means nothing without its link: bind() and
 * connect() to one without a scope id fail with EINVAL (__inet6_bind,
 * tcp_v6_connect); a scope id naming no device is ENODEV for bind() (and
 * no route for connect()); with the stack's device they work, and the
 * names come back with it as sin6_scope_id (inet6_getname), the
 * accepted child's too (bound to the device the SYN came in on). */
static void test_link_local_needs_scope_id(void **state)
{
    sk_fixture *f = *state;
    add6(f->client, "fe80::1", 64);
    add6(f->server, "fe80::2", 64);
    sk_endpoint ll = ep6("fe80::2", 80);
    int b = sk_socket_family(f->server, SK_AF_INET6);
    assert_int_equal(sk_bind(f->server, b, &ll), -EINVAL);
    sk_close(f->server, b);
    b = sk_socket_family(f->server, SK_AF_INET6);
    ll.scope_id = 7;
    assert_int_equal(sk_bind(f->server, b, &ll), -ENODEV);
    /* Once bound to device 7, another scope id is refused. */
    ll.scope_id = 1;
    assert_int_equal(sk_bind(f->server, b, &ll), -EINVAL);
    sk_close(f->server, b);
    int l = sk_socket_family(f->server, SK_AF_INET6);
    assert_int_equal(sk_bind(f->server, l, &ll), 0);
    assert_int_equal(sk_listen(f->server, l, 8), 0);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(f->server, l, &name), 0);
    assert_ep6(&name, "fe80::2", 80);
    assert_int_equal(name.scope_id, 1);

    int c = sk_socket_family(f->client, SK_AF_INET6);
    sk_endpoint to = ep6("fe80::2", 80);
    assert_int_equal(sk_connect(f->client, c, &to), -EINVAL);
    to.scope_id = 9;
    assert_int_equal(sk_connect(f->client, c, &to), -ENETUNREACH);
    sk_close(f->client, c);
    c = sk_socket_family(f->client, SK_AF_INET6);
    to.scope_id = 1;
    assert_int_equal(sk_connect(f->client, c, &to), -EINPROGRESS);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    assert_int_equal(sk_getsockname(f->client, c, &name), 0);
    assert_ep6(&name, "fe80::1", sk_test_local_port(f->client, c));
    assert_int_equal(name.scope_id, 1);
    assert_int_equal(sk_getpeername(f->client, c, &name), 0);
    assert_ep6(&name, "fe80::2", 80);
    assert_int_equal(name.scope_id, 1);
    sk_endpoint peer;
    int a = sk_accept(f->server, l, &peer);
    assert_true(a >= 0);
    assert_ep6(&peer, "fe80::1", sk_test_local_port(f->client, c));
    assert_int_equal(peer.scope_id, 1);
    assert_int_equal(peer.flowinfo, 0);
    /* A global address carries no scope id. */
    sk_test_setup_v6(f);
    int g = sk_socket_family(f->server, SK_AF_INET6);
    sk_endpoint glob = ep6("fd00::2", 81);
    glob.scope_id = 5; /* ignored for an address that needs none */
    assert_int_equal(sk_bind(f->server, g, &glob), 0);
    assert_int_equal(sk_getsockname(f->server, g, &name), 0);
    assert_int_equal(name.scope_id, 0);
}

static int fl_req(sk_stack *s, int fd, const char *dst, uint32_t label, uint8_t action, uint8_t share,
                  uint16_t flags)
{
    struct sk_in6_flowlabel_req r;
    memset(&r, 0, sizeof r);
    assert_int_equal(inet_pton(AF_INET6, dst, r.flr_dst), 1);
    r.flr_label = htonl(label);
    r.flr_action = action;
    r.flr_share = share;
    r.flr_flags = flags;
    return sk_setsockopt(s, fd, SK_IPPROTO_IPV6, SK_IPV6_FLOWLABEL_MGR, &r, sizeof r);
}

/* IPV6_FLOWINFO_SEND: connect() takes the label of sin6_flowinfo, which
 * must be one the socket took with IPV6_FLOWLABEL_MGR (else EINVAL,
 * fl6_sock_lookup); the segments carry it instead of an automatic label
 * and getpeername reports it.  IPV6_FLOWINFO is only remembered by TCP. */
static void test_flowinfo_and_flow_labels(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = listen6(f->server, "::", 80, false);
    int c = sk_socket_family(f->client, SK_AF_INET6);
    int v = 1;
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_FLOWINFO_SEND, &v, &len), 0);
    assert_int_equal(v, 0);
    v = 1;
    assert_int_equal(sk_setsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_FLOWINFO, &v, sizeof v), 0);
    assert_int_equal(sk_setsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_FLOWINFO_SEND, &v, sizeof v), 0);
    v = 0;
    len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_FLOWINFO, &v, &len), 0);
    assert_int_equal(v, 1);
    /* The label manager's checks (ipv6_flowlabel_opt). */
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_GET, SK_IPV6_FL_S_NONE,
                            SK_IPV6_FL_F_CREATE),
                     -EINVAL);
    assert_int_equal(fl_req(f->client, c, "::", 0x12345, SK_IPV6_FL_A_GET, SK_IPV6_FL_S_EXCL, SK_IPV6_FL_F_CREATE),
                     -EINVAL);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x123456, SK_IPV6_FL_A_GET, SK_IPV6_FL_S_EXCL,
                            SK_IPV6_FL_F_CREATE),
                     -EINVAL);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_GET, SK_IPV6_FL_S_EXCL, 0), -ENOENT);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_RENEW, SK_IPV6_FL_S_EXCL, 0), -ESRCH);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, 9, SK_IPV6_FL_S_EXCL, 0), -EINVAL);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0, SK_IPV6_FL_A_GET, SK_IPV6_FL_S_EXCL, SK_IPV6_FL_F_REFLECT),
                     -EPERM);
    /* A label not taken cannot be sent. */
    sk_endpoint srv = ep6("fd00::2", 80);
    srv.flowinfo = 0x12345;
    assert_int_equal(sk_connect(f->client, c, &srv), -EINVAL);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_GET, SK_IPV6_FL_S_EXCL,
                            SK_IPV6_FL_F_CREATE),
                     0);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_GET, SK_IPV6_FL_S_EXCL,
                            SK_IPV6_FL_F_CREATE | SK_IPV6_FL_F_EXCL),
                     -EEXIST);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_RENEW, SK_IPV6_FL_S_EXCL, 0), 0);
    /* The traffic class bits of sin6_flowinfo ride along, its ECN bits not. */
    srv.flowinfo = 0x0b312345;
    assert_int_equal(sk_connect(f->client, c, &srv), -EINPROGRESS);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    const sk_trace_entry *syn = sk_test_last(f, "c>s S");
    const sk_trace_entry *ack = sk_test_last(f, "c>s .");
    assert_int_equal(syn->seg.flowlabel, 0x12345);
    assert_int_equal(ack->seg.flowlabel, 0x12345);
    sk_endpoint name;
    assert_int_equal(sk_getpeername(f->client, c, &name), 0);
    assert_int_equal(name.flowinfo, 0x0b012345);
    assert_int_equal(sk_getsockname(f->client, c, &name), 0);
    assert_int_equal(name.flowinfo, 0);
    struct sk_in6_flowlabel_req r;
    memset(&r, 0, sizeof r);
    len = sizeof r;
    assert_int_equal(sk_getsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_FLOWLABEL_MGR, &r, &len), 0);
    assert_int_equal(len, sizeof r);
    assert_int_equal(ntohl(r.flr_label), 0x12345);
    /* Given back, it is gone: a second PUT finds nothing. */
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_PUT, 0, 0), 0);
    assert_int_equal(fl_req(f->client, c, "fd00::2", 0x12345, SK_IPV6_FL_A_PUT, 0, 0), -ESRCH);
    len = sizeof r;
    assert_int_equal(sk_getsockopt(f->client, c, SK_IPPROTO_IPV6, SK_IPV6_FLOWLABEL_MGR, &r, &len), -ENOENT);
    /* The accepted side sends with its own automatic label, and its
     * peer name carries no flow information (no IPV6_FLOWINFO_SEND). */
    sk_endpoint peer;
    int a = sk_accept(f->server, l, &peer);
    assert_true(a >= 0);
    assert_int_equal(peer.flowinfo, 0);
    assert_true(sk_test_last(f, "s>c S.")->seg.flowlabel != 0x12345);
}

static message_log_t flood_log;

static void log_flood(void *ctx, const sk_event *ev)
{
    (void)ctx;
    if (ev->type == SK_EV_MESSAGE)
        snprintf(flood_log.last, sizeof flood_log.last, "%s", ev->message);
}

static void test_syn_flood_message_names_an_ipv6_listener(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    memset(&flood_log, 0, sizeof flood_log);
    f->on_event = log_flood;
    int l = sk_socket_family(f->server, SK_AF_INET6);
    sk_endpoint a = ep6("fd00::2", 80);
    assert_int_equal(sk_bind(f->server, l, &a), 0);
    assert_int_equal(sk_listen(f->server, l, 1), 0);
    connect6(f, f->client, "fd00::2", 80);
    connect6(f, f->client, "fd00::2", 80);
    sk_test_run_for(f, MSEC(15)); /* both SYNs arrive; the second finds the queue full */
    /* tcp_syn_flood_action prints an AF_INET6 listener as [%pI6c]:port */
    assert_string_equal(flood_log.last, "Possible SYN flooding on port [fd00::2]:80. Sending cookies.");
}

/* Fast Open over IPv6: the cookie is SipHash over both 16-byte
 * addresses (Linux's __tcp_fastopen_cookie_gen_cipher for IPv6), the
 * client caches it per IPv6 peer, and the next SYN carries data. */
static void test_fast_open_over_ipv6(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_test_sysctl(f->server, "net.ipv4.tcp_fastopen", "3");
    sk_test_sysctl(f->client, "net.ipv4.tcp_fastopen", "3");
    int l = sk_socket_family(f->server, SK_AF_INET6);
    sk_endpoint a = ep6("::", 80);
    assert_int_equal(sk_bind(f->server, l, &a), 0);
    int qlen = 16;
    assert_int_equal(sk_setsockopt(f->server, l, SK_IPPROTO_TCP, SK_TCP_FASTOPEN, &qlen, sizeof qlen), 0);
    assert_int_equal(sk_listen(f->server, l, 16), 0);
    sk_endpoint srv = ep6("fd00::2", 80);

    /* First connection: the SYN asks for a cookie, the SYN-ACK brings it. */
    int c1 = sk_socket_family(f->client, SK_AF_INET6);
    assert_int_equal(sk_sendto(f->client, c1, "hello", 5, SK_MSG_FASTOPEN, &srv), -EINPROGRESS);
    ASSERT_RUN_UNTIL_STATE(f, f->client, c1, SK_TCP_ESTABLISHED, SEC(1));
    const sk_trace_entry *synack = sk_test_find(f, 0, "s>c S.");
    assert_non_null(synack);
    assert_int_equal(synack->seg.opts.fo_len, 8);
    uint8_t want[8];
    int nkeys = 0;
    sk_endpoint ca = ep6("fd00::1", 0);
    sk_fastopen_cookie_gen6(sk_fastopen_stack_key(f->server, &nkeys), ca.addr6, srv.addr6, want);
    assert_memory_equal(synack->seg.opts.fo_cookie, want, 8);
    sk_test_run_for(f, MSEC(100));
    sk_test_skip(f);

    /* Second: the data rides in the SYN and is taken at once. */
    int c2 = sk_socket_family(f->client, SK_AF_INET6);
    assert_int_equal(sk_sendto(f->client, c2, "fast!", 5, SK_MSG_FASTOPEN, &srv), 5);
    sk_test_run_for(f, MSEC(15));
    EXPECT_SEGMENTS(f, "c>s S seq 0:5", "s>c S. seq 0 ack 6");
    assert_int_equal(sk_counter(f->server, "TCPFastOpenPassive"), 1);
    int a2 = -1;
    for (int i = 0; i < 3 && a2 < 0; i++) {
        int fd = sk_accept(f->server, l, NULL);
        char buf[8];
        if (fd >= 0 && sk_recv(f->server, fd, buf, sizeof buf, 0) == 5 && !memcmp(buf, "fast!", 5))
            a2 = fd;
    }
    assert_true(a2 >= 0);
}

/* Removing an address leaves connections on it alone, as Linux does;
 * what arrives for it afterwards is not the stack's any more.  Half-open
 * requests name their local address by index: removing an earlier
 * address renumbers them, removing theirs drops them. */
static void test_address_removal(void **state)
{
    sk_fixture *f = *state;
    add6(f->client, "fd00::1", 64);
    add6(f->server, "fd00::a", 64);
    add6(f->server, "fd00::b", 64);
    add6(f->server, "fd00::c", 64);
    int l = listen6(f->server, "::", 80, false);
    /* A request on fd00::b and one on fd00::c, their final ACKs lost. */
    sk_test_drop(f, "c>s .", 2);
    int cb = connect6(f, f->client, "fd00::b", 80);
    int cc = connect6(f, f->client, "fd00::c", 80);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 2);
    sk_endpoint a = ep6("fd00::a", 0), c = ep6("fd00::c", 0);
    assert_int_equal(sk_stack_del_addr(f->server, &a), 0); /* fd00::b's index moves down */
    assert_int_equal(sk_stack_del_addr(f->server, &c), 0); /* fd00::c's request goes */
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 1);
    /* The client's retransmitted... data completes fd00::b's handshake:
     * the request still answers from fd00::b. */
    assert_int_equal(sk_send(f->client, cb, "x", 1, 0), 1);
    sk_test_run_for(f, SEC(2));
    sk_endpoint peer, name;
    int ab = sk_accept(f->server, l, &peer);
    assert_true(ab >= 0);
    assert_int_equal(sk_getsockname(f->server, ab, &name), 0);
    assert_ep6(&name, "fd00::b", 80);
    (void)cc;

    /* An established connection outlives the removal of its address. */
    sk_endpoint b = ep6("fd00::b", 0);
    assert_int_equal(sk_stack_del_addr(f->server, &b), 0);
    assert_int_equal(sk_state(f->server, ab), SK_TCP_ESTABLISHED);
    /* (the wire routes by the addresses stacks hold: nobody has it now) */
    assert_int_equal(sk_send(f->client, cb, "y", 1, 0), 1);
    sk_test_run_for(f, MSEC(300));
    const sk_trace_entry *y = sk_test_last(f, "c>* P. len 1");
    assert_non_null(y);
    assert_int_equal(y->fate, SK_WIRE_NO_ROUTE);
    assert_int_equal(sk_state(f->server, ab), SK_TCP_ESTABLISHED);
    /* its own sends still go out from it */
    assert_int_equal(sk_send(f->server, ab, "z", 1, 0), 1);
    sk_test_run_for(f, MSEC(50));
    const sk_trace_entry *z = sk_test_last(f, "*>c P. len 1");
    assert_non_null(z);
    assert_memory_equal(z->seg.src6, b.addr6, 16);
}

/* An ICMPv6 echo request with the checksum filled. */
static size_t make_echo(uint8_t *d, const char *src, const char *dst, uint8_t tclass, uint16_t id, uint16_t seqno,
                        const char *data)
{
    size_t dlen = strlen(data), mlen = 8 + dlen;
    memset(d, 0, 40 + mlen);
    d[0] = (uint8_t)(0x60 | tclass >> 4);
    d[1] = (uint8_t)((tclass & 0xf) << 4);
    d[4] = (uint8_t)(mlen >> 8);
    d[5] = (uint8_t)mlen;
    d[6] = 58;
    d[7] = 64;
    sk_endpoint a = ep6(src, 0), b = ep6(dst, 0);
    memcpy(d + 8, a.addr6, 16);
    memcpy(d + 24, b.addr6, 16);
    uint8_t *m = d + 40;
    m[0] = 128;
    m[4] = (uint8_t)(id >> 8);
    m[5] = (uint8_t)id;
    m[6] = (uint8_t)(seqno >> 8);
    m[7] = (uint8_t)seqno;
    memcpy(m + 8, data, dlen);
    sk_test_icmp6_checksum(d);
    return 40 + mlen;
}

static void test_icmpv6_echo_is_answered(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    uint8_t d[128];
    size_t n = make_echo(d, "fd00::1", "fd00::2", 0xb8, 0x1234, 7, "ping -6 data");
    sk_wire_inject(f->wire, d, n, 0);
    sk_test_run_for(f, MSEC(50));
    /* the request, then the reply */
    assert_int_equal(f->trace_len, 2);
    const sk_trace_entry *r = &f->trace[1];
    assert_int_equal(r->len, n);
    const uint8_t *o = r->bytes;
    assert_int_equal(o[0] >> 4, 6);
    assert_int_equal((uint8_t)(o[0] << 4 | o[1] >> 4), 0xb8); /* the request's traffic class */
    assert_int_equal(o[6], 58);
    assert_int_equal(o[7], 64);
    assert_memory_equal(o + 8, d + 24, 16); /* from the address pinged */
    assert_memory_equal(o + 24, d + 8, 16);
    assert_int_equal(o[40], 129);
    assert_int_equal(o[41], 0);
    assert_memory_equal(o + 44, d + 44, n - 44); /* identifier, sequence, data */
    /* a correct checksum: the reply is accepted and counted by the pinger */
    assert_int_equal(sk_counter(f->client, "Icmp6InEchoReplies"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InCsumErrors"), 0);
    assert_int_equal(sk_counter(f->server, "Icmp6InEchos"), 1);
    assert_int_equal(sk_counter(f->server, "Icmp6InType128"), 1);
    assert_int_equal(sk_counter(f->server, "Icmp6OutEchoReplies"), 1);
    assert_int_equal(sk_counter(f->server, "Icmp6OutType129"), 1);
    assert_int_equal(sk_counter(f->server, "Icmp6InMsgs"), 1);
    assert_int_equal(sk_counter(f->server, "Icmp6OutMsgs"), 1);
    assert_int_equal(sk_counter(f->server, "Ip6InDelivers"), 1);
    assert_int_equal(sk_counter(f->server, "Ip6OutRequests"), 1);
    assert_int_equal(sk_counter(f->server, "Ip6InUnknownProtos"), 0);

    /* A corrupted checksum: counted, unanswered. */
    d[50] ^= 1;
    sk_wire_inject(f->wire, d, n, 0);
    sk_test_run_for(f, MSEC(50));
    assert_int_equal(f->trace_len, 3);
    assert_int_equal(sk_counter(f->server, "Icmp6InCsumErrors"), 1);
    assert_int_equal(sk_counter(f->server, "Icmp6InErrors"), 1);
    /* Many requests at once: all answered (echo replies are not in
     * net.ipv6.icmp.ratemask, so never rate-limited). */
    d[50] ^= 1;
    for (int i = 0; i < 50; i++)
        sk_wire_inject(f->wire, d, n, 0);
    sk_test_run_for(f, MSEC(50));
    assert_int_equal(sk_counter(f->server, "Icmp6OutEchoReplies"), 51);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_sizes_stay_within_the_memory_aims),
        cmocka_unit_test_setup_teardown(test_socket_families_as_linux, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_addresses_added_and_removed, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_handshake_data_close_and_time_wait, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_datagram_to_a_foreign_ipv6_address_is_an_addr_error, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_dual_stack_listener_accepts_ipv4_as_mapped, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_v6only_listener_refuses_ipv4, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_bind_conflicts_between_families_as_linux, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_source_address_selection_with_two_addresses, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syn_cookies_over_ipv6, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_time_wait_reuse_over_ipv6, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_flow_label_changes_on_rto, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_v4_mapped_source_syn_is_dropped, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_icmpv6_echo_is_answered, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_fast_open_over_ipv6, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_address_removal, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_socket_listing_shows_ipv6_endpoints, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_tclass_and_hop_limit_options, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_link_local_needs_scope_id, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_flowinfo_and_flow_labels, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_syn_flood_message_names_an_ipv6_listener, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
