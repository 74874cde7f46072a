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

#include <string.h>

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

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
        size_t tot = (size_t)((d[2] << 8) | d[3]);
        if (ihl < 20 || tot < ihl || tot > len)
            return -1;
        if (((d[6] << 8) | d[7]) & 0x3fff) /* MF or a fragment offset */
            return -1;
        *off = ihl;
        *end = tot;
        return d[9];
    }
    if (version == 6) {
        if (len < 40)
            return -1;
        size_t tot = 40 + (size_t)((d[4] << 8) | d[5]);
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
    uint16_t gso_size = le16(frame + 4);
    uint16_t csum_start = le16(frame + 6);
    uint16_t csum_offset = le16(frame + 8);
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
        put_le16(hdr + 6, (uint16_t)off);
        put_le16(hdr + 8, 16); /* offsetof(struct tcphdr, check) */
    }
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
    uint64_t s = acc;
    for (; n >= 2; p += 2, n -= 2)
        s += (uint32_t)((p[0] << 8) | p[1]);
    if (n)
        s += (uint32_t)(p[0] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

bool sk_vnet_tcp_csum_ok(const uint8_t *d, size_t len)
{
    size_t off, end;
    if (transport(d, len, &off, &end) != 6 || end - off < 20)
        return true;
    size_t tcp_len = end - off;
    uint32_t s;
    if ((d[0] >> 4) == 4)
        s = sum16(d + 12, 8, 0); /* source and destination */
    else
        s = sum16(d + 8, 32, 0);
    s += 6u + (uint32_t)(tcp_len & 0xffff) + (uint32_t)(tcp_len >> 16);
    s = sum16(d + off, tcp_len, s);
    return s == 0xffff;
}

void sk_vnet_complete_csum(uint8_t *d, size_t len, uint16_t csum_start, uint16_t csum_offset)
{
    if ((size_t)csum_start + csum_offset + 2 > len)
        return;
    uint16_t c = (uint16_t)~sum16(d + csum_start, len - csum_start, 0);
    d[csum_start + csum_offset] = (uint8_t)(c >> 8);
    d[csum_start + csum_offset + 1] = (uint8_t)c;
}
