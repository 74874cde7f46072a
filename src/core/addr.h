/*
 * Addresses (addr.c): IPv4-mapped and IPv6 address handling, reference-counted local
 * addresses, demultiplexing keys, routes for what we send, source selection.
 */
#ifndef SK_ADDR_H
#define SK_ADDR_H

#include "stack.h"

/* ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) */
static inline bool sk_addr6_is_v4mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}
static inline bool sk_addr6_is_any(const uint8_t a[16])
{
    static const uint8_t any[16];
    return memcmp(a, any, 16) == 0;
}
/* Addresses a TCP endpoint may have: unicast (tcp_v4_rcv takes only
 * PACKET_HOST), so not 0.0.0.0, multicast, class E or broadcast; for
 * IPv6 not ::, multicast or IPv4-mapped. */
static inline bool sk_addr4_usable(uint32_t a) { return a != 0 && (a >> 28) < 0xe; }
static inline bool sk_addr6_usable(const uint8_t a[16])
{
    return a[0] != 0xff && !sk_addr6_is_any(a) && !sk_addr6_is_v4mapped(a);
}
static inline uint32_t sk_addr6_v4(const uint8_t a[16])
{
    return (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
}
uint32_t sk_addr6_intern(sk_stack *s, const uint8_t a[16]); /* a new reference; 0 when out of memory */
void sk_addr6_format(const uint8_t a[16], char *buf, size_t len); /* RFC 5952 text */
uint32_t sk_addr6_find(const sk_stack *s, const uint8_t a[16]); /* no reference; 0 if absent */
void sk_addr6_hold(sk_stack *s, uint32_t h);
void sk_addr6_put(sk_stack *s, uint32_t h);
const uint8_t *sk_addr6_get(const sk_stack *s, uint32_t h);
void sk_addr6_destroy(sk_stack *s);
/* Reference counting of an address of either family: nothing for IPv4
 * or handle 0. */
static inline void sk_addr_hold(sk_stack *s, bool v6, uint32_t a)
{
    if (v6 && a)
        sk_addr6_hold(s, a);
}
static inline void sk_addr_put(sk_stack *s, bool v6, uint32_t a)
{
    if (v6 && a)
        sk_addr6_put(s, a);
}
/* Is this a local address of the stack (a handle for IPv6)? */
bool sk_addr_is_local_slow(const sk_stack *s, bool v6, uint32_t a);
/* Its index among the stack's addresses (SK_MAX_LOCAL_ADDRS if none). */
uint32_t sk_local_index(const sk_stack *s, bool v6, uint32_t a);
/* sk_stack_del_addr's two halves (stack.c tells the listeners between
 * them, so the table need not know who holds its indexes): the index of
 * an endpoint among the stack's addresses, or -EFAULT, -EAFNOSUPPORT,
 * -EADDRNOTAVAIL; and the removal of the address at that index, whose
 * successors move down one place. */
int sk_laddr_find(const sk_stack *s, const sk_endpoint *ep);
void sk_laddr_remove(sk_stack *s, uint32_t i);
/* The demultiplexing key of an arriving segment; false when an IPv6
 * address in it is in no table, so nothing of ours can match. */
bool sk_seg_key6(const sk_stack *s, const sk_segment *seg, sk_key *k);
/* The same, interning the addresses: the key then holds a reference to
 * each (release with sk_key_put); false when out of memory. */
bool sk_seg_key_intern(sk_stack *s, const sk_segment *seg, sk_key *k);
void sk_key_put(sk_stack *s, const sk_key *k);
static inline sk_key sk_tcb_key(const sk_tcb *t)
{
    return (sk_key){.laddr = t->laddr, .raddr = t->raddr, .lport = t->lport, .rport = t->rport, .v6 = t->af6};
}
/* An endpoint from an address as stored: IPv6 when v6, an IPv4-mapped
 * IPv6 address when `mapped` (an AF_INET6 socket's IPv4 peer), else IPv4. */
void sk_addr_endpoint_slow(const sk_stack *s, bool v6, bool mapped, uint32_t a, uint16_t port, sk_endpoint *ep);
/* Sets a socket's addresses, holding new references and dropping old ones. */
void sk_tcb_set_laddr(sk_stack *s, sk_tcb *t, bool v6, uint32_t a);
void sk_tcb_set_raddr(sk_stack *s, sk_tcb *t, bool v6, uint32_t a);
void sk_tcb_put_addrs(sk_stack *s, sk_tcb *t);
/* Routes for what we send: a connection's, a reply to a segment. */
void sk_route_tcb6(const sk_stack *s, const sk_tcb *t, sk_route *r);
void sk_route_key6(const sk_stack *s, const sk_key *k, sk_route *r);
void sk_route_reply(const sk_segment *seg, sk_route *r);
uint32_t sk_auto_flowlabel(sk_stack *s, const uint8_t src6[16], const uint8_t dst6[16], uint16_t sport,
                           uint16_t dport, uint32_t gen);
/* Source address selection for connect() (the address of the family
 * whose prefix matches the peer best, else the first); false if the
 * stack holds no address of the family. */
bool sk_select_saddr(const sk_stack *s, bool v6, uint32_t daddr, uint32_t *saddr);
/* Keyed values over a key's addresses of either family. */
uint32_t sk_key_isn(const sk_stack *s, const sk_key *k);
uint32_t sk_key_ts_off(const sk_stack *s, const sk_key *k);
/* The connection table's hash: the local address is left out (chains
 * are short and the compare checks it), so IPv4 keys hash as before the
 * stack had several addresses; IPv6 handles are set apart. */
static inline uint32_t sk_key_hash(const sk_key *k)
{
    uint64_t x = ((uint64_t)(k->raddr ^ (k->v6 ? 0x6a09e667u : 0)) << 32) | ((uint32_t)k->rport << 16) | k->lport;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}
static inline bool sk_key_eq(const sk_key *a, uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport,
                             bool v6)
{
    return a->raddr == raddr && a->rport == rport && a->lport == lport && a->laddr == laddr && a->v6 == v6;
}
/* The MSS the link allows for a family (Linux's tcp_mtu_to_mss at the
 * device MTU: 40 or 60 bytes of headers; IPv6 at least IPV6_MIN_MTU). */
static inline uint16_t sk_link_mss(const sk_stack *s, bool v6)
{
    if (!v6)
        return (uint16_t)(s->mtu - 40);
    /* An IPv6 link is at least IPV6_MIN_MTU (RFC 8200 §5). */
    return (uint16_t)((s->mtu < 1280 ? 1280 : s->mtu) - 60);
}
/* addr.c's accessors, with the IPv4 cases inline: they run for every
 * segment and event. */
static inline bool sk_addr_is_local(const sk_stack *s, bool v6, uint32_t a)
{
    if (!v6 && a && a == s->addr)
        return true;
    return sk_addr_is_local_slow(s, v6, a);
}
static inline bool sk_seg_key(const sk_stack *s, const sk_segment *seg, sk_key *k)
{
    if (seg->ip_version != 6) {
        *k = (sk_key){.laddr = seg->dst, .raddr = seg->src, .lport = seg->dport, .rport = seg->sport};
        return true;
    }
    return sk_seg_key6(s, seg, k);
}
static inline void sk_addr_endpoint(const sk_stack *s, bool v6, bool mapped, uint32_t a, uint16_t port,
                                    sk_endpoint *ep)
{
    if (!v6 && !mapped) {
        *ep = (sk_endpoint){.addr = a, .port = port, .family = SK_AF_INET};
        return;
    }
    sk_addr_endpoint_slow(s, v6, mapped, a, port, ep);
}
static inline void sk_tcb_local(const sk_stack *s, const sk_tcb *t, sk_endpoint *ep)
{
    sk_addr_endpoint(s, t->af6, t->sock6, t->laddr, t->lport, ep);
}
static inline void sk_tcb_remote(const sk_stack *s, const sk_tcb *t, sk_endpoint *ep)
{
    sk_addr_endpoint(s, t->af6, t->sock6, t->raddr, t->rport, ep);
}
/* sk_tcb_local for events and listings: an IPv4 socket on 0.0.0.0 shows
 * the stack's first address, as events did when the stack had one. */
static inline void sk_tcb_local_shown(const sk_stack *s, const sk_tcb *t, sk_endpoint *ep)
{
    sk_tcb_local(s, t, ep);
    if (!t->af6 && !t->sock6 && !t->laddr)
        ep->addr = s->addr;
}
static inline void sk_route_key(const sk_stack *s, const sk_key *k, sk_route *r)
{
    if (!k->v6) {
        *r = (sk_route){.src = k->laddr, .dst = k->raddr};
        return;
    }
    sk_route_key6(s, k, r);
}
static inline void sk_route_tcb(const sk_stack *s, const sk_tcb *t, sk_route *r)
{
    if (!t->af6) {
        *r = (sk_route){.src = t->laddr, .dst = t->raddr};
        return;
    }
    sk_route_tcb6(s, t, r);
}

#endif
