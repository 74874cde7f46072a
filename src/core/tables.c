/*
 * The stack's lookup tables: the handle (fd) table, the connection hash by
 * 4-tuple, the listener hash, and the bind buckets that count port users.
 */
#include "tables.h"
#include "bytes.h"
#include "isn.h"
#include "addr.h"
#include "stack.h"

int sk_fd_install(sk_stack *s, sk_tcb *t)
{
    /* The lowest free handle, as POSIX hands out descriptors; the hint
     * keeps a stack filling up with connections from rescanning. */
    uint32_t i;
    for (i = s->fd_hint; i < s->fds_cap; i++)
        if (!s->fds[i])
            break;
    if (i == s->fds_cap) {
        if (s->fds_cap >= (1u << 24))
            return -EMFILE;
        uint32_t ncap = s->fds_cap * 2;
        sk_tcb **nf = sk_realloc(s, s->fds, (size_t)ncap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        memset(nf + s->fds_cap, 0, (size_t)(ncap - s->fds_cap) * sizeof(*nf));
        s->fds = nf;
        s->fds_cap = ncap;
    }
    s->fds[i] = t;
    t->fd = (int)i;
    s->fd_hint = i + 1;
    return (int)i;
}

sk_tcb *sk_fd_get(sk_stack *s, int fd)
{
    if (fd < 0 || (uint32_t)fd >= s->fds_cap)
        return NULL;
    return s->fds[fd];
}

/* ------------------------------------------------------------------ */
/* Connection table: chained hash of full TCBs by their 4-tuple         */
/* ------------------------------------------------------------------ */

static inline uint32_t tcb_hash(const sk_tcb *t)
{
    sk_key k = sk_tcb_key(t);
    return sk_key_hash(&k);
}

sk_tcb *sk_conn_lookup(sk_stack *s, const sk_key *k)
{
    sk_tcb *t = s->conn_buckets[sk_key_hash(k) & s->conn_mask];
    for (; t; t = t->hnext)
        if (sk_key_eq(k, t->laddr, t->raddr, t->lport, t->rport, t->af6))
            return t;
    return NULL;
}

static void conn_grow(sk_stack *s)
{
    uint32_t nmask = s->conn_mask * 2 + 1;
    sk_tcb **nb = sk_calloc(s, (size_t)nmask + 1, sizeof(*nb));
    if (!nb)
        return; /* keep the longer chains; correctness is unaffected */
    for (uint32_t b = 0; b <= s->conn_mask; b++) {
        sk_tcb *t = s->conn_buckets[b];
        while (t) {
            sk_tcb *next = t->hnext;
            uint32_t h = tcb_hash(t) & nmask;
            t->hnext = nb[h];
            nb[h] = t;
            t = next;
        }
    }
    sk_free(s, s->conn_buckets);
    s->conn_buckets = nb;
    s->conn_mask = nmask;
}

void sk_conn_hash(sk_stack *s, sk_tcb *t)
{
    if (t->sflags & SK_S_HASHED)
        return;
    if (s->conn_count > s->conn_mask)
        conn_grow(s);
    uint32_t h = tcb_hash(t) & s->conn_mask;
    t->hnext = s->conn_buckets[h];
    s->conn_buckets[h] = t;
    t->sflags |= SK_S_HASHED;
    s->conn_count++;
}

void sk_conn_unhash(sk_stack *s, sk_tcb *t)
{
    if (!(t->sflags & SK_S_HASHED))
        return;
    sk_tcb **pp = &s->conn_buckets[tcb_hash(t) & s->conn_mask];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    t->hnext = NULL;
    t->sflags &= ~SK_S_HASHED;
    s->conn_count--;
}

/* Listeners are few; a small table by port, chained through hnext. */
sk_tcb *sk_listener_lookup(sk_stack *s, bool v6, uint32_t daddr, uint16_t lport)
{
    sk_tcb *best = NULL;
    int best_score = 0;
    for (sk_tcb *l = s->listeners[lport & 63]; l; l = l->hnext) {
        if (l->lport != lport)
            continue;
        int score;
        if (v6) {
            if (!l->af6 || (l->laddr && l->laddr != daddr))
                continue;
            score = l->laddr ? 4 : 1;
        } else if (!l->af6) {
            /* AF_INET, or AF_INET6 bound to an IPv4-mapped address */
            if (l->laddr && l->laddr != daddr)
                continue;
            score = (l->laddr ? 4 : 1) + !l->sock6;
        } else {
            /* An AF_INET6 socket on :: takes IPv4 unless IPV6_V6ONLY. */
            if (l->laddr || (l->sndstate & SK_SOCK_V6ONLY))
                continue;
            score = 1;
        }
        if (score > best_score) {
            best = l;
            best_score = score;
        }
    }
    return best;
}

/* Members of one group: SO_REUSEPORT listeners on the same port and
 * the very same bind address and family (Linux's reuseport_add_sock
 * joins a socket to the group of a listener with equal rcv_saddr,
 * ipv6only and owner; synack has a single owner). */
static bool same_group(const sk_tcb *a, const sk_tcb *b)
{
    return (b->sopts & SK_O_REUSEPORT) && a->lport == b->lport && a->af6 == b->af6 && a->sock6 == b->sock6 &&
           a->laddr == b->laddr && ((a->sndstate ^ b->sndstate) & SK_SOCK_V6ONLY) == 0;
}

/* Linux's reuseport_select_sock with no BPF program: the group's socket
 * at reciprocal_scale(hash, n), so a flow keeps its listener while the
 * group is unchanged.  The group is in the order its listeners joined
 * (the chain is newest first); one leaving closes the gap where Linux
 * moves its last socket into it, which re-maps other flows differently
 * but as deterministically.  Only listeners are chained, so a socket
 * bound with SO_REUSEPORT that never listened takes no SYN. */
static sk_tcb *listener_select(sk_stack *s, sk_tcb *l, uint32_t hash)
{
    uint32_t n = 0;
    for (sk_tcb *u = s->listeners[l->lport & 63]; u; u = u->hnext)
        n += same_group(l, u);
    uint32_t pick = (uint32_t)(((uint64_t)hash * n) >> 32); /* reciprocal_scale */
    uint32_t from_head = n - 1 - pick;
    for (sk_tcb *u = s->listeners[l->lport & 63]; u; u = u->hnext)
        if (same_group(l, u) && from_head-- == 0)
            return u;
    return l;
}

sk_tcb *sk_listener_select4(sk_stack *s, sk_tcb *l, uint32_t laddr, uint32_t raddr, uint16_t lport,
                            uint16_t rport)
{
    if (!l || !(l->sopts & SK_O_REUSEPORT))
        return l;
    uint8_t a[8];
    sk_put_be32(a, laddr);
    sk_put_be32(a + 4, raddr);
    return listener_select(s, l, sk_reuseport_hash(s->isn_key, 4, a, a + 4, lport, rport));
}

sk_tcb *sk_listener_select6(sk_stack *s, sk_tcb *l, const uint8_t *laddr, const uint8_t *raddr, uint16_t lport,
                            uint16_t rport)
{
    if (!l || !(l->sopts & SK_O_REUSEPORT) || !laddr || !raddr)
        return l;
    return listener_select(s, l, sk_reuseport_hash(s->isn_key, 16, laddr, raddr, lport, rport));
}

void sk_listener_hash(sk_stack *s, sk_tcb *t)
{
    t->hnext = s->listeners[t->lport & 63];
    s->listeners[t->lport & 63] = t;
    t->sflags |= SK_S_HASHED;
}

void sk_listener_unhash(sk_stack *s, sk_tcb *t)
{
    if (!(t->sflags & SK_S_HASHED))
        return;
    sk_tcb **pp = &s->listeners[t->lport & 63];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    t->hnext = NULL;
    t->sflags &= ~SK_S_HASHED;
}

/* ------------------------------------------------------------------ */
/* Bind buckets                                                         */
/* ------------------------------------------------------------------ */

/* The bind table's home slot of a port: the top 17 bits of a Fibonacci
 * hash (enough for 65536 ports), so consecutive ephemeral ports spread
 * over the table instead of filling one run. */
static inline uint32_t port_slot(uint16_t port, uint32_t mask) { return ((uint32_t)port * 0x9e3779b1u >> 15) & mask; }

static bool bind_grow(sk_stack *s)
{
    uint32_t nmask = s->bind_mask * 2 + 1;
    sk_bind_bucket *nt = sk_calloc(s, (size_t)nmask + 1, sizeof(*nt));
    if (!nt)
        return false;
    for (uint32_t i = 0; i <= s->bind_mask; i++) {
        const sk_bind_bucket *b = &s->bind_table[i];
        if (!b->used)
            continue;
        uint32_t j = port_slot(b->port, nmask);
        while (nt[j].used)
            j = (j + 1) & nmask;
        nt[j] = *b;
    }
    sk_free(s, s->bind_table);
    s->bind_table = nt;
    s->bind_mask = nmask;
    return true;
}

/* A new bucket for `port`, which is not in the table; `i` is the empty
 * slot its probe ended on.  Kept out of line so that the lookup, six
 * calls per connection lifecycle, saves no registers for it. */
static __attribute__((noinline)) sk_bind_bucket *bind_insert(sk_stack *s, uint16_t port, uint32_t i)
{
    /* At most 3/4 full (20-byte slots: 27 to 53 bytes a port), so a
     * probe for a missing port (every bind() and connect() port search
     * asks) ends soon; if the table cannot grow it fills further, keeping
     * one slot empty to end every probe. */
    if ((s->bind_count + 1) * 4 > (s->bind_mask + 1) * 3) {
        if (bind_grow(s)) {
            for (i = port_slot(port, s->bind_mask); s->bind_table[i].used; i = (i + 1) & s->bind_mask)
                ;
        } else if (s->bind_count + 1 > s->bind_mask) {
            return NULL;
        }
    }
    sk_bind_bucket *b = &s->bind_table[i];
    memset(b, 0, sizeof(*b));
    b->port = port;
    b->used = true;
    s->bind_count++;
    return b;
}

sk_bind_bucket *sk_bind_bucket_get(sk_stack *s, uint16_t port, bool create)
{
    uint32_t i = port_slot(port, s->bind_mask);
    for (; s->bind_table[i].used; i = (i + 1) & s->bind_mask)
        if (s->bind_table[i].port == port)
            return &s->bind_table[i];
    return create ? bind_insert(s, port, i) : NULL;
}

/* Removal from a linear-probing table without tombstones: later entries
 * of the run move back into the hole when their home slot is not between
 * the hole and them (Knuth's Algorithm R). */
void sk_bind_bucket_release(sk_stack *s, sk_bind_bucket *b)
{
    if (b->refs || b->listeners || b->tw)
        return;
    uint32_t mask = s->bind_mask, hole = (uint32_t)(b - s->bind_table);
    for (uint32_t j = (hole + 1) & mask; s->bind_table[j].used; j = (j + 1) & mask) {
        uint32_t home = port_slot(s->bind_table[j].port, mask);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            s->bind_table[hole] = s->bind_table[j];
            hole = j;
        }
    }
    memset(&s->bind_table[hole], 0, sizeof(s->bind_table[hole]));
    s->bind_count--;
}

void sk_port_ref(sk_stack *s, sk_tcb *t)
{
    sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, true);
    if (!b)
        return;
    b->refs++;
    if (!(t->sopts & SK_O_REUSEADDR))
        b->noreuse++;
    if (t->sflags & SK_S_USER_BOUND)
        b->user_bound++;
    t->sflags |= SK_S_BOUND;
}

void sk_port_unref(sk_stack *s, sk_tcb *t)
{
    if (!(t->sflags & SK_S_BOUND))
        return;
    sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, false);
    t->sflags &= ~SK_S_BOUND;
    if (!b)
        return;
    b->refs--;
    if (!(t->sopts & SK_O_REUSEADDR) && b->noreuse)
        b->noreuse--;
    if ((t->sflags & SK_S_USER_BOUND) && b->user_bound)
        b->user_bound--;
    sk_bind_bucket_release(s, b);
}
