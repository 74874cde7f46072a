/*
 * The synack command-line tool: shared declarations of its commands.
 *
 * Every command is `int sk_cmd_NAME(int argc, char **argv)` with argv[0]
 * the command's name, returning the process exit status: 0 success, 1 the
 * command ran and failed, 2 a usage error (as most Unix tools do).
 */
#ifndef SYNACK_TOOLS_CLI_H
#define SYNACK_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "synack/synack.h"
#include "synack/version.h"

#define SK_CLI_EXIT_OK 0
#define SK_CLI_EXIT_FAIL 1
#define SK_CLI_EXIT_USAGE 2

/* The library's version: one source (synack/version.h). */
#define SK_CLI_VERSION SK_VERSION_STRING

int sk_cmd_demo(int argc, char **argv);

/* ---- shared by the commands (tools/cli.c) ---- */

/* The CLI's one PRNG: splitmix64, for keys and seeds drawn from --seed. */
uint64_t sk_cli_splitmix64(uint64_t *x);
/* Zeroes *p and fills its seed and secret from (seed, addr). */
void sk_cli_host_params(uint64_t seed, uint32_t addr, sk_stack_params *p);

/* Option values.  Each returns false for anything but the whole text
 * being a valid value in range; *out is set only on success. */
/* Decimal or 0x hex, no sign, at most max. */
bool sk_cli_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* A finite number in [lo, hi]. */
bool sk_cli_parse_double(const char *s, double lo, double hi, double *out);
/* Seconds in [0, max], as nanoseconds. */
bool sk_cli_parse_seconds(const char *s, double max, sk_time_ns *out);
/* 0..1, or a percentage "2%". */
bool sk_cli_parse_probability(const char *s, double *out);
/* A byte count with an optional K, M or G suffix (powers of 1024). */
bool sk_cli_parse_size(const char *s, uint64_t *out);
/* Prints "synack CMD: " and the message, then `after` (a usage hint), to
 * stderr; returns SK_CLI_EXIT_USAGE. */
int sk_cli_usage_error(const char *cmd, const char *after, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints `stack`'s sockets as `ss -tan` does: a header, then one row per
 * listener, connection, request and TIME_WAIT record. */
void sk_cli_print_socket_table(FILE *out, sk_stack *stack);

#endif
