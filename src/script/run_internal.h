/* State shared by the runner's parts: run.c (time and packets),
 * syscalls.c (system calls) and commands.c (`commands` and %{ code }%). */
#ifndef SK_SCRIPT_RUN_INTERNAL_H
#define SK_SCRIPT_RUN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "script/script.h"
#include "synack/synack.h"

#define SK_RUN_MAX_FDS 256
#define SK_RUN_MAX_CONNS 64
#define SK_RUN_MAX_EPOLL_REGS 16
#define SK_RUN_MAX_SAVED_SYSCTLS 32

/* packetdrill's default ports: the listener binds 8080, connect() goes
 * to the remote's 8080, and script-side ephemeral ports count up. */
#define SK_RUN_LOCAL_PORT 8080
#define SK_RUN_REMOTE_PORT 8080
#define SK_RUN_FIRST_REMOTE_EPHEMERAL 40000

typedef struct sk_run_out {
    uint8_t *data;
    size_t len;
    sk_time_ns at;
} sk_run_out;

/* One TCP connection as the script sees it (packetdrill's "socket"). */
typedef struct sk_run_conn {
    uint16_t local_port, remote_port;
    bool passive;          /* created by an inbound SYN                */
    bool script_past_syn;  /* the script sent something other than SYN */
    bool have_isn;
    uint32_t stack_isn;    /* from the stack's SYN or SYN-ACK           */
    bool have_ts;
    uint32_t ts_offset;    /* live TS val - script TS val               */
    uint32_t epoch;        /* socket() calls made before it began       */
    uint32_t script_isn;   /* the script's own ISN, from its SYN: later
                              inbound sequence numbers are relative to it,
                              as packetdrill maps them                     */
} sk_run_conn;

typedef struct sk_run_epoll_reg {
    int fd;                /* script fd watched                         */
    uint32_t events;
    uint64_t data;
    bool pending;          /* woken since last reported (EPOLLET)       */
    bool disabled;         /* EPOLLONESHOT fired                        */
} sk_run_epoll_reg;

typedef enum sk_run_fd_kind { SK_FD_FREE = 0, SK_FD_SOCKET, SK_FD_EPOLL } sk_run_fd_kind;

typedef struct sk_run_fd {
    sk_run_fd_kind kind;
    int handle;            /* synack handle                             */
    bool nonblock;
    bool listener;
    bool fo_connect;       /* TCP_FASTOPEN_CONNECT set: the first write completes the connect */
    sk_run_epoll_reg regs[SK_RUN_MAX_EPOLL_REGS];
    size_t reg_count;
} sk_run_fd;

typedef enum sk_run_op {
    SK_OP_NONE = 0,
    SK_OP_ACCEPT,
    SK_OP_CONNECT,
    SK_OP_READ,
    SK_OP_WRITE,
    SK_OP_POLL,
    SK_OP_EPOLL_WAIT,
} sk_run_op;

/* A blocking call in progress (packetdrill runs it on a thread; here it is
 * retried after every step of the stack until it can complete). */
typedef struct sk_run_pending {
    sk_run_op op;
    const sk_script_event *ev;
    int fd;                /* script fd                                 */
    size_t len, done;
    int flags;
    bool started;          /* attempted at least once                  */
    bool await_conn;       /* a blocking MSG_FASTOPEN write: the rest goes
                              once the handshake ends, as Linux waits  */
    bool whole_sendto;     /* ... made as one blocking sendto() by a backend
                              whose sendto blocks (sendto_blocks)      */
    int family;            /* that sendto's sa_family                   */
    bool waiting;          /* the writer is declared waiting (write_waiting) */
    sk_time_ns expect_end; /* when the script says it returns           */
    sk_time_ns give_up;    /* expect_end + tolerance                    */
    sk_time_ns timeout_at; /* poll/epoll_wait timeout, or SK_TIME_NEVER */
    /* Set by a backend that makes the call on a thread of its own, as
     * packetdrill does for calls the script marks `...`: */
    bool threaded;         /* handed to that thread                     */
    bool in_flight;        /* this attempt found it still asleep        */
    sk_time_ns returned_at; /* when it returned; 0: r->now at completion */
} sk_run_pending;

typedef struct sk_runner sk_runner;

/* What the runner needs from the stack under test.  The script semantics
 * (times, sequence/TS mapping, matching, messages) live in run.c,
 * syscalls.c and commands.c for every backend; a backend only moves time,
 * carries datagrams and makes calls.  Two exist: the engine linked in
 * (backend_native.c) and a packetdrill shared object driven through
 * struct packetdrill_interface (backend_so.c).
 *
 * Handles are the backend's (synack handles, or the object's fds).  Calls
 * return >= 0 or -errno with Linux's values.  The native backend's never
 * block: the runner models a blocking call by retrying it after each step
 * of time.  The .so backend makes r->call as packetdrill would (blocking on
 * the main thread, or on its system-call thread for `...` calls, reporting
 * a call still asleep there through r->call->in_flight). */
typedef struct sk_run_backend {
    const char *name;
    /* Open at the first event rather than at the start: sysctl lines
     * before it become configuration (the .so takes them at init). */
    bool lazy_open;
    /* next_deadline() is the stack's real next timer; false when the
     * backend cannot see timers and offers fixed small steps instead. */
    bool exact_deadlines;
    bool (*open)(sk_runner *r);
    void (*close)(sk_runner *r);

    sk_time_ns (*next_deadline)(sk_runner *r);
    /* Moves the stack's clock to t (>= r->now) running timers; datagrams
     * sent reach sk_run_queue_out with the time they left. */
    void (*advance)(sk_runner *r, sk_time_ns t);
    void (*input)(sk_runner *r, const uint8_t *datagram, size_t len);
    /* A drop-everything qdisc; NULL when the backend cannot model it. */
    void (*set_tx_blocked)(sk_runner *r, bool blocked);
    /* Optional: waits, as packetdrill's sniffer does, until the stack has
     * sent a datagram (queued with sk_run_queue_out) or the clock passes
     * `limit`; replaces the runner's own stepping toward deadlines. */
    void (*wait_output)(sk_runner *r, sk_time_ns limit);
    /* Optional: the end of a script that passed so far (packetdrill closes
     * what is left open and resets the connections); may fail the run. */
    void (*finish)(sk_runner *r);
    /* Non-NULL when %{ }% blocks cannot reach the stack: why.  The blocks
     * are not run, and a script that otherwise passes SKIPs with this. */
    const char *code_unsupported;

    int (*socket)(sk_runner *r, int family); /* SK_AF_INET or SK_AF_INET6 */
    int (*bind)(sk_runner *r, int h, const sk_endpoint *ep);
    int (*listen)(sk_runner *r, int h, int backlog);
    int (*accept)(sk_runner *r, int h, sk_endpoint *peer);
    int (*connect)(sk_runner *r, int h, const sk_endpoint *ep);
    int64_t (*send)(sk_runner *r, int h, const void *buf, size_t len, int flags);
    /* sendto(2) with MSG_FASTOPEN to ep (Linux's flag value); never blocks.
     * `family` is the sockaddr's sa_family as the script gave it (AF_INET
     * for `...`): sk_endpoint reads family 0 as AF_INET, so an AF_UNSPEC
     * address travels beside it. */
    int64_t (*sendto)(sk_runner *r, int h, const void *buf, size_t len, int flags, const sk_endpoint *ep, int family);
    /* The backend's sendto can block as Linux's does (waiting for the
     * handshake, then sending the rest): a blocking MSG_FASTOPEN write is
     * then one call, made while the call is pending (r->call set), on
     * the backend's own thread for a `...` call. */
    bool sendto_blocks;
    /* Optional: a blocking writer starts or stops waiting for the
     * handshake with data left to send (sk_write_waiting). */
    void (*write_waiting)(sk_runner *r, int h, bool waiting);
    /* `ip tcp_metrics delete ADDR` / `flush`: forget cached Fast Open
     * cookies; NULL when the backend cannot reach them. */
    void (*metrics_flush)(sk_runner *r, uint32_t addr, bool all);
    int64_t (*recv)(sk_runner *r, int h, void *buf, size_t len, int flags);
    int (*close_sock)(sk_runner *r, int h);
    int (*shutdown)(sk_runner *r, int h, int how);
    int (*setsockopt)(sk_runner *r, int h, int level, int name, const void *val, size_t len);
    int (*getsockopt)(sk_runner *r, int h, int level, int name, void *val, size_t *len);
    int (*set_nonblock)(sk_runner *r, int h, bool nonblock);
    /* SIOCINQ / SIOCOUTQ: the value, or -errno. */
    int64_t (*ioctl_q)(sk_runner *r, int h, unsigned long request);
    /* The TCP_CM_INQ value recvmsg attaches with TCP_INQ set (Linux's
     * tcp_inq_hint); NULL when the backend cannot report it. */
    int64_t (*inq_hint)(sk_runner *r, int h);
    int (*getname)(sk_runner *r, int h, bool peer, sk_endpoint *ep);
    /* poll(2) with timeout 0 over script fds: revents for each. */
    void (*poll)(sk_runner *r, const int *fds, const int *events, int *revents, size_t n);
    /* epoll over script fds; create returns the handle to keep. */
    int (*epoll_create)(sk_runner *r);
    int (*epoll_ctl)(sk_runner *r, int epfd, int op, int fd, uint32_t events, uint64_t data);
    int (*epoll_wait)(sk_runner *r, int epfd, int max, uint32_t *events, uint64_t *data);
    int (*epoll_close)(sk_runner *r, int h);

    int (*sysctl_get)(sk_runner *r, const char *name, char *buf, size_t len);
    int (*sysctl_set)(sk_runner *r, const char *name, const char *value, char *err, size_t errlen);
    /* Counter snapshots for `nstat`; NULL when the backend cannot see them. */
    uint64_t (*counter)(sk_runner *r, size_t i);
} sk_run_backend;

extern const sk_run_backend sk_run_backend_native;
extern const sk_run_backend sk_run_backend_so;

/* Appends a datagram the stack sent at `at` to the runner's queue. */
void sk_run_queue_out(sk_runner *r, const uint8_t *datagram, size_t len, sk_time_ns at);

typedef struct sk_run_saved_sysctl {
    char name[96];
    char value[128];
} sk_run_saved_sysctl;

struct sk_runner {
    const sk_script *script;
    const sk_script_run_opts *opts;
    const sk_run_backend *be;
    bool opened;
    void *be_state;        /* the backend's own                         */
    sk_stack *stack;       /* native backend only                       */
    sk_time_ns base;       /* stack time at script time 0               */
    sk_time_ns now;
    int64_t last_usecs;    /* script time of the previous event         */
    sk_time_ns tolerance;
    /* --ip_version: SK_RUN_IPV4, SK_RUN_IPV6, or SK_RUN_IPV4_MAPPED
     * (AF_INET6 sockets whose addresses are ::ffff:a.b.c.d, IPv4 on the
     * wire).  The IPv4 addresses serve IPv4 and mapped runs, the IPv6
     * ones IPv6 runs (network byte order). */
    int ip_version;
    uint32_t local_ip, remote_ip;
    uint8_t local_ip6[16], remote_ip6[16];
    unsigned mtu;          /* --mtu: 1500, or the kernel runner's 1520 for IPv6 */
    int64_t ts_tick_usecs; /* --tcp_ts_tick_usecs; 0: TS val unchecked   */
    bool strict_segments;

    sk_run_out *out;
    size_t out_count, out_cap;
    bool out_of_memory;

    sk_run_conn conns[SK_RUN_MAX_CONNS];
    size_t conn_count;
    int current_conn;      /* index, or -1                              */
    uint16_t listen_port;
    uint16_t next_remote_port;
    /* socket() calls so far: packetdrill watches only the newest socket
     * (its socket under test) and drops outbound packets of older ones. */
    uint32_t socket_epoch;
    uint16_t ip_id;

    sk_run_fd fds[SK_RUN_MAX_FDS];
    int info_fd;           /* socket whose TCP_INFO %{ }% blocks read   */

    sk_run_pending pending;
    /* The script's call being made through the backend (NULL for the
     * runner's own probes): a backend may make it as packetdrill would. */
    sk_run_pending *call;
    size_t events_run;     /* events finished, as packetdrill counts them */
    const sk_script_event *code_not_run; /* first %{ }% the backend cannot serve */

    sk_run_saved_sysctl saved[SK_RUN_MAX_SAVED_SYSCTLS];
    size_t saved_count;
    uint64_t *nstat;       /* counter snapshot from `nstat`             */
    size_t nstat_count;
    char py_state[64];     /* names %{ }% blocks defined, as JSON; "" = none yet */

    const sk_script_event *ev; /* event being run, for messages          */
    sk_script_outcome outcome;
    bool done;
    /* The SKIP that ended the run was a sysctl naming a key Linux lacks
     * too (mainline's sysctl fails on it): in `A || B` that is A's
     * non-zero exit status, and B runs instead (commands.c). */
    bool no_such_sysctl;
    char *msg;
    size_t msglen;
};

/* --ip_version values (sk_runner.ip_version). */
#define SK_RUN_IPV4 4
#define SK_RUN_IPV6 6
#define SK_RUN_IPV4_MAPPED 46

/* The stack's and the script's endpoint on `port`, in the family the
 * run's sockets use (IPv6, v4-mapped, or IPv4). */
sk_endpoint sk_run_local_ep(const sk_runner *r, uint16_t port);
sk_endpoint sk_run_remote_ep(const sk_runner *r, uint16_t port);
/* The family a `socket(..., SOCK_STREAM, ...)` call gets in this run. */
int sk_run_socket_family(const sk_runner *r);

/* Ends the run as FAIL or SKIP with a message naming the current line. */
void sk_run_fail(sk_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sk_run_skip(sk_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sk_run_trace(sk_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves the stack's clock to `t`, running timers one deadline at a time
 * so every datagram carries the time it left. */
void sk_run_advance_to(sk_runner *r, sk_time_ns t);
sk_time_ns sk_run_script_ns(const sk_runner *r, int64_t usecs);

/* syscalls.c */
void sk_run_syscall(sk_runner *r, const sk_script_event *ev, int64_t start_usecs, int64_t end_usecs);
/* Retries the blocking call in progress; true if none remains. */
bool sk_run_pending_poll(sk_runner *r);
/* Advances time until the blocking call returns (or fails the run). */
void sk_run_pending_finish(sk_runner *r);
void sk_run_on_ready(sk_runner *r, int handle);

/* commands.c */
void sk_run_command(sk_runner *r, const char *text);
void sk_run_code(sk_runner *r, const char *code);

#endif
