/*
 * ss(8) for synack (src/observe/ss.c): golden output for fixed socket
 * tables, in the exact layout iproute2's ss prints for the kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "observe/ss.h"

#define NOW (100ull * SK_NSEC_PER_SEC)
#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define MS(x) ((sk_time_ns)(x) * SK_NSEC_PER_MSEC)

static sk_sock_info sock(int fd, int state, uint32_t la, uint16_t lp, uint32_t ra, uint16_t rp, uint32_t rq,
                         uint32_t sq)
{
    sk_sock_info si;
    memset(&si, 0, sizeof(si));
    si.fd = fd;
    si.state = state;
    si.local = (sk_endpoint){.addr = la, .port = lp, .family = SK_AF_INET};
    si.remote = (sk_endpoint){.addr = ra, .port = rp, .family = SK_AF_INET};
    si.recv_q = rq;
    si.send_q = sq;
    si.info.tcpi_state = (uint8_t)state;
    if (fd >= 0) {
        si.info.tcpi_snd_mss = 1448;
        si.info.tcpi_reordering = 3;
    }
    return si;
}

static void with_timer(sk_sock_info *si, sk_timer_kind kind, sk_time_ns in, uint32_t retrans)
{
    si->timer = kind;
    si->timer_expires = NOW + in;
    si->timer_retrans = retrans;
}

/* A server 10.0.0.2 with one socket of each kind, in sk_sockets order. */
static size_t server_table(sk_sock_info *s)
{
    size_t n = 0;
    s[n++] = sock(3, SK_TCP_LISTEN, 0, 80, 0, 0, 0, 128);
    s[n] = sock(4, SK_TCP_ESTABLISHED, IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 40000, 0, 0);
    with_timer(&s[n++], SK_TIMER_KEEPALIVE, MS(7199500), 0);
    s[n] = sock(5, SK_TCP_SYN_SENT, IP(10, 0, 0, 2), 40002, IP(10, 0, 0, 9), 443, 0, 0);
    with_timer(&s[n++], SK_TIMER_ON, MS(3000), 2);
    s[n] = sock(-1, SK_TCP_SYN_RECV, IP(10, 0, 0, 2), 80, IP(10, 0, 0, 3), 50000, 0, 0);
    s[n].info.tcpi_snd_mss = 0; /* a request sock: no TCP_INFO */
    with_timer(&s[n++], SK_TIMER_ON, MS(1000), 1);
    s[n] = sock(6, SK_TCP_ESTABLISHED, IP(10, 0, 0, 2), 8080, IP(10, 0, 0, 1), 40001, 5, 1448);
    with_timer(&s[n++], SK_TIMER_ON, MS(200), 0);
    s[n] = sock(-1, SK_TCP_TIME_WAIT, IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 39999, 0, 0);
    s[n].orphan = true;
    with_timer(&s[n++], SK_TIMER_TIMEWAIT, MS(58500), 0);
    /* An orphaned FIN_WAIT_2 kept in a TIME_WAIT record, as Linux does. */
    s[n] = sock(-1, SK_TCP_FIN_WAIT2, IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 39998, 0, 0);
    s[n].orphan = true;
    with_timer(&s[n++], SK_TIMER_TIMEWAIT, MS(59999), 0);
    s[n++] = sock(7, SK_TCP_CLOSE, 0, 0, 0, 0, 0, 0);
    return n;
}

/* Runs `ss ARGS` (space-separated) over the server table or `socks`. */
static char *render_socks(const sk_sock_info *socks, size_t n, const char *args)
{
    char buf[512];
    char *argv[32];
    int argc = 0;
    argv[argc++] = "ss";
    snprintf(buf, sizeof(buf), "%s", args);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    sk_ss_query q;
    char err[256];
    int rc = sk_ss_parse(&q, argc, argv, err, sizeof(err));
    if (rc < 0)
        fail_msg("ss %s: %s", args, err);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    if (q.summary)
        sk_ss_print_summary(f, socks, n, 2);
    else
        sk_ss_print(f, &q, socks, n, NOW);
    fclose(f);
    sk_ss_query_free(&q);
    return out;
}

static char *render(const char *args)
{
    sk_sock_info s[16];
    size_t n = server_table(s);
    return render_socks(s, n, args);
}

#define ASSERT_SS(args, expected)                                                                                \
    do {                                                                                                        \
        char *got_ = render(args);                                                                              \
        if (strcmp(got_, (expected)) != 0)                                                                      \
            fail_msg("ss %s:\n--- got ---\n%s--- expected ---\n%s", (args), got_, (expected));                 \
        free(got_);                                                                                             \
    } while (0)

static void test_tan_lists_every_socket_aligned_as_ss(void **state)
{
    (void)state;
    ASSERT_SS("-tan", "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
                      "LISTEN     0      128          0.0.0.0:80         0.0.0.0:*\n"
                      "ESTAB      0      0           10.0.0.2:80        10.0.0.1:40000\n"
                      "SYN-SENT   0      0           10.0.0.2:40002     10.0.0.9:443\n"
                      "SYN-RECV   0      0           10.0.0.2:80        10.0.0.3:50000\n"
                      "ESTAB      5      1448        10.0.0.2:8080      10.0.0.1:40001\n"
                      "TIME-WAIT  0      0           10.0.0.2:80        10.0.0.1:39999\n"
                      "FIN-WAIT-2 0      0           10.0.0.2:80        10.0.0.1:39998\n"
                      "UNCONN     0      0            0.0.0.0:*          0.0.0.0:*\n");
}

/* -m adds iproute2's skmem line from SO_MEMINFO's figures, in its order
 * (r rb t tb f w o bl d); TIME_WAIT records have none. */
static void test_m_prints_skmem(void **state)
{
    (void)state;
    sk_sock_info s[2];
    s[0] = sock(4, SK_TCP_ESTABLISHED, IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 40000, 1000, 0);
    s[0].meminfo[SK_MEMINFO_RMEM_ALLOC] = 2304;
    s[0].meminfo[SK_MEMINFO_RCVBUF] = 131072;
    s[0].meminfo[SK_MEMINFO_SNDBUF] = 87040;
    s[0].meminfo[SK_MEMINFO_WMEM_QUEUED] = 2728;
    s[1] = sock(-1, SK_TCP_TIME_WAIT, IP(10, 0, 0, 2), 80, IP(10, 0, 0, 1), 39999, 0, 0);
    s[1].orphan = true;
    with_timer(&s[1], SK_TIMER_TIMEWAIT, MS(58500), 0);
    char *got = render_socks(s, 2, "-tanm");
    const char *want = "State     Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                       "ESTAB     1000   0           10.0.0.2:80       10.0.0.1:40000\n"
                       "\t skmem:(r2304,rb131072,t0,tb87040,f0,w2728,o0,bl0,d0)\n"
                       "TIME-WAIT 0      0           10.0.0.2:80       10.0.0.1:39999\n";
    if (strcmp(got, want) != 0)
        fail_msg("ss -tanm:\n--- got ---\n%s--- expected ---\n%s", got, want);
    free(got);
}

/* ss's default state set (SS_CONN) leaves out LISTEN, CLOSE, SYN-RECV
 * and TIME-WAIT; an orphaned FIN_WAIT_2 still shows. */
static void test_without_a_hides_listen_closed_synrecv_timewait(void **state)
{
    (void)state;
    ASSERT_SS("-tn", "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
                     "ESTAB      0      0           10.0.0.2:80        10.0.0.1:40000\n"
                     "SYN-SENT   0      0           10.0.0.2:40002     10.0.0.9:443\n"
                     "ESTAB      5      1448        10.0.0.2:8080      10.0.0.1:40001\n"
                     "FIN-WAIT-2 0      0           10.0.0.2:80        10.0.0.1:39998\n");
}

static void test_tnoa_prints_timers_after_the_padded_peer_port(void **state)
{
    (void)state;
    ASSERT_SS("-tnoa", "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
                       "LISTEN     0      128          0.0.0.0:80         0.0.0.0:*\n"
                       "ESTAB      0      0           10.0.0.2:80        10.0.0.1:40000 timer:(keepalive,119min,0)\n"
                       "SYN-SENT   0      0           10.0.0.2:40002     10.0.0.9:443   timer:(on,3sec,2)\n"
                       "SYN-RECV   0      0           10.0.0.2:80        10.0.0.3:50000 timer:(on,1sec,1)\n"
                       "ESTAB      5      1448        10.0.0.2:8080      10.0.0.1:40001 timer:(on,200ms,0)\n"
                       "TIME-WAIT  0      0           10.0.0.2:80        10.0.0.1:39999 timer:(timewait,58sec,0)\n"
                       "FIN-WAIT-2 0      0           10.0.0.2:80        10.0.0.1:39998 timer:(timewait,59sec,0)\n"
                       "UNCONN     0      0            0.0.0.0:*          0.0.0.0:*\n");
}

/* One state selected: ss drops the State column (the reference's
 * `ss -tno state time-wait`). */
static void test_single_state_drops_the_state_column(void **state)
{
    (void)state;
    ASSERT_SS("-tnoa state time-wait", "Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                       "0      0           10.0.0.2:80       10.0.0.1:39999 timer:(timewait,58sec,0)\n");
    ASSERT_SS("-tn state established", "Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                       "0      0           10.0.0.2:80       10.0.0.1:40000\n"
                                       "5      1448        10.0.0.2:8080     10.0.0.1:40001\n");
}

/* Without the header the columns are as wide as their contents, but
 * Recv-Q and Send-Q are printed "%-6d". */
static void test_no_header_sizes_columns_from_rows(void **state)
{
    (void)state;
    ASSERT_SS("-tanH", "LISTEN     0      128     0.0.0.0:80     0.0.0.0:*\n"
                       "ESTAB      0      0      10.0.0.2:80    10.0.0.1:40000\n"
                       "SYN-SENT   0      0      10.0.0.2:40002 10.0.0.9:443\n"
                       "SYN-RECV   0      0      10.0.0.2:80    10.0.0.3:50000\n"
                       "ESTAB      5      1448   10.0.0.2:8080  10.0.0.1:40001\n"
                       "TIME-WAIT  0      0      10.0.0.2:80    10.0.0.1:39999\n"
                       "FIN-WAIT-2 0      0      10.0.0.2:80    10.0.0.1:39998\n"
                       "UNCONN     0      0       0.0.0.0:*      0.0.0.0:*\n");
}

/* -l is LISTEN plus CLOSE ("UNCONN"), as ss's -l. */
static void test_l_shows_listening_and_unconnected(void **state)
{
    (void)state;
    ASSERT_SS("-tnl", "State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                      "LISTEN 0      128          0.0.0.0:80        0.0.0.0:*\n"
                      "UNCONN 0      0            0.0.0.0:*         0.0.0.0:*\n");
}

static void test_state_groups_and_exclude(void **state)
{
    (void)state;
    ASSERT_SS("-tn state bucket", "State     Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                  "SYN-RECV  0      0           10.0.0.2:80       10.0.0.3:50000\n"
                                  "TIME-WAIT 0      0           10.0.0.2:80       10.0.0.1:39999\n");
    ASSERT_SS("-tn state synchronized", "State      Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                        "ESTAB      0      0           10.0.0.2:80       10.0.0.1:40000\n"
                                        "SYN-RECV   0      0           10.0.0.2:80       10.0.0.3:50000\n"
                                        "ESTAB      5      1448        10.0.0.2:8080     10.0.0.1:40001\n"
                                        "TIME-WAIT  0      0           10.0.0.2:80       10.0.0.1:39999\n"
                                        "FIN-WAIT-2 0      0           10.0.0.2:80       10.0.0.1:39998\n");
    /* connected = synchronized + SYN-SENT; big = all but the bucket. */
    ASSERT_SS("-tn state big exclude closed exclude listening exclude syn-sent",
              "State      Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
              "ESTAB      0      0           10.0.0.2:80       10.0.0.1:40000\n"
              "ESTAB      5      1448        10.0.0.2:8080     10.0.0.1:40001\n"
              "FIN-WAIT-2 0      0           10.0.0.2:80       10.0.0.1:39998\n");
    ASSERT_SS("-tn state connected exclude established exclude fin-wait-2",
              "State     Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
              "SYN-SENT  0      0           10.0.0.2:40002     10.0.0.9:443\n"
              "SYN-RECV  0      0           10.0.0.2:80        10.0.0.3:50000\n"
              "TIME-WAIT 0      0           10.0.0.2:80        10.0.0.1:39999\n");
    ASSERT_SS("-tn state syn-sent state listening", "State    Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
                                                    "LISTEN   0      128          0.0.0.0:80         0.0.0.0:*\n"
                                                    "SYN-SENT 0      0           10.0.0.2:40002     10.0.0.9:443\n");
}

static void test_expression_filters(void **state)
{
    (void)state;
    ASSERT_SS("-tna sport = :80", "State      Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                  "LISTEN     0      128          0.0.0.0:80        0.0.0.0:*\n"
                                  "ESTAB      0      0           10.0.0.2:80       10.0.0.1:40000\n"
                                  "SYN-RECV   0      0           10.0.0.2:80       10.0.0.3:50000\n"
                                  "TIME-WAIT  0      0           10.0.0.2:80       10.0.0.1:39999\n"
                                  "FIN-WAIT-2 0      0           10.0.0.2:80       10.0.0.1:39998\n");
    ASSERT_SS("-tn sport == :80 and dport != :40000",
              "State      Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
              "FIN-WAIT-2 0      0           10.0.0.2:80       10.0.0.1:39998\n");
    ASSERT_SS("-tna dport = :443 or dst 10.0.0.3", "State    Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
                                                   "SYN-SENT 0      0           10.0.0.2:40002     10.0.0.9:443\n"
                                                   "SYN-RECV 0      0           10.0.0.2:80        10.0.0.3:50000\n");
    /* Nothing matches: the header alone, as ss prints it. */
    ASSERT_SS("-tna dst 10.0.0.2:80", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n");
    ASSERT_SS("-tna dst 10.0.0.0/24:40001", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                            "ESTAB 5      1448        10.0.0.2:8080     10.0.0.1:40001\n");
    ASSERT_SS("-tna src 10.0.0.2 and ( sport > :1024 or dport < :40000 ) and not dport = :443",
              "State      Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
              "ESTAB      5      1448        10.0.0.2:8080     10.0.0.1:40001\n"
              "TIME-WAIT  0      0           10.0.0.2:80       10.0.0.1:39999\n"
              "FIN-WAIT-2 0      0           10.0.0.2:80       10.0.0.1:39998\n");
    /* Parentheses may touch the words, and a bare port works too. */
    ASSERT_SS("-tn (dport = 40000)", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                     "ESTAB 0      0           10.0.0.2:80       10.0.0.1:40000\n");
}

static void test_empty_selection_prints_the_header_only(void **state)
{
    (void)state;
    ASSERT_SS("-tn state close-wait", "Recv-Q Send-Q Local Address:Port Peer Address:Port\n");
}

static void test_timer_durations_as_ss_prints_them(void **state)
{
    (void)state;
    static const struct {
        uint64_t ms;
        const char *text;
    } cases[] = {
        {0, ""},           {7, "007ms"},         {200, "200ms"},      {1000, "1sec"},       {1500, "1.500ms"},
        {9999, "9.999ms"}, {10500, "10sec"},     {58000, "58sec"},    {59999, "59sec"},     {60000, "1min"},
        {65000, "1min5sec"}, {65500, "1min5sec"}, {599000, "9min59sec"}, {600000, "10min"}, {7199000, "119min"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        sk_ss_format_timer(cases[i].ms, buf, sizeof(buf));
        if (strcmp(buf, cases[i].text))
            fail_msg("%llu ms: got '%s', expected '%s'", (unsigned long long)cases[i].ms, buf, cases[i].text);
    }
}

/* An established connection after a small exchange, TCP_INFO as synack
 * fills it, and its listener (which, as in Linux, shows cwnd only). */
static size_t info_table(sk_sock_info *s)
{
    s[0] = sock(3, SK_TCP_LISTEN, 0, 8099, 0, 0, 0, 128);
    s[0].info.tcpi_snd_cwnd = 10;
    s[0].info.tcpi_rto = 1000000;
    s[1] = sock(4, SK_TCP_ESTABLISHED, IP(10, 0, 0, 2), 8099, IP(10, 0, 0, 1), 40001, 0, 0);
    memcpy(s[1].cong, "cubic", sizeof("cubic"));
    struct sk_tcp_info *ti = &s[1].info;
    ti->tcpi_options = SK_TCPI_OPT_TIMESTAMPS | SK_TCPI_OPT_SACK | SK_TCPI_OPT_WSCALE;
    ti->tcpi_snd_wscale = 7;
    ti->tcpi_rcv_wscale = 7;
    ti->tcpi_rto = 204000;
    ti->tcpi_rtt = 500;
    ti->tcpi_rttvar = 250;
    ti->tcpi_ato = 40000;
    ti->tcpi_snd_mss = 1448;
    ti->tcpi_pmtu = 1500;
    ti->tcpi_rcv_mss = 536;
    ti->tcpi_advmss = 1448;
    ti->tcpi_snd_cwnd = 10;
    ti->tcpi_snd_ssthresh = 0x7fffffff;
    ti->tcpi_bytes_sent = 131;
    ti->tcpi_bytes_acked = 132;
    ti->tcpi_bytes_received = 35;
    ti->tcpi_segs_out = 4;
    ti->tcpi_segs_in = 5;
    ti->tcpi_data_segs_out = 1;
    ti->tcpi_data_segs_in = 1;
    ti->tcpi_last_data_sent = 120;
    ti->tcpi_last_data_recv = 121;
    ti->tcpi_last_ack_recv = 100;
    ti->tcpi_rcv_space = 14600;
    ti->tcpi_rcv_ssthresh = 64076;
    ti->tcpi_min_rtt = 450;
    ti->tcpi_snd_wnd = 65535;
    ti->tcpi_reordering = 3;
    return 2;
}

static void test_ti_details_line(void **state)
{
    (void)state;
    sk_sock_info s[2];
    size_t n = info_table(s);
    char *got = render_socks(s, n, "-tia");
    const char *expected =
        "State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
        "LISTEN 0      128          0.0.0.0:8099      0.0.0.0:*\n"
        "\t reno cwnd:10\n"
        "ESTAB  0      0           10.0.0.2:8099     10.0.0.1:40001\n"
        "\t ts sack cubic wscale:7,7 rto:204 rtt:0.5/0.25 ato:40 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 "
        "cwnd:10 bytes_sent:131 bytes_acked:132 bytes_received:35 segs_out:4 segs_in:5 data_segs_out:1 "
        "data_segs_in:1 send 232Mbps lastsnd:120 lastrcv:121 lastack:100 rcv_space:14600 rcv_ssthresh:64076 "
        "minrtt:0.45 snd_wnd:65535\n";
    if (strcmp(got, expected))
        fail_msg("--- got ---\n%s--- expected ---\n%s", got, expected);
    free(got);

    /* -n prints the rate unscaled; a finite ssthresh and retransmissions
     * appear once there are some. */
    s[1].info.tcpi_snd_ssthresh = 7;
    s[1].info.tcpi_total_retrans = 2;
    s[1].info.tcpi_backoff = 1;
    got = render_socks(s, n, "-tin");
    expected = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
               "ESTAB 0      0           10.0.0.2:8099     10.0.0.1:40001\n"
               "\t ts sack cubic wscale:7,7 rto:204 backoff:1 rtt:0.5/0.25 ato:40 mss:1448 pmtu:1500 rcvmss:536 "
               "advmss:1448 cwnd:10 ssthresh:7 bytes_sent:131 bytes_acked:132 bytes_received:35 segs_out:4 "
               "segs_in:5 data_segs_out:1 data_segs_in:1 send 231680000bps lastsnd:120 lastrcv:121 lastack:100 "
               "retrans:0/2 rcv_space:14600 rcv_ssthresh:64076 minrtt:0.45 snd_wnd:65535\n";
    if (strcmp(got, expected))
        fail_msg("--- got ---\n%s--- expected ---\n%s", got, expected);
    free(got);
}

/* TIME_WAIT records and request socks have no TCP_INFO: no -i line. */
static void test_ti_skips_timewait_and_requests(void **state)
{
    (void)state;
    ASSERT_SS("-tin state bucket", "State     Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                   "SYN-RECV  0      0           10.0.0.2:80       10.0.0.3:50000\n"
                                   "TIME-WAIT 0      0           10.0.0.2:80       10.0.0.1:39999\n");
}

/* Linux's arithmetic: TCP total = sockets + TIME_WAIT; "closed" = sockets
 * not hashed (CLOSE) + TIME_WAIT; requests are not sockets. */
static void test_summary(void **state)
{
    (void)state;
    ASSERT_SS("-s", "Total: 5\n"
                    "TCP:   7 (estab 2, closed 3, orphaned 0, timewait 2)\n"
                    "\n"
                    "Transport Total     IP        IPv6\n"
                    "RAW\t  0         0         0        \n"
                    "UDP\t  0         0         0        \n"
                    "TCP\t  4         4         0        \n"
                    "INET\t  4         4         0        \n"
                    "FRAG\t  0         0         0        \n"
                    "\n");
}

static void test_json(void **state)
{
    (void)state;
    ASSERT_SS("-tno --json state time-wait",
              "[\n  {\"state\":\"TIME-WAIT\",\"recv_q\":0,\"send_q\":0,\"local\":{\"addr\":\"10.0.0.2\",\"port\":80},"
              "\"peer\":{\"addr\":\"10.0.0.1\",\"port\":39999},\"fd\":-1,\"orphan\":true,"
              "\"timer\":{\"name\":\"timewait\",\"expires_ms\":58500,\"retrans\":0}}\n]\n");
    ASSERT_SS("--json state close-wait", "[]\n");
}

/* -4 and -6 select address families as ss's filter_af_set() does (they
 * add up): every synack socket is IPv4, so -4 lists what no family
 * option lists, -6 alone nothing (the header only, as ss with no IPv6
 * socket), and -4 -6 everything again. */
static void test_family_options(void **state)
{
    (void)state;
    const char *all = "State      Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
                      "LISTEN     0      128          0.0.0.0:80         0.0.0.0:*\n"
                      "ESTAB      0      0           10.0.0.2:80        10.0.0.1:40000\n"
                      "SYN-SENT   0      0           10.0.0.2:40002     10.0.0.9:443\n"
                      "SYN-RECV   0      0           10.0.0.2:80        10.0.0.3:50000\n"
                      "ESTAB      5      1448        10.0.0.2:8080      10.0.0.1:40001\n"
                      "TIME-WAIT  0      0           10.0.0.2:80        10.0.0.1:39999\n"
                      "FIN-WAIT-2 0      0           10.0.0.2:80        10.0.0.1:39998\n"
                      "UNCONN     0      0            0.0.0.0:*          0.0.0.0:*\n";
    ASSERT_SS("-tan4", all);
    ASSERT_SS("-tan --ipv4", all);
    ASSERT_SS("-tan -4 -6", all);
    ASSERT_SS("-tan6", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n");
    ASSERT_SS("-tan --ipv6", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n");
    ASSERT_SS("-tn6 --json", "[]\n");
    ASSERT_SS("-tn4 dport = :40000", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                     "ESTAB 0      0           10.0.0.2:80       10.0.0.1:40000\n");
}

static void expect_parse_error(const char *args, const char *message)
{
    char buf[256];
    char *argv[16];
    int argc = 0;
    argv[argc++] = "ss";
    snprintf(buf, sizeof(buf), "%s", args);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    sk_ss_query q;
    char err[256];
    assert_int_equal(sk_ss_parse(&q, argc, argv, err, sizeof(err)), -1);
    sk_ss_query_free(&q);
    if (strcmp(err, message))
        fail_msg("ss %s: got '%s', expected '%s'", args, err, message);
}

static void test_usage_errors(void **state)
{
    (void)state;
    expect_parse_error("-u",
                       "unknown option '-u' (synack ss knows -t -a -l -n -o -i -m -s -H -4 -6 --json; it lists TCP only)");
    expect_parse_error("--udp", "unknown option '--udp' (synack ss knows -t -a -l -n -o -i -m -s -H -4 -6 --json)");
    /* -e is refused, not ignored: its fields have nothing true to show. */
    const char *no_e = "option '-e' is not supported: synack sockets have no inode or socket cookie for ss's ino: "
                       "and sk: fields";
    expect_parse_error("-e", no_e);
    expect_parse_error("-tane", no_e);
    expect_parse_error("--extended", no_e);
    /* Other ss options synack has nothing for are refused the same way. */
    expect_parse_error("-p", "unknown option '-p' (synack ss knows -t -a -l -n -o -i -m -s -H -4 -6 --json; it lists "
                             "TCP only)");
    expect_parse_error("state estab",
                       "wrong state name 'estab' (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, "
                       "time-wait, closed, close-wait, last-ack, listening, closing, or a group: all, connected, "
                       "synchronized, bucket, big)");
    expect_parse_error("state", "'state' wants a state name or group");
    expect_parse_error("sport = :99999", "bad filter expression: not a port ':99999'");
    expect_parse_error("dst 10.0.0.300", "bad filter expression: not an address[/prefix][:port] '10.0.0.300'");
    expect_parse_error("( sport = :80", "bad filter expression: missing ')'");
    expect_parse_error("sport = :80 )", "bad filter expression: unexpected ')'");
    expect_parse_error("foo", "bad filter expression: expected sport, dport, src or dst, not 'foo'");
    expect_parse_error("src > 10.0.0.1", "bad filter expression: src and dst compare with = or != only, not '>'");
    expect_parse_error("sport =", "bad filter expression: missing value after '='");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tan_lists_every_socket_aligned_as_ss),
        cmocka_unit_test(test_m_prints_skmem),
        cmocka_unit_test(test_without_a_hides_listen_closed_synrecv_timewait),
        cmocka_unit_test(test_tnoa_prints_timers_after_the_padded_peer_port),
        cmocka_unit_test(test_single_state_drops_the_state_column),
        cmocka_unit_test(test_no_header_sizes_columns_from_rows),
        cmocka_unit_test(test_l_shows_listening_and_unconnected),
        cmocka_unit_test(test_state_groups_and_exclude),
        cmocka_unit_test(test_expression_filters),
        cmocka_unit_test(test_empty_selection_prints_the_header_only),
        cmocka_unit_test(test_timer_durations_as_ss_prints_them),
        cmocka_unit_test(test_ti_details_line),
        cmocka_unit_test(test_ti_skips_timewait_and_requests),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_family_options),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
