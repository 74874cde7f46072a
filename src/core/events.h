/*
 * Event emission (events.c): state changes, drops, timers and readiness
 * reported to the stack's on_event hook.
 */
#ifndef SK_EVENTS_H
#define SK_EVENTS_H

#include "addr.h"
#include "stack.h"

void sk_emit(sk_stack *s, const sk_event *ev);
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
