/*
 * SYN cookies in Linux's format (net/ipv4/syncookies.c): a listener whose
 * SYN queue is full answers a SYN with a SYN-ACK whose ISN encodes
 * everything needed to rebuild the request from the returning ACK, and
 * keeps no state.
 *
 *   ISN = H1(tuple) + their_seq + (count << 24)
 *         + ((H2(tuple, count) + mss_index) & 0xffffff)
 *
 * count is the time in minutes; a cookie is valid while the minute it was
 * made in is at most MAX_SYNCOOKIE_AGE - 1 minutes ago (modulo 2^8).  H1
 * and H2 are SipHash-2-4 keyed with the stack's cookie key.
 *
 * With timestamps, the options the request would have remembered (window
 * scale, SACK-permitted, ECN) travel in the low 6 bits of the SYN-ACK's
 * TSval and come back in the ACK's TSecr (Linux's cookie_init_timestamp
 * and cookie_timestamp_decode).
 *
 * Everything here is pure: the key and the time are passed in.
 */
#ifndef SK_SYNCOOKIE_H
#define SK_SYNCOOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#define SK_SYNCOOKIE_BITS 24         /* Linux's COOKIEBITS */
#define SK_SYNCOOKIE_MASK 0xffffffu  /* Linux's COOKIEMASK */
#define SK_SYNCOOKIE_MAX_AGE 2       /* Linux's MAX_SYNCOOKIE_AGE, minutes */
#define SK_SYNCOOKIE_PERIOD_NS (60ull * SK_NSEC_PER_SEC)
#define SK_SYNCOOKIE_MSS_COUNT 4

/* TSval layout (Linux's TSBITS and TS_OPT_*): bits 0-3 the peer's window
 * scale (0xf for none), bit 4 SACK-permitted, bit 5 ECN. */
#define SK_SYNCOOKIE_TS_BITS 6
#define SK_SYNCOOKIE_TS_WSCALE_MASK 0xfu
#define SK_SYNCOOKIE_TS_SACK 0x10u
#define SK_SYNCOOKIE_TS_ECN 0x20u

/* The connection a cookie belongs to, seen from the SYN: saddr/sport the
 * peer's, daddr/dport ours; host byte order. */
typedef struct sk_cookie_tuple {
    uint32_t saddr, daddr;
    uint16_t sport, dport;
    /* IPv6 (Linux's cookie_v6_init_sequence): both addresses hashed in
     * full, and the MSS table of net/ipv6/syncookies.c; NULL for IPv4. */
    const uint8_t *saddr6, *daddr6;
} sk_cookie_tuple;

/* Options carried in the timestamp. */
typedef struct sk_cookie_opts {
    bool wscale_ok;
    uint8_t snd_wscale; /* the peer's shift count, 0..14 */
    bool sack_ok;
    bool ecn_ok;
} sk_cookie_opts;

/* Linux's msstab: the MSS values a cookie can carry. */
uint16_t sk_syncookie_mss_value(unsigned index);
/* The index of the largest table entry <= mss (0 when mss is below all). */
unsigned sk_syncookie_mss_index(uint16_t mss);
/* The IPv6 table: IPv6 MTUs (1280, 1480, 1500, 9000) less 60. */
unsigned sk_syncookie_mss_index6(uint16_t mss);

/* The minute counter at `now` (Linux's tcp_cookie_time()). */
static inline uint32_t sk_syncookie_count(sk_time_ns now)
{
    return (uint32_t)(now / SK_SYNCOOKIE_PERIOD_NS);
}

/* The cookie ISN for a SYN with sequence number their_seq and the peer's
 * (clamped) MSS; *mss_out (may be NULL) receives the MSS the cookie
 * encodes, which is what the connection will use. */
uint32_t sk_syncookie_make(const uint8_t key[16], const sk_cookie_tuple *tuple, uint32_t their_seq,
                           uint16_t peer_mss, sk_time_ns now, uint16_t *mss_out);

/* Checks the cookie of a returning ACK: cookie = ACK's ack - 1,
 * their_seq = ACK's seq - 1.  Returns the encoded MSS, or 0 when the
 * cookie is forged, for another tuple, or expired. */
uint16_t sk_syncookie_check(const uint8_t key[16], const sk_cookie_tuple *tuple, uint32_t cookie,
                            uint32_t their_seq, sk_time_ns now);

/* The SYN-ACK's TSval (before the per-peer offset is added) for a cookie
 * made at timestamp clock ts_now (Linux's cookie_init_timestamp): the
 * clock rounded down to 64 with the options in the low bits, never ahead
 * of ts_now. */
uint32_t sk_syncookie_ts_make(uint32_t ts_now, const sk_cookie_opts *opts);

/* Decodes the options from a cookie ACK's TSecr (offset already removed),
 * as Linux's cookie_timestamp_decode.  Any value decodes: the 4-bit window
 * scale field is 0xf for "none" and 0..14 otherwise, so no shift above
 * RFC 7323's 14 can come out of it; whether the decoded options are still
 * allowed (tcp_timestamps, tcp_sack, tcp_window_scaling) is the
 * listener's check. */
void sk_syncookie_ts_decode(uint32_t ts_ecr, sk_cookie_opts *opts);

/* Sizes of the listener's records, for reports (listen.c). */
size_t sk_request_record_size(void);
size_t sk_connection_record_size(void);

#endif
