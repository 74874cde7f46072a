/*
 * Segment parsing and the TCP pseudo-header checksum (packet.c, checksum.c).
 */
#ifndef SK_SEGMENT_H
#define SK_SEGMENT_H

#include "stack.h"

/* packet.c, checksum.c */
/* sk_parse_segment with the two checksums checked separately: the TCP one
 * is skipped for a link that vouches for it (SK_OFFLOAD_TCP_CSUM_RX). */
sk_parse_error sk_parse_segment_checked(const uint8_t *dgram, size_t len, bool verify_ip_csum, bool verify_tcp_csum,
                                        sk_segment *out);
/* The TCP pseudo-header's sum (RFC 9293 §3.1), unfolded: source,
 * destination, zero, protocol 6, TCP length.  Inline, as the fold below:
 * every segment built or checked takes one. */
static inline uint32_t sk_tcp_pseudo_sum(uint32_t src, uint32_t dst, size_t tcp_len)
{
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6u + (uint32_t)(uint16_t)tcp_len;
}
/* sk_csum_fold's body (checksum.c exports it). */
static inline uint16_t sk_csum_fold16(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}
/* sk_build_segment with the payload as pieces (spec->payload ignored,
 * spec->payload_len their total): copied after the headers when `copy`,
 * else only the headers are written (checksum summed over the pieces
 * where they lie).  *hdr_len gets the headers' length. */
size_t sk_build_segment_iov(const sk_segment_spec *spec, const sk_iovec *pay, size_t npay, bool copy, uint8_t *buf,
                            size_t cap, size_t *hdr_len);
/* The fast path of sk_inputv (packet.c): parses a datagram given as
 * pieces where they lie when its headers are all in iov[0] and its
 * payload in one piece; false when the pieces must be gathered first.
 * On true, *err is the parse's verdict (SK_PARSE_OK or the error). */
bool sk_parse_segment_iov(const sk_iovec *iov, size_t n, size_t total, bool verify_tcp_csum, sk_segment *out,
                          sk_parse_error *err);
/* The IPv6 pseudo-header's sum (RFC 8200 §8.1), folded to 16 bits before
 * its next header (6) is added: never 0, at most 0xffff + 6. */
uint32_t sk_tcp_pseudo_sum6(const uint8_t src[16], const uint8_t dst[16], size_t tcp_len);

#endif
