/*
 * `synack lab NAME --live`: the scenario with the Linux kernel as the
 * peer.  synack's stack runs over a TUN device as 10.77.0.2 and the
 * kernel, at 10.77.0.1 in the same network namespace (the layout
 * scripts/netns.sh builds), plays the other side through ordinary
 * non-blocking sockets of this very process.  The operator then sees
 * the kernel's own `ss` and `sysctl` show its half of the problem next
 * to synack's views of its half.
 *
 * Three scenarios have a live version:
 *   connection-refused  each side connects to a closed port of the other
 *   close-wait-leak     the kernel is the client; synack's server never closes
 *   time-wait-pileup    the kernel is the server and closes first
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab.h"
#include "synack-io/loop.h"
#include "tun_app.h"

#define LIVE_SYNACK_ADDR 0x0a4d0002u /* 10.77.0.2 */
#define LIVE_KERNEL_ADDR 0x0a4d0001u /* 10.77.0.1 */
#define LIVE_MAX_KCONNS 64
#define LIVE_LIMIT (30ull * LAB_SEC)

typedef enum { SC_REFUSED, SC_CLOSE_WAIT, SC_TIME_WAIT } live_kind;

typedef struct kconn {
    int fd;
    int phase; /* 0 connecting/reading request, 1 writing, 2 reading, 3 done */
    size_t got, sent;
    unsigned reqs;
} kconn;

typedef struct live {
    lab *L;
    live_kind kind;
    sk_tun_opts opt;
    sk_loop *loop;
    int stage;
    sk_time_ns stage_at, t0;
    bool done, failed;

    /* synack's side */
    lab_load ld;
    bool have_ld;
    int lfd, sfd;
    int synack_err;
    double synack_ms;

    /* the kernel's side */
    int klisten;
    kconn k[LIVE_MAX_KCONNS];
    unsigned nk, kwant, per_conn;
    int kernel_err;
    double kernel_ms;
} live;

static const uint8_t zeros[4096];

static int kernel_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd;
}

static struct sockaddr_in sin_of(uint32_t addr, uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(addr);
    a.sin_port = htons(port);
    return a;
}

static int kernel_connect(uint16_t port)
{
    int fd = kernel_socket();
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = sin_of(LIVE_SYNACK_ADDR, port);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int kernel_listen(uint16_t port)
{
    int fd = kernel_socket();
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = sin_of(LIVE_KERNEL_ADDR, port);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* 1 connected, 0 pending, -errno failed. */
static int kernel_connect_result(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err ? -err : 1;
}

static double ms_since(sk_time_ns t0) { return (double)(sk_loop_clock() - t0) / (double)LAB_MS; }

/* ------------------------------------------------------------------ */

static void refused_step(live *v)
{
    lab *L = v->L;
    if (v->stage == 0) {
        if (L->fix) {
            /* The fix: the services listen. */
            v->klisten = kernel_listen(9);
            v->lfd = lab_listen(L, 0, 9, 128);
        }
        v->t0 = sk_loop_clock();
        v->sfd = lab_connect(L, 0, LIVE_KERNEL_ADDR, 9, 0);
        int kfd = kernel_connect(9);
        v->k[0].fd = kfd;
        v->nk = 1;
        v->synack_err = v->sfd < 0 ? -v->sfd : -1;
        v->kernel_err = kfd < 0 ? -kfd : -1;
        v->stage = 1;
    }
    if (v->stage == 1) {
        if (v->synack_err < 0) {
            int ev = sk_poll(lab_stack(L, 0), v->sfd);
            if (ev & (SK_POLLERR | SK_POLLHUP | SK_POLLOUT)) {
                v->synack_err = lab_so_error(L, 0, v->sfd);
                v->synack_ms = ms_since(v->t0);
            }
        }
        if (v->kernel_err < 0) {
            int r = kernel_connect_result(v->k[0].fd);
            if (r != 0) {
                v->kernel_err = r < 0 ? -r : 0;
                v->kernel_ms = ms_since(v->t0);
            }
        }
        if (v->synack_err >= 0 && v->kernel_err >= 0) {
            v->stage = 2;
            v->stage_at = sk_loop_clock();
        }
    }
    if (v->stage == 2 && sk_loop_clock() >= v->stage_at + 50 * LAB_MS) {
        const char *m = "after both connect() calls";
        lab_view(L, 0, m, "nstat TcpActiveOpens TcpAttemptFails TcpOutRsts");
        lab_kernel_view(L, m, "ss -ltn");
        lab_kernel_view(L, m, "nstat -asz TcpAttemptFails TcpOutRsts");
        lab_figure(L, "synack_ms", v->synack_ms);
        lab_figure(L, "kernel_ms", v->kernel_ms);
        lab_figure(L, "synack_attempt_fails", (double)lab_counter(L, 0, "TcpAttemptFails"));
        lab_figure(L, "synack_rsts", (double)lab_counter(L, 0, "TcpOutRsts"));
        lab_outcome *o = &L->r->outcome;
        snprintf(o->err, sizeof(o->err), "%s", v->synack_err ? sk_errno_name(v->synack_err) : "");
        snprintf(o->text, sizeof(o->text), "synack -> kernel:9: %s in %.1f ms; kernel -> synack:9: %s in %.1f ms",
                 v->synack_err ? sk_errno_name(v->synack_err) : "connected", v->synack_ms,
                 v->kernel_err ? sk_errno_name(v->kernel_err) : "connected", v->kernel_ms);
        o->seconds = v->synack_ms / 1000;
        L->r->reproduced = !L->fix && v->synack_err == ECONNREFUSED && v->kernel_err == ECONNREFUSED;
        L->r->fixed = L->fix && v->synack_err == 0 && v->kernel_err == 0;
        if (L->fix)
            lab_verdict(L, "With a listener on each side both connect() calls succeed.");
        else
            lab_verdict(L, "Each side answered a SYN to a closed port with RST,ACK, and each connect() failed with "
                           "ECONNREFUSED within a round trip: synack and Linux refuse alike.");
        v->done = true;
    }
}

/* ------------------------------------------------------------------ */

/* The kernel as client: connect, send 100 bytes, read 1000, close. */
static void kclients_step(live *v, uint16_t port)
{
    static uint8_t buf[65536];
    while (v->nk < v->kwant) {
        kconn *k = &v->k[v->nk++];
        memset(k, 0, sizeof(*k));
        k->fd = kernel_connect(port);
        if (k->fd < 0)
            k->phase = 3;
    }
    for (unsigned i = 0; i < v->nk; i++) {
        kconn *k = &v->k[i];
        if (k->phase == 0) {
            int r = kernel_connect_result(k->fd);
            if (r < 0) {
                k->phase = 3;
                v->kernel_err = -r;
            } else if (r > 0) {
                k->phase = 1;
            }
        }
        if (k->phase == 1) {
            ssize_t n = send(k->fd, zeros, 100 - k->sent, MSG_NOSIGNAL);
            if (n > 0 && (k->sent += (size_t)n) == 100)
                k->phase = 2;
        }
        if (k->phase == 2) {
            ssize_t n = recv(k->fd, buf, sizeof(buf), 0);
            if (n > 0)
                k->got += (size_t)n;
            if (k->got >= 1000 || n == 0) {
                close(k->fd);
                k->fd = -1;
                k->phase = 3;
            }
        }
    }
}

static bool kclients_done(live *v)
{
    for (unsigned i = 0; i < v->nk; i++)
        if (v->k[i].phase != 3)
            return false;
    return v->nk == v->kwant;
}

static void close_wait_step(live *v)
{
    lab *L = v->L;
    /* The fixed run uses its own port: the kernel still holds the first
     * run's sockets for a while. */
    uint16_t port = L->fix ? 8083 : 8080;
    if (v->stage == 0) {
        v->lfd = lab_listen(L, 0, port, 128);
        lab_load_init(&v->ld, 0, 0, v->lfd);
        v->have_ld = true;
        v->ld.conns = 0;
        v->ld.never_close = !L->fix;
        v->kwant = L->scale ? (L->scale < LIVE_MAX_KCONNS ? L->scale : LIVE_MAX_KCONNS) : 10;
        lab_say(L, "Live: the kernel (10.77.0.1) is the client: %u connections to synack's server 10.77.0.2:%u, "
                   "each sending 100 bytes, reading the 1000-byte answer and closing; synack's server "
                   "application %s.",
 v->kwant, port, L->fix ? "closes on EOF (the fix)" : "never closes (the leak)");
        v->stage = 1;
    }
    lab_load_poll(L, &v->ld);
    if (v->stage == 1) {
        kclients_step(v, port);
        if (kclients_done(v)) {
            v->stage = 2;
            v->stage_at = sk_loop_clock();
        }
    }
    if (v->stage == 2 && sk_loop_clock() >= v->stage_at + 500 * LAB_MS) {
        const char *m = "0.5 s after the kernel's clients closed";
        long cw = lab_view(L, 0, m, "ss -tan state close-wait | wc -l");
        char cmd[3][128];
        snprintf(cmd[0], sizeof(cmd[0]), "ss -tan state fin-wait-2 '( dport = :%u )' | wc -l", port);
        snprintf(cmd[1], sizeof(cmd[1]), "ss -tano state fin-wait-2 '( dport = :%u )' | head -3", port);
        snprintf(cmd[2], sizeof(cmd[2]), "ss -tan state time-wait '( dport = :%u )' | wc -l", port);
        long fw2 = lab_kernel_view(L, m, cmd[0]);
        lab_kernel_view(L, m, cmd[1]);
        long tw = lab_kernel_view(L, m, cmd[2]);
        lab_kernel_view(L, m, "sysctl net.ipv4.tcp_fin_timeout");
        lab_figure(L, "synack_close_wait", cw - 1);
        lab_figure(L, "kernel_fin_wait2", fw2 - 1);
        lab_figure(L, "kernel_time_wait", tw - 1);
        lab_outcome *o = &L->r->outcome;
        snprintf(o->text, sizeof(o->text), "%u kernel clients done%s%s", v->kwant,
                 v->kernel_err ? ", first error " : "", v->kernel_err ? sk_errno_name(v->kernel_err) : "");
        o->ok = v->kwant;
        L->r->reproduced = !L->fix && cw - 1 == (long)v->kwant && fw2 - 1 == (long)v->kwant;
        L->r->fixed = L->fix && cw - 1 == 0 && fw2 - 1 == 0;
        if (L->fix)
            lab_verdict(L, "synack's server closed on EOF: no CLOSE_WAIT, and the kernel's clients went through "
                           "TIME_WAIT (%ld) as the side that closed first.",
                        tw - 1);
        else
            lab_verdict(L, "synack's server never closed: %ld CLOSE_WAIT on synack, and the kernel's own ss shows "
                           "its %ld client sockets orphaned in FIN_WAIT_2, to be dropped after tcp_fin_timeout.",
                        cw - 1, fw2 - 1);
        v->done = true;
    }
}

/* ------------------------------------------------------------------ */

/* The kernel as server: read 100 bytes, answer 1000, close after
 * per_conn answers (first: the kernel holds TIME_WAIT). */
static void kserver_step(live *v)
{
    static uint8_t buf[4096];
    for (;;) {
        int fd = accept4(v->klisten, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        if (v->nk == LIVE_MAX_KCONNS) {
            close(fd);
            continue;
        }
        v->k[v->nk++] = (kconn){.fd = fd};
    }
    for (unsigned i = 0; i < v->nk; i++) {
        kconn *k = &v->k[i];
        for (;;) {
            if (k->phase == 0) {
                ssize_t n = recv(k->fd, buf, 100 - k->got, 0);
                if (n <= 0) {
                    if (n == 0) {
                        close(k->fd);
                        k->phase = 3;
                    }
                    break;
                }
                if ((k->got += (size_t)n) == 100) {
                    k->phase = 1;
                    k->sent = 0;
                }
            } else if (k->phase == 1) {
                ssize_t n = send(k->fd, zeros, 1000 - k->sent, MSG_NOSIGNAL);
                if (n <= 0)
                    break;
                if ((k->sent += (size_t)n) == 1000) {
                    k->got = 0;
                    if (++k->reqs >= v->per_conn) {
                        close(k->fd);
                        k->phase = 3;
                    } else {
                        k->phase = 0;
                    }
                }
            } else {
                break;
            }
        }
    }
}

static void time_wait_step(live *v)
{
    lab *L = v->L;
    unsigned n = L->scale ? (L->scale < LIVE_MAX_KCONNS ? L->scale : LIVE_MAX_KCONNS) : 20, pool = 5;
    uint16_t port = L->fix ? 8082 : 8081; /* the first run's TIME_WAIT stays 60 s */
    if (v->stage == 0) {
        v->klisten = kernel_listen(port);
        if (v->klisten < 0) {
            snprintf(L->error, sizeof(L->error), "kernel listen on 10.77.0.1:%u: %s", port, strerror(-v->klisten));
            v->failed = v->done = true;
            return;
        }
        v->per_conn = L->fix ? n / pool : 1;
        lab_load_init(&v->ld, 0, 0, -1);
        v->have_ld = true;
        v->ld.dst = LIVE_KERNEL_ADDR;
        v->ld.port = port;
        v->ld.parallel = pool;
        v->ld.conns = L->fix ? pool : n;
        v->ld.per_conn = v->per_conn;
        v->ld.client_closes_first = false;
        lab_say(L, "Live: synack (10.77.0.2) is the client of a kernel server at 10.77.0.1:%u that answers and "
                   "closes first, as an HTTP/1.0 server does; %u requests, %s.",
                port, n, L->fix ? "over 5 connections kept alive (the fix)" : "one connection each");
        v->stage = 1;
    }
    kserver_step(v);
    if (v->stage == 1 && lab_load_poll(L, &v->ld)) {
        v->stage = 2;
        v->stage_at = sk_loop_clock();
    }
    if (v->stage == 2 && sk_loop_clock() >= v->stage_at + 200 * LAB_MS) {
        const char *m = "after the requests";
        char cmd[2][128];
        snprintf(cmd[0], sizeof(cmd[0]), "ss -tan state time-wait '( sport = :%u )' | wc -l", port);
        snprintf(cmd[1], sizeof(cmd[1]), "ss -tano state time-wait '( sport = :%u )' | head -3", port);
        long tw = lab_kernel_view(L, m, cmd[0]);
        lab_kernel_view(L, m, cmd[1]);
        lab_kernel_view(L, m, "sysctl net.ipv4.tcp_fin_timeout net.ipv4.tcp_max_tw_buckets");
        long stw = lab_view(L, 0, m, "ss -tan state time-wait | wc -l");
        lab_figure(L, "requests", n);
        lab_figure(L, "kernel_time_wait", tw - 1);
        lab_figure(L, "synack_time_wait", stw - 1);
        lab_figure(L, "handshakes", (double)lab_counter(L, 0, "TcpActiveOpens"));
        lab_outcome *o = &L->r->outcome;
        o->ok = v->ld.completed;
        o->failed = v->ld.failed;
        snprintf(o->err, sizeof(o->err), "%s", v->ld.first_err ? sk_errno_name(v->ld.first_err) : "");
        snprintf(o->text, sizeof(o->text), "%u of %u connections completed, %u failed", v->ld.completed,
                 v->ld.conns, v->ld.failed);
        L->r->reproduced = !L->fix && tw - 1 == (long)n && stw - 1 == 0 && v->ld.completed == n;
        L->r->fixed = L->fix && tw - 1 == (long)pool;
        if (L->fix)
            lab_verdict(L, "Kept-alive connections: %u requests left only %ld TIME_WAIT on the kernel.", n, tw - 1);
        else
            lab_verdict(L, "The kernel's server closed first, so the kernel's own ss shows %ld TIME_WAIT sockets, one "
                           "per request, with a 60 s timer; synack's client side has none.",
                        tw - 1);
        v->done = true;
    }
}

/* ------------------------------------------------------------------ */

static void live_run_cb(void *ctx, sk_loop *loop)
{
    live *v = ctx;
    if (v->done)
        return;
    if (sk_loop_clock() > v->L->live_start + LIVE_LIMIT) {
        snprintf(v->L->error, sizeof(v->L->error), "the live scenario did not finish within 30 s");
        v->failed = v->done = true;
    } else if (v->kind == SC_REFUSED) {
        refused_step(v);
    } else if (v->kind == SC_CLOSE_WAIT) {
        close_wait_step(v);
    } else {
        time_wait_step(v);
    }
    if (v->done)
        sk_loop_finish(loop);
}

/* Kernel sockets are polled: wake every millisecond while running. */
static sk_time_ns live_deadline(void *ctx)
{
    live *v = ctx;
    return v->done ? SK_TIME_NEVER : sk_loop_clock() + LAB_MS;
}

static void live_shutdown(void *ctx, sk_loop *loop)
{
    live *v = ctx;
    (void)loop;
    sk_stack *s = lab_stack(v->L, 0);
    /* Whatever the scenario left open (the leak) goes now. */
    if (v->have_ld)
        lab_load_abort_open(v->L, &v->ld);
    if (v->lfd >= 0)
        sk_close(s, v->lfd);
    v->lfd = -1;
    if (v->sfd >= 0)
        sk_close(s, v->sfd);
    v->sfd = -1;
}

bool lab_live_available(const char *name)
{
    return !strcmp(name, "connection-refused") || !strcmp(name, "close-wait-leak") ||
           !strcmp(name, "time-wait-pileup");
}

int lab_live_run(const lab_scenario *sc, const lab_config *cfg, bool fix, const char *tun, lab_result *r, char *err,
                 size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (!lab_live_available(sc->name)) {
        snprintf(err, errlen, "%s has no live version (live: connection-refused, close-wait-leak, time-wait-pileup)",
                 sc->name);
        return -1;
    }
    lab *L = calloc(1, sizeof(*L));
    live *v = calloc(1, sizeof(*v));
    if (!L || !v) {
        free(L);
        free(v);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    L->sc = sc;
    L->live = true;
    L->fix = fix;
    L->seed = cfg->seed;
    L->scale = cfg->scale;
    L->r = r;
    v->L = L;
    v->lfd = v->sfd = v->klisten = -1;
    v->kind = !strcmp(sc->name, "connection-refused") ? SC_REFUSED
              : !strcmp(sc->name, "close-wait-leak")  ? SC_CLOSE_WAIT
                                                      : SC_TIME_WAIT;
    sk_tun_opts_init(&v->opt, "synack lab");
    v->opt.tun = tun;
    v->opt.name = fix ? "lab-live-fixed" : "lab-live";
    v->opt.pcap = cfg->pcap_path;
    sk_loop_app app = {.ctx = v, .run = live_run_cb, .shutdown = live_shutdown, .extra_fd = -1,
                       .deadline = live_deadline};
    v->loop = sk_tun_start(&v->opt, &app);
    int rc = -1;
    if (!v->loop) {
        snprintf(err, errlen, "cannot start on TUN device %s (run as root inside `scripts/netns.sh up NAME`'s "
                              "namespace: ip netns exec NAME synack lab %s --live)", tun, sc->name);
        goto out;
    }
    L->hosts[0].stack = sk_loop_stack(v->loop);
    L->hosts[0].addr = LIVE_SYNACK_ADDR;
    snprintf(L->hosts[0].name, sizeof(L->hosts[0].name), "synack");
    L->nhosts = 1;
    sk_counter_set_init(&L->hosts[0].base);
    sk_counter_set_init(&L->hosts[0].nstat);
    lab_baseline(L);
    L->live_start = sk_loop_clock();
    if (v->kind == SC_REFUSED)
        lab_say(L, "Live: synack (10.77.0.2) connects to port 9 of the kernel (10.77.0.1), and the kernel to port 9 "
                   "of synack%s.", fix ? ", where each now listens (the fix)" : "; nothing listens on either");
    int lr = sk_tun_run(&v->opt, v->loop);
    if (v->failed || lr != 0 || !v->done)
        snprintf(err, errlen, "%s", L->error[0] ? L->error : "the live run failed");
    else
        rc = 0;
    r->timeline = strdup("(live: no virtual-time timeline; use --pcap FILE to capture the TUN traffic)\n");
out:
    for (unsigned i = 0; i < v->nk; i++)
        if (v->k[i].fd >= 0 && v->k[i].phase != 3)
            close(v->k[i].fd);
    if (v->klisten >= 0)
        close(v->klisten);
    if (v->have_ld)
        lab_load_free(&v->ld);
    sk_tun_stop(&v->opt);
    sk_loop_free(v->loop);
    sk_counter_set_free(&L->hosts[0].base);
    sk_counter_set_free(&L->hosts[0].nstat);
    free(v);
    free(L);
    return rc;
}
