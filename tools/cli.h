/*
 * The synack command-line tool: shared declarations of its commands.
 *
 * Every command is `int sk_cmd_NAME(int argc, char **argv)` with argv[0]
 * the command's name, returning the process exit status: 0 success, 1 the
 * command ran and failed, 2 a usage error (as most Unix tools do).
 */
#ifndef SYNACK_TOOLS_CLI_H
#define SYNACK_TOOLS_CLI_H

#include <stdio.h>

#include "synack/synack.h"
#include "synack/version.h"

#define SK_CLI_EXIT_OK 0
#define SK_CLI_EXIT_FAIL 1
#define SK_CLI_EXIT_USAGE 2

/* The library's version: one source (synack/version.h). */
#define SK_CLI_VERSION SK_VERSION_STRING

int sk_cmd_demo(int argc, char **argv);
void sk_cmd_demo_usage(FILE *out);

/* Prints `stack`'s sockets as `ss -tan` does: a header, then one row per
 * listener, connection, request and TIME_WAIT record. */
void sk_cli_print_socket_table(FILE *out, sk_stack *stack);

#endif
