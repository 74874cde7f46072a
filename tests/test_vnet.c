/*
 * The TUN loop's virtio-net header (src/io/vnet.c, SK_LOOP_VNET_HDR):
 * parsing what the kernel sends, refusing headers that do not describe
 * their datagram (a counted drop, never a crash), building the header for
 * what synack sends, the software checksum for frames the kernel did not
 * vouch for, and the loop over a SOCK_SEQPACKET socketpair standing in
 * for a TUN descriptor opened with IFF_VNET_HDR: partial checksums out,
 * trusted and verified checksums in, and a kernel super-segment (TSO)
 * taken whole.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/vnet.h"
#include "synack-io/loop.h"
#include "synack/packet.h"
#include "synack/synack.h"

#define KERNEL_ADDR 0x0a4d0001u /* 10.77.0.1 */
#define STACK_ADDR 0x0a4d0002u  /* 10.77.0.2 */

/* A SYN from the kernel, its checksum full, partial or broken. */
static size_t kernel_segment(uint8_t *d, size_t cap, uint16_t flags, uint32_t seq, uint32_t ack,
                             const uint8_t *payload, size_t plen, bool partial)
{
    static const uint8_t mss_opt[4] = {2, 4, 0x05, 0xa8}; /* MSS 1448 */
    sk_segment_spec spec = {.src = KERNEL_ADDR, .dst = STACK_ADDR, .sport = 40000, .dport = 80,
                            .seq = seq, .ack = ack, .flags = flags, .window = 64240, .df = true,
                            .payload = payload, .payload_len = plen, .csum_partial = partial};
    if (flags & SK_TH_SYN) {
        spec.options = mss_opt;
        spec.options_len = sizeof(mss_opt);
    }
    size_t len = sk_build_segment(&spec, d, cap);
    assert_true(len > 0);
    return len;
}

static void put_hdr(uint8_t *h, uint8_t flags, uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
                    uint16_t csum_start, uint16_t csum_offset)
{
    h[0] = flags;
    h[1] = gso_type;
    h[2] = (uint8_t)hdr_len, h[3] = (uint8_t)(hdr_len >> 8);
    h[4] = (uint8_t)gso_size, h[5] = (uint8_t)(gso_size >> 8);
    h[6] = (uint8_t)csum_start, h[7] = (uint8_t)(csum_start >> 8);
    h[8] = (uint8_t)csum_offset, h[9] = (uint8_t)(csum_offset >> 8);
}

/* A frame: header then a SYN datagram. */
static size_t syn_frame(uint8_t *f, size_t cap, bool partial)
{
    return SK_VNET_HDR_LEN + kernel_segment(f + SK_VNET_HDR_LEN, cap - SK_VNET_HDR_LEN, SK_TH_SYN, 1000, 0,
                                            NULL, 0, partial);
}

/* ------------------------------------------------------------------ */
/* Parsing and building                                                 */
/* ------------------------------------------------------------------ */

static void test_parse_taken(void **state)
{
    (void)state;
    uint8_t f[256];
    size_t n = syn_frame(f, sizeof(f), true);
    sk_vnet_rx rx;

    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_NONE, 0, 0, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_OK);
    assert_ptr_equal(rx.dgram, f + SK_VNET_HDR_LEN);
    assert_int_equal(rx.len, n - SK_VNET_HDR_LEN);
    assert_int_equal(rx.csum, SK_VNET_CSUM_PARTIAL);
    assert_int_equal(rx.gso_size, 0);
    assert_int_equal(rx.csum_start, 20);
    assert_int_equal(rx.csum_offset, 16);

    put_hdr(f, SK_VNET_F_DATA_VALID, SK_VNET_GSO_NONE, 0, 0, 0, 0);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_OK);
    assert_int_equal(rx.csum, SK_VNET_CSUM_VALID);

    put_hdr(f, 0, SK_VNET_GSO_NONE, 0, 0, 0, 0);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_OK);
    assert_int_equal(rx.csum, SK_VNET_CSUM_NONE);

    /* A TCPv4 super-segment, with and without CWR set on it (ECN). */
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_TCPV4, 52, 1448, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_OK);
    assert_int_equal(rx.gso_size, 1448);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_TCPV4 | SK_VNET_GSO_ECN, 52, 1448, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_OK);
    assert_int_equal(rx.gso_size, 1448);
}

static void test_parse_refused(void **state)
{
    (void)state;
    uint8_t f[256];
    size_t n = syn_frame(f, sizeof(f), true);
    size_t dlen = n - SK_VNET_HDR_LEN;
    sk_vnet_rx rx;

    /* Too short to hold a header, or a header with nothing after it. */
    assert_int_equal(sk_vnet_parse(f, 0, &rx), SK_VNET_SHORT);
    assert_int_equal(sk_vnet_parse(f, 4, &rx), SK_VNET_SHORT);
    assert_int_equal(sk_vnet_parse(f, SK_VNET_HDR_LEN, &rx), SK_VNET_SHORT);
    assert_null(rx.dgram);

    /* Flags never asked for. */
    put_hdr(f, SK_VNET_F_RSC_INFO, 0, 0, 0, 0, 0);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_FLAGS);
    put_hdr(f, 0x80, 0, 0, 0, 0, 0);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_FLAGS);

    /* The checksum field outside the datagram: its last byte one past
     * the end, and offsets that would wrap a 16-bit sum. */
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)(dlen - 17), 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_CSUM_SPAN);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, (uint16_t)(dlen - 18), 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_OK);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, 0xffff, 0xffff);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_CSUM_SPAN);

    /* GSO: without a size, of a kind not asked for, without a partial
     * checksum, or of the wrong family. */
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_TCPV4, 52, 0, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_UDP, 52, 1448, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_UDP_L4, 52, 1448, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, 0x7f, 52, 1448, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    put_hdr(f, 0, SK_VNET_GSO_TCPV4, 52, 1448, 0, 0);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_TCPV6, 52, 1448, 20, 16);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    put_hdr(f, 0, SK_VNET_GSO_ECN, 0, 0, 0, 0);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);

    /* GSO on a datagram that is not TCP (UDP), or is a fragment, or whose
     * total length runs past what was read. */
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_TCPV4, 52, 1448, 20, 6);
    f[SK_VNET_HDR_LEN + 9] = 17;
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    f[SK_VNET_HDR_LEN + 9] = 6;
    f[SK_VNET_HDR_LEN + 6] |= 0x20; /* MF */
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_BAD_GSO);
    f[SK_VNET_HDR_LEN + 6] &= (uint8_t)~0x20;
    assert_int_equal(sk_vnet_parse(f, n - 1, &rx), SK_VNET_BAD_GSO);
    assert_int_equal(sk_vnet_parse(f, n, &rx), SK_VNET_OK);
}

static void test_build_header(void **state)
{
    (void)state;
    uint8_t d[256], h[SK_VNET_HDR_LEN];
    sk_segment_spec spec = {.src = STACK_ADDR, .dst = KERNEL_ADDR, .sport = 80, .dport = 40000, .seq = 7,
                            .ack = 9, .flags = SK_TH_ACK, .window = 500, .df = true,
                            .payload = (const uint8_t *)"hello", .payload_len = 5, .csum_partial = true};
    size_t n = sk_build_segment(&spec, d, sizeof(d));
    sk_vnet_build(h, d, n);
    static const uint8_t want[SK_VNET_HDR_LEN] = {SK_VNET_F_NEEDS_CSUM, 0, 0, 0, 0, 0, 20, 0, 16, 0};
    assert_memory_equal(h, want, sizeof(want));

    /* What the kernel does with it (skb_checksum_help): the datagram then
     * carries its true checksum. */
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_BAD_TCP_CSUM);
    sk_vnet_complete_csum(d, n, 20, 16);
    assert_int_equal(sk_parse_segment(d, n, true, &seg), SK_PARSE_OK);
    assert_true(sk_vnet_tcp_csum_ok(d, n));

    /* IP options move the TCP header, and csum_start with it. */
    uint8_t o[256];
    o[0] = 0x46;
    memcpy(o + 1, d + 1, 19);
    o[3] = (uint8_t)(o[3] + 4);
    memset(o + 20, 1, 4); /* four NOPs */
    memcpy(o + 24, d + 20, n - 20);
    sk_vnet_build(h, o, n + 4);
    assert_int_equal(h[0], SK_VNET_F_NEEDS_CSUM);
    assert_int_equal(h[6], 24);
    assert_int_equal(h[8], 16);

    /* Not TCP, a fragment, or cut short: no offload asked for. */
    d[9] = 17;
    sk_vnet_build(h, d, n);
    static const uint8_t zero[SK_VNET_HDR_LEN] = {0};
    assert_memory_equal(h, zero, sizeof(zero));
    d[9] = 6;
    d[6] |= 0x20;
    sk_vnet_build(h, d, n);
    assert_memory_equal(h, zero, sizeof(zero));
    d[6] &= (uint8_t)~0x20;
    sk_vnet_build(h, d, 30);
    assert_memory_equal(h, zero, sizeof(zero));
    sk_vnet_build(h, d, 0);
    assert_memory_equal(h, zero, sizeof(zero));
}

static void test_software_checksum(void **state)
{
    (void)state;
    uint8_t d[256];
    uint8_t payload[7] = {1, 2, 3, 4, 5, 6, 7}; /* odd: the last byte padded */
    size_t n = kernel_segment(d, sizeof(d), SK_TH_ACK, 5, 6, payload, sizeof(payload), false);
    assert_true(sk_vnet_tcp_csum_ok(d, n));
    d[n - 1] ^= 0x40;
    assert_false(sk_vnet_tcp_csum_ok(d, n));
    d[n - 1] ^= 0x40;
    d[24] ^= 1; /* the sequence number */
    assert_false(sk_vnet_tcp_csum_ok(d, n));
    d[24] ^= 1;
    d[15] ^= 1; /* the source address, in the pseudo-header */
    assert_false(sk_vnet_tcp_csum_ok(d, n));
    d[15] ^= 1;
    /* Not judged here: not TCP, or too short to be. */
    d[9] = 17;
    assert_true(sk_vnet_tcp_csum_ok(d, n));
    assert_true(sk_vnet_tcp_csum_ok(d, 3));
}

/* Segments synack would send on one connection: 1448 bytes each. */
static size_t stack_segment(uint8_t *d, uint32_t seq, uint16_t flags, size_t plen, uint16_t window)
{
    static const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 9};
    static uint8_t payload[1448];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i + seq);
    sk_segment_spec spec = {.src = STACK_ADDR, .dst = KERNEL_ADDR, .sport = 80, .dport = 40000, .seq = seq,
                            .ack = 5, .flags = flags, .window = window, .df = true, .ip_id = (uint16_t)seq,
                            .options = ts, .options_len = sizeof(ts), .payload = payload,
                            .payload_len = plen, .csum_partial = true};
    return sk_build_segment(&spec, d, 1600);
}

static void test_gso_rules(void **state)
{
    (void)state;
    uint8_t a[1600], b[1600];
    size_t la = stack_segment(a, 1000, SK_TH_ACK, 1448, 64);
    assert_int_equal(sk_vnet_gso_first(a, la), 1448);
    size_t lb = stack_segment(b, 1000 + 1448, SK_TH_ACK, 1448, 64);
    assert_true(sk_vnet_gso_continues(a, la, b, lb, 1448, la));
    /* The last may be short and carry PSH or FIN. */
    lb = stack_segment(b, 1000 + 1448, SK_TH_ACK | SK_TH_PSH | SK_TH_FIN, 100, 64);
    assert_true(sk_vnet_gso_continues(a, la, b, lb, 1448, la));

    /* Not a start: no payload, PSH, SYN, CWR, or IP options. */
    assert_int_equal(sk_vnet_gso_first(a, 52), 0);
    la = stack_segment(a, 1000, SK_TH_ACK | SK_TH_PSH, 1448, 64);
    assert_int_equal(sk_vnet_gso_first(a, la), 0);
    la = stack_segment(a, 1000, SK_TH_ACK | SK_TH_CWR, 1448, 64);
    assert_int_equal(sk_vnet_gso_first(a, la), 0);
    la = stack_segment(a, 1000, SK_TH_ACK, 0, 64);
    assert_int_equal(sk_vnet_gso_first(a, la), 0);
    la = stack_segment(a, 1000, SK_TH_ACK, 1448, 64);
    a[0] = 0x46;
    assert_int_equal(sk_vnet_gso_first(a, la), 0);
    a[0] = 0x45;

    /* Not a continuation: a gap, another window, another ACK, a short
     * previous segment, a bigger next one, PSH before the end, past 64 KiB,
     * another TSval, another TTL. */
    lb = stack_segment(b, 1000 + 1449, SK_TH_ACK, 1448, 64);
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1448, la));
    lb = stack_segment(b, 1000 + 1448, SK_TH_ACK, 1448, 65);
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1448, la));
    lb = stack_segment(b, 1000 + 1448, SK_TH_ACK, 1448, 64);
    b[20 + 11] ^= 1;
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1448, la));
    b[20 + 11] ^= 1;
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1000, la));
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1448, 64100));
    assert_true(sk_vnet_gso_continues(a, la, b, lb, 1448, 64000));
    b[20 + 27] ^= 1; /* TSval */
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1448, la));
    b[20 + 27] ^= 1;
    b[8] = 63;
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1448, la));
    b[8] = 64;
    assert_true(sk_vnet_gso_continues(a, la, b, lb, 1448, la));
    size_t lc = stack_segment(b, 1000 + 1448, SK_TH_ACK | SK_TH_PSH, 1448, 64);
    uint8_t c[1600];
    memcpy(c, b, lc);
    assert_true(sk_vnet_gso_continues(a, la, c, lc, 1448, la));
    lb = stack_segment(b, 1000 + 2 * 1448, SK_TH_ACK, 1448, 64);
    assert_false(sk_vnet_gso_continues(c, lc, b, lb, 1448, la + lc));
}

/* The frame a GSO send of three segments makes: sk_vnet_gso_header from
 * the first one's `hdr` bytes of headers (asserted to be that long), for
 * `payload` bytes with the flags and MSS given, then each segment's
 * payload in turn.  Returns the frame's length. */
static size_t gso_frame(uint8_t *frame, uint8_t seg[3][1600], const size_t len[3], size_t hdr, size_t payload,
                        uint8_t flags, uint16_t mss)
{
    size_t n = sk_vnet_gso_header(frame, seg[0], payload, flags, mss);
    assert_int_equal(n, SK_VNET_HDR_LEN + hdr);
    for (int i = 0; i < 3; i++) {
        memcpy(frame + n, seg[i] + hdr, len[i] - hdr);
        n += len[i] - hdr;
    }
    return n;
}

/* Three segments as one: the header the kernel gets, and the checksum it
 * computes over the whole from the pseudo-header sum left in it (a local
 * receiver trusts it; this is what a forwarding kernel's GSO starts from). */
static void test_gso_header(void **state)
{
    (void)state;
    uint8_t seg[3][1600];
    size_t len[3];
    len[0] = stack_segment(seg[0], 1000, SK_TH_ACK, 1448, 64);
    len[1] = stack_segment(seg[1], 1000 + 1448, SK_TH_ACK, 1448, 64);
    len[2] = stack_segment(seg[2], 1000 + 2 * 1448, SK_TH_ACK | SK_TH_PSH, 700, 64);
    uint8_t frame[SK_VNET_HDR_LEN + 8192];
    size_t n = gso_frame(frame, seg, len, 52, 2 * 1448 + 700, SK_TH_ACK | SK_TH_PSH, 1448);
    size_t h = SK_VNET_HDR_LEN + 52;
    sk_vnet_rx rx;
    assert_int_equal(sk_vnet_parse(frame, n, &rx), SK_VNET_OK);
    assert_int_equal(rx.gso_size, 1448);
    assert_int_equal(rx.csum, SK_VNET_CSUM_PARTIAL);
    assert_int_equal(frame[1], SK_VNET_GSO_TCPV4);
    assert_int_equal(frame[2], 52); /* hdr_len */
    uint8_t *d = frame + SK_VNET_HDR_LEN;
    sk_segment out;
    assert_int_equal(sk_parse_segment(d, n - h + 52, false, &out), SK_PARSE_OK);
    assert_int_equal(out.ip_len, 52 + 2 * 1448 + 700);
    assert_int_equal(out.seq, 1000);
    assert_int_equal(out.flags, SK_TH_ACK | SK_TH_PSH);
    assert_int_equal(out.payload_len, 2 * 1448 + 700);
    assert_memory_equal(out.payload + 1448, seg[1] + 52, 1448);
    sk_vnet_complete_csum(d, rx.len, rx.csum_start, rx.csum_offset);
    assert_int_equal(sk_parse_segment(d, rx.len, true, &out), SK_PARSE_OK); /* IP checksum too */
}

/* The same segments over IPv6, fd77::2 to fd77::1, flow label 0x12345:
 * 1428 bytes each (MSS 1440 less the timestamps). */
static size_t stack_segment6(uint8_t *d, uint32_t seq, uint16_t flags, size_t plen)
{
    static const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 9};
    static uint8_t payload[1428];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 3 + seq);
    sk_segment_spec spec = {.ip_version = 6, .flowlabel = 0x12345, .sport = 80, .dport = 40000, .seq = seq,
                            .ack = 5, .flags = flags, .window = 500, .options = ts, .options_len = sizeof(ts),
                            .payload = payload, .payload_len = plen, .csum_partial = true};
    static const uint8_t stack6[16] = {0xfd, 0x77, [15] = 2}, kernel6[16] = {0xfd, 0x77, [15] = 1};
    memcpy(spec.src6, stack6, 16);
    memcpy(spec.dst6, kernel6, 16);
    return sk_build_segment(&spec, d, 1600);
}

/* IPv6 segments coalesce by the same rules, judged on IPv6's header:
 * another flow label, hop limit or address ends a run, and an extension
 * header (which Linux's GSO would copy to each segment) keeps a datagram
 * out of one. */
static void test_gso_rules6(void **state)
{
    (void)state;
    uint8_t a[1600], b[1600];
    size_t la = stack_segment6(a, 1000, SK_TH_ACK, 1428);
    assert_int_equal(la, 40 + 32 + 1428);
    assert_int_equal(sk_vnet_gso_first(a, la), 1428);
    assert_int_equal(sk_vnet_tcp_flags(a), SK_TH_ACK);
    size_t lb = stack_segment6(b, 1000 + 1428, SK_TH_ACK | SK_TH_PSH, 300);
    assert_int_equal(sk_vnet_tcp_flags(b), SK_TH_ACK | SK_TH_PSH);
    assert_true(sk_vnet_gso_continues(a, la, b, lb, 1428, la));
    b[3] ^= 1; /* flow label */
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1428, la));
    b[3] ^= 1;
    b[7] = 63; /* hop limit */
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1428, la));
    b[7] = 64;
    b[39] = 9; /* destination */
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1428, la));
    b[39] = 1;
    lb = stack_segment6(b, 1000 + 1427, SK_TH_ACK, 1428);
    assert_false(sk_vnet_gso_continues(a, la, b, lb, 1428, la));
    /* An IPv4 segment never continues an IPv6 one. */
    uint8_t c[1600];
    size_t lc = stack_segment(c, 1000 + 1428, SK_TH_ACK, 1428, 500);
    assert_false(sk_vnet_gso_continues(a, la, c, lc, 1428, la));
    /* Not a start: a payload length that is not the datagram's, a next
     * header that is not TCP (an extension header), PSH. */
    assert_int_equal(sk_vnet_gso_first(a, la - 1), 0);
    a[6] = 60; /* destination options */
    assert_int_equal(sk_vnet_gso_first(a, la), 0);
    a[6] = 6;
    la = stack_segment6(a, 1000, SK_TH_ACK | SK_TH_PSH, 1428);
    assert_int_equal(sk_vnet_gso_first(a, la), 0);
}

/* Three IPv6 segments as one: gso_type TCPV6, the payload length of the
 * whole, no IP checksum, csum_start past the 40-byte header, and the
 * pseudo-header sum (RFC 8200 §8.1) over the whole TCP length, which
 * completed gives a segment whose checksum verifies. */
static void test_gso_header6(void **state)
{
    (void)state;
    uint8_t seg[3][1600];
    size_t len[3];
    len[0] = stack_segment6(seg[0], 1000, SK_TH_ACK, 1428);
    len[1] = stack_segment6(seg[1], 1000 + 1428, SK_TH_ACK, 1428);
    len[2] = stack_segment6(seg[2], 1000 + 2 * 1428, SK_TH_ACK | SK_TH_FIN, 500);
    assert_true(sk_vnet_gso_continues(seg[0], len[0], seg[1], len[1], 1428, len[0]));
    assert_true(sk_vnet_gso_continues(seg[1], len[1], seg[2], len[2], 1428, len[0] + len[1] - 72));
    uint8_t frame[SK_VNET_HDR_LEN + 8192];
    size_t n = gso_frame(frame, seg, len, 72, 2 * 1428 + 500, SK_TH_ACK | SK_TH_FIN, 1428);
    sk_vnet_rx rx;
    assert_int_equal(sk_vnet_parse(frame, n, &rx), SK_VNET_OK);
    assert_int_equal(frame[1], SK_VNET_GSO_TCPV6);
    assert_int_equal(frame[2], 72); /* hdr_len */
    assert_int_equal(rx.gso_size, 1428);
    assert_int_equal(rx.csum, SK_VNET_CSUM_PARTIAL);
    assert_int_equal(rx.csum_start, 40);
    assert_int_equal(rx.csum_offset, 16);
    uint8_t *d = frame + SK_VNET_HDR_LEN;
    assert_memory_equal(d, seg[0], 4); /* version, class, flow label */
    assert_int_equal((d[4] << 8) | d[5], 32 + 2 * 1428 + 500);
    sk_segment out;
    assert_int_equal(sk_parse_segment(d, rx.len, true, &out), SK_PARSE_BAD_TCP_CSUM);
    sk_vnet_complete_csum(d, rx.len, rx.csum_start, rx.csum_offset);
    assert_int_equal(sk_parse_segment(d, rx.len, true, &out), SK_PARSE_OK);
    assert_int_equal(out.seq, 1000);
    assert_int_equal(out.flags, SK_TH_ACK | SK_TH_FIN);
    assert_int_equal(out.payload_len, 2 * 1428 + 500);
    assert_memory_equal(out.payload + 2 * 1428, seg[2] + 72, 500);
}

/* ------------------------------------------------------------------ */
/* The loop with SK_LOOP_VNET_HDR over a socketpair                     */
/* ------------------------------------------------------------------ */

typedef struct fixture {
    int kernel_fd;
    sk_loop *loop;
    uint64_t stop_at; /* stop once this many frames were read */
    int listen_fd;
} fixture;

static void fixture_run(void *ctx, sk_loop *loop)
{
    fixture *f = ctx;
    const sk_loop_stats *st = sk_loop_get_stats(loop);
    if (st->rx_datagrams + st->rx_vnet_errors + st->rx_csum_errors >= f->stop_at)
        sk_loop_stop(loop);
}

static const uint8_t STACK6[16] = {0xfd, 0x77, [15] = 2}, KERNEL6[16] = {0xfd, 0x77, [15] = 1};

/* The loop over a socketpair; with `v6` the stack has fd77::2 and listens
 * there, else 10.77.0.2. */
static fixture *fixture_new_family(bool v6)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    f->kernel_fd = sv[1];
    sk_loop_params p;
    memset(&p, 0, sizeof(p));
    p.tun_fd = sv[0];
    p.flags = SK_LOOP_VNET_HDR;
    p.stack.addr = STACK_ADDR;
    if (v6)
        memcpy(p.stack.addr6, STACK6, 16);
    p.stack.seed = 42;
    sk_loop_app app = {.ctx = f, .run = fixture_run, .extra_fd = -1};
    char err[200];
    f->loop = sk_loop_new(&p, &app, err, sizeof(err));
    assert_non_null(f->loop);
    sk_stack *s = sk_loop_stack(f->loop);
    int lfd = v6 ? sk_socket_family(s, SK_AF_INET6) : sk_socket(s);
    sk_endpoint local = v6 ? sk_endpoint_ipv6(STACK6, 80) : sk_endpoint_ipv4(STACK_ADDR, 80);
    assert_int_equal(sk_bind(s, lfd, &local), 0);
    assert_int_equal(sk_listen(s, lfd, 16), 0);
    f->listen_fd = lfd;
    return f;
}

static fixture *fixture_new(void)
{
    return fixture_new_family(false);
}

static void fixture_free(fixture *f)
{
    sk_loop_free(f->loop);
    close(f->kernel_fd);
    free(f);
}

/* Writes the frame and runs the loop until it has been read. */
static void feed(fixture *f, const uint8_t *frame, size_t len)
{
    assert_int_equal(write(f->kernel_fd, frame, len), (ssize_t)len);
    f->stop_at++;
    char err[200];
    assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
}

/* Reads one frame synack wrote: its header must ask for the checksum of
 * a TCP datagram, which must be partial until the header's instructions
 * are carried out.  Returns the datagram's length (in d), 0 if none. */
static size_t read_sent(fixture *f, uint8_t *d, size_t cap, sk_segment *seg)
{
    uint8_t frame[2048];
    ssize_t n = read(f->kernel_fd, frame, sizeof(frame));
    if (n < 0) {
        assert_int_equal(errno, EAGAIN);
        return 0;
    }
    sk_vnet_rx rx;
    assert_int_equal(sk_vnet_parse(frame, (size_t)n, &rx), SK_VNET_OK);
    assert_int_equal(rx.csum, SK_VNET_CSUM_PARTIAL);
    assert_int_equal(rx.csum_start, 20);
    assert_int_equal(rx.csum_offset, 16);
    assert_int_equal(rx.gso_size, 0);
    assert_true(rx.len <= cap);
    memcpy(d, rx.dgram, rx.len);
    assert_int_equal(sk_parse_segment(d, rx.len, true, seg), SK_PARSE_BAD_TCP_CSUM);
    sk_vnet_complete_csum(d, rx.len, rx.csum_start, rx.csum_offset);
    assert_int_equal(sk_parse_segment(d, rx.len, true, seg), SK_PARSE_OK);
    return rx.len;
}

static void test_loop_partial_out_verified_in(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    uint8_t frame[256], d[2048];
    sk_segment seg;

    /* No flag: the loop verifies, and a wrong checksum is a counted drop
     * that the stack never sees. */
    size_t n = syn_frame(frame, sizeof(frame), false);
    put_hdr(frame, 0, 0, 0, 0, 0, 0);
    frame[n - 1] ^= 0xff;
    feed(f, frame, n);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->rx_csum_errors, 1);
    assert_int_equal(st->rx_datagrams, 0);
    assert_int_equal(sk_counter(sk_loop_stack(f->loop), "IpInReceives"), 0);
    assert_int_equal(read_sent(f, d, sizeof(d), &seg), 0);

    /* The same SYN with its checksum right: answered, the SYN-ACK's
     * checksum left to the kernel. */
    frame[n - 1] ^= 0xff;
    feed(f, frame, n);
    assert_int_equal(st->rx_datagrams, 1);
    assert_true(read_sent(f, d, sizeof(d), &seg) > 0);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(seg.ack, 1001);
    assert_int_equal(st->tx_datagrams, 1);
    assert_int_equal(read_sent(f, d, sizeof(d), &seg), 0);
    fixture_free(f);
}

static void test_loop_trusts_what_the_kernel_vouches_for(void **state)
{
    (void)state;
    uint8_t frame[256], d[2048];
    sk_segment seg;
    /* DATA_VALID (CHECKSUM_UNNECESSARY) is not checked again, as Linux
     * does not: the stack answers a SYN whose field is nonsense. */
    fixture *f = fixture_new();
    size_t n = syn_frame(frame, sizeof(frame), false);
    put_hdr(frame, SK_VNET_F_DATA_VALID, 0, 0, 0, 0, 0);
    frame[SK_VNET_HDR_LEN + 36] ^= 0x55;
    feed(f, frame, n);
    assert_true(read_sent(f, d, sizeof(d), &seg) > 0);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(sk_loop_get_stats(f->loop)->rx_csum_errors, 0);
    fixture_free(f);

    /* NEEDS_CSUM: the host's own partial checksum. */
    f = fixture_new();
    n = syn_frame(frame, sizeof(frame), true);
    put_hdr(frame, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, 20, 16);
    feed(f, frame, n);
    assert_true(read_sent(f, d, sizeof(d), &seg) > 0);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(sk_loop_get_stats(f->loop)->rx_csum_errors, 0);
    fixture_free(f);
}

static void test_loop_bad_headers_dropped(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    uint8_t frame[256], d[2048];
    sk_segment seg;
    size_t n = syn_frame(frame, sizeof(frame), true);
    put_hdr(frame, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, 200, 16);
    feed(f, frame, n);
    put_hdr(frame, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_UDP, 0, 1448, 20, 16);
    feed(f, frame, n);
    feed(f, frame, 6);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->rx_vnet_errors, 3);
    assert_int_equal(st->rx_datagrams, 0);
    assert_int_equal(sk_counter(sk_loop_stack(f->loop), "IpInReceives"), 0);
    assert_int_equal(read_sent(f, d, sizeof(d), &seg), 0);
    fixture_free(f);
}

/* The kernel's SYN and ACK with partial checksums: a connection to the
 * listener, established.  The stack's ISN; the ACK's frame stays in
 * `frame` (*ack_len bytes) to be fed again. */
static uint32_t establish(fixture *f, uint8_t *frame, size_t cap, size_t *ack_len)
{
    uint8_t d[2048];
    sk_segment seg;
    size_t n = syn_frame(frame, cap, true);
    put_hdr(frame, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, 20, 16);
    feed(f, frame, n);
    assert_true(read_sent(f, d, sizeof(d), &seg) > 0);
    uint32_t isn = seg.seq;
    n = SK_VNET_HDR_LEN + kernel_segment(frame + SK_VNET_HDR_LEN, cap - SK_VNET_HDR_LEN, SK_TH_ACK, 1001,
                                         isn + 1, NULL, 0, true);
    put_hdr(frame, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, 20, 16);
    feed(f, frame, n);
    assert_int_equal(sk_counter(sk_loop_stack(f->loop), "TcpCurrEstab"), 1);
    *ack_len = n;
    return isn;
}

/* The kernel's TSO hands over three segments' worth of data in one
 * datagram (gso_size 1448): the stack takes all of it in order, and
 * since more than one full segment arrived it ACKs at once (Linux's
 * __tcp_ack_snd_check on a GRO packet), acknowledging all 4344 bytes. */
static void test_loop_takes_super_segment(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    uint8_t frame[8192], d[2048];
    sk_segment seg;
    size_t n;
    uint32_t isn = establish(f, frame, sizeof(frame), &n);

    static uint8_t payload[3 * 1448];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    n = SK_VNET_HDR_LEN + kernel_segment(frame + SK_VNET_HDR_LEN, sizeof(frame) - SK_VNET_HDR_LEN,
                                         SK_TH_ACK | SK_TH_PSH, 1001, isn + 1, payload, sizeof(payload), true);
    put_hdr(frame, SK_VNET_F_NEEDS_CSUM, SK_VNET_GSO_TCPV4, 52, 1448, 20, 16);
    feed(f, frame, n);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->rx_gso, 1);
    assert_int_equal(st->rx_datagrams, 3);
    assert_true(read_sent(f, d, sizeof(d), &seg) > 0);
    assert_int_equal(seg.flags, SK_TH_ACK);
    assert_int_equal(seg.ack, 1001 + sizeof(payload));
    assert_int_equal(seg.payload_len, 0);
    assert_int_equal(read_sent(f, d, sizeof(d), &seg), 0);

    /* All of it readable, byte for byte. */
    sk_stack *s = sk_loop_stack(f->loop);
    sk_endpoint peer;
    int fd = sk_accept(s, f->listen_fd, &peer);
    assert_true(fd >= 0);
    assert_int_equal(peer.port, 40000);
    static uint8_t got[sizeof(payload) + 1];
    assert_int_equal(sk_recv(s, fd, got, sizeof(got), 0), (ssize_t)sizeof(payload));
    assert_memory_equal(got, payload, sizeof(payload));
    fixture_free(f);
}

/* What the stack sends on one connection in one wakeup reaches the
 * kernel as one super-segment: 5000 bytes in one sk_send are three full
 * segments and a short one with PSH, written as one frame with gso_size
 * 1448 (the peer's MSS). */
static void test_loop_coalesces(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    uint8_t frame[8192], d[65536];
    sk_segment seg;
    size_t n;
    uint32_t isn = establish(f, frame, sizeof(frame), &n);
    sk_stack *s = sk_loop_stack(f->loop);
    sk_endpoint peer;
    int fd = sk_accept(s, f->listen_fd, &peer);
    assert_true(fd >= 0);
    static uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13);
    assert_int_equal(sk_send(s, fd, data, sizeof(data), 0), (ssize_t)sizeof(data));

    /* Any wakeup flushes: a duplicate of the handshake's ACK makes one. */
    feed(f, frame, n);
    ssize_t got = read(f->kernel_fd, frame, sizeof(frame));
    assert_int_equal(got, SK_VNET_HDR_LEN + 40 + (ssize_t)sizeof(data)); /* no timestamps: the SYN had none */
    sk_vnet_rx rx;
    assert_int_equal(sk_vnet_parse(frame, (size_t)got, &rx), SK_VNET_OK);
    assert_int_equal(rx.gso_size, 1448);
    assert_int_equal(frame[1], SK_VNET_GSO_TCPV4);
    memcpy(d, rx.dgram, rx.len);
    sk_vnet_complete_csum(d, rx.len, rx.csum_start, rx.csum_offset);
    assert_int_equal(sk_parse_segment(d, rx.len, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.seq, isn + 1);
    assert_int_equal(seg.flags, SK_TH_ACK | SK_TH_PSH);
    assert_int_equal(seg.payload_len, sizeof(data));
    assert_memory_equal(seg.payload, data, sizeof(data));
    assert_int_equal(read(f->kernel_fd, frame, sizeof(frame)), -1);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->tx_gso, 1);
    assert_int_equal(st->tx_datagrams, 1 + 4); /* the SYN-ACK, then four segments */
    assert_int_equal(sk_counter(s, "TcpOutSegs"), 5);
    fixture_free(f);
}

/* A segment from the kernel over IPv6, fd77::1 to fd77::2, its checksum
 * left partial as the kernel's own TCP leaves it; in a frame whose header
 * says so (NEEDS_CSUM from byte 40). */
static size_t kernel_frame6(uint8_t *f, size_t cap, uint16_t flags, uint32_t seq, uint32_t ack)
{
    static const uint8_t mss_opt[4] = {2, 4, 0x05, 0xa0}; /* MSS 1440 */
    sk_segment_spec spec = {.ip_version = 6, .sport = 40000, .dport = 80, .seq = seq, .ack = ack,
                            .flags = flags, .window = 64240, .csum_partial = true};
    memcpy(spec.src6, KERNEL6, 16);
    memcpy(spec.dst6, STACK6, 16);
    if (flags & SK_TH_SYN) {
        spec.options = mss_opt;
        spec.options_len = sizeof(mss_opt);
    }
    size_t len = sk_build_segment(&spec, f + SK_VNET_HDR_LEN, cap - SK_VNET_HDR_LEN);
    assert_true(len > 0);
    put_hdr(f, SK_VNET_F_NEEDS_CSUM, 0, 0, 0, 40, 16);
    return SK_VNET_HDR_LEN + len;
}

/* The same over IPv6 (TSO6 on the way out): 5000 bytes in one sk_send go
 * to the kernel as one TCPV6 super-segment with gso_size 1440, its
 * checksum partial from byte 40 over RFC 8200's pseudo-header, which
 * completed verifies over the whole. */
static void test_loop_coalesces6(void **state)
{
    (void)state;
    fixture *f = fixture_new_family(true);
    uint8_t frame[8192], d[8192];
    sk_segment seg;
    sk_vnet_rx rx;
    feed(f, frame, kernel_frame6(frame, sizeof(frame), SK_TH_SYN, 1000, 0));
    ssize_t got = read(f->kernel_fd, d, sizeof(d));
    assert_true(got > 0);
    assert_int_equal(sk_vnet_parse(d, (size_t)got, &rx), SK_VNET_OK);
    assert_int_equal(rx.csum_start, 40);
    assert_int_equal(sk_parse_segment(rx.dgram, rx.len, false, &seg), SK_PARSE_OK);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    uint32_t isn = seg.seq;
    size_t n = kernel_frame6(frame, sizeof(frame), SK_TH_ACK, 1001, isn + 1);
    feed(f, frame, n);
    sk_stack *s = sk_loop_stack(f->loop);
    sk_endpoint peer;
    int fd = sk_accept(s, f->listen_fd, &peer);
    assert_true(fd >= 0);
    assert_true(sk_endpoint_is_ipv6(&peer));
    static uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 11);
    assert_int_equal(sk_send(s, fd, data, sizeof(data), 0), (ssize_t)sizeof(data));

    feed(f, frame, n);
    got = read(f->kernel_fd, d, sizeof(d));
    assert_int_equal(got, SK_VNET_HDR_LEN + 60 + (ssize_t)sizeof(data));
    assert_int_equal(sk_vnet_parse(d, (size_t)got, &rx), SK_VNET_OK);
    assert_int_equal(d[1], SK_VNET_GSO_TCPV6);
    assert_int_equal(rx.gso_size, 1440);
    assert_int_equal(rx.csum, SK_VNET_CSUM_PARTIAL);
    assert_int_equal(rx.csum_start, 40);
    uint8_t *dg = d + SK_VNET_HDR_LEN;
    sk_vnet_complete_csum(dg, rx.len, rx.csum_start, rx.csum_offset);
    assert_int_equal(sk_parse_segment(dg, rx.len, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.seq, isn + 1);
    assert_int_equal(seg.flags, SK_TH_ACK | SK_TH_PSH);
    assert_int_equal(seg.payload_len, sizeof(data));
    assert_memory_equal(seg.payload, data, sizeof(data));
    assert_int_equal(read(f->kernel_fd, d, sizeof(d)), -1);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->tx_gso, 1);
    assert_int_equal(st->tx_datagrams, 1 + 4);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_taken),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_build_header),
        cmocka_unit_test(test_software_checksum),
        cmocka_unit_test(test_loop_partial_out_verified_in),
        cmocka_unit_test(test_loop_trusts_what_the_kernel_vouches_for),
        cmocka_unit_test(test_loop_bad_headers_dropped),
        cmocka_unit_test(test_loop_takes_super_segment),
        cmocka_unit_test(test_gso_rules),
        cmocka_unit_test(test_gso_header),
        cmocka_unit_test(test_gso_rules6),
        cmocka_unit_test(test_gso_header6),
        cmocka_unit_test(test_loop_coalesces),
        cmocka_unit_test(test_loop_coalesces6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
