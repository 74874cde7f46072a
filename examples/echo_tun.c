/*
 * An echo server on a Linux TUN device, reachable from the host with nc.
 * The stack owns the address 10.77.0.2 (or ADDR) behind the device; the
 * kernel routes to it through the device once the device has an address
 * of its own on the same subnet:
 *
 *   sudo ip tuntap add dev sk0 mode tun user $USER
 *   sudo ip addr add 10.77.0.1/24 dev sk0 && sudo ip link set sk0 up
 *   ./echo_tun sk0 10.77.0.2 &
 *   echo hello | nc -q1 10.77.0.2 7          # prints hello
 *   synack ss -N echo-tun -tan               # the embedded stack's sockets
 *
 * sk_loop drives the stack in real time and takes SIGINT/SIGTERM for a
 * graceful shutdown (SK_LOOP_SIGNALS); the control socket is one more
 * descriptor in the loop (sk_loop_add_fd).
 *
 *   cc echo_tun.c $(pkg-config --cflags --libs synack-io) -o echo_tun
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getrandom, timerfd, epoll: Linux interfaces */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include <synack-io/control.h>
#include <synack-io/loop.h>
#include <synack-io/tun.h>
#include <synack/synack.h>

#define MAX_CONNS 64

typedef struct conn {
    int fd;            /* -1: free slot */
    char buf[4096];    /* read, not yet echoed */
    size_t len;
    bool eof;
} conn;

typedef struct server {
    int listen_fd;
    conn conns[MAX_CONNS];
    sk_control *ctl;
} server;

static void drive(sk_stack *s, conn *c)
{
    for (;;) {
        if (c->len) {
            ssize_t n = sk_send(s, c->fd, c->buf, c->len, 0);
            if (n == -EAGAIN)
                break; /* the peer reads slowly; retry next wakeup */
            if (n < 0) { /* reset or shut down: nothing more to echo */
                c->len = 0;
                c->eof = true;
                break;
            }
            memmove(c->buf, c->buf + n, c->len - (size_t)n);
            c->len -= (size_t)n;
            continue;
        }
        ssize_t n = sk_recv(s, c->fd, c->buf, sizeof c->buf, 0);
        if (n > 0) {
            c->len = (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && n != -EAGAIN))
            c->eof = true; /* FIN or error: close once everything is echoed */
        break;
    }
    if (c->eof && c->len == 0) {
        sk_close(s, c->fd);
        c->fd = -1;
    }
}

/* After every wakeup: accept, then echo on every connection. */
static void run(void *ctx, sk_loop *loop)
{
    server *srv = ctx;
    sk_stack *s = sk_loop_stack(loop);
    int fd;
    while (srv->listen_fd >= 0 && (fd = sk_accept(s, srv->listen_fd, NULL)) >= 0) {
        conn *c = NULL;
        for (int i = 0; i < MAX_CONNS && !c; i++)
            if (srv->conns[i].fd < 0)
                c = &srv->conns[i];
        if (!c) {
            sk_close(s, fd); /* full: refuse politely */
            continue;
        }
        *c = (conn){.fd = fd};
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (srv->conns[i].fd >= 0)
            drive(s, &srv->conns[i]);
}

/* SIGINT/SIGTERM: stop accepting; the loop waits for the rest to close. */
static void shutdown_cb(void *ctx, sk_loop *loop)
{
    server *srv = ctx;
    if (srv->listen_fd >= 0)
        sk_close(sk_loop_stack(loop), srv->listen_fd);
    srv->listen_fd = -1;
    for (int i = 0; i < MAX_CONNS; i++)
        if (srv->conns[i].fd >= 0)
            srv->conns[i].eof = true;
}

static void on_control(void *ctx, sk_loop *loop, int fd, uint32_t revents)
{
    (void)loop, (void)fd, (void)revents;
    sk_control_service(ctx);
}

int main(int argc, char **argv)
{
    const char *dev = argc > 1 ? argv[1] : "sk0";
    const char *addr_text = argc > 2 ? argv[2] : "10.77.0.2";
    char err[256];
    uint32_t addr;
    int prefix;
    if (sk_parse_ipv4_prefix(addr_text, &addr, &prefix, err, sizeof err) < 0) {
        fprintf(stderr, "echo_tun: %s\n", err);
        return 2;
    }
    sk_tun_info info;
    int tun = sk_tun_open(dev, &info, err, sizeof err);
    if (tun < 0) {
        fprintf(stderr, "echo_tun: %s\n", err);
        return 1;
    }

    server srv = {.listen_fd = -1};
    for (int i = 0; i < MAX_CONNS; i++)
        srv.conns[i].fd = -1;
    sk_loop_params p = {.tun_fd = tun, .flags = SK_LOOP_SIGNALS};
    p.stack.addr = addr;
    p.stack.mtu = info.mtu;
    p.stack.name = "echo-tun";
    if (getrandom(p.stack.secret, sizeof p.stack.secret, 0) != (ssize_t)sizeof p.stack.secret ||
        getrandom(&p.stack.seed, sizeof p.stack.seed, 0) != (ssize_t)sizeof p.stack.seed) {
        perror("getrandom");
        return 1;
    }
    sk_loop_app app = {.ctx = &srv, .run = run, .shutdown = shutdown_cb, .extra_fd = -1};
    sk_loop *loop = sk_loop_new(&p, &app, err, sizeof err);
    if (!loop) {
        fprintf(stderr, "echo_tun: %s\n", err);
        return 1;
    }
    sk_stack *s = sk_loop_stack(loop);
    srv.listen_fd = sk_socket(s);
    sk_endpoint ep = {.addr = addr, .port = 7, .family = SK_AF_INET};
    int rc = sk_bind(s, srv.listen_fd, &ep);
    if (rc == 0)
        rc = sk_listen(s, srv.listen_fd, 128);
    if (rc < 0) {
        fprintf(stderr, "echo_tun: listen: %s\n", sk_strerror(rc));
        sk_loop_free(loop);
        return 1;
    }

    srv.ctl = sk_control_open(NULL, "echo-tun", s, err, sizeof err);
    if (srv.ctl)
        sk_loop_add_fd(loop, sk_control_fd(srv.ctl), EPOLLIN, on_control, srv.ctl);
    else
        fprintf(stderr, "echo_tun: no control socket: %s\n", err);

    fprintf(stderr, "echo_tun: %s on %s, port 7; try: nc %s 7\n", addr_text, info.name, addr_text);
    rc = sk_loop_run(loop, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "echo_tun: %s\n", err);
    if (srv.ctl) {
        sk_loop_del_fd(loop, sk_control_fd(srv.ctl));
        sk_control_close(srv.ctl);
    }
    sk_loop_free(loop); /* closes the TUN descriptor */
    return rc < 0 ? 1 : 0;
}
