/*
 * Engine internals shared by the files of src/core.
 *
 * Three objects, sized to their phase as Linux sizes them:
 *   sk_request  a half-open passive connection on a listener's SYN queue
 *               (listen.c), a few dozen bytes;
 *   sk_tcb      a full connection or socket (everything else);
 *   sk_tw       a TIME_WAIT (or orphaned FIN_WAIT_2) record (timewait.c),
 *               holding only what is needed to answer late segments.
 */
#ifndef SK_INTERNAL_H
#define SK_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "synack/packet.h"
#include "synack/synack.h"

#include "config.h"
#include "counters.h"
#include "isn.h"
#include "timer_wheel.h"

/* Sequence-space comparisons (RFC 9293 §3.4, modulo 2^32). */
static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }
static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }

#define SK_MS(x) ((sk_time_ns)(x) * SK_NSEC_PER_MSEC)
#define SK_SEC(x) ((sk_time_ns)(x) * SK_NSEC_PER_SEC)

/* Linux constants (include/net/tcp.h) */
#define SK_TCP_TIMEWAIT_LEN SK_SEC(60)
#define SK_TCP_TIMEOUT_INIT SK_SEC(1)
#define SK_TCP_DELACK_MAX SK_MS(200)
#define SK_TCP_ATO_MIN SK_MS(40)
#define SK_TCP_INIT_CWND 10
#define SK_TCP_MAX_WSCALE 14
#define SK_TCP_MSS_DEFAULT 536
#define SK_TCP_MAX_QUICKACKS 16
#define SK_TCP_RESOURCE_PROBE_INTERVAL SK_MS(500)

/* Millisecond stamps since the stack's epoch, as Linux keeps jiffies:
 * compared by modular difference, so they wrap harmlessly (49 days); 0
 * means "never". */
typedef uint32_t sk_stamp;

/* ------------------------------------------------------------------ */
/* Byte ring buffer: send queue and in-order receive queue              */
/* ------------------------------------------------------------------ */

typedef struct sk_ring {
    uint8_t *data;
    uint32_t cap;  /* power of two, 0 when unallocated */
    uint32_t head; /* offset of the first byte */
    uint32_t len;
} sk_ring;

bool sk_ring_reserve(const sk_stack *s, sk_ring *r, uint32_t need);
uint32_t sk_ring_write(sk_ring *r, const void *src, uint32_t len);
uint32_t sk_ring_peek(const sk_ring *r, uint32_t off, void *dst, uint32_t len);
void sk_ring_consume(sk_ring *r, uint32_t len);
void sk_ring_free(const sk_stack *s, sk_ring *r);
/* After the queue drained: small buffers go back (an idle connection holds
 * none); large ones stay, since a busy connection would otherwise pay a
 * page-faulting mmap/munmap per round trip. */
void sk_ring_drained(const sk_stack *s, sk_ring *r);

/* Out-of-order receive queue: non-overlapping, sorted segments of data
 * beyond RCV.NXT (RFC 9293 §3.10.7.4 allows keeping them; SACK reports
 * them, RFC 2018). */
typedef struct sk_ooo_seg {
    struct sk_ooo_seg *next;
    uint32_t seq;
    uint32_t len;
    uint32_t truesize; /* what Linux would charge this skb against sk_rcvbuf (rcvbuf.c) */
    bool fin; /* a FIN follows the last byte */
    uint8_t data[];
} sk_ooo_seg;

/* ------------------------------------------------------------------ */
/* Connection (TCB)                                                     */
/* ------------------------------------------------------------------ */

enum sk_tcb_flag {
    SK_F_ORPHAN = 1u << 0,        /* close() called: no handle any more */
    SK_F_SHUT_RD = 1u << 1,
    SK_F_SHUT_WR = 1u << 2,       /* FIN queued after the send queue */
    SK_F_FIN_SENT = 1u << 3,
    SK_F_FIN_RCVD = 1u << 4,
    SK_F_NODELAY = 1u << 5,
    SK_F_KEEPALIVE = 1u << 6,
    SK_F_REUSEADDR = 1u << 7,
    SK_F_LINGER = 1u << 8,
    SK_F_TS_OK = 1u << 9,         /* timestamps negotiated */
    SK_F_SACK_OK = 1u << 10,
    SK_F_WS_OK = 1u << 11,
    SK_F_BOUND = 1u << 12,        /* has a local port (bind or autobind) */
    SK_F_USER_BOUND = 1u << 13,   /* bind() called */
    SK_F_HASHED = 1u << 14,       /* in the connection table */
    SK_F_ACK_NOW = 1u << 15,      /* an ACK must go out this run */
    SK_F_IN_RECOVERY = 1u << 16,  /* fast recovery (NewReno) */
    SK_F_CORK = 1u << 17,
    SK_F_CONNECTING = 1u << 18,   /* connect() in progress (Linux SS_CONNECTING) */
    SK_F_RTT_PENDING = 1u << 19,  /* timing rtt_seq (no timestamps) */
    SK_F_PERSIST = 1u << 20,      /* zero-window probing */
    SK_F_WAS_ESTABLISHED = 1u << 21,
    SK_F_REUSEPORT = 1u << 22,
    SK_F_LOSS_RECOVERY = 1u << 23, /* after an RTO: resending below snd_nxt (rtx_nxt) */
    SK_F_REO_ARMED = 1u << 24,    /* rto_at holds the RACK reordering deadline (RFC 8985 §6.2) */
    SK_F_PINGPONG = 1u << 25,     /* interactive: delay ACKs (Linux pingpong mode) */
    SK_F_CONNECTED = 1u << 26,    /* connect() reported success (SS_CONNECTED) */
    SK_F_SNDBUF_LOCK = 1u << 27,  /* SO_SNDBUF set: no autotuning */
    SK_F_TLP_ARMED = 1u << 28,    /* rto_at holds a loss-probe deadline (RFC 8985 §7) */
    SK_F_TLP_RETRANS = 1u << 29,  /* the probe retransmitted (not new data) */
    SK_F_FIN_ALONE = 1u << 30,    /* the FIN went out in a segment of its own */
    SK_F_CWND_LIMITED = 1u << 31, /* the window in use was cwnd-limited (Linux is_cwnd_limited) */
};

struct sk_listen_queue;

typedef struct sk_sack_range {
    uint32_t start, end;
} sk_sack_range;

/* One transmitted segment of a SACK connection with its scoreboard bits,
 * as Linux keeps them per skb (TCPCB_SACKED_ACKED, TCPCB_LOST,
 * TCPCB_SACKED_RETRANS, TCPCB_EVER_RETRANS) and its last transmission time
 * for RACK (RFC 8985 §5.2). */
typedef struct sk_txseg {
    uint32_t seq, end; /* end includes a FIN */
    uint32_t xmit_us;  /* sk_us_now() of the last (re)transmission */
    uint8_t flags;     /* SK_TX_* */
} sk_txseg;

/* SK_TX_PSH: the record went out with PSH, which Linux keeps in the skb
 * (tcp_mark_push) and so sends again on a retransmission of its end. */
enum { SK_TX_SACKED = 1, SK_TX_LOST = 2, SK_TX_RETRANS = 4, SK_TX_EVER_RETRANS = 8, SK_TX_PSH = 16 };

/* RACK-TLP loss detection and PRR state (rack.c), allocated when a SACK
 * connection first sends data. */
typedef struct sk_rack {
    sk_txseg *segs;      /* ring, in sequence order, from SND.UNA */
    uint32_t head, n, cap;
    uint32_t xmit_us, end_seq, rtt_us; /* RACK.xmit_ts, RACK.end_seq, RACK.rtt */
    bool valid, advanced;
    bool retrans_acked; /* the last cumulative ACK covered resent data (FLAG_RETRANS_DATA_ACKED) */
    uint16_t sacked_out, lost_out, retrans_out;
    uint16_t reordering;  /* Linux tp->reordering, in segments */
    uint32_t reord_seen;
    uint32_t prior_cwnd, prr_delivered, prr_out; /* RFC 6937 */
    /* D-SACK undo (RFC 2883 §4, Linux's undo_marker/undo_retrans): the
     * recovery's reduction is undone once every retransmission of it was
     * reported duplicate. */
    uint32_t undo_marker, prior_ssthresh;
    int32_t undo_retrans; /* -1: nothing resent yet (Linux avoids 0, "can undo now") */
    bool undo_set;
    bool dsack_ok; /* this ACK's first block is a D-SACK worth believing */
    uint32_t dsack_dups; /* tcpi_dsack_dups */
    sk_txseg inline_segs[4]; /* a short flight needs no second allocation */
} sk_rack;

/* Per-connection state most connections never need, allocated on first
 * use (sk_tcb_ext_get) and freed with the tcb: the MSG_EOR record ends of
 * the send queue, and two rarely set socket options.  Those options moved
 * here from sk_tcb to make room for this pointer, since sk_tcb must stay
 * within its 456-byte malloc class: a connection that never uses MSG_EOR,
 * SO_LINGER or TCP_NOTSENT_LOWAT pays 8 bytes for the pointer and no more.
 * (Hanging the records off sk_rack instead would tie them to SACK.) */
typedef struct sk_tcb_ext {
    int32_t linger_s;       /* SO_LINGER seconds, -1 unset */
    uint32_t notsent_lowat; /* TCP_NOTSENT_LOWAT, 0 = the sysctl */
    /* Linux's skb eor bits (tcp_sendmsg_locked sets TCP_SKB_CB(skb)->eor
     * when a MSG_EOR write completes): the sequence numbers where such a
     * record ends, ascending, all above SND.UNA once trimmed; the live
     * entries are eor[eor_head .. eor_head + eor_n). */
    uint32_t *eor;
    uint32_t eor_head, eor_n, eor_cap;
    /* TCP_CHRONO_RWND_LIMITED, kept as busy_mark is; here because only a
     * connection the peer's window ever held back needs it. */
    uint32_t rwnd_limited_mark;
    /* TCP_FASTOPEN (Linux's fastopenq.max_qlen) and TCP_FASTOPEN_KEY, set
     * on a socket before or after listen() (fastopen.c): allocated when
     * set, so the many connections that need an ext for other reasons do
     * not carry a listener's keys. */
    struct sk_fo_listen *fo;
    /* Receive-buffer autotuning (rcvbuf.c), Linux's rcvq_space and
     * rcv_rtt_est: here because only a connection that receives data with
     * autotuning on needs them.  Times are sk_us_now() values;
     * rcv_rtt_us is scaled by 8 as Linux keeps it; rcvq_space 0 means
     * not started. */
    uint32_t rcvq_space, rcvq_seq, rcvq_time;
    uint32_t rcv_rtt_us, rcv_rtt_seq, rcv_rtt_time, rcv_rtt_last_tsecr;
    /* The SACK blocks we send (RFC 2018 §4): most recent first, as Linux's
     * selective_acks[]; and a pending D-SACK block (RFC 2883), sent once
     * before them (duplicate_sack[]).  Here because only a connection that
     * receives out-of-order or duplicate data needs them: in sk_tcb they
     * cost every idle connection 48 bytes and a malloc size class. */
    sk_sack_block rx_sack[SK_SACK_MAX_BLOCKS];
    sk_sack_block rx_dsack;
    uint8_t rx_sack_n;
    bool rx_dsack_set;
    /* TCP_USER_TIMEOUT in ms, 0 unset (here since delivered took its
     * place in sk_tcb: few sockets set it). */
    uint32_t user_timeout_ms;
    /* Path MTU state (pmtu.c, icmp.h): only a connection that learned a
     * path MTU, set an IP-level option or probes the MTU carries it. */
    struct sk_pmtu_conn *pm;
    /* IPv6 (addr.c, output.c): IPV6_TCLASS and IPV6_UNICAST_HOPS plus
     * one (0: unset), and how often an RTO re-chose the flow label
     * (Linux's sk_rethink_txhash): here because few sockets set them and
     * only a connection that timed out changes its label. */
    uint16_t tclass1, hops1;
    uint8_t txhash_gen;
} sk_tcb_ext;

typedef struct sk_tcb {
    struct sk_tcb *hnext; /* connection-table chain */
    sk_timer timer;       /* armed at the earliest of the deadlines below */

    uint32_t laddr, raddr;
    uint16_t lport, rport;
    int fd; /* -1 once orphaned */
    uint8_t state;
    uint8_t snd_wscale : 4;      /* <= 14 (RFC 7323 §2.3: larger values are used as 14) */
    uint8_t tfo_client_fail : 2; /* tcpi_fastopen_client_fail: Linux's TFO_* fail codes 0..3 */
    /* IPv6 (addr.c): laddr/raddr are handles into the stack's table of
     * IPv6 addresses rather than IPv4 addresses; and the socket is
     * AF_INET6 (so an IPv4 peer shows as ::ffff:a.b.c.d).  Read the
     * addresses through the accessors of addr.c, never raw. */
    uint8_t af6 : 1;
    uint8_t sock6 : 1;
    uint8_t rcv_wscale;
    uint8_t backoff;        /* RTO exponent */
    uint8_t retransmits;    /* consecutive timeouts of the head segment */
    uint8_t probes_out;     /* keepalive or zero-window probes unanswered */
    uint8_t quickack : 6;   /* segments still to ACK at once (Linux quickack mode, <= 16) */
    uint8_t tail_push : 1;  /* the unsent tail "skb" carries PSH (Linux tcp_mark_push) */
    uint8_t cc_reno : 1;    /* congestion control is Reno; CUBIC otherwise (cc.c) */
    uint8_t dupacks;
    uint32_t flags;

    /* send sequence space (RFC 9293 §3.3.1) */
    uint32_t iss, snd_una, snd_nxt, snd_wnd, snd_wl1, snd_wl2, max_window; /* snd_nxt never moves back */
    uint32_t snd_sml; /* end of the last sub-MSS segment sent (Minshall) */
    uint32_t rtx_nxt; /* after an RTO: next sequence to resend (snd_nxt never moves back) */
    uint32_t tail_start; /* where the unsent tail "skb" of the send queue begins (sk_send) */
    uint32_t skb_base;   /* unsent "skbs" start at skb_base + k * size goal */
    uint32_t tlp_high_seq; /* snd_nxt when a tail loss probe went out, 0 if none */
    uint32_t high_rxt;     /* SACK recovery: holes below this were resent (RFC 6675 HighRxt) */
    uint32_t sacked_bytes; /* bytes the peer SACKed above snd_una */
    uint16_t sack_n, sack_cap;
    sk_sack_range *sack_rb; /* the scoreboard (sack.c), NULL without holes */
    /* receive sequence space */
    uint32_t rcv_nxt, rcv_wnd, rcv_wup, rcv_ssthresh, window_clamp;

    uint16_t mss;      /* effective send MSS (payload bytes, options excluded) */
    uint16_t advmss;   /* MSS we announced */
    uint16_t peer_mss; /* MSS the peer announced (536 if none) */
    uint16_t user_mss; /* TCP_MAXSEG, 0 if unset */
    uint16_t rcv_mss;  /* estimate of the peer's segment size */
    uint8_t keepcnt, syn_retries; /* TCP_KEEPCNT, TCP_SYNCNT; 0 = the sysctl */

    uint32_t ts_recent, ts_recent_stamp_s, ts_off;
    uint32_t ato_us; /* delayed-ACK timeout; 0 until data arrives (Linux icsk_ack.ato) */

    /* RTT estimation, RFC 6298, in microseconds (srtt_us scaled by 8 and
     * mdev_us by 4 as Linux keeps them). */
    uint32_t srtt_us, mdev_us, rttvar_us, rto_us, min_rtt_us;
    uint32_t rtt_seq;
    uint32_t rtt_start; /* µs clock, low 32 bits (sk_us_now) */

    /* congestion control (cc.c: Reno or CUBIC, NewReno/SACK recovery) */
    uint32_t cwnd, ssthresh, cwnd_cnt, recover;
    uint32_t cwnd_usage_seq;  /* end of the window whose cwnd use is tracked */
    uint16_t max_packets_out; /* most segments in flight in that window */
    int16_t so_error;         /* pending error, positive errno */
    /* Linux's tp->delivered (tcpi_delivered): segments the peer has
     * acknowledged, cumulatively or by SACK, each counted once in MSS-sized
     * units, plus one for the handshake and one per D-SACK (tcp_ack,
     * tcp_sacktag_write_queue, tcp_rcv_state_process).  It took the slot
     * of user_timeout_ms, which moved to sk_tcb_ext (rarely set). */
    uint32_t delivered;

    /* deadlines (absolute ns, 0 when idle); the timer is armed at the min */
    sk_time_ns rto_at, delack_at, keepalive_at;
    sk_stamp retrans_stamp;    /* first transmission of the oldest unacked */
    sk_stamp probes_stamp;     /* first zero-window/persist probe (Linux icsk_probes_tstamp) */
    sk_stamp lrcvtime, last_ack_recv, last_data_recv;
    sk_stamp last_data_sent; /* Linux's lsndtime: data only, so pure ACKs do not end idleness */
    int8_t fin_timeout_s;  /* TCP_LINGER2, -1 = sysctl, -2 = reset instead (Linux caps it at 120) */
    uint8_t sndstate;      /* SK_SND_*: send-buffer wakeup and chrono state */
    uint8_t ecn;           /* SK_ECN_*: RFC 3168 state, Linux's tp->ecn_flags (fills a padding byte) */
    /* Fast Open state (fastopen.c): its byte, and tfo_client_fail's two
     * bits beside snd_wscale, come from fin_timeout_s (120 fits a byte)
     * and snd_wscale (14 fits four bits), so sk_tcb stays at 456 bytes. */
    uint8_t tfo; /* SK_TFO_* */
    /* Linux's sk_rmem_alloc for the in-order queue: the truesize of the
     * skbs Linux would hold for rcvq's bytes (rcvbuf.c); fills padding. */
    uint32_t rcvq_truesize;

    sk_ring sndq; /* bytes from snd_una on, sent and unsent */
    sk_ring rcvq; /* in-order bytes not yet read */
    sk_ooo_seg *ooo;
    /* CUBIC's per-connection state (cc.c), allocated on the first ACK of
     * data so idle and Reno connections carry only this pointer. */
    struct sk_cubic *cubic;

    /* socket options */
    uint32_t sndbuf, rcvbuf; /* sndbuf: Linux's sk_sndbuf, grown only by tcp_sndbuf_expand */
    sk_rack *rack; /* SACK connections that sent data (rack.c) */
    struct sk_tcb_ext *ext; /* rarely needed state, NULL until used (sk_tcb_ext) */
    uint32_t total_retrans; /* TCP_INFO */
    /* Linux's chrono_stat, in ms (jiffies at HZ=1000): while the chrono
     * runs (SK_SND_BUSY / SK_SND_LIMITED) the mark is now minus the time
     * accumulated; while stopped it is the accumulated time. */
    uint32_t busy_mark;

    union {
        struct sk_listen_queue *listen; /* LISTEN sockets */
        struct {
            struct sk_tcb *parent;  /* listener, while on its accept queue */
            struct sk_tcb *aq_next;
        };
    };

    /* TCP_INFO statistics */
    uint64_t bytes_sent, bytes_acked, bytes_received, bytes_retrans;
    uint32_t segs_in, segs_out, data_segs_in, data_segs_out;
    uint32_t sndbuf_limited_mark; /* TCP_CHRONO_SNDBUF_LIMITED, as busy_mark */
    uint16_t keepidle_s, keepintvl_s; /* at most 32767, as Linux's MAX_TCP_KEEPIDLE */
} sk_tcb;

static inline uint32_t sk_user_timeout_ms(const sk_tcb *t) { return t->ext ? t->ext->user_timeout_ms : 0; }

/* sk_tcb.tfo: Linux's tcp_sock Fast Open bits */
enum {
    SK_TFO_CHILD = 1u << 0,     /* passive child before the handshake's ACK (tp->fastopen_rsk) */
    SK_TFO_SYN_DATA_ACKED = 1u << 1, /* data in the SYN was taken (tp->syn_data_acked): TCPI_OPT_SYN_DATA */
    SK_TFO_CONNECT = 1u << 2,   /* TCP_FASTOPEN_CONNECT (tp->fastopen_connect) */
    SK_TFO_NO_COOKIE = 1u << 3, /* TCP_FASTOPEN_NO_COOKIE (tp->fastopen_no_cookie) */
    SK_TFO_DEFER = 1u << 4,     /* connect() deferred to the first write (DEFER_CONNECT) */
    SK_TFO_SYN_DATA = 1u << 5,  /* our SYN carried data (tp->syn_data) */
    SK_TFO_SYN_FASTOPEN = 1u << 6, /* our SYN carried a Fast Open option (tp->syn_fastopen) */
    SK_TFO_SYN_EXP = 1u << 7,   /* ... in the experimental encoding (tp->syn_fastopen_exp) */
};
/* tcpi_fastopen_client_fail values (Linux's enum tfo_client_fail) */
enum { SK_TFO_STATUS_UNSPEC = 0, SK_TFO_COOKIE_UNAVAILABLE = 1, SK_TFO_DATA_NOT_ACKED = 2, SK_TFO_SYN_RETRANSMITTED = 3 };

/* sk_tcb.sndstate */
enum {
    SK_SND_NOSPACE = 1u << 0, /* Linux's SOCK_NOSPACE: a write or poll found no room */
    SK_SND_BUSY = 1u << 1,    /* the busy chrono runs (data queued) */
    SK_SND_LIMITED = 1u << 2, /* the sndbuf-limited chrono runs */
    SK_SND_RWND = 1u << 3,    /* the rwnd-limited chrono runs (mark in sk_tcb_ext) */
    /* Not a send state: SO_RCVBUF was set (Linux's SOCK_RCVBUF_LOCK), so
     * no autotuning and the window is clamped to the buffer.  Kept here
     * because `flags` has no bit left. */
    SK_RCVBUF_LOCK = 1u << 4,
    SK_RECV_INQ = 1u << 5, /* TCP_INQ: recvmsg reports TCP_CM_INQ */
    SK_SOCK_V6ONLY = 1u << 6, /* IPV6_V6ONLY (Linux's sk_ipv6only), here for want of a flag bit */
    /* Not a send state either: a caller blocks waiting for the handshake
     * (sk_write_waiting; Linux's sk_write_pending), with the same excuse. */
    SK_SND_WRITE_PENDING = 1u << 7,
};

/* sk_tcb.ecn: Linux's ecn_flags bits, plus the CWR congestion state
 * (TCP_CA_CWR), which has no room in `flags`. */
enum {
    SK_ECN_OK = 1u << 0,         /* negotiated (TCP_ECN_OK) */
    SK_ECN_QUEUE_CWR = 1u << 1,  /* set CWR on the next new data segment (TCP_ECN_QUEUE_CWR) */
    SK_ECN_DEMAND_CWR = 1u << 2, /* CE seen: echo ECE until CWR arrives (TCP_ECN_DEMAND_CWR) */
    SK_ECN_SEEN = 1u << 3,       /* an ECT or CE segment arrived (TCP_ECN_SEEN) */
    SK_ECN_CWR_STATE = 1u << 4,  /* in TCP_CA_CWR: cwnd reduced by PRR until SND.UNA passes `recover` */
};

/* IP ECN codepoints (RFC 3168 §5), the low two bits of the TOS byte. */
enum { SK_IP_ECN_NOT_ECT = 0, SK_IP_ECN_ECT1 = 1, SK_IP_ECN_ECT0 = 2, SK_IP_ECN_CE = 3, SK_IP_ECN_MASK = 3 };

/* ------------------------------------------------------------------ */
/* Listener: SYN queue of request records and the accept queue          */
/* ------------------------------------------------------------------ */

typedef struct sk_request {
    struct sk_request *hnext; /* listener's SYN-queue hash chain */
    sk_timer timer;           /* SYN-ACK retransmission */
    struct sk_tcb *listener;
    uint32_t raddr;           /* IPv4 address, or an IPv6 handle with SK_REQ_V6 (addr.c) */
    uint16_t rport;
    uint16_t mss;             /* peer MSS clamped with ours */
    uint32_t iss, irs;
    uint32_t ts_recent;       /* the timestamp offset is recomputed (sk_ts_offset) */
    uint8_t snd_wscale : 4, rcv_wscale : 4; /* <= 14 each */
    uint8_t opts;             /* SK_REQ_* */
    uint8_t retrans;
    /* The local address, as its index among the stack's (a request is
     * only made for a SYN to one of them; sk_stack_del_addr renumbers or
     * drops the requests): a byte where the address would take four, so
     * a request stays at 64 bytes. */
    uint8_t lidx;
} sk_request;

enum { SK_REQ_TS = 1, SK_REQ_SACK = 2, SK_REQ_WS = 4, SK_REQ_ACKED = 8, SK_REQ_ECN = 16, SK_REQ_V6 = 32 };

typedef struct sk_listen_queue {
    sk_request **syn_buckets;
    uint32_t syn_mask;
    uint32_t syn_count;
    uint32_t backlog;         /* accept-queue limit: min(backlog, somaxconn) */
    uint32_t aq_len;
    sk_tcb *aq_head, *aq_tail;
    /* --- SYN cookies (listen.c, syncookie.c; owner: flood) --- */
    sk_time_ns synflood_warn_after; /* next "Possible SYN flooding" message allowed */
    /* --- end SYN cookies --- */
    uint32_t fo_qlen; /* Fast Open children not yet past the handshake's ACK (fastopenq.qlen) */
} sk_listen_queue;

/* ------------------------------------------------------------------ */
/* TIME_WAIT records (timewait.c)                                       */
/* ------------------------------------------------------------------ */

/* Record indices are 24 bits (16.7 million records): the room the local
 * address needed came from the three links, so an IPv4 record stays at
 * 44 bytes. */
#define SK_TW_NONE 0xffffffu

typedef struct sk_tw {
    uint32_t laddr, raddr;       /* IPv4 addresses, or IPv6 handles when v6 (addr.c) */
    uint16_t lport, rport;
    uint32_t snd_nxt, rcv_nxt;
    uint32_t ts_recent, ts_recent_stamp_s; /* the timestamp offset is recomputed */
    uint32_t expires_ms;         /* absolute ms since the stack's epoch */
    uint32_t hnext : 24;         /* hash chain, by index */
    uint32_t substate : 4;       /* SK_TCP_TIME_WAIT or SK_TCP_FIN_WAIT2; 0 when free */
    uint32_t ts_ok : 1;
    uint32_t v6 : 1;             /* the addresses are IPv6 handles */
    uint32_t sock6 : 1;          /* the socket was AF_INET6 */
    uint32_t qprev : 24;         /* expiry FIFO, by index */
    uint32_t wnd_hi : 8;         /* the raw window field to advertise, in two halves */
    uint32_t qnext : 24;
    uint32_t wnd_lo : 8;
} sk_tw; /* 44 bytes */

static inline uint16_t sk_tw_rcv_wnd(const sk_tw *w) { return (uint16_t)(w->wnd_hi << 8 | w->wnd_lo); }
static inline void sk_tw_set_rcv_wnd(sk_tw *w, uint16_t v)
{
    w->wnd_hi = v >> 8;
    w->wnd_lo = v & 0xff;
}

/* Records live in fixed chunks so that growing never copies or leaves a
 * doubling's worth of slack: 10 million records cost 44 bytes each plus
 * the hash heads. */
#define SK_TW_CHUNK_BITS 14
#define SK_TW_CHUNK (1u << SK_TW_CHUNK_BITS)

typedef struct sk_tw_table {
    sk_tw **chunks;
    uint32_t nchunks, chunks_cap;
    uint32_t count, free_head;
    uint32_t *buckets;
    uint32_t mask;
    /* two FIFOs, because every record of a substate lives equally long */
    uint32_t q_head[2], q_tail[2];
} sk_tw_table;

static inline sk_tw *sk_tw_at(const sk_tw_table *tw, uint32_t i)
{
    return &tw->chunks[i >> SK_TW_CHUNK_BITS][i & (SK_TW_CHUNK - 1)];
}

/* ------------------------------------------------------------------ */
/* Port bookkeeping for bind() conflicts (Linux's bind buckets)          */
/* ------------------------------------------------------------------ */

typedef struct sk_bind_bucket {
    struct sk_bind_bucket *next;
    uint16_t port;
    uint16_t listeners;
    uint32_t refs;     /* sockets with this local port */
    uint32_t noreuse;  /* of which without SO_REUSEADDR */
    uint32_t user_bound; /* of which bound with bind() (not autobind) */
    uint32_t tw;       /* TIME_WAIT records on this port */
} sk_bind_bucket;

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
} sk_recycle_bin;

#define SK_RECYCLE_MAX 4096 /* objects kept per kind; the rest go back to malloc */

void *sk_recycle_take(const sk_stack *s, sk_recycle_bin *bin, size_t size);
void sk_recycle_give(const sk_stack *s, sk_recycle_bin *bin, void *obj);
void sk_recycle_empty(const sk_stack *s, sk_recycle_bin *bin);

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

#define SK_MAX_LOCAL_ADDRS 255 /* indices fit sk_request's byte */

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
    uint32_t offloads; /* SK_OFFLOAD_* of the link */
    char name[48];
    sk_transmit_fn transmit;
    void *transmit_ctx;
    sk_event_fn on_event;
    void *event_ctx;
    uint32_t event_mask; /* SK_EVMASK bits on_event takes (sk_wants) */

    sk_time_ns now;
    sk_time_ns epoch; /* creation time; TW expiries are ms from here */
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
    sk_bind_bucket **bind_buckets; /* chained hash by port, grows with use */
    uint32_t bind_mask, bind_count;
    uint32_t fd_hint; /* no free handle below this one */

    sk_tw_table tw;
    uint32_t orphans;
    uint32_t requests; /* total SYN_RECV records */
    uint32_t challenge_acks_this_sec;
    uint32_t challenge_ack_sec;
    uint32_t tw_isn; /* ISN for a SYN that reopens a TIME_WAIT tuple, 0 if none */
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
    struct sk_fo_state *fo; /* Fast Open client cache and blackhole state (fastopen.c), on first use */
    /* ICMP and path MTU (icmp.c, pmtu.c): the per-destination cache,
     * allocated on first use, and Linux's global ICMP token bucket. */
    struct sk_peer_cache *peers;
    uint32_t icmp_credit;
    sk_stamp icmp_stamp;
    bool xmit_no_df; /* the segment being sent goes without DF (IP_PMTUDISC_DONT, a locked MTU) */

    uint8_t *seg_scratch; /* payload gathered from a send ring (output.c) */
    uint32_t seg_scratch_cap;
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

/* The stack's allocator (sk_stack_params.mem); no core file calls the C
 * library's allocator directly. */
static inline void *sk_malloc(const sk_stack *s, size_t n) { return s->mem.malloc(n, s->mem.user); }
static inline void *sk_calloc(const sk_stack *s, size_t n, size_t size) { return s->mem.calloc(n, size, s->mem.user); }
static inline void *sk_realloc(const sk_stack *s, void *p, size_t n) { return s->mem.realloc(p, n, s->mem.user); }
static inline void sk_free(const sk_stack *s, void *p) { s->mem.free(p, s->mem.user); }

/* addr.c */
/* ::ffff:a.b.c.d (RFC 4291 §2.5.5.2) */
static inline bool sk_addr6_is_v4mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}
static inline uint32_t sk_addr6_v4(const uint8_t a[16])
{
    return (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
}
uint32_t sk_addr6_intern(sk_stack *s, const uint8_t a[16]); /* a new reference; 0 when out of memory */
void sk_addr6_format(const uint8_t a[16], char *buf, size_t len); /* RFC 5952 text */
uint32_t sk_addr6_find(const sk_stack *s, const uint8_t a[16]); /* no reference; 0 if absent */
void sk_addr6_hold(sk_stack *s, uint32_t h);
void sk_addr6_put(sk_stack *s, uint32_t h);
const uint8_t *sk_addr6_get(const sk_stack *s, uint32_t h);
void sk_addr6_destroy(sk_stack *s);
/* Reference counting of an address of either family: nothing for IPv4
 * or handle 0. */
static inline void sk_addr_hold(sk_stack *s, bool v6, uint32_t a)
{
    if (v6 && a)
        sk_addr6_hold(s, a);
}
static inline void sk_addr_put(sk_stack *s, bool v6, uint32_t a)
{
    if (v6 && a)
        sk_addr6_put(s, a);
}
/* Is this a local address of the stack (a handle for IPv6)? */
bool sk_addr_is_local_slow(const sk_stack *s, bool v6, uint32_t a);
/* Its index among the stack's addresses (SK_MAX_LOCAL_ADDRS if none). */
uint32_t sk_local_index(const sk_stack *s, bool v6, uint32_t a);
/* The demultiplexing key of an arriving segment; false when an IPv6
 * address in it is in no table, so nothing of ours can match. */
bool sk_seg_key6(const sk_stack *s, const sk_segment *seg, sk_key *k);
/* The same, interning the addresses: the key then holds a reference to
 * each (release with sk_key_put); false when out of memory. */
bool sk_seg_key_intern(sk_stack *s, const sk_segment *seg, sk_key *k);
void sk_key_put(sk_stack *s, const sk_key *k);
static inline sk_key sk_tcb_key(const sk_tcb *t)
{
    return (sk_key){.laddr = t->laddr, .raddr = t->raddr, .lport = t->lport, .rport = t->rport, .v6 = t->af6};
}
/* An endpoint from an address as stored: IPv6 when v6, an IPv4-mapped
 * IPv6 address when `mapped` (an AF_INET6 socket's IPv4 peer), else IPv4. */
void sk_addr_endpoint_slow(const sk_stack *s, bool v6, bool mapped, uint32_t a, uint16_t port, sk_endpoint *ep);

/* Sets a socket's addresses, holding new references and dropping old ones. */
void sk_tcb_set_laddr(sk_stack *s, sk_tcb *t, bool v6, uint32_t a);
void sk_tcb_set_raddr(sk_stack *s, sk_tcb *t, bool v6, uint32_t a);
void sk_tcb_put_addrs(sk_stack *s, sk_tcb *t);
/* Routes for what we send: a connection's, a reply to a segment. */
void sk_route_tcb6(const sk_stack *s, const sk_tcb *t, sk_route *r);
void sk_route_key6(const sk_stack *s, const sk_key *k, sk_route *r);
void sk_route_reply(const sk_segment *seg, sk_route *r);
uint32_t sk_auto_flowlabel(const sk_stack *s, const uint8_t src6[16], const uint8_t dst6[16], uint16_t sport,
                           uint16_t dport, uint32_t gen);
/* Source address selection for connect() (the address of the family
 * whose prefix matches the peer best, else the first); false if the
 * stack holds no address of the family. */
bool sk_select_saddr(const sk_stack *s, bool v6, uint32_t daddr, uint32_t *saddr);
/* Keyed values over a key's addresses of either family. */
uint32_t sk_key_isn(const sk_stack *s, const sk_key *k);
uint32_t sk_key_ts_off(const sk_stack *s, const sk_key *k);
/* The connection table's hash: the local address is left out (chains
 * are short and the compare checks it), so IPv4 keys hash as before the
 * stack had several addresses; IPv6 handles are set apart. */
static inline uint32_t sk_key_hash(const sk_key *k)
{
    uint64_t x = ((uint64_t)(k->raddr ^ (k->v6 ? 0x6a09e667u : 0)) << 32) | ((uint32_t)k->rport << 16) | k->lport;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}
static inline bool sk_key_eq(const sk_key *a, uint32_t laddr, uint32_t raddr, uint16_t lport, uint16_t rport,
                             bool v6)
{
    return a->raddr == raddr && a->rport == rport && a->lport == lport && a->laddr == laddr && a->v6 == v6;
}
/* The MSS the link allows for a family (Linux's tcp_mtu_to_mss at the
 * device MTU: 40 or 60 bytes of headers; IPv6 at least IPV6_MIN_MTU). */
static inline uint16_t sk_link_mss(const sk_stack *s, bool v6)
{
    if (!v6)
        return (uint16_t)(s->mtu - 40);
    /* An IPv6 link is at least IPV6_MIN_MTU (RFC 8200 §5). */
    return (uint16_t)((s->mtu < 1280 ? 1280 : s->mtu) - 60);
}

/* addr.c's accessors, with the IPv4 cases inline: they run for every
 * segment and event. */
static inline bool sk_addr_is_local(const sk_stack *s, bool v6, uint32_t a)
{
    if (!v6 && a && a == s->addr)
        return true;
    return sk_addr_is_local_slow(s, v6, a);
}

static inline bool sk_seg_key(const sk_stack *s, const sk_segment *seg, sk_key *k)
{
    if (seg->ip_version != 6) {
        *k = (sk_key){.laddr = seg->dst, .raddr = seg->src, .lport = seg->dport, .rport = seg->sport};
        return true;
    }
    return sk_seg_key6(s, seg, k);
}

static inline void sk_addr_endpoint(const sk_stack *s, bool v6, bool mapped, uint32_t a, uint16_t port,
                                    sk_endpoint *ep)
{
    if (!v6 && !mapped) {
        *ep = (sk_endpoint){.addr = a, .port = port, .family = SK_AF_INET};
        return;
    }
    sk_addr_endpoint_slow(s, v6, mapped, a, port, ep);
}

static inline void sk_tcb_local(const sk_stack *s, const sk_tcb *t, sk_endpoint *ep)
{
    sk_addr_endpoint(s, t->af6, t->sock6, t->laddr, t->lport, ep);
}

static inline void sk_tcb_remote(const sk_stack *s, const sk_tcb *t, sk_endpoint *ep)
{
    sk_addr_endpoint(s, t->af6, t->sock6, t->raddr, t->rport, ep);
}

/* sk_tcb_local for events and listings: an IPv4 socket on 0.0.0.0 shows
 * the stack's first address, as events did when the stack had one. */
static inline void sk_tcb_local_shown(const sk_stack *s, const sk_tcb *t, sk_endpoint *ep)
{
    sk_tcb_local(s, t, ep);
    if (!t->af6 && !t->sock6 && !t->laddr)
        ep->addr = s->addr;
}

static inline void sk_route_key(const sk_stack *s, const sk_key *k, sk_route *r)
{
    if (!k->v6) {
        *r = (sk_route){.src = k->laddr, .dst = k->raddr};
        return;
    }
    sk_route_key6(s, k, r);
}

static inline void sk_route_tcb(const sk_stack *s, const sk_tcb *t, sk_route *r)
{
    if (!t->af6) {
        *r = (sk_route){.src = t->laddr, .dst = t->raddr};
        return;
    }
    sk_route_tcb6(s, t, r);
}


/* icmp6.c: an ICMPv6 message (RFC 4443) for the stack */
void sk_icmp6_input(sk_stack *s, const uint8_t *dgram, size_t len, const sk_segment *seg);

/* stack.c */
void sk_emit(sk_stack *s, const sk_event *ev);

/* Whether an event of `type` has a consumer: build none otherwise. */
static inline bool sk_wants(const sk_stack *s, sk_event_type type)
{
    return s->on_event && (s->event_mask & SK_EVMASK(type));
}

/* What an event's endpoints are built from when sk_event_endpoints() asks
 * (ev->ep_.kind); `a` and `b` point at the emitter's data, alive for the
 * callback. */
enum {
    SK_EPK_NONE = 0,
    SK_EPK_GIVEN, /* a, b: const sk_endpoint * (sk_event_set_endpoints) */
    SK_EPK_TCB,   /* a: the stack, b: the sk_tcb (local as sk_tcb_local_shown) */
    SK_EPK_SEG,   /* a: an input sk_segment (local is its destination) */
    SK_EPK_ROUTE, /* a: an sk_route, with ep_.sport/dport */
    SK_EPK_ADDRS, /* a: the stack, b: an sk_ep_addrs */
};

/* Addresses as a table stores them (sk_addr_endpoint's arguments), for a
 * request, a TIME_WAIT record or a timer's key. */
typedef struct sk_ep_addrs {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    bool v6, mapped;
} sk_ep_addrs;

static inline void sk_event_ep(sk_event *ev, int kind, const void *a, const void *b)
{
    ev->ep_.kind = kind;
    ev->ep_.a = a;
    ev->ep_.b = b;
}
void sk_emit_state(sk_stack *s, sk_tcb *t, int from, int to, const char *cause);
void sk_emit_drop(sk_stack *s, const sk_segment *seg, sk_counter_id reason);
void sk_emit_timer(sk_stack *s, const sk_key *k, int fd, const char *timer);
#define sk_emit_tcb_timer(s, t, name)                                                                                  \
    do {                                                                                                               \
        sk_key tk_ = sk_tcb_key(t);                                                                                    \
        sk_emit_timer((s), &tk_, (t)->fd, (name));                                                                     \
    } while (0)
static inline void sk_count(sk_stack *s, sk_counter_id id) { s->counters[id]++; }
enum { SK_RTX_MIB_NONE, SK_RTX_MIB_FAST, SK_RTX_MIB_SLOW_START };
sk_tcb *sk_conn_lookup(sk_stack *s, const sk_key *k);
void sk_conn_hash(sk_stack *s, sk_tcb *t);
void sk_conn_unhash(sk_stack *s, sk_tcb *t);
/* The listener for a segment to (v6, daddr, lport): an exact address
 * before a wildcard, an AF_INET socket before a dual-stack one, as
 * Linux's compute_score ranks them. */
sk_tcb *sk_listener_lookup(sk_stack *s, bool v6, uint32_t daddr, uint16_t lport);
void sk_listener_hash(sk_stack *s, sk_tcb *t);
void sk_listener_unhash(sk_stack *s, sk_tcb *t);
sk_bind_bucket *sk_bind_bucket_get(sk_stack *s, uint16_t port, bool create);
void sk_bind_bucket_release(sk_stack *s, sk_bind_bucket *b);
void sk_port_ref(sk_stack *s, sk_tcb *t);
void sk_port_unref(sk_stack *s, sk_tcb *t);
sk_tcb *sk_tcb_alloc(sk_stack *s);
int sk_fd_install(sk_stack *s, sk_tcb *t);
sk_tcb *sk_fd_get(sk_stack *s, int fd);
void sk_tcb_set_state(sk_stack *s, sk_tcb *t, int state, const char *cause);
/* Ends a connection: state CLOSED, unhashed, timers off; frees the TCB
 * when it has no handle. */
void sk_tcb_done(sk_stack *s, sk_tcb *t, const char *cause);
/* The same without tcp_done()'s AttemptFails: the application closing or
 * disconnecting (tcp_set_state(TCP_CLOSE) from close(), shutdown()). */
void sk_tcb_close(sk_stack *s, sk_tcb *t, const char *cause);
void sk_tcb_free(sk_stack *s, sk_tcb *t);
void sk_notify(sk_stack *s, sk_tcb *t); /* readiness may have changed */

/* fastopen.c: TCP Fast Open (RFC 7413) as Linux's tcp_fastopen.c */
typedef struct sk_fo_cookie {
    int8_t len; /* -1 none, 0 request, else bytes */
    bool exp;
    uint8_t val[SK_TFO_COOKIE_MAX];
} sk_fo_cookie;
enum { SK_TFO_CLIENT_ENABLE = 1, SK_TFO_SERVER_ENABLE = 2, SK_TFO_CLIENT_NO_COOKIE = 4,
       SK_TFO_SERVER_COOKIE_NOT_REQD = 0x200, SK_TFO_SERVER_WO_SOCKOPT1 = 0x400 };
/* The cookie a key gives a client (Linux's __tcp_fastopen_cookie_gen_cipher). */
void sk_fastopen_cookie_gen(const uint8_t key[16], uint32_t saddr, uint32_t daddr, uint8_t out[8]);
/* For IPv6: SipHash over both 16-byte addresses, as Linux's __tcp_fastopen_cookie_gen_cipher. */
void sk_fastopen_cookie_gen6(const uint8_t key[16], const uint8_t saddr[16], const uint8_t daddr[16], uint8_t out[8]);
/* A SYN at a listener: returns true when a Fast Open child should take it
 * (Linux's tcp_try_fastopen before tcp_fastopen_create_child); `foc` ends
 * as the cookie the SYN-ACK carries (len -1: none). */
bool sk_fastopen_try(sk_stack *s, sk_tcb *l, const sk_segment *seg, sk_fo_cookie *foc);
/* The child was created (true) or could not be (false): counters and queue. */
void sk_fastopen_child_created(sk_stack *s, sk_tcb *l, bool ok, bool alt_key, sk_fo_cookie *foc);
/* A Fast Open child leaves SYN_RECV or dies: its listener's pending count drops. */
void sk_fastopen_child_done(sk_stack *s, sk_tcb *t);
void sk_fastopen_listen(sk_stack *s, sk_tcb *t, int backlog, bool was_listening);
int sk_fastopen_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len);
int sk_fastopen_getsockopt(sk_stack *s, sk_tcb *t, int name, void *val, size_t *len);
/* Client: the cookie to put in our SYN for t's destination; false when
 * the SYN should go without data (Linux's tcp_fastopen_cookie_check). */
bool sk_fastopen_cookie_check(sk_stack *s, sk_tcb *t, sk_fo_cookie *foc);
/* Client: a SYN-ACK arrived for a SYN that asked or used a cookie
 * (Linux's tcp_rcv_fastopen_synack); returns true when the SYN's data
 * must be sent again. */
bool sk_fastopen_synack(sk_stack *s, sk_tcb *t, const sk_segment *seg);
/* Client: our SYN timed out (tcp_fastopen_active_detect_blackhole and the
 * cookie cache's syn_loss). */
void sk_fastopen_syn_timeout(sk_stack *s, sk_tcb *t, bool expired);
uint16_t sk_fastopen_cached_mss(sk_stack *s, const sk_tcb *t);
void sk_fastopen_cache_flush(sk_stack *s, uint32_t daddr, bool all);
void sk_fastopen_free(sk_stack *s);
/* A key for the stack: the sysctl's, or one made once from the stack's secret. */
const uint8_t *sk_fastopen_stack_key(sk_stack *s, int *count);

/* input.c */
void sk_init_transfer(sk_stack *s, sk_tcb *t);
void sk_tcb_input(sk_stack *s, sk_tcb *t, const sk_segment *seg);
/* Effective send MSS from the peer's MSS, our MTU, TCP_MAXSEG and the
 * timestamp option (Linux tcp_sync_mss). */
void sk_set_send_mss(sk_stack *s, sk_tcb *t);
bool sk_paws_reject(const sk_tcb *t, const sk_segment *seg, sk_time_ns now);

/* output.c */
typedef struct sk_out_opts {
    bool syn;        /* SYN or SYN-ACK option block */
    uint16_t mss;
    bool ws, sack_perm, ts;
    uint8_t wscale;
    uint32_t ts_val, ts_ecr;
    uint8_t sack_count;
    sk_sack_block sack[SK_SACK_MAX_BLOCKS];
    /* A Fast Open option after all others (Linux's tcp_options_write):
     * kind 34, or 254 with its magic when fo_exp; fo_len 0 asks for a
     * cookie. */
    bool fo, fo_exp;
    uint8_t fo_len;
    const uint8_t *fo_cookie;
} sk_out_opts;
size_t sk_build_options(const sk_out_opts *o, uint8_t *buf);
void sk_xmit(sk_stack *s, const sk_route *rt, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
             uint16_t flags, uint16_t win, const uint8_t *opts, size_t optlen, const uint8_t *payload,
             size_t plen);
/* sk_xmit with an IP TOS byte (the ECN field, RFC 3168 §5). */
void sk_xmit_tos(sk_stack *s, uint8_t tos, const sk_route *rt, uint16_t sport, uint16_t dport, uint32_t seq,
                 uint32_t ack, uint16_t flags, uint16_t win, const uint8_t *opts, size_t optlen,
                 const uint8_t *payload, size_t plen);
void sk_tcp_output(sk_stack *s, sk_tcb *t);
void sk_send_ack(sk_stack *s, sk_tcb *t);
void sk_send_challenge_ack(sk_stack *s, sk_tcb *t, bool syn);
void sk_send_syn(sk_stack *s, sk_tcb *t);
void sk_send_active_rst(sk_stack *s, sk_tcb *t);
void sk_send_probe(sk_stack *s, sk_tcb *t);
void sk_write_wakeup(sk_stack *s, sk_tcb *t);
void sk_reply_rst(sk_stack *s, const sk_segment *seg);
uint32_t sk_tcp_time_ms(const sk_stack *s);
uint16_t sk_select_window(sk_stack *s, sk_tcb *t);
/* The window we would offer now (Linux's __tcp_select_window), bytes. */
uint32_t sk_compute_window(sk_stack *s, sk_tcb *t);
uint32_t sk_receive_space(const sk_stack *s, const sk_tcb *t);
uint32_t sk_win_from_space(const sk_stack *s, uint32_t space);

/* rcvbuf.c: the receive-buffer memory model (Linux's sk_rmem_alloc
 * against sk_rcvbuf, tcp_grow_window, tcp_rcv_space_adjust, pruning). */
uint32_t sk_rcv_truesize(uint32_t len);
void sk_meminfo(const sk_tcb *t, uint32_t out[SK_MEMINFO_VARS]);
uint32_t sk_rmem_alloc(const sk_tcb *t);
uint32_t sk_full_space(const sk_stack *s, const sk_tcb *t);
uint32_t sk_rcv_initial_clamp(const sk_stack *s, const sk_tcb *t, uint32_t user_clamp);
bool sk_rmem_schedule(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len, uint32_t truesize);
void sk_rcvq_charge(sk_tcb *t, uint32_t truesize);
void sk_rcvq_uncharge(sk_tcb *t, uint32_t consumed, uint32_t before);
void sk_grow_window(sk_stack *s, sk_tcb *t, uint32_t len, uint32_t truesize);
void sk_rcvbuf_established(sk_stack *s, sk_tcb *t);
void sk_rcv_rtt_on_data(sk_stack *s, sk_tcb *t, const sk_segment *seg, uint32_t len);
void sk_rcv_space_adjust(sk_stack *s, sk_tcb *t);
uint32_t sk_rcvq_space(const sk_tcb *t);
void sk_init_rcv_window(sk_stack *s, uint32_t rcvbuf, uint16_t mss, bool ws_ok, uint32_t *rcv_wnd,
                        uint8_t *rcv_wscale, uint32_t *window_clamp);
uint16_t sk_default_advmss(const sk_stack *s, bool v6);
void sk_retransmit_head(sk_stack *s, sk_tcb *t);
uint32_t sk_flight_size(const sk_tcb *t);
uint32_t sk_size_goal(const sk_tcb *t);
/* Send-buffer memory (socket.c), after Linux's sk_wmem_queued/sk_sndbuf. */
void sk_sndbuf_established(sk_stack *s, sk_tcb *t); /* tcp_init_buffer_space */
void sk_check_space(sk_stack *s, sk_tcb *t, bool head_fresh); /* tcp_check_space, after an ACK */
void sk_sndbuf_after_xmit(sk_stack *s, sk_tcb *t);
void sk_rwnd_chrono(sk_stack *s, sk_tcb *t, bool limited); /* end of tcp_write_xmit */  /* tcp_cwnd_validate's chrono start */
uint32_t sk_chrono_ms(const sk_stack *s, const sk_tcb *t, uint32_t mark, uint8_t running);

/* timers.c */
void sk_tcb_timer_update(sk_stack *s, sk_tcb *t);
void sk_arm_rto(sk_stack *s, sk_tcb *t);
bool sk_schedule_loss_probe(sk_stack *s, sk_tcb *t, bool advancing_rto);
void sk_set_xmit_timer(sk_stack *s, sk_tcb *t);
void sk_send_loss_probe(sk_stack *s, sk_tcb *t);
void sk_arm_delack(sk_stack *s, sk_tcb *t);
void sk_arm_keepalive(sk_stack *s, sk_tcb *t);
void sk_rtt_sample(sk_stack *s, sk_tcb *t, uint32_t rtt_us);
uint32_t sk_rto_min_us(const sk_stack *s);
uint32_t sk_rto_max_us(const sk_stack *s);
sk_time_ns sk_current_rto(const sk_stack *s, const sk_tcb *t);
void sk_tcb_timer_fire(void *ctx, sk_timer *timer);
static inline uint64_t sk_ns_to_tick(sk_time_ns t) { return (t + SK_NSEC_PER_MSEC - 1) / SK_NSEC_PER_MSEC; }

/* listen.c */
void sk_listen_input(sk_stack *s, sk_tcb *l, const sk_segment *seg);
void sk_listen_destroy(sk_stack *s, sk_tcb *l);
void sk_req_timer_fire(void *ctx, sk_timer *timer);
void sk_accept_queue_remove(sk_stack *s, sk_tcb *child);
/* The stack's local address at `idx` is going: requests on it are
 * dropped, later indices renumbered. */
void sk_listen_addr_removed(sk_stack *s, uint32_t idx);

/* timewait.c */
int sk_tw_init(const sk_stack *s, sk_tw_table *tw);
void sk_tw_destroy(const sk_stack *s, sk_tw_table *tw);
/* Moves a connection into TIME_WAIT (or orphaned FIN_WAIT_2) for
 * `timeout`. */
void sk_time_wait(sk_stack *s, sk_tcb *t, int substate, sk_time_ns timeout);
uint32_t sk_tw_lookup(sk_stack *s, const sk_key *k);
/* Processes a segment for a TIME_WAIT record; may let a SYN reopen via
 * the listener (returns true if the segment should go on to it). */
bool sk_tw_input(sk_stack *s, uint32_t idx, const sk_segment *seg);
void sk_tw_kill(sk_stack *s, uint32_t idx, bool emit);
void sk_tw_expire(sk_stack *s);
sk_time_ns sk_tw_next_deadline(const sk_stack *s);
/* tcp_tw_reuse: may an active open take over this record's tuple? */
bool sk_tw_reusable(sk_stack *s, uint32_t idx);

/* packet.c, checksum.c */
/* sk_parse_segment with the two checksums checked separately: the TCP one
 * is skipped for a link that vouches for it (SK_OFFLOAD_TCP_CSUM_RX). */
sk_parse_error sk_parse_segment_checked(const uint8_t *dgram, size_t len, bool verify_ip_csum, bool verify_tcp_csum,
                                        sk_segment *out);
/* The TCP pseudo-header's sum (RFC 9293 §3.1), unfolded. */
uint32_t sk_tcp_pseudo_sum(uint32_t src, uint32_t dst, size_t tcp_len);
uint32_t sk_tcp_pseudo_sum6(const uint8_t src[16], const uint8_t dst[16], size_t tcp_len);

/* sack.c */
void sk_sack_clear(const sk_stack *s, sk_tcb *t);
uint32_t sk_sack_update(sk_stack *s, sk_tcb *t, const sk_segment *seg);
bool sk_sack_is_dsack(const sk_segment *seg);
void sk_dsack_input(sk_stack *s, sk_tcb *t, const sk_segment *seg, uint32_t prior_una);
void sk_rx_sack_new_ofo(const sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end);
/* Blocks the next segment would carry (D-SACK included), before the cap. */
uint32_t sk_rx_sack_pending(const sk_tcb *t);
void sk_rx_sack_remove(sk_tcb *t);
void sk_rx_dsack_set(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end);
void sk_rx_dsack_extend(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end);
uint8_t sk_rx_sack_fill(sk_tcb *t, sk_sack_block *out, uint8_t max);
void sk_sack_ack(const sk_stack *s, sk_tcb *t, uint32_t una);
uint32_t sk_sack_high(const sk_tcb *t);
uint32_t sk_sack_skip(const sk_tcb *t, uint32_t seq);
uint32_t sk_sack_next_start(const sk_tcb *t, uint32_t seq);
bool sk_sack_next_hole(const sk_tcb *t, uint32_t from, uint32_t *start, uint32_t *len);
uint32_t sk_sack_pipe(const sk_tcb *t);

/* eor.c: sk_tcb_ext and MSG_EOR record ends */
sk_tcb_ext *sk_tcb_ext_get(const sk_stack *s, sk_tcb *t);
void sk_tcb_ext_free(const sk_stack *s, sk_tcb *t);
static inline int sk_linger_s(const sk_tcb *t) { return t->ext ? t->ext->linger_s : -1; }
static inline uint32_t sk_notsent_lowat_opt(const sk_tcb *t) { return t->ext ? t->ext->notsent_lowat : 0; }
bool sk_eor_reserve(const sk_stack *s, sk_tcb *t); /* room for one more sk_eor_mark */
void sk_eor_mark(sk_tcb *t, uint32_t end);
bool sk_eor_tail_closed(sk_tcb *t, uint32_t data_end); /* a record ends at data_end */
/* The record ends around seq: the last at or below it (*prev, when
 * *has_prev) and, returned true, the first above it (*next). */
bool sk_eor_around(sk_tcb *t, uint32_t seq, uint32_t *prev, bool *has_prev, uint32_t *next);
uint32_t sk_eor_clip(sk_tcb *t, uint32_t seq, uint32_t len); /* len cut at the next record end */
bool sk_eor_is_end(sk_tcb *t, uint32_t seq);
/* Segments [from, to) takes when no segment spans a record end */
uint32_t sk_eor_segs(sk_tcb *t, uint32_t from, uint32_t to, uint32_t mss);

/* rack.c */
void sk_rack_free(sk_stack *s, sk_tcb *t);
void sk_rack_on_send(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t end, bool retrans);
void sk_rack_split(sk_stack *s, sk_tcb *t, uint32_t at);
void sk_rack_clip(const sk_tcb *t, uint32_t *start, uint32_t *end);
uint32_t sk_rack_sack(sk_stack *s, sk_tcb *t, const sk_segment *seg);
uint32_t sk_rack_fack(const sk_tcb *t);
bool sk_rack_try_undo(sk_stack *s, sk_tcb *t, sk_counter_id counter);
uint32_t sk_rack_ack(sk_stack *s, sk_tcb *t, uint32_t una, uint32_t prior_fack);
uint32_t sk_rack_detect(sk_stack *s, sk_tcb *t);
uint32_t sk_rack_in_flight(const sk_tcb *t);
/* Segments (Linux's pcount, MSS units) of the records with any of the
 * SK_TX_* bits in `flag`: TCP_INFO's tcpi_sacked/lost/retrans. */
uint32_t sk_rack_pcount_of(const sk_tcb *t, uint8_t flag);
/* The record ending at `end` was sent with PSH / is marked so. */
void sk_rack_set_psh(sk_tcb *t, uint32_t end);
bool sk_rack_psh_at(const sk_tcb *t, uint32_t end);
bool sk_rack_next_lost(const sk_tcb *t, uint32_t *seq, uint32_t *end);
void sk_rack_enter_recovery(sk_stack *s, sk_tcb *t);
void sk_rack_cwnd_reduction(sk_tcb *t, uint32_t newly_acked_sacked, uint32_t newly_lost, bool una_advanced);
void sk_rack_reo_timeout(sk_stack *s, sk_tcb *t);
void sk_enter_cwr(sk_stack *s, sk_tcb *t);
void sk_end_cwr(sk_tcb *t);
void sk_rack_mark_all_lost(sk_tcb *t);

/* cc.c */
#define SK_CUBIC_MARKS 8

/* CUBIC's per-connection state: Linux's struct bictcp, with times in
 * microseconds of the injected clock. */
struct sk_cubic {
    uint32_t cnt;         /* ACKed segments per one-segment increase */
    uint32_t w_max;       /* RFC 9438 W_max (Linux last_max_cwnd); 0 = no loss yet */
    uint32_t last_cwnd;   /* cwnd when cnt was last computed */
    uint32_t origin;      /* the curve's plateau: W_max, or cwnd above it */
    uint32_t k;           /* RFC 9438 K, 1/1024 s */
    uint32_t delay_min;   /* smallest RTT sample, µs; 0 = none */
    uint32_t ack_cnt;     /* segments ACKed towards W_est's next increase */
    uint32_t w_est;       /* RFC 9438 §4.3 W_est (Linux tcp_cwnd) */
    uint64_t last_time;   /* when cnt was last computed */
    uint64_t epoch_start; /* RFC 9438 t_epoch; 0 = no epoch */
    /* HyStart */
    uint64_t round_start; /* start of this round of ACKs */
    uint64_t last_ack;    /* last ACK of the current train */
    uint32_t end_seq;     /* the round ends when snd_una passes this */
    uint32_t curr_rtt;    /* smallest RTT sample this round, µs */
    uint8_t sample_cnt;   /* RTT samples this round (up to HYSTART_MIN_SAMPLES) */
    bool found;           /* HyStart ended slow start */
    /* When runs of new data left in slow start, so an ACK yields the RTT
     * of the newest segment it covers, as Linux's per-skb send times do
     * for HyStart's delay signal; marks[] cover mark_from onwards in
     * order, a run per send instant. */
    uint8_t mark_head, mark_n;
    uint32_t mark_from;
    uint32_t karn_end; /* ACKs reaching below this cover resent data: no sample */
    struct {
        uint32_t end;   /* sequence just past the run */
        uint32_t at_us; /* sk_us_now() when it was sent */
    } marks[SK_CUBIC_MARKS];
};

void sk_cc_init(sk_stack *s, sk_tcb *t);
int sk_cc_select(sk_stack *s, sk_tcb *t, const char *name);
const char *sk_cc_name(const sk_tcb *t);
void sk_cc_free(sk_stack *s, sk_tcb *t);
void sk_cc_pkts_acked(sk_stack *s, sk_tcb *t, uint32_t acked, int64_t rtt_us);
void sk_cc_sent(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len, bool retrans);
void sk_cc_on_ack(sk_stack *s, sk_tcb *t, uint32_t acked);
uint32_t sk_cc_ssthresh(sk_stack *s, sk_tcb *t);
void sk_cc_tx_start(sk_stack *s, sk_tcb *t);
void sk_cc_on_rto(sk_stack *s, sk_tcb *t);
void sk_cc_enter_recovery(sk_stack *s, sk_tcb *t);
void sk_cc_validate(sk_tcb *t, bool cwnd_limited);
bool sk_cc_cwnd_limited(const sk_tcb *t); /* Linux's tcp_is_cwnd_limited() */

/* sockinfo.c */
void sk_fill_tcp_info(sk_stack *s, const sk_tcb *t, struct sk_tcp_info *ti);

#endif
