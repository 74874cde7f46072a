/*
 * Capture analysis: TCP connections reconstructed from a pcap/pcapng file
 * (read through libpcap), both endpoints' inferred states over time, and
 * findings that walk the operator's troubleshooting flowchart (handshake,
 * teardown, resets, performance) with evidence and a fix in Linux terms.
 *
 * The analysis streams: connections are kept while they are live in the
 * kernel's sense (open, half-open, or closed for less than TIME_WAIT's 60 s
 * of capture time) and are retired after that, folded into the summary and
 * the findings and handed to a callback.  Memory grows with the number of
 * live connections, not with the size of the file.
 *
 * States are those of RFC 9293 as Linux names them in ss(8) ("ESTAB",
 * "FIN-WAIT-1", ...), inferred from what a capture allows: a side is
 * taken to have received a segment when it acknowledges it, and to have
 * moved when it sends.  Nothing here is certain, and the reasons say so.
 */
#ifndef SYNACK_ANALYZE_ANALYZE_H
#define SYNACK_ANALYZE_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ska_state {
    SKA_UNKNOWN = 0,
    SKA_CLOSED,
    SKA_LISTEN,
    SKA_SYN_SENT,
    SKA_SYN_RECV,
    SKA_ESTABLISHED,
    SKA_FIN_WAIT1,
    SKA_FIN_WAIT2,
    SKA_CLOSE_WAIT,
    SKA_CLOSING,
    SKA_LAST_ACK,
    SKA_TIME_WAIT,
    SKA_NSTATES
} ska_state;

/* ss(8)'s spelling: "ESTAB", "SYN-SENT", "TIME-WAIT", ..., "UNKNOWN". */
const char *ska_state_name(ska_state s);

typedef struct ska_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t a[16];  /* IPv4 in the first 4 bytes */
    uint16_t port;
} ska_addr;

/* "10.0.0.1:80" or "[fd00::1]:80". */
size_t ska_format_addr(const ska_addr *a, char *buf, size_t cap);
/* "HH:MM:SS.uuuuuu" in UTC, as tcpdump prints time of day. */
size_t ska_format_time(int64_t t_ns, char *buf, size_t cap);

/* One side of a connection, as the capture shows it. */
typedef struct ska_side {
    ska_addr addr;
    ska_state state;
    int64_t state_since; /* ns; time of the segment that moved it */
    uint64_t state_pkt;

    bool seq_known;
    uint32_t isn;
    bool isn_known;
    uint32_t snd_nxt; /* highest sequence number sent + 1 */
    bool ack_known;
    uint32_t ack_max; /* highest acknowledgement sent */

    bool fin_sent;
    uint32_t fin_seq; /* sequence number of the FIN */
    uint64_t fin_pkt;
    int64_t fin_time;
    bool fin_acked; /* the peer acknowledged our FIN */
    bool got_fin;   /* we acknowledged the peer's FIN */
    uint64_t got_fin_pkt;
    int64_t got_fin_time;

    bool rst_sent;
    uint64_t rst_pkt;
    int64_t rst_time;
    uint8_t rst_ttl;
    bool rst_has_ack;

    uint64_t pkts;
    uint64_t bytes;         /* payload bytes, first transmissions only */
    uint64_t data_segs;     /* segments carrying payload */
    uint64_t retrans;       /* segments consuming sequence space sent again */
    uint64_t retrans_bytes;
    uint64_t ooo;           /* below snd_nxt but soon after it: reordering, as Wireshark says */
    int64_t nxt_time;       /* when snd_nxt last advanced */
    uint32_t dupacks;       /* duplicate ACKs in a row */
    int64_t lastack_time;
    uint16_t last_win;
    uint32_t syns;          /* SYN or SYN-ACK segments sent */
    uint64_t first_syn_pkt;
    int64_t first_syn_time;
    uint64_t last_syn_pkt;
    int64_t last_syn_time;

    int64_t last_data_time;
    uint64_t last_data_pkt;

    /* Options this side offered in its SYN / SYN-ACK. */
    bool opt_seen;
    uint16_t mss;
    int wscale; /* -1 when not offered */
    bool sack_ok;
    bool ts;

    /* TTL / hop limit of this side's non-RST packets. */
    bool ttl_seen;
    uint8_t ttl_min, ttl_max;
    bool ipid_seen;
    uint16_t ipid_last, ipid_first;
    uint32_t ipid_steps; /* consecutive packets whose IP ID went up by 1..64 */
    uint16_t rst_ipid;
    bool rst_ipid_off;   /* the RST's IP ID does not continue that sequence */

    /* Zero windows this side advertised. */
    uint32_t zw_pkts;
    uint32_t zw_episodes;
    bool in_zw;
    int64_t zw_start;
    uint64_t zw_first_pkt;
    int64_t zw_total_ns;

    /* Path MTU: full-size segments sent again. */
    uint32_t max_seg;
    uint32_t big_rtx;
    uint32_t big_rtx_seq;
    uint64_t big_rtx_pkt;
    int64_t big_rtx_time;
    uint64_t small_acked; /* bytes the peer acknowledged */
} ska_side;

#define SKA_HISTORY_MAX 16

typedef struct ska_transition {
    uint8_t side; /* 0 client, 1 server */
    uint8_t from, to;
    uint64_t pkt;
    int64_t t;
    const char *why;
} ska_transition;

typedef struct ska_conn ska_conn;
struct ska_conn {
    uint64_t id; /* 1, 2, ... in order of first packet */
    ska_side side[2]; /* [0] the opener (client), [1] the other (server) */
    bool opened_seen;  /* the client's SYN is in the capture */
    bool midstream;    /* the capture starts after the handshake */
    bool handshake_done;
    int64_t hs_syn_time, hs_synack_time, hs_ack_time;
    int64_t first_rtt; /* SYN to the ACK of the SYN-ACK, 0 unknown */
    int closer; /* -1 nobody, 0 client, 1 server: who sent FIN or RST first */
    bool refused;
    uint64_t refused_pkt;
    int64_t refused_time;
    uint64_t first_pkt, last_pkt;
    int64_t first_time, last_time;
    uint64_t pkts;
    int icmp_type, icmp_code; /* last ICMP error quoting this connection, -1 none */
    uint64_t icmp_pkt;
    uint32_t icmp_mtu;
    bool rst_middlebox;
    int rst_side;
    int ntrans;
    ska_transition trans[SKA_HISTORY_MAX];
    uint32_t trans_dropped;
    /* Bookkeeping (hash chain, lists). */
    ska_conn *hnext;
    ska_conn *prev, *next;
    int list;
};

typedef enum ska_severity { SKA_INFO = 0, SKA_WARNING, SKA_CRITICAL } ska_severity;
const char *ska_severity_name(ska_severity s);

#define SKA_EVIDENCE_MAX 8
#define SKA_FINDING_CONNS_MAX 32

typedef struct ska_evidence {
    uint64_t conn;
    uint64_t pkt;
    int64_t t;
    char text[240];
} ska_evidence;

typedef struct ska_finding {
    const char *id;
    ska_severity severity;
    uint64_t count;    /* connections (or events) concerned */
    uint64_t events;   /* segments / episodes behind it */
    uint64_t conns[SKA_FINDING_CONNS_MAX];
    int nconns;
    ska_evidence ev[SKA_EVIDENCE_MAX];
    int nev;
    char summary[400];
    char fix[700];
    /* Finding-specific tallies. */
    uint64_t a, b, c, d;
} ska_finding;

typedef enum ska_fid {
    F_SYN_REFUSED,
    F_SYN_UNANSWERED,
    F_SYN_RETRANS,
    F_SYNACK_RETRANS,
    F_CLOSE_WAIT,
    F_TIME_WAIT,
    F_RST_ABORT,
    F_RST_MIDDLEBOX,
    F_ZERO_WINDOW,
    F_RETRANS,
    F_SHORT_CONNS,
    F_MTU,
    SKA_NFINDINGS
} ska_fid;

typedef struct ska_options {
    /* close-wait-suspected: a side in CLOSE-WAIT at least this long. */
    double close_wait_secs;
    /* many-short-connections: this many connections of less than
     * short_secs to one server endpoint. */
    unsigned short_min;
    double short_secs;
    /* At most this many connections kept at once (0: 1,000,000); past it
     * the oldest half-open, then closed, then open one is retired early,
     * as a SYN flood's would be.  Bounds memory on hostile captures. */
    size_t max_live;
    /* Stop at this capture time (ns since the epoch); 0 = no limit.
     * Packets stamped later are ignored (out-of-order timestamps too). */
    int64_t at_ns;
    /* Called for every segment of connection `focus` (1-based; 0 none)
     * after its states have been updated. */
    uint64_t focus;
    void (*on_focus)(void *ctx, const ska_conn *c, uint64_t pkt, int64_t t, int dir,
                     const uint8_t *ip, size_t iplen, int family);
    /* Called when a connection is retired (live ones are retired at the
     * end, in order of id), before it is freed. */
    void (*on_retire)(void *ctx, const ska_conn *c);
    void *ctx;
} ska_options;

void ska_options_default(ska_options *o);

typedef struct ska ska;

ska *ska_new(const ska_options *o);
void ska_free(ska *a);

/* Reads the whole file through libpcap.  Returns 0 when it was read to
 * the end, 1 when it stopped early (truncated or corrupt: what came
 * before is analysed and err says why), -1 when it could not be read at
 * all (err says why). */
int ska_read_file(ska *a, const char *path, char *err, size_t errlen);

/* One captured frame of link type `dlt` (a DLT_ value). */
void ska_feed(ska *a, int dlt, int64_t t_ns, const uint8_t *data, size_t caplen, size_t origlen);

/* Retires every live connection (in order of id) and computes the
 * findings.  Call once, after the last ska_feed / ska_read_file. */
void ska_finish(ska *a);

/* Totals. */
typedef struct ska_totals {
    uint64_t frames, ipv4, ipv6, tcp, icmp, other, undecodable, truncated, fragments;
    uint64_t conns, conns4, conns6, retired, live_max, evicted;
    uint64_t final_state[2][SKA_NSTATES];
    int64_t first_time, last_time;
    uint64_t retrans, zw_pkts, data_segs;
    bool time_went_back;
    uint64_t time_back_pkts;
    int dlt;
} ska_totals;
const ska_totals *ska_get_totals(const ska *a);
/* The findings present (count > 0), in id order; returns how many. */
int ska_get_findings(const ska *a, const ska_finding **out, int max);

/* Connections live right now (for --at), in order of id. */
size_t ska_live(const ska *a, const ska_conn **out, size_t max);

/* JSON string escaping into `out`. */
void ska_json_string(FILE *out, const char *s);

#ifdef __cplusplus
}
#endif

#endif
