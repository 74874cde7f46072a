/*
 * Congestion control.  CUBIC (RFC 9438) is the default, as on Linux, with
 * Linux's tcp_cubic choices where the RFC leaves room (integer scaling,
 * HyStart, the cap on the first epoch's growth); Reno (RFC 5681) can be
 * chosen per stack (net.ipv4.tcp_congestion_control) or per socket
 * (TCP_CONGESTION).  Loss recovery — NewReno (RFC 6582) or SACK
 * (RFC 6675) — is shared and asks the algorithm for ssthresh through
 * sk_cc_ssthresh, as Linux asks icsk_ca_ops->ssthresh.  Windows are
 * counted in segments, as Linux counts snd_cwnd; the initial window is
 * 10 segments (RFC 6928).
 *
 * CUBIC's clock is the stack's injected time in microseconds where Linux
 * counts jiffies, so the curve is the same whatever HZ would have been.
 */
#include <errno.h>
#include <string.h>

#include "cc.h"
#include "recycle.h"
#include "stack.h"

/* RFC 9438 §4.6: beta_cubic 0.7, as Linux's 717/1024. */
#define CUBIC_BETA 717u
#define CUBIC_BETA_SCALE 1024u
/* Time on the cubic curve is counted in 1/1024 s, so (t - K)^3 stays in
 * 64 bits for any window below a million segments. */
#define CUBIC_T_SHIFT 10
/* RFC 9438 §5.1's C = 0.4, as Linux has it: 410/1024 (bic_scale 41 × 10). */
#define CUBIC_C_1024 410u
/* K^3 = (W_max - cwnd) / C (RFC 9438 §4.2, eq. 2) in (1/1024 s)^3 per
 * segment: 2^30 / (410 / 1024). */
#define CUBIC_CUBE_FACTOR ((1ull << (3 * CUBIC_T_SHIFT + 10)) / CUBIC_C_1024)
/* RFC 9438 §4.3: W_est grows by alpha_cubic = 3(1-β)/(1+β) per window of
 * ACKed segments, i.e. one segment per cwnd / alpha ACKs; Linux keeps
 * 8 / alpha as the integer 15 and compares cwnd × 15 / 8 ACKs. */
#define CUBIC_RENO_ACKS_X8 (8u * (CUBIC_BETA_SCALE + CUBIC_BETA) / 3u / (CUBIC_BETA_SCALE - CUBIC_BETA))
/* Linux recomputes the curve's target at most every HZ/32 while cwnd
 * does not change. */
#define CUBIC_UPDATE_US (1000000u / 32u)
/* Linux's tcp_cubic: before the first loss (no W_max yet) cwnd grows at
 * most one segment per 20 ACKed, 5% per RTT, where the curve would be
 * flat at the origin. */
#define CUBIC_FIRST_EPOCH_CNT 20u

/* HyStart (Ha & Rhee, as Linux's tcp_cubic runs it): active once cwnd
 * reaches hystart_low_window; an ACK train is ACKs at most
 * hystart_ack_delta_us apart; delay detection wants HYSTART_MIN_SAMPLES
 * RTT samples in a round and a threshold of min_rtt / 8 clamped to
 * [4, 16] ms. */
#define HYSTART_LOW_WINDOW 16u
#define HYSTART_ACK_DELTA_US 2000u
#define HYSTART_MIN_SAMPLES 8u
#define HYSTART_DELAY_MIN_US 4000u
#define HYSTART_DELAY_MAX_US 16000u


static bool is_cubic(const sk_tcb *t) { return !t->cc_reno; }

/* Microseconds, offset by one so that 0 can mean "no epoch" even when
 * the injected clock starts at zero; only differences are used. */
static uint64_t cubic_now(const sk_stack *s) { return s->now / SK_NSEC_PER_USEC + 1; }

/* Linux's bictcp_hystart_reset: a new round of ACKs starts now. */
static void hystart_reset(const sk_stack *s, const sk_tcb *t, struct sk_cubic *c)
{
    c->round_start = c->last_ack = cubic_now(s);
    c->end_seq = t->snd_nxt;
    c->curr_rtt = UINT32_MAX;
    c->sample_cnt = 0;
}

/* Linux's bictcp_reset: the curve and the Reno estimate start over (the
 * HyStart round is kept). */
static void cubic_reset(struct sk_cubic *c)
{
    c->cnt = c->w_max = c->last_cwnd = c->origin = c->k = 0;
    c->delay_min = c->ack_cnt = c->w_est = 0;
    c->last_time = c->epoch_start = 0;
    c->found = false;
}

/* The state is allocated when a CUBIC connection first needs it, so an
 * idle connection costs only the pointer.  Linux starts the HyStart round
 * at establishment, so the first check after any ACK of data opens a new
 * round; an end just below snd_una gives the same.  NULL (out of memory)
 * makes the caller fall back to Reno's rule for this event. */
static struct sk_cubic *cubic_state(const sk_stack *s, sk_tcb *t)
{
    if (t->cubic)
        return t->cubic;
    struct sk_cubic *c = sk_recycle_take(s, &((sk_stack *)s)->cubic_bin, sizeof(*c));
    if (!c)
        return NULL;
    hystart_reset(s, t, c);
    /* Samples taken before the state existed are in the connection's
     * minimum RTT, which stands in for the delay_min they would have set. */
    c->delay_min = t->min_rtt_us;
    c->end_seq = t->snd_una - 1;
    c->mark_from = c->karn_end = t->snd_una;
    t->cubic = c;
    return c;
}

/* A run of data left (send_data_segment).  New data extends the marks;
 * resent data makes ACKs reaching below its end give no sample, as Linux
 * takes no RTT from a retransmitted skb (Karn). */
void sk_cc_sent(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len, bool retrans)
{
    struct sk_cubic *c = t->cubic;
    if (!c || !is_cubic(t))
        return;
    uint32_t end = seq + len;
    if (retrans) {
        if (seq_gt(end, c->karn_end))
            c->karn_end = end;
        return;
    }
    uint32_t now = sk_us_now(s);
    unsigned last = (c->mark_head + c->mark_n + SK_CUBIC_MARKS - 1u) % SK_CUBIC_MARKS;
    uint32_t next = c->mark_n ? c->marks[last].end : c->mark_from;
    if (seq != next) {
        /* Not contiguous (data went unrecorded): start over from here. */
        c->mark_n = 0;
        c->mark_from = seq;
    } else if (c->mark_n && c->marks[last].at_us == now) {
        c->marks[last].end = end; /* same instant: the same run */
        return;
    }
    if (c->mark_n == SK_CUBIC_MARKS) {
        /* Full: this run goes unrecorded; ACKs reaching it will find the
         * marks end short of them and give no sample until they drain. */
        return;
    }
    unsigned slot = (c->mark_head + c->mark_n) % SK_CUBIC_MARKS;
    c->marks[slot].end = end;
    c->marks[slot].at_us = now;
    c->mark_n++;
}

/* Linux's ca_rtt: the time since the newest segment this ACK covers was
 * sent, -1 if unknown or resent.  Marks wholly acknowledged are dropped. */
static int64_t marked_rtt(const sk_stack *s, sk_tcb *t, struct sk_cubic *c, uint32_t prior_una)
{
    uint32_t ack = t->snd_una;
    bool karn = seq_lt(prior_una, c->karn_end);
    int64_t rtt = -1;
    while (c->mark_n && seq_lt(c->mark_from, ack)) {
        unsigned i = c->mark_head;
        if (seq_gt(c->marks[i].end, prior_una))
            rtt = (uint32_t)(sk_us_now(s) - c->marks[i].at_us);
        if (seq_gt(c->marks[i].end, ack))
            return karn ? -1 : rtt;
        c->mark_from = c->marks[i].end;
        c->mark_head = (uint8_t)((c->mark_head + 1u) % SK_CUBIC_MARKS);
        c->mark_n--;
    }
    /* Past the last mark: the newest segment covered was not recorded. */
    if (!c->mark_n && seq_lt(c->mark_from, ack)) {
        c->mark_from = ack;
        return -1;
    }
    return karn ? -1 : rtt;
}

void sk_cc_free(sk_stack *s, sk_tcb *t)
{
    if (!t->cubic)
        return;
    sk_recycle_give(s, &s->cubic_bin, t->cubic);
    t->cubic = NULL;
}

void sk_cc_init(sk_stack *s, sk_tcb *t)
{
    (void)s;
    t->cwnd = SK_TCP_INIT_CWND;
    t->ssthresh = 0x7fffffff; /* Linux's TCP_INFINITE_SSTHRESH */
    t->cwnd_cnt = 0;
    sk_cc_free(s, t); /* CUBIC starts afresh (Linux's cubictcp_init) */
}

const char *sk_cc_name(const sk_tcb *t) { return is_cubic(t) ? "cubic" : "reno"; }

/* TCP_CONGESTION, or the sysctl at socket creation.  Changing algorithm
 * keeps cwnd and ssthresh and starts the new one's state afresh, as
 * Linux's tcp_reinit_congestion_control does. */
int sk_cc_select(sk_stack *s, sk_tcb *t, const char *name)
{
    (void)s;
    bool reno;
    if (strcmp(name, "reno") == 0)
        reno = true;
    else if (strcmp(name, "cubic") == 0)
        reno = false;
    else
        return -ENOENT; /* what Linux answers for an algorithm it lacks */
    if (t->cc_reno != reno) {
        t->cc_reno = reno;
        sk_cc_free(s, t);
    }
    return 0;
}

/* Linux's tcp_cwnd_validate(): remember, per window of data, whether the
 * sender was limited by cwnd or how many segments it had out at most. */
void sk_cc_validate(sk_tcb *t, bool cwnd_limited)
{
    uint32_t packets_out = sk_packets_out(t);
    if (!seq_lt(t->snd_una, t->cwnd_usage_seq) || cwnd_limited ||
        (!(t->xflags & SK_X_CWND_LIMITED) && packets_out > t->max_packets_out)) {
        t->xflags = cwnd_limited ? (t->xflags | SK_X_CWND_LIMITED) : (t->xflags & ~SK_X_CWND_LIMITED);
        t->max_packets_out = (uint16_t)(packets_out > 0xffff ? 0xffff : packets_out);
        t->cwnd_usage_seq = t->snd_nxt;
    }
}

/* Linux's tcp_is_cwnd_limited(): grow cwnd only if it was what held the
 * sender back (RFC 7661's concern); in slow start, until it is twice the
 * largest flight actually sent. */
bool sk_cc_cwnd_limited(const sk_tcb *t)
{
    if (t->xflags & SK_X_CWND_LIMITED)
        return true;
    if (t->cwnd < t->ssthresh)
        return t->cwnd < 2u * t->max_packets_out;
    return false;
}

/* floor(cbrt(a)), a digit (three bits) at a time.  Linux estimates the
 * root from a table and one Newton step, within a few parts per thousand
 * of this; K only moves by about a millisecond either way. */
static uint32_t cube_root(uint64_t a)
{
    uint64_t y = 0;
    for (int shift = 63; shift >= 0; shift -= 3) {
        y <<= 1;
        /* (2y + 1)^3 - (2y)^3 = 3·2y(2y + 1) + 1, in units of 2^shift. */
        uint64_t step = 3 * y * (y + 1) + 1;
        if ((a >> shift) >= step) {
            a -= step << shift;
            y++;
        }
    }
    return (uint32_t)y;
}

/* RFC 9438 §4.2-4.4 as Linux's bictcp_update: how many ACKed segments
 * should raise cwnd by one (c->cnt) so that cwnd follows the cubic curve
 * W_cubic(t + RTT), or the Reno estimate W_est where that is larger. */
static void cubic_update(const sk_stack *s, sk_tcb *t, struct sk_cubic *c, uint32_t acked)
{
    uint32_t cwnd = t->cwnd;
    uint64_t now = cubic_now(s);
    c->ack_cnt += acked;
    if (c->last_cwnd == cwnd && now - c->last_time <= CUBIC_UPDATE_US)
        return;
    /* A cwnd reduction zeroes epoch_start, so a new epoch is always
     * computed; otherwise the curve moves at most once per clock tick. */
    if (!c->epoch_start || now != c->last_time) {
        c->last_cwnd = cwnd;
        c->last_time = now;
        if (!c->epoch_start) {
            /* RFC 9438 §4.2: a new congestion-avoidance epoch. */
            c->epoch_start = now;
            c->ack_cnt = acked;
            c->w_est = cwnd;
            if (c->w_max <= cwnd) {
                c->k = 0;
                c->origin = cwnd;
            } else {
                c->k = cube_root(CUBIC_CUBE_FACTOR * (c->w_max - cwnd));
                c->origin = c->w_max;
            }
        }
        /* RFC 9438 §4.2: the target is the curve one RTT ahead (Linux
         * uses the smallest RTT seen). */
        uint64_t t_us = now - c->epoch_start + c->delay_min;
        uint64_t tt = (t_us << CUBIC_T_SHIFT) / 1000000u;
        uint64_t offs = tt < c->k ? c->k - tt : tt - c->k;
        if (offs > (1u << 18))
            offs = 1u << 18; /* 256 s past K: keeps the cube in 64 bits */
        uint64_t delta = (CUBIC_C_1024 * offs * offs * offs) >> (10 + 3 * CUBIC_T_SHIFT);
        uint64_t target;
        if (tt < c->k)
            target = delta < c->origin ? c->origin - delta : 0;
        else
            target = c->origin + delta;
        /* RFC 9438 §4.4-4.5: (target - cwnd) / cwnd per ACK. */
        if (target > cwnd) {
            uint64_t cnt = cwnd / (target - cwnd);
            c->cnt = (uint32_t)cnt;
        } else {
            c->cnt = 100u * cwnd; /* on or above the curve: barely grow */
        }
        if (!c->w_max && c->cnt > CUBIC_FIRST_EPOCH_CNT)
            c->cnt = CUBIC_FIRST_EPOCH_CNT;
    }

    /* RFC 9438 §4.3, the Reno-friendly region: W_est grows as AIMD with
     * alpha_cubic would, and cwnd grows at least as fast. */
    uint32_t per = (cwnd * CUBIC_RENO_ACKS_X8) >> 3;
    if (per && c->ack_cnt > per) {
        uint32_t n = (c->ack_cnt - 1) / per;
        c->ack_cnt -= n * per;
        c->w_est += n;
    }
    if (c->w_est > cwnd) {
        uint32_t max_cnt = cwnd / (c->w_est - cwnd);
        if (c->cnt > max_cnt)
            c->cnt = max_cnt;
    }
    /* At most one segment per two ACKed: 1.5× per RTT (RFC 9438 §4.4). */
    if (c->cnt < 2)
        c->cnt = 2;
}

/* Linux's hystart_update: leave slow start (ssthresh = cwnd) when the ACKs
 * of a round keep coming back-to-back for longer than half the minimum
 * RTT (the pipe is full), or when a round's smallest RTT sample rose
 * clearly above the minimum (a queue is building). */
static void hystart_update(sk_stack *s, sk_tcb *t, struct sk_cubic *c, uint32_t delay)
{
    if (seq_gt(t->snd_una, c->end_seq))
        hystart_reset(s, t, c);
    uint64_t now = cubic_now(s);
    if (now - c->last_ack <= HYSTART_ACK_DELTA_US) {
        c->last_ack = now;
        /* Half: an unpaced sender's ACK train spans only part of the RTT
         * (Linux halves delay_min when the socket is not paced). */
        if (now - c->round_start > c->delay_min / 2) {
            c->found = true;
            t->ssthresh = t->cwnd;
        }
    }
    if (c->curr_rtt > delay)
        c->curr_rtt = delay;
    if (c->sample_cnt < HYSTART_MIN_SAMPLES) {
        c->sample_cnt++;
    } else {
        uint32_t thresh = c->delay_min >> 3;
        if (thresh < HYSTART_DELAY_MIN_US)
            thresh = HYSTART_DELAY_MIN_US;
        if (thresh > HYSTART_DELAY_MAX_US)
            thresh = HYSTART_DELAY_MAX_US;
        if (c->curr_rtt > c->delay_min + thresh) {
            c->found = true;
            t->ssthresh = t->cwnd;
        }
    }
}

/* Every ACK of new data (`acked` bytes, snd_una already moved), in
 * recovery too, before any window change (Linux's pkts_acked hook);
 * rtt_us < 0 when the ACK gave the RTT estimator no sample. */
void sk_cc_pkts_acked(sk_stack *s, sk_tcb *t, uint32_t acked, int64_t rtt_us)
{
    if (!is_cubic(t) || (rtt_us < 0 && !t->cubic))
        return;
    /* CUBIC acts only on a window the sender fills (Linux calls
     * cong_avoid only when tcp_is_cwnd_limited): until then the samples
     * only lower delay_min, which the state takes from min_rtt when it is
     * created, so request/response connections never allocate it. */
    if (!t->cubic && !sk_cc_cwnd_limited(t))
        return;
    struct sk_cubic *c = cubic_state(s, t);
    if (!c)
        return;
    /* Prefer the send time of what this ACK covers, as Linux's skb
     * timestamps give; the timestamp option or the timed segment
     * otherwise. */
    int64_t marked = marked_rtt(s, t, c, t->snd_una - acked);
    if (marked >= 0)
        rtt_us = marked;
    if (rtt_us < 0)
        return;
    /* Linux's cubictcp_acked ignores delays for a second after a new
     * epoch began: queues left by recovery would inflate them. */
    if (c->epoch_start && cubic_now(s) - c->epoch_start < 1000000u)
        return;
    uint32_t delay = rtt_us > 0 ? (rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us) : 1u;
    if (!c->delay_min || c->delay_min > delay)
        c->delay_min = delay;
    if (!c->found && t->cwnd < t->ssthresh && t->cwnd >= HYSTART_LOW_WINDOW)
        hystart_update(s, t, c, delay);
}

/* Linux's tcp_cong_avoid_ai(): one segment per w ACKed; credit earned
 * under a larger w is spent at once. */
static void cong_avoid_ai(sk_tcb *t, uint32_t w, uint32_t acked)
{
    if (t->cwnd_cnt >= w) {
        t->cwnd_cnt = 0;
        t->cwnd++;
    }
    t->cwnd_cnt += acked;
    if (t->cwnd_cnt >= w) {
        uint32_t n = t->cwnd_cnt / w;
        t->cwnd_cnt -= n * w;
        t->cwnd += n;
    }
}

void sk_cc_on_ack(sk_stack *s, sk_tcb *t, uint32_t acked)
{
    if (!sk_cc_cwnd_limited(t))
        return;
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    uint32_t segs = (acked + mss - 1) / mss;
    if (!segs)
        return;
    if (t->cwnd < t->ssthresh) {
        /* Slow start (RFC 5681 §3.1, RFC 9438 §4.10), capped at ssthresh;
         * what is left grows the window in congestion avoidance. */
        uint32_t room = t->ssthresh - t->cwnd;
        uint32_t inc = segs < room ? segs : room;
        t->cwnd += inc;
        segs -= inc;
        if (!segs)
            return;
    }
    uint32_t w = t->cwnd; /* Reno: one segment per window (RFC 5681 §3.1) */
    struct sk_cubic *c = is_cubic(t) ? cubic_state(s, t) : NULL;
    if (c) {
        cubic_update(s, t, c, segs);
        w = c->cnt;
    }
    cong_avoid_ai(t, w, segs);
}

/* The window after a loss (Linux's icsk_ca_ops->ssthresh).  Reno halves
 * cwnd (Linux's tcp_reno_ssthresh).  CUBIC multiplies it by beta_cubic
 * (RFC 9438 §4.6) and remembers W_max, lowered further when this loss
 * came below the last one (fast convergence, §4.7); the curve restarts
 * with the next congestion avoidance. */
uint32_t sk_cc_ssthresh(sk_stack *s, sk_tcb *t)
{
    uint32_t cwnd = t->cwnd;
    struct sk_cubic *c = is_cubic(t) ? cubic_state(s, t) : NULL;
    if (!is_cubic(t)) {
        uint32_t half = cwnd >> 1;
        return half < 2 ? 2 : half;
    }
    if (c) {
        c->epoch_start = 0;
        if (cwnd < c->w_max)
            c->w_max = (uint32_t)((uint64_t)cwnd * (CUBIC_BETA_SCALE + CUBIC_BETA) / (2 * CUBIC_BETA_SCALE));
        else
            c->w_max = cwnd;
    }
    uint32_t ss = (uint32_t)((uint64_t)cwnd * CUBIC_BETA / CUBIC_BETA_SCALE);
    return ss < 2 ? 2 : ss;
}

/* Sending new data with nothing in flight (Linux's CA_EVENT_TX_START):
 * CUBIC's epoch moves forward by the idle time, so the curve does not
 * count the silence as time spent growing (Linux's cubictcp_cwnd_event).
 * Call before last_data_sent is updated. */
void sk_cc_tx_start(sk_stack *s, sk_tcb *t)
{
    struct sk_cubic *c = t->cubic;
    if (!c || !c->epoch_start || !is_cubic(t) || !t->last_data_sent)
        return;
    uint64_t idle_us = (uint64_t)(sk_stamp)(sk_stamp_now(s) - t->last_data_sent) * 1000u;
    if (!idle_us)
        return;
    uint64_t now = cubic_now(s);
    c->epoch_start += idle_us;
    if (c->epoch_start > now)
        c->epoch_start = now;
}

/* RFC 5681 §3.1 equation 4 and Linux's tcp_enter_loss: one segment.
 * ssthresh is taken again unless this RTO only continues the loss episode
 * already being repaired (Linux: still in Recovery below high_seq, or in
 * Loss with retransmissions unanswered). */
void sk_cc_on_rto(sk_stack *s, sk_tcb *t)
{
    /* CWR is a cwnd reduction like Recovery (tcp_enter_loss: high_seq). */
    bool in_recovery = t->ca_state == SK_CA_RECOVERY || t->ca_state == SK_CA_CWR;
    bool in_loss = t->ca_state == SK_CA_LOSS;
    if ((!in_recovery && !in_loss) || !seq_gt(t->recover, t->snd_una) || (in_loss && !t->retransmits))
        t->ssthresh = sk_cc_ssthresh(s, t);
    t->recover = t->snd_nxt;
    t->cwnd = 1;
    t->cwnd_cnt = 0;
    /* Loss replaces CWR (the caller sets it); the peer learns of the
     * reduction from CWR on the next new data (tcp_enter_loss calls
     * tcp_ecn_queue_cwr). */
    if (t->ecn & SK_ECN_OK)
        t->ecn |= SK_ECN_QUEUE_CWR;
    /* Linux's cubictcp_state on entering Loss: the curve, W_max and the
     * minimum RTT are forgotten and a HyStart round begins. */
    if (t->cubic && is_cubic(t)) {
        cubic_reset(t->cubic);
        hystart_reset(s, t, t->cubic);
    }
}

/* RFC 6582 §3.2 steps 1-3: three duplicate ACKs. */
void sk_cc_enter_recovery(sk_stack *s, sk_tcb *t)
{
    /* Linux's tcp_enter_recovery(): from CWR (an ECN echo, RFC 3168
     * §6.1.2) the window was already reduced for this round trip, so
     * ssthresh and the recovery point (high_seq) stay. */
    bool in_cwr = t->ca_state == SK_CA_CWR;
    if (!in_cwr) {
        t->ssthresh = sk_cc_ssthresh(s, t);
        t->recover = t->snd_nxt;
    }
    /* With SACK the pipe estimate replaces window inflation (RFC 6675
     * §5): cwnd is ssthresh.  Without, NewReno inflates by the three
     * segments that left the network (RFC 6582 §3.2). */
    t->cwnd = (t->negot & SK_N_SACK_OK) ? t->ssthresh : t->ssthresh + 3;
    t->high_rxt = t->snd_una;
    t->tlp_high_seq = 0;
    /* tcp_init_cwnd_reduction: the reduction is signalled with CWR
     * (RFC 3168 §6.1.2); Recovery replaces CWR (tcp_enter_recovery). */
    sk_set_ca_state(t, SK_CA_RECOVERY);
    if (t->ecn & SK_ECN_OK)
        t->ecn |= SK_ECN_QUEUE_CWR;
    sk_count(s, (t->negot & SK_N_SACK_OK) ? SK_C_TCPEXT_TCP_SACK_RECOVERY : SK_C_TCPEXT_TCP_RENO_RECOVERY);
}
