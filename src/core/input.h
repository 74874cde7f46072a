/*
 * Segment input for a connection (input.c).
 */
#ifndef SK_INPUT_H
#define SK_INPUT_H

#include "stack.h"

void sk_init_transfer(sk_stack *s, sk_tcb *t);
void sk_tcb_input(sk_stack *s, sk_tcb *t, const sk_segment *seg);

#endif
