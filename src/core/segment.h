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
/* The TCP pseudo-header's sum (RFC 9293 §3.1), unfolded. */
uint32_t sk_tcp_pseudo_sum(uint32_t src, uint32_t dst, size_t tcp_len);
uint32_t sk_tcp_pseudo_sum6(const uint8_t src[16], const uint8_t dst[16], size_t tcp_len);

#endif
