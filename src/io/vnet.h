/*
 * The virtio-net header a TUN device with IFF_VNET_HDR puts before each
 * datagram (struct virtio_net_hdr, 10 bytes, little-endian on the hosts
 * TUN's legacy header is native to), read and written without trusting
 * the reader's side: what comes from the device is checked field by field
 * and a header that does not describe its datagram is refused, never
 * followed.
 */
#ifndef SYNACK_IO_VNET_H
#define SYNACK_IO_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SK_VNET_HDR_LEN 10

/* The header's fields (linux/virtio_net.h). */
#define SK_VNET_F_NEEDS_CSUM 0x1u
#define SK_VNET_F_DATA_VALID 0x2u
#define SK_VNET_F_RSC_INFO 0x4u
#define SK_VNET_GSO_NONE 0u
#define SK_VNET_GSO_TCPV4 1u
#define SK_VNET_GSO_UDP 3u
#define SK_VNET_GSO_TCPV6 4u
#define SK_VNET_GSO_UDP_L4 5u
#define SK_VNET_GSO_ECN 0x80u

/* What a received header says of its datagram's TCP checksum. */
typedef enum sk_vnet_csum {
    SK_VNET_CSUM_NONE,    /* nothing: the receiver verifies (CHECKSUM_NONE) */
    SK_VNET_CSUM_VALID,   /* the device verified it (CHECKSUM_UNNECESSARY)   */
    SK_VNET_CSUM_PARTIAL, /* sent by the host itself, the field holds the
                             pseudo-header's sum (CHECKSUM_PARTIAL): as
                             trustworthy as loopback, Linux does not check it */
} sk_vnet_csum;

/* Why a frame was refused. */
typedef enum sk_vnet_error {
    SK_VNET_OK = 0,
    SK_VNET_SHORT,         /* shorter than the header, or nothing after it     */
    SK_VNET_BAD_FLAGS,     /* a flag this reader never asked for             */
    SK_VNET_BAD_GSO,       /* an unknown GSO type, or GSO without a size, or
                              GSO on a datagram that is not TCP of that family */
    SK_VNET_BAD_CSUM_SPAN, /* NEEDS_CSUM with start/offset outside the datagram */
} sk_vnet_error;

typedef struct sk_vnet_rx {
    const uint8_t *dgram; /* the IP datagram after the header */
    size_t len;
    sk_vnet_csum csum;
    uint16_t gso_size; /* 0, or the MSS of a super-segment (TSO/GRO) */
    uint16_t csum_start, csum_offset;
} sk_vnet_rx;

/* Parses one frame read from the device. */
sk_vnet_error sk_vnet_parse(const uint8_t *frame, size_t len, sk_vnet_rx *out);

/* Writes the header for a datagram synack sends: NEEDS_CSUM over the TCP
 * header's checksum field when the datagram is TCP (the stack left the
 * pseudo-header's sum there, SK_OFFLOAD_TCP_CSUM_TX), nothing otherwise. */
void sk_vnet_build(uint8_t hdr[SK_VNET_HDR_LEN], const uint8_t *dgram, size_t len);

/* Transmit-side coalescing, GRO's rules the other way round: consecutive
 * segments synack sent on one connection in one wakeup are written as one
 * TCP super-segment (gso_type TCPV4 or TCPV6, gso_size the first one's
 * payload),
 * which the kernel delivers whole to a local socket or splits when it
 * forwards (tcp_gso_segment), as a NIC with TSO would. */
#define SK_VNET_GSO_MAX_SEGS 64

/* The payload length of `d` if it may start a super-segment: an IPv4
 * datagram without IP options, not a fragment, or an IPv6 one without
 * extension headers, carrying TCP with payload and only ACK set (PSH or
 * FIN only end one).  0 otherwise. */
size_t sk_vnet_gso_first(const uint8_t *d, size_t len);
/* The TCP flags byte of a datagram sk_vnet_gso_first took. */
uint8_t sk_vnet_tcp_flags(const uint8_t *d);
/* Whether `next` continues `prev` in a super-segment whose segments carry
 * gso_size bytes each (the last may carry less) and whose datagrams so far
 * add up to `total` bytes: the same IP version and header apart from
 * length, ID and checksum; the same ports, ACK, window and options; the next sequence
 * number; `prev` full-sized with only ACK set; `next` with ACK and perhaps
 * PSH or FIN; and the whole within 64 KiB. */
bool sk_vnet_gso_continues(const uint8_t *prev, size_t prev_len, const uint8_t *next, size_t next_len,
                           size_t gso_size, size_t total);
/* A super-segment being assembled: each datagram's headers are parsed
 * once, as it is added, never again as the previous one. */
typedef struct sk_vnet_gso_run {
    const uint8_t *first; /* the first datagram (its headers are the run's) */
    size_t ip, h;         /* the IP header's length; IP and TCP headers'    */
    size_t gso_size;      /* the first datagram's payload                   */
    size_t total;         /* the datagrams so far, first's headers included */
    size_t payload;       /* their payload                                  */
    uint32_t next_seq;    /* where the next segment must start              */
    uint8_t last_flags;   /* the last one's TCP flags                       */
    bool open;            /* the last one was full-sized with ACK alone      */
} sk_vnet_gso_run;
/* Starts a run at `d` when sk_vnet_gso_first would take it; returns its
 * payload length (the run's gso_size), or 0 (the run is then unset). */
size_t sk_vnet_gso_begin(sk_vnet_gso_run *r, const uint8_t *d, size_t len);
/* Adds `next` to the run when it continues it by sk_vnet_gso_continues's
 * rules; returns whether it did. */
bool sk_vnet_gso_extend(sk_vnet_gso_run *r, const uint8_t *next, size_t next_len);
/* Writes the virtio-net header and the IP and TCP headers of the super-
 * segment made of `first` (its headers) and `payload` bytes in all, the
 * last segment's flags in `last_flags`: total length, IP checksum and the
 * TCP pseudo-header sum for the whole (left partial, NEEDS_CSUM).  Returns
 * the bytes written (SK_VNET_HDR_LEN + the headers); `out` needs
 * SK_VNET_HDR_LEN + 120. */
size_t sk_vnet_gso_header(uint8_t *out, const uint8_t *first, size_t payload, uint8_t last_flags,
                          uint16_t gso_size);

/* Whether a TCP datagram's checksum is right, computed in software (for
 * frames the device did not vouch for) by sk_tcp_checksum or
 * sk_tcp_checksum6.  True for what is not TCP, or is
 * too short or fragmented to tell: the stack's own checks judge those. */
bool sk_vnet_tcp_csum_ok(const uint8_t *dgram, size_t len);

/* Completes a NEEDS_CSUM checksum as the kernel does: the one's-complement
 * sum from csum_start to the end, folded, stored at csum_start +
 * csum_offset.  For tests and captures. */
void sk_vnet_complete_csum(uint8_t *dgram, size_t len, uint16_t csum_start, uint16_t csum_offset);

#endif
