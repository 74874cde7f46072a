/*
 * IPv4/IPv6 + TCP wire format: parsing, building and checksums.
 *
 * Used by the engine and by the tools (trace, pcap, script runner), so a
 * datagram is decoded one way everywhere.
 */
#ifndef SYNACK_PACKET_H
#define SYNACK_PACKET_H

#include "synack/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TCP flag bits as they sit in the 16-bit word holding data offset and
 * flags (RFC 9293 §3.1, RFC 3168 for CWR/ECE, RFC 3540 for NS). */
#define SK_TH_FIN 0x001
#define SK_TH_SYN 0x002
#define SK_TH_RST 0x004
#define SK_TH_PSH 0x008
#define SK_TH_ACK 0x010
#define SK_TH_URG 0x020
#define SK_TH_ECE 0x040
#define SK_TH_CWR 0x080
#define SK_TH_NS 0x100

#define SK_IP_HDR_MIN 20
#define SK_IP6_HDR_LEN 40 /* the fixed IPv6 header (RFC 8200 §3) */
#define SK_TCP_HDR_MIN 20
#define SK_TCP_OPT_MAX 40
#define SK_SACK_MAX_BLOCKS 4

/* TCP option kinds */
#define SK_TCPOPT_EOL 0
#define SK_TCPOPT_NOP 1
#define SK_TCPOPT_MSS 2
#define SK_TCPOPT_WSCALE 3
#define SK_TCPOPT_SACK_PERM 4
#define SK_TCPOPT_SACK 5
#define SK_TCPOPT_TIMESTAMP 8
#define SK_TCPOPT_FASTOPEN 34 /* RFC 7413 */
#define SK_TCPOPT_EXP 254     /* RFC 6994 experimental; Fast Open before kind 34 */
#define SK_TCPOPT_FASTOPEN_MAGIC 0xF989
#define SK_TFO_COOKIE_MIN 4
#define SK_TFO_COOKIE_MAX 16

typedef struct sk_sack_block {
    uint32_t start, end;
} sk_sack_block;

/* Decoded TCP options.  `has_*` says the option was present. */
typedef struct sk_tcp_opts {
    bool has_mss, has_wscale, sack_permitted, has_ts;
    uint16_t mss;
    uint8_t wscale;
    uint8_t sack_count;
    uint32_t ts_val, ts_ecr;
    sk_sack_block sack[SK_SACK_MAX_BLOCKS];
    /* Fast Open (kind 34, or kind 254 with magic 0xF989: fo_exp), read as
     * Linux's tcp_parse_fastopen_option: fo_len is -1 when absent or
     * malformed (odd, or 1..3 or over 16 bytes), 0 for a cookie request,
     * else the cookie's length. */
    int8_t fo_len;
    bool fo_exp;
    uint8_t fo_cookie[SK_TFO_COOKIE_MAX];
} sk_tcp_opts;

/* A parsed segment.  Pointers refer into the caller's datagram. */
typedef struct sk_segment {
    uint8_t ip_version;   /* 4 or 6 */
    /* IPv4 addresses, host byte order (0 for IPv6) */
    uint32_t src, dst;
    /* IPv6 addresses, network byte order (zero for IPv4) */
    uint8_t src6[16], dst6[16];
    uint32_t flowlabel;   /* IPv6 flow label (20 bits) */
    uint8_t ttl, tos;     /* IPv6: hop limit and traffic class */
    uint16_t ip_id;
    bool df;              /* IPv6: always true (routers never fragment it) */
    uint32_t ip_len;      /* total length: for IPv6, 40 + the payload length */
    /* The upper-layer protocol (6 for TCP) and where its header starts,
     * after IPv6 extension headers: also filled on SK_PARSE_NOT_TCP so
     * the caller can hand ICMP to its own parser. */
    uint8_t ip_proto;
    uint32_t l4_off;
    /* TCP */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t flags;       /* SK_TH_* */
    uint16_t window;      /* raw, unscaled */
    uint16_t urg_ptr;
    uint16_t tcp_csum;
    uint8_t doff;         /* TCP header length in bytes */
    const uint8_t *options; /* raw option bytes, doff - 20 of them */
    size_t options_len;
    sk_tcp_opts opts;
    const uint8_t *payload;
    size_t payload_len;
} sk_segment;

/* Why a datagram was refused.  Each maps to a counter (see
 * sk_parse_error_counter) so every drop is counted under a name. */
typedef enum sk_parse_error {
    SK_PARSE_OK = 0,
    SK_PARSE_TRUNCATED_IP,     /* shorter than an IPv4 header or its IHL/total length */
    SK_PARSE_BAD_VERSION,      /* not IPv4                                            */
    SK_PARSE_BAD_IHL,          /* IHL < 5                                             */
    SK_PARSE_BAD_IP_CSUM,      /* IPv4 header checksum wrong                          */
    SK_PARSE_FRAGMENT,         /* MF set or fragment offset != 0                      */
    SK_PARSE_NOT_TCP,          /* protocol field is not 6                             */
    SK_PARSE_TRUNCATED_TCP,    /* less than 20 bytes of TCP header                    */
    SK_PARSE_BAD_DOFF,         /* data offset < 5 or past the end of the datagram     */
    SK_PARSE_BAD_TCP_CSUM,     /* TCP checksum (with pseudo-header) wrong             */
    SK_PARSE_BAD_EXTHDR,       /* IPv6 extension header malformed, misplaced or with
                                  an option that asks for the datagram to be dropped */
    SK_PARSE_BAD_SRC_ADDR,     /* IPv6 source address multicast (RFC 4291 §2.7)      */
} sk_parse_error;

/* Parses and validates an IPv4 or IPv6 datagram carrying TCP.  IPv6
 * extension headers (hop-by-hop, routing with no segments left, an atomic
 * fragment header, destination options) are walked as Linux's ipv6_rcv
 * and ip6_input walk them.  When verify_csum is false checksums are not
 * checked (for capture tools). */
SK_EXPORT sk_parse_error sk_parse_segment(const uint8_t *dgram, size_t len, bool verify_csum, sk_segment *out);
/* A short name for logs ("ok", "truncated-ip", "bad-ip-checksum", ...). */
SK_EXPORT const char *sk_parse_error_name(sk_parse_error e);

/* Decodes an option block; returns false on a malformed option.  Options
 * of unknown kind are skipped; a known option with the wrong length is
 * malformed except where Linux ignores it (it then stays absent). */
SK_EXPORT bool sk_parse_options(const uint8_t *opt, size_t len, sk_tcp_opts *out);

/* What to build.  IPv4 addresses and ports in host byte order; IPv6
 * addresses in network byte order. */
typedef struct sk_segment_spec {
    uint8_t ip_version;   /* 6 builds IPv6; anything else IPv4 */
    uint32_t src, dst;
    uint8_t src6[16], dst6[16];
    uint32_t flowlabel;   /* IPv6 flow label (low 20 bits) */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t flags;
    uint16_t window;
    uint8_t ttl;          /* TTL or hop limit; 0 means 64 */
    uint8_t tos;          /* TOS byte or traffic class; its low 2 bits are the ECN field (RFC 3168 §5) */
    uint16_t ip_id;
    bool df;
    const uint8_t *options; /* already encoded, padded to a multiple of 4; may already lie
                             * where they go (20 bytes into the TCP header), then left as is */
    size_t options_len;
    const uint8_t *payload;
    size_t payload_len;
    /* Leave the TCP checksum to the device, as Linux's CHECKSUM_PARTIAL:
     * the field holds the pseudo-header's sum instead of the checksum. */
    bool csum_partial;
} sk_segment_spec;

/* Writes the IP (v4 or v6) and TCP headers, options and payload into buf
 * with the checksums filled (the TCP one only partly with csum_partial).
 * Returns the datagram length, or 0 if cap is too small. */
SK_EXPORT size_t sk_build_segment(const sk_segment_spec *spec, uint8_t *buf, size_t cap);

/* Internet checksum helpers (RFC 1071). */
SK_EXPORT uint32_t sk_csum_partial(const void *data, size_t len, uint32_t sum);
/* Folds a partial sum to the final 16-bit one's-complement checksum. */
SK_EXPORT uint16_t sk_csum_fold(uint32_t sum);
/* The TCP checksum over the IPv4 pseudo-header and `tcp` (checksum field
 * included: a correct segment gives 0). */
SK_EXPORT uint16_t sk_tcp_checksum(uint32_t src, uint32_t dst, const uint8_t *tcp, size_t tcp_len);
/* The same over the IPv6 pseudo-header (RFC 8200 §8.1); addresses in
 * network byte order. */
SK_EXPORT uint16_t sk_tcp_checksum6(const uint8_t src[16], const uint8_t dst[16], const uint8_t *tcp, size_t tcp_len);

#ifdef __cplusplus
}
#endif

#endif
