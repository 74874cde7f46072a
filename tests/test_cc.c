/*
 * Congestion control (cc.c): CUBIC as RFC 9438 defines it and Linux's
 * tcp_cubic runs it, Reno still selectable.  The engine-level tests drive
 * cc.c's hooks directly on a TCB in virtual time, so every window is the
 * consequence of a known ACK sequence; expected values come from the RFC's
 * formulas computed here.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "harness.h"
#include "cc.h"
#include "stack.h"

#define MSS 1000u
#define BETA (717.0 / 1024.0) /* RFC 9438 §4.6 as Linux rounds it */
#define C_CUBIC (410.0 / 1024.0) /* RFC 9438 §5.1's 0.4 as Linux scales it */

static void no_tx(void *ctx, const uint8_t *d, size_t len)
{
    (void)ctx;
    (void)d;
    (void)len;
}

typedef struct cc_env {
    sk_stack *s;
    sk_tcb *t;
} cc_env;

/* A TCB in congestion avoidance or slow start with cwnd the only limit
 * (always cwnd-limited), its clock at 1000 s. */
static cc_env env_new(const char *algo)
{
    sk_stack_params p;
    memset(&p, 0, sizeof p);
    p.addr = 0x0a000001;
    p.transmit = no_tx;
    p.now = 1000 * SK_NSEC_PER_SEC;
    cc_env e;
    e.s = sk_stack_new(&p);
    assert_non_null(e.s);
    char err[128];
    assert_int_equal(sk_sysctl_set(e.s, "net.ipv4.tcp_congestion_control", algo, err, sizeof err), 0);
    e.t = sk_tcb_alloc(e.s);
    assert_non_null(e.t);
    e.t->mss = MSS;
    e.t->iss = 0;
    e.t->snd_una = e.t->snd_nxt = 1;
    sk_cc_init(e.s, e.t);
    e.t->xflags |= SK_X_CWND_LIMITED;
    return e;
}

static void env_free(cc_env *e)
{
    sk_tcb_free(e->s, e->t);
    sk_stack_free(e->s);
}

/* One ACK for `segs` segments at absolute time `at`, with an RTT sample
 * (or -1 for none), as process_ack calls the hooks. */
static void ack_at(cc_env *e, sk_time_ns at, uint32_t segs, int64_t rtt_us)
{
    e->s->now = at;
    e->t->snd_una += segs * MSS;
    e->t->snd_nxt = e->t->snd_una + e->t->cwnd * MSS;
    sk_cc_pkts_acked(e->s, e->t, segs * MSS, rtt_us);
    sk_cc_on_ack(e->s, e->t, segs * MSS);
}

/* A loss as fast recovery sees it: ssthresh from the algorithm, cwnd
 * deflated to it at the end. */
static void loss(cc_env *e)
{
    e->t->ssthresh = sk_cc_ssthresh(e->s, e->t);
    e->t->cwnd = e->t->ssthresh;
    e->t->cwnd_cnt = 0;
}

/* ---- selection --------------------------------------------------- */

static void test_cubic_is_the_default_and_reno_selectable(void **state)
{
    sk_fixture *f = *state;
    char name[16];
    size_t len = sizeof name;
    int fd = sk_socket(f->client);
    assert_int_equal(sk_getsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "cubic");
    assert_int_equal(sk_setsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, "reno", 4), 0);
    len = sizeof name;
    assert_int_equal(sk_getsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "reno");
    /* Linux: ENOENT for an algorithm it does not have; the choice stays. */
    assert_int_equal(sk_setsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, "bbr", 3), -ENOENT);
    len = sizeof name;
    assert_int_equal(sk_getsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "reno");

    /* The sysctl decides for sockets created after it. */
    sk_test_sysctl(f->client, "net.ipv4.tcp_congestion_control", "reno");
    int fd2 = sk_socket(f->client);
    len = sizeof name;
    assert_int_equal(sk_getsockopt(f->client, fd2, SK_IPPROTO_TCP, SK_TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "reno");
    len = sizeof name;
    assert_int_equal(sk_getsockopt(f->client, fd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "reno");
    sk_close(f->client, fd);
    sk_close(f->client, fd2);
}

/* A child runs its listener's algorithm, as Linux's clone keeps it. */
static void test_accepted_socket_inherits_listener_choice(void **state)
{
    sk_fixture *f = *state;
    int lfd = sk_test_listen(f, f->server, 80, 16);
    assert_int_equal(sk_setsockopt(f->server, lfd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, "reno", 4), 0);
    sk_conn_pair p = sk_test_establish(f, 80);
    char name[16];
    size_t len = sizeof name;
    assert_int_equal(sk_getsockopt(f->server, p.sfd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "reno");
    len = sizeof name;
    assert_int_equal(sk_getsockopt(f->client, p.cfd, SK_IPPROTO_TCP, SK_TCP_CONGESTION, name, &len), 0);
    assert_string_equal(name, "cubic");
}

/* ---- multiplicative decrease ------------------------------------ */

/* RFC 9438 §4.6: ssthresh = cwnd × beta_cubic; §4.7 fast convergence:
 * a loss below the previous W_max remembers W_max = cwnd × (1 + β) / 2. */
static void test_cubic_ssthresh_beta_and_fast_convergence(void **state)
{
    cc_env e = env_new("cubic");
    e.t->cwnd = 100;
    e.t->ssthresh = 100;
    loss(&e);
    assert_int_equal(e.t->ssthresh, (uint32_t)floor(100 * BETA)); /* 70 */
    assert_int_equal(e.t->cubic->w_max, 100);

    e.t->cwnd = 80; /* below W_max: the flow is yielding to a newcomer */
    loss(&e);
    assert_int_equal(e.t->ssthresh, (uint32_t)floor(80 * BETA)); /* 56 */
    assert_int_equal(e.t->cubic->w_max, (uint32_t)floor(80 * (1 + BETA) / 2)); /* 68 */

    e.t->cwnd = 2; /* never below two segments */
    loss(&e);
    assert_int_equal(e.t->ssthresh, 2);
    env_free(&e);
}

static void test_reno_ssthresh_halves_cwnd(void **state)
{
    cc_env e = env_new("reno");
    e.t->cwnd = 100;
    e.t->ssthresh = 100;
    loss(&e);
    assert_int_equal(e.t->ssthresh, 50);
    assert_null(e.t->cubic);
    /* Reno's congestion avoidance: one segment per window ACKed. */
    for (int i = 0; i < 49; i++)
        ack_at(&e, e.s->now + SK_MS(1), 1, 1000);
    assert_int_equal(e.t->cwnd, 50);
    ack_at(&e, e.s->now + SK_MS(1), 1, 1000);
    assert_int_equal(e.t->cwnd, 51);
    env_free(&e);
}

/* ---- the cubic curve -------------------------------------------- */

/* RFC 9438 §4.2, eq. 1 and 2. */
static double w_cubic(double t, double k, double w_max) { return C_CUBIC * pow(t - k, 3) + w_max; }

/* After a loss at W_max = 100 with a 100 ms RTT, ACKed one segment at a
 * time and evenly over each round: cwnd follows W_cubic(t + RTT) (§4.2's
 * target), concave up to K, flat around W_max, convex after. */
static void test_cubic_follows_the_curve_in_virtual_time(void **state)
{
    cc_env e = env_new("cubic");
    const sk_time_ns rtt = SK_MS(100);
    e.t->cwnd = 100;
    e.t->ssthresh = 100;
    ack_at(&e, e.s->now, 1, 100000); /* min RTT known before the loss */
    loss(&e);
    assert_int_equal(e.t->cwnd, 70);
    const double w_max = 100;
    const double k = cbrt((w_max - 70) / C_CUBIC); /* §4.2 eq. 2: 4.217 s */

    sk_time_ns epoch = e.s->now + SK_MS(1);
    bool plateau_seen = false;
    for (int round = 0; round < 80; round++) {
        uint32_t n = e.t->cwnd;
        for (uint32_t i = 0; i < n; i++)
            ack_at(&e, epoch + (sk_time_ns)round * rtt + (sk_time_ns)i * rtt / n, 1, 100000);
        double t = (double)(round + 1) * 0.1; /* seconds since the epoch */
        /* Per-ACK increments of (target - cwnd) / cwnd (§4.4) put cwnd,
         * at the end of a round, between the curve now and the curve one
         * RTT ahead, give or take a segment of integer rounding. */
        assert_true((double)e.t->cwnd >= w_cubic(t, k, w_max) - 1.0);
        assert_true((double)e.t->cwnd <= w_cubic(t + 0.1, k, w_max) + 1.0);
        if (fabs(t + 0.1 - k) < 1.0) {
            /* Within a second of K the curve is within 0.4 segment of
             * W_max: the window sits exactly at W_max. */
            assert_int_equal(e.t->cwnd, 100);
            plateau_seen = true;
        }
    }
    assert_true(plateau_seen);
    /* Eight seconds in, well into the convex region. */
    assert_true(e.t->cwnd > 110);
    assert_int_equal(e.t->cubic->k, (uint32_t)floor(k * 1024)); /* K in 1/1024 s */
    env_free(&e);
}

/* RFC 9438 §4.3: with a short RTT the Reno estimate
 * W_est = cwnd_epoch + alpha_cubic × rounds outruns the curve, and cwnd
 * follows W_est.  40 ms rounds: longer than Linux's HZ/32 between curve
 * updates, so W_est is brought up to date every round. */
static void test_cubic_reno_friendly_region(void **state)
{
    cc_env e = env_new("cubic");
    e.t->cwnd = 20;
    e.t->ssthresh = 20;
    ack_at(&e, e.s->now, 1, 40000);
    loss(&e);
    assert_int_equal(e.t->cwnd, 14);
    const double alpha = 3 * (1 - BETA) / (1 + BETA); /* 0.53 */
    sk_time_ns epoch = e.s->now + SK_MS(1);
    const int rounds = 50;
    const sk_time_ns rtt = SK_MS(40);
    for (int round = 0; round < rounds; round++) {
        uint32_t n = e.t->cwnd;
        for (uint32_t i = 0; i < n; i++)
            ack_at(&e, epoch + (sk_time_ns)round * rtt + (sk_time_ns)i * rtt / n, 1, 40000);
        /* cwnd trails W_est by less than two segments: one of rounding
         * down, up to one still being counted. */
        double w_est = 14 + (round + 1) * alpha;
        assert_true((double)e.t->cwnd <= w_est + 0.5);
        assert_true((double)e.t->cwnd > w_est - 2.0);
    }
    /* The curve would still be below W_max (K = 2.45 s) ... */
    double k = cbrt((20 - 14) / C_CUBIC);
    assert_true(w_cubic(2.0, k, 20) < 20);
    /* ... but Reno would be at 14 + 0.53 × 50 = 40.5; Linux counts alpha
     * as 8/15 per window, and cwnd trails W_est by up to a segment. */
    double w_est = 14 + rounds * alpha;
    assert_true((double)e.t->cwnd > w_est - 2.0);
    assert_true((double)e.t->cwnd > w_cubic(2.0, k, 20) + 15);
    env_free(&e);
}

/* ---- slow start, RTO, HyStart ------------------------------------ */

/* Before any loss (no W_max) Linux grows by at most one segment per 20
 * ACKed; an RTO forgets W_max (Linux resets CUBIC on entering Loss), so
 * after it the flow is back in that regime: the conformance script
 * cubic-rto-ss-ca-cwnd-bump checks the same on the wire. */
static void test_cubic_rto_forgets_w_max(void **state)
{
    cc_env e = env_new("cubic");
    e.t->cwnd = 10;
    e.t->ssthresh = 10;
    ack_at(&e, e.s->now, 1, 100000);
    sk_cc_on_rto(e.s, e.t);
    assert_int_equal(e.t->cwnd, 1);
    assert_int_equal(e.t->ssthresh, 7); /* 10 × 0.7 */
    assert_int_equal(e.t->cubic->w_max, 0);
    /* Slow start to ssthresh, one ACK per segment. */
    sk_time_ns now = e.s->now;
    for (int i = 0; i < 6; i++)
        ack_at(&e, now += SK_MS(2), 1, 100000);
    assert_int_equal(e.t->cwnd, 7);
    /* Congestion avoidance, ACKs 1 ms apart: the curve is flat at the
     * origin (cwnd), so the cap decides: the 20th ACK adds a segment. */
    for (int i = 0; i < 19; i++)
        ack_at(&e, now += SK_MS(1), 1, 100000);
    assert_int_equal(e.t->cwnd, 7);
    ack_at(&e, now += SK_MS(1), 1, 100000);
    assert_int_equal(e.t->cwnd, 8);
    env_free(&e);
}

/* HyStart's ACK train: once cwnd >= 16 in slow start, ACKs arriving at
 * most 2 ms apart for longer than half the minimum RTT end slow start
 * with ssthresh = cwnd. */
static void test_hystart_ack_train_ends_slow_start(void **state)
{
    cc_env e = env_new("cubic");
    sk_time_ns now = e.s->now;
    ack_at(&e, now, 1, 10000); /* min RTT 10 ms */
    assert_int_equal(e.t->cwnd, 11);
    for (int i = 0; i < 5; i++)
        ack_at(&e, now += SK_MS(10), 1, 10000); /* spaced: no train */
    assert_int_equal(e.t->cwnd, 16);
    assert_int_equal(e.t->ssthresh, 0x7fffffff);
    /* The round starts at the first ACK with cwnd >= 16; at 1 ms apart the
     * train exceeds 5 ms on its seventh ACK, when cwnd is 22. */
    sk_time_ns start = now + SK_MS(10);
    for (int i = 0; i < 6; i++)
        ack_at(&e, start + (sk_time_ns)i * SK_MS(1), 1, 10000);
    assert_int_equal(e.t->ssthresh, 0x7fffffff);
    assert_int_equal(e.t->cwnd, 22);
    ack_at(&e, start + SK_MS(6), 1, 10000);
    assert_int_equal(e.t->ssthresh, 22);
    assert_int_equal(e.t->cwnd, 22);
    env_free(&e);
}

/* HyStart's delay signal: after eight samples in a round, a smallest RTT
 * above min_rtt + clamp(min_rtt / 8, 4 ms, 16 ms) ends slow start. */
static void test_hystart_delay_ends_slow_start(void **state)
{
    cc_env e = env_new("cubic");
    sk_time_ns now = e.s->now;
    ack_at(&e, now, 6, 100000); /* min RTT 100 ms, cwnd 16 */
    assert_int_equal(e.t->cwnd, 16);
    /* 3 ms apart: no ACK train.  112.5 ms is exactly the threshold. */
    for (int i = 0; i < 9; i++)
        ack_at(&e, now += SK_MS(3), 1, 112500);
    assert_int_equal(e.t->ssthresh, 0x7fffffff);
    ack_at(&e, now += SK_MS(3), 1, 112501);
    assert_int_equal(e.t->ssthresh, 0x7fffffff); /* the round's minimum is still 112.5 */
    /* A new round (snd_una passed its end), all samples too high. */
    e.t->snd_una = e.t->snd_nxt;
    for (int i = 0; i < 8; i++)
        ack_at(&e, now += SK_MS(3), 1, 113000);
    assert_int_equal(e.t->ssthresh, 0x7fffffff);
    uint32_t cwnd = e.t->cwnd;
    ack_at(&e, now += SK_MS(3), 1, 113000);
    assert_int_equal(e.t->ssthresh, cwnd);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cubic_is_the_default_and_reno_selectable, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_accepted_socket_inherits_listener_choice, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test(test_cubic_ssthresh_beta_and_fast_convergence),
        cmocka_unit_test(test_reno_ssthresh_halves_cwnd),
        cmocka_unit_test(test_cubic_follows_the_curve_in_virtual_time),
        cmocka_unit_test(test_cubic_reno_friendly_region),
        cmocka_unit_test(test_cubic_rto_forgets_w_max),
        cmocka_unit_test(test_hystart_ack_train_ends_slow_start),
        cmocka_unit_test(test_hystart_delay_ends_slow_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
