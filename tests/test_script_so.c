/* The script runner's two backends agree: each script here runs against the
 * linked engine and against libsynack-packetdrill.so driven through
 * struct packetdrill_interface (sk_script_run_opts.so_path), and both must
 * give the expected outcome with the same message.  Unlike ctest's
 * conformance_so this needs no ../shared, so the .so backend is exercised
 * in every build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "script/script.h"

#define LISTEN                                                                                                \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                           \
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"                                                \
    "+0 bind(3, ..., ...) = 0\n"                                                                              \
    "+0 listen(3, 1) = 0\n"

static sk_script_outcome run(const char *name, const char *text, const char *so, char *msg, size_t len)
{
    char err[512] = "";
    sk_script *script = sk_script_parse(name, text, strlen(text), err, sizeof(err));
    if (!script)
        fail_msg("%s does not parse: %s", name, err);
    sk_script_run_opts opts = {.so_path = so};
    sk_script_outcome o = sk_script_run(script, &opts, msg, len);
    sk_script_free(script);
    return o;
}

/* A live TS val the script did not set shows the stack's own clock offset,
 * which follows each instance's secret: not part of the comparison. */
static void mask_ts_vals(char *msg)
{
    for (char *p = strstr(msg, "TS val "); p; p = strstr(p + 1, "TS val ")) {
        char *d = p + 7, *e = d;
        while (*e >= '0' && *e <= '9')
            e++;
        if (e > d) {
            *d = 'N';
            memmove(d + 1, e, strlen(e) + 1);
        }
    }
}

/* Runs `text` through both backends: both must give `want`, and the same
 * message (which names `why` when not a pass). */
static void both(const char *name, const char *text, sk_script_outcome want, const char *why)
{
    char native[1024] = "", so[1024] = "";
    sk_script_outcome a = run(name, text, NULL, native, sizeof(native));
    sk_script_outcome b = run(name, text, SYNACK_PACKETDRILL_SO, so, sizeof(so));
    if (a != want)
        fail_msg("%s, native: outcome %d, want %d: %s", name, a, want, native);
    if (b != want)
        fail_msg("%s, .so: outcome %d, want %d: %s", name, b, want, so);
    mask_ts_vals(native);
    mask_ts_vals(so);
    assert_string_equal(native, so);
    if (why)
        assert_non_null(strstr(so, why));
}

/* Passive open, a blocking accept() that waits for the handshake, a
 * blocking read() that waits for data arriving later, and the close. */
static void test_passive_open_blocking_accept_and_read(void **state)
{
    (void)state;
    both("passive.pkt",
         LISTEN "+0...0.100 accept(3, ..., ...) = 4\n"
                "+0 < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n"
                "+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 10>\n"
                "+.1 < . 1:1(0) ack 1 win 257\n"
                "+0...0.2 read(4, ..., 100) = 100\n"
                "+.2 < P. 1:101(100) ack 1 win 257\n"
                "+0 > . 1:1(0) ack 101\n"
                "+0 close(4) = 0\n"
                "+0 > F. 1:1(0) ack 101\n"
                "+.1 < F. 101:101(0) ack 2 win 257\n"
                "+0 > . 2:2(0) ack 102\n",
         SK_SCRIPT_PASS, NULL);
}

/* A blocking connect() returns when the SYN-ACK arrives 100 ms later; a
 * blocking poll() returns when data arrives; write() data is sent. */
static void test_active_open_blocking_connect_and_poll(void **state)
{
    (void)state;
    both("active.pkt",
         "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
         "+0...0.1 connect(3, ..., ...) = 0\n"
         "+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 10>\n"
         "+.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,sackOK,TS val 700 ecr 100,nop,wscale 7>\n"
         "+0 > . 1:1(0) ack 1 <nop,nop,TS val 200 ecr 700>\n"
         "+0 write(3, ..., 1000) = 1000\n"
         "+0 > P. 1:1001(1000) ack 1 <nop,nop,TS val 200 ecr 700>\n"
         "+0...0.050 poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, 1000) = 1\n"
         "+.05 < P. 1:11(10) ack 1001 win 257 <nop,nop,TS val 800 ecr 200>\n"
         "+0 read(3, ..., 10) = 10\n",
         SK_SCRIPT_PASS, NULL);
}

/* Blocking Fast Open writers (sendto with MSG_FASTOPEN, and
 * TCP_FASTOPEN_CONNECT's first write): they return once the handshake
 * ends, with the whole write, and the SYN-ACK's ACK rides on the rest of
 * the data (sk_write_pending) through the object as through the engine;
 * a refused handshake fails the write though its data went in the SYN. */
static void test_blocking_fast_open_writers(void **state)
{
    (void)state;
    both("fo_sendto.pkt",
         "`sysctl -q net.ipv4.tcp_timestamps=0`\n"
         "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
         "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
         "+0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n"
         "+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO,nop,nop>\n"
         "+.01 < S. 0:0(0) ack 1 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6,FO abcd1234,nop,nop>\n"
         "+0 > . 1:1(0) ack 1\n"
         "+.01 close(3) = 0\n"
         "+0 > F. 1:1(0) ack 1\n"
         "+.01 < F. 1:1(0) ack 2 win 92\n"
         "+0 > . 2:2(0) ack 2\n"
         "+.01 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n"
         "+0...0.030 sendto(4, ..., 3000, MSG_FASTOPEN, ..., ...) = 3000\n"
         "+0 > S 0:1420(1420) <mss 1460,nop,nop,sackOK,nop,wscale 10,FO abcd1234,nop,nop>\n"
         "+.03 < S. 0:0(0) ack 1421 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
         "+0 > P. 1421:3001(1580) ack 1\n"
         "+.03 < P. 1:301(300) ack 3001 win 257\n"
         "+.03 read(4, ..., 1000) = 300\n"
         "+0 close(4) = 0\n"
         "+0 > F. 3001:3001(0) ack 301\n",
         SK_SCRIPT_PASS, NULL);
    both("fo_connect_refused.pkt",
         "`sysctl -q net.ipv4.tcp_timestamps=0`\n"
         "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
         "+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_CONNECT, [1], 4) = 0\n"
         "+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_NO_COOKIE, [1], 4) = 0\n"
         "+0 connect(3, ..., ...) = 0\n"
         "+0...0.030 write(3, ..., 500) = -1 ECONNREFUSED (Connection refused)\n"
         "+0 > S 0:500(500) <mss 1460,nop,nop,sackOK,nop,wscale 10>\n"
         "+.03 < R. 0:0(0) ack 1 win 0\n",
         SK_SCRIPT_PASS, NULL);
    /* A plain blocking write while the handshake runs waits in
     * sk_stream_wait_connect, which counts it in sk_write_pending too: no
     * bare ACK, the data carries it. */
    both("write_while_connecting.pkt",
         "`sysctl -q net.ipv4.tcp_timestamps=0`\n"
         "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
         "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
         "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation is now in progress)\n"
         "+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10>\n"
         "+0 fcntl(3, F_SETFL, O_RDWR) = 0\n"
         "+0...0.010 write(3, ..., 1000) = 1000\n"
         "+.01 < S. 0:0(0) ack 1 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>\n"
         "+0 > P. 1:1001(1000) ack 1\n"
         "+.01 < . 1:1(0) ack 1001 win 257\n",
         SK_SCRIPT_PASS, NULL);
}

/* Sysctl lines before the first call or packet configure the stack (a
 * timed one too): through the .so they become packetdrill_interface_init()
 * flags. */
static void test_leading_sysctl_reaches_the_stack(void **state)
{
    (void)state;
    /* Non-blocking, so connect() returns at once with the SYN sent. */
    const char *nb = "0 `sysctl -q net.ipv4.tcp_timestamps=0`\n"
                     "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                     "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                     "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
                     "+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10>\n";
    both("no-ts.pkt", nb, SK_SCRIPT_PASS, NULL);
    /* And the default still sends timestamps: the option list differs. */
    both("ts.pkt", strchr(nb, '\n') + 1, SK_SCRIPT_FAIL, "option count");
}

/* epoll: level-triggered EPOLLIN reported once data is queued. */
static void test_epoll_wait(void **state)
{
    (void)state;
    both("epoll.pkt",
         LISTEN "+0 < S 0:0(0) win 65535 <mss 1000>\n"
                "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
                "+.1 < . 1:1(0) ack 1 win 65535\n"
                "+0 accept(3, ..., ...) = 4\n"
                "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
                "+0 epoll_create(1) = 5\n"
                "+0 epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN, fd=4}) = 0\n"
                "+0 epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0\n"
                "+0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n"
                "+.1 < P. 1:11(10) ack 1 win 65535\n"
                "+0 > . 1:1(0) ack 11\n"
                "+0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1\n"
                "+0 read(4, ..., 10) = 10\n",
         SK_SCRIPT_PASS, NULL);
}

/* Failures read the same: a wrong return value, a late packet. */
static void test_failures_name_the_same_line(void **state)
{
    (void)state;
    both("wrong-ret.pkt", LISTEN "+0 listen(3, 1) = -1 EINVAL\n", SK_SCRIPT_FAIL, "listen() expected");
    both("late.pkt",
         LISTEN "+0 < S 0:0(0) win 65535 <mss 1000>\n"
                "+.5 > S. 0:0(0) ack 1 <mss 1460>\n",
         SK_SCRIPT_FAIL, "sent at");
}

/* The object takes sysctls at socket(): one changed after it was created
 * and before a socket() cannot reach it, which the .so backend reports as
 * a SKIP rather than running with the old value. */
static void test_sysctl_after_start_skips_through_the_so(void **state)
{
    (void)state;
    const char *text = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                       "+0 `sysctl -q net.ipv4.tcp_timestamps=0`\n"
                       "+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4\n";
    char msg[1024] = "";
    assert_int_equal(run("late-sysctl.pkt", text, NULL, msg, sizeof(msg)), SK_SCRIPT_PASS);
    assert_int_equal(run("late-sysctl.pkt", text, SYNACK_PACKETDRILL_SO, msg, sizeof(msg)), SK_SCRIPT_SKIP);
    assert_non_null(strstr(msg, "sysctl changed after the shared object was created"));
}

/* A call marked `...` runs on packetdrill's system-call thread and returns
 * when the main thread's packets (or the clock) complete it: through the
 * .so its return time is what that thread read right after the call, and
 * it must agree with the engine's to the microsecond, early or late. */
static void test_blocking_call_return_times(void **state)
{
    (void)state;
    const char *accepted = LISTEN "+0 < S 0:0(0) win 65535 <mss 1000>\n"
                                  "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
                                  "+.1 < . 1:1(0) ack 1 win 257\n"
                                  "+0 accept(3, ..., ...) = 4\n";
    char text[2048];
    /* Data comes at +.1, the script says +.2: returned too early. */
    snprintf(text, sizeof(text), "%s+0...0.2 read(4, ..., 10) = 10\n+.1 < P. 1:11(10) ack 1 win 257\n", accepted);
    both("early.pkt", text, SK_SCRIPT_FAIL, "read() expected to return at 0.300000, returned at 0.200000");
    /* poll() with a 250 ms timeout returns 0 at exactly its timeout. */
    snprintf(text, sizeof(text), "%s+0...0.25 poll([{fd=4, events=POLLIN, revents=0}], 1, 250) = 0\n"
                                 "+.25 close(4) = 0\n+0 > F. 1:1(0) ack 1\n", accepted);
    both("poll-timeout.pkt", text, SK_SCRIPT_PASS, NULL);
    /* A retransmission only a timer sends is waited for (packetdrill asks
     * netdev_receive() until it has one) and leaves at its RTO. */
    snprintf(text, sizeof(text), "%s+0 write(4, ..., 100) = 100\n+0 > P. 1:101(100) ack 1\n"
                                 "+.3 > P. 1:101(100) ack 1\n", accepted);
    both("rto.pkt", text, SK_SCRIPT_PASS, NULL);
    /* A call that never returns fails at the end of its range, and the
     * run ends with the .so's system-call thread still asleep in the
     * object: closing the descriptors wakes it so the object can be freed. */
    snprintf(text, sizeof(text), "%s+0...0.5 read(4, ..., 10) = 10\n+.1...0.2 write(4, ..., 10) = 10\n", accepted);
    both("never.pkt", text, SK_SCRIPT_FAIL, "read() still blocked at 0.604000, expected to return by 0.600000");
}

/* %{ }% blocks read TCP_INFO with the OS's getsockopt(2) in packetdrill,
 * which cannot reach a shared object: through the .so they are not run, and
 * a script that otherwise passes SKIPs saying so; one that fails elsewhere
 * still FAILs. */
static void test_code_blocks_skip_through_the_so(void **state)
{
    (void)state;
    const char *text = LISTEN "+0 %{ assert tcpi_state == 10, tcpi_state }%\n"
                              "+0 < S 0:0(0) win 65535 <mss 1000>\n"
                              "+0 > S. 0:0(0) ack 1 <mss 1460>\n";
    char msg[1024] = "";
    assert_int_equal(run("code.pkt", text, SYNACK_PACKETDRILL_SO, msg, sizeof(msg)), SK_SCRIPT_SKIP);
    assert_non_null(strstr(msg, "code.pkt:5: packetdrill reads TCP_INFO for a %{ }% block with the operating "
                                "system's getsockopt(2)"));
    char failing[1024];
    snprintf(failing, sizeof(failing), "%s+0 > F. 1:1(0) ack 1\n", text);
    assert_int_equal(run("code-fail.pkt", failing, SYNACK_PACKETDRILL_SO, msg, sizeof(msg)), SK_SCRIPT_FAIL);
    assert_non_null(strstr(msg, "code-fail.pkt:8: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passive_open_blocking_accept_and_read),
        cmocka_unit_test(test_active_open_blocking_connect_and_poll),
        cmocka_unit_test(test_blocking_fast_open_writers),
        cmocka_unit_test(test_leading_sysctl_reaches_the_stack),
        cmocka_unit_test(test_epoll_wait),
        cmocka_unit_test(test_failures_name_the_same_line),
        cmocka_unit_test(test_sysctl_after_start_skips_through_the_so),
        cmocka_unit_test(test_blocking_call_return_times),
        cmocka_unit_test(test_code_blocks_skip_through_the_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
