/*
 * What `synack serve` and `synack connect` share: the options that put a
 * stack on a TUN device (--tun, --addr, impairments, --pcap, --sysctl,
 * --state-log), starting the loop, progress lines and error sentences.
 */
#ifndef SYNACK_TOOLS_TUN_APP_H
#define SYNACK_TOOLS_TUN_APP_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "synack-io/loop.h"
#include "synack/synack.h"

#define SK_TUN_MAX_SYSCTLS 16

struct sk_control;

typedef struct sk_tun_opts {
    const char *cmd; /* "synack serve", for messages */
    const char *tun;
    const char *addr_text;
    uint32_t addr;
    int prefix;
    /* --addr6: an IPv6 address for the stack as well (network order) */
    const char *addr6_text;
    uint8_t addr6[16];
    int prefix6;
    bool has_addr6;
    sk_impairment impair;
    bool seed_given;
    const char *pcap;
    bool state_log;
    bool verbose;
    const char *name; /* --name: the control socket's name (-N NAME) */
    bool offload;     /* --offload: IFF_VNET_HDR with checksum offload and TSO */
    unsigned queues;  /* --queues N: IFF_MULTI_QUEUE, one stack per queue (0: a single-queue device) */
    unsigned queue;   /* which queue this instance serves */
    const char *sysctls[SK_TUN_MAX_SYSCTLS];
    size_t nsysctls;
    /* The control socket (`synack ss` and friends) while the loop runs,
     * and the application it wraps to share the loop's extra fd. */
    struct sk_control *control;
    sk_loop_app inner;
} sk_tun_opts;

/* getopt_long values of the shared options, above any short option. */
enum {
    SK_TUN_OPT_TUN = 0x1000,
    SK_TUN_OPT_ADDR,
    SK_TUN_OPT_LOSS,
    SK_TUN_OPT_DELAY,
    SK_TUN_OPT_REORDER,
    SK_TUN_OPT_DUP,
    SK_TUN_OPT_SEED,
    SK_TUN_OPT_PCAP,
    SK_TUN_OPT_SYSCTL,
    SK_TUN_OPT_STATE_LOG,
    SK_TUN_OPT_NAME,
    SK_TUN_OPT_OFFLOAD,
    SK_TUN_OPT_ADDR6,
    SK_TUN_OPT_LAST
};

#define SK_TUN_LONGOPTS                                                                                 \
    {"tun", required_argument, NULL, SK_TUN_OPT_TUN}, {"addr", required_argument, NULL, SK_TUN_OPT_ADDR}, \
        {"loss", required_argument, NULL, SK_TUN_OPT_LOSS},                                             \
        {"delay", required_argument, NULL, SK_TUN_OPT_DELAY},                                           \
        {"reorder", required_argument, NULL, SK_TUN_OPT_REORDER},                                       \
        {"dup", required_argument, NULL, SK_TUN_OPT_DUP}, {"seed", required_argument, NULL, SK_TUN_OPT_SEED}, \
        {"pcap", required_argument, NULL, SK_TUN_OPT_PCAP},                                             \
        {"sysctl", required_argument, NULL, SK_TUN_OPT_SYSCTL},                                         \
        {"state-log", no_argument, NULL, SK_TUN_OPT_STATE_LOG},                                         \
        {"name", required_argument, NULL, SK_TUN_OPT_NAME},                                             \
        {"offload", no_argument, NULL, SK_TUN_OPT_OFFLOAD},                                             \
        {"addr6", required_argument, NULL, SK_TUN_OPT_ADDR6}

/* The option lines of the usage text. */
#define SK_TUN_USAGE                                                                              \
    "  --tun NAME         TUN device to attach to or create (default tun0)\n"                      \
    "  --addr A.B.C.D/N   synack's address on that link (default 10.77.0.2/24)\n"                   \
    "  --addr6 ADDR/N     an IPv6 address for synack on that link too, e.g. fd77::2/64\n"           \
    "  --loss P           drop each datagram with probability P (0..1 or N%%), both ways\n"          \
    "  --delay MS         add MS milliseconds of one-way delay, both ways\n"                        \
    "  --reorder P        hold back a datagram with probability P (by delay + 1 ms)\n"              \
    "  --dup P            deliver a datagram twice with probability P\n"                            \
    "  --seed N           seed of the impairments and the stack's randomness\n"                     \
    "  --pcap FILE        write what the stack sends and receives to FILE (pcap, raw IP)\n"          \
    "  --sysctl NAME=VAL  set one of the stack's Linux-named tunables (repeatable)\n"                \
    "  --state-log        print each connection state change to stderr\n"                        \
    "  --name NAME        the name `synack ss|nstat|sysctl -N NAME` picks this stack by\n"        \
    "                     (default: the command and the address, e.g. serve-10.77.0.2)\n"      \
    "  --offload          a virtio-net header on the TUN (IFF_VNET_HDR): the kernel completes\n"  \
    "                     and vouches for TCP checksums and sends 64 KiB super-segments (TSO)\n"

void sk_tun_opts_init(sk_tun_opts *o, const char *cmd);
/* Handles a shared option: 1 consumed, 0 not a shared option, -1 bad
 * value (already reported). */
int sk_tun_opts_parse(sk_tun_opts *o, int opt, const char *arg);

/* Opens the TUN, creates the loop and applies sysctls, and opens the
 * control socket "serve-10.77.0.2" (command and address) served from the
 * loop; without a control socket the command still runs, with a warning.
 * On failure prints the reason and returns NULL.  `o` must outlive the
 * loop. */
sk_loop *sk_tun_start(sk_tun_opts *o, const sk_loop_app *app);
/* Runs the loop; prints an I/O failure; closes the control socket.
 * Returns 0 or -errno. */
int sk_tun_run(sk_tun_opts *o, sk_loop *loop);
/* Closes the control socket (removing its file) if still open. */
void sk_tun_stop(sk_tun_opts *o);

/* "connect 10.77.0.1:8080: Connection refused (ECONNREFUSED)" on stderr. */
void sk_tun_socket_error(const sk_tun_opts *o, const char *what, int err);

/* Progress lines on stderr about once a second for transfers that last
 * longer than that. */
typedef struct sk_progress {
    bool started; /* a transfer that never began has no duration to report */
    sk_time_ns start, last;
    uint64_t last_bytes;
    bool printed;
} sk_progress;
void sk_progress_start(sk_progress *p, sk_time_ns now);
/* Prints when a second has passed since the last line. */
void sk_progress_update(sk_progress *p, const sk_tun_opts *o, const char *what, uint64_t bytes, sk_time_ns now);
/* A final line with the average rate, only when a progress line was
 * printed or `always`. */
void sk_progress_done(sk_progress *p, const sk_tun_opts *o, const char *what, uint64_t bytes, sk_time_ns now,
                      bool always);

/* The deterministic body pattern of `serve --http /bytes/N` and
 * `serve --source`: byte i is (i * 31 + 7) & 0xff.  Returns a pointer to
 * at least `want` (capped at 60 KiB) bytes starting at offset `off`. */
const uint8_t *sk_pattern_at(uint64_t off, size_t *want);

#endif
