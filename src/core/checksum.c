/*
 * Internet checksum (RFC 1071) and the TCP pseudo-header checksum
 * (RFC 9293 §3.1).
 *
 * Values in and out are host-order numbers of big-endian 16-bit words: the
 * sum of the bytes 00 01 f2 03 is 0x0001 + 0xf203.  sk_csum_fold's result
 * is stored into a header big-endian.
 */
#include "synack/packet.h"

#include "bytes.h"
#include "segment.h"

#include <string.h>

/* One's complement addition of a 64-bit word: the end-around carry of
 * RFC 1071 §2(A) makes the sum of 64-bit chunks congruent to the sum of
 * their 16-bit words. */
static inline uint64_t add_with_carry(uint64_t acc, uint64_t v)
{
    acc += v;
    return acc + (acc < v);
}

static uint16_t fold64_to_16(uint64_t acc)
{
    uint64_t folded = (acc & 0xffffffffu) + (acc >> 32);
    folded = (folded & 0xffff) + (folded >> 16);
    folded = (folded & 0xffff) + (folded >> 16);
    folded = (folded & 0xffff) + (folded >> 16);
    return (uint16_t)folded;
}

/* The words are summed in native byte order, which RFC 1071 §2(B) allows
 * because byte-swapping commutes with one's complement addition; the
 * folded result is turned into a big-endian number once at the end by
 * reading its bytes back, which needs no knowledge of the host's order. */
static uint32_t native_sum_to_be(uint16_t native)
{
    uint8_t bytes[2];
    memcpy(bytes, &native, sizeof bytes);
    return ((uint32_t)bytes[0] << 8) | bytes[1];
}

uint32_t sk_csum_partial(const void *data, size_t len, uint32_t sum)
{
    const uint8_t *p = data;
    /* Four independent accumulators let the additions overlap instead of
     * forming one carry chain through the whole buffer. */
    uint64_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;

    while (len >= 32) {
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8);
        memcpy(&w3, p + 24, 8);
        acc0 = add_with_carry(acc0, w0);
        acc1 = add_with_carry(acc1, w1);
        acc2 = add_with_carry(acc2, w2);
        acc3 = add_with_carry(acc3, w3);
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        acc0 = add_with_carry(acc0, w);
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        /* The tail starts at an even offset, so copying it into a zeroed
         * word keeps every byte in its lane; an odd last byte becomes the
         * high byte of a word padded with zero, as RFC 1071 §4.1 does. */
        uint64_t w = 0;
        memcpy(&w, p, len);
        acc0 = add_with_carry(acc0, w);
    }
    uint64_t acc = add_with_carry(add_with_carry(acc0, acc1), add_with_carry(acc2, acc3));

    uint64_t total = (uint64_t)native_sum_to_be(fold64_to_16(acc)) + sum;
    total = (total & 0xffff) + (total >> 16);
    total = (total & 0xffff) + (total >> 16);
    total = (total & 0xffff) + (total >> 16);
    return (uint32_t)total;
}

uint16_t sk_csum_fold(uint32_t sum) { return sk_csum_fold16(sum); }

/* With the checksum field zeroed this is the value to store; over a
 * segment that carries its checksum it is 0 when the checksum is right. */
uint16_t sk_tcp_checksum(uint32_t src, uint32_t dst, const uint8_t *tcp, size_t tcp_len)
{
    return sk_csum_fold(sk_csum_partial(tcp, tcp_len, sk_tcp_pseudo_sum(src, dst, tcp_len)));
}

/* RFC 8200 §8.1: both addresses, the upper-layer length as 32 bits and
 * the next header (6) in the last of four bytes.  The addresses are
 * summed as eight 32-bit words, as the IPv4 header sum in packet.c does:
 * 2^16 is 1 modulo 0xffff, so a word stands for its two 16-bit halves,
 * and folding the 64-bit total 16 bits at a time gives their one's
 * complement sum.  The 6 is added after the fold so that icmp6.c can
 * still trade it for its own next header (58) without going below 0; the
 * result is nonzero, as the byte-pair sum was, so the final checksum is
 * the same to the bit (no 0/0xffff ambiguity). */
uint32_t sk_tcp_pseudo_sum6(const uint8_t src[16], const uint8_t dst[16], size_t tcp_len)
{
    uint64_t sum = (uint64_t)(uint32_t)tcp_len;
    for (int i = 0; i < 16; i += 4)
        sum += (uint64_t)sk_get_be32(src + i) + sk_get_be32(dst + i);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint32_t)sum + 6u;
}

uint16_t sk_tcp_checksum6(const uint8_t src[16], const uint8_t dst[16], const uint8_t *tcp, size_t tcp_len)
{
    return sk_csum_fold(sk_csum_partial(tcp, tcp_len, sk_tcp_pseudo_sum6(src, dst, tcp_len)));
}
