/*
 * `synack lab [NAME] [--fix] [--json] [--pcap FILE] [--seed N] [--scale N]
 * [--hold] [-v]`: the lifecycle problems an operator meets, each
 * reproduced in virtual time on the in-memory wire and shown through the
 * views Linux gives (ss, nstat, sysctl, dmesg) computed by synack's own
 * observers on the running stacks; with --fix the same workload with the
 * fix applied, side by side.  The scenarios live in tools/lab/.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hold.h"
#include "commands.h"
#include "lab/lab.h"

/* ------------------------------------------------------------------ */
/* Text                                                                  */
/* ------------------------------------------------------------------ */

static const char *host_addr(const char *host)
{
    if (!strcmp(host, "client"))
        return "10.0.0.1";
    if (!strcmp(host, "server"))
        return "10.0.0.2";
    if (!strcmp(host, "synack"))
        return "10.77.0.2, synack over TUN";
    if (!strcmp(host, "kernel"))
        return "10.77.0.1, the Linux kernel";
    return "";
}

static void print_view_header(const lab_view_rec *v)
{
    printf("\n-- %s, on the %s (%s)\n$ %s\n", v->moment, v->host, host_addr(v->host), v->command);
}

static void print_outcome(const char *label, const lab_result *r)
{
    printf("%s%s\n", label, r->outcome.text[0] ? r->outcome.text : "(none)");
}

static void print_result(const lab_scenario *sc, const lab_result *r, bool fix)
{
    printf("== The workload%s\n%s\n", fix ? " (with the fix)" : "", r->workload);
    printf("\n== Timeline: one connection's segments as tcpdump -nn prints them, its state transitions, and the "
           "kernel log\n");
    fputs(r->timeline ? r->timeline : "", stdout);
    if (r->timeline_cut)
        printf("    ... %zu more lines (-v prints them all)\n", r->timeline_cut);
    printf("\n== What an operator sees\n");
    for (int i = 0; i < r->nviews; i++) {
        print_view_header(&r->views[i]);
        fputs(r->views[i].output, stdout);
    }
    printf("\n== Outcome\n");
    print_outcome("", r);
    printf("\n== Verdict\n%s\n", r->verdict);
    (void)sc;
}

static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    char *p = text;
    while (*p && n < max) {
        lines[n++] = p;
        char *e = strchr(p, '\n');
        if (!e)
            break;
        *e = '\0';
        p = e + 1;
    }
    return n;
}

/* Tabs (ss -s prints some) would break the columns: expand them. */
static char *expand_tabs(const char *in)
{
    size_t cap = strlen(in) * 8 + 1;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    size_t col = 0;
    for (; *in; in++) {
        if (*in == '\t') {
            do {
                *o++ = ' ';
                col++;
            } while (col % 8);
        } else {
            *o++ = *in;
            col = *in == '\n' ? 0 : col + 1;
        }
    }
    *o = '\0';
    return out;
}

static void print_side_by_side(const lab_result *a, const lab_result *b)
{
    int n = a->nviews < b->nviews ? a->nviews : b->nviews;
    for (int i = 0; i < n; i++) {
        print_view_header(&a->views[i]);
        if (strcmp(a->views[i].command, b->views[i].command))
            printf("$ %s    # with the fix\n", b->views[i].command);
        char *ta = expand_tabs(a->views[i].output), *tb = expand_tabs(b->views[i].output);
        if (!ta || !tb) {
            free(ta);
            free(tb);
            return;
        }
        char *la[200], *lb[200];
        size_t na = split_lines(ta, la, 200), nb = split_lines(tb, lb, 200);
        int w = 17;
        for (size_t k = 0; k < na; k++)
            if ((int)strlen(la[k]) > w)
                w = (int)strlen(la[k]);
        if (w > 96)
            w = 96;
        printf("%-*s | %s\n", w, "# without the fix", "# with the fix");
        for (size_t k = 0; k < (na > nb ? na : nb); k++)
            printf("%-*.*s | %s\n", w, w, k < na ? la[k] : "", k < nb ? lb[k] : "");
        free(ta);
        free(tb);
    }
}

/* ------------------------------------------------------------------ */
/* JSON                                                                  */
/* ------------------------------------------------------------------ */

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_num(double v)
{
    if (v == (double)(long long)v)
        printf("%lld", (long long)v);
    else
        printf("%.6g", v);
}

static void json_kv(const lab_kv *kv, int n)
{
    putchar('{');
    for (int i = 0; i < n; i++) {
        if (i)
            putchar(',');
        json_str(kv[i].name);
        putchar(':');
        json_num(kv[i].value);
    }
    putchar('}');
}

static void json_run(const lab_result *r)
{
    printf("\"workload\":");
    json_str(r->workload);
    printf(",\"timeline\":");
    json_str(r->timeline ? r->timeline : "");
    printf(",\"views\":[");
    for (int i = 0; i < r->nviews; i++) {
        const lab_view_rec *v = &r->views[i];
        printf("%s{\"moment\":", i ? "," : "");
        json_str(v->moment);
        printf(",\"host\":");
        json_str(v->host);
        printf(",\"command\":");
        json_str(v->command);
        printf(",\"output\":");
        json_str(v->output);
        putchar('}');
    }
    printf("],\"counters\":");
    json_kv(r->counters, r->ncounters);
    printf(",\"figures\":");
    json_kv(r->figures, r->nfigures);
    printf(",\"outcome\":{\"text\":");
    json_str(r->outcome.text);
    printf(",\"errno\":");
    if (r->outcome.err[0])
        json_str(r->outcome.err);
    else
        fputs("null", stdout);
    printf(",\"bytes\":%lld,\"seconds\":", r->outcome.bytes);
    json_num(r->outcome.seconds);
    printf(",\"ok\":%lld,\"failed\":%lld}", r->outcome.ok, r->outcome.failed);
    printf(",\"verdict\":");
    json_str(r->verdict);
}

static void print_json(const lab_scenario *sc, const lab_config *cfg, const lab_result *a, const lab_result *b)
{
    printf("{\"scenario\":");
    json_str(sc->name);
    printf(",\"problem\":");
    json_str(sc->problem);
    printf(",\"finding\":");
    if (sc->finding)
        json_str(sc->finding);
    else
        fputs("null", stdout);
    printf(",\"seed\":%llu,\"scale\":%u,\"reproduced\":%s,", (unsigned long long)cfg->seed,
           cfg->scale ? cfg->scale : sc->default_scale, a->reproduced ? "true" : "false");
    json_run(a);
    if (b) {
        printf(",\"fix\":");
        json_str(sc->fix ? sc->fix : sc->contrast);
        printf(",\"fix_is_contrast\":%s,\"fixed\":%s,\"fixed_run\":{", sc->fix ? "false" : "true",
               sc->fix && b->fixed ? "true" : "false");
        json_run(b);
        putchar('}');
    }
    printf("}\n");
}

/* ------------------------------------------------------------------ */
/* --hold                                                                */
/* ------------------------------------------------------------------ */

/* The stacks stay up in real time, observable with synack ss/nstat/sysctl
 * -N lab-client|lab-server, as `demo --hold` keeps its stacks. */
static int lab_hold(lab *L)
{
    sk_stack *stacks[LAB_MAX_HOSTS];
    char names[LAB_MAX_HOSTS][64];
    const char *name_ptrs[LAB_MAX_HOSTS];
    for (int i = 0; i < L->nhosts; i++) {
        stacks[i] = L->hosts[i].stack;
        snprintf(names[i], sizeof(names[i]), "lab-%s", L->hosts[i].name);
        name_ptrs[i] = names[i];
    }
    return sk_cli_hold("synack lab", L->wire, stacks, name_ptrs, L->nhosts);
}

/* ------------------------------------------------------------------ */
/* Command line                                                          */
/* ------------------------------------------------------------------ */

static void sk_cmd_lab_usage(FILE *out)
{
    fprintf(out,
            "usage: synack lab                    list the scenarios\n"
            "       synack lab NAME [--fix] [--json] [--pcap FILE] [--seed N] [--scale N] [--hold] [-v]\n"
            "\n"
            "Reproduces one TCP lifecycle problem between a client (10.0.0.1) and a server\n"
            "(10.0.0.2) on synack's in-memory wire, in virtual time with Linux's defaults, and\n"
            "shows it as an operator sees it on Linux: one connection's tcpdump lines and state\n"
            "transitions, then ss, nstat, sysctl and dmesg run on the stacks at the key moments,\n"
            "the application's outcome (errno, bytes, time) and a verdict naming the cause.\n"
            "\n"
            "options:\n"
            "  --fix        also run the workload with the fix applied and show both side by side\n"
            "               (scenarios with nothing to fix run a contrast instead)\n"
            "  --json       the same content as one JSON object (scenario, finding, reproduced,\n"
            "               fixed, views, counters, figures, outcome, verdict)\n"
            "  --pcap FILE  write every datagram of the (first) run to FILE\n"
            "  --seed N     seed of the wire and the stacks (default 1); runs are deterministic\n"
            "  --scale N    workload size (connections, requests or SYNs per second)\n"
            "  --hold       then keep the stacks up in real time, observable with\n"
            "               synack ss|nstat|sysctl -N lab-client|lab-server, until Ctrl-C\n"
            "  --live       the Linux kernel is the peer (connection-refused, close-wait-leak,\n"
            "               time-wait-pileup): synack runs as 10.77.0.2 on a TUN device, the kernel\n"
            "               is 10.77.0.1, and the kernel's own ss/sysctl show its side.  Run as root\n"
            "               in the namespace `scripts/netns.sh up NAME` makes:\n"
            "                 ip netns exec NAME synack lab close-wait-leak --live\n"
            "  --tun NAME   the TUN device for --live (default tun0)\n"
            "  -v           print the whole timeline\n"
            "\n"
            "exit status: 0 the scenario ran (and reproduced its problem), 1 it did not, 2 bad usage\n");
}

#define usage_error(...) sk_cli_usage_error("lab", "\nTry 'synack lab --help' for more.\n", __VA_ARGS__)

static void list_scenarios(void)
{
    size_t n;
    const lab_scenario *s = lab_scenarios(&n);
    printf("synack lab NAME [--fix] runs one of:\n\n");
    for (size_t i = 0; i < n; i++) {
        if (s[i].unavailable)
            printf("  %-26s %s [unavailable: %s]\n", s[i].name, s[i].problem, s[i].unavailable);
        else
            printf("  %-26s %s\n", s[i].name, s[i].problem);
    }
}

int sk_cmd_lab(int argc, char **argv)
{
    lab_config cfg = {.seed = 1};
    bool fix = false, json = false, hold = false, live = false;
    const char *tun = "tun0";
    enum { OPT_FIX = 256, OPT_JSON, OPT_PCAP, OPT_SEED, OPT_SCALE, OPT_HOLD, OPT_LIVE, OPT_TUN };
    static const struct option longopts[] = {
        {"fix", no_argument, NULL, OPT_FIX},           {"json", no_argument, NULL, OPT_JSON},
        {"pcap", required_argument, NULL, OPT_PCAP},   {"seed", required_argument, NULL, OPT_SEED},
        {"scale", required_argument, NULL, OPT_SCALE}, {"hold", no_argument, NULL, OPT_HOLD},
        {"live", no_argument, NULL, OPT_LIVE},         {"tun", required_argument, NULL, OPT_TUN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    unsigned long long v;
    while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FIX:
            fix = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_PCAP:
            if (!optarg[0])
                return usage_error("--pcap wants a file name");
            cfg.pcap_path = optarg;
            break;
        case OPT_SEED:
            if (!sk_cli_parse_uint(optarg, UINT64_MAX, &v))
                return usage_error("--seed wants a non-negative integer, not '%s'", optarg);
            cfg.seed = v;
            break;
        case OPT_SCALE:
            if (!sk_cli_parse_uint(optarg, 100000, &v) || v < 10)
                return usage_error("--scale wants an integer from 10 to 100000, not '%s'", optarg);
            cfg.scale = (unsigned)v;
            break;
        case OPT_HOLD:
            hold = true;
            break;
        case OPT_LIVE:
            live = true;
            break;
        case OPT_TUN:
            tun = optarg;
            break;
        case 'v':
            cfg.verbose = true;
            break;
        case 'h':
            sk_cmd_lab_usage(stdout);
            return SK_CLI_EXIT_OK;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc) {
        list_scenarios();
        return SK_CLI_EXIT_OK;
    }
    if (optind + 1 < argc)
        return usage_error("unexpected argument '%s'", argv[optind + 1]);
    const lab_scenario *sc = lab_find(argv[optind]);
    if (!sc)
        return usage_error("no scenario named '%s' (`synack lab` lists them)", argv[optind]);
    if (sc->unavailable) {
        fprintf(stderr, "synack lab: %s is not available: %s\n", sc->name, sc->unavailable);
        return SK_CLI_EXIT_FAIL;
    }
    if (live && !lab_live_available(sc->name)) {
        fprintf(stderr, "synack lab: %s has no --live version (live: connection-refused, close-wait-leak, "
                        "time-wait-pileup); make it against the kernel with synack serve/connect and their "
                        "behaviour options\n", sc->name);
        return SK_CLI_EXIT_FAIL;
    }
    if (live && hold) {
        fprintf(stderr, "synack lab: --hold goes with the in-memory runs, not --live\n");
        return SK_CLI_EXIT_USAGE;
    }
    if (sc->default_scale == 0 && cfg.scale)
        fprintf(stderr, "synack lab: %s has a fixed workload; --scale ignored\n", sc->name);

    lab_result a, b;
    char err[256];
    lab *held = NULL;
    int r0 = live ? lab_live_run(sc, &cfg, false, tun, &a, err, sizeof(err))
                  : lab_run(sc, &cfg, false, &a, hold && !fix ? &held : NULL, err, sizeof(err));
    if (r0 < 0) {
        fprintf(stderr, "synack lab %s: %s\n", sc->name, err);
        lab_result_free(&a);
        return SK_CLI_EXIT_FAIL;
    }
    bool have_b = false;
    if (fix) {
        lab_config cfg2 = cfg;
        cfg2.pcap_path = NULL;
        int r1 = live ? lab_live_run(sc, &cfg2, true, tun, &b, err, sizeof(err))
                      : lab_run(sc, &cfg2, true, &b, hold ? &held : NULL, err, sizeof(err));
        if (r1 < 0) {
            fprintf(stderr, "synack lab %s --fix: %s\n", sc->name, err);
            lab_result_free(&a);
            lab_result_free(&b);
            return SK_CLI_EXIT_FAIL;
        }
        have_b = true;
    }
    if (json) {
        print_json(sc, &cfg, &a, have_b ? &b : NULL);
    } else {
        printf("synack lab %s: %s\n\n", sc->name, sc->problem);
        print_result(sc, &a, false);
        printf("reproduced: %s\n", a.reproduced ? "yes" : "NO");
        if (have_b) {
            printf("\n== %s: %s\n", sc->fix ? "With the fix" : "Contrast", sc->fix ? sc->fix : sc->contrast);
            printf("%s\n", b.workload);
            print_side_by_side(&a, &b);
            printf("\n== Outcome\n");
            print_outcome("without the fix: ", &a);
            print_outcome(sc->fix ? "with the fix:    " : "contrast:        ", &b);
            printf("\n== Verdict\n%s\n", b.verdict);
            if (sc->fix)
                printf("fixed: %s\n", b.fixed ? "yes" : "NO");
        }
    }
    fflush(stdout);
    int rc = a.reproduced && (!have_b || !sc->fix || b.fixed) ? SK_CLI_EXIT_OK : SK_CLI_EXIT_FAIL;
    lab_result_free(&a);
    if (have_b)
        lab_result_free(&b);
    if (held) {
        int hr = lab_hold(held);
        lab_free(held);
        if (hr != SK_CLI_EXIT_OK)
            rc = hr;
    }
    return rc;
}
