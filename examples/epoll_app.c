/*
 * Event-loop integration: the application owns the epoll set and the
 * clock; synack is only called.  Two synack stacks in one process carry
 * their IP datagrams over UDP on 127.0.0.1 (IP-in-UDP, as a tunnel
 * would), so it runs anywhere without privileges:
 *
 *   client stack 10.0.0.2 --UDP 127.0.0.1--> server stack 10.0.0.1:7 (echo)
 *
 * The one epoll set holds the two UDP sockets, a timerfd armed at the
 * earliest sk_next_deadline of both stacks, and the server stack's
 * control socket, so `synack ss -N epoll-echo -tan` in another terminal
 * lists its sockets while this runs.  The client pushes BYTES (default
 * 1 MiB) through the echo and checks every byte that comes back; both
 * sides close, and the process keeps running HOLD seconds more (default
 * 0) with the connections in TIME_WAIT and the listener still visible.
 *
 *   cc epoll_app.c $(pkg-config --cflags --libs synack-io) -o epoll_app
 *   ./epoll_app [BYTES [HOLD]]
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
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <synack-io/control.h>
#include <synack/synack.h>

#define SERVER_ADDR 0x0a000001u
#define CLIENT_ADDR 0x0a000002u

typedef struct host {
    sk_stack *stack;
    int udp;                   /* this host's end of the "link"      */
    struct sockaddr_in peer;   /* where the other host's UDP socket is */
} host;

static sk_time_ns mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (sk_time_ns)ts.tv_sec * SK_NSEC_PER_SEC + (sk_time_ns)ts.tv_nsec;
}

/* The engine's transmit callback: one IP datagram, one UDP datagram.  It
 * calls no synack function (synack.h: callbacks and re-entrancy). */
static void udp_transmit(void *ctx, const uint8_t *d, size_t len)
{
    host *h = ctx;
    /* A full socket buffer drops the datagram; TCP will retransmit it. */
    sendto(h->udp, d, len, MSG_DONTWAIT, (const struct sockaddr *)&h->peer, sizeof h->peer);
}

static int udp_bind(struct sockaddr_in *out)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)out, &alen) < 0) {
        perror("udp socket");
        exit(1);
    }
    return fd;
}

static sk_stack *new_stack(host *h, uint32_t addr, const char *name)
{
    sk_stack_params p = {.addr = addr, .now = mono_now(), .name = name,
                         .transmit = udp_transmit, .transmit_ctx = h};
    /* Real secrets: ISNs and SYN cookies must not be guessable. */
    if (getrandom(p.secret, sizeof p.secret, 0) != (ssize_t)sizeof p.secret ||
        getrandom(&p.seed, sizeof p.seed, 0) != (ssize_t)sizeof p.seed) {
        perror("getrandom");
        exit(1);
    }
    sk_stack *s = sk_stack_new(&p);
    if (!s) {
        fprintf(stderr, "sk_stack_new failed\n");
        exit(1);
    }
    return s;
}

/* Reads every datagram waiting on h's socket into h's stack. */
static void udp_input(host *h)
{
    uint8_t buf[65536];
    ssize_t n;
    while ((n = recv(h->udp, buf, sizeof buf, 0)) > 0)
        sk_input(h->stack, buf, (size_t)n, mono_now());
}

static void arm_timer(int tfd, sk_time_ns deadline)
{
    struct itimerspec its = {0}; /* zero disarms */
    if (deadline != SK_TIME_NEVER) {
        if (deadline == 0)
            deadline = 1; /* 0 would disarm: "now" is any past instant */
        its.it_value.tv_sec = (time_t)(deadline / SK_NSEC_PER_SEC);
        its.it_value.tv_nsec = (long)(deadline % SK_NSEC_PER_SEC);
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int main(int argc, char **argv)
{
    size_t total = argc > 1 ? strtoul(argv[1], NULL, 0) : (size_t)1 << 20;
    sk_time_ns hold = argc > 2 ? strtoull(argv[2], NULL, 0) * SK_NSEC_PER_SEC : 0;
    host server = {0}, client = {0};
    struct sockaddr_in sa, ca;
    server.udp = udp_bind(&sa);
    client.udp = udp_bind(&ca);
    server.peer = ca;
    client.peer = sa;
    server.stack = new_stack(&server, SERVER_ADDR, "epoll-echo");
    client.stack = new_stack(&client, CLIENT_ADDR, "epoll-client");

    /* The server stack answers `synack ss/nstat/sysctl -N epoll-echo`. */
    char err[256];
    sk_control *ctl = sk_control_open(NULL, "epoll-echo", server.stack, err, sizeof err);
    if (!ctl)
        fprintf(stderr, "no control socket (synack ss will not see this process): %s\n", err);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.ptr = &server;
    epoll_ctl(ep, EPOLL_CTL_ADD, server.udp, &ev);
    ev.data.ptr = &client;
    epoll_ctl(ep, EPOLL_CTL_ADD, client.udp, &ev);
    ev.data.ptr = &tfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    if (ctl) {
        ev.data.ptr = ctl;
        epoll_ctl(ep, EPOLL_CTL_ADD, sk_control_fd(ctl), &ev);
    }

    int lfd = sk_socket(server.stack), sfd = -1;
    sk_endpoint echo_ep = {.addr = SERVER_ADDR, .port = 7, .family = SK_AF_INET};
    if (sk_bind(server.stack, lfd, &echo_ep) < 0 || sk_listen(server.stack, lfd, 16) < 0) {
        fprintf(stderr, "listen failed\n");
        return 1;
    }
    int cfd = sk_socket(client.stack);
    sk_connect(client.stack, cfd, &echo_ep);

    size_t sent = 0, got = 0, pending = 0; /* pending: read by the server, not yet echoed */
    static uint8_t srv_buf[1 << 16];
    uint8_t buf[16384];
    bool ok = true, closed = false;
    sk_time_ns start = mono_now(), end = 0, hold_until = 0;
    while (closed ? mono_now() < hold_until : mono_now() - start < 30 * SK_NSEC_PER_SEC) {
        struct epoll_event evs[8];
        int n = epoll_wait(ep, evs, 8, 100);
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &server || tag == &client) {
                udp_input(tag);
            } else if (tag == &tfd) {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                    perror("timerfd");
            } else if (tag == ctl) {
                sk_control_service(ctl);
            }
        }
        /* Timers, then the application's socket work: outside any
         * synack callback. */
        sk_time_ns now = mono_now();
        sk_advance(server.stack, now);
        sk_advance(client.stack, now);

        if (sfd < 0)
            sfd = sk_accept(server.stack, lfd, NULL);
        if (sfd >= 0) {
            for (;;) {
                if (pending) {
                    ssize_t w = sk_send(server.stack, sfd, srv_buf, pending, 0);
                    if (w <= 0)
                        break;
                    memmove(srv_buf, srv_buf + w, pending - (size_t)w);
                    pending -= (size_t)w;
                    continue;
                }
                ssize_t r = sk_recv(server.stack, sfd, srv_buf, sizeof srv_buf, 0);
                if (r <= 0)
                    break;
                pending = (size_t)r;
            }
        }
        while (sent < total) {
            size_t want = total - sent < sizeof buf ? total - sent : sizeof buf;
            for (size_t k = 0; k < want; k++)
                buf[k] = (uint8_t)((sent + k) * 7 + 3);
            ssize_t w = sk_send(client.stack, cfd, buf, want, 0);
            if (w <= 0)
                break;
            sent += (size_t)w;
        }
        ssize_t r;
        while ((r = sk_recv(client.stack, cfd, buf, sizeof buf, 0)) > 0) {
            for (ssize_t k = 0; k < r; k++)
                ok = ok && buf[k] == (uint8_t)((got + (size_t)k) * 7 + 3);
            got += (size_t)r;
        }
        if (got == total && !closed) {
            end = mono_now();
            /* Both close at once: a simultaneous close (RFC 9293 §3.6), so
             * both ends pass through CLOSING into TIME_WAIT. */
            sk_close(client.stack, cfd);
            if (sfd >= 0)
                sk_close(server.stack, sfd);
            closed = true;
            hold_until = end + hold;
        }
        /* Sleep until the earlier stack deadline (or a datagram). */
        sk_time_ns d1 = sk_next_deadline(server.stack), d2 = sk_next_deadline(client.stack);
        arm_timer(tfd, d1 < d2 ? d1 : d2);
    }
    double secs = (double)((end ? end : mono_now()) - start) / 1e9;
    printf("echoed %zu of %zu bytes in %.3f s (%s); server: %llu segments in, %llu out\n", got, total, secs,
           ok ? "all bytes match" : "MISMATCH", (unsigned long long)sk_counter(server.stack, "TcpInSegs"),
           (unsigned long long)sk_counter(server.stack, "TcpOutSegs"));
    sk_control_close(ctl);
    sk_stack_free(client.stack);
    sk_stack_free(server.stack);
    close(tfd);
    close(ep);
    close(server.udp);
    close(client.udp);
    return ok && got == total ? 0 : 1;
}
