/*
 * TCP Fast Open (RFC 7413) pieces that must be bit-exact with Linux: the
 * cookie (SipHash-2-4 of both addresses, as __tcp_fastopen_cookie_gen_cipher)
 * against cookies Linux issued in the packetdrill recordings, and the option
 * in both encodings as tcp_parse_fastopen_option reads and tcp_options_write
 * writes it.  The handshakes themselves are held by the tier-3 conformance
 * scripts and tests/interop/test_fastopen.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "output.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* A key as the sysctl prints it: four words stored little-endian. */
static void key_from_words(uint8_t key[16], uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
    uint32_t w[4] = {w0, w1, w2, w3};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 4; b++)
            key[4 * i + b] = (uint8_t)(w[i] >> (8 * b));
}

static void test_cookie_is_linuxs(void **state)
{
    (void)state;
    uint8_t key[16], c[8];
    /* fastopen/server/simple1.pkt: key a0bf63f7-ed803d81-cd641d30-cebc4a90,
     * client 10.248.0.2, server 192.168.0.2. */
    key_from_words(key, 0xa0bf63f7, 0xed803d81, 0xcd641d30, 0xcebc4a90);
    sk_fastopen_cookie(key, IP(10, 248, 0, 2), IP(192, 168, 0, 2), c);
    assert_memory_equal(c, "\x00\xab\xaa\xab\xe8\xe9\x54\xc2", 8);
    /* TCP_FASTOPEN_KEY takes the same key as bytes (sockopt-fastopen-key.pkt). */
    assert_memory_equal(key, "\xf7\x63\xbf\xa0\x81\x3d\x80\xed\x30\x1d\x64\xcd\x90\x4a\xbc\xce", 16);
    /* packetdrill's TFO_COOKIE: defaults.sh's key, 192.0.2.1 -> 192.168.0.1. */
    key_from_words(key, 0xa1a1a1a1, 0xb2b2b2b2, 0xc3c3c3c3, 0xd4d4d4d4);
    sk_fastopen_cookie(key, IP(192, 0, 2, 1), IP(192, 168, 0, 1), c);
    assert_memory_equal(c, "\x30\x21\xb9\xd8\x89\x01\x7e\xeb", 8);
    /* the all-zero key (sockopt-fastopen-key.pkt's last SYN-ACK) */
    memset(key, 0, sizeof key);
    sk_fastopen_cookie(key, IP(10, 248, 0, 2), IP(192, 168, 0, 2), c);
    assert_memory_equal(c, "\x93\xb7\xaa\x4f\x55\x0f\x8a\x1a", 8);
    /* the pair is ordered: the reverse direction is another cookie */
    key_from_words(key, 0xa0bf63f7, 0xed803d81, 0xcd641d30, 0xcebc4a90);
    sk_fastopen_cookie(key, IP(192, 168, 0, 2), IP(10, 248, 0, 2), c);
    assert_memory_not_equal(c, "\x00\xab\xaa\xab\xe8\xe9\x54\xc2", 8);
}

static int8_t parse_fo(const uint8_t *opt, size_t len, bool *exp, uint8_t cookie[16])
{
    sk_tcp_opts o;
    assert_true(sk_parse_options(opt, len, &o));
    *exp = o.fo_exp;
    memcpy(cookie, o.fo_cookie, 16);
    return o.fo_len;
}

static void test_option_parsing_as_linux(void **state)
{
    (void)state;
    bool exp;
    uint8_t c[16];
    const uint8_t none[] = {1, 1, 1, 1};
    assert_int_equal(parse_fo(none, sizeof none, &exp, c), -1);
    const uint8_t req[] = {34, 2, 1, 1};
    assert_int_equal(parse_fo(req, sizeof req, &exp, c), 0);
    assert_false(exp);
    const uint8_t cookie[] = {34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1};
    assert_int_equal(parse_fo(cookie, sizeof cookie, &exp, c), 8);
    assert_memory_equal(c, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    const uint8_t exp_cookie[] = {254, 8, 0xf9, 0x89, 0xaa, 0xbb, 0xcc, 0xdd};
    assert_int_equal(parse_fo(exp_cookie, sizeof exp_cookie, &exp, c), 4);
    assert_true(exp);
    assert_memory_equal(c, "\xaa\xbb\xcc\xdd", 4);
    const uint8_t exp_req[] = {254, 4, 0xf9, 0x89};
    assert_int_equal(parse_fo(exp_req, sizeof exp_req, &exp, c), 0);
    assert_true(exp);
    /* RFC 6994: another magic is someone else's option */
    const uint8_t other[] = {254, 8, 0x12, 0x34, 0xaa, 0xbb, 0xcc, 0xdd};
    assert_int_equal(parse_fo(other, sizeof other, &exp, c), -1);
    /* odd, too short (2) or too long (18) cookies are void, as Linux */
    const uint8_t odd[] = {34, 7, 1, 2, 3, 4, 5, 1, 1, 1};
    assert_int_equal(parse_fo(odd, sizeof odd, &exp, c), -1);
    const uint8_t two[] = {34, 4, 1, 2};
    assert_int_equal(parse_fo(two, sizeof two, &exp, c), -1);
    uint8_t big[20] = {34, 20};
    assert_int_equal(parse_fo(big, sizeof big, &exp, c), -1);
}

static void test_option_writing_as_linux(void **state)
{
    (void)state;
    uint8_t buf[SK_TCP_OPT_MAX];
    const uint8_t cookie[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* after MSS, SACK-permitted, TS and window scale: "FO cookie,nop,nop" */
    sk_out_opts o = {.syn = true, .mss = 1460, .ws = true, .wscale = 8, .sack_perm = true, .ts = true,
                     .fo = true, .fo_len = 8, .fo_cookie = cookie};
    size_t n = sk_build_options(&o, buf);
    assert_int_equal(n, 32);
    assert_memory_equal(buf + 20, "\x22\x0a\x01\x02\x03\x04\x05\x06\x07\x08\x01\x01", 12);
    /* a cookie request: kind 34 length 2, then nop,nop */
    sk_out_opts r = {.syn = true, .mss = 1460, .fo = true};
    n = sk_build_options(&r, buf);
    assert_int_equal(n, 8);
    assert_memory_equal(buf + 4, "\x22\x02\x01\x01", 4);
    /* the experimental encoding: kind 254, length, magic 0xF989, cookie */
    sk_out_opts e = {.syn = true, .mss = 1460, .fo = true, .fo_exp = true, .fo_len = 8, .fo_cookie = cookie};
    n = sk_build_options(&e, buf);
    assert_int_equal(n, 16);
    assert_memory_equal(buf + 4, "\xfe\x0c\xf9\x89\x01\x02\x03\x04\x05\x06\x07\x08", 12);
    /* every encoding read back is what was written */
    sk_tcp_opts back;
    assert_true(sk_parse_options(buf, n, &back));
    assert_int_equal(back.fo_len, 8);
    assert_true(back.fo_exp);
    assert_memory_equal(back.fo_cookie, cookie, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_is_linuxs),
        cmocka_unit_test(test_option_parsing_as_linux),
        cmocka_unit_test(test_option_writing_as_linux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
