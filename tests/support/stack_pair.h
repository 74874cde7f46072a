/*
 * Two stacks in one process, joined by a queue in each direction, the
 * clock still unless the test moves it: every figure a test reads off
 * them is exact and repeatable.  No memwire and no fixture, so a test of
 * the transmit path sees every datagram as the stack handed it over:
 *
 *   sk_pair p;
 *   sk_pair_up(&p, &(sk_pair_opts){.sg = true});  // connected, accepted
 *   sk_pair_stream(&p, 600000, 7777, 5000);       // every byte checked
 *   assert_true(p.to_s.vectored > 300);
 *   sk_pair_down(&p);
 *
 * The client is 10.0.0.1, the server 10.0.0.2 listening on port 5001;
 * each stack's seed is its address.  With `sg` both stacks send through
 * transmitv and the link gathers the pieces; with `direct` as well, the
 * client's transmitv pieces go straight into the server's sk_inputv, no
 * copy on the link (the server is never inside a call when the client
 * transmits, so this is safe).
 */
#ifndef SK_TEST_STACK_PAIR_H
#define SK_TEST_STACK_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#define SK_PAIR_CLIENT_ADDR 0x0a000001u /* 10.0.0.1 */
#define SK_PAIR_SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
#define SK_PAIR_PORT 5001

typedef struct sk_pair_dgram {
    uint8_t *b;
    size_t len;
} sk_pair_dgram;

/* One direction: every datagram, gathered whole, kept in order until
 * drained. */
typedef struct sk_pair_link {
    sk_pair_dgram *q;
    size_t n, cap, head;
    size_t vectored, wrapped; /* datagrams through transmitv; of them, with 3 pieces */
    size_t max_len;           /* the largest datagram seen */
    sk_pair_dgram *log;       /* every datagram, when logging */
    size_t nlog, logcap;
    bool logging;
    size_t drop_nth; /* drop the n-th datagram longer than 100 bytes (1-based), 0: none */
    size_t big_seen, dropped, dropped_len;
    sk_stack *direct;         /* transmitv hands its pieces to sk_inputv here */
    const sk_time_ns *now;    /* the time given to that sk_inputv */
} sk_pair_link;

typedef struct sk_pair {
    sk_stack *c, *s;
    sk_pair_link to_s, to_c;
    int cfd, sfd, lfd;
    sk_time_ns now;
} sk_pair;

typedef struct sk_pair_opts {
    bool sg;             /* transmitv on both stacks */
    bool direct;         /* with sg: the client's pieces go to the server's sk_inputv */
    uint32_t gso;        /* sk_stack_params.gso_max_size */
    uint32_t offloads;   /* sk_stack_params.offloads */
    uint16_t mtu;        /* 0: the default */
    int srv_rcvbuf;      /* the listener's SO_RCVBUF, 0: default */
    sk_event_fn srv_event, cli_event; /* optional on_event of each stack */
    void *srv_event_ctx, *cli_event_ctx;
} sk_pair_opts;

/* The transmit callbacks; ctx is the sk_pair_link to put datagrams on
 * (also for a lone stack of the test's own). */
void sk_pair_tx(void *ctx, const uint8_t *b, size_t len);
void sk_pair_txv(void *ctx, const sk_iovec *iov, size_t count, size_t len);

/* Both stacks, a listener, a connection established and accepted; the
 * clock at 1000 s. */
void sk_pair_up(sk_pair *p, const sk_pair_opts *o);
void sk_pair_down(sk_pair *p);
void sk_pair_link_free(sk_pair_link *l);

/* Feeds what is queued on `l` to `dst`; returns how many datagrams. */
size_t sk_pair_drain_one(sk_pair_link *l, sk_stack *dst, sk_time_ns now);
/* Both directions until neither has anything. */
void sk_pair_drain(sk_pair *p);

/* The byte at stream offset i of every test stream. */
static inline uint8_t sk_pair_pat(size_t i) { return (uint8_t)(i * 131 + (i >> 9)); }

/* Reads all the server has in reads of `rd` bytes, checking each byte
 * against sk_pair_pat from stream offset `got`; returns the new offset. */
size_t sk_pair_read_check(sk_pair *p, size_t got, size_t rd);

/* Moves `total` bytes client -> server in writes of `chunk` (odd sizes
 * make the send ring wrap at odd offsets), reading with plain reads of
 * `rd` bytes and checking every byte; when nothing moves, advances both
 * clocks to the next deadline (delayed ACKs, retransmissions). */
void sk_pair_stream(sk_pair *p, size_t total, size_t chunk, size_t rd);

#endif
