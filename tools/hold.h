/*
 * --hold for the virtual-time commands (demo, lab): the stacks of an
 * in-memory wire stay up in real time, each on its control socket, so
 * `synack ss/nstat/sysctl -N NAME` can watch them from another terminal.
 */
#ifndef SYNACK_TOOLS_HOLD_H
#define SYNACK_TOOLS_HOLD_H

#include "synack-io/memwire.h"
#include "synack/synack.h"

/* Opens a control socket named names[i] for each stacks[i] (n of them),
 * then runs the wire in real time from its current virtual time until
 * SIGINT or SIGTERM.  `cmd` prefixes messages ("synack demo").  Returns
 * SK_CLI_EXIT_OK, or SK_CLI_EXIT_FAIL when a socket cannot be opened. */
int sk_cli_hold(const char *cmd, sk_wire *wire, sk_stack *const *stacks, const char *const *names, int n);

#endif
