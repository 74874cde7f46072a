/*
 * The event loop for the TUN backend: one synack stack driven from a TUN
 * device in real time.
 *
 * The loop waits in epoll on the TUN descriptor, any number of the
 * application's descriptors (sk_loop_add_fd) and, only when asked
 * (SK_LOOP_SIGNALS), a signalfd for SIGINT, SIGTERM and SIGUSR1; it sleeps exactly until the earliest of the stack's sk_next_deadline,
 * the next impaired datagram's release time and the shutdown deadline
 * (epoll_pwait2, nanosecond timeout), so it never polls.  On each wakeup
 * it reads up to `batch` datagrams (or until EAGAIN), feeds them to the
 * stack with `now` from CLOCK_MONOTONIC, runs due timers, lets the
 * application drive its sockets, then writes every queued datagram; a
 * write that meets EAGAIN waits for EPOLLOUT with the rest still queued.
 *
 * Signals belong to the application unless it passes SK_LOOP_SIGNALS:
 * without it the loop leaves the signal mask and every disposition alone
 * (an application that wants to stop on a signal calls sk_loop_finish or
 * sk_loop_stop from its own handler or signalfd, which it can watch with
 * sk_loop_add_fd).
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
    /* Called on SIGUSR1 (with SK_LOOP_SIGNALS): print state. */
    void (*report)(void *ctx, sk_loop *loop);
    /* One descriptor to watch (-1 for none), e.g. stdin: the same as one
     * sk_loop_add_fd call made by sk_loop_new.  Zero is a descriptor
     * (stdin): set -1 when on_extra is set and nothing is to be watched. */
    int extra_fd;
    uint32_t extra_events; /* EPOLLIN / EPOLLOUT */
    void (*on_extra)(void *ctx, sk_loop *loop, uint32_t revents);
    /* Optional: when the application next wants `run` called even if
     * nothing arrives (a paced accept() or read()), on the stack's clock;
     * SK_TIME_NEVER for no such time. */
    sk_time_ns (*deadline)(void *ctx);
} sk_loop_app;

/* sk_loop_params.flags */
#define SK_LOOP_SIGNALS 0x1u /* the loop blocks SIGINT, SIGTERM and SIGUSR1,
                                reads them from a signalfd and ignores
                                SIGPIPE, until sk_loop_free */
#define SK_LOOP_VNET_HDR 0x2u /* the descriptor carries a virtio-net header
                                before each datagram (sk_tun_open_flags
                                with SK_TUN_VNET_HDR): the stack leaves TCP
                                checksums to the kernel (NEEDS_CSUM) and
                                trusts those the kernel vouches for
                                (DATA_VALID, or its own partial ones);
                                the loop verifies the others, and the
                                kernel's super-segments go to the stack
                                whole; what the stack sends in one wakeup
                                on one connection is coalesced into
                                super-segments for the kernel (TSO) */

typedef struct sk_loop_params {
    int tun_fd;               /* from sk_tun_open; the loop owns it        */
    unsigned flags;           /* SK_LOOP_*                                 */
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
    /* SK_LOOP_VNET_HDR only: */
    uint64_t rx_vnet_errors; /* frames whose virtio-net header was refused */
    uint64_t rx_csum_errors; /* TCP checksums the loop found wrong: frames
                                the kernel did not vouch for (no DATA_VALID
                                or NEEDS_CSUM), the stack's InCsumErrors
                                for this link */
    uint64_t rx_gso;         /* super-segments (gso_size set) taken whole  */
    uint64_t tx_gso;         /* super-segments written: consecutive
                                segments of one connection coalesced into
                                one write (each still counted in
                                tx_datagrams) */
} sk_loop_stats;

/* Creates the stack and the loop; with SK_LOOP_SIGNALS, also blocks
 * SIGINT, SIGTERM, SIGUSR1 and ignores SIGPIPE for the process (they are
 * read from a signalfd).  Returns NULL with the reason in err. */
SK_EXPORT sk_loop *sk_loop_new(const sk_loop_params *params, const sk_loop_app *app, char *err, size_t errlen);
/* Frees the stack, closes the TUN and, with SK_LOOP_SIGNALS, restores
 * the signal mask.  Descriptors added with sk_loop_add_fd stay open: they
 * are the application's. */
SK_EXPORT void sk_loop_free(sk_loop *loop);

/* The stack the loop drives (owned by the loop). */
SK_EXPORT sk_stack *sk_loop_stack(sk_loop *loop);
/* CLOCK_MONOTONIC now, in the stack's time base. */
SK_EXPORT sk_time_ns sk_loop_clock(void);

/* Runs until sk_loop_stop, a finished graceful shutdown or a second
 * signal.  Returns 0, or -errno when the TUN failed (err says how). */
SK_EXPORT int sk_loop_run(sk_loop *loop, char *err, size_t errlen);
/* Ends the loop after this iteration's writes are flushed; sk_loop_run
 * may be called again afterwards. */
SK_EXPORT void sk_loop_stop(sk_loop *loop);
/* Starts a graceful shutdown, as SIGTERM does. */
SK_EXPORT void sk_loop_finish(sk_loop *loop);
/* Whether a graceful shutdown has started. */
SK_EXPORT bool sk_loop_shutting_down(const sk_loop *loop);
/* The signal that started the shutdown, or 0. */
SK_EXPORT int sk_loop_signal(const sk_loop *loop);
/* The loop's counters, live (the pointer stays valid until sk_loop_free). */
SK_EXPORT const sk_loop_stats *sk_loop_get_stats(const sk_loop *loop);

/* Called from sk_loop_run when `fd` is ready; `revents` are epoll's
 * (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef void (*sk_loop_fd_fn)(void *ctx, sk_loop *loop, int fd, uint32_t revents);

/* Watches one of the application's descriptors for `events` (EPOLLIN,
 * EPOLLOUT, ...; level-triggered): `cb` runs after the wakeup's input,
 * before app.run.  Any number may be added, at any time, also from a
 * callback.  The loop never reads, writes or closes them.  Returns 0,
 * -EEXIST if `fd` is already watched, -EINVAL, or epoll's -errno. */
SK_EXPORT int sk_loop_add_fd(sk_loop *loop, int fd, uint32_t events, sk_loop_fd_fn cb, void *ctx);
/* Changes the events watched for `fd`.  Returns 0 or -ENOENT. */
SK_EXPORT int sk_loop_mod_fd(sk_loop *loop, int fd, uint32_t events);
/* Stops watching `fd` (call it before closing the descriptor); safe from
 * inside any callback, including fd's own.  Returns 0 or -ENOENT. */
SK_EXPORT int sk_loop_del_fd(sk_loop *loop, int fd);

#ifdef __cplusplus
}
#endif

#endif
