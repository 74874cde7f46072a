/*
 * CLI subcommands implemented outside tools/synack.c.
 *
 * Same convention as cli.h: argv[0] is the subcommand's name; the return
 * value is the exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef SYNACK_TOOLS_COMMANDS_H
#define SYNACK_TOOLS_COMMANDS_H

#include <stdio.h>

/* synack script [-v] FILE.pkt...: runs packetdrill scripts against a fresh
 * stack each, in virtual time; prints PASS/FAIL/SKIP per script and a
 * summary.  Exits 1 if any script failed. */
int sk_cmd_script(int argc, char **argv);

/* synack serve --tun NAME --addr A/N --port N (--http|--echo|--discard|
 * --source) ...: a server on a TUN device (tools/cmd_serve.c). */
int sk_cmd_serve(int argc, char **argv);

/* synack connect A.B.C.D:PORT --tun NAME (--http PATH|--send FILE|
 * --recv N) [-o FILE]: a client on a TUN device (tools/cmd_connect.c). */
int sk_cmd_connect(int argc, char **argv);

/* synack flood [--syncookies 0|1|2] [--rate N] [--clients N] [--backlog N]
 * [--duration S] [--grace S] [--seed N]: a SYN flood with legitimate
 * clients on the in-memory wire (tools/cmd_flood.c). */
int sk_cmd_flood(int argc, char **argv);

/* synack lab [NAME] [--fix] [--json] ...: lifecycle problems reproduced
 * in virtual time and shown as Linux's tools show them (tools/cmd_lab.c,
 * tools/lab/). */
int sk_cmd_lab(int argc, char **argv);

/* Clients of a running process's control socket (tools/cmd_observe.c,
 * src/observe/control.h): `synack ss` as ss(8), `synack nstat` as
 * nstat(8), `synack netstat -s`, `synack sysctl` as sysctl(8); -N NAME
 * picks the stack when several run. */
int sk_cmd_ss(int argc, char **argv);
int sk_cmd_nstat(int argc, char **argv);
int sk_cmd_netstat(int argc, char **argv);
int sk_cmd_sysctl(int argc, char **argv);

/* synack analyze FILE [--conns|--conn N|--at TIME] [--json]: a capture
 * diagnosed (tools/cmd_analyze.c, src/analyze). */
int sk_cmd_analyze(int argc, char **argv);

/* synack doctor [--interval S] [--watch S] [--json]: this host's TCP
 * diagnosed (tools/cmd_doctor.c, src/doctor). */
int sk_cmd_doctor(int argc, char **argv);

#endif
