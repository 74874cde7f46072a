/*
 * Send-buffer accounting as Linux's: skb truesize in sk_wmem_queued, the
 * buffer grown only when an ACK frees room for a writer that ran out of it
 * (tcp_check_space), and what poll() and write() report meanwhile.  The
 * test plays the server by hand (the real one sees nothing) with the peer
 * of tcp/epoll/epoll_out_edge.pkt: MSS 1000, window 257 << 7 = 32896, so
 * the size goal is 16000 (half the largest window, in whole segments).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "support/harness.h"

#define SERVER_ISN 5000u

typedef struct peer {
    sk_fixture *f;
    int fd;
    uint16_t cport;
    uint32_t c_isn;
} peer;

/* Connects the client to a server the test plays: SYN-ACK with MSS 1000,
 * window 32792 and window scale 7, as the script's peer. */
static peer connect_to_scripted_peer(sk_fixture *f, int fd)
{
    sk_test_sysctl(f->client, "net.ipv4.tcp_timestamps", "0");
    sk_test_drop(f, "c>s *", -1);
    size_t mark = f->trace_len;
    sk_endpoint remote = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, fd, &remote), -EINPROGRESS);
    sk_test_run_for(f, MSEC(1));
    const sk_trace_entry *syn = sk_test_find(f, mark, "c>s S");
    assert_non_null(syn);
    peer p = {.f = f, .fd = fd, .cport = syn->seg.sport, .c_isn = syn->seg.seq};
    static const uint8_t opts[] = {2, 4, 1000 >> 8, 1000 & 0xff, 1, 3, 3, 7};
    sk_segment_spec synack = {.src = SK_TEST_SERVER_ADDR, .dst = SK_TEST_CLIENT_ADDR, .sport = 80,
                              .dport = p.cport, .seq = SERVER_ISN, .ack = p.c_isn + 1,
                              .flags = SK_TH_SYN | SK_TH_ACK, .window = 32792, .options = opts,
                              .options_len = sizeof opts};
    sk_test_inject(f, &synack);
    sk_test_run_for(f, (sk_time_ns)SK_NSEC_PER_USEC);
    assert_int_equal(sk_state(f->client, fd), SK_TCP_ESTABLISHED);
    return p;
}

/* The peer acknowledges up to relative sequence `ack` (1 = nothing yet). */
static void ack_to(peer *p, uint32_t ack)
{
    sk_segment_spec a = {.src = SK_TEST_SERVER_ADDR, .dst = SK_TEST_CLIENT_ADDR, .sport = 80,
                         .dport = p->cport, .seq = SERVER_ISN + 1, .ack = p->c_isn + ack,
                         .flags = SK_TH_ACK, .window = 257};
    sk_test_inject(p->f, &a);
    sk_test_run_for(p->f, (sk_time_ns)SK_NSEC_PER_USEC);
}

static int sndbuf(const peer *p)
{
    int v = 0;
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(p->f->client, p->fd, SK_SOL_SOCKET, SK_SO_SNDBUF, &v, &len), 0);
    return v;
}

static uint32_t snd_nxt_rel(const peer *p)
{
    const sk_trace_entry *last = sk_test_last(p->f, "c>s *");
    assert_non_null(last);
    return last->seg.seq + (uint32_t)last->seg.payload_len - p->c_isn;
}

static uint8_t big[180000];

/* epoll_out_edge.pkt's sequence, written out in numbers:
 * - after the handshake sndbuf = tcp_wmem[1] (tcp_sndbuf_expand's
 *   2 x 10 x 2304 = 46080 is smaller);
 * - a write fills skbs while wmem_queued < sndbuf: [1,10001) sent (the
 *   cwnd-10 split), [10001,26001), [26001,42001), [42001,58001): 58000
 *   bytes + 4 x 1280 overhead, and no fifth skb;
 * - the ACK of 10001 (cwnd 20, 16 segments out, the next skb held back by
 *   the cwnd alone just after the head went out) neither grows the buffer
 *   nor makes the socket writable;
 * - the ACK of 26001 (cwnd 36, the next skb held by the peer's window)
 *   grows it to 2 x 36 x 2304 = 165888 and the socket is writable;
 * - a write then starts 8 skbs: 32000 + 2 x 1280 queued, +8 x 17280. */
static void test_write_and_poll_follow_linux_wmem_accounting(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->client, "net.ipv4.tcp_wmem", "4096 50000 4194304");
    int fd = sk_socket(f->client);
    assert_true(fd >= 0);
    peer p = connect_to_scripted_peer(f, fd);
    assert_int_equal(sndbuf(&p), 50000);
    assert_int_equal(sk_poll(f->client, fd), SK_POLLOUT | SK_POLLWRNORM);

    assert_int_equal(sk_send(f->client, fd, big, 59000, 0), 58000);
    assert_int_equal(snd_nxt_rel(&p), 10001);
    assert_int_equal(sk_poll(f->client, fd), 0);
    assert_int_equal(sk_send(f->client, fd, big, 1000, 0), -EAGAIN);

    ack_to(&p, 10001);
    assert_int_equal(snd_nxt_rel(&p), 26001);
    assert_int_equal(sk_poll(f->client, fd), 0);
    assert_int_equal(sndbuf(&p), 50000);

    ack_to(&p, 26001);
    assert_int_equal(sndbuf(&p), 165888);
    assert_int_equal(sk_poll(f->client, fd), SK_POLLOUT | SK_POLLWRNORM);

    assert_int_equal(sk_send(f->client, fd, big, 180000, 0), 128000);
    assert_int_equal(sk_poll(f->client, fd), 0);

    /* cwnd 52, 32 segments out (the peer's window): 2 x 52 x 2304. */
    ack_to(&p, 42001);
    assert_int_equal(sndbuf(&p), 239616);
    assert_int_equal(sk_poll(f->client, fd), SK_POLLOUT | SK_POLLWRNORM);

    /* Nobody ran out of room since: the buffer stays. */
    ack_to(&p, 74001);
    assert_int_equal(sndbuf(&p), 239616);
    /* 112000 bytes in 7 skbs queued (120960 with overhead): seven more
     * skbs of 17280 start below 239616 (the last at 224640), an eighth
     * would not (241920). */
    assert_int_equal(sk_send(f->client, fd, big, 180000, 0), 112000);
}

/* SO_SNDBUF doubles the request and locks the buffer: no growth on ACKs,
 * and writes take what the doubled size allows. */
typedef struct ready_count {
    int fd;
    unsigned n;
} ready_count;

static void count_ready(void *ctx, const sk_event *ev)
{
    ready_count *rc = ctx;
    sk_endpoint local;
    sk_event_endpoints(ev, &local, NULL);
    if (ev->type == SK_EV_READY && local.addr == SK_TEST_CLIENT_ADDR && ev->fd == rc->fd)
        rc->n++;
}

static void test_so_sndbuf_locks_and_doubles(void **state)
{
    sk_fixture *f = *state;
    int fd = sk_socket(f->client);
    assert_true(fd >= 0);
    int v = 10000;
    assert_int_equal(sk_setsockopt(f->client, fd, SK_SOL_SOCKET, SK_SO_SNDBUF, &v, sizeof v), 0);
    peer p = connect_to_scripted_peer(f, fd);
    assert_int_equal(sndbuf(&p), 20000);
    /* [1,16001) is split by the cwnd-10 push at 10001, the rest refilled
     * to [10001,26001); then 26000 + 2 x 1280 >= 20000: no new skb. */
    assert_int_equal(sk_send(f->client, fd, big, 59000, 0), 26000);
    assert_int_equal(sk_poll(f->client, fd), 0);
    sk_test_run_for(f, MSEC(5));
    /* The blocked writer is woken (SK_EV_READY) only when the socket
     * becomes writable (sk_stream_write_space), not by the first ACK that
     * frees some room. */
    ready_count rc = {.fd = fd};
    f->on_event = count_ready;
    f->event_ctx = &rc;
    ack_to(&p, 10001);
    assert_int_equal(sndbuf(&p), 20000);
    /* 16000 + 1280 queued: free 2720 < half of it, still unwritable. */
    assert_int_equal(sk_poll(f->client, fd), 0);
    assert_int_equal(rc.n, 0);
    sk_test_run_for(f, MSEC(5));
    ack_to(&p, 26001);
    assert_int_equal(sndbuf(&p), 20000);
    assert_int_equal(sk_poll(f->client, fd), SK_POLLOUT | SK_POLLWRNORM);
    assert_int_equal(rc.n, 1);
    f->on_event = NULL;
    /* Busy from the write until the queue emptied, 10 ms; never limited
     * by the buffer (slow start kept the sender cwnd-limited). */
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    sk_test_run_for(f, MSEC(5));
    assert_int_equal(sk_getsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    assert_int_equal(ti.tcpi_busy_time, 10000);
    assert_int_equal(ti.tcpi_sndbuf_limited, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_and_poll_follow_linux_wmem_accounting, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_so_sndbuf_locks_and_doubles, sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
