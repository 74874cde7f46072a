/*
 * SipHash-2-4 against the published vectors, RFC 6528 ISNs, timestamp
 * offsets, and the deterministic PRNG.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "isn.h"

static const uint8_t test_key[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                     0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};

/* Reference vectors from the SipHash paper's test suite (key 00..0f,
 * message 00 01 .. len-1); the 15-byte one is the paper's Appendix A
 * worked example.  Lengths 0-4, 7, 8 and 15 cover the empty message, a
 * partial final block, exactly one full block and a full block plus a
 * 7-byte tail. */
static void test_siphash24_reference_vectors(void **state)
{
    uint8_t msg[16];
    for (int i = 0; i < 16; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(sk_siphash24(test_key, msg, 0), 0x726fdb47dd0e0e31ull);
    assert_int_equal(sk_siphash24(test_key, msg, 1), 0x74f839c593dc67fdull);
    assert_int_equal(sk_siphash24(test_key, msg, 2), 0x0d6c8009d9a94f5aull);
    assert_int_equal(sk_siphash24(test_key, msg, 3), 0x85676696d7fb7e2dull);
    assert_int_equal(sk_siphash24(test_key, msg, 4), 0xcf2794e0277187b7ull);
    assert_int_equal(sk_siphash24(test_key, msg, 7), 0xab0200f58b01d137ull);
    assert_int_equal(sk_siphash24(test_key, msg, 8), 0x93f5f5799a932462ull);
    assert_int_equal(sk_siphash24(test_key, msg, 15), 0xa129ca6149be45e5ull);
}

/* More of the reference suite's vectors: a 5- and 6-byte tail (the
 * 4-, 2- and 1-byte pieces of the final block together), 12 bytes (an
 * IPv4 ISN's tuple), 36 (an IPv6 one's) and 63 (seven blocks and a
 * 7-byte tail). */
static void test_siphash24_more_reference_vectors(void **state)
{
    uint8_t msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(sk_siphash24(test_key, msg, 5), 0x18765564cd99a68dull);
    assert_int_equal(sk_siphash24(test_key, msg, 6), 0xcbc9466e58fee3ceull);
    assert_int_equal(sk_siphash24(test_key, msg, 12), 0x751e8fbc860ee5fbull);
    assert_int_equal(sk_siphash24(test_key, msg, 36), 0x314dffbe0815a3b4ull);
    assert_int_equal(sk_siphash24(test_key, msg, 63), 0x958a324ceb064572ull);
}

/* The input may sit at any address. */
static void test_siphash24_unaligned_input(void **state)
{
    uint8_t buf[32];
    for (int i = 0; i < 16; i++)
        buf[3 + i] = (uint8_t)i;
    assert_int_equal(sk_siphash24(test_key, buf + 3, 15), 0xa129ca6149be45e5ull);
}

static uint32_t hash_of_tuple(const uint8_t key[16], const uint8_t tuple[12])
{
    return (uint32_t)sk_siphash24(key, tuple, 12);
}

#define LOCAL_ADDR 0xc0a80001u  /* 192.168.0.1 */
#define REMOTE_ADDR 0x0a000002u /* 10.0.0.2 */

/* The construction: low 32 bits of SipHash over the tuple in wire order
 * (local addr, remote addr, local port, remote port) plus now / 64 ns. */
static void test_isn_is_tuple_hash_plus_64ns_clock(void **state)
{
    static const uint8_t tuple[12] = {0xc0, 0xa8, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
                                      0x30, 0x39, 0x00, 0x50};
    uint32_t h = hash_of_tuple(test_key, tuple);
    assert_int_equal(sk_isn(test_key, LOCAL_ADDR, 12345, REMOTE_ADDR, 80, 0), h);
    assert_int_equal(sk_isn(test_key, LOCAL_ADDR, 12345, REMOTE_ADDR, 80, 63), h);
    assert_int_equal(sk_isn(test_key, LOCAL_ADDR, 12345, REMOTE_ADDR, 80, 64), (uint32_t)(h + 1));
    assert_int_equal(sk_isn(test_key, LOCAL_ADDR, 12345, REMOTE_ADDR, 80, 64000000000ull),
                     (uint32_t)(h + 1000000000u));
    /* The clock wraps modulo 2^32 ticks of 64 ns. */
    assert_int_equal(sk_isn(test_key, LOCAL_ADDR, 12345, REMOTE_ADDR, 80, (1ull << 38) + 128),
                     (uint32_t)(h + 2));
}

/* sk_isn forms SipHash's words from the tuple directly: it must equal
 * the general function over the tuple's wire bytes for any tuple and key
 * (every byte of each field distinct, so a swapped byte shows). */
static void test_isn_equals_general_hash_of_wire_tuple(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 2000; i++) {
        uint8_t key[16];
        for (int b = 0; b < 16; b++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            key[b] = (uint8_t)(x >> 56);
        }
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t sa = (uint32_t)(x >> 32), da = (uint32_t)x;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint16_t sp = (uint16_t)(x >> 48), dp = (uint16_t)(x >> 16);
        if (i == 0) {
            sa = 0x01020304u, da = 0x05060708u, sp = 0x090a, dp = 0x0b0c;
        }
        const uint8_t tuple[12] = {(uint8_t)(sa >> 24), (uint8_t)(sa >> 16), (uint8_t)(sa >> 8), (uint8_t)sa,
                                   (uint8_t)(da >> 24), (uint8_t)(da >> 16), (uint8_t)(da >> 8), (uint8_t)da,
                                   (uint8_t)(sp >> 8),  (uint8_t)sp,         (uint8_t)(dp >> 8), (uint8_t)dp};
        assert_int_equal(sk_isn(key, sa, sp, da, dp, 0), hash_of_tuple(key, tuple));
    }
}

static void test_isn_same_inputs_same_output(void **state)
{
    uint32_t a = sk_isn(test_key, LOCAL_ADDR, 40000, REMOTE_ADDR, 443, 123456789);
    uint32_t b = sk_isn(test_key, LOCAL_ADDR, 40000, REMOTE_ADDR, 443, 123456789);
    assert_int_equal(a, b);
}

static void test_isn_changes_with_each_tuple_field_and_key(void **state)
{
    const uint64_t now = 5000000000ull;
    uint32_t base = sk_isn(test_key, LOCAL_ADDR, 40000, REMOTE_ADDR, 443, now);
    assert_int_not_equal(sk_isn(test_key, LOCAL_ADDR + 1, 40000, REMOTE_ADDR, 443, now), base);
    assert_int_not_equal(sk_isn(test_key, LOCAL_ADDR, 40001, REMOTE_ADDR, 443, now), base);
    assert_int_not_equal(sk_isn(test_key, LOCAL_ADDR, 40000, REMOTE_ADDR + 1, 443, now), base);
    assert_int_not_equal(sk_isn(test_key, LOCAL_ADDR, 40000, REMOTE_ADDR, 444, now), base);
    /* Local and remote are not interchangeable. */
    assert_int_not_equal(sk_isn(test_key, REMOTE_ADDR, 443, LOCAL_ADDR, 40000, now), base);
    uint8_t other_key[16];
    for (int i = 0; i < 16; i++)
        other_key[i] = test_key[i];
    other_key[15] ^= 0x80;
    assert_int_not_equal(sk_isn(other_key, LOCAL_ADDR, 40000, REMOTE_ADDR, 443, now), base);
}

static void test_isn_advances_with_time(void **state)
{
    uint32_t t0 = sk_isn(test_key, LOCAL_ADDR, 40000, REMOTE_ADDR, 443, 1000000);
    uint32_t t1 = sk_isn(test_key, LOCAL_ADDR, 40000, REMOTE_ADDR, 443, 1000000 + 64 * 250000);
    assert_int_equal((uint32_t)(t1 - t0), 250000);
}

/* Linux's secure_tcp_ts_off hashes only the address pair. */
static void test_ts_offset_is_address_pair_hash(void **state)
{
    static const uint8_t pair[8] = {0xc0, 0xa8, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02};
    uint32_t off = sk_ts_offset(test_key, LOCAL_ADDR, REMOTE_ADDR);
    assert_int_equal(off, (uint32_t)sk_siphash24(test_key, pair, sizeof pair));
    assert_int_equal(sk_ts_offset(test_key, LOCAL_ADDR, REMOTE_ADDR), off);
    assert_int_not_equal(sk_ts_offset(test_key, LOCAL_ADDR + 1, REMOTE_ADDR), off);
    assert_int_not_equal(sk_ts_offset(test_key, LOCAL_ADDR, REMOTE_ADDR + 1), off);
    assert_int_not_equal(sk_ts_offset(test_key, REMOTE_ADDR, LOCAL_ADDR), off);
}

/* splitmix64 from seed 0 first yields 0xe220a8397b1dcdaf (Vigna's
 * reference); the xoshiro256** outputs that follow are pinned so a
 * change of generator is noticed (it would change every simulation). */
static void test_rng_seed_and_first_outputs(void **state)
{
    sk_rng r;
    sk_rng_seed(&r, 0);
    assert_int_equal(r.s[0], 0xe220a8397b1dcdafull);
    assert_int_equal(sk_rng_next(&r), 0x99ec5f36cb75f2b4ull);
    assert_int_equal(sk_rng_next(&r), 0xbf6e1f784956452aull);
    assert_int_equal(sk_rng_next(&r), 0x1a5f849d4933e6e0ull);
}

static void test_rng_same_seed_same_sequence(void **state)
{
    sk_rng a, b, c;
    sk_rng_seed(&a, 42);
    sk_rng_seed(&b, 42);
    sk_rng_seed(&c, 43);
    int differs_from_other_seed = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sk_rng_next(&a);
        assert_int_equal(x, sk_rng_next(&b));
        if (x != sk_rng_next(&c))
            differs_from_other_seed++;
    }
    assert_int_equal(differs_from_other_seed, 1000);
}

/* Lemire's method takes the high half of (top 32 bits) * bound; for
 * bound 6 a draw is rejected only if the low half is below
 * 2^32 mod 6 = 4, so the result can be predicted from a copy of the
 * generator. */
static void test_rng_below_matches_multiply_shift(void **state)
{
    sk_rng r, copy;
    sk_rng_seed(&r, 2024);
    for (int i = 0; i < 1000; i++) {
        copy = r;
        uint64_t m = (sk_rng_next(&copy) >> 32) * 6u;
        assert_true((uint32_t)m >= 4);
        assert_int_equal(sk_rng_below(&r, 6), (uint32_t)(m >> 32));
        assert_memory_equal(&r, &copy, sizeof r);
    }
}

static void test_rng_below_range(void **state)
{
    static const uint32_t bounds[] = {1, 2, 3, 7, 10, 1000, 0x80000001u, UINT32_MAX};
    sk_rng r;
    sk_rng_seed(&r, 99);
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        for (int i = 0; i < 10000; i++)
            assert_true(sk_rng_below(&r, bounds[b]) < bounds[b]);
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(sk_rng_below(&r, 1), 0);
    /* bound 0 is outside the contract; it must not divide by zero. */
    assert_int_equal(sk_rng_below(&r, 0), 0);

    /* Every value of a small range comes up. */
    int seen[10] = {0};
    for (int i = 0; i < 1000; i++)
        seen[sk_rng_below(&r, 10)]++;
    for (int v = 0; v < 10; v++)
        assert_true(seen[v] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash24_reference_vectors),
        cmocka_unit_test(test_siphash24_more_reference_vectors),
        cmocka_unit_test(test_siphash24_unaligned_input),
        cmocka_unit_test(test_isn_is_tuple_hash_plus_64ns_clock),
        cmocka_unit_test(test_isn_equals_general_hash_of_wire_tuple),
        cmocka_unit_test(test_isn_same_inputs_same_output),
        cmocka_unit_test(test_isn_changes_with_each_tuple_field_and_key),
        cmocka_unit_test(test_isn_advances_with_time),
        cmocka_unit_test(test_ts_offset_is_address_pair_hash),
        cmocka_unit_test(test_rng_seed_and_first_outputs),
        cmocka_unit_test(test_rng_same_seed_same_sequence),
        cmocka_unit_test(test_rng_below_matches_multiply_shift),
        cmocka_unit_test(test_rng_below_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
