/*
 * The injected allocator (sk_stack_params.mem) sees every allocation of
 * the engine.
 *
 * The test is linked with -Wl,--wrap=malloc,calloc,realloc,free (see
 * tests/CMakeLists.txt): every call the engine's objects make to the C
 * library's allocator lands in the __wrap_ functions below, which count
 * it as a stray while an engine call is running.  The counting allocator
 * handed to the stacks calls __real_* and is not counted as stray.  The
 * test's own wire is a fixed array, so nothing else allocates while the
 * engine runs.
 *
 * The workload goes through every allocating path: listen queues and
 * SYN tables, connections, send and receive rings, the out-of-order
 * queue, the SACK scoreboard and RACK's segment list (a lossy link),
 * MSG_EOR marks, CUBIC state, TIME_WAIT records, port buckets; then
 * sk_stack_free must give everything back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "synack/synack.h"

#include "stack.h" /* the IPv6 address table's count */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static int in_engine; /* an sk_* call is running */
static unsigned long strays;

void *__wrap_malloc(size_t n)
{
    strays += in_engine != 0;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    strays += in_engine != 0;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    strays += in_engine != 0;
    return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    strays += in_engine != 0 && p != NULL;
    __real_free(p);
}

/* The counting allocator: a size header in front of each block lets it
 * keep live bytes exactly. */
typedef struct counting {
    unsigned long allocs, frees;
    long live_blocks;
    long long live_bytes, peak_bytes;
    int fail_after; /* >0: the n-th allocation fails (then all succeed) */
} counting;

typedef union hdr {
    size_t size;
    max_align_t align;
} hdr;

static void *c_alloc(counting *c, size_t n, bool zero)
{
    if (c->fail_after > 0 && --c->fail_after == 0)
        return NULL;
    hdr *h = zero ? __real_calloc(1, sizeof(hdr) + n) : __real_malloc(sizeof(hdr) + n);
    if (!h)
        return NULL;
    h->size = n;
    c->allocs++;
    c->live_blocks++;
    c->live_bytes += (long long)n;
    if (c->live_bytes > c->peak_bytes)
        c->peak_bytes = c->live_bytes;
    return h + 1;
}
static void *m_malloc(size_t n, void *u) { return c_alloc(u, n, false); }
static void *m_calloc(size_t n, size_t size, void *u)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return c_alloc(u, n * size, true);
}
static void m_free(void *p, void *u)
{
    counting *c = u;
    if (!p)
        return;
    hdr *h = (hdr *)p - 1;
    c->frees++;
    c->live_blocks--;
    c->live_bytes -= (long long)h->size;
    __real_free(h);
}
static void *m_realloc(void *p, size_t n, void *u)
{
    if (!p)
        return m_malloc(n, u);
    void *q = m_malloc(n, u);
    if (!q)
        return NULL;
    hdr *h = (hdr *)p - 1;
    memcpy(q, p, h->size < n ? h->size : n);
    m_free(p, u);
    return q;
}

/* Two stacks joined by a fixed-size queue; every 7th datagram from A is
 * lost and every 5th swapped with its successor, so recovery, SACK and
 * reassembly all run. */
#define QCAP 4096
typedef struct pkt {
    int to;
    uint16_t len;
    uint8_t data[1600];
} pkt;
static pkt queue[QCAP];
static size_t qhead, qlen;
static unsigned long sent_by[2];

typedef struct host {
    int idx;
    sk_stack *s;
} host;

static bool lossless; /* a test that wants a clean wire sets it */

static void xmit(void *ctx, const uint8_t *d, size_t len)
{
    host *h = ctx;
    unsigned long n = ++sent_by[h->idx];
    if (!lossless && h->idx == 0 && n % 7 == 0 && n > 10)
        return;
    assert_true(qlen < QCAP && len <= sizeof queue[0].data);
    pkt *p = &queue[(qhead + qlen++) % QCAP];
    p->to = 1 - h->idx;
    p->len = (uint16_t)len;
    memcpy(p->data, d, len);
    if (!lossless && h->idx == 0 && n % 5 == 0 && qlen >= 2) {
        pkt tmp = *p;
        pkt *prev = &queue[(qhead + qlen - 2) % QCAP];
        *p = *prev;
        *prev = tmp;
    }
}

static host hosts[2];
static sk_time_ns now_ns = 1000 * SK_NSEC_PER_SEC;

static void deliver(void)
{
    while (qlen) {
        pkt p = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        now_ns += 50 * SK_NSEC_PER_USEC;
        in_engine++;
        sk_input(hosts[p.to].s, p.data, p.len, now_ns);
        in_engine--;
    }
}

static void tick(sk_time_ns step)
{
    deliver();
    now_ns += step;
    for (int i = 0; i < 2; i++) {
        in_engine++;
        sk_advance(hosts[i].s, now_ns);
        in_engine--;
    }
    deliver();
}

static const uint8_t addr6[2][16] = {{0xfd, [15] = 1}, {0xfd, [15] = 2}};

/* Two stacks allocating through `mem` (counted in `c`), on an empty wire. */
static void make_hosts(counting *c, sk_mem *mem)
{
    qhead = qlen = 0;
    sent_by[0] = sent_by[1] = 0;
    *mem = (sk_mem){c, m_malloc, m_calloc, m_realloc, m_free};
    for (int i = 0; i < 2; i++) {
        hosts[i].idx = i;
        sk_stack_params p = {0};
        p.addr = 0x0a000001u + (uint32_t)i;
        p.seed = 42u + (uint64_t)i;
        p.secret[0] = (uint8_t)(7 + i);
        p.now = now_ns;
        p.transmit = xmit;
        p.transmit_ctx = &hosts[i];
        p.mem = mem;
        memcpy(p.addr6, addr6[i], 16);
        in_engine++;
        hosts[i].s = sk_stack_new(&p);
        in_engine--;
        assert_non_null(hosts[i].s);
    }
}

static void count_tw(void *ctx, const sk_sock_info *si)
{
    if (si->state == SK_TCP_TIME_WAIT)
        ++*(size_t *)ctx;
}

static void test_every_allocation_goes_through_mem(void **state)
{
    counting c = {0};
    sk_mem mem;
    make_hosts(&c, &mem);
    sk_stack *a = hosts[0].s, *b = hosts[1].s;
    in_engine++;

    int l = sk_socket(b);
    sk_endpoint lep = {.addr = 0x0a000002u, .port = 8080, .family = SK_AF_INET};
    assert_int_equal(sk_bind(b, l, &lep), 0);
    assert_int_equal(sk_listen(b, l, 16), 0);

    enum { N = 4, BYTES = 300000 };
    int cfd[N], sfd[N];
    static uint8_t buf[65536];
    memset(buf, 0x5a, sizeof buf);
    for (int i = 0; i < N; i++) {
        cfd[i] = sk_socket(a);
        assert_int_equal(sk_connect(a, cfd[i], &lep), -EINPROGRESS);
    }
    in_engine--;
    for (int k = 0; k < 20; k++)
        tick(10 * SK_NSEC_PER_MSEC);
    in_engine++;
    for (int i = 0; i < N; i++) {
        sfd[i] = sk_accept(b, l, NULL);
        assert_true(sfd[i] >= 0);
    }
    size_t sent[N] = {0}, got[N] = {0};
    for (int round = 0; round < 4000; round++) {
        bool done = true;
        for (int i = 0; i < N; i++) {
            if (sent[i] < BYTES) {
                size_t want = BYTES - sent[i] < 3000 ? BYTES - sent[i] : 3000;
                ssize_t n = sk_send(a, cfd[i], buf, want, i == 1 ? SK_MSG_EOR : 0);
                if (n > 0)
                    sent[i] += (size_t)n;
            }
            ssize_t r;
            while ((r = sk_recv(b, sfd[i], buf, sizeof buf, 0)) > 0)
                got[i] += (size_t)r;
            done = done && got[i] == BYTES;
        }
        if (done)
            break;
        in_engine--;
        tick(2 * SK_NSEC_PER_MSEC);
        in_engine++;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(got[i], BYTES);
    /* The loss pattern made the allocating recovery paths run: SACK
     * recovery (scoreboard, RACK records) and reassembly (OFO queue). */
    assert_true(sk_counter(a, "TcpExtTCPSackRecovery") > 0);
    assert_true(sk_counter(a, "TcpRetransSegs") > 0);
    assert_true(sk_counter(b, "TcpExtTCPOFOQueue") > 0);

    for (int i = 0; i < N; i++) {
        assert_int_equal(sk_close(a, cfd[i]), 0); /* both close: TIME_WAIT records follow */
        assert_int_equal(sk_close(b, sfd[i]), 0);
    }
    in_engine--;
    for (int k = 0; k < 50; k++)
        tick(10 * SK_NSEC_PER_MSEC);
    in_engine++;
    size_t tw = 0;
    sk_sockets(a, count_tw, &tw);
    assert_int_equal(tw, N); /* TIME_WAIT records are alive at free time */
    in_engine--;
    assert_true(c.live_blocks > 0);
    assert_true(c.allocs > 100);

    in_engine++;
    sk_stack_free(a);
    sk_stack_free(b);
    in_engine--;
    assert_int_equal(strays, 0);
    assert_int_equal(c.live_blocks, 0);
    assert_int_equal(c.live_bytes, 0);
    assert_int_equal(c.allocs, c.frees);
    print_message("allocations %lu, peak %lld bytes\n", c.allocs, c.peak_bytes);
}

/* The recycle bins (recycle.c) keep freed TCBs, requests and small ring
 * buffers for the next connection, but only while the stack churns: once
 * it has been idle for two trims (a second apart) they are given back, so
 * memory figures count live connections only.  Under AddressSanitizer the
 * bins keep nothing at all. */
#if defined(__SANITIZE_ADDRESS__)
#define BINS_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BINS_KEEP 0
#endif
#endif
#ifndef BINS_KEEP
#define BINS_KEEP 1
#endif

static void test_recycle_bins_shrink_when_idle(void **state)
{
    (void)state;
    counting c = {0};
    sk_mem mem;
    lossless = true;
    make_hosts(&c, &mem);
    sk_stack *a = hosts[0].s, *b = hosts[1].s;
    in_engine++;
    int l = sk_socket(b);
    sk_endpoint lep = {.addr = 0x0a000002u, .port = 8081, .family = SK_AF_INET};
    assert_int_equal(sk_bind(b, l, &lep), 0);
    assert_int_equal(sk_listen(b, l, 64), 0);
    enum { N = 20 };
    int cfd[N], sfd[N];
    uint8_t msg[16] = {1}, got[16];
    for (int i = 0; i < N; i++) {
        cfd[i] = sk_socket(a);
        assert_int_equal(sk_connect(a, cfd[i], &lep), -EINPROGRESS);
    }
    in_engine--;
    tick(SK_NSEC_PER_MSEC);
    in_engine++;
    for (int i = 0; i < N; i++) {
        sfd[i] = sk_accept(b, l, NULL);
        assert_true(sfd[i] >= 0);
        assert_int_equal(sk_send(a, cfd[i], msg, sizeof msg, 0), (ssize_t)sizeof msg);
    }
    in_engine--;
    tick(SK_NSEC_PER_MSEC);
    in_engine++;
    for (int i = 0; i < N; i++) {
        assert_int_equal(sk_recv(b, sfd[i], got, sizeof got, 0), (ssize_t)sizeof got);
        assert_int_equal(sk_close(a, cfd[i]), 0); /* the client keeps TIME_WAIT */
    }
    in_engine--;
    tick(SK_NSEC_PER_MSEC);
    in_engine++;
    for (int i = 0; i < N; i++)
        assert_int_equal(sk_close(b, sfd[i]), 0);
    in_engine--;
    for (int k = 0; k < 5; k++)
        tick(SK_NSEC_PER_MSEC);
    size_t tw = 0;
    sk_sockets(a, count_tw, &tw);
    assert_int_equal(tw, N);
    long churned = c.live_blocks;
    /* Three seconds idle: two trims at least, TIME_WAIT (60 s) untouched. */
    for (int k = 0; k < 30; k++)
        tick(100 * SK_NSEC_PER_MSEC);
    tw = 0;
    sk_sockets(a, count_tw, &tw);
    assert_int_equal(tw, N);
    long idle = c.live_blocks;
    /* What went back: both ends' N TCBs and N RACK records, and 8
     * requests and 8 64-byte ring buffers per stack where the client's
     * send queues and the server's receive queues drained: those bins
     * keep 8 plus what the TCB bin holds, and it was still empty when
     * they were given (the connections closed after).  Under
     * AddressSanitizer no bin keeps anything, RACK's included, so a use
     * after free shows. */
    assert_int_equal(churned - idle, BINS_KEEP ? 2 * N + 2 * N + 8 + 2 * 8 : 0);
    in_engine++;
    sk_stack_free(a);
    sk_stack_free(b);
    in_engine--;
    lossless = false;
    assert_int_equal(strays, 0);
    assert_int_equal(c.live_blocks, 0);
}

/* IPv6 connections hold references to the table of IPv6 addresses:
 * connections, requests and TIME_WAIT records each take theirs and give
 * them back, so once everything ended the table holds the stacks' own
 * addresses only, and an allocation failing anywhere on the way (the
 * table's own included) leaks nothing. */
static int run_v6_exchange(sk_stack *a, sk_stack *b, bool must_work)
{
    int l = sk_socket_family(b, SK_AF_INET6);
    if (l < 0)
        return -1;
    sk_endpoint any = sk_endpoint_ipv6((const uint8_t[16]){0}, 8080);
    if (sk_bind(b, l, &any) != 0 || sk_listen(b, l, 16) != 0) {
        sk_close(b, l);
        return -1;
    }
    enum { N = 3 };
    int cfd[N], sfd[N];
    sk_endpoint srv = sk_endpoint_ipv6(addr6[1], 8080);
    for (int i = 0; i < N; i++) {
        cfd[i] = sk_socket_family(a, SK_AF_INET6);
        int rc = cfd[i] >= 0 ? sk_connect(a, cfd[i], &srv) : -1;
        if (must_work)
            assert_int_equal(rc, -EINPROGRESS);
    }
    in_engine--;
    for (int k = 0; k < 300; k++)
        tick(10 * SK_NSEC_PER_MSEC); /* SYN retransmissions after a failed allocation */
    in_engine++;
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        sfd[i] = sk_accept(b, l, NULL);
        accepted += sfd[i] >= 0;
        if (cfd[i] >= 0) {
            ssize_t n = sk_send(a, cfd[i], "ping", 4, 0);
            if (must_work)
                assert_int_equal(n, 4);
        }
    }
    in_engine--;
    for (int k = 0; k < 20; k++)
        tick(10 * SK_NSEC_PER_MSEC);
    in_engine++;
    if (must_work) {
        /* Every connection carried its 4 bytes (accept order may differ
         * from connect order, and each sent the same). */
        for (int i = 0; i < N; i++) {
            char got[4];
            assert_true(sfd[i] >= 0);
            assert_int_equal(sk_recv(b, sfd[i], got, sizeof got, 0), 4);
            assert_memory_equal(got, "ping", 4);
        }
    }
    for (int i = 0; i < N; i++) {
        if (cfd[i] >= 0)
            sk_close(a, cfd[i]);
        if (sfd[i] >= 0)
            sk_close(b, sfd[i]);
    }
    sk_close(b, l);
    in_engine--;
    for (int k = 0; k < 70; k++)
        tick(SK_NSEC_PER_SEC); /* past TIME_WAIT's 60 s */
    in_engine++;
    return accepted;
}

static void test_ipv6_address_references_return(void **state)
{
    counting c = {0};
    sk_mem mem;
    make_hosts(&c, &mem);
    sk_stack *a = hosts[0].s, *b = hosts[1].s;
    assert_int_equal(a->a6.count, 1);
    in_engine++;
    assert_int_equal(run_v6_exchange(a, b, true), 3);
    assert_true(sk_counter(a, "Ip6OutRequests") > 0);
    /* every connection, request and record is gone, and its references */
    assert_int_equal(sk_sockets(a, count_tw, &(size_t){0}), 0);
    assert_int_equal(a->a6.count, 1);
    assert_int_equal(b->a6.count, 1);
    sk_stack_free(a);
    sk_stack_free(b);
    in_engine--;
    assert_int_equal(strays, 0);
    assert_int_equal(c.live_blocks, 0);

    /* The same with the k-th allocation after start failing. */
    for (int k = 1; k <= 80; k++) {
        counting ck = {0};
        make_hosts(&ck, &mem);
        a = hosts[0].s;
        b = hosts[1].s;
        ck.fail_after = k;
        in_engine++;
        run_v6_exchange(a, b, false);
        assert_int_equal(a->a6.count, 1);
        assert_int_equal(b->a6.count, 1);
        sk_stack_free(a);
        sk_stack_free(b);
        in_engine--;
        assert_int_equal(ck.live_blocks, 0);
    }
    assert_int_equal(strays, 0);
}

/* Allocation failure anywhere in sk_stack_new leaves nothing behind. */
static void test_stack_new_failures_leak_nothing(void **state)
{
    for (int k = 1; k < 10; k++) {
        counting c = {0};
        c.fail_after = k;
        sk_mem mem = {&c, m_malloc, m_calloc, m_realloc, m_free};
        sk_stack_params p = {0};
        p.addr = 0x0a000001u;
        p.transmit = xmit;
        p.transmit_ctx = &hosts[0];
        p.mem = &mem;
        in_engine++;
        sk_stack *s = sk_stack_new(&p);
        if (s)
            sk_stack_free(s);
        in_engine--;
        assert_int_equal(c.live_blocks, 0);
    }
    assert_int_equal(strays, 0);
}

/* An allocator missing a function is refused, not called through NULL. */
static void test_incomplete_mem_refused(void **state)
{
    counting c = {0};
    sk_mem mem = {&c, m_malloc, m_calloc, NULL, m_free};
    sk_stack_params p = {0};
    p.addr = 0x0a000001u;
    p.transmit = xmit;
    p.mem = &mem;
    assert_null(sk_stack_new(&p));
    assert_int_equal(c.allocs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_goes_through_mem),
        cmocka_unit_test(test_stack_new_failures_leak_nothing),
        cmocka_unit_test(test_recycle_bins_shrink_when_idle),
        cmocka_unit_test(test_ipv6_address_references_return),
        cmocka_unit_test(test_incomplete_mem_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
