/*
 * Segment output: option blocks, the receive window we advertise, the data
 * sender (windows, congestion window, Nagle, FIN), retransmission, and the
 * ACK, RST and probe segments.
 */

#include "output.h"
#include "bytes.h"
#include "addr.h"
#include "cc.h"
#include "eor.h"
#include "events.h"
#include "fastopen.h"
#include "icmp.h"
#include "rack.h"
#include "rcvbuf.h"
#include "sack.h"
#include "segment.h"
#include "sndbuf.h"
#include "stack.h"
#include "timers.h"

/* Option layout exactly as Linux's tcp_options_write(), so captures and
 * packetdrill scripts see the same bytes: MSS; then SACK-permitted and
 * timestamps fused into one 12-byte word group (or NOP,NOP before the one
 * present); then NOP,WSCALE; then NOP,NOP,SACK blocks. */
/* NOP, NOP, timestamps: the whole option block of most segments (Linux's
 * TCPOLEN_TSTAMP_ALIGNED word group). */
static inline void sk_put_ts_option(uint8_t *p, uint32_t ts_val, uint32_t ts_ecr)
{
    sk_put_be32(p, (uint32_t)SK_TCPOPT_NOP << 24 | (uint32_t)SK_TCPOPT_NOP << 16 |
                       (uint32_t)SK_TCPOPT_TIMESTAMP << 8 | 10u);
    sk_put_be32(p + 4, ts_val);
    sk_put_be32(p + 8, ts_ecr);
}

size_t sk_build_options(const sk_out_opts *o, uint8_t *buf)
{
    uint8_t *p = buf;
    if (o->syn && o->mss) {
        p[0] = SK_TCPOPT_MSS;
        p[1] = 4;
        sk_put_be16(p + 2, o->mss);
        p += 4;
    }
    if (o->ts) {
        sk_put_ts_option(p, o->ts_val, o->ts_ecr);
        if (o->syn && o->sack_perm) {
            p[0] = SK_TCPOPT_SACK_PERM;
            p[1] = 2;
        }
        p += 12;
    } else if (o->syn && o->sack_perm) {
        p[0] = SK_TCPOPT_NOP;
        p[1] = SK_TCPOPT_NOP;
        p[2] = SK_TCPOPT_SACK_PERM;
        p[3] = 2;
        p += 4;
    }
    if (o->syn && o->ws) {
        p[0] = SK_TCPOPT_NOP;
        p[1] = SK_TCPOPT_WSCALE;
        p[2] = 3;
        p[3] = o->wscale;
        p += 4;
    }
    if (!o->syn && o->sack_count) {
        p[0] = SK_TCPOPT_NOP;
        p[1] = SK_TCPOPT_NOP;
        p[2] = SK_TCPOPT_SACK;
        p[3] = (uint8_t)(2 + 8 * o->sack_count);
        p += 4;
        for (unsigned i = 0; i < o->sack_count; i++) {
            sk_put_be32(p, o->sack[i].start);
            sk_put_be32(p + 4, o->sack[i].end);
            p += 8;
        }
    }
    if (o->fo) {
        size_t len = (o->fo_exp ? 4u : 2u) + o->fo_len;
        if ((size_t)(p - buf) + ((len + 3) & ~3u) <= SK_TCP_OPT_MAX) {
            if (o->fo_exp) {
                p[0] = SK_TCPOPT_EXP;
                p[1] = (uint8_t)len;
                sk_put_be16(p + 2, SK_TCPOPT_FASTOPEN_MAGIC);
            } else {
                p[0] = SK_TCPOPT_FASTOPEN;
                p[1] = (uint8_t)len;
            }
            if (o->fo_len)
                memcpy(p + len - o->fo_len, o->fo_cookie, o->fo_len);
            if ((len & 3) == 2) {
                p[len] = SK_TCPOPT_NOP;
                p[len + 1] = SK_TCPOPT_NOP;
            }
            p += (len + 3) & ~3u;
        }
    }
    return (size_t)(p - buf);
}

void sk_xmit(sk_stack *s, const sk_route *rt, sk_segment_spec *spec)
{
    /* The caller says the TCP part; the route and the stack say the IP
     * part, so every segment of a flow gets the same addresses, TTL, DF
     * and checksum offload whoever sends it.  Written into the caller's
     * spec, not a copy: a copy cost 389 instructions per lifecycle. */
    uint8_t tos = spec->tos;
    uint16_t sport = spec->sport, dport = spec->dport, flags = spec->flags;
    spec->ip_version = rt->v6 ? 6 : 4;
    spec->src = rt->src;
    spec->dst = rt->dst;
    spec->ttl = rt->hops ? rt->hops : 64;
    spec->ip_id = s->ip_id++;
    spec->df = !s->xmit_no_df;
    spec->csum_partial = (s->offloads & SK_OFFLOAD_TCP_CSUM_TX) != 0;
    if (rt->v6) {
        /* IPv6 (RFC 8200): hop limit 64 (IPV6_UNICAST_HOPS's default,
         * ipv6.conf.all.hop_limit), the traffic class with TCP's ECN
         * bits, and a flow label as Linux's auto_flowlabels sets it. */
        memcpy(spec->src6, rt->src6, 16);
        memcpy(spec->dst6, rt->dst6, 16);
        spec->tos = (uint8_t)((rt->tclass & ~SK_IP_ECN_MASK) | (tos & SK_IP_ECN_MASK));
        spec->flowlabel = rt->flowlabel;
        if (!spec->flowlabel && s->cfg.ipv6_auto_flowlabels)
            spec->flowlabel = sk_auto_flowlabel(s, rt->src6, rt->dst6, sport, dport, rt->txhash_gen);
    }
    /* A data segment's payload comes as it lies in the send ring
     * (s->xmit_pay): handed to transmitv by reference (scatter-gather, as
     * Linux's skb frags go to an NETIF_F_SG device), or copied once after
     * the headers; anything else arrives as one piece. */
    sk_iovec one = {spec->payload, spec->payload_len};
    const sk_iovec *pay = &one;
    size_t npay = spec->payload_len ? 1 : 0;
    if (s->xmit_npay) {
        pay = s->xmit_pay;
        npay = s->xmit_npay;
    }
    bool gather = s->transmitv && npay;
    size_t hdr_len = 0;
    size_t n = sk_build_segment_iov(spec, pay, npay, !gather, s->out, sizeof(s->out), &hdr_len);
    s->xmit_failed = false;
    if (!n)
        return;
    if (s->tx_blocked) {
        sk_count(s, rt->v6 ? SK_C_IP6_OUT_DISCARDS : SK_C_IP_OUT_DISCARDS);
        s->xmit_failed = true;
        return;
    }
    /* Linux's __tcp_transmit_skb counts OutSegs only for segments that
     * carry new sequence space or none; retransmissions go to RetransSegs. */
    if (!s->xmit_retrans)
        s->counters[SK_C_TCP_OUT_SEGS] += s->xmit_pcount ? s->xmit_pcount : 1;
    sk_count(s, rt->v6 ? SK_C_IP6_OUT_REQUESTS : SK_C_IP_OUT_REQUESTS);
    if (flags & SK_TH_RST)
        sk_count(s, SK_C_TCP_OUT_RSTS);
    sk_iovec iov[SK_TRANSMITV_MAX];
    size_t iovcnt = 0;
    if (gather) {
        iov[0] = (sk_iovec){s->out, hdr_len};
        for (size_t i = 0; i < npay; i++)
            iov[1 + i] = pay[i];
        iovcnt = 1 + npay;
    }
    if (sk_wants(s, SK_EV_SEGMENT_OUT)) {
        sk_event ev = {.type = SK_EV_SEGMENT_OUT, .now = s->now, .fd = -1, .data = s->out,
                       .len = gather ? hdr_len : n, .iov = gather ? iov : NULL, .iovcnt = iovcnt};
        sk_event_ep(&ev, SK_EPK_ROUTE, rt, NULL);
        ev.ep_.sport = sport;
        ev.ep_.dport = dport;
        sk_emit(s, &ev);
    }
    if (gather)
        s->transmitv(s->transmit_ctx, iov, iovcnt, n);
    else
        s->transmit(s->transmit_ctx, s->out, n);
}

uint16_t sk_default_advmss(const sk_stack *s, bool v6) { return sk_link_mss(s, v6); }

/* ------------------------------------------------------------------ */
/* Segments of a connection                                             */
/* ------------------------------------------------------------------ */

/* Linux's tcp_current_mss(): the SACK blocks a segment will carry (a
 * D-SACK and those of the out-of-order queue, as many as fit beside the
 * timestamp, as conn_options() puts them) come out of its payload, two
 * NOPs, kind and length plus 8 bytes a block, so that headers, options
 * and data still fit the path MTU; t->mss already leaves room for the
 * timestamp option. */
static inline uint32_t current_mss(const sk_tcb *t)
{
    /* Blocks to send live in the extension (sk_rx_sack_pending is 0
     * without it): most calls stop at this test. */
    if (!(t->negot & SK_N_SACK_OK) || !t->ext)
        return t->mss;
    uint32_t blocks = sk_rx_sack_pending(t);
    uint32_t max = (t->negot & SK_N_TS_OK) ? 3u : 4u;
    if (blocks > max)
        blocks = max;
    if (!blocks)
        return t->mss;
    uint32_t opt = 4u + 8u * blocks;
    return t->mss > opt ? t->mss - opt : t->mss;
}

uint32_t sk_current_mss(const sk_tcb *t) { return current_mss(t); }

static size_t conn_options(sk_stack *s, sk_tcb *t, uint8_t *buf, bool with_sack)
{
    if (!(with_sack && (t->negot & SK_N_SACK_OK) && t->ext && sk_rx_sack_pending(t))) {
        /* No SACK blocks to send: timestamps or nothing. */
        if (!(t->negot & SK_N_TS_OK))
            return 0;
        sk_put_ts_option(buf, sk_tcp_time_ms(s) + t->ts_off, t->ts_recent);
        return 12;
    }
    sk_out_opts o = {0};
    if (t->negot & SK_N_TS_OK) {
        o.ts = true;
        o.ts_val = sk_tcp_time_ms(s) + t->ts_off;
        o.ts_ecr = t->ts_recent;
    }
    /* Three blocks fit beside a timestamp, four without (RFC 2018 §3). */
    o.sack_count = sk_rx_sack_fill(t, o.sack, o.ts ? 3 : 4);
    return sk_build_options(&o, buf);
}

static void conn_xmit(sk_stack *s, sk_tcb *t, uint32_t seq, uint16_t flags, const uint8_t *payload,
                      size_t plen)
{
    /* The options go straight where sk_xmit builds the datagram, behind
     * the IP and TCP headers, which the builder then leaves as they lie. */
    uint8_t *opts = s->out + (t->af6 ? SK_IP6_HDR_LEN : SK_IP_HDR_MIN) + SK_TCP_HDR_MIN;
    size_t optlen = conn_options(s, t, opts, !(flags & (SK_TH_SYN | SK_TH_RST)));
    uint16_t win = 0;
    uint32_t ack = 0;
    if (flags & SK_TH_ACK) {
        win = sk_select_window(s, t);
        ack = t->rcv_nxt;
        /* This segment carries the ACK: a pending delayed ACK is done. */
        t->delack_at = 0;
        t->xflags &= ~SK_X_ACK_NOW;
        if (t->quickack)
            t->quickack--;
    }
    uint8_t tos = 0;
    if ((t->ecn & SK_ECN_OK) && !(flags & SK_TH_SYN)) {
        /* Linux's tcp_ecn_send(): only new data is ECN-capable (RFC 3168
         * §6.1.5 forbids ECT on retransmissions, §6.1.4 on pure ACKs), and
         * the first such segment after a reduction carries CWR (§6.1.2). */
        if (plen && !seq_lt(seq, t->snd_nxt)) {
            tos = SK_IP_ECN_ECT0;
            if (t->ecn & SK_ECN_QUEUE_CWR) {
                t->ecn &= (uint8_t)~SK_ECN_QUEUE_CWR;
                flags |= SK_TH_CWR;
            }
        }
        /* §6.1.3: every segment echoes ECE until the peer's CWR. */
        if (t->ecn & SK_ECN_DEMAND_CWR)
            flags |= SK_TH_ECE;
    }
    t->segs_out += s->xmit_pcount ? s->xmit_pcount : 1;
    if (t->ext && t->ext->pm)
        tos |= t->ext->pm->tos; /* IP_TOS (pmtu.c) */
    s->xmit_no_df = !sk_pmtu_df(s, t); /* IP_MTU_DISCOVER, a locked path MTU (pmtu.c) */
    sk_route rt;
    sk_route_tcb(s, t, &rt);
    /* Not zero-filled: sk_xmit sets what the route decides (addresses,
     * TTL, ID, DF, version), so every field the builder reads is set. */
    sk_segment_spec spec;
    spec.sport = t->lport;
    spec.dport = t->rport;
    spec.seq = seq;
    spec.ack = ack;
    spec.flags = flags;
    spec.window = win;
    spec.tos = tos;
    spec.options = opts;
    spec.options_len = optlen;
    spec.payload = payload;
    spec.payload_len = plen;
    sk_xmit(s, &rt, &spec);
    s->xmit_no_df = false;
}

void sk_send_ack(sk_stack *s, sk_tcb *t)
{
    conn_xmit(s, t, t->snd_nxt, SK_TH_ACK, NULL, 0);
}

/* Linux's __tcp_oow_rate_limited: one connection answers invalid
 * segments (out of window, failing PAWS, drawing a challenge ACK) with at
 * most one ACK per tcp_invalid_ratelimit ms, so that two ends disagreeing
 * about the window cannot ping-pong ACKs and a flood of bad segments
 * draws few replies.  A skipped ACK is counted under `mib`. */
static bool oow_limited(sk_stack *s, sk_tcb *t, sk_counter_id mib)
{
    uint32_t now = (uint32_t)sk_stamp_now(s);
    if (t->ext && t->ext->last_oow_ack) {
        int32_t elapsed = (int32_t)(now - t->ext->last_oow_ack);
        if (elapsed >= 0 && elapsed < s->cfg.tcp_invalid_ratelimit) {
            sk_count(s, mib);
            return true;
        }
    }
    sk_tcb_ext *x = sk_tcb_ext_get(s, t);
    if (x)
        x->last_oow_ack = now;
    return false;
}

/* tcp_oow_rate_limited: a segment carrying data or a FIN (and no SYN) is
 * not an ACK loop's, so its duplicate ACK is never held back. */
bool sk_oow_rate_limited(sk_stack *s, sk_tcb *t, const sk_segment *seg, sk_counter_id mib)
{
    if ((seg->payload_len || (seg->flags & SK_TH_FIN)) && !(seg->flags & SK_TH_SYN))
        return false;
    return oow_limited(s, t, mib);
}

/* RFC 5961 §3.2/§4.2: answer with an ACK carrying the current RCV.NXT,
 * rate-limited as Linux's tcp_send_challenge_ack does: first per
 * connection (tcp_invalid_ratelimit, TCPACKSkippedChallenge), then by
 * tcp_challenge_ack_limit per second for the host. */
void sk_send_challenge_ack(sk_stack *s, sk_tcb *t, bool syn)
{
    if (syn) {
        /* tcp_validate_incoming's syn_challenge: counted whether or not
         * the ACK is then sent, and an InErr on an established socket
         * (tcp_rcv_established passes syn_inerr). */
        if (t->state == SK_TCP_ESTABLISHED)
            sk_count(s, SK_C_TCP_IN_ERRS);
        sk_count(s, SK_C_TCPEXT_TCP_SYN_CHALLENGE);
    }
    uint32_t sec = (uint32_t)(s->now / SK_NSEC_PER_SEC);
    if (sec != s->challenge_ack_sec) {
        s->challenge_ack_sec = sec;
        s->challenge_acks_this_sec = 0;
    }
    if (oow_limited(s, t, SK_C_TCPEXT_TCP_ACK_SKIPPED_CHALLENGE))
        return;
    /* The host-wide limit drops the ACK silently. */
    if (s->challenge_acks_this_sec >= (uint32_t)s->cfg.tcp_challenge_ack_limit)
        return;
    s->challenge_acks_this_sec++;
    sk_count(s, SK_C_TCPEXT_TCP_CHALLENGE_ACK);
    sk_send_ack(s, t);
}

/* An active reset (close() with unread data, SO_LINGER 0, keepalive or
 * retransmission give-up): RST|ACK at SND.NXT, as Linux's
 * tcp_send_active_reset(). */
void sk_send_active_rst(sk_stack *s, sk_tcb *t)
{
    uint8_t opts[SK_TCP_OPT_MAX];
    sk_out_opts o = {0};
    if (t->negot & SK_N_TS_OK) {
        o.ts = true;
        o.ts_val = sk_tcp_time_ms(s) + t->ts_off;
        o.ts_ecr = t->ts_recent;
    }
    size_t optlen = sk_build_options(&o, opts);
    uint16_t flags = SK_TH_RST | SK_TH_ACK;
    if ((t->ecn & SK_ECN_OK) && (t->ecn & SK_ECN_DEMAND_CWR))
        flags |= SK_TH_ECE; /* tcp_transmit_skb runs tcp_ecn_send on the reset too */
    t->segs_out++;
    sk_route rt;
    sk_route_tcb(s, t, &rt);
    sk_segment_spec spec = {.sport = t->lport, .dport = t->rport, .seq = t->snd_nxt, .ack = t->rcv_nxt,
                            .flags = flags, .window = 0, .options = opts, .options_len = optlen};
    sk_xmit(s, &rt, &spec);
}

/* Keepalive and zero-window probe: an ACK one below SND.UNA that the peer
 * must answer with an ACK (Linux's tcp_xmit_probe_skb). */
void sk_send_probe(sk_stack *s, sk_tcb *t)
{
    conn_xmit(s, t, t->snd_una - 1, SK_TH_ACK, NULL, 0);
}

void sk_send_syn(sk_stack *s, sk_tcb *t)
{
    uint8_t opts[SK_TCP_OPT_MAX];
    sk_out_opts o = {.syn = true, .mss = t->advmss};
    bool synack = t->state == SK_TCP_SYN_RECV;
    if (synack) {
        /* Simultaneous open: echo what both SYNs agreed on. */
        o.ws = (t->negot & SK_N_WS_OK) != 0;
        o.sack_perm = (t->negot & SK_N_SACK_OK) != 0;
        o.ts = (t->negot & SK_N_TS_OK) != 0;
    } else {
        o.ws = s->cfg.tcp_window_scaling != 0;
        o.sack_perm = s->cfg.tcp_sack != 0;
        o.ts = s->cfg.tcp_timestamps != 0;
    }
    o.wscale = t->rcv_wscale;
    o.ts_val = sk_tcp_time_ms(s) + t->ts_off;
    o.ts_ecr = synack ? t->ts_recent : 0;
    /* Fast Open (Linux's tcp_send_syn_data): the first SYN carries the
     * cookie (or a request for one) and any data; a retransmitted SYN
     * goes plain, so a middlebox dropping either cannot stall the
     * connection. */
    sk_fo_cookie foc = {.len = -1};
    const uint8_t *syn_data = NULL;
    uint32_t syn_len = 0;
    if (!synack && !s->xmit_retrans && (t->tfo & SK_TFO_SYN_FASTOPEN)) {
        uint8_t fail = t->tfo_client_fail;
        if (!sk_fastopen_cookie_check(s, t, &foc))
            foc.len = 0; /* no cookie: ask for one */
        t->tfo_client_fail = fail;
        foc.exp = (t->tfo & SK_TFO_SYN_EXP) != 0;
        if (foc.len >= 0) {
            o.fo = true;
            o.fo_exp = foc.exp;
            o.fo_len = (uint8_t)foc.len;
            o.fo_cookie = foc.val;
        }
    }
    if (!synack && !s->xmit_retrans && (t->tfo & SK_TFO_SYN_DATA) && t->sndq.len) {
        syn_len = t->sndq.len;
        if (s->seg_scratch_cap < syn_len) {
            uint8_t *p = sk_realloc(s, s->seg_scratch, syn_len);
            if (p) {
                s->seg_scratch = p;
                s->seg_scratch_cap = syn_len;
            }
        }
        if (s->seg_scratch_cap >= syn_len) {
            sk_ring_peek(&t->sndq, 0, s->seg_scratch, syn_len);
            syn_data = s->seg_scratch;
        } else {
            syn_len = 0;
        }
    }
    size_t optlen = sk_build_options(&o, opts);
    uint16_t win = (uint16_t)(t->rcv_wnd < 65535u ? t->rcv_wnd : 65535u);
    t->segs_out++;
    t->rtt_start = sk_us_now(s); /* the SYN's RTT, used unless retransmitted (Karn) */
    uint16_t flags = synack ? (SK_TH_SYN | SK_TH_ACK) : SK_TH_SYN;
    if (synack) {
        /* Simultaneous open (Linux's tcp_ecn_send_synack): ECE alone, if
         * both SYNs asked for ECN (RFC 3168 §6.1.1). */
        if (t->ecn & SK_ECN_OK)
            flags |= SK_TH_ECE;
    } else if (!s->xmit_retrans) {
        /* Linux's tcp_ecn_send_syn(): with tcp_ecn = 1 the SYN is an
         * ECN-setup SYN, ECE and CWR (RFC 3168 §6.1.1); until a SYN-ACK
         * answers, ECN is presumed.  A retransmitted SYN goes without
         * them (tcp_ecn_clear_syn, tcp_ecn_fallback = 1) in case a
         * middlebox drops ECN-setup SYNs (§6.1.1.1), but ECN stays
         * presumed: a SYN-ACK with ECE still negotiates it. */
        t->ecn = 0;
        if (s->cfg.tcp_ecn == 1) {
            flags |= SK_TH_ECE | SK_TH_CWR;
            t->ecn = SK_ECN_OK;
        }
    }
    sk_route rt;
    sk_route_tcb(s, t, &rt);
    sk_segment_spec spec = {.sport = t->lport, .dport = t->rport, .seq = t->iss,
                            .ack = synack ? t->rcv_nxt : 0, .flags = flags, .window = win, .options = opts,
                            .options_len = optlen, .payload = syn_data, .payload_len = syn_len};
    sk_xmit(s, &rt, &spec);
    if (syn_len) {
        t->bytes_sent += syn_len;
        t->data_segs_out++;
        sk_count(s, SK_C_TCPEXT_TCP_ORIG_DATA_SENT);
    }
    if (seq_lt(t->snd_nxt, t->iss + 1 + syn_len))
        t->snd_nxt = t->iss + 1 + syn_len; /* a Fast Open child may have sent data past it */
}

/* RFC 9293 §3.10.7.1: the reset for a segment that belongs to no
 * connection.  If it had ACK, <SEQ=SEG.ACK><CTL=RST>; otherwise
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.  Never answer a RST. */
void sk_reply_rst(sk_stack *s, const sk_segment *seg)
{
    if (seg->flags & SK_TH_RST)
        return;
    sk_route rt;
    sk_route_reply(seg, &rt);
    sk_segment_spec spec = {.sport = seg->dport, .dport = seg->sport};
    if (seg->flags & SK_TH_ACK) {
        spec.seq = seg->ack;
        spec.flags = SK_TH_RST;
    } else {
        uint32_t len = (uint32_t)seg->payload_len + !!(seg->flags & SK_TH_SYN) + !!(seg->flags & SK_TH_FIN);
        spec.ack = seg->seq + len;
        spec.flags = SK_TH_RST | SK_TH_ACK;
    }
    sk_xmit(s, &rt, &spec);
}

/* ------------------------------------------------------------------ */
/* The data sender                                                      */
/* ------------------------------------------------------------------ */

static bool can_send_data(const sk_tcb *t)
{
    if (t->tfo & SK_TFO_CHILD)
        return true; /* RFC 7413 §4.2.2: the server may send before the handshake's ACK */
    switch (t->state) {
    case SK_TCP_ESTABLISHED:
    case SK_TCP_CLOSE_WAIT:
    case SK_TCP_FIN_WAIT1:
    case SK_TCP_CLOSING:
    case SK_TCP_LAST_ACK:
        return true;
    default:
        return false;
    }
}

/* Sends one segment of sndq starting at `seq`, up to `len` bytes, with
 * FIN when `fin`.  Counts retransmissions below snd_nxt. */
static void send_data_segment(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len, bool fin, bool push)
{
    bool was_idle = t->snd_una == t->snd_nxt;
    /* The payload stays in the ring: sk_xmit_tos takes it from there
     * (copied once behind the headers, or by reference to transmitv). */
    sk_iovec pay[2];
    unsigned npay = len ? sk_ring_pieces(&t->sndq, seq - t->snd_una, len, pay) : 0;
    if (len && !npay)
        return;
    uint16_t flags = SK_TH_ACK;
    uint32_t data_end = t->snd_una + t->sndq.len;
    /* An skb ending a MSG_EOR record was the tail when its write ended,
     * so tcp_push() marked it with PSH; the mark lives in the skb and so
     * rides every (re)transmission of its end. */
    /* Linux's skb PSH mark (tcp_mark_push at the end of a write, or the
     * end of a MSG_EOR record), as opposed to the PSH the trace shows on
     * the last segment of each TSO packet. */
    bool skb_push = len && ((seq + len == data_end && t->tail_push) || sk_eor_is_end(t, seq + len));
    if (len && (push || skb_push))
        flags |= SK_TH_PSH;
    /* A retransmission of an skb's end carries the PSH its first
     * transmission had (the flag is the skb's, tcp_retransmit_skb). */
    if (len && seq_lt(seq, t->snd_nxt) && sk_rack_psh_at(t, seq + len + (fin ? 1 : 0)))
        flags |= SK_TH_PSH;
    if (fin)
        flags |= SK_TH_FIN;
    bool retrans = seq_lt(seq, t->snd_nxt);
    uint32_t pkts = len > t->mss ? (len + t->mss - 1) / t->mss : 1;
    if (retrans) {
        s->counters[SK_C_TCP_RETRANS_SEGS] += pkts;
        t->total_retrans += pkts;
        t->bytes_retrans += len;
        if (!t->retrans_stamp)
            t->retrans_stamp = sk_stamp_now(s);
    } else if (len) {
        s->counters[SK_C_TCPEXT_TCP_ORIG_DATA_SENT] += pkts;
    }
    if (len) {
        if (t->snd_una == t->snd_nxt)
            sk_cc_tx_start(s, t); /* Linux's CA_EVENT_TX_START */
        t->data_segs_out += pkts; /* tcp_skb_pcount, as Linux */
        t->bytes_sent += len;
        t->last_data_sent = sk_stamp_now(s);
    }
    s->xmit_retrans = retrans;
    s->xmit_pcount = (uint16_t)pkts;
    s->xmit_pay[0] = pay[0];
    s->xmit_pay[1] = pay[1];
    s->xmit_npay = (uint8_t)npay;
    conn_xmit(s, t, seq, flags, NULL, len);
    s->xmit_npay = 0;
    s->xmit_retrans = false;
    s->xmit_pcount = 0;
    if (s->xmit_failed && !retrans)
        return; /* local congestion: the data stays unsent (Linux tcp_write_xmit) */
    if (retrans && !s->xmit_failed && s->rtx_mib != SK_RTX_MIB_NONE) {
        /* Counted per packet (tcp_skb_pcount) once sent. */
        s->counters[s->rtx_mib == SK_RTX_MIB_FAST ? SK_C_TCPEXT_TCP_FAST_RETRANS
                                                  : SK_C_TCPEXT_TCP_SLOW_START_RETRANS] += pkts;
    }
    if (len)
        sk_cc_sent(s, t, seq, len, retrans);
    uint32_t end = seq + len + (fin ? 1 : 0);
    if (retrans && !s->xmit_failed && seq_lt(end, t->snd_nxt))
        sk_rack_split(s, t, end); /* only what was resent counts as resent */
    if (!s->xmit_failed) {
        sk_rack_on_send(s, t, seq, end, retrans);
        if (!retrans && skb_push)
            sk_rack_set_psh(t, end);
        if (!retrans && (flags & SK_TH_PSH))
            sk_rack_pkt_end(t, end); /* a TSO packet's end is an skb's (tcp_simple_retransmit) */
    }
    if (seq_gt(end, t->snd_nxt)) {
        /* RTT timing by Karn's rule: only new data, one sample at a time. */
        if (!(t->negot & SK_N_TS_OK) && !(t->xflags & SK_X_RTT_PENDING)) {
            t->xflags |= SK_X_RTT_PENDING;
            t->rtt_seq = end;
            t->rtt_start = sk_us_now(s);
        }
        t->snd_nxt = end;
    }
    if (fin) {
        t->xflags |= SK_X_FIN_SENT;
        if (!len && !retrans)
            t->xflags |= SK_X_FIN_ALONE;
    }
    /* Linux's tcp_event_new_data_sent(): new data leaving an empty
     * flight re-arms the RTO, replacing a zero-window probe deadline left
     * from while the window was shut. */
    if (!t->rto_at || (was_idle && !retrans && seq_gt(t->snd_nxt, seq)))
        sk_arm_rto(s, t);
}

void sk_send_data_range(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len)
{
    send_data_segment(s, t, seq, len, false, false);
}

/* Linux's tcp_tso_autosize(): a TSO packet carries about 1 ms of data at
 * the pacing rate (twice cwnd/srtt in slow start, 1.2 times after), plus
 * more on short paths, between tcp_min_tso_segs (2) and 64 KiB. */
static uint32_t tso_max_segs(const sk_stack *s, const sk_tcb *t)
{
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    uint64_t bytes = 65536;
    if (t->srtt_us) {
        uint64_t ratio = t->cwnd < t->ssthresh ? 200 : 120;
        uint64_t rate = (uint64_t)mss * t->cwnd * ratio * 10000u * 8u / t->srtt_us; /* bytes/s */
        bytes = rate >> 10; /* sk_pacing_shift */
        uint32_t r = t->min_rtt_us >> 9; /* tcp_tso_rtt_log */
        if (r < 32)
            bytes += 65536u >> r;
        if (bytes > 65536)
            bytes = 65536;
    }
    uint32_t segs = (uint32_t)(bytes / mss);
    uint32_t min_segs = (uint32_t)s->cfg.tcp_min_tso_segs;
    return segs < min_segs ? min_segs : segs;
}

/* Segments per TSO packet of a burst: the autosized count, but at most
 * half the congestion window so that at least two packets are in flight
 * (Linux's tcp_cwnd_test). */
static uint32_t tso_packet_segs(const sk_stack *s, const sk_tcb *t)
{
    uint32_t segs = tso_max_segs(s, t);
    uint32_t half_cwnd = t->cwnd >> 1 ? t->cwnd >> 1 : 1;
    return segs < half_cwnd ? segs : half_cwnd;
}

/* Linux's tcp_tso_should_defer(), evaluated where an unsent skb begins
 * (the first unsent byte, or an skb boundary): when the windows cannot
 * take the whole skb, wait for the next ACK rather than send a sliver —
 * unless a third of the window is free, the last send was over 1 ms ago,
 * the sender is recovering, or the skb ends with the FIN. */
/* Where the unsent "skb" holding `nxt` ends, as Linux's write queue
 * would have cut it: size-goal skbs from skb_base, then the tail skb that
 * sk_send began at tail_start; an skb also ends where a MSG_EOR record
 * does, and the next begins there (tcp_skb_can_collapse_to).  *at_start
 * tells whether `nxt` is where such an skb begins. */
static uint32_t unsent_skb_end(sk_tcb *t, uint32_t nxt, uint32_t data_end, bool *at_start)
{
    uint32_t goal = sk_size_goal(t);
    uint32_t prev = 0, next = 0, base = t->skb_base;
    bool has_prev = false;
    bool has_next = sk_eor_around(t, nxt, &prev, &has_prev, &next);
    if (has_prev && seq_gt(prev, t->snd_una) && (seq_gt(prev, base) || seq_lt(nxt, base))) {
        base = prev; /* skbs after a record end are cut from it */
    } else if (seq_lt(nxt, base) || seq_gt(base, data_end)) {
        /* A record ending at or before skb_base holds nxt: sk_send moved
         * skb_base past it, so leave skb_base alone and cut the
         * record's unsent part from snd_nxt as an unsplit tail. */
        if (has_next && seq_leq(next, base) && !seq_gt(base, data_end))
            base = t->snd_nxt;
        else
            base = t->skb_base = t->snd_nxt;
    }
    uint32_t end = nxt - (nxt - base) % goal + goal;
    if (seq_gt(t->tail_start, nxt) && seq_lt(t->tail_start, end))
        end = t->tail_start;
    if (has_next && seq_lt(next, end))
        end = next;
    if (at_start)
        *at_start = (nxt - base) % goal == 0;
    return seq_gt(end, data_end) ? data_end : end;
}

static bool tso_should_defer(sk_stack *s, sk_tcb *t, uint32_t nxt, uint32_t in_flight, uint32_t data_end,
                             bool fin_queued, bool *cwnd_limited)
{
    uint32_t mss = t->mss, goal = sk_size_goal(t);
    if (goal <= mss || t->ca_state >= SK_CA_RECOVERY)
        return false;
    bool at_start;
    uint32_t skb_end = unsent_skb_end(t, nxt, data_end, &at_start);
    if (nxt != t->snd_nxt && !at_start)
        return false; /* mid-skb in this burst: Linux already split it */
    uint32_t skb_len = skb_end - nxt;
    if (skb_len <= mss)
        return false;
    if (fin_queued && skb_end == data_end)
        return false; /* it will get no more data: do not wait */
    if (sk_eor_is_end(t, skb_end))
        return false; /* nor will an skb that ends a MSG_EOR record */
    /* The last send was not recent: no bursts to smooth.  Linux tests
     * tcp_wstamp_ns, which each skb sent earlier in this same
     * tcp_write_xmit() loop has just moved to now; the plan loop sends
     * only afterwards, so a burst already planned counts as that send. */
    if (nxt == t->snd_nxt && sk_since(s, t->last_data_sent) > SK_NSEC_PER_MSEC)
        return false;
    uint32_t send_win = t->snd_una + t->snd_wnd - nxt;
    uint32_t cwnd_bytes = t->cwnd * mss;
    uint32_t cong_win = cwnd_bytes > in_flight ? cwnd_bytes - in_flight : 0;
    uint32_t limit = send_win < cong_win ? send_win : cong_win;
    if (limit >= skb_len || limit >= tso_max_segs(s, t) * mss)
        return false;
    uint32_t divisor = (uint32_t)s->cfg.tcp_tso_win_divisor;
    if (divisor) {
        uint32_t chunk = (t->snd_wnd < cwnd_bytes ? t->snd_wnd : cwnd_bytes) / divisor;
        if (limit >= chunk)
            return false;
    } else if (limit > 3 * mss) {
        return false; /* without a divisor Linux waits for at most three segments */
    }
    if (cong_win < send_win) {
        if (cong_win <= skb_len) {
            *cwnd_limited = true;
            return true;
        }
    } else if (send_win <= skb_len) {
        return true;
    }
    return true;
}

/* A segment of a planned burst (sk_tcp_output). */
typedef struct sk_planned {
    uint32_t seq, len;
    bool fin;
    bool tso_end; /* ends a TSO packet with PSH: an skb's end, or a cut with more behind */
} sk_planned;

/* The payload a datagram of the link's gso_max_size holds beside the
 * largest IP and TCP headers; 0 when the link takes nothing above the
 * MTU. */
static uint32_t gso_room(const sk_stack *s, const sk_tcb *t, uint32_t mss)
{
    if (!s->gso_max_size)
        return 0;
    uint32_t hdrs = (t->af6 ? 40u : 20u) + 60u;
    return s->gso_max_size > hdrs + mss ? s->gso_max_size - hdrs : 0;
}

/* A link that takes datagrams above the MTU (gso_max_size, as `lo` takes
 * GSO skbs whole) gets each TSO packet of a burst as one datagram: from
 * plan[*i], the full segments of one packet up to the one ending it (PSH
 * or a TSO packet's end), as Linux hands the device one skb per packet.
 * Advances *i to the last segment taken; returns the bytes taken.  With
 * packets of one segment (tso_segs < 2) nothing merges, as Linux then
 * sends MSS-sized skbs. */
static uint32_t gso_merge(const sk_planned *plan, size_t n, size_t *i, uint32_t mss, uint32_t room,
                          uint32_t tso_segs, bool push)
{
    size_t k = *i;
    uint32_t len = plan[k].len;
    while (room && tso_segs >= 2 && !push && !plan[k].fin && plan[k].len == mss && k + 1 < n &&
           plan[k + 1].seq == plan[k].seq + plan[k].len && plan[k + 1].len && len + plan[k + 1].len <= room) {
        k++;
        len += plan[k].len;
        push = plan[k].tso_end;
    }
    *i = k;
    return len;
}

/* After an RTO: resend what was in flight, oldest first, as the
 * congestion window reopens (RFC 5681 §3.1, Linux tcp_enter_loss +
 * tcp_xmit_retransmit_queue).  Returns false while it used the window. */
static bool retransmit_lost(sk_stack *s, sk_tcb *t)
{
    uint32_t mss = current_mss(t);
    while ((t->ca_state == SK_CA_LOSS) && seq_lt(t->rtx_nxt, t->snd_nxt)) {
        if (seq_lt(t->rtx_nxt, t->snd_una))
            t->rtx_nxt = t->snd_una;
        /* What the peer SACKed need not be resent (tcp_timeout_mark_lost
         * leaves SACKed segments alone). */
        t->rtx_nxt = sk_sack_skip(t, t->rtx_nxt);
        /* Only what is marked lost goes again: after an RTO that is all
         * but the SACKed, after a path MTU drop the segments cut too big
         * (tcp_simple_retransmit). */
        uint32_t run_end = t->snd_nxt;
        t->rtx_nxt = sk_rack_next_to_resend(t, t->rtx_nxt, mss, &run_end);
        if (!seq_lt(t->rtx_nxt, t->snd_nxt))
            break;
        uint32_t data_end = t->snd_una + t->sndq.len;
        uint32_t avail = seq_lt(t->rtx_nxt, data_end) ? data_end - t->rtx_nxt : 0;
        uint32_t sent_left = t->snd_nxt - t->rtx_nxt;
        uint32_t len = avail < mss ? avail : mss;
        if (len > sent_left)
            len = sent_left;
        if (seq_gt(t->rtx_nxt + len, run_end))
            len = run_end - t->rtx_nxt;
        uint32_t next_sacked = sk_sack_next_start(t, t->rtx_nxt);
        if (t->sack_n && len > next_sacked - t->rtx_nxt)
            len = next_sacked - t->rtx_nxt;
        /* tcp_retrans_try_collapse() never merges across a record end */
        len = sk_eor_clip(t, t->rtx_nxt, len);
        bool fin = (t->xflags & SK_X_FIN_SENT) && t->rtx_nxt + len == data_end && seq_gt(t->snd_nxt, data_end);
        if (!len && !fin) {
            sk_set_ca_state(t, SK_CA_OPEN);
            break;
        }
        if (sk_flight_size(t) >= t->cwnd * mss)
            return false;
        /* Linux counts packets (tcp_packets_in_flight), which bytes
         * approximate while segments are full; short MSG_EOR records
         * are packets of their own, so count them as such. */
        if (t->ext && t->ext->eor_n && sk_eor_segs(t, t->snd_una, t->rtx_nxt, mss) >= t->cwnd)
            return false;
        if (seq_gt(t->rtx_nxt + len, t->snd_una + t->snd_wnd) && len)
            return false;
        s->rtx_mib = SK_RTX_MIB_SLOW_START;
        send_data_segment(s, t, t->rtx_nxt, len, fin, false);
        s->rtx_mib = SK_RTX_MIB_NONE;
        t->rtx_nxt += len + (fin ? 1 : 0);
    }
    if (t->ca_state == SK_CA_LOSS && !seq_lt(t->rtx_nxt, t->snd_nxt))
        sk_set_ca_state(t, SK_CA_OPEN);
    return true;
}

/* SACK loss recovery (RFC 6675 §5 NextSeg rule 1): while the pipe has
 * room, resend lost holes — un-SACKed bytes below SACKed ones — oldest
 * first.  Returns false while the window is used up. */
static bool retransmit_holes(sk_stack *s, sk_tcb *t)
{
    uint32_t mss = current_mss(t);
    if (t->rack) {
        /* RACK marked the losses: resend them oldest first while the
         * window allows (Linux's tcp_xmit_retransmit_queue). */
        uint32_t seq, end;
        while (sk_rack_next_lost(t, &seq, &end)) {
            if (sk_flight_size(t) >= t->cwnd * mss)
                return false;
            uint32_t data_end = t->snd_una + t->sndq.len;
            bool fin = seq_gt(end, data_end);
            uint32_t len = (fin ? data_end : end) - seq;
            if (len > mss) { /* tcp_retransmit_skb() fragments to the current MSS */
                len = mss;
                fin = false;
            }
            s->rtx_mib = (t->ca_state == SK_CA_LOSS) ? SK_RTX_MIB_SLOW_START : SK_RTX_MIB_FAST;
            send_data_segment(s, t, seq, len, fin, false);
            s->rtx_mib = SK_RTX_MIB_NONE;
            if (s->xmit_failed)
                return false;
        }
        return true;
    }
    for (;;) {
        if (sk_flight_size(t) >= t->cwnd * mss)
            return false;
        uint32_t start, len;
        if (!sk_sack_next_hole(t, t->high_rxt, &start, &len))
            return true;
        if (len > mss)
            len = mss;
        uint32_t data_end = t->snd_una + t->sndq.len;
        if (seq_gt(start + len, data_end))
            len = seq_gt(data_end, start) ? data_end - start : 0;
        len = sk_eor_clip(t, start, len); /* a retransmission stays within its record */
        bool fin = (t->xflags & SK_X_FIN_SENT) && start + len == data_end && seq_gt(t->snd_nxt, data_end);
        if (!len && !fin)
            return true;
        s->rtx_mib = (t->ca_state == SK_CA_LOSS) ? SK_RTX_MIB_SLOW_START : SK_RTX_MIB_FAST;
        send_data_segment(s, t, start, len, fin, false);
        s->rtx_mib = SK_RTX_MIB_NONE;
        if (s->xmit_failed)
            return false;
        t->high_rxt = start + len + (fin ? 1 : 0);
    }
}

/* Slow start after idle as the Linux traces show it (tcp_cwnd_restart,
 * checked when new data is about to leave, as tcp_event_data_sent did;
 * a write during a zero window leaves cwnd alone until data goes): after
 * an idle spell longer than the RTO with nothing in flight,
 * the old cwnd no longer reflects the path (RFC 5681 section 4.1), so it
 * is halved per RTO idle, down to the initial window (tcp_cwnd_restart),
 * and ssthresh keeps three quarters of the old cwnd. */
static void restart_cwnd_after_idle(sk_stack *s, sk_tcb *t)
{
    /* Idle is measured from the last data sent, as Linux's lsndtime
     * (set by tcp_event_data_sent) is: pure ACKs do not end it. */
    if (!s->cfg.tcp_slow_start_after_idle || t->snd_nxt != t->snd_una || !t->last_data_sent)
        return;
    int64_t rto_ns = (int64_t)t->rto_us * 1000;
    int64_t idle = (int64_t)sk_since(s, t->last_data_sent);
    if (idle <= rto_ns)
        return;
    if (t->ca_state < SK_CA_RECOVERY) {
        uint32_t keep = (t->cwnd >> 1) + (t->cwnd >> 2);
        if (t->ssthresh < keep)
            t->ssthresh = keep;
    }
    uint32_t restart = t->cwnd < SK_TCP_INIT_CWND ? t->cwnd : SK_TCP_INIT_CWND;
    uint32_t cwnd = t->cwnd;
    while ((idle -= rto_ns) > 0 && cwnd > restart)
        cwnd >>= 1;
    t->cwnd = cwnd > restart ? cwnd : restart;
}

/* sk_tcp_output has nothing to do but its epilogue: no unsent byte, no
 * FIN waiting, no retransmission to drive (Recovery's holes, Loss's
 * queue) and no MTU probe to consider (sk_mtu_probe keeps state even when
 * it sends nothing). */
static bool nothing_to_send(const sk_tcb *t)
{
    uint32_t data_end = t->snd_una + t->sndq.len;
    if (seq_lt(t->snd_nxt, data_end) || ((t->sflags & SK_S_SHUT_WR) && t->snd_nxt == data_end))
        return false;
    if (t->ca_state >= SK_CA_RECOVERY)
        return false;
    return !(t->ext && t->ext->pm && t->ext->pm->mtup_enabled);
}

void sk_tcp_output(sk_stack *s, sk_tcb *t)
{
    sk_pmtu_check(s, t); /* tcp_current_mss: the route's MTU may have moved */
    if (!can_send_data(t)) {
        if (t->xflags & SK_X_ACK_NOW)
            sk_send_ack(s, t);
        return;
    }
    if (nothing_to_send(t)) {
        /* What the full path below ends with when its burst is empty:
         * cwnd validation of a full window, the end of a rwnd-limited
         * spell, an ACK owed.  Most calls (one per ACK received) end
         * here, so they skip the burst planner's set-up. */
        if (sk_flight_size(t) >= t->cwnd * current_mss(t))
            sk_cc_validate(t, true);
        sk_rwnd_chrono(s, t, false);
        if (t->xflags & SK_X_ACK_NOW)
            sk_send_ack(s, t);
        return;
    }
    uint32_t mss = current_mss(t);
    if ((t->ca_state == SK_CA_RECOVERY) && (t->negot & SK_N_SACK_OK) && !retransmit_holes(s, t)) {
        if (t->xflags & SK_X_ACK_NOW)
            sk_send_ack(s, t);
        return;
    }
    if (!retransmit_lost(s, t)) {
        if (t->xflags & SK_X_ACK_NOW)
            sk_send_ack(s, t);
        return;
    }
    uint32_t sent_before = t->snd_nxt;
    /* tcp_write_xmit: an MTU probe (RFC 4821) goes first, or holds the
     * burst back while the window drains for it. */
    if (t->ext && t->ext->pm && t->ext->pm->mtup_enabled) {
        int probed = sk_mtu_probe(s, t);
        if (probed == 0) {
            if (t->xflags & SK_X_ACK_NOW)
                sk_send_ack(s, t);
            return;
        }
        if (probed > 0)
            mss = current_mss(t);
    }
    /* Plan the burst first, then send it, so that PSH can be put where
     * Linux's TSO packets end (a TSO packet carries PSH, and GSO leaves
     * it on the last segment), which is known only once the burst's end
     * is. */
    sk_planned plan[64];
    size_t n = 0;
    uint32_t nxt = t->snd_nxt, in_flight = sk_flight_size(t), sml = t->snd_sml;
    bool cwnd_full = false;
    bool nagle_held = false; /* the burst stops at a small tail Nagle or a cork holds */
    bool rwnd_limited = false; /* the peer's window held data back (Linux is_rwnd_limited) */
    uint32_t cur_end = 0;      /* end of the skb the last planned segment came from */
    bool have_cur_end = false;
    uint32_t tso_segs = 0, run = 0; /* computed when a burst has a second segment */
    for (;;) {
        uint32_t data_end = t->snd_una + t->sndq.len;
        bool fin_queued = (t->sflags & SK_S_SHUT_WR) != 0;
        uint32_t avail = seq_lt(nxt, data_end) ? data_end - nxt : 0;
        bool fin_pending = fin_queued && nxt == data_end; /* once sent, nxt is past it */
        if (!avail && !fin_pending)
            break;
        uint32_t wnd_end = t->snd_una + t->snd_wnd;
        uint32_t cwnd_bytes = t->cwnd * mss;
        /* Linux's tcp_cwnd_test lets a lone FIN past a full window. */
        if (in_flight >= cwnd_bytes && !(avail == 0 && fin_pending)) {
            cwnd_full = true;
            break;
        }
        uint32_t len = avail < mss ? avail : mss;
        /* Linux's tcp_snd_wnd_test: a segment goes only if it fits the
         * peer's window whole; no sub-MSS slivers to fill a window.  When
         * nothing is in flight the persist timer takes over (timers.c). */
        if (seq_gt(nxt + len + (fin_pending ? 1 : 0), wnd_end)) {
            rwnd_limited = len > 0;
            break;
        }
        /* tso_should_defer answers no mid-skb once the burst is under way
         * (nxt past SND.NXT and not where an skb begins): strictly inside
         * the skb found for the previous segment, that is known without
         * finding the skb again (Linux asks once per skb, not per MSS). */
        if (avail > mss && !(have_cur_end && seq_lt(nxt, cur_end) && nxt != t->snd_nxt) &&
            tso_should_defer(s, t, nxt, in_flight, data_end, fin_queued, &cwnd_full))
            break;
        /* Linux transmits skb by skb: a TSO packet ends where its skb
         * does, and carries PSH there as a packet cut shorter does. */
        bool skb_end = false;
        if (len) {
            /* The skb holding nxt ends where it ended for the previous
             * segment until nxt reaches that end: found once per skb. */
            if (!have_cur_end || !seq_lt(nxt, cur_end)) {
                cur_end = unsent_skb_end(t, nxt, data_end, NULL);
                have_cur_end = true;
            }
            uint32_t end = cur_end;
            if (seq_lt(end, nxt + len) && seq_gt(end, nxt))
                len = end - nxt;
            skb_end = nxt + len == end && end != data_end;
        }
        /* Nagle (RFC 896) with Minshall's refinement as Linux applies it:
         * hold a small segment while an earlier small one is unacked.
         * tcp_write_xmit() asks only of the last skb (the others go with
         * TCP_NAGLE_PUSH), so a short MSG_EOR record with more queued
         * behind it is never held. */
        bool last_with_fin = fin_queued && nxt + len == data_end;
        if (len < mss && len > 0 && nxt + len == data_end && !last_with_fin && !s->nagle_push) {
            /* snd_sml counts only while it lies in flight. */
            bool small_in_flight = seq_gt(sml, t->snd_una) && seq_leq(sml, nxt);
            if ((t->sopts & SK_O_CORK) || (small_in_flight && !(t->sopts & SK_O_NODELAY))) {
                nagle_held = true;
                break;
            }
        }
        bool fin = last_with_fin || fin_pending;
        if (fin && len && seq_gt(nxt + len + 1, wnd_end))
            fin = false; /* the FIN follows when the window allows */
        if (n == sizeof(plan) / sizeof(plan[0])) {
            if (!tso_segs)
                tso_segs = tso_packet_segs(s, t);
            for (size_t i = 0; i + 1 < n; i++) {
                size_t first = i;
                uint32_t glen = gso_merge(plan, n - 1, &i, mss, gso_room(s, t, mss), tso_segs, plan[i].tso_end);
                send_data_segment(s, t, plan[first].seq, glen, plan[i].fin, plan[i].tso_end);
            }
            plan[0] = plan[n - 1];
            n = 1;
        }
        /* Linux cuts a burst into TSO packets of tso_packet_segs()
         * segments; each packet that is followed by more carries PSH on
         * its last segment, unless packets are of one segment. */
        /* The first data of the burst is about to leave an empty flight:
         * this is where Linux checks for idleness (not while a zero
         * window keeps the data waiting). */
        if (!n && len && nxt == t->snd_una)
            restart_cwnd_after_idle(s, t);
        if (n && !tso_segs)
            tso_segs = tso_packet_segs(s, t);
        if (n && run == tso_segs) {
            plan[n - 1].tso_end = tso_segs >= 2;
            run = 0;
        }
        run++;
        plan[n].seq = nxt;
        plan[n].len = len;
        plan[n].fin = fin;
        plan[n].tso_end = skb_end;
        n++;
        if (skb_end)
            run = 0;
        nxt += len + (fin ? 1 : 0);
        in_flight += len + (fin ? 1 : 0);
        if (len < mss && len > 0)
            sml = nxt; /* Minshall: end of the last small segment */
        if (fin)
            break;
    }
    uint32_t room = gso_room(s, t, mss);
    for (size_t i = 0; i < n; i++) {
        /* PSH as the Linux traces show it: on the last segment of each
         * TSO packet of a burst, unless the burst stopped because Nagle or
         * a cork held back the small tail (the packet is then the front of
         * a split skb, which tso_fragment leaves without PSH), or the
         * packets were cut to one segment (cwnd 3 or less: half of it is
         * one segment), which the recordings show without PSH; a lone
         * segment carries it only at the end of written data whose write
         * asked for a push (tcp_push marks the tail skb). */
        bool push = plan[i].tso_end || (i + 1 == n && n >= 2 && tso_segs >= 2 && !nagle_held);
        size_t first = i;
        uint32_t len = gso_merge(plan, n, &i, mss, room, tso_segs, push);
        if (i != first)
            push = plan[i].tso_end || (i + 1 == n && !nagle_held);
        send_data_segment(s, t, plan[first].seq, len, plan[i].fin, push);
        if (s->xmit_failed)
            break; /* the queue refused it: stop here, the probe timer retries */
        if (plan[i].len < mss && plan[i].len > 0)
            t->snd_sml = plan[i].seq + plan[i].len;
    }
    cwnd_full = cwnd_full || sk_flight_size(t) >= t->cwnd * mss;
    if (t->snd_nxt != sent_before || cwnd_full)
        sk_cc_validate(t, cwnd_full);
    if (t->snd_nxt != sent_before)
        sk_sndbuf_after_xmit(s, t); /* the tail of tcp_cwnd_validate() */
    sk_rwnd_chrono(s, t, rwnd_limited);
    /* New data went out: Linux's tcp_write_xmit() schedules one loss
     * probe per tail episode. */
    if (t->snd_nxt != sent_before && !t->tlp_high_seq)
        sk_schedule_loss_probe(s, t, false);
    /* Zero window with data waiting and nothing in flight: the persist
     * timer probes (RFC 9293 §3.8.6.1). */
    if (t->sndq.len && t->snd_nxt == t->snd_una && !t->rto_at)
        sk_arm_rto(s, t);
    if (t->xflags & SK_X_ACK_NOW)
        sk_send_ack(s, t);
}

/* Linux's tcp_write_wakeup(), the persist timer's probe: one segment of
 * whatever unsent data the window takes — cut to fit a window smaller than
 * a segment, past cwnd — with PSH; else a bare probe one below SND.UNA. */
/* Linux's tcp_write_wakeup(): new data if the window has room for some,
 * else a window probe (tcp_xmit_probe_skb, counted as TCPWinProbe). */
void sk_write_wakeup(sk_stack *s, sk_tcb *t)
{
    uint32_t data_end = t->snd_una + t->sndq.len;
    uint32_t wnd_end = t->snd_una + t->snd_wnd;
    if (seq_lt(t->snd_nxt, data_end) && seq_lt(t->snd_nxt, wnd_end)) {
        uint32_t len = data_end - t->snd_nxt;
        if (len > current_mss(t))
            len = current_mss(t);
        if (len > wnd_end - t->snd_nxt)
            len = wnd_end - t->snd_nxt;
        len = sk_eor_clip(t, t->snd_nxt, len); /* the probe comes from one skb */
        send_data_segment(s, t, t->snd_nxt, len, false, true);
        return;
    }
    sk_count(s, SK_C_TCPEXT_TCP_WIN_PROBE);
    sk_send_probe(s, t);
}

/* Linux's tcp_send_loss_probe(): send one new segment if the window
 * allows (even past cwnd), else resend the last segment, so that a lost
 * tail is repaired by SACK-driven recovery instead of an RTO. */
void sk_send_loss_probe(sk_stack *s, sk_tcb *t)
{
    if (t->tlp_high_seq) {
        sk_arm_rto(s, t); /* at most one probe outstanding */
        return;
    }
    t->xflags &= ~SK_X_TLP_RETRANS;
    uint32_t mss = current_mss(t);
    uint32_t data_end = t->snd_una + t->sndq.len;
    uint32_t wnd_end = t->snd_una + t->snd_wnd;
    bool sent = false;
    if (seq_lt(t->snd_nxt, data_end)) {
        uint32_t avail = data_end - t->snd_nxt;
        uint32_t len = sk_eor_clip(t, t->snd_nxt, avail < mss ? avail : mss);
        if (seq_leq(t->snd_nxt + len, wnd_end)) {
            bool fin = (t->sflags & SK_S_SHUT_WR) && t->snd_nxt + len == data_end &&
                       seq_leq(t->snd_nxt + len + 1, wnd_end);
            /* A probe is one segment, not a burst's tail: no PSH unless
             * it ends the data (as tcp_write_xmit with push_one). */
            send_data_segment(s, t, t->snd_nxt, len, fin, false);
            sent = true;
        } else {
            sk_arm_rto(s, t);
            return;
        }
    }
    if (!sent) {
        uint32_t sent_end = seq_lt(t->snd_nxt, data_end) ? t->snd_nxt : data_end;
        uint32_t outstanding = seq_gt(sent_end, t->snd_una) ? sent_end - t->snd_una : 0;
        bool fin = (t->xflags & SK_X_FIN_SENT) && seq_gt(t->snd_nxt, data_end);
        uint32_t len = 0;
        /* The last skb begins no earlier than the last record end below
         * it (tcp_rtx_queue_tail never spans a MSG_EOR record). */
        uint32_t rec_start, rec_next;
        bool has_rec;
        sk_eor_around(t, sent_end - 1, &rec_start, &has_rec, &rec_next);
        if (has_rec && seq_gt(rec_start, t->snd_una) && seq_lt(rec_start, sent_end))
            outstanding = sent_end - rec_start;
        if (!(fin && (t->xflags & SK_X_FIN_ALONE)) && outstanding) {
            len = outstanding % mss;
            if (!len)
                len = mss;
        }
        if (!len && !fin) {
            sk_arm_rto(s, t);
            return;
        }
        send_data_segment(s, t, sent_end - len, len, fin, true);
        t->xflags |= SK_X_TLP_RETRANS;
    }
    t->tlp_high_seq = t->snd_nxt;
    sk_count(s, SK_C_TCPEXT_TCP_LOSS_PROBES);
    sk_arm_rto(s, t);
}

/* Retransmits the oldest unacknowledged segment (RTO or fast retransmit). */
void sk_retransmit_head(sk_stack *s, sk_tcb *t)
{
    if (t->state == SK_TCP_SYN_SENT || (t->state == SK_TCP_SYN_RECV && !(t->sflags & SK_S_WAS_ESTABLISHED))) {
        sk_count(s, SK_C_TCP_RETRANS_SEGS);
        sk_count(s, SK_C_TCPEXT_TCP_SYN_RETRANS);
        t->total_retrans++;
        if (!t->retrans_stamp)
            t->retrans_stamp = sk_stamp_now(s);
        s->xmit_retrans = true;
        sk_send_syn(s, t);
        s->xmit_retrans = false;
        return;
    }
    uint32_t data_end = t->snd_una + t->sndq.len;
    uint32_t sent_data = seq_lt(t->snd_una, data_end) ? (seq_lt(t->snd_nxt, data_end) ? t->snd_nxt : data_end) - t->snd_una : 0;
    uint32_t mss = current_mss(t);
    uint32_t len = sent_data < mss ? sent_data : mss;
    len = sk_eor_clip(t, t->snd_una, len); /* the head skb ends at its record's end */
    bool fin = (t->xflags & SK_X_FIN_SENT) && t->snd_una + len == data_end && seq_gt(t->snd_nxt, data_end);
    if (!len && !fin)
        return;
    send_data_segment(s, t, t->snd_una, len, fin, false);
    if (t->ca_state == SK_CA_LOSS)
        t->rtx_nxt = t->snd_una + len + (fin ? 1 : 0);
}
