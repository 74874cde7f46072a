/*
 * synack doctor: this host's (or network namespace's) TCP diagnosed from
 * what Linux exposes (src/doctor/doctor.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "cli.h"
#include "commands.h"
#include "doctor/doctor.h"

static void sk_cmd_doctor_usage(FILE *out)
{
    fprintf(out,
            "usage: synack doctor [--interval SECONDS] [--json] [--close-wait SECONDS] [--proc]\n"
            "       synack doctor --watch SECONDS [--count N]\n"
            "\n"
            "Diagnoses the TCP of this host (or of the network namespace it runs in):\n"
            "the socket table through sock_diag netlink as ss(8) reads it (with\n"
            "/proc/net/tcp{,6} as a fallback), the owning processes, the counters of\n"
            "/proc/net/netstat and /proc/net/snmp sampled twice for rates, and the\n"
            "sysctls that bound them.  Prints findings with evidence and fixes; a\n"
            "healthy host gets none.  Unprivileged, it says what it could not see.\n"
            "\n"
            "  --interval S     seconds between the two counter samples (2)\n"
            "  --json           the same as one JSON object (findings: [{id, severity, ...}])\n"
            "  --close-wait S   a CLOSE-WAIT socket idle S seconds is a leak (5)\n"
            "  --proc           read /proc/net/tcp{,6} instead of sock_diag (the fallback)\n"
            "  --watch S        a live view every S seconds: state counts and counter rates,\n"
            "                   redrawn in place on a terminal, one line per sample otherwise\n"
            "  --count N        with --watch: stop after N samples\n");
}

static volatile sig_atomic_t stop;
static void on_sig(int sig)
{
    (void)sig;
    stop = 1;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop)
        ;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const watch_ctr[] = {
    "TcpActiveOpens", "TcpPassiveOpens", "TcpRetransSegs", "TcpOutRsts", "TcpExtListenOverflows",
    "TcpExtListenDrops", "TcpExtSyncookiesSent", "TcpExtTCPTimeWaitOverflow",
};
static const char *const watch_short[] = {"active", "passive", "retrans", "rsts", "ovfl", "ldrop", "cookies", "twovfl"};
#define NWATCH (sizeof watch_ctr / sizeof watch_ctr[0])

static int watch(double every, long count)
{
    bool tty = isatty(STDOUT_FILENO);
    skd_snapshot s;
    memset(&s, 0, sizeof s);
    skd_read_counters(&s, false);
    double t0 = now_s();
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    if (!tty) {
        printf("%-8s %6s %6s %6s %6s %6s %6s %6s %6s |", "time", "estab", "synrcv", "timewt", "closwt", "finwt",
               "lastak", "listen", "other");
        for (size_t i = 0; i < NWATCH; i++)
            printf(" %7s/s", watch_short[i]);
        printf("\n");
    }
    for (long k = 0; !stop && (count <= 0 || k < count); k++) {
        sleep_s(every);
        if (stop)
            break;
        double t1 = now_s();
        if (skd_read_sockets(&s, false) < 0) {
            fprintf(stderr, "synack doctor: cannot read the socket table\n");
            skd_snapshot_free(&s);
            return SK_CLI_EXIT_FAIL;
        }
        skd_read_counters(&s, true);
        s.interval_s = t1 - t0;
        uint64_t st[SKD_NSTATES] = {0};
        for (size_t i = 0; i < s.nsocks; i++)
            if (s.socks[i].state < SKD_NSTATES)
                st[s.socks[i].state]++;
        uint64_t other = st[SKD_SYN_SENT] + st[SKD_CLOSING] + st[SKD_CLOSE];
        time_t wall = time(NULL);
        struct tm tmv;
        gmtime_r(&wall, &tmv);
        char ts[16];
        strftime(ts, sizeof ts, "%H:%M:%S", &tmv);
        if (tty) {
            printf("\033[H\033[J");
            printf("synack doctor --watch %.1f  %s UTC  (%s; Ctrl-C to stop)\n\n", every, ts, s.source);
            printf("  %-12s %8s\n", "state", "sockets");
            for (int i = 1; i < SKD_NSTATES; i++)
                if (st[i])
                    printf("  %-12s %8llu\n", skd_state_name(i), (unsigned long long)st[i]);
            printf("\n  %-28s %12s %10s\n", "counter", "total", "per s");
            for (size_t i = 0; i < NWATCH; i++)
                printf("  %-28s %12llu %10.1f\n", watch_ctr[i], (unsigned long long)skd_ctr(&s, watch_ctr[i], true),
                       (double)skd_delta(&s, watch_ctr[i]) / s.interval_s);
        } else {
            printf("%-8s %6llu %6llu %6llu %6llu %6llu %6llu %6llu %6llu |", ts,
                   (unsigned long long)st[SKD_ESTABLISHED],
                   (unsigned long long)(st[SKD_SYN_RECV] + st[SKD_NEW_SYN_RECV]),
                   (unsigned long long)st[SKD_TIME_WAIT], (unsigned long long)st[SKD_CLOSE_WAIT],
                   (unsigned long long)(st[SKD_FIN_WAIT1] + st[SKD_FIN_WAIT2]), (unsigned long long)st[SKD_LAST_ACK],
                   (unsigned long long)st[SKD_LISTEN], (unsigned long long)other);
            for (size_t i = 0; i < NWATCH; i++)
                printf(" %9.1f", (double)skd_delta(&s, watch_ctr[i]) / s.interval_s);
            printf("\n");
        }
        fflush(stdout);
        /* The second sample becomes the first of the next interval. */
        for (size_t i = 0; i < s.nctr; i++)
            s.ctr[i].v0 = s.ctr[i].v1;
        t0 = t1;
    }
    skd_snapshot_free(&s);
    return SK_CLI_EXIT_OK;
}

#define usage_error(...) sk_cli_usage_error("doctor", "\nTry 'synack doctor --help' for more.\n", __VA_ARGS__)

int sk_cmd_doctor(int argc, char **argv)
{
    double interval = 2.0, watch_s = 0;
    long count = 0;
    bool json = false, force_proc = false;
    skd_options o = {.close_wait_secs = 5.0, .close_wait_many = 16};
    enum { OPT_JSON = 256, OPT_PROC, OPT_INTERVAL, OPT_WATCH, OPT_COUNT, OPT_CLOSE_WAIT };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"proc", no_argument, NULL, OPT_PROC},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"watch", required_argument, NULL, OPT_WATCH},
        {"count", required_argument, NULL, OPT_COUNT},
        {"close-wait", required_argument, NULL, OPT_CLOSE_WAIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    unsigned long long n;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            sk_cmd_doctor_usage(stdout);
            return SK_CLI_EXIT_OK;
        case OPT_JSON:
            json = true;
            break;
        case OPT_PROC:
            force_proc = true;
            break;
        case OPT_INTERVAL:
            if (!sk_cli_parse_double(optarg, 0.0, 3600.0, &interval))
                return usage_error("--interval wants seconds (0-3600), not '%s'", optarg);
            break;
        case OPT_WATCH:
            if (!sk_cli_parse_double(optarg, 0.0, 3600.0, &watch_s) || watch_s == 0)
                return usage_error("--watch wants seconds (>0, at most 3600), not '%s'", optarg);
            break;
        case OPT_COUNT:
            if (!sk_cli_parse_uint(optarg, LONG_MAX, &n) || n == 0)
                return usage_error("--count wants a positive number, not '%s'", optarg);
            count = (long)n;
            break;
        case OPT_CLOSE_WAIT:
            if (!sk_cli_parse_double(optarg, 0.0, 1e9, &o.close_wait_secs))
                return usage_error("--close-wait wants seconds, not '%s'", optarg);
            break;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (watch_s > 0)
        return watch(watch_s, count);

    skd_snapshot s;
    char err[256];
    skd_snapshot_begin(&s, force_proc);
    double t0 = now_s();
    if (interval > 0)
        sleep_s(interval);
    if (skd_snapshot_finish(&s, true, now_s() - t0, err, sizeof err) < 0) {
        fprintf(stderr, "synack doctor: %s\n", err);
        skd_snapshot_free(&s);
        return SK_CLI_EXIT_FAIL;
    }

    skd_finding f[SKD_FINDINGS_MAX];
    int nf = skd_diagnose(&s, &o, f, SKD_FINDINGS_MAX);
    uint64_t st[SKD_NSTATES] = {0};
    for (size_t i = 0; i < s.nsocks; i++)
        if (s.socks[i].state < SKD_NSTATES)
            st[s.socks[i].state]++;
    static const char *const sevn[] = {"info", "warning", "critical"};

    if (json) {
        printf("{\"source\":\"%s\",\"sockets\":%zu,\"interval_s\":%.3f,\"states\":{", s.source, s.nsocks, s.interval_s);
        bool first = true;
        for (int i = 1; i < SKD_NSTATES; i++)
            if (st[i] && i != SKD_NEW_SYN_RECV) {
                uint64_t v = st[i] + (i == SKD_SYN_RECV ? st[SKD_NEW_SYN_RECV] : 0);
                printf("%s\"%s\":%llu", first ? "" : ",", skd_state_name(i), (unsigned long long)v);
                first = false;
            }
        if (st[SKD_NEW_SYN_RECV] && !st[SKD_SYN_RECV])
            printf("%s\"SYN-RECV\":%llu", first ? "" : ",", (unsigned long long)st[SKD_NEW_SYN_RECV]);
        printf("},\"sysctl\":{\"tcp_max_tw_buckets\":%ld,\"tcp_syncookies\":%ld,\"tcp_max_syn_backlog\":%ld,"
               "\"somaxconn\":%ld,\"tcp_tw_reuse\":%ld,\"ip_local_port_range\":[%ld,%ld]},",
               s.max_tw_buckets, s.syncookies, s.max_syn_backlog, s.somaxconn, s.tw_reuse, s.port_lo, s.port_hi);
        printf("\"not_seen\":[");
        for (int i = 0; i < s.nunseen; i++) {
            printf("%s", i ? "," : "");
            ska_json_string(stdout, s.unseen[i]);
        }
        printf("],\"findings\":[");
        for (int i = 0; i < nf; i++) {
            printf("%s{\"id\":\"%s\",\"severity\":\"%s\",\"count\":%llu,\"summary\":", i ? "," : "", f[i].id,
                   sevn[f[i].severity], (unsigned long long)f[i].count);
            ska_json_string(stdout, f[i].summary);
            printf(",\"evidence\":[");
            for (int e = 0; e < f[i].nev; e++) {
                printf("%s", e ? "," : "");
                ska_json_string(stdout, f[i].evidence[e]);
            }
            printf("],\"fix\":");
            ska_json_string(stdout, f[i].fix);
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("TCP sockets: %zu (from %s)", s.nsocks, s.source);
        for (int i = 1; i < SKD_NSTATES; i++)
            if (st[i])
                printf(", %s %llu", skd_state_name(i), (unsigned long long)st[i]);
        printf("\ncounters sampled %.1f s apart: TcpRetransSegs +%llu, TcpOutRsts +%llu, TcpExtListenOverflows +%llu, "
               "TcpExtListenDrops +%llu, TcpExtSyncookiesSent +%llu\n",
               s.interval_s, (unsigned long long)skd_delta(&s, "TcpRetransSegs"),
               (unsigned long long)skd_delta(&s, "TcpOutRsts"), (unsigned long long)skd_delta(&s, "TcpExtListenOverflows"),
               (unsigned long long)skd_delta(&s, "TcpExtListenDrops"),
               (unsigned long long)skd_delta(&s, "TcpExtSyncookiesSent"));
        for (int i = 0; i < s.nunseen; i++)
            printf("not seen: %s\n", s.unseen[i]);
        if (!nf) {
            printf("\nfindings: none\n");
        } else {
            printf("\nfindings:\n");
            for (int i = 0; i < nf; i++) {
                printf("[%s] %s: %s\n", sevn[f[i].severity], f[i].id, f[i].summary);
                for (int e = 0; e < f[i].nev; e++)
                    printf("    %s\n", f[i].evidence[e]);
                printf("  fix: %s\n", f[i].fix);
            }
        }
    }
    skd_snapshot_free(&s);
    return SK_CLI_EXIT_OK;
}
