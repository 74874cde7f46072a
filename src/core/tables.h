/*
 * The stack's lookup tables (tables.c): handles, connections by 4-tuple,
 * listeners, and bind buckets.
 */
#ifndef SK_TABLES_H
#define SK_TABLES_H

#include "stack.h"

sk_tcb *sk_conn_lookup(sk_stack *s, const sk_key *k);
void sk_conn_hash(sk_stack *s, sk_tcb *t);
void sk_conn_unhash(sk_stack *s, sk_tcb *t);
/* The listener for a segment to (v6, daddr, lport): an exact address
 * before a wildcard, an AF_INET socket before a dual-stack one, as
 * Linux's compute_score ranks them. */
sk_tcb *sk_listener_lookup(sk_stack *s, bool v6, uint32_t daddr, uint16_t lport);
/* The listener of l's SO_REUSEPORT group that takes the flow (local
 * and remote address and port; IPv4 addresses in host order, IPv6 as
 * 16 bytes): l itself when it has no group. */
sk_tcb *sk_listener_select4(sk_stack *s, sk_tcb *l, uint32_t laddr, uint32_t raddr, uint16_t lport,
                            uint16_t rport);
sk_tcb *sk_listener_select6(sk_stack *s, sk_tcb *l, const uint8_t *laddr, const uint8_t *raddr, uint16_t lport,
                            uint16_t rport);
void sk_listener_hash(sk_stack *s, sk_tcb *t);
void sk_listener_unhash(sk_stack *s, sk_tcb *t);
sk_bind_bucket *sk_bind_bucket_get(sk_stack *s, uint16_t port, bool create);
void sk_bind_bucket_release(sk_stack *s, sk_bind_bucket *b);
void sk_port_ref(sk_stack *s, sk_tcb *t);
void sk_port_unref(sk_stack *s, sk_tcb *t);
int sk_fd_install(sk_stack *s, sk_tcb *t);
sk_tcb *sk_fd_get(sk_stack *s, int fd);

#endif
