/*
 * ICMP (icmp.c) and path MTU (pmtu.c): what the rest of the engine calls.
 *
 * The per-connection side takes an abstract error (sk_icmp_err) so that
 * ICMPv4 and, later, ICMPv6 (Packet Too Big, Destination Unreachable) share
 * one handler, as Linux's tcp_v4_err and tcp_v6_err share their logic.
 */
#ifndef SK_ICMP_H
#define SK_ICMP_H

#include "stack.h"

/* ICMPv4 types and destination-unreachable codes (RFC 792, RFC 1812). */
enum {
    SK_ICMP_ECHOREPLY = 0,
    SK_ICMP_DEST_UNREACH = 3,
    SK_ICMP_SOURCE_QUENCH = 4,
    SK_ICMP_REDIRECT = 5,
    SK_ICMP_ECHO = 8,
    SK_ICMP_TIME_EXCEEDED = 11,
    SK_ICMP_PARAMETERPROB = 12,
    SK_ICMP_TIMESTAMP = 13,
    SK_ICMP_TIMESTAMPREPLY = 14,
    SK_ICMP_ADDRESS = 17,
    SK_ICMP_ADDRESSREPLY = 18,
    SK_NR_ICMP_TYPES = 18,
};
enum {
    SK_ICMP_NET_UNREACH = 0,
    SK_ICMP_HOST_UNREACH = 1,
    SK_ICMP_PROT_UNREACH = 2,
    SK_ICMP_PORT_UNREACH = 3,
    SK_ICMP_FRAG_NEEDED = 4,
    SK_NR_ICMP_UNREACH = 15,
};

/* IP_MTU_DISCOVER values and the IP-level option names (Linux's). */
enum { SK_PMTUDISC_DONT = 0, SK_PMTUDISC_WANT = 1, SK_PMTUDISC_DO = 2, SK_PMTUDISC_PROBE = 3 };

/* An ICMP error as TCP sees it, whatever ICMP version carried it. */
typedef enum sk_icmp_err_kind {
    SK_ICMPE_NONE,      /* nothing for TCP to do (source quench), once validated */
    SK_ICMPE_ERROR,     /* a network error: errno in `err` */
    SK_ICMPE_PMTU,      /* the path MTU is `mtu` (0: the message gave none) */
} sk_icmp_err_kind;

typedef struct sk_icmp_err {
    sk_icmp_err_kind kind;
    int err;         /* positive errno (SK_ICMPE_ERROR) */
    uint32_t mtu;    /* SK_ICMPE_PMTU */
    bool rto_revert; /* RFC 6069: a net or host unreachable may undo one RTO backoff */
    bool req_abort;  /* for a request sock: drop it (Linux's tcp_req_err `abort`) */
} sk_icmp_err;

/* A peer address as the caches key it: IPv4 in w[0], IPv6 in all four. */
typedef struct sk_peer_key {
    uint32_t w[4];
    uint8_t family; /* 4 or 6 */
} sk_peer_key;

static inline sk_peer_key sk_peer_key_v4(uint32_t addr)
{
    sk_peer_key k = {{addr, 0, 0, 0}, 4};
    return k;
}

/* An IPv6 address (16 bytes, network order) as the key's four words. */
static inline sk_peer_key sk_peer_key_v6(const uint8_t a[16])
{
    sk_peer_key k = {{0, 0, 0, 0}, 6};
    memcpy(k.w, a, 16);
    return k;
}

/* Flow labels one socket may hold (Linux bounds them by memory, see
 * mem_check in ip6_flowlabel.c; synack by this count, then ENOBUFS). */
#define SK_FL_MAX_PER_SOCK 8

/* Per-connection path-MTU state, allocated from sk_tcb_ext when a
 * connection first needs it (a learned PMTU, a socket option, MTU
 * probing): Linux's icsk_pmtu_cookie, icsk_mtup, tp->mtu_probe,
 * inet->pmtudisc, inet->recverr and sk_err_soft. */
typedef struct sk_pmtu_conn {
    uint16_t pmtu_cookie;   /* the path MTU the MSS was last synced to */
    uint8_t pmtudisc;       /* SK_PMTUDISC_* */
    bool pmtudisc_set;      /* IP_MTU_DISCOVER was set (else the sysctl decides) */
    bool recverr;           /* IP_RECVERR: ICMP errors are hard errors */
    uint8_t tos;            /* IP_TOS without the ECN bits */
    bool mtup_enabled;      /* icsk_mtup.enabled */
    int16_t err_soft;       /* sk_err_soft, positive errno */
    uint16_t search_high, search_low; /* MTUs */
    uint16_t probe_size;    /* MTU of the probe in flight, 0 = none */
    uint32_t probe_seq_start, probe_seq_end;
    sk_stamp probe_timestamp;
    /* tcp_simple_retransmit's Loss state lasts until what was in flight
     * then (high_seq) is acknowledged; no MTU probe goes out before. */
    uint32_t loss_high;
    bool loss_high_set;
    /* The AF_INET6 socket's own (Linux's ipv6_pinfo): IPV6_MTU_DISCOVER,
     * IPV6_RECVERR, IPV6_FLOWINFO (rxflow), IPV6_FLOWINFO_SEND (sndflow). */
    uint8_t pmtudisc6;
    bool recverr6, rxflow, sndflow;
    uint8_t fl_n;           /* labels in fl[] */
    uint32_t flow_label;    /* np->flow_label: traffic class and label, host order */
    uint32_t bound_dev_if;  /* sk_bound_dev_if, from a link-local sin6_scope_id */
    uint32_t fl[SK_FL_MAX_PER_SOCK]; /* labels taken with IPV6_FLOWLABEL_MGR (ipv6_fl_list) */
} sk_pmtu_conn;

/* icmp.c */
/* An IPv4 datagram with protocol 1, its IP header already validated and
 * decoded into `ip` (addresses, TTL, TOS). */
void sk_icmp_input(sk_stack *s, const uint8_t *dgram, size_t len, const sk_segment *ip);
/* An ICMP or ICMPv6 datagram in or out, as traces and captures see it:
 * `msg` is the message received (an echo reply's request), so its
 * destination is the local end. */
void sk_icmp_emit(sk_stack *s, sk_event_type type, const sk_segment *msg, const uint8_t *d, size_t len);
/* Linux's tcp_v4_err/tcp_v6_err after the lookup: a full connection. */
void sk_icmp_err_for_conn(sk_stack *s, sk_tcb *t, uint32_t seq, const sk_icmp_err *e);
/* Whether a quoted segment from a non-local address is a transparent
 * socket's (its connection, TIME_WAIT record or listener). */
bool sk_icmp_quote_transparent(sk_stack *s, const struct sk_key *k);

/* pmtu.c: the per-destination cache (Linux's fnhe/inet_peer) */
uint16_t sk_route_mtu(sk_stack *s, const sk_peer_key *k);
bool sk_peer_rate_allow(sk_stack *s, const sk_peer_key *k, uint32_t timeout_ms);
void sk_peer_cache_free(sk_stack *s);

/* pmtu.c: per connection */
sk_peer_key sk_conn_peer_key(const sk_stack *s, const sk_tcb *t); /* the cache's key for its peer */
sk_pmtu_conn *sk_pmtu_conn_get(sk_stack *s, sk_tcb *t);
static inline sk_pmtu_conn *sk_pmtu_conn_peek(const sk_tcb *t) { return t->ext ? t->ext->pm : NULL; }
/* The label np->flow_label gives the socket's datagrams (connect() with
 * IPV6_FLOWINFO_SEND), 0 for none (auto_flowlabels then chooses). */
static inline uint32_t sk_ip6_flowlabel(const sk_tcb *t)
{
    const sk_pmtu_conn *pm = sk_pmtu_conn_peek(t);
    return pm ? pm->flow_label & 0x000fffffu : 0;
}
uint16_t sk_conn_pmtu(const sk_stack *s, const sk_tcb *t);
uint32_t sk_mtup_mss_clamp(const sk_stack *s, const sk_tcb *t, uint32_t mss);
/* Effective send MSS from the peer's MSS, our MTU, TCP_MAXSEG and the
 * timestamp option (Linux tcp_sync_mss). */
void sk_set_send_mss(sk_stack *s, sk_tcb *t);
void sk_pmtu_conn_init(sk_stack *s, sk_tcb *t);
uint16_t sk_route_advmss(const sk_stack *s, bool v6, uint32_t raddr);
/* tcp_current_mss's route check and the DF bit, run for every segment:
 * their first tests are inline.  Without per-connection PMTU state, a
 * probing mode that creates it, or a peer cache (where learned MTUs and
 * locked routes live), the MSS cannot have moved and DF is set
 * (IP_PMTUDISC_WANT) unless ip_no_pmtu_disc says otherwise. */
void sk_pmtu_check_route(sk_stack *s, sk_tcb *t);
bool sk_pmtu_df_route(const sk_stack *s, const sk_tcb *t);
static inline void sk_pmtu_check(sk_stack *s, sk_tcb *t)
{
    if (!sk_pmtu_conn_peek(t) && s->cfg.tcp_mtu_probing < 2 && !s->peers)
        return;
    sk_pmtu_check_route(s, t);
}
static inline bool sk_pmtu_df(const sk_stack *s, const sk_tcb *t)
{
    if (!sk_pmtu_conn_peek(t) && !s->cfg.ip_no_pmtu_disc && (t->af6 || !s->peers))
        return true;
    return sk_pmtu_df_route(s, t);
}
void sk_pmtu_reduced(sk_stack *s, sk_tcb *t, uint32_t mtu_info);
void sk_mtu_probing_on_timeout(sk_stack *s, sk_tcb *t);
int sk_mtu_probe(sk_stack *s, sk_tcb *t);
void sk_mtu_probe_acked(sk_stack *s, sk_tcb *t);
bool sk_mtu_probe_lost(sk_stack *s, sk_tcb *t);
int sk_take_err_soft(sk_tcb *t);
int sk_ip_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len);
int sk_ip_getsockopt(sk_stack *s, sk_tcb *t, int name, void *val, size_t *len);
/* The IPPROTO_IPV6 options kept here (IPV6_MTU_DISCOVER, IPV6_RECVERR,
 * IPV6_FLOWINFO, IPV6_FLOWINFO_SEND, IPV6_FLOWLABEL_MGR); -ENOPROTOOPT
 * for the others. */
int sk_ip6_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len);
int sk_ip6_getsockopt(sk_stack *s, sk_tcb *t, int name, void *val, size_t *len);
int sk_ip6_connect_flowinfo(sk_stack *s, sk_tcb *t, uint32_t flowinfo);
void sk_pmtu_inherit(sk_stack *s, sk_tcb *child, const sk_tcb *l, bool peer_link_local);

/* listen.c: an ICMP error quoting a SYN-ACK of a request sock (Linux's
 * tcp_req_err); false when no request matches. */
bool sk_listen_icmp_err(sk_stack *s, sk_tcb *l, const struct sk_key *k, uint32_t seq, bool abort);

/* output.c: sends [seq, seq + len) of the send queue as one segment. */
void sk_send_data_range(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len);

/* icmp6.c: an ICMPv6 message (RFC 4443) for the stack */
void sk_icmp6_input(sk_stack *s, const uint8_t *dgram, size_t len, const sk_segment *seg);

#endif
