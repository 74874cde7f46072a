/*
 * Host inspection: the live Linux host's (or network namespace's) TCP, read
 * the way ss(8) and nstat(8) read it -- the socket table through
 * sock_diag netlink (libmnl), /proc/net/tcp{,6} when that is refused, the
 * owning processes through /proc/PID/fd, the counters of /proc/net/netstat
 * and /proc/net/snmp sampled twice for rates, and the sysctls that bound
 * what was found -- turned into findings with the same shape as
 * `synack analyze`'s.
 */
#ifndef SYNACK_DOCTOR_DOCTOR_H
#define SYNACK_DOCTOR_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's TCP states, numbered as include/net/tcp_states.h. */
enum {
    SKD_ESTABLISHED = 1, SKD_SYN_SENT, SKD_SYN_RECV, SKD_FIN_WAIT1, SKD_FIN_WAIT2, SKD_TIME_WAIT,
    SKD_CLOSE, SKD_CLOSE_WAIT, SKD_LAST_ACK, SKD_LISTEN, SKD_CLOSING, SKD_NEW_SYN_RECV, SKD_NSTATES
};
const char *skd_state_name(int st);

typedef struct skd_sock {
    uint8_t family; /* 4 or 6 */
    uint8_t state;
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint32_t rq, wq;
    uint8_t timer, retrans;
    uint32_t expires_ms;
    uint32_t uid;
    uint64_t inode;
    bool has_info;
    uint32_t last_data_recv_ms, last_ack_recv_ms, last_data_sent_ms;
    int pid; /* -1 unknown */
} skd_sock;

typedef struct skd_counter {
    char name[48]; /* as nstat prints: TcpExtListenOverflows, TcpRetransSegs */
    uint64_t v0, v1;
} skd_counter;

typedef struct skd_proc {
    int pid;
    char comm[32];
} skd_proc;

typedef struct skd_snapshot {
    skd_sock *socks;
    size_t nsocks, cap;
    const char *source; /* "sock_diag" or "/proc/net/tcp" */
    bool force_proc;    /* skip sock_diag (as when netlink is refused) */
    skd_counter *ctr;
    size_t nctr;
    double interval_s;
    /* Owners: inode -> pid, and pid -> comm. */
    skd_proc *procs;
    size_t nprocs;
    uint64_t owners_found, fds_unreadable_pids;
    /* sysctls, -1 when unreadable */
    long max_tw_buckets, syncookies, max_syn_backlog, somaxconn, tw_reuse, max_orphans, fin_timeout,
        abort_on_overflow, port_lo, port_hi;
    long sockstat_orphan, sockstat_tw;
    char unseen[8][160]; /* what could not be seen, in words */
    int nunseen;
} skd_snapshot;

/* The first counter sample (zeroes `s`, then sets force_proc). */
void skd_snapshot_begin(skd_snapshot *s, bool force_proc);
/* `interval_s` later: the second counter sample, then the sockets (with
 * owners when `owners`) and the sysctls, so that the ages seen include the
 * interval.  Returns 0, or -1 with the reason in err if no socket table
 * could be read at all. */
int skd_snapshot_finish(skd_snapshot *s, bool owners, double interval_s, char *err, size_t errlen);
/* The socket table only (for --watch). */
int skd_read_sockets(skd_snapshot *s, bool with_info);
int skd_read_counters(skd_snapshot *s, bool second);
void skd_snapshot_free(skd_snapshot *s);

uint64_t skd_ctr(const skd_snapshot *s, const char *name, bool second);
/* v1 - v0 (0 when either is missing or the counter went back). */
uint64_t skd_delta(const skd_snapshot *s, const char *name);

typedef enum skd_severity { SKD_INFO = 0, SKD_WARNING, SKD_CRITICAL } skd_severity;

#define SKD_FINDINGS_MAX 32
#define SKD_EVIDENCE_MAX 8
typedef struct skd_finding {
    const char *id;
    skd_severity severity;
    uint64_t count;
    char summary[400];
    char evidence[SKD_EVIDENCE_MAX][240];
    int nev;
    char fix[700];
} skd_finding;

typedef struct skd_options {
    double close_wait_secs; /* a CLOSE-WAIT socket idle this long counts (5) */
    unsigned close_wait_many; /* this many CLOSE-WAIT in one process counts at once (16) */
} skd_options;

/* Findings from a snapshot sampled twice; returns how many. */
int skd_diagnose(const skd_snapshot *s, const skd_options *o, skd_finding *out, int max);

#ifdef __cplusplus
}
#endif

#endif
