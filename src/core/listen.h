/*
 * Listeners (listen.c): SYN queue of requests and the accept queue.
 */
#ifndef SK_LISTEN_H
#define SK_LISTEN_H

#include "stack.h"

/* A request's local address and port: the stack's address it indexes, or
 * the non-local one a transparent listener's request carries. */
static inline uint32_t sk_req_laddr(const sk_stack *s, const sk_request *r)
{
    return r->lidx == SK_LIDX_FOREIGN ? ((const sk_request_foreign *)r)->laddr : s->laddrs[r->lidx].addr;
}
static inline uint16_t sk_req_lport(const sk_request *r)
{
    return r->lidx == SK_LIDX_FOREIGN ? ((const sk_request_foreign *)r)->lport : r->listener->lport;
}
void sk_listen_input(sk_stack *s, sk_tcb *l, const sk_segment *seg);
void sk_listen_destroy(sk_stack *s, sk_tcb *l);
void sk_req_timer_fire(void *ctx, sk_timer *timer);
void sk_accept_queue_remove(sk_stack *s, sk_tcb *child);
/* The stack's local address at `idx` is going: requests on it are
 * dropped, later indices renumbered. */
void sk_listen_addr_removed(sk_stack *s, uint32_t idx);
/* The transparent listener that takes a SYN to the non-local daddr:dport,
 * or NULL. */
sk_tcb *sk_listen_nonlocal(sk_stack *s, bool v6, uint32_t daddr, uint16_t dport);

#endif
