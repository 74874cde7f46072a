/*
 * TIME_WAIT, and orphaned FIN_WAIT_2, as compact records (Linux's
 * tcp_timewait_sock): a connection that only has to answer late segments
 * keeps its tuple, sequence numbers and timestamps — 44 bytes in chunks
 * indexed by 32-bit handles — instead of a full TCB.
 *
 * Every record of a substate lives equally long (TIME_WAIT: 60 s, Linux's
 * TCP_TIMEWAIT_LEN; FIN_WAIT_2: tcp_fin_timeout), so expiry is a FIFO per
 * substate rather than a timer each: O(1) to arm, re-arm and expire, no
 * memory per record for a timer.
 *
 * Segment processing follows Linux's tcp_timewait_state_process().
 */

#include "timewait.h"
#include "addr.h"
#include "events.h"
#include "output.h"
#include "stack.h"
#include "tables.h"

enum { Q_TW = 0, Q_FW2 = 1 };

static inline int qidx(const sk_tw *w) { return w->substate == SK_TCP_TIME_WAIT ? Q_TW : Q_FW2; }

/* The local address is left out, as in the connection table: IPv4
 * records hash as they did when the stack had one address. */
static inline uint32_t tw_hash(uint32_t raddr, uint16_t rport, uint16_t lport, bool v6)
{
    uint64_t k = ((uint64_t)(raddr ^ (v6 ? 0x6a09e667u : 0)) << 32) | ((uint32_t)rport << 16) | lport;
    k *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(k >> 29);
}

static inline uint32_t tw_hash_w(const sk_tw *w) { return tw_hash(w->raddr, w->rport, w->lport, w->v6); }

static void fill_none(uint32_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = SK_TW_NONE;
}

static sk_key tw_key(const sk_tw *w)
{
    return (sk_key){.laddr = w->laddr, .raddr = w->raddr, .lport = w->lport, .rport = w->rport, .v6 = w->v6};
}

int sk_tw_init(const sk_stack *s, sk_tw_table *tw)
{
    memset(tw, 0, sizeof(*tw));
    tw->mask = 255;
    tw->buckets = sk_malloc(s, sizeof(uint32_t) * (tw->mask + 1));
    if (!tw->buckets)
        return -ENOMEM;
    fill_none(tw->buckets, (size_t)tw->mask + 1);
    tw->free_head = SK_TW_NONE;
    tw->q_head[0] = tw->q_head[1] = tw->q_tail[0] = tw->q_tail[1] = SK_TW_NONE;
    return 0;
}

void sk_tw_destroy(const sk_stack *s, sk_tw_table *tw)
{
    for (uint32_t c = 0; c < tw->nchunks; c++)
        sk_free(s, tw->chunks[c]);
    sk_free(s, tw->chunks);
    sk_free(s, tw->buckets);
    memset(tw, 0, sizeof(*tw));
}

static uint32_t now_ms(const sk_stack *s) { return (uint32_t)((s->now - s->epoch) / SK_NSEC_PER_MSEC); }

static bool tw_grow_buckets(const sk_stack *s, sk_tw_table *tw)
{
    uint32_t nmask = tw->mask * 2 + 1;
    uint32_t *nb = sk_malloc(s, sizeof(uint32_t) * ((size_t)nmask + 1));
    if (!nb)
        return false;
    fill_none(nb, (size_t)nmask + 1);
    for (uint32_t b = 0; b <= tw->mask; b++) {
        uint32_t i = tw->buckets[b];
        while (i != SK_TW_NONE) {
            sk_tw *w = sk_tw_at(tw, i);
            uint32_t next = w->hnext;
            uint32_t h = tw_hash_w(w) & nmask;
            w->hnext = nb[h];
            nb[h] = i;
            i = next;
        }
    }
    sk_free(s, tw->buckets);
    tw->buckets = nb;
    tw->mask = nmask;
    return true;
}

static uint32_t tw_alloc(const sk_stack *s, sk_tw_table *tw)
{
    if (tw->free_head == SK_TW_NONE) {
        /* Indices are 24 bits, SK_TW_NONE the largest. */
        if (((tw->nchunks + 1) << SK_TW_CHUNK_BITS) > SK_TW_NONE)
            return SK_TW_NONE;
        if (tw->nchunks == tw->chunks_cap) {
            uint32_t ncap = tw->chunks_cap ? tw->chunks_cap * 2 : 4;
            sk_tw **nc = sk_realloc(s, tw->chunks, sizeof(*nc) * ncap);
            if (!nc)
                return SK_TW_NONE;
            tw->chunks = nc;
            tw->chunks_cap = ncap;
        }
        sk_tw *chunk = sk_malloc(s, sizeof(sk_tw) * SK_TW_CHUNK);
        if (!chunk)
            return SK_TW_NONE;
        uint32_t base = tw->nchunks << SK_TW_CHUNK_BITS;
        tw->chunks[tw->nchunks++] = chunk;
        for (uint32_t k = SK_TW_CHUNK; k-- > 0;) {
            chunk[k].hnext = tw->free_head;
            chunk[k].substate = 0;
            tw->free_head = base + k;
        }
    }
    /* Two records per hash head on average keep the heads at ~2 bytes a
     * record while chains stay short. */
    if (tw->count > 2 * (tw->mask + 1) && !tw_grow_buckets(s, tw) && tw->count > 8 * tw->mask)
        return SK_TW_NONE;
    uint32_t i = tw->free_head;
    tw->free_head = sk_tw_at(tw, i)->hnext;
    tw->count++;
    return i;
}

static void q_unlink(sk_tw_table *tw, uint32_t i)
{
    sk_tw *w = sk_tw_at(tw, i);
    int q = qidx(w);
    if (w->qprev != SK_TW_NONE)
        (*sk_tw_at(tw, w->qprev)).qnext = w->qnext;
    else
        tw->q_head[q] = w->qnext;
    if (w->qnext != SK_TW_NONE)
        (*sk_tw_at(tw, w->qnext)).qprev = w->qprev;
    else
        tw->q_tail[q] = w->qprev;
    w->qprev = w->qnext = SK_TW_NONE;
}

static void q_append(sk_tw_table *tw, uint32_t i)
{
    sk_tw *w = sk_tw_at(tw, i);
    int q = qidx(w);
    w->qnext = SK_TW_NONE;
    w->qprev = tw->q_tail[q];
    if (tw->q_tail[q] != SK_TW_NONE)
        (*sk_tw_at(tw, tw->q_tail[q])).qnext = i;
    else
        tw->q_head[q] = i;
    tw->q_tail[q] = i;
}

/* A record's expiry `timeout` from now; the caller puts it at the back
 * of its FIFO. */
static void tw_set_expiry(sk_stack *s, sk_tw *w, sk_time_ns timeout)
{
    w->expires_ms = now_ms(s) + (uint32_t)((timeout + SK_NSEC_PER_MSEC - 1) / SK_NSEC_PER_MSEC);
    if (timeout == 0)
        sk_advance_soon(s); /* due now: the next sk_advance expires it */
}

/* Restarts a queued record's lifetime: to the back of its FIFO. */
static void tw_schedule(sk_stack *s, uint32_t i, sk_time_ns timeout)
{
    q_unlink(&s->tw, i);
    tw_set_expiry(s, sk_tw_at(&s->tw, i), timeout);
    q_append(&s->tw, i);
}

static void emit_tw_state(sk_stack *s, const sk_tw *w, int from, int to, sk_state_cause cause)
{
    if (!sk_wants(s, SK_EV_STATE))
        return;
    sk_event ev = {.type = SK_EV_STATE, .now = s->now, .fd = -1, .from_state = from, .to_state = to,
                   .cause = sk_cause_text[cause], .state_cause = cause};
    sk_ep_addrs e = {.laddr = w->laddr, .raddr = w->raddr, .lport = w->lport, .rport = w->rport, .v6 = w->v6,
                     .mapped = w->sock6};
    sk_event_ep(&ev, SK_EPK_ADDRS, s, &e);
    sk_emit(s, &ev);
}

void sk_time_wait(sk_stack *s, sk_tcb *t, int substate, sk_time_ns timeout)
{
    int from = t->state;
    uint32_t i = SK_TW_NONE;
    if (s->tw.count >= (uint32_t)s->cfg.tcp_max_tw_buckets) {
        /* Linux: with tcp_max_tw_buckets reached the connection simply
         * closes, counted as TCPTimeWaitOverflow. */
        sk_count(s, SK_C_TCPEXT_TCP_TIME_WAIT_OVERFLOW);
    } else {
        i = tw_alloc(s, &s->tw);
        if (i == SK_TW_NONE)
            sk_count(s, SK_C_TCPEXT_TCP_TIME_WAIT_OVERFLOW);
    }
    if (i != SK_TW_NONE) {
        sk_tw *w = sk_tw_at(&s->tw, i);
        memset(w, 0, sizeof(*w));
        w->laddr = t->laddr;
        w->raddr = t->raddr;
        w->v6 = t->af6;
        w->sock6 = t->sock6;
        /* What inet_csk_bind_conflict asks of a timewait socket. */
        w->reuse = (t->sopts & SK_O_REUSEADDR) != 0;
        w->v6only = t->sock6 && (t->sndstate & SK_SOCK_V6ONLY) != 0;
        sk_addr_hold(s, w->v6, w->laddr);
        sk_addr_hold(s, w->v6, w->raddr);
        w->lport = t->lport;
        w->rport = t->rport;
        w->snd_nxt = t->snd_nxt;
        w->rcv_nxt = t->rcv_nxt;
        w->ts_ok = (t->negot & SK_N_TS_OK) != 0;
        w->ts_recent = t->ts_recent;
        w->ts_recent_stamp_s = w->ts_ok ? t->ts_recent_stamp_s : 0;
        uint32_t win = t->rcv_wup + t->rcv_wnd - t->rcv_nxt;
        if ((int32_t)win < 0)
            win = 0;
        win >>= t->rcv_wscale;
        sk_tw_set_rcv_wnd(w, (uint16_t)(win > 65535 ? 65535 : win));
        w->substate = (uint8_t)substate;
        w->qprev = w->qnext = SK_TW_NONE;
        uint32_t h = tw_hash_w(w) & s->tw.mask;
        w->hnext = s->tw.buckets[h];
        s->tw.buckets[h] = i;
        tw_set_expiry(s, w, timeout);
        q_append(&s->tw, i);
        /* Linux counts a timewait socket once, when it is first scheduled
         * (__inet_twsk_schedule): TWKilled if its timeout is 4 s or less
         * (a short FIN_WAIT_2 linger), else TW.  Not when it ends, and not
         * again when a FIN or ACK restarts its 60 s. */
        sk_count(s, timeout <= SK_SEC(4) ? SK_C_TCPEXT_TW_KILLED : SK_C_TCPEXT_TW);
        sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, true);
        if (b)
            b->tw++;
    }

    /* The full TCB goes.  Its handle, if the application still has one,
     * now refers to a CLOSED socket, as in Linux after tcp_time_wait(). */
    if (substate != from)
        sk_emit_state(s, t, from, substate, substate == SK_TCP_TIME_WAIT ? SK_CAUSE_RCV_FIN : SK_CAUSE_ORPHANED);
    if (from == SK_TCP_ESTABLISHED || from == SK_TCP_CLOSE_WAIT) {
        if (s->counters[SK_C_TCP_CURR_ESTAB])
            s->counters[SK_C_TCP_CURR_ESTAB]--;
    }
    sk_conn_unhash(s, t);
    sk_wheel_del(&s->tcb_wheel, &t->timer);
    t->rto_at = t->delack_at = t->keepalive_at = 0;
    t->state = SK_TCP_CLOSE;
    if (i == SK_TW_NONE)
        emit_tw_state(s,
                      &(sk_tw){.laddr = t->laddr, .raddr = t->raddr, .lport = t->lport, .rport = t->rport,
                               .v6 = t->af6, .sock6 = t->sock6},
                      substate, SK_TCP_CLOSE, SK_CAUSE_TW_BUCKETS_FULL);
    if (t->fd < 0) {
        sk_tcb_free(s, t);
    } else {
        if (!(t->sflags & SK_S_USER_BOUND))
            sk_port_unref(s, t);
        sk_notify(s, t);
    }
}

uint32_t sk_tw_lookup(sk_stack *s, const sk_key *k)
{
    uint32_t i = s->tw.buckets[tw_hash(k->raddr, k->rport, k->lport, k->v6) & s->tw.mask];
    while (i != SK_TW_NONE) {
        const sk_tw *w = sk_tw_at(&s->tw, i);
        if (sk_key_eq(k, w->laddr, w->raddr, w->lport, w->rport, w->v6))
            return i;
        i = w->hnext;
    }
    return SK_TW_NONE;
}

void sk_tw_kill(sk_stack *s, uint32_t i, bool emit)
{
    sk_tw *w = sk_tw_at(&s->tw, i);
    uint32_t h = tw_hash_w(w) & s->tw.mask;
    if (s->tw.buckets[h] == i) {
        s->tw.buckets[h] = w->hnext;
    } else {
        uint32_t j = s->tw.buckets[h];
        while (j != SK_TW_NONE && sk_tw_at(&s->tw, j)->hnext != i)
            j = sk_tw_at(&s->tw, j)->hnext;
        if (j != SK_TW_NONE)
            sk_tw_at(&s->tw, j)->hnext = w->hnext;
    }
    q_unlink(&s->tw, i);
    sk_bind_bucket *b = sk_bind_bucket_get(s, w->lport, false);
    if (b && b->tw) {
        b->tw--;
        sk_bind_bucket_release(s, b);
    }
    if (emit)
        emit_tw_state(s, w, w->substate, SK_TCP_CLOSE, SK_CAUSE_TIMER_EXPIRED);
    sk_addr_put(s, w->v6, w->laddr);
    sk_addr_put(s, w->v6, w->raddr);
    w->laddr = w->raddr = 0;
    w->substate = 0;
    w->hnext = s->tw.free_head;
    s->tw.free_head = i;
    s->tw.count--;
}

void sk_tw_expire(sk_stack *s)
{
    uint32_t now = now_ms(s);
    for (int q = 0; q < 2; q++) {
        while (s->tw.q_head[q] != SK_TW_NONE) {
            uint32_t i = s->tw.q_head[q];
            sk_tw *w = sk_tw_at(&s->tw, i);
            if ((int32_t)(w->expires_ms - now) > 0)
                break;
            sk_key k = tw_key(w);
            sk_emit_timer(s, &k, -1, "timewait");
            sk_tw_kill(s, i, true);
        }
    }
}

/* Linux's inet_csk_bind_conflict for the timewait sockets in a port's
 * bind bucket: one conflicts when its address overlaps the candidate's
 * (inet_rcv_saddr_equal with wildcards) unless both set SO_REUSEADDR
 * (a timewait socket never listens).  A record of a pure IPv6
 * connection has 127.0.0.6 (LOOPBACK4_IPV6) as its IPv4 address there,
 * so an IPv4 wildcard meets it unless it was IPV6_V6ONLY; one of an
 * IPv4 connection (an AF_INET6 socket's mapped address included) meets
 * an IPv6 "::" that is not V6ONLY.  The records are not chained by port
 * (that would cost 8 bytes each), so the expiry FIFOs are walked until
 * the bucket's `count` records of the port were seen. */
bool sk_tw_bind_conflict(const sk_stack *s, uint16_t port, uint32_t count, bool v6, bool v6only, uint32_t a,
                         bool reuse)
{
    for (int q = 0; q < 2 && count; q++) {
        for (uint32_t i = s->tw.q_head[q]; i != SK_TW_NONE && count;) {
            const sk_tw *w = sk_tw_at(&s->tw, i);
            i = w->qnext;
            if (w->lport != port)
                continue;
            count--;
            if (reuse && w->reuse)
                continue;
            bool overlap;
            if (w->v6)
                overlap = v6 ? (!a || a == w->laddr) : (!a && !w->v6only);
            else
                overlap = v6 ? (!a && !v6only) : (!a || a == w->laddr);
            if (overlap)
                return true;
        }
    }
    return false;
}

sk_time_ns sk_tw_next_deadline(const sk_stack *s)
{
    sk_time_ns best = SK_TIME_NEVER;
    for (int q = 0; q < 2; q++) {
        uint32_t i = s->tw.q_head[q];
        if (i == SK_TW_NONE)
            continue;
        sk_time_ns t = s->epoch + (sk_time_ns)sk_tw_at(&s->tw, i)->expires_ms * SK_NSEC_PER_MSEC;
        if (t < best)
            best = t;
    }
    return best;
}

static void tw_send_ack(sk_stack *s, const sk_tw *w)
{
    sk_key k = tw_key(w);
    uint32_t ts_off = w->ts_ok ? sk_key_ts_off(s, &k) : 0;
    sk_out_opts o = {.ts = w->ts_ok != 0, .ts_val = sk_tcp_time_ms(s) + ts_off, .ts_ecr = w->ts_recent};
    uint8_t opts[SK_TCP_OPT_MAX];
    size_t optlen = sk_build_options(&o, opts);
    sk_route rt;
    sk_route_key(s, &k, &rt);
    sk_segment_spec spec = {.sport = w->lport, .dport = w->rport, .seq = w->snd_nxt, .ack = w->rcv_nxt,
                            .flags = SK_TH_ACK, .window = sk_tw_rcv_wnd(w), .options = opts,
                            .options_len = optlen};
    sk_xmit(s, &rt, &spec);
}

bool sk_tw_input(sk_stack *s, uint32_t i, const sk_segment *seg)
{
    sk_tw *w = sk_tw_at(&s->tw, i);
    uint32_t end = seg->seq + (uint32_t)seg->payload_len + !!(seg->flags & SK_TH_SYN) + !!(seg->flags & SK_TH_FIN);
    bool rst = (seg->flags & SK_TH_RST) != 0, syn = (seg->flags & SK_TH_SYN) != 0;
    bool ack = (seg->flags & SK_TH_ACK) != 0, fin = (seg->flags & SK_TH_FIN) != 0;

    if (w->substate == SK_TCP_FIN_WAIT2) {
        if (rst) {
            sk_tw_kill(s, i, true);
            return false;
        }
        if (syn && !seq_lt(seg->seq, w->rcv_nxt))
            goto reset;
        /* A duplicate or pure ACK changes nothing. */
        if (!ack || !seq_gt(end, w->rcv_nxt) || end == seg->seq)
            return false;
        /* New data after our half of the close, or anything but the exact
         * FIN: reset (RFC 1122 §4.2.2.13). */
        if (!fin || end != w->rcv_nxt + 1)
            goto reset; /* TCP_TW_RST: Linux counts no TCPAbortOnData here */
        /* The peer's FIN: a true TIME_WAIT now. */
        q_unlink(&s->tw, i);
        w->substate = SK_TCP_TIME_WAIT;
        w->rcv_nxt = end;
        if (w->ts_ok && seg->opts.has_ts) {
            w->ts_recent = seg->opts.ts_val;
            w->ts_recent_stamp_s = (uint32_t)(s->now / SK_NSEC_PER_SEC);
        }
        emit_tw_state(s, w, SK_TCP_FIN_WAIT2, SK_TCP_TIME_WAIT, SK_CAUSE_RCV_FIN);
        tw_set_expiry(s, w, SK_TCP_TIMEWAIT_LEN);
        q_append(&s->tw, i);
        tw_send_ack(s, w);
        return false;
    }

    /* TIME_WAIT proper (RFC 9293 §3.10.7.4 and RFC 1337). */
    bool paws_reject = w->ts_ok && seg->opts.has_ts && w->ts_recent &&
                       (int32_t)(w->ts_recent - seg->opts.ts_val) > 1 && !rst;
    if (!paws_reject && seg->seq == w->rcv_nxt && (seg->seq == end || rst)) {
        if (rst) {
            /* TIME_WAIT assassination: Linux lets the RST end the record
             * unless tcp_rfc1337 is set. */
            if (!s->cfg.tcp_rfc1337) {
                sk_tw_kill(s, i, true);
                return false;
            }
        } else {
            tw_schedule(s, i, SK_TCP_TIMEWAIT_LEN);
        }
        if (seg->opts.has_ts && w->ts_ok) {
            w->ts_recent = seg->opts.ts_val;
            w->ts_recent_stamp_s = (uint32_t)(s->now / SK_NSEC_PER_SEC);
        }
        return false;
    }
    /* A new SYN beyond the old connection (by sequence or timestamp) may
     * reopen the tuple: the record goes and the listener takes the SYN,
     * with an ISN safely above the old one (RFC 9293 §3.10.7.4 note). */
    if (syn && !rst && !ack && !paws_reject &&
        (seq_gt(seg->seq, w->rcv_nxt) ||
         (w->ts_ok && seg->opts.has_ts && (int32_t)(w->ts_recent - seg->opts.ts_val) < 0))) {
        uint32_t isn = w->snd_nxt + 65535 + 2;
        s->tw_isn = isn ? isn : 1;
        sk_tw_kill(s, i, true);
        return true;
    }
    if (paws_reject)
        sk_count(s, SK_C_TCPEXT_PAWS_ESTAB);
    if (!rst) {
        /* Anything else — a retransmitted FIN above all — is ACKed and
         * restarts the 60 s (Linux reschedules on ACK or PAWS reject). */
        if (paws_reject || ack)
            tw_schedule(s, i, SK_TCP_TIMEWAIT_LEN);
        tw_send_ack(s, w);
    }
    return false;

reset:
    sk_reply_rst(s, seg);
    sk_tw_kill(s, i, true);
    return false;
}

/* Linux's tcp_twsk_unique() for tcp_tw_reuse: only with timestamps (so
 * PAWS guards the new connection against old duplicates), and only once
 * the record is older than tcp_tw_reuse_delay.  With 2 (the default) only
 * for loopback. */
bool sk_tw_reusable(sk_stack *s, uint32_t i)
{
    const sk_tw *w = sk_tw_at(&s->tw, i);
    int reuse = s->cfg.tcp_tw_reuse;
    if (reuse == 2) {
        static const uint8_t lo6[16] = {[15] = 1};
        bool loopback = w->v6 ? !memcmp(sk_addr6_get(s, w->raddr), lo6, 16) || !memcmp(sk_addr6_get(s, w->laddr), lo6, 16)
                              : (w->raddr >> 24) == 127 || (w->laddr >> 24) == 127;
        if (!loopback)
            reuse = 0;
    }
    if (!reuse || !w->ts_ok || !w->ts_recent_stamp_s || w->substate != SK_TCP_TIME_WAIT)
        return false;
    /* The record's age, from when its 60 s last (re)started: a record
     * restarted by a late FIN looks younger, which only delays reuse. */
    uint32_t entered = w->expires_ms - (uint32_t)(SK_TCP_TIMEWAIT_LEN / SK_NSEC_PER_MSEC);
    return (int32_t)(now_ms(s) - entered) > s->cfg.tcp_tw_reuse_delay;
}
