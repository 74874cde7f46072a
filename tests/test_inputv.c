/*
 * sk_inputv: a datagram fed as pieces (issue 16).  A datagram in pieces
 * must do exactly what the same bytes do through sk_input -- the same
 * counters, the same replies, the same bytes delivered -- whatever the
 * split: headers in the first piece and the payload in one (taken where
 * it lies), or split anywhere else, at odd offsets, with empty pieces
 * (gathered first).  And the use it exists for: a link that hands the
 * sender's transmitv pieces straight to the receiving stack (the direct
 * link of support/stack_pair.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "synack/packet.h"
#include "synack/synack.h"
#include "stack_pair.h"

#define CLIENT SK_PAIR_CLIENT_ADDR
#define SERVER SK_PAIR_SERVER_ADDR

/* The server's SEGMENT_IN events: how many came with pieces. */
typedef struct seen {
    size_t seg_in, seg_in_iov, last_iovcnt;
} seen;

static void on_event(void *ctx, const sk_event *ev)
{
    seen *s = ctx;
    if (ev->type != SK_EV_SEGMENT_IN)
        return;
    s->seg_in++;
    if (ev->iov) {
        s->seg_in_iov++;
        s->last_iovcnt = ev->iovcnt;
        /* `data` is the first piece, as for SEGMENT_OUT of transmitv. */
        assert_ptr_equal(ev->data, ev->iov[0].base);
        assert_int_equal(ev->len, ev->iov[0].len);
    }
}

/* Both stacks with on_event above on the server, counting into `sn`. */
static void pair_up_seen(sk_pair *p, seen *sn, sk_pair_opts o)
{
    memset(sn, 0, sizeof(*sn));
    o.srv_event = on_event;
    o.srv_event_ctx = sn;
    sk_pair_up(p, &o);
}

/* The direct link: every data segment goes from the client's transmitv
 * into the server's sk_inputv with no copy on the link; the bytes arrive
 * whole and in order, checksums (when computed) verified over the pieces
 * where they lie, and datagrams whose payload wraps the send ring (three
 * pieces, gathered) arrive as well as the others. */
static void direct_stream(uint32_t offloads, uint32_t gso, uint16_t mtu)
{
    sk_pair p;
    seen sn;
    pair_up_seen(&p, &sn, (sk_pair_opts){.sg = true, .direct = true, .offloads = offloads, .gso = gso, .mtu = mtu});
    sk_pair_stream(&p, 3 * 1000 * 1000 + 17, 7919, 7001);
    assert_true(p.to_s.vectored > 100);
    assert_true(p.to_s.wrapped > 0);
    /* Every data segment came in pieces; none was refused. */
    assert_int_equal(sn.seg_in_iov, p.to_s.vectored - p.to_s.wrapped);
    assert_int_equal(sk_counter(p.s, "TcpInCsumErrors"), 0);
    assert_int_equal(sk_counter(p.s, "TcpInErrs"), 0);
    assert_int_equal(sk_counter(p.s, "IpInHdrErrors"), 0);
    assert_int_equal(sk_counter(p.s, "IpInDiscards"), 0);
    assert_int_equal(sk_counter(p.c, "TcpRetransSegs"), 0);
    sk_pair_down(&p);
}

static void test_direct_trusted(void **state)
{
    (void)state;
    direct_stream(SK_OFFLOAD_TCP_CSUM_TX | SK_OFFLOAD_TCP_CSUM_RX, 0, 1500);
}

static void test_direct_checksummed(void **state)
{
    (void)state;
    direct_stream(0, 0, 1500);
}

static void test_direct_gso(void **state)
{
    (void)state;
    direct_stream(SK_OFFLOAD_TCP_CSUM_TX | SK_OFFLOAD_TCP_CSUM_RX, 65536, 1500);
    direct_stream(0, 65536, 9000);
}

/* ------------------------------------------------------------------ */
/* Splits: the same bytes through sk_input and sk_inputv                  */
/* ------------------------------------------------------------------ */

/* Cuts `d` into pieces by pattern `k` and feeds them.  Returns how many
 * pieces (so a test can tell the layouts apart). */
static size_t feed_split(sk_stack *s, const uint8_t *d, size_t len, size_t hdr, unsigned k, sk_time_ns now)
{
    sk_iovec iov[2048];
    size_t n = 0;
    switch (k % 6) {
    case 0: /* headers, then the payload: taken where it lies */
        iov[n++] = (sk_iovec){d, hdr};
        iov[n++] = (sk_iovec){d + hdr, len - hdr};
        break;
    case 1: /* headers, an empty piece, the payload, an empty piece */
        iov[n++] = (sk_iovec){d, hdr};
        iov[n++] = (sk_iovec){NULL, 0};
        iov[n++] = (sk_iovec){d + hdr, len - hdr};
        iov[n++] = (sk_iovec){d + len, 0};
        break;
    case 2: { /* split inside the payload at an odd offset */
        size_t cut = hdr + 1 + (k * 37) % (len - hdr > 2 ? len - hdr - 1 : 1);
        if (cut > len)
            cut = len;
        iov[n++] = (sk_iovec){d, hdr};
        iov[n++] = (sk_iovec){d + hdr, cut - hdr};
        iov[n++] = (sk_iovec){d + cut, len - cut};
        break;
    }
    case 3: /* split inside the IP header */
        iov[n++] = (sk_iovec){d, 7};
        iov[n++] = (sk_iovec){d + 7, len - 7};
        break;
    case 4: /* split inside the TCP options, headers and payload together */
        iov[n++] = (sk_iovec){d, hdr - 3};
        iov[n++] = (sk_iovec){d + hdr - 3, len - hdr + 3};
        break;
    default: /* one byte a piece */
        for (size_t i = 0; i < len && n < 2048; i++)
            iov[n++] = (sk_iovec){d + i, 1};
        assert_int_equal(n, len);
        break;
    }
    sk_inputv(s, iov, n, now);
    return n;
}

/* The header length of a TCP/IPv4 datagram. */
static size_t hdr_len(const uint8_t *d) { return (size_t)(d[0] & 15) * 4 + (size_t)(d[(d[0] & 15) * 4 + 12] >> 4) * 4; }

/* Data segments captured from the client, then fed to the server cut in
 * every way above, checksums computed and verified: the bytes arrive
 * exactly; the counters are those of plain input. */
static void test_splits_deliver_exact_bytes(void **state)
{
    (void)state;
    sk_pair p;
    seen sn;
    pair_up_seen(&p, &sn, (sk_pair_opts){.offloads = 0, .mtu = 1500});
    int one = 1; /* every write leaves at once: Nagle would hold the tail */
    assert_int_equal(sk_setsockopt(p.c, p.cfd, SK_IPPROTO_TCP, SK_TCP_NODELAY, &one, sizeof(one)), 0);
    uint8_t src[1000];
    size_t sent = 0, got = 0;
    uint64_t in0 = sk_counter(p.s, "TcpInSegs");
    unsigned k = 0;
    size_t fed = 0, with_iov0 = sn.seg_in_iov;
    for (int round = 0; round < 40; round++) {
        size_t want = 1 + (size_t)(round * 97) % sizeof(src);
        for (size_t i = 0; i < want; i++)
            src[i] = sk_pair_pat(sent + i);
        assert_int_equal(sk_send(p.c, p.cfd, src, want, 0), (ssize_t)want);
        sent += want;
        /* Feed what the client sent, each cut a different way. */
        while (p.to_s.head < p.to_s.n) {
            sk_pair_dgram d = p.to_s.q[p.to_s.head++];
            size_t hdr = hdr_len(d.b);
            if (d.len > hdr + 1) {
                feed_split(p.s, d.b, d.len, hdr, k++, p.now);
            } else {
                sk_input(p.s, d.b, d.len, p.now);
            }
            fed++;
            free(d.b);
        }
        p.to_s.n = p.to_s.head = 0;
        got = sk_pair_read_check(&p, got, 7001);
        sk_pair_drain(&p);
    }
    assert_int_equal(got, sent);
    assert_int_equal(k, 39); /* every layout but round 0's single byte was split */
    assert_int_equal(sk_counter(p.s, "TcpInSegs") - in0, fed);
    assert_int_equal(sk_counter(p.s, "TcpInCsumErrors"), 0);
    assert_int_equal(sk_counter(p.s, "IpInHdrErrors"), 0);
    /* The layouts taken where they lie (0 and 1, a third of them) show
     * their pieces in SEGMENT_IN; the gathered ones a whole datagram. */
    assert_int_equal(sn.seg_in_iov - with_iov0, (k + 5) / 6 + (k + 4) / 6);
    sk_pair_down(&p);
}

/* A corrupted payload byte is caught by the checksum whether the pieces
 * are taken where they lie or gathered: counted, nothing delivered. */
static void test_bad_checksum_in_pieces(void **state)
{
    (void)state;
    sk_pair p;
    seen sn;
    pair_up_seen(&p, &sn, (sk_pair_opts){.offloads = 0, .mtu = 1500});
    uint8_t src[300];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = sk_pair_pat(i);
    assert_int_equal(sk_send(p.c, p.cfd, src, sizeof(src), 0), (ssize_t)sizeof(src));
    assert_int_equal(p.to_s.n, 1);
    sk_pair_dgram d = p.to_s.q[0];
    p.to_s.n = 0;
    size_t hdr = hdr_len(d.b);
    uint8_t *bad = malloc(d.len);
    assert_non_null(bad);
    memcpy(bad, d.b, d.len);
    bad[hdr + 101] ^= 0x40;
    uint8_t buf[400];
    for (unsigned k = 0; k < 6; k++) {
        feed_split(p.s, bad, d.len, hdr, k, p.now);
        assert_int_equal(sk_counter(p.s, "TcpInCsumErrors"), k + 1);
        assert_int_equal(sk_counter(p.s, "TcpInErrs"), k + 1);
        assert_int_equal(sk_recv(p.s, p.sfd, buf, sizeof(buf), 0), -EAGAIN);
    }
    feed_split(p.s, d.b, d.len, hdr, 0, p.now);
    assert_int_equal(sk_recv(p.s, p.sfd, buf, sizeof(buf), 0), (ssize_t)sizeof(src));
    assert_memory_equal(buf, src, sizeof(src));
    free(bad);
    free(d.b);
    sk_pair_down(&p);
}

/* ------------------------------------------------------------------ */
/* Bad input: the same counters as the same bytes through sk_input       */
/* ------------------------------------------------------------------ */

static sk_stack *lone(sk_pair_link *out)
{
    sk_stack_params sp = {.addr = SERVER, .seed = 9, .now = SK_NSEC_PER_SEC, .transmit = sk_pair_tx,
                          .transmit_ctx = out};
    sk_stack *s = sk_stack_new(&sp);
    assert_non_null(s);
    return s;
}

static void assert_same_counters(const sk_stack *a, const sk_stack *b)
{
    for (size_t i = 0; sk_counter_name(i, NULL); i++) {
        if (sk_counter_value(a, i) != sk_counter_value(b, i))
            fail_msg("counter %s: %llu through sk_input, %llu through sk_inputv", sk_counter_name(i, NULL),
                     (unsigned long long)sk_counter_value(a, i), (unsigned long long)sk_counter_value(b, i));
    }
}

/* Feeds `d` whole to `a` and cut by every pattern (at 1..len-1, and in
 * three at odd places) to `b`, comparing counters and replies. */
static void same_as_plain(sk_stack *a, sk_pair_link *la, sk_stack *b, sk_pair_link *lb, const uint8_t *d, size_t len)
{
    sk_time_ns now = 2 * SK_NSEC_PER_SEC;
    for (size_t cut = 0; cut <= len; cut++) {
        sk_input(a, len ? d : (const uint8_t *)"", len, now);
        sk_iovec iov[3] = {{d, cut}, {d + cut, (len - cut) / 2}, {d + cut + (len - cut) / 2, len - cut - (len - cut) / 2}};
        sk_inputv(b, iov, 3, now);
        assert_same_counters(a, b);
        assert_int_equal(la->n, lb->n);
        for (size_t i = 0; i < la->n; i++) {
            assert_int_equal(la->q[i].len, lb->q[i].len);
            assert_memory_equal(la->q[i].b, lb->q[i].b, la->q[i].len);
        }
    }
}

static void test_bad_input_counted(void **state)
{
    (void)state;
    sk_pair_link la = {0}, lb = {0};
    sk_stack *a = lone(&la), *b = lone(&lb);
    /* Zero pieces, NULL pieces, all empty: a datagram of length 0. */
    sk_input(a, (const uint8_t *)"", 0, SK_NSEC_PER_SEC);
    sk_inputv(b, NULL, 0, SK_NSEC_PER_SEC);
    sk_input(a, (const uint8_t *)"", 0, SK_NSEC_PER_SEC);
    sk_inputv(b, NULL, 5, SK_NSEC_PER_SEC);
    sk_iovec empty[3] = {{NULL, 0}, {NULL, 0}, {(const uint8_t *)"x", 0}};
    sk_input(a, (const uint8_t *)"", 0, SK_NSEC_PER_SEC);
    sk_inputv(b, empty, 3, SK_NSEC_PER_SEC);
    assert_int_equal(sk_counter(b, "IpInReceives"), 3);
    assert_int_equal(sk_counter(b, "IpInHdrErrors"), 3);
    assert_same_counters(a, b);

    /* A SYN to a closed port (answered with a RST), then malformed ones. */
    sk_segment_spec spec = {.ip_version = 4, .src = CLIENT, .dst = SERVER, .sport = 40000, .dport = 80,
                            .seq = 1000, .flags = SK_TH_SYN, .window = 65535, .ttl = 64};
    uint8_t syn[128];
    size_t n = sk_build_segment(&spec, syn, sizeof(syn));
    assert_true(n >= 40);
    same_as_plain(a, &la, b, &lb, syn, n);
    assert_true(la.n > 0); /* the RSTs, byte for byte the same */

    uint8_t m[128];
    memcpy(m, syn, n);
    same_as_plain(a, &la, b, &lb, m, 10); /* shorter than an IP header */
    m[3] = (uint8_t)(n + 8);              /* total length past the end */
    same_as_plain(a, &la, b, &lb, m, n);
    memcpy(m, syn, n);
    m[32] = 0x30; /* data offset 3 words */
    same_as_plain(a, &la, b, &lb, m, n);
    memcpy(m, syn, n);
    m[0] = 0x4f; /* IHL 60 bytes, past the TCP header */
    same_as_plain(a, &la, b, &lb, m, n);
    memcpy(m, syn, n);
    m[9] = 17; /* UDP */
    same_as_plain(a, &la, b, &lb, m, n);
    memcpy(m, syn, n);
    m[0] = 0x65; /* version 6 with too few bytes */
    same_as_plain(a, &la, b, &lb, m, n);
    memcpy(m, syn, n);
    m[n - 1] ^= 1; /* bad TCP checksum */
    same_as_plain(a, &la, b, &lb, m, n);
    assert_true(sk_counter(b, "TcpInCsumErrors") > 0);

    /* Pieces that add up to more than any datagram: bytes past the IP
     * length are padding, as in one piece. */
    static uint8_t big[70000];
    memcpy(big, syn, n);
    sk_input(a, big, sizeof(big), 3 * SK_NSEC_PER_SEC);
    sk_iovec two[2] = {{big, 30}, {big + 30, sizeof(big) - 30}};
    sk_inputv(b, two, 2, 3 * SK_NSEC_PER_SEC);
    assert_same_counters(a, b);

    sk_stack_free(a);
    sk_stack_free(b);
    sk_pair_link_free(&la);
    sk_pair_link_free(&lb);
}

/* An IPv6 segment split inside its fixed header and after it. */
static void test_ipv6_pieces(void **state)
{
    (void)state;
    sk_pair_link la = {0}, lb = {0};
    sk_stack *a = lone(&la), *b = lone(&lb);
    uint8_t a6[16] = {0xfd, [15] = 2}, c6[16] = {0xfd, [15] = 1};
    assert_int_equal(sk_stack_add_addr(a, &(sk_endpoint){.family = SK_AF_INET6, .addr6 = {0xfd, [15] = 2}}, 64), 0);
    assert_int_equal(sk_stack_add_addr(b, &(sk_endpoint){.family = SK_AF_INET6, .addr6 = {0xfd, [15] = 2}}, 64), 0);
    sk_segment_spec spec = {.ip_version = 6, .sport = 40000, .dport = 80, .seq = 5, .flags = SK_TH_SYN,
                            .window = 65535, .ttl = 64};
    memcpy(spec.src6, c6, 16);
    memcpy(spec.dst6, a6, 16);
    uint8_t syn[128];
    size_t n = sk_build_segment(&spec, syn, sizeof(syn));
    assert_true(n >= 60);
    same_as_plain(a, &la, b, &lb, syn, n);
    assert_true(la.n > 0);
    sk_stack_free(a);
    sk_stack_free(b);
    sk_pair_link_free(&la);
    sk_pair_link_free(&lb);
}

/* An allocator that can be told to refuse. */
static bool refuse;
static void *m_malloc(size_t n, void *u)
{
    (void)u;
    return refuse ? NULL : malloc(n);
}
static void *m_calloc(size_t k, size_t n, void *u)
{
    (void)u;
    return refuse ? NULL : calloc(k, n);
}
static void *m_realloc(void *p, size_t n, void *u)
{
    (void)u;
    return refuse ? NULL : realloc(p, n);
}
static void m_free(void *p, void *u)
{
    (void)u;
    free(p);
}

/* No memory for the gathering buffer: the datagram is counted in
 * IpInDiscards (RFC 4293: discarded for lack of resources) and dropped,
 * and the next one, with memory back, is processed. */
static void test_gather_without_memory(void **state)
{
    (void)state;
    sk_pair_link l = {0};
    sk_mem mem = {.malloc = m_malloc, .calloc = m_calloc, .realloc = m_realloc, .free = m_free};
    sk_stack_params sp = {.addr = SERVER, .seed = 9, .now = SK_NSEC_PER_SEC, .transmit = sk_pair_tx,
                          .transmit_ctx = &l, .mem = &mem};
    sk_stack *s = sk_stack_new(&sp);
    assert_non_null(s);
    sk_segment_spec spec = {.ip_version = 4, .src = CLIENT, .dst = SERVER, .sport = 40000, .dport = 80,
                            .seq = 1000, .flags = SK_TH_SYN, .window = 65535, .ttl = 64};
    uint8_t syn[64];
    size_t n = sk_build_segment(&spec, syn, sizeof(syn));
    sk_iovec iov[2] = {{syn, 10}, {syn + 10, n - 10}}; /* split headers: gathered */
    refuse = true;
    sk_inputv(s, iov, 2, SK_NSEC_PER_SEC);
    refuse = false;
    assert_int_equal(sk_counter(s, "IpInReceives"), 1);
    assert_int_equal(sk_counter(s, "IpInDiscards"), 1);
    assert_int_equal(sk_counter(s, "TcpInSegs"), 0);
    assert_int_equal(l.n, 0);
    sk_inputv(s, iov, 2, SK_NSEC_PER_SEC);
    assert_int_equal(sk_counter(s, "IpInDiscards"), 1);
    assert_int_equal(sk_counter(s, "TcpInSegs"), 1);
    assert_int_equal(l.n, 1); /* the RST from a closed port */
    sk_stack_free(s);
    sk_pair_link_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_trusted),
        cmocka_unit_test(test_direct_checksummed),
        cmocka_unit_test(test_direct_gso),
        cmocka_unit_test(test_splits_deliver_exact_bytes),
        cmocka_unit_test(test_bad_checksum_in_pieces),
        cmocka_unit_test(test_bad_input_counted),
        cmocka_unit_test(test_ipv6_pieces),
        cmocka_unit_test(test_gather_without_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
