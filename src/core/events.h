/*
 * Event emission (events.c): state changes, drops, timers and readiness
 * reported to the stack's on_event hook.
 */
#ifndef SK_EVENTS_H
#define SK_EVENTS_H

#include "addr.h"
#include "stack.h"

void sk_emit(sk_stack *s, const sk_event *ev);

/* Whether an event of `type` has a consumer: build none otherwise. */
static inline bool sk_wants(const sk_stack *s, sk_event_type type)
{
    return s->on_event && (s->event_mask & SK_EVMASK(type));
}

/* What an event's endpoints are built from when sk_event_endpoints() asks
 * (ev->ep_.kind); `a` and `b` point at the emitter's data, alive for the
 * callback. */
enum {
    SK_EPK_NONE = 0,
    SK_EPK_GIVEN, /* a, b: const sk_endpoint * (sk_event_set_endpoints) */
    SK_EPK_TCB,   /* a: the stack, b: the sk_tcb (local as sk_tcb_local_shown) */
    SK_EPK_SEG,   /* a: an input sk_segment (local is its destination) */
    SK_EPK_ROUTE, /* a: an sk_route, with ep_.sport/dport */
    SK_EPK_ADDRS, /* a: the stack, b: an sk_ep_addrs */
};

/* Addresses as a table stores them (sk_addr_endpoint's arguments), for a
 * request, a TIME_WAIT record or a timer's key. */
typedef struct sk_ep_addrs {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    bool v6, mapped;
} sk_ep_addrs;

static inline void sk_event_ep(sk_event *ev, int kind, const void *a, const void *b)
{
    ev->ep_.kind = kind;
    ev->ep_.a = a;
    ev->ep_.b = b;
}
/* sk_state_cause_name's table (names.c), indexed directly where the core
 * fills an event: the core passes only valid causes, and a call per state
 * change showed in the per-lifecycle instruction count. */
extern const char *const sk_cause_text[SK_CAUSE_COUNT];
void sk_emit_state(sk_stack *s, sk_tcb *t, int from, int to, sk_state_cause cause);
void sk_emit_drop(sk_stack *s, const sk_segment *seg, sk_counter_id reason);
void sk_emit_timer(sk_stack *s, const sk_key *k, int fd, const char *timer);
void sk_notify(sk_stack *s, sk_tcb *t); /* readiness may have changed */
#define sk_emit_tcb_timer(s, t, name)                                                                                  \
    do {                                                                                                               \
        sk_key tk_ = sk_tcb_key(t);                                                                                    \
        sk_emit_timer((s), &tk_, (t)->fd, (name));                                                                     \
    } while (0)

#endif
