/*
 * Segment input for a connection (input.c).
 */
#ifndef SK_INPUT_H
#define SK_INPUT_H

#include "stack.h"

void sk_init_transfer(sk_stack *s, sk_tcb *t);
void sk_tcb_input(sk_stack *s, sk_tcb *t, const sk_segment *seg);
/* Effective send MSS from the peer's MSS, our MTU, TCP_MAXSEG and the
 * timestamp option (Linux tcp_sync_mss). */
void sk_set_send_mss(sk_stack *s, sk_tcb *t);

#endif
