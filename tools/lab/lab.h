/*
 * `synack lab`: the scenario framework.
 *
 * A scenario is a function that builds a small network on the in-memory
 * wire (client 10.0.0.1, server 10.0.0.2, and whatever else it needs),
 * drives a workload with the socket API in virtual time, and at its key
 * moments asks for the views an operator would type on Linux
 * (lab_view(L, host, "ss -tan state time-wait | wc -l")).  Those views
 * are produced by synack's own observers (src/observe: ss, nstat,
 * sysctl) on the running stacks, never re-implemented here.
 *
 * One run is one lab_result: the workload in words, the timeline of one
 * representative connection (tcpdump lines and its state transitions),
 * the views, the counter deltas, named figures (what tests assert), the
 * application's outcome and a one-sentence verdict.  `--fix` runs the
 * scenario twice, the second time with L->fix set, and the CLI prints the
 * two results side by side (tools/cmd_lab.c).
 *
 * Scenario files, by the part of the lifecycle they are about:
 *   lab_close.c    TIME_WAIT, ports, CLOSE_WAIT, resets at close, final ACK,
 *                  simultaneous open/close, half-close, pooling
 *   lab_listen.c   SYN flood, accept-queue overflow, backlog spike
 *   lab_connect.c  SYN retries, refused, keepalive, zero window, blind RST
 *   lab_mtu.c      a hop with a smaller MTU: black hole, fragmentation-needed
 *   lab_live.c     three of them with the Linux kernel as the peer (--live)
 * and lab_scenarios.c lists them, with their finding ids and fixes.
 */
#ifndef SYNACK_TOOLS_LAB_H
#define SYNACK_TOOLS_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "observe/nstat.h"
#include "observe/pcap.h"
#include "observe/trace.h"
#include "synack-io/memwire.h"
#include "synack/packet.h"
#include "synack/synack.h"

#define LAB_CLIENT_ADDR 0x0a000001u /* 10.0.0.1 */
#define LAB_SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
#define LAB_THIRD_ADDR 0x0a000003u  /* 10.0.0.3 */
#define LAB_PORT 80
#define LAB_START (36000ull * SK_NSEC_PER_SEC) /* 10:00:00 */
#define LAB_MS SK_NSEC_PER_MSEC
#define LAB_SEC SK_NSEC_PER_SEC

#define LAB_MAX_HOSTS 4
#define LAB_MAX_VIEWS 24
#define LAB_MAX_KV 32
#define LAB_TIMELINE_MAX_LINES 90

typedef struct lab lab;

typedef struct lab_scenario {
    const char *name;
    const char *problem;     /* the problem in a phrase                      */
    const char *finding;     /* the shared findings id, or NULL              */
    const char *fix;         /* the fix said plainly, or NULL: nothing to fix,
                                --fix then runs the contrast (`contrast`)     */
    const char *contrast;    /* what --fix runs when there is no fix         */
    const char *unavailable; /* why it cannot run, or NULL                   */
    unsigned default_scale;  /* the workload size --scale overrides (0: none) */
    int (*run)(lab *L);      /* 0, or -1 with L->error set                   */
} lab_scenario;

typedef struct lab_view {
    char moment[96];
    char host[24];
    char command[128];
    char *output; /* malloc'd */
} lab_view_rec;

typedef struct lab_kv {
    char name[64];
    double value;
} lab_kv;

typedef struct lab_outcome {
    char text[320];   /* in words                                   */
    char err[24];     /* errno name the application saw, "" if none */
    long long bytes;  /* bytes the application received             */
    double seconds;   /* how long the application waited            */
    long long ok, failed;
} lab_outcome;

typedef struct lab_result {
    char workload[640];
    char *timeline; /* malloc'd */
    size_t timeline_lines, timeline_cut;
    lab_view_rec views[LAB_MAX_VIEWS];
    int nviews;
    lab_kv counters[LAB_MAX_KV];
    int ncounters;
    lab_kv figures[LAB_MAX_KV];
    int nfigures;
    lab_outcome outcome;
    char verdict[400];
    bool reproduced; /* the unfixed run shows the problem        */
    bool fixed;      /* the fixed run no longer does (with --fix) */
} lab_result;

typedef struct lab_host {
    sk_stack *stack;
    uint32_t addr;
    char name[24];
    sk_counter_set base;  /* counters when the workload started       */
    sk_counter_set nstat; /* nstat's history: the last `nstat` call   */
    char messages[1024];  /* dmesg: the kernel-log-like messages       */
} lab_host;

/* A filter on the wire: return true to drop the datagram. */
typedef bool (*lab_drop_fn)(lab *L, const sk_segment *seg, void *ctx);

struct lab {
    const lab_scenario *sc;
    uint64_t seed;
    unsigned scale;
    bool fix;
    bool verbose;

    sk_wire *wire;
    lab_host hosts[LAB_MAX_HOSTS];
    int nhosts;
    sk_trace *trace;
    sk_pcap *pcap;

    /* timeline */
    FILE *tl;
    char *tl_buf;
    size_t tl_size;
    bool rep_have;
    sk_endpoint rep_a, rep_b;
    bool rep_auto; /* take the first SYN seen as the representative */
    unsigned rep_skip; /* ... after skipping this many (one that suffers) */
    uint32_t rep_next[2]; /* next sequence number from rep_a (0), rep_b (1) */
    uint32_t rep_isn[2];

    /* wire filters */
    uint32_t dead_addr; /* everything to or from it is dropped */
    lab_drop_fn drop;
    void *drop_ctx;

    lab_result *r;
    char error[512];

    /* --live: the stack runs over TUN and the kernel is the peer */
    bool live;
    sk_time_ns live_start;
    void *live_state;
};

/* ---- building the network ---- */
sk_stack *lab_stack(lab *L, int host);
/* Sets a sysctl on a host and records it in the workload text; false with
 * L->error on refusal. */
bool lab_sysctl(lab *L, int host, const char *name, const char *value);
/* Takes every host's counter baseline (and nstat history) now. */
void lab_baseline(lab *L);

/* ---- the narrative ---- */
void lab_say(lab *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line in the timeline (a note among the tcpdump lines). */
void lab_note(lab *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Which connection the timeline follows (the first SYN seen, unless set). */
void lab_watch(lab *L, sk_endpoint a, sk_endpoint b);

/* ---- views, figures, counters, outcome ---- */
/* Runs an operator's command line on a host's stack: ss ARGS, nstat
 * [-a] [-z] [PATTERN...], sysctl ARGS, dmesg, each optionally piped
 * into `wc -l`, `grep [-c] WORD`, `head -N` or `tail -N`.  Returns the
 * output's first number (what `wc -l` prints), or -1. */
long lab_view(lab *L, int host, const char *moment, const char *command);
/* --live: a command run by the shell in this namespace (the kernel's own
 * ss, nstat...), recorded as a view of host "kernel". */
long lab_kernel_view(lab *L, const char *moment, const char *command);
void lab_figure(lab *L, const char *name, double value);
double lab_get_figure(const lab_result *r, const char *name);
/* The delta of a counter since the baseline, recorded as HOST.NAME. */
uint64_t lab_counter(lab *L, int host, const char *name);
void lab_verdict(lab *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- time ---- */
sk_time_ns lab_now(lab *L);
void lab_run_for(lab *L, sk_time_ns d);
void lab_run_until(lab *L, sk_time_ns t);
/* Steps until pred holds (checked after every event) or `limit` passes. */
bool lab_run_pred(lab *L, bool (*pred)(lab *L, void *ctx), void *ctx, sk_time_ns limit);

/* ---- small socket helpers ---- */
int lab_listen(lab *L, int host, uint16_t port, int backlog);
/* A non-blocking connect; returns the fd, or -errno. */
int lab_connect(lab *L, int host, uint32_t addr, uint16_t port, uint16_t lport);
/* Client (host 0) connects to the server's listener lfd (host 1, port
 * LAB_PORT) and the server accepts; false with L->error set. */
bool lab_establish(lab *L, int lfd, int *cfd, int *sfd);
/* A one-way transfer of `total` bytes from the client's cfd to the
 * server's sfd (read only when `reader`), for lab_run_pred with
 * lab_bulk_step: true once all of it arrived, done_at when it did. */
typedef struct lab_bulk {
    int cfd, sfd;
    size_t total, sent, got;
    bool reader;
    sk_time_ns done_at;
} lab_bulk;
bool lab_bulk_step(lab *L, void *bulk);
int lab_so_error(lab *L, int host, int fd);
/* Counts a host's sockets in a state (SK_TCP_*) or all with 0. */
size_t lab_count_state(lab *L, int host, int state);
/* A hand-made TCP segment injected on the wire. */
void lab_inject(lab *L, const sk_segment_spec *spec, sk_time_ns delay);

/* ---- the request/response workload most scenarios share ---- */
typedef struct lab_load_conn lab_load_conn;
typedef struct lab_srv_conn lab_srv_conn;

typedef struct lab_load {
    /* client */
    int chost;
    uint32_t dst;
    uint16_t port;
    unsigned conns;          /* connections to open                      */
    unsigned parallel;       /* open at once (0: all)                    */
    unsigned per_conn;       /* requests per connection (1: short ones)   */
    sk_time_ns interval;     /* between connection starts                */
    size_t req_len, resp_len;
    bool client_closes_first;
    bool client_keepalive;
    sk_time_ns slow_after;   /* a connection slower than this is "slow"  */
    /* server */
    int shost;
    int lfd;
    bool never_close;        /* the server application never closes      */
    sk_time_ns accept_every; /* accept() one connection per this period  */
    size_t srv_read_limit;   /* reads at most this much of each request (0: all) */
    bool linger0;            /* SO_LINGER {1, 0} before close            */

    /* results */
    unsigned started, connected, completed, failed, slow;
    long long bytes;
    sk_time_ns max_time, sum_time;
    int first_err;
    unsigned err_count;
    unsigned accepted, srv_closed;

    /* internal */
    lab_load_conn *c;
    lab_srv_conn *s;
    unsigned ns, scap;
    sk_time_ns next_start, next_accept;
} lab_load;

void lab_load_init(lab_load *ld, int chost, int shost, int lfd);
/* Runs the workload until every client connection is done or failed,
 * or `limit` (absolute) passes.  Returns true when all finished. */
bool lab_load_run(lab *L, lab_load *ld, sk_time_ns limit);
/* Keeps the server side of the workload alive (accepting, reading,
 * answering) while the wire runs to `t`. */
void lab_load_idle(lab *L, lab_load *ld, sk_time_ns t);
void lab_load_free(lab_load *ld);
/* Advances the workload's applications once, without running a wire
 * (--live); returns true when every client connection is over. */
bool lab_load_poll(lab *L, lab_load *ld);
/* Closes with RST every server connection the workload left open. */
void lab_load_abort_open(lab *L, lab_load *ld);

/* ---- registry (lab_scenarios.c) ---- */
const lab_scenario *lab_scenarios(size_t *n);
const lab_scenario *lab_find(const char *name);

/* ---- running (lab.c) ---- */
typedef struct lab_config {
    uint64_t seed;
    unsigned scale;
    bool verbose;
    const char *pcap_path;
} lab_config;

/* Runs one scenario into `r` (fix or not); keeps the wire in *keep when
 * keep is not NULL (for --hold), else frees it. */
int lab_run(const lab_scenario *sc, const lab_config *cfg, bool fix, lab_result *r, lab **keep, char *err,
            size_t errlen);
void lab_free(lab *L);
void lab_result_free(lab_result *r);

/* scenario entry points */
int lab_time_wait_pileup(lab *L);
int lab_port_exhaustion(lab *L);
int lab_close_wait_leak(lab *L);
int lab_linger_abort(lab *L);
int lab_unread_data_reset(lab *L);
int lab_lost_final_ack(lab *L);
int lab_simultaneous_close(lab *L);
int lab_simultaneous_open(lab *L);
int lab_half_close(lab *L);
int lab_short_vs_pool(lab *L);
int lab_syn_flood(lab *L);
int lab_accept_overflow(lab *L);
int lab_backlog_spike(lab *L);
int lab_syn_retries(lab *L);
int lab_refused(lab *L);
int lab_keepalive_dead_peer(lab *L);
int lab_zero_window(lab *L);
int lab_blind_rst(lab *L);
int lab_mtu_blackhole(lab *L);
int lab_mtu_frag_needed(lab *L);
int lab_fast_open(lab *L);

/* ---- --live (lab_live.c) ---- */
/* Whether NAME has a live version. */
bool lab_live_available(const char *name);
/* Runs NAME with the kernel as the peer: synack at 10.77.0.2 on TUN
 * device `tun`, the kernel at 10.77.0.1 (scripts/netns.sh's layout). */
int lab_live_run(const lab_scenario *sc, const lab_config *cfg, bool fix, const char *tun, lab_result *r, char *err,
                 size_t errlen);

#endif
