/*
 * A hierarchical, cascading timer wheel with a 1 ms tick (Linux's jiffy at
 * HZ=1000).  Insert, delete and fire are O(1); an idle wheel costs nothing
 * and sk_wheel_next() never scans timers, only occupancy bitmaps and one
 * cached lower bound per slot.
 *
 * Timers fire exactly at their tick: a timer in a coarse level is cascaded
 * into finer levels as time approaches, so a 60 s TIME_WAIT or a 7200 s
 * keepalive fires on the very millisecond it was armed for.
 */
#ifndef SK_TIMER_WHEEL_H
#define SK_TIMER_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SK_WHEEL_BITS 6
#define SK_WHEEL_SLOTS (1u << SK_WHEEL_BITS) /* 64 slots a level */
#define SK_WHEEL_LEVELS 6                   /* 64^6 ms ≈ 2.2 years */
#define SK_TICK_NEVER UINT64_MAX

typedef struct sk_timer {
    struct sk_timer *next, *prev; /* slot list; prev == NULL when idle */
    uint64_t expires;             /* absolute tick */
} sk_timer;

typedef struct sk_wheel_slot {
    sk_timer head;       /* sentinel of a circular list */
    uint64_t min_expires; /* lower bound of the slot's expiries */
} sk_wheel_slot;

typedef struct sk_wheel {
    uint64_t now;          /* current tick: everything <= now has fired */
    size_t count;          /* pending timers */
    uint64_t occupied[SK_WHEEL_LEVELS];
    sk_wheel_slot slots[SK_WHEEL_LEVELS][SK_WHEEL_SLOTS];
} sk_wheel;

typedef void (*sk_timer_fire_fn)(void *ctx, sk_timer *t);

void sk_wheel_init(sk_wheel *w, uint64_t now_tick);
static inline void sk_timer_init(sk_timer *t) { t->next = t->prev = NULL; t->expires = 0; }
static inline bool sk_timer_pending(const sk_timer *t) { return t->prev != NULL; }
/* Arms t for `expires` (clamped to now+1 if in the past or present);
 * re-arms if already pending. */
void sk_wheel_add(sk_wheel *w, sk_timer *t, uint64_t expires);
/* Disarms t; harmless if it is not pending. */
void sk_wheel_del(sk_wheel *w, sk_timer *t);
/* A tick at or before the earliest pending expiry (exact when the earliest
 * timer is within the first 64 ms), SK_TICK_NEVER when empty. */
uint64_t sk_wheel_next(const sk_wheel *w);
/* Advances to now_tick, calling fire for every timer whose expiry is
 * <= now_tick, in expiry order.  A timer is disarmed before its callback
 * runs; the callback may arm or disarm any timer, including this one.
 * Returns the number fired. */
size_t sk_wheel_advance(sk_wheel *w, uint64_t now_tick, sk_timer_fire_fn fire, void *ctx);

#endif
