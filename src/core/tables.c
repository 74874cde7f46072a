/*
 * The stack's lookup tables: the handle (fd) table, the connection hash by
 * 4-tuple, the listener hash, and the bind buckets that count port users.
 */
#include "tables.h"
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

static inline uint32_t port_hash(uint16_t port) { return (uint32_t)port * 0x9e3779b1u >> 16; }

static void bind_grow(sk_stack *s)
{
    uint32_t nmask = s->bind_mask * 2 + 1;
    sk_bind_bucket **nb = sk_calloc(s, (size_t)nmask + 1, sizeof(*nb));
    if (!nb)
        return; /* longer chains, same answers */
    for (uint32_t i = 0; i <= s->bind_mask; i++) {
        while (s->bind_buckets[i]) {
            sk_bind_bucket *b = s->bind_buckets[i];
            s->bind_buckets[i] = b->next;
            uint32_t h = port_hash(b->port) & nmask;
            b->next = nb[h];
            nb[h] = b;
        }
    }
    sk_free(s, s->bind_buckets);
    s->bind_buckets = nb;
    s->bind_mask = nmask;
}

sk_bind_bucket *sk_bind_bucket_get(sk_stack *s, uint16_t port, bool create)
{
    sk_bind_bucket **head = &s->bind_buckets[port_hash(port) & s->bind_mask];
    for (sk_bind_bucket *b = *head; b; b = b->next)
        if (b->port == port)
            return b;
    if (!create)
        return NULL;
    sk_bind_bucket *b = sk_calloc(s, 1, sizeof(*b));
    if (!b)
        return NULL;
    b->port = port;
    if (s->bind_count > s->bind_mask && s->bind_mask < 65535) {
        bind_grow(s);
        head = &s->bind_buckets[port_hash(port) & s->bind_mask];
    }
    b->next = *head;
    *head = b;
    s->bind_count++;
    return b;
}

void sk_bind_bucket_release(sk_stack *s, sk_bind_bucket *b)
{
    if (b->refs || b->listeners || b->tw)
        return;
    sk_bind_bucket **pp = &s->bind_buckets[port_hash(b->port) & s->bind_mask];
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = b->next;
        s->bind_count--;
    }
    sk_free(s, b);
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
