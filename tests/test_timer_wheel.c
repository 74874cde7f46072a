/*
 * Timer wheel: exact firing ticks at every level boundary, ordering,
 * callbacks that re-arm and add, sk_wheel_next bounds, a randomized check
 * against a brute-force model, and a million idle timers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "timer_wheel.h"

#define SPAN ((uint64_t)1 << 36) /* 64^6 ticks */

typedef struct test_timer {
    sk_timer timer;
    size_t id;
    uint64_t period;    /* re-arm by this much from the callback if non-zero */
    size_t fire_count;
    uint64_t last_fire_tick;
} test_timer;

typedef struct fire_record {
    uint64_t tick;
    size_t id;
} fire_record;

typedef struct fire_log {
    sk_wheel *wheel;
    fire_record *records;
    size_t len, cap;
} fire_log;

static test_timer *timer_owner(sk_timer *t)
{
    return (test_timer *)((char *)t - offsetof(test_timer, timer));
}

static void log_push(fire_log *log, uint64_t tick, size_t id)
{
    if (log->len == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 64;
        log->records = realloc(log->records, log->cap * sizeof(*log->records));
        assert_non_null(log->records);
    }
    log->records[log->len].tick = tick;
    log->records[log->len].id = id;
    log->len++;
}

/* The tick being processed is now + 1 while callbacks run. */
static uint64_t firing_tick(const sk_wheel *w) { return w->now + 1; }

static void record_fire(void *ctx, sk_timer *t)
{
    fire_log *log = ctx;
    test_timer *tt = timer_owner(t);
    uint64_t tick = firing_tick(log->wheel);
    /* Disarmed before the callback, and fired on its own expiry tick. */
    assert_false(sk_timer_pending(t));
    assert_int_equal(t->expires, tick);
    tt->fire_count++;
    tt->last_fire_tick = tick;
    log_push(log, tick, tt->id);
    if (tt->period)
        sk_wheel_add(log->wheel, t, tick + tt->period);
}

static sk_wheel *wheel_new(uint64_t now)
{
    sk_wheel *w = malloc(sizeof(*w));
    assert_non_null(w);
    sk_wheel_init(w, now);
    return w;
}

static void timer_setup(test_timer *tt, size_t id)
{
    memset(tt, 0, sizeof(*tt));
    sk_timer_init(&tt->timer);
    tt->id = id;
}

/* ------------------------------------------------------------------ */

static const uint64_t level_boundary_delays[] = {
    1, 2, 63, 64, 65, 127, 128, 4095, 4096, 4097, 60000, 262143, 262144, 262145,
    7200000, 16777215, 16777216, 16777217, 1073741823, 1073741824, 1073741825,
    SPAN - 1, SPAN, SPAN + 1, SPAN + 12345, 3 * SPAN + 7,
};

static const uint64_t start_ticks[] = {
    0, 1, 62, 63, 64, 4095, 4096, 123456789, SPAN - 1, SPAN, 5 * SPAN + 4097,
};

/* One big advance to expiry - 1 fires nothing; one more tick fires it. */
static void test_fires_at_exact_tick_for_every_delay(void **state)
{
    for (size_t s = 0; s < sizeof(start_ticks) / sizeof(start_ticks[0]); s++) {
        for (size_t d = 0; d < sizeof(level_boundary_delays) / sizeof(level_boundary_delays[0]); d++) {
            uint64_t start = start_ticks[s], expires = start + level_boundary_delays[d];
            sk_wheel *w = wheel_new(start);
            fire_log log = {.wheel = w};
            test_timer tt;
            timer_setup(&tt, 1);
            sk_wheel_add(w, &tt.timer, expires);
            assert_true(sk_timer_pending(&tt.timer));
            assert_int_equal(w->count, 1);

            assert_int_equal(sk_wheel_advance(w, expires - 1, record_fire, &log), 0);
            assert_int_equal(w->now, expires - 1);
            assert_true(sk_timer_pending(&tt.timer));
            /* Now within 64 ms of it, sk_wheel_next is exact. */
            assert_int_equal(sk_wheel_next(w), expires);

            assert_int_equal(sk_wheel_advance(w, expires, record_fire, &log), 1);
            assert_int_equal(tt.fire_count, 1);
            assert_int_equal(tt.last_fire_tick, expires);
            assert_false(sk_timer_pending(&tt.timer));
            assert_int_equal(w->count, 0);
            assert_int_equal(sk_wheel_next(w), SK_TICK_NEVER);
            free(log.records);
            free(w);
        }
    }
}

/* Driving the wheel only by sk_wheel_next (as the engine does) reaches the
 * exact tick, with each answer a lower bound and every step making progress. */
static void test_next_driven_loop_fires_at_exact_tick(void **state)
{
    for (size_t s = 0; s < sizeof(start_ticks) / sizeof(start_ticks[0]); s++) {
        for (size_t d = 0; d < sizeof(level_boundary_delays) / sizeof(level_boundary_delays[0]); d++) {
            uint64_t start = start_ticks[s], expires = start + level_boundary_delays[d];
            sk_wheel *w = wheel_new(start);
            fire_log log = {.wheel = w};
            test_timer tt;
            timer_setup(&tt, 1);
            sk_wheel_add(w, &tt.timer, expires);
            size_t steps = 0;
            while (tt.fire_count == 0) {
                uint64_t next = sk_wheel_next(w);
                assert_true(next > w->now);
                assert_true(next <= expires);
                sk_wheel_advance(w, next, record_fire, &log);
                assert_true(++steps < 16);
            }
            assert_int_equal(tt.last_fire_tick, expires);
            assert_int_equal(w->now, expires);
            free(log.records);
            free(w);
        }
    }
}

static void test_past_or_present_expiry_fires_next_tick(void **state)
{
    sk_wheel *w = wheel_new(1000);
    fire_log log = {.wheel = w};
    test_timer past, present;
    timer_setup(&past, 1);
    timer_setup(&present, 2);
    sk_wheel_add(w, &past.timer, 10);
    sk_wheel_add(w, &present.timer, 1000);
    assert_int_equal(past.timer.expires, 1001);
    assert_int_equal(present.timer.expires, 1001);
    assert_int_equal(sk_wheel_next(w), 1001);
    assert_int_equal(sk_wheel_advance(w, 1001, record_fire, &log), 2);
    assert_int_equal(past.last_fire_tick, 1001);
    assert_int_equal(present.last_fire_tick, 1001);
    free(log.records);
    free(w);
}

/* ------------------------------------------------------------------ */

static void test_fires_in_expiry_order_across_levels(void **state)
{
    /* Armed out of order, spread over all levels and beyond the span. */
    static const uint64_t expiries[] = {
        7200000, 5, 64, 3 * SPAN, 4096, 65, 1, 60000, 63, 4097, SPAN + 1, 262144, 2, 4095,
    };
    enum { N = sizeof(expiries) / sizeof(expiries[0]) };
    sk_wheel *w = wheel_new(0);
    fire_log log = {.wheel = w};
    test_timer timers[N];
    for (size_t i = 0; i < N; i++) {
        timer_setup(&timers[i], i);
        sk_wheel_add(w, &timers[i].timer, expiries[i]);
    }
    assert_int_equal(w->count, N);
    assert_int_equal(sk_wheel_next(w), 1);

    assert_int_equal(sk_wheel_advance(w, 4 * SPAN, record_fire, &log), N);
    assert_int_equal(log.len, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(log.records[i].tick, expiries[log.records[i].id]);
        if (i > 0)
            assert_true(log.records[i - 1].tick < log.records[i].tick);
    }
    assert_int_equal(log.records[0].id, 6);      /* tick 1 */
    assert_int_equal(log.records[N - 1].id, 3);  /* 3 * SPAN */
    free(log.records);
    free(w);
}

/* A one-hour jump fires 10,000 timers, each on its own tick, in order. */
static void test_one_hour_jump_fires_all_in_order(void **state)
{
    enum { N = 10000 };
    const uint64_t hour = 3600000;
    sk_wheel *w = wheel_new(777);
    fire_log log = {.wheel = w};
    test_timer *timers = calloc(N, sizeof(*timers));
    assert_non_null(timers);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        timer_setup(&timers[i], i);
        sk_wheel_add(w, &timers[i].timer, 778 + x % hour);
    }
    size_t fired = sk_wheel_advance(w, 777 + hour, record_fire, &log);
    assert_int_equal(fired, N);
    assert_int_equal(w->count, 0);
    assert_int_equal(w->now, 777 + hour);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(timers[i].fire_count, 1);
        if (i > 0)
            assert_true(log.records[i - 1].tick <= log.records[i].tick);
    }
    free(timers);
    free(log.records);
    free(w);
}

static void test_deleted_timer_never_fires(void **state)
{
    sk_wheel *w = wheel_new(0);
    fire_log log = {.wheel = w};
    test_timer near, far, kept;
    timer_setup(&near, 1);
    timer_setup(&far, 2);
    timer_setup(&kept, 3);
    sk_wheel_add(w, &near.timer, 10);
    sk_wheel_add(w, &far.timer, 100000);
    sk_wheel_add(w, &kept.timer, 100000);
    sk_wheel_del(w, &near.timer);
    sk_wheel_del(w, &far.timer);
    sk_wheel_del(w, &far.timer); /* harmless when not pending */
    assert_false(sk_timer_pending(&near.timer));
    assert_false(sk_timer_pending(&far.timer));
    assert_int_equal(w->count, 1);
    /* far was kept's slot-mate; kept's expiry is now the slot's bound. */
    assert_int_equal(sk_wheel_next(w), 100000);
    assert_int_equal(sk_wheel_advance(w, 200000, record_fire, &log), 1);
    assert_int_equal(log.len, 1);
    assert_int_equal(log.records[0].id, 3);
    assert_int_equal(near.fire_count + far.fire_count, 0);
    sk_wheel_del(w, &kept.timer);
    assert_int_equal(w->count, 0);
    free(log.records);
    free(w);
}

static void test_rearm_pending_timer_moves_it(void **state)
{
    sk_wheel *w = wheel_new(0);
    fire_log log = {.wheel = w};
    test_timer tt;
    timer_setup(&tt, 1);
    sk_wheel_add(w, &tt.timer, 5000);
    sk_wheel_add(w, &tt.timer, 30);
    assert_int_equal(w->count, 1);
    assert_int_equal(sk_wheel_next(w), 30);
    sk_wheel_add(w, &tt.timer, 90000);
    assert_int_equal(w->count, 1);
    assert_int_equal(sk_wheel_advance(w, 89999, record_fire, &log), 0);
    assert_int_equal(sk_wheel_advance(w, 100000, record_fire, &log), 1);
    assert_int_equal(tt.last_fire_tick, 90000);
    free(log.records);
    free(w);
}

/* A periodic timer re-arms itself from its callback: one advance over
 * 10 periods fires it 10 times, each on the exact tick. */
static void test_periodic_rearm_from_callback(void **state)
{
    sk_wheel *w = wheel_new(0);
    fire_log log = {.wheel = w};
    test_timer tt;
    timer_setup(&tt, 7);
    tt.period = 1000;
    sk_wheel_add(w, &tt.timer, 1000);
    assert_int_equal(sk_wheel_advance(w, 10500, record_fire, &log), 10);
    assert_int_equal(log.len, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(log.records[i].tick, (i + 1) * 1000);
    assert_true(sk_timer_pending(&tt.timer));
    assert_int_equal(tt.timer.expires, 11000);
    assert_int_equal(sk_wheel_next(w), 11000);
    free(log.records);
    free(w);
}

/* A callback that arms, re-arms and deletes other timers. */
typedef struct meddler {
    fire_log log;
    test_timer *same_tick;  /* armed for the firing tick: fires this advance */
    test_timer *later;      /* armed 500 ticks on: fires this advance too */
    test_timer *victim;     /* due this tick, deleted before it fires */
    test_timer *postponed;  /* due this tick, moved 10 ticks later */
    test_timer *itself_again; /* the firing timer armed again, same tick */
} meddler;

static void meddle_fire(void *ctx, sk_timer *t)
{
    meddler *m = ctx;
    test_timer *tt = timer_owner(t);
    uint64_t tick = firing_tick(m->log.wheel);
    record_fire(&m->log, t);
    if (tt->id != 1)
        return;
    sk_wheel *w = m->log.wheel;
    sk_wheel_add(w, &m->same_tick->timer, tick);
    sk_wheel_add(w, &m->later->timer, tick + 500);
    sk_wheel_del(w, &m->victim->timer);
    sk_wheel_add(w, &m->postponed->timer, tick + 10);
    sk_wheel_add(w, &m->itself_again->timer, tick);
    tt->id = 100; /* its second firing must not meddle again */
}

static void test_callback_may_add_and_delete_any_timer(void **state)
{
    sk_wheel *w = wheel_new(0);
    test_timer first, same_tick, later, victim, postponed;
    timer_setup(&first, 1);
    timer_setup(&same_tick, 2);
    timer_setup(&later, 3);
    timer_setup(&victim, 4);
    timer_setup(&postponed, 5);
    meddler m = {.log = {.wheel = w}, .same_tick = &same_tick, .later = &later,
                 .victim = &victim, .postponed = &postponed, .itself_again = &first};
    /* first is armed before its same-tick mates so it fires first. */
    sk_wheel_add(w, &first.timer, 5000);
    sk_wheel_add(w, &victim.timer, 5000);
    sk_wheel_add(w, &postponed.timer, 5000);

    assert_int_equal(sk_wheel_advance(w, 6000, meddle_fire, &m), 5);
    fire_log *log = &m.log;
    assert_int_equal(log->len, 5);
    assert_int_equal(log->records[0].id, 1);
    assert_int_equal(log->records[0].tick, 5000);
    /* same_tick and first's second firing, in the same tick. */
    assert_int_equal(log->records[1].tick, 5000);
    assert_int_equal(log->records[2].tick, 5000);
    assert_int_equal(same_tick.last_fire_tick, 5000);
    assert_int_equal(first.fire_count, 2);
    assert_int_equal(log->records[3].id, 5);
    assert_int_equal(log->records[3].tick, 5010);
    assert_int_equal(log->records[4].id, 3);
    assert_int_equal(log->records[4].tick, 5500);
    assert_int_equal(victim.fire_count, 0);
    assert_int_equal(w->count, 0);
    free(log->records);
    free(w);
}

static void test_next_exact_for_near_and_lower_bound_for_far(void **state)
{
    sk_wheel *w = wheel_new(100);
    test_timer a, b, c;
    timer_setup(&a, 1);
    timer_setup(&b, 2);
    timer_setup(&c, 3);
    assert_int_equal(sk_wheel_next(w), SK_TICK_NEVER);

    sk_wheel_add(w, &a.timer, 100 + 7200000);
    uint64_t next = sk_wheel_next(w);
    assert_true(next > 100);
    assert_true(next <= 100 + 7200000);

    sk_wheel_add(w, &b.timer, 100 + 4000);
    next = sk_wheel_next(w);
    assert_true(next > 100);
    assert_true(next <= 100 + 4000);

    sk_wheel_add(w, &c.timer, 100 + 40);
    assert_int_equal(sk_wheel_next(w), 140);
    sk_wheel_add(w, &c.timer, 100 + 63);
    assert_int_equal(sk_wheel_next(w), 163);
    sk_wheel_del(w, &c.timer);
    sk_wheel_del(w, &b.timer);
    next = sk_wheel_next(w);
    assert_true(next > 100 && next <= 100 + 7200000);
    sk_wheel_del(w, &a.timer);
    assert_int_equal(sk_wheel_next(w), SK_TICK_NEVER);

    /* A far timer is answered exactly once it is within 64 ticks. */
    sk_wheel_add(w, &a.timer, 100 + 7200000);
    sk_wheel_advance(w, 100 + 7200000 - 64, NULL, NULL);
    assert_int_equal(sk_wheel_next(w), 100 + 7200000);
    free(w);
}

/* A beyond-span timer parked in the top level's last slot is processed
 * before a slot of earlier timers armed later: next must still be a lower
 * bound of the earliest (regression found by the randomized test). */
static void test_next_bounds_earlier_timer_behind_parked_far_timer(void **state)
{
    const uint64_t block = (uint64_t)1 << 30; /* a top-level slot */
    sk_wheel *w = wheel_new(0);
    fire_log log = {.wheel = w};
    test_timer parked, later_armed;
    timer_setup(&parked, 1);
    timer_setup(&later_armed, 2);
    sk_wheel_add(w, &parked.timer, 3 * SPAN);
    assert_int_equal(sk_wheel_advance(w, 10 * block, record_fire, &log), 0);
    sk_wheel_add(w, &later_armed.timer, 73 * block);
    uint64_t next = sk_wheel_next(w);
    assert_true(next > 10 * block);
    assert_true(next <= 73 * block);
    assert_int_equal(sk_wheel_advance(w, 3 * SPAN, record_fire, &log), 2);
    assert_int_equal(log.records[0].id, 2);
    assert_int_equal(log.records[0].tick, 73 * block);
    assert_int_equal(log.records[1].id, 1);
    assert_int_equal(log.records[1].tick, 3 * SPAN);
    free(log.records);
    free(w);
}

/* After the earliest of several coarse slot-mates is deleted, the slot's
 * cached bound is stale-low (no walk on delete): next may answer early,
 * and advancing there and asking again lands on the exact tick. */
static void test_next_after_deleting_coarse_slot_mate_converges(void **state)
{
    sk_wheel *w = wheel_new(0);
    fire_log log = {.wheel = w};
    test_timer a, b, c;
    timer_setup(&a, 1);
    timer_setup(&b, 2);
    timer_setup(&c, 3);
    sk_wheel_add(w, &a.timer, 100); /* level 1, slot 1 */
    sk_wheel_add(w, &b.timer, 120);
    sk_wheel_add(w, &c.timer, 125);
    sk_wheel_del(w, &a.timer);
    uint64_t next = sk_wheel_next(w);
    assert_true(next >= 100 && next <= 120);
    assert_int_equal(sk_wheel_advance(w, next, record_fire, &log), 0);
    /* The slot has been cascaded to level 0 by now: exact. */
    assert_int_equal(sk_wheel_next(w), 120);
    assert_int_equal(sk_wheel_advance(w, 120, record_fire, &log), 1);
    assert_int_equal(sk_wheel_next(w), 125);
    free(log.records);
    free(w);
}

static void test_advance_backwards_is_a_no_op(void **state)
{
    sk_wheel *w = wheel_new(5000);
    test_timer tt;
    timer_setup(&tt, 1);
    sk_wheel_add(w, &tt.timer, 5001);
    assert_int_equal(sk_wheel_advance(w, 4000, NULL, NULL), 0);
    assert_int_equal(w->now, 5000);
    assert_true(sk_timer_pending(&tt.timer));
    assert_int_equal(sk_wheel_advance(w, 5001, NULL, NULL), 1);
    assert_false(sk_timer_pending(&tt.timer));
    free(w);
}

/* ------------------------------------------------------------------ */
/* Randomized comparison with a brute-force model                        */
/* ------------------------------------------------------------------ */

typedef struct model_entry {
    uint64_t expires;
    size_t id;
} model_entry;

static int compare_model_entry(const void *pa, const void *pb)
{
    const model_entry *a = pa, *b = pb;
    if (a->expires != b->expires)
        return a->expires < b->expires ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int compare_fire_record(const void *pa, const void *pb)
{
    const fire_record *a = pa, *b = pb;
    if (a->tick != b->tick)
        return a->tick < b->tick ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    /* splitmix64: fixed seed, reproducible. */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Delays that exercise every level, their boundaries and beyond the span. */
static uint64_t random_delay(void)
{
    uint64_t r = rng_next() % 100;
    if (r < 35)
        return rng_next() % 130;
    if (r < 60)
        return rng_next() % 9000;
    if (r < 80)
        return rng_next() % 20000000;
    if (r < 90)
        return ((uint64_t)1 << (6 * (1 + rng_next() % 5))) + rng_next() % 3 - 1;
    if (r < 98)
        return rng_next() % (SPAN / 8);
    return SPAN - 2 + rng_next() % (3 * SPAN);
}

/* A deterministic period so the model and the wheel agree whatever the
 * order of same-tick callbacks. */
static uint64_t periodic_delay(size_t id, size_t fire_count)
{
    uint64_t h = (id * 0x9e3779b97f4a7c15ull) ^ (fire_count * 0xc2b2ae3d27d4eb4full);
    h ^= h >> 29;
    return 1 + h % 5000;
}

/* Periodic timers re-arm themselves three times, then rest until the test
 * arms them again, so a jump of years does not fire them billions of times. */
static bool rearms_again(const test_timer *tt, size_t fire_count)
{
    return tt->period && fire_count % 4 != 0;
}

typedef struct random_ctx {
    fire_log log;
    test_timer *timers;
    uint64_t *model_expires; /* SK_TICK_NEVER when disarmed */
} random_ctx;

static void random_fire(void *ctx, sk_timer *t)
{
    random_ctx *rc = ctx;
    test_timer *tt = timer_owner(t);
    uint64_t tick = firing_tick(rc->log.wheel);
    assert_false(sk_timer_pending(t));
    assert_int_equal(t->expires, tick);
    log_push(&rc->log, tick, tt->id);
    tt->fire_count++;
    if (rearms_again(tt, tt->fire_count))
        sk_wheel_add(rc->log.wheel, t, tick + periodic_delay(tt->id, tt->fire_count));
}

static void test_random_operations_match_model(void **state)
{
    enum { N = 100000, OPS = 600000 };
    rng_state = 20240601;
    sk_wheel *w = wheel_new(rng_next() % (SPAN * 4));
    random_ctx rc = {.log = {.wheel = w}};
    rc.timers = calloc(N, sizeof(*rc.timers));
    rc.model_expires = malloc(N * sizeof(*rc.model_expires));
    assert_non_null(rc.timers);
    assert_non_null(rc.model_expires);
    for (size_t i = 0; i < N; i++) {
        timer_setup(&rc.timers[i], i);
        rc.timers[i].period = (i % 10 == 0);
        rc.model_expires[i] = SK_TICK_NEVER;
    }
    size_t model_count = 0, total_fired = 0, advances = 0;
    const size_t expected_cap = 4 * N;
    model_entry *expected = malloc(expected_cap * sizeof(*expected));
    size_t *model_fires = malloc(N * sizeof(*model_fires));
    assert_non_null(expected);
    assert_non_null(model_fires);

    for (size_t op = 0; op < OPS; op++) {
        uint64_t r = rng_next() % 1000;
        size_t id = rng_next() % N;
        test_timer *tt = &rc.timers[id];
        if (r < 600) { /* arm or re-arm */
            uint64_t expires = w->now + random_delay();
            uint64_t effective = expires <= w->now ? w->now + 1 : expires;
            if (rc.model_expires[id] == SK_TICK_NEVER)
                model_count++;
            rc.model_expires[id] = effective;
            sk_wheel_add(w, &tt->timer, expires);
            assert_int_equal(tt->timer.expires, effective);
        } else if (r < 850) { /* delete */
            if (rc.model_expires[id] != SK_TICK_NEVER)
                model_count--;
            rc.model_expires[id] = SK_TICK_NEVER;
            sk_wheel_del(w, &tt->timer);
        } else if (r < 997) {
            continue;
        } else { /* advance by a random jump, checked against the model */
            uint64_t kind = rng_next() % 10, jump;
            if (kind < 4)
                jump = 1 + rng_next() % 64;
            else if (kind < 7)
                jump = rng_next() % 20000;
            else if (kind < 9)
                jump = rng_next() % 30000000;
            else
                jump = rng_next() % (2 * SPAN);
            uint64_t target = w->now + jump;

            /* Model: fire every armed timer due by target, scanning the
             * whole array again after each pass because periodic timers
             * re-arm (at most 3 times in a row, see random_fire). */
            size_t expected_len = 0;
            for (size_t i = 0; i < N; i++)
                model_fires[i] = rc.timers[i].fire_count;
            for (;;) {
                size_t fired_this_pass = 0;
                for (size_t i = 0; i < N; i++) {
                    uint64_t expires = rc.model_expires[i];
                    if (expires > target)
                        continue;
                    assert_true(expected_len < expected_cap);
                    expected[expected_len++] = (model_entry){expires, i};
                    fired_this_pass++;
                    model_fires[i]++;
                    rc.model_expires[i] = SK_TICK_NEVER;
                    model_count--;
                    if (rearms_again(&rc.timers[i], model_fires[i])) {
                        rc.model_expires[i] = expires + periodic_delay(i, model_fires[i]);
                        model_count++;
                    }
                }
                if (fired_this_pass == 0)
                    break;
            }
            qsort(expected, expected_len, sizeof(*expected), compare_model_entry);

            rc.log.len = 0;
            size_t fired = sk_wheel_advance(w, target, random_fire, &rc);
            advances++;
            total_fired += fired;
            assert_int_equal(fired, expected_len);
            assert_int_equal(rc.log.len, expected_len);
            assert_int_equal(w->now, target);
            assert_int_equal(w->count, model_count);
            /* Fired in tick order; within a tick the order is unspecified. */
            for (size_t i = 1; i < rc.log.len; i++)
                assert_true(rc.log.records[i - 1].tick <= rc.log.records[i].tick);
            qsort(rc.log.records, rc.log.len, sizeof(*rc.log.records), compare_fire_record);
            for (size_t i = 0; i < expected_len; i++) {
                assert_int_equal(rc.log.records[i].tick, expected[i].expires);
                assert_int_equal(rc.log.records[i].id, expected[i].id);
            }

            uint64_t earliest = SK_TICK_NEVER;
            for (size_t i = 0; i < N; i++)
                if (rc.model_expires[i] < earliest)
                    earliest = rc.model_expires[i];
            uint64_t next = sk_wheel_next(w);
            if (earliest == SK_TICK_NEVER) {
                assert_int_equal(next, SK_TICK_NEVER);
            } else {
                assert_true(next > w->now);
                assert_true(next <= earliest);
            }
        }
    }
    assert_true(advances > 1000);
    assert_true(total_fired > 100000);
    free(expected);
    free(model_fires);
    free(rc.timers);
    free(rc.model_expires);
    free(rc.log.records);
    free(w);
}

/* ------------------------------------------------------------------ */

/* A million keepalive-like timers two hours out cost nothing to carry
 * through a minute of one-second advances. */
static void test_million_idle_timers_fire_nothing_for_a_minute(void **state)
{
    enum { N = 1000000 };
    sk_wheel *w = wheel_new(0);
    fire_log log = {.wheel = w};
    test_timer *timers = malloc(N * sizeof(*timers));
    assert_non_null(timers);
    for (size_t i = 0; i < N; i++) {
        sk_timer_init(&timers[i].timer);
        timers[i].id = i;
        timers[i].period = 0;
        timers[i].fire_count = 0;
        sk_wheel_add(w, &timers[i].timer, 7200000 + i % 1000);
    }
    assert_int_equal(w->count, N);
    size_t fired = 0;
    for (uint64_t second = 1; second <= 60; second++)
        fired += sk_wheel_advance(w, second * 1000, record_fire, &log);
    assert_int_equal(fired, 0);
    assert_int_equal(w->count, N);
    assert_int_equal(w->now, 60000);
    uint64_t next = sk_wheel_next(w);
    assert_true(next > 60000 && next <= 7200000);
    /* And they all fire, on time, at the two-hour mark. */
    fired = sk_wheel_advance(w, 7200000 + 999, record_fire, &log);
    assert_int_equal(fired, N);
    for (size_t i = 0; i < N; i += 9973)
        assert_int_equal(timers[i].last_fire_tick, 7200000 + i % 1000);
    free(timers);
    free(log.records);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_at_exact_tick_for_every_delay),
        cmocka_unit_test(test_next_driven_loop_fires_at_exact_tick),
        cmocka_unit_test(test_past_or_present_expiry_fires_next_tick),
        cmocka_unit_test(test_fires_in_expiry_order_across_levels),
        cmocka_unit_test(test_one_hour_jump_fires_all_in_order),
        cmocka_unit_test(test_deleted_timer_never_fires),
        cmocka_unit_test(test_rearm_pending_timer_moves_it),
        cmocka_unit_test(test_periodic_rearm_from_callback),
        cmocka_unit_test(test_callback_may_add_and_delete_any_timer),
        cmocka_unit_test(test_next_exact_for_near_and_lower_bound_for_far),
        cmocka_unit_test(test_next_bounds_earlier_timer_behind_parked_far_timer),
        cmocka_unit_test(test_next_after_deleting_coarse_slot_mate_converges),
        cmocka_unit_test(test_advance_backwards_is_a_no_op),
        cmocka_unit_test(test_random_operations_match_model),
        cmocka_unit_test(test_million_idle_timers_fire_nothing_for_a_minute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
