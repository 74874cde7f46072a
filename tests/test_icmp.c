/*
 * ICMP and path MTU: echo replies byte for byte and under the rate
 * limits, malformed ICMP counted, errors validated against the quoted
 * connection as Linux's tcp_v4_err does (out-of-window, SYN_SENT abort,
 * soft errors), fragmentation-needed lowering the MSS mid-transfer with
 * the data resent at the new size, and a silent black hole with and
 * without RFC 4821 MTU probing (with it, over IPv4 and IPv6 alike).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "observe/trace.h"

#define MIB (1024 * 1024)
#define HOP_ADDR 0x0a000009u /* 10.0.0.9, the router with the small MTU */

static uint16_t csum(const uint8_t *d, size_t n)
{
    return sk_csum_fold(sk_csum_partial(d, n, 0));
}

/* An IPv4 datagram with ICMP type/code, the 4-byte rest of header, and
 * `body` (echo data or a quoted datagram). */
static size_t build_icmp(uint8_t *out, uint32_t src, uint32_t dst, uint8_t type, uint8_t code, uint32_t rest,
                         const uint8_t *body, size_t blen)
{
    size_t total = 28 + blen;
    memset(out, 0, 28);
    out[0] = 0x45;
    out[2] = (uint8_t)(total >> 8);
    out[3] = (uint8_t)total;
    out[4] = 0x12;
    out[5] = 0x34;
    out[8] = 64;
    out[9] = 1;
    for (int i = 0; i < 4; i++) {
        out[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        out[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
        out[24 + i] = (uint8_t)(rest >> (24 - 8 * i));
    }
    uint16_t c = csum(out, 20);
    out[10] = (uint8_t)(c >> 8);
    out[11] = (uint8_t)c;
    out[20] = type;
    out[21] = code;
    if (blen)
        memcpy(out + 28, body, blen);
    c = csum(out + 20, total - 20);
    out[22] = (uint8_t)(c >> 8);
    out[23] = (uint8_t)c;
    return total;
}

/* The n-th recorded ICMP datagram (protocol 1) from `from`, or NULL. */
static const sk_trace_entry *icmp_entry(const sk_fixture *f, uint32_t from, size_t n)
{
    for (size_t i = 0; i < f->trace_len; i++) {
        const sk_trace_entry *e = &f->trace[i];
        if (e->fate != SK_WIRE_SENT || e->len < 20 || e->bytes[9] != 1)
            continue;
        uint32_t src = (uint32_t)e->bytes[12] << 24 | (uint32_t)e->bytes[13] << 16 | (uint32_t)e->bytes[14] << 8 |
                       e->bytes[15];
        if (src == from && n-- == 0)
            return e;
    }
    return NULL;
}

static size_t count_icmp(const sk_fixture *f, uint32_t from)
{
    size_t n = 0;
    while (icmp_entry(f, from, n))
        n++;
    return n;
}

/* ------------------------------------------------------------------ */
/* Echo                                                                 */
/* ------------------------------------------------------------------ */

static void test_echo_reply_bytes(void **state)
{
    sk_fixture *f = *state;
    uint8_t data[56], req[128];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    /* id 1, seq 1, 56 bytes of data: ping's default 64-byte ICMP message */
    size_t n = build_icmp(req, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, 8, 0, 0x00010001u, data, sizeof data);
    req[1] = 0x10; /* TOS, echoed back */
    req[10] = req[11] = 0;
    uint16_t c = csum(req, 20);
    req[10] = (uint8_t)(c >> 8);
    req[11] = (uint8_t)c;
    sk_test_inject_raw(f, req, n);
    sk_test_run_for(f, MSEC(50));

    const sk_trace_entry *q = icmp_entry(f, SK_TEST_CLIENT_ADDR, 0);
    const sk_trace_entry *r = icmp_entry(f, SK_TEST_SERVER_ADDR, 0);
    assert_non_null(q);
    assert_non_null(r);
    assert_string_equal(sk_test_line(q), "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64");
    assert_string_equal(sk_test_line(r), "IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id 1, seq 1, length 64");
    assert_int_equal(r->len, 84);
    /* IP header: TOS kept, DF clear, TTL 64, protocol 1, valid checksum */
    assert_int_equal(r->bytes[0], 0x45);
    assert_int_equal(r->bytes[1], 0x10);
    assert_int_equal(r->bytes[6] & 0xe0, 0);
    assert_int_equal(r->bytes[8], 64);
    assert_int_equal(csum(r->bytes, 20), 0);
    /* ICMP: type 0 code 0, identifier, sequence and data as sent */
    assert_int_equal(r->bytes[20], 0);
    assert_int_equal(r->bytes[21], 0);
    assert_memory_equal(r->bytes + 24, req + 24, 4 + sizeof data);
    assert_int_equal(csum(r->bytes + 20, 64), 0);

    assert_int_equal(sk_counter(f->server, "IcmpInMsgs"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpInEchos"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpMsgInType8"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpOutMsgs"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpOutEchoReps"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpMsgOutType0"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpInErrors"), 0);
    assert_int_equal(sk_counter(f->server, "InUnknownProtos"), 0);
    /* The client got the reply and consumed it. */
    assert_int_equal(sk_counter(f->client, "IcmpInEchoReps"), 1);
    assert_int_equal(sk_counter(f->client, "IcmpOutMsgs"), 0);
}

static void test_bad_icmp_counted_and_dropped(void **state)
{
    sk_fixture *f = *state;
    uint8_t d[128], data[8] = {0};
    size_t n = build_icmp(d, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, 8, 0, 0x00010001u, data, sizeof data);
    d[30] ^= 0xff; /* corrupt the data: the ICMP checksum no longer holds */
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(20));
    assert_int_equal(sk_counter(f->server, "IcmpInMsgs"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpInCsumErrors"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpInErrors"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpMsgInType8"), 0);
    assert_int_equal(sk_counter(f->server, "TcpInCsumErrors"), 0);

    /* Four bytes of ICMP: a header cut short (checksum right) */
    n = build_icmp(d, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, 8, 0, 0, NULL, 0);
    d[2] = 0;
    d[3] = 24;
    d[10] = d[11] = 0;
    uint16_t c = csum(d, 20);
    d[10] = (uint8_t)(c >> 8);
    d[11] = (uint8_t)c;
    d[22] = d[23] = 0;
    c = csum(d + 20, 4);
    d[22] = (uint8_t)(c >> 8);
    d[23] = (uint8_t)c;
    sk_test_inject_raw(f, d, 24);
    sk_test_run_for(f, MSEC(20));
    assert_int_equal(sk_counter(f->server, "IcmpInErrors"), 2);
    assert_int_equal(sk_counter(f->server, "IcmpInCsumErrors"), 1);

    /* A type past NR_ICMP_TYPES (18) */
    n = build_icmp(d, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, 42, 0, 0, data, sizeof data);
    sk_test_inject_raw(f, d, n);
    /* An unreachable quoting no IP header */
    n = build_icmp(d, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, 3, 3, 0, data, sizeof data);
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(20));
    assert_int_equal(sk_counter(f->server, "IcmpInMsgs"), 4);
    assert_int_equal(sk_counter(f->server, "IcmpInErrors"), 4);
    assert_int_equal(sk_counter(f->server, "IcmpInDestUnreachs"), 1);
    assert_int_equal(sk_counter(f->server, "IcmpMsgInType3"), 1);
    assert_int_equal(count_icmp(f, SK_TEST_SERVER_ADDR), 0); /* nothing answered */
}

static void ping_burst(sk_fixture *f, int count)
{
    uint8_t d[64], data[8] = {0};
    for (int i = 0; i < count; i++) {
        size_t n = build_icmp(d, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, 8, 0, 0x00070000u | (uint32_t)i, data,
                              sizeof data);
        sk_test_inject_raw(f, d, n);
    }
    sk_test_run_for(f, MSEC(50));
}

/* icmp_ratemask 0x1818 leaves echo replies alone; with bit 0 set they go
 * through the per-host bucket of icmp_ratelimit (6 at once, then one per
 * second) as Linux's inet_peer_xrlim_allow lets them. */
static void test_echo_reply_rate_limits(void **state)
{
    sk_fixture *f = *state;
    ping_burst(f, 10);
    assert_int_equal(count_icmp(f, SK_TEST_SERVER_ADDR), 10);

    sk_test_sysctl(f->server, "net.ipv4.icmp_ratemask", "6169");
    sk_test_run_for(f, SEC(10));
    ping_burst(f, 10);
    assert_int_equal(count_icmp(f, SK_TEST_SERVER_ADDR), 16);
    assert_int_equal(sk_counter(f->server, "IcmpOutRateLimitHost"), 4);
    assert_int_equal(sk_counter(f->server, "IcmpOutEchoReps"), 16);
    sk_test_run_for(f, MSEC(1000));
    ping_burst(f, 3);
    assert_int_equal(count_icmp(f, SK_TEST_SERVER_ADDR), 17);
    assert_int_equal(sk_counter(f->server, "IcmpOutRateLimitHost"), 6);

    /* icmp_echo_ignore_all: counted as received, never answered */
    sk_test_sysctl(f->server, "net.ipv4.icmp_echo_ignore_all", "1");
    sk_test_run_for(f, SEC(10));
    ping_burst(f, 2);
    assert_int_equal(count_icmp(f, SK_TEST_SERVER_ADDR), 17);
    assert_int_equal(sk_counter(f->server, "IcmpInEchos"), 25);
}

/* ------------------------------------------------------------------ */
/* Errors for connections                                               */
/* ------------------------------------------------------------------ */

/* An ICMP error from `from` to the client, quoting the client's last
 * sent TCP segment matching desc (IP header + the first `qlen` bytes). */
static void inject_error_quoting(sk_fixture *f, uint32_t from, uint8_t type, uint8_t code, uint32_t rest,
                                 const char *desc, int32_t seq_shift)
{
    const sk_trace_entry *e = sk_test_last(f, desc);
    assert_non_null(e);
    uint8_t q[28 + 20], d[128];
    memcpy(q, e->bytes, sizeof q < e->len ? sizeof q : e->len);
    uint32_t seq = (uint32_t)q[24] << 24 | (uint32_t)q[25] << 16 | (uint32_t)q[26] << 8 | q[27];
    seq += (uint32_t)seq_shift;
    q[24] = (uint8_t)(seq >> 24);
    q[25] = (uint8_t)(seq >> 16);
    q[26] = (uint8_t)(seq >> 8);
    q[27] = (uint8_t)seq;
    size_t n = build_icmp(d, from, SK_TEST_CLIENT_ADDR, type, code, rest, q, 28);
    sk_test_inject_raw(f, d, n);
}

static void test_port_unreachable_in_syn_sent_refuses(void **state)
{
    sk_fixture *f = *state;
    sk_test_drop(f, "c>s S", 1);
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 81);
    sk_test_run_for(f, MSEC(1));
    inject_error_quoting(f, SK_TEST_SERVER_ADDR, 3, 3, 0, "c>s S", 0);
    sk_test_run_for(f, MSEC(1));
    assert_string_equal(sk_test_line(icmp_entry(f, SK_TEST_SERVER_ADDR, 0)),
                        "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 tcp port 81 unreachable, length 36");
    assert_int_equal(sk_state(f->client, fd), SK_TCP_CLOSE);
    assert_int_equal(sk_test_so_error(f->client, fd), ECONNREFUSED);
    assert_int_equal(sk_counter(f->client, "AttemptFails"), 1);
    assert_int_equal(sk_counter(f->client, "IcmpInDestUnreachs"), 1);
    sk_test_run_for(f, SEC(5));
    assert_int_equal(sk_test_count(f, 0, "c>s S"), 1); /* no SYN retransmission */
}

static void test_out_of_window_icmp_ignored(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    uint8_t buf[4000];
    memset(buf, 'x', sizeof buf);
    sk_test_drop(f, "c>s *", -1); /* keep data in flight */
    assert_int_equal(sk_send(f->client, p.cfd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    sk_test_run_for(f, MSEC(1));
    struct sk_tcp_info before = sk_test_tcp_info(f->client, p.cfd);
    /* Quoting a sequence above SND.NXT: not a segment we sent. */
    inject_error_quoting(f, HOP_ADDR, 3, 4, 576, "c>s .", 100000);
    /* Host unreachable below SND.UNA */
    inject_error_quoting(f, HOP_ADDR, 3, 1, 0, "c>s .", -100000);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->client, "OutOfWindowIcmps"), 2);
    struct sk_tcp_info after = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(after.tcpi_snd_mss, before.tcpi_snd_mss);
    assert_int_equal(after.tcpi_pmtu, 1500);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), 0);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
}

/* Established: a host unreachable is a soft error, SO_ERROR reads it
 * once; if the connection then times out, it reports it instead of
 * ETIMEDOUT (tcp_write_err). */
static void test_soft_error_established(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_drop(f, "c>s *", -1);
    assert_int_equal(sk_send(f->client, p.cfd, "hello", 5, 0), 5);
    sk_test_run_for(f, MSEC(1));
    inject_error_quoting(f, HOP_ADDR, 3, 1, 0, "c>s P.", 0);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), EHOSTUNREACH);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), 0);
    inject_error_quoting(f, HOP_ADDR, 11, 0, 0, "c>s P.", 0); /* time exceeded */
    sk_test_run_for(f, SEC(1000));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_CLOSE);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), EHOSTUNREACH);
}

/* ------------------------------------------------------------------ */
/* Path MTU                                                             */
/* ------------------------------------------------------------------ */

static void small_hop(sk_fixture *f, uint16_t mtu, bool icmp)
{
    sk_link_params lp;
    memset(&lp, 0, sizeof lp);
    lp.mtu = mtu;
    lp.mtu_icmp_from = icmp ? HOP_ADDR : 0;
    sk_test_set_link(f, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, &lp);
}

static void test_frag_needed_during_transfer(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1448);
    small_hop(f, 1200, true);
    sk_test_skip(f);
    size_t mark = f->trace_len;
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 16 * MIB, SEC(600)), 16 * MIB);

    /* The hop's message, as tcpdump shows it, then the data again at
     * 1148 bytes (1200 - 40 - 12 of timestamps). */
    const sk_trace_entry *icmp = icmp_entry(f, HOP_ADDR, 0);
    assert_non_null(icmp);
    assert_string_equal(sk_test_line(icmp),
                        "IP 10.0.0.9 > 10.0.0.1: ICMP 10.0.0.2 unreachable - need to frag (mtu 1200), length 556");
    const sk_trace_entry *first = sk_test_find(f, mark, "c>s * seq 1:1449");
    assert_non_null(first);
    assert_int_equal(first->fate, SK_WIRE_TOO_BIG);
    const sk_trace_entry *resent = sk_test_find(f, icmp->index, "c>s * seq 1:1149");
    assert_non_null(resent);
    if (getenv("ICMP_DEBUG"))
        sk_test_print_trace(f, mark);
    assert_int_equal(sk_test_count(f, resent->index, "c>s * len 1448"), 0);
    assert_true(sk_test_count(f, icmp->index, "c>s * len 1148") > 14000);

    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_pmtu, 1200);
    assert_int_equal(ti.tcpi_snd_mss, 1148);
    int mtu = 0;
    size_t len = sizeof mtu;
    assert_int_equal(sk_getsockopt(f->client, p.cfd, SK_IPPROTO_IP, SK_IP_MTU, &mtu, &len), 0);
    assert_int_equal(mtu, 1200);
    /* Every later too-big datagram drew its own ICMP, but only those in
     * flight before the first one arrived: the rest fit. */
    size_t too_big = 0;
    for (size_t i = mark; i < f->trace_len; i++)
        too_big += f->trace[i].fate == SK_WIRE_TOO_BIG;
    assert_int_equal(count_icmp(f, HOP_ADDR), too_big);
    assert_int_equal(sk_counter(f->client, "IcmpInDestUnreachs"), too_big);
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 0);

    /* A new connection to the same peer starts at the learned MTU: its
     * SYN announces 1160 and its first segment is 1148 bytes. */
    int fd2 = sk_socket(f->client);
    assert_true(fd2 >= 0);
    sk_conn_pair p2 = sk_test_establish_socket(f, fd2, 80);
    assert_non_null(sk_test_last(f, "c>s S"));
    const sk_trace_entry *syn = sk_test_last(f, "c>s S");
    assert_true(syn->seg.opts.has_mss);
    assert_int_equal(syn->seg.opts.mss, 1160);
    assert_int_equal(sk_test_tcp_info(f->client, p2.cfd).tcpi_pmtu, 1200);
    assert_int_equal(sk_test_tcp_info(f->client, p2.cfd).tcpi_snd_mss, 1148);
}

/* tcp_simple_retransmit: of what is in flight when the MSS drops, only
 * the skbs whose segments are longer than the new MSS are lost and
 * resent, each on its own, cut at the new MSS (tcp_retransmit_skb,
 * tcp_fragment): the 2-segment TSO packet 1:2897 as 1148 + 1148 + 600,
 * the one ending the burst, 2897:4345, as 1148 + 300.  A short skb that
 * fits (500 bytes written later, lost on the way for other reasons) is
 * not resent with them but waits for loss detection as any other. */
static void resend_only_longer(sk_fixture *f, bool sack)
{
    if (!sack)
        sk_test_sysctl(f->client, "net.ipv4.tcp_sack", "0");
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_options & SK_TCPI_OPT_SACK, sack ? SK_TCPI_OPT_SACK : 0);
    int one = 1;
    assert_int_equal(sk_setsockopt(f->client, p.cfd, SK_IPPROTO_TCP, SK_TCP_NODELAY, &one, sizeof one), 0);
    small_hop(f, 1200, true);
    sk_test_drop(f, "c>s * len 500", 1);
    sk_test_skip(f);
    size_t mark = f->trace_len;
    uint8_t buf[3 * 1448 + 500];
    memset(buf, 'm', sizeof buf);
    assert_int_equal(sk_send(f->client, p.cfd, buf, 3 * 1448, 0), 3 * 1448);
    sk_test_run_for(f, MSEC(5));
    assert_int_equal(sk_send(f->client, p.cfd, buf + 3 * 1448, 500, 0), 500);
    sk_test_run_for(f, MSEC(150));
    if (getenv("ICMP_DEBUG"))
        sk_test_print_trace(f, mark);
    assert_int_equal(sk_test_find(f, mark, "c>s . seq 1:1449")->fate, SK_WIRE_TOO_BIG);
    assert_int_equal(sk_test_find(f, mark, "c>s P. seq 1449:2897")->fate, SK_WIRE_TOO_BIG);
    assert_int_equal(sk_test_find(f, mark, "c>s P. seq 2897:4345")->fate, SK_WIRE_TOO_BIG);
    assert_int_equal(sk_test_find(f, mark, "c>s P. seq 4345:4845")->fate, SK_WIRE_LOST);
    assert_int_equal(count_icmp(f, HOP_ADDR), 3);
    /* After the first frag-needed: the two long skbs again at 1148 bytes
     * a segment, skb by skb, and not the 500 bytes behind them; the two
     * later messages change nothing more. */
    const sk_trace_entry *icmp = icmp_entry(f, HOP_ADDR, 0);
    assert_non_null(icmp);
    f->cursor = sk_test_find(f, icmp->index, "c>s * len 1148")->index;
    assert_int_equal(sk_test_count(f, icmp->index, "c>s * len 1448"), 2); /* the two sent with the first */
    EXPECT_SEGMENTS(f, "c>s . seq 1:1149", "c>s . seq 1149:2297", "c>s . seq 2297:2897", "c>s . seq 2897:4045",
                    "c>s P. seq 4045:4345", "s>c . ack 1149", "s>c . ack 2297", "s>c . ack 2897", "s>c . ack 4045",
                    "s>c . ack 4345");
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 0);
    /* The 500 bytes go again once the ACKs leave them alone in flight
     * (a tail loss probe, which needs SACK; without it the RTO), and
     * everything arrives. */
    if (!sack)
        sk_test_run_for(f, SEC(1));
    EXPECT_SEGMENTS(f, "c>s P. seq 4345:4845", "s>c . ack 4845");
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), sack ? 0 : 1);
    /* The five resent at the new MSS count as Loss-state retransmissions
     * in packets (tcp_skb_pcount: 3 + 2); the 500 bytes once more. */
    assert_int_equal(sk_counter(f->client, "TCPSlowStartRetrans"), 5);
    assert_int_equal(sk_counter(f->client, "TCPFastRetrans"), sack ? 1 : 0);
    assert_int_equal(sk_counter(f->client, "TcpRetransSegs"), 6);
    sk_test_run_for(f, SEC(2));
    EXPECT_NO_MORE_SEGMENTS(f);
    uint8_t rx[sizeof buf];
    assert_int_equal(sk_test_drain(f->server, p.sfd, rx, sizeof rx), (ssize_t)sizeof rx);
    assert_memory_equal(rx, buf, sizeof buf);
}

static void test_frag_needed_resends_only_longer_segments(void **state)
{
    resend_only_longer(*state, true);
}

/* The same without SACK: Linux's retransmission queue holds the same skbs
 * whatever the peer negotiated, so the same two are lost and resent skb
 * by skb.  synack keeps their ends for this (sk_flight); before, it
 * resent all 4844 bytes in flight in 1148-byte pieces across skbs. */
static void test_frag_needed_resends_only_longer_segments_without_sack(void **state)
{
    resend_only_longer(*state, false);
}

/* The passive side with a path MTU already learned for the peer: its
 * SYN-ACK announces what fits the route (tcp_make_synack's
 * dst_metric_advmss, 1200 - 40) and the child sends at it from the start
 * (tcp_sync_mss with the route's MTU in tcp_v4_syn_recv_sock), so no
 * full-size segment is lost to the hop again. */
static void test_passive_open_uses_the_cached_path_mtu(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_link_params lp;
    memset(&lp, 0, sizeof lp);
    lp.mtu = 1200;
    lp.mtu_icmp_from = HOP_ADDR;
    sk_test_set_link(f, SK_TEST_SERVER_ADDR, SK_TEST_CLIENT_ADDR, &lp);
    assert_int_equal(sk_test_transfer(f, f->server, p.sfd, f->client, p.cfd, 100000, SEC(10)), 100000);
    assert_int_equal(sk_test_tcp_info(f->server, p.sfd).tcpi_pmtu, 1200);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_pmtu, 1500);

    sk_test_skip(f);
    size_t mark = f->trace_len;
    int fd2 = sk_socket(f->client);
    assert_true(fd2 >= 0);
    sk_conn_pair p2 = sk_test_establish_socket(f, fd2, 80);
    const sk_trace_entry *syn = sk_test_find(f, mark, "c>s S");
    const sk_trace_entry *synack = sk_test_find(f, mark, "s>c S.");
    assert_non_null(syn);
    assert_non_null(synack);
    assert_int_equal(syn->seg.opts.mss, 1460); /* the client learned nothing */
    assert_int_equal(synack->seg.opts.mss, 1160);
    struct sk_tcp_info ti = sk_test_tcp_info(f->server, p2.sfd);
    assert_int_equal(ti.tcpi_pmtu, 1200);
    assert_int_equal(ti.tcpi_snd_mss, 1148);
    assert_int_equal(sk_test_tcp_info(f->client, p2.cfd).tcpi_snd_mss, 1148); /* from the SYN-ACK's 1160 */
    size_t before = count_icmp(f, HOP_ADDR);
    assert_int_equal(sk_test_transfer(f, f->server, p2.sfd, f->client, p2.cfd, 50000, SEC(10)), 50000);
    assert_int_equal(count_icmp(f, HOP_ADDR), before);
    assert_int_equal(sk_test_count(f, mark, "s>c * len 1448"), 0);
    assert_int_equal(sk_test_count(f, mark, "s>c * len 1148"), 43); /* 50000 / 1148, none resent */
}

/* IP_PMTUDISC_DONT: no DF, so the hop stays silent about it. */
static void test_pmtudisc_dont_clears_df(void **state)
{
    sk_fixture *f = *state;
    int fd = sk_socket(f->client);
    int v = SK_IP_PMTUDISC_DONT;
    assert_int_equal(sk_setsockopt(f->client, fd, SK_IPPROTO_IP, SK_IP_MTU_DISCOVER, &v, sizeof v), 0);
    size_t len = sizeof v;
    v = -1;
    assert_int_equal(sk_getsockopt(f->client, fd, SK_IPPROTO_IP, SK_IP_MTU_DISCOVER, &v, &len), 0);
    assert_int_equal(v, SK_IP_PMTUDISC_DONT);
    len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, fd, SK_IPPROTO_IP, SK_IP_MTU, &v, &len), -ENOTCONN);
    v = 6;
    assert_int_equal(sk_setsockopt(f->client, fd, SK_IPPROTO_IP, SK_IP_MTU_DISCOVER, &v, sizeof v), -EINVAL);
    sk_conn_pair p = sk_test_establish_socket(f, fd, 80);
    assert_int_equal(sk_send(f->client, p.cfd, "x", 1, 0), 1);
    sk_test_run_for(f, MSEC(100));
    const sk_trace_entry *e = sk_test_last(f, "c>s P.");
    assert_non_null(e);
    assert_false(e->seg.df);
    assert_true(sk_test_last(f, "s>c .")->seg.df);
}

static bool all_received(void *ctx)
{
    (void)ctx;
    return false;
}

/* A silent hop (filtered ICMP): with tcp_mtu_probing 0 the full-size
 * segment is resent forever at the same size. */
static void test_black_hole_stalls_without_probing(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    small_hop(f, 1200, false);
    static uint8_t buf[64 * 1024];
    memset(buf, 'b', sizeof buf);
    assert_int_equal(sk_send(f->client, p.cfd, buf, 16384, 0), 16384);
    sk_test_run_until_pred(f, all_received, NULL, SEC(60));
    uint8_t rx[64];
    assert_int_equal(sk_recv(f->server, p.sfd, rx, sizeof rx, 0), -EAGAIN);
    /* RTOs from 0.22 s (200 ms + the 20 ms path), doubling: at 0.22,
     * 0.66, 1.54, 3.3, 6.8, 13.9, 28 and 56 s, each resending 1448. */
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 8);
    assert_int_equal(sk_counter(f->client, "TCPMTUPFail"), 0);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1448);
    assert_int_equal(sk_test_count(f, 0, "c>s * seq 1:1449"), 9);
}

/* The same hop with tcp_mtu_probing 1, in either family: after
 * tcp_retries1 (3) worth of timeouts the MSS drops to tcp_base_mss
 * (1024), the transfer goes through, and probing searches upwards from
 * there.  Only the figures differ between the families: the hop's MTU,
 * the header bytes (40 + 12 of timestamps; 60 + 12 over IPv6) and hence
 * the search's steps. */
typedef struct black_hole_case {
    bool v6;
    uint16_t hop_mtu;
    const sk_test_probe *probes;
    size_t nprobes;
    uint64_t successes, failures;
    uint32_t last_fit;   /* the largest probe MTU that fitted */
    uint32_t hdr_bytes;  /* IP + TCP + timestamps */
    const char *icmp_in; /* the family's ICMP input counter: nothing arrives */
} black_hole_case;

static void black_hole_probing_recovers(sk_fixture *f, const black_hole_case *k)
{
    sk_test_sysctl(f->client, "net.ipv4.tcp_mtu_probing", "1");
    sk_conn_pair p;
    if (k->v6) {
        sk_test_setup_v6(f);
        p = sk_test_establish6(f, 80);
    } else {
        p = sk_test_establish(f, 80);
    }
    small_hop(f, k->hop_mtu, false);
    size_t got = sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 4 * MIB, SEC(600));
    if (got != 4 * MIB || getenv("ICMP_DEBUG")) {
        sk_test_print_trace(f, 0);
    }
    assert_int_equal(got, 4 * MIB);
    /* Timeouts until 3 s had passed since the first transmission: at 0.2,
     * 0.6, 1.4 and 3.0 s; the fourth lowers the MSS. */
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 4);
    const sk_trace_entry *e = sk_test_find(f, 0, "c>s * seq 1:1025");
    assert_non_null(e);
    assert_int_equal(e->fate, SK_WIRE_SENT);
    sk_test_expect_probes(f, e->index, k->probes, k->nprobes);
    assert_int_equal(sk_counter(f->client, "TCPMTUPSuccess"), k->successes);
    assert_int_equal(sk_counter(f->client, "TCPMTUPFail"), k->failures);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_snd_mss, k->last_fit - k->hdr_bytes);
    assert_int_equal(ti.tcpi_pmtu, 1500); /* nothing told the route */
    assert_int_equal(sk_counter(f->client, k->icmp_in), 0);
    printf("IPv%d black hole with probing: mss %u, %llu successes, %llu failures, %llu timeouts\n", k->v6 ? 6 : 4,
           ti.tcpi_snd_mss, (unsigned long long)sk_counter(f->client, "TCPMTUPSuccess"),
           (unsigned long long)sk_counter(f->client, "TCPMTUPFail"),
           (unsigned long long)sk_counter(f->client, "TCPTimeouts"));
}

/* A 1200-byte hop.  The search from [1076, 1500]: 1288 fails, 1181 fits,
 * 1234 and 1207 fail, 1193 and 1199 fit, and the range (1199..1206) is
 * then below tcp_probe_threshold (8). */
static void test_black_hole_probing_recovers(void **state)
{
    static const sk_test_probe probes[] = {
        {1236, false}, {1129, true}, {1182, false}, {1155, false}, {1141, true}, {1147, true}};
    black_hole_probing_recovers(*state, &(black_hole_case){.hop_mtu = 1200, .probes = probes,
                                                           .nprobes = sizeof probes / sizeof probes[0],
                                                           .successes = 3, .failures = 3, .last_fit = 1199,
                                                           .hdr_bytes = 52, .icmp_in = "IcmpInMsgs"});
}

/* A 1400-byte hop over IPv6 (ICMPv6 filtered).  The search over
 * [1096, 1500]: probes of MTU 1298 and 1399 fit, 1449, 1423, 1410 and
 * 1404 do not, and the range (1399..1403) is then below
 * tcp_probe_threshold (8). */
static void test_black_hole_probing_recovers_v6(void **state)
{
    static const sk_test_probe probes[] = {
        {1226, true}, {1327, true}, {1377, false}, {1351, false}, {1338, false}, {1332, false}};
    black_hole_probing_recovers(*state, &(black_hole_case){.v6 = true, .hop_mtu = 1400, .probes = probes,
                                                           .nprobes = sizeof probes / sizeof probes[0],
                                                           .successes = 2, .failures = 4, .last_fit = 1399,
                                                           .hdr_bytes = 72, .icmp_in = "Icmp6InMsgs"});
}

/* Linux's tcp_req_err: an error quoting a request sock's SYN-ACK must
 * carry its ISN exactly (else OutOfWindowIcmps); a host unreachable then
 * drops the request silently, counted as a listen drop. */
static void test_request_sock_errors(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    sk_test_drop(f, "s>c S.", -1);
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(15));
    const sk_trace_entry *synack = sk_test_last(f, "s>c S.");
    assert_non_null(synack);
    uint8_t q[48], d[128];
    memcpy(q, synack->bytes, sizeof q);
    /* from the client's address, as a router next to it would */
    size_t n = build_icmp(d, HOP_ADDR, SK_TEST_SERVER_ADDR, 3, 1, 0, q, 28);
    d[28 + 27] ^= 1; /* ISN + 1: not the SYN-ACK's sequence */
    d[22] = d[23] = 0;
    uint16_t c = csum(d + 20, n - 20);
    d[22] = (uint8_t)(c >> 8);
    d[23] = (uint8_t)c;
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->server, "OutOfWindowIcmps"), 1);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 1);
    n = build_icmp(d, HOP_ADDR, SK_TEST_SERVER_ADDR, 3, 1, 0, q, 28);
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->server, "OutOfWindowIcmps"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    assert_int_equal(sk_state(f->client, fd), SK_TCP_SYN_SENT); /* the client learns nothing */
}

/* RFC 6069 as Linux's tcp_ld_RTO_revert: a host unreachable quoting the
 * segment being retransmitted undoes one backoff step and re-arms the
 * timer from its last transmission. */
static void test_unreachable_reverts_one_rto_backoff(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_drop(f, "c>s *", -1);
    assert_int_equal(sk_send(f->client, p.cfd, "hello", 5, 0), 5);
    /* a loss probe, then RTOs: wait for the second */
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    for (int i = 0; i < 300 && ti.tcpi_backoff < 2; i++) {
        sk_test_run_for(f, MSEC(5));
        ti = sk_test_tcp_info(f->client, p.cfd);
    }
    assert_int_equal(ti.tcpi_backoff, 2);
    sk_time_ns last = sk_test_last(f, "c>s P.")->time;
    inject_error_quoting(f, HOP_ADDR, 3, 1, 0, "c>s P.", 0);
    sk_test_run_for(f, MSEC(1));
    ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_backoff, 1);
    /* The next retransmission comes one un-doubled RTO after the last. */
    size_t n = sk_test_count(f, 0, "c>s P.");
    sk_test_run_until(f, last + (sk_time_ns)ti.tcpi_rto * 1000 - MSEC(2));
    assert_int_equal(sk_test_count(f, 0, "c>s P."), n);
    sk_test_run_for(f, MSEC(4));
    assert_int_equal(sk_test_count(f, 0, "c>s P."), n + 1);
}

/* A fragmentation-needed below route.min_pmtu (552): the route's MTU is
 * raised to 552 and locked, so IP_PMTUDISC_WANT segments go without DF.
 * tcp_v4_mtu_reduced keeps EMSGSIZE as a soft error only when DF still
 * applies (IP_PMTUDISC_DO); with WANT the locked route lets it go. */
static void test_tiny_mtu_locks_the_route_and_clears_df(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_test_drop(f, "c>s *", 1);
    static uint8_t buf[3000];
    assert_int_equal(sk_send(f->client, p.cfd, buf, 2000, 0), 2000);
    sk_test_run_for(f, MSEC(1));
    inject_error_quoting(f, HOP_ADDR, 3, 4, 300, "c>s .", 0);
    sk_test_run_for(f, MSEC(100));
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_pmtu, 552);
    assert_int_equal(ti.tcpi_snd_mss, 552 - 52);
    const sk_trace_entry *e = sk_test_last(f, "c>s * len 500");
    assert_non_null(e);
    assert_false(e->seg.df);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), 0);
    /* ip_no_pmtu_disc=2 ignores fragmentation-needed altogether */
    sk_test_sysctl(f->client, "net.ipv4.ip_no_pmtu_disc", "2");
    inject_error_quoting(f, HOP_ADDR, 3, 4, 100, "c>s .", 0);
    sk_test_run_for(f, MSEC(10));
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_pmtu, 552);
}

/* The learned MTU expires after net.ipv4.route.mtu_expires (600 s): the
 * next send finds the route back at 1500 and the MSS grows again (RFC
 * 1191 §6.3). */
static void test_learned_mtu_expires(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    small_hop(f, 1200, true);
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 100000, SEC(60)), 100000);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1148);
    sk_link_params clear;
    memset(&clear, 0, sizeof clear);
    sk_test_set_link(f, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, &clear);
    sk_test_run_for(f, SEC(590));
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 10000, SEC(10)), 10000);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1148);
    sk_test_run_for(f, SEC(11));
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 10000, SEC(10)), 10000);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_pmtu, 1500);
    assert_int_equal(ti.tcpi_snd_mss, 1448);
}

/* The per-destination cache is bounded: with echo replies rate-limited
 * per host, 1100 pinging addresses leave 1024 entries and 76 evictions. */
static void test_peer_cache_is_bounded(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->server, "net.ipv4.icmp_ratemask", "6169");
    uint8_t d[64], data[8] = {0};
    /* Ten every 20 ms: the global bucket (50 deep, 1000/s) keeps up, so
     * every host is looked up (and remembered). */
    for (uint32_t i = 0; i < 1100; i++) {
        size_t n = build_icmp(d, 0x0b000000u + i, SK_TEST_SERVER_ADDR, 8, 0, i, data, sizeof data);
        sk_test_inject_raw(f, d, n);
        if (i % 10 == 9)
            sk_test_run_for(f, MSEC(20));
    }
    sk_test_run_for(f, MSEC(10));
    assert_int_equal(sk_counter(f->server, "IcmpInEchos"), 1100);
    assert_int_equal(sk_counter(f->server, "IcmpOutRateLimitGlobal"), 0);
    assert_int_equal(sk_counter(f->server, "PmtuCacheEvictions"), 76);
    /* A burst of 150 at once: the bucket runs dry (each reply costs 0, 1
     * or 2 credits, at random as icmp_global_consume takes them). */
    for (uint32_t i = 0; i < 150; i++) {
        size_t n = build_icmp(d, 0x0c000000u + i, SK_TEST_SERVER_ADDR, 8, 0, i, data, sizeof data);
        sk_test_inject_raw(f, d, n);
    }
    sk_test_run_for(f, MSEC(1));
    assert_true(sk_counter(f->server, "IcmpOutRateLimitGlobal") > 0);
    assert_int_equal(sk_counter(f->server, "IcmpOutEchoReps") + sk_counter(f->server, "IcmpOutRateLimitGlobal") +
                         sk_counter(f->server, "IcmpOutRateLimitHost"),
                     1250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_reply_bytes, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_bad_icmp_counted_and_dropped, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_echo_reply_rate_limits, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_port_unreachable_in_syn_sent_refuses, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_window_icmp_ignored, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_soft_error_established, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_frag_needed_during_transfer, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_frag_needed_resends_only_longer_segments_without_sack, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_frag_needed_resends_only_longer_segments, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_passive_open_uses_the_cached_path_mtu, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_pmtudisc_dont_clears_df, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_black_hole_stalls_without_probing, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_black_hole_probing_recovers, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_black_hole_probing_recovers_v6, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_request_sock_errors, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_reverts_one_rto_backoff, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_tiny_mtu_locks_the_route_and_clears_df, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_learned_mtu_expires, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_peer_cache_is_bounded, sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
