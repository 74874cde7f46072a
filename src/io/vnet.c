/*
 * The virtio-net header (vnet.h).
 *
 * What the Linux TUN driver writes before a datagram it hands to the
 * reader (tun_put_user → virtio_net_hdr_from_skb): NEEDS_CSUM with the
 * checksum's start and offset for a CHECKSUM_PARTIAL skb (what the host's
 * own TCP sends when the device offers checksum offload), DATA_VALID for
 * CHECKSUM_UNNECESSARY, and for a GSO skb its type and gso_size.  What it
 * takes from the writer (tun_get_user → virtio_net_hdr_to_skb) is the
 * same header the other way: synack asks for NEEDS_CSUM over its TCP
 * checksum field and sends no GSO.
 */
#include "vnet.h"

#include "synack/packet.h"

#include <string.h>

#include "io_bytes.h"

/* The transport protocol and where its header starts, for an unfragmented
 * IPv4 datagram or an IPv6 one without extension headers; -1 otherwise. */
static int transport(const uint8_t *d, size_t len, size_t *off, size_t *end)
{
    if (len < 1)
        return -1;
    unsigned version = d[0] >> 4;
    if (version == 4) {
        if (len < 20)
            return -1;
        size_t ihl = (size_t)(d[0] & 0x0f) * 4;
        size_t tot = io_be16(d + 2);
        if (ihl < 20 || tot < ihl || tot > len)
            return -1;
        if (io_be16(d + 6) & 0x3fff) /* MF or a fragment offset */
            return -1;
        *off = ihl;
        *end = tot;
        return d[9];
    }
    if (version == 6) {
        if (len < 40)
            return -1;
        size_t tot = 40 + (size_t)io_be16(d + 4);
        if (tot > len)
            return -1;
        *off = 40;
        *end = tot;
        return d[6];
    }
    return -1;
}

sk_vnet_error sk_vnet_parse(const uint8_t *frame, size_t len, sk_vnet_rx *out)
{
    memset(out, 0, sizeof(*out));
    if (len <= SK_VNET_HDR_LEN)
        return SK_VNET_SHORT;
    uint8_t flags = frame[0];
    uint8_t gso_type = frame[1];
    uint16_t gso_size = io_le16(frame + 4);
    uint16_t csum_start = io_le16(frame + 6);
    uint16_t csum_offset = io_le16(frame + 8);
    const uint8_t *d = frame + SK_VNET_HDR_LEN;
    size_t dlen = len - SK_VNET_HDR_LEN;

    /* RSC_INFO is only for devices that negotiated it; anything else is
     * a header this reader cannot interpret. */
    if (flags & ~(SK_VNET_F_NEEDS_CSUM | SK_VNET_F_DATA_VALID))
        return SK_VNET_BAD_FLAGS;
    if (flags & SK_VNET_F_NEEDS_CSUM) {
        /* The two bytes of the checksum field lie inside the datagram
         * (virtio_net_hdr_to_skb's skb_partial_csum_set check). */
        if ((size_t)csum_start + csum_offset + 2 > dlen)
            return SK_VNET_BAD_CSUM_SPAN;
        out->csum = SK_VNET_CSUM_PARTIAL;
    } else if (flags & SK_VNET_F_DATA_VALID) {
        out->csum = SK_VNET_CSUM_VALID;
    }
    unsigned type = gso_type & ~SK_VNET_GSO_ECN;
    if (type != SK_VNET_GSO_NONE) {
        size_t off, end;
        int proto = transport(d, dlen, &off, &end);
        unsigned version = d[0] >> 4;
        /* Only TCP super-segments were asked for (TUN_F_TSO4/TSO6), and a
         * GSO datagram always has its checksum left partial. */
        if (gso_size == 0 || proto != 6 || !(flags & SK_VNET_F_NEEDS_CSUM) ||
            (type == SK_VNET_GSO_TCPV4 && version != 4) || (type == SK_VNET_GSO_TCPV6 && version != 6) ||
            (type != SK_VNET_GSO_TCPV4 && type != SK_VNET_GSO_TCPV6))
            return SK_VNET_BAD_GSO;
        out->gso_size = gso_size;
    } else if (gso_type & SK_VNET_GSO_ECN) {
        return SK_VNET_BAD_GSO;
    }
    out->dgram = d;
    out->len = dlen;
    out->csum_start = csum_start;
    out->csum_offset = csum_offset;
    return SK_VNET_OK;
}

void sk_vnet_build(uint8_t hdr[SK_VNET_HDR_LEN], const uint8_t *dgram, size_t len)
{
    memset(hdr, 0, SK_VNET_HDR_LEN);
    size_t off, end;
    if (transport(dgram, len, &off, &end) == 6 && off + 20 <= end) {
        hdr[0] = SK_VNET_F_NEEDS_CSUM;
        io_put_le16(hdr + 6, (uint16_t)off);
        io_put_le16(hdr + 8, 16); /* offsetof(struct tcphdr, check) */
    }
}

#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u

/* Header lengths of a TCP datagram that may go in a super-segment: IPv4
 * without options and not a fragment, or IPv6 whose next header is TCP
 * (no extension headers, which Linux's TSO would copy to every segment).
 * The whole, or 0; *ip the IP header's length. */
static size_t tcp_headers(const uint8_t *d, size_t len, size_t *ip)
{
    if (len < 40)
        return 0;
    if (d[0] == 0x45) {
        if (d[9] != 6 || io_be16(d + 2) != len || (io_be16(d + 6) & 0x3fff))
            return 0;
        *ip = 20;
    } else if ((d[0] >> 4) == 6) {
        if (len < 60 || d[6] != 6 || 40 + (size_t)io_be16(d + 4) != len)
            return 0;
        *ip = 40;
    } else {
        return 0;
    }
    size_t thl = (size_t)(d[*ip + 12] >> 4) * 4;
    if (thl < 20 || *ip + thl > len)
        return 0;
    return *ip + thl;
}

size_t sk_vnet_gso_first(const uint8_t *d, size_t len)
{
    sk_vnet_gso_run r;
    return sk_vnet_gso_begin(&r, d, len);
}

uint8_t sk_vnet_tcp_flags(const uint8_t *d)
{
    return d[((d[0] >> 4) == 6 ? 40 : 20) + 13];
}

size_t sk_vnet_gso_begin(sk_vnet_gso_run *r, const uint8_t *d, size_t len)
{
    size_t ip = 0, h = tcp_headers(d, len, &ip);
    /* CWR belongs to the first segment alone: Linux's GSO would copy it
     * to every one, so a segment with it is sent as it is. */
    if (!h || len == h || (d[ip + 13] & 0xbf) != TCP_ACK || (d[ip + 12] & 0x0f))
        return 0;
    r->first = d;
    r->ip = ip;
    r->h = h;
    r->gso_size = len - h;
    r->total = len;
    r->payload = len - h;
    r->next_seq = io_be32(d + ip + 4) + (uint32_t)(len - h);
    r->last_flags = d[ip + 13];
    r->open = true;
    return len - h;
}

/* Each segment is compared with the first, not the one before: the
 * fields that must match are equal along the whole run, so that is the
 * same test, and what the previous segment contributes (where it ends,
 * whether it was full-sized with ACK alone) is kept in the run. */
bool sk_vnet_gso_extend(sk_vnet_gso_run *r, const uint8_t *next, size_t next_len)
{
    size_t nip = 0;
    const uint8_t *first = r->first;
    size_t ip = r->ip, h = r->h;
    if (!r->open || tcp_headers(next, next_len, &nip) != h || nip != ip || next_len == h)
        return false;
    /* The whole super-segment's IP length fits 16 bits (IPv4's total
     * length; for IPv6 held to the same, below the payload length's
     * limit, as without BIG TCP Linux keeps a GSO packet within 64 KiB). */
    if (r->total + next_len - h > 65535 || next_len - h > r->gso_size)
        return false;
    if (ip == 20) {
        /* tos, DF, TTL, protocol, addresses: everything but length, ID
         * and checksum. */
        if (first[1] != next[1] || first[6] != next[6] || first[7] != next[7] || first[8] != next[8] ||
            memcmp(first + 12, next + 12, 8))
            return false;
    } else {
        /* Traffic class and flow label, next header, hop limit and the
         * addresses: everything but the payload length. */
        if (memcmp(first, next, 4) || memcmp(first + 6, next + 6, 34))
            return false;
    }
    const uint8_t *ft = first + ip, *nt = next + ip;
    if (io_be32(nt + 4) != r->next_seq)
        return false;
    /* Ports, then ACK, offset, window and options; not the checksum or
     * the urgent pointer, which carry nothing with URG clear. */
    if (memcmp(ft, nt, 4) || memcmp(ft + 8, nt + 8, 4) || ft[12] != nt[12] || memcmp(ft + 14, nt + 14, 2) ||
        memcmp(ft + 20, nt + 20, h - ip - 20))
        return false;
    /* ECE the same on all (it is copied to each segment); CWR on none. */
    if ((nt[13] & 0xbf & ~(TCP_PSH | TCP_FIN)) != TCP_ACK || (ft[13] & 0x40) != (nt[13] & 0x40))
        return false;
    size_t payload = next_len - h;
    r->total += payload;
    r->payload += payload;
    r->next_seq += (uint32_t)payload;
    r->last_flags = nt[13];
    /* Only a full-sized segment with ACK alone (and ECE) can be followed. */
    r->open = payload == r->gso_size && (nt[13] & 0xbf) == TCP_ACK;
    return true;
}

bool sk_vnet_gso_continues(const uint8_t *prev, size_t prev_len, const uint8_t *next, size_t next_len,
                           size_t gso_size, size_t total)
{
    sk_vnet_gso_run r;
    size_t seg = sk_vnet_gso_begin(&r, prev, prev_len);
    if (!seg || seg != gso_size)
        return false;
    r.total = total;
    return sk_vnet_gso_extend(&r, next, next_len);
}

size_t sk_vnet_gso_header(uint8_t *out, const uint8_t *first, size_t payload, uint8_t last_flags,
                          uint16_t gso_size)
{
    bool v6 = (first[0] >> 4) == 6;
    size_t ip_len = 0, h = tcp_headers(first, v6 ? 40 + (size_t)io_be16(first + 4) : io_be16(first + 2), &ip_len);
    uint8_t *ip = out + SK_VNET_HDR_LEN, *tcp = ip + ip_len;
    memcpy(ip, first, h);
    size_t tot = h + payload;
    if (v6) {
        /* No IP checksum; tcp_gso_segment rewrites each segment's
         * payload length from the header's. */
        io_put_be16(ip + 4, (uint16_t)(tot - 40));
    } else {
        io_put_be16(ip + 2, (uint16_t)tot);
        ip[10] = ip[11] = 0;
        io_put_be16(ip + 10, sk_csum_fold(sk_csum_partial(ip, 20, 0)));
    }
    tcp[13] = (uint8_t)((tcp[13] & ~(TCP_PSH | TCP_FIN)) | (last_flags & (TCP_PSH | TCP_FIN)));
    /* CHECKSUM_PARTIAL for the whole: the pseudo-header's sum over the
     * super-segment's TCP length (RFC 793's for IPv4, RFC 8200 §8.1's for
     * IPv6), which tcp_gso_segment adjusts per segment and a local
     * receiver trusts as it is. */
    size_t tcp_len = tot - ip_len;
    uint32_t ps = v6 ? sk_csum_partial(ip + 8, 32, 6u + (uint32_t)tcp_len)
                     : sk_csum_partial(ip + 12, 8, 6u + (uint32_t)tcp_len);
    io_put_be16(tcp + 16, (uint16_t)ps);
    uint8_t *v = out;
    memset(v, 0, SK_VNET_HDR_LEN);
    v[0] = SK_VNET_F_NEEDS_CSUM;
    v[1] = v6 ? SK_VNET_GSO_TCPV6 : SK_VNET_GSO_TCPV4;
    io_put_le16(v + 2, (uint16_t)h);
    io_put_le16(v + 4, gso_size);
    io_put_le16(v + 6, (uint16_t)ip_len);
    io_put_le16(v + 8, 16);
    return SK_VNET_HDR_LEN + h;
}

bool sk_vnet_tcp_csum_ok(const uint8_t *d, size_t len)
{
    size_t off, end;
    if (transport(d, len, &off, &end) != 6 || end - off < 20)
        return true;
    uint16_t c = (d[0] >> 4) == 4 ? sk_tcp_checksum(io_be32(d + 12), io_be32(d + 16), d + off, end - off)
                                  : sk_tcp_checksum6(d + 8, d + 24, d + off, end - off);
    return c == 0;
}

void sk_vnet_complete_csum(uint8_t *d, size_t len, uint16_t csum_start, uint16_t csum_offset)
{
    if ((size_t)csum_start + csum_offset + 2 > len)
        return;
    uint16_t c = sk_csum_fold(sk_csum_partial(d + csum_start, len - csum_start, 0));
    io_put_be16(d + csum_start + csum_offset, c);
}
