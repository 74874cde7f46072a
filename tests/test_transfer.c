/*
 * Bulk data: a stream arrives byte-exact over a clean link and over one
 * that loses, duplicates and reorders segments in both directions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MIB (1024 * 1024)

static void close_both_and_finish(sk_fixture *f, const sk_conn_pair *p)
{
    assert_int_equal(sk_close(f->client, p->cfd), 0);
    ASSERT_RUN_UNTIL_STATE(f, f->server, p->sfd, SK_TCP_CLOSE_WAIT, SEC(60));
    char buf[16];
    assert_int_equal(sk_recv(f->server, p->sfd, buf, sizeof buf, 0), 0);
    assert_int_equal(sk_close(f->server, p->sfd), 0);
    sk_test_run_for(f, SEC(30));
    assert_int_equal(sk_test_tuple_state(f->client, p->cport, SK_TEST_SERVER_ADDR, 80),
                     SK_TCP_TIME_WAIT);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, p->cport), 0);
    assert_int_equal(sk_counter(f->client, "CurrEstab"), 0);
    assert_int_equal(sk_counter(f->server, "CurrEstab"), 0);
}

static void test_1mib_each_way_over_clean_link(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, MIB, SEC(60)), MIB);
    assert_int_equal(sk_test_transfer(f, f->server, p.sfd, f->client, p.cfd, MIB, SEC(60)), MIB);
    assert_int_equal(sk_counter(f->client, "RetransSegs"), 0);
    assert_int_equal(sk_counter(f->server, "RetransSegs"), 0);

    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(f->client, p.cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    assert_int_equal(ti.tcpi_state, SK_TCP_ESTABLISHED);
    assert_int_equal(ti.tcpi_bytes_acked, MIB + 1);      /* + the SYN, as Linux counts */
    assert_int_equal(ti.tcpi_bytes_received, MIB);
    assert_int_equal(ti.tcpi_total_retrans, 0);
    close_both_and_finish(f, &p);
}

static void run_impaired_transfer(uint64_t seed)
{
    sk_fixture_opts o;
    memset(&o, 0, sizeof o);
    o.seed = seed;
    sk_fixture *f = sk_test_fixture_new(&o);
    sk_conn_pair p = sk_test_establish(f, 80);

    sk_link_params bad;
    memset(&bad, 0, sizeof bad);
    bad.loss = 0.05;
    bad.duplicate = 0.05;
    bad.reorder = 0.05;
    sk_test_set_link(f, 0, 0, &bad);

    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, MIB, SEC(600)), MIB);
    assert_int_equal(sk_test_transfer(f, f->server, p.sfd, f->client, p.cfd, MIB, SEC(600)), MIB);
    /* The impairments really happened and were repaired. */
    size_t lost = 0;
    for (size_t i = 0; i < f->trace_len; i++)
        lost += f->trace[i].fate == SK_WIRE_LOST;
    assert_true(lost > 0);
    assert_true(sk_counter(f->client, "RetransSegs") > 0);
    assert_true(sk_counter(f->server, "RetransSegs") > 0);
    assert_int_equal(sk_state(f->client, p.cfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(f->server, p.sfd), SK_TCP_ESTABLISHED);

    sk_link_params good;
    memset(&good, 0, sizeof good);
    sk_test_set_link(f, 0, 0, &good);
    close_both_and_finish(f, &p);
    sk_test_fixture_free(f);
}

static void test_1mib_each_way_through_loss_duplication_reordering(void **state)
{
    (void)state;
    run_impaired_transfer(1);
}

static void test_1mib_each_way_through_impairments_other_seeds(void **state)
{
    (void)state;
    run_impaired_transfer(7);
    run_impaired_transfer(20240601);
}

/* Both directions at once through the impaired link. */
struct duplex {
    sk_fixture *f;
    sk_conn_pair p;
    size_t sent[2], got[2];
    bool bad;
    uint8_t buf[8192];
};

static void duplex_side(struct duplex *d, int dir)
{
    sk_stack *tx = dir ? d->f->server : d->f->client;
    sk_stack *rx = dir ? d->f->client : d->f->server;
    int txfd = dir ? d->p.sfd : d->p.cfd;
    int rxfd = dir ? d->p.cfd : d->p.sfd;
    while (d->sent[dir] < MIB) {
        size_t n = MIB - d->sent[dir];
        if (n > sizeof d->buf)
            n = sizeof d->buf;
        for (size_t i = 0; i < n; i++)
            d->buf[i] = sk_test_pattern(d->sent[dir] + i + (size_t)dir * 77);
        ssize_t w = sk_send(tx, txfd, d->buf, n, 0);
        if (w <= 0)
            break;
        d->sent[dir] += (size_t)w;
    }
    for (;;) {
        ssize_t r = sk_recv(rx, rxfd, d->buf, sizeof d->buf, 0);
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (d->buf[i] != sk_test_pattern(d->got[dir] + (size_t)i + (size_t)dir * 77))
                d->bad = true;
        d->got[dir] += (size_t)r;
    }
}

static bool duplex_done(void *ctx)
{
    struct duplex *d = ctx;
    duplex_side(d, 0);
    duplex_side(d, 1);
    return d->bad || (d->got[0] == MIB && d->got[1] == MIB);
}

static void test_1mib_both_directions_at_once_through_impairments(void **state)
{
    sk_fixture *f = *state;
    struct duplex *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->f = f;
    d->p = sk_test_establish(f, 80);
    sk_link_params bad;
    memset(&bad, 0, sizeof bad);
    bad.loss = 0.05;
    bad.duplicate = 0.05;
    bad.reorder = 0.05;
    bad.jitter = MSEC(2);
    sk_test_set_link(f, 0, 0, &bad);
    assert_true(sk_test_run_until_pred(f, duplex_done, d, SEC(600)));
    assert_false(d->bad);
    assert_int_equal(d->got[0], MIB);
    assert_int_equal(d->got[1], MIB);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_1mib_each_way_over_clean_link, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test(test_1mib_each_way_through_loss_duplication_reordering),
        cmocka_unit_test(test_1mib_each_way_through_impairments_other_seeds),
        cmocka_unit_test_setup_teardown(test_1mib_both_directions_at_once_through_impairments,
                                        sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
