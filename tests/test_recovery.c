/*
 * Loss detection and recovery as Linux does them (tcp_recovery=1): RACK
 * (RFC 8985) with its reordering timer, SACK counted in whole segments,
 * PRR (RFC 6937), and limited transmit without SACK (RFC 3042).  The test
 * plays the server by hand: the real one never sees the client's data.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "scripted_peer.h"

static void expect_sent(sk_test_peer *pr, size_t mark, uint32_t start, uint32_t end)
{
    char desc[64];
    snprintf(desc, sizeof desc, "c>s * seq %u:%u", start, end);
    assert_non_null(sk_test_find(pr->f, mark, desc));
}

static size_t data_segments(sk_test_peer *pr, size_t mark)
{
    return sk_test_count(pr->f, mark, "c>s *") - sk_test_count(pr->f, mark, "c>s * len 0");
}

/* RFC 8985 §6.2: a SACK of the last segment alone does not make the
 * earlier ones lost at once; the reordering timer does once RTT + reo_wnd
 * has passed since they were sent.  Then recovery starts with one
 * retransmission (PRR's forced fast retransmit). */
static void test_rack_reordering_timer_retransmits_head(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 4);
    size_t mark = pr.f->trace_len;
    uint32_t sack[] = {3 * m + 1, 4 * m + 1};
    sk_test_peer_ack(&pr, 1, sack, 1);
    sk_test_run_for(pr.f, MSEC(1));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 1); /* Disorder */
    assert_int_equal(ti.tcpi_sacked, 1);
    assert_int_equal(ti.tcpi_lost, 0);
    assert_int_equal(data_segments(&pr, mark), 0);

    sk_test_run_for(pr.f, MSEC(100));
    ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 3); /* Recovery */
    assert_int_equal(ti.tcpi_lost, 3);
    assert_int_equal(ti.tcpi_retrans, 1);
    expect_sent(&pr, mark, 1, m + 1);
    assert_int_equal(data_segments(&pr, mark), 1);
}

/* With dupthresh segments SACKed and no reordering seen, reo_wnd is 0:
 * everything sent before the SACKed segments is lost at once. */
static void test_rack_three_sacked_marks_lost_without_waiting(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 10);
    size_t mark = pr.f->trace_len;
    uint32_t s1[] = {m + 1, 2 * m + 1};
    uint32_t s2[] = {m + 1, 3 * m + 1};
    uint32_t s3[] = {m + 1, 4 * m + 1};
    sk_test_peer_ack(&pr, 1, s1, 1);
    sk_test_peer_ack(&pr, 1, s2, 1);
    sk_test_peer_ack(&pr, 1, s3, 1);
    sk_test_run_for(pr.f, MSEC(11));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 3);
    assert_int_equal(ti.tcpi_sacked, 3);
    assert_int_equal(ti.tcpi_lost, 1);
    assert_int_equal(ti.tcpi_reordering, 3);
    expect_sent(&pr, mark, 1, m + 1);
    assert_int_equal(data_segments(&pr, mark), 1);
}

/* A SACK below one already received measures reordering
 * (tcp_check_sack_reordering): the distance in segments. */
static void test_sack_below_highest_raises_reordering(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 10);
    uint32_t s1[] = {7 * m + 1, 8 * m + 1};
    uint32_t s2[] = {2 * m + 1, 3 * m + 1, 7 * m + 1, 8 * m + 1};
    sk_test_peer_ack(&pr, 1, s1, 1);
    sk_test_peer_ack(&pr, 1, s2, 2);
    sk_test_run_for(pr.f, MSEC(11));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_reordering, 6);
    assert_int_equal(ti.tcpi_reord_seen, 1);
    assert_int_equal(ti.tcpi_sacked, 2);
}

/* Linux splits skbs only at MSS boundaries: a SACK of the last byte of a
 * segment SACKs nothing, and the connection stays Open. */
static void test_partial_segment_sack_counts_nothing(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 4);
    uint32_t sack[] = {4 * m, 4 * m + 1};
    sk_test_peer_ack(&pr, 1, sack, 1);
    sk_test_run_for(pr.f, MSEC(11));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 0);
    assert_int_equal(ti.tcpi_sacked, 0);
}

/* RFC 3042 without SACK, as Linux's tcp_add_reno_sack: each of the first
 * two duplicate ACKs takes a segment out of the pipe, so a new one goes. */
static void test_limited_transmit_without_sack(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, false);
    uint32_t m = pr.mss;
    static uint8_t data[15 * 1460];
    assert_int_equal(sk_send(pr.f->client, pr.p.cfd, data, 15u * m, 0), (ssize_t)(15u * m));
    sk_test_run_for(pr.f, MSEC(30));
    assert_int_equal(data_segments(&pr, 0), 10);
    size_t mark = pr.f->trace_len;
    sk_test_peer_ack(&pr, 1, NULL, 0);
    sk_test_run_for(pr.f, MSEC(11));
    expect_sent(&pr, mark, 10 * m + 1, 11 * m + 1);
    assert_int_equal(data_segments(&pr, mark), 1);
    assert_int_equal(sk_test_peer_info(&pr).tcpi_ca_state, 1);
    mark = pr.f->trace_len;
    sk_test_peer_ack(&pr, 1, NULL, 0);
    sk_test_run_for(pr.f, MSEC(11));
    expect_sent(&pr, mark, 11 * m + 1, 12 * m + 1);
    assert_int_equal(data_segments(&pr, mark), 1);
    /* An ACK of three segments, two of which the duplicates stood for, grows
     * cwnd by one delivered segment only (tcp_remove_reno_sacks). */
    mark = pr.f->trace_len;
    sk_test_peer_ack(&pr, 3 * m + 1, NULL, 0);
    sk_test_run_for(pr.f, MSEC(11));
    assert_int_equal(sk_test_peer_info(&pr).tcpi_snd_cwnd, 11);
    assert_int_equal(sk_test_peer_info(&pr).tcpi_ca_state, 0);
    assert_int_equal(data_segments(&pr, mark), 2);
}

/* Linux's tcp_timeout_mark_lost: after an RTO every un-SACKed segment is
 * lost, and what is resent counts once in the pipe. */
static void test_rto_marks_unsacked_lost(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 4);
    uint32_t sack[] = {3 * m + 1, 4 * m + 1};
    sk_test_peer_ack(&pr, 1, sack, 1);
    size_t mark = pr.f->trace_len;
    /* No answer to the reordering retransmission: the RTO follows. */
    sk_test_run_for(pr.f, SEC(2));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 4); /* Loss */
    assert_int_equal(ti.tcpi_sacked, 1);
    assert_int_equal(ti.tcpi_lost, 3);
    assert_int_equal(ti.tcpi_retrans, 1);
    assert_true(sk_test_count(pr.f, mark, "c>s * seq 1:1461") >= 2);
}

/* Linux counts TCPFastRetrans and TCPSlowStartRetrans per segment that
 * tcp_xmit_retransmit_queue resends, by the state it is in (Loss: slow
 * start); the RTO's own resend of the head counts in neither. */
static void test_retransmissions_counted_per_segment_by_state(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 4);
    size_t mark = pr.f->trace_len;
    /* A loss probe (TCPLossProbes), then the RTO resends the head. */
    sk_test_run_for(pr.f, MSEC(270));
    assert_int_equal(sk_test_peer_info(&pr).tcpi_ca_state, 4); /* Loss */
    expect_sent(&pr, mark, 3 * m + 1, 4 * m + 1);
    expect_sent(&pr, mark, 1, m + 1);
    assert_int_equal(data_segments(&pr, mark), 2);
    assert_int_equal(sk_counter(pr.f->client, "TCPLossProbes"), 1);
    assert_int_equal(sk_counter(pr.f->client, "TCPTimeouts"), 1);
    assert_int_equal(sk_counter(pr.f->client, "TCPFastRetrans"), 0);
    assert_int_equal(sk_counter(pr.f->client, "TCPSlowStartRetrans"), 0);
    mark = pr.f->trace_len;
    sk_test_peer_ack(&pr, m + 1, NULL, 0);
    sk_test_run_for(pr.f, MSEC(1));
    expect_sent(&pr, mark, m + 1, 2 * m + 1);
    expect_sent(&pr, mark, 2 * m + 1, 3 * m + 1);
    assert_int_equal(data_segments(&pr, mark), 2);
    assert_int_equal(sk_counter(pr.f->client, "TCPSlowStartRetrans"), 2);
    assert_int_equal(sk_counter(pr.f->client, "TCPFastRetrans"), 0);
    assert_int_equal(sk_counter(pr.f->client, "RetransSegs"), 4);
}

/* In Recovery each resent segment is one TCPFastRetrans (not one per
 * episode); the episode itself is one TCPSackRecovery. */
static void test_fast_retrans_counted_per_segment(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 10);
    uint32_t sack[] = {2 * m + 1, 5 * m + 1};
    sk_test_peer_ack(&pr, 1, sack, 1);
    sk_test_run_for(pr.f, MSEC(11));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 3);
    assert_int_equal(ti.tcpi_lost, 2);
    assert_int_equal(sk_counter(pr.f->client, "TCPSackRecovery"), 1);
    assert_int_equal(sk_counter(pr.f->client, "TCPFastRetrans"), ti.tcpi_retrans);
    assert_true(ti.tcpi_retrans >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rack_reordering_timer_retransmits_head, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_rack_three_sacked_marks_lost_without_waiting, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_sack_below_highest_raises_reordering, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_partial_segment_sack_counts_nothing, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_limited_transmit_without_sack, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_rto_marks_unsacked_lost, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_retransmissions_counted_per_segment_by_state, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_fast_retrans_counted_per_segment, sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
