/*
 * What observers see: TCP_INFO, the socket table behind ss, and the
 * counters behind nstat.  Read-only views of engine state.
 */
#include <string.h>

#include "sockinfo.h"
#include "addr.h"
#include "cc.h"
#include "icmp.h"
#include "listen.h"
#include "rack.h"
#include "rcvbuf.h"
#include "sndbuf.h"
#include "stack.h"
#include "timers.h"

static uint32_t ms_since(const sk_stack *s, sk_stamp t) { return (uint32_t)(sk_since(s, t) / SK_NSEC_PER_MSEC); }

const char *sk_ca_state_name(enum sk_ca_state st)
{
    switch (st) {
    case SK_CA_OPEN: return "Open";
    case SK_CA_DISORDER: return "Disorder";
    case SK_CA_CWR: return "CWR";
    case SK_CA_RECOVERY: return "Recovery";
    case SK_CA_LOSS: return "Loss";
    }
    return "?";
}

enum sk_ca_state sk_ca_state_report(const sk_tcb *t)
{
    if (t->ca_state != SK_CA_OPEN)
        return (enum sk_ca_state)t->ca_state;
    /* Disorder: SACKs or duplicate ACKs seen, nothing yet lost (Linux's
     * tcp_try_to_open).  synack keeps it derived rather than stored: the
     * state that changes it (dupacks, the scoreboard counts) has many
     * writers, and what is reported is exactly Linux's condition. */
    const sk_rack *r = t->rack;
    bool reno_dups = t->dupacks && !(t->negot & SK_N_SACK_OK);
    if (reno_dups || (r && (r->sacked_out || r->lost_out || r->retrans_out)))
        return SK_CA_DISORDER;
    return SK_CA_OPEN;
}

void sk_fill_tcp_info(sk_stack *s, const sk_tcb *t, struct sk_tcp_info *ti)
{
    memset(ti, 0, sizeof(*ti));
    ti->tcpi_state = t->state;
    ti->tcpi_ca_state = (uint8_t)sk_ca_state_report(t);
    const sk_rack *r = t->rack;
    ti->tcpi_retransmits = t->retransmits;
    ti->tcpi_probes = t->probes_out;
    ti->tcpi_backoff = t->backoff;
    if (t->negot & SK_N_TS_OK)
        ti->tcpi_options |= SK_TCPI_OPT_TIMESTAMPS;
    if (t->negot & SK_N_SACK_OK)
        ti->tcpi_options |= SK_TCPI_OPT_SACK;
    if (t->ecn & SK_ECN_OK)
        ti->tcpi_options |= SK_TCPI_OPT_ECN;
    if (t->ecn & SK_ECN_SEEN)
        ti->tcpi_options |= SK_TCPI_OPT_ECN_SEEN;
    if (t->negot & SK_N_WS_OK) {
        ti->tcpi_options |= SK_TCPI_OPT_WSCALE;
        ti->tcpi_snd_wscale = t->snd_wscale & 15;
        ti->tcpi_rcv_wscale = t->rcv_wscale & 15;
    }
    if (t->tfo & SK_TFO_SYN_DATA_ACKED)
        ti->tcpi_options |= SK_TCPI_OPT_SYN_DATA;
    ti->tcpi_fastopen_client_fail = t->tfo_client_fail & 3;
    ti->tcpi_rto = (uint32_t)(sk_current_rto(s, t) / SK_NSEC_PER_USEC);
    ti->tcpi_ato = (uint32_t)(SK_TCP_ATO_MIN / SK_NSEC_PER_USEC);
    ti->tcpi_snd_mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    ti->tcpi_rcv_mss = t->rcv_mss ? t->rcv_mss : SK_TCP_MSS_DEFAULT;
    uint32_t mss = ti->tcpi_snd_mss;
    ti->tcpi_unacked = (t->snd_nxt - t->snd_una + mss - 1) / mss;
    if (t->state == SK_TCP_LISTEN && t->listen) {
        /* Linux reuses these for a listener: accept-queue length and backlog. */
        ti->tcpi_unacked = t->listen->aq_len;
        ti->tcpi_sacked = t->listen->backlog;
    }
    ti->tcpi_retrans = (t->ca_state == SK_CA_LOSS) ? ti->tcpi_unacked : 0;
    if (r) {
        ti->tcpi_sacked = r->sacked_out;
        ti->tcpi_lost = r->lost_out;
        /* Linux counts these in segments (pcount): a resent TSO burst of
         * two MSS is two retransmissions in flight. */
        ti->tcpi_retrans = r->retrans_out ? sk_rack_pcount_of(t, SK_TX_RETRANS) : 0;
    }
    ti->tcpi_last_data_sent = ms_since(s, t->last_data_sent);
    ti->tcpi_last_data_recv = ms_since(s, t->last_data_recv);
    ti->tcpi_last_ack_recv = ms_since(s, t->last_ack_recv);
    ti->tcpi_pmtu = sk_conn_pmtu(s, t); /* icsk_pmtu_cookie */
    ti->tcpi_rcv_ssthresh = t->rcv_ssthresh;
    ti->tcpi_rtt = t->srtt_us >> 3;
    ti->tcpi_rttvar = t->mdev_us >> 2;
    ti->tcpi_snd_ssthresh = t->ssthresh;
    ti->tcpi_snd_cwnd = t->cwnd;
    ti->tcpi_advmss = t->advmss;
    ti->tcpi_reordering = r ? r->reordering : (uint32_t)s->cfg.tcp_reordering;
    ti->tcpi_reord_seen = r ? r->reord_seen : 0;
    ti->tcpi_dsack_dups = r ? r->dsack_dups : 0;
    ti->tcpi_rcv_space = sk_rcvq_space(t);
    ti->tcpi_total_retrans = t->total_retrans;
    ti->tcpi_delivered = t->delivered;
    ti->tcpi_bytes_acked = t->bytes_acked;
    ti->tcpi_bytes_received = t->bytes_received;
    ti->tcpi_segs_out = t->segs_out;
    ti->tcpi_segs_in = t->segs_in;
    uint32_t sent = seq_gt(t->snd_nxt, t->snd_una) ? t->snd_nxt - t->snd_una : 0;
    ti->tcpi_notsent_bytes = t->sndq.len > sent ? t->sndq.len - sent : 0;
    ti->tcpi_min_rtt = t->min_rtt_us;
    ti->tcpi_data_segs_in = t->data_segs_in;
    ti->tcpi_data_segs_out = t->data_segs_out;
    ti->tcpi_bytes_sent = t->bytes_sent;
    ti->tcpi_bytes_retrans = t->bytes_retrans;
    ti->tcpi_snd_wnd = t->snd_wnd;
    /* Linux's tcp_get_info_chrono_stats(): busy time counts every chrono;
     * synack does not time rwnd-limited periods. */
    uint64_t limited = sk_chrono_ms(s, t, t->sndbuf_limited_mark, SK_SND_LIMITED);
    ti->tcpi_busy_time = (uint64_t)sk_chrono_ms(s, t, t->busy_mark, SK_SND_BUSY) * 1000u;
    ti->tcpi_sndbuf_limited = limited * 1000u;
    ti->tcpi_rwnd_limited = t->ext ? (uint64_t)sk_chrono_ms(s, t, t->ext->rwnd_limited_mark, SK_SND_RWND) * 1000u : 0;
}

static void timer_of(const sk_stack *s, const sk_tcb *t, sk_sock_info *si)
{
    /* ss -o shows one timer: retransmit/persist first, then keepalive. */
    if (t->rto_at) {
        si->timer = (t->xflags & SK_X_PERSIST) || t->snd_una == t->snd_nxt ? SK_TIMER_PERSIST : SK_TIMER_ON;
        if (t->state == SK_TCP_SYN_SENT || t->snd_una != t->snd_nxt)
            si->timer = SK_TIMER_ON;
        si->timer_expires = t->rto_at;
        si->timer_retrans = t->retransmits;
    } else if (t->keepalive_at) {
        si->timer = SK_TIMER_KEEPALIVE;
        si->timer_expires = t->keepalive_at;
        si->timer_retrans = t->probes_out;
    }
    (void)s;
}

static void visit_tcb(sk_stack *s, sk_tcb *t, sk_sock_visit_fn visit, void *ctx, size_t *n)
{
    sk_sock_info si;
    memset(&si, 0, sizeof(si));
    si.fd = t->fd;
    si.state = t->state;
    if (t->state == SK_TCP_LISTEN)
        sk_tcb_local(s, t, &si.local);
    else
        sk_tcb_local_shown(s, t, &si.local);
    if (t->state != SK_TCP_LISTEN)
        sk_tcb_remote(s, t, &si.remote);
    else
        sk_addr_endpoint(s, t->af6, t->sock6, 0, 0, &si.remote);
    si.orphan = (t->sflags & SK_S_ORPHAN) != 0;
    if (t->state == SK_TCP_LISTEN && t->listen) {
        si.recv_q = t->listen->aq_len;
        si.send_q = t->listen->backlog;
    } else {
        si.recv_q = t->rcvq.len;
        si.send_q = t->sndq.len;
    }
    timer_of(s, t, &si);
    const char *cong = sk_cc_name(t); /* shorter than TCP_CA_NAME_MAX */
    memcpy(si.cong, cong, strlen(cong) + 1);
    sk_fill_tcp_info(s, t, &si.info);
    sk_meminfo(t, si.meminfo);
    visit(ctx, &si);
    (*n)++;
}

static void visit_tw(const sk_stack *s, const sk_tw *w, sk_sock_visit_fn visit, void *ctx)
{
    sk_sock_info si;
    memset(&si, 0, sizeof(si));
    si.fd = -1;
    si.state = w->substate;
    sk_addr_endpoint(s, w->v6, w->sock6, w->laddr, w->lport, &si.local);
    sk_addr_endpoint(s, w->v6, w->sock6, w->raddr, w->rport, &si.remote);
    si.timer = SK_TIMER_TIMEWAIT;
    si.timer_expires = s->epoch + (sk_time_ns)w->expires_ms * SK_NSEC_PER_MSEC;
    si.orphan = true;
    si.info.tcpi_state = w->substate;
    visit(ctx, &si);
}

size_t sk_sockets(sk_stack *s, sk_sock_visit_fn visit, void *ctx)
{
    size_t n = 0;
    /* Handles not in any table: unconnected, or closed but not released. */
    for (uint32_t i = 0; i < s->fds_cap; i++) {
        sk_tcb *t = s->fds[i];
        if (t && !(t->sflags & SK_S_HASHED))
            visit_tcb(s, t, visit, ctx, &n);
    }
    for (size_t b = 0; b < 64; b++) {
        for (sk_tcb *l = s->listeners[b]; l; l = l->hnext) {
            visit_tcb(s, l, visit, ctx, &n);
            sk_listen_queue *q = l->listen;
            for (uint32_t k = 0; q && k <= q->syn_mask; k++) {
                for (sk_request *r = q->syn_buckets[k]; r; r = r->hnext) {
                    sk_sock_info si;
                    memset(&si, 0, sizeof(si));
                    si.fd = -1;
                    si.state = SK_TCP_SYN_RECV;
                    bool v6 = (r->opts & SK_REQ_V6) != 0;
                    sk_addr_endpoint(s, v6, l->sock6, sk_req_laddr(s, r), sk_req_lport(r), &si.local);
                    sk_addr_endpoint(s, v6, l->sock6, r->raddr, r->rport, &si.remote);
                    si.timer = SK_TIMER_ON;
                    si.timer_expires = r->timer.expires * SK_NSEC_PER_MSEC;
                    si.timer_retrans = r->retrans;
                    si.info.tcpi_state = SK_TCP_SYN_RECV;
                    si.info.tcpi_retransmits = r->retrans;
                    visit(ctx, &si);
                    n++;
                }
            }
        }
    }
    for (uint32_t b = 0; b <= s->conn_mask; b++)
        for (sk_tcb *t = s->conn_buckets[b]; t; t = t->hnext)
            visit_tcb(s, t, visit, ctx, &n);
    /* Every live record is on one of the two expiry FIFOs: walking them
     * visits only those, where a walk of the chunks would touch every
     * slot of a mostly idle table (16,384 per chunk). */
    for (int q = 0; q < 2; q++) {
        for (uint32_t i = s->tw.q_head[q]; i != SK_TW_NONE; i = sk_tw_at(&s->tw, i)->qnext) {
            const sk_tw *w = sk_tw_at(&s->tw, i);
            visit_tw(s, w, visit, ctx);
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Counters and sysctls                                                 */
/* ------------------------------------------------------------------ */

const char *sk_counter_name(size_t i, const char **group)
{
    if (i >= SK_C__COUNT)
        return NULL;
    if (group)
        *group = sk_counter_group((sk_counter_id)i);
    return sk_counter_short_name((sk_counter_id)i);
}

uint64_t sk_counter_value(const sk_stack *s, size_t i) { return i < SK_C__COUNT ? s->counters[i] : 0; }

uint64_t sk_counter(const sk_stack *s, const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < SK_C__COUNT; i++) {
        const char *g = sk_counter_group((sk_counter_id)i);
        const char *n = sk_counter_short_name((sk_counter_id)i);
        size_t gl = strlen(g);
        if (strcmp(name, n) == 0 || (strncmp(name, g, gl) == 0 && strcmp(name + gl, n) == 0)) {
            /* A bare name shared by two groups (InCsumErrors) means Tcp's. */
            if (strcmp(name, n) == 0 && strcmp(g, "Tcp") != 0 && strcmp(n, "InCsumErrors") == 0)
                continue;
            return s->counters[i];
        }
    }
    return 0;
}

int sk_sysctl_set(sk_stack *s, const char *name, const char *value, char *err, size_t errlen)
{
    if (!name || !value)
        return -EINVAL;
    return sk_config_set(&s->cfg, name, value, err, errlen);
}

int sk_sysctl_get(const sk_stack *s, const char *name, char *buf, size_t len)
{
    if (!name || !buf)
        return -EINVAL;
    return sk_config_get(&s->cfg, name, buf, len);
}

const char *sk_sysctl_name(size_t i) { return sk_config_name(i); }
