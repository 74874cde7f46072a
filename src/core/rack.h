/*
 * RACK-TLP loss detection and PRR (rack.c).
 */
#ifndef SK_RACK_H
#define SK_RACK_H

#include "stack.h"

void sk_rack_free(sk_stack *s, sk_tcb *t);
void sk_rack_on_send(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end, bool retrans);
void sk_rack_split(sk_stack *s, sk_tcb *t, uint32_t at);
void sk_rack_clip(const sk_tcb *t, uint32_t *start, uint32_t *end);
uint32_t sk_rack_sack(sk_stack *s, sk_tcb *t, const sk_segment *seg);
uint32_t sk_rack_fack(const sk_tcb *t);
bool sk_rack_try_undo(sk_stack *s, sk_tcb *t, sk_counter_id counter);
uint32_t sk_rack_ack(sk_stack *s, sk_tcb *t, uint32_t una, uint32_t prior_fack);
uint32_t sk_rack_detect(sk_stack *s, sk_tcb *t);
uint32_t sk_rack_in_flight(const sk_tcb *t);
/* Bytes in flight, what the congestion window limits (Linux's
 * tcp_packets_in_flight; RFC 6675's pipe while SACK blocks are held). */
uint32_t sk_flight_size(const sk_tcb *t);
/* Segments (Linux's pcount, MSS units) of the records with any of the
 * SK_TX_* bits in `flag`: TCP_INFO's tcpi_sacked/lost/retrans. */
uint32_t sk_rack_pcount_of(const sk_tcb *t, uint8_t flag);
/* The record ending at `end` was sent with PSH / is marked so. */
void sk_rack_set_psh(sk_tcb *t, uint32_t end);
bool sk_rack_psh_at(const sk_tcb *t, uint32_t end);
/* The record ending at `end` ended its TSO packet (PSH on the wire). */
void sk_rack_pkt_end(sk_tcb *t, uint32_t end);
bool sk_rack_next_lost(const sk_tcb *t, uint32_t *seq, uint32_t *end);
void sk_rack_enter_recovery(sk_stack *s, sk_tcb *t);
void sk_rack_cwnd_reduction(sk_tcb *t, uint32_t newly_acked_sacked, uint32_t newly_lost, bool una_advanced);
void sk_rack_reo_timeout(sk_stack *s, sk_tcb *t);
void sk_enter_cwr(sk_stack *s, sk_tcb *t);
void sk_end_cwr(sk_tcb *t);
void sk_rack_mark_all_lost(sk_tcb *t);
bool sk_rack_mark_lost_longer(sk_tcb *t, uint32_t mss, uint32_t data_end);
uint32_t sk_rack_next_to_resend(const sk_tcb *t, uint32_t seq, uint32_t mss, uint32_t *run_end);

#endif
