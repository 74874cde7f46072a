/*
 * Path MTU scenarios: a hop between client and server carries at most
 * 1400 bytes (a tunnel, a PPPoE or VPN link) while both hosts have a 1500
 * byte MTU.  The handshake's small segments pass; full-size data does not.
 *
 *   mtu-blackhole     the hop drops what is too big and its ICMP is
 *                     filtered: the transfer stalls in retransmissions
 *                     with tcp_mtu_probing=0 (Linux's default); the fix,
 *                     tcp_mtu_probing=1, detects the black hole after
 *                     tcp_retries1 worth of timeouts and finds the MTU by
 *                     probing (RFC 4821).
 *   mtu-frag-needed   the same hop sends ICMP fragmentation-needed (RFC
 *                     1191): the MSS drops at the first message; the
 *                     contrast is the black hole with probing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab.h"

#define CLIENT 0
#define SERVER 1
#define HOP_ADDR 0x0a000009u /* 10.0.0.9 */
#define HOP_MTU 1400

static void small_hop(lab *L, bool icmp)
{
    sk_link_params lp = {.delay = LAB_MS, .mtu = HOP_MTU, .mtu_icmp_from = icmp ? HOP_ADDR : 0};
    sk_wire_set_link(L->wire, LAB_CLIENT_ADDR, LAB_SERVER_ADDR, &lp);
}

/* The transfer through the hop, its views and figures; returns the ctx. */
static int run_transfer(lab *L, bool icmp, bool probing, lab_bulk *z, const char *moment)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 128);
    if (lfd < 0)
        return -1;
    if (probing && !lab_sysctl(L, CLIENT, "net.ipv4.tcp_mtu_probing", "1"))
        return -1;
    if (!lab_establish(L, lfd, &z->cfd, &z->sfd))
        return -1;
    small_hop(L, icmp);
    lab_baseline(L);
    z->total = 1u << 20;
    z->reader = true;
    sk_time_ns t0 = lab_now(L);
    lab_run_pred(L, lab_bulk_step, z, t0 + 30 * LAB_SEC);
    if (lab_now(L) < t0 + 30 * LAB_SEC && !z->done_at)
        lab_run_until(L, t0 + 30 * LAB_SEC);
    lab_view(L, CLIENT, moment, "ss -tni state established");
    lab_view(L, CLIENT, moment,
             "nstat IcmpInDestUnreachs TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPMTUPFail TcpExtTCPMTUPSuccess");
    struct sk_tcp_info ti;
    size_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    sk_getsockopt(lab_stack(L, CLIENT), z->cfd, SK_IPPROTO_TCP, SK_TCP_INFO, &ti, &len);
    lab_figure(L, "bytes", (double)z->total);
    lab_figure(L, "delivered", (double)z->got);
    lab_figure(L, "seconds", z->done_at ? (double)(z->done_at - t0) / (double)LAB_SEC : -1);
    lab_figure(L, "mss", ti.tcpi_snd_mss);
    lab_figure(L, "pmtu", ti.tcpi_pmtu);
    lab_figure(L, "timeouts", (double)lab_counter(L, CLIENT, "TcpExtTCPTimeouts"));
    lab_figure(L, "mtup_fail", (double)lab_counter(L, CLIENT, "TcpExtTCPMTUPFail"));
    lab_figure(L, "mtup_success", (double)lab_counter(L, CLIENT, "TcpExtTCPMTUPSuccess"));
    lab_figure(L, "icmp_frag_needed", (double)lab_counter(L, CLIENT, "IcmpMsgInType3"));
    lab_outcome *o = &L->r->outcome;
    o->bytes = (long long)z->got;
    if (z->done_at) {
        o->seconds = (double)(z->done_at - t0) / (double)LAB_SEC;
        o->ok = 1;
        snprintf(o->text, sizeof(o->text), "all %zu bytes arrived in %.3f s, at an MSS of %u", z->total, o->seconds,
                 ti.tcpi_snd_mss);
    } else {
        o->seconds = 30;
        o->failed = 1;
        snprintf(o->text, sizeof(o->text),
                 "after 30 s the server has received %zu of %zu bytes; the writer blocks (EAGAIN)", z->got, z->total);
        snprintf(o->err, sizeof(o->err), "EAGAIN");
    }
    return 0;
}

int lab_mtu_blackhole(lab *L)
{
    lab_say(L, "Client and server have a 1500-byte MTU, but a hop between them carries only %d bytes and its ICMP "
               "fragmentation-needed messages are filtered (a PMTU black hole). The handshake's small segments pass; "
               "the client then writes 1 MiB with tcp_mtu_probing=%d%s.",
            HOP_MTU, L->fix ? 1 : 0,
            L->fix ? " (the fix: detect the black hole and probe for the MTU, RFC 4821)" : " (Linux's default)");
    lab_bulk z = {0};
    if (run_transfer(L, false, L->fix, &z, "30 s after the first write") < 0)
        return -1;
    double mss = lab_get_figure(L->r, "mss"), timeouts = lab_get_figure(L->r, "timeouts");
    L->r->reproduced = !L->fix && z.got == 0 && timeouts >= 5;
    L->r->fixed = L->fix && z.done_at && mss <= HOP_MTU - 52;
    if (L->fix)
        lab_verdict(L, "Once retransmissions had gone unanswered for tcp_retries1 worth of backoff (3 s) the client "
                       "suspected a black hole, dropped its MSS to tcp_base_mss (1024) and probed upwards (%.0f "
                       "timeouts in all): %.0f probes fitted, %.0f vanished, ending at MSS %.0f (a %.0f-byte packet) "
                       "for a %d-byte hop.",
                    timeouts, lab_get_figure(L->r, "mtup_success"), lab_get_figure(L->r, "mtup_fail"), mss, mss + 52,
                    HOP_MTU);
    else
        lab_verdict(L, "Every full-size segment (MSS %.0f, a 1500-byte packet) vanished at the %d-byte hop and no ICMP "
                       "came back, so the client retransmitted the same size %.0f times with exponential backoff and "
                       "delivered nothing: the connection is established but hangs.",
                    mss, HOP_MTU, timeouts);
    return 0;
}

int lab_mtu_frag_needed(lab *L)
{
    lab_say(L, "The same %d-byte hop, but %s.", HOP_MTU,
            L->fix ? "its ICMP is filtered and the client has tcp_mtu_probing=1 (the contrast: recovery without ICMP)"
                   : "it answers each too-big datagram with ICMP fragmentation-needed (mtu 1400) from 10.0.0.9, as "
                     "RFC 1191 routers do");
    lab_bulk z = {0};
    if (run_transfer(L, !L->fix, L->fix, &z, "after the transfer") < 0)
        return -1;
    double mss = lab_get_figure(L->r, "mss");
    double secs = lab_get_figure(L->r, "seconds");
    L->r->reproduced = !L->fix && z.done_at && lab_get_figure(L->r, "timeouts") == 0 && mss == HOP_MTU - 52;
    L->r->fixed = false;
    if (L->fix)
        lab_verdict(L, "Without ICMP the same transfer took %.3f s: %.0f timeouts before probing found MSS %.0f.", secs,
                    lab_get_figure(L->r, "timeouts"), mss);
    else
        lab_verdict(L, "The first ICMP fragmentation-needed lowered the path MTU to %.0f and the MSS to %.0f at once; the "
                       "segments in flight were resent at the new size without a timeout, and 1 MiB arrived in %.3f s.",
                    lab_get_figure(L->r, "pmtu"), mss, secs);
    return 0;
}
