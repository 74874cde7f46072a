/*
 * `ss` for a synack stack: the option and filter language of iproute2's
 * ss(8) and its output layout, applied to sk_sockets().
 *
 * Parsing, filtering and formatting are separate so that a fixed array of
 * sk_sock_info can be formatted (golden tests) as well as a live stack
 * (the control socket).  Everything prints exactly what ss prints for a
 * kernel socket in the same state, minus what synack does not have (the
 * Process column, Netid for a TCP-only listing, pacing and BBR details).
 */
#ifndef SYNACK_OBSERVE_SS_H
#define SYNACK_OBSERVE_SS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One bit per TCP state, (1u << SK_TCP_...), as ss's state masks. */
#define SK_SS_ALL_STATES 0xffeu

typedef struct sk_ss_expr sk_ss_expr;

/* Address families for -4 / -6 (sk_ss_query.families). */
#define SK_SS_FAMILY_INET 1u
#define SK_SS_FAMILY_INET6 2u

typedef struct sk_ss_query {
    unsigned states;      /* which states are listed                    */
    unsigned families;    /* SK_SS_FAMILY_* bits; 0 lists every family   */
    bool numeric;         /* -n: no service names, raw bps               */
    bool timers;          /* -o                                          */
    bool info;            /* -i                                          */
    bool memory;          /* -m: skmem, SO_MEMINFO's figures             */
    bool summary;         /* -s                                          */
    bool no_header;       /* -H                                          */
    bool json;            /* --json                                      */
    sk_ss_expr *expr;     /* the filter expression, NULL matches all     */
} sk_ss_query;

/* Parses ss's command line (argv[0] is the command's name): options
 * -t -a -l -n -o -i -s -H -4 -6 --json (-e is refused), then `state X`,
 * `exclude X`, then a filter expression.  Returns 0, or -1 with a message
 * in err.  Release with sk_ss_query_free. */
int sk_ss_parse(sk_ss_query *q, int argc, char **argv, char *err, size_t errlen);
void sk_ss_query_free(sk_ss_query *q);


/* The socket table of the sockets that match, as ss prints it (or a JSON
 * array with --json).  `now` is the stack's clock, for timers. */
void sk_ss_print(FILE *out, const sk_ss_query *q, const sk_sock_info *socks, size_t n, sk_time_ns now);

/* `ss -s`: totals as Linux derives them from /proc/net/sockstat and
 * CurrEstab (TCP total = sockets + TIME_WAIT; closed = sockets not in
 * a hash table + TIME_WAIT). */
void sk_ss_print_summary(FILE *out, const sk_sock_info *socks, size_t n, uint64_t curr_estab);

/* ss's timer duration text: "200ms", "1.500ms", "58sec", "1min5sec",
 * "119min" (print_ms_timer in ss.c: minutes drop the milliseconds, and
 * ten minutes or more drop the seconds too). */
void sk_ss_format_timer(uint64_t ms, char *buf, size_t cap);

/* Runs `ss ARGS` against a live stack: returns the exit status (0; 2
 * with the usage error written to err; 1 when out of memory). */
int sk_ss_run(sk_stack *stack, sk_time_ns now, int argc, char **argv, FILE *out, FILE *err);

#ifdef __cplusplus
}
#endif

#endif
