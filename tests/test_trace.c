/*
 * Trace lines and capture files.
 *
 * Every golden datagram line below is what tcpdump 4.99 -nn prints for
 * the same datagram (checked by writing the datagrams to a pcap and
 * reading it back with `tcpdump -nn -r`), so the trace can be diffed
 * against a capture taken on Linux.  Two deliberate differences are noted
 * where they occur: tcpdump decodes UDP/ICMP (synack prints
 * "ip-proto-N"), and it leaves a stray '>' after a truncated TS option.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "observe/pcap.h"
#include "observe/trace.h"
#include "synack/packet.h"
#include "synack/synack.h"

#ifdef SYNACK_HAVE_PCAP
#include <pcap/pcap.h>
#endif

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define CLIENT IP(10, 0, 0, 1)
#define SERVER IP(10, 0, 0, 2)
#define LOOPBACK IP(127, 0, 0, 1)
/* 10:00:00 as nanoseconds since midnight, the demo's starting time. */
#define TEN_AM (36000ull * SK_NSEC_PER_SEC)
#define USEC(x) ((sk_time_ns)(x) * SK_NSEC_PER_USEC)

/* Linux's SYN option block with timestamps: mss, sackOK, TS, nop, wscale. */
static size_t linux_syn_options(uint8_t *o, uint16_t mss, uint32_t ts_val, uint32_t ts_ecr, uint8_t wscale)
{
    const uint8_t head[] = {2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 4, 2, 8, 10};
    memcpy(o, head, sizeof(head));
    for (int i = 0; i < 4; i++) {
        o[8 + i] = (uint8_t)(ts_val >> (24 - 8 * i));
        o[12 + i] = (uint8_t)(ts_ecr >> (24 - 8 * i));
    }
    o[16] = 1;
    o[17] = 3;
    o[18] = 3;
    o[19] = wscale;
    return 20;
}

/* Linux's option block on established segments: nop, nop, TS. */
static size_t linux_ts_options(uint8_t *o, uint32_t ts_val, uint32_t ts_ecr)
{
    o[0] = 1;
    o[1] = 1;
    o[2] = 8;
    o[3] = 10;
    for (int i = 0; i < 4; i++) {
        o[4 + i] = (uint8_t)(ts_val >> (24 - 8 * i));
        o[8 + i] = (uint8_t)(ts_ecr >> (24 - 8 * i));
    }
    return 12;
}

typedef struct built {
    uint8_t bytes[1600];
    size_t len;
} built;

static built build(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint16_t flags, uint32_t seq,
                   uint32_t ack, uint16_t win, const uint8_t *opts, size_t opts_len, const char *payload)
{
    built b;
    sk_segment_spec spec = {
        .src = src,
        .dst = dst,
        .sport = sport,
        .dport = dport,
        .seq = seq,
        .ack = ack,
        .flags = flags,
        .window = win,
        .df = true,
        .options = opts,
        .options_len = opts_len,
        .payload = (const uint8_t *)payload,
        .payload_len = payload ? strlen(payload) : 0,
    };
    b.len = sk_build_segment(&spec, b.bytes, sizeof(b.bytes));
    assert_true(b.len > 0);
    return b;
}

static void expect_line(sk_trace *t, sk_time_ns now, const built *b, const char *want)
{
    char line[SK_TRACE_LINE_MAX];
    size_t n = sk_trace_format_datagram(t, now, b->bytes, b->len, line, sizeof(line));
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
}

static void expect_raw_line(sk_trace *t, const uint8_t *d, size_t len, const char *want)
{
    char line[SK_TRACE_LINE_MAX];
    size_t n = sk_trace_format_datagram(t, TEN_AM, d, len, line, sizeof(line));
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
}

/* ------------------------------------------------------------------ */

static void test_syn_prints_linux_option_block(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    uint8_t o[40];
    size_t ol = linux_syn_options(o, 1460, 100, 0, 7);
    built syn = build(CLIENT, 40000, SERVER, 80, SK_TH_SYN, 1000, 0, 64240, o, ol, NULL);
    expect_line(t, TEN_AM, &syn,
                "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, "
                "options [mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7], length 0");
    /* A bare SYN carries no ACK, so tcpdump learns nothing from it. */
    assert_int_equal(sk_trace_conversations(t), 0);
    sk_trace_free(t);
}

/* SYN-ACK absolute, then everything relative to each side's ISN: the
 * pure ACK shows ack 1, data shows seq 1:19, then FIN and RST+ACK. */
static void test_handshake_data_fin_rst_relative(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    uint8_t o[40];
    size_t ol = linux_syn_options(o, 1460, 200, 100, 7);
    built synack = build(SERVER, 80, CLIENT, 40000, SK_TH_SYN | SK_TH_ACK, 5000, 1001, 65160, o, ol, NULL);
    expect_line(t, TEN_AM + USEC(100), &synack,
                "10:00:00.000100 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, win 65160, "
                "options [mss 1460,sackOK,TS val 200 ecr 100,nop,wscale 7], length 0");
    assert_int_equal(sk_trace_conversations(t), 1);

    ol = linux_ts_options(o, 101, 200);
    built ack = build(CLIENT, 40000, SERVER, 80, SK_TH_ACK, 1001, 5001, 502, o, ol, NULL);
    expect_line(t, TEN_AM + USEC(200), &ack,
                "10:00:00.000200 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, "
                "options [nop,nop,TS val 101 ecr 200], length 0");

    built data = build(CLIENT, 40000, SERVER, 80, SK_TH_PSH | SK_TH_ACK, 1001, 5001, 502, o, ol,
                       "0123456789abcdefgh");
    expect_line(t, TEN_AM + USEC(300), &data,
                "10:00:00.000300 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:19, ack 1, win 502, "
                "options [nop,nop,TS val 101 ecr 200], length 18: HTTP");

    built fin = build(CLIENT, 40000, SERVER, 80, SK_TH_FIN | SK_TH_ACK, 1019, 5001, 502, NULL, 0, NULL);
    expect_line(t, TEN_AM + USEC(400), &fin,
                "10:00:00.000400 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [F.], seq 19, ack 1, win 502, length 0");

    built rst = build(SERVER, 80, CLIENT, 40000, SK_TH_RST | SK_TH_ACK, 5001, 1020, 0, NULL, 0, NULL);
    expect_line(t, TEN_AM + USEC(500), &rst,
                "10:00:00.000500 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [R.], seq 1, ack 20, win 0, length 0");

    /* A bare RST has no ACK: tcpdump prints its sequence number absolute. */
    built bare_rst = build(CLIENT, 40000, SERVER, 80, SK_TH_RST, 1020, 0, 0, NULL, 0, NULL);
    expect_line(t, TEN_AM + USEC(600), &bare_rst,
                "10:00:00.000600 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [R], seq 1020, win 0, length 0");
    sk_trace_free(t);
}

/* SACK blocks are printed relative to the peer's ISN ("sack 1 {a:b}"). */
static void test_sack_blocks_relative_and_absolute(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    sk_trace *abs_t = sk_trace_new(SK_TRACE_ABSOLUTE_SEQ);
    built synack = build(SERVER, 80, CLIENT, 40000, SK_TH_SYN | SK_TH_ACK, 5000, 1001, 65160, NULL, 0, NULL);
    expect_line(t, TEN_AM, &synack,
                "10:00:00.000000 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, win 65160, length 0");
    const uint8_t sack1[] = {1, 1, 5, 10, 0, 0, 0x04, 0x4c, 0, 0, 0x04, 0xb0}; /* {1100:1200} */
    built ack1 = build(SERVER, 80, CLIENT, 40000, SK_TH_ACK, 5001, 1035, 502, sack1, sizeof(sack1), NULL);
    expect_line(t, TEN_AM, &ack1,
                "10:00:00.000000 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 35, win 502, "
                "options [nop,nop,sack 1 {100:200}], length 0");
    expect_line(abs_t, TEN_AM, &ack1,
                "10:00:00.000000 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [.], ack 1035, win 502, "
                "options [nop,nop,sack 1 {1100:1200}], length 0");

    /* From the other side, blocks are in the server's space. */
    const uint8_t sack2[] = {1, 1, 5, 18, 0, 0, 0x13, 0x92, 0, 0, 0x13, 0x9c, 0, 0, 0x13, 0xa6, 0, 0, 0x13, 0xb0};
    built ack2 = build(CLIENT, 40000, SERVER, 80, SK_TH_ACK, 1035, 5001, 502, sack2, sizeof(sack2), NULL);
    expect_line(t, TEN_AM, &ack2,
                "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 502, "
                "options [nop,nop,sack 2 {10:20}{30:40}], length 0");
    sk_trace_free(t);
    sk_trace_free(abs_t);
}

static void test_flag_letters_in_tcpdump_order(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(SK_TRACE_ABSOLUTE_SEQ);
    built none = build(CLIENT, 1234, SERVER, 5678, 0, 7, 9, 3, NULL, 0, NULL);
    expect_line(t, TEN_AM, &none, "10:00:00.000000 IP 10.0.0.1.1234 > 10.0.0.2.5678: Flags [none], win 3, length 0");
    built fpa = build(CLIENT, 1234, SERVER, 5678, SK_TH_FIN | SK_TH_PSH | SK_TH_ACK, 7, 9, 3, NULL, 0, NULL);
    expect_line(t, TEN_AM, &fpa,
                "10:00:00.000000 IP 10.0.0.1.1234 > 10.0.0.2.5678: Flags [FP.], seq 7, ack 9, win 3, length 0");
    built sew = build(CLIENT, 1234, SERVER, 5678, SK_TH_SYN | SK_TH_ECE | SK_TH_CWR, 7, 0, 3, NULL, 0, NULL);
    expect_line(t, TEN_AM, &sew, "10:00:00.000000 IP 10.0.0.1.1234 > 10.0.0.2.5678: Flags [SEW], seq 7, win 3, length 0");
    built urg = build(CLIENT, 1234, SERVER, 5678, SK_TH_URG | SK_TH_ACK | SK_TH_PSH, 7, 9, 3, NULL, 0, NULL);
    expect_line(t, TEN_AM, &urg,
                "10:00:00.000000 IP 10.0.0.1.1234 > 10.0.0.2.5678: Flags [P.U], ack 9, win 3, urg 0, length 0");
    /* tcpdump ignores the NS bit (RFC 3540, historic). */
    built ns = build(CLIENT, 1234, SERVER, 5678, SK_TH_NS | SK_TH_ACK, 7, 9, 3, NULL, 0, NULL);
    expect_line(t, TEN_AM, &ns, "10:00:00.000000 IP 10.0.0.1.1234 > 10.0.0.2.5678: Flags [.], ack 9, win 3, length 0");
    sk_trace_free(t);
}

static void test_odd_options(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(SK_TRACE_ABSOLUTE_SEQ);
    const uint8_t unknown[] = {99, 4, 1, 2};
    built b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, unknown, sizeof(unknown), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [unknown-99 0x0102], length 0");
    /* eol ends the walk: the padding after it is not shown. */
    const uint8_t eol[] = {2, 4, 5, 0xb4, 1, 0, 0, 0};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, eol, sizeof(eol), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [mss 1460,nop,eol], length 0");
    /* A known option with a surprising length: tcpdump reads what it
     * expects, then notes the length the option claimed. */
    const uint8_t long_mss[] = {2, 6, 5, 0xb4, 0, 0, 0, 0};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, long_mss, sizeof(long_mss), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [mss 1460[len 6],eol], length 0");
    /* An option overrunning the header ends the line with [bad opt]. */
    const uint8_t overrun[] = {1, 1, 2, 4};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, overrun, sizeof(overrun), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, options [nop,nop,[bad opt]]");
    const uint8_t zero_len[] = {2, 0, 1, 1};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, zero_len, sizeof(zero_len), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, options [[bad opt]");
    const uint8_t short_ts[] = {8, 6, 0, 0, 0, 1, 1, 1};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, short_ts, sizeof(short_ts), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, options [TS[bad opt]");
    const uint8_t bad_sack[] = {5, 6, 0, 0, 0, 5, 1, 1};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, bad_sack, sizeof(bad_sack), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [sack invalid sack,nop,nop], length 0");
    const uint8_t tfo[] = {34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, tfo, sizeof(tfo), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [tfo  cookie 0102030405060708,nop,nop], length 0");
    /* RFC 6994's kind 254 carrying Fast Open (magic 0xF989), and another
     * magic, as tcpdump 4.99 prints them. */
    const uint8_t tfo_exp[] = {254, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, tfo_exp, sizeof(tfo_exp), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [exp-tfo cookie 0102030405060708], length 0");
    const uint8_t tfo_exp_req[] = {254, 4, 0xf9, 0x89};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, tfo_exp_req, sizeof(tfo_exp_req), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [exp-tfo cookiereq], length 0");
    const uint8_t exp_other[] = {254, 4, 0x12, 0x34};
    b = build(CLIENT, 1111, SERVER, 2222, SK_TH_ACK, 1, 1, 10, exp_other, sizeof(exp_other), NULL);
    expect_line(t, TEN_AM, &b,
                "10:00:00.000000 IP 10.0.0.1.1111 > 10.0.0.2.2222: Flags [.], ack 1, win 10, "
                "options [exp-1234], length 0");
    sk_trace_free(t);
}

static void test_truncated_and_malformed_datagrams(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(SK_TRACE_ABSOLUTE_SEQ);
    uint8_t o[40];
    size_t ol = linux_syn_options(o, 1460, 100, 0, 7);
    built syn = build(CLIENT, 40000, SERVER, 80, SK_TH_SYN, 1000, 0, 64240, o, ol, NULL);
    assert_int_equal(syn.len, 60);

    /* The IP total length promises 12 bytes more than there are
     * (tcpdump 4.99.3 also prints a stray '>' at the end of this one). */
    expect_raw_line(t, syn.bytes, 48,
                    "10:00:00.000000 IP truncated-ip - 12 bytes missing! 10.0.0.1.40000 > 10.0.0.2.80: "
                    "Flags [S], seq 1000, win 64240, options [mss 1460,sackOK,TS [|tcp]");
    /* Cut inside the TCP header, before and after the ports. */
    expect_raw_line(t, syn.bytes, 30,
                    "10:00:00.000000 IP truncated-ip - 30 bytes missing! 10.0.0.1.40000 > 10.0.0.2.80:  [|tcp]");
    expect_raw_line(t, syn.bytes, 20,
                    "10:00:00.000000 IP truncated-ip - 40 bytes missing! 10.0.0.1 > 10.0.0.2: [|tcp]");
    /* Not even an IP header. */
    expect_raw_line(t, syn.bytes, 10, "10:00:00.000000 IP  [|ip]");
    expect_raw_line(t, syn.bytes, 0, "10:00:00.000000 IP  [|ip]");
    expect_raw_line(t, NULL, 0, "10:00:00.000000 IP  [|ip]");

    uint8_t bad[60];
    memcpy(bad, syn.bytes, 60);
    bad[0] = 0x44; /* IHL 4 */
    expect_raw_line(t, bad, 60, "10:00:00.000000 IP bad-hlen 16");
    memcpy(bad, syn.bytes, 60);
    bad[2] = 0;
    bad[3] = 10; /* total length below the header */
    expect_raw_line(t, bad, 60, "10:00:00.000000 IP bad-len 10");
    memcpy(bad, syn.bytes, 60);
    bad[0] = 0x55;
    expect_raw_line(t, bad, 60, "10:00:00.000000 unknown ip 5");
    memcpy(bad, syn.bytes, 60);
    bad[32] = 0x40; /* data offset 4: 16-byte TCP header */
    expect_raw_line(t, bad, 60,
                    "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80:  tcp 24 [bad hdr length 16 - too short, < 20]");
    memcpy(bad, syn.bytes, 60);
    bad[32] = 0xf0; /* data offset 15: 60 bytes, only 40 there */
    expect_raw_line(t, bad, 60,
                    "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S] [bad hdr length 60 - too long, > 40]");
    memcpy(bad, syn.bytes, 60);
    bad[6] = 0;
    bad[7] = 3; /* a later fragment */
    expect_raw_line(t, bad, 60, "10:00:00.000000 IP 10.0.0.1 > 10.0.0.2: ip-proto-6");
    memcpy(bad, syn.bytes, 60);
    bad[9] = 17; /* UDP: synack's trace does not decode it */
    expect_raw_line(t, bad, 60, "10:00:00.000000 IP 10.0.0.1 > 10.0.0.2:  ip-proto-17 40");
    sk_trace_free(t);
}

/* The loopback exchange in shared/reference/linux-observability.md,
 * rebuilt datagram by datagram: the trace must print it identically. */
static void test_linux_loopback_exchange_verbatim(void **state)
{
    (void)state;
    static const char *const want[] = {
        "21:46:31.263944 IP 127.0.0.1.35090 > 127.0.0.1.8098: Flags [S], seq 448728975, win 65495, options [mss 65495,sackOK,TS val 3995252059 ecr 0,nop,wscale 10], length 0",
        "21:46:31.263965 IP 127.0.0.1.8098 > 127.0.0.1.35090: Flags [S.], seq 4154956636, ack 448728976, win 65483, options [mss 65495,sackOK,TS val 1403482709 ecr 3995252059,nop,wscale 10], length 0",
        "21:46:31.263983 IP 127.0.0.1.35090 > 127.0.0.1.8098: Flags [.], ack 1, win 64, options [nop,nop,TS val 3995252059 ecr 1403482709], length 0",
        "21:46:31.264062 IP 127.0.0.1.35090 > 127.0.0.1.8098: Flags [P.], seq 1:19, ack 1, win 64, options [nop,nop,TS val 3995252059 ecr 1403482709], length 18",
        "21:46:31.264071 IP 127.0.0.1.8098 > 127.0.0.1.35090: Flags [.], ack 19, win 64, options [nop,nop,TS val 1403482709 ecr 3995252059], length 0",
        "21:46:31.264092 IP 127.0.0.1.35090 > 127.0.0.1.8098: Flags [F.], seq 19, ack 1, win 64, options [nop,nop,TS val 3995252059 ecr 1403482709], length 0",
        "21:46:31.264108 IP 127.0.0.1.8098 > 127.0.0.1.35090: Flags [F.], seq 1, ack 20, win 64, options [nop,nop,TS val 1403482709 ecr 3995252059], length 0",
        "21:46:31.264119 IP 127.0.0.1.35090 > 127.0.0.1.8098: Flags [.], ack 2, win 64, options [nop,nop,TS val 3995252059 ecr 1403482709], length 0",
    };
    const uint32_t c_isn = 448728975u, s_isn = 4154956636u;
    const uint32_t c_ts = 3995252059u, s_ts = 1403482709u;
    const sk_time_ns base = (21ull * 3600 + 46 * 60 + 31) * SK_NSEC_PER_SEC;
    const uint16_t cp = 35090, sp = 8098;
    uint8_t o[40];
    size_t ol;
    built b[8];

    ol = linux_syn_options(o, 65495, c_ts, 0, 10);
    b[0] = build(LOOPBACK, cp, LOOPBACK, sp, SK_TH_SYN, c_isn, 0, 65495, o, ol, NULL);
    ol = linux_syn_options(o, 65495, s_ts, c_ts, 10);
    b[1] = build(LOOPBACK, sp, LOOPBACK, cp, SK_TH_SYN | SK_TH_ACK, s_isn, c_isn + 1, 65483, o, ol, NULL);
    ol = linux_ts_options(o, c_ts, s_ts);
    b[2] = build(LOOPBACK, cp, LOOPBACK, sp, SK_TH_ACK, c_isn + 1, s_isn + 1, 64, o, ol, NULL);
    b[3] = build(LOOPBACK, cp, LOOPBACK, sp, SK_TH_PSH | SK_TH_ACK, c_isn + 1, s_isn + 1, 64, o, ol,
                 "hello from client\n");
    b[5] = build(LOOPBACK, cp, LOOPBACK, sp, SK_TH_FIN | SK_TH_ACK, c_isn + 19, s_isn + 1, 64, o, ol, NULL);
    b[7] = build(LOOPBACK, cp, LOOPBACK, sp, SK_TH_ACK, c_isn + 20, s_isn + 2, 64, o, ol, NULL);
    ol = linux_ts_options(o, s_ts, c_ts);
    b[4] = build(LOOPBACK, sp, LOOPBACK, cp, SK_TH_ACK, s_isn + 1, c_isn + 19, 64, o, ol, NULL);
    b[6] = build(LOOPBACK, sp, LOOPBACK, cp, SK_TH_FIN | SK_TH_ACK, s_isn + 1, c_isn + 20, 64, o, ol, NULL);

    static const unsigned usec[8] = {263944, 263965, 263983, 264062, 264071, 264092, 264108, 264119};
    sk_trace *t = sk_trace_new(0);
    for (size_t i = 0; i < 8; i++)
        expect_line(t, base + USEC(usec[i]), &b[i], want[i]);
    assert_int_equal(sk_trace_conversations(t), 1);
    sk_trace_free(t);
}

/* A new SYN-ACK on a known 4-tuple starts a new conversation. */
static void test_new_syn_ack_resets_relative_numbers(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    built sa1 = build(SERVER, 80, CLIENT, 40000, SK_TH_SYN | SK_TH_ACK, 5000, 1001, 100, NULL, 0, NULL);
    built ack1 = build(CLIENT, 40000, SERVER, 80, SK_TH_ACK, 1001, 5001, 100, NULL, 0, NULL);
    built sa2 = build(SERVER, 80, CLIENT, 40000, SK_TH_SYN | SK_TH_ACK, 90000, 70001, 100, NULL, 0, NULL);
    built ack2 = build(CLIENT, 40000, SERVER, 80, SK_TH_ACK, 70001, 90001, 100, NULL, 0, NULL);
    expect_line(t, TEN_AM, &sa1,
                "10:00:00.000000 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, win 100, length 0");
    expect_line(t, TEN_AM, &ack1, "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 100, length 0");
    expect_line(t, TEN_AM, &sa2,
                "10:00:00.000000 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 90000, ack 70001, win 100, length 0");
    expect_line(t, TEN_AM, &ack2, "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 1, win 100, length 0");
    assert_int_equal(sk_trace_conversations(t), 1);

    /* -S: absolute everywhere, no memory kept. */
    sk_trace *abs_t = sk_trace_new(SK_TRACE_ABSOLUTE_SEQ);
    expect_line(abs_t, TEN_AM, &sa1,
                "10:00:00.000000 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 5000, ack 1001, win 100, length 0");
    expect_line(abs_t, TEN_AM, &ack1,
                "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 5001, win 100, length 0");
    assert_int_equal(sk_trace_conversations(abs_t), 0);

    /* reset forgets: the next ACK-bearing segment is learned afresh. */
    sk_trace_reset(t);
    expect_line(t, TEN_AM, &ack2,
                "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], ack 90001, win 100, length 0");
    sk_trace_free(t);
    sk_trace_free(abs_t);
}

/* Many conversations: the table grows and every one stays relative. */
static void test_many_conversations_stay_relative(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    char line[SK_TRACE_LINE_MAX];
    for (uint16_t port = 1000; port < 3000; port++) {
        built sa = build(SERVER, 80, CLIENT, port, SK_TH_SYN | SK_TH_ACK, 7u * port, 11u * port + 1, 1, NULL, 0, NULL);
        sk_trace_format_datagram(t, TEN_AM, sa.bytes, sa.len, line, sizeof(line));
    }
    assert_int_equal(sk_trace_conversations(t), 2000);
    for (uint16_t port = 1000; port < 3000; port++) {
        built ack = build(CLIENT, port, SERVER, 80, SK_TH_ACK, 11u * port + 1, 7u * port + 1, 1, NULL, 0, NULL);
        sk_trace_format_datagram(t, TEN_AM, ack.bytes, ack.len, line, sizeof(line));
        char want[128];
        snprintf(want, sizeof(want), "10:00:00.000000 IP 10.0.0.1.%u > 10.0.0.2.80: Flags [.], ack 1, win 1, length 0",
                 port);
        assert_string_equal(line, want);
    }
    sk_trace_free(t);
}

/* HTTP on port 80 gets tcpdump's ": HTTP: <first line>". */
static void test_http_first_line(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(SK_TRACE_ABSOLUTE_SEQ);
    built req = build(CLIENT, 40000, SERVER, 80, SK_TH_PSH | SK_TH_ACK, 1, 1, 502, NULL, 0,
                      "GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n");
    expect_line(t, TEN_AM, &req,
                "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:35, ack 1, win 502, "
                "length 34: HTTP: GET / HTTP/1.1");
    built resp = build(SERVER, 80, CLIENT, 40000, SK_TH_PSH | SK_TH_ACK, 1, 35, 502, NULL, 0,
                       "HTTP/1.0 404 Not Found\r\n\r\nbody");
    expect_line(t, TEN_AM, &resp,
                "10:00:00.000000 IP 10.0.0.2.80 > 10.0.0.1.40000: Flags [P.], seq 1:31, ack 35, win 502, "
                "length 30: HTTP: HTTP/1.0 404 Not Found");
    built partial = build(CLIENT, 40000, SERVER, 80, SK_TH_PSH | SK_TH_ACK, 1, 1, 502, NULL, 0, "GET / HTTP/1.1");
    expect_line(t, TEN_AM, &partial,
                "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1:15, ack 1, win 502, "
                "length 14: HTTP: GET / HTTP/1.1 [|http]");
    built other_port = build(CLIENT, 40000, SERVER, 3128, SK_TH_PSH | SK_TH_ACK, 1, 1, 502, NULL, 0, "GET /\r\n");
    expect_line(t, TEN_AM, &other_port,
                "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.3128: Flags [P.], seq 1:8, ack 1, win 502, length 7");
    sk_trace_free(t);
}

static void test_time_of_day(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(sk_trace_format_time(TEN_AM, buf, sizeof(buf)), 15);
    assert_string_equal(buf, "10:00:00.000000");
    /* Microseconds are truncated, as in a pcap record. */
    sk_trace_format_time(TEN_AM + 1999, buf, sizeof(buf));
    assert_string_equal(buf, "10:00:00.000001");
    /* The clock is nanoseconds since midnight; it wraps at 24 h. */
    sk_trace_format_time(86400ull * SK_NSEC_PER_SEC + 5 * SK_NSEC_PER_SEC, buf, sizeof(buf));
    assert_string_equal(buf, "00:00:05.000000");
    sk_trace_format_time(86399ull * SK_NSEC_PER_SEC + 999999999ull, buf, sizeof(buf));
    assert_string_equal(buf, "23:59:59.999999");
}

/* Like snprintf: output cut to the buffer, full length returned. */
static void test_small_buffer_is_cut_not_overrun(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    built syn = build(CLIENT, 40000, SERVER, 80, SK_TH_SYN, 1000, 0, 64240, NULL, 0, NULL);
    char small[20];
    memset(small, 'x', sizeof(small));
    size_t n = sk_trace_format_datagram(t, TEN_AM, syn.bytes, syn.len, small, sizeof(small));
    const char *full = "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, length 0";
    assert_int_equal(n, strlen(full));
    assert_string_equal(small, "10:00:00.000000 IP ");
    assert_int_equal(sk_trace_format_datagram(t, TEN_AM, syn.bytes, syn.len, NULL, 0), strlen(full));
    sk_trace_free(t);
}

static void test_event_lines(void **state)
{
    (void)state;
    char line[SK_TRACE_LINE_MAX];
    sk_endpoint client = sk_endpoint_ipv4(CLIENT, 40000), server = sk_endpoint_ipv4(SERVER, 80);
    sk_event ev = {
        .type = SK_EV_STATE,
        .now = TEN_AM + USEC(100),
        .fd = 3,
        .from_state = SK_TCP_SYN_SENT,
        .to_state = SK_TCP_ESTABLISHED,
        .cause = "rcv SYN,ACK",
    };
    sk_event_set_endpoints(&ev, &client, &server);
    sk_trace_format_event(NULL, &ev, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000100 10.0.0.1:40000 SYN_SENT -> ESTABLISHED (rcv SYN,ACK)");
    assert_string_equal(sk_state_cause_name(SK_CAUSE_RCV_SYNACK), "rcv SYN,ACK");
    assert_string_equal(sk_state_cause_name(SK_CAUSE_CLOSE_LINGER2_NEGATIVE), "close() with TCP_LINGER2 < 0");
    assert_string_equal(sk_state_cause_name(SK_CAUSE_NONE), "");
    assert_string_equal(sk_state_cause_name(SK_CAUSE_COUNT), "");
    assert_string_equal(sk_state_cause_name((sk_state_cause)-1), "");

    ev.from_state = 0;
    ev.to_state = SK_TCP_SYN_SENT;
    ev.cause = NULL;
    sk_trace_format_event(NULL, &ev, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000100 10.0.0.1:40000 CLOSED -> SYN_SENT");

    ev.from_state = SK_TCP_TIME_WAIT;
    ev.to_state = SK_TCP_CLOSE;
    ev.cause = "timewait expired";
    sk_trace_format_event(NULL, &ev, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000100 10.0.0.1:40000 TIME_WAIT -> CLOSED (timewait expired)");

    sk_event drop = {.type = SK_EV_DROP, .now = TEN_AM, .reason = "ListenDrops"};
    sk_event_set_endpoints(&drop, &server, &client);
    sk_trace_format_event(NULL, &drop, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000000 10.0.0.2:80 drop ListenDrops from 10.0.0.1:40000");
    sk_endpoint unset = {.addr = 0, .port = 0, .family = SK_AF_INET};
    sk_event_set_endpoints(&drop, &server, &unset);
    drop.reason = NULL;
    sk_trace_format_event(NULL, &drop, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000000 10.0.0.2:80 drop unknown");

    sk_event timer = {.type = SK_EV_TIMER, .now = TEN_AM + 200 * SK_NSEC_PER_MSEC, .timer = "retransmit"};
    sk_event_set_endpoints(&timer, &client, NULL);
    sk_trace_format_event(NULL, &timer, line, sizeof(line));
    assert_string_equal(line, "10:00:00.200000 10.0.0.1:40000 timer retransmit");

    /* A segment event is a datagram line. */
    sk_trace *t = sk_trace_new(0);
    built syn = build(CLIENT, 40000, SERVER, 80, SK_TH_SYN, 1000, 0, 64240, NULL, 0, NULL);
    sk_event seg = {.type = SK_EV_SEGMENT_OUT, .now = TEN_AM, .data = syn.bytes, .len = syn.len};
    sk_trace_format_event(t, &seg, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000000 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 64240, length 0");
    sk_trace_free(t);
}

/* Random datagrams, each in a heap block of exactly its length so ASan
 * catches any read past it: every one gives one complete line.  Headers
 * are mostly plausible so the option and HTTP walkers get exercised. */
static void test_random_datagrams_stay_in_bounds(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    uint64_t x = 0x5eed5eed5eed5eedull;
    for (int iter = 0; iter < 20000; iter++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = (size_t)(x % 120);
        uint8_t *d = malloc(len ? len : 1);
        assert_non_null(d);
        uint64_t y = x;
        for (size_t i = 0; i < len; i++) {
            y = y * 6364136223846793005ull + 1442695040888963407ull;
            d[i] = (uint8_t)(y >> 56);
        }
        if (len > 0 && (x & 0x300))
            d[0] = (uint8_t)(0x40 | (5 + (x >> 20) % 3)); /* IPv4, IHL 5..7 */
        if (len >= 20 && (x & 0xc00)) {
            d[2] = (uint8_t)(len >> 8);
            d[3] = (uint8_t)(len - ((x >> 24) & 3)); /* total length near the truth */
            d[6] &= 0x40;
            d[9] = 6;
            if ((d[0] & 0x0f) == 5 && len >= 33) {
                d[21] = (x & 0x1000) ? 80 : d[21];
                d[32] = (uint8_t)((5 + (x >> 32) % 11) << 4);
            }
        }
        char line[SK_TRACE_LINE_MAX];
        size_t n = sk_trace_format_datagram(t, TEN_AM, d, len, line, sizeof(line));
        assert_true(n < sizeof(line));
        assert_int_equal(strlen(line), n);
        assert_memory_equal(line, "10:00:00.000000 ", 16);
        assert_null(strchr(line, '\n'));
        free(d);
    }
    sk_trace_free(t);
}

/* ------------------------------------------------------------------ */
/* pcap                                                                  */
/* ------------------------------------------------------------------ */

typedef struct capture_fixture {
    built pkts[3];
    sk_time_ns times[3];
    char path[64];
    char path2[64];
} capture_fixture;

static void capture_fixture_init(capture_fixture *c)
{
    uint8_t o[40];
    size_t ol = linux_syn_options(o, 1460, 100, 0, 7);
    c->pkts[0] = build(CLIENT, 40000, SERVER, 80, SK_TH_SYN, 1000, 0, 64240, o, ol, NULL);
    c->pkts[1] = build(SERVER, 80, CLIENT, 40000, SK_TH_SYN | SK_TH_ACK, 5000, 1001, 65160, o, ol, NULL);
    c->pkts[2] = build(CLIENT, 40000, SERVER, 80, SK_TH_PSH | SK_TH_ACK, 1001, 5001, 502, NULL, 0, "GET / HTTP/1.1\r\n\r\n");
    c->times[0] = TEN_AM;
    c->times[1] = TEN_AM + USEC(1000) + 999; /* sub-microsecond part dropped */
    c->times[2] = TEN_AM + 61 * SK_NSEC_PER_SEC + USEC(123456);
    snprintf(c->path, sizeof(c->path), "/tmp/synack-test-trace-%ld-a.pcap", (long)getpid());
    snprintf(c->path2, sizeof(c->path2), "/tmp/synack-test-trace-%ld-b.pcap", (long)getpid());
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[8192];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

static void write_three(const capture_fixture *c, const char *path, bool builtin)
{
    char err[256];
    sk_pcap_options opts = {.builtin_writer = builtin};
    sk_pcap *p = sk_pcap_open(path, &opts, err, sizeof(err));
    assert_non_null(p);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sk_pcap_write(p, c->times[i], c->pkts[i].bytes, c->pkts[i].len), 0);
    assert_int_equal(sk_pcap_packets_written(p), 3);
    assert_int_equal(sk_pcap_bytes_written(p), 24 + 3 * 16 + c->pkts[0].len + c->pkts[1].len + c->pkts[2].len);
    assert_false(sk_pcap_limit_reached(p));
    assert_int_equal(sk_pcap_close(p), 0);
}

/* The built-in writer's file, checked field by field. */
static void test_pcap_builtin_writer_layout(void **state)
{
    (void)state;
    capture_fixture c;
    capture_fixture_init(&c);
    write_three(&c, c.path, true);
    size_t len;
    const uint8_t *f = read_file(c.path, &len);
    assert_int_equal(len, 24 + 3 * 16 + c.pkts[0].len + c.pkts[1].len + c.pkts[2].len);
    uint32_t u32;
    uint16_t u16;
    memcpy(&u32, f, 4);
    assert_int_equal(u32, 0xa1b2c3d4u);
    memcpy(&u16, f + 4, 2);
    assert_int_equal(u16, 2);
    memcpy(&u16, f + 6, 2);
    assert_int_equal(u16, 4);
    memcpy(&u32, f + 16, 4);
    assert_int_equal(u32, 65535);
    memcpy(&u32, f + 20, 4);
    assert_int_equal(u32, 101); /* LINKTYPE_RAW: IPv4 and IPv6 */
    size_t off = 24;
    static const uint32_t secs[3] = {36000, 36000, 36061}, usecs[3] = {0, 1000, 123456};
    for (int i = 0; i < 3; i++) {
        uint32_t rec[4];
        memcpy(rec, f + off, 16);
        assert_int_equal(rec[0], secs[i]);
        assert_int_equal(rec[1], usecs[i]);
        assert_int_equal(rec[2], c.pkts[i].len);
        assert_int_equal(rec[3], c.pkts[i].len);
        assert_memory_equal(f + off + 16, c.pkts[i].bytes, c.pkts[i].len);
        off += 16 + c.pkts[i].len;
    }
    unlink(c.path);
}

#ifdef SYNACK_HAVE_PCAP
static void expect_readback_with_libpcap(const capture_fixture *c, const char *path)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *rd = pcap_open_offline(path, errbuf);
    assert_non_null(rd);
    assert_int_equal(pcap_datalink(rd), DLT_RAW); /* LINKTYPE_RAW in the file */
    assert_int_equal(pcap_snapshot(rd), 65535);
    static const long secs[3] = {36000, 36000, 36061}, usecs[3] = {0, 1000, 123456};
    for (int i = 0; i < 3; i++) {
        struct pcap_pkthdr *h;
        const u_char *data;
        assert_int_equal(pcap_next_ex(rd, &h, &data), 1);
        assert_int_equal(h->ts.tv_sec, secs[i]);
        assert_int_equal(h->ts.tv_usec, usecs[i]);
        assert_int_equal(h->caplen, c->pkts[i].len);
        assert_int_equal(h->len, c->pkts[i].len);
        assert_memory_equal(data, c->pkts[i].bytes, c->pkts[i].len);
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    assert_int_equal(pcap_next_ex(rd, &h, &data), PCAP_ERROR_BREAK);
    pcap_close(rd);
}

/* Written through libpcap and through the built-in writer: libpcap
 * reads back the same bytes and timestamps, and the files are equal. */
static void test_pcap_round_trip_through_libpcap(void **state)
{
    (void)state;
    capture_fixture c;
    capture_fixture_init(&c);
    write_three(&c, c.path, false);
    write_three(&c, c.path2, true);
    expect_readback_with_libpcap(&c, c.path);
    expect_readback_with_libpcap(&c, c.path2);
    size_t la, lb;
    uint8_t *a = read_file(c.path, &la);
    uint8_t *copy = malloc(la);
    assert_non_null(copy);
    memcpy(copy, a, la);
    const uint8_t *b = read_file(c.path2, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(copy, b, la);
    free(copy);
    unlink(c.path);
    unlink(c.path2);
}
#endif

/* Past the size limit nothing more is written and the limit is noted. */
static void test_pcap_size_limit(void **state)
{
    (void)state;
    capture_fixture c;
    capture_fixture_init(&c);
    for (int builtin = 0; builtin < 2; builtin++) {
        char err[256];
        uint64_t two = 24 + 32 + c.pkts[0].len + c.pkts[1].len;
        sk_pcap_options opts = {.max_bytes = two + 10, .builtin_writer = builtin != 0};
        sk_pcap *p = sk_pcap_open(c.path, &opts, err, sizeof(err));
        assert_non_null(p);
        assert_int_equal(sk_pcap_write(p, c.times[0], c.pkts[0].bytes, c.pkts[0].len), 0);
        assert_int_equal(sk_pcap_write(p, c.times[1], c.pkts[1].bytes, c.pkts[1].len), 0);
        assert_int_equal(sk_pcap_write(p, c.times[2], c.pkts[2].bytes, c.pkts[2].len), -ENOSPC);
        assert_true(sk_pcap_limit_reached(p));
        /* Even a datagram that would fit stays out: the capture stopped. */
        assert_int_equal(sk_pcap_write(p, c.times[2], c.pkts[0].bytes, 1), -ENOSPC);
        assert_int_equal(sk_pcap_packets_written(p), 2);
        assert_int_equal(sk_pcap_packets_dropped(p), 2);
        assert_int_equal(sk_pcap_bytes_written(p), two);
        assert_int_equal(sk_pcap_close(p), 0);
        size_t len;
        read_file(c.path, &len);
        assert_int_equal(len, two);
        unlink(c.path);
    }
}

static void test_pcap_open_errors(void **state)
{
    (void)state;
    char err[256];
    assert_null(sk_pcap_open("/nonexistent-dir/x.pcap", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir/x.pcap"));
    sk_pcap_options tiny = {.max_bytes = 10};
    assert_null(sk_pcap_open("/tmp/never-created.pcap", &tiny, err, sizeof(err)));
    assert_non_null(strstr(err, "24-byte"));
    assert_null(sk_pcap_open("", NULL, err, sizeof(err)));
    assert_int_equal(sk_pcap_close(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syn_prints_linux_option_block),
        cmocka_unit_test(test_handshake_data_fin_rst_relative),
        cmocka_unit_test(test_sack_blocks_relative_and_absolute),
        cmocka_unit_test(test_flag_letters_in_tcpdump_order),
        cmocka_unit_test(test_odd_options),
        cmocka_unit_test(test_truncated_and_malformed_datagrams),
        cmocka_unit_test(test_linux_loopback_exchange_verbatim),
        cmocka_unit_test(test_new_syn_ack_resets_relative_numbers),
        cmocka_unit_test(test_many_conversations_stay_relative),
        cmocka_unit_test(test_http_first_line),
        cmocka_unit_test(test_time_of_day),
        cmocka_unit_test(test_small_buffer_is_cut_not_overrun),
        cmocka_unit_test(test_event_lines),
        cmocka_unit_test(test_random_datagrams_stay_in_bounds),
        cmocka_unit_test(test_pcap_builtin_writer_layout),
#ifdef SYNACK_HAVE_PCAP
        cmocka_unit_test(test_pcap_round_trip_through_libpcap),
#endif
        cmocka_unit_test(test_pcap_size_limit),
        cmocka_unit_test(test_pcap_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
