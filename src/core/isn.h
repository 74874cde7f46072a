/*
 * Keyed hashing for initial sequence numbers (RFC 6528), timestamp offsets
 * and SYN cookies, and the stack's deterministic PRNG.  All state is passed
 * in: nothing here reads a clock or a global.
 */
#ifndef SK_ISN_H
#define SK_ISN_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 with a 128-bit key. */
uint64_t sk_siphash24(const uint8_t key[16], const void *data, size_t len);

/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secret),
 * with M the clock in 64 ns units as Linux's secure_tcp_seq() uses. */
/* The flow hash that picks a SYN's listener within an SO_REUSEPORT
 * group (Linux's inet_ehashfn): keyed, over the local and remote
 * addresses (4 or 16 bytes, network order) and ports. */
uint32_t sk_reuseport_hash(const uint8_t key[16], size_t alen, const uint8_t *laddr, const uint8_t *raddr,
                           uint16_t lport, uint16_t rport);
uint32_t sk_isn(const uint8_t key[16], uint32_t saddr, uint16_t sport, uint32_t daddr,
                uint16_t dport, uint64_t now_ns);

/* Per address pair timestamp offset, as Linux's secure_tcp_ts_off(), so TS
 * values do not reveal uptime and stay monotonic per peer. */
uint32_t sk_ts_offset(const uint8_t key[16], uint32_t saddr, uint32_t daddr);

/* The same over IPv6 addresses (network byte order), as Linux's
 * secure_tcpv6_seq() and secure_tcpv6_ts_off(). */
uint32_t sk_isn6(const uint8_t key[16], const uint8_t saddr[16], uint16_t sport, const uint8_t daddr[16],
                 uint16_t dport, uint64_t now_ns);
uint32_t sk_ts_offset6(const uint8_t key[16], const uint8_t saddr[16], const uint8_t daddr[16]);

/* xoshiro256** seeded through splitmix64. */
typedef struct sk_rng {
    uint64_t s[4];
} sk_rng;
void sk_rng_seed(sk_rng *r, uint64_t seed);
uint64_t sk_rng_next(sk_rng *r);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint32_t sk_rng_below(sk_rng *r, uint32_t bound);

#endif
