/*
 * Recursive-descent parser for packetdrill scripts.
 *
 *   script   := { OPTION | event }
 *   event    := [time] action
 *   time     := '*' | ['+'] num ['~' ['+'] num]
 *   action   := packet | syscall | `command` | %{ code }%
 *   packet   := ('<'|'>') ['[' annotation ']'] (tcp | icmp)
 *   tcp      := FLAGS num ':' num '(' num ')' ['ack' num] ['win' num] [options]
 *   options  := '<' ( '...' | opt {',' opt} ) '>'
 *   icmp     := 'icmp' WORD [WORD] ['mtu' num] ['[' num ':' num '(' num ')' ']']
 *   syscall  := ['...' num] NAME '(' [expr {',' expr}] ')' '=' expr [ERRNO] ['(' note ')']
 *   expr     := unary {('|'|'&') unary}
 *   unary    := ['-'] num | STRING | '...' | NAME ['(' expr ')'] ['=' expr]
 *             | '[' [expr {',' expr}] ']' | '{' [expr {',' expr}] '}'
 */
#include "script/script.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/lexer.h"
#include "synack/packet.h"

/* ------------------------------------------------------------------ */
/* Arena: every tree node lives until sk_script_free                    */
/* ------------------------------------------------------------------ */

struct sk_script_arena {
    sk_script_arena *next;
    size_t used, cap;
    max_align_t data[];
};

static void *arena_alloc(sk_script_arena **head, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    sk_script_arena *a = *head;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        sk_script_arena *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = a;
        b->used = 0;
        b->cap = cap;
        *head = b;
        a = b;
    }
    void *p = (char *)a->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

typedef struct parser {
    sk_lexer lx;
    const char *path;
    sk_script *script;
    char *err;
    size_t errlen;
    bool failed;
    unsigned depth; /* expressions being parsed, one inside the other */
    /* growable event array */
    size_t event_cap;
    size_t option_cap;
} parser;

static void *palloc(parser *p, size_t n)
{
    void *v = arena_alloc(&p->script->arena, n);
    if (!v && !p->failed) {
        p->failed = true;
        snprintf(p->err, p->errlen, "%s: out of memory", p->path);
    }
    return v;
}

static char *pstrdup(parser *p, const char *s, size_t n)
{
    char *d = palloc(p, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static const char *describe(const sk_token *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case SK_TOK_EOF: return "end of file";
    case SK_TOK_ERROR: snprintf(buf, cap, "%s", t->text); return buf;
    case SK_TOK_STRING: return "a string";
    case SK_TOK_COMMAND: return "a `command`";
    case SK_TOK_CODE: return "a %{ code }% block";
    case SK_TOK_OPTION: snprintf(buf, cap, "'--%s'", t->text); return buf;
    default: snprintf(buf, cap, "'%s'", t->text); return buf;
    }
}

static void fail_at(parser *p, int line, int col, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    int n = snprintf(p->err, p->errlen, "%s:%d:%d: ", p->path, line, col);
    if (n < 0 || (size_t)n >= p->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* "expected X, got Y" at the next token. */
static void expected(parser *p, const char *what)
{
    const sk_token *t = sk_lex_peek(&p->lx);
    char buf[600];
    if (t->kind == SK_TOK_ERROR)
        fail_at(p, t->line, t->col, "%s", t->text);
    else
        fail_at(p, t->line, t->col, "expected %s, got %s", what, describe(t, buf, sizeof(buf)));
}

static bool is_punct(const sk_token *t, char c)
{
    return t->kind == SK_TOK_PUNCT && t->punct == c;
}

static bool is_word(const sk_token *t, const char *w)
{
    return t->kind == SK_TOK_WORD && strcmp(t->text, w) == 0;
}

static bool accept_punct(parser *p, char c)
{
    if (is_punct(sk_lex_peek(&p->lx), c)) {
        sk_token t;
        sk_lex_next(&p->lx, &t);
        return true;
    }
    return false;
}

static bool expect_punct(parser *p, char c)
{
    if (accept_punct(p, c))
        return true;
    char what[8] = {'\'', c, '\'', 0};
    expected(p, what);
    return false;
}

static bool expect_word(parser *p, const char *w)
{
    if (is_word(sk_lex_peek(&p->lx), w)) {
        sk_token t;
        sk_lex_next(&p->lx, &t);
        return true;
    }
    char what[64];
    snprintf(what, sizeof(what), "'%s'", w);
    expected(p, what);
    return false;
}

/* An unsigned integer that fits 32 bits (sequence numbers, windows...). */
static bool expect_u32(parser *p, const char *what, uint32_t *out)
{
    const sk_token *t = sk_lex_peek(&p->lx);
    if (t->kind != SK_TOK_NUMBER || t->is_float || t->ival < 0 || t->ival > 0xffffffffll) {
        expected(p, what);
        return false;
    }
    *out = (uint32_t)t->ival;
    sk_token tok;
    sk_lex_next(&p->lx, &tok);
    return true;
}

/* ------------------------------------------------------------------ */
/* Times                                                                */
/* ------------------------------------------------------------------ */

static bool is_time_start(const sk_token *t)
{
    return t->kind == SK_TOK_NUMBER || is_punct(t, '+') || is_punct(t, '*');
}

static bool parse_time_value(parser *p, bool *relative, int64_t *usecs)
{
    *relative = accept_punct(p, '+');
    const sk_token *t = sk_lex_peek(&p->lx);
    if (t->kind != SK_TOK_NUMBER) {
        expected(p, "a time in seconds");
        return false;
    }
    if (t->usecs_out_of_range) {
        fail_at(p, t->line, t->col, "time %s out of range (more than %llu seconds)", t->text,
                (unsigned long long)SK_LEX_MAX_TIME_SECS);
        return false;
    }
    *usecs = t->usecs;
    sk_token tok;
    sk_lex_next(&p->lx, &tok);
    return true;
}

static bool parse_time(parser *p, sk_script_time *tm)
{
    if (accept_punct(p, '*')) {
        tm->kind = SK_STIME_ANY;
        return true;
    }
    bool rel;
    if (!parse_time_value(p, &rel, &tm->usecs))
        return false;
    tm->kind = rel ? SK_STIME_RELATIVE : SK_STIME_ABSOLUTE;
    if (accept_punct(p, '~')) {
        tm->has_end = true;
        if (!parse_time_value(p, &tm->end_relative, &tm->end_usecs))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Packets                                                              */
/* ------------------------------------------------------------------ */

static bool parse_flags(parser *p, sk_script_packet *pkt)
{
    int line, col;
    sk_lex_where(&p->lx, &line, &col);
    char buf[32];
    size_t n = sk_lex_raw_run(&p->lx, "SFRPUEWCN.-", buf, sizeof(buf));
    if (n == 0 || n >= sizeof(pkt->flags_text)) {
        expected(p, "TCP flags (S, S., ., P., F., R, R., -, ...)");
        return false;
    }
    memcpy(pkt->flags_text, buf, n + 1);
    uint16_t flags = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t bit = 0;
        switch (buf[i]) {
        case 'S': bit = SK_TH_SYN; break;
        case 'F': bit = SK_TH_FIN; break;
        case 'R': bit = SK_TH_RST; break;
        case 'P': bit = SK_TH_PSH; break;
        case '.': bit = SK_TH_ACK; break;
        case 'U': bit = SK_TH_URG; break;
        case 'E': bit = SK_TH_ECE; break;
        case 'W': bit = SK_TH_CWR; break;
        case 'C': bit = SK_TH_CWR; break;
        case 'N': bit = SK_TH_NS; break;
        case '-':
            if (n != 1) {
                fail_at(p, line, col, "expected TCP flags, got '%s' ('-' stands alone)", buf);
                return false;
            }
            break;
        }
        if (flags & bit) {
            fail_at(p, line, col, "expected TCP flags, got '%s' (repeated flag '%c')", buf, buf[i]);
            return false;
        }
        flags |= bit;
    }
    pkt->flags = flags;
    return true;
}

static bool parse_seq(parser *p, uint32_t *start, uint32_t *end, uint32_t *len)
{
    int line, col;
    sk_lex_where(&p->lx, &line, &col);
    if (!expect_u32(p, "a sequence number (start:end(len))", start) || !expect_punct(p, ':') ||
        !expect_u32(p, "the end sequence number", end) || !expect_punct(p, '(') ||
        !expect_u32(p, "the payload length", len) || !expect_punct(p, ')'))
        return false;
    if ((uint32_t)(*end - *start) != *len) {
        fail_at(p, line, col, "expected end - start == length, got %u:%u(%u)", *start, *end, *len);
        return false;
    }
    return true;
}

static bool parse_cookie(parser *p, sk_script_tcp_opt *o)
{
    char c = sk_lex_raw_peekc(&p->lx);
    if (c == ',' || c == '>')
        return true;
    int line, col;
    sk_lex_where(&p->lx, &line, &col);
    char buf[128];
    size_t n = sk_lex_raw_run(&p->lx,
                              "0123456789abcdefABCDEFghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ_",
                              buf, sizeof(buf));
    if (n == 0) {
        expected(p, "a cookie (hex digits or a name), ',' or '>'");
        return false;
    }
    bool hex = true;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", buf[i]))
            hex = false;
    if (!hex) {
        o->cookie_name = pstrdup(p, buf, n);
        return o->cookie_name != NULL;
    }
    if (n % 2 != 0 || n / 2 > SK_SCRIPT_COOKIE_MAX) {
        fail_at(p, line, col, "expected an even number of hex digits, at most %d bytes, got '%s'",
                SK_SCRIPT_COOKIE_MAX, buf);
        return false;
    }
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        sscanf(buf + 2 * i, "%2x", &v);
        o->cookie[i] = (uint8_t)v;
    }
    o->cookie_len = (uint8_t)(n / 2);
    return true;
}

static bool parse_tcp_option(parser *p, sk_script_tcp_opt *o)
{
    const sk_token *t = sk_lex_peek(&p->lx);
    if (t->kind != SK_TOK_WORD) {
        expected(p, "a TCP option (mss, nop, sackOK, TS, wscale, sack, eol, FO, FOEXP)");
        return false;
    }
    sk_token w;
    sk_lex_next(&p->lx, &w);
    if (strcmp(w.text, "nop") == 0) {
        o->kind = SK_SOPT_NOP;
    } else if (strcmp(w.text, "eol") == 0) {
        o->kind = SK_SOPT_EOL;
    } else if (strcmp(w.text, "sackOK") == 0) {
        o->kind = SK_SOPT_SACK_PERM;
    } else if (strcmp(w.text, "mss") == 0) {
        o->kind = SK_SOPT_MSS;
        return expect_u32(p, "the MSS value", &o->value);
    } else if (strcmp(w.text, "wscale") == 0) {
        o->kind = SK_SOPT_WSCALE;
        return expect_u32(p, "the window scale shift", &o->value);
    } else if (strcmp(w.text, "TS") == 0) {
        o->kind = SK_SOPT_TS;
        return expect_word(p, "val") && expect_u32(p, "the TS value", &o->ts_val) &&
               expect_word(p, "ecr") && expect_u32(p, "the TS echo reply", &o->ts_ecr);
    } else if (strcmp(w.text, "sack") == 0) {
        o->kind = SK_SOPT_SACK;
        while (sk_lex_peek(&p->lx)->kind == SK_TOK_NUMBER) {
            if (o->sack_count == 4) {
                expected(p, "at most 4 SACK blocks");
                return false;
            }
            if (!expect_u32(p, "a SACK block start", &o->sack_start[o->sack_count]) ||
                !expect_punct(p, ':') ||
                !expect_u32(p, "a SACK block end", &o->sack_end[o->sack_count]))
                return false;
            o->sack_count++;
        }
    } else if (strcmp(w.text, "FO") == 0) {
        o->kind = SK_SOPT_FO;
        return parse_cookie(p, o);
    } else if (strcmp(w.text, "FOEXP") == 0) {
        o->kind = SK_SOPT_FOEXP;
        return parse_cookie(p, o);
    } else if (strcmp(w.text, "exp") == 0 && accept_punct(p, '-') && expect_word(p, "FO")) {
        o->kind = SK_SOPT_FOEXP;
        return parse_cookie(p, o);
    } else {
        fail_at(p, w.line, w.col,
                "expected a TCP option (mss, nop, sackOK, TS, wscale, sack, eol, FO, FOEXP), got '%s'",
                w.text);
        return false;
    }
    return true;
}

static bool parse_tcp_options(parser *p, sk_script_packet *pkt)
{
    if (!accept_punct(p, '<'))
        return true;
    pkt->has_options = true;
    if (sk_lex_peek(&p->lx)->kind == SK_TOK_ELLIPSIS) {
        sk_token t;
        sk_lex_next(&p->lx, &t);
        pkt->options_any = true;
        return expect_punct(p, '>');
    }
    sk_script_tcp_opt opts[SK_SCRIPT_MAX_OPTS];
    size_t n = 0;
    if (!is_punct(sk_lex_peek(&p->lx), '>')) {
        do {
            if (n == SK_SCRIPT_MAX_OPTS) {
                expected(p, "at most 40 options");
                return false;
            }
            memset(&opts[n], 0, sizeof(opts[n]));
            if (!parse_tcp_option(p, &opts[n]))
                return false;
            n++;
        } while (accept_punct(p, ','));
    }
    if (!expect_punct(p, '>'))
        return false;
    pkt->option_count = n;
    if (n) {
        pkt->options = palloc(p, n * sizeof(*pkt->options));
        if (!pkt->options)
            return false;
        memcpy(pkt->options, opts, n * sizeof(*opts));
    }
    return true;
}

static bool parse_icmp(parser *p, sk_script_packet *pkt)
{
    sk_token t;
    sk_lex_next(&p->lx, &t); /* icmp */
    pkt->icmp = true;
    const sk_token *w = sk_lex_peek(&p->lx);
    if (w->kind != SK_TOK_WORD) {
        expected(p, "an ICMP type (unreachable, packet_too_big, ...)");
        return false;
    }
    sk_lex_next(&p->lx, &t);
    pkt->icmp_type = pstrdup(p, t.text, t.len);
    w = sk_lex_peek(&p->lx);
    if (w->kind == SK_TOK_WORD && strcmp(w->text, "mtu") != 0) {
        sk_lex_next(&p->lx, &t);
        pkt->icmp_code = pstrdup(p, t.text, t.len);
    }
    if (is_word(sk_lex_peek(&p->lx), "mtu")) {
        sk_lex_next(&p->lx, &t);
        pkt->has_mtu = true;
        if (!expect_u32(p, "the MTU", &pkt->mtu))
            return false;
    }
    if (accept_punct(p, '[')) {
        pkt->icmp_has_seq = true;
        if (!parse_seq(p, &pkt->seq_start, &pkt->seq_end, &pkt->payload_len) || !expect_punct(p, ']'))
            return false;
    }
    return true;
}

static bool parse_packet(parser *p, sk_script_packet *pkt)
{
    sk_token t;
    sk_lex_next(&p->lx, &t);
    pkt->direction = t.punct;
    if (accept_punct(p, '[')) {
        const sk_token *a = sk_lex_peek(&p->lx);
        if (a->kind != SK_TOK_WORD) {
            expected(p, "an IP annotation (ect0, ect1, ce, noecn, ...)");
            return false;
        }
        sk_lex_next(&p->lx, &t);
        pkt->ip_annotation = pstrdup(p, t.text, t.len);
        if (!expect_punct(p, ']'))
            return false;
    }
    if (is_word(sk_lex_peek(&p->lx), "icmp"))
        return parse_icmp(p, pkt);
    if (!parse_flags(p, pkt) || !parse_seq(p, &pkt->seq_start, &pkt->seq_end, &pkt->payload_len))
        return false;
    if (is_word(sk_lex_peek(&p->lx), "ack")) {
        sk_lex_next(&p->lx, &t);
        pkt->has_ack = true;
        if (!expect_u32(p, "the acknowledgment number", &pkt->ack))
            return false;
    }
    if (is_word(sk_lex_peek(&p->lx), "win")) {
        sk_lex_next(&p->lx, &t);
        pkt->has_win = true;
        if (!expect_u32(p, "the window", &pkt->win))
            return false;
    }
    return parse_tcp_options(p, pkt);
}

/* ------------------------------------------------------------------ */
/* System calls                                                         */
/* ------------------------------------------------------------------ */

static sk_script_expr *new_expr(parser *p, sk_script_expr_kind kind, int line, int col)
{
    sk_script_expr *e = palloc(p, sizeof(*e));
    if (e) {
        e->kind = kind;
        e->line = line;
        e->col = col;
    }
    return e;
}

static sk_script_expr *parse_expr(parser *p);

/* Parses elements up to `close`, storing them in e->items. */
static bool parse_list_items(parser *p, sk_script_expr *e, char close)
{
    sk_script_expr *items[256];
    size_t n = 0;
    if (!is_punct(sk_lex_peek(&p->lx), close)) {
        do {
            if (n == 256) {
                expected(p, "at most 256 elements");
                return false;
            }
            items[n] = parse_expr(p);
            if (!items[n])
                return false;
            n++;
        } while (accept_punct(p, ','));
    }
    if (!expect_punct(p, close))
        return false;
    e->count = n;
    if (n) {
        e->items = palloc(p, n * sizeof(*items));
        if (!e->items)
            return false;
        memcpy(e->items, items, n * sizeof(*items));
    }
    return true;
}

static sk_script_expr *parse_unary(parser *p)
{
    const sk_token *t = sk_lex_peek(&p->lx);
    int line = t->line, col = t->col;
    sk_token tok;
    if (is_punct(t, '-') || t->kind == SK_TOK_NUMBER) {
        bool neg = accept_punct(p, '-');
        t = sk_lex_peek(&p->lx);
        if (t->kind != SK_TOK_NUMBER || t->is_float) {
            expected(p, "an integer");
            return NULL;
        }
        sk_lex_next(&p->lx, &tok);
        sk_script_expr *e = new_expr(p, SK_SEXPR_INT, line, col);
        if (e)
            e->num = neg ? -tok.ival : tok.ival;
        return e;
    }
    if (t->kind == SK_TOK_STRING) {
        sk_lex_next(&p->lx, &tok);
        sk_script_expr *e = new_expr(p, SK_SEXPR_STRING, line, col);
        if (e) {
            e->text = pstrdup(p, tok.text, tok.len);
            e->len = tok.len;
        }
        return e;
    }
    if (t->kind == SK_TOK_ELLIPSIS) {
        sk_lex_next(&p->lx, &tok);
        return new_expr(p, SK_SEXPR_ELLIPSIS, line, col);
    }
    if (is_punct(t, '[') || is_punct(t, '{')) {
        char close = t->punct == '[' ? ']' : '}';
        sk_lex_next(&p->lx, &tok);
        sk_script_expr *e = new_expr(p, close == ']' ? SK_SEXPR_LIST : SK_SEXPR_STRUCT, line, col);
        if (!e || !parse_list_items(p, e, close))
            return NULL;
        return e;
    }
    if (t->kind == SK_TOK_WORD) {
        sk_lex_next(&p->lx, &tok);
        sk_script_expr *e = new_expr(p, SK_SEXPR_NAME, line, col);
        if (!e || !(e->text = pstrdup(p, tok.text, tok.len)))
            return NULL;
        if (accept_punct(p, '(')) {
            /* msg_iov(4)=[...]: a field name carrying an element count */
            e->kind = SK_SEXPR_CALL;
            e->lhs = parse_expr(p);
            if (!e->lhs || !expect_punct(p, ')'))
                return NULL;
        }
        if (accept_punct(p, '=')) {
            e->kind = SK_SEXPR_FIELD;
            e->rhs = parse_expr(p);
            if (!e->rhs)
                return NULL;
        }
        return e;
    }
    expected(p, "an expression (number, string, name, ..., [list] or {struct})");
    return NULL;
}

/* Real scripts nest a few levels ({msg_iov(1)=[{...}]}); each level is a
 * recursion with a 256-slot frame, so a file of brackets would otherwise
 * overflow the stack (found by fuzz/fuzz_script_parse.c). */
#define PARSE_MAX_DEPTH 32

static sk_script_expr *parse_expr_nested(parser *p);

static sk_script_expr *parse_expr(parser *p)
{
    if (p->depth == PARSE_MAX_DEPTH) {
        const sk_token *t = sk_lex_peek(&p->lx);
        fail_at(p, t->line, t->col, "expressions nested more than %d deep", PARSE_MAX_DEPTH);
        return NULL;
    }
    p->depth++;
    sk_script_expr *e = parse_expr_nested(p);
    p->depth--;
    return e;
}

static sk_script_expr *parse_expr_nested(parser *p)
{
    sk_script_expr *lhs = parse_unary(p);
    /* No '+' or '-': the next event's time ("+0") may follow an expression. */
    while (lhs && (is_punct(sk_lex_peek(&p->lx), '|') || is_punct(sk_lex_peek(&p->lx), '&'))) {
        sk_token op;
        sk_lex_next(&p->lx, &op);
        sk_script_expr *rhs = parse_unary(p);
        if (!rhs)
            return NULL;
        sk_script_expr *e = new_expr(p, SK_SEXPR_BINARY, lhs->line, lhs->col);
        if (!e)
            return NULL;
        e->op = op.punct;
        e->lhs = lhs;
        e->rhs = rhs;
        lhs = e;
    }
    return lhs;
}

static bool parse_syscall(parser *p, sk_script_syscall *sc)
{
    sk_token t;
    sk_lex_next(&p->lx, &t);
    sc->name = pstrdup(p, t.text, t.len);
    if (!sc->name || !expect_punct(p, '('))
        return false;
    sk_script_expr holder = {0};
    if (!parse_list_items(p, &holder, ')'))
        return false;
    sc->args = holder.items;
    sc->arg_count = holder.count;
    if (!expect_punct(p, '='))
        return false;
    sc->ret = parse_expr(p);
    if (!sc->ret)
        return false;
    const sk_token *n = sk_lex_peek(&p->lx);
    if (n->kind == SK_TOK_WORD && n->text[0] == 'E') {
        sk_lex_next(&p->lx, &t);
        sc->errno_name = pstrdup(p, t.text, t.len);
        n = sk_lex_peek(&p->lx);
    }
    if (is_punct(n, '(')) {
        sk_lex_next(&p->lx, &t);
        char note[512];
        if (!sk_lex_raw_until_paren(&p->lx, note, sizeof(note))) {
            fail_at(p, t.line, t.col, "expected ')' closing the note, got end of file");
            return false;
        }
        sc->note = pstrdup(p, note, strlen(note));
    }
    return !p->failed;
}

/* ------------------------------------------------------------------ */
/* Script                                                               */
/* ------------------------------------------------------------------ */

static sk_script_event *new_event(parser *p)
{
    sk_script *s = p->script;
    if (s->event_count == p->event_cap) {
        size_t cap = p->event_cap ? p->event_cap * 2 : 64;
        sk_script_event *ev = realloc(s->events, cap * sizeof(*ev));
        if (!ev) {
            fail_at(p, 0, 0, "out of memory");
            return NULL;
        }
        s->events = ev;
        p->event_cap = cap;
    }
    sk_script_event *e = &s->events[s->event_count++];
    memset(e, 0, sizeof(*e));
    return e;
}

static bool add_option(parser *p, const sk_token *t)
{
    sk_script *s = p->script;
    if (s->option_count == p->option_cap) {
        size_t cap = p->option_cap ? p->option_cap * 2 : 8;
        sk_script_option *o = realloc(s->options, cap * sizeof(*o));
        if (!o) {
            fail_at(p, t->line, t->col, "out of memory");
            return false;
        }
        s->options = o;
        p->option_cap = cap;
    }
    sk_script_option *o = &s->options[s->option_count++];
    o->line = t->line;
    const char *eq = strchr(t->text, '=');
    if (eq) {
        o->name = pstrdup(p, t->text, (size_t)(eq - t->text));
        o->value = pstrdup(p, eq + 1, strlen(eq + 1));
    } else {
        size_t n = strcspn(t->text, " \t");
        o->name = pstrdup(p, t->text, n);
        o->value = NULL;
    }
    return o->name != NULL;
}

static bool parse_event(parser *p)
{
    const sk_token *t = sk_lex_peek(&p->lx);
    sk_script_event *ev = new_event(p);
    if (!ev)
        return false;
    ev->line = t->line;
    ev->col = t->col;
    if (is_time_start(t)) {
        if (!parse_time(p, &ev->time))
            return false;
        t = sk_lex_peek(&p->lx);
    }
    bool has_time = ev->time.kind != SK_STIME_NONE;
    if (t->kind == SK_TOK_ELLIPSIS) {
        sk_token tok;
        sk_lex_next(&p->lx, &tok);
        ev->syscall.has_end = true;
        t = sk_lex_peek(&p->lx);
        if (t->kind != SK_TOK_NUMBER) {
            expected(p, "the end time of a blocking call");
            return false;
        }
        if (t->usecs_out_of_range) {
            fail_at(p, t->line, t->col, "time %s out of range (more than %llu seconds)", t->text,
                    (unsigned long long)SK_LEX_MAX_TIME_SECS);
            return false;
        }
        ev->syscall.end_usecs = t->usecs;
        sk_lex_next(&p->lx, &tok);
        t = sk_lex_peek(&p->lx);
        if (t->kind != SK_TOK_WORD) {
            expected(p, "a system call after the blocking time range");
            return false;
        }
    }
    if (t->kind == SK_TOK_COMMAND || t->kind == SK_TOK_CODE) {
        sk_token tok;
        sk_lex_next(&p->lx, &tok);
        ev->kind = tok.kind == SK_TOK_COMMAND ? SK_SEV_COMMAND : SK_SEV_CODE;
        ev->text = pstrdup(p, tok.long_text, tok.len);
        free(tok.long_text);
        return ev->text != NULL;
    }
    if (!has_time) {
        expected(p, "an event time, an --option or a `command`");
        return false;
    }
    if (is_punct(t, '<') || is_punct(t, '>')) {
        ev->kind = SK_SEV_PACKET;
        return parse_packet(p, &ev->packet);
    }
    if (t->kind == SK_TOK_WORD) {
        ev->kind = SK_SEV_SYSCALL;
        return parse_syscall(p, &ev->syscall);
    }
    expected(p, "a packet ('<' or '>'), a system call, a `command` or a %{ code }% block");
    return false;
}

void sk_script_free(sk_script *script)
{
    if (!script)
        return;
    sk_script_arena *a = script->arena;
    while (a) {
        sk_script_arena *next = a->next;
        free(a);
        a = next;
    }
    free(script->events);
    free(script->options);
    free(script);
}

sk_script *sk_script_parse(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
    static char dummy[1];
    parser p = {0};
    p.path = path ? path : "<script>";
    p.err = err && errlen ? err : dummy;
    p.errlen = err && errlen ? errlen : sizeof(dummy);
    p.err[0] = 0;
    if (len > SK_SCRIPT_MAX_BYTES) {
        snprintf(p.err, p.errlen, "%s: script larger than %u bytes", p.path, SK_SCRIPT_MAX_BYTES);
        return NULL;
    }
    p.script = calloc(1, sizeof(*p.script));
    if (!p.script) {
        snprintf(p.err, p.errlen, "%s: out of memory", p.path);
        return NULL;
    }
    p.script->path = pstrdup(&p, p.path, strlen(p.path));
    sk_lex_init(&p.lx, text, len);
    while (!p.failed) {
        const sk_token *t = sk_lex_peek(&p.lx);
        if (t->kind == SK_TOK_EOF)
            break;
        if (t->kind == SK_TOK_ERROR) {
            fail_at(&p, t->line, t->col, "%s", t->text);
            break;
        }
        if (t->kind == SK_TOK_OPTION) {
            sk_token tok;
            sk_lex_next(&p.lx, &tok);
            if (p.script->event_count > 0) {
                fail_at(&p, tok.line, tok.col, "expected an event, got option '--%s' after the first event",
                        tok.text);
                break;
            }
            add_option(&p, &tok);
            continue;
        }
        parse_event(&p);
    }
    if (p.lx.have_peek)
        free(p.lx.peek.long_text);
    if (p.failed) {
        sk_script_free(p.script);
        return NULL;
    }
    return p.script;
}

sk_script *sk_script_parse_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* Reads at most one byte past the limit: enough to know it is over. */
    size_t cap = SK_SCRIPT_MAX_BYTES + 1, len = 0;
    char *buf = malloc(cap);
    if (buf) {
        size_t n;
        while (len < cap && (n = fread(buf + len, 1, cap - len, f)) > 0)
            len += n;
    }
    bool read_error = ferror(f);
    fclose(f);
    if (!buf || read_error) {
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    if (len > SK_SCRIPT_MAX_BYTES) {
        snprintf(err, errlen, "%s: script larger than %u bytes", path, SK_SCRIPT_MAX_BYTES);
        free(buf);
        return NULL;
    }
    sk_script *s = sk_script_parse(path, buf, len, err, errlen);
    free(buf);
    return s;
}

const char *sk_script_option_value(const sk_script *script, const char *name)
{
    for (size_t i = script->option_count; i-- > 0;)
        if (strcmp(script->options[i].name, name) == 0)
            return script->options[i].value ? script->options[i].value : "";
    return NULL;
}
