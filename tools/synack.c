/*
 * synack: the command-line front end.  `synack COMMAND [OPTIONS]`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "synack version: takes no arguments\n");
        return SK_CLI_EXIT_USAGE;
    }
    printf("synack %s\n", SK_CLI_VERSION);
    return SK_CLI_EXIT_OK;
}

static const cli_command commands[] = {
    {"demo", "a client and a server exchange one HTTP request on the in-memory wire, traced", sk_cmd_demo},
    {"script", "run packetdrill scripts against a fresh stack each, in virtual time", sk_cmd_script},
    {"serve", "serve HTTP, echo, discard or a byte source on a TUN device", sk_cmd_serve},
    {"connect", "connect to a server over a TUN device: HTTP GET, send a file, receive N bytes", sk_cmd_connect},
    {"flood", "a SYN flood against a listener while legitimate clients connect (SYN cookies)", sk_cmd_flood},
    {"lab", "reproduce a lifecycle problem (TIME_WAIT, CLOSE_WAIT, SYN flood...) and see its fix work", sk_cmd_lab},
    {"ss", "a running stack's sockets, as ss(8) shows the kernel's", sk_cmd_ss},
    {"nstat", "a running stack's counters, as nstat(8): changes since the last call", sk_cmd_nstat},
    {"netstat", "netstat -s: a running stack's counters in netstat's words", sk_cmd_netstat},
    {"sysctl", "read or set a running stack's tunables, as sysctl(8)", sk_cmd_sysctl},
    {"analyze", "diagnose a capture (pcap/pcapng): connections, states, findings with fixes", sk_cmd_analyze},
    {"doctor", "diagnose this Linux host's TCP: sockets, queues, counters, findings with fixes", sk_cmd_doctor},
    {"version", "print synack's version", cmd_version},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: synack COMMAND [OPTIONS]\n"
            "       synack --help | synack COMMAND --help\n"
            "\n"
            "synack is a user-space TCP/IPv4 stack that behaves like Linux's TCP.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit status: 0 success, 1 failure, 2 usage error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SK_CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return SK_CLI_EXIT_OK;
    }
    if (!strcmp(name, "--version"))
        name = "version";
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "synack: unknown command '%s'\nTry 'synack --help' for the list of commands.\n", name);
    return SK_CLI_EXIT_USAGE;
}
