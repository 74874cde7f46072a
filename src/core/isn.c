/*
 * SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF",
 * 2012), RFC 6528 initial sequence numbers, per-peer timestamp offsets,
 * and xoshiro256** (Blackman & Vigna) seeded through splitmix64.
 */
#include "isn.h"
#include "bytes.h"

#include <string.h>

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* Written out byte by byte (not as a loop) so that the compiler sees one
 * little-endian load: the loop cost 8 loads and shifts per word, half of
 * an ISN's hash. */
static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define SIPROUND(v0, v1, v2, v3)                                                \
    do {                                                                        \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);          \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);           \
    } while (0)

/* SipHash-2-4's last block and finalization, shared by the general
 * function and the ISN's fixed-size one. */
static inline uint64_t sip_finish(uint64_t v0, uint64_t v1, uint64_t v2, uint64_t v3, uint64_t last)
{
    v3 ^= last;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t sk_siphash24(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    /* The constants spell "somepseudorandomlygeneratedbytes". */
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1 ^ 0x7465646279746573ull;

    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    /* Last block: the remaining bytes, zero padded, with len mod 256 in
     * the top byte so messages differing only in trailing zeros differ. */
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    const uint8_t *tail = in + full;
    unsigned off = 0;
    if (len & 4) {
        last |= load_le32(tail);
        off = 4;
    }
    if (len & 2) {
        last |= ((uint64_t)tail[off] | (uint64_t)tail[off + 1] << 8) << (8 * off);
        off += 2;
    }
    if (len & 1)
        last |= (uint64_t)tail[off] << (8 * off);
    return sip_finish(v0, v1, v2, v3, last);
}

/* The tuple is hashed in wire byte order so the hash input does not depend
 * on the host.  saddr/sport are the local end (RFC 6528 §3 orders
 * F(localip, localport, remoteip, remoteport)). */
uint32_t sk_isn(const uint8_t key[16], uint32_t saddr, uint16_t sport, uint32_t daddr,
                uint16_t dport, uint64_t now_ns)
{
    /* sk_siphash24 over the 12 bytes be32(saddr) be32(daddr)
     * be32(sport << 16 | dport), with the words formed directly: a
     * big-endian word read little-endian is its byte swap.  test_isn
     * holds it to the general function over those bytes. */
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1 ^ 0x7465646279746573ull;
    uint64_t m = (uint64_t)__builtin_bswap32(saddr) | (uint64_t)__builtin_bswap32(daddr) << 32;
    v3 ^= m;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
    uint64_t last = (uint64_t)12 << 56 | __builtin_bswap32(((uint32_t)sport << 16) | dport);
    uint32_t hash = (uint32_t)sip_finish(v0, v1, v2, v3, last);
    /* Linux's seq_scale(): a clock ticking every 64 ns, which wraps the
     * 32-bit space in about 274 s, faster than RFC 9293 §3.4.1's 4 µs
     * clock, so a reused tuple's new ISN is likely beyond old segments. */
    return hash + (uint32_t)(now_ns >> 6);
}

/* A leading tag keeps these values apart from the ISNs made with the
 * same key over the same words. */
uint32_t sk_reuseport_hash(const uint8_t key[16], size_t alen, const uint8_t *laddr, const uint8_t *raddr,
                           uint16_t lport, uint16_t rport)
{
    uint8_t in[1 + 16 + 16 + 4];
    in[0] = 'P';
    memcpy(in + 1, laddr, alen);
    memcpy(in + 1 + alen, raddr, alen);
    sk_put_be32(in + 1 + 2 * alen, ((uint32_t)lport << 16) | rport);
    return (uint32_t)sk_siphash24(key, in, 1 + 2 * alen + 4);
}

/* Linux's secure_tcp_ts_off() hashes the address pair only, so all
 * connections to one peer share an offset and the peer's PAWS check
 * (RFC 7323 §5) across successive connections keeps working. */
uint32_t sk_ts_offset(const uint8_t key[16], uint32_t saddr, uint32_t daddr)
{
    uint8_t pair[8];
    sk_put_be32(pair, saddr);
    sk_put_be32(pair + 4, daddr);
    return (uint32_t)sk_siphash24(key, pair, sizeof pair);
}

/* RFC 6528 over the IPv6 4-tuple, as Linux's secure_tcpv6_seq() hashes
 * both 16-byte addresses with the ports; the same 64 ns clock. */
uint32_t sk_isn6(const uint8_t key[16], const uint8_t saddr[16], uint16_t sport, const uint8_t daddr[16],
                 uint16_t dport, uint64_t now_ns)
{
    uint8_t tuple[36];
    memcpy(tuple, saddr, 16);
    memcpy(tuple + 16, daddr, 16);
    sk_put_be32(tuple + 32, ((uint32_t)sport << 16) | dport);
    return (uint32_t)sk_siphash24(key, tuple, sizeof tuple) + (uint32_t)(now_ns >> 6);
}

/* secure_tcpv6_ts_off(): the address pair only, as for IPv4. */
uint32_t sk_ts_offset6(const uint8_t key[16], const uint8_t saddr[16], const uint8_t daddr[16])
{
    uint8_t pair[32];
    memcpy(pair, saddr, 16);
    memcpy(pair + 16, daddr, 16);
    return (uint32_t)sk_siphash24(key, pair, sizeof pair);
}

/* splitmix64 turns any seed, including 0, into a well mixed non-zero
 * state, which xoshiro needs (an all-zero state would stay zero). */
static uint64_t splitmix64_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sk_rng_seed(sk_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64_next(&x);
}

uint64_t sk_rng_next(sk_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* Lemire, "Fast Random Integer Generation in an Interval" (2019): the high
 * half of x * bound is uniform once the rare low halves below
 * 2^32 mod bound are rejected. */
uint32_t sk_rng_below(sk_rng *r, uint32_t bound)
{
    if (bound == 0)
        return 0;
    /* The high bits of xoshiro256** are its best ones. */
    uint64_t m = (sk_rng_next(r) >> 32) * (uint64_t)bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        uint32_t threshold = (uint32_t)(-bound) % bound;
        while (low < threshold) {
            m = (sk_rng_next(r) >> 32) * (uint64_t)bound;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}
