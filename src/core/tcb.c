/*
 * The life of a TCB: allocation with Linux's tcp_init_sock() defaults,
 * state changes (with CurrEstab bookkeeping), teardown and freeing.
 */
#include "addr.h"
#include "cc.h"
#include "eor.h"
#include "events.h"
#include "fastopen.h"
#include "rack.h"
#include "recycle.h"
#include "sack.h"
#include "stack.h"
#include "tables.h"

sk_tcb *sk_tcb_alloc(sk_stack *s)
{
    sk_tcb *t = sk_recycle_take(s, &s->tcb_bin, sizeof(*t));
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
    t->cc_reno = sk_cc_default_reno(s);
    return t;
}

void sk_tcb_set_state(sk_stack *s, sk_tcb *t, int state, sk_state_cause cause)
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
        t->sflags |= SK_S_WAS_ESTABLISHED;
    sk_emit_state(s, t, from, state, cause);
    sk_notify(s, t);
}

void sk_tcb_free(sk_stack *s, sk_tcb *t)
{
    sk_wheel_del(&s->tcb_wheel, &t->timer);
    sk_port_unref(s, t);
    sk_tcb_put_addrs(s, t);
    if (t->sflags & SK_S_ORPHAN) {
        if (s->orphans)
            s->orphans--;
        t->sflags &= ~SK_S_ORPHAN;
    }
    /* Most connections end with none of these left (a request/response
     * lifecycle drains both rings and never SACKs), and the record is
     * wiped when it is taken again: call only where there is something
     * to give back. */
    if (t->sndq.data)
        sk_ring_free(s, &t->sndq);
    if (t->rcvq.data)
        sk_ring_free(s, &t->rcvq);
    if (t->sack_rb)
        sk_sack_clear(s, t);
    if (t->rack)
        sk_rack_free(s, t);
    if (t->cubic)
        sk_cc_free(s, t);
    if (t->ext)
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
    sk_recycle_give_max(s, &s->tcb_bin, t, SK_RECYCLE_TCB_MAX);
}

void sk_tcb_done(sk_stack *s, sk_tcb *t, sk_state_cause cause)
{
    /* Linux's tcp_done(): a failed handshake is an AttemptFail. */
    if (t->state == SK_TCP_SYN_SENT || t->state == SK_TCP_SYN_RECV)
        sk_count(s, SK_C_TCP_ATTEMPT_FAILS);
    sk_tcb_close(s, t, cause);
}

void sk_tcb_close(sk_stack *s, sk_tcb *t, sk_state_cause cause)
{
    /* Linux's tcp_set_state(TCP_CLOSE): a synchronized connection torn
     * down from ESTABLISHED or CLOSE_WAIT is an EstabReset. */
    if (t->state == SK_TCP_ESTABLISHED || t->state == SK_TCP_CLOSE_WAIT)
        sk_count(s, SK_C_TCP_ESTAB_RESETS);
    sk_fastopen_child_done(s, t);
    t->sflags |= SK_S_SHUT_RD | SK_S_SHUT_WR;
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
    if (!(t->sflags & SK_S_USER_BOUND))
        sk_port_unref(s, t);
    sk_notify(s, t);
}
