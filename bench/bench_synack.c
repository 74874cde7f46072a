/*
 * synack's side of `make bench`: two synack stacks in one process joined
 * by a minimal in-process link, in virtual time.
 *
 *   lifecycle  connect, 64-byte request, 64-byte reply, client closes
 *              first (so the client keeps the TIME_WAIT), server closes;
 *              many connections in flight; on one thread and on two
 *              threads each driving its own client/server pair
 *   bulk       1 GiB over one connection at a given MTU
 *   memory     bytes per idle ESTABLISHED socket, per TIME_WAIT record,
 *              per SYN_RECV request (RSS and heap deltas)
 *   timers     CPU per virtual second with 1,000,000 idle connections
 *              holding keepalive timers
 *
 * The link: each stack's transmit callback appends the datagram to a
 * queue the other stack drains (one memcpy: the datagram lives in the
 * stack's scratch buffer only for the duration of the callback); on the
 * bulk pair the client's data segments go instead straight from its
 * scatter-gather transmit into the server's sk_inputv (no copy on the
 * link), the server's replies still through the queue.  No
 * impairment, no delay: the clock moves only when both queues are empty
 * and some connection waits for a timer, straight to the next deadline,
 * as the in-memory wire does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "synack-io/memwire.h"
#include "synack/packet.h"
#include "synack/synack.h"

#define CLIENT_ADDR 0x0a000001u /* 10.0.0.1, in-process only */
#define SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
/* BENCH_FAMILY=6: the pairs talk IPv6 (fd00::1 and fd00::2, AF_INET6
 * sockets), for the per-connection memory of that family. */
static const uint8_t client_addr6[16] = {0xfd, [15] = 1}, server_addr6[16] = {0xfd, [15] = 2};

static bool bench_v6(void)
{
    static int v6 = -1; /* read once: client_start asks for every connection */
    if (v6 < 0)
        v6 = bench_env_long("BENCH_FAMILY", 4) == 6;
    return v6 != 0;
}

static sk_endpoint server_endpoint(uint16_t port)
{
    return bench_v6() ? sk_endpoint_ipv6(server_addr6, port) : sk_endpoint_ipv4(SERVER_ADDR, port);
}
#define BASE_PORT 5000
#define MSG_LEN 64

static void die(const char *what, long v)
{
    fprintf(stderr, "bench_synack: %s (%ld: %s)\n", what, v, v < 0 ? sk_strerror((int)v) : "");
    exit(1);
}

/* ------------------------------------------------------------------ */
/* The link                                                             */
/* ------------------------------------------------------------------ */

/* Datagrams packed back to back, each preceded by its length. */
typedef struct pktq {
    uint8_t *buf;
    size_t len, cap;
    uint64_t count;
    /* The direct link (bulk only, BENCH_DIRECT=0 turns it off): the
     * sender's scatter-gather pieces go straight to sk_inputv on the
     * receiving stack from inside the sender's transmitv, with no copy on
     * the link.  Allowed because the receiver is never inside a call of
     * its own when the sender transmits here (the receiver's replies go
     * through a queue, never back into the sender), the rule synack.h
     * states.  `after` (the bench's reader) runs after each datagram, as a
     * reader blocked in read(2) is woken by each. */
    sk_stack *direct;
    const sk_time_ns *direct_now;
    void (*after)(void *ctx);
    void *after_ctx;
} pktq;

static uint64_t drain(pktq *q, sk_stack *dst, sk_time_ns now);

static void pktq_push(void *ctx, const uint8_t *dgram, size_t len)
{
    pktq *q = ctx;
    size_t need = q->len + sizeof(uint32_t) + len;
    if (need > q->cap) {
        size_t ncap = q->cap ? q->cap : 65536;
        while (ncap < need)
            ncap *= 2;
        uint8_t *nb = realloc(q->buf, ncap);
        if (!nb)
            die("out of memory in the link", 0);
        q->buf = nb;
        q->cap = ncap;
    }
    uint32_t l32 = (uint32_t)len;
    memcpy(q->buf + q->len, &l32, sizeof(l32));
    memcpy(q->buf + q->len + sizeof(l32), dgram, len);
    q->len = need;
    q->count++;
}

/* The scatter-gather link: the pieces (headers, then the payload where
 * it lies in the sender's queue) gathered straight into the queue, the
 * one copy a datagram costs on this link, as the plain callback's. */
static void pktq_pushv(void *ctx, const sk_iovec *iov, size_t count, size_t len)
{
    pktq *q = ctx;
    if (q->direct) {
        /* Anything the sender queued before goes first: the link keeps
         * the order. */
        if (q->len)
            drain(q, q->direct, *q->direct_now);
        sk_inputv(q->direct, iov, count, *q->direct_now);
        q->count++;
        if (q->after)
            q->after(q->after_ctx);
        return;
    }
    size_t need = q->len + sizeof(uint32_t) + len;
    if (need > q->cap) {
        size_t ncap = q->cap ? q->cap : 65536;
        while (ncap < need)
            ncap *= 2;
        uint8_t *nb = realloc(q->buf, ncap);
        if (!nb)
            die("out of memory in the link", 0);
        q->buf = nb;
        q->cap = ncap;
    }
    uint32_t l32 = (uint32_t)len;
    memcpy(q->buf + q->len, &l32, sizeof(l32));
    uint8_t *p = q->buf + q->len + sizeof(l32);
    for (size_t i = 0; i < count; i++) {
        memcpy(p, iov[i].base, iov[i].len);
        p += iov[i].len;
    }
    q->len = need;
    q->count++;
}

/* Whether the pairs being made are bulk's (new_stack). */
static bool bulk_link;

/* A 0/1 switch from the environment (unset or empty: `dflt`). */
static bool env_flag(const char *name, bool dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) != 0 : dflt;
}

/* Grows the queue to `cap` bytes and touches them. */
static void pktq_reserve(pktq *q, size_t cap)
{
    if (q->cap < cap) {
        uint8_t *nb = realloc(q->buf, cap);
        if (!nb)
            die("out of memory in the link", 0);
        q->buf = nb;
        q->cap = cap;
    }
    memset(q->buf, 0, q->cap);
}

static void pktq_discard(void *ctx, const uint8_t *dgram, size_t len)
{
    pktq *q = ctx;
    q->count++;
}

/* Readiness reported by SK_EV_READY, deduplicated per handle: the
 * equivalent of an edge-triggered epoll ready list. */
typedef struct ready_set {
    uint8_t *flag;
    int *list;
    size_t n, cap;
} ready_set;

static void ready_add(ready_set *r, int fd)
{
    if ((size_t)fd >= r->cap) {
        size_t ncap = r->cap ? r->cap : 1024;
        while (ncap <= (size_t)fd)
            ncap *= 2;
        uint8_t *nf = realloc(r->flag, ncap);
        int *nl = realloc(r->list, ncap * sizeof(int));
        if (!nf || !nl)
            die("out of memory in the ready set", 0);
        memset(nf + r->cap, 0, ncap - r->cap);
        r->flag = nf;
        r->list = nl;
        r->cap = ncap;
    }
    if (!r->flag[fd]) {
        r->flag[fd] = 1;
        r->list[r->n++] = fd;
    }
}

static void ready_clear(ready_set *r)
{
    for (size_t i = 0; i < r->n; i++)
        r->flag[r->list[i]] = 0;
    r->n = 0;
}

static void ready_reserve(ready_set *r, size_t cap)
{
    if (cap > 0)
        ready_add(r, (int)cap - 1);
    r->flag[cap - 1] = 0;
    r->n = 0;
    memset(r->list, 0, r->cap * sizeof(int));
}

static void on_event(void *ctx, const sk_event *ev)
{
    if (ev->type == SK_EV_READY && ev->fd >= 0)
        ready_add(ctx, ev->fd);
}

/* Per-handle application state, indexed by handle. */
enum { APP_FREE = 0, APP_CONNECTING, APP_WAIT_REPLY, APP_LISTENER, APP_SERVING };

typedef struct app_conn {
    uint8_t state;
    uint8_t got;
    uint8_t replied;
} app_conn;

typedef struct app_table {
    app_conn *c;
    size_t cap;
} app_table;

static app_conn *app_get(app_table *t, int fd)
{
    if ((size_t)fd >= t->cap) {
        size_t ncap = t->cap ? t->cap : 1024;
        while (ncap <= (size_t)fd)
            ncap *= 2;
        app_conn *nc = realloc(t->c, ncap * sizeof(*nc));
        if (!nc)
            die("out of memory in the app table", 0);
        memset(nc + t->cap, 0, (ncap - t->cap) * sizeof(*nc));
        t->c = nc;
        t->cap = ncap;
    }
    return &t->c[fd];
}

typedef struct pair {
    sk_stack *client, *server;
    pktq own_to_client, own_to_server;
    pktq *to_client, *to_server; /* the own ones, or queues shared by pairs */
    ready_set client_ready, server_ready;
    app_table client_app, server_app;
    int *listen_fds;
    int nports;
    sk_time_ns now;
    uint64_t time_advances; /* how often the clock had to move */
} pair;

static void set(sk_stack *s, const char *name, const char *value)
{
    char err[160];
    if (sk_sysctl_set(s, name, value, err, sizeof(err)) != 0)
        die(err, 0);
}

static sk_stack *new_stack(pair *p, uint32_t addr, uint16_t mtu, pktq *out, ready_set *ready, uint64_t seed)
{
    sk_stack_params sp = {0};
    sp.addr = addr;
    sp.mtu = mtu;
    sp.seed = seed;
    for (int i = 0; i < 32; i++)
        sp.secret[i] = (uint8_t)(seed * 31 + (uint64_t)i * 7);
    sp.now = p->now;
    sp.name = addr == CLIENT_ADDR ? "client" : "server";
    if (bench_v6())
        memcpy(sp.addr6, addr == CLIENT_ADDR ? client_addr6 : server_addr6, 16);
    sp.transmit = pktq_push;
    sp.transmit_ctx = out;
    sp.on_event = on_event;
    sp.event_ctx = ready;
    sp.event_mask = SK_EVMASK(SK_EV_READY); /* on_event reads nothing else */
    /* The pair's queues are a trusted link in one process, as Linux's
     * loopback is: neither side computes or checks TCP checksums there
     * (CHECKSUM_PARTIAL out, CHECKSUM_UNNECESSARY in), so the comparison
     * with lo is like for like.  BENCH_CSUM=1 computes them all. */
    if (!bench_env_long("BENCH_CSUM", 0))
        sp.offloads = SK_OFFLOAD_TCP_CSUM_TX | SK_OFFLOAD_TCP_CSUM_RX;
    /* Like lo, the link takes scatter-gather datagrams (NETIF_F_SG) and
     * datagrams up to 64 KiB whatever the MTU (lo's GSO: Linux's loopback
     * at MTU 1500 still moves 64 KiB skbs).  BENCH_SG=0 and BENCH_GSO=0
     * turn either off.  Only the bulk pairs use them for now, so that the
     * lifecycle figures stay comparable with earlier runs. */
    if (bulk_link && env_flag("BENCH_SG", true))
        sp.transmitv = pktq_pushv;
    if (bulk_link && env_flag("BENCH_GSO", true))
        sp.gso_max_size = 65536;
    sk_stack *s = sk_stack_new(&sp);
    if (!s)
        die("sk_stack_new failed", 0);
    set(s, "net.ipv4.ip_local_port_range", "1024 65535");
    set(s, "net.ipv4.tcp_max_tw_buckets", "100000000");
    set(s, "net.core.somaxconn", "1000000");
    set(s, "net.ipv4.tcp_max_syn_backlog", "1000000");
    return s;
}

/* A client and a server stack; the server listens on `nports` ports.
 * Pairs driven one after another may share one set of queues (to_client,
 * to_server; NULL for the pair's own). */
static void pair_init_shared(pair *p, uint16_t mtu, int nports, uint64_t seed, pktq *to_client, pktq *to_server)
{
    memset(p, 0, sizeof(*p));
    p->now = 1000 * SK_NSEC_PER_SEC;
    p->to_client = to_client ? to_client : &p->own_to_client;
    p->to_server = to_server ? to_server : &p->own_to_server;
    p->client = new_stack(p, CLIENT_ADDR, mtu, p->to_server, &p->client_ready, seed * 2 + 1);
    p->server = new_stack(p, SERVER_ADDR, mtu, p->to_client, &p->server_ready, seed * 2 + 2);
    p->nports = nports;
    p->listen_fds = calloc((size_t)nports, sizeof(int));
    if (!p->listen_fds)
        die("out of memory", 0);
    for (int i = 0; i < nports; i++) {
        int fd = sk_socket_family(p->server, bench_v6() ? SK_AF_INET6 : SK_AF_INET);
        if (fd < 0)
            die("sk_socket", fd);
        sk_endpoint local = server_endpoint((uint16_t)(BASE_PORT + i));
        int rc = sk_bind(p->server, fd, &local);
        if (rc < 0)
            die("sk_bind", rc);
        rc = sk_listen(p->server, fd, 65535);
        if (rc < 0)
            die("sk_listen", rc);
        p->listen_fds[i] = fd;
        app_get(&p->server_app, fd)->state = APP_LISTENER;
    }
}

static void pair_init(pair *p, uint16_t mtu, int nports, uint64_t seed)
{
    pair_init_shared(p, mtu, nports, seed, NULL, NULL);
}

static void pair_free(pair *p)
{
    sk_stack_free(p->client);
    sk_stack_free(p->server);
    free(p->own_to_client.buf);
    free(p->own_to_server.buf);
    free(p->client_ready.flag);
    free(p->client_ready.list);
    free(p->server_ready.flag);
    free(p->server_ready.list);
    free(p->client_app.c);
    free(p->server_app.c);
    free(p->listen_fds);
}

/* Feeds every queued datagram to its stack; datagrams sent in reply go
 * to the other queue, never to the one being drained. */
static uint64_t drain(pktq *q, sk_stack *dst, sk_time_ns now)
{
    uint64_t n = 0;
    size_t off = 0;
    while (off < q->len) {
        uint32_t len;
        memcpy(&len, q->buf + off, sizeof(len));
        sk_input(dst, q->buf + off + sizeof(len), len, now);
        off += sizeof(len) + len;
        n++;
    }
    q->len = 0;
    return n;
}

static uint64_t pair_drain(pair *p)
{
    uint64_t n = 0;
    while (p->to_server->len || p->to_client->len) {
        n += drain(p->to_server, p->server, p->now);
        n += drain(p->to_client, p->client, p->now);
    }
    return n;
}

/* Both queues empty and nothing ready: jump to the next timer. */
static bool pair_advance(pair *p)
{
    sk_time_ns a = sk_next_deadline(p->client), b = sk_next_deadline(p->server);
    sk_time_ns t = a < b ? a : b;
    if (t == SK_TIME_NEVER)
        return false;
    if (t > p->now)
        p->now = t;
    sk_advance(p->client, p->now);
    sk_advance(p->server, p->now);
    p->time_advances++;
    return true;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

typedef struct lifecycle_run {
    pair *p;
    uint64_t target;   /* lifecycles to complete */
    uint32_t inflight; /* concurrent client connections */
    uint64_t started, done, active;
    uint64_t next_port;
    bool keep_server_open; /* memory test: stop after the handshake */
} lifecycle_run;

static const uint8_t request_msg[MSG_LEN] = "GET /bench 64-byte request ....................................";
static const uint8_t reply_msg[MSG_LEN] = "HTTP/1.1 200 64-byte reply ....................................";

static void client_start(lifecycle_run *r)
{
    pair *p = r->p;
    int fd = sk_socket_family(p->client, bench_v6() ? SK_AF_INET6 : SK_AF_INET);
    if (fd < 0)
        die("client sk_socket", fd);
    sk_endpoint remote = server_endpoint((uint16_t)(BASE_PORT + r->next_port++ % (uint64_t)p->nports));
    int rc = sk_connect(p->client, fd, &remote);
    if (rc != -EINPROGRESS)
        die("client sk_connect", rc);
    app_get(&p->client_app, fd)->state = APP_CONNECTING;
    app_get(&p->client_app, fd)->got = 0;
    r->started++;
    r->active++;
}

static void client_ready(lifecycle_run *r, int fd)
{
    pair *p = r->p;
    app_conn *c = app_get(&p->client_app, fd);
    if (c->state == APP_CONNECTING) {
        int m = sk_poll(p->client, fd);
        if (m & (SK_POLLERR | SK_POLLHUP))
            die("client connection failed", sk_getsockopt(p->client, fd, SK_SOL_SOCKET, SK_SO_ERROR, NULL, NULL));
        if (!(m & SK_POLLOUT))
            return;
        if (r->keep_server_open) {
            c->state = APP_WAIT_REPLY; /* stays idle */
            r->done++;
            r->active--;
            return;
        }
        ssize_t n = sk_send(p->client, fd, request_msg, MSG_LEN, 0);
        if (n != MSG_LEN)
            die("client sk_send", (long)n);
        c->state = APP_WAIT_REPLY;
    }
    if (c->state != APP_WAIT_REPLY || r->keep_server_open)
        return;
    uint8_t buf[MSG_LEN];
    ssize_t n = sk_recv(p->client, fd, buf, MSG_LEN - c->got, 0);
    if (n == -EAGAIN)
        return;
    if (n <= 0)
        die("client sk_recv", (long)n);
    c->got = (uint8_t)(c->got + n);
    if (c->got == MSG_LEN) {
        c->state = APP_FREE;
        int rc = sk_close(p->client, fd);
        if (rc < 0)
            die("client sk_close", rc);
        r->active--;
    }
}

static void server_serve(lifecycle_run *r, int fd)
{
    pair *p = r->p;
    app_conn *c = app_get(&p->server_app, fd);
    for (;;) {
        uint8_t buf[256];
        ssize_t n = sk_recv(p->server, fd, buf, sizeof(buf), 0);
        if (n == -EAGAIN)
            return;
        if (n < 0)
            die("server sk_recv", (long)n);
        if (n == 0) {
            c->state = APP_FREE;
            int rc = sk_close(p->server, fd);
            if (rc < 0)
                die("server sk_close", rc);
            r->done++;
            return;
        }
        c->got = (uint8_t)(c->got + n);
        if (c->got >= MSG_LEN && !c->replied) {
            ssize_t w = sk_send(p->server, fd, reply_msg, MSG_LEN, 0);
            if (w != MSG_LEN)
                die("server sk_send", (long)w);
            c->replied = 1;
        }
    }
}

static void server_ready(lifecycle_run *r, int fd)
{
    pair *p = r->p;
    app_conn *c = app_get(&p->server_app, fd);
    if (c->state == APP_LISTENER) {
        for (;;) {
            int nfd = sk_accept(p->server, fd, NULL);
            if (nfd == -EAGAIN)
                break;
            if (nfd < 0)
                die("server sk_accept", nfd);
            app_conn *nc = app_get(&p->server_app, nfd);
            nc->state = APP_SERVING;
            nc->got = 0;
            nc->replied = 0;
            if (!r->keep_server_open)
                server_serve(r, nfd);
        }
    } else if (c->state == APP_SERVING && !r->keep_server_open) {
        server_serve(r, fd);
    }
}

static void run_ready(ready_set *rs, lifecycle_run *r, void (*fn)(lifecycle_run *, int))
{
    /* Handling one handle may make others ready: take the list as it is. */
    while (rs->n) {
        size_t n = rs->n;
        int batch[512];
        if (n > 512)
            n = 512;
        rs->n -= n;
        memcpy(batch, rs->list + rs->n, n * sizeof(int));
        for (size_t i = 0; i < n; i++)
            rs->flag[batch[i]] = 0;
        for (size_t i = 0; i < n; i++)
            fn(r, batch[i]);
    }
}

/* Runs r->target lifecycles; returns when every connection is either in
 * TIME_WAIT on the client or gone. */
static void lifecycle_execute(lifecycle_run *r)
{
    pair *p = r->p;
    while (r->done < r->target) {
        while (r->active < r->inflight && r->started < r->target)
            client_start(r);
        uint64_t moved = pair_drain(p);
        bool had_ready = p->server_ready.n || p->client_ready.n;
        run_ready(&p->server_ready, r, server_ready);
        run_ready(&p->client_ready, r, client_ready);
        if (!moved && !had_ready && !(r->active < r->inflight && r->started < r->target)) {
            if (!pair_advance(p))
                die("lifecycle stalled with no timer pending", (long)r->done);
        }
    }
    pair_drain(p);
}

static void count_states(sk_stack *s, uint64_t counts[16]);

typedef struct tally {
    uint64_t counts[16];
} tally;

static void tally_visit(void *ctx, const sk_sock_info *info)
{
    tally *t = ctx;
    if (info->state >= 0 && info->state < 16)
        t->counts[info->state]++;
}

static void count_states(sk_stack *s, uint64_t counts[16])
{
    tally t = {{0}};
    sk_sockets(s, tally_visit, &t);
    memcpy(counts, t.counts, sizeof(t.counts));
}

typedef struct lifecycle_job {
    uint64_t target;
    uint32_t inflight;
    int nports;
    uint64_t seed;
    double elapsed;
    uint64_t timewait, tw_overflow, advances, segments;
    sk_time_ns virtual_ns;
    double cpu; /* this thread's CPU seconds for the run (user + system) */
} lifecycle_job;

static void *lifecycle_job_run(void *arg)
{
    lifecycle_job *j = arg;
    pair p;
    pair_init(&p, 1500, j->nports, j->seed);
    sk_time_ns start_virtual = p.now;
    lifecycle_run r = {.p = &p, .target = j->target, .inflight = j->inflight};
    double t0 = bench_wall_s(), c0 = bench_thread_cpu_s();
    lifecycle_execute(&r);
    j->elapsed = bench_wall_s() - t0;
    j->cpu = bench_thread_cpu_s() - c0;
    uint64_t counts[16];
    count_states(p.client, counts);
    j->timewait = counts[SK_TCP_TIME_WAIT];
    uint64_t srv[16];
    count_states(p.server, srv);
    for (int i = 0; i < 16; i++)
        if (i != SK_TCP_TIME_WAIT && i != SK_TCP_LISTEN && (counts[i] || srv[i]))
            fprintf(stderr, "bench_synack: after the run, %llu client / %llu server sockets in %s\n",
                    (unsigned long long)counts[i], (unsigned long long)srv[i], sk_state_name(i));
    j->tw_overflow = sk_counter(p.client, "TCPTimeWaitOverflow");
    j->advances = p.time_advances;
    j->segments = p.to_client->count + p.to_server->count;
    j->virtual_ns = p.now - start_virtual;
    pair_free(&p);
    return NULL;
}

static void bench_lifecycle(int reps)
{
    uint64_t target = (uint64_t)bench_env_long("BENCH_SYNACK_LIFECYCLES", 200000);
    uint32_t inflight = (uint32_t)bench_env_long("BENCH_INFLIGHT", 1000);
    int nports = 61; /* prime: see BENCHMARKS.md on port selection */
    double *one = calloc((size_t)reps, sizeof(double)), *two = calloc((size_t)reps, sizeof(double));
    double *cpu_us = calloc((size_t)reps, sizeof(double));
    uint64_t tw_kept = 0, tw_overflow = 0, advances = 0, segments = 0;
    sk_time_ns virt = 0;
    for (int i = 0; i < reps; i++) {
        lifecycle_job j = {.target = target, .inflight = inflight, .nports = nports, .seed = 100 + (uint64_t)i};
        lifecycle_job_run(&j);
        one[i] = (double)target / j.elapsed;
        cpu_us[i] = j.cpu * 1e6 / (double)target;
        tw_kept = j.timewait;
        tw_overflow += j.tw_overflow;
        advances = j.advances;
        segments = j.segments;
        virt = j.virtual_ns;
        fprintf(stderr, "  synack lifecycle 1 thread rep %d: %.0f/s\n", i + 1, one[i]);

        /* Two independent pairs on two threads: the engine has no globals. */
        lifecycle_job jobs[2] = {
            {.target = target, .inflight = inflight, .nports = nports, .seed = 200 + (uint64_t)i},
            {.target = target, .inflight = inflight, .nports = nports, .seed = 300 + (uint64_t)i},
        };
        pthread_t th[2];
        double t0 = bench_wall_s();
        for (int k = 0; k < 2; k++)
            if (pthread_create(&th[k], NULL, lifecycle_job_run, &jobs[k]) != 0)
                die("pthread_create", 0);
        for (int k = 0; k < 2; k++)
            pthread_join(th[k], NULL);
        /* Each thread times only its own work (stack setup excluded); the
         * pair's rate is the total over the slower thread's time. */
        double slowest = jobs[0].elapsed > jobs[1].elapsed ? jobs[0].elapsed : jobs[1].elapsed;
        (void)t0;
        two[i] = 2.0 * (double)target / slowest;
        tw_overflow += jobs[0].tw_overflow + jobs[1].tw_overflow;
        fprintf(stderr, "  synack lifecycle 2 threads rep %d: %.0f/s\n", i + 1, two[i]);
    }
    bench_result_stats("synack_lifecycles_per_s", bench_summarize(one, reps));
    bench_result_stats("synack_lifecycles_per_s_2threads", bench_summarize(two, reps));
    bench_result_stats("synack_lifecycle_cpu_us", bench_summarize(cpu_us, reps));
    bench_result_int("synack_lifecycle_count_per_rep", (long long)target);
    bench_result_int("synack_lifecycle_inflight", inflight);
    bench_result_int("synack_lifecycle_timewait_kept", (long long)tw_kept);
    bench_result_int("synack_lifecycle_timewait_overflow", (long long)tw_overflow);
    bench_result_int("synack_lifecycle_segments_per_rep", (long long)segments);
    bench_result_int("synack_lifecycle_clock_jumps", (long long)advances);
    bench_result("synack_lifecycle_virtual_ms", (double)virt / 1e6);
    free(one);
    free(two);
    free(cpu_us);
}

/* The same lifecycle on the in-memory wire (memwire.h), to show what its
 * event queue and impairment machinery cost over the bare link. */
typedef struct wire_app {
    sk_wire *w;
    sk_stack *client, *server;
    lifecycle_run r;
} wire_app;

/* One run of `target` lifecycles with `inflight` in flight on a fresh
 * wire; returns the wall time it took. */
static double memwire_lifecycles_once(uint64_t target, uint32_t inflight, uint64_t seed)
{
    /* Reuse the lifecycle logic: a pair whose stacks live on the wire.
     * The wire owns transmit, so readiness is the only thing we hook. */
    pair p;
    memset(&p, 0, sizeof(p));
    sk_wire *w = sk_wire_new(seed, 1000 * SK_NSEC_PER_SEC);
    sk_stack_params cp = {.seed = 11, .name = "client", .on_event = on_event, .event_ctx = &p.client_ready,
                          .event_mask = SK_EVMASK(SK_EV_READY)};
    sk_stack_params spp = {.seed = 12, .name = "server", .on_event = on_event, .event_ctx = &p.server_ready,
                           .event_mask = SK_EVMASK(SK_EV_READY)};
    p.client = sk_wire_add_host(w, CLIENT_ADDR, &cp);
    p.server = sk_wire_add_host(w, SERVER_ADDR, &spp);
    set(p.client, "net.ipv4.ip_local_port_range", "1024 65535");
    set(p.client, "net.ipv4.tcp_max_tw_buckets", "100000000");
    set(p.server, "net.core.somaxconn", "1000000");
    p.nports = 61;
    p.listen_fds = calloc(61, sizeof(int));
    for (int k = 0; k < 61; k++) {
        int fd = sk_socket(p.server);
        sk_endpoint local = {.addr = SERVER_ADDR, .port = (uint16_t)(BASE_PORT + k), .family = SK_AF_INET};
        if (fd < 0 || sk_bind(p.server, fd, &local) < 0 || sk_listen(p.server, fd, 65535) < 0)
            die("memwire listener", fd);
        app_get(&p.server_app, fd)->state = APP_LISTENER;
    }
    lifecycle_run r = {.p = &p, .target = target, .inflight = inflight};
    double t0 = bench_wall_s();
    while (r.done < r.target) {
        while (r.active < r.inflight && r.started < r.target)
            client_start(&r);
        bool had_ready = p.server_ready.n || p.client_ready.n;
        run_ready(&p.server_ready, &r, server_ready);
        run_ready(&p.client_ready, &r, client_ready);
        if (!sk_wire_step(w) && !had_ready)
            die("memwire lifecycle stalled", (long)r.done);
    }
    while (sk_wire_in_flight(w))
        sk_wire_step(w);
    double elapsed = bench_wall_s() - t0;
    p.client = p.server = NULL;
    sk_wire_free(w);
    pair_free(&p);
    return elapsed;
}

static void bench_lifecycle_memwire(int reps)
{
    uint64_t target = (uint64_t)bench_env_long("BENCH_SYNACK_LIFECYCLES", 200000) / 4;
    uint32_t inflight = (uint32_t)bench_env_long("BENCH_INFLIGHT", 1000);
    double *rate = calloc((size_t)reps, sizeof(double));
    for (int i = 0; i < reps; i++) {
        rate[i] = (double)target / memwire_lifecycles_once(target, inflight, 7 + (uint64_t)i);
        fprintf(stderr, "  synack lifecycle on memwire rep %d: %.0f/s\n", i + 1, rate[i]);
    }
    bench_result_stats("synack_memwire_lifecycles_per_s", bench_summarize(rate, reps));
    free(rate);
}

/* Bulk on the in-memory wire with its defaults (checksums computed, no
 * impairment, MTU 1500): `total` bytes over one connection, the reader
 * reading after every step.  Returns the datagrams delivered. */
static uint64_t memwire_bulk_once(uint64_t total)
{
    sk_wire *w = sk_wire_new(5, 1000 * SK_NSEC_PER_SEC);
    sk_stack *c = sk_wire_add_host(w, CLIENT_ADDR, NULL), *s = sk_wire_add_host(w, SERVER_ADDR, NULL);
    if (!c || !s)
        die("memwire bulk hosts", 0);
    int bufsz = 4 << 20;
    int lfd = sk_socket(s);
    sk_endpoint local = {.addr = SERVER_ADDR, .port = BASE_PORT, .family = SK_AF_INET};
    sk_setsockopt(s, lfd, SK_SOL_SOCKET, SK_SO_RCVBUF, &bufsz, sizeof(bufsz));
    if (lfd < 0 || sk_bind(s, lfd, &local) < 0 || sk_listen(s, lfd, 16) < 0)
        die("memwire bulk listener", lfd);
    int cfd = sk_socket(c);
    sk_setsockopt(c, cfd, SK_SOL_SOCKET, SK_SO_SNDBUF, &bufsz, sizeof(bufsz));
    if (sk_connect(c, cfd, &local) != -EINPROGRESS)
        die("memwire bulk connect", 0);
    int sfd = -EAGAIN;
    while (sfd == -EAGAIN && sk_wire_step(w))
        sfd = sk_accept(s, lfd, NULL);
    if (sfd < 0)
        die("memwire bulk accept", sfd);
    static uint8_t src[256 * 1024], dst[256 * 1024];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 131);
    uint64_t sent = 0, received = 0, steps = 0;
    while (received < total) {
        while (sent < total) {
            size_t want = total - sent < sizeof(src) ? (size_t)(total - sent) : sizeof(src);
            ssize_t n = sk_send(c, cfd, src, want, 0);
            if (n == -EAGAIN)
                break;
            if (n <= 0)
                die("memwire bulk send", (long)n);
            sent += (uint64_t)n;
        }
        if (!sk_wire_step(w))
            die("memwire bulk stalled", (long)received);
        steps++;
        for (;;) {
            ssize_t n = sk_recv(s, sfd, dst, sizeof(dst), 0);
            if (n == -EAGAIN)
                break;
            if (n <= 0)
                die("memwire bulk recv", (long)n);
            received += (uint64_t)n;
        }
    }
    uint64_t delivered = sk_counter(s, "InSegs") + sk_counter(c, "InSegs");
    sk_wire_free(w);
    (void)steps;
    return delivered;
}

/* ------------------------------------------------------------------ */
/* Bulk                                                                 */
/* ------------------------------------------------------------------ */

/* The bulk reader: takes what landed in its posted buffer, reads what
 * queued behind it, and posts the buffer again (or, with BENCH_POST=0,
 * plain reads only).  Returns whether it read anything. */
static bool bulk_read(sk_stack *s, int fd, bool post, uint8_t *pbuf, size_t plen, uint8_t *buf, size_t len,
                      uint64_t *received, uint64_t total)
{
    bool progress = false;
    if (post && *received < total) {
        ssize_t n = sk_recv_posted(s, fd);
        if (n > 0) {
            *received += (uint64_t)n;
            progress = true;
        } else if (n != -EAGAIN) {
            die("bulk recv (posted)", (long)n);
        }
    }
    for (;;) {
        ssize_t n = sk_recv(s, fd, buf, len, 0);
        if (n == -EAGAIN)
            break;
        if (n <= 0)
            die("bulk recv", (long)n);
        *received += (uint64_t)n;
        progress = true;
    }
    if (post && *received < total && sk_recv_post(s, fd, pbuf, plen) != 0)
        die("bulk recv post", 0);
    return progress;
}

/* The reader's state, for the direct link's `after` hook. */
typedef struct bulk_reader {
    sk_stack *s;
    int fd;
    bool post, progress;
    uint8_t *pbuf, *buf;
    size_t plen, len;
    uint64_t *received, total;
} bulk_reader;

static void bulk_reader_run(void *ctx)
{
    bulk_reader *r = ctx;
    if (bulk_read(r->s, r->fd, r->post, r->pbuf, r->plen, r->buf, r->len, r->received, r->total))
        r->progress = true;
}

static double bulk_once(uint16_t mtu, uint64_t total, uint64_t seed, uint64_t *segments, uint64_t *jumps,
                        double *cpu_s_per_gb)
{
    pair p;
    bulk_link = true;
    pair_init(&p, mtu, 1, seed);
    bulk_link = false;
    int cfd = sk_socket(p.client);
    int bufsz = 4 << 20;
    sk_setsockopt(p.client, cfd, SK_SOL_SOCKET, SK_SO_SNDBUF, &bufsz, sizeof(bufsz));
    sk_setsockopt(p.client, cfd, SK_SOL_SOCKET, SK_SO_RCVBUF, &bufsz, sizeof(bufsz));
    sk_setsockopt(p.server, p.listen_fds[0], SK_SOL_SOCKET, SK_SO_RCVBUF, &bufsz, sizeof(bufsz));
    sk_setsockopt(p.server, p.listen_fds[0], SK_SOL_SOCKET, SK_SO_SNDBUF, &bufsz, sizeof(bufsz));
    sk_endpoint remote = {.addr = SERVER_ADDR, .port = BASE_PORT, .family = SK_AF_INET};
    if (sk_connect(p.client, cfd, &remote) != -EINPROGRESS)
        die("bulk connect", 0);
    pair_drain(&p);
    int sfd = sk_accept(p.server, p.listen_fds[0], NULL);
    if (sfd < 0)
        die("bulk accept", sfd);
    static uint8_t src[256 * 1024], dst[256 * 1024];
    /* The reader waits with a buffer posted while datagrams arrive, as a
     * reader blocked in read(2) does, so in-order data goes straight into
     * it; the same size as the plain reads (and as bench_linux's). */
    static uint8_t pdst[256 * 1024];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 131);
    uint64_t sent = 0, received = 0;
    uint64_t q0 = p.to_client->count + p.to_server->count;
    bool post = env_flag("BENCH_POST", true); /* BENCH_POST=0: plain reads only */
    if (post && sk_recv_post(p.server, sfd, pdst, sizeof(pdst)) != 0)
        die("bulk recv post", 0);
    /* BENCH_DIRECT=0: every datagram copied into the link's queue, as
     * before sk_inputv.  The direct link needs scatter-gather pieces. */
    bulk_reader reader = {.s = p.server,
                          .fd = sfd,
                          .post = post,
                          .pbuf = pdst,
                          .buf = dst,
                          .plen = sizeof(pdst),
                          .len = sizeof(dst),
                          .received = &received,
                          .total = total};
    if (env_flag("BENCH_DIRECT", true) && env_flag("BENCH_SG", true)) {
        p.to_server->direct = p.server;
        p.to_server->direct_now = &p.now;
        p.to_server->after = bulk_reader_run;
        p.to_server->after_ctx = &reader;
    }
    double t0 = bench_wall_s(), c0 = bench_thread_cpu_s();
    while (received < total) {
        bool progress = false;
        while (sent < total) {
            size_t want = total - sent < sizeof(src) ? (size_t)(total - sent) : sizeof(src);
            ssize_t n = sk_send(p.client, cfd, src, want, 0);
            if (n == -EAGAIN)
                break;
            if (n <= 0)
                die("bulk send", (long)n);
            sent += (uint64_t)n;
            progress = true;
        }
        if (reader.progress) {
            progress = true;
            reader.progress = false;
        }
        /* The reader runs as each datagram arrives, as a reader waiting
         * in read(2) is woken by each (GSO-sized) segment. */
        while (p.to_server->len || p.to_client->len) {
            size_t off = 0;
            while (off < p.to_server->len) {
                uint32_t len;
                memcpy(&len, p.to_server->buf + off, sizeof(len));
                sk_input(p.server, p.to_server->buf + off + sizeof(len), len, p.now);
                off += sizeof(len) + len;
                progress = true;
                if (bulk_read(p.server, sfd, post, pdst, sizeof(pdst), dst, sizeof(dst), &received, total))
                    progress = true;
            }
            p.to_server->len = 0;
            if (drain(p.to_client, p.client, p.now))
                progress = true;
        }
        if (reader.progress) {
            progress = true;
            reader.progress = false;
        }
        if (bulk_read(p.server, sfd, post, pdst, sizeof(pdst), dst, sizeof(dst), &received, total))
            progress = true;
        ready_clear(&p.client_ready);
        ready_clear(&p.server_ready);
        if (!progress && !pair_advance(&p))
            die("bulk stalled", (long)received);
    }
    double elapsed = bench_wall_s() - t0;
    *cpu_s_per_gb = (bench_thread_cpu_s() - c0) / ((double)total / 1e9);
    *segments = p.to_client->count + p.to_server->count - q0;
    *jumps = p.time_advances;
    pair_free(&p);
    return (double)total * 8 / elapsed / 1e9;
}

static void bench_bulk(int reps)
{
    uint64_t total = (uint64_t)bench_env_long("BENCH_BULK_MIB", 1024) << 20;
    static const uint16_t mtus[2] = {1500, 65535};
    static const char *const keys[2] = {"synack_bulk_gbps", "synack_bulk_gbps_mtu65535"};
    double *v = calloc((size_t)reps, sizeof(double)), *cpu = calloc((size_t)reps, sizeof(double));
    for (int m = 0; m < 2; m++) {
        uint64_t segs = 0, jumps = 0;
        for (int i = 0; i < reps; i++) {
            v[i] = bulk_once(mtus[m], total, 40 + (uint64_t)i, &segs, &jumps, &cpu[i]);
            fprintf(stderr, "  synack bulk mtu %u rep %d: %.2f Gbit/s (%llu datagrams, %llu clock jumps)\n",
                    mtus[m], i + 1, v[i], (unsigned long long)segs, (unsigned long long)jumps);
        }
        bench_result_stats(keys[m], bench_summarize(v, reps));
        char key[80];
        snprintf(key, sizeof(key), "%s_datagrams", keys[m]);
        bench_result_int(key, (long long)segs);
        snprintf(key, sizeof(key), "%s_cpu_s_per_gb", keys[m]);
        bench_result_stats(key, bench_summarize(cpu, reps));
    }
    free(v);
    free(cpu);
}

/* ------------------------------------------------------------------ */
/* Fixed workloads for instruction counts                               */
/* ------------------------------------------------------------------ */

/* `bench_synack fixed-lifecycles N` and `fixed-bulk MIB` do a fixed amount
 * of work once and print nothing timed: scripts/bench.sh runs each under
 * `valgrind --tool=callgrind` at two sizes and divides the difference in
 * instructions by the difference in work, so set-up costs cancel and the
 * figure is the same on any machine for the same binary.
 * `fixed-memwire-lifecycles N` and `fixed-memwire-bulk MIB` do the same
 * on the in-memory wire as a library user gets it (memwire.h's defaults),
 * for what the wire itself costs. */
static void fixed_lifecycles(long n)
{
    lifecycle_job j = {.target = (uint64_t)n, .inflight = 100, .nports = 61, .seed = 100};
    lifecycle_job_run(&j);
    fprintf(stderr, "  fixed lifecycles: %ld done\n", n);
}

/* The same on the in-memory wire, with its default parameters. */
static void fixed_memwire_lifecycles(long n)
{
    memwire_lifecycles_once((uint64_t)n, 100, 7);
    fprintf(stderr, "  fixed memwire lifecycles: %ld done\n", n);
}

static void fixed_memwire_bulk(long mib)
{
    uint64_t segs = memwire_bulk_once((uint64_t)mib << 20);
    fprintf(stderr, "  fixed memwire bulk: %ld MiB in %llu datagrams\n", mib, (unsigned long long)segs);
}

static void fixed_bulk(long mib)
{
    uint64_t segs = 0, jumps = 0;
    double cpu = 0;
    bulk_once(1500, (uint64_t)mib << 20, 40, &segs, &jumps, &cpu);
    fprintf(stderr, "  fixed bulk: %ld MiB in %llu datagrams\n", mib, (unsigned long long)segs);
}

/* ------------------------------------------------------------------ */
/* Memory and timers at scale                                           */
/* ------------------------------------------------------------------ */

static void keepalive_on(pair *p, sk_stack *s, app_table *t)
{
    int one = 1;
    for (size_t fd = 0; fd < t->cap; fd++)
        if (t->c[fd].state == APP_WAIT_REPLY || t->c[fd].state == APP_SERVING)
            if (sk_setsockopt(s, (int)fd, SK_SOL_SOCKET, SK_SO_KEEPALIVE, &one, sizeof(one)) < 0)
                die("SO_KEEPALIVE", (long)fd);
}

/* Established connections, spread over `npairs` client/server pairs (see
 * BENCHMARKS.md: the engine's handle table is scanned linearly for a free
 * slot, which makes one stack with a million handles quadratic). */
static void bench_established_and_timers(void)
{
    long total = bench_env_long("BENCH_ESTABLISHED", 1000000);
    long npairs = bench_env_long("BENCH_ESTABLISHED_PAIRS", 1000);
    if (npairs <= 0 || npairs > 1000000)
        npairs = 1000;
    long per_pair = total / npairs;
    total = per_pair * npairs;
    pair *pairs = calloc((size_t)npairs, sizeof(pair));
    /* Everything the harness itself needs is allocated and touched before
     * the first reading, so the deltas are the engine's alone: the pairs,
     * driven one after another, share two queues, and each pair's handle
     * tables are sized for its connections up front. */
    static pktq shared_to_client, shared_to_server;
    for (long i = 0; i < npairs; i++) {
        pair_init_shared(&pairs[i], 1500, 17, 500 + (uint64_t)i, &shared_to_client, &shared_to_server);
        int top = (int)per_pair + 64 + pairs[i].nports;
        app_get(&pairs[i].client_app, top);
        app_get(&pairs[i].server_app, top);
        ready_reserve(&pairs[i].client_ready, (size_t)top);
        ready_reserve(&pairs[i].server_ready, (size_t)top);
    }
    pktq_reserve(&shared_to_client, 1u << 20);
    pktq_reserve(&shared_to_server, 1u << 20);
    size_t rss0 = bench_rss_bytes(), heap0 = bench_heap_bytes();
    double t0 = bench_wall_s();
    for (long i = 0; i < npairs; i++) {
        lifecycle_run r = {.p = &pairs[i], .target = (uint64_t)per_pair, .inflight = 1000, .keep_server_open = true};
        lifecycle_execute(&r);
        /* accept what is still queued */
        for (int k = 0; k < pairs[i].nports; k++)
            server_ready(&r, pairs[i].listen_fds[k]);
        ready_clear(&pairs[i].client_ready);
        ready_clear(&pairs[i].server_ready);
    }
    double setup = bench_wall_s() - t0;
    size_t rss1 = bench_rss_bytes(), heap1 = bench_heap_bytes();
    uint64_t estab = 0;
    for (long i = 0; i < npairs; i++)
        estab += sk_counter(pairs[i].client, "CurrEstab") + sk_counter(pairs[i].server, "CurrEstab");
    double sockets = 2.0 * (double)total;
    fprintf(stderr, "  %ld connections (%llu ESTABLISHED sockets) over %ld pairs in %.1f s; RSS +%zu MiB\n", total,
            (unsigned long long)estab, npairs, setup, (rss1 - rss0) >> 20);
    bench_result("bytes_per_established", (double)(rss1 - rss0) / sockets);
    bench_result("bytes_per_established_heap", (double)(heap1 - heap0) / sockets);
    bench_result_int("established_sockets", (long long)estab);
    bench_result_int("established_pairs", npairs);

    /* Timers: the same connections, both ends with SO_KEEPALIVE (Linux's
     * default 7200 s idle time, so none fires: this is the cost of holding
     * the timers while time passes). */
    for (long i = 0; i < npairs; i++) {
        keepalive_on(&pairs[i], pairs[i].client, &pairs[i].client_app);
        keepalive_on(&pairs[i], pairs[i].server, &pairs[i].server_app);
        ready_clear(&pairs[i].client_ready);
        ready_clear(&pairs[i].server_ready);
    }
    long vsec = bench_env_long("BENCH_TIMER_SECONDS", 60);
    int reps = bench_reps(5);
    double *v = calloc((size_t)reps, sizeof(double));
    uint64_t sent_before = shared_to_client.count + shared_to_server.count, sent_after;
    for (int rep = 0; rep < reps; rep++) {
        double c0 = bench_cpu_s();
        for (long s = 0; s < vsec; s++) {
            for (long i = 0; i < npairs; i++) {
                pair *p = &pairs[i];
                p->now += SK_NSEC_PER_SEC;
                sk_advance(p->client, p->now);
                sk_advance(p->server, p->now);
                pair_drain(p);
            }
        }
        v[rep] = (bench_cpu_s() - c0) * 1e3 / (double)vsec;
        fprintf(stderr, "  idle timers rep %d: %.3f ms CPU per virtual second\n", rep + 1, v[rep]);
    }
    sent_after = shared_to_client.count + shared_to_server.count;
    bench_result_stats("idle_1m_cpu_ms_per_s", bench_summarize(v, reps));
    bench_result_int("idle_timer_segments_sent", (long long)(sent_after - sent_before));
    bench_result_int("idle_timer_connections", total);
    bench_result_int("idle_timer_virtual_seconds_per_rep", vsec);

    /* The same with keepalives that fire: TCP_KEEPIDLE 30 s on the client
     * ends, so each sends a probe (answered by the server) every 30 s. */
    int idle_s = 30;
    for (long i = 0; i < npairs; i++) {
        app_table *t = &pairs[i].client_app;
        for (size_t fd = 0; fd < t->cap; fd++)
            if (t->c[fd].state == APP_WAIT_REPLY &&
                sk_setsockopt(pairs[i].client, (int)fd, SK_IPPROTO_TCP, SK_TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) < 0)
                die("TCP_KEEPIDLE", (long)fd);
    }
    sent_before = sent_after;
    double c1 = bench_cpu_s();
    for (long s = 0; s < vsec; s++)
        for (long i = 0; i < npairs; i++) {
            pair *p = &pairs[i];
            p->now += SK_NSEC_PER_SEC;
            sk_advance(p->client, p->now);
            sk_advance(p->server, p->now);
            pair_drain(p);
        }
    bench_result("keepalive_1m_firing_cpu_ms_per_s", (bench_cpu_s() - c1) * 1e3 / (double)vsec);
    sent_after = shared_to_client.count + shared_to_server.count;
    bench_result_int("keepalive_1m_firing_segments", (long long)(sent_after - sent_before));

    /* Baseline: the same number of empty stacks, to separate per-stack
     * wheel upkeep from per-connection cost. */
    for (long i = 0; i < npairs; i++)
        pair_free(&pairs[i]);
    for (long i = 0; i < npairs; i++)
        pair_init(&pairs[i], 1500, 1, 900 + (uint64_t)i);
    double c0 = bench_cpu_s();
    for (long s = 0; s < vsec; s++)
        for (long i = 0; i < npairs; i++) {
            pair *p = &pairs[i];
            p->now += SK_NSEC_PER_SEC;
            sk_advance(p->client, p->now);
            sk_advance(p->server, p->now);
        }
    bench_result("idle_empty_stacks_cpu_ms_per_s", (bench_cpu_s() - c0) * 1e3 / (double)vsec);
    for (long i = 0; i < npairs; i++)
        pair_free(&pairs[i]);
    free(pairs);
    free(shared_to_client.buf);
    free(shared_to_server.buf);
    free(v);
}

static void bench_timewait(void)
{
    long count = bench_env_long("BENCH_TIMEWAIT", 10000000);
    pair p;
    /* 311 server ports (prime, 311 x 32256 even ports > 10M): each
     * connect finds a free 4-tuple on its first try. */
    pair_init(&p, 1500, 311, 77);
    size_t rss0 = bench_rss_bytes(), heap0 = bench_heap_bytes();
    lifecycle_run r = {.p = &p, .target = (uint64_t)count, .inflight = 1000};
    double t0 = bench_wall_s();
    lifecycle_execute(&r);
    double took = bench_wall_s() - t0;
    size_t rss1 = bench_rss_bytes(), heap1 = bench_heap_bytes();
    uint64_t counts[16];
    count_states(p.client, counts);
    uint64_t overflow = sk_counter(p.client, "TCPTimeWaitOverflow");
    fprintf(stderr, "  %ld lifecycles in %.1f s (%.0f/s): %llu TIME_WAIT kept, %llu overflowed; RSS +%zu MiB\n",
            count, took, (double)count / took, (unsigned long long)counts[SK_TCP_TIME_WAIT],
            (unsigned long long)overflow, (rss1 - rss0) >> 20);
    double kept = (double)counts[SK_TCP_TIME_WAIT];
    if (kept > 0) {
        bench_result("bytes_per_timewait", (double)(rss1 - rss0) / kept);
        bench_result("bytes_per_timewait_heap", (double)(heap1 - heap0) / kept);
    } else {
        bench_result_null("bytes_per_timewait");
    }
    bench_result_int("timewait_count", (long long)counts[SK_TCP_TIME_WAIT]);
    bench_result_int("timewait_overflow", (long long)overflow);
    bench_result("timewait_lifecycles_per_s", (double)count / took);
    pair_free(&p);
}

/* SYN_RECV: hand-made SYNs (with Linux's usual options) to a listener
 * whose SYN-ACKs go nowhere, so only the server's memory is counted. */
static void bench_syn_recv(void)
{
    long count = bench_env_long("BENCH_SYN_RECV", 1000000);
    pktq sink = {0};
    sk_stack_params sp = {.addr = SERVER_ADDR, .seed = 5, .now = 1000 * SK_NSEC_PER_SEC, .name = "server",
                          .transmit = pktq_discard, .transmit_ctx = &sink};
    sk_stack *s = sk_stack_new(&sp);
    if (!s)
        die("sk_stack_new", 0);
    set(s, "net.core.somaxconn", "100000000");
    set(s, "net.ipv4.tcp_max_syn_backlog", "100000000");
    set(s, "net.ipv4.tcp_syncookies", "0");
    int lfd = sk_socket(s);
    sk_endpoint local = {.addr = SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    if (lfd < 0 || sk_bind(s, lfd, &local) < 0 || sk_listen(s, lfd, 100000000) < 0)
        die("syn_recv listener", lfd);
    /* MSS 1460, SACK permitted, timestamps, NOP, window scale 7 */
    uint8_t opts[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
    uint8_t dgram[128];
    size_t rss0 = bench_rss_bytes(), heap0 = bench_heap_bytes();
    for (long i = 0; i < count; i++) {
        sk_segment_spec spec = {.src = 0x0b000000u + (uint32_t)(i / 50000), .dst = SERVER_ADDR,
                                .sport = (uint16_t)(10000 + i % 50000), .dport = 80,
                                .seq = (uint32_t)(i * 2654435761u), .flags = SK_TH_SYN, .window = 64240,
                                .df = true, .options = opts, .options_len = sizeof(opts)};
        size_t len = sk_build_segment(&spec, dgram, sizeof(dgram));
        sk_input(s, dgram, len, sp.now);
    }
    size_t rss1 = bench_rss_bytes(), heap1 = bench_heap_bytes();
    uint64_t counts[16];
    count_states(s, counts);
    fprintf(stderr, "  %ld SYNs: %llu SYN_RECV requests, %llu SYN-ACKs; RSS +%zu MiB\n", count,
            (unsigned long long)counts[SK_TCP_SYN_RECV], (unsigned long long)sink.count, (rss1 - rss0) >> 20);
    if (counts[SK_TCP_SYN_RECV]) {
        bench_result("bytes_per_syn_recv", (double)(rss1 - rss0) / (double)counts[SK_TCP_SYN_RECV]);
        bench_result("bytes_per_syn_recv_heap", (double)(heap1 - heap0) / (double)counts[SK_TCP_SYN_RECV]);
    } else {
        bench_result_null("bytes_per_syn_recv");
    }
    bench_result_int("syn_recv_count", (long long)counts[SK_TCP_SYN_RECV]);
    sk_stack_free(s);
}

/* The last datagram the server sent (the SYN-ACK whose ISN we need). */
typedef struct last_dgram {
    uint8_t data[256];
    size_t len;
} last_dgram;

static void keep_last(void *ctx, const uint8_t *d, size_t len)
{
    last_dgram *l = ctx;
    l->len = len < sizeof l->data ? len : sizeof l->data;
    memcpy(l->data, d, l->len);
}

/* IPv6 TIME_WAIT records from distinct peers, the worst case for the
 * table of IPv6 addresses: each record's peer is an address of its own,
 * stored once more.  Hand-made segments walk each connection through
 * the handshake, the server closes first, the peer's FIN,ACK puts the
 * server's end in TIME_WAIT; only the server's memory is counted. */
static void bench_timewait6_distinct(void)
{
    long count = bench_env_long("BENCH_TIMEWAIT6", 1000000);
    last_dgram out = {0};
    sk_stack_params sp = {.seed = 6, .now = 1000 * SK_NSEC_PER_SEC, .name = "server", .transmit = keep_last,
                          .transmit_ctx = &out};
    memcpy(sp.addr6, server_addr6, 16);
    sk_stack *s = sk_stack_new(&sp);
    if (!s)
        die("sk_stack_new", 0);
    set(s, "net.core.somaxconn", "100000000");
    set(s, "net.ipv4.tcp_max_tw_buckets", "100000000");
    int lfd = sk_socket_family(s, SK_AF_INET6);
    sk_endpoint local = sk_endpoint_ipv6(server_addr6, 80);
    if (lfd < 0 || sk_bind(s, lfd, &local) < 0 || sk_listen(s, lfd, 1000) < 0)
        die("timewait6 listener", lfd);
    uint8_t dgram[128];
    size_t rss0 = 0, heap0 = 0;
    long warm = count / 100 + 1; /* the first records (and the listener's tables) before measuring */
    for (long i = 0; i < count + warm; i++) {
        if (i == warm) {
            rss0 = bench_rss_bytes();
            heap0 = bench_heap_bytes();
        }
        sk_segment_spec spec = {.ip_version = 6, .sport = 40000, .dport = 80, .window = 64240};
        memcpy(spec.dst6, server_addr6, 16);
        spec.src6[0] = 0x20;
        spec.src6[1] = 0x01;
        for (int b = 0; b < 4; b++)
            spec.src6[12 + b] = (uint8_t)((uint32_t)i >> (24 - 8 * b));
        spec.seq = 100;
        spec.flags = SK_TH_SYN;
        sk_input(s, dgram, sk_build_segment(&spec, dgram, sizeof dgram), sp.now);
        sk_segment synack;
        if (sk_parse_segment(out.data, out.len, false, &synack) != SK_PARSE_OK || synack.flags != (SK_TH_SYN | SK_TH_ACK))
            die("timewait6: no SYN-ACK", i);
        spec.seq = 101;
        spec.ack = synack.seq + 1;
        spec.flags = SK_TH_ACK;
        sk_input(s, dgram, sk_build_segment(&spec, dgram, sizeof dgram), sp.now);
        int fd = sk_accept(s, lfd, NULL);
        if (fd < 0)
            die("timewait6: accept", fd);
        sk_close(s, fd); /* our FIN */
        spec.ack = synack.seq + 2;
        spec.flags = SK_TH_FIN | SK_TH_ACK;
        sk_input(s, dgram, sk_build_segment(&spec, dgram, sizeof dgram), sp.now);
    }
    size_t rss1 = bench_rss_bytes(), heap1 = bench_heap_bytes();
    uint64_t counts[16];
    count_states(s, counts);
    double kept = (double)count;
    fprintf(stderr, "  %ld IPv6 connections from distinct peers: %llu TIME_WAIT; RSS +%zu MiB\n", count + warm,
            (unsigned long long)counts[SK_TCP_TIME_WAIT], (rss1 - rss0) >> 20);
    if (counts[SK_TCP_TIME_WAIT] != (uint64_t)(count + warm))
        die("timewait6: records missing", (long)counts[SK_TCP_TIME_WAIT]);
    bench_result("bytes_per_timewait6_distinct", (double)(rss1 - rss0) / kept);
    bench_result("bytes_per_timewait6_distinct_heap", (double)(heap1 - heap0) / kept);
    sk_stack_free(s);
}

int main(int argc, char **argv)
{
    int reps = bench_reps(5);
    if (argc == 3 && !strcmp(argv[1], "fixed-lifecycles")) {
        fixed_lifecycles(strtol(argv[2], NULL, 10));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "fixed-memwire-lifecycles")) {
        fixed_memwire_lifecycles(strtol(argv[2], NULL, 10));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "fixed-memwire-bulk")) {
        fixed_memwire_bulk(strtol(argv[2], NULL, 10));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "fixed-bulk")) {
        fixed_bulk(strtol(argv[2], NULL, 10));
        return 0;
    }
    bool all = argc < 2;
    for (int i = all ? 0 : 1; i < (all ? 1 : argc); i++) {
        const char *what = all ? "all" : argv[i];
        bool any = !strcmp(what, "all");
        if (any || !strcmp(what, "lifecycle"))
            bench_lifecycle(reps);
        if (any || !strcmp(what, "memwire"))
            bench_lifecycle_memwire(reps);
        if (any || !strcmp(what, "bulk"))
            bench_bulk(reps);
        if (any || !strcmp(what, "syn_recv"))
            bench_syn_recv();
        if (any || !strcmp(what, "established"))
            bench_established_and_timers();
        if (any || !strcmp(what, "timewait"))
            bench_timewait();
        if (any || !strcmp(what, "timewait6"))
            bench_timewait6_distinct();
    }
    return 0;
}
