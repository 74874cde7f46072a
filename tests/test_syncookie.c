/*
 * SYN cookies: the codec in Linux's format (net/ipv4/syncookies.c) and the
 * listener's use of it (tcp_conn_request, tcp_syn_flood_action,
 * cookie_v4_check), through the public API on the in-memory wire.
 */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "syncookie.h"

#define SPOOF_ADDR 0x0a000009u /* no such host: SYN-ACKs to it have no route */
#define C2_ADDR 0x0a000003u

static const uint8_t test_key[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                     0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
static const sk_cookie_tuple test_tuple = {.saddr = 0xc0a80001u, .daddr = 0x0a000002u, .sport = 40000, .dport = 80};
static const uint16_t msstab[4] = {536, 1300, 1440, 1460};

static uint64_t test_rng(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------ */
/* The codec                                                             */
/* ------------------------------------------------------------------ */

static void test_mss_table_picks_largest_entry_not_above_peer_mss(void **state)
{
    (void)state;
    static const struct {
        uint16_t mss;
        unsigned index;
    } cases[] = {{0, 0},    {88, 0},   {535, 0},  {536, 0},  {1299, 0}, {1300, 1},
                 {1439, 1}, {1440, 2}, {1459, 2}, {1460, 3}, {8960, 3}, {65535, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(sk_syncookie_mss_index(cases[i].mss), cases[i].index);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(sk_syncookie_mss_value(i), msstab[i]);
    assert_int_equal(sk_syncookie_mss_value(4), 0);
}

/* Every MSS index, with a peer MSS on and just above each table entry,
 * made at several instants of a minute and checked in the same and the
 * next minute. */
static void test_cookie_round_trip_every_mss_index(void **state)
{
    (void)state;
    static const sk_time_ns made_at[] = {0, SEC(1), SEC(59) + MSEC(999), SEC(3600) + MSEC(7)};
    uint64_t x = 42;
    for (size_t t = 0; t < sizeof made_at / sizeof made_at[0]; t++) {
        for (unsigned idx = 0; idx < 4; idx++) {
            for (unsigned above = 0; above < 2; above++) {
                uint16_t peer_mss = (uint16_t)(msstab[idx] + above);
                uint32_t seq = (uint32_t)test_rng(&x);
                uint16_t mss = 0;
                uint32_t cookie = sk_syncookie_make(test_key, &test_tuple, seq, peer_mss, made_at[t], &mss);
                assert_int_equal(mss, msstab[idx]);
                assert_int_equal(sk_syncookie_check(test_key, &test_tuple, cookie, seq, made_at[t]), msstab[idx]);
                sk_time_ns next_minute = (made_at[t] / SEC(60) + 1) * SEC(60);
                assert_int_equal(sk_syncookie_check(test_key, &test_tuple, cookie, seq, next_minute), msstab[idx]);
                assert_int_equal(sk_syncookie_check(test_key, &test_tuple, cookie, seq, next_minute + SEC(59)),
                                 msstab[idx]);
            }
        }
    }
    /* Below the smallest entry the cookie still says 536, as Linux. */
    uint16_t mss = 0;
    uint32_t cookie = sk_syncookie_make(test_key, &test_tuple, 7, 100, SEC(5), &mss);
    assert_int_equal(mss, 536);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, cookie, 7, SEC(5)), 536);
}

/* The SYN's sequence number is added in plainly: cookies for the same
 * tuple and minute differ by exactly the difference of the SYNs' seqs. */
static void test_cookie_is_linear_in_their_seq(void **state)
{
    (void)state;
    uint32_t c0 = sk_syncookie_make(test_key, &test_tuple, 1000, 1460, SEC(10), NULL);
    assert_int_equal(sk_syncookie_make(test_key, &test_tuple, 1001, 1460, SEC(10), NULL), c0 + 1);
    assert_int_equal(sk_syncookie_make(test_key, &test_tuple, 1000 + 0x80000000u, 1460, SEC(10), NULL),
                     c0 + 0x80000000u);
    /* The count sits in the top 8 bits: one minute later the cookie moves
     * by 2^24 plus a different 24-bit H2 part. */
    uint32_t c1 = sk_syncookie_make(test_key, &test_tuple, 1000, 1460, SEC(70), NULL);
    int32_t rest = (int32_t)(c1 - c0 - (1u << 24));
    assert_true(rest > -(1 << 24) && rest < (1 << 24));
}

/* Linux's MAX_SYNCOOKIE_AGE = 2: a cookie is good in the minute it was
 * made and the next one, so it lives between 1 and 2 minutes. */
static void test_cookie_expires_after_two_minute_counts(void **state)
{
    (void)state;
    const sk_time_ns m2 = SEC(120);
    uint32_t seq = 0x12345678u;
    uint32_t early = sk_syncookie_make(test_key, &test_tuple, seq, 1460, m2, NULL);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, early, seq, m2 + SEC(59) + MSEC(999)), 1460);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, early, seq, SEC(180)), 1460);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, early, seq, SEC(240) - 1), 1460);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, early, seq, SEC(240)), 0);

    uint32_t late = sk_syncookie_make(test_key, &test_tuple, seq, 1460, SEC(180) - 1, NULL);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, late, seq, SEC(180)), 1460);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, late, seq, SEC(240)), 0);

    /* Replays long after: the 8-bit count field wraps after 256 minutes,
     * but H2 covers the whole count, so the replay still fails. */
    static const sk_time_ns later[] = {SEC(60) * 3, SEC(60) * 10, SEC(60) * 255, SEC(60) * 256,
                                       SEC(60) * 257, SEC(60) * 512};
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
        assert_int_equal(sk_syncookie_check(test_key, &test_tuple, early, seq, m2 + later[i]), 0);
    /* A cookie from the future (clock went back a minute) is no good. */
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, early, seq, SEC(60)), 0);
}

static void test_forged_cookies_rejected(void **state)
{
    (void)state;
    const sk_time_ns now = SEC(600);
    uint32_t seq = 0xdeadbeefu;
    uint32_t cookie = sk_syncookie_make(test_key, &test_tuple, seq, 1460, now, NULL);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, cookie, seq, now), 1460);

    /* Random ISNs: a guess passes with probability 8 / 2^24. */
    uint64_t x = 7;
    unsigned accepted = 0;
    for (int i = 0; i < 100000; i++)
        accepted += sk_syncookie_check(test_key, &test_tuple, (uint32_t)test_rng(&x), seq, now) != 0;
    assert_int_equal(accepted, 0);

    /* Bit flips above the 2-bit MSS index (flipping bit 0 or 1 can only
     * name another MSS of the table, as in Linux). */
    for (int bit = 2; bit < 32; bit++)
        assert_int_equal(sk_syncookie_check(test_key, &test_tuple, cookie ^ (1u << bit), seq, now), 0);

    /* Another tuple, another key, or a far-off sequence number. */
    sk_cookie_tuple other = test_tuple;
    other.saddr ^= 1;
    assert_int_equal(sk_syncookie_check(test_key, &other, cookie, seq, now), 0);
    other = test_tuple;
    other.daddr ^= 0x100;
    assert_int_equal(sk_syncookie_check(test_key, &other, cookie, seq, now), 0);
    other = test_tuple;
    other.sport++;
    assert_int_equal(sk_syncookie_check(test_key, &other, cookie, seq, now), 0);
    other = test_tuple;
    other.dport = 8080;
    assert_int_equal(sk_syncookie_check(test_key, &other, cookie, seq, now), 0);
    uint8_t key2[16];
    memcpy(key2, test_key, sizeof key2);
    key2[15] ^= 0x80;
    assert_int_equal(sk_syncookie_check(key2, &test_tuple, cookie, seq, now), 0);
    assert_int_equal(sk_syncookie_check(test_key, &test_tuple, cookie, seq + 100000, now), 0);
}

static uint32_t expected_option_bits(const sk_cookie_opts *o)
{
    uint32_t bits = o->wscale_ok ? o->snd_wscale : 0xf;
    return bits | (o->sack_ok ? 0x10 : 0) | (o->ecn_ok ? 0x20 : 0);
}

/* Every option combination (window scale none or 0..14, SACK, ECN)
 * survives the TSval round trip, at clocks on and around 64 boundaries. */
static void test_timestamp_options_round_trip(void **state)
{
    (void)state;
    static const uint32_t clocks[] = {64, 100, 1000, 123456789, 0xfffffffeu, 0x7fffffc0u};
    for (size_t c = 0; c < sizeof clocks / sizeof clocks[0]; c++) {
        for (int ws = -1; ws <= 14; ws++) {
            for (int sack = 0; sack < 2; sack++) {
                for (int ecn = 0; ecn < 2; ecn++) {
                    sk_cookie_opts in = {.wscale_ok = ws >= 0, .snd_wscale = (uint8_t)(ws >= 0 ? ws : 0),
                                         .sack_ok = sack, .ecn_ok = ecn};
                    uint32_t ts = sk_syncookie_ts_make(clocks[c], &in);
                    assert_int_equal(ts & 0x3f, expected_option_bits(&in));
                    /* Never ahead of the clock, never 64 or more behind. */
                    assert_true(clocks[c] - ts < 64);
                    sk_cookie_opts out;
                    memset(&out, 0xa5, sizeof out);
                    sk_syncookie_ts_decode(ts, &out);
                    assert_int_equal(out.wscale_ok, in.wscale_ok);
                    assert_int_equal(out.snd_wscale, in.snd_wscale);
                    assert_int_equal(out.sack_ok, in.sack_ok);
                    assert_int_equal(out.ecn_ok, in.ecn_ok);
                }
            }
        }
    }
}

/* Exact values of Linux's cookie_init_timestamp arithmetic. */
static void test_timestamp_exact_values(void **state)
{
    (void)state;
    sk_cookie_opts ws7_sack = {.wscale_ok = true, .snd_wscale = 7, .sack_ok = true};
    sk_cookie_opts all = {.wscale_ok = false, .sack_ok = true, .ecn_ok = true};
    sk_cookie_opts ws0 = {.wscale_ok = true, .snd_wscale = 0};
    assert_int_equal(sk_syncookie_ts_make(1000, &ws7_sack), 983);   /* 960 | 0x17 */
    assert_int_equal(sk_syncookie_ts_make(1000, &all), 959);        /* 960 | 0x3f > 1000: -64 */
    assert_int_equal(sk_syncookie_ts_make(1023, &all), 1023);
    assert_int_equal(sk_syncookie_ts_make(64, &ws0), 64);
    assert_int_equal(sk_syncookie_ts_make(63, &ws0), 0);
    assert_int_equal(sk_syncookie_ts_make(10, &all), 0xffffffffu); /* 63 - 64, modulo 2^32 */
}

/* ------------------------------------------------------------------ */
/* The listener                                                          */
/* ------------------------------------------------------------------ */

typedef struct message_log {
    unsigned count;
    char last[160];
} message_log;

static void log_messages(void *ctx, const sk_event *ev)
{
    message_log *m = ctx;
    if (ev->type == SK_EV_MESSAGE) {
        m->count++;
        strncpy(m->last, ev->message, sizeof m->last - 1);
    }
}

static void inject_spoofed_syn(sk_fixture *f, uint16_t sport, uint32_t seq)
{
    sk_segment_spec syn;
    memset(&syn, 0, sizeof syn);
    syn.src = SPOOF_ADDR;
    syn.dst = SK_TEST_SERVER_ADDR;
    syn.sport = sport;
    syn.dport = 80;
    syn.seq = seq;
    syn.flags = SK_TH_SYN;
    syn.window = 65535;
    sk_test_inject(f, &syn);
}

static int maxseg(sk_stack *s, int fd)
{
    int v = 0;
    size_t len = sizeof v;
    assert_int_equal(sk_getsockopt(s, fd, SK_IPPROTO_TCP, SK_TCP_MAXSEG, &v, &len), 0);
    return v;
}

/* tcp_syncookies = 0 and a SYN queue full of spoofed requests: the
 * client's SYNs are dropped (TCPReqQFullDrop, ListenDrops; "Dropping
 * request" said once), until the spoofed requests expire after their
 * five SYN-ACK retransmissions (63 s) and its last SYN retry gets in. */
static void test_syn_queue_full_without_cookies_drops(void **state)
{
    sk_fixture *f = *state;
    message_log log = {0, ""};
    f->on_event = log_messages;
    f->event_ctx = &log;
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "0");
    sk_test_listen(f, f->server, 80, 2);
    sk_time_ns t0 = sk_wire_now(f->wire);
    inject_spoofed_syn(f, 1000, 1);
    inject_spoofed_syn(f, 1001, 2);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 2);
    sk_test_skip(f);

    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_until(f, t0 + MSEC(500));
    EXPECT_SEGMENTS(f, "c>s S seq 0");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDrop"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDoCookies"), 0);
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 0);
    assert_int_equal(log.count, 1);
    assert_string_equal(log.last,
                        "Possible SYN flooding on port 10.0.0.2:80. Dropping request.");

    /* Retries at 1, 3, 7, 15 and 31 s are dropped too; said only once. */
    sk_test_run_until(f, t0 + SEC(62));
    assert_int_equal(sk_state(f->client, fd), SK_TCP_SYN_SENT);
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDrop"), 6);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 6);
    assert_int_equal(log.count, 1);
    assert_int_equal(sk_test_count(f, 0, "s>c *"), 0);

    /* The spoofed requests go at t0 + 63 s; the retry at 63 s finds room. */
    ASSERT_RUN_UNTIL_STATE(f, f->client, fd, SK_TCP_ESTABLISHED, SEC(2));
    sk_test_run_for(f, MSEC(20));
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDrop"), 6);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 0);
}

/* Early drop without cookies: Linux keeps the last quarter of
 * tcp_max_syn_backlog for proven peers once the SYN queue reaches 3/4 of
 * it, even below the listen backlog (ListenDrops only). */
static void test_without_cookies_last_quarter_of_max_syn_backlog_dropped(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "0");
    sk_test_sysctl(f->server, "net.ipv4.tcp_max_syn_backlog", "128");
    sk_test_listen(f, f->server, 80, 1000);
    for (uint16_t i = 0; i < 100; i++)
        inject_spoofed_syn(f, (uint16_t)(2000 + i), i);
    sk_test_run_for(f, MSEC(1));
    /* 128 - qlen < 32 from qlen 97 on. */
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 97);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 3);
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDrop"), 0);
}

/* tcp_syncookies = 2: every SYN gets a cookie, no request is kept, and
 * the final ACK creates the connection with the MSS and options decoded
 * from the cookie and the echoed timestamp. */
static void test_always_cookies_connection_completes_with_decoded_options(void **state)
{
    sk_fixture *f = *state;
    message_log log = {0, ""};
    f->on_event = log_messages;
    f->event_ctx = &log;
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    int lfd = sk_test_listen(f, f->server, 80, 128);
    sk_time_ns t0 = sk_wire_now(f->wire);
    int cfd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_until(f, t0 + MSEC(15));
    /* The SYN-ACK is out and the server remembers nothing. */
    EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c S. ack 1");
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 0);
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 1);
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDoCookies"), 1);
    const sk_trace_entry *synack = &f->trace[f->cursor - 1];
    assert_true(synack->seg.opts.has_ts && synack->seg.opts.has_wscale && synack->seg.opts.sack_permitted);
    assert_int_equal(synack->seg.opts.mss, 1460);

    ASSERT_RUN_UNTIL_STATE(f, f->client, cfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(20));
    EXPECT_SEGMENTS(f, "c>s . seq 1 ack 1");
    const sk_trace_entry *ack = &f->trace[f->cursor - 1];
    assert_int_equal(ack->seg.opts.ts_ecr, synack->seg.opts.ts_val);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 1);
    assert_int_equal(sk_counter(f->server, "SyncookiesFailed"), 0);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    sk_endpoint peer;
    int sfd = sk_accept(f->server, lfd, &peer);
    assert_true(sfd >= 0);
    assert_int_equal(peer.addr, SK_TEST_CLIENT_ADDR);
    assert_int_equal(sk_state(f->server, sfd), SK_TCP_ESTABLISHED);
    EXPECT_TRANSITIONS(f, f->server, 80, sk_test_local_port(f->client, cfd), "SYN_RECV ESTABLISHED");

    /* MSS 1460 less the 12 bytes of timestamps. */
    assert_int_equal(maxseg(f->server, sfd), 1448);
    struct sk_tcp_info st = sk_test_tcp_info(f->server, sfd), ct = sk_test_tcp_info(f->client, cfd);
    assert_int_equal(st.tcpi_options, SK_TCPI_OPT_TIMESTAMPS | SK_TCPI_OPT_SACK | SK_TCPI_OPT_WSCALE);
    assert_int_equal(st.tcpi_snd_wscale, ct.tcpi_rcv_wscale);
    assert_int_equal(st.tcpi_rcv_wscale, ct.tcpi_snd_wscale);
    assert_int_equal(synack->seg.opts.wscale, ct.tcpi_snd_wscale);

    /* Scaled windows both ways: bulk data flows. */
    assert_int_equal(sk_test_transfer(f, f->client, cfd, f->server, sfd, 300000, SEC(10)), 300000);
    assert_int_equal(sk_test_transfer(f, f->server, sfd, f->client, cfd, 300000, SEC(10)), 300000);
    /* Linux says nothing with tcp_syncookies = 2: cookies are the rule. */
    assert_int_equal(log.count, 0);
}

/* The peer's MSS 1400 is carried as the table's 1300. */
static void test_cookie_rounds_peer_mss_down_to_table(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    int lfd = sk_test_listen(f, f->server, 80, 128);
    int cfd = sk_socket(f->client);
    int mss = 1400;
    assert_int_equal(sk_setsockopt(f->client, cfd, SK_IPPROTO_TCP, SK_TCP_MAXSEG, &mss, sizeof mss), 0);
    sk_endpoint server = {.addr = SK_TEST_SERVER_ADDR, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_connect(f->client, cfd, &server), -EINPROGRESS);
    ASSERT_RUN_UNTIL_STATE(f, f->client, cfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(20));
    const sk_trace_entry *syn = sk_test_find(f, 0, "c>s S");
    assert_non_null(syn);
    assert_int_equal(syn->seg.opts.mss, 1400);
    int sfd = sk_accept(f->server, lfd, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(maxseg(f->server, sfd), 1300 - 12);
    assert_int_equal(sk_test_transfer(f, f->server, sfd, f->client, cfd, 50000, SEC(10)), 50000);
}

/* Without timestamps there is nowhere to keep window scale and SACK: the
 * SYN-ACK offers neither and the connection has neither (Linux clears the
 * options when !tstamp_ok). */
static void test_cookie_without_timestamps_has_no_wscale_or_sack(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    sk_test_sysctl(f->client, "net.ipv4.tcp_timestamps", "0");
    int lfd = sk_test_listen(f, f->server, 80, 128);
    int cfd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, cfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(20));
    const sk_trace_entry *syn = sk_test_find(f, 0, "c>s S");
    assert_true(syn->seg.opts.has_wscale && syn->seg.opts.sack_permitted && !syn->seg.opts.has_ts);
    const sk_trace_entry *synack = sk_test_find(f, 0, "s>c S.");
    assert_non_null(synack);
    assert_false(synack->seg.opts.has_ts);
    assert_false(synack->seg.opts.has_wscale);
    assert_false(synack->seg.opts.sack_permitted);
    assert_int_equal(synack->seg.opts.mss, 1460);
    int sfd = sk_accept(f->server, lfd, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(sk_test_tcp_info(f->server, sfd).tcpi_options, 0);
    assert_int_equal(sk_test_tcp_info(f->client, cfd).tcpi_options, 0);
    assert_int_equal(maxseg(f->server, sfd), 1460);
    assert_int_equal(sk_test_transfer(f, f->client, cfd, f->server, sfd, 100000, SEC(10)), 100000);
}

/* Timestamps without window scaling or SACK on the client: the cookie's
 * TSval says "no wscale" (0xf) and no SACK. */
static void test_cookie_timestamps_without_wscale_or_sack(void **state)
{
    sk_fixture *f = *state;
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    sk_test_sysctl(f->client, "net.ipv4.tcp_window_scaling", "0");
    sk_test_sysctl(f->client, "net.ipv4.tcp_sack", "0");
    int lfd = sk_test_listen(f, f->server, 80, 128);
    int cfd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, cfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(20));
    int sfd = sk_accept(f->server, lfd, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(sk_test_tcp_info(f->server, sfd).tcpi_options, SK_TCPI_OPT_TIMESTAMPS);
    assert_int_equal(maxseg(f->server, sfd), 1448);
}

/* An ACK to a listener that matches no request and carries no valid
 * cookie: SyncookiesFailed, and the RST a listener gives any stray ACK. */
static void test_forged_cookie_ack_counted_and_reset(void **state)
{
    sk_fixture *f = *state;
    sk_test_listen(f, f->server, 80, 128);
    sk_segment_spec ack;
    memset(&ack, 0, sizeof ack);
    ack.src = SPOOF_ADDR;
    ack.dst = SK_TEST_SERVER_ADDR;
    ack.sport = 4444;
    ack.dport = 80;
    ack.seq = 5000;
    ack.ack = 0x31337u;
    ack.flags = SK_TH_ACK;
    ack.window = 1000;
    sk_test_inject(f, &ack);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "?>s . abs seq 5000 ack 201527", "s>? R abs seq 201527");
    assert_int_equal(sk_counter(f->server, "SyncookiesFailed"), 1);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 0);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 0);

    /* With cookies off the ACK is not looked at as one. */
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "0");
    sk_test_inject(f, &ack);
    sk_test_run_for(f, MSEC(1));
    EXPECT_SEGMENTS(f, "?>s .", "s>? R abs seq 201527");
    assert_int_equal(sk_counter(f->server, "SyncookiesFailed"), 1);
}

/* The final ACK of a cookie handshake is lost; the client believes it is
 * connected.  A copy arriving 50 s later (same minute count or the next)
 * still opens the connection; one arriving 3 minutes later is refused
 * and reset. */
static void test_cookie_ack_replayed_late_and_after_expiry(void **state)
{
    sk_fixture *f = *state;
    sk_stack *c2 = sk_test_add_host(f, "c2", C2_ADDR);
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    int lfd = sk_test_listen(f, f->server, 80, 128);
    sk_test_drop(f, "c>s .", 1);
    sk_test_drop(f, "c2>s .", 1);
    int fd1 = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    int fd2 = sk_test_connect(f, c2, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_state(f->client, fd1), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(c2, fd2), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 2);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 0);
    assert_int_equal(sk_accept(f->server, lfd, NULL), -EAGAIN);
    const sk_trace_entry *lost1 = sk_test_last(f, "c>s .");
    const sk_trace_entry *lost2 = sk_test_last(f, "c2>s .");
    assert_non_null(lost1);
    assert_non_null(lost2);
    assert_int_equal(lost1->fate, SK_WIRE_LOST);
    size_t i2 = lost2->index;

    sk_test_run_for(f, SEC(50));
    sk_test_reinject(f, lost1);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 1);
    int sfd = sk_accept(f->server, lfd, NULL);
    assert_true(sfd >= 0);
    assert_int_equal(sk_state(f->server, sfd), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_test_transfer(f, f->client, fd1, f->server, sfd, 10000, SEC(5)), 10000);

    sk_test_run_for(f, SEC(130));
    sk_test_skip(f);
    sk_test_reinject(f, &f->trace[i2]);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c2>s . seq 1 ack 1", "s>c2 R seq 1");
    assert_int_equal(sk_counter(f->server, "SyncookiesFailed"), 1);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 1);
    assert_int_equal(sk_accept(f->server, lfd, NULL), -EAGAIN);
}

/* tcp_syncookies = 1: requests while the SYN queue has room, cookies once
 * it is full; "Sending cookies" said at most once a minute. */
static void test_cookies_when_syn_queue_full_and_message_rate_limited(void **state)
{
    sk_fixture *f = *state;
    message_log log = {0, ""};
    f->on_event = log_messages;
    f->event_ctx = &log;
    int lfd = sk_test_listen(f, f->server, 80, 2);
    for (uint16_t i = 0; i < 10; i++)
        inject_spoofed_syn(f, (uint16_t)(3000 + i), i);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(sk_test_count_state(f->server, SK_TCP_SYN_RECV), 2);
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 8);
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDoCookies"), 8);
    assert_int_equal(sk_counter(f->server, "TCPReqQFullDrop"), 0);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 0);
    assert_int_equal(log.count, 1);
    assert_string_equal(log.last,
                        "Possible SYN flooding on port 10.0.0.2:80. Sending cookies.");

    /* A legitimate client meanwhile: cookie, and the connection. */
    int cfd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    ASSERT_RUN_UNTIL_STATE(f, f->client, cfd, SK_TCP_ESTABLISHED, SEC(1));
    sk_test_run_for(f, MSEC(20));
    assert_true(sk_accept(f->server, lfd, NULL) >= 0);
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 9);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 1);

    sk_test_run_for(f, SEC(30));
    inject_spoofed_syn(f, 4000, 1);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(log.count, 1);
    sk_test_run_for(f, SEC(31));
    inject_spoofed_syn(f, 4001, 1);
    sk_test_run_for(f, MSEC(1));
    assert_int_equal(log.count, 2);
}

/* A valid cookie ACK that finds the accept queue full is dropped
 * silently (ListenOverflows, ListenDrops), as tcp_v4_syn_recv_sock's
 * overflow: no state, no RST.  Both SYNs arrive while listen(fd, 0)'s
 * accept queue is empty, so both get cookies; c's ACK fills the queue and
 * c2's overflows.  c2's data segment carries the same cookie and gets in
 * once accept() made room. */
static void test_cookie_ack_with_accept_queue_full_dropped(void **state)
{
    sk_fixture *f = *state;
    sk_stack *c2 = sk_test_add_host(f, "c2", C2_ADDR);
    sk_test_sysctl(f->server, "net.ipv4.tcp_syncookies", "2");
    int lfd = sk_test_listen(f, f->server, 80, 0); /* the accept queue takes one */
    int fd1 = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 80);
    int fd2 = sk_test_connect(f, c2, SK_TEST_SERVER_ADDR, 80);
    sk_test_run_for(f, MSEC(100));
    EXPECT_SEGMENTS(f, "c>s S", "c2>s S", "s>c S.", "s>c2 S.", "c>s . seq 1 ack 1", "c2>s . seq 1 ack 1");
    EXPECT_NO_MORE_SEGMENTS(f);
    assert_int_equal(sk_state(f->client, fd1), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_state(c2, fd2), SK_TCP_ESTABLISHED);
    assert_int_equal(sk_counter(f->server, "SyncookiesSent"), 2);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 2);
    assert_int_equal(sk_counter(f->server, "ListenOverflows"), 1);
    assert_int_equal(sk_counter(f->server, "ListenDrops"), 1);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 0);

    sk_endpoint peer;
    assert_true(sk_accept(f->server, lfd, &peer) >= 0);
    assert_int_equal(peer.addr, SK_TEST_CLIENT_ADDR);
    assert_int_equal(sk_send(c2, fd2, "hello", 5, 0), 5);
    sk_test_run_for(f, MSEC(100));
    int sfd = sk_accept(f->server, lfd, &peer);
    assert_true(sfd >= 0);
    assert_int_equal(peer.addr, C2_ADDR);
    char buf[8];
    assert_int_equal(sk_recv(f->server, sfd, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(sk_counter(f->server, "SyncookiesRecv"), 3);
    assert_int_equal(sk_counter(f->server, "PassiveOpens"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mss_table_picks_largest_entry_not_above_peer_mss),
        cmocka_unit_test(test_cookie_round_trip_every_mss_index),
        cmocka_unit_test(test_cookie_is_linear_in_their_seq),
        cmocka_unit_test(test_cookie_expires_after_two_minute_counts),
        cmocka_unit_test(test_forged_cookies_rejected),
        cmocka_unit_test(test_timestamp_options_round_trip),
        cmocka_unit_test(test_timestamp_exact_values),
        cmocka_unit_test_setup_teardown(test_syn_queue_full_without_cookies_drops, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_without_cookies_last_quarter_of_max_syn_backlog_dropped,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_always_cookies_connection_completes_with_decoded_options,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_rounds_peer_mss_down_to_table, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_without_timestamps_has_no_wscale_or_sack, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_timestamps_without_wscale_or_sack, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_forged_cookie_ack_counted_and_reset, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_ack_replayed_late_and_after_expiry, sk_test_setup,
                                        sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_cookies_when_syn_queue_full_and_message_rate_limited,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_cookie_ack_with_accept_queue_full_dropped, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
