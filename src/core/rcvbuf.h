/*
 * The receive-buffer memory model (rcvbuf.c).
 */
#ifndef SK_RCVBUF_H
#define SK_RCVBUF_H

#include "stack.h"

/* rcvbuf.c: the receive-buffer memory model (Linux's sk_rmem_alloc
 * against sk_rcvbuf, tcp_grow_window, tcp_rcv_space_adjust, pruning). */
uint32_t sk_rcv_truesize(uint32_t len);
uint32_t sk_rmem_alloc(const sk_tcb *t);
uint32_t sk_full_space(const sk_stack *s, const sk_tcb *t);
uint32_t sk_rcv_initial_clamp(const sk_stack *s, const sk_tcb *t, uint32_t user_clamp);
bool sk_rmem_schedule(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len, uint32_t truesize);
void sk_rcvq_charge(sk_tcb *t, uint32_t truesize);
void sk_rcvq_uncharge(sk_tcb *t, uint32_t consumed, uint32_t before);
void sk_grow_window(sk_stack *s, sk_tcb *t, uint32_t len, uint32_t truesize);
void sk_rcvbuf_established(sk_stack *s, sk_tcb *t);
void sk_rcv_rtt_on_data(sk_stack *s, sk_tcb *t, const sk_segment *seg, uint32_t len);
void sk_rcv_space_adjust(sk_stack *s, sk_tcb *t);
uint32_t sk_rcvq_space(const sk_tcb *t);

#endif
