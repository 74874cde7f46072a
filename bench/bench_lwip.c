/*
 * lwIP's side of `make bench`: the lifecycle pattern with Debian's
 * liblwip-dev (lwIP 2.1.3), raw TCP API.
 *
 * lwIP keeps its state in globals, so both ends live in one lwIP instance.
 * Debian builds lwIP with NO_SYS=0 (a tcpip thread) and core locking; we
 * never start that thread (no tcpip_init): lwip_init() plus the raw API
 * from this one thread, with timers called by hand, is the NO_SYS pattern
 * and the packaged library's core-lock check only applies once the tcpip
 * thread exists.
 *
 * Three netifs: a client address and a server address (up, link down, so
 * the router never picks them and their own-address loopback shortcut is
 * never taken), and a "router" netif, the default route, whose output
 * clones each datagram (one copy, as synack's link makes) onto a queue;
 * the main loop feeds the queue to ip4_input.  No timer runs while
 * connections are in flight unless the queue is empty and work remains
 * (then tcp_tmr(), as lwIP's 250 ms tick would).
 *
 * lwIP picks ephemeral ports from 49152-65535 and keeps a port busy while
 * any PCB, TIME_WAIT included, holds it; its PCB lists are linear.  Each
 * repetition therefore runs fewer lifecycles than synack's (default
 * 15000), and between repetitions TIME_WAIT is aged out by calling
 * tcp_slowtmr() for 2*MSL of lwIP ticks (virtual time, as synack's).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "bench_util.h"

#define NPORTS 16
#define BASE_PORT 5000
#define MSG_LEN 64

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_lwip: %s (%d)\n", what, err);
    exit(1);
}

static struct netif client_if, server_if, router_if;

/* Delivery queue of cloned datagrams. */
static struct pbuf **queue;
static size_t queue_len, queue_cap;
static uint64_t datagrams;

static err_t router_output(struct netif *nif, struct pbuf *p, const ip4_addr_t *dst)
{
    struct pbuf *copy = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
    if (!copy)
        die("pbuf_clone", 0);
    if (queue_len == queue_cap) {
        queue_cap = queue_cap ? queue_cap * 2 : 4096;
        queue = realloc(queue, queue_cap * sizeof(*queue));
        if (!queue)
            die("out of memory", 0);
    }
    queue[queue_len++] = copy;
    datagrams++;
    return ERR_OK;
}

static err_t netif_setup(struct netif *nif)
{
    nif->output = router_output;
    nif->mtu = 1500;
    nif->flags = 0;
    nif->name[0] = 'b';
    nif->name[1] = 'n';
    return ERR_OK;
}

static size_t deliver(void)
{
    size_t total = 0;
    while (queue_len) {
        /* Delivering may queue more: take the current batch. */
        size_t n = queue_len;
        struct pbuf **batch = malloc(n * sizeof(*batch));
        if (!batch)
            die("out of memory", 0);
        memcpy(batch, queue, n * sizeof(*batch));
        queue_len = 0;
        for (size_t i = 0; i < n; i++) {
            struct pbuf *p = batch[i];
            const uint8_t *ip = p->payload;
            uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
            struct netif *to = dst == lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&server_if))) ? &server_if
                                                                                               : &client_if;
            ip4_input(p, to);
        }
        free(batch);
        total += n;
    }
    return total;
}

/* ------------------------------------------------------------------ */

typedef struct conn {
    uint32_t got;
    bool replied;
} conn;

static uint64_t started, done, active, next_port;

static const char request_msg[MSG_LEN] = "GET /bench 64-byte request ....................................";
static const char reply_msg[MSG_LEN] = "HTTP/1.1 200 64-byte reply ....................................";

static void conn_err(void *arg, err_t err)
{
    die("connection error", err);
}

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    conn *c = arg;
    if (!p)
        die("server closed first", 0);
    c->got += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (c->got >= MSG_LEN) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        free(c);
        err_t e = tcp_close(pcb); /* first: the client keeps the TIME_WAIT */
        if (e != ERR_OK)
            die("client tcp_close", e);
        active--;
    }
    return ERR_OK;
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    if (err != ERR_OK)
        die("connect", err);
    err_t e = tcp_write(pcb, request_msg, MSG_LEN, TCP_WRITE_FLAG_COPY);
    if (e != ERR_OK)
        die("client tcp_write", e);
    tcp_output(pcb);
    return ERR_OK;
}

static void client_start(void)
{
    struct tcp_pcb *pcb = tcp_new();
    conn *c = calloc(1, sizeof(*c));
    if (!pcb || !c)
        die("tcp_new", 0);
    tcp_arg(pcb, c);
    tcp_recv(pcb, client_recv);
    tcp_err(pcb, conn_err);
    err_t e = tcp_bind(pcb, netif_ip_addr4(&client_if), 0);
    if (e != ERR_OK)
        die("client tcp_bind (ephemeral ports exhausted?)", e);
    e = tcp_connect(pcb, netif_ip_addr4(&server_if), (u16_t)(BASE_PORT + next_port++ % NPORTS), client_connected);
    if (e != ERR_OK)
        die("tcp_connect", e);
    started++;
    active++;
}

static err_t server_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    conn *c = arg;
    if (!p) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        free(c);
        err_t e = tcp_close(pcb);
        if (e != ERR_OK)
            die("server tcp_close", e);
        done++;
        return ERR_OK;
    }
    c->got += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (c->got >= MSG_LEN && !c->replied) {
        err_t e = tcp_write(pcb, reply_msg, MSG_LEN, TCP_WRITE_FLAG_COPY);
        if (e != ERR_OK)
            die("server tcp_write", e);
        tcp_output(pcb);
        c->replied = true;
    }
    return ERR_OK;
}

static err_t server_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    if (err != ERR_OK || !pcb)
        die("accept", err);
    conn *c = calloc(1, sizeof(*c));
    if (!c)
        die("out of memory", 0);
    tcp_arg(pcb, c);
    tcp_recv(pcb, server_recv);
    tcp_err(pcb, conn_err);
    return ERR_OK;
}

static size_t list_len(struct tcp_pcb *p)
{
    size_t n = 0;
    for (; p; p = p->next)
        n++;
    return n;
}

int main(void)
{
    int reps = bench_reps(5);
    uint64_t target = (uint64_t)bench_env_long("BENCH_LWIP_LIFECYCLES", 15000);
    uint32_t inflight = (uint32_t)bench_env_long("BENCH_INFLIGHT", 1000);
    lwip_init();

    ip4_addr_t caddr, saddr, raddr, mask32, any;
    IP4_ADDR(&caddr, 10, 0, 1, 1); /* in-process only */
    IP4_ADDR(&saddr, 10, 0, 2, 1);
    IP4_ADDR(&raddr, 10, 0, 9, 254);
    IP4_ADDR(&mask32, 255, 255, 255, 255);
    ip4_addr_set_zero(&any);
    if (!netif_add(&client_if, &caddr, &mask32, &any, NULL, netif_setup, ip4_input) ||
        !netif_add(&server_if, &saddr, &mask32, &any, NULL, netif_setup, ip4_input) ||
        !netif_add(&router_if, &raddr, &mask32, &any, NULL, netif_setup, ip4_input))
        die("netif_add", 0);
    netif_set_up(&client_if);
    netif_set_up(&server_if);
    netif_set_up(&router_if);
    netif_set_link_up(&router_if);
    netif_set_default(&router_if);

    for (int i = 0; i < NPORTS; i++) {
        struct tcp_pcb *l = tcp_new();
        if (!l)
            die("tcp_new", 0);
        err_t e = tcp_bind(l, netif_ip_addr4(&server_if), (u16_t)(BASE_PORT + i));
        if (e != ERR_OK)
            die("listener tcp_bind", e);
        struct tcp_pcb *lp = tcp_listen_with_backlog(l, 255);
        if (!lp)
            die("tcp_listen", 0);
        tcp_accept(lp, server_accept);
    }

    double *v = calloc((size_t)reps, sizeof(double));
    uint64_t tw_kept = 0, timer_calls = 0, dgrams = 0;
    for (int rep = 0; rep < reps; rep++) {
        started = done = active = 0;
        uint64_t d0 = datagrams;
        double t0 = bench_wall_s();
        while (done < target) {
            while (active < inflight && started < target)
                client_start();
            if (!deliver()) {
                tcp_tmr(); /* lwIP's 250 ms tick: delayed ACKs, retries */
                timer_calls++;
                if (timer_calls > 100000)
                    die("lifecycle stalled", (int)done);
            }
        }
        deliver();
        v[rep] = (double)target / (bench_wall_s() - t0);
        dgrams = datagrams - d0;
        tw_kept = list_len(tcp_tw_pcbs);
        fprintf(stderr, "  lwip lifecycle rep %d: %.0f/s (TIME_WAIT %zu, active %zu)\n", rep + 1, v[rep],
                list_len(tcp_tw_pcbs), list_len(tcp_active_pcbs));
        /* Age TIME_WAIT out: 2*MSL in slow-timer ticks, plus margin. */
        for (unsigned i = 0; i < 2 * TCP_MSL / TCP_SLOW_INTERVAL + 2; i++)
            tcp_slowtmr();
    }
    bench_result_stats("lwip_lifecycles_per_s", bench_summarize(v, reps));
    bench_result_int("lwip_lifecycle_count_per_rep", (long long)target);
    bench_result_int("lwip_lifecycle_timewait_kept", (long long)tw_kept);
    bench_result_int("lwip_lifecycle_timer_ticks", (long long)timer_calls);
    bench_result("lwip_lifecycle_segments_per_lifecycle", (double)dgrams / (double)target);
    free(v);
    return 0;
}
