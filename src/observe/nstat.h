/*
 * Counters as nstat(8) and `netstat -s` show them.
 *
 * A snapshot (sk_counter_set) is taken from a stack, or read back from
 * the text the control socket sends and the history file nstat-style
 * clients keep, so the same formatting serves the process that owns the
 * stack and a client in another process computing deltas.
 */
#ifndef SYNACK_OBSERVE_NSTAT_H
#define SYNACK_OBSERVE_NSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_counter_row {
    char group[16]; /* "Ip", "IpExt", "Tcp", "TcpExt", "Synack" */
    char name[48];  /* "ActiveOpens"                              */
    uint64_t value;
} sk_counter_row;

typedef struct sk_counter_set {
    sk_counter_row *rows;
    size_t n, cap;
    /* Which run of which stack the values come from: deltas against a
     * history taken from another run (the process restarted) are not
     * deltas at all. */
    char instance[96];
} sk_counter_set;

void sk_counter_set_init(sk_counter_set *s);
void sk_counter_set_free(sk_counter_set *s);
/* Appends a row; -ENOMEM on failure. */
int sk_counter_set_add(sk_counter_set *s, const char *group, const char *name, uint64_t value);
/* Every counter of the stack, in nstat's group order (Ip, Tcp, TcpExt,
 * IpExt, then Synack). */
int sk_counter_set_from_stack(sk_counter_set *s, const sk_stack *stack, const char *instance);
/* The value of "GroupName" (e.g. "TcpExtTW"), or `fallback`. */
uint64_t sk_counter_set_get(const sk_counter_set *s, const char *full_name, uint64_t fallback);

/* The exchange and history format: "#synack INSTANCE" then one
 * "Group Name Value" line per counter. */
void sk_counter_set_write(FILE *out, const sk_counter_set *s);
/* Reads that format; returns 0 or -EINVAL (message in err). */
int sk_counter_set_read(FILE *in, sk_counter_set *s, char *err, size_t errlen);

#define SK_NSTAT_ZEROS 0x1 /* -z: also counters whose value is 0 */
#define SK_NSTAT_JSON 0x2  /* --json                              */

/* nstat's output: "#kernel", then "%-32s%-16llu%6.1f" rows (name, value
 * or delta, rate).  With `prev` the values are deltas since it (a
 * counter missing from prev counts from 0); without, absolute (-a).
 * `patterns` (may be NULL/0) are nstat's name globs.  Rates are 0.0: as
 * with nstat run without its daemon, there is no averaging interval. */
void sk_nstat_print(FILE *out, const sk_counter_set *cur, const sk_counter_set *prev, unsigned flags,
                    char *const *patterns, size_t npatterns);

/* `netstat -s` for the groups synack has, worded as net-tools words
 * them; counters netstat has no sentence for read "Name: N". */
void sk_netstat_print(FILE *out, const sk_counter_set *s);

#ifdef __cplusplus
}
#endif

#endif
