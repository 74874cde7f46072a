/*
 * TCP Fast Open (RFC 7413) as Linux's net/ipv4/tcp_fastopen.c does it.
 *
 * Server: a SYN with a valid cookie (or any SYN when cookies are not
 * required) makes a full child at once, so the SYN's data reaches the
 * application before the handshake ends; the child waits on the accept
 * queue in SYN_RECV and counts against the listener's TCP_FASTOPEN limit
 * until the handshake's ACK.  The cookie is SipHash-2-4 of the client and
 * server addresses under the listener's (or the stack's) key, 8 bytes,
 * exactly as Linux computes it, so both issue the same cookie for a key.
 *
 * Client: a bounded per-destination cache of the cookie and MSS (Linux
 * keeps it in its TCP metrics), consulted when a SYN may carry data, and
 * the active-side blackhole detection behind
 * tcp_fastopen_blackhole_timeout_sec.
 */
#include <stdlib.h>
#include <string.h>

#include "fastopen.h"
#include "addr.h"
#include "eor.h"
#include "stack.h"
#include "tables.h"

/* Linux keeps Fast Open state in its TCP metrics hash (tcp_metrics.c),
 * which it bounds by evicting the oldest entry of a bucket; synack keeps
 * one bounded table and evicts the least recently used entry. */
#define SK_FO_CACHE_MAX 256

typedef struct sk_fo_entry {
    uint32_t daddr;
    uint16_t mss;
    uint8_t try_exp;   /* 1: next request in the experimental encoding, 2: back to kind 34 */
    uint8_t syn_loss;
    sk_fo_cookie cookie;
    uint64_t used;     /* LRU tick */
} sk_fo_entry;

struct sk_fo_state {
    sk_fo_entry cache[SK_FO_CACHE_MAX];
    uint32_t n;
    uint64_t tick;
    /* tcp_fastopen_active_disable(): when and how often active TFO was
     * turned off after a suspected middlebox blackhole. */
    sk_time_ns disable_stamp;
    uint32_t disable_times;
};

static struct sk_fo_state *fo_state(sk_stack *s)
{
    if (!s->fo)
        s->fo = sk_calloc(s, 1, sizeof(*s->fo));
    return s->fo;
}

void sk_fastopen_free(sk_stack *s)
{
    sk_free(s, s->fo);
    s->fo = NULL;
}

/* The cookie a key gives a client (Linux's __tcp_fastopen_cookie_gen_cipher). */
static void sk_fastopen_cookie_gen(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint8_t out[8])
{
    /* siphash over the IPv4 header's saddr and daddr as they lie in the
     * packet (network order), stored as a little-endian 64-bit value. */
    uint8_t in[8] = {(uint8_t)(saddr >> 24), (uint8_t)(saddr >> 16), (uint8_t)(saddr >> 8), (uint8_t)saddr,
                     (uint8_t)(daddr >> 24), (uint8_t)(daddr >> 16), (uint8_t)(daddr >> 8), (uint8_t)daddr};
    uint64_t h = sk_siphash24(key, in, sizeof in);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(h >> (8 * i));
}

void sk_fastopen_cookie_gen6(const uint8_t key[16], const uint8_t saddr[16], const uint8_t daddr[16], uint8_t out[8])
{
    /* For IPv6 the hash runs over both addresses as they lie in the
     * header, 32 bytes. */
    uint8_t in[32];
    memcpy(in, saddr, 16);
    memcpy(in + 16, daddr, 16);
    uint64_t h = sk_siphash24(key, in, sizeof in);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(h >> (8 * i));
}

static void seg_cookie_gen(const uint8_t key[16], const sk_segment *seg, uint8_t out[8])
{
    if (seg->ip_version == 6)
        sk_fastopen_cookie_gen6(key, seg->src6, seg->dst6, out);
    else
        sk_fastopen_cookie_gen(key, seg->src, seg->dst, out);
}

/* The client cache's key for a destination: the IPv4 address, or a
 * keyed digest of an IPv6 one (the cache keeps 4 bytes a peer). */
static uint32_t cache_daddr(const sk_stack *s, const sk_tcb *t)
{
    if (!t->af6)
        return t->raddr;
    return (uint32_t)sk_siphash24(s->cookie_key, sk_addr6_get(s, t->raddr), 16);
}

const uint8_t *sk_fastopen_stack_key(sk_stack *s, int *count)
{
    if (!s->cfg.tcp_fastopen_key_count) {
        /* Linux's tcp_fastopen_init_key_once: a random key on first use;
         * here derived from the stack's injected secret, so runs repeat. */
        static const char label[] = "synack tcp_fastopen_key";
        uint64_t a = sk_siphash24(s->cookie_key, label, sizeof label - 1);
        uint64_t b = sk_siphash24(s->cookie_key, &a, sizeof a);
        for (int i = 0; i < 8; i++) {
            s->cfg.tcp_fastopen_key[0][i] = (uint8_t)(a >> (8 * i));
            s->cfg.tcp_fastopen_key[0][8 + i] = (uint8_t)(b >> (8 * i));
        }
        s->cfg.tcp_fastopen_key_count = 1;
    }
    *count = s->cfg.tcp_fastopen_key_count;
    return s->cfg.tcp_fastopen_key[0];
}

/* A socket's TCP_FASTOPEN and TCP_FASTOPEN_KEY settings (sk_tcb_ext.fo). */
struct sk_fo_listen {
    uint32_t max_qlen;
    uint8_t key_count;
    uint8_t key[2][16];
};

static const struct sk_fo_listen *fo_listen(const sk_tcb *t) { return t->ext ? t->ext->fo : NULL; }

static struct sk_fo_listen *fo_listen_get(sk_stack *s, sk_tcb *t)
{
    sk_tcb_ext *x = sk_tcb_ext_get(s, t);
    if (x && !x->fo)
        x->fo = sk_calloc(s, 1, sizeof(*x->fo));
    return x ? x->fo : NULL;
}

/* tcp_fastopen_get_ctx(): the listener's own key if it set one. */
static const uint8_t *listener_key(sk_stack *s, const sk_tcb *l, int *count)
{
    const struct sk_fo_listen *fl = fo_listen(l);
    if (fl && fl->key_count) {
        *count = fl->key_count;
        return fl->key[0];
    }
    return sk_fastopen_stack_key(s, count);
}

static bool queue_check(sk_stack *s, sk_tcb *l)
{
    uint32_t max = fo_listen(l) ? fo_listen(l)->max_qlen : 0;
    if (!max || !l->listen)
        return false;
    if (l->listen->fo_qlen >= max) {
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_LISTEN_OVERFLOW);
        return false;
    }
    return true;
}

static bool no_cookie(const sk_stack *s, const sk_tcb *t, int flag)
{
    return (s->cfg.tcp_fastopen & flag) || (t->tfo & SK_TFO_NO_COOKIE);
}

bool sk_fastopen_try(sk_stack *s, sk_tcb *l, const sk_segment *seg, sk_fo_cookie *foc)
{
    bool syn_data = seg->payload_len > 0;
    if (foc->len == 0)
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_COOKIE_REQD);
    if (!((s->cfg.tcp_fastopen & SK_TFO_SERVER_ENABLE) && (syn_data || foc->len >= 0) && queue_check(s, l))) {
        foc->len = -1;
        return false;
    }
    if (no_cookie(s, l, SK_TFO_SERVER_COOKIE_NOT_REQD)) {
        foc->len = -1;
        return true;
    }
    int nkeys = 0;
    const uint8_t *keys = listener_key(s, l, &nkeys);
    sk_fo_cookie valid = {.len = -1, .exp = foc->exp};
    if (foc->len == 0) {
        seg_cookie_gen(keys, seg, valid.val);
        valid.len = 8;
    } else if (foc->len > 0) {
        /* tcp_fastopen_cookie_gen_check(): the primary key, then the
         * backup; the SYN-ACK of a backup-key match carries the
         * backup's cookie, since that is what matched. */
        for (int i = 0; i < nkeys; i++) {
            uint8_t c[8];
            seg_cookie_gen(keys + 16 * i, seg, c);
            if (i == 0) {
                memcpy(valid.val, c, 8);
                valid.len = 8;
            }
            if (foc->len == 8 && memcmp(c, foc->val, 8) == 0) {
                if (i == 1) {
                    memcpy(valid.val, c, 8);
                    foc->len = 8; /* ALTKEY: sent back as matched; counted once the child exists */
                    foc->exp = valid.exp;
                    memcpy(foc->val, c, 8);
                    return true;
                }
                foc->len = -1;
                return true;
            }
        }
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_PASSIVE_FAIL);
    }
    *foc = valid;
    return false;
}

void sk_fastopen_child_created(sk_stack *s, sk_tcb *l, bool ok, bool alt_key, sk_fo_cookie *foc)
{
    if (!ok) {
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_PASSIVE_FAIL);
        return;
    }
    if (alt_key)
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_PASSIVE_ALT_KEY);
    else
        foc->len = -1;
    sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_PASSIVE);
    l->listen->fo_qlen++;
}

void sk_fastopen_child_done(sk_stack *s, sk_tcb *t)
{
    if (!(t->tfo & SK_TFO_CHILD))
        return;
    t->tfo &= (uint8_t)~SK_TFO_CHILD;
    /* Linux's reqsk_fastopen_remove() through the request's listener;
     * synack's child keeps no pointer once accepted, so the listener is
     * found again by port. */
    sk_tcb *l = sk_listener_lookup(s, t->af6, t->laddr, t->lport);
    if (l && t->af6)
        l = sk_listener_select6(s, l, sk_addr6_get(s, t->laddr), sk_addr6_get(s, t->raddr), t->lport, t->rport);
    else
        l = sk_listener_select4(s, l, t->laddr, t->raddr, t->lport, t->rport);
    if (!l && t->transparent && s->tproxy_port) /* a child of the catch-all (sk_stack_set_tproxy) */
        l = sk_listener_lookup(s, t->af6, t->laddr, s->tproxy_port);
    if (l && l->listen && l->listen->fo_qlen)
        l->listen->fo_qlen--;
}

void sk_fastopen_listen(sk_stack *s, sk_tcb *t, int backlog, bool was_listening)
{
    /* inet_listen(): with 0x400 and server enable, every new listener
     * gets a Fast Open queue sized like its backlog (fastopen_queue_tune). */
    int tfo = s->cfg.tcp_fastopen;
    if (was_listening || !(tfo & SK_TFO_SERVER_WO_SOCKOPT1) || !(tfo & SK_TFO_SERVER_ENABLE))
        return;
    if (fo_listen(t) && fo_listen(t)->max_qlen)
        return;
    struct sk_fo_listen *x = fo_listen_get(s, t);
    if (!x)
        return;
    uint32_t q = backlog < 0 ? 0 : (uint32_t)backlog;
    if (q > (uint32_t)s->cfg.somaxconn)
        q = (uint32_t)s->cfg.somaxconn;
    x->max_qlen = q;
}

int sk_fastopen_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len)
{
    switch (name) {
    case SK_TCP_FASTOPEN: {
        if (!val || len < sizeof(int))
            return -EINVAL;
        int v;
        memcpy(&v, val, sizeof v);
        /* do_tcp_setsockopt: only before connecting or while listening. */
        if (t->state != SK_TCP_CLOSE && t->state != SK_TCP_LISTEN)
            return -EINVAL;
        if (v < 0)
            return -EINVAL;
        struct sk_fo_listen *x = fo_listen_get(s, t);
        if (!x)
            return -ENOMEM;
        uint32_t q = (uint32_t)v;
        if (q > (uint32_t)s->cfg.somaxconn)
            q = (uint32_t)s->cfg.somaxconn;
        x->max_qlen = q;
        int n;
        (void)sk_fastopen_stack_key(s, &n);
        return 0;
    }
    case SK_TCP_FASTOPEN_KEY: {
        /* Linux: 16 bytes (primary) or 32 (primary and backup). */
        if (!val || (len != 16 && len != 32))
            return -EINVAL;
        struct sk_fo_listen *x = fo_listen_get(s, t);
        if (!x)
            return -ENOMEM;
        memcpy(x->key, val, len);
        x->key_count = (uint8_t)(len / 16);
        return 0;
    }
    case SK_TCP_FASTOPEN_CONNECT: {
        if (!val || len < sizeof(int))
            return -EINVAL;
        int v;
        memcpy(&v, val, sizeof v);
        if (v > 1 || v < 0)
            return -EINVAL;
        /* Only on a socket that has not connected, and only with the
         * client bit on (Linux answers EOPNOTSUPP otherwise). */
        if (!(s->cfg.tcp_fastopen & SK_TFO_CLIENT_ENABLE))
            return -EOPNOTSUPP;
        if (t->state != SK_TCP_CLOSE)
            return -EISCONN;
        if (v)
            t->tfo |= SK_TFO_CONNECT;
        else
            t->tfo &= (uint8_t)~SK_TFO_CONNECT;
        return 0;
    }
    case SK_TCP_FASTOPEN_NO_COOKIE: {
        if (!val || len < sizeof(int))
            return -EINVAL;
        int v;
        memcpy(&v, val, sizeof v);
        if (v > 1 || v < 0)
            return -EINVAL;
        if (v)
            t->tfo |= SK_TFO_NO_COOKIE;
        else
            t->tfo &= (uint8_t)~SK_TFO_NO_COOKIE;
        return 0;
    }
    default:
        return -ENOPROTOOPT;
    }
}

int sk_fastopen_getsockopt(sk_stack *s, sk_tcb *t, int name, void *val, size_t *len)
{
    int v;
    switch (name) {
    case SK_TCP_FASTOPEN:
        v = fo_listen(t) ? (int)fo_listen(t)->max_qlen : 0;
        break;
    case SK_TCP_FASTOPEN_CONNECT:
        v = (t->tfo & SK_TFO_CONNECT) != 0;
        break;
    case SK_TCP_FASTOPEN_NO_COOKIE:
        v = (t->tfo & SK_TFO_NO_COOKIE) != 0;
        break;
    case SK_TCP_FASTOPEN_KEY: {
        /* The keys in use: the socket's, else the stack's. */
        int n = 0;
        const struct sk_fo_listen *fl = fo_listen(t);
        const uint8_t *k = fl && fl->key_count ? (n = fl->key_count, fl->key[0]) : sk_fastopen_stack_key(s, &n);
        size_t want = (size_t)n * 16;
        if (*len > want)
            *len = want;
        memcpy(val, k, *len);
        return 0;
    }
    default:
        return -ENOPROTOOPT;
    }
    if (*len > sizeof v)
        *len = sizeof v;
    memcpy(val, &v, *len);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Client: the cookie cache and blackhole detection                     */
/* ------------------------------------------------------------------ */

static sk_fo_entry *cache_find(sk_stack *s, uint32_t daddr, bool create)
{
    struct sk_fo_state *f = create ? fo_state(s) : s->fo;
    if (!f)
        return NULL;
    for (uint32_t i = 0; i < f->n; i++)
        if (f->cache[i].daddr == daddr) {
            f->cache[i].used = ++f->tick;
            return &f->cache[i];
        }
    if (!create)
        return NULL;
    sk_fo_entry *e;
    if (f->n < SK_FO_CACHE_MAX) {
        e = &f->cache[f->n++];
    } else {
        e = &f->cache[0];
        for (uint32_t i = 1; i < f->n; i++)
            if (f->cache[i].used < e->used)
                e = &f->cache[i];
    }
    memset(e, 0, sizeof *e);
    e->daddr = daddr;
    e->cookie.len = -1;
    e->used = ++f->tick;
    return e;
}

static void sk_fastopen_cache_flush(sk_stack *s, uint32_t daddr, bool all)
{
    struct sk_fo_state *f = s->fo;
    if (!f)
        return;
    if (all) {
        f->n = 0;
        return;
    }
    for (uint32_t i = 0; i < f->n; i++)
        if (f->cache[i].daddr == daddr) {
            f->cache[i] = f->cache[--f->n];
            return;
        }
}

/* tcp_fastopen_active_should_disable(). */
static bool active_disabled(sk_stack *s)
{
    int timeout = s->cfg.tcp_fastopen_blackhole_timeout_sec;
    struct sk_fo_state *f = s->fo;
    if (!timeout || !f || !f->disable_times)
        return false;
    uint32_t shift = f->disable_times - 1 < 6 ? f->disable_times - 1 : 6;
    return s->now < f->disable_stamp + ((sk_time_ns)timeout << shift) * SK_NSEC_PER_SEC;
}

/* tcp_fastopen_active_disable(). */
static void active_disable(sk_stack *s)
{
    if (!s->cfg.tcp_fastopen_blackhole_timeout_sec)
        return;
    struct sk_fo_state *f = fo_state(s);
    if (!f)
        return;
    f->disable_stamp = s->now;
    f->disable_times++;
    sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_BLACKHOLE);
}

bool sk_fastopen_cookie_check(sk_stack *s, sk_tcb *t, sk_fo_cookie *foc)
{
    sk_fo_entry *e = cache_find(s, cache_daddr(s, t), false);
    foc->len = -1;
    foc->exp = false;
    if (e) {
        *foc = e->cookie;
        if (foc->len <= 0 && e->try_exp == 1)
            foc->exp = true;
    }
    if (foc->len < 0)
        foc->len = 0;
    if (active_disabled(s)) {
        foc->len = -1;
        return false;
    }
    if (no_cookie(s, t, SK_TFO_CLIENT_NO_COOKIE)) {
        foc->len = -1;
        return true;
    }
    if (foc->len > 0)
        return true;
    t->tfo_client_fail = SK_TFO_COOKIE_UNAVAILABLE;
    return false;
}

/* The MSS the cache remembers for t's destination, 0 if none. */
uint16_t sk_fastopen_cached_mss(sk_stack *s, const sk_tcb *t)
{
    sk_fo_entry *e = cache_find(s, cache_daddr(s, t), false);
    return e ? e->mss : 0;
}

bool sk_fastopen_synack(sk_stack *s, sk_tcb *t, const sk_segment *seg)
{
    sk_fo_cookie cookie = {.len = seg->opts.fo_len, .exp = seg->opts.fo_exp};
    if (cookie.len > 0)
        memcpy(cookie.val, seg->opts.fo_cookie, (size_t)cookie.len);
    /* The data sent with the SYN is unacknowledged when the SYN-ACK's ACK
     * stops short of it: what is left in the send queue from SND.UNA on
     * was part of the SYN (nothing else can have been sent yet). */
    bool unacked = (t->tfo & SK_TFO_SYN_DATA) && t->sndq.len > 0 && seq_lt(seg->ack, t->snd_nxt);
    uint16_t mss = seg->opts.has_mss && seg->opts.mss ? seg->opts.mss : 0;
    uint8_t try_exp = 0;
    bool syn_drop = false;
    if (!(t->tfo & SK_TFO_SYN_FASTOPEN)) {
        cookie.len = -1; /* an unsolicited cookie is ignored */
    } else if (t->total_retrans) {
        /* The SYN timed out and the SYN-ACK neither has a cookie nor
         * acknowledges the data: presumably only the plain retries got
         * through. */
        syn_drop = cookie.len < 0 && unacked;
    } else if (cookie.len < 0 && !(t->tfo & SK_TFO_SYN_DATA)) {
        /* Asked for a cookie and got none: try the other encoding next. */
        try_exp = (t->tfo & SK_TFO_SYN_EXP) ? 2 : 1;
    }
    sk_fo_entry *e = cache_find(s, cache_daddr(s, t), true);
    if (e) {
        if (mss)
            e->mss = mss;
        if (cookie.len > 0)
            e->cookie = cookie;
        else if (try_exp > e->try_exp && e->cookie.len <= 0 && !e->cookie.exp)
            e->try_exp = try_exp;
        if (syn_drop)
            e->syn_loss++;
        else
            e->syn_loss = 0;
    }
    if (unacked) {
        t->tfo_client_fail = t->total_retrans ? SK_TFO_SYN_RETRANSMITTED : SK_TFO_DATA_NOT_ACKED;
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_ACTIVE_FAIL);
        return true;
    }
    if (t->tfo & SK_TFO_SYN_DATA) {
        t->tfo |= SK_TFO_SYN_DATA_ACKED;
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_ACTIVE);
    }
    return false;
}

void sk_fastopen_syn_timeout(sk_stack *s, sk_tcb *t, bool expired)
{
    /* tcp_write_timeout() in SYN_SENT, before the count of this timeout:
     * a Fast Open SYN lost again marks the destination, and SYN data
     * lost twice counts as a failure. */
    bool fo = (t->tfo & (SK_TFO_SYN_FASTOPEN | SK_TFO_SYN_DATA)) != 0;
    if (t->retransmits && fo) {
        sk_fo_entry *e = cache_find(s, cache_daddr(s, t), true);
        if (e && e->syn_loss < 255)
            e->syn_loss++;
    }
    if ((t->tfo & SK_TFO_SYN_DATA) && t->retransmits == 1)
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_ACTIVE_FAIL);
    /* tcp_fastopen_active_detect_blackhole(): the third consecutive
     * timeout of a Fast Open connection pauses active Fast Open. */
    if ((fo || (t->tfo & SK_TFO_SYN_DATA_ACKED)) && (t->retransmits == 2 || (t->retransmits < 2 && expired))) {
        active_disable(s);
        sk_count(s, SK_C_TCPEXT_TCP_FAST_OPEN_ACTIVE_FAIL);
    }
}

void sk_fastopen_cookie(const uint8_t key[16], uint32_t client, uint32_t server, uint8_t out[8])
{
    sk_fastopen_cookie_gen(key, client, server, out);
}

void sk_fastopen_forget(sk_stack *s, uint32_t addr, bool all)
{
    sk_fastopen_cache_flush(s, addr, all);
}
