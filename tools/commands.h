/*
 * CLI subcommands implemented outside tools/synack.c.
 *
 * Same convention as cli.h: argv[0] is the subcommand's name; the return
 * value is the exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef SYNACK_TOOLS_COMMANDS_H
#define SYNACK_TOOLS_COMMANDS_H

/* synack script [-v] FILE.pkt...: runs packetdrill scripts against a fresh
 * stack each, in virtual time; prints PASS/FAIL/SKIP per script and a
 * summary.  Exits 1 if any script failed. */
int sk_cmd_script(int argc, char **argv);

#endif
