#include "script/lexer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sk_lex_init(sk_lexer *lx, const char *src, size_t len)
{
    memset(lx, 0, sizeof(*lx));
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->col = 1;
}

static char cur(const sk_lexer *lx)
{
    return lx->pos < lx->len ? lx->src[lx->pos] : 0;
}

static char at(const sk_lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? lx->src[lx->pos + ahead] : 0;
}

static void advance(sk_lexer *lx)
{
    if (lx->pos >= lx->len)
        return;
    if (lx->src[lx->pos] == '\n') {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
    lx->pos++;
}

static void skip_blanks(sk_lexer *lx)
{
    for (;;) {
        char c = cur(lx);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            advance(lx);
        } else if (c == '/' && at(lx, 1) == '/') {
            while (cur(lx) && cur(lx) != '\n')
                advance(lx);
        } else if (c == '/' && at(lx, 1) == '*') {
            advance(lx);
            advance(lx);
            while (cur(lx) && !(cur(lx) == '*' && at(lx, 1) == '/'))
                advance(lx);
            advance(lx);
            advance(lx);
        } else if (c == '\\' && (at(lx, 1) == '\n' || (at(lx, 1) == '\r' && at(lx, 2) == '\n'))) {
            /* A line continuation outside code blocks is just a blank. */
            advance(lx);
        } else {
            return;
        }
    }
}

static void set_error(sk_token *t, const char *msg)
{
    t->kind = SK_TOK_ERROR;
    snprintf(t->text, sizeof(t->text), "%s", msg);
}

/* Reads text up to `close` (a 1- or 2-character delimiter) into a heap
 * buffer; used for `commands` and %{ code }%. */
static bool read_delimited(sk_lexer *lx, const char *close, sk_token *t)
{
    size_t start = lx->pos;
    size_t clen = strlen(close);
    while (lx->pos < lx->len) {
        if (lx->len - lx->pos >= clen && memcmp(lx->src + lx->pos, close, clen) == 0) {
            size_t n = lx->pos - start;
            t->long_text = malloc(n + 1);
            if (!t->long_text) {
                set_error(t, "out of memory");
                return false;
            }
            memcpy(t->long_text, lx->src + start, n);
            t->long_text[n] = 0;
            t->len = n;
            for (size_t i = 0; i < clen; i++)
                advance(lx);
            return true;
        }
        advance(lx);
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void lex_string(sk_lexer *lx, sk_token *t)
{
    size_t n = 0;
    advance(lx); /* opening quote */
    for (;;) {
        char c = cur(lx);
        if (c == 0 || c == '\n') {
            set_error(t, "unterminated string");
            return;
        }
        advance(lx);
        if (c == '"')
            break;
        if (c == '\\') {
            char e = cur(lx);
            advance(lx);
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '0': c = 0; break;
            case 'x': {
                int v = 0, digits = 0;
                while (digits < 2 && hexval(cur(lx)) >= 0) {
                    v = v * 16 + hexval(cur(lx));
                    advance(lx);
                    digits++;
                }
                if (digits == 0) {
                    set_error(t, "\\x without hex digits in string");
                    return;
                }
                c = (char)v;
                break;
            }
            default: c = e; break;
            }
        }
        if (n + 1 >= sizeof(t->text)) {
            set_error(t, "string too long");
            return;
        }
        t->text[n++] = c;
    }
    t->text[n] = 0;
    t->len = n;
    t->kind = SK_TOK_STRING;
}

/* A number's value as a time: microseconds, or "out of range" (times past
 * SK_LEX_MAX_TIME_SECS would overflow the runner's nanosecond clock). */
static void set_time(sk_token *t, uint64_t whole, int64_t frac_us)
{
    if (whole > SK_LEX_MAX_TIME_SECS) {
        t->usecs_out_of_range = true;
        t->usecs = 0;
        return;
    }
    t->usecs = (int64_t)whole * 1000000 + frac_us;
}

static void lex_number(sk_lexer *lx, sk_token *t)
{
    size_t n = 0;
    bool overflow = false;
    t->kind = SK_TOK_NUMBER;
    if (cur(lx) == '0' && (at(lx, 1) == 'x' || at(lx, 1) == 'X') && hexval(at(lx, 2)) >= 0) {
        uint64_t v = 0;
        t->text[n++] = '0';
        t->text[n++] = 'x';
        advance(lx);
        advance(lx);
        while (hexval(cur(lx)) >= 0) {
            /* 64 bits at most: 0xffffffffffffffff is ~0 as packetdrill
             * scripts write it; one more digit cannot be represented. */
            if (v > UINT64_MAX >> 4)
                overflow = true;
            v = v * 16 + (uint64_t)hexval(cur(lx));
            if (n + 1 < sizeof(t->text))
                t->text[n++] = cur(lx);
            advance(lx);
        }
        t->text[n] = 0;
        t->len = n;
        if (overflow) {
            set_error(t, "number out of range (more than 64 bits)");
            return;
        }
        /* Values past INT64_MAX keep their bits, as packetdrill's s64. */
        t->ival = (int64_t)v;
        set_time(t, v, 0);
        return;
    }
    uint64_t whole = 0;
    int64_t frac_us = 0, scale = 100000;
    while (isdigit((unsigned char)cur(lx))) {
        unsigned d = (unsigned)(cur(lx) - '0');
        if (whole > ((uint64_t)INT64_MAX - d) / 10)
            overflow = true;
        else
            whole = whole * 10 + d;
        if (n + 1 < sizeof(t->text))
            t->text[n++] = cur(lx);
        advance(lx);
    }
    /* "1...2" is 1, an ellipsis and 2; "1.5" and ".5" are fractions. */
    if (cur(lx) == '.' && isdigit((unsigned char)at(lx, 1))) {
        t->is_float = true;
        if (n + 1 < sizeof(t->text))
            t->text[n++] = '.';
        advance(lx);
        while (isdigit((unsigned char)cur(lx))) {
            if (scale > 0) {
                frac_us += (cur(lx) - '0') * scale;
                scale /= 10;
            }
            if (n + 1 < sizeof(t->text))
                t->text[n++] = cur(lx);
            advance(lx);
        }
    }
    t->text[n] = 0;
    t->len = n;
    if (overflow) {
        set_error(t, "number out of range (more than 9223372036854775807)");
        return;
    }
    t->ival = (int64_t)whole;
    set_time(t, whole, frac_us);
}

static void lex_token(sk_lexer *lx, sk_token *t)
{
    memset(t, 0, sizeof(*t));
    skip_blanks(lx);
    t->line = lx->line;
    t->col = lx->col;
    t->offset = lx->pos;
    char c = cur(lx);
    if (c == 0) {
        t->kind = SK_TOK_EOF;
        return;
    }
    if (c == '`') {
        advance(lx);
        t->kind = SK_TOK_COMMAND;
        if (!read_delimited(lx, "`", t))
            set_error(t, "unterminated `command`");
        return;
    }
    if (c == '%' && at(lx, 1) == '{') {
        advance(lx);
        advance(lx);
        t->kind = SK_TOK_CODE;
        if (!read_delimited(lx, "}%", t))
            set_error(t, "unterminated %{ code }% block");
        return;
    }
    if (c == '-' && at(lx, 1) == '-' && isalpha((unsigned char)at(lx, 2))) {
        size_t n = 0;
        advance(lx);
        advance(lx);
        while (cur(lx) && cur(lx) != '\n' && !(cur(lx) == '/' && at(lx, 1) == '/')) {
            if (n + 1 < sizeof(t->text))
                t->text[n++] = cur(lx);
            advance(lx);
        }
        while (n > 0 && isspace((unsigned char)t->text[n - 1]))
            n--;
        t->text[n] = 0;
        t->len = n;
        t->kind = SK_TOK_OPTION;
        return;
    }
    if (c == '"') {
        lex_string(lx, t);
        return;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)at(lx, 1)))) {
        lex_number(lx, t);
        return;
    }
    if (c == '.' && at(lx, 1) == '.' && at(lx, 2) == '.') {
        advance(lx);
        advance(lx);
        advance(lx);
        t->kind = SK_TOK_ELLIPSIS;
        strcpy(t->text, "...");
        t->len = 3;
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        size_t n = 0;
        while (isalnum((unsigned char)cur(lx)) || cur(lx) == '_') {
            if (n + 1 < sizeof(t->text))
                t->text[n++] = cur(lx);
            advance(lx);
        }
        t->text[n] = 0;
        t->len = n;
        t->kind = SK_TOK_WORD;
        return;
    }
    if (strchr("<>[]{}(),=|:+*~-;!.&", c)) {
        advance(lx);
        t->kind = SK_TOK_PUNCT;
        t->punct = c;
        t->text[0] = c;
        t->text[1] = 0;
        t->len = 1;
        return;
    }
    char msg[64];
    if (isprint((unsigned char)c))
        snprintf(msg, sizeof(msg), "unexpected character '%c'", c);
    else
        snprintf(msg, sizeof(msg), "unexpected byte 0x%02x", (unsigned char)c);
    advance(lx);
    set_error(t, msg);
}

const sk_token *sk_lex_peek(sk_lexer *lx)
{
    if (!lx->have_peek) {
        lex_token(lx, &lx->peek);
        lx->have_peek = true;
    }
    return &lx->peek;
}

void sk_lex_next(sk_lexer *lx, sk_token *out)
{
    if (lx->have_peek) {
        *out = lx->peek;
        lx->have_peek = false;
        return;
    }
    lex_token(lx, out);
}

/* Rewinding is only ever one token, so recounting line/column from the
 * token's recorded position is exact. */
static void sk_lex_unpeek(sk_lexer *lx)
{
    if (!lx->have_peek)
        return;
    free(lx->peek.long_text);
    lx->pos = lx->peek.offset;
    lx->line = lx->peek.line;
    lx->col = lx->peek.col;
    lx->have_peek = false;
}

char sk_lex_raw_peekc(sk_lexer *lx)
{
    sk_lex_unpeek(lx);
    skip_blanks(lx);
    return cur(lx);
}

size_t sk_lex_raw_run(sk_lexer *lx, const char *set, char *buf, size_t cap)
{
    size_t n = 0;
    sk_lex_unpeek(lx);
    skip_blanks(lx);
    while (cur(lx) && strchr(set, cur(lx))) {
        if (n + 1 < cap)
            buf[n++] = cur(lx);
        advance(lx);
    }
    if (cap)
        buf[n < cap ? n : cap - 1] = 0;
    return n;
}

bool sk_lex_raw_until_paren(sk_lexer *lx, char *buf, size_t cap)
{
    size_t n = 0;
    int depth = 0;
    sk_lex_unpeek(lx);
    while (cur(lx)) {
        char c = cur(lx);
        advance(lx);
        if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (depth == 0) {
                while (n > 0 && isspace((unsigned char)buf[n - 1]))
                    n--;
                buf[n] = 0;
                return true;
            }
            depth--;
        }
        if (n + 1 < cap && !(n == 0 && isspace((unsigned char)c)))
            buf[n++] = c;
    }
    if (cap)
        buf[n < cap ? n : cap - 1] = 0;
    return false;
}

void sk_lex_where(sk_lexer *lx, int *line, int *col)
{
    if (lx->have_peek) {
        *line = lx->peek.line;
        *col = lx->peek.col;
        return;
    }
    skip_blanks(lx);
    *line = lx->line;
    *col = lx->col;
}
