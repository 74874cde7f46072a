/* The receive buffer as Linux keeps it: every queued segment (in order
 * or out of order) is charged its skb truesize against sk_rcvbuf
 * (sk_rmem_alloc), the advertised window is derived from what is free
 * (tcp_space, tcp_adv_win_scale), rcv_ssthresh grows as tcp_grow_window
 * grows it, the buffer itself grows with tcp_rcv_space_adjust (dynamic
 * right-sizing, tcp_moderate_rcvbuf), and when memory runs out the queues
 * are collapsed and the out-of-order queue pruned (tcp_prune_queue) before
 * a segment is dropped.
 *
 * synack's in-order queue is a byte ring, so its skbs are not kept: the
 * truesize Linux would charge for them is (sk_tcb.rcvq_truesize), charged
 * per segment on arrival and released in proportion to what is read.
 * Out-of-order segments keep their own truesize (sk_ooo_seg.truesize). */

#include "rcvbuf.h"
#include "eor.h"
#include "stack.h"

/* The per-skb figures of the send side (socket.c) apply here too:
 * kmalloc'd heads rounded to a power of two, sizeof(struct sk_buff) and
 * SKB_DATA_ALIGN(sizeof(struct skb_shared_info)). */
#define RX_SKBUFF 256u
#define RX_SHINFO 320u
#define RX_PAGE 4096u
/* NET_SKB_PAD (64) + NET_IP_ALIGN (2) of headroom, and the IPv4 and TCP
 * headers still in the head when the skb is queued. */
#define RX_HEADROOM 66u
#define RX_HEADERS 40u

/* The smallest power of two at least v (1 for 0 and 1): every segment
 * received pays for one in its truesize, so it counts leading zeros
 * instead of doubling up to it.  The callers' v is at most a page. */
static uint32_t pow2_up(uint32_t v)
{
    return v <= 1 ? 1u : 1u << (32 - __builtin_clz(v - 1));
}

/* The truesize of one received segment as a TUN device (packetdrill's,
 * the interop suite's) builds it in tun_get_user(): a linear kmalloc'd
 * skb while the datagram fits in a page, else a page-sized head and the
 * rest in page fragments.  A 1000-byte segment costs 2304 bytes, which
 * is why Linux's window is half the buffer (tcp_adv_win_scale 1). */
uint32_t sk_rcv_truesize(uint32_t len)
{
    uint32_t data = (len + RX_HEADERS + RX_HEADROOM + 63u) & ~63u;
    if (data + RX_SHINFO <= RX_PAGE)
        return pow2_up(data + RX_SHINFO) + RX_SKBUFF;
    uint32_t in_head = RX_PAGE - RX_SHINFO - RX_HEADROOM - RX_HEADERS;
    uint32_t rest = len - in_head;
    return RX_PAGE + RX_SKBUFF + ((rest + RX_PAGE - 1) / RX_PAGE) * RX_PAGE;
}

/* What tcp_collapse() leaves for `len` bytes: copies into skbs of
 * SKB_MAX_ORDER(0, 0) = one page less the shared info. */
static uint32_t collapsed_truesize(uint32_t len)
{
    const uint32_t per = RX_PAGE - RX_SHINFO;
    uint32_t full = len / per, rem = len % per;
    uint32_t ts = full * (RX_PAGE + RX_SKBUFF);
    if (rem)
        ts += pow2_up(rem + RX_SHINFO) + RX_SKBUFF;
    return ts;
}

uint32_t sk_rmem_alloc(const sk_tcb *t)
{
    uint32_t used = t->rcvq_truesize;
    for (const sk_ooo_seg *o = t->ooo; o; o = o->next)
        used += o->truesize;
    return used;
}

/* Linux's tcp_full_space(). */
uint32_t sk_full_space(const sk_stack *s, const sk_tcb *t) { return sk_win_from_space(s, t->rcvbuf); }

/* Linux's tcp_openreq_init_rwin()/tcp_connect_init(): the clamp the
 * initial window is chosen under.  A locked buffer (SO_RCVBUF) clamps it,
 * and with it the window scale, to what that buffer can ever offer. */
uint32_t sk_rcv_initial_clamp(const sk_stack *s, const sk_tcb *t, uint32_t user_clamp)
{
    uint32_t clamp = user_clamp;
    if (t->sndstate & SK_RCVBUF_LOCK) {
        uint32_t full = sk_full_space(s, t);
        if (!clamp || clamp > full)
            clamp = full;
    }
    return clamp;
}

void sk_rcvq_charge(sk_tcb *t, uint32_t truesize) { t->rcvq_truesize += truesize; }

/* Linux frees an skb once it is read to its end; a byte ring can only
 * release the charge in proportion to the bytes read, and all of it when
 * the queue empties. */
void sk_rcvq_uncharge(sk_tcb *t, uint32_t consumed, uint32_t before)
{
    if (!before || consumed >= before) {
        t->rcvq_truesize = 0;
        return;
    }
    uint32_t part = (uint32_t)((uint64_t)t->rcvq_truesize * consumed / before);
    t->rcvq_truesize -= part;
}

static bool can_ingest(const sk_tcb *t) { return sk_rmem_alloc(t) <= t->rcvbuf; }

/* Linux's tcp_clamp_window(): the queues outgrew the buffer.  A buffer
 * autotuning may still grow is raised to what is held; if that is not
 * enough the window ceiling falls to two segments. */
static void clamp_window(sk_stack *s, sk_tcb *t)
{
    t->quickack = 0;
    uint32_t rmem = sk_rmem_alloc(t);
    uint32_t rmem2 = (uint32_t)s->cfg.tcp_rmem[2];
    if (t->rcvbuf < rmem2 && !(t->sndstate & SK_RCVBUF_LOCK))
        t->rcvbuf = rmem < rmem2 ? (rmem > t->rcvbuf ? rmem : t->rcvbuf) : rmem2;
    if (sk_rmem_alloc(t) > t->rcvbuf) {
        uint32_t two = 2u * t->advmss;
        t->rcv_ssthresh = t->window_clamp < two ? t->window_clamp : two;
    }
}

/* Linux's tcp_collapse_ofo_queue() and tcp_collapse() on the receive
 * queue: the same bytes in page-sized skbs.  Only what shrinks is
 * counted (TCPRcvCollapsed counts the skbs replaced). */
static void collapse_queues(sk_stack *s, sk_tcb *t)
{
    for (sk_ooo_seg *o = t->ooo; o; o = o->next) {
        uint32_t c = collapsed_truesize(o->len);
        if (c < o->truesize) {
            o->truesize = c;
            sk_count(s, SK_C_TCPEXT_TCP_RCV_COLLAPSED);
        }
    }
    if (t->rcvq.len) {
        uint32_t c = collapsed_truesize(t->rcvq.len);
        if (c < t->rcvq_truesize) {
            uint32_t mss = t->rcv_mss ? t->rcv_mss : SK_TCP_MSS_DEFAULT;
            uint32_t skbs = (t->rcvq.len + mss - 1) / mss;
            s->counters[SK_C_TCPEXT_TCP_RCV_COLLAPSED] += skbs;
            t->rcvq_truesize = c;
        }
    }
}

/* Linux's tcp_prune_ofo_queue(): drop out-of-order data from the highest
 * sequence down, never a segment the incoming one would land after, an
 * eighth of the buffer at a time until the queues fit.  Returns whether
 * anything was dropped. */
static bool prune_ofo(sk_stack *s, sk_tcb *t, uint32_t in_seq)
{
    bool pruned = false;
    int64_t goal = t->rcvbuf >> 3;
    while (t->ooo) {
        sk_ooo_seg **last = &t->ooo;
        while ((*last)->next)
            last = &(*last)->next;
        sk_ooo_seg *o = *last;
        if (seq_gt(in_seq, o->seq))
            break;
        *last = NULL;
        goal -= o->truesize;
        sk_free(s, o);
        pruned = true;
        if (!t->ooo || goal <= 0) {
            if (can_ingest(t))
                break;
            goal = t->rcvbuf >> 3;
        }
    }
    if (pruned)
        sk_count(s, SK_C_TCPEXT_OFO_PRUNED);
    return pruned;
}

/* Linux's tcp_prune_queue(): 0 if the queues now fit, -1 if not. */
static int prune_queue(sk_stack *s, sk_tcb *t, uint32_t in_seq)
{
    if (!sk_rmem_alloc(t))
        return -1;
    sk_count(s, SK_C_TCPEXT_PRUNE_CALLED);
    if (sk_rmem_alloc(t) >= t->rcvbuf)
        clamp_window(s, t);
    if (can_ingest(t))
        return 0;
    collapse_queues(s, t);
    if (can_ingest(t))
        return 0;
    prune_ofo(s, t, in_seq);
    if (can_ingest(t))
        return 0;
    sk_count(s, SK_C_TCPEXT_RCV_PRUNED);
    return -1;
}

/* Linux's tcp_try_rmem_schedule(): may a segment of `truesize` be queued?
 * Memory beyond sk_rcvbuf is first won back by collapsing and pruning.
 * (synack has no global TCP memory pool, so sk_rmem_schedule() always
 * succeeds: only the socket's own limit applies.) */
bool sk_rmem_schedule(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len, uint32_t truesize)
{
    (void)len;
    (void)truesize;
    if (can_ingest(t))
        return true;
    return prune_queue(s, t, seq) == 0;
}

/* Linux's __tcp_grow_window(): a segment whose truesize is large for its
 * length may still raise the window once the ceiling is low enough. */
static uint32_t grow_window_slow(const sk_stack *s, const sk_tcb *t, uint32_t len, uint32_t truesize)
{
    uint32_t ts = sk_win_from_space(s, truesize) >> 1;
    uint32_t window = sk_win_from_space(s, (uint32_t)s->cfg.tcp_rmem[2]) >> 1;
    while (t->rcv_ssthresh <= window) {
        if (ts <= len)
            return 2u * (t->rcv_mss ? t->rcv_mss : SK_TCP_MSS_DEFAULT);
        ts >>= 1;
        window >>= 1;
    }
    return 0;
}

/* Linux's tcp_grow_window(): a segment that will fit the buffer at this
 * truesize raises the ceiling rcv_ssthresh by at least twice its length,
 * within the clamp and the free space; the next ACKs go out at once. */
void sk_grow_window(sk_stack *s, sk_tcb *t, uint32_t len, uint32_t truesize)
{
    uint32_t space = sk_receive_space(s, t);
    uint32_t limit = t->window_clamp < space ? t->window_clamp : space;
    if (limit <= t->rcv_ssthresh)
        return;
    uint32_t room = limit - t->rcv_ssthresh;
    uint32_t incr;
    if (sk_win_from_space(s, truesize) <= len)
        incr = 2u * t->advmss;
    else
        incr = grow_window_slow(s, t, len, truesize);
    if (!incr)
        return;
    if (incr < 2u * len)
        incr = 2u * len;
    t->rcv_ssthresh += incr < room ? incr : room;
    if (!t->quickack)
        t->quickack = 1;
}

static bool autotuned(const sk_stack *s, const sk_tcb *t)
{
    return s->cfg.tcp_moderate_rcvbuf && !(t->sndstate & SK_RCVBUF_LOCK);
}

/* Linux's tcp_init_buffer_space() for the receive side, at establishment:
 * the window may never exceed what the buffer can offer. */
void sk_rcvbuf_established(sk_stack *s, sk_tcb *t)
{
    uint32_t full = sk_full_space(s, t);
    uint32_t two = 2u * t->advmss;
    if (!t->window_clamp || t->window_clamp >= full)
        t->window_clamp = full;
    /* "Force reservation of one segment" (tcp_app_win 31): the clamp
     * leaves a segment's worth of the buffer unoffered. */
    if (t->window_clamp > two && t->window_clamp + t->advmss > full)
        t->window_clamp = full - t->advmss > two ? full - t->advmss : two;
    if (t->rcv_ssthresh > t->window_clamp)
        t->rcv_ssthresh = t->window_clamp;
}

/* The autotuning state lives in sk_tcb_ext, allocated once a connection
 * that may autotune has received more than the first measurement's space
 * (min(rcv_wnd, 10 segments)): nothing can grow before a reader copies
 * more than that in one RTT, so a request/response connection never pays
 * for it.  The measurement starts there (Linux starts it at establishment). */
static sk_tcb_ext *rcv_space_state(sk_stack *s, sk_tcb *t)
{
    if (!autotuned(s, t))
        return NULL;
    sk_tcb_ext *x = t->ext;
    if (!x || !x->rcvq_space) {
        uint32_t init = SK_TCP_INIT_CWND * (uint32_t)t->advmss;
        if (t->bytes_received <= init && t->bytes_received <= t->rcv_wnd)
            return NULL;
        x = sk_tcb_ext_get(s, t);
        if (!x)
            return NULL; /* no memory: the buffer keeps its size */
        uint32_t space = t->rcv_ssthresh < t->rcv_wnd ? t->rcv_ssthresh : t->rcv_wnd;
        x->rcvq_space = space < init ? space : init;
        if (!x->rcvq_space)
            x->rcvq_space = 1;
        x->rcvq_seq = t->rcv_nxt - t->rcvq.len; /* copied_seq */
        x->rcvq_time = sk_us_now(s);
    }
    return x;
}

/* Linux's tcp_rcv_rtt_update(): with timestamps a moving average (1/8),
 * without them the minimum of the per-window samples. */
static void rcv_rtt_update(sk_tcb_ext *x, uint32_t sample_us, bool win_dep)
{
    uint32_t m = sample_us ? sample_us : 1;
    uint32_t old = x->rcv_rtt_us;
    if (!old) {
        x->rcv_rtt_us = m << 3;
    } else if (!win_dep) {
        x->rcv_rtt_us = old - (old >> 3) + m;
    } else if ((m << 3) < old) {
        x->rcv_rtt_us = m << 3;
    }
}

/* Linux's tcp_rcv_rtt_measure_ts() and tcp_rcv_rtt_measure(): the
 * receiver's estimate of the RTT, which paces autotuning. */
void sk_rcv_rtt_on_data(sk_stack *s, sk_tcb *t, const sk_segment *seg, uint32_t len)
{
    sk_tcb_ext *x = rcv_space_state(s, t);
    if (!x)
        return;
    uint32_t now = sk_us_now(s);
    if ((t->negot & SK_N_TS_OK) && seg->opts.has_ts) {
        uint32_t ecr = seg->opts.ts_ecr;
        if (!ecr || ecr == x->rcv_rtt_last_tsecr)
            return;
        x->rcv_rtt_last_tsecr = ecr;
        uint32_t mss = t->rcv_mss ? t->rcv_mss : SK_TCP_MSS_DEFAULT;
        if (len >= mss) {
            int32_t delta_ms = (int32_t)(sk_tcp_time_ms(s) + t->ts_off - ecr);
            if (delta_ms > 0)
                rcv_rtt_update(x, (uint32_t)delta_ms * 1000u, false);
        }
        return;
    }
    if (x->rcv_rtt_time) {
        if (seq_lt(t->rcv_nxt, x->rcv_rtt_seq))
            return;
        rcv_rtt_update(x, now - x->rcv_rtt_time, true);
    }
    x->rcv_rtt_seq = t->rcv_nxt + t->rcv_wnd;
    x->rcv_rtt_time = now ? now : 1;
}

/* Linux's tcp_rcv_space_adjust(), after each read: once per receiver RTT,
 * if the application read more than in the previous RTT, grow the buffer
 * to hold twice that (plus 16 segments of slack, plus twice the growth,
 * since the sender may still be in slow start), within tcp_rmem[2]; the
 * window clamp follows. */
void sk_rcv_space_adjust(sk_stack *s, sk_tcb *t)
{
    if (!autotuned(s, t) || !t->ext || !t->ext->rcvq_space)
        return;
    sk_tcb_ext *x = t->ext;
    uint32_t now = sk_us_now(s);
    uint32_t copied_seq = t->rcv_nxt - t->rcvq.len - ((t->sflags & SK_S_FIN_RCVD) ? 1u : 0u);
    if (x->rcv_rtt_us == 0 || now - x->rcvq_time < (x->rcv_rtt_us >> 3))
        return;
    uint32_t copied = copied_seq - x->rcvq_seq;
    if (copied > x->rcvq_space) {
        uint64_t rcvwin = ((uint64_t)copied << 1) + 16u * (uint64_t)t->advmss;
        uint64_t grow = rcvwin * (copied - x->rcvq_space) / x->rcvq_space;
        rcvwin += grow << 1;
        /* tcp_space_from_win(): the buffer that offers this window. */
        uint64_t rcvbuf;
        int scale = s->cfg.tcp_adv_win_scale;
        if (scale <= 0)
            rcvbuf = rcvwin << (-scale);
        else
            rcvbuf = (rcvwin << scale) / ((1u << scale) - 1u);
        if (rcvbuf > (uint64_t)s->cfg.tcp_rmem[2])
            rcvbuf = (uint64_t)s->cfg.tcp_rmem[2];
        if (rcvbuf > t->rcvbuf) {
            t->rcvbuf = (uint32_t)rcvbuf;
            t->window_clamp = sk_win_from_space(s, t->rcvbuf);
        }
        x->rcvq_space = copied;
    }
    x->rcvq_seq = copied_seq;
    x->rcvq_time = now;
}

/* TCP_INFO's tcpi_rcv_space: Linux's rcvq_space.space, 0 until the
 * connection is established, then min(rcv_ssthresh, rcv_wnd, 10
 * segments) until autotuning measures what the reader takes per RTT. */
uint32_t sk_rcvq_space(const sk_tcb *t)
{
    if (t->ext && t->ext->rcvq_space)
        return t->ext->rcvq_space;
    if (!(t->sflags & SK_S_WAS_ESTABLISHED))
        return 0;
    uint32_t space = SK_TCP_INIT_CWND * (uint32_t)t->advmss;
    return t->rcv_ssthresh < space ? t->rcv_ssthresh : space;
}

/* sk_recv_post's other half, for input.c: in-order data arriving while
 * the receive queue is empty goes straight into a posted buffer, as
 * Linux's tcp_data_queue copied it to a waiting reader (tp->ucopy) before
 * queueing any; returns the bytes taken from `data`.  They count as read at once (copied_seq moves with
 * rcv_nxt), so they take no receive memory and the window stays open;
 * autotuning sees them as the reader's (tcp_rcv_space_adjust). */
uint32_t sk_recv_direct(sk_stack *s, sk_tcb *t, const uint8_t *data, uint32_t len)
{
    sk_tcb_ext *x = t->ext;
    if (!x || !x->post_buf || t->rcvq.len || x->post_filled >= x->post_len)
        return 0;
    uint32_t room = x->post_len - x->post_filled;
    uint32_t n = len < room ? len : room;
    memcpy(x->post_buf + x->post_filled, data, n);
    x->post_filled += n;
    return n;
}

/* ------------------------------------------------------------------ */
/* Receive window (Linux tcp_select_initial_window / tcp_select_window)  */
/* ------------------------------------------------------------------ */

/* Linux advertises half of the buffer space (tcp_adv_win_scale = 1, or a
 * scaling_ratio of 50% in 6.x): the rest pays for metadata overhead. */
uint32_t sk_win_from_space(const sk_stack *s, uint32_t space)
{
    int scale = s->cfg.tcp_adv_win_scale;
    if (scale <= 0)
        return space >> (-scale);
    return space - (space >> scale);
}

/* floor(log2(v)), 0 for 0 and 1: every connection's window scale is chosen
 * from it, so it counts leading zeros instead of shifting bit by bit. */
static uint32_t ilog2_u32(uint32_t v)
{
    return v ? 31u - (uint32_t)__builtin_clz(v) : 0;
}

void sk_init_rcv_window(sk_stack *s, uint32_t rcvbuf, uint16_t mss, bool ws_ok, uint32_t *rcv_wnd,
                        uint8_t *rcv_wscale, uint32_t *window_clamp)
{
    uint32_t space = sk_win_from_space(s, rcvbuf);
    uint32_t clamp = *window_clamp ? *window_clamp : (65535u << SK_TCP_MAX_WSCALE);
    if (space > clamp)
        space = clamp;
    if (mss && space > mss)
        space = (space / mss) * mss;
    *rcv_wnd = space < 65535u ? space : 65535u;
    *rcv_wscale = 0;
    if (ws_ok) {
        /* Linux sizes the scale for the largest buffer autotuning may
         * reach: max(tcp_rmem[2], rmem_max = 212992). */
        uint32_t max_space = space;
        if ((uint32_t)s->cfg.tcp_rmem[2] > max_space)
            max_space = (uint32_t)s->cfg.tcp_rmem[2];
        if (max_space < 212992u)
            max_space = 212992u;
        if (max_space > clamp)
            max_space = clamp;
        int ws = (int)ilog2_u32(max_space) - 15;
        if (ws < 0)
            ws = 0;
        if (ws > SK_TCP_MAX_WSCALE)
            ws = SK_TCP_MAX_WSCALE;
        *rcv_wscale = (uint8_t)ws;
    }
    uint32_t maxclamp = 65535u << *rcv_wscale;
    *window_clamp = clamp < maxclamp ? clamp : maxclamp;
}

/* Linux's tcp_space(): the window the free part of the buffer can offer,
 * memory counted as truesize (rcvbuf.c). */
uint32_t sk_receive_space(const sk_stack *s, const sk_tcb *t)
{
    uint32_t used = sk_rmem_alloc(t);
    return used >= t->rcvbuf ? 0 : sk_win_from_space(s, t->rcvbuf - used);
}

/* Linux's __tcp_select_window(): offer what the buffer can take, capped by
 * rcv_ssthresh (which grows as the peer proves it sends full segments),
 * without silly small windows (RFC 9293 §3.8.6.2.2). */
static inline uint32_t compute_window(sk_stack *s, sk_tcb *t)
{
    uint32_t mss = t->rcv_mss ? t->rcv_mss : t->advmss;
    uint32_t free_space = sk_receive_space(s, t);
    uint32_t allowed = sk_full_space(s, t);
    uint32_t full = t->window_clamp < allowed ? t->window_clamp : allowed;
    if (mss > full) {
        mss = full;
        if (!mss)
            return 0;
    }
    if (free_space < (full >> 1)) {
        t->quickack = 0;
        free_space &= ~((1u << t->rcv_wscale) - 1);
        if (free_space < (allowed >> 4) || free_space < mss)
            return 0;
    }
    if (free_space > t->rcv_ssthresh)
        free_space = t->rcv_ssthresh;
    uint32_t window;
    if (t->rcv_wscale) {
        uint32_t unit = 1u << t->rcv_wscale;
        window = (free_space + unit - 1) & ~(unit - 1);
    } else {
        window = t->rcv_wnd;
        if (window + mss <= free_space || window > free_space)
            window = (free_space / mss) * mss;
        else if (mss == full && free_space > window + (full >> 1))
            window = free_space;
    }
    return window;
}

uint32_t sk_compute_window(sk_stack *s, sk_tcb *t) { return compute_window(s, t); }

/* Inlined here: every segment with ACK that a connection sends asks. */
uint16_t sk_select_window(sk_stack *s, sk_tcb *t)
{
    uint32_t old_win = t->rcv_wnd;
    uint32_t cur_win = t->rcv_wup + t->rcv_wnd - t->rcv_nxt;
    if ((int32_t)cur_win < 0)
        cur_win = 0;
    uint32_t new_win = compute_window(s, t);
    if (new_win < cur_win) {
        /* Never shrink the window we offered (RFC 9293 §3.8.6.2.2). */
        uint32_t unit = 1u << t->rcv_wscale;
        new_win = (cur_win + unit - 1) & ~(unit - 1);
    }
    t->rcv_wnd = new_win;
    t->rcv_wup = t->rcv_nxt;
    uint32_t cap = 65535u << t->rcv_wscale;
    if (new_win > cap)
        new_win = cap;
    new_win >>= t->rcv_wscale;
    if (new_win == 0 && old_win)
        sk_count(s, SK_C_TCPEXT_TCP_TO_ZERO_WINDOW_ADV);
    else if (new_win && old_win == 0)
        sk_count(s, SK_C_TCPEXT_TCP_FROM_ZERO_WINDOW_ADV);
    return (uint16_t)new_win;
}
