/*
 * SYN cookies in Linux's format; see syncookie.h.
 */
#include "syncookie.h"

#include "isn.h"

#include <string.h>

/* Linux's msstab (net/ipv4/syncookies.c): the common MSS values, so the
 * 2-bit index loses little — 1460 Ethernet, 1440 and 1300 tunnels and
 * PPPoE-style paths, 536 the RFC 1122 default. */
static const uint16_t msstab[SK_SYNCOOKIE_MSS_COUNT] = {536, 1300, 1440, 1460};

/* net/ipv6/syncookies.c keeps its own table, of IPv6 MTUs less the 60
 * bytes of IPv6 and TCP headers with timestamps: IPV6_MIN_MTU first. */
static const uint16_t msstab6[SK_SYNCOOKIE_MSS_COUNT] = {1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60};

unsigned sk_syncookie_mss_index6(uint16_t mss)
{
    unsigned i = SK_SYNCOOKIE_MSS_COUNT - 1;
    while (i > 0 && mss < msstab6[i])
        i--;
    return i;
}

uint16_t sk_syncookie_mss_value(unsigned index)
{
    return index < SK_SYNCOOKIE_MSS_COUNT ? msstab[index] : 0;
}

unsigned sk_syncookie_mss_index(uint16_t mss)
{
    /* As cookie_init_sequence(): the largest entry not above the MSS,
     * falling back to the smallest. */
    unsigned i = SK_SYNCOOKIE_MSS_COUNT - 1;
    while (i > 0 && mss < msstab[i])
        i--;
    return i;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Linux's cookie_hash(): SipHash over the 4-tuple and the minute count.
 * Linux keys H1 and H2 with two different secrets; with one key the last
 * word tells the two apart instead. */
static uint32_t cookie_hash(const uint8_t key[16], const sk_cookie_tuple *t, uint32_t count, uint32_t which)
{
    if (t->saddr6) {
        uint8_t in6[44];
        memcpy(in6, t->saddr6, 16);
        memcpy(in6 + 16, t->daddr6, 16);
        put_le32(in6 + 32, (uint32_t)t->sport << 16 | t->dport);
        put_le32(in6 + 36, count);
        put_le32(in6 + 40, which);
        return (uint32_t)sk_siphash24(key, in6, sizeof in6);
    }
    uint8_t in[20];
    put_le32(in, t->saddr);
    put_le32(in + 4, t->daddr);
    put_le32(in + 8, (uint32_t)t->sport << 16 | t->dport);
    put_le32(in + 12, count);
    put_le32(in + 16, which);
    return (uint32_t)sk_siphash24(key, in, sizeof in);
}

uint32_t sk_syncookie_make(const uint8_t key[16], const sk_cookie_tuple *tuple, uint32_t their_seq,
                           uint16_t peer_mss, sk_time_ns now, uint16_t *mss_out)
{
    const uint16_t *tab = tuple->saddr6 ? msstab6 : msstab;
    unsigned idx = tuple->saddr6 ? sk_syncookie_mss_index6(peer_mss) : sk_syncookie_mss_index(peer_mss);
    if (mss_out)
        *mss_out = tab[idx];
    uint32_t count = sk_syncookie_count(now);
    return cookie_hash(key, tuple, 0, 0) + their_seq + (count << SK_SYNCOOKIE_BITS) +
           ((cookie_hash(key, tuple, count, 1) + idx) & SK_SYNCOOKIE_MASK);
}

uint16_t sk_syncookie_check(const uint8_t key[16], const sk_cookie_tuple *tuple, uint32_t cookie,
                            uint32_t their_seq, sk_time_ns now)
{
    uint32_t count = sk_syncookie_count(now);
    /* What remains is (count_made << 24) + ((H2 + index) & 0xffffff). */
    cookie -= cookie_hash(key, tuple, 0, 0) + their_seq;
    /* The age in minutes, on the 8 bits the cookie keeps of the count
     * (check_tcp_syn_cookie()). */
    uint32_t diff = (count - (cookie >> SK_SYNCOOKIE_BITS)) & (0xffffffffu >> SK_SYNCOOKIE_BITS);
    if (diff >= SK_SYNCOOKIE_MAX_AGE)
        return 0;
    uint32_t idx = (cookie - cookie_hash(key, tuple, count - diff, 1)) & SK_SYNCOOKIE_MASK;
    /* A forged cookie leaves a 24-bit remainder that is almost never a
     * valid index (probability 4 in 2^24 per guess). */
    if (idx >= SK_SYNCOOKIE_MSS_COUNT)
        return 0;
    return tuple->saddr6 ? msstab6[idx] : msstab[idx];
}

uint32_t sk_syncookie_ts_make(uint32_t ts_now, const sk_cookie_opts *o)
{
    uint32_t options = o->wscale_ok ? (o->snd_wscale & SK_SYNCOOKIE_TS_WSCALE_MASK) : SK_SYNCOOKIE_TS_WSCALE_MASK;
    if (o->sack_ok)
        options |= SK_SYNCOOKIE_TS_SACK;
    if (o->ecn_ok)
        options |= SK_SYNCOOKIE_TS_ECN;
    /* Never ahead of the clock: the peer would echo a value from the
     * future, which PAWS on our side later could not explain. */
    uint64_t ts = ((uint64_t)ts_now >> SK_SYNCOOKIE_TS_BITS) << SK_SYNCOOKIE_TS_BITS;
    ts |= options;
    if (ts > ts_now)
        ts -= 1u << SK_SYNCOOKIE_TS_BITS;
    return (uint32_t)ts;
}

void sk_syncookie_ts_decode(uint32_t ts_ecr, sk_cookie_opts *o)
{
    o->sack_ok = (ts_ecr & SK_SYNCOOKIE_TS_SACK) != 0;
    o->ecn_ok = (ts_ecr & SK_SYNCOOKIE_TS_ECN) != 0;
    uint32_t ws = ts_ecr & SK_SYNCOOKIE_TS_WSCALE_MASK;
    o->wscale_ok = ws != SK_SYNCOOKIE_TS_WSCALE_MASK;
    o->snd_wscale = o->wscale_ok ? (uint8_t)ws : 0;
}
