/*
 * The stack object and its driver: creation and destruction, the
 * stack-level accessors, and the driving calls sk_advance /
 * sk_next_deadline that fire the timers.
 */
#include <stdio.h>
#include <stdlib.h>

#include "stack.h"
#include "addr.h"
#include "fastopen.h"
#include "icmp.h"
#include "listen.h"
#include "recycle.h"
#include "tables.h"
#include "timers.h"
#include "timewait.h"

/* The default allocator: the C library's. */
static void *libc_malloc(size_t n, void *user) { return malloc(n); }
static void *libc_calloc(size_t n, size_t size, void *user) { return calloc(n, size); }
static void *libc_realloc(void *p, size_t n, void *user) { return realloc(p, n); }
static void libc_free(void *p, void *user) { free(p); }
static const sk_mem libc_mem = {NULL, libc_malloc, libc_calloc, libc_realloc, libc_free};

sk_stack *sk_stack_new(const sk_stack_params *p)
{
    if (!p || !p->transmit)
        return NULL;
    const sk_mem *mem = p->mem ? p->mem : &libc_mem;
    if (!mem->malloc || !mem->calloc || !mem->realloc || !mem->free)
        return NULL;
    sk_stack *s = mem->calloc(1, sizeof(*s), mem->user);
    if (!s)
        return NULL;
    s->mem = *mem;
    s->offloads = p->offloads & (SK_OFFLOAD_TCP_CSUM_TX | SK_OFFLOAD_TCP_CSUM_RX);
    s->mtu = p->mtu ? p->mtu : 1500;
    if (s->mtu < 68)
        s->mtu = 68; /* RFC 791's minimum */
    s->ifindex = p->ifindex ? p->ifindex : 1;
    snprintf(s->name, sizeof(s->name), "%s", p->name ? p->name : "synack");
    s->transmit = p->transmit;
    s->transmitv = p->transmitv;
    s->transmit_ctx = p->transmit_ctx;
    /* Only a size above the MTU means anything; IPv4's and IPv6's length
     * fields stop at 65535. */
    s->gso_max_size = p->gso_max_size > s->mtu ? (p->gso_max_size < 65535u ? p->gso_max_size : 65535u) : 0;
    s->on_event = p->on_event;
    s->event_ctx = p->event_ctx;
    s->event_mask = p->event_mask ? p->event_mask : ~0u;
    s->now = p->now;
    s->epoch = p->now - (p->now % SK_NSEC_PER_MSEC);
    memcpy(s->isn_key, p->secret, 16);
    memcpy(s->cookie_key, p->secret + 16, 16);
    sk_rng_seed(&s->rng, p->seed);
    s->ip_id = (uint16_t)sk_rng_next(&s->rng);
    s->port_hint = (uint32_t)sk_rng_next(&s->rng);
    sk_config_defaults(&s->cfg);
    sk_wheel_init(&s->tcb_wheel, s->now / SK_NSEC_PER_MSEC);
    sk_wheel_init(&s->req_wheel, s->now / SK_NSEC_PER_MSEC);
    s->conn_mask = 255;
    s->conn_buckets = sk_calloc(s, s->conn_mask + 1, sizeof(*s->conn_buckets));
    s->fds_cap = 16;
    s->fds = sk_calloc(s, s->fds_cap, sizeof(*s->fds));
    s->bind_mask = 63;
    s->bind_table = sk_calloc(s, s->bind_mask + 1, sizeof(*s->bind_table));
    if (!s->conn_buckets || !s->fds || !s->bind_table || sk_tw_init(s, &s->tw) != 0) {
        sk_stack_free(s);
        return NULL;
    }
    static const uint8_t any6[16];
    sk_endpoint a4 = sk_endpoint_ipv4(p->addr, 0), a6 = sk_endpoint_ipv6(p->addr6, 0);
    int err = 0;
    if (p->addr)
        err = sk_stack_add_addr(s, &a4, p->addr_prefix_len ? p->addr_prefix_len : 32);
    if (!err && memcmp(p->addr6, any6, 16) != 0)
        err = sk_stack_add_addr(s, &a6, p->addr6_prefix_len ? p->addr6_prefix_len : 64);
    if (err == -ENOMEM) {
        sk_stack_free(s);
        return NULL;
    }
    return s;
}

static void free_tcb_chain_all(sk_stack *s)
{
    /* Listeners own their requests and unaccepted children. */
    for (size_t i = 0; i < 64; i++) {
        while (s->listeners[i]) {
            sk_tcb *l = s->listeners[i];
            sk_listener_unhash(s, l);
            sk_listen_destroy(s, l);
            if (l->fd < 0 || !s->fds || (uint32_t)l->fd >= s->fds_cap || s->fds[l->fd] != l)
                sk_tcb_free(s, l);
        }
    }
    if (s->conn_buckets) {
        for (uint32_t b = 0; b <= s->conn_mask; b++) {
            while (s->conn_buckets[b]) {
                sk_tcb *t = s->conn_buckets[b];
                sk_conn_unhash(s, t);
                if (t->fd < 0)
                    sk_tcb_free(s, t);
            }
        }
    }
    if (s->fds) {
        for (uint32_t i = 0; i < s->fds_cap; i++) {
            if (s->fds[i]) {
                sk_tcb *t = s->fds[i];
                s->fds[i] = NULL;
                t->fd = -1;
                if (t->state == SK_TCP_LISTEN && t->listen)
                    sk_listen_destroy(s, t);
                sk_tcb_free(s, t);
            }
        }
    }
}

void sk_stack_free(sk_stack *s)
{
    if (!s)
        return;
    free_tcb_chain_all(s);
    sk_free(s, s->bind_table);
    sk_tw_destroy(s, &s->tw);
    sk_free(s, s->seg_scratch);
    sk_free(s, s->in_linear);
    sk_fastopen_free(s);
    sk_peer_cache_free(s);
    sk_recycle_empty(s, &s->rack_bin);
    sk_recycle_empty(s, &s->cubic_bin);
    sk_recycle_empty(s, &s->tcb_bin);
    sk_recycle_empty(s, &s->req_bin);
    sk_recycle_empty(s, &s->ring_bin);
    sk_free(s, s->conn_buckets);
    sk_free(s, s->fds);
    sk_addr6_destroy(s);
    sk_free(s, s);
}

void sk_stack_set_tx_blocked(sk_stack *s, bool blocked) { s->tx_blocked = blocked; }

const char *sk_stack_name(const sk_stack *s) { return s->name; }
uint32_t sk_stack_addr(const sk_stack *s) { return s->addr; }
sk_time_ns sk_now(const sk_stack *s) { return s->now; }

/* Removes like `ip addr del` (EADDRNOTAVAIL when not held).  As in
 * Linux, connections using the address are left alone: their segments
 * go out with it and answers no longer arrive, so they time out.  Half
 * open requests to it go (listen.c), and the indexes they hold of later
 * addresses move down with the table. */
int sk_stack_del_addr(sk_stack *s, const sk_endpoint *ep)
{
    int i = sk_laddr_find(s, ep);
    if (i < 0)
        return i;
    sk_listen_addr_removed(s, (uint32_t)i);
    sk_laddr_remove(s, (uint32_t)i);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Driving                                                              */
/* ------------------------------------------------------------------ */

void sk_advance(sk_stack *s, sk_time_ns now)
{
    /* sk_input calls this for every datagram, and a burst of datagrams
     * mostly arrives within one millisecond: nothing new can be due
     * then (the wheels arm at least one tick ahead, TIME_WAIT expiries
     * are whole milliseconds), so only the clock moves. */
    if (now < s->advanced_until) {
        if (now > s->now)
            s->now = now;
        return;
    }
    if (now < s->now)
        now = s->now; /* the clock never goes back */
    s->now = now;
    uint64_t tick = now / SK_NSEC_PER_MSEC;
    s->advanced_until = (tick + 1) * SK_NSEC_PER_MSEC;
    sk_wheel_advance(&s->req_wheel, tick, sk_req_timer_fire, s);
    sk_wheel_advance(&s->tcb_wheel, tick, sk_tcb_timer_fire, s);
    sk_tw_expire(s);
    if (tick >= s->recycle_trim_tick) {
        s->recycle_trim_tick = tick + SK_RECYCLE_TRIM_MS;
        sk_recycle_trim(s, &s->tcb_bin);
        sk_recycle_trim(s, &s->req_bin);
        sk_recycle_trim(s, &s->ring_bin);
        sk_recycle_trim(s, &s->rack_bin);
        sk_recycle_trim(s, &s->cubic_bin);
    }
}

sk_time_ns sk_next_deadline(const sk_stack *s)
{
    sk_time_ns best = SK_TIME_NEVER;
    uint64_t a = sk_wheel_next(&s->tcb_wheel);
    uint64_t b = sk_wheel_next(&s->req_wheel);
    if (a != SK_TICK_NEVER)
        best = a * SK_NSEC_PER_MSEC;
    if (b != SK_TICK_NEVER && b * SK_NSEC_PER_MSEC < best)
        best = b * SK_NSEC_PER_MSEC;
    sk_time_ns tw = sk_tw_next_deadline(s);
    if (tw < best)
        best = tw;
    if (best != SK_TIME_NEVER && best < s->now)
        best = s->now;
    return best;
}

