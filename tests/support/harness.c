/*
 * Scenario-test harness (see harness.h).
 */
#include "harness.h"
#include "observe/trace.h"

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return q;
}

static void grow(void **array, size_t *cap, size_t elem, size_t need)
{
    if (need <= *cap)
        return;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    *array = xrealloc(*array, ncap * elem);
    *cap = ncap;
}

static uint64_t mix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void format_addr(char *buf, size_t len, uint32_t a)
{
    snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

static const sk_fixture_host *host_by_stack(const sk_fixture *f, const sk_stack *s)
{
    for (size_t i = 0; i < f->host_count; i++)
        if (f->hosts[i].stack == s)
            return &f->hosts[i];
    return NULL;
}

const char *sk_test_label(const sk_fixture *f, uint32_t addr)
{
    for (size_t i = 0; i < f->host_count; i++)
        if (f->hosts[i].addr == addr)
            return f->hosts[i].label;
    return "?";
}

static bool label_only(const sk_fixture *f, uint32_t addr)
{
    for (size_t i = 0; i < f->host_count; i++)
        if (f->hosts[i].addr == addr)
            return f->hosts[i].stack == NULL;
    return false;
}

/* The host (its IPv4 address, which names it) holding an IPv6 address,
 * 0 if none: IPv6 segments are labelled and keyed by their hosts. */
static uint32_t host_of_addr6(const sk_fixture *f, const uint8_t a[16])
{
    for (size_t i = 0; i < f->host_count; i++) {
        if (!f->hosts[i].stack)
            continue; /* a label the test plays (sk_test_add_label) */
        sk_endpoint eps[16];
        size_t n = sk_stack_addrs(f->hosts[i].stack, eps, NULL, 16);
        for (size_t k = 0; k < n && k < 16; k++)
            if (eps[k].family == SK_AF_INET6 && memcmp(eps[k].addr6, a, 16) == 0)
                return f->hosts[i].addr;
    }
    return 0;
}

/* A segment's ends as the trace keys them: IPv4 addresses, or for IPv6
 * the addresses of the hosts holding them (the ISN entries keep the
 * version apart). */
static void seg_hosts(const sk_fixture *f, const sk_segment *s, uint32_t *src, uint32_t *dst)
{
    if (s->ip_version == 6) {
        *src = host_of_addr6(f, s->src6);
        *dst = host_of_addr6(f, s->dst6);
    } else {
        *src = s->src;
        *dst = s->dst;
    }
}

/* ------------------------------------------------------------------ */
/* State names                                                          */
/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    int state;
} state_names[] = {
    {"ESTABLISHED", SK_TCP_ESTABLISHED}, {"SYN_SENT", SK_TCP_SYN_SENT},
    {"SYN_RECV", SK_TCP_SYN_RECV},       {"SYN_RECEIVED", SK_TCP_SYN_RECV},
    {"SYN_RCVD", SK_TCP_SYN_RECV},       {"FIN_WAIT_1", SK_TCP_FIN_WAIT1},
    {"FIN_WAIT1", SK_TCP_FIN_WAIT1},     {"FIN_WAIT_2", SK_TCP_FIN_WAIT2},
    {"FIN_WAIT2", SK_TCP_FIN_WAIT2},     {"TIME_WAIT", SK_TCP_TIME_WAIT},
    {"CLOSED", SK_TCP_CLOSE},            {"CLOSE", SK_TCP_CLOSE},
    {"CLOSE_WAIT", SK_TCP_CLOSE_WAIT},   {"LAST_ACK", SK_TCP_LAST_ACK},
    {"LISTEN", SK_TCP_LISTEN},           {"CLOSING", SK_TCP_CLOSING},
};

const char *sk_test_state_name(int state)
{
    if (state == 0)
        return "NEW";
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (state_names[i].state == state)
            return state_names[i].name;
    return "?";
}

static int parse_state_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (strlen(state_names[i].name) == len && strncmp(state_names[i].name, name, len) == 0)
            return state_names[i].state;
    return -1;
}

/* ------------------------------------------------------------------ */
/* ISN table: relative sequence numbers as tcpdump prints them           */
/* ------------------------------------------------------------------ */

static struct sk_isn_entry *isn_find(const sk_fixture *f, uint32_t src, uint16_t sport, uint32_t dst,
                                     uint16_t dport, bool v6)
{
    for (size_t i = 0; i < f->isn_len; i++) {
        struct sk_isn_entry *e = &f->isns[i];
        if (e->src == src && e->sport == sport && e->dst == dst && e->dport == dport && e->v6 == v6)
            return e;
    }
    return NULL;
}

/* A SYN names the flow's ISN; a SYN with a new number on a known tuple
 * starts a new incarnation (TIME_WAIT reuse), so it replaces the old. */
static void isn_learn(sk_fixture *f, const sk_segment *seg)
{
    uint32_t src, dst;
    bool v6 = seg->ip_version == 6;
    seg_hosts(f, seg, &src, &dst);
    struct sk_isn_entry *e = isn_find(f, src, seg->sport, dst, seg->dport, v6);
    if (!e) {
        grow((void **)&f->isns, &f->isn_cap, sizeof *f->isns, f->isn_len + 1);
        e = &f->isns[f->isn_len++];
        e->src = src;
        e->sport = seg->sport;
        e->dst = dst;
        e->dport = seg->dport;
        e->v6 = v6;
    }
    e->isn = seg->seq;
}

/* Fills everything of an entry derived from its bytes. */
static void entry_fill(const sk_fixture *f, sk_trace_entry *e)
{
    e->parse_error = sk_parse_segment(e->bytes, e->len, true, &e->seg);
    e->parsed = e->parse_error == SK_PARSE_OK;
    if (!e->parsed) {
        /* Still name the hosts when the IP header is readable. */
        e->from = e->len >= 20 ? sk_test_label(f, (uint32_t)e->bytes[12] << 24 |
                                                      (uint32_t)e->bytes[13] << 16 |
                                                      (uint32_t)e->bytes[14] << 8 | e->bytes[15])
                               : "?";
        e->to = e->len >= 20 ? sk_test_label(f, (uint32_t)e->bytes[16] << 24 |
                                                    (uint32_t)e->bytes[17] << 16 |
                                                    (uint32_t)e->bytes[18] << 8 | e->bytes[19])
                             : "?";
        e->seq_known = e->ack_known = false;
        return;
    }
    const sk_segment *s = &e->seg;
    uint32_t src, dst;
    bool v6 = s->ip_version == 6;
    seg_hosts(f, s, &src, &dst);
    e->from = sk_test_label(f, src);
    e->to = sk_test_label(f, dst);
    const struct sk_isn_entry *mine = isn_find(f, src, s->sport, dst, s->dport, v6);
    const struct sk_isn_entry *theirs = isn_find(f, dst, s->dport, src, s->sport, v6);
    e->seq_known = mine != NULL;
    e->rel_seq = mine ? s->seq - mine->isn : s->seq;
    e->ack_known = theirs != NULL;
    e->rel_ack = theirs ? s->ack - theirs->isn : s->ack;
}

/* ------------------------------------------------------------------ */
/* Descriptions                                                         */
/* ------------------------------------------------------------------ */

typedef struct seg_desc {
    char from[8], to[8];
    bool any_flags;
    uint16_t flags;
    bool has_seq, has_end, has_ack, has_len, has_win, abs;
    uint32_t seq, end, ack, len, win;
} seg_desc;

static bool parse_flags(const char *tok, uint16_t *flags, bool *any)
{
    *flags = 0;
    *any = false;
    size_t n = strlen(tok);
    if (n >= 2 && tok[0] == '[' && tok[n - 1] == ']') {
        tok++;
        n -= 2;
    }
    if (n == 1 && tok[0] == '*') {
        *any = true;
        return true;
    }
    if (n == 4 && strncmp(tok, "none", 4) == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        switch (tok[i]) {
        case 'F': *flags |= SK_TH_FIN; break;
        case 'S': *flags |= SK_TH_SYN; break;
        case 'R': *flags |= SK_TH_RST; break;
        case 'P': *flags |= SK_TH_PSH; break;
        case 'U': *flags |= SK_TH_URG; break;
        case 'E': *flags |= SK_TH_ECE; break;
        case 'W': *flags |= SK_TH_CWR; break;
        case '.': *flags |= SK_TH_ACK; break;
        default: return false;
        }
    }
    return n > 0;
}

bool sk_test_parse_flags(const char *tok, uint16_t *flags)
{
    bool any;
    return parse_flags(tok, flags, &any) && !any;
}

static void format_flags(uint16_t flags, char *buf)
{
    static const struct {
        uint16_t bit;
        char c;
    } order[] = {{SK_TH_FIN, 'F'}, {SK_TH_SYN, 'S'}, {SK_TH_RST, 'R'}, {SK_TH_PSH, 'P'},
                 {SK_TH_URG, 'U'}, {SK_TH_ECE, 'E'}, {SK_TH_CWR, 'W'}, {SK_TH_ACK, '.'}};
    size_t n = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (flags & order[i].bit)
            buf[n++] = order[i].c;
    if (n == 0) {
        strcpy(buf, "none");
        return;
    }
    buf[n] = '\0';
}

static bool parse_u32(const char *s, uint32_t *out, const char **end)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (e == s || errno || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    if (end)
        *end = e;
    return true;
}

/* Returns NULL on success or a message naming what is wrong. */
static const char *parse_desc(const char *desc, seg_desc *d)
{
    memset(d, 0, sizeof *d);
    char buf[128];
    if (strlen(desc) >= sizeof buf)
        return "description too long";
    strcpy(buf, desc);
    char *save = NULL;
    char *tok = strtok_r(buf, " \t", &save);
    if (!tok)
        return "empty description";
    char *gt = strchr(tok, '>');
    if (!gt || gt == tok || !gt[1] || (size_t)(gt - tok) >= sizeof d->from ||
        strlen(gt + 1) >= sizeof d->to)
        return "expected FROM>TO first";
    memcpy(d->from, tok, (size_t)(gt - tok));
    strcpy(d->to, gt + 1);
    tok = strtok_r(NULL, " \t", &save);
    if (!tok)
        return "missing flags";
    if (!parse_flags(tok, &d->flags, &d->any_flags))
        return "bad flags (use letters FSRPUEW and '.', 'none' or '*')";
    while ((tok = strtok_r(NULL, " \t,", &save)) != NULL) {
        if (strcmp(tok, "abs") == 0) {
            d->abs = true;
            continue;
        }
        char *val = strtok_r(NULL, " \t,", &save);
        if (!val)
            return "field without a value";
        const char *end;
        if (strcmp(tok, "seq") == 0) {
            if (!parse_u32(val, &d->seq, &end))
                return "bad seq";
            d->has_seq = true;
            if (*end == ':') {
                if (!parse_u32(end + 1, &d->end, &end) || *end)
                    return "bad seq range";
                d->has_end = true;
            } else if (*end) {
                return "bad seq";
            }
        } else if (strcmp(tok, "ack") == 0) {
            if (!parse_u32(val, &d->ack, &end) || *end)
                return "bad ack";
            d->has_ack = true;
        } else if (strcmp(tok, "len") == 0) {
            if (!parse_u32(val, &d->len, &end) || *end)
                return "bad len";
            d->has_len = true;
        } else if (strcmp(tok, "win") == 0) {
            if (!parse_u32(val, &d->win, &end) || *end)
                return "bad win";
            d->has_win = true;
        } else {
            return "unknown field (seq, ack, len, win, abs)";
        }
    }
    return NULL;
}

static bool desc_matches(const seg_desc *d, const sk_trace_entry *e)
{
    if (strcmp(d->from, "*") != 0 && strcmp(d->from, e->from) != 0)
        return false;
    if (strcmp(d->to, "*") != 0 && strcmp(d->to, e->to) != 0)
        return false;
    if (!e->parsed)
        return false;
    const sk_segment *s = &e->seg;
    if (!d->any_flags && (s->flags & 0xff) != d->flags)
        return false;
    uint32_t seq = d->abs ? s->seq : e->rel_seq;
    uint32_t ack = d->abs ? s->ack : e->rel_ack;
    if (d->has_seq && seq != d->seq)
        return false;
    if (d->has_end && s->payload_len != (size_t)(d->end - d->seq))
        return false;
    if (d->has_ack && ack != d->ack)
        return false;
    if (d->has_len && s->payload_len != d->len)
        return false;
    if (d->has_win && s->window != d->win)
        return false;
    return true;
}

static void parse_desc_or_fail(const char *desc, seg_desc *d, const char *file, int line)
{
    const char *err = parse_desc(desc, d);
    if (err) {
        fprintf(stderr, "%s:%d: bad segment description \"%s\": %s\n", file, line, desc, err);
        _fail(file, line);
    }
}

bool sk_test_matches(const sk_fixture *f, const sk_trace_entry *e, const char *desc)
{
    (void)f;
    seg_desc d;
    parse_desc_or_fail(desc, &d, __FILE__, __LINE__);
    return desc_matches(&d, e);
}

/* ------------------------------------------------------------------ */
/* Printing                                                             */
/* ------------------------------------------------------------------ */

static const char *fate_name(sk_wire_fate fate)
{
    switch (fate) {
    case SK_WIRE_SENT: return "";
    case SK_WIRE_DELIVERED: return "";
    case SK_WIRE_LOST: return "  LOST";
    case SK_WIRE_TOO_BIG: return "  TOO-BIG";
    case SK_WIRE_NO_ROUTE: return "  NO-ROUTE";
    }
    return "";
}

void sk_test_format_entry(const sk_fixture *f, const sk_trace_entry *e, char *buf, size_t len)
{
    sk_time_ns t = e->time - f->start;
    int n = snprintf(buf, len, "#%-4zu %4llu.%06llu %s>%s ", e->index,
                     (unsigned long long)(t / SK_NSEC_PER_SEC),
                     (unsigned long long)(t % SK_NSEC_PER_SEC / 1000), e->from, e->to);
    if (n < 0 || (size_t)n >= len)
        return;
    if (!e->parsed) {
        snprintf(buf + n, len - (size_t)n, "unparseable (%s), %zu bytes%s%s",
                 sk_parse_error_name(e->parse_error), e->len, e->injected ? "  (injected)" : "",
                 fate_name(e->fate));
        return;
    }
    const sk_segment *s = &e->seg;
    char src[48], dst[48], flags[12], seq[48], ack[32] = "";
    if (s->ip_version == 6) {
        inet_ntop(AF_INET6, s->src6, src, sizeof src);
        inet_ntop(AF_INET6, s->dst6, dst, sizeof dst);
    } else {
        format_addr(src, sizeof src, s->src);
        format_addr(dst, sizeof dst, s->dst);
    }
    format_flags(s->flags, flags);
    if (s->payload_len)
        snprintf(seq, sizeof seq, "seq %u:%u%s", e->rel_seq, e->rel_seq + (uint32_t)s->payload_len,
                 e->seq_known ? "" : " (abs)");
    else
        snprintf(seq, sizeof seq, "seq %u%s", e->rel_seq, e->seq_known ? "" : " (abs)");
    if (s->flags & SK_TH_ACK)
        snprintf(ack, sizeof ack, ", ack %u%s", e->rel_ack, e->ack_known ? "" : " (abs)");
    /* A label without a stack is a peer the test plays: what reaches it
     * finds no route on the wire but is no loss. */
    bool to_test = e->fate == SK_WIRE_NO_ROUTE && label_only(f, s->dst);
    snprintf(buf + n, len - (size_t)n, "%s.%u > %s.%u [%s] %s%s, win %u, len %zu%s%s%s", src,
             s->sport, dst, s->dport, flags, seq, ack, s->window, s->payload_len,
             e->injected ? "  (injected)" : "", to_test ? "" : fate_name(e->fate),
             e->fate == SK_WIRE_SENT && e->delivered > 1 ? "  (x2)" : "");
}

void sk_test_print_trace(const sk_fixture *f, size_t mark)
{
    char line[256];
    fprintf(stderr, "---- trace (%zu datagrams; => marks the cursor) ----\n", f->trace_len);
    for (size_t i = 0; i < f->trace_len; i++) {
        sk_test_format_entry(f, &f->trace[i], line, sizeof line);
        fprintf(stderr, "%s %s\n", i == mark ? "=>" : "  ", line);
    }
    if (mark >= f->trace_len)
        fprintf(stderr, "=> (end)\n");
}

void sk_test_print_transitions(const sk_fixture *f)
{
    fprintf(stderr, "---- state transitions ----\n");
    for (size_t i = 0; i < f->change_len; i++) {
        const sk_state_change *c = &f->changes[i];
        sk_time_ns t = c->time - f->start;
        fprintf(stderr, "   %4llu.%06llu %-3s fd %-3d %u > %u  %s -> %s  (%s)\n",
                (unsigned long long)(t / SK_NSEC_PER_SEC),
                (unsigned long long)(t % SK_NSEC_PER_SEC / 1000), c->host, c->fd, c->local.port,
                c->remote.port, sk_test_state_name(c->from), sk_test_state_name(c->to), c->cause);
    }
}

/* ------------------------------------------------------------------ */
/* Wire callbacks                                                       */
/* ------------------------------------------------------------------ */

static void record(sk_fixture *f, sk_time_ns now, const uint8_t *d, size_t len, bool injected)
{
    /* Unrecorded runs (floods, fuzzing) learn no ISNs either: the table
     * is searched linearly and would grow with every tuple. */
    if (!f->recording) {
        f->last_sent_valid = false;
        return;
    }
    sk_segment probe;
    if (!injected && sk_parse_segment(d, len, true, &probe) == SK_PARSE_OK &&
        (probe.flags & SK_TH_SYN))
        isn_learn(f, &probe);

    sk_trace_entry e;
    memset(&e, 0, sizeof e);
    e.time = now;
    e.fate = SK_WIRE_SENT;
    e.injected = injected;
    e.len = len;
    e.bytes = xrealloc(NULL, len ? len : 1);
    memcpy(e.bytes, d, len);
    entry_fill(f, &e);
    e.index = f->trace_len;
    grow((void **)&f->trace, &f->trace_cap, sizeof *f->trace, f->trace_len + 1);
    f->trace[f->trace_len++] = e;
    f->last_sent_valid = true;
}

static void tap(void *ctx, sk_time_ns now, sk_wire_fate fate, const uint8_t *d, size_t len)
{
    sk_fixture *f = ctx;
    switch (fate) {
    case SK_WIRE_SENT:
        record(f, now, d, len, f->injecting);
        break;
    case SK_WIRE_LOST:
    case SK_WIRE_TOO_BIG:
    case SK_WIRE_NO_ROUTE:
        /* The wire reports a send-time drop right after its SENT. */
        if (f->last_sent_valid && f->trace_len)
            f->trace[f->trace_len - 1].fate = fate;
        break;
    case SK_WIRE_DELIVERED: {
        if (!f->recording)
            break;
        /* Credit the oldest undelivered identical datagram, else the
         * newest identical one (a duplicate). */
        size_t lo = f->trace_len > 4096 ? f->trace_len - 4096 : 0;
        sk_trace_entry *oldest = NULL, *newest = NULL;
        for (size_t i = f->trace_len; i-- > lo;) {
            sk_trace_entry *e = &f->trace[i];
            if (e->fate != SK_WIRE_SENT || e->len != len || memcmp(e->bytes, d, len) != 0)
                continue;
            if (!newest)
                newest = e;
            if (e->delivered == 0)
                oldest = e;
        }
        if (oldest)
            oldest->delivered++;
        else if (newest)
            newest->delivered++;
        break;
    }
    }
}

static bool drop_filter(void *ctx, sk_time_ns now, const uint8_t *d, size_t len)
{
    sk_fixture *f = ctx;
    (void)now;
    if (f->drop_count == 0)
        return false;
    sk_trace_entry e;
    memset(&e, 0, sizeof e);
    e.bytes = (uint8_t *)d;
    e.len = len;
    entry_fill(f, &e);
    for (size_t i = 0; i < f->drop_count; i++) {
        sk_drop_rule *r = &f->drops[i];
        if (r->remaining == 0)
            continue;
        seg_desc sd;
        if (parse_desc(r->desc, &sd) != NULL || !desc_matches(&sd, &e))
            continue;
        if (r->remaining > 0)
            r->remaining--;
        return true;
    }
    return false;
}

/* Each host's event context: the fixture and the host's slot. */
struct host_ctx {
    sk_fixture *f;
    size_t host;
};

static void on_event(void *ctx, const sk_event *ev)
{
    const struct host_ctx *hc = ctx;
    sk_fixture *f = hc->f;
    const sk_fixture_host *h = &f->hosts[hc->host];
    if (ev->type == SK_EV_STATE) {
        grow((void **)&f->changes, &f->change_cap, sizeof *f->changes, f->change_len + 1);
        sk_state_change *c = &f->changes[f->change_len++];
        memset(c, 0, sizeof *c);
        c->time = ev->now;
        c->host = h->label;
        c->fd = ev->fd;
        sk_event_endpoints(ev, &c->local, &c->remote);
        c->from = ev->from_state;
        c->to = ev->to_state;
        snprintf(c->cause, sizeof c->cause, "%s", ev->cause ? ev->cause : "");
        /* Every state event's cause string is its enum's name. */
        assert_non_null(ev->cause);
        assert_string_equal(ev->cause, sk_state_cause_name(ev->state_cause));
        assert_true(ev->state_cause > SK_CAUSE_NONE && ev->state_cause < SK_CAUSE_COUNT);
    }
    if (ev->type == SK_EV_DROP) {
        /* Every drop event's reason string is its counter's name. */
        const char *group = NULL;
        assert_non_null(ev->reason);
        assert_string_equal(ev->reason, sk_counter_name(ev->drop_counter, &group));
        assert_non_null(group);
    }
    if (f->on_event)
        f->on_event(f->event_ctx, ev);
}

/* ------------------------------------------------------------------ */
/* Fixture                                                              */
/* ------------------------------------------------------------------ */

/* One context per host slot, allocated with the fixture's hosts. */
typedef struct fixture_box {
    sk_fixture f;
    struct host_ctx ctx[SK_TEST_MAX_HOSTS];
} fixture_box;

sk_stack *sk_test_add_host(sk_fixture *f, const char *label, uint32_t addr)
{
    assert_true(f->host_count < SK_TEST_MAX_HOSTS);
    fixture_box *box = (fixture_box *)f;
    size_t i = f->host_count;
    sk_fixture_host *h = &f->hosts[i];
    h->addr = addr;
    snprintf(h->label, sizeof h->label, "%s", label);
    box->ctx[i].f = f;
    box->ctx[i].host = i;

    sk_stack_params p;
    memset(&p, 0, sizeof p);
    uint64_t x = f->seed * 0x9e3779b97f4a7c15ull ^ addr;
    p.seed = mix64(&x);
    for (size_t k = 0; k < sizeof p.secret; k += 8) {
        uint64_t v = mix64(&x);
        memcpy(p.secret + k, &v, 8);
    }
    p.on_event = on_event;
    p.event_ctx = &box->ctx[i];
    f->host_count++;
    h->stack = sk_wire_add_host(f->wire, addr, &p);
    assert_non_null(h->stack);
    return h->stack;
}

void sk_test_add_label(sk_fixture *f, const char *label, uint32_t addr)
{
    assert_true(f->host_count < SK_TEST_MAX_HOSTS);
    assert_null(sk_wire_host(f->wire, addr));
    sk_fixture_host *h = &f->hosts[f->host_count++];
    memset(h, 0, sizeof *h);
    h->addr = addr;
    snprintf(h->label, sizeof h->label, "%s", label);
}

void sk_test_learn_isn(sk_fixture *f, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                       uint32_t isn)
{
    sk_segment syn;
    memset(&syn, 0, sizeof syn);
    syn.src = src;
    syn.sport = sport;
    syn.dst = dst;
    syn.dport = dport;
    syn.seq = isn;
    syn.ip_version = 4;
    isn_learn(f, &syn);
}

sk_fixture *sk_test_fixture_new(const sk_fixture_opts *opts)
{
    fixture_box *box = calloc(1, sizeof *box);
    assert_non_null(box);
    sk_fixture *f = &box->f;
    f->seed = opts && opts->seed ? opts->seed : 1;
    f->delay = opts && opts->delay ? opts->delay : MSEC(10);
    f->start = opts && opts->start ? opts->start : SEC(1);
    f->recording = true;
    f->listen_fd = -1;
    f->wire = sk_wire_new(f->seed, f->start);
    assert_non_null(f->wire);
    sk_wire_set_tap(f->wire, tap, f);
    sk_wire_set_filter(f->wire, drop_filter, f);
    sk_link_params lp;
    memset(&lp, 0, sizeof lp);
    lp.delay = f->delay;
    sk_wire_set_link(f->wire, 0, 0, &lp);
    f->client = sk_test_add_host(f, "c", SK_TEST_CLIENT_ADDR);
    f->server = sk_test_add_host(f, "s", SK_TEST_SERVER_ADDR);
    return f;
}

void sk_test_fixture_free(sk_fixture *f)
{
    if (!f)
        return;
    sk_wire_free(f->wire);
    for (size_t i = 0; i < f->trace_len; i++)
        free(f->trace[i].bytes);
    free(f->trace);
    free(f->changes);
    free(f->isns);
    free((fixture_box *)f);
}

int sk_test_setup(void **state)
{
    *state = sk_test_fixture_new(NULL);
    return *state ? 0 : -1;
}

int sk_test_teardown(void **state)
{
    sk_test_fixture_free(*state);
    *state = NULL;
    return 0;
}

void sk_test_set_link(sk_fixture *f, uint32_t from, uint32_t to, const sk_link_params *p)
{
    sk_link_params lp = *p;
    if (lp.delay == 0)
        lp.delay = f->delay;
    sk_wire_set_link(f->wire, from, to, &lp);
}

void sk_test_sysctl(sk_stack *s, const char *name, const char *value)
{
    char err[160] = "";
    int rc = sk_sysctl_set(s, name, value, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "sysctl %s=%s: %d %s\n", name, value, rc, err);
    assert_int_equal(rc, 0);
}

/* ------------------------------------------------------------------ */
/* Running                                                              */
/* ------------------------------------------------------------------ */

sk_time_ns sk_test_elapsed(const sk_fixture *f)
{
    return sk_wire_now(f->wire) - f->start;
}

void sk_test_run_for(sk_fixture *f, sk_time_ns d)
{
    sk_wire_run_for(f->wire, d);
}

void sk_test_run_until(sk_fixture *f, sk_time_ns abs)
{
    sk_wire_run_until(f->wire, abs);
}

bool sk_test_run_until_pred(sk_fixture *f, bool (*pred)(void *ctx), void *ctx, sk_time_ns within)
{
    return sk_wire_run_until_pred(f->wire, pred, ctx, sk_wire_now(f->wire) + within);
}

struct state_wait {
    sk_stack *s;
    int fd, state;
};

static bool state_reached(void *ctx)
{
    struct state_wait *w = ctx;
    return sk_state(w->s, w->fd) == w->state;
}

bool sk_test_run_until_state(sk_fixture *f, sk_stack *s, int fd, int state, sk_time_ns within)
{
    struct state_wait w = {s, fd, state};
    return sk_test_run_until_pred(f, state_reached, &w, within);
}

void sk_test_assert_state_reached(sk_fixture *f, sk_stack *s, int fd, int state, sk_time_ns within,
                                  const char *file, int line)
{
    if (sk_test_run_until_state(f, s, fd, state, within))
        return;
    const sk_fixture_host *h = host_by_stack(f, s);
    int now = sk_state(s, fd);
    fprintf(stderr, "%s:%d: %s fd %d never reached %s (now %s, %d) within %llu ms\n", file, line,
            h ? h->label : "?", fd, sk_test_state_name(state),
            now > 0 ? sk_test_state_name(now) : sk_errno_name(now), now,
            (unsigned long long)(within / SK_NSEC_PER_MSEC));
    sk_test_print_trace(f, f->cursor);
    sk_test_print_transitions(f);
    _fail(file, line);
}

/* ------------------------------------------------------------------ */
/* Sockets                                                              */
/* ------------------------------------------------------------------ */

int sk_test_listen(sk_fixture *f, sk_stack *s, uint16_t port, int backlog)
{
    int fd = sk_socket(s);
    assert_true(fd >= 0);
    sk_endpoint local = {.addr = sk_stack_addr(s), .port = port, .family = SK_AF_INET};
    assert_int_equal(sk_bind(s, fd, &local), 0);
    assert_int_equal(sk_listen(s, fd, backlog), 0);
    if (s == f->server) {
        f->listen_fd = fd;
        f->listen_port = port;
    }
    return fd;
}

int sk_test_connect(sk_fixture *f, sk_stack *s, uint32_t addr, uint16_t port)
{
    (void)f;
    int fd = sk_socket(s);
    assert_true(fd >= 0);
    sk_endpoint remote = {.addr = addr, .port = port, .family = SK_AF_INET};
    int rc = sk_connect(s, fd, &remote);
    if (rc != -EINPROGRESS)
        fprintf(stderr, "connect: %d (%s)\n", rc, sk_errno_name(rc));
    assert_int_equal(rc, -EINPROGRESS);
    return fd;
}

struct establish_wait {
    sk_fixture *f;
    int cfd;
    int sfd;
};

static bool established_and_accepted(void *ctx)
{
    struct establish_wait *w = ctx;
    if (w->sfd < 0) {
        sk_endpoint peer;
        int fd = sk_accept(w->f->server, w->f->listen_fd, &peer);
        if (fd >= 0)
            w->sfd = fd;
    }
    return w->sfd >= 0 && sk_state(w->f->client, w->cfd) == SK_TCP_ESTABLISHED;
}

sk_conn_pair sk_test_establish(sk_fixture *f, uint16_t port)
{
    int cfd = sk_socket(f->client);
    assert_true(cfd >= 0);
    return sk_test_establish_socket(f, cfd, port);
}

sk_conn_pair sk_test_establish_socket(sk_fixture *f, int cfd, uint16_t port)
{
    if (f->listen_fd < 0 || f->listen_port != port)
        sk_test_listen(f, f->server, port, 128);
    sk_conn_pair p;
    memset(&p, 0, sizeof p);
    p.cfd = cfd;
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = port, .family = SK_AF_INET};
    int rc = sk_connect(f->client, cfd, &remote);
    if (rc != -EINPROGRESS)
        fprintf(stderr, "connect: %d (%s)\n", rc, sk_errno_name(rc));
    assert_int_equal(rc, -EINPROGRESS);
    struct establish_wait w = {f, p.cfd, -1};
    if (!sk_test_run_until_pred(f, established_and_accepted, &w, SEC(5))) {
        fprintf(stderr, "handshake did not complete: client %s, accepted fd %d\n",
                sk_test_state_name(sk_state(f->client, p.cfd)), w.sfd);
        sk_test_print_trace(f, f->cursor);
        sk_test_print_transitions(f);
        fail();
    }
    p.sfd = w.sfd;
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);
    p.cport = sk_test_local_port(f->client, p.cfd);
    p.sport = port;
    return p;
}

sk_conn_pair sk_test_establish6(sk_fixture *f, uint16_t port)
{
    int l = sk_socket_family(f->server, SK_AF_INET6);
    assert_true(l >= 0);
    sk_endpoint any = sk_test_ep6("::", port);
    assert_int_equal(sk_bind(f->server, l, &any), 0);
    assert_int_equal(sk_listen(f->server, l, 16), 0);
    sk_conn_pair p;
    memset(&p, 0, sizeof p);
    p.cfd = sk_socket_family(f->client, SK_AF_INET6);
    assert_true(p.cfd >= 0);
    sk_endpoint r = sk_test_ep6("fd00::2", port);
    assert_int_equal(sk_connect(f->client, p.cfd, &r), -EINPROGRESS);
    ASSERT_RUN_UNTIL_STATE(f, f->client, p.cfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(50));
    sk_endpoint peer;
    p.sfd = sk_accept(f->server, l, &peer);
    assert_true(p.sfd >= 0);
    return p;
}

int sk_test_so_error(sk_stack *s, int fd)
{
    int err = -1;
    size_t len = sizeof err;
    assert_int_equal(sk_getsockopt(s, fd, SK_SOL_SOCKET, SK_SO_ERROR, &err, &len), 0);
    return err;
}

void sk_test_expect_probes(const sk_fixture *f, size_t from, const sk_test_probe *probes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char desc[32];
        snprintf(desc, sizeof desc, "c>s * len %u", probes[i].len);
        const sk_trace_entry *pe = sk_test_find(f, from, desc);
        if (!pe)
            fail_msg("no probe of %u bytes after #%zu", probes[i].len, from);
        assert_int_equal(pe->fate, probes[i].fits ? SK_WIRE_SENT : SK_WIRE_TOO_BIG);
        from = pe->index + 1;
    }
}

sk_endpoint sk_test_ep6(const char *text, uint16_t port)
{
    sk_endpoint e;
    memset(&e, 0, sizeof e);
    e.family = SK_AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, e.addr6), 1);
    e.port = port;
    return e;
}

uint16_t sk_test_local_port(sk_stack *s, int fd)
{
    sk_endpoint ep;
    assert_int_equal(sk_getsockname(s, fd, &ep), 0);
    return ep.port;
}

struct tuple_find {
    uint16_t lport, rport;
    uint32_t raddr;
    int state;
};

static void visit_tuple(void *ctx, const sk_sock_info *info)
{
    struct tuple_find *t = ctx;
    if (info->local.port == t->lport && info->remote.port == t->rport &&
        info->remote.addr == t->raddr)
        t->state = info->state;
}

int sk_test_tuple_state(sk_stack *s, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    struct tuple_find t = {lport, rport, raddr, 0};
    sk_sockets(s, visit_tuple, &t);
    return t.state;
}

struct state_count {
    int state;
    size_t n;
};

static void visit_count(void *ctx, const sk_sock_info *info)
{
    struct state_count *c = ctx;
    if (info->state == c->state)
        c->n++;
}

size_t sk_test_count_state(sk_stack *s, int state)
{
    struct state_count c = {state, 0};
    sk_sockets(s, visit_count, &c);
    return c.n;
}

uint8_t sk_test_pattern(uint64_t i)
{
    /* Not periodic at any small power of two, so a misplaced segment
     * (off by an MSS, a window, a wrap) shows as wrong bytes. */
    uint64_t x = i * 0x9e3779b97f4a7c15ull;
    return (uint8_t)((x >> 32) ^ (i / 251) ^ (i >> 16));
}

ssize_t sk_test_drain(sk_stack *s, int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = sk_recv(s, fd, buf + got, cap - got, 0);
        if (n < 0) {
            if (got == 0 && n != -EAGAIN)
                return n;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

struct transfer {
    sk_stack *tx, *rx;
    int txfd, rxfd;
    size_t len, sent, received;
    bool corrupt;
    uint8_t chunk[16384];
};

static void transfer_pump(struct transfer *t)
{
    while (t->sent < t->len) {
        size_t n = t->len - t->sent;
        if (n > sizeof t->chunk)
            n = sizeof t->chunk;
        for (size_t i = 0; i < n; i++)
            t->chunk[i] = sk_test_pattern(t->sent + i);
        ssize_t w = sk_send(t->tx, t->txfd, t->chunk, n, 0);
        if (w <= 0)
            break;
        t->sent += (size_t)w;
    }
    for (;;) {
        ssize_t r = sk_recv(t->rx, t->rxfd, t->chunk, sizeof t->chunk, 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++) {
            if (t->chunk[i] != sk_test_pattern(t->received + (size_t)i)) {
                fprintf(stderr, "transfer: byte %zu is 0x%02x, expected 0x%02x\n",
                        t->received + (size_t)i, t->chunk[i],
                        sk_test_pattern(t->received + (size_t)i));
                t->received += (size_t)i;
                t->corrupt = true;
                return;
            }
        }
        t->received += (size_t)r;
    }
}

static bool transfer_done(void *ctx)
{
    struct transfer *t = ctx;
    transfer_pump(t);
    return t->corrupt || t->received >= t->len;
}

size_t sk_test_transfer(sk_fixture *f, sk_stack *tx, int txfd, sk_stack *rx, int rxfd, size_t len,
                        sk_time_ns within)
{
    struct transfer *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->tx = tx;
    t->rx = rx;
    t->txfd = txfd;
    t->rxfd = rxfd;
    t->len = len;
    sk_test_run_until_pred(f, transfer_done, t, within);
    size_t got = t->received;
    free(t);
    return got;
}

/* ------------------------------------------------------------------ */
/* Trace assertions                                                     */
/* ------------------------------------------------------------------ */

void sk_test_expect_segments(sk_fixture *f, const char *file, int line, const char *const *descs)
{
    size_t start = f->cursor;
    for (size_t i = 0; descs[i]; i++) {
        seg_desc d;
        parse_desc_or_fail(descs[i], &d, file, line);
        size_t at = start + i;
        if (at < f->trace_len && desc_matches(&d, &f->trace[at]))
            continue;
        fprintf(stderr, "%s:%d: segment %zu of this expectation does not match\n", file, line, i + 1);
        fprintf(stderr, "  expected: ");
        for (size_t k = 0; descs[k]; k++)
            fprintf(stderr, "%s\"%s\"", k ? ", " : "", descs[k]);
        fprintf(stderr, "\n  wanted at #%zu: \"%s\"\n", at, descs[i]);
        if (at < f->trace_len) {
            char buf[256];
            sk_test_format_entry(f, &f->trace[at], buf, sizeof buf);
            fprintf(stderr, "  got:          %s\n", buf);
        } else {
            fprintf(stderr, "  got:          nothing (trace ends)\n");
        }
        sk_test_print_trace(f, at);
        _fail(file, line);
    }
    for (size_t i = 0; descs[i]; i++)
        f->cursor++;
}

const sk_trace_entry *sk_test_expect_eventually(sk_fixture *f, const char *file, int line,
                                                const char *desc)
{
    seg_desc d;
    parse_desc_or_fail(desc, &d, file, line);
    for (size_t i = f->cursor; i < f->trace_len; i++) {
        if (desc_matches(&d, &f->trace[i])) {
            f->cursor = i + 1;
            return &f->trace[i];
        }
    }
    fprintf(stderr, "%s:%d: no segment from #%zu on matches \"%s\"\n", file, line, f->cursor, desc);
    sk_test_print_trace(f, f->cursor);
    _fail(file, line);
    return NULL;
}

void sk_test_expect_no_more(sk_fixture *f, const char *file, int line)
{
    if (f->cursor >= f->trace_len)
        return;
    fprintf(stderr, "%s:%d: expected no more segments, %zu more recorded\n", file, line,
            f->trace_len - f->cursor);
    sk_test_print_trace(f, f->cursor);
    _fail(file, line);
}

void sk_test_skip(sk_fixture *f)
{
    f->cursor = f->trace_len;
}

size_t sk_test_count(const sk_fixture *f, size_t from, const char *desc)
{
    seg_desc d;
    parse_desc_or_fail(desc, &d, __FILE__, __LINE__);
    size_t n = 0;
    for (size_t i = from; i < f->trace_len; i++)
        if (desc_matches(&d, &f->trace[i]))
            n++;
    return n;
}

const sk_trace_entry *sk_test_find(const sk_fixture *f, size_t from, const char *desc)
{
    seg_desc d;
    parse_desc_or_fail(desc, &d, __FILE__, __LINE__);
    for (size_t i = from; i < f->trace_len; i++)
        if (desc_matches(&d, &f->trace[i]))
            return &f->trace[i];
    return NULL;
}

const sk_trace_entry *sk_test_last(const sk_fixture *f, const char *desc)
{
    seg_desc d;
    parse_desc_or_fail(desc, &d, __FILE__, __LINE__);
    for (size_t i = f->trace_len; i-- > 0;)
        if (desc_matches(&d, &f->trace[i]))
            return &f->trace[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Impairing and injecting                                              */
/* ------------------------------------------------------------------ */

void sk_test_drop(sk_fixture *f, const char *desc, int count)
{
    seg_desc d;
    parse_desc_or_fail(desc, &d, __FILE__, __LINE__);
    assert_true(f->drop_count < SK_TEST_MAX_DROP_RULES);
    assert_true(strlen(desc) < sizeof f->drops[0].desc);
    sk_drop_rule *r = &f->drops[f->drop_count++];
    strcpy(r->desc, desc);
    r->remaining = count;
}

void sk_test_inject(sk_fixture *f, const sk_segment_spec *spec)
{
    uint8_t buf[2048];
    size_t n = sk_build_segment(spec, buf, sizeof buf);
    assert_true(n > 0);
    f->injecting = true;
    sk_wire_inject(f->wire, buf, n, 0);
    f->injecting = false;
}

void sk_test_reinject(sk_fixture *f, const sk_trace_entry *e)
{
    /* Copy first: recording the injection may move the trace array. */
    size_t len = e->len;
    uint8_t *copy = xrealloc(NULL, len ? len : 1);
    memcpy(copy, e->bytes, len);
    f->injecting = true;
    sk_wire_inject(f->wire, copy, len, 0);
    f->injecting = false;
    free(copy);
}

/* ------------------------------------------------------------------ */
/* Transitions                                                          */
/* ------------------------------------------------------------------ */

static bool change_is(const sk_fixture *f, const sk_state_change *c, const char *label,
                      uint16_t lport, uint16_t rport)
{
    (void)f;
    return strcmp(c->host, label) == 0 && c->local.port == lport && c->remote.port == rport;
}

void sk_test_expect_transitions(sk_fixture *f, sk_stack *s, uint16_t lport, uint16_t rport,
                                const char *states, const char *file, int line)
{
    const sk_fixture_host *h = host_by_stack(f, s);
    assert_non_null(h);
    int want[32];
    size_t nwant = 0;
    for (const char *p = states; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        int st = parse_state_name(p, (size_t)(e - p));
        if (st < 0 || nwant == 32) {
            fprintf(stderr, "%s:%d: bad state name in \"%s\"\n", file, line, states);
            _fail(file, line);
        }
        want[nwant++] = st;
        p = e;
    }
    size_t k = 0;
    int prev = -1;
    const char *problem = NULL;
    for (size_t i = 0; i < f->change_len && !problem; i++) {
        const sk_state_change *c = &f->changes[i];
        if (!change_is(f, c, h->label, lport, rport))
            continue;
        if (k >= nwant)
            problem = "more transitions than expected";
        else if (c->to != want[k])
            problem = "a different state than expected";
        else if (prev >= 0 && c->from != prev)
            problem = "a transition not starting from the previous state";
        prev = c->to;
        k++;
    }
    if (!problem && k < nwant)
        problem = "fewer transitions than expected";
    if (!problem)
        return;
    fprintf(stderr, "%s:%d: %s port %u <-> %u: %s\n  expected: %s\n  got:     ", file, line,
            h->label, lport, rport, problem, states);
    for (size_t i = 0; i < f->change_len; i++) {
        const sk_state_change *c = &f->changes[i];
        if (change_is(f, c, h->label, lport, rport))
            fprintf(stderr, " %s->%s", sk_test_state_name(c->from), sk_test_state_name(c->to));
    }
    fprintf(stderr, "\n");
    sk_test_print_transitions(f);
    sk_test_print_trace(f, f->cursor);
    _fail(file, line);
}

sk_time_ns sk_test_transition_time(const sk_fixture *f, sk_stack *s, uint16_t lport, uint16_t rport,
                                   int state)
{
    const sk_fixture_host *h = host_by_stack(f, s);
    if (!h)
        return SK_TIME_NEVER;
    sk_time_ns t = SK_TIME_NEVER;
    for (size_t i = 0; i < f->change_len; i++) {
        const sk_state_change *c = &f->changes[i];
        if (change_is(f, c, h->label, lport, rport) && c->to == state)
            t = c->time;
    }
    return t;
}

void sk_test_icmp6_checksum(uint8_t *ip6)
{
    size_t mlen = (size_t)ip6[4] << 8 | ip6[5];
    uint8_t *m = ip6 + 40;
    m[2] = m[3] = 0;
    uint32_t sum = sk_csum_partial(ip6 + 8, 32, (uint32_t)mlen + 58); /* addresses, length, next header */
    uint16_t c = sk_csum_fold(sk_csum_partial(m, mlen, sum));
    m[2] = (uint8_t)(c >> 8);
    m[3] = (uint8_t)c;
}

struct sk_tcp_info sk_test_tcp_info(sk_stack *s, int fd)
{
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    assert_int_equal(sk_getsockopt(s, fd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    return ti;
}

void sk_test_inject_raw(sk_fixture *f, const uint8_t *d, size_t n)
{
    f->injecting = true;
    sk_wire_inject(f->wire, d, n, 0);
    f->injecting = false;
}

const char *sk_test_line(const sk_trace_entry *e)
{
    static char buf[512];
    sk_trace *t = sk_trace_new(0);
    sk_trace_format_datagram(t, 0, e->bytes, e->len, buf, sizeof buf);
    sk_trace_free(t);
    const char *sp = strchr(buf, ' ');
    return sp ? sp + 1 : buf;
}

void sk_test_setup_v6(sk_fixture *f)
{
    sk_endpoint a = sk_test_ep6("fd00::1", 0), b = sk_test_ep6("fd00::2", 0);
    assert_int_equal(sk_stack_add_addr(f->client, &a, 64), 0);
    assert_int_equal(sk_stack_add_addr(f->server, &b, 64), 0);
}
