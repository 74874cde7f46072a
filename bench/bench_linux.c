/*
 * The Linux kernel's side of `make bench`: the same lifecycle and bulk
 * patterns over loopback, with real sockets.
 *
 * The program first moves itself into a private network namespace
 * (unshare(CLONE_NEWNET), as root), brings its loopback up and sets the
 * namespace's own sysctls (ip_local_port_range, tcp_max_tw_buckets,
 * somaxconn): the host's settings and TIME_WAIT table are left alone, and
 * /proc/net/{snmp,netstat,sockstat} then count only this run's traffic.
 * Without that privilege it runs in the current namespace and says so.
 *
 *   lifecycle  non-blocking sockets, one epoll, one thread for both ends;
 *              client sockets bound to 127.0.0.2..17 with
 *              IP_BIND_ADDRESS_NO_PORT before connect, 16 server ports
 *   bulk       1 GiB over a TCP connection on 127.0.0.1: one thread
 *              alternating non-blocking writes and reads (the same CPU
 *              budget as synack's single thread), and a sender thread
 *              with a receiver thread; at loopback MTU 1500 and 65536
 *   slabinfo   the kernel's TCP, tw_sock_TCP and request_sock_TCP
 *              object sizes
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define NPORTS 16
#define NADDRS 16
#define BASE_PORT 5000
#define MSG_LEN 64

static void die(const char *what)
{
    fprintf(stderr, "bench_linux: %s: %s\n", what, strerror(errno));
    exit(1);
}

static bool write_file(const char *path, const char *value)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fputs(value, f) >= 0;
    return fclose(f) == 0 && ok;
}

static int lo_set(int mtu)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int rc = 0;
    if (mtu > 0) {
        ifr.ifr_mtu = mtu;
        rc = ioctl(s, SIOCSIFMTU, &ifr);
    }
    if (rc == 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
    return rc;
}

static bool private_netns;

static void enter_namespace(void)
{
    if (unshare(CLONE_NEWNET) == 0 && lo_set(0) == 0) {
        private_netns = true;
        bool ok = write_file("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535") &&
                  write_file("/proc/sys/net/ipv4/tcp_max_tw_buckets", "10000000") &&
                  write_file("/proc/sys/net/core/somaxconn", "65535") &&
                  write_file("/proc/sys/net/ipv4/tcp_max_syn_backlog", "65535");
        if (!ok)
            bench_note("linux: could not set every sysctl in the private namespace");
    } else {
        bench_note("linux: no private network namespace (%s): ran with the host's sysctls", strerror(errno));
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A field of /proc/net/snmp or /proc/net/netstat: a header line names the
 * fields and the next line holds the values. */
static long long proc_counter(const char *path, const char *group, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char head[8192], vals[8192];
    long long result = -1;
    size_t glen = strlen(group);
    while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
        if (strncmp(head, group, glen) != 0 || head[glen] != ':')
            continue;
        char *hs, *vs;
        char *h = strtok_r(head + glen + 1, " \n", &hs);
        char *v = strtok_r(vals + glen + 1, " \n", &vs);
        while (h && v) {
            if (!strcmp(h, name)) {
                result = atoll(v);
                break;
            }
            h = strtok_r(NULL, " \n", &hs);
            v = strtok_r(NULL, " \n", &vs);
        }
        break;
    }
    fclose(f);
    return result;
}

static long long sockstat_tw(void)
{
    FILE *f = fopen("/proc/net/sockstat", "r");
    if (!f)
        return -1;
    char line[512];
    long long tw = -1;
    while (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, " tw ");
        if (!strncmp(line, "TCP:", 4) && p)
            tw = atoll(p + 4);
    }
    fclose(f);
    return tw;
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                            */
/* ------------------------------------------------------------------ */

enum { FD_FREE = 0, FD_LISTENER, FD_CONNECTING, FD_WAIT_REPLY, FD_SERVING };

typedef struct fd_state {
    uint8_t role;
    uint8_t got;
    uint8_t replied;
} fd_state;

typedef struct lifecycle {
    int ep;
    fd_state *fds;
    size_t nfds;
    int listen_fd[NPORTS];
    uint64_t started, done, active, next;
} lifecycle;

static const char request_msg[MSG_LEN] = "GET /bench 64-byte request ....................................";
static const char reply_msg[MSG_LEN] = "HTTP/1.1 200 64-byte reply ....................................";

static fd_state *st(lifecycle *L, int fd)
{
    if ((size_t)fd >= L->nfds) {
        size_t n = L->nfds ? L->nfds : 4096;
        while (n <= (size_t)fd)
            n *= 2;
        fd_state *nf = realloc(L->fds, n * sizeof(*nf));
        if (!nf)
            die("realloc");
        memset(nf + L->nfds, 0, (n - L->nfds) * sizeof(*nf));
        L->fds = nf;
        L->nfds = n;
    }
    return &L->fds[fd];
}

static void ep_add(lifecycle *L, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl");
}

static void client_start(lifecycle *L)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    uint64_t k = L->next++;
    struct sockaddr_in local = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(k % NADDRS))};
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0)
        die("bind");
    struct sockaddr_in remote = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u),
                                 .sin_port = htons((uint16_t)(BASE_PORT + (k / NADDRS) % NPORTS))};
    if (connect(fd, (struct sockaddr *)&remote, sizeof(remote)) != 0 && errno != EINPROGRESS)
        die("connect");
    fd_state *s = st(L, fd);
    s->role = FD_CONNECTING;
    s->got = 0;
    ep_add(L, fd, EPOLLIN | EPOLLOUT | EPOLLET);
    L->started++;
    L->active++;
}

static void client_event(lifecycle *L, int fd, uint32_t events)
{
    fd_state *s = st(L, fd);
    if (events & EPOLLERR) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        die("client connection");
    }
    if (s->role == FD_CONNECTING) {
        if (!(events & EPOLLOUT))
            return;
        if (write(fd, request_msg, MSG_LEN) != MSG_LEN)
            die("client write");
        s->role = FD_WAIT_REPLY;
    }
    char buf[MSG_LEN];
    ssize_t n = read(fd, buf, MSG_LEN - s->got);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0)
        die("client read");
    s->got = (uint8_t)(s->got + n);
    if (s->got == MSG_LEN) {
        s->role = FD_FREE;
        close(fd); /* first: the client keeps the TIME_WAIT */
        L->active--;
    }
}

static void server_serve(lifecycle *L, int fd)
{
    fd_state *s = st(L, fd);
    for (;;) {
        char buf[256];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0)
            die("server read");
        if (n == 0) {
            s->role = FD_FREE;
            close(fd);
            L->done++;
            return;
        }
        s->got = (uint8_t)(s->got + n);
        if (s->got >= MSG_LEN && !s->replied) {
            if (write(fd, reply_msg, MSG_LEN) != MSG_LEN)
                die("server write");
            s->replied = 1;
        }
    }
}

static void listener_event(lifecycle *L, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EAGAIN)
                return;
            die("accept4");
        }
        fd_state *s = st(L, fd);
        s->role = FD_SERVING;
        s->got = 0;
        s->replied = 0;
        ep_add(L, fd, EPOLLIN | EPOLLRDHUP | EPOLLET);
        server_serve(L, fd);
    }
}

static void lifecycle_setup(lifecycle *L)
{
    memset(L, 0, sizeof(*L));
    L->ep = epoll_create1(0);
    if (L->ep < 0)
        die("epoll_create1");
    for (int i = 0; i < NPORTS; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u),
                                .sin_port = htons((uint16_t)(BASE_PORT + i))};
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 65535) != 0)
            die("listener");
        L->listen_fd[i] = fd;
        st(L, fd)->role = FD_LISTENER;
        ep_add(L, fd, EPOLLIN);
    }
}

static double lifecycle_once(lifecycle *L, uint64_t target, uint32_t inflight)
{
    L->started = L->done = L->active = 0;
    struct epoll_event evs[1024];
    double t0 = bench_wall_s();
    int idle = 0;
    while (L->done < target) {
        while (L->active < inflight && L->started < target)
            client_start(L);
        int n = epoll_wait(L->ep, evs, 1024, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        if (n <= 0) {
            if (++idle > 10) {
                errno = ETIMEDOUT;
                die("lifecycle stalled");
            }
            continue;
        }
        idle = 0;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            switch (st(L, fd)->role) {
            case FD_LISTENER:
                listener_event(L, fd);
                break;
            case FD_CONNECTING:
            case FD_WAIT_REPLY:
                client_event(L, fd, evs[i].events);
                break;
            case FD_SERVING:
                server_serve(L, fd);
                break;
            default:
                break;
            }
        }
    }
    return (double)target / (bench_wall_s() - t0);
}

static void bench_lifecycle(int reps)
{
    uint64_t target = (uint64_t)bench_env_long("BENCH_LINUX_LIFECYCLES", 50000);
    uint32_t inflight = (uint32_t)bench_env_long("BENCH_INFLIGHT", 1000);
    lifecycle L;
    lifecycle_setup(&L);
    long long overflow0 = proc_counter("/proc/net/netstat", "TcpExt", "TCPTimeWaitOverflow");
    long long out0 = proc_counter("/proc/net/snmp", "Tcp", "OutSegs");
    long long tw0 = sockstat_tw();
    double *v = calloc((size_t)reps, sizeof(double)), *cpu_us = calloc((size_t)reps, sizeof(double));
    for (int i = 0; i < reps; i++) {
        double c0 = bench_rusage_cpu_s();
        v[i] = lifecycle_once(&L, target, inflight);
        cpu_us[i] = (bench_rusage_cpu_s() - c0) * 1e6 / (double)target;
        fprintf(stderr, "  linux lifecycle rep %d: %.0f/s (TIME_WAIT now %lld)\n", i + 1, v[i], sockstat_tw());
    }
    long long overflow = proc_counter("/proc/net/netstat", "TcpExt", "TCPTimeWaitOverflow") - overflow0;
    long long outsegs = proc_counter("/proc/net/snmp", "Tcp", "OutSegs") - out0;
    bench_result_stats("linux_lifecycles_per_s", bench_summarize(v, reps));
    bench_result_stats("linux_lifecycle_cpu_us", bench_summarize(cpu_us, reps));
    bench_result_int("linux_lifecycle_count_per_rep", (long long)target);
    bench_result_int("linux_lifecycle_timewait_kept", sockstat_tw() - tw0);
    bench_result_int("linux_lifecycle_timewait_overflow", overflow);
    bench_result("linux_lifecycle_segments_per_lifecycle", (double)outsegs / (double)(target * (uint64_t)reps));
    for (int i = 0; i < NPORTS; i++)
        close(L.listen_fd[i]);
    close(L.ep);
    free(L.fds);
    free(v);
    free(cpu_us);
}

/* ------------------------------------------------------------------ */
/* Bulk                                                                 */
/* ------------------------------------------------------------------ */

static void tcp_pair(int *client, int *server)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u)};
    socklen_t alen = sizeof(a);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) != 0)
        die("bulk listener");
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof(a)) != 0)
        die("bulk connect");
    *server = accept(l, NULL, NULL);
    if (*server < 0)
        die("bulk accept");
    close(l);
}

typedef struct bulk_sender {
    int fd;
    uint64_t total;
} bulk_sender;

static uint8_t bulk_src[256 * 1024];

static void *sender_thread(void *arg)
{
    bulk_sender *b = arg;
    uint64_t sent = 0;
    while (sent < b->total) {
        size_t want = b->total - sent < sizeof(bulk_src) ? (size_t)(b->total - sent) : sizeof(bulk_src);
        ssize_t n = write(b->fd, bulk_src, want);
        if (n <= 0)
            die("bulk write");
        sent += (uint64_t)n;
    }
    return NULL;
}

static double bulk_once(uint64_t total, bool threaded, double *cpu_s_per_gb)
{
    int c, s;
    tcp_pair(&c, &s);
    static uint8_t dst[256 * 1024];
    uint64_t received = 0;
    double t0 = bench_wall_s(), c0 = bench_rusage_cpu_s();
    if (threaded) {
        bulk_sender b = {c, total};
        pthread_t th;
        if (pthread_create(&th, NULL, sender_thread, &b) != 0)
            die("pthread_create");
        while (received < total) {
            ssize_t n = read(s, dst, sizeof(dst));
            if (n <= 0)
                die("bulk read");
            received += (uint64_t)n;
        }
        pthread_join(th, NULL);
    } else {
        fcntl(c, F_SETFL, O_NONBLOCK);
        fcntl(s, F_SETFL, O_NONBLOCK);
        uint64_t sent = 0;
        while (received < total) {
            while (sent < total) {
                size_t want = total - sent < sizeof(bulk_src) ? (size_t)(total - sent) : sizeof(bulk_src);
                ssize_t n = write(c, bulk_src, want);
                if (n < 0 && errno == EAGAIN)
                    break;
                if (n <= 0)
                    die("bulk write");
                sent += (uint64_t)n;
            }
            for (;;) {
                ssize_t n = read(s, dst, sizeof(dst));
                if (n < 0 && errno == EAGAIN)
                    break;
                if (n <= 0)
                    die("bulk read");
                received += (uint64_t)n;
            }
        }
    }
    double elapsed = bench_wall_s() - t0;
    *cpu_s_per_gb = (bench_rusage_cpu_s() - c0) / ((double)total / 1e9);
    close(c);
    close(s);
    return (double)total * 8 / elapsed / 1e9;
}

static void bench_bulk(int reps)
{
    uint64_t total = (uint64_t)bench_env_long("BENCH_BULK_MIB", 1024) << 20;
    for (size_t i = 0; i < sizeof(bulk_src); i++)
        bulk_src[i] = (uint8_t)(i * 131);
    static const struct {
        int mtu;
        bool threaded;
        const char *key;
    } runs[] = {
        {1500, false, "linux_bulk_gbps"},
        {65536, false, "linux_bulk_gbps_mtu65536"},
        {1500, true, "linux_bulk_gbps_2threads"},
        {65536, true, "linux_bulk_gbps_mtu65536_2threads"},
    };
    double *v = calloc((size_t)reps, sizeof(double)), *cpu = calloc((size_t)reps, sizeof(double));
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        if (!private_netns && runs[r].mtu != 65536) {
            bench_result_null(runs[r].key); /* not changing the host's loopback MTU */
            continue;
        }
        if (private_netns && lo_set(runs[r].mtu) != 0)
            die("setting the loopback MTU");
        for (int i = 0; i < reps; i++) {
            v[i] = bulk_once(total, runs[r].threaded, &cpu[i]);
            fprintf(stderr, "  linux bulk mtu %d %s rep %d: %.2f Gbit/s\n", runs[r].mtu,
                    runs[r].threaded ? "2 threads" : "1 thread", i + 1, v[i]);
        }
        bench_result_stats(runs[r].key, bench_summarize(v, reps));
        char key[96];
        snprintf(key, sizeof(key), "%s_cpu_s_per_gb", runs[r].key);
        bench_result_stats(key, bench_summarize(cpu, reps));
    }
    if (private_netns)
        lo_set(65536);
    free(v);
    free(cpu);
}

/* ------------------------------------------------------------------ */
/* The kernel's object sizes                                            */
/* ------------------------------------------------------------------ */

static void bench_slabinfo(void)
{
    static const char *const caches[][2] = {
        {"TCP", "linux_slab_tcp_bytes"},
        {"tw_sock_TCP", "linux_slab_tw_sock_tcp_bytes"},
        {"request_sock_TCP", "linux_slab_request_sock_tcp_bytes"},
    };
    FILE *f = fopen("/proc/slabinfo", "r");
    long long found[3] = {-1, -1, -1};
    if (f) {
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            char name[64];
            long long active, num, objsize;
            if (sscanf(line, "%63s %lld %lld %lld", name, &active, &num, &objsize) != 4)
                continue;
            for (int i = 0; i < 3; i++)
                if (!strcmp(name, caches[i][0]))
                    found[i] = objsize;
        }
        fclose(f);
    } else {
        bench_note("linux: /proc/slabinfo not readable (%s)", strerror(errno));
    }
    for (int i = 0; i < 3; i++) {
        if (found[i] >= 0)
            bench_result_int(caches[i][1], found[i]);
        else
            bench_result_null(caches[i][1]);
    }
}

int main(int argc, char **argv)
{
    int reps = bench_reps(5);
    enter_namespace();
    bench_result_int("linux_private_netns", private_netns);
    bool all = argc < 2;
    for (int i = all ? 0 : 1; i < (all ? 1 : argc); i++) {
        const char *what = all ? "all" : argv[i];
        bool any = !strcmp(what, "all");
        if (any || !strcmp(what, "lifecycle"))
            bench_lifecycle(reps);
        if (any || !strcmp(what, "bulk"))
            bench_bulk(reps);
        if (any || !strcmp(what, "slabinfo"))
            bench_slabinfo();
    }
    return 0;
}
