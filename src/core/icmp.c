/*
 * ICMP for IPv4 (RFC 792, RFC 1122 §3.2.2) as Linux's net/ipv4/icmp.c
 * receives it, and TCP's side of ICMP errors as tcp_v4_err() takes them
 * (RFC 5927's checks against blind attacks: the quoted connection must
 * exist and the quoted sequence number lie within SND.UNA..SND.NXT).
 *
 * Received: echo requests are answered; destination unreachable, source
 * quench, time exceeded and parameter problem are delivered to the TCP
 * connection they quote; everything else is counted and consumed.  The
 * counters are Linux's Icmp and IcmpMsg MIBs as nstat names them.
 *
 * Sent: echo replies, through Linux's two rate limits — the global
 * token bucket (icmp_msgs_per_sec, icmp_msgs_burst) and the per-host one
 * (icmp_ratelimit) — which apply only to the types icmp_ratemask names
 * (by default 3, 4, 11 and 12, so echo replies are not limited unless the
 * mask says so).
 */
#include "icmp.h"
#include "bytes.h"
#include "addr.h"
#include "events.h"
#include "listen.h"
#include "stack.h"
#include "tables.h"
#include "timers.h"
#include "timewait.h"

#define ICMP_HDR_LEN 8
#define IPPROTO_TCP_NUM 6

/* Per-type input counters: Linux derives Icmp InDestUnreachs & co from
 * the IcmpMsg per-type counts; synack keeps both. */
static void count_in_type(sk_stack *s, uint8_t type)
{
    sk_count(s, (sk_counter_id)(SK_C_ICMPMSG_IN_TYPE0 + type));
    static const struct {
        uint8_t type;
        sk_counter_id id;
    } named[] = {
        {SK_ICMP_DEST_UNREACH, SK_C_ICMP_IN_DEST_UNREACHS}, {SK_ICMP_TIME_EXCEEDED, SK_C_ICMP_IN_TIME_EXCDS},
        {SK_ICMP_PARAMETERPROB, SK_C_ICMP_IN_PARM_PROBS},  {SK_ICMP_SOURCE_QUENCH, SK_C_ICMP_IN_SRC_QUENCHS},
        {SK_ICMP_REDIRECT, SK_C_ICMP_IN_REDIRECTS},        {SK_ICMP_ECHO, SK_C_ICMP_IN_ECHOS},
        {SK_ICMP_ECHOREPLY, SK_C_ICMP_IN_ECHO_REPS},       {SK_ICMP_TIMESTAMP, SK_C_ICMP_IN_TIMESTAMPS},
        {SK_ICMP_TIMESTAMPREPLY, SK_C_ICMP_IN_TIMESTAMP_REPS}, {SK_ICMP_ADDRESS, SK_C_ICMP_IN_ADDR_MASKS},
        {SK_ICMP_ADDRESSREPLY, SK_C_ICMP_IN_ADDR_MASK_REPS},
    };
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (named[i].type == type)
            sk_count(s, named[i].id);
}

static void drop(sk_stack *s, const sk_segment *ip, sk_counter_id reason)
{
    sk_count(s, reason);
    sk_emit_drop(s, ip, reason);
}

/* ------------------------------------------------------------------ */
/* Rate limits (icmp_global_allow, icmpv4_xrlim_allow)                  */
/* ------------------------------------------------------------------ */

/* Linux's icmpv4_mask_allow: types outside the mask, unknown types and
 * fragmentation-needed (PMTU discovery must not be starved) are never
 * limited. */
static bool mask_exempt(const sk_stack *s, uint8_t type, uint8_t code)
{
    if (type > SK_NR_ICMP_TYPES)
        return true;
    if (type == SK_ICMP_DEST_UNREACH && code == SK_ICMP_FRAG_NEEDED)
        return true;
    return !((1u << type) & (uint32_t)s->cfg.icmp_ratemask);
}

/* icmp_global_allow: while credit remains, allow; otherwise refill by
 * icmp_msgs_per_sec for the time since the last refill (at most a
 * second's worth, and not more often than every 20 ms), up to the burst. */
static bool global_allow(sk_stack *s)
{
    if ((int32_t)s->icmp_credit > 0)
        return true;
    sk_stamp now = sk_stamp_now(s);
    uint32_t delta = s->icmp_stamp ? (uint32_t)(now - s->icmp_stamp) : 1000;
    if (delta > 1000)
        delta = 1000;
    if (delta < 1000 / 50)
        return false;
    uint32_t incr = (uint32_t)s->cfg.icmp_msgs_per_sec * delta / 1000;
    if (!incr)
        return false;
    s->icmp_stamp = now;
    int64_t credit = (int64_t)(int32_t)s->icmp_credit + incr;
    if (credit > s->cfg.icmp_msgs_burst)
        credit = s->cfg.icmp_msgs_burst;
    s->icmp_credit = (uint32_t)(int32_t)credit;
    return true;
}

/* icmp_global_consume: 0, 1 or 2 credits at random, so the limit cannot
 * be used to count a host's ICMP traffic exactly. */
static void global_consume(sk_stack *s)
{
    uint32_t credits = sk_rng_below(&s->rng, 3);
    s->icmp_credit = (uint32_t)((int32_t)s->icmp_credit - (int32_t)credits);
}

static bool out_allowed(sk_stack *s, uint8_t type, uint8_t code, uint32_t daddr)
{
    if (mask_exempt(s, type, code))
        return true;
    if (!global_allow(s)) {
        sk_count(s, SK_C_ICMP_OUT_RATE_LIMIT_GLOBAL);
        return false;
    }
    sk_peer_key k = sk_peer_key_v4(daddr);
    if (!sk_peer_rate_allow(s, &k, (uint32_t)s->cfg.icmp_ratelimit)) {
        sk_count(s, SK_C_ICMP_OUT_RATE_LIMIT_HOST);
        return false;
    }
    global_consume(s);
    return true;
}

/* ------------------------------------------------------------------ */
/* Echo                                                                 */
/* ------------------------------------------------------------------ */

/* Linux's icmp_echo + icmp_reply: the reply carries the request's
 * identifier, sequence and data, goes from the address the request was
 * sent to, with the request's TOS, TTL 64 and DF clear (the ICMP control
 * socket uses IP_PMTUDISC_DONT). */
static void echo_reply(sk_stack *s, const sk_segment *ip, const uint8_t *icmp, size_t n)
{
    if (s->cfg.icmp_echo_ignore_all)
        return;
    if (!out_allowed(s, SK_ICMP_ECHOREPLY, 0, ip->src))
        return;
    size_t total = 20 + n;
    if (total > 65535 || total > sizeof(s->out))
        return;
    uint8_t *d = s->out;
    d[0] = 0x45;
    d[1] = ip->tos;
    sk_put_be16(d + 2, (uint16_t)total);
    sk_put_be16(d + 4, s->ip_id++);
    sk_put_be16(d + 6, 0);
    d[8] = 64;
    d[9] = 1;
    sk_put_be16(d + 10, 0);
    sk_put_be32(d + 12, ip->dst);
    sk_put_be32(d + 16, ip->src);
    sk_put_be16(d + 10, sk_csum_fold(sk_csum_partial(d, 20, 0)));
    memmove(d + 20, icmp, n);
    d[20] = SK_ICMP_ECHOREPLY;
    d[21] = 0;
    sk_put_be16(d + 22, 0);
    sk_put_be16(d + 22, sk_csum_fold(sk_csum_partial(d + 20, n, 0)));
    if (s->tx_blocked) {
        sk_count(s, SK_C_IP_OUT_DISCARDS);
        return;
    }
    sk_count(s, SK_C_ICMP_OUT_MSGS);
    sk_count(s, SK_C_ICMPMSG_OUT_TYPE0);
    sk_count(s, SK_C_ICMP_OUT_ECHO_REPS);
    sk_count(s, SK_C_IP_OUT_REQUESTS);
    sk_icmp_emit(s, SK_EV_SEGMENT_OUT, ip, d, total);
    s->transmit(s->transmit_ctx, d, total);
}

/* ------------------------------------------------------------------ */
/* Errors: icmp_unreach, then tcp_v4_err                                */
/* ------------------------------------------------------------------ */

/* Linux's icmp_err_convert[]: the errno each unreachable code maps to. */
static const int unreach_errno[SK_NR_ICMP_UNREACH + 1] = {
    ENETUNREACH,  /* 0 network unreachable */
    EHOSTUNREACH, /* 1 host unreachable */
    ENOPROTOOPT,  /* 2 protocol unreachable */
    ECONNREFUSED, /* 3 port unreachable */
    EMSGSIZE,     /* 4 fragmentation needed */
    EOPNOTSUPP,   /* 5 source route failed */
    ENETUNREACH,  /* 6 destination network unknown */
    EHOSTDOWN,    /* 7 destination host unknown */
    ENONET,       /* 8 source host isolated */
    ENETUNREACH,  /* 9 network administratively prohibited */
    EHOSTUNREACH, /* 10 host administratively prohibited */
    ENETUNREACH,  /* 11 network unreachable for TOS */
    EHOSTUNREACH, /* 12 host unreachable for TOS */
    EHOSTUNREACH, /* 13 communication administratively prohibited */
    EHOSTUNREACH, /* 14 host precedence violation */
    EHOSTUNREACH, /* 15 precedence cutoff in effect */
};

void sk_icmp_emit(sk_stack *s, sk_event_type type, const sk_segment *msg, const uint8_t *d, size_t len)
{
    if (!sk_wants(s, type))
        return;
    sk_event ev = {.type = type, .now = s->now, .fd = -1, .data = d, .len = len};
    sk_endpoint local, remote;
    if (msg->ip_version == 6) {
        local = sk_endpoint_ipv6(msg->dst6, 0);
        remote = sk_endpoint_ipv6(msg->src6, 0);
    } else {
        local = sk_endpoint_ipv4(msg->dst, 0);
        remote = sk_endpoint_ipv4(msg->src, 0);
    }
    sk_event_set_endpoints(&ev, &local, &remote);
    sk_emit(s, &ev);
}

/* RFC 6069 as Linux's tcp_ld_RTO_revert: a net or host unreachable for
 * the segment being retransmitted says the path, not congestion, lost
 * it, so one backoff step is undone and the timer re-armed from the
 * head's last transmission. */
static void rto_revert(sk_stack *s, sk_tcb *t, uint32_t seq)
{
    if (seq != t->snd_una || !t->retransmits || !t->backoff || !t->rto_at ||
        (t->xflags & (SK_X_TLP_ARMED | SK_X_REO_ARMED | SK_X_PERSIST)))
        return;
    sk_time_ns old_rto = sk_current_rto(s, t);
    sk_time_ns sent = t->rto_at > old_rto ? t->rto_at - old_rto : 0;
    t->backoff--;
    sk_time_ns rto = sk_current_rto(s, t);
    sk_time_ns elapsed = s->now > sent ? s->now - sent : 0;
    t->rto_at = elapsed < rto ? s->now + (rto - elapsed) : s->now;
    sk_tcb_timer_update(s, t);
}

void sk_icmp_err_for_conn(sk_stack *s, sk_tcb *t, uint32_t seq, const sk_icmp_err *e)
{
    if (t->state == SK_TCP_CLOSE || t->state == SK_TCP_LISTEN)
        return;
    /* RFC 5927 §4.1 (tcp_v4_err): a quoted sequence outside the data in
     * flight cannot be from a segment we sent.  A Fast Open child still in
     * SYN_RECV counts from its SYN-ACK's ISN (Linux's snt_isn). */
    uint32_t una = (t->tfo & SK_TFO_CHILD) ? t->iss : t->snd_una;
    if (!(seq_geq(seq, una) && seq_leq(seq, t->snd_nxt))) {
        sk_count(s, SK_C_TCPEXT_OUT_OF_WINDOW_ICMPS);
        return;
    }
    if (e->kind == SK_ICMPE_PMTU) {
        sk_pmtu_reduced(s, t, e->mtu);
        return;
    }
    if (e->kind != SK_ICMPE_ERROR)
        return;
    bool fo_child = (t->tfo & SK_TFO_CHILD) != 0;
    if (e->rto_revert && !fo_child)
        rto_revert(s, t, seq);
    /* A handshake in progress ends at once (connect() sees the error);
     * a Fast Open child already accepted is treated as established. */
    if (t->state == SK_TCP_SYN_SENT || (t->state == SK_TCP_SYN_RECV && !(fo_child && t->fd >= 0 && !t->parent))) {
        t->so_error = (int16_t)e->err;
        sk_ring_free(s, &t->sndq);
        sk_tcb_done(s, t, SK_CAUSE_ICMP_ERROR_HANDSHAKE);
        return;
    }
    /* Established: RFC 1122 §4.2.3.9 makes these soft errors.  Linux
     * keeps them in sk_err_soft (SO_ERROR reads it, a timeout reports
     * it instead of ETIMEDOUT) unless IP_RECVERR asks for hard errors. */
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    /* tcp_v6_err reads IPV6_RECVERR; an IPv4(-mapped) connection goes
     * through tcp_v4_err, which reads IP_RECVERR even on an AF_INET6
     * socket. */
    if (pm && (t->af6 ? pm->recverr6 : pm->recverr)) {
        t->so_error = (int16_t)e->err;
        sk_notify(s, t);
        return;
    }
    pm = sk_pmtu_conn_get(s, t);
    if (pm)
        pm->err_soft = (int16_t)e->err;
}

/* The quoted datagram: our TCP segment that drew the error. */
static void tcp_err(sk_stack *s, const uint8_t *q, size_t qihl, uint8_t type, uint8_t code, uint32_t info,
                    const sk_segment *ip)
{
    uint32_t qsrc = sk_get_be32(q + 12), qdst = sk_get_be32(q + 16);
    const uint8_t *th = q + qihl;
    uint16_t sport = sk_get_be16(th), dport = sk_get_be16(th + 2);
    uint32_t seq = sk_get_be32(th + 4);

    sk_icmp_err e = {.kind = SK_ICMPE_NONE};
    switch (type) {
    case SK_ICMP_SOURCE_QUENCH: /* RFC 6633: ignored */
        e.kind = SK_ICMPE_NONE;
        break;
    case SK_ICMP_PARAMETERPROB:
        e.kind = SK_ICMPE_ERROR;
        e.err = EPROTO;
        e.req_abort = true;
        break;
    case SK_ICMP_TIME_EXCEEDED:
        e.kind = SK_ICMPE_ERROR;
        e.err = EHOSTUNREACH;
        e.req_abort = true;
        break;
    case SK_ICMP_DEST_UNREACH:
        if (code == SK_ICMP_FRAG_NEEDED) {
            e.kind = SK_ICMPE_PMTU;
            e.mtu = info;
        } else {
            e.kind = SK_ICMPE_ERROR;
            e.err = unreach_errno[code];
            e.rto_revert = code == SK_ICMP_NET_UNREACH || code == SK_ICMP_HOST_UNREACH;
            e.req_abort = e.rto_revert;
        }
        break;
    default:
        return;
    }

    /* The quoted datagram is one this stack sent: its source is ours, or
     * a transparent socket's non-local address. */
    sk_key k = {.laddr = qsrc, .raddr = qdst, .lport = sport, .rport = dport, .v6 = false};
    bool local = sk_addr_is_local(s, false, qsrc);
    bool ours = local || sk_icmp_quote_transparent(s, &k);
    sk_tcb *t = ours ? sk_conn_lookup(s, &k) : NULL;
    if (t) {
        sk_icmp_err_for_conn(s, t, seq, &e);
        return;
    }
    if (ours && sk_tw_lookup(s, &k) != SK_TW_NONE)
        return; /* TIME_WAIT: nothing left to tell */
    sk_tcb *l = !ours ? NULL
                : sk_listener_select4(s,
                                      local ? sk_listener_lookup(s, false, qsrc, sport)
                                            : sk_listen_nonlocal(s, false, qsrc, sport),
                                      qsrc, qdst, sport, dport);
    if (l) {
        /* A request sock (Linux's tcp_req_err): the SYN-ACK's sequence
         * must be its ISN exactly; errors meaning the peer is gone drop
         * the request.  A listener itself has nothing to do. */
        sk_listen_icmp_err(s, l, &k, seq, e.kind == SK_ICMPE_ERROR && e.req_abort);
        return;
    }
    drop(s, ip, SK_C_ICMP_IN_ERRORS); /* no socket: tcp_v4_err's -ENOENT */
}

/* Is the quoted segment a transparent socket's (IP_TRANSPARENT, or a
 * child of a transparent listener), sent from its non-local address?  On
 * Linux an error about it reaches the host through the same rule as that
 * socket's segments: `-m socket --transparent` finds the socket from the
 * quoted header (xt_socket's extract_icmp4_fields/extract_icmp6_fields,
 * then an established, TIME_WAIT or listener lookup, each transparent),
 * and the local route delivers it to icmp_rcv/icmpv6_rcv, whose
 * tcp_v4_err/tcp_v6_err then look the quote up without asking whether
 * the address is local.  A TIME_WAIT record at a non-local address is
 * taken as transparent, as input.c's nonlocal_wanted takes it. */
bool sk_icmp_quote_transparent(sk_stack *s, const sk_key *k)
{
    if (k->raddr) {
        const sk_tcb *t = sk_conn_lookup(s, k);
        if (t)
            return t->transparent;
        if (sk_tw_lookup(s, k) != SK_TW_NONE)
            return true;
    }
    return sk_listen_nonlocal(s, k->v6, k->laddr, k->lport) != NULL;
}

/* An error message to an address that is not the stack's is wanted only
 * when it quotes a TCP segment of a transparent socket (see above). */
static bool nonlocal_wanted(sk_stack *s, const uint8_t *dgram, const sk_segment *ip)
{
    const uint8_t *icmp = dgram + ip->l4_off;
    size_t n = ip->ip_len > ip->l4_off ? ip->ip_len - ip->l4_off : 0;
    if (n < ICMP_HDR_LEN + 20)
        return false;
    uint8_t type = icmp[0];
    if (type != SK_ICMP_DEST_UNREACH && type != SK_ICMP_SOURCE_QUENCH && type != SK_ICMP_TIME_EXCEEDED &&
        type != SK_ICMP_PARAMETERPROB && type != SK_ICMP_REDIRECT)
        return false; /* icmp_is_err: an informational message names no socket */
    const uint8_t *q = icmp + ICMP_HDR_LEN;
    size_t qn = n - ICMP_HDR_LEN, qihl = (size_t)(q[0] & 0x0f) * 4;
    if (qihl < 20 || qn < qihl + 8 || q[9] != IPPROTO_TCP_NUM)
        return false;
    sk_key k = {.laddr = sk_get_be32(q + 12),
                .raddr = sk_get_be32(q + 16),
                .lport = sk_get_be16(q + qihl),
                .rport = sk_get_be16(q + qihl + 2),
                .v6 = false};
    return sk_icmp_quote_transparent(s, &k);
}

static void unreach(sk_stack *s, const sk_segment *ip, const uint8_t *icmp, size_t n, uint8_t type,
                    uint8_t code)
{
    const uint8_t *q = icmp + ICMP_HDR_LEN;
    size_t qn = n - ICMP_HDR_LEN;
    if (qn < 20 || (q[0] & 0x0f) < 5) {
        drop(s, ip, SK_C_ICMP_IN_ERRORS); /* no or a mangled quoted header */
        return;
    }
    size_t qihl = (size_t)(q[0] & 0x0f) * 4;
    uint32_t info = 0;
    if (type == SK_ICMP_DEST_UNREACH) {
        if (code > SK_NR_ICMP_UNREACH)
            return;
        if (code == SK_ICMP_FRAG_NEEDED) {
            /* ip_no_pmtu_disc: 0 honours the next-hop MTU, 1 delivers the
             * message without it, 2 ignores it, 3 honours it only for
             * protocols that validate the quoted header (TCP does). */
            switch (s->cfg.ip_no_pmtu_disc) {
            case 0:
            case 3:
                info = sk_get_be16(icmp + 6);
                break;
            case 2:
                return;
            default:
                break;
            }
        }
    }
    /* icmp_socket_deliver: the transport header's first 8 bytes. */
    if (qn < qihl + 8) {
        drop(s, ip, SK_C_ICMP_IN_ERRORS);
        return;
    }
    if (q[9] != IPPROTO_TCP_NUM)
        return; /* no such protocol here: nobody to tell */
    tcp_err(s, q, qihl, type, code, info, ip);
}

void sk_icmp_input(sk_stack *s, const uint8_t *dgram, size_t len, const sk_segment *ip)
{
    (void)len;
    if (!sk_addr_is_local(s, false, ip->dst) && !nonlocal_wanted(s, dgram, ip)) {
        drop(s, ip, SK_C_IP_IN_ADDR_ERRORS);
        return;
    }
    size_t ihl = ip->l4_off;
    const uint8_t *icmp = dgram + ihl;
    size_t n = ip->ip_len - ihl;
    sk_count(s, SK_C_IP_IN_DELIVERS);
    sk_count(s, SK_C_ICMP_IN_MSGS);
    sk_icmp_emit(s, SK_EV_SEGMENT_IN, ip, dgram, ip->ip_len);
    /* icmp_rcv: checksum first (InCsumErrors and InErrors), then a whole
     * header (InErrors), then the per-type count, then the type's range. */
    if (sk_csum_fold(sk_csum_partial(icmp, n, 0)) != 0) {
        sk_count(s, SK_C_ICMP_IN_ERRORS);
        drop(s, ip, SK_C_ICMP_IN_CSUM_ERRORS);
        return;
    }
    if (n < ICMP_HDR_LEN) {
        drop(s, ip, SK_C_ICMP_IN_ERRORS);
        return;
    }
    uint8_t type = icmp[0], code = icmp[1];
    if (type > SK_NR_ICMP_TYPES) {
        /* Linux counts IcmpMsgInType<type> for these too; synack keeps
         * per-type counters only for the 19 defined types. */
        drop(s, ip, SK_C_ICMP_IN_ERRORS);
        return;
    }
    count_in_type(s, type);
    switch (type) {
    case SK_ICMP_ECHO:
        echo_reply(s, ip, icmp, n);
        break;
    case SK_ICMP_DEST_UNREACH:
    case SK_ICMP_SOURCE_QUENCH:
    case SK_ICMP_TIME_EXCEEDED:
    case SK_ICMP_PARAMETERPROB:
        unreach(s, ip, icmp, n, type, code);
        break;
    default:
        /* Replies, redirects (synack keeps no routes), timestamps and
         * address masks (Linux no longer answers those) are consumed. */
        break;
    }
}
