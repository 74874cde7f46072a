/*
 * The SYN-flood scenario (see flood.h).
 *
 * One loop owns virtual time.  Its next action is the earliest of: the
 * wire's next event (a datagram or a stack timer), the next client's
 * start, and the next flood SYN.  Flood SYNs due before the wire's next
 * event are fed to the server in a batch, each at its own instant, so the
 * order of everything the server sees is exactly what a wire carrying the
 * flood would give it.  Socket calls are never made from inside an event
 * callback: callbacks only mark sockets to look at, and the loop drives
 * them between steps.
 */
#include "flood.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/syncookie.h"
#include "synack-io/memwire.h"
#include "synack/packet.h"

#define FLOOD_START (36000ull * SK_NSEC_PER_SEC) /* 10:00:00, a whole minute */
#define FLOOD_CLIENT_NET 0x0a000100u             /* 10.0.1.0/24 */
#define FLOOD_BATCH 1024
#define FLOOD_SAMPLE_INTERVAL SK_NSEC_PER_MSEC
#define FLOOD_SERVER UINT32_MAX

static const char flood_request[] = "GET / HTTP/1.0\r\nHost: 10.0.0.2\r\n\r\n";
static const char flood_reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";

typedef unsigned __int128 flood_u128;

void sk_flood_defaults(sk_flood_params *p)
{
    memset(p, 0, sizeof *p);
    p->syncookies = 1;
    p->rate = 1000000;
    p->clients = 1000;
    p->backlog = 128;
    p->duration = 2 * SK_NSEC_PER_SEC;
    p->grace = 1 * SK_NSEC_PER_SEC;
    p->seed = 1;
    p->client_stacks = 4;
    p->delay = SK_NSEC_PER_MSEC;
}

/* ------------------------------------------------------------------ */
/* State                                                                */
/* ------------------------------------------------------------------ */

typedef enum client_phase { CLIENT_WAITING, CLIENT_CONNECTING, CLIENT_READING, CLIENT_DONE, CLIENT_FAILED } client_phase;

typedef struct flood_client {
    uint32_t stack;
    int fd;
    client_phase phase;
    bool dirty;
    sk_time_ns started, established; /* established 0: not (yet) */
} flood_client;

typedef struct server_conn {
    bool active, dirty;
    size_t got;
    char tail[4]; /* the last bytes read, to spot the request's end */
} server_conn;

typedef struct host_ctx {
    struct flood_run *run;
    uint32_t index; /* client stack index, or FLOOD_SERVER */
} host_ctx;

typedef struct int_vec {
    int *v;
    size_t len, cap;
} int_vec;

typedef struct flood_run {
    const sk_flood_params *p;
    sk_flood_result *r;
    sk_wire *wire;
    sk_stack *server;
    sk_stack *client_stack[SK_FLOOD_MAX_CLIENT_STACKS];
    host_ctx ctx[SK_FLOOD_MAX_CLIENT_STACKS + 1];
    int listen_fd;
    bool accept_pending;
    bool oom;

    flood_client *clients;
    int_vec fd_client[SK_FLOOD_MAX_CLIENT_STACKS]; /* fd -> client index, -1 */
    server_conn *sconn;                            /* by server fd */
    size_t sconn_cap;
    int_vec dirty_clients, dirty_server;

    uint64_t rng;

    /* flood SYNs built ahead of a batch, so only sk_input is timed */
    struct flood_syn {
        sk_time_ns time;
        size_t len;
        uint8_t bytes[96];
    } *batch;
} flood_run;

static bool vec_push(flood_run *run, int_vec *v, int x)
{
    if (v->len == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 64;
        int *nv = realloc(v->v, ncap * sizeof *nv);
        if (!nv) {
            run->oom = true;
            return false;
        }
        v->v = nv;
        v->cap = ncap;
    }
    v->v[v->len++] = x;
    return true;
}

/* Makes fd a valid index of v, filling new slots with -1. */
static bool vec_reserve_index(flood_run *run, int_vec *v, int fd)
{
    while (v->len <= (size_t)fd)
        if (!vec_push(run, v, -1))
            return false;
    return true;
}

static bool sconn_reserve(flood_run *run, int fd)
{
    if ((size_t)fd < run->sconn_cap)
        return true;
    size_t ncap = run->sconn_cap ? run->sconn_cap : 64;
    while (ncap <= (size_t)fd)
        ncap *= 2;
    server_conn *n = realloc(run->sconn, ncap * sizeof *n);
    if (!n) {
        run->oom = true;
        return false;
    }
    memset(n + run->sconn_cap, 0, (ncap - run->sconn_cap) * sizeof *n);
    run->sconn = n;
    run->sconn_cap = ncap;
    return true;
}

static void mark_client(flood_run *run, int idx)
{
    if (!run->clients[idx].dirty) {
        run->clients[idx].dirty = true;
        vec_push(run, &run->dirty_clients, idx);
    }
}

static void mark_server_conn(flood_run *run, int fd)
{
    if (fd < 0 || (size_t)fd >= run->sconn_cap || !run->sconn[fd].active)
        return;
    if (!run->sconn[fd].dirty) {
        run->sconn[fd].dirty = true;
        vec_push(run, &run->dirty_server, fd);
    }
}

/* Event callbacks run inside the engine: they only take notes. */
static void flood_on_event(void *ctx, const sk_event *ev)
{
    host_ctx *h = ctx;
    flood_run *run = h->run;
    if (h->index == FLOOD_SERVER) {
        if (ev->type == SK_EV_READY) {
            if (ev->fd == run->listen_fd)
                run->accept_pending = true;
            else
                mark_server_conn(run, ev->fd);
        } else if (ev->type == SK_EV_MESSAGE) {
            if (run->r->messages++ == 0 && ev->message)
                snprintf(run->r->first_message, sizeof run->r->first_message, "%s", ev->message);
        }
        return;
    }
    if ((ev->type != SK_EV_READY && ev->type != SK_EV_STATE) || ev->fd < 0)
        return;
    int_vec *map = &run->fd_client[h->index];
    if ((size_t)ev->fd >= map->len || map->v[ev->fd] < 0)
        return;
    int idx = map->v[ev->fd];
    flood_client *c = &run->clients[idx];
    if (ev->type == SK_EV_STATE && ev->to_state == SK_TCP_ESTABLISHED && !c->established)
        c->established = ev->now;
    mark_client(run, idx);
}

/* ------------------------------------------------------------------ */
/* Legitimate traffic                                                    */
/* ------------------------------------------------------------------ */

static void client_fail(flood_run *run, flood_client *c)
{
    sk_stack *s = run->client_stack[c->stack];
    run->fd_client[c->stack].v[c->fd] = -1;
    sk_close(s, c->fd);
    c->phase = CLIENT_FAILED;
}

static void client_start(flood_run *run, int idx)
{
    flood_client *c = &run->clients[idx];
    sk_stack *s = run->client_stack[c->stack];
    c->started = sk_wire_now(run->wire);
    c->fd = sk_socket(s);
    if (c->fd < 0) {
        c->phase = CLIENT_FAILED;
        return;
    }
    if (!vec_reserve_index(run, &run->fd_client[c->stack], c->fd))
        return;
    run->fd_client[c->stack].v[c->fd] = idx;
    c->phase = CLIENT_CONNECTING;
    sk_endpoint server = {.addr = SK_FLOOD_SERVER_ADDR, .port = SK_FLOOD_SERVER_PORT, .family = SK_AF_INET};
    int rc = sk_connect(s, c->fd, &server);
    if (rc != -EINPROGRESS && rc != 0)
        client_fail(run, c);
}

static void client_drive(flood_run *run, flood_client *c)
{
    sk_stack *s = run->client_stack[c->stack];
    if (c->phase == CLIENT_CONNECTING) {
        int st = sk_state(s, c->fd);
        if (st == SK_TCP_SYN_SENT)
            return;
        if (st != SK_TCP_ESTABLISHED) {
            client_fail(run, c);
            return;
        }
        if (!c->established)
            c->established = sk_now(s);
        ssize_t n = sk_send(s, c->fd, flood_request, sizeof flood_request - 1, 0);
        if (n != (ssize_t)(sizeof flood_request - 1)) {
            client_fail(run, c);
            return;
        }
        c->phase = CLIENT_READING;
    }
    if (c->phase != CLIENT_READING)
        return;
    char buf[512];
    for (;;) {
        ssize_t n = sk_recv(s, c->fd, buf, sizeof buf, 0);
        if (n > 0)
            continue;
        if (n == -EAGAIN)
            return;
        if (n == 0) {
            run->fd_client[c->stack].v[c->fd] = -1;
            sk_close(s, c->fd);
            c->phase = CLIENT_DONE;
            return;
        }
        client_fail(run, c);
        return;
    }
}

static void server_accept_all(flood_run *run)
{
    /* What the accept queue held when the server got to it. */
    uint32_t queued = 0;
    for (;; queued++) {
        if (queued > run->r->accept_queue_peak)
            run->r->accept_queue_peak = queued;
        sk_endpoint peer;
        int fd = sk_accept(run->server, run->listen_fd, &peer);
        if (fd < 0)
            return;
        if (!sconn_reserve(run, fd)) {
            sk_close(run->server, fd);
            return;
        }
        memset(&run->sconn[fd], 0, sizeof run->sconn[fd]);
        run->sconn[fd].active = true;
        mark_server_conn(run, fd);
    }
}

/* Reads the request; once its blank line arrived, replies and closes
 * (HTTP/1.0: the server ends the exchange). */
static void server_serve(flood_run *run, int fd)
{
    server_conn *sc = &run->sconn[fd];
    char buf[512];
    bool complete = false;
    for (;;) {
        ssize_t n = sk_recv(run->server, fd, buf, sizeof buf, 0);
        if (n == -EAGAIN)
            break;
        if (n <= 0) {
            sc->active = false;
            sk_close(run->server, fd);
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            memmove(sc->tail, sc->tail + 1, 3);
            sc->tail[3] = buf[i];
            if (!memcmp(sc->tail, "\r\n\r\n", 4))
                complete = true;
        }
        sc->got += (size_t)n;
    }
    if (complete) {
        sk_send(run->server, fd, flood_reply, sizeof flood_reply - 1, 0);
        sc->active = false;
        sk_close(run->server, fd);
    }
}

/* Drives every socket an event pointed at, until no more are pointed at. */
static void process_marks(flood_run *run)
{
    for (;;) {
        if (run->accept_pending) {
            run->accept_pending = false;
            server_accept_all(run);
            continue;
        }
        if (run->dirty_server.len) {
            int fd = run->dirty_server.v[--run->dirty_server.len];
            run->sconn[fd].dirty = false;
            if (run->sconn[fd].active)
                server_serve(run, fd);
            continue;
        }
        if (run->dirty_clients.len) {
            int idx = run->dirty_clients.v[--run->dirty_clients.len];
            run->clients[idx].dirty = false;
            client_drive(run, &run->clients[idx]);
            continue;
        }
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Observation                                                           */
/* ------------------------------------------------------------------ */

typedef struct listener_sample {
    uint32_t syn_queue, accept_queue;
} listener_sample;

static void sample_visit(void *ctx, const sk_sock_info *si)
{
    listener_sample *ls = ctx;
    if (si->local.port != SK_FLOOD_SERVER_PORT)
        return;
    if (si->state == SK_TCP_LISTEN)
        ls->accept_queue = si->recv_q;
    else if (si->state == SK_TCP_SYN_RECV && si->fd < 0)
        ls->syn_queue++;
}

static void sample_listener(flood_run *run)
{
    listener_sample ls = {0, 0};
    sk_sockets(run->server, sample_visit, &ls);
    if (ls.syn_queue > run->r->syn_queue_peak)
        run->r->syn_queue_peak = ls.syn_queue;
    if (ls.accept_queue > run->r->accept_queue_peak)
        run->r->accept_queue_peak = ls.accept_queue;
}

static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * SK_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int cmp_time(const void *a, const void *b)
{
    sk_time_ns x = *(const sk_time_ns *)a, y = *(const sk_time_ns *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static sk_time_ns percentile(const sk_time_ns *v, size_t n, unsigned pct)
{
    if (!n)
        return 0;
    size_t rank = (n * pct + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

/* ------------------------------------------------------------------ */
/* The flood                                                             */
/* ------------------------------------------------------------------ */

/* A spoofed SYN as Linux sends it: MSS, SACK-permitted, timestamps,
 * window scale, from a random address of the benchmarking range. */
static size_t build_flood_syn(flood_run *run, uint8_t *buf, size_t cap)
{
    uint64_t a = sk_cli_splitmix64(&run->rng), b = sk_cli_splitmix64(&run->rng);
    uint32_t tsval = (uint32_t)(b >> 32);
    uint8_t opts[20] = {SK_TCPOPT_MSS, 4, 0x05, 0xb4, SK_TCPOPT_SACK_PERM, 2, SK_TCPOPT_TIMESTAMP, 10,
                        (uint8_t)(tsval >> 24), (uint8_t)(tsval >> 16), (uint8_t)(tsval >> 8), (uint8_t)tsval,
                        0, 0, 0, 0, SK_TCPOPT_NOP, SK_TCPOPT_WSCALE, 3, 7};
    sk_segment_spec spec = {
        .src = SK_FLOOD_SPOOF_NET | ((uint32_t)a & SK_FLOOD_SPOOF_MASK),
        .dst = SK_FLOOD_SERVER_ADDR,
        .sport = (uint16_t)(1024 + (uint32_t)(a >> 17) % (65536 - 1024)),
        .dport = SK_FLOOD_SERVER_PORT,
        .seq = (uint32_t)b,
        .flags = SK_TH_SYN,
        .window = 64240,
        .ip_id = (uint16_t)(a >> 48),
        .df = true,
        .options = opts,
        .options_len = sizeof opts,
    };
    return sk_build_segment(&spec, buf, cap);
}

static sk_time_ns flood_time(const sk_flood_params *p, sk_time_ns start, uint64_t k)
{
    return start + (sk_time_ns)((flood_u128)k * SK_NSEC_PER_SEC / p->rate);
}

static sk_time_ns client_time(const sk_flood_params *p, sk_time_ns start, uint32_t i)
{
    /* Evenly over the flood, each in the middle of its share. */
    return start + (sk_time_ns)(((flood_u128)2 * i + 1) * p->duration / (2 * (flood_u128)p->clients));
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int validate(const sk_flood_params *p, char *err, size_t errlen)
{
    if (p->syncookies < 0 || p->syncookies > 2)
        return fail(err, errlen, "syncookies must be 0, 1 or 2, not %d", p->syncookies);
    if (p->rate > 1000000000ull)
        return fail(err, errlen, "rate %llu is above 1000000000 SYNs per second", (unsigned long long)p->rate);
    if (p->clients > 1000000)
        return fail(err, errlen, "clients %u is above 1000000", p->clients);
    if (p->backlog > 65535)
        return fail(err, errlen, "backlog %u is above 65535", p->backlog);
    if (p->duration == 0 || p->duration > 3600 * SK_NSEC_PER_SEC)
        return fail(err, errlen, "duration must be above 0 and at most 3600 s");
    if (p->grace > 3600 * SK_NSEC_PER_SEC)
        return fail(err, errlen, "grace must be at most 3600 s");
    if (p->client_stacks == 0 || p->client_stacks > SK_FLOOD_MAX_CLIENT_STACKS)
        return fail(err, errlen, "client_stacks must be 1..%d", SK_FLOOD_MAX_CLIENT_STACKS);
    return 0;
}

static void host_params(flood_run *run, sk_stack_params *sp, uint32_t addr, host_ctx *ctx)
{
    sk_cli_host_params(run->p->seed, addr, sp);
    sp->on_event = flood_on_event;
    sp->event_ctx = ctx;
}

static int setup(flood_run *run, char *err, size_t errlen)
{
    const sk_flood_params *p = run->p;
    run->wire = sk_wire_new(p->seed, FLOOD_START);
    if (!run->wire)
        return -ENOMEM;
    sk_link_params link = {.delay = p->delay};
    sk_wire_set_link(run->wire, 0, 0, &link);

    sk_stack_params sp;
    run->ctx[0] = (host_ctx){run, FLOOD_SERVER};
    host_params(run, &sp, SK_FLOOD_SERVER_ADDR, &run->ctx[0]);
    sp.name = "server";
    run->server = sk_wire_add_host(run->wire, SK_FLOOD_SERVER_ADDR, &sp);
    if (!run->server)
        return -ENOMEM;
    for (uint32_t i = 0; i < p->client_stacks; i++) {
        uint32_t addr = FLOOD_CLIENT_NET + 1 + i;
        run->ctx[i + 1] = (host_ctx){run, i};
        host_params(run, &sp, addr, &run->ctx[i + 1]);
        sp.name = NULL;
        run->client_stack[i] = sk_wire_add_host(run->wire, addr, &sp);
        if (!run->client_stack[i])
            return -ENOMEM;
    }

    char value[16], msg[160];
    snprintf(value, sizeof value, "%d", p->syncookies);
    if (sk_sysctl_set(run->server, "net.ipv4.tcp_syncookies", value, msg, sizeof msg) != 0)
        return fail(err, errlen, "%s", msg);

    run->listen_fd = sk_socket(run->server);
    sk_endpoint local = {.addr = SK_FLOOD_SERVER_ADDR, .port = SK_FLOOD_SERVER_PORT, .family = SK_AF_INET};
    int one = 1;
    if (run->listen_fd < 0 ||
        sk_setsockopt(run->server, run->listen_fd, SK_SOL_SOCKET, SK_SO_REUSEADDR, &one, sizeof one) < 0 ||
        sk_bind(run->server, run->listen_fd, &local) < 0 ||
        sk_listen(run->server, run->listen_fd, (int)p->backlog) < 0)
        return fail(err, errlen, "the server could not listen on 10.0.0.2:80");

    if (p->clients) {
        run->clients = calloc(p->clients, sizeof *run->clients);
        if (!run->clients)
            return -ENOMEM;
    }
    for (uint32_t i = 0; i < p->clients; i++) {
        run->clients[i].stack = i % p->client_stacks;
        run->clients[i].fd = -1;
    }
    run->batch = malloc(FLOOD_BATCH * sizeof *run->batch);
    if (!run->batch)
        return -ENOMEM;
    run->rng = p->seed * 0x2545f4914f6cdd1dull + 0x5ca1ab1eull;
    return 0;
}

static void teardown(flood_run *run)
{
    sk_wire_free(run->wire);
    free(run->clients);
    for (size_t i = 0; i < SK_FLOOD_MAX_CLIENT_STACKS; i++)
        free(run->fd_client[i].v);
    free(run->sconn);
    free(run->dirty_clients.v);
    free(run->dirty_server.v);
    free(run->batch);
}

static void collect(flood_run *run)
{
    const sk_flood_params *p = run->p;
    sk_flood_result *r = run->r;
    r->clients = p->clients;
    sk_time_ns *est = p->clients ? malloc(p->clients * sizeof *est) : NULL;
    size_t n_est = 0;
    for (uint32_t i = 0; i < p->clients; i++) {
        flood_client *c = &run->clients[i];
        if (c->established) {
            r->established++;
            if (est)
                est[n_est++] = c->established - c->started;
        }
        if (c->phase == CLIENT_DONE)
            r->completed++;
        else if (c->phase == CLIENT_FAILED)
            r->failed++;
        else if (c->phase == CLIENT_CONNECTING &&
                 sk_state(run->client_stack[c->stack], c->fd) == SK_TCP_SYN_SENT)
            r->stuck_syn_sent++;
    }
    if (est) {
        qsort(est, n_est, sizeof *est, cmp_time);
        r->establish_p50 = percentile(est, n_est, 50);
        r->establish_p90 = percentile(est, n_est, 90);
        r->establish_p99 = percentile(est, n_est, 99);
        r->establish_max = n_est ? est[n_est - 1] : 0;
        free(est);
    }
    for (uint32_t i = 0; i < p->client_stacks; i++)
        r->client_syn_retrans += sk_counter(run->client_stack[i], "TCPSynRetrans");

    sk_stack *s = run->server;
    r->passive_opens = sk_counter(s, "PassiveOpens");
    r->syncookies_sent = sk_counter(s, "SyncookiesSent");
    r->syncookies_recv = sk_counter(s, "SyncookiesRecv");
    r->syncookies_failed = sk_counter(s, "SyncookiesFailed");
    r->listen_overflows = sk_counter(s, "ListenOverflows");
    r->listen_drops = sk_counter(s, "ListenDrops");
    r->req_q_full_do_cookies = sk_counter(s, "TCPReqQFullDoCookies");
    r->req_q_full_drop = sk_counter(s, "TCPReqQFullDrop");
    r->request_size = sk_request_record_size();
    r->connection_size = sk_connection_record_size();
    r->listener_peak_bytes = (size_t)r->syn_queue_peak * r->request_size +
                             (size_t)r->accept_queue_peak * r->connection_size;
    r->cpu_ns_per_syn = r->flood_syns ? (double)r->flood_cpu_ns / (double)r->flood_syns : 0.0;
}

static void run_loop(flood_run *run)
{
    const sk_flood_params *p = run->p;
    sk_time_ns start = sk_wire_now(run->wire);
    sk_time_ns end = start + p->duration + p->grace;
    uint64_t nflood = p->rate ? (uint64_t)((flood_u128)p->rate * p->duration / SK_NSEC_PER_SEC) : 0;
    uint64_t k = 0;
    uint32_t next_client = 0;
    sk_time_ns next_sample = start;

    while (!run->oom) {
        sk_time_ns t_flood = k < nflood ? flood_time(p, start, k) : SK_TIME_NEVER;
        sk_time_ns t_client = next_client < p->clients ? client_time(p, start, next_client) : SK_TIME_NEVER;
        sk_time_ns t_wire = sk_wire_next_event(run->wire);
        sk_time_ns t = t_wire < t_flood ? t_wire : t_flood;
        if (t_client < t)
            t = t_client;
        if (t == SK_TIME_NEVER || t > end)
            break;
        if (t >= next_sample) {
            sample_listener(run);
            next_sample = t + FLOOD_SAMPLE_INTERVAL;
        }
        if (t_wire == t) {
            if (!sk_wire_step(run->wire))
                break;
        } else if (t_client == t) {
            sk_wire_run_until(run->wire, t_client);
            client_start(run, (int)next_client++);
        } else {
            /* The SYNs due before anything else happens. */
            size_t n = 0;
            sk_time_ns limit = t_wire < t_client ? t_wire : t_client;
            while (n < FLOOD_BATCH && k < nflood) {
                sk_time_ns tk = flood_time(p, start, k);
                if (tk >= limit)
                    break;
                struct flood_syn *syn = &run->batch[n++];
                syn->time = tk;
                syn->len = build_flood_syn(run, syn->bytes, sizeof syn->bytes);
                k++;
            }
            uint64_t c0 = cpu_now_ns();
            for (size_t i = 0; i < n; i++)
                sk_input(run->server, run->batch[i].bytes, run->batch[i].len, run->batch[i].time);
            run->r->flood_cpu_ns += cpu_now_ns() - c0;
            run->r->flood_syns += n;
        }
        process_marks(run);
    }
    sample_listener(run);
    sk_wire_run_until(run->wire, end);
    process_marks(run);
}

int sk_flood_run(const sk_flood_params *p, sk_flood_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    int rc = validate(p, err, errlen);
    if (rc)
        return rc;
    uint64_t cpu0 = cpu_now_ns();
    flood_run run;
    memset(&run, 0, sizeof run);
    run.p = p;
    run.r = r;
    run.listen_fd = -1;
    rc = setup(&run, err, errlen);
    if (rc == 0) {
        run_loop(&run);
        if (run.oom)
            rc = -ENOMEM;
        collect(&run);
    }
    if (rc == -ENOMEM)
        fail(err, errlen, "out of memory");
    teardown(&run);
    r->total_cpu_ns = cpu_now_ns() - cpu0;
    return rc;
}
