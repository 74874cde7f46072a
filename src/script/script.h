/*
 * packetdrill script language: syntax tree, parser and virtual-time runner.
 *
 * The parser accepts the grammar of packetdrill's TCP test scripts (the
 * ones shipped under shared/conformance) and produces a syntax tree that
 * keeps every value as written; the runner gives that tree meaning against
 * a synack stack (see run.c).
 */
#ifndef SK_SCRIPT_H
#define SK_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Syntax tree                                                          */
/* ------------------------------------------------------------------ */

typedef enum sk_script_time_kind {
    SK_STIME_NONE = 0,  /* no time column (a command before the first event) */
    SK_STIME_ABSOLUTE,  /* 0.100                                              */
    SK_STIME_RELATIVE,  /* +0.1                                               */
    SK_STIME_ANY,       /* *                                                  */
} sk_script_time_kind;

/* The time column.  A range `a~b` sets has_end; each end may be relative
 * (`+.3~+.4`).  Times are in microseconds, as packetdrill keeps them. */
typedef struct sk_script_time {
    sk_script_time_kind kind;
    int64_t usecs;
    bool has_end;
    bool end_relative;
    int64_t end_usecs;
} sk_script_time;

typedef enum sk_script_expr_kind {
    SK_SEXPR_INT,      /* 3, -1, 0xffffffff                        */
    SK_SEXPR_STRING,   /* "..." with escapes decoded into bytes     */
    SK_SEXPR_ELLIPSIS, /* ...                                       */
    SK_SEXPR_NAME,     /* SOCK_STREAM, NULL, POLLIN                 */
    SK_SEXPR_BINARY,   /* lhs op rhs, op is '|'                     */
    SK_SEXPR_LIST,     /* [a, b]                                    */
    SK_SEXPR_STRUCT,   /* {a, b} / {fd=3, events=POLLIN}            */
    SK_SEXPR_FIELD,    /* name=value or name(index)=value           */
    SK_SEXPR_CALL,     /* name(arg), e.g. msg_name(...) not followed by = */
} sk_script_expr_kind;

typedef struct sk_script_expr sk_script_expr;
struct sk_script_expr {
    sk_script_expr_kind kind;
    int line, col;
    int64_t num;          /* INT                                           */
    char *text;           /* STRING bytes (NUL-terminated, see len), NAME, FIELD/CALL name */
    size_t len;           /* STRING byte count                              */
    char op;              /* BINARY                                         */
    sk_script_expr *lhs;  /* BINARY left; FIELD/CALL index argument or NULL */
    sk_script_expr *rhs;  /* BINARY right; FIELD value                      */
    sk_script_expr **items; /* LIST / STRUCT elements                       */
    size_t count;
};

typedef enum sk_script_opt_kind {
    SK_SOPT_NOP,
    SK_SOPT_EOL,
    SK_SOPT_MSS,
    SK_SOPT_WSCALE,
    SK_SOPT_SACK_PERM,
    SK_SOPT_SACK,
    SK_SOPT_TS,
    SK_SOPT_FO,    /* RFC 7413 option kind 34                            */
    SK_SOPT_FOEXP, /* the experimental kind 254 with magic 0xF989        */
} sk_script_opt_kind;

#define SK_SCRIPT_COOKIE_MAX 36 /* what fits in 40 option bytes */

typedef struct sk_script_tcp_opt {
    sk_script_opt_kind kind;
    uint32_t value;       /* MSS, WSCALE                              */
    uint32_t ts_val, ts_ecr;
    uint8_t sack_count;
    uint32_t sack_start[4], sack_end[4];
    uint8_t cookie[SK_SCRIPT_COOKIE_MAX]; /* FO/FOEXP hex cookie      */
    uint8_t cookie_len;
    char *cookie_name;    /* FO/FOEXP given by name (TFO_COOKIE)     */
} sk_script_tcp_opt;

#define SK_SCRIPT_MAX_OPTS 40

typedef struct sk_script_packet {
    char direction;       /* '<' inbound (script to stack), '>' outbound */
    char *ip_annotation;  /* "ect0", "noecn", ... from [..], or NULL     */
    bool icmp;
    /* TCP */
    uint16_t flags;       /* SK_TH_* bits; '.' is ACK, '-' is none        */
    char flags_text[16];
    uint32_t seq_start, seq_end, payload_len;
    bool has_ack;
    uint32_t ack;
    bool has_win;
    uint32_t win;
    bool options_any;     /* <...>                                       */
    bool has_options;     /* an option list was written (maybe empty)    */
    size_t option_count;
    sk_script_tcp_opt *options;
    /* ICMP: `icmp TYPE [CODE] [mtu N] [[start:end(len)]]` */
    char *icmp_type, *icmp_code;
    bool has_mtu;
    uint32_t mtu;
    bool icmp_has_seq;
} sk_script_packet;

typedef struct sk_script_syscall {
    char *name;
    bool has_end;         /* `...end` after the time: a blocking call   */
    int64_t end_usecs;
    sk_script_expr **args;
    size_t arg_count;
    sk_script_expr *ret;
    char *errno_name;     /* EINPROGRESS, or NULL                        */
    char *note;           /* text of a trailing (...) comment, or NULL   */
} sk_script_syscall;

typedef enum sk_script_event_kind {
    SK_SEV_PACKET,
    SK_SEV_SYSCALL,
    SK_SEV_COMMAND, /* `shell command`   */
    SK_SEV_CODE,    /* %{ python }%      */
} sk_script_event_kind;

typedef struct sk_script_event {
    int line, col;
    sk_script_time time;
    sk_script_event_kind kind;
    sk_script_packet packet;
    sk_script_syscall syscall;
    char *text;           /* COMMAND / CODE text between the delimiters */
} sk_script_event;

typedef struct sk_script_option {
    int line;
    char *name;           /* without the leading "--" */
    char *value;          /* NULL for a bare flag      */
} sk_script_option;

typedef struct sk_script_arena sk_script_arena;

typedef struct sk_script {
    char *path;
    sk_script_option *options;
    size_t option_count;
    sk_script_event *events;
    size_t event_count;
    sk_script_arena *arena;
} sk_script;

/* Parses a whole script.  On error returns NULL and writes
 * "path:line:col: expected X, got 'Y'" into err. */
sk_script *sk_script_parse(const char *path, const char *text, size_t len, char *err, size_t errlen);
/* The largest script accepted, far above any real one (packetdrill's
 * biggest are tens of kilobytes): input past it, such as /dev/zero, is
 * refused with an error rather than read without bound. */
#define SK_SCRIPT_MAX_BYTES (1024u * 1024u)
sk_script *sk_script_parse_file(const char *path, char *err, size_t errlen);
void sk_script_free(sk_script *script);

/* The option's value, or NULL when absent (a bare flag gives ""). */
const char *sk_script_option_value(const sk_script *script, const char *name);

/* ------------------------------------------------------------------ */
/* Runner                                                               */
/* ------------------------------------------------------------------ */

typedef enum sk_script_outcome {
    SK_SCRIPT_PASS,
    SK_SCRIPT_FAIL,
    SK_SCRIPT_SKIP,
} sk_script_outcome;

typedef struct sk_script_run_opts {
    bool verbose;         /* trace each event and datagram to stderr */
    /* A packetdrill shared object (packetdrill's --so_filename) to drive
     * through struct packetdrill_interface instead of the linked engine;
     * NULL: the engine. */
    const char *so_path;
    /* packetdrill's --ip_version for scripts that do not name one:
     * "ipv4" (NULL means that), "ipv6" or "ipv4-mapped-ipv6". */
    const char *ip_version;
} sk_script_run_opts;

/* Runs a parsed script against a fresh stack in virtual time.  msg gets
 * the failure ("file:line: expected ... got ...") or the skip reason. */
sk_script_outcome sk_script_run(const sk_script *script, const sk_script_run_opts *opts, char *msg,
                                size_t msglen);

#endif
