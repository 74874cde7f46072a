/*
 * Wire format: checksums, building, parsing, option decoding, and a
 * randomized parser test that must stay within the datagram (run it under
 * ASan: every input sits in a heap block of exactly its length).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "isn.h"
#include "segment.h"
#include "synack/packet.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Recomputes both checksums of a datagram that has IHL 5 and whose total
 * length field is right, so a test can break one field and nothing else. */
static void refresh_checksums(uint8_t *d)
{
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    size_t total = rd16(d + 2);
    wr16(d + 10, 0);
    wr16(d + 10, sk_csum_fold(sk_csum_partial(d, ihl, 0)));
    if (total >= ihl + 18) {
        uint8_t *tcp = d + ihl;
        wr16(tcp + 16, 0);
        uint32_t src = ((uint32_t)rd16(d + 12) << 16) | rd16(d + 14);
        uint32_t dst = ((uint32_t)rd16(d + 16) << 16) | rd16(d + 18);
        wr16(tcp + 16, sk_tcp_checksum(src, dst, tcp, total - ihl));
    }
}

static void refresh_ip_checksum(uint8_t *d)
{
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    wr16(d + 10, 0);
    wr16(d + 10, sk_csum_fold(sk_csum_partial(d, ihl, 0)));
}

/* ------------------------------------------------------------------ */
/* Checksums                                                          */

/* RFC 1071 §3 worked example. */
static void test_csum_rfc1071_example(void **state)
{
    static const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(sk_csum_partial(bytes, sizeof bytes, 0), 0xddf2);
    assert_int_equal(sk_csum_fold(sk_csum_partial(bytes, sizeof bytes, 0)), 0x220d);
    /* Chaining over even-length pieces gives the same sum. */
    uint32_t first = sk_csum_partial(bytes, 2, 0);
    assert_int_equal(first, 0x0001);
    assert_int_equal(sk_csum_partial(bytes + 2, 6, first), 0xddf2);
}

/* A textbook IPv4 header: 4500 0073 0000 4000 4011 ____ c0a8 0001 c0a8 00c7.
 * 4500+0073+4000+4011+c0a8+0001+c0a8+00c7 = 0x2479c, folded 0x479e,
 * complemented 0xb861. */
static void test_csum_ipv4_header_known_answer(void **state)
{
    uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    assert_int_equal(sk_csum_fold(sk_csum_partial(hdr, sizeof hdr, 0)), 0xb861);
    wr16(hdr + 10, 0xb861);
    assert_int_equal(sk_csum_fold(sk_csum_partial(hdr, sizeof hdr, 0)), 0);
}

/*
 * SYN 10.0.0.1:12345 > 10.0.0.2:80, seq 1, win 65535, no options, DF,
 * id 0, TTL 64, checksums worked out by hand:
 *   IP:  4500+0028+0000+4000+4006+0a00+0001+0a00+0002 = 0xd931 -> ~ = 0x26ce
 *   TCP pseudo-header: 0a00+0001+0a00+0002+0006+0014 = 0x141d
 *   TCP header: 3039+0050+0000+0001+0000+0000+5002+ffff+0000+0000 = 0x1808b
 *   0x141d + 0x1808b = 0x194a8 -> folded 0x94a9 -> ~ = 0x6b56
 */
static const uint8_t syn_capture[40] = {
    0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x26, 0xce, 0x0a, 0x00,
    0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x30, 0x39, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff, 0x6b, 0x56, 0x00, 0x00,
};

static void test_csum_tcp_syn_known_answer(void **state)
{
    assert_int_equal(sk_tcp_checksum(IP(10, 0, 0, 1), IP(10, 0, 0, 2), syn_capture + 20, 20), 0);
    uint8_t tcp[20];
    memcpy(tcp, syn_capture + 20, 20);
    wr16(tcp + 16, 0);
    assert_int_equal(sk_tcp_checksum(IP(10, 0, 0, 1), IP(10, 0, 0, 2), tcp, 20), 0x6b56);

    sk_segment_spec spec = {
        .src = IP(10, 0, 0, 1), .dst = IP(10, 0, 0, 2), .sport = 12345, .dport = 80,
        .seq = 1, .ack = 0, .flags = SK_TH_SYN, .window = 65535, .df = true,
    };
    uint8_t buf[64];
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 40);
    assert_memory_equal(buf, syn_capture, 40);
}

/* PSH|ACK with NOP,NOP,TS and an odd-length payload "hello", so the
 * padding of the last byte matters.  Bytes cross-checked against an
 * independent encoder (scapy 2.5). */
static void test_csum_tcp_odd_payload_known_answer(void **state)
{
    static const uint8_t expected[57] = {
        0x45, 0x00, 0x00, 0x39, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xa5, 0x1c, 0xc0, 0xa8, 0x01,
        0x0a, 0xc0, 0xa8, 0x01, 0x14, 0x9c, 0x40, 0x1f, 0x90, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
        0x77, 0x88, 0x80, 0x18, 0x01, 0xf6, 0xdf, 0x27, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00,
        0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0xc8, 'h', 'e', 'l', 'l', 'o',
    };
    static const uint8_t opts[] = {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 100, 0, 0, 0, 200};
    sk_segment_spec spec = {
        .src = IP(192, 168, 1, 10), .dst = IP(192, 168, 1, 20), .sport = 40000, .dport = 8080,
        .seq = 0x11223344, .ack = 0x55667788, .flags = SK_TH_PSH | SK_TH_ACK, .window = 502,
        .ip_id = 0x1234, .df = true, .options = opts, .options_len = sizeof opts,
        .payload = (const uint8_t *)"hello", .payload_len = 5,
    };
    uint8_t buf[128];
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), sizeof expected);
    assert_memory_equal(buf, expected, sizeof expected);
}

/* The same segment with its options already written where they go (20
 * bytes into the TCP header, as the core's connections write them): the
 * builder leaves them as they lie and the datagram is byte for byte the
 * known answer above. */
static void test_build_options_in_place_same_bytes(void **state)
{
    static const uint8_t opts[] = {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 100, 0, 0, 0, 200};
    uint8_t copied[128], in_place[128];
    memset(in_place, 0xee, sizeof in_place);
    memcpy(in_place + 40, opts, sizeof opts);
    sk_segment_spec spec = {
        .src = IP(192, 168, 1, 10), .dst = IP(192, 168, 1, 20), .sport = 40000, .dport = 8080,
        .seq = 0x11223344, .ack = 0x55667788, .flags = SK_TH_PSH | SK_TH_ACK, .window = 502,
        .ip_id = 0x1234, .df = true, .options = opts, .options_len = sizeof opts,
        .payload = (const uint8_t *)"hello", .payload_len = 5,
    };
    assert_int_equal(sk_build_segment(&spec, copied, sizeof copied), 57);
    spec.options = in_place + 40;
    assert_int_equal(sk_build_segment(&spec, in_place, sizeof in_place), 57);
    assert_memory_equal(in_place, copied, 57);
    assert_int_equal(rd16(in_place + 10), 0xa51c); /* the IPv4 header checksum of the vector */
    assert_int_equal(rd16(in_place + 36), 0xdf27); /* and its TCP checksum */
    /* IPv6: the options start 40 + 20 bytes in. */
    static const uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, d6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    sk_segment_spec v6 = spec;
    v6.ip_version = 6;
    memcpy(v6.src6, s6, 16);
    memcpy(v6.dst6, d6, 16);
    v6.options = opts;
    assert_int_equal(sk_build_segment(&v6, copied, sizeof copied), 77);
    memset(in_place, 0xee, sizeof in_place);
    memcpy(in_place + 60, opts, sizeof opts);
    v6.options = in_place + 60;
    assert_int_equal(sk_build_segment(&v6, in_place, sizeof in_place), 77);
    assert_memory_equal(in_place, copied, 77);
}

static uint32_t reference_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += (i % 2 == 0) ? (uint32_t)p[i] << 8 : p[i];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* The 8-byte loads must give the byte-at-a-time answer whatever the
 * buffer's alignment and length, including the odd-length tail. */
static void test_csum_any_alignment_and_length(void **state)
{
    sk_rng rng;
    sk_rng_seed(&rng, 7);
    uint8_t storage[300];
    for (size_t i = 0; i < sizeof storage; i++)
        storage[i] = (uint8_t)sk_rng_next(&rng);
    for (size_t offset = 0; offset < 8; offset++) {
        for (size_t len = 0; len <= 260; len++) {
            uint32_t got = sk_csum_partial(storage + offset, len, 0);
            assert_int_equal(sk_csum_fold(got), (uint16_t)~reference_csum(storage + offset, len));
            assert_true(got <= 0xffff);
        }
    }
    /* All-ones data drives every carry; the sum stays "negative zero". */
    size_t big_len = 65536 + 3;
    uint8_t *ones = malloc(big_len);
    assert_non_null(ones);
    memset(ones, 0xff, big_len);
    assert_int_equal(sk_csum_partial(ones, 65536, 0), 0xffff);
    assert_int_equal(sk_csum_partial(ones + 1, 65536, 0), 0xffff);
    /* Odd tail: 0xff padded to 0xff00 added to 0xffff gives 0xff00. */
    assert_int_equal(sk_csum_partial(ones, 65537, 0), 0xff00);
    free(ones);
    /* An incoming partial sum near 2^32 is folded in. */
    static const uint8_t one[2] = {0x00, 0x01};
    assert_int_equal(sk_csum_partial(one, 2, 0xffffffffu), 0x0001);
}

/* ------------------------------------------------------------------ */
/* Building and round trips                                           */

static const uint8_t linux_syn_opts[20] = {
    0x02, 0x04, 0x05, 0xb4,                                     /* mss 1460          */
    0x04, 0x02,                                                 /* sackOK            */
    0x08, 0x0a, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, /* TS val 100 ecr 0  */
    0x01,                                                       /* nop               */
    0x03, 0x03, 0x07,                                           /* wscale 7          */
};

static void test_build_parse_round_trip_all_fields(void **state)
{
    static const uint8_t payload[] = {'G', 'E', 'T', ' ', '/', '\r', '\n'};
    const uint16_t all_flags = SK_TH_FIN | SK_TH_SYN | SK_TH_RST | SK_TH_PSH | SK_TH_ACK | SK_TH_URG |
                               SK_TH_ECE | SK_TH_CWR | SK_TH_NS;
    sk_segment_spec spec = {
        .src = IP(172, 16, 5, 4), .dst = IP(203, 0, 113, 9), .sport = 54321, .dport = 443,
        .seq = 0xfedcba98, .ack = 0x01234567, .flags = all_flags, .window = 0xabcd, .ttl = 17,
        .ip_id = 0xbeef, .df = true, .options = linux_syn_opts, .options_len = sizeof linux_syn_opts,
        .payload = payload, .payload_len = sizeof payload,
    };
    uint8_t buf[128];
    size_t n = sk_build_segment(&spec, buf, sizeof buf);
    assert_int_equal(n, 20 + 20 + 20 + 7);
    /* Header bytes the parser does not expose as-is. */
    assert_int_equal(buf[0], 0x45);
    assert_int_equal(buf[9], 6);
    assert_int_equal(rd16(buf + 6), 0x4000);
    assert_int_equal(buf[32], 0xa1); /* doff 10, reserved 0, NS */
    assert_int_equal(buf[33], 0xff);

    sk_segment seg;
    assert_int_equal(sk_parse_segment(buf, n, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.src, IP(172, 16, 5, 4));
    assert_int_equal(seg.dst, IP(203, 0, 113, 9));
    assert_int_equal(seg.ttl, 17);
    assert_int_equal(seg.tos, 0);
    assert_int_equal(seg.ip_id, 0xbeef);
    assert_true(seg.df);
    assert_int_equal(seg.ip_len, n);
    assert_int_equal(seg.sport, 54321);
    assert_int_equal(seg.dport, 443);
    assert_int_equal(seg.seq, 0xfedcba98);
    assert_int_equal(seg.ack, 0x01234567);
    assert_int_equal(seg.flags, all_flags);
    assert_int_equal(seg.window, 0xabcd);
    assert_int_equal(seg.urg_ptr, 0);
    assert_int_equal(seg.tcp_csum, rd16(buf + 36));
    assert_int_equal(seg.doff, 40);
    assert_ptr_equal(seg.options, buf + 40);
    assert_int_equal(seg.options_len, 20);
    assert_ptr_equal(seg.payload, buf + 60);
    assert_int_equal(seg.payload_len, 7);
    assert_memory_equal(seg.payload, payload, 7);
    assert_true(seg.opts.has_mss);
    assert_int_equal(seg.opts.mss, 1460);
    assert_true(seg.opts.sack_permitted);
    assert_true(seg.opts.has_ts);
    assert_int_equal(seg.opts.ts_val, 100);
    assert_int_equal(seg.opts.ts_ecr, 0);
    assert_true(seg.opts.has_wscale);
    assert_int_equal(seg.opts.wscale, 7);
    assert_int_equal(seg.opts.sack_count, 0);
}

/* Each flag alone lands on its own bit and comes back alone; NS is the
 * low bit of the byte holding the data offset (RFC 3540). */
static void test_each_flag_round_trips_alone(void **state)
{
    static const struct {
        uint16_t flag;
        uint8_t byte12, byte13;
    } cases[] = {
        {SK_TH_FIN, 0x50, 0x01}, {SK_TH_SYN, 0x50, 0x02}, {SK_TH_RST, 0x50, 0x04},
        {SK_TH_PSH, 0x50, 0x08}, {SK_TH_ACK, 0x50, 0x10}, {SK_TH_URG, 0x50, 0x20},
        {SK_TH_ECE, 0x50, 0x40}, {SK_TH_CWR, 0x50, 0x80}, {SK_TH_NS, 0x51, 0x00},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sk_segment_spec spec = {.src = IP(1, 2, 3, 4), .dst = IP(5, 6, 7, 8), .sport = 1, .dport = 2,
                                .flags = cases[i].flag};
        uint8_t buf[64];
        assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 40);
        assert_int_equal(buf[32], cases[i].byte12);
        assert_int_equal(buf[33], cases[i].byte13);
        sk_segment seg;
        assert_int_equal(sk_parse_segment(buf, 40, true, &seg), SK_PARSE_OK);
        assert_int_equal(seg.flags, cases[i].flag);
    }
}

static void test_build_defaults_ttl_64_and_no_df(void **state)
{
    sk_segment_spec spec = {.src = IP(1, 2, 3, 4), .dst = IP(5, 6, 7, 8), .sport = 1, .dport = 2,
                            .flags = SK_TH_RST, .ip_id = 7};
    uint8_t buf[40];
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 40);
    assert_int_equal(buf[8], 64);
    assert_int_equal(rd16(buf + 6), 0);
    assert_int_equal(rd16(buf + 4), 7);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(buf, 40, true, &seg), SK_PARSE_OK);
    assert_false(seg.df);
    assert_int_equal(seg.ttl, 64);
    assert_int_equal(seg.ip_id, 7);
    assert_false(seg.opts.has_mss || seg.opts.has_ts || seg.opts.has_wscale || seg.opts.sack_permitted);
}

/* The flags word keeps only the nine flag bits; stray high bits of the
 * spec must not corrupt the data offset. */
static void test_build_masks_flags_to_nine_bits(void **state)
{
    sk_segment_spec spec = {.src = 1, .dst = 2, .flags = 0xffff};
    uint8_t buf[40];
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 40);
    assert_int_equal(buf[32], 0x51);
    assert_int_equal(buf[33], 0xff);
}

static void test_build_refuses_small_buffer_and_bad_options(void **state)
{
    static const uint8_t opts44[44] = {0};
    static const uint8_t payload[10] = {0};
    sk_segment_spec spec = {.src = 1, .dst = 2, .payload = payload, .payload_len = sizeof payload};
    uint8_t buf[100];
    assert_int_equal(sk_build_segment(&spec, buf, 49), 0);
    assert_int_equal(sk_build_segment(&spec, buf, 50), 50);

    spec.options = linux_syn_opts;
    spec.options_len = 3; /* not padded to 4 */
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 0);
    spec.options = opts44;
    spec.options_len = 44; /* beyond doff 15 */
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 0);
    spec.options_len = 40;
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 90);
    assert_int_equal(buf[32] >> 4, 15);
}

/* An Ethernet frame pads a 40-byte datagram to 46; the padding is not
 * payload and does not enter the checksum. */
static void test_parse_ignores_link_padding(void **state)
{
    uint8_t frame[46];
    memcpy(frame, syn_capture, 40);
    memset(frame + 40, 0xaa, 6);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(frame, sizeof frame, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.ip_len, 40);
    assert_int_equal(seg.payload_len, 0);
    assert_int_equal(seg.flags, SK_TH_SYN);
    assert_int_equal(seg.seq, 1);
}

/* IP options (IHL > 5) are stepped over to find the TCP header. */
static void test_parse_skips_ip_options(void **state)
{
    uint8_t d[44];
    memcpy(d, syn_capture, 20);
    d[0] = 0x46;
    wr16(d + 2, 44);
    d[20] = 0x01; /* IP NOP x3, IP EOL */
    d[21] = 0x01;
    d[22] = 0x01;
    d[23] = 0x00;
    memcpy(d + 24, syn_capture + 20, 20);
    refresh_checksums(d);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, sizeof d, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.sport, 12345);
    assert_int_equal(seg.dport, 80);
    assert_int_equal(seg.tcp_csum, 0x6b56);
    assert_ptr_equal(seg.payload, d + 44);
}

/* ------------------------------------------------------------------ */
/* Each parse error from a crafted datagram                           */

/* A valid 48-byte datagram: 20 IP + 24 TCP (MSS option) + 4 payload. */
static size_t make_valid(uint8_t *d)
{
    static const uint8_t mss[4] = {0x02, 0x04, 0x05, 0xb4};
    sk_segment_spec spec = {.src = IP(10, 1, 1, 1), .dst = IP(10, 2, 2, 2), .sport = 1000,
                            .dport = 2000, .seq = 5, .ack = 6, .flags = SK_TH_ACK | SK_TH_PSH,
                            .window = 100, .options = mss, .options_len = 4,
                            .payload = (const uint8_t *)"data", .payload_len = 4};
    size_t n = sk_build_segment(&spec, d, 48);
    assert_int_equal(n, 48);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    return n;
}

static void expect_error(const uint8_t *d, size_t len, sk_parse_error want)
{
    /* A heap copy of exactly len bytes lets ASan catch any overread. */
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, d, len);
    sk_segment seg;
    sk_parse_error got = sk_parse_segment(copy, len, true, &seg);
    if (got != want)
        fail_msg("expected %s, got %s", sk_parse_error_name(want), sk_parse_error_name(got));
    free(copy);
}

static void test_error_truncated_ip(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    expect_error(d, 0, SK_PARSE_TRUNCATED_IP);
    expect_error(d, 19, SK_PARSE_TRUNCATED_IP);
    /* Total length says 48 but only 47 bytes arrived. */
    expect_error(d, n - 1, SK_PARSE_TRUNCATED_IP);
    /* IHL 15 (60 bytes) in a 48-byte datagram. */
    d[0] = 0x4f;
    expect_error(d, n, SK_PARSE_TRUNCATED_IP);
    /* Total length smaller than the IP header itself. */
    n = make_valid(d);
    wr16(d + 2, 19);
    refresh_ip_checksum(d);
    expect_error(d, n, SK_PARSE_TRUNCATED_IP);
}

static void test_error_bad_version(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    d[0] = 0x55;
    expect_error(d, n, SK_PARSE_BAD_VERSION);
}

static void test_error_ihl_below_5(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    d[0] = 0x44;
    expect_error(d, n, SK_PARSE_BAD_IHL);
}

static void test_error_bad_ip_checksum(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    d[10] ^= 0x01;
    expect_error(d, n, SK_PARSE_BAD_IP_CSUM);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, n, false, &seg), SK_PARSE_OK);
}

static void test_error_more_fragments(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    wr16(d + 6, 0x2000);
    refresh_ip_checksum(d);
    expect_error(d, n, SK_PARSE_FRAGMENT);
}

static void test_error_fragment_offset(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    wr16(d + 6, 0x4001); /* DF with offset 8 bytes: still a fragment */
    refresh_ip_checksum(d);
    expect_error(d, n, SK_PARSE_FRAGMENT);
}

static void test_error_udp_protocol(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    d[9] = 17;
    refresh_ip_checksum(d);
    expect_error(d, n, SK_PARSE_NOT_TCP);
}

static void test_error_truncated_tcp(void **state)
{
    uint8_t d[48];
    make_valid(d);
    /* 19 bytes of TCP after the IP header. */
    wr16(d + 2, 39);
    refresh_ip_checksum(d);
    expect_error(d, 39, SK_PARSE_TRUNCATED_TCP);
    expect_error(d, 48, SK_PARSE_TRUNCATED_TCP);
}

static void test_error_doff_below_5(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    d[32] = (uint8_t)((4 << 4) | (d[32] & 0x0f));
    refresh_checksums(d);
    expect_error(d, n, SK_PARSE_BAD_DOFF);
}

static void test_error_doff_beyond_datagram(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    /* 28 bytes of TCP; doff 8 claims 32. */
    d[32] = (uint8_t)((8 << 4) | (d[32] & 0x0f));
    refresh_checksums(d);
    expect_error(d, n, SK_PARSE_BAD_DOFF);
}

static void test_error_bad_tcp_checksum(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    d[47] ^= 0x20; /* payload bit flip */
    expect_error(d, n, SK_PARSE_BAD_TCP_CSUM);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_BAD_TCP_CSUM);
    /* The refused segment is still fully decoded for tools to show. */
    assert_int_equal(seg.sport, 1000);
    assert_int_equal(seg.payload_len, 4);
    assert_int_equal(sk_parse_segment(d, n, false, &seg), SK_PARSE_OK);
    assert_int_equal(seg.payload[3], 'a' ^ 0x20);
}

/* Linux's tcp_parse_options stops at an option of length 0 or 1 and keeps
 * what it parsed; the segment is processed, not dropped. */
static void test_option_length_zero_ends_the_walk(void **state)
{
    uint8_t d[48];
    size_t n = make_valid(d);
    d[41] = 0; /* MSS with length 0 */
    refresh_checksums(d);
    expect_error(d, n, SK_PARSE_OK);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    assert_false(seg.opts.has_mss);
    assert_int_equal(seg.payload_len, 4);
    assert_false(sk_parse_options(seg.options, seg.options_len, &seg.opts));
    d[41] = 1; /* and length 1 */
    refresh_checksums(d);
    expect_error(d, n, SK_PARSE_OK);
}

/* An option running past the header ends the walk too; what came before
 * it stays decoded. */
static void test_option_length_overrun_ends_the_walk(void **state)
{
    static const uint8_t opts[8] = {SK_TCPOPT_WSCALE, 3, 7, SK_TCPOPT_NOP, SK_TCPOPT_TIMESTAMP, 10, 0, 0};
    sk_tcp_opts o;
    assert_false(sk_parse_options(opts, sizeof opts, &o));
    assert_true(o.has_wscale);
    assert_int_equal(o.wscale, 7);
    assert_false(o.has_ts);

    uint8_t d[48];
    size_t n = make_valid(d);
    d[40] = SK_TCPOPT_TIMESTAMP;
    d[41] = 10; /* 10 bytes in a 4-byte option area */
    refresh_checksums(d);
    expect_error(d, n, SK_PARSE_OK);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.dport, 2000);
    assert_false(seg.opts.has_ts);
    assert_int_equal(seg.payload_len, 4);
}

static void test_parse_error_names(void **state)
{
    assert_string_equal(sk_parse_error_name(SK_PARSE_OK), "ok");
    assert_string_equal(sk_parse_error_name(SK_PARSE_TRUNCATED_IP), "truncated-ip");
    assert_string_equal(sk_parse_error_name(SK_PARSE_BAD_VERSION), "bad-ip-version");
    assert_string_equal(sk_parse_error_name(SK_PARSE_BAD_IHL), "bad-ihl");
    assert_string_equal(sk_parse_error_name(SK_PARSE_BAD_IP_CSUM), "bad-ip-checksum");
    assert_string_equal(sk_parse_error_name(SK_PARSE_FRAGMENT), "fragment");
    assert_string_equal(sk_parse_error_name(SK_PARSE_NOT_TCP), "not-tcp");
    assert_string_equal(sk_parse_error_name(SK_PARSE_TRUNCATED_TCP), "truncated-tcp");
    assert_string_equal(sk_parse_error_name(SK_PARSE_BAD_DOFF), "bad-data-offset");
    assert_string_equal(sk_parse_error_name(SK_PARSE_BAD_TCP_CSUM), "bad-tcp-checksum");
    assert_string_equal(sk_parse_error_name((sk_parse_error)99), "unknown");
}

/* ------------------------------------------------------------------ */
/* Options                                                            */

static void test_options_linux_syn_block(void **state)
{
    sk_tcp_opts o;
    assert_true(sk_parse_options(linux_syn_opts, sizeof linux_syn_opts, &o));
    assert_true(o.has_mss);
    assert_int_equal(o.mss, 1460);
    assert_true(o.sack_permitted);
    assert_true(o.has_ts);
    assert_int_equal(o.ts_val, 100);
    assert_int_equal(o.ts_ecr, 0);
    assert_true(o.has_wscale);
    assert_int_equal(o.wscale, 7);
    assert_int_equal(o.sack_count, 0);
}

/* Linux's SYN without timestamps: mss, nop, nop, sackOK, nop, wscale. */
static void test_options_linux_syn_without_ts(void **state)
{
    static const uint8_t block[] = {0x02, 0x04, 0xff, 0xd7, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03, 0x03, 0x0a};
    sk_tcp_opts o;
    assert_true(sk_parse_options(block, sizeof block, &o));
    assert_int_equal(o.mss, 65495);
    assert_true(o.sack_permitted);
    assert_false(o.has_ts);
    assert_int_equal(o.wscale, 10);
}

static void test_options_sack_blocks(void **state)
{
    /* nop, nop, SACK with 1..4 blocks */
    uint8_t block[2 + 2 + 32];
    block[0] = 0x01;
    block[1] = 0x01;
    block[2] = SK_TCPOPT_SACK;
    for (int i = 0; i < 32; i++)
        block[4 + i] = (uint8_t)(0x10 + i);
    for (unsigned n = 1; n <= 4; n++) {
        block[3] = (uint8_t)(2 + 8 * n);
        sk_tcp_opts o;
        assert_true(sk_parse_options(block, 4 + 8 * n, &o));
        assert_int_equal(o.sack_count, n);
        for (unsigned i = 0; i < n; i++) {
            uint32_t base = 0x10 + 8 * i;
            uint32_t start = (base << 24) | ((base + 1) << 16) | ((base + 2) << 8) | (base + 3);
            uint32_t end = ((base + 4) << 24) | ((base + 5) << 16) | ((base + 6) << 8) | (base + 7);
            assert_int_equal(o.sack[i].start, start);
            assert_int_equal(o.sack[i].end, end);
        }
        for (unsigned i = n; i < SK_SACK_MAX_BLOCKS; i++) {
            assert_int_equal(o.sack[i].start, 0);
            assert_int_equal(o.sack[i].end, 0);
        }
    }
}

/* The usual data-segment layout: nop, nop, TS, nop, nop, SACK 1 block. */
static void test_options_ts_then_sack(void **state)
{
    static const uint8_t block[] = {0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                    0x02, 0x00, 0x01, 0x01, 0x05, 0x0a, 0x00, 0x00, 0x03, 0xe8,
                                    0x00, 0x00, 0x07, 0xd0};
    sk_tcp_opts o;
    assert_true(sk_parse_options(block, sizeof block, &o));
    assert_true(o.has_ts);
    assert_int_equal(o.ts_val, 256);
    assert_int_equal(o.ts_ecr, 512);
    assert_int_equal(o.sack_count, 1);
    assert_int_equal(o.sack[0].start, 1000);
    assert_int_equal(o.sack[0].end, 2000);
}

/* Linux's tcp_parse_options ignores a known option with the wrong length. */
static void test_options_wrong_length_known_option_is_absent(void **state)
{
    static const uint8_t block[] = {
        0x02, 0x05, 0x05, 0xb4, 0x00,       /* MSS len 5           */
        0x03, 0x04, 0x07, 0x00,             /* WSCALE len 4        */
        0x04, 0x03, 0x00,                   /* SACK_PERM len 3     */
        0x08, 0x08, 1, 2, 3, 4, 5, 6,       /* TIMESTAMP len 8     */
        0x05, 0x09, 1, 2, 3, 4, 5, 6, 7,    /* SACK len 9 (not 2+8n) */
        0x05, 0x02,                         /* SACK len 2 (no blocks) */
    };
    sk_tcp_opts o;
    assert_true(sk_parse_options(block, sizeof block, &o));
    assert_false(o.has_mss);
    assert_false(o.has_wscale);
    assert_false(o.sack_permitted);
    assert_false(o.has_ts);
    assert_int_equal(o.sack_count, 0);
}

/* Linux keeps its default MSS when the peer advertises 0. */
static void test_options_mss_zero_is_absent(void **state)
{
    static const uint8_t block[] = {0x02, 0x04, 0x00, 0x00};
    sk_tcp_opts o;
    assert_true(sk_parse_options(block, sizeof block, &o));
    assert_false(o.has_mss);
}

/* RFC 7323 §2.3: shifts above 14 are treated as 14 (Linux clamps). */
static void test_options_wscale_clamped_to_14(void **state)
{
    static const uint8_t block15[] = {0x03, 0x03, 15, 0x00};
    static const uint8_t block14[] = {0x03, 0x03, 14, 0x00};
    static const uint8_t block255[] = {0x03, 0x03, 255, 0x00};
    sk_tcp_opts o;
    assert_true(sk_parse_options(block15, sizeof block15, &o));
    assert_true(o.has_wscale);
    assert_int_equal(o.wscale, 14);
    assert_true(sk_parse_options(block14, sizeof block14, &o));
    assert_int_equal(o.wscale, 14);
    assert_true(sk_parse_options(block255, sizeof block255, &o));
    assert_int_equal(o.wscale, 14);
}

static void test_options_unknown_kind_skipped(void **state)
{
    /* Fast Open cookie (34) of 10 bytes, then MSS. */
    static const uint8_t block[] = {34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 0x02, 0x04, 0x02, 0x18};
    sk_tcp_opts o;
    assert_true(sk_parse_options(block, sizeof block, &o));
    assert_true(o.has_mss);
    assert_int_equal(o.mss, 536);
}

static void test_options_eol_ends_list(void **state)
{
    /* Garbage after EOL (here a would-be bad length) is not parsed. */
    static const uint8_t block[] = {0x02, 0x04, 0x05, 0xb4, 0x00, 0x03, 0x00, 0x00};
    sk_tcp_opts o;
    assert_true(sk_parse_options(block, sizeof block, &o));
    assert_true(o.has_mss);
    assert_false(o.has_wscale);
    assert_true(sk_parse_options(block, 0, &o));
    assert_false(o.has_mss);
}

/* A later copy of an option overrides an earlier one, as in Linux. */
static void test_options_later_copy_wins(void **state)
{
    static const uint8_t block[] = {0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2,
                                    0x08, 0x0a, 0, 0, 0, 3, 0, 0, 0, 4};
    sk_tcp_opts o;
    assert_true(sk_parse_options(block, sizeof block, &o));
    assert_int_equal(o.ts_val, 3);
    assert_int_equal(o.ts_ecr, 4);
}

static void test_options_malformed(void **state)
{
    sk_tcp_opts o;
    static const uint8_t len0[] = {0x02, 0x00, 0x00, 0x00};
    static const uint8_t len1[] = {0x01, 0x01, 0x1e, 0x01};
    static const uint8_t overrun[] = {0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t no_len_byte[] = {0x01, 0x01, 0x01, 0x02};
    static const uint8_t unknown_overrun[] = {0xfe, 0x05, 0x00, 0x00};
    assert_false(sk_parse_options(len0, sizeof len0, &o));
    assert_false(sk_parse_options(len1, sizeof len1, &o));
    assert_false(sk_parse_options(overrun, sizeof overrun, &o));
    assert_false(sk_parse_options(no_len_byte, sizeof no_len_byte, &o));
    assert_false(sk_parse_options(unknown_overrun, sizeof unknown_overrun, &o));
    /* What preceded the bad option is kept. */
    static const uint8_t mss_then_bad[] = {0x02, 0x04, 0x05, 0xb4, 0x03, 0x00, 0x00, 0x00};
    assert_false(sk_parse_options(mss_then_bad, sizeof mss_then_bad, &o));
    assert_true(o.has_mss);
    assert_int_equal(o.mss, 1460);
}

/* ------------------------------------------------------------------ */
/* Randomized: the parser must stay inside the datagram                */

#define FUZZ_ITERATIONS 100000

static const uint8_t option_kinds[] = {0, 1, 2, 3, 4, 5, 8, 34, 254};

/* A random option area biased towards well-formed known options, so the
 * decoder's inner branches are reached, with random lengths mixed in. */
static size_t random_options(sk_rng *rng, uint8_t *out)
{
    size_t len = 4 * sk_rng_below(rng, 11);
    size_t pos = 0;
    while (pos < len) {
        uint8_t kind = option_kinds[sk_rng_below(rng, sizeof option_kinds)];
        out[pos++] = kind;
        if (pos >= len)
            break;
        uint8_t optlen;
        switch (kind) {
        case 2: optlen = 4; break;
        case 3: optlen = 3; break;
        case 4: optlen = 2; break;
        case 8: optlen = 10; break;
        case 5: optlen = (uint8_t)(2 + 8 * (1 + sk_rng_below(rng, 4))); break;
        default: optlen = (uint8_t)sk_rng_below(rng, 12); break;
        }
        if (sk_rng_below(rng, 8) == 0)
            optlen = (uint8_t)sk_rng_below(rng, 256);
        if (kind > 1)
            out[pos++] = optlen;
        while (pos < len && optlen > 2) {
            out[pos++] = (uint8_t)sk_rng_next(rng);
            optlen--;
        }
    }
    return len;
}

/* Refreshes checksums only where the (possibly mutated) lengths allow, so
 * the parser's later checks are reached by mutated inputs too. */
static void fix_checksums_within(uint8_t *d, size_t len)
{
    if (len < 20)
        return;
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        return;
    refresh_ip_checksum(d);
    size_t total = rd16(d + 2);
    if (total > len || total < ihl + 20)
        return;
    refresh_checksums(d);
}

static void check_parse_invariants(const uint8_t *d, size_t len, sk_parse_error err, const sk_segment *seg)
{
    assert_true(err >= SK_PARSE_OK && err <= SK_PARSE_BAD_SRC_ADDR);
    if (err != SK_PARSE_OK && err != SK_PARSE_BAD_TCP_CSUM)
        return;
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    assert_true(seg->ip_len <= len);
    assert_int_equal(seg->ip_len, rd16(d + 2));
    assert_true(seg->doff >= 20);
    assert_ptr_equal(seg->options, d + ihl + 20);
    assert_int_equal(seg->options_len, seg->doff - 20u);
    assert_ptr_equal(seg->payload, d + ihl + seg->doff);
    assert_ptr_equal(seg->payload + seg->payload_len, d + seg->ip_len);
    assert_true(seg->opts.sack_count <= SK_SACK_MAX_BLOCKS);
    assert_true(seg->opts.wscale <= 14);
}

static void test_parse_random_inputs_stay_in_bounds(void **state)
{
    sk_rng rng;
    sk_rng_seed(&rng, 0x5eed);
    /* every sk_parse_error, the IPv6 ones included (the inputs are IPv4,
     * but a mutated version nibble reaches the IPv6 parser) */
    size_t outcome[SK_PARSE_BAD_SRC_ADDR + 1] = {0};
    size_t opts_false = 0, opts_true = 0;

    for (int iter = 0; iter < FUZZ_ITERATIONS; iter++) {
        uint8_t work[128];
        size_t len;
        if (iter % 4 == 0) {
            /* Pure noise, half of it with a plausible first byte. */
            len = sk_rng_below(&rng, 100);
            for (size_t i = 0; i < len; i++)
                work[i] = (uint8_t)sk_rng_next(&rng);
            if (len > 0 && sk_rng_below(&rng, 2))
                work[0] = 0x45;
        } else {
            uint8_t opts[40], payload[24];
            size_t opts_len = random_options(&rng, opts);
            size_t payload_len = sk_rng_below(&rng, sizeof payload + 1);
            for (size_t i = 0; i < payload_len; i++)
                payload[i] = (uint8_t)sk_rng_next(&rng);
            sk_segment_spec spec = {
                .src = (uint32_t)sk_rng_next(&rng), .dst = (uint32_t)sk_rng_next(&rng),
                .sport = (uint16_t)sk_rng_next(&rng), .dport = (uint16_t)sk_rng_next(&rng),
                .seq = (uint32_t)sk_rng_next(&rng), .ack = (uint32_t)sk_rng_next(&rng),
                .flags = (uint16_t)sk_rng_below(&rng, 0x200), .window = (uint16_t)sk_rng_next(&rng),
                .options = opts, .options_len = opts_len, .payload = payload, .payload_len = payload_len,
            };
            len = sk_build_segment(&spec, work, sizeof work);
            assert_true(len >= 40);
            /* Flip a few bytes, most often in the headers. */
            unsigned flips = sk_rng_below(&rng, 4);
            for (unsigned f = 0; f < flips; f++) {
                size_t at = sk_rng_below(&rng, 2) ? sk_rng_below(&rng, 40) : sk_rng_below(&rng, (uint32_t)len);
                work[at] = (uint8_t)sk_rng_next(&rng);
            }
            if (sk_rng_below(&rng, 4) == 0)
                len = sk_rng_below(&rng, (uint32_t)len + 1);
            else if (sk_rng_below(&rng, 8) == 0 && len + 8 <= sizeof work)
                len += 8; /* trailing link padding */
            if (sk_rng_below(&rng, 2))
                fix_checksums_within(work, len);
        }

        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, work, len);
        sk_segment seg;
        bool verify = sk_rng_below(&rng, 4) != 0;
        sk_parse_error err = sk_parse_segment(exact, len, verify, &seg);
        check_parse_invariants(exact, len, err, &seg);
        outcome[err]++;

        /* The option decoder alone, on an exact-size block: the (mutated)
         * option area of a built segment, or any slice of noise. */
        size_t ostart = (iter % 4 != 0 && len >= 40) ? 40 : sk_rng_below(&rng, (uint32_t)len + 1);
        size_t olen = len - ostart < 40 ? len - ostart : 40;
        uint8_t *oblock = malloc(olen ? olen : 1);
        assert_non_null(oblock);
        memcpy(oblock, exact + ostart, olen);
        sk_tcp_opts o;
        bool decoded = sk_parse_options(oblock, olen, &o);
        free(oblock);
        if (decoded)
            opts_true++;
        else
            opts_false++;
        assert_true(o.sack_count <= SK_SACK_MAX_BLOCKS);
        free(exact);
    }
    /* The inputs (IPv4 templates) reach every IPv4 outcome, so every
     * check was exercised; the IPv6 ones have tests of their own. */
    for (int e = SK_PARSE_OK; e <= SK_PARSE_BAD_TCP_CSUM; e++) {
        if (outcome[e] == 0)
            fail_msg("no random input gave %s", sk_parse_error_name((sk_parse_error)e));
    }
    assert_true(opts_true > 0);
    assert_true(opts_false > 0);
}


/* ------------------------------------------------------------------ */
/* IPv6 (RFC 8200)                                                      */

/* The SYN of tests/data/clean6-sll.pcap: Linux 6.x connecting from
 * fd77::1 to fd77::2 over a TUN device, captured before the device
 * completed the checksum (CHECKSUM_PARTIAL: the field holds the
 * pseudo-header's sum, 0xfb20). */
static const uint8_t linux_syn6[80] = {
    0x60, 0x06, 0x6e, 0xe4, 0x00, 0x28, 0x06, 0x40, 0xfd, 0x77, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0x01, 0xfd, 0x77, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0x02, 0xc9, 0x40, 0x1f, 0x90, 0xba, 0x4b, 0xa9, 0xae,
    0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd, 0x20, 0xfb, 0x20, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0,
    0x04, 0x02, 0x08, 0x0a, 0x38, 0x41, 0x62, 0x46, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
};
static const uint8_t fd77_1[16] = {0xfd, 0x77, [15] = 1};
static const uint8_t fd77_2[16] = {0xfd, 0x77, [15] = 2};

static sk_segment_spec linux_syn6_spec(void)
{
    sk_segment_spec spec = {
        .ip_version = 6, .flowlabel = 0x66ee4, .sport = 51520, .dport = 8080, .seq = 0xba4ba9ae,
        .flags = SK_TH_SYN, .window = 0xfd20, .ttl = 64, .options = linux_syn6 + 60, .options_len = 20,
    };
    memcpy(spec.src6, fd77_1, 16);
    memcpy(spec.dst6, fd77_2, 16);
    return spec;
}

static void test_ipv6_parse_linux_syn(void **state)
{
    sk_segment seg;
    assert_int_equal(sk_parse_segment(linux_syn6, sizeof linux_syn6, false, &seg), SK_PARSE_OK);
    assert_int_equal(seg.ip_version, 6);
    assert_memory_equal(seg.src6, fd77_1, 16);
    assert_memory_equal(seg.dst6, fd77_2, 16);
    assert_int_equal(seg.src, 0);
    assert_int_equal(seg.flowlabel, 0x66ee4);
    assert_int_equal(seg.tos, 0);
    assert_int_equal(seg.ttl, 64);
    assert_true(seg.df);
    assert_int_equal(seg.ip_len, 80);
    assert_int_equal(seg.ip_proto, 6);
    assert_int_equal(seg.l4_off, 40);
    assert_int_equal(seg.sport, 51520);
    assert_int_equal(seg.dport, 8080);
    assert_int_equal(seg.seq, 0xba4ba9ae);
    assert_int_equal(seg.flags, SK_TH_SYN);
    assert_int_equal(seg.window, 64800);
    assert_true(seg.opts.has_mss);
    assert_int_equal(seg.opts.mss, 1440);
    assert_int_equal(seg.opts.wscale, 10);
    assert_true(seg.opts.sack_permitted);
    assert_int_equal(seg.opts.ts_val, 943809094);
    /* The partial checksum does not verify; the datagram is otherwise whole. */
    assert_int_equal(sk_parse_segment(linux_syn6, sizeof linux_syn6, true, &seg), SK_PARSE_BAD_TCP_CSUM);
}

static void test_ipv6_build_matches_linux_partial_checksum(void **state)
{
    sk_segment_spec spec = linux_syn6_spec();
    spec.csum_partial = true;
    uint8_t buf[128];
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 80);
    assert_memory_equal(buf, linux_syn6, 80);
}

/* The full checksum, computed independently (RFC 8200 §8.1 pseudo-header
 * summed in Python): 0x68ab. */
static void test_ipv6_build_full_checksum_known_answer(void **state)
{
    sk_segment_spec spec = linux_syn6_spec();
    uint8_t buf[128];
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 80);
    assert_int_equal(rd16(buf + 56), 0x68ab);
    assert_int_equal(sk_tcp_checksum6(fd77_1, fd77_2, buf + 40, 40), 0);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(buf, 80, true, &seg), SK_PARSE_OK);
    /* One flipped payload-side bit is caught, and so is a wrong address. */
    buf[79] ^= 1;
    assert_int_equal(sk_parse_segment(buf, 80, true, &seg), SK_PARSE_BAD_TCP_CSUM);
    buf[79] ^= 1;
    buf[39] ^= 4;
    assert_int_equal(sk_parse_segment(buf, 80, true, &seg), SK_PARSE_BAD_TCP_CSUM);
}

/* The TCP checksum over IPv6 written out byte pair by byte pair: RFC 8200
 * §8.1's pseudo-header (source, destination, the upper-layer length
 * `ulen` as 32 bits, three zero bytes, next header 6), then `n` bytes of
 * segment.  The reference sk_tcp_pseudo_sum6's word-at-a-time sum must
 * agree with. */
static uint16_t reference_tcp_checksum6(const uint8_t src[16], const uint8_t dst[16], uint32_t ulen,
                                        const uint8_t *tcp, size_t n)
{
    uint8_t ph[40] = {0};
    memcpy(ph, src, 16);
    memcpy(ph + 16, dst, 16);
    ph[32] = (uint8_t)(ulen >> 24);
    ph[33] = (uint8_t)(ulen >> 16);
    ph[34] = (uint8_t)(ulen >> 8);
    ph[35] = (uint8_t)ulen;
    ph[39] = 6;
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof ph; i += 2)
        sum += (uint32_t)(ph[i] << 8 | ph[i + 1]);
    for (size_t i = 0; i < n; i++)
        sum += (i % 2 == 0) ? (uint32_t)tcp[i] << 8 : tcp[i];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* sk_tcp_pseudo_sum6, and sk_tcp_checksum6 on top of it, equal the
 * reference: random, all-ones (every 16-bit addition carries) and zero
 * addresses; odd and even lengths at odd and even alignment; payloads of
 * random bytes and of 0xff; a segment carrying its own checksum (the sum
 * is then "negative zero", 0xffff); and a length above 65535, which puts
 * bits in the upper half of the 32-bit length field. */
static void test_ipv6_checksum_matches_byte_pair_reference(void **state)
{
    enum { BIG = 70001 };
    sk_rng rng;
    sk_rng_seed(&rng, 61);
    uint8_t *rnd = malloc(BIG + 1), *ones = malloc(BIG);
    assert_non_null(rnd);
    assert_non_null(ones);
    for (size_t i = 0; i < BIG + 1; i++)
        rnd[i] = (uint8_t)sk_rng_next(&rng);
    memset(ones, 0xff, BIG);
    uint8_t all_ones[16], zero[16] = {0};
    memset(all_ones, 0xff, sizeof all_ones);
    const uint8_t *fixed[] = {fd77_1, fd77_2, all_ones, zero};
    size_t checked = 0;
    for (size_t round = 0; round < 96; round++) {
        uint8_t rs[16], rd[16];
        for (size_t i = 0; i < 16; i++) {
            rs[i] = (uint8_t)sk_rng_next(&rng);
            rd[i] = (uint8_t)sk_rng_next(&rng);
        }
        const uint8_t *src = round % 5 == 4 ? rs : fixed[round % 4];
        const uint8_t *dst = round % 5 == 4 ? rd : fixed[(round / 4) % 4];
        size_t len = round < 90 ? round * 3 : BIG - (round - 90); /* 0..267, then 70001..69996 */
        assert_int_equal(sk_csum_fold(sk_tcp_pseudo_sum6(src, dst, len)),
                         reference_tcp_checksum6(src, dst, (uint32_t)len, NULL, 0));
        const uint8_t *payloads[] = {rnd, rnd + 1, ones};
        for (size_t k = 0; k < 3; k++) {
            uint16_t want = reference_tcp_checksum6(src, dst, (uint32_t)len, payloads[k], len);
            assert_int_equal(sk_tcp_checksum6(src, dst, payloads[k], len), want);
            checked++;
        }
        /* A segment with its checksum stored at bytes 16-17 verifies to 0. */
        if (len >= 20) {
            uint8_t *seg = malloc(len);
            assert_non_null(seg);
            memcpy(seg, round % 2 ? ones : rnd, len);
            seg[16] = seg[17] = 0;
            uint16_t c = sk_tcp_checksum6(src, dst, seg, len);
            assert_int_equal(c, reference_tcp_checksum6(src, dst, (uint32_t)len, seg, len));
            seg[16] = (uint8_t)(c >> 8);
            seg[17] = (uint8_t)c;
            assert_int_equal(sk_tcp_checksum6(src, dst, seg, len), 0);
            assert_int_equal(reference_tcp_checksum6(src, dst, (uint32_t)len, seg, len), 0);
            free(seg);
        }
    }
    assert_int_equal(checked, 96 * 3);
    /* Addresses mostly of 0xff bytes, every length to 65537: the sums
     * that carry at each of the folds. */
    for (size_t len = 0; len <= 65537; len++) {
        uint8_t hs[16], hd[16];
        for (size_t i = 0; i < 16; i++) {
            uint64_t r = sk_rng_next(&rng);
            hs[i] = r & 3 ? 0xff : (uint8_t)(r >> 8);
            hd[i] = r & 12 ? 0xff : (uint8_t)(r >> 16);
        }
        assert_int_equal(sk_csum_fold(sk_tcp_pseudo_sum6(hs, hd, len)),
                         reference_tcp_checksum6(hs, hd, (uint32_t)len, NULL, 0));
    }
    free(rnd);
    free(ones);
}

static void test_ipv6_build_traffic_class_and_hop_limit(void **state)
{
    sk_segment_spec spec = linux_syn6_spec();
    spec.tos = 0xb9; /* DSCP 46, ECT(1) */
    spec.ttl = 0;
    spec.flowlabel = 0xfffff123; /* only 20 bits go out */
    uint8_t buf[128];
    assert_int_equal(sk_build_segment(&spec, buf, sizeof buf), 80);
    assert_int_equal(buf[0], 0x6b);
    assert_int_equal(buf[1], 0x9f);
    assert_int_equal(buf[2], 0xf1);
    assert_int_equal(buf[3], 0x23);
    assert_int_equal(buf[7], 64);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(buf, 80, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.tos, 0xb9);
    assert_int_equal(seg.flowlabel, 0xff123);
}

/* Inserts an extension header of `hlen` bytes (next header `nh` in the
 * fixed header, the TCP one inside it) into a built SYN: the TCP
 * checksum does not cover it, so the datagram stays valid. */
static size_t with_exthdr(uint8_t *out, uint8_t nh, const uint8_t *ext, size_t hlen)
{
    sk_segment_spec spec = linux_syn6_spec();
    uint8_t buf[128];
    size_t n = sk_build_segment(&spec, buf, sizeof buf);
    memcpy(out, buf, 40);
    memcpy(out + 40, ext, hlen);
    out[40] = 6;
    memcpy(out + 40 + hlen, buf + 40, n - 40);
    out[6] = nh;
    wr16(out + 4, (uint16_t)(n - 40 + hlen));
    return n + hlen;
}

static void test_ipv6_extension_headers_walked(void **state)
{
    uint8_t d[256];
    sk_segment seg;
    /* Hop-by-hop with a router alert and PadN of 2 zero bytes. */
    static const uint8_t hbh[8] = {6, 0, 5, 2, 0, 0, 1, 0};
    size_t n = with_exthdr(d, 0, hbh, 8);
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.l4_off, 48);
    assert_int_equal(seg.sport, 51520);
    /* Routing header with no segments left: ignored (RFC 8200 §4.4). */
    static const uint8_t rh[8] = {6, 0, 4, 0, 0, 0, 0, 0};
    n = with_exthdr(d, 43, rh, 8);
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    /* An atomic fragment (RFC 6946) is a whole datagram. */
    static const uint8_t frag[8] = {6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78};
    n = with_exthdr(d, 44, frag, 8);
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    /* Destination options, 16 bytes, with an unknown skippable option. */
    static const uint8_t dst[16] = {6, 1, 0x1e, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 0};
    n = with_exthdr(d, 60, dst, 16);
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.l4_off, 56);
}

static void test_ipv6_extension_header_errors(void **state)
{
    uint8_t d[256];
    sk_segment seg;
    /* Routing header with segments left: this host would forward. */
    static const uint8_t rh[8] = {6, 0, 4, 1, 0, 0, 0, 0};
    size_t n = with_exthdr(d, 43, rh, 8);
    expect_error(d, n, SK_PARSE_BAD_EXTHDR);
    /* A real fragment: first of several, then a later one. */
    static const uint8_t frag_first[8] = {6, 0, 0, 1, 0, 0, 0, 1};
    n = with_exthdr(d, 44, frag_first, 8);
    expect_error(d, n, SK_PARSE_FRAGMENT);
    static const uint8_t frag_later[8] = {6, 0, 0, 0x10, 0, 0, 0, 1};
    n = with_exthdr(d, 44, frag_later, 8);
    expect_error(d, n, SK_PARSE_FRAGMENT);
    /* Unknown option whose type says "discard" (high bits 01). */
    static const uint8_t discard[8] = {6, 0, 0x5e, 2, 0, 0, 1, 0};
    n = with_exthdr(d, 60, discard, 8);
    expect_error(d, n, SK_PARSE_BAD_EXTHDR);
    /* PadN with a nonzero byte, and more than 7 bytes of padding. */
    static const uint8_t dirty_pad[8] = {6, 0, 1, 4, 0, 9, 0, 0};
    n = with_exthdr(d, 60, dirty_pad, 8);
    expect_error(d, n, SK_PARSE_BAD_EXTHDR);
    static const uint8_t long_pad[16] = {6, 1, 1, 12, 0};
    n = with_exthdr(d, 60, long_pad, 16);
    expect_error(d, n, SK_PARSE_BAD_EXTHDR);
    /* An option running past its header. */
    static const uint8_t overrun[8] = {6, 0, 0x1e, 9, 0, 0, 0, 0};
    n = with_exthdr(d, 60, overrun, 8);
    expect_error(d, n, SK_PARSE_BAD_EXTHDR);
    /* A jumbo payload option. */
    static const uint8_t jumbo[8] = {6, 0, 0xc2, 4, 0, 1, 0, 0};
    n = with_exthdr(d, 0, jumbo, 8);
    expect_error(d, n, SK_PARSE_BAD_EXTHDR);
    /* Hop-by-hop after another header: no handler, as in Linux. */
    static const uint8_t dst_then_hbh[8] = {0, 0, 1, 4, 0, 0, 0, 0};
    n = with_exthdr(d, 60, dst_then_hbh, 8);
    d[40] = 0;
    expect_error(d, n, SK_PARSE_NOT_TCP);
    /* A header length past the payload. */
    static const uint8_t big[8] = {6, 5, 1, 4, 0, 0, 0, 0};
    n = with_exthdr(d, 60, big, 8);
    expect_error(d, n, SK_PARSE_BAD_EXTHDR);
    /* ICMPv6 is not TCP; the parser says where it starts. */
    memcpy(d, linux_syn6, 80);
    d[6] = 58;
    assert_int_equal(sk_parse_segment(d, 80, true, &seg), SK_PARSE_NOT_TCP);
    assert_int_equal(seg.ip_proto, 58);
    assert_int_equal(seg.l4_off, 40);
}

static void test_ipv6_header_errors(void **state)
{
    uint8_t d[96];
    memcpy(d, linux_syn6, 80);
    expect_error(d, 39, SK_PARSE_TRUNCATED_IP);
    wr16(d + 4, 41); /* payload length past the datagram */
    expect_error(d, 80, SK_PARSE_TRUNCATED_IP);
    memcpy(d, linux_syn6, 80);
    d[8] = 0xff; /* multicast source */
    expect_error(d, 80, SK_PARSE_BAD_SRC_ADDR);
    /* Link padding past the payload length is ignored. */
    sk_segment_spec spec = linux_syn6_spec();
    size_t n = sk_build_segment(&spec, d, sizeof d);
    memset(d + n, 0xee, 16);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, n + 16, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.ip_len, 80);
    assert_int_equal(seg.payload_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csum_rfc1071_example),
        cmocka_unit_test(test_csum_ipv4_header_known_answer),
        cmocka_unit_test(test_csum_tcp_syn_known_answer),
        cmocka_unit_test(test_csum_tcp_odd_payload_known_answer),
        cmocka_unit_test(test_csum_any_alignment_and_length),
        cmocka_unit_test(test_build_parse_round_trip_all_fields),
        cmocka_unit_test(test_each_flag_round_trips_alone),
        cmocka_unit_test(test_build_defaults_ttl_64_and_no_df),
        cmocka_unit_test(test_build_masks_flags_to_nine_bits),
        cmocka_unit_test(test_build_refuses_small_buffer_and_bad_options),
        cmocka_unit_test(test_parse_ignores_link_padding),
        cmocka_unit_test(test_parse_skips_ip_options),
        cmocka_unit_test(test_error_truncated_ip),
        cmocka_unit_test(test_error_bad_version),
        cmocka_unit_test(test_ipv6_parse_linux_syn),
        cmocka_unit_test(test_build_options_in_place_same_bytes),
        cmocka_unit_test(test_ipv6_build_matches_linux_partial_checksum),
        cmocka_unit_test(test_ipv6_build_full_checksum_known_answer),
        cmocka_unit_test(test_ipv6_checksum_matches_byte_pair_reference),
        cmocka_unit_test(test_ipv6_build_traffic_class_and_hop_limit),
        cmocka_unit_test(test_ipv6_extension_headers_walked),
        cmocka_unit_test(test_ipv6_extension_header_errors),
        cmocka_unit_test(test_ipv6_header_errors),
        cmocka_unit_test(test_error_ihl_below_5),
        cmocka_unit_test(test_error_bad_ip_checksum),
        cmocka_unit_test(test_error_more_fragments),
        cmocka_unit_test(test_error_fragment_offset),
        cmocka_unit_test(test_error_udp_protocol),
        cmocka_unit_test(test_error_truncated_tcp),
        cmocka_unit_test(test_error_doff_below_5),
        cmocka_unit_test(test_error_doff_beyond_datagram),
        cmocka_unit_test(test_error_bad_tcp_checksum),
        cmocka_unit_test(test_option_length_zero_ends_the_walk),
        cmocka_unit_test(test_option_length_overrun_ends_the_walk),
        cmocka_unit_test(test_parse_error_names),
        cmocka_unit_test(test_options_linux_syn_block),
        cmocka_unit_test(test_options_linux_syn_without_ts),
        cmocka_unit_test(test_options_sack_blocks),
        cmocka_unit_test(test_options_ts_then_sack),
        cmocka_unit_test(test_options_wrong_length_known_option_is_absent),
        cmocka_unit_test(test_options_mss_zero_is_absent),
        cmocka_unit_test(test_options_wscale_clamped_to_14),
        cmocka_unit_test(test_options_unknown_kind_skipped),
        cmocka_unit_test(test_options_eol_ends_list),
        cmocka_unit_test(test_options_later_copy_wins),
        cmocka_unit_test(test_options_malformed),
        cmocka_unit_test(test_parse_random_inputs_stay_in_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
