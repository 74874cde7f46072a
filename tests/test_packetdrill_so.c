/*
 * libsynack-packetdrill.so through packetdrill's function table: the test
 * dlopen()s the built object, as packetdrill's --so_filename does, and plays
 * a script's part by hand: a passive open, data, a close, with every
 * datagram checked field by field; the configuration read from a sysctl
 * tree and overridden by the flags; virtual time; blocking calls on the
 * creating thread and on another thread; errors.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "packetdrill/packetdrill_interface.h"
#include "synack/packet.h"

#ifndef SYNACK_PACKETDRILL_SO
#error "SYNACK_PACKETDRILL_SO must name the built libsynack-packetdrill.so"
#endif

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define LOCAL_IP IP(192, 168, 0, 1)
#define REMOTE_IP IP(192, 0, 2, 1)
#define EPOCH_USECS 1600000000000000ll
#define REMOTE_PORT 40000
#define LOCAL_PORT 8080
#define REMOTE_ISN 1000u

typedef void (*init_fn)(const char *flags, struct packetdrill_interface *ifc);

typedef struct fixture {
    void *lib;
    struct packetdrill_interface ifc;
    char proc_sys[64];
} fixture;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A sysctl tree as /proc/sys lays it out: SACK off and timestamps on,
 * one value synack must refuse (ignored), one file it has no tunable for. */
static void make_proc_sys(fixture *fx)
{
    snprintf(fx->proc_sys, sizeof(fx->proc_sys), "/tmp/synack-pdso-XXXXXX");
    assert_non_null(mkdtemp(fx->proc_sys));
    char p[256];
    snprintf(p, sizeof(p), "%s/net", fx->proc_sys);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/net/ipv4", fx->proc_sys);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/net/ipv4/tcp_sack", fx->proc_sys);
    write_file(p, "0\n");
    snprintf(p, sizeof(p), "%s/net/ipv4/tcp_timestamps", fx->proc_sys);
    write_file(p, "1\n");
    snprintf(p, sizeof(p), "%s/net/ipv4/tcp_ecn", fx->proc_sys);
    write_file(p, "not a number\n");
    snprintf(p, sizeof(p), "%s/net/ipv4/tcp_no_such_tunable", fx->proc_sys);
    write_file(p, "1\n");
}

static void remove_proc_sys(fixture *fx)
{
    const char *files[] = {"tcp_sack", "tcp_timestamps", "tcp_ecn", "tcp_no_such_tunable"};
    char p[256];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/net/ipv4/%s", fx->proc_sys, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/net/ipv4", fx->proc_sys);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/net", fx->proc_sys);
    rmdir(p);
    rmdir(fx->proc_sys);
}

static fixture *open_so(const char *extra_flags)
{
    fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    make_proc_sys(fx);
    fx->lib = dlopen(SYNACK_PACKETDRILL_SO, RTLD_NOW | RTLD_LOCAL);
    if (!fx->lib)
        fail_msg("dlopen(%s): %s", SYNACK_PACKETDRILL_SO, dlerror());
    init_fn init = (init_fn)dlsym(fx->lib, "packetdrill_interface_init");
    assert_non_null(init);
    /* Only the entry point is exported; the engine stays private. */
    assert_null(dlsym(fx->lib, "sk_stack_new"));
    char flags[512];
    snprintf(flags, sizeof(flags), "proc_sys=%s,%s", fx->proc_sys, extra_flags);
    init(flags, &fx->ifc);
    assert_non_null(fx->ifc.userdata);
    return fx;
}

static void close_so(fixture *fx)
{
    if (fx->ifc.userdata)
        fx->ifc.free(fx->ifc.userdata);
    dlclose(fx->lib);
    remove_proc_sys(fx);
    free(fx);
}

static int setup(void **state)
{
    *state = open_so("net.ipv4.tcp_timestamps=0 mtu=1500");
    return 0;
}

static int teardown(void **state)
{
    close_so(*state);
    return 0;
}

static void send_segment(fixture *fx, uint32_t seq, uint32_t ack, uint16_t flags, const uint8_t *opts,
                         size_t opts_len, const char *payload)
{
    sk_segment_spec spec = {
        .src = REMOTE_IP, .dst = LOCAL_IP, .sport = REMOTE_PORT, .dport = LOCAL_PORT,
        .seq = seq, .ack = ack, .flags = flags, .window = 65535, .df = true,
        .options = opts, .options_len = opts_len,
        .payload = (const uint8_t *)payload, .payload_len = payload ? strlen(payload) : 0,
    };
    uint8_t buf[1600];
    size_t n = sk_build_segment(&spec, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(fx->ifc.netdev_send(fx->ifc.userdata, buf, n), 0);
}

/* The next datagram the stack sent, parsed (checksums verified). */
static void receive_segment(fixture *fx, uint8_t *buf, size_t cap, sk_segment *seg, long long *at)
{
    size_t count = cap;
    assert_int_equal(fx->ifc.netdev_receive(fx->ifc.userdata, buf, &count, at), 0);
    assert_true(count > 0);
    assert_int_equal(sk_parse_segment(buf, count, true, seg), SK_PARSE_OK);
    assert_int_equal(seg->src, LOCAL_IP);
    assert_int_equal(seg->dst, REMOTE_IP);
}

/* "Nothing queued" is a non-zero return (packetdrill parses a 0 return as
 * a packet, so 0 with count 0 would be an empty packet); asked once, with
 * something else done before, it does not move the clock. */
static void assert_nothing_sent(fixture *fx)
{
    uint8_t buf[1600];
    size_t count = sizeof(buf);
    long long at = -1;
    errno = 0;
    assert_int_equal(fx->ifc.netdev_receive(fx->ifc.userdata, buf, &count, &at), -1);
    assert_int_equal(errno, EAGAIN);
}

static long long now_usecs(fixture *fx)
{
    struct timeval tv;
    assert_int_equal(fx->ifc.gettimeofday(fx->ifc.userdata, &tv, NULL), 0);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static int listen_on_8080(fixture *fx)
{
    void *ud = fx->ifc.userdata;
    int fd = fx->ifc.socket(ud, AF_INET, SOCK_STREAM, IPPROTO_TCP);
    /* An open descriptor of the process (whatever number it hands out). */
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(LOCAL_PORT), .sin_addr.s_addr = 0};
    assert_int_equal(fx->ifc.bind(ud, fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(fx->ifc.listen(ud, fd, 1), 0);
    return fd;
}

/* <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>, as packetdrill's
 * scripts write a Linux client's SYN. */
static const uint8_t syn_options[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 8};

/* Sends the SYN and returns the stack's ISN from its SYN-ACK, after
 * checking the SYN-ACK's every field. */
static uint32_t handshake_syn(fixture *fx)
{
    send_segment(fx, REMOTE_ISN, 0, SK_TH_SYN, syn_options, sizeof(syn_options), NULL);
    uint8_t buf[1600];
    sk_segment seg;
    long long at = 0;
    long long before = now_usecs(fx);
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(at, before);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(seg.sport, LOCAL_PORT);
    assert_int_equal(seg.dport, REMOTE_PORT);
    assert_int_equal(seg.ack, REMOTE_ISN + 1);
    assert_int_equal(seg.payload_len, 0);
    /* Unscaled in a SYN-ACK (RFC 7323 §2.2), and Linux rounds its 65535 down
     * to a multiple of the MSS: 44 * 1460 = 64240. */
    assert_int_equal(seg.window, 64240);
    assert_true(seg.opts.has_mss);
    assert_int_equal(seg.opts.mss, 1460);
    assert_true(seg.opts.has_wscale);
    /* net.ipv4.tcp_sack=0 read from the sysctl tree; tcp_timestamps=1 there
     * but 0 in the flags, and the flags win. */
    assert_false(seg.opts.sack_permitted);
    assert_false(seg.opts.has_ts);
    assert_nothing_sent(fx);
    return seg.seq;
}

static void test_passive_open_data_close(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    assert_int_equal(now_usecs(fx), EPOCH_USECS);
    int lfd = listen_on_8080(fx);
    uint32_t isn = handshake_syn(fx);

    /* Nothing to accept before the handshake completes. */
    assert_int_equal(fx->ifc.fcntl(ud, lfd, F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fx->ifc.fcntl(ud, lfd, F_GETFL), O_RDWR | O_NONBLOCK);
    errno = 0;
    assert_int_equal(fx->ifc.accept(ud, lfd, NULL, NULL), -1);
    assert_int_equal(errno, EAGAIN);

    assert_int_equal(fx->ifc.usleep(ud, 10000), 0);
    assert_int_equal(now_usecs(fx), EPOCH_USECS + 10000);
    send_segment(fx, REMOTE_ISN + 1, isn + 1, SK_TH_ACK, NULL, 0, NULL);
    assert_nothing_sent(fx);

    struct sockaddr_in peer;
    memset(&peer, 0xff, sizeof(peer));
    socklen_t plen = sizeof(peer);
    int fd = fx->ifc.accept(ud, lfd, (struct sockaddr *)&peer, &plen);
    assert_true(fd >= 0 && fd != lfd && fcntl(fd, F_GETFD) >= 0);
    assert_int_equal(plen, sizeof(struct sockaddr_in));
    assert_int_equal(peer.sin_family, AF_INET);
    assert_int_equal(ntohl(peer.sin_addr.s_addr), REMOTE_IP);
    assert_int_equal(ntohs(peer.sin_port), REMOTE_PORT);

    /* Data out: one segment, PSH at the end of the write. */
    assert_int_equal(fx->ifc.write(ud, fd, "hello", 5), 5);
    uint8_t buf[1600];
    sk_segment seg;
    long long at = 0;
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(at, EPOCH_USECS + 10000);
    assert_int_equal(seg.flags, SK_TH_ACK | SK_TH_PSH);
    assert_int_equal(seg.seq, isn + 1);
    assert_int_equal(seg.ack, REMOTE_ISN + 1);
    assert_int_equal(seg.payload_len, 5);
    assert_memory_equal(seg.payload, "hello", 5);
    assert_int_equal(seg.options_len, 0);
    assert_nothing_sent(fx);

    /* Data in: ACKed at once, as Linux's quick-ACK mode does for the first
     * data of a connection; then read through recv(), SIOCINQ first. */
    send_segment(fx, REMOTE_ISN + 1, isn + 6, SK_TH_ACK | SK_TH_PSH, NULL, 0, "world!");
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(seg.flags, SK_TH_ACK);
    assert_int_equal(seg.seq, isn + 6);
    assert_int_equal(seg.ack, REMOTE_ISN + 7);
    assert_int_equal(seg.payload_len, 0);
    assert_nothing_sent(fx);
    int inq = -1;
    assert_int_equal(fx->ifc.ioctl(ud, fd, (unsigned long)SIOCINQ, &inq), 0);
    assert_int_equal(inq, 6);
    char rbuf[16] = {0};
    assert_int_equal(fx->ifc.recv(ud, fd, rbuf, sizeof(rbuf), 0), 6);
    assert_memory_equal(rbuf, "world!", 6);

    /* close() with nothing left to send or read: a FIN at once. */
    assert_int_equal(fx->ifc.close(ud, fd), 0);
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(seg.flags, SK_TH_FIN | SK_TH_ACK);
    assert_int_equal(seg.seq, isn + 6);
    assert_int_equal(seg.ack, REMOTE_ISN + 7);
    assert_int_equal(seg.payload_len, 0);
    assert_nothing_sent(fx);

    /* The peer's FIN, ACKing ours: the stack ACKs it from TIME_WAIT. */
    send_segment(fx, REMOTE_ISN + 7, isn + 7, SK_TH_FIN | SK_TH_ACK, NULL, 0, NULL);
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(seg.flags, SK_TH_ACK);
    assert_int_equal(seg.seq, isn + 7);
    assert_int_equal(seg.ack, REMOTE_ISN + 8);
    assert_nothing_sent(fx);

    errno = 0;
    assert_int_equal(fx->ifc.close(ud, fd), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(fx->ifc.close(ud, lfd), 0);
}

/* A blocking call on the creating thread runs virtual time forward: poll()
 * returns after its timeout, running the stack's timers on the way; an
 * accept() that nothing could ever complete (no timer pending, no other
 * thread) fails with EDEADLK instead of hanging. */
static void test_blocking_calls_advance_virtual_time(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    int lfd = listen_on_8080(fx);
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    assert_int_equal(fx->ifc.poll(ud, &p, 1, 250), 0);
    assert_int_equal(p.revents, 0);
    assert_int_equal(now_usecs(fx), EPOCH_USECS + 250000);

    errno = 0;
    assert_int_equal(fx->ifc.accept(ud, lfd, NULL, NULL), -1);
    assert_int_equal(errno, EDEADLK);
    assert_int_equal(now_usecs(fx), EPOCH_USECS + 250000);

    /* With a SYN_RECV request pending, the SYN-ACK retransmission timer
     * moves time: Linux resends after its 1 s initial RTO (RFC 6298 §2.1). */
    uint32_t isn = handshake_syn(fx);
    p.revents = 0;
    assert_int_equal(fx->ifc.poll(ud, &p, 1, 1500), 0);
    uint8_t buf[1600];
    sk_segment seg;
    long long at = 0;
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(seg.seq, isn);
    assert_int_equal(at, EPOCH_USECS + 250000 + 1000000);
    assert_int_equal(now_usecs(fx), EPOCH_USECS + 250000 + 1500000);
}

/* packetdrill waits for each event by polling gettimeofday(): with no
 * usleep() at all before the first event, and only polls for the last
 * 20 us before the others.  A clock that moved only on usleep() never got
 * there; each read right after a read moves it 1 us, running the timers
 * that fall due, so polling reaches a deadline and the datagram a timer
 * sends carries exactly its deadline. */
static void test_polled_clock_reaches_a_deadline(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    listen_on_8080(fx);
    long long start = now_usecs(fx);
    assert_int_equal(start, EPOCH_USECS);
    /* A read after any other call leaves the clock where it is. */
    uint32_t isn = handshake_syn(fx);
    assert_int_equal(now_usecs(fx), start);
    /* Reads in a row move it 1 us each. */
    assert_int_equal(now_usecs(fx), start + 1);
    assert_int_equal(now_usecs(fx), start + 2);

    /* Poll, as packetdrill's wait does, until the SYN-ACK timer (1 s,
     * RFC 6298 section 2.1 as Linux's TCP_TIMEOUT_INIT) is due. */
    long long target = start + 1000000, now = 0;
    unsigned long polls = 0;
    while ((now = now_usecs(fx)) < target)
        polls++;
    assert_int_equal(now, target);
    assert_int_equal(polls, 1000000 - 3);
    uint8_t buf[1600];
    sk_segment seg;
    long long at = 0;
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(seg.seq, isn);
    assert_int_equal(at, target);
    assert_nothing_sent(fx);
    /* usleep() still moves it by exactly what it is asked. */
    assert_int_equal(fx->ifc.usleep(ud, 250), 0);
    assert_int_equal(now_usecs(fx), target + 250);
}

/* packetdrill sniffs by calling netdev_receive() until it returns 0.  While
 * nothing is queued and the caller keeps asking, time passes to the next
 * thing scheduled, so a packet only a timer sends (here the SYN-ACK
 * retransmission after 1 s, then the next after 2 s more) appears, at
 * exactly its time, after a handful of calls. */
static void test_polled_receive_waits_for_a_timer(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    listen_on_8080(fx);
    uint32_t isn = handshake_syn(fx); /* ends with one empty receive */
    long long start = now_usecs(fx);
    uint8_t buf[1600];
    long long want[] = {start + 1000000, start + 3000000};
    for (size_t k = 0; k < 2; k++) {
        size_t count;
        long long at = 0;
        int calls = 0, rc;
        do {
            count = sizeof(buf);
            errno = 0;
            rc = fx->ifc.netdev_receive(ud, buf, &count, &at);
            calls++;
            if (rc != 0)
                assert_int_equal(errno, EAGAIN);
        } while (rc != 0 && calls < 1000);
        assert_int_equal(rc, 0);
        assert_true(calls <= 3);
        sk_segment seg;
        assert_int_equal(sk_parse_segment(buf, count, true, &seg), SK_PARSE_OK);
        assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
        assert_int_equal(seg.seq, isn);
        assert_int_equal(at, want[k]);
        assert_int_equal(now_usecs(fx), want[k]);
    }
}

/* Descriptors are open descriptors of the process: packetdrill close(2)s
 * what a script leaves open with the OS's close and dies on EBADF.  The
 * OS close is the end of the object's socket too (seen at its next look at
 * the number), and free() leaves alone a number the process reused. */
static void test_descriptors_are_real(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    int lfd = listen_on_8080(fx);
    assert_true(fcntl(lfd, F_GETFD) >= 0);
    assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC); /* not inherited by packetdrill's shell commands */
    uint32_t isn = handshake_syn(fx);
    send_segment(fx, REMOTE_ISN + 1, isn + 1, SK_TH_ACK, NULL, 0, NULL);
    int fd = fx->ifc.accept(ud, lfd, NULL, NULL);
    assert_true(fd >= 0 && fd != lfd);
    assert_true(fcntl(fd, F_GETFD) >= 0);
    int ep = fx->ifc.epoll_create(ud, 1);
    assert_true(ep >= 0 && fcntl(ep, F_GETFD) >= 0);
    int pipefd[2];
    assert_int_equal(fx->ifc.pipe(ud, pipefd), 0);
    assert_true(fcntl(pipefd[0], F_GETFD) >= 0 && fcntl(pipefd[1], F_GETFD) >= 0);

    /* ifc.close closes the OS descriptor as well. */
    assert_int_equal(fx->ifc.close(ud, ep), 0);
    errno = 0;
    assert_int_equal(fcntl(ep, F_GETFD), -1);
    assert_int_equal(errno, EBADF);

    /* packetdrill's end of script: close(2) of everything left open, then
     * a RST for each connection. */
    assert_int_equal(close(lfd), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(close(pipefd[0]), 0);
    assert_int_equal(close(pipefd[1]), 0);
    send_segment(fx, REMOTE_ISN + 1, isn + 1, SK_TH_RST | SK_TH_ACK, NULL, 0, NULL);
    assert_nothing_sent(fx);
    errno = 0;
    assert_int_equal(fx->ifc.listen(ud, lfd, 1), -1);
    assert_int_equal(errno, EBADF);

    /* The process reuses the number: the object's next socket is a new one
     * that works, and a file someone else opened under an old number is
     * not closed by free(). */
    int other = open("/dev/null", O_RDONLY);
    assert_true(other >= 0);
    int s2 = fx->ifc.socket(ud, AF_INET, SOCK_STREAM, 0);
    assert_true(s2 >= 0 && s2 != other);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(LOCAL_PORT)};
    assert_int_equal(fx->ifc.bind(ud, s2, (struct sockaddr *)&sin, sizeof(sin)), 0);
    fx->ifc.free(ud);
    fx->ifc.userdata = NULL;
    assert_int_equal(fcntl(other, F_GETFD), 0);
    errno = 0;
    assert_int_equal(fcntl(s2, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    close(other);
}

typedef struct accept_job {
    fixture *fx;
    int lfd;
    int result;
    int err;
    long long returned_at; /* the thread's first clock read after the call */
    pid_t tid;
} accept_job;

static void *blocking_accept(void *arg)
{
    accept_job *job = arg;
    __atomic_store_n(&job->tid, gettid(), __ATOMIC_RELEASE);
    errno = 0;
    job->result = job->fx->ifc.accept(job->fx->ifc.userdata, job->lfd, NULL, NULL);
    job->err = errno;
    job->returned_at = now_usecs(job->fx);
    return NULL;
}

/* The state packetdrill reads in /proc/self/task/TID/stat. */
static char thread_state(pid_t tid)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    char *paren = ok ? strrchr(line, ')') : NULL;
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* packetdrill's way: the blocking accept() runs on its system-call thread,
 * which must sleep ('S': packetdrill's main thread waits for that before
 * going on), and returns once the main thread's ACK completes the
 * handshake.  The main thread then sleeps on at once; the accept's
 * result and return time are those of the ACK's instant. */
static void test_blocking_accept_sleeps_and_returns_at_its_time(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    int lfd = listen_on_8080(fx);
    accept_job job = {fx, lfd, -2, 0, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, blocking_accept, &job), 0);
    pid_t tid;
    while ((tid = __atomic_load_n(&job.tid, __ATOMIC_ACQUIRE)) == 0)
        sched_yield();
    /* Asleep for good, not for a moment on a lock: 'S' a few times over
     * some milliseconds. */
    int spins = 0, asleep = 0;
    while (asleep < 3) {
        assert_true(++spins < 1000000);
        asleep = thread_state(tid) == 'S' ? asleep + 1 : 0;
        usleep(asleep ? 2000 : 0);
    }
    uint32_t isn = handshake_syn(fx);
    assert_int_equal(fx->ifc.usleep(ud, 10000), 0);
    long long acked = now_usecs(fx);
    assert_int_equal(acked, EPOCH_USECS + 10000);
    send_segment(fx, REMOTE_ISN + 1, isn + 1, SK_TH_ACK, NULL, 0, NULL);
    assert_int_equal(fx->ifc.usleep(ud, 1000000), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(job.result >= 0 && job.result != lfd && fcntl(job.result, F_GETFD) >= 0);
    assert_int_equal(job.err, 0);
    assert_int_equal(job.returned_at, acked);
    assert_int_equal(now_usecs(fx), acked + 1000000);
}

typedef struct poll_job {
    fixture *fx;
    struct pollfd p;
    int result;
    long long returned_at;
    pid_t tid;
} poll_job;

static void *blocking_poll(void *arg)
{
    poll_job *job = arg;
    __atomic_store_n(&job->tid, gettid(), __ATOMIC_RELEASE);
    job->result = job->fx->ifc.poll(job->fx->ifc.userdata, &job->p, 1, 300);
    job->returned_at = now_usecs(job->fx);
    return NULL;
}

/* A poll() asleep on packetdrill's system-call thread times out at exactly
 * its timeout while the main thread waits for a packet: the repeated empty
 * receives move the clock to that timeout (nothing else is scheduled), the
 * call returns 0 there, and the next step, with nothing at all scheduled,
 * is a jiffy. */
static void test_blocked_poll_times_out_while_main_sniffs(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    int lfd = listen_on_8080(fx);
    long long start = now_usecs(fx);
    poll_job job = {.fx = fx, .p = {.fd = lfd, .events = POLLIN}, .result = -2};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, blocking_poll, &job), 0);
    pid_t tid;
    while ((tid = __atomic_load_n(&job.tid, __ATOMIC_ACQUIRE)) == 0)
        sched_yield();
    int spins = 0, asleep = 0;
    while (asleep < 3) {
        assert_true(++spins < 1000000);
        asleep = thread_state(tid) == 'S' ? asleep + 1 : 0;
        usleep(asleep ? 2000 : 0);
    }
    uint8_t buf[1600];
    for (int i = 0; i < 3; i++) {
        size_t count = sizeof(buf);
        errno = 0;
        assert_int_equal(fx->ifc.netdev_receive(ud, buf, &count, NULL), -1);
        assert_int_equal(errno, EAGAIN);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(job.result, 0);
    assert_int_equal(job.p.revents, 0);
    assert_int_equal(job.returned_at, start + 300000);
    assert_int_equal(now_usecs(fx), start + 300000 + 1000);
}

static void test_errors(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    errno = 0;
    assert_int_equal(fx->ifc.socket(ud, AF_UNIX, SOCK_STREAM, 0), -1);
    assert_int_equal(errno, EAFNOSUPPORT);
    errno = 0;
    assert_int_equal(fx->ifc.socket(ud, AF_INET, SOCK_DGRAM, 0), -1);
    assert_int_equal(errno, ESOCKTNOSUPPORT);
    errno = 0;
    assert_int_equal(fx->ifc.listen(ud, 99, 1), -1);
    assert_int_equal(errno, EBADF);
    errno = 0;
    assert_int_equal(fx->ifc.splice(ud, 3, NULL, 4, NULL, 10, 0), -1);
    assert_int_equal(errno, ENOSYS);

    int fd = fx->ifc.socket(ud, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0 && fcntl(fd, F_GETFD) >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080)};
    errno = 0;
    assert_int_equal(fx->ifc.bind(ud, fd, (struct sockaddr *)&sin, 4), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(fx->ifc.read(ud, fd, (char[4]){0}, 4), -1);
    assert_int_equal(errno, ENOTCONN);

    /* A datagram too big for the caller's buffer stays queued. */
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(8080), .sin_addr.s_addr = htonl(REMOTE_IP)};
    errno = 0;
    assert_int_equal(fx->ifc.connect(ud, fd, (struct sockaddr *)&dst, sizeof(dst)), -1);
    assert_int_equal(errno, EINPROGRESS);
    uint8_t small[8];
    size_t count = sizeof(small);
    errno = 0;
    assert_int_equal(fx->ifc.netdev_receive(ud, small, &count, NULL), -1);
    assert_int_equal(errno, EMSGSIZE);
    uint8_t buf[1600];
    sk_segment seg;
    long long at = 0;
    receive_segment(fx, buf, sizeof(buf), &seg, &at);
    assert_int_equal(seg.flags, SK_TH_SYN);
    assert_int_equal(seg.dport, 8080);

    /* Garbage on the link is dropped, not fatal. */
    assert_int_equal(fx->ifc.netdev_send(ud, "\x45\x00", 2), 0);
    assert_nothing_sent(fx);
}


/* packetdrill's IPv6 run (--ip_version=ipv6, the kernel runner's
 * addresses and --mtu=1520): the object takes local_ip as its IPv6
 * address, AF_INET6 sockets, and sockaddr_in6 both ways; on the link,
 * whole IPv6 datagrams with the MSS the 1520-byte MTU gives (1460). */
static int setup6(void **state)
{
    *state = open_so("net.ipv4.tcp_timestamps=0 local_ip=fd3d:a0b:17d6::1 remote_ip=fd3d:fa7b:d17d::1 mtu=1520");
    return 0;
}

static void test_ipv6_passive_open(void **state)
{
    fixture *fx = *state;
    void *ud = fx->ifc.userdata;
    uint8_t local6[16], remote6[16];
    inet_pton(AF_INET6, "fd3d:a0b:17d6::1", local6);
    inet_pton(AF_INET6, "fd3d:fa7b:d17d::1", remote6);
    int lfd = fx->ifc.socket(ud, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    assert_true(lfd >= 0);
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(LOCAL_PORT);
    /* Shorter than an RFC 2133 sockaddr_in6 (24 bytes): EINVAL, as Linux. */
    errno = 0;
    assert_int_equal(fx->ifc.bind(ud, lfd, (struct sockaddr *)&sin6, 20), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fx->ifc.bind(ud, lfd, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
    assert_int_equal(fx->ifc.listen(ud, lfd, 1), 0);

    sk_segment_spec spec = {.ip_version = 6, .sport = REMOTE_PORT, .dport = LOCAL_PORT, .seq = REMOTE_ISN,
                            .flags = SK_TH_SYN, .window = 65535, .options = syn_options,
                            .options_len = sizeof(syn_options)};
    memcpy(spec.src6, remote6, 16);
    memcpy(spec.dst6, local6, 16);
    uint8_t buf[1600];
    size_t n = sk_build_segment(&spec, buf, sizeof(buf));
    assert_int_equal(fx->ifc.netdev_send(ud, buf, n), 0);
    size_t count = sizeof(buf);
    long long at = 0;
    assert_int_equal(fx->ifc.netdev_receive(ud, buf, &count, &at), 0);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(buf, count, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.ip_version, 6);
    assert_memory_equal(seg.src6, local6, 16);
    assert_memory_equal(seg.dst6, remote6, 16);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(seg.ack, REMOTE_ISN + 1);
    assert_true(seg.opts.has_mss);
    assert_int_equal(seg.opts.mss, 1460); /* 1520 - 40 - 20 */
    uint32_t isn = seg.seq;

    spec.seq = REMOTE_ISN + 1;
    spec.ack = isn + 1;
    spec.flags = SK_TH_ACK;
    spec.options = NULL;
    spec.options_len = 0;
    n = sk_build_segment(&spec, buf, sizeof(buf));
    assert_int_equal(fx->ifc.netdev_send(ud, buf, n), 0);

    struct sockaddr_in6 peer;
    memset(&peer, 0xff, sizeof(peer));
    socklen_t plen = sizeof(peer);
    int fd = fx->ifc.accept(ud, lfd, (struct sockaddr *)&peer, &plen);
    assert_true(fd >= 0);
    assert_int_equal(plen, sizeof(struct sockaddr_in6));
    assert_int_equal(peer.sin6_family, AF_INET6);
    assert_int_equal(ntohs(peer.sin6_port), REMOTE_PORT);
    assert_memory_equal(&peer.sin6_addr, remote6, 16);
    assert_int_equal(peer.sin6_flowinfo, 0);
    assert_int_equal(peer.sin6_scope_id, 0);

    assert_int_equal(fx->ifc.write(ud, fd, "hello", 5), 5);
    count = sizeof(buf);
    assert_int_equal(fx->ifc.netdev_receive(ud, buf, &count, &at), 0);
    assert_int_equal(sk_parse_segment(buf, count, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.ip_version, 6);
    assert_int_equal(seg.payload_len, 5);
    assert_int_equal(fx->ifc.close(ud, fd), 0);
    assert_int_equal(fx->ifc.close(ud, lfd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_passive_open_data_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_calls_advance_virtual_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_accept_sleeps_and_returns_at_its_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_polled_clock_reaches_a_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_polled_receive_waits_for_a_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_descriptors_are_real, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_poll_times_out_while_main_sniffs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_passive_open, setup6, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
