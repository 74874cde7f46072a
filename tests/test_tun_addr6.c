/*
 * The address syntax of the TUN tools (src/io/tun.c) for IPv6: --addr6
 * ADDR/N, a peer as [ADDR]:PORT (curl's and ss's form), and the text an
 * endpoint's address prints as.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "synack-io/tun.h"

static void test_parse_ipv6_prefix(void **state)
{
    (void)state;
    uint8_t a[16];
    int p = -1;
    char err[200];
    assert_int_equal(sk_parse_ipv6_prefix("fd77::2/64", a, &p, err, sizeof(err)), 0);
    static const uint8_t want[16] = {0xfd, 0x77, [15] = 2};
    assert_memory_equal(a, want, 16);
    assert_int_equal(p, 64);
    assert_int_equal(sk_parse_ipv6_prefix("2001:db8::1", a, &p, err, sizeof(err)), 0);
    assert_int_equal(p, 128);

    assert_int_equal(sk_parse_ipv6_prefix("fd77::2/129", a, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address 'fd77::2/129': the prefix length after '/' must be 0 to 128");
    assert_int_equal(sk_parse_ipv6_prefix("fd77::g", a, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address 'fd77::g': expected an IPv6 address like fd77::2/64");
    assert_int_equal(sk_parse_ipv6_prefix("10.77.0.2/24", a, &p, err, sizeof(err)), -EINVAL);
    /* Not a host's own address: unspecified, loopback, multicast, v4-mapped. */
    const char *bad[] = {"::/64", "::1", "ff02::1", "::ffff:10.0.0.1"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sk_parse_ipv6_prefix(bad[i], a, &p, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "not a unicast host address"));
    }
    assert_int_equal(sk_parse_ipv6_prefix(NULL, a, &p, err, sizeof(err)), -EINVAL);
}

static void test_parse_endpoint(void **state)
{
    (void)state;
    sk_endpoint ep;
    char err[200];
    assert_int_equal(sk_parse_endpoint("[fd77::1]:8000", &ep, err, sizeof(err)), 0);
    assert_int_equal(ep.family, SK_AF_INET6);
    static const uint8_t want[16] = {0xfd, 0x77, [15] = 1};
    assert_memory_equal(ep.addr6, want, 16);
    assert_int_equal(ep.port, 8000);
    /* IPv4 as before. */
    assert_int_equal(sk_parse_endpoint("10.77.0.1:8080", &ep, err, sizeof(err)), 0);
    assert_int_equal(ep.family, SK_AF_INET);
    assert_int_equal(ep.addr, 0x0a4d0001u);

    assert_int_equal(sk_parse_endpoint("[fd77::1]", &ep, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '[fd77::1]': expected [IPV6ADDRESS]:PORT like [fd77::1]:8080");
    assert_int_equal(sk_parse_endpoint("[fd77::1]:0", &ep, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '[fd77::1]:0': the port must be 1 to 65535");
    assert_int_equal(sk_parse_endpoint("[nope]:80", &ep, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '[nope]:80': 'nope' is not an IPv6 address");
    assert_int_equal(sk_parse_endpoint("[]:80", &ep, err, sizeof(err)), -EINVAL);
    /* Unbracketed IPv6 is read as IPv4 text and refused, as curl needs
     * the brackets too. */
    assert_int_equal(sk_parse_endpoint("fd77::1:80", &ep, err, sizeof(err)), -EINVAL);
}

static void test_format_addr(void **state)
{
    (void)state;
    char buf[64];
    /* RFC 5952 §4.2.3: of two equal runs of zero groups, the first is
     * the one shortened. */
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [9] = 1, [15] = 1};
    sk_endpoint ep = sk_endpoint_ipv6(a, 80);
    sk_format_addr(&ep, buf, sizeof(buf));
    assert_string_equal(buf, "2001:db8::1:0:0:1");
    uint8_t m[16] = {[10] = 0xff, [11] = 0xff, [12] = 10, [13] = 77, [15] = 1};
    ep = sk_endpoint_ipv6(m, 80);
    sk_format_addr(&ep, buf, sizeof(buf));
    assert_string_equal(buf, "::ffff:10.77.0.1");
    ep = sk_endpoint_ipv4(0x0a4d0002u, 80);
    sk_format_addr(&ep, buf, sizeof(buf));
    assert_string_equal(buf, "10.77.0.2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ipv6_prefix),
        cmocka_unit_test(test_parse_endpoint),
        cmocka_unit_test(test_format_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
