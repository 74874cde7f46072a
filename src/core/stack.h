/*
 * The stack object (struct sk_stack): the tables and side objects it
 * holds by value, its clock stamps, its allocator and its counters.
 */
#ifndef SK_STACK_H
#define SK_STACK_H

#include "tcb.h"

/* ------------------------------------------------------------------ */
/* Port bookkeeping for bind() conflicts (Linux's bind buckets)          */
/* ------------------------------------------------------------------ */

/* A slot of the stack's bind table (tables.c), which holds the buckets
 * themselves, by open addressing: a connection's new ephemeral port costs
 * no allocation.  A bucket's address is good only until the next bucket
 * is created or released. */
typedef struct sk_bind_bucket {
    uint16_t port;
    /* A listener per local address at most, or an SO_REUSEPORT group of
     * them: SK_LISTENERS_MAX, the field's limit, checked by sk_listen. */
    uint16_t listeners : 15;
    uint16_t used : 1;       /* the slot holds a bucket */
    uint32_t refs;     /* sockets with this local port */
    uint32_t noreuse;  /* of which without SO_REUSEADDR */
    uint32_t user_bound; /* of which bound with bind() (not autobind) */
    uint32_t tw;       /* TIME_WAIT records on this port */
} sk_bind_bucket;

#define SK_LISTENERS_MAX 0x7fffu

/* ------------------------------------------------------------------ */
/* The stack                                                            */
/* ------------------------------------------------------------------ */

/* Freed per-connection side objects (RACK records, CUBIC state) kept for
 * reuse: a request/response connection takes and returns them on every
 * exchange, and malloc/free there showed in the lifecycle profile. */
typedef struct sk_recycled {
    struct sk_recycled *next;
} sk_recycled;

typedef struct sk_recycle_bin {
    sk_recycled *head;
    uint32_t count;
    uint32_t low; /* fewest objects held since the last trim: never taken */
} sk_recycle_bin;

#define SK_RECYCLE_MAX 4096 /* objects kept per kind; the rest go back to malloc */
/* Connection records (TCBs) and requests: bounded bins that also shrink by
 * what sat unused for a second (sk_recycle_trim), since the memory
 * benchmark counts whatever a bin holds.  256 TCBs cover the churn of 100
 * lifecycles in flight per stack pair (64 did not: glibc's per-size cache of
 * 7 overflowed into its slow paths, and so did a bin of 64); a freed TCB
 * comes from a closed connection, so the bin never sits beside a set of
 * connections that were only opened.  Requests are freed as their
 * handshakes complete, so a stack that accepts many connections at once
 * would hold a full request bin beside them: that bin keeps 8, plus as
 * many as the TCB bin holds (up to 256), so that requests are kept only
 * where connections are also being closed (req_free). */
#define SK_RECYCLE_TCB_MAX 256
#define SK_RECYCLE_REQ_MAX 8
#define SK_RECYCLE_TRIM_MS 1000


/* ------------------------------------------------------------------ */
/* Addresses (addr.c)                                                   */
/* ------------------------------------------------------------------ */

/* The stack's table of IPv6 addresses: each distinct address any local
 * address, connection, request or TIME_WAIT record holds is stored once,
 * reference counted, and named by a 32-bit handle, so the records keep
 * 4 bytes per address as for IPv4.  Handle 0 is the unspecified address
 * (::) and is never stored. */
typedef struct sk_addr6_ent {
    uint8_t a[16];
    uint32_t refs;  /* 0: free */
    uint32_t hnext; /* hash chain, or free list; 0 ends it */
} sk_addr6_ent;

#define SK_A6_CHUNK_BITS 10
#define SK_A6_CHUNK (1u << SK_A6_CHUNK_BITS)

typedef struct sk_addr6_table {
    sk_addr6_ent **chunks;
    uint32_t nchunks, chunks_cap;
    uint32_t count, free_head;
    uint32_t *buckets;
    uint32_t mask; /* 0 while no bucket array */
} sk_addr6_table;

/* A local address of the stack. */
typedef struct sk_local_addr {
    uint32_t addr; /* IPv4 address, or an IPv6 handle (holding a reference) */
    uint8_t v6;
    uint8_t prefix_len;
} sk_local_addr;

#define SK_MAX_LOCAL_ADDRS 255 /* indices fit sk_request's byte, 255 (SK_LIDX_FOREIGN) left over */

/* A connection's addresses and ports as the demultiplexer keys them. */
typedef struct sk_key {
    uint32_t laddr, raddr; /* IPv4 addresses, or IPv6 handles when v6 */
    uint16_t lport, rport;
    bool v6;
} sk_key;

/* What the sender needs of a datagram's IP header. */
typedef struct sk_route {
    bool v6;
    uint32_t src, dst;        /* IPv4 */
    const uint8_t *src6, *dst6; /* IPv6, 16 bytes each */
    uint32_t flowlabel;       /* IPv6: 0 lets auto_flowlabels choose */
    uint32_t txhash_gen;      /* varies the automatic flow label (sk_rethink_txhash) */
    uint8_t tclass;           /* IPV6_TCLASS (its ECN bits are TCP's) */
    uint8_t hops;             /* hop limit or TTL; 0: 64 */
} sk_route;

struct sk_stack {
    sk_mem mem; /* every allocation goes through it: sk_malloc & co */
    uint32_t addr; /* the first IPv4 address (sk_stack_addr), 0 if none */
    sk_local_addr *laddrs;
    uint32_t nladdrs, laddrs_cap;
    sk_addr6_table a6;
    uint16_t mtu;
    uint32_t ifindex; /* the device's interface index (sin6_scope_id) */
    uint32_t offloads; /* SK_OFFLOAD_* of the link */
    char name[48];
    sk_transmit_fn transmit;
    sk_transmitv_fn transmitv; /* optional scatter-gather transmit */
    void *transmit_ctx;
    uint32_t gso_max_size; /* the link's largest datagram above the MTU, 0: none */
    sk_event_fn on_event;
    void *event_ctx;
    uint32_t event_mask; /* SK_EVMASK bits on_event takes (sk_wants) */

    sk_time_ns now;
    sk_time_ns epoch; /* creation time; TW expiries are ms from here */
    /* Every timer, TIME_WAIT expiry and bin trim runs on the millisecond
     * tick, and sk_advance has run all of them up to the tick this time
     * begins: an earlier `now` can find nothing due.  0 until the first
     * sk_advance, and set back to 0 by whatever makes something due
     * within the current tick (sk_advance_soon). */
    sk_time_ns advanced_until;
    uint8_t isn_key[16], cookie_key[16];
    /* The last IPv4 address pair's timestamp offset (sk_key_ts_off): a
     * connection asks for it two or three times (SYN-ACK, child, cookie)
     * and successive connections mostly come from the same peer. */
    uint32_t tsoff_laddr, tsoff_raddr, tsoff_val;
    bool tsoff_valid;
    /* The same for the last IPv4 destination's ephemeral-port offset
     * (pick_connect_port): a client connects to few servers. */
    bool portoff_valid;
    uint32_t portoff_raddr, portoff_val;
    /* The last flow label computed (sk_auto_flowlabel): it is fixed per
     * connection until a rehash, as Linux derives it from sk_txhash, so
     * a stream of segments hashes once, not once per segment. */
    uint8_t fl_in[40];
    uint32_t fl_val;
    bool fl_valid;
    sk_rng rng;
    sk_config cfg;
    uint64_t counters[SK_C__COUNT];
    uint16_t ip_id;
    uint32_t port_hint;

    sk_wheel tcb_wheel; /* connection timers */
    sk_wheel req_wheel; /* SYN-ACK retransmission */

    sk_tcb **fds;
    uint32_t fds_cap;

    sk_tcb **conn_buckets;
    uint32_t conn_mask, conn_count;

    sk_tcb *listeners[64]; /* chained through hnext, by port % 64 */
    sk_bind_bucket *bind_table; /* by port, linear probing, at most 3/4 full */
    uint32_t bind_mask, bind_count;
    uint32_t fd_hint; /* no free handle below this one */

    sk_tw_table tw;
    uint32_t orphans;
    uint32_t requests; /* total SYN_RECV records */
    uint32_t challenge_acks_this_sec;
    uint32_t challenge_ack_sec;
    uint32_t tw_isn; /* ISN for a SYN that reopens a TIME_WAIT tuple, 0 if none */
    /* sk_stack_set_tproxy: the port of the transparent listener that
     * takes SYNs to non-local addresses on every port (synack's stand-in
     * for an `iptables -j TPROXY --on-port` rule), 0 if none. */
    uint16_t tproxy_port;
    bool xmit_retrans; /* the segment being sent is a retransmission (not in OutSegs) */
    /* Which Linux MIB the retransmissions now being sent count in: those
     * from tcp_xmit_retransmit_queue are TCPFastRetrans, or in the Loss
     * state TCPSlowStartRetrans; an RTO's or a probe's own resend neither. */
    uint8_t rtx_mib; /* SK_RTX_MIB_* */
    /* MSS-sized segments in the datagram being sent (tcp_skb_pcount): a
     * TSO packet counts as that many in OutSegs, RetransSegs and
     * TCPOrigDataSent, as Linux counts them before segmentation. */
    uint16_t xmit_pcount;
    bool tx_blocked;   /* the device queue refuses datagrams (sk_stack_set_tx_blocked) */
    bool xmit_failed;  /* the last sk_xmit met a blocked queue */
    bool nagle_push;   /* this output pass ignores Nagle and cork (Linux TCP_NAGLE_PUSH) */
    sk_recycle_bin rack_bin, cubic_bin;
    sk_recycle_bin tcb_bin, req_bin; /* bounded by SK_RECYCLE_TCB_MAX, _REQ_MAX */
    sk_recycle_bin ring_bin;         /* 64-byte ring buffers (ring.c), as req_bin */
    uint64_t recycle_trim_tick;      /* next sk_recycle_trim, in ms ticks */
    struct sk_fo_state *fo; /* Fast Open client cache and blackhole state (fastopen.c), on first use */
    /* ICMP and path MTU (icmp.c, pmtu.c): the per-destination cache,
     * allocated on first use, and Linux's global ICMP token bucket. */
    struct sk_peer_cache *peers;
    uint32_t icmp_credit;
    sk_stamp icmp_stamp;
    bool xmit_no_df; /* the segment being sent goes without DF (IP_PMTUDISC_DONT, a locked MTU) */

    uint8_t *seg_scratch; /* payload of a SYN gathered from a send ring (output.c) */
    uint32_t seg_scratch_cap;
    /* sk_inputv's datagram gathered from pieces that cannot be parsed
     * where they lie (input.c), allocated on first use. */
    uint8_t *in_linear;
    /* The payload of the data segment being sent, as it lies in the send
     * ring (one or two stretches): sk_xmit copies it after the headers,
     * or hands it to transmitv by reference. */
    sk_iovec xmit_pay[2];
    uint8_t xmit_npay;
    uint8_t out[65536 + 80]; /* scratch for building datagrams */
};

static inline sk_stamp sk_stamp_now(const sk_stack *s)
{
    sk_stamp v = (sk_stamp)((s->now - s->epoch) / SK_NSEC_PER_MSEC);
    return v ? v : 1;
}

/* Time elapsed since a stamp, 0 for "never". */
static inline sk_time_ns sk_since(const sk_stack *s, sk_stamp st)
{
    return st ? (sk_time_ns)(sk_stamp)(sk_stamp_now(s) - st) * SK_NSEC_PER_MSEC : 0;
}

/* The µs clock's low 32 bits: RTT timing by modular difference. */
static inline uint32_t sk_us_now(const sk_stack *s) { return (uint32_t)(s->now / SK_NSEC_PER_USEC); }

/* Linux's TS clock ticks in milliseconds (tcp_clock_ms). */
static inline uint32_t sk_tcp_time_ms(const sk_stack *s) { return (uint32_t)(s->now / SK_NSEC_PER_MSEC); }

/* The stack's allocator (sk_stack_params.mem); no core file calls the C
 * library's allocator directly. */
static inline void *sk_malloc(const sk_stack *s, size_t n) { return s->mem.malloc(n, s->mem.user); }
static inline void *sk_calloc(const sk_stack *s, size_t n, size_t size) { return s->mem.calloc(n, size, s->mem.user); }
static inline void *sk_realloc(const sk_stack *s, void *p, size_t n) { return s->mem.realloc(p, n, s->mem.user); }
static inline void sk_free(const sk_stack *s, void *p) { s->mem.free(p, s->mem.user); }

static inline void sk_count(sk_stack *s, sk_counter_id id) { s->counters[id]++; }

/* sk_advance's early return where a datagram arrives (sk_input), inline
 * so that the common case, within a millisecond already advanced to,
 * costs no call. */
static inline void sk_advance_inline(sk_stack *s, sk_time_ns now)
{
    if (now < s->advanced_until) {
        if (now > s->now)
            s->now = now;
        return;
    }
    sk_advance(s, now);
}

/* Something is due at the current tick already (the wheels never allow
 * that, a TIME_WAIT record with a zero timeout does): the next
 * sk_advance must not take its early return. */
static inline void sk_advance_soon(sk_stack *s) { s->advanced_until = 0; }
enum { SK_RTX_MIB_NONE, SK_RTX_MIB_FAST, SK_RTX_MIB_SLOW_START };

#endif
