/*
 * Congestion control (cc.c): Reno and CUBIC as Linux's tcp_cong.c/tcp_cubic.c.
 */
#ifndef SK_CC_H
#define SK_CC_H

#include "stack.h"

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
/* Whether new sockets run Reno (tcp_congestion_control).  The sysctl only
 * ever holds a name config.c accepted from cc.c's list, "reno" or
 * "cubic", so its first letter decides: no string compare per socket. */
static inline bool sk_cc_default_reno(const sk_stack *s) { return s->cfg.tcp_congestion_control[0] == 'r'; }
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

#endif
