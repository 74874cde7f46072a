/*
 * The runner's shared-object backend: a packetdrill shared object
 * (packetdrill's --so_filename mode, e.g. build/libsynack-packetdrill.so)
 * driven only through struct packetdrill_interface and the way the real
 * packetdrill drives it (shared/reference/packetdrill-so-contract.md), so
 * that an object this runner passes does not hang or die under packetdrill:
 *   - start: gettimeofday() read at ten "jiffy edges", script time 0 is the
 *     last reading plus 250 us, and the wait for it is pure polling;
 *   - waiting for an event: gettimeofday() until it is due, with usleep()
 *     only once an event has run and only for all but the last 20 us;
 *   - sniffing an outbound packet: netdev_receive() called until it returns
 *     0, any other return meaning "nothing yet"; a 0 return is a datagram,
 *     and one too short for an IP header fails as packetdrill fails;
 *   - a call the script marks blocking (`...` in its time) runs on a second
 *     thread, the main thread going on once that thread sleeps ('S' in
 *     /proc/self/task/TID/stat) or has returned; its return time is the
 *     thread's own gettimeofday() right after the call (packetdrill waits
 *     for the call's start time on that thread, the runner before handing
 *     it over: the clock reaches the same instant); a call without `...`
 *     is made on the main thread, blocking as the socket says;
 *   - end: every descriptor the script left open is closed with the OS's
 *     close(2) (EBADF fails the script, as packetdrill dies), then a RST is
 *     injected for each connection, then the object is freed.
 * Where the runner needs more than packetdrill does (to describe what went
 * wrong, to find outbound packets a script did not list), it uses calls
 * that do not disturb this pattern: draining with netdev_receive() stops at
 * the first "nothing", which does not move the object's clock.  It also
 * reads the clock less: packetdrill reads it once more after each wait
 * (check_event_time) and before each relative event, and with a clock
 * that moves 1 us per read in a row its script drifts a microsecond or two
 * per event; the runner keeps events at their exact times, so that results
 * and messages match the linked engine's.  Relative times stay relative to
 * the previous event's script time, as for the engine (packetdrill takes
 * most from the live clock).
 *
 * What the interface cannot carry:
 *   - `tc qdisc ... pfifo limit 0` (local congestion): such scripts SKIP.
 *   - %{ }% blocks: packetdrill reads TCP_INFO for them with the OS's
 *     getsockopt(2) on the descriptor, not through the interface; the
 *     runner does not run them and a script that otherwise passes SKIPs.
 *   - Sysctl lines are not written to /proc/sys: the ones before the
 *     first call or packet become NAME=VALUE flags of packetdrill_interface_init
 *     (with proc_sys= empty, so the machine's settings never leak in).
 *     They are checked against the linked engine's tunables first so
 *     unknown names SKIP exactly as with the native backend.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "packetdrill/packetdrill_interface.h"
#include "script/run_internal.h"
#include "synack/packet.h"

#define SO_MAX_DATAGRAM 65536
/* While a blocking call is in flight the runner moves time in steps this
 * small, looking after each whether it returned: far inside the default
 * 4 ms tolerance. */
#define SO_STEP_NS (100 * SK_NSEC_PER_USEC)
#define SO_MAX_FLAGS 8192
/* packetdrill: MAX_SPIN_USECS, JIFFY_OFFSET_USECS, TARGET_JIFFY_TICKS. */
#define SO_SPIN_USECS 20
#define SO_START_OFFSET_USECS 250
#define SO_START_READS 10
/* Reads of a clock that stands still before the runner calls it stuck
 * (packetdrill would spin forever). */
#define SO_STUCK_POLLS 100000
#define SO_RECEIVE_CHECK 4096
#define SO_QUIET_LIMIT_SECS 5
#define SO_MAX_POLLFDS 64
#define SO_MAX_EVENTS 16
#define SO_MAX_FLOWS 64

/* packetdrill's so_instance_init() flags.  The sanitizers' runtimes refuse
 * RTLD_DEEPBIND (they must see every call), so those builds go without. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SO_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SO_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
#endif
#endif
#ifndef SO_DLOPEN_FLAGS
#define SO_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE | RTLD_DEEPBIND)
#endif

typedef void (*so_init_fn)(const char *flags, struct packetdrill_interface *ifc);

typedef struct so_sysctl {
    char name[96];
} so_sysctl;

typedef enum so_op_kind { SO_OP_ACCEPT, SO_OP_CONNECT, SO_OP_RECV, SO_OP_SEND, SO_OP_SENDTO, SO_OP_POLL, SO_OP_EPOLL_WAIT } so_op_kind;

/* One system call, as packetdrill's system-call thread makes it. */
typedef struct so_op {
    so_op_kind kind;
    int fd, flags, timeout_ms, max;
    size_t len;
    /* sockaddr_in or sockaddr_in6, as packetdrill passes the run's family */
    struct sockaddr_storage sin;
    socklen_t sinlen;
    struct pollfd pfd[SO_MAX_POLLFDS];
    size_t nfds;
    struct epoll_event ev[SO_MAX_EVENTS];
    /* results */
    int64_t result;      /* >= 0 or -errno */
    long long end_usecs; /* gettimeofday() right after it returned */
} so_op;

typedef enum so_thread_state { SO_IDLE, SO_ENQUEUED, SO_RUNNING, SO_DONE, SO_EXIT } so_thread_state;

/* What packetdrill's reset_connection() needs of each connection. */
typedef struct so_flow {
    uint32_t local, remote;
    uint16_t lport, rport;
    bool injected_ack;
    uint32_t in_seq, in_ack, in_len;
    uint16_t in_win;
    uint16_t in_flags;
    bool out_ack;
    uint32_t out_seq, out_ack_seq;
} so_flow;

typedef struct so_state {
    struct packetdrill_interface ifc;
    bool have_ifc;
    long long t0_usecs;      /* gettimeofday() of script time 0 (r->base) */
    bool idle_receive;       /* the main thread's last call was an empty receive */
    uint8_t *buf;
    /* A scratch engine holding the configuration the flags will carry:
     * it validates names and values as the native backend would. */
    sk_stack *cfg;
    so_sysctl set[SK_RUN_MAX_SAVED_SYSCTLS * 2];
    size_t set_count;
    bool changed_after_open;

    /* packetdrill's system-call thread */
    bool thread_started;
    pthread_t thread;
    pid_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    so_thread_state state;
    so_op op;

    so_flow flows[SO_MAX_FLOWS];
    size_t flow_count;
} so_state;

static so_state *st(sk_runner *r) { return r->be_state; }

static int neg_errno(int rc)
{
    return rc < 0 ? -(errno ? errno : EIO) : rc;
}

/* Every call of the main thread goes through here: it ends a run of empty
 * receives (see drain). */
#define CALL(r, fn, ...) (st(r)->idle_receive = false, errno = 0, st(r)->ifc.fn(st(r)->ifc.userdata, __VA_ARGS__))

static long long clock_usecs(so_state *s)
{
    struct timeval tv;
    s->idle_receive = false;
    s->ifc.gettimeofday(s->ifc.userdata, &tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static sk_time_ns runner_ns(const sk_runner *r, const so_state *s, long long usecs)
{
    if (usecs <= s->t0_usecs)
        return r->base;
    return r->base + (sk_time_ns)(usecs - s->t0_usecs) * SK_NSEC_PER_USEC;
}

static long long object_usecs(const sk_runner *r, const so_state *s, sk_time_ns t)
{
    return s->t0_usecs + (long long)((t - r->base) / SK_NSEC_PER_USEC);
}

/* The runner's clock follows the object's (it moves on its own: polls,
 * sleeps, waits for packets, blocking calls on the main thread). */
static void sync_now(sk_runner *r)
{
    so_state *s = st(r);
    sk_time_ns t = runner_ns(r, s, clock_usecs(s));
    if (t > r->now)
        r->now = t;
}

/* ------------------------------------------------------------------ */
/* Flows, for the RSTs packetdrill injects at the end                   */
/* ------------------------------------------------------------------ */

static so_flow *flow_of(so_state *s, uint32_t local, uint32_t remote, uint16_t lport, uint16_t rport)
{
    for (size_t i = 0; i < s->flow_count; i++)
        if (s->flows[i].lport == lport && s->flows[i].rport == rport && s->flows[i].local == local &&
            s->flows[i].remote == remote)
            return &s->flows[i];
    if (s->flow_count == SO_MAX_FLOWS)
        return NULL;
    so_flow *f = &s->flows[s->flow_count++];
    memset(f, 0, sizeof(*f));
    f->local = local;
    f->remote = remote;
    f->lport = lport;
    f->rport = rport;
    return f;
}

static void note_datagram(so_state *s, const uint8_t *d, size_t len, bool inbound)
{
    sk_segment seg;
    if (sk_parse_segment(d, len, false, &seg) != SK_PARSE_OK)
        return;
    so_flow *f = inbound ? flow_of(s, seg.dst, seg.src, seg.dport, seg.sport)
                         : flow_of(s, seg.src, seg.dst, seg.sport, seg.dport);
    if (!f)
        return;
    if (inbound && (seg.flags & SK_TH_ACK)) {
        f->injected_ack = true;
        f->in_seq = seg.seq;
        f->in_ack = seg.ack;
        f->in_len = (uint32_t)seg.payload_len;
        f->in_win = seg.window;
        f->in_flags = seg.flags;
    } else if (!inbound) {
        f->out_ack = (seg.flags & SK_TH_ACK) != 0 || f->out_ack;
        f->out_seq = seg.seq;
        if (seg.flags & SK_TH_ACK)
            f->out_ack_seq = seg.ack;
    }
}

/* ------------------------------------------------------------------ */
/* Outbound datagrams                                                   */
/* ------------------------------------------------------------------ */

/* A 0 return is a datagram: packetdrill parses it as IP, whatever count. */
static bool take_datagram(sk_runner *r, size_t count, long long t)
{
    so_state *s = st(r);
    if (count < 20) {
        sk_run_fail(r, "error handling packet: IP header overflows packet: packet of %zu bytes (netdev_receive "
                       "returned 0, which packetdrill reads as a datagram)",
                    count);
        return false;
    }
    note_datagram(s, s->buf, count, false);
    sk_run_queue_out(r, s->buf, count, runner_ns(r, s, t));
    return true;
}

/* Takes every datagram the object has queued, with its time, stopping at
 * the first "nothing yet".  A receive right after an empty one would be a
 * poll and move the object's clock: nothing can have been queued by the
 * main thread since, so skip it. */
static void drain(sk_runner *r)
{
    so_state *s = st(r);
    if (!s->have_ifc || s->idle_receive || r->done)
        return;
    for (;;) {
        size_t count = SO_MAX_DATAGRAM;
        long long t = 0;
        int rc = CALL(r, netdev_receive, s->buf, &count, &t);
        if (rc != 0) {
            if (errno != EAGAIN)
                sk_run_fail(r, "netdev_receive: %s", strerror(errno));
            s->idle_receive = true;
            return;
        }
        if (!take_datagram(r, count, t))
            return;
    }
}

/* packetdrill's sniffer: netdev_receive() until it returns 0.  The object
 * moves its clock while it is asked again and again; the runner looks at
 * the clock now and then only to stop at `limit` (packetdrill would wait
 * for ever) and to report a clock that stands still. */
static void so_wait_output(sk_runner *r, sk_time_ns limit)
{
    so_state *s = st(r);
    if (!s->have_ifc)
        return;
    unsigned long empties = 0;
    long long checked = -1;
    for (;;) {
        if (r->done)
            return;
        size_t count = SO_MAX_DATAGRAM;
        long long t = 0;
        int rc = CALL(r, netdev_receive, s->buf, &count, &t);
        if (rc == 0) {
            if (take_datagram(r, count, t))
                drain(r);
            sync_now(r);
            return;
        }
        if (errno != EAGAIN) {
            sk_run_fail(r, "netdev_receive: %s", strerror(errno));
            return;
        }
        s->idle_receive = true;
        if (++empties % SO_RECEIVE_CHECK == 0) {
            long long now = clock_usecs(s);
            if (runner_ns(r, s, now) > limit) {
                sync_now(r);
                return;
            }
            if (now == checked) {
                sk_run_fail(r, "netdev_receive() returned nothing %lu times while the clock stood at %.6f: "
                               "packetdrill would wait here for ever",
                            empties, (double)(int64_t)(runner_ns(r, s, now) - r->base) / 1e9);
                return;
            }
            checked = now;
        }
    }
}

/* ------------------------------------------------------------------ */
/* packetdrill's system-call thread                                     */
/* ------------------------------------------------------------------ */

static void perform(so_state *s, so_op *op)
{
    void *ud = s->ifc.userdata;
    errno = 0;
    int64_t rc = 0;
    switch (op->kind) {
    case SO_OP_ACCEPT: {
        socklen_t len = sizeof(op->sin);
        memset(&op->sin, 0, sizeof(op->sin));
        rc = s->ifc.accept(ud, op->fd, (struct sockaddr *)&op->sin, &len);
        op->sinlen = len;
        break;
    }
    case SO_OP_CONNECT:
        rc = s->ifc.connect(ud, op->fd, (const struct sockaddr *)&op->sin, op->sinlen);
        break;
    case SO_OP_RECV:
    case SO_OP_SENDTO:
    case SO_OP_SEND: {
        void *buf = calloc(1, op->len ? op->len : 1);
        if (!buf) {
            rc = -1;
            errno = ENOMEM;
        } else if (op->kind == SO_OP_RECV) {
            rc = s->ifc.recv(ud, op->fd, buf, op->len, op->flags);
        } else if (op->kind == SO_OP_SENDTO) {
            rc = s->ifc.sendto(ud, op->fd, buf, op->len, op->flags, (const struct sockaddr *)&op->sin, op->sinlen);
        } else {
            rc = s->ifc.send(ud, op->fd, buf, op->len, op->flags);
        }
        free(buf);
        break;
    }
    case SO_OP_POLL:
        rc = s->ifc.poll(ud, op->pfd, (nfds_t)op->nfds, op->timeout_ms);
        break;
    case SO_OP_EPOLL_WAIT:
        rc = s->ifc.epoll_wait(ud, op->fd, op->ev, op->max, op->timeout_ms);
        break;
    }
    op->result = rc < 0 ? -(errno ? errno : EIO) : rc;
}

static void *syscall_thread(void *arg)
{
    so_state *s = arg;
    pthread_mutex_lock(&s->mu);
    s->tid = gettid();
    pthread_cond_broadcast(&s->cv);
    for (;;) {
        while (s->state == SO_IDLE || s->state == SO_DONE)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->state == SO_EXIT)
            break;
        /* SO_ENQUEUED: take it and tell the main thread it started. */
        so_op op = s->op;
        s->state = SO_RUNNING;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        perform(s, &op);
        /* packetdrill's end_syscall(): the return time, read at once. */
        struct timeval tv;
        s->ifc.gettimeofday(s->ifc.userdata, &tv, NULL);
        op.end_usecs = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
        pthread_mutex_lock(&s->mu);
        s->op = op;
        s->state = SO_DONE;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The thread's scheduler state as packetdrill reads it: 'S' is asleep. */
static char thread_state(pid_t tid)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return '?';
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    char *paren = ok ? strrchr(line, ')') : NULL;
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* packetdrill's main thread after handing a call over: yield, then go on
 * once the thread sleeps or the call is done.  Also how the runner looks
 * at a call in flight: a thread woken by the object runs (state R) until
 * it sleeps again or returns. */
static so_thread_state await_quiet(sk_runner *r, so_state *s)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int asleep = 0;
    for (unsigned long n = 0;; n++) {
        sched_yield();
        if (n % 1024 == 1023) {
            /* A call woken in the object runs for microseconds; one that
             * neither sleeps nor returns is spinning, and packetdrill's
             * main thread would wait for it for ever. */
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec > SO_QUIET_LIMIT_SECS) {
                sk_run_fail(r, "the blocking call's thread has neither slept nor returned for %d s: a blocking "
                               "call must sleep (packetdrill waits for state 'S' in /proc/self/task/TID/stat)",
                            SO_QUIET_LIMIT_SECS);
                return SO_RUNNING;
            }
        }
        /* packetdrill takes one 'S' as asleep; two in a row, a yield apart,
         * keep a moment's wait on a lock from passing for a call that
         * blocks (it would let the script move on before the call began). */
        asleep = thread_state(s->tid) == 'S' ? asleep + 1 : 0;
        pthread_mutex_lock(&s->mu);
        so_thread_state state = s->state;
        pthread_mutex_unlock(&s->mu);
        if (state == SO_DONE || state == SO_IDLE || (asleep >= 2 && state == SO_RUNNING))
            return state;
    }
}

static bool start_thread(sk_runner *r)
{
    so_state *s = st(r);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->state = SO_IDLE;
    if (pthread_create(&s->thread, NULL, syscall_thread, s) != 0) {
        sk_run_fail(r, "cannot start the system-call thread");
        return false;
    }
    s->thread_started = true;
    pthread_mutex_lock(&s->mu);
    while (s->tid == 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return true;
}

/* How the script's current call is to be made. */
typedef enum so_mode { SO_PROBE, SO_MAIN, SO_THREAD } so_mode;

static so_mode mode_of(const sk_runner *r)
{
    if (!r->call)
        return SO_PROBE; /* the runner's own look, never blocking */
    return r->call->ev->syscall.has_end ? SO_THREAD : SO_MAIN;
}

static int timeout_ms(const sk_runner *r)
{
    const sk_run_pending *p = r->call;
    if (!p || p->timeout_at == SK_TIME_NEVER)
        return -1;
    if (p->timeout_at <= r->now)
        return 0;
    return (int)((p->timeout_at - r->now + SK_NSEC_PER_MSEC - 1) / SK_NSEC_PER_MSEC);
}

/* Hands the call over on its first attempt, then reports it: true with
 * op's results once it has returned, false (and r->call->in_flight) while
 * it sleeps in the object. */
static bool threaded(sk_runner *r, so_op *op)
{
    so_state *s = st(r);
    sk_run_pending *p = r->call;
    if (!p->threaded) {
        p->threaded = true;
        pthread_mutex_lock(&s->mu);
        if (s->state != SO_IDLE) {
            pthread_mutex_unlock(&s->mu);
            sk_run_fail(r, "blocking system call while another blocking system call is already in progress");
            return false;
        }
        s->op = *op;
        s->state = SO_ENQUEUED;
        pthread_cond_broadcast(&s->cv);
        while (s->state == SO_ENQUEUED)
            pthread_cond_wait(&s->cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
    if (await_quiet(r, s) != SO_DONE) {
        p->in_flight = true;
        return false;
    }
    pthread_mutex_lock(&s->mu);
    *op = s->op;
    s->state = SO_IDLE;
    pthread_mutex_unlock(&s->mu);
    p->returned_at = runner_ns(r, s, op->end_usecs);
    /* Whatever the call sent is queued by now. */
    drain(r);
    return true;
}

static void *load(sk_runner *r, const char *path)
{
    /* One object per process is enough: each script gets its own
     * instance from packetdrill_interface_init(). */
    static void *handle;
    static const char *loaded;
    if (handle && loaded && strcmp(loaded, path) == 0)
        return dlsym(handle, "packetdrill_interface_init");
    void *h = dlopen(path, SO_DLOPEN_FLAGS);
    if (!h) {
        sk_run_fail(r, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    void *sym = dlsym(h, "packetdrill_interface_init");
    if (!sym) {
        sk_run_fail(r, "%s has no packetdrill_interface_init", path);
        dlclose(h);
        return NULL;
    }
    handle = h;
    loaded = path;
    return sym;
}

static void discard(void *ctx, const uint8_t *datagram, size_t len) {}

static bool ensure_cfg(sk_runner *r)
{
    so_state *s = r->be_state;
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) {
            sk_run_fail(r, "out of memory");
            return false;
        }
        r->be_state = s;
    }
    if (!s->cfg) {
        sk_stack_params params = {.addr = r->local_ip, .mtu = 1500, .now = r->now, .name = "so-config",
                                   .transmit = discard};
        s->cfg = sk_stack_new(&params);
        if (!s->cfg) {
            sk_run_fail(r, "sk_stack_new failed");
            return false;
        }
    }
    return true;
}

static void append(char *flags, size_t cap, size_t *used, const char *text)
{
    int n = snprintf(flags + *used, cap - *used, "%s%s", *used ? " " : "", text);
    if (n > 0 && (size_t)n < cap - *used)
        *used += (size_t)n;
}

static bool so_open(sk_runner *r)
{
    if (!ensure_cfg(r))
        return false;
    so_state *s = st(r);
    s->buf = malloc(SO_MAX_DATAGRAM);
    if (!s->buf) {
        sk_run_fail(r, "out of memory");
        return false;
    }
    void *sym = load(r, r->opts->so_path);
    if (!sym)
        return false;
    so_init_fn init;
    memcpy(&init, &sym, sizeof(init)); /* object pointer to function pointer */

    char *flags = calloc(1, SO_MAX_FLAGS);
    if (!flags) {
        sk_run_fail(r, "out of memory");
        return false;
    }
    size_t used = 0;
    /* The flags packetdrill passes: its configuration's addresses for
     * the run's version and its MTU (1520 for IPv6 in the kernel runner). */
    char item[512], a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    if (r->ip_version == SK_RUN_IPV6) {
        inet_ntop(AF_INET6, r->local_ip6, a, sizeof(a));
        inet_ntop(AF_INET6, r->remote_ip6, b, sizeof(b));
    } else {
        struct in_addr la = {htonl(r->local_ip)}, ra = {htonl(r->remote_ip)};
        inet_ntop(AF_INET, &la, a, sizeof(a));
        inet_ntop(AF_INET, &ra, b, sizeof(b));
    }
    snprintf(item, sizeof(item), "proc_sys= local_ip=%s remote_ip=%s mtu=%u seed=%u", a, b, r->mtu ? r->mtu : 1500,
             0x5eedu);
    append(flags, SO_MAX_FLAGS, &used, item);
    for (size_t i = 0; i < s->set_count; i++) {
        char value[400];
        if (sk_sysctl_get(s->cfg, s->set[i].name, value, sizeof(value)) != 0)
            continue;
        /* Vectors read back whitespace-separated; the flags want ':'. */
        for (char *c = value; *c; c++)
            if (*c == ' ' || *c == '\t')
                *c = ':';
        snprintf(item, sizeof(item), "%s=%s", s->set[i].name, value);
        append(flags, SO_MAX_FLAGS, &used, item);
    }
    sk_run_trace(r, "packetdrill_interface_init(\"%s\")", flags);
    init(flags, &s->ifc);
    free(flags);
    if (!s->ifc.userdata || !s->ifc.gettimeofday || !s->ifc.netdev_receive || !s->ifc.netdev_send) {
        sk_run_fail(r, "packetdrill_interface_init() of %s filled no usable interface", r->opts->so_path);
        return false;
    }
    s->have_ifc = true;
    if (!start_thread(r))
        return false;
    /* packetdrill's schedule_start_time_usecs(): it spins on times(2) for
     * ten jiffy edges of real time, reading the clock at each (the real
     * time never reaches the object, the reads do), and starts the script
     * 250 us after the last reading. */
    long long last = 0;
    for (int i = 0; i < SO_START_READS; i++)
        last = clock_usecs(s);
    s->t0_usecs = last + SO_START_OFFSET_USECS - (long long)((r->now - r->base) / SK_NSEC_PER_USEC);
    /* The wait for the first event is pure polling: no usleep() before an
     * event has run. */
    long long target = object_usecs(r, s, r->now), prev = last;
    unsigned long still = 0;
    for (;;) {
        long long now = clock_usecs(s);
        if (now >= target)
            break;
        still = now == prev ? still + 1 : 0;
        prev = now;
        if (still > SO_STUCK_POLLS) {
            sk_run_fail(r, "gettimeofday() polled %lu times in a row stays at %lld us: packetdrill spins here "
                           "for ever before the first event",
                        still, now);
            return false;
        }
    }
    drain(r);
    return true;
}

/* packetdrill's state_free(): the system-call thread must be idle, then
 * every descriptor still open is closed with the OS's close(2), then a RST
 * goes in for each connection (reset_connection()). */
static void so_finish(sk_runner *r)
{
    so_state *s = st(r);
    if (!s || !s->have_ifc || r->done)
        return;
    pthread_mutex_lock(&s->mu);
    bool busy = s->state != SO_IDLE;
    pthread_mutex_unlock(&s->mu);
    if (busy) {
        sk_run_fail(r, "runtime error: exiting while a blocking system call is in progress");
        return;
    }
    for (int fd = 0; fd < SK_RUN_MAX_FDS; fd++) {
        if (r->fds[fd].kind == SK_FD_FREE)
            continue;
        int h = r->fds[fd].handle;
        if (h <= 2) {
            /* Closing the runner's own stdio would lose the verdict. */
            sk_run_fail(r, "the object's descriptor %d for the script's fd %d is the process's stdio: packetdrill "
                           "would close(2) it at the end",
                        h, fd);
            return;
        }
        if (close(h) != 0) {
            sk_run_fail(r, "close: %s (packetdrill closes the script's fd %d, the object's %d, with close(2) at the "
                           "end: the object's descriptors must be open descriptors of the process)",
                        strerror(errno), fd, h);
            return;
        }
        memset(&r->fds[fd], 0, sizeof(r->fds[fd]));
    }
    for (size_t i = 0; i < s->flow_count; i++) {
        const so_flow *f = &s->flows[i];
        uint32_t seq, ack;
        uint16_t win = 0;
        if (f->injected_ack) {
            seq = f->in_seq + f->in_len + ((f->in_flags & SK_TH_SYN) ? 1 : 0) + ((f->in_flags & SK_TH_FIN) ? 1 : 0);
            ack = f->in_ack;
            win = f->in_win;
        } else if (f->out_ack) {
            seq = f->out_ack_seq;
            ack = f->out_seq;
        } else {
            seq = 0;
            ack = f->out_seq + 1;
        }
        uint8_t pkt[64];
        sk_segment_spec spec = {.src = f->remote, .dst = f->local, .sport = f->rport, .dport = f->lport,
                                .seq = seq, .ack = ack, .flags = SK_TH_RST | SK_TH_ACK, .window = win,
                                .ttl = 64, .df = true};
        if (r->ip_version == SK_RUN_IPV6) {
            /* One remote and one local address per run: the flow's. */
            spec.ip_version = 6;
            memcpy(spec.src6, r->remote_ip6, 16);
            memcpy(spec.dst6, r->local_ip6, 16);
        }
        size_t len = sk_build_segment(&spec, pkt, sizeof(pkt));
        if (len && CALL(r, netdev_send, pkt, len) != 0) {
            sk_run_fail(r, "netdev_send of the closing RST: %s", strerror(errno));
            return;
        }
    }
}

static void so_close(sk_runner *r)
{
    so_state *s = st(r);
    if (!s)
        return;
    bool can_free = s->have_ifc && s->ifc.free;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        bool busy = s->state == SO_ENQUEUED || s->state == SO_RUNNING;
        pthread_mutex_unlock(&s->mu);
        if (busy) {
            /* The run failed with a call still asleep in the object: closing
             * the descriptors wakes it (EBADF), as in a kernel. */
            for (int fd = 0; fd < SK_RUN_MAX_FDS; fd++)
                if (r->fds[fd].kind != SK_FD_FREE)
                    CALL(r, close, r->fds[fd].handle);
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_mutex_lock(&s->mu);
            while (s->state == SO_ENQUEUED || s->state == SO_RUNNING)
                if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
                    break;
            busy = s->state == SO_ENQUEUED || s->state == SO_RUNNING;
            pthread_mutex_unlock(&s->mu);
        }
        if (busy) {
            /* Still inside the object: leave both be rather than free what
             * it uses (packetdrill dies in this case). */
            pthread_detach(s->thread);
            can_free = false;
        } else {
            pthread_mutex_lock(&s->mu);
            s->state = SO_EXIT;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            pthread_join(s->thread, NULL);
            pthread_cond_destroy(&s->cv);
            pthread_mutex_destroy(&s->mu);
        }
    }
    if (can_free)
        s->ifc.free(s->ifc.userdata);
    if (s->cfg)
        sk_stack_free(s->cfg);
    free(s->buf);
    if (can_free || !s->thread_started)
        free(s);
    r->be_state = NULL;
}

static sk_time_ns so_next_deadline(sk_runner *r) { return r->now + SO_STEP_NS; }

/* packetdrill's wait_for_event(): read the clock until the event is due;
 * once an event has run, sleep through all but the last 20 us. */
static void so_advance(sk_runner *r, sk_time_ns t)
{
    so_state *s = st(r);
    /* Before the object exists (commands at a time) nothing can happen:
     * its clock starts where the runner's is when it is created. */
    if (!s || !s->have_ifc || r->done)
        return;
    long long target = object_usecs(r, s, t), prev = -1, now;
    unsigned long still = 0;
    for (;;) {
        now = clock_usecs(s);
        long long wait = target - now;
        if (wait <= 0)
            break;
        if (r->events_run > 0 && wait > SO_SPIN_USECS) {
            long long nap = wait - SO_SPIN_USECS;
            s->ifc.usleep(s->ifc.userdata, (useconds_t)(nap > 1000000000 ? 1000000000 : nap));
        }
        still = now == prev ? still + 1 : 0;
        prev = now;
        if (still > SO_STUCK_POLLS) {
            sk_run_fail(r, "gettimeofday() polled %lu times in a row stays at %.6f: packetdrill spins here for ever",
                        still, (double)(int64_t)(runner_ns(r, s, now) - r->base) / 1e9);
            return;
        }
    }
    sk_time_ns at = runner_ns(r, s, now);
    if (at > r->now)
        r->now = at;
    drain(r);
}

static void so_input(sk_runner *r, const uint8_t *d, size_t len)
{
    so_state *s = st(r);
    note_datagram(s, d, len, true);
    if (CALL(r, netdev_send, d, len) != 0)
        sk_run_fail(r, "netdev_send of %zu bytes: %s", len, strerror(errno));
    drain(r);
}

static int so_socket(sk_runner *r, int family)
{
    if (st(r)->changed_after_open) {
        /* The object reads its configuration at socket(); a value
         * changed since init would not reach it. */
        sk_run_skip(r, "sysctl changed after the shared object was created, before a socket()");
        return -EINVAL;
    }
    int rc = neg_errno(CALL(r, socket, family == SK_AF_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM, IPPROTO_TCP));
    drain(r);
    return rc;
}

/* The sockaddr packetdrill passes for an endpoint: sockaddr_in, or
 * sockaddr_in6 for IPv6 and v4-mapped runs.  Returns its length. */
static socklen_t to_sin(const sk_endpoint *ep, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (ep->family == SK_AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(ep->port);
        memcpy(&sin6->sin6_addr, ep->addr6, 16);
        sin6->sin6_flowinfo = htonl(ep->flowinfo);
        sin6->sin6_scope_id = ep->scope_id;
        return sizeof(*sin6);
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(ep->port);
    sin->sin_addr.s_addr = htonl(ep->addr);
    return sizeof(*sin);
}

static void from_sin(const struct sockaddr_storage *ss, sk_endpoint *ep)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        *ep = sk_endpoint_ipv6(sin6->sin6_addr.s6_addr, ntohs(sin6->sin6_port));
        return;
    }
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    *ep = sk_endpoint_ipv4(ntohl(sin->sin_addr.s_addr), ntohs(sin->sin_port));
}

static int so_bind(sk_runner *r, int h, const sk_endpoint *ep)
{
    struct sockaddr_storage sin;
    socklen_t sinlen = to_sin(ep, &sin);
    int rc = neg_errno(CALL(r, bind, h, (const struct sockaddr *)&sin, sinlen));
    drain(r);
    return rc;
}

static int so_listen(sk_runner *r, int h, int backlog)
{
    int rc = neg_errno(CALL(r, listen, h, backlog));
    drain(r);
    return rc;
}

/* After a call on the main thread that may have blocked: the object ran
 * its clock to wherever the call returned.  packetdrill makes a call
 * without `...` on its main thread, where nothing but the stack's timers
 * can complete it; when none could, the object says EDEADLK rather than
 * hang as packetdrill would. */
static void after_main_call(sk_runner *r, int64_t rc)
{
    drain(r);
    if (mode_of(r) != SO_MAIN)
        return;
    sync_now(r);
    if (rc == -EDEADLK && !r->done)
        sk_run_fail(r, "%s() would block packetdrill's main thread (its time has no `...`) and no timer of the "
                       "stack could complete it: packetdrill would wait here for ever (the object says EDEADLK)",
                    r->call->ev->syscall.name);
}

static int so_accept(sk_runner *r, int h, sk_endpoint *peer)
{
    so_op op = {.kind = SO_OP_ACCEPT, .fd = h};
    int64_t rc;
    if (mode_of(r) == SO_THREAD) {
        if (!threaded(r, &op))
            return -EAGAIN;
        rc = op.result;
    } else {
        socklen_t len = sizeof(op.sin);
        rc = neg_errno(CALL(r, accept, h, (struct sockaddr *)&op.sin, &len));
        after_main_call(r, rc);
    }
    if (rc >= 0 && peer)
        from_sin(&op.sin, peer);
    return (int)rc;
}

static int so_connect(sk_runner *r, int h, const sk_endpoint *ep)
{
    so_op op = {.kind = SO_OP_CONNECT, .fd = h};
    op.sinlen = to_sin(ep, &op.sin);
    if (mode_of(r) == SO_THREAD)
        return threaded(r, &op) ? (int)op.result : -EAGAIN;
    int rc = neg_errno(CALL(r, connect, h, (const struct sockaddr *)&op.sin, op.sinlen));
    after_main_call(r, rc);
    return rc;
}

static int64_t so_send(sk_runner *r, int h, const void *buf, size_t len, int flags)
{
    so_mode mode = mode_of(r);
    if (mode != SO_PROBE)
        flags = r->call->flags; /* the script's, MSG_DONTWAIT included */
    if (mode == SO_THREAD) {
        so_op op = {.kind = SO_OP_SEND, .fd = h, .len = len, .flags = flags};
        return threaded(r, &op) ? op.result : -EAGAIN;
    }
    ssize_t n = CALL(r, send, h, buf, len, mode == SO_PROBE ? flags | MSG_DONTWAIT : flags);
    int64_t rc = n < 0 ? -(errno ? errno : EIO) : n;
    after_main_call(r, rc);
    return rc;
}

static int64_t so_sendto(sk_runner *r, int h, const void *buf, size_t len, int flags, const sk_endpoint *ep, int family)
{
    struct sockaddr_storage sin;
    socklen_t sinlen = to_sin(ep, &sin);
    sin.ss_family = (sa_family_t)family; /* AF_UNSPEC reaches the object as packetdrill passes it */
    /* A blocking one (made while the call is pending) blocks in the
     * object as packetdrill's would: on its thread for a `...` call. */
    so_mode mode = mode_of(r);
    if (mode == SO_THREAD) {
        so_op op = {.kind = SO_OP_SENDTO, .fd = h, .len = len, .flags = flags, .sin = sin, .sinlen = sinlen};
        return threaded(r, &op) ? op.result : -EAGAIN;
    }
    errno = 0;
    ssize_t n = st(r)->ifc.sendto(st(r)->ifc.userdata, h, buf, len, mode == SO_PROBE ? flags | MSG_DONTWAIT : flags,
                                  (const struct sockaddr *)&sin, sinlen);
    int64_t rc = n < 0 ? -(errno ? errno : EIO) : n;
    if (mode == SO_MAIN)
        after_main_call(r, rc);
    else
        drain(r);
    return rc;
}

static int64_t so_recv(sk_runner *r, int h, void *buf, size_t len, int flags)
{
    so_mode mode = mode_of(r);
    if (mode != SO_PROBE)
        flags = r->call->flags;
    if (mode == SO_THREAD) {
        so_op op = {.kind = SO_OP_RECV, .fd = h, .len = len, .flags = flags};
        return threaded(r, &op) ? op.result : -EAGAIN;
    }
    ssize_t n = CALL(r, recv, h, buf, len, mode == SO_PROBE ? flags | MSG_DONTWAIT : flags);
    int64_t rc = n < 0 ? -(errno ? errno : EIO) : n;
    after_main_call(r, rc);
    return rc;
}

static int so_close_sock(sk_runner *r, int h)
{
    int rc = neg_errno(CALL(r, close, h));
    drain(r);
    return rc;
}

static int so_shutdown(sk_runner *r, int h, int how)
{
    int rc = neg_errno(CALL(r, shutdown, h, how));
    drain(r);
    return rc;
}

static int so_setsockopt(sk_runner *r, int h, int level, int name, const void *val, size_t len)
{
    int rc = neg_errno(CALL(r, setsockopt, h, level, name, val, (socklen_t)len));
    drain(r);
    return rc;
}

static int so_getsockopt(sk_runner *r, int h, int level, int name, void *val, size_t *len)
{
    socklen_t l = (socklen_t)*len;
    int rc = neg_errno(CALL(r, getsockopt, h, level, name, val, &l));
    *len = l;
    drain(r);
    return rc;
}

static int so_set_nonblock(sk_runner *r, int h, bool nonblock)
{
    int fl = CALL(r, fcntl, h, F_GETFL);
    if (fl < 0)
        return neg_errno(fl);
    return neg_errno(CALL(r, fcntl, h, F_SETFL, nonblock ? fl | O_NONBLOCK : fl & ~O_NONBLOCK));
}

static int64_t so_ioctl_q(sk_runner *r, int h, unsigned long request)
{
    int v = 0;
    int rc = neg_errno(CALL(r, ioctl, h, request, &v));
    return rc < 0 ? rc : v;
}

static void so_poll(sk_runner *r, const int *fds, const int *events, int *revents, size_t n)
{
    so_op op = {.kind = SO_OP_POLL, .nfds = n > SO_MAX_POLLFDS ? SO_MAX_POLLFDS : n};
    for (size_t i = 0; i < op.nfds; i++) {
        int fd = fds[i];
        /* A script fd that is no socket must still read POLLNVAL: give
         * the object a number it never hands out. */
        op.pfd[i].fd = fd >= 0 && fd < SK_RUN_MAX_FDS && r->fds[fd].kind == SK_FD_SOCKET ? r->fds[fd].handle : 1 << 20;
        op.pfd[i].events = (short)events[i];
        op.pfd[i].revents = 0;
    }
    so_mode mode = mode_of(r);
    op.timeout_ms = mode == SO_PROBE ? 0 : timeout_ms(r);
    if (mode == SO_THREAD) {
        if (!threaded(r, &op)) {
            for (size_t i = 0; i < n; i++)
                revents[i] = 0;
            return;
        }
    } else {
        int rc = neg_errno(CALL(r, poll, op.pfd, (nfds_t)op.nfds, op.timeout_ms));
        after_main_call(r, rc);
        if (rc < 0 && !r->done)
            sk_run_fail(r, "poll: %s", strerror(-rc));
        if (rc < 0)
            return;
    }
    for (size_t i = 0; i < n; i++)
        revents[i] = i < op.nfds ? (unsigned short)op.pfd[i].revents : 0;
}

static int so_epoll_create(sk_runner *r) { return neg_errno(CALL(r, epoll_create, 1)); }

static int so_epoll_ctl(sk_runner *r, int epfd, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = data;
    return neg_errno(CALL(r, epoll_ctl, r->fds[epfd].handle, op, r->fds[fd].handle, &ev));
}

static int so_epoll_wait(sk_runner *r, int epfd, int max, uint32_t *events, uint64_t *data)
{
    so_op op = {.kind = SO_OP_EPOLL_WAIT, .fd = r->fds[epfd].handle, .max = max > SO_MAX_EVENTS ? SO_MAX_EVENTS : max};
    so_mode mode = mode_of(r);
    op.timeout_ms = mode == SO_PROBE ? 0 : timeout_ms(r);
    int n;
    if (mode == SO_THREAD) {
        if (!threaded(r, &op))
            return 0;
        n = (int)op.result;
    } else {
        n = neg_errno(CALL(r, epoll_wait, op.fd, op.ev, op.max, op.timeout_ms));
        after_main_call(r, n);
    }
    if (n > 0) {
        *events = op.ev[0].events;
        *data = op.ev[0].data.u64;
    }
    return n;
}

static int so_epoll_close(sk_runner *r, int h)
{
    int rc = neg_errno(CALL(r, close, h));
    drain(r);
    return rc;
}

static int so_sysctl_get(sk_runner *r, const char *name, char *buf, size_t len)
{
    if (!ensure_cfg(r))
        return -ENOMEM;
    return sk_sysctl_get(st(r)->cfg, name, buf, len);
}

static int so_sysctl_set(sk_runner *r, const char *name, const char *value, char *err, size_t errlen)
{
    if (!ensure_cfg(r))
        return -ENOMEM;
    so_state *s = st(r);
    char before[400] = "", after[400] = "";
    (void)sk_sysctl_get(s->cfg, name, before, sizeof(before));
    int rc = sk_sysctl_set(s->cfg, name, value, err, errlen);
    if (rc != 0)
        return rc;
    (void)sk_sysctl_get(s->cfg, name, after, sizeof(after));
    if (s->have_ifc) {
        if (strcmp(before, after) != 0)
            s->changed_after_open = true;
        return 0;
    }
    for (size_t i = 0; i < s->set_count; i++)
        if (strcmp(s->set[i].name, name) == 0)
            return 0;
    if (s->set_count == sizeof(s->set) / sizeof(s->set[0])) {
        snprintf(err, errlen, "too many sysctls for the shared object's flags");
        return -ENOSPC;
    }
    snprintf(s->set[s->set_count++].name, sizeof(s->set[0].name), "%s", name);
    return 0;
}

const sk_run_backend sk_run_backend_so = {
    .name = "so",
    .lazy_open = true,
    .exact_deadlines = false,
    .open = so_open,
    .close = so_close,
    .next_deadline = so_next_deadline,
    .advance = so_advance,
    .input = so_input,
    .wait_output = so_wait_output,
    .finish = so_finish,
    .code_unsupported = "packetdrill reads TCP_INFO for a %{ }% block with the operating system's getsockopt(2) "
                        "on the script's descriptor, which cannot reach a shared object (packetdrill fails: \"can't "
                        "find getsockopt to get TCP info\"); the rest of the script passed",
    /* A qdisc that drops (`tc qdisc ... pfifo limit 0`) is local
     * congestion TCP must see as failed transmits; packetdrill runs the
     * command against the kernel and the interface has no way to tell
     * the object.  Dropping what netdev_receive returns would be loss on
     * the wire instead, a different script, so such scripts SKIP. */
    .set_tx_blocked = NULL,
    .socket = so_socket,
    .bind = so_bind,
    .listen = so_listen,
    .accept = so_accept,
    .connect = so_connect,
    .send = so_send,
    .sendto = so_sendto,
    .sendto_blocks = true,
    .recv = so_recv,
    .close_sock = so_close_sock,
    .shutdown = so_shutdown,
    .setsockopt = so_setsockopt,
    .getsockopt = so_getsockopt,
    .set_nonblock = so_set_nonblock,
    .ioctl_q = so_ioctl_q,
    .getname = NULL, /* not in packetdrill's interface */
    .poll = so_poll,
    .epoll_create = so_epoll_create,
    .epoll_ctl = so_epoll_ctl,
    .epoll_wait = so_epoll_wait,
    .epoll_close = so_epoll_close,
    .sysctl_get = so_sysctl_get,
    .sysctl_set = so_sysctl_set,
    .counter = NULL,
};
