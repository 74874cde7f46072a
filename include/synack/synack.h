/*
 * synack — a sans-I/O TCP/IPv4 engine.
 *
 * The engine performs no system calls, reads no clock and keeps no global
 * state.  The caller feeds IP datagrams in together with the current time
 * (monotonic nanoseconds), the engine hands datagrams out through a transmit
 * callback, reports events through an event callback, and tells the caller
 * when it next needs to run (sk_next_deadline).  Randomness and secrets are
 * injected at creation, so a stack created with the same parameters and fed
 * the same inputs behaves identically.
 *
 * Socket calls follow POSIX/Linux semantics but are always non-blocking and
 * return a negative errno value on failure (for example -EINPROGRESS), with
 * Linux's errno numbers.  They act at the stack's current time, which is the
 * `now` of the latest sk_input/sk_advance call.
 *
 * Callbacks and re-entrancy.  `transmit` and `on_event` run synchronously
 * from inside the call that caused them (sk_input, sk_advance, sk_connect,
 * sk_send, sk_close, ...), in the middle of the engine's processing, with
 * the stack's state half updated.  From inside a callback:
 *   - do not call any function that takes this stack, except the pure
 *     readers sk_now, sk_stack_name, sk_stack_addr and sk_stack_addrs: a socket call,
 *     sk_input, sk_advance or sk_stack_free on the same stack is undefined
 *     behaviour (nothing detects it).  Note what the event says (a socket
 *     became readable: SK_EV_READY) and act on it after the call returns;
 *   - the datagram (transmit's, or ev->data) and every string in the event
 *     are valid only until the callback returns: copy what you keep;
 *   - another stack may be fed (sk_input or sk_inputv on a different
 *     stack, which must not itself be inside a call: a stack is never
 *     entered from its own callbacks, directly or through another
 *     stack's), but a wire that delivers synchronously both ways between
 *     two stacks re-enters the sender and can recurse without bound;
 *     queue at least one direction, as the in-memory wire and sk_loop
 *     queue both and bench_synack's bulk link queues the replies;
 *   - transmit cannot fail: if the device refuses datagrams, drop this one
 *     and call sk_stack_set_tx_blocked after the call returns;
 *   - transmitv's pieces (the headers in the stack's scratch buffer, the
 *     payload referenced inside a connection's send queue) are valid only
 *     until the callback returns: the queue moves on as soon as it does,
 *     so gather or copy them before returning, never keep the pointers.
 * The allocator (sk_mem) is called from the same places and follows the
 * same rule.
 *
 * Threads.  The engine keeps no global or static mutable state, so
 * different stacks can run in different threads with no locking.  One
 * stack is not thread-safe: all calls on it, and the callbacks they make,
 * must come from one thread at a time -- one stack per thread, or a lock
 * of the caller's around every call.  The name tables (sk_sysctl_name,
 * sk_counter_name, sk_state_name, sk_strerror, ...) are constant and may
 * be read from any thread.
 */
#ifndef SYNACK_SYNACK_H
#define SYNACK_SYNACK_H

#include "synack/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t */

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t sk_time_ns;
#define SK_TIME_NEVER UINT64_MAX
#define SK_NSEC_PER_USEC 1000ull
#define SK_NSEC_PER_MSEC 1000000ull
#define SK_NSEC_PER_SEC 1000000000ull

typedef struct sk_stack sk_stack;

/* TCP states, numbered as Linux numbers them (include/net/tcp_states.h) so
 * that tcpi_state and ss's state filters mean the same thing. */
typedef enum sk_tcp_state {
    SK_TCP_ESTABLISHED = 1,
    SK_TCP_SYN_SENT = 2,
    SK_TCP_SYN_RECV = 3,
    SK_TCP_FIN_WAIT1 = 4,
    SK_TCP_FIN_WAIT2 = 5,
    SK_TCP_TIME_WAIT = 6,
    SK_TCP_CLOSE = 7,
    SK_TCP_CLOSE_WAIT = 8,
    SK_TCP_LAST_ACK = 9,
    SK_TCP_LISTEN = 10,
    SK_TCP_CLOSING = 11,
} sk_tcp_state;

/* RFC 9293 name: "SYN_SENT", "FIN_WAIT_1", "CLOSED", ... */
SK_EXPORT const char *sk_state_name(int state);
/* ss(8) name: "SYN-SENT", "ESTAB", "UNCONN", ... */
SK_EXPORT const char *sk_state_ss_name(int state);

/* Address families, with Linux's values so they compare equal to
 * AF_UNSPEC, AF_INET and AF_INET6 of <sys/socket.h>. */
#define SK_AF_UNSPEC 0
#define SK_AF_INET 2
#define SK_AF_INET6 10

/* An address and port.  For IPv4 (`family` SK_AF_INET) the address is
 * `addr`, in host byte order; for IPv6 (SK_AF_INET6) it is `addr6`, in
 * network byte order as in a sockaddr_in6.  The port is in host byte
 * order.  Where the stack takes an endpoint, a `family` of 0 is read as
 * SK_AF_INET, so an endpoint written as {addr, port} stays IPv4; the
 * stack always fills `family` in what it returns.  `flowinfo` and
 * `scope_id` are those of a sockaddr_in6 (0 for IPv4). */
typedef struct sk_endpoint {
    uint32_t addr;
    uint16_t port;
    uint16_t family;
    uint8_t addr6[16];
    uint32_t flowinfo;
    uint32_t scope_id;
} sk_endpoint;

/* An IPv4 endpoint (host byte order). */
static inline sk_endpoint sk_endpoint_ipv4(uint32_t addr, uint16_t port)
{
    sk_endpoint e = {0};
    e.family = SK_AF_INET;
    e.addr = addr;
    e.port = port;
    return e;
}

/* An IPv6 endpoint: `addr6` is 16 bytes in network byte order. */
static inline sk_endpoint sk_endpoint_ipv6(const uint8_t addr6[16], uint16_t port)
{
    sk_endpoint e = {0};
    e.family = SK_AF_INET6;
    for (int i = 0; i < 16; i++)
        e.addr6[i] = addr6[i];
    e.port = port;
    return e;
}

static inline bool sk_endpoint_is_ipv6(const sk_endpoint *e)
{
    return e->family == SK_AF_INET6;
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

typedef enum sk_event_type {
    SK_EV_SEGMENT_IN,  /* a datagram accepted for TCP processing      */
    SK_EV_SEGMENT_OUT, /* a datagram handed to transmit               */
    SK_EV_STATE,       /* a connection changed state                  */
    SK_EV_DROP,        /* an input datagram was dropped; see reason    */
    SK_EV_TIMER,       /* a timer fired; see timer                    */
    SK_EV_READY,       /* a socket's poll mask may have changed       */
    SK_EV_MESSAGE,     /* a kernel-log-like message (e.g. SYN flood)  */
} sk_event_type;

/* One piece of a datagram handed out by reference. */
typedef struct sk_iovec {
    const uint8_t *base;
    size_t len;
} sk_iovec;

/* Why a connection changed state (sk_event.state_cause): what the peer
 * sent, what the application called, or which limit or timer ended it. */
typedef enum sk_state_cause {
    SK_CAUSE_NONE,                    /* none given: "" */
    SK_CAUSE_CONNECT,                 /* "connect()" */
    SK_CAUSE_LISTEN,                  /* "listen()" */
    SK_CAUSE_CLOSE,                   /* "close()" */
    SK_CAUSE_CLOSE_UNREAD_DATA,       /* "close() with unread data" */
    SK_CAUSE_CLOSE_LINGER_ZERO,       /* "close() with SO_LINGER 0" */
    SK_CAUSE_CLOSE_LINGER2_NEGATIVE,  /* "close() with TCP_LINGER2 < 0" */
    SK_CAUSE_SHUTDOWN,                /* "shutdown()" */
    SK_CAUSE_SHUTDOWN_WR,             /* "shutdown(SHUT_WR)" */
    SK_CAUSE_DATA_AFTER_CLOSE,        /* "data after close()" */
    SK_CAUSE_TOO_MANY_ORPHANS,        /* "too many orphans" */
    SK_CAUSE_ORPHANED,                /* "orphaned" */
    SK_CAUSE_LISTENER_CLOSED,         /* "listener closed" */
    SK_CAUSE_ADDRESS_REMOVED,         /* "address removed" */
    SK_CAUSE_RCV_SYN,                 /* "rcv SYN" */
    SK_CAUSE_RCV_SYN_SIMULTANEOUS,    /* "rcv SYN (simultaneous open)" */
    SK_CAUSE_RCV_SYN_FASTOPEN,        /* "rcv SYN (Fast Open)" */
    SK_CAUSE_RCV_SYN_IN_SYN_RECV,     /* "rcv SYN in SYN_RCVD" */
    SK_CAUSE_RCV_SYNACK,              /* "rcv SYN,ACK" */
    SK_CAUSE_RCV_ACK,                 /* "rcv ACK" */
    SK_CAUSE_RCV_ACK_SYNCOOKIE,       /* "rcv ACK (SYN cookie)" */
    SK_CAUSE_RCV_ACK_OF_FIN,          /* "rcv ACK of FIN" */
    SK_CAUSE_RCV_FIN,                 /* "rcv FIN" */
    SK_CAUSE_RCV_FIN_FASTOPEN_SYN,    /* "rcv FIN (Fast Open SYN)" */
    SK_CAUSE_RCV_RST,                 /* "rcv RST" */
    SK_CAUSE_RCV_RST_REFUSED,         /* "rcv RST (connection refused)" */
    SK_CAUSE_ICMP_ERROR_HANDSHAKE,    /* "ICMP error during the handshake" */
    SK_CAUSE_ICMP_ERROR_SYNACK,       /* "ICMP error for the SYN-ACK" */
    SK_CAUSE_SYN_RETRIES,             /* "SYN retries exhausted" */
    SK_CAUSE_SYNACK_RETRIES,          /* "SYN-ACK retries exhausted" */
    SK_CAUSE_RETRANSMISSIONS,         /* "retransmissions unanswered" */
    SK_CAUSE_ZERO_WINDOW_PROBES,      /* "zero-window probes unanswered" */
    SK_CAUSE_KEEPALIVE_PROBES,        /* "keepalive probes unanswered" */
    SK_CAUSE_USER_TIMEOUT_PROBING,    /* "TCP_USER_TIMEOUT while probing" */
    SK_CAUSE_ACCEPT_QUEUE_FULL,       /* "accept queue full (tcp_abort_on_overflow)" */
    SK_CAUSE_TW_BUCKETS_FULL,         /* "tcp_max_tw_buckets reached" */
    SK_CAUSE_TIMER_EXPIRED,           /* "timer expired" */
    SK_CAUSE_COUNT
} sk_state_cause;
/* A cause's text as the observers print it ("rcv SYN,ACK", "close()", ...);
 * "" for SK_CAUSE_NONE and for values out of range. */
SK_EXPORT const char *sk_state_cause_name(sk_state_cause cause);

/* An event's endpoints are not stored in it: sk_event_endpoints()
 * builds them when the consumer asks, so the many events whose consumer
 * reads only `type` and `fd` cost no address formatting.  Like `data`,
 * they can be read only during the callback that received the event. */
typedef struct sk_event {
    sk_event_type type;
    sk_time_ns now;
    int fd;              /* socket handle, or -1 (orphan, TIME_WAIT, none) */
    const uint8_t *data; /* SEGMENT_IN/OUT: the IP datagram             */
    size_t len;
    int from_state;      /* STATE: 0 stands for CLOSED before creation  */
    int to_state;        /* STATE: SK_TCP_CLOSE when the connection ends */
    const char *cause;   /* STATE: why ("rcv SYN,ACK", "close()", ...)   */
    const char *reason;  /* DROP: the counter name charged              */
    const char *timer;   /* TIMER: "retransmit", "keepalive", ...        */
    const char *message; /* MESSAGE                                      */
    /* STATE: the cause as a value; `cause` is its sk_state_cause_name. */
    sk_state_cause state_cause;
    /* DROP: the reason as a value, the index of the counter charged:
     * sk_counter_name(drop_counter, &group) is `reason` and its group,
     * sk_counter_value(stack, drop_counter) the count so far. */
    size_t drop_counter;
    /* SEGMENT_OUT of a datagram sent through transmitv, SEGMENT_IN of one
     * taken in pieces by sk_inputv: its pieces, with `data`/`len` holding
     * only the first (the headers, as a capture cut at the end of the TCP
     * header shows them).  NULL and 0 otherwise. */
    const sk_iovec *iov;
    size_t iovcnt;
    struct {             /* private: what sk_event_endpoints() reads    */
        int kind;
        uint16_t sport, dport;
        const void *a, *b;
    } ep_;
} sk_event;

/* The local and remote endpoints the event is about (either pointer may
 * be NULL).  Both are zero when the event is about no connection or
 * datagram; a connection's local address on 0.0.0.0 shows the stack's
 * first address.  Call it only while the event is being delivered. */
SK_EXPORT void sk_event_endpoints(const sk_event *ev, sk_endpoint *local, sk_endpoint *remote);

/* For code that builds an event itself (a replay, a test of an event
 * consumer): make sk_event_endpoints() return copies of `*local` and
 * `*remote` (NULL reads as zero), which must outlive the event's use. */
SK_EXPORT void sk_event_set_endpoints(sk_event *ev, const sk_endpoint *local, const sk_endpoint *remote);

typedef void (*sk_transmit_fn)(void *ctx, const uint8_t *datagram, size_t len);
/* At most this many pieces per vectored datagram: the headers, then the
 * payload as up to two stretches of the send queue (where it wraps). */
#define SK_TRANSMITV_MAX 3
/* A vectored (scatter-gather) transmit: the datagram is the pieces
 * `iov[0..count)` one after the other, `len` bytes in all; iov[0] is the
 * IP and TCP headers with their options, the other pieces the payload.
 * See the callback rules above for how long the pieces are valid. */
typedef void (*sk_transmitv_fn)(void *ctx, const sk_iovec *iov, size_t count, size_t len);
typedef void (*sk_event_fn)(void *ctx, const sk_event *ev);

/* An allocator for the engine (as ngtcp2_mem).  Every block the engine
 * allocates -- the stack itself, connections, buffers, tables -- comes
 * from these four functions and goes back through `free`, all before
 * sk_stack_free returns.  The functions keep the C library's contracts
 * (malloc(0) may return NULL or a unique pointer; realloc(p, n) keeps p
 * on failure; free(NULL) does nothing); `user` is passed to each.  The
 * engine copies the struct at sk_stack_new, so it need not outlive that
 * call, but `user` must live as long as the stack. */
typedef struct sk_mem {
    void *user;
    void *(*malloc)(size_t size, void *user);
    void *(*calloc)(size_t nmemb, size_t size, void *user);
    void *(*realloc)(void *ptr, size_t size, void *user);
    void (*free)(void *ptr, void *user);
} sk_mem;

/* ------------------------------------------------------------------ */
/* Stack lifecycle and the sans-I/O driving calls                       */
/* ------------------------------------------------------------------ */

typedef struct sk_stack_params {
    uint32_t addr;          /* local IPv4 address, host byte order      */
    uint16_t mtu;           /* link MTU; 0 means 1500                    */
    uint64_t seed;          /* seeds the stack's PRNG (ports, offsets)  */
    uint8_t secret[32];     /* keys for ISNs (RFC 6528) and SYN cookies */
    sk_time_ns now;         /* the clock's value at creation            */
    const char *name;       /* a label for logs and control sockets     */
    sk_transmit_fn transmit; /* required: called for each datagram out  */
    void *transmit_ctx;
    sk_event_fn on_event;   /* optional                                  */
    void *event_ctx;
    const sk_mem *mem;      /* optional; NULL: the C library's malloc    */
    uint32_t offloads;      /* SK_OFFLOAD_*: what the link does for TCP  */
    /* An IPv6 address for the stack, network byte order; all zero: none.
     * More addresses of either family: sk_stack_add_addr. */
    uint8_t addr6[16];
    uint8_t addr6_prefix_len; /* 0 means 64                             */
    uint8_t addr_prefix_len;  /* of `addr`; 0 means 32                   */
    /* The device's interface index, what a link-local sin6_scope_id
     * names (if_nametoindex of a TUN device); 0 means 1. */
    uint32_t ifindex;
    /* Optional scatter-gather transmit (Linux's NETIF_F_SG): when set,
     * segments carrying data go out through it, their payload referenced
     * in the send queue instead of copied into a contiguous datagram;
     * everything else still goes through `transmit` (with `transmit_ctx`
     * for both).  NULL: every datagram through `transmit`, as before. */
    sk_transmitv_fn transmitv;
    /* The largest datagram the link takes in one piece when that is more
     * than the MTU (Linux's gso_max_size: `lo`, or a device doing TSO or
     * GSO in software): 0 means none, and data segments stay within the
     * MTU.  Above the MTU the stack sends a burst's TSO packet as one
     * datagram of up to this size (at most 65535), counted as the MSS-
     * sized segments it stands for, as Linux hands `lo` one GSO skb.  Set
     * it only for a link whose receiver accepts such datagrams: another
     * synack stack (which takes any size), or a device that segments. */
    uint32_t gso_max_size;
    /* The event types on_event receives, as SK_EVMASK() bits; 0: all.
     * A consumer that reads only readiness (an event loop) sets
     * SK_EVMASK(SK_EV_READY), and the stack then builds no event for each
     * datagram, state change or timer. */
    uint32_t event_mask;
} sk_stack_params;

/* The sk_stack_params.event_mask bit of one sk_event_type. */
#define SK_EVMASK(type) (1u << (type))

/* Checksum offloads of the link, as Linux's loopback device has them.
 * Set them only for a link that really offers them: a trusted in-memory
 * link between stacks of one process, or a device that completes
 * checksums (a TUN device with a virtio-net header).  Never on a link
 * that can corrupt datagrams undetected. */
/* The stack does not compute TCP checksums of what it sends: the field
 * holds the pseudo-header's sum for the device to complete (Linux's
 * CHECKSUM_PARTIAL); captures taken before the device show them as
 * incorrect, as tcpdump on a Linux host does for its own packets. */
#define SK_OFFLOAD_TCP_CSUM_TX 0x1u
/* The stack does not verify TCP checksums of what it receives: the link
 * vouches for them (Linux's CHECKSUM_UNNECESSARY on loopback).  The IP
 * header's checksum is still checked, as Linux checks it. */
#define SK_OFFLOAD_TCP_CSUM_RX 0x2u

/* Creates a stack from `params` (copied; the strings and `mem` need not
 * outlive the call).  Returns NULL when `transmit` is missing, `mem` lacks
 * a function, or memory runs out. */
SK_EXPORT sk_stack *sk_stack_new(const sk_stack_params *params);
/* Frees the stack and everything it holds: sockets are dropped without
 * sending anything (no FIN, no RST).  NULL is a no-op. */
SK_EXPORT void sk_stack_free(sk_stack *stack);
/* The name given at creation ("synack" when none was). */
SK_EXPORT const char *sk_stack_name(const sk_stack *stack);
/* The stack's first IPv4 address, host byte order (0 if it has none). */
SK_EXPORT uint32_t sk_stack_addr(const sk_stack *stack);
/* Adds a local address (`addr`'s family and address; its port is
 * ignored) with a prefix length (0..32 or 0..128), as `ip addr add`: 0,
 * -EEXIST if the stack already has it, -EINVAL for an unusable address
 * (unspecified, multicast, broadcast, IPv4-mapped), -EAFNOSUPPORT for
 * another family, -ENOSPC past 255 addresses, -ENOMEM.  The stack then
 * takes datagrams sent to it, bind() accepts it, and connect() may pick
 * it as the source (the address of the peer's family whose prefix
 * matches the peer best, else the first added). */
SK_EXPORT int sk_stack_add_addr(sk_stack *stack, const sk_endpoint *addr, unsigned prefix_len);
/* Removes a local address (-EADDRNOTAVAIL if the stack does not have
 * it).  As in Linux, connections using it are left alone: they keep
 * sending from it and, unanswered, time out. */
SK_EXPORT int sk_stack_del_addr(sk_stack *stack, const sk_endpoint *addr);
/* The stack's addresses in the order added: fills up to `max` of `out`
 * and `prefix_len` (either may be NULL) and returns how many there are. */
SK_EXPORT size_t sk_stack_addrs(const sk_stack *stack, sk_endpoint *out, uint8_t *prefix_len, size_t max);

/* Transparent proxying (tun2socks), as Linux's IP_TRANSPARENT with TPROXY.
 * A listener with SK_IP_TRANSPARENT (or SK_IPV6_TRANSPARENT) set takes
 * SYNs to addresses the stack does not hold on its own port, as if
 * `iptables -t mangle -A PREROUTING -p tcp --dport P -j TPROXY --on-port P`
 * and a local catch-all route were in place; its accepted sockets report
 * the original destination from sk_getsockname and send from it.
 * sk_stack_set_tproxy(stack, P) is the stand-in for such a rule without
 * --dport: SYNs to non-local addresses on every other port go to the
 * transparent listener on port P (0 removes it).  ICMP and ICMPv6 errors
 * quoting a transparent socket's segment reach it at its non-local
 * address too (path MTU, soft errors, as `-m socket --transparent`
 * delivers them on Linux).  Segments to non-local addresses that no
 * transparent socket takes are dropped as before (IpInAddrErrors).
 * Returns 0, or -EFAULT. */
SK_EXPORT int sk_stack_set_tproxy(sk_stack *stack, uint16_t on_port);

/* Feeds one IPv4 or IPv6 datagram.  `now` must not go backwards.  Bad
 * datagrams, and those for an address the stack does not hold (unless a
 * transparent socket takes them, see sk_stack_set_tproxy), are
 * counted and dropped; this never fails.  ICMPv6 echo requests are
 * answered. */
SK_EXPORT void sk_input(sk_stack *stack, const uint8_t *datagram, size_t len, sk_time_ns now);
/* Feeds one datagram given as pieces, iov[0..n) one after the other (as
 * a transmitv callback receives them, or a device's scatter-gather
 * buffers), with sk_input's semantics.  When the IP and TCP headers with
 * their options all lie in iov[0] and the payload lies in one piece, the
 * datagram is taken where it lies: the payload is copied once, into a
 * reader's posted buffer or the receive queue, and never gathered.  Any
 * other layout (headers split across pieces, IPv6 extension headers,
 * ICMP, a payload over several pieces) is gathered into a buffer of the
 * stack's first (allocated on first use; if that fails the datagram is
 * counted in IpInDiscards) and processed as sk_input would.  Zero pieces
 * or zero bytes are a datagram of length 0 (counted as a header error).
 * The pieces need only be valid for the call.  SEGMENT_IN events of a
 * datagram taken in pieces carry them in `iov`/`iovcnt`, with `data`/
 * `len` the first piece, as SEGMENT_OUT does for transmitv.
 *
 * A link between two stacks in one process can call this from the
 * sender's transmitv with the sender's own pieces, saving the copy a
 * queued datagram costs, provided the receiving stack is not inside a
 * call of its own at that moment (see "Callbacks and re-entrancy"
 * above): its replies must then be queued, not handed back to the
 * sender, which is still inside its transmit. */
SK_EXPORT void sk_inputv(sk_stack *stack, const sk_iovec *iov, size_t n, sk_time_ns now);
/* Moves the clock to `now` and runs every timer due at or before it. */
SK_EXPORT void sk_advance(sk_stack *stack, sk_time_ns now);
/* Tells the stack its device queue refuses datagrams (a full qdisc, a
 * TUN write answering EAGAIN).  While blocked, transmissions fail as
 * local congestion does in Linux: data stays unsent, counted in
 * OutDiscards, and the probe timer retries every 500 ms without backing
 * off (TCP_RESOURCE_PROBE_INTERVAL). */
SK_EXPORT void sk_stack_set_tx_blocked(sk_stack *stack, bool blocked);

/* When the stack next needs sk_advance, or SK_TIME_NEVER. */
SK_EXPORT sk_time_ns sk_next_deadline(const sk_stack *stack);
/* The stack's clock: the `now` of the latest sk_input/sk_advance. */
SK_EXPORT sk_time_ns sk_now(const sk_stack *stack);

/* ------------------------------------------------------------------ */
/* Socket calls (return >= 0 on success, -errno on failure)              */
/* ------------------------------------------------------------------ */

/* Option levels and names carry Linux's numeric values. */
#define SK_SOL_SOCKET 1
#define SK_IPPROTO_TCP 6
#define SK_IPPROTO_IPV6 41

/* IPPROTO_IPV6 options (AF_INET6 sockets), Linux's numbers */
#define SK_IPV6_FLOWINFO 11     /* int 0/1: receive flow information (TCP only remembers it) */
#define SK_IPV6_UNICAST_HOPS 16 /* -1 (the default, 64) or 0..255 */
#define SK_IPV6_MTU_DISCOVER 23 /* int: SK_IPV6_PMTUDISC_*, default WANT */
#define SK_IPV6_MTU 24          /* read-only: the path MTU of a connected socket */
#define SK_IPV6_RECVERR 25      /* int: ICMPv6 errors become hard errors (SO_ERROR, the next call) */
#define SK_IPV6_V6ONLY 26       /* 0 or 1; default net.ipv6.bindv6only */
#define SK_IPV6_FLOWLABEL_MGR 32 /* struct sk_in6_flowlabel_req: flow labels the socket holds */
#define SK_IPV6_FLOWINFO_SEND 33 /* int 0/1: connect() sends sin6_flowinfo's label, getpeername reports it */
#define SK_IPV6_TCLASS 67       /* -1 (0) or 0..255, the traffic class */
#define SK_IPV6_TRANSPARENT 75  /* 0 or 1: as SK_IP_TRANSPARENT */
#define SK_IPV6_FREEBIND 78     /* 0 or 1: as SK_IP_FREEBIND */
/* IPV6_MTU_DISCOVER values: INTERFACE and OMIT ignore Packet Too Big. */
#define SK_IPV6_PMTUDISC_DONT 0
#define SK_IPV6_PMTUDISC_WANT 1
#define SK_IPV6_PMTUDISC_DO 2
#define SK_IPV6_PMTUDISC_PROBE 3
#define SK_IPV6_PMTUDISC_INTERFACE 4
#define SK_IPV6_PMTUDISC_OMIT 5

/* IPV6_FLOWLABEL_MGR's argument, Linux's struct in6_flowlabel_req (32
 * bytes, the label in network byte order). */
struct sk_in6_flowlabel_req {
    uint8_t flr_dst[16];
    uint32_t flr_label; /* network byte order, 20 bits */
    uint8_t flr_action; /* SK_IPV6_FL_A_* */
    uint8_t flr_share;  /* SK_IPV6_FL_S_* */
    uint16_t flr_flags; /* SK_IPV6_FL_F_* */
    uint16_t flr_expires;
    uint16_t flr_linger;
    uint32_t flr_pad;
};
#define SK_IPV6_FL_A_GET 0
#define SK_IPV6_FL_A_PUT 1
#define SK_IPV6_FL_A_RENEW 2
#define SK_IPV6_FL_F_CREATE 1
#define SK_IPV6_FL_F_EXCL 2
#define SK_IPV6_FL_F_REFLECT 4
#define SK_IPV6_FL_F_REMOTE 8
#define SK_IPV6_FL_S_NONE 0
#define SK_IPV6_FL_S_EXCL 1
#define SK_IPV6_FL_S_PROCESS 2
#define SK_IPV6_FL_S_USER 3
#define SK_IPV6_FL_S_ANY 255

#define SK_SO_REUSEADDR 2
#define SK_SO_TYPE 3
#define SK_SO_ERROR 4
#define SK_SO_SNDBUF 7
#define SK_SO_RCVBUF 8
#define SK_SO_KEEPALIVE 9
#define SK_SO_LINGER 13
#define SK_SO_REUSEPORT 15
#define SK_SO_RCVLOWAT 18
#define SK_SO_MEMINFO 55 /* uint32_t[SK_MEMINFO_VARS], Linux's order (sock_diag.h) */
#define SK_SO_ZEROCOPY 60 /* accepted; synack copies (there is no kernel boundary to avoid) */

#define SK_TCP_NODELAY 1
#define SK_TCP_MAXSEG 2
#define SK_TCP_CORK 3
#define SK_TCP_KEEPIDLE 4
#define SK_TCP_KEEPINTVL 5
#define SK_TCP_KEEPCNT 6
#define SK_TCP_SYNCNT 7
#define SK_TCP_LINGER2 8
#define SK_TCP_DEFER_ACCEPT 9
#define SK_TCP_WINDOW_CLAMP 10
#define SK_TCP_INFO 11
#define SK_TCP_QUICKACK 12
#define SK_TCP_CONGESTION 13
#define SK_TCP_USER_TIMEOUT 18
#define SK_TCP_NOTSENT_LOWAT 25
/* TCP Fast Open (RFC 7413), as Linux: TCP_FASTOPEN sets a listener's
 * pending Fast Open limit; TCP_FASTOPEN_CONNECT makes connect() return at
 * once and the first write go out in the SYN; TCP_FASTOPEN_KEY sets a
 * listener's 16-byte cookie key (32: primary then backup);
 * TCP_FASTOPEN_NO_COOKIE sends (client) or takes (server) data in a SYN
 * without a cookie. */
#define SK_TCP_FASTOPEN 23
#define SK_TCP_FASTOPEN_CONNECT 30
#define SK_TCP_FASTOPEN_KEY 33
#define SK_TCP_FASTOPEN_NO_COOKIE 34
#define SK_TCP_INQ 36 /* also the cmsg type TCP_CM_INQ; see sk_inq_hint */

/* IP-level options (Linux's values), for path MTU discovery: the DF bit
 * and what an ICMP fragmentation-needed does to a connection. */
#define SK_IPPROTO_IP 0
#define SK_IP_TOS 1           /* int: the TOS byte, ECN bits excluded (TCP sets them) */
#define SK_IP_MTU_DISCOVER 10 /* int: SK_IP_PMTUDISC_* */
#define SK_IP_RECVERR 11      /* int: ICMP errors become hard errors (SO_ERROR, the next call) */
#define SK_IP_MTU 14          /* int, read-only: the path MTU of a connected socket */
#define SK_IP_FREEBIND 15     /* 0 or 1: bind() may take an address the stack does not hold */
#define SK_IP_TRANSPARENT 19  /* 0 or 1: as FREEBIND, and a listener takes SYNs to
                                 non-local addresses (see sk_stack_set_tproxy) */
#define SK_IP_PMTUDISC_DONT 0
#define SK_IP_PMTUDISC_WANT 1 /* the default (net.ipv4.ip_no_pmtu_disc = 0) */
#define SK_IP_PMTUDISC_DO 2
#define SK_IP_PMTUDISC_PROBE 3
#define SK_IP_PMTUDISC_INTERFACE 4 /* frag-needed ignored, DF not set */
#define SK_IP_PMTUDISC_OMIT 5

/* SO_MEMINFO's figures (Linux's SK_MEMINFO_*), as `ss -m` prints them. */
enum {
    SK_MEMINFO_RMEM_ALLOC, /* r: truesize of queued received data */
    SK_MEMINFO_RCVBUF,     /* rb */
    SK_MEMINFO_WMEM_ALLOC, /* t: in transmission below TCP (0: synack hands datagrams over at once) */
    SK_MEMINFO_SNDBUF,     /* tb */
    SK_MEMINFO_FWD_ALLOC,  /* f: 0, synack reserves no memory ahead */
    SK_MEMINFO_WMEM_QUEUED, /* w: truesize of the send queue */
    SK_MEMINFO_OPTMEM,     /* o */
    SK_MEMINFO_BACKLOG,    /* bl */
    SK_MEMINFO_DROPS,      /* d */
    SK_MEMINFO_VARS
};

#define SK_SHUT_RD 0
#define SK_SHUT_WR 1
#define SK_SHUT_RDWR 2

#define SK_MSG_PEEK 0x2
#define SK_MSG_DONTWAIT 0x40
#define SK_MSG_EOR 0x80 /* ends a record: later data never shares its segments */
#define SK_MSG_NOSIGNAL 0x4000 /* accepted; synack never raises signals */
#define SK_MSG_MORE 0x8000
#define SK_MSG_ZEROCOPY 0x4000000 /* accepted, as SO_ZEROCOPY */
/* sk_sendto on an unconnected socket: connect and carry the data in the
 * SYN (Linux's MSG_FASTOPEN). */
#define SK_MSG_FASTOPEN 0x20000000

#define SK_POLLIN 0x001
#define SK_POLLPRI 0x002
#define SK_POLLOUT 0x004
#define SK_POLLERR 0x008
#define SK_POLLHUP 0x010
#define SK_POLLNVAL 0x020
#define SK_POLLRDNORM 0x040
#define SK_POLLWRNORM 0x100
#define SK_POLLRDHUP 0x2000

struct sk_linger {
    int l_onoff;
    int l_linger;
};

/* Same layout as Linux's struct tcp_info (linux/tcp.h), so a TCP_INFO
 * consumer written for Linux reads synack's answer unchanged. */
struct sk_tcp_info {
    uint8_t tcpi_state;
    uint8_t tcpi_ca_state;
    uint8_t tcpi_retransmits;
    uint8_t tcpi_probes;
    uint8_t tcpi_backoff;
    uint8_t tcpi_options;
    uint8_t tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;
    uint8_t tcpi_delivery_rate_app_limited : 1, tcpi_fastopen_client_fail : 2;

    uint32_t tcpi_rto;
    uint32_t tcpi_ato;
    uint32_t tcpi_snd_mss;
    uint32_t tcpi_rcv_mss;

    uint32_t tcpi_unacked;
    uint32_t tcpi_sacked;
    uint32_t tcpi_lost;
    uint32_t tcpi_retrans;
    uint32_t tcpi_fackets;

    uint32_t tcpi_last_data_sent;
    uint32_t tcpi_last_ack_sent;
    uint32_t tcpi_last_data_recv;
    uint32_t tcpi_last_ack_recv;

    uint32_t tcpi_pmtu;
    uint32_t tcpi_rcv_ssthresh;
    uint32_t tcpi_rtt;
    uint32_t tcpi_rttvar;
    uint32_t tcpi_snd_ssthresh;
    uint32_t tcpi_snd_cwnd;
    uint32_t tcpi_advmss;
    uint32_t tcpi_reordering;

    uint32_t tcpi_rcv_rtt;
    uint32_t tcpi_rcv_space;

    uint32_t tcpi_total_retrans;

    uint64_t tcpi_pacing_rate;
    uint64_t tcpi_max_pacing_rate;
    uint64_t tcpi_bytes_acked;
    uint64_t tcpi_bytes_received;
    uint32_t tcpi_segs_out;
    uint32_t tcpi_segs_in;

    uint32_t tcpi_notsent_bytes;
    uint32_t tcpi_min_rtt;
    uint32_t tcpi_data_segs_in;
    uint32_t tcpi_data_segs_out;

    uint64_t tcpi_delivery_rate;

    uint64_t tcpi_busy_time;
    uint64_t tcpi_rwnd_limited;
    uint64_t tcpi_sndbuf_limited;

    uint32_t tcpi_delivered;
    uint32_t tcpi_delivered_ce;

    uint64_t tcpi_bytes_sent;
    uint64_t tcpi_bytes_retrans;
    uint32_t tcpi_dsack_dups;
    uint32_t tcpi_reord_seen;

    uint32_t tcpi_rcv_ooopack;
    uint32_t tcpi_snd_wnd;
};

/* tcpi_options bits, as Linux */
#define SK_TCPI_OPT_TIMESTAMPS 1
#define SK_TCPI_OPT_SACK 2
#define SK_TCPI_OPT_WSCALE 4
#define SK_TCPI_OPT_ECN 8
#define SK_TCPI_OPT_ECN_SEEN 16
#define SK_TCPI_OPT_SYN_DATA 32 /* data in the SYN was acknowledged (client) or taken (server) */

/* A new TCP socket handle (the smallest free one, as Linux picks fds),
 * or -ENOBUFS when memory runs out. */
SK_EXPORT int sk_socket(sk_stack *s);
/* socket(family, SOCK_STREAM, 0): SK_AF_INET as sk_socket, SK_AF_INET6
 * for an IPv6 socket (dual-stack unless IPV6_V6ONLY or
 * net.ipv6.bindv6only: IPv4 peers appear as IPv4-mapped addresses, RFC 4291 2.5.5.2), and
 * -EAFNOSUPPORT for any other family, as Linux. */
SK_EXPORT int sk_socket_family(sk_stack *s, int family);
/* Binds to a local address and port (port 0 picks an ephemeral one).
 * -EADDRNOTAVAIL for an address not the stack's, -EADDRINUSE, -EINVAL if
 * already bound. */
SK_EXPORT int sk_bind(sk_stack *s, int fd, const sk_endpoint *local);
/* Listens with an accept queue of `backlog` (capped by net.core.somaxconn,
 * as Linux). */
SK_EXPORT int sk_listen(sk_stack *s, int fd, int backlog);
/* Returns a new handle, or -EAGAIN when the accept queue is empty. */
SK_EXPORT int sk_accept(sk_stack *s, int fd, sk_endpoint *peer);
/* -EINPROGRESS when the SYN was sent; later calls: -EALREADY while in
 * progress, -EISCONN once connected, or the pending error. */
SK_EXPORT int sk_connect(sk_stack *s, int fd, const sk_endpoint *remote);
/* Queues up to `len` bytes and returns how many were taken (a short count
 * when the send buffer fills), or -EAGAIN (buffer full, or still
 * connecting), -EPIPE after shutdown, -ENOTCONN, or the pending error.
 * Flags: SK_MSG_MORE, SK_MSG_EOR and the accepted-and-ignored ones. */
SK_EXPORT ssize_t sk_send(sk_stack *s, int fd, const void *buf, size_t len, int flags);
/* sendto(2) for TCP: with SK_MSG_FASTOPEN on a socket that has not
 * connected, connects to `remote` and sends up to an MSS of `buf` in the
 * SYN when a Fast Open cookie for `remote` is cached (or none is needed);
 * without a cookie the SYN asks for one and the call returns
 * -EINPROGRESS, as Linux's.  Without the flag, `remote` is ignored and
 * this is sk_send (Linux ignores a TCP sendto's address too). */
SK_EXPORT ssize_t sk_sendto(sk_stack *s, int fd, const void *buf, size_t len, int flags, const sk_endpoint *remote);
/* A caller that blocks (connect(2), or a sendto/write with
 * SK_MSG_FASTOPEN or TCP_FASTOPEN_CONNECT waiting for its handshake)
 * says so while it waits, as Linux counts sk_write_pending in
 * inet_wait_for_connect: the SYN-ACK's ACK is then held back (delayed
 * ACK, quickack mode) so that the data the writer sends next carries it,
 * as tcp_rcv_synsent_state_process does.  `waiting` false when the wait
 * ends.  0, or -EBADF. */
SK_EXPORT int sk_write_waiting(sk_stack *s, int fd, bool waiting);
/* Forgets cached Fast Open cookies (Linux keeps them in its TCP metrics:
 * `ip tcp_metrics delete ADDR` / `flush`): one destination, or all when
 * `all`. */
SK_EXPORT void sk_fastopen_forget(sk_stack *s, uint32_t addr, bool all);
/* The 8-byte Fast Open cookie a server with `key` (16 bytes, as
 * TCP_FASTOPEN_KEY takes it) issues to `client` for its address `server`
 * (host byte order): SipHash-2-4 of both addresses, as Linux computes it,
 * so the two agree on a cookie for the same key. */
SK_EXPORT void sk_fastopen_cookie(const uint8_t key[16], uint32_t client, uint32_t server, uint8_t out[8]);
/* Copies up to `len` in-order bytes out (SK_MSG_PEEK leaves them).
 * Returns the count, 0 at end of stream (FIN received), -EAGAIN when
 * nothing is readable yet, -ENOTCONN, or the pending error. */
SK_EXPORT ssize_t sk_recv(sk_stack *s, int fd, void *buf, size_t len, int flags);
/* Posts a receive buffer, as a reader blocked in read(2) on Linux once
 * waited with its buffer (the direct copy to a waiting reader,
 * tcp_data_queue's ucopy path): what the receive queue already holds is
 * copied in at once (as sk_recv would), and in-order data arriving while
 * the receive queue is empty is then copied from the segment straight
 * into `buf`, skipping the queue, until `len` bytes are in; the rest of
 * a segment, and what follows, queues as usual.  Bytes placed this way
 * are consumed (the window stays open, autotuning counts them as read),
 * and SK_EV_READY reports them.  `buf` must stay valid until
 * sk_recv_posted takes it back (or sk_close, or sk_stack_free); bytes an
 * sk_recv returns meanwhile come after those already placed.  0, or
 * -EBADF, -ENOTCONN (a listener), -EINVAL (NULL or empty buffer), -EBUSY
 * (a buffer is already posted). */
SK_EXPORT int sk_recv_post(sk_stack *s, int fd, void *buf, size_t len);
/* Takes the posted buffer back: returns how many bytes were placed in it
 * (from its start), or, when none were, what sk_recv returns for an empty
 * read (0 at end of stream, -EAGAIN, the pending error).  -EINVAL when no
 * buffer is posted.  The buffer is no longer posted afterwards. */
SK_EXPORT ssize_t sk_recv_posted(sk_stack *s, int fd);
/* shutdown(2): SK_SHUT_WR sends a FIN once the queued data is out. */
SK_EXPORT int sk_shutdown(sk_stack *s, int fd, int how);
/* close(2): the handle is freed at once; the connection goes on as an
 * orphan (FIN after queued data), or is reset when unread data remains or
 * SO_LINGER is on with a zero timeout, as Linux does. */
SK_EXPORT int sk_close(sk_stack *s, int fd);
/* setsockopt(2) with Linux's levels, names, value types and errors
 * (SK_SOL_SOCKET / SK_IPPROTO_TCP; -ENOPROTOOPT for unknown names). */
SK_EXPORT int sk_setsockopt(sk_stack *s, int fd, int level, int name, const void *val, size_t len);
/* getsockopt(2): `*len` is the buffer size in, the value's size out. */
SK_EXPORT int sk_getsockopt(sk_stack *s, int fd, int level, int name, void *val, size_t *len);
/* The local address and port (getsockname(2)). */
SK_EXPORT int sk_getsockname(sk_stack *s, int fd, sk_endpoint *out);
/* The peer's address and port, or -ENOTCONN (getpeername(2)). */
SK_EXPORT int sk_getpeername(sk_stack *s, int fd, sk_endpoint *out);
/* Readiness as poll(2) reports it (SK_POLL* bits), or -EBADF. */
SK_EXPORT int sk_poll(sk_stack *s, int fd);
/* The socket's TCP state (SK_TCP_*), or -EBADF. */
SK_EXPORT int sk_state(sk_stack *s, int fd);
/* Bytes readable now (SIOCINQ), or -EBADF. */
SK_EXPORT int sk_inq(sk_stack *s, int fd);
/* The TCP_CM_INQ value recvmsg would attach after a read on a socket
 * with TCP_INQ set (Linux's tcp_inq_hint): bytes still to read, counting
 * a received FIN as one, so a reader learns of the end without another
 * call. */
SK_EXPORT int sk_inq_hint(sk_stack *s, int fd);
/* Bytes queued and not yet acknowledged (SIOCOUTQ), or -EBADF. */
SK_EXPORT int sk_outq(sk_stack *s, int fd);

/* poll(2) over several handles; returns how many have revents != 0. */
struct sk_pollfd {
    int fd;
    short events;
    short revents;
};
/* Fills each entry's revents (SK_POLL* bits, POLLNVAL for a bad handle)
 * and returns how many are non-zero; never waits. */
SK_EXPORT int sk_poll_many(sk_stack *s, struct sk_pollfd *fds, size_t n);

SK_EXPORT const char *sk_strerror(int err); /* accepts err or -err */
SK_EXPORT const char *sk_errno_name(int err); /* "ECONNREFUSED" */

/* ------------------------------------------------------------------ */
/* Configuration, named exactly like Linux's sysctls                    */
/* ------------------------------------------------------------------ */

/* 0, or -ENOENT (unknown name) / -EINVAL (bad value) with a message in
 * err saying which and why. */
SK_EXPORT int sk_sysctl_set(sk_stack *s, const char *name, const char *value, char *err, size_t errlen);
/* Writes the value as Linux prints it ("4096\t131072\t33554432" for
 * vectors); returns 0 or -ENOENT. */
SK_EXPORT int sk_sysctl_get(const sk_stack *s, const char *name, char *buf, size_t len);
/* The i-th tunable's name, or NULL past the end. */
SK_EXPORT const char *sk_sysctl_name(size_t i);

/* ------------------------------------------------------------------ */
/* Counters, named as Linux's SNMP MIB (/proc/net/snmp, /proc/net/netstat) */
/* ------------------------------------------------------------------ */

/* The i-th counter, or NULL past the end; `group` is "Ip", "IpExt",
 * "Tcp", "TcpExt" or "Synack" (synack's own drop reasons). */
SK_EXPORT const char *sk_counter_name(size_t i, const char **group);
/* The i-th counter's value (0 past the end). */
SK_EXPORT uint64_t sk_counter_value(const sk_stack *s, size_t i);
/* By name, with or without the group prefix ("TcpExtTW" or "TW");
 * returns 0 for an unknown name. */
SK_EXPORT uint64_t sk_counter(const sk_stack *s, const char *name);

/* ------------------------------------------------------------------ */
/* Socket table (what ss lists)                                          */
/* ------------------------------------------------------------------ */

typedef enum sk_timer_kind {
    SK_TIMER_NONE = 0,
    SK_TIMER_ON = 1,        /* retransmit (ss: "on")          */
    SK_TIMER_KEEPALIVE = 2,
    SK_TIMER_TIMEWAIT = 3,  /* also the FIN_WAIT_2 orphan timer */
    SK_TIMER_PERSIST = 4,
} sk_timer_kind;

typedef struct sk_sock_info {
    int fd;               /* -1 for orphans, requests and TIME_WAIT */
    int state;
    sk_endpoint local;
    sk_endpoint remote;
    uint32_t recv_q;      /* LISTEN: accept-queue length */
    uint32_t send_q;      /* LISTEN: backlog limit       */
    sk_timer_kind timer;
    sk_time_ns timer_expires; /* absolute */
    uint32_t timer_retrans;
    bool orphan;
    char cong[16];        /* congestion control (TCP_CONGESTION), "" if none */
    struct sk_tcp_info info;
    uint32_t meminfo[SK_MEMINFO_VARS]; /* SO_MEMINFO (ss -m); zero for requests and TIME_WAIT */
    bool v6only;          /* an AF_INET6 socket with IPV6_V6ONLY: ss shows its
                             wildcard as [::] rather than * */
} sk_sock_info;

typedef void (*sk_sock_visit_fn)(void *ctx, const sk_sock_info *info);
/* Visits every socket: listeners, connections, SYN_RECV requests and
 * TIME_WAIT records.  Returns the number visited. */
SK_EXPORT size_t sk_sockets(sk_stack *s, sk_sock_visit_fn visit, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
