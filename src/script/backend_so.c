/*
 * The runner's shared-object backend: a packetdrill shared object
 * (packetdrill's --so_filename mode, e.g. build/libsynack-packetdrill.so)
 * driven only through struct packetdrill_interface, the way packetdrill
 * drives it: POSIX calls with -1/errno, struct sockaddr_in, Linux's
 * pollfd/epoll_event/linger/tcp_info layouts, whole IPv4 datagrams in
 * through netdev_send and out through netdev_receive (each with the time
 * it left), and time through usleep/gettimeofday.  Running the project's
 * own conformance tiers through it keeps the .so from rotting.
 *
 * Differences from packetdrill that the runner's model needs:
 *   - The runner retries a blocking call after every step of time rather
 *     than parking a thread in it, so each attempt is made non-blocking
 *     (MSG_DONTWAIT, or O_NONBLOCK set around accept/connect); the
 *     object's own blocking paths are covered by test_packetdrill_so.
 *   - The object hides its timers, so while a call is pending or a packet
 *     is awaited the runner steps time in small fixed steps; datagram
 *     times come exactly from netdev_receive regardless.
 *   - `tc qdisc ... pfifo limit 0` (local congestion) cannot reach the
 *     object through the interface: such scripts SKIP.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "packetdrill/packetdrill_interface.h"
#include "script/run_internal.h"

#define SO_MAX_DATAGRAM 65536
/* Step of time while the object's timers are invisible: far inside the
 * default 4 ms tolerance, and cheap enough for minutes of virtual time. */
#define SO_STEP_NS (100 * SK_NSEC_PER_USEC)
#define SO_MAX_FLAGS 8192

typedef void (*so_init_fn)(const char *flags, struct packetdrill_interface *ifc);

typedef struct so_sysctl {
    char name[96];
} so_sysctl;

typedef struct so_state {
    struct packetdrill_interface ifc;
    bool have_ifc;
    long long t0_usecs;     /* gettimeofday() at r->origin               */
    sk_time_ns origin;      /* runner time when the object was created   */
    long long elapsed_usecs; /* virtual time slept so far                */
    uint8_t *buf;
    /* A scratch engine holding the configuration the flags will carry:
     * it validates names and values as the native backend would. */
    sk_stack *cfg;
    so_sysctl set[SK_RUN_MAX_SAVED_SYSCTLS * 2];
    size_t set_count;
    bool changed_after_open;
} so_state;

static so_state *st(sk_runner *r) { return r->be_state; }

static int neg_errno(int rc)
{
    return rc < 0 ? -(errno ? errno : EIO) : rc;
}

/* Takes every datagram the object has queued, with its time. */
static void drain(sk_runner *r)
{
    so_state *s = st(r);
    if (!s->have_ifc)
        return;
    for (;;) {
        size_t count = SO_MAX_DATAGRAM;
        long long t = 0;
        if (s->ifc.netdev_receive(s->ifc.userdata, s->buf, &count, &t) != 0) {
            sk_run_fail(r, "netdev_receive: %s", strerror(errno));
            return;
        }
        if (count == 0)
            return;
        sk_run_queue_out(r, s->buf, count, s->origin + (sk_time_ns)(t - s->t0_usecs) * SK_NSEC_PER_USEC);
    }
}

static void *load(sk_runner *r, const char *path)
{
    /* One object per process is enough: each script gets its own
     * instance from packetdrill_interface_init(). */
    static void *handle;
    static const char *loaded;
    if (handle && loaded && strcmp(loaded, path) == 0)
        return dlsym(handle, "packetdrill_interface_init");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
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
    char item[512], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    struct in_addr la = {htonl(r->local_ip)}, ra = {htonl(r->remote_ip)};
    inet_ntop(AF_INET, &la, a, sizeof(a));
    inet_ntop(AF_INET, &ra, b, sizeof(b));
    snprintf(item, sizeof(item), "proc_sys= local_ip=%s remote_ip=%s mtu=1500 seed=%u", a, b, 0x5eedu);
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
    s->have_ifc = true;
    s->origin = r->now;
    struct timeval tv;
    s->ifc.gettimeofday(s->ifc.userdata, &tv, NULL);
    s->t0_usecs = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
    return true;
}

static void so_close(sk_runner *r)
{
    so_state *s = st(r);
    if (!s)
        return;
    if (s->have_ifc && s->ifc.free)
        s->ifc.free(s->ifc.userdata);
    if (s->cfg)
        sk_stack_free(s->cfg);
    free(s->buf);
    free(s);
    r->be_state = NULL;
}

static sk_time_ns so_next_deadline(sk_runner *r) { return r->now + SO_STEP_NS; }

static void so_advance(sk_runner *r, sk_time_ns t)
{
    so_state *s = st(r);
    /* Before the object exists (commands at a time) nothing can happen:
     * its clock starts where the runner's is when it is created. */
    if (!s || !s->have_ifc)
        return;
    long long target = (long long)((t - s->origin) / SK_NSEC_PER_USEC);
    while (s->elapsed_usecs < target && !r->done) {
        long long d = target - s->elapsed_usecs;
        if (d > 1000000000)
            d = 1000000000; /* useconds_t is 32 bits */
        s->ifc.usleep(s->ifc.userdata, (useconds_t)d);
        s->elapsed_usecs += d;
        drain(r);
    }
}

static void so_input(sk_runner *r, const uint8_t *d, size_t len)
{
    so_state *s = st(r);
    if (s->ifc.netdev_send(s->ifc.userdata, d, len) != 0)
        sk_run_fail(r, "netdev_send of %zu bytes: %s", len, strerror(errno));
    drain(r);
}

#define CALL(r, fn, ...) (errno = 0, st(r)->ifc.fn(st(r)->ifc.userdata, __VA_ARGS__))

static int so_socket(sk_runner *r)
{
    if (st(r)->changed_after_open) {
        /* The object reads its configuration at socket(); a value
         * changed since init would not reach it. */
        sk_run_skip(r, "sysctl changed after the shared object was created, before a socket()");
        return -EINVAL;
    }
    int rc = neg_errno(CALL(r, socket, AF_INET, SOCK_STREAM, IPPROTO_TCP));
    drain(r);
    return rc;
}

static void to_sin(const sk_endpoint *ep, struct sockaddr_in *sin)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(ep->port);
    sin->sin_addr.s_addr = htonl(ep->addr);
}

static int so_bind(sk_runner *r, int h, const sk_endpoint *ep)
{
    struct sockaddr_in sin;
    to_sin(ep, &sin);
    int rc = neg_errno(CALL(r, bind, h, (const struct sockaddr *)&sin, sizeof(sin)));
    drain(r);
    return rc;
}

static int so_listen(sk_runner *r, int h, int backlog)
{
    int rc = neg_errno(CALL(r, listen, h, backlog));
    drain(r);
    return rc;
}

/* Runs one attempt of a call with O_NONBLOCK set, restoring the flags:
 * the object must not block the runner (see the file comment). */
static int nonblocking_flags(sk_runner *r, int h, int *old)
{
    *old = CALL(r, fcntl, h, F_GETFL);
    if (*old < 0)
        return neg_errno(*old);
    if (!(*old & O_NONBLOCK))
        CALL(r, fcntl, h, F_SETFL, *old | O_NONBLOCK);
    return 0;
}

static void restore_flags(sk_runner *r, int h, int old)
{
    if (!(old & O_NONBLOCK)) {
        int saved = errno;
        CALL(r, fcntl, h, F_SETFL, old);
        errno = saved;
    }
}

static int so_accept(sk_runner *r, int h, sk_endpoint *peer)
{
    int old, rc = nonblocking_flags(r, h, &old);
    if (rc < 0)
        return rc;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    memset(&sin, 0, sizeof(sin));
    errno = 0;
    rc = st(r)->ifc.accept(st(r)->ifc.userdata, h, (struct sockaddr *)&sin, &len);
    rc = neg_errno(rc);
    restore_flags(r, h, old);
    if (rc >= 0 && peer) {
        peer->addr = ntohl(sin.sin_addr.s_addr);
        peer->port = ntohs(sin.sin_port);
    }
    drain(r);
    return rc;
}

static int so_connect(sk_runner *r, int h, const sk_endpoint *ep)
{
    int old, rc = nonblocking_flags(r, h, &old);
    if (rc < 0)
        return rc;
    struct sockaddr_in sin;
    to_sin(ep, &sin);
    errno = 0;
    rc = neg_errno(st(r)->ifc.connect(st(r)->ifc.userdata, h, (const struct sockaddr *)&sin, sizeof(sin)));
    restore_flags(r, h, old);
    drain(r);
    return rc;
}

static int64_t so_send(sk_runner *r, int h, const void *buf, size_t len, int flags)
{
    ssize_t n = CALL(r, send, h, buf, len, flags | MSG_DONTWAIT);
    int64_t rc = n < 0 ? -(errno ? errno : EIO) : n;
    drain(r);
    return rc;
}

static int64_t so_sendto(sk_runner *r, int h, const void *buf, size_t len, int flags, const sk_endpoint *ep)
{
    struct sockaddr_in sin;
    to_sin(ep, &sin);
    errno = 0;
    ssize_t n = st(r)->ifc.sendto(st(r)->ifc.userdata, h, buf, len, flags | MSG_DONTWAIT,
                                  (const struct sockaddr *)&sin, sizeof(sin));
    int64_t rc = n < 0 ? -(errno ? errno : EIO) : n;
    drain(r);
    return rc;
}

static int64_t so_recv(sk_runner *r, int h, void *buf, size_t len, int flags)
{
    ssize_t n = CALL(r, recv, h, buf, len, flags | MSG_DONTWAIT);
    int64_t rc = n < 0 ? -(errno ? errno : EIO) : n;
    drain(r);
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
    struct pollfd p[64];
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        int fd = fds[i];
        /* A script fd that is no socket must still read POLLNVAL: give
         * the object a number it never hands out. */
        p[i].fd = fd >= 0 && fd < SK_RUN_MAX_FDS && r->fds[fd].kind == SK_FD_SOCKET ? r->fds[fd].handle : 1 << 20;
        p[i].events = (short)events[i];
        p[i].revents = 0;
    }
    if (CALL(r, poll, p, (nfds_t)n, 0) < 0) {
        sk_run_fail(r, "poll: %s", strerror(errno));
        return;
    }
    for (size_t i = 0; i < n; i++)
        revents[i] = (unsigned short)p[i].revents;
    drain(r);
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
    struct epoll_event ev[16];
    if (max > 16)
        max = 16;
    int n = neg_errno(CALL(r, epoll_wait, r->fds[epfd].handle, ev, max, 0));
    if (n > 0) {
        *events = ev[0].events;
        *data = ev[0].data.u64;
    }
    drain(r);
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
