/*
 * Lab scenarios about the listener's two queues (Linux's SYN queue of
 * request socks and the accept queue): a SYN flood, an application that
 * accepts too slowly, and a burst against somaxconn.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab.h"
#include "cli.h"

#define CLIENT 0
#define SERVER 1

static void load_outcome(lab *L, const lab_load *ld, const char *what)
{
    lab_outcome *o = &L->r->outcome;
    o->ok = ld->completed;
    o->failed = ld->failed;
    o->bytes = ld->bytes;
    o->seconds = (double)ld->max_time / (double)LAB_SEC;
    snprintf(o->err, sizeof(o->err), "%s", ld->first_err ? sk_errno_name(ld->first_err) : "");
    snprintf(o->text, sizeof(o->text),
             "%s: %u of %u completed, %u slower than %.3f s, %u failed%s%s; slowest %.3f s", what, ld->completed,
             ld->conns, ld->slow, (double)ld->slow_after / (double)LAB_SEC, ld->failed, ld->first_err ? " with " : "",
             ld->first_err ? sk_errno_name(ld->first_err) : "", o->seconds);
}

/* ------------------------------------------------------------------ */

int lab_syn_flood(lab *L)
{
    unsigned rate = L->scale; /* spoofed SYNs per second */
    const unsigned seconds = 10, clients = 5;
    int lfd = lab_listen(L, SERVER, LAB_PORT, 128);
    if (lfd < 0)
        return -1;
    if (!lab_sysctl(L, SERVER, "net.ipv4.tcp_syncookies", L->fix ? "1" : "0"))
        return -1;
    lab_baseline(L);
    lab_say(L, "An attacker sends %u SYNs per second for %u s to 10.0.0.2:80 (listen backlog 128) from spoofed "
               "addresses in 198.18.0.0/15 that never answer; from t=1 s %u legitimate clients connect, one every "
               "500 ms, each sending a request and reading the response. tcp_syncookies=%s%s.",
            rate, seconds, clients, L->fix ? "1" : "0",
            L->fix ? " (Linux's default: the fix)" : " (cookies disabled)");
    /* The flood is put on the wire up front, each SYN at its own time. */
    uint64_t state = L->seed;
    static const uint8_t mss_opt[4] = {2, 4, 0x05, 0xb4};
    unsigned total = rate * seconds;
    for (unsigned i = 0; i < total; i++) {
        uint64_t x = sk_cli_splitmix64(&state);
        sk_segment_spec sp = {
            .src = 0xc6120000u | (uint32_t)(x & 0x1ffff),
            .dst = LAB_SERVER_ADDR,
            .sport = (uint16_t)(1024 + ((x >> 20) % 60000)),
            .dport = LAB_PORT,
            .seq = (uint32_t)(x >> 32),
            .flags = SK_TH_SYN,
            .window = 64240,
            .options = mss_opt,
            .options_len = sizeof(mss_opt),
        };
        lab_inject(L, &sp, (sk_time_ns)i * LAB_SEC / rate);
    }
    lab_run_for(L, LAB_SEC);
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.conns = clients;
    ld.interval = 500 * LAB_MS;
    lab_load_run(L, &ld, lab_now(L) + (seconds - 1) * LAB_SEC);
    const char *m = "during the flood";
    lab_view(L, SERVER, m, "ss -ltn");
    lab_view(L, SERVER, m, "ss -tan state syn-recv | wc -l");
    lab_view(L, SERVER, m, "nstat TcpExtTCPReqQFullDrop TcpExtTCPReqQFullDoCookies TcpExtSyncookiesSent "
                           "TcpExtSyncookiesRecv TcpPassiveOpens");
    lab_view(L, SERVER, m, "dmesg | grep SYN");
    lab_view(L, CLIENT, m, "ss -tan state syn-sent");
    lab_figure(L, "flood_syns", total);
    lab_figure(L, "clients", clients);
    lab_figure(L, "clients_completed", ld.completed);
    lab_figure(L, "clients_stuck_syn_sent", (double)lab_count_state(L, CLIENT, SK_TCP_SYN_SENT));
    lab_figure(L, "syn_recv", (double)lab_count_state(L, SERVER, SK_TCP_SYN_RECV));
    lab_figure(L, "req_q_full_drop", (double)lab_counter(L, SERVER, "TcpExtTCPReqQFullDrop"));
    lab_figure(L, "req_q_full_do_cookies", (double)lab_counter(L, SERVER, "TcpExtTCPReqQFullDoCookies"));
    lab_figure(L, "syncookies_recv", (double)lab_counter(L, SERVER, "TcpExtSyncookiesRecv"));
    lab_figure(L, "client_syn_retrans", (double)lab_counter(L, CLIENT, "TcpExtTCPSynRetrans"));
    load_outcome(L, &ld, "legitimate clients");
    L->r->reproduced = !L->fix && ld.completed == 0 && lab_get_figure(L->r, "req_q_full_drop") > 0;
    L->r->fixed = L->fix && ld.completed == clients && lab_get_figure(L->r, "syncookies_recv") >= clients;
    if (L->fix)
        lab_verdict(L, "With SYN cookies the full SYN queue no longer refuses anyone: the listener answered with "
                       "cookies (TCPReqQFullDoCookies %.0f) and all %u clients completed.",
                    lab_get_figure(L->r, "req_q_full_do_cookies"), clients);
    else
        lab_verdict(L, "Spoofed SYNs filled the SYN queue (%.0f SYN_RECV that will never complete) and, without "
                       "cookies, every legitimate SYN was dropped (TCPReqQFullDrop %.0f): %u of %u clients got "
                       "through in %u s.",
                    lab_get_figure(L->r, "syn_recv"), lab_get_figure(L->r, "req_q_full_drop"), ld.completed,
                    clients, seconds);
    lab_load_free(&ld);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_accept_overflow(lab *L)
{
    unsigned n = L->scale;
    int backlog = L->fix ? 1024 : 8;
    /* The timeline follows a client that arrives once the queue is full. */
    L->rep_skip = 20;
    int lfd = lab_listen(L, SERVER, LAB_PORT, backlog);
    if (lfd < 0)
        return -1;
    lab_baseline(L);
    lab_say(L, "%u clients connect, one per millisecond; the server application calls accept() only every 10 ms "
               "(100 a second), with listen(fd, %d)%s. Then the same again with net.ipv4.tcp_abort_on_overflow=1.",
            n, backlog, L->fix ? " (the fix: a backlog that covers the burst; somaxconn is 4096)" : "");
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.conns = n;
    ld.interval = LAB_MS;
    ld.accept_every = 10 * LAB_MS;
    /* The application alone needs n × 10 ms; more than half as much
     * again is the queue's doing. */
    ld.slow_after = (sk_time_ns)n * 15 * LAB_MS;
    sk_time_ns t0 = lab_now(L);
    /* The moment to look at the listener: in the middle of the arrivals,
     * when the accept queue is as full as it gets. */
    lab_load_run(L, &ld, t0 + 60 * LAB_MS);
    lab_view(L, SERVER, "60 ms into the arrivals", "ss -ltn");
    lab_load_run(L, &ld, t0 + 120 * LAB_SEC);
    lab_load_idle(L, &ld, lab_now(L) + LAB_SEC);
    const char *m = "after the burst";
    lab_view(L, SERVER, m, "nstat TcpExtListenOverflows TcpExtListenDrops TcpRetransSegs");
    lab_figure(L, "clients", n);
    lab_figure(L, "completed", ld.completed);
    lab_figure(L, "slow", ld.slow);
    lab_figure(L, "failed", ld.failed);
    lab_figure(L, "slowest_s", (double)ld.max_time / (double)LAB_SEC);
    lab_figure(L, "listen_overflows", (double)lab_counter(L, SERVER, "TcpExtListenOverflows"));
    lab_figure(L, "listen_drops", (double)lab_counter(L, SERVER, "TcpExtListenDrops"));
    load_outcome(L, &ld, "clients");
    lab_outcome first = L->r->outcome;

    /* The same burst with tcp_abort_on_overflow: resets instead of waits. */
    if (!lab_sysctl(L, SERVER, "net.ipv4.tcp_abort_on_overflow", "1"))
        return -1;
    uint64_t rst0 = sk_counter(lab_stack(L, SERVER), "TcpOutRsts");
    lab_load ld2;
    lab_load_init(&ld2, CLIENT, SERVER, lfd);
    ld2.conns = n;
    ld2.interval = LAB_MS;
    ld2.accept_every = 10 * LAB_MS;
    ld2.slow_after = ld.slow_after;
    lab_load_run(L, &ld2, lab_now(L) + 120 * LAB_SEC);
    lab_view(L, SERVER, "with tcp_abort_on_overflow=1", "nstat TcpExtListenOverflows TcpOutRsts");
    lab_figure(L, "abort_failed", ld2.failed);
    lab_figure(L, "abort_rsts", (double)(sk_counter(lab_stack(L, SERVER), "TcpOutRsts") - rst0));
    size_t cut = strlen(first.text);
    if (cut > 200)
        cut = 200;
    snprintf(L->r->outcome.text, sizeof(L->r->outcome.text),
             "%.*s; with tcp_abort_on_overflow=1: %u completed, %u failed%s%s", (int)cut, first.text, ld2.completed, ld2.failed,
             ld2.first_err ? " with " : "", ld2.first_err ? sk_errno_name(ld2.first_err) : "");
    L->r->reproduced = !L->fix && lab_get_figure(L->r, "listen_overflows") > 0 && ld.slow > 0 && ld2.failed > 0 &&
                       ld2.first_err == ECONNRESET;
    L->r->fixed = L->fix && lab_get_figure(L->r, "listen_overflows") == 0 && ld.failed == 0 && ld2.failed == 0;
    if (L->fix)
        lab_verdict(L, "With a backlog of %d the accept queue absorbed the burst: no overflow, every client served "
                       "as fast as the application accepts (slowest %.2f s), and no resets.",
                    backlog, lab_get_figure(L->r, "slowest_s"));
    else
        lab_verdict(L, "The accept queue (backlog %d) overflowed: the handshake-completing ACKs were dropped "
                       "(ListenOverflows %.0f), SYNs and handshake ACKs were dropped and %u clients waited for "
                       "retransmissions (slowest %.1f s); with tcp_abort_on_overflow=1 %u got ECONNRESET instead.",
                    backlog, lab_get_figure(L->r, "listen_overflows"), ld.slow, lab_get_figure(L->r, "slowest_s"),
                    ld2.failed);
    lab_load_free(&ld);
    lab_load_free(&ld2);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_backlog_spike(lab *L)
{
    unsigned n = L->scale;
    if (!lab_sysctl(L, SERVER, "net.core.somaxconn", L->fix ? "4096" : "128"))
        return -1;
    if (L->fix && !lab_sysctl(L, SERVER, "net.ipv4.tcp_max_syn_backlog", "4096"))
        return -1;
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    L->rep_skip = n - 1; /* the burst's last connection: one that overflows */
    lab_baseline(L);
    lab_say(L, "A burst of %u connections arrives within one millisecond; the server calls listen(fd, 4096), which "
               "net.core.somaxconn=%s %s, and accepts every connection as soon as it is queued.",
            n, L->fix ? "4096" : "128", L->fix ? "allows (the fix)" : "silently caps to 128 (Linux's default before 5.4)");
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.conns = n;
    ld.slow_after = 100 * LAB_MS;
    sk_time_ns t0 = lab_now(L);
    /* The handshakes complete 3 ms in, all at once: the accept queue at
     * its fullest, seen before the application's next accept(). */
    lab_load_run(L, &ld, t0 + 2500 * SK_NSEC_PER_USEC);
    lab_run_until(L, t0 + 3 * LAB_MS);
    lab_view(L, SERVER, "3 ms into the burst", "ss -ltn");
    lab_view(L, SERVER, "3 ms into the burst", "ss -s");
    lab_load_run(L, &ld, t0 + 120 * LAB_SEC);
    const char *m = "after the burst";
    lab_view(L, SERVER, m, "sysctl net.core.somaxconn");
    lab_view(L, SERVER, m, "nstat TcpExtListenOverflows TcpExtListenDrops TcpExtTCPReqQFullDoCookies TcpRetransSegs");
    lab_view(L, CLIENT, m, "nstat TcpExtTCPSynRetrans TcpRetransSegs");
    lab_figure(L, "connections", n);
    lab_figure(L, "completed", ld.completed);
    lab_figure(L, "slow", ld.slow);
    lab_figure(L, "failed", ld.failed);
    lab_figure(L, "slowest_s", (double)ld.max_time / (double)LAB_SEC);
    lab_figure(L, "listen_overflows", (double)lab_counter(L, SERVER, "TcpExtListenOverflows"));
    lab_counter(L, SERVER, "TcpExtListenDrops");
    load_outcome(L, &ld, "connections");
    L->r->reproduced = !L->fix && ld.slow + ld.failed > 0 && ld.slow + ld.failed < n;
    L->r->fixed = L->fix && ld.slow == 0 && ld.failed == 0;
    if (L->fix)
        lab_verdict(L, "With somaxconn 4096 the whole burst fits the accept queue: all %u connections completed, the "
                       "slowest in %.3f s.",
                    ld.completed, lab_get_figure(L->r, "slowest_s"));
    else
        lab_verdict(L, "somaxconn capped the backlog at 128: the burst overflowed the accept queue (ListenOverflows "
                       "%.0f), so %u of %u connections were slow (over 100 ms, waiting for retransmissions) or failed "
                       "(%u) while the rest were instant — \"intermittent, refresh fixes it\".",
                    lab_get_figure(L->r, "listen_overflows"), ld.slow + ld.failed, n, ld.failed);
    lab_load_free(&ld);
    return 0;
}
