/*
 * Path MTU: the per-destination cache (RFC 1191 §6.3), its use by TCP
 * (RFC 1191 §6.4, Linux's tcp_v4_mtu_reduced and tcp_sync_mss), the
 * IP_MTU_DISCOVER / IP_MTU / IP_RECVERR socket options, and
 * packetization-layer PMTU discovery (RFC 4821) as Linux does it:
 * black-hole detection on repeated timeouts (tcp_mtu_probing in
 * tcp_timer.c) and probing upwards (tcp_mtu_probe in tcp_output.c).
 *
 * The cache plays the part of Linux's route exceptions (fnhe, holding a
 * learned PMTU for net.ipv4.route.mtu_expires) and inet_peer (the
 * per-host ICMP rate limit): one bounded table keyed by the peer's
 * address, a key wide enough for IPv6.  When full, the least recently
 * used entry is evicted and counted (Synack PmtuCacheEvictions).
 */
#include "icmp.h"
#include "addr.h"
#include "eor.h"
#include "output.h"
#include "rack.h"
#include "sack.h"
#include "stack.h"

#define PEER_CACHE_MAX 1024u
#define PEER_BUCKETS 256u
#define XRLIM_BURST_FACTOR 6u /* Linux's inet_peer_xrlim_allow */
#define IPV4_TCP_HDRS 40u     /* IPv4 + TCP headers without options */
#define IPV6_TCP_HDRS 60u     /* IPv6 + TCP headers without options */
#define IPV6_MIN_MTU 1280u    /* RFC 8200 §5 */

/* The device MTU a family sees: an IPv6 link is never below IPV6_MIN_MTU
 * (as sk_link_mss has it). */
static uint16_t dev_mtu(const sk_stack *s, bool v6)
{
    return v6 && s->mtu < IPV6_MIN_MTU ? (uint16_t)IPV6_MIN_MTU : s->mtu;
}

/* Network + TCP headers before options: tcp_v6_connect sets
 * icsk_af_ops to the IPv6 ones, whose net_header_len is 40. */
static uint32_t ip_tcp_hdrs(const sk_tcb *t) { return t->af6 ? IPV6_TCP_HDRS : IPV4_TCP_HDRS; }

sk_peer_key sk_conn_peer_key(const sk_stack *s, const sk_tcb *t)
{
    if (!t->af6)
        return sk_peer_key_v4(t->raddr);
    const uint8_t *a = t->raddr ? sk_addr6_get(s, t->raddr) : NULL;
    static const uint8_t none[16];
    return sk_peer_key_v6(a ? a : none);
}

typedef struct sk_peer {
    sk_peer_key key;
    uint16_t next; /* bucket chain: index + 1, 0 ends it */
    uint16_t mtu;  /* learned path MTU, 0 = none */
    bool used, mtu_locked, rate_set;
    sk_stamp mtu_expires;
    sk_stamp last_used;
    uint32_t rate_tokens; /* ms of credit, as Linux's jiffies at HZ=1000 */
    sk_stamp rate_last;
} sk_peer;

struct sk_peer_cache {
    uint16_t buckets[PEER_BUCKETS];
    uint32_t count;
    uint32_t mtu_count; /* entries holding a PMTU (expired or not) */
    sk_peer e[PEER_CACHE_MAX];
};

static uint32_t key_hash(const sk_peer_key *k)
{
    uint64_t h = ((uint64_t)k->w[0] * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)k->w[1] << 7) ^
                 ((uint64_t)k->w[2] << 13) ^ ((uint64_t)k->w[3] << 29) ^ k->family;
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h >> 40) % PEER_BUCKETS;
}

static bool key_eq(const sk_peer_key *a, const sk_peer_key *b)
{
    return a->family == b->family && !memcmp(a->w, b->w, sizeof(a->w));
}

static sk_peer *peer_find(sk_stack *s, const sk_peer_key *k)
{
    struct sk_peer_cache *c = s->peers;
    if (!c)
        return NULL;
    for (uint16_t i = c->buckets[key_hash(k)]; i; i = c->e[i - 1].next)
        if (key_eq(&c->e[i - 1].key, k))
            return &c->e[i - 1];
    return NULL;
}

static void peer_unlink(struct sk_peer_cache *c, sk_peer *p)
{
    uint16_t idx = (uint16_t)(p - c->e + 1);
    uint16_t *pp = &c->buckets[key_hash(&p->key)];
    while (*pp && *pp != idx)
        pp = &c->e[*pp - 1].next;
    if (*pp)
        *pp = p->next;
    if (p->mtu)
        c->mtu_count--;
    memset(p, 0, sizeof(*p));
    c->count--;
}

static sk_peer *peer_get(sk_stack *s, const sk_peer_key *k)
{
    sk_peer *p = peer_find(s, k);
    if (p) {
        p->last_used = sk_stamp_now(s);
        return p;
    }
    if (!s->peers) {
        s->peers = sk_calloc(s, 1, sizeof(*s->peers));
        if (!s->peers)
            return NULL;
    }
    struct sk_peer_cache *c = s->peers;
    if (c->count == PEER_CACHE_MAX) {
        /* Full: the least recently used entry makes room. */
        sk_peer *old = &c->e[0];
        for (uint32_t i = 1; i < PEER_CACHE_MAX; i++)
            if ((int32_t)(c->e[i].last_used - old->last_used) < 0)
                old = &c->e[i];
        peer_unlink(c, old);
        sk_count(s, SK_C_SYNACK_PMTU_CACHE_EVICTIONS);
    }
    for (uint32_t i = 0; i < PEER_CACHE_MAX; i++) {
        p = &c->e[i];
        if (p->used)
            continue;
        p->used = true;
        p->key = *k;
        p->last_used = sk_stamp_now(s);
        uint32_t b = key_hash(k);
        p->next = c->buckets[b];
        c->buckets[b] = (uint16_t)(i + 1);
        c->count++;
        return p;
    }
    return NULL;
}

void sk_peer_cache_free(sk_stack *s)
{
    sk_free(s, s->peers);
    s->peers = NULL;
}

/* A learned PMTU holds until it expires (ipv4_mtu ignores an expired
 * rt_pmtu); the device MTU applies otherwise. */
static bool pmtu_live(const sk_stack *s, const sk_peer *p)
{
    return p && p->mtu && (int32_t)(p->mtu_expires - sk_stamp_now(s)) > 0;
}

uint16_t sk_route_mtu(sk_stack *s, const sk_peer_key *k)
{
    uint16_t dev = dev_mtu(s, k->family == 6);
    if (!s->peers || !s->peers->mtu_count)
        return dev;
    sk_peer *p = peer_find(s, k);
    return pmtu_live(s, p) && p->mtu < dev ? p->mtu : dev;
}

static bool sk_route_mtu_locked(sk_stack *s, const sk_peer_key *k)
{
    if (!s->peers || !s->peers->mtu_count)
        return false;
    sk_peer *p = peer_find(s, k);
    return pmtu_live(s, p) && p->mtu_locked;
}

/* Linux's __ip_rt_update_pmtu: only a decrease is taken; a value below
 * route.min_pmtu is raised to it (never above the current MTU) and
 * locked, which clears DF for IP_PMTUDISC_WANT sockets; an unchanged
 * value is not refreshed until half its lifetime has passed. */
static void sk_route_update_pmtu(sk_stack *s, const sk_peer_key *k, uint32_t mtu)
{
    uint32_t old = sk_route_mtu(s, k);
    if (k->family == 6) {
        /* __ip6_rt_update_pmtu: no route.min_pmtu and no lock; a value
         * below IPV6_MIN_MTU is raised to it (RFC 8021 deprecated the
         * atomic fragments that used to answer it); only a decrease is
         * taken, and it lives for net.ipv6.route.mtu_expires (600 s, as
         * its IPv4 twin, whose setting stands for both here). */
        if (mtu < IPV6_MIN_MTU)
            mtu = IPV6_MIN_MTU;
        if (mtu >= old)
            return;
        sk_peer *p6 = peer_get(s, k);
        if (!p6)
            return;
        if (!p6->mtu)
            s->peers->mtu_count++;
        p6->mtu = (uint16_t)mtu;
        p6->mtu_locked = false;
        sk_stamp exp6 = (sk_stamp)(sk_stamp_now(s) + (uint32_t)s->cfg.route_mtu_expires * 1000u);
        p6->mtu_expires = exp6 ? exp6 : 1;
        return;
    }
    if (old < mtu)
        return;
    bool lock = false;
    if (mtu < (uint32_t)s->cfg.route_min_pmtu) {
        lock = true;
        mtu = old < (uint32_t)s->cfg.route_min_pmtu ? old : (uint32_t)s->cfg.route_min_pmtu;
    }
    sk_peer *p = peer_find(s, k);
    uint32_t expires_ms = (uint32_t)s->cfg.route_mtu_expires * 1000u;
    if (pmtu_live(s, p) && p->mtu == mtu && !lock &&
        (int32_t)(p->mtu_expires - expires_ms / 2 - sk_stamp_now(s)) > 0)
        return;
    p = peer_get(s, k);
    if (!p)
        return;
    if (!p->mtu)
        s->peers->mtu_count++;
    p->mtu = (uint16_t)mtu;
    p->mtu_locked = lock;
    sk_stamp exp = (sk_stamp)(sk_stamp_now(s) + expires_ms);
    p->mtu_expires = exp ? exp : 1;
}

/* Linux's inet_peer_xrlim_allow: a token bucket in milliseconds, `timeout`
 * per message, holding at most six messages' worth; a new peer starts
 * full. */
bool sk_peer_rate_allow(sk_stack *s, const sk_peer_key *k, uint32_t timeout_ms)
{
    sk_peer *p = peer_get(s, k);
    if (!p)
        return true;
    sk_stamp now = sk_stamp_now(s);
    uint64_t cap = (uint64_t)XRLIM_BURST_FACTOR * timeout_ms;
    uint64_t token = p->rate_set ? (uint64_t)p->rate_tokens + (uint32_t)(now - p->rate_last) : cap;
    p->rate_set = true;
    p->rate_last = now;
    if (token > cap)
        token = cap;
    bool ok = false;
    if (token >= timeout_ms) {
        token -= timeout_ms;
        ok = true;
    }
    p->rate_tokens = (uint32_t)token;
    return ok;
}

/* ------------------------------------------------------------------ */
/* Per connection                                                       */
/* ------------------------------------------------------------------ */

static uint8_t default_pmtudisc(const sk_stack *s)
{
    return s->cfg.ip_no_pmtu_disc ? SK_PMTUDISC_DONT : SK_PMTUDISC_WANT;
}

static uint8_t conn_pmtudisc(const sk_stack *s, const sk_tcb *t)
{
    const sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    return pm && pm->pmtudisc_set ? pm->pmtudisc : default_pmtudisc(s);
}

static uint32_t hdr_opts(const sk_tcb *t) { return (t->negot & SK_N_TS_OK) ? 12u : 0u; }

/* Linux's tcp_mss_to_mtu and tcp_mtu_to_mss (the options every segment
 * carries count; the MSS is clamped to the peer's and TCP_MAXSEG, and
 * kept at least tcp_min_snd_mss). */
static uint32_t mss_to_mtu(const sk_tcb *t, uint32_t mss) { return mss + ip_tcp_hdrs(t) + hdr_opts(t); }

static uint32_t mtu_to_mss(const sk_stack *s, const sk_tcb *t, uint32_t mtu)
{
    uint32_t mss = mtu > ip_tcp_hdrs(t) ? mtu - ip_tcp_hdrs(t) : 0;
    uint32_t clamp = t->peer_mss ? t->peer_mss : 65535u;
    if (t->user_mss && t->user_mss < clamp)
        clamp = t->user_mss;
    if (mss > clamp)
        mss = clamp;
    if (mss < (uint32_t)s->cfg.tcp_min_snd_mss)
        mss = (uint32_t)s->cfg.tcp_min_snd_mss;
    return mss > hdr_opts(t) ? mss - hdr_opts(t) : mss;
}

sk_pmtu_conn *sk_pmtu_conn_get(sk_stack *s, sk_tcb *t)
{
    sk_tcb_ext *x = sk_tcb_ext_get(s, t);
    if (!x)
        return NULL;
    if (!x->pm) {
        sk_pmtu_conn *pm = sk_calloc(s, 1, sizeof(*pm));
        if (!pm)
            return NULL;
        pm->pmtu_cookie = dev_mtu(s, t->af6);
        pm->pmtudisc = default_pmtudisc(s);
        pm->pmtudisc6 = SK_PMTUDISC_WANT; /* inet6_create, whatever the sysctls */
        /* tcp_mtup_init: enabled from the start only with probing 2;
         * search_high from the MSS clamp (then bounded by the PMTU),
         * search_low from tcp_base_mss. */
        pm->mtup_enabled = s->cfg.tcp_mtu_probing > 1;
        pm->search_high = dev_mtu(s, t->af6);
        pm->search_low = (uint16_t)mss_to_mtu(t, (uint32_t)s->cfg.tcp_base_mss);
        if (pm->mtup_enabled)
            pm->probe_timestamp = sk_stamp_now(s);
        x->pm = pm;
    }
    return x->pm;
}

uint16_t sk_conn_pmtu(const sk_stack *s, const sk_tcb *t)
{
    const sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    return pm ? pm->pmtu_cookie : dev_mtu(s, t->af6);
}

uint32_t sk_mtup_mss_clamp(const sk_stack *s, const sk_tcb *t, uint32_t mss)
{
    const sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (!pm || !pm->mtup_enabled)
        return mss;
    uint32_t low = mtu_to_mss(s, t, pm->search_low);
    return low < mss ? low : mss;
}

/* Effective send MSS: the peer's MSS and our MTU, less the timestamp
 * option every segment carries (Linux tcp_sync_mss / tcp_current_mss). */
void sk_set_send_mss(sk_stack *s, sk_tcb *t)
{
    uint32_t mss = t->peer_mss;
    /* The path's MTU, less the IPv4 or IPv6 and TCP headers. */
    uint32_t mtu_mss = (uint32_t)sk_conn_pmtu(s, t) - (t->af6 ? 60u : 40u);
    if (mss > mtu_mss)
        mss = mtu_mss;
    if (t->user_mss && mss > t->user_mss)
        mss = t->user_mss;
    if (t->negot & SK_N_TS_OK)
        mss -= 12;
    mss = sk_mtup_mss_clamp(s, t, mss); /* MTU probing's floor (RFC 4821) */
    if (mss < (uint32_t)s->cfg.tcp_min_snd_mss)
        mss = (uint32_t)s->cfg.tcp_min_snd_mss;
    t->mss = (uint16_t)mss;
}

static bool peer_known(const sk_tcb *t)
{
    return t->state != SK_TCP_CLOSE && t->state != SK_TCP_LISTEN && t->state != SK_TCP_SYN_SENT;
}

/* Linux's tcp_sync_mss: the MSS follows the path MTU (and, while MTU
 * probing is on, the bottom of its search range). */
static void sync_mss(sk_stack *s, sk_tcb *t, sk_pmtu_conn *pm, uint16_t pmtu)
{
    if (pm->search_high > pmtu)
        pm->search_high = pmtu;
    pm->pmtu_cookie = pmtu;
    if (peer_known(t))
        sk_set_send_mss(s, t);
}

/* tcp_connect_init: a connection starts from its route's MTU, and
 * announces an MSS that fits it (dst_metric_advmss). */
void sk_pmtu_conn_init(sk_stack *s, sk_tcb *t)
{
    sk_peer_key k = sk_conn_peer_key(s, t);
    uint16_t route = sk_route_mtu(s, &k);
    if (route == dev_mtu(s, t->af6) && s->cfg.tcp_mtu_probing < 2)
        return;
    sk_pmtu_conn *pm = sk_pmtu_conn_get(s, t);
    if (!pm)
        return;
    sync_mss(s, t, pm, route);
    uint32_t adv = route > ip_tcp_hdrs(t) + 256u ? route - ip_tcp_hdrs(t) : 256u; /* ip_rt_min_advmss */
    if (adv < t->advmss)
        t->advmss = (uint16_t)adv;
}

/* dst_metric_advmss for a route with no advmss metric:
 * ipv4_default_advmss and ip6_default_advmss take the route's MTU, a
 * learned path MTU included, less the headers; not below
 * route.min_adv_mss (256) or, for IPv6, ip6_rt_min_advmss (1220).  It is
 * what a SYN-ACK announces (tcp_make_synack) and its child keeps
 * (tcp_v4_syn_recv_sock). */
uint16_t sk_route_advmss(const sk_stack *s, bool v6, uint32_t raddr)
{
    sk_peer_key k;
    if (v6) {
        const uint8_t *a = sk_addr6_get(s, raddr);
        if (!a)
            return sk_link_mss(s, true);
        k = sk_peer_key_v6(a);
    } else {
        k = sk_peer_key_v4(raddr);
    }
    uint32_t mtu = sk_route_mtu((sk_stack *)s, &k);
    uint32_t hdrs = v6 ? IPV6_TCP_HDRS : IPV4_TCP_HDRS, floor = v6 ? IPV6_MIN_MTU - IPV6_TCP_HDRS : 256u;
    uint32_t adv = mtu > hdrs + floor ? mtu - hdrs : floor;
    return (uint16_t)(adv > 65535u - hdrs ? 65535u - hdrs : adv);
}

/* tcp_current_mss's check: the route's MTU moved (learned by another
 * connection, or expired back up, RFC 1191 §6.3), so the MSS follows. */
void sk_pmtu_check_route(sk_stack *s, sk_tcb *t)
{
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (!pm && s->cfg.tcp_mtu_probing < 2 && (!s->peers || !s->peers->mtu_count))
        return;
    if (!peer_known(t))
        return;
    sk_peer_key k = sk_conn_peer_key(s, t);
    uint16_t route = sk_route_mtu(s, &k);
    if (!pm) {
        if (route == dev_mtu(s, t->af6) && s->cfg.tcp_mtu_probing < 2)
            return;
        pm = sk_pmtu_conn_get(s, t);
        if (!pm)
            return;
        if (pm->mtup_enabled) {
            pm->pmtu_cookie = route;
            sk_set_send_mss(s, t);
        }
    }
    if (route != pm->pmtu_cookie)
        sync_mss(s, t, pm, route);
}

/* Linux's ip_dont_fragment for TCP: DF with IP_PMTUDISC_DO, and with
 * IP_PMTUDISC_WANT unless the route's MTU is locked (it was raised to
 * route.min_pmtu, so the path needs fragmentation). */
bool sk_pmtu_df_route(const sk_stack *s, const sk_tcb *t)
{
    uint8_t d = conn_pmtudisc(s, t);
    if (d == SK_PMTUDISC_DO)
        return true;
    if (d != SK_PMTUDISC_WANT)
        return false;
    /* Only IPv4 routes are ever locked (IPv6 never fragments on the
     * path), so IPv6 connections skip the per-segment peer lookup. */
    if (t->af6 || !s->peers || !s->peers->mtu_count)
        return true;
    sk_peer_key k = sk_conn_peer_key(s, t);
    return !sk_route_mtu_locked((sk_stack *)s, &k);
}

/* Linux's tcp_simple_retransmit: the skbs in flight whose segments are
 * longer than the new MSS (tcp_skb_seglen > tcp_current_mss, SACK blocks
 * counted) were cut for a larger MTU and are gone, so they are marked lost
 * and resent at the new size, each on its own (rack.c); those that still
 * fit stay in flight.  The same with or without SACK: a connection
 * without it keeps its packets' ends for this (sk_flight).  Nothing lost,
 * nothing done.  It is not taken as congestion: cwnd stays, ssthresh keeps
 * at least 3/4 of it (tcp_current_ssthresh) unless already in Loss. */
static void simple_retransmit(sk_stack *s, sk_tcb *t)
{
    if (t->snd_una == t->snd_nxt)
        return;
    if (!sk_rack_mark_lost_longer(t, sk_current_mss(t), t->snd_una + t->sndq.len))
        return;
    /* tcp_current_ssthresh leaves it alone in CWR and Recovery. */
    if (t->ca_state < SK_CA_CWR) {
        uint32_t keep = (t->cwnd >> 1) + (t->cwnd >> 2);
        if (t->ssthresh < keep)
            t->ssthresh = keep;
    }
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (pm && t->ca_state != SK_CA_LOSS) {
        pm->loss_high = t->snd_nxt;
        pm->loss_high_set = true;
    }
    sk_set_ca_state(t, SK_CA_LOSS); /* tcp_simple_retransmit: Loss replaces CWR or Recovery */
    t->rtx_nxt = t->snd_una;
    t->high_rxt = t->snd_una;
    t->xflags &= ~SK_X_RTT_PENDING;
    t->dupacks = 0;
    sk_tcp_output(s, t);
}

/* Linux's tcp_v6_mtu_reduced: a Packet Too Big that would not lower the
 * MSS is dropped before it reaches the route (so it cannot be used to
 * fill the cache); otherwise the route learns it and, when it is below
 * what the connection last synced to, the MSS follows and what is in
 * flight goes again.  IPv6 has no DF to clear and no EMSGSIZE to
 * remember: the route never goes below IPV6_MIN_MTU. */
static void pmtu_reduced6(sk_stack *s, sk_tcb *t, uint32_t mtu_info)
{
    /* ip6_sk_accept_pmtu: IPV6_PMTUDISC_INTERFACE and _OMIT keep to the
     * device's MTU, so the message is not taken, not even into the route. */
    const sk_pmtu_conn *opt = sk_pmtu_conn_peek(t);
    if (opt && (opt->pmtudisc6 == SK_IPV6_PMTUDISC_INTERFACE || opt->pmtudisc6 == SK_IPV6_PMTUDISC_OMIT))
        return;
    /* Before the SYN-ACK t->mss is still the 536 default; Linux's
     * mss_cache is already synced to the route then (tcp_connect_init). */
    uint32_t cur = peer_known(t) ? t->mss : mtu_to_mss(s, t, sk_conn_pmtu(s, t));
    if (mtu_to_mss(s, t, mtu_info) >= cur)
        return;
    sk_peer_key k = sk_conn_peer_key(s, t);
    sk_route_update_pmtu(s, &k, mtu_info);
    uint16_t route = sk_route_mtu(s, &k);
    sk_pmtu_conn *pm = sk_pmtu_conn_get(s, t);
    if (!pm || pm->pmtu_cookie <= route)
        return;
    sync_mss(s, t, pm, route);
    if (t->state == SK_TCP_SYN_SENT) {
        uint32_t adv = route - IPV6_TCP_HDRS;
        if (adv < t->advmss)
            t->advmss = (uint16_t)adv;
        if (t->tfo & SK_TFO_SYN_DATA)
            sk_retransmit_head(s, t);
        return;
    }
    simple_retransmit(s, t);
}

/* Linux's tcp_v4_mtu_reduced, for a fragmentation-needed quoting this
 * connection (tcp_v6_mtu_reduced above for a Packet Too Big). */
void sk_pmtu_reduced(sk_stack *s, sk_tcb *t, uint32_t mtu_info)
{
    if (t->state == SK_TCP_LISTEN || t->state == SK_TCP_CLOSE)
        return;
    if (t->af6) {
        pmtu_reduced6(s, t, mtu_info);
        return;
    }
    sk_peer_key k = sk_conn_peer_key(s, t);
    sk_route_update_pmtu(s, &k, mtu_info);
    uint16_t route = sk_route_mtu(s, &k);
    sk_pmtu_conn *pm = sk_pmtu_conn_get(s, t);
    if (!pm)
        return;
    /* Below route.min_pmtu the path cannot carry what DF forbids cutting:
     * remembered in case the connection never recovers. */
    if (mtu_info < route && sk_pmtu_df(s, t))
        pm->err_soft = EMSGSIZE;
    uint8_t d = conn_pmtudisc(s, t);
    bool accept = d != 4 && d != 5; /* ip_sk_accept_pmtu: not INTERFACE or OMIT */
    if (d != SK_PMTUDISC_DONT && accept && pm->pmtu_cookie > route) {
        sync_mss(s, t, pm, route);
        if (t->state == SK_TCP_SYN_SENT) {
            /* tcp_advertise_mss: a SYN sent from now on offers what fits
             * the route; and a Fast Open SYN that carried data is taken as
             * lost, resent at once without it (Linux's tcp_simple_retransmit
             * since "tcp: Add logic to check for SYN w/ data"). */
            uint32_t adv = route > IPV4_TCP_HDRS + 256u ? route - IPV4_TCP_HDRS : 256u;
            if (adv < t->advmss)
                t->advmss = (uint16_t)adv;
            if (t->tfo & SK_TFO_SYN_DATA)
                sk_retransmit_head(s, t);
            return;
        }
        simple_retransmit(s, t);
    }
}

/* Linux's tcp_mtu_probing (tcp_write_timeout, after tcp_retries1 worth of
 * timeouts): the first time, MTU probing starts (the MSS drops to the
 * search floor, tcp_base_mss); after that each time the floor halves,
 * not below tcp_mtu_probe_floor or tcp_min_snd_mss. */
void sk_mtu_probing_on_timeout(sk_stack *s, sk_tcb *t)
{
    if (!s->cfg.tcp_mtu_probing)
        return;
    sk_pmtu_conn *pm = sk_pmtu_conn_get(s, t);
    if (!pm)
        return;
    if (!pm->mtup_enabled) {
        pm->mtup_enabled = true;
        pm->probe_timestamp = sk_stamp_now(s);
    } else {
        uint32_t mss = mtu_to_mss(s, t, pm->search_low) >> 1;
        if (mss > (uint32_t)s->cfg.tcp_base_mss)
            mss = (uint32_t)s->cfg.tcp_base_mss;
        if (mss < (uint32_t)s->cfg.tcp_mtu_probe_floor)
            mss = (uint32_t)s->cfg.tcp_mtu_probe_floor;
        if (mss < (uint32_t)s->cfg.tcp_min_snd_mss)
            mss = (uint32_t)s->cfg.tcp_min_snd_mss;
        pm->search_low = (uint16_t)mss_to_mtu(t, mss);
    }
    sync_mss(s, t, pm, pm->pmtu_cookie);
}

/* Linux's tcp_mtu_check_reprobe: after tcp_probe_interval the search
 * starts again from the current MSS up to the MSS clamp. */
static void check_reprobe(sk_stack *s, sk_tcb *t, sk_pmtu_conn *pm)
{
    if (sk_since(s, pm->probe_timestamp) < SK_SEC(s->cfg.tcp_probe_interval))
        return;
    pm->probe_size = 0;
    uint32_t clamp = t->peer_mss ? t->peer_mss : 65535u;
    if (t->user_mss && t->user_mss < clamp)
        clamp = t->user_mss;
    uint32_t high = clamp + ip_tcp_hdrs(t);
    pm->search_high = (uint16_t)(high > 65535u ? 65535u : high);
    pm->search_low = (uint16_t)mss_to_mtu(t, t->mss);
    pm->probe_timestamp = sk_stamp_now(s);
}

/* Linux's tcp_mtu_probe (RFC 4821 §7.4): with probing on, nothing in
 * recovery, cwnd of at least 11 and no SACK blocks to send, one segment
 * of the middle of the search range goes out ahead of the data behind
 * it, which must fill it plus reordering + 1 full segments.  Returns
 * 1 when a probe went out, 0 when the sender should wait, -1 when it
 * should go on as usual. */
int sk_mtu_probe(sk_stack *s, sk_tcb *t)
{
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (!pm || !pm->mtup_enabled || pm->probe_size || t->ca_state >= SK_CA_CWR ||
        t->cwnd < 11 || sk_rx_sack_pending(t))
        return -1;
    /* Still in the Loss state a path MTU drop began (icsk_ca_state is not
     * Open until high_seq is acknowledged). */
    if (pm->loss_high_set) {
        if (seq_lt(t->snd_una, pm->loss_high))
            return -1;
        pm->loss_high_set = false;
    }
    uint32_t mss = t->mss;
    uint32_t probe = mtu_to_mss(s, t, ((uint32_t)pm->search_high + pm->search_low) >> 1);
    uint32_t needed = probe + ((uint32_t)s->cfg.tcp_reordering + 1) * mss;
    uint32_t interval = pm->search_high > pm->search_low ? (uint32_t)(pm->search_high - pm->search_low) : 0;
    if (probe > mtu_to_mss(s, t, pm->search_high) || interval < (uint32_t)s->cfg.tcp_probe_threshold) {
        check_reprobe(s, t, pm);
        return -1;
    }
    uint32_t data_end = t->snd_una + t->sndq.len;
    uint32_t unsent = seq_gt(data_end, t->snd_nxt) ? data_end - t->snd_nxt : 0;
    if (unsent < needed || t->snd_wnd < needed)
        return -1;
    if (seq_gt(t->snd_nxt + needed, t->snd_una + t->snd_wnd))
        return 0;
    uint32_t in_flight = mss ? (sk_flight_size(t) + mss - 1) / mss : 0;
    if (in_flight + 2 > t->cwnd)
        return in_flight ? 0 : -1;
    if (sk_eor_clip(t, t->snd_nxt, probe) < probe)
        return -1; /* tcp_can_coalesce_send_queue_head: a record ends inside */
    uint32_t seq = t->snd_nxt;
    sk_send_data_range(s, t, seq, probe);
    if (s->xmit_failed)
        return -1;
    t->cwnd--; /* it counts as two packets */
    pm->probe_size = (uint16_t)mss_to_mtu(t, probe);
    pm->probe_seq_start = seq;
    pm->probe_seq_end = seq + probe;
    return 1;
}

/* tcp_mtup_probe_success: the probe's size is the new floor; cwnd is
 * rescaled so the bytes in flight stay as they were. */
void sk_mtu_probe_acked(sk_stack *s, sk_tcb *t)
{
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (!pm || !pm->probe_size || seq_gt(pm->probe_seq_end, t->snd_una))
        return;
    uint64_t cwnd = (uint64_t)t->cwnd * mss_to_mtu(t, t->mss) / pm->probe_size;
    t->cwnd = cwnd ? (uint32_t)cwnd : 1;
    t->cwnd_cnt = 0;
    uint32_t keep = (t->cwnd >> 1) + (t->cwnd >> 2);
    t->ssthresh = t->ssthresh > keep ? t->ssthresh : keep;
    pm->search_low = pm->probe_size;
    pm->probe_size = 0;
    sync_mss(s, t, pm, pm->pmtu_cookie);
    sk_count(s, SK_C_TCPEXT_TCP_MTUP_SUCCESS);
}

/* tcp_fastretrans_alert's "MTU probe failure": the loss is the probe at
 * SND.UNA, so it is the size, not congestion: the search ceiling drops
 * below it, the cwnd taken for it comes back, and the probe's data is
 * resent at the current MSS.  Returns true when it handled the loss. */
bool sk_mtu_probe_lost(sk_stack *s, sk_tcb *t)
{
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (!pm || !pm->probe_size || t->snd_una != pm->probe_seq_start || (t->ca_state == SK_CA_CWR))
        return false;
    pm->search_high = (uint16_t)(pm->probe_size - 1);
    pm->probe_size = 0;
    sk_count(s, SK_C_TCPEXT_TCP_MTUP_FAIL);
    t->cwnd++;
    simple_retransmit(s, t);
    return true;
}

int sk_take_err_soft(sk_tcb *t)
{
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (!pm || !pm->err_soft)
        return 0;
    int e = pm->err_soft;
    pm->err_soft = 0;
    return e;
}

/* ------------------------------------------------------------------ */
/* IP-level socket options                                              */
/* ------------------------------------------------------------------ */

enum { IPOPT_TOS = 1, IPOPT_MTU_DISCOVER = 10, IPOPT_RECVERR = 11, IPOPT_MTU = 14 };

/* do_ip_setsockopt reads an int, or a single byte when fewer than an
 * int's bytes are given. */
static int get_int(const void *val, size_t len, int *out)
{
    if (len >= sizeof(int)) {
        memcpy(out, val, sizeof(int));
        return 0;
    }
    if (len >= 1) {
        *out = *(const uint8_t *)val;
        return 0;
    }
    return -EINVAL;
}

int sk_ip_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len)
{
    int v;
    switch (name) {
    case IPOPT_TOS: {
        if (get_int(val, len, &v) < 0)
            return -EINVAL;
        /* Linux keeps the ECN bits TCP manages (RFC 3168) out of it. */
        v &= ~SK_IP_ECN_MASK;
        sk_pmtu_conn *pm = v || sk_pmtu_conn_peek(t) ? sk_pmtu_conn_get(s, t) : NULL;
        if (pm)
            pm->tos = (uint8_t)v;
        else if (v)
            return -ENOMEM;
        return 0;
    }
    case IPOPT_MTU_DISCOVER: {
        if (get_int(val, len, &v) < 0)
            return -EINVAL;
        if (v < SK_PMTUDISC_DONT || v > 5) /* IP_PMTUDISC_OMIT */
            return -EINVAL;
        sk_pmtu_conn *pm = sk_pmtu_conn_get(s, t);
        if (!pm)
            return -ENOMEM;
        pm->pmtudisc = (uint8_t)v;
        pm->pmtudisc_set = true;
        return 0;
    }
    case IPOPT_RECVERR: {
        if (get_int(val, len, &v) < 0)
            return -EINVAL;
        sk_pmtu_conn *pm = sk_pmtu_conn_get(s, t);
        if (!pm)
            return -ENOMEM;
        pm->recverr = v != 0;
        return 0;
    }
    case IPOPT_MTU:
        return -ENOPROTOOPT; /* read-only, as Linux */
    default:
        return -ENOPROTOOPT;
    }
}

int sk_ip_getsockopt(sk_stack *s, sk_tcb *t, int name, void *val, size_t *len)
{
    int v;
    const sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    switch (name) {
    case IPOPT_TOS:
        v = pm ? pm->tos : 0;
        break;
    case IPOPT_MTU_DISCOVER:
        v = conn_pmtudisc(s, t);
        break;
    case IPOPT_RECVERR:
        v = pm && pm->recverr;
        break;
    case IPOPT_MTU: {
        /* The route's MTU of a connected socket, else ENOTCONN. */
        if (t->state == SK_TCP_CLOSE || t->state == SK_TCP_LISTEN || !t->raddr)
            return -ENOTCONN;
        sk_peer_key k = sk_conn_peer_key(s, t);
        v = sk_route_mtu(s, &k);
        break;
    }
    default:
        return -ENOPROTOOPT;
    }
    /* do_ip_getsockopt: a byte when asked for less than an int. */
    if (*len < sizeof(int) && v >= 0 && v < 255) {
        *(uint8_t *)val = (uint8_t)v;
        *len = 1;
        return 0;
    }
    if (*len < sizeof(int))
        return -EINVAL;
    memcpy(val, &v, sizeof(int));
    *len = sizeof(int);
    return 0;
}

/* ------------------------------------------------------------------ */
/* IPv6-level socket options (do_ipv6_setsockopt's part kept here)      */
/* ------------------------------------------------------------------ */

#define FLOWLABEL_MASK 0x000fffffu
#define FLOWINFO_MASK 0x0fffffffu

static bool fl_held(const sk_pmtu_conn *pm, uint32_t label)
{
    for (uint8_t i = 0; pm && i < pm->fl_n; i++)
        if (pm->fl[i] == label)
            return true;
    return false;
}

static uint32_t be32_get(const uint32_t *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void be32_put(uint32_t *p, uint32_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* ipv6_flowlabel_opt: labels are taken (GET with CREATE), given back
 * (PUT) and renewed per socket.  What synack leaves out: the table the
 * labels share between sockets of a namespace (so no EPERM or EEXIST
 * from another socket's label), choosing a label for a request of 0
 * (Linux writes the chosen one back into the caller's buffer, which a
 * const argument cannot take: EINVAL here), and expiry and linger. */
static int flowlabel_opt(sk_stack *s, sk_tcb *t, const void *val, size_t len)
{
    struct sk_in6_flowlabel_req r;
    if (len < sizeof(r))
        return -EINVAL;
    memcpy(&r, val, sizeof(r));
    uint32_t label = be32_get(&r.flr_label);
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    switch (r.flr_action) {
    case SK_IPV6_FL_A_PUT:
        if (r.flr_flags & SK_IPV6_FL_F_REFLECT)
            return -ESRCH; /* never reflecting, see below */
        for (uint8_t i = 0; pm && i < pm->fl_n; i++) {
            if (pm->fl[i] == label) {
                pm->fl[i] = pm->fl[--pm->fl_n];
                return 0;
            }
        }
        return -ESRCH;
    case SK_IPV6_FL_A_RENEW:
        return fl_held(pm, label) ? 0 : -ESRCH;
    case SK_IPV6_FL_A_GET:
        break;
    default:
        return -EINVAL;
    }
    /* ipv6_flowlabel_get */
    /* Reflecting the peer's label is refused while
     * net.ipv6.flowlabel_consistency is on, its default, which synack
     * does not offer to change. */
    if (r.flr_flags & SK_IPV6_FL_F_REFLECT)
        return -EPERM;
    if (label & ~FLOWLABEL_MASK)
        return -EINVAL;
    /* fl_create: a real destination and a known way of sharing. */
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t zero[16];
    if (!memcmp(r.flr_dst, zero, 16) || !memcmp(r.flr_dst, mapped_prefix, 12))
        return -EINVAL;
    if (r.flr_share != SK_IPV6_FL_S_EXCL && r.flr_share != SK_IPV6_FL_S_PROCESS &&
        r.flr_share != SK_IPV6_FL_S_USER && r.flr_share != SK_IPV6_FL_S_ANY)
        return -EINVAL;
    if (label && fl_held(pm, label))
        return (r.flr_flags & SK_IPV6_FL_F_EXCL) ? -EEXIST : 0;
    if (!(r.flr_flags & SK_IPV6_FL_F_CREATE))
        return -ENOENT;
    if (!label)
        return -EINVAL;
    pm = sk_pmtu_conn_get(s, t);
    if (!pm)
        return -ENOMEM;
    if (pm->fl_n == SK_FL_MAX_PER_SOCK)
        return -ENOBUFS;
    pm->fl[pm->fl_n++] = label;
    return 0;
}

int sk_ip6_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len)
{
    if (name == SK_IPV6_FLOWLABEL_MGR)
        return val ? flowlabel_opt(s, t, val, len) : -EFAULT;
    if (name != SK_IPV6_MTU_DISCOVER && name != SK_IPV6_RECVERR && name != SK_IPV6_FLOWINFO &&
        name != SK_IPV6_FLOWINFO_SEND)
        return -ENOPROTOOPT;
    /* do_ipv6_setsockopt: each of these wants a whole int. */
    int v;
    if (!val || len < sizeof(int))
        return -EINVAL;
    memcpy(&v, val, sizeof v);
    if (name == SK_IPV6_MTU_DISCOVER && (v < SK_IPV6_PMTUDISC_DONT || v > SK_IPV6_PMTUDISC_OMIT))
        return -EINVAL;
    sk_pmtu_conn *pm = sk_pmtu_conn_get(s, t);
    if (!pm)
        return -ENOMEM;
    switch (name) {
    case SK_IPV6_MTU_DISCOVER:
        pm->pmtudisc6 = (uint8_t)v;
        break;
    case SK_IPV6_RECVERR:
        pm->recverr6 = v != 0;
        break;
    case SK_IPV6_FLOWINFO:
        pm->rxflow = v != 0;
        break;
    default:
        pm->sndflow = v != 0;
        break;
    }
    return 0;
}

int sk_ip6_getsockopt(sk_stack *s, sk_tcb *t, int name, void *val, size_t *len)
{
    (void)s;
    const sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    int v;
    switch (name) {
    case SK_IPV6_MTU_DISCOVER:
        v = pm ? pm->pmtudisc6 : SK_IPV6_PMTUDISC_WANT;
        break;
    case SK_IPV6_RECVERR:
        v = pm && pm->recverr6;
        break;
    case SK_IPV6_FLOWINFO:
        v = pm && pm->rxflow;
        break;
    case SK_IPV6_FLOWINFO_SEND:
        v = pm && pm->sndflow;
        break;
    case SK_IPV6_FLOWLABEL_MGR: {
        /* ipv6_flowlabel_opt_get: the label this socket sends with, when
         * it holds it, for a GET only.  The peer's
         * label (IPV6_FL_F_REMOTE) is not kept: ENOPROTOOPT. */
        struct sk_in6_flowlabel_req r;
        if (*len < sizeof(r))
            return -EINVAL;
        memcpy(&r, val, sizeof(r));
        if (r.flr_action != SK_IPV6_FL_A_GET)
            return -EINVAL;
        uint16_t flags = r.flr_flags;
        memset(&r, 0, sizeof(r));
        if (flags & SK_IPV6_FL_F_REMOTE)
            return -ENOPROTOOPT;
        uint32_t label = pm ? pm->flow_label & FLOWLABEL_MASK : 0;
        if (!fl_held(pm, label))
            return -ENOENT;
        be32_put(&r.flr_label, label);
        memcpy(val, &r, sizeof(r));
        *len = sizeof(r);
        return 0;
    }
    default:
        return -ENOPROTOOPT;
    }
    size_t n = *len < sizeof(int) ? *len : sizeof(int);
    memcpy(val, &v, n);
    *len = n;
    return 0;
}

/* tcp_v6_connect with IPV6_FLOWINFO_SEND: the traffic class and label of
 * sin6_flowinfo (ECN bits cleared, IP6_ECN_flow_init) become the
 * socket's, and a nonzero label must be one the socket holds
 * (fl6_sock_lookup), else EINVAL. */
int sk_ip6_connect_flowinfo(sk_stack *s, sk_tcb *t, uint32_t flowinfo)
{
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    if (!pm || !pm->sndflow)
        return 0;
    uint32_t fi = flowinfo & FLOWINFO_MASK & ~(SK_IP_ECN_MASK << 20);
    if ((fi & FLOWLABEL_MASK) && !fl_held(pm, fi & FLOWLABEL_MASK))
        return -EINVAL;
    (void)s;
    pm->flow_label = fi;
    return 0;
}


/* What sk_clone_lock copies of a listener's IP and IPv6 options into a
 * child: the option bits and np->flow_label, not the labels it holds
 * (tcp_v6_syn_recv_sock starts the child's ipv6_fl_list empty).  A
 * child talking to a link-local peer is bound to the device the SYN
 * came in on (ireq->ir_iif). */
void sk_pmtu_inherit(sk_stack *s, sk_tcb *child, const sk_tcb *l, bool peer_link_local)
{
    const sk_pmtu_conn *lp = sk_pmtu_conn_peek(l);
    if (!lp && !peer_link_local)
        return;
    sk_pmtu_conn *pm = sk_pmtu_conn_get(s, child);
    if (!pm)
        return;
    if (lp) {
        pm->pmtudisc = lp->pmtudisc;
        pm->pmtudisc_set = lp->pmtudisc_set;
        pm->recverr = lp->recverr;
        pm->tos = lp->tos;
        pm->pmtudisc6 = lp->pmtudisc6;
        pm->recverr6 = lp->recverr6;
        pm->rxflow = lp->rxflow;
        pm->sndflow = lp->sndflow;
        pm->flow_label = lp->flow_label;
        pm->bound_dev_if = lp->bound_dev_if;
    }
    if (peer_link_local && !pm->bound_dev_if)
        pm->bound_dev_if = s->ifindex;
}
