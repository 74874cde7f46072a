/*
 * libsynack-packetdrill.so: one synack stack behind packetdrill's
 * shared-object interface (see packetdrill_interface.h), in virtual time.
 *
 * packetdrill drives the object the way it drives a kernel (the facts are
 * in shared/reference/packetdrill-so-contract.md): it polls gettimeofday()
 * until the next event is due (pure polling before the first event and for
 * the last 20 us before every later one, usleep() only for longer waits),
 * sniffs by calling netdev_receive() until it returns 0, makes blocking
 * calls on a second thread while its main thread injects packets, and at
 * the end close(2)s every descriptor the script left open with the
 * operating system's close.  So:
 *   - the clock moves when it is polled (a gettimeofday() right after
 *     another by the same thread moves it 1 us), when slept on, and while
 *     a thread keeps asking netdev_receive() for a packet that is not
 *     there (to the stack's next deadline), running the stack's timers one
 *     deadline at a time so every datagram carries the time it left;
 *   - a blocking call on another thread sleeps on a condition variable,
 *     and once something may have completed it, the clock and every other
 *     call wait until it has looked (settle()), so its result is that of
 *     the instant it became complete; that thread's first gettimeofday()
 *     after the call returns reads that instant, as packetdrill's check of
 *     the return time needs;
 *   - a blocking call on the thread that created the instance (packetdrill's
 *     main thread, which no one else will wake) runs virtual time itself;
 *   - descriptors are real open descriptors of the process (one memfd
 *     each), so an OS close() of them is harmless and ends them as ifc.close
 *     would, at the object's next look at that number.
 * Every entry point holds the instance's lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "packetdrill/packetdrill_interface.h"
#include "synack/synack.h"

#define PD_FIRST_FD 0 /* descriptors are the process's own: whatever it hands out */
#define PD_MAX_FDS 1024
#define PD_MAX_WAITERS 16
/* How far a clock with nothing scheduled moves per repeated empty
 * netdev_receive(): one jiffy at HZ=1000, as time passes for a kernel. */
#define PD_IDLE_STEP_NS SK_NSEC_PER_MSEC
#define PD_PIPE_SIZE 65536 /* Linux's default pipe capacity */
#define PD_DEFAULT_MTU 1500
/* gettimeofday() reads this plus the virtual time elapsed: a fixed,
 * plausible wall-clock origin keeps runs identical. */
#define PD_EPOCH_USECS 1600000000000000ull
/* The stack's clock starts here rather than at 0 so that "time 0" never
 * doubles as "unset" anywhere in the engine. */
#define PD_CLOCK_START_NS SK_NSEC_PER_SEC

typedef struct pd_datagram {
    uint8_t *data;
    size_t len;
    sk_time_ns at;
} pd_datagram;

typedef struct pd_pipebuf {
    uint8_t buf[PD_PIPE_SIZE];
    size_t head, len;
    bool reader_open, writer_open;
} pd_pipebuf;

typedef struct pd_epoll_reg {
    int fd;
    uint32_t events;
    epoll_data_t data;
    bool pending;  /* woken since last reported (EPOLLET)    */
    bool disabled; /* EPOLLONESHOT reported, awaiting MOD    */
} pd_epoll_reg;

typedef enum pd_fd_kind { PD_FREE = 0, PD_SOCKET, PD_EPOLL, PD_PIPE_READ, PD_PIPE_WRITE } pd_fd_kind;

typedef struct pd_fd {
    pd_fd_kind kind;
    dev_t dev;           /* the memfd behind the number: an OS close()  */
    ino_t ino;           /* and reuse of the number show as a new file  */
    bool nonblock;
    int handle;          /* PD_SOCKET: synack's handle */
    pd_pipebuf *pipe;       /* PD_PIPE_*                  */
    pd_epoll_reg *regs;  /* PD_EPOLL                   */
    size_t reg_count, reg_cap;
} pd_fd;

typedef struct pd_override {
    char *name, *value;
} pd_override;

/* A call asleep on another thread until `generation` moves past `seen` or
 * the clock reaches `until`. */
typedef struct pd_waiter {
    bool used;
    pthread_t thread;
    uint64_t seen;
    sk_time_ns until;
} pd_waiter;

typedef struct pd_instance {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* waiters: something may have changed      */
    pthread_cond_t settled; /* everyone else: a woken waiter has looked */
    pthread_t creator;
    uint64_t id;
    uint64_t generation; /* bumped by anything that may unblock a call */
    pd_waiter waiters[PD_MAX_WAITERS];

    sk_stack *stack;
    sk_time_ns now;
    uint32_t local_ip, remote_ip;
    char *proc_sys;
    pd_override *overrides;
    size_t override_count;

    pd_datagram *out;
    size_t out_head, out_count, out_cap;

    pd_fd fds[PD_MAX_FDS];
} pd_instance;

/* ------------------------------------------------------------------ */
/* Plumbing                                                             */
/* ------------------------------------------------------------------ */

static int fail(int err)
{
    errno = err;
    return -1;
}

static ssize_t fail_ssize(int err)
{
    errno = err;
    return -1;
}

/* What the calling thread did last in this instance: polling shows as a
 * call repeated with nothing else in between (see the file comment). */
typedef enum pd_call { PD_CALL_OTHER = 0, PD_CALL_CLOCK, PD_CALL_EMPTY_RECEIVE } pd_call;

static _Thread_local struct {
    uint64_t instance;
    pd_call last;
    bool returned;       /* a blocking call of this thread was woken... */
    sk_time_ns returned_at; /* ...and completed at this instant          */
} pd_thread;

static uint64_t pd_next_id;

/* True when a waiter has been woken (or its time has come) and has not yet
 * looked: until it has, nothing else may move the clock or the stack. */
static bool stale_waiter(const pd_instance *pd)
{
    for (size_t i = 0; i < PD_MAX_WAITERS; i++) {
        const pd_waiter *w = &pd->waiters[i];
        if (w->used && (w->seen != pd->generation || pd->now >= w->until))
            return true;
    }
    return false;
}

static void settle(pd_instance *pd)
{
    while (stale_waiter(pd))
        pthread_cond_wait(&pd->settled, &pd->lock);
}

/* Takes the lock for an entry point and returns what this thread did last
 * (and whether it has a completion time kept for its next clock read). */
static pd_call enter(pd_instance *pd, pd_call now_doing, bool *kept, sk_time_ns *kept_at)
{
    pthread_mutex_lock(&pd->lock);
    settle(pd);
    if (pd_thread.instance != pd->id) {
        pd_thread.instance = pd->id;
        pd_thread.last = PD_CALL_OTHER;
        pd_thread.returned = false;
    }
    pd_call last = pd_thread.last;
    if (kept)
        *kept = pd_thread.returned;
    if (kept_at)
        *kept_at = pd_thread.returned_at;
    pd_thread.returned = false;
    pd_thread.last = now_doing;
    return last;
}

static void lock(pd_instance *pd)
{
    enter(pd, PD_CALL_OTHER, NULL, NULL);
}

static void unlock(pd_instance *pd)
{
    pthread_mutex_unlock(&pd->lock);
}

static void touched(pd_instance *pd)
{
    pd->generation++;
    pthread_cond_broadcast(&pd->changed);
}

/* The earliest time a sleeping call gives up (poll/epoll_wait timeouts),
 * after now. */
static sk_time_ns waiter_deadline(const pd_instance *pd)
{
    sk_time_ns t = SK_TIME_NEVER;
    for (size_t i = 0; i < PD_MAX_WAITERS; i++)
        if (pd->waiters[i].used && pd->waiters[i].until > pd->now && pd->waiters[i].until < t)
            t = pd->waiters[i].until;
    return t;
}

static void on_transmit(void *ctx, const uint8_t *datagram, size_t len)
{
    pd_instance *pd = ctx;
    if (pd->out_count == pd->out_cap) {
        size_t cap = pd->out_cap ? pd->out_cap * 2 : 64;
        pd_datagram *n = malloc(cap * sizeof(*n));
        if (!n)
            return; /* lost like a full device queue drops */
        for (size_t i = 0; i < pd->out_count; i++)
            n[i] = pd->out[(pd->out_head + i) % pd->out_cap];
        free(pd->out);
        pd->out = n;
        pd->out_cap = cap;
        pd->out_head = 0;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, datagram, len);
    pd->out[(pd->out_head + pd->out_count) % pd->out_cap] = (pd_datagram){copy, len, pd->now};
    pd->out_count++;
}

static void on_event(void *ctx, const sk_event *ev)
{
    pd_instance *pd = ctx;
    if (ev->type != SK_EV_READY || ev->fd < 0)
        return;
    /* Edge-triggered epoll reports a socket again only after a wakeup,
     * as Linux's ep_poll_callback() queues it on each one. */
    for (int e = PD_FIRST_FD; e < PD_MAX_FDS; e++) {
        pd_fd *ep = &pd->fds[e];
        if (ep->kind != PD_EPOLL)
            continue;
        for (size_t i = 0; i < ep->reg_count; i++) {
            pd_fd *w = &pd->fds[ep->regs[i].fd];
            if (w->kind == PD_SOCKET && w->handle == ev->fd)
                ep->regs[i].pending = true;
        }
    }
}

/* Moves the clock to t, running timers one deadline at a time so every
 * datagram carries the time it would have left, and stopping at every
 * instant something may have completed a sleeping call until that call has
 * looked: a woken call returns what it would have at that instant. */
static void advance_to(pd_instance *pd, sk_time_ns t)
{
    sk_time_ns last = SK_TIME_NEVER;
    for (;;) {
        settle(pd);
        sk_time_ns d = sk_next_deadline(pd->stack), w = waiter_deadline(pd);
        bool timer = d <= w;
        if (!timer)
            d = w;
        /* A deadline that running the timers did not move would spin
         * forever: leave it to the final sk_advance below. */
        if (d == SK_TIME_NEVER || d > t || (timer && d == last))
            break;
        if (timer)
            last = d;
        if (d > pd->now)
            pd->now = d;
        sk_advance(pd->stack, pd->now);
        touched(pd);
    }
    if (t > pd->now)
        pd->now = t;
    sk_advance(pd->stack, pd->now);
    if (stale_waiter(pd))
        pthread_cond_broadcast(&pd->changed);
    settle(pd);
}

/* A call that cannot complete yet waits here (lock held) until something
 * may have changed or virtual time reaches `until`.  Returns false when
 * nothing ever could change: the creator thread is the only one driving
 * and the stack has no timer pending and the call no timeout. */
static bool wait_for_change(pd_instance *pd, sk_time_ns until)
{
    if (pthread_equal(pthread_self(), pd->creator)) {
        sk_time_ns d = sk_next_deadline(pd->stack);
        sk_time_ns t = d < until ? d : until;
        if (t == SK_TIME_NEVER)
            return false;
        if (t <= pd->now) {
            /* Due now: run it; a deadline that stays due cannot help. */
            advance_to(pd, pd->now);
            return sk_next_deadline(pd->stack) > pd->now;
        }
        advance_to(pd, t);
        return true;
    }
    pd_waiter *w = NULL;
    for (size_t i = 0; i < PD_MAX_WAITERS && !w; i++)
        if (!pd->waiters[i].used)
            w = &pd->waiters[i];
    uint64_t seen = pd->generation;
    if (w)
        *w = (pd_waiter){.used = true, .thread = pthread_self(), .seen = seen, .until = until};
    /* Asleep: packetdrill's main thread reads this thread's state as 'S'. */
    while (pd->generation == seen && pd->now < until)
        pthread_cond_wait(&pd->changed, &pd->lock);
    if (w) {
        w->used = false;
        pthread_cond_broadcast(&pd->settled);
    }
    pd_thread.returned = true;
    pd_thread.returned_at = pd->now;
    return true;
}

/* ------------------------------------------------------------------ */
/* Descriptors: real ones of the process                                */
/* ------------------------------------------------------------------ */

static bool os_fd_ours(const pd_fd *f, int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino;
}

static void forget_epoll_regs(pd_instance *pd, int fd);

/* Ends what the object keeps for fd; closes the OS descriptor only when
 * asked (it may already be closed, or reused by someone else). */
static int release_fd(pd_instance *pd, int fd, bool os_close)
{
    pd_fd *f = &pd->fds[fd];
    int rc = 0;
    switch (f->kind) {
    case PD_SOCKET:
        rc = sk_close(pd->stack, f->handle);
        break;
    case PD_EPOLL:
        free(f->regs);
        break;
    case PD_PIPE_READ:
    case PD_PIPE_WRITE:
        if (f->kind == PD_PIPE_READ)
            f->pipe->reader_open = false;
        else
            f->pipe->writer_open = false;
        if (!f->pipe->reader_open && !f->pipe->writer_open)
            free(f->pipe);
        break;
    case PD_FREE:
        break;
    }
    *f = (pd_fd){.kind = PD_FREE, .handle = -1};
    forget_epoll_regs(pd, fd);
    if (os_close)
        close(fd);
    touched(pd);
    return rc;
}

static pd_fd *get_fd(pd_instance *pd, int fd)
{
    if (fd < PD_FIRST_FD || fd >= PD_MAX_FDS || pd->fds[fd].kind == PD_FREE)
        return NULL;
    if (!os_fd_ours(&pd->fds[fd], fd)) {
        /* The process closed it with close(2) (packetdrill does at the end
         * of a script): that was its close. */
        release_fd(pd, fd, false);
        return NULL;
    }
    return &pd->fds[fd];
}

static pd_fd *get_socket(pd_instance *pd, int fd, int *err)
{
    pd_fd *f = get_fd(pd, fd);
    if (!f) {
        *err = EBADF;
        return NULL;
    }
    if (f->kind != PD_SOCKET) {
        *err = ENOTSOCK;
        return NULL;
    }
    return f;
}

/* A new descriptor: a memfd, so the number is an open descriptor of the
 * process that packetdrill may close(2), with an identity (device, inode)
 * no other open file shares. */
static int new_fd(pd_instance *pd, pd_fd_kind kind)
{
    int fd = memfd_create("synack-packetdrill", MFD_CLOEXEC);
    if (fd < 0)
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fd >= PD_MAX_FDS || fstat(fd, &st) != 0) {
        close(fd);
        return -EMFILE;
    }
    /* The number is free in the process, so whatever the table still
     * holds under it was closed with close(2). */
    if (pd->fds[fd].kind != PD_FREE)
        release_fd(pd, fd, false);
    pd->fds[fd] = (pd_fd){.kind = kind, .handle = -1, .dev = st.st_dev, .ino = st.st_ino};
    return fd;
}

static sk_time_ns timeout_deadline(const pd_instance *pd, int timeout_ms)
{
    if (timeout_ms < 0)
        return SK_TIME_NEVER;
    return pd->now + (sk_time_ns)timeout_ms * SK_NSEC_PER_MSEC;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                        */
/* ------------------------------------------------------------------ */

static bool parse_ip(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

/* "net.ipv4.tcp_sack" -> "<root>/net/ipv4/tcp_sack" */
static void sysctl_path(const char *root, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/", root);
    for (const char *c = name; *c && n >= 0 && (size_t)n + 1 < len; c++)
        out[n++] = *c == '.' ? '/' : *c;
    if (n >= 0 && (size_t)n < len)
        out[n] = 0;
}

/* Linux's configuration as the namespace holds it, then the flags' own
 * values: done before every socket() so `sysctl` lines a script ran since
 * the previous one apply. */
static void apply_sysctls(pd_instance *pd)
{
    char err[256];
    if (pd->proc_sys && *pd->proc_sys) {
        for (size_t i = 0; sk_sysctl_name(i); i++) {
            const char *name = sk_sysctl_name(i);
            char path[4096], value[512];
            sysctl_path(pd->proc_sys, name, path, sizeof(path));
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            size_t n = fread(value, 1, sizeof(value) - 1, f);
            fclose(f);
            value[n] = 0;
            while (n && (value[n - 1] == '\n' || value[n - 1] == ' ' || value[n - 1] == '\t'))
                value[--n] = 0;
            if (n)
                (void)sk_sysctl_set(pd->stack, name, value, err, sizeof(err));
        }
    }
    for (size_t i = 0; i < pd->override_count; i++)
        (void)sk_sysctl_set(pd->stack, pd->overrides[i].name, pd->overrides[i].value, err, sizeof(err));
}

static void add_override(pd_instance *pd, const char *name, const char *value)
{
    pd_override *n = realloc(pd->overrides, (pd->override_count + 1) * sizeof(*n));
    if (!n)
        return;
    pd->overrides = n;
    char *v = strdup(value);
    char *k = strdup(name);
    if (!v || !k) {
        free(v);
        free(k);
        return;
    }
    for (char *c = v; *c; c++)
        if (*c == ':')
            *c = ' ';
    pd->overrides[pd->override_count++] = (pd_override){k, v};
}

typedef struct pd_settings {
    uint32_t local_ip, remote_ip;
    /* packetdrill's --local_ip for an IPv6 run (network order) */
    uint8_t local_ip6[16];
    bool have_local_ip6;
    uint16_t mtu;
    uint64_t seed;
} pd_settings;

static void parse_flags(pd_instance *pd, const char *flags, pd_settings *set)
{
    if (!flags)
        return;
    char *copy = strdup(flags), *save = NULL;
    if (!copy)
        return;
    for (char *tok = strtok_r(copy, " ,\t\n", &save); tok; tok = strtok_r(NULL, " ,\t\n", &save)) {
        while (*tok == '-')
            tok++;
        char *eq = strchr(tok, '=');
        if (!eq) {
            fprintf(stderr, "synack-packetdrill: flag '%s' is not KEY=VALUE; ignored\n", tok);
            continue;
        }
        *eq = 0;
        const char *key = tok, *val = eq + 1;
        char *end = NULL;
        if (!strcmp(key, "local_ip")) {
            if (inet_pton(AF_INET6, val, set->local_ip6) == 1)
                set->have_local_ip6 = true;
            else if (!parse_ip(val, &set->local_ip))
                fprintf(stderr, "synack-packetdrill: local_ip=%s is not an IPv4 or IPv6 address; ignored\n", val);
        } else if (!strcmp(key, "remote_ip")) {
            uint8_t six[16];
            /* The remote side is the script's: the stack needs no route
             * for it, only to know it for the IPv4 run's checks. */
            if (inet_pton(AF_INET6, val, six) != 1 && !parse_ip(val, &set->remote_ip))
                fprintf(stderr, "synack-packetdrill: remote_ip=%s is not an IPv4 or IPv6 address; ignored\n", val);
        } else if (!strcmp(key, "mtu")) {
            unsigned long m = strtoul(val, &end, 10);
            if (!*val || *end || m < 68 || m > 65535)
                fprintf(stderr, "synack-packetdrill: mtu=%s is not in 68..65535; ignored\n", val);
            else
                set->mtu = (uint16_t)m;
        } else if (!strcmp(key, "seed")) {
            unsigned long long sd = strtoull(val, &end, 0);
            if (!*val || *end)
                fprintf(stderr, "synack-packetdrill: seed=%s is not a number; ignored\n", val);
            else
                set->seed = sd;
        } else if (!strcmp(key, "proc_sys")) {
            free(pd->proc_sys);
            pd->proc_sys = strdup(val);
        } else if (!strncmp(key, "net.", 4)) {
            add_override(pd, key, val);
        } else {
            fprintf(stderr, "synack-packetdrill: unknown flag '%s'; ignored\n", key);
        }
    }
    free(copy);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                            */
/* ------------------------------------------------------------------ */

static int to_endpoint(const struct sockaddr *addr, socklen_t len, sk_endpoint *ep)
{
    if (!addr)
        return -EFAULT;
    if (len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    if (addr->sa_family == AF_INET6) {
        /* Linux's inet6_bind and tcp_v6_connect: shorter than
         * SIN6_LEN_RFC2133 (24 bytes, no scope id) is EINVAL. */
        if (len < 24)
            return -EINVAL;
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof(sin6));
        memcpy(&sin6, addr, len < (socklen_t)sizeof(sin6) ? (size_t)len : sizeof(sin6));
        *ep = sk_endpoint_ipv6(sin6.sin6_addr.s6_addr, ntohs(sin6.sin6_port));
        ep->flowinfo = ntohl(sin6.sin6_flowinfo);
        ep->scope_id = sin6.sin6_scope_id;
        return 0;
    }
    if (addr->sa_family != AF_INET)
        return -EAFNOSUPPORT;
    if (len < (socklen_t)sizeof(struct sockaddr_in))
        return -EINVAL;
    struct sockaddr_in sin;
    memcpy(&sin, addr, sizeof(sin));
    *ep = sk_endpoint_ipv4(ntohl(sin.sin_addr.s_addr), ntohs(sin.sin_port));
    return 0;
}

/* Writes as much of the address as *len allows and sets *len to the full
 * size, as accept(2) and recvfrom(2) do. */
static void from_endpoint(const sk_endpoint *ep, struct sockaddr *addr, socklen_t *len)
{
    if (!addr || !len)
        return;
    if (ep->family == SK_AF_INET6) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(ep->port);
        sin6.sin6_flowinfo = htonl(ep->flowinfo);
        sin6.sin6_scope_id = ep->scope_id;
        memcpy(&sin6.sin6_addr, ep->addr6, 16);
        size_t n = *len < (socklen_t)sizeof(sin6) ? (size_t)*len : sizeof(sin6);
        memcpy(addr, &sin6, n);
        *len = (socklen_t)sizeof(sin6);
        return;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(ep->addr);
    sin.sin_port = htons(ep->port);
    size_t n = *len < (socklen_t)sizeof(sin) ? (size_t)*len : sizeof(sin);
    memcpy(addr, &sin, n);
    *len = (socklen_t)sizeof(sin);
}

/* ------------------------------------------------------------------ */
/* Sockets                                                              */
/* ------------------------------------------------------------------ */

static int pd_socket(void *ud, int domain, int type, int protocol)
{
    pd_instance *pd = ud;
    if (domain != AF_INET && domain != AF_INET6)
        return fail(EAFNOSUPPORT);
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (base != SOCK_STREAM)
        return fail(ESOCKTNOSUPPORT);
    if (protocol != 0 && protocol != IPPROTO_TCP)
        return fail(EPROTONOSUPPORT);
    lock(pd);
    apply_sysctls(pd);
    int fd = new_fd(pd, PD_SOCKET);
    int rc = fd;
    if (fd >= 0) {
        int h = sk_socket_family(pd->stack, domain == AF_INET6 ? SK_AF_INET6 : SK_AF_INET);
        if (h < 0) {
            close(fd);
            pd->fds[fd] = (pd_fd){.kind = PD_FREE, .handle = -1};
            rc = h;
        } else {
            pd->fds[fd].handle = h;
            pd->fds[fd].nonblock = (type & SOCK_NONBLOCK) != 0;
        }
    }
    unlock(pd);
    return rc < 0 ? fail(-rc) : rc;
}

static int pd_bind(void *ud, int sockfd, const struct sockaddr *addr, socklen_t addrlen)
{
    pd_instance *pd = ud;
    int err = 0, rc;
    lock(pd);
    pd_fd *f = get_socket(pd, sockfd, &err);
    sk_endpoint ep;
    if (!f)
        rc = -err;
    else if ((rc = to_endpoint(addr, addrlen, &ep)) == 0)
        rc = sk_bind(pd->stack, f->handle, &ep);
    touched(pd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

static int pd_listen(void *ud, int sockfd, int backlog)
{
    pd_instance *pd = ud;
    int err = 0, rc;
    lock(pd);
    pd_fd *f = get_socket(pd, sockfd, &err);
    rc = f ? sk_listen(pd->stack, f->handle, backlog) : -err;
    touched(pd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

static int pd_accept(void *ud, int sockfd, struct sockaddr *addr, socklen_t *addrlen)
{
    pd_instance *pd = ud;
    int err = 0, rc;
    lock(pd);
    pd_fd *f = get_socket(pd, sockfd, &err);
    if (!f) {
        unlock(pd);
        return fail(err);
    }
    sk_endpoint peer = {0};
    for (;;) {
        rc = sk_accept(pd->stack, pd->fds[sockfd].handle, &peer);
        if (rc != -EAGAIN || pd->fds[sockfd].nonblock)
            break;
        if (!wait_for_change(pd, SK_TIME_NEVER)) {
            rc = -EDEADLK;
            break;
        }
        if (pd->fds[sockfd].kind != PD_SOCKET) { /* closed by another thread */
            rc = -EBADF;
            break;
        }
    }
    if (rc >= 0) {
        int fd = new_fd(pd, PD_SOCKET);
        if (fd < 0) {
            sk_close(pd->stack, rc);
            rc = fd;
        } else {
            pd->fds[fd].handle = rc;
            from_endpoint(&peer, addr, addrlen);
            rc = fd;
        }
    }
    touched(pd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : rc;
}

static int pd_connect(void *ud, int sockfd, const struct sockaddr *addr, socklen_t addrlen)
{
    pd_instance *pd = ud;
    int err = 0, rc;
    lock(pd);
    pd_fd *f = get_socket(pd, sockfd, &err);
    sk_endpoint ep;
    if (!f) {
        rc = -err;
    } else if ((rc = to_endpoint(addr, addrlen, &ep)) == 0) {
        rc = sk_connect(pd->stack, f->handle, &ep);
        /* A blocking connect() returns once the handshake has finished
         * one way or the other: ask again, as the kernel's wait does. */
        while ((rc == -EINPROGRESS || rc == -EALREADY) && !pd->fds[sockfd].nonblock) {
            if (!wait_for_change(pd, SK_TIME_NEVER)) {
                rc = -EDEADLK;
                break;
            }
            if (pd->fds[sockfd].kind != PD_SOCKET) {
                rc = -EBADF;
                break;
            }
            rc = sk_connect(pd->stack, pd->fds[sockfd].handle, &ep);
        }
    }
    touched(pd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

/* Pipe ends: read end yields data, then 0 once the writer is gone. */
static ssize_t pipe_read(pd_instance *pd, int fd, void *buf, size_t len)
{
    for (;;) {
        pd_pipebuf *p = pd->fds[fd].pipe;
        if (p->len) {
            size_t n = len < p->len ? len : p->len;
            for (size_t i = 0; i < n; i++)
                ((uint8_t *)buf)[i] = p->buf[(p->head + i) % PD_PIPE_SIZE];
            p->head = (p->head + n) % PD_PIPE_SIZE;
            p->len -= n;
            touched(pd);
            return (ssize_t)n;
        }
        if (!p->writer_open || len == 0)
            return 0;
        if (pd->fds[fd].nonblock)
            return -EAGAIN;
        if (!wait_for_change(pd, SK_TIME_NEVER))
            return -EDEADLK;
        if (pd->fds[fd].kind != PD_PIPE_READ)
            return -EBADF;
    }
}

static ssize_t pipe_write(pd_instance *pd, int fd, const void *buf, size_t len)
{
    size_t done = 0;
    for (;;) {
        pd_pipebuf *p = pd->fds[fd].pipe;
        if (!p->reader_open)
            return done ? (ssize_t)done : -EPIPE;
        size_t room = PD_PIPE_SIZE - p->len;
        size_t n = len - done < room ? len - done : room;
        for (size_t i = 0; i < n; i++)
            p->buf[(p->head + p->len + i) % PD_PIPE_SIZE] = ((const uint8_t *)buf)[done + i];
        p->len += n;
        done += n;
        if (n)
            touched(pd);
        if (done == len)
            return (ssize_t)done;
        if (pd->fds[fd].nonblock)
            return done ? (ssize_t)done : -EAGAIN;
        if (!wait_for_change(pd, SK_TIME_NEVER))
            return done ? (ssize_t)done : -EDEADLK;
        if (pd->fds[fd].kind != PD_PIPE_WRITE)
            return -EBADF;
    }
}

/* recv(2) on any fd kind, blocking unless O_NONBLOCK or MSG_DONTWAIT. */
static ssize_t do_recv(pd_instance *pd, int fd, void *buf, size_t len, int flags, sk_endpoint *peer)
{
    pd_fd *f = get_fd(pd, fd);
    if (!f)
        return -EBADF;
    if (f->kind == PD_PIPE_READ)
        return pipe_read(pd, fd, buf, len);
    if (f->kind != PD_SOCKET)
        return f->kind == PD_PIPE_WRITE ? -EBADF : -EINVAL;
    bool dontwait = f->nonblock || (flags & MSG_DONTWAIT);
    for (;;) {
        ssize_t rc = sk_recv(pd->stack, pd->fds[fd].handle, buf, len, flags & ~MSG_DONTWAIT);
        if (rc != -EAGAIN || dontwait) {
            if (rc >= 0 && peer)
                (void)sk_getpeername(pd->stack, pd->fds[fd].handle, peer);
            touched(pd);
            return rc;
        }
        if (!wait_for_change(pd, SK_TIME_NEVER))
            return -EDEADLK;
        if (pd->fds[fd].kind != PD_SOCKET)
            return -EBADF;
    }
}

/* send(2): a blocking call returns once every byte is queued, as Linux's
 * tcp_sendmsg() waits for send-buffer space; a non-blocking one queues
 * what fits. */
/* A blocking Fast Open write whose data all went in the SYN still waits
 * for the handshake (__inet_stream_connect); 0 or the connect error. */
static int wait_connected(pd_instance *pd, int fd)
{
    int handle = pd->fds[fd].handle;
    while (!(sk_poll(pd->stack, handle) & (POLLOUT | POLLERR | POLLHUP))) {
        if (!wait_for_change(pd, SK_TIME_NEVER))
            return -EDEADLK;
        if (pd->fds[fd].kind != PD_SOCKET || pd->fds[fd].handle != handle)
            return -EBADF;
    }
    int err = 0;
    size_t elen = sizeof(err);
    if (sk_getsockopt(pd->stack, handle, SK_SOL_SOCKET, SK_SO_ERROR, &err, &elen) < 0)
        return 0;
    return err ? -err : 0;
}

static ssize_t do_send(pd_instance *pd, int fd, const void *buf, size_t len, int flags)
{
    pd_fd *f = get_fd(pd, fd);
    if (!f)
        return -EBADF;
    if (f->kind == PD_PIPE_WRITE)
        return pipe_write(pd, fd, buf, len);
    if (f->kind != PD_SOCKET)
        return f->kind == PD_PIPE_READ ? -EBADF : -EINVAL;
    flags &= ~MSG_FASTOPEN; /* reached only once connecting: ignored, as Linux */
    bool dontwait = f->nonblock || (flags & MSG_DONTWAIT);
    size_t done = 0;
    bool waited_connect = false;
    for (;;) {
        ssize_t rc = sk_send(pd->stack, pd->fds[fd].handle, (const uint8_t *)buf + done, len - done,
                             flags & ~MSG_DONTWAIT);
        touched(pd);
        if (rc > 0)
            done += (size_t)rc;
        if (done == len && (rc >= 0 || len == 0)) {
            /* All of it went in a Fast Open SYN (TCP_FASTOPEN_CONNECT):
             * a blocking writer still waits for the handshake. */
            if (!dontwait && done && sk_state(pd->stack, pd->fds[fd].handle) == SK_TCP_SYN_SENT) {
                int werr = wait_connected(pd, fd);
                if (werr)
                    return werr;
            }
            return (ssize_t)done;
        }
        /* A handshake that fails while the writer waits fails the whole
         * call, even with bytes in a Fast Open SYN: Linux returns the
         * connect error (tcp_sendmsg_fastopen). */
        if (rc < 0 && rc != -EAGAIN)
            return done && !waited_connect ? (ssize_t)done : rc;
        if (dontwait)
            return done ? (ssize_t)done : -EAGAIN;
        /* Asleep in sk_stream_wait_memory(), a writer is woken only once
         * the socket is writable as poll() reports it (Linux's
         * sk_stream_is_writeable(): free space at least half of what is
         * queued), not by every byte acknowledged.  One waiting for the
         * handshake (sk_stream_wait_connect, inet_wait_for_connect with
         * data left after a Fast Open SYN) counts in sk_write_pending, so
         * the SYN-ACK's ACK waits for its data (sk_write_waiting). */
        int handle = pd->fds[fd].handle;
        bool connecting = sk_state(pd->stack, handle) == SK_TCP_SYN_SENT;
        if (connecting) {
            sk_write_waiting(pd->stack, handle, true);
            waited_connect = true;
        }
        bool woke = true;
        do {
            if (!wait_for_change(pd, SK_TIME_NEVER)) {
                woke = false;
                break;
            }
            if (pd->fds[fd].kind != PD_SOCKET || pd->fds[fd].handle != handle)
                return done ? (ssize_t)done : -EBADF;
        } while (!(sk_poll(pd->stack, handle) & (POLLOUT | POLLERR | POLLHUP)));
        if (connecting)
            sk_write_waiting(pd->stack, handle, false);
        if (!woke)
            return done ? (ssize_t)done : -EDEADLK;
    }
}

static size_t iov_total(const struct iovec *iov, int n, bool *bad)
{
    size_t total = 0;
    *bad = n < 0 || n > IOV_MAX || (n > 0 && !iov);
    for (int i = 0; !*bad && i < n; i++) {
        if (iov[i].iov_len > SSIZE_MAX - total || (iov[i].iov_len && !iov[i].iov_base))
            *bad = true;
        else
            total += iov[i].iov_len;
    }
    return total;
}

static ssize_t recv_iov(pd_instance *pd, int fd, const struct iovec *iov, int n, int flags, sk_endpoint *peer)
{
    bool bad;
    size_t total = iov_total(iov, n, &bad);
    if (bad)
        return -EINVAL;
    uint8_t *tmp = malloc(total ? total : 1);
    if (!tmp)
        return -ENOMEM;
    ssize_t rc = do_recv(pd, fd, tmp, total, flags, peer);
    size_t off = 0;
    for (int i = 0; rc > 0 && i < n && off < (size_t)rc; i++) {
        size_t c = iov[i].iov_len < (size_t)rc - off ? iov[i].iov_len : (size_t)rc - off;
        memcpy(iov[i].iov_base, tmp + off, c);
        off += c;
    }
    free(tmp);
    return rc;
}

static ssize_t send_iov(pd_instance *pd, int fd, const struct iovec *iov, int n, int flags)
{
    bool bad;
    size_t total = iov_total(iov, n, &bad);
    if (bad)
        return -EINVAL;
    uint8_t *tmp = malloc(total ? total : 1);
    if (!tmp)
        return -ENOMEM;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len)
            memcpy(tmp + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    ssize_t rc = do_send(pd, fd, tmp, total, flags);
    free(tmp);
    return rc;
}

static ssize_t finish_ssize(pd_instance *pd, ssize_t rc)
{
    unlock(pd);
    return rc < 0 ? fail_ssize((int)-rc) : rc;
}

static ssize_t pd_read(void *ud, int fd, void *buf, size_t count)
{
    pd_instance *pd = ud;
    lock(pd);
    return finish_ssize(pd, do_recv(pd, fd, buf, count, 0, NULL));
}

static ssize_t pd_readv(void *ud, int fd, const struct iovec *iov, int iovcnt)
{
    pd_instance *pd = ud;
    lock(pd);
    return finish_ssize(pd, recv_iov(pd, fd, iov, iovcnt, 0, NULL));
}

static ssize_t pd_recv(void *ud, int sockfd, void *buf, size_t len, int flags)
{
    pd_instance *pd = ud;
    lock(pd);
    int err = 0;
    ssize_t rc = get_socket(pd, sockfd, &err) ? do_recv(pd, sockfd, buf, len, flags, NULL) : -err;
    return finish_ssize(pd, rc);
}

static ssize_t pd_recvfrom(void *ud, int sockfd, void *buf, size_t len, int flags, struct sockaddr *src_addr,
                           socklen_t *addrlen)
{
    pd_instance *pd = ud;
    lock(pd);
    int err = 0;
    sk_endpoint peer = {0};
    ssize_t rc = get_socket(pd, sockfd, &err) ? do_recv(pd, sockfd, buf, len, flags, &peer) : -err;
    if (rc >= 0)
        from_endpoint(&peer, src_addr, addrlen);
    return finish_ssize(pd, rc);
}

static ssize_t pd_recvmsg(void *ud, int sockfd, struct msghdr *msg, int flags)
{
    pd_instance *pd = ud;
    lock(pd);
    int err = 0;
    sk_endpoint peer = {0};
    ssize_t rc;
    pd_fd *f = NULL;
    if (!msg)
        rc = -EFAULT;
    else if (!(f = get_socket(pd, sockfd, &err)))
        rc = -err;
    else
        rc = recv_iov(pd, sockfd, msg->msg_iov, (int)msg->msg_iovlen, flags, &peer);
    if (rc >= 0) {
        if (msg->msg_name)
            from_endpoint(&peer, msg->msg_name, &msg->msg_namelen);
        msg->msg_flags = 0;
        /* The only ancillary data: TCP_CM_INQ after the read when TCP_INQ
         * is set (tcp_recvmsg); no timestamps, no zerocopy.  Too small a
         * buffer truncates it, as put_cmsg does. */
        size_t room = msg->msg_controllen;
        msg->msg_controllen = 0;
        int on = 0;
        size_t olen = sizeof on;
        if (sk_getsockopt(pd->stack, f->handle, SK_IPPROTO_TCP, SK_TCP_INQ, &on, &olen) == 0 && on) {
            if (msg->msg_control && room >= CMSG_SPACE(sizeof(int))) {
                struct cmsghdr *c = (struct cmsghdr *)msg->msg_control;
                c->cmsg_level = SK_IPPROTO_TCP; /* SOL_TCP */
                c->cmsg_type = SK_TCP_INQ; /* TCP_CM_INQ */
                c->cmsg_len = CMSG_LEN(sizeof(int));
                int inq = sk_inq_hint(pd->stack, f->handle);
                memcpy(CMSG_DATA(c), &inq, sizeof inq);
                msg->msg_controllen = CMSG_SPACE(sizeof(int));
            } else {
                msg->msg_flags |= MSG_CTRUNC;
            }
        }
    }
    return finish_ssize(pd, rc);
}

static ssize_t pd_write(void *ud, int fd, const void *buf, size_t count)
{
    pd_instance *pd = ud;
    lock(pd);
    return finish_ssize(pd, do_send(pd, fd, buf, count, 0));
}

static ssize_t pd_writev(void *ud, int fd, const struct iovec *iov, int iovcnt)
{
    pd_instance *pd = ud;
    lock(pd);
    return finish_ssize(pd, send_iov(pd, fd, iov, iovcnt, 0));
}

static ssize_t pd_send(void *ud, int sockfd, const void *buf, size_t len, int flags)
{
    pd_instance *pd = ud;
    lock(pd);
    int err = 0;
    ssize_t rc = get_socket(pd, sockfd, &err) ? do_send(pd, sockfd, buf, len, flags) : -err;
    return finish_ssize(pd, rc);
}

static ssize_t pd_sendto(void *ud, int sockfd, const void *buf, size_t len, int flags,
                         const struct sockaddr *dest_addr, socklen_t addrlen)
{
    /* On a TCP socket Linux ignores the destination once connected;
     * before, MSG_FASTOPEN connects to it with data in the SYN.  The
     * engine answers at once (bytes in the SYN, or EINPROGRESS), as a
     * non-blocking Linux socket does; a blocking caller then waits for the
     * handshake and sends the rest (tcp_sendmsg_fastopen's
     * __inet_stream_connect, then tcp_sendmsg_locked), as do_send does. */
    if (!(flags & MSG_FASTOPEN))
        return pd_send(ud, sockfd, buf, len, flags);
    pd_instance *pd = ud;
    lock(pd);
    int err = 0;
    ssize_t rc;
    if (!get_socket(pd, sockfd, &err)) {
        rc = -err;
    } else if (!dest_addr || addrlen < sizeof(struct sockaddr_in) ||
               (dest_addr->sa_family != AF_INET && dest_addr->sa_family != AF_INET6)) {
        rc = dest_addr && addrlen >= sizeof(sa_family_t) && dest_addr->sa_family == AF_UNSPEC ? -EOPNOTSUPP
                                                                                                : -EINVAL;
    } else {
        sk_endpoint ep;
        rc = to_endpoint(dest_addr, addrlen, &ep);
        if (rc == 0)
            rc = sk_sendto(pd->stack, pd->fds[sockfd].handle, buf, len, (flags & ~(MSG_DONTWAIT | MSG_FASTOPEN)) | SK_MSG_FASTOPEN,
                       &ep);
        touched(pd);
        size_t sent = rc > 0 ? (size_t)rc : 0;
        bool blocking = !pd->fds[sockfd].nonblock && !(flags & MSG_DONTWAIT);
        if (blocking && (rc == -EINPROGRESS || rc >= 0) && sent < len) {
            ssize_t more = do_send(pd, sockfd, (const uint8_t *)buf + sent, len - sent, flags & ~MSG_FASTOPEN);
            /* A refused or reset handshake fails the whole call, data in
             * the SYN or not (the connect error is returned). */
            rc = more >= 0 ? (ssize_t)(sent + (size_t)more) : more;
        } else if (blocking && (rc == -EINPROGRESS || rc >= 0)) {
            int werr = wait_connected(pd, sockfd);
            rc = werr ? werr : (ssize_t)sent;
        }
    }
    return finish_ssize(pd, rc);
}

static ssize_t pd_sendmsg(void *ud, int sockfd, const struct msghdr *msg, int flags)
{
    pd_instance *pd = ud;
    lock(pd);
    int err = 0;
    ssize_t rc;
    if (!msg)
        rc = -EFAULT;
    else if (!get_socket(pd, sockfd, &err))
        rc = -err;
    else if (msg->msg_controllen)
        rc = -EINVAL; /* no control messages are understood */
    else
        rc = send_iov(pd, sockfd, msg->msg_iov, (int)msg->msg_iovlen, flags);
    return finish_ssize(pd, rc);
}

static int pd_fcntl(void *ud, int fd, int cmd, ...)
{
    pd_instance *pd = ud;
    va_list ap;
    va_start(ap, cmd);
    int arg = (cmd == F_SETFL || cmd == F_SETFD) ? va_arg(ap, int) : 0;
    va_end(ap);
    lock(pd);
    pd_fd *f = get_fd(pd, fd);
    int rc;
    if (!f)
        rc = -EBADF;
    else if (cmd == F_GETFL)
        rc = (f->kind == PD_PIPE_READ ? O_RDONLY : f->kind == PD_PIPE_WRITE ? O_WRONLY : O_RDWR) |
             (f->nonblock ? O_NONBLOCK : 0);
    else if (cmd == F_SETFL) {
        f->nonblock = (arg & O_NONBLOCK) != 0;
        rc = 0;
    } else if (cmd == F_GETFD || cmd == F_SETFD)
        rc = 0; /* there is no exec to close on */
    else
        rc = -EINVAL;
    unlock(pd);
    return rc < 0 ? fail(-rc) : rc;
}

static int pd_ioctl(void *ud, int fd, unsigned long request, ...)
{
    pd_instance *pd = ud;
    va_list ap;
    va_start(ap, request);
    int *arg = va_arg(ap, int *);
    va_end(ap);
    lock(pd);
    pd_fd *f = get_fd(pd, fd);
    int rc = 0;
    if (!f) {
        rc = -EBADF;
    } else if (request == FIONBIO) {
        if (!arg)
            rc = -EFAULT;
        else
            f->nonblock = *arg != 0;
    } else if (request == SIOCINQ || request == SIOCOUTQ) {
        if (f->kind == PD_PIPE_READ && request == SIOCINQ) {
            if (arg)
                *arg = (int)f->pipe->len;
        } else if (f->kind != PD_SOCKET) {
            rc = -ENOTTY;
        } else {
            rc = request == SIOCINQ ? sk_inq(pd->stack, f->handle) : sk_outq(pd->stack, f->handle);
            if (rc >= 0 && !arg)
                rc = -EFAULT;
            else if (rc >= 0) {
                *arg = rc;
                rc = 0;
            }
        }
    } else {
        rc = -ENOTTY;
    }
    unlock(pd);
    return rc < 0 ? fail(-rc) : rc;
}

static void forget_epoll_regs(pd_instance *pd, int fd)
{
    for (int e = PD_FIRST_FD; e < PD_MAX_FDS; e++) {
        pd_fd *ep = &pd->fds[e];
        if (ep->kind != PD_EPOLL)
            continue;
        for (size_t i = 0; i < ep->reg_count;) {
            if (ep->regs[i].fd == fd)
                ep->regs[i] = ep->regs[--ep->reg_count];
            else
                i++;
        }
    }
}

static int close_fd(pd_instance *pd, int fd)
{
    if (!get_fd(pd, fd))
        return -EBADF;
    return release_fd(pd, fd, true);
}

static int pd_close(void *ud, int fd)
{
    pd_instance *pd = ud;
    lock(pd);
    int rc = close_fd(pd, fd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

static int pd_shutdown(void *ud, int sockfd, int how)
{
    pd_instance *pd = ud;
    int err = 0;
    lock(pd);
    pd_fd *f = get_socket(pd, sockfd, &err);
    int rc = f ? sk_shutdown(pd->stack, f->handle, how) : -err;
    touched(pd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

static int pd_getsockopt(void *ud, int sockfd, int level, int optname, void *optval, socklen_t *optlen)
{
    pd_instance *pd = ud;
    int err = 0, rc;
    lock(pd);
    pd_fd *f = get_socket(pd, sockfd, &err);
    if (!f) {
        rc = -err;
    } else if (!optlen) {
        rc = -EFAULT;
    } else {
        size_t len = *optlen;
        rc = sk_getsockopt(pd->stack, f->handle, level, optname, optval, &len);
        if (rc >= 0)
            *optlen = (socklen_t)len;
    }
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

static int pd_setsockopt(void *ud, int sockfd, int level, int optname, const void *optval, socklen_t optlen)
{
    pd_instance *pd = ud;
    int err = 0;
    lock(pd);
    pd_fd *f = get_socket(pd, sockfd, &err);
    int rc = f ? sk_setsockopt(pd->stack, f->handle, level, optname, optval, optlen) : -err;
    touched(pd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

/* poll(2)'s answer for one fd now. */
static short fd_revents(pd_instance *pd, int fd, short events)
{
    pd_fd *f = get_fd(pd, fd);
    if (!f)
        return POLLNVAL;
    int mask = 0;
    switch (f->kind) {
    case PD_SOCKET:
        mask = sk_poll(pd->stack, f->handle);
        if (mask < 0)
            return POLLNVAL;
        break;
    case PD_PIPE_READ:
        mask = (f->pipe->len ? POLLIN | POLLRDNORM : 0) | (f->pipe->writer_open ? 0 : POLLHUP);
        break;
    case PD_PIPE_WRITE:
        mask = (f->pipe->len < PD_PIPE_SIZE ? POLLOUT | POLLWRNORM : 0) | (f->pipe->reader_open ? 0 : POLLERR);
        break;
    case PD_EPOLL:
    case PD_FREE:
        break;
    }
    return (short)(mask & (events | POLLERR | POLLHUP | POLLNVAL));
}

static int pd_poll(void *ud, struct pollfd *fds, nfds_t nfds, int timeout)
{
    pd_instance *pd = ud;
    if (nfds && !fds)
        return fail(EFAULT);
    lock(pd);
    sk_time_ns until = timeout_deadline(pd, timeout);
    int ready;
    for (;;) {
        ready = 0;
        for (nfds_t i = 0; i < nfds; i++) {
            fds[i].revents = fds[i].fd < 0 ? 0 : fd_revents(pd, fds[i].fd, fds[i].events);
            ready += fds[i].revents != 0;
        }
        if (ready || pd->now >= until)
            break;
        if (!wait_for_change(pd, until)) {
            unlock(pd);
            return fail(EDEADLK);
        }
    }
    unlock(pd);
    return ready;
}

/* ------------------------------------------------------------------ */
/* The link and the clock                                               */
/* ------------------------------------------------------------------ */

static int pd_netdev_send(void *ud, const void *buf, size_t count)
{
    pd_instance *pd = ud;
    if (!buf && count)
        return fail(EFAULT);
    lock(pd);
    sk_input(pd->stack, buf, count, pd->now);
    touched(pd);
    unlock(pd);
    return 0;
}

static long long to_usecs(sk_time_ns t)
{
    return (long long)(PD_EPOCH_USECS + (t - PD_CLOCK_START_NS) / SK_NSEC_PER_USEC);
}

static int pd_netdev_receive(void *ud, void *buf, size_t *count, long long *time_usecs)
{
    pd_instance *pd = ud;
    if (!count)
        return fail(EFAULT);
    pd_call last = enter(pd, PD_CALL_OTHER, NULL, NULL);
    if (pd->out_count == 0 && last == PD_CALL_EMPTY_RECEIVE) {
        /* Asked again with nothing in between: the caller is waiting for
         * a packet (packetdrill's sniffer never stops asking), so time
         * passes, to the next instant anything is scheduled; that is
         * where a retransmission or a keepalive probe would leave. */
        sk_time_ns d = sk_next_deadline(pd->stack), w = waiter_deadline(pd);
        if (w < d)
            d = w;
        if (d == SK_TIME_NEVER)
            d = pd->now + PD_IDLE_STEP_NS;
        else if (d <= pd->now)
            d = pd->now + SK_NSEC_PER_USEC;
        advance_to(pd, d);
    }
    int rc = 0;
    if (pd->out_count == 0) {
        /* "Nothing yet" must not be a 0 return: packetdrill would parse
         * an empty packet and fail the script. */
        pd_thread.last = PD_CALL_EMPTY_RECEIVE;
        *count = 0;
        rc = -EAGAIN;
    } else {
        pd_datagram *d = &pd->out[pd->out_head];
        if (!buf || d->len > *count) {
            rc = -EMSGSIZE;
        } else {
            memcpy(buf, d->data, d->len);
            *count = d->len;
            if (time_usecs)
                *time_usecs = to_usecs(d->at);
            free(d->data);
            pd->out_head = (pd->out_head + 1) % pd->out_cap;
            pd->out_count--;
        }
    }
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

static int pd_usleep(void *ud, useconds_t usec)
{
    pd_instance *pd = ud;
    lock(pd);
    advance_to(pd, pd->now + (sk_time_ns)usec * SK_NSEC_PER_USEC);
    unlock(pd);
    return 0;
}

static int pd_gettimeofday(void *ud, struct timeval *tv, void *tz)
{
    pd_instance *pd = ud;
    bool kept;
    sk_time_ns kept_at, at;
    pd_call last = enter(pd, PD_CALL_CLOCK, &kept, &kept_at);
    if (kept) {
        /* The first read after a blocking call returned: the instant the
         * call completed, which is what packetdrill checks its return
         * time against, however far the main thread has moved since. */
        at = kept_at;
    } else {
        /* A read right after a read is a poll: packetdrill spins on the
         * clock before the first event and for the last 20 us before each
         * later one, so a clock that stood still would never get there. */
        advance_to(pd, last == PD_CALL_CLOCK ? pd->now + SK_NSEC_PER_USEC : pd->now);
        at = pd->now;
    }
    long long us = to_usecs(at);
    unlock(pd);
    if (tv) {
        tv->tv_sec = (time_t)(us / 1000000);
        tv->tv_usec = (suseconds_t)(us % 1000000);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* epoll, pipe, splice                                                  */
/* ------------------------------------------------------------------ */

static int pd_epoll_create(void *ud, int size)
{
    pd_instance *pd = ud;
    if (size <= 0)
        return fail(EINVAL);
    lock(pd);
    int fd = new_fd(pd, PD_EPOLL);
    unlock(pd);
    return fd < 0 ? fail(-fd) : fd;
}

static int pd_epoll_ctl(void *ud, int epfd, int op, int fd, struct epoll_event *event)
{
    pd_instance *pd = ud;
    lock(pd);
    pd_fd *ep = get_fd(pd, epfd);
    pd_fd *target = get_fd(pd, fd);
    int rc = 0;
    if (!ep || !target)
        rc = -EBADF;
    else if (ep->kind != PD_EPOLL || epfd == fd)
        rc = -EINVAL;
    else if (target->kind == PD_EPOLL)
        rc = -EINVAL; /* nested epoll sets are not supported */
    else if (op != EPOLL_CTL_DEL && !event)
        rc = -EFAULT;
    if (rc == 0) {
        size_t i = 0;
        while (i < ep->reg_count && ep->regs[i].fd != fd)
            i++;
        bool found = i < ep->reg_count;
        if (op == EPOLL_CTL_ADD) {
            if (found) {
                rc = -EEXIST;
            } else {
                if (ep->reg_count == ep->reg_cap) {
                    size_t cap = ep->reg_cap ? ep->reg_cap * 2 : 8;
                    pd_epoll_reg *n = realloc(ep->regs, cap * sizeof(*n));
                    if (!n) {
                        unlock(pd);
                        return fail(ENOMEM);
                    }
                    ep->regs = n;
                    ep->reg_cap = cap;
                }
                ep->regs[ep->reg_count++] = (pd_epoll_reg){fd, event->events, event->data, true, false};
            }
        } else if (op == EPOLL_CTL_MOD || op == EPOLL_CTL_DEL) {
            if (!found)
                rc = -ENOENT;
            else if (op == EPOLL_CTL_DEL)
                ep->regs[i] = ep->regs[--ep->reg_count];
            else
                ep->regs[i] = (pd_epoll_reg){fd, event->events, event->data, true, false};
        } else {
            rc = -EINVAL;
        }
    }
    touched(pd);
    unlock(pd);
    return rc < 0 ? fail(-rc) : 0;
}

static int pd_epoll_wait(void *ud, int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    pd_instance *pd = ud;
    if (maxevents <= 0)
        return fail(EINVAL);
    if (!events)
        return fail(EFAULT);
    lock(pd);
    pd_fd *ep = get_fd(pd, epfd);
    if (!ep || ep->kind != PD_EPOLL) {
        unlock(pd);
        return fail(ep ? EINVAL : EBADF);
    }
    sk_time_ns until = timeout_deadline(pd, timeout);
    int n;
    for (;;) {
        n = 0;
        ep = &pd->fds[epfd];
        for (size_t i = 0; i < ep->reg_count && n < maxevents; i++) {
            pd_epoll_reg *r = &ep->regs[i];
            if (r->disabled || ((r->events & EPOLLET) && !r->pending))
                continue;
            uint32_t want = r->events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLRDNORM | EPOLLWRNORM);
            uint32_t got = (uint32_t)(unsigned short)fd_revents(pd, r->fd, (short)want);
            got &= want | EPOLLERR | EPOLLHUP;
            if (!got)
                continue;
            events[n].events = got;
            events[n].data = r->data;
            n++;
            r->pending = false;
            if (r->events & EPOLLONESHOT)
                r->disabled = true;
        }
        if (n || pd->now >= until || pd->fds[epfd].kind != PD_EPOLL)
            break;
        if (!wait_for_change(pd, until)) {
            unlock(pd);
            return fail(EDEADLK);
        }
    }
    unlock(pd);
    return n;
}

static int pd_pipe(void *ud, int pipefd[2])
{
    pd_instance *pd = ud;
    if (!pipefd)
        return fail(EFAULT);
    lock(pd);
    pd_pipebuf *p = calloc(1, sizeof(*p));
    int r = p ? new_fd(pd, PD_PIPE_READ) : -ENOMEM;
    int w = r >= 0 ? new_fd(pd, PD_PIPE_WRITE) : r;
    if (w < 0) {
        if (r >= 0) {
            close(r);
            pd->fds[r] = (pd_fd){.kind = PD_FREE, .handle = -1};
        }
        free(p);
        unlock(pd);
        return fail(-w);
    }
    p->reader_open = p->writer_open = true;
    pd->fds[r].pipe = p;
    pd->fds[w].pipe = p;
    pipefd[0] = r;
    pipefd[1] = w;
    unlock(pd);
    return 0;
}

static ssize_t pd_splice(void *ud, int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
                         unsigned int flags)
{
    /* Zero-copy moves between sockets and pipes are a Linux-kernel
     * mechanism synack does not have. */
    return fail_ssize(ENOSYS);
}

/* ------------------------------------------------------------------ */
/* Lifetime                                                             */
/* ------------------------------------------------------------------ */

static void pd_free(void *ud)
{
    pd_instance *pd = ud;
    if (!pd)
        return;
    for (int fd = PD_FIRST_FD; fd < PD_MAX_FDS; fd++) {
        pd_fd *f = &pd->fds[fd];
        if (f->kind == PD_FREE)
            continue;
        /* Close only what is still ours: packetdrill may have closed the
         * number and the process reused it. */
        if (os_fd_ours(f, fd))
            close(fd);
        if (f->kind == PD_EPOLL)
            free(f->regs);
        else if (f->kind == PD_PIPE_READ || f->kind == PD_PIPE_WRITE) {
            if (f->kind == PD_PIPE_READ)
                f->pipe->reader_open = false;
            else
                f->pipe->writer_open = false;
            if (!f->pipe->reader_open && !f->pipe->writer_open)
                free(f->pipe);
        }
        f->kind = PD_FREE;
    }
    if (pd->stack)
        sk_stack_free(pd->stack);
    for (size_t i = 0; i < pd->out_count; i++)
        free(pd->out[(pd->out_head + i) % pd->out_cap].data);
    free(pd->out);
    for (size_t i = 0; i < pd->override_count; i++) {
        free(pd->overrides[i].name);
        free(pd->overrides[i].value);
    }
    free(pd->overrides);
    free(pd->proc_sys);
    pthread_cond_destroy(&pd->changed);
    pthread_cond_destroy(&pd->settled);
    pthread_mutex_destroy(&pd->lock);
    free(pd);
}

__attribute__((visibility("default"))) void packetdrill_interface_init(const char *flags,
                                                                        struct packetdrill_interface *ifc)
{
    if (!ifc)
        return;
    memset(ifc, 0, sizeof(*ifc));
    pd_instance *pd = calloc(1, sizeof(*pd));
    if (!pd) {
        fprintf(stderr, "synack-packetdrill: out of memory\n");
        return;
    }
    pthread_mutex_init(&pd->lock, NULL);
    pthread_cond_init(&pd->changed, NULL);
    pthread_cond_init(&pd->settled, NULL);
    pd->creator = pthread_self();
    pd->id = __atomic_add_fetch(&pd_next_id, 1, __ATOMIC_RELAXED);
    pd->proc_sys = strdup("/proc/sys");
    pd_settings set = {.local_ip = 0xc0a80001u /* 192.168.0.1 */, .remote_ip = 0xc0000201u /* 192.0.2.1 */,
                       .mtu = PD_DEFAULT_MTU, .seed = 1};
    parse_flags(pd, flags, &set);
    pd->local_ip = set.local_ip;
    pd->remote_ip = set.remote_ip;
    pd->now = PD_CLOCK_START_NS;

    sk_stack_params params;
    memset(&params, 0, sizeof(params));
    params.addr = set.local_ip;
    if (set.have_local_ip6)
        memcpy(params.addr6, set.local_ip6, 16);
    params.mtu = set.mtu;
    params.seed = set.seed;
    /* Secrets derived from the seed: a run is reproducible from its flags. */
    uint64_t x = set.seed ^ 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof(params.secret); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        params.secret[i] = (uint8_t)x;
    }
    params.now = pd->now;
    params.name = "packetdrill";
    params.transmit = on_transmit;
    params.transmit_ctx = pd;
    params.on_event = on_event;
    params.event_ctx = pd;
    pd->stack = sk_stack_new(&params);
    if (!pd->stack) {
        fprintf(stderr, "synack-packetdrill: cannot create the stack\n");
        pd_free(pd);
        return;
    }
    /* Say now, not at the first socket(), which overrides are wrong. */
    for (size_t i = 0; i < pd->override_count; i++) {
        char err[256];
        if (sk_sysctl_set(pd->stack, pd->overrides[i].name, pd->overrides[i].value, err, sizeof(err)) < 0)
            fprintf(stderr, "synack-packetdrill: %s=%s: %s\n", pd->overrides[i].name, pd->overrides[i].value, err);
    }

    ifc->userdata = pd;
    ifc->free = pd_free;
    ifc->socket = pd_socket;
    ifc->bind = pd_bind;
    ifc->listen = pd_listen;
    ifc->accept = pd_accept;
    ifc->connect = pd_connect;
    ifc->read = pd_read;
    ifc->readv = pd_readv;
    ifc->recv = pd_recv;
    ifc->recvfrom = pd_recvfrom;
    ifc->recvmsg = pd_recvmsg;
    ifc->write = pd_write;
    ifc->writev = pd_writev;
    ifc->send = pd_send;
    ifc->sendto = pd_sendto;
    ifc->sendmsg = pd_sendmsg;
    ifc->fcntl = pd_fcntl;
    ifc->ioctl = pd_ioctl;
    ifc->close = pd_close;
    ifc->shutdown = pd_shutdown;
    ifc->getsockopt = pd_getsockopt;
    ifc->setsockopt = pd_setsockopt;
    ifc->poll = pd_poll;
    ifc->netdev_send = pd_netdev_send;
    ifc->netdev_receive = pd_netdev_receive;
    ifc->usleep = pd_usleep;
    ifc->gettimeofday = pd_gettimeofday;
    ifc->epoll_create = pd_epoll_create;
    ifc->epoll_ctl = pd_epoll_ctl;
    ifc->epoll_wait = pd_epoll_wait;
    ifc->pipe = pd_pipe;
    ifc->splice = pd_splice;
}
