/*
 * Checksum offloads of the link (SK_OFFLOAD_TCP_CSUM_TX/RX), as Linux's
 * loopback has them: on transmit the TCP checksum field holds the
 * pseudo-header's sum for the device to complete (CHECKSUM_PARTIAL); on
 * receive a link that vouches for its datagrams spares the TCP checksum
 * (CHECKSUM_UNNECESSARY) but never the IP header's.  Without the flags
 * nothing changes: every checksum is computed and checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "synack/packet.h"
#include "synack/synack.h"

#define LOCAL 0x0a000001u  /* 10.0.0.1, the stack */
#define REMOTE 0x0a000002u /* 10.0.0.2, the test */

typedef struct sent {
    uint8_t dgram[2048];
    size_t len;
    int count;
} sent;

static void capture(void *ctx, const uint8_t *dgram, size_t len)
{
    sent *out = ctx;
    if (len <= sizeof(out->dgram)) {
        memcpy(out->dgram, dgram, len);
        out->len = len;
    }
    out->count++;
}

static sk_stack *listener(uint32_t offloads, sent *out)
{
    sk_stack_params p = {.addr = LOCAL, .seed = 3, .transmit = capture, .transmit_ctx = out,
                         .offloads = offloads};
    sk_stack *s = sk_stack_new(&p);
    assert_non_null(s);
    int fd = sk_socket(s);
    assert_true(fd >= 0);
    assert_int_equal(sk_bind(s, fd, &(sk_endpoint){.addr = LOCAL, .port = 80, .family = SK_AF_INET}), 0);
    assert_int_equal(sk_listen(s, fd, 16), 0);
    return s;
}

static size_t syn(uint8_t *buf, size_t cap)
{
    static const uint8_t mss[4] = {2, 4, 0x05, 0xb4};
    sk_segment_spec spec = {.src = REMOTE, .dst = LOCAL, .sport = 40000, .dport = 80, .seq = 1000,
                            .flags = SK_TH_SYN, .window = 65535, .options = mss, .options_len = 4};
    return sk_build_segment(&spec, buf, cap);
}

static uint16_t tcp_field(const uint8_t *dgram) { return (uint16_t)(dgram[20 + 16] << 8 | dgram[20 + 17]); }

/* TX offload: the SYN-ACK's TCP checksum field is the pseudo-header's
 * folded sum; summing the segment over it (what the device does) gives
 * the real checksum, which verifies. */
static void test_tx_offload_leaves_pseudo_header_sum(void **state)
{
    (void)state;
    sent out = {0};
    sk_stack *s = listener(SK_OFFLOAD_TCP_CSUM_TX, &out);
    uint8_t buf[128];
    size_t n = syn(buf, sizeof buf);
    sk_input(s, buf, n, 0);
    assert_int_equal(out.count, 1);
    size_t tcp_len = out.len - 20;
    uint32_t pseudo = (LOCAL >> 16) + (LOCAL & 0xffff) + (REMOTE >> 16) + (REMOTE & 0xffff) + 6u + (uint32_t)tcp_len;
    assert_int_equal(tcp_field(out.dgram), (uint16_t)~sk_csum_fold(pseudo));
    /* The device's part: the complement of the sum over the TCP bytes. */
    uint16_t completed = sk_csum_fold(sk_csum_partial(out.dgram + 20, tcp_len, 0));
    out.dgram[20 + 16] = (uint8_t)(completed >> 8);
    out.dgram[20 + 17] = (uint8_t)completed;
    sk_segment seg;
    assert_int_equal(sk_parse_segment(out.dgram, out.len, true, &seg), SK_PARSE_OK);
    assert_int_equal(seg.flags & (SK_TH_SYN | SK_TH_ACK), SK_TH_SYN | SK_TH_ACK);
    sk_stack_free(s);
}

/* Without the flag the checksum is computed: the SYN-ACK verifies as sent. */
static void test_no_offload_computes_checksum(void **state)
{
    (void)state;
    sent out = {0};
    sk_stack *s = listener(0, &out);
    uint8_t buf[128];
    size_t n = syn(buf, sizeof buf);
    sk_input(s, buf, n, 0);
    assert_int_equal(out.count, 1);
    sk_segment seg;
    assert_int_equal(sk_parse_segment(out.dgram, out.len, true, &seg), SK_PARSE_OK);
    sk_stack_free(s);
}

/* RX offload: a SYN whose TCP checksum is wrong is answered; the same SYN
 * to a stack without the flag is dropped and counted as Linux counts it. */
static void test_rx_offload_trusts_tcp_checksum(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = syn(buf, sizeof buf);
    buf[20 + 16] ^= 0x5a;

    sent trusted = {0};
    sk_stack *s = listener(SK_OFFLOAD_TCP_CSUM_RX, &trusted);
    sk_input(s, buf, n, 0);
    assert_int_equal(trusted.count, 1);
    assert_int_equal(sk_counter(s, "TcpInCsumErrors"), 0);
    sk_stack_free(s);

    sent plain = {0};
    s = listener(0, &plain);
    sk_input(s, buf, n, 0);
    assert_int_equal(plain.count, 0);
    assert_int_equal(sk_counter(s, "TcpInCsumErrors"), 1);
    sk_stack_free(s);
}

/* Even with RX offload a corrupt IP header is refused (ip_rcv_core). */
static void test_rx_offload_still_checks_ip_header(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = syn(buf, sizeof buf);
    buf[10] ^= 0x01;
    sent out = {0};
    sk_stack *s = listener(SK_OFFLOAD_TCP_CSUM_RX, &out);
    sk_input(s, buf, n, 0);
    assert_int_equal(out.count, 0);
    assert_int_equal(sk_counter(s, "IpInHdrErrors"), 1);
    sk_stack_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_offload_leaves_pseudo_header_sum),
        cmocka_unit_test(test_no_offload_computes_checksum),
        cmocka_unit_test(test_rx_offload_trusts_tcp_checksum),
        cmocka_unit_test(test_rx_offload_still_checks_ip_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
