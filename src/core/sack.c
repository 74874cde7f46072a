/*
 * The sender's SACK scoreboard (RFC 2018, RFC 6675): which bytes above
 * SND.UNA the peer has reported holding.  It drives loss recovery — a hole
 * below SACKed data is lost and resent first — and the estimate of what is
 * in flight ("pipe"), which, as Linux's tcp_packets_in_flight(), leaves
 * out what was SACKed and what is presumed lost but not yet resent.
 *
 * Ranges are kept sorted and disjoint in a small array allocated only while
 * the peer reports holes, so a connection without loss carries none.
 */

#include "sack.h"
#include "eor.h"
#include "rack.h"
#include "stack.h"

void sk_sack_clear(const sk_stack *s, sk_tcb *t)
{
    sk_free(s, t->sack_rb);
    t->sack_rb = NULL;
    t->sack_n = t->sack_cap = 0;
    t->sacked_bytes = 0;
}

static void recount(sk_tcb *t)
{
    uint32_t total = 0;
    for (uint16_t i = 0; i < t->sack_n; i++)
        total += t->sack_rb[i].end - t->sack_rb[i].start;
    t->sacked_bytes = total;
}

/* Adds [start, end) and merges neighbours; returns the bytes newly covered. */
static uint32_t insert_range(const sk_stack *s, sk_tcb *t, uint32_t start, uint32_t end)
{
    uint32_t before = t->sacked_bytes;
    uint16_t i = 0;
    while (i < t->sack_n && seq_lt(t->sack_rb[i].end, start))
        i++;
    /* i is the first range that ends at or after start: merge from there. */
    uint16_t j = i;
    while (j < t->sack_n && seq_leq(t->sack_rb[j].start, end)) {
        if (seq_lt(t->sack_rb[j].start, start))
            start = t->sack_rb[j].start;
        if (seq_gt(t->sack_rb[j].end, end))
            end = t->sack_rb[j].end;
        j++;
    }
    if (j == i) {
        /* A new range between i-1 and i. */
        if (t->sack_n == t->sack_cap) {
            uint16_t ncap = t->sack_cap ? (uint16_t)(t->sack_cap * 2) : 8;
            if (ncap > 4096)
                return 0; /* pathological fragmentation: ignore further news */
            sk_sack_range *nr = sk_realloc(s, t->sack_rb, sizeof(*nr) * ncap);
            if (!nr)
                return 0;
            t->sack_rb = nr;
            t->sack_cap = ncap;
        }
        memmove(&t->sack_rb[i + 1], &t->sack_rb[i], sizeof(*t->sack_rb) * (size_t)(t->sack_n - i));
        t->sack_n++;
    } else if (j - i > 1) {
        memmove(&t->sack_rb[i + 1], &t->sack_rb[j], sizeof(*t->sack_rb) * (size_t)(t->sack_n - j));
        t->sack_n = (uint16_t)(t->sack_n - (j - i - 1));
    }
    t->sack_rb[i].start = start;
    t->sack_rb[i].end = end;
    recount(t);
    return t->sacked_bytes > before ? t->sacked_bytes - before : 0;
}

/* Linux's tcp_check_dsack test (RFC 2883 §4): only the first block can be
 * a D-SACK, when it lies below the cumulative ACK or inside the second. */
bool sk_sack_is_dsack(const sk_segment *seg)
{
    if (!seg->opts.sack_count)
        return false;
    uint32_t s0 = seg->opts.sack[0].start, e0 = seg->opts.sack[0].end;
    if (seq_lt(s0, seg->ack))
        return true;
    if (seg->opts.sack_count < 2)
        return false;
    return !seq_gt(e0, seg->opts.sack[1].end) && !seq_lt(s0, seg->opts.sack[1].start);
}

/* A D-SACK received (Linux's tcp_check_dsack and tcp_dsack_seen): counted,
 * then, unless dubious (larger than any window, or more duplicates than
 * we ever resent), charged against the retransmissions of the current
 * recovery so that an episode found spurious can be undone. */
void sk_dsack_input(sk_stack *s, sk_tcb *t, const sk_segment *seg, uint32_t prior_una)
{
    sk_rack *r = t->rack;
    if (r)
        r->dsack_ok = false;
    if (!sk_sack_is_dsack(seg))
        return;
    t->delivered++; /* tcp_sacktag_write_queue: a D-SACK is a delivery too */
    uint32_t start = seg->opts.sack[0].start, end = seg->opts.sack[0].end;
    sk_count(s, seq_lt(start, seg->ack) ? SK_C_TCPEXT_TCP_DSACK_RECV : SK_C_TCPEXT_TCP_DSACK_OFO_RECV);
    if (!r || !seq_lt(start, end) || end - start > t->max_window)
        return;
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    uint32_t dups = (end - start + mss - 1) / mss;
    r->dsack_dups += dups;
    if (r->dsack_dups > t->total_retrans)
        return;
    r->dsack_ok = true;
    /* Duplicates of data already cumulatively ACKed left no record to
     * look at: count them against the episode blindly, as Linux does. */
    if (r->undo_set && r->undo_retrans > 0 && !seq_gt(end, prior_una) && seq_gt(end, r->undo_marker))
        r->undo_retrans = r->undo_retrans > (int32_t)dups ? r->undo_retrans - (int32_t)dups : 0;
}

uint32_t sk_sack_update(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    (void)s;
    uint32_t news = 0;
    /* A D-SACK reports data received twice, not new data held. */
    for (unsigned k = sk_sack_is_dsack(seg) ? 1 : 0; k < seg->opts.sack_count; k++) {
        uint32_t start = seg->opts.sack[k].start, end = seg->opts.sack[k].end;
        if (!seq_lt(start, end))
            continue; /* empty or inverted: ignore (RFC 2018 §3) */
        if (seq_leq(end, seg->ack))
            continue; /* stale: already cumulatively ACKed */
        if (seq_lt(start, seg->ack))
            start = seg->ack;
        if (seq_gt(end, t->snd_nxt))
            end = t->snd_nxt; /* never believe SACKs for unsent data */
        sk_rack_clip(t, &start, &end); /* whole segments only, as Linux */
        if (!seq_lt(start, end))
            continue;
        news += insert_range(s, t, start, end);
    }
    return news;
}

void sk_sack_ack(const sk_stack *s, sk_tcb *t, uint32_t una)
{
    uint16_t drop = 0;
    while (drop < t->sack_n && seq_leq(t->sack_rb[drop].end, una))
        drop++;
    if (drop) {
        memmove(&t->sack_rb[0], &t->sack_rb[drop], sizeof(*t->sack_rb) * (size_t)(t->sack_n - drop));
        t->sack_n = (uint16_t)(t->sack_n - drop);
    }
    if (t->sack_n && seq_lt(t->sack_rb[0].start, una))
        t->sack_rb[0].start = una;
    if (!t->sack_n)
        sk_sack_clear(s, t);
    else
        recount(t);
}

static uint32_t sk_sack_high(const sk_tcb *t) { return t->sack_n ? t->sack_rb[t->sack_n - 1].end : t->snd_una; }

/* If seq lies in a SACKed range, where that range ends; else seq. */
uint32_t sk_sack_skip(const sk_tcb *t, uint32_t seq)
{
    for (uint16_t i = 0; i < t->sack_n; i++) {
        if (seq_lt(seq, t->sack_rb[i].start))
            break;
        if (seq_lt(seq, t->sack_rb[i].end))
            return t->sack_rb[i].end;
    }
    return seq;
}

/* The SACKed range starting at or after seq, or SND.MAX if none. */
uint32_t sk_sack_next_start(const sk_tcb *t, uint32_t seq)
{
    for (uint16_t i = 0; i < t->sack_n; i++)
        if (seq_gt(t->sack_rb[i].start, seq))
            return t->sack_rb[i].start;
    return t->snd_nxt;
}

/* Un-SACKed bytes in [from, to). */
static uint32_t hole_bytes(const sk_tcb *t, uint32_t from, uint32_t to)
{
    if (!seq_lt(from, to))
        return 0;
    uint32_t total = to - from;
    for (uint16_t i = 0; i < t->sack_n; i++) {
        uint32_t a = seq_max(t->sack_rb[i].start, from);
        uint32_t b = seq_lt(t->sack_rb[i].end, to) ? t->sack_rb[i].end : to;
        if (seq_lt(a, b))
            total -= b - a;
    }
    return total;
}

/* The next lost hole at or after `from`: un-SACKed bytes below the highest
 * SACKed byte, which the peer can only be missing (RFC 6675 IsLost, in the
 * forward-acknowledgement form Linux's RACK reduces to once a later segment
 * is delivered). */
bool sk_sack_next_hole(const sk_tcb *t, uint32_t from, uint32_t *start, uint32_t *len)
{
    uint32_t high = sk_sack_high(t);
    uint32_t seq = seq_max(from, t->snd_una);
    seq = sk_sack_skip(t, seq);
    if (!seq_lt(seq, high))
        return false;
    uint32_t next = sk_sack_next_start(t, seq);
    *start = seq;
    *len = next - seq;
    return *len > 0;
}

/* RFC 6675 §4 "pipe": bytes sent, not SACKed, and not presumed lost
 * unless already resent. */
uint32_t sk_sack_pipe(const sk_tcb *t)
{
    uint32_t end = t->snd_nxt;
    if ((t->ca_state == SK_CA_LOSS) && seq_lt(t->rtx_nxt, t->snd_nxt)) {
        /* After an RTO everything not yet resent is presumed lost. */
        return hole_bytes(t, t->snd_una, t->rtx_nxt);
    }
    uint32_t pipe = hole_bytes(t, t->snd_una, end);
    if (t->ca_state == SK_CA_RECOVERY) {
        uint32_t high = sk_sack_high(t);
        uint32_t from = seq_max(t->high_rxt, t->snd_una);
        uint32_t lost = hole_bytes(t, from, high);
        pipe = pipe > lost ? pipe - lost : 0;
    }
    return pipe;
}

/* ------------------------------------------------------------------ */
/* The SACK blocks we send (RFC 2018 §4, RFC 2883)                      */
/* ------------------------------------------------------------------ */

/* Linux's tcp_sack_extend: merge [seq, end) into *b if they touch. */
static bool block_extend(sk_sack_block *b, uint32_t seq, uint32_t end)
{
    if (seq_gt(seq, b->end) || seq_gt(b->start, end))
        return false;
    if (seq_lt(seq, b->start))
        b->start = seq;
    if (seq_gt(end, b->end))
        b->end = end;
    return true;
}

/* Linux's tcp_sack_maybe_coalesce: the first block, just grown, may now
 * reach others; they merge into it. */
static void coalesce_first(sk_tcb_ext *t)
{
    for (uint8_t i = 1; i < t->rx_sack_n;) {
        if (block_extend(&t->rx_sack[0], t->rx_sack[i].start, t->rx_sack[i].end)) {
            t->rx_sack_n--;
            memmove(&t->rx_sack[i], &t->rx_sack[i + 1], sizeof(t->rx_sack[0]) * (size_t)(t->rx_sack_n - i));
            continue;
        }
        i++;
    }
}

/* Out-of-order data [seq, end) arrived (Linux's tcp_sack_new_ofo_skb): the
 * block holding it goes first (RFC 2018 §4: the first block reports the
 * most recent segment), the others keep their order of recency; with all
 * four in use the oldest is forgotten. */
void sk_rx_sack_new_ofo(const sk_stack *s, sk_tcb *tcb, uint32_t seq, uint32_t end)
{
    if (!(tcb->negot & SK_N_SACK_OK))
        return;
    /* Without memory for the blocks the segment is still queued; the peer
     * only learns of it later, as if this ACK had been lost. */
    sk_tcb_ext *t = sk_tcb_ext_get(s, tcb);
    if (!t)
        return;
    for (uint8_t i = 0; i < t->rx_sack_n; i++) {
        if (block_extend(&t->rx_sack[i], seq, end)) {
            sk_sack_block b = t->rx_sack[i];
            memmove(&t->rx_sack[1], &t->rx_sack[0], sizeof(b) * i);
            t->rx_sack[0] = b;
            coalesce_first(t);
            return;
        }
    }
    uint8_t n = t->rx_sack_n < SK_SACK_MAX_BLOCKS ? t->rx_sack_n : SK_SACK_MAX_BLOCKS - 1;
    memmove(&t->rx_sack[1], &t->rx_sack[0], sizeof(t->rx_sack[0]) * n);
    t->rx_sack[0] = (sk_sack_block){seq, end};
    t->rx_sack_n = (uint8_t)(n + 1);
}

/* RCV.NXT moved (Linux's tcp_sack_remove): blocks it reached are gone; an
 * empty out-of-order queue leaves none. */
void sk_rx_sack_remove(sk_tcb *tcb)
{
    sk_tcb_ext *t = tcb->ext;
    if (!t)
        return;
    if (!tcb->ooo) {
        t->rx_sack_n = 0;
        return;
    }
    for (uint8_t i = 0; i < t->rx_sack_n;) {
        if (!seq_lt(tcb->rcv_nxt, t->rx_sack[i].start)) {
            t->rx_sack_n--;
            memmove(&t->rx_sack[i], &t->rx_sack[i + 1], sizeof(t->rx_sack[0]) * (size_t)(t->rx_sack_n - i));
            continue;
        }
        i++;
    }
}

/* Data [seq, end) arrived again (Linux's tcp_dsack_set): reported in the
 * first block of the next ACK (RFC 2883 §4), counted as old (below
 * RCV.NXT) or out-of-order. */
void sk_rx_dsack_set(sk_stack *s, sk_tcb *tcb, uint32_t seq, uint32_t end)
{
    if (!(tcb->negot & SK_N_SACK_OK) || !s->cfg.tcp_dsack || !seq_lt(seq, end))
        return;
    sk_tcb_ext *t = sk_tcb_ext_get(s, tcb);
    if (!t)
        return;
    sk_count(s, seq_lt(seq, tcb->rcv_nxt) ? SK_C_TCPEXT_TCP_DSACK_OLD_SENT : SK_C_TCPEXT_TCP_DSACK_OFO_SENT);
    t->rx_dsack = (sk_sack_block){seq, end};
    t->rx_dsack_set = true;
}

/* More duplicate data in the same segment (Linux's tcp_dsack_extend). */
void sk_rx_dsack_extend(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end)
{
    if (!t->ext || !t->ext->rx_dsack_set)
        sk_rx_dsack_set(s, t, seq, end);
    else
        block_extend(&t->ext->rx_dsack, seq, end);
}

uint32_t sk_rx_sack_pending(const sk_tcb *t)
{
    if (!t->ext)
        return 0;
    return (t->ext->rx_dsack_set ? 1u : 0u) + (t->ooo ? t->ext->rx_sack_n : 0u);
}

/* The blocks for the next segment: the D-SACK first, then the SACK blocks
 * by recency (Linux's tcp_options_write); a D-SACK is sent once. */
uint8_t sk_rx_sack_fill(sk_tcb *tcb, sk_sack_block *out, uint8_t max)
{
    sk_tcb_ext *t = tcb->ext;
    uint8_t n = 0;
    if (!t)
        return 0;
    if (t->rx_dsack_set && n < max)
        out[n++] = t->rx_dsack;
    t->rx_dsack_set = false;
    if (!tcb->ooo)
        t->rx_sack_n = 0;
    for (uint8_t i = 0; i < t->rx_sack_n && n < max; i++)
        out[n++] = t->rx_sack[i];
    return n;
}
