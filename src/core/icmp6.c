/*
 * ICMPv6 (RFC 4443) as far as a TCP host needs it here: echo requests
 * are answered (so `ping -6` reaches the stack), every message is
 * counted in the Icmp6 MIB as Linux's icmpv6_rcv counts it, and the
 * errors (Destination Unreachable, Packet Too Big, Time Exceeded,
 * Parameter Problem) reach the TCP connection they quote as Linux's
 * icmpv6_notify and tcp_v6_err take them: same checks against blind
 * attacks as IPv4 (RFC 5927), same per-connection handler (icmp.c),
 * Packet Too Big into the path-MTU cache (pmtu.c, RFC 8201).
 *
 * Linux does not rate-limit echo replies: net.ipv6.icmp.ratelimit
 * applies to the types in net.ipv6.icmp.ratemask, by default 0-1 and
 * 3-127, the error messages other than Packet Too Big.
 */

#include "icmp.h"
#include "bytes.h"
#include "addr.h"
#include "events.h"
#include "listen.h"
#include "segment.h"
#include "stack.h"
#include "tables.h"
#include "timewait.h"

#define ICMP6_DEST_UNREACH 1
#define ICMP6_PKT_TOOBIG 2
#define ICMP6_TIME_EXCEED 3
#define ICMP6_PARAMPROB 4
#define ICMP6_INFOMSG_MASK 0x80 /* types 128-255 are informational */
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define IPPROTO_ICMPV6_NUM 58

/* The ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header with next
 * header 58: the TCP pseudo-sum with its 6 replaced. */
static uint16_t icmp6_checksum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *msg, size_t len)
{
    uint32_t pseudo = sk_tcp_pseudo_sum6(src, dst, len) - 6u + IPPROTO_ICMPV6_NUM;
    return sk_csum_fold(sk_csum_partial(msg, len, pseudo));
}

/* icmpv6_echo_reply(): the request's identifier, sequence and data back
 * to its source, from the address it was sent to, with its traffic
 * class; hop limit and flow label as for any datagram of ours. */
static void echo_reply(sk_stack *s, const sk_segment *seg, const uint8_t *msg, size_t len)
{
    size_t total = SK_IP6_HDR_LEN + len;
    if (total > sizeof(s->out) || total > (size_t)(s->mtu < 1280 ? 1280 : s->mtu))
        return; /* no fragmentation here: the request could not have come whole either */
    uint8_t *o = s->out;
    uint32_t label = s->cfg.ipv6_auto_flowlabels ? sk_auto_flowlabel(s, seg->dst6, seg->src6, 0, 0, 0) : 0;
    uint8_t tclass = seg->tos;
    o[0] = (uint8_t)(0x60 | tclass >> 4);
    o[1] = (uint8_t)((tclass & 0x0f) << 4 | (label >> 16 & 0x0f));
    o[2] = (uint8_t)(label >> 8);
    o[3] = (uint8_t)label;
    o[4] = (uint8_t)(len >> 8);
    o[5] = (uint8_t)len;
    o[6] = IPPROTO_ICMPV6_NUM;
    o[7] = 64; /* the route's hop limit, ipv6.conf.default.hop_limit */
    memcpy(o + 8, seg->dst6, 16);
    memcpy(o + 24, seg->src6, 16);
    uint8_t *m = o + SK_IP6_HDR_LEN;
    memcpy(m, msg, len);
    m[0] = ICMP6_ECHO_REPLY;
    m[1] = 0;
    m[2] = m[3] = 0;
    uint16_t c = icmp6_checksum(seg->dst6, seg->src6, m, len);
    m[2] = (uint8_t)(c >> 8);
    m[3] = (uint8_t)c;
    if (s->tx_blocked) {
        sk_count(s, SK_C_IP6_OUT_DISCARDS);
        return;
    }
    sk_count(s, SK_C_IP6_OUT_REQUESTS);
    sk_count(s, SK_C_ICMP6_OUT_MSGS);
    sk_count(s, SK_C_ICMP6_OUT_ECHO_REPLIES);
    sk_count(s, SK_C_ICMP6_OUT_TYPE129);
    sk_icmp_emit(s, SK_EV_SEGMENT_OUT, seg, o, total); /* icmp.c */
    s->transmit(s->transmit_ctx, o, total);
}

static void in_errors(sk_stack *s, const sk_segment *seg)
{
    sk_count(s, SK_C_ICMP6_IN_ERRORS);
    sk_emit_drop(s, seg, SK_C_ICMP6_IN_ERRORS);
}

/* Linux's icmpv6_err_convert: the errno for TCP and whether the error is
 * "fatal" (a request sock is then dropped, tcp_req_err).  Codes past the
 * table keep EPROTO, fatal; Time Exceeded is EHOSTUNREACH, not fatal. */
static void err_convert(uint8_t type, uint8_t code, sk_icmp_err *e)
{
    static const struct {
        int err;
        bool fatal;
    } unreach[] = {
        {ENETUNREACH, false},  /* 0 no route to destination */
        {EACCES, true},        /* 1 administratively prohibited */
        {EHOSTUNREACH, false}, /* 2 beyond scope of source address */
        {EHOSTUNREACH, false}, /* 3 address unreachable */
        {ECONNREFUSED, true},  /* 4 port unreachable */
        {EACCES, true},        /* 5 source address failed ingress/egress policy */
        {EACCES, true},        /* 6 reject route to destination */
    };
    e->kind = SK_ICMPE_ERROR;
    e->err = EPROTO;
    e->req_abort = false;
    switch (type) {
    case ICMP6_DEST_UNREACH:
        e->req_abort = true;
        if (code < sizeof(unreach) / sizeof(unreach[0])) {
            e->err = unreach[code].err;
            e->req_abort = unreach[code].fatal;
        }
        /* RFC 6069 (tcp_v6_err): only "no route" may undo a backoff. */
        e->rto_revert = code == 0;
        break;
    case ICMP6_PARAMPROB:
        e->req_abort = true;
        break;
    case ICMP6_TIME_EXCEED:
        e->err = EHOSTUNREACH;
        break;
    default:
        break; /* an unknown error type: EPROTO, not fatal */
    }
}

/* The upper-layer header of the quoted datagram as ipv6_skip_exthdr
 * finds it: hop-by-hop, routing, destination options and AH are skipped,
 * as is a first fragment's header; a later fragment stops the walk at
 * its fragment header (no transport header to quote: not TCP), "no next
 * header" fails it.  Returns the offset in q, or 0 when there is none
 * to find in qn bytes. */
static size_t quoted_l4(const uint8_t *q, size_t qn, uint8_t *proto)
{
    uint8_t nh = q[6];
    size_t off = SK_IP6_HDR_LEN;
    for (int i = 0; i < 8; i++) {
        size_t hl;
        switch (nh) {
        case 0:  /* hop-by-hop options */
        case 43: /* routing */
        case 60: /* destination options */
            if (off + 2 > qn)
                return 0;
            hl = ((size_t)q[off + 1] + 1) * 8;
            break;
        case 44: /* fragment */
            if (off + 8 > qn)
                return 0;
            if ((q[off + 2] << 8 | q[off + 3]) & 0xfff8) {
                *proto = nh;
                return off;
            }
            hl = 8;
            break;
        case 51: /* authentication header */
            if (off + 2 > qn)
                return 0;
            hl = ((size_t)q[off + 1] + 2) * 4;
            break;
        case 59: /* no next header */
            return 0;
        default:
            *proto = nh;
            return off;
        }
        nh = q[off];
        off += hl;
    }
    return 0;
}

/* tcp_v6_err after icmpv6_notify found a TCP header in the quote. */
static void tcp_err(sk_stack *s, const uint8_t *q, const uint8_t *th, uint8_t type, uint8_t code, uint32_t info,
                    const sk_segment *seg)
{
    uint16_t sport = (uint16_t)(th[0] << 8 | th[1]), dport = (uint16_t)(th[2] << 8 | th[3]);
    uint32_t seq = sk_get_be32(th + 4);
    /* The quoted datagram is one of ours: its source is a local address,
     * its destination an address some socket holds (else no handle). */
    uint32_t laddr = sk_addr6_find(s, q + 8), raddr = sk_addr6_find(s, q + 24);
    sk_key k = {.laddr = laddr, .raddr = raddr, .lport = sport, .rport = dport, .v6 = true};
    /* ... or a transparent socket's non-local one (icmp.c). */
    bool local = laddr && sk_addr_is_local(s, true, laddr);
    bool ours = local || (laddr && sk_icmp_quote_transparent(s, &k));
    sk_tcb *t = ours && raddr ? sk_conn_lookup(s, &k) : NULL;
    sk_icmp_err e = {.kind = SK_ICMPE_NONE};
    if (type == ICMP6_PKT_TOOBIG) {
        e.kind = SK_ICMPE_PMTU;
        e.mtu = info;
    } else {
        err_convert(type, code, &e);
    }
    if (t) {
        /* Packet Too Big below IPV6_MIN_MTU is dropped by tcp_v6_err
         * (since "ipv6: tcp: drop silly ICMPv6 packet too big messages"):
         * a link cannot be narrower, and each one would otherwise cost a
         * cache entry.  The window check comes first, as there. */
        if (e.kind == SK_ICMPE_PMTU && info < 1280) {
            uint32_t una = (t->tfo & SK_TFO_CHILD) ? t->iss : t->snd_una;
            if (t->state != SK_TCP_CLOSE && !(seq_geq(seq, una) && seq_leq(seq, t->snd_nxt)))
                sk_count(s, SK_C_TCPEXT_OUT_OF_WINDOW_ICMPS);
            return;
        }
        sk_icmp_err_for_conn(s, t, seq, &e);
        return;
    }
    if (ours && raddr && sk_tw_lookup(s, &k) != SK_TW_NONE)
        return; /* TIME_WAIT: nothing left to tell */
    sk_tcb *l = !ours || !raddr ? NULL
                : sk_listener_select6(s,
                                      local ? sk_listener_lookup(s, true, laddr, sport)
                                            : sk_listen_nonlocal(s, true, laddr, sport),
                                      q + 8, q + 24, sport, dport);
    if (l) {
        /* tcp_req_err: a Packet Too Big is not fatal to a request. */
        sk_listen_icmp_err(s, l, &k, seq, e.kind == SK_ICMPE_ERROR && e.req_abort);
        return;
    }
    in_errors(s, seg); /* no socket: tcp_v6_err's -ENOENT */
}

/* icmpv6_notify: the quoted IPv6 header, its upper-layer header found
 * through the extension headers, 8 bytes of it, else InErrors. */
static void notify(sk_stack *s, const sk_segment *seg, const uint8_t *msg, size_t mlen, uint8_t type)
{
    const uint8_t *q = msg + 8;
    size_t qn = mlen >= 8 ? mlen - 8 : 0;
    uint8_t proto = 0;
    size_t off = qn >= SK_IP6_HDR_LEN ? quoted_l4(q, qn, &proto) : 0;
    if (!off || off + 8 > qn) {
        in_errors(s, seg);
        return;
    }
    if (proto != 6)
        return; /* not TCP: no error handler for it here, nobody to tell */
    tcp_err(s, q, q + off, type, msg[1], sk_get_be32(msg + 4), seg);
}

/* An error message to an address that is not the stack's is wanted only
 * when it quotes a TCP segment of a transparent socket
 * (sk_icmp_quote_transparent, icmp.c); informational ones never are. */
static bool nonlocal_wanted(sk_stack *s, const uint8_t *dgram, size_t len, const sk_segment *seg)
{
    size_t end = seg->ip_len <= len ? seg->ip_len : len;
    if (seg->l4_off + 8 > end)
        return false;
    const uint8_t *msg = dgram + seg->l4_off;
    if (msg[0] & ICMP6_INFOMSG_MASK)
        return false;
    const uint8_t *q = msg + 8;
    size_t qn = end - seg->l4_off - 8;
    uint8_t proto = 0;
    size_t off = qn >= SK_IP6_HDR_LEN ? quoted_l4(q, qn, &proto) : 0;
    if (!off || off + 8 > qn || proto != 6)
        return false;
    uint32_t laddr = sk_addr6_find(s, q + 8);
    if (!laddr)
        return false; /* an address no socket holds */
    sk_key k = {.laddr = laddr,
                .raddr = sk_addr6_find(s, q + 24),
                .lport = sk_get_be16(q + off),
                .rport = sk_get_be16(q + off + 2),
                .v6 = true};
    return sk_icmp_quote_transparent(s, &k);
}

void sk_icmp6_input(sk_stack *s, const uint8_t *dgram, size_t len, const sk_segment *seg)
{
    if (!sk_addr_is_local(s, true, sk_addr6_find(s, seg->dst6)) && !nonlocal_wanted(s, dgram, len, seg)) {
        sk_count(s, SK_C_IP6_IN_ADDR_ERRORS);
        sk_emit_drop(s, seg, SK_C_IP6_IN_ADDR_ERRORS);
        return;
    }
    sk_count(s, SK_C_IP6_IN_DELIVERS);
    sk_count(s, SK_C_ICMP6_IN_MSGS);
    sk_icmp_emit(s, SK_EV_SEGMENT_IN, seg, dgram, len); /* icmp.c */
    size_t end = seg->ip_len <= len ? seg->ip_len : len;
    if (seg->l4_off + 4 > end) {
        sk_count(s, SK_C_ICMP6_IN_ERRORS);
        sk_emit_drop(s, seg, SK_C_ICMP6_IN_ERRORS);
        return;
    }
    const uint8_t *msg = dgram + seg->l4_off;
    size_t mlen = end - seg->l4_off;
    if (icmp6_checksum(seg->src6, seg->dst6, msg, mlen) != 0) {
        sk_count(s, SK_C_ICMP6_IN_CSUM_ERRORS);
        sk_count(s, SK_C_ICMP6_IN_ERRORS);
        sk_emit_drop(s, seg, SK_C_ICMP6_IN_CSUM_ERRORS);
        return;
    }
    /* Each known type's nstat counters: its name (Linux's icmp6type2name)
     * and Icmp6InTypeN.  Neighbour discovery (RFC 4861) and MLDv2 reports
     * (RFC 3810) arrive on a TUN link from the kernel; they are counted,
     * then consumed: synack keeps no neighbours or groups. */
    static const struct {
        uint8_t type;
        sk_counter_id named, per_type;
    } known[] = {
        {ICMP6_DEST_UNREACH, SK_C_ICMP6_IN_DEST_UNREACHS, SK_C_ICMP6_IN_TYPE1},
        {ICMP6_PKT_TOOBIG, SK_C_ICMP6_IN_PKT_TOO_BIGS, SK_C_ICMP6_IN_TYPE2},
        {ICMP6_TIME_EXCEED, SK_C_ICMP6_IN_TIME_EXCDS, SK_C_ICMP6_IN_TYPE3},
        {ICMP6_PARAMPROB, SK_C_ICMP6_IN_PARM_PROBLEMS, SK_C_ICMP6_IN_TYPE4},
        {ICMP6_ECHO_REQUEST, SK_C_ICMP6_IN_ECHOS, SK_C_ICMP6_IN_TYPE128},
        {ICMP6_ECHO_REPLY, SK_C_ICMP6_IN_ECHO_REPLIES, SK_C_ICMP6_IN_TYPE129},
        {133, SK_C_ICMP6_IN_ROUTER_SOLICITS, SK_C_ICMP6_IN_TYPE133},
        {134, SK_C_ICMP6_IN_ROUTER_ADVERTISEMENTS, SK_C_ICMP6_IN_TYPE134},
        {135, SK_C_ICMP6_IN_NEIGHBOR_SOLICITS, SK_C_ICMP6_IN_TYPE135},
        {136, SK_C_ICMP6_IN_NEIGHBOR_ADVERTISEMENTS, SK_C_ICMP6_IN_TYPE136},
        {137, SK_C_ICMP6_IN_REDIRECTS, SK_C_ICMP6_IN_TYPE137},
        {143, SK_C_ICMP6_IN_MLD_V2_REPORTS, SK_C_ICMP6_IN_TYPE143},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i].type == msg[0]) {
            sk_count(s, known[i].named);
            sk_count(s, known[i].per_type);
        }
    if (msg[0] == ICMP6_ECHO_REQUEST) {
        if (mlen >= 8 && msg[1] == 0) /* icmpv6_echo_reply answers code 0 only */
            echo_reply(s, seg, msg, mlen);
        return;
    }
    /* icmpv6_rcv: every error type (below 128), known or not, goes to the
     * connection it quotes; informational ones are consumed. */
    if (!(msg[0] & ICMP6_INFOMSG_MASK))
        notify(s, seg, msg, mlen, msg[0]);
}
