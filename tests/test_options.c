/*
 * A malformed TCP option (length 0 or 1, or running past the header) ends
 * the option walk but not the segment, as Linux's tcp_parse_options
 * returns with what it parsed: the SYN is answered, the data delivered,
 * and nothing is counted as an error.
 */
#include <string.h>

#include "harness.h"

/* An option of kind 254 with length 1, after a valid MSS. */
static const uint8_t bad_opts[8] = {SK_TCPOPT_MSS, 4, 0x03, 0xe8, SK_TCPOPT_NOP, 254, 1, 0};

static void test_syn_with_option_of_length_one_is_answered(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 16);
    sk_segment_spec syn;
    memset(&syn, 0, sizeof syn);
    syn.src = SK_TEST_CLIENT_ADDR;
    syn.dst = SK_TEST_SERVER_ADDR;
    syn.sport = 5555;
    syn.dport = 80;
    syn.seq = 1000;
    syn.flags = SK_TH_SYN;
    syn.window = 65535;
    syn.options = bad_opts;
    syn.options_len = sizeof bad_opts;
    size_t mark = f->trace_len;
    sk_test_inject(f, &syn);
    sk_test_run_for(f, MSEC(1));
    /* Answered, with the MSS parsed before the bad option honoured. */
    assert_int_equal(sk_test_count(f, mark, "s>c S. ack 1001 abs"), 1);
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 1);
    assert_int_equal(sk_counter(f->server, "InErrs"), 0);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 0); /* counted when established */
}

static void test_data_with_option_of_length_zero_is_delivered(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    const sk_trace_entry *ack = sk_test_last(f, "c>s .");
    assert_non_null(ack);
    static const uint8_t zero_len[4] = {SK_TCPOPT_NOP, SK_TCPOPT_NOP, 254, 0};
    sk_segment_spec d;
    memset(&d, 0, sizeof d);
    d.src = SK_TEST_CLIENT_ADDR;
    d.dst = SK_TEST_SERVER_ADDR;
    d.sport = p.cport;
    d.dport = 80;
    d.seq = ack->seg.seq;
    d.ack = ack->seg.ack;
    d.flags = SK_TH_ACK | SK_TH_PSH;
    d.window = ack->seg.window;
    d.options = zero_len;
    d.options_len = sizeof zero_len;
    d.payload = (const uint8_t *)"hello";
    d.payload_len = 5;
    size_t mark = f->trace_len;
    sk_test_inject(f, &d);
    sk_test_run_for(f, MSEC(100));
    char buf[16];
    assert_int_equal(sk_recv(f->server, p.sfd, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_non_null(sk_test_find(f, mark, "s>c . ack 6"));
    assert_int_equal(sk_counter(f->server, "InErrs"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_syn_with_option_of_length_one_is_answered, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_data_with_option_of_length_zero_is_delivered, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
