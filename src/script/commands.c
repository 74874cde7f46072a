/*
 * `shell commands` and %{ python }% blocks.
 *
 * Commands are not run: each is mapped to what it means for a stack, as
 * shared/conformance/README.md describes — sysctl settings become
 * sk_sysctl_set, `nstat` reads synack's counters, and commands about the
 * kernel's environment are either meaningless here (no-ops) or a reason
 * to skip the script.  Code blocks run in python3 with the socket's
 * TCP_INFO fields as variables, as packetdrill does.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "script/run_internal.h"

#define MAX_WORDS 32
#define WORD_LEN 256

/* Tunables of Linux's TSO/pacing machinery: synack has no TSO (the runner
 * merges segments instead) and no pacing qdisc, so they change nothing.
 * (tcp_min_tso_segs is a real tunable: it floors tso_should_defer's
 * "full-sized TSO skb" test.) */
static const char *const meaningless_sysctls[] = {
    "net.ipv4.tcp_tso_win_divisor",
    "net.ipv4.tcp_pacing_ss_ratio",
    "net.ipv4.tcp_pacing_ca_ratio",
};

/* Splits a command into words, honouring "double" and 'single' quotes. */
static size_t split_words(const char *s, char words[][WORD_LEN], size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        size_t k = 0;
        char quote = 0;
        while (*s && (quote || !isspace((unsigned char)*s))) {
            if (!quote && (*s == '"' || *s == '\'')) {
                quote = *s++;
                continue;
            }
            if (quote && *s == quote) {
                quote = 0;
                s++;
                continue;
            }
            if (k + 1 < WORD_LEN)
                words[n][k++] = *s;
            s++;
        }
        words[n][k] = 0;
        /* Redirections and what they redirect to do not matter here. */
        if (strchr(words[n], '>') || strcmp(words[n], "/dev/null") == 0)
            continue;
        n++;
    }
    return n;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void save_sysctl(sk_runner *r, const char *name)
{
    for (size_t i = 0; i < r->saved_count; i++)
        if (strcmp(r->saved[i].name, name) == 0)
            return;
    if (r->saved_count == SK_RUN_MAX_SAVED_SYSCTLS)
        return;
    sk_run_saved_sysctl *s = &r->saved[r->saved_count];
    if (r->be->sysctl_get(r, name, s->value, sizeof(s->value)) != 0)
        return;
    snprintf(s->name, sizeof(s->name), "%s", name);
    r->saved_count++;
}

/* Sets "net.ipv4.NAME" to value.  from_defaults: names synack lacks are
 * ignored (defaults.sh lists Linux's whole baseline). */
static void set_sysctl(sk_runner *r, const char *name, const char *value, bool from_defaults, bool save)
{
    char err[256] = "";
    if (save)
        save_sysctl(r, name);
    int rc = r->be->sysctl_set(r, name, value, err, sizeof(err));
    if (rc == 0) {
        sk_run_trace(r, "sysctl %s=%s", name, value);
        return;
    }
    bool meaningless = false;
    for (size_t i = 0; i < sizeof(meaningless_sysctls) / sizeof(meaningless_sysctls[0]); i++)
        if (strcmp(meaningless_sysctls[i], name) == 0)
            meaningless = true;
    if (from_defaults || meaningless) {
        sk_run_trace(r, "sysctl %s=%s ignored: %s", name, value, err);
        return;
    }
    if (rc == -ENOENT) {
        sk_run_skip(r, "sysctl %s: synack has no such tunable", name);
        r->no_such_sysctl = true;
    }
    else
        sk_run_skip(r, "sysctl %s=%s rejected: %s", name, value, err);
}

static void run_sysctl(sk_runner *r, char words[][WORD_LEN], size_t n, bool from_defaults)
{
    bool ignore_missing = from_defaults;
    for (size_t i = 1; i < n && !r->done; i++) {
        if (words[i][0] == '-') {
            if (strchr(words[i], 'e'))
                ignore_missing = true; /* sysctl -e: ignore unknown keys */
            continue;
        }
        char *eq = strchr(words[i], '=');
        if (!eq) {
            sk_run_skip(r, "sysctl read of %s", words[i]);
            return;
        }
        *eq = 0;
        set_sysctl(r, words[i], eq + 1, ignore_missing, !from_defaults);
    }
}

/* set_sysctls.py /proc/sys/net/ipv4/NAME=VALUE ...: each path becomes a
 * dotted sysctl name; the old values are kept for sysctl_restore. */
static void run_set_sysctls(sk_runner *r, char words[][WORD_LEN], size_t n)
{
    for (size_t i = 1; i < n && !r->done; i++) {
        char *eq = strchr(words[i], '=');
        const char *path = words[i];
        if (!eq || strncmp(path, "/proc/sys/", 10) != 0) {
            sk_run_skip(r, "set_sysctls.py argument %s", words[i]);
            return;
        }
        *eq = 0;
        char name[WORD_LEN];
        snprintf(name, sizeof(name), "%s", path + 10);
        for (char *c = name; *c; c++)
            if (*c == '/')
                *c = '.';
        set_sysctl(r, name, eq + 1, false, true);
    }
}

static void restore_sysctls(sk_runner *r)
{
    for (size_t i = 0; i < r->saved_count; i++) {
        char err[128];
        /* Vectors print tab-separated and parse back the same way. */
        r->be->sysctl_set(r, r->saved[i].name, r->saved[i].value, err, sizeof(err));
    }
    r->saved_count = 0;
}

/* Finds defaults.sh: as written relative to the script, else the shared
 * tcp/common/defaults.sh found by walking up from the script. */
static FILE *open_defaults(sk_runner *r, const char *rel)
{
    char dir[1024], path[2048];
    snprintf(dir, sizeof(dir), "%s", r->script->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof(dir), ".");
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "r");
    while (!f) {
        snprintf(path, sizeof(path), "%s/tcp/common/defaults.sh", dir);
        f = fopen(path, "r");
        if (f)
            break;
        slash = strrchr(dir, '/');
        if (!slash)
            break;
        *slash = 0;
    }
    return f;
}

static void run_defaults(sk_runner *r, const char *rel)
{
    FILE *f = open_defaults(r, rel);
    if (!f) {
        sk_run_skip(r, "cannot find %s", rel);
        return;
    }
    char line[1024];
    static char words[MAX_WORDS][WORD_LEN];
    while (!r->done && fgets(line, sizeof(line), f)) {
        size_t n = split_words(line, words, MAX_WORDS);
        if (n > 0 && strcmp(words[0], "sysctl") == 0)
            run_sysctl(r, words, n, true);
    }
    fclose(f);
}

static uint64_t counter_sum(sk_runner *r, size_t i)
{
    return r->be->counter(r, i);
}

/* nstat: "nstat > /dev/null" takes a snapshot (nstat reports deltas);
 * "nstat | grep NAME" succeeds if NAME changed since. */
static void run_nstat(sk_runner *r, const char *cmd)
{
    const char *grep = strstr(cmd, "grep");
    if (!r->be->counter) {
        sk_run_skip(r, "`%s`: the %s backend's counters are not observable", cmd, r->be->name);
        return;
    }
    if (!grep) {
        size_t count = 0;
        while (sk_counter_name(count, NULL))
            count++;
        free(r->nstat);
        r->nstat = calloc(count ? count : 1, sizeof(*r->nstat));
        r->nstat_count = r->nstat ? count : 0;
        for (size_t i = 0; i < r->nstat_count; i++)
            r->nstat[i] = counter_sum(r, i);
        return;
    }
    char words[4][WORD_LEN];
    if (split_words(grep, words, 4) < 2) {
        sk_run_skip(r, "command `%s`", cmd);
        return;
    }
    const char *want = words[1];
    for (size_t i = 0; sk_counter_name(i, NULL); i++) {
        const char *group = NULL;
        const char *name = sk_counter_name(i, &group);
        char full[160];
        snprintf(full, sizeof(full), "%s%s", group ? group : "", name);
        if (!strstr(full, want))
            continue;
        uint64_t before = i < r->nstat_count ? r->nstat[i] : 0;
        /* "nstat | grep NAME | grep -q \" 3 \"": the delta must be exactly 3. */
        const char *q = strstr(grep + 4, "grep -q \" ");
        if (q) {
            char *endp = NULL;
            unsigned long long want_n = strtoull(q + 9, &endp, 10);
            if (endp && endp != q + 9 && *endp == ' ') {
                if (counter_sum(r, i) - before == want_n)
                    return;
                sk_run_fail(r, "`%s` failed: counter %s changed by %llu", cmd, full,
                            (unsigned long long)(counter_sum(r, i) - before));
                return;
            }
        }
        if (counter_sum(r, i) != before)
            return;
        sk_run_fail(r, "`%s` failed: counter %s did not change", cmd, full);
        return;
    }
    sk_run_skip(r, "`%s`: synack has no counter named %s", cmd, want);
}

/* tc qdisc: only the drop-everything queue scripts use for local
 * congestion (`pfifo limit 0`) has a synack equivalent, the stack's
 * blocked transmit queue; deleting the root qdisc unblocks it. */
static void run_tc_qdisc(sk_runner *r, const char *cmd)
{
    bool add = strstr(cmd, " add ") != NULL || strstr(cmd, " replace ") != NULL;
    bool del = strstr(cmd, " del") != NULL;
    bool block = add && strstr(cmd, "pfifo") && strstr(cmd, "limit 0");
    if ((block || (del && !add)) && !r->be->set_tx_blocked) {
        sk_run_skip(r, "command `%s`: the %s backend cannot model a qdisc", cmd, r->be->name);
        return;
    }
    if (block) {
        r->be->set_tx_blocked(r, true);
        sk_run_trace(r, "`%s`: transmit queue blocked", cmd);
    } else if (del && !add) {
        r->be->set_tx_blocked(r, false);
        sk_run_trace(r, "`%s`: transmit queue unblocked", cmd);
    } else {
        sk_run_skip(r, "command `%s` has no synack equivalent", cmd);
    }
}

/* `echo V > /sys/module/tcp_cubic/parameters/NAME`: synack's CUBIC has
 * Linux's module defaults built in, so a script asking for the default
 * runs as written and any other value is a reason to skip. */
static void run_cubic_param(sk_runner *r, const char *cmd, const char *value, const char *name)
{
    static const struct {
        const char *name, *value;
    } builtin[] = {
        {"fast_convergence", "1"}, {"beta", "717"}, {"initial_ssthresh", "0"},
        {"bic_scale", "41"}, {"tcp_friendliness", "1"}, {"hystart", "1"},
        {"hystart_detect", "3"}, {"hystart_low_window", "16"}, {"hystart_ack_delta_us", "2000"},
    };
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        if (strcmp(builtin[i].name, name) != 0)
            continue;
        if (strcmp(builtin[i].value, value) == 0) {
            sk_run_trace(r, "`%s`: synack's CUBIC default", cmd);
            return;
        }
        sk_run_skip(r, "`%s`: synack's CUBIC has %s fixed at %s", cmd, name, builtin[i].value);
        return;
    }
    sk_run_skip(r, "command `%s`: synack's CUBIC has no parameter %s", cmd, name);
}

static void run_simple(sk_runner *r, char *cmd)
{
    static char words[MAX_WORDS][WORD_LEN];
    while (isspace((unsigned char)*cmd))
        cmd++;
    size_t len = strlen(cmd);
    while (len && isspace((unsigned char)cmd[len - 1]))
        cmd[--len] = 0;
    if (!*cmd)
        return;
    size_t n = split_words(cmd, words, MAX_WORDS);
    if (n == 0)
        return;
    const char *w0 = words[0];
    if (ends_with(w0, "defaults.sh")) {
        run_defaults(r, w0);
    } else if (strcmp(w0, "sysctl") == 0) {
        run_sysctl(r, words, n, false);
    } else if (ends_with(w0, "set_sysctls.py")) {
        run_set_sysctls(r, words, n);
    } else if (strstr(w0, "sysctl_restore")) {
        restore_sysctls(r);
    } else if (strcmp(w0, "nstat") == 0) {
        run_nstat(r, cmd);
    } else if (strcmp(w0, "ip") == 0 && n > 1 && strcmp(words[1], "tcp_metrics") == 0) {
        /* synack's per-destination metrics are the Fast Open cookie
         * cache: `flush [all]` empties it, `delete ADDR` forgets one. */
        if (!r->be->metrics_flush) {
            sk_run_trace(r, "`%s`: the backend cannot reach the cookie cache", cmd);
        } else if (n > 3 && strcmp(words[2], "delete") == 0) {
            unsigned a, b, c2, d;
            if (sscanf(words[3], "%u.%u.%u.%u", &a, &b, &c2, &d) == 4)
                r->be->metrics_flush(r, a << 24 | b << 16 | c2 << 8 | d, false);
            else
                r->be->metrics_flush(r, 0, true);
        } else {
            r->be->metrics_flush(r, 0, true);
        }
    } else if (strcmp(w0, "tc") == 0 && n > 1 && strcmp(words[1], "qdisc") == 0) {
        run_tc_qdisc(r, cmd);
    } else if (strcmp(w0, "echo") == 0 && n == 3 && strncmp(words[2], "/sys/module/tcp_cubic/parameters/", 33) == 0) {
        /* `echo V > PATH` (split_words drops the `>`) */
        run_cubic_param(r, cmd, words[1], words[2] + 33);
    } else if (strcmp(w0, "ethtool") == 0) {
        /* Offload switches: synack has none (see --strict_segments). */
        sk_run_trace(r, "`%s`: no offloads", cmd);
    } else {
        sk_run_skip(r, "command `%s` has no synack equivalent", cmd);
    }
}

/* A shell AND-OR list, `A || B` and `A && B`, left to right as sh runs
 * it.  A command "fails" only the way it would on Linux: a sysctl of a key
 * mainline lacks (net.ipv4.tcp_fastopen_cookies, say, an out-of-tree
 * tunable some scripts try before `|| ip tcp_metrics flush all`).  Any
 * other command synack cannot model still ends the run as a SKIP. */
static void run_list(sk_runner *r, char *cmd)
{
    bool skip_next = false;
    while (cmd && !r->done) {
        char *or = strstr(cmd, "||"), *and = strstr(cmd, "&&");
        char *op = or && (!and || or < and) ? or : and;
        bool is_or = op && op == or;
        if (op)
            *op = 0;
        bool ok = true;
        if (!skip_next) {
            run_simple(r, cmd);
            if (r->done && r->outcome == SK_SCRIPT_SKIP && r->no_such_sysctl && op) {
                sk_run_trace(r, "`%s` fails as on Linux (%s): the list goes on", cmd, r->msg);
                r->done = false;
                r->no_such_sysctl = false;
                r->msg[0] = 0;
                ok = false;
            }
        } else {
            ok = !is_or; /* a skipped command passes its predecessor's status on */
        }
        /* `||` runs the next only after a failure, `&&` only after success. */
        skip_next = op && (is_or ? ok : !ok);
        cmd = op ? op + 2 : NULL;
    }
}

void sk_run_command(sk_runner *r, const char *text)
{
    char *buf = strdup(text);
    if (!buf) {
        sk_run_fail(r, "out of memory");
        return;
    }
    /* Join backslash-newline continuations. */
    for (char *p = buf; *p; p++)
        if (p[0] == '\\' && p[1] == '\n')
            p[0] = p[1] = ' ';
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && !r->done; line = strtok_r(NULL, "\n", &save)) {
        /* Shell comments: '#' starting a word. */
        for (char *h = strchr(line, '#'); h; h = strchr(h + 1, '#')) {
            if (h == line || isspace((unsigned char)h[-1])) {
                *h = 0;
                break;
            }
        }
        char *save2 = NULL;
        for (char *cmd = strtok_r(line, ";", &save2); cmd && !r->done; cmd = strtok_r(NULL, ";", &save2))
            run_list(r, cmd);
    }
    free(buf);
}

/* ------------------------------------------------------------------ */
/* %{ python }%                                                          */
/* ------------------------------------------------------------------ */

static bool have_python(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d && !found; d = strtok_r(NULL, ":", &save)) {
        char exe[1024];
        snprintf(exe, sizeof(exe), "%s/python3", d);
        found = access(exe, X_OK) == 0;
    }
    free(copy);
    return found;
}

#define INFO_FIELDS(X)                                                                                     \
    X(tcpi_state) X(tcpi_ca_state) X(tcpi_retransmits) X(tcpi_probes) X(tcpi_backoff) X(tcpi_options)     \
    X(tcpi_rto) X(tcpi_ato) X(tcpi_snd_mss) X(tcpi_rcv_mss) X(tcpi_unacked) X(tcpi_sacked) X(tcpi_lost)    \
    X(tcpi_retrans) X(tcpi_fackets) X(tcpi_last_data_sent) X(tcpi_last_ack_sent) X(tcpi_last_data_recv)    \
    X(tcpi_last_ack_recv) X(tcpi_pmtu) X(tcpi_rcv_ssthresh) X(tcpi_rtt) X(tcpi_rttvar)                     \
    X(tcpi_snd_ssthresh) X(tcpi_snd_cwnd) X(tcpi_advmss) X(tcpi_reordering) X(tcpi_rcv_rtt)                \
    X(tcpi_rcv_space) X(tcpi_total_retrans) X(tcpi_pacing_rate) X(tcpi_max_pacing_rate)                   \
    X(tcpi_bytes_acked) X(tcpi_bytes_received) X(tcpi_segs_out) X(tcpi_segs_in) X(tcpi_notsent_bytes)      \
    X(tcpi_min_rtt) X(tcpi_data_segs_in) X(tcpi_data_segs_out) X(tcpi_delivery_rate) X(tcpi_busy_time)    \
    X(tcpi_rwnd_limited) X(tcpi_sndbuf_limited) X(tcpi_delivered) X(tcpi_delivered_ce)                     \
    X(tcpi_bytes_sent) X(tcpi_bytes_retrans) X(tcpi_dsack_dups) X(tcpi_reord_seen) X(tcpi_rcv_ooopack)     \
    X(tcpi_snd_wnd)

static void write_program(FILE *f, const struct sk_tcp_info *ti, const char *code, const char *state)
{
#define EMIT(name) fprintf(f, "%s = %llu\n", #name, (unsigned long long)ti->name);
    INFO_FIELDS(EMIT)
#undef EMIT
    fprintf(f, "tcpi_snd_wscale = %u\ntcpi_rcv_wscale = %u\n", ti->tcpi_snd_wscale, ti->tcpi_rcv_wscale);
    fprintf(f, "tcpi_delivery_rate_app_limited = %u\n", ti->tcpi_delivery_rate_app_limited);
    fprintf(f, "tcpi_fastopen_client_fail = %u\n", ti->tcpi_fastopen_client_fail);
    fprintf(f, "TCP_CA_Open = 0\nTCP_CA_Disorder = 1\nTCP_CA_CWR = 2\nTCP_CA_Recovery = 3\n"
               "TCP_CA_Loss = 4\n");
    fprintf(f, "TCP_ESTABLISHED = 1\nTCP_SYN_SENT = 2\nTCP_SYN_RECV = 3\nTCP_FIN_WAIT1 = 4\n"
               "TCP_FIN_WAIT2 = 5\nTCP_TIME_WAIT = 6\nTCP_CLOSE = 7\nTCP_CLOSE_WAIT = 8\n"
               "TCP_LAST_ACK = 9\nTCP_LISTEN = 10\nTCP_CLOSING = 11\n");
    fprintf(f, "TCPI_OPT_TIMESTAMPS = 1\nTCPI_OPT_SACK = 2\nTCPI_OPT_WSCALE = 4\nTCPI_OPT_ECN = 8\n"
               "TCPI_OPT_ECN_SEEN = 16\nTCPI_OPT_SYN_DATA = 32\nTCPI_OPT_USEC_TS = 64\n");
    /* The block's text goes through hex so no quoting can break it; a
     * block written after "%{ " starts indented, hence dedent, and flat
     * statement lists tolerate any indentation.  A blank line ends the
     * source, as the code packetdrill appends after a block does, so a
     * block whose last line ends in a backslash continuation compiles. */
    fprintf(f, "import textwrap\n__code = bytes.fromhex('");
    for (const char *c = code; *c; c++)
        fprintf(f, "%02x", (unsigned char)*c);
    fprintf(f, "').decode()\n"
               "import sys, traceback\n"
               "__src = textwrap.dedent(__code).strip('\\n') + '\\n\\n'\n"
               "try:\n"
               "    __compiled = compile(__src, 'code', 'exec')\n"
               "except IndentationError:\n"
               "    __src = '\\n'.join(l.strip() for l in __code.splitlines()) + '\\n\\n'\n"
               "    __compiled = compile(__src, 'code', 'exec')\n"
               "import json\n"
               "__preamble = set(globals())\n"
               "try:\n"
               "    globals().update(json.load(open('%s')))\n"
               "except (OSError, ValueError):\n"
               "    pass\n"
               "try:\n"
               "    exec(__compiled)\n"
               "    json.dump({k: v for k, v in globals().items() if k not in __preamble and\n"
               "               not k.startswith('__') and isinstance(v, (int, float, str, bool))},\n"
               "              open('%s', 'w'))\n"
               "except AssertionError as e:\n"
               "    __n = traceback.extract_tb(sys.exc_info()[2])[-1].lineno\n"
               "    __l = __src.splitlines()\n"
               "    __t = __l[__n - 1].strip() if 0 < __n <= len(__l) else '?'\n"
               "    print('%%s (value: %%s)' %% (__t, e))\n"
               "    sys.exit(1)\n",
            state, state);
}

void sk_run_code(sk_runner *r, const char *code)
{
    if (!have_python()) {
        sk_run_skip(r, "%%{ }%% block needs python3, which is not installed");
        return;
    }
    if (r->info_fd < 0 || r->fds[r->info_fd].kind != SK_FD_SOCKET) {
        sk_run_fail(r, "%%{ }%% block with no socket to read TCP_INFO from");
        return;
    }
    struct sk_tcp_info ti;
    memset(&ti, 0, sizeof(ti));
    size_t len = sizeof(ti);
    /* struct sk_tcp_info has Linux's struct tcp_info layout, which is
     * what a shared object's getsockopt(TCP_INFO) fills. */
    int rc = r->be->getsockopt(r, r->fds[r->info_fd].handle, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len);
    if (rc < 0) {
        sk_run_fail(r, "getsockopt(TCP_INFO) on fd %d failed: %s", r->info_fd, sk_strerror(rc));
        return;
    }
    char path[] = "/tmp/synack-script-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        sk_run_fail(r, "cannot create a temporary file for python3: %s", strerror(errno));
        return;
    }
    /* Names a block defines stay defined for the later ones, as in
     * packetdrill's single interpreter (TCP_INFINITE_SSTHRESH = ...). */
    if (!r->py_state[0]) {
        char state[] = "/tmp/synack-pystate-XXXXXX";
        int sfd = mkstemp(state);
        if (sfd >= 0) {
            close(sfd);
            snprintf(r->py_state, sizeof(r->py_state), "%s", state);
        }
    }
    write_program(f, &ti, code, r->py_state[0] ? r->py_state : "/dev/null");
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "python3 %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    char out[4096] = "", last[512] = "";
    size_t used = 0;
    if (p) {
        char line[512];
        while (fgets(line, sizeof(line), p)) {
            size_t n = strlen(line);
            if (used + n < sizeof(out)) {
                memcpy(out + used, line, n + 1);
                used += n;
            }
            line[strcspn(line, "\n")] = 0;
            if (line[0])
                snprintf(last, sizeof(last), "%s", line);
        }
    }
    int status = p ? pclose(p) : -1;
    unlink(path);
    if (status == 0) {
        if (used)
            sk_run_trace(r, "python: %s", last);
        return;
    }
    if (!p || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
        sk_run_skip(r, "could not run python3");
        return;
    }
    sk_run_fail(r, "%%{ }%% block failed: %s", last[0] ? last : "python3 exited with an error");
}
