/*
 * Per-connection timers (timers.c): RTO, TLP, delayed ACK, keepalive, RTT.
 */
#ifndef SK_TIMERS_H
#define SK_TIMERS_H

#include "stack.h"

void sk_tcb_timer_update(sk_stack *s, sk_tcb *t);
void sk_arm_rto(sk_stack *s, sk_tcb *t);
bool sk_schedule_loss_probe(sk_stack *s, sk_tcb *t, bool advancing_rto);
void sk_set_xmit_timer(sk_stack *s, sk_tcb *t);
void sk_arm_delack(sk_stack *s, sk_tcb *t);
void sk_arm_keepalive(sk_stack *s, sk_tcb *t);
void sk_rtt_sample(sk_stack *s, sk_tcb *t, uint32_t rtt_us);
sk_time_ns sk_current_rto(const sk_stack *s, const sk_tcb *t);
void sk_tcb_timer_fire(void *ctx, sk_timer *timer);
static inline uint64_t sk_ns_to_tick(sk_time_ns t) { return (t + SK_NSEC_PER_MSEC - 1) / SK_NSEC_PER_MSEC; }

#endif
