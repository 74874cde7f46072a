/* Behaviours checked as packet scripts in packetdrill's language, run by
 * the project's runner in virtual time, so that the expectations read as
 * the segments on the wire: when data leaves and with which flags (PSH
 * marking, Nagle and cork overrides, TSO packet sizing, slow start after
 * idle) and TCP_INFO's clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "script/script.h"

/* A passive open with MSS 1000 and window 32896 (257 << 7), answered at
 * once: with an RTT near zero, TSO autosizing allows 64 KiB packets. */
#define ACCEPTED                                                                                              \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                           \
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"                                                \
    "+0 bind(3, ..., ...) = 0\n"                                                                              \
    "+0 listen(3, 1) = 0\n"                                                                                   \
    "+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"                                                       \
    "+0 > S. 0:0(0) ack 1 <...>\n"                                                                            \
    "+0 < . 1:1(0) ack 1 win 257\n"                                                                           \
    "+0 accept(3, ..., ...) = 4\n"

static void run_script_expecting_pass(const char *name, const char *text)
{
    char err[512] = "";
    sk_script *script = sk_script_parse(name, text, strlen(text), err, sizeof(err));
    if (!script)
        fail_msg("%s does not parse: %s", name, err);
    char msg[1024] = "";
    sk_script_run_opts opts = {.verbose = false};
    sk_script_outcome outcome = sk_script_run(script, &opts, msg, sizeof(msg));
    sk_script_free(script);
    if (outcome != SK_SCRIPT_PASS)
        fail_msg("%s: %s", name, msg);
}

/* A script that must fail proves the runner checks the flag at all. */
static void run_script_expecting_fail(const char *name, const char *text, const char *why)
{
    char err[512] = "";
    sk_script *script = sk_script_parse(name, text, strlen(text), err, sizeof(err));
    assert_non_null(script);
    char msg[1024] = "";
    sk_script_run_opts opts = {.verbose = false};
    assert_int_equal(sk_script_run(script, &opts, msg, sizeof(msg)), SK_SCRIPT_FAIL);
    sk_script_free(script);
    assert_non_null(strstr(msg, why));
}

/* tcp_push() marks the tail of a write with PSH unless MSG_MORE says more
 * follows: data written with MSG_MORE leaves without PSH, even when an ACK
 * later releases it, and the next plain write pushes again. */
static void test_msg_more_leaves_the_tail_without_psh(void **state)
{
    (void)state;
    run_script_expecting_pass("msg_more.pkt", ACCEPTED
                              "+0 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = 0\n"
                              "+0 send(4, ..., 2500, MSG_MORE) = 2500\n"
                              "+0 > . 1:2001(2000) ack 1\n"
                              "+.01 < . 1:1(0) ack 2001 win 257\n"
                              "+0 > . 2001:2501(500) ack 1\n"
                              "+.01 < . 1:1(0) ack 2501 win 257\n"
                              "+0 write(4, ..., 300) = 300\n"
                              "+0 > P. 2501:2801(300) ack 1\n");
    run_script_expecting_fail("msg_more_psh.pkt",
                              ACCEPTED "+0 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = 0\n"
                                       "+0 send(4, ..., 2500, MSG_MORE) = 2500\n"
                                       "+0 > . 1:2001(2000) ack 1\n"
                                       "+.01 < . 1:1(0) ack 2001 win 257\n"
                                       "+0 > P. 2001:2501(500) ack 1\n",
                              "flags differs");
}

/* Turning TCP_NODELAY on pushes what a cork holds, at once and past the
 * cork (Linux's TCP_NAGLE_PUSH); without it the cork keeps holding. */
static void test_nodelay_pushes_corked_data(void **state)
{
    (void)state;
    run_script_expecting_pass("cork_nodelay.pkt", ACCEPTED
                              "+0 setsockopt(4, SOL_TCP, TCP_CORK, [1], 4) = 0\n"
                              "+0 write(4, ..., 40) = 40\n"
                              "+.05 write(4, ..., 40) = 40\n"
                              "+.01 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = 0\n"
                              "+0 > P. 1:81(80) ack 1\n"
                              "+.01 < . 1:1(0) ack 81 win 257\n"
                              "+0 write(4, ..., 40) = 40\n"
                              "+.1 setsockopt(4, SOL_TCP, TCP_NODELAY, [1], 4) = 0\n"
                              "+0 > P. 81:121(40) ack 1\n");
}

/* Linux sends a burst as TSO packets of at most half the congestion window
 * (tcp_cwnd_test keeps two in flight), each with PSH on its last segment:
 * with cwnd 10 and a large write, segments 5 and 10 carry PSH. */
static void test_burst_is_cut_into_half_cwnd_packets_with_psh(void **state)
{
    (void)state;
    run_script_expecting_pass("tso_psh.pkt", "--strict_segments\n" ACCEPTED
                              "+0 write(4, ..., 20000) = 20000\n"
                              "+0 > . 1:1001(1000) ack 1\n"
                              "+0 > . 1001:2001(1000) ack 1\n"
                              "+0 > . 2001:3001(1000) ack 1\n"
                              "+0 > . 3001:4001(1000) ack 1\n"
                              "+0 > P. 4001:5001(1000) ack 1\n"
                              "+0 > . 5001:6001(1000) ack 1\n"
                              "+0 > . 6001:7001(1000) ack 1\n"
                              "+0 > . 7001:8001(1000) ack 1\n"
                              "+0 > . 8001:9001(1000) ack 1\n"
                              "+0 > P. 9001:10001(1000) ack 1\n");
}

/* Linux transmits its write queue skb by skb, so a TSO packet also ends
 * where an skb does, with PSH.  The 40000-byte write makes skbs of the
 * 16000-byte size goal; the push at cwnd 10 splits the first at 10001
 * and the rest of it is refilled to 26001 (tcp_sendmsg_locked appends to
 * the unsent tail); after the ACK, with cwnd 20, the packets end at the
 * half-cwnd cut (20001) and at that skb's end (26001). */
static void test_tso_packets_end_at_skb_ends(void **state)
{
    (void)state;
    run_script_expecting_pass("skb_end.pkt", "--strict_segments\n" ACCEPTED
                              "+0 write(4, ..., 40000) = 40000\n"
                              "+0 > . 1:1001(1000) ack 1\n"
                              "+0 > . 1001:2001(1000) ack 1\n"
                              "+0 > . 2001:3001(1000) ack 1\n"
                              "+0 > . 3001:4001(1000) ack 1\n"
                              "+0 > P. 4001:5001(1000) ack 1\n"
                              "+0 > . 5001:6001(1000) ack 1\n"
                              "+0 > . 6001:7001(1000) ack 1\n"
                              "+0 > . 7001:8001(1000) ack 1\n"
                              "+0 > . 8001:9001(1000) ack 1\n"
                              "+0 > P. 9001:10001(1000) ack 1\n"
                              "+.01 < . 1:1(0) ack 10001 win 257\n"
                              "+0 > . 10001:11001(1000) ack 1\n"
                              "+0 > . 11001:12001(1000) ack 1\n"
                              "+0 > . 12001:13001(1000) ack 1\n"
                              "+0 > . 13001:14001(1000) ack 1\n"
                              "+0 > . 14001:15001(1000) ack 1\n"
                              "+0 > . 15001:16001(1000) ack 1\n"
                              "+0 > . 16001:17001(1000) ack 1\n"
                              "+0 > . 17001:18001(1000) ack 1\n"
                              "+0 > . 18001:19001(1000) ack 1\n"
                              "+0 > P. 19001:20001(1000) ack 1\n"
                              "+0 > . 20001:21001(1000) ack 1\n"
                              "+0 > . 21001:22001(1000) ack 1\n"
                              "+0 > . 22001:23001(1000) ack 1\n"
                              "+0 > . 23001:24001(1000) ack 1\n"
                              "+0 > . 24001:25001(1000) ack 1\n"
                              "+0 > P. 25001:26001(1000) ack 1\n");
}

/* A 26000-byte write sent in two flights: cwnd 10 in packets of half of
 * it, then, after the ACK, cwnd 20 in packets of 10 segments. */
#define TWO_FLIGHTS                                                                                           \
    "+0 write(4, ..., 26000) = 26000\n"                                                                       \
    "+0 > P. 1:5001(5000) ack 1\n"                                                                            \
    "+0 > P. 5001:10001(5000) ack 1\n"                                                                        \
    "+.01 < . 1:1(0) ack 10001 win 257\n"                                                                     \
    "+0 > P. 10001:20001(10000) ack 1\n"                                                                      \
    "+0 > P. 20001:26001(6000) ack 1\n"

/* With tcp_min_tso_segs raised, the packets stay at half cwnd all the same,
 * and the second flight after cwnd doubled is cut at 10 segments. */
static void test_min_tso_segs_does_not_pass_half_cwnd(void **state)
{
    (void)state;
    run_script_expecting_pass("min_tso.pkt", "`sysctl -q net.ipv4.tcp_min_tso_segs=10`\n" ACCEPTED TWO_FLIGHTS);
}

/* RFC 5681 section 4.1 as Linux's tcp_cwnd_restart does it: data sent
 * after more than an RTO of silence starts from the initial window
 * (cwnd halved per idle RTO, not below 10); with the sysctl off, the old
 * cwnd is used at once, the write's first full 16000-byte skb leaving as
 * it fills. */
static void test_slow_start_after_idle_restarts_cwnd(void **state)
{
    (void)state;
    const char *grow = TWO_FLIGHTS "+.01 < . 1:1(0) ack 26001 win 257\n"
                                   "+0 %{ assert tcpi_snd_cwnd == 36, tcpi_snd_cwnd }%\n";
    char text[4096];
    snprintf(text, sizeof(text),
             "`sysctl -q net.ipv4.tcp_slow_start_after_idle=1`\n%s%s"
             "+2 write(4, ..., 20000) = 20000\n"
             "+0 > P. 26001:31001(5000) ack 1\n"
             "+0 > P. 31001:36001(5000) ack 1\n"
             "+0 %%{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%%\n",
             ACCEPTED, grow);
    run_script_expecting_pass("idle_restart.pkt", text);
    snprintf(text, sizeof(text),
             "`sysctl -q net.ipv4.tcp_slow_start_after_idle=0`\n%s%s"
             "+2 write(4, ..., 20000) = 20000\n"
             "+0 > P. 26001:42001(16000) ack 1\n"
             "+0 > P. 42001:46001(4000) ack 1\n"
             "+0 %%{ assert tcpi_snd_cwnd == 36, tcpi_snd_cwnd }%%\n",
             ACCEPTED, grow);
    run_script_expecting_pass("idle_no_restart.pkt", text);
    /* Idle means no data sent (Linux's lsndtime moves only with data): an
     * ACK sent 100 ms before the write does not count. */
    snprintf(text, sizeof(text),
             "`sysctl -q net.ipv4.tcp_slow_start_after_idle=1`\n%s%s"
             "+1.9 < P. 1:101(100) ack 26001 win 257\n"
             "+0 > . 26001:26001(0) ack 101\n"
             "+.1 write(4, ..., 20000) = 20000\n"
             "+0 > P. 26001:31001(5000) ack 101\n"
             "+0 > P. 31001:36001(5000) ack 101\n"
             "+0 %%{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%%\n",
             ACCEPTED, grow);
    run_script_expecting_pass("idle_restart_after_ack.pkt", text);
}

/* tcpi_last_data_recv counts from the establishment until data arrives,
 * as Linux starts icsk_ack.lrcvtime in tcp_finish_connect. */
static void test_last_data_recv_counts_from_establishment(void **state)
{
    (void)state;
    run_script_expecting_pass("last_data_recv.pkt",
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                              "+0 > S 0:0(0) <...>\n"
                              "+.03 < S. 0:0(0) ack 1 win 10000 <mss 1000,nop,wscale 8>\n"
                              "+0 > . 1:1(0) ack 1\n"
                              "+2 %{ assert tcpi_last_data_recv == 2000, tcpi_last_data_recv }%\n"
                              "+0 < . 1:1001(1000) ack 1 win 300\n"
                              "+0 > . 1:1(0) ack 1001\n"
                              "+.5 %{ assert tcpi_last_data_recv == 500, tcpi_last_data_recv }%\n");
}

/* TCP_USER_TIMEOUT bounds the retransmission timer as Linux's
 * tcp_clamp_rto_to_user_timeout does: the first retransmission at 0.4 s
 * starts the 1.5 s budget, and the connection dies at 1.9 s rather than at
 * the next backed-off timeout (2.2 s). */
static void test_user_timeout_clamps_the_retransmission_timer(void **state)
{
    (void)state;
    run_script_expecting_pass("user_timeout.pkt",
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                              "+0 > S 0:0(0) <...>\n"
                              "+.1 < S. 0:0(0) ack 1 win 10000 <mss 1000,nop,wscale 8>\n"
                              "+0 > . 1:1(0) ack 1\n"
                              "+0 setsockopt(3, SOL_TCP, TCP_USER_TIMEOUT, [1500], 4) = 0\n"
                              "+0 write(3, ..., 100) = 100\n"
                              "+0 > P. 1:101(100) ack 1\n"
                              "0.4 > P. 1:101(100) ack 1\n"
                              "1.0 > P. 1:101(100) ack 1\n"
                              "1.89 read(3, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)\n"
                              "1.91 read(3, ..., 100) = -1 ETIMEDOUT (Connection timed out)\n");
}

/* MSG_EOR as Linux's tcp_sendmsg_locked() marks it (the skb's eor bit):
 * the unsent 400-byte tail of the first write takes the first record,
 * which then ends its skb; the next record and the plain write after it
 * each start skbs of their own (tcp_skb_can_collapse_to), so after the
 * ACK no segment spans a record end and each record end carries PSH. */
static void test_eor_records_are_never_merged(void **state)
{
    (void)state;
    run_script_expecting_pass("eor_records.pkt", "--strict_segments\n" ACCEPTED
                              "+0 write(4, ..., 10400) = 10400\n"
                              "+0 send(4, ..., 300, MSG_EOR) = 300\n"
                              "+0 send(4, ..., 300, MSG_EOR) = 300\n"
                              "+0 write(4, ..., 2500) = 2500\n"
                              "+0 > . 1:1001(1000) ack 1\n"
                              "+0 > . 1001:2001(1000) ack 1\n"
                              "+0 > . 2001:3001(1000) ack 1\n"
                              "+0 > . 3001:4001(1000) ack 1\n"
                              "+0 > P. 4001:5001(1000) ack 1\n"
                              "+0 > . 5001:6001(1000) ack 1\n"
                              "+0 > . 6001:7001(1000) ack 1\n"
                              "+0 > . 7001:8001(1000) ack 1\n"
                              "+0 > . 8001:9001(1000) ack 1\n"
                              "+0 > P. 9001:10001(1000) ack 1\n"
                              "+.01 < . 1:1(0) ack 10001 win 257\n"
                              "+0 > P. 10001:10701(700) ack 1\n"
                              "+0 > P. 10701:11001(300) ack 1\n"
                              "+0 > . 11001:12001(1000) ack 1\n"
                              "+0 > . 12001:13001(1000) ack 1\n"
                              /* Nagle holds the 500-byte tail of the last
                               * skb while the short record is unacked
                               * (tcp_mss_split_point, tcp_minshall_check) */
                              "+.01 < . 1:1(0) ack 11001 win 257\n"
                              "+0 > P. 13001:13501(500) ack 1\n");
}

/* tcp_write_xmit() applies Nagle only to the last skb: a short record
 * held while the first is unacknowledged goes out, with PSH, as soon as
 * a later write queues data behind it. */
static void test_eor_record_behind_data_is_not_held_by_nagle(void **state)
{
    (void)state;
    run_script_expecting_pass("eor_nagle.pkt", "--strict_segments\n" ACCEPTED
                              "+0 send(4, ..., 300, MSG_EOR) = 300\n"
                              "+0 > P. 1:301(300) ack 1\n"
                              "+0 send(4, ..., 300, MSG_EOR) = 300\n"
                              "+.01 write(4, ..., 2000) = 2000\n"
                              "+0 > P. 301:601(300) ack 1\n"
                              "+0 > . 601:1601(1000) ack 1\n"
                              "+0 > P. 1601:2601(1000) ack 1\n");
}

/* Retransmissions stay within a record, as Linux resends skb by skb and
 * tcp_retrans_try_collapse() refuses an eor skb: after the RTO the three
 * 300-byte records are resent one by one, each with its PSH, where plain
 * data would have been resent as one 900-byte segment; each is a packet
 * of the loss window (one after the RTO, two after the first ACK). */
static void test_eor_retransmissions_stop_at_record_ends(void **state)
{
    (void)state;
    run_script_expecting_pass("eor_rto.pkt", "--strict_segments\n" ACCEPTED
                              "+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0\n"
                              "+0 send(4, ..., 300, MSG_EOR) = 300\n"
                              "+0 > P. 1:301(300) ack 1\n"
                              "+0 send(4, ..., 300, MSG_EOR) = 300\n"
                              "+0 > P. 301:601(300) ack 1\n"
                              "+0 send(4, ..., 300, MSG_EOR) = 300\n"
                              "+0 > P. 601:901(300) ack 1\n"
                              "* > P. 1:301(300) ack 1\n"
                              "+.01 < . 1:1(0) ack 301 win 257\n"
                              "+0 > P. 301:601(300) ack 1\n"
                              "+0 > P. 601:901(300) ack 1\n"
                              "+.01 < . 1:1(0) ack 901 win 257\n");
}

/* ------------------------------------------------------------------ */
/* ECN (RFC 3168) as Linux                                             */
/* ------------------------------------------------------------------ */

/* A passive open whose SYN asks for ECN (ECE and CWR), MSS 1000, SACK. */
#define ECN_ACCEPTED                                                                                          \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                           \
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"                                                \
    "+0 bind(3, ..., ...) = 0\n"                                                                              \
    "+0 listen(3, 1) = 0\n"                                                                                   \
    "+0 < SEW 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n"                                      \
    "+0 > [noecn] SE. 0:0(0) ack 1 <...>\n"                                                                   \
    "+.1 < . 1:1(0) ack 1 win 257\n"                                                                          \
    "+0 accept(3, ..., ...) = 4\n"

/* tcp_ecn = 1: the SYN carries ECE|CWR, its retransmission neither
 * (tcp_ecn_clear_syn); a SYN-ACK with ECE alone negotiates; new data goes
 * ECT(0), pure ACKs and the retransmission Not-ECT (tcp_ecn_send); after
 * the RTO the next new data carries CWR (tcp_enter_loss queues it). */
static void test_ecn_active_open_marks_new_data_ect0(void **state)
{
    (void)state;
    const char *head = "`sysctl -q net.ipv4.tcp_ecn=1`\n"
                       "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                       "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                       "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                       "+0 > [noecn] SEW 0:0(0) <...>\n"
                       "+1 > [noecn] S 0:0(0) <...>\n"
                       "+.01 < SE. 0:0(0) ack 1 win 32792 <mss 1000,nop,wscale 7>\n";
    char text[2048];
    snprintf(text, sizeof(text),
             "%s+0 > [noecn] . 1:1(0) ack 1\n"
             "+0 %%{ assert tcpi_options & TCPI_OPT_ECN, tcpi_options }%%\n"
             "+0 write(3, ..., 1000) = 1000\n"
             "+0 > [ect0] P. 1:1001(1000) ack 1\n"
             "+1 > [noecn] P. 1:1001(1000) ack 1\n"
             "+.01 < . 1:1(0) ack 1001 win 257\n"
             "+0 write(3, ..., 1000) = 1000\n"
             "+0 > [ect0] PW. 1001:2001(1000) ack 1\n",
             head);
    run_script_expecting_pass("ecn_active.pkt", text);
    snprintf(text, sizeof(text), "%s+0 > [ect0] . 1:1(0) ack 1\n", head);
    run_script_expecting_fail("ecn_active_ack_ect.pkt", text, "ECN field");
}

/* RFC 3168 §6.1.1: a SYN-ACK with both ECE and CWR is not an ECN-setup
 * SYN-ACK (Linux's tcp_ecn_rcv_synack): no ECN, data goes Not-ECT. */
static void test_ecn_synack_with_cwr_does_not_negotiate(void **state)
{
    (void)state;
    run_script_expecting_pass("ecn_synack_ew.pkt",
                              "`sysctl -q net.ipv4.tcp_ecn=1`\n"
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                              "+0 > SEW 0:0(0) <...>\n"
                              "+.01 < SEW. 0:0(0) ack 1 win 32792 <mss 1000,nop,wscale 7>\n"
                              "+0 > . 1:1(0) ack 1\n"
                              "+0 %{ assert not (tcpi_options & TCPI_OPT_ECN), tcpi_options }%\n"
                              "+0 write(3, ..., 1000) = 1000\n"
                              "+0 > [noecn] P. 1:1001(1000) ack 1\n");
}

/* A listener answers with ECE only an ECN-setup SYN (ECE and CWR) that is
 * not itself ECT, and only with tcp_ecn 1 or 2 (tcp_ecn_create_request). */
static void test_ecn_listener_negotiation(void **state)
{
    (void)state;
    static const struct {
        int sysctl;
        const char *syn, *synack;
    } cases[] = {
        {2, "SEW", "SE."}, {1, "SEW", "SE."}, {0, "SEW", "S."}, {2, "SE", "S."},
        {2, "SW", "S."},   {2, "[ect0] SEW", "S."}, {2, "S", "S."},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "`sysctl -q net.ipv4.tcp_ecn=%d`\n"
                 "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                 "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"
                 "+0 bind(3, ..., ...) = 0\n"
                 "+0 listen(3, 1) = 0\n"
                 "+0 < %s 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
                 "+0 > [noecn] %s 0:0(0) ack 1 <...>\n",
                 cases[i].sysctl, cases[i].syn, cases[i].synack);
        run_script_expecting_pass("ecn_listener.pkt", text);
    }
    /* The comparison sees ECE: expecting none fails. */
    run_script_expecting_fail("ecn_listener_no_ece.pkt",
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"
                              "+0 bind(3, ..., ...) = 0\n"
                              "+0 listen(3, 1) = 0\n"
                              "+0 < SEW 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
                              "+0 > S. 0:0(0) ack 1 <...>\n",
                              "flags differs");
}

/* An ECE ACK enters CWR (tcp_enter_cwr): ssthresh from CUBIC (7 of 10),
 * cwnd by PRR (in flight 3, one delivered: 4); the next new data carries
 * CWR, later ECEs in the same window change nothing; CWR ends once an ACK
 * passes the reduction point (4001), with cwnd = ssthresh. */
static void test_ecn_echo_enters_cwr(void **state)
{
    (void)state;
    const char *body = "+0 write(4, ..., 4000) = 4000\n"
                       "+0 > [ect0] P. 1:4001(4000) ack 1\n"
                       "+.1 < E. 1:1(0) ack 1001 win 257\n"
                       "+0 %{\n"
                       "assert tcpi_ca_state == TCP_CA_CWR, tcpi_ca_state\n"
                       "assert tcpi_snd_ssthresh == 7, tcpi_snd_ssthresh\n"
                       "assert tcpi_snd_cwnd == 4, tcpi_snd_cwnd\n"
                       "}%\n"
                       "+0 write(4, ..., 2000) = 2000\n";
    char text[4096];
    snprintf(text, sizeof(text),
             "%s%s"
             "+0 > [ect0] W. 4001:5001(1000) ack 1\n"
             "+.01 < E. 1:1(0) ack 2001 win 257\n"
             "+0 > [ect0] P. 5001:6001(1000) ack 1\n"
             "+0 %%{ assert tcpi_ca_state == TCP_CA_CWR and tcpi_snd_ssthresh == 7 }%%\n"
             "+.01 < . 1:1(0) ack 4001 win 257\n"
             "+0 %%{ assert tcpi_ca_state == TCP_CA_CWR, tcpi_ca_state }%%\n"
             "+.01 < . 1:1(0) ack 5001 win 257\n"
             "+0 %%{\n"
             "assert tcpi_ca_state == TCP_CA_Open, tcpi_ca_state\n"
             "assert tcpi_snd_cwnd == 7, tcpi_snd_cwnd\n"
             "}%%\n",
             ECN_ACCEPTED, body);
    run_script_expecting_pass("ecn_cwr.pkt", text);
    snprintf(text, sizeof(text), "%s%s+0 > [ect0] . 4001:5001(1000) ack 1\n", ECN_ACCEPTED, body);
    run_script_expecting_fail("ecn_cwr_no_flag.pkt", text, "flags differs");
}

/* Receiver: ECT data is seen (TCPI_OPT_ECN_SEEN); a CE mark makes every
 * ACK echo ECE, sent at once (quickack), until a segment with CWR arrives
 * (tcp_ecn_check_ce, tcp_ecn_accept_cwr); ACKs themselves are Not-ECT. */
static void test_ecn_ce_is_echoed_until_cwr(void **state)
{
    (void)state;
    run_script_expecting_pass("ecn_ce.pkt", ECN_ACCEPTED
                              "+.1 < [ect0] P. 1:1001(1000) ack 1 win 257\n"
                              "+0 > [noecn] . 1:1(0) ack 1001\n"
                              "+0 %{ assert tcpi_options & TCPI_OPT_ECN_SEEN, tcpi_options }%\n"
                              "+.1 < [ce] P. 1001:2001(1000) ack 1 win 257\n"
                              "+0 > [noecn] E. 1:1(0) ack 2001\n"
                              "+.01 < [ect0] P. 2001:3001(1000) ack 1 win 257\n"
                              "+0 > E. 1:1(0) ack 3001\n"
                              "+.01 < [ect0] PW. 3001:4001(1000) ack 1 win 257\n"
                              "+0 > . 1:1(0) ack 4001\n");
    run_script_expecting_fail("ecn_ce_no_echo.pkt",
                              ECN_ACCEPTED "+.1 < [ce] P. 1:1001(1000) ack 1 win 257\n"
                                           "+0 > . 1:1(0) ack 1001\n",
                              "flags differs");
}

/* A write into a zero window waits, counted as rwnd-limited time
 * (TCP_CHRONO_RWND_LIMITED); when the window opens the data leaves with a
 * fresh RTO (tcp_event_new_data_sent), not at the zero-window probe
 * deadline armed while the window was shut (0.22 s here), and a
 * block's trailing backslash continuation is valid as in packetdrill. */
static void test_zero_window_wait_is_rwnd_limited_and_rearms_rto(void **state)
{
    (void)state;
    run_script_expecting_pass("rwnd_limited.pkt",
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                              "+0 > S 0:0(0) <...>\n"
                              "+.01 < S. 0:0(0) ack 1 win 0 <mss 1000,nop,nop,sackOK>\n"
                              "+0 > . 1:1(0) ack 1\n"
                              "+0 write(3, ..., 1000) = 1000\n"
                              "+.2 < . 1:1(0) ack 1 win 2000\n"
                              "+0 > P. 1:1001(1000) ack 1\n"
                              "+0 %{ assert tcpi_rwnd_limited == 200000, tcpi_rwnd_limited;\\\n"
                              "      assert tcpi_busy_time == 200000, tcpi_busy_time;\\\n"
                              "}%\n"
                              "+.1 < . 1:1(0) ack 1001 win 2000\n"
                              "+0 write(3, ..., 100) = 100\n"
                              "+0 > P. 1001:1101(100) ack 1\n");
}

/* ICMP fragmentation-needed, injected as packetdrill's `< icmp` does:
 * one quoting a sequence number outside the flight changes nothing
 * (OutOfWindowIcmps); one quoting the head lowers the path MTU to 576 and
 * the MSS to 536, and the flight is resent at once at that size, with no
 * timeout (tcp_v4_mtu_reduced, tcp_simple_retransmit).  Linux cuts each
 * 1000-byte skb 536 + 464; merged as TSO packets the runner shows one. */
static void test_icmp_frag_needed_resends_at_the_new_mss(void **state)
{
    (void)state;
    run_script_expecting_pass("icmp_frag_needed.pkt", ACCEPTED
                              "+0 write(4, ..., 2000) = 2000\n"
                              "+0 > P. 1:2001(2000) ack 1\n"
                              "+.01 < icmp unreachable frag_needed mtu 576 [3000:4000(1000)]\n"
                              "+0 %{ assert tcpi_pmtu == 1500, tcpi_pmtu }%\n"
                              "+.01 < icmp unreachable frag_needed mtu 576 [1:1001(1000)]\n"
                              "+0 > P. 1:2001(2000) ack 1\n"
                              "+0 %{ assert tcpi_pmtu == 576, tcpi_pmtu }%\n"
                              "+0 %{ assert tcpi_snd_mss == 536, tcpi_snd_mss }%\n"
                              "+0 %{ assert tcpi_total_retrans == 4, tcpi_total_retrans }%\n"
                              "+.01 < . 1:1(0) ack 2001 win 257\n"
                              "+0 getsockopt(4, SOL_IP, IP_MTU, [576], [4]) = 0\n"
                              "+0 write(4, ..., 1000) = 1000\n"
                              "+0 > P. 2001:3001(1000) ack 1\n"
                              "+0 %{ assert tcpi_snd_mss == 536, tcpi_snd_mss }%\n");
    /* The same error in SYN_SENT would end connect(); a port unreachable
     * quoting our SYN does (ECONNREFUSED, tcp_v4_err). */
    run_script_expecting_pass("icmp_port_unreachable.pkt",
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                              "+0 > S 0:0(0) <...>\n"
                              "+.01 < icmp unreachable port_unreachable\n"
                              "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [111], [4]) = 0\n" /* ECONNREFUSED */);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icmp_frag_needed_resends_at_the_new_mss),
        cmocka_unit_test(test_msg_more_leaves_the_tail_without_psh),
        cmocka_unit_test(test_nodelay_pushes_corked_data),
        cmocka_unit_test(test_burst_is_cut_into_half_cwnd_packets_with_psh),
        cmocka_unit_test(test_min_tso_segs_does_not_pass_half_cwnd),
        cmocka_unit_test(test_tso_packets_end_at_skb_ends),
        cmocka_unit_test(test_slow_start_after_idle_restarts_cwnd),
        cmocka_unit_test(test_last_data_recv_counts_from_establishment),
        cmocka_unit_test(test_user_timeout_clamps_the_retransmission_timer),
        cmocka_unit_test(test_zero_window_wait_is_rwnd_limited_and_rearms_rto),
        cmocka_unit_test(test_eor_records_are_never_merged),
        cmocka_unit_test(test_eor_record_behind_data_is_not_held_by_nagle),
        cmocka_unit_test(test_eor_retransmissions_stop_at_record_ends),
        cmocka_unit_test(test_ecn_active_open_marks_new_data_ect0),
        cmocka_unit_test(test_ecn_synack_with_cwr_does_not_negotiate),
        cmocka_unit_test(test_ecn_listener_negotiation),
        cmocka_unit_test(test_ecn_echo_enters_cwr),
        cmocka_unit_test(test_ecn_ce_is_echoed_until_cwr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
