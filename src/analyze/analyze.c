/*
 * Capture analysis: decoding, connection reconstruction, findings.
 * See analyze.h for the model and its limits.
 */
#include "analyze/analyze.h"

#include <arpa/inet.h>

#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000LL
/* Linux's TCP_TIMEWAIT_LEN: a 4-tuple stays known for 60 s after close. */
#define TIMEWAIT_NS (60LL * NS_PER_S)
/* tcp_syn_retries=6: a connect() gives up after about 127 s. */
#define HALFOPEN_NS (130LL * NS_PER_S)
/* tcp_keepalive_time: an idle connection is probed after 2 h. */
#define IDLE_NS (7200LL * NS_PER_S)

enum { LIST_CLOSED, LIST_HALF, LIST_OPEN, NLISTS };

typedef struct short_tally {
    ska_addr server;
    uint64_t count;
    uint64_t first_conn;
    int64_t total_ns;
    bool used;
} short_tally;
#define SHORT_SLOTS 4096

struct ska {
    ska_options o;
    ska_conn **buckets;
    size_t nbuckets, nlive;
    ska_conn *head[NLISTS], *tail[NLISTS];
    uint64_t next_id;
    uint64_t pktno;
    int64_t now;
    ska_totals tot;
    ska_finding f[SKA_NFINDINGS];
    short_tally *shorts;
    uint64_t icmp_ptb, icmp_ptb_unmatched, icmp_ptb_first_pkt;
    uint32_t icmp_ptb_mtu;
    int64_t icmp_ptb_first_time;
    bool finished;
};

static const char *const fid_names[SKA_NFINDINGS] = {
    "syn-refused",          "syn-unanswered",         "syn-retransmitted", "synack-retransmitted",
    "close-wait-suspected", "time-wait",              "rst-abort",         "rst-middlebox-suspected",
    "zero-window",          "retransmissions",        "many-short-connections", "mtu-blackhole-suspected",
};

const char *ska_state_name(ska_state s)
{
    static const char *const n[SKA_NSTATES] = {
        "UNKNOWN", "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECV", "ESTAB",
        "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
    };
    return (unsigned)s < SKA_NSTATES ? n[s] : "?";
}

const char *ska_severity_name(ska_severity s)
{
    return s == SKA_CRITICAL ? "critical" : s == SKA_WARNING ? "warning" : "info";
}

size_t ska_format_addr(const ska_addr *a, char *buf, size_t cap)
{
    char ip[64];
    if (a->family == 6) {
        /* RFC 5952 as inet_ntop writes it, as ss and tcpdump print:
         * v4-mapped and v4-compatible addresses end in a dotted quad. */
        if (!inet_ntop(AF_INET6, a->a, ip, sizeof ip))
            snprintf(ip, sizeof ip, "?");
        return (size_t)snprintf(buf, cap, "[%s]:%u", ip, a->port);
    }
    return (size_t)snprintf(buf, cap, "%u.%u.%u.%u:%u", a->a[0], a->a[1], a->a[2], a->a[3], a->port);
}

size_t ska_format_time(int64_t t, char *buf, size_t cap)
{
    if (t < 0)
        t = 0;
    int64_t day = t % (86400 * NS_PER_S);
    int64_t s = day / NS_PER_S;
    return (size_t)snprintf(buf, cap, "%02d:%02d:%02d.%06d", (int)(s / 3600), (int)(s / 60 % 60),
                            (int)(s % 60), (int)(day % NS_PER_S / 1000));
}

void ska_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", out);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

void ska_options_default(ska_options *o)
{
    memset(o, 0, sizeof *o);
    o->close_wait_secs = 2.0;
    o->short_min = 50;
    o->short_secs = 1.0;
}

ska *ska_new(const ska_options *o)
{
    ska *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (o)
        a->o = *o;
    else
        ska_options_default(&a->o);
    a->nbuckets = 1024;
    a->buckets = calloc(a->nbuckets, sizeof *a->buckets);
    a->shorts = calloc(SHORT_SLOTS, sizeof *a->shorts);
    if (!a->buckets || !a->shorts) {
        ska_free(a);
        return NULL;
    }
    a->next_id = 1;
    a->tot.dlt = -1;
    for (int i = 0; i < SKA_NFINDINGS; i++)
        a->f[i].id = fid_names[i];
    return a;
}

void ska_free(ska *a)
{
    if (!a)
        return;
    if (a->buckets) {
        for (size_t i = 0; i < a->nbuckets; i++) {
            ska_conn *c = a->buckets[i];
            while (c) {
                ska_conn *n = c->hnext;
                free(c);
                c = n;
            }
        }
    }
    free(a->buckets);
    free(a->shorts);
    free(a);
}

const ska_totals *ska_get_totals(const ska *a) { return &a->tot; }

/* ------------------------------------------------------------------ */
/* Decoding                                                              */
/* ------------------------------------------------------------------ */

typedef struct seg {
    int family;
    ska_addr src, dst;
    uint8_t ttl;
    bool has_ipid;
    uint16_t ipid;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t win;
    uint32_t len; /* payload, from the IP length (snaplen may cut it) */
    bool opts;
    uint16_t mss;
    int wscale;
    bool sack_ok, ts;
    const uint8_t *ip;
    size_t ipcap;
} seg;

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

static void parse_tcp_options(seg *p, const uint8_t *o, size_t n)
{
    p->opts = true;
    p->wscale = -1;
    size_t i = 0;
    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n)
            break;
        uint8_t len = o[i + 1];
        if (len < 2 || i + len > n)
            break;
        if (kind == 2 && len == 4)
            p->mss = be16(o + i + 2);
        else if (kind == 3 && len == 3)
            p->wscale = o[i + 2];
        else if (kind == 4 && len == 2)
            p->sack_ok = true;
        else if (kind == 8 && len == 10)
            p->ts = true;
        i += len;
    }
}

/* Returns 0 for a TCP segment in *p, 1 for ICMP handled, -1 otherwise. */
static int decode_tcp(ska *a, seg *p, const uint8_t *t, size_t tcap, size_t tlen)
{
    if (tcap < 20 || tlen < 20) {
        a->tot.truncated++;
        return -1;
    }
    p->src.port = be16(t);
    p->dst.port = be16(t + 2);
    p->seq = be32(t + 4);
    p->ack = be32(t + 8);
    size_t doff = (size_t)(t[12] >> 4) * 4;
    p->flags = t[13];
    p->win = be16(t + 14);
    if (doff < 20 || doff > tlen) {
        a->tot.undecodable++;
        return -1;
    }
    p->len = (uint32_t)(tlen - doff);
    p->wscale = -1;
    if (doff > 20 && tcap >= doff)
        parse_tcp_options(p, t + 20, doff - 20);
    else if (doff > 20)
        p->wscale = -1;
    return 0;
}

static void icmp_error(ska *a, int family, int type, int code, uint32_t mtu, const uint8_t *inner,
                       size_t n, int64_t t);

static int decode_ip(ska *a, seg *p, const uint8_t *d, size_t cap, size_t orig, int64_t t)
{
    (void)orig;
    if (cap < 1)
        return -1;
    int v = d[0] >> 4;
    p->ip = d;
    p->ipcap = cap;
    if (v == 4) {
        if (cap < 20) {
            a->tot.truncated++;
            return -1;
        }
        size_t ihl = (size_t)(d[0] & 15) * 4;
        size_t tl = be16(d + 2);
        if (ihl < 20 || tl < ihl) {
            a->tot.undecodable++;
            return -1;
        }
        a->tot.ipv4++;
        p->family = 4;
        p->src.family = p->dst.family = 4;
        memcpy(p->src.a, d + 12, 4);
        memcpy(p->dst.a, d + 16, 4);
        p->ttl = d[8];
        p->has_ipid = true;
        p->ipid = be16(d + 4);
        uint16_t frag = be16(d + 6);
        if (frag & 0x3fff) {
            /* A fragment: TCP's header is in the first one only, and
             * Linux sets DF on TCP (PMTU discovery), so these are rare. */
            a->tot.fragments++;
            return -1;
        }
        size_t pcap_ = cap < tl ? cap : tl;
        if (cap < tl)
            a->tot.truncated++;
        if (pcap_ < ihl)
            return -1;
        if (d[9] == 6)
            return decode_tcp(a, p, d + ihl, pcap_ - ihl, tl - ihl);
        if (d[9] == 1) {
            a->tot.icmp++;
            const uint8_t *ic = d + ihl;
            size_t n = pcap_ - ihl;
            if (n >= 8 && (ic[0] == 3 || ic[0] == 11))
                icmp_error(a, 4, ic[0], ic[1], be16(ic + 6), ic + 8, n - 8, t);
            return 1;
        }
        a->tot.other++;
        return -1;
    }
    if (v == 6) {
        if (cap < 40) {
            a->tot.truncated++;
            return -1;
        }
        a->tot.ipv6++;
        p->family = 6;
        p->src.family = p->dst.family = 6;
        memcpy(p->src.a, d + 8, 16);
        memcpy(p->dst.a, d + 24, 16);
        p->ttl = d[7];
        size_t plen = be16(d + 4);
        size_t total = 40 + plen;
        size_t avail = cap < total ? cap : total;
        if (cap < total)
            a->tot.truncated++;
        unsigned nh = d[6];
        size_t off = 40;
        /* Walk the extension headers RFC 8200 lets precede TCP. */
        for (int guard = 0; guard < 8; guard++) {
            if (nh == 0 || nh == 43 || nh == 60) {
                if (off + 8 > avail)
                    return -1;
                size_t hl = ((size_t)d[off + 1] + 1) * 8;
                nh = d[off];
                off += hl;
            } else if (nh == 44) {
                if (off + 8 > avail)
                    return -1;
                if (be16(d + off + 2) & 0xfff9) {
                    a->tot.fragments++;
                    return -1;
                }
                nh = d[off];
                off += 8;
            } else {
                break;
            }
        }
        if (off > total || off > avail)
            return -1;
        if (nh == 6)
            return decode_tcp(a, p, d + off, avail - off, total - off);
        if (nh == 58) {
            a->tot.icmp++;
            const uint8_t *ic = d + off;
            size_t n = avail - off;
            if (n >= 8 && (ic[0] == 1 || ic[0] == 2))
                icmp_error(a, 6, ic[0], ic[1], be32(ic + 4), ic + 8, n - 8, t);
            return 1;
        }
        a->tot.other++;
        return -1;
    }
    a->tot.undecodable++;
    return -1;
}

/* Link layers: strips the header and returns the network layer, or NULL
 * when the frame carries something other than IP. */
static const uint8_t *link_strip(int dlt, const uint8_t *d, size_t *cap, size_t *orig)
{
    size_t off = 0;
    unsigned proto = 0;
    switch (dlt) {
    case DLT_EN10MB:
        if (*cap < 14)
            return NULL;
        proto = be16(d + 12);
        off = 14;
        break;
    case DLT_LINUX_SLL:
        if (*cap < 16)
            return NULL;
        proto = be16(d + 14);
        off = 16;
        break;
    case DLT_LINUX_SLL2:
        if (*cap < 20)
            return NULL;
        proto = be16(d);
        off = 20;
        break;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case 101: /* LINKTYPE_RAW as some writers leave it */
        return d;
    case DLT_NULL:
    case DLT_LOOP: {
        if (*cap < 4)
            return NULL;
        /* The address family, in either byte order: AF_INET is 2
         * everywhere, AF_INET6 is 10 on Linux and 24/28/30 on the BSDs. */
        uint32_t fam = be32(d);
        if (fam > 0xffff)
            fam = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
        if (fam != 2 && fam != 10 && fam != 24 && fam != 28 && fam != 30)
            return NULL;
        *cap -= 4;
        *orig = *orig >= 4 ? *orig - 4 : 0;
        return d + 4;
    }
    default:
        return NULL;
    }
    /* 802.1Q / 802.1ad tags, stacked (QinQ). */
    for (int i = 0; i < 4 && (proto == 0x8100 || proto == 0x88a8 || proto == 0x9100); i++) {
        if (*cap < off + 4)
            return NULL;
        proto = be16(d + off + 2);
        off += 4;
    }
    if (proto != 0x0800 && proto != 0x86dd)
        return NULL;
    if (*cap < off)
        return NULL;
    *cap -= off;
    *orig = *orig >= off ? *orig - off : 0;
    return d + off;
}

/* ------------------------------------------------------------------ */
/* Connection table                                                      */
/* ------------------------------------------------------------------ */

static bool addr_eq(const ska_addr *x, const ska_addr *y)
{
    return x->family == y->family && x->port == y->port &&
           !memcmp(x->a, y->a, x->family == 6 ? 16 : 4);
}

static uint64_t addr_hash(const ska_addr *x)
{
    uint64_t h = 1469598103934665603ULL ^ x->family;
    size_t n = x->family == 6 ? 16 : 4;
    for (size_t i = 0; i < n; i++)
        h = (h ^ x->a[i]) * 1099511628211ULL;
    h = (h ^ x->port) * 1099511628211ULL;
    return h;
}

static size_t pair_bucket(const ska *a, const ska_addr *x, const ska_addr *y)
{
    uint64_t h = addr_hash(x) + addr_hash(y); /* symmetric */
    h ^= h >> 29;
    return (size_t)(h & (a->nbuckets - 1));
}

static ska_conn *conn_find(ska *a, const ska_addr *s, const ska_addr *d, int *dir)
{
    for (ska_conn *c = a->buckets[pair_bucket(a, s, d)]; c; c = c->hnext) {
        if (addr_eq(&c->side[0].addr, s) && addr_eq(&c->side[1].addr, d)) {
            *dir = 0;
            return c;
        }
        if (addr_eq(&c->side[1].addr, s) && addr_eq(&c->side[0].addr, d)) {
            *dir = 1;
            return c;
        }
    }
    return NULL;
}

static void list_unlink(ska *a, ska_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        a->head[c->list] = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        a->tail[c->list] = c->prev;
    c->prev = c->next = NULL;
}

static void list_append(ska *a, ska_conn *c, int list)
{
    c->list = list;
    c->prev = a->tail[list];
    c->next = NULL;
    if (a->tail[list])
        a->tail[list]->next = c;
    else
        a->head[list] = c;
    a->tail[list] = c;
}

static void table_grow(ska *a)
{
    size_t nb = a->nbuckets * 2;
    ska_conn **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* keep the longer chains: slower, not wrong */
    size_t old = a->nbuckets;
    ska_conn **ob = a->buckets;
    a->buckets = b;
    a->nbuckets = nb;
    for (size_t i = 0; i < old; i++) {
        ska_conn *c = ob[i];
        while (c) {
            ska_conn *n = c->hnext;
            size_t k = pair_bucket(a, &c->side[0].addr, &c->side[1].addr);
            c->hnext = b[k];
            b[k] = c;
            c = n;
        }
    }
    free(ob);
}

static void retire(ska *a, ska_conn *c);

static ska_conn *conn_new(ska *a, const ska_addr *client, const ska_addr *server, int64_t t)
{
    size_t cap = a->o.max_live ? a->o.max_live : 1000000;
    if (a->nlive >= cap) {
        static const int order[NLISTS] = {LIST_HALF, LIST_CLOSED, LIST_OPEN};
        for (int i = 0; i < NLISTS; i++)
            if (a->head[order[i]]) {
                a->tot.evicted++;
                retire(a, a->head[order[i]]);
                break;
            }
    }
    if (a->nlive >= a->nbuckets)
        table_grow(a);
    ska_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = a->next_id++;
    c->side[0].addr = *client;
    c->side[1].addr = *server;
    c->side[0].wscale = c->side[1].wscale = -1;
    c->closer = -1;
    c->icmp_type = c->icmp_code = -1;
    c->rst_side = -1;
    c->first_time = c->last_time = t;
    c->first_pkt = a->pktno;
    size_t k = pair_bucket(a, client, server);
    c->hnext = a->buckets[k];
    a->buckets[k] = c;
    list_append(a, c, LIST_HALF);
    a->nlive++;
    a->tot.conns++;
    if (client->family == 6)
        a->tot.conns6++;
    else
        a->tot.conns4++;
    if (a->nlive > a->tot.live_max)
        a->tot.live_max = a->nlive;
    return c;
}

static void set_state(ska_conn *c, int si, ska_state to, uint64_t pkt, int64_t t, const char *why)
{
    ska_side *s = &c->side[si];
    if (s->state == to)
        return;
    if (c->ntrans < SKA_HISTORY_MAX) {
        ska_transition *tr = &c->trans[c->ntrans++];
        tr->side = (uint8_t)si;
        tr->from = (uint8_t)s->state;
        tr->to = (uint8_t)to;
        tr->pkt = pkt;
        tr->t = t;
        tr->why = why;
    } else {
        c->trans_dropped++;
    }
    s->state = to;
    s->state_since = t;
    s->state_pkt = pkt;
}

static bool side_done(ska_state s)
{
    return s == SKA_UNKNOWN || s == SKA_CLOSED || s == SKA_LISTEN || s == SKA_TIME_WAIT;
}

static bool conn_closed(const ska_conn *c)
{
    return side_done(c->side[0].state) && side_done(c->side[1].state);
}

/* ------------------------------------------------------------------ */
/* Findings bookkeeping                                                  */
/* ------------------------------------------------------------------ */

static ska_finding *fnd(ska *a, ska_fid id, ska_severity sev, uint64_t conn)
{
    ska_finding *f = &a->f[id];
    if (sev > f->severity)
        f->severity = sev;
    if (conn) {
        f->count++;
        if (f->nconns < SKA_FINDING_CONNS_MAX && (f->nconns == 0 || f->conns[f->nconns - 1] != conn))
            f->conns[f->nconns++] = conn;
    }
    return f;
}

static void evid(ska_finding *f, uint64_t conn, uint64_t pkt, int64_t t, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void evid(ska_finding *f, uint64_t conn, uint64_t pkt, int64_t t, const char *fmt, ...)
{
    if (f->nev >= SKA_EVIDENCE_MAX)
        return;
    ska_evidence *e = &f->ev[f->nev++];
    e->conn = conn;
    e->pkt = pkt;
    e->t = t;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
}

static const char *role(int si) { return si == 0 ? "client" : "server"; }

/* A connection leaves the table: fold it into the totals and findings. */
static void retire(ska *a, ska_conn *c)
{
    char sa[80], ca[80], t1[32], t2[32];
    ska_side *C = &c->side[0], *S = &c->side[1];
    ska_format_addr(&S->addr, sa, sizeof sa);
    ska_format_addr(&C->addr, ca, sizeof ca);
    int64_t end = a->now;

    for (int i = 0; i < 2; i++) {
        ska_side *x = &c->side[i];
        if (x->in_zw) {
            x->in_zw = false;
            x->zw_total_ns += (c->last_time > x->zw_start ? c->last_time - x->zw_start : 0);
        }
        a->tot.final_state[i][x->state]++;
        a->tot.retrans += x->retrans;
        a->tot.zw_pkts += x->zw_pkts;
        a->tot.data_segs += x->data_segs;
    }

    /* Handshake branch. */
    if (c->refused) {
        ska_finding *f = fnd(a, F_SYN_REFUSED, SKA_WARNING, c->id);
        ska_format_time(C->first_syn_time, t1, sizeof t1);
        ska_format_time(c->refused_time, t2, sizeof t2);
        evid(f, c->id, c->refused_pkt, c->refused_time,
             "conn %llu: SYN %s > %s at pkt %llu (%s) answered by RST at pkt %llu (%s)",
             (unsigned long long)c->id, ca, sa, (unsigned long long)C->first_syn_pkt, t1,
             (unsigned long long)c->refused_pkt, t2);
    }
    /* A SYN sent less than the initial RTO (1 s) before the capture ends
     * may simply not have been answered yet. */
    if (c->opened_seen && !c->refused && S->pkts == 0 && end - C->first_syn_time >= 1000000000LL) {
        ska_finding *f = fnd(a, F_SYN_UNANSWERED, SKA_WARNING, c->id);
        f->events += C->syns;
        ska_format_time(C->first_syn_time, t1, sizeof t1);
        ska_format_time(C->last_syn_time, t2, sizeof t2);
        char icmp[96] = "";
        if (c->icmp_type >= 0)
            snprintf(icmp, sizeof icmp, "; ICMP%s type %d code %d at pkt %llu",
                     C->addr.family == 6 ? "v6" : "", c->icmp_type, c->icmp_code,
                     (unsigned long long)c->icmp_pkt);
        evid(f, c->id, C->first_syn_pkt, C->first_syn_time,
             "conn %llu: %u SYN%s %s > %s from pkt %llu (%s) to pkt %llu (%s), no SYN-ACK or RST%s",
             (unsigned long long)c->id, C->syns, C->syns == 1 ? "" : "s", ca, sa,
             (unsigned long long)C->first_syn_pkt, t1, (unsigned long long)C->last_syn_pkt, t2, icmp);
    }
    if (c->opened_seen && C->syns > 1) {
        ska_finding *f = fnd(a, F_SYN_RETRANS, SKA_WARNING, c->id);
        f->events += C->syns - 1;
        if (S->syns)
            f->a++; /* answered in the end */
        ska_format_time(C->first_syn_time, t1, sizeof t1);
        ska_format_time(C->last_syn_time, t2, sizeof t2);
        evid(f, c->id, C->last_syn_pkt, C->last_syn_time,
             "conn %llu: %s sent its SYN %u times (pkt %llu at %s ... pkt %llu at %s), %s",
             (unsigned long long)c->id, ca, C->syns, (unsigned long long)C->first_syn_pkt, t1,
             (unsigned long long)C->last_syn_pkt, t2,
             S->syns ? "then answered" : c->refused ? "then refused" : "never answered");
    }
    if (S->syns > 1) {
        ska_finding *f = fnd(a, F_SYNACK_RETRANS, SKA_WARNING, c->id);
        f->events += S->syns - 1;
        if (C->syns > 1)
            f->a++; /* the client repeated its SYN too */
        ska_format_time(S->first_syn_time, t1, sizeof t1);
        ska_format_time(S->last_syn_time, t2, sizeof t2);
        evid(f, c->id, S->last_syn_pkt, S->last_syn_time,
             "conn %llu: %s sent its SYN-ACK %u times (pkt %llu at %s ... pkt %llu at %s)%s%s",
             (unsigned long long)c->id, sa, S->syns, (unsigned long long)S->first_syn_pkt, t1,
             (unsigned long long)S->last_syn_pkt, t2,
             C->syns > 1 ? "; the client also repeated its SYN" : "",
             c->handshake_done ? "; the handshake completed in the end" : "; the handshake never completed");
    }

    /* Teardown branch. */
    for (int i = 0; i < 2; i++) {
        ska_side *x = &c->side[i];
        if (!x->got_fin)
            continue;
        int64_t until = x->fin_sent && x->fin_time >= x->got_fin_time
                            ? x->fin_time
                        : x->rst_sent ? x->rst_time
                                      : end;
        double secs = (double)(until - x->got_fin_time) / 1e9;
        bool never = !x->fin_sent && !x->rst_sent;
        if (x->fin_sent && x->fin_time < x->got_fin_time)
            continue; /* it closed first: FIN-WAIT, not CLOSE-WAIT */
        if (secs < a->o.close_wait_secs)
            continue;
        bool talked = x->last_data_time > x->got_fin_time;
        ska_finding *f = fnd(a, F_CLOSE_WAIT, talked ? SKA_INFO : SKA_WARNING, c->id);
        if (never)
            f->a++;
        ska_format_time(x->got_fin_time, t1, sizeof t1);
        char who[80];
        ska_format_addr(&x->addr, who, sizeof who);
        if (never)
            evid(f, c->id, x->got_fin_pkt, x->got_fin_time,
                 "conn %llu: %s %s in CLOSE-WAIT since %s (pkt %llu acknowledged the peer's FIN), "
                 "FIN never sent (%.1f s to the end of the capture)%s",
                 (unsigned long long)c->id, role(i), who, t1, (unsigned long long)x->got_fin_pkt, secs,
                 talked ? "; it still sent data meanwhile" : "");
        else {
            ska_format_time(until, t2, sizeof t2);
            evid(f, c->id, x->got_fin_pkt, x->got_fin_time,
                 "conn %llu: %s %s in CLOSE-WAIT from %s (pkt %llu) to %s: %s only %.1f s later (pkt %llu)",
                 (unsigned long long)c->id, role(i), who, t1, (unsigned long long)x->got_fin_pkt, t2,
                 x->fin_sent ? "FIN" : "RST", secs,
                 (unsigned long long)(x->fin_sent ? x->fin_pkt : x->rst_pkt));
        }
    }
    for (int i = 0; i < 2; i++) {
        ska_side *x = &c->side[i];
        if (x->state != SKA_TIME_WAIT)
            continue;
        ska_finding *f = fnd(a, F_TIME_WAIT, SKA_INFO, c->id);
        if (i == 0)
            f->a++;
        else
            f->b++;
        char who[80];
        ska_format_addr(&x->addr, who, sizeof who);
        ska_format_time(x->state_since, t1, sizeof t1);
        evid(f, c->id, x->state_pkt, x->state_since,
             "conn %llu: %s %s in TIME-WAIT since %s (pkt %llu): it %s",
             (unsigned long long)c->id, role(i), who, t1, (unsigned long long)x->state_pkt,
             c->closer == i ? "closed first" : "closed at the same time as its peer");
    }

    /* Reset branch. */
    if (c->rst_side >= 0) {
        ska_side *x = &c->side[c->rst_side];
        char who[80];
        ska_format_addr(&x->addr, who, sizeof who);
        ska_format_time(x->rst_time, t1, sizeof t1);
        if (c->rst_middlebox) {
            ska_finding *f = fnd(a, F_RST_MIDDLEBOX, SKA_WARNING, c->id);
            if (x->rst_ipid_off && x->ttl_min <= x->rst_ttl && x->rst_ttl <= x->ttl_max)
                evid(f, c->id, x->rst_pkt, x->rst_time,
                     "conn %llu: RST \"from\" %s at pkt %llu (%s) has IP ID 0x%04x; that side's packets counted "
                     "0x%04x..0x%04x (Linux numbers a socket's packets in sequence, its own RST included)",
                     (unsigned long long)c->id, who, (unsigned long long)x->rst_pkt, t1, x->rst_ipid, x->ipid_first,
                     x->ipid_last);
            else if (x->addr.family == 6)
                evid(f, c->id, x->rst_pkt, x->rst_time,
                     "conn %llu: RST \"from\" %s at pkt %llu (%s) has hop limit %u; that side's other %llu packets had %u..%u",
                     (unsigned long long)c->id, who, (unsigned long long)x->rst_pkt, t1, x->rst_ttl,
                     (unsigned long long)(x->pkts - 1), x->ttl_min, x->ttl_max);
            else
                evid(f, c->id, x->rst_pkt, x->rst_time,
                     "conn %llu: RST \"from\" %s at pkt %llu (%s) has TTL %u; that side's other %llu packets had TTL %u..%u",
                     (unsigned long long)c->id, who, (unsigned long long)x->rst_pkt, t1, x->rst_ttl,
                     (unsigned long long)(x->pkts - 1), x->ttl_min, x->ttl_max);
        } else {
            ska_finding *f = fnd(a, F_RST_ABORT, SKA_WARNING, c->id);
            ska_side *y = &c->side[!c->rst_side];
            const char *why;
            if (!x->rst_has_ack) {
                f->a++;
                why = "a RST without ACK answers a segment for a connection the sender does not know: "
                      "the process or host restarted, or the socket was already gone";
            } else if (x->fin_sent && y->last_data_time > x->fin_time) {
                f->b++;
                why = "data arrived after it had closed: Linux resets a closed socket that receives data "
                      "(nstat TcpExtTCPAbortOnData)";
            } else if (y->data_segs > 0 && x->data_segs == 0 && !x->fin_sent) {
                f->c++;
                why = "close() with unread data, most likely: the peer's data was acknowledged and never answered, "
                      "and Linux sends RST instead of FIN when the receive queue is not empty (TcpExtTCPAbortOnClose; "
                      "also what a process that exits or crashes without reading does)";
            } else {
                f->d++;
                why = "an abortive close after a complete exchange: SO_LINGER {1, 0} then close() (TcpExtTCPAbortOnClose "
                      "counts both), or close() with data still unread; the two look the same on the wire";
            }
            evid(f, c->id, x->rst_pkt, x->rst_time, "conn %llu: %s %s reset the connection at pkt %llu (%s): %s",
                 (unsigned long long)c->id, role(c->rst_side), who, (unsigned long long)x->rst_pkt, t1, why);
        }
    }

    /* Performance branch. */
    for (int i = 0; i < 2; i++) {
        ska_side *x = &c->side[i];
        if (!x->zw_episodes)
            continue;
        ska_finding *f = fnd(a, F_ZERO_WINDOW, SKA_WARNING, c->id);
        f->events += x->zw_episodes;
        f->a += x->zw_pkts;
        char who[80];
        ska_format_addr(&x->addr, who, sizeof who);
        ska_format_time(x->zw_start, t1, sizeof t1);
        evid(f, c->id, x->zw_first_pkt, x->zw_start,
             "conn %llu: %s %s advertised a zero window %u time%s in %u episode%s (first at pkt %llu), "
             "%.3f s in all",
             (unsigned long long)c->id, role(i), who, x->zw_pkts, x->zw_pkts == 1 ? "" : "s", x->zw_episodes,
             x->zw_episodes == 1 ? "" : "s", (unsigned long long)x->zw_first_pkt,
             (double)x->zw_total_ns / 1e9);
    }
    for (int i = 0; i < 2; i++) {
        ska_side *x = &c->side[i];
        uint64_t hs = x->syns > 1 ? x->syns - 1 : 0;
        uint64_t data_rtx = x->retrans > hs ? x->retrans - hs : 0;
        if (!data_rtx)
            continue;
        double pct = x->data_segs ? 100.0 * (double)data_rtx / (double)x->data_segs : 100.0;
        ska_finding *f = fnd(a, F_RETRANS, pct >= 1.0 ? SKA_WARNING : SKA_INFO, c->id);
        f->events += data_rtx;
        f->a += x->data_segs;
        char who[80];
        ska_format_addr(&x->addr, who, sizeof who);
        evid(f, c->id, 0, 0, "conn %llu: %s %s sent %llu segment%s again (%llu bytes) out of %llu data segments (%.1f%%)",
             (unsigned long long)c->id, role(i), who, (unsigned long long)data_rtx, data_rtx == 1 ? "" : "s",
             (unsigned long long)x->retrans_bytes, (unsigned long long)x->data_segs, pct);
    }
    for (int i = 0; i < 2; i++) {
        ska_side *x = &c->side[i], *y = &c->side[!i];
        if (x->big_rtx < 2 || (y->ack_known && seq_lt(x->big_rtx_seq, y->ack_max)))
            continue;
        ska_finding *f = fnd(a, F_MTU, SKA_WARNING, c->id);
        f->events += x->big_rtx;
        f->d++;
        char who[80];
        ska_format_addr(&x->addr, who, sizeof who);
        ska_format_time(x->big_rtx_time, t1, sizeof t1);
        evid(f, c->id, x->big_rtx_pkt, x->big_rtx_time,
             "conn %llu: %s %s sent its %u-byte segment at seq %u again %u times (first at pkt %llu, %s) and "
             "it was never acknowledged, while smaller segments got through",
             (unsigned long long)c->id, role(i), who, x->max_seg, x->big_rtx_seq, x->big_rtx,
             (unsigned long long)x->big_rtx_pkt, t1);
    }
    if (c->icmp_mtu) {
        ska_finding *f = fnd(a, F_MTU, SKA_INFO, c->id);
        f->b++;
        evid(f, c->id, c->icmp_pkt, 0, "conn %llu: ICMP%s %s (next-hop MTU %u) at pkt %llu",
             (unsigned long long)c->id, C->addr.family == 6 ? "v6" : "",
             C->addr.family == 6 ? "Packet Too Big" : "fragmentation needed", c->icmp_mtu,
             (unsigned long long)c->icmp_pkt);
    }

    /* Short connections, tallied per server endpoint. */
    if (c->handshake_done && conn_closed(c) && c->last_time - c->first_time < (int64_t)(a->o.short_secs * 1e9)) {
        uint64_t h = addr_hash(&S->addr);
        for (size_t k = 0; k < 16; k++) {
            short_tally *st = &a->shorts[(h + k) & (SHORT_SLOTS - 1)];
            if (!st->used) {
                st->used = true;
                st->server = S->addr;
                st->first_conn = c->id;
            }
            if (addr_eq(&st->server, &S->addr)) {
                st->count++;
                st->total_ns += c->last_time - c->first_time;
                break;
            }
        }
    }

    if (a->o.on_retire)
        a->o.on_retire(a->o.ctx, c);

    /* Unlink and free. */
    size_t k = pair_bucket(a, &C->addr, &S->addr);
    for (ska_conn **pp = &a->buckets[k]; *pp; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    list_unlink(a, c);
    a->nlive--;
    a->tot.retired++;
    free(c);
}

static void sweep(ska *a)
{
    static const int64_t limit[NLISTS] = {TIMEWAIT_NS, HALFOPEN_NS, IDLE_NS};
    for (int l = 0; l < NLISTS; l++) {
        while (a->head[l] && a->now - a->head[l]->last_time > limit[l])
            retire(a, a->head[l]);
    }
}

/* ------------------------------------------------------------------ */
/* The state machine, seen from the wire                                 */
/* ------------------------------------------------------------------ */

static void take_options(ska_side *s, const seg *p)
{
    if (!p->opts)
        return;
    s->opt_seen = true;
    s->mss = p->mss;
    s->wscale = p->wscale;
    s->sack_ok = p->sack_ok;
    s->ts = p->ts;
}

/* `si` acknowledges up to `ack`. */
static void on_ack(ska *a, ska_conn *c, int si, uint32_t ack, int64_t t)
{
    ska_side *s = &c->side[si], *r = &c->side[!si];
    uint64_t n = a->pktno;
    if (!s->ack_known || seq_lt(s->ack_max, ack)) {
        s->ack_max = ack;
        s->ack_known = true;
    }
    if (!c->handshake_done && si == 0 && r->state == SKA_SYN_RECV && r->isn_known && ack == r->isn + 1) {
        c->handshake_done = true;
        c->hs_ack_time = t;
        if (s->syns && t > s->last_syn_time)
            c->first_rtt = t - s->last_syn_time;
        set_state(c, 0, SKA_ESTABLISHED, n, t, "acknowledged the SYN-ACK");
        set_state(c, 1, SKA_ESTABLISHED, n, t, "its SYN-ACK was acknowledged");
    }
    if (r->fin_sent && !r->fin_acked && seq_geq(ack, r->fin_seq + 1)) {
        r->fin_acked = true;
        s->got_fin = true;
        s->got_fin_pkt = n;
        s->got_fin_time = t;
        switch (s->state) {
        case SKA_FIN_WAIT1:
            set_state(c, si, SKA_CLOSING, n, t, "acknowledged the peer's FIN while its own was unacknowledged");
            break;
        case SKA_FIN_WAIT2:
            set_state(c, si, SKA_TIME_WAIT, n, t, "acknowledged the peer's FIN after closing first");
            break;
        case SKA_CLOSING:
        case SKA_LAST_ACK:
        case SKA_TIME_WAIT:
        case SKA_CLOSED:
        case SKA_CLOSE_WAIT:
            break;
        default:
            set_state(c, si, SKA_CLOSE_WAIT, n, t, "acknowledged the peer's FIN");
            break;
        }
        switch (r->state) {
        case SKA_FIN_WAIT1:
            set_state(c, !si, SKA_FIN_WAIT2, n, t, "its FIN was acknowledged");
            break;
        case SKA_CLOSING:
            set_state(c, !si, SKA_TIME_WAIT, n, t, "its FIN was acknowledged after it acknowledged the peer's");
            break;
        case SKA_LAST_ACK:
            set_state(c, !si, SKA_CLOSED, n, t, "its FIN was acknowledged (last ACK)");
            break;
        default:
            break;
        }
    }
}

static void on_rst(ska *a, ska_conn *c, int si, const seg *p, int64_t t)
{
    ska_side *s = &c->side[si], *r = &c->side[!si];
    uint64_t n = a->pktno;
    if (s->rst_sent || (side_done(s->state) && side_done(r->state) && s->state != SKA_LISTEN &&
                        s->state != SKA_UNKNOWN))
        return; /* a repeated RST, or one after the end */
    if (r->state == SKA_SYN_SENT && !s->isn_known && si == 1) {
        c->refused = true;
        c->refused_pkt = n;
        c->refused_time = t;
        s->rst_sent = true;
        s->rst_pkt = n;
        s->rst_time = t;
        set_state(c, 1, SKA_CLOSED, n, t, "answered the SYN with RST: nothing listening");
        set_state(c, 0, SKA_CLOSED, n, t, "its SYN was refused (connect() gets ECONNREFUSED)");
        return;
    }
    s->rst_sent = true;
    s->rst_pkt = n;
    s->rst_time = t;
    s->rst_ttl = p->ttl;
    s->rst_has_ack = (p->flags & TH_ACK) != 0;
    if (c->closer < 0)
        c->closer = si;
    if (c->rst_side < 0 && (c->handshake_done || c->midstream || s->state == SKA_SYN_RECV)) {
        c->rst_side = si;
        /* Linux sends its RSTs with the socket's TTL (ip_default_ttl, 64)
         * like any other segment; one that arrives with a different TTL
         * than the rest of that side's packets took another path or was
         * forged on the way (a firewall's or an IDS's reset). */
        if (s->ttl_seen && (p->ttl < s->ttl_min || p->ttl > s->ttl_max))
            c->rst_middlebox = true;
        /* A RST sent by the endpoint's own socket (an abort) continues
         * its IP ID sequence, and one sent for no socket carries 0; a
         * non-zero ID that jumps far away came from somewhere else. */
        if (p->has_ipid && p->ipid && s->ipid_steps >= 2 && (uint16_t)(p->ipid - s->ipid_last) > 64) {
            s->rst_ipid_off = true;
            c->rst_middlebox = true;
        }
        s->rst_ipid = p->ipid;
    }
    set_state(c, si, SKA_CLOSED, n, t, "sent RST");
    if (r->state != SKA_TIME_WAIT && r->state != SKA_CLOSED)
        set_state(c, !si, SKA_CLOSED, n, t, "received RST (read()/write() get ECONNRESET)");
}

static void on_segment(ska *a, ska_conn *c, int si, const seg *p, int64_t t)
{
    ska_side *s = &c->side[si], *r = &c->side[!si];
    uint64_t n = a->pktno;
    c->pkts++;
    s->pkts++;
    c->last_pkt = n;
    if (t > c->last_time)
        c->last_time = t;
    uint8_t fl = p->flags;

    if (!(fl & TH_RST)) {
        if (!s->ttl_seen) {
            s->ttl_min = s->ttl_max = p->ttl;
            s->ttl_seen = true;
        } else {
            if (p->ttl < s->ttl_min)
                s->ttl_min = p->ttl;
            if (p->ttl > s->ttl_max)
                s->ttl_max = p->ttl;
        }
        /* Linux numbers a connected socket's DF packets from a per-socket
         * counter (ip_select_ident_segs); its SYN-ACKs and replies from
         * no socket carry 0.  Learn the sequence from non-zero IDs. */
        if (p->has_ipid && p->ipid) {
            if (s->ipid_seen && (uint16_t)(p->ipid - s->ipid_last) >= 1 && (uint16_t)(p->ipid - s->ipid_last) <= 64)
                s->ipid_steps++;
            if (!s->ipid_seen)
                s->ipid_first = p->ipid;
            s->ipid_seen = true;
            s->ipid_last = p->ipid;
        }
    }
    /* A zero window as Wireshark flags it: window 0 on a segment that is
     * not SYN, FIN or RST. */
    if (!(fl & (TH_SYN | TH_FIN | TH_RST))) {
        if (p->win == 0) {
            s->zw_pkts++;
            if (!s->in_zw) {
                s->in_zw = true;
                s->zw_episodes++;
                s->zw_start = t;
                if (s->zw_episodes == 1)
                    s->zw_first_pkt = n;
            }
        } else if (s->in_zw) {
            s->in_zw = false;
            s->zw_total_ns += t > s->zw_start ? t - s->zw_start : 0;
        }
    }

    if (fl & TH_RST) {
        on_rst(a, c, si, p, t);
        return;
    }

    if (fl & TH_SYN) {
        if (s->isn_known && p->seq == s->isn) {
            s->syns++;
            s->retrans++;
            s->last_syn_pkt = n;
            s->last_syn_time = t;
        } else {
            s->isn = p->seq;
            s->isn_known = true;
            s->seq_known = true;
            s->snd_nxt = p->seq + 1 + p->len;
            s->syns = 1;
            s->first_syn_pkt = s->last_syn_pkt = n;
            s->first_syn_time = s->last_syn_time = t;
            take_options(s, p);
        }
        if (!(fl & TH_ACK)) {
            if (si == 0)
                c->opened_seen = true;
            set_state(c, si, SKA_SYN_SENT, n, t, "sent SYN (connect())");
            if (r->state == SKA_UNKNOWN)
                set_state(c, !si, SKA_LISTEN, n, t, "assumed listening");
            c->hs_syn_time = t;
            return;
        }
        if (!c->hs_synack_time)
            c->hs_synack_time = t;
        if (s->state == SKA_LISTEN || s->state == SKA_UNKNOWN)
            set_state(c, si, SKA_SYN_RECV, n, t, "answered the SYN with SYN-ACK");
        if (r->state == SKA_UNKNOWN)
            set_state(c, !si, SKA_SYN_SENT, n, t, "assumed: its SYN precedes the capture");
        return;
    }

    if (fl & TH_ACK) {
        if (s->ack_known && p->ack == s->ack_max && p->len == 0 && !(fl & TH_FIN) && p->win == s->last_win) {
            s->dupacks++;
        } else if (!s->ack_known || seq_lt(s->ack_max, p->ack)) {
            s->dupacks = 0;
            s->lastack_time = t;
        }
        on_ack(a, c, si, p->ack, t);
    }
    s->last_win = p->win;

    uint32_t seglen = p->len + ((fl & TH_FIN) ? 1 : 0);
    if (!s->seq_known) {
        s->seq_known = true;
        s->snd_nxt = p->seq + seglen;
        s->nxt_time = t;
        s->bytes += p->len;
    } else if (seglen > 0) {
        uint32_t endseq = p->seq + seglen;
        bool keepalive = p->len <= 1 && !(fl & TH_FIN) && p->seq == s->snd_nxt - 1;
        /* Retransmission as Wireshark's tcp.analysis.retransmission sees
         * it: the segment starts below the highest sequence already sent. */
        /* Wireshark's order of tests: a fast retransmission (two
         * duplicate ACKs for exactly this sequence number, within 20 ms),
         * else reordering (within one handshake RTT, 3 ms when unknown, of
         * the highest segment, and not ending where it did), else a
         * retransmission. */
        bool fast = r->dupacks >= 2 && r->ack_known && r->ack_max == p->seq && t - r->lastack_time < 20000000;
        int64_t ooo_thres = c->first_rtt ? c->first_rtt : 3000000;
        bool ooo = !fast && p->len > 0 && t - s->nxt_time < ooo_thres && s->snd_nxt != endseq;
        if (seq_lt(p->seq, s->snd_nxt) && !keepalive && ooo) {
            s->ooo++;
        } else if (seq_lt(p->seq, s->snd_nxt) && !keepalive) {
            s->retrans++;
            s->retrans_bytes += p->len;
            if (p->len >= 1000 && p->len >= s->max_seg) {
                if (!s->big_rtx) {
                    s->big_rtx_seq = p->seq;
                    s->big_rtx_pkt = n;
                    s->big_rtx_time = t;
                }
                if (p->seq == s->big_rtx_seq)
                    s->big_rtx++;
            }
        }
        if (seq_lt(s->snd_nxt, endseq)) {
            uint32_t from = seq_lt(p->seq, s->snd_nxt) ? s->snd_nxt : p->seq;
            uint32_t newb = endseq - from;
            if (fl & TH_FIN)
                newb--;
            s->bytes += newb;
            s->snd_nxt = endseq;
            s->nxt_time = t;
        }
    }
    if (p->len > 0) {
        s->data_segs++;
        s->last_data_time = t;
        s->last_data_pkt = n;
        if (p->len > s->max_seg)
            s->max_seg = p->len;
    }
    if ((fl & TH_FIN) && !s->fin_sent) {
        s->fin_sent = true;
        s->fin_seq = p->seq + p->len;
        s->fin_pkt = n;
        s->fin_time = t;
        if (c->closer < 0)
            c->closer = si;
        if (s->state == SKA_CLOSE_WAIT)
            set_state(c, si, SKA_LAST_ACK, n, t, "sent its FIN after the peer's (close())");
        else if (s->state != SKA_LAST_ACK && s->state != SKA_CLOSING && s->state != SKA_TIME_WAIT &&
                 s->state != SKA_CLOSED)
            set_state(c, si, SKA_FIN_WAIT1, n, t, "sent FIN first (close() or shutdown(SHUT_WR))");
    }
}

/* Who serves: the side that sent the SYN-ACK; without a handshake in the
 * capture, a well-known port against an ephemeral one, else the
 * destination of the first segment. */
static bool first_is_client(const seg *p)
{
    if ((p->flags & (TH_SYN | TH_ACK)) == TH_SYN)
        return true;
    if ((p->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
        return false;
    uint16_t sp = p->src.port, dp = p->dst.port;
    if (sp < 1024 && dp >= 1024)
        return false;
    if (dp < 1024 && sp >= 1024)
        return true;
    bool seph = sp >= 32768, deph = dp >= 32768;
    if (seph != deph)
        return seph;
    return true;
}

static void on_tcp(ska *a, const seg *p, int64_t t)
{
    a->tot.tcp++;
    int dir = 0;
    ska_conn *c = conn_find(a, &p->src, &p->dst, &dir);
    bool syn_only = (p->flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN;
    if (c && syn_only) {
        /* A new SYN on a known 4-tuple: a new connection when the old one
         * is over (TIME-WAIT reuse) or when the client restarted with a
         * new ISN. */
        ska_side *s = &c->side[dir];
        if (conn_closed(c) || (s->isn_known && s->isn != p->seq && dir == 0 && !c->handshake_done)) {
            retire(a, c);
            c = NULL;
        }
    }
    if (!c) {
        bool cl = first_is_client(p);
        c = conn_new(a, cl ? &p->src : &p->dst, cl ? &p->dst : &p->src, t);
        if (!c)
            return;
        dir = cl ? 0 : 1;
        if (!(p->flags & TH_SYN)) {
            c->midstream = true;
            const char *why = "assumed: the capture starts after the handshake";
            set_state(c, 0, SKA_ESTABLISHED, a->pktno, t, why);
            set_state(c, 1, SKA_ESTABLISHED, a->pktno, t, why);
        }
    }
    on_segment(a, c, dir, p, t);

    int want = conn_closed(c) ? LIST_CLOSED : (c->handshake_done || c->midstream) ? LIST_OPEN : LIST_HALF;
    list_unlink(a, c);
    list_append(a, c, want);

    if (a->o.focus && c->id == a->o.focus && a->o.on_focus)
        a->o.on_focus(a->o.ctx, c, a->pktno, t, dir, p->ip, p->ipcap, p->family);
}

static void icmp_error(ska *a, int family, int type, int code, uint32_t mtu, const uint8_t *in, size_t n,
                       int64_t t)
{
    ska_addr s = {0}, d = {0};
    size_t off;
    if (family == 4) {
        if (n < 20 || (in[0] >> 4) != 4 || in[9] != 6)
            return;
        off = (size_t)(in[0] & 15) * 4;
        s.family = d.family = 4;
        memcpy(s.a, in + 12, 4);
        memcpy(d.a, in + 16, 4);
    } else {
        if (n < 40 || (in[0] >> 4) != 6 || in[6] != 6)
            return;
        off = 40;
        s.family = d.family = 6;
        memcpy(s.a, in + 8, 16);
        memcpy(d.a, in + 24, 16);
    }
    if (n < off + 4)
        return;
    s.port = be16(in + off);
    d.port = be16(in + off + 2);
    bool ptb = (family == 4 && type == 3 && code == 4) || (family == 6 && type == 2);
    if (ptb) {
        a->icmp_ptb++;
        if (a->icmp_ptb == 1) {
            a->icmp_ptb_first_pkt = a->pktno;
            a->icmp_ptb_first_time = t;
            a->icmp_ptb_mtu = family == 4 ? (mtu & 0xffff) : mtu;
        }
    }
    int dir;
    ska_conn *c = conn_find(a, &s, &d, &dir);
    if (!c) {
        if (ptb)
            a->icmp_ptb_unmatched++;
        return;
    }
    c->icmp_type = type;
    c->icmp_code = code;
    c->icmp_pkt = a->pktno;
    if (ptb)
        c->icmp_mtu = family == 4 ? (mtu & 0xffff) : mtu;
}

void ska_feed(ska *a, int dlt, int64_t t, const uint8_t *data, size_t caplen, size_t origlen)
{
    a->pktno++;
    a->tot.frames++;
    if (a->tot.dlt < 0)
        a->tot.dlt = dlt;
    if (a->o.at_ns && t > a->o.at_ns)
        return;
    if (a->tot.frames == 1 || t < a->tot.first_time)
        a->tot.first_time = t;
    if (t > a->tot.last_time)
        a->tot.last_time = t;
    if (t < a->now) {
        a->tot.time_went_back = true;
        a->tot.time_back_pkts++;
    } else {
        a->now = t;
    }
    size_t cap = caplen, orig = origlen;
    const uint8_t *ip = link_strip(dlt, data, &cap, &orig);
    if (!ip) {
        a->tot.other++;
        return;
    }
    seg p;
    memset(&p, 0, sizeof p);
    if (decode_ip(a, &p, ip, cap, orig, t) == 0)
        on_tcp(a, &p, t);
    if ((a->pktno & 255) == 0)
        sweep(a);
}

int ska_read_file(ska *a, const char *path, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    /* Nanosecond precision: libpcap scales microsecond files up. */
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!pc) {
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : "cannot open");
        return -1;
    }
    int dlt = pcap_datalink(pc);
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
        break;
    default:
        snprintf(err, errlen, "link type %s (%d) is not supported (Ethernet, Linux cooked v1/v2, raw IP and loopback are)",
                 pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?", dlt);
        pcap_close(pc);
        return -1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc, ret = 0;
    while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
        int64_t t = (int64_t)h->ts.tv_sec * NS_PER_S + (int64_t)h->ts.tv_usec;
        /* pcapng files may mix interfaces; libpcap presents the first
         * interface's link type for all of them. */
        ska_feed(a, dlt, t, d, h->caplen, h->len);
    }
    if (rc == -1) {
        snprintf(err, errlen, "stopped after %llu packets: %s", (unsigned long long)a->tot.frames,
                 pcap_geterr(pc));
        ret = 1;
    }
    pcap_close(pc);
    return ret;
}

static int cmp_conn_id(const void *x, const void *y)
{
    const ska_conn *a = *(const ska_conn *const *)x, *b = *(const ska_conn *const *)y;
    return a->id < b->id ? -1 : a->id > b->id;
}

size_t ska_live(const ska *a, const ska_conn **out, size_t max)
{
    size_t n = 0;
    for (int l = 0; l < NLISTS; l++)
        for (const ska_conn *c = a->head[l]; c; c = c->next)
            if (n < max)
                out[n++] = c;
    if (n > 1)
        qsort(out, n, sizeof *out, cmp_conn_id);
    return n;
}

void ska_finish(ska *a)
{
    if (a->finished)
        return;
    a->finished = true;
    size_t n = a->nlive;
    ska_conn **v = n ? malloc(n * sizeof *v) : NULL;
    if (n && !v) {
        while (a->nlive) /* out of memory: retire in list order */
            for (int l = 0; l < NLISTS; l++)
                if (a->head[l])
                    retire(a, a->head[l]);
    } else {
        ska_live(a, (const ska_conn **)v, n);
        for (size_t i = 0; i < n; i++)
            retire(a, v[i]);
        free(v);
    }

    /* many-short-connections */
    for (size_t k = 0; k < SHORT_SLOTS; k++) {
        short_tally *st = &a->shorts[k];
        if (!st->used || st->count < a->o.short_min)
            continue;
        ska_finding *f = fnd(a, F_SHORT_CONNS, SKA_WARNING, 0);
        f->count += st->count;
        f->events++;
        char sa[80];
        ska_format_addr(&st->server, sa, sizeof sa);
        if (f->nconns < SKA_FINDING_CONNS_MAX)
            f->conns[f->nconns++] = st->first_conn;
        evid(f, st->first_conn, 0, 0,
             "%llu connections to %s lasted under %.1f s each (mean %.1f ms), handshake and teardown included",
             (unsigned long long)st->count, sa, a->o.short_secs,
             (double)st->total_ns / (double)st->count / 1e6);
    }
    if (a->icmp_ptb) {
        ska_finding *f = fnd(a, F_MTU, SKA_INFO, 0);
        f->c = a->icmp_ptb;
        if (a->icmp_ptb_unmatched || !f->count) {
            char t1[32];
            ska_format_time(a->icmp_ptb_first_time, t1, sizeof t1);
            evid(f, 0, a->icmp_ptb_first_pkt, a->icmp_ptb_first_time,
                 "%llu ICMP fragmentation-needed / Packet Too Big message%s, the first at pkt %llu (%s) "
                 "giving next-hop MTU %u",
                 (unsigned long long)a->icmp_ptb, a->icmp_ptb == 1 ? "" : "s",
                 (unsigned long long)a->icmp_ptb_first_pkt, t1, a->icmp_ptb_mtu);
        }
        if (!f->count)
            f->count = a->icmp_ptb;
    }

    /* Summaries and fixes. */
    ska_finding *f;
    f = &a->f[F_SYN_REFUSED];
    snprintf(f->summary, sizeof f->summary, "%llu connection attempt%s refused: the SYN was answered by RST",
             (unsigned long long)f->count, f->count == 1 ? "" : "s");
    snprintf(f->fix, sizeof f->fix,
             "nothing listens on that address and port (Linux answers a SYN for a closed port with RST; a full "
             "accept queue drops instead), or a firewall rejects with tcp-reset: start the service or fix the "
             "port, check with `ss -ltn 'sport = :PORT'` on the server and the firewall's REJECT rules");
    f = &a->f[F_SYN_UNANSWERED];
    snprintf(f->summary, sizeof f->summary,
             "%llu connection attempt%s never answered (%llu SYNs in all): filtered, host down, or dropped",
             (unsigned long long)f->count, f->count == 1 ? "" : "s", (unsigned long long)f->events);
    snprintf(f->fix, sizeof f->fix,
             "check the route and the host (`ip route get`, ARP/neighbour `ip neigh`), firewalls that DROP "
             "(nft/iptables counters), and on the server `nstat -az TcpExtListenDrops TcpExtListenOverflows` "
             "(a full queue with net.ipv4.tcp_syncookies=0 drops SYNs silently); the client retries "
             "net.ipv4.tcp_syn_retries times (6: about 127 s) before connect() fails with ETIMEDOUT");
    f = &a->f[F_SYN_RETRANS];
    snprintf(f->summary, sizeof f->summary,
             "%llu connection%s sent the SYN again before an answer (%llu extra SYNs, %llu answered in the end)",
             (unsigned long long)f->count, f->count == 1 ? "" : "s", (unsigned long long)f->events,
             (unsigned long long)f->a);
    snprintf(f->fix, sizeof f->fix,
             "each repeat costs the initial RTO (1 s, doubling): the SYN or the SYN-ACK was lost, or the "
             "server dropped the SYN because its SYN or accept queue was full (server: `nstat -az "
             "TcpExtListenDrops TcpExtListenOverflows`, raise the listen() backlog and net.core.somaxconn, "
             "net.ipv4.tcp_max_syn_backlog; keep net.ipv4.tcp_syncookies=1)");
    f = &a->f[F_SYNACK_RETRANS];
    snprintf(f->summary, sizeof f->summary,
             "%llu connection%s where the server sent its SYN-ACK again (%llu extra; %llu after a repeated SYN)",
             (unsigned long long)f->count, f->count == 1 ? "" : "s", (unsigned long long)f->events,
             (unsigned long long)f->a);
    snprintf(f->fix, sizeof f->fix,
             "the client's ACK was lost, or the server's accept queue was full: Linux then drops the ACK "
             "(net.ipv4.tcp_abort_on_overflow=0) and resends the SYN-ACK up to net.ipv4.tcp_synack_retries (5) "
             "times; accept() faster, raise the listen() backlog and net.core.somaxconn, and watch `nstat -az "
             "TcpExtListenOverflows` and `ss -ltn` (Recv-Q at Send-Q means full)");
    f = &a->f[F_CLOSE_WAIT];
    snprintf(f->summary, sizeof f->summary,
             "%llu connection%s where one side acknowledged the peer's FIN and did not close for at least %.1f s "
             "(%llu never sent a FIN)",
             (unsigned long long)f->count, f->count == 1 ? "" : "s", a->o.close_wait_secs,
             (unsigned long long)f->a);
    snprintf(f->fix, sizeof f->fix,
             "the application on that side saw EOF (read() returned 0) and did not close() the socket; Linux "
             "never times CLOSE-WAIT out, so the descriptors leak: close on EOF and on every error path, "
             "find the process with `ss -tanp state close-wait` (or `synack doctor`)");
    f = &a->f[F_TIME_WAIT];
    snprintf(f->summary, sizeof f->summary, "%llu TIME-WAIT: %llu held by clients, %llu by servers",
             (unsigned long long)f->count, (unsigned long long)f->a, (unsigned long long)f->b);
    if (f->b > f->a)
        snprintf(f->fix, sizeof f->fix,
                 "the side that closes first holds TIME-WAIT for 60 s; here the servers close first, so they "
                 "accumulate them (bounded by net.ipv4.tcp_max_tw_buckets): let clients close first (HTTP "
                 "keep-alive), or reuse connections; TIME-WAIT itself is harmless and costs little memory");
    else
        snprintf(f->fix, sizeof f->fix,
                 "normal for the side that closes first (60 s each); a client making many connections to one "
                 "destination can run out of ephemeral ports: reuse connections, widen "
                 "net.ipv4.ip_local_port_range, or set net.ipv4.tcp_tw_reuse=1 (default 2: loopback only)");
    f = &a->f[F_RST_ABORT];
    snprintf(f->summary, sizeof f->summary,
             "%llu connection%s reset by an endpoint (%llu no socket, %llu data after close, %llu unread data at "
             "close, %llu SO_LINGER 0 or unread)",
             (unsigned long long)f->count, f->count == 1 ? "" : "s", (unsigned long long)f->a,
             (unsigned long long)f->b, (unsigned long long)f->c, (unsigned long long)f->d);
    snprintf(f->fix, sizeof f->fix,
             "read the evidence per connection: SO_LINGER {1,0} closes abort on purpose (drop the option unless "
             "TIME-WAIT avoidance is really needed); unread data at close means the application closed without "
             "reading the whole request/response (drain or shutdown(SHUT_WR) first); a RST without ACK means "
             "the peer had lost the connection (restart, crash, conntrack/NAT timeout)");
    f = &a->f[F_RST_MIDDLEBOX];
    snprintf(f->summary, sizeof f->summary,
             "%llu RST%s whose TTL/hop limit or IP ID does not match the endpoint it claims to come from",
             (unsigned long long)f->count, f->count == 1 ? "" : "s");
    snprintf(f->fix, sizeof f->fix,
             "a firewall, IPS or load balancer on the path forged the reset: look for its idle timeouts and "
             "reject rules; capture on both ends to confirm the endpoint never sent it; enable TCP keepalives "
             "(SO_KEEPALIVE, net.ipv4.tcp_keepalive_time) below the middlebox's idle timeout");
    f = &a->f[F_ZERO_WINDOW];
    snprintf(f->summary, sizeof f->summary,
             "%llu connection%s with a receiver advertising a zero window (%llu episodes, %llu segments)",
             (unsigned long long)f->count, f->count == 1 ? "" : "s", (unsigned long long)f->events,
             (unsigned long long)f->a);
    snprintf(f->fix, sizeof f->fix,
             "the receiving application does not read fast enough and its receive buffer is full (Recv-Q in "
             "`ss -tn`): read faster or in a separate thread, or raise SO_RCVBUF / net.ipv4.tcp_rmem; the sender "
             "waits with persist probes meanwhile");
    f = &a->f[F_RETRANS];
    snprintf(f->summary, sizeof f->summary,
             "%llu segments sent again in %llu connection%s (%llu data segments in those)",
             (unsigned long long)f->events, (unsigned long long)f->count, f->count == 1 ? "" : "s",
             (unsigned long long)f->a);
    snprintf(f->fix, sizeof f->fix,
             "packets are lost on the path or at an end: check interface and qdisc drops (`ip -s link`, "
             "`tc -s qdisc`), `nstat -az TcpRetransSegs TcpExtTCPLostRetransmit TcpExtTCPTimeouts`, and "
             "the receiver's buffer pressure (TcpExtTCPRcvQDrop); compare captures at both ends to locate the "
             "drop");
    f = &a->f[F_SHORT_CONNS];
    snprintf(f->summary, sizeof f->summary,
             "%llu short connections to %llu server endpoint%s: one connection per request",
             (unsigned long long)f->count, (unsigned long long)f->events, f->events == 1 ? "" : "s");
    snprintf(f->fix, sizeof f->fix,
             "every connection costs a handshake RTT, slow start, and a TIME-WAIT entry on the closing side: "
             "keep connections open and reuse them (HTTP keep-alive, connection pools); if they must stay "
             "short, widen net.ipv4.ip_local_port_range and consider net.ipv4.tcp_tw_reuse=1 on the client");
    f = &a->f[F_MTU];
    if (!f->d)
        snprintf(f->summary, sizeof f->summary,
                 "%llu ICMP fragmentation-needed / Packet Too Big message%s: a link on the path has a smaller MTU; "
                 "PMTU discovery is at work, and a blackhole where such messages are filtered",
                 (unsigned long long)f->c, f->c == 1 ? "" : "s");
    else
    snprintf(f->summary, sizeof f->summary,
             "%llu connection%s with full-size segments lost while small ones pass, %llu ICMP fragmentation-"
             "needed/Packet Too Big",
             (unsigned long long)f->d, f->d == 1 ? "" : "s", (unsigned long long)f->c);
    snprintf(f->fix, sizeof f->fix,
             "a link on the path has a smaller MTU: if its ICMP fragmentation-needed (IPv4) / Packet Too Big "
             "(IPv6) messages are filtered, PMTU discovery cannot work: let them through, clamp the MSS on the "
             "router (TCPMSS --clamp-mss-to-pmtu), set a lower MTU or advmss on the route (`ip route ... mtu`), "
             "or enable net.ipv4.tcp_mtu_probing=1");
}

int ska_get_findings(const ska *a, const ska_finding **out, int max)
{
    int n = 0;
    for (int i = 0; i < SKA_NFINDINGS; i++)
        if (a->f[i].count > 0 && n < max)
            out[n++] = &a->f[i];
    return n;
}
