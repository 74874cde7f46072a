/*
 * The event loop for the TUN backend: one synack stack driven from a TUN
 * device in real time.
 *
 * The loop waits in epoll on the TUN descriptor, a signalfd (SIGINT,
 * SIGTERM, SIGUSR1) and optionally one descriptor of the application's,
 * and sleeps exactly until the earliest of the stack's sk_next_deadline,
 * the next impaired datagram's release time and the shutdown deadline
 * (epoll_pwait2, nanosecond timeout), so it never polls.  On each wakeup
 * it reads up to `batch` datagrams (or until EAGAIN), feeds them to the
 * stack with `now` from CLOCK_MONOTONIC, runs due timers, lets the
 * application drive its sockets, then writes every queued datagram; a
 * write that meets EAGAIN waits for EPOLLOUT with the rest still queued.
 *
 * The first SIGINT or SIGTERM (or sk_loop_finish) starts a graceful
 * shutdown: the application's shutdown callback closes its sockets, and
 * the loop keeps running the stack until no connection is left outside
 * TIME_WAIT or the grace period ends; connections still open then are
 * reset (SO_LINGER 0).  A second signal ends the loop at once.
 */
#ifndef SYNACK_LOOP_H
#define SYNACK_LOOP_H

#include "synack/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_loop sk_loop;

/* Impairments applied in the backend to both directions (kernel to stack
 * and stack to kernel), each direction drawing from its own seeded
 * stream, so a run with the same traffic makes the same decisions. */
typedef struct sk_impairment {
    double loss;              /* probability a datagram is dropped          */
    double duplicate;         /* probability it is delivered twice          */
    double reorder;           /* probability it is held back reorder_delay  */
    sk_time_ns delay;         /* added one-way delay                        */
    sk_time_ns reorder_delay; /* 0 means delay + 1 ms                       */
    uint64_t seed;
} sk_impairment;

typedef struct sk_loop_app {
    void *ctx;
    /* Required: called after every wakeup's input and timers; drives the
     * application's sockets (accept, recv, send, close). */
    void (*run)(void *ctx, sk_loop *loop);
    /* Called once when a graceful shutdown starts: close the sockets. */
    void (*shutdown)(void *ctx, sk_loop *loop);
    /* Called on SIGUSR1: print state (for example the socket table). */
    void (*report)(void *ctx, sk_loop *loop);
    /* An extra descriptor to watch (-1 for none), e.g. stdin. */
    int extra_fd;
    uint32_t extra_events; /* EPOLLIN / EPOLLOUT */
    void (*on_extra)(void *ctx, sk_loop *loop, uint32_t revents);
} sk_loop_app;

typedef struct sk_loop_params {
    int tun_fd;               /* from sk_tun_open; the loop owns it        */
    sk_stack_params stack;    /* transmit and now are set by the loop      */
    sk_impairment impair;
    sk_time_ns grace;         /* shutdown grace period; 0 means 3 s        */
    size_t batch;             /* datagrams read per wakeup; 0 means 64     */
    const char *pcap_path;    /* optional: what the stack sent and got     */
} sk_loop_params;

typedef struct sk_loop_stats {
    uint64_t rx_datagrams, tx_datagrams; /* read from / written to the TUN */
    uint64_t rx_bytes, tx_bytes;
    uint64_t impair_lost, impair_duplicated, impair_reordered;
    uint64_t tx_queue_drops; /* queue full while the TUN refused writes */
    uint64_t wakeups;
} sk_loop_stats;

/* Creates the stack and the loop and blocks SIGINT, SIGTERM, SIGUSR1 and
 * ignores SIGPIPE for the process (they are read from a signalfd).
 * Returns NULL with the reason in err. */
SK_EXPORT sk_loop *sk_loop_new(const sk_loop_params *params, const sk_loop_app *app, char *err, size_t errlen);
/* Frees the stack, closes the TUN and restores the signal mask. */
SK_EXPORT void sk_loop_free(sk_loop *loop);

SK_EXPORT sk_stack *sk_loop_stack(sk_loop *loop);
/* CLOCK_MONOTONIC now, in the stack's time base. */
SK_EXPORT sk_time_ns sk_loop_clock(void);

/* Runs until sk_loop_stop, a finished graceful shutdown or a second
 * signal.  Returns 0, or -errno when the TUN failed (err says how). */
SK_EXPORT int sk_loop_run(sk_loop *loop, char *err, size_t errlen);
/* Ends the loop after this iteration's writes are flushed. */
SK_EXPORT void sk_loop_stop(sk_loop *loop);
/* Starts a graceful shutdown, as SIGTERM does. */
SK_EXPORT void sk_loop_finish(sk_loop *loop);
SK_EXPORT bool sk_loop_shutting_down(const sk_loop *loop);
/* The signal that started the shutdown, or 0. */
SK_EXPORT int sk_loop_signal(const sk_loop *loop);
SK_EXPORT const sk_loop_stats *sk_loop_get_stats(const sk_loop *loop);

#ifdef __cplusplus
}
#endif

#endif
