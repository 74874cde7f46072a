/*
 * The script runner: one fresh stack per script, driven in virtual time.
 *
 * Times follow packetdrill: inbound packets and calls happen at their
 * script time; an outbound packet must leave within --tolerance_usecs of
 * its time (or of its `a~b` range).  Sequence numbers on the script side
 * are the script's own (its ISN is 0); the stack's are shown relative to
 * the ISN learned from its SYN or SYN-ACK, and TS values relative to the
 * first TS val it sent on the connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "script/lexer.h"
#include "script/run_internal.h"
#include "synack/packet.h"

#define DEFAULT_TOLERANCE_USECS 4000
#define ANY_TIME_LIMIT (60 * SK_NSEC_PER_SEC)
#define LATE_LOOKAHEAD (10 * SK_NSEC_PER_SEC)
#define MAX_SCRIPT_USECS ((int64_t)SK_LEX_MAX_TIME_SECS * 1000000)

/* ------------------------------------------------------------------ */
/* Outcome helpers                                                      */
/* ------------------------------------------------------------------ */

static void finish(sk_runner *r, sk_script_outcome outcome, const char *fmt, va_list ap)
{
    if (r->done)
        return;
    r->done = true;
    r->outcome = outcome;
    int n = 0;
    if (r->ev)
        n = snprintf(r->msg, r->msglen, "%s:%d: ", r->script->path, r->ev->line);
    else
        n = snprintf(r->msg, r->msglen, "%s: ", r->script->path);
    if (n >= 0 && (size_t)n < r->msglen)
        vsnprintf(r->msg + n, r->msglen - (size_t)n, fmt, ap);
}

void sk_run_fail(sk_runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finish(r, SK_SCRIPT_FAIL, fmt, ap);
    va_end(ap);
}

void sk_run_skip(sk_runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    finish(r, SK_SCRIPT_SKIP, fmt, ap);
    va_end(ap);
}

void sk_run_trace(sk_runner *r, const char *fmt, ...)
{
    if (!r->opts || !r->opts->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  [%.6f] ", (double)(r->now - r->base) / 1e9);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

sk_time_ns sk_run_script_ns(const sk_runner *r, int64_t usecs)
{
    if (usecs < 0)
        usecs = 0;
    return r->base + (sk_time_ns)usecs * SK_NSEC_PER_USEC;
}

static double secs(const sk_runner *r, sk_time_ns t)
{
    return (double)(int64_t)(t - r->base) / 1e9;
}

/* ------------------------------------------------------------------ */
/* Stack callbacks                                                      */
/* ------------------------------------------------------------------ */

static void trace_datagram(sk_runner *r, const uint8_t *datagram, size_t len);

void sk_run_queue_out(sk_runner *r, const uint8_t *datagram, size_t len, sk_time_ns at)
{
    if (r->out_count == r->out_cap) {
        size_t cap = r->out_cap ? r->out_cap * 2 : 64;
        sk_run_out *o = realloc(r->out, cap * sizeof(*o));
        if (!o) {
            r->out_of_memory = true;
            return;
        }
        r->out = o;
        r->out_cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        r->out_of_memory = true;
        return;
    }
    memcpy(copy, datagram, len);
    r->out[r->out_count++] = (sk_run_out){.data = copy, .len = len, .at = at};
    if (r->opts && r->opts->verbose)
        trace_datagram(r, datagram, len);
}

static void drop_front(sk_runner *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r->out[i].data);
    memmove(r->out, r->out + n, (r->out_count - n) * sizeof(*r->out));
    r->out_count -= n;
}

/* ------------------------------------------------------------------ */
/* Time                                                                 */
/* ------------------------------------------------------------------ */

/* A stack whose deadline stays in the past would loop forever here; cap
 * the steps taken at one instant and treat that as a stack bug. */
#define MAX_STEPS_AT_ONE_TIME 100000

static void step_to(sk_runner *r, sk_time_ns t)
{
    r->now = t;
    r->be->advance(r, t);
    sk_run_pending_poll(r);
}

void sk_run_advance_to(sk_runner *r, sk_time_ns t)
{
    unsigned same = 0;
    /* A backend without visible timers times its datagrams itself: one
     * step is exact unless a blocking call must be retried on the way. */
    if (!r->be->exact_deadlines && r->pending.op == SK_OP_NONE) {
        if (!r->done && t > r->now)
            step_to(r, t);
        return;
    }
    while (!r->done) {
        sk_time_ns d = r->be->next_deadline(r);
        if (d == SK_TIME_NEVER || d > t)
            break;
        if (d <= r->now) {
            if (++same > MAX_STEPS_AT_ONE_TIME) {
                sk_run_fail(r, "stack keeps a deadline in the past (%.6f) without progress", secs(r, d));
                return;
            }
            d = r->now;
        } else {
            same = 0;
        }
        step_to(r, d);
    }
    if (!r->done && t >= r->now)
        step_to(r, t);
}

/* Advances until a datagram is queued or `limit` is reached.  `expected`
 * is when the script expects one: a backend without visible timers jumps
 * there at once (datagrams keep their own times, and no later event is
 * earlier), then steps finely. */
static void drop_stale(sk_runner *r);

static void advance_until_output(sk_runner *r, sk_time_ns expected, sk_time_ns limit)
{
    unsigned same = 0;
    if (!r->be->exact_deadlines && r->pending.op == SK_OP_NONE && r->out_count == 0 && expected > r->now)
        step_to(r, expected < limit ? expected : limit);
    drop_stale(r);
    while (!r->done && r->out_count == 0) {
        sk_time_ns d = r->be->next_deadline(r);
        if (d == SK_TIME_NEVER || d > limit) {
            if (limit > r->now)
                step_to(r, limit);
            return;
        }
        if (d <= r->now) {
            if (++same > MAX_STEPS_AT_ONE_TIME) {
                sk_run_fail(r, "stack keeps a deadline in the past (%.6f) without progress", secs(r, d));
                return;
            }
            d = r->now;
        }
        step_to(r, d);
        drop_stale(r);
    }
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static int find_conn(const sk_runner *r, uint16_t local_port, uint16_t remote_port)
{
    for (size_t i = 0; i < r->conn_count; i++)
        if (r->conns[i].local_port == local_port && r->conns[i].remote_port == remote_port)
            return (int)i;
    return -1;
}

static int new_conn(sk_runner *r, uint16_t local_port, uint16_t remote_port, bool passive)
{
    if (r->conn_count == SK_RUN_MAX_CONNS) {
        sk_run_skip(r, "more than %d connections in one script", SK_RUN_MAX_CONNS);
        return -1;
    }
    sk_run_conn *c = &r->conns[r->conn_count];
    memset(c, 0, sizeof(*c));
    c->local_port = local_port;
    c->remote_port = remote_port;
    c->passive = passive;
    c->epoch = r->socket_epoch;
    return (int)r->conn_count++;
}

/* packetdrill sniffs only its socket under test, the newest one: what
 * older connections send (a FIN after close(), a delayed ACK) is dropped
 * unseen once the script has created another socket. */
static void drop_stale(sk_runner *r)
{
    while (r->out_count > 0) {
        sk_segment seg;
        if (sk_parse_segment(r->out[0].data, r->out[0].len, false, &seg) != SK_PARSE_OK)
            return;
        int ci = find_conn(r, seg.sport, seg.dport);
        if (ci < 0 || r->conns[ci].epoch >= r->socket_epoch)
            return;
        sk_run_trace(r, "ignored: a packet of a socket older than the socket under test");
        drop_front(r, 1);
    }
}

/* packetdrill sends each new inbound SYN on a new socket unless the
 * script has sent only SYNs on the current one: then it is a
 * retransmitted SYN, or a simultaneous open when the stack connects. */
static int conn_for_inbound(sk_runner *r, const sk_script_packet *p)
{
    bool bare_syn = (p->flags & SK_TH_SYN) && !(p->flags & SK_TH_ACK);
    int cur = r->current_conn;
    if (cur >= 0 && (!bare_syn || !r->conns[cur].script_past_syn))
        return cur;
    int idx = new_conn(r, r->listen_port, r->next_remote_port++, true);
    if (idx >= 0)
        r->current_conn = idx;
    return idx;
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

#define TCPOPT_FASTOPEN 34
#define TCPOPT_EXP 254
#define TCPOPT_FASTOPEN_MAGIC 0xF989

static uint64_t rotl64(uint64_t x, int b)
{
    return x << b | x >> (64 - b);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* SipHash-2-4 (Aumasson and Bernstein), the keyed hash behind Linux's
 * Fast Open cookies (__tcp_fastopen_cookie_gen_cipher).  The runner
 * computes the cookie an IPv6 peer gets itself, as packetdrill computes
 * TFO_COOKIE itself, rather than asking the stack under test. */
static uint64_t siphash24(const uint8_t key[16], const uint8_t *m, size_t len)
{
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
#define SIPROUND                                                                                              \
    do {                                                                                                      \
        v0 += v1;                                                                                             \
        v1 = rotl64(v1, 13) ^ v0;                                                                             \
        v0 = rotl64(v0, 32);                                                                                  \
        v2 += v3;                                                                                             \
        v3 = rotl64(v3, 16) ^ v2;                                                                             \
        v0 += v3;                                                                                             \
        v3 = rotl64(v3, 21) ^ v0;                                                                             \
        v2 += v1;                                                                                             \
        v1 = rotl64(v1, 17) ^ v2;                                                                             \
        v2 = rotl64(v2, 32);                                                                                  \
    } while (0)
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t w = le64(m + i);
        v3 ^= w;
        SIPROUND;
        SIPROUND;
        v0 ^= w;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)m[full + i] << (8 * i);
    v3 ^= last;
    SIPROUND;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
#undef SIPROUND
    return v0 ^ v1 ^ v2 ^ v3;
}

/* A cookie named in a script (packetdrill's TFO_COOKIE): the one the
 * stack issues to the script's address under the tcp_fastopen_key sysctl,
 * computed as Linux computes it: SipHash of the SYN's source and
 * destination addresses (4 bytes each, or 16 for IPv6) under the key,
 * stored little-endian. */
static bool named_cookie(sk_runner *r, const char *name, uint8_t out[8])
{
    if (strcmp(name, "TFO_COOKIE") != 0)
        return false;
    char buf[128];
    if (r->be->sysctl_get(r, "net.ipv4.tcp_fastopen_key", buf, sizeof buf) != 0)
        return false;
    unsigned w[4];
    if (sscanf(buf, "%x-%x-%x-%x", &w[0], &w[1], &w[2], &w[3]) != 4)
        return false;
    uint8_t key[16];
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 4; b++)
            key[4 * i + b] = (uint8_t)(w[i] >> (8 * b));
    if (r->ip_version != SK_RUN_IPV6) {
        sk_fastopen_cookie(key, r->remote_ip, r->local_ip, out);
        return true;
    }
    uint8_t addrs[32];
    memcpy(addrs, r->remote_ip6, 16);
    memcpy(addrs + 16, r->local_ip6, 16);
    uint64_t h = siphash24(key, addrs, sizeof(addrs));
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(h >> (8 * i));
    return true;
}

static bool encode_options(sk_runner *r, const sk_script_packet *p, const sk_run_conn *c, uint8_t *buf,
                           size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < p->option_count; i++) {
        const sk_script_tcp_opt *o = &p->options[i];
        uint8_t tmp[40];
        size_t k = 0;
        switch (o->kind) {
        case SK_SOPT_NOP: tmp[k++] = SK_TCPOPT_NOP; break;
        case SK_SOPT_EOL: tmp[k++] = SK_TCPOPT_EOL; break;
        case SK_SOPT_MSS:
            tmp[k++] = SK_TCPOPT_MSS;
            tmp[k++] = 4;
            tmp[k++] = (uint8_t)(o->value >> 8);
            tmp[k++] = (uint8_t)o->value;
            break;
        case SK_SOPT_WSCALE:
            tmp[k++] = SK_TCPOPT_WSCALE;
            tmp[k++] = 3;
            tmp[k++] = (uint8_t)o->value;
            break;
        case SK_SOPT_SACK_PERM:
            tmp[k++] = SK_TCPOPT_SACK_PERM;
            tmp[k++] = 2;
            break;
        case SK_SOPT_SACK: {
            /* SACK blocks acknowledge the stack's data: relative to its ISN. */
            uint32_t isn = c && c->have_isn ? c->stack_isn : 0;
            tmp[k++] = SK_TCPOPT_SACK;
            tmp[k++] = (uint8_t)(2 + 8 * o->sack_count);
            for (unsigned b = 0; b < o->sack_count; b++) {
                uint32_t v[2] = {htonl(o->sack_start[b] + isn), htonl(o->sack_end[b] + isn)};
                memcpy(tmp + k, v, 8);
                k += 8;
            }
            break;
        }
        case SK_SOPT_TS: {
            /* The echo refers to the stack's clock: map it back. */
            uint32_t ecr = o->ts_ecr;
            if (ecr != 0 && c && c->have_ts)
                ecr += c->ts_offset;
            uint32_t v[2] = {htonl(o->ts_val), htonl(ecr)};
            tmp[k++] = SK_TCPOPT_TIMESTAMP;
            tmp[k++] = 10;
            memcpy(tmp + k, v, 8);
            k += 8;
            break;
        }
        case SK_SOPT_FO:
        case SK_SOPT_FOEXP: {
            uint8_t named[8];
            const uint8_t *cookie = o->cookie;
            size_t cookie_len = o->cookie_len;
            if (o->cookie_name) {
                if (!named_cookie(r, o->cookie_name, named)) {
                    sk_run_skip(r, "Fast Open cookie given by name (%s)", o->cookie_name);
                    return false;
                }
                cookie = named;
                cookie_len = 8;
            }
            if (o->kind == SK_SOPT_FO) {
                tmp[k++] = TCPOPT_FASTOPEN;
                tmp[k++] = (uint8_t)(2 + cookie_len);
            } else {
                tmp[k++] = TCPOPT_EXP;
                tmp[k++] = (uint8_t)(4 + cookie_len);
                tmp[k++] = TCPOPT_FASTOPEN_MAGIC >> 8;
                tmp[k++] = TCPOPT_FASTOPEN_MAGIC & 0xff;
            }
            memcpy(tmp + k, cookie, cookie_len);
            k += cookie_len;
            break;
        }
        }
        if (n + k > SK_TCP_OPT_MAX) {
            sk_run_fail(r, "inbound options longer than 40 bytes");
            return false;
        }
        memcpy(buf + n, tmp, k);
        n += k;
    }
    while (n % 4)
        buf[n++] = SK_TCPOPT_EOL;
    *len = n;
    return true;
}

/* A decoded option as it appeared on the wire, in order. */
typedef struct live_opt {
    uint8_t kind;
    uint8_t len;
    const uint8_t *data;
} live_opt;

static size_t split_options(const uint8_t *opt, size_t len, live_opt *out, size_t cap)
{
    size_t i = 0, n = 0;
    while (i < len && n < cap) {
        uint8_t kind = opt[i];
        if (kind == SK_TCPOPT_EOL || kind == SK_TCPOPT_NOP) {
            out[n++] = (live_opt){kind, 1, opt + i};
            i++;
            if (kind == SK_TCPOPT_EOL) {
                /* everything after EOL is padding */
                break;
            }
            continue;
        }
        if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
            break;
        out[n++] = (live_opt){kind, opt[i + 1], opt + i};
        i += opt[i + 1];
    }
    return n;
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void describe_live_options(const sk_run_conn *c, const live_opt *o, size_t n, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && w < cap; i++) {
        const char *sep = i ? "," : "";
        int k = 0;
        switch (o[i].kind) {
        case SK_TCPOPT_NOP: k = snprintf(buf + w, cap - w, "%snop", sep); break;
        case SK_TCPOPT_EOL: k = snprintf(buf + w, cap - w, "%seol", sep); break;
        case SK_TCPOPT_MSS:
            k = snprintf(buf + w, cap - w, "%smss %u", sep,
                         o[i].len == 4 ? ((unsigned)o[i].data[2] << 8 | o[i].data[3]) : 0u);
            break;
        case SK_TCPOPT_WSCALE:
            k = snprintf(buf + w, cap - w, "%swscale %u", sep, o[i].len == 3 ? o[i].data[2] : 0u);
            break;
        case SK_TCPOPT_SACK_PERM: k = snprintf(buf + w, cap - w, "%ssackOK", sep); break;
        case SK_TCPOPT_TIMESTAMP:
            if (o[i].len == 10) {
                uint32_t val = get32(o[i].data + 2);
                if (c && c->have_ts)
                    val -= c->ts_offset;
                k = snprintf(buf + w, cap - w, "%sTS val %u ecr %u", sep, val, get32(o[i].data + 6));
            }
            break;
        case SK_TCPOPT_SACK:
            k = snprintf(buf + w, cap - w, "%ssack", sep);
            for (size_t b = 2; b + 8 <= o[i].len && k >= 0; b += 8) {
                w += (size_t)k;
                k = snprintf(buf + w, cap - w, " %u:%u", get32(o[i].data + b), get32(o[i].data + b + 4));
            }
            break;
        default: k = snprintf(buf + w, cap - w, "%sopt%u(len %u)", sep, o[i].kind, o[i].len); break;
        }
        if (k < 0)
            break;
        w += (size_t)k;
    }
}

static void describe_script_options(const sk_script_packet *p, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = 0;
    if (p->options_any) {
        snprintf(buf, cap, "...");
        return;
    }
    for (size_t i = 0; i < p->option_count && w < cap; i++) {
        const sk_script_tcp_opt *o = &p->options[i];
        const char *sep = i ? "," : "";
        int k = 0;
        switch (o->kind) {
        case SK_SOPT_NOP: k = snprintf(buf + w, cap - w, "%snop", sep); break;
        case SK_SOPT_EOL: k = snprintf(buf + w, cap - w, "%seol", sep); break;
        case SK_SOPT_MSS: k = snprintf(buf + w, cap - w, "%smss %u", sep, o->value); break;
        case SK_SOPT_WSCALE: k = snprintf(buf + w, cap - w, "%swscale %u", sep, o->value); break;
        case SK_SOPT_SACK_PERM: k = snprintf(buf + w, cap - w, "%ssackOK", sep); break;
        case SK_SOPT_TS:
            k = snprintf(buf + w, cap - w, "%sTS val %u ecr %u", sep, o->ts_val, o->ts_ecr);
            break;
        case SK_SOPT_SACK:
            k = snprintf(buf + w, cap - w, "%ssack", sep);
            for (unsigned b = 0; b < o->sack_count && k >= 0; b++) {
                w += (size_t)k;
                k = snprintf(buf + w, cap - w, " %u:%u", o->sack_start[b], o->sack_end[b]);
            }
            break;
        case SK_SOPT_FO: k = snprintf(buf + w, cap - w, "%sFO", sep); break;
        case SK_SOPT_FOEXP: k = snprintf(buf + w, cap - w, "%sFOEXP", sep); break;
        }
        if (k < 0)
            break;
        w += (size_t)k;
    }
}

static void flags_text(uint16_t flags, char *buf)
{
    size_t n = 0;
    if (flags & SK_TH_SYN) buf[n++] = 'S';
    if (flags & SK_TH_FIN) buf[n++] = 'F';
    if (flags & SK_TH_RST) buf[n++] = 'R';
    if (flags & SK_TH_PSH) buf[n++] = 'P';
    if (flags & SK_TH_URG) buf[n++] = 'U';
    if (flags & SK_TH_ECE) buf[n++] = 'E';
    if (flags & SK_TH_CWR) buf[n++] = 'W';
    if (flags & SK_TH_ACK) buf[n++] = '.';
    if (n == 0) buf[n++] = '-';
    buf[n] = 0;
}

static void describe_script_packet(const sk_script_packet *p, char *buf, size_t cap)
{
    char opts[400];
    describe_script_options(p, opts, sizeof(opts));
    int n = snprintf(buf, cap, "%s %u:%u(%u)", p->flags_text, p->seq_start, p->seq_end, p->payload_len);
    if (n < 0 || (size_t)n >= cap)
        return;
    if (p->has_ack)
        n += snprintf(buf + n, cap - (size_t)n, " ack %u", p->ack);
    if ((size_t)n < cap && p->has_win)
        n += snprintf(buf + n, cap - (size_t)n, " win %u", p->win);
    if ((size_t)n < cap && p->has_options)
        snprintf(buf + n, cap - (size_t)n, " <%s>", opts);
}

/* An outbound segment, possibly several datagrams merged as one TSO
 * super-packet would have been on Linux (see match_outbound). */
typedef struct live_seg {
    sk_segment seg;
    uint32_t payload_len;
    uint16_t flags;
    size_t datagrams;
} live_seg;

static void describe_live(const sk_run_conn *c, const live_seg *l, char *buf, size_t cap)
{
    char fl[16], opts[400];
    live_opt lo[40];
    size_t n = split_options(l->seg.options, l->seg.options_len, lo, 40);
    describe_live_options(c, lo, n, opts, sizeof(opts));
    flags_text(l->flags, fl);
    uint32_t isn = c && c->have_isn ? c->stack_isn : 0;
    uint32_t seq = l->seg.seq - isn;
    int k = snprintf(buf, cap, "%s %u:%u(%u)", fl, seq, seq + l->payload_len, l->payload_len);
    if (k >= 0 && (size_t)k < cap && (l->flags & SK_TH_ACK))
        k += snprintf(buf + k, cap - (size_t)k, " ack %u", l->seg.ack);
    if (k >= 0 && (size_t)k < cap)
        k += snprintf(buf + k, cap - (size_t)k, " win %u", l->seg.window);
    if (k >= 0 && (size_t)k < cap && n)
        snprintf(buf + k, cap - (size_t)k, " <%s>", opts);
}

static void trace_datagram(sk_runner *r, const uint8_t *datagram, size_t len)
{
    sk_segment seg;
    char d[700];
    if (sk_parse_segment(datagram, len, false, &seg) != SK_PARSE_OK) {
        sk_run_trace(r, "stack sent %zu bytes that do not parse", len);
        return;
    }
    int ci = find_conn(r, seg.sport, seg.dport);
    live_seg l = {.seg = seg, .payload_len = (uint32_t)seg.payload_len, .flags = seg.flags, .datagrams = 1};
    describe_live(ci >= 0 ? &r->conns[ci] : NULL, &l, d, sizeof(d));
    sk_run_trace(r, "stack sent %s", d);
}

/* ------------------------------------------------------------------ */
/* Inbound packets                                                      */
/* ------------------------------------------------------------------ */

static int ecn_bits(const char *annotation, bool *ok)
{
    *ok = true;
    if (!annotation)
        return -1;
    if (strcmp(annotation, "noecn") == 0)
        return 0;
    if (strcmp(annotation, "ect1") == 0)
        return 1;
    if (strcmp(annotation, "ect0") == 0)
        return 2;
    if (strcmp(annotation, "ce") == 0)
        return 3;
    *ok = false;
    return -1;
}

/* Fast Open options in a script mean nothing to a stack without TFO
 * (no net.ipv4.tcp_fastopen tunable): a feature gap, so SKIP. */
static bool fastopen_unsupported(sk_runner *r, const sk_script_packet *p)
{
    bool fo = false;
    for (size_t i = 0; i < p->option_count; i++)
        if (p->options[i].kind == SK_SOPT_FO || p->options[i].kind == SK_SOPT_FOEXP)
            fo = true;
    char buf[64];
    if (!fo || r->be->sysctl_get(r, "net.ipv4.tcp_fastopen", buf, sizeof(buf)) == 0)
        return false;
    sk_run_skip(r, "TCP Fast Open option in a packet: synack has no net.ipv4.tcp_fastopen");
    return true;
}

/* packetdrill's ICMPv4 names (icmp_packet.c): types, and the codes of
 * destination unreachable and time exceeded. */
static int icmp_type_number(const char *name)
{
    static const struct {
        const char *name;
        int type;
    } t[] = {{"echo_reply", 0}, {"unreachable", 3}, {"destination_unreachable", 3}, {"source_quench", 4},
             {"redirect", 5}, {"echo_request", 8}, {"time_exceeded", 11}, {"parameter_problem", 12}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(name, t[i].name))
            return t[i].type;
    return -1;
}

static int icmp_code_number(const char *name)
{
    static const char *const unreach[] = {
        "net_unreachable",      "host_unreachable",   "protocol_unreachable", "port_unreachable",
        "frag_needed",          "source_route_failed", "net_unknown",         "host_unknown",
        "source_host_isolated", "net_prohibited",     "host_prohibited",      "net_unreachable_for_tos",
        "host_unreachable_for_tos", "packet_filtered", "precedence_violation", "precedence_cutoff"};
    for (size_t i = 0; i < sizeof(unreach) / sizeof(unreach[0]); i++)
        if (!strcmp(name, unreach[i]))
            return (int)i;
    if (!strcmp(name, "ttl_exceeded"))
        return 0;
    if (!strcmp(name, "fragment_reassembly_time_exceeded"))
        return 1;
    char *end;
    long v = strtol(name, &end, 0);
    return *end || v < 0 || v > 255 ? -1 : (int)v;
}

/* An inbound ICMP error as packetdrill builds it: from the script's
 * remote address, quoting an IPv4 header of the connection under test
 * and its TCP header, whose sequence number is the script's [start]
 * mapped onto the stack's ISN (0, the ISN itself, when not given). */
static void inject_icmp(sk_runner *r, const sk_script_packet *p, sk_time_ns at)
{
    int type = icmp_type_number(p->icmp_type);
    int code = p->icmp_code ? icmp_code_number(p->icmp_code) : 0;
    if (type < 0 || code < 0) {
        sk_run_skip(r, "ICMP %s %s: not an ICMPv4 type and code the runner knows (a parameter of the script's "
                       "harness?)", p->icmp_type, p->icmp_code ? p->icmp_code : "");
        return;
    }
    int ci = r->current_conn;
    if (ci < 0 || !r->conns[ci].have_isn) {
        sk_run_fail(r, "inbound ICMP before the connection under test sent anything");
        return;
    }
    sk_run_conn *c = &r->conns[ci];
    uint8_t d[28 + 40];
    memset(d, 0, sizeof(d));
    uint32_t addrs[4] = {r->remote_ip, r->local_ip, r->local_ip, r->remote_ip};
    d[0] = 0x45;
    d[2] = 0;
    d[3] = sizeof(d);
    d[8] = 64;
    d[9] = 1;
    uint8_t *q = d + 28;
    q[0] = 0x45;
    uint32_t qlen = 40 + (p->icmp_has_seq ? p->payload_len : 0);
    q[2] = (uint8_t)(qlen >> 8);
    q[3] = (uint8_t)qlen;
    q[6] = 0x40; /* DF */
    q[8] = 64;
    q[9] = 6;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 4; i++)
            (k < 2 ? d : q)[12 + 4 * (k & 1) + i] = (uint8_t)(addrs[k] >> (24 - 8 * i));
    uint16_t qc = sk_csum_fold(sk_csum_partial(q, 20, 0));
    q[10] = (uint8_t)(qc >> 8);
    q[11] = (uint8_t)qc;
    uint32_t seq = c->stack_isn + (p->icmp_has_seq ? p->seq_start : 0);
    uint8_t *th = q + 20;
    th[0] = (uint8_t)(c->local_port >> 8);
    th[1] = (uint8_t)c->local_port;
    th[2] = (uint8_t)(c->remote_port >> 8);
    th[3] = (uint8_t)c->remote_port;
    for (int i = 0; i < 4; i++)
        th[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
    th[12] = 0x50;
    uint16_t ic = sk_csum_fold(sk_csum_partial(d, 20, 0));
    d[10] = (uint8_t)(ic >> 8);
    d[11] = (uint8_t)ic;
    d[20] = (uint8_t)type;
    d[21] = (uint8_t)code;
    if (p->has_mtu) {
        d[26] = (uint8_t)(p->mtu >> 8);
        d[27] = (uint8_t)p->mtu;
    }
    ic = sk_csum_fold(sk_csum_partial(d + 20, sizeof(d) - 20, 0));
    d[22] = (uint8_t)(ic >> 8);
    d[23] = (uint8_t)ic;
    sk_run_advance_to(r, at);
    if (r->done)
        return;
    sk_run_trace(r, "< icmp %s %s", p->icmp_type, p->icmp_code ? p->icmp_code : "");
    r->now = at > r->now ? at : r->now;
    r->be->input(r, d, sizeof(d));
    sk_run_pending_poll(r);
}

static void inject(sk_runner *r, const sk_script_packet *p, sk_time_ns at)
{
    if (p->icmp) {
        inject_icmp(r, p, at);
        return;
    }
    if (fastopen_unsupported(r, p))
        return;
    int ci = conn_for_inbound(r, p);
    if (ci < 0)
        return;
    sk_run_conn *c = &r->conns[ci];
    if (!((p->flags & SK_TH_SYN) && !(p->flags & SK_TH_ACK)))
        c->script_past_syn = true;
    if (p->flags & SK_TH_SYN)
        c->script_isn = p->seq_start;

    uint8_t opts[SK_TCP_OPT_MAX];
    size_t optlen = 0;
    if (p->options_any) {
        sk_run_fail(r, "<...> is only meaningful on outbound packets");
        return;
    }
    if (!encode_options(r, p, c, opts, &optlen))
        return;
    bool ecn_ok;
    int ecn = ecn_bits(p->ip_annotation, &ecn_ok);
    if (!ecn_ok) {
        sk_run_skip(r, "IP annotation [%s] is not supported", p->ip_annotation);
        return;
    }
    uint8_t *payload = calloc(1, p->payload_len ? p->payload_len : 1);
    size_t cap = 60 + SK_TCP_OPT_MAX + p->payload_len;
    uint8_t *buf = malloc(cap);
    if (!payload || !buf) {
        free(payload);
        free(buf);
        sk_run_fail(r, "out of memory building a %u-byte inbound packet", p->payload_len);
        return;
    }
    uint32_t isn = c->have_isn ? c->stack_isn : 0;
    sk_segment_spec spec = {
        .ip_version = r->ip_version == SK_RUN_IPV6 ? 6 : 4,
        .src = r->remote_ip,
        .dst = r->local_ip,
        .sport = c->remote_port,
        .dport = c->local_port,
        .seq = (p->flags & SK_TH_SYN) ? p->seq_start : p->seq_start + c->script_isn,
        .ack = p->has_ack ? p->ack + isn : 0,
        .flags = p->flags,
        .window = (uint16_t)(p->has_win ? p->win : 65535),
        .ttl = 64,
        /* The ECN field of [ect0]/[ect1]/[ce]/[noecn]: built into the
         * header, so the IP checksum covers it (patching the byte
         * afterwards stored the checksum in host order: dropped). */
        .tos = (uint8_t)(ecn >= 0 ? ecn : 0),
        .ip_id = r->ip_id++,
        .df = true,
        .options = opts,
        .options_len = optlen,
        .payload = payload,
        .payload_len = p->payload_len,
    };
    memcpy(spec.src6, r->remote_ip6, 16);
    memcpy(spec.dst6, r->local_ip6, 16);
    if (p->has_win && p->win > 65535) {
        sk_run_fail(r, "window %u does not fit the 16-bit field", p->win);
    } else {
        size_t len = sk_build_segment(&spec, buf, cap);
        if (len == 0) {
            sk_run_fail(r, "could not build the inbound packet");
        } else {
            sk_run_advance_to(r, at);
            if (!r->done) {
                char d[512];
                describe_script_packet(p, d, sizeof(d));
                sk_run_trace(r, "< %s", d);
                r->now = at > r->now ? at : r->now;
                r->be->input(r, buf, len);
                sk_run_pending_poll(r);
            }
        }
    }
    free(payload);
    free(buf);
}

/* ------------------------------------------------------------------ */
/* Outbound packets                                                     */
/* ------------------------------------------------------------------ */

static bool parse_out(sk_runner *r, size_t i, sk_segment *seg)
{
    sk_parse_error e = sk_parse_segment(r->out[i].data, r->out[i].len, true, seg);
    if (e != SK_PARSE_OK) {
        sk_run_fail(r, "stack sent a bad datagram (%zu bytes): %s", r->out[i].len, sk_parse_error_name(e));
        return false;
    }
    /* The wire speaks the run's version: IPv6 for ipv6, IPv4 for ipv4
     * and for ipv4-mapped-ipv6; and the datagram goes to the script. */
    int want = r->ip_version == SK_RUN_IPV6 ? 6 : 4;
    bool to_remote = want == 6 ? memcmp(seg->dst6, r->remote_ip6, 16) == 0 : seg->dst == r->remote_ip;
    if (seg->ip_version != want || !to_remote) {
        char dst[64];
        if (seg->ip_version == 6)
            inet_ntop(AF_INET6, seg->dst6, dst, sizeof(dst));
        else
            snprintf(dst, sizeof(dst), "%u.%u.%u.%u", seg->dst >> 24, (seg->dst >> 16) & 0xff,
                     (seg->dst >> 8) & 0xff, seg->dst & 0xff);
        sk_run_fail(r, "stack sent an IPv%u datagram to %s in an --ip_version=%s run", seg->ip_version, dst,
                    want == 6 ? "ipv6" : r->ip_version == SK_RUN_IPV4_MAPPED ? "ipv4-mapped-ipv6" : "ipv4");
        return false;
    }
    return true;
}

static int ts_index(const live_opt *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].kind == SK_TCPOPT_TIMESTAMP && o[i].len == 10)
            return (int)i;
    return -1;
}

static bool compare_options(sk_runner *r, sk_run_conn *c, const sk_script_packet *p, const live_seg *l,
                            char *why, size_t whylen)
{
    live_opt lo[40];
    size_t n = split_options(l->seg.options, l->seg.options_len, lo, 40);
    /* Trailing EOL padding is not an option the script writes. */
    while (n > 0 && lo[n - 1].kind == SK_TCPOPT_EOL &&
           !(p->option_count >= n && p->options[n - 1].kind == SK_SOPT_EOL))
        n--;
    int ts = ts_index(lo, n);
    /* Learn the TS base from the first TS val the connection sends. */
    if (ts >= 0 && !c->have_ts && !p->options_any) {
        for (size_t i = 0; i < p->option_count; i++) {
            if (p->options[i].kind == SK_SOPT_TS) {
                c->ts_offset = get32(lo[ts].data + 2) - p->options[i].ts_val;
                c->have_ts = true;
            }
        }
    }
    if (p->options_any)
        return true;
    if (n != p->option_count) {
        snprintf(why, whylen, "option count (%zu)", n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const sk_script_tcp_opt *o = &p->options[i];
        const live_opt *x = &lo[i];
        bool ok = false;
        switch (o->kind) {
        case SK_SOPT_NOP: ok = x->kind == SK_TCPOPT_NOP; break;
        case SK_SOPT_EOL: ok = x->kind == SK_TCPOPT_EOL; break;
        case SK_SOPT_MSS:
            ok = x->kind == SK_TCPOPT_MSS && x->len == 4 && ((uint32_t)x->data[2] << 8 | x->data[3]) == o->value;
            break;
        case SK_SOPT_WSCALE: ok = x->kind == SK_TCPOPT_WSCALE && x->len == 3 && x->data[2] == o->value; break;
        case SK_SOPT_SACK_PERM: ok = x->kind == SK_TCPOPT_SACK_PERM && x->len == 2; break;
        case SK_SOPT_SACK: {
            /* Blocks of the peer's sequence space, relative to the
             * script's ISN as the ack field is (packetdrill; it matters
             * once the script's SYN is not at 0: simultaneous-fast-open's
             * D-SACK of the peer's SYN). */
            uint32_t base = (p->flags & SK_TH_SYN) ? 0 : c->script_isn;
            ok = x->kind == SK_TCPOPT_SACK && x->len == 2 + 8 * o->sack_count;
            for (unsigned b = 0; ok && b < o->sack_count; b++)
                ok = get32(x->data + 2 + 8 * b) == o->sack_start[b] + base &&
                     get32(x->data + 6 + 8 * b) == o->sack_end[b] + base;
            break;
        }
        case SK_SOPT_TS: {
            ok = x->kind == SK_TCPOPT_TIMESTAMP && x->len == 10 && get32(x->data + 6) == o->ts_ecr;
            if (ok && r->ts_tick_usecs > 0) {
                /* packetdrill checks TS val only when told the tick; allow
                 * the time tolerance expressed in ticks. */
                int64_t live = (int64_t)(uint32_t)(get32(x->data + 2) - c->ts_offset);
                int64_t slack = (int64_t)(r->tolerance / SK_NSEC_PER_USEC) / r->ts_tick_usecs + 1;
                int64_t diff = live - (int64_t)o->ts_val;
                ok = diff >= -slack && diff <= slack;
            }
            break;
        }
        case SK_SOPT_FO:
        case SK_SOPT_FOEXP: {
            size_t hdr = o->kind == SK_SOPT_FO ? 2 : 4;
            uint8_t kind = o->kind == SK_SOPT_FO ? TCPOPT_FASTOPEN : TCPOPT_EXP;
            ok = x->kind == kind && x->len >= hdr;
            if (ok && kind == TCPOPT_EXP)
                ok = x->len >= 4 && x->data[2] == (TCPOPT_FASTOPEN_MAGIC >> 8) &&
                     x->data[3] == (TCPOPT_FASTOPEN_MAGIC & 0xff);
            uint8_t named[8];
            if (ok && o->cookie_name && named_cookie(r, o->cookie_name, named))
                ok = x->len == hdr + 8 && memcmp(x->data + hdr, named, 8) == 0;
            else if (ok && !o->cookie_name)
                ok = x->len == hdr + o->cookie_len && memcmp(x->data + hdr, o->cookie, o->cookie_len) == 0;
            break;
        }
        }
        if (!ok) {
            snprintf(why, whylen, "option %zu", i + 1);
            return false;
        }
    }
    return true;
}

/* True if a later event in the script is an outbound packet: only then
 * would packetdrill notice a datagram the script does not list. */
static bool outbound_follows(const sk_runner *r, const sk_script_event *ev)
{
    const sk_script *s = r->script;
    for (const sk_script_event *e = ev; e < s->events + s->event_count; e++) {
        if (e->kind == SK_SEV_PACKET && e->packet.direction == '>')
            return true;
        /* A new socket first: packetdrill's sniffer will watch it alone
         * and drop what older sockets sent (drop_stale). */
        if (e->kind == SK_SEV_SYSCALL && strcmp(e->syscall.name, "socket") == 0)
            return false;
    }
    return false;
}

static void check_unexpected(sk_runner *r, const sk_script_event *ev, sk_time_ns at)
{
    drop_stale(r);
    if (r->out_count == 0 || r->out[0].at + r->tolerance >= at || !outbound_follows(r, ev))
        return;
    sk_segment seg;
    if (!parse_out(r, 0, &seg))
        return;
    int ci = find_conn(r, seg.sport, seg.dport);
    live_seg l = {.seg = seg, .payload_len = (uint32_t)seg.payload_len, .flags = seg.flags, .datagrams = 1};
    char got[600];
    describe_live(ci >= 0 ? &r->conns[ci] : NULL, &l, got, sizeof(got));
    sk_run_fail(r, "unexpected outbound packet at %.6f: %s", secs(r, r->out[0].at), got);
}

static void match_outbound(sk_runner *r, const sk_script_packet *p, sk_time_ns expected, sk_time_ns lo,
                           sk_time_ns hi, sk_time_ns *actual)
{
    char want[600], got[600], why[64] = "";
    describe_script_packet(p, want, sizeof(want));
    if (p->icmp) {
        sk_run_skip(r, "outbound ICMP is not supported by the runner");
        return;
    }
    if (fastopen_unsupported(r, p))
        return;
    drop_stale(r);
    bool late = false;
    if (r->out_count == 0) {
        if (r->be->wait_output) {
            /* packetdrill's sniffer: wait for whatever leaves next, past
             * what older sockets send. */
            for (;;) {
                r->be->wait_output(r, hi + LATE_LOOKAHEAD);
                if (r->done || r->out_count == 0)
                    break;
                drop_stale(r);
                if (r->out_count > 0)
                    break;
            }
            late = r->out_count > 0 && r->out[0].at > hi;
        } else {
            advance_until_output(r, expected, hi);
        }
    }
    if (r->done)
        return;
    if (r->out_count == 0 || late) {
        /* Say what came instead, if anything comes within a while: it
         * tells a late timer from a missing one. */
        char later[700] = "";
        if (!late)
            advance_until_output(r, hi, hi + LATE_LOOKAHEAD);
        if (!r->done && r->out_count > 0 && r->out[0].at <= hi + LATE_LOOKAHEAD) {
            sk_segment lseg;
            if (sk_parse_segment(r->out[0].data, r->out[0].len, false, &lseg) == SK_PARSE_OK) {
                int li = find_conn(r, lseg.sport, lseg.dport);
                live_seg ll = {.seg = lseg, .payload_len = (uint32_t)lseg.payload_len, .flags = lseg.flags,
                               .datagrams = 1};
                describe_live(li >= 0 ? &r->conns[li] : NULL, &ll, got, sizeof(got));
                snprintf(later, sizeof(later), " (next packet: %s at %.6f)", got, secs(r, r->out[0].at));
            }
        }
        sk_run_fail(r, "expected outbound %s at %.6f, got no packet by %.6f%s", want, secs(r, lo + r->tolerance),
                    secs(r, hi), later);
        return;
    }
    sk_segment seg;
    if (!parse_out(r, 0, &seg))
        return;
    live_seg l = {.seg = seg, .payload_len = (uint32_t)seg.payload_len, .flags = seg.flags, .datagrams = 1};

    /* Linux hands the device TSO super-packets and packetdrill's tun sees
     * them whole; synack sends MSS-sized segments.  Unless the script
     * asks for --strict_segments, merge back-to-back datagrams sent at
     * the same instant that continue the sequence, as GSO would have
     * split them: header of the first, PSH/FIN of the last. */
    while (!r->strict_segments && l.payload_len < p->payload_len && l.datagrams < r->out_count) {
        sk_segment next;
        if (!parse_out(r, l.datagrams, &next))
            return;
        if (r->out[l.datagrams].at != r->out[0].at || next.sport != seg.sport || next.dport != seg.dport ||
            next.seq != seg.seq + l.payload_len || next.ack != seg.ack || (l.flags & (SK_TH_FIN | SK_TH_SYN | SK_TH_RST)) ||
            (next.flags & (SK_TH_SYN | SK_TH_RST)) || next.payload_len == 0 ||
            l.payload_len + next.payload_len > p->payload_len)
            break;
        l.payload_len += (uint32_t)next.payload_len;
        l.flags = (uint16_t)((l.flags & ~(SK_TH_PSH | SK_TH_FIN)) | (next.flags & (SK_TH_PSH | SK_TH_FIN)));
        l.datagrams++;
    }

    int ci = find_conn(r, seg.sport, seg.dport);
    if (ci < 0) {
        ci = new_conn(r, seg.sport, seg.dport, false);
        if (ci < 0)
            return;
    }
    sk_run_conn *c = &r->conns[ci];
    if (l.flags & SK_TH_SYN) {
        /* The stack's ISN is its own: a script's nonzero SYN sequence
         * (`> S. 1234:1234(0)`) does not move later numbers, which stay
         * relative to the live ISN, as packetdrill maps them. */
        if (!c->have_isn || c->stack_isn != seg.seq) {
            c->stack_isn = seg.seq;
            c->have_isn = true;
        }
        if (!(l.flags & SK_TH_ACK))
            r->current_conn = ci;
    }
    if (!c->have_isn) {
        /* A stack that answers before any SYN (a RST to a stray segment):
         * its sequence numbers are taken as the script wrote them. */
        c->stack_isn = seg.seq - p->seq_start;
        c->have_isn = true;
    }

    uint32_t rel_seq = seg.seq - c->stack_isn;
    bool ecn_ok;
    int ecn = ecn_bits(p->ip_annotation, &ecn_ok);
    if (!ecn_ok) {
        sk_run_skip(r, "IP annotation [%s] is not supported", p->ip_annotation);
        return;
    }
    if (l.flags != p->flags)
        snprintf(why, sizeof(why), "flags");
    else if (rel_seq != ((l.flags & SK_TH_SYN) ? 0 : p->seq_start))
        snprintf(why, sizeof(why), "sequence number");
    else if (l.payload_len != p->payload_len)
        snprintf(why, sizeof(why), "payload length");
    else if ((p->flags & SK_TH_ACK) && p->has_ack &&
             seg.ack != ((p->flags & SK_TH_SYN) ? p->ack : p->ack + c->script_isn))
        snprintf(why, sizeof(why), "ack");
    else if (p->has_win && seg.window != p->win)
        snprintf(why, sizeof(why), "window");
    else if (ecn >= 0 && (seg.tos & 3) != ecn)
        snprintf(why, sizeof(why), "ECN field (tos 0x%02x)", seg.tos);
    else if (!compare_options(r, c, p, &l, why, sizeof(why))) {
        /* why filled in */
    } else if (!p->has_options && seg.options_len) {
        snprintf(why, sizeof(why), "options");
    }
    describe_live(c, &l, got, sizeof(got));
    if (why[0]) {
        sk_run_fail(r, "expected outbound %s, got %s (%s differs) at %.6f", want, got, why, secs(r, r->out[0].at));
        return;
    }
    sk_time_ns at = r->out[0].at;
    if (at < lo || at > hi) {
        sk_run_fail(r, "outbound %s expected at %.6f~%.6f, sent at %.6f", want, secs(r, lo), secs(r, hi),
                    secs(r, at));
        return;
    }
    sk_run_trace(r, "> %s", got);
    *actual = at;
    drop_front(r, l.datagrams);
}

/* ------------------------------------------------------------------ */
/* The event loop                                                       */
/* ------------------------------------------------------------------ */

static bool parse_ip(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

sk_endpoint sk_run_local_ep(const sk_runner *r, uint16_t port)
{
    if (r->ip_version == SK_RUN_IPV6)
        return sk_endpoint_ipv6(r->local_ip6, port);
    if (r->ip_version == SK_RUN_IPV4_MAPPED) {
        uint8_t m[16] = {[10] = 0xff, [11] = 0xff};
        for (int i = 0; i < 4; i++)
            m[12 + i] = (uint8_t)(r->local_ip >> (24 - 8 * i));
        return sk_endpoint_ipv6(m, port);
    }
    return sk_endpoint_ipv4(r->local_ip, port);
}

sk_endpoint sk_run_remote_ep(const sk_runner *r, uint16_t port)
{
    if (r->ip_version == SK_RUN_IPV6)
        return sk_endpoint_ipv6(r->remote_ip6, port);
    if (r->ip_version == SK_RUN_IPV4_MAPPED) {
        uint8_t m[16] = {[10] = 0xff, [11] = 0xff};
        for (int i = 0; i < 4; i++)
            m[12 + i] = (uint8_t)(r->remote_ip >> (24 - 8 * i));
        return sk_endpoint_ipv6(m, port);
    }
    return sk_endpoint_ipv4(r->remote_ip, port);
}

int sk_run_socket_family(const sk_runner *r)
{
    return r->ip_version == SK_RUN_IPV4 ? SK_AF_INET : SK_AF_INET6;
}

/* packetdrill's --ip_version names. */
static int ip_version_named(const char *v)
{
    if (strcmp(v, "ipv4") == 0)
        return SK_RUN_IPV4;
    if (strcmp(v, "ipv6") == 0)
        return SK_RUN_IPV6;
    if (strcmp(v, "ipv4-mapped-ipv6") == 0)
        return SK_RUN_IPV4_MAPPED;
    return 0;
}

/* The kernel runner's addresses for each version (run_all.py and the
 * .so contract): IPv6 runs with an MTU of 1520, so the MSS is 1460 as
 * in IPv4. */
static void set_ip_version(sk_runner *r, int version)
{
    r->ip_version = version;
    if (version == SK_RUN_IPV6) {
        inet_pton(AF_INET6, "fd3d:a0b:17d6::1", r->local_ip6);
        inet_pton(AF_INET6, "fd3d:fa7b:d17d::1", r->remote_ip6);
        r->mtu = 1520;
    } else {
        r->mtu = 1500;
    }
}

static bool apply_options(sk_runner *r)
{
    const sk_script *s = r->script;
    /* --ip_version first: it sets the defaults --local_ip/--remote_ip
     * and --mtu then override, wherever they stand. */
    const char *version = sk_script_option_value(s, "ip_version");
    if (version) {
        int v = ip_version_named(version);
        if (!v) {
            sk_run_fail(r, "--ip_version=%s: not ipv4, ipv6 or ipv4-mapped-ipv6", version);
            return false;
        }
        /* A script naming its version runs in that one only (the kernel
         * runner's rule): the other pass has nothing to do. */
        if (r->opts && r->opts->ip_version && ip_version_named(r->opts->ip_version) != v) {
            sk_run_skip(r, "the script runs with --ip_version=%s only", version);
            return false;
        }
        set_ip_version(r, v);
    }
    for (size_t i = 0; i < s->option_count; i++) {
        const char *name = s->options[i].name, *value = s->options[i].value ? s->options[i].value : "";
        if (strcmp(name, "tolerance_usecs") == 0) {
            r->tolerance = (sk_time_ns)strtoull(value, NULL, 0) * SK_NSEC_PER_USEC;
        } else if (strcmp(name, "ip_version") == 0) {
            /* applied above */
        } else if (strcmp(name, "mtu") == 0) {
            r->mtu = (unsigned)strtoul(value, NULL, 0);
        } else if (strcmp(name, "local_ip") == 0 || strcmp(name, "remote_ip") == 0) {
            uint32_t *dst = name[0] == 'l' ? &r->local_ip : &r->remote_ip;
            uint8_t *dst6 = name[0] == 'l' ? r->local_ip6 : r->remote_ip6;
            uint32_t v4;
            bool is_v4 = parse_ip(value, &v4);
            if (!is_v4 && inet_pton(AF_INET6, value, dst6) != 1) {
                sk_run_fail(r, "--%s=%s: not an IPv4 or IPv6 address", name, value);
                return false;
            }
            if (is_v4 != (r->ip_version != SK_RUN_IPV6)) {
                /* Addresses of the other version pin the script to it (its
                 * Fast Open cookies, say, were computed for them): the
                 * other pass has nothing to run. */
                if (sk_script_option_value(s, "ip_version"))
                    sk_run_fail(r, "--%s=%s does not fit --ip_version=%s", name, value,
                                sk_script_option_value(s, "ip_version"));
                else
                    sk_run_skip(r, "the script's --%s=%s is IPv%c: it runs in the IPv%c pass only", name, value,
                                is_v4 ? '4' : '6', is_v4 ? '4' : '6');
                return false;
            }
            if (is_v4)
                *dst = v4;
        } else if (strcmp(name, "tcp_ts_tick_usecs") == 0) {
            r->ts_tick_usecs = strtoll(value, NULL, 0);
        } else if (strcmp(name, "strict_segments") == 0) {
            r->strict_segments = true;
        } else {
            sk_run_trace(r, "option --%s ignored", name);
        }
    }
    return true;
}

static void run_events(sk_runner *r)
{
    const sk_script *s = r->script;
    for (size_t i = 0; i < s->event_count && !r->done; i++) {
        const sk_script_event *ev = &s->events[i];
        r->ev = ev;
        const sk_script_time *tm = &ev->time;
        int64_t start = r->last_usecs, end;
        switch (tm->kind) {
        case SK_STIME_NONE: start = r->last_usecs; break;
        case SK_STIME_ABSOLUTE: start = tm->usecs; break;
        case SK_STIME_RELATIVE: start = r->last_usecs + tm->usecs; break;
        case SK_STIME_ANY: start = (int64_t)((r->now - r->base) / SK_NSEC_PER_USEC); break;
        }
        end = start;
        if (tm->has_end)
            end = tm->end_relative ? r->last_usecs + tm->end_usecs : tm->end_usecs;
        if (end < start) {
            sk_run_fail(r, "time range ends before it starts");
            return;
        }
        /* Each time is bounded by the lexer; their sum is bounded here so
         * the nanosecond clock cannot overflow. */
        if (start > MAX_SCRIPT_USECS || end > MAX_SCRIPT_USECS) {
            sk_run_fail(r, "script time beyond %llu seconds", (unsigned long long)SK_LEX_MAX_TIME_SECS);
            return;
        }
        sk_time_ns at = sk_run_script_ns(r, start);

        /* The commands before the first call or packet (defaults.sh,
         * sysctls) configure the stack a lazily opened backend is then
         * created with. */
        if (!r->opened && ev->kind != SK_SEV_COMMAND) {
            r->opened = r->be->open(r);
            if (!r->opened)
                break;
        }

        switch (ev->kind) {
        case SK_SEV_PACKET:
            if (ev->packet.direction == '<') {
                check_unexpected(r, ev, at);
                if (!r->done)
                    inject(r, &ev->packet, at);
            } else {
                sk_time_ns lo = at >= r->base + r->tolerance ? at - r->tolerance : r->base;
                sk_time_ns hi = sk_run_script_ns(r, end) + r->tolerance;
                if (tm->kind == SK_STIME_ANY) {
                    /* '*': whenever it comes, within a bound that keeps a
                     * missing packet from running every timer to the end. */
                    lo = r->base;
                    hi = r->now + ANY_TIME_LIMIT;
                }
                sk_time_ns actual = at;
                match_outbound(r, &ev->packet, tm->kind == SK_STIME_ANY ? r->now : at, lo, hi, &actual);
                /* A range or '*' settles at the time the packet left. */
                if (tm->has_end || tm->kind == SK_STIME_ANY)
                    start = (int64_t)((actual - r->base) / SK_NSEC_PER_USEC);
            }
            break;
        case SK_SEV_SYSCALL: {
            int64_t call_end = start;
            if (ev->syscall.has_end)
                call_end = tm->kind == SK_STIME_RELATIVE ? r->last_usecs + ev->syscall.end_usecs
                                                          : ev->syscall.end_usecs;
            sk_run_pending_finish(r);
            if (r->done)
                break;
            check_unexpected(r, ev, at);
            if (!r->done) {
                sk_run_advance_to(r, at > r->now ? at : r->now);
                sk_run_syscall(r, ev, start, call_end);
            }
            break;
        }
        case SK_SEV_COMMAND:
            if (tm->kind != SK_STIME_NONE) {
                check_unexpected(r, ev, at);
                sk_run_advance_to(r, at > r->now ? at : r->now);
            }
            if (!r->done)
                sk_run_command(r, ev->text);
            break;
        case SK_SEV_CODE:
            check_unexpected(r, ev, at);
            sk_run_advance_to(r, at > r->now ? at : r->now);
            if (r->done)
                break;
            if (r->be->code_unsupported) {
                if (!r->code_not_run)
                    r->code_not_run = ev;
            } else {
                sk_run_code(r, ev->text);
            }
            break;
        }
        r->events_run++;
        if (r->out_of_memory)
            sk_run_fail(r, "out of memory queueing outbound datagrams");
        r->last_usecs = start;
    }
    if (!r->done) {
        sk_run_pending_finish(r);
    }
    if (!r->done && r->be->finish)
        r->be->finish(r);
    if (!r->done && r->code_not_run) {
        r->ev = r->code_not_run;
        sk_run_skip(r, "%s", r->be->code_unsupported);
    }
}

sk_script_outcome sk_script_run(const sk_script *script, const sk_script_run_opts *opts, char *msg, size_t msglen)
{
    static char dummy[1];
    sk_runner *r = calloc(1, sizeof(*r));
    if (!r) {
        if (msg && msglen)
            snprintf(msg, msglen, "%s: out of memory", script->path);
        return SK_SCRIPT_FAIL;
    }
    r->script = script;
    r->opts = opts;
    r->msg = msg && msglen ? msg : dummy;
    r->msglen = msg && msglen ? msglen : sizeof(dummy);
    r->msg[0] = 0;
    r->base = SK_NSEC_PER_SEC;
    r->now = r->base;
    r->tolerance = DEFAULT_TOLERANCE_USECS * SK_NSEC_PER_USEC;
    r->local_ip = 0xc0a80001;  /* 192.168.0.1 */
    r->remote_ip = 0xc0000201; /* 192.0.2.1   */
    int version = opts && opts->ip_version ? ip_version_named(opts->ip_version) : SK_RUN_IPV4;
    set_ip_version(r, version ? version : SK_RUN_IPV4);
    r->current_conn = -1;
    r->info_fd = -1;
    r->listen_port = SK_RUN_LOCAL_PORT;
    r->next_remote_port = SK_RUN_FIRST_REMOTE_EPHEMERAL;
    r->ip_id = 1;

    r->be = opts && opts->so_path ? &sk_run_backend_so : &sk_run_backend_native;
    if (apply_options(r)) {
        if (!r->be->lazy_open)
            r->opened = r->be->open(r);
        if (!r->done)
            run_events(r);
    }
    if (!r->done) {
        r->done = true;
        r->outcome = SK_SCRIPT_PASS;
    }
    sk_script_outcome outcome = r->outcome;
    r->be->close(r);
    for (size_t i = 0; i < r->out_count; i++)
        free(r->out[i].data);
    free(r->out);
    free(r->nstat);
    if (r->py_state[0])
        unlink(r->py_state);
    free(r);
    return outcome;
}
