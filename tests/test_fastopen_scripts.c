/*
 * Fast Open behaviours held as packet scripts (the project's runner, in
 * virtual time), each against what Linux does: tcpi_delivered as Linux's
 * tp->delivered counts it, the SYN's data resent as a marked
 * retransmission when the SYN-ACK leaves it unacknowledged or after a SYN
 * timeout, the SYN-ACK's ACK held for a blocked writer (sk_write_pending),
 * a simultaneous Fast Open, and the runner's AF_UNSPEC destination and
 * shell lists that tier 3's scripts use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "tcb.h"
#include "script/script.h"

/* A first connection that asks for a cookie and gets abcd1234. */
#define WARMUP \
    "`sysctl -q net.ipv4.tcp_timestamps=0`\n" \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n" \
    "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n" \
    "+0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n" \
    "+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO,nop,nop>\n" \
    "+.01 < S. 0:0(0) ack 1 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6,FO abcd1234,nop,nop>\n" \
    "+0 > . 1:1(0) ack 1\n" \
    "+.01 close(3) = 0\n" \
    "+0 > F. 1:1(0) ack 1\n" \
    "+.01 < F. 1:1(0) ack 2 win 92\n" \
    "+0 > . 2:2(0) ack 2\n"

static sk_script_outcome run_script(const char *name, const char *text, char *msg, size_t msglen)
{
    char err[512] = "";
    sk_script *script = sk_script_parse(name, text, strlen(text), err, sizeof(err));
    if (!script)
        fail_msg("%s does not parse: %s", name, err);
    sk_script_run_opts opts = {.verbose = false};
    sk_script_outcome outcome = sk_script_run(script, &opts, msg, msglen);
    sk_script_free(script);
    return outcome;
}

static void expect_pass(const char *name, const char *text)
{
    char msg[1024] = "";
    if (run_script(name, text, msg, sizeof(msg)) != SK_SCRIPT_PASS)
        fail_msg("%s: %s", name, msg);
}

/* A script that must fail proves the runner checks what it claims to. */
static void expect_fail(const char *name, const char *text, const char *why)
{
    char msg[1024] = "";
    assert_int_equal(run_script(name, text, msg, sizeof(msg)), SK_SCRIPT_FAIL);
    if (!strstr(msg, why))
        fail_msg("%s failed for another reason: %s", name, msg);
}

/* The handshake is one delivery, on either side (the SYN acknowledged;
 * the SYN-ACK, which Linux counts in tcp_rcv_state_process); then each
 * segment once, SACKed or cumulatively acked, in MSS units; a D-SACK is
 * one more. */
static void test_delivered_counts_as_linux_with_sack(void **state)
{
    (void)state;
    expect_pass("delivered_sack.pkt",
                              "`sysctl -q net.ipv4.tcp_timestamps=0`\n"
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n"
                              "+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO,nop,nop>\n"
                              "+.01 < S. 0:0(0) ack 1 win 5840 <mss 1000,nop,nop,sackOK,nop,wscale 6,FO abcd1234,nop,nop>\n"
                              "+0 %{ assert tcpi_delivered == 1, tcpi_delivered }%\n"
                              "+0 > . 1:1(0) ack 1\n"
                              "+0 write(3, ..., 4000) = 4000\n"
                              "+0 > P. 1:4001(4000) ack 1\n"
                              "+.01 < . 1:1(0) ack 1 win 257 <sack 2001:3001,nop,nop>\n"
                              "+0 %{ assert tcpi_delivered == 2, tcpi_delivered }%\n"
                              "+0 < . 1:1(0) ack 4001 win 257\n"
                              "+0 %{ assert tcpi_delivered == 5, tcpi_delivered }%\n"
                              "+0 < . 1:1(0) ack 4001 win 257 <sack 1001:2001,nop,nop>\n"
                              "+0 %{ assert tcpi_delivered == 6, tcpi_delivered }%\n");
    expect_pass("delivered_server.pkt",
                              "`sysctl -q net.ipv4.tcp_timestamps=0`\n"
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"
                              "+0 bind(3, ..., ...) = 0\n"
                              "+0 listen(3, 1) = 0\n"
                              "+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n"
                              "+0 > S. 0:0(0) ack 1 <...>\n"
                              "+.01 < . 1:1(0) ack 1 win 257\n"
                              "+0 accept(3, ..., ...) = 4\n"
                              "+0 %{ assert tcpi_delivered == 1, tcpi_delivered }%\n"
                              "+0 write(4, ..., 2000) = 2000\n"
                              "+0 > P. 1:2001(2000) ack 1\n"
                              "+.01 < . 1:1(0) ack 2001 win 257\n"
                              "+0 %{ assert tcpi_delivered == 3, tcpi_delivered }%\n");
}

/* A simultaneous open counts twice: its own SYN-ACK leaves its queue
 * (tcp_clean_rtx_queue), then the SYN_RECV step counts the handshake. */
static void test_delivered_in_a_simultaneous_open(void **state)
{
    (void)state;
    expect_pass("delivered_simultaneous.pkt",
                "`sysctl -q net.ipv4.tcp_timestamps=0`\n"
                "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n"
                "+0 > S 0:0(0) <...>\n"
                "+.01 < S 0:0(0) win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
                "+0 > S. 0:0(0) ack 1 <...>\n"
                "+0 %{ assert tcpi_delivered == 0, tcpi_delivered }%\n"
                "+.01 < . 1:1(0) ack 1 win 257\n"
                "+0 %{ assert tcpi_delivered == 2, tcpi_delivered; assert tcpi_state == 1, tcpi_state }%\n");
}

/* Without SACK, Linux's tcp_add_reno_sack counts each duplicate ACK (not a
 * window update) as a delivery, and the cumulative ACK the rest, at
 * least one (tcp_remove_reno_sacks). */
static void test_delivered_counts_as_linux_without_sack(void **state)
{
    (void)state;
    expect_pass("delivered_reno.pkt",
                              "`sysctl -q net.ipv4.tcp_timestamps=0`\n"
                              "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                              "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n"
                              "+0 > S 0:0(0) <...>\n"
                              "+.01 < S. 0:0(0) ack 1 win 5840 <mss 1000,nop,wscale 6>\n"
                              "+0 %{ assert tcpi_delivered == 1, tcpi_delivered }%\n"
                              "+0 > . 1:1(0) ack 1\n"
                              "+0 write(3, ..., 4000) = 4000\n"
                              "+0 > P. 1:4001(4000) ack 1\n"
                              "+.01 < . 1:1(0) ack 1 win 257\n"
                              "+0 < . 1:1(0) ack 1 win 257\n"
                              "+0 < . 1:1(0) ack 1 win 257\n"
                              "+0 %{ assert tcpi_delivered == 3, tcpi_delivered }%\n"
                              "+0 < . 1:1(0) ack 4001 win 257\n"
                              "+0 %{ assert tcpi_delivered == 5, tcpi_delivered }%\n");
}

/* The SYN-ACK takes 420 of the SYN's 1420 bytes and lowers the MSS to 500:
 * the rest goes again at once, on the scoreboard as a retransmission of two
 * segments (tcpi_retrans, tcpi_total_retrans in pcount); after a SACK of
 * its tail its front, split from the PSH-marked skb, goes again without
 * PSH once RACK's reordering window (min_rtt/4) passes. */
static void test_syn_data_partly_acked_is_resent_as_retransmission(void **state)
{
    (void)state;
    expect_pass("syn_data_partial.pkt", WARMUP
                              "+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n"
                              "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 sendto(4, ..., 3000, MSG_FASTOPEN, ..., ...) = 1420\n"
                              "+0 > S 0:1420(1420) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO abcd1234,nop,nop>\n"
                              "+.01 < S. 0:0(0) ack 421 win 65535 <mss 500,nop,nop,sackOK,nop,wscale 6>\n"
                              "+0 > P. 421:1421(1000) ack 1\n"
                              "+0 %{ assert tcpi_delivered == 1, tcpi_delivered; assert tcpi_retrans == 2, tcpi_retrans; assert tcpi_total_retrans == 2, tcpi_total_retrans }%\n"
                              "+.01 < . 1:1(0) ack 421 win 257 <sack 921:1421,nop,nop>\n"
                              "+.005 > . 421:921(500) ack 1\n"
                              "+0 %{ assert tcpi_delivered == 2, tcpi_delivered; assert tcpi_retrans == 1, tcpi_retrans }%\n"
                              "+.01 < . 1:1(0) ack 1421 win 257\n"
                              "+0 %{ assert tcpi_delivered == 3, tcpi_delivered; assert tcpi_retrans == 0, tcpi_retrans }%\n");
}

/* After a SYN timeout the SYN goes plain; its data goes once the SYN-ACK
 * comes, as one skb from ISS+1 whatever the ISS (it was cut at an
 * ISS-dependent boundary: P. 1:730 for 1000 bytes), marked PSH. */
static void test_syn_data_after_timeout_is_one_retransmitted_skb(void **state)
{
    (void)state;
    expect_pass("syn_data_timeout.pkt", WARMUP
                              "+.01 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n"
                              "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 sendto(4, ..., 1200, MSG_FASTOPEN, ..., ...) = 1200\n"
                              "+0 > S 0:1200(1200) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO abcd1234,nop,nop>\n"
                              "+1 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10>\n"
                              "+.02 < S. 0:0(0) ack 1 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
                              "+0 > P. 1:1201(1200) ack 1\n"
                              "+0 %{ assert tcpi_delivered == 1, tcpi_delivered; assert tcpi_retrans == 1, tcpi_retrans; assert tcpi_fastopen_client_fail == 3, tcpi_fastopen_client_fail }%\n"
                              "+.01 < . 1:1(0) ack 1201 win 257\n"
                              "+0 %{ assert tcpi_delivered == 2, tcpi_delivered; assert tcpi_retrans == 0, tcpi_retrans }%\n");
}

/* A blocking sendto() with 1580 bytes left after the SYN: the writer
 * waits in connect (sk_write_waiting), so the SYN-ACK's ACK is saved for
 * the rest of the write, which then turns the connection interactive and
 * the reply's ACK waits for the FIN. */
static void test_blocked_writer_carries_the_synack_ack(void **state)
{
    (void)state;
    expect_pass("write_waiting.pkt", WARMUP
                              "+.01 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n"
                              "+0...0.030 sendto(4, ..., 3000, MSG_FASTOPEN, ..., ...) = 3000\n"
                              "+0 > S 0:1420(1420) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO abcd1234,nop,nop>\n"
                              "+.03 < S. 0:0(0) ack 1421 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
                              "+0 > P. 1421:3001(1580) ack 1\n"
                              "+.03 < P. 1:301(300) ack 3001 win 257\n"
                              "+0 %{ assert tcpi_delivered == 3, tcpi_delivered }%\n"
                              "+.03 read(4, ..., 1000) = 300\n"
                              "+0 close(4) = 0\n"
                              "+0 > F. 3001:3001(0) ack 301\n");
    expect_fail("write_waiting_acks.pkt", WARMUP
                "+.01 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n"
                "+0...0.030 sendto(4, ..., 3000, MSG_FASTOPEN, ..., ...) = 3000\n"
                "+0 > S 0:1420(1420) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO abcd1234,nop,nop>\n"
                "+.03 < S. 0:0(0) ack 1421 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
                "+0 > . 1421:1421(0) ack 1\n",
                "payload length differs");
}

/* The engine side, between two synack stacks: while a writer waits
 * (sk_write_waiting) the SYN-ACK is answered by no ACK; if the writer then
 * sends nothing, the delayed ACK goes at TCP_DELACK_MAX (200 ms); with no
 * waiter the ACK goes at once. */
typedef struct synack_wait {
    sk_fixture *f;
    size_t from;
} synack_wait;

static bool synack_seen(void *ctx)
{
    synack_wait *w = ctx;
    return sk_test_find(w->f, w->from, "s>c S.") != NULL;
}

static void fast_open_client(sk_fixture *f, bool waiting, sk_time_ns *synack_at, sk_time_ns *ack_at)
{
    sk_test_sysctl(f->server, "net.ipv4.tcp_fastopen", "3");
    int lfd = sk_test_listen(f, f->server, 80, 16);
    int qlen = 16;
    assert_int_equal(sk_setsockopt(f->server, lfd, SK_IPPROTO_TCP, SK_TCP_FASTOPEN, &qlen, sizeof qlen), 0);
    sk_endpoint to = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    /* a first connection for the cookie */
    int c1 = sk_socket(f->client);
    assert_int_equal(sk_sendto(f->client, c1, NULL, 0, SK_MSG_FASTOPEN, &to), -EINPROGRESS);
    sk_test_run_for(f, MSEC(100));
    sk_endpoint peer;
    int s1 = sk_accept(f->server, lfd, &peer);
    assert_true(s1 >= 0);
    sk_close(f->client, c1);
    sk_close(f->server, s1);
    sk_test_run_for(f, SEC(1));
    f->cursor = f->trace_len;
    size_t mark = f->trace_len;
    /* the second: data in the SYN, more left for after it */
    static uint8_t buf[3000];
    int c2 = sk_socket(f->client);
    ssize_t n = sk_sendto(f->client, c2, buf, sizeof buf, SK_MSG_FASTOPEN, &to);
    assert_true(n > 0 && n < (ssize_t)sizeof buf);
    if (waiting)
        assert_int_equal(sk_write_waiting(f->client, c2, true), 0);
    f->cursor = mark;
    synack_wait w = {f, mark};
    assert_true(sk_test_run_until_pred(f, synack_seen, &w, SEC(1)));
    const sk_trace_entry *sa = sk_test_find(f, mark, "s>c S.");
    assert_non_null(sa);
    *synack_at = sa->time;
    sk_test_run_for(f, MSEC(400));
    const sk_trace_entry *ack = sk_test_find(f, mark, "c>s . ack 1 len 0");
    assert_non_null(ack);
    *ack_at = ack->time;
}

static void test_write_waiting_delays_the_synack_ack(void **state)
{
    (void)state;
    sk_time_ns synack_at, ack_at;
    sk_fixture *f = sk_test_fixture_new(NULL);
    fast_open_client(f, true, &synack_at, &ack_at);
    /* received one link delay (10 ms) after it left; ACKed 200 ms later */
    assert_int_equal(ack_at - synack_at, MSEC(10) + MSEC(200));
    sk_test_fixture_free(f);
    f = sk_test_fixture_new(NULL);
    fast_open_client(f, false, &synack_at, &ack_at);
    assert_int_equal(ack_at - synack_at, MSEC(10));
    assert_int_equal(sk_write_waiting(f->client, 999, true), -EBADF);
    sk_test_fixture_free(f);
}

/* Both ends send SYN with data; ours is acknowledged, with its data, by
 * the peer's SYN-ACK in SYN_RECV: a bare ACK with a D-SACK of the peer's
 * SYN, and no byte of the SYN data left behind to send again. */
static void test_simultaneous_fast_open_leaves_no_data_behind(void **state)
{
    (void)state;
    expect_pass("simultaneous.pkt", WARMUP
                              "+.01 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n"
                              "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                              "+0 sendto(4, ..., 700, MSG_FASTOPEN, ..., ...) = 700\n"
                              "+0 > S 0:700(700) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO abcd1234,nop,nop>\n"
                              "+.005 < S 5000:5000(0) win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
                              "+0 > S. 0:0(0) ack 5001 <mss 1460,nop,nop,sackOK,nop,wscale 10>\n"
                              "+.01 < S. 5000:5000(0) ack 701 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
                              "+0 > . 701:701(0) ack 1 <nop,nop,sack 0:1>\n"
                              "+0 %{ assert tcpi_unacked == 0, tcpi_unacked; assert tcpi_bytes_acked == 701, tcpi_bytes_acked }%\n"
                              "+0 write(4, ..., 100) = 100\n"
                              "+0 > P. 701:801(100) ack 1\n");
}

/* sendto() to an AF_UNSPEC address with MSG_FASTOPEN: EOPNOTSUPP, as
 * tcp_sendmsg_fastopen.  A sysctl mainline Linux lacks fails as sysctl(8)
 * does, so `||` runs the fallback and `&&` does not run the next. */
static void test_runner_af_unspec_and_shell_lists(void **state)
{
    (void)state;
    static const char *tail =
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
        "+0 sendto(3, ..., 0, MSG_FASTOPEN, AF_UNSPEC, ...) = -1 EOPNOTSUPP (Operation not supported)\n"
        "+0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n"
        "+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO,nop,nop>\n";
    char text[2048];
    snprintf(text, sizeof text,
             "`sysctl -q net.ipv4.tcp_fastopen_cookies=0 &> /dev/null || sysctl -q net.ipv4.tcp_timestamps=0`\n%s",
             tail);
    expect_pass("or_list.pkt", text);
    /* && stops at the failure: timestamps stay on and the SYN carries one. */
    snprintf(text, sizeof text,
             "`sysctl -q net.ipv4.tcp_fastopen_cookies=0 && sysctl -q net.ipv4.tcp_timestamps=0`\n%s", tail);
    expect_fail("and_list.pkt", text, "option");
    /* Other commands with no synack equivalent still skip. */
    char msg[512] = "";
    assert_int_equal(run_script("or_skip.pkt", "`tc qdisc show || true`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n", msg,
                                sizeof msg),
                     SK_SCRIPT_SKIP);
}

/* sk_tcb gave user_timeout_ms's slot to `delivered`: it stays 456 bytes,
 * and TCP_USER_TIMEOUT lives on in the ext. */
static void test_tcb_size_unchanged(void **state)
{
    (void)state;
    assert_int_equal(sizeof(sk_tcb), 456);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivered_counts_as_linux_with_sack),
        cmocka_unit_test(test_delivered_counts_as_linux_without_sack),
        cmocka_unit_test(test_delivered_in_a_simultaneous_open),
        cmocka_unit_test(test_syn_data_partly_acked_is_resent_as_retransmission),
        cmocka_unit_test(test_syn_data_after_timeout_is_one_retransmitted_skb),
        cmocka_unit_test(test_blocked_writer_carries_the_synack_ack),
        cmocka_unit_test(test_write_waiting_delays_the_synack_ack),
        cmocka_unit_test(test_simultaneous_fast_open_leaves_no_data_behind),
        cmocka_unit_test(test_runner_af_unspec_and_shell_lists),
        cmocka_unit_test(test_tcb_size_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
