/*
 * The shared part of `synack serve` and `synack connect` (tun_app.h).
 */
#include "tun_app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cli.h"
#include "observe/control.h"
#include "synack-io/tun.h"

void sk_tun_opts_init(sk_tun_opts *o, const char *cmd)
{
    memset(o, 0, sizeof(*o));
    o->cmd = cmd;
    o->tun = "tun0";
    o->addr_text = "10.77.0.2/24";
    o->addr = 0x0a4d0002u;
    o->prefix = 24;
}

int sk_tun_opts_parse(sk_tun_opts *o, int opt, const char *arg)
{
    char err[200];
    switch (opt) {
    case SK_TUN_OPT_TUN:
        o->tun = arg;
        return 1;
    case SK_TUN_OPT_ADDR:
        if (sk_parse_ipv4_prefix(arg, &o->addr, &o->prefix, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s\n", o->cmd, err);
            return -1;
        }
        o->addr_text = arg;
        return 1;
    case SK_TUN_OPT_ADDR6:
        if (sk_parse_ipv6_prefix(arg, o->addr6, &o->prefix6, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s\n", o->cmd, err);
            return -1;
        }
        o->addr6_text = arg;
        o->has_addr6 = true;
        return 1;
    case SK_TUN_OPT_LOSS:
    case SK_TUN_OPT_REORDER:
    case SK_TUN_OPT_DUP: {
        double *p = opt == SK_TUN_OPT_LOSS ? &o->impair.loss
                    : opt == SK_TUN_OPT_REORDER ? &o->impair.reorder
                                                : &o->impair.duplicate;
        if (!sk_cli_parse_probability(arg, p)) {
            fprintf(stderr, "%s: bad probability '%s': give 0 to 1, or a percentage like 2%%\n", o->cmd, arg);
            return -1;
        }
        return 1;
    }
    case SK_TUN_OPT_DELAY: {
        double ms;
        if (!sk_cli_parse_double(arg, 0.0, 60000.0, &ms)) {
            fprintf(stderr, "%s: bad delay '%s': give milliseconds from 0 to 60000\n", o->cmd, arg);
            return -1;
        }
        o->impair.delay = (sk_time_ns)(ms * (double)SK_NSEC_PER_MSEC);
        return 1;
    }
    case SK_TUN_OPT_SEED: {
        uint64_t v;
        if (!sk_cli_parse_size(arg, &v)) {
            fprintf(stderr, "%s: bad seed '%s': give a non-negative integer\n", o->cmd, arg);
            return -1;
        }
        o->impair.seed = v;
        o->seed_given = true;
        return 1;
    }
    case SK_TUN_OPT_PCAP:
        o->pcap = arg;
        return 1;
    case SK_TUN_OPT_NAME:
        /* The name becomes NAME.sock in the control directory, and -N
         * matches prefixes: keep it one plain path component. */
        if (!arg[0] || strlen(arg) > 60 || strchr(arg, '/') || arg[0] == '.' || strpbrk(arg, " \t\n")) {
            fprintf(stderr, "%s: --name wants a plain name of 1 to 60 characters (no '/', no spaces, not starting "
                            "with '.'), not '%s'\n", o->cmd, arg);
            return -1;
        }
        o->name = arg;
        return 1;
    case SK_TUN_OPT_SYSCTL:
        if (!strchr(arg, '=') || o->nsysctls == SK_TUN_MAX_SYSCTLS) {
            fprintf(stderr, "%s: --sysctl wants NAME=VALUE (at most %d of them), not '%s'\n", o->cmd,
                    SK_TUN_MAX_SYSCTLS, arg);
            return -1;
        }
        o->sysctls[o->nsysctls++] = arg;
        return 1;
    case SK_TUN_OPT_STATE_LOG:
        o->state_log = true;
        return 1;
    case SK_TUN_OPT_OFFLOAD:
        o->offload = true;
        return 1;
    default:
        return 0;
    }
}

static void on_stack_event(void *ctx, const sk_event *ev)
{
    const sk_tun_opts *o = ctx;
    if (ev->type != SK_EV_STATE || !o->state_log)
        return;
    sk_endpoint l, r;
    sk_event_endpoints(ev, &l, &r);
    char local[48], remote[48];
    sk_format_addr(&l, local, sizeof(local));
    sk_format_addr(&r, remote, sizeof(remote));
    bool six = l.family == SK_AF_INET6;
    fprintf(stderr, "%s: state %s%s%s:%u %s%s%s:%u %s -> %s (%s)\n", o->cmd, six ? "[" : "", local, six ? "]" : "",
            l.port, six ? "[" : "", remote, six ? "]" : "", r.port, ev->from_state ? sk_state_name(ev->from_state) : "CLOSED",
            sk_state_name(ev->to_state), ev->cause ? ev->cause : "");
}

/* The application as the loop sees it when the control socket shares
 * the loop: every callback goes to the real application, and the extra
 * descriptor is the control socket's. */
static void wrapped_run(void *ctx, sk_loop *loop)
{
    sk_tun_opts *o = ctx;
    o->inner.run(o->inner.ctx, loop);
}

static void wrapped_shutdown(void *ctx, sk_loop *loop)
{
    sk_tun_opts *o = ctx;
    o->inner.shutdown(o->inner.ctx, loop);
}

static void wrapped_report(void *ctx, sk_loop *loop)
{
    sk_tun_opts *o = ctx;
    o->inner.report(o->inner.ctx, loop);
}

static sk_time_ns wrapped_deadline(void *ctx)
{
    sk_tun_opts *o = ctx;
    return o->inner.deadline(o->inner.ctx);
}

static void wrapped_extra(void *ctx, sk_loop *loop, uint32_t revents)
{
    sk_tun_opts *o = ctx;
    (void)loop;
    (void)revents;
    if (o->control)
        sk_control_service(o->control);
}

/* Timers shown by `synack ss -o` count from now, not from the loop's
 * last wakeup. */
static sk_time_ns control_clock(void *ctx)
{
    (void)ctx;
    return sk_loop_clock();
}

void sk_tun_stop(sk_tun_opts *o)
{
    sk_control_close(o->control);
    o->control = NULL;
}

sk_loop *sk_tun_start(sk_tun_opts *o, const sk_loop_app *app)
{
    char err[256];
    sk_tun_info info;
    unsigned tflags = (o->offload ? SK_TUN_VNET_HDR : 0) | (o->queues > 0 ? SK_TUN_MULTI_QUEUE : 0);
    int fd = sk_tun_open_flags(o->tun, tflags, &info, err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", o->cmd, err);
        return NULL;
    }
    sk_loop_params p;
    memset(&p, 0, sizeof(p));
    p.tun_fd = fd;
    p.impair = o->impair;
    p.pcap_path = o->pcap;
    /* SIGINT/SIGTERM: graceful stop; SIGUSR1: report.  With several
     * queues only queue 0's loop takes them and tells the others. */
    p.flags = o->queue == 0 ? SK_LOOP_SIGNALS : 0;
    if (o->offload)
        p.flags |= SK_LOOP_VNET_HDR;
    p.stack.addr = o->addr;
    p.stack.addr_prefix_len = (uint8_t)o->prefix;
    if (o->has_addr6) {
        memcpy(p.stack.addr6, o->addr6, 16);
        p.stack.addr6_prefix_len = (uint8_t)o->prefix6;
    }
    p.stack.mtu = info.mtu >= 576 ? info.mtu : 1500;
    p.stack.name = o->cmd;
    p.stack.on_event = on_stack_event;
    p.stack.event_ctx = o;
    p.stack.event_mask = SK_EVMASK(SK_EV_STATE); /* the state log is all it reads */
    /* Unseeded runs are as unpredictable as Linux (RFC 6528 ISNs and
     * ephemeral ports); --seed makes the stack's choices repeatable, but
     * the ISN secret stays random: predictable ISNs are never wanted on
     * a real link. */
    if (getrandom(p.stack.secret, sizeof(p.stack.secret), 0) != (ssize_t)sizeof(p.stack.secret) ||
        (!o->seed_given && getrandom(&p.stack.seed, sizeof(p.stack.seed), 0) != (ssize_t)sizeof(p.stack.seed))) {
        fprintf(stderr, "%s: getrandom: %s\n", o->cmd, strerror(errno));
        close(fd);
        return NULL;
    }
    if (o->seed_given)
        p.stack.seed = o->impair.seed;

    sk_loop_app wrapped = *app;
    if (app->extra_fd < 0) {
        /* "synack serve" on 10.77.0.2 answers as serve-10.77.0.2. */
        const char *word = strrchr(o->cmd, ' ');
        char name[64], a[16];
        sk_format_ipv4(o->addr, a, sizeof(a));
        if (o->name)
            snprintf(name, sizeof(name), "%s", o->name);
        else
            snprintf(name, sizeof(name), "%s-%s", word ? word + 1 : o->cmd, a);
        if (o->queue > 0) {
            size_t len = strlen(name);
            snprintf(name + len, sizeof(name) - len, "-q%u", o->queue);
        }
        char cerr[256];
        o->control = sk_control_open(NULL, name, NULL, cerr, sizeof(cerr));
        if (!o->control) {
            fprintf(stderr, "%s: no control socket, `synack ss` will not see this process: %s\n", o->cmd, cerr);
        } else {
            o->inner = *app;
            wrapped.ctx = o;
            wrapped.run = wrapped_run;
            wrapped.shutdown = app->shutdown ? wrapped_shutdown : NULL;
            wrapped.report = app->report ? wrapped_report : NULL;
            wrapped.deadline = app->deadline ? wrapped_deadline : NULL;
            wrapped.extra_fd = sk_control_fd(o->control);
            wrapped.extra_events = 0; /* EPOLLIN */
            wrapped.on_extra = wrapped_extra;
        }
    }
    sk_loop *loop = sk_loop_new(&p, &wrapped, err, sizeof(err));
    if (!loop) {
        fprintf(stderr, "%s: %s\n", o->cmd, err);
        sk_tun_stop(o);
        close(fd);
        return NULL;
    }
    if (o->control) {
        sk_control_set_stack(o->control, sk_loop_stack(loop));
        sk_control_set_clock(o->control, control_clock, NULL);
    }
    for (size_t i = 0; i < o->nsysctls; i++) {
        char name[128];
        const char *eq = strchr(o->sysctls[i], '=');
        size_t n = (size_t)(eq - o->sysctls[i]);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, o->sysctls[i], n);
        name[n] = 0;
        if (sk_sysctl_set(sk_loop_stack(loop), name, eq + 1, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: --sysctl %s: %s\n", o->cmd, o->sysctls[i], err);
            sk_tun_stop(o);
            sk_loop_free(loop);
            return NULL;
        }
    }
    if (o->verbose) {
        fprintf(stderr, "%s: attached to %s (mtu %u) as %s%s%s%s%s\n", o->cmd, info.name, p.stack.mtu, o->addr_text,
                o->has_addr6 ? " and " : "", o->has_addr6 ? o->addr6_text : "",
                (info.flags & SK_TUN_CSUM) ? ", checksum offload" : "", (info.flags & SK_TUN_TSO) ? ", TSO" : "");
        if (o->control)
            fprintf(stderr, "%s: control socket %s\n", o->cmd, sk_control_path(o->control));
    }
    return loop;
}

int sk_tun_run(sk_tun_opts *o, sk_loop *loop)
{
    char err[200];
    int rc = sk_loop_run(loop, err, sizeof(err));
    sk_tun_stop(o);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", o->cmd, err);
    if (o->verbose) {
        const sk_loop_stats *s = sk_loop_get_stats(loop);
        fprintf(stderr,
                "%s: tun read %llu datagrams (%llu bytes), wrote %llu (%llu bytes); impaired: %llu lost, "
                "%llu duplicated, %llu reordered; %llu queue drops; %llu wakeups\n",
                o->cmd, (unsigned long long)s->rx_datagrams, (unsigned long long)s->rx_bytes,
                (unsigned long long)s->tx_datagrams, (unsigned long long)s->tx_bytes,
                (unsigned long long)s->impair_lost, (unsigned long long)s->impair_duplicated,
                (unsigned long long)s->impair_reordered, (unsigned long long)s->tx_queue_drops,
                (unsigned long long)s->wakeups);
        if (o->offload)
            fprintf(stderr, "%s: tun offload: %llu super-segments, %llu bad virtio-net headers, %llu TCP checksum "
                            "errors; %llu super-segments written\n", o->cmd, (unsigned long long)s->rx_gso,
                    (unsigned long long)s->rx_vnet_errors, (unsigned long long)s->rx_csum_errors,
                    (unsigned long long)s->tx_gso);
        /* The stack's non-zero counters, nstat style. */
        sk_stack *stack = sk_loop_stack(loop);
        const char *group;
        const char *name;
        for (size_t i = 0; (name = sk_counter_name(i, &group)) != NULL; i++) {
            uint64_t v = sk_counter_value(stack, i);
            if (v)
                fprintf(stderr, "%s: %s%s %llu\n", o->cmd, group, name, (unsigned long long)v);
        }
    }
    return rc;
}

void sk_tun_socket_error(const sk_tun_opts *o, const char *what, int err)
{
    fprintf(stderr, "%s: %s: %s (%s)\n", o->cmd, what, sk_strerror(err), sk_errno_name(err));
}

void sk_progress_start(sk_progress *p, sk_time_ns now)
{
    memset(p, 0, sizeof(*p));
    p->started = true;
    p->start = p->last = now;
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

void sk_progress_update(sk_progress *p, const sk_tun_opts *o, const char *what, uint64_t bytes, sk_time_ns now)
{
    if (now - p->last < SK_NSEC_PER_SEC)
        return;
    double secs = (double)(now - p->last) / 1e9;
    fprintf(stderr, "%s: %s %.1f MiB, %.1f MiB/s\n", o->cmd, what, mib(bytes),
            mib(bytes - p->last_bytes) / secs);
    p->last = now;
    p->last_bytes = bytes;
    p->printed = true;
}

void sk_progress_done(sk_progress *p, const sk_tun_opts *o, const char *what, uint64_t bytes, sk_time_ns now,
                      bool always)
{
    if (!p->started || (!p->printed && !always))
        return;
    double secs = (double)(now - p->start) / 1e9;
    fprintf(stderr, "%s: %s %llu bytes in %.2f s, %.1f MiB/s\n", o->cmd, what, (unsigned long long)bytes, secs,
            secs > 0 ? mib(bytes) / secs : 0.0);
}

#define PATTERN_BYTES (64u * 1024u)
static uint8_t pattern[PATTERN_BYTES + 256];
static bool pattern_ready;

const uint8_t *sk_pattern_at(uint64_t off, size_t *want)
{
    if (!pattern_ready) {
        for (size_t i = 0; i < sizeof(pattern); i++)
            pattern[i] = (uint8_t)((i * 31 + 7) & 0xff);
        pattern_ready = true;
    }
    /* The pattern repeats every 256 bytes. */
    if (*want > PATTERN_BYTES - 4096)
        *want = PATTERN_BYTES - 4096;
    return pattern + (off & 0xff);
}
