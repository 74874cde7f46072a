/*
 * Tunables: Linux's names and defaults, printed as /proc/sys prints them,
 * sysctl(8)-style parsing, and every rejection with its errno and message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

/* What `sysctl NAME` prints on Linux 6.x for each exported tunable. */
static const struct {
    const char *name;
    const char *value;
} linux_defaults[] = {
    {"net.core.somaxconn", "4096"},
    {"net.ipv4.icmp_echo_ignore_all", "0"},
    {"net.ipv4.icmp_msgs_burst", "50"},
    {"net.ipv4.icmp_msgs_per_sec", "1000"},
    {"net.ipv4.icmp_ratelimit", "1000"},
    {"net.ipv4.icmp_ratemask", "6168"},
    {"net.ipv4.ip_local_port_range", "32768\t60999"},
    {"net.ipv4.ip_no_pmtu_disc", "0"},
    {"net.ipv4.route.min_pmtu", "552"},
    {"net.ipv4.route.mtu_expires", "600"},
    {"net.ipv4.tcp_abort_on_overflow", "0"},
    {"net.ipv4.tcp_adv_win_scale", "1"},
    {"net.ipv4.tcp_allowed_congestion_control", "reno cubic"},
    {"net.ipv4.tcp_app_win", "31"},
    {"net.ipv4.tcp_autocorking", "1"},
    {"net.ipv4.tcp_available_congestion_control", "reno cubic"},
    {"net.ipv4.tcp_base_mss", "1024"},
    {"net.ipv4.tcp_challenge_ack_limit", "2147483647"},
    {"net.ipv4.tcp_congestion_control", "cubic"},
    {"net.ipv4.tcp_dsack", "1"},
    {"net.ipv4.tcp_ecn", "2"},
    {"net.ipv4.tcp_fastopen", "1"},
    {"net.ipv4.tcp_fastopen_blackhole_timeout_sec", "0"},
    {"net.ipv4.tcp_fastopen_key", "00000000-00000000-00000000-00000000"},
    {"net.ipv4.tcp_fin_timeout", "60"},
    {"net.ipv4.tcp_invalid_ratelimit", "500"},
    {"net.ipv4.tcp_keepalive_intvl", "75"},
    {"net.ipv4.tcp_keepalive_probes", "9"},
    {"net.ipv4.tcp_keepalive_time", "7200"},
    {"net.ipv4.tcp_max_orphans", "131072"},
    {"net.ipv4.tcp_max_syn_backlog", "2048"},
    {"net.ipv4.tcp_max_tw_buckets", "131072"},
    {"net.ipv4.tcp_min_snd_mss", "48"},
    {"net.ipv4.tcp_min_tso_segs", "2"},
    {"net.ipv4.tcp_moderate_rcvbuf", "1"},
    {"net.ipv4.tcp_mtu_probe_floor", "48"},
    {"net.ipv4.tcp_mtu_probing", "0"},
    {"net.ipv4.tcp_notsent_lowat", "4294967295"},
    {"net.ipv4.tcp_orphan_retries", "0"},
    {"net.ipv4.tcp_probe_interval", "600"},
    {"net.ipv4.tcp_probe_threshold", "8"},
    {"net.ipv4.tcp_reordering", "3"},
    {"net.ipv4.tcp_retries1", "3"},
    {"net.ipv4.tcp_retries2", "15"},
    {"net.ipv4.tcp_rfc1337", "0"},
    {"net.ipv4.tcp_rmem", "4096\t131072\t33554432"},
    {"net.ipv4.tcp_rto_max_ms", "120000"},
    {"net.ipv4.tcp_rto_min_us", "200000"},
    {"net.ipv4.tcp_sack", "1"},
    {"net.ipv4.tcp_slow_start_after_idle", "1"},
    {"net.ipv4.tcp_syn_retries", "6"},
    {"net.ipv4.tcp_synack_retries", "5"},
    {"net.ipv4.tcp_syncookies", "1"},
    {"net.ipv4.tcp_timestamps", "1"},
    {"net.ipv4.tcp_tso_win_divisor", "3"},
    {"net.ipv4.tcp_tw_reuse", "2"},
    {"net.ipv4.tcp_tw_reuse_delay", "1000"},
    {"net.ipv4.tcp_window_scaling", "1"},
    {"net.ipv4.tcp_wmem", "4096\t16384\t4194304"},
    {"net.ipv6.auto_flowlabels", "1"},
    {"net.ipv6.bindv6only", "0"},
};
#define LINUX_DEFAULTS (sizeof(linux_defaults) / sizeof(linux_defaults[0]))

static void test_every_default_prints_as_linux(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    char buf[64];
    for (size_t i = 0; i < LINUX_DEFAULTS; i++) {
        assert_int_equal(sk_config_get(&c, linux_defaults[i].name, buf, sizeof(buf)), 0);
        assert_string_equal(buf, linux_defaults[i].value);
    }
}

/* The exported names are exactly the table above, in strcmp order. */
static void test_names_are_exported_sorted_and_complete(void **state)
{
    size_t n = 0;
    while (sk_config_name(n))
        n++;
    assert_int_equal(n, LINUX_DEFAULTS);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(sk_config_name(i), linux_defaults[i].name);
        if (i > 0)
            assert_true(strcmp(sk_config_name(i - 1), sk_config_name(i)) < 0);
    }
    assert_null(sk_config_name(n));
    assert_null(sk_config_name(SIZE_MAX));
}

/* tcp_fastopen is read in any base as proc_dointvec reads it (scripts
 * write 0x70403); tcp_fastopen_key prints and takes Linux's text, the
 * words little-endian in the key bytes (TCP_FASTOPEN_KEY's layout). */
static void test_fastopen_sysctls(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    char buf[128], err[128];
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen", "0x70403", err, sizeof err), 0);
    assert_int_equal(c.tcp_fastopen, 0x70403);
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_fastopen", buf, sizeof buf), 0);
    assert_string_equal(buf, "459779");
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen", "0x", err, sizeof err), -EINVAL);
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen", "-1", err, sizeof err), -EINVAL);
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen_key", "a0bf63f7-ed803d81-cd641d30-cebc4a90", err,
                                   sizeof err), 0);
    static const uint8_t want[16] = {0xf7, 0x63, 0xbf, 0xa0, 0x81, 0x3d, 0x80, 0xed,
                                     0x30, 0x1d, 0x64, 0xcd, 0x90, 0x4a, 0xbc, 0xce};
    assert_int_equal(c.tcp_fastopen_key_count, 1);
    assert_memory_equal(c.tcp_fastopen_key[0], want, 16);
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_fastopen_key", buf, sizeof buf), 0);
    assert_string_equal(buf, "a0bf63f7-ed803d81-cd641d30-cebc4a90");
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen_key",
                                   "1-2-3-4,a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4", err, sizeof err), 0);
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_fastopen_key", buf, sizeof buf), 0);
    assert_string_equal(buf, "00000001-00000002-00000003-00000004,a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4");
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen_key", "1-2-3", err, sizeof err), -EINVAL);
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen_key", "1-2-3-4,5-6-7-8,9-a-b-c", err, sizeof err),
                     -EINVAL);
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_fastopen_key", "123456789-2-3-4", err, sizeof err), -EINVAL);
    /* a refused value leaves the keys as they were */
    assert_int_equal(c.tcp_fastopen_key_count, 2);
}

static void test_struct_defaults(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    assert_int_equal(c.tcp_notsent_lowat, -1);
    assert_int_equal(c.ip_local_port_range[0], 32768);
    assert_int_equal(c.ip_local_port_range[1], 60999);
    assert_int_equal(c.tcp_rmem[2], 33554432);
    assert_string_equal(c.tcp_congestion_control, "cubic");
    /* synack's own delayed-ACK floor: kept, but Linux has no such sysctl. */
    assert_int_equal(c.tcp_delack_min_ms, 40);
    char buf[64], err[128];
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_delack_min_ms", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_delack_min", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_delack_min", "10", err, sizeof(err)), -ENOENT);
    assert_int_equal(c.tcp_delack_min_ms, 40);
}

/* ------------------------------------------------------------------ */

static void set_ok(sk_config *c, const char *name, const char *value)
{
    char err[128] = "untouched";
    assert_int_equal(sk_config_set(c, name, value, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

static void assert_get(const sk_config *c, const char *name, const char *expected)
{
    char buf[64];
    assert_int_equal(sk_config_get(c, name, buf, sizeof(buf)), 0);
    assert_string_equal(buf, expected);
}

static void test_set_get_round_trips(void **state)
{
    sk_config c;
    sk_config_defaults(&c);

    set_ok(&c, "net.ipv4.tcp_fin_timeout", "30");
    assert_int_equal(c.tcp_fin_timeout, 30);
    assert_get(&c, "net.ipv4.tcp_fin_timeout", "30");

    set_ok(&c, "net.core.somaxconn", "0");
    assert_int_equal(c.somaxconn, 0);
    assert_get(&c, "net.core.somaxconn", "0");

    set_ok(&c, "net.ipv4.tcp_syncookies", "2");
    assert_int_equal(c.tcp_syncookies, 2);
    set_ok(&c, "net.ipv4.tcp_tw_reuse", "0");
    assert_int_equal(c.tcp_tw_reuse, 0);
    set_ok(&c, "net.ipv4.tcp_adv_win_scale", "-2");
    assert_int_equal(c.tcp_adv_win_scale, -2);
    assert_get(&c, "net.ipv4.tcp_adv_win_scale", "-2");
    set_ok(&c, "net.ipv4.tcp_challenge_ack_limit", "2147483647");
    assert_int_equal(c.tcp_challenge_ack_limit, 2147483647);

    set_ok(&c, "net.ipv4.ip_local_port_range", "1024 65535");
    assert_int_equal(c.ip_local_port_range[0], 1024);
    assert_int_equal(c.ip_local_port_range[1], 65535);
    assert_get(&c, "net.ipv4.ip_local_port_range", "1024\t65535");
    set_ok(&c, "net.ipv4.ip_local_port_range", "40000 40000");
    assert_get(&c, "net.ipv4.ip_local_port_range", "40000\t40000");

    set_ok(&c, "net.ipv4.tcp_rmem", "8192 87380 6291456");
    assert_int_equal(c.tcp_rmem[0], 8192);
    assert_int_equal(c.tcp_rmem[1], 87380);
    assert_int_equal(c.tcp_rmem[2], 6291456);
    assert_get(&c, "net.ipv4.tcp_rmem", "8192\t87380\t6291456");
    set_ok(&c, "net.ipv4.tcp_wmem", "1 1 1");
    assert_get(&c, "net.ipv4.tcp_wmem", "1\t1\t1");

    set_ok(&c, "net.ipv4.tcp_congestion_control", "reno");
    assert_string_equal(c.tcp_congestion_control, "reno");
    assert_get(&c, "net.ipv4.tcp_congestion_control", "reno");
    set_ok(&c, "net.ipv4.tcp_congestion_control", "reno\n");
    assert_get(&c, "net.ipv4.tcp_congestion_control", "reno");
    set_ok(&c, "net.ipv4.tcp_congestion_control", "cubic");
    assert_get(&c, "net.ipv4.tcp_congestion_control", "cubic");

    set_ok(&c, "net.ipv4.tcp_rto_max_ms", "1000");
    assert_int_equal(c.tcp_rto_max_ms, 1000);
    set_ok(&c, "net.ipv4.tcp_tw_reuse_delay", "60000");
    assert_int_equal(c.tcp_tw_reuse_delay, 60000);
    set_ok(&c, "net.ipv4.tcp_syn_retries", "127");
    assert_int_equal(c.tcp_syn_retries, 127);
}

/* tcp_notsent_lowat is an unsigned int in Linux; the int field holds its
 * bit pattern, -1 meaning unlimited. */
static void test_notsent_lowat_is_unsigned(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    set_ok(&c, "net.ipv4.tcp_notsent_lowat", "16384");
    assert_int_equal(c.tcp_notsent_lowat, 16384);
    assert_get(&c, "net.ipv4.tcp_notsent_lowat", "16384");
    set_ok(&c, "net.ipv4.tcp_notsent_lowat", "3000000000");
    assert_int_equal((uint32_t)c.tcp_notsent_lowat, 3000000000u);
    assert_get(&c, "net.ipv4.tcp_notsent_lowat", "3000000000");
    set_ok(&c, "net.ipv4.tcp_notsent_lowat", "4294967295");
    assert_int_equal(c.tcp_notsent_lowat, -1);
    assert_get(&c, "net.ipv4.tcp_notsent_lowat", "4294967295");

    char err[128];
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_notsent_lowat", "-1", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "net.ipv4.tcp_notsent_lowat: value -1 out of range 0..4294967295");
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_notsent_lowat", "4294967296", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "net.ipv4.tcp_notsent_lowat: value 4294967296 out of range 0..4294967295");
    assert_int_equal(c.tcp_notsent_lowat, -1);
}

static void test_slash_form_names(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    set_ok(&c, "net/ipv4/tcp_fin_timeout", "15");
    assert_int_equal(c.tcp_fin_timeout, 15);
    assert_get(&c, "net/ipv4/tcp_fin_timeout", "15");
    assert_get(&c, "net.ipv4.tcp_fin_timeout", "15");
    set_ok(&c, "net/core/somaxconn", "128");
    assert_get(&c, "net/core/somaxconn", "128");
    set_ok(&c, "net/ipv4/ip_local_port_range", "2000 3000");
    assert_get(&c, "net/ipv4/ip_local_port_range", "2000\t3000");

    /* sysctl(8) reads dots literally in the slash form: no such file. */
    char err[128], buf[64];
    assert_int_equal(sk_config_set(&c, "net/ipv4.tcp_fin_timeout", "15", err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "unknown sysctl 'net/ipv4.tcp_fin_timeout'");
    assert_int_equal(sk_config_get(&c, "net.ipv4/tcp_fin_timeout", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(sk_config_get(&c, "net/ipv4/tcp_fin_timeout/", buf, sizeof(buf)), -ENOENT);
}

static void test_vector_parsing_with_tabs_and_spaces(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    set_ok(&c, "net.ipv4.tcp_rmem", "4096\t87380\t6291456");
    assert_get(&c, "net.ipv4.tcp_rmem", "4096\t87380\t6291456");
    set_ok(&c, "net.ipv4.tcp_wmem", "  8192   65536\t \t 1048576  \n");
    assert_int_equal(c.tcp_wmem[0], 8192);
    assert_int_equal(c.tcp_wmem[1], 65536);
    assert_int_equal(c.tcp_wmem[2], 1048576);
    set_ok(&c, "net.ipv4.ip_local_port_range", "\t10000 \t  20000\n");
    assert_int_equal(c.ip_local_port_range[0], 10000);
    assert_int_equal(c.ip_local_port_range[1], 20000);
    set_ok(&c, "net.ipv4.tcp_fin_timeout", " 45\n");
    assert_int_equal(c.tcp_fin_timeout, 45);
}

/* ------------------------------------------------------------------ */

static void assert_set_fails(sk_config *c, const char *name, const char *value, int expected_errno,
                             const char *expected_message)
{
    sk_config before;
    memcpy(&before, c, sizeof(before));
    char err[160];
    assert_int_equal(sk_config_set(c, name, value, err, sizeof(err)), expected_errno);
    assert_string_equal(err, expected_message);
    /* A rejected write changes nothing, not even part of a vector. */
    assert_memory_equal(&before, c, sizeof(before));
}

static void test_unknown_name_is_enoent(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    assert_set_fails(&c, "net.ipv4.tcp_bogus", "1", -ENOENT, "unknown sysctl 'net.ipv4.tcp_bogus'");
    assert_set_fails(&c, "tcp_fin_timeout", "1", -ENOENT, "unknown sysctl 'tcp_fin_timeout'");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeou", "1", -ENOENT, "unknown sysctl 'net.ipv4.tcp_fin_timeou'");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeoutx", "1", -ENOENT, "unknown sysctl 'net.ipv4.tcp_fin_timeoutx'");
    assert_set_fails(&c, "", "1", -ENOENT, "unknown sysctl ''");
    char buf[64] = "x";
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_bogus", buf, sizeof(buf)), -ENOENT);
    assert_string_equal(buf, "");
    assert_int_equal(sk_config_get(&c, NULL, buf, sizeof(buf)), -ENOENT);
}

static void test_out_of_range_values(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    assert_set_fails(&c, "net.ipv4.tcp_syncookies", "7", -EINVAL,
                     "net.ipv4.tcp_syncookies: value 7 out of range 0..2");
    assert_set_fails(&c, "net.ipv4.tcp_tw_reuse", "3", -EINVAL, "net.ipv4.tcp_tw_reuse: value 3 out of range 0..2");
    assert_set_fails(&c, "net.ipv4.tcp_sack", "2", -EINVAL, "net.ipv4.tcp_sack: value 2 out of range 0..1");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "-1", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: value -1 out of range 0..2147483");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "2147484", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: value 2147484 out of range 0..2147483");
    assert_set_fails(&c, "net.ipv4.tcp_syn_retries", "0", -EINVAL,
                     "net.ipv4.tcp_syn_retries: value 0 out of range 1..127");
    assert_set_fails(&c, "net.ipv4.tcp_syn_retries", "128", -EINVAL,
                     "net.ipv4.tcp_syn_retries: value 128 out of range 1..127");
    assert_set_fails(&c, "net.ipv4.tcp_rto_max_ms", "999", -EINVAL,
                     "net.ipv4.tcp_rto_max_ms: value 999 out of range 1000..120000");
    assert_set_fails(&c, "net.ipv4.tcp_min_snd_mss", "47", -EINVAL,
                     "net.ipv4.tcp_min_snd_mss: value 47 out of range 48..65535");
    assert_set_fails(&c, "net.ipv4.tcp_adv_win_scale", "-32", -EINVAL,
                     "net.ipv4.tcp_adv_win_scale: value -32 out of range -31..31");
    assert_set_fails(&c, "net.ipv4.tcp_retries2", "256", -EINVAL,
                     "net.ipv4.tcp_retries2: value 256 out of range 0..255");
    assert_set_fails(&c, "net.core.somaxconn", "-5", -EINVAL,
                     "net.core.somaxconn: value -5 out of range 0..2147483647");
    /* Overflowing int, and overflowing any 64-bit type. */
    assert_set_fails(&c, "net.core.somaxconn", "2147483648", -EINVAL,
                     "net.core.somaxconn: value 2147483648 out of range 0..2147483647");
    assert_set_fails(&c, "net.core.somaxconn", "99999999999999999999999", -EINVAL,
                     "net.core.somaxconn: value 99999999999999999999999 out of range 0..2147483647");
    assert_set_fails(&c, "net.core.somaxconn", "-99999999999999999999999", -EINVAL,
                     "net.core.somaxconn: value -99999999999999999999999 out of range 0..2147483647");
}

static void test_vector_errors(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    assert_set_fails(&c, "net.ipv4.ip_local_port_range", "1024", -EINVAL,
                     "net.ipv4.ip_local_port_range: expected 2 integers, got 1");
    assert_set_fails(&c, "net.ipv4.ip_local_port_range", "1 2 3", -EINVAL,
                     "net.ipv4.ip_local_port_range: expected 2 integers, got 3");
    assert_set_fails(&c, "net.ipv4.ip_local_port_range", "0 1000", -EINVAL,
                     "net.ipv4.ip_local_port_range: value 0 out of range 1..65535");
    assert_set_fails(&c, "net.ipv4.ip_local_port_range", "1000 65536", -EINVAL,
                     "net.ipv4.ip_local_port_range: value 65536 out of range 1..65535");
    assert_set_fails(&c, "net.ipv4.ip_local_port_range", "61000 32768", -EINVAL,
                     "net.ipv4.ip_local_port_range: low end 61000 is above high end 32768");
    assert_set_fails(&c, "net.ipv4.tcp_rmem", "4096 131072", -EINVAL,
                     "net.ipv4.tcp_rmem: expected 3 integers, got 2");
    assert_set_fails(&c, "net.ipv4.tcp_rmem", "4096 0 8192", -EINVAL,
                     "net.ipv4.tcp_rmem: value 0 out of range 1..2147483647");
    assert_set_fails(&c, "net.ipv4.tcp_wmem", "4096 16384 4194304 1", -EINVAL,
                     "net.ipv4.tcp_wmem: expected 3 integers, got 4");
    assert_set_fails(&c, "net.ipv4.tcp_wmem", "4096,16384,4194304", -EINVAL,
                     "net.ipv4.tcp_wmem: expected 3 integers, got 1");
    assert_set_fails(&c, "net.ipv4.tcp_wmem", "4096 16k 4194304", -EINVAL,
                     "net.ipv4.tcp_wmem: '16k' is not a decimal integer");
}

static void test_malformed_integers(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: expected 1 integer, got 0");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", " \t\n", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: expected 1 integer, got 0");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "30 40", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: expected 1 integer, got 2");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "30s", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: '30s' is not a decimal integer");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "abc", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: 'abc' is not a decimal integer");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "0x10", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: '0x10' is not a decimal integer");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "+5", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: '+5' is not a decimal integer");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "-", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: '-' is not a decimal integer");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "--5", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: '--5' is not a decimal integer");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", "1.5", -EINVAL,
                     "net.ipv4.tcp_fin_timeout: '1.5' is not a decimal integer");
    assert_set_fails(&c, "net.ipv4.tcp_fin_timeout", NULL, -EINVAL, "net.ipv4.tcp_fin_timeout: no value given");
    /* Leading zeros are still decimal. */
    set_ok(&c, "net.ipv4.tcp_fin_timeout", "010");
    assert_int_equal(c.tcp_fin_timeout, 10);
}

static void test_congestion_control_choices(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    assert_set_fails(&c, "net.ipv4.tcp_congestion_control", "bbr", -EINVAL,
                     "net.ipv4.tcp_congestion_control: 'bbr' is not available (available: reno cubic)");
    assert_set_fails(&c, "net.ipv4.tcp_congestion_control", "cubicx", -EINVAL,
                     "net.ipv4.tcp_congestion_control: 'cubicx' is not available (available: reno cubic)");
    assert_set_fails(&c, "net.ipv4.tcp_congestion_control", "", -EINVAL,
                     "net.ipv4.tcp_congestion_control: expected one name (available: reno cubic)");
    assert_set_fails(&c, "net.ipv4.tcp_congestion_control", "reno reno", -EINVAL,
                     "net.ipv4.tcp_congestion_control: expected one name (available: reno cubic)");
    assert_string_equal(c.tcp_congestion_control, "cubic");
    /* The lists are Linux's read-only views of what the stack has. */
    assert_set_fails(&c, "net.ipv4.tcp_available_congestion_control", "reno", -EPERM,
                     "net.ipv4.tcp_available_congestion_control: read-only (reno cubic)");
    assert_set_fails(&c, "net.ipv4.tcp_allowed_congestion_control", "reno", -EPERM,
                     "net.ipv4.tcp_allowed_congestion_control: read-only (reno cubic)");
}

/* Short buffers truncate without overrunning, and say so. */
static void test_short_buffers(void **state)
{
    sk_config c;
    sk_config_defaults(&c);
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_rmem", buf, 6), -ENOSPC);
    assert_string_equal(buf, "4096\t");
    assert_int_equal(buf[6], 'x');
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_fin_timeout", buf, 3), 0);
    assert_string_equal(buf, "60");
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_fin_timeout", buf, 2), -ENOSPC);
    assert_string_equal(buf, "6");
    assert_int_equal(sk_config_get(&c, "net.ipv4.tcp_fin_timeout", NULL, 0), -ENOSPC);

    char err[16];
    memset(err, 'x', sizeof(err));
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_syncookies", "7", err, 10), -EINVAL);
    assert_string_equal(err, "net.ipv4.");
    assert_int_equal(err[10], 'x');
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_syncookies", "7", NULL, 0), -EINVAL);
    assert_int_equal(sk_config_set(&c, "net.ipv4.tcp_syncookies", "2", NULL, 0), 0);
    assert_int_equal(c.tcp_syncookies, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_default_prints_as_linux),
        cmocka_unit_test(test_names_are_exported_sorted_and_complete),
        cmocka_unit_test(test_struct_defaults),
        cmocka_unit_test(test_fastopen_sysctls),
        cmocka_unit_test(test_set_get_round_trips),
        cmocka_unit_test(test_notsent_lowat_is_unsigned),
        cmocka_unit_test(test_slash_form_names),
        cmocka_unit_test(test_vector_parsing_with_tabs_and_spaces),
        cmocka_unit_test(test_unknown_name_is_enoent),
        cmocka_unit_test(test_out_of_range_values),
        cmocka_unit_test(test_vector_errors),
        cmocka_unit_test(test_malformed_integers),
        cmocka_unit_test(test_congestion_control_choices),
        cmocka_unit_test(test_short_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
