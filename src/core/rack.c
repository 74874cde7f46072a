/*
 * RACK-TLP loss detection (RFC 8985) and Proportional Rate Reduction
 * (RFC 6937) for SACK connections, following Linux (tcp_recovery=1).
 *
 * Linux decides loss per skb: a segment is lost once a segment sent after
 * it has been delivered and the segment has been out for longer than the
 * RTT of that delivery plus a reordering window.  That needs each
 * segment's transmission time and SACK/lost/retransmitted state, which the
 * byte scoreboard of sack.c does not keep; this file keeps one record per
 * transmitted segment while it is unacknowledged.  SACK blocks count only
 * for whole segments, as Linux's tcp_match_skb_to_sack splits skbs only at
 * MSS boundaries.
 */

#include "rack.h"
#include "eor.h"
#include "cc.h"
#include "icmp.h"
#include "recycle.h"
#include "sack.h"
#include "stack.h"
#include "timers.h"

static inline sk_txseg *seg_at(const sk_rack *r, uint32_t i) { return &r->segs[(r->head + i) & (r->cap - 1)]; }

/* RFC 8985 §6.2 RACK_sent_after: later in time, or sent together and
 * further in sequence. */
static bool sent_after(uint32_t t1, uint32_t t2, uint32_t seq1, uint32_t seq2)
{
    return (int32_t)(t1 - t2) > 0 || (t1 == t2 && seq_gt(seq1, seq2));
}

/* Linux's tcp_skb_pcount(): the MSS-sized segments a record was sent as
 * (a TSO burst counts each); a FIN takes no room of its own unless it went
 * alone.  tp->delivered counts in these units. */
static uint32_t pcount(const sk_tcb *t, uint32_t seq, uint32_t end)
{
    uint32_t len = end - seq;
    if ((t->xflags & SK_X_FIN_SENT) && end == t->snd_nxt && len)
        len--;
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    return len ? (len + mss - 1) / mss : 1;
}

static sk_rack *rack_get(sk_stack *s, sk_tcb *t)
{
    if (!t->rack) {
        t->rack = sk_recycle_take(s, &s->rack_bin, sizeof(*t->rack));
        if (t->rack) {
            t->rack->reordering = (uint16_t)s->cfg.tcp_reordering;
            t->rack->segs = t->rack->inline_segs;
            t->rack->cap = sizeof(t->rack->inline_segs) / sizeof(t->rack->inline_segs[0]);
        }
    }
    return t->rack;
}

void sk_rack_free(sk_stack *s, sk_tcb *t)
{
    if (!t->rack)
        return;
    if (t->rack->segs != t->rack->inline_segs)
        sk_free(s, t->rack->segs);
    sk_recycle_give(s, &s->rack_bin, t->rack);
    t->rack = NULL;
}

static void unmark(sk_rack *r, sk_txseg *g)
{
    if (g->flags & SK_TX_SACKED)
        r->sacked_out--;
    if (g->flags & SK_TX_LOST)
        r->lost_out--;
    if (g->flags & SK_TX_RETRANS)
        r->retrans_out--;
}

/* Linux's tcp_mark_skb_lost(): a lost retransmission is to be resent, so
 * it no longer counts as retransmitted in flight.  True if newly lost. */
static bool mark_lost(sk_rack *r, sk_txseg *g)
{
    if (g->flags & SK_TX_RETRANS) {
        g->flags &= (uint8_t)~SK_TX_RETRANS;
        r->retrans_out--;
    }
    if (g->flags & SK_TX_LOST)
        return false;
    g->flags |= SK_TX_LOST;
    r->lost_out++;
    return true;
}

/* Doubles the ring, keeping the records in order from index 0. */
static bool grow(sk_stack *s, sk_rack *r)
{
    uint32_t ncap = r->cap * 2;
    sk_txseg *ns = sk_malloc(s, sizeof(*ns) * ncap);
    if (!ns)
        return false;
    for (uint32_t i = 0; i < r->n; i++)
        ns[i] = *seg_at(r, i);
    if (r->segs != r->inline_segs)
        sk_free(s, r->segs);
    r->segs = ns;
    r->cap = ncap;
    r->head = 0;
    return true;
}

/* Linux's tcp_fragment() on the retransmit queue: a retransmission cut
 * short of its record (SACK blocks now take option space, so the current
 * MSS is smaller than when it was first sent) splits the record at `at`
 * into two with the same send time and marks, so that what was not
 * resent stays lost and is resent next, rather than counting as resent. */
void sk_rack_split(sk_stack *s, sk_tcb *t, uint32_t at)
{
    sk_rack *r = t->rack;
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n; i++) {
        sk_txseg *g = seg_at(r, i);
        if (!seq_lt(g->seq, at))
            return;
        if (!seq_lt(at, g->end))
            continue;
        if (r->n == r->cap && !grow(s, r))
            return;
        for (uint32_t k = r->n; k > i + 1; k--)
            *seg_at(r, k) = *seg_at(r, k - 1);
        r->n++;
        g = seg_at(r, i);
        sk_txseg *h = seg_at(r, i + 1);
        *h = *g;
        g->end = at;
        h->seq = at;
        g->flags &= (uint8_t)~(SK_TX_PSH | SK_TX_PKT_END); /* tcp_fragment: PSH stays with the second part */
        if (h->flags & SK_TX_SACKED)
            r->sacked_out++;
        if (h->flags & SK_TX_LOST)
            r->lost_out++;
        if (h->flags & SK_TX_RETRANS)
            r->retrans_out++;
        return;
    }
}

static void flight_note(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end);

void sk_rack_on_send(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end, bool retrans)
{
    if (!seq_lt(seq, end))
        return;
    if (!(t->negot & SK_N_SACK_OK)) {
        if (!retrans)
            flight_note(s, t, seq, end);
        return;
    }
    sk_rack *r = rack_get(s, t);
    if (!r)
        return;
    uint32_t now = sk_us_now(s);
    if (t->ca_state == SK_CA_RECOVERY || t->ca_state == SK_CA_CWR)
        r->prr_out++; /* PRR counts sends in CWR as in Recovery (tcp_event_new_data_sent) */
    if (retrans) {
        for (uint32_t i = 0; i < r->n; i++) {
            sk_txseg *g = seg_at(r, i);
            if (!seq_lt(g->seq, end))
                break;
            if (!seq_gt(g->end, seq) || (g->flags & SK_TX_SACKED))
                continue;
            g->xmit_us = now;
            /* Each retransmission may come back D-SACKed (tcp_retransmit_skb). */
            if (r->undo_retrans < 0)
                r->undo_retrans = 0;
            r->undo_retrans++;
            if (!(g->flags & SK_TX_RETRANS))
                r->retrans_out++;
            g->flags |= SK_TX_RETRANS | SK_TX_EVER_RETRANS;
        }
        return;
    }
    if (r->n && seq_lt(seq, seg_at(r, r->n - 1)->end))
        return;
    if (r->n == r->cap && !grow(s, r))
        return;
    sk_txseg *g = seg_at(r, r->n++);
    g->seq = seq;
    g->end = end;
    g->xmit_us = now;
    g->flags = 0;
}

/* Narrows a SACK block to the whole segments it covers. */
void sk_rack_clip(const sk_tcb *t, uint32_t *start, uint32_t *end)
{
    const sk_rack *r = t->rack;
    if (!r || !r->n)
        return;
    uint32_t a = *end, b = *start;
    for (uint32_t i = 0; i < r->n; i++) {
        const sk_txseg *g = seg_at(r, i);
        if (seq_geq(g->seq, *start) && seq_leq(g->end, *end)) {
            if (seq_lt(g->seq, a))
                a = g->seq;
            if (seq_gt(g->end, b))
                b = g->end;
        }
    }
    *start = a;
    *end = seq_lt(a, b) ? b : a;
}

/* Linux's tcp_rack_advance(): the most recently sent delivered segment
 * defines RACK.xmit_ts and RACK.rtt.  A retransmission delivered sooner
 * than the minimum RTT is taken for the original's delivery and ignored. */
static void advance(sk_stack *s, sk_tcb *t, const sk_txseg *g)
{
    sk_rack *r = t->rack;
    uint32_t rtt = sk_us_now(s) - g->xmit_us;
    if ((g->flags & SK_TX_EVER_RETRANS) && rtt < t->min_rtt_us)
        return;
    r->advanced = true;
    r->rtt_us = rtt;
    if (!r->valid || sent_after(g->xmit_us, r->xmit_us, g->end, r->end_seq)) {
        r->valid = true;
        r->xmit_us = g->xmit_us;
        r->end_seq = g->end;
    }
}

/* End of the highest SACKed segment, SND.UNA if none (tcp_highest_sack_seq). */
static uint32_t highest_sack(const sk_tcb *t)
{
    const sk_rack *r = t->rack;
    if (!r->sacked_out)
        return t->snd_una;
    for (uint32_t i = r->n; i-- > 0;)
        if (seg_at(r, i)->flags & SK_TX_SACKED)
            return seg_at(r, i)->end;
    return t->snd_una;
}

/* Linux's tcp_check_sack_reordering(): a never-retransmitted segment
 * delivered below the highest SACKed one measures reordering. */
static void check_reordering(sk_stack *s, sk_tcb *t, uint32_t low)
{
    sk_rack *r = t->rack;
    uint32_t fack = highest_sack(t);
    if (!seq_lt(low, fack))
        return;
    uint32_t metric = fack - low, mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    if (metric > (uint32_t)r->reordering * mss) {
        uint32_t segs = (metric + mss - 1) / mss;
        uint32_t max = 300; /* Linux's tcp_max_reordering default */
        r->reordering = (uint16_t)(segs < max ? segs : max);
    }
    r->reord_seen++;
    sk_count(s, SK_C_TCPEXT_TCP_SACK_REORDER);
}

uint32_t sk_rack_sack(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    sk_rack *r = t->rack;
    if (!r || !r->n)
        return 0;
    uint32_t prior_fack = highest_sack(t), reord = t->snd_nxt, newly = 0;
    bool dsack = sk_sack_is_dsack(seg);
    for (unsigned k = 0; k < seg->opts.sack_count; k++) {
        uint32_t start = seg->opts.sack[k].start, end = seg->opts.sack[k].end;
        if (!seq_lt(start, end))
            continue;
        if (k == 0 && dsack) {
            /* Not new SACKed data: a resent segment the peer already had
             * (tcp_sacktag_one with dup_sack) is one retransmission of
             * the episode fewer that could have been needed. */
            if (!r->dsack_ok)
                continue;
            for (uint32_t i = 0; i < r->n; i++) {
                sk_txseg *g = seg_at(r, i);
                if (seq_lt(g->seq, start) || seq_gt(g->end, end) || !(g->flags & SK_TX_EVER_RETRANS))
                    continue;
                if (r->undo_set && r->undo_retrans > 0 && seq_gt(g->end, r->undo_marker))
                    r->undo_retrans--;
            }
            continue;
        }
        if (seq_leq(end, seg->ack))
            continue;
        for (uint32_t i = 0; i < r->n; i++) {
            sk_txseg *g = seg_at(r, i);
            if (seq_lt(g->seq, start) || seq_gt(g->end, end) || (g->flags & SK_TX_SACKED))
                continue;
            if (!(g->flags & SK_TX_EVER_RETRANS) && seq_lt(g->seq, prior_fack) && seq_lt(g->seq, reord))
                reord = g->seq;
            unmark(r, g);
            g->flags = (uint8_t)((g->flags & ~(SK_TX_LOST | SK_TX_RETRANS)) | SK_TX_SACKED);
            r->sacked_out++;
            advance(s, t, g);
            newly++;
            t->delivered += pcount(t, g->seq, g->end); /* tcp_sacktag_one */
        }
    }
    if (seq_lt(reord, prior_fack))
        check_reordering(s, t, reord);
    return newly;
}

static sk_txseg *record_ending_at(const sk_tcb *t, uint32_t end)
{
    const sk_rack *r = t->rack;
    for (uint32_t i = r ? r->n : 0; i-- > 0;) {
        sk_txseg *g = &r->segs[(r->head + i) & (r->cap - 1)];
        if (g->end == end)
            return g;
        if (seq_lt(g->end, end))
            break;
    }
    return NULL;
}

static bool flight_psh(const sk_tcb *t, uint32_t end, bool set);

void sk_rack_set_psh(sk_tcb *t, uint32_t end)
{
    if (!t->rack) {
        flight_psh(t, end, true);
        return;
    }
    sk_txseg *g = record_ending_at(t, end);
    if (g)
        g->flags |= SK_TX_PSH;
}

bool sk_rack_psh_at(const sk_tcb *t, uint32_t end)
{
    if (!t->rack)
        return flight_psh(t, end, false);
    const sk_txseg *g = record_ending_at(t, end);
    return g && (g->flags & SK_TX_PSH);
}

uint32_t sk_rack_pcount_of(const sk_tcb *t, uint8_t flag)
{
    const sk_rack *r = t->rack;
    uint32_t n = 0;
    for (uint32_t i = 0; r && i < r->n; i++) {
        const sk_txseg *g = &r->segs[(r->head + i) & (r->cap - 1)];
        if (g->flags & flag)
            n += pcount(t, g->seq, g->end);
    }
    return n;
}

uint32_t sk_rack_fack(const sk_tcb *t) { return t->rack ? highest_sack(t) : t->snd_una; }

/* prior_fack is the highest SACKed sequence (or SND.UNA) as it was before
 * this ACK moved SND.UNA: Linux's tcp_ack takes it first, so a cumulative
 * ACK of in-order data is not mistaken for data delivered below it. */
uint32_t sk_rack_ack(sk_stack *s, sk_tcb *t, uint32_t una, uint32_t prior_fack)
{
    sk_rack *r = t->rack;
    if (!r)
        return 0;
    uint32_t reord = una, delivered = 0;
    /* The last original delivered: its ring slot is left as it was when
     * the record leaves the ring, and nothing is added to the ring before
     * advance() reads it below, so it is kept by address, not copied. */
    const sk_txseg *last = NULL;
    r->retrans_acked = false;
    while (r->n && seq_leq(seg_at(r, 0)->end, una)) {
        sk_txseg *g = seg_at(r, 0);
        if (g->flags & SK_TX_EVER_RETRANS)
            r->retrans_acked = true; /* Linux's FLAG_RETRANS_DATA_ACKED */
        if (!(g->flags & SK_TX_SACKED)) {
            delivered++;
            t->delivered += pcount(t, g->seq, g->end); /* tcp_clean_rtx_queue */
            if (!(g->flags & SK_TX_EVER_RETRANS) && seq_lt(g->seq, reord))
                reord = g->seq;
            /* Originals were sent in sequence order: only the last of a
             * run can advance RACK; retransmissions may each matter. */
            if (g->flags & SK_TX_EVER_RETRANS) {
                advance(s, t, g);
            } else {
                last = g;
            }
        }
        unmark(r, g);
        r->head = (r->head + 1) & (r->cap - 1);
        r->n--;
    }
    if (last)
        advance(s, t, last);
    if (r->n && seq_lt(seg_at(r, 0)->seq, una)) {
        /* The peer took part of it (tcp_trim_head); the whole segments it
         * took count as delivered (tcp_tso_acked). */
        sk_txseg *g = seg_at(r, 0);
        if (!(g->flags & SK_TX_SACKED))
            t->delivered += pcount(t, g->seq, g->end) - pcount(t, una, g->end);
        g->seq = una;
    }
    if (seq_lt(reord, prior_fack))
        check_reordering(s, t, reord);
    if (!r->n && r->reordering == s->cfg.tcp_reordering && !r->reord_seen && !r->undo_set && !r->dsack_dups) {
        /* Nothing in flight and nothing learned: an idle connection keeps
         * no scoreboard. */
        sk_rack_free(s, t);
    } else if (!r->n && r->segs != r->inline_segs) {
        sk_free(s, r->segs);
        r->segs = r->inline_segs;
        r->cap = sizeof(r->inline_segs) / sizeof(r->inline_segs[0]);
        r->head = 0;
    }
    return delivered;
}

/* Linux's tcp_rack_reo_wnd(): without reordering seen, no settling time in
 * recovery or once dupthresh segments are SACKed; otherwise a quarter of
 * the minimum RTT, at most the smoothed RTT. */
static uint32_t reo_wnd(const sk_tcb *t)
{
    const sk_rack *r = t->rack;
    if (!r->reord_seen) {
        if (t->ca_state >= SK_CA_RECOVERY)
            return 0;
        if (r->sacked_out >= r->reordering)
            return 0;
    }
    uint32_t w = t->min_rtt_us / 4, srtt = t->srtt_us >> 3;
    return w < srtt ? w : srtt;
}

static uint32_t detect(sk_stack *s, sk_tcb *t, uint32_t *timeout)
{
    sk_rack *r = t->rack;
    uint32_t now = sk_us_now(s), wnd = reo_wnd(t), newly = 0;
    *timeout = 0;
    if (!r->valid)
        return 0;
    for (uint32_t i = 0; i < r->n; i++) {
        sk_txseg *g = seg_at(r, i);
        if (g->flags & SK_TX_SACKED)
            continue;
        if ((g->flags & SK_TX_LOST) && !(g->flags & SK_TX_RETRANS))
            continue;
        if (!sent_after(r->xmit_us, g->xmit_us, r->end_seq, g->end)) {
            /* Original transmissions go out in sequence order, so none
             * beyond this one was sent earlier; only retransmissions are
             * out of order, and they are later still (Linux walks its
             * time-sorted list and stops here too). */
            if (!(g->flags & SK_TX_EVER_RETRANS))
                break;
            continue;
        }
        int64_t remaining = (int64_t)r->rtt_us + wnd - (int64_t)(uint32_t)(now - g->xmit_us);
        if (remaining <= 0) {
            if (mark_lost(r, g))
                newly++;
        } else if ((uint32_t)remaining > *timeout) {
            *timeout = (uint32_t)remaining;
        }
    }
    return newly;
}

/* Linux's tcp_rack_mark_lost(): after an ACK that delivered something,
 * mark what is lost and arm the reordering timer for the rest, a jiffy
 * rounding plus TCP_TIMEOUT_MIN (2 ms) after its deadline. */
uint32_t sk_rack_detect(sk_stack *s, sk_tcb *t)
{
    sk_rack *r = t->rack;
    if (!r || !r->advanced)
        return 0;
    r->advanced = false;
    uint32_t timeout;
    uint32_t newly = detect(s, t, &timeout);
    if (timeout) {
        sk_time_ns d = (sk_time_ns)((timeout + 999) / 1000 + 2) * SK_NSEC_PER_MSEC;
        t->rto_at = s->now + d;
        t->xflags = (t->xflags & ~SK_X_TLP_ARMED) | SK_X_REO_ARMED;
        sk_tcb_timer_update(s, t);
    }
    return newly;
}

/* Linux's tcp_packets_in_flight(): sent, minus SACKed and lost, plus
 * retransmitted. */
uint32_t sk_rack_in_flight(const sk_tcb *t)
{
    const sk_rack *r = t->rack;
    int32_t v = (int32_t)r->n - r->sacked_out - r->lost_out + r->retrans_out;
    return v > 0 ? (uint32_t)v : 0;
}

/* Bytes the network holds.  After an RTO everything beyond the
 * retransmission cursor is presumed lost, as Linux marks it (lost_out), so
 * only what was resent since counts. */
uint32_t sk_flight_size(const sk_tcb *t)
{
    const sk_rack *r = t->rack;
    if (r && (t->ca_state != SK_CA_LOSS) &&
        ((t->ca_state == SK_CA_RECOVERY) || r->sacked_out || r->lost_out || r->retrans_out))
        return sk_rack_in_flight(t) * t->mss; /* Linux counts packets (tcp_packets_in_flight) */
    if (t->sack_n || ((t->ca_state == SK_CA_RECOVERY) && (t->negot & SK_N_SACK_OK)))
        return sk_sack_pipe(t);
    if ((t->ca_state == SK_CA_LOSS) && seq_lt(t->rtx_nxt, t->snd_nxt))
        return t->rtx_nxt - t->snd_una;
    uint32_t out = t->snd_nxt - t->snd_una;
    if (!(t->negot & SK_N_SACK_OK) && t->ca_state != SK_CA_RECOVERY && t->dupacks) {
        /* Without SACK, Linux counts each duplicate ACK as one segment that
         * left the network (tcp_add_reno_sack), so the pipe shrinks and the
         * first duplicate ACKs clock out new data: RFC 3042 limited
         * transmit falls out of the accounting. */
        uint32_t left = (uint32_t)t->dupacks * t->mss;
        out = out > left ? out - left : 0;
    }
    return out;
}

/* The oldest segment marked lost and not yet resent
 * (tcp_xmit_retransmit_queue). */
bool sk_rack_next_lost(const sk_tcb *t, uint32_t *seq, uint32_t *end)
{
    const sk_rack *r = t->rack;
    if (!r || r->retrans_out >= r->lost_out)
        return false;
    for (uint32_t i = 0; i < r->n; i++) {
        const sk_txseg *g = seg_at(r, i);
        if ((g->flags & (SK_TX_LOST | SK_TX_RETRANS | SK_TX_SACKED)) == SK_TX_LOST) {
            *seq = g->seq;
            *end = g->end;
            return true;
        }
    }
    return false;
}

/* Linux's tcp_enter_recovery() with tcp_init_cwnd_reduction(): PRR starts
 * from the window in use; cwnd is then set ACK by ACK. */
void sk_rack_enter_recovery(sk_stack *s, sk_tcb *t)
{
    uint32_t cwnd = t->cwnd;
    bool in_cwr = t->ca_state == SK_CA_CWR;
    sk_rack *r = t->rack;
    /* tcp_init_undo: the episode starts at SND.UNA with what is already
     * resent in flight (a TLP included); -1 rather than 0, which would
     * mean "nothing left to D-SACK". */
    r->undo_set = true;
    r->undo_marker = t->snd_una;
    r->undo_retrans = r->retrans_out + ((t->tlp_high_seq && (t->xflags & SK_X_TLP_RETRANS)) ? 1 : 0);
    if (!r->undo_retrans)
        r->undo_retrans = -1;
    /* tcp_current_ssthresh, kept to undo to; none when CWR already cut. */
    uint32_t cur = (cwnd >> 1) + (cwnd >> 2);
    r->prior_ssthresh = in_cwr ? 0 : (t->ssthresh > cur ? t->ssthresh : cur);
    sk_cc_enter_recovery(s, t);
    t->cwnd = cwnd;
    if (in_cwr)
        return; /* the CWR reduction goes on, PRR counts included (tcp_enter_recovery) */
    r->prior_cwnd = cwnd;
    r->prr_delivered = 0;
    r->prr_out = 0;
}

/* Linux's tcp_enter_cwr() with tcp_init_cwnd_reduction(): an ECN echo
 * (RFC 3168 §6.1.2) reduces the window once per window of data: ssthresh
 * from the congestion control, then PRR (RFC 6937) walks cwnd down to it
 * over the next round trip, as Linux does since 3.7.  CWR is queued for
 * the next new data segment. */
void sk_enter_cwr(sk_stack *s, sk_tcb *t)
{
    if (t->ca_state >= SK_CA_CWR)
        return;
    t->recover = t->snd_nxt; /* Linux's high_seq */
    t->tlp_high_seq = 0;
    t->cwnd_cnt = 0;
    uint32_t cwnd = t->cwnd;
    t->ssthresh = sk_cc_ssthresh(s, t);
    sk_set_ca_state(t, SK_CA_CWR);
    t->ecn |= SK_ECN_QUEUE_CWR;
    sk_rack *r = t->rack;
    if (r) {
        r->prior_cwnd = cwnd;
        r->prr_delivered = 0;
        r->prr_out = 0;
        /* tcp_enter_cwr forgets any earlier episode's undo (undo_marker = 0,
         * prior_ssthresh = 0): an ECN reduction is never undone. */
        r->undo_set = false;
        r->prior_ssthresh = 0;
    } else if (t->cwnd > t->ssthresh) {
        /* No per-segment scoreboard (no SACK) to run PRR on: reduce at
         * once, as RFC 3168 §6.1.2 describes. */
        t->cwnd = t->ssthresh;
    }
}

/* Linux's tcp_end_cwnd_reduction() on leaving CWR: cwnd = ssthresh. */
void sk_end_cwr(sk_tcb *t)
{
    sk_set_ca_state(t, SK_CA_OPEN);
    t->cwnd = t->ssthresh;
}

/* RFC 6937 PRR as Linux's tcp_cwnd_reduction(): while the pipe exceeds
 * ssthresh, send in proportion to what was delivered; below it, catch up
 * to ssthresh by at most what was delivered (the conservative bound),
 * plus one (slow-start bound) only when the cumulative ACK covered
 * resent data and nothing new was lost (FLAG_RETRANS_DATA_ACKED without
 * FLAG_LOST_RETRANS, the rule the conformance scripts were written for:
 * an ECN-triggered CWR, with nothing resent, reduces with the
 * conservative bound); the first call always allows the fast
 * retransmit. */
void sk_rack_cwnd_reduction(sk_tcb *t, uint32_t newly_acked_sacked, uint32_t newly_lost, bool una_advanced)
{
    sk_rack *r = t->rack;
    if (!r || !newly_acked_sacked || !r->prior_cwnd)
        return;
    uint32_t in_flight = sk_rack_in_flight(t);
    int64_t delta = (int64_t)t->ssthresh - in_flight;
    int64_t sndcnt;
    r->prr_delivered += newly_acked_sacked;
    if (delta < 0) {
        uint64_t dividend = (uint64_t)t->ssthresh * r->prr_delivered + r->prior_cwnd - 1;
        sndcnt = (int64_t)(dividend / r->prior_cwnd) - r->prr_out;
    } else {
        int64_t owed = (int64_t)r->prr_delivered - r->prr_out;
        sndcnt = owed > newly_acked_sacked ? owed : newly_acked_sacked;
        if (una_advanced && r->retrans_acked && !newly_lost)
            sndcnt++;
        if (sndcnt > delta)
            sndcnt = delta;
    }
    if (sndcnt < (r->prr_out ? 0 : 1))
        sndcnt = r->prr_out ? 0 : 1;
    t->cwnd = in_flight + (uint32_t)sndcnt;
}

/* Linux's tcp_rack_reo_timeout(): the reordering window of some segment
 * ran out.  Whatever is now lost starts recovery and is resent. */
void sk_rack_reo_timeout(sk_stack *s, sk_tcb *t)
{
    sk_rack *r = t->rack;
    if (!r || t->snd_una == t->snd_nxt)
        return;
    uint32_t prior = sk_rack_in_flight(t), timeout;
    uint32_t newly = detect(s, t, &timeout);
    if (prior != sk_rack_in_flight(t) && t->ca_state != SK_CA_LOSS) {
        if (t->ca_state != SK_CA_RECOVERY) {
            /* A lost MTU probe at SND.UNA is the path's MTU, not
             * congestion (pmtu.c): Linux tells it apart on its dupthresh
             * path, which synack's RACK may reach only through here. */
            if (t->ext && t->ext->pm && sk_mtu_probe_lost(s, t))
                return;
            sk_rack_enter_recovery(s, t);
            sk_rack_cwnd_reduction(t, 1, newly, false);
        }
    }
}

/* ------------------------------------------------------------------ */
/* The packets in flight of a connection without SACK                   */
/* ------------------------------------------------------------------ */

/* Linux keeps its retransmission queue of skbs whatever the peer
 * negotiated; synack keeps the records above only for SACK connections.
 * One without SACK keeps where each packet ends and whether it is lost
 * (sk_flight), so that a path MTU drop marks lost only the packets cut
 * too big (tcp_simple_retransmit) and each goes again on its own
 * (tcp_retransmit_skb).  A record is added per packet of new data; those
 * the peer acknowledged are dropped as the next is added.  Without them
 * (no memory) every byte in flight counts as lost, as before. */
static inline sk_flight_rec *frec(const sk_flight *f, uint32_t i)
{
    return (sk_flight_rec *)&f->rec[(f->head + i) & (f->cap - 1)];
}

static sk_flight *flight_of(const sk_tcb *t)
{
    return t->ext ? t->ext->flight : NULL;
}

static void flight_trim(sk_flight *f, uint32_t una)
{
    while (f->n && seq_leq(frec(f, 0)->end, una)) {
        f->base = frec(f, 0)->end;
        f->head = (f->head + 1) & (f->cap - 1);
        f->n--;
    }
}

static void flight_note(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end)
{
    sk_tcb_ext *x = sk_tcb_ext_get(s, t);
    if (!x)
        return;
    sk_flight *f = x->flight;
    uint32_t now = sk_us_now(s);
    if (f) {
        flight_trim(f, t->snd_una);
        if (f->n && frec(f, f->n - 1)->end != seq)
            f->n = 0; /* not contiguous with the last: start again here */
        sk_flight_rec *last = f->n ? frec(f, f->n - 1) : NULL;
        if (last && !last->closed && last->xmit_us == now) {
            last->end = end; /* the next segment of the same TSO packet */
            return;
        }
    }
    if (!f || f->n == f->cap) {
        uint32_t cap = f ? f->cap * 2 : 8;
        sk_flight *nf = sk_malloc(s, sizeof(*nf) + cap * sizeof(nf->rec[0]));
        if (nf) {
            nf->cap = cap;
            nf->head = 0;
            nf->n = 0;
            nf->base = seq;
            if (f) {
                for (uint32_t i = 0; i < f->n; i++)
                    nf->rec[i] = *frec(f, i);
                nf->n = f->n;
                nf->base = f->base;
                sk_free(s, f);
            }
            x->flight = f = nf;
        } else if (!f) {
            return;
        } else {
            f->n = 0; /* full and no room to grow: keep only what follows */
        }
    }
    if (!f->n)
        f->base = seq;
    sk_flight_rec *r = frec(f, f->n++);
    uint32_t len = end - seq;
    r->end = end;
    r->xmit_us = now;
    r->seglen = (uint16_t)(len > 65535u ? 65535u : len);
    r->lost = 0;
    r->closed = 0;
    r->psh = 0;
}

/* The PSH mark of the skb ending at `end` (set, or read). */
static bool flight_psh(const sk_tcb *t, uint32_t end, bool set)
{
    sk_flight *f = flight_of(t);
    for (uint32_t i = f ? f->n : 0; i-- > 0;) {
        sk_flight_rec *r = frec(f, i);
        if (r->end == end) {
            if (set)
                r->psh = 1;
            return r->psh;
        }
        if (seq_lt(r->end, end))
            break;
    }
    return false;
}

void sk_rack_pkt_end(sk_tcb *t, uint32_t end)
{
    sk_rack *r = t->rack;
    if (r) {
        if (r->n && seg_at(r, r->n - 1)->end == end)
            seg_at(r, r->n - 1)->flags |= SK_TX_PKT_END;
        return;
    }
    sk_flight *f = flight_of(t);
    if (f && f->n && frec(f, f->n - 1)->end == end)
        frec(f, f->n - 1)->closed = 1;
}

/* The payload of [seq, end) above SND.UNA, a FIN not counted. */
static uint32_t left_len(const sk_tcb *t, uint32_t seq, uint32_t end, uint32_t data_end)
{
    if (seq_lt(seq, t->snd_una))
        seq = t->snd_una;
    if (seq_gt(end, data_end))
        end = data_end;
    return seq_gt(end, seq) ? end - seq : 0;
}

static bool flight_mark_lost_longer(sk_tcb *t, uint32_t mss, uint32_t data_end)
{
    sk_flight *f = flight_of(t);
    if (!f)
        return true;
    flight_trim(f, t->snd_una);
    /* What no record covers (before the first, after the last) is lost. */
    bool any = !f->n || seq_gt(f->base, t->snd_una) || seq_lt(frec(f, f->n - 1)->end, t->snd_nxt);
    uint32_t start = f->base;
    for (uint32_t i = 0; i < f->n; i++) {
        sk_flight_rec *r = frec(f, i);
        /* tcp_skb_seglen: an skb of several segments is as long as its
         * segments were cut (gso_size), one of a single segment as long as
         * what is left of it. */
        uint32_t len = left_len(t, start, r->end, data_end);
        if (len > r->seglen)
            len = r->seglen;
        r->lost = len > mss;
        any = any || r->lost;
        start = r->end;
    }
    return any;
}

/* Does record i end the skb Linux would hold it in: the end of its TSO
 * packet (PSH on the wire), of what was sent together (the front of an
 * skb tso_fragment cut), or of what was resent together? */
static bool ends_skb(const sk_rack *r, uint32_t i)
{
    if (i + 1 >= r->n)
        return true;
    const sk_txseg *g = seg_at(r, i), *h = seg_at(r, i + 1);
    return (g->flags & SK_TX_PKT_END) || g->end != h->seq || g->xmit_us != h->xmit_us ||
           ((g->flags ^ h->flags) & (SK_TX_SACKED | SK_TX_LOST | SK_TX_RETRANS));
}

/* Linux's tcp_simple_retransmit: after a path MTU drop (or a failed MTU
 * probe) only the skbs whose segments are longer than the new MSS
 * (tcp_skb_seglen, a FIN not counted) were cut too big and are lost, the
 * whole skb with them; the rest still fit and stay in flight.  mss 0
 * takes every record not SACKed.  Returns whether anything is lost now
 * (Linux returns early without lost_out).  Without SACK the same is done
 * on sk_flight. */
bool sk_rack_mark_lost_longer(sk_tcb *t, uint32_t mss, uint32_t data_end)
{
    sk_rack *r = t->rack;
    if (!r)
        return flight_mark_lost_longer(t, mss, data_end);
    for (uint32_t i = 0; i < r->n;) {
        uint32_t k = i;
        bool longer = false;
        for (;; k++) {
            sk_txseg *g = seg_at(r, k);
            uint32_t end = seq_gt(g->end, data_end) ? data_end : g->end;
            uint32_t len = seq_gt(end, g->seq) ? end - g->seq : 0;
            if (!(g->flags & SK_TX_SACKED) && len > mss)
                longer = true;
            if (ends_skb(r, k))
                break;
        }
        for (; i <= k; i++)
            if (longer && !(seg_at(r, i)->flags & SK_TX_SACKED))
                mark_lost(r, seg_at(r, i));
    }
    return r->lost_out != 0;
}

static bool to_resend(const sk_txseg *g)
{
    return (g->flags & (SK_TX_LOST | SK_TX_RETRANS | SK_TX_SACKED)) == SK_TX_LOST;
}

/* Where a retransmission from `seq` stops, `end` being the end of the
 * lost skb it lies in.  Linux resends one skb at a time
 * (tcp_retransmit_skb cuts it at the current MSS, tcp_fragment), never the
 * front of the next with the tail of this one, except that an skb shorter
 * than the MSS takes in the whole lost skbs after it that fit
 * (tcp_retrans_try_collapse; tcp_retrans_collapse is on by default). */
static uint32_t rack_collapse(const sk_rack *r, uint32_t seq, uint32_t end, uint32_t k, uint32_t mss)
{
    while (end - seq < mss && k + 1 < r->n && seg_at(r, k + 1)->seq == end && to_resend(seg_at(r, k + 1))) {
        uint32_t j = k + 1;
        while (!ends_skb(r, j))
            j++;
        if (seg_at(r, j)->end - seq > mss)
            break;
        end = seg_at(r, j)->end;
        k = j;
    }
    return end;
}

static uint32_t flight_next_to_resend(const sk_tcb *t, uint32_t seq, uint32_t mss, uint32_t *run_end)
{
    const sk_flight *f = flight_of(t);
    *run_end = t->snd_nxt;
    if (!f || !f->n)
        return seq;
    if (seq_lt(seq, f->base)) {
        *run_end = f->base; /* not covered: lost */
        return seq;
    }
    uint32_t start = f->base;
    for (uint32_t i = 0; i < f->n; i++) {
        const sk_flight_rec *r = frec(f, i);
        if (seq_gt(r->end, seq)) {
            if (r->lost) {
                if (seq_lt(seq, start))
                    seq = start;
                uint32_t end = r->end;
                while (end - seq < mss && i + 1 < f->n && frec(f, i + 1)->lost && frec(f, i + 1)->end - seq <= mss)
                    end = frec(f, ++i)->end; /* tcp_retrans_try_collapse */
                *run_end = end;
                return seq;
            }
            seq = r->end; /* still in flight: not resent */
        }
        start = r->end;
    }
    return seq; /* past the last record: not covered, lost */
}

/* Linux's tcp_xmit_retransmit_queue walks only the skbs marked lost and
 * not resent since: the first sequence at or after `seq` that is to be
 * resent, and in *run_end where that retransmission stops (the end of its
 * skb, see rack_collapse).  Where no record covers a sequence it is taken
 * as lost. */
uint32_t sk_rack_next_to_resend(const sk_tcb *t, uint32_t seq, uint32_t mss, uint32_t *run_end)
{
    const sk_rack *r = t->rack;
    *run_end = t->snd_nxt;
    if (!r)
        return flight_next_to_resend(t, seq, mss, run_end);
    /* The records are in sequence order: start at the first ending after
     * `seq`, so that a long flight resent after an RTO is not walked from
     * its head for every segment. */
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seq_gt(seg_at(r, mid)->end, seq))
            hi = mid;
        else
            lo = mid + 1;
    }
    for (uint32_t i = lo; i < r->n; i++) {
        const sk_txseg *g = seg_at(r, i);
        if (seq_lt(seq, g->seq)) {
            *run_end = g->seq; /* a gap without a record counts as lost */
            return seq;
        }
        if (to_resend(g)) {
            uint32_t k = i;
            while (!ends_skb(r, k))
                k++;
            *run_end = rack_collapse(r, seq, seg_at(r, k)->end, k, mss);
            return seq;
        }
        seq = g->end;
    }
    return seq;
}

/* Linux's tcp_timeout_mark_lost(): after an RTO everything not SACKed is
 * lost, so that what is resent counts once in the pipe. */
void sk_rack_mark_all_lost(sk_tcb *t)
{
    sk_rack *r = t->rack;
    if (!r) {
        sk_flight *f = flight_of(t);
        for (uint32_t i = 0; f && i < f->n; i++)
            frec(f, i)->lost = 1;
        return;
    }
    /* Undoing a timeout takes Linux's Loss-state undo (F-RTO, timestamps),
     * which synack does not do: no D-SACK undo across an RTO. */
    r->undo_set = false;
    for (uint32_t i = 0; i < r->n; i++) {
        sk_txseg *g = seg_at(r, i);
        if (!(g->flags & SK_TX_SACKED))
            mark_lost(r, g);
    }
}

/* Linux's tcp_try_undo_dsack then tcp_try_keep_open: every retransmission
 * of the episode was D-SACKed, so none was needed (RFC 2883 §4.2): the
 * window goes back to what it was (tcp_undo_cwnd_reduction, with Reno's
 * and CUBIC's undo_cwnd, the larger of now and before) and recovery ends.
 * Done in Recovery and in Open/Disorder, not in CWR or Loss; counted as
 * TCPDSACKUndo, or TCPFullUndo when it happens as the ACK of the recovery
 * point ends the episode (tcp_try_undo_recovery). */
bool sk_rack_try_undo(sk_stack *s, sk_tcb *t, sk_counter_id counter)
{
    sk_rack *r = t->rack;
    if (!r || !r->undo_set || r->undo_retrans != 0 || (t->ca_state == SK_CA_LOSS))
        return false;
    if (t->ca_state == SK_CA_CWR)
        return false;
    if (r->prior_ssthresh) {
        if (r->prior_cwnd > t->cwnd)
            t->cwnd = r->prior_cwnd;
        if (r->prior_ssthresh > t->ssthresh) {
            t->ssthresh = r->prior_ssthresh;
            t->ecn &= (uint8_t)~SK_ECN_QUEUE_CWR; /* tcp_ecn_withdraw_cwr */
        }
    }
    r->undo_set = false;
    r->advanced = true; /* RACK looks at the losses again */
    sk_count(s, counter);
    if (t->ca_state == SK_CA_RECOVERY) {
        sk_set_ca_state(t, SK_CA_OPEN);
        t->recover = t->snd_nxt;
    }
    return true;
}
