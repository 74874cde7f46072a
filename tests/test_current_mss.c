/*
 * SACK blocks take option space from the payload (Linux's
 * tcp_current_mss()): a segment that carries them still fits the MTU.
 * Found by fuzz/fuzz_input.c (fuzz/regress/input/sack_blocks_overflow_mtu):
 * a stack holding out-of-order data sent 1448-byte payloads with 12 bytes
 * of timestamps and 12 of SACK options, 1512-byte datagrams on a
 * 1500-byte link.  A retransmission of a segment first sent without
 * SACK blocks is cut to the current MSS and its tail resent on its own
 * (tcp_retransmit_skb() fragments it), not counted as resent.
 */
#include <string.h>

#include "harness.h"

/* Every datagram on the wire fits the 1500-byte MTU. */
static void assert_all_fit(const sk_fixture *f)
{
    for (size_t i = 0; i < f->trace_len; i++)
        if (f->trace[i].len > 1500)
            fail_msg("datagram %zu is %zu bytes", i, f->trace[i].len);
}

/* The server holds the client's second and third segments out of order
 * (the first is lost) when it writes: its data segments carry one SACK
 * block (4 + 8 option bytes), so each holds 1448 - 12 = 1436 bytes. */
static void test_data_with_sack_blocks_fits_the_mtu(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    static const char data[3000];
    sk_test_skip(f);
    sk_test_drop(f, "c>s * seq 1:1449", 1);
    assert_int_equal(sk_send(f->client, p.cfd, data, sizeof data, 0), (ssize_t)sizeof data);
    sk_test_run_for(f, MSEC(11)); /* the client's segments are in */
    assert_int_equal(sk_send(f->server, p.sfd, data, sizeof data, 0), (ssize_t)sizeof data);
    sk_test_run_for(f, MSEC(1));
    EXPECT_EVENTUALLY(f, "s>c . seq 1:1437 ack 1 len 1436");
    /* Two skbs of two segments' goal: PSH ends the first TSO packet and
     * the write, as without SACK blocks (tcp_push, tso_fragment). */
    EXPECT_SEGMENTS(f, "s>c P. seq 1437:2873 ack 1 len 1436", "s>c P. seq 2873:3001 ack 1 len 128");
    sk_test_run_for(f, SEC(2));
    assert_all_fit(f);
}

/* Both sides lose their first segment at once, so each retransmits it
 * while holding the other's later segments out of order: the resent
 * 1448 bytes do not fit beside a SACK block, so 1436 go first and the
 * last 12 after, each once. */
static void test_retransmission_cut_to_the_current_mss(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    static const char data[3000];
    sk_test_skip(f);
    sk_test_drop(f, "c>s * seq 1:1449", 1);
    sk_test_drop(f, "s>c * seq 1:1449", 1);
    assert_int_equal(sk_send(f->client, p.cfd, data, sizeof data, 0), (ssize_t)sizeof data);
    assert_int_equal(sk_send(f->server, p.sfd, data, sizeof data, 0), (ssize_t)sizeof data);
    sk_test_run_for(f, SEC(2));
    const sk_trace_entry *head = sk_test_find(f, f->cursor, "s>c * seq 1:1437 len 1436");
    assert_non_null(head);
    assert_int_equal(head->seg.opts.sack_count, 1);
    assert_int_equal(sk_test_count(f, f->cursor, "s>c * seq 1:1437"), 1);
    assert_int_equal(sk_test_count(f, f->cursor, "s>c * seq 1437:1449 len 12"), 1);
    assert_int_equal(sk_test_count(f, f->cursor, "s>c * seq 1:1449"), 1); /* the lost original only */
    char buf[4000];
    assert_int_equal(sk_recv(f->client, p.cfd, buf, sizeof buf, 0), 3000);
    assert_int_equal(sk_recv(f->server, p.sfd, buf, sizeof buf, 0), 3000);
    assert_all_fit(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_data_with_sack_blocks_fits_the_mtu, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_retransmission_cut_to_the_current_mss, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
