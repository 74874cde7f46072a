/*
 * libFuzzer target for sk_input, sk_inputv (and sk_advance): two stacks, A 10.0.0.1
 * with tcp_syncookies=2 and B 10.0.0.2 with tcp_syncookies=1 and a
 * one-slot backlog, hold connections in many states, built the same way
 * for every input:
 *
 *   A: LISTEN :80 (every SYN answered with a cookie) and [::]:80 (IPv6
 *      only, A being fd00::1 too), ESTABLISHED with
 *      6000 bytes in flight, FIN_WAIT_2 (shutdown), an orphaned FIN_WAIT_2
 *      record, TIME_WAIT, CLOSE_WAIT, SYN_SENT twice (one SYN lost, one
 *      answered by a lost SYN-ACK)
 *   B: LISTEN :80, SYN_RECV (a request whose SYN-ACK was lost; more SYNs
 *      overflow the one-slot queue into cookies), and the peers of A's
 *      connections: CLOSE_WAIT, FIN_WAIT_2, SYN_SENT ...
 *
 * The input is a program of operations.  Most are segment templates aimed
 * at a 4-tuple the harness has seen on the wire: sequence and
 * acknowledgment numbers are taken relative to what the targeted stack
 * last sent on that tuple (its rcv_nxt and snd_nxt, its TSval), so the
 * segment lands in or near the window; flags, offsets, options, payload
 * and ECN bits come from the input, and both checksums are computed so
 * the segment reaches the state machine.  Tuples first seen during the
 * run (a SYN-ACK carrying a cookie, say) become targets too.  Other
 * operations feed raw bytes of either IP version (checksums optionally
 * repaired; IPv6 ones after their extension headers; or an ICMP error
 * built around the TCP header a stack last sent on a tuple, so it reaches
 * the connection's error handling), move time
 * (sk_advance), call the socket API, turn a sysctl, or let the two stacks
 * talk: what the stacks send waits in a bounded queue (overflow is lost)
 * until an operation delivers it.
 *
 * The raw operation's bytes also go through the TUN loop's virtio-net
 * header code (src/io/vnet.c) as a frame from the device, without
 * changing what the stacks see: a header it takes must describe its
 * datagram, a header it builds must be one it takes, and its software
 * TCP checksum must agree with the engine's on a repaired datagram.
 *
 * Invariants checked: no sanitizer report; every datagram a stack sends
 * parses with correct checksums (TCP, or an ICMP or ICMPv6 echo reply) and fits
 * the MTU; after sk_advance(now)
 * no timer is left due at or before now; every socket sk_sockets lists
 * has a valid state.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/vnet.h"
#include "synack/packet.h"
#include "synack/synack.h"

#define ADDR_A 0x0a000001u
#define ADDR_B 0x0a000002u
#define ADDR_X 0x0a000063u /* 10.0.0.99: a host only the fuzzer speaks for */
/* IPv6 addresses of A and B (fd00::1, fd00::2): their IPv6 connections
 * are driven by time and socket calls, not by templates (which target
 * the IPv4 tuples). */
static const uint8_t ADDR6_A[16] = {0xfd, [15] = 1}, ADDR6_B[16] = {0xfd, [15] = 2};
#define QUEUE_MAX 128
#define DGRAM_MAX 2048
#define TUPLES_MAX 64
#define FDS_MAX 32
#define PUMP_MAX 64

typedef struct dgram {
    size_t len;
    uint8_t b[DGRAM_MAX];
} dgram;

/* What a stack last sent on one 4-tuple (src is that stack). */
typedef struct tuple {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t snd_nxt;  /* seq + length (+ SYN/FIN) of its last segment */
    uint32_t rcv_nxt;  /* its last acknowledgment                      */
    uint32_t tsval;    /* its last TSval, 0 when none                  */
    uint16_t mss;
} tuple;

typedef struct world {
    sk_stack *st[2];
    sk_time_ns now;
    dgram *queue;      /* datagrams out of either stack, not yet delivered */
    size_t queued;
    tuple tuples[TUPLES_MAX];
    size_t ntuples;
    int fds[2][FDS_MAX];
    size_t nfds[2];
    /* Destinations of the raw datagrams fed in (IPv4 as ::ffff:a.b.c.d):
     * stack A's transparent listener answers from them, so they are
     * sources a stack may send from besides its own (at most one per op). */
    uint8_t raw_dst[256][16];
    size_t nraw_dst;
} world;

static void addr_key(const sk_segment *seg, bool src, uint8_t out[16])
{
    memset(out, 0, 16);
    if (seg->ip_version == 6) {
        memcpy(out, src ? seg->src6 : seg->dst6, 16);
        return;
    }
    uint32_t a = src ? seg->src : seg->dst;
    out[10] = out[11] = 0xff;
    out[12] = (uint8_t)(a >> 24);
    out[13] = (uint8_t)(a >> 16);
    out[14] = (uint8_t)(a >> 8);
    out[15] = (uint8_t)a;
}

/* Was `seg`'s source the destination of a raw datagram fed in? */
static bool from_raw_dst(const world *w, const sk_segment *seg)
{
    uint8_t k[16];
    addr_key(seg, true, k);
    for (size_t i = 0; i < w->nraw_dst; i++)
        if (!memcmp(w->raw_dst[i], k, 16))
            return true;
    return false;
}

static void note_tuple(world *w, const uint8_t *d, size_t len)
{
    sk_segment seg;
    if (sk_parse_segment(d, len, false, &seg) != SK_PARSE_OK || seg.ip_version == 6)
        return;
    tuple *t = NULL;
    for (size_t i = 0; i < w->ntuples; i++) {
        tuple *c = &w->tuples[i];
        if (c->src == seg.src && c->dst == seg.dst && c->sport == seg.sport && c->dport == seg.dport) {
            t = c;
            break;
        }
    }
    if (!t) {
        if (w->ntuples == TUPLES_MAX)
            return;
        t = &w->tuples[w->ntuples++];
        memset(t, 0, sizeof *t);
        t->src = seg.src;
        t->dst = seg.dst;
        t->sport = seg.sport;
        t->dport = seg.dport;
    }
    /* Retransmissions do not move either back; a SYN starts afresh. */
    uint32_t end = seg.seq + (uint32_t)seg.payload_len + !!(seg.flags & SK_TH_SYN) + !!(seg.flags & SK_TH_FIN);
    bool fresh = !t->snd_nxt || (seg.flags & SK_TH_SYN);
    if (fresh || (int32_t)(end - t->snd_nxt) > 0)
        t->snd_nxt = end;
    if ((seg.flags & SK_TH_ACK) && (fresh || !t->rcv_nxt || (int32_t)(seg.ack - t->rcv_nxt) > 0))
        t->rcv_nxt = seg.ack;
    if (seg.opts.has_ts)
        t->tsval = seg.opts.ts_val;
    if (seg.opts.has_mss)
        t->mss = seg.opts.mss;
}

static void transmit(void *ctx, const uint8_t *d, size_t len)
{
    world *w = ctx;
    /* Whatever a stack sends must be a well-formed datagram of its own
     * that fits the 1500-byte MTU: both checksums right, options that
     * parse. */
    sk_segment seg;
    sk_parse_error pe = sk_parse_segment(d, len, true, &seg);
    if (pe == SK_PARSE_NOT_TCP && seg.ip_version == 4 && d[9] == 1 && len >= 28 && len <= 1500 && d[20] == 0 &&
        sk_csum_fold(sk_csum_partial(d, 20, 0)) == 0 && sk_csum_fold(sk_csum_partial(d + 20, len - 20, 0)) == 0 &&
        (seg.src == ADDR_A || seg.src == ADDR_B))
        return; /* an echo reply: nothing to deliver it to */
    if (pe == SK_PARSE_NOT_TCP && seg.ip_version == 6 && seg.ip_proto == 58 && seg.l4_off == SK_IP6_HDR_LEN &&
        len >= 48 && len <= 1500 && d[40] == 129 && d[41] == 0 &&
        (!memcmp(seg.src6, ADDR6_A, 16) || !memcmp(seg.src6, ADDR6_B, 16))) {
        /* An ICMPv6 echo reply (icmp6.c): its checksum over the
         * pseudo-header with next header 58 must hold. */
        uint32_t pseudo = sk_csum_partial(d + 8, 32, 0) + (uint32_t)(len - 40) + 58u;
        if (sk_csum_fold(sk_csum_partial(d + 40, len - 40, pseudo)) == 0)
            return;
    }
    bool ours = seg.ip_version == 6 ? !memcmp(seg.src6, ADDR6_A, 16) || !memcmp(seg.src6, ADDR6_B, 16)
                                    : seg.src == ADDR_A || seg.src == ADDR_B;
    if (!ours && pe == SK_PARSE_OK)
        ours = from_raw_dst(w, &seg); /* transparent mode: the original destination */
    if (pe != SK_PARSE_OK || len > 1500 || !ours) {
        fprintf(stderr, "a stack sent a bad datagram: %s, %zu bytes", sk_parse_error_name(pe), len);
        if (pe == SK_PARSE_OK)
            fprintf(stderr, ": %08x:%u > %08x:%u flags %#x seq %u ack %u, %zu option bytes, %zu payload bytes",
                    (unsigned)seg.src, seg.sport, (unsigned)seg.dst, seg.dport, seg.flags, (unsigned)seg.seq,
                    (unsigned)seg.ack, seg.options_len, seg.payload_len);
        fprintf(stderr, "\n");
        abort();
    }
    note_tuple(w, d, len);
    if (w->queued == QUEUE_MAX || len > DGRAM_MAX)
        return;
    w->queue[w->queued].len = len;
    memcpy(w->queue[w->queued].b, d, len);
    w->queued++;
}

static sk_stack *stack_for(world *w, uint32_t addr)
{
    return addr == ADDR_A ? w->st[0] : addr == ADDR_B ? w->st[1] : NULL;
}

static void check_deadline(world *w)
{
    for (int i = 0; i < 2; i++) {
        sk_time_ns d = sk_next_deadline(w->st[i]);
        if (d != SK_TIME_NEVER && d <= w->now) {
            fprintf(stderr, "stack %d: deadline %llu not after now %llu after sk_advance\n", i,
                    (unsigned long long)d, (unsigned long long)w->now);
            abort();
        }
    }
}

static void advance(world *w, sk_time_ns dt)
{
    w->now += dt;
    for (int i = 0; i < 2; i++)
        sk_advance(w->st[i], w->now);
    check_deadline(w);
}

/* Delivers queued datagrams (and those they cause) between A and B, at
 * most `limit` of them; the rest are lost. */
static void pump(world *w, size_t limit)
{
    static dgram batch[QUEUE_MAX];
    size_t delivered = 0;
    while (w->queued && delivered < limit) {
        size_t n = w->queued;
        memcpy(batch, w->queue, n * sizeof *batch);
        w->queued = 0;
        for (size_t i = 0; i < n && delivered < limit; i++, delivered++) {
            sk_segment seg;
            if (sk_parse_segment(batch[i].b, batch[i].len, false, &seg) != SK_PARSE_OK)
                continue;
            sk_stack *to = stack_for(w, seg.dst);
            if (seg.ip_version == 6)
                to = !memcmp(seg.dst6, ADDR6_A, 16) ? w->st[0] : !memcmp(seg.dst6, ADDR6_B, 16) ? w->st[1] : NULL;
            if (to)
                sk_input(to, batch[i].b, batch[i].len, w->now);
        }
    }
    w->queued = 0;
}

/* Delivers everything, with time for delayed ACKs to go out. */
static void settle(world *w)
{
    for (int i = 0; i < 4; i++) {
        pump(w, PUMP_MAX);
        advance(w, 50 * SK_NSEC_PER_MSEC);
    }
    pump(w, PUMP_MAX);
}

static void add_fd(world *w, int side, int fd)
{
    if (fd >= 0 && w->nfds[side] < FDS_MAX)
        w->fds[side][w->nfds[side]++] = fd;
}

static int connect_to(world *w, int side, uint32_t addr, uint16_t port)
{
    int fd = sk_socket(w->st[side]);
    sk_connect(w->st[side], fd, &(sk_endpoint){.addr = addr, .port = port, .family = SK_AF_INET});
    add_fd(w, side, fd);
    return fd;
}

static int accept_one(world *w, int side, int lfd)
{
    int fd = sk_accept(w->st[side], lfd, NULL);
    add_fd(w, side, fd);
    return fd;
}

static void setup(world *w)
{
    static const char fill[6000];
    memset(w, 0, sizeof *w);
    static dgram queue[QUEUE_MAX];
    w->queue = queue;
    w->now = 1000 * SK_NSEC_PER_SEC;
    for (int i = 0; i < 2; i++) {
        sk_stack_params p = {
            .addr = i ? ADDR_B : ADDR_A,
            .seed = 7 + (uint64_t)i,
            .now = w->now,
            .name = i ? "fuzz-b" : "fuzz-a",
            .transmit = transmit,
            .transmit_ctx = w,
        };
        /* Both are dual-stack (A fd00::1, B fd00::2), for the IPv6 seeds
         * and connections. */
        memcpy(p.addr6, i ? ADDR6_B : ADDR6_A, 16);
        for (size_t k = 0; k < sizeof p.secret; k++)
            p.secret[k] = (uint8_t)(k * 7 + (size_t)i);
        w->st[i] = sk_stack_new(&p);
    }
    char err[128];
    sk_sysctl_set(w->st[0], "net.ipv4.tcp_syncookies", "2", err, sizeof err);
    sk_sysctl_set(w->st[1], "net.ipv4.tcp_syncookies", "1", err, sizeof err);
    sk_sysctl_set(w->st[0], "net.ipv4.tcp_ecn", "1", err, sizeof err);
    sk_stack *a = w->st[0], *b = w->st[1];

    int la = sk_socket(a), lb = sk_socket(b);
    sk_bind(a, la, &(sk_endpoint){.addr = ADDR_A, .port = 80, .family = SK_AF_INET});
    sk_listen(a, la, 8);
    sk_bind(b, lb, &(sk_endpoint){.addr = ADDR_B, .port = 80, .family = SK_AF_INET});
    sk_listen(b, lb, 1);
    add_fd(w, 0, la);
    add_fd(w, 1, lb);

    /* ESTABLISHED on A, with data in flight once the rest is built. */
    connect_to(w, 1, ADDR_A, 80);
    pump(w, PUMP_MAX);
    int est = accept_one(w, 0, la);

    /* FIN_WAIT_2 (A shut down its side), B in CLOSE_WAIT. */
    int fw2 = connect_to(w, 0, ADDR_B, 80);
    pump(w, PUMP_MAX);
    accept_one(w, 1, lb);
    sk_send(a, fw2, fill, 100, 0);
    sk_shutdown(a, fw2, SK_SHUT_WR);
    settle(w);

    /* An orphaned FIN_WAIT_2 record. */
    int orphan = connect_to(w, 0, ADDR_B, 80);
    pump(w, PUMP_MAX);
    accept_one(w, 1, lb);
    sk_close(a, orphan);
    settle(w);

    /* TIME_WAIT on A: A closes first, then B. */
    int tw = connect_to(w, 0, ADDR_B, 80);
    pump(w, PUMP_MAX);
    int tw_b = accept_one(w, 1, lb);
    sk_close(a, tw);
    settle(w);
    sk_close(b, tw_b);
    settle(w);

    /* CLOSE_WAIT on A: B shuts down. */
    int cw_b = connect_to(w, 1, ADDR_A, 80);
    pump(w, PUMP_MAX);
    accept_one(w, 0, la);
    sk_shutdown(b, cw_b, SK_SHUT_WR);
    settle(w);

    /* IPv6: a dual-stack listener on A, an IPv6 connection and an IPv4
     * one (an IPv4-mapped child) from B to it, ESTABLISHED with data. */
    int l6 = sk_socket_family(a, SK_AF_INET6);
    sk_bind(a, l6, &(sk_endpoint){.port = 81, .family = SK_AF_INET6});
    sk_listen(a, l6, 4);
    add_fd(w, 0, l6);
    int c6 = sk_socket_family(b, SK_AF_INET6);
    sk_endpoint a6 = sk_endpoint_ipv6(ADDR6_A, 81);
    sk_connect(b, c6, &a6);
    add_fd(w, 1, c6);
    connect_to(w, 1, ADDR_A, 81);
    pump(w, PUMP_MAX);
    accept_one(w, 0, l6);
    accept_one(w, 0, l6);
    sk_send(b, c6, fill, 3000, 0);
    settle(w);
    if (sk_state(b, c6) != SK_TCP_ESTABLISHED || sk_state(a, l6) != SK_TCP_LISTEN) {
        fprintf(stderr, "setup: the IPv6 connection did not establish\n");
        abort();
    }

    /* The data in flight, last, so that no settling delivers it. */
    sk_send(a, est, fill, sizeof fill, 0);
    w->queued = 0;

    /* SYN_SENT on A: its SYN is lost. */
    connect_to(w, 0, ADDR_B, 8080);
    w->queued = 0;

    /* A SYN to A's listener, whose cookie SYN-ACK is lost (with
     * tcp_syncookies=2 A keeps no request), then SYN_RECV on B (a request
     * on its SYN queue) whose SYN-ACK is lost. */
    connect_to(w, 1, ADDR_A, 80);
    pump(w, 1);
    w->queued = 0;
    connect_to(w, 0, ADDR_B, 80);
    pump(w, 1);
    w->queued = 0;
    /* An IPv6-only listener on A's [::]:80, last and outside the fd
     * table so that every IPv4 seed means what it did: raw IPv6 seeds
     * reach a listener, a SYN queue and the cookie path. */
    int l6only = sk_socket_family(a, SK_AF_INET6);
    int one = 1;
    sk_setsockopt(a, l6only, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &one, sizeof one);
    sk_bind(a, l6only, &(sk_endpoint){.port = 80, .family = SK_AF_INET6});
    sk_listen(a, l6only, 8);
    /* Transparent mode on A: a dual-stack IP_TRANSPARENT listener on port
     * 9 takes every non-local destination (sk_stack_set_tproxy), so
     * datagrams to addresses that are nobody's reach the requests, SYN
     * cookies (tcp_syncookies=2) and children kept at foreign addresses. */
    int ltp = sk_socket_family(a, SK_AF_INET6);
    sk_setsockopt(a, ltp, SK_IPPROTO_IPV6, SK_IPV6_TRANSPARENT, &one, sizeof one);
    sk_bind(a, ltp, &(sk_endpoint){.port = 9, .family = SK_AF_INET6});
    sk_listen(a, ltp, 8);
    sk_stack_set_tproxy(a, 9);
    check_deadline(w);
    /* SYNACK_FUZZ_TUPLES=1: the targets a template's first byte picks,
     * for writing seeds and regression inputs by hand. */
    static int shown;
    if (!shown++ && getenv("SYNACK_FUZZ_TUPLES"))
        for (size_t i = 0; i < w->ntuples; i++) {
            const tuple *t = &w->tuples[i];
            fprintf(stderr, "tuple %zu: %08x:%u > %08x:%u snd_nxt %u rcv_nxt %u tsval %u\n", i,
                    (unsigned)t->src, t->sport, (unsigned)t->dst, t->dport, (unsigned)t->snd_nxt,
                    (unsigned)t->rcv_nxt, (unsigned)t->tsval);
        }
}

/* The input, read front to back; zeros once it runs out. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static uint8_t u8(reader *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

static uint16_t u16(reader *r)
{
    uint16_t hi = u8(r);
    return (uint16_t)(hi << 8 | u8(r));
}

static uint32_t u32(reader *r)
{
    uint32_t hi = u16(r);
    return hi << 16 | u16(r);
}

/* A step of time: microseconds to about a thousand seconds. */
static sk_time_ns time_step(uint8_t b)
{
    static const sk_time_ns unit[4] = {10 * SK_NSEC_PER_USEC, SK_NSEC_PER_MSEC, 100 * SK_NSEC_PER_MSEC,
                                       16 * SK_NSEC_PER_SEC};
    return (sk_time_ns)(b & 63) * unit[b >> 6];
}

static uint32_t pick_number(reader *r, uint8_t mode, uint32_t base)
{
    switch (mode & 3) {
    case 0:
        return base;
    case 1:
        return base + (uint32_t)(int32_t)(int8_t)u8(r);
    case 2:
        return base + (uint32_t)(int32_t)(int16_t)u16(r) * 16u;
    default:
        return u32(r);
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t build_options(reader *r, const tuple *t, uint32_t ts_base, uint32_t ack, uint8_t *opt)
{
    uint8_t mode = u8(r);
    size_t n = 0;
    if (mode & 1) { /* MSS */
        uint16_t mss = (mode & 0x80) ? u16(r) : 1460;
        opt[n++] = SK_TCPOPT_MSS, opt[n++] = 4, opt[n++] = (uint8_t)(mss >> 8), opt[n++] = (uint8_t)mss;
    }
    if (mode & 2) { /* SACK permitted, window scale */
        opt[n++] = SK_TCPOPT_SACK_PERM, opt[n++] = 2;
        opt[n++] = SK_TCPOPT_WSCALE, opt[n++] = 3, opt[n++] = u8(r) & 15, opt[n++] = SK_TCPOPT_NOP;
    }
    if (mode & 4) {
        /* TSval: the impersonated peer's clock (what it last sent, when it
         * is one of the stacks) give or take a little, so that PAWS
         * mostly passes; TSecr: what the targeted stack last sent. */
        opt[n++] = SK_TCPOPT_NOP, opt[n++] = SK_TCPOPT_NOP;
        opt[n++] = SK_TCPOPT_TIMESTAMP, opt[n++] = 10;
        put_be32(opt + n, ts_base + (uint32_t)(int8_t)u8(r));
        put_be32(opt + n + 4, t ? t->tsval : 0);
        n += 8;
    }
    if (mode & 8) { /* SACK blocks around what the stack has sent */
        size_t blocks = 1 + (u8(r) & 3);
        if (n + 4 + 8 * blocks > SK_TCP_OPT_MAX) /* two NOPs, kind, length */
            blocks = n + 4 <= SK_TCP_OPT_MAX ? (SK_TCP_OPT_MAX - n - 4) / 8 : 0;
        if (blocks) {
            opt[n++] = SK_TCPOPT_NOP, opt[n++] = SK_TCPOPT_NOP;
            opt[n++] = SK_TCPOPT_SACK, opt[n++] = (uint8_t)(2 + 8 * blocks);
            for (size_t i = 0; i < blocks; i++) {
                uint32_t start = ack + (uint32_t)u8(r) * 500u;
                put_be32(opt + n, start);
                put_be32(opt + n + 4, start + 1u + u16(r));
                n += 8;
            }
        }
    }
    if (mode & 16) { /* raw option bytes */
        size_t raw = u8(r) % (SK_TCP_OPT_MAX + 1 - n);
        for (size_t i = 0; i < raw; i++)
            opt[n++] = u8(r);
    }
    while (n % 4)
        opt[n++] = SK_TCPOPT_NOP;
    return n;
}

/* Half of the datagrams go in as pieces through sk_inputv, cut at places
 * taken from their own last byte (no input byte is spent, so the corpus
 * keeps its meaning): at the end of the headers (taken where they lie),
 * inside the headers or the payload at odd offsets, with an empty piece
 * (gathered).  sk_inputv must do what sk_input does with the same bytes. */
static void input_pieces(sk_stack *s, const uint8_t *d, size_t len, sk_time_ns now)
{
    uint8_t k = len ? d[len - 1] : 0;
    if (!(k & 1)) {
        sk_input(s, d, len, now);
        return;
    }
    size_t a = (size_t)(k >> 2) * 7 % (len + 1);
    if ((k & 2) && len >= 20 && (d[0] >> 4) == 4) {
        size_t h = (size_t)(d[0] & 15) * 4 + 13;
        if (h <= len)
            a = h - 13 + (size_t)(d[h - 1] >> 4) * 4;
    } else if ((k & 2) && len >= 60 && (d[0] >> 4) == 6) {
        a = 40 + (size_t)(d[52] >> 4) * 4;
    }
    if (a > len)
        a = len;
    size_t b = a + (len - a) / 2;
    sk_iovec iov[4] = {{d, a}, {d + a, 0}, {d + a, b - a}, {d + b, len - b}};
    sk_inputv(s, iov, 4, now);
}

/* A segment aimed at a known tuple (or at a listener from a fresh
 * address and port), with checksums computed. */
static void op_template(world *w, reader *r)
{
    uint8_t target = u8(r);
    uint16_t flags = u8(r) | (uint16_t)(u8(r) & 1) << 8;
    uint8_t modes = u8(r);
    /* 0xe0 and up: a fresh tuple; bit 0 picks the source (10.0.0.99 or
     * B), bit 1 the destination (B or A), bit 2 port 80 or a given one. */
    const tuple *t = target < 0xe0 && w->ntuples ? &w->tuples[target % w->ntuples] : NULL;
    sk_segment_spec spec = {0};
    uint32_t seq_base = 0, ack_base = 0;
    if (t) {
        /* answer as the tuple's peer */
        spec.src = t->dst, spec.dst = t->src, spec.sport = t->dport, spec.dport = t->sport;
        seq_base = t->rcv_nxt;
        ack_base = t->snd_nxt;
    } else {
        spec.src = (target & 1) ? ADDR_X : ADDR_B;
        spec.dst = (target & 2) ? ADDR_B : ADDR_A;
        spec.sport = (uint16_t)(40000 + u8(r));
        spec.dport = (target & 4) ? 80 : u16(r);
    }
    spec.seq = pick_number(r, modes, seq_base);
    spec.ack = pick_number(r, modes >> 2, ack_base);
    spec.flags = flags;
    spec.window = (modes & 0x10) ? u16(r) : 65535;
    spec.tos = (modes & 0x20) ? u8(r) & 3 : 0;
    spec.df = true;
    spec.ip_id = 1;
    uint8_t opt[SK_TCP_OPT_MAX];
    uint32_t ts_base = (uint32_t)(w->now / SK_NSEC_PER_MSEC);
    for (size_t i = 0; t && i < w->ntuples; i++)
        if (w->tuples[i].src == spec.src && w->tuples[i].sport == spec.sport && w->tuples[i].dst == spec.dst &&
            w->tuples[i].dport == spec.dport)
            ts_base = w->tuples[i].tsval + 1;
    spec.options_len = (modes & 0x40) ? build_options(r, t, ts_base, spec.ack, opt) : 0;
    spec.options = opt;
    uint8_t payload[1600];
    size_t plen = 0;
    if (modes & 0x80) {
        plen = u16(r) % sizeof payload;
        for (size_t i = 0; i < plen; i++)
            payload[i] = r->left ? u8(r) : (uint8_t)i;
    }
    spec.payload = payload;
    spec.payload_len = plen;
    uint8_t d[DGRAM_MAX];
    size_t len = sk_build_segment(&spec, d, sizeof d);
    sk_stack *to = stack_for(w, spec.dst);
    if (!len || !to)
        return;
    w->now += time_step(u8(r));
    input_pieces(to, d, len, w->now);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The raw operation's bytes through the TUN loop's virtio-net header
 * code: what it takes must describe the datagram, what it builds it must
 * take, and its software TCP checksum must agree with the engine's. */
static void check_vnet(const uint8_t *frame, size_t n, bool csum_repaired)
{
    sk_vnet_rx rx;
    if (sk_vnet_parse(frame, n, &rx) == SK_VNET_OK) {
        if (rx.dgram != frame + SK_VNET_HDR_LEN || rx.len != n - SK_VNET_HDR_LEN || rx.len == 0 ||
            (rx.csum == SK_VNET_CSUM_PARTIAL && (size_t)rx.csum_start + rx.csum_offset + 2 > rx.len) ||
            (rx.gso_size && rx.csum != SK_VNET_CSUM_PARTIAL)) {
            fprintf(stderr, "sk_vnet_parse took a header that does not fit its datagram\n");
            abort();
        }
        sk_vnet_tcp_csum_ok(rx.dgram, rx.len);
    }
    /* The frame's bytes as a datagram synack sends. */
    static uint8_t out[SK_VNET_HDR_LEN + DGRAM_MAX];
    sk_vnet_build(out, frame, n);
    memcpy(out + SK_VNET_HDR_LEN, frame, n);
    if (n && sk_vnet_parse(out, n + SK_VNET_HDR_LEN, &rx) != SK_VNET_OK) {
        fprintf(stderr, "sk_vnet_parse refused a header sk_vnet_build made\n");
        abort();
    }
    /* The transmit side's coalescing rules, on the same bytes. */
    size_t seg = sk_vnet_gso_first(frame, n);
    if (seg) {
        static uint8_t h[SK_VNET_HDR_LEN + 120];
        if (sk_vnet_gso_header(h, frame, seg, frame[33], (uint16_t)seg) != SK_VNET_HDR_LEN + n - seg) {
            fprintf(stderr, "sk_vnet_gso_header: wrong header length\n");
            abort();
        }
        sk_vnet_gso_continues(frame, n, frame, n, seg, n);
    }
    if (csum_repaired && n && (frame[0] >> 4) == 4 && !sk_vnet_tcp_csum_ok(frame, n)) {
        fprintf(stderr, "sk_vnet_tcp_csum_ok disagrees with sk_tcp_checksum\n");
        abort();
    }
}

/* An ICMP error (type, code, next-hop MTU from the input) from 10.0.0.99
 * to the stack that sent on tuple t, quoting its IP header and the first 8
 * bytes of a TCP header with a sequence number near what it last sent. */
static void op_icmp(world *w, reader *r, uint8_t how)
{
    uint8_t type = u8(r), code = u8(r);
    uint16_t mtu = u16(r);
    uint8_t ti = u8(r);
    int8_t delta = (int8_t)u8(r);
    if (!w->ntuples)
        return;
    const tuple *t = &w->tuples[ti % w->ntuples];
    uint8_t d[28 + 28];
    memset(d, 0, sizeof d);
    d[0] = 0x45;
    put_be16(d + 2, sizeof d);
    d[8] = 64;
    d[9] = 1;
    uint32_t addrs[2] = {ADDR_X, t->src};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 4; i++)
            d[12 + 4 * k + i] = (uint8_t)(addrs[k] >> (24 - 8 * i));
    put_be16(d + 10, sk_csum_fold(sk_csum_partial(d, 20, 0)));
    d[20] = type;
    d[21] = code;
    put_be16(d + 26, mtu);
    uint8_t *q = d + 28;
    q[0] = 0x45;
    put_be16(q + 2, 1500);
    q[6] = 0x40; /* DF */
    q[8] = 64;
    q[9] = 6;
    addrs[0] = t->src;
    addrs[1] = t->dst;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 4; i++)
            q[12 + 4 * k + i] = (uint8_t)(addrs[k] >> (24 - 8 * i));
    put_be16(q + 20, t->sport);
    put_be16(q + 22, t->dport);
    uint32_t seq = t->snd_nxt + (uint32_t)(int32_t)delta * ((how & 4) ? 1000u : 1u);
    for (int i = 0; i < 4; i++)
        q[24 + i] = (uint8_t)(seq >> (24 - 8 * i));
    put_be16(d + 22, sk_csum_fold(sk_csum_partial(d + 20, sizeof d - 20, 0)));
    w->now += time_step(u8(r));
    sk_stack *s = stack_for(w, t->src);
    if (s)
        sk_input(s, d, sizeof d, w->now);
}

/* Raw bytes, as they come; optionally with the IP header's checksum and
 * the TCP checksum repaired where the lengths make them computable. */
static void op_raw(world *w, reader *r)
{
    uint8_t how = u8(r);
    if (how & 2) {
        if (how & 8) /* with MTU probing on, for the black-hole and probe paths */
            sk_sysctl_set(w->st[how >> 7], "net.ipv4.tcp_mtu_probing", (how & 16) ? "2" : "1", NULL, 0);
        op_icmp(w, r, how);
        return;
    }
    size_t len = u16(r) % DGRAM_MAX;
    uint8_t d[DGRAM_MAX];
    size_t n = 0;
    while (n < len && r->left)
        d[n++] = u8(r);
    if ((how & 1) && n >= SK_IP6_HDR_LEN && (d[0] >> 4) == 6) {
        /* IPv6: the payload length as captured, then the TCP checksum
         * after whatever extension headers the parser walks past. */
        size_t plen = (size_t)d[4] << 8 | d[5];
        if (plen > n - SK_IP6_HDR_LEN)
            put_be16(d + 4, (uint16_t)(n - SK_IP6_HDR_LEN));
        sk_segment seg;
        sk_parse_error e = sk_parse_segment(d, n, false, &seg);
        if ((e == SK_PARSE_OK || e == SK_PARSE_BAD_TCP_CSUM) && seg.l4_off + 18 <= seg.ip_len) {
            uint8_t *tcp = d + seg.l4_off;
            tcp[16] = tcp[17] = 0;
            put_be16(tcp + 16, sk_tcp_checksum6(d + 8, d + 24, tcp, seg.ip_len - seg.l4_off));
        }
    } else if ((how & 1) && n >= SK_IP_HDR_MIN) {
        size_t ihl = (size_t)(d[0] & 15) * 4;
        size_t total = (size_t)d[2] << 8 | d[3];
        if (ihl >= SK_IP_HDR_MIN && ihl <= n) {
            d[10] = d[11] = 0;
            put_be16(d + 10, sk_csum_fold(sk_csum_partial(d, ihl, 0)));
            if (total > n)
                total = n;
            if (d[9] == 1 && total >= ihl + 4) { /* ICMP: its own checksum */
                d[ihl + 2] = d[ihl + 3] = 0;
                put_be16(d + ihl + 2, sk_csum_fold(sk_csum_partial(d + ihl, total - ihl, 0)));
            } else if (total >= ihl + 18) {
                uint32_t src = (uint32_t)d[12] << 24 | (uint32_t)d[13] << 16 | (uint32_t)d[14] << 8 | d[15];
                uint32_t dst = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
                d[ihl + 16] = d[ihl + 17] = 0;
                put_be16(d + ihl + 16, sk_tcp_checksum(src, dst, d + ihl, total - ihl));
            }
        }
    }
    if (n)
        check_vnet(d, n, (how & 1) != 0);
    w->now += time_step(u8(r));
    sk_segment dst_seg;
    if (sk_parse_segment(d, n, false, &dst_seg) == SK_PARSE_OK && w->nraw_dst < 256)
        addr_key(&dst_seg, false, w->raw_dst[w->nraw_dst++]);
    input_pieces(w->st[how >> 7], d, n, w->now);
}

static void op_call(world *w, reader *r)
{
    uint8_t sel = u8(r), what = u8(r);
    int side = sel >> 7;
    sk_stack *s = w->st[side];
    if (!w->nfds[side])
        return;
    int fd = w->fds[side][(sel & 127) % w->nfds[side]];
    static uint8_t buf[70000];
    switch (what % 10) {
    case 0:
        sk_send(s, fd, buf, (size_t)u16(r), (what & 0x10) ? SK_MSG_MORE : 0);
        break;
    case 1:
        sk_recv(s, fd, buf, (size_t)u16(r) + 1, (what & 0x10) ? SK_MSG_PEEK : 0);
        break;
    case 2:
        sk_shutdown(s, fd, u8(r) % 3);
        break;
    case 3:
        sk_close(s, fd);
        break;
    case 4:
        add_fd(w, side, sk_accept(s, fd, NULL));
        break;
    case 5:
        connect_to(w, side, (what & 0x10) ? ADDR_X : side ? ADDR_A : ADDR_B, (what & 0x20) ? 80 : u16(r));
        break;
    case 6: {
        int v = (int)u16(r);
        static const int names[] = {SK_TCP_NODELAY, SK_TCP_CORK, SK_TCP_MAXSEG, SK_TCP_KEEPIDLE,
                                    SK_TCP_USER_TIMEOUT, SK_TCP_WINDOW_CLAMP, SK_TCP_QUICKACK,
                                    SK_TCP_LINGER2};
        if ((what >> 4) >= 12) {
            /* IP level: IP_MTU_DISCOVER, IP_RECVERR, IP_TOS, IP_MTU */
            static const int ip_names[] = {SK_IP_MTU_DISCOVER, SK_IP_RECVERR, SK_IP_TOS, SK_IP_MTU};
            sk_setsockopt(s, fd, SK_IPPROTO_IP, ip_names[(what >> 4) - 12], &v, sizeof v);
            break;
        }
        sk_setsockopt(s, fd, SK_IPPROTO_TCP, names[(what >> 4) % 8], &v, sizeof v);
        break;
    }
    case 7: {
        int on = 1;
        sk_setsockopt(s, fd, SK_SOL_SOCKET, SK_SO_KEEPALIVE, &on, sizeof on);
        break;
    }
    case 8: {
        struct sk_linger l = {1, (what & 0x10) ? 0 : 1};
        sk_setsockopt(s, fd, SK_SOL_SOCKET, SK_SO_LINGER, &l, sizeof l);
        break;
    }
    default: {
        if (what & 0x10) {
            /* A tunable the input turns, from the ones that steer the
             * state machine; a value Linux refuses is refused here too. */
            static const struct {
                const char *name, *values[3];
            } knobs[] = {
                {"net.ipv4.tcp_tw_reuse", {"0", "1", "2"}},
                {"net.ipv4.tcp_rfc1337", {"0", "1", "1"}},
                {"net.ipv4.tcp_abort_on_overflow", {"0", "1", "1"}},
                {"net.ipv4.tcp_syncookies", {"0", "1", "2"}},
                {"net.ipv4.tcp_sack", {"0", "1", "1"}},
                {"net.ipv4.tcp_timestamps", {"0", "1", "2"}},
                {"net.ipv4.tcp_ecn", {"0", "1", "2"}},
                {"net.ipv4.tcp_max_tw_buckets", {"0", "1", "262144"}},
                {"net.ipv4.tcp_fin_timeout", {"1", "5", "60"}},
                {"net.ipv4.tcp_keepalive_time", {"1", "75", "7200"}},
                {"net.ipv4.tcp_retries2", {"1", "3", "15"}},
                {"net.ipv4.tcp_orphan_retries", {"0", "1", "8"}},
                {"net.ipv4.tcp_congestion_control", {"reno", "cubic", "bbr"}},
                {"net.ipv4.tcp_max_syn_backlog", {"1", "2", "128"}},
                {"net.ipv4.tcp_synack_retries", {"0", "1", "5"}},
                {"net.ipv4.tcp_challenge_ack_limit", {"0", "1", "1000"}},
            };
            uint8_t k = u8(r);
            char err[128];
            sk_sysctl_set(s, knobs[(k >> 2) % 16].name, knobs[(k >> 2) % 16].values[(k & 3) % 3], err, sizeof err);
            break;
        }
        struct sk_tcp_info ti;
        size_t tl = sizeof ti;
        sk_getsockopt(s, fd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &tl);
        sk_poll(s, fd);
        break;
    }
    }
}

static void visit(void *ctx, const sk_sock_info *si)
{
    if (ctx)
        fprintf(stderr, "  %s %08x:%u %08x:%u\n", sk_state_ss_name(si->state), (unsigned)si->local.addr,
                si->local.port, (unsigned)si->remote.addr, si->remote.port);
    if (si->state < SK_TCP_ESTABLISHED || si->state > SK_TCP_CLOSING) {
        fprintf(stderr, "sk_sockets: state %d\n", si->state);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static world w;
    setup(&w);
    reader r = {data, size};
    unsigned ops = 0;
    while (r.left && ops++ < 256) {
        uint8_t op = u8(&r);
        switch (op % 8) {
        case 0:
        case 1:
        case 2:
        case 3:
            op_template(&w, &r);
            break;
        case 4:
            op_raw(&w, &r);
            break;
        case 5:
            advance(&w, time_step(u8(&r)) + (sk_time_ns)u8(&r) * SK_NSEC_PER_USEC);
            break;
        case 6:
            op_call(&w, &r);
            break;
        default:
            pump(&w, (size_t)1 + (op >> 3));
            break;
        }
    }
    advance(&w, 0);
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("SYNACK_FUZZ_TUPLES") != NULL;
    for (int i = 0; i < 2; i++) {
        if (verbose)
            fprintf(stderr, "stack %c after the input:\n", 'A' + i);
        sk_sockets(w.st[i], visit, verbose ? &w : NULL);
    }
    /* Every timer left runs out (TIME_WAIT, FIN_WAIT_2, retransmissions
     * giving up) without a report. */
    advance(&w, 300 * SK_NSEC_PER_SEC);
    for (int i = 0; i < 2; i++)
        sk_stack_free(w.st[i]);
    return 0;
}
