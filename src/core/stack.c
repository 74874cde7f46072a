/*
 * The stack object: creation, the handle table, the connection and
 * listener tables, port bookkeeping, events, and the driving calls
 * sk_advance / sk_next_deadline.
 */
#include <stdio.h>
#include <stdlib.h>

#include "icmp.h"
#include "internal.h"

static const char *const state_names[] = {
    [0] = "CLOSED",
    [SK_TCP_ESTABLISHED] = "ESTABLISHED",
    [SK_TCP_SYN_SENT] = "SYN_SENT",
    [SK_TCP_SYN_RECV] = "SYN_RCVD",
    [SK_TCP_FIN_WAIT1] = "FIN_WAIT_1",
    [SK_TCP_FIN_WAIT2] = "FIN_WAIT_2",
    [SK_TCP_TIME_WAIT] = "TIME_WAIT",
    [SK_TCP_CLOSE] = "CLOSED",
    [SK_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
    [SK_TCP_LAST_ACK] = "LAST_ACK",
    [SK_TCP_LISTEN] = "LISTEN",
    [SK_TCP_CLOSING] = "CLOSING",
};

static const char *const ss_names[] = {
    [0] = "UNCONN",
    [SK_TCP_ESTABLISHED] = "ESTAB",
    [SK_TCP_SYN_SENT] = "SYN-SENT",
    [SK_TCP_SYN_RECV] = "SYN-RECV",
    [SK_TCP_FIN_WAIT1] = "FIN-WAIT-1",
    [SK_TCP_FIN_WAIT2] = "FIN-WAIT-2",
    [SK_TCP_TIME_WAIT] = "TIME-WAIT",
    [SK_TCP_CLOSE] = "UNCONN",
    [SK_TCP_CLOSE_WAIT] = "CLOSE-WAIT",
    [SK_TCP_LAST_ACK] = "LAST-ACK",
    [SK_TCP_LISTEN] = "LISTEN",
    [SK_TCP_CLOSING] = "CLOSING",
};

const char *sk_state_name(int state)
{
    if (state < 0 || state > SK_TCP_CLOSING)
        return "UNKNOWN";
    return state_names[state];
}

const char *sk_state_ss_name(int state)
{
    if (state < 0 || state > SK_TCP_CLOSING)
        return "UNKNOWN";
    return ss_names[state];
}

/* ------------------------------------------------------------------ */

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
    snprintf(s->name, sizeof(s->name), "%s", p->name ? p->name : "synack");
    s->transmit = p->transmit;
    s->transmit_ctx = p->transmit_ctx;
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
    s->bind_buckets = sk_calloc(s, s->bind_mask + 1, sizeof(*s->bind_buckets));
    if (!s->conn_buckets || !s->fds || !s->bind_buckets || sk_tw_init(s, &s->tw) != 0) {
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
    for (uint32_t i = 0; s->bind_buckets && i <= s->bind_mask; i++) {
        while (s->bind_buckets[i]) {
            sk_bind_bucket *b = s->bind_buckets[i];
            s->bind_buckets[i] = b->next;
            sk_free(s, b);
        }
    }
    sk_free(s, s->bind_buckets);
    sk_tw_destroy(s, &s->tw);
    sk_free(s, s->seg_scratch);
    sk_fastopen_free(s);
    sk_peer_cache_free(s);
    sk_recycle_empty(s, &s->rack_bin);
    sk_recycle_empty(s, &s->cubic_bin);
    sk_free(s, s->conn_buckets);
    sk_free(s, s->fds);
    sk_addr6_destroy(s);
    sk_free(s, s);
}

void sk_stack_set_tx_blocked(sk_stack *s, bool blocked) { s->tx_blocked = blocked; }

const char *sk_stack_name(const sk_stack *s) { return s->name; }
uint32_t sk_stack_addr(const sk_stack *s) { return s->addr; }
sk_time_ns sk_now(const sk_stack *s) { return s->now; }

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

void sk_emit(sk_stack *s, const sk_event *ev)
{
    if (sk_wants(s, ev->type))
        s->on_event(s->event_ctx, ev);
}

void sk_event_set_endpoints(sk_event *ev, const sk_endpoint *local, const sk_endpoint *remote)
{
    sk_event_ep(ev, SK_EPK_GIVEN, local, remote);
}

void sk_event_endpoints(const sk_event *ev, sk_endpoint *local, sk_endpoint *remote)
{
    sk_endpoint l = {0}, r = {0};
    const void *a = ev->ep_.a, *b = ev->ep_.b;
    switch (ev->ep_.kind) {
    case SK_EPK_GIVEN:
        if (a)
            l = *(const sk_endpoint *)a;
        if (b)
            r = *(const sk_endpoint *)b;
        break;
    case SK_EPK_TCB:
        sk_tcb_local_shown(a, b, &l);
        sk_tcb_remote(a, b, &r);
        break;
    case SK_EPK_SEG: {
        const sk_segment *seg = a;
        if (seg->ip_version == 6) {
            l = sk_endpoint_ipv6(seg->dst6, seg->dport);
            r = sk_endpoint_ipv6(seg->src6, seg->sport);
        } else {
            l = sk_endpoint_ipv4(seg->dst, seg->dport);
            r = sk_endpoint_ipv4(seg->src, seg->sport);
        }
        break;
    }
    case SK_EPK_ROUTE: {
        const sk_route *rt = a;
        if (rt->v6) {
            l = sk_endpoint_ipv6(rt->src6, ev->ep_.sport);
            r = sk_endpoint_ipv6(rt->dst6, ev->ep_.dport);
        } else {
            l = sk_endpoint_ipv4(rt->src, ev->ep_.sport);
            r = sk_endpoint_ipv4(rt->dst, ev->ep_.dport);
        }
        break;
    }
    case SK_EPK_ADDRS: {
        const sk_ep_addrs *e = b;
        sk_addr_endpoint(a, e->v6, e->mapped, e->laddr, e->lport, &l);
        sk_addr_endpoint(a, e->v6, e->mapped, e->raddr, e->rport, &r);
        break;
    }
    default:
        break;
    }
    if (local)
        *local = l;
    if (remote)
        *remote = r;
}

void sk_emit_state(sk_stack *s, sk_tcb *t, int from, int to, const char *cause)
{
    if (!sk_wants(s, SK_EV_STATE))
        return;
    sk_event ev = {.type = SK_EV_STATE, .now = s->now, .fd = t->fd, .from_state = from, .to_state = to,
                   .cause = cause};
    sk_event_ep(&ev, SK_EPK_TCB, s, t);
    sk_emit(s, &ev);
}

void sk_emit_drop(sk_stack *s, const sk_segment *seg, sk_counter_id reason)
{
    if (!sk_wants(s, SK_EV_DROP))
        return;
    sk_event ev = {.type = SK_EV_DROP, .now = s->now, .fd = -1,
                   .reason = sk_counter_short_name(reason)};
    if (seg)
        sk_event_ep(&ev, SK_EPK_SEG, seg, NULL);
    sk_emit(s, &ev);
}

void sk_emit_timer(sk_stack *s, const sk_key *k, int fd, const char *timer)
{
    if (!sk_wants(s, SK_EV_TIMER))
        return;
    sk_event ev = {.type = SK_EV_TIMER, .now = s->now, .fd = fd, .timer = timer};
    sk_ep_addrs e = {.laddr = k->laddr, .raddr = k->raddr, .lport = k->lport, .rport = k->rport, .v6 = k->v6};
    sk_event_ep(&ev, SK_EPK_ADDRS, s, &e);
    sk_emit(s, &ev);
}

void sk_notify(sk_stack *s, sk_tcb *t)
{
    if (t->fd < 0 || !sk_wants(s, SK_EV_READY))
        return;
    sk_event ev = {.type = SK_EV_READY, .now = s->now, .fd = t->fd};
    sk_event_ep(&ev, SK_EPK_TCB, s, t);
    sk_emit(s, &ev);
}

/* ------------------------------------------------------------------ */
/* Connection table: chained hash of full TCBs by their 4-tuple         */
/* ------------------------------------------------------------------ */

static inline uint32_t tcb_hash(const sk_tcb *t)
{
    sk_key k = sk_tcb_key(t);
    return sk_key_hash(&k);
}

sk_tcb *sk_conn_lookup(sk_stack *s, const sk_key *k)
{
    sk_tcb *t = s->conn_buckets[sk_key_hash(k) & s->conn_mask];
    for (; t; t = t->hnext)
        if (sk_key_eq(k, t->laddr, t->raddr, t->lport, t->rport, t->af6))
            return t;
    return NULL;
}

static void conn_grow(sk_stack *s)
{
    uint32_t nmask = s->conn_mask * 2 + 1;
    sk_tcb **nb = sk_calloc(s, (size_t)nmask + 1, sizeof(*nb));
    if (!nb)
        return; /* keep the longer chains; correctness is unaffected */
    for (uint32_t b = 0; b <= s->conn_mask; b++) {
        sk_tcb *t = s->conn_buckets[b];
        while (t) {
            sk_tcb *next = t->hnext;
            uint32_t h = tcb_hash(t) & nmask;
            t->hnext = nb[h];
            nb[h] = t;
            t = next;
        }
    }
    sk_free(s, s->conn_buckets);
    s->conn_buckets = nb;
    s->conn_mask = nmask;
}

void sk_conn_hash(sk_stack *s, sk_tcb *t)
{
    if (t->flags & SK_F_HASHED)
        return;
    if (s->conn_count > s->conn_mask)
        conn_grow(s);
    uint32_t h = tcb_hash(t) & s->conn_mask;
    t->hnext = s->conn_buckets[h];
    s->conn_buckets[h] = t;
    t->flags |= SK_F_HASHED;
    s->conn_count++;
}

void sk_conn_unhash(sk_stack *s, sk_tcb *t)
{
    if (!(t->flags & SK_F_HASHED))
        return;
    sk_tcb **pp = &s->conn_buckets[tcb_hash(t) & s->conn_mask];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    t->hnext = NULL;
    t->flags &= ~SK_F_HASHED;
    s->conn_count--;
}

/* Listeners are few; a small table by port, chained through hnext. */
sk_tcb *sk_listener_lookup(sk_stack *s, bool v6, uint32_t daddr, uint16_t lport)
{
    sk_tcb *best = NULL;
    int best_score = 0;
    for (sk_tcb *l = s->listeners[lport & 63]; l; l = l->hnext) {
        if (l->lport != lport)
            continue;
        int score;
        if (v6) {
            if (!l->af6 || (l->laddr && l->laddr != daddr))
                continue;
            score = l->laddr ? 4 : 1;
        } else if (!l->af6) {
            /* AF_INET, or AF_INET6 bound to an IPv4-mapped address */
            if (l->laddr && l->laddr != daddr)
                continue;
            score = (l->laddr ? 4 : 1) + !l->sock6;
        } else {
            /* An AF_INET6 socket on :: takes IPv4 unless IPV6_V6ONLY. */
            if (l->laddr || (l->sndstate & SK_SOCK_V6ONLY))
                continue;
            score = 1;
        }
        if (score > best_score) {
            best = l;
            best_score = score;
        }
    }
    return best;
}

void sk_listener_hash(sk_stack *s, sk_tcb *t)
{
    t->hnext = s->listeners[t->lport & 63];
    s->listeners[t->lport & 63] = t;
    t->flags |= SK_F_HASHED;
}

void sk_listener_unhash(sk_stack *s, sk_tcb *t)
{
    if (!(t->flags & SK_F_HASHED))
        return;
    sk_tcb **pp = &s->listeners[t->lport & 63];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    t->hnext = NULL;
    t->flags &= ~SK_F_HASHED;
}

/* ------------------------------------------------------------------ */
/* Bind buckets                                                         */
/* ------------------------------------------------------------------ */

static inline uint32_t port_hash(uint16_t port) { return (uint32_t)port * 0x9e3779b1u >> 16; }

static void bind_grow(sk_stack *s)
{
    uint32_t nmask = s->bind_mask * 2 + 1;
    sk_bind_bucket **nb = sk_calloc(s, (size_t)nmask + 1, sizeof(*nb));
    if (!nb)
        return; /* longer chains, same answers */
    for (uint32_t i = 0; i <= s->bind_mask; i++) {
        while (s->bind_buckets[i]) {
            sk_bind_bucket *b = s->bind_buckets[i];
            s->bind_buckets[i] = b->next;
            uint32_t h = port_hash(b->port) & nmask;
            b->next = nb[h];
            nb[h] = b;
        }
    }
    sk_free(s, s->bind_buckets);
    s->bind_buckets = nb;
    s->bind_mask = nmask;
}

sk_bind_bucket *sk_bind_bucket_get(sk_stack *s, uint16_t port, bool create)
{
    sk_bind_bucket **head = &s->bind_buckets[port_hash(port) & s->bind_mask];
    for (sk_bind_bucket *b = *head; b; b = b->next)
        if (b->port == port)
            return b;
    if (!create)
        return NULL;
    sk_bind_bucket *b = sk_calloc(s, 1, sizeof(*b));
    if (!b)
        return NULL;
    b->port = port;
    if (s->bind_count > s->bind_mask && s->bind_mask < 65535) {
        bind_grow(s);
        head = &s->bind_buckets[port_hash(port) & s->bind_mask];
    }
    b->next = *head;
    *head = b;
    s->bind_count++;
    return b;
}

void sk_bind_bucket_release(sk_stack *s, sk_bind_bucket *b)
{
    if (b->refs || b->listeners || b->tw)
        return;
    sk_bind_bucket **pp = &s->bind_buckets[port_hash(b->port) & s->bind_mask];
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = b->next;
        s->bind_count--;
    }
    sk_free(s, b);
}

void sk_port_ref(sk_stack *s, sk_tcb *t)
{
    sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, true);
    if (!b)
        return;
    b->refs++;
    if (!(t->flags & SK_F_REUSEADDR))
        b->noreuse++;
    if (t->flags & SK_F_USER_BOUND)
        b->user_bound++;
    t->flags |= SK_F_BOUND;
}

void sk_port_unref(sk_stack *s, sk_tcb *t)
{
    if (!(t->flags & SK_F_BOUND))
        return;
    sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, false);
    t->flags &= ~SK_F_BOUND;
    if (!b)
        return;
    b->refs--;
    if (!(t->flags & SK_F_REUSEADDR) && b->noreuse)
        b->noreuse--;
    if ((t->flags & SK_F_USER_BOUND) && b->user_bound)
        b->user_bound--;
    sk_bind_bucket_release(s, b);
}

/* ------------------------------------------------------------------ */
/* TCBs and handles                                                     */
/* ------------------------------------------------------------------ */

sk_tcb *sk_tcb_alloc(sk_stack *s)
{
    sk_tcb *t = sk_calloc(s, 1, sizeof(*t));
    if (!t)
        return NULL;
    t->fd = -1;
    t->state = SK_TCP_CLOSE;
    sk_timer_init(&t->timer);
    t->sndbuf = (uint32_t)s->cfg.tcp_wmem[1];
    t->rcvbuf = (uint32_t)s->cfg.tcp_rmem[1];
    t->fin_timeout_s = -1;
    /* Linux's tcp_init_sock(): every socket starts with these, so
     * TCP_INFO on a fresh or listening socket reads as Linux's does. */
    t->cwnd = SK_TCP_INIT_CWND;
    t->ssthresh = 0x7fffffff;
    t->mss = SK_TCP_MSS_DEFAULT;
    /* The algorithm is fixed at creation, as Linux's tcp_init_sock picks
     * the default (tcp_congestion_control) then. */
    (void)sk_cc_select(s, t, s->cfg.tcp_congestion_control);
    return t;
}

int sk_fd_install(sk_stack *s, sk_tcb *t)
{
    /* The lowest free handle, as POSIX hands out descriptors; the hint
     * keeps a stack filling up with connections from rescanning. */
    uint32_t i;
    for (i = s->fd_hint; i < s->fds_cap; i++)
        if (!s->fds[i])
            break;
    if (i == s->fds_cap) {
        if (s->fds_cap >= (1u << 24))
            return -EMFILE;
        uint32_t ncap = s->fds_cap * 2;
        sk_tcb **nf = sk_realloc(s, s->fds, (size_t)ncap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        memset(nf + s->fds_cap, 0, (size_t)(ncap - s->fds_cap) * sizeof(*nf));
        s->fds = nf;
        s->fds_cap = ncap;
    }
    s->fds[i] = t;
    t->fd = (int)i;
    s->fd_hint = i + 1;
    return (int)i;
}

sk_tcb *sk_fd_get(sk_stack *s, int fd)
{
    if (fd < 0 || (uint32_t)fd >= s->fds_cap)
        return NULL;
    return s->fds[fd];
}

void sk_tcb_set_state(sk_stack *s, sk_tcb *t, int state, const char *cause)
{
    int from = t->state;
    if (from == state)
        return;
    /* CurrEstab counts ESTABLISHED and CLOSE_WAIT (RFC 1213 tcpCurrEstab),
     * exactly as Linux's tcp_set_state() keeps it. */
    bool was = from == SK_TCP_ESTABLISHED || from == SK_TCP_CLOSE_WAIT;
    bool is = state == SK_TCP_ESTABLISHED || state == SK_TCP_CLOSE_WAIT;
    if (is && !was)
        s->counters[SK_C_TCP_CURR_ESTAB]++;
    else if (was && !is && s->counters[SK_C_TCP_CURR_ESTAB])
        s->counters[SK_C_TCP_CURR_ESTAB]--;
    t->state = (uint8_t)state;
    if (state == SK_TCP_ESTABLISHED)
        t->flags |= SK_F_WAS_ESTABLISHED;
    sk_emit_state(s, t, from, state, cause);
    sk_notify(s, t);
}

void sk_tcb_free(sk_stack *s, sk_tcb *t)
{
    sk_wheel_del(&s->tcb_wheel, &t->timer);
    sk_port_unref(s, t);
    sk_tcb_put_addrs(s, t);
    if (t->flags & SK_F_ORPHAN) {
        if (s->orphans)
            s->orphans--;
        t->flags &= ~SK_F_ORPHAN;
    }
    sk_ring_free(s, &t->sndq);
    sk_ring_free(s, &t->rcvq);
    sk_sack_clear(s, t);
    sk_rack_free(s, t);
    sk_cc_free(s, t);
    sk_tcb_ext_free(s, t);
    while (t->ooo) {
        sk_ooo_seg *n = t->ooo->next;
        sk_free(s, t->ooo);
        t->ooo = n;
    }
    /* `listen` shares space with the accept-queue links: only a
     * listener's is a queue (sk_listen_destroy normally freed it). */
    if (t->state == SK_TCP_LISTEN)
        sk_free(s, t->listen);
    sk_free(s, t);
}

void sk_tcb_done(sk_stack *s, sk_tcb *t, const char *cause)
{
    /* Linux's tcp_done(): a failed handshake is an AttemptFail. */
    if (t->state == SK_TCP_SYN_SENT || t->state == SK_TCP_SYN_RECV)
        sk_count(s, SK_C_TCP_ATTEMPT_FAILS);
    sk_tcb_close(s, t, cause);
}

void sk_tcb_close(sk_stack *s, sk_tcb *t, const char *cause)
{
    /* Linux's tcp_set_state(TCP_CLOSE): a synchronized connection torn
     * down from ESTABLISHED or CLOSE_WAIT is an EstabReset. */
    if (t->state == SK_TCP_ESTABLISHED || t->state == SK_TCP_CLOSE_WAIT)
        sk_count(s, SK_C_TCP_ESTAB_RESETS);
    sk_fastopen_child_done(s, t);
    t->flags |= SK_F_SHUT_RD | SK_F_SHUT_WR;
    sk_tcb_set_state(s, t, SK_TCP_CLOSE, cause);
    sk_conn_unhash(s, t);
    sk_wheel_del(&s->tcb_wheel, &t->timer);
    t->rto_at = t->delack_at = t->keepalive_at = 0;
    if (t->parent) {
        /* Still on a listener's accept queue: Linux leaves it there, and
         * accept() hands it out dead (CLOSE) with the data it had and its
         * error pending (a reset child, or a Fast Open child whose
         * SYN-ACK went unanswered); the listener's close frees it. */
        sk_notify(s, t->parent);
        return;
    }
    if (t->fd < 0) {
        sk_tcb_free(s, t);
        return;
    }
    /* The application still holds the handle.  Linux's tcp_set_state()
     * releases an automatically chosen port at once; one taken with
     * bind() stays until close(). */
    if (!(t->flags & SK_F_USER_BOUND))
        sk_port_unref(s, t);
    sk_notify(s, t);
}

/* ------------------------------------------------------------------ */
/* Driving                                                              */
/* ------------------------------------------------------------------ */

void sk_advance(sk_stack *s, sk_time_ns now)
{
    if (now < s->now)
        now = s->now; /* the clock never goes back */
    s->now = now;
    uint64_t tick = now / SK_NSEC_PER_MSEC;
    sk_wheel_advance(&s->req_wheel, tick, sk_req_timer_fire, s);
    sk_wheel_advance(&s->tcb_wheel, tick, sk_tcb_timer_fire, s);
    sk_tw_expire(s);
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

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

#define SK_ERRNO_LIST(X)                                                      \
    X(EPERM, "Operation not permitted")                                       \
    X(ENOENT, "No such file or directory")                                    \
    X(EINTR, "Interrupted system call")                                       \
    X(EBADF, "Bad file descriptor")                                           \
    X(EAGAIN, "Resource temporarily unavailable")                             \
    X(ENOMEM, "Cannot allocate memory")                                       \
    X(EACCES, "Permission denied")                                            \
    X(EFAULT, "Bad address")                                                  \
    X(EBUSY, "Device or resource busy")                                       \
    X(EEXIST, "File exists")                                                  \
    X(EINVAL, "Invalid argument")                                             \
    X(EMFILE, "Too many open files")                                          \
    X(ENOSPC, "No space left on device")                                      \
    X(EPIPE, "Broken pipe")                                                   \
    X(ENOTSOCK, "Socket operation on non-socket")                             \
    X(EDESTADDRREQ, "Destination address required")                           \
    X(EMSGSIZE, "Message too long")                                           \
    X(EPROTOTYPE, "Protocol wrong type for socket")                           \
    X(ENOPROTOOPT, "Protocol not available")                                  \
    X(EPROTONOSUPPORT, "Protocol not supported")                              \
    X(EOPNOTSUPP, "Operation not supported")                                  \
    X(EAFNOSUPPORT, "Address family not supported by protocol")              \
    X(EADDRINUSE, "Address already in use")                                   \
    X(EADDRNOTAVAIL, "Cannot assign requested address")                       \
    X(ENETDOWN, "Network is down")                                            \
    X(ENETUNREACH, "Network is unreachable")                                  \
    X(ECONNABORTED, "Software caused connection abort")                       \
    X(ECONNRESET, "Connection reset by peer")                                 \
    X(ENOBUFS, "No buffer space available")                                   \
    X(EISCONN, "Transport endpoint is already connected")                     \
    X(ENOTCONN, "Transport endpoint is not connected")                        \
    X(ETIMEDOUT, "Connection timed out")                                      \
    X(ECONNREFUSED, "Connection refused")                                     \
    X(EHOSTUNREACH, "No route to host")                                       \
    X(EALREADY, "Operation already in progress")                              \
    X(EINPROGRESS, "Operation now in progress")

const char *sk_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        return "Success";
#define SK_ERR_CASE(e, text) \
    if (err == e)            \
        return text;
    SK_ERRNO_LIST(SK_ERR_CASE)
#undef SK_ERR_CASE
    return "Unknown error";
}

const char *sk_errno_name(int err)
{
    if (err < 0)
        err = -err;
    if (err == 0)
        return "OK";
#define SK_ERR_NAME(e, text) \
    if (err == e)            \
        return #e;
    SK_ERRNO_LIST(SK_ERR_NAME)
#undef SK_ERR_NAME
    return "EUNKNOWN";
}

void *sk_recycle_take(const sk_stack *s, sk_recycle_bin *bin, size_t size)
{
    sk_recycled *o = bin->head;
    if (!o)
        return sk_calloc(s, 1, size);
    bin->head = o->next;
    bin->count--;
    memset(o, 0, size);
    return o;
}

void sk_recycle_give(const sk_stack *s, sk_recycle_bin *bin, void *obj)
{
    if (bin->count >= SK_RECYCLE_MAX) {
        sk_free(s, obj);
        return;
    }
    sk_recycled *o = obj;
    o->next = bin->head;
    bin->head = o;
    bin->count++;
}

void sk_recycle_empty(const sk_stack *s, sk_recycle_bin *bin)
{
    while (bin->head) {
        sk_recycled *o = bin->head;
        bin->head = o->next;
        sk_free(s, o);
    }
    bin->count = 0;
}
