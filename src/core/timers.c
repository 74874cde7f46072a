/*
 * Connection timers.  Each TCB owns one wheel entry armed at the earliest
 * of its deadlines (retransmission/persist, delayed ACK, keepalive); when
 * it fires, whatever is due runs and the entry is re-armed.  Deadlines that
 * move later (every ACK pushes the RTO out) do not touch the wheel: the
 * entry fires early, finds nothing due and re-arms — Linux's lazy timer
 * trick, which keeps the per-ACK cost at zero.
 */
#include "timers.h"
#include "cc.h"
#include "eor.h"
#include "events.h"
#include "fastopen.h"
#include "icmp.h"
#include "output.h"
#include "rack.h"
#include "stack.h"

static uint32_t sk_rto_min_us(const sk_stack *s) { return (uint32_t)s->cfg.tcp_rto_min_us; }
static uint32_t sk_rto_max_us(const sk_stack *s) { return (uint32_t)s->cfg.tcp_rto_max_ms * 1000u; }

/* RFC 6298 §2 as Linux's tcp_rtt_estimator() computes it: srtt_us is
 * kept ×8, mdev_us ×4, and rttvar never drops below tcp_rto_min within a
 * window of data, so RTO = srtt + rttvar is at least 200 ms above srtt. */
void sk_rtt_sample(sk_stack *s, sk_tcb *t, uint32_t rtt_us)
{
    int64_t m = rtt_us ? rtt_us : 1;
    uint32_t rto_min = sk_rto_min_us(s);
    if (!t->min_rtt_us || rtt_us < t->min_rtt_us)
        t->min_rtt_us = rtt_us ? rtt_us : 1;
    if (t->srtt_us) {
        int64_t srtt = t->srtt_us;
        m -= srtt >> 3;
        srtt += m;
        if (m < 0) {
            m = -m;
            m -= t->mdev_us >> 2;
            if (m > 0)
                m >>= 3;
        } else {
            m -= t->mdev_us >> 2;
        }
        t->mdev_us = (uint32_t)((int64_t)t->mdev_us + m);
        if (t->mdev_us > t->rttvar_us)
            t->rttvar_us = t->mdev_us;
        else
            t->rttvar_us -= (t->rttvar_us - (t->mdev_us > rto_min ? t->mdev_us : rto_min)) >> 2;
        t->srtt_us = srtt > 1 ? (uint32_t)srtt : 1;
    } else {
        t->srtt_us = (uint32_t)(m << 3);
        t->mdev_us = (uint32_t)(m << 1);
        t->rttvar_us = t->mdev_us > rto_min ? t->mdev_us : rto_min;
    }
    uint64_t rto = (uint64_t)(t->srtt_us >> 3) + t->rttvar_us;
    if (rto > sk_rto_max_us(s))
        rto = sk_rto_max_us(s);
    t->rto_us = (uint32_t)rto;
}

/* The current retransmission timeout with exponential backoff (RFC 6298
 * §5.5), capped at tcp_rto_max. */
sk_time_ns sk_current_rto(const sk_stack *s, const sk_tcb *t)
{
    uint64_t rto = t->rto_us ? t->rto_us : SK_TCP_TIMEOUT_INIT / SK_NSEC_PER_USEC;
    uint64_t max = sk_rto_max_us(s);
    for (unsigned i = 0; i < t->backoff && rto < max; i++)
        rto <<= 1;
    if (rto > max)
        rto = max;
    return rto * SK_NSEC_PER_USEC;
}

void sk_tcb_timer_update(sk_stack *s, sk_tcb *t)
{
    sk_time_ns d = SK_TIME_NEVER;
    if (t->rto_at && t->rto_at < d)
        d = t->rto_at;
    if (t->delack_at && t->delack_at < d)
        d = t->delack_at;
    if (t->keepalive_at && t->keepalive_at < d)
        d = t->keepalive_at;
    /* Nothing due: the timer is left where it is, as Linux's
     * inet_csk_clear_xmit_timer() only clears the pending mark (its
     * INET_CSK_CLEAR_TIMERS is off): the next arming is then usually later
     * than the stale expiry and costs no wheel work at all, and a stale
     * expiry that does come fires into sk_tcb_timer_fire, which finds
     * nothing due and ends here again, this time idle. */
    if (d == SK_TIME_NEVER)
        return;
    uint64_t tick = sk_ns_to_tick(d);
    if (sk_timer_pending(&t->timer) && t->timer.expires <= tick)
        return; /* fires early, re-arms then */
    sk_wheel_add(&s->tcb_wheel, &t->timer, tick);
}

void sk_arm_rto(sk_stack *s, sk_tcb *t)
{
    t->xflags &= ~(SK_X_TLP_ARMED | SK_X_REO_ARMED);
    t->rto_at = s->now + sk_current_rto(s, t);
    sk_tcb_timer_update(s, t);
}

/* Tail loss probe (RFC 8985 §7) as Linux's tcp_schedule_loss_probe():
 * for SACK connections not in recovery, probe after two smoothed RTTs
 * (plus the minimum RTO when a single segment is out, to allow for a
 * delayed ACK), unless the RTO would come first. */
bool sk_schedule_loss_probe(sk_stack *s, sk_tcb *t, bool advancing_rto)
{
    if (t->snd_una == t->snd_nxt || !(t->negot & SK_N_SACK_OK) ||
        (t->ca_state >= SK_CA_RECOVERY || (t->xflags & SK_X_PERSIST)))
        return false;
    /* Only in the Open state (Linux): in Disorder RACK's timer watches. */
    if (t->rack && (t->rack->sacked_out || t->rack->lost_out || t->rack->retrans_out))
        return false;
    if (t->state != SK_TCP_ESTABLISHED && t->state != SK_TCP_CLOSE_WAIT && t->state != SK_TCP_FIN_WAIT1 &&
        t->state != SK_TCP_CLOSING && t->state != SK_TCP_LAST_ACK)
        return false;
    sk_time_ns timeout;
    if (t->srtt_us) {
        uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
        /* One segment out (Linux's packets_out == 1) without dividing. */
        bool one_out = t->snd_nxt - t->snd_una <= mss;
        uint64_t us = t->srtt_us >> 2;
        us += one_out ? sk_rto_min_us(s) : 2000u; /* TCP_TIMEOUT_MIN */
        timeout = us * SK_NSEC_PER_USEC;
    } else {
        timeout = SK_TCP_TIMEOUT_INIT;
    }
    sk_time_ns rto_delta = sk_current_rto(s, t);
    if (!advancing_rto && t->rto_at && !(t->xflags & SK_X_TLP_ARMED))
        rto_delta = t->rto_at > s->now ? t->rto_at - s->now : 0;
    if (rto_delta && rto_delta < timeout)
        timeout = rto_delta;
    t->rto_at = s->now + timeout;
    t->xflags = (t->xflags & ~SK_X_REO_ARMED) | SK_X_TLP_ARMED;
    sk_tcb_timer_update(s, t);
    return true;
}

/* Linux's tcp_set_xmit_timer(), after an ACK of new data. */
void sk_set_xmit_timer(sk_stack *s, sk_tcb *t)
{
    if (!sk_schedule_loss_probe(s, t, true))
        sk_arm_rto(s, t);
}

/* Linux's tcp_send_delayed_ack(): the timeout is the ATO — 0 before any
 * data arrived (so e.g. a bare FIN is ACKed at once), else at least 40 ms
 * and at most 200 ms when interactive or 500 ms otherwise, bounded by the
 * smoothed RTT. */
void sk_arm_delack(sk_stack *s, sk_tcb *t)
{
    sk_time_ns ato = (sk_time_ns)t->ato_us * SK_NSEC_PER_USEC;
    if (ato > SK_TCP_ATO_MIN) {
        sk_time_ns max_ato = (t->xflags & SK_X_PINGPONG) ? SK_TCP_DELACK_MAX : SK_MS(500);
        if (t->srtt_us) {
            sk_time_ns rtt = (sk_time_ns)(t->srtt_us >> 3) * SK_NSEC_PER_USEC;
            if (rtt < SK_TCP_ATO_MIN)
                rtt = SK_TCP_ATO_MIN;
            if (rtt < max_ato)
                max_ato = rtt;
        }
        if (ato > max_ato)
            ato = max_ato;
    }
    if (ato == 0) {
        t->xflags |= SK_X_ACK_NOW; /* Linux's timer would fire on the next jiffy */
        return;
    }
    sk_time_ns when = s->now + ato;
    if (t->delack_at && t->delack_at <= when)
        return; /* an earlier delayed ACK is already due */
    t->delack_at = when;
    sk_tcb_timer_update(s, t);
}

static sk_time_ns keepidle(const sk_stack *s, const sk_tcb *t)
{
    return SK_SEC(t->keepidle_s ? t->keepidle_s : (uint32_t)s->cfg.tcp_keepalive_time);
}

static sk_time_ns keepintvl(const sk_stack *s, const sk_tcb *t)
{
    return SK_SEC(t->keepintvl_s ? t->keepintvl_s : (uint32_t)s->cfg.tcp_keepalive_intvl);
}

static unsigned keepcnt(const sk_stack *s, const sk_tcb *t)
{
    return t->keepcnt ? t->keepcnt : (unsigned)s->cfg.tcp_keepalive_probes;
}

void sk_arm_keepalive(sk_stack *s, sk_tcb *t)
{
    if (!(t->sopts & SK_O_KEEPALIVE) || t->state == SK_TCP_LISTEN || t->state == SK_TCP_CLOSE ||
        t->state == SK_TCP_SYN_SENT) {
        t->keepalive_at = 0;
    } else {
        sk_time_ns base = s->now - sk_since(s, t->lrcvtime);
        t->keepalive_at = base + keepidle(s, t);
        if (t->keepalive_at <= s->now)
            t->keepalive_at = s->now + SK_NSEC_PER_MSEC;
    }
    sk_tcb_timer_update(s, t);
}

/* Linux's retransmits_timed_out(): the time `boundary` doublings of the
 * minimum RTO would take, linear once the RTO reaches its maximum —
 * tcp_retries2 = 15 gives 924.6 s. */
static sk_time_ns retries_timeout(const sk_stack *s, unsigned boundary)
{
    uint64_t base = sk_rto_min_us(s) ? sk_rto_min_us(s) : 200000;
    uint64_t max = sk_rto_max_us(s);
    unsigned thresh = 0;
    while ((base << (thresh + 1)) <= max && thresh < 31)
        thresh++;
    uint64_t us;
    if (boundary <= thresh)
        us = ((2ull << boundary) - 1) * base;
    else
        us = ((2ull << thresh) - 1) * base + (uint64_t)(boundary - thresh) * max;
    return us * SK_NSEC_PER_USEC;
}

static void write_err(sk_stack *s, sk_tcb *t, sk_state_cause cause)
{
    /* tcp_write_err: a soft error an ICMP left says more than ETIMEDOUT. */
    int soft = sk_take_err_soft(t);
    t->so_error = (int16_t)(soft ? soft : ETIMEDOUT);
    sk_count(s, SK_C_TCPEXT_TCP_ABORT_ON_TIMEOUT);
    sk_ring_free(s, &t->sndq);
    sk_tcb_done(s, t, cause);
}

/* The persist (zero-window / local congestion) timer: Linux's
 * tcp_probe_timer() and tcp_send_probe0().  The peer is probed while
 * data waits with nothing in flight; a live peer keeps the connection
 * open indefinitely (RFC 1122 §4.2.2.17), but TCP_USER_TIMEOUT counts
 * from the first probe, and orphans give up after tcp_orphan_retries.
 * Returns false when the TCB is gone. */
static bool on_probe_timer(sk_stack *s, sk_tcb *t)
{
    bool pending = t->sndq.len || ((t->sflags & SK_S_SHUT_WR) && !(t->xflags & SK_X_FIN_SENT));
    if (!pending) {
        t->probes_out = 0;
        t->probes_stamp = 0;
        return true;
    }
    if (!t->probes_stamp) {
        t->probes_stamp = sk_stamp_now(s);
    } else if (sk_user_timeout_ms(t) && sk_since(s, t->probes_stamp) >= SK_MS(sk_user_timeout_ms(t))) {
        write_err(s, t, SK_CAUSE_USER_TIMEOUT_PROBING);
        return false;
    }
    unsigned max_probes = (t->sflags & SK_S_ORPHAN)
                              ? (s->cfg.tcp_orphan_retries ? (unsigned)s->cfg.tcp_orphan_retries : 8)
                              : (unsigned)s->cfg.tcp_retries2;
    if (t->probes_out >= max_probes) {
        write_err(s, t, SK_CAUSE_ZERO_WINDOW_PROBES);
        return false;
    }
    t->xflags |= SK_X_PERSIST;
    sk_write_wakeup(s, t);
    bool failed = s->xmit_failed;
    if (t->snd_una != t->snd_nxt) {
        /* Data went out: the retransmission timer takes over. */
        t->probes_out = 0;
        t->backoff = 0;
        t->probes_stamp = 0;
        t->xflags &= ~SK_X_PERSIST;
        t->rto_at = s->now + sk_current_rto(s, t);
        return true;
    }
    t->probes_out++;
    sk_time_ns timeout;
    if (!failed) {
        if (t->backoff < (unsigned)s->cfg.tcp_retries2 && t->backoff < 31)
            t->backoff++;
        timeout = sk_current_rto(s, t);
    } else {
        timeout = SK_TCP_RESOURCE_PROBE_INTERVAL; /* local congestion: no backoff */
    }
    if (sk_user_timeout_ms(t)) {
        /* Linux's tcp_clamp_probe0_to_user_timeout(). */
        sk_time_ns end = s->now - sk_since(s, t->probes_stamp) + SK_MS(sk_user_timeout_ms(t));
        if (end > s->now && end - s->now < timeout)
            timeout = end - s->now;
    }
    t->rto_at = s->now + timeout;
    return true;
}

/* Returns false when the TCB is gone. */
static bool on_retransmit_timer(sk_stack *s, sk_tcb *t)
{
    sk_emit_tcb_timer(s, t, "retransmit");
    /* Linux's tcp_write_timeout() ends with sk_rethink_txhash(): every
     * timeout picks a new flow hash, so an IPv6 connection's flow label
     * changes and ECMP may route the retransmission another way. */
    if (t->af6) {
        sk_tcb_ext *x = sk_tcb_ext_get(s, t);
        if (x)
            x->txhash_gen++;
    }
    if (t->state == SK_TCP_SYN_SENT || (t->state == SK_TCP_SYN_RECV && !(t->sflags & SK_S_WAS_ESTABLISHED))) {
        unsigned limit = t->state == SK_TCP_SYN_SENT
                             ? (t->syn_retries ? t->syn_retries : (unsigned)s->cfg.tcp_syn_retries)
                             : (unsigned)s->cfg.tcp_synack_retries;
        if (t->state == SK_TCP_SYN_SENT && t->tfo)
            sk_fastopen_syn_timeout(s, t, t->retransmits >= limit);
        /* tcp_retransmit_timer counts the timeout before deciding to
         * give up, so the last one counts too. */
        sk_count(s, SK_C_TCPEXT_TCP_TIMEOUTS);
        if (t->retransmits >= limit) {
            write_err(s, t, SK_CAUSE_SYN_RETRIES);
            return false;
        }
        sk_retransmit_head(s, t);
        t->retransmits++;
        t->backoff++;
        sk_arm_rto(s, t);
        return true;
    }

    bool outstanding = t->snd_una != t->snd_nxt;
    if (!outstanding)
        return on_probe_timer(s, t);

    /* Give up after tcp_retries2 (or TCP_USER_TIMEOUT, or
     * tcp_orphan_retries for orphans), measured as Linux measures it:
     * elapsed time since the first retransmission. */
    /* Counted before the give-up test, as tcp_retransmit_timer does; not
     * when the peer's window is zero (its own path there, uncounted). */
    if (t->snd_wnd || (t->sflags & SK_S_ORPHAN))
        sk_count(s, SK_C_TCPEXT_TCP_TIMEOUTS);
    /* tcp_write_timeout: after tcp_retries1 worth of timeouts the path
     * may be a PMTU black hole (RFC 4821 §4.3; pmtu.c). */
    if (t->retransmits && t->retrans_stamp &&
        sk_since(s, t->retrans_stamp) >= retries_timeout(s, (unsigned)s->cfg.tcp_retries1))
        sk_mtu_probing_on_timeout(s, t);
    sk_time_ns limit;
    if (sk_user_timeout_ms(t))
        limit = SK_MS(sk_user_timeout_ms(t));
    else if (t->sflags & SK_S_ORPHAN)
        limit = retries_timeout(s, s->cfg.tcp_orphan_retries ? (unsigned)s->cfg.tcp_orphan_retries : 8);
    else
        limit = retries_timeout(s, (unsigned)s->cfg.tcp_retries2);
    if (t->retrans_stamp && sk_since(s, t->retrans_stamp) >= limit) {
        write_err(s, t, SK_CAUSE_RETRANSMISSIONS);
        return false;
    }

    sk_cc_on_rto(s, t);
    t->tlp_high_seq = 0;
    /* Everything in flight is presumed lost and resent, oldest first, as
     * the congestion window reopens (RFC 5681 §3.1, Linux tcp_enter_loss);
     * snd_nxt stays where it is, so ACKs keep an acceptable sequence. */
    sk_set_ca_state(t, SK_CA_LOSS); /* replaces Open, Disorder, CWR or Recovery */
    sk_rack_mark_all_lost(t);
    t->rtx_nxt = t->snd_una;
    t->high_rxt = t->snd_una;
    t->xflags &= ~SK_X_RTT_PENDING;
    t->dupacks = 0;
    sk_retransmit_head(s, t);
    t->retransmits++;
    if (t->backoff < 31)
        t->backoff++;
    sk_time_ns next = sk_current_rto(s, t);
    /* Linux's tcp_clamp_rto_to_user_timeout(): with TCP_USER_TIMEOUT the
     * next timeout comes no later than the user's deadline, so the
     * connection is given up at that time, not at the next backed-off RTO. */
    if (sk_user_timeout_ms(t) && t->retrans_stamp) {
        sk_time_ns elapsed = sk_since(s, t->retrans_stamp); /* limit is the user timeout here */
        sk_time_ns remaining = elapsed < limit ? limit - elapsed : SK_NSEC_PER_MSEC;
        if (remaining < next)
            next = remaining;
    }
    t->rto_at = s->now + next;
    return true;
}

static bool on_keepalive_timer(sk_stack *s, sk_tcb *t)
{
    t->keepalive_at = 0;
    if (!(t->sopts & SK_O_KEEPALIVE))
        return true;
    if (t->state != SK_TCP_ESTABLISHED && t->state != SK_TCP_CLOSE_WAIT && t->state != SK_TCP_FIN_WAIT1 &&
        t->state != SK_TCP_FIN_WAIT2)
        return true;
    sk_time_ns idle = keepidle(s, t);
    if (t->snd_una != t->snd_nxt || t->sndq.len) {
        /* Data in flight: the retransmission timer watches the peer. */
        t->keepalive_at = s->now + idle;
        return true;
    }
    sk_time_ns elapsed = sk_since(s, t->lrcvtime);
    if (elapsed < idle && t->probes_out == 0) {
        t->keepalive_at = s->now + (idle - elapsed);
        return true;
    }
    sk_emit_tcb_timer(s, t, "keepalive");
    if ((sk_user_timeout_ms(t) && elapsed >= SK_MS(sk_user_timeout_ms(t)) && t->probes_out > 0) ||
        (!sk_user_timeout_ms(t) && t->probes_out >= keepcnt(s, t))) {
        /* Linux's tcp_keepalive_timer: reset the peer, report ETIMEDOUT. */
        sk_send_active_rst(s, t);
        write_err(s, t, SK_CAUSE_KEEPALIVE_PROBES);
        return false;
    }
    sk_count(s, SK_C_TCPEXT_TCP_KEEPALIVE);
    sk_send_probe(s, t);
    t->probes_out++;
    t->keepalive_at = s->now + keepintvl(s, t);
    return true;
}

void sk_tcb_timer_fire(void *ctx, sk_timer *timer)
{
    sk_stack *s = ctx;
    sk_tcb *t = (sk_tcb *)((char *)timer - offsetof(sk_tcb, timer));
    sk_time_ns now = s->now;
    if (t->delack_at && t->delack_at <= now) {
        t->delack_at = 0;
        if (t->state != SK_TCP_CLOSE && t->state != SK_TCP_SYN_SENT && t->state != SK_TCP_LISTEN) {
            sk_count(s, SK_C_TCPEXT_DELAYED_ACKS);
            sk_send_ack(s, t);
        }
    }
    if (t->rto_at && t->rto_at <= now && (t->xflags & SK_X_REO_ARMED)) {
        t->rto_at = 0;
        t->xflags &= ~SK_X_REO_ARMED;
        sk_emit_tcb_timer(s, t, "reorder");
        sk_rack_reo_timeout(s, t);
        sk_tcp_output(s, t);
        /* tcp_rack_reo_timeout ends by re-arming the RTO. */
        if (!t->rto_at && t->snd_una != t->snd_nxt)
            sk_arm_rto(s, t);
    } else if (t->rto_at && t->rto_at <= now && (t->xflags & SK_X_TLP_ARMED)) {
        t->rto_at = 0;
        t->xflags &= ~SK_X_TLP_ARMED;
        sk_emit_tcb_timer(s, t, "loss probe");
        sk_send_loss_probe(s, t);
    } else if (t->rto_at && t->rto_at <= now) {
        t->rto_at = 0;
        if (!on_retransmit_timer(s, t))
            return;
        if (t->state != SK_TCP_SYN_SENT)
            sk_tcp_output(s, t);
    }
    if (t->keepalive_at && t->keepalive_at <= now) {
        if (!on_keepalive_timer(s, t))
            return;
    }
    sk_tcb_timer_update(s, t);
}
