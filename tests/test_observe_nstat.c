/*
 * nstat, netstat -s and sysctl for synack (src/observe/nstat.c,
 * sysctl.c): exact text for fixed counter sets and a real stack.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "observe/nstat.h"
#include "observe/sysctl.h"
#include "synack-io/memwire.h"

#define ASSERT_TEXT(got, expected)                                                                              \
    do {                                                                                                        \
        if (strcmp((got), (expected)) != 0)                                                                     \
            fail_msg("--- got ---\n%s--- expected ---\n%s", (got), (expected));                                \
    } while (0)

static void small_set(sk_counter_set *s, uint64_t active, uint64_t passive, uint64_t tw)
{
    sk_counter_set_init(s);
    assert_int_equal(sk_counter_set_add(s, "Tcp", "ActiveOpens", active), 0);
    assert_int_equal(sk_counter_set_add(s, "Tcp", "PassiveOpens", passive), 0);
    assert_int_equal(sk_counter_set_add(s, "Tcp", "CurrEstab", 0), 0);
    assert_int_equal(sk_counter_set_add(s, "TcpExt", "TW", tw), 0);
    assert_int_equal(sk_counter_set_add(s, "TcpExt", "TCPTimeouts", 3), 0);
    assert_int_equal(sk_counter_set_add(s, "Synack", "OutOfWindow", 0), 0);
    snprintf(s->instance, sizeof(s->instance), "pid=1 started=1.000000000");
}

static char *nstat_text(const sk_counter_set *cur, const sk_counter_set *prev, unsigned flags, const char *pattern)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    char *patterns[1] = {(char *)pattern};
    sk_nstat_print(f, cur, prev, flags, patterns, pattern ? 1 : 0);
    fclose(f);
    return out;
}

/* nstat -a: "#kernel", then %-32s%-16llu%6.1f rows, zeros left out. */
static void test_nstat_absolute(void **state)
{
    (void)state;
    sk_counter_set cur;
    small_set(&cur, 5, 1, 1);
    char *got = nstat_text(&cur, NULL, 0, NULL);
    ASSERT_TEXT(got, "#kernel\n"
                     "TcpActiveOpens                  5                  0.0\n"
                     "TcpPassiveOpens                 1                  0.0\n"
                     "TcpExtTW                        1                  0.0\n"
                     "TcpExtTCPTimeouts               3                  0.0\n");
    free(got);
    got = nstat_text(&cur, NULL, SK_NSTAT_ZEROS, NULL);
    ASSERT_TEXT(got, "#kernel\n"
                     "TcpActiveOpens                  5                  0.0\n"
                     "TcpPassiveOpens                 1                  0.0\n"
                     "TcpCurrEstab                    0                  0.0\n"
                     "TcpExtTW                        1                  0.0\n"
                     "TcpExtTCPTimeouts               3                  0.0\n"
                     "SynackOutOfWindow               0                  0.0\n");
    free(got);
    sk_counter_set_free(&cur);
}

/* Deltas since the history: unchanged counters vanish unless -z; a
 * counter the history lacks counts from 0; one that went backwards (the
 * process restarted) shows its whole value. */
static void test_nstat_deltas(void **state)
{
    (void)state;
    sk_counter_set prev, cur;
    small_set(&prev, 3, 1, 1);
    prev.n--; /* no Synack row in the history */
    small_set(&cur, 5, 1, 0);
    assert_int_equal(sk_counter_set_add(&cur, "Synack", "RstIgnored", 2), 0);
    char *got = nstat_text(&cur, &prev, 0, NULL);
    ASSERT_TEXT(got, "#kernel\n"
                     "TcpActiveOpens                  2                  0.0\n"
                     "SynackRstIgnored                2                  0.0\n");
    free(got);
    got = nstat_text(&cur, &prev, SK_NSTAT_ZEROS, NULL);
    ASSERT_TEXT(got, "#kernel\n"
                     "TcpActiveOpens                  2                  0.0\n"
                     "TcpPassiveOpens                 0                  0.0\n"
                     "TcpCurrEstab                    0                  0.0\n"
                     "TcpExtTW                        0                  0.0\n"
                     "TcpExtTCPTimeouts               0                  0.0\n"
                     "SynackOutOfWindow               0                  0.0\n"
                     "SynackRstIgnored                2                  0.0\n");
    free(got);
    /* No change at all: the header alone, as nstat prints it. */
    got = nstat_text(&prev, &prev, 0, NULL);
    ASSERT_TEXT(got, "#kernel\n");
    free(got);
    sk_counter_set_free(&prev);
    sk_counter_set_free(&cur);
}

static void test_nstat_patterns_and_json(void **state)
{
    (void)state;
    sk_counter_set cur;
    small_set(&cur, 5, 1, 1);
    char *got = nstat_text(&cur, NULL, SK_NSTAT_ZEROS, "TcpExt*");
    ASSERT_TEXT(got, "#kernel\n"
                     "TcpExtTW                        1                  0.0\n"
                     "TcpExtTCPTimeouts               3                  0.0\n");
    free(got);
    got = nstat_text(&cur, NULL, SK_NSTAT_JSON, NULL);
    ASSERT_TEXT(got, "{\"kernel\":{\"TcpActiveOpens\":5,\"TcpPassiveOpens\":1,\"TcpExtTW\":1,\"TcpExtTCPTimeouts\":3}}\n");
    free(got);
    got = nstat_text(&cur, &cur, SK_NSTAT_JSON, NULL);
    ASSERT_TEXT(got, "{\"kernel\":{}}\n");
    free(got);
    sk_counter_set_free(&cur);
}

/* What the control socket sends and the history keeps reads back. */
static void test_counter_set_round_trip(void **state)
{
    (void)state;
    sk_counter_set a, b;
    small_set(&a, 5, 1, 1);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sk_counter_set_write(f, &a);
    fclose(f);
    ASSERT_TEXT(text, "#synack pid=1 started=1.000000000\n"
                      "Tcp ActiveOpens 5\nTcp PassiveOpens 1\nTcp CurrEstab 0\nTcpExt TW 1\nTcpExt TCPTimeouts 3\n"
                      "Synack OutOfWindow 0\n");
    sk_counter_set_init(&b);
    char err[128];
    f = fmemopen(text, len, "r");
    assert_int_equal(sk_counter_set_read(f, &b, err, sizeof(err)), 0);
    fclose(f);
    assert_string_equal(b.instance, "pid=1 started=1.000000000");
    assert_int_equal(b.n, 6);
    assert_int_equal(sk_counter_set_get(&b, "TcpActiveOpens", 99), 5);
    assert_int_equal(sk_counter_set_get(&b, "TcpExtTW", 99), 1);
    assert_int_equal(sk_counter_set_get(&b, "TcpExtNope", 99), 99);
    sk_counter_set_free(&b);
    free(text);

    static const char bad[] = "#synack x\nTcp ActiveOpens five\n";
    sk_counter_set_init(&b);
    f = fmemopen((void *)bad, sizeof(bad) - 1, "r");
    assert_int_equal(sk_counter_set_read(f, &b, err, sizeof(err)), -EINVAL);
    fclose(f);
    assert_string_equal(err, "line 2 is not 'Group Name Value': Tcp ActiveOpens five");
    sk_counter_set_free(&b);
    sk_counter_set_free(&a);
}

static sk_stack *fresh_stack(sk_wire **wire)
{
    *wire = sk_wire_new(1, 1000 * SK_NSEC_PER_SEC);
    assert_non_null(*wire);
    sk_stack *s = sk_wire_add_host(*wire, 0x0a000002u, NULL);
    assert_non_null(s);
    return s;
}

/* nstat's order: /proc/net/snmp's Ip, Icmp, IcmpMsg and Tcp, then /proc/net/netstat's
 * TcpExt and IpExt, then synack's own drop reasons. */
static void test_counters_from_a_stack_in_nstat_order(void **state)
{
    (void)state;
    sk_wire *w;
    sk_stack *s = fresh_stack(&w);
    sk_counter_set cs;
    sk_counter_set_init(&cs);
    assert_int_equal(sk_counter_set_from_stack(&cs, s, "test"), 0);
    size_t total = 0;
    const char *group;
    while (sk_counter_name(total, &group))
        total++;
    assert_int_equal(cs.n, total);
    static const char *const order[] = {"Ip", "Icmp", "IcmpMsg", "Tcp", "TcpExt", "IpExt", "Ip6", "Icmp6", "Synack"};
    size_t g = 0;
    for (size_t i = 0; i < cs.n; i++) {
        while (g < 9 && strcmp(cs.rows[i].group, order[g]))
            g++;
        if (g == 9)
            fail_msg("row %zu (%s%s) out of nstat's group order", i, cs.rows[i].group, cs.rows[i].name);
    }
    assert_string_equal(cs.rows[0].group, "Ip");
    assert_string_equal(cs.rows[0].name, "InReceives");
    sk_counter_set_free(&cs);
    sk_wire_free(w);
}

static void test_netstat_s_wording(void **state)
{
    (void)state;
    sk_counter_set s;
    sk_counter_set_init(&s);
    sk_counter_set_add(&s, "Ip", "InReceives", 12);
    sk_counter_set_add(&s, "Ip", "InHdrErrors", 0);
    sk_counter_set_add(&s, "Ip", "InDiscards", 0);
    sk_counter_set_add(&s, "Ip", "InDelivers", 11);
    sk_counter_set_add(&s, "Ip", "OutRequests", 10);
    sk_counter_set_add(&s, "Ip", "OutDiscards", 2);
    sk_counter_set_add(&s, "Tcp", "ActiveOpens", 5);
    sk_counter_set_add(&s, "Tcp", "PassiveOpens", 1);
    sk_counter_set_add(&s, "Tcp", "AttemptFails", 0);
    sk_counter_set_add(&s, "Tcp", "EstabResets", 0);
    sk_counter_set_add(&s, "Tcp", "CurrEstab", 1);
    sk_counter_set_add(&s, "Tcp", "InSegs", 30);
    sk_counter_set_add(&s, "Tcp", "OutSegs", 31);
    sk_counter_set_add(&s, "Tcp", "RetransSegs", 0);
    sk_counter_set_add(&s, "Tcp", "InErrs", 0);
    sk_counter_set_add(&s, "Tcp", "OutRsts", 3);
    sk_counter_set_add(&s, "Tcp", "InCsumErrors", 1);
    sk_counter_set_add(&s, "TcpExt", "SyncookiesSent", 0);
    sk_counter_set_add(&s, "TcpExt", "TW", 4);
    sk_counter_set_add(&s, "TcpExt", "DelayedACKs", 2);
    sk_counter_set_add(&s, "TcpExt", "TCPTimeouts", 1);
    sk_counter_set_add(&s, "TcpExt", "TCPAbortOnData", 1);
    sk_counter_set_add(&s, "IpExt", "InCsumErrors", 0);
    sk_counter_set_add(&s, "Synack", "OutOfWindow", 6);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    sk_netstat_print(f, &s);
    fclose(f);
    ASSERT_TEXT(out, "Ip:\n"
                     "    12 total packets received\n"
                     "    0 incoming packets discarded\n"
                     "    11 incoming packets delivered\n"
                     "    10 requests sent out\n"
                     "    2 outgoing packets dropped\n"
                     "Tcp:\n"
                     "    5 active connection openings\n"
                     "    1 passive connection openings\n"
                     "    0 failed connection attempts\n"
                     "    0 connection resets received\n"
                     "    1 connections established\n"
                     "    30 segments received\n"
                     "    31 segments sent out\n"
                     "    0 segments retransmitted\n"
                     "    0 bad segments received\n"
                     "    3 resets sent\n"
                     "    InCsumErrors: 1\n"
                     "TcpExt:\n"
                     "    4 TCP sockets finished time wait in fast timer\n"
                     "    2 delayed acks sent\n"
                     "    TCPTimeouts: 1\n"
                     "    1 connections reset due to unexpected data\n"
                     "IpExt:\n"
                     "Synack:\n"
                     "    OutOfWindow: 6\n");
    free(out);
    sk_counter_set_free(&s);
}

static int sysctl_text(sk_stack *s, const char *args, char **out, char **err)
{
    char buf[256];
    char *argv[16];
    int argc = 0;
    argv[argc++] = "sysctl";
    snprintf(buf, sizeof(buf), "%s", args);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    size_t ol = 0, el = 0;
    FILE *o = open_memstream(out, &ol), *e = open_memstream(err, &el);
    int rc = sk_sysctl_run(s, argc, argv, o, e);
    fclose(o);
    fclose(e);
    return rc;
}

static void test_sysctl(void **state)
{
    (void)state;
    sk_wire *w;
    sk_stack *s = fresh_stack(&w);
    char *out, *err;

    assert_int_equal(sysctl_text(s, "net.ipv4.tcp_fin_timeout net.ipv4.tcp_rmem", &out, &err), 0);
    ASSERT_TEXT(out, "net.ipv4.tcp_fin_timeout = 60\nnet.ipv4.tcp_rmem = 4096\t131072\t33554432\n");
    ASSERT_TEXT(err, "");
    free(out), free(err);

    assert_int_equal(sysctl_text(s, "-n net/ipv4/tcp_syn_retries", &out, &err), 0);
    ASSERT_TEXT(out, "6\n");
    free(out), free(err);

    assert_int_equal(sysctl_text(s, "-w net.ipv4.tcp_fin_timeout=30", &out, &err), 0);
    ASSERT_TEXT(out, "net.ipv4.tcp_fin_timeout = 30\n");
    free(out), free(err);
    char v[32];
    assert_int_equal(sk_sysctl_get(s, "net.ipv4.tcp_fin_timeout", v, sizeof(v)), 0);
    assert_string_equal(v, "30");

    /* NAME=VALUE without -w writes too, as procps sysctl does. */
    assert_int_equal(sysctl_text(s, "net.ipv4.tcp_keepalive_time=600", &out, &err), 0);
    ASSERT_TEXT(out, "net.ipv4.tcp_keepalive_time = 600\n");
    free(out), free(err);

    /* The engine's validation message, verbatim, and a failing status. */
    char expected_msg[256];
    sk_sysctl_set(s, "net.ipv4.tcp_fin_timeout", "abc", expected_msg, sizeof(expected_msg));
    char expected_err[300];
    snprintf(expected_err, sizeof(expected_err), "sysctl: %s\n", expected_msg);
    assert_int_equal(sysctl_text(s, "-w net.ipv4.tcp_fin_timeout=abc", &out, &err), 1);
    ASSERT_TEXT(out, "");
    ASSERT_TEXT(err, expected_err);
    free(out), free(err);
    assert_int_equal(sk_sysctl_get(s, "net.ipv4.tcp_fin_timeout", v, sizeof(v)), 0);
    assert_string_equal(v, "30");

    assert_int_equal(sysctl_text(s, "net.ipv4.tcp_nope", &out, &err), 1);
    ASSERT_TEXT(err,
                "sysctl: unknown name 'net.ipv4.tcp_nope': synack has no such tunable (`synack sysctl -a` lists them)\n");
    free(out), free(err);
    assert_int_equal(sysctl_text(s, "-w net.ipv4.tcp_fin_timeout", &out, &err), 1);
    ASSERT_TEXT(err, "sysctl: \"net.ipv4.tcp_fin_timeout\" must be of the form name=value\n");
    free(out), free(err);

    /* -a: every tunable, in sk_sysctl_name order, as "name = value". */
    assert_int_equal(sysctl_text(s, "-a", &out, &err), 0);
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    size_t names = 0;
    while (sk_sysctl_name(names))
        names++;
    assert_int_equal(lines, names);
    char first[160];
    assert_int_equal(sk_sysctl_get(s, sk_sysctl_name(0), v, sizeof(v)), 0);
    snprintf(first, sizeof(first), "%s = %s\n", sk_sysctl_name(0), v);
    assert_memory_equal(out, first, strlen(first));
    assert_non_null(strstr(out, "\nnet.ipv4.tcp_fin_timeout = 30\n"));
    free(out), free(err);

    assert_int_equal(sysctl_text(s, "--json net.ipv4.tcp_fin_timeout net.ipv4.tcp_wmem", &out, &err), 0);
    ASSERT_TEXT(out, "{\"net.ipv4.tcp_fin_timeout\":\"30\",\"net.ipv4.tcp_wmem\":\"4096\\t16384\\t4194304\"}\n");
    free(out), free(err);
    sk_wire_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nstat_absolute),
        cmocka_unit_test(test_nstat_deltas),
        cmocka_unit_test(test_nstat_patterns_and_json),
        cmocka_unit_test(test_counter_set_round_trip),
        cmocka_unit_test(test_counters_from_a_stack_in_nstat_order),
        cmocka_unit_test(test_netstat_s_wording),
        cmocka_unit_test(test_sysctl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
