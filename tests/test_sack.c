/*
 * SACK as Linux sends and reads it: blocks in recency order (RFC 2018 §4),
 * D-SACK for duplicates (RFC 2883) sent once and recognised on receipt,
 * and reordering measured only from real reordering
 * (tcp_check_sack_reordering), never from in-order cumulative ACKs.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "scripted_peer.h"
#include "script/script.h"

#define MIB (1024 * 1024)

/* Counters a receiver keeps for duplicates: TCPDSACKOldSent for data
 * below RCV.NXT (with DelayedACKLost: our ACK was lost or late), and
 * TCPDSACKOfoSent plus TCPOFOMerge for a duplicate of queued data. */
static void test_dsack_sent_counters(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_send(f->client, p.cfd, "0123456789", 10, 0), 10);
    sk_test_run_for(f, MSEC(100));
    const sk_trace_entry *d = sk_test_last(f, "c>s P.");
    assert_non_null(d);
    size_t mark = f->trace_len;
    sk_test_reinject(f, d);
    sk_test_run_for(f, MSEC(1));
    const sk_trace_entry *a = sk_test_find(f, mark, "s>c . ack 11");
    assert_non_null(a);
    assert_int_equal(a->seg.opts.sack_count, 1);
    assert_int_equal(a->seg.opts.sack[0].start, d->seg.seq);
    assert_int_equal(a->seg.opts.sack[0].end, d->seg.seq + 10);
    assert_int_equal(sk_counter(f->server, "TCPDSACKOldSent"), 1);
    assert_int_equal(sk_counter(f->server, "DelayedACKLost"), 1);
    assert_int_equal(sk_counter(f->server, "TCPDSACKOfoSent"), 0);
    assert_int_equal(sk_counter(f->server, "TCPOFOMerge"), 0);

    /* Out-of-order data, twice. */
    sk_segment_spec o;
    memset(&o, 0, sizeof o);
    o.src = SK_TEST_CLIENT_ADDR;
    o.dst = SK_TEST_SERVER_ADDR;
    o.sport = p.cport;
    o.dport = 80;
    o.seq = d->seg.seq + 20;
    o.ack = d->seg.ack;
    o.flags = SK_TH_ACK;
    o.window = d->seg.window;
    o.payload = (const uint8_t *)"abcdefghij";
    o.payload_len = 10;
    sk_test_inject(f, &o);
    sk_test_inject(f, &o);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_counter(f->server, "TCPOFOQueue"), 2);
    assert_int_equal(sk_counter(f->server, "TCPOFOMerge"), 1);
    assert_int_equal(sk_counter(f->server, "TCPDSACKOfoSent"), 1);
    assert_int_equal(sk_counter(f->server, "TCPDSACKOldSent"), 1);
    a = sk_test_last(f, "s>c . ack 11");
    assert_int_equal(a->seg.opts.sack_count, 2);
    assert_int_equal(a->seg.opts.sack[0].start, o.seq);
    assert_int_equal(a->seg.opts.sack[0].end, o.seq + 10);
    assert_int_equal(a->seg.opts.sack[1].start, o.seq);
    assert_int_equal(a->seg.opts.sack[1].end, o.seq + 10);
}

/* RFC 2883 §4 and Linux's tcp_try_undo_dsack: the one retransmission of a
 * recovery comes back D-SACKed after the original arrived late, so the
 * recovery was spurious: cwnd and ssthresh return to what they were, and
 * the D-SACK is counted but never taken for newly SACKed data. */
static void test_dsack_of_every_retransmission_undoes_recovery(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 10);
    assert_int_equal(sk_test_peer_info(&pr).tcpi_snd_cwnd, 10);
    uint32_t s1[] = {m + 1, 2 * m + 1};
    uint32_t s2[] = {m + 1, 3 * m + 1};
    uint32_t s3[] = {m + 1, 4 * m + 1};
    sk_test_peer_ack(&pr, 1, s1, 1);
    sk_test_peer_ack(&pr, 1, s2, 1);
    sk_test_peer_ack(&pr, 1, s3, 1);
    sk_test_run_for(pr.f, MSEC(11));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 3); /* Recovery */
    assert_int_equal(ti.tcpi_total_retrans, 1);
    assert_int_equal(ti.tcpi_snd_ssthresh, 7);
    /* The original first segment was only late: all is ACKed. */
    sk_test_peer_ack(&pr, 10 * m + 1, NULL, 0);
    sk_test_run_for(pr.f, MSEC(1));
    ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 0);
    assert_int_equal(ti.tcpi_snd_cwnd, 7);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKUndo"), 0);
    /* Then the retransmission arrives and is reported as a duplicate. */
    uint32_t dsack[] = {1, m + 1};
    sk_test_peer_ack(&pr, 10 * m + 1, dsack, 1);
    sk_test_run_for(pr.f, MSEC(1));
    ti = sk_test_peer_info(&pr);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKRecv"), 1);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKOfoRecv"), 0);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKUndo"), 1);
    assert_int_equal(ti.tcpi_dsack_dups, 1);
    assert_int_equal(ti.tcpi_snd_cwnd, 10);
    assert_true(ti.tcpi_snd_ssthresh > 10);
    assert_int_equal(ti.tcpi_sacked, 0);
}

/* The D-SACK of the only retransmission rides the ACK that reaches the
 * recovery point: Linux's tcp_try_undo_recovery undoes it there, counted
 * as TCPFullUndo, not TCPDSACKUndo. */
static void test_dsack_on_the_full_ack_is_a_full_undo(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 10);
    uint32_t s3[] = {m + 1, 4 * m + 1};
    sk_test_peer_ack(&pr, 1, s3, 1);
    sk_test_run_for(pr.f, MSEC(11));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 3);
    assert_int_equal(ti.tcpi_total_retrans, 1);
    uint32_t dsack[] = {1, m + 1};
    sk_test_peer_ack(&pr, 10 * m + 1, dsack, 1);
    sk_test_run_for(pr.f, MSEC(1));
    ti = sk_test_peer_info(&pr);
    assert_int_equal(ti.tcpi_ca_state, 0);
    assert_int_equal(ti.tcpi_snd_cwnd, 10);
    assert_int_equal(sk_counter(pr.f->client, "TCPFullUndo"), 1);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKUndo"), 0);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKRecv"), 1);
}

/* A D-SACK for data never resent is dubious (tcp_dsack_seen: more
 * duplicates than retransmissions): counted as received, nothing undone. */
static void test_dsack_without_retransmission_undoes_nothing(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 4);
    sk_test_peer_ack(&pr, 2 * m + 1, NULL, 0);
    uint32_t dsack[] = {1, m + 1};
    sk_test_peer_ack(&pr, 2 * m + 1, dsack, 1);
    sk_test_run_for(pr.f, MSEC(1));
    struct sk_tcp_info ti = sk_test_peer_info(&pr);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKRecv"), 1);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKUndo"), 0);
    assert_int_equal(ti.tcpi_sacked, 0);
    assert_int_equal(ti.tcpi_ca_state, 0);
}

/* A first block inside the second is a D-SACK of out-of-order data
 * (TCPDSACKOfoRecv); only the second block is SACKed data, and one
 * D-SACK is counted per ACK, whatever the other blocks hold. */
static void test_dsack_inside_second_block_is_ofo_dsack(void **state)
{
    sk_test_peer pr = sk_test_peer_setup(*state, true);
    uint32_t m = pr.mss;
    sk_test_peer_send(&pr, 6);
    uint32_t blocks[] = {2 * m + 1, 3 * m + 1, 2 * m + 1, 4 * m + 1};
    sk_test_peer_ack(&pr, 1, blocks, 2);
    sk_test_run_for(pr.f, MSEC(1));
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKOfoRecv"), 1);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKRecv"), 0);
    assert_int_equal(sk_test_peer_info(&pr).tcpi_sacked, 2);
    /* A stale block below the ACK that is not first is no D-SACK. */
    uint32_t stale[] = {5 * m + 1, 6 * m + 1, 1, m + 1};
    sk_test_peer_ack(&pr, m + 1, stale, 2);
    sk_test_run_for(pr.f, MSEC(1));
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKRecv"), 0);
    assert_int_equal(sk_counter(pr.f->client, "TCPDSACKOfoRecv"), 1);
}

/* A passive open with SACK, MSS 1000 and no timestamps (four SACK blocks
 * fit), answered at once. */
#define ACCEPTED_SACK                                                                                         \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                           \
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"                                                \
    "+0 bind(3, ..., ...) = 0\n"                                                                              \
    "+0 listen(3, 1) = 0\n"                                                                                   \
    "+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n"                                       \
    "+0 > S. 0:0(0) ack 1 <...>\n"                                                                            \
    "+0 < . 1:1(0) ack 1 win 257\n"                                                                           \
    "+0 accept(3, ..., ...) = 4\n"

static void run_script(const char *name, const char *text, sk_script_outcome want, const char *why)
{
    char err[512] = "";
    sk_script *script = sk_script_parse(name, text, strlen(text), err, sizeof(err));
    if (!script)
        fail_msg("%s does not parse: %s", name, err);
    char msg[1024] = "";
    sk_script_run_opts opts = {.verbose = false};
    sk_script_outcome outcome = sk_script_run(script, &opts, msg, sizeof(msg));
    sk_script_free(script);
    if (outcome != want)
        fail_msg("%s: %s", name, msg);
    if (why && !strstr(msg, why))
        fail_msg("%s failed for another reason: %s", name, msg);
}

/* RFC 2018 §4 and Linux's tcp_sack_new_ofo_skb: the first block holds the
 * segment received last, the others follow by recency, not by sequence. */
static void test_sack_blocks_are_sent_most_recent_first(void **state)
{
    (void)state;
    run_script("sack_order.pkt", ACCEPTED_SACK
               "+0 < . 1001:3001(2000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:3001>\n"
               "+0 < . 4001:5001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 4001:5001 1001:3001>\n"
               "+0 < . 1:1001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 3001 <nop,nop,sack 4001:5001>\n",
               SK_SCRIPT_PASS, NULL);
    /* Ascending order is what synack sent before: no longer accepted. */
    run_script("sack_order_ascending.pkt", ACCEPTED_SACK
               "+0 < . 1001:3001(2000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:3001>\n"
               "+0 < . 4001:5001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:3001 4001:5001>\n",
               SK_SCRIPT_FAIL, NULL);
}

/* A block that grows moves to the front (tcp_sack_extend), and swallows
 * the blocks it now reaches (tcp_sack_maybe_coalesce). */
static void test_extended_sack_block_moves_first_and_coalesces(void **state)
{
    (void)state;
    run_script("sack_extend.pkt", ACCEPTED_SACK
               "+0 < . 1001:2001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001>\n"
               "+0 < . 3001:4001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 3001:4001 1001:2001>\n"
               "+0 < . 5001:6001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 5001:6001 3001:4001 1001:2001>\n"
               "+0 < . 2001:2501(500) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:2501 5001:6001 3001:4001>\n"
               "+0 < . 2501:3001(500) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:4001 5001:6001>\n",
               SK_SCRIPT_PASS, NULL);
}

/* Linux keeps four blocks (TCP_NUM_SACKS): a fifth new one pushes the
 * oldest out, even while its data stays queued. */
static void test_fifth_sack_block_forgets_the_oldest(void **state)
{
    (void)state;
    run_script("sack_five.pkt", ACCEPTED_SACK
               "+0 < . 1001:2001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001>\n"
               "+0 < . 3001:4001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 3001:4001 1001:2001>\n"
               "+0 < . 5001:6001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 5001:6001 3001:4001 1001:2001>\n"
               "+0 < . 7001:8001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 7001:8001 5001:6001 3001:4001 1001:2001>\n"
               "+0 < . 9001:10001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 9001:10001 7001:8001 5001:6001 3001:4001>\n"
               "+0 < . 1:1001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 2001 <nop,nop,sack 9001:10001 7001:8001 5001:6001 3001:4001>\n",
               SK_SCRIPT_PASS, NULL);
}

/* RFC 2883 §4 and Linux's tcp_data_queue: a segment entirely below
 * RCV.NXT is ACKed at once with a D-SACK for it in the first block; the
 * D-SACK is sent once. */
static void test_old_duplicate_draws_dsack_once(void **state)
{
    (void)state;
    run_script("dsack_old.pkt", ACCEPTED_SACK
               "+0 < P. 1:1001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1001\n"
               "+.1 < P. 1:1001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1001 <nop,nop,sack 1:1001>\n"
               "+.1 < P. 1001:2001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 2001\n",
               SK_SCRIPT_PASS, NULL);
}

/* A duplicate of queued out-of-order data is reported first, inside the
 * block that holds it (RFC 2883 §4.2.1's "D-SACK within a SACK block"). */
static void test_out_of_order_duplicate_draws_dsack(void **state)
{
    (void)state;
    run_script("dsack_ofo.pkt", ACCEPTED_SACK
               "+0 < . 1001:2001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001>\n"
               "+0 < . 3001:4001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 3001:4001 1001:2001>\n"
               "+0 < . 1001:2001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 1 <nop,nop,sack 1001:2001 1001:2001 3001:4001>\n"
               "+0 < . 1:1001(1000) ack 1 win 257\n"
               "+0 > . 1:1(0) ack 2001 <nop,nop,sack 3001:4001>\n",
               SK_SCRIPT_PASS, NULL);
}

/* Not SACK, but counted the same way: a TSO packet is tcp_skb_pcount
 * segments in Linux's segment counts (tcpi_data_segs_out, tcpi_segs_out,
 * OutSegs, TCPOrigDataSent, RetransSegs), not one. */
static void test_tso_packet_counts_its_segments(void **state)
{
    (void)state;
    run_script("pcount.pkt", ACCEPTED_SACK
               "+0 write(4, ..., 5000) = 5000\n"
               "+0 > P. 1:5001(5000) ack 1\n"
               "+0 %{ assert tcpi_data_segs_out == 5, tcpi_data_segs_out }%\n"
               "+0 %{ assert tcpi_segs_out == 5, tcpi_segs_out }%\n",
               SK_SCRIPT_PASS, NULL);
}

/* Linux takes prior_fack before SND.UNA moves (tcp_ack), so an in-order
 * cumulative ACK is no evidence of reordering: over a clean link every
 * reordering figure keeps its initial value. */
static void test_clean_transfer_sees_no_reordering(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, 4 * MIB, SEC(60)), 4 * MIB);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_true(ti.tcpi_options & SK_TCPI_OPT_SACK);
    assert_int_equal(ti.tcpi_total_retrans, 0);
    assert_int_equal(ti.tcpi_reord_seen, 0);
    assert_int_equal(ti.tcpi_reordering, 3);
    assert_int_equal(sk_counter(f->client, "TCPSACKReorder"), 0);
    assert_int_equal(sk_counter(f->server, "TCPSACKReorder"), 0);
}

/* Lost ACKs are no reordering either: a later cumulative ACK covers what
 * the lost ones would have, in order (this once drove tcpi_reordering to
 * 26 and slowed RACK's loss detection). */
static void test_lost_acks_are_not_reordering(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    sk_link_params lossy;
    memset(&lossy, 0, sizeof lossy);
    lossy.delay = MSEC(10);
    lossy.loss = 0.3;
    sk_test_set_link(f, SK_TEST_SERVER_ADDR, SK_TEST_CLIENT_ADDR, &lossy);
    assert_int_equal(sk_test_transfer(f, f->client, p.cfd, f->server, p.sfd, MIB, SEC(120)), MIB);
    size_t lost = 0;
    for (size_t i = 0; i < f->trace_len; i++)
        lost += f->trace[i].fate == SK_WIRE_LOST;
    assert_true(lost > 10);
    struct sk_tcp_info ti = sk_test_tcp_info(f->client, p.cfd);
    assert_int_equal(ti.tcpi_reord_seen, 0);
    assert_int_equal(ti.tcpi_reordering, 3);
    assert_int_equal(sk_counter(f->client, "TCPSACKReorder"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_transfer_sees_no_reordering, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_lost_acks_are_not_reordering, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_dsack_sent_counters, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_dsack_of_every_retransmission_undoes_recovery, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_dsack_without_retransmission_undoes_nothing, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_dsack_on_the_full_ack_is_a_full_undo, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_dsack_inside_second_block_is_ofo_dsack, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test(test_sack_blocks_are_sent_most_recent_first),
        cmocka_unit_test(test_tso_packet_counts_its_segments),
        cmocka_unit_test(test_fifth_sack_block_forgets_the_oldest),
        cmocka_unit_test(test_extended_sack_block_moves_first_and_coalesces),
        cmocka_unit_test(test_old_duplicate_draws_dsack_once),
        cmocka_unit_test(test_out_of_order_duplicate_draws_dsack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
