/*
 * Congestion control: Reno with NewReno recovery (RFC 5681, RFC 6582),
 * with Linux's initial window of 10 segments (RFC 6928).  Windows are
 * counted in segments, as Linux counts snd_cwnd.
 */
#include "internal.h"

void sk_cc_init(sk_stack *s, sk_tcb *t)
{
    (void)s;
    t->cwnd = SK_TCP_INIT_CWND;
    t->ssthresh = 0x7fffffff; /* Linux's TCP_INFINITE_SSTHRESH */
    t->cwnd_cnt = 0;
}

/* Linux's tcp_cwnd_validate(): remember, per window of data, whether the
 * sender was limited by cwnd or how many segments it had out at most. */
void sk_cc_validate(sk_tcb *t, bool cwnd_limited)
{
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    uint32_t packets_out = (t->snd_nxt - t->snd_una + mss - 1) / mss;
    if (!seq_lt(t->snd_una, t->cwnd_usage_seq) || cwnd_limited ||
        (!(t->flags & SK_F_CWND_LIMITED) && packets_out > t->max_packets_out)) {
        t->flags = cwnd_limited ? (t->flags | SK_F_CWND_LIMITED) : (t->flags & ~SK_F_CWND_LIMITED);
        t->max_packets_out = (uint16_t)(packets_out > 0xffff ? 0xffff : packets_out);
        t->cwnd_usage_seq = t->snd_nxt;
    }
}

/* Linux's tcp_is_cwnd_limited(): grow cwnd only if it was what held the
 * sender back (RFC 7661's concern); in slow start, until it is twice the
 * largest flight actually sent. */
static bool cwnd_limited(const sk_tcb *t)
{
    if (t->flags & SK_F_CWND_LIMITED)
        return true;
    if (t->cwnd < t->ssthresh)
        return t->cwnd < 2u * t->max_packets_out;
    return false;
}

void sk_cc_on_ack(sk_stack *s, sk_tcb *t, uint32_t acked)
{
    (void)s;
    if (!cwnd_limited(t))
        return;
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    uint32_t segs = (acked + mss - 1) / mss;
    if (!segs)
        return;
    if (t->cwnd < t->ssthresh) {
        /* Slow start (RFC 5681 §3.1), capped at ssthresh. */
        uint32_t room = t->ssthresh - t->cwnd;
        uint32_t inc = segs < room ? segs : room;
        t->cwnd += inc;
        segs -= inc;
        if (!segs)
            return;
    }
    /* Congestion avoidance: one segment per window of ACKed segments. */
    t->cwnd_cnt += segs;
    if (t->cwnd_cnt >= t->cwnd) {
        t->cwnd_cnt -= t->cwnd;
        t->cwnd++;
    }
}

static uint32_t half_flight(const sk_tcb *t)
{
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    uint32_t flight = (t->snd_nxt - t->snd_una + mss - 1) / mss;
    uint32_t h = flight / 2;
    return h < 2 ? 2 : h;
}

/* RFC 5681 §3.1 equation 4 and Linux's tcp_enter_loss: one segment. */
void sk_cc_on_rto(sk_stack *s, sk_tcb *t)
{
    (void)s;
    if (!(t->flags & SK_F_LOSS_RECOVERY))
        t->ssthresh = half_flight(t);
    t->cwnd = 1;
    t->cwnd_cnt = 0;
}

/* RFC 6582 §3.2 steps 1-3: three duplicate ACKs. */
void sk_cc_enter_recovery(sk_stack *s, sk_tcb *t)
{
    t->ssthresh = half_flight(t);
    /* With SACK the pipe estimate replaces window inflation (RFC 6675
     * §5): cwnd is ssthresh.  Without, NewReno inflates by the three
     * segments that left the network (RFC 6582 §3.2). */
    t->cwnd = (t->flags & SK_F_SACK_OK) ? t->ssthresh : t->ssthresh + 3;
    t->high_rxt = t->snd_una;
    t->recover = t->snd_nxt;
    t->tlp_high_seq = 0;
    t->flags |= SK_F_IN_RECOVERY;
    sk_count(s, (t->flags & SK_F_SACK_OK) ? SK_C_TCPEXT_TCP_SACK_RECOVERY : SK_C_TCPEXT_TCP_RENO_RECOVERY);
    sk_count(s, SK_C_TCPEXT_TCP_FAST_RETRANS);
}
