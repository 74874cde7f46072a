/*
 * The TUN event loop (see include/synack-io/loop.h).
 *
 * Two queues sit between the stack and the device:
 *  - the impairment queue, a binary min-heap keyed by (release time,
 *    sequence number), holding datagrams of either direction that are
 *    delayed or reordered; the sequence number keeps datagrams released
 *    at the same instant in the order they were queued;
 *  - the write queue, a ring of fixed-size slots, holding datagrams for
 *    the device until the end of the wakeup (or until EPOLLOUT when the
 *    device pushed back).  When it is full the datagram is dropped and
 *    counted, as a NIC drops on a full transmit queue; TCP retransmits.
 *
 * The stack hands data segments over as scatter-gather pieces (transmitv:
 * its headers, then the payload where it lies in the send queue), which
 * are gathered once, straight into the write queue's slot, instead of the
 * stack copying the payload behind its headers for the loop to copy
 * again; only the capture and the impairment heap take them through one
 * contiguous datagram.  They are not written from inside the callback:
 * doing so (a writev of the pieces as they lie) interleaves the writes
 * with the wakeup's reads, and under callgrind the kernel then answered
 * a 24 MiB download with about ten times the ACKs, costing the stack
 * more than the copy saved.
 */
#include "synack-io/loop.h"
#include "io_bytes.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "observe/pcap.h"
#include "vnet.h"

#define LOOP_DEFAULT_BATCH 64
#define LOOP_DEFAULT_GRACE (3ull * SK_NSEC_PER_SEC)
#define LOOP_WRITE_QUEUE_BYTES (4u << 20)
#define LOOP_MAX_DATAGRAM 65535

enum { DIR_TO_STACK = 0, DIR_TO_DEVICE = 1 };

typedef struct held_datagram {
    sk_time_ns release;
    uint64_t seq;
    int dir;
    size_t len;
    uint8_t *data;
} held_datagram;

/* An application descriptor (sk_loop_add_fd).  Freed only between
 * dispatch rounds: a deleted watch may still sit in this round's events. */
typedef struct loop_watch {
    struct loop_watch *next;
    int fd;
    bool dead;
    sk_loop_fd_fn cb;
    void *ctx;
} loop_watch;

struct sk_loop {
    sk_stack *stack;
    loop_watch *watches;
    bool handle_signals;
    sk_loop_app app;
    int tun_fd, epoll_fd, signal_fd;
    sigset_t old_mask;
    struct sigaction old_sigpipe;
    size_t batch;
    sk_time_ns grace;

    sk_impairment impair;
    bool impaired;
    uint64_t rng[2]; /* one splitmix64 stream per direction */
    held_datagram *heap;
    size_t heap_len, heap_cap;
    uint64_t heap_seq;

    uint8_t *wq;      /* slots of wq_slot bytes */
    size_t *wq_len;
    size_t wq_slot, wq_cap, wq_head, wq_count;
    bool wait_writable;
    bool tx_gso; /* coalesce into super-segments (SK_LOOP_VNET_HDR) */
    uint8_t gso_hdr[SK_VNET_HDR_LEN + 120];

    uint8_t *rbuf;
    uint8_t *gbuf; /* a datagram from transmitv's pieces, when one is needed whole */
    bool vnet; /* SK_LOOP_VNET_HDR: a virtio-net header on every frame */
    size_t hdr_len;
    sk_pcap *pcap;
    sk_loop_stats stats;

    bool stop, shutting_down, shutdown_called;
    bool no_pwait2; /* epoll_pwait2 answered ENOSYS once */
    int signal;
    sk_time_ns shutdown_deadline;
    int io_error;
    char io_err[160];
};

static void extra_cb(void *ctx, sk_loop *l, int fd, uint32_t revents);

sk_time_ns sk_loop_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (sk_time_ns)ts.tv_sec * SK_NSEC_PER_SEC + (sk_time_ns)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Impairment draws                                                     */
/* ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Draws only for a non-zero probability, so an impairment that is off
 * consumes no randomness and does not shift the others' draws. */
static bool chance(sk_loop *l, int dir, double p)
{
    if (p <= 0.0)
        return false;
    if (p >= 1.0)
        return true;
    return (double)(splitmix64(&l->rng[dir]) >> 11) * (1.0 / 9007199254740992.0) < p;
}

/* ------------------------------------------------------------------ */
/* The impairment heap                                                  */
/* ------------------------------------------------------------------ */

static bool held_before(const held_datagram *a, const held_datagram *b)
{
    return a->release < b->release || (a->release == b->release && a->seq < b->seq);
}

static void heap_push(sk_loop *l, int dir, sk_time_ns release, const uint8_t *d, size_t len)
{
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 256;
        held_datagram *grown = realloc(l->heap, cap * sizeof(*grown));
        if (!grown)
            return; /* out of memory: the datagram is lost, TCP recovers */
        l->heap = grown;
        l->heap_cap = cap;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, d, len);
    held_datagram h = {.release = release, .seq = l->heap_seq++, .dir = dir, .len = len, .data = copy};
    size_t i = l->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!held_before(&h, &l->heap[parent]))
            break;
        l->heap[i] = l->heap[parent];
        i = parent;
    }
    l->heap[i] = h;
}

static held_datagram heap_pop(sk_loop *l)
{
    held_datagram top = l->heap[0];
    held_datagram last = l->heap[--l->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->heap_len)
            break;
        if (c + 1 < l->heap_len && held_before(&l->heap[c + 1], &l->heap[c]))
            c++;
        if (!held_before(&l->heap[c], &last))
            break;
        l->heap[i] = l->heap[c];
        i = c;
    }
    if (l->heap_len)
        l->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------ */
/* The write queue                                                      */
/* ------------------------------------------------------------------ */

/* A slot holds the frame as written: with SK_LOOP_VNET_HDR the header,
 * then the datagram, so each frame is one write(2).  A TUN descriptor
 * takes one frame per call and has no batched write (no sendmmsg on a
 * character device): the batching is in the wakeup, whose datagrams all
 * go out back to back before the next wait, and with the virtio-net
 * header in coalescing them into super-segments (wq_gso_run). */
/* The next free slot (in *slot) and its datagram area for `len` bytes,
 * or NULL (counted as a drop) when the queue is full. */
static uint8_t *wq_reserve(sk_loop *l, size_t len, size_t *slot)
{
    if (len + l->hdr_len > l->wq_slot || l->wq_count == l->wq_cap) {
        l->stats.tx_queue_drops++;
        return NULL;
    }
    size_t tail = l->wq_head + l->wq_count;
    *slot = tail < l->wq_cap ? tail : tail - l->wq_cap;
    return l->wq + *slot * l->wq_slot + l->hdr_len;
}

/* Queues the datagram written at wq_reserve's place. */
static void wq_commit(sk_loop *l, size_t slot, size_t len)
{
    uint8_t *p = l->wq + slot * l->wq_slot;
    if (l->vnet)
        sk_vnet_build(p, p + l->hdr_len, len);
    l->wq_len[slot] = len + l->hdr_len;
    l->wq_count++;
}

static void wq_pushv(sk_loop *l, const sk_iovec *iov, size_t count, size_t len)
{
    size_t slot;
    uint8_t *p = wq_reserve(l, len, &slot);
    if (!p)
        return;
    io_gather(p, iov, count);
    wq_commit(l, slot, len);
}

static void wq_push(sk_loop *l, const uint8_t *d, size_t len)
{
    sk_iovec one = {.base = d, .len = len};
    wq_pushv(l, &one, 1, len);
}

static void set_writable_wait(sk_loop *l, bool on)
{
    if (l->wait_writable == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &l->tun_fd};
    epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, l->tun_fd, &ev);
    l->wait_writable = on;
}

/* How many queued datagrams from the head form one super-segment (1 when
 * none does), and the iovecs that write it: the rebuilt headers, then
 * each datagram's payload where it lies in its slot. */
static size_t wq_gso_run(sk_loop *l, struct iovec *iov)
{
    const uint8_t *first = l->wq + l->wq_head * l->wq_slot + l->hdr_len;
    size_t first_len = l->wq_len[l->wq_head] - l->hdr_len;
    sk_vnet_gso_run r;
    size_t seg = sk_vnet_gso_begin(&r, first, first_len);
    if (!seg)
        return 1;
    size_t hlen = r.h, run = 1;
    iov[1] = (struct iovec){.iov_base = (void *)(first + hlen), .iov_len = seg};
    while (run < l->wq_count && run < SK_VNET_GSO_MAX_SEGS) {
        size_t slot = (l->wq_head + run) % l->wq_cap;
        const uint8_t *d = l->wq + slot * l->wq_slot + l->hdr_len;
        size_t len = l->wq_len[slot] - l->hdr_len;
        if (!sk_vnet_gso_extend(&r, d, len))
            break;
        iov[run + 1] = (struct iovec){.iov_base = (void *)(d + hlen), .iov_len = len - hlen};
        run++;
    }
    if (run == 1)
        return 1;
    size_t h = sk_vnet_gso_header(l->gso_hdr, first, r.payload, r.last_flags, (uint16_t)seg);
    iov[0] = (struct iovec){.iov_base = l->gso_hdr, .iov_len = h};
    return run;
}

static void wq_flush(sk_loop *l)
{
    struct iovec iov[SK_VNET_GSO_MAX_SEGS + 1];
    while (l->wq_count) {
        size_t len = l->wq_len[l->wq_head];
        size_t run = 1;
        if (l->tx_gso && l->wq_count > 1)
            run = wq_gso_run(l, iov);
        if (run > 1) {
            /* The super-segment: one writev (tun_chr_write_iter), or on
             * failure the queue left as it was. */
            ssize_t n = writev(l->tun_fd, iov, (int)run + 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                set_writable_wait(l, true);
                return;
            }
            if (n < 0) {
                /* A kernel that refuses it: send the segments one by one. */
                l->tx_gso = false;
                continue;
            }
            l->stats.tx_gso++;
            for (size_t i = 0; i < run; i++) {
                l->stats.tx_datagrams++;
                l->stats.tx_bytes += l->wq_len[l->wq_head] - l->hdr_len;
                l->wq_head = (l->wq_head + 1) % l->wq_cap;
                l->wq_count--;
            }
            continue;
        }
        ssize_t n = write(l->tun_fd, l->wq + l->wq_head * l->wq_slot, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_writable_wait(l, true);
                return;
            }
            /* The kernel refused this datagram (EINVAL for a bad header,
             * EIO when the device went down): drop it, as a NIC would. */
            if (errno == EIO || errno == EBADFD || errno == ENODEV) {
                l->io_error = errno;
                snprintf(l->io_err, sizeof(l->io_err), "write to TUN device: %s", strerror(errno));
            }
            l->stats.tx_queue_drops++;
        } else {
            l->stats.tx_datagrams++;
            l->stats.tx_bytes += len - l->hdr_len;
        }
        l->wq_head = (l->wq_head + 1) % l->wq_cap;
        l->wq_count--;
    }
    set_writable_wait(l, false);
}

/* ------------------------------------------------------------------ */
/* The two directions                                                   */
/* ------------------------------------------------------------------ */

static void to_stack_now(sk_loop *l, const uint8_t *d, size_t len, sk_time_ns now)
{
    if (l->pcap)
        sk_pcap_write(l->pcap, now, d, len);
    sk_input(l->stack, d, len, now);
}

/* Loss, then duplication, then delay and reordering: a duplicated
 * datagram's copies are delayed independently of each other. */
static void impair_or_pass(sk_loop *l, int dir, const uint8_t *d, size_t len, sk_time_ns now)
{
    const sk_impairment *im = &l->impair;
    if (!l->impaired) {
        if (dir == DIR_TO_STACK)
            to_stack_now(l, d, len, now);
        else
            wq_push(l, d, len);
        return;
    }
    if (chance(l, dir, im->loss)) {
        l->stats.impair_lost++;
        return;
    }
    int copies = 1;
    if (chance(l, dir, im->duplicate)) {
        l->stats.impair_duplicated++;
        copies = 2;
    }
    for (int i = 0; i < copies; i++) {
        sk_time_ns release = now + im->delay;
        if (chance(l, dir, im->reorder)) {
            l->stats.impair_reordered++;
            release += im->reorder_delay ? im->reorder_delay : im->delay + SK_NSEC_PER_MSEC;
        }
        heap_push(l, dir, release, d, len);
    }
}

static void release_held(sk_loop *l, sk_time_ns now)
{
    while (l->heap_len && l->heap[0].release <= now) {
        held_datagram h = heap_pop(l);
        if (h.dir == DIR_TO_STACK)
            to_stack_now(l, h.data, h.len, now);
        else
            wq_push(l, h.data, h.len);
        free(h.data);
    }
}

static void loop_transmit(void *ctx, const uint8_t *d, size_t len)
{
    sk_loop *l = ctx;
    sk_time_ns now = sk_now(l->stack);
    if (l->pcap)
        sk_pcap_write(l->pcap, now, d, len);
    impair_or_pass(l, DIR_TO_DEVICE, d, len, now);
}

static void loop_transmitv(void *ctx, const sk_iovec *iov, size_t count, size_t len)
{
    sk_loop *l = ctx;
    if (!l->impaired && !l->pcap) {
        wq_pushv(l, iov, count, len);
        return;
    }
    if (len > LOOP_MAX_DATAGRAM)
        return;
    io_gather(l->gbuf, iov, count);
    loop_transmit(l, l->gbuf, len);
}

/* A frame with a virtio-net header: refused when the header does not
 * describe its datagram; a TCP checksum the kernel did not vouch for is
 * verified here, since the stack was told the link verifies them. */
static void vnet_input(sk_loop *l, const uint8_t *frame, size_t len, sk_time_ns now)
{
    sk_vnet_rx rx;
    if (sk_vnet_parse(frame, len, &rx) != SK_VNET_OK) {
        l->stats.rx_vnet_errors++;
        return;
    }
    if (rx.csum == SK_VNET_CSUM_NONE && !sk_vnet_tcp_csum_ok(rx.dgram, rx.len)) {
        l->stats.rx_csum_errors++;
        return;
    }
    if (rx.gso_size)
        l->stats.rx_gso++;
    l->stats.rx_datagrams++;
    l->stats.rx_bytes += rx.len;
    impair_or_pass(l, DIR_TO_STACK, rx.dgram, rx.len, now);
}

/* Reads up to a batch of datagrams; false on a fatal device error. */
static bool read_tun(sk_loop *l)
{
    sk_time_ns now = sk_loop_clock();
    for (size_t i = 0; i < l->batch; i++) {
        ssize_t n = read(l->tun_fd, l->rbuf, LOOP_MAX_DATAGRAM + l->hdr_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            l->io_error = errno;
            snprintf(l->io_err, sizeof(l->io_err), "read from TUN device: %s", strerror(errno));
            return false;
        }
        if (n == 0)
            continue;
        if (l->vnet) {
            vnet_input(l, l->rbuf, (size_t)n, now);
            continue;
        }
        l->stats.rx_datagrams++;
        l->stats.rx_bytes += (uint64_t)n;
        impair_or_pass(l, DIR_TO_STACK, l->rbuf, (size_t)n, now);
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Shutdown                                                             */
/* ------------------------------------------------------------------ */

typedef struct open_scan {
    sk_stack *stack;
    size_t busy;
    int *handles;
    size_t nhandles, cap;
} open_scan;

/* A connection is finished once nothing of it needs the wire any more:
 * TIME_WAIT answers a retransmitted FIN on its own and is left to die
 * with the process, as a killed Linux process leaves its TIME_WAIT to the
 * kernel; a listener has nothing in flight. */
static void count_open(void *ctx, const sk_sock_info *info)
{
    open_scan *s = ctx;
    if (info->state == SK_TCP_TIME_WAIT || info->state == SK_TCP_CLOSE || info->state == SK_TCP_LISTEN)
        return;
    s->busy++;
    if (info->fd >= 0 && s->nhandles < s->cap)
        s->handles[s->nhandles++] = info->fd;
}

static size_t connections_open(sk_loop *l)
{
    open_scan s = {.stack = l->stack};
    sk_sockets(l->stack, count_open, &s);
    return s.busy;
}

/* Past the grace period: reset what is still open, as Linux does when a
 * process exits with unread data or an abortive close is asked for. */
static void reset_open_connections(sk_loop *l)
{
    int handles[1024];
    open_scan s = {.stack = l->stack, .handles = handles, .cap = 1024};
    sk_sockets(l->stack, count_open, &s);
    struct sk_linger lg = {.l_onoff = 1, .l_linger = 0};
    for (size_t i = 0; i < s.nhandles; i++) {
        sk_setsockopt(l->stack, handles[i], SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof(lg));
        sk_close(l->stack, handles[i]);
    }
}

static void begin_shutdown(sk_loop *l)
{
    if (l->shutting_down)
        return;
    l->shutting_down = true;
    l->shutdown_deadline = sk_loop_clock() + l->grace;
    if (l->app.shutdown && !l->shutdown_called) {
        l->shutdown_called = true;
        l->app.shutdown(l->app.ctx, l);
    }
}

static void read_signals(sk_loop *l)
{
    struct signalfd_siginfo si;
    while (read(l->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
            if (l->app.report)
                l->app.report(l->app.ctx, l);
            continue;
        }
        if (l->shutting_down) {
            l->stop = true; /* second signal: no more grace */
            continue;
        }
        l->signal = (int)si.ssi_signo;
        begin_shutdown(l);
    }
}

/* ------------------------------------------------------------------ */
/* Public                                                               */
/* ------------------------------------------------------------------ */

/* The interface index of the TUN device behind `fd` (what a link-local
 * sin6_scope_id names, as ip -6 addr shows it), or 0 when `fd` is no TUN
 * device (a test's socketpair): the stack then takes 1. */
static uint32_t device_index(int fd)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    if (ioctl(fd, TUNGETIFF, &ifr) < 0)
        return 0;
    return if_nametoindex(ifr.ifr_name);
}

sk_loop *sk_loop_new(const sk_loop_params *p, const sk_loop_app *app, char *err, size_t errlen)
{
    if (!app || !app->run || p->tun_fd < 0) {
        snprintf(err, errlen, "sk_loop_new: a TUN descriptor and an app run callback are required");
        return NULL;
    }
    sk_loop *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->app = *app;
    l->tun_fd = p->tun_fd;
    l->epoll_fd = l->signal_fd = -1;
    l->batch = p->batch ? p->batch : LOOP_DEFAULT_BATCH;
    l->grace = p->grace ? p->grace : LOOP_DEFAULT_GRACE;
    l->impair = p->impair;
    l->impaired = p->impair.loss > 0 || p->impair.duplicate > 0 || p->impair.reorder > 0 || p->impair.delay > 0;
    l->rng[DIR_TO_STACK] = p->impair.seed ^ 0x6b69726e656c3e73ull;
    l->rng[DIR_TO_DEVICE] = p->impair.seed ^ 0x737461636b3e6b65ull;

    l->vnet = (p->flags & SK_LOOP_VNET_HDR) != 0;
    l->tx_gso = l->vnet;
    l->hdr_len = l->vnet ? SK_VNET_HDR_LEN : 0;
    uint16_t mtu = p->stack.mtu ? p->stack.mtu : 1500;
    l->wq_slot = mtu + l->hdr_len;
    l->wq_cap = LOOP_WRITE_QUEUE_BYTES / l->wq_slot;
    if (l->wq_cap < 64)
        l->wq_cap = 64;
    l->wq = malloc(l->wq_cap * l->wq_slot);
    l->wq_len = calloc(l->wq_cap, sizeof(*l->wq_len));
    l->rbuf = malloc(LOOP_MAX_DATAGRAM + l->hdr_len);
    l->gbuf = malloc(LOOP_MAX_DATAGRAM);
    if (!l->wq || !l->wq_len || !l->rbuf || !l->gbuf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    if (p->pcap_path) {
        l->pcap = sk_pcap_open(p->pcap_path, NULL, err, errlen);
        if (!l->pcap)
            goto fail;
    }

    sk_stack_params sp = p->stack;
    sp.mtu = mtu;
    sp.now = sk_loop_clock();
    sp.transmit = loop_transmit;
    sp.transmitv = loop_transmitv;
    sp.transmit_ctx = l;
    if (!sp.ifindex)
        sp.ifindex = device_index(l->tun_fd);
    if (l->vnet)
        sp.offloads |= SK_OFFLOAD_TCP_CSUM_TX | SK_OFFLOAD_TCP_CSUM_RX;
    l->stack = sk_stack_new(&sp);
    if (!l->stack) {
        snprintf(err, errlen, "cannot create the stack (out of memory or bad parameters)");
        goto fail;
    }

    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epoll_fd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->tun_fd};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->tun_fd, &ev) < 0) {
        snprintf(err, errlen, "epoll_ctl on the TUN descriptor: %s", strerror(errno));
        goto fail;
    }
    if (p->flags & SK_LOOP_SIGNALS) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, &l->old_mask) < 0) {
            snprintf(err, errlen, "sigprocmask: %s", strerror(errno));
            goto fail;
        }
        l->handle_signals = true;
        struct sigaction ign = {.sa_handler = SIG_IGN};
        sigaction(SIGPIPE, &ign, &l->old_sigpipe);
        l->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (l->signal_fd < 0) {
            snprintf(err, errlen, "signalfd: %s", strerror(errno));
            goto fail;
        }
        ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &l->signal_fd};
        epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->signal_fd, &ev);
    }
    if (app->extra_fd >= 0 && app->on_extra) {
        int rc = sk_loop_add_fd(l, app->extra_fd, app->extra_events ? app->extra_events : EPOLLIN, extra_cb, l);
        if (rc < 0) {
            snprintf(err, errlen, "epoll_ctl on descriptor %d: %s", app->extra_fd, strerror(-rc));
            goto fail;
        }
    }
    return l;
fail:
    l->tun_fd = -1; /* the caller still owns it when creation fails */
    sk_loop_free(l);
    return NULL;
}

/* The sk_loop_app.extra_fd callback's signature predates sk_loop_add_fd. */
static void extra_cb(void *ctx, sk_loop *l, int fd, uint32_t revents)
{
    l->app.on_extra(l->app.ctx, l, revents);
}

static loop_watch *watch_find(const sk_loop *l, int fd)
{
    for (loop_watch *w = l->watches; w; w = w->next)
        if (w->fd == fd && !w->dead)
            return w;
    return NULL;
}

int sk_loop_add_fd(sk_loop *l, int fd, uint32_t events, sk_loop_fd_fn cb, void *ctx)
{
    if (!l || fd < 0 || !cb)
        return -EINVAL;
    if (watch_find(l, fd) || fd == l->tun_fd || fd == l->epoll_fd || fd == l->signal_fd)
        return -EEXIST;
    loop_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    *w = (loop_watch){.next = l->watches, .fd = fd, .cb = cb, .ctx = ctx};
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        free(w);
        return -e;
    }
    l->watches = w;
    return 0;
}

int sk_loop_mod_fd(sk_loop *l, int fd, uint32_t events)
{
    loop_watch *w = l ? watch_find(l, fd) : NULL;
    if (!w)
        return -ENOENT;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int sk_loop_del_fd(sk_loop *l, int fd)
{
    loop_watch *w = l ? watch_find(l, fd) : NULL;
    if (!w)
        return -ENOENT;
    /* The descriptor may already be closed (EBADF): the watch goes anyway. */
    epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    w->dead = true;
    return 0;
}

static void watches_sweep(sk_loop *l)
{
    for (loop_watch **pp = &l->watches; *pp;) {
        loop_watch *w = *pp;
        if (w->dead) {
            *pp = w->next;
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

void sk_loop_free(sk_loop *l)
{
    if (!l)
        return;
    for (loop_watch *w = l->watches; w; w = w->next)
        w->dead = true;
    watches_sweep(l);
    if (l->signal_fd >= 0)
        close(l->signal_fd);
    if (l->handle_signals) {
        /* Signals that arrived after the last read stay pending; drop
         * them rather than die of them when the mask is restored. */
        struct sigaction dfl_int, dfl_term;
        struct sigaction ign = {.sa_handler = SIG_IGN};
        sigaction(SIGINT, &ign, &dfl_int);
        sigaction(SIGTERM, &ign, &dfl_term);
        sigaction(SIGUSR1, &ign, NULL);
        sigprocmask(SIG_SETMASK, &l->old_mask, NULL);
        sigaction(SIGINT, &dfl_int, NULL);
        sigaction(SIGTERM, &dfl_term, NULL);
        sigaction(SIGPIPE, &l->old_sigpipe, NULL);
    }
    if (l->epoll_fd >= 0)
        close(l->epoll_fd);
    if (l->tun_fd >= 0)
        close(l->tun_fd);
    for (size_t i = 0; i < l->heap_len; i++)
        free(l->heap[i].data);
    free(l->heap);
    if (l->stack)
        sk_stack_free(l->stack);
    sk_pcap_close(l->pcap);
    free(l->wq);
    free(l->wq_len);
    free(l->rbuf);
    free(l->gbuf);
    free(l);
}

sk_stack *sk_loop_stack(sk_loop *l)
{
    return l->stack;
}

void sk_loop_stop(sk_loop *l)
{
    l->stop = true;
}

void sk_loop_finish(sk_loop *l)
{
    begin_shutdown(l);
}

bool sk_loop_shutting_down(const sk_loop *l)
{
    return l->shutting_down;
}

int sk_loop_signal(const sk_loop *l)
{
    return l->signal;
}

const sk_loop_stats *sk_loop_get_stats(const sk_loop *l)
{
    return &l->stats;
}

int sk_loop_run(sk_loop *l, char *err, size_t errlen)
{
    struct epoll_event events[32];
    int nev = 0;
    l->stop = false; /* an application may run the loop again after sk_loop_stop */
    for (;;) {
        bool tun_readable = false;
        for (int i = 0; i < nev; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &l->tun_fd) {
                if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    tun_readable = true;
                if (events[i].events & EPOLLOUT)
                    set_writable_wait(l, false); /* the flush below re-arms if needed */
            } else if (tag == &l->signal_fd) {
                read_signals(l);
            } else {
                loop_watch *w = tag;
                if (!w->dead)
                    w->cb(w->ctx, l, w->fd, events[i].events);
            }
        }
        watches_sweep(l);
        if (tun_readable && !read_tun(l))
            break;

        sk_time_ns now = sk_loop_clock();
        release_held(l, now);
        if (sk_next_deadline(l->stack) <= now)
            sk_advance(l->stack, now);
        l->app.run(l->app.ctx, l);
        wq_flush(l);
        if (l->io_error)
            break;

        if (l->shutting_down && !l->stop) {
            if (connections_open(l) == 0 && l->heap_len == 0 && l->wq_count == 0) {
                l->stop = true;
            } else if (sk_loop_clock() >= l->shutdown_deadline) {
                reset_open_connections(l);
                wq_flush(l);
                l->stop = true;
            }
        }
        if (l->stop)
            break;

        sk_time_ns deadline = sk_next_deadline(l->stack);
        if (l->heap_len && l->heap[0].release < deadline)
            deadline = l->heap[0].release;
        if (l->shutting_down && l->shutdown_deadline < deadline)
            deadline = l->shutdown_deadline;
        if (l->app.deadline) {
            sk_time_ns a = l->app.deadline(l->app.ctx);
            if (a < deadline)
                deadline = a;
        }
        struct timespec ts, *timeout = NULL;
        if (deadline != SK_TIME_NEVER) {
            sk_time_ns t = sk_loop_clock();
            sk_time_ns wait = deadline > t ? deadline - t : 0;
            ts.tv_sec = (time_t)(wait / SK_NSEC_PER_SEC);
            ts.tv_nsec = (long)(wait % SK_NSEC_PER_SEC);
            timeout = &ts;
        }
        l->stats.wakeups++;
        nev = l->no_pwait2 ? -1 : epoll_pwait2(l->epoll_fd, events, 32, timeout, NULL);
        if (nev < 0 && (l->no_pwait2 || errno == ENOSYS)) {
            /* Kernels before 5.11 (and valgrind) lack epoll_pwait2: wait
             * in milliseconds, rounded up so a timer is never run early. */
            l->no_pwait2 = true;
            int ms = -1;
            if (timeout) {
                uint64_t ns = (uint64_t)timeout->tv_sec * SK_NSEC_PER_SEC + (uint64_t)timeout->tv_nsec;
                uint64_t m = (ns + SK_NSEC_PER_MSEC - 1) / SK_NSEC_PER_MSEC;
                ms = m > 1000000000u ? 1000000000 : (int)m;
            }
            nev = epoll_wait(l->epoll_fd, events, 32, ms);
        }
        if (nev < 0) {
            if (errno == EINTR) {
                nev = 0;
                continue;
            }
            l->io_error = errno;
            snprintf(l->io_err, sizeof(l->io_err), "epoll_pwait2: %s", strerror(errno));
            break;
        }
    }
    if (l->io_error) {
        snprintf(err, errlen, "%s", l->io_err);
        return -l->io_error;
    }
    return 0;
}
