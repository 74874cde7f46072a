/*
 * IPv4/IPv6 + TCP parsing and building (RFC 791, RFC 8200, RFC 9293 §3.1).
 *
 * The parser reads only within [dgram, dgram + len) and never trusts a
 * length field before comparing it with what is actually there.
 */
#include "synack/packet.h"
#include "bytes.h"

#include "segment.h"

#include <string.h>

#define IPV4_PROTO_TCP 6
#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_FRAG_OFFSET_MASK 0x1fff
#define TCP_FLAGS_MASK 0x01ff
#define DEFAULT_TTL 64

/* RFC 8200 §4 next-header values */
#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_DSTOPTS 60
#define IPV6_FRAG_OFFSET_MASK 0xfff8
#define IPV6_FRAG_MF 0x0001
/* Linux's net.ipv6.max_hbh_opts_number and max_dst_opts_number defaults:
 * at most 8 non-padding options in one header. */
#define IPV6_MAX_TLV_OPTS 8
/* RFC 8200 §4.2 option types with a meaning here */
#define IPV6_OPT_PAD1 0
#define IPV6_OPT_PADN 1
#define IPV6_OPT_JUMBO 0xc2

/* Linux's TCP_MAX_WSCALE: RFC 7323 §2.3 caps the shift at 14. */
#define TCP_MAX_WSCALE 14

#define TCPOLEN_MSS 4
#define TCPOLEN_WSCALE 3
#define TCPOLEN_SACK_PERM 2
#define TCPOLEN_TIMESTAMP 10
#define TCPOLEN_SACK_BASE 2
#define TCPOLEN_SACK_PERBLOCK 8

const char *sk_parse_error_name(sk_parse_error e)
{
    switch (e) {
    case SK_PARSE_OK: return "ok";
    case SK_PARSE_TRUNCATED_IP: return "truncated-ip";
    case SK_PARSE_BAD_VERSION: return "bad-ip-version";
    case SK_PARSE_BAD_IHL: return "bad-ihl";
    case SK_PARSE_BAD_IP_CSUM: return "bad-ip-checksum";
    case SK_PARSE_FRAGMENT: return "fragment";
    case SK_PARSE_NOT_TCP: return "not-tcp";
    case SK_PARSE_TRUNCATED_TCP: return "truncated-tcp";
    case SK_PARSE_BAD_DOFF: return "bad-data-offset";
    case SK_PARSE_BAD_TCP_CSUM: return "bad-tcp-checksum";
    case SK_PARSE_BAD_EXTHDR: return "bad-ipv6-extension-header";
    case SK_PARSE_BAD_SRC_ADDR: return "bad-source-address";
    }
    return "unknown";
}

/*
 * Follows Linux's tcp_parse_options(): a known option whose length is not
 * the one its RFC gives is skipped as if absent, and a later copy of an
 * option overrides an earlier one.  At an option whose length byte is
 * missing, below 2 or overruns the header Linux stops parsing and keeps
 * what it decoded before it; so does this function, returning false so
 * that tools can tell the option area was malformed.  The segment itself
 * is still processed (sk_parse_segment), as Linux processes it.
 *
 * Whether an option is honoured in this segment (MSS, WSCALE and SACK_PERM
 * only on SYN, SACK only once SACK was negotiated, TS per the sysctl) is
 * the caller's business: the option is decoded wherever it appears.
 */
/* Linux's tcp_parse_fastopen_option: an even length of 4..16 is a
 * cookie, 0 a request, anything else leaves a void (-1) cookie.  Linux
 * reads it only on a SYN or SYN-ACK; the callers look only there. */
static void parse_fastopen(sk_tcp_opts *out, const uint8_t *cookie, size_t len, bool exp)
{
    int8_t l = -1;
    if (!(len & 1)) {
        if (len >= SK_TFO_COOKIE_MIN && len <= SK_TFO_COOKIE_MAX) {
            memcpy(out->fo_cookie, cookie, len);
            l = (int8_t)len;
        } else if (len == 0) {
            l = 0;
        }
    }
    out->fo_len = l;
    out->fo_exp = exp;
}

bool sk_parse_options(const uint8_t *opt, size_t len, sk_tcp_opts *out)
{
    memset(out, 0, sizeof *out);
    out->fo_len = -1;
    size_t pos = 0;
    while (pos < len) {
        uint8_t kind = opt[pos];
        if (kind == SK_TCPOPT_EOL)
            return true;
        if (kind == SK_TCPOPT_NOP) {
            pos++;
            continue;
        }
        if (len - pos < 2)
            return false;
        size_t optlen = opt[pos + 1];
        if (optlen < 2 || optlen > len - pos)
            return false;
        const uint8_t *body = opt + pos + 2;
        switch (kind) {
        case SK_TCPOPT_MSS:
            /* Linux ignores an MSS of 0 (tcp_parse_options: "if (in_mss)"),
             * leaving the default clamp in force. */
            if (optlen == TCPOLEN_MSS && sk_get_be16(body) != 0) {
                out->has_mss = true;
                out->mss = sk_get_be16(body);
            }
            break;
        case SK_TCPOPT_WSCALE:
            if (optlen == TCPOLEN_WSCALE) {
                out->has_wscale = true;
                /* Linux logs "Illegal window scaling value" and clamps. */
                out->wscale = body[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : body[0];
            }
            break;
        case SK_TCPOPT_SACK_PERM:
            if (optlen == TCPOLEN_SACK_PERM)
                out->sack_permitted = true;
            break;
        case SK_TCPOPT_TIMESTAMP:
            if (optlen == TCPOLEN_TIMESTAMP) {
                out->has_ts = true;
                out->ts_val = sk_get_be32(body);
                out->ts_ecr = sk_get_be32(body + 4);
            }
            break;
        case SK_TCPOPT_FASTOPEN:
            parse_fastopen(out, body, optlen - 2, false);
            break;
        case SK_TCPOPT_EXP:
            /* Kind 254 is shared (RFC 6994): only the Fast Open magic is ours. */
            if (optlen >= 4 && sk_get_be16(body) == SK_TCPOPT_FASTOPEN_MAGIC)
                parse_fastopen(out, body + 2, optlen - 4, true);
            break;
        case SK_TCPOPT_SACK:
            /* Linux accepts 2 + 8n bytes with n >= 1 and, in
             * tcp_sacktag_write_queue, uses at most TCP_NUM_SACKS (4)
             * blocks; in a 40-byte option area n cannot exceed 4. */
            if (optlen >= TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK &&
                (optlen - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_PERBLOCK == 0) {
                size_t blocks = (optlen - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_PERBLOCK;
                if (blocks > SK_SACK_MAX_BLOCKS)
                    blocks = SK_SACK_MAX_BLOCKS;
                for (size_t i = 0; i < blocks; i++) {
                    out->sack[i].start = sk_get_be32(body + i * TCPOLEN_SACK_PERBLOCK);
                    out->sack[i].end = sk_get_be32(body + i * TCPOLEN_SACK_PERBLOCK + 4);
                }
                for (size_t i = blocks; i < SK_SACK_MAX_BLOCKS; i++)
                    out->sack[i] = (sk_sack_block){0, 0};
                out->sack_count = (uint8_t)blocks;
            }
            break;
        default:
            /* Unknown kinds (MD5, Fast Open, experimental...) are skipped
             * by their length, as RFC 9293 §3.1 requires. */
            break;
        }
        pos += optlen;
    }
    return true;
}

/*
 * Checks follow the order of Linux's ip_rcv_core() and tcp_v4_rcv(), so a
 * datagram with several faults is refused for the reason Linux would count.
 * On SK_PARSE_BAD_TCP_CSUM every field of `out` is already filled, which
 * capture tools use to show what was refused.
 */
sk_parse_error sk_parse_segment(const uint8_t *dgram, size_t len, bool verify_csum, sk_segment *out)
{
    return sk_parse_segment_checked(dgram, len, verify_csum, verify_csum, out);
}

/* The IP header checksum is always Linux's to check (ip_rcv_core runs
 * ip_fast_csum on every datagram, loopback's too); the TCP checksum is
 * skipped when the device vouched for it (CHECKSUM_UNNECESSARY). */
/*
 * The options of a hop-by-hop or destination options header (RFC 8200
 * §4.2), checked as Linux's ip6_parse_tlv: padding is at most 7 bytes in
 * a row and PadN's bytes are zero (RFC 4942 §2.1.9.5), an option never
 * runs past its header, at most IPV6_MAX_TLV_OPTS others appear, and an
 * unknown option's two high bits say whether to skip it (00) or drop the
 * datagram (01, 10, 11: the ICMP Parameter Problem that 10 and 11 ask
 * for is not sent, since the stack answers TCP only).  A jumbo payload
 * option is refused: no link the stack runs on carries jumbograms.
 */
static bool ipv6_tlv_ok(const uint8_t *h, size_t hlen)
{
    size_t off = 2, pad = 0, count = 0;
    while (off < hlen) {
        uint8_t type = h[off];
        if (type == IPV6_OPT_PAD1) {
            if (++pad > 7)
                return false;
            off++;
            continue;
        }
        if (hlen - off < 2)
            return false;
        size_t optlen = (size_t)h[off + 1] + 2;
        if (optlen > hlen - off)
            return false;
        if (type == IPV6_OPT_PADN) {
            pad += optlen;
            if (pad > 7)
                return false;
            for (size_t i = 2; i < optlen; i++)
                if (h[off + i] != 0)
                    return false;
        } else {
            pad = 0;
            if (++count > IPV6_MAX_TLV_OPTS || type == IPV6_OPT_JUMBO || (type >> 6) != 0)
                return false;
        }
        off += optlen;
    }
    return true;
}

/*
 * The fixed header and the extension headers before the upper layer, in
 * the order Linux's ipv6_rcv_core and ip6_protocol_deliver_rcu take them.
 * Leaves out->ip_proto and out->l4_off at the upper layer; the caller
 * checks that it is TCP.
 */
static sk_parse_error parse_ipv6(const uint8_t *dgram, size_t len, sk_segment *out)
{
    if (len < SK_IP6_HDR_LEN)
        return SK_PARSE_TRUNCATED_IP;
    uint32_t w0 = sk_get_be32(dgram);
    size_t plen = sk_get_be16(dgram + 4);
    out->ip_version = 6;
    out->tos = (uint8_t)(w0 >> 20);
    out->flowlabel = w0 & 0xfffff;
    out->ttl = dgram[7];
    out->df = true;
    memcpy(out->src6, dgram + 8, 16);
    memcpy(out->dst6, dgram + 24, 16);
    /* Bytes past the payload length are link padding, trimmed as IPv4's. */
    if (plen > len - SK_IP6_HDR_LEN)
        return SK_PARSE_TRUNCATED_IP;
    out->ip_len = (uint32_t)(SK_IP6_HDR_LEN + plen);
    if (out->src6[0] == 0xff)
        return SK_PARSE_BAD_SRC_ADDR;

    size_t end = SK_IP6_HDR_LEN + plen, off = SK_IP6_HDR_LEN;
    uint8_t nh = dgram[6];
    for (bool first = true;; first = false) {
        out->ip_proto = nh;
        out->l4_off = (uint32_t)off;
        if (nh != IPV6_NH_HOPOPTS && nh != IPV6_NH_ROUTING && nh != IPV6_NH_FRAGMENT && nh != IPV6_NH_DSTOPTS)
            return SK_PARSE_OK;
        /* Hop-by-hop options only right after the fixed header (RFC 8200
         * §4.3); elsewhere Linux finds no handler for next header 0 and
         * counts an unknown protocol. */
        if (nh == IPV6_NH_HOPOPTS && !first)
            return SK_PARSE_NOT_TCP;
        if (end - off < 8)
            return SK_PARSE_BAD_EXTHDR;
        const uint8_t *h = dgram + off;
        size_t hlen = nh == IPV6_NH_FRAGMENT ? 8 : ((size_t)h[1] + 1) * 8;
        if (hlen > end - off)
            return SK_PARSE_BAD_EXTHDR;
        switch (nh) {
        case IPV6_NH_HOPOPTS:
        case IPV6_NH_DSTOPTS:
            if (!ipv6_tlv_ok(h, hlen))
                return SK_PARSE_BAD_EXTHDR;
            break;
        case IPV6_NH_ROUTING:
            /* RFC 8200 §4.4: with no segments left the header is ignored
             * whatever its type; otherwise this host would have to forward
             * the datagram, which an end host refuses (Linux answers a
             * Parameter Problem and counts a header error). */
            if (h[3] != 0)
                return SK_PARSE_BAD_EXTHDR;
            break;
        case IPV6_NH_FRAGMENT: {
            /* An atomic fragment (offset 0, no more fragments: RFC 6946)
             * is the whole datagram and is processed as such, as Linux
             * does; any other fragment needs reassembly, which the stack
             * does not do. */
            uint16_t fo = sk_get_be16(h + 2);
            if ((fo & IPV6_FRAG_OFFSET_MASK) || (fo & IPV6_FRAG_MF))
                return SK_PARSE_FRAGMENT;
            break;
        }
        }
        nh = h[0];
        off += hlen;
    }
}

static sk_parse_error parse_tcp(const uint8_t *tcp, size_t tcp_len, bool verify_tcp_csum, sk_segment *out);

/* The checksum (RFC 791 §3.1, RFC 1071) of an IPv4 header without
 * options, for a header being built, stored in place: every datagram out
 * pays for one, so the five 32-bit words are summed directly instead of
 * through the general loop.  2^32 and 2^16 are both 1 modulo 0xffff, so
 * folding the 64-bit sum 16 bits at a time gives the one's complement sum
 * of the ten 16-bit words; the words are summed as the host holds them and
 * the result stored the same way, which RFC 1071 §2(B) allows (byte
 * swapping commutes with one's complement addition), so neither the loads
 * nor the store swap bytes.  A header's sum is never zero (its first byte
 * is not), so there is no 0/0xffff ambiguity.  The checksum field must be
 * zero. */
static inline void ip4_put_hdr20_csum(uint8_t *ip)
{
    uint32_t w[5];
    memcpy(w, ip, sizeof w);
    uint64_t sum = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = (uint16_t)~sum;
    memcpy(ip + 10, &c, sizeof c);
}

/* Whether an IPv4 header without options sums to all ones, i.e. its
 * checksum is right: the check every arriving datagram pays for.  The one's
 * complement sum does not depend on byte order (RFC 1071 §2(B): summing
 * byte-swapped words gives the byte-swapped sum), and all ones reads the
 * same either way, so the header is summed as two 64-bit and one 32-bit
 * word in the machine's own order, with no byte swaps, carries added back
 * in, then folded to 16 bits.  2^64, 2^32 and 2^16 are all 1 modulo 0xffff.
 * Only a header of zeros sums to zero, and it is refused here (its version
 * nibble is wrong anyway). */
static inline bool ip4_hdr20_ok(const uint8_t *ip)
{
    uint64_t a, b;
    uint32_t c;
    memcpy(&a, ip, 8);
    memcpy(&b, ip + 8, 8);
    memcpy(&c, ip + 16, 4);
    uint64_t sum = a + b;
    sum += sum < a; /* end-around carry; the sum wrapped, so +1 cannot */
    sum += c;
    sum += sum < c;
    sum = (sum & 0xffffffffu) + (sum >> 32); /* below 2^33 */
    sum = (sum & 0xffff) + (sum >> 16);       /* below 0x30000 */
    sum = (sum & 0xffff) + (sum >> 16);       /* at most 0x10001 */
    sum = (sum & 0xffff) + (sum >> 16);       /* at most 0xffff */
    return sum == 0xffff;
}

static inline __attribute__((always_inline)) sk_parse_error parse_tcp_inline(const uint8_t *tcp, size_t tcp_len,
                                                                             bool verify_tcp_csum, sk_segment *out);

/* memset(out, 0, sizeof *out) for every datagram parsed, in pieces of 64
 * bytes: GCC clears such a piece with four vector stores, while the whole
 * 200-byte segment became a `rep stos` whose iterations and start-up cost
 * more than twice as much. */
_Static_assert(sizeof(sk_segment) <= 256, "segment_zero clears at most four pieces");
static inline void segment_zero(sk_segment *out)
{
    unsigned char *p = (unsigned char *)out;
    const size_t n = sizeof *out; /* every test below is decided at compile time */
    memset(p, 0, n < 64 ? n : 64);
    if (n > 64)
        memset(p + 64, 0, n - 64 < 64 ? n - 64 : 64);
    if (n > 128)
        memset(p + 128, 0, n - 128 < 64 ? n - 128 : 64);
    if (n > 192)
        memset(p + 192, 0, n - 192);
}

sk_parse_error sk_parse_segment_checked(const uint8_t *dgram, size_t len, bool verify_ip_csum, bool verify_tcp_csum,
                                        sk_segment *out)
{
    segment_zero(out);
    if (len >= 1 && (dgram[0] >> 4) == 6) {
        sk_parse_error e = parse_ipv6(dgram, len, out);
        if (e != SK_PARSE_OK)
            return e;
        if (out->ip_proto != IPV4_PROTO_TCP)
            return SK_PARSE_NOT_TCP;
        return parse_tcp(dgram + out->l4_off, out->ip_len - out->l4_off, verify_tcp_csum, out);
    }
    if (len < SK_IP_HDR_MIN)
        return SK_PARSE_TRUNCATED_IP;
    if ((dgram[0] >> 4) != 4)
        return SK_PARSE_BAD_VERSION;
    out->ip_version = 4;
    size_t ihl = (size_t)(dgram[0] & 0x0f) * 4;
    if (ihl < SK_IP_HDR_MIN)
        return SK_PARSE_BAD_IHL;
    if (ihl > len)
        return SK_PARSE_TRUNCATED_IP;
    if (verify_ip_csum &&
        !(ihl == SK_IP_HDR_MIN ? ip4_hdr20_ok(dgram) : sk_csum_fold(sk_csum_partial(dgram, ihl, 0)) == 0))
        return SK_PARSE_BAD_IP_CSUM;
    size_t ip_len = sk_get_be16(dgram + 2);
    /* Bytes past the total length are link-layer padding (an Ethernet
     * frame is at least 60 bytes) and are ignored, as Linux trims them. */
    if (ip_len > len || ip_len < ihl)
        return SK_PARSE_TRUNCATED_IP;

    uint16_t frag = sk_get_be16(dgram + 6);
    out->tos = dgram[1];
    out->ip_len = (uint16_t)ip_len;
    out->ip_id = sk_get_be16(dgram + 4);
    out->df = (frag & IPV4_FLAG_DF) != 0;
    out->ttl = dgram[8];
    out->src = sk_get_be32(dgram + 12);
    out->dst = sk_get_be32(dgram + 16);

    /* The engine does no reassembly; Linux would, but a user-space stack
     * on a raw path sees fragments only from broken or hostile peers. */
    if ((frag & IPV4_FLAG_MF) || (frag & IPV4_FRAG_OFFSET_MASK))
        return SK_PARSE_FRAGMENT;
    out->ip_proto = dgram[9];
    out->l4_off = (uint32_t)ihl;
    if (dgram[9] != IPV4_PROTO_TCP)
        return SK_PARSE_NOT_TCP;
    /* Inlined here, the IPv4 path every datagram takes: a call per segment
     * for nothing. */
    return parse_tcp_inline(dgram + ihl, ip_len - ihl, verify_tcp_csum, out);
}

/*
 * sk_inputv's fast path: a TCP datagram whose IP and TCP headers (with
 * options) all lie in the first piece and whose payload lies in one piece
 * is parsed where it lies, the payload pointing into its piece, so the
 * receive path copies it once (into a posted buffer or the receive ring).
 * Anything else -- headers split across pieces, IPv6 extension headers,
 * ICMP, a payload spread over several pieces -- returns false and the
 * caller gathers the pieces into one datagram.  Only header bytes inside
 * the first piece are ever read before that decision.
 */
bool sk_parse_segment_iov(const sk_iovec *iov, size_t n, size_t total, bool verify_tcp_csum, sk_segment *out,
                          sk_parse_error *err)
{
    if (n < 1 || !iov[0].base)
        return false;
    const uint8_t *h = iov[0].base;
    size_t h_len = iov[0].len, l4;
    if (h_len >= SK_IP_HDR_MIN && (h[0] >> 4) == 4) {
        l4 = (size_t)(h[0] & 0x0f) * 4;
        if (l4 < SK_IP_HDR_MIN || h[9] != IPV4_PROTO_TCP)
            return false;
    } else if (h_len >= SK_IP6_HDR_LEN && (h[0] >> 4) == 6) {
        l4 = SK_IP6_HDR_LEN;
        if (h[6] != IPV4_PROTO_TCP)
            return false;
    } else {
        return false;
    }
    if (h_len < l4 + SK_TCP_HDR_MIN)
        return false;
    size_t hdr = l4 + (size_t)(h[l4 + 12] >> 4) * 4;
    if (hdr < l4 + SK_TCP_HDR_MIN || hdr > h_len)
        return false;
    /* Every header byte the parser reads lies in the first piece; `total`
     * only bounds the lengths it checks. */
    sk_parse_error e = sk_parse_segment_checked(h, total, true, false, out);
    if (e != SK_PARSE_OK) {
        *err = e;
        return true;
    }
    if (out->l4_off + out->doff != hdr)
        return false; /* not the layout checked above: let the gathered parse judge */
    /* The payload: `payload_len` bytes at offset `hdr` of the pieces. */
    if (out->payload_len) {
        size_t off = hdr, i = 0;
        while (i < n && off >= iov[i].len) {
            off -= iov[i].len;
            i++;
        }
        if (i >= n || !iov[i].base || iov[i].len - off < out->payload_len)
            return false;
        out->payload = iov[i].base + off;
    }
    if (verify_tcp_csum) {
        /* The TCP header's length is a multiple of four, so the payload's
         * sum continues the header's at an even offset (RFC 1071). */
        size_t tcp_len = out->ip_len - out->l4_off;
        uint32_t sum = out->ip_version == 6 ? sk_tcp_pseudo_sum6(out->src6, out->dst6, tcp_len)
                                            : sk_tcp_pseudo_sum(out->src, out->dst, tcp_len);
        sum = sk_csum_partial(h + out->l4_off, out->doff, sum);
        sum = sk_csum_partial(out->payload, out->payload_len, sum);
        if (sk_csum_fold(sum) != 0) {
            *err = SK_PARSE_BAD_TCP_CSUM;
            return true;
        }
    }
    *err = SK_PARSE_OK;
    return true;
}

static sk_parse_error parse_tcp(const uint8_t *tcp, size_t tcp_len, bool verify_tcp_csum, sk_segment *out)
{
    return parse_tcp_inline(tcp, tcp_len, verify_tcp_csum, out);
}

static inline __attribute__((always_inline)) sk_parse_error parse_tcp_inline(const uint8_t *tcp, size_t tcp_len,
                                                                             bool verify_tcp_csum, sk_segment *out)
{
    if (tcp_len < SK_TCP_HDR_MIN)
        return SK_PARSE_TRUNCATED_TCP;
    uint16_t off_flags = sk_get_be16(tcp + 12);
    size_t doff = (size_t)(off_flags >> 12) * 4;
    if (doff < SK_TCP_HDR_MIN || doff > tcp_len)
        return SK_PARSE_BAD_DOFF;

    out->sport = sk_get_be16(tcp);
    out->dport = sk_get_be16(tcp + 2);
    out->seq = sk_get_be32(tcp + 4);
    out->ack = sk_get_be32(tcp + 8);
    out->flags = off_flags & TCP_FLAGS_MASK;
    out->window = sk_get_be16(tcp + 14);
    out->tcp_csum = sk_get_be16(tcp + 16);
    out->urg_ptr = sk_get_be16(tcp + 18);
    out->doff = (uint8_t)doff;
    out->options = tcp + SK_TCP_HDR_MIN;
    out->options_len = doff - SK_TCP_HDR_MIN;
    out->payload = tcp + doff;
    out->payload_len = tcp_len - doff;

    if (verify_tcp_csum) {
        uint16_t c = out->ip_version == 6 ? sk_tcp_checksum6(out->src6, out->dst6, tcp, tcp_len)
                                          : sk_tcp_checksum(out->src, out->dst, tcp, tcp_len);
        if (c != 0)
            return SK_PARSE_BAD_TCP_CSUM;
    }
    /* Linux's tcp_fast_parse_options: after the handshake nearly every
     * segment carries exactly NOP, NOP, timestamps (RFC 7323 Appendix A's
     * layout), read here without the general walk; out->opts is still
     * zero from the memset above, so the result is the walk's. */
    const uint8_t *o = out->options;
    if (out->options_len == 12 && o[0] == SK_TCPOPT_NOP && o[1] == SK_TCPOPT_NOP && o[2] == SK_TCPOPT_TIMESTAMP &&
        o[3] == TCPOLEN_TIMESTAMP) {
        out->opts.fo_len = -1;
        out->opts.has_ts = true;
        out->opts.ts_val = sk_get_be32(o + 4);
        out->opts.ts_ecr = sk_get_be32(o + 8);
        return SK_PARSE_OK;
    }
    /* A malformed option ends the option walk, not the segment: Linux's
     * tcp_parse_options returns with what it parsed, uncounted. */
    (void)sk_parse_options(out->options, out->options_len, &out->opts);
    return SK_PARSE_OK;
}

static void write_tcp(const sk_segment_spec *spec, uint8_t *tcp, size_t tcp_hdr_len, const sk_iovec *pay,
                      size_t npay, bool copy);

size_t sk_build_segment(const sk_segment_spec *spec, uint8_t *buf, size_t cap)
{
    sk_iovec pay = {spec->payload, spec->payload_len};
    size_t hdr;
    return sk_build_segment_iov(spec, &pay, spec->payload_len ? 1 : 0, true, buf, cap, &hdr);
}

size_t sk_build_segment_iov(const sk_segment_spec *spec, const sk_iovec *pay, size_t npay, bool copy, uint8_t *buf,
                            size_t cap, size_t *hdr_len)
{
    if (spec->options_len > SK_TCP_OPT_MAX || spec->options_len % 4 != 0)
        return 0;
    bool v6 = spec->ip_version == 6;
    size_t ip_hdr_len = v6 ? SK_IP6_HDR_LEN : SK_IP_HDR_MIN;
    size_t tcp_hdr_len = SK_TCP_HDR_MIN + spec->options_len;
    /* IPv4's total length and IPv6's payload length are both 16 bits. */
    if (spec->payload_len > 0xffff - (v6 ? 0 : SK_IP_HDR_MIN) - tcp_hdr_len)
        return 0;
    size_t total = ip_hdr_len + tcp_hdr_len + spec->payload_len;
    if ((copy ? total : ip_hdr_len + tcp_hdr_len) > cap)
        return 0;
    *hdr_len = ip_hdr_len + tcp_hdr_len;

    uint8_t *ip = buf;
    if (v6) {
        /* The stack sends no extension headers. */
        sk_put_be32(ip, 6u << 28 | (uint32_t)spec->tos << 20 | (spec->flowlabel & 0xfffff));
        sk_put_be16(ip + 4, (uint16_t)(total - SK_IP6_HDR_LEN));
        ip[6] = IPV4_PROTO_TCP;
        ip[7] = spec->ttl ? spec->ttl : DEFAULT_TTL;
        memcpy(ip + 8, spec->src6, 16);
        memcpy(ip + 24, spec->dst6, 16);
    } else {
        ip[0] = 0x45; /* version 4, IHL 5: the stack sends no IP options */
        ip[1] = spec->tos;
        sk_put_be16(ip + 2, (uint16_t)total);
        sk_put_be16(ip + 4, spec->ip_id);
        sk_put_be16(ip + 6, spec->df ? IPV4_FLAG_DF : 0);
        ip[8] = spec->ttl ? spec->ttl : DEFAULT_TTL;
        ip[9] = IPV4_PROTO_TCP;
        sk_put_be16(ip + 10, 0);
        sk_put_be32(ip + 12, spec->src);
        sk_put_be32(ip + 16, spec->dst);
        ip4_put_hdr20_csum(ip);
    }
    /* One call site, so the compiler folds write_tcp in here. */
    write_tcp(spec, buf + ip_hdr_len, tcp_hdr_len, pay, npay, copy);
    return total;
}

/* The one's-complement sum of pieces that follow `off` bytes already
 * summed: a piece starting at an odd offset has its bytes in the other
 * lanes, so its own sum is byte-swapped before it is added (RFC 1071
 * §2(B), byte order independence). */
static uint32_t csum_pieces(const sk_iovec *pay, size_t npay, size_t off, uint32_t sum)
{
    for (size_t i = 0; i < npay; i++) {
        if (off & 1) {
            uint32_t p = sk_csum_partial(pay[i].base, pay[i].len, 0);
            p = (p & 0xffff) + (p >> 16);
            sum += ((p & 0xff) << 8) | ((p >> 8) & 0xff);
            sum = (sum & 0xffff) + (sum >> 16);
        } else {
            sum = sk_csum_partial(pay[i].base, pay[i].len, sum);
        }
        off += pay[i].len;
    }
    return sum;
}

static void write_tcp(const sk_segment_spec *spec, uint8_t *tcp, size_t tcp_hdr_len, const sk_iovec *pay,
                      size_t npay, bool copy)
{
    sk_put_be16(tcp, spec->sport);
    sk_put_be16(tcp + 2, spec->dport);
    sk_put_be32(tcp + 4, spec->seq);
    sk_put_be32(tcp + 8, spec->ack);
    sk_put_be16(tcp + 12, (uint16_t)(((tcp_hdr_len / 4) << 12) | (spec->flags & TCP_FLAGS_MASK)));
    sk_put_be16(tcp + 14, spec->window);
    sk_put_be16(tcp + 16, 0);
    sk_put_be16(tcp + 18, 0);
    /* A caller may have written the options in place already. */
    if (spec->options_len && spec->options != tcp + SK_TCP_HDR_MIN)
        memcpy(tcp + SK_TCP_HDR_MIN, spec->options, spec->options_len);
    if (copy) {
        uint8_t *p = tcp + tcp_hdr_len;
        for (size_t i = 0; i < npay; i++) {
            memcpy(p, pay[i].base, pay[i].len);
            p += pay[i].len;
        }
    }
    size_t tcp_len = tcp_hdr_len + spec->payload_len;
    bool v6 = spec->ip_version == 6;
    uint32_t ps = v6 ? sk_tcp_pseudo_sum6(spec->src6, spec->dst6, tcp_len)
                     : sk_tcp_pseudo_sum(spec->src, spec->dst, tcp_len);
    if (spec->csum_partial) {
        /* CHECKSUM_PARTIAL (Linux's tcp_v4_send_check, tcp_v6_send_check):
         * the field holds the pseudo-header's sum, and a device summing the
         * segment from there completes the checksum; a trusted link may
         * leave it as it is. */
        sk_put_be16(tcp + 16, (uint16_t)~sk_csum_fold16(ps));
    } else if (copy) {
        sk_put_be16(tcp + 16, sk_csum_fold16(sk_csum_partial(tcp, tcp_len, ps)));
    } else {
        /* Scatter-gather: the payload stays where it is, so its sum is
         * taken piece by piece after the header's. */
        uint32_t sum = sk_csum_partial(tcp, tcp_hdr_len, ps);
        sk_put_be16(tcp + 16, sk_csum_fold16(csum_pieces(pay, npay, tcp_hdr_len, sum)));
    }
}
