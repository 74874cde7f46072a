/*
 * Transparent proxying (issue 13, tun2socks): IP_TRANSPARENT listeners
 * that take SYNs to addresses the stack does not hold, the accepted
 * socket reporting and sending from the original destination, the
 * catch-all of sk_stack_set_tproxy (synack's stand-in for a TPROXY rule
 * without --dport), and IP_FREEBIND / IP_TRANSPARENT binds to non-local
 * addresses.
 *
 * Linux is the reference: a listener with IP_TRANSPARENT behind
 * `iptables -t mangle -j TPROXY --on-port P` and a local catch-all route;
 * inet_can_nonlocal_bind (EADDRNOTAVAIL without freebind/transparent);
 * nf_tproxy_get_sock_v4 (only a transparent listener is handed the SYN).
 *
 * One side only: the test plays the peer 10.0.0.9 (fd00::9) by writing
 * datagrams into sk_input of a stack holding 10.0.0.2 (fd00::2) and
 * reading back exactly what the stack transmits.  Peers offer no options,
 * so the replies are bare headers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "addr.h"
#include "bytes.h"
#include "stack.h"

#define LOCAL4 0x0a000002u  /* 10.0.0.2, the stack's */
#define PEER4 0x0a000009u   /* 10.0.0.9, the client the test plays */
#define FOREIGN4 0xc0000207u /* 192.0.2.7, nobody's address on this stack */
#define FOREIGN4B 0xc6336403u /* 198.51.100.3 */
#define PEER_ISN 1000000u

typedef struct tp_ctx {
    sk_stack *s;
    sk_time_ns now;
    uint8_t out[16][1600]; /* what the stack sent, oldest first */
    size_t out_len[16];
    size_t n_out, next;
    uint16_t syn_mss; /* the MSS option the peer's SYNs carry, 0 for none */
} tp_ctx;

static void tp_transmit(void *ctx, const uint8_t *d, size_t len)
{
    tp_ctx *c = ctx;
    if (c->n_out >= 16)
        fail_msg("more than 16 datagrams out");
    if (len > sizeof c->out[0])
        len = sizeof c->out[0];
    memcpy(c->out[c->n_out], d, len);
    c->out_len[c->n_out++] = len;
}

static int tp_setup(void **state)
{
    tp_ctx *c = test_calloc(1, sizeof *c);
    sk_stack_params p;
    memset(&p, 0, sizeof p);
    p.addr = LOCAL4;
    p.addr_prefix_len = 24;
    p.seed = 7;
    memset(p.secret, 0x5a, sizeof p.secret);
    p.now = c->now = SK_SEC(1000);
    p.transmit = tp_transmit;
    p.transmit_ctx = c;
    p.name = "tproxy";
    assert_int_equal(inet_pton(AF_INET6, "fd00::2", p.addr6), 1);
    c->s = sk_stack_new(&p);
    assert_non_null(c->s);
    *state = c;
    return 0;
}

static int tp_teardown(void **state)
{
    tp_ctx *c = *state;
    sk_stack_free(c->s);
    test_free(c);
    return 0;
}

#define ep6 sk_test_ep6

/* The peer sends one segment (IPv4 when the endpoints are), 1 ms later. */
static void tp_send(tp_ctx *c, const sk_endpoint *from, const sk_endpoint *to, uint16_t flags, uint32_t seq,
                    uint32_t ack, const char *data)
{
    sk_segment_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.ip_version = from->family == SK_AF_INET6 ? 6 : 4;
    sp.src = from->addr;
    sp.dst = to->addr;
    memcpy(sp.src6, from->addr6, 16);
    memcpy(sp.dst6, to->addr6, 16);
    sp.sport = from->port;
    sp.dport = to->port;
    sp.seq = seq;
    sp.ack = ack;
    sp.flags = flags;
    sp.window = 10000;
    sp.df = true;
    sp.payload = (const uint8_t *)data;
    sp.payload_len = data ? strlen(data) : 0;
    uint8_t mss_opt[4] = {2, 4, (uint8_t)(c->syn_mss >> 8), (uint8_t)c->syn_mss};
    if ((flags & SK_TH_SYN) && c->syn_mss) {
        sp.options = mss_opt;
        sp.options_len = sizeof mss_opt;
    }
    uint8_t buf[256];
    size_t n = sk_build_segment(&sp, buf, sizeof buf);
    assert_true(n > 0);
    c->now += SK_MS(1);
    sk_input(c->s, buf, n, c->now);
}

/* The next datagram the stack sent, which must be from `from` to `to`
 * with exactly these flags and (for ack != 0) this ack.  Returns it. */
static sk_segment tp_expect(tp_ctx *c, const sk_endpoint *from, const sk_endpoint *to, uint16_t flags, uint32_t ack)
{
    if (c->next >= c->n_out)
        fail_msg("expected a segment from port %u to port %u, the stack sent none", from->port, to->port);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(c->out[c->next], c->out_len[c->next], true, &seg), SK_PARSE_OK);
    c->next++;
    if (from->family == SK_AF_INET6) {
        assert_int_equal(seg.ip_version, 6);
        assert_memory_equal(seg.src6, from->addr6, 16);
        assert_memory_equal(seg.dst6, to->addr6, 16);
    } else {
        assert_int_equal(seg.ip_version, 4);
        assert_int_equal(seg.src, from->addr);
        assert_int_equal(seg.dst, to->addr);
    }
    assert_int_equal(seg.sport, from->port);
    assert_int_equal(seg.dport, to->port);
    assert_int_equal(seg.flags & 0xff, flags);
    if (ack)
        assert_int_equal(seg.ack, ack);
    return seg;
}

static void tp_expect_none(tp_ctx *c)
{
    if (c->next < c->n_out)
        fail_msg("%zu unexpected datagrams out", c->n_out - c->next);
}

static int tp_listener(tp_ctx *c, int family, uint16_t port, bool transparent)
{
    int l = sk_socket_family(c->s, family);
    assert_true(l >= 0);
    int one = 1;
    if (transparent) {
        int level = family == SK_AF_INET6 ? SK_IPPROTO_IPV6 : SK_IPPROTO_IP;
        int name = family == SK_AF_INET6 ? SK_IPV6_TRANSPARENT : SK_IP_TRANSPARENT;
        assert_int_equal(sk_setsockopt(c->s, l, level, name, &one, sizeof one), 0);
    }
    sk_endpoint any = family == SK_AF_INET6 ? ep6("::", port) : sk_endpoint_ipv4(0, port);
    assert_int_equal(sk_bind(c->s, l, &any), 0);
    assert_int_equal(sk_listen(c->s, l, 16), 0);
    return l;
}

/* The first half of the peer's handshake to `to`: its SYN, and the
 * SYN-ACK from `to`, which is returned. */
static sk_segment tp_syn(tp_ctx *c, const sk_endpoint *peer, const sk_endpoint *to)
{
    tp_send(c, peer, to, SK_TH_SYN, PEER_ISN, 0, NULL);
    sk_segment sa = tp_expect(c, to, peer, SK_TH_SYN | SK_TH_ACK, PEER_ISN + 1);
    tp_expect_none(c);
    return sa;
}

/* The second half: the peer's ACK of SYN-ACK `sa`; returns the accepted
 * socket. */
static int tp_ack_accept(tp_ctx *c, int l, const sk_endpoint *peer, const sk_endpoint *to, const sk_segment *sa)
{
    tp_send(c, peer, to, SK_TH_ACK, PEER_ISN + 1, sa->seq + 1, NULL);
    tp_expect_none(c);
    sk_endpoint who;
    int fd = sk_accept(c->s, l, &who);
    assert_true(fd >= 0);
    assert_int_equal(who.port, peer->port);
    return fd;
}

/* The whole handshake; *iss gets the SYN-ACK's sequence number. */
static int tp_handshake(tp_ctx *c, int l, const sk_endpoint *peer, const sk_endpoint *to, uint32_t *iss)
{
    sk_segment sa = tp_syn(c, peer, to);
    *iss = sa.seq;
    return tp_ack_accept(c, l, peer, to, &sa);
}

static void assert_ep(const sk_endpoint *got, const sk_endpoint *want)
{
    assert_int_equal(got->family, want->family);
    assert_int_equal(got->port, want->port);
    if (want->family == SK_AF_INET6)
        assert_memory_equal(got->addr6, want->addr6, 16);
    else
        assert_int_equal(got->addr, want->addr);
}

typedef struct find_ctx {
    sk_endpoint local;
    int state;
    int found;
} find_ctx;

static void find_visit(void *ctx, const sk_sock_info *si)
{
    find_ctx *fc = ctx;
    if (si->state == fc->state && si->local.port == fc->local.port &&
        (fc->local.family == SK_AF_INET6 ? memcmp(si->local.addr6, fc->local.addr6, 16) == 0
                                         : si->local.addr == fc->local.addr))
        fc->found++;
}

/* How many rows of the socket table (what ss lists) are in `state` at `local`. */
static int ss_count(tp_ctx *c, const sk_endpoint *local, int state)
{
    find_ctx fc = {.local = *local, .state = state};
    sk_sockets(c->s, find_visit, &fc);
    return fc.found;
}

/* ---------------------------------------------------------------- */

static void test_record_sizes(void **state)
{
    (void)state;
    /* The aims of issue 13 hold: only a request for a non-local address
     * carries the extra 8 bytes (address and port). */
    assert_int_equal(sizeof(sk_request), 64);
    assert_true(sizeof(sk_request_foreign) <= 72);
    assert_true(sizeof(sk_tcb) <= 456);
    assert_true(sizeof(sk_tw) <= 44);
}

/* Without IP_TRANSPARENT nothing changes: a SYN to an address that is not
 * the stack's is dropped before TCP (IpInAddrErrors), listener or not. */
static void test_nonlocal_syn_without_transparent_listener_is_dropped(void **state)
{
    tp_ctx *c = *state;
    tp_listener(c, SK_AF_INET, 80, false);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40000), to = sk_endpoint_ipv4(FOREIGN4, 80);
    tp_send(c, &peer, &to, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 1);
    assert_int_equal(sk_counter(c->s, "TcpInSegs"), 0);
    /* Nor does the catch-all hand it to a listener without IP_TRANSPARENT
     * (nf_tproxy_get_sock_v4 takes only a transparent one). */
    assert_int_equal(sk_stack_set_tproxy(c->s, 80), 0);
    sk_endpoint to2 = sk_endpoint_ipv4(FOREIGN4, 443);
    tp_send(c, &peer, &to2, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 2);
    assert_int_equal(c->s->requests, 0);
}

/* A transparent listener on the wildcard takes a SYN to any address on
 * its port; the SYN-ACK, the data and the FIN come from that address,
 * getsockname reports it, and the TIME_WAIT record and ss show it. */
static void test_transparent_listener_takes_nonlocal_syn(void **state)
{
    tp_ctx *c = *state;
    int l = tp_listener(c, SK_AF_INET, 80, true);
    int v = 0;
    size_t vl = sizeof v;
    assert_int_equal(sk_getsockopt(c->s, l, SK_IPPROTO_IP, SK_IP_TRANSPARENT, &v, &vl), 0);
    assert_int_equal(v, 1);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40000), to = sk_endpoint_ipv4(FOREIGN4, 80);
    sk_segment sa = tp_syn(c, &peer, &to);
    assert_int_equal(ss_count(c, &to, SK_TCP_SYN_RECV), 1);
    int fd = tp_ack_accept(c, l, &peer, &to, &sa);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(c->s, fd, &name), 0);
    assert_ep(&name, &to);
    assert_int_equal(sk_getpeername(c->s, fd, &name), 0);
    assert_ep(&name, &peer);
    /* the child is transparent too (Linux clones inet->transparent) */
    vl = sizeof v;
    v = 0;
    assert_int_equal(sk_getsockopt(c->s, fd, SK_IPPROTO_IP, SK_IP_TRANSPARENT, &v, &vl), 0);
    assert_int_equal(v, 1);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 0);
    assert_int_equal(sk_counter(c->s, "TcpPassiveOpens"), 1);

    /* data both ways at the original address */
    tp_send(c, &peer, &to, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 1, sa.seq + 1, "hello");
    tp_expect(c, &to, &peer, SK_TH_ACK, PEER_ISN + 6); /* quick ACK */
    char buf[16];
    assert_int_equal(sk_recv(c->s, fd, buf, sizeof buf, 0), 5);
    assert_int_equal(sk_send(c->s, fd, "world", 5, 0), 5);
    c->now += SK_MS(50);
    sk_advance(c->s, c->now);
    sk_segment d = tp_expect(c, &to, &peer, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 6);
    assert_int_equal(d.payload_len, 5);
    assert_int_equal(d.seq, sa.seq + 1);
    tp_expect_none(c);

    /* active close: FIN from the original address, TIME_WAIT there */
    assert_int_equal(sk_close(c->s, fd), 0);
    tp_expect(c, &to, &peer, SK_TH_FIN | SK_TH_ACK, PEER_ISN + 6);
    tp_send(c, &peer, &to, SK_TH_FIN | SK_TH_ACK, PEER_ISN + 6, sa.seq + 7, NULL);
    tp_expect(c, &to, &peer, SK_TH_ACK, PEER_ISN + 7);
    tp_expect_none(c);
    assert_int_equal(ss_count(c, &to, SK_TCP_TIME_WAIT), 1);
    /* A retransmitted FIN reaches the record (transparent, at a non-local
     * address) and is re-ACKed from it. */
    tp_send(c, &peer, &to, SK_TH_FIN | SK_TH_ACK, PEER_ISN + 6, sa.seq + 7, NULL);
    tp_expect(c, &to, &peer, SK_TH_ACK, PEER_ISN + 7);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 0);
    /* After TIME_WAIT the address is nobody's again: dropped as before. */
    c->now += SK_SEC(61);
    sk_advance(c->s, c->now);
    assert_int_equal(ss_count(c, &to, SK_TCP_TIME_WAIT), 0);
    tp_send(c, &peer, &to, SK_TH_ACK, PEER_ISN + 7, sa.seq + 7, NULL);
    /* the listener still takes the port: a stray ACK draws its RST */
    tp_expect(c, &to, &peer, SK_TH_RST, 0);
    tp_expect_none(c);
}

/* A SYN reopening a transparent connection's TIME_WAIT record (a higher
 * sequence, tcp_timewait_state_process's TCP_TW_SYN) reaches the
 * transparent listener again and is answered from the same address. */
static void test_time_wait_reopened_at_nonlocal_address(void **state)
{
    tp_ctx *c = *state;
    int l = tp_listener(c, SK_AF_INET, 80, true);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40007), to = sk_endpoint_ipv4(FOREIGN4, 80);
    uint32_t iss;
    int fd = tp_handshake(c, l, &peer, &to, &iss);
    assert_int_equal(sk_close(c->s, fd), 0);
    tp_expect(c, &to, &peer, SK_TH_FIN | SK_TH_ACK, PEER_ISN + 1);
    tp_send(c, &peer, &to, SK_TH_FIN | SK_TH_ACK, PEER_ISN + 1, iss + 2, NULL);
    tp_expect(c, &to, &peer, SK_TH_ACK, PEER_ISN + 2);
    assert_int_equal(ss_count(c, &to, SK_TCP_TIME_WAIT), 1);
    c->now += SK_SEC(1);
    tp_send(c, &peer, &to, SK_TH_SYN, PEER_ISN + 100000, 0, NULL);
    tp_expect(c, &to, &peer, SK_TH_SYN | SK_TH_ACK, PEER_ISN + 100001);
    tp_expect_none(c);
    assert_int_equal(ss_count(c, &to, SK_TCP_TIME_WAIT), 0);
    assert_int_equal(ss_count(c, &to, SK_TCP_SYN_RECV), 1);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 0);
}

/* RSTs come from the original destination: a stray ACK to the
 * transparent listener's port, and an abortive close of the accepted
 * socket. */
static void test_rst_from_original_address(void **state)
{
    tp_ctx *c = *state;
    int l = tp_listener(c, SK_AF_INET, 80, true);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40001), to = sk_endpoint_ipv4(FOREIGN4B, 80);
    tp_send(c, &peer, &to, SK_TH_ACK, PEER_ISN, 12345, NULL);
    sk_segment r = tp_expect(c, &to, &peer, SK_TH_RST, 0);
    assert_int_equal(r.seq, 12345); /* <SEQ=SEG.ACK><CTL=RST> */
    tp_expect_none(c);

    uint32_t iss;
    int fd = tp_handshake(c, l, &peer, &to, &iss);
    struct {
        int onoff, linger;
    } lg = {1, 0};
    assert_int_equal(sk_setsockopt(c->s, fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(sk_close(c->s, fd), 0);
    r = tp_expect(c, &to, &peer, SK_TH_RST | SK_TH_ACK, 0);
    assert_int_equal(r.seq, iss + 1);
    tp_expect_none(c);
    /* a segment for it afterwards: no socket, dropped as not ours */
    tp_send(c, &peer, &to, SK_TH_ACK, PEER_ISN + 1, iss + 1, NULL);
    tp_expect(c, &to, &peer, SK_TH_RST, 0); /* the listener's port still */
    sk_endpoint other = sk_endpoint_ipv4(FOREIGN4B, 81);
    tp_send(c, &peer, &other, SK_TH_ACK, PEER_ISN + 1, iss + 1, NULL);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 1);
}

/* sk_stack_set_tproxy: every port's SYN to a non-local address goes to
 * the transparent listener on the given port; the accepted sockets keep
 * their own original address and port (two destinations, one client
 * port). */
static void test_catch_all_port(void **state)
{
    tp_ctx *c = *state;
    int l = tp_listener(c, SK_AF_INET, 1080, true);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40002);
    sk_endpoint a = sk_endpoint_ipv4(FOREIGN4, 443), b = sk_endpoint_ipv4(FOREIGN4B, 8080);
    /* without the rule: only port 1080 would be taken */
    tp_send(c, &peer, &a, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 1);
    assert_int_equal(sk_stack_set_tproxy(c->s, 1080), 0);
    uint32_t iss_a, iss_b;
    int fa = tp_handshake(c, l, &peer, &a, &iss_a);
    int fb = tp_handshake(c, l, &peer, &b, &iss_b);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(c->s, fa, &name), 0);
    assert_ep(&name, &a);
    assert_int_equal(sk_getsockname(c->s, fb, &name), 0);
    assert_ep(&name, &b);
    /* each stays its own connection */
    tp_send(c, &peer, &b, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 1, iss_b + 1, "to-b");
    tp_expect(c, &b, &peer, SK_TH_ACK, PEER_ISN + 5);
    char buf[8];
    assert_int_equal(sk_recv(c->s, fa, buf, sizeof buf, 0), -EAGAIN);
    assert_int_equal(sk_recv(c->s, fb, buf, sizeof buf, 0), 4);
    /* nor are multicast, broadcast or unspecified destinations TCP's */
    uint64_t dropped = sk_counter(c->s, "IpInAddrErrors");
    sk_endpoint mcast = sk_endpoint_ipv4(0xe0000005u, 443), bcast = sk_endpoint_ipv4(0xffffffffu, 443);
    sk_endpoint m6 = ep6("ff02::1", 443), p6 = ep6("fd00::9", 40002);
    tp_send(c, &peer, &mcast, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_send(c, &peer, &bcast, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_send(c, &p6, &m6, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), dropped + 2);
    assert_int_equal(sk_counter(c->s, "Ip6InAddrErrors"), 1);
    /* a local address is not diverted: port 443 there has no listener */
    sk_endpoint local = sk_endpoint_ipv4(LOCAL4, 443);
    tp_send(c, &peer, &local, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect(c, &local, &peer, SK_TH_RST | SK_TH_ACK, PEER_ISN + 1);
    tp_expect_none(c);
    /* the rule off: new SYNs to other ports are dropped again, the
     * connections it let in stay */
    assert_int_equal(sk_stack_set_tproxy(c->s, 0), 0);
    sk_endpoint peer2 = sk_endpoint_ipv4(PEER4, 40003);
    tp_send(c, &peer2, &a, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 4); /* 1 + multicast + broadcast + this */
    assert_int_equal(sk_state(c->s, fa), SK_TCP_ESTABLISHED);
}

/* A SYN cookie for a non-local address: the SYN-ACK from it, and the ACK
 * builds a child at it (the cookie covers the original port). */
static void test_syncookie_at_nonlocal_address(void **state)
{
    tp_ctx *c = *state;
    char err[64];
    assert_int_equal(sk_sysctl_set(c->s, "net.ipv4.tcp_syncookies", "2", err, sizeof err), 0);
    int l = tp_listener(c, SK_AF_INET, 1080, true);
    assert_int_equal(sk_stack_set_tproxy(c->s, 1080), 0);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40004), to = sk_endpoint_ipv4(FOREIGN4, 25);
    uint32_t iss;
    int fd = tp_handshake(c, l, &peer, &to, &iss);
    assert_int_equal(sk_counter(c->s, "SyncookiesRecv"), 1);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(c->s, fd, &name), 0);
    assert_ep(&name, &to);
}

/* bind() to an address the stack does not hold: EADDRNOTAVAIL, unless
 * IP_FREEBIND or IP_TRANSPARENT (inet_can_nonlocal_bind); IPv6 alike. */
static void test_bind_nonlocal(void **state)
{
    tp_ctx *c = *state;
    int one = 1;
    sk_endpoint fa = sk_endpoint_ipv4(FOREIGN4, 5000);
    int s0 = sk_socket(c->s);
    assert_int_equal(sk_bind(c->s, s0, &fa), -EADDRNOTAVAIL);
    int s1 = sk_socket(c->s);
    assert_int_equal(sk_setsockopt(c->s, s1, SK_IPPROTO_IP, SK_IP_FREEBIND, &one, sizeof one), 0);
    assert_int_equal(sk_bind(c->s, s1, &fa), 0);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(c->s, s1, &name), 0);
    assert_ep(&name, &fa);
    int s2 = sk_socket(c->s);
    assert_int_equal(sk_setsockopt(c->s, s2, SK_IPPROTO_IP, SK_IP_TRANSPARENT, &one, sizeof one), 0);
    sk_endpoint fb = sk_endpoint_ipv4(FOREIGN4B, 0);
    assert_int_equal(sk_bind(c->s, s2, &fb), 0);
    /* IPv6: an address in no table yet */
    sk_endpoint f6 = ep6("2001:db8::7", 5000);
    int s3 = sk_socket_family(c->s, SK_AF_INET6);
    assert_int_equal(sk_bind(c->s, s3, &f6), -EADDRNOTAVAIL);
    assert_int_equal(sk_setsockopt(c->s, s3, SK_IPPROTO_IPV6, SK_IPV6_FREEBIND, &one, sizeof one), 0);
    assert_int_equal(sk_bind(c->s, s3, &f6), 0);
    assert_int_equal(sk_getsockname(c->s, s3, &name), 0);
    assert_ep(&name, &f6);
    /* the IPv6 level is not an AF_INET socket's */
    assert_int_equal(sk_setsockopt(c->s, s0, SK_IPPROTO_IPV6, SK_IPV6_FREEBIND, &one, sizeof one), -ENOPROTOOPT);
    /* the interned address goes with the socket */
    assert_int_equal(sk_close(c->s, s3), 0);
    assert_int_equal(sk_addr6_find(c->s, f6.addr6), 0);
}

/* An outgoing connection from a non-local address: with IP_TRANSPARENT
 * the SYN goes out from it and the SYN-ACK to it is taken; with only
 * IP_FREEBIND the answer is not routed to the socket (as on Linux without
 * a `-m socket --transparent` rule) and is dropped as before. */
static void test_connect_from_nonlocal(void **state)
{
    tp_ctx *c = *state;
    int one = 1;
    sk_endpoint me = sk_endpoint_ipv4(FOREIGN4, 5001), srv = sk_endpoint_ipv4(PEER4, 80);
    int t = sk_socket(c->s);
    assert_int_equal(sk_setsockopt(c->s, t, SK_IPPROTO_IP, SK_IP_TRANSPARENT, &one, sizeof one), 0);
    assert_int_equal(sk_bind(c->s, t, &me), 0);
    assert_int_equal(sk_connect(c->s, t, &srv), -EINPROGRESS);
    sk_segment syn = tp_expect(c, &me, &srv, SK_TH_SYN, 0);
    tp_send(c, &srv, &me, SK_TH_SYN | SK_TH_ACK, PEER_ISN, syn.seq + 1, NULL);
    tp_expect(c, &me, &srv, SK_TH_ACK, PEER_ISN + 1);
    assert_int_equal(sk_state(c->s, t), SK_TCP_ESTABLISHED);

    sk_endpoint me2 = sk_endpoint_ipv4(FOREIGN4, 5002);
    int fb = sk_socket(c->s);
    assert_int_equal(sk_setsockopt(c->s, fb, SK_IPPROTO_IP, SK_IP_FREEBIND, &one, sizeof one), 0);
    assert_int_equal(sk_bind(c->s, fb, &me2), 0);
    assert_int_equal(sk_connect(c->s, fb, &srv), -EINPROGRESS);
    syn = tp_expect(c, &me2, &srv, SK_TH_SYN, 0);
    tp_send(c, &srv, &me2, SK_TH_SYN | SK_TH_ACK, PEER_ISN, syn.seq + 1, NULL);
    tp_expect_none(c);
    assert_int_equal(sk_state(c->s, fb), SK_TCP_SYN_SENT);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 1);
}

/* IPv6: a transparent AF_INET6 listener takes a SYN to an address in no
 * table; the request and the connection hold the interned address, and
 * the table empties again once they are gone. */
static void test_ipv6_transparent(void **state)
{
    tp_ctx *c = *state;
    uint32_t base = c->s->a6.count;
    int l = tp_listener(c, SK_AF_INET6, 80, true);
    sk_endpoint peer = ep6("fd00::9", 40005), to = ep6("2001:db8::7", 80);
    sk_segment sa = tp_syn(c, &peer, &to);
    assert_int_equal(c->s->a6.count, base + 2); /* the peer and the original destination */
    assert_int_equal(ss_count(c, &to, SK_TCP_SYN_RECV), 1);
    int fd = tp_ack_accept(c, l, &peer, &to, &sa);
    sk_endpoint name;
    assert_int_equal(sk_getsockname(c->s, fd, &name), 0);
    assert_ep(&name, &to);
    /* an IPv4 SYN reaches the same dual-stack listener */
    sk_endpoint p4 = sk_endpoint_ipv4(PEER4, 40006), t4 = sk_endpoint_ipv4(FOREIGN4, 80);
    tp_send(c, &p4, &t4, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect(c, &t4, &p4, SK_TH_SYN | SK_TH_ACK, PEER_ISN + 1);
    /* a listener's close drops the request: its addresses are released */
    struct {
        int onoff, linger;
    } lg = {1, 0};
    assert_int_equal(sk_setsockopt(c->s, fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg), 0);
    assert_int_equal(sk_close(c->s, fd), 0);
    tp_expect(c, &to, &peer, SK_TH_RST | SK_TH_ACK, 0);
    assert_int_equal(sk_close(c->s, l), 0);
    assert_int_equal(c->s->a6.count, base);
    assert_int_equal(sk_addr6_find(c->s, to.addr6), 0);
}

/* ---------------------------------------------------------------- */
/* ICMP errors about a transparent socket's segments                  */
/* ---------------------------------------------------------------- */

#define HOP4 0xcb007101u /* 203.0.113.1, a router on the path */

/* An ICMP error from `hop` to `to` quoting the IP and TCP headers of the
 * datagram the stack sent at c->out[idx] (its sequence moved by
 * seq_shift). */
static void tp_icmp4(tp_ctx *c, uint32_t hop, uint32_t to, uint8_t type, uint8_t code, uint32_t rest, size_t idx,
                     int32_t seq_shift)
{
    uint8_t d[28 + 40];
    memset(d, 0, sizeof d);
    d[0] = 0x45;
    d[3] = sizeof d;
    d[8] = 64;
    d[9] = 1;
    sk_put_be32(d + 12, hop);
    sk_put_be32(d + 16, to);
    sk_put_be16(d + 10, sk_csum_fold(sk_csum_partial(d, 20, 0)));
    d[20] = type;
    d[21] = code;
    sk_put_be32(d + 24, rest);
    memcpy(d + 28, c->out[idx], 40);
    sk_put_be32(d + 28 + 24, sk_get_be32(d + 28 + 24) + (uint32_t)seq_shift);
    sk_put_be16(d + 22, sk_csum_fold(sk_csum_partial(d + 20, sizeof d - 20, 0)));
    c->now += SK_MS(1);
    sk_input(c->s, d, sizeof d, c->now);
}

/* The same in ICMPv6 from `hop` to `to`. */
static void tp_icmp6(tp_ctx *c, const char *hop, const sk_endpoint *to, uint8_t type, uint8_t code, uint32_t rest,
                     size_t idx)
{
    uint8_t d[40 + 8 + 60];
    memset(d, 0, sizeof d);
    d[0] = 0x60;
    sk_put_be16(d + 4, 8 + 60);
    d[6] = 58;
    d[7] = 64;
    sk_endpoint h = ep6(hop, 0);
    memcpy(d + 8, h.addr6, 16);
    memcpy(d + 24, to->addr6, 16);
    d[40] = type;
    d[41] = code;
    sk_put_be32(d + 44, rest);
    memcpy(d + 48, c->out[idx], 60);
    sk_test_icmp6_checksum(d);
    c->now += SK_MS(1);
    sk_input(c->s, d, sizeof d, c->now);
}

/* A fragmentation-needed about a segment a transparent connection sent
 * from its original destination reaches the connection, as on Linux
 * (where `-m socket --transparent` finds the socket from the quoted
 * header and tcp_v4_err then takes it as any other): the path MTU drops
 * and the segment goes again at the new MSS, cut where tcp_fragment cuts
 * it (PSH on the second part).  Before, it was dropped as addressed to
 * nobody (IpInAddrErrors). */
static void test_frag_needed_reaches_transparent_connection(void **state)
{
    tp_ctx *c = *state;
    c->syn_mss = 1460;
    int l = tp_listener(c, SK_AF_INET, 80, true);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40010), to = sk_endpoint_ipv4(FOREIGN4, 80);
    uint32_t iss;
    int fd = tp_handshake(c, l, &peer, &to, &iss);
    static char data[1461];
    memset(data, 'x', 1460);
    assert_int_equal(sk_send(c->s, fd, data, 1460, 0), 1460);
    sk_segment d = tp_expect(c, &to, &peer, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 1);
    assert_int_equal(d.seq, iss + 1);
    assert_int_equal(d.payload_len, 1460);
    tp_expect_none(c);

    tp_icmp4(c, HOP4, FOREIGN4, 3, 4, 1200, c->next - 1, 0);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 0);
    assert_int_equal(sk_counter(c->s, "IcmpInMsgs"), 1);
    assert_int_equal(sk_counter(c->s, "IcmpInDestUnreachs"), 1);
    assert_int_equal(sk_counter(c->s, "IcmpInErrors"), 0);
    d = tp_expect(c, &to, &peer, SK_TH_ACK, PEER_ISN + 1);
    assert_int_equal(d.seq, iss + 1);
    assert_int_equal(d.payload_len, 1160);
    d = tp_expect(c, &to, &peer, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 1);
    assert_int_equal(d.seq, iss + 1161);
    assert_int_equal(d.payload_len, 300);
    tp_expect_none(c);
    int mtu = 0;
    size_t len = sizeof mtu;
    assert_int_equal(sk_getsockopt(c->s, fd, SK_IPPROTO_IP, SK_IP_MTU, &mtu, &len), 0);
    assert_int_equal(mtu, 1200);
    assert_int_equal(sk_counter(c->s, "TcpRetransSegs"), 2);
}

/* A host unreachable about an established transparent connection is a
 * soft error (SO_ERROR reads it once); one about a non-local address no
 * transparent socket holds is still dropped before ICMP (IpInAddrErrors),
 * and one quoting a non-transparent connection's segment is not taken
 * either. */
static void test_unreachable_reaches_transparent_connection(void **state)
{
    tp_ctx *c = *state;
    int l = tp_listener(c, SK_AF_INET, 80, true);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40011), to = sk_endpoint_ipv4(FOREIGN4, 80);
    uint32_t iss;
    int fd = tp_handshake(c, l, &peer, &to, &iss);
    assert_int_equal(sk_send(c->s, fd, "hello", 5, 0), 5);
    tp_expect(c, &to, &peer, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 1);
    size_t sent = c->next - 1;
    tp_icmp4(c, HOP4, FOREIGN4, 3, 1, 0, sent, 0);
    tp_expect_none(c);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 0);
    assert_int_equal(sk_counter(c->s, "IcmpInMsgs"), 1);
    assert_int_equal(sk_state(c->s, fd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_test_so_error(c->s, fd), EHOSTUNREACH);
    assert_int_equal(sk_test_so_error(c->s, fd), 0);
    /* Outside SND.UNA..SND.NXT: counted as tcp_v4_err counts it. */
    tp_icmp4(c, HOP4, FOREIGN4, 3, 1, 0, sent, 100);
    assert_int_equal(sk_counter(c->s, "OutOfWindowIcmps"), 1);
    assert_int_equal(sk_test_so_error(c->s, fd), 0);

    /* The same message about port 81 of another non-local address: no
     * transparent socket there, so nobody takes it. */
    uint8_t *q = c->out[sent];
    sk_put_be32(q + 12, FOREIGN4B);
    sk_put_be16(q + 20, 81);
    tp_icmp4(c, HOP4, FOREIGN4B, 3, 1, 0, sent, 0);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 1);
    assert_int_equal(sk_counter(c->s, "IcmpInMsgs"), 2);
    tp_expect_none(c);
}

/* A request of the catch-all transparent listener (sk_stack_set_tproxy)
 * for another port: a host unreachable quoting its SYN-ACK drops it as
 * tcp_req_err does (ListenDrops), once the quoted sequence is its ISN. */
static void test_unreachable_drops_transparent_request(void **state)
{
    tp_ctx *c = *state;
    tp_listener(c, SK_AF_INET, 80, true);
    assert_int_equal(sk_stack_set_tproxy(c->s, 80), 0);
    sk_endpoint peer = sk_endpoint_ipv4(PEER4, 40012), to = sk_endpoint_ipv4(FOREIGN4B, 443);
    tp_send(c, &peer, &to, SK_TH_SYN, PEER_ISN, 0, NULL);
    tp_expect(c, &to, &peer, SK_TH_SYN | SK_TH_ACK, PEER_ISN + 1);
    size_t synack = c->next - 1;
    assert_int_equal(ss_count(c, &to, SK_TCP_SYN_RECV), 1);
    tp_icmp4(c, HOP4, FOREIGN4B, 3, 1, 0, synack, 1);
    assert_int_equal(sk_counter(c->s, "OutOfWindowIcmps"), 1);
    assert_int_equal(ss_count(c, &to, SK_TCP_SYN_RECV), 1);
    tp_icmp4(c, HOP4, FOREIGN4B, 3, 1, 0, synack, 0);
    assert_int_equal(ss_count(c, &to, SK_TCP_SYN_RECV), 0);
    assert_int_equal(sk_counter(c->s, "ListenDrops"), 1);
    assert_int_equal(sk_counter(c->s, "IpInAddrErrors"), 0);
    assert_int_equal(sk_counter(c->s, "IcmpInMsgs"), 2);
    assert_int_equal(sk_counter(c->s, "IcmpInErrors"), 0);
    tp_expect_none(c);
}

/* IPv6: a Packet Too Big about a transparent connection's segment lowers
 * its path MTU and the segment goes again at 1220 bytes; a no-route
 * unreachable is a soft error (ENETUNREACH). */
static void test_icmp6_reaches_transparent_connection(void **state)
{
    tp_ctx *c = *state;
    c->syn_mss = 1440;
    int l = tp_listener(c, SK_AF_INET6, 80, true);
    sk_endpoint peer = ep6("fd00::9", 40013), to = ep6("2001:db8::7", 80);
    uint32_t iss;
    int fd = tp_handshake(c, l, &peer, &to, &iss);
    static char data[1441];
    memset(data, 'y', 1440);
    assert_int_equal(sk_send(c->s, fd, data, 1440, 0), 1440);
    sk_segment d = tp_expect(c, &to, &peer, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 1);
    assert_int_equal(d.payload_len, 1440);
    size_t sent = c->next - 1;
    tp_icmp6(c, "2001:db8::1", &to, 2, 0, 1280, sent);
    assert_int_equal(sk_counter(c->s, "Ip6InAddrErrors"), 0);
    assert_int_equal(sk_counter(c->s, "Icmp6InPktTooBigs"), 1);
    d = tp_expect(c, &to, &peer, SK_TH_ACK, PEER_ISN + 1);
    assert_int_equal(d.seq, iss + 1);
    assert_int_equal(d.payload_len, 1220);
    d = tp_expect(c, &to, &peer, SK_TH_ACK | SK_TH_PSH, PEER_ISN + 1);
    assert_int_equal(d.seq, iss + 1221);
    assert_int_equal(d.payload_len, 220);
    tp_expect_none(c);
    int mtu = 0;
    size_t len = sizeof mtu;
    assert_int_equal(sk_getsockopt(c->s, fd, SK_IPPROTO_IPV6, SK_IPV6_MTU, &mtu, &len), 0);
    assert_int_equal(mtu, 1280);
    tp_icmp6(c, "2001:db8::1", &to, 1, 0, 0, sent);
    assert_int_equal(sk_test_so_error(c->s, fd), ENETUNREACH);
    assert_int_equal(sk_state(c->s, fd), SK_TCP_ESTABLISHED);
    /* About a non-local address no socket holds: dropped before ICMPv6. */
    sk_endpoint other = ep6("2001:db8::8", 80);
    memcpy(c->out[sent] + 8, other.addr6, 16);
    tp_icmp6(c, "2001:db8::1", &other, 1, 0, 0, sent);
    assert_int_equal(sk_counter(c->s, "Ip6InAddrErrors"), 1);
    assert_int_equal(sk_counter(c->s, "Icmp6InMsgs"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_sizes),
        cmocka_unit_test_setup_teardown(test_nonlocal_syn_without_transparent_listener_is_dropped, tp_setup,
                                        tp_teardown),
        cmocka_unit_test_setup_teardown(test_transparent_listener_takes_nonlocal_syn, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_time_wait_reopened_at_nonlocal_address, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_rst_from_original_address, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_catch_all_port, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_syncookie_at_nonlocal_address, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_bind_nonlocal, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_connect_from_nonlocal, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_transparent, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_frag_needed_reaches_transparent_connection, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_reaches_transparent_connection, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_drops_transparent_request, tp_setup, tp_teardown),
        cmocka_unit_test_setup_teardown(test_icmp6_reaches_transparent_connection, tp_setup, tp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
