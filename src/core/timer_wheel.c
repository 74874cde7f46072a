/*
 * Hierarchical cascading timer wheel: 6 levels of 64 slots, 1 ms ticks.
 *
 * Geometry.  Level L has slots of 64^L ticks each; a level covers 64^(L+1)
 * ticks, so the six levels together span 64^6 = 2^36 ms (about 2.2 years).
 * A timer in level L sits in slot (expires >> 6L) & 63, the level-L digit of
 * its expiry.  The set of level-L slots is called "block" below: block B of
 * level L is the tick range [B << 6L, (B + 1) << 6L).
 *
 * Placement (as in Linux's pre-4.8 cascading wheel, kernel/timer.c).  Let
 * `base` be the next tick to process (now + 1) and delta = expires - base.
 * A timer goes to the lowest level L with delta < 64^(L+1).  Because
 * 64^L <= delta < 64^(L+1), its block is 1..64 blocks after base's block,
 * and the first block start at or after base whose digit equals the slot is
 * exactly the timer's own block: the slot cannot alias a nearer block.
 * Timers beyond the span (delta >= 2^36) go to the top level's slot that is
 * processed last, 63 blocks after the first block start >= base, which is
 * still before their expiry; there they are simply placed again.
 *
 * INVARIANTS (hold whenever no wheel function is running):
 *  I1. Every pending timer has expires > now, and lies on exactly one slot
 *      list; a non-pending timer has prev == NULL.
 *  I2. A level-L slot k is processed at the first tick T > now with
 *      T % 64^L == 0 and digit L of T equal to k.  For a normally placed
 *      timer that T is the start of its own block (<= expires); for a
 *      timer beyond the span it is some tick < expires.  Hence below the
 *      top level, processing order is expiry order between slots; in the
 *      top level a slot holding beyond-span timers may be processed before
 *      a slot of earlier timers.
 *  I3. A level-0 slot holds timers of one single expiry: all level-0 timers
 *      expire in [now + 1, now + 64], 64 consecutive ticks, distinct slots.
 *  I4. occupied[L] bit k is set iff slot k of level L is non-empty.
 *  I5. A non-empty slot's min_expires is <= the expiry of each timer in it
 *      and >= the tick at which the slot is processed (I2), hence > now.
 *      It is SK_TICK_NEVER for an empty slot.  It is exact for level 0 (I3)
 *      and may be stale-low elsewhere after a deletion, which only makes
 *      sk_wheel_next() wake the caller early once.
 *
 * Processing tick T: first cascade every slot due at T (I2) by placing its
 * timers again relative to base T, which moves them to lower levels (their
 * expiry is inside the cascaded block, so delta < 64^L); a timer expiring at
 * T lands in level-0 slot T & 63.  Then fire that level-0 slot.  No slot is
 * due between two processed ticks, so advance() jumps straight from one
 * occupied slot's tick to the next (found from the bitmaps): the cost is
 * proportional to occupied slots and cascades (at most 5 per timer), never
 * to elapsed ticks.
 */
#include "timer_wheel.h"

#include <stddef.h>

_Static_assert(SK_WHEEL_SLOTS == 64, "occupancy bitmaps are one uint64_t a level");

#define SLOT_MASK ((uint64_t)SK_WHEEL_SLOTS - 1)
#define TOP_LEVEL (SK_WHEEL_LEVELS - 1)
#define SPAN_SHIFT (SK_WHEEL_LEVELS * SK_WHEEL_BITS) /* log2 of the span */

/*
 * Ticks are clamped to 2^62 (146 million years of milliseconds) so that
 * block arithmetic below can never overflow, whatever a caller passes in
 * (SK_TICK_NEVER included).
 */
#define WHEEL_MAX_TICK ((uint64_t)1 << 62)

static unsigned level_shift(unsigned level) { return level * SK_WHEEL_BITS; }

static uint64_t rotate_right(uint64_t bits, unsigned n)
{
    n &= 63;
    return n ? (bits >> n) | (bits << (64 - n)) : bits;
}

/* The first level-L block whose start is >= tick: ceil(tick / 64^L). */
static uint64_t first_block_at_or_after(uint64_t tick, unsigned level)
{
    unsigned shift = level_shift(level);
    return (tick + (((uint64_t)1 << shift) - 1)) >> shift;
}

static void slot_reset(sk_wheel_slot *slot)
{
    slot->head.next = slot->head.prev = &slot->head;
    slot->head.expires = 0;
    slot->min_expires = SK_TICK_NEVER;
}

/*
 * The slot whose sentinel `node` is, or NULL if node is a timer.  Only
 * sentinels live inside w->slots, so an address range test tells them
 * apart (integer comparison, since the timer may be in another object).
 */
static sk_wheel_slot *slot_of_sentinel(sk_wheel *w, sk_timer *node, unsigned *level, unsigned *index)
{
    uintptr_t base = (uintptr_t)&w->slots[0][0];
    uintptr_t addr = (uintptr_t)node;
    if (addr < base || addr - base >= sizeof(w->slots))
        return NULL;
    size_t flat = (addr - base) / sizeof(sk_wheel_slot);
    *level = (unsigned)(flat / SK_WHEEL_SLOTS);
    *index = (unsigned)(flat % SK_WHEEL_SLOTS);
    return &w->slots[*level][*index];
}

static void slot_append(sk_wheel *w, unsigned level, unsigned index, sk_timer *t)
{
    sk_wheel_slot *slot = &w->slots[level][index];
    sk_timer *tail = slot->head.prev;
    t->prev = tail;
    t->next = &slot->head;
    tail->next = t;
    slot->head.prev = t;
    w->occupied[level] |= (uint64_t)1 << index;
    if (t->expires < slot->min_expires)
        slot->min_expires = t->expires;
}

/* Unlinks a pending timer, keeping I4 and I5 (without walking the slot). */
static void timer_unlink(sk_wheel *w, sk_timer *t)
{
    sk_timer *prev = t->prev, *next = t->next;
    prev->next = next;
    next->prev = prev;
    t->next = t->prev = NULL;

    unsigned level, index;
    if (prev == next) {
        /* Only the sentinel is left: the slot is now empty. */
        sk_wheel_slot *slot = slot_of_sentinel(w, prev, &level, &index);
        if (slot) {
            slot->min_expires = SK_TICK_NEVER;
            w->occupied[level] &= ~((uint64_t)1 << index);
        }
    } else if (prev->prev == next && next->next == prev) {
        /* One timer is left: its expiry is the exact bound, for free. */
        sk_wheel_slot *slot = slot_of_sentinel(w, prev, &level, &index);
        sk_timer *last = prev;
        if (!slot) {
            slot = slot_of_sentinel(w, next, &level, &index);
        } else {
            last = next;
        }
        if (slot)
            slot->min_expires = last->expires;
    }
}

/* Places t (expires >= base) relative to base, the next tick to process. */
static void timer_place(sk_wheel *w, sk_timer *t, uint64_t base)
{
    uint64_t delta = t->expires - base;
    unsigned level, index;
    if (delta >> SPAN_SHIFT) {
        /* Beyond the span: the top-level slot processed last (I2). */
        level = TOP_LEVEL;
        index = (unsigned)((first_block_at_or_after(base, TOP_LEVEL) + SLOT_MASK) & SLOT_MASK);
    } else {
        level = delta < SK_WHEEL_SLOTS ? 0 : (unsigned)(63 - __builtin_clzll(delta)) / SK_WHEEL_BITS;
        index = (unsigned)((t->expires >> level_shift(level)) & SLOT_MASK);
    }
    slot_append(w, level, index, t);
}

/*
 * For one level, the first occupied slot in processing order (I2) and the
 * tick at which it is processed; false if the level is empty.
 */
static bool level_first_due(const sk_wheel *w, unsigned level, unsigned *index, uint64_t *tick)
{
    uint64_t bits = w->occupied[level];
    if (!bits)
        return false;
    uint64_t block = first_block_at_or_after(w->now + 1, level);
    unsigned start = (unsigned)(block & SLOT_MASK);
    unsigned offset = (unsigned)__builtin_ctzll(rotate_right(bits, start));
    *index = (start + offset) & (unsigned)SLOT_MASK;
    *tick = (block + offset) << level_shift(level);
    return true;
}

void sk_wheel_init(sk_wheel *w, uint64_t now_tick)
{
    w->now = now_tick > WHEEL_MAX_TICK ? WHEEL_MAX_TICK : now_tick;
    w->count = 0;
    for (unsigned level = 0; level < SK_WHEEL_LEVELS; level++) {
        w->occupied[level] = 0;
        for (unsigned index = 0; index < SK_WHEEL_SLOTS; index++)
            slot_reset(&w->slots[level][index]);
    }
}

void sk_wheel_add(sk_wheel *w, sk_timer *t, uint64_t expires)
{
    if (sk_timer_pending(t)) {
        timer_unlink(w, t);
        w->count--;
    }
    /* A past or present expiry means "as soon as possible": the next tick
     * processed.  From a callback firing tick T (now == T - 1 then), that
     * is T itself, so the timer fires within the same advance. */
    if (expires <= w->now)
        expires = w->now + 1;
    if (expires > WHEEL_MAX_TICK)
        expires = WHEEL_MAX_TICK;
    t->expires = expires;
    timer_place(w, t, w->now + 1);
    w->count++;
}

void sk_wheel_del(sk_wheel *w, sk_timer *t)
{
    if (!sk_timer_pending(t))
        return;
    timer_unlink(w, t);
    w->count--;
}

uint64_t sk_wheel_next(const sk_wheel *w)
{
    uint64_t earliest = SK_TICK_NEVER;
    for (unsigned level = 0; level < TOP_LEVEL; level++) {
        unsigned index;
        uint64_t tick;
        /* Below the top level, slots are processed in expiry order (I2),
         * so the first due slot holds the level's earliest timer (I5). */
        if (level_first_due(w, level, &index, &tick) && w->slots[level][index].min_expires < earliest)
            earliest = w->slots[level][index].min_expires;
    }
    /* The top level breaks that order: a beyond-span timer parked in the
     * last slot becomes an early slot as time moves on, while its expiry
     * may be later than that of timers armed since.  Take every occupied
     * top slot's bound (at most 64, usually very few). */
    for (uint64_t bits = w->occupied[TOP_LEVEL]; bits; bits &= bits - 1) {
        const sk_wheel_slot *slot = &w->slots[TOP_LEVEL][__builtin_ctzll(bits)];
        if (slot->min_expires < earliest)
            earliest = slot->min_expires;
    }
    return earliest;
}

/* Empties a coarse slot due at `tick` into lower levels. */
static void slot_cascade(sk_wheel *w, unsigned level, unsigned index, uint64_t tick)
{
    sk_wheel_slot *slot = &w->slots[level][index];
    sk_timer *t = slot->head.next;
    /* Detach the whole list first: placing a timer may append to another
     * slot of this level (beyond-span timers) but never to this one. */
    slot_reset(slot);
    w->occupied[level] &= ~((uint64_t)1 << index);
    while (t != &slot->head) {
        sk_timer *next = t->next;
        timer_place(w, t, tick);
        t = next;
    }
}

size_t sk_wheel_advance(sk_wheel *w, uint64_t now_tick, sk_timer_fire_fn fire, void *ctx)
{
    size_t fired = 0;
    if (now_tick > WHEEL_MAX_TICK)
        now_tick = WHEEL_MAX_TICK;
    while (w->now < now_tick && w->count > 0) {
        uint64_t tick = SK_TICK_NEVER;
        for (unsigned level = 0; level < SK_WHEEL_LEVELS; level++) {
            unsigned index;
            uint64_t due;
            if (level_first_due(w, level, &index, &due) && due < tick)
                tick = due;
        }
        if (tick > now_tick)
            break;
        /* Nothing is due in (now, tick): jump.  While tick is processed,
         * now == tick - 1, so base == tick for every placement, including
         * the callbacks' own adds. */
        w->now = tick - 1;
        for (unsigned level = TOP_LEVEL; level >= 1; level--) {
            uint64_t block_mask = ((uint64_t)1 << level_shift(level)) - 1;
            if (tick & block_mask)
                continue;
            unsigned index = (unsigned)((tick >> level_shift(level)) & SLOT_MASK);
            if (w->occupied[level] & ((uint64_t)1 << index))
                slot_cascade(w, level, index, tick);
        }
        /* Pop one timer at a time rather than detaching the list, so that
         * a callback may delete a timer due in this same tick, or add one
         * for it (appended here, fired in this loop).  Hence a callback
         * that always re-arms its timer for the current tick never lets
         * this loop end: re-arm periodic timers at least one tick on.
         * Same-tick timers fire in an unspecified order.  A NULL fire just
         * disarms them.  Callbacks must not call sk_wheel_advance. */
        sk_wheel_slot *slot = &w->slots[0][tick & SLOT_MASK];
        while (slot->head.next != &slot->head) {
            sk_timer *t = slot->head.next;
            timer_unlink(w, t);
            w->count--;
            fired++;
            if (fire)
                fire(ctx, t);
        }
        w->now = tick;
    }
    if (w->now < now_tick)
        w->now = now_tick;
    return fired;
}
