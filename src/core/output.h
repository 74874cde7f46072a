/*
 * Segment output (output.c): options, sk_xmit, tcp_write_xmit and the
 * control segments (ACK, RST, SYN, probes).
 */
#ifndef SK_OUTPUT_H
#define SK_OUTPUT_H

#include "stack.h"

typedef struct sk_out_opts {
    bool syn;        /* SYN or SYN-ACK option block */
    uint16_t mss;
    bool ws, sack_perm, ts;
    uint8_t wscale;
    uint32_t ts_val, ts_ecr;
    uint8_t sack_count;
    sk_sack_block sack[SK_SACK_MAX_BLOCKS];
    /* A Fast Open option after all others (Linux's tcp_options_write):
     * kind 34, or 254 with its magic when fo_exp; fo_len 0 asks for a
     * cookie. */
    bool fo, fo_exp;
    uint8_t fo_len;
    const uint8_t *fo_cookie;
} sk_out_opts;
size_t sk_build_options(const sk_out_opts *o, uint8_t *buf);
/* Sends one TCP segment.  The caller fills the TCP part of spec (ports,
 * seq, ack, flags, window, options, payload, and in tos the ECN bits of
 * RFC 3168 §5); the IP part (addresses, version, TTL or hop limit, ID, DF,
 * traffic class, flow label, checksum offload) comes from rt and the
 * stack and is written into spec, whatever it held there. */
void sk_xmit(sk_stack *s, const sk_route *rt, sk_segment_spec *spec);
void sk_tcp_output(sk_stack *s, sk_tcb *t);
void sk_send_ack(sk_stack *s, sk_tcb *t);
/* Whether the duplicate ACK answering this invalid segment is held back
 * by tcp_invalid_ratelimit (counted under `mib` when it is). */
bool sk_oow_rate_limited(sk_stack *s, sk_tcb *t, const sk_segment *seg, sk_counter_id mib);
void sk_send_challenge_ack(sk_stack *s, sk_tcb *t, bool syn);
void sk_send_syn(sk_stack *s, sk_tcb *t);
void sk_send_active_rst(sk_stack *s, sk_tcb *t);
void sk_send_probe(sk_stack *s, sk_tcb *t);
void sk_write_wakeup(sk_stack *s, sk_tcb *t);
void sk_reply_rst(sk_stack *s, const sk_segment *seg);
uint16_t sk_default_advmss(const sk_stack *s, bool v6);
uint32_t sk_current_mss(const sk_tcb *t); /* tcp_current_mss: SACK blocks to send counted */
void sk_retransmit_head(sk_stack *s, sk_tcb *t);
void sk_send_loss_probe(sk_stack *s, sk_tcb *t);

#endif
