/*
 * tcpdump -nn lines for IPv4 and IPv6 TCP datagrams, and lines for engine
 * events.
 *
 * The datagram formatter reproduces what tcpdump 4.99 prints for a raw-IP
 * capture (and, for IPv6, what -v adds), including its quirks, because people compare
 * synack's traces with captures of Linux by eye and with diff:
 *   - relative sequence numbers are tcpdump's, not Wireshark's: a
 *     conversation is learned from the first ACK-bearing segment seen (and
 *     relearned on every SYN+ACK), and only ACK-bearing segments are made
 *     relative; a bare SYN, RST or FIN without ACK prints absolute numbers;
 *   - options are walked the way tcpdump walks them (a known option with
 *     an unexpected length is printed, then "[len N]"), "[bad opt]" ends
 *     the line, and running out of bytes prints " [|tcp]";
 *   - HTTP on ports 80 and 8080 gets tcpdump's ": HTTP: <first line>".
 * Other application decoders (BGP, DNS-over-TCP, ...) are not reproduced,
 * nor is decoding of non-TCP protocols, which print as "ip-proto-N".
 */
#include "observe/trace.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synack/packet.h"

/* ------------------------------------------------------------------ */
/* Line builder with snprintf semantics                                  */
/* ------------------------------------------------------------------ */

typedef struct line_out {
    char *buf;
    size_t cap;
    size_t len; /* length the whole line needs, even past cap */
} line_out;

static void line_init(line_out *o, char *buf, size_t cap)
{
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    if (cap > 0)
        buf[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void line_printf(line_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *dst = NULL;
    size_t room = 0;
    if (o->len < o->cap) {
        dst = o->buf + o->len;
        room = o->cap - o->len;
    }
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void line_put_bytes(line_out *o, const uint8_t *p, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len - 1;
        size_t copy = n < room ? n : room;
        memcpy(o->buf + o->len, p, copy);
        o->buf[o->len + copy] = '\0';
    }
    o->len += n;
}

static uint16_t load_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void line_addr(line_out *o, uint32_t addr)
{
    line_printf(o, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}

/* An address of the pair as tcpdump prints it: dotted quad, or IPv6 as
 * inet_ntop writes it (RFC 5952: lowercase, the longest run of zero
 * groups as "::", the first on a tie, v4-mapped as ::ffff:a.b.c.d). */
static void line_addr16(line_out *o, const uint8_t *a, bool v6)
{
    if (!v6) {
        line_printf(o, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
        return;
    }
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, a, text, sizeof(text)))
        snprintf(text, sizeof(text), "?");
    line_printf(o, "%s", text);
}

/* ------------------------------------------------------------------ */
/* Conversation memory for relative sequence numbers                     */
/* ------------------------------------------------------------------ */

/* A conversation is stored once for both directions, under the key of
 * the direction with the lower port (lower address on a tie), as tcpdump
 * does; `isn_a` is that direction's initial sequence number. */
typedef struct conv_key {
    /* IPv4 addresses sit in the last 4 bytes (network order) with v6
     * false, so an IPv4 and an IPv6 conversation never share a key, as
     * tcpdump keeps them in two tables. */
    uint8_t addr_a[16], addr_b[16];
    uint16_t port_a, port_b;
    bool v6;
} conv_key;

typedef struct conv {
    conv_key key;
    uint32_t isn_a, isn_b;
    bool used;
} conv;

#define CONV_INITIAL_SLOTS 64u
/* Past this many slots the table is wiped instead of grown: a trace of a
 * huge run then numbers some segments absolutely again, exactly like a
 * tcpdump started in the middle of those connections, instead of growing
 * without bound. */
#define CONV_MAX_SLOTS (1u << 18)

struct sk_trace {
    unsigned flags;
    conv *slots;
    size_t nslots; /* power of two, or 0 before the first conversation */
    size_t count;
};

sk_trace *sk_trace_new(unsigned flags)
{
    sk_trace *t = calloc(1, sizeof(*t));
    if (t)
        t->flags = flags;
    return t;
}

void sk_trace_free(sk_trace *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

void sk_trace_reset(sk_trace *t)
{
    if (!t)
        return;
    free(t->slots);
    t->slots = NULL;
    t->nslots = 0;
    t->count = 0;
}

size_t sk_trace_conversations(const sk_trace *t)
{
    return t ? t->count : 0;
}

static uint64_t load_be64(const uint8_t *p)
{
    return (uint64_t)load_be32(p) << 32 | load_be32(p + 4);
}

static size_t conv_hash(const conv_key *k, size_t nslots)
{
    uint64_t h = (load_be64(k->addr_a) ^ load_be64(k->addr_a + 8) * 0xff51afd7ed558ccdull) * 0x9e3779b97f4a7c15ull;
    h ^= (load_be64(k->addr_b) ^ load_be64(k->addr_b + 8) * 0xc4ceb9fe1a85ec53ull) * 0xbf58476d1ce4e5b9ull;
    h ^= ((uint64_t)k->port_a << 16 | k->port_b | (uint64_t)k->v6 << 32) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 29;
    return (size_t)h & (nslots - 1);
}

static bool conv_key_equal(const conv_key *a, const conv_key *b)
{
    return !memcmp(a->addr_a, b->addr_a, 16) && !memcmp(a->addr_b, b->addr_b, 16) && a->port_a == b->port_a &&
           a->port_b == b->port_b && a->v6 == b->v6;
}

static conv *conv_find(sk_trace *t, const conv_key *k)
{
    if (t->nslots == 0)
        return NULL;
    for (size_t i = conv_hash(k, t->nslots);; i = (i + 1) & (t->nslots - 1)) {
        conv *c = &t->slots[i];
        if (!c->used)
            return NULL;
        if (conv_key_equal(&c->key, k))
            return c;
    }
}

static conv *conv_slot_for_insert(conv *slots, size_t nslots, const conv_key *k)
{
    size_t i = conv_hash(k, nslots);
    while (slots[i].used)
        i = (i + 1) & (nslots - 1);
    return &slots[i];
}

/* Makes room for one more conversation; on allocation failure or at the
 * size cap the memory is wiped, which only costs relative numbering. */
static bool conv_reserve(sk_trace *t)
{
    if (t->nslots != 0 && (t->count + 1) * 4 <= t->nslots * 3)
        return true;
    size_t want = t->nslots ? t->nslots * 2 : CONV_INITIAL_SLOTS;
    if (want > CONV_MAX_SLOTS) {
        memset(t->slots, 0, t->nslots * sizeof(*t->slots));
        t->count = 0;
        return true;
    }
    conv *fresh = calloc(want, sizeof(*fresh));
    if (!fresh) {
        if (t->nslots == 0)
            return false;
        memset(t->slots, 0, t->nslots * sizeof(*t->slots));
        t->count = 0;
        return true;
    }
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i].used)
            *conv_slot_for_insert(fresh, want, &t->slots[i].key) = t->slots[i];
    }
    free(t->slots);
    t->slots = fresh;
    t->nslots = want;
    return true;
}

/* The network-layer facts a TCP line needs: both addresses (16 bytes,
 * an IPv4 one in the last 4), the version, and, for IPv6, whether the
 * IPv6 header itself announced TCP: tcpdump's tcp_print prints only the
 * ports when extension headers came between (ip6_print has printed the
 * addresses already). */
typedef struct tcp_addrs {
    uint8_t src[16], dst[16];
    bool v6;
    bool ports_only;
    /* -v: the TCP checksum's verdict, when the segment is whole and not
     * a fragment (pseudo-header destination: the final one). */
    bool verbose;
    bool fragmented;
    const uint8_t *pseudo_dst;
} tcp_addrs;

static tcp_addrs tcp_addrs_v4(uint32_t src, uint32_t dst)
{
    tcp_addrs a = {0};
    for (int i = 0; i < 4; i++) {
        a.src[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        a.dst[12 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    return a;
}

/* What the conversation memory says about one segment. */
typedef struct seq_view {
    uint32_t seq, ack;     /* as printed */
    uint32_t isn_a, isn_b; /* for SACK blocks */
    bool reversed;
} seq_view;

/* tcpdump's rule: only segments with ACK consult the memory; an unknown
 * conversation, or any SYN+ACK, (re)records the initial numbers and is
 * printed absolute; otherwise both numbers are made relative. */
static seq_view relative_numbers(sk_trace *t, const tcp_addrs *a, uint16_t sport, uint16_t dport,
                                 uint32_t seq, uint32_t ack, uint16_t flags)
{
    seq_view v = {.seq = seq, .ack = ack};
    if (!t || (t->flags & SK_TRACE_ABSOLUTE_SEQ) || !(flags & SK_TH_ACK))
        return v;
    /* Addresses compare as bytes in network order, as tcpdump's memcmp. */
    bool rev = sport > dport || (sport == dport && memcmp(a->src, a->dst, 16) > 0);
    conv_key k = {.v6 = a->v6};
    memcpy(k.addr_a, rev ? a->dst : a->src, 16);
    memcpy(k.addr_b, rev ? a->src : a->dst, 16);
    k.port_a = rev ? dport : sport;
    k.port_b = rev ? sport : dport;
    conv *c = conv_find(t, &k);
    if (!c || (flags & SK_TH_SYN)) {
        if (!c) {
            if (!conv_reserve(t))
                return v;
            c = conv_slot_for_insert(t->slots, t->nslots, &k);
            c->key = k;
            c->used = true;
            t->count++;
        }
        if (rev) {
            c->isn_b = seq;
            c->isn_a = ack - 1;
        } else {
            c->isn_a = seq;
            c->isn_b = ack - 1;
        }
    } else if (rev) {
        v.seq = seq - c->isn_b;
        v.ack = ack - c->isn_a;
    } else {
        v.seq = seq - c->isn_a;
        v.ack = ack - c->isn_b;
    }
    v.isn_a = c->isn_a;
    v.isn_b = c->isn_b;
    v.reversed = rev;
    return v;
}

/* ------------------------------------------------------------------ */
/* Time and endpoints                                                    */
/* ------------------------------------------------------------------ */

static void line_time(line_out *o, sk_time_ns now)
{
    uint64_t secs = now / SK_NSEC_PER_SEC % 86400u;
    uint64_t usecs = now % SK_NSEC_PER_SEC / SK_NSEC_PER_USEC;
    line_printf(o, "%02u:%02u:%02u.%06u", (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
                (unsigned)(secs % 60), (unsigned)usecs);
}

size_t sk_trace_format_time(sk_time_ns now, char *buf, size_t cap)
{
    line_out o;
    line_init(&o, buf, cap);
    line_time(&o, now);
    return o.len;
}

static void line_endpoint(line_out *o, const sk_endpoint *ep)
{
    if (ep->family == SK_AF_INET6) {
        /* ss's form for IPv6: the address in brackets. */
        line_printf(o, "[");
        line_addr16(o, ep->addr6, true);
        line_printf(o, "]:%u", ep->port);
        return;
    }
    line_addr(o, ep->addr);
    line_printf(o, ":%u", ep->port);
}

/* ------------------------------------------------------------------ */
/* TCP options                                                           */
/* ------------------------------------------------------------------ */

/* Names tcpdump gives option kinds; others print as "unknown-N". */
static const char *tcp_option_name(unsigned kind)
{
    switch (kind) {
    case SK_TCPOPT_EOL: return "eol";
    case SK_TCPOPT_NOP: return "nop";
    case SK_TCPOPT_MSS: return "mss";
    case SK_TCPOPT_WSCALE: return "wscale";
    case SK_TCPOPT_SACK_PERM: return "sackOK";
    case SK_TCPOPT_SACK: return "sack";
    case 6: return "echo";      /* RFC 1072, obsolete */
    case 7: return "echoreply"; /* RFC 1072, obsolete */
    case SK_TCPOPT_TIMESTAMP: return "TS";
    case 19: return "md5";      /* RFC 2385 */
    case 28: return "uto";      /* RFC 5482 */
    case 29: return "tcp-ao";   /* RFC 5925 */
    case 30: return "mptcp";    /* RFC 8684 */
    case 34: return "tfo";      /* RFC 7413 */
    case 254: return "exp";     /* RFC 6994 */
    default: return NULL;
    }
}

typedef enum opt_walk { OPT_WALK_OK, OPT_WALK_BAD, OPT_WALK_TRUNCATED } opt_walk;

/* Prints ", options [...]" for the `opt_len` option bytes at tcp[20...],
 * with `tcp_avail` bytes of the segment actually present.  Returns how
 * the walk ended; when not OK the line is finished. */
static opt_walk line_tcp_options(line_out *o, const uint8_t *tcp, size_t tcp_avail, size_t opt_len,
                                 const seq_view *v)
{
    size_t pos = SK_TCP_HDR_MIN;
    size_t rem = opt_len; /* option bytes the header still claims */
    bool after_first = false;

    line_printf(o, ", options [");
    while (rem > 0) {
        if (after_first)
            line_printf(o, ",");
        if (pos >= tcp_avail)
            goto truncated;
        unsigned kind = tcp[pos++];
        unsigned len;
        if (kind == SK_TCPOPT_EOL || kind == SK_TCPOPT_NOP) {
            len = 1;
        } else {
            /* tcpdump reads the length byte even past the header end. */
            if (pos >= tcp_avail)
                goto truncated;
            len = tcp[pos++];
            if (len < 2 || len > rem)
                goto bad;
            rem--;
        }
        rem--;

        const char *name = tcp_option_name(kind);
        if (name)
            line_printf(o, "%s", name);
        else
            line_printf(o, "unknown-%u", kind);

/* tcpdump's check before reading l bytes of option data: beyond what
 * the header claims is a bad option, beyond the datagram a truncation. */
#define OPT_NEED(l)                                                                               \
    do {                                                                                          \
        if ((size_t)(l) > rem)                                                                    \
            goto bad;                                                                             \
        if (pos + (size_t)(l) > tcp_avail)                                                        \
            goto truncated;                                                                       \
    } while (0)

        size_t datalen = 0;
        switch (kind) {
        case SK_TCPOPT_EOL:
        case SK_TCPOPT_NOP:
        case SK_TCPOPT_SACK_PERM:
            break;
        case SK_TCPOPT_MSS:
            datalen = 2;
            OPT_NEED(datalen);
            line_printf(o, " %u", load_be16(tcp + pos));
            break;
        case SK_TCPOPT_WSCALE:
            datalen = 1;
            OPT_NEED(datalen);
            line_printf(o, " %u", tcp[pos]);
            break;
        case 6:
        case 7:
            datalen = 4;
            OPT_NEED(datalen);
            line_printf(o, " %u", load_be32(tcp + pos));
            break;
        case SK_TCPOPT_TIMESTAMP:
            datalen = 8;
            OPT_NEED(datalen);
            line_printf(o, " val %u ecr %u", load_be32(tcp + pos), load_be32(tcp + pos + 4));
            break;
        case SK_TCPOPT_SACK:
            datalen = len - 2;
            if (datalen % 8 != 0) {
                line_printf(o, " invalid sack");
                break;
            }
            line_printf(o, " %zu ", datalen / 8);
            for (size_t i = 0; i < datalen; i += 8) {
                OPT_NEED(i + 4);
                uint32_t start = load_be32(tcp + pos + i);
                OPT_NEED(i + 8);
                uint32_t end = load_be32(tcp + pos + i + 4);
                /* SACK blocks are in the peer's sequence space. */
                uint32_t base = v->reversed ? v->isn_a : v->isn_b;
                line_printf(o, "{%u:%u}", start - base, end - base);
            }
            break;
        case 34:
            datalen = len - 2;
            OPT_NEED(datalen);
            line_printf(o, " ");
            if (datalen == 0) {
                line_printf(o, " cookiereq");
            } else if (datalen % 2 != 0 || datalen < 4 || datalen > 16) {
                /* RFC 7413 §4.1.1: a cookie is 4 to 16 bytes, even. */
                line_printf(o, " (invalid)");
            } else {
                line_printf(o, " cookie ");
                for (size_t i = 0; i < datalen; i++)
                    line_printf(o, "%02x", tcp[pos + i]);
            }
            break;
        case 254:
            /* RFC 6994 experimental option: tcpdump names the magic,
             * and prints Fast Open's (0xF989) as its cookie. */
            datalen = len - 2;
            OPT_NEED(datalen);
            if (datalen < 2)
                goto bad;
            if (load_be16(tcp + pos) == SK_TCPOPT_FASTOPEN_MAGIC) {
                line_printf(o, "-tfo");
                if (datalen == 2) {
                    line_printf(o, " cookiereq");
                } else if ((datalen - 2) % 2 != 0 || datalen - 2 < 4 || datalen - 2 > 16) {
                    line_printf(o, " (invalid)");
                } else {
                    line_printf(o, " cookie ");
                    for (size_t i = 2; i < datalen; i++)
                        line_printf(o, "%02x", tcp[pos + i]);
                }
            } else {
                line_printf(o, "-%04x", load_be16(tcp + pos));
            }
            break;
        default:
            datalen = len - 2;
            if (datalen)
                line_printf(o, " 0x");
            for (size_t i = 0; i < datalen; i++) {
                OPT_NEED(i + 1);
                line_printf(o, "%02x", tcp[pos + i]);
            }
            break;
        }
#undef OPT_NEED
        pos += datalen;
        rem -= datalen;
        size_t expected = datalen + (kind == SK_TCPOPT_EOL || kind == SK_TCPOPT_NOP ? 1 : 2);
        if (expected != len)
            line_printf(o, "[len %u]", len);
        after_first = true;
        if (kind == SK_TCPOPT_EOL)
            break;
    }
    line_printf(o, "]");
    return OPT_WALK_OK;
bad:
    line_printf(o, "[bad opt]");
    if (after_first)
        line_printf(o, "]");
    return OPT_WALK_BAD;
truncated:
    line_printf(o, " [|tcp]");
    return OPT_WALK_TRUNCATED;
}

/* ------------------------------------------------------------------ */
/* HTTP's first line, as tcpdump's text-protocol printer shows it        */
/* ------------------------------------------------------------------ */

#define HTTP_TOKEN_MAX 128

static bool is_print(uint8_t c)
{
    return c >= 0x20 && c < 0x7f;
}

/* Methods tcpdump recognises (HTTP/1.1 and WebDAV, RFC 9110 / 4918 /
 * 3253 and related); the comparison ignores case. */
static const char *const http_methods[] = {
    "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE", "MKCOL",
    "TRACE", "LABEL", "MERGE", "DELETE", "SEARCH", "UNLOCK", "REPORT", "UPDATE", "NOTIFY",
    "BDELETE", "CONNECT", "OPTIONS", "CHECKIN", "PROPFIND", "CHECKOUT", "CCM_POST", "SUBSCRIBE",
    "PROPPATCH", "BPROPFIND", "BPROPPATCH", "UNCHECKOUT", "MKACTIVITY", "MKWORKSPACE",
    "UNSUBSCRIBE", "RPC_CONNECT", "VERSION-CONTROL", "BASELINE-CONTROL",
};

/* Reads one blank-separated printable token starting at idx into tok and
 * skips the blanks after it.  Returns the index after them, or 0 when
 * there is no usable token (binary data, too long, or bytes missing). */
static size_t http_token(const uint8_t *p, size_t avail, size_t declared, size_t idx, char *tok)
{
    size_t toklen = 0;
    for (; idx < declared; idx++) {
        if (idx >= avail)
            return 0;
        uint8_t c = p[idx];
        if (c >= 0x80)
            return 0;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            break;
        if (!is_print(c) || toklen + 2 > HTTP_TOKEN_MAX + 1)
            return 0;
        tok[toklen++] = (char)c;
    }
    if (toklen == 0)
        return 0;
    tok[toklen] = '\0';
    for (; idx < declared && idx < avail; idx++) {
        uint8_t c = p[idx];
        if (c == '\r' || c == '\n' || !is_print(c) || (c != ' ' && c != '\t'))
            break;
    }
    return idx;
}

static bool ascii_equal_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
        char cb = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
        if (ca != cb)
            return false;
    }
    return *a == *b;
}

static void line_http(line_out *o, const uint8_t *p, size_t avail, size_t declared, bool verbose)
{
    char tok[HTTP_TOKEN_MAX + 1];
    bool show = false;
    size_t idx = http_token(p, avail, declared, 0, tok);
    if (idx != 0) {
        for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
            if (ascii_equal_nocase(tok, http_methods[i]))
                show = true;
        }
        /* A response's status code is its second token. */
        idx = http_token(p, avail, declared, idx, tok);
        if (idx != 0 && tok[0] >= '0' && tok[0] <= '9' && tok[1] >= '0' && tok[1] <= '9' &&
            tok[2] >= '0' && tok[2] <= '9' && tok[3] == '\0')
            show = true;
    }
    line_printf(o, ": HTTP");
    if (!show)
        return;
    if (verbose) {
        /* tcpdump -v goes on with every text line on continuation lines;
         * a one-line formatter stops before them. */
        line_printf(o, ", length: %zu", declared);
        return;
    }
    for (size_t i = 0; i < declared; i++) {
        if (i >= avail) {
            line_printf(o, " [|http]");
            return;
        }
        uint8_t c = p[i];
        if (c == '\n') {
            line_printf(o, ": ");
            line_put_bytes(o, p, i);
            return;
        }
        if (c == '\r') {
            if (i + 1 >= declared)
                return;
            if (i + 1 >= avail) {
                line_printf(o, " [|http]");
                return;
            }
            if (p[i + 1] == '\n') {
                line_printf(o, ": ");
                line_put_bytes(o, p, i);
            }
            return; /* a bare CR makes it binary: nothing shown */
        }
        if (!is_print(c) && c != '\t')
            return;
    }
    /* Printable to the end with no line ending: shown as truncated. */
    line_printf(o, ": ");
    line_put_bytes(o, p, declared);
    line_printf(o, " [|http]");
}

/* ------------------------------------------------------------------ */
/* Datagrams                                                             */
/* ------------------------------------------------------------------ */

static const char tcp_flag_letters[8] = {'F', 'S', 'R', 'P', '.', 'U', 'E', 'W'};

static void line_tcp_common(line_out *o, sk_trace *t, const tcp_addrs *a, const uint8_t *tcp, size_t tcp_avail,
                            size_t tcp_len)
{
    if (tcp_avail < 4) {
        line_addr16(o, a->src, a->v6);
        line_printf(o, " > ");
        line_addr16(o, a->dst, a->v6);
        line_printf(o, ": [|tcp]");
        return;
    }
    uint16_t sport = load_be16(tcp), dport = load_be16(tcp + 2);
    if (a->ports_only) {
        line_printf(o, "%u > %u: ", sport, dport);
    } else {
        line_addr16(o, a->src, a->v6);
        line_printf(o, ".%u > ", sport);
        line_addr16(o, a->dst, a->v6);
        line_printf(o, ".%u: ", dport);
    }
    if (tcp_avail < SK_TCP_HDR_MIN) {
        line_printf(o, " [|tcp]");
        return;
    }
    size_t hlen = (size_t)(tcp[12] >> 4) * 4;
    if (hlen < SK_TCP_HDR_MIN) {
        line_printf(o, " tcp %zu [bad hdr length %zu - too short, < %d]", tcp_len - hlen, hlen,
                    SK_TCP_HDR_MIN);
        return;
    }
    uint32_t seq = load_be32(tcp + 4), ack = load_be32(tcp + 8);
    uint16_t win = load_be16(tcp + 14), urg = load_be16(tcp + 18);
    /* tcpdump shows the 8 classic flag bits only (not NS), in this order. */
    uint8_t flags = tcp[13];
    char letters[9];
    size_t nletters = 0;
    for (unsigned bit = 0; bit < 8; bit++) {
        if (flags & (1u << bit))
            letters[nletters++] = tcp_flag_letters[bit];
    }
    letters[nletters] = '\0';
    line_printf(o, "Flags [%s]", nletters ? letters : "none");

    /* tcpdump consults its memory before it checks the header length. */
    seq_view v = relative_numbers(t, a, sport, dport, seq, ack, flags);
    if (hlen > tcp_len) {
        line_printf(o, " [bad hdr length %zu - too long, > %zu]", hlen, tcp_len);
        return;
    }
    if (a->verbose && a->v6 && !a->fragmented && tcp_avail >= tcp_len) {
        /* tcpdump -v: the field, then its verdict; when wrong, the value
         * that would have been right (in_cksum_shouldbe). */
        uint16_t field = load_be16(tcp + 16);
        uint16_t rest = sk_tcp_checksum6(a->src, a->pseudo_dst ? a->pseudo_dst : a->dst, tcp, tcp_len);
        line_printf(o, ", cksum 0x%04x", field);
        if (rest != 0) {
            uint32_t should = (uint32_t)field + rest;
            should = (should & 0xffff) + (should >> 16);
            should = (should & 0xffff) + (should >> 16);
            line_printf(o, " (incorrect -> 0x%04x)", should);
        } else {
            line_printf(o, " (correct)");
        }
    }
    size_t payload_len = tcp_len - hlen;
    if (payload_len > 0 || (flags & (SK_TH_SYN | SK_TH_FIN | SK_TH_RST))) {
        line_printf(o, ", seq %u", v.seq);
        if (payload_len > 0)
            line_printf(o, ":%u", (uint32_t)(v.seq + payload_len));
    }
    if (flags & SK_TH_ACK)
        line_printf(o, ", ack %u", v.ack);
    line_printf(o, ", win %u", win);
    if (flags & SK_TH_URG)
        line_printf(o, ", urg %u", urg);
    if (hlen > SK_TCP_HDR_MIN &&
        line_tcp_options(o, tcp, tcp_avail, hlen - SK_TCP_HDR_MIN, &v) != OPT_WALK_OK)
        return;
    line_printf(o, ", length %zu", payload_len);
    if (payload_len > 0 && (sport == 80 || dport == 80 || sport == 8080 || dport == 8080)) {
        size_t avail = tcp_avail > hlen ? tcp_avail - hlen : 0;
        line_http(o, tcp + hlen, avail < payload_len ? avail : payload_len, payload_len, a->verbose && a->v6);
    }
}

/* ICMP as tcpdump's print-icmp.c words it: echo identifiers and
 * sequence numbers, the quoted destination (and port, for TCP) of an
 * unreachable, the next-hop MTU of a fragmentation-needed; then the ICMP
 * length. */
static void line_icmp(line_out *o, uint32_t src, uint32_t dst, const uint8_t *p, size_t avail, size_t icmp_len)
{
    line_addr(o, src);
    line_printf(o, " > ");
    line_addr(o, dst);
    line_printf(o, ": ");
    if (avail < 4) {
        line_printf(o, "[|icmp]");
        return;
    }
    unsigned type = p[0], code = p[1];
    const uint8_t *q = p + 8; /* a quoted datagram, for errors */
    size_t qn = avail > 8 ? avail - 8 : 0;
    bool quoted = qn >= 20 && (q[0] >> 4) == 4;
    uint32_t qdst = quoted ? load_be32(q + 16) : 0;
    size_t qihl = quoted ? (size_t)(q[0] & 0x0f) * 4 : 0;
    switch (type) {
    case 0:
    case 8:
        if (avail < 8) {
            line_printf(o, "ICMP echo %s [|icmp]", type ? "request" : "reply");
            return;
        }
        line_printf(o, "ICMP echo %s, id %u, seq %u", type ? "request" : "reply", load_be16(p + 4),
                    load_be16(p + 6));
        break;
    case 3:
        if (!quoted) {
            line_printf(o, "ICMP unreachable [|icmp]");
            return;
        }
        switch (code) {
        case 0:
            line_printf(o, "ICMP net ");
            line_addr(o, qdst);
            line_printf(o, " unreachable");
            break;
        case 1:
            line_printf(o, "ICMP host ");
            line_addr(o, qdst);
            line_printf(o, " unreachable");
            break;
        case 2:
            line_printf(o, "ICMP ");
            line_addr(o, qdst);
            line_printf(o, " protocol %u unreachable", q[9]);
            break;
        case 3:
            line_printf(o, "ICMP ");
            line_addr(o, qdst);
            if (q[9] == 6 && qn >= qihl + 4)
                line_printf(o, " tcp port %u unreachable", load_be16(q + qihl + 2));
            else
                line_printf(o, " protocol %u port unreachable", q[9]);
            break;
        case 4:
            line_printf(o, "ICMP ");
            line_addr(o, qdst);
            if (avail >= 8 && load_be16(p + 6))
                line_printf(o, " unreachable - need to frag (mtu %u)", load_be16(p + 6));
            else
                line_printf(o, " unreachable - need to frag");
            break;
        default:
            line_printf(o, "ICMP ");
            line_addr(o, qdst);
            line_printf(o, " unreachable - #%u", code);
            break;
        }
        break;
    case 4:
        line_printf(o, "ICMP source quench");
        break;
    case 11:
        line_printf(o, "ICMP time exceeded %s", code == 0 ? "in-transit" : code == 1 ? "in-reassembly" : "#?");
        break;
    case 12:
        /* The pointer is the fifth byte (RFC 792); a truncated message
         * is marked as tcpdump marks one, never read past. */
        if (avail < 5) {
            line_printf(o, "ICMP parameter problem [|icmp]");
            return;
        }
        line_printf(o, "ICMP parameter problem - octet %u", p[4]);
        break;
    case 5:
        line_printf(o, "ICMP redirect");
        break;
    default:
        line_printf(o, "ICMP type-#%u", type);
        break;
    }
    line_printf(o, ", length %zu", icmp_len);
}

static void line_tcp(line_out *o, sk_trace *t, uint32_t src, uint32_t dst, const uint8_t *tcp,
                     size_t tcp_avail, size_t tcp_len)
{
    tcp_addrs a = tcp_addrs_v4(src, dst);
    line_tcp_common(o, t, &a, tcp, tcp_avail, tcp_len);
}

static void line_datagram6(line_out *o, sk_trace *t, const uint8_t *d, size_t len);

static void line_datagram(line_out *o, sk_trace *t, const uint8_t *d, size_t len)
{
    if (len > 0 && (d[0] >> 4) == 6) {
        line_datagram6(o, t, d, len);
        return;
    }
    if (len > 0 && (d[0] >> 4) != 4) {
        line_printf(o, "unknown ip %u", d[0] >> 4);
        return;
    }
    if (len < SK_IP_HDR_MIN) {
        line_printf(o, "IP  [|ip]");
        return;
    }
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    if (ihl < SK_IP_HDR_MIN) {
        line_printf(o, "IP bad-hlen %zu", ihl);
        return;
    }
    size_t ip_len = load_be16(d + 2);
    if (ip_len < ihl) {
        line_printf(o, "IP bad-len %zu", ip_len);
        return;
    }
    line_printf(o, "IP ");
    /* Bytes after the IP total length are link padding: ignore them. */
    size_t avail = len < ip_len ? len : ip_len;
    if (len < ip_len)
        line_printf(o, "truncated-ip - %zu bytes missing! ", ip_len - len);
    if (avail < ihl) {
        line_printf(o, " [|ip]");
        return;
    }
    uint32_t src = load_be32(d + 12), dst = load_be32(d + 16);
    unsigned proto = d[9];
    if (load_be16(d + 6) & 0x1fff) {
        /* A later fragment has no transport header to show. */
        line_addr(o, src);
        line_printf(o, " > ");
        line_addr(o, dst);
        line_printf(o, ": ip-proto-%u", proto);
        return;
    }
    if (proto == 1) {
        line_icmp(o, src, dst, d + ihl, avail - ihl, ip_len - ihl);
        return;
    }
    if (proto != 6) {
        line_addr(o, src);
        line_printf(o, " > ");
        line_addr(o, dst);
        line_printf(o, ":  ip-proto-%u %zu", proto, ip_len - ihl);
        return;
    }
    line_tcp(o, t, src, dst, d + ihl, avail - ihl, ip_len - ihl);
}

/* tcpdump's names for protocol numbers (ipproto_values), for -v's
 * "next-header". */
static const char *ipproto_name(unsigned p)
{
    switch (p) {
    case 0: return "Options";
    case 1: return "ICMP";
    case 2: return "IGMP";
    case 4: return "IPIP";
    case 6: return "TCP";
    case 8: return "EGP";
    case 9: return "IGRP";
    case 17: return "UDP";
    case 33: return "DCCP";
    case 41: return "IPv6";
    case 43: return "Routing";
    case 44: return "Fragment";
    case 46: return "RSVP";
    case 47: return "GRE";
    case 50: return "ESP";
    case 51: return "AH";
    case 55: return "Mobile IP";
    case 58: return "ICMPv6";
    case 62: return "Mobile IP (old)";
    case 88: return "EIGRP";
    case 89: return "OSPF";
    case 103: return "PIM";
    case 108: return "Compressed IP";
    case 112: return "VRRP";
    case 113: return "PGM";
    case 132: return "SCTP";
    case 135: return "Mobility";
    case 240: return "pfsync";
    default: return "unknown";
    }
}

/* -v: the options of a hop-by-hop or destination options header as
 * tcpdump's ip6_opt_print lists them. */
static void line_ip6_options(line_out *o, const uint8_t *p, size_t len, bool hbh, size_t plen)
{
    if (len == 0)
        return;
    size_t optlen = 0;
    for (size_t i = 0; i < len; i += optlen) {
        if (p[i] == 0) {
            optlen = 1;
        } else {
            if (i + 1 >= len)
                goto trunc;
            optlen = (size_t)p[i + 1] + 2;
        }
        if (i + optlen > len)
            goto trunc;
        switch (p[i]) {
        case 0x00:
            line_printf(o, "(pad1)");
            break;
        case 0x01:
            line_printf(o, "(padn)");
            break;
        case 0x05: /* router alert, RFC 2711 */
            if (p[i + 1] != 2) {
                line_printf(o, "(rtalert: invalid len %u)", p[i + 1]);
                goto trunc;
            }
            line_printf(o, "(rtalert: 0x%04x) ", load_be16(p + i + 2));
            break;
        case 0xc2: /* jumbo payload, RFC 2675 */
            if (p[i + 1] != 4) {
                line_printf(o, "(jumbo: invalid len %u)", p[i + 1]);
                goto trunc;
            }
            /* RFC 2675 §3: only in hop-by-hop, with a zero payload
             * length, and for 65536 bytes or more. */
            if (!hbh)
                line_printf(o, "(jumbo: %u - not a hop-by-hop option) ", load_be32(p + i + 2));
            else if (plen != 0)
                line_printf(o, "(jumbo: %u - payload len != 0) ", load_be32(p + i + 2));
            else if (load_be32(p + i + 2) < 65536)
                line_printf(o, "(jumbo: %u - < 65536) ", load_be32(p + i + 2));
            else
                line_printf(o, "(jumbo: %u) ", load_be32(p + i + 2));
            break;
        default:
            line_printf(o, "(opt_type 0x%02x: len=%u)", p[i], p[i + 1]);
            break;
        }
    }
    line_printf(o, " ");
    return;
trunc:
    line_printf(o, "[trunc] ");
}

/* ------------------------------------------------------------------ */
/* ICMPv6, as tcpdump's icmp6_print shows the common messages           */
/* ------------------------------------------------------------------ */

static const char *icmp6_type_name(unsigned type)
{
    switch (type) {
    case 1: return "destination unreachable";
    case 2: return "packet too big";
    case 3: return "time exceeded in-transit";
    case 4: return "parameter problem";
    case 128: return "echo request";
    case 129: return "echo reply";
    case 130: return "multicast listener query";
    case 131: return "multicast listener report";
    case 132: return "multicast listener done";
    case 133: return "router solicitation";
    case 134: return "router advertisement";
    case 135: return "neighbor solicitation";
    case 136: return "neighbor advertisement";
    case 137: return "redirect";
    case 138: return "router renumbering";
    case 139: return "who-are-you request"; /* tcpdump's table names 139/140 so */
    case 140: return "who-are-you reply";
    case 141: return "inverse neighbor solicitation";
    case 142: return "inverse neighbor advertisement";
    case 143: return "multicast listener report v2";
    case 144: return "ha discovery request";
    case 145: return "ha discovery reply";
    case 146: return "mobile router solicitation";
    case 147: return "mobile router advertisement";
    case 155: return "RPL";
    case 200: return "mtrace response";
    case 201: return "mtrace message";
    default: return NULL;
    }
}

/* The upper-layer header of the datagram an ICMPv6 error quotes, after
 * the extension headers tcpdump's get_upperlayer walks: its offset in
 * `q` (the quoted datagram, `n` bytes), or 0 when it is not there. */
static size_t quoted_upper_layer(const uint8_t *q, size_t n, unsigned *proto)
{
    if (n < 7)
        return 0;
    unsigned nh = q[6];
    size_t at = SK_IP6_HDR_LEN;
    while (at < n) {
        switch (nh) {
        case 6:
        case 17:
            *proto = nh;
            return at + 4 <= n ? at : 0;
        case 0:
        case 60:
        case 43:
            if (at + 2 > n)
                return 0;
            nh = q[at];
            at += ((size_t)q[at + 1] + 1) * 8;
            break;
        case 44:
            if (at + 4 > n || (load_be16(q + at + 2) & 0xfff8u) != 0)
                return 0;
            nh = q[at];
            at += 8;
            break;
        case 51:
            if (at + 2 > n)
                return 0;
            nh = q[at];
            at += ((size_t)q[at + 1] + 2) * 4;
            break;
        default:
            return 0;
        }
    }
    return 0;
}

/* One ICMPv6 message `p` of `len` bytes (`avail` captured).  With -v the
 * checksum's verdict comes first and the length is left out; what -v
 * adds on continuation lines (ND options, RA fields, hex of unknown
 * messages) is not printed. */
static void line_icmp6(line_out *o, const uint8_t *ip6, const uint8_t *pseudo_dst, const uint8_t *p, size_t avail,
                       size_t len, bool verbose, bool fragmented)
{
    if (len == 0) {
        line_printf(o, "ICMP6, length 0 (invalid)");
        return;
    }
    if (verbose && !fragmented && avail >= len) {
        uint8_t ph[40];
        memcpy(ph, ip6 + 8, 16);
        memcpy(ph + 16, pseudo_dst, 16);
        ph[32] = (uint8_t)(len >> 24);
        ph[33] = (uint8_t)(len >> 16);
        ph[34] = (uint8_t)(len >> 8);
        ph[35] = (uint8_t)len;
        ph[36] = ph[37] = ph[38] = 0;
        ph[39] = 58;
        /* Two sums of even-length buffers add up as one. */
        uint16_t rest = sk_csum_fold(sk_csum_partial(p, len, sk_csum_partial(ph, sizeof(ph), 0)));
        uint16_t field = avail >= 4 ? load_be16(p + 2) : 0;
        if (rest != 0) {
            uint32_t should = (uint32_t)field + rest;
            should = (should & 0xffff) + (should >> 16);
            should = (should & 0xffff) + (should >> 16);
            line_printf(o, "[bad icmp6 cksum 0x%04x -> 0x%04x!] ", field, should);
        } else {
            line_printf(o, "[icmp6 sum ok] ");
        }
    }
    if (avail < 1)
        goto trunc;
    unsigned type = p[0];
    const char *name = icmp6_type_name(type);
    if (name)
        line_printf(o, "ICMP6, %s", name);
    else
        line_printf(o, "ICMP6, unknown icmp6 type (%u)", type);
    if (verbose && (type == 133 || type == 134 || type == 135 || type == 136 || type == 137 || type == 145 ||
                    type == 147))
        line_printf(o, ", length %zu", len);
    if (avail < 2)
        goto trunc;
    unsigned code = p[1];
    const uint8_t *q = p + 8; /* the quoted datagram of an error */
    size_t qn = avail > 8 ? avail - 8 : 0;
    switch (type) {
    case 1: {
        static const char *const codes[] = {"unreachable route", " unreachable prohibited", "beyond scope",
                                             "unreachable address", "unreachable port"};
        if (code < 5)
            line_printf(o, ", %s", codes[code]);
        else
            line_printf(o, ", unknown unreach code (%u)", code);
        if (code == 0 || code == 1 || code == 3) {
            if (qn < 40)
                goto trunc;
            line_printf(o, " ");
            line_addr16(o, q + 24, true);
        } else if (code == 2) {
            if (qn < 40)
                goto trunc;
            line_printf(o, " ");
            line_addr16(o, q + 24, true);
            line_printf(o, ", source address ");
            line_addr16(o, q + 8, true);
        } else if (code == 4) {
            unsigned proto = 0;
            size_t at = quoted_upper_layer(q, qn, &proto);
            if (at == 0 || qn < 40)
                goto trunc;
            line_printf(o, ", ");
            line_addr16(o, q + 24, true);
            line_printf(o, " %s port %u", proto == 6 ? "tcp" : "udp", load_be16(q + at + 2));
        } else {
            /* tcpdump goes on with a hex dump on continuation lines. */
            return;
        }
        break;
    }
    case 2:
        if (avail < 8)
            goto trunc;
        line_printf(o, ", mtu %u", load_be32(p + 4));
        break;
    case 3:
        if (code == 0) {
            if (qn < 40)
                goto trunc;
            line_printf(o, " for ");
            line_addr16(o, q + 24, true);
        } else if (code == 1) {
            line_printf(o, " (reassembly)");
        } else {
            line_printf(o, ", unknown code (%u)", code);
        }
        break;
    case 4: {
        if (qn < 40 || avail < 8)
            goto trunc;
        static const char *const codes[] = {"erroneous", "next header", "option", "incomplete header chain"};
        if (code < 4)
            line_printf(o, ", %s - octet %u", codes[code], load_be32(p + 4));
        else
            line_printf(o, ", code-#%u", code);
        break;
    }
    case 128:
    case 129:
        if (avail < 8)
            goto trunc;
        line_printf(o, ", id %u, seq %u", load_be16(p + 4), load_be16(p + 6));
        break;
    case 135:
    case 136:
        if (avail < 24)
            goto trunc;
        line_printf(o, type == 135 ? ", who has " : ", tgt is ");
        line_addr16(o, p + 8, true);
        if (verbose && type == 136) {
            uint32_t f = load_be32(p + 4);
            static const char *const names[] = {"router", "solicited", "override"};
            line_printf(o, ", Flags [");
            bool any = false;
            for (int i = 0; i < 3; i++) {
                if (f & (0x80000000u >> i)) {
                    line_printf(o, "%s%s", any ? ", " : "", names[i]);
                    any = true;
                }
            }
            line_printf(o, "%s]", any ? "" : "none");
        }
        break;
    case 137:
        if (avail < 40)
            goto trunc;
        line_printf(o, ", ");
        line_addr16(o, p + 24, true);
        line_printf(o, " to ");
        line_addr16(o, p + 8, true);
        break;
    case 143: {
        if (len < 8) {
            line_printf(o, " [invalid len %zu]", len);
            return;
        }
        if (avail < 8)
            goto trunc;
        unsigned groups = load_be16(p + 6);
        line_printf(o, ", %u group record(s)", groups);
        if (verbose) {
            static const char *const kinds[] = {"is_in", "is_ex", "to_in", "to_ex", "allow", "block"};
            size_t at = 8;
            for (unsigned i = 0; i < groups; i++) {
                if (len < at + 20) {
                    line_printf(o, " [invalid number of groups]");
                    return;
                }
                if (avail < at + 20)
                    goto trunc;
                line_printf(o, " [gaddr ");
                line_addr16(o, p + at + 4, true);
                unsigned kind = p[at];
                if (kind >= 1 && kind <= 6)
                    line_printf(o, " %s", kinds[kind - 1]);
                else
                    line_printf(o, "  [v2-report-#%u]", kind);
                unsigned nsrcs = load_be16(p + at + 2);
                if (len < at + 20 + (size_t)nsrcs * 16) {
                    line_printf(o, " [invalid number of sources %u]", nsrcs);
                    return;
                }
                line_printf(o, ", %u source(s)]", nsrcs);
                at += 20 + (size_t)nsrcs * 16;
            }
        }
        break;
    }
    case 130:
    case 131:
    case 132:
    case 133:
    case 134:
        /* MLDv1 and MLD queries, router solicitations and advertisements:
         * nothing more without -v (what -v adds is on continuation lines,
         * or, for MLD, not reproduced). */
        break;
    default:
        line_printf(o, ", length %zu", len);
        return;
    }
    if (!verbose)
        line_printf(o, ", length %zu", len);
    return;
trunc:
    line_printf(o, " [|icmp6]");
}

/* One IPv6 datagram as tcpdump's ip6_print shows it: "IP6 ", with -v the
 * header's fields, then each extension header it walks (HBH, DSTOPT,
 * frag, RT6) and the upper layer: TCP, and ICMPv6's common messages;
 * other protocols print as "ip-proto-N LEN" as for IPv4. */
static void line_datagram6(line_out *o, sk_trace *t, const uint8_t *d, size_t len)
{
    bool verbose = t && (t->flags & SK_TRACE_VERBOSE);
    if (len < SK_IP6_HDR_LEN) {
        line_printf(o, " [|ip6]");
        return;
    }
    line_printf(o, "IP6 ");
    size_t plen = load_be16(d + 4);
    size_t total;
    if (plen != 0) {
        total = plen + SK_IP6_HDR_LEN;
        if (len < total)
            line_printf(o, "truncated-ip6 - %zu bytes missing!", total - len);
    } else {
        /* tcpdump's stand-in length while it looks for a jumbo option. */
        total = len + SK_IP6_HDR_LEN;
    }
    unsigned nh = d[6];
    if (verbose) {
        uint32_t flow = load_be32(d);
        line_printf(o, "(");
        if (flow & 0x0ff00000u)
            line_printf(o, "class 0x%02x, ", (unsigned)((flow & 0x0ff00000u) >> 20));
        if (flow & 0x000fffffu)
            line_printf(o, "flowlabel 0x%05x, ", (unsigned)(flow & 0x000fffffu));
        line_printf(o, "hlim %u, next-header %s (%u) payload length: %zu) ", d[7], ipproto_name(nh), nh, plen);
    }
    size_t avail = len < total ? len : total; /* the snapshot end */
    tcp_addrs a = {.v6 = true, .verbose = verbose, .ports_only = nh != 6};
    memcpy(a.src, d + 8, 16);
    memcpy(a.dst, d + 24, 16);
    size_t cp = 0, adv = SK_IP6_HDR_LEN, remain = total;
    bool found_ext = false, seen_routing = false;
    const char *trunc_proto = "ip6";
    while (cp < avail && adv > 0) {
        if (remain < adv)
            goto trunc;
        cp += adv;
        remain -= adv;
        if (cp == SK_IP6_HDR_LEN && nh != 6 && nh != 17 && nh != 33 && nh != 132) {
            line_addr16(o, a.src, true);
            line_printf(o, " > ");
            line_addr16(o, a.dst, true);
            line_printf(o, ": ");
        }
        switch (nh) {
        case 0:   /* hop-by-hop options */
        case 60: { /* destination options */
            trunc_proto = nh == 0 ? "hbhopt" : "dstopt";
            if (cp + 2 > avail)
                goto trunc;
            size_t hl = ((size_t)d[cp + 1] + 1) * 8;
            if (cp + hl > avail)
                goto trunc;
            line_printf(o, nh == 0 ? "HBH " : "DSTOPT ");
            if (verbose)
                line_ip6_options(o, d + cp + 2, hl - 2, nh == 0, plen);
            found_ext = true;
            nh = d[cp];
            adv = hl;
            trunc_proto = "ip6";
            break;
        }
        case 44: { /* fragment */
            if (cp + 4 > avail) {
                trunc_proto = "frag6";
                goto trunc;
            }
            unsigned off = load_be16(d + cp + 2) & 0xfff8u;
            size_t fraglen = SK_IP6_HDR_LEN + plen - cp - 8;
            if (verbose) {
                if (cp + 8 > avail) {
                    trunc_proto = "frag6";
                    goto trunc;
                }
                line_printf(o, "frag (0x%08x:%u|%zu)", load_be32(d + cp + 4), off, fraglen);
            } else {
                line_printf(o, "frag (%u|%zu)", off, fraglen);
            }
            /* A later fragment has no upper-layer header to show. */
            if (off != 0)
                return;
            line_printf(o, " ");
            if (avail <= cp + 8)
                return;
            found_ext = true;
            a.fragmented = true;
            nh = d[cp];
            adv = 8;
            break;
        }
        case 43: { /* routing: tcpdump's rt6_print */
            trunc_proto = "rt6";
            if (cp + 4 > avail)
                goto trunc;
            unsigned rlen = d[cp + 1], type = d[cp + 2];
            line_printf(o, "RT6 (len=%u, type=%u%s, segleft=%u", rlen, type, type == 0 ? " [Deprecated]" : "",
                        d[cp + 3]);
            const uint8_t *final = NULL;
            if (type == 0 || type == 2) {
                if (cp + 8 > avail)
                    goto trunc;
                uint32_t rsv = load_be32(d + cp + 4);
                if (rsv || verbose)
                    line_printf(o, ", rsv=0x%x", rsv);
                if (rlen % 2 == 1) {
                    line_printf(o, " (invalid)");
                    return;
                }
                for (unsigned i = 0; i < rlen / 2; i++) {
                    size_t at = cp + 8 + (size_t)i * 16;
                    if (at + 16 > avail)
                        goto trunc;
                    line_printf(o, ", [%u]", i);
                    line_addr16(o, d + at, true);
                    final = d + at; /* the last address is the final one */
                }
            } else if (type == 4) {
                /* Segment routing (RFC 8754): segments in reverse order,
                 * the final destination first. */
                if (cp + 8 > avail)
                    goto trunc;
                unsigned last = d[cp + 4], srh_flags = d[cp + 5];
                line_printf(o, ", last-entry=%u", last);
                if (srh_flags || verbose)
                    line_printf(o, ", flags=0x%x", srh_flags);
                line_printf(o, ", tag=%x", load_be16(d + cp + 6));
                for (unsigned i = 0; i <= last; i++) {
                    size_t at = cp + 8 + (size_t)i * 16;
                    if (at + 16 > avail)
                        goto trunc;
                    line_printf(o, ", [%u]", i);
                    line_addr16(o, d + at, true);
                    if (i == 0)
                        final = d + at;
                }
            } else {
                line_printf(o, " (unknown type) (invalid)");
                return;
            }
            line_printf(o, ") ");
            /* The TCP checksum covers the final destination (RFC 8200
             * §8.1); tcpdump reads it from the first routing header. */
            if (final && !seen_routing)
                a.pseudo_dst = final;
            seen_routing = true;
            found_ext = true;
            nh = d[cp];
            adv = ((size_t)rlen + 1) * 8;
            trunc_proto = "ip6";
            break;
        }
        default:
            if (plen == 0) {
                /* No jumbo option was found: a header with no payload
                 * cannot hold an extension header. */
                if (found_ext)
                    goto trunc;
                remain = 0;
                avail = cp;
            }
            if (nh == 6) {
                line_tcp_common(o, t, &a, d + cp, avail > cp ? avail - cp : 0, remain);
            } else if (nh == 58) {
                line_icmp6(o, d, a.pseudo_dst ? a.pseudo_dst : d + 24, d + cp, avail > cp ? avail - cp : 0, remain,
                           verbose, a.fragmented);
            } else if (nh == 59) {
                line_printf(o, "no next header");
            } else {
                /* UDP, DCCP and SCTP print their own addresses in tcpdump;
                 * undecoded here, they get the plain pair. */
                if (cp == SK_IP6_HDR_LEN && (nh == 17 || nh == 33 || nh == 132)) {
                    line_addr16(o, a.src, true);
                    line_printf(o, " > ");
                    line_addr16(o, a.dst, true);
                    line_printf(o, ": ");
                }
                line_printf(o, " ip-proto-%u %zu", nh, remain);
            }
            return;
        }
    }
    return;
trunc:
    line_printf(o, " [|%s]", trunc_proto);
}

size_t sk_trace_format_datagram(sk_trace *t, sk_time_ns now, const uint8_t *datagram, size_t len,
                                char *buf, size_t cap)
{
    line_out o;
    line_init(&o, buf, cap);
    line_time(&o, now);
    line_printf(&o, " ");
    if (!datagram)
        len = 0;
    line_datagram(&o, t, datagram, len);
    return o.len;
}

/* ------------------------------------------------------------------ */
/* Events                                                                */
/* ------------------------------------------------------------------ */

static const char *state_name_or_closed(int state)
{
    /* 0 stands for "no connection yet" (sk_event.from_state). */
    if (state == 0)
        return "CLOSED";
    const char *name = sk_state_name(state);
    return name ? name : "?";
}

static bool endpoint_set(const sk_endpoint *ep)
{
    static const uint8_t zero6[16];
    return ep->addr != 0 || ep->port != 0 || (ep->family == SK_AF_INET6 && memcmp(ep->addr6, zero6, 16) != 0);
}

size_t sk_trace_format_event(sk_trace *t, const sk_event *ev, char *buf, size_t cap)
{
    line_out o;
    line_init(&o, buf, cap);
    if (!ev)
        return 0;
    if ((ev->type == SK_EV_SEGMENT_OUT || ev->type == SK_EV_SEGMENT_IN) && ev->iov && ev->iovcnt) {
        /* Sent through transmitv or taken by sk_inputv: gather the pieces, so the line shows the
         * payload (and its dump) as for a contiguous datagram. */
        size_t total = 0;
        for (size_t i = 0; i < ev->iovcnt; i++)
            total += ev->iov[i].len;
        uint8_t *whole = malloc(total ? total : 1);
        if (!whole)
            return sk_trace_format_datagram(t, ev->now, ev->data, ev->len, buf, cap);
        size_t off = 0;
        for (size_t i = 0; i < ev->iovcnt; i++) {
            memcpy(whole + off, ev->iov[i].base, ev->iov[i].len);
            off += ev->iov[i].len;
        }
        size_t n = sk_trace_format_datagram(t, ev->now, whole, total, buf, cap);
        free(whole);
        return n;
    }
    if (ev->type == SK_EV_SEGMENT_IN || ev->type == SK_EV_SEGMENT_OUT)
        return sk_trace_format_datagram(t, ev->now, ev->data, ev->data ? ev->len : 0, buf, cap);

    sk_endpoint local, remote;
    sk_event_endpoints(ev, &local, &remote);
    line_time(&o, ev->now);
    line_printf(&o, " ");
    line_endpoint(&o, &local);
    switch (ev->type) {
    case SK_EV_STATE:
        line_printf(&o, " %s -> %s", state_name_or_closed(ev->from_state),
                    state_name_or_closed(ev->to_state));
        if (ev->cause && ev->cause[0])
            line_printf(&o, " (%s)", ev->cause);
        break;
    case SK_EV_DROP:
        line_printf(&o, " drop %s", ev->reason && ev->reason[0] ? ev->reason : "unknown");
        if (endpoint_set(&remote)) {
            line_printf(&o, " from ");
            line_endpoint(&o, &remote);
        }
        break;
    case SK_EV_TIMER:
        line_printf(&o, " timer %s", ev->timer && ev->timer[0] ? ev->timer : "unknown");
        break;
    case SK_EV_READY:
        line_printf(&o, " ready fd %d", ev->fd);
        break;
    case SK_EV_MESSAGE:
        line_printf(&o, " message: %s", ev->message ? ev->message : "");
        break;
    default:
        line_printf(&o, " event %d", (int)ev->type);
        break;
    }
    return o.len;
}
