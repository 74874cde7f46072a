/*
 * The connection objects of the engine and their flags.
 *
 * Three objects, sized to their phase as Linux sizes them:
 *   sk_request  a half-open passive connection on a listener's SYN queue
 *               (listen.c), a few dozen bytes;
 *   sk_tcb      a full connection or socket (everything else);
 *   sk_tw       a TIME_WAIT (or orphaned FIN_WAIT_2) record (timewait.c),
 *               holding only what is needed to answer late segments.
 */
#ifndef SK_TCB_H
#define SK_TCB_H

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
/* The stretches (one, or two where the ring wraps) holding `len` bytes
 * from `off`, by reference; returns how many stretches. */
unsigned sk_ring_pieces(const sk_ring *r, uint32_t off, uint32_t len, sk_iovec out[2]);
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

/* sk_tcb's flag words, grouped by what they describe; each is a bit-field
 * of the one 32-bit word `flags` used to be, so sk_tcb keeps its size. */

/* sk_tcb.sflags: the socket and the user's calls on it (Linux keeps these
 * in sk_state, sk_shutdown, sock->state, the bind and hash state). */
enum sk_sock_flag {
    SK_S_ORPHAN = 1u << 0,     /* close() called: no handle any more */
    SK_S_SHUT_RD = 1u << 1,
    SK_S_SHUT_WR = 1u << 2,    /* FIN queued after the send queue */
    SK_S_FIN_RCVD = 1u << 3,
    SK_S_BOUND = 1u << 4,      /* has a local port (bind or autobind) */
    SK_S_USER_BOUND = 1u << 5, /* bind() called */
    SK_S_HASHED = 1u << 6,     /* in the connection table */
    SK_S_CONNECTING = 1u << 7, /* connect() in progress (Linux SS_CONNECTING) */
    SK_S_CONNECTED = 1u << 8,  /* connect() reported success (SS_CONNECTED) */
    SK_S_WAS_ESTABLISHED = 1u << 9,
};

/* sk_tcb.negot: options negotiated in the handshake (tp->rx_opt). */
enum sk_negot_flag {
    SK_N_TS_OK = 1u << 0, /* timestamps negotiated */
    SK_N_SACK_OK = 1u << 1,
    SK_N_WS_OK = 1u << 2,
};

/* sk_tcb.sopts: socket options set by the user (setsockopt). */
enum sk_sockopt_flag {
    SK_O_NODELAY = 1u << 0,
    SK_O_KEEPALIVE = 1u << 1,
    SK_O_REUSEADDR = 1u << 2,
    SK_O_LINGER = 1u << 3,
    SK_O_CORK = 1u << 4,
    SK_O_REUSEPORT = 1u << 5,
    SK_O_SNDBUF_LOCK = 1u << 6, /* SO_SNDBUF set: no autotuning */
};

/* sk_tcb.xflags: transmit and timer state. */
enum sk_xmit_flag {
    SK_X_ACK_NOW = 1u << 0,      /* an ACK must go out this run */
    SK_X_RTT_PENDING = 1u << 1,  /* timing rtt_seq (no timestamps) */
    SK_X_PERSIST = 1u << 2,      /* zero-window probing */
    SK_X_REO_ARMED = 1u << 3,    /* rto_at holds the RACK reordering deadline (RFC 8985 §6.2) */
    SK_X_TLP_ARMED = 1u << 4,    /* rto_at holds a loss-probe deadline (RFC 8985 §7) */
    SK_X_TLP_RETRANS = 1u << 5,  /* the probe retransmitted (not new data) */
    SK_X_FIN_SENT = 1u << 6,
    SK_X_FIN_ALONE = 1u << 7,    /* the FIN went out in a segment of its own */
    SK_X_CWND_LIMITED = 1u << 8, /* the window in use was cwnd-limited (Linux is_cwnd_limited) */
    SK_X_PINGPONG = 1u << 9,     /* interactive: delay ACKs (Linux pingpong mode) */
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
/* SK_TX_PKT_END: the record ends the TSO packet it went out in (PSH on the
 * wire), so it ends a Linux skb of the retransmission queue. */
enum { SK_TX_SACKED = 1, SK_TX_LOST = 2, SK_TX_RETRANS = 4, SK_TX_EVER_RETRANS = 8, SK_TX_PSH = 16, SK_TX_PKT_END = 32 };

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

/* The packets in flight of a connection without SACK (rack.c): where
 * each TSO packet of new data ends and whether it is marked lost, as
 * Linux's retransmission queue keeps its skbs whatever the peer
 * negotiated.  Records are contiguous from `base`; a ring of `cap` (a
 * power of two) from `head`. */
typedef struct sk_flight_rec {
    uint32_t end;
    uint32_t xmit_us; /* sk_us_now() when it was sent */
    uint16_t seglen;  /* its first segment's length (tcp_skb_seglen) */
    uint8_t lost : 1;
    uint8_t closed : 1; /* ended its TSO packet: nothing more joins it */
    uint8_t psh : 1;    /* ends a write that asked for a push (tcp_mark_push) */
} sk_flight_rec;
typedef struct sk_flight {
    uint32_t base, head, n, cap;
    sk_flight_rec rec[];
} sk_flight;

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
    /* A receive buffer posted by sk_recv_post (socket.c): in-order data
     * arriving while rcvq is empty is copied straight into it (input.c,
     * sk_recv_direct), as Linux's tcp_data_queue copied to a waiting
     * reader (ucopy). */
    uint8_t *post_buf;
    uint32_t post_len, post_filled;
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
    /* Send records of a connection without SACK (rack.c), so that a
     * path MTU drop resends only the packets cut too big. */
    sk_flight *flight;
    /* sk_stamp of the last ACK sent in reply to an invalid segment
     * (Linux's last_oow_ack_time, tcp_invalid_ratelimit), 0 for none. */
    uint32_t last_oow_ack;
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
    uint8_t rcv_wscale : 4; /* <= 14; a byte of its own until the two bits below took its top */
    /* IP_TRANSPARENT / IPV6_TRANSPARENT (Linux's inet->transparent): a
     * listener takes SYNs for addresses that are not the stack's, and
     * the connection's segments to its non-local address are delivered
     * (what `-m socket --transparent` does on Linux); children inherit
     * it.  IP_FREEBIND (inet->freebind) only lets bind() take a
     * non-local address. */
    uint8_t transparent : 1;
    uint8_t freebind : 1;
    uint8_t backoff;        /* RTO exponent */
    uint8_t retransmits;    /* consecutive timeouts of the head segment */
    uint8_t probes_out;     /* keepalive or zero-window probes unanswered */
    uint8_t quickack : 6;   /* segments still to ACK at once (Linux quickack mode, <= 16) */
    uint8_t tail_push : 1;  /* the unsent tail "skb" carries PSH (Linux tcp_mark_push) */
    uint8_t cc_reno : 1;    /* congestion control is Reno; CUBIC otherwise (cc.c) */
    uint8_t dupacks;
    /* Flags by group (enum sk_sock_flag, sk_negot_flag, sk_sockopt_flag,
     * sk_xmit_flag), sharing one 32-bit unit; spare bits: sflags 1,
     * xflags 1. */
    uint32_t sflags : 11; /* SK_S_* */
    uint32_t xflags : 11; /* SK_X_* */
    uint32_t negot : 3;   /* SK_N_* */
    uint32_t sopts : 7;   /* SK_O_* */

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
    uint8_t ecn : 5;       /* SK_ECN_*: RFC 3168 state, Linux's tp->ecn_flags (fills a padding byte) */
    /* Loss-recovery state (enum sk_ca_state), Linux's icsk_ca_state, also
     * a 5-bit field there; changed only through sk_set_ca_state().  It
     * holds Open, CWR, Recovery or Loss; Disorder is derived when reported
     * (sk_ca_state_report). */
    uint8_t ca_state : 3;
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

/* Linux's packets_out: the segments between SND.UNA and SND.NXT, in MSS
 * units (the default MSS before one is known). */
static inline uint32_t sk_packets_out(const sk_tcb *t)
{
    uint32_t mss = t->mss ? t->mss : SK_TCP_MSS_DEFAULT;
    return (t->snd_nxt - t->snd_una + mss - 1) / mss;
}

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

/* sk_tcb.ecn: Linux's ecn_flags bits (five bits). */
enum {
    SK_ECN_OK = 1u << 0,         /* negotiated (TCP_ECN_OK) */
    SK_ECN_QUEUE_CWR = 1u << 1,  /* set CWR on the next new data segment (TCP_ECN_QUEUE_CWR) */
    SK_ECN_DEMAND_CWR = 1u << 2, /* CE seen: echo ECE until CWR arrives (TCP_ECN_DEMAND_CWR) */
    SK_ECN_SEEN = 1u << 3,       /* an ECT or CE segment arrived (TCP_ECN_SEEN) */
};

/* Congestion-avoidance (loss-recovery) state, Linux's TCP_CA_* values as
 * tcpi_ca_state reports them:
 * - OPEN: nothing outstanding is suspect;
 * - DISORDER: duplicate ACKs or SACKs seen, nothing yet marked lost;
 * - CWR: cwnd being reduced for an ECN echo or a repaired loss (RFC 3168
 *   §6.1.2), by PRR until SND.UNA passes `recover`;
 * - RECOVERY: fast recovery (RFC 6582 NewReno, RFC 6675 SACK, RACK);
 * - LOSS: after an RTO (or a PMTU drop): everything in flight presumed
 *   lost and resent from rtx_nxt (RFC 5681 §3.1, Linux's tcp_enter_loss).
 * The values are ordered as Linux's, so ">= SK_CA_CWR" means "cwnd under
 * reduction" and ">= SK_CA_RECOVERY" "repairing losses". */
enum sk_ca_state { SK_CA_OPEN = 0, SK_CA_DISORDER = 1, SK_CA_CWR = 2, SK_CA_RECOVERY = 3, SK_CA_LOSS = 4 };

const char *sk_ca_state_name(enum sk_ca_state st);
/* Linux's tcp_set_ca_state: every transition of sk_tcb.ca_state. */
static inline void sk_set_ca_state(sk_tcb *t, enum sk_ca_state st) { t->ca_state = (uint8_t)st & 7u; }
/* What tcpi_ca_state reports: Disorder is Open with duplicate ACKs or
 * scoreboard marks outstanding (Linux's tcp_try_keep_open). */
enum sk_ca_state sk_ca_state_report(const sk_tcb *t);

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

/* A request for a SYN to an address that is not the stack's (a
 * transparent listener's, listen.c): `lidx` is SK_LIDX_FOREIGN and the
 * local address (an IPv4 address, or an IPv6 handle holding a
 * reference) and port follow the record, so ordinary requests keep
 * their 64 bytes and only these take 72. */
#define SK_LIDX_FOREIGN 0xffu
typedef struct sk_request_foreign {
    sk_request req;
    uint32_t laddr;
    uint16_t lport; /* the SYN's destination port (a catch-all listener's differs) */
} sk_request_foreign;

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
    uint32_t substate : 3;       /* SK_TCP_TIME_WAIT or SK_TCP_FIN_WAIT2 (6, 5); 0 when free */
    uint32_t ts_ok : 1;
    uint32_t v6 : 1;             /* the addresses are IPv6 handles */
    uint32_t sock6 : 1;          /* the socket was AF_INET6 */
    uint32_t reuse : 1;          /* the socket had SO_REUSEADDR (Linux's tw sk_reuse) */
    uint32_t v6only : 1;         /* the socket was IPV6_V6ONLY (tw_ipv6only) */
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

/* tcb.c: the life of a TCB */
sk_tcb *sk_tcb_alloc(sk_stack *s);
void sk_tcb_set_state(sk_stack *s, sk_tcb *t, int state, sk_state_cause cause);
/* Ends a connection: state CLOSED, unhashed, timers off; frees the TCB
 * when it has no handle. */
void sk_tcb_done(sk_stack *s, sk_tcb *t, sk_state_cause cause);
/* The same without tcp_done()'s AttemptFails: the application closing or
 * disconnecting (tcp_set_state(TCP_CLOSE) from close(), shutdown()). */
void sk_tcb_close(sk_stack *s, sk_tcb *t, sk_state_cause cause);
void sk_tcb_free(sk_stack *s, sk_tcb *t);

#endif
