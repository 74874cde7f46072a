/*
 * The TUN backend's pieces that run without a TUN device: address
 * parsing, name checks, and the event loop driven over a SOCK_SEQPACKET
 * socketpair standing in for the device (one datagram per read/write,
 * as a TUN descriptor with IFF_NO_PI).  One test, as root, opens a real
 * device in a network namespace of its own.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "synack-io/loop.h"
#include "synack/packet.h"
#include "synack/synack.h"
#include "synack-io/tun.h"

#define KERNEL_ADDR 0x0a4d0001u /* 10.77.0.1 */
#define STACK_ADDR 0x0a4d0002u  /* 10.77.0.2 */

static void test_parse_prefix(void **state)
{
    (void)state;
    uint32_t a = 0;
    int p = 0;
    char err[200];
    assert_int_equal(sk_parse_ipv4_prefix("10.77.0.2/24", &a, &p, err, sizeof(err)), 0);
    assert_int_equal(a, STACK_ADDR);
    assert_int_equal(p, 24);
    assert_int_equal(sk_parse_ipv4_prefix("192.168.1.9", &a, &p, err, sizeof(err)), 0);
    assert_int_equal(a, 0xc0a80109u);
    assert_int_equal(p, 32);

    assert_int_equal(sk_parse_ipv4_prefix("10.77.0.256/24", &a, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '10.77.0.256/24': expected an IPv4 address like 10.77.0.2/24");
    assert_int_equal(sk_parse_ipv4_prefix("10.77.0.2/33", &a, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '10.77.0.2/33': the prefix length after '/' must be 0 to 32");
    assert_int_equal(sk_parse_ipv4_prefix("10.1", &a, &p, err, sizeof(err)), -EINVAL);
    assert_int_equal(sk_parse_ipv4_prefix("10.77.0.2 ", &a, &p, err, sizeof(err)), -EINVAL);
    assert_int_equal(sk_parse_ipv4_prefix("127.0.0.1/8", &a, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '127.0.0.1/8': not a unicast host address");
    assert_int_equal(sk_parse_ipv4_prefix("224.0.0.1", &a, &p, err, sizeof(err)), -EINVAL);
    assert_int_equal(sk_parse_ipv4_prefix("0.0.0.0", &a, &p, err, sizeof(err)), -EINVAL);
}

static void test_parse_endpoint(void **state)
{
    (void)state;
    sk_endpoint ep = {0};
    char err[200];
    assert_int_equal(sk_parse_ipv4_endpoint("10.77.0.1:8080", &ep, err, sizeof(err)), 0);
    assert_int_equal(ep.addr, KERNEL_ADDR);
    assert_int_equal(ep.port, 8080);
    assert_int_equal(sk_parse_ipv4_endpoint("10.77.0.1:65535", &ep, err, sizeof(err)), 0);
    assert_int_equal(ep.port, 65535);

    assert_int_equal(sk_parse_ipv4_endpoint("10.77.0.1:0", &ep, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '10.77.0.1:0': the port must be 1 to 65535");
    assert_int_equal(sk_parse_ipv4_endpoint("10.77.0.1:65536", &ep, err, sizeof(err)), -EINVAL);
    assert_int_equal(sk_parse_ipv4_endpoint("10.77.0.1", &ep, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad address '10.77.0.1': expected IPv4ADDRESS:PORT like 10.77.0.1:8080");
    assert_int_equal(sk_parse_ipv4_endpoint("host:80", &ep, err, sizeof(err)), -EINVAL);

    char buf[16];
    sk_format_ipv4(0xc0a80109u, buf, sizeof(buf));
    assert_string_equal(buf, "192.168.1.9");
}

static void test_tun_bad_name(void **state)
{
    (void)state;
    char err[200];
    assert_int_equal(sk_tun_open("", NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad TUN device name '': must be 1 to 15 characters");
    assert_int_equal(sk_tun_open("a-name-much-too-long", NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bad TUN device name 'a-name-much-too-long': must be 1 to 15 characters");
}

/* ------------------------------------------------------------------ */
/* The loop over a socketpair                                           */
/* ------------------------------------------------------------------ */

typedef struct loop_fixture {
    int kernel_fd; /* the "kernel" end */
    sk_loop *loop;
    int listen_fd;
    int runs, shutdowns;
    bool stop_after_input;
    bool raise_term;
    bool finish_now;
    int stop_after_runs; /* stop after this many more app runs (a call's first
                            comes before anything is read) */
} loop_fixture;

static void fixture_run(void *ctx, sk_loop *loop)
{
    loop_fixture *f = ctx;
    f->runs++;
    if (f->raise_term && f->runs == 1)
        raise(SIGTERM); /* blocked: read back through the signalfd */
    if (f->finish_now && f->runs == 1)
        sk_loop_finish(loop);
    if (f->stop_after_input && sk_loop_get_stats(loop)->rx_datagrams > 0)
        sk_loop_stop(loop);
    if (f->stop_after_runs && --f->stop_after_runs == 0)
        sk_loop_stop(loop);
}

static void fixture_shutdown(void *ctx, sk_loop *loop)
{
    loop_fixture *f = ctx;
    (void)loop;
    f->shutdowns++;
    if (f->listen_fd >= 0)
        sk_close(sk_loop_stack(f->loop), f->listen_fd);
    f->listen_fd = -1;
}

/* The tests below wake the loop at least every 2 ms, so a wakeup never
 * waits for a stack timer (a retransmission would spoil the count). */
static sk_time_ns fixture_deadline(void *ctx)
{
    (void)ctx;
    return sk_loop_clock() + 2 * SK_NSEC_PER_MSEC;
}

static loop_fixture *fixture_new_with(const sk_impairment *impair, const char *pcap_path, int sndbuf)
{
    loop_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    f->kernel_fd = sv[1];
    if (sndbuf)
        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    sk_loop_params p;
    memset(&p, 0, sizeof(p));
    p.tun_fd = sv[0];
    p.flags = SK_LOOP_SIGNALS;
    p.pcap_path = pcap_path;
    p.stack.addr = STACK_ADDR;
    p.stack.seed = 42;
    p.stack.name = "test";
    if (impair)
        p.impair = *impair;
    sk_loop_app app = {.ctx = f, .run = fixture_run, .shutdown = fixture_shutdown, .extra_fd = -1};
    if (pcap_path || sndbuf || (impair && impair->delay))
        app.deadline = fixture_deadline;
    char err[200];
    f->loop = sk_loop_new(&p, &app, err, sizeof(err));
    assert_non_null(f->loop);
    sk_stack *s = sk_loop_stack(f->loop);
    f->listen_fd = sk_socket(s);
    assert_true(f->listen_fd >= 0);
    sk_endpoint local = {.addr = STACK_ADDR, .port = 80};
    assert_int_equal(sk_bind(s, f->listen_fd, &local), 0);
    assert_int_equal(sk_listen(s, f->listen_fd, 16), 0);
    return f;
}

static loop_fixture *fixture_new(const sk_impairment *impair)
{
    return fixture_new_with(impair, NULL, 0);
}

static void fixture_free(loop_fixture *f)
{
    sk_loop_free(f->loop);
    close(f->kernel_fd);
    free(f);
}

static void send_syn(loop_fixture *f)
{
    static const uint8_t mss_opt[4] = {2, 4, 0x05, 0xb4}; /* MSS 1460 */
    sk_segment_spec spec = {.src = KERNEL_ADDR, .dst = STACK_ADDR, .sport = 40000, .dport = 80,
                            .seq = 1000, .flags = SK_TH_SYN, .window = 64240, .df = true,
                            .options = mss_opt, .options_len = sizeof(mss_opt)};
    uint8_t d[128];
    size_t len = sk_build_segment(&spec, d, sizeof(d));
    assert_true(len > 0);
    assert_int_equal(write(f->kernel_fd, d, len), (ssize_t)len);
}

static void test_loop_answers_syn(void **state)
{
    (void)state;
    loop_fixture *f = fixture_new(NULL);
    send_syn(f);
    f->stop_after_input = true;
    char err[200];
    assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);

    uint8_t d[2048];
    ssize_t n = read(f->kernel_fd, d, sizeof(d));
    assert_true(n > 0);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, (size_t)n, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.src, STACK_ADDR);
    assert_int_equal(seg.dst, KERNEL_ADDR);
    assert_int_equal(seg.sport, 80);
    assert_int_equal(seg.dport, 40000);
    assert_int_equal(seg.flags & (SK_TH_SYN | SK_TH_ACK | SK_TH_RST), SK_TH_SYN | SK_TH_ACK);
    assert_int_equal(seg.ack, 1001);
    /* Exactly one datagram out: nothing else was queued. */
    assert_int_equal(read(f->kernel_fd, d, sizeof(d)), -1);
    assert_int_equal(errno, EAGAIN);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->rx_datagrams, 1);
    assert_int_equal(st->tx_datagrams, 1);
    assert_int_equal(st->tx_bytes, (uint64_t)n);
    assert_int_equal(st->impair_lost, 0);
    fixture_free(f);
}

static void test_loop_loss_drops_input(void **state)
{
    (void)state;
    sk_impairment im = {.loss = 1.0, .seed = 3};
    loop_fixture *f = fixture_new(&im);
    send_syn(f);
    f->stop_after_input = true;
    char err[200];
    assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
    uint8_t d[2048];
    assert_int_equal(read(f->kernel_fd, d, sizeof(d)), -1);
    assert_int_equal(errno, EAGAIN);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->rx_datagrams, 1);
    assert_int_equal(st->impair_lost, 1);
    assert_int_equal(st->tx_datagrams, 0);
    assert_int_equal(sk_counter(sk_loop_stack(f->loop), "TcpInSegs"), 0);
    fixture_free(f);
}

static void test_loop_sigterm_shuts_down(void **state)
{
    (void)state;
    loop_fixture *f = fixture_new(NULL);
    f->raise_term = true;
    char err[200];
    assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
    assert_int_equal(f->shutdowns, 1);
    assert_int_equal(sk_loop_signal(f->loop), SIGTERM);
    assert_true(sk_loop_shutting_down(f->loop));
    assert_int_equal(f->listen_fd, -1);
    fixture_free(f);
}

static void test_loop_finish_without_connections(void **state)
{
    (void)state;
    loop_fixture *f = fixture_new(NULL);
    f->finish_now = true;
    char err[200];
    assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
    assert_int_equal(f->shutdowns, 1);
    assert_int_equal(sk_loop_signal(f->loop), 0);
    assert_int_equal(f->runs, 1);
    fixture_free(f);
}

/* A connection from the "kernel" (seq 1000, MSS 1460, no options
 * beyond it), accepted; returns the stack's handle and its ISN. */
static int establish(loop_fixture *f, uint32_t *isn)
{
    char err[200];
    uint8_t d[2048];
    ssize_t n = -1;
    send_syn(f);
    /* Wakeup by wakeup (an impairment may hold the SYN and its answer). */
    for (int i = 0; i < 100 && n < 0; i++) {
        f->stop_after_runs = 2;
        assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
        n = read(f->kernel_fd, d, sizeof(d));
        if (n < 0)
            usleep(2000);
    }
    assert_true(n > 0);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(d, (size_t)n, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.flags, SK_TH_SYN | SK_TH_ACK);
    *isn = seg.seq;
    sk_segment_spec spec = {.src = KERNEL_ADDR, .dst = STACK_ADDR, .sport = 40000, .dport = 80, .seq = 1001,
                            .ack = seg.seq + 1, .flags = SK_TH_ACK, .window = 64240, .df = true};
    size_t len = sk_build_segment(&spec, d, sizeof(d));
    assert_int_equal(write(f->kernel_fd, d, len), (ssize_t)len);
    sk_stack *s = sk_loop_stack(f->loop);
    int fd = -EAGAIN;
    for (int i = 0; i < 100 && fd < 0; i++) {
        f->stop_after_runs = 2;
        assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
        fd = sk_accept(s, f->listen_fd, NULL);
        if (fd < 0)
            usleep(2000);
    }
    assert_true(fd >= 0);
    return fd;
}

/* Reads the data segments the stack wrote until `want` payload bytes
 * came, each checked whole: checksums, sequence, flags and the bytes. */
static size_t read_data(loop_fixture *f, uint32_t seq, const uint8_t *data, size_t want, size_t *segments)
{
    size_t got = 0;
    uint8_t d[2048];
    ssize_t n;
    while (got < want && (n = read(f->kernel_fd, d, sizeof(d))) > 0) {
        sk_segment seg;
        assert_int_equal(sk_parse_segment(d, (size_t)n, true, &seg), SK_PARSE_OK);
        assert_int_equal(seg.seq, seq + got);
        assert_int_equal(seg.payload_len, got + 1460 < want ? 1460 : want - got);
        /* PSH where Linux puts it: at the end of each TSO packet. */
        assert_int_equal(seg.flags & ~SK_TH_PSH, SK_TH_ACK);
        assert_memory_equal(seg.payload, data + got, seg.payload_len);
        got += seg.payload_len;
        (*segments)++;
    }
    return got;
}

/* Data segments leave through the stack's scatter-gather transmit,
 * gathered into the write queue, or delayed by the impairment, or
 * captured.  Each way the device gets the same datagrams: four segments
 * of 1460, 1460, 1460 and 620 bytes, in order, checksums right. */
static void test_loop_data_segments_leave_whole(void **state)
{
    (void)state;
    static uint8_t data[5000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + (i >> 8));
    char pcap_path[] = "/tmp/skz-loop-XXXXXX";
    int pfd = mkstemp(pcap_path);
    assert_true(pfd >= 0);
    close(pfd);
    for (int mode = 0; mode < 3; mode++) {
        sk_impairment delay = {.delay = SK_NSEC_PER_MSEC, .seed = 1};
        loop_fixture *f = fixture_new_with(mode == 1 ? &delay : NULL, mode == 2 ? pcap_path : NULL, 0);
        uint32_t isn;
        int fd = establish(f, &isn);
        sk_stack *s = sk_loop_stack(f->loop);
        assert_int_equal(sk_send(s, fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
        /* One wakeup at a time (each ends with the write queue flushed)
         * until the SYN-ACK and four segments went out, well before any
         * retransmission could. */
        char err[200];
        for (int i = 0; i < 100 && sk_loop_get_stats(f->loop)->tx_datagrams < 1 + 4; i++) {
            usleep(2000);
            f->stop_after_runs = 1; /* releases what is due, flushes */
            assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
        }
        size_t segments = 0;
        assert_int_equal(read_data(f, isn + 1, data, sizeof(data), &segments), sizeof(data));
        assert_int_equal(segments, 4);
        uint8_t d[2048];
        assert_int_equal(read(f->kernel_fd, d, sizeof(d)), -1);
        const sk_loop_stats *st = sk_loop_get_stats(f->loop);
        assert_int_equal(st->tx_datagrams, 1 + 4);
        assert_int_equal(st->tx_queue_drops, 0);
        fixture_free(f);
        if (mode == 2) {
            /* The capture holds the SYN, the SYN-ACK, the ACK and the four
             * segments: 24-byte file header, then 16 bytes per record. */
            FILE *pf = fopen(pcap_path, "rb");
            assert_non_null(pf);
            assert_int_equal(fseek(pf, 0, SEEK_END), 0);
            long size = ftell(pf);
            fclose(pf);
            assert_int_equal(size, 24 + 7 * 16 + (44 + 44 + 40) + 4 * 40 + (long)sizeof(data));
        }
    }
    unlink(pcap_path);
}

/* A device that pushes back: writes meet EAGAIN, the rest waits in the
 * write queue (gathered there from the stack's pieces) until EPOLLOUT,
 * and leaves in order behind what was written at once. */
static void test_loop_pushback_keeps_order(void **state)
{
    (void)state;
    static uint8_t data[60000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 5 + (i >> 9));
    loop_fixture *f = fixture_new_with(NULL, NULL, 4096);
    uint32_t isn;
    int fd = establish(f, &isn);
    sk_stack *s = sk_loop_stack(f->loop);
    /* The initial window (10 segments) is queued at once; the device's
     * buffer holds only a few of them. */
    assert_int_equal(sk_send(s, fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
    char err[200];
    f->stop_after_runs = 1;
    assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
    size_t segments = 0;
    size_t got = read_data(f, isn + 1, data, 10 * 1460, &segments);
    assert_true(segments >= 1 && segments < 10);
    alarm(10);
    for (int round = 0; round < 100 && got < 10 * 1460; round++) {
        f->stop_after_runs = 1; /* what fits is flushed */
        assert_int_equal(sk_loop_run(f->loop, err, sizeof(err)), 0);
        got += read_data(f, isn + 1 + (uint32_t)got, data + got, 10 * 1460 - got, &segments);
    }
    alarm(0);
    assert_int_equal(got, 10 * 1460);
    assert_int_equal(segments, 10);
    uint8_t d[2048];
    assert_int_equal(read(f->kernel_fd, d, sizeof(d)), -1);
    const sk_loop_stats *st = sk_loop_get_stats(f->loop);
    assert_int_equal(st->tx_datagrams, 1 + 10);
    assert_int_equal(st->tx_queue_drops, 0);
    fixture_free(f);
}

/* The stack on a TUN device knows the device's interface index, as a
 * link-local sin6_scope_id names it: binding fe80::2%tun0 works and any
 * other index is -ENODEV, as Linux's inet6_bind says.  In a network
 * namespace of its own (root only), where lo is 1 and tun0 is not. */
static void test_loop_takes_the_device_index(void **state)
{
    (void)state;
    if (geteuid() != 0 || access("/dev/net/tun", F_OK) != 0)
        skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) != 0)
            _exit(77);
        char err[200];
        sk_tun_info info;
        int tfd = sk_tun_open("tun0", &info, err, sizeof(err));
        if (tfd < 0)
            _exit(2);
        unsigned idx = if_nametoindex("tun0");
        if (idx <= 1)
            _exit(3);
        static const uint8_t ll[16] = {0xfe, 0x80, [15] = 2};
        sk_loop_params p;
        memset(&p, 0, sizeof(p));
        p.tun_fd = tfd;
        p.stack.addr = STACK_ADDR;
        memcpy(p.stack.addr6, ll, 16);
        p.stack.seed = 1;
        sk_loop_app app = {.run = fixture_run, .extra_fd = -1};
        sk_loop *l = sk_loop_new(&p, &app, err, sizeof(err));
        if (!l)
            _exit(4);
        sk_stack *st = sk_loop_stack(l);
        sk_endpoint e = sk_endpoint_ipv6(ll, 80);
        e.scope_id = idx + 1;
        int a = sk_socket_family(st, SK_AF_INET6), b = sk_socket_family(st, SK_AF_INET6);
        if (sk_bind(st, a, &e) != -ENODEV)
            _exit(5);
        e.scope_id = idx;
        if (sk_bind(st, b, &e) != 0)
            _exit(6);
        sk_loop_free(l);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_prefix),
        cmocka_unit_test(test_parse_endpoint),
        cmocka_unit_test(test_tun_bad_name),
        cmocka_unit_test(test_loop_answers_syn),
        cmocka_unit_test(test_loop_loss_drops_input),
        cmocka_unit_test(test_loop_sigterm_shuts_down),
        cmocka_unit_test(test_loop_finish_without_connections),
        cmocka_unit_test(test_loop_data_segments_leave_whole),
        cmocka_unit_test(test_loop_pushback_keeps_order),
        cmocka_unit_test(test_loop_takes_the_device_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
