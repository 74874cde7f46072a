/*
 * SACK scoreboard and the SACK blocks we send (sack.c).
 */
#ifndef SK_SACK_H
#define SK_SACK_H

#include "stack.h"

void sk_sack_clear(const sk_stack *s, sk_tcb *t);
uint32_t sk_sack_update(sk_stack *s, sk_tcb *t, const sk_segment *seg);
bool sk_sack_is_dsack(const sk_segment *seg);
void sk_dsack_input(sk_stack *s, sk_tcb *t, const sk_segment *seg, uint32_t prior_una);
void sk_rx_sack_new_ofo(const sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end);
/* Blocks the next segment would carry (D-SACK included), before the cap. */
uint32_t sk_rx_sack_pending(const sk_tcb *t);
void sk_rx_sack_remove(sk_tcb *t);
void sk_rx_dsack_set(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end);
void sk_rx_dsack_extend(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end);
uint8_t sk_rx_sack_fill(sk_tcb *t, sk_sack_block *out, uint8_t max);
void sk_sack_ack(const sk_stack *s, sk_tcb *t, uint32_t una);
uint32_t sk_sack_skip(const sk_tcb *t, uint32_t seq);
uint32_t sk_sack_next_start(const sk_tcb *t, uint32_t seq);
bool sk_sack_next_hole(const sk_tcb *t, uint32_t from, uint32_t *start, uint32_t *len);
uint32_t sk_sack_pipe(const sk_tcb *t);

#endif
