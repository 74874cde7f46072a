/* A scripted server for the fixture's client (scripted_peer.h). */
#include "scripted_peer.h"

sk_test_peer sk_test_peer_setup(sk_fixture *f, bool sack)
{
    sk_test_sysctl(f->client, "net.ipv4.tcp_timestamps", "0");
    sk_test_sysctl(f->client, "net.ipv4.tcp_window_scaling", "0");
    if (!sack)
        sk_test_sysctl(f->client, "net.ipv4.tcp_sack", "0");
    sk_test_peer pr = {.f = f};
    pr.p = sk_test_establish(f, 80);
    const sk_trace_entry *synack = sk_test_find(f, 0, "s>c S.");
    assert_non_null(synack);
    pr.s_seq = synack->seg.seq + 1;
    pr.c_isn = synack->seg.ack - 1;
    /* Duplicate ACKs must repeat the window the server offered; without
     * window scaling that is the SYN-ACK's. */
    pr.win = synack->seg.window;
    sk_test_drop(f, "c>s *", -1);
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(f->client, pr.p.cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    pr.mss = (uint16_t)ti.tcpi_snd_mss;
    return pr;
}

void sk_test_peer_ack(sk_test_peer *pr, uint32_t ack, const uint32_t *sack, unsigned nblocks)
{
    uint8_t opts[40];
    size_t n = 0;
    if (nblocks) {
        opts[n++] = 1;
        opts[n++] = 1;
        opts[n++] = 5;
        opts[n++] = (uint8_t)(2 + 8 * nblocks);
        for (unsigned i = 0; i < 2 * nblocks; i++) {
            uint32_t v = pr->c_isn + sack[i];
            opts[n++] = (uint8_t)(v >> 24);
            opts[n++] = (uint8_t)(v >> 16);
            opts[n++] = (uint8_t)(v >> 8);
            opts[n++] = (uint8_t)v;
        }
    }
    sk_segment_spec spec = {.src = SK_TEST_SERVER_ADDR, .dst = SK_TEST_CLIENT_ADDR, .sport = 80,
                            .dport = pr->p.cport, .seq = pr->s_seq, .ack = pr->c_isn + ack,
                            .flags = SK_TH_ACK, .window = pr->win, .options = n ? opts : NULL,
                            .options_len = n};
    sk_test_inject(pr->f, &spec);
}

struct sk_tcp_info sk_test_peer_info(sk_test_peer *pr)
{
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    assert_int_equal(sk_getsockopt(pr->f->client, pr->p.cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len), 0);
    return ti;
}

void sk_test_peer_send(sk_test_peer *pr, unsigned segs)
{
    static uint8_t data[64 * 1460];
    size_t len = (size_t)segs * pr->mss;
    assert_int_equal(sk_send(pr->f->client, pr->p.cfd, data, len, 0), (ssize_t)len);
    sk_test_run_for(pr->f, MSEC(30));
}

