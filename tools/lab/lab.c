/*
 * The lab's framework: hosts on the in-memory wire, the timeline of one
 * representative connection, operator views computed by src/observe on
 * the running stacks, and the request/response workload the scenarios
 * share.  See lab.h.
 */
#include "lab.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "observe/control.h"
#include "observe/ss.h"
#include "observe/sysctl.h"
#include "synack-io/loop.h"

/* ------------------------------------------------------------------ */
/* Hosts                                                                 */
/* ------------------------------------------------------------------ */

static void lab_on_event(void *ctx, const sk_event *ev);

static int lab_host_add(lab *L, uint32_t addr, const char *name)
{
    if (L->nhosts >= LAB_MAX_HOSTS)
        return -1;
    lab_host *h = &L->hosts[L->nhosts];
    sk_stack_params p;
    sk_cli_host_params(L->seed, addr, &p);
    snprintf(h->name, sizeof(h->name), "%s", name);
    p.name = h->name;
    p.on_event = lab_on_event;
    p.event_ctx = L;
    h->stack = sk_wire_add_host(L->wire, addr, &p);
    if (!h->stack)
        return -1;
    h->addr = addr;
    sk_counter_set_init(&h->base);
    sk_counter_set_init(&h->nstat);
    return L->nhosts++;
}

sk_stack *lab_stack(lab *L, int host) { return L->hosts[host].stack; }

sk_time_ns lab_now(lab *L)
{
    /* --live: the loop's monotonic clock, which the stack follows. */
    return L->wire ? sk_wire_now(L->wire) : sk_loop_clock();
}

static double lab_secs(lab *L, sk_time_ns t)
{
    return (double)(t - (L->wire ? LAB_START : L->live_start)) / (double)LAB_SEC;
}

static void append(char *buf, size_t cap, const char *fmt, va_list ap)
{
    size_t len = strlen(buf);
    if (len + 1 < cap)
        vsnprintf(buf + len, cap - len, fmt, ap);
}

void lab_say(lab *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(L->r->workload, sizeof(L->r->workload), fmt, ap);
    va_end(ap);
}

bool lab_sysctl(lab *L, int host, const char *name, const char *value)
{
    char err[160];
    if (sk_sysctl_set(lab_stack(L, host), name, value, err, sizeof(err)) < 0) {
        snprintf(L->error, sizeof(L->error), "sysctl %s=%s on %s: %s", name, value, L->hosts[host].name, err);
        return false;
    }
    lab_note(L, "%s# sysctl -w %s=%s", L->hosts[host].name, name, value);
    return true;
}

void lab_baseline(lab *L)
{
    for (int i = 0; i < L->nhosts; i++) {
        lab_host *h = &L->hosts[i];
        sk_counter_set_free(&h->base);
        sk_counter_set_free(&h->nstat);
        sk_counter_set_init(&h->base);
        sk_counter_set_init(&h->nstat);
        sk_counter_set_from_stack(&h->base, h->stack, h->name);
        sk_counter_set_from_stack(&h->nstat, h->stack, h->name);
    }
}

/* ------------------------------------------------------------------ */
/* Timeline                                                              */
/* ------------------------------------------------------------------ */

static void tl_line(lab *L, const char *line)
{
    lab_result *r = L->r;
    if (r->timeline_lines >= LAB_TIMELINE_MAX_LINES && !L->verbose) {
        r->timeline_cut++;
        return;
    }
    fputs(line, L->tl);
    fputc('\n', L->tl);
    r->timeline_lines++;
}

void lab_note(lab *L, const char *fmt, ...)
{
    char t[32], msg[512], line[600];
    sk_trace_format_time(lab_now(L), t, sizeof(t));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "%s %s", t, msg);
    tl_line(L, line);
}

void lab_watch(lab *L, sk_endpoint a, sk_endpoint b)
{
    L->rep_have = true;
    L->rep_auto = false;
    L->rep_a = a;
    L->rep_b = b;
}

static bool ep_eq(sk_endpoint x, sk_endpoint y) { return x.addr == y.addr && x.port == y.port; }

static bool is_rep(lab *L, sk_endpoint x, sk_endpoint y)
{
    if (!L->rep_have)
        return false;
    return (ep_eq(x, L->rep_a) && ep_eq(y, L->rep_b)) || (ep_eq(x, L->rep_b) && ep_eq(y, L->rep_a));
}

static bool lab_is_host(lab *L, uint32_t addr)
{
    for (int i = 0; i < L->nhosts; i++)
        if (L->hosts[i].addr == addr)
            return true;
    return false;
}

/* An ICMP error quoting the representative connection joins its
 * timeline (and every ICMP datagram the capture). */
static void lab_on_icmp(lab *L, sk_time_ns now, sk_wire_fate fate, const uint8_t *dgram, size_t len)
{
    if (fate != SK_WIRE_SENT)
        return;
    if (L->pcap)
        sk_pcap_write(L->pcap, now, dgram, len);
    size_t ihl = (size_t)(dgram[0] & 0x0f) * 4;
    const uint8_t *q = dgram + ihl + 8;
    if (len < ihl + 8 + 28 || (q[0] >> 4) != 4 || q[9] != 6)
        return;
    size_t qihl = (size_t)(q[0] & 0x0f) * 4;
    if (len < ihl + 8 + qihl + 4)
        return;
    uint32_t qs = (uint32_t)q[12] << 24 | (uint32_t)q[13] << 16 | (uint32_t)q[14] << 8 | q[15];
    uint32_t qd = (uint32_t)q[16] << 24 | (uint32_t)q[17] << 16 | (uint32_t)q[18] << 8 | q[19];
    sk_endpoint a = sk_endpoint_ipv4(qs, (uint16_t)(q[qihl] << 8 | q[qihl + 1]));
    sk_endpoint b = sk_endpoint_ipv4(qd, (uint16_t)(q[qihl + 2] << 8 | q[qihl + 3]));
    if (!is_rep(L, a, b))
        return;
    char line[SK_TRACE_LINE_MAX];
    sk_trace_format_datagram(L->trace, now, dgram, len, line, sizeof(line));
    tl_line(L, line);
}

static void lab_on_wire(void *ctx, sk_time_ns now, sk_wire_fate fate, const uint8_t *dgram, size_t len)
{
    lab *L = ctx;
    sk_segment seg;
    if (len >= 20 && (dgram[0] >> 4) == 4 && dgram[9] == 1) {
        lab_on_icmp(L, now, fate, dgram, len);
        return;
    }
    if (sk_parse_segment(dgram, len, false, &seg) != SK_PARSE_OK)
        return;
    sk_endpoint src = {.addr = seg.src, .port = seg.sport, .family = SK_AF_INET}, dst = {.addr = seg.dst, .port = seg.dport, .family = SK_AF_INET};
    if (fate == SK_WIRE_SENT) {
        if (L->pcap)
            sk_pcap_write(L->pcap, now, dgram, len);
        if (!L->rep_have && L->rep_auto && (seg.flags & SK_TH_SYN) && !(seg.flags & SK_TH_ACK) &&
            lab_is_host(L, seg.src) && L->rep_skip-- == 0) {
            L->rep_have = true;
            L->rep_a = src;
            L->rep_b = dst;
        }
    }
    if (!is_rep(L, src, dst))
        return;
    char line[SK_TRACE_LINE_MAX];
    if (fate == SK_WIRE_SENT) {
        int dir = ep_eq(src, L->rep_a) ? 0 : 1;
        uint32_t next = seg.seq + (uint32_t)seg.payload_len + ((seg.flags & SK_TH_SYN) ? 1u : 0u) +
                        ((seg.flags & SK_TH_FIN) ? 1u : 0u);
        if (!(seg.flags & SK_TH_RST))
            L->rep_next[dir] = next;
        if (seg.flags & SK_TH_SYN)
            L->rep_isn[dir] = seg.seq;
        sk_trace_format_datagram(L->trace, now, dgram, len, line, sizeof(line));
        tl_line(L, line);
    } else if (fate == SK_WIRE_LOST) {
        tl_line(L, "    ^ lost on the wire");
    } else if (fate == SK_WIRE_NO_ROUTE) {
        tl_line(L, "    ^ dropped: no host has that address");
    } else if (fate == SK_WIRE_TOO_BIG) {
        tl_line(L, "    ^ dropped: larger than a hop's MTU");
    }
}

static bool lab_filter(void *ctx, sk_time_ns now, const uint8_t *dgram, size_t len)
{
    (void)now;
    lab *L = ctx;
    sk_segment seg;
    if (sk_parse_segment(dgram, len, false, &seg) != SK_PARSE_OK)
        return false;
    if (L->dead_addr && (seg.src == L->dead_addr || seg.dst == L->dead_addr))
        return true;
    return L->drop && L->drop(L, &seg, L->drop_ctx);
}

static void lab_on_event(void *ctx, const sk_event *ev)
{
    lab *L = ctx;
    char line[SK_TRACE_LINE_MAX];
    sk_endpoint local, remote;
    sk_event_endpoints(ev, &local, &remote);
    if (ev->type == SK_EV_MESSAGE) {
        for (int i = 0; i < L->nhosts; i++) {
            lab_host *h = &L->hosts[i];
            if (h->addr != local.addr)
                continue;
            size_t used = strlen(h->messages);
            if (used + 1 < sizeof(h->messages))
                snprintf(h->messages + used, sizeof(h->messages) - used, "[%12.6f] TCP: %s\n",
                         lab_secs(L, ev->now), ev->message);
        }
        sk_trace_format_event(L->trace, ev, line, sizeof(line));
        tl_line(L, line);
        return;
    }
    bool show = false;
    if (ev->type == SK_EV_STATE || ev->type == SK_EV_DROP)
        show = is_rep(L, local, remote);
    else if (ev->type == SK_EV_TIMER && ev->timer && strcmp(ev->timer, "delack") != 0 &&
             strcmp(ev->timer, "delayed-ack") != 0)
        show = is_rep(L, local, remote);
    if (!show)
        return;
    sk_trace_format_event(L->trace, ev, line, sizeof(line));
    tl_line(L, line);
}

/* ------------------------------------------------------------------ */
/* Views                                                                 */
/* ------------------------------------------------------------------ */

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
    return s;
}

/* A shell-pipeline stage applied to text. */
static char *pipe_stage(const char *in, char *stage)
{
    char *words[8];
    int n = sk_control_split(stage, words, 8);
    size_t inlen = strlen(in);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        return NULL;
    if (n >= 1 && !strcmp(words[0], "wc") && n == 2 && !strcmp(words[1], "-l")) {
        size_t lines = 0;
        for (size_t i = 0; i < inlen; i++)
            lines += in[i] == '\n';
        fprintf(f, "%zu\n", lines);
    } else if (n >= 2 && !strcmp(words[0], "grep")) {
        bool count = n == 3 && !strcmp(words[1], "-c");
        const char *pat = words[n - 1];
        size_t hits = 0;
        const char *p = in;
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            char tmp[2048];
            size_t k = l < sizeof(tmp) - 1 ? l : sizeof(tmp) - 1;
            memcpy(tmp, p, k);
            tmp[k] = '\0';
            if (strstr(tmp, pat)) {
                hits++;
                if (!count)
                    fprintf(f, "%s\n", tmp);
            }
            p += l + (e ? 1 : 0);
        }
        if (count)
            fprintf(f, "%zu\n", hits);
    } else if (n == 2 && (!strcmp(words[0], "head") || !strcmp(words[0], "tail")) && words[1][0] == '-') {
        long want = atol(words[1] + 1);
        size_t lines = 0;
        for (size_t i = 0; i < inlen; i++)
            lines += in[i] == '\n';
        size_t skip = !strcmp(words[0], "tail") && lines > (size_t)want ? lines - (size_t)want : 0;
        size_t idx = 0;
        const char *p = in;
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t l = e ? (size_t)(e - p) + 1 : strlen(p);
            if (idx >= skip && (long)(idx - skip) < want)
                fwrite(p, 1, l, f);
            idx++;
            p += l;
        }
    } else {
        fprintf(f, "lab: unsupported pipe stage\n");
    }
    fclose(f);
    return out;
}

static void nstat_view(lab_host *h, int argc, char **argv, FILE *out)
{
    unsigned flags = 0;
    bool absolute = false;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (strchr(argv[first], 'a'))
            absolute = true;
        if (strchr(argv[first], 'z'))
            flags |= SK_NSTAT_ZEROS;
    }
    sk_counter_set cur;
    sk_counter_set_init(&cur);
    sk_counter_set_from_stack(&cur, h->stack, h->name);
    sk_nstat_print(out, &cur, absolute ? NULL : &h->nstat, flags, argv + first, (size_t)(argc - first));
    /* nstat remembers what it showed: the next call prints deltas since
     * this one, as nstat's history file does. */
    sk_counter_set_free(&h->nstat);
    h->nstat = cur;
}

static void record_view(lab *L, const char *host, const char *moment, const char *command, char *text);

long lab_view(lab *L, int host, const char *moment, const char *command)
{
    lab_host *h = &L->hosts[host];
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s", command);
    char *stages[4];
    int nst = 0;
    char *save = NULL;
    for (char *p = strtok_r(cmd, "|", &save); p && nst < 4; p = strtok_r(NULL, "|", &save))
        stages[nst++] = trim(p);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return -1;
    char *argv[32];
    int argc = nst ? sk_control_split(stages[0], argv, 31) : 0;
    if (argc <= 0) {
        fprintf(out, "lab: empty command\n");
    } else if (!strcmp(argv[0], "ss")) {
        sk_ss_run(h->stack, lab_now(L), argc, argv, out, out);
    } else if (!strcmp(argv[0], "nstat")) {
        nstat_view(h, argc, argv, out);
    } else if (!strcmp(argv[0], "sysctl")) {
        sk_sysctl_run(h->stack, argc, argv, out, out);
    } else if (!strcmp(argv[0], "dmesg")) {
        fputs(h->messages, out);
    } else {
        fprintf(out, "lab: unsupported command %s\n", argv[0]);
    }
    fclose(out);
    for (int i = 1; i < nst; i++) {
        char *next = pipe_stage(text ? text : "", stages[i]);
        free(text);
        text = next;
    }
    long number = -1;
    if (text) {
        char *end;
        long v = strtol(text, &end, 10);
        if (end != text)
            number = v;
    }
    record_view(L, h->name, moment, command, text);
    return number;
}

static void record_view(lab *L, const char *host, const char *moment, const char *command, char *text)
{
    lab_result *r = L->r;
    if (r->nviews < LAB_MAX_VIEWS) {
        lab_view_rec *v = &r->views[r->nviews++];
        snprintf(v->moment, sizeof(v->moment), "%s", moment);
        snprintf(v->host, sizeof(v->host), "%s", host);
        snprintf(v->command, sizeof(v->command), "%s", command);
        v->output = text ? text : strdup("");
    } else {
        free(text);
    }
}

long lab_kernel_view(lab *L, const char *moment, const char *command)
{
    /* The kernel's own tools, in the namespace this process runs in. */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return -1;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s 2>&1", command);
    FILE *p = popen(cmd, "r");
    if (p) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
            fwrite(buf, 1, n, out);
        pclose(p);
    } else {
        fprintf(out, "cannot run %s\n", command);
    }
    fclose(out);
    long number = -1;
    if (text) {
        char *end;
        long v = strtol(text, &end, 10);
        if (end != text)
            number = v;
    }
    record_view(L, "kernel", moment, command, text);
    return number;
}

void lab_figure(lab *L, const char *name, double value)
{
    lab_result *r = L->r;
    for (int i = 0; i < r->nfigures; i++)
        if (!strcmp(r->figures[i].name, name)) {
            r->figures[i].value = value;
            return;
        }
    if (r->nfigures < LAB_MAX_KV) {
        snprintf(r->figures[r->nfigures].name, sizeof(r->figures[0].name), "%s", name);
        r->figures[r->nfigures++].value = value;
    }
}

double lab_get_figure(const lab_result *r, const char *name)
{
    for (int i = 0; i < r->nfigures; i++)
        if (!strcmp(r->figures[i].name, name))
            return r->figures[i].value;
    return -1;
}

uint64_t lab_counter(lab *L, int host, const char *name)
{
    lab_host *h = &L->hosts[host];
    uint64_t now = sk_counter(h->stack, name);
    uint64_t then = sk_counter_set_get(&h->base, name, 0);
    uint64_t d = now >= then ? now - then : 0;
    lab_result *r = L->r;
    char key[64];
    snprintf(key, sizeof(key), "%s.%s", h->name, name);
    for (int i = 0; i < r->ncounters; i++)
        if (!strcmp(r->counters[i].name, key)) {
            r->counters[i].value = (double)d;
            return d;
        }
    if (r->ncounters < LAB_MAX_KV) {
        snprintf(r->counters[r->ncounters].name, sizeof(r->counters[0].name), "%s", key);
        r->counters[r->ncounters++].value = (double)d;
    }
    return d;
}

void lab_verdict(lab *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->r->verdict, sizeof(L->r->verdict), fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Time                                                                  */
/* ------------------------------------------------------------------ */

void lab_run_until(lab *L, sk_time_ns t) { sk_wire_run_until(L->wire, t); }
void lab_run_for(lab *L, sk_time_ns d) { sk_wire_run_until(L->wire, lab_now(L) + d); }

bool lab_run_pred(lab *L, bool (*pred)(lab *L, void *ctx), void *ctx, sk_time_ns limit)
{
    for (;;) {
        if (pred(L, ctx))
            return true;
        sk_time_ns next = sk_wire_next_event(L->wire);
        if (next == SK_TIME_NEVER || next > limit) {
            sk_wire_run_until(L->wire, limit);
            return pred(L, ctx);
        }
        sk_wire_step(L->wire);
    }
}

/* ------------------------------------------------------------------ */
/* Sockets                                                               */
/* ------------------------------------------------------------------ */

int lab_listen(lab *L, int host, uint16_t port, int backlog)
{
    sk_stack *s = lab_stack(L, host);
    int fd = sk_socket(s);
    int one = 1;
    sk_endpoint any = {.addr = 0, .port = port, .family = SK_AF_INET};
    int rc = fd < 0 ? fd : sk_setsockopt(s, fd, SK_SOL_SOCKET, SK_SO_REUSEADDR, &one, sizeof(one));
    if (rc >= 0)
        rc = sk_bind(s, fd, &any);
    if (rc >= 0)
        rc = sk_listen(s, fd, backlog);
    if (rc < 0) {
        snprintf(L->error, sizeof(L->error), "listen on port %u: %s", port, sk_strerror(rc));
        return rc;
    }
    return fd;
}

int lab_connect(lab *L, int host, uint32_t addr, uint16_t port, uint16_t lport)
{
    sk_stack *s = lab_stack(L, host);
    int fd = sk_socket(s);
    if (fd < 0)
        return fd;
    if (lport) {
        sk_endpoint me = {.addr = 0, .port = lport, .family = SK_AF_INET};
        int rc = sk_bind(s, fd, &me);
        if (rc < 0) {
            sk_close(s, fd);
            return rc;
        }
    }
    sk_endpoint to = {.addr = addr, .port = port, .family = SK_AF_INET};
    int rc = sk_connect(s, fd, &to);
    if (rc < 0 && rc != -EINPROGRESS) {
        sk_close(s, fd);
        return rc;
    }
    return fd;
}

int lab_so_error(lab *L, int host, int fd)
{
    int err = 0;
    size_t len = sizeof(err);
    int rc = sk_getsockopt(lab_stack(L, host), fd, SK_SOL_SOCKET, SK_SO_ERROR, &err, &len);
    return rc < 0 ? -rc : err;
}

typedef struct state_count {
    int state;
    size_t n;
} state_count;

static void count_visit(void *ctx, const sk_sock_info *si)
{
    state_count *c = ctx;
    if (!c->state || si->state == c->state)
        c->n++;
}

size_t lab_count_state(lab *L, int host, int state)
{
    state_count c = {state, 0};
    sk_sockets(lab_stack(L, host), count_visit, &c);
    return c.n;
}

void lab_inject(lab *L, const sk_segment_spec *spec, sk_time_ns delay)
{
    uint8_t buf[1600];
    size_t n = sk_build_segment(spec, buf, sizeof(buf));
    if (n)
        sk_wire_inject(L->wire, buf, n, delay);
}

typedef struct est_ctx {
    int lfd, cfd, sfd;
} est_ctx;

static bool est_pred(lab *L, void *ctx)
{
    est_ctx *e = ctx;
    if (e->sfd < 0) {
        sk_endpoint peer;
        int fd = sk_accept(lab_stack(L, 1), e->lfd, &peer);
        if (fd >= 0)
            e->sfd = fd;
    }
    return e->sfd >= 0 && (sk_poll(lab_stack(L, 0), e->cfd) & SK_POLLOUT);
}

bool lab_establish(lab *L, int lfd, int *cfd, int *sfd)
{
    est_ctx e = {lfd, -1, -1};
    e.cfd = lab_connect(L, 0, LAB_SERVER_ADDR, LAB_PORT, 0);
    if (e.cfd < 0) {
        snprintf(L->error, sizeof(L->error), "connect: %s", sk_strerror(e.cfd));
        return false;
    }
    if (!lab_run_pred(L, est_pred, &e, lab_now(L) + 10 * LAB_SEC)) {
        snprintf(L->error, sizeof(L->error), "the connection was not established");
        return false;
    }
    *cfd = e.cfd;
    *sfd = e.sfd;
    return true;
}

bool lab_bulk_step(lab *L, void *bulk)
{
    lab_bulk *z = bulk;
    static const uint8_t zeros[65536];
    static uint8_t buf[65536];
    for (;;) {
        bool moved = false;
        if (z->sent < z->total) {
            size_t left = z->total - z->sent;
            ssize_t n = sk_send(lab_stack(L, 0), z->cfd, zeros, left < sizeof(zeros) ? left : sizeof(zeros), 0);
            if (n > 0) {
                z->sent += (size_t)n;
                moved = true;
            }
        }
        if (z->reader) {
            ssize_t n = sk_recv(lab_stack(L, 1), z->sfd, buf, sizeof(buf), 0);
            if (n > 0) {
                z->got += (size_t)n;
                moved = true;
            }
        }
        if (!moved)
            break;
    }
    if (z->got == z->total && !z->done_at)
        z->done_at = lab_now(L);
    return z->got == z->total;
}

/* ------------------------------------------------------------------ */
/* The request/response workload                                         */
/* ------------------------------------------------------------------ */

typedef enum { LC_WAIT, LC_CONNECTING, LC_SENDING, LC_READING, LC_EOF, LC_DONE, LC_FAILED } lc_phase;

struct lab_load_conn {
    int fd;
    lc_phase phase;
    unsigned reqs;
    size_t sent, got;
    sk_time_ns t_start;
};

typedef enum { LS_READING, LS_SENDING, LS_WAIT_EOF, LS_DONE } ls_phase;

struct lab_srv_conn {
    int fd;
    ls_phase phase;
    size_t got, sent;
    unsigned reqs;
};

void lab_load_init(lab_load *ld, int chost, int shost, int lfd)
{
    memset(ld, 0, sizeof(*ld));
    ld->chost = chost;
    ld->shost = shost;
    ld->lfd = lfd;
    ld->dst = LAB_SERVER_ADDR;
    ld->port = LAB_PORT;
    ld->conns = 1;
    ld->per_conn = 1;
    ld->req_len = 100;
    ld->resp_len = 1000;
    ld->client_closes_first = true;
    ld->slow_after = LAB_SEC;
}

void lab_load_free(lab_load *ld)
{
    free(ld->c);
    free(ld->s);
    ld->c = NULL;
    ld->s = NULL;
}

static const uint8_t lab_zeros[65536];

static void conn_fail(lab *L, lab_load *ld, lab_load_conn *c, int err)
{
    (void)L;
    c->phase = LC_FAILED;
    ld->failed++;
    ld->err_count++;
    if (!ld->first_err)
        ld->first_err = err;
    if (c->fd >= 0)
        sk_close(lab_stack(L, ld->chost), c->fd);
    c->fd = -1;
}

static void conn_done(lab *L, lab_load *ld, lab_load_conn *c)
{
    c->phase = LC_DONE;
    ld->completed++;
    sk_time_ns took = lab_now(L) - c->t_start;
    ld->sum_time += took;
    if (took > ld->max_time)
        ld->max_time = took;
    if (took > ld->slow_after)
        ld->slow++;
}

static bool client_step(lab *L, lab_load *ld, lab_load_conn *c)
{
    sk_stack *s = lab_stack(L, ld->chost);
    switch (c->phase) {
    case LC_WAIT:
    case LC_DONE:
    case LC_FAILED:
        return false;
    case LC_CONNECTING: {
        int ev = sk_poll(s, c->fd);
        if (ev & (SK_POLLERR | SK_POLLHUP)) {
            int e = lab_so_error(L, ld->chost, c->fd);
            conn_fail(L, ld, c, e ? e : ECONNREFUSED);
            return true;
        }
        if (!(ev & SK_POLLOUT))
            return false;
        ld->connected++;
        c->phase = LC_SENDING;
        return true;
    }
    case LC_SENDING: {
        ssize_t n = sk_send(s, c->fd, lab_zeros, ld->req_len - c->sent, 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            conn_fail(L, ld, c, (int)-n);
            return true;
        }
        c->sent += (size_t)n;
        if (c->sent == ld->req_len) {
            c->phase = LC_READING;
            c->got = 0;
        }
        return n > 0;
    }
    case LC_READING:
    case LC_EOF: {
        static uint8_t buf[65536];
        ssize_t n = sk_recv(s, c->fd, buf, sizeof(buf), 0);
        if (n == -EAGAIN) {
            int ev = sk_poll(s, c->fd);
            if (ev & SK_POLLERR) {
                int e = lab_so_error(L, ld->chost, c->fd);
                conn_fail(L, ld, c, e ? e : ECONNRESET);
                return true;
            }
            return false;
        }
        if (n < 0) {
            conn_fail(L, ld, c, (int)-n);
            return true;
        }
        if (n == 0) {
            if (c->phase == LC_READING && c->got < ld->resp_len) {
                conn_fail(L, ld, c, 0);
                return true;
            }
            sk_close(s, c->fd);
            c->fd = -1;
            conn_done(L, ld, c);
            return true;
        }
        ld->bytes += n;
        c->got += (size_t)n;
        if (c->phase == LC_READING && c->got >= ld->resp_len) {
            c->reqs++;
            if (c->reqs < ld->per_conn) {
                c->phase = LC_SENDING;
                c->sent = 0;
            } else if (ld->client_closes_first) {
                sk_close(s, c->fd);
                c->fd = -1;
                conn_done(L, ld, c);
            } else {
                c->phase = LC_EOF;
            }
        }
        return true;
    }
    }
    return false;
}

static void srv_close(lab *L, lab_load *ld, lab_srv_conn *c)
{
    sk_stack *s = lab_stack(L, ld->shost);
    if (ld->linger0) {
        struct sk_linger lg = {1, 0};
        sk_setsockopt(s, c->fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof(lg));
    }
    sk_close(s, c->fd);
    c->fd = -1;
    c->phase = LS_DONE;
    ld->srv_closed++;
}

static bool server_step(lab *L, lab_load *ld, lab_srv_conn *c)
{
    sk_stack *s = lab_stack(L, ld->shost);
    switch (c->phase) {
    case LS_DONE:
        return false;
    case LS_READING:
    case LS_WAIT_EOF: {
        static uint8_t buf[65536];
        size_t want = sizeof(buf);
        if (c->phase == LS_READING) {
            size_t limit = ld->srv_read_limit ? ld->srv_read_limit : ld->req_len;
            want = limit - c->got;
        }
        ssize_t n = sk_recv(s, c->fd, buf, want, 0);
        if (n == -EAGAIN)
            return false;
        if (n <= 0) {
            if (n < 0 || !ld->never_close)
                srv_close(L, ld, c);
            else
                c->phase = LS_DONE; /* the leak: EOF seen, close() never called */
            return true;
        }
        c->got += (size_t)n;
        size_t limit = ld->srv_read_limit ? ld->srv_read_limit : ld->req_len;
        if (c->phase == LS_READING && c->got >= limit) {
            c->phase = LS_SENDING;
            c->sent = 0;
        }
        return true;
    }
    case LS_SENDING: {
        size_t left = ld->resp_len - c->sent;
        ssize_t n = sk_send(s, c->fd, lab_zeros, left < sizeof(lab_zeros) ? left : sizeof(lab_zeros), 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            srv_close(L, ld, c);
            return true;
        }
        c->sent += (size_t)n;
        if (c->sent == ld->resp_len) {
            c->reqs++;
            c->got = 0;
            bool last = c->reqs >= ld->per_conn;
            if (last && (!ld->client_closes_first || ld->srv_read_limit || ld->linger0) && !ld->never_close)
                srv_close(L, ld, c);
            else
                c->phase = last ? LS_WAIT_EOF : LS_READING;
        }
        return true;
    }
    }
    return false;
}

static bool load_step(lab *L, lab_load *ld)
{
    bool moved = false;
    sk_time_ns now = lab_now(L);
    unsigned active = 0;
    for (unsigned i = 0; i < ld->started; i++)
        if (ld->c[i].phase != LC_DONE && ld->c[i].phase != LC_FAILED)
            active++;
    while (ld->started < ld->conns && (!ld->parallel || active < ld->parallel) && now >= ld->next_start) {
        lab_load_conn *c = &ld->c[ld->started++];
        c->t_start = now;
        c->fd = lab_connect(L, ld->chost, ld->dst, ld->port, 0);
        if (c->fd < 0) {
            int e = -c->fd;
            c->fd = -1;
            conn_fail(L, ld, c, e);
        } else {
            c->phase = LC_CONNECTING;
            if (ld->client_keepalive) {
                int one = 1;
                sk_setsockopt(lab_stack(L, ld->chost), c->fd, SK_SOL_SOCKET, SK_SO_KEEPALIVE, &one, sizeof(one));
            }
            active++;
        }
        ld->next_start = now + ld->interval;
        moved = true;
        if (ld->interval)
            break;
    }
    for (unsigned i = 0; i < ld->started; i++)
        while (client_step(L, ld, &ld->c[i]))
            moved = true;
    if (ld->lfd >= 0) {
        while (now >= ld->next_accept) {
            sk_endpoint peer;
            int fd = sk_accept(lab_stack(L, ld->shost), ld->lfd, &peer);
            if (fd < 0)
                break;
            if (ld->ns == ld->scap) {
                unsigned cap = ld->scap ? ld->scap * 2 : 64;
                lab_srv_conn *n = realloc(ld->s, cap * sizeof(*n));
                if (!n) {
                    sk_close(lab_stack(L, ld->shost), fd);
                    break;
                }
                ld->s = n;
                ld->scap = cap;
            }
            ld->s[ld->ns++] = (lab_srv_conn){.fd = fd, .phase = LS_READING};
            ld->accepted++;
            moved = true;
            if (ld->accept_every) {
                ld->next_accept = now + ld->accept_every;
                break;
            }
        }
    }
    for (unsigned i = 0; i < ld->ns; i++)
        while (server_step(L, ld, &ld->s[i]))
            moved = true;
    return moved;
}

void lab_load_abort_open(lab *L, lab_load *ld)
{
    sk_stack *s = lab_stack(L, ld->shost);
    for (unsigned i = 0; i < ld->ns; i++) {
        if (ld->s[i].fd < 0)
            continue;
        struct sk_linger lg = {1, 0};
        sk_setsockopt(s, ld->s[i].fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof(lg));
        sk_close(s, ld->s[i].fd);
        ld->s[i].fd = -1;
    }
}

bool lab_load_poll(lab *L, lab_load *ld)
{
    if (!ld->c) {
        ld->c = calloc(ld->conns ? ld->conns : 1, sizeof(*ld->c));
        if (!ld->c)
            return true;
        ld->next_start = ld->next_accept = lab_now(L);
    }
    while (load_step(L, ld))
        ;
    return ld->started == ld->conns && ld->completed + ld->failed == ld->conns;
}

static bool load_finished(lab_load *ld)
{
    return ld->started == ld->conns && ld->completed + ld->failed == ld->conns;
}

static sk_time_ns load_next_time(lab *L, lab_load *ld)
{
    sk_time_ns next = sk_wire_next_event(L->wire);
    sk_time_ns now = lab_now(L);
    if (ld->started < ld->conns && ld->next_start > now && ld->next_start < next)
        next = ld->next_start;
    if (ld->lfd >= 0 && ld->accept_every && ld->next_accept > now && ld->next_accept < next)
        next = ld->next_accept;
    return next;
}

bool lab_load_run(lab *L, lab_load *ld, sk_time_ns limit)
{
    if (!ld->c) {
        ld->c = calloc(ld->conns ? ld->conns : 1, sizeof(*ld->c));
        if (!ld->c)
            return false;
        ld->next_start = ld->next_accept = lab_now(L);
    }
    for (;;) {
        while (load_step(L, ld))
            ;
        if (load_finished(ld))
            return true;
        sk_time_ns next = load_next_time(L, ld);
        if (next == SK_TIME_NEVER || next > limit) {
            sk_wire_run_until(L->wire, limit);
            while (load_step(L, ld))
                ;
            return load_finished(ld);
        }
        sk_wire_run_until(L->wire, next);
    }
}

void lab_load_idle(lab *L, lab_load *ld, sk_time_ns t)
{
    for (;;) {
        while (load_step(L, ld))
            ;
        sk_time_ns next = load_next_time(L, ld);
        if (next == SK_TIME_NEVER || next > t) {
            sk_wire_run_until(L->wire, t);
            while (load_step(L, ld))
                ;
            return;
        }
        sk_wire_run_until(L->wire, next);
    }
}

/* ------------------------------------------------------------------ */
/* Running a scenario                                                    */
/* ------------------------------------------------------------------ */

void lab_free(lab *L)
{
    if (!L)
        return;
    for (int i = 0; i < L->nhosts; i++) {
        sk_counter_set_free(&L->hosts[i].base);
        sk_counter_set_free(&L->hosts[i].nstat);
    }
    sk_wire_free(L->wire);
    sk_trace_free(L->trace);
    if (L->tl)
        fclose(L->tl);
    free(L->tl_buf);
    if (L->pcap)
        sk_pcap_close(L->pcap);
    free(L);
}

void lab_result_free(lab_result *r)
{
    free(r->timeline);
    for (int i = 0; i < r->nviews; i++)
        free(r->views[i].output);
    memset(r, 0, sizeof(*r));
}

int lab_run(const lab_scenario *sc, const lab_config *cfg, bool fix, lab_result *r, lab **keep, char *err,
            size_t errlen)
{
    memset(r, 0, sizeof(*r));
    lab *L = calloc(1, sizeof(*L));
    if (!L) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    L->sc = sc;
    L->seed = cfg->seed;
    L->scale = cfg->scale ? cfg->scale : sc->default_scale;
    L->fix = fix;
    L->verbose = cfg->verbose;
    L->r = r;
    L->rep_auto = true;
    L->trace = sk_trace_new(0);
    L->wire = sk_wire_new(cfg->seed, LAB_START);
    L->tl = open_memstream(&L->tl_buf, &L->tl_size);
    if (!L->trace || !L->wire || !L->tl) {
        snprintf(err, errlen, "out of memory");
        lab_free(L);
        return -1;
    }
    if (cfg->pcap_path) {
        char perr[256];
        L->pcap = sk_pcap_open(cfg->pcap_path, NULL, perr, sizeof(perr));
        if (!L->pcap) {
            snprintf(err, errlen, "%s", perr);
            lab_free(L);
            return -1;
        }
    }
    sk_link_params link = {.delay = LAB_MS};
    sk_wire_set_link(L->wire, 0, 0, &link);
    sk_wire_set_tap(L->wire, lab_on_wire, L);
    sk_wire_set_filter(L->wire, lab_filter, L);
    if (lab_host_add(L, LAB_CLIENT_ADDR, "client") < 0 || lab_host_add(L, LAB_SERVER_ADDR, "server") < 0) {
        snprintf(err, errlen, "cannot create the stacks");
        lab_free(L);
        return -1;
    }
    lab_baseline(L);
    int rc = sc->run(L);
    fflush(L->tl);
    r->timeline = malloc(L->tl_size + 1);
    if (r->timeline) {
        memcpy(r->timeline, L->tl_buf, L->tl_size);
        r->timeline[L->tl_size] = '\0';
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", L->error[0] ? L->error : "the scenario failed");
    if (keep && rc == 0)
        *keep = L;
    else
        lab_free(L);
    return rc;
}
