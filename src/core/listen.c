/*
 * Passive open.  A listener keeps half-open connections as compact request
 * records on its SYN queue (Linux's request_sock) and turns one into a
 * full connection only when the handshake's final ACK arrives, then keeps
 * it on the accept queue until accept().
 *
 * LISTEN and SYN_RCVD-of-a-request processing (RFC 9293 §3.10.7.2, and
 * Linux's tcp_conn_request / tcp_check_req) live here.
 */
#include <stdio.h>

#include "listen.h"
#include "recycle.h"
#include "addr.h"
#include "eor.h"
#include "events.h"
#include "fastopen.h"
#include "icmp.h"
#include "input.h"
#include "output.h"
#include "rcvbuf.h"
#include "stack.h"
#include "tables.h"
#include "timers.h"
#include "syncookie.h"

/* Request flags private to this file, beside the SK_REQ_* bits. */
enum { REQ_COOKIE = 0x80 }; /* a stateless request rebuilt from (or for) a SYN cookie */

size_t sk_request_record_size(void) { return sizeof(sk_request); }
size_t sk_connection_record_size(void) { return sizeof(sk_tcb); }

/* The request keeps no timestamp offset: it is a keyed hash of the
 * address pair (Linux's secure_tcp_ts_off), cheap to recompute. */
static inline sk_key req_key(const sk_stack *s, const sk_request *r)
{
    return (sk_key){.laddr = sk_req_laddr(s, r), .raddr = r->raddr, .lport = sk_req_lport(r),
                    .rport = r->rport, .v6 = (r->opts & SK_REQ_V6) != 0};
}

static uint32_t req_ts_off(const sk_stack *s, const sk_request *r)
{
    sk_key k = req_key(s, r);
    return sk_key_ts_off(s, &k);
}

static inline uint32_t req_hash(uint32_t raddr, uint16_t rport)
{
    uint64_t k = ((uint64_t)raddr << 16) ^ rport;
    k *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(k >> 32);
}

static sk_request *req_lookup(const sk_stack *s, sk_listen_queue *q, const sk_key *k)
{
    for (sk_request *r = q->syn_buckets[req_hash(k->raddr, k->rport) & q->syn_mask]; r; r = r->hnext)
        if (r->raddr == k->raddr && r->rport == k->rport && sk_req_laddr(s, r) == k->laddr &&
            sk_req_lport(r) == k->lport && ((r->opts & SK_REQ_V6) != 0) == k->v6)
            return r;
    return NULL;
}

/* A request's remote address holds a reference (addr.c) until it goes;
 * its local one is the stack's, or, for a non-local one, its own. */
static void req_free(sk_stack *s, sk_request *req)
{
    sk_addr_put(s, (req->opts & SK_REQ_V6) != 0, req->raddr);
    if (req->lidx == SK_LIDX_FOREIGN) {
        sk_addr_put(s, (req->opts & SK_REQ_V6) != 0, ((sk_request_foreign *)req)->laddr);
        sk_free(s, req);
        return;
    }
    uint32_t max = SK_RECYCLE_REQ_MAX + s->tcb_bin.count;
    sk_recycle_give_max(s, &s->req_bin, req, max < SK_RECYCLE_TCB_MAX ? max : SK_RECYCLE_TCB_MAX);
}

static uint16_t req_advmss(const sk_stack *s, const sk_tcb *l, const sk_request *req)
{
    /* tcp_make_synack: the route's advmss, so a path MTU learned for the
     * peer shows in the SYN-ACK (pmtu.c). */
    uint16_t m = sk_route_advmss(s, (req->opts & SK_REQ_V6) != 0, req->raddr);
    return l->user_mss && l->user_mss < m ? l->user_mss : m;
}

static void req_table_grow(const sk_stack *s, sk_listen_queue *q)
{
    uint32_t nmask = q->syn_mask * 2 + 1;
    sk_request **nb = sk_calloc(s, (size_t)nmask + 1, sizeof(*nb));
    if (!nb)
        return;
    for (uint32_t b = 0; b <= q->syn_mask; b++) {
        sk_request *r = q->syn_buckets[b];
        while (r) {
            sk_request *next = r->hnext;
            uint32_t h = req_hash(r->raddr, r->rport) & nmask;
            r->hnext = nb[h];
            nb[h] = r;
            r = next;
        }
    }
    sk_free(s, q->syn_buckets);
    q->syn_buckets = nb;
    q->syn_mask = nmask;
}

static void req_unlink(sk_stack *s, sk_listen_queue *q, sk_request *req)
{
    sk_request **pp = &q->syn_buckets[req_hash(req->raddr, req->rport) & q->syn_mask];
    while (*pp && *pp != req)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = req->hnext;
    q->syn_count--;
    s->requests--;
    sk_wheel_del(&s->req_wheel, &req->timer);
}

static void emit_req_state(sk_stack *s, const sk_request *req, int from, int to, sk_state_cause cause)
{
    if (!sk_wants(s, SK_EV_STATE))
        return;
    sk_event ev = {.type = SK_EV_STATE, .now = s->now, .fd = -1, .from_state = from, .to_state = to,
                   .cause = sk_cause_text[cause], .state_cause = cause};
    sk_ep_addrs e = {.laddr = sk_req_laddr(s, req), .raddr = req->raddr, .lport = sk_req_lport(req),
                     .rport = req->rport, .v6 = (req->opts & SK_REQ_V6) != 0, .mapped = req->listener->sock6};
    sk_event_ep(&ev, SK_EPK_ADDRS, s, &e);
    sk_emit(s, &ev);
}

static void req_drop(sk_stack *s, sk_request *req, sk_state_cause cause)
{
    sk_listen_queue *q = req->listener->listen;
    req_unlink(s, q, req);
    emit_req_state(s, req, SK_TCP_SYN_RECV, SK_TCP_CLOSE, cause);
    req_free(s, req);
}

/* The receive window a request offers: Linux's tcp_openreq_init_rwin()
 * sizes it from the listener's buffer, in multiples of the MSS less the
 * timestamp option. */
static void req_init_rwin(sk_stack *s, const sk_tcb *l, sk_request *req, uint32_t *rcv_wnd, uint32_t *clamp)
{
    uint16_t mss = req_advmss(s, l, req);
    if (req->opts & SK_REQ_TS)
        mss -= 12;
    /* TCP_WINDOW_CLAMP on the listener, or the locked buffer's full space
     * (the same for a SYN cookie, as cookie_v4_check redoes it). */
    *clamp = sk_rcv_initial_clamp(s, l, l->window_clamp);
    uint8_t ws = 0;
    sk_init_rcv_window(s, l->rcvbuf, mss, (req->opts & SK_REQ_WS) != 0, rcv_wnd, &ws, clamp);
    req->rcv_wscale = ws;
}

/* A SYN-ACK; `foc` (len >= 0) adds the Fast Open cookie option and
 * `ack` acknowledges data taken from a Fast Open SYN. */
static void send_synack_fo(sk_stack *s, sk_request *req, const sk_fo_cookie *foc, uint32_t ack);

static void send_synack(sk_stack *s, sk_request *req)
{
    send_synack_fo(s, req, NULL, req->irs + 1);
}

static void send_synack_fo(sk_stack *s, sk_request *req, const sk_fo_cookie *foc, uint32_t ack)
{
    sk_tcb *l = req->listener;
    uint32_t rcv_wnd, clamp;
    req_init_rwin(s, l, req, &rcv_wnd, &clamp);
    uint16_t advmss = req_advmss(s, l, req);
    sk_out_opts o = {.syn = true, .mss = advmss,
                     .ws = (req->opts & SK_REQ_WS) != 0, .wscale = req->rcv_wscale,
                     .sack_perm = (req->opts & SK_REQ_SACK) != 0,
                     .ts = (req->opts & SK_REQ_TS) != 0, .ts_ecr = req->ts_recent};
    if (o.ts) {
        uint32_t ts_now = sk_tcp_time_ms(s);
        if (req->opts & REQ_COOKIE) {
            /* The options a request would remember ride in the TSval's
             * low bits (Linux's cookie_init_timestamp). */
            sk_cookie_opts co = {.wscale_ok = (req->opts & SK_REQ_WS) != 0, .snd_wscale = req->snd_wscale,
                                 .sack_ok = (req->opts & SK_REQ_SACK) != 0,
                                 .ecn_ok = (req->opts & SK_REQ_ECN) != 0};
            ts_now = sk_syncookie_ts_make(ts_now, &co);
        }
        o.ts_val = ts_now + req_ts_off(s, req);
    }
    if (foc && foc->len >= 0) {
        o.fo = true;
        o.fo_exp = foc->exp;
        o.fo_len = (uint8_t)foc->len;
        o.fo_cookie = foc->val;
    }
    uint8_t opts[SK_TCP_OPT_MAX];
    size_t optlen = sk_build_options(&o, opts);
    /* Linux's tcp_ecn_make_synack(): ECE alone accepts ECN (RFC 3168
     * §6.1.1); the SYN-ACK itself is not ECN-capable. */
    uint16_t flags = SK_TH_SYN | SK_TH_ACK;
    if (req->opts & SK_REQ_ECN)
        flags |= SK_TH_ECE;
    sk_key k = req_key(s, req);
    sk_route rt;
    sk_route_key(s, &k, &rt);
    sk_segment_spec spec = {.sport = k.lport, .dport = req->rport, .seq = req->iss, .ack = ack,
                            .flags = flags, .window = (uint16_t)(rcv_wnd < 65535u ? rcv_wnd : 65535u),
                            .options = opts, .options_len = optlen};
    sk_xmit(s, &rt, &spec);
}

static void req_arm(sk_stack *s, sk_request *req)
{
    /* SYN-ACK retransmission: 1 s doubling, as Linux's reqsk timer. */
    sk_time_ns to = SK_TCP_TIMEOUT_INIT << req->retrans;
    sk_time_ns max = SK_MS(s->cfg.tcp_rto_max_ms);
    if (to > max)
        to = max;
    sk_wheel_add(&s->req_wheel, &req->timer, sk_ns_to_tick(s->now + to));
}

void sk_req_timer_fire(void *ctx, sk_timer *timer)
{
    sk_stack *s = ctx;
    sk_request *req = (sk_request *)((char *)timer - offsetof(sk_request, timer));
    sk_key k = req_key(s, req);
    sk_emit_timer(s, &k, -1, "synack");
    /* reqsk_timer_handler calls tcp_syn_ack_timeout first: every expiry
     * of a request's timer, the last included, is a TCPTimeout. */
    sk_count(s, SK_C_TCPEXT_TCP_TIMEOUTS);
    if (req->retrans >= (unsigned)s->cfg.tcp_synack_retries) {
        req_drop(s, req, SK_CAUSE_SYNACK_RETRIES);
        return;
    }
    req->retrans++;
    sk_count(s, SK_C_TCP_RETRANS_SEGS);
    sk_count(s, SK_C_TCPEXT_TCP_SYN_RETRANS);
    send_synack(s, req);
    req_arm(s, req);
}

static bool accept_queue_full(const sk_listen_queue *q)
{
    /* Linux's sk_acceptq_is_full(): strictly more than the backlog, so a
     * listen(fd, 0) still takes one connection. */
    return q->aq_len > q->backlog;
}

/* Linux's tcp_syn_flood_action(): the SYN queue is full (or
 * tcp_syncookies = 2).  Counts the decision and, at most once a minute per
 * listener, says so as Linux's kernel log does; returns whether to answer
 * with a cookie. */
static bool syn_flood_action(sk_stack *s, sk_tcb *l)
{
    sk_listen_queue *q = l->listen;
    int syncookies = s->cfg.tcp_syncookies;
    bool want_cookie = syncookies != 0;
    sk_count(s, want_cookie ? SK_C_TCPEXT_TCP_REQ_Q_FULL_DO_COOKIES : SK_C_TCPEXT_TCP_REQ_Q_FULL_DROP);
    /* Linux stays quiet with tcp_syncookies = 2: cookies are then the
     * configured answer to every SYN, not a sign of a flood. */
    if (syncookies != 2 && s->now >= q->synflood_warn_after) {
        q->synflood_warn_after = s->now + SK_SEC(60);
        if (sk_wants(s, SK_EV_MESSAGE)) {
            char msg[128];
            /* Linux names the listener's bound address, 0.0.0.0 when
             * it listens on any. */
            uint32_t a = l->laddr;
            if (l->sock6) {
                /* An AF_INET6 listener as Linux prints it, [%pI6c]:port,
                 * its address "::" when it listens on any. */
                char a6[48];
                sk_endpoint me;
                sk_tcb_local(s, l, &me);
                sk_addr6_format(me.addr6, a6, sizeof a6);
                snprintf(msg, sizeof msg, "Possible SYN flooding on port [%s]:%u. %s.", a6, (unsigned)l->lport,
                         want_cookie ? "Sending cookies" : "Dropping request");
            } else {
                snprintf(msg, sizeof msg, "Possible SYN flooding on port %u.%u.%u.%u:%u. %s.", a >> 24,
                         (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff, (unsigned)l->lport,
                         want_cookie ? "Sending cookies" : "Dropping request");
            }
            sk_event ev = {.type = SK_EV_MESSAGE, .now = s->now, .fd = l->fd, .message = msg};
            sk_endpoint local;
            sk_tcb_local_shown(s, l, &local);
            sk_event_set_endpoints(&ev, &local, NULL); /* the listener's address only */
            sk_emit(s, &ev);
        }
    }
    return want_cookie;
}

/* Does a request for this key need the larger record (a transparent
 * listener's SYN to a non-local address, or to another port)? */
static bool req_is_foreign(const sk_stack *s, const sk_tcb *l, const sk_key *k)
{
    return k->lport != l->lport || sk_local_index(s, k->v6, k->laddr) >= SK_MAX_LOCAL_ADDRS;
}

/* Sets a request's local address; `req` must be an sk_request_foreign
 * when req_is_foreign().  No reference is taken here. */
static void req_set_local(sk_stack *s, sk_tcb *l, sk_request *req, const sk_key *k)
{
    req->listener = l;
    uint32_t idx = sk_local_index(s, k->v6, k->laddr);
    if (k->lport != l->lport || idx >= SK_MAX_LOCAL_ADDRS) {
        req->lidx = SK_LIDX_FOREIGN;
        ((sk_request_foreign *)req)->laddr = k->laddr;
        ((sk_request_foreign *)req)->lport = k->lport;
    } else {
        req->lidx = (uint8_t)idx;
    }
}

/* Fills a request from a SYN's options as Linux's tcp_openreq_init(). */
static void req_init_from_syn(sk_stack *s, sk_tcb *l, sk_request *req, const sk_segment *seg, const sk_key *k)
{
    req_set_local(s, l, req, k);
    req->raddr = k->raddr;
    if (k->v6)
        req->opts |= SK_REQ_V6;
    req->rport = seg->sport;
    req->irs = seg->seq;
    req->mss = seg->opts.has_mss && seg->opts.mss ? seg->opts.mss : SK_TCP_MSS_DEFAULT;
    if (seg->opts.has_wscale && s->cfg.tcp_window_scaling) {
        req->opts |= SK_REQ_WS;
        req->snd_wscale = seg->opts.wscale;
    }
    if (seg->opts.sack_permitted && s->cfg.tcp_sack)
        req->opts |= SK_REQ_SACK;
    if (seg->opts.has_ts && s->cfg.tcp_timestamps) {
        req->opts |= SK_REQ_TS;
        req->ts_recent = seg->opts.ts_val;
    }
    /* Linux's tcp_ecn_create_request(): an ECN-setup SYN has ECE and CWR
     * (RFC 3168 §6.1.1); any tcp_ecn but 0 accepts it, unless the SYN is
     * itself ECN-capable (§6.1.1: SYNs must not be), which suggests a
     * network rewriting the field, or a reserved bit says it is not
     * plain RFC 3168 ECN. */
    bool ect = (seg->tos & SK_IP_ECN_MASK) != SK_IP_ECN_NOT_ECT;
    if ((seg->flags & (SK_TH_ECE | SK_TH_CWR)) == (SK_TH_ECE | SK_TH_CWR) && s->cfg.tcp_ecn &&
        (!ect || (seg->flags & SK_TH_NS)))
        req->opts |= SK_REQ_ECN;
}

static sk_cookie_tuple cookie_tuple(const sk_stack *s, const sk_tcb *l, const sk_segment *seg)
{
    (void)s;
    bool v6 = seg->ip_version == 6;
    (void)l; /* the SYN's own port: a catch-all transparent listener's differs */
    return (sk_cookie_tuple){.saddr = seg->src, .daddr = seg->dst, .sport = seg->sport, .dport = seg->dport,
                             .saddr6 = v6 ? seg->src6 : NULL, .daddr6 = v6 ? seg->dst6 : NULL};
}

/* A stateless SYN-ACK (Linux's tcp_conn_request with want_cookie). */
static void send_cookie_synack(sk_stack *s, sk_tcb *l, const sk_segment *seg, const sk_key *k)
{
    sk_request_foreign rf;
    memset(&rf, 0, sizeof rf);
    sk_request *req = &rf.req; /* the larger record: the address may be non-local */
    req_init_from_syn(s, l, req, seg, k);
    req->opts |= REQ_COOKIE;
    /* Without timestamps there is nowhere to keep window scale and SACK,
     * so the cookie connection does without (tcp_clear_options). */
    if (!(req->opts & SK_REQ_TS))
        req->opts &= (uint8_t)~(SK_REQ_WS | SK_REQ_SACK);
    /* The cookie carries the peer's MSS clamped by TCP_MAXSEG, as
     * Linux's mss_clamp. */
    uint16_t mss = req->mss;
    if (l->user_mss && l->user_mss < mss)
        mss = l->user_mss;
    sk_cookie_tuple tuple = cookie_tuple(s, l, seg);
    req->iss = sk_syncookie_make(s->cookie_key, &tuple, seg->seq, mss, s->now, &req->mss);
    sk_count(s, SK_C_TCPEXT_SYNCOOKIES_SENT);
    send_synack(s, req);
}

static sk_tcb *fastopen_child(sk_stack *s, sk_tcb *l, sk_request *req, const sk_segment *seg);
static void conn_request_key(sk_stack *s, sk_tcb *l, const sk_segment *seg, const sk_key *k);

/* Linux's tcp_conn_request(): a SYN for a listener. */
static void conn_request(sk_stack *s, sk_tcb *l, const sk_segment *seg)
{
    if (seg->ip_version == 6 && sk_addr6_is_v4mapped(seg->src6)) {
        /* tcp_v6_conn_request: a SYN from an IPv4-mapped source is
         * malformed IPv6 (RFC 4038 §4.2), dropped as a header error. */
        sk_count(s, SK_C_IP6_IN_HDR_ERRORS);
        sk_emit_drop(s, seg, SK_C_IP6_IN_HDR_ERRORS);
        return;
    }
    /* The request (or the cookie's SYN-ACK) needs the addresses as
     * handles: hold them for the while. */
    sk_key k;
    if (!sk_seg_key_intern(s, seg, &k)) {
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        return;
    }
    conn_request_key(s, l, seg, &k);
    sk_key_put(s, &k);
}

static void conn_request_key(sk_stack *s, sk_tcb *l, const sk_segment *seg, const sk_key *k)
{
    sk_listen_queue *q = l->listen;
    int syncookies = s->cfg.tcp_syncookies;
    /* A SYN reopening a TIME_WAIT tuple has its ISN already (timewait.c)
     * and never gets a cookie, as Linux's `!isn` conditions. */
    bool reopen = s->tw_isn != 0;
    bool want_cookie = false;
    /* inet_csk_reqsk_queue_is_full(): the SYN queue is bounded by the
     * listen() backlog. */
    if ((syncookies == 2 || q->syn_count >= q->backlog) && !reopen) {
        want_cookie = syn_flood_action(s, l);
        if (!want_cookie) {
            sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
            sk_emit_drop(s, seg, SK_C_TCPEXT_TCP_REQ_Q_FULL_DROP);
            return;
        }
    }
    if (accept_queue_full(q)) {
        sk_count(s, SK_C_TCPEXT_LISTEN_OVERFLOWS);
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        sk_emit_drop(s, seg, SK_C_TCPEXT_LISTEN_OVERFLOWS);
        return;
    }
    if (want_cookie) {
        send_cookie_synack(s, l, seg, k);
        return;
    }
    if (!reopen && !syncookies) {
        /* Without cookies Linux keeps the last quarter of
         * tcp_max_syn_backlog for peers proven alive; synack keeps no
         * per-destination metrics, so no peer is proven. */
        int32_t max_syn_backlog = s->cfg.tcp_max_syn_backlog;
        if (max_syn_backlog - (int32_t)q->syn_count < (max_syn_backlog >> 2)) {
            sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
            sk_emit_drop(s, seg, SK_C_TCPEXT_LISTEN_DROPS);
            return;
        }
    }
    bool foreign = req_is_foreign(s, l, k);
    sk_request *req = foreign ? sk_calloc(s, 1, sizeof(sk_request_foreign))
                              : sk_recycle_take(s, &s->req_bin, sizeof(*req));
    if (!req) {
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        return;
    }
    sk_timer_init(&req->timer);
    req_init_from_syn(s, l, req, seg, k);
    /* The request keeps its own references (the caller drops the key's). */
    sk_addr_hold(s, k->v6, k->raddr);
    if (foreign)
        sk_addr_hold(s, k->v6, k->laddr);
    if (reopen) {
        req->iss = s->tw_isn;
        s->tw_isn = 0;
    } else {
        req->iss = sk_key_isn(s, k);
    }
    sk_fo_cookie foc = {.len = seg->opts.fo_len, .exp = seg->opts.fo_exp};
    if (foc.len > 0)
        memcpy(foc.val, seg->opts.fo_cookie, (size_t)foc.len);
    if (sk_fastopen_try(s, l, seg, &foc)) {
        bool alt = foc.len > 0;
        sk_tcb *child = fastopen_child(s, l, req, seg);
        sk_fastopen_child_created(s, l, child != NULL, alt, &foc);
        if (child) {
            send_synack_fo(s, req, &foc, child->rcv_nxt);
            req_free(s, req);
            sk_tcb_timer_update(s, child);
            sk_notify(s, child);
            sk_notify(s, l);
            return;
        }
    }
    if (q->syn_count > q->syn_mask)
        req_table_grow(s, q);
    uint32_t h = req_hash(req->raddr, req->rport) & q->syn_mask;
    req->hnext = q->syn_buckets[h];
    q->syn_buckets[h] = req;
    q->syn_count++;
    s->requests++;
    emit_req_state(s, req, SK_TCP_LISTEN, SK_TCP_SYN_RECV, SK_CAUSE_RCV_SYN);
    send_synack_fo(s, req, &foc, req->irs + 1);
    req_arm(s, req);
}

/* Removes `child` from its listener's accept queue. */
void sk_accept_queue_remove(sk_stack *s, sk_tcb *child)
{
    sk_tcb *l = child->parent;
    (void)s;
    if (!l || !l->listen)
        return;
    sk_listen_queue *q = l->listen;
    sk_tcb **pp = &q->aq_head;
    sk_tcb *prev = NULL;
    while (*pp && *pp != child) {
        prev = *pp;
        pp = &(*pp)->aq_next;
    }
    if (*pp) {
        *pp = child->aq_next;
        if (q->aq_tail == child)
            q->aq_tail = prev;
        q->aq_len--;
    }
    child->aq_next = NULL;
    child->parent = NULL;
}

/* The handshake completes: a full connection from the request
 * (Linux's tcp_v4_syn_recv_sock + tcp_create_openreq_child), with the
 * receive window and clamp req_init_rwin just gave the caller. */
static sk_tcb *create_child(sk_stack *s, sk_tcb *l, sk_request *req, uint32_t rcv_wnd, uint32_t clamp)
{
    sk_tcb *t = sk_tcb_alloc(s);
    if (!t)
        return NULL;
    bool v6 = (req->opts & SK_REQ_V6) != 0;
    sk_tcb_set_laddr(s, t, v6, sk_req_laddr(s, req));
    sk_tcb_set_raddr(s, t, v6, req->raddr);
    t->sock6 = l->sock6;
    /* The original destination, as Linux's child of a TPROXY-redirected
     * SYN has it (getsockname reports it); inet->transparent is cloned. */
    t->lport = sk_req_lport(req);
    t->transparent = l->transparent;
    t->rport = req->rport;
    t->iss = req->iss;
    t->snd_una = req->iss;
    t->snd_nxt = req->iss + 1;
    t->rcv_nxt = t->rcv_wup = req->irs + 1;
    t->sndbuf = l->sndbuf;
    t->rcvbuf = l->rcvbuf;
    /* sk_userlocks, and sk_ipv6only as the clone keeps it */
    t->sndstate |= l->sndstate & (SK_RCVBUF_LOCK | SK_SOCK_V6ONLY);
    t->user_mss = l->user_mss;
    /* sk_userlocks too, and sk_reuseport, which sk_clone_lock copies */
    t->sopts |= l->sopts & (SK_O_NODELAY | SK_O_KEEPALIVE | SK_O_REUSEADDR | SK_O_REUSEPORT | SK_O_SNDBUF_LOCK);
    /* A child runs its listener's congestion control (TCP_CONGESTION on
     * the listener), as Linux's clone keeps icsk_ca_ops. */
    t->cc_reno = l->cc_reno;
    t->keepidle_s = l->keepidle_s;
    t->keepintvl_s = l->keepintvl_s;
    t->keepcnt = l->keepcnt;
    /* SO_LINGER, TCP_NOTSENT_LOWAT and TCP_USER_TIMEOUT are inherited as
     * Linux's clone copies the socket; only a listener that set them has
     * an ext. */
    if (l->ext && (l->ext->linger_s != -1 || l->ext->notsent_lowat || l->ext->user_timeout_ms)) {
        sk_tcb_ext *x = sk_tcb_ext_get(s, t);
        if (x) {
            x->linger_s = l->ext->linger_s;
            x->notsent_lowat = l->ext->notsent_lowat;
            x->user_timeout_ms = l->ext->user_timeout_ms;
        }
    }
    if (l->sopts & SK_O_LINGER)
        t->sopts |= SK_O_LINGER;
    const uint8_t *peer6 = v6 ? sk_addr6_get(s, req->raddr) : NULL;
    sk_pmtu_inherit(s, t, l, peer6 && peer6[0] == 0xfe && (peer6[1] & 0xc0) == 0x80); /* pmtu.c */
    t->advmss = req_advmss(s, l, req);
    if (req->opts & SK_REQ_WS) {
        t->negot |= SK_N_WS_OK;
        t->snd_wscale = req->snd_wscale;
    }
    if (req->opts & SK_REQ_SACK)
        t->negot |= SK_N_SACK_OK;
    if (req->opts & SK_REQ_ECN)
        t->ecn = SK_ECN_OK; /* tcp_ecn_openreq_child */
    if (req->opts & SK_REQ_TS) {
        t->negot |= SK_N_TS_OK;
        t->advmss -= 12; /* as the active side: the option rides in each segment */
        t->ts_recent = req->ts_recent;
        t->ts_recent_stamp_s = (uint32_t)(s->now / SK_NSEC_PER_SEC);
        t->ts_off = req_ts_off(s, req);
    }
    t->rcv_wnd = rcv_wnd;
    t->rcv_wscale = req->rcv_wscale;
    t->window_clamp = clamp;
    t->rcv_ssthresh = t->rcv_wnd;
    t->peer_mss = req->mss;
    sk_set_send_mss(s, t);
    /* No RTT sample here: the child's processing of this ACK takes the
     * one sample Linux takes (tcp_synack_rtt_meas), from the echoed
     * timestamp; sampling twice would shrink rttvar.  Without timestamps
     * the SYN-ACK's send time is timed instead, unless it was retransmitted
     * (Karn): the request's first timer was armed one initial RTO after
     * it, so the record needs no field for it. */
    if (!(t->negot & SK_N_TS_OK) && req->retrans == 0 && sk_timer_pending(&req->timer)) {
        sk_time_ns armed = (sk_time_ns)req->timer.expires * SK_NSEC_PER_MSEC;
        if (armed >= SK_TCP_TIMEOUT_INIT && armed - SK_TCP_TIMEOUT_INIT <= s->now) {
            t->xflags |= SK_X_RTT_PENDING;
            t->rtt_seq = req->iss + 1;
            t->rtt_start = (uint32_t)((armed - SK_TCP_TIMEOUT_INIT) / SK_NSEC_PER_USEC);
        }
    }
    t->state = SK_TCP_SYN_RECV; /* the request's state, already reported */
    /* tcp_v4_syn_recv_sock's tcp_sync_mss(dst_mtu): the child sends at
     * the path MTU cached for its peer (pmtu.c). */
    sk_pmtu_conn_init(s, t);
    t->parent = l;
    sk_conn_hash(s, t);
    sk_port_ref(s, t);
    sk_count(s, SK_C_TCP_PASSIVE_OPENS);
    return t;
}

/* Onto the accept queue, then the ACK (and any data or FIN riding with
 * it — a lost final ACK heals on the first data segment) is processed by
 * the child as any segment in SYN_RCVD. */
static void enqueue_child(sk_stack *s, sk_tcb *l, sk_tcb *child, const sk_segment *seg)
{
    sk_listen_queue *q = l->listen;
    if (q->aq_tail)
        q->aq_tail->aq_next = child;
    else
        q->aq_head = child;
    q->aq_tail = child;
    q->aq_len++;
    sk_tcb_input(s, child, seg);
    sk_notify(s, l);
}

/* Linux's tcp_fastopen_create_child(): a full socket from the SYN alone,
 * with the SYN's data in its receive queue, straight onto the accept
 * queue in SYN_RECV.  Its SYN-ACK is retransmitted by its own timer, and
 * it may send before the handshake's ACK (RFC 7413 §4.2.2). */
static sk_tcb *fastopen_child(sk_stack *s, sk_tcb *l, sk_request *req, const sk_segment *seg)
{
    if (accept_queue_full(l->listen))
        return NULL;
    uint32_t rcv_wnd, clamp;
    req_init_rwin(s, l, req, &rcv_wnd, &clamp);
    sk_tcb *t = create_child(s, l, req, rcv_wnd, clamp);
    if (!t)
        return NULL;
    emit_req_state(s, req, SK_TCP_LISTEN, SK_TCP_SYN_RECV, SK_CAUSE_RCV_SYN_FASTOPEN);
    t->tfo |= SK_TFO_CHILD;
    /* tcp_create_openreq_child: SND.UNA is past the SYN-ACK already. */
    t->snd_una = t->snd_nxt = req->iss + 1;
    /* RFC 7323 §2.2: a SYN's window is never scaled. */
    t->snd_wnd = seg->window;
    t->max_window = t->snd_wnd;
    t->snd_wl1 = seg->seq;
    t->snd_wl2 = t->snd_una;
    t->xflags &= ~SK_X_RTT_PENDING;
    sk_init_transfer(s, t);
    t->segs_in = 1;
    if (seg->payload_len) {
        /* tcp_fastopen_add_skb */
        uint32_t n = sk_ring_reserve(s, &t->rcvq, (uint32_t)seg->payload_len)
                         ? sk_ring_write(&t->rcvq, seg->payload, (uint32_t)seg->payload_len)
                         : 0;
        /* the SYN's skb is charged to the child's receive memory */
        if (n)
            sk_rcvq_charge(t, sk_rcv_truesize((uint32_t)seg->payload_len));
        t->rcv_nxt += (uint32_t)n;
        t->rcv_wup = t->rcv_nxt;
        t->bytes_received = n;
        t->data_segs_in = 1;
        t->tfo |= SK_TFO_SYN_DATA_ACKED;
    }
    if (seg->flags & SK_TH_FIN) {
        t->rcv_nxt++;
        t->rcv_wup = t->rcv_nxt;
        t->sflags |= SK_S_FIN_RCVD;
        sk_tcb_set_state(s, t, SK_TCP_CLOSE_WAIT, SK_CAUSE_RCV_FIN_FASTOPEN_SYN);
    }
    /* The SYN-ACK's retransmission timer: TCP_TIMEOUT_INIT, as a request. */
    t->rto_at = s->now + SK_TCP_TIMEOUT_INIT;
    sk_listen_queue *q = l->listen;
    if (q->aq_tail)
        q->aq_tail->aq_next = t;
    else
        q->aq_head = t;
    q->aq_tail = t;
    q->aq_len++;
    return t;
}

static void request_input(sk_stack *s, sk_tcb *l, sk_request *req, const sk_segment *seg)
{
    uint16_t flg = seg->flags & (SK_TH_SYN | SK_TH_ACK | SK_TH_RST | SK_TH_FIN);
    /* PAWS against the SYN's timestamp (RFC 7323 §5). */
    bool paws_reject = (req->opts & SK_REQ_TS) && seg->opts.has_ts &&
                       (int32_t)(req->ts_recent - seg->opts.ts_val) > 1;

    /* A retransmitted SYN: the SYN-ACK was lost; send it again. */
    if (seg->seq == req->irs && flg == SK_TH_SYN && !paws_reject) {
        /* inet_rtx_syn_ack -> tcp_rtx_synack: a SYN retransmission. */
        sk_count(s, SK_C_TCP_RETRANS_SEGS);
        sk_count(s, SK_C_TCPEXT_TCP_SYN_RETRANS);
        send_synack(s, req);
        return;
    }
    /* An ACK that does not acknowledge our SYN-ACK: RST (the listener
     * answers as for a segment with no connection). */
    if ((flg & SK_TH_ACK) && seg->ack != req->iss + 1) {
        sk_reply_rst(s, seg);
        return;
    }
    uint32_t rcv_wnd, clamp;
    req_init_rwin(s, l, req, &rcv_wnd, &clamp);
    uint32_t rcv_nxt = req->irs + 1;
    uint32_t end = seg->seq + (uint32_t)seg->payload_len + !!(seg->flags & SK_TH_SYN) + !!(seg->flags & SK_TH_FIN);
    bool in_window = seq_geq(end, rcv_nxt) && seq_leq(seg->seq, rcv_nxt + rcv_wnd);
    if (paws_reject || !in_window) {
        if (!(flg & SK_TH_RST)) {
            /* Out of window: re-ACK (Linux's req->rsk_ops->send_ack). */
            sk_out_opts o = {.ts = (req->opts & SK_REQ_TS) != 0, .ts_ecr = req->ts_recent};
            if (o.ts)
                o.ts_val = sk_tcp_time_ms(s) + req_ts_off(s, req);
            uint8_t opts[SK_TCP_OPT_MAX];
            size_t optlen = sk_build_options(&o, opts);
            sk_key k = req_key(s, req);
            sk_route rt;
            sk_route_key(s, &k, &rt);
            uint32_t win = rcv_wnd >> req->rcv_wscale;
            sk_segment_spec spec = {.sport = k.lport, .dport = req->rport, .seq = req->iss + 1,
                                    .ack = rcv_nxt, .flags = SK_TH_ACK,
                                    .window = (uint16_t)(win < 65535u ? win : 65535u), .options = opts,
                                    .options_len = optlen};
            sk_xmit(s, &rt, &spec);
        }
        if (paws_reject)
            sk_count(s, SK_C_TCPEXT_PAWS_ESTAB);
        return;
    }
    if (flg & (SK_TH_RST | SK_TH_SYN)) {
        /* Embryonic reset: the request goes away (RFC 9293: SYN_RCVD from
         * a passive open returns to LISTEN). */
        sk_count(s, SK_C_TCP_ATTEMPT_FAILS);
        if (!(flg & SK_TH_RST))
            sk_reply_rst(s, seg);
        sk_count(s, SK_C_TCPEXT_EMBRYONIC_RSTS);
        req_drop(s, req, (flg & SK_TH_RST) ? SK_CAUSE_RCV_RST : SK_CAUSE_RCV_SYN_IN_SYN_RECV);
        return;
    }
    if (!(flg & SK_TH_ACK))
        return;

    sk_listen_queue *q = l->listen;
    if (accept_queue_full(q)) {
        /* Linux drops the final ACK and keeps the request, so the
         * SYN-ACK is retransmitted and the client's next ACK may find room;
         * tcp_abort_on_overflow = 1 resets instead. */
        sk_count(s, SK_C_TCPEXT_LISTEN_OVERFLOWS);
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        sk_emit_drop(s, seg, SK_C_TCPEXT_LISTEN_OVERFLOWS);
        if (s->cfg.tcp_abort_on_overflow) {
            /* tcp_check_req() falls through to embryonic_reset. */
            sk_reply_rst(s, seg);
            sk_count(s, SK_C_TCPEXT_EMBRYONIC_RSTS);
            req_drop(s, req, SK_CAUSE_ACCEPT_QUEUE_FULL);
        } else {
            req->opts |= SK_REQ_ACKED;
        }
        return;
    }
    sk_tcb *child = create_child(s, l, req, rcv_wnd, clamp);
    req_unlink(s, q, req);
    req_free(s, req);
    if (!child) {
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        return;
    }
    enqueue_child(s, l, child, seg);
}

/* Linux's cookie_v4_check(): an ACK matching no request may complete a
 * handshake whose SYN-ACK carried a cookie.  Returns false when the
 * segment is no valid cookie ACK, so the caller answers as LISTEN does. */
static bool cookie_ack_key(sk_stack *s, sk_tcb *l, const sk_segment *seg, const sk_key *k);

static bool cookie_ack(sk_stack *s, sk_tcb *l, const sk_segment *seg)
{
    sk_key k;
    if (!sk_seg_key_intern(s, seg, &k)) {
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        return true;
    }
    bool r = cookie_ack_key(s, l, seg, &k);
    sk_key_put(s, &k);
    return r;
}

static bool cookie_ack_key(sk_stack *s, sk_tcb *l, const sk_segment *seg, const sk_key *k)
{
    sk_cookie_tuple tuple = cookie_tuple(s, l, seg);
    uint16_t mss = sk_syncookie_check(s->cookie_key, &tuple, seg->ack - 1, seg->seq - 1, s->now);
    if (!mss) {
        sk_count(s, SK_C_TCPEXT_SYNCOOKIES_FAILED);
        return false;
    }
    sk_count(s, SK_C_TCPEXT_SYNCOOKIES_RECV);

    sk_request_foreign rf;
    memset(&rf, 0, sizeof rf);
    sk_request *req = &rf.req; /* the larger record: the address may be non-local */
    req_set_local(s, l, req, k);
    req->raddr = k->raddr;
    req->rport = seg->sport;
    req->iss = seg->ack - 1;
    req->irs = seg->seq - 1;
    req->mss = mss;
    req->opts = REQ_COOKIE | (k->v6 ? SK_REQ_V6 : 0);
    if (seg->opts.has_ts) {
        /* cookie_timestamp_decode(): the echoed TSval holds the options;
         * refused when the sysctls have since turned them off. */
        if (!s->cfg.tcp_timestamps)
            return false;
        sk_cookie_opts co;
        uint32_t ecr = seg->opts.ts_ecr;
        if (ecr)
            ecr -= sk_key_ts_off(s, k);
        sk_syncookie_ts_decode(ecr, &co);
        if (co.sack_ok && !s->cfg.tcp_sack)
            return false;
        if (co.wscale_ok && !s->cfg.tcp_window_scaling)
            return false;
        req->opts |= SK_REQ_TS;
        /* Linux takes ts_recent from this ACK: the SYN's TSval is gone. */
        req->ts_recent = seg->opts.ts_val;
        if (co.sack_ok)
            req->opts |= SK_REQ_SACK;
        if (co.ecn_ok && s->cfg.tcp_ecn)
            req->opts |= SK_REQ_ECN; /* cookie_ecn_ok() */
        if (co.wscale_ok) {
            req->opts |= SK_REQ_WS;
            req->snd_wscale = co.snd_wscale;
        }
    }

    sk_listen_queue *q = l->listen;
    if (accept_queue_full(q)) {
        /* tcp_v4_syn_recv_sock()'s exit_overflow: nothing to retransmit
         * from, so the ACK is dropped silently; the client's next segment
         * carries the same cookie and may find room. */
        sk_count(s, SK_C_TCPEXT_LISTEN_OVERFLOWS);
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        sk_emit_drop(s, seg, SK_C_TCPEXT_LISTEN_OVERFLOWS);
        return true;
    }
    uint32_t rcv_wnd, clamp;
    req_init_rwin(s, l, req, &rcv_wnd, &clamp);
    sk_tcb *child = create_child(s, l, req, rcv_wnd, clamp);
    if (!child) {
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        return true;
    }
    emit_req_state(s, req, SK_TCP_LISTEN, SK_TCP_SYN_RECV, SK_CAUSE_RCV_ACK_SYNCOOKIE);
    /* The echoed TSval is a cookie, not a send time: no RTT sample from
     * it (Linux's cookie request has no snt_synack). */
    sk_segment ack = *seg;
    ack.opts.ts_ecr = 0;
    enqueue_child(s, l, child, &ack);
    return true;
}

void sk_listen_input(sk_stack *s, sk_tcb *l, const sk_segment *seg)
{
    sk_listen_queue *q = l->listen;
    sk_key k;
    sk_request *req = sk_seg_key(s, seg, &k) ? req_lookup(s, q, &k) : NULL;
    if (req) {
        request_input(s, l, req, seg);
        return;
    }
    /* RFC 9293 §3.10.7.2, LISTEN: ignore RST; RST any ACK; take a SYN. */
    if (seg->flags & SK_TH_RST)
        return;
    if (seg->flags & SK_TH_ACK) {
        /* Cookies are checked whenever they may be in use; Linux also
         * requires the listener to have overflowed within two minutes
         * (tcp_synq_no_recent_overflow). */
        if (!(seg->flags & SK_TH_SYN) && s->cfg.tcp_syncookies && cookie_ack(s, l, seg))
            return;
        sk_reply_rst(s, seg);
        return;
    }
    if (seg->flags & SK_TH_SYN) {
        conn_request(s, l, seg);
        return;
    }
    sk_count(s, SK_C_SYNACK_BAD_SEGMENT);
}

/* close() of a listener: half-open requests vanish; connections nobody
 * accepted are reset (Linux's inet_csk_listen_stop). */
void sk_listen_destroy(sk_stack *s, sk_tcb *l)
{
    sk_listen_queue *q = l->listen;
    if (!q)
        return;
    for (uint32_t b = 0; b <= q->syn_mask; b++) {
        while (q->syn_buckets[b]) {
            sk_request *req = q->syn_buckets[b];
            req_drop(s, req, SK_CAUSE_LISTENER_CLOSED);
        }
    }
    while (q->aq_head) {
        sk_tcb *child = q->aq_head;
        q->aq_head = child->aq_next;
        q->aq_len--;
        child->aq_next = NULL;
        child->parent = NULL;
        if (child->state == SK_TCP_CLOSE) {
            sk_tcb_free(s, child); /* died before accept() (sk_tcb_done) */
            continue;
        }
        sk_send_active_rst(s, child);
        sk_tcb_done(s, child, SK_CAUSE_LISTENER_CLOSED);
    }
    q->aq_tail = NULL;
    sk_free(s, q->syn_buckets);
    sk_free(s, q);
    l->listen = NULL;
}

/* Linux's tcp_req_err: ICMPs are not queued behind the listener, so a
 * request sock answers them at once.  The quoted sequence must be the
 * SYN-ACK's exactly; an error saying the peer cannot be reached drops the
 * request silently (POSIX wants no network errors from accept()), as a
 * listen drop. */
/* One with IP_TRANSPARENT on the destination port (bound to the wildcard
 * or to that very address), as a Linux listener gets what
 * `iptables -j TPROXY --on-port <its port>` diverts to it; else the
 * catch-all of sk_stack_set_tproxy, which stands for a TPROXY rule
 * without --dport.  Linux's nf_tproxy_get_sock_v4 hands over only a
 * transparent listener. */
sk_tcb *sk_listen_nonlocal(sk_stack *s, bool v6, uint32_t daddr, uint16_t dport)
{
    sk_tcb *l = sk_listener_lookup(s, v6, daddr, dport);
    if (l && l->transparent)
        return l;
    if (s->tproxy_port && s->tproxy_port != dport) {
        l = sk_listener_lookup(s, v6, daddr, s->tproxy_port);
        if (l && l->transparent)
            return l;
    }
    return NULL;
}

bool sk_listen_icmp_err(sk_stack *s, sk_tcb *l, const sk_key *k, uint32_t seq, bool abort)
{
    sk_listen_queue *q = l->listen;
    sk_request *req = q && q->syn_buckets ? req_lookup(s, q, k) : NULL;
    if (!req)
        return false;
    if (seq != req->iss) {
        sk_count(s, SK_C_TCPEXT_OUT_OF_WINDOW_ICMPS);
    } else if (abort) {
        sk_count(s, SK_C_TCPEXT_LISTEN_DROPS);
        req_drop(s, req, SK_CAUSE_ICMP_ERROR_SYNACK);
    }
    return true;
}

void sk_listen_addr_removed(sk_stack *s, uint32_t idx)
{
    for (size_t b = 0; b < 64; b++) {
        for (sk_tcb *l = s->listeners[b]; l; l = l->hnext) {
            sk_listen_queue *q = l->listen;
            for (uint32_t k = 0; q && k <= q->syn_mask; k++) {
                sk_request *r = q->syn_buckets[k];
                while (r) {
                    sk_request *next = r->hnext;
                    if (r->lidx == SK_LIDX_FOREIGN)
                        ; /* a non-local address: not the stack's to remove */
                    else if (r->lidx == idx)
                        req_drop(s, r, SK_CAUSE_ADDRESS_REMOVED);
                    else if (r->lidx > idx)
                        r->lidx--;
                    r = next;
                }
            }
        }
    }
}
