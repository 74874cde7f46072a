/*
 * TIME_WAIT records (timewait.c).
 */
#ifndef SK_TIMEWAIT_H
#define SK_TIMEWAIT_H

#include "stack.h"

int sk_tw_init(const sk_stack *s, sk_tw_table *tw);
void sk_tw_destroy(const sk_stack *s, sk_tw_table *tw);
/* Moves a connection into TIME_WAIT (or orphaned FIN_WAIT_2) for
 * `timeout`. */
void sk_time_wait(sk_stack *s, sk_tcb *t, int substate, sk_time_ns timeout);
uint32_t sk_tw_lookup(sk_stack *s, const sk_key *k);
/* Processes a segment for a TIME_WAIT record; may let a SYN reopen via
 * the listener (returns true if the segment should go on to it). */
bool sk_tw_input(sk_stack *s, uint32_t idx, const sk_segment *seg);
void sk_tw_kill(sk_stack *s, uint32_t idx, bool emit);
void sk_tw_expire(sk_stack *s);
sk_time_ns sk_tw_next_deadline(const sk_stack *s);
/* tcp_tw_reuse: may an active open take over this record's tuple? */
bool sk_tw_reusable(sk_stack *s, uint32_t idx);

#endif
