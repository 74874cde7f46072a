/*
 * The TUN backend's pieces that run without a TUN device: address
 * parsing, name checks, and the event loop driven over a SOCK_SEQPACKET
 * socketpair standing in for the device (one datagram per read/write,
 * as a TUN descriptor with IFF_NO_PI).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static loop_fixture *fixture_new(const sk_impairment *impair)
{
    loop_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    f->kernel_fd = sv[1];
    sk_loop_params p;
    memset(&p, 0, sizeof(p));
    p.tun_fd = sv[0];
    p.flags = SK_LOOP_SIGNALS;
    p.stack.addr = STACK_ADDR;
    p.stack.seed = 42;
    p.stack.name = "test";
    if (impair)
        p.impair = *impair;
    sk_loop_app app = {.ctx = f, .run = fixture_run, .shutdown = fixture_shutdown, .extra_fd = -1};
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
