/*
 * SACK as Linux sends and reads it: blocks in recency order (RFC 2018 §4),
 * D-SACK for duplicates (RFC 2883) sent once and recognised on receipt,
 * and reordering measured only from real reordering
 * (tcp_check_sack_reordering), never from in-order cumulative ACKs.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define MIB (1024 * 1024)

static struct sk_tcp_info tcp_info(sk_stack *s, int fd)
{
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(s, fd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    return ti;
}

/* Linux takes prior_fack before SND.UNA moves (tcp_ack), so an in-order
 * cumulative ACK is no evidence of reordering: over a clean link every
 * reordering figure keeps its initial value. */
static void test_clean_transfer_sees_no_reordering(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 4 * MIB, SEC(60)), 4 * MIB);
    struct sk_tcp_info ti = tcp_info(f->client, p.cfd);
    assert_true(ti.tcpi_options & SK_TCPI_OPT_SACK);
    assert_int_equal(ti.tcpi_total_retrans, 0);
    assert_int_equal(ti.tcpi_reord_seen, 0);
    assert_int_equal(ti.tcpi_reordering, 3);
    assert_int_equal(sk_counter(f->client, "TCPSACKReorder"), 0);
    assert_int_equal(sk_counter(f->server, "TCPSACKReorder"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_transfer_sees_no_reordering, sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
