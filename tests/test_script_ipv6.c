/* The script runner's --ip_version (packetdrill's): ipv6 runs a script
 * with AF_INET6 sockets and IPv6 on the wire at the kernel runner's
 * addresses, ipv4-mapped-ipv6 with AF_INET6 sockets and IPv4 on the wire;
 * a script that names a version or pins addresses of one runs only in
 * that one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "script/script.h"

static sk_script_outcome run(const char *text, const char *version, char *msg, size_t msglen)
{
    char err[512] = "";
    sk_script *script = sk_script_parse("v6.pkt", text, strlen(text), err, sizeof(err));
    if (!script)
        fail_msg("does not parse: %s", err);
    sk_script_run_opts opts = {.ip_version = version};
    sk_script_outcome o = sk_script_run(script, &opts, msg, msglen);
    sk_script_free(script);
    return o;
}

#define EXPECT(text, version, outcome, why)                                                                   \
    do {                                                                                                      \
        char msg_[1024] = "";                                                                                 \
        sk_script_outcome o_ = run((text), (version), msg_, sizeof(msg_));                                    \
        const char *why_ = (why);                                                                             \
        if (o_ != (outcome) || (why_ && !strstr(msg_, why_)))                                                 \
            fail_msg("outcome %d, wanted %d: %s", (int)o_, (int)(outcome), msg_);                            \
    } while (0)

#define PASSIVE                                                                                               \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                           \
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"                                                \
    "+0 bind(3, ..., ...) = 0\n"                                                                              \
    "+0 listen(3, 1) = 0\n"                                                                                   \
    "+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"                                                       \
    "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n"                                                          \
    "+0 < . 1:1(0) ack 1 win 257\n"                                                                           \
    "+0 accept(3, ..., ...) = 4\n"                                                                            \
    "+0 write(4, ..., 100) = 100\n"                                                                           \
    "+0 > P. 1:101(100) ack 1\n"                                                                              \
    "+.01 < . 1:1(0) ack 101 win 257\n"                                                                       \
    "+0 close(4) = 0\n"                                                                                       \
    "+0 > F. 101:101(0) ack 1\n"

#define ACTIVE                                                                                                \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                           \
    "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"                                                         \
    "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"                                  \
    "+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10>\n"                                                  \
    "+.01 < S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2,nop,nop,sackOK>\n"                                \
    "+0 > . 1:1(0) ack 1\n"

#define NO_TS "`sysctl -q net.ipv4.tcp_timestamps=0`\n"

/* The same script in each version: at the kernel runner's IPv6 MTU of
 * 1520 the MSS is 1460, as IPv4's at 1500. */
static void test_each_version_passes(void **state)
{
    (void)state;
    const char *versions[] = {NULL, "ipv4", "ipv6", "ipv4-mapped-ipv6"};
    for (size_t i = 0; i < 4; i++) {
        EXPECT(NO_TS PASSIVE, versions[i], SK_SCRIPT_PASS, NULL);
        EXPECT(NO_TS ACTIVE, versions[i], SK_SCRIPT_PASS, NULL);
    }
}

/* IPv6 is really on the wire: at MTU 1500 an IPv6 SYN-ACK carries MSS
 * 1440 (1500 - 40 - 20), which fails the IPv4 figure. */
static void test_ipv6_mss_from_the_ipv6_header(void **state)
{
    (void)state;
    const char *six = "--ip_version=ipv6\n--mtu=1500\n" NO_TS
                      "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                      "+0 bind(3, ..., ...) = 0\n"
                      "+0 listen(3, 1) = 0\n"
                      "+0 < S 0:0(0) win 32792 <mss 1440,nop,wscale 7>\n"
                      "+0 > S. 0:0(0) ack 1 <mss 1440,nop,wscale 10>\n";
    EXPECT(six, NULL, SK_SCRIPT_PASS, NULL);
    const char *wrong = "--ip_version=ipv6\n--mtu=1500\n" NO_TS
                        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                        "+0 bind(3, ..., ...) = 0\n"
                        "+0 listen(3, 1) = 0\n"
                        "+0 < S 0:0(0) win 32792 <mss 1440,nop,wscale 7>\n"
                        "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n";
    EXPECT(wrong, NULL, SK_SCRIPT_FAIL, "option 1 differs");
    /* An explicit AF_INET socket in an IPv6 run: the stack has no IPv4
     * route to the script's IPv6 address, so connect() cannot proceed. */
    EXPECT("--ip_version=ipv6\n" NO_TS "0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n"
           "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n",
           NULL, SK_SCRIPT_FAIL, NULL);
}

/* A script that names a version, or pins addresses of one, runs in that
 * version only; a pass in the other skips it with the reason. */
static void test_pinned_scripts_skip_the_other_pass(void **state)
{
    (void)state;
    EXPECT("--ip_version=ipv4\n" NO_TS PASSIVE, "ipv6", SK_SCRIPT_SKIP, "runs with --ip_version=ipv4 only");
    EXPECT("--ip_version=ipv4\n" NO_TS PASSIVE, NULL, SK_SCRIPT_PASS, NULL);
    EXPECT("--local_ip=192.168.0.2\n" NO_TS PASSIVE, "ipv6", SK_SCRIPT_SKIP,
           "--local_ip=192.168.0.2 is IPv4: it runs in the IPv4 pass only");
    EXPECT("--local_ip=192.168.0.2\n" NO_TS PASSIVE, "ipv4-mapped-ipv6", SK_SCRIPT_PASS, NULL);
    EXPECT("--ip_version=ipv6\n--local_ip=fd00::5\n" NO_TS PASSIVE, NULL, SK_SCRIPT_PASS, NULL);
    EXPECT("--ip_version=ipv6\n--local_ip=10.0.0.5\n" NO_TS PASSIVE, NULL, SK_SCRIPT_FAIL,
           "--local_ip=10.0.0.5 does not fit --ip_version=ipv6");
    EXPECT("--ip_version=ipv7\n" NO_TS PASSIVE, NULL, SK_SCRIPT_FAIL, "not ipv4, ipv6 or ipv4-mapped-ipv6");
}


/* The IPv6 socket options by their names (linux/in6.h values), and an
 * IP-level one on the same AF_INET6 socket, as scripts set them. */
static void test_ipv6_socket_options_by_name(void **state)
{
    (void)state;
    const char *opts = "--ip_version=ipv6\n" NO_TS
                       "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                       "+0 getsockopt(3, SOL_IPV6, IPV6_MTU_DISCOVER, [IPV6_PMTUDISC_WANT], [4]) = 0\n"
                       "+0 setsockopt(3, SOL_IPV6, IPV6_MTU_DISCOVER, [IPV6_PMTUDISC_OMIT], 4) = 0\n"
                       "+0 getsockopt(3, SOL_IPV6, IPV6_MTU_DISCOVER, [5], [4]) = 0\n"
                       "+0 setsockopt(3, SOL_IPV6, IPV6_MTU_DISCOVER, [6], 4) = -1 EINVAL (Invalid argument)\n"
                       "+0 setsockopt(3, SOL_IPV6, IPV6_RECVERR, [1], 4) = 0\n"
                       "+0 getsockopt(3, SOL_IPV6, IPV6_RECVERR, [1], [4]) = 0\n"
                       "+0 setsockopt(3, SOL_IPV6, IPV6_FLOWINFO, [1], 4) = 0\n"
                       "+0 setsockopt(3, SOL_IPV6, IPV6_FLOWINFO_SEND, [1], 4) = 0\n"
                       "+0 getsockopt(3, SOL_IPV6, IPV6_FLOWINFO_SEND, [1], [4]) = 0\n"
                       "+0 setsockopt(3, SOL_IP, IP_MTU_DISCOVER, [IP_PMTUDISC_DONT], 1) = 0\n"
                       "+0 setsockopt(3, SOL_IP, IP_RECVERR, [1], 4) = 0\n"
                       "+0 bind(3, ..., ...) = 0\n"
                       "+0 listen(3, 1) = 0\n"
                       "+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>\n"
                       "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n"
                       "+0 < . 1:1(0) ack 1 win 257\n"
                       "+0 accept(3, ..., ...) = 4\n"
                       "+0 getsockopt(4, SOL_IPV6, IPV6_MTU_DISCOVER, [IPV6_PMTUDISC_OMIT], [4]) = 0\n"
                       "+0 getsockopt(4, SOL_IPV6, IPV6_RECVERR, [1], [4]) = 0\n";
    EXPECT(opts, NULL, SK_SCRIPT_PASS, NULL);
}

/* TFO_COOKIE for an IPv6 peer: Linux's SipHash over both 16-byte
 * addresses, computed by the runner; the stack takes the SYN's data with
 * it, and answers another cookie with the right one instead. */
static void test_fastopen_cookie_of_an_ipv6_peer(void **state)
{
    (void)state;
#define TFO_SERVER(cookie, answer)                                                                            \
    "`sysctl -q net.ipv4.tcp_fastopen=0x403`\n"                                                               \
    "`sysctl -q net.ipv4.tcp_fastopen_key=a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4`\n" NO_TS                       \
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"                                                           \
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"                                                \
    "+0 bind(3, ..., ...) = 0\n"                                                                              \
    "+0 listen(3, 1) = 0\n"                                                                                   \
    "+0 < S 0:10(10) win 32792 <mss 1460,sackOK,nop,nop,FO " cookie ",nop,nop>\n"                             \
    "+0 > S. 0:0(0) " answer "\n"
    EXPECT(TFO_SERVER("TFO_COOKIE", "ack 11 <mss 1460,nop,nop,sackOK>"), "ipv6", SK_SCRIPT_PASS, NULL);
    EXPECT(TFO_SERVER("TFO_COOKIE", "ack 11 <mss 1460,nop,nop,sackOK>"), NULL, SK_SCRIPT_PASS, NULL);
    /* Any other cookie: the data is not taken, and the SYN-ACK carries
     * the right one (the cookie is required: 0x400 without 0x200). */
    EXPECT(TFO_SERVER("0011223344556677", "ack 1 <mss 1460,nop,nop,sackOK,FO TFO_COOKIE,nop,nop>"), "ipv6",
           SK_SCRIPT_PASS, NULL);
    EXPECT(TFO_SERVER("0011223344556677", "ack 11 <mss 1460,nop,nop,sackOK>"), "ipv6", SK_SCRIPT_FAIL, "differs");
#undef TFO_SERVER
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_version_passes),
        cmocka_unit_test(test_ipv6_mss_from_the_ipv6_header),
        cmocka_unit_test(test_ipv6_socket_options_by_name),
        cmocka_unit_test(test_pinned_scripts_skip_the_other_pass),
        cmocka_unit_test(test_fastopen_cookie_of_an_ipv6_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
