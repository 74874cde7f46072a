/*
 * Listeners (listen.c): SYN queue of requests and the accept queue.
 */
#ifndef SK_LISTEN_H
#define SK_LISTEN_H

#include "stack.h"

void sk_listen_input(sk_stack *s, sk_tcb *l, const sk_segment *seg);
void sk_listen_destroy(sk_stack *s, sk_tcb *l);
void sk_req_timer_fire(void *ctx, sk_timer *timer);
void sk_accept_queue_remove(sk_stack *s, sk_tcb *child);
/* The stack's local address at `idx` is going: requests on it are
 * dropped, later indices renumbered. */
void sk_listen_addr_removed(sk_stack *s, uint32_t idx);

#endif
