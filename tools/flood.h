/*
 * The SYN-flood scenario, as a library call shared by `synack flood` and
 * tests/test_flood.c.
 *
 * A server (10.0.0.2:80) listens on the in-memory wire while a flooder
 * sends it spoofed SYNs from random addresses in 198.18.0.0/15 (RFC 2544's
 * benchmarking range) at a fixed rate of virtual time, and legitimate
 * clients, spread evenly over the flood, each connect, send a request and
 * read the reply to EOF.  The SYN-ACKs to spoofed addresses have no route
 * and vanish.  The flood is fed straight into the server's stack
 * (sk_input) in virtual time rather than through the wire, so millions of
 * SYNs cost no copies; the legitimate traffic goes through the wire.
 *
 * All times are virtual except the CPU figures, which the scenario reads
 * with clock_gettime(CLOCK_PROCESS_CPUTIME_ID) around the server's
 * processing of the flood SYNs only.
 */
#ifndef SYNACK_TOOLS_FLOOD_H
#define SYNACK_TOOLS_FLOOD_H

#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_FLOOD_SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
#define SK_FLOOD_SERVER_PORT 80
#define SK_FLOOD_SPOOF_NET 0xc6120000u   /* 198.18.0.0/15 */
#define SK_FLOOD_SPOOF_MASK 0x0001ffffu
#define SK_FLOOD_MAX_CLIENT_STACKS 64

typedef struct sk_flood_params {
    int syncookies;            /* net.ipv4.tcp_syncookies: 0, 1, 2 (1)        */
    uint64_t rate;             /* flood SYNs per virtual second (1000000)    */
    uint32_t clients;          /* legitimate clients (1000)                  */
    uint32_t backlog;          /* listen() backlog (128)                     */
    sk_time_ns duration;       /* flood duration; clients start within it (2 s) */
    sk_time_ns grace;          /* after the flood, for exchanges under way (1 s) */
    uint64_t seed;             /* flood addresses, ports, sequence numbers (1) */
    uint32_t client_stacks;    /* client hosts 10.0.1.1, 10.0.1.2, ... (4)   */
    sk_time_ns delay;          /* one-way delay between clients and server (1 ms) */
} sk_flood_params;

void sk_flood_defaults(sk_flood_params *p);

typedef struct sk_flood_result {
    /* legitimate clients, counted at the end of the window (flood + grace) */
    uint32_t clients;
    uint32_t completed;        /* connected, sent, read the whole reply      */
    uint32_t established;      /* reached ESTABLISHED                        */
    uint32_t stuck_syn_sent;   /* still in SYN_SENT, retrying their SYN      */
    uint32_t failed;           /* connect() or the exchange failed           */
    uint64_t client_syn_retrans; /* the clients' TCPSynRetrans               */
    /* connect() to ESTABLISHED, over the clients that got there */
    sk_time_ns establish_p50, establish_p90, establish_p99, establish_max;

    uint64_t flood_syns;       /* spoofed SYNs fed to the server             */
    /* listener memory: the peaks observed */
    uint32_t syn_queue_peak;   /* request records, sampled every virtual ms   */
    uint32_t accept_queue_peak; /* connections waiting, seen at each accept round */
    size_t request_size;       /* sizeof one request record (sk_request)     */
    size_t connection_size;    /* sizeof one connection (sk_tcb)             */
    size_t listener_peak_bytes; /* syn_queue_peak × request_size
                                   + accept_queue_peak × connection_size     */

    /* the server's counters */
    uint64_t passive_opens;
    uint64_t syncookies_sent, syncookies_recv, syncookies_failed;
    uint64_t listen_overflows, listen_drops;
    uint64_t req_q_full_do_cookies, req_q_full_drop;
    uint32_t messages;         /* SK_EV_MESSAGE events from the server       */
    char first_message[160];

    /* CPU time of the server's sk_input for the flood SYNs */
    uint64_t flood_cpu_ns;
    double cpu_ns_per_syn;
    uint64_t total_cpu_ns;     /* the whole scenario                          */
} sk_flood_result;

/* Runs the scenario.  Returns 0, or -EINVAL for bad parameters (with a
 * message in err) or -ENOMEM. */
int sk_flood_run(const sk_flood_params *p, sk_flood_result *r, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
