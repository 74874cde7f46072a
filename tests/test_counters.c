/*
 * Counter names: Linux's MIB spelling, one known group each, no two alike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "counters.h"

static void test_names_match_linux_spelling(void **state)
{
    assert_string_equal(sk_counter_group(SK_C_IP_IN_RECEIVES), "Ip");
    assert_string_equal(sk_counter_short_name(SK_C_IP_IN_RECEIVES), "InReceives");
    assert_string_equal(sk_counter_group(SK_C_TCP_ACTIVE_OPENS), "Tcp");
    assert_string_equal(sk_counter_short_name(SK_C_TCP_ACTIVE_OPENS), "ActiveOpens");
    assert_string_equal(sk_counter_group(SK_C_TCP_IN_CSUM_ERRORS), "Tcp");
    assert_string_equal(sk_counter_short_name(SK_C_TCP_IN_CSUM_ERRORS), "InCsumErrors");
    assert_string_equal(sk_counter_group(SK_C_IPEXT_IN_CSUM_ERRORS), "IpExt");
    assert_string_equal(sk_counter_short_name(SK_C_IPEXT_IN_CSUM_ERRORS), "InCsumErrors");
    assert_string_equal(sk_counter_group(SK_C_TCPEXT_TW), "TcpExt");
    assert_string_equal(sk_counter_short_name(SK_C_TCPEXT_TW), "TW");
    assert_string_equal(sk_counter_short_name(SK_C_TCPEXT_LISTEN_OVERFLOWS), "ListenOverflows");
    assert_string_equal(sk_counter_short_name(SK_C_TCPEXT_TCP_TIME_WAIT_OVERFLOW), "TCPTimeWaitOverflow");
    assert_string_equal(sk_counter_short_name(SK_C_TCPEXT_PAWS_ESTAB), "PAWSEstab");
    assert_string_equal(sk_counter_group(SK_C_SYNACK_ORPHAN_OVERFLOW), "Synack");
    assert_string_equal(sk_counter_short_name(SK_C_SYNACK_ORPHAN_OVERFLOW), "OrphanOverflow");
}

static void test_first_and_last_in_table_order(void **state)
{
    assert_int_equal(SK_C_IP_IN_RECEIVES, 0);
    assert_string_equal(sk_counter_short_name((sk_counter_id)0), "InReceives");
    assert_string_equal(sk_counter_short_name((sk_counter_id)(SK_C__COUNT - 1)), "OrphanOverflow");
}

static void test_every_counter_named_in_a_known_group(void **state)
{
    static const char *const groups[] = {"Ip", "IpExt", "Icmp", "IcmpMsg", "Ip6", "Icmp6", "Tcp", "TcpExt", "Synack"};
    for (int id = 0; id < SK_C__COUNT; id++) {
        const char *group = sk_counter_group((sk_counter_id)id);
        const char *name = sk_counter_short_name((sk_counter_id)id);
        assert_non_null(group);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        size_t known = 0;
        for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
            known += strcmp(group, groups[g]) == 0;
        assert_int_equal(known, 1);
    }
}

/* Unique as nstat prints them: group and name concatenated ("TcpExtTW"). */
static void test_every_name_is_unique(void **state)
{
    for (int a = 0; a < SK_C__COUNT; a++) {
        for (int b = a + 1; b < SK_C__COUNT; b++) {
            char name_a[96], name_b[96];
            snprintf(name_a, sizeof(name_a), "%s%s", sk_counter_group((sk_counter_id)a),
                     sk_counter_short_name((sk_counter_id)a));
            snprintf(name_b, sizeof(name_b), "%s%s", sk_counter_group((sk_counter_id)b),
                     sk_counter_short_name((sk_counter_id)b));
            if (strcmp(name_a, name_b) == 0)
                fail_msg("counters %d and %d are both %s", a, b, name_a);
        }
    }
}

static void test_out_of_range_id_has_no_name(void **state)
{
    assert_null(sk_counter_group(SK_C__COUNT));
    assert_null(sk_counter_short_name(SK_C__COUNT));
    assert_null(sk_counter_group((sk_counter_id)-1));
    assert_null(sk_counter_short_name((sk_counter_id)1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_match_linux_spelling),
        cmocka_unit_test(test_first_and_last_in_table_order),
        cmocka_unit_test(test_every_counter_named_in_a_known_group),
        cmocka_unit_test(test_every_name_is_unique),
        cmocka_unit_test(test_out_of_range_id_has_no_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
