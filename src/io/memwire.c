/*
 * The in-memory wire (see include/synack-io/memwire.h).
 *
 * Datagrams in flight are ordered by (arrival time, sequence number): the
 * sequence number breaks ties so datagrams due at the same instant arrive
 * in the order they were sent, which keeps runs reproducible and stops
 * equal delays from reordering anything.  Most datagrams arrive no
 * earlier than the one sent before them (one delay per link, no jitter),
 * so those wait in a FIFO, already in order; only the others (a shorter
 * delay than the last one's, jitter, reordering) go into a binary
 * min-heap, and the next datagram is the earlier of the two heads.
 *
 * The wire is a backend: it uses the public API only, and has its own
 * small PRNG so impairments are drawn from the wire's seed, independent
 * of the stacks' randomness.
 */
#include "synack-io/memwire.h"
#include "synack/packet.h"

#include "io_bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded through splitmix64                         */
/* ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct wire_rng {
    uint64_t s[4];
} wire_rng;

static void wire_rng_seed(wire_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl64(uint64_t v, int k)
{
    return (v << k) | (v >> (64 - k));
}

static uint64_t wire_rng_next(wire_rng *r)
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

/* Uniform in [0, 1) with 53 bits. */
static double wire_rng_unit(wire_rng *r)
{
    return (double)(wire_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Draws only when the probability is non-zero, so a link without an
 * impairment consumes no randomness for it. */
static bool wire_rng_chance(wire_rng *r, double p)
{
    if (p <= 0.0)
        return false;
    if (p >= 1.0)
        return true;
    return wire_rng_unit(r) < p;
}

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

typedef struct wire_host {
    sk_wire *wire;
    uint32_t addr;
    sk_stack *stack;
    char name[32];
} wire_host;

/* Impairments as configured; from/to of 0 are wildcards. */
typedef struct wire_link {
    uint32_t from, to;
    sk_link_params params;
} wire_link;

/* Per concrete direction: the latest arrival scheduled in order, so
 * jitter never reorders datagrams by accident. */
typedef struct wire_flow {
    uint32_t from, to;
    sk_time_ns last_arrival;
    sk_time_ns busy_until; /* the bottleneck's transmitter is free from here (rate_bps) */
} wire_flow;

typedef struct wire_datagram {
    sk_time_ns arrival;
    uint64_t seq;
    wire_host *dst;
    uint8_t *data;
    size_t len;
} wire_datagram;

struct sk_wire {
    sk_time_ns now;
    uint64_t seed;
    wire_rng rng;
    uint64_t next_seq;

    wire_host **hosts;
    size_t host_count, host_cap;

    wire_link *links;
    size_t link_count, link_cap;

    wire_flow *flows;
    size_t flow_count, flow_cap;

    wire_datagram *heap;
    size_t heap_count, heap_cap;
    wire_datagram *fifo; /* a ring, sorted: each no earlier than the one before */
    size_t fifo_head, fifo_count, fifo_cap;
    /* Freed datagram buffers of WIRE_SMALL bytes, for the next ones: a
     * wire moves one or two datagrams per malloc'd buffer otherwise. */
    uint8_t **spare;
    size_t spare_count;

    sk_wire_tap_fn tap;
    void *tap_ctx;
    sk_wire_filter_fn filter;
    void *filter_ctx;

    /* Steps in a row that neither moved the clock nor delivered: a stack
     * whose deadline stays due after sk_advance would spin forever. */
    unsigned stalled_steps;
    bool closing; /* sk_wire_free in progress: transmissions are dropped */
};

#define WIRE_STALL_LIMIT 100000u
/* Datagrams up to this size (any MTU-1500 datagram) take their buffer
 * from the wire's spares; at most WIRE_SPARES are kept. */
#define WIRE_SMALL 2048u
#define WIRE_SPARES 256u

/* Memory exhaustion in a test backend leaves nothing sensible to do. */
static void *wire_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "memwire: out of memory\n");
        abort();
    }
    return q;
}

static void *wire_grow(void *array, size_t *cap, size_t elem, size_t need)
{
    if (need <= *cap)
        return array;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    *cap = ncap;
    return wire_xrealloc(array, ncap * elem);
}

/* A buffer for a datagram of `len` bytes (WIRE_SMALL bytes when it fits). */
static uint8_t *dgram_alloc(sk_wire *w, size_t len)
{
    if (len <= WIRE_SMALL) {
        if (w->spare_count)
            return w->spare[--w->spare_count];
        return wire_xrealloc(NULL, WIRE_SMALL);
    }
    return wire_xrealloc(NULL, len);
}

static void dgram_free(sk_wire *w, uint8_t *data, size_t len)
{
    if (!data)
        return;
    if (len <= WIRE_SMALL && w->spare_count < WIRE_SPARES) {
        if (!w->spare)
            w->spare = wire_xrealloc(NULL, WIRE_SPARES * sizeof *w->spare);
        w->spare[w->spare_count++] = data;
        return;
    }
    free(data);
}

/* ------------------------------------------------------------------ */
/* Event queue                                                          */
/* ------------------------------------------------------------------ */

static bool dgram_before(const wire_datagram *a, const wire_datagram *b)
{
    if (a->arrival != b->arrival)
        return a->arrival < b->arrival;
    return a->seq < b->seq;
}

static void heap_push(sk_wire *w, wire_datagram d)
{
    w->heap = wire_grow(w->heap, &w->heap_cap, sizeof *w->heap, w->heap_count + 1);
    size_t i = w->heap_count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!dgram_before(&d, &w->heap[parent]))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = d;
}

static wire_datagram *fifo_at(const sk_wire *w, size_t i)
{
    return &w->fifo[(w->fifo_head + i) & (w->fifo_cap - 1)];
}

/* Queues a datagram: behind the FIFO's tail when it arrives no earlier
 * (its sequence number being the largest yet, the FIFO stays sorted),
 * in the heap otherwise. */
static void queue_push(sk_wire *w, wire_datagram d)
{
    if (w->fifo_count && d.arrival < fifo_at(w, w->fifo_count - 1)->arrival) {
        heap_push(w, d);
        return;
    }
    if (w->fifo_count == w->fifo_cap) {
        /* Grow the ring (a power of two) and unwrap it. */
        size_t ncap = w->fifo_cap ? w->fifo_cap * 2 : 64;
        wire_datagram *n = wire_xrealloc(NULL, ncap * sizeof *n);
        for (size_t i = 0; i < w->fifo_count; i++)
            n[i] = *fifo_at(w, i);
        free(w->fifo);
        w->fifo = n;
        w->fifo_cap = ncap;
        w->fifo_head = 0;
    }
    *fifo_at(w, w->fifo_count++) = d;
}

/* The earliest datagram in flight, or NULL. */
static const wire_datagram *queue_peek(const sk_wire *w)
{
    const wire_datagram *f = w->fifo_count ? fifo_at(w, 0) : NULL;
    const wire_datagram *h = w->heap_count ? &w->heap[0] : NULL;
    if (!f)
        return h;
    return h && dgram_before(h, f) ? h : f;
}

static wire_datagram heap_pop(sk_wire *w);

/* Removes the datagram queue_peek returned. */
static wire_datagram queue_pop(sk_wire *w, const wire_datagram *top)
{
    if (w->heap_count && top == &w->heap[0])
        return heap_pop(w);
    wire_datagram d = *top;
    w->fifo_head = (w->fifo_head + 1) & (w->fifo_cap - 1);
    w->fifo_count--;
    return d;
}

static wire_datagram heap_pop(sk_wire *w)
{
    wire_datagram top = w->heap[0];
    wire_datagram last = w->heap[--w->heap_count];
    size_t n = w->heap_count, i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && dgram_before(&w->heap[child + 1], &w->heap[child]))
            child++;
        if (!dgram_before(&w->heap[child], &last))
            break;
        w->heap[i] = w->heap[child];
        i = child;
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------ */
/* Routing and impairments                                              */
/* ------------------------------------------------------------------ */

static wire_host *wire_find_host(const sk_wire *w, uint32_t addr)
{
    for (size_t i = 0; i < w->host_count; i++)
        if (w->hosts[i]->addr == addr)
            return w->hosts[i];
    return NULL;
}

/* The most specific configured link wins: exact pair, then from-any,
 * then any-to, then the catch-all.  No match means a perfect link. */
static const sk_link_params *wire_link_for(const sk_wire *w, uint32_t from, uint32_t to)
{
    static const sk_link_params perfect = {0};
    const uint32_t keys[4][2] = {{from, to}, {from, 0}, {0, to}, {0, 0}};
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < w->link_count; i++)
            if (w->links[i].from == keys[k][0] && w->links[i].to == keys[k][1])
                return &w->links[i].params;
    return &perfect;
}

static wire_flow *wire_flow_for(sk_wire *w, uint32_t from, uint32_t to)
{
    for (size_t i = 0; i < w->flow_count; i++)
        if (w->flows[i].from == from && w->flows[i].to == to)
            return &w->flows[i];
    w->flows = wire_grow(w->flows, &w->flow_cap, sizeof *w->flows, w->flow_count + 1);
    wire_flow *f = &w->flows[w->flow_count++];
    f->from = from;
    f->to = to;
    f->last_arrival = 0;
    f->busy_until = 0;
    return f;
}

static void wire_tap(sk_wire *w, sk_wire_fate fate, const uint8_t *d, size_t len)
{
    if (w->tap)
        w->tap(w->tap_ctx, w->now, fate, d, len);
}

/* Queues a copy of `d`, or `d` itself when the caller hands over `own`
 * (a buffer of the wire's, gathered from a stack's pieces). */
static void wire_schedule_own(sk_wire *w, wire_host *dst, const uint8_t *d, size_t len, sk_time_ns arrival,
                              uint8_t *own)
{
    wire_datagram q;
    q.arrival = arrival;
    q.seq = w->next_seq++;
    q.dst = dst;
    q.len = len;
    if (own) {
        q.data = own;
    } else {
        q.data = dgram_alloc(w, len);
        memcpy(q.data, d, len);
    }
    queue_push(w, q);
}

static void wire_schedule(sk_wire *w, wire_host *dst, const uint8_t *d, size_t len, sk_time_ns arrival)
{
    wire_schedule_own(w, dst, d, len, arrival, NULL);
}

static uint32_t dgram_dst(const uint8_t *d, size_t len)
{
    return len < 20 ? 0 : io_be32(d + 16);
}

/* The hop's ICMP fragmentation-needed (type 3 code 4) for a datagram it
 * cannot forward, as Linux's icmp_send builds it: TOS 0xc0, TTL 64, the
 * next-hop MTU in the second half of the unused word, and the offending
 * datagram quoted up to 576 bytes in all (RFC 1812 §4.3.2.3).  No error
 * answers an ICMP error, nor a datagram without DF (a router would
 * fragment it; nothing here reassembles, so it is dropped). */
static void wire_frag_needed(sk_wire *w, wire_host *src, const sk_link_params *p, const uint8_t *d, size_t len)
{
    if (len < 20 || !(d[6] & 0x40))
        return;
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    if (d[9] == 1 && len >= ihl + 1 && d[ihl] != 0 && d[ihl] != 8)
        return;
    size_t quote = len < 576 - 28 ? len : 576 - 28;
    uint8_t m[576];
    size_t total = 28 + quote;
    memset(m, 0, 28);
    m[0] = 0x45;
    m[1] = 0xc0;
    io_put_be16(m + 2, (uint16_t)total);
    m[8] = 64;
    m[9] = 1;
    io_put_be32(m + 12, p->mtu_icmp_from);
    memcpy(m + 16, d + 12, 4); /* back to the sender */
    io_put_be16(m + 10, sk_csum_fold(sk_csum_partial(m, 20, 0)));
    m[20] = 3;
    m[21] = 4;
    io_put_be16(m + 26, p->mtu);
    memcpy(m + 28, d, quote);
    io_put_be16(m + 22, sk_csum_fold(sk_csum_partial(m + 20, total - 20, 0)));
    wire_tap(w, SK_WIRE_SENT, m, total);
    wire_schedule(w, src, m, total, w->now + p->delay);
}

/* The hop's ICMPv6 Packet Too Big (type 2, RFC 4443 §3.2) for an IPv6
 * datagram it cannot forward, as Linux's icmp6_send builds it: hop limit
 * 64, traffic class and flow label 0, the link's MTU in the 32-bit field,
 * and the datagram quoted so that the message fits IPV6_MIN_MTU (§2.4
 * (c)).  No error answers an ICMPv6 error (§2.4 (e)); informational
 * messages (type 128 and up) do get one, as any datagram. */
static void wire_pkt_too_big(sk_wire *w, wire_host *src, const sk_link_params *p, const uint8_t *d, size_t len)
{
    if (len < 40)
        return;
    if (d[6] == 58 && len >= 41 && d[40] < 128)
        return;
    enum { MIN_MTU = 1280, HDRS = 48 };
    size_t quote = len < MIN_MTU - HDRS ? len : MIN_MTU - HDRS;
    size_t mlen = 8 + quote, total = 40 + mlen;
    uint8_t m[MIN_MTU];
    memset(m, 0, HDRS);
    m[0] = 0x60;
    io_put_be16(m + 4, (uint16_t)mlen);
    m[6] = 58;
    m[7] = 64;
    memcpy(m + 8, p->mtu_icmp_from6, 16);
    memcpy(m + 24, d + 8, 16); /* back to the sender */
    m[40] = 2;
    m[41] = 0;
    io_put_be16(m + 46, p->mtu); /* the MTU's upper half stays 0 */
    memcpy(m + HDRS, d, quote);
    /* The checksum over the pseudo-header (RFC 8200 §8.1): addresses,
     * upper-layer length, next header 58, then the message. */
    uint32_t sum = sk_csum_partial(m + 8, 32, (uint32_t)mlen + 58);
    io_put_be16(m + 42, sk_csum_fold(sk_csum_partial(m + 40, mlen, sum)));
    wire_tap(w, SK_WIRE_SENT, m, total);
    wire_schedule(w, src, m, total, w->now + p->delay);
}

static bool addr6_set(const uint8_t a[16])
{
    for (int i = 0; i < 16; i++)
        if (a[i])
            return true;
    return false;
}

/* Does the host's stack hold this address (IPv6: 16 bytes; IPv4: host
 * order in v4)?  A host owns the address it was added with and any its
 * stack was given since (sk_stack_add_addr). */
static bool host_has_addr(const wire_host *h, bool v6, const uint8_t *a6, uint32_t v4)
{
    if (!h->stack)
        return false;
    sk_endpoint eps[32];
    size_t n = sk_stack_addrs(h->stack, eps, NULL, 32);
    for (size_t i = 0; i < n && i < 32; i++) {
        if (v6 ? eps[i].family == SK_AF_INET6 && memcmp(eps[i].addr6, a6, 16) == 0
               : eps[i].family == SK_AF_INET && eps[i].addr == v4)
            return true;
    }
    return false;
}

/* The host a datagram goes to: by its IPv4 destination (the host's own
 * address first), or by its IPv6 destination (offset 24). */
static wire_host *wire_route(const sk_wire *w, const uint8_t *d, size_t len)
{
    if (len >= 1 && (d[0] >> 4) == 6) {
        if (len < 40)
            return NULL;
        for (size_t i = 0; i < w->host_count; i++)
            if (host_has_addr(w->hosts[i], true, d + 24, 0))
                return w->hosts[i];
        return NULL;
    }
    uint32_t to = dgram_dst(d, len);
    if (!to)
        return NULL;
    wire_host *h = wire_find_host(w, to);
    for (size_t i = 0; !h && i < w->host_count; i++)
        if (host_has_addr(w->hosts[i], false, NULL, to))
            h = w->hosts[i];
    return h;
}

/* Called from inside a stack: copy and schedule, never deliver now, so a
 * stack is never re-entered while it is transmitting.  `own`, when not
 * NULL, is `d` in a buffer of the wire's that the datagram keeps (the
 * first copy scheduled takes it; freed here if none is). */
static void wire_send(wire_host *src, const uint8_t *d, size_t len, uint8_t *own)
{
    sk_wire *w = src->wire;

    wire_tap(w, SK_WIRE_SENT, d, len);
    wire_host *dst = wire_route(w, d, len);
    if (!dst) {
        wire_tap(w, SK_WIRE_NO_ROUTE, d, len);
        dgram_free(w, own, len);
        return;
    }
    /* Links are named by the hosts' own addresses, for either version. */
    uint32_t to = dst->addr;
    const sk_link_params *p = wire_link_for(w, src->addr, to);
    if (p->mtu && len > p->mtu) {
        wire_tap(w, SK_WIRE_TOO_BIG, d, len);
        if ((d[0] >> 4) == 6) {
            if (addr6_set(p->mtu_icmp_from6))
                wire_pkt_too_big(w, src, p, d, len);
        } else if (p->mtu_icmp_from) {
            wire_frag_needed(w, src, p, d, len);
        }
        dgram_free(w, own, len);
        return;
    }
    if (w->filter && w->filter(w->filter_ctx, w->now, d, len)) {
        wire_tap(w, SK_WIRE_LOST, d, len);
        dgram_free(w, own, len);
        return;
    }
    if (wire_rng_chance(&w->rng, p->loss)) {
        wire_tap(w, SK_WIRE_LOST, d, len);
        dgram_free(w, own, len);
        return;
    }

    wire_flow *flow = wire_flow_for(w, src->addr, to);
    sk_time_ns depart = w->now;
    if (p->rate_bps) {
        /* Serialization at the bottleneck: wait for the datagrams ahead,
         * then take len * 8 / rate; a full queue drops the newcomer. */
        sk_time_ns start = flow->busy_until > w->now ? flow->busy_until : w->now;
        if (p->queue_bytes &&
            (double)(start - w->now) * (double)p->rate_bps / 8e9 + (double)len > (double)p->queue_bytes) {
            wire_tap(w, SK_WIRE_LOST, d, len);
            dgram_free(w, own, len);
            return;
        }
        depart = start + (sk_time_ns)((double)len * 8e9 / (double)p->rate_bps);
        flow->busy_until = depart;
    }
    sk_time_ns arrival = depart + p->delay;
    if (p->jitter)
        arrival += (sk_time_ns)(wire_rng_unit(&w->rng) * (double)(p->jitter + 1));
    if (wire_rng_chance(&w->rng, p->reorder)) {
        /* Held back without moving the flow's in-order mark, so the
         * datagrams sent after it overtake it. */
        sk_time_ns hold = p->reorder_delay ? p->reorder_delay : 3 * p->delay + SK_NSEC_PER_MSEC;
        arrival += hold;
    } else {
        if (arrival < flow->last_arrival)
            arrival = flow->last_arrival;
        flow->last_arrival = arrival;
    }
    bool dup = wire_rng_chance(&w->rng, p->duplicate);
    /* The duplicate is queued second, so it is the one that copies. */
    wire_schedule_own(w, dst, d, len, arrival, own);
    if (dup)
        wire_schedule(w, dst, d, len, arrival);
}

static void wire_transmit(void *ctx, const uint8_t *d, size_t len)
{
    wire_host *src = ctx;
    if (!src->wire->closing)
        wire_send(src, d, len, NULL);
}

/* The scatter-gather transmit: the stack's pieces (its headers, then the
 * payload where it lies in the connection's send queue) are gathered once,
 * straight into the buffer the datagram travels in, instead of the stack
 * copying the payload behind its headers and the wire copying the whole
 * again.  The tap, the filter and the impairments see the same contiguous
 * bytes as before, drawn in the same order. */
static void wire_transmitv(void *ctx, const sk_iovec *iov, size_t count, size_t len)
{
    wire_host *src = ctx;
    if (src->wire->closing)
        return;
    uint8_t *buf = dgram_alloc(src->wire, len);
    io_gather(buf, iov, count);
    wire_send(src, buf, len, buf);
}


/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

sk_wire *sk_wire_new(uint64_t seed, sk_time_ns start)
{
    sk_wire *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->now = start;
    w->seed = seed;
    wire_rng_seed(&w->rng, seed);
    return w;
}

void sk_wire_free(sk_wire *w)
{
    if (!w)
        return;
    /* A stack may still transmit while it is freed (a listener resets
     * its queued children): the wire drops all that, and keeps every host
     * until all stacks are gone. */
    w->closing = true;
    for (size_t i = 0; i < w->host_count; i++)
        sk_stack_free(w->hosts[i]->stack);
    for (size_t i = 0; i < w->host_count; i++)
        free(w->hosts[i]);
    for (size_t i = 0; i < w->heap_count; i++)
        free(w->heap[i].data);
    for (size_t i = 0; i < w->fifo_count; i++)
        free(fifo_at(w, i)->data);
    for (size_t i = 0; i < w->spare_count; i++)
        free(w->spare[i]);
    free(w->fifo);
    free(w->spare);
    free(w->hosts);
    free(w->links);
    free(w->flows);
    free(w->heap);
    free(w);
}

sk_stack *sk_wire_add_host(sk_wire *w, uint32_t addr, const sk_stack_params *params)
{
    if (!w || addr == 0 || wire_find_host(w, addr))
        return NULL;
    wire_host *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->wire = w;
    h->addr = addr;
    snprintf(h->name, sizeof h->name, "host-%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
             (addr >> 8) & 0xff, addr & 0xff);

    sk_stack_params sp;
    if (params) {
        sp = *params;
        if (!sp.name)
            sp.name = h->name;
    } else {
        memset(&sp, 0, sizeof sp);
        /* Distinct per host and per wire seed, so two hosts never share
         * ISN keys and a different wire seed changes every host. */
        uint64_t x = w->seed ^ ((uint64_t)addr * 0xd1342543de82ef95ull);
        sp.seed = splitmix64(&x);
        for (size_t i = 0; i < sizeof sp.secret; i += 8) {
            uint64_t v = splitmix64(&x);
            memcpy(sp.secret + i, &v, 8);
        }
        sp.name = h->name;
    }
    sp.addr = addr;
    sp.now = w->now;
    sp.transmit = wire_transmit;
    /* The wire keeps every datagram to deliver it later, so it must hold
     * its own copy; taking the pieces makes that copy the only one. */
    sp.transmitv = wire_transmitv;
    sp.transmit_ctx = h;

    w->hosts = wire_grow(w->hosts, &w->host_cap, sizeof *w->hosts, w->host_count + 1);
    /* Registered before creation: a stack may transmit from sk_stack_new. */
    w->hosts[w->host_count++] = h;
    h->stack = sk_stack_new(&sp);
    if (!h->stack) {
        w->host_count--;
        free(h);
        return NULL;
    }
    return h->stack;
}

sk_stack *sk_wire_host(const sk_wire *w, uint32_t addr)
{
    wire_host *h = wire_find_host(w, addr);
    return h ? h->stack : NULL;
}

void sk_wire_set_link(sk_wire *w, uint32_t from, uint32_t to, const sk_link_params *p)
{
    for (size_t i = 0; i < w->link_count; i++) {
        if (w->links[i].from == from && w->links[i].to == to) {
            w->links[i].params = *p;
            return;
        }
    }
    w->links = wire_grow(w->links, &w->link_cap, sizeof *w->links, w->link_count + 1);
    w->links[w->link_count].from = from;
    w->links[w->link_count].to = to;
    w->links[w->link_count].params = *p;
    w->link_count++;
}

void sk_wire_set_tap(sk_wire *w, sk_wire_tap_fn tap, void *ctx)
{
    w->tap = tap;
    w->tap_ctx = ctx;
}

void sk_wire_set_filter(sk_wire *w, sk_wire_filter_fn filter, void *ctx)
{
    w->filter = filter;
    w->filter_ctx = ctx;
}

void sk_wire_inject(sk_wire *w, const uint8_t *datagram, size_t len, sk_time_ns delay)
{
    wire_tap(w, SK_WIRE_SENT, datagram, len);
    wire_host *dst = wire_route(w, datagram, len);
    if (!dst) {
        wire_tap(w, SK_WIRE_NO_ROUTE, datagram, len);
        return;
    }
    wire_schedule(w, dst, datagram, len, w->now + delay);
}

sk_time_ns sk_wire_now(const sk_wire *w)
{
    return w->now;
}

sk_time_ns sk_wire_next_event(const sk_wire *w)
{
    const wire_datagram *top = queue_peek(w);
    sk_time_ns next = top ? top->arrival : SK_TIME_NEVER;
    for (size_t i = 0; i < w->host_count; i++) {
        sk_time_ns d = sk_next_deadline(w->hosts[i]->stack);
        if (d < next)
            next = d;
    }
    if (next != SK_TIME_NEVER && next < w->now)
        next = w->now;
    return next;
}

bool sk_wire_step(sk_wire *w)
{
    sk_time_ns t = sk_wire_next_event(w);
    if (t == SK_TIME_NEVER)
        return false;
    bool moved = t > w->now;
    w->now = t;
    /* Only datagrams already queued belong to this instant; replies sent
     * with zero delay wait for the next step, so a step always ends. */
    uint64_t seq_limit = w->next_seq;
    const wire_datagram *top;
    while ((top = queue_peek(w)) && top->arrival <= t && top->seq < seq_limit) {
        wire_datagram d = queue_pop(w, top);
        moved = true;
        wire_tap(w, SK_WIRE_DELIVERED, d.data, d.len);
        sk_input(d.dst->stack, d.data, d.len, t);
        dgram_free(w, d.data, d.len);
    }
    /* Every stack's clock follows the wire's, so a socket call made
     * between steps acts at the wire's time; stacks with a deadline due
     * run their timers. */
    for (size_t i = 0; i < w->host_count; i++)
        sk_advance(w->hosts[i]->stack, t);
    if (moved) {
        w->stalled_steps = 0;
    } else if (++w->stalled_steps >= WIRE_STALL_LIMIT) {
        fprintf(stderr, "memwire: a stack's deadline stays at %llu ns after sk_advance; "
                        "stopping the wire\n", (unsigned long long)t);
        return false;
    }
    return true;
}

void sk_wire_run_until(sk_wire *w, sk_time_ns t)
{
    sk_time_ns next;
    while ((next = sk_wire_next_event(w)) != SK_TIME_NEVER && next <= t)
        if (!sk_wire_step(w))
            break;
    if (t > w->now) {
        w->now = t;
        for (size_t i = 0; i < w->host_count; i++)
            sk_advance(w->hosts[i]->stack, t);
    }
}

void sk_wire_run_for(sk_wire *w, sk_time_ns d)
{
    sk_wire_run_until(w, w->now + d);
}

bool sk_wire_run_until_pred(sk_wire *w, bool (*pred)(void *ctx), void *ctx, sk_time_ns limit)
{
    if (pred(ctx))
        return true;
    sk_time_ns next;
    while ((next = sk_wire_next_event(w)) != SK_TIME_NEVER && next <= limit) {
        if (!sk_wire_step(w))
            break;
        if (pred(ctx))
            return true;
    }
    sk_wire_run_until(w, limit);
    return pred(ctx);
}

size_t sk_wire_in_flight(const sk_wire *w)
{
    return w->heap_count + w->fifo_count;
}
