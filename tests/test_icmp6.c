/*
 * ICMPv6 errors for TCP and the IPv6 path MTU, against Linux's
 * icmpv6_rcv / icmpv6_notify / tcp_v6_err / tcp_v6_mtu_reduced:
 * unreachables mapped to errno as icmpv6_err_convert does, the quoted
 * sequence checked (OutOfWindowIcmps), Packet Too Big lowering the MSS
 * to MTU - 60 (less timestamps) with what is in flight resent, a Packet
 * Too Big below IPV6_MIN_MTU dropped, bad checksums counted, and the
 * in-memory wire's hop sending Packet Too Big.  RFC 4821 probing through
 * an IPv6 black hole is test_icmp.c's, with IPv4's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "observe/ss.h"
#include "observe/trace.h"

#define MIB (1024 * 1024)

static void addr6(const char *text, uint8_t out[16])
{
    assert_int_equal(inet_pton(AF_INET6, text, out), 1);
}

#define ep6 sk_test_ep6

static int connect6(sk_stack *s, uint16_t port)
{
    int c = sk_socket_family(s, SK_AF_INET6);
    assert_true(c >= 0);
    sk_endpoint r = ep6("fd00::2", port);
    assert_int_equal(sk_connect(s, c, &r), -EINPROGRESS);
    return c;
}

/* An IPv6 datagram carrying ICMPv6 type/code, the 4-byte field after the
 * checksum (`rest`: the MTU of a Packet Too Big) and `body`. */
static size_t build_icmp6(uint8_t *out, const char *src, const char *dst, uint8_t type, uint8_t code, uint32_t rest,
                          const uint8_t *body, size_t blen)
{
    size_t mlen = 8 + blen;
    memset(out, 0, 48);
    out[0] = 0x60;
    out[4] = (uint8_t)(mlen >> 8);
    out[5] = (uint8_t)mlen;
    out[6] = 58;
    out[7] = 64;
    addr6(src, out + 8);
    addr6(dst, out + 24);
    uint8_t *m = out + 40;
    m[0] = type;
    m[1] = code;
    for (int i = 0; i < 4; i++)
        m[4 + i] = (uint8_t)(rest >> (24 - 8 * i));
    if (blen)
        memcpy(m + 8, body, blen);
    sk_test_icmp6_checksum(out);
    return 40 + mlen;
}

/* An ICMPv6 error to the client quoting its last segment matching desc
 * (the IPv6 header and the TCP header), its sequence moved by seq_shift;
 * `corrupt` flips a bit of the message after the checksum is set. */
static void inject6(sk_fixture *f, const char *from, uint8_t type, uint8_t code, uint32_t rest, const char *desc,
                    int32_t seq_shift, bool corrupt)
{
    const sk_trace_entry *e = sk_test_last(f, desc);
    assert_non_null(e);
    assert_int_equal(e->bytes[0] >> 4, 6);
    uint8_t q[60], d[160];
    assert_true(e->len >= sizeof q);
    memcpy(q, e->bytes, sizeof q);
    uint32_t seq = (uint32_t)q[44] << 24 | (uint32_t)q[45] << 16 | (uint32_t)q[46] << 8 | q[47];
    seq += (uint32_t)seq_shift;
    for (int i = 0; i < 4; i++)
        q[44 + i] = (uint8_t)(seq >> (24 - 8 * i));
    size_t n = build_icmp6(d, from, "fd00::1", type, code, rest, q, sizeof q);
    if (corrupt)
        d[n - 1] ^= 0x10;
    sk_test_inject_raw(f, d, n);
}

/* The n-th ICMPv6 datagram the wire saw sent from `from`, or NULL. */
static const sk_trace_entry *icmp6_entry(const sk_fixture *f, const char *from, size_t n)
{
    uint8_t a[16];
    addr6(from, a);
    for (size_t i = 0; i < f->trace_len; i++) {
        const sk_trace_entry *e = &f->trace[i];
        if (e->fate != SK_WIRE_SENT || e->len < 48 || (e->bytes[0] >> 4) != 6 || e->bytes[6] != 58)
            continue;
        if (!memcmp(e->bytes + 8, a, 16) && n-- == 0)
            return e;
    }
    return NULL;
}

static void hop6(sk_fixture *f, uint16_t mtu, bool icmp)
{
    sk_link_params lp;
    memset(&lp, 0, sizeof lp);
    lp.mtu = mtu;
    if (icmp)
        addr6("fd00::9", lp.mtu_icmp_from6);
    sk_test_set_link(f, SK_TEST_CLIENT_ADDR, SK_TEST_SERVER_ADDR, &lp);
}

/* ------------------------------------------------------------------ */

/* A Packet Too Big quoting the SYN: the retransmitted SYN offers what
 * fits the route (tcp_advertise_mss), 1400 - 60, and the connection
 * starts at that size. */
static void test_packet_too_big_in_syn_sent(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = sk_socket_family(f->server, SK_AF_INET6);
    sk_endpoint any = ep6("::", 80);
    assert_int_equal(sk_bind(f->server, l, &any), 0);
    assert_int_equal(sk_listen(f->server, l, 16), 0);
    sk_test_drop(f, "c>s S", 1);
    int fd = connect6(f->client, 80);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "c>s S seq 0 len 0");
    assert_int_equal(sk_test_last(f, "c>s S")->seg.opts.mss, 1440);
    inject6(f, "fd00::9", 2, 0, 1400, "c>s S", 0, false);
    sk_test_skip(f);
    ASSERT_RUN_UNTIL_STATE(f, f->client, fd, SK_TCP_ESTABLISHED, SEC(3));
    EXPECT_SEGMENTS(f, "c>s S seq 0 len 0", "s>c S. seq 0 ack 1 len 0", "c>s . seq 1 ack 1 len 0");
    assert_int_equal(sk_test_last(f, "c>s S")->seg.opts.mss, 1340);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, fd);
    assert_int_equal(ti.tcpi_pmtu, 1400);
    assert_int_equal(ti.tcpi_snd_mss, 1328);
    assert_int_equal(ti.tcpi_advmss, 1328); /* less timestamps, as tcp_rcv_synsent_state_process */
}

/* Port unreachable (code 4) quoting the SYN ends connect() with
 * ECONNREFUSED; the other codes and types as icmpv6_err_convert maps
 * them, each ending a handshake (tcp_v6_err does not look at "fatal"
 * for a socket in SYN_SENT). */
static void test_unreachable_in_syn_sent_sets_errno(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    static const struct {
        uint8_t type, code;
        int err;
    } cases[] = {
        {1, 4, ECONNREFUSED}, {1, 0, ENETUNREACH}, {1, 1, EACCES},     {1, 3, EHOSTUNREACH},
        {1, 5, EACCES},       {1, 9, EPROTO},      {3, 0, EHOSTUNREACH}, {4, 1, EPROTO},
    };
    sk_test_drop(f, "c>s S", -1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = connect6(f->client, 81);
        sk_test_run_for(f, MSEC(1));
        inject6(f, "fd00::2", cases[i].type, cases[i].code, 0, "c>s S", 0, false);
        sk_test_run_for(f, MSEC(1));
        if (sk_state(f->client, fd) != SK_TCP_CLOSE)
            fail_msg("type %u code %u left the socket in %d", cases[i].type, cases[i].code, sk_state(f->client, fd));
        assert_int_equal(sk_test_so_error(f->client, fd), cases[i].err);
        size_t mark = f->trace_len;
        sk_test_run_for(f, SEC(3));
        assert_int_equal(sk_test_count(f, mark, "c>s S"), 0); /* no SYN retransmission */
        assert_int_equal(sk_close(f->client, fd), 0);
    }
    assert_int_equal(sk_counter(f->client, "AttemptFails"), 8);
    assert_int_equal(sk_counter(f->client, "Icmp6InMsgs"), 8);
    assert_int_equal(sk_counter(f->client, "Icmp6InDestUnreachs"), 6);
    assert_int_equal(sk_counter(f->client, "Icmp6InType1"), 6);
    assert_int_equal(sk_counter(f->client, "Icmp6InTimeExcds"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InType3"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InParmProblems"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InType4"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InErrors"), 0);
    assert_int_equal(sk_counter(f->client, "Icmp6InCsumErrors"), 0);
}

/* The hop narrows to 1400 bytes mid-connection and says so: the MSS
 * drops to 1400 - 60 - 12 = 1328, the data in flight goes again at that
 * size, 16 MiB arrive without a timeout, and a new connection to the
 * same peer starts from the learned MTU. */
static void test_packet_too_big_during_transfer(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_conn_pair p = sk_test_establish6(f, 80);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1428);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_pmtu, 1500);
    hop6(f, 1400, true);
    sk_test_skip(f);
    size_t mark = f->trace_len;
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 16 * MIB, SEC(600)), 16 * MIB);

    const sk_trace_entry *first = sk_test_find(f, mark, "c>s . seq 1:1429 ack 1");
    assert_non_null(first);
    assert_int_equal(first->fate, SK_WIRE_TOO_BIG);
    /* The hop's Packet Too Big: 1280 bytes in all, from fd00::9 to the
     * sender, MTU 1400, quoting the first 1232 bytes of the datagram. */
    const sk_trace_entry *ptb = icmp6_entry(f, "fd00::9", 0);
    assert_non_null(ptb);
    assert_int_equal(ptb->len, 1280);
    assert_string_equal(sk_test_line(ptb), "IP6 fd00::9 > fd00::1: ICMP6, packet too big, mtu 1400, length 1240");
    uint8_t a[16];
    addr6("fd00::1", a);
    assert_memory_equal(ptb->bytes + 24, a, 16);
    assert_int_equal(ptb->bytes[7], 64);
    assert_int_equal(ptb->bytes[40], 2);
    assert_int_equal(ptb->bytes[41], 0);
    static const uint8_t mtu1400[4] = {0, 0, 0x05, 0x78};
    assert_memory_equal(ptb->bytes + 44, mtu1400, 4);
    assert_memory_equal(ptb->bytes + 48, first->bytes, 1232);

    const sk_trace_entry *resent = sk_test_find(f, ptb->index, "c>s . seq 1:1329 ack 1");
    assert_non_null(resent);
    assert_int_equal(resent->fate, SK_WIRE_SENT);
    assert_int_equal(sk_test_count(f, resent->index, "c>s * len 1428"), 0);
    assert_true(sk_test_count(f, ptb->index, "c>s * len 1328") > 12000);

    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_pmtu, 1400);
    assert_int_equal(ti.tcpi_snd_mss, 1328);
    int mtu = 0;
    size_t len = sizeof mtu;
    assert_int_equal(sk_getsockopt(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_MTU, &mtu, &len), 0);
    assert_int_equal(mtu, 1400);
    len = sizeof mtu;
    assert_int_equal(sk_getsockopt(f->server, p.sfd, SK_IPPROTO_IPV6, SK_IPV6_MTU, &mtu, &len), 0);
    assert_int_equal(mtu, 1500); /* the other way round nothing was too big */
    /* ss -tni shows it as for IPv4: the peer in brackets, pmtu and mss. */
    char *out = NULL;
    size_t outlen = 0;
    FILE *ssf = open_memstream(&out, &outlen);
    char *argv[] = {"ss", "-tni", NULL};
    assert_int_equal(sk_ss_run(f->client, sk_now(f->client), 2, argv, ssf, ssf), 0);
    fclose(ssf);
    if (!strstr(out, "[fd00::2]:80") || !strstr(out, " mss:1328 pmtu:1400 "))
        fail_msg("ss -tni:\n%s", out);
    free(out);
    size_t too_big = 0, ptbs = 0;
    for (size_t i = mark; i < f->trace_len; i++)
        too_big += f->trace[i].fate == SK_WIRE_TOO_BIG;
    while (icmp6_entry(f, "fd00::9", ptbs))
        ptbs++;
    assert_int_equal(ptbs, too_big);
    assert_int_equal(sk_counter(f->client, "Icmp6InPktTooBigs"), too_big);
    assert_int_equal(sk_counter(f->client, "Icmp6InType2"), too_big);
    assert_int_equal(sk_counter(f->client, "Icmp6InCsumErrors"), 0);
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 0);
    printf("IPv6 PTB mid-transfer: %zu datagrams too big, mss 1428 -> %u\n", too_big, ti.tcpi_snd_mss);

    /* A second connection: its SYN offers 1340 (1400 - 60) and it sends
     * 1328-byte segments from the start. */
    int fd2 = connect6(f->client, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, fd2, SK_TCP_ESTABLISHED, SEC(1));
    const sk_trace_entry *syn = sk_test_last(f, "c>s S");
    assert_non_null(syn);
    assert_int_equal(syn->seg.opts.mss, 1340);
    assert_int_equal(sk_test_tcp_info(f->client, fd2).tcpi_pmtu, 1400);
    assert_int_equal(sk_test_tcp_info(f->client, fd2).tcpi_snd_mss, 1328);
    int l2 = sk_socket_family(f->client, SK_AF_INET6);
    len = sizeof mtu;
    assert_int_equal(sk_getsockopt(f->client, l2, SK_IPPROTO_IPV6, SK_IPV6_MTU, &mtu, &len), -ENOTCONN);
}

static void count_ptb_in(void *ctx, const sk_event *ev)
{
    if (ev->type == SK_EV_SEGMENT_IN && ev->len >= 48 && ev->data[6] == 58 && ev->data[40] == 2)
        ++*(int *)ctx;
}

/* A Packet Too Big below IPV6_MIN_MTU is dropped by tcp_v6_err (Linux
 * since 5.14); one at exactly 1280 is taken: MSS 1280 - 72 = 1208, and
 * the segment in flight goes again cut to it; a larger one later is not
 * taken, and the learned MTU expires after 600 s. */
static void test_packet_too_big_below_1280(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_conn_pair p = sk_test_establish6(f, 80);
    static uint8_t buf[4000];
    memset(buf, 'x', sizeof buf);
    sk_test_skip(f);
    sk_test_drop(f, "c>s P.", 1);
    assert_int_equal(sk_send(f->client, p.cfd, buf, 1428, 0), 1428);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "c>s P. seq 1:1429 ack 1");
    size_t mark = f->trace_len;
    int seen = 0;
    f->on_event = count_ptb_in;
    f->event_ctx = &seen;
    inject6(f, "fd00::9", 2, 0, 1000, "c>s P. seq 1:1429", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(seen, 1); /* an event for traces and captures, as for ICMPv4 */
    f->on_event = NULL;
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_snd_mss, 1428);
    assert_int_equal(ti.tcpi_pmtu, 1500);
    assert_int_equal(sk_counter(f->client, "Icmp6InPktTooBigs"), 1);
    assert_int_equal(sk_counter(f->client, "OutOfWindowIcmps"), 0);
    assert_int_equal(sk_test_count(f, mark, "c>s *"), 0);

    inject6(f, "fd00::9", 2, 0, 1280, "c>s P. seq 1:1429", 0, false);
    sk_test_skip(f); /* past the injected message */
    sk_test_run_for(f, MSEC(100));
    ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_snd_mss, 1208);
    assert_int_equal(ti.tcpi_pmtu, 1280);
    EXPECT_SEGMENTS(f, "c>s . seq 1:1209 ack 1", "c>s P. seq 1209:1429 ack 1", "s>c . seq 1 ack 1209",
                    "s>c . seq 1 ack 1429");
    assert_int_equal(sk_counter(f->client, "TCPTimeouts"), 0);
    /* A larger MTU later does not raise it (only decreases are taken). */
    inject6(f, "fd00::9", 2, 0, 1400, "c>s P. seq 1209:1429", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1208);
    /* The learned MTU lives net.ipv6.route.mtu_expires (600 s): just
     * before, segments are still cut to it; after, full size again. */
    assert_int_equal(sk_test_drain(f->server, p.sfd, buf, sizeof buf), 1428);
    sk_test_run_for(f, SEC(590));
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 10000, SEC(5)), 10000);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1208);
    sk_test_run_for(f, SEC(11));
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 10000, SEC(5)), 10000);
    ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_pmtu, 1500);
    assert_int_equal(ti.tcpi_snd_mss, 1428);
}

/* Quoting a sequence outside SND.UNA..SND.NXT: counted and ignored. */
static void test_out_of_window_icmp6_ignored(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_conn_pair p = sk_test_establish6(f, 80);
    static uint8_t buf[4000];
    memset(buf, 'x', sizeof buf);
    sk_test_drop(f, "c>s *", -1);
    assert_int_equal(sk_send(f->client, p.cfd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    sk_test_run_for(f, MSEC(1));
    inject6(f, "fd00::9", 2, 0, 1280, "c>s .", 100000, false);
    inject6(f, "fd00::9", 1, 0, 0, "c>s .", -100000, false);
    inject6(f, "fd00::9", 2, 0, 1000, "c>s .", 100000, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->client, "OutOfWindowIcmps"), 3);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_snd_mss, 1428);
    assert_int_equal(ti.tcpi_pmtu, 1500);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), 0);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    /* In window, established: a soft error SO_ERROR reads once. */
    inject6(f, "fd00::9", 1, 3, 0, "c>s .", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), EHOSTUNREACH);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), 0);
}

/* A bad checksum: InCsumErrors and InErrors, nothing else.  A quote too
 * short for the TCP ports, and one quoting no connection: InErrors.  One
 * quoting UDP: consumed silently (no error handler). */
static void test_bad_icmp6_counted(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_conn_pair p = sk_test_establish6(f, 80);
    assert_int_equal(sk_send(f->client, p.cfd, "hello", 5, 0), 5);
    sk_test_drop(f, "c>s P.", 1);
    sk_test_run_for(f, MSEC(1));
    inject6(f, "fd00::9", 2, 0, 1280, "c>s P.", 0, true);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->client, "Icmp6InCsumErrors"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InErrors"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InMsgs"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InPktTooBigs"), 0);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1428);

    const sk_trace_entry *e = sk_test_last(f, "c>s P.");
    uint8_t q[60], d[160];
    memcpy(q, e->bytes, sizeof q);
    /* 40 + 4 bytes: no room for the 8 bytes of TCP Linux needs. */
    size_t n = build_icmp6(d, "fd00::9", "fd00::1", 2, 0, 1280, q, 44);
    sk_test_inject_raw(f, d, n);
    /* A connection that does not exist (another port). */
    q[41] ^= 0x01;
    n = build_icmp6(d, "fd00::9", "fd00::1", 1, 4, 0, q, sizeof q);
    sk_test_inject_raw(f, d, n);
    /* UDP */
    q[41] ^= 0x01;
    q[6] = 17;
    n = build_icmp6(d, "fd00::9", "fd00::1", 1, 4, 0, q, sizeof q);
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->client, "Icmp6InErrors"), 3);
    assert_int_equal(sk_counter(f->client, "Icmp6InMsgs"), 4);
    assert_int_equal(sk_counter(f->client, "Icmp6InCsumErrors"), 1);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), 0);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1428);
    /* The same quote behind a destination-options header (8 bytes) is
     * found: the upper layer is looked up through it. */
    uint8_t qx[68];
    memcpy(qx, e->bytes, 40);
    qx[6] = 60;
    memset(qx + 40, 0, 8);
    qx[40] = 6;
    qx[42] = 1; /* PadN filling the header */
    qx[43] = 4;
    memcpy(qx + 48, e->bytes + 40, 20);
    n = build_icmp6(d, "fd00::9", "fd00::1", 2, 0, 1300, qx, sizeof qx);
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1228);
    assert_int_equal(sk_counter(f->client, "Icmp6InErrors"), 3);
}

/* Informational messages other than echo: counted by name and type as
 * /proc/net/snmp6 shows them, consumed; an unknown error type (100)
 * still goes to the connection it quotes (EPROTO, a soft error). */
static void test_informational_counted_unknown_error_delivered(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_conn_pair p = sk_test_establish6(f, 80);
    uint8_t d[160], target[16];
    addr6("fd00::1", target);
    size_t n = build_icmp6(d, "fd00::9", "fd00::1", 135, 0, 0, target, 16); /* neighbor solicitation */
    sk_test_inject_raw(f, d, n);
    n = build_icmp6(d, "fd00::9", "fd00::1", 133, 0, 0, NULL, 0); /* router solicitation */
    sk_test_inject_raw(f, d, n);
    n = build_icmp6(d, "fd00::9", "fd00::1", 200, 0, 0, NULL, 0); /* unknown informational */
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->client, "Icmp6InMsgs"), 3);
    assert_int_equal(sk_counter(f->client, "Icmp6InNeighborSolicits"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InType135"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InRouterSolicits"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InType133"), 1);
    assert_int_equal(sk_counter(f->client, "Icmp6InErrors"), 0);
    assert_int_equal(sk_counter(f->client, "Icmp6OutMsgs"), 0);
    sk_test_drop(f, "c>s P.", 1);
    assert_int_equal(sk_send(f->client, p.cfd, "x", 1, 0), 1);
    sk_test_run_for(f, MSEC(1));
    inject6(f, "fd00::9", 100, 0, 0, "c>s P.", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), EPROTO);
}

/* tcp_req_err over IPv6: the quoted sequence must be the SYN-ACK's ISN;
 * "no route" and Packet Too Big are not fatal (icmpv6_err_convert), so
 * the request stays; port unreachable is, so it goes. */
static void test_request_sock_errors_v6(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int l = sk_socket_family(f->server, SK_AF_INET6);
    assert_true(l >= 0);
    sk_endpoint any = ep6("::", 80);
    assert_int_equal(sk_bind(f->server, l, &any), 0);
    assert_int_equal(sk_listen(f->server, l, 16), 0);
    sk_test_drop(f, "s>c S.", -1);
    int fd = connect6(f->client, 80);
    sk_test_run_for(f, MSEC(15));
    const sk_trace_entry *synack = sk_test_last(f, "s>c S.");
    assert_non_null(synack);
    uint8_t q[60], d[160];
    memcpy(q, synack->bytes, sizeof q);
    q[47] ^= 1; /* ISN + 1 */
    size_t n = build_icmp6(d, "fd00::9", "fd00::2", 1, 4, 0, q, sizeof q);
    sk_test_inject_raw(f, d, n);
    q[47] ^= 1;
    n = build_icmp6(d, "fd00::9", "fd00::2", 1, 0, 0, q, sizeof q);
    sk_test_inject_raw(f, d, n);
    n = build_icmp6(d, "fd00::9", "fd00::2", 2, 0, 1280, q, sizeof q);
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->server, "OutOfWindowIcmps"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 0);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 1);
    n = build_icmp6(d, "fd00::9", "fd00::2", 1, 4, 0, q, sizeof q);
    sk_test_inject_raw(f, d, n);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    assert_int_equal(sk_state(f->client, fd), SK_TCP_SYN_SENT); /* the client learns nothing */
    assert_int_equal(sk_counter(f->server, "Icmp6InErrors"), 0);
}

/* RFC 6069 over IPv6: "no route" (code 0) quoting the segment being
 * retransmitted undoes one backoff step; "address unreachable" (code 3)
 * does not (tcp_v6_err looks at ICMPV6_NOROUTE only). */
static void test_no_route_reverts_one_rto_backoff(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_conn_pair p = sk_test_establish6(f, 80);
    sk_test_drop(f, "c>s *", -1);
    assert_int_equal(sk_send(f->client, p.cfd, "hello", 5, 0), 5);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    for (int i = 0; i < 300 && ti.tcpi_backoff < 2; i++) {
        sk_test_run_for(f, MSEC(5));
        ti = sk_test_tcp_info(f->client, p.cfd);
    }
    assert_int_equal(ti.tcpi_backoff, 2);
    inject6(f, "fd00::9", 1, 3, 0, "c>s P.", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_backoff, 2);
    sk_time_ns last = sk_test_last(f, "c>s P.")->time;
    inject6(f, "fd00::9", 1, 0, 0, "c>s P.", 0, false);
    sk_test_run_for(f, MSEC(1));
    ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_backoff, 1);
    size_t n = sk_test_count(f, 0, "c>s P.");
    sk_test_run_until(f, last + (sk_time_ns)ti.tcpi_rto * 1000 - MSEC(2));
    assert_int_equal(sk_test_count(f, 0, "c>s P."), n);
    sk_test_run_for(f, MSEC(4));
    assert_int_equal(sk_test_count(f, 0, "c>s P."), n + 1);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), ENETUNREACH); /* the last soft error */
}

/* Mangled errors by the thousand, each with a valid checksum: types 1-4
 * and others, any code and MTU, the quote cut anywhere and its bytes
 * (next headers, lengths, ports, sequence) flipped.  Nothing may crash,
 * every message is counted once, the established connection survives
 * (all of these are soft errors there), and its path MTU never goes
 * below IPV6_MIN_MTU. */
static void test_random_icmp6_errors_are_safe(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    sk_conn_pair p = sk_test_establish6(f, 80);
    static uint8_t buf[20000];
    memset(buf, 'r', sizeof buf);
    sk_test_drop(f, "c>s *", -1);
    assert_int_equal(sk_send(f->client, p.cfd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    sk_test_run_for(f, MSEC(1));
    const sk_trace_entry *e = sk_test_last(f, "c>s .");
    assert_non_null(e);
    uint8_t base[80];
    memcpy(base, e->bytes, sizeof base);
    f->recording = false;
    uint32_t x = 2463534242u;
    const int rounds = 5000;
    for (int i = 0; i < rounds; i++) {
        uint8_t q[80], d[160];
        memcpy(q, base, sizeof q);
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int flips = (int)(x % 4);
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            size_t at = x % sizeof q;
            if (at >= 8 && at < 40)
                at = 6; /* keep the addresses: next header instead */
            q[at] = (uint8_t)(x >> 8);
        }
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        static const uint8_t types[] = {1, 2, 3, 4, 1, 2, 0, 5, 127, 128};
        uint8_t type = types[x % sizeof types];
        uint8_t code = (uint8_t)((x >> 8) % 10);
        uint32_t rest = (x >> 12) & 1 ? (x >> 13) % 2000 : x * 2654435761u;
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t qlen = x % (sizeof q + 1);
        size_t n = build_icmp6(d, "fd00::9", "fd00::1", type, code, rest, q, qlen);
        sk_test_inject_raw(f, d, n);
        sk_test_run_for(f, 0);
    }
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->client, "Icmp6InMsgs"), rounds);
    assert_int_equal(sk_counter(f->client, "Icmp6InCsumErrors"), 0);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_true(ti.tcpi_pmtu >= 1280);
    assert_true(ti.tcpi_snd_mss >= 1280 - 72);
    printf("random ICMPv6 errors: %d sent, %llu InErrors, %llu out of window, pmtu %u\n", rounds,
           (unsigned long long)sk_counter(f->client, "Icmp6InErrors"),
           (unsigned long long)sk_counter(f->client, "OutOfWindowIcmps"), ti.tcpi_pmtu);
}

/* IPV6_MTU_DISCOVER (Linux's values, default WANT) and IPV6_RECVERR,
 * which are the AF_INET6 socket's own: INTERFACE and OMIT ignore a
 * Packet Too Big altogether (ip6_sk_accept_pmtu), the others take it;
 * IPV6_RECVERR makes an ICMPv6 error a hard error (the next call returns
 * it) where IP_RECVERR on the same socket does not (tcp_v6_err reads
 * the IPv6 one). */
static int get_int6(sk_stack *s, int fd, int name)
{
    int v = -7;
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(s, fd, SK_IPPROTO_IPV6, name, &v, &len), 0);
    assert_int_equal(len, sizeof v);
    return v;
}

static int set_int(sk_stack *s, int fd, int level, int name, int v)
{
    return sk_setsockopt(s, fd, level, name, &v, sizeof v);
}

static void test_ipv6_mtu_discover_and_recverr(void **state)
{
    sk_fixture *f = *state;
    sk_test_setup_v6(f);
    int s4 = sk_socket_family(f->client, SK_AF_INET);
    assert_int_equal(set_int(f->client, s4, SK_IPPROTO_IPV6, SK_IPV6_MTU_DISCOVER, 2), -ENOPROTOOPT);
    sk_conn_pair p = sk_test_establish6(f, 80);
    assert_int_equal(get_int6(f->client, p.cfd, SK_IPV6_MTU_DISCOVER), SK_IPV6_PMTUDISC_WANT);
    assert_int_equal(get_int6(f->client, p.cfd, SK_IPV6_RECVERR), 0);
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_MTU_DISCOVER, 6), -EINVAL);
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_MTU_DISCOVER, -1), -EINVAL);
    short two = 2;
    assert_int_equal(sk_setsockopt(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_MTU_DISCOVER, &two, sizeof two),
                     -EINVAL);
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_MTU_DISCOVER, SK_IPV6_PMTUDISC_OMIT), 0);
    assert_int_equal(get_int6(f->client, p.cfd, SK_IPV6_MTU_DISCOVER), SK_IPV6_PMTUDISC_OMIT);
    /* IP_MTU_DISCOVER is another option, with its own value. */
    int v = -1;
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(f->client, p.cfd, SK_IPPROTO_IP, SK_IP_MTU_DISCOVER, &v, &len), 0);
    assert_int_equal(v, SK_IP_PMTUDISC_WANT);

    static uint8_t buf[4000];
    memset(buf, 'x', sizeof buf);
    sk_test_drop(f, "c>s *", -1);
    assert_int_equal(sk_send(f->client, p.cfd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    sk_test_run_for(f, MSEC(1));
    inject6(f, "fd00::9", 2, 0, 1400, "c>s .", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->client, "Icmp6InPktTooBigs"), 1);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1428);
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_pmtu, 1500);
    assert_int_equal(get_int6(f->client, p.cfd, SK_IPV6_MTU), 1500); /* not in the route either */
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_MTU_DISCOVER, SK_IPV6_PMTUDISC_INTERFACE), 0);
    inject6(f, "fd00::9", 2, 0, 1400, "c>s .", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1428);
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_MTU_DISCOVER, SK_IPV6_PMTUDISC_PROBE), 0);
    inject6(f, "fd00::9", 2, 0, 1400, "c>s .", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_tcp_info(f->client, p.cfd).tcpi_snd_mss, 1328);
    assert_int_equal(get_int6(f->client, p.cfd, SK_IPV6_MTU), 1400);

    /* IP_RECVERR does not make an ICMPv6 error hard: soft, SO_ERROR. */
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IP, SK_IP_RECVERR, 1), 0);
    inject6(f, "fd00::9", 1, 3, 0, "c>s .", 0, false);
    sk_test_run_for(f, MSEC(1));
    uint8_t rb[8];
    assert_int_equal(sk_recv(f->client, p.cfd, rb, sizeof rb, 0), -EAGAIN);
    assert_int_equal(sk_test_so_error(f->client, p.cfd), EHOSTUNREACH);
    /* IPV6_RECVERR does: the next call returns it. */
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_RECVERR, 1), 0);
    assert_int_equal(get_int6(f->client, p.cfd, SK_IPV6_RECVERR), 1);
    inject6(f, "fd00::9", 1, 3, 0, "c>s .", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_recv(f->client, p.cfd, rb, sizeof rb, 0), -EHOSTUNREACH);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(set_int(f->client, p.cfd, SK_IPPROTO_IPV6, SK_IPV6_RECVERR, 0), 0);
    inject6(f, "fd00::9", 1, 3, 0, "c>s .", 0, false);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_recv(f->client, p.cfd, rb, sizeof rb, 0), -EAGAIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unreachable_in_syn_sent_sets_errno, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_packet_too_big_during_transfer, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_packet_too_big_in_syn_sent, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_packet_too_big_below_1280, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_window_icmp6_ignored, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_bad_icmp6_counted, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_request_sock_errors_v6, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_informational_counted_unknown_error_delivered, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_route_reverts_one_rto_backoff, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_random_icmp6_errors_are_safe, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_mtu_discover_and_recverr, sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
