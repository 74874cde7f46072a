/*
 * Segment arrival (RFC 9293 §3.10.7): validation and demultiplexing of
 * every datagram, then the per-state processing of a full connection in
 * the RFC's order of checks — sequence number, RST, SYN, ACK, data, FIN.
 *
 * Listeners (LISTEN and half-open requests) are in listen.c, TIME_WAIT
 * records in timewait.c.  Everything a full connection does when a
 * segment arrives, in any state, is in this file.
 */

#include "input.h"
#include "addr.h"
#include "cc.h"
#include "events.h"
#include "fastopen.h"
#include "icmp.h"
#include "listen.h"
#include "output.h"
#include "rack.h"
#include "rcvbuf.h"
#include "sack.h"
#include "segment.h"
#include "sndbuf.h"
#include "stack.h"
#include "tables.h"
#include "timers.h"
#include "timewait.h"

/* ------------------------------------------------------------------ */
/* Validation and demultiplexing                                        */
/* ------------------------------------------------------------------ */

/* Counts a refused datagram as Linux's ip_rcv_core and tcp_v4_rcv would:
 * IP header faults are InHdrErrors except a total length beyond what
 * arrived (InTruncatedPkts); a TCP segment reaching TCP is an InDeliver
 * and an InSeg, and an InErr only when its header is bad (data offset
 * below 5, or a checksum error) — a TCP header cut short is discarded
 * without one (tcp_v4_rcv's discard_it).  `seg` holds what the parser
 * decoded before the fault. */
/* IPv6's faults, counted as Linux's ipv6_rcv_core and ip6_input count
 * them in the Ip6 MIB. */
static sk_counter_id count_parse_error6(sk_stack *s, sk_parse_error e, size_t len)
{
    switch (e) {
    case SK_PARSE_TRUNCATED_IP:
        /* Shorter than the fixed header is a header error; a payload
         * length past the end, a truncation. */
        return len < SK_IP6_HDR_LEN ? SK_C_IP6_IN_HDR_ERRORS : SK_C_IP6_IN_TRUNCATED_PKTS;
    case SK_PARSE_BAD_SRC_ADDR:
        return SK_C_IP6_IN_ADDR_ERRORS;
    case SK_PARSE_BAD_EXTHDR:
        return SK_C_IP6_IN_HDR_ERRORS;
    case SK_PARSE_FRAGMENT:
        sk_count(s, SK_C_IP6_REASM_FAILS);
        return SK_C_SYNACK_FRAGMENTS_DROPPED;
    case SK_PARSE_NOT_TCP:
        return SK_C_IP6_IN_UNKNOWN_PROTOS;
    default:
        return SK_C_IP6_IN_HDR_ERRORS;
    }
}

/* Is the datagram addressed to one of the stack's addresses? */
static inline bool dst_is_local(const sk_stack *s, const sk_segment *seg)
{
    if (seg->ip_version == 6)
        return sk_addr_is_local(s, true, sk_addr6_find(s, seg->dst6));
    return sk_addr_is_local(s, false, seg->dst);
}

/* The transparent listener a SYN to a non-local address goes to
 * (listen.c; ICMP errors about its requests look it up too). */
static inline sk_tcb *nonlocal_listener(sk_stack *s, bool v6, uint32_t daddr, uint16_t dport)
{
    return sk_listen_nonlocal(s, v6, daddr, dport);
}

/* Does anything transparent take a datagram to a non-local address: a
 * connection of a transparent socket (Linux's `-m socket --transparent`
 * rule with its local route), its TIME_WAIT record, or a transparent
 * listener?  Everything else is dropped as before routing.
 *
 * A TIME_WAIT record keeps no transparent bit (Linux's tw_transparent):
 * sk_tw has none to spare at 44 bytes, and a record at a non-local
 * address is a transparent connection's (a FREEBIND-only socket there
 * never gets past SYN_SENT), unless its address was removed after it
 * closed (sk_stack_del_addr), the one case now answered where Linux
 * would drop. */
static bool nonlocal_wanted(sk_stack *s, const sk_segment *seg, const sk_key *k, bool known)
{
    if (!seg->sport || !seg->dport)
        return false;
    /* Unicast only: TCP takes no multicast or broadcast (tcp_v4_rcv
     * drops what is not PACKET_HOST), nor an unspecified or IPv4-mapped
     * IPv6 destination. */
    if (seg->ip_version == 6 ? !sk_addr6_usable(seg->dst6) : !sk_addr4_usable(seg->dst))
        return false;
    if (known) {
        const sk_tcb *t = sk_conn_lookup(s, k);
        if (t)
            return t->transparent;
        if (sk_tw_lookup(s, k) != SK_TW_NONE)
            return true;
    }
    return nonlocal_listener(s, seg->ip_version == 6, k->laddr, seg->dport) != NULL;
}

static void count_parse_error(sk_stack *s, sk_parse_error e, const uint8_t *dgram, size_t len,
                              const sk_segment *seg, sk_counter_id *reason)
{
    sk_counter_id r;
    if (seg->ip_version == 6 && e != SK_PARSE_TRUNCATED_TCP && e != SK_PARSE_BAD_DOFF && e != SK_PARSE_BAD_TCP_CSUM) {
        r = count_parse_error6(s, e, len);
        sk_count(s, r);
        *reason = r;
        return;
    }
    bool tcp = e == SK_PARSE_TRUNCATED_TCP || e == SK_PARSE_BAD_DOFF || e == SK_PARSE_BAD_TCP_CSUM;
    bool v6 = seg->ip_version == 6;
    if (tcp && !dst_is_local(s, seg)) {
        /* Routing comes first: not ours, whatever TCP would say. */
        r = v6 ? SK_C_IP6_IN_ADDR_ERRORS : SK_C_IP_IN_ADDR_ERRORS;
        sk_count(s, r);
        *reason = r;
        return;
    }
    if (tcp) {
        sk_count(s, v6 ? SK_C_IP6_IN_DELIVERS : SK_C_IP_IN_DELIVERS);
        sk_count(s, SK_C_TCP_IN_SEGS);
    }
    switch (e) {
    case SK_PARSE_TRUNCATED_IP: {
        /* Only a total length past the datagram is a truncation; a
         * datagram shorter than a header, or an IHL past its end or past
         * the total length, is a header error. */
        size_t ihl = len >= SK_IP_HDR_MIN ? (size_t)(dgram[0] & 0x0f) * 4 : 0;
        bool truncated = len >= SK_IP_HDR_MIN && ihl <= len && ((size_t)dgram[2] << 8 | dgram[3]) > len;
        r = truncated ? SK_C_IPEXT_IN_TRUNCATED_PKTS : SK_C_IP_IN_HDR_ERRORS;
        break;
    }
    case SK_PARSE_BAD_VERSION:
        sk_count(s, SK_C_IP_IN_HDR_ERRORS);
        r = SK_C_SYNACK_BAD_IP_VERSION;
        break;
    case SK_PARSE_BAD_IHL:
        r = SK_C_IP_IN_HDR_ERRORS;
        break;
    case SK_PARSE_BAD_IP_CSUM:
        sk_count(s, SK_C_IP_IN_HDR_ERRORS);
        r = SK_C_IPEXT_IN_CSUM_ERRORS;
        break;
    case SK_PARSE_FRAGMENT:
        /* synack does not reassemble: TCP never needs fragments when
         * senders honour the MSS and DF is set (RFC 1191). */
        sk_count(s, SK_C_IP_REASM_FAILS);
        r = SK_C_SYNACK_FRAGMENTS_DROPPED;
        break;
    case SK_PARSE_NOT_TCP:
        r = SK_C_IP_IN_UNKNOWN_PROTOS;
        break;
    case SK_PARSE_TRUNCATED_TCP:
        r = SK_C_SYNACK_TRUNCATED_TCP;
        break;
    case SK_PARSE_BAD_DOFF: {
        size_t ihl = (size_t)(dgram[0] & 0x0f) * 4;
        if ((dgram[ihl + 12] >> 4) < 5)
            sk_count(s, SK_C_TCP_IN_ERRS); /* bad_packet; one past the end is discard_it */
        r = SK_C_SYNACK_BAD_DATA_OFFSET;
        break;
    }
    case SK_PARSE_BAD_TCP_CSUM:
    default:
        /* Linux counts the segment in InSegs before validating its
         * checksum, then in InErrs and InCsumErrors. */
        sk_count(s, SK_C_TCP_IN_ERRS);
        r = SK_C_TCP_IN_CSUM_ERRORS;
        break;
    }
    sk_count(s, r);
    *reason = r;
}

/* Inlined into each caller so the segment stays a local of sk_input's,
 * as it was before sk_inputv shared this path (a call with the segment
 * behind a pointer cost about 26 instructions a datagram). */
static inline __attribute__((always_inline)) void input_parsed(sk_stack *s, const uint8_t *dgram, size_t len,
                                                               const sk_iovec *iov, size_t iovcnt, sk_segment *seg,
                                                               sk_parse_error e);

/* One contiguous datagram, after the clock moved and the datagram was
 * counted in IpInReceives. */
static inline __attribute__((always_inline)) void input_linear(sk_stack *s, const uint8_t *dgram, size_t len)
{
    sk_segment seg;
    sk_parse_error e = sk_parse_segment_checked(dgram, len, true, !(s->offloads & SK_OFFLOAD_TCP_CSUM_RX), &seg);
    input_parsed(s, dgram, len, NULL, 0, &seg, e);
}

void sk_input(sk_stack *s, const uint8_t *dgram, size_t len, sk_time_ns now)
{
    /* Timers due before this arrival fire first, in time order. */
    sk_advance_inline(s, now);
    sk_count(s, len >= 1 && (dgram[0] >> 4) == 6 ? SK_C_IP6_IN_RECEIVES : SK_C_IP_IN_RECEIVES);
    input_linear(s, dgram, len);
}

/* The largest datagram worth gathering: an IPv6 header and the largest
 * payload length; bytes past any IP length field are link padding. */
#define INPUTV_LINEAR_MAX (SK_IP6_HDR_LEN + 65535u)

void sk_inputv(sk_stack *s, const sk_iovec *iov, size_t n, sk_time_ns now)
{
    static const uint8_t empty[1];
    if (!iov)
        n = 0;
    size_t total = 0, first = n ? iov[0].len : 0;
    for (size_t i = 0; i < n; i++)
        total = iov[i].len > SIZE_MAX - total ? SIZE_MAX : total + iov[i].len;
    if (n <= 1 || total == 0 || first == total) {
        /* One piece (or all bytes in the first): the plain path. */
        sk_input(s, n && iov[0].base && first ? iov[0].base : empty, n && iov[0].base ? first : 0, now);
        return;
    }
    sk_advance_inline(s, now);
    const uint8_t *h = iov[0].base;
    /* The version is the first byte's, wherever it lies. */
    bool v6 = false;
    for (size_t i = 0; i < n; i++) {
        if (iov[i].len) {
            v6 = iov[i].base && (iov[i].base[0] >> 4) == 6;
            break;
        }
    }
    sk_count(s, v6 ? SK_C_IP6_IN_RECEIVES : SK_C_IP_IN_RECEIVES);
    sk_segment seg;
    sk_parse_error e;
    if (sk_parse_segment_iov(iov, n, total, !(s->offloads & SK_OFFLOAD_TCP_CSUM_RX), &seg, &e)) {
        input_parsed(s, h, total, iov, n, &seg, e);
        return;
    }
    /* Headers split across pieces, a payload in several, ICMP: gather the
     * pieces (up to the largest IP datagram) and take the plain path. */
    size_t want = total < INPUTV_LINEAR_MAX ? total : INPUTV_LINEAR_MAX;
    if (!s->in_linear) {
        s->in_linear = sk_malloc(s, INPUTV_LINEAR_MAX);
        if (!s->in_linear) {
            /* No buffer to gather into: dropped for lack of memory, as
             * RFC 4293's ipSystemStatsInDiscards counts. */
            sk_count(s, v6 ? SK_C_IP6_IN_DISCARDS : SK_C_IP_IN_DISCARDS);
            sk_emit_drop(s, NULL, v6 ? SK_C_IP6_IN_DISCARDS : SK_C_IP_IN_DISCARDS);
            return;
        }
    }
    size_t got = 0;
    for (size_t i = 0; i < n && got < want; i++) {
        size_t take = iov[i].len < want - got ? iov[i].len : want - got;
        if (take && iov[i].base)
            memcpy(s->in_linear + got, iov[i].base, take);
        else if (take)
            memset(s->in_linear + got, 0, take); /* a NULL piece: its bytes read as zero */
        got += take;
    }
    input_linear(s, s->in_linear, want);
}

static inline __attribute__((always_inline)) void input_parsed(sk_stack *s, const uint8_t *dgram, size_t len,
                                                               const sk_iovec *iov, size_t iovcnt, sk_segment *seg,
                                                               sk_parse_error e)
{
    if (e == SK_PARSE_NOT_TCP && seg->ip_version == 4 && seg->ip_proto == 1) {
        sk_icmp_input(s, dgram, len, seg); /* icmp.c */
        return;
    }
    if (e == SK_PARSE_NOT_TCP && seg->ip_version == 6 && seg->ip_proto == 58) {
        sk_icmp6_input(s, dgram, len, seg); /* icmp6.c: echo, counters */
        return;
    }
    if (e != SK_PARSE_OK) {
        sk_counter_id reason;
        count_parse_error(s, e, dgram, len, seg, &reason);
        sk_emit_drop(s, NULL, reason);
        return;
    }
    bool v6 = seg->ip_version == 6;
    /* An IPv6 source address in no table belongs to no connection,
     * request or TIME_WAIT record: only a listener may want it. */
    sk_key k;
    bool known = sk_seg_key(s, seg, &k);
    /* The key already holds the destination's handle (0 when in no
     * table), so this is dst_is_local without a second lookup. */
    bool local = sk_addr_is_local(s, v6, k.laddr);
    if (!local && !nonlocal_wanted(s, seg, &k, known)) {
        /* Not one of our addresses (Linux's ip_route_input finds no
         * local route; ip6_input the same). */
        sk_counter_id r = v6 ? SK_C_IP6_IN_ADDR_ERRORS : SK_C_IP_IN_ADDR_ERRORS;
        sk_count(s, r);
        sk_emit_drop(s, seg, r);
        return;
    }
    sk_count(s, v6 ? SK_C_IP6_IN_DELIVERS : SK_C_IP_IN_DELIVERS);
    sk_count(s, SK_C_TCP_IN_SEGS);
    if (sk_wants(s, SK_EV_SEGMENT_IN)) {
        sk_event ev = {.type = SK_EV_SEGMENT_IN, .now = s->now, .fd = -1, .data = dgram, .len = len};
        if (iov) {
            /* As SEGMENT_OUT of a vectored transmit: `data` is the first
             * piece (the headers), `iov` all of them. */
            ev.len = iov[0].len;
            ev.iov = iov;
            ev.iovcnt = iovcnt;
        }
        sk_event_ep(&ev, SK_EPK_SEG, seg, NULL);
        sk_emit(s, &ev);
    }
    /* Segments whose flags make no sense in any state (SYN with RST or
     * FIN, port 0) are dropped as Linux drops them. */
    sk_tcb *t = seg->sport && seg->dport && known ? sk_conn_lookup(s, &k) : NULL;
    /* ... except SYN,ACK with FIN in SYN_SENT: a SYN-ACK may carry data
     * and FIN (a Fast Open server's reply), and Linux takes it there.
     * (Asked only of a SYN with RST or FIN, not of every segment.) */
    if (seg->sport == 0 || seg->dport == 0 ||
        ((seg->flags & SK_TH_SYN) && (seg->flags & (SK_TH_RST | SK_TH_FIN)) &&
         !(t && t->state == SK_TCP_SYN_SENT && (seg->flags & SK_TH_ACK) && !(seg->flags & SK_TH_RST)))) {
        sk_count(s, SK_C_SYNACK_BAD_SEGMENT);
        sk_emit_drop(s, seg, SK_C_SYNACK_BAD_SEGMENT);
        return;
    }

    if (t) {
        sk_tcb_input(s, t, seg);
        return;
    }
    uint32_t tw = known ? sk_tw_lookup(s, &k) : SK_TW_NONE;
    if (tw != SK_TW_NONE && !sk_tw_input(s, tw, seg))
        return;
    sk_tcb *l = local ? sk_listener_lookup(s, v6, k.laddr, seg->dport) : nonlocal_listener(s, v6, k.laddr, seg->dport);
    /* Within an SO_REUSEPORT group by the flow, so a SYN cookie's ACK
     * finds the listener its SYN did. */
    if (l && (l->sopts & SK_O_REUSEPORT))
        l = v6 ? sk_listener_select6(s, l, seg->dst6, seg->src6, seg->dport, seg->sport)
               : sk_listener_select4(s, l, seg->dst, seg->src, seg->dport, seg->sport);
    if (l)
        sk_listen_input(s, l, seg);
    else
        sk_reply_rst(s, seg); /* RFC 9293 §3.10.7.1: CLOSED.  Everything but a RST draws a RST. */
    s->tw_isn = 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* <SEQ=SEG.ACK><CTL=RST> to the segment's sender (RFC 9293 §3.10.7). */
static void rst_for_ack(sk_stack *s, const sk_segment *seg)
{
    sk_route rt;
    sk_route_reply(seg, &rt);
    sk_segment_spec spec = {.sport = seg->dport, .dport = seg->sport, .seq = seg->ack, .flags = SK_TH_RST};
    sk_xmit(s, &rt, &spec);
}

static inline uint32_t seg_len(const sk_segment *seg)
{
    return (uint32_t)seg->payload_len + !!(seg->flags & SK_TH_SYN) + !!(seg->flags & SK_TH_FIN);
}

static inline uint32_t rcv_window(const sk_tcb *t)
{
    int32_t w = (int32_t)(t->rcv_wup + t->rcv_wnd - t->rcv_nxt);
    return w < 0 ? 0 : (uint32_t)w;
}

/* RFC 7323 §5 (PAWS) as Linux's tcp_paws_check with a window of 1. */
static bool sk_paws_reject(const sk_tcb *t, const sk_segment *seg, sk_time_ns now)
{
    if (!(t->negot & SK_N_TS_OK) || !seg->opts.has_ts || !t->ts_recent)
        return false;
    if ((int32_t)(t->ts_recent - seg->opts.ts_val) <= 1)
        return false;
    /* A ts_recent older than 24 days is no longer trusted. */
    if ((uint32_t)(now / SK_NSEC_PER_SEC) - t->ts_recent_stamp_s >= 24u * 24 * 3600)
        return false;
    return true;
}

/* RFC 7323 §4.3: remember the peer's clock from segments at or before the
 * left edge of the window (Linux: !after(seq, rcv_wup)). */
static void update_ts_recent(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    if ((t->negot & SK_N_TS_OK) && seg->opts.has_ts && seq_leq(seg->seq, t->rcv_wup)) {
        t->ts_recent = seg->opts.ts_val;
        t->ts_recent_stamp_s = (uint32_t)(s->now / SK_NSEC_PER_SEC);
    }
}

/* Option negotiation from the peer's SYN or SYN-ACK: window scaling,
 * SACK and timestamps only when both ends offered them (RFC 7323 §1.3,
 * RFC 2018 §2), as Linux does. */
static void negotiate_options(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    t->peer_mss = seg->opts.has_mss && seg->opts.mss ? seg->opts.mss : SK_TCP_MSS_DEFAULT;
    if (seg->opts.has_wscale && s->cfg.tcp_window_scaling) {
        t->negot |= SK_N_WS_OK;
        t->snd_wscale = seg->opts.wscale;
    } else {
        t->negot &= ~SK_N_WS_OK;
        t->snd_wscale = 0;
        t->rcv_wscale = 0;
    }
    if (seg->opts.sack_permitted && s->cfg.tcp_sack)
        t->negot |= SK_N_SACK_OK;
    else
        t->negot &= ~SK_N_SACK_OK;
    if (seg->opts.has_ts && s->cfg.tcp_timestamps) {
        t->negot |= SK_N_TS_OK;
        t->ts_recent = seg->opts.ts_val;
        t->ts_recent_stamp_s = (uint32_t)(s->now / SK_NSEC_PER_SEC);
        /* The option rides in every segment we receive too: Linux lowers
         * advmss by it (tcp_rcv_synsent_state_process). */
        if (t->advmss > 12 + 64)
            t->advmss -= 12;
    } else {
        t->negot &= ~SK_N_TS_OK;
    }
    /* RFC 3168 §6.1.1: ECN holds only if the SYN-ACK has ECE without CWR
     * (Linux's tcp_ecn_rcv_synack), or, in a simultaneous open, the SYN
     * has both (tcp_ecn_rcv_syn). */
    uint16_t ecn_bits = seg->flags & (SK_TH_ECE | SK_TH_CWR);
    bool ecn_ok = (seg->flags & SK_TH_ACK) ? ecn_bits == SK_TH_ECE : ecn_bits == (SK_TH_ECE | SK_TH_CWR);
    if (!ecn_ok)
        t->ecn &= (uint8_t)~SK_ECN_OK;
    sk_set_send_mss(s, t);
}

/* Linux's tcp_init_buffer_space/tcp_init_transfer at establishment. */
void sk_init_transfer(sk_stack *s, sk_tcb *t)
{
    if (!t->rcv_ssthresh || t->rcv_ssthresh > t->rcv_wnd)
        t->rcv_ssthresh = t->rcv_wnd;
    sk_rcvbuf_established(s, t);
    sk_cc_init(s, t);
    sk_sndbuf_established(s, t);
    t->rcv_mss = t->advmss < SK_TCP_MSS_DEFAULT ? t->advmss : SK_TCP_MSS_DEFAULT;
    t->lrcvtime = sk_stamp_now(s);
    /* Linux starts icsk_ack.lrcvtime at establishment (tcp_finish_connect,
     * tcp_create_openreq_child): tcpi_last_data_recv counts from here. */
    t->last_data_recv = t->lrcvtime;
}

/* Where the errno of a reset goes (Linux tcp_reset()): refused only in
 * SYN_SENT; a simultaneous open already in SYN_RCVD is reset. */
static void connection_reset(sk_stack *s, sk_tcb *t, sk_state_cause cause)
{
    switch (t->state) {
    case SK_TCP_SYN_SENT:
        t->so_error = ECONNREFUSED;
        break;
    case SK_TCP_CLOSE_WAIT:
        t->so_error = EPIPE;
        break;
    default:
        t->so_error = ECONNRESET;
        break;
    }
    sk_ring_free(s, &t->sndq);
    sk_tcb_done(s, t, cause);
}

/* Linux's __tcp_ack_snd_check: ACK at once after more than one full
 * segment, in quickack mode, or with out-of-order data; else delay. */
static void ack_snd_check(sk_stack *s, sk_tcb *t)
{
    if (t->xflags & SK_X_ACK_NOW)
        return;
    uint32_t mss = t->rcv_mss ? t->rcv_mss : SK_TCP_MSS_DEFAULT;
    if ((t->rcv_nxt - t->rcv_wup) > mss || (t->quickack && !(t->xflags & SK_X_PINGPONG)) || t->ooo) {
        t->xflags |= SK_X_ACK_NOW;
        return;
    }
    sk_arm_delack(s, t);
}

/* ------------------------------------------------------------------ */
/* Receiving data                                                       */
/* ------------------------------------------------------------------ */

/* Linux's tcp_incr_quickack(): ACK the next few (at most `max`)
 * segments at once. */
static void incr_quickack_max(sk_tcb *t, uint32_t max)
{
    uint32_t mss = t->rcv_mss ? t->rcv_mss : SK_TCP_MSS_DEFAULT;
    uint32_t q = t->rcv_wnd / (2 * mss);
    if (q == 0)
        q = 2;
    if (q > max)
        q = max;
    if (q > t->quickack)
        t->quickack = (uint8_t)q;
}

static void incr_quickack(sk_tcb *t) { incr_quickack_max(t, SK_TCP_MAX_QUICKACKS); }

/* Linux's tcp_enter_quickack_mode(): quick ACKs, out of pingpong mode,
 * with the smallest delayed-ACK timeout. */
static void enter_quickack(sk_tcb *t, uint32_t max)
{
    incr_quickack_max(t, max);
    t->xflags &= ~SK_X_PINGPONG;
    t->ato_us = (uint32_t)(SK_TCP_ATO_MIN / SK_NSEC_PER_USEC);
}

/* Linux's tcp_send_dupack() for a segment refused before its data was
 * looked at (outside the window, or PAWS): if it repeats data below
 * RCV.NXT, the ACK lost or delayed is sent at once with a D-SACK. */
static void send_dupack(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    uint32_t len = (uint32_t)seg->payload_len + !!(seg->flags & SK_TH_SYN) + !!(seg->flags & SK_TH_FIN);
    if (len && seq_lt(seg->seq, t->rcv_nxt)) {
        sk_count(s, SK_C_TCPEXT_DELAYED_ACK_LOST);
        enter_quickack(t, SK_TCP_MAX_QUICKACKS);
        uint32_t end = seg->seq + len;
        sk_rx_dsack_set(s, t, seg->seq, seq_gt(end, t->rcv_nxt) ? t->rcv_nxt : end);
    }
    sk_send_ack(s, t);
}

/* Linux's tcp_ecn_check_ce() for a data segment: CE (RFC 3168 §6.1.3)
 * makes every ACK echo ECE until the sender's CWR, and ACKs go out at
 * once, as the sender's cwnd may be small; an unmarked segment after ECT
 * ones is likely a retransmission, also ACKed at once. */
static void ecn_check_ce(sk_tcb *t, const sk_segment *seg)
{
    if (!(t->ecn & SK_ECN_OK))
        return;
    switch (seg->tos & SK_IP_ECN_MASK) {
    case SK_IP_ECN_NOT_ECT:
        if (t->ecn & SK_ECN_SEEN)
            enter_quickack(t, 2);
        break;
    case SK_IP_ECN_CE:
        if (!(t->ecn & SK_ECN_DEMAND_CWR)) {
            enter_quickack(t, 2);
            t->ecn |= SK_ECN_DEMAND_CWR;
        }
        t->ecn |= SK_ECN_SEEN;
        break;
    default:
        t->ecn |= SK_ECN_SEEN;
        break;
    }
}

/* Linux's tcp_event_data_recv(): the delayed-ACK engine starts with the
 * first data segment and adapts the ATO to the gaps between segments. */
static void event_data_recv(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    uint32_t ato_min = (uint32_t)(SK_TCP_ATO_MIN / SK_NSEC_PER_USEC);
    if (!t->ato_us) {
        incr_quickack(t);
        t->ato_us = ato_min;
    } else if (t->last_data_recv) {
        uint64_t m = sk_since(s, t->last_data_recv) / SK_NSEC_PER_USEC;
        uint32_t rto = t->rto_us ? t->rto_us : 1000000u;
        if (m <= ato_min / 2) {
            t->ato_us = (t->ato_us >> 1) + ato_min / 2;
        } else if (m < t->ato_us) {
            t->ato_us = (t->ato_us >> 1) + (uint32_t)m;
            if (t->ato_us > rto)
                t->ato_us = rto;
        } else if (m > rto) {
            incr_quickack(t); /* a long gap: the sender may be restarting */
        }
    }
    t->last_data_recv = sk_stamp_now(s);
    ecn_check_ce(t, seg);
}

static bool process_fin(sk_stack *s, sk_tcb *t);

static void ooo_insert(sk_stack *s, sk_tcb *t, uint32_t seq, const uint8_t *data, uint32_t len, bool fin,
                       uint32_t truesize)
{
    /* The whole segment, FIN included, is what the SACK block reports
     * (Linux's seq..end_seq in tcp_data_queue_ofo). */
    uint32_t sack_seq = seq, sack_end = seq + len + !!fin;
    /* Trim against existing segments so the queue never overlaps; what
     * was here already is reported as a D-SACK (RFC 2883 §4), as Linux's
     * tcp_data_queue_ofo does. */
    sk_ooo_seg **pp = &t->ooo;
    while (*pp && seq_leq((*pp)->seq + (*pp)->len, seq))
        pp = &(*pp)->next;
    uint32_t end = seq + len;
    if (*pp && seq_geq(seq, (*pp)->seq) && seq_leq(end, (*pp)->seq + (*pp)->len)) {
        if (fin)
            (*pp)->fin = (*pp)->fin || end == (*pp)->seq + (*pp)->len;
        /* entirely duplicate */
        sk_count(s, SK_C_TCPEXT_TCP_OFO_QUEUE);
        if (len) {
            sk_count(s, SK_C_TCPEXT_TCP_OFO_MERGE);
            sk_rx_dsack_set(s, t, seq, end);
        }
        sk_rx_sack_new_ofo(s, t, sack_seq, sack_end);
        return;
    }
    if (*pp && seq_lt((*pp)->seq, seq)) {
        /* overlaps the tail of *pp: drop our head */
        uint32_t cut = (*pp)->seq + (*pp)->len - seq;
        sk_rx_dsack_set(s, t, seq, (*pp)->seq + (*pp)->len);
        seq += cut;
        data += cut;
        len -= cut;
        pp = &(*pp)->next;
    }
    /* remove segments we fully cover; trim our tail against the next */
    while (*pp && seq_leq((*pp)->seq + (*pp)->len, end) && seq_geq((*pp)->seq, seq)) {
        sk_ooo_seg *dead = *pp;
        *pp = dead->next;
        if (dead->fin)
            fin = true;
        sk_rx_dsack_extend(s, t, dead->seq, dead->seq + dead->len);
        sk_count(s, SK_C_TCPEXT_TCP_OFO_MERGE);
        sk_free(s, dead);
    }
    if (*pp && seq_lt((*pp)->seq, end)) {
        sk_rx_dsack_extend(s, t, (*pp)->seq, end);
        len = (*pp)->seq - seq;
        fin = false;
    }
    if (!len && !fin) {
        sk_count(s, SK_C_TCPEXT_TCP_OFO_QUEUE);
        sk_rx_sack_new_ofo(s, t, sack_seq, sack_end);
        return;
    }
    sk_ooo_seg *o = sk_malloc(s, sizeof(*o) + len);
    if (!o) {
        sk_count(s, SK_C_TCPEXT_TCP_OFO_DROP);
        return;
    }
    o->seq = seq;
    o->len = len;
    /* A segment cut against its neighbours still occupies its whole skb. */
    o->truesize = truesize;
    o->fin = fin;
    memcpy(o->data, data, len);
    o->next = *pp;
    *pp = o;
    sk_count(s, SK_C_TCPEXT_TCP_OFO_QUEUE);
    sk_rx_sack_new_ofo(s, t, sack_seq, sack_end);
}

/* Moves out-of-order segments that now start at RCV.NXT into the receive
 * queue; returns true if a FIN became in-order. */
static bool ooo_drain(sk_stack *s, sk_tcb *t)
{
    bool fin = false;
    uint32_t dsack_high = t->rcv_nxt;
    while (t->ooo && seq_leq(t->ooo->seq, t->rcv_nxt)) {
        sk_ooo_seg *o = t->ooo;
        t->ooo = o->next;
        if (seq_lt(o->seq, dsack_high)) {
            /* The in-order segment brought bytes queued here already:
             * a duplicate (Linux's tcp_ofo_queue). */
            uint32_t d = dsack_high;
            if (seq_lt(o->seq + o->len, dsack_high))
                dsack_high = o->seq + o->len;
            sk_rx_dsack_extend(s, t, o->seq, d);
        }
        uint32_t skip = t->rcv_nxt - o->seq;
        if (skip < o->len) {
            uint32_t n = o->len - skip;
            if (!sk_ring_reserve(s, &t->rcvq, t->rcvq.len + n)) {
                sk_free(s, o);
                continue;
            }
            sk_ring_write(&t->rcvq, o->data + skip, n);
            sk_rcvq_charge(t, o->truesize);
            t->rcv_nxt += n;
        }
        if (o->fin && skip <= o->len)
            fin = true;
        sk_free(s, o);
    }
    return fin;
}

static inline __attribute__((always_inline)) bool data_in_order(sk_stack *s, sk_tcb *t, const sk_segment *seg,
                                                                uint32_t seq, const uint8_t *data, uint32_t len,
                                                                bool fin, uint32_t truesize);

/* RFC 9293 §3.10.7.4 seventh and eighth steps for a segment already
 * trimmed to the window: queue the text, then process the FIN. */
/* Returns false when the connection left the table (TIME_WAIT). */
static bool data_queue(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    uint32_t seq = seg->seq + !!(seg->flags & SK_TH_SYN);
    const uint8_t *data = seg->payload;
    uint32_t len = (uint32_t)seg->payload_len;
    bool fin = (seg->flags & SK_TH_FIN) != 0;

    /* A pure ACK occupies no sequence space: nothing to queue. */
    if (seg_len(seg) == 0)
        return true;
    /* Linux's tcp_ecn_accept_cwr(): the sender reduced its window
     * (RFC 3168 §6.1.3), so stop echoing ECE; ACK at once, since its cwnd
     * may now be as small as one segment. */
    if (seg->flags & SK_TH_CWR) {
        t->ecn &= (uint8_t)~SK_ECN_DEMAND_CWR;
        t->xflags |= SK_X_ACK_NOW;
    }
    /* Old data: everything already received.  RFC 9293 says to ACK it;
     * Linux enters quickack mode so the sender learns at once.  This also
     * catches the SYN of a SYN,ACK crossing ours in a simultaneous open. */
    if (seq_leq(seg->seq + seg_len(seg), t->rcv_nxt)) {
        /* A retransmission of what we had: its ACK was lost or delayed
         * (DelayedACKLost), and it is reported as a D-SACK (RFC 2883). */
        sk_count(s, SK_C_TCPEXT_DELAYED_ACK_LOST);
        sk_rx_dsack_set(s, t, seg->seq, seg->seq + seg_len(seg));
        enter_quickack(t, SK_TCP_MAX_QUICKACKS);
        t->xflags |= SK_X_ACK_NOW;
        return true;
    }
    if (len) {
        t->data_segs_in++;
    }
    if (seq_lt(seq, t->rcv_nxt)) {
        /* Its head we had already: a D-SACK for that part (tcp_data_queue). */
        sk_rx_dsack_set(s, t, seq, t->rcv_nxt);
        uint32_t cut = t->rcv_nxt - seq;
        seq += cut;
        data += cut;
        len -= cut;
    }
    /* Linux's tcp_data_queue(): the sequence check let in a segment that
     * starts inside the window, and one reaching past it only into an
     * empty receive queue; it is kept whole if memory allows, never cut
     * at the window's right edge. */
    uint32_t win = rcv_window(t);
    uint32_t truesize = sk_rcv_truesize((uint32_t)seg->payload_len);
    if (seq != t->rcv_nxt) {
        if (!seq_lt(seq, t->rcv_nxt + win)) {
            /* Out of window (tcp_data_queue's out_of_window path). */
            enter_quickack(t, SK_TCP_MAX_QUICKACKS);
            t->xflags |= SK_X_ACK_NOW;
            return true;
        }
        /* Out of order: keep it and ACK at once so the sender's dupack
         * and SACK machinery work (RFC 5681 §4.2, RFC 2018). */
        ecn_check_ce(t, seg); /* as tcp_data_queue_ofo */
        if (!sk_rmem_schedule(s, t, seq, len, truesize)) {
            /* tcp_data_queue_ofo(): dropped for memory before any ACK
             * is scheduled, so none goes out. */
            sk_count(s, SK_C_TCPEXT_TCP_OFO_DROP);
            return true;
        }
        t->xflags |= SK_X_ACK_NOW;
        ooo_insert(s, t, seq, data, len, fin, truesize);
        /* tcp_data_queue_ofo(): out-of-order data grows the window as
         * in-order data does, except without SACK, where the sender
         * needs the duplicate ACKs unchanged to retransmit. */
        if (t->negot & SK_N_SACK_OK)
            sk_grow_window(s, t, len, truesize);
        return true;
    }
    if (win == 0 && len) {
        /* A bare FIN still gets in (it costs no memory); data does not. */
        sk_count(s, SK_C_TCPEXT_TCP_ZERO_WINDOW_DROP);
        enter_quickack(t, SK_TCP_MAX_QUICKACKS);
        t->xflags |= SK_X_ACK_NOW;
        return true;
    }
    return data_in_order(s, t, seg, seq, data, len, fin, truesize);
}

/* The in-order half of data_queue: `len` bytes at `data` (and the FIN if
 * `fin`) start at RCV.NXT and fit the window.  The fast path of
 * sk_tcb_input comes here directly. */
static inline __attribute__((always_inline)) bool data_in_order(sk_stack *s, sk_tcb *t, const sk_segment *seg,
                                                                uint32_t seq, const uint8_t *data, uint32_t len,
                                                                bool fin, uint32_t truesize)
{
    /* A reader waiting with a posted buffer takes in-order data before
     * it is queued (Linux's ucopy in tcp_data_queue): what it takes needs
     * no receive memory. */
    uint32_t direct = len ? sk_recv_direct(s, t, data, len) : 0;
    if ((len > direct || (fin && !direct)) && !sk_rmem_schedule(s, t, seq, len - direct, truesize)) {
        /* tcp_data_queue(): out of memory, the segment is dropped unless
         * the queue is empty or it carries no data (a bare FIN), in which
         * case it is taken regardless (sk_forced_mem_schedule) so the
         * connection cannot stall; either way the ACK goes out at once. */
        t->xflags |= SK_X_ACK_NOW;
        if (t->rcvq.len && len) {
            sk_count(s, SK_C_TCPEXT_TCP_RCV_Q_DROP);
            return true;
        }
    }
    if (len) {
        uint32_t rest = len - direct;
        if (rest && !sk_ring_reserve(s, &t->rcvq, t->rcvq.len + rest)) {
            sk_count(s, SK_C_TCPEXT_TCP_RCV_Q_DROP);
            if (!direct)
                return true;
            /* The reader took the head: keep that, the tail (and a FIN
             * behind it) comes again. */
            rest = 0;
            len = direct;
            fin = false;
        }
        if (rest) {
            sk_ring_write(&t->rcvq, data + direct, rest);
            sk_rcvq_charge(t, truesize);
        }
        t->rcv_nxt += len;
        t->bytes_received += len;
        /* tcp_measure_rcv_mss(), from tcp_event_data_recv: in-order
         * data only, so out-of-order segments leave the estimate alone. */
        if (seg->payload_len > t->rcv_mss)
            t->rcv_mss = (uint16_t)(seg->payload_len < t->advmss ? seg->payload_len : t->advmss);
        event_data_recv(s, t, seg);
        sk_rcv_rtt_on_data(s, t, seg, len);
        if (direct)
            sk_rcv_space_adjust(s, t); /* the reader copied it: tcp_rcv_space_adjust from the ucopy path */
        /* tcp_event_data_recv(): segments of 128 bytes or more. */
        if (seg->payload_len >= 128)
            sk_grow_window(s, t, (uint32_t)seg->payload_len, truesize);
        bool had_ooo = t->ooo != NULL;
        if (had_ooo && ooo_drain(s, t))
            fin = true;
        if (had_ooo)
            sk_rx_sack_remove(t);
        if (had_ooo && !t->ooo)
            t->xflags |= SK_X_ACK_NOW; /* RFC 5681 §4.2: a filled hole is ACKed at once */
        sk_notify(s, t);
    }
    if (fin) {
        if (!process_fin(s, t))
            return false;
        /* tcp_rcv_established() runs tcp_ack_snd_check() after the FIN
         * too: data that came with it still draws an immediate ACK when
         * more than a segment is unacknowledged. */
        if (len)
            ack_snd_check(s, t);
        return true;
    }
    if (len)
        ack_snd_check(s, t);
    return true;
}

/* RFC 9293 §3.10.7.4 eighth step: the FIN. */
static bool process_fin(sk_stack *s, sk_tcb *t)
{
    t->rcv_nxt++;
    t->sflags |= SK_S_FIN_RCVD;
    switch (t->state) {
    case SK_TCP_SYN_RECV:
    case SK_TCP_ESTABLISHED:
        /* Linux delays this ACK (pingpong mode) so that an application
         * closing promptly sends FIN and ACK together: the 3-segment close. */
        sk_tcb_set_state(s, t, SK_TCP_CLOSE_WAIT, SK_CAUSE_RCV_FIN);
        t->xflags |= SK_X_PINGPONG;
        sk_arm_delack(s, t);
        break;
    case SK_TCP_CLOSE_WAIT:
    case SK_TCP_CLOSING:
    case SK_TCP_LAST_ACK:
        break; /* a retransmitted FIN: stay */
    case SK_TCP_FIN_WAIT1:
        /* Our FIN is not yet acknowledged: simultaneous close. */
        sk_send_ack(s, t);
        sk_tcb_set_state(s, t, SK_TCP_CLOSING, SK_CAUSE_RCV_FIN);
        break;
    case SK_TCP_FIN_WAIT2:
        sk_send_ack(s, t);
        sk_time_wait(s, t, SK_TCP_TIME_WAIT, SK_TCP_TIMEWAIT_LEN);
        return false;
    default:
        break;
    }
    sk_notify(s, t);
    return true;
}

/* ------------------------------------------------------------------ */
/* ACK processing                                                       */
/* ------------------------------------------------------------------ */

/* Inlined: every ACK takes it, and out of line its call cost as much as
 * its body. */
static inline __attribute__((always_inline)) void update_window(sk_tcb *t, const sk_segment *seg)
{
    uint32_t nwin = (uint32_t)seg->window << ((t->negot & SK_N_WS_OK) ? t->snd_wscale : 0);
    /* RFC 9293 §3.10.7.4 with Linux's tcp_may_update_window(). */
    if (seq_gt(seg->ack, t->snd_una) || seq_gt(seg->seq, t->snd_wl1) ||
        (seg->seq == t->snd_wl1 && (nwin > t->snd_wnd || !nwin))) {
        t->snd_wnd = nwin;
        t->snd_wl1 = seg->seq;
        t->snd_wl2 = seg->ack;
        if (nwin > t->max_window)
            t->max_window = nwin;
    }
}

/* Fast retransmit (RFC 5681 §3.2, RFC 6675 §5): after tcp_reordering
 * duplicate ACKs, or — with SACK — once that many segments' worth of data
 * above a hole was SACKed (Linux's tcp_time_to_recover with sacked_out). */
static void maybe_enter_recovery(sk_stack *s, sk_tcb *t)
{
    if (t->ca_state >= SK_CA_RECOVERY)
        return;
    if (t->rack)
        return; /* RACK decides what is lost (rack_step), not dupthresh */
    uint32_t reord = (uint32_t)s->cfg.tcp_reordering;
    bool sack_says = (t->negot & SK_N_SACK_OK) && t->sacked_bytes >= reord * t->mss;
    if (t->dupacks < reord && !sack_says)
        return;
    if (sk_mtu_probe_lost(s, t))
        return;
    sk_cc_enter_recovery(s, t);
    if (!(t->negot & SK_N_SACK_OK)) {
        s->rtx_mib = SK_RTX_MIB_FAST; /* Reno's resend goes through tcp_xmit_retransmit_queue */
        sk_retransmit_head(s, t);
        s->rtx_mib = SK_RTX_MIB_NONE;
    }
    /* With SACK, sk_tcp_output resends the holes as the pipe allows. */
}

/* Linux's tcp_fastretrans_alert for a RACK connection: mark losses; the
 * first one starts recovery, in which PRR sets cwnd on every ACK.  Returns
 * true when the reordering timer was armed (it then replaces the TLP/RTO
 * timer for this ACK, as tcp_identify_packet_loss clears
 * FLAG_SET_XMIT_TIMER). */
static bool rack_step(sk_stack *s, sk_tcb *t, uint32_t delivered, bool una_advanced)
{
    if (!t->rack || (t->ca_state == SK_CA_LOSS))
        return false;
    bool was_armed = (t->xflags & SK_X_REO_ARMED) != 0;
    sk_time_ns prior_at = t->rto_at;
    uint32_t newly_lost = sk_rack_detect(s, t);
    bool armed = (t->xflags & SK_X_REO_ARMED) && (!was_armed || t->rto_at != prior_at);
    if (t->ca_state != SK_CA_RECOVERY) {
        /* Losses left from an RTO episode that were all resent do not
         * start a new recovery; fresh ones, or any still to resend, do
         * (tcp_time_to_recover: lost_out). */
        if (!newly_lost && t->rack->lost_out <= t->rack->retrans_out)
            return armed;
        if (sk_mtu_probe_lost(s, t))
            return armed;
        sk_rack_enter_recovery(s, t);
    }
    sk_rack_cwnd_reduction(t, delivered, newly_lost, una_advanced);
    return armed;
}


/* What one ACK carried, worked out step by step by process_ack (Linux's
 * tcp_ack keeps the same in its flag word and locals). */
typedef struct ack_info {
    uint32_t ack;          /* SEG.ACK */
    uint32_t acked;        /* SEG.ACK - SND.UNA before this ACK */
    uint32_t data_acked;   /* of that, bytes of the send queue */
    uint32_t delivered;    /* segments newly delivered, SACKed or cumulatively */
    uint32_t newly_sacked; /* bytes newly SACKed (sk_sack_update) */
    uint32_t prior_wnd;    /* SND.WND before the window update */
    uint32_t prior_fack;   /* highest SACKed or ACKed sequence before this ACK */
    int64_t ca_rtt_us;     /* RTT sample for the congestion control, -1 none (ack_sample.rtt_us) */
    bool ece;              /* an ECN echo to heed (tcp_ecn_rcv_ecn_echo) */
    bool had_sacked;       /* SACKed data was or is outstanding (FLAG_DATA_SACKED) */
    bool fin_acked;        /* our FIN is covered */
} ack_info;

enum ack_verdict { ACK_DROP, ACK_OLD, ACK_NEW };

/* RFC 9293 §3.10.7.4 (ESTABLISHED and after, "check the ACK field") and
 * RFC 5961 §5.2, as Linux's tcp_ack orders them: an ACK of what was never
 * sent is dropped (with a challenge ACK outside ESTABLISHED); one older
 * than SND.UNA is a duplicate whose SACK blocks still count, or, beyond
 * the window, a blind injection answered by a challenge ACK. */
static enum ack_verdict ack_validate(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    uint32_t ack = seg->ack;
    if (seq_gt(ack, t->snd_nxt)) {
        /* Acknowledges what we never sent: discarded (RFC 9293 §3.10.7.4),
         * without taking its timestamp.  Linux's tcp_rcv_established drops
         * it without a word; every other state goes through
         * tcp_rcv_state_process, which answers with a challenge ACK. */
        sk_count(s, SK_C_SYNACK_OUT_OF_WINDOW);
        if (t->state != SK_TCP_ESTABLISHED)
            sk_send_challenge_ack(s, t, false);
        return ACK_DROP;
    }
    if (seq_lt(ack, t->snd_una)) {
        /* RFC 5961 §5.2: an ACK older than the largest window we ever had
         * is a blind injection attempt; and, as Linux's tcp_ack bounds it,
         * older than all the data ever acknowledged ("do not accept ACK
         * for bytes we never sent": min(max_window, bytes_acked)). */
        uint32_t max_window = t->bytes_acked < t->max_window ? (uint32_t)t->bytes_acked : t->max_window;
        if (seq_lt(ack, t->snd_una - max_window)) {
            sk_send_challenge_ack(s, t, false);
            return ACK_DROP;
        }
        update_ts_recent(s, t, seg);
        if ((t->negot & SK_N_SACK_OK) && seg->opts.sack_count)
            sk_dsack_input(s, t, seg, t->snd_una);
        if (t->rack && (t->negot & SK_N_SACK_OK) && seg->opts.sack_count) {
            /* A reordered ACK below SND.UNA still reports SACKed data:
             * Linux's tcp_ack tags it and runs loss recovery on it. */
            sk_sack_update(s, t, seg);
            rack_step(s, t, sk_rack_sack(s, t, seg), false);
        }
        return ACK_OLD; /* old duplicate: its data may still be good */
    }
    return ACK_NEW;
}

/* An ACK that moves nothing (Linux's tcp_ack without FLAG_SND_UNA_ADVANCED,
 * then tcp_fastretrans_alert): count it as a duplicate (RFC 5681 §2), let
 * it start or inflate recovery, heed its ECN echo and SACKs, and take a
 * window opening as the answer to a zero-window probe (tcp_ack_probe). */
static void ack_duplicate(sk_stack *s, sk_tcb *t, const sk_segment *seg, const ack_info *a)
{
    /* RFC 5681 §2 duplicate ACK: no data, same window, data in flight.
     * With SACK, an ACK reporting new SACKed data counts even if the
     * window moved (Linux's tcp_ack_is_dubious: FLAG_DATA_SACKED). */
    bool classic = seg->payload_len == 0 && !(seg->flags & (SK_TH_SYN | SK_TH_FIN)) && a->prior_wnd == t->snd_wnd;
    if ((classic || a->newly_sacked) && t->snd_nxt != t->snd_una) {
        t->dupacks++;
        /* Linux's tcp_add_reno_sack: without SACK each duplicate ACK
         * stands for one segment delivered, up to what is in flight. */
        if (!(t->negot & SK_N_SACK_OK) && t->dupacks <= sk_packets_out(t))
            t->delivered++;
        if (t->ca_state < SK_CA_RECOVERY) {
            maybe_enter_recovery(s, t);
        } else if ((t->ca_state == SK_CA_RECOVERY) && !(t->negot & SK_N_SACK_OK)) {
            t->cwnd++; /* RFC 6582 §3.2 step 4: inflate per dupack */
        }
    }
    if (a->ece)
        sk_enter_cwr(s, t); /* tcp_try_to_open */
    sk_rack_try_undo(s, t, SK_C_TCPEXT_TCP_DSACK_UNDO);
    if (t->rack && seq_lt(a->ack, t->snd_nxt)) {
        /* Linux's tcp_may_raise_cwnd: once reordering above the
         * sysctl was measured, SACKed data is progress enough. */
        if (a->delivered && t->ca_state < SK_CA_CWR && t->rack->reordering > (uint32_t)s->cfg.tcp_reordering)
            sk_cc_on_ack(s, t, a->delivered * t->mss);
        rack_step(s, t, a->delivered, false);
        if (t->ca_state == SK_CA_CWR)
            sk_rack_cwnd_reduction(t, a->delivered, 0, false); /* tcp_cong_control in CWR */
    }
    if (t->snd_wnd && (t->xflags & SK_X_PERSIST)) {
        /* Linux's tcp_ack_probe(): the window opened. */
        t->xflags &= ~SK_X_PERSIST;
        t->probes_out = 0;
        t->probes_stamp = 0;
        t->backoff = 0;
    }
}

/* Linux's tcp_clean_rtx_queue: drop the acknowledged bytes from the send
 * queue, count what was delivered, take the RTT sample (RFC 6298 §3, RFC
 * 7323 §4), move SND.UNA (RFC 9293 §3.10.7.4: SND.UNA <- SEG.ACK) and
 * reset the retransmission and probe backoff. */
static void ack_clean_rtx(sk_stack *s, sk_tcb *t, const sk_segment *seg, ack_info *a)
{
    uint32_t ack = a->ack;
    /* While our SYN is unacknowledged the queue starts after it (data
     * that rode in a Fast Open SYN, acknowledged here in a simultaneous
     * open): the SYN's sequence number is not data. */
    uint32_t data_start = seq_lt(t->snd_una, t->iss + 1) ? t->iss + 1 : t->snd_una;
    uint32_t data_end = data_start + t->sndq.len;
    uint32_t data_acked = seq_gt(ack, data_end) ? t->sndq.len : (seq_gt(ack, data_start) ? ack - data_start : 0);
    a->fin_acked = (t->xflags & SK_X_FIN_SENT) && seq_gt(ack, data_end);
    bool syn_acked = seq_lt(t->snd_una, t->iss + 1) && seq_geq(ack, t->iss + 1);
    /* A simultaneous open's SYN (then SYN-ACK) sat in our own queue, which
     * tcp_clean_rtx_queue counts as a delivery, before the SYN_RECV step
     * counts the handshake once more; a passive child's SYN-ACK was the
     * request's, never in its queue. */
    if (syn_acked && (t->sflags & SK_S_CONNECTING))
        t->delivered++;
    sk_ring_consume(&t->sndq, data_acked);
    sk_ring_drained(s, &t->sndq); /* an idle connection keeps no small buffer */
    /* Linux counts the SYN and FIN too (tcp_snd_una_update), but a passive
     * child is born with SND.UNA past its SYN-ACK (tcp_create_openreq_child),
     * so only an active open's SYN is in bytes_acked. */
    t->bytes_acked += a->acked - (syn_acked && t->parent ? 1u : 0u);

    /* RTT sample (RFC 6298 §3 and RFC 7323 §4): from the echoed timestamp,
     * or from the timed segment when no retransmission blurs it. */
    a->ca_rtt_us = -1;
    if ((t->negot & SK_N_TS_OK) && seg->opts.has_ts && seg->opts.ts_ecr) {
        uint32_t rtt_ms = sk_tcp_time_ms(s) + t->ts_off - seg->opts.ts_ecr;
        if ((int32_t)rtt_ms >= 0 && rtt_ms < 600000) {
            sk_rtt_sample(s, t, rtt_ms * 1000u);
            a->ca_rtt_us = (int64_t)rtt_ms * 1000;
        }
    } else if ((t->xflags & SK_X_RTT_PENDING) && seq_geq(ack, t->rtt_seq)) {
        t->xflags &= ~SK_X_RTT_PENDING;
        if (!t->retransmits) {
            uint32_t rtt_us = sk_us_now(s) - t->rtt_start;
            sk_rtt_sample(s, t, rtt_us);
            a->ca_rtt_us = rtt_us;
        }
    }

    if (!t->rack && (data_acked || a->fin_acked)) {
        /* Linux's tcp_remove_reno_sacks (tcp_clean_rtx_queue counts the
         * same way for a SACK connection without a scoreboard): the
         * segments acknowledged, less those duplicate ACKs already
         * counted, at least one. */
        uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
        uint32_t segs = data_acked ? (data_acked + mss - 1) / mss : 1;
        uint32_t dups = (t->negot & SK_N_SACK_OK) ? 0 : t->dupacks;
        uint32_t flight = sk_packets_out(t);
        if (dups > flight)
            dups = flight;
        t->delivered += segs > dups ? segs - dups : 1;
    }
    t->snd_una = ack;
    if (t->sack_n)
        sk_sack_ack(s, t, ack);
    a->delivered += sk_rack_ack(s, t, ack, a->prior_fack);
    t->backoff = 0;
    t->retransmits = 0;
    t->retrans_stamp = 0;
    t->probes_out = 0;
    t->probes_stamp = 0;
    t->xflags &= ~SK_X_PERSIST;
    if (t->ext && t->ext->pm)
        sk_mtu_probe_acked(s, t); /* tcp_clean_rtx_queue: an MTU probe ACKed */
    if (data_acked)
        sk_cc_pkts_acked(s, t, a->acked, a->ca_rtt_us); /* not for the SYN alone: no CUBIC state for idle connections */
    a->data_acked = data_acked;
}

/* The congestion response to an ACK of new data, Linux's
 * tcp_fastretrans_alert (leaving CWR, a full or partial ACK in Recovery,
 * undo) and tcp_cong_control (growth, or PRR in CWR), then the end of Loss
 * and tcp_process_tlp_ack.  Returns true when RACK armed its reordering
 * timer, which then replaces the retransmission timer. */
static bool ack_congestion(sk_stack *s, sk_tcb *t, ack_info *a)
{
    uint32_t ack = a->ack;
    /* Linux's tcp_fastretrans_alert step D: CWR is held until data
     * above the reduction point is ACKed, so the peer has seen our CWR;
     * then cwnd = ssthresh (tcp_end_cwnd_reduction). */
    if ((t->ca_state == SK_CA_CWR) && seq_gt(ack, t->recover))
        sk_end_cwr(t);
    if (t->ca_state == SK_CA_RECOVERY) {
        if (seq_geq(ack, t->recover)) {
            /* RFC 6582 §3.2 step 5: full ACK, deflate — unless every
             * retransmission of the episode was already D-SACKed, which
             * Linux's tcp_try_undo_recovery undoes here (TCPFullUndo). */
            if (!sk_rack_try_undo(s, t, SK_C_TCPEXT_TCP_FULL_UNDO))
                t->cwnd = t->ssthresh;
            sk_set_ca_state(t, SK_CA_OPEN);
            t->dupacks = 0;
        } else if (!(t->negot & SK_N_SACK_OK)) {
            /* Partial ACK: retransmit the next hole, deflate by the amount
             * acknowledged (RFC 6582 §3.2 step 5).  With SACK the
             * scoreboard picks the holes (sk_tcp_output). */
            s->rtx_mib = SK_RTX_MIB_FAST;
            sk_retransmit_head(s, t);
            s->rtx_mib = SK_RTX_MIB_NONE;
            t->cwnd = t->cwnd > a->acked / t->mss ? t->cwnd - a->acked / t->mss + 1 : 1;
        }
    } else {
        uint32_t data_acked = a->data_acked;
        if (!(t->negot & SK_N_SACK_OK) && t->dupacks) {
            /* Linux's tcp_remove_reno_sacks: of the segments this ACK
             * covers, those already counted by duplicate ACKs were
             * delivered then; the ACK itself delivers at least one. */
            uint32_t segs = (data_acked + t->mss - 1) / t->mss;
            segs = segs > t->dupacks ? segs - t->dupacks : 1;
            data_acked = segs * t->mss < data_acked ? segs * t->mss : data_acked;
        }
        if (a->had_sacked)
            data_acked = a->delivered * t->mss; /* Linux grows by packets delivered, SACKed ones when SACKed */
        t->dupacks = 0;
        if (a->ece)
            sk_enter_cwr(s, t); /* tcp_try_to_open */
        /* In CWR, PRR sets cwnd instead of growth (tcp_cong_control). */
        if (t->ca_state != SK_CA_CWR)
            sk_cc_on_ack(s, t, data_acked);
        if (t->sack_n && (t->ca_state != SK_CA_LOSS))
            maybe_enter_recovery(s, t); /* holes remain beyond this ACK */
    }
    sk_rack_try_undo(s, t, SK_C_TCPEXT_TCP_DSACK_UNDO);
    bool reo_armed = rack_step(s, t, a->delivered, true);
    if (t->ca_state == SK_CA_CWR)
        sk_rack_cwnd_reduction(t, a->delivered, 0, true);
    if (seq_lt(t->rtx_nxt, t->snd_una))
        t->rtx_nxt = t->snd_una; /* the peer had more than we resent */
    if (t->ca_state == SK_CA_LOSS && seq_geq(t->snd_una, t->snd_nxt))
        sk_set_ca_state(t, SK_CA_OPEN); /* the whole flight was acknowledged */

    /* A loss probe is answered once the ACK reaches what it covered
     * (Linux's tcp_process_tlp_ack): if it repaired a real loss, the
     * window is reduced as for any loss (CWR). */
    if (t->tlp_high_seq && !seq_lt(ack, t->tlp_high_seq)) {
        if ((t->xflags & SK_X_TLP_RETRANS) && seq_gt(ack, t->tlp_high_seq)) {
            t->ssthresh = sk_cc_ssthresh(s, t);
            t->cwnd = t->ssthresh;
            if (t->ecn & SK_ECN_OK)
                t->ecn |= SK_ECN_QUEUE_CWR; /* tcp_init_cwnd_reduction signals it */
        }
        t->tlp_high_seq = 0;
    }
    return reo_armed;
}

/* RFC 9293 §3.10.7.4, the states past ESTABLISHED once the ACK covers our
 * FIN (Linux's tcp_rcv_state_process): FIN_WAIT_1 -> FIN_WAIT_2 (for an
 * orphan, the FIN_WAIT_2 timewait record or a reset on new data),
 * CLOSING -> TIME_WAIT, LAST_ACK -> CLOSED.  Returns false when the
 * connection is gone or became a timewait record. */
static bool ack_of_fin(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    switch (t->state) {
    case SK_TCP_FIN_WAIT1:
        sk_tcb_set_state(s, t, SK_TCP_FIN_WAIT2, SK_CAUSE_RCV_ACK_OF_FIN);
        if (t->sflags & SK_S_ORPHAN) {
            /* Linux's tcp_rcv_state_process: an orphan waiting for the
             * peer's FIN becomes a small FIN_WAIT_2 record lasting
             * tcp_fin_timeout, unless this very segment carries data
             * (a reset follows) or the FIN (TIME_WAIT follows). */
            if (seg->payload_len && seq_gt(seg->seq + (uint32_t)seg->payload_len, t->rcv_nxt)) {
                /* Linux answers from the segment (tcp_v4_send_reset),
                 * as for one that found no socket. */
                sk_count(s, SK_C_TCPEXT_TCP_ABORT_ON_DATA);
                sk_reply_rst(s, seg);
                sk_tcb_done(s, t, SK_CAUSE_DATA_AFTER_CLOSE);
                return false;
            }
            if (!(seg->flags & SK_TH_FIN)) {
                int tmo = t->fin_timeout_s >= 0 ? t->fin_timeout_s : s->cfg.tcp_fin_timeout;
                sk_time_wait(s, t, SK_TCP_FIN_WAIT2, SK_SEC(tmo));
                return false;
            }
        }
        return true;
    case SK_TCP_CLOSING:
        sk_time_wait(s, t, SK_TCP_TIME_WAIT, SK_TCP_TIMEWAIT_LEN);
        return false;
    case SK_TCP_LAST_ACK:
        sk_tcb_done(s, t, SK_CAUSE_RCV_ACK_OF_FIN);
        return false;
    default:
        return true;
    }
}

static inline __attribute__((always_inline)) bool ack_advanced(sk_stack *s, sk_tcb *t, const sk_segment *seg,
                                                               ack_info *a);

/* Linux's tcp_ack, in its steps.  Returns false when the segment must be
 * dropped (or the connection is gone). */
static bool process_ack(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    enum ack_verdict v = ack_validate(s, t, seg);
    if (v != ACK_NEW)
        return v == ACK_OLD;
    update_ts_recent(s, t, seg); /* only once the ACK is known good (tcp_ack) */
    t->last_ack_recv = sk_stamp_now(s);
    ack_info a = {.ack = seg->ack};
    /* RFC 3168 §6.1.2 congestion signal (Linux's tcp_ecn_rcv_ecn_echo),
     * heeded only with data in flight (tcp_ack's no_queue path). */
    a.ece = (t->ecn & SK_ECN_OK) && (seg->flags & SK_TH_ECE) && !(seg->flags & SK_TH_SYN) && t->snd_una != t->snd_nxt;
    a.prior_wnd = t->snd_wnd;
    /* Before this ACK's SACK blocks or cumulative ACK move it (tcp_ack);
     * SND.UNA, as sk_rack_fack says, unless something is SACKed. */
    a.prior_fack = t->rack && t->rack->sacked_out ? sk_rack_fack(t) : t->snd_una;
    update_window(t, seg); /* tcp_ack_update_window, RFC 9293 §3.10.7.4 */
    if ((t->negot & SK_N_SACK_OK) && seg->opts.sack_count) {
        sk_dsack_input(s, t, seg, t->snd_una);
        a.newly_sacked = sk_sack_update(s, t, seg); /* tcp_sacktag_write_queue */
    }
    if (t->rack && seg->opts.sack_count)
        a.delivered = sk_rack_sack(s, t, seg);
    a.had_sacked = t->rack && (a.delivered || t->rack->sacked_out);
    a.acked = a.ack - t->snd_una;
    if (a.acked == 0) {
        ack_duplicate(s, t, seg, &a);
        return true;
    }
    return ack_advanced(s, t, seg, &a);
}

/* The second half of tcp_ack, for an ACK that moved SND.UNA: clean the
 * retransmission queue, respond as congestion control, rearm the timer,
 * and take the states that waited for our FIN to be acknowledged.
 * Returns false when the connection is gone or became a timewait
 * record. */
static inline __attribute__((always_inline)) bool ack_advanced(sk_stack *s, sk_tcb *t, const sk_segment *seg,
                                                               ack_info *a)
{
    ack_clean_rtx(s, t, seg, a);
    bool reo_armed = ack_congestion(s, t, a);

    /* RFC 6298 §5.2/5.3: stop the timer when all is acked, else restart
     * (or probe first: Linux's tcp_set_xmit_timer). */
    if (t->snd_una == t->snd_nxt) {
        t->rto_at = 0;
        t->xflags &= ~(SK_X_TLP_ARMED | SK_X_REO_ARMED);
    } else if (!reo_armed) {
        sk_set_xmit_timer(s, t);
    }
    sk_tcb_timer_update(s, t);

    if (a->fin_acked && !ack_of_fin(s, t, seg))
        return false;
    /* Freed send space wakes writers only through sk_check_space(), after
     * the output below (Linux's tcp_data_snd_check). */
    return true;
}

/* ------------------------------------------------------------------ */
/* SYN_SENT (RFC 9293 §3.10.7.3)                                        */
/* ------------------------------------------------------------------ */

static void syn_sent_input(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    bool has_ack = (seg->flags & SK_TH_ACK) != 0;
    if (has_ack && (seq_leq(seg->ack, t->iss) || seq_gt(seg->ack, t->snd_nxt))) {
        /* First check: an unacceptable ACK draws a RST (unless it is one). */
        if (!(seg->flags & SK_TH_RST))
            rst_for_ack(s, seg);
        sk_count(s, SK_C_SYNACK_OUT_OF_WINDOW);
        return;
    }
    if (has_ack && seg->opts.has_ts && seg->opts.ts_ecr && t->retrans_stamp) {
        /* Linux's tcp_rcv_synsent_state_process: an echo outside the
         * times our SYNs went out is refused with a reset
         * (PAWSActiveRejected). */
        uint32_t now_ts = sk_tcp_time_ms(s) + t->ts_off;
        /* retrans_stamp counts ms from the stack's epoch and is at least
         * 1: a millisecond of slack covers both roundings. */
        uint32_t syn_ts = now_ts - (uint32_t)(sk_stamp_now(s) - t->retrans_stamp) - 1;
        if (seg->opts.ts_ecr - syn_ts > now_ts - syn_ts) {
            sk_count(s, SK_C_TCPEXT_PAWS_ACTIVE);
            if (!(seg->flags & SK_TH_RST))
                rst_for_ack(s, seg);
            return;
        }
    }
    if (seg->flags & SK_TH_RST) {
        /* Second check: only a RST acknowledging our SYN is believed. */
        if (has_ack) {
            connection_reset(s, t, SK_CAUSE_RCV_RST_REFUSED);
        } else {
            sk_count(s, SK_C_SYNACK_RST_IGNORED);
        }
        return;
    }
    if (!(seg->flags & SK_TH_SYN)) {
        sk_count(s, SK_C_SYNACK_BAD_SEGMENT);
        return; /* fifth check: neither SYN nor RST */
    }

    t->rcv_nxt = seg->seq + 1;
    t->rcv_wup = t->rcv_nxt;
    negotiate_options(s, t, seg);

    if (has_ack) {
        /* Our SYN is acknowledged: ESTABLISHED.  Data that rode in a Fast
         * Open SYN sits in the send queue from ISS+1; what the ACK covers
         * leaves it. */
        if (t->sndq.len && seq_gt(seg->ack, t->iss + 1)) {
            uint32_t acked = seg->ack - (t->iss + 1);
            sk_ring_consume(&t->sndq, acked < t->sndq.len ? acked : t->sndq.len);
            t->bytes_acked += acked;
        }
        t->snd_una = seg->ack;
        t->bytes_acked += 1; /* the SYN */
        /* The SYN counts as one delivered segment, with whatever data it
         * carried and the SYN-ACK covers: Linux's tcpi_delivered reads 1
         * after a SYN-ACK acknowledging all of a SYN's data (recorded in
         * the fastopen blocking-sendto script); data resent after a
         * partial acknowledgement counts when its own ACK comes. */
        t->delivered++;
        t->snd_wnd = seg->window; /* never scaled in a SYN (RFC 7323 §2.2) */
        t->snd_wl1 = seg->seq;
        t->snd_wl2 = seg->ack;
        t->max_window = t->snd_wnd;
        if ((t->negot & SK_N_TS_OK) && seg->opts.ts_ecr) {
            uint32_t rtt_ms = sk_tcp_time_ms(s) + t->ts_off - seg->opts.ts_ecr;
            if ((int32_t)rtt_ms >= 0)
                sk_rtt_sample(s, t, rtt_ms * 1000u);
        } else if (!t->retransmits) {
            sk_rtt_sample(s, t, sk_us_now(s) - t->rtt_start); /* timed from the SYN */
        }
        t->backoff = 0;
        t->retransmits = 0;
        t->retrans_stamp = 0;
        t->rto_at = 0;
        sk_init_transfer(s, t);
        sk_tcb_set_state(s, t, SK_TCP_ESTABLISHED, SK_CAUSE_RCV_SYNACK);
        if (t->sopts & SK_O_KEEPALIVE)
            sk_arm_keepalive(s, t); /* Linux's tcp_finish_connect() */
        bool fo_resend = (t->tfo & (SK_TFO_SYN_FASTOPEN | SK_TFO_SYN_DATA)) && sk_fastopen_synack(s, t, seg);
        if (!fo_resend && ((t->sndstate & SK_SND_WRITE_PENDING) || (t->xflags & SK_X_PINGPONG))) {
            /* tcp_rcv_synsent_state_process(): with a writer waiting in
             * connect (or in pingpong mode) the ACK is saved for the data
             * about to follow: quickack mode, and a delayed ACK at
             * TCP_DELACK_MAX should no data come. */
            enter_quickack(t, SK_TCP_MAX_QUICKACKS);
            t->delack_at = s->now + SK_TCP_DELACK_MAX;
        } else {
            t->xflags |= SK_X_ACK_NOW;
        }
        uint32_t syn_end = t->snd_nxt;
        uint32_t resend_segs = 0;
        if (fo_resend) {
            /* tcp_rcv_fastopen_synack(): the SYN's data was not (all)
             * acknowledged; it goes again, as a retransmission, counted
             * per segment of the current MSS (tcp_retransmit_skb). */
            uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
            resend_segs = (syn_end - t->snd_una + mss - 1) / mss;
            t->total_retrans += resend_segs;
            s->counters[SK_C_TCP_RETRANS_SEGS] += resend_segs;
            t->bytes_retrans += syn_end - t->snd_una;
            t->snd_nxt = t->snd_una;
            /* The SYN's data was one skb marked PSH (tcp_send_syn_data). */
            t->tail_push = 1;
        }
        if ((seg->payload_len || (seg->flags & SK_TH_FIN)) && !data_queue(s, t, seg))
            return;
        sk_tcb_timer_update(s, t);
        sk_tcp_output(s, t);
        if (fo_resend) {
            t->snd_sml = t->snd_una; /* a retransmission is no small segment for Minshall's rule */
            /* Linux marks the SYN's unacknowledged data lost and resends
             * it from the retransmit queue (tcp_mark_skb_lost,
             * tcp_non_congestion_loss_retransmit): on the scoreboard it is
             * a retransmission in flight (tcpi_retrans), not new data. */
            sk_rack_on_send(s, t, t->snd_una, syn_end, true);
            sk_rack_set_psh(t, syn_end); /* the syn_data skb is ACK|PSH */
            /* The send path took it for new data: it was counted once,
             * in the SYN (TCPOrigDataSent). */
            if (seq_geq(t->snd_nxt, syn_end) && s->counters[SK_C_TCPEXT_TCP_ORIG_DATA_SENT] >= resend_segs)
                s->counters[SK_C_TCPEXT_TCP_ORIG_DATA_SENT] -= resend_segs;
        }
        return;
    }
    /* A SYN without ACK: simultaneous open (RFC 9293 §3.5, figure 8). */
    t->snd_wnd = seg->window;
    t->snd_wl1 = seg->seq;
    t->snd_wl2 = t->iss;
    t->max_window = t->snd_wnd;
    sk_tcb_set_state(s, t, SK_TCP_SYN_RECV, SK_CAUSE_RCV_SYN_SIMULTANEOUS);
    sk_send_syn(s, t); /* as SYN,ACK: same ISN, now acknowledging theirs */
    sk_arm_rto(s, t);
    sk_tcb_timer_update(s, t);
}

/* ------------------------------------------------------------------ */
/* Synchronized states and SYN_RCVD of a full TCB                       */
/* ------------------------------------------------------------------ */

/* Linux's tcp_reset_check: after the peer's FIN, a RST at RCV.NXT-1 (the
 * FIN's own number) resets, though it lies below the window. */
static bool rst_at_fin(const sk_tcb *t, const sk_segment *seg)
{
    return (t->sflags & SK_S_FIN_RCVD) &&
           (t->state == SK_TCP_CLOSE_WAIT || t->state == SK_TCP_LAST_ACK || t->state == SK_TCP_CLOSING) &&
           seg->seq == t->rcv_nxt - 1;
}

/* A RST in the window resets when it sits exactly at RCV.NXT (RFC 5961
 * §3.2), at RCV.NXT-1 after a FIN, or, as Linux's tcp_validate_incoming
 * also takes it, at the right edge of the highest SACK block we sent (the
 * peer's SND.NXT past a hole). */
static bool rst_exact(const sk_tcb *t, const sk_segment *seg)
{
    if (seg->seq == t->rcv_nxt || rst_at_fin(t, seg))
        return true;
    if ((t->negot & SK_N_SACK_OK) && t->ext && t->ext->rx_sack_n) {
        uint32_t max_sack = t->ext->rx_sack[0].end;
        for (uint8_t i = 1; i < t->ext->rx_sack_n; i++)
            if (seq_gt(t->ext->rx_sack[i].end, max_sack))
                max_sack = t->ext->rx_sack[i].end;
        return seg->seq == max_sack;
    }
    return false;
}

/* What follows every segment a synchronized connection took: send what
 * the ACK and the window now allow, and wake writers. */
static inline __attribute__((always_inline)) void input_done(sk_stack *s, sk_tcb *t)
{
    if (t->state == SK_TCP_CLOSE)
        return;
    if (!(t->sflags & SK_S_HASHED))
        return; /* moved to TIME_WAIT */
    uint32_t nxt_before = t->snd_nxt;
    sk_tcp_output(s, t);
    /* Linux's tcp_data_snd_check: push, then tcp_check_space.  Whether the
     * oldest unacked segment went out in this push matters to it. */
    sk_check_space(s, t, !seq_lt(t->snd_una, nxt_before));
    sk_tcb_timer_update(s, t);
}

/* Header prediction, as Linux's tcp_rcv_established (after Van Jacobson's
 * fast path): in ESTABLISHED nearly every segment is the next one expected,
 * an ACK with nothing but PSH beside it, carrying new data, acknowledging
 * new data, or both.  For such a segment every check of RFC 9293
 * §3.10.7.4 before the ACK field has a known outcome, and so do most of
 * tcp_ack's; the segment is then processed by established_fast, which
 * leaves the state exactly as the general path would.
 *
 * Everything else goes the general way: another state; SYN, FIN, RST, URG,
 * ECE, CWR or AE; a sequence number other than RCV.NXT; data past the
 * window (or any data into a zero window); an ACK below SND.UNA or beyond
 * SND.NXT; SACK blocks; a pure ACK that acknowledges nothing (a duplicate
 * ACK or a window update, which RFC 5681 counts); with timestamps, a
 * segment without one or with one older than TS.Recent (RFC 7323 §5, the
 * PAWS test; Linux's fast path refuses the same). */
static inline bool predicted(const sk_tcb *t, const sk_segment *seg)
{
    if (t->state != SK_TCP_ESTABLISHED || (seg->flags & ~SK_TH_PSH) != SK_TH_ACK)
        return false;
    if (seg->seq != t->rcv_nxt || seg->opts.sack_count)
        return false;
    /* RFC 9293 §3.10.7.4 first check: a segment starting at RCV.NXT and
     * ending within the window is acceptable; tcp_sequence's lower bound
     * is RCV.WUP, which RCV.NXT never trails, but it costs nothing to
     * ask. */
    uint32_t len = (uint32_t)seg->payload_len;
    if (len > rcv_window(t) || seq_lt(seg->seq + len, t->rcv_wup))
        return false;
    /* ack_validate's ACK_NEW: SND.UNA =< SEG.ACK =< SND.NXT. */
    if (seq_lt(seg->ack, t->snd_una) || seq_gt(seg->ack, t->snd_nxt))
        return false;
    if (seg->ack == t->snd_una && !len)
        return false;
    /* PAWS passes: the timestamp is at least TS.Recent. */
    if ((t->negot & SK_N_TS_OK) && (!seg->opts.has_ts || (int32_t)(seg->opts.ts_val - t->ts_recent) < 0))
        return false;
    return true;
}

/* sk_tcb_input for a predicted segment: the same steps, without the checks
 * `predicted` settled.  Not needed here: PAWS, the sequence check, RST,
 * SYN and ACK-bit checks, SYN_RECEIVED's step, ack_validate, the ECN echo
 * and SACK blocks (absent), the duplicate-ACK step when it would do
 * nothing, and data_queue's tests for old, partly old, out-of-order or
 * window-less data and for a FIN. */
static void established_fast(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    sk_stamp now = sk_stamp_now(s);
    t->lrcvtime = now;
    t->probes_out = 0;
    /* process_ack, from past ack_validate. */
    update_ts_recent(s, t, seg);
    t->last_ack_recv = now;
    ack_info a = {.ack = seg->ack, .prior_wnd = t->snd_wnd};
    /* sk_rack_fack without a call when nothing is SACKed. */
    bool sacked = t->rack && t->rack->sacked_out;
    a.prior_fack = sacked ? sk_rack_fack(t) : t->snd_una;
    update_window(t, seg);
    a.had_sacked = sacked;
    a.acked = a.ack - t->snd_una;
    if (a.acked) {
        if (!ack_advanced(s, t, seg, &a))
            return;
    } else if (t->rack || (t->xflags & SK_X_PERSIST)) {
        /* With data (so not an RFC 5681 duplicate) and no SACK blocks,
         * ack_duplicate has only RACK's and the persist timer's steps. */
        ack_duplicate(s, t, seg, &a);
    }
    /* The seventh step: the text, in order.  An ACK may have sent
     * something (a NewReno retransmission), and sending takes the window
     * as advertised: data_queue judges a window closed since. */
    uint32_t len = (uint32_t)seg->payload_len;
    if (len && t->state == SK_TCP_ESTABLISHED) {
        if (rcv_window(t) == 0) {
            data_queue(s, t, seg);
        } else {
            t->data_segs_in++;
            data_in_order(s, t, seg, seg->seq, seg->payload, len, false, sk_rcv_truesize(len));
        }
    }
    input_done(s, t);
}

void sk_tcb_input(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    t->segs_in++;
    if (predicted(t, seg)) {
        established_fast(s, t, seg);
        return;
    }
    if (t->state == SK_TCP_SYN_SENT) {
        syn_sent_input(s, t, seg);
        return;
    }
    if (t->state == SK_TCP_CLOSE || t->state == SK_TCP_LISTEN)
        return;

    /* PAWS (RFC 7323 §5.3): an old timestamp marks an old duplicate. */
    if (sk_paws_reject(t, seg, s->now) && !(seg->flags & SK_TH_RST)) {
        if (seg->flags & SK_TH_SYN) {
            sk_send_challenge_ack(s, t, true);
        } else {
            sk_count(s, SK_C_TCPEXT_PAWS_ESTAB);
            if (!sk_oow_rate_limited(s, t, seg, SK_C_TCPEXT_TCP_ACK_SKIPPED_PAWS))
                send_dupack(s, t, seg);
        }
        return;
    }

    /* First: sequence acceptability (RFC 9293 §3.10.7.4, Linux's
     * tcp_sequence: the segment must overlap the receive window). */
    uint32_t win = rcv_window(t);
    uint32_t end = seg->seq + seg_len(seg);
    uint32_t limit = t->rcv_nxt + win;
    bool acceptable = !seq_lt(end, t->rcv_wup);
    /* Linux 6.17+ (tcp_sequence): a segment ending past the window is
     * taken only into an empty receive queue (TCP_INVALID_END_SEQUENCE),
     * unless only its FIN lies beyond, which is judged later; one
     * starting past it never (TCP_INVALID_SEQUENCE).  Both count as
     * BeyondWindow. */
    bool beyond = false;
    if (acceptable && seq_gt(end, limit) && seq_gt(end - !!(seg->flags & SK_TH_FIN), limit))
        beyond = seq_gt(seg->seq, limit) || t->rcvq.len != 0;
    if (beyond)
        acceptable = false;
    if (!acceptable) {
        if ((seg->flags & SK_TH_RST) && rst_at_fin(t, seg)) {
            /* RCV.NXT-1 after the peer's FIN lies below the window, and
             * Linux looks for it exactly there (tcp_validate_incoming calls
             * tcp_reset_check when tcp_sequence fails). */
            connection_reset(s, t, SK_CAUSE_RCV_RST);
        } else if (seg->flags & SK_TH_RST) {
            sk_count(s, SK_C_SYNACK_RST_IGNORED);
        } else if (seg->flags & SK_TH_SYN) {
            sk_send_challenge_ack(s, t, true);
        } else {
            if (beyond)
                sk_count(s, SK_C_TCPEXT_BEYOND_WINDOW);
            sk_count(s, SK_C_SYNACK_OUT_OF_WINDOW);
            if (!sk_oow_rate_limited(s, t, seg, SK_C_TCPEXT_TCP_ACK_SKIPPED_SEQ))
                send_dupack(s, t, seg);
        }
        return;
    }

    /* Second: RST (RFC 5961 §3.2). */
    if (seg->flags & SK_TH_RST) {
        if (rst_exact(t, seg)) {
            connection_reset(s, t, SK_CAUSE_RCV_RST);
        } else {
            sk_send_challenge_ack(s, t, false);
        }
        return;
    }

    /* Fourth: SYN in a synchronized state draws a challenge ACK (RFC 5961
     * §4.2) — except the peer's SYN,ACK crossing ours in a simultaneous
     * open, which Linux lets through. */
    if (seg->flags & SK_TH_SYN) {
        bool simopen_synack = t->state == SK_TCP_SYN_RECV && (seg->flags & SK_TH_ACK) &&
                              seg->seq + 1 == t->rcv_nxt && seg->ack == t->snd_nxt;
        if (!simopen_synack) {
            sk_send_challenge_ack(s, t, true);
            return;
        }
    }

    /* Fifth: a segment without ACK is dropped (Linux drops even data). */
    if (!(seg->flags & SK_TH_ACK)) {
        sk_count(s, SK_C_SYNACK_BAD_SEGMENT);
        return;
    }

    if (t->state == SK_TCP_SYN_RECV) {
        /* A Fast Open child's SND.UNA is past its SYN-ACK already
         * (tcp_create_openreq_child), so an ACK of SND.UNA is good. */
        bool fo_child = (t->tfo & SK_TFO_CHILD) != 0;
        if ((fo_child ? seq_lt(seg->ack, t->snd_una) : seq_leq(seg->ack, t->snd_una)) ||
            seq_gt(seg->ack, t->snd_nxt)) {
            rst_for_ack(s, seg);
            return;
        }
        t->snd_wnd = (uint32_t)seg->window << ((t->negot & SK_N_WS_OK) ? t->snd_wscale : 0);
        t->snd_wl1 = seg->seq;
        t->snd_wl2 = seg->ack;
        if (fo_child) {
            /* tcp_rcv_synrecv_state_fastopen(): the pending count drops,
             * the SYN-ACK timer stops (re-armed for data in flight), and
             * the SYN-ACK's RTT is taken from the echoed timestamp
             * (tcp_synack_rtt_meas). */
            sk_fastopen_child_done(s, t);
            t->retransmits = 0;
            t->backoff = 0;
            t->retrans_stamp = 0;
            t->rto_at = 0;
            if ((t->negot & SK_N_TS_OK) && seg->opts.ts_ecr && !t->srtt_us) {
                uint32_t rtt_ms = sk_tcp_time_ms(s) + t->ts_off - seg->opts.ts_ecr;
                if ((int32_t)rtt_ms >= 0)
                    sk_rtt_sample(s, t, rtt_ms * 1000u);
            }
            if (t->snd_nxt != t->snd_una)
                sk_arm_rto(s, t);
        } else {
            sk_init_transfer(s, t);
        }
        t->delivered++; /* the SYN-ACK (Linux counts it here, not in tcp_ack) */
        sk_tcb_set_state(s, t, SK_TCP_ESTABLISHED, SK_CAUSE_RCV_ACK);
        if (t->sopts & SK_O_KEEPALIVE)
            sk_arm_keepalive(s, t);
    }

    t->lrcvtime = sk_stamp_now(s); /* keepalive measures idleness from here, lazily */
    /* Any acceptable segment proves the peer alive (Linux resets
     * icsk_probes_out in tcp_ack): keepalive and persist probing restart. */
    t->probes_out = 0;

    if (!process_ack(s, t, seg))
        return; /* the connection moved on (TIME_WAIT, closed) or the segment is void */

    /* Seventh: segment text, by state (RFC 9293 §3.10.7.4). */
    switch (t->state) {
    case SK_TCP_CLOSE_WAIT:
    case SK_TCP_CLOSING:
    case SK_TCP_LAST_ACK:
        /* The peer's FIN is in: nothing new can follow it.  A
         * retransmission of what we have (its FIN was lost ACK) gets an
         * ACK at once; anything beyond is ignored. */
        if ((seg->payload_len || (seg->flags & SK_TH_FIN)) && seq_lt(seg->seq, t->rcv_nxt)) {
            t->xflags |= SK_X_ACK_NOW;
            /* Linux passes it to tcp_data_queue, which D-SACKs it. */
            if (seq_leq(seg->seq + seg_len(seg), t->rcv_nxt)) {
                sk_count(s, SK_C_TCPEXT_DELAYED_ACK_LOST);
                sk_rx_dsack_set(s, t, seg->seq, seg->seq + seg_len(seg));
                enter_quickack(t, SK_TCP_MAX_QUICKACKS);
            }
        }
        break;
    case SK_TCP_FIN_WAIT1:
    case SK_TCP_FIN_WAIT2:
        /* RFC 1122 §4.2.2.13 and Linux: new data for a socket that can no
         * longer read it (closed or SHUT_RD) resets the connection; the
         * reset is built from the offending segment (tcp_v4_do_rcv sends
         * tcp_v4_send_reset when tcp_rcv_state_process says so). */
        if ((t->sflags & (SK_S_ORPHAN | SK_S_SHUT_RD)) && seg->payload_len &&
            seq_gt(seg->seq + (uint32_t)seg->payload_len, t->rcv_nxt)) {
            sk_count(s, SK_C_TCPEXT_TCP_ABORT_ON_DATA);
            sk_reply_rst(s, seg);
            t->so_error = ECONNRESET;
            sk_tcb_done(s, t, SK_CAUSE_DATA_AFTER_CLOSE);
            return;
        }
        if (!data_queue(s, t, seg))
            return;
        break;
    case SK_TCP_ESTABLISHED:
        if (!data_queue(s, t, seg))
            return;
        break;
    default:
        break;
    }
    input_done(s, t);
}
