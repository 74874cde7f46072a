/*
 * The in-memory wire: an I/O backend that connects two or more synack
 * stacks in one process, in virtual time.
 *
 * The wire owns the clock.  Each step jumps straight to the next event —
 * a datagram's arrival or a stack's timer deadline — so a 60 s TIME_WAIT
 * takes microseconds of real time.  Impairments (delay, jitter, loss,
 * duplication, reordering, MTU) are set per direction and drawn from the
 * wire's seed, so a run is reproducible.
 */
#ifndef SYNACK_MEMWIRE_H
#define SYNACK_MEMWIRE_H

#include "synack/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_wire sk_wire;

/* Impairments for datagrams travelling from one host to another. */
typedef struct sk_link_params {
    sk_time_ns delay;   /* one-way propagation delay                       */
    sk_time_ns jitter;  /* extra delay drawn uniformly from [0, jitter]    */
    double loss;        /* probability a datagram is dropped               */
    double duplicate;   /* probability a datagram is delivered twice       */
    double reorder;     /* probability a datagram is held back by
                           reorder_delay so later ones overtake it         */
    sk_time_ns reorder_delay; /* 0 means 3 × delay + 1 ms                  */
    uint16_t mtu;       /* datagrams larger than this are dropped; 0 = none */
    /* A bottleneck: datagrams leave one after another at rate_bps (each
     * takes len * 8 / rate_bps to serialize) before the propagation
     * delay; 0 = infinitely fast.  queue_bytes bounds the bytes waiting
     * for the transmitter (a drop-tail queue, drops seen as LOST);
     * 0 = unbounded. */
    uint64_t rate_bps;
    uint32_t queue_bytes;
    /* A hop with a smaller MTU that reports it: when non-zero, a datagram
     * larger than `mtu` with DF set is answered, as a router does (RFC
     * 1191 §4), by an ICMP fragmentation-needed from this address (the
     * hop's) to the sender, quoting as much of it as fits 576 bytes, one
     * `delay` later.  0 leaves the hop silent: a PMTU black hole. */
    uint32_t mtu_icmp_from;
    /* The same for IPv6 (RFC 8201 §4): an oversized IPv6 datagram is
     * answered by an ICMPv6 Packet Too Big from this address, quoting as
     * much of it as fits IPV6_MIN_MTU (1280) bytes.  All zeros: silent. */
    uint8_t mtu_icmp_from6[16];
} sk_link_params;

/* What the tap sees: every datagram put on the wire, and what became of it. */
typedef enum sk_wire_fate {
    SK_WIRE_SENT,       /* handed to the wire by a stack                   */
    SK_WIRE_DELIVERED,  /* given to the destination stack                  */
    SK_WIRE_LOST,       /* dropped by the loss impairment                  */
    SK_WIRE_TOO_BIG,    /* dropped: larger than the link MTU               */
    SK_WIRE_NO_ROUTE,   /* no host has the destination address             */
} sk_wire_fate;

/* The tap is called with SK_WIRE_SENT when a datagram is put on the wire;
 * a datagram dropped at send time (LOST, TOO_BIG, NO_ROUTE) is reported
 * by a second call immediately after its SENT call, and each delivered
 * copy by a DELIVERED call at its arrival time. */
typedef void (*sk_wire_tap_fn)(void *ctx, sk_time_ns now, sk_wire_fate fate,
                               const uint8_t *datagram, size_t len);

/* A drop filter sees each routable datagram that fits the MTU before the
 * random impairments are drawn; returning true drops it (reported to the
 * tap as SK_WIRE_LOST).  Lets a test lose one precise segment. */
typedef bool (*sk_wire_filter_fn)(void *ctx, sk_time_ns now, const uint8_t *datagram,
                                  size_t len);

/* A wire whose clock starts at `start`; `seed` draws the impairments and
 * the hosts' keys.  Returns NULL when memory runs out. */
SK_EXPORT sk_wire *sk_wire_new(uint64_t seed, sk_time_ns start);
/* Frees the wire and every stack it created. */
SK_EXPORT void sk_wire_free(sk_wire *w);

/* Datagrams go to the host whose stack holds their destination address:
 * IPv4 or IPv6, the one it was added with or any given to its stack
 * since with sk_stack_add_addr.  Impairments are set between hosts by
 * their own (IPv4) addresses and apply to both versions. */
/* Creates a stack at `addr` attached to the wire.  `params` may be NULL;
 * otherwise its fields are used except addr, now, transmit and transmitv
 * (the wire's: it takes data segments as scatter-gather pieces and
 * gathers them once into the copy it keeps of each datagram).  A
 * gso_max_size lets the stack send datagrams above its MTU, which the wire
 * carries whole unless a link's `mtu` is set below them.  The wire keeps
 * ownership of the stack. */
SK_EXPORT sk_stack *sk_wire_add_host(sk_wire *w, uint32_t addr, const sk_stack_params *params);
/* Sets impairments from `from` to `to` (addresses; 0 means any). */
SK_EXPORT void sk_wire_set_link(sk_wire *w, uint32_t from, uint32_t to, const sk_link_params *p);
/* Sets (or with NULL removes) the tap. */
SK_EXPORT void sk_wire_set_tap(sk_wire *w, sk_wire_tap_fn tap, void *ctx);
/* Sets (or with NULL removes) the drop filter. */
SK_EXPORT void sk_wire_set_filter(sk_wire *w, sk_wire_filter_fn filter, void *ctx);
/* Puts a hand-made datagram on the wire as if a host had sent it: routed
 * by its destination address and delivered at the current time plus
 * `delay`, with no impairments and no filter.  The tap sees it. */
SK_EXPORT void sk_wire_inject(sk_wire *w, const uint8_t *datagram, size_t len, sk_time_ns delay);
/* The stack at `addr`, or NULL. */
SK_EXPORT sk_stack *sk_wire_host(const sk_wire *w, uint32_t addr);

/* The wire's clock. */
SK_EXPORT sk_time_ns sk_wire_now(const sk_wire *w);
/* The time of the next event (delivery or stack deadline), or
 * SK_TIME_NEVER. */
SK_EXPORT sk_time_ns sk_wire_next_event(const sk_wire *w);
/* Runs the next event (all events due at the same instant); false when
 * there is none. */
SK_EXPORT bool sk_wire_step(sk_wire *w);
/* Runs every event due at or before t, then sets the clock to t. */
SK_EXPORT void sk_wire_run_until(sk_wire *w, sk_time_ns t);
/* Runs for d nanoseconds of virtual time. */
SK_EXPORT void sk_wire_run_for(sk_wire *w, sk_time_ns d);
/* Runs until pred(ctx) holds or the clock passes `limit`; returns whether
 * pred held.  pred is checked after every event. */
SK_EXPORT bool sk_wire_run_until_pred(sk_wire *w, bool (*pred)(void *ctx), void *ctx, sk_time_ns limit);
/* Datagrams in flight. */
SK_EXPORT size_t sk_wire_in_flight(const sk_wire *w);

#ifdef __cplusplus
}
#endif

#endif
