/*
 * Hostile input: 100,000 random and mutated datagrams fed to a stack that
 * holds live connections in several states.  Every one must be handled
 * (answered, counted or dropped) without a crash or a sanitizer report,
 * and the live connections must carry data intact afterwards.
 *
 * Mutations start from real recorded segments: flipped bits, changed
 * flags, random sequence and acknowledgment numbers, truncation, garbage
 * options and data offsets, random bytes; half get both checksums
 * recomputed so they reach TCP processing, a quarter only the IP header's
 * (so the TCP checksum catches them), a quarter keep both stale.
 *
 * The mutated datagrams come from an address no host has, so no mutation
 * can be a legitimate segment of a live connection (an exact RST or
 * in-window data would rightly change it).  A share targets the live
 * connections' own tuples, with sequence numbers far outside the window:
 * RFC 9293 §3.10.7.4 requires those be answered with at most an ACK.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ATTACKER_ADDR 0x0a000042u /* 10.0.0.66: not on the wire */
#define FUZZ_COUNT 100000
#define LIVE_PAIRS 3

typedef struct fuzz_rng {
    uint64_t x;
} fuzz_rng;

static uint64_t fuzz_next(fuzz_rng *r)
{
    uint64_t z = (r->x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t fuzz_below(fuzz_rng *r, uint32_t n)
{
    return (uint32_t)(fuzz_next(r) % n);
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void fix_ip_checksum(uint8_t *d, size_t len)
{
    size_t ihl = len >= 20 ? (size_t)(d[0] & 0x0f) * 4 : 0;
    if (ihl < 20 || ihl > len)
        return;
    d[10] = d[11] = 0;
    put_be16(d + 10, sk_csum_fold(sk_csum_partial(d, ihl, 0)));
}

/* Recomputes the IPv4 header checksum and the TCP checksum where the
 * header lengths leave something to checksum. */
static void fix_checksums(uint8_t *d, size_t len)
{
    if (len < 20)
        return;
    size_t ihl = (size_t)(d[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        return;
    d[10] = d[11] = 0;
    put_be16(d + 10, sk_csum_fold(sk_csum_partial(d, ihl, 0)));
    size_t total = (size_t)d[2] << 8 | d[3];
    if (total > len)
        total = len;
    if (total < ihl + 18)
        return;
    uint8_t *tcp = d + ihl;
    size_t tcp_len = total - ihl;
    tcp[16] = tcp[17] = 0;
    put_be16(tcp + 16, sk_tcp_checksum(get_be32(d + 12), get_be32(d + 16), tcp, tcp_len));
}

static bool is_fixture_host(const sk_fixture *f, uint32_t a)
{
    for (size_t i = 0; i < f->host_count; i++)
        if (f->hosts[i].addr == a)
            return true;
    return false;
}

/* Builds one hostile datagram into out (capacity 2048); returns its length. */
static size_t make_attacker_datagram(const sk_fixture *f, fuzz_rng *r,
                                     const sk_trace_entry *const *templates, size_t ntemplates,
                                     uint8_t *out)
{
    size_t len;
    if (fuzz_below(r, 10) == 0) {
        /* Random bytes, half of them behind a plausible IPv4 header. */
        len = fuzz_below(r, 120);
        for (size_t i = 0; i < len; i++)
            out[i] = (uint8_t)fuzz_next(r);
        if (len >= 40 && fuzz_below(r, 2)) {
            out[0] = 0x45;
            put_be16(out + 2, (uint16_t)len);
            out[6] = out[7] = 0;
            out[9] = 6;
            put_be32(out + 12, ATTACKER_ADDR);
            put_be32(out + 16, SK_TEST_SERVER_ADDR);
            out[32] = (uint8_t)((5 + fuzz_below(r, 11)) << 4);
        }
    } else {
        const sk_trace_entry *t = templates[fuzz_below(r, (uint32_t)ntemplates)];
        len = t->len;
        memcpy(out, t->bytes, len);
        put_be32(out + 12, ATTACKER_ADDR);
        put_be32(out + 16, SK_TEST_SERVER_ADDR);
        size_t ihl = (size_t)(out[0] & 0x0f) * 4;
        uint8_t *tcp = out + ihl;
        unsigned kinds = 1 + fuzz_below(r, 3);
        for (unsigned k = 0; k < kinds && len > 0; k++) {
            switch (fuzz_below(r, 8)) {
            case 0: /* flipped bits */
                for (unsigned n = 1 + fuzz_below(r, 8); n > 0; n--) {
                    size_t at = fuzz_below(r, (uint32_t)len);
                    out[at] ^= (uint8_t)(1u << fuzz_below(r, 8));
                }
                break;
            case 1: /* changed flags (all nine bits) */
                tcp[13] = (uint8_t)fuzz_next(r);
                tcp[12] = (uint8_t)((tcp[12] & 0xf0) | (fuzz_next(r) & 1));
                break;
            case 2: /* random seq and/or ack */
                if (fuzz_below(r, 2))
                    put_be32(tcp + 4, (uint32_t)fuzz_next(r));
                if (fuzz_below(r, 2))
                    put_be32(tcp + 8, (uint32_t)fuzz_next(r));
                break;
            case 3: /* truncated */
                len = fuzz_below(r, (uint32_t)len + 1);
                break;
            case 4: { /* garbage options in the existing option space */
                size_t doff = (size_t)(tcp[12] >> 4) * 4;
                for (size_t i = 20; i < doff && ihl + i < len; i++)
                    tcp[i] = (uint8_t)fuzz_next(r);
                break;
            }
            case 5: { /* a random data offset over garbage */
                tcp[12] = (uint8_t)((fuzz_below(r, 16) << 4) | (tcp[12] & 0x0f));
                size_t doff = (size_t)(tcp[12] >> 4) * 4;
                for (size_t i = 20; i < doff && ihl + i < len; i++)
                    if (fuzz_below(r, 2))
                        tcp[i] = (uint8_t)fuzz_next(r);
                break;
            }
            case 6: /* random ports */
                put_be16(tcp, (uint16_t)fuzz_next(r));
                if (fuzz_below(r, 2))
                    put_be16(tcp + 2, (uint16_t)fuzz_next(r));
                break;
            case 7: /* payload appended or IP total length changed */
                if (fuzz_below(r, 2) && len + 64 <= 2048) {
                    size_t extra = fuzz_below(r, 64);
                    for (size_t i = 0; i < extra; i++)
                        out[len + i] = (uint8_t)fuzz_next(r);
                    len += extra;
                    put_be16(out + 2, (uint16_t)len);
                } else {
                    put_be16(out + 2, (uint16_t)fuzz_next(r));
                }
                break;
            }
        }
    }
    if (len >= 20) {
        /* A flip must never turn it into one of the real hosts. */
        if (is_fixture_host(f, get_be32(out + 12)))
            put_be32(out + 12, ATTACKER_ADDR);
        /* Both checksums right, only the IP header's (so the TCP
         * checksum check is what catches it), or neither. */
        switch (fuzz_below(r, 4)) {
        case 0:
        case 1:
            fix_checksums(out, len);
            break;
        case 2:
            fix_ip_checksum(out, len);
            break;
        default:
            break;
        }
    }
    return len;
}

/* A segment on a live connection's own tuple, half the sequence space
 * away from anything the server could accept. */
static size_t make_out_of_window_datagram(fuzz_rng *r, const sk_trace_entry *last_from_client,
                                          uint8_t *out)
{
    const sk_segment *s = &last_from_client->seg;
    uint8_t opts[40];
    size_t optlen = 0;
    if (fuzz_below(r, 2)) {
        optlen = 4u * fuzz_below(r, 11);
        for (size_t i = 0; i < optlen; i++)
            opts[i] = (uint8_t)fuzz_next(r);
    }
    uint8_t payload[64];
    size_t plen = fuzz_below(r, 4) == 0 ? fuzz_below(r, 64) : 0;
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)fuzz_next(r);
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.src = s->src;
    spec.dst = s->dst;
    spec.sport = s->sport;
    spec.dport = s->dport;
    spec.seq = s->seq + 0x80000000u + (uint32_t)fuzz_below(r, 0x10000000u) - 0x08000000u;
    spec.ack = fuzz_below(r, 2) ? s->ack : (uint32_t)fuzz_next(r);
    spec.flags = (uint16_t)(fuzz_next(r) & 0x1ff);
    spec.window = (uint16_t)fuzz_next(r);
    spec.options = optlen ? opts : NULL;
    spec.options_len = optlen;
    spec.payload = plen ? payload : NULL;
    spec.payload_len = plen;
    size_t len = sk_build_segment(&spec, out, 2048);
    assert_true(len > 0);
    return len;
}

static void test_100k_hostile_datagrams_leave_live_connections_working(void **state)
{
    sk_fixture *f = *state;

    /* Live connections, with traffic both ways to record. */
    sk_conn_pair live[LIVE_PAIRS];
    for (int i = 0; i < LIVE_PAIRS; i++) {
        live[i] = sk_test_establish(f, 80);
        assert_int_equal(
            sk_test_transfer(f, f->client, live[i].cfd, f->server, live[i].sfd, 20000, SEC(5)),
            20000);
        assert_int_equal(
            sk_test_transfer(f, f->server, live[i].sfd, f->client, live[i].cfd, 20000, SEC(5)),
            20000);
    }
    /* More states on the server: CLOSE_WAIT, FIN_WAIT_2 (orphan) and a
     * TIME_WAIT record. */
    sk_conn_pair cw = sk_test_establish(f, 80);
    sk_close(f->client, cw.cfd);
    sk_conn_pair fw2 = sk_test_establish(f, 80);
    sk_close(f->server, fw2.sfd);
    sk_conn_pair tw = sk_test_establish(f, 80);
    sk_close(f->server, tw.sfd);
    sk_test_run_for(f, MSEC(300));
    sk_close(f->client, tw.cfd);
    sk_test_run_for(f, MSEC(300));
    assert_int_equal(sk_state(f->server, cw.sfd), SK_TCP_CLOSE_WAIT);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, fw2.cport),
                     SK_TCP_FIN_WAIT2);
    assert_int_equal(sk_test_tuple_state(f->server, 80, SK_TEST_CLIENT_ADDR, tw.cport),
                     SK_TCP_TIME_WAIT);

    const sk_trace_entry **templates = calloc(f->trace_len, sizeof *templates);
    assert_non_null(templates);
    size_t ntemplates = 0;
    for (size_t i = 0; i < f->trace_len; i++)
        if (f->trace[i].parsed)
            templates[ntemplates++] = &f->trace[i];
    assert_true(ntemplates > 50);
    const sk_trace_entry *last_c[LIVE_PAIRS];
    for (int i = 0; i < LIVE_PAIRS; i++) {
        last_c[i] = NULL;
        for (size_t k = 0; k < f->trace_len; k++)
            if (f->trace[k].parsed && f->trace[k].seg.src == SK_TEST_CLIENT_ADDR &&
                f->trace[k].seg.sport == live[i].cport)
                last_c[i] = &f->trace[k];
        assert_non_null(last_c[i]);
    }

    uint64_t in_before = sk_counter(f->server, "IpInReceives") + sk_counter(f->server, "Ip6InReceives");
    uint64_t segs_before = sk_counter(f->server, "InSegs");
    f->recording = false;
    fuzz_rng r = {20240601};
    static uint8_t dgram[2048 + 64];
    for (int n = 0; n < FUZZ_COUNT; n++) {
        size_t len;
        if (fuzz_below(&r, 100) < 15)
            len = make_out_of_window_datagram(&r, last_c[fuzz_below(&r, LIVE_PAIRS)], dgram);
        else
            len = make_attacker_datagram(f, &r, templates, ntemplates, dgram);
        sk_input(f->server, dgram, len, sk_wire_now(f->wire));
        if (n % 100 == 99)
            sk_test_run_for(f, MSEC(1));
    }
    sk_test_run_for(f, SEC(2));
    f->recording = true;
    free(templates);

    /* Every datagram was taken in and accounted for. */
    assert_true(sk_counter(f->server, "IpInReceives") + sk_counter(f->server, "Ip6InReceives") - in_before >= FUZZ_COUNT);
    /* And the mix reached every layer: IP header and checksum drops, TCP
     * processing, resets to the attacker, challenge ACKs and
     * out-of-window handling on the live connections. */
    assert_true(sk_counter(f->server, "InHdrErrors") > 0);
    assert_true(sk_counter(f->server, "TcpInCsumErrors") > 0);
    assert_true(sk_counter(f->server, "InSegs") - segs_before > FUZZ_COUNT / 10);
    assert_true(sk_counter(f->server, "OutRsts") > 0);
    assert_true(sk_counter(f->server, "TCPSYNChallenge") > 0);

    for (int i = 0; i < LIVE_PAIRS; i++) {
        assert_int_equal(sk_state(f->client, live[i].cfd), SK_TCP_ESTABLISHED);
        assert_int_equal(sk_state(f->server, live[i].sfd), SK_TCP_ESTABLISHED);
        assert_int_equal(sk_inq(f->server, live[i].sfd), 0);
        assert_int_equal(sk_inq(f->client, live[i].cfd), 0);
    }
    for (int i = 0; i < LIVE_PAIRS; i++) {
        assert_int_equal(
            sk_test_transfer(f, f->client, live[i].cfd, f->server, live[i].sfd, 50000, SEC(10)),
            50000);
        assert_int_equal(
            sk_test_transfer(f, f->server, live[i].sfd, f->client, live[i].cfd, 50000, SEC(10)),
            50000);
    }
    assert_int_equal(sk_state(f->server, cw.sfd), SK_TCP_CLOSE_WAIT);

    /* The listener still accepts. */
    sk_conn_pair fresh = sk_test_establish(f, 80);
    assert_int_equal(sk_test_transfer(f, f->client, fresh.cfd, f->server, fresh.sfd, 10000, SEC(5)),
                     10000);
}

/* Every malformed-header class on its own is counted, not crashed on. */
static void test_malformed_headers_are_counted_drops(void **state)
{
    sk_fixture *f = *state;
    uint8_t d[60];
    sk_segment_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.src = ATTACKER_ADDR;
    spec.dst = SK_TEST_SERVER_ADDR;
    spec.sport = 1234;
    spec.dport = 80;
    spec.flags = SK_TH_SYN;
    size_t len = sk_build_segment(&spec, d, sizeof d);
    assert_int_equal(len, 40);
    sk_time_ns now = sk_wire_now(f->wire);

    uint8_t bad[60];
    /* Truncated below an IP header. */
    sk_input(f->server, d, 10, now);
    /* Not IPv4. */
    memcpy(bad, d, len);
    bad[0] = 0x55;
    sk_input(f->server, bad, len, now);
    /* Bad IP checksum. */
    memcpy(bad, d, len);
    bad[10] ^= 0xff;
    sk_input(f->server, bad, len, now);
    /* Bad TCP checksum. */
    memcpy(bad, d, len);
    bad[36] ^= 0xff;
    sk_input(f->server, bad, len, now);
    /* TCP header cut short (IP total length says so too). */
    memcpy(bad, d, len);
    put_be16(bad + 2, 30);
    fix_checksums(bad, 30);
    sk_input(f->server, bad, 30, now);
    /* Data offset below 5. */
    memcpy(bad, d, len);
    bad[32] = 0x30;
    fix_checksums(bad, len);
    sk_input(f->server, bad, len, now);
    /* IP total length beyond what arrived. */
    memcpy(bad, d, len);
    put_be16(bad + 2, 50);
    fix_checksums(bad, len);
    sk_input(f->server, bad, len, now);
    /* Data offset past the end of the segment. */
    memcpy(bad, d, len);
    bad[32] = 0xf0;
    fix_checksums(bad, len);
    sk_input(f->server, bad, len, now);
    sk_test_run_for(f, MSEC(100));

    /* Each counted as Linux's ip_rcv_core and tcp_v4_rcv count it. */
    assert_int_equal(sk_counter(f->server, "InReceives"), 8);
    assert_int_equal(sk_counter(f->server, "InHdrErrors"), 3); /* short, version, IP checksum */
    assert_int_equal(sk_counter(f->server, "BadIpVersion"), 1);
    assert_int_equal(sk_counter(f->server, "IpExtInCsumErrors"), 1);
    assert_int_equal(sk_counter(f->server, "InTruncatedPkts"), 1);
    assert_int_equal(sk_counter(f->server, "InDelivers"), 4); /* the four that reached TCP */
    assert_int_equal(sk_counter(f->server, "InSegs"), 4);
    assert_int_equal(sk_counter(f->server, "InErrs"), 2); /* checksum, offset below 5 */
    assert_int_equal(sk_counter(f->server, "TruncatedTcpHeader"), 1);
    assert_int_equal(sk_counter(f->server, "BadDataOffset"), 2);
    assert_int_equal(sk_counter(f->server, "TcpInCsumErrors"), 1);
    assert_int_equal(sk_counter(f->server, "OutRsts"), 0);
    assert_int_equal(sk_counter(f->server, "OutSegs"), 0);
    EXPECT_NO_MORE_SEGMENTS(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_100k_hostile_datagrams_leave_live_connections_working,
                                        sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_headers_are_counted_drops, sk_test_setup,
                                        sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
