/*
 * The runner's native backend: the synack engine linked into the runner,
 * called directly.  It sees the stack's timers, so the runner steps time
 * from one deadline to the next, and it emulates epoll over sk_poll() and
 * the stack's readiness events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "script/run_internal.h"

#define LINUX_EPOLLET (1u << 31)
#define LINUX_EPOLLONESHOT (1u << 30)
#define LINUX_EPOLL_ALWAYS 0x18 /* EPOLLERR | EPOLLHUP are always reported */
#define LINUX_MSG_DONTWAIT 0x40

static void on_transmit(void *ctx, const uint8_t *datagram, size_t len)
{
    sk_runner *r = ctx;
    sk_run_queue_out(r, datagram, len, r->now);
}

static void on_event(void *ctx, const sk_event *ev)
{
    sk_runner *r = ctx;
    if (ev->type == SK_EV_READY)
        sk_run_on_ready(r, ev->fd);
}

static bool nat_open(sk_runner *r)
{
    sk_stack_params params = {
        .addr = r->local_ip,
        .mtu = r->mtu ? r->mtu : 1500,
        .seed = 0x5eed,
        .now = r->now,
        .name = "script",
        .transmit = on_transmit,
        .transmit_ctx = r,
        .on_event = on_event,
        .event_ctx = r,
    };
    if (r->ip_version == SK_RUN_IPV6)
        memcpy(params.addr6, r->local_ip6, 16);
    for (size_t i = 0; i < sizeof(params.secret); i++)
        params.secret[i] = (uint8_t)(0xa5 ^ i);
    r->stack = sk_stack_new(&params);
    if (!r->stack) {
        sk_run_fail(r, "sk_stack_new failed");
        return false;
    }
    return true;
}

static void nat_close(sk_runner *r)
{
    if (r->stack)
        sk_stack_free(r->stack);
    r->stack = NULL;
}

static sk_time_ns nat_next_deadline(sk_runner *r) { return sk_next_deadline(r->stack); }
static void nat_advance(sk_runner *r, sk_time_ns t) { sk_advance(r->stack, t); }
static void nat_input(sk_runner *r, const uint8_t *d, size_t len) { sk_input(r->stack, d, len, r->now); }
static void nat_set_tx_blocked(sk_runner *r, bool b) { sk_stack_set_tx_blocked(r->stack, b); }
static int nat_socket(sk_runner *r, int family) { return sk_socket_family(r->stack, family); }
static int nat_bind(sk_runner *r, int h, const sk_endpoint *ep) { return sk_bind(r->stack, h, ep); }
static int nat_listen(sk_runner *r, int h, int backlog) { return sk_listen(r->stack, h, backlog); }
static int nat_accept(sk_runner *r, int h, sk_endpoint *peer) { return sk_accept(r->stack, h, peer); }
static int nat_connect(sk_runner *r, int h, const sk_endpoint *ep) { return sk_connect(r->stack, h, ep); }

/* synack's calls never block; MSG_DONTWAIT is the only behaviour there is. */
static int64_t nat_send(sk_runner *r, int h, const void *buf, size_t len, int flags)
{
    return sk_send(r->stack, h, buf, len, flags & ~LINUX_MSG_DONTWAIT);
}

static void nat_write_waiting(sk_runner *r, int h, bool waiting) { sk_write_waiting(r->stack, h, waiting); }

static int64_t nat_sendto(sk_runner *r, int h, const void *buf, size_t len, int flags, const sk_endpoint *ep, int family)
{
    /* The socket layer's part: an AF_UNSPEC address is no destination, and
     * Linux's tcp_sendmsg_fastopen refuses it with EOPNOTSUPP before
     * anything else; sk_endpoint cannot carry it to sk_sendto. */
    if (family == SK_AF_UNSPEC)
        return -EOPNOTSUPP;
    return sk_sendto(r->stack, h, buf, len, flags & ~LINUX_MSG_DONTWAIT, ep);
}

static void nat_metrics_flush(sk_runner *r, uint32_t addr, bool all)
{
    if (r->stack)
        sk_fastopen_forget(r->stack, addr, all);
}

static int64_t nat_recv(sk_runner *r, int h, void *buf, size_t len, int flags)
{
    return sk_recv(r->stack, h, buf, len, flags & ~LINUX_MSG_DONTWAIT);
}

static int nat_close_sock(sk_runner *r, int h) { return sk_close(r->stack, h); }
static int nat_shutdown(sk_runner *r, int h, int how) { return sk_shutdown(r->stack, h, how); }

static int nat_setsockopt(sk_runner *r, int h, int level, int name, const void *val, size_t len)
{
    return sk_setsockopt(r->stack, h, level, name, val, len);
}

static int nat_getsockopt(sk_runner *r, int h, int level, int name, void *val, size_t *len)
{
    return sk_getsockopt(r->stack, h, level, name, val, len);
}

static int nat_set_nonblock(sk_runner *r, int h, bool nonblock) { return 0; }

static int64_t nat_inq_hint(sk_runner *r, int h) { return sk_inq_hint(r->stack, h); }

static int64_t nat_ioctl_q(sk_runner *r, int h, unsigned long request)
{
    return request == 0x541B ? sk_inq(r->stack, h) : sk_outq(r->stack, h);
}

static int nat_getname(sk_runner *r, int h, bool peer, sk_endpoint *ep)
{
    return peer ? sk_getpeername(r->stack, h, ep) : sk_getsockname(r->stack, h, ep);
}

static int poll_mask(sk_runner *r, int fd)
{
    if (fd < 0 || fd >= SK_RUN_MAX_FDS || r->fds[fd].kind != SK_FD_SOCKET)
        return SK_POLLNVAL;
    int m = sk_poll(r->stack, r->fds[fd].handle);
    return m < 0 ? SK_POLLNVAL : m;
}

static void nat_poll(sk_runner *r, const int *fds, const int *events, int *revents, size_t n)
{
    for (size_t i = 0; i < n; i++)
        revents[i] = poll_mask(r, fds[i]) & (events[i] | SK_POLLERR | SK_POLLHUP | SK_POLLNVAL);
}

static int nat_epoll_create(sk_runner *r) { return 0; }

static int nat_epoll_ctl(sk_runner *r, int epfd, int op, int fd, uint32_t events, uint64_t data)
{
    sk_run_fd *ep = &r->fds[epfd];
    sk_run_epoll_reg *g = NULL;
    for (size_t i = 0; i < ep->reg_count; i++)
        if (ep->regs[i].fd == fd)
            g = &ep->regs[i];
    switch (op) {
    case 1: /* EPOLL_CTL_ADD */
        if (g)
            return -EEXIST;
        if (ep->reg_count == SK_RUN_MAX_EPOLL_REGS)
            return -ENOSPC;
        g = &ep->regs[ep->reg_count++];
        break;
    case 3: /* EPOLL_CTL_MOD */
    case 2: /* EPOLL_CTL_DEL */
        if (!g)
            return -ENOENT;
        if (op == 2) {
            *g = ep->regs[--ep->reg_count];
            return 0;
        }
        break;
    default: return -EINVAL;
    }
    /* Linux polls the file when it is added or modified, so readiness
     * present then is reported once even under EPOLLET. */
    *g = (sk_run_epoll_reg){.fd = fd, .events = events, .data = data, .pending = true};
    return 0;
}

/* Collects ready registrations; EPOLLET reports a registration once per
 * wakeup, as Linux puts it on the ready list only when woken. */
static int nat_epoll_wait(sk_runner *r, int epfd, int max, uint32_t *ev_out, uint64_t *data_out)
{
    sk_run_fd *ep = &r->fds[epfd];
    int n = 0;
    for (size_t i = 0; i < ep->reg_count && n < max; i++) {
        sk_run_epoll_reg *g = &ep->regs[i];
        if (g->disabled)
            continue;
        bool edge = g->events & LINUX_EPOLLET;
        if (edge && !g->pending)
            continue;
        uint32_t m = (uint32_t)poll_mask(r, g->fd) & (g->events | LINUX_EPOLL_ALWAYS) & 0xffff;
        g->pending = false;
        if (!m)
            continue;
        if (n == 0) {
            *ev_out = m;
            *data_out = g->data;
        }
        n++;
        if (g->events & LINUX_EPOLLONESHOT)
            g->disabled = true;
    }
    return n;
}

static int nat_epoll_close(sk_runner *r, int h) { return 0; }

static int nat_sysctl_get(sk_runner *r, const char *name, char *buf, size_t len)
{
    return sk_sysctl_get(r->stack, name, buf, len);
}

static int nat_sysctl_set(sk_runner *r, const char *name, const char *value, char *err, size_t errlen)
{
    return sk_sysctl_set(r->stack, name, value, err, errlen);
}

static uint64_t nat_counter(sk_runner *r, size_t i) { return sk_counter_value(r->stack, i); }

const sk_run_backend sk_run_backend_native = {
    .name = "native",
    .lazy_open = false,
    .exact_deadlines = true,
    .open = nat_open,
    .close = nat_close,
    .next_deadline = nat_next_deadline,
    .advance = nat_advance,
    .input = nat_input,
    .set_tx_blocked = nat_set_tx_blocked,
    .socket = nat_socket,
    .bind = nat_bind,
    .listen = nat_listen,
    .accept = nat_accept,
    .connect = nat_connect,
    .send = nat_send,
    .sendto = nat_sendto,
    .write_waiting = nat_write_waiting,
    .metrics_flush = nat_metrics_flush,
    .recv = nat_recv,
    .close_sock = nat_close_sock,
    .shutdown = nat_shutdown,
    .setsockopt = nat_setsockopt,
    .getsockopt = nat_getsockopt,
    .set_nonblock = nat_set_nonblock,
    .ioctl_q = nat_ioctl_q,
    .inq_hint = nat_inq_hint,
    .getname = nat_getname,
    .poll = nat_poll,
    .epoll_create = nat_epoll_create,
    .epoll_ctl = nat_epoll_ctl,
    .epoll_wait = nat_epoll_wait,
    .epoll_close = nat_epoll_close,
    .sysctl_get = nat_sysctl_get,
    .sysctl_set = nat_sysctl_set,
    .counter = nat_counter,
};
