/*
 * `synack flood`: a SYN flood against a listener on the in-memory wire,
 * with legitimate clients connecting during it (tools/flood.c).
 * Shows that SYN cookies keep the listener open to them with bounded
 * memory, and that without cookies they are locked out.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "flood.h"

#define FLOOD_USAGE                                                                                \
    "usage: synack flood [--syncookies 0|1|2] [--rate N] [--clients N] [--backlog N]\n"           \
    "                    [--duration S] [--grace S] [--seed N]\n"

static void sk_cmd_flood_usage(FILE *out)
{
    fprintf(out,
            FLOOD_USAGE
            "\n"
            "A server listens on 10.0.0.2:80 on synack's in-memory wire.  A flooder sends it\n"
            "spoofed SYNs from random addresses in 198.18.0.0/15 at a fixed rate of virtual\n"
            "time; the server's SYN-ACKs to them have no route.  Meanwhile legitimate clients\n"
            "(on 10.0.1.1-4), spread evenly over the flood, each connect, send an HTTP\n"
            "request and read the reply.  Prints how many completed within the flood plus the\n"
            "grace period (`legit_completed N/M`), their connect-to-ESTABLISHED times, the\n"
            "listener's memory, the server's counters and the CPU time the server spent per\n"
            "flood SYN.\n"
            "\n"
            "options:\n"
            "  --syncookies V  the server's net.ipv4.tcp_syncookies: 0 off, 1 when the SYN\n"
            "                  queue is full, 2 always (default 1)\n"
            "  --rate N        flood SYNs per virtual second (default 1000000)\n"
            "  --clients N     legitimate clients (default 1000)\n"
            "  --backlog N     the listener's listen() backlog (default 128)\n"
            "  --duration S    flood duration in virtual seconds (default 2)\n"
            "  --grace S       virtual seconds after the flood for exchanges under way\n"
            "                  (default 1)\n"
            "  --seed N        seed of the flood's addresses and of the stacks (default 1)\n"
            "  -h, --help      this text\n"
            "\n"
            "exit status: 0 when every legitimate client completed, 1 when some did not,\n"
            "2 on bad usage\n");
}

#define usage_error(...)                                                                          \
    sk_cli_usage_error("flood", "\n\n" FLOOD_USAGE "Try 'synack flood --help' for more.\n", __VA_ARGS__)

static double ms(sk_time_ns t)
{
    return (double)t / (double)SK_NSEC_PER_MSEC;
}

static void print_result(const sk_flood_params *p, const sk_flood_result *r)
{
    printf("flood: %llu spoofed SYNs at %llu/s for %.3f s to 10.0.0.2:80 (listen backlog %u, "
           "net.ipv4.tcp_syncookies = %d); %u legitimate clients from %u hosts, one-way delay %.3f ms\n",
           (unsigned long long)r->flood_syns, (unsigned long long)p->rate,
           (double)p->duration / (double)SK_NSEC_PER_SEC, p->backlog, p->syncookies, p->clients,
           p->client_stacks, ms(p->delay));
    printf("legit_completed %u/%u\n", r->completed, r->clients);
    printf("legit_established %u/%u, still in SYN_SENT %u, failed %u, client SYN retransmissions %llu\n",
           r->established, r->clients, r->stuck_syn_sent, r->failed, (unsigned long long)r->client_syn_retrans);
    printf("time_to_establish_ms p50 %.3f p90 %.3f p99 %.3f max %.3f (over %u clients)\n", ms(r->establish_p50),
           ms(r->establish_p90), ms(r->establish_p99), ms(r->establish_max), r->established);
    printf("listener_memory %zu bytes: SYN queue peak %u x %zu bytes (sizeof(sk_request)) + accept queue "
           "peak %u x %zu bytes (sizeof(sk_tcb))\n",
           r->listener_peak_bytes, r->syn_queue_peak, r->request_size, r->accept_queue_peak, r->connection_size);
    printf("requests: PassiveOpens %llu ListenOverflows %llu ListenDrops %llu TCPReqQFullDoCookies %llu "
           "TCPReqQFullDrop %llu\n",
           (unsigned long long)r->passive_opens, (unsigned long long)r->listen_overflows,
           (unsigned long long)r->listen_drops, (unsigned long long)r->req_q_full_do_cookies,
           (unsigned long long)r->req_q_full_drop);
    printf("cookies: SyncookiesSent %llu SyncookiesRecv %llu SyncookiesFailed %llu\n",
           (unsigned long long)r->syncookies_sent, (unsigned long long)r->syncookies_recv,
           (unsigned long long)r->syncookies_failed);
    printf("cpu_ns_per_flood_syn %.1f (server sk_input of %llu flood SYNs: %.1f ms CPU; whole run %.1f ms CPU)\n",
           r->cpu_ns_per_syn, (unsigned long long)r->flood_syns, (double)r->flood_cpu_ns / 1e6,
           (double)r->total_cpu_ns / 1e6);
    if (r->messages)
        printf("server message (%u): %s\n", r->messages, r->first_message);

    if (r->completed == r->clients) {
        printf("Every legitimate client connected and got its reply during the flood; the SYN queue "
               "never held more than %u requests.\n",
               r->syn_queue_peak);
    } else if (p->syncookies == 0) {
        printf("Without SYN cookies the SYN queue stayed full of spoofed requests: %u of %u legitimate "
               "clients did not complete, %u of them still stuck in SYN_SENT retrying their SYNs.\n",
               r->clients - r->completed, r->clients, r->stuck_syn_sent);
    } else {
        printf("%u of %u legitimate clients did not complete.\n", r->clients - r->completed, r->clients);
    }
}

int sk_cmd_flood(int argc, char **argv)
{
    sk_flood_params p;
    sk_flood_defaults(&p);
    static const struct option longopts[] = {
        {"syncookies", required_argument, NULL, 'c'}, {"rate", required_argument, NULL, 'r'},
        {"clients", required_argument, NULL, 'n'},    {"backlog", required_argument, NULL, 'b'},
        {"duration", required_argument, NULL, 'd'},   {"grace", required_argument, NULL, 'g'},
        {"seed", required_argument, NULL, 's'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    unsigned long long v;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (!sk_cli_parse_uint(optarg, 2, &v))
                return usage_error("--syncookies wants 0, 1 or 2, not '%s'", optarg);
            p.syncookies = (int)v;
            break;
        case 'r':
            if (!sk_cli_parse_uint(optarg, 1000000000ull, &v))
                return usage_error("--rate wants SYNs per second from 0 to 1000000000, not '%s'", optarg);
            p.rate = v;
            break;
        case 'n':
            if (!sk_cli_parse_uint(optarg, 1000000, &v))
                return usage_error("--clients wants a number from 0 to 1000000, not '%s'", optarg);
            p.clients = (uint32_t)v;
            break;
        case 'b':
            if (!sk_cli_parse_uint(optarg, 65535, &v))
                return usage_error("--backlog wants a number from 0 to 65535, not '%s'", optarg);
            p.backlog = (uint32_t)v;
            break;
        case 'd':
            if (!sk_cli_parse_seconds(optarg, 3600.0, &p.duration) || p.duration == 0)
                return usage_error("--duration wants seconds above 0 and at most 3600, not '%s'", optarg);
            break;
        case 'g':
            if (!sk_cli_parse_seconds(optarg, 3600.0, &p.grace))
                return usage_error("--grace wants seconds from 0 to 3600, not '%s'", optarg);
            break;
        case 's':
            if (!sk_cli_parse_uint(optarg, UINT64_MAX, &v))
                return usage_error("--seed wants a non-negative integer, not '%s'", optarg);
            p.seed = v;
            break;
        case 'h':
            sk_cmd_flood_usage(stdout);
            return SK_CLI_EXIT_OK;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    sk_flood_result r;
    char err[160] = "";
    int rc = sk_flood_run(&p, &r, err, sizeof err);
    if (rc == -EINVAL)
        return usage_error("%s", err);
    if (rc < 0) {
        fprintf(stderr, "synack flood: %s\n", err[0] ? err : sk_strerror(rc));
        return SK_CLI_EXIT_FAIL;
    }
    print_result(&p, &r);
    return r.completed == r.clients ? SK_CLI_EXIT_OK : SK_CLI_EXIT_FAIL;
}
