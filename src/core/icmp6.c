/*
 * ICMPv6 (RFC 4443) as far as a TCP host needs it here: echo requests
 * are answered (so `ping -6` reaches the stack) and every message is
 * counted in the Icmp6 MIB as Linux's icmpv6_rcv counts it.  Errors for
 * connections (Packet Too Big above all) are left to the path-MTU work.
 *
 * Linux does not rate-limit echo replies: net.ipv6.icmp.ratelimit
 * applies to the types in net.ipv6.icmp.ratemask, by default 0-1 and
 * 3-127, the error messages other than Packet Too Big.
 */

#include "internal.h"

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
static void echo_reply(sk_stack *s, const uint8_t *dgram, const sk_segment *seg, const uint8_t *msg, size_t len)
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
    (void)dgram;
    if (s->tx_blocked) {
        sk_count(s, SK_C_IP6_OUT_DISCARDS);
        return;
    }
    sk_count(s, SK_C_IP6_OUT_REQUESTS);
    sk_count(s, SK_C_ICMP6_OUT_MSGS);
    sk_count(s, SK_C_ICMP6_OUT_ECHO_REPLIES);
    sk_count(s, SK_C_ICMP6_OUT_TYPE129);
    if (s->on_event) {
        sk_event ev = {.type = SK_EV_SEGMENT_OUT, .now = s->now, .fd = -1, .data = o, .len = total};
        ev.local = sk_endpoint_ipv6(seg->dst6, 0);
        ev.remote = sk_endpoint_ipv6(seg->src6, 0);
        sk_emit(s, &ev);
    }
    s->transmit(s->transmit_ctx, o, total);
}

void sk_icmp6_input(sk_stack *s, const uint8_t *dgram, size_t len, const sk_segment *seg)
{
    if (!sk_addr_is_local(s, true, sk_addr6_find(s, seg->dst6))) {
        sk_count(s, SK_C_IP6_IN_ADDR_ERRORS);
        sk_emit_drop(s, seg, SK_C_IP6_IN_ADDR_ERRORS);
        return;
    }
    sk_count(s, SK_C_IP6_IN_DELIVERS);
    sk_count(s, SK_C_ICMP6_IN_MSGS);
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
    switch (msg[0]) {
    case ICMP6_ECHO_REQUEST:
        sk_count(s, SK_C_ICMP6_IN_ECHOS);
        sk_count(s, SK_C_ICMP6_IN_TYPE128);
        if (mlen < 8 || msg[1] != 0)
            return; /* icmpv6_echo_reply answers code 0 only */
        echo_reply(s, dgram, seg, msg, mlen);
        return;
    case ICMP6_ECHO_REPLY:
        sk_count(s, SK_C_ICMP6_IN_ECHO_REPLIES);
        sk_count(s, SK_C_ICMP6_IN_TYPE129);
        return;
    default:
        return; /* counted in InMsgs; errors for connections are not handled yet */
    }
}
