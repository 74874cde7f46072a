/*
 * Addresses: the stack's local addresses of either family, and the
 * table of IPv6 addresses that lets connection records keep 4 bytes per
 * address.
 *
 * A record (sk_tcb, sk_request, sk_tw) stores `laddr` and `raddr` as 32
 * bits.  For IPv4 they are the addresses; for IPv6 they are handles into
 * a stack-wide table where each distinct address is stored once with a
 * count of its holders (each local address, record and key holds one),
 * and freed when the count reaches zero.  The table is bounded by what
 * references it: an IPv6 TIME_WAIT record from a distinct peer costs its
 * 44 bytes plus one 24-byte entry and its hash head.
 *
 * Every read of a record's addresses goes through the accessors here.
 */

#include "addr.h"
#include "icmp.h"
#include "stack.h"

#include <stdio.h>

/* ------------------------------------------------------------------ */
/* The IPv6 address table                                               */
/* ------------------------------------------------------------------ */

static inline sk_addr6_ent *a6_ent(const sk_addr6_table *t, uint32_t h)
{
    return &t->chunks[h >> SK_A6_CHUNK_BITS][h & (SK_A6_CHUNK - 1)];
}

/* Keyed, so a peer cannot choose addresses that share a chain. */
static uint32_t a6_hash(const sk_stack *s, const uint8_t a[16])
{
    return (uint32_t)sk_siphash24(s->cookie_key, a, 16);
}

uint32_t sk_addr6_find(const sk_stack *s, const uint8_t a[16])
{
    const sk_addr6_table *t = &s->a6;
    if (!t->mask && !t->buckets)
        return 0;
    uint32_t h = t->buckets[a6_hash(s, a) & t->mask];
    while (h) {
        const sk_addr6_ent *e = a6_ent(t, h);
        if (memcmp(e->a, a, 16) == 0)
            return h;
        h = e->hnext;
    }
    return 0;
}

static bool a6_grow_buckets(sk_stack *s)
{
    sk_addr6_table *t = &s->a6;
    uint32_t nmask = t->buckets ? t->mask * 2 + 1 : 15;
    uint32_t *nb = sk_calloc(s, (size_t)nmask + 1, sizeof(*nb));
    if (!nb)
        return false;
    if (t->buckets) {
        for (uint32_t b = 0; b <= t->mask; b++) {
            uint32_t h = t->buckets[b];
            while (h) {
                sk_addr6_ent *e = a6_ent(t, h);
                uint32_t next = e->hnext;
                uint32_t nbk = a6_hash(s, e->a) & nmask;
                e->hnext = nb[nbk];
                nb[nbk] = h;
                h = next;
            }
        }
        sk_free(s, t->buckets);
    }
    t->buckets = nb;
    t->mask = nmask;
    return true;
}

uint32_t sk_addr6_intern(sk_stack *s, const uint8_t a[16])
{
    if (sk_addr6_is_any(a))
        return 0;
    uint32_t h = sk_addr6_find(s, a);
    if (h) {
        a6_ent(&s->a6, h)->refs++;
        return h;
    }
    sk_addr6_table *t = &s->a6;
    if ((!t->buckets || t->count > t->mask) && !a6_grow_buckets(s) && !t->buckets)
        return 0;
    if (!t->free_head) {
        if (t->nchunks == t->chunks_cap) {
            uint32_t ncap = t->chunks_cap ? t->chunks_cap * 2 : 4;
            sk_addr6_ent **nc = sk_realloc(s, t->chunks, sizeof(*nc) * ncap);
            if (!nc)
                return 0;
            t->chunks = nc;
            t->chunks_cap = ncap;
        }
        if (t->nchunks >= (UINT32_MAX >> SK_A6_CHUNK_BITS))
            return 0;
        sk_addr6_ent *chunk = sk_malloc(s, sizeof(*chunk) * SK_A6_CHUNK);
        if (!chunk)
            return 0;
        uint32_t base = t->nchunks << SK_A6_CHUNK_BITS;
        t->chunks[t->nchunks++] = chunk;
        /* Handle 0 stands for "::": the first chunk's first slot stays unused. */
        for (uint32_t k = SK_A6_CHUNK; k-- > (base ? 0u : 1u);) {
            chunk[k].refs = 0;
            chunk[k].hnext = t->free_head;
            t->free_head = base + k;
        }
        if (!base)
            memset(&chunk[0], 0, sizeof(chunk[0]));
    }
    h = t->free_head;
    sk_addr6_ent *e = a6_ent(t, h);
    t->free_head = e->hnext;
    memcpy(e->a, a, 16);
    e->refs = 1;
    uint32_t b = a6_hash(s, a) & t->mask;
    e->hnext = t->buckets[b];
    t->buckets[b] = h;
    t->count++;
    return h;
}

void sk_addr6_hold(sk_stack *s, uint32_t h)
{
    if (h)
        a6_ent(&s->a6, h)->refs++;
}

static void a6_release_all(sk_stack *s)
{
    sk_addr6_table *t = &s->a6;
    for (uint32_t c = 0; c < t->nchunks; c++)
        sk_free(s, t->chunks[c]);
    sk_free(s, t->chunks);
    sk_free(s, t->buckets);
    memset(t, 0, sizeof(*t));
}

void sk_addr6_put(sk_stack *s, uint32_t h)
{
    if (!h)
        return;
    sk_addr6_table *t = &s->a6;
    sk_addr6_ent *e = a6_ent(t, h);
    if (--e->refs)
        return;
    uint32_t *pp = &t->buckets[a6_hash(s, e->a) & t->mask];
    while (*pp && *pp != h)
        pp = &a6_ent(t, *pp)->hnext;
    if (*pp == h)
        *pp = e->hnext;
    e->hnext = t->free_head;
    t->free_head = h;
    /* The last holder gone: give the memory back, so a stack that once
     * saw many IPv6 peers does not keep their table. */
    if (--t->count == 0)
        a6_release_all(s);
}

const uint8_t *sk_addr6_get(const sk_stack *s, uint32_t h)
{
    static const uint8_t any[16];
    return h ? a6_ent(&s->a6, h)->a : any;
}

void sk_addr6_destroy(sk_stack *s)
{
    sk_free(s, s->laddrs);
    s->laddrs = NULL;
    s->nladdrs = s->laddrs_cap = 0;
    a6_release_all(s);
}

/* ------------------------------------------------------------------ */
/* Local addresses                                                      */
/* ------------------------------------------------------------------ */

bool sk_addr_is_local_slow(const sk_stack *s, bool v6, uint32_t a)
{
    return a && sk_local_index(s, v6, a) < SK_MAX_LOCAL_ADDRS;
}

uint32_t sk_local_index(const sk_stack *s, bool v6, uint32_t a)
{
    for (uint32_t i = 0; i < s->nladdrs; i++)
        if (s->laddrs[i].v6 == v6 && s->laddrs[i].addr == a)
            return i;
    return SK_MAX_LOCAL_ADDRS;
}

static void update_primary(sk_stack *s)
{
    s->addr = 0;
    for (uint32_t i = 0; i < s->nladdrs; i++)
        if (!s->laddrs[i].v6) {
            s->addr = s->laddrs[i].addr;
            break;
        }
}

/* Adds like `ip addr add`: EEXIST for an address already held. */
int sk_stack_add_addr(sk_stack *s, const sk_endpoint *ep, unsigned prefix_len)
{
    if (!s || !ep)
        return -EFAULT;
    bool v6 = ep->family == SK_AF_INET6;
    if (ep->family != SK_AF_UNSPEC && ep->family != SK_AF_INET && !v6)
        return -EAFNOSUPPORT;
    if (prefix_len > (v6 ? 128u : 32u))
        return -EINVAL;
    if (v6 ? !sk_addr6_usable(ep->addr6) : !sk_addr4_usable(ep->addr))
        return -EINVAL;
    uint32_t a = v6 ? sk_addr6_find(s, ep->addr6) : ep->addr;
    if (a && sk_addr_is_local(s, v6, a))
        return -EEXIST;
    if (s->nladdrs >= SK_MAX_LOCAL_ADDRS)
        return -ENOSPC;
    if (s->nladdrs == s->laddrs_cap) {
        uint32_t ncap = s->laddrs_cap ? s->laddrs_cap * 2 : 4;
        sk_local_addr *n = sk_realloc(s, s->laddrs, sizeof(*n) * ncap);
        if (!n)
            return -ENOMEM;
        s->laddrs = n;
        s->laddrs_cap = ncap;
    }
    if (v6) {
        a = sk_addr6_intern(s, ep->addr6);
        if (!a)
            return -ENOMEM;
    }
    s->laddrs[s->nladdrs++] = (sk_local_addr){.addr = a, .v6 = v6, .prefix_len = (uint8_t)prefix_len};
    update_primary(s);
    return 0;
}

int sk_laddr_find(const sk_stack *s, const sk_endpoint *ep)
{
    if (!s || !ep)
        return -EFAULT;
    bool v6 = ep->family == SK_AF_INET6;
    if (ep->family != SK_AF_UNSPEC && ep->family != SK_AF_INET && !v6)
        return -EAFNOSUPPORT;
    uint32_t a = v6 ? sk_addr6_find(s, ep->addr6) : ep->addr;
    uint32_t i = a ? sk_local_index(s, v6, a) : SK_MAX_LOCAL_ADDRS;
    return i < SK_MAX_LOCAL_ADDRS ? (int)i : -EADDRNOTAVAIL;
}

void sk_laddr_remove(sk_stack *s, uint32_t i)
{
    bool v6 = s->laddrs[i].v6;
    uint32_t a = s->laddrs[i].addr;
    memmove(&s->laddrs[i], &s->laddrs[i + 1], sizeof(s->laddrs[0]) * (s->nladdrs - i - 1));
    s->nladdrs--;
    update_primary(s);
    sk_addr_put(s, v6, a);
}

size_t sk_stack_addrs(const sk_stack *s, sk_endpoint *out, uint8_t *prefix_len, size_t max)
{
    if (!s)
        return 0;
    for (uint32_t i = 0; i < s->nladdrs && i < max; i++) {
        if (out)
            sk_addr_endpoint(s, s->laddrs[i].v6, false, s->laddrs[i].addr, 0, &out[i]);
        if (prefix_len)
            prefix_len[i] = s->laddrs[i].prefix_len;
    }
    return s->nladdrs;
}

/* Bits two addresses share from the top. */
static unsigned common_prefix(const uint8_t *a, const uint8_t *b, unsigned bytes)
{
    unsigned n = 0;
    for (unsigned i = 0; i < bytes; i++) {
        uint8_t x = a[i] ^ b[i];
        if (!x) {
            n += 8;
            continue;
        }
        while (!(x & 0x80)) {
            n++;
            x <<= 1;
        }
        break;
    }
    return n;
}

bool sk_select_saddr(const sk_stack *s, bool v6, uint32_t daddr, uint32_t *saddr)
{
    if (s->nladdrs == 1) { /* the common case: nothing to choose */
        if (s->laddrs[0].v6 != v6)
            return false;
        *saddr = s->laddrs[0].addr;
        return true;
    }
    /* IPv4: the address whose subnet holds the peer (the route to it),
     * else the first (Linux's primary address).  IPv6: RFC 6724 rule 8,
     * the longest common prefix, counted up to the source's prefix
     * length; ties go to the first. */
    int best = -1;
    unsigned best_len = 0;
    uint8_t d4[4] = {(uint8_t)(daddr >> 24), (uint8_t)(daddr >> 16), (uint8_t)(daddr >> 8), (uint8_t)daddr};
    for (uint32_t i = 0; i < s->nladdrs; i++) {
        const sk_local_addr *l = &s->laddrs[i];
        if (l->v6 != v6)
            continue;
        unsigned len;
        if (v6) {
            len = common_prefix(sk_addr6_get(s, l->addr), sk_addr6_get(s, daddr), 16);
        } else {
            uint8_t a4[4] = {(uint8_t)(l->addr >> 24), (uint8_t)(l->addr >> 16), (uint8_t)(l->addr >> 8),
                             (uint8_t)l->addr};
            len = common_prefix(a4, d4, 4);
            len = len >= l->prefix_len ? 1 : 0; /* on the subnet or not */
        }
        if (v6 && len > l->prefix_len)
            len = l->prefix_len;
        if (best < 0 || len > best_len) {
            best = (int)i;
            best_len = len;
        }
    }
    if (best < 0)
        return false;
    *saddr = s->laddrs[best].addr;
    return true;
}

/* ------------------------------------------------------------------ */
/* Keys, endpoints, routes                                              */
/* ------------------------------------------------------------------ */

bool sk_seg_key6(const sk_stack *s, const sk_segment *seg, sk_key *k)
{
    k->lport = seg->dport;
    k->rport = seg->sport;
    k->v6 = true;
    k->laddr = sk_addr6_find(s, seg->dst6);
    k->raddr = sk_addr6_find(s, seg->src6);
    return k->laddr && k->raddr;
}

bool sk_seg_key_intern(sk_stack *s, const sk_segment *seg, sk_key *k)
{
    if (!sk_seg_key(s, seg, k) && !k->v6)
        return false;
    if (!k->v6)
        return true;
    k->laddr = sk_addr6_intern(s, seg->dst6);
    k->raddr = sk_addr6_intern(s, seg->src6);
    if (!k->laddr || !k->raddr) {
        sk_key_put(s, k);
        return false;
    }
    return true;
}

void sk_key_put(sk_stack *s, const sk_key *k)
{
    sk_addr_put(s, k->v6, k->laddr);
    sk_addr_put(s, k->v6, k->raddr);
}

void sk_addr_endpoint_slow(const sk_stack *s, bool v6, bool mapped, uint32_t a, uint16_t port, sk_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->port = port;
    if (v6) {
        ep->family = SK_AF_INET6;
        memcpy(ep->addr6, sk_addr6_get(s, a), 16);
    } else if (mapped) {
        /* ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), as an AF_INET6 socket
         * reports an IPv4 peer; .addr keeps the IPv4 address too. */
        ep->family = SK_AF_INET6;
        ep->addr = a;
        if (a) {
            ep->addr6[10] = ep->addr6[11] = 0xff;
            ep->addr6[12] = (uint8_t)(a >> 24);
            ep->addr6[13] = (uint8_t)(a >> 16);
            ep->addr6[14] = (uint8_t)(a >> 8);
            ep->addr6[15] = (uint8_t)a;
        }
    } else {
        ep->family = SK_AF_INET;
        ep->addr = a;
    }
}

/* A socket's addresses are of one family: setting either may switch it
 * (an AF_INET6 socket bound to :: connecting to an IPv4-mapped peer). */
void sk_tcb_set_laddr(sk_stack *s, sk_tcb *t, bool v6, uint32_t a)
{
    sk_addr_hold(s, v6, a);
    sk_addr_put(s, t->af6, t->laddr);
    if (t->af6 != v6) {
        sk_addr_put(s, t->af6, t->raddr);
        t->raddr = 0;
    }
    t->laddr = a;
    t->af6 = v6;
}

void sk_tcb_set_raddr(sk_stack *s, sk_tcb *t, bool v6, uint32_t a)
{
    sk_addr_hold(s, v6, a);
    sk_addr_put(s, t->af6, t->raddr);
    if (t->af6 != v6) {
        sk_addr_put(s, t->af6, t->laddr);
        t->laddr = 0;
    }
    t->raddr = a;
    t->af6 = v6;
}

void sk_tcb_put_addrs(sk_stack *s, sk_tcb *t)
{
    sk_addr_put(s, t->af6, t->laddr);
    sk_addr_put(s, t->af6, t->raddr);
    t->laddr = t->raddr = 0;
}

void sk_route_key6(const sk_stack *s, const sk_key *k, sk_route *r)
{
    memset(r, 0, sizeof(*r));
    r->v6 = k->v6;
    if (k->v6) {
        r->src6 = sk_addr6_get(s, k->laddr);
        r->dst6 = sk_addr6_get(s, k->raddr);
    } else {
        r->src = k->laddr;
        r->dst = k->raddr;
    }
}

void sk_route_tcb6(const sk_stack *s, const sk_tcb *t, sk_route *r)
{
    sk_key k = sk_tcb_key(t);
    sk_route_key6(s, &k, r);
    if (t->ext) {
        r->txhash_gen = t->ext->txhash_gen;
        r->tclass = t->ext->tclass1 ? (uint8_t)(t->ext->tclass1 - 1) : 0;
        /* A hop limit of 0 (which Linux would send) goes out as 64: the
         * builder reads 0 as its default. */
        r->hops = t->ext->hops1 ? (uint8_t)(t->ext->hops1 - 1) : 0;
        r->flowlabel = sk_ip6_flowlabel(t); /* set by connect() with IPV6_FLOWINFO_SEND */
    }
}

/* Linux's ip6_make_flowlabel() with auto_flowlabels: the flow's hash
 * (the socket's txhash, which tcp_v6 derives per connection and an RTO
 * re-chooses), rotated by 16 and cut to 20 bits.  Here the hash is a
 * keyed one of the 4-tuple and the re-choice count, so a connection's
 * SYN-ACK, data and RSTs share one label, as Linux's do. */
uint32_t sk_auto_flowlabel(sk_stack *s, const uint8_t src6[16], const uint8_t dst6[16], uint16_t sport,
                           uint16_t dport, uint32_t gen)
{
    uint8_t in[40];
    memcpy(in, src6, 16);
    memcpy(in + 16, dst6, 16);
    in[32] = (uint8_t)(sport >> 8);
    in[33] = (uint8_t)sport;
    in[34] = (uint8_t)(dport >> 8);
    in[35] = (uint8_t)dport;
    in[36] = (uint8_t)(gen >> 24);
    in[37] = (uint8_t)(gen >> 16);
    in[38] = (uint8_t)(gen >> 8);
    in[39] = (uint8_t)gen;
    if (s->fl_valid && memcmp(s->fl_in, in, sizeof in) == 0)
        return s->fl_val;
    uint32_t h = (uint32_t)sk_siphash24(s->isn_key, in, sizeof in);
    h = (h << 16) | (h >> 16);
    memcpy(s->fl_in, in, sizeof in);
    s->fl_val = h & 0xfffffu;
    s->fl_valid = true;
    return s->fl_val;
}

void sk_route_reply(const sk_segment *seg, sk_route *r)
{
    memset(r, 0, sizeof(*r));
    r->v6 = seg->ip_version == 6;
    r->src = seg->dst;
    r->dst = seg->src;
    r->src6 = seg->dst6;
    r->dst6 = seg->src6;
}

uint32_t sk_key_isn(const sk_stack *s, const sk_key *k)
{
    if (k->v6)
        return sk_isn6(s->isn_key, sk_addr6_get(s, k->laddr), k->lport, sk_addr6_get(s, k->raddr), k->rport,
                       s->now);
    return sk_isn(s->isn_key, k->laddr, k->lport, k->raddr, k->rport, s->now);
}

uint32_t sk_key_ts_off(const sk_stack *s, const sk_key *k)
{
    if (k->v6)
        return sk_ts_offset6(s->isn_key, sk_addr6_get(s, k->laddr), sk_addr6_get(s, k->raddr));
    if (s->tsoff_valid && s->tsoff_laddr == k->laddr && s->tsoff_raddr == k->raddr)
        return s->tsoff_val;
    /* The offset is a pure function of the key and the pair, so keeping
     * the last one changes nothing but its cost (a SipHash). */
    sk_stack *w = (sk_stack *)s;
    w->tsoff_laddr = k->laddr;
    w->tsoff_raddr = k->raddr;
    w->tsoff_val = sk_ts_offset(s->isn_key, k->laddr, k->raddr);
    w->tsoff_valid = true;
    return w->tsoff_val;
}


/* RFC 5952 text: lower case, the longest run (two or more) of zero
 * groups as "::", leftmost on a tie; IPv4-mapped as ::ffff:a.b.c.d. */
void sk_addr6_format(const uint8_t a[16], char *buf, size_t len)
{
    if (!len)
        return;
    if (sk_addr6_is_v4mapped(a)) {
        snprintf(buf, len, "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        return;
    }
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
    int best = -1, best_n = 1;
    for (int i = 0; i < 8;) {
        if (g[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !g[j])
            j++;
        if (j - i > best_n) {
            best = i;
            best_n = j - i;
        }
        i = j;
    }
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < 8 && off < len; i++) {
        if (i == best) {
            off += (size_t)snprintf(buf + off, len - off, "::");
            i += best_n - 1;
            continue;
        }
        bool colon = i > 0 && i != best + best_n;
        off += (size_t)snprintf(buf + off, len - off, colon ? ":%x" : "%x", g[i]);
    }
}

/* The stand-in for a TPROXY rule without --dport (input.c's
 * nonlocal_listener reads it). */
int sk_stack_set_tproxy(sk_stack *s, uint16_t on_port)
{
    if (!s)
        return -EFAULT;
    s->tproxy_port = on_port;
    return 0;
}
