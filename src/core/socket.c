/*
 * The socket calls.  Each returns what the Linux call returns, with the
 * errno negated; all are non-blocking.  Where Linux's behaviour is subtle
 * (connect() after completion, send() on a reset socket, close() with
 * unread data) the comment names the kernel function being matched.
 */

#include "addr.h"
#include "cc.h"
#include "eor.h"
#include "events.h"
#include "fastopen.h"
#include "icmp.h"
#include "listen.h"
#include "output.h"
#include "rcvbuf.h"
#include "sndbuf.h"
#include "sockinfo.h"
#include "stack.h"
#include "tables.h"
#include "timers.h"
#include "timewait.h"

#define SOCK_MIN_SNDBUF 4608u
#define SOCK_MIN_RCVBUF 2304u

static sk_tcb *get(sk_stack *s, int fd) { return sk_fd_get(s, fd); }

int sk_socket(sk_stack *s) { return sk_socket_family(s, SK_AF_INET); }

int sk_socket_family(sk_stack *s, int family)
{
    /* inet_create/inet6_create: other families are not ours. */
    if (family != SK_AF_INET && family != SK_AF_INET6)
        return -EAFNOSUPPORT;
    sk_tcb *t = sk_tcb_alloc(s);
    if (!t)
        return -ENOBUFS;
    t->laddr = 0;
    if (family == SK_AF_INET6) {
        /* Bound to "::" until bind(); inet6_create takes sk_ipv6only
         * from net.ipv6.bindv6only. */
        t->sock6 = 1;
        t->af6 = 1;
        if (s->cfg.ipv6_bindv6only)
            t->sndstate |= SK_SOCK_V6ONLY;
    }
    int fd = sk_fd_install(s, t);
    if (fd < 0)
        sk_free(s, t);
    return fd;
}

/* An address the application passed, read for socket t as Linux reads
 * a sockaddr: an AF_INET socket takes AF_INET (or 0, read as AF_INET);
 * an AF_INET6 socket takes AF_INET6 only, an IPv4-mapped address
 * meaning IPv4.  -EAFNOSUPPORT otherwise (inet_bind, inet6_bind,
 * tcp_v4_connect, tcp_v6_connect). */
typedef struct user_addr {
    bool v6, any;
    uint32_t a4;
    const uint8_t *a6;
} user_addr;

static int read_user_addr(const sk_tcb *t, const sk_endpoint *ep, user_addr *u)
{
    memset(u, 0, sizeof(*u));
    if (!t->sock6) {
        if (ep->family != SK_AF_UNSPEC && ep->family != SK_AF_INET)
            return -EAFNOSUPPORT;
        u->a4 = ep->addr;
        u->any = ep->addr == 0;
        return 0;
    }
    if (ep->family != SK_AF_INET6)
        return -EAFNOSUPPORT;
    if (sk_addr6_is_v4mapped(ep->addr6)) {
        u->a4 = sk_addr6_v4(ep->addr6);
        u->any = u->a4 == 0;
        return 0;
    }
    u->v6 = true;
    u->a6 = ep->addr6;
    u->any = true;
    for (int i = 0; i < 16; i++)
        if (ep->addr6[i])
            u->any = false;
    return 0;
}

/* fe80::/10: an address that means something only on one link, so a
 * socket using it must name the device (__ipv6_addr_needs_scope_id). */
static bool link_local6(const uint8_t a[16]) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }

/* __inet6_bind and tcp_v6_connect for a link-local address: a scope id
 * binds the socket to that device (EINVAL if it is already bound to
 * another), and without one bound before the call fails with EINVAL. */
static int take_scope(sk_stack *s, sk_tcb *t, uint32_t scope_id)
{
    sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    uint32_t bound = pm ? pm->bound_dev_if : 0;
    if (scope_id) {
        if (bound && bound != scope_id)
            return -EINVAL;
        pm = sk_pmtu_conn_get(s, t);
        if (!pm)
            return -ENOMEM;
        pm->bound_dev_if = bound = scope_id;
    }
    return bound ? 0 : -EINVAL;
}

/* inet6_getname: a link-local address is reported with the socket's
 * device as its scope id; with IPV6_FLOWINFO_SEND the peer's comes with
 * the flow information the socket sends with. */
static void name_extras(const sk_tcb *t, sk_endpoint *e, bool peer)
{
    if (e->family != SK_AF_INET6)
        return;
    const sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    e->flowinfo = peer && pm && pm->sndflow ? pm->flow_label : 0;
    e->scope_id = link_local6(e->addr6) && pm ? pm->bound_dev_if : 0;
}

/* ------------------------------------------------------------------ */
/* Ports                                                                */
/* ------------------------------------------------------------------ */

/* What a socket is bound to, for conflicts: an IPv4 address (0: any),
 * or an IPv6 handle (0: "::", which also covers IPv4 unless v6only). */
typedef struct bind_addr {
    bool v6, v6only;
    uint32_t a;
} bind_addr;

static bind_addr tcb_bind_addr(const sk_tcb *t)
{
    return (bind_addr){.v6 = t->af6, .v6only = (t->sndstate & SK_SOCK_V6ONLY) != 0, .a = t->laddr};
}

/* Linux's inet_rcv_saddr_equal() with wildcards matching (ipv6's
 * __ipv6_rcv_saddr_equal for AF_INET6 sockets): an AF_INET6 socket on
 * "::" without IPV6_V6ONLY overlaps every IPv4 address too. */
static bool addr_overlap(bind_addr x, bind_addr y)
{
    bool x4 = !x.v6 || (x.a == 0 && !x.v6only);
    bool y4 = !y.v6 || (y.a == 0 && !y.v6only);
    if (x4 && y4) {
        uint32_t xa = x.v6 ? 0 : x.a, ya = y.v6 ? 0 : y.a;
        if (!xa || !ya || xa == ya)
            return true;
    }
    return x.v6 && y.v6 && (!x.a || !y.a || x.a == y.a);
}

/* The owners of the port without a handle (children not yet accepted,
 * orphans) one by one, for a socket with SO_REUSEPORT: the bucket's
 * counts cannot tell whether they set it (children inherit it from their
 * listener, as Linux's sk_clone_lock copies sk_reuseport).  bind() and
 * listen() only, so the walk of the connection table is not on a hot
 * path.  None of them listens, so SO_REUSEADDR on both excuses too. */
static bool unseen_conflict(sk_stack *s, const sk_tcb *t, uint16_t port, bind_addr me)
{
    bool reuse = (t->sopts & SK_O_REUSEADDR) != 0;
    for (uint32_t i = 0; i <= s->conn_mask; i++)
        for (const sk_tcb *u = s->conn_buckets[i]; u; u = u->hnext) {
            if (u == t || u->lport != port || !(u->sflags & SK_S_BOUND))
                continue;
            if (u->fd >= 0 && (uint32_t)u->fd < s->fds_cap && s->fds[u->fd] == u)
                continue; /* has a handle: checked already */
            if ((u->sopts & SK_O_REUSEPORT) || !addr_overlap(me, tcb_bind_addr(u)))
                continue;
            if (reuse && (u->sopts & SK_O_REUSEADDR))
                continue;
            return true;
        }
    return false;
}

/* Linux's inet_csk_bind_conflict(): a socket on the port whose address
 * overlaps conflicts unless both set SO_REUSEADDR and it does not
 * listen, or both set SO_REUSEPORT; TIME_WAIT records likewise, by
 * their address and the SO_REUSEADDR their socket had (timewait.c).  The owners with a
 * handle are checked by address; owners without one (children not yet
 * accepted, orphans) are counted in the bucket only, and then the port
 * is shared only as the counts allow. */
static bool bind_conflict(sk_stack *s, const sk_tcb *t, uint16_t port, bind_addr cand)
{
    sk_bind_bucket *b = sk_bind_bucket_get(s, port, false);
    if (!b)
        return false;
    bool reuse = (t->sopts & SK_O_REUSEADDR) != 0;
    /* Linux's inet_bind_conflict: both with SO_REUSEPORT and the same
     * owner (synack has one) share the port, listening or not. */
    bool reuseport = (t->sopts & SK_O_REUSEPORT) != 0;
    if (b->tw && sk_tw_bind_conflict(s, port, b->tw, cand.v6, cand.v6only, cand.a, reuse))
        return true;
    if (!b->refs)
        return false;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < s->fds_cap; i++) {
        const sk_tcb *u = s->fds[i];
        if (!u || u == t || !(u->sflags & SK_S_BOUND) || u->lport != port)
            continue;
        seen++;
        if (!addr_overlap(cand, tcb_bind_addr(u)))
            continue;
        if (reuse && (u->sopts & SK_O_REUSEADDR) && u->state != SK_TCP_LISTEN)
            continue;
        if (reuseport && (u->sopts & SK_O_REUSEPORT))
            continue;
        return true;
    }
    if (seen < b->refs && reuseport)
        return unseen_conflict(s, t, port, cand);
    if (seen < b->refs)
        return !(reuse && b->noreuse == 0 && b->listeners == 0);
    return false;
}

static void port_range(const sk_stack *s, uint32_t *lo, uint32_t *hi)
{
    *lo = (uint32_t)s->cfg.ip_local_port_range[0];
    *hi = (uint32_t)s->cfg.ip_local_port_range[1];
    if (*hi < *lo)
        *hi = *lo;
}

/* bind() to port 0: Linux's inet_csk_find_open_port() prefers odd ports
 * for bind() so that connect() can keep the even ones. */
static int pick_bind_port(sk_stack *s, sk_tcb *t)
{
    uint32_t lo, hi;
    port_range(s, &lo, &hi);
    uint32_t n = hi - lo + 1;
    uint32_t off = sk_rng_below(&s->rng, n);
    for (int parity = 1; parity >= 0; parity--) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t port = lo + (off + k) % n;
            if ((port & 1) != (uint32_t)parity)
                continue;
            /* A port nobody holds (no bucket) cannot conflict: the
             * address-by-address check is not needed for it. */
            if (!sk_bind_bucket_get(s, (uint16_t)port, false))
                return (int)port;
        }
    }
    return -EADDRINUSE;
}

int sk_bind(sk_stack *s, int fd, const sk_endpoint *local)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (!local)
        return -EFAULT;
    user_addr u;
    int rc = read_user_addr(t, local, &u);
    if (rc)
        return rc;
    if ((t->sflags & SK_S_BOUND) || t->state != SK_TCP_CLOSE)
        return -EINVAL;
    /* inet6_bind: an IPv4-mapped address on an IPV6_V6ONLY socket makes
     * no sense. */
    if (t->sock6 && !u.v6 && (t->sndstate & SK_SOCK_V6ONLY))
        return -EINVAL;
    if (u.v6 && link_local6(u.a6)) {
        if ((rc = take_scope(s, t, local->scope_id)) != 0)
            return rc;
        if (sk_pmtu_conn_peek(t)->bound_dev_if != s->ifindex)
            return -ENODEV; /* no device with that index */
    }
    uint32_t a = 0, tmp6 = 0;
    if (!u.any) {
        a = u.v6 ? sk_addr6_find(s, u.a6) : u.a4;
        /* inet_can_nonlocal_bind: IP_FREEBIND or IP_TRANSPARENT let a
         * socket take an address the stack does not (yet) hold. */
        bool nonlocal = t->freebind || t->transparent;
        if (nonlocal && u.v6 && !a) {
            /* An IPv6 address in no table yet: interned for the while,
             * sk_tcb_set_laddr takes the socket's own reference. */
            a = tmp6 = sk_addr6_intern(s, u.a6);
            if (!a)
                return -ENOMEM;
        }
        if (!nonlocal && !sk_addr_is_local(s, u.v6, a))
            return -EADDRNOTAVAIL;
    }
    /* inet6_bind: a specific IPv6 address makes the socket IPv6-only. */
    bind_addr cand = {.v6 = u.v6, .v6only = (t->sndstate & SK_SOCK_V6ONLY) || (u.v6 && a), .a = a};
    bool old_v6 = t->af6;
    sk_tcb_set_laddr(s, t, u.v6, a);
    int port = local->port;
    if (port == 0)
        port = pick_bind_port(s, t);
    else if (bind_conflict(s, t, (uint16_t)port, cand))
        port = -EADDRINUSE;
    sk_addr_put(s, true, tmp6);
    if (port < 0) {
        sk_tcb_set_laddr(s, t, old_v6, 0); /* unbound again, as before the call */
        return port;
    }
    if (cand.v6only && t->sock6)
        t->sndstate |= SK_SOCK_V6ONLY;
    t->lport = (uint16_t)port;
    t->sflags |= SK_S_USER_BOUND;
    sk_port_ref(s, t);
    return 0;
}

static bool listen_conflict(sk_stack *s, const sk_tcb *t, const sk_bind_bucket *b)
{
    bind_addr me = tcb_bind_addr(t);
    /* SO_REUSEPORT on both: no conflict, whatever their states (Linux's
     * inet_bind_conflict), so the listeners of a group coexist. */
    bool reuseport = (t->sopts & SK_O_REUSEPORT) != 0;
    for (const sk_tcb *l = s->listeners[t->lport & 63]; l; l = l->hnext)
        if (l != t && l->lport == t->lport && addr_overlap(me, tcb_bind_addr(l)) &&
            !(reuseport && (l->sopts & SK_O_REUSEPORT)))
            return true;
    bool reuse = (t->sopts & SK_O_REUSEADDR) != 0;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < s->fds_cap; i++) {
        const sk_tcb *u = s->fds[i];
        if (!u || u == t || !(u->sflags & SK_S_BOUND) || u->lport != t->lport)
            continue;
        seen++;
        if (reuseport && (u->sopts & SK_O_REUSEPORT))
            continue;
        if (addr_overlap(me, tcb_bind_addr(u)) && (!reuse || !(u->sopts & SK_O_REUSEADDR)))
            return true;
    }
    /* owners without a handle, as the counts allow */
    if (seen + 1 < b->refs && reuseport)
        return unseen_conflict(s, t, t->lport, me);
    return seen + 1 < b->refs && (!reuse || b->noreuse);
}

int sk_listen(sk_stack *s, int fd, int backlog)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    /* Linux clamps to somaxconn, reading a negative backlog as huge. */
    uint32_t somax = (uint32_t)s->cfg.somaxconn;
    uint32_t bl = (unsigned)backlog > somax ? somax : (uint32_t)backlog;
    if (t->state == SK_TCP_LISTEN) {
        t->listen->backlog = bl;
        return 0;
    }
    if (t->state != SK_TCP_CLOSE || (t->sflags & (SK_S_CONNECTING | SK_S_CONNECTED)))
        return -EINVAL;
    if (!(t->sflags & SK_S_BOUND)) {
        int port = pick_bind_port(s, t);
        if (port < 0)
            return port;
        t->lport = (uint16_t)port;
        sk_port_ref(s, t);
    }
    sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, true);
    if (!b)
        return -ENOBUFS;
    /* Another socket sharing the port may coexist with a listener only
     * when both set SO_REUSEADDR (Linux re-checks in inet_csk_get_port:
     * inet_csk_bind_conflict with relax, where a non-listening sk_reuse
     * peer is no conflict) — e.g. a connection accepted from the
     * previous listener on the port — or when their addresses do not
     * overlap. */
    if (listen_conflict(s, t, b))
        return -EADDRINUSE;
    /* the bucket's 15-bit count: Linux's reuseport_grow likewise stops
     * a group at U16_MAX sockets (-ENOMEM) */
    if (b->listeners >= SK_LISTENERS_MAX)
        return -ENOMEM;
    sk_listen_queue *q = sk_calloc(s, 1, sizeof(*q));
    if (!q)
        return -ENOBUFS;
    q->syn_mask = 15;
    q->syn_buckets = sk_calloc(s, q->syn_mask + 1, sizeof(*q->syn_buckets));
    if (!q->syn_buckets) {
        sk_free(s, q);
        return -ENOBUFS;
    }
    q->backlog = bl;
    t->listen = q;
    b->listeners++;
    sk_listener_hash(s, t);
    sk_fastopen_listen(s, t, backlog, false);
    sk_tcb_set_state(s, t, SK_TCP_LISTEN, SK_CAUSE_LISTEN);
    return 0;
}

int sk_accept(sk_stack *s, int fd, sk_endpoint *peer)
{
    sk_tcb *l = get(s, fd);
    if (!l)
        return -EBADF;
    if (l->state != SK_TCP_LISTEN || !l->listen)
        return -EINVAL;
    sk_listen_queue *q = l->listen;
    sk_tcb *child = q->aq_head;
    if (!child)
        return -EAGAIN;
    int nfd = sk_fd_install(s, child);
    if (nfd < 0)
        return nfd;
    sk_accept_queue_remove(s, child);
    child->sflags |= SK_S_CONNECTED;
    if (peer) {
        sk_tcb_remote(s, child, peer);
        name_extras(child, peer, true);
    }
    return nfd;
}

/* Linux's __inet_hash_connect(): walk the range from a per-destination
 * offset, even ports first, taking the first whose 4-tuple is free — or
 * held by a TIME_WAIT record that tcp_tw_reuse lets us take over. */
static int pick_connect_port(sk_stack *s, sk_tcb *t, uint32_t *tw_isn)
{
    uint32_t lo, hi;
    port_range(s, &lo, &hi);
    uint32_t n = hi - lo + 1;
    uint32_t off;
    if (t->af6) {
        off = (uint32_t)sk_siphash24(s->isn_key, sk_addr6_get(s, t->raddr), 16);
    } else if (s->portoff_valid && s->portoff_raddr == t->raddr) {
        off = s->portoff_val; /* a pure function of the key and the address */
    } else {
        off = (uint32_t)sk_siphash24(s->isn_key, &t->raddr, sizeof(t->raddr));
        s->portoff_raddr = t->raddr;
        s->portoff_val = off;
        s->portoff_valid = true;
    }
    off += s->port_hint;
    s->port_hint += 2;
    for (int parity = 0; parity <= 1; parity++) {
        for (uint32_t k = 0; k < n; k++) {
            uint32_t port = lo + (off + k) % n;
            if ((port & 1) != (uint32_t)parity)
                continue;
            sk_bind_bucket *b = sk_bind_bucket_get(s, (uint16_t)port, false);
            if (b && (b->user_bound || b->listeners))
                continue; /* owned by bind(): not ours to share */
            sk_key key = sk_tcb_key(t);
            key.lport = (uint16_t)port;
            if (sk_conn_lookup(s, &key))
                continue;
            uint32_t tw = sk_tw_lookup(s, &key);
            if (tw != SK_TW_NONE) {
                if (!sk_tw_reusable(s, tw))
                    continue;
                uint32_t isn = sk_tw_at(&s->tw, tw)->snd_nxt + 65535 + 2;
                *tw_isn = isn ? isn : 1;
                t->ts_recent = sk_tw_at(&s->tw, tw)->ts_recent;
                t->ts_recent_stamp_s = sk_tw_at(&s->tw, tw)->ts_recent_stamp_s;
                sk_count(s, SK_C_TCPEXT_TW_RECYCLED);
                sk_tw_kill(s, tw, true);
            }
            return (int)port;
        }
    }
    return -EADDRNOTAVAIL;
}

int sk_connect(sk_stack *s, int fd, const sk_endpoint *remote)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (!remote)
        return -EFAULT;
    /* Linux's __inet_stream_connect(): a call after a non-blocking connect
     * reports its outcome once. */
    if (t->sflags & SK_S_CONNECTED)
        return -EISCONN;
    if (t->sflags & SK_S_CONNECTING) {
        /* __inet_stream_connect: a deferred Fast Open connect counts as
         * connected to a second connect(), so the caller goes on to write. */
        if ((t->tfo & SK_TFO_DEFER) && t->state == SK_TCP_SYN_SENT)
            return -EISCONN;
        if (t->state == SK_TCP_SYN_SENT || t->state == SK_TCP_SYN_RECV)
            return -EALREADY;
        t->sflags &= ~SK_S_CONNECTING;
        if (t->state == SK_TCP_CLOSE) {
            int err = t->so_error ? t->so_error : ECONNABORTED;
            t->so_error = 0;
            return -err;
        }
        t->sflags |= SK_S_CONNECTED;
        return 0;
    }
    if (t->state != SK_TCP_CLOSE)
        return -EISCONN;
    user_addr u;
    int rc = read_user_addr(t, remote, &u);
    if (rc)
        return rc;
    /* tcp_v6_connect: with IPV6_FLOWINFO_SEND, sin6_flowinfo first. */
    if (t->sock6 && (rc = sk_ip6_connect_flowinfo(s, t, remote->flowinfo)) != 0)
        return rc;
    if (u.any || (!u.v6 && u.a4 == 0xffffffffu))
        return -ENETUNREACH;
    if (u.v6 && link_local6(u.a6)) {
        if ((rc = take_scope(s, t, remote->scope_id)) != 0)
            return rc;
        /* The route lookup through a device that is not there finds
         * none (ip6_dst_lookup_flow). */
        if (sk_pmtu_conn_peek(t)->bound_dev_if != s->ifindex)
            return -ENETUNREACH;
    }
    /* tcp_v6_connect: an IPv4-mapped peer is IPv4, refused to an
     * IPV6_V6ONLY socket; a socket bound to an address of the other
     * family cannot reach it. */
    if (t->sock6 && !u.v6 && (t->sndstate & SK_SOCK_V6ONLY))
        return -ENETUNREACH;
    if ((t->sflags & SK_S_USER_BOUND) && t->laddr && t->af6 != u.v6)
        return -EINVAL;
    uint32_t ra = u.v6 ? sk_addr6_intern(s, u.a6) : u.a4;
    if (!ra)
        return -ENOBUFS;
    /* Source address selection (inet_hash_connect's caller picks it
     * from the route): the bound address, else one of the family. */
    bool old_v6 = t->af6;
    uint32_t old_laddr = t->laddr;
    sk_addr_hold(s, old_v6, old_laddr);
    uint32_t la = t->laddr;
    if (!la || t->af6 != u.v6) {
        if (!sk_select_saddr(s, u.v6, ra, &la)) {
            sk_addr_put(s, u.v6, ra);
            sk_addr_put(s, old_v6, old_laddr);
            return -ENETUNREACH;
        }
    }
    t->so_error = 0;
    sk_tcb_set_laddr(s, t, u.v6, la);
    sk_tcb_set_raddr(s, t, u.v6, ra);
    sk_addr_put(s, u.v6, ra);
    t->rport = remote->port;
    uint32_t tw_isn = 0;
    if (!(t->sflags & SK_S_BOUND)) {
        int port = pick_connect_port(s, t, &tw_isn);
        if (port < 0) {
            sk_tcb_set_raddr(s, t, u.v6, 0);
            sk_tcb_set_laddr(s, t, old_v6, old_laddr);
            sk_addr_put(s, old_v6, old_laddr);
            t->rport = 0;
            return port;
        }
        t->lport = (uint16_t)port;
        sk_port_ref(s, t);
    } else {
        sk_key k = sk_tcb_key(t);
        if (sk_conn_lookup(s, &k)) {
            sk_addr_put(s, old_v6, old_laddr);
            return -EADDRNOTAVAIL;
        }
        uint32_t tw = sk_tw_lookup(s, &k);
        if (tw != SK_TW_NONE) {
            if (!sk_tw_reusable(s, tw)) {
                sk_addr_put(s, old_v6, old_laddr);
                return -EADDRNOTAVAIL;
            }
            uint32_t isn = sk_tw_at(&s->tw, tw)->snd_nxt + 65535 + 2;
            tw_isn = isn ? isn : 1;
            sk_count(s, SK_C_TCPEXT_TW_RECYCLED);
            sk_tw_kill(s, tw, true);
        }
    }
    sk_addr_put(s, old_v6, old_laddr);
    sk_key key = sk_tcb_key(t);
    t->iss = tw_isn ? tw_isn : sk_key_isn(s, &key);
    t->snd_una = t->snd_nxt = t->iss;
    t->ts_off = sk_key_ts_off(s, &key);
    uint16_t advmss = sk_default_advmss(s, t->af6);
    if (t->user_mss && t->user_mss < advmss)
        advmss = t->user_mss;
    t->advmss = advmss;
    sk_pmtu_conn_init(s, t); /* a learned path MTU lowers both (pmtu.c) */
    advmss = t->advmss;
    /* tcp_connect_init(): TCP_WINDOW_CLAMP, else a locked buffer's full
     * space, bounds the initial window and the scale. */
    t->window_clamp = sk_rcv_initial_clamp(s, t, t->window_clamp);
    uint8_t rcv_wscale;
    sk_init_rcv_window(s, t->rcvbuf, advmss, s->cfg.tcp_window_scaling != 0, &t->rcv_wnd, &rcv_wscale,
                       &t->window_clamp);
    t->rcv_wscale = rcv_wscale & 15; /* <= 14 (tcp_select_initial_window) */
    t->rcv_ssthresh = t->rcv_wnd;
    t->mss = SK_TCP_MSS_DEFAULT;
    sk_conn_hash(s, t);
    t->sflags |= SK_S_CONNECTING;
    sk_tcb_set_state(s, t, SK_TCP_SYN_SENT, SK_CAUSE_CONNECT);
    sk_count(s, SK_C_TCP_ACTIVE_OPENS);
    if ((t->tfo & SK_TFO_CONNECT) && (s->cfg.tcp_fastopen & SK_TFO_CLIENT_ENABLE)) {
        /* Linux's tcp_fastopen_defer_connect(): with a cookie (or none
         * needed) connect() returns 0 and the SYN waits for the first
         * write to carry its data; without one the SYN asks for a cookie. */
        sk_fo_cookie foc;
        if (sk_fastopen_cookie_check(s, t, &foc)) {
            t->tfo |= SK_TFO_DEFER;
            return 0;
        }
        if (foc.len >= 0)
            t->tfo |= SK_TFO_SYN_FASTOPEN | (foc.exp ? SK_TFO_SYN_EXP : 0);
    }
    sk_send_syn(s, t);
    t->retrans_stamp = sk_stamp_now(s);
    sk_arm_rto(s, t);
    return -EINPROGRESS;
}

/* Linux's tcp_send_syn_data(): the SYN goes with as much of buf as an MSS
 * less the largest option space takes, if a cookie is cached (or none is
 * needed); otherwise a plain SYN asks for one.  Returns the bytes sent. */
static uint32_t fastopen_connect_send(sk_stack *s, sk_tcb *t, const void *buf, size_t len)
{
    sk_fo_cookie foc;
    uint32_t space = 0;
    if (sk_fastopen_cookie_check(s, t, &foc)) {
        uint32_t clamp = t->advmss;
        uint16_t cached = sk_fastopen_cached_mss(s, t);
        if (cached)
            clamp = cached;
        if (t->user_mss && t->user_mss < clamp)
            clamp = t->user_mss;
        uint32_t mtu_mss = sk_link_mss(s, t->af6);
        uint32_t mss = mtu_mss < clamp ? mtu_mss : clamp;
        space = mss > SK_TCP_OPT_MAX ? mss - SK_TCP_OPT_MAX : 0;
        if (space > len)
            space = (uint32_t)len;
        if (space && sk_ring_reserve(s, &t->sndq, t->sndq.len + space))
            space = sk_ring_write(&t->sndq, buf, space);
        else
            space = 0;
        /* The SYN's data is one skb of its own from ISS+1 (syn_data):
         * resent after a timeout or a partial ACK, it is cut from there,
         * not from where an unset skb_base would put the boundaries. */
        t->skb_base = t->tail_start = t->iss + 1;
    } else if (foc.len > 0) {
        foc.len = 0;
    }
    t->tfo |= SK_TFO_SYN_FASTOPEN | (foc.exp ? SK_TFO_SYN_EXP : 0);
    if (foc.len < 0)
        t->tfo &= (uint8_t)~(SK_TFO_SYN_FASTOPEN | SK_TFO_SYN_EXP);
    if (space)
        t->tfo |= SK_TFO_SYN_DATA;
    t->tfo &= (uint8_t)~SK_TFO_DEFER;
    sk_send_syn(s, t);
    t->retrans_stamp = sk_stamp_now(s);
    sk_arm_rto(s, t);
    return space;
}

int sk_write_waiting(sk_stack *s, int fd, bool waiting)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (waiting)
        t->sndstate |= SK_SND_WRITE_PENDING;
    else
        t->sndstate &= (uint8_t)~SK_SND_WRITE_PENDING;
    return 0;
}

ssize_t sk_sendto(sk_stack *s, int fd, const void *buf, size_t len, int flags, const sk_endpoint *remote)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    bool defer = (t->tfo & SK_TFO_DEFER) && t->state == SK_TCP_SYN_SENT;
    /* MSG_FASTOPEN on a socket already connecting or connected is
     * ignored: the call is a plain send. */
    /* A second MSG_FASTOPEN while the first handshake runs: EALREADY
     * (__inet_stream_connect in SS_CONNECTING). */
    if (!defer && (flags & SK_MSG_FASTOPEN) && (t->state == SK_TCP_SYN_SENT || t->state == SK_TCP_SYN_RECV) &&
        (t->sflags & SK_S_CONNECTING))
        return -EALREADY;
    if (!defer && (!(flags & SK_MSG_FASTOPEN) || t->state != SK_TCP_CLOSE || (t->sflags & SK_S_CONNECTING)))
        return sk_send(s, fd, buf, len, flags & ~SK_MSG_FASTOPEN);
    if (!(s->cfg.tcp_fastopen & SK_TFO_CLIENT_ENABLE))
        return -EOPNOTSUPP;
    if (len && !buf)
        return -EFAULT;
    if (!defer) {
        if (!remote)
            return -EINVAL; /* tcp_v4_connect: no address */
        /* connect() without sending the SYN: the deferred path. */
        uint8_t saved = t->tfo;
        t->tfo |= SK_TFO_CONNECT;
        int rc = sk_connect(s, fd, remote);
        t->tfo = (uint8_t)((t->tfo & ~SK_TFO_CONNECT) | (saved & SK_TFO_CONNECT));
        if (rc == -EINPROGRESS)
            return -EINPROGRESS; /* no cookie: the SYN asked for one */
        if (rc < 0)
            return rc;
    }
    uint32_t sent = fastopen_connect_send(s, t, buf, len);
    return sent ? (ssize_t)sent : -EINPROGRESS;
}

/* ------------------------------------------------------------------ */
/* Data                                                                 */
/* ------------------------------------------------------------------ */

/* Linux's sk_stream_error() after tcp_sendmsg_locked() fails: a pending
 * error first, else EPIPE (and never SIGPIPE: there are no signals). */
static ssize_t send_error(sk_tcb *t)
{
    if (t->so_error) {
        int e = t->so_error;
        t->so_error = 0;
        return -e;
    }
    return -EPIPE;
}

/* Sends what Nagle or a cork held back; with `past_nagle` (Linux's
 * TCP_NAGLE_PUSH) small segments go even while one is unacknowledged or
 * the socket is corked. */
static void push_held_data(sk_stack *s, sk_tcb *t, bool past_nagle)
{
    s->nagle_push = past_nagle;
    sk_tcp_output(s, t);
    s->nagle_push = false;
    sk_tcb_timer_update(s, t);
}

ssize_t sk_send(sk_stack *s, int fd, const void *buf, size_t len, int flags)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (t->so_error || (t->sflags & SK_S_SHUT_WR))
        return send_error(t);
    if ((t->tfo & SK_TFO_DEFER) && t->state == SK_TCP_SYN_SENT)
        return sk_sendto(s, fd, buf, len, flags, NULL); /* TCP_FASTOPEN_CONNECT's first write */
    /* A passive Fast Open child may send before the handshake's ACK
     * (Linux's tcp_passive_fastopen in sk_stream_wait_connect). */
    bool fo_child = (t->tfo & SK_TFO_CHILD) != 0;
    if ((t->state == SK_TCP_SYN_SENT || t->state == SK_TCP_SYN_RECV) && !fo_child)
        return -EAGAIN; /* still connecting (sk_stream_wait_connect) */
    if (t->state != SK_TCP_ESTABLISHED && t->state != SK_TCP_CLOSE_WAIT && !fo_child)
        return send_error(t);
    if (len == 0)
        return 0;
    if (!buf)
        return -EFAULT;
    /* Linux's tcp_sendmsg_locked(), at its skb granularity: data goes
     * into the tail skb up to size_goal; a new skb may be started only
     * while the queue is under SO_SNDBUF and the unsent part under
     * TCP_NOTSENT_LOWAT (sk_stream_memory_free), but once started it
     * fills whole — so a write can pass the buffer size by up to one skb,
     * as Linux's does.  A full skb is pushed at once (tcp_push_one), and
     * the part the windows do not take becomes the new tail. */
    uint32_t goal = sk_size_goal(t);
    bool more = (flags & SK_MSG_MORE) != 0;
    /* MSG_EOR needs room to note the record end before any byte is
     * queued, so that a write that succeeds always ends its record. */
    bool eor = (flags & SK_MSG_EOR) != 0;
    if (eor && !sk_eor_reserve(s, t))
        return -ENOBUFS;
    uint32_t saved = t->sopts;
    if (more)
        t->sopts |= SK_O_CORK;
    /* A write that appends to the unsent tail takes its PSH away
     * (tcp_sendmsg_locked clears it on the first copy); the end of the
     * write puts it back unless MSG_MORE says more follows. */
    t->tail_push = false;
    size_t done = 0;
    bool out_of_room = false;
    while (done < len) {
        uint32_t data_end = t->snd_una + t->sndq.len;
        if (seq_lt(t->tail_start, t->snd_nxt) || seq_gt(t->tail_start, data_end)) {
            t->tail_start = seq_lt(t->snd_nxt, data_end) ? t->snd_nxt : data_end;
            t->skb_base = t->tail_start;
        }
        uint32_t tail_len = data_end - t->tail_start;
        /* tcp_skb_can_collapse_to(): nothing is appended to an skb that
         * ends a MSG_EOR record; the write starts a new one. */
        bool closed = tail_len && sk_eor_tail_closed(t, data_end);
        if (tail_len == 0 || tail_len >= goal || closed) {
            if (!sk_stream_memory_free(s, t)) {
                /* no new skb: sk_stream_memory_free() says no
                 * (wait_for_space sets SOCK_NOSPACE) */
                t->sndstate |= SK_SND_NOSPACE;
                out_of_room = true;
                break;
            }
            t->tail_start = data_end;
            if (closed || (data_end - t->skb_base) % goal)
                t->skb_base = data_end; /* the previous tail was short */
            tail_len = 0;
        }
        size_t want = len - done;
        uint32_t n = want < goal - tail_len ? (uint32_t)want : goal - tail_len;
        if (!sk_ring_reserve(s, &t->sndq, t->sndq.len + n)) {
            if (!done)
                done = (size_t)-1;
            break;
        }
        sk_ring_write(&t->sndq, (const uint8_t *)buf + done, n);
        done += n;
        if (tail_len + n == goal)
            sk_tcp_output(s, t);
    }
    /* tcp_push() at the end of the write marks the tail with PSH unless
     * MSG_MORE; a write that runs out of room pushes what it queued
     * regardless (the wait_for_space path drops MSG_MORE). */
    if (done && done != (size_t)-1) {
        /* Only a write that queued all of its data ends the record
         * (tcp_sendmsg_locked marks the skb once msg_data_left is 0). */
        if (eor && done == len)
            sk_eor_mark(t, t->snd_una + t->sndq.len);
        if (!more || out_of_room)
            t->tail_push = true;
        if (out_of_room && more && !(saved & SK_O_CORK))
            t->sopts &= ~SK_O_CORK;
        /* tcp_add_write_queue_tail(): queued data starts the busy chrono */
        sk_chrono_run(s, t, &t->busy_mark, SK_SND_BUSY, true);
        sk_tcp_output(s, t);
    }
    if (more && !(saved & SK_O_CORK))
        t->sopts &= ~SK_O_CORK;
    if (done == (size_t)-1)
        return -ENOBUFS;
    if (!done)
        return -EAGAIN;
    /* Linux's tcp_event_data_sent(): a reply within one ATO of the last
     * data received marks the connection interactive, so ACKs wait to
     * ride on replies (pingpong). Before any data arrived ato is 0. */
    if (t->ato_us && sk_since(s, t->last_data_recv) < (sk_time_ns)t->ato_us * SK_NSEC_PER_USEC)
        t->xflags |= SK_X_PINGPONG;
    sk_tcb_timer_update(s, t);
    return (ssize_t)done;
}

/* Linux's tcp_set_window_clamp(): 0 clears it only before a connection
 * exists; anything else is at least SOCK_MIN_RCVBUF / 2.  Shrinking it
 * lowers the window ceiling; raising it lets the ceiling follow. */
static int set_window_clamp(sk_tcb *t, int v)
{
    if (!v) {
        if (t->state != SK_TCP_CLOSE)
            return -EINVAL;
        t->window_clamp = 0;
        return 0;
    }
    uint32_t clamp = v < (int)(SOCK_MIN_RCVBUF / 2) ? SOCK_MIN_RCVBUF / 2 : (uint32_t)v;
    uint32_t old = t->window_clamp;
    if (clamp == old)
        return 0;
    t->window_clamp = clamp;
    if (clamp < old || !old) {
        if (t->rcv_ssthresh > clamp)
            t->rcv_ssthresh = clamp;
    } else {
        uint32_t ss = t->rcv_wnd < clamp ? t->rcv_wnd : clamp;
        if (ss > t->rcv_ssthresh)
            t->rcv_ssthresh = ss;
    }
    return 0;
}

/* After a read frees buffer space, Linux's tcp_cleanup_rbuf() announces
 * the window at once if it would at least double. */
static void window_update_after_read(sk_stack *s, sk_tcb *t)
{
    if (t->state != SK_TCP_ESTABLISHED && t->state != SK_TCP_FIN_WAIT1 && t->state != SK_TCP_FIN_WAIT2)
        return;
    uint32_t now_wnd = t->rcv_wup + t->rcv_wnd - t->rcv_nxt;
    if ((int32_t)now_wnd < 0)
        now_wnd = 0;
    if (2 * now_wnd > t->window_clamp)
        return;
    uint32_t new_win = sk_compute_window(s, t);
    if (new_win && new_win >= 2 * now_wnd)
        sk_send_ack(s, t);
}

ssize_t sk_recv(sk_stack *s, int fd, void *buf, size_t len, int flags)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (t->state == SK_TCP_LISTEN)
        return -ENOTCONN;
    if (t->rcvq.len && len) {
        if (!buf)
            return -EFAULT;
        uint32_t n = len < t->rcvq.len ? (uint32_t)len : t->rcvq.len;
        sk_ring_peek(&t->rcvq, 0, buf, n);
        if (!(flags & SK_MSG_PEEK)) {
            uint32_t before = t->rcvq.len;
            sk_ring_consume(&t->rcvq, n);
            sk_ring_drained(s, &t->rcvq);
            sk_rcvq_uncharge(t, n, before);
            sk_rcv_space_adjust(s, t); /* tcp_recvmsg_locked, before tcp_cleanup_rbuf */
            window_update_after_read(s, t);
            sk_tcb_timer_update(s, t);
        }
        return (ssize_t)n;
    }
    /* tcp_recvmsg()'s order: pending error, then end of stream, then a
     * never-connected socket, then "try again". */
    if (t->so_error) {
        int e = t->so_error;
        t->so_error = 0;
        return -e;
    }
    if (t->sflags & (SK_S_FIN_RCVD | SK_S_SHUT_RD))
        return 0;
    if (t->state == SK_TCP_CLOSE)
        return (t->sflags & SK_S_WAS_ESTABLISHED) ? 0 : -ENOTCONN;
    if (len == 0)
        return 0;
    return -EAGAIN;
}

int sk_recv_post(sk_stack *s, int fd, void *buf, size_t len)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (t->state == SK_TCP_LISTEN)
        return -ENOTCONN;
    if (!buf || !len)
        return -EINVAL;
    if (t->ext && t->ext->post_buf)
        return -EBUSY;
    sk_tcb_ext *x = sk_tcb_ext_get(s, t);
    if (!x)
        return -ENOMEM;
    x->post_buf = buf;
    x->post_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    x->post_filled = 0;
    /* What is already queued comes first, as a read would take it. */
    if (t->rcvq.len) {
        ssize_t n = sk_recv(s, fd, buf, x->post_len, 0);
        if (n > 0)
            x->post_filled = (uint32_t)n;
    }
    return 0;
}

ssize_t sk_recv_posted(sk_stack *s, int fd)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    sk_tcb_ext *x = t->ext;
    if (!x || !x->post_buf)
        return -EINVAL;
    uint8_t *buf = x->post_buf;
    uint32_t len = x->post_len, filled = x->post_filled;
    x->post_buf = NULL;
    x->post_len = x->post_filled = 0;
    if (filled)
        return (ssize_t)filled;
    /* Nothing placed: what an empty read reports (the queue can only hold
     * data here if it arrived out of this buffer's reach). */
    return sk_recv(s, fd, buf, len, 0);
}

/* ------------------------------------------------------------------ */
/* Closing                                                              */
/* ------------------------------------------------------------------ */

/* Linux's tcp_close_state(): the state after our FIN, and whether a FIN
 * is to be sent at all. */
static bool close_state(sk_stack *s, sk_tcb *t, sk_state_cause cause)
{
    switch (t->state) {
    case SK_TCP_ESTABLISHED:
    case SK_TCP_SYN_RECV:
        sk_tcb_set_state(s, t, SK_TCP_FIN_WAIT1, cause);
        return true;
    case SK_TCP_CLOSE_WAIT:
        sk_tcb_set_state(s, t, SK_TCP_LAST_ACK, cause);
        return true;
    default:
        return false;
    }
}

static void send_fin(sk_stack *s, sk_tcb *t)
{
    t->sflags |= SK_S_SHUT_WR;
    sk_tcp_output(s, t);
    sk_tcb_timer_update(s, t);
}

int sk_shutdown(sk_stack *s, int fd, int how)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (how < SK_SHUT_RD || how > SK_SHUT_RDWR)
        return -EINVAL;
    bool rd = how != SK_SHUT_WR, wr = how != SK_SHUT_RD;
    switch (t->state) {
    case SK_TCP_CLOSE:
        if (rd)
            t->sflags |= SK_S_SHUT_RD;
        if (wr)
            t->sflags |= SK_S_SHUT_WR;
        sk_notify(s, t);
        return (t->sflags & SK_S_WAS_ESTABLISHED) ? 0 : -ENOTCONN;
    case SK_TCP_LISTEN:
        if (!rd)
            return 0;
        /* Linux disconnects a listener on SHUT_RD. */
        sk_listener_unhash(s, t);
        {
            sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, false);
            if (b && b->listeners)
                b->listeners--;
        }
        sk_listen_destroy(s, t);
        sk_tcb_set_state(s, t, SK_TCP_CLOSE, SK_CAUSE_SHUTDOWN);
        return 0;
    case SK_TCP_SYN_SENT:
        /* Linux's tcp_disconnect() of a connecting socket: no RST. */
        t->sflags &= ~SK_S_CONNECTING;
        sk_tcb_close(s, t, SK_CAUSE_SHUTDOWN);
        t->sflags &= ~(SK_S_SHUT_RD | SK_S_SHUT_WR | SK_S_FIN_RCVD);
        return 0;
    default:
        break;
    }
    if (rd)
        t->sflags |= SK_S_SHUT_RD;
    if (wr && !(t->sflags & SK_S_SHUT_WR)) {
        if (close_state(s, t, SK_CAUSE_SHUTDOWN_WR))
            send_fin(s, t);
        else
            t->sflags |= SK_S_SHUT_WR;
    }
    sk_notify(s, t);
    return 0;
}

static void release_fd(sk_stack *s, sk_tcb *t)
{
    if (t->fd >= 0 && (uint32_t)t->fd < s->fds_cap && s->fds[t->fd] == t) {
        s->fds[t->fd] = NULL;
        if ((uint32_t)t->fd < s->fd_hint)
            s->fd_hint = (uint32_t)t->fd; /* POSIX: the lowest free handle next */
    }
    t->fd = -1;
}

int sk_close(sk_stack *s, int fd)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    release_fd(s, t);
    t->sflags |= SK_S_SHUT_RD;
    if (t->ext)
        t->ext->post_buf = NULL; /* the reader is gone: nothing may land in its buffer any more */

    if (t->state == SK_TCP_LISTEN) {
        sk_listener_unhash(s, t);
        sk_bind_bucket *b = sk_bind_bucket_get(s, t->lport, false);
        if (b && b->listeners)
            b->listeners--;
        sk_listen_destroy(s, t);
        sk_tcb_set_state(s, t, SK_TCP_CLOSE, SK_CAUSE_CLOSE);
        sk_tcb_free(s, t);
        return 0;
    }
    if (t->state == SK_TCP_CLOSE) {
        sk_tcb_free(s, t);
        return 0;
    }
    /* Linux's __tcp_close() looks at the receive queue only: data held
     * out of order was never readable, so it forces no reset. */
    bool unread = t->rcvq.len != 0;
    t->sflags |= SK_S_ORPHAN;
    s->orphans++;

    if (unread) {
        /* RFC 2525 §2.17, as Linux: data the application never read is
         * lost, so the peer must not believe it was delivered. */
        sk_count(s, SK_C_TCPEXT_TCP_ABORT_ON_CLOSE);
        sk_send_active_rst(s, t);
        sk_tcb_close(s, t, SK_CAUSE_CLOSE_UNREAD_DATA);
        return 0;
    }
    if ((t->sopts & SK_O_LINGER) && sk_linger_s(t) == 0) {
        /* SO_LINGER {1, 0}: abort, counted as TCPAbortOnData in every
         * state.  Linux's tcp_disconnect() resets only a connection the
         * peer knows of (tcp_need_reset), or one closing with data unsent. */
        bool unsent = t->sndq.len && seq_lt(t->snd_nxt, t->snd_una + t->sndq.len);
        bool need_reset = t->state == SK_TCP_ESTABLISHED || t->state == SK_TCP_CLOSE_WAIT ||
                          t->state == SK_TCP_FIN_WAIT1 || t->state == SK_TCP_FIN_WAIT2 ||
                          t->state == SK_TCP_SYN_RECV ||
                          (unsent && (t->state == SK_TCP_CLOSING || t->state == SK_TCP_LAST_ACK));
        sk_count(s, SK_C_TCPEXT_TCP_ABORT_ON_DATA);
        if (need_reset)
            sk_send_active_rst(s, t);
        sk_tcb_close(s, t, SK_CAUSE_CLOSE_LINGER_ZERO);
        return 0;
    }
    if (t->state == SK_TCP_SYN_SENT) {
        /* tcp_close_state(SYN_SENT) is CLOSED: the attempt just stops. */
        sk_tcb_close(s, t, SK_CAUSE_CLOSE);
        return 0;
    }
    if (s->orphans > (uint32_t)s->cfg.tcp_max_orphans) {
        sk_count(s, SK_C_TCPEXT_TCP_ABORT_ON_MEMORY);
        sk_send_active_rst(s, t);
        sk_tcb_close(s, t, SK_CAUSE_TOO_MANY_ORPHANS);
        return 0;
    }
    if (!(t->sflags & SK_S_SHUT_WR) && close_state(s, t, SK_CAUSE_CLOSE))
        send_fin(s, t);
    t->sflags |= SK_S_SHUT_WR;
    if (t->state == SK_TCP_FIN_WAIT2) {
        /* Already half-closed: the orphan waits for the peer's FIN in a
         * FIN_WAIT_2 record, or is reset if TCP_LINGER2 is negative. */
        if (t->fin_timeout_s == -2) {
            sk_count(s, SK_C_TCPEXT_TCP_ABORT_ON_LINGER);
            sk_send_active_rst(s, t);
            sk_tcb_close(s, t, SK_CAUSE_CLOSE_LINGER2_NEGATIVE);
            return 0;
        }
        int tmo = t->fin_timeout_s >= 0 ? t->fin_timeout_s : s->cfg.tcp_fin_timeout;
        sk_time_wait(s, t, SK_TCP_FIN_WAIT2, SK_SEC(tmo));
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

static int read_int(const void *val, size_t len, int *out)
{
    if (!val)
        return -EFAULT;
    if (len < sizeof(int))
        return -EINVAL;
    memcpy(out, val, sizeof(int));
    return 0;
}

static int write_val(void *val, size_t *len, const void *src, size_t srclen)
{
    if (!val || !len)
        return -EFAULT;
    size_t n = *len < srclen ? *len : srclen;
    memcpy(val, src, n);
    *len = n;
    return 0;
}

/* do_ipv6_setsockopt's part TCP sockets use. */
static int ipv6_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len)
{
    if (!t->sock6)
        return -ENOPROTOOPT;
    int v, rc;
    if ((rc = read_int(val, len, &v)) != 0)
        return rc;
    switch (name) {
    case SK_IPV6_V6ONLY:
        /* Fixed once the socket has a port (inet_num). */
        if (t->sflags & SK_S_BOUND)
            return -EINVAL;
        if (v)
            t->sndstate |= SK_SOCK_V6ONLY;
        else
            t->sndstate &= (uint8_t)~SK_SOCK_V6ONLY;
        return 0;
    case SK_IPV6_TCLASS:
    case SK_IPV6_UNICAST_HOPS: {
        if (v < -1 || v > 255)
            return -EINVAL;
        sk_tcb_ext *x = sk_tcb_ext_get(s, t);
        if (!x)
            return -ENOMEM;
        uint16_t stored = v < 0 ? 0 : (uint16_t)(v + 1);
        if (name == SK_IPV6_TCLASS)
            x->tclass1 = stored;
        else
            x->hops1 = stored;
        return 0;
    }
    default:
        return sk_ip6_setsockopt(s, t, name, val, len); /* pmtu.c */
    }
}

/* IP_TRANSPARENT and IP_FREEBIND (and their IPv6 twins, which set the
 * same inet flags in Linux: an AF_INET socket has no IPv6 level).  Linux
 * asks CAP_NET_ADMIN for IP_TRANSPARENT; synack has no privileges to
 * check: whoever holds the stack is its administrator. */
static int nonlocal_setsockopt(sk_tcb *t, int level, int name, const void *val, size_t len)
{
    if (level == SK_IPPROTO_IPV6 && !t->sock6)
        return -ENOPROTOOPT;
    int v, rc;
    if ((rc = read_int(val, len, &v)) != 0)
        return rc;
    if (name == SK_IP_TRANSPARENT || name == SK_IPV6_TRANSPARENT)
        t->transparent = v != 0;
    else
        t->freebind = v != 0;
    return 0;
}

int sk_setsockopt(sk_stack *s, int fd, int level, int name, const void *val, size_t len)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    int v = 0;
    int rc;
    if (level == SK_SOL_SOCKET) {
        if (name == SK_SO_LINGER) {
            if (!val)
                return -EFAULT;
            if (len < sizeof(struct sk_linger))
                return -EINVAL;
            struct sk_linger lg;
            memcpy(&lg, val, sizeof(lg));
            sk_tcb_ext *x = sk_tcb_ext_get(s, t);
            if (!x)
                return -ENOMEM;
            if (lg.l_onoff)
                t->sopts |= SK_O_LINGER;
            else
                t->sopts &= ~SK_O_LINGER;
            x->linger_s = lg.l_linger < 0 ? 0 : lg.l_linger;
            return 0;
        }
        if ((rc = read_int(val, len, &v)) != 0)
            return rc;
        switch (name) {
        case SK_SO_REUSEADDR:
            if (t->sflags & SK_S_BOUND) {
                /* keep the bind bucket's count of non-reusers right */
                sk_port_unref(s, t);
                t->sopts = v ? (t->sopts | SK_O_REUSEADDR) : (t->sopts & ~SK_O_REUSEADDR);
                sk_port_ref(s, t);
            } else {
                t->sopts = v ? (t->sopts | SK_O_REUSEADDR) : (t->sopts & ~SK_O_REUSEADDR);
            }
            return 0;
        case SK_SO_REUSEPORT:
            t->sopts = v ? (t->sopts | SK_O_REUSEPORT) : (t->sopts & ~SK_O_REUSEPORT);
            return 0;
        case SK_SO_KEEPALIVE:
            t->sopts = v ? (t->sopts | SK_O_KEEPALIVE) : (t->sopts & ~SK_O_KEEPALIVE);
            sk_arm_keepalive(s, t);
            return 0;
        case SK_SO_SNDBUF:
            /* Linux doubles the request to pay for bookkeeping. */
            t->sndbuf = v < 0 ? SOCK_MIN_SNDBUF : (uint32_t)v * 2u;
            if (t->sndbuf < SOCK_MIN_SNDBUF)
                t->sndbuf = SOCK_MIN_SNDBUF;
            t->sopts |= SK_O_SNDBUF_LOCK;
            return 0;
        case SK_SO_RCVBUF:
            t->rcvbuf = v < 0 ? SOCK_MIN_RCVBUF : (uint32_t)v * 2u;
            if (t->rcvbuf < SOCK_MIN_RCVBUF)
                t->rcvbuf = SOCK_MIN_RCVBUF;
            t->sndstate |= SK_RCVBUF_LOCK; /* no autotuning from now on */
            return 0;
        case SK_SO_RCVLOWAT:
        case SK_SO_ZEROCOPY:
            return 0;
        default:
            return -ENOPROTOOPT;
        }
    }
    if ((level == SK_IPPROTO_IP && (name == SK_IP_TRANSPARENT || name == SK_IP_FREEBIND)) ||
        (level == SK_IPPROTO_IPV6 && (name == SK_IPV6_TRANSPARENT || name == SK_IPV6_FREEBIND)))
        return nonlocal_setsockopt(t, level, name, val, len);
    if (level == SK_IPPROTO_IP) {
        if (!val && len)
            return -EFAULT;
        return sk_ip_setsockopt(s, t, name, val, len); /* pmtu.c */
    }
    if (level == SK_IPPROTO_IPV6)
        return ipv6_setsockopt(s, t, name, val, len);
    if (level != SK_IPPROTO_TCP)
        return -ENOPROTOOPT;
    if (name == SK_TCP_FASTOPEN || name == SK_TCP_FASTOPEN_CONNECT || name == SK_TCP_FASTOPEN_KEY ||
        name == SK_TCP_FASTOPEN_NO_COOKIE) {
        if (!val && len)
            return -EFAULT;
        return sk_fastopen_setsockopt(s, t, name, val, len);
    }
    if (name == SK_TCP_CONGESTION) {
        if (!val)
            return -EFAULT;
        char name_buf[16] = {0}; /* Linux's TCP_CA_NAME_MAX */
        memcpy(name_buf, val, len < sizeof(name_buf) - 1 ? len : sizeof(name_buf) - 1);
        /* ENOENT for an algorithm the stack does not have, as Linux. */
        return sk_cc_select(s, t, name_buf);
    }
    if ((rc = read_int(val, len, &v)) != 0)
        return rc;
    switch (name) {
    case SK_TCP_NODELAY:
        t->sopts = v ? (t->sopts | SK_O_NODELAY) : (t->sopts & ~SK_O_NODELAY);
        if (v) {
            /* Linux sets TCP_NAGLE_PUSH and pushes pending frames at
             * once, past a cork too (__tcp_sock_set_nodelay). */
            push_held_data(s, t, true);
        }
        return 0;
    case SK_TCP_CORK:
        t->sopts = v ? (t->sopts | SK_O_CORK) : (t->sopts & ~SK_O_CORK);
        if (!v) {
            /* Uncorking pushes; past Nagle too only with TCP_NODELAY
             * (__tcp_sock_set_cork adds TCP_NAGLE_PUSH only then). */
            push_held_data(s, t, (t->sopts & SK_O_NODELAY) != 0);
        }
        return 0;
    case SK_TCP_MAXSEG:
        /* Linux: 0 clears; else TCP_MIN_MSS (88) .. MAX_TCP_WINDOW. */
        if (v && (v < 88 || v > 65535))
            return -EINVAL;
        t->user_mss = (uint16_t)v;
        return 0;
    case SK_TCP_KEEPIDLE:
        if (v < 1 || v > 32767)
            return -EINVAL;
        t->keepidle_s = (uint16_t)v;
        if (t->sopts & SK_O_KEEPALIVE)
            sk_arm_keepalive(s, t);
        return 0;
    case SK_TCP_KEEPINTVL:
        if (v < 1 || v > 32767)
            return -EINVAL;
        t->keepintvl_s = (uint16_t)v;
        return 0;
    case SK_TCP_KEEPCNT:
        if (v < 1 || v > 127)
            return -EINVAL;
        t->keepcnt = (uint8_t)v;
        return 0;
    case SK_TCP_SYNCNT:
        if (v < 1 || v > 127)
            return -EINVAL;
        t->syn_retries = (uint8_t)v;
        return 0;
    case SK_TCP_USER_TIMEOUT:
        if (v < 0)
            return -EINVAL;
        if (v || t->ext) {
            sk_tcb_ext *x = sk_tcb_ext_get(s, t);
            if (!x)
                return -ENOMEM;
            x->user_timeout_ms = (uint32_t)v;
        }
        return 0;
    case SK_TCP_LINGER2:
        /* Linux: negative means "reset instead of FIN_WAIT_2"; 0 the sysctl. */
        /* Linux caps it at TCP_FIN_TIMEOUT_MAX (120 s). */
        t->fin_timeout_s = (int8_t)(v < 0 ? -2 : (v == 0 ? -1 : (v > 120 ? 120 : v)));
        return 0;
    case SK_TCP_QUICKACK:
        if (v) {
            t->quickack = SK_TCP_MAX_QUICKACKS;
            t->xflags &= ~SK_X_PINGPONG;
        } else {
            t->xflags |= SK_X_PINGPONG;
        }
        return 0;
    case SK_TCP_NOTSENT_LOWAT:
        if (!v && !t->ext)
            return 0; /* the default already: no ext needed */
        if (!sk_tcb_ext_get(s, t))
            return -ENOMEM;
        t->ext->notsent_lowat = (uint32_t)v;
        sk_notify(s, t);
        return 0;
    case SK_TCP_DEFER_ACCEPT:
        return 0;
    case SK_TCP_WINDOW_CLAMP:
        return set_window_clamp(t, v);
    case SK_TCP_INQ:
        /* Linux's do_tcp_setsockopt: only 0 and 1. */
        if (v < 0 || v > 1)
            return -EINVAL;
        t->sndstate = (uint8_t)(v ? t->sndstate | SK_RECV_INQ : t->sndstate & ~SK_RECV_INQ);
        return 0;
    default:
        return -ENOPROTOOPT;
    }
}

int sk_getsockopt(sk_stack *s, int fd, int level, int name, void *val, size_t *len)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (!val || !len)
        return -EFAULT;
    int v;
    if (level == SK_SOL_SOCKET) {
        switch (name) {
        case SK_SO_LINGER: {
            struct sk_linger lg = {.l_onoff = (t->sopts & SK_O_LINGER) ? 1 : 0,
                                   .l_linger = sk_linger_s(t) < 0 ? 0 : sk_linger_s(t)};
            return write_val(val, len, &lg, sizeof(lg));
        }
        case SK_SO_ERROR:
            /* sock_error(), else the soft error, each read once. */
            v = t->so_error;
            t->so_error = 0;
            if (!v)
                v = sk_take_err_soft(t);
            break;
        case SK_SO_TYPE:
            v = 1; /* SOCK_STREAM */
            break;
        case SK_SO_REUSEADDR:
            v = (t->sopts & SK_O_REUSEADDR) ? 1 : 0;
            break;
        case SK_SO_REUSEPORT:
            v = (t->sopts & SK_O_REUSEPORT) ? 1 : 0;
            break;
        case SK_SO_KEEPALIVE:
            v = (t->sopts & SK_O_KEEPALIVE) ? 1 : 0;
            break;
        case SK_SO_SNDBUF:
            v = (int)t->sndbuf;
            break;
        case SK_SO_RCVBUF:
            v = (int)t->rcvbuf;
            break;
        case SK_SO_RCVLOWAT:
            v = 1;
            break;
        case SK_SO_MEMINFO: {
            uint32_t mi[SK_MEMINFO_VARS];
            sk_meminfo(t, mi);
            return write_val(val, len, mi, sizeof(mi));
        }
        default:
            return -ENOPROTOOPT;
        }
        return write_val(val, len, &v, sizeof(v));
    }
    if ((level == SK_IPPROTO_IP && (name == SK_IP_TRANSPARENT || name == SK_IP_FREEBIND)) ||
        (level == SK_IPPROTO_IPV6 && (name == SK_IPV6_TRANSPARENT || name == SK_IPV6_FREEBIND))) {
        if (level == SK_IPPROTO_IPV6 && !t->sock6)
            return -ENOPROTOOPT;
        v = (name == SK_IP_TRANSPARENT || name == SK_IPV6_TRANSPARENT) ? t->transparent : t->freebind;
        return write_val(val, len, &v, sizeof(v));
    }
    if (level == SK_IPPROTO_IP) {
        if (!val || !len)
            return -EFAULT;
        return sk_ip_getsockopt(s, t, name, val, len); /* pmtu.c */
    }
    if (level == SK_IPPROTO_IPV6) {
        /* do_ipv6_getsockopt; an AF_INET socket has no such level */
        if (!t->sock6)
            return -ENOPROTOOPT;
        switch (name) {
        case SK_IPV6_V6ONLY:
            v = (t->sndstate & SK_SOCK_V6ONLY) ? 1 : 0;
            break;
        case SK_IPV6_TCLASS:
            v = t->ext && t->ext->tclass1 ? t->ext->tclass1 - 1 : 0;
            break;
        case SK_IPV6_UNICAST_HOPS:
            v = t->ext && t->ext->hops1 ? t->ext->hops1 - 1 : 64; /* the route's hop limit */
            break;
        case SK_IPV6_MTU: {
            /* The route's MTU of a connected socket (a learned Packet Too
             * Big included), else ENOTCONN, as do_ipv6_getsockopt. */
            if (t->state == SK_TCP_CLOSE || t->state == SK_TCP_LISTEN || !t->raddr)
                return -ENOTCONN;
            sk_peer_key k = sk_conn_peer_key(s, t); /* pmtu.c */
            v = sk_route_mtu(s, &k);
            break;
        }
        default:
            return sk_ip6_getsockopt(s, t, name, val, len); /* pmtu.c */
        }
        return write_val(val, len, &v, sizeof(v));
    }
    if (level != SK_IPPROTO_TCP)
        return -ENOPROTOOPT;
    if (name == SK_TCP_FASTOPEN || name == SK_TCP_FASTOPEN_CONNECT || name == SK_TCP_FASTOPEN_KEY ||
        name == SK_TCP_FASTOPEN_NO_COOKIE) {
        if (!val || !len)
            return -EFAULT;
        return sk_fastopen_getsockopt(s, t, name, val, len);
    }
    switch (name) {
    case SK_TCP_INFO: {
        struct sk_tcp_info ti;
        sk_fill_tcp_info(s, t, &ti);
        return write_val(val, len, &ti, sizeof(ti));
    }
    case SK_TCP_CONGESTION: {
        const char *cc = sk_cc_name(t);
        return write_val(val, len, cc, strlen(cc) + 1);
    }
    case SK_TCP_NODELAY:
        v = (t->sopts & SK_O_NODELAY) ? 1 : 0;
        break;
    case SK_TCP_CORK:
        v = (t->sopts & SK_O_CORK) ? 1 : 0;
        break;
    case SK_TCP_WINDOW_CLAMP:
        v = (int)t->window_clamp;
        break;
    case SK_TCP_INQ:
        v = (t->sndstate & SK_RECV_INQ) ? 1 : 0;
        break;
    case SK_TCP_MAXSEG:
        /* Linux's do_tcp_getsockopt(): the current MSS, or the user's
         * value before the connection exists, or 536. */
        if (t->user_mss && (t->state == SK_TCP_CLOSE || t->state == SK_TCP_LISTEN))
            v = t->user_mss;
        else if (t->state == SK_TCP_CLOSE || t->state == SK_TCP_LISTEN || t->state == SK_TCP_SYN_SENT)
            v = SK_TCP_MSS_DEFAULT;
        else
            v = t->mss;
        break;
    case SK_TCP_KEEPIDLE:
        v = (int)(t->keepidle_s ? t->keepidle_s : (uint32_t)s->cfg.tcp_keepalive_time);
        break;
    case SK_TCP_KEEPINTVL:
        v = (int)(t->keepintvl_s ? t->keepintvl_s : (uint32_t)s->cfg.tcp_keepalive_intvl);
        break;
    case SK_TCP_KEEPCNT:
        v = t->keepcnt ? t->keepcnt : s->cfg.tcp_keepalive_probes;
        break;
    case SK_TCP_SYNCNT:
        v = t->syn_retries ? t->syn_retries : s->cfg.tcp_syn_retries;
        break;
    case SK_TCP_USER_TIMEOUT:
        v = (int)sk_user_timeout_ms(t);
        break;
    case SK_TCP_LINGER2:
        v = t->fin_timeout_s == -2 ? -1 : (t->fin_timeout_s >= 0 ? t->fin_timeout_s : s->cfg.tcp_fin_timeout);
        break;
    case SK_TCP_QUICKACK:
        v = (t->xflags & SK_X_PINGPONG) ? 0 : 1;
        break;
    case SK_TCP_NOTSENT_LOWAT:
        v = (int)sk_notsent_lowat_opt(t);
        break;
    default:
        return -ENOPROTOOPT;
    }
    return write_val(val, len, &v, sizeof(v));
}

/* ------------------------------------------------------------------ */
/* Names, state, readiness                                              */
/* ------------------------------------------------------------------ */

int sk_getsockname(sk_stack *s, int fd, sk_endpoint *out)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (!out)
        return -EFAULT;
    sk_tcb_local(s, t, out);
    out->port = (t->sflags & SK_S_BOUND) || t->state != SK_TCP_CLOSE ? t->lport : 0;
    name_extras(t, out, false);
    return 0;
}

int sk_getpeername(sk_stack *s, int fd, sk_endpoint *out)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (!out)
        return -EFAULT;
    if (t->state == SK_TCP_LISTEN || t->state == SK_TCP_SYN_SENT || !t->raddr ||
        (t->state == SK_TCP_CLOSE && !(t->sflags & SK_S_WAS_ESTABLISHED)))
        return -ENOTCONN;
    sk_tcb_remote(s, t, out);
    name_extras(t, out, true);
    return 0;
}

int sk_state(sk_stack *s, int fd)
{
    sk_tcb *t = get(s, fd);
    return t ? t->state : -EBADF;
}

int sk_inq(sk_stack *s, int fd)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    return t->state == SK_TCP_LISTEN ? -EINVAL : (int)t->rcvq.len;
}

int sk_inq_hint(sk_stack *s, int fd)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (t->state == SK_TCP_LISTEN)
        return -EINVAL;
    return (int)t->rcvq.len + ((t->sflags & SK_S_FIN_RCVD) ? 1 : 0);
}

int sk_outq(sk_stack *s, int fd)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    return t->state == SK_TCP_LISTEN ? -EINVAL : (int)t->sndq.len;
}

/* Linux's tcp_poll(). */
int sk_poll(sk_stack *s, int fd)
{
    sk_tcb *t = get(s, fd);
    if (!t)
        return -EBADF;
    if (t->state == SK_TCP_LISTEN)
        return (t->listen && t->listen->aq_len) ? (SK_POLLIN | SK_POLLRDNORM) : 0;
    int mask = 0;
    bool rd_shut = (t->sflags & (SK_S_SHUT_RD | SK_S_FIN_RCVD)) != 0;
    bool wr_shut = (t->sflags & SK_S_SHUT_WR) != 0;
    if ((rd_shut && wr_shut) || t->state == SK_TCP_CLOSE)
        mask |= SK_POLLHUP;
    if (rd_shut)
        mask |= SK_POLLIN | SK_POLLRDNORM | SK_POLLRDHUP;
    /* Linux's tcp_poll(): a TCP_FASTOPEN_CONNECT socket waiting for its
     * first write is writable. */
    if (t->state == SK_TCP_SYN_SENT && (t->tfo & SK_TFO_DEFER) && !wr_shut)
        mask |= SK_POLLOUT | SK_POLLWRNORM;
    if (t->state != SK_TCP_SYN_SENT && t->state != SK_TCP_SYN_RECV) {
        if (t->rcvq.len || (t->ext && t->ext->post_filled))
            mask |= SK_POLLIN | SK_POLLRDNORM;
        if (!wr_shut) {
            /* Linux's tcp_poll(): __sk_stream_is_writeable(sk, 1), else
             * SOCK_NOSPACE is set so that the next ACK freeing room
             * wakes the poller (tcp_check_space). */
            if (sk_stream_is_writeable(s, t))
                mask |= SK_POLLOUT | SK_POLLWRNORM;
            else
                t->sndstate |= SK_SND_NOSPACE;
        } else {
            mask |= SK_POLLOUT | SK_POLLWRNORM;
        }
    }
    if (t->so_error)
        mask |= SK_POLLERR;
    return mask;
}

int sk_poll_many(sk_stack *s, struct sk_pollfd *fds, size_t n)
{
    if (!fds && n)
        return -EFAULT;
    int ready = 0;
    for (size_t i = 0; i < n; i++) {
        int m = sk_poll(s, fds[i].fd);
        if (m < 0)
            fds[i].revents = SK_POLLNVAL;
        else
            fds[i].revents = (short)(m & (fds[i].events | SK_POLLERR | SK_POLLHUP | SK_POLLNVAL));
        if (fds[i].revents)
            ready++;
    }
    return ready;
}
