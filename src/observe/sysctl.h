/*
 * sysctl(8) for a synack stack: the tunables Linux names net.ipv4.* and
 * net.core.*, read and written through sk_sysctl_get/sk_sysctl_set.
 */
#ifndef SYNACK_OBSERVE_SYSCTL_H
#define SYNACK_OBSERVE_SYSCTL_H

#include <stdio.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `sysctl ARGS` (argv[0] is the command's name) as procps sysctl
 * does: -a lists every tunable as "name = value"; NAME prints one; -n
 * prints values only; -w NAME=VALUE (or NAME=VALUE alone) sets one and
 * echoes "name = value"; --json prints an object of strings.  Errors go
 * to err (sk_sysctl_set's message verbatim for a refused value).
 * Returns the exit status: 0, or 1 if anything failed. */
int sk_sysctl_run(sk_stack *stack, int argc, char **argv, FILE *out, FILE *err);

#ifdef __cplusplus
}
#endif

#endif
