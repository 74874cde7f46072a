/*
 * ss(8) for a synack stack (ss.h).  The rules below are iproute2 ss's
 * (6.x), read off its behaviour: which states a bare `ss` hides, how
 * columns are sized and aligned, how timers and TCP_INFO are printed.
 */
#include "observe/ss.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#define BIT(state) (1u << (state))

/* ss's SS_CONN: without -a, ss leaves out listeners, closed sockets and
 * the "bucket" states (SYN-RECV requests and TIME-WAIT). */
#define SS_DEFAULT_STATES                                                                                  \
    (SK_SS_ALL_STATES & ~(BIT(SK_TCP_LISTEN) | BIT(SK_TCP_CLOSE) | BIT(SK_TCP_TIME_WAIT) | BIT(SK_TCP_SYN_RECV)))

/* ------------------------------------------------------------------ */
/* States and groups                                                     */
/* ------------------------------------------------------------------ */

static unsigned sk_ss_state_mask(const char *name)
{
    static const struct {
        const char *name;
        unsigned mask;
    } names[] = {
        {"established", BIT(SK_TCP_ESTABLISHED)},
        {"syn-sent", BIT(SK_TCP_SYN_SENT)},
        {"syn-recv", BIT(SK_TCP_SYN_RECV)},
        {"fin-wait-1", BIT(SK_TCP_FIN_WAIT1)},
        {"fin-wait-2", BIT(SK_TCP_FIN_WAIT2)},
        {"time-wait", BIT(SK_TCP_TIME_WAIT)},
        {"closed", BIT(SK_TCP_CLOSE)},
        {"close-wait", BIT(SK_TCP_CLOSE_WAIT)},
        {"last-ack", BIT(SK_TCP_LAST_ACK)},
        {"listening", BIT(SK_TCP_LISTEN)},
        {"listen", BIT(SK_TCP_LISTEN)},
        {"closing", BIT(SK_TCP_CLOSING)},
        {"all", SK_SS_ALL_STATES},
        {"connected", SK_SS_ALL_STATES & ~(BIT(SK_TCP_LISTEN) | BIT(SK_TCP_CLOSE))},
        {"synchronized", SK_SS_ALL_STATES & ~(BIT(SK_TCP_LISTEN) | BIT(SK_TCP_CLOSE) | BIT(SK_TCP_SYN_SENT))},
        {"bucket", BIT(SK_TCP_SYN_RECV) | BIT(SK_TCP_TIME_WAIT)},
        {"big", SK_SS_ALL_STATES & ~(BIT(SK_TCP_SYN_RECV) | BIT(SK_TCP_TIME_WAIT))},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(name, names[i].name))
            return names[i].mask;
    return 0;
}

/* A TIME_WAIT record (also the FIN_WAIT_2 orphan kept in one). */
static bool is_tw_record(const sk_sock_info *si)
{
    return si->timer == SK_TIMER_TIMEWAIT;
}

/* A SYN_RECV request: no full socket behind it, so no TCP_INFO. */
static bool is_request(const sk_sock_info *si)
{
    return si->state == SK_TCP_SYN_RECV && si->fd < 0 && si->info.tcpi_snd_mss == 0;
}

/* ------------------------------------------------------------------ */
/* Filter expressions                                                    */
/* ------------------------------------------------------------------ */

typedef enum expr_kind { EXPR_AND, EXPR_OR, EXPR_NOT, EXPR_SPORT, EXPR_DPORT, EXPR_SRC, EXPR_DST } expr_kind;
typedef enum port_cmp { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE } port_cmp;

struct sk_ss_expr {
    expr_kind kind;
    sk_ss_expr *a, *b;
    port_cmp cmp;
    int family;          /* SK_AF_INET or SK_AF_INET6 when an address is given */
    uint8_t addr[16];    /* network order; IPv4 in the first 4 bytes */
    int prefix;          /* bits compared; 0: any address */
    int port;            /* -1: any port        */
};

typedef struct expr_parser {
    char **tok;
    size_t n, pos;
    char *err;
    size_t errlen;
    bool failed;
} expr_parser;

static void expr_free(sk_ss_expr *e)
{
    if (!e)
        return;
    expr_free(e->a);
    expr_free(e->b);
    free(e);
}

static sk_ss_expr *expr_new(expr_parser *p, expr_kind kind, sk_ss_expr *a, sk_ss_expr *b)
{
    sk_ss_expr *e = calloc(1, sizeof(*e));
    if (!e) {
        if (!p->failed)
            snprintf(p->err, p->errlen, "out of memory");
        p->failed = true;
        expr_free(a);
        expr_free(b);
        return NULL;
    }
    e->kind = kind;
    e->a = a;
    e->b = b;
    e->port = -1;
    return e;
}

static void *expr_fail(expr_parser *p, const char *what, const char *tok)
{
    if (!p->failed)
        snprintf(p->err, p->errlen, "bad filter expression: %s%s%s%s", what, tok ? " '" : "", tok ? tok : "",
                 tok ? "'" : "");
    p->failed = true;
    return NULL;
}

static const char *peek(const expr_parser *p)
{
    return p->pos < p->n ? p->tok[p->pos] : NULL;
}

static bool is_word(const char *t, const char *a, const char *b, const char *c)
{
    return t && (!strcmp(t, a) || (b && !strcmp(t, b)) || (c && !strcmp(t, c)));
}

static bool parse_port_number(const char *s, int *port)
{
    if (*s == ':')
        s++;
    if (!strcmp(s, "*")) {
        *port = -1;
        return true;
    }
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < 0 || v > 65535) {
        /* A service name, as ss accepts "sport = :http". */
        struct servent *se = getservbyname(s, "tcp");
        if (!se)
            return false;
        *port = ntohs((uint16_t)se->s_port);
        return true;
    }
    *port = (int)v;
    return true;
}

/* ADDR[/N][:PORT], [ADDR6][/N][:PORT], :PORT, *, *:PORT, as ss's
 * parse_hostcond: an IPv6 address takes brackets when a port follows;
 * without them, text with two colons or more is taken as an address. */
static bool parse_hostcond(const char *s, sk_ss_expr *e)
{
    char buf[80];
    if (strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    char *addr = buf;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close)
            return false;
        *close = '\0';
        addr = buf + 1;
        char *rest = close + 1;
        if (*rest == '/') {
            /* [ADDR]/N[:PORT]: move the prefix next to the address. */
            char *colon = strchr(rest, ':');
            if (colon) {
                *colon = '\0';
                if (!parse_port_number(colon + 1, &e->port))
                    return false;
            }
            memmove(close, rest, strlen(rest) + 1);
        } else if (*rest == ':') {
            if (!parse_port_number(rest + 1, &e->port))
                return false;
        } else if (*rest) {
            return false;
        }
    } else {
        const char *first = strchr(buf, ':');
        bool v6text = first && strchr(first + 1, ':');
        char *colon = v6text ? NULL : strrchr(buf, ':');
        if (colon) {
            *colon = '\0';
            if (!parse_port_number(colon + 1, &e->port))
                return false;
        }
    }
    if (!addr[0] || !strcmp(addr, "*") || !strcmp(addr, "0.0.0.0/0")) {
        e->prefix = 0;
        return true;
    }
    int family = strchr(addr, ':') ? SK_AF_INET6 : SK_AF_INET;
    int max = family == SK_AF_INET6 ? 128 : 32;
    int prefix = max;
    char *slash = strchr(addr, '/');
    if (slash) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || v < 0 || v > max)
            return false;
        prefix = (int)v;
    }
    if (inet_pton(family == SK_AF_INET6 ? AF_INET6 : AF_INET, addr, e->addr) != 1)
        return false;
    e->family = family;
    e->prefix = prefix;
    return true;
}

static sk_ss_expr *parse_or(expr_parser *p);

static sk_ss_expr *parse_cond(expr_parser *p)
{
    const char *t = peek(p);
    if (!t)
        return expr_fail(p, "unexpected end", NULL);
    bool is_port = is_word(t, "sport", NULL, NULL) || is_word(t, "dport", NULL, NULL);
    bool is_host = is_word(t, "src", NULL, NULL) || is_word(t, "dst", NULL, NULL);
    if (!is_port && !is_host)
        return expr_fail(p, "expected sport, dport, src or dst, not", t);
    expr_kind kind = !strcmp(t, "sport") ? EXPR_SPORT : !strcmp(t, "dport") ? EXPR_DPORT : !strcmp(t, "src") ? EXPR_SRC : EXPR_DST;
    p->pos++;
    const char *op = peek(p);
    if (!op)
        return expr_fail(p, "missing value after", t);
    bool negate = false;
    port_cmp cmp = CMP_EQ;
    bool have_op = true;
    if (is_word(op, "=", "==", "eq"))
        cmp = CMP_EQ;
    else if (is_word(op, "!=", "ne", "neq"))
        negate = true;
    else if (is_word(op, "<", "lt", NULL))
        cmp = CMP_LT;
    else if (is_word(op, ">", "gt", NULL))
        cmp = CMP_GT;
    else if (is_word(op, "<=", "le", NULL))
        cmp = CMP_LE;
    else if (is_word(op, ">=", "ge", NULL))
        cmp = CMP_GE;
    else
        have_op = false;
    if (have_op)
        p->pos++;
    if (is_host && cmp != CMP_EQ)
        return expr_fail(p, "src and dst compare with = or != only, not", op);
    const char *val = peek(p);
    if (!val)
        return expr_fail(p, "missing value after", op);
    p->pos++;
    sk_ss_expr *e = expr_new(p, kind, NULL, NULL);
    if (!e)
        return NULL;
    e->cmp = cmp;
    bool ok = is_port ? parse_port_number(val, &e->port) : parse_hostcond(val, e);
    if (!ok) {
        expr_free(e);
        return expr_fail(p, is_port ? "not a port" : "not an address[/prefix][:port]", val);
    }
    return negate ? expr_new(p, EXPR_NOT, e, NULL) : e;
}

static sk_ss_expr *parse_unary(expr_parser *p)
{
    const char *t = peek(p);
    if (is_word(t, "not", "!", NULL)) {
        p->pos++;
        sk_ss_expr *a = parse_unary(p);
        return a ? expr_new(p, EXPR_NOT, a, NULL) : NULL;
    }
    if (is_word(t, "(", NULL, NULL)) {
        p->pos++;
        sk_ss_expr *a = parse_or(p);
        if (!a)
            return NULL;
        if (!is_word(peek(p), ")", NULL, NULL)) {
            expr_free(a);
            return expr_fail(p, "missing ')'", NULL);
        }
        p->pos++;
        return a;
    }
    return parse_cond(p);
}

/* Juxtaposition is AND, as in ss, and AND binds tighter than OR. */
static sk_ss_expr *parse_and(expr_parser *p)
{
    sk_ss_expr *a = parse_unary(p);
    while (a) {
        const char *t = peek(p);
        if (!t || is_word(t, ")", NULL, NULL) || is_word(t, "or", "||", "|"))
            break;
        if (is_word(t, "and", "&&", "&"))
            p->pos++;
        sk_ss_expr *b = parse_unary(p);
        if (!b) {
            expr_free(a);
            return NULL;
        }
        a = expr_new(p, EXPR_AND, a, b);
    }
    return a;
}

static sk_ss_expr *parse_or(expr_parser *p)
{
    sk_ss_expr *a = parse_and(p);
    while (a && is_word(peek(p), "or", "||", "|")) {
        p->pos++;
        sk_ss_expr *b = parse_and(p);
        if (!b) {
            expr_free(a);
            return NULL;
        }
        a = expr_new(p, EXPR_OR, a, b);
    }
    return a;
}

/* Splits the expression words further at parentheses, so that
 * "(sport = :80)" and "( sport = :80 )" read the same, as in ss. */
static char **tokenize_expr(int argc, char **argv, size_t *count)
{
    size_t cap = 16, n = 0;
    char **tok = malloc(cap * sizeof(*tok));
    if (!tok)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        while (*s) {
            if (*s == ' ' || *s == '\t') {
                s++;
                continue;
            }
            size_t len = (*s == '(' || *s == ')') ? 1 : strcspn(s, " \t()");
            if (n + 1 >= cap) {
                cap *= 2;
                char **grown = realloc(tok, cap * sizeof(*tok));
                if (!grown)
                    goto oom;
                tok = grown;
            }
            tok[n] = strndup(s, len);
            if (!tok[n])
                goto oom;
            n++;
            s += len;
        }
    }
    *count = n;
    return tok;
oom:
    for (size_t i = 0; i < n; i++)
        free(tok[i]);
    free(tok);
    return NULL;
}

static bool port_matches(const sk_ss_expr *e, int port)
{
    if (e->port < 0)
        return true;
    switch (e->cmp) {
    case CMP_EQ:
        return port == e->port;
    case CMP_LT:
        return port < e->port;
    case CMP_GT:
        return port > e->port;
    case CMP_LE:
        return port <= e->port;
    case CMP_GE:
        return port >= e->port;
    }
    return false;
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

/* ss's inet2_addr_match: the families must agree, except that an IPv4
 * rule also matches an IPv6 socket's v4-mapped address (::ffff:a.b.c.d),
 * while a v4-mapped rule matches only v4-mapped sockets. */
static bool prefix_matches(const sk_ss_expr *e, const sk_endpoint *ep)
{
    /* "::/0" still names a family: ss lists IPv6 sockets only for it. */
    if (e->prefix == 0)
        return e->family != SK_AF_INET6 || ep->family == SK_AF_INET6;
    uint8_t a[16];
    if (ep->family == SK_AF_INET6) {
        static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (e->family == SK_AF_INET6)
            return bits_equal(ep->addr6, e->addr, e->prefix);
        if (memcmp(ep->addr6, mapped, 12) != 0)
            return false;
        return bits_equal(ep->addr6 + 12, e->addr, e->prefix);
    }
    if (e->family != SK_AF_INET)
        return false;
    for (int i = 0; i < 4; i++)
        a[i] = (uint8_t)(ep->addr >> (24 - 8 * i));
    return bits_equal(a, e->addr, e->prefix);
}

static bool expr_matches(const sk_ss_expr *e, const sk_sock_info *si)
{
    switch (e->kind) {
    case EXPR_AND:
        return expr_matches(e->a, si) && expr_matches(e->b, si);
    case EXPR_OR:
        return expr_matches(e->a, si) || expr_matches(e->b, si);
    case EXPR_NOT:
        return !expr_matches(e->a, si);
    case EXPR_SPORT:
        return port_matches(e, si->local.port);
    case EXPR_DPORT:
        return port_matches(e, si->remote.port);
    case EXPR_SRC:
    case EXPR_DST: {
        const sk_endpoint *ep = e->kind == EXPR_SRC ? &si->local : &si->remote;
        return prefix_matches(e, ep) && port_matches(e, ep->port);
    }
    }
    return false;
}

static bool sk_ss_match(const sk_ss_query *q, const sk_sock_info *si)
{
    if (si->state <= 0 || si->state > 11 || !(q->states & BIT(si->state)))
        return false;
    if (q->families && !(q->families & (si->local.family == SK_AF_INET6 ? SK_SS_FAMILY_INET6 : SK_SS_FAMILY_INET)))
        return false;
    return !q->expr || expr_matches(q->expr, si);
}

/* ------------------------------------------------------------------ */
/* Command line                                                          */
/* ------------------------------------------------------------------ */

void sk_ss_query_free(sk_ss_query *q)
{
    expr_free(q->expr);
    q->expr = NULL;
}

static int usage_error(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return -1;
}

static int parse_long_option(sk_ss_query *q, const char *opt, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        char short_opt;
    } longs[] = {
        {"tcp", 't'},     {"all", 'a'},      {"listening", 'l'}, {"numeric", 'n'}, {"options", 'o'},
        {"info", 'i'},    {"summary", 's'},  {"no-header", 'H'}, {"extended", 'e'}, {"ipv4", '4'},
        {"ipv6", '6'},    {"json", 'j'},     {"memory", 'm'},
    };
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        if (!strcmp(opt, longs[i].name)) {
            if (longs[i].short_opt == 'j') {
                q->json = true;
                return 0;
            }
            return longs[i].short_opt;
        }
    }
    return usage_error(err, errlen,
                       "unknown option '--%s' (synack ss knows -t -a -l -n -o -i -m -s -H -4 -6 --json)", opt);
}

static int apply_short_option(sk_ss_query *q, char c, char *err, size_t errlen)
{
    switch (c) {
    case 't': /* TCP is all synack lists */
        return 0;
    /* -4 and -6 add a family to the selection, as ss's filter_af_set():
     * an AF_INET6 socket is listed under -6 even when its peer is IPv4
     * (v4-mapped), as in ss. */
    case '4':
        q->families |= SK_SS_FAMILY_INET;
        return 0;
    case '6':
        q->families |= SK_SS_FAMILY_INET6;
        return 0;
    case 'e':
        /* ss -e adds uid:, ino: (the socket's inode) and sk: (its kernel
         * cookie); a synack socket has neither inode nor cookie, and
         * printing stand-ins under those names would mislead. */
        return usage_error(err, errlen, "%s",
                           "option '-e' is not supported: synack sockets have no inode or socket cookie "
                           "for ss's ino: and sk: fields");
    case 'a':
        q->states = SK_SS_ALL_STATES;
        return 0;
    case 'l':
        q->states = BIT(SK_TCP_LISTEN) | BIT(SK_TCP_CLOSE);
        return 0;
    case 'n':
        q->numeric = true;
        return 0;
    case 'o':
        q->timers = true;
        return 0;
    case 'i':
        q->info = true;
        return 0;
    case 'm':
        q->memory = true;
        return 0;
    case 's':
        q->summary = true;
        return 0;
    case 'H':
        q->no_header = true;
        return 0;
    default: {
        char opt[2] = {c, '\0'};
        return usage_error(err, errlen,
                           "unknown option '-%s' (synack ss knows -t -a -l -n -o -i -m -s -H -4 -6 --json; it "
                           "lists TCP only)",
                           opt);
    }
    }
}

int sk_ss_parse(sk_ss_query *q, int argc, char **argv, char *err, size_t errlen)
{
    memset(q, 0, sizeof(*q));
    q->states = SS_DEFAULT_STATES;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1])
            break;
        if (a[1] == '-') {
            if (!a[2]) {
                i++;
                break;
            }
            int c = parse_long_option(q, a + 2, err, errlen);
            if (c < 0)
                return -1;
            if (c > 0 && apply_short_option(q, (char)c, err, errlen) < 0)
                return -1;
            continue;
        }
        for (const char *c = a + 1; *c; c++)
            if (apply_short_option(q, *c, err, errlen) < 0)
                return -1;
    }
    bool saw_states = false;
    while (i < argc && (!strcmp(argv[i], "state") || !strcmp(argv[i], "exclude") || !strcmp(argv[i], "excl"))) {
        bool exclude = strcmp(argv[i], "state") != 0;
        if (i + 1 >= argc)
            return usage_error(err, errlen, "'%s' wants a state name or group", argv[i]);
        unsigned mask = sk_ss_state_mask(argv[i + 1]);
        if (!mask)
            return usage_error(err, errlen,
                               "wrong state name '%s' (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, "
                               "time-wait, closed, close-wait, last-ack, listening, closing, or a group: all, "
                               "connected, synchronized, bucket, big)",
                               argv[i + 1]);
        /* The first `state` replaces the default set, the first
         * `exclude` starts from all states; later ones accumulate. */
        if (!saw_states)
            q->states = exclude ? SK_SS_ALL_STATES : 0;
        if (exclude)
            q->states &= ~mask;
        else
            q->states |= mask;
        saw_states = true;
        i += 2;
    }
    if (i < argc) {
        size_t n = 0;
        char **tok = tokenize_expr(argc - i, argv + i, &n);
        if (!tok)
            return usage_error(err, errlen, "%s", "out of memory");
        expr_parser p = {.tok = tok, .n = n, .err = err, .errlen = errlen};
        if (n > 0) {
            q->expr = parse_or(&p);
            if (q->expr && p.pos < n) {
                expr_fail(&p, "unexpected", tok[p.pos]);
                expr_free(q->expr);
                q->expr = NULL;
            }
        }
        for (size_t k = 0; k < n; k++)
            free(tok[k]);
        free(tok);
        if (p.failed)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Formatting                                                            */
/* ------------------------------------------------------------------ */

void sk_ss_format_timer(uint64_t ms, char *buf, size_t cap)
{
    uint64_t secs = ms / 1000, minutes = secs / 60, msecs = ms % 1000;
    secs %= 60;
    size_t len = 0;
    buf[0] = '\0';
    if (minutes) {
        msecs = 0;
        len += (size_t)snprintf(buf + len, cap - len, "%llumin", (unsigned long long)minutes);
        if (minutes > 9)
            secs = 0;
    }
    if (secs && len < cap) {
        if (secs > 9)
            msecs = 0;
        len += (size_t)snprintf(buf + len, cap - len, "%llu%s", (unsigned long long)secs, msecs ? "." : "sec");
    }
    if (msecs && len < cap)
        snprintf(buf + len, cap - len, "%03llums", (unsigned long long)msecs);
}

static const char *timer_name(sk_timer_kind k)
{
    switch (k) {
    case SK_TIMER_ON:
        return "on";
    case SK_TIMER_KEEPALIVE:
        return "keepalive";
    case SK_TIMER_TIMEWAIT:
        return "timewait";
    case SK_TIMER_PERSIST:
        return "persist";
    default:
        return "unknown";
    }
}

static uint64_t timer_ms(const sk_sock_info *si, sk_time_ns now)
{
    return si->timer_expires > now ? (si->timer_expires - now) / SK_NSEC_PER_MSEC : 0;
}

/* An address as ss's inet_addr_print shows it: dotted IPv4; IPv6 in
 * brackets, except the wildcard of a socket that also takes IPv4 (not
 * IPV6_V6ONLY), which is "*".  `bare` leaves the brackets out (JSON). */
static void format_addr(const sk_endpoint *ep, bool v6only, bool bare, char *buf, size_t cap)
{
    if (ep->family != SK_AF_INET6) {
        uint32_t a = ep->addr;
        snprintf(buf, cap, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
        return;
    }
    static const uint8_t any[16];
    if (!bare && !v6only && !memcmp(ep->addr6, any, 16)) {
        snprintf(buf, cap, "*");
        return;
    }
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, ep->addr6, text, sizeof(text)))
        snprintf(text, sizeof(text), "?");
    snprintf(buf, cap, bare ? "%s" : "[%s]", text);
}

static void format_port(uint16_t port, bool numeric, char *buf, size_t cap)
{
    if (!port) {
        snprintf(buf, cap, "*");
        return;
    }
    if (!numeric) {
        struct servent *se = getservbyport(htons(port), "tcp");
        if (se && se->s_name) {
            snprintf(buf, cap, "%s", se->s_name);
            return;
        }
    }
    snprintf(buf, cap, "%u", port);
}

static void format_bw(double bw, bool numeric, char *buf, size_t cap)
{
    if (numeric)
        snprintf(buf, cap, "%.0f", bw);
    else if (bw > 1e12)
        snprintf(buf, cap, "%.3gT", bw / 1e12);
    else if (bw > 1e9)
        snprintf(buf, cap, "%.3gG", bw / 1e9);
    else if (bw > 1e6)
        snprintf(buf, cap, "%.3gM", bw / 1e6);
    else if (bw > 1e3)
        snprintf(buf, cap, "%.3gK", bw / 1e3);
    else
        snprintf(buf, cap, "%g", bw);
}

/* Whether the kernel would attach TCP_INFO: full sockets only, never
 * TIME_WAIT records or request socks. */
static bool has_tcp_info(const sk_sock_info *si)
{
    return !is_tw_record(si) && !is_request(si);
}

/* The -i line in tcp_stats_print's order, each item only when non-zero,
 * as ss prints them. */
static void print_info(FILE *out, const sk_sock_info *si, bool numeric, bool after_skmem)
{
    const struct sk_tcp_info *ti = &si->info;
    if (!after_skmem)
        fputc('\t', out);
    if (si->state == SK_TCP_LISTEN) {
        /* Linux's tcp_get_info reports a listener's cwnd, reordering
         * and pacing only; the rest is left zero. */
        fprintf(out, " %s", si->cong[0] ? si->cong : "reno");
        if (ti->tcpi_snd_cwnd)
            fprintf(out, " cwnd:%u", ti->tcpi_snd_cwnd);
        fputc('\n', out);
        return;
    }
    if (ti->tcpi_options & SK_TCPI_OPT_TIMESTAMPS)
        fprintf(out, " ts");
    if (ti->tcpi_options & SK_TCPI_OPT_SACK)
        fprintf(out, " sack");
    if (ti->tcpi_options & SK_TCPI_OPT_ECN)
        fprintf(out, " ecn");
    if (ti->tcpi_options & SK_TCPI_OPT_SYN_DATA)
        fprintf(out, " fastopen"); /* ss: the SYN's data was acknowledged or taken */
    fprintf(out, " %s", si->cong[0] ? si->cong : "reno");
    if (ti->tcpi_options & SK_TCPI_OPT_WSCALE)
        fprintf(out, " wscale:%u,%u", ti->tcpi_snd_wscale, ti->tcpi_rcv_wscale);
    /* ss leaves out the old 3 s initial RTO (TCP_TIMEOUT_INIT). */
    if (ti->tcpi_rto && ti->tcpi_rto != 3000000)
        fprintf(out, " rto:%g", ti->tcpi_rto / 1000.0);
    if (ti->tcpi_backoff)
        fprintf(out, " backoff:%u", ti->tcpi_backoff);
    if (ti->tcpi_rtt)
        fprintf(out, " rtt:%g/%g", ti->tcpi_rtt / 1000.0, ti->tcpi_rttvar / 1000.0);
    if (ti->tcpi_ato)
        fprintf(out, " ato:%g", ti->tcpi_ato / 1000.0);
    if (ti->tcpi_snd_mss)
        fprintf(out, " mss:%u", ti->tcpi_snd_mss);
    if (ti->tcpi_pmtu)
        fprintf(out, " pmtu:%u", ti->tcpi_pmtu);
    if (ti->tcpi_rcv_mss)
        fprintf(out, " rcvmss:%u", ti->tcpi_rcv_mss);
    if (ti->tcpi_advmss)
        fprintf(out, " advmss:%u", ti->tcpi_advmss);
    if (ti->tcpi_snd_cwnd)
        fprintf(out, " cwnd:%u", ti->tcpi_snd_cwnd);
    /* An "infinite" initial ssthresh is not shown (ss: < 0xFFFF). */
    if (ti->tcpi_snd_ssthresh && ti->tcpi_snd_ssthresh < 0xFFFF)
        fprintf(out, " ssthresh:%u", ti->tcpi_snd_ssthresh);
    if (ti->tcpi_bytes_sent)
        fprintf(out, " bytes_sent:%llu", (unsigned long long)ti->tcpi_bytes_sent);
    if (ti->tcpi_bytes_retrans)
        fprintf(out, " bytes_retrans:%llu", (unsigned long long)ti->tcpi_bytes_retrans);
    if (ti->tcpi_bytes_acked)
        fprintf(out, " bytes_acked:%llu", (unsigned long long)ti->tcpi_bytes_acked);
    if (ti->tcpi_bytes_received)
        fprintf(out, " bytes_received:%llu", (unsigned long long)ti->tcpi_bytes_received);
    if (ti->tcpi_segs_out)
        fprintf(out, " segs_out:%u", ti->tcpi_segs_out);
    if (ti->tcpi_segs_in)
        fprintf(out, " segs_in:%u", ti->tcpi_segs_in);
    if (ti->tcpi_data_segs_out)
        fprintf(out, " data_segs_out:%u", ti->tcpi_data_segs_out);
    if (ti->tcpi_data_segs_in)
        fprintf(out, " data_segs_in:%u", ti->tcpi_data_segs_in);
    if (ti->tcpi_rtt && ti->tcpi_snd_mss && ti->tcpi_snd_cwnd) {
        char bw[48];
        format_bw((double)ti->tcpi_snd_cwnd * (double)ti->tcpi_snd_mss * 8000000.0 / (double)ti->tcpi_rtt, numeric,
                  bw, sizeof(bw));
        fprintf(out, " send %sbps", bw);
    }
    if (ti->tcpi_last_data_sent)
        fprintf(out, " lastsnd:%u", ti->tcpi_last_data_sent);
    if (ti->tcpi_last_data_recv)
        fprintf(out, " lastrcv:%u", ti->tcpi_last_data_recv);
    if (ti->tcpi_last_ack_recv)
        fprintf(out, " lastack:%u", ti->tcpi_last_ack_recv);
    if (ti->tcpi_pacing_rate) {
        char bw[48];
        format_bw((double)ti->tcpi_pacing_rate * 8.0, numeric, bw, sizeof(bw));
        fprintf(out, " pacing_rate %sbps", bw);
    }
    if (ti->tcpi_delivery_rate) {
        char bw[48];
        format_bw((double)ti->tcpi_delivery_rate * 8.0, numeric, bw, sizeof(bw));
        fprintf(out, " delivery_rate %sbps", bw);
    }
    if (ti->tcpi_delivered)
        fprintf(out, " delivered:%u", ti->tcpi_delivered);
    if (ti->tcpi_unacked)
        fprintf(out, " unacked:%u", ti->tcpi_unacked);
    if (ti->tcpi_retrans || ti->tcpi_total_retrans)
        fprintf(out, " retrans:%u/%u", ti->tcpi_retrans, ti->tcpi_total_retrans);
    if (ti->tcpi_lost)
        fprintf(out, " lost:%u", ti->tcpi_lost);
    if (ti->tcpi_sacked)
        fprintf(out, " sacked:%u", ti->tcpi_sacked);
    if (ti->tcpi_dsack_dups)
        fprintf(out, " dsack_dups:%u", ti->tcpi_dsack_dups);
    if (ti->tcpi_fackets)
        fprintf(out, " fackets:%u", ti->tcpi_fackets);
    if (ti->tcpi_reordering != 3)
        fprintf(out, " reordering:%u", ti->tcpi_reordering);
    if (ti->tcpi_reord_seen)
        fprintf(out, " reord_seen:%u", ti->tcpi_reord_seen);
    if (ti->tcpi_rcv_rtt)
        fprintf(out, " rcv_rtt:%g", ti->tcpi_rcv_rtt / 1000.0);
    if (ti->tcpi_rcv_space)
        fprintf(out, " rcv_space:%u", ti->tcpi_rcv_space);
    if (ti->tcpi_rcv_ssthresh)
        fprintf(out, " rcv_ssthresh:%u", ti->tcpi_rcv_ssthresh);
    if (ti->tcpi_notsent_bytes)
        fprintf(out, " notsent:%u", ti->tcpi_notsent_bytes);
    if (ti->tcpi_min_rtt)
        fprintf(out, " minrtt:%g", ti->tcpi_min_rtt / 1000.0);
    if (ti->tcpi_rcv_ooopack)
        fprintf(out, " rcv_ooopack:%u", ti->tcpi_rcv_ooopack);
    if (ti->tcpi_snd_wnd)
        fprintf(out, " snd_wnd:%u", ti->tcpi_snd_wnd);
    fputc('\n', out);
}

enum { COL_STATE, COL_RECVQ, COL_SENDQ, COL_LADDR, COL_LPORT, COL_PADDR, COL_PPORT, COL_COUNT };

typedef struct ss_cells {
    char cell[COL_COUNT][64]; /* room for "[" INET6_ADDRSTRLEN "]:" */
} ss_cells;

static void fill_cells(ss_cells *c, const sk_sock_info *si, bool numeric)
{
    const char *state = sk_state_ss_name(si->state);
    snprintf(c->cell[COL_STATE], sizeof(c->cell[0]), "%s", state ? state : "UNKNOWN");
    snprintf(c->cell[COL_RECVQ], sizeof(c->cell[0]), "%u", si->recv_q);
    snprintf(c->cell[COL_SENDQ], sizeof(c->cell[0]), "%u", si->send_q);
    char a[56];
    format_addr(&si->local, si->v6only, false, a, sizeof(a));
    snprintf(c->cell[COL_LADDR], sizeof(c->cell[0]), "%s:", a);
    format_port(si->local.port, numeric, c->cell[COL_LPORT], sizeof(c->cell[0]));
    format_addr(&si->remote, si->v6only, false, a, sizeof(a));
    snprintf(c->cell[COL_PADDR], sizeof(c->cell[0]), "%s:", a);
    format_port(si->remote.port, numeric, c->cell[COL_PPORT], sizeof(c->cell[0]));
}

/* Writes one line of cells: each column padded to its width (addresses
 * right-aligned against their ':', the rest left-aligned), one space
 * before every column but the first and the ports; trailing blanks are
 * trimmed, then `ext` is appended (the -o timer sits right after the
 * padded peer port). */
static void print_cells(FILE *out, const ss_cells *c, const int *width, bool show_state, const char *ext)
{
    char line[640];
    size_t len = 0;
    for (int col = show_state ? COL_STATE : COL_RECVQ; col < COL_COUNT; col++) {
        bool first = col == (show_state ? COL_STATE : COL_RECVQ);
        bool right = col == COL_LADDR || col == COL_PADDR;
        const char *delim = first || col == COL_LPORT || col == COL_PPORT ? "" : " ";
        int n = snprintf(line + len, sizeof(line) - len, right ? "%s%*s" : "%s%-*s", delim, width[col], c->cell[col]);
        if (n > 0)
            len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
    }
    if (!ext || !*ext) {
        while (len > 0 && line[len - 1] == ' ')
            len--;
        line[len] = '\0';
        fprintf(out, "%s\n", line);
    } else {
        fprintf(out, "%s%s\n", line, ext);
    }
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(out, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void print_json(FILE *out, const sk_ss_query *q, const sk_sock_info *socks, size_t n, sk_time_ns now)
{
    fprintf(out, "[");
    bool first = true;
    for (size_t k = 0; k < 2 * n; k++) {
        size_t i = k % n;
        const sk_sock_info *si = &socks[i];
        if ((si->local.family == SK_AF_INET6) != (k >= n) || !sk_ss_match(q, si))
            continue;
        char la[56], ra[56];
        format_addr(&si->local, si->v6only, true, la, sizeof(la));
        format_addr(&si->remote, si->v6only, true, ra, sizeof(ra));
        const char *state = sk_state_ss_name(si->state);
        fprintf(out, "%s\n  {\"state\":", first ? "" : ",");
        json_string(out, state ? state : "UNKNOWN");
        fprintf(out,
                ",\"recv_q\":%u,\"send_q\":%u,\"local\":{\"addr\":\"%s\",\"port\":%u},"
                "\"peer\":{\"addr\":\"%s\",\"port\":%u},\"fd\":%d,\"orphan\":%s",
                si->recv_q, si->send_q, la, si->local.port, ra, si->remote.port, si->fd,
                si->orphan ? "true" : "false");
        if (si->timer != SK_TIMER_NONE)
            fprintf(out, ",\"timer\":{\"name\":\"%s\",\"expires_ms\":%llu,\"retrans\":%u}", timer_name(si->timer),
                    (unsigned long long)timer_ms(si, now), si->timer_retrans);
        if (q->info && has_tcp_info(si)) {
            const struct sk_tcp_info *ti = &si->info;
            fprintf(out,
                    ",\"info\":{\"cong\":\"%s\",\"ts\":%s,\"sack\":%s,\"snd_wscale\":%u,\"rcv_wscale\":%u,"
                    "\"rto_us\":%u,\"rtt_us\":%u,\"rttvar_us\":%u,\"ato_us\":%u,\"mss\":%u,\"pmtu\":%u,"
                    "\"rcvmss\":%u,\"advmss\":%u,\"cwnd\":%u,\"ssthresh\":%u,\"bytes_sent\":%llu,"
                    "\"bytes_retrans\":%llu,\"bytes_acked\":%llu,\"bytes_received\":%llu,\"segs_out\":%u,"
                    "\"segs_in\":%u,\"data_segs_out\":%u,\"data_segs_in\":%u,\"lastsnd\":%u,\"lastrcv\":%u,"
                    "\"lastack\":%u,\"unacked\":%u,\"retrans\":%u,\"total_retrans\":%u,\"rcv_space\":%u,"
                    "\"rcv_ssthresh\":%u,\"notsent\":%u,\"minrtt_us\":%u,\"snd_wnd\":%u}",
                    si->cong[0] ? si->cong : "reno", ti->tcpi_options & SK_TCPI_OPT_TIMESTAMPS ? "true" : "false",
                    ti->tcpi_options & SK_TCPI_OPT_SACK ? "true" : "false", ti->tcpi_snd_wscale,
                    ti->tcpi_rcv_wscale, ti->tcpi_rto, ti->tcpi_rtt, ti->tcpi_rttvar, ti->tcpi_ato,
                    ti->tcpi_snd_mss, ti->tcpi_pmtu, ti->tcpi_rcv_mss, ti->tcpi_advmss, ti->tcpi_snd_cwnd,
                    ti->tcpi_snd_ssthresh, (unsigned long long)ti->tcpi_bytes_sent,
                    (unsigned long long)ti->tcpi_bytes_retrans, (unsigned long long)ti->tcpi_bytes_acked,
                    (unsigned long long)ti->tcpi_bytes_received, ti->tcpi_segs_out, ti->tcpi_segs_in,
                    ti->tcpi_data_segs_out, ti->tcpi_data_segs_in, ti->tcpi_last_data_sent,
                    ti->tcpi_last_data_recv, ti->tcpi_last_ack_recv, ti->tcpi_unacked, ti->tcpi_retrans,
                    ti->tcpi_total_retrans, ti->tcpi_rcv_space, ti->tcpi_rcv_ssthresh, ti->tcpi_notsent_bytes,
                    ti->tcpi_min_rtt, ti->tcpi_snd_wnd);
        }
        fprintf(out, "}");
        first = false;
    }
    fprintf(out, "%s]\n", first ? "" : "\n");
}

void sk_ss_print(FILE *out, const sk_ss_query *q, const sk_sock_info *socks, size_t n, sk_time_ns now)
{
    if (q->json) {
        print_json(out, q, socks, n, now);
        return;
    }
    /* ss drops the State column when the filter leaves one state only. */
    bool show_state = (q->states & (q->states - 1)) != 0;
    static const char *const headers[COL_COUNT] = {"State", "Recv-Q", "Send-Q", "Local Address:", "Port",
                                                   "Peer Address:", "Port"};
    int width[COL_COUNT];
    for (int col = 0; col < COL_COUNT; col++)
        width[col] = q->no_header ? 0 : (int)strlen(headers[col]);
    /* Recv-Q and Send-Q are printed "%-6d" by ss, so never narrower. */
    if (width[COL_RECVQ] < 6)
        width[COL_RECVQ] = 6;
    if (width[COL_SENDQ] < 6)
        width[COL_SENDQ] = 6;

    ss_cells *cells = n ? calloc(n, sizeof(*cells)) : NULL;
    if (n && !cells) {
        fprintf(out, "(out of memory)\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!sk_ss_match(q, &socks[i]))
            continue;
        fill_cells(&cells[i], &socks[i], q->numeric);
        for (int col = 0; col < COL_COUNT; col++) {
            int w = (int)strlen(cells[i].cell[col]);
            if (w > width[col])
                width[col] = w;
        }
    }
    if (!q->no_header) {
        ss_cells h;
        for (int col = 0; col < COL_COUNT; col++)
            snprintf(h.cell[col], sizeof(h.cell[col]), "%s", headers[col]);
        print_cells(out, &h, width, show_state, NULL);
    }
    /* ss dumps AF_INET sockets, then AF_INET6 ones (one netlink dump
     * per family), so IPv4 rows come first. */
    for (size_t k = 0; k < 2 * n; k++) {
        size_t i = k % n;
        const sk_sock_info *si = &socks[i];
        if ((si->local.family == SK_AF_INET6) != (k >= n) || !sk_ss_match(q, si))
            continue;
        char ext[96] = "";
        if (q->timers && si->timer != SK_TIMER_NONE) {
            char t[32];
            sk_ss_format_timer(timer_ms(si, now), t, sizeof(t));
            snprintf(ext, sizeof(ext), " timer:(%s,%s,%u)", timer_name(si->timer), t, si->timer_retrans);
        }
        print_cells(out, &cells[i], width, show_state, ext);
        bool mem = q->memory && has_tcp_info(si);
        if (mem) {
            /* iproute2's print_skmeminfo: its own continuation line, or
             * the start of -i's. */
            const uint32_t *m = si->meminfo;
            fprintf(out, "\t skmem:(r%u,rb%u,t%u,tb%u,f%u,w%u,o%u,bl%u,d%u)", m[SK_MEMINFO_RMEM_ALLOC],
                    m[SK_MEMINFO_RCVBUF], m[SK_MEMINFO_WMEM_ALLOC], m[SK_MEMINFO_SNDBUF], m[SK_MEMINFO_FWD_ALLOC],
                    m[SK_MEMINFO_WMEM_QUEUED], m[SK_MEMINFO_OPTMEM], m[SK_MEMINFO_BACKLOG], m[SK_MEMINFO_DROPS]);
            if (!(q->info))
                fputc('\n', out);
        }
        if (q->info && has_tcp_info(si))
            print_info(out, si, q->numeric, mem);
    }
    free(cells);
}

void sk_ss_print_summary(FILE *out, const sk_sock_info *socks, size_t n, uint64_t curr_estab)
{
    unsigned alloc = 0, inuse = 0, inuse6 = 0, tw = 0, orphans = 0;
    for (size_t i = 0; i < n; i++) {
        const sk_sock_info *si = &socks[i];
        if (is_tw_record(si)) {
            tw++;
            continue;
        }
        if (is_request(si))
            continue;
        alloc++;
        /* /proc/net/sockstat's "inuse" counts tcp_prot's sockets and
         * sockstat6's tcpv6_prot's: ss -s splits the TCP line by them. */
        if (si->state != SK_TCP_CLOSE) {
            if (si->local.family == SK_AF_INET6)
                inuse6++;
            else
                inuse++;
        }
        if (si->orphan)
            orphans++;
    }
    fprintf(out, "Total: %u\n", alloc);
    fprintf(out, "TCP:   %u (estab %llu, closed %u, orphaned %u, timewait %u)\n", alloc + tw,
            (unsigned long long)curr_estab, alloc - inuse - inuse6 + tw, orphans, tw);
    fprintf(out, "\n");
    fprintf(out, "Transport Total     IP        IPv6\n");
    fprintf(out, "RAW\t  %-9d %-9d %-9d\n", 0, 0, 0);
    fprintf(out, "UDP\t  %-9d %-9d %-9d\n", 0, 0, 0);
    fprintf(out, "TCP\t  %-9u %-9u %-9u\n", inuse + inuse6, inuse, inuse6);
    fprintf(out, "INET\t  %-9u %-9u %-9u\n", inuse + inuse6, inuse, inuse6);
    fprintf(out, "FRAG\t  %-9d %-9d %-9d\n", 0, 0, 0);
    fprintf(out, "\n");
}

/* ------------------------------------------------------------------ */
/* Against a live stack                                                  */
/* ------------------------------------------------------------------ */

typedef struct sock_list {
    sk_sock_info *v;
    size_t n, cap;
    bool oom;
} sock_list;

static void collect(void *ctx, const sk_sock_info *si)
{
    sock_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        sk_sock_info *grown = realloc(l->v, cap * sizeof(*grown));
        if (!grown) {
            l->oom = true;
            return;
        }
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = *si;
}

int sk_ss_run(sk_stack *stack, sk_time_ns now, int argc, char **argv, FILE *out, FILE *err)
{
    sk_ss_query q;
    char msg[512];
    if (sk_ss_parse(&q, argc, argv, msg, sizeof(msg)) < 0) {
        fprintf(err, "ss: %s\n", msg);
        sk_ss_query_free(&q);
        return 2;
    }
    sock_list l = {0};
    sk_sockets(stack, collect, &l);
    if (q.summary)
        sk_ss_print_summary(out, l.v, l.n, sk_counter(stack, "TcpCurrEstab"));
    else
        sk_ss_print(out, &q, l.v, l.n, now);
    if (l.oom)
        fprintf(err, "ss: out of memory: some sockets not listed\n");
    free(l.v);
    sk_ss_query_free(&q);
    return l.oom ? 1 : 0;
}
