/*
 * A minimal tun2socks: every TCP connection that arrives on a TUN device,
 * whatever its destination address and port, is accepted by a synack
 * stack in transparent mode and forwarded to that destination through an
 * ordinary kernel socket.  Point a default route (of a namespace, or of a
 * VPN's clients) at the device and their TCP goes out from this process.
 *
 *   sudo ip tuntap add dev t2s0 mode tun && sudo ip link set t2s0 up
 *   ./tun2socks t2s0 &
 *   sudo ip route add 203.0.113.0/24 dev t2s0    # or a namespace's default
 *   curl http://203.0.113.10/                    # fetched by tun2socks
 *
 * Transparent mode is Linux's IP_TRANSPARENT with a TPROXY rule: the two
 * listeners (IPv4 and IPv6) set SK_IP_TRANSPARENT, and
 * sk_stack_set_tproxy(stack, LISTEN_PORT) sends them SYNs for every
 * port, as `iptables -t mangle -A PREROUTING -p tcp -j TPROXY --on-port`
 * would.  An accepted socket's sk_getsockname is the original destination.
 *
 * Each connection is a pair of sockets and two fixed buffers, one per
 * direction.  A side is read only while its buffer has room, so a slow
 * reader closes the writer's window (back-pressure, no unbounded
 * buffering); a FIN is passed on once the buffer before it has drained
 * (half-close both ways); a failed or refused kernel connect, or a reset
 * on either side, resets the other.
 *
 *   cc tun2socks.c $(pkg-config --cflags --libs synack-io) -o tun2socks
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getrandom, epoll: Linux interfaces */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <synack-io/control.h>
#include <synack-io/loop.h>
#include <synack-io/tun.h>
#include <synack/synack.h>

#define LISTEN_PORT 1 /* the transparent listeners' own port; every other port is sent there */
#define BUF_SIZE 65536
#define MAX_RELAYS 1024

/* One direction: bytes read from one side and not yet written to the other. */
typedef struct half {
    char data[BUF_SIZE];
    size_t len;
    bool eof;  /* the source sent its FIN */
    bool shut; /* ... and it has been passed on */
} half;

typedef struct relay {
    sk_loop *loop;
    int sk;          /* the client's connection, in the synack stack */
    int kfd;         /* the kernel socket to the destination */
    bool connecting; /* the kernel connect is in progress */
    bool kcheck;     /* the kernel socket reported an error, or the connect ended */
    uint32_t events; /* what kfd is watched for */
    char name[128];  /* "client -> destination", for the log */
    half up;         /* client -> destination */
    half down;       /* destination -> client */
} relay;

typedef struct app {
    int lfd4, lfd6;
    relay *relays[MAX_RELAYS];
    size_t n;
    sk_control *ctl;
} app;

/* Closes a synack socket with a RST (SO_LINGER 0), as a failed relay must. */
static void reset_client(sk_stack *s, int fd)
{
    struct {
        int onoff, linger;
    } lg = {1, 0};
    sk_setsockopt(s, fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof lg);
    sk_close(s, fd);
}

/* The same for a kernel socket. */
static void reset_kernel(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* Ends a relay: cleanly (both FINs passed on) or by resetting both sides. */
static void relay_end(app *a, size_t i, bool reset, const char *why)
{
    relay *r = a->relays[i];
    sk_stack *s = sk_loop_stack(r->loop);
    fprintf(stderr, "tun2socks: %s: %s\n", r->name, why);
    sk_loop_del_fd(r->loop, r->kfd);
    if (reset) {
        reset_client(s, r->sk);
        reset_kernel(r->kfd);
    } else {
        sk_close(s, r->sk); /* the stack finishes the closing handshake */
        close(r->kfd);
    }
    free(r);
    a->relays[i] = a->relays[--a->n];
}

static void on_kernel(void *ctx, sk_loop *loop, int fd, uint32_t revents)
{
    relay *r = ctx;
    (void)loop, (void)fd;
    if ((revents & EPOLLERR) || (r->connecting && (revents & (EPOLLOUT | EPOLLHUP))))
        r->kcheck = true; /* SO_ERROR says what happened */
}

/* Moves what it can in both directions.  Returns NULL to go on, or why
 * the relay ends ("closed" when it ended cleanly). */
static const char *pump(sk_stack *s, relay *r)
{
    if (r->kcheck) {
        int err = 0;
        socklen_t elen = sizeof err;
        getsockopt(r->kfd, SOL_SOCKET, SO_ERROR, &err, &elen);
        if (err)
            return strerror(err); /* refused, unreachable, reset: reset the client */
        r->kcheck = r->connecting = false;
    }
    if (r->connecting)
        return NULL;
    for (bool moved = true; moved;) {
        moved = false;
        ssize_t n;
        /* client -> destination */
        if (!r->up.eof && r->up.len < BUF_SIZE) {
            n = sk_recv(s, r->sk, r->up.data + r->up.len, BUF_SIZE - r->up.len, 0);
            if (n > 0)
                r->up.len += (size_t)n, moved = true;
            else if (n == 0)
                r->up.eof = moved = true;
            else if (n != -EAGAIN)
                return sk_strerror((int)n);
        }
        if (r->up.len) {
            n = send(r->kfd, r->up.data, r->up.len, MSG_NOSIGNAL);
            if (n > 0) {
                memmove(r->up.data, r->up.data + n, r->up.len - (size_t)n);
                r->up.len -= (size_t)n, moved = true;
            } else if (errno != EAGAIN) {
                return strerror(errno);
            }
        }
        if (r->up.eof && !r->up.len && !r->up.shut) {
            shutdown(r->kfd, SHUT_WR);
            r->up.shut = true;
        }
        /* destination -> client */
        if (!r->down.eof && r->down.len < BUF_SIZE) {
            n = recv(r->kfd, r->down.data + r->down.len, BUF_SIZE - r->down.len, 0);
            if (n > 0)
                r->down.len += (size_t)n, moved = true;
            else if (n == 0)
                r->down.eof = moved = true;
            else if (errno != EAGAIN)
                return strerror(errno);
        }
        if (r->down.len) {
            n = sk_send(s, r->sk, r->down.data, r->down.len, 0);
            if (n > 0) {
                memmove(r->down.data, r->down.data + n, r->down.len - (size_t)n);
                r->down.len -= (size_t)n, moved = true;
            } else if (n != -EAGAIN) {
                return sk_strerror((int)n);
            }
        }
        if (r->down.eof && !r->down.len && !r->down.shut) {
            sk_shutdown(s, r->sk, SK_SHUT_WR);
            r->down.shut = true;
        }
    }
    if (r->up.shut && r->down.shut)
        return "closed";
    /* Watch the kernel socket only for what can move now. */
    uint32_t ev = (r->up.len ? EPOLLOUT : 0) | (!r->down.eof && r->down.len < BUF_SIZE ? EPOLLIN : 0);
    if (ev != r->events && sk_loop_mod_fd(r->loop, r->kfd, ev) == 0)
        r->events = ev;
    return NULL;
}

/* A new client connection: connect to where it was going. */
static void start_relay(app *a, sk_loop *loop, int sk)
{
    sk_stack *s = sk_loop_stack(loop);
    sk_endpoint dst, src;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    sk_getsockname(s, sk, &dst); /* the original destination */
    sk_getpeername(s, sk, &src);
    if (dst.family == SK_AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(dst.port);
        memcpy(&in6->sin6_addr, dst.addr6, 16);
        sl = sizeof *in6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(dst.port);
        in->sin_addr.s_addr = htonl(dst.addr);
        sl = sizeof *in;
    }
    relay *r = a->n < MAX_RELAYS ? calloc(1, sizeof *r) : NULL;
    int kfd = r ? socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    if (kfd < 0 || (connect(kfd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) ||
        sk_loop_add_fd(loop, kfd, EPOLLOUT, on_kernel, r) < 0) {
        fprintf(stderr, "tun2socks: connection refused: %s\n", kfd < 0 ? "no room" : strerror(errno));
        reset_client(s, sk);
        if (kfd >= 0)
            close(kfd);
        free(r);
        return;
    }
    r->loop = loop;
    r->sk = sk;
    r->kfd = kfd;
    r->connecting = true;
    r->events = EPOLLOUT;
    char from[48], to[48];
    sk_format_addr(&src, from, sizeof from);
    sk_format_addr(&dst, to, sizeof to);
    snprintf(r->name, sizeof r->name, "%s port %u -> %s port %u", from, src.port, to, dst.port);
    a->relays[a->n++] = r;
}

/* After every wakeup: take new connections, then move bytes on all. */
static void run(void *ctx, sk_loop *loop)
{
    app *a = ctx;
    sk_stack *s = sk_loop_stack(loop);
    int fd;
    while (a->lfd4 >= 0 && (fd = sk_accept(s, a->lfd4, NULL)) >= 0)
        start_relay(a, loop, fd);
    while (a->lfd6 >= 0 && (fd = sk_accept(s, a->lfd6, NULL)) >= 0)
        start_relay(a, loop, fd);
    for (size_t i = a->n; i-- > 0;) {
        const char *end = pump(s, a->relays[i]);
        if (end)
            relay_end(a, i, strcmp(end, "closed") != 0, end);
    }
}

/* SIGINT/SIGTERM: no new connections, and the open ones reset. */
static void shutdown_cb(void *ctx, sk_loop *loop)
{
    app *a = ctx;
    sk_stack *s = sk_loop_stack(loop);
    if (a->lfd4 >= 0)
        sk_close(s, a->lfd4);
    if (a->lfd6 >= 0)
        sk_close(s, a->lfd6);
    a->lfd4 = a->lfd6 = -1;
    while (a->n)
        relay_end(a, a->n - 1, true, "shutting down");
}

static void on_control(void *ctx, sk_loop *loop, int fd, uint32_t revents)
{
    (void)loop, (void)fd, (void)revents;
    sk_control_service(ctx);
}

/* A transparent listener of one family on LISTEN_PORT. */
static int transparent_listener(sk_stack *s, int family)
{
    int fd = sk_socket_family(s, family), one = 1, rc = fd;
    bool v6 = family == SK_AF_INET6;
    sk_endpoint any = {.family = (uint16_t)family, .port = LISTEN_PORT};
    if (rc >= 0 && v6) /* IPv4 goes to the AF_INET listener */
        rc = sk_setsockopt(s, fd, SK_IPPROTO_IPV6, SK_IPV6_V6ONLY, &one, sizeof one);
    if (rc >= 0)
        rc = sk_setsockopt(s, fd, v6 ? SK_IPPROTO_IPV6 : SK_IPPROTO_IP, v6 ? SK_IPV6_TRANSPARENT : SK_IP_TRANSPARENT,
                           &one, sizeof one);
    if (rc >= 0)
        rc = sk_bind(s, fd, &any);
    if (rc >= 0)
        rc = sk_listen(s, fd, 1024);
    if (rc < 0)
        fprintf(stderr, "tun2socks: listen: %s\n", sk_strerror(rc));
    return rc < 0 ? rc : fd;
}

int main(int argc, char **argv)
{
    const char *dev = argc > 1 ? argv[1] : "t2s0";
    char err[256];
    sk_tun_info info;
    int tun = sk_tun_open(dev, &info, err, sizeof err);
    if (tun < 0) {
        fprintf(stderr, "tun2socks: %s\n", err);
        return 1;
    }
    static app a; /* the relay table is large: not on the stack */
    a.lfd4 = a.lfd6 = -1;
    /* The stack needs no address of its own: it answers for every one. */
    sk_loop_params p = {.tun_fd = tun, .flags = SK_LOOP_SIGNALS};
    p.stack.mtu = info.mtu;
    p.stack.name = "tun2socks";
    if (getrandom(p.stack.secret, sizeof p.stack.secret, 0) != (ssize_t)sizeof p.stack.secret ||
        getrandom(&p.stack.seed, sizeof p.stack.seed, 0) != (ssize_t)sizeof p.stack.seed) {
        perror("getrandom");
        return 1;
    }
    sk_loop_app cb = {.ctx = &a, .run = run, .shutdown = shutdown_cb, .extra_fd = -1};
    sk_loop *loop = sk_loop_new(&p, &cb, err, sizeof err);
    if (!loop) {
        fprintf(stderr, "tun2socks: %s\n", err);
        return 1;
    }
    sk_stack *s = sk_loop_stack(loop);
    a.lfd4 = transparent_listener(s, SK_AF_INET);
    a.lfd6 = transparent_listener(s, SK_AF_INET6);
    if (a.lfd4 < 0 || a.lfd6 < 0 || sk_stack_set_tproxy(s, LISTEN_PORT) < 0) {
        sk_loop_free(loop);
        return 1;
    }
    a.ctl = sk_control_open(NULL, "tun2socks", s, err, sizeof err);
    if (a.ctl)
        sk_loop_add_fd(loop, sk_control_fd(a.ctl), EPOLLIN, on_control, a.ctl);

    fprintf(stderr, "tun2socks: forwarding every TCP connection arriving on %s\n", info.name);
    int rc = sk_loop_run(loop, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "tun2socks: %s\n", err);
    if (a.ctl) {
        sk_loop_del_fd(loop, sk_control_fd(a.ctl));
        sk_control_close(a.ctl);
    }
    sk_loop_free(loop);
    return rc < 0 ? 1 : 0;
}
