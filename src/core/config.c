/*
 * Stack tunables, table-driven: one row per exported sysctl, with Linux's
 * name, type and accepted range (Documentation/networking/ip-sysctl.rst and
 * the ctl_table entries of net/ipv4/sysctl_net_ipv4.c and
 * net/core/sysctl_net_core.c).  Where Linux enforces no range the row uses
 * a sensible one so the engine never sees a value it cannot act on:
 * booleans 0..1, counts >= 0, seconds <= INT_MAX / 1000 (Linux's own limit
 * for its jiffies-converted values at HZ=1000).
 *
 * Values are parsed as sysctl(8) writes them: decimal integers separated by
 * blanks, surrounding whitespace (a trailing newline from `echo`) ignored.
 * They are printed as /proc/sys prints them: vectors tab-separated.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum config_type {
    CONFIG_INT,      /* one int, or `count` ints (a vector) */
    CONFIG_UINT32,   /* Linux's unsigned int (proc_douintvec), kept in an int */
    CONFIG_CHOICE,   /* one of a fixed set of names */
    CONFIG_CC_LIST,  /* read-only: the congestion controls the engine has */
    CONFIG_INT_ANYBASE, /* one int read as proc_dointvec reads it: 0x hex, 0 octal, decimal */
    CONFIG_TFO_KEY,  /* tcp_fastopen_key: "%08x-%08x-%08x-%08x[,backup]" */
} config_type;

typedef enum config_check {
    CHECK_NONE,
    CHECK_ASCENDING_PAIR, /* ip_local_port_range: low <= high */
} config_check;

typedef struct config_row {
    const char *name;
    config_type type;
    size_t offset;
    unsigned count;       /* integers in the value (1, 2 or 3) */
    long long min, max;   /* each integer's range */
    config_check check;
} config_row;

/* tcp_fin_timeout and friends are seconds Linux converts to jiffies; it
 * rejects values over INT_MAX / HZ, and so do we (the engine multiplies by
 * 1000 to get milliseconds). */
#define SECONDS_MAX (INT_MAX / 1000)

#define ROW(sysctl, field, cnt, lo, hi) \
    {sysctl, CONFIG_INT, offsetof(sk_config, field), cnt, lo, hi, CHECK_NONE}

/*
 * Sorted by name (strcmp order) so sk_config_name() iterates in a stable,
 * sorted order; the test checks it.  tcp_delack_min_ms is not here: Linux
 * has no such sysctl, so it keeps its default (TCP_DELACK_MIN, 40 ms).
 */
static const config_row config_rows[] = {
    /* Linux clamps listen() backlogs to it; min 0 since Linux 5.4. */
    ROW("net.core.somaxconn", somaxconn, 1, 0, INT_MAX),
    /* Linux: 0..1. */
    ROW("net.ipv4.icmp_echo_ignore_all", icmp_echo_ignore_all, 1, 0, 1),
    /* Linux: >= 0, each a plain int (proc_dointvec). */
    ROW("net.ipv4.icmp_msgs_burst", icmp_msgs_burst, 1, 0, INT_MAX),
    ROW("net.ipv4.icmp_msgs_per_sec", icmp_msgs_per_sec, 1, 0, INT_MAX),
    /* Milliseconds (proc_dointvec_ms_jiffies); 0 disables the per-host limit. */
    ROW("net.ipv4.icmp_ratelimit", icmp_ratelimit, 1, 0, INT_MAX),
    /* A bit per ICMP type below 32 (6168 = 0x1818: types 3, 4, 11, 12). */
    ROW("net.ipv4.icmp_ratemask", icmp_ratemask, 1, INT_MIN, INT_MAX),
    /* ipv4_local_port_range(): each end 1..65535, low <= high. */
    {"net.ipv4.ip_local_port_range", CONFIG_INT, offsetof(sk_config, ip_local_port_range), 2, 1, 65535,
     CHECK_ASCENDING_PAIR},
    /* Linux: 0..3 (ip-sysctl.rst). */
    ROW("net.ipv4.ip_no_pmtu_disc", ip_no_pmtu_disc, 1, 0, 3),
    /* Linux: >= 68 (IPV4_MIN_MTU), at most 65535. */
    ROW("net.ipv4.route.min_pmtu", route_min_pmtu, 1, 68, 65535),
    /* Seconds (proc_dointvec_jiffies). */
    ROW("net.ipv4.route.mtu_expires", route_mtu_expires, 1, 0, SECONDS_MAX),
    ROW("net.ipv4.tcp_abort_on_overflow", tcp_abort_on_overflow, 1, 0, 1),
    /* Linux: -31..31 (tcp_adv_win_scale_min/max). */
    ROW("net.ipv4.tcp_adv_win_scale", tcp_adv_win_scale, 1, -31, 31),
    /* Linux: 0..31 (tcp_app_win_max), a shift count. */
    /* Linux lets root narrow what unprivileged sockets may pick; synack
     * has no privileges, so every algorithm it has is allowed. */
    {"net.ipv4.tcp_allowed_congestion_control", CONFIG_CC_LIST, 0, 1, 0, 0, CHECK_NONE},
    ROW("net.ipv4.tcp_app_win", tcp_app_win, 1, 0, 31),
    ROW("net.ipv4.tcp_autocorking", tcp_autocorking, 1, 0, 1),
    {"net.ipv4.tcp_available_congestion_control", CONFIG_CC_LIST, 0, 1, 0, 0, CHECK_NONE},
    /* No Linux range; below TCP_MIN_SND_MSS (48) an MTU probe is absurd. */
    ROW("net.ipv4.tcp_base_mss", tcp_base_mss, 1, 48, 65535),
    ROW("net.ipv4.tcp_challenge_ack_limit", tcp_challenge_ack_limit, 1, 0, INT_MAX),
    {"net.ipv4.tcp_congestion_control", CONFIG_CHOICE, offsetof(sk_config, tcp_congestion_control), 1, 0, 0,
     CHECK_NONE},
    ROW("net.ipv4.tcp_dsack", tcp_dsack, 1, 0, 1),
    /* Linux: 0..2 (0 off, 1 request and accept, 2 accept only). */
    ROW("net.ipv4.tcp_ecn", tcp_ecn, 1, 0, 2),
    /* Scripts write it in hex (0x70403): accepted in any base. */
    {"net.ipv4.tcp_fastopen", CONFIG_INT_ANYBASE, offsetof(sk_config, tcp_fastopen), 1, 0, INT_MAX, CHECK_NONE},
    ROW("net.ipv4.tcp_fastopen_blackhole_timeout_sec", tcp_fastopen_blackhole_timeout_sec, 1, 0, INT_MAX),
    {"net.ipv4.tcp_fastopen_key", CONFIG_TFO_KEY, 0, 1, 0, 0, CHECK_NONE},
    ROW("net.ipv4.tcp_fin_timeout", tcp_fin_timeout, 1, 0, SECONDS_MAX),
    /* Milliseconds (proc_dointvec_ms_jiffies); 0 lifts the limit. */
    ROW("net.ipv4.tcp_invalid_ratelimit", tcp_invalid_ratelimit, 1, 0, INT_MAX),
    ROW("net.ipv4.tcp_keepalive_intvl", tcp_keepalive_intvl, 1, 1, SECONDS_MAX),
    /* Linux stores it in a u8: 0..255. */
    ROW("net.ipv4.tcp_keepalive_probes", tcp_keepalive_probes, 1, 0, 255),
    ROW("net.ipv4.tcp_keepalive_time", tcp_keepalive_time, 1, 1, SECONDS_MAX),
    ROW("net.ipv4.tcp_max_orphans", tcp_max_orphans, 1, 0, INT_MAX),
    ROW("net.ipv4.tcp_max_syn_backlog", tcp_max_syn_backlog, 1, 0, INT_MAX),
    ROW("net.ipv4.tcp_max_tw_buckets", tcp_max_tw_buckets, 1, 0, INT_MAX),
    /* Linux: TCP_MIN_SND_MSS (48)..65535. */
    ROW("net.ipv4.tcp_min_snd_mss", tcp_min_snd_mss, 1, 48, 65535),
    /* Linux: u8, 1..255; the floor of tcp_tso_autosize(). */
    ROW("net.ipv4.tcp_min_tso_segs", tcp_min_tso_segs, 1, 1, 255),
    ROW("net.ipv4.tcp_moderate_rcvbuf", tcp_moderate_rcvbuf, 1, 0, 1),
    /* Linux: 48..tcp_base_mss (checked against it when set there; here 48..65535). */
    ROW("net.ipv4.tcp_mtu_probe_floor", tcp_mtu_probe_floor, 1, 48, 65535),
    /* 0 off, 1 after an ICMP black hole is detected, 2 always. */
    ROW("net.ipv4.tcp_mtu_probing", tcp_mtu_probing, 1, 0, 2),
    /* Linux: unsigned int via proc_douintvec, 4294967295 = unlimited. */
    {"net.ipv4.tcp_notsent_lowat", CONFIG_UINT32, offsetof(sk_config, tcp_notsent_lowat), 1, 0, UINT32_MAX,
     CHECK_NONE},
    /* u8 in Linux; 0 means 8 (tcp_orphan_retries()). */
    ROW("net.ipv4.tcp_orphan_retries", tcp_orphan_retries, 1, 0, 255),
    /* Seconds between re-probes (Linux: u32, <= TCP_PROBE_INTERVAL_MAX). */
    ROW("net.ipv4.tcp_probe_interval", tcp_probe_interval, 1, 0, SECONDS_MAX),
    /* Linux: int; the search stops when high - low is below it. */
    ROW("net.ipv4.tcp_probe_threshold", tcp_probe_threshold, 1, 0, 65535),
    /* No Linux range; 0 would make every duplicate ACK a loss signal. */
    ROW("net.ipv4.tcp_reordering", tcp_reordering, 1, 1, INT_MAX),
    /* Linux: u8, 0..255 (tcp_retr1_max). */
    ROW("net.ipv4.tcp_retries1", tcp_retries1, 1, 0, 255),
    ROW("net.ipv4.tcp_retries2", tcp_retries2, 1, 0, 255),
    ROW("net.ipv4.tcp_rfc1337", tcp_rfc1337, 1, 0, 1),
    /* Linux: each of min, default, max >= 1 (SYSCTL_ONE). */
    ROW("net.ipv4.tcp_rmem", tcp_rmem, 3, 1, INT_MAX),
    /* Linux 6.15: 1000..120000 (TCP_RTO_MAX_SEC in ms). */
    ROW("net.ipv4.tcp_rto_max_ms", tcp_rto_max_ms, 1, 1000, 120000),
    /* Linux 6.11: >= 1. */
    ROW("net.ipv4.tcp_rto_min_us", tcp_rto_min_us, 1, 1, INT_MAX),
    ROW("net.ipv4.tcp_sack", tcp_sack, 1, 0, 1),
    ROW("net.ipv4.tcp_slow_start_after_idle", tcp_slow_start_after_idle, 1, 0, 1),
    /* Linux: 1..MAX_TCP_SYNCNT (127). */
    ROW("net.ipv4.tcp_syn_retries", tcp_syn_retries, 1, 1, 127),
    ROW("net.ipv4.tcp_synack_retries", tcp_synack_retries, 1, 0, 255),
    /* 0 off, 1 when the SYN queue overflows, 2 always. */
    ROW("net.ipv4.tcp_syncookies", tcp_syncookies, 1, 0, 2),
    /* 0 off, 1 on with per-connection offsets, 2 on without offsets. */
    ROW("net.ipv4.tcp_timestamps", tcp_timestamps, 1, 0, 2),
    /* Linux: u8, 0..255; 0 defers by a fixed three segments instead. */
    ROW("net.ipv4.tcp_tso_win_divisor", tcp_tso_win_divisor, 1, 0, 255),
    /* Linux: 0..2 (2 = loopback only). */
    ROW("net.ipv4.tcp_tw_reuse", tcp_tw_reuse, 1, 0, 2),
    /* Linux 6.13: 1..TCP_PAWS_MSL * 1000 (60000) ms. */
    ROW("net.ipv4.tcp_tw_reuse_delay", tcp_tw_reuse_delay, 1, 1, 60000),
    ROW("net.ipv4.tcp_window_scaling", tcp_window_scaling, 1, 0, 1),
    ROW("net.ipv4.tcp_wmem", tcp_wmem, 3, 1, INT_MAX),
    /* Linux: 0..IP6_AUTO_FLOW_LABEL_MAX (3); 1 is "on unless the socket opts out". */
    ROW("net.ipv6.auto_flowlabels", ipv6_auto_flowlabels, 1, 0, 3),
    ROW("net.ipv6.bindv6only", ipv6_bindv6only, 1, 0, 1),
};

#define CONFIG_ROWS (sizeof(config_rows) / sizeof(config_rows[0]))
#define CONFIG_MAX_INTS 3

/* What the engine implements (cc.c), as tcp_available_congestion_control
 * lists it; a name it would not honour is refused. */
static const char *const congestion_controls[] = {"reno", "cubic"};
#define CONGESTION_CONTROLS (sizeof(congestion_controls) / sizeof(congestion_controls[0]))
#define CONGESTION_CONTROLS_TEXT "reno cubic"

void sk_config_defaults(sk_config *c)
{
    memset(c, 0, sizeof(*c));
    c->tcp_fin_timeout = 60;
    c->tcp_tw_reuse = 2;
    c->tcp_tw_reuse_delay = 1000;
    c->tcp_max_tw_buckets = 131072;
    c->tcp_max_syn_backlog = 2048;
    c->somaxconn = 4096;
    c->tcp_syn_retries = 6;
    c->tcp_synack_retries = 5;
    c->tcp_keepalive_time = 7200;
    c->tcp_keepalive_intvl = 75;
    c->tcp_keepalive_probes = 9;
    c->ip_local_port_range[0] = 32768;
    c->ip_local_port_range[1] = 60999;
    c->tcp_timestamps = 1;
    c->tcp_sack = 1;
    c->tcp_dsack = 1;
    c->tcp_window_scaling = 1;
    c->tcp_abort_on_overflow = 0;
    c->tcp_rmem[0] = 4096;
    c->tcp_rmem[1] = 131072;
    c->tcp_rmem[2] = 33554432;
    c->tcp_wmem[0] = 4096;
    c->tcp_wmem[1] = 16384;
    c->tcp_wmem[2] = 4194304;
    c->tcp_syncookies = 1;
    c->tcp_retries1 = 3;
    c->tcp_retries2 = 15;
    c->tcp_orphan_retries = 0;
    c->tcp_max_orphans = 131072;
    c->tcp_rfc1337 = 0;
    c->ipv6_auto_flowlabels = 1;
    c->ipv6_bindv6only = 0;
    c->tcp_challenge_ack_limit = INT_MAX;
    c->tcp_invalid_ratelimit = 500;
    c->tcp_rto_min_us = 200000;
    c->tcp_rto_max_ms = 120000;
    c->tcp_adv_win_scale = 1;
    c->tcp_app_win = 31;
    c->tcp_slow_start_after_idle = 1;
    c->tcp_notsent_lowat = -1; /* UINT_MAX: no limit */
    c->tcp_ecn = 2;
    c->tcp_reordering = 3;
    c->tcp_moderate_rcvbuf = 1;
    c->tcp_base_mss = 1024;
    c->tcp_min_snd_mss = 48;
    c->tcp_mtu_probing = 0;
    c->tcp_autocorking = 1;
    c->tcp_min_tso_segs = 2;
    c->tcp_tso_win_divisor = 3;
    c->tcp_delack_min_ms = 40;
    c->icmp_echo_ignore_all = 0;
    c->icmp_ratelimit = 1000;
    c->icmp_ratemask = 0x1818;
    c->icmp_msgs_per_sec = 1000;
    c->icmp_msgs_burst = 50;
    c->ip_no_pmtu_disc = 0;
    c->route_min_pmtu = 552;
    c->route_mtu_expires = 600;
    c->tcp_probe_threshold = 8;
    c->tcp_probe_interval = 600;
    c->tcp_mtu_probe_floor = 48;
    memcpy(c->tcp_congestion_control, "cubic", sizeof("cubic")); /* Linux's default */
    c->tcp_fastopen = 1; /* TFO_CLIENT_ENABLE */
}

/* Name match in the dotted form or, as sysctl(8) accepts, the /proc/sys
 * path form with '/' separators (then no '.' may appear). */
static bool name_matches(const char *row_name, const char *name, char separator)
{
    for (;; row_name++, name++) {
        char want = *row_name == '.' ? separator : *row_name;
        if (*name != want)
            return false;
        if (*name == '\0')
            return true;
    }
}

static const config_row *row_find(const char *name)
{
    char separator = strchr(name, '/') ? '/' : '.';
    for (size_t i = 0; i < CONFIG_ROWS; i++)
        if (name_matches(config_rows[i].name, name, separator))
            return &config_rows[i];
    return NULL;
}

static void error_message(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void error_message(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

/* Splits value into at most `max` blank-separated tokens (pointer and
 * length each); returns the total number of tokens. */
static size_t tokenize(const char *value, const char **starts, size_t *lens, size_t max)
{
    size_t n = 0;
    const char *p = value;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            return n;
        const char *start = p;
        while (*p && !is_blank(*p))
            p++;
        if (n < max) {
            starts[n] = start;
            lens[n] = (size_t)(p - start);
        }
        n++;
    }
}

typedef enum parse_result { PARSE_OK, PARSE_NOT_INTEGER, PARSE_OUT_OF_RANGE } parse_result;

/* A decimal integer with an optional '-', nothing else (like Linux's
 * proc_dointvec, but decimal only).  Out-of-range includes overflow. */
static parse_result parse_integer(const char *s, size_t len, long long min, long long max, long long *out)
{
    size_t i = 0;
    bool negative = false;
    if (len > 0 && s[0] == '-') {
        negative = true;
        i = 1;
    }
    if (i == len)
        return PARSE_NOT_INTEGER;
    bool overflow = false;
    unsigned long long magnitude = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return PARSE_NOT_INTEGER;
        unsigned digit = (unsigned)(s[i] - '0');
        if (magnitude > (ULLONG_MAX - digit) / 10)
            overflow = true;
        else
            magnitude = magnitude * 10 + digit;
    }
    /* Every range fits in [-2^32, 2^32], so anything beyond is simply out
     * of range, and the signed conversion below cannot overflow. */
    if (overflow || magnitude > ((unsigned long long)1 << 40))
        return PARSE_OUT_OF_RANGE;
    long long v = negative ? -(long long)magnitude : (long long)magnitude;
    if (v < min || v > max)
        return PARSE_OUT_OF_RANGE;
    *out = v;
    return PARSE_OK;
}

static int set_choice(sk_config *c, const config_row *row, const char *value, char *err, size_t errlen)
{
    /* Initialised: at -O3 GCC cannot see tokenize() fills them when n == 1. */
    const char *starts[1] = {""};
    size_t lens[1] = {0};
    size_t n = tokenize(value, starts, lens, 1);
    if (n != 1) {
        error_message(err, errlen, "%s: expected one name (available: %s)", row->name, CONGESTION_CONTROLS_TEXT);
        return -EINVAL;
    }
    for (size_t i = 0; i < CONGESTION_CONTROLS; i++) {
        if (strlen(congestion_controls[i]) == lens[0] && memcmp(congestion_controls[i], starts[0], lens[0]) == 0) {
            char *field = (char *)c + row->offset;
            memcpy(field, congestion_controls[i], lens[0] + 1);
            return 0;
        }
    }
    error_message(err, errlen, "%s: '%.*s' is not available (available: %s)", row->name, (int)lens[0], starts[0],
                  CONGESTION_CONTROLS_TEXT);
    return -EINVAL;
}

/* proc_dointvec's reading: strtoul with base 0, so "0x70403" is hex. */
static int set_anybase(sk_config *c, const config_row *row, const char *value, char *err, size_t errlen)
{
    const char *starts[1] = {""};
    size_t lens[1] = {0};
    if (tokenize(value, starts, lens, 1) != 1) {
        error_message(err, errlen, "%s: expected one integer", row->name);
        return -EINVAL;
    }
    char text[32];
    if (lens[0] >= sizeof text) {
        error_message(err, errlen, "%s: '%.*s' is too long", row->name, (int)lens[0], starts[0]);
        return -EINVAL;
    }
    memcpy(text, starts[0], lens[0]);
    text[lens[0]] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 0);
    if (text[0] == '\0' || *end != '\0' || text[0] == '+' || errno) {
        error_message(err, errlen, "%s: '%s' is not an integer", row->name, text);
        return -EINVAL;
    }
    if (v < row->min || v > row->max) {
        error_message(err, errlen, "%s: value %s out of range %lld..%lld", row->name, text, row->min, row->max);
        return -EINVAL;
    }
    *(int *)(void *)((char *)c + row->offset) = (int)v;
    return 0;
}

/* Linux's proc_tcp_fastopen_key(): one or two keys, each four groups of
 * up to 8 hex digits joined by '-', the keys joined by ','.  Each group
 * is a 32-bit word stored little-endian, so the key bytes are the words'
 * bytes in memory order, as TCP_FASTOPEN_KEY takes them. */
static int set_tfo_key(sk_config *c, const config_row *row, const char *value, char *err, size_t errlen)
{
    uint8_t keys[2][16];
    int n = 0;
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    for (;;) {
        if (n == 2) {
            error_message(err, errlen, "%s: at most two keys (primary,backup)", row->name);
            return -EINVAL;
        }
        for (int w = 0; w < 4; w++) {
            uint32_t word = 0;
            int digits = 0;
            while (isxdigit((unsigned char)*p)) {
                if (++digits > 8) {
                    error_message(err, errlen, "%s: a key word has more than 8 hex digits", row->name);
                    return -EINVAL;
                }
                int d = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
                word = word << 4 | (uint32_t)d;
                p++;
            }
            if (!digits || (w < 3 && *p != '-')) {
                error_message(err, errlen, "%s: expected xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx[,...]", row->name);
                return -EINVAL;
            }
            if (w < 3)
                p++;
            for (int b = 0; b < 4; b++)
                keys[n][w * 4 + b] = (uint8_t)(word >> (8 * b));
        }
        n++;
        if (*p != ',')
            break;
        p++;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (*p) {
        error_message(err, errlen, "%s: unexpected '%s'", row->name, p);
        return -EINVAL;
    }
    memcpy(c->tcp_fastopen_key, keys, sizeof keys[0] * (size_t)n);
    c->tcp_fastopen_key_count = n;
    return 0;
}

int sk_config_set(sk_config *c, const char *name, const char *value, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!name) {
        error_message(err, errlen, "no sysctl name given");
        return -ENOENT;
    }
    const config_row *row = row_find(name);
    if (!row) {
        error_message(err, errlen, "unknown sysctl '%s'", name);
        return -ENOENT;
    }
    if (!value) {
        error_message(err, errlen, "%s: no value given", row->name);
        return -EINVAL;
    }
    if (row->type == CONFIG_CHOICE)
        return set_choice(c, row, value, err, errlen);
    if (row->type == CONFIG_TFO_KEY)
        return set_tfo_key(c, row, value, err, errlen);
    if (row->type == CONFIG_INT_ANYBASE)
        return set_anybase(c, row, value, err, errlen);
    if (row->type == CONFIG_CC_LIST) {
        error_message(err, errlen, "%s: read-only (%s)", row->name, CONGESTION_CONTROLS_TEXT);
        return -EPERM;
    }

    const char *starts[CONFIG_MAX_INTS];
    size_t lens[CONFIG_MAX_INTS];
    size_t n = tokenize(value, starts, lens, CONFIG_MAX_INTS);
    if (n != row->count) {
        error_message(err, errlen, "%s: expected %u integer%s, got %zu", row->name, row->count,
                      row->count == 1 ? "" : "s", n);
        return -EINVAL;
    }
    long long parsed[CONFIG_MAX_INTS] = {0};
    for (size_t i = 0; i < n; i++) {
        switch (parse_integer(starts[i], lens[i], row->min, row->max, &parsed[i])) {
        case PARSE_OK:
            break;
        case PARSE_NOT_INTEGER:
            error_message(err, errlen, "%s: '%.*s' is not a decimal integer", row->name, (int)lens[i], starts[i]);
            return -EINVAL;
        case PARSE_OUT_OF_RANGE:
            error_message(err, errlen, "%s: value %.*s out of range %lld..%lld", row->name, (int)lens[i],
                          starts[i], row->min, row->max);
            return -EINVAL;
        }
    }
    if (row->check == CHECK_ASCENDING_PAIR && parsed[0] > parsed[1]) {
        /* Linux's ipv4_local_port_range() rejects an inverted range. */
        error_message(err, errlen, "%s: low end %lld is above high end %lld", row->name, parsed[0], parsed[1]);
        return -EINVAL;
    }
    /* Validated as a whole before anything is stored. */
    int *field = (int *)(void *)((char *)c + row->offset);
    for (size_t i = 0; i < n; i++)
        field[i] = row->type == CONFIG_UINT32 ? (int)(uint32_t)parsed[i] : (int)parsed[i];
    return 0;
}

int sk_config_get(const sk_config *c, const char *name, char *buf, size_t len)
{
    if (buf && len)
        buf[0] = '\0';
    const config_row *row = name ? row_find(name) : NULL;
    if (!row)
        return -ENOENT;
    const char *field = (const char *)c + row->offset;
    char text[96];
    if (row->type == CONFIG_CHOICE) {
        snprintf(text, sizeof(text), "%s", field);
    } else if (row->type == CONFIG_CC_LIST) {
        snprintf(text, sizeof(text), "%s", CONGESTION_CONTROLS_TEXT);
    } else if (row->type == CONFIG_TFO_KEY) {
        /* Linux prints zeros before any key exists, and the backup after
         * a comma when there is one. */
        static const uint8_t zero[16];
        int n = c->tcp_fastopen_key_count ? c->tcp_fastopen_key_count : 1;
        size_t used = 0;
        for (int k = 0; k < n; k++) {
            const uint8_t *key = c->tcp_fastopen_key_count ? c->tcp_fastopen_key[k] : zero;
            uint32_t w[4];
            for (int i = 0; i < 4; i++)
                w[i] = (uint32_t)key[4 * i] | (uint32_t)key[4 * i + 1] << 8 | (uint32_t)key[4 * i + 2] << 16 |
                       (uint32_t)key[4 * i + 3] << 24;
            used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%08x-%08x-%08x-%08x", k ? "," : "",
                                     w[0], w[1], w[2], w[3]);
        }
    } else if (row->type == CONFIG_UINT32) {
        /* Stored in an int; Linux prints the unsigned value. */
        snprintf(text, sizeof(text), "%u", (unsigned)*(const int *)(const void *)field);
    } else {
        const int *ints = (const int *)(const void *)field;
        size_t used = 0;
        for (unsigned i = 0; i < row->count; i++)
            used += (size_t)snprintf(text + used, sizeof(text) - used, i ? "\t%d" : "%d", ints[i]);
    }
    size_t text_len = strlen(text);
    if (!buf || text_len >= len) {
        /* Truncated but terminated, like snprintf; reported, not silent. */
        if (buf && len) {
            memcpy(buf, text, len - 1);
            buf[len - 1] = '\0';
        }
        return -ENOSPC;
    }
    memcpy(buf, text, text_len + 1);
    return 0;
}

const char *sk_config_name(size_t i)
{
    return i < CONFIG_ROWS ? config_rows[i].name : NULL;
}
