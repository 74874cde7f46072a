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

#include "internal.h"

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

uint32_t sk_sack_update(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    uint32_t news = 0;
    for (unsigned k = 0; k < seg->opts.sack_count; k++) {
        uint32_t start = seg->opts.sack[k].start, end = seg->opts.sack[k].end;
        if (!seq_lt(start, end))
            continue; /* empty or inverted: ignore (RFC 2018 §3) */
        if (seq_leq(end, seg->ack) || (k == 0 && seq_lt(start, seg->ack))) {
            /* A duplicate SACK (RFC 2883): data received twice. */
            sk_count(s, SK_C_TCPEXT_TCP_DSACK_RECV);
            continue;
        }
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

uint32_t sk_sack_high(const sk_tcb *t) { return t->sack_n ? t->sack_rb[t->sack_n - 1].end : t->snd_una; }

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
    if ((t->flags & SK_F_LOSS_RECOVERY) && seq_lt(t->rtx_nxt, t->snd_nxt)) {
        /* After an RTO everything not yet resent is presumed lost. */
        return hole_bytes(t, t->snd_una, t->rtx_nxt);
    }
    uint32_t pipe = hole_bytes(t, t->snd_una, end);
    if (t->flags & SK_F_IN_RECOVERY) {
        uint32_t high = sk_sack_high(t);
        uint32_t from = seq_max(t->high_rxt, t->snd_una);
        uint32_t lost = hole_bytes(t, from, high);
        pipe = pipe > lost ? pipe - lost : 0;
    }
    return pipe;
}
