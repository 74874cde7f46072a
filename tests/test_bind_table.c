/*
 * The bind table (tables.c): port buckets kept in one open-addressing
 * array.  Buckets created, counted and released in random order, across
 * the table's growth, are checked against a plain array of every port;
 * removal must keep every other port findable (runs closed up behind a
 * hole, never broken).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stack.h"
#include "tables.h"

static void no_tx(void *ctx, const uint8_t *d, size_t len)
{
    (void)ctx;
    (void)d;
    (void)len;
}

static sk_stack *stack_new(void)
{
    sk_stack_params p;
    memset(&p, 0, sizeof p);
    p.addr = 0x0a000001;
    p.transmit = no_tx;
    p.now = SK_NSEC_PER_SEC;
    sk_stack *s = sk_stack_new(&p);
    assert_non_null(s);
    return s;
}

/* What the model holds for a port: 0 for no bucket, else its tw count
 * plus one (a bucket exists exactly while the count is at least one). */
static uint32_t model[65536];

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void check_all(sk_stack *s)
{
    uint32_t live = 0;
    for (uint32_t port = 0; port < 65536; port++) {
        sk_bind_bucket *b = sk_bind_bucket_get(s, (uint16_t)port, false);
        if (!model[port]) {
            assert_null(b);
            continue;
        }
        live++;
        assert_non_null(b);
        assert_int_equal(b->port, port);
        assert_int_equal(b->tw, model[port] - 1);
    }
    assert_int_equal(s->bind_count, live);
    assert_true(s->bind_count * 4 <= (s->bind_mask + 1) * 3);
    assert_int_equal(sizeof(sk_bind_bucket), 20);
}

static void test_bind_table_matches_model(void **state)
{
    (void)state;
    memset(model, 0, sizeof model);
    sk_stack *s = stack_new();
    /* Ports from a narrow window, so runs form and removals close them up,
     * then the full range, so the table grows through several sizes. */
    for (int round = 0; round < 2; round++) {
        uint32_t span = round == 0 ? 300 : 65536;
        for (int step = 0; step < 200000; step++) {
            uint16_t port = (uint16_t)(round == 0 ? 1000 + rnd() % span : rnd() % span);
            if (rnd() % 3 != 0) {
                sk_bind_bucket *b = sk_bind_bucket_get(s, port, true);
                assert_non_null(b);
                assert_int_equal(b->port, port);
                assert_int_equal(b->tw, model[port] ? model[port] - 1 : 0);
                model[port]++;
                b->tw = model[port] - 1;
            } else if (model[port]) {
                sk_bind_bucket *b = sk_bind_bucket_get(s, port, false);
                assert_non_null(b);
                /* One user fewer: the bucket stays while it has one. */
                if (b->tw)
                    b->tw--;
                model[port] = b->tw ? b->tw + 1 : 0;
                sk_bind_bucket_release(s, b);
                if (model[port])
                    assert_non_null(sk_bind_bucket_get(s, port, false));
                else
                    assert_null(sk_bind_bucket_get(s, port, false));
            }
            if (step % 20000 == 0)
                check_all(s);
        }
        check_all(s);
        /* Empty it again: every release must leave the rest findable. */
        for (uint32_t port = 0; port < 65536; port++) {
            if (!model[port])
                continue;
            sk_bind_bucket *b = sk_bind_bucket_get(s, (uint16_t)port, false);
            assert_non_null(b);
            b->tw = 0;
            model[port] = 0;
            sk_bind_bucket_release(s, b);
            if (port % 4096 == 0)
                check_all(s);
        }
        check_all(s);
        assert_int_equal(s->bind_count, 0);
    }
    sk_stack_free(s);
}

/* A bucket with users stays; the last user's release removes it. */
static void test_bind_bucket_release_needs_no_users(void **state)
{
    (void)state;
    sk_stack *s = stack_new();
    sk_bind_bucket *b = sk_bind_bucket_get(s, 8080, true);
    assert_non_null(b);
    b->refs = 1;
    sk_bind_bucket_release(s, b);
    b = sk_bind_bucket_get(s, 8080, false);
    assert_non_null(b);
    b->refs = 0;
    b->listeners = 1;
    sk_bind_bucket_release(s, b);
    b = sk_bind_bucket_get(s, 8080, false);
    assert_non_null(b);
    b->listeners = 0;
    sk_bind_bucket_release(s, b);
    assert_null(sk_bind_bucket_get(s, 8080, false));
    assert_int_equal(s->bind_count, 0);
    sk_stack_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_table_matches_model),
        cmocka_unit_test(test_bind_bucket_release_needs_no_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
