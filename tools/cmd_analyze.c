/*
 * synack analyze FILE: TCP connections reconstructed from a capture and
 * the findings an expert would draw from it (src/analyze/analyze.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "analyze/analyze.h"
#include "cli.h"
#include "commands.h"
#include "observe/trace.h"

#define NS 1000000000LL

typedef struct actx {
    bool json, conns, first_row, verbose;
    uint64_t focus;
    bool focus_seen;
    sk_trace *trace;
    FILE *out;
} actx;

static void sk_cmd_analyze_usage(FILE *out)
{
    fprintf(out,
            "usage: synack analyze FILE [--conns | --conn N [-v] | --at TIME] [--json]\n"
            "                            [--close-wait SECONDS] [--short-min N] [--max-live N]\n"
            "\n"
            "Reads a capture (pcap or pcapng: Ethernet, Linux cooked v1/v2, raw IP,\n"
            "loopback; VLAN tags; IPv4 and IPv6), reconstructs every TCP connection\n"
            "with both endpoints' inferred states, and prints a summary in the shape\n"
            "of `ss -s` followed by findings with evidence and fixes.\n"
            "\n"
            "  --conns          also a table of every connection, as `ss -tan` with both ends\n"
            "  --conn N         connection N's ladder: tcpdump lines, each side's state after each\n"
            "  -v               in the ladder, IPv6 lines as tcpdump -v prints them (flow label,\n"
            "                   hop limit, payload length, checksum verdict)\n"
            "  --at TIME        the sockets `ss -tan` would have shown at TIME: HH:MM:SS[.frac]\n"
            "                   (UTC, on the capture's first day), +SECONDS from the first packet,\n"
            "                   or seconds since the epoch\n"
            "  --json           the same as one JSON object (findings: [{id, severity, ...}])\n"
            "  --close-wait S   close-wait-suspected after S seconds in CLOSE-WAIT (2)\n"
            "  --short-min N    many-short-connections from N sub-second connections to one server (50)\n"
            "  --max-live N     keep at most N connections at once, retiring the oldest half-open\n"
            "                   first past it (1000000): bounds memory on SYN-flood captures\n"
            "\n"
            "Checksums are not verified: a capture taken on a sending host holds its\n"
            "outgoing segments before checksum offload fills them in.\n");
}

static void fmt_options(const ska_side *s, char *buf, size_t cap)
{
    if (!s->opt_seen) {
        snprintf(buf, cap, "-");
        return;
    }
    size_t n = 0;
    buf[0] = 0;
    if (s->mss)
        n += (size_t)snprintf(buf + n, cap - n, "mss %u", s->mss);
    if (s->sack_ok && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%ssackOK", n ? "," : "");
    if (s->ts && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%sTS", n ? "," : "");
    if (s->wscale >= 0 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%swscale %d", n ? "," : "", s->wscale);
    if (!n)
        snprintf(buf, cap, "none");
}

static double hs_ms(const ska_conn *c, double *syn_synack, double *synack_ack)
{
    *syn_synack = *synack_ack = -1;
    if (c->side[1].syns && c->side[0].syns && c->hs_synack_time)
        *syn_synack = (double)(c->hs_synack_time - c->side[0].last_syn_time) / 1e6;
    if (c->handshake_done && c->hs_synack_time)
        *synack_ack = (double)(c->hs_ack_time - c->side[1].last_syn_time) / 1e6;
    if (*syn_synack >= 0 && *synack_ack >= 0)
        return *syn_synack + *synack_ack;
    return -1;
}

static const char *who(int i) { return i < 0 ? "-" : i == 0 ? "client" : "server"; }

static int tw_holder(const ska_conn *c)
{
    if (c->side[0].state == SKA_TIME_WAIT && c->side[1].state == SKA_TIME_WAIT)
        return 2;
    if (c->side[0].state == SKA_TIME_WAIT)
        return 0;
    if (c->side[1].state == SKA_TIME_WAIT)
        return 1;
    return -1;
}

static void json_conn(FILE *o, const ska_conn *c)
{
    char ca[80], sa[80], t[32], oc[80], os[80];
    ska_format_addr(&c->side[0].addr, ca, sizeof ca);
    ska_format_addr(&c->side[1].addr, sa, sizeof sa);
    fmt_options(&c->side[0], oc, sizeof oc);
    fmt_options(&c->side[1], os, sizeof os);
    double a, b, rtt = hs_ms(c, &a, &b);
    int tw = tw_holder(c);
    fprintf(o, "{\"id\":%llu,\"client\":\"%s\",\"server\":\"%s\",\"client_state\":\"%s\",\"server_state\":\"%s\",",
            (unsigned long long)c->id, ca, sa, ska_state_name(c->side[0].state), ska_state_name(c->side[1].state));
    fprintf(o, "\"opened_by\":\"%s\",\"closed_first_by\":\"%s\",\"time_wait\":\"%s\",\"refused\":%s,",
            c->opened_seen ? "client" : c->midstream ? "unknown" : "client", who(c->closer),
            tw == 2 ? "both" : who(tw), c->refused ? "true" : "false");
    fprintf(o, "\"midstream\":%s,\"packets\":%llu,\"first_packet\":%llu,\"last_packet\":%llu,",
            c->midstream ? "true" : "false", (unsigned long long)c->pkts, (unsigned long long)c->first_pkt,
            (unsigned long long)c->last_pkt);
    ska_format_time(c->first_time, t, sizeof t);
    fprintf(o, "\"start\":\"%s\",\"duration_s\":%.6f,", t, (double)(c->last_time - c->first_time) / 1e9);
    if (rtt >= 0)
        fprintf(o, "\"handshake_ms\":%.3f,\"syn_to_synack_ms\":%.3f,\"synack_to_ack_ms\":%.3f,", rtt, a, b);
    fprintf(o, "\"bytes_c2s\":%llu,\"bytes_s2c\":%llu,\"retrans_c2s\":%llu,\"retrans_s2c\":%llu,",
            (unsigned long long)c->side[0].bytes, (unsigned long long)c->side[1].bytes,
            (unsigned long long)c->side[0].retrans, (unsigned long long)c->side[1].retrans);
    fprintf(o, "\"syns\":%u,\"synacks\":%u,", c->side[0].syns, c->side[1].syns);
    fprintf(o, "\"zero_window_c\":%u,\"zero_window_s\":%u,\"zero_window_episodes\":%u,",
            c->side[0].zw_pkts, c->side[1].zw_pkts, c->side[0].zw_episodes + c->side[1].zw_episodes);
    fprintf(o, "\"options_c\":\"%s\",\"options_s\":\"%s\",\"history\":[", oc, os);
    for (int i = 0; i < c->ntrans; i++) {
        const ska_transition *tr = &c->trans[i];
        ska_format_time(tr->t, t, sizeof t);
        fprintf(o, "%s{\"side\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"packet\":%llu,\"time\":\"%s\",\"why\":",
                i ? "," : "", who(tr->side), ska_state_name((ska_state)tr->from), ska_state_name((ska_state)tr->to),
                (unsigned long long)tr->pkt, t);
        ska_json_string(o, tr->why);
        fputc('}', o);
    }
    fprintf(o, "]}");
}

static void text_row_header(FILE *o)
{
    fprintf(o, "%-5s %-10s %-10s %-22s %-22s %-6s %-6s %-6s %9s %9s %9s %5s %5s %4s  %s\n", "Conn", "Client",
            "Server", "Client:Port", "Server:Port", "Close1", "TW", "Pkts", "RTT(ms)", "Bytes>", "Bytes<", "Rtx>",
            "Rtx<", "ZW", "Options (client / server)");
}

static void text_row(FILE *o, const ska_conn *c)
{
    char ca[80], sa[80], oc[80], os[80], rtts[32];
    ska_format_addr(&c->side[0].addr, ca, sizeof ca);
    ska_format_addr(&c->side[1].addr, sa, sizeof sa);
    fmt_options(&c->side[0], oc, sizeof oc);
    fmt_options(&c->side[1], os, sizeof os);
    double a, b, rtt = hs_ms(c, &a, &b);
    if (rtt >= 0)
        snprintf(rtts, sizeof rtts, "%.3f", rtt);
    else
        snprintf(rtts, sizeof rtts, "-");
    int tw = tw_holder(c);
    fprintf(o, "%-5llu %-10s %-10s %-22s %-22s %-6s %-6s %-6llu %9s %9llu %9llu %5llu %5llu %4u  %s / %s%s\n",
            (unsigned long long)c->id, ska_state_name(c->side[0].state), ska_state_name(c->side[1].state), ca, sa,
            who(c->closer), tw == 2 ? "both" : who(tw), (unsigned long long)c->pkts, rtts,
            (unsigned long long)c->side[0].bytes, (unsigned long long)c->side[1].bytes,
            (unsigned long long)c->side[0].retrans, (unsigned long long)c->side[1].retrans,
            c->side[0].zw_pkts + c->side[1].zw_pkts, oc, os, c->midstream ? " (mid-connection)" : "");
}

static void on_retire(void *ctx, const ska_conn *c)
{
    actx *x = ctx;
    if (x->focus && c->id == x->focus) {
        if (x->json) {
            fprintf(x->out, "],\"conn\":");
            json_conn(x->out, c);
        } else {
            fprintf(x->out, "\nconn %llu state history (inferred from the capture):\n", (unsigned long long)c->id);
            for (int i = 0; i < c->ntrans; i++) {
                const ska_transition *tr = &c->trans[i];
                char t[32];
                ska_format_time(tr->t, t, sizeof t);
                fprintf(x->out, "  %s pkt %-6llu %s %-10s -> %-10s %s\n", t, (unsigned long long)tr->pkt,
                        who(tr->side), ska_state_name((ska_state)tr->from), ska_state_name((ska_state)tr->to),
                        tr->why);
            }
            fputc('\n', x->out);
            text_row_header(x->out);
            text_row(x->out, c);
        }
        x->focus_seen = true;
    }
    if (!x->conns)
        return;
    if (x->json) {
        fputs(x->first_row ? "" : ",", x->out);
        json_conn(x->out, c);
    } else {
        text_row(x->out, c);
    }
    x->first_row = false;
}

static void on_focus(void *ctx, const ska_conn *c, uint64_t pkt, int64_t t, int dir, const uint8_t *ip,
                     size_t iplen, int family)
{
    actx *x = ctx;
    char line[SK_TRACE_LINE_MAX + 128];
    (void)family;
    (void)dir;
    sk_trace_format_datagram(x->trace, (sk_time_ns)(t % (86400 * NS)), ip, iplen, line, sizeof line);
    if (x->json) {
        fputs(x->focus_seen ? "," : "", x->out);
        fprintf(x->out, "{\"packet\":%llu,\"line\":", (unsigned long long)pkt);
        ska_json_string(x->out, line);
        fprintf(x->out, ",\"client\":\"%s\",\"server\":\"%s\"}", ska_state_name(c->side[0].state),
                ska_state_name(c->side[1].state));
        x->focus_seen = true;
    } else {
        fprintf(x->out, "%-6llu %s  | client %s, server %s\n", (unsigned long long)pkt, line,
                ska_state_name(c->side[0].state), ska_state_name(c->side[1].state));
    }
}

/* --at: "HH:MM:SS[.frac]", "+SECONDS" or epoch seconds.  Time-of-day
 * forms need the capture's first day, so they are resolved after a quick
 * look at the first packet (first_ns). */
static int parse_at(const char *s, int64_t first_ns, int64_t *out)
{
    char *end;
    if (s[0] == '+') {
        double d = strtod(s + 1, &end);
        if (*end || end == s + 1 || d < 0)
            return -1;
        *out = first_ns + (int64_t)(d * 1e9);
        return 0;
    }
    unsigned h, m;
    double sec;
    int used = 0;
    if (sscanf(s, "%u:%u:%lf%n", &h, &m, &sec, &used) == 3 && !s[used] && h < 24 && m < 60 && sec < 61) {
        int64_t day = first_ns / (86400 * NS) * (86400 * NS);
        *out = day + (int64_t)h * 3600 * NS + (int64_t)m * 60 * NS + (int64_t)(sec * 1e9);
        return 0;
    }
    double e = strtod(s, &end);
    if (*end || end == s || e <= 0)
        return -1;
    *out = (int64_t)(e * 1e9);
    return 0;
}

static int64_t first_timestamp(const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
    if (!pc)
        return 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    int64_t t = 0;
    if (pcap_next_ex(pc, &h, &d) == 1)
        t = (int64_t)h->ts.tv_sec * NS + (int64_t)h->ts.tv_usec;
    pcap_close(pc);
    return t;
}

static void print_at(FILE *o, ska *a, int64_t at, bool json)
{
    size_t cap = 1 << 20;
    const ska_conn **v = malloc(cap * sizeof *v);
    if (!v)
        return;
    size_t n = ska_live(a, v, cap);
    char ts[32];
    ska_format_time(at, ts, sizeof ts);
    if (json)
        fprintf(o, "\"at\":\"%s\",\"sockets\":[", ts);
    else
        fprintf(o, "sockets at %s, as `ss -tan` on each host would have listed them (Send-Q: bytes sent and not yet acknowledged):\n"
                   "%-11s %-8s %-22s %-22s %s\n",
                ts, "State", "Send-Q", "Local Address:Port", "Peer Address:Port", "Conn / since");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const ska_conn *c = v[i];
        for (int si = 0; si < 2; si++) {
            const ska_side *s = &c->side[si], *p = &c->side[!si];
            if (s->state == SKA_UNKNOWN || s->state == SKA_CLOSED || s->state == SKA_LISTEN)
                continue;
            if (s->state == SKA_TIME_WAIT && at - s->state_since > 60 * NS)
                continue;
            uint32_t sendq = s->seq_known && p->ack_known && (int32_t)(s->snd_nxt - p->ack_max) > 0
                                 ? s->snd_nxt - p->ack_max
                                 : 0;
            char la[80], pa[80], since[32];
            ska_format_addr(&s->addr, la, sizeof la);
            ska_format_addr(&p->addr, pa, sizeof pa);
            ska_format_time(s->state_since, since, sizeof since);
            if (json) {
                fprintf(o, "%s{\"conn\":%llu,\"side\":\"%s\",\"state\":\"%s\",\"send_q\":%u,\"local\":\"%s\",\"peer\":\"%s\",\"since\":\"%s\"}",
                        first ? "" : ",", (unsigned long long)c->id, who(si), ska_state_name(s->state), sendq, la,
                        pa, since);
            } else {
                fprintf(o, "%-11s %-8u %-22s %-22s conn %llu %s since %s\n", ska_state_name(s->state), sendq, la, pa,
                        (unsigned long long)c->id, who(si), since);
            }
            first = false;
        }
    }
    if (json)
        fprintf(o, "],");
    free(v);
}

static void print_summary(FILE *o, const char *path, const ska_totals *t)
{
    char t1[32], t2[32];
    ska_format_time(t->first_time, t1, sizeof t1);
    ska_format_time(t->last_time, t2, sizeof t2);
    fprintf(o, "%s: %llu packets (%llu IPv4, %llu IPv6, %llu TCP, %llu ICMP), %s to %s (%.3f s)\n", path,
            (unsigned long long)t->frames, (unsigned long long)t->ipv4, (unsigned long long)t->ipv6,
            (unsigned long long)t->tcp, (unsigned long long)t->icmp, t1, t2,
            (double)(t->last_time - t->first_time) / 1e9);
    if (t->truncated || t->undecodable || t->fragments || t->time_went_back)
        fprintf(o, "  (%llu cut by the snaplen, %llu undecodable, %llu fragments, %llu with timestamps going back)\n",
                (unsigned long long)t->truncated, (unsigned long long)t->undecodable,
                (unsigned long long)t->fragments, (unsigned long long)t->time_back_pkts);
    uint64_t sock[SKA_NSTATES] = {0};
    for (int i = 0; i < 2; i++)
        for (int s = 0; s < SKA_NSTATES; s++)
            sock[s] += t->final_state[i][s];
    fprintf(o, "Total: %llu connections (%llu IPv4, %llu IPv6), at most %llu live at once\n",
            (unsigned long long)t->conns, (unsigned long long)t->conns4, (unsigned long long)t->conns6,
            (unsigned long long)t->live_max);
    if (t->evicted)
        fprintf(o, "  (%llu retired early to bound memory: the capture held more live connections than the table)\n",
                (unsigned long long)t->evicted);
    fprintf(o, "TCP:   %llu endpoints (estab %llu, closed %llu, orphaned %llu, timewait %llu)\n",
            (unsigned long long)(2 * t->conns - sock[SKA_UNKNOWN] - sock[SKA_LISTEN]),
            (unsigned long long)sock[SKA_ESTABLISHED], (unsigned long long)sock[SKA_CLOSED],
            (unsigned long long)(sock[SKA_FIN_WAIT1] + sock[SKA_FIN_WAIT2] + sock[SKA_CLOSING] + sock[SKA_LAST_ACK]),
            (unsigned long long)sock[SKA_TIME_WAIT]);
    fprintf(o, "\nFinal state  Clients  Servers\n");
    for (int s = 1; s < SKA_NSTATES; s++)
        if (t->final_state[0][s] || t->final_state[1][s])
            fprintf(o, "%-12s %7llu  %7llu\n", ska_state_name((ska_state)s), (unsigned long long)t->final_state[0][s],
                    (unsigned long long)t->final_state[1][s]);
}

static void print_findings_text(FILE *o, const ska_finding **f, int n)
{
    if (!n) {
        fprintf(o, "\nfindings: none\n");
        return;
    }
    fprintf(o, "\nfindings:\n");
    for (int i = 0; i < n; i++) {
        fprintf(o, "[%s] %s: %s\n", ska_severity_name(f[i]->severity), f[i]->id, f[i]->summary);
        for (int e = 0; e < f[i]->nev; e++)
            fprintf(o, "    %s\n", f[i]->ev[e].text);
        if (f[i]->count > (uint64_t)f[i]->nev && f[i]->nev == SKA_EVIDENCE_MAX)
            fprintf(o, "    ... and %llu more\n", (unsigned long long)(f[i]->count - (uint64_t)f[i]->nev));
        fprintf(o, "  fix: %s\n", f[i]->fix);
    }
}

static void print_findings_json(FILE *o, const ska_finding **f, int n)
{
    fprintf(o, "\"findings\":[");
    for (int i = 0; i < n; i++) {
        fprintf(o, "%s{\"id\":\"%s\",\"severity\":\"%s\",\"count\":%llu,\"events\":%llu,\"summary\":", i ? "," : "",
                f[i]->id, ska_severity_name(f[i]->severity), (unsigned long long)f[i]->count,
                (unsigned long long)f[i]->events);
        ska_json_string(o, f[i]->summary);
        fprintf(o, ",\"connections\":[");
        for (int k = 0; k < f[i]->nconns; k++)
            fprintf(o, "%s%llu", k ? "," : "", (unsigned long long)f[i]->conns[k]);
        fprintf(o, "],\"evidence\":[");
        for (int e = 0; e < f[i]->nev; e++) {
            char t[32];
            ska_format_time(f[i]->ev[e].t, t, sizeof t);
            fprintf(o, "%s{\"conn\":%llu,\"packet\":%llu,", e ? "," : "", (unsigned long long)f[i]->ev[e].conn,
                    (unsigned long long)f[i]->ev[e].pkt);
            if (f[i]->ev[e].t)
                fprintf(o, "\"time\":\"%s\",", t);
            fprintf(o, "\"text\":");
            ska_json_string(o, f[i]->ev[e].text);
            fputc('}', o);
        }
        fprintf(o, "],\"fix\":");
        ska_json_string(o, f[i]->fix);
        fputc('}', o);
    }
    fprintf(o, "]");
}

#define usage_error(...) sk_cli_usage_error("analyze", "\nTry 'synack analyze --help' for more.\n", __VA_ARGS__)

int sk_cmd_analyze(int argc, char **argv)
{
    const char *path = NULL, *at_s = NULL;
    actx x = {.out = stdout, .first_row = true};
    ska_options o;
    ska_options_default(&o);
    enum { OPT_JSON = 256, OPT_CONNS, OPT_CONN, OPT_AT, OPT_CLOSE_WAIT, OPT_MAX_LIVE, OPT_SHORT_MIN };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"conns", no_argument, NULL, OPT_CONNS},
        {"conn", required_argument, NULL, OPT_CONN},
        {"at", required_argument, NULL, OPT_AT},
        {"close-wait", required_argument, NULL, OPT_CLOSE_WAIT},
        {"max-live", required_argument, NULL, OPT_MAX_LIVE},
        {"short-min", required_argument, NULL, OPT_SHORT_MIN},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    unsigned long long v;
    while ((c = getopt_long(argc, argv, ":hv", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            sk_cmd_analyze_usage(stdout);
            return SK_CLI_EXIT_OK;
        case OPT_JSON:
            x.json = true;
            break;
        case 'v':
            x.verbose = true;
            break;
        case OPT_CONNS:
            x.conns = true;
            break;
        case OPT_CONN:
            if (!sk_cli_parse_uint(optarg, SIZE_MAX, &v) || !v)
                return usage_error("--conn wants a connection number (1, 2, ...), not '%s'", optarg);
            x.focus = v;
            break;
        case OPT_AT:
            at_s = optarg;
            break;
        case OPT_CLOSE_WAIT:
            if (!sk_cli_parse_double(optarg, 0.0, 1e9, &o.close_wait_secs))
                return usage_error("--close-wait wants seconds, not '%s'", optarg);
            break;
        case OPT_MAX_LIVE:
            if (!sk_cli_parse_uint(optarg, SIZE_MAX, &v) || !v)
                return usage_error("--max-live wants a positive number, not '%s'", optarg);
            o.max_live = (size_t)v;
            break;
        case OPT_SHORT_MIN:
            if (!sk_cli_parse_uint(optarg, UINT_MAX, &v) || !v)
                return usage_error("--short-min wants a positive number, not '%s'", optarg);
            o.short_min = (unsigned)v;
            break;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        path = argv[optind++];
    if (optind < argc)
        return usage_error("one capture file at a time, not also '%s'", argv[optind]);
    if (!path) {
        sk_cmd_analyze_usage(stderr);
        return SK_CLI_EXIT_USAGE;
    }
    if ((x.focus != 0) + x.conns + (at_s != NULL) > 1) {
        fprintf(stderr, "synack analyze: --conns, --conn and --at are exclusive\n");
        return SK_CLI_EXIT_USAGE;
    }
    if (at_s) {
        if (parse_at(at_s, first_timestamp(path), &o.at_ns) < 0) {
            fprintf(stderr, "synack analyze: --at wants HH:MM:SS[.frac], +SECONDS or epoch seconds\n");
            return SK_CLI_EXIT_USAGE;
        }
    }
    o.focus = x.focus;
    o.on_focus = on_focus;
    o.on_retire = on_retire;
    o.ctx = &x;
    ska *an = ska_new(&o);
    x.trace = sk_trace_new(x.verbose ? SK_TRACE_VERBOSE : 0);
    if (!an || !x.trace) {
        fprintf(stderr, "synack analyze: out of memory\n");
        ska_free(an);
        sk_trace_free(x.trace);
        return SK_CLI_EXIT_FAIL;
    }
    if (x.json) {
        fputs("{", x.out);
        if (x.conns)
            fputs("\"conns\":[", x.out);
        if (x.focus)
            fputs("\"ladder\":[", x.out);
    } else if (x.conns) {
        text_row_header(x.out);
    }
    char err[512] = "";
    int rc = ska_read_file(an, path, err, sizeof err);
    if (rc < 0) {
        if (x.json)
            fflush(x.out);
        fprintf(stderr, "synack analyze: %s: %s\n", path, err);
        ska_free(an);
        sk_trace_free(x.trace);
        return SK_CLI_EXIT_FAIL;
    }
    if (rc > 0)
        fprintf(stderr, "synack analyze: %s: %s; the result covers what came before\n", path, err);
    if (at_s)
        print_at(x.out, an, o.at_ns, x.json);
    ska_finish(an);
    const ska_totals *t = ska_get_totals(an);
    const ska_finding *f[SKA_NFINDINGS];
    int nf = ska_get_findings(an, f, SKA_NFINDINGS);
    if (x.json) {
        if (x.conns)
            fputs("],", x.out);
        if (x.focus && !x.focus_seen)
            fputs("],", x.out);
        else if (x.focus)
            fputs(",", x.out);
        fprintf(x.out, "\"file\":");
        ska_json_string(x.out, path);
        char t1[32], t2[32];
        ska_format_time(t->first_time, t1, sizeof t1);
        ska_format_time(t->last_time, t2, sizeof t2);
        fprintf(x.out,
                ",\"partial\":%s,\"packets\":%llu,\"ipv4\":%llu,\"ipv6\":%llu,\"tcp\":%llu,\"icmp\":%llu,"
                "\"truncated\":%llu,\"undecodable\":%llu,\"time_back\":%llu,\"first\":\"%s\",\"last\":\"%s\","
                "\"connections\":%llu,\"live_max\":%llu,\"evicted\":%llu,\"retransmissions\":%llu,\"zero_window_packets\":%llu,",
                rc > 0 ? "true" : "false", (unsigned long long)t->frames, (unsigned long long)t->ipv4,
                (unsigned long long)t->ipv6, (unsigned long long)t->tcp, (unsigned long long)t->icmp,
                (unsigned long long)t->truncated, (unsigned long long)t->undecodable,
                (unsigned long long)t->time_back_pkts, t1, t2, (unsigned long long)t->conns,
                (unsigned long long)t->live_max, (unsigned long long)t->evicted, (unsigned long long)t->retrans, (unsigned long long)t->zw_pkts);
        if (rc > 0) {
            fprintf(x.out, "\"error\":");
            ska_json_string(x.out, err);
            fputc(',', x.out);
        }
        fprintf(x.out, "\"final_states\":{");
        bool first = true;
        for (int s = 1; s < SKA_NSTATES; s++)
            if (t->final_state[0][s] || t->final_state[1][s]) {
                fprintf(x.out, "%s\"%s\":[%llu,%llu]", first ? "" : ",", ska_state_name((ska_state)s),
                        (unsigned long long)t->final_state[0][s], (unsigned long long)t->final_state[1][s]);
                first = false;
            }
        fprintf(x.out, "},");
        print_findings_json(x.out, f, nf);
        fputs("}\n", x.out);
    } else {
        if (x.focus && !x.focus_seen)
            fprintf(x.out, "no connection %llu in %s\n", (unsigned long long)x.focus, path);
        if (x.conns || x.focus || at_s)
            fputc('\n', x.out);
        print_summary(x.out, path, t);
        if (!at_s)
            print_findings_text(x.out, f, nf);
    }
    ska_free(an);
    sk_trace_free(x.trace);
    return (x.focus && !x.focus_seen) ? SK_CLI_EXIT_FAIL : SK_CLI_EXIT_OK;
}
