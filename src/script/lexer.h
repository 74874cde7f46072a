/*
 * Tokens of packetdrill's script language.
 *
 * Newlines are not tokens: an event ends where its grammar ends, and the
 * next event starts with a time.  A few spots (TCP flags, cookies, the
 * text of a return note) are read raw by the parser through sk_lex_raw_*
 * because their spelling is not made of ordinary tokens.
 */
#ifndef SK_SCRIPT_LEXER_H
#define SK_SCRIPT_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sk_token_kind {
    SK_TOK_EOF,
    SK_TOK_ERROR,    /* text holds the message                              */
    SK_TOK_NUMBER,   /* integer (decimal or 0x hex) or decimal fraction      */
    SK_TOK_WORD,     /* [A-Za-z_][A-Za-z0-9_]*                               */
    SK_TOK_STRING,   /* "..." (escapes decoded into text, len bytes)         */
    SK_TOK_ELLIPSIS, /* ...                                                  */
    SK_TOK_PUNCT,    /* one character: < > [ ] { } ( ) , = | : + * ~ - ; !   */
    SK_TOK_COMMAND,  /* `...` (text between the backquotes)                  */
    SK_TOK_CODE,     /* %{ ... }% (text between the delimiters)              */
    SK_TOK_OPTION,   /* --name[=value] to the end of its line                */
} sk_token_kind;

/* The largest time a script may give, in seconds (about 31 years): far past
 * any TCP timer, and small enough that the runner's nanosecond clock cannot
 * overflow however the script's relative times add up. */
#define SK_LEX_MAX_TIME_SECS 1000000000ull

typedef struct sk_token {
    sk_token_kind kind;
    int line, col;
    size_t offset;       /* where the token starts in the text   */
    char punct;          /* PUNCT                                */
    bool is_float;       /* NUMBER written with a '.'            */
    int64_t ival;        /* NUMBER: integer value                */
    int64_t usecs;       /* NUMBER: value * 1e6 (for times)      */
    bool usecs_out_of_range; /* NUMBER: over SK_LEX_MAX_TIME_SECS as a time */
    char text[512];      /* NUMBER/WORD spelling, STRING bytes, OPTION line */
    size_t len;
    char *long_text;     /* COMMAND/CODE: heap text owned by the caller */
} sk_token;

typedef struct sk_lexer {
    const char *src;
    size_t len;
    size_t pos;
    int line, col;
    bool have_peek;
    sk_token peek;
} sk_lexer;

void sk_lex_init(sk_lexer *lx, const char *src, size_t len);
/* Looks at the next token without consuming it. */
const sk_token *sk_lex_peek(sk_lexer *lx);
/* Consumes the next token into *out. */
void sk_lex_next(sk_lexer *lx, sk_token *out);
/* Skips blanks and comments; returns the next character or 0 at the end. */
char sk_lex_raw_peekc(sk_lexer *lx);
/* Reads a run of characters from `set` (after blanks) into buf. */
size_t sk_lex_raw_run(sk_lexer *lx, const char *set, char *buf, size_t cap);
/* Reads raw text up to the ')' that closes an already consumed '(' and
 * consumes that ')'.  Returns false at the end of input. */
bool sk_lex_raw_until_paren(sk_lexer *lx, char *buf, size_t cap);
/* Current position (after skipping blanks), for error messages. */
void sk_lex_where(sk_lexer *lx, int *line, int *col);

#endif
