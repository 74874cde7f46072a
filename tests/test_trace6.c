/*
 * IPv6 trace lines (src/observe/trace.c): every datagram of
 * trace6_vectors.h printed as tcpdump 4.99 prints it, with -nn and with
 * -nn -v, through one sk_trace each so relative numbering runs across
 * the list as it did in the one tcpdump process that made the lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef SYNACK_HAVE_PCAP
#include <pcap/pcap.h>
#endif

#include "observe/pcap.h"
#include "observe/trace.h"
#include "synack/packet.h"
#include "synack/synack.h"
#include "trace6_vectors.h"

#define TEN_AM (36000ull * SK_NSEC_PER_SEC)
#define NVEC (sizeof(trace6_vectors) / sizeof(trace6_vectors[0]))

static void check_all(unsigned flags)
{
    sk_trace *t = sk_trace_new(flags);
    assert_non_null(t);
    for (size_t i = 0; i < NVEC; i++) {
        const trace6_vector *v = &trace6_vectors[i];
        char line[SK_TRACE_LINE_MAX];
        size_t n = sk_trace_format_datagram(t, TEN_AM + i * SK_NSEC_PER_SEC, v->bytes, v->len, line, sizeof(line));
        assert_int_equal(n, strlen(line));
        char time[32];
        size_t tl = sk_trace_format_time(TEN_AM + i * SK_NSEC_PER_SEC, time, sizeof(time) - 1);
        time[tl] = ' ';
        time[tl + 1] = '\0';
        const char *want = flags & SK_TRACE_VERBOSE ? v->line_v : v->line;
        if (strncmp(line, time, strlen(time)) != 0 || strcmp(line + strlen(time), want) != 0)
            fail_msg("%s:\n got  %s\n want %s%s", v->what, line, time, want);
    }
    sk_trace_free(t);
}

static void test_lines_as_tcpdump(void **state)
{
    (void)state;
    check_all(0);
}

static void test_lines_as_tcpdump_v(void **state)
{
    (void)state;
    check_all(SK_TRACE_VERBOSE);
}

/* The engine log's form: brackets around an IPv6 address. */
static void test_endpoints(void **state)
{
    (void)state;
    uint8_t a[16] = {0xfd, 0x3d, [15] = 1};
    char buf[128];

    /* A drop from an IPv6 peer names it; the local side too. */
    sk_event ev = {.type = SK_EV_DROP, .now = TEN_AM, .reason = "TCPListenDrops"};
    sk_endpoint local = sk_endpoint_ipv6(a, 80);
    uint8_t b[16] = {0xfd, 0x3d, [15] = 2};
    sk_endpoint remote = sk_endpoint_ipv6(b, 41000);
    sk_event_set_endpoints(&ev, &local, &remote);
    sk_trace_format_event(NULL, &ev, buf, sizeof(buf));
    assert_string_equal(buf, "10:00:00.000000 [fd3d::1]:80 drop TCPListenDrops from [fd3d::2]:41000");
}

static size_t build(uint8_t *buf, uint8_t version, uint32_t seq, uint32_t ack, uint16_t flags)
{
    sk_segment_spec s = {.ip_version = version, .src = 0x01020304, .dst = 0x05060708, .sport = 443, .dport = 40000,
                         .seq = seq, .ack = ack, .flags = flags, .window = 100};
    /* The same four bytes as an IPv4-compatible IPv6 address. */
    memcpy(s.src6 + 12, "\x01\x02\x03\x04", 4);
    memcpy(s.dst6 + 12, "\x05\x06\x07\x08", 4);
    return sk_build_segment(&s, buf, 128);
}

/* tcpdump keeps IPv4 and IPv6 conversations in two tables: an IPv6
 * conversation never numbers an IPv4 one, even on the same bytes. */
static void test_families_do_not_share_conversations(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(0);
    uint8_t d[128];
    char line[SK_TRACE_LINE_MAX];
    size_t n = build(d, 4, 1000, 5001, SK_TH_SYN | SK_TH_ACK);
    sk_trace_format_datagram(t, TEN_AM, d, n, line, sizeof(line));
    n = build(d, 6, 7000, 9001, SK_TH_SYN | SK_TH_ACK);
    sk_trace_format_datagram(t, TEN_AM, d, n, line, sizeof(line));
    assert_int_equal(sk_trace_conversations(t), 2);
    n = build(d, 4, 1001, 5001, SK_TH_ACK);
    sk_trace_format_datagram(t, TEN_AM, d, n, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000000 IP 1.2.3.4.443 > 5.6.7.8.40000: Flags [.], ack 1, win 100, length 0");
    n = build(d, 6, 7001, 9003, SK_TH_ACK);
    sk_trace_format_datagram(t, TEN_AM, d, n, line, sizeof(line));
    assert_string_equal(line, "10:00:00.000000 IP6 ::1.2.3.4.443 > ::5.6.7.8.40000: Flags [.], ack 3, win 100, length 0");
    sk_trace_free(t);
}

/* Every prefix of every vector, and every one with its bytes flipped,
 * stays inside the buffer (ASan watches) and ends the line. */
static void test_cut_and_flipped_datagrams(void **state)
{
    (void)state;
    sk_trace *t = sk_trace_new(SK_TRACE_VERBOSE);
    uint8_t copy[256];
    char line[SK_TRACE_LINE_MAX];
    for (size_t i = 0; i < NVEC; i++) {
        const trace6_vector *v = &trace6_vectors[i];
        for (size_t cut = 0; cut <= v->len; cut++) {
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, v->bytes, cut);
            size_t n = sk_trace_format_datagram(t, TEN_AM, p, cut, line, sizeof(line));
            assert_true(n < sizeof(line));
            free(p);
        }
        for (size_t at = 0; at < v->len && v->len <= sizeof(copy); at++) {
            memcpy(copy, v->bytes, v->len);
            copy[at] ^= 0xff;
            sk_trace_format_datagram(t, TEN_AM, copy, v->len, line, sizeof(line));
            char tiny[8];
            size_t need = sk_trace_format_datagram(t, TEN_AM, copy, v->len, tiny, sizeof(tiny));
            assert_true(strlen(tiny) < sizeof(tiny));
            assert_true(need >= strlen(tiny));
        }
    }
    sk_trace_free(t);
}


/* A capture holds IPv6 as it holds IPv4: LINKTYPE_RAW, each datagram's
 * bytes as sent, read back by libpcap (and so by tcpdump) unchanged. */
static void test_pcap_holds_ipv6(void **state)
{
    (void)state;
    for (int builtin = 0; builtin < 2; builtin++) {
        char path[] = "/tmp/synack-trace6-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        char err[256];
        sk_pcap_options opts = {.builtin_writer = builtin != 0};
        sk_pcap *p = sk_pcap_open(path, &opts, err, sizeof(err));
        assert_non_null(p);
        for (size_t i = 0; i < NVEC; i++)
            assert_int_equal(sk_pcap_write(p, TEN_AM + i, trace6_vectors[i].bytes, trace6_vectors[i].len), 0);
        assert_int_equal(sk_pcap_close(p), 0);
#ifdef SYNACK_HAVE_PCAP
        char ebuf[PCAP_ERRBUF_SIZE];
        pcap_t *rd = pcap_open_offline(path, ebuf);
        assert_non_null(rd);
        assert_int_equal(pcap_datalink(rd), DLT_RAW);
        for (size_t i = 0; i < NVEC; i++) {
            struct pcap_pkthdr *h;
            const u_char *data;
            assert_int_equal(pcap_next_ex(rd, &h, &data), 1);
            assert_int_equal(h->caplen, trace6_vectors[i].len);
            assert_memory_equal(data, trace6_vectors[i].bytes, trace6_vectors[i].len);
        }
        pcap_close(rd);
#endif
        unlink(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_as_tcpdump),
        cmocka_unit_test(test_lines_as_tcpdump_v),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_families_do_not_share_conversations),
        cmocka_unit_test(test_cut_and_flipped_datagrams),
        cmocka_unit_test(test_pcap_holds_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
