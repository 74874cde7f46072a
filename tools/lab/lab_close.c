/*
 * Lab scenarios about how connections end: TIME_WAIT and the ports it
 * holds, CLOSE_WAIT leaks, resets at close (SO_LINGER 0, unread data),
 * the lost final ACK, simultaneous close and open, half-close, and
 * connection reuse.  Host 0 is the client 10.0.0.1, host 1 the server
 * 10.0.0.2:80.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab.h"

#define CLIENT 0
#define SERVER 1

static void outcome_from_load(lab *L, const lab_load *ld, const char *what)
{
    lab_outcome *o = &L->r->outcome;
    o->ok = ld->completed;
    o->failed = ld->failed;
    o->bytes = ld->bytes;
    o->seconds = ld->completed ? (double)ld->max_time / (double)LAB_SEC : 0;
    snprintf(o->err, sizeof(o->err), "%s", ld->first_err ? sk_errno_name(ld->first_err) : "");
    snprintf(o->text, sizeof(o->text), "%s: %u of %u connections completed, %u failed%s%s%s; slowest %.3f s",
             what, ld->completed, ld->conns, ld->failed, ld->first_err ? " (first error " : "",
             ld->first_err ? sk_errno_name(ld->first_err) : "", ld->first_err ? ")" : "", o->seconds);
}

/* The remaining time of the first TIME_WAIT record, in seconds. */
typedef struct tw_timer {
    sk_time_ns now, left;
    bool found;
} tw_timer;

static void tw_visit(void *ctx, const sk_sock_info *si)
{
    tw_timer *t = ctx;
    if (si->state == SK_TCP_TIME_WAIT && !t->found && si->timer_expires > t->now) {
        t->found = true;
        t->left = si->timer_expires - t->now;
    }
}

/* ------------------------------------------------------------------ */

int lab_time_wait_pileup(lab *L)
{
    unsigned n = L->scale, buckets = n / 2, pool = 10;
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    char v[32];
    snprintf(v, sizeof(v), "%u", buckets);
    if (!lab_sysctl(L, CLIENT, "net.ipv4.tcp_max_tw_buckets", v) ||
        !lab_sysctl(L, CLIENT, "net.ipv4.tcp_fin_timeout", "5"))
        return -1;
    lab_baseline(L);
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.parallel = pool;
    if (L->fix) {
        ld.conns = pool;
        ld.per_conn = n / pool;
        lab_say(L, "The client sends %u requests over %u keep-alive connections (%u requests each), then closes them.",
                n, pool, n / pool);
    } else {
        ld.conns = n;
        lab_say(L, "The client opens %u short connections to 10.0.0.2:80, %u at a time: one 100-byte request, a "
                   "1000-byte response, and the client closes first (HTTP without keep-alive).",
                n, pool);
    }
    lab_say(L, " The client has net.ipv4.tcp_max_tw_buckets=%u, and tcp_fin_timeout=5 set in the common belief that "
               "it shortens TIME_WAIT.",
            buckets);
    lab_load_run(L, &ld, lab_now(L) + 30 * LAB_SEC);
    lab_load_idle(L, &ld, lab_now(L) + 100 * LAB_MS);
    const char *m = "right after the requests";
    lab_view(L, CLIENT, m, "ss -tan state time-wait | wc -l");
    lab_view(L, SERVER, m, "ss -tan state time-wait | wc -l");
    lab_view(L, CLIENT, m, "nstat TcpActiveOpens TcpExtTW TcpExtTCPTimeWaitOverflow");
    lab_view(L, CLIENT, m, "ss -s");
    lab_view(L, CLIENT, m, "sysctl net.ipv4.tcp_fin_timeout net.ipv4.tcp_max_tw_buckets");
    lab_view(L, CLIENT, m, "ss -tano state time-wait | head -3");
    size_t tw = lab_count_state(L, CLIENT, SK_TCP_TIME_WAIT);
    tw_timer t = {.now = lab_now(L)};
    sk_sockets(lab_stack(L, CLIENT), tw_visit, &t);
    double left = t.found ? (double)t.left / (double)LAB_SEC : 0;
    lab_load_idle(L, &ld, lab_now(L) + 61 * LAB_SEC);
    lab_view(L, CLIENT, "61 s later", "ss -tan state time-wait | wc -l");
    uint64_t overflow = lab_counter(L, CLIENT, "TcpExtTCPTimeWaitOverflow");
    uint64_t handshakes = lab_counter(L, CLIENT, "TcpActiveOpens");
    lab_counter(L, CLIENT, "TcpExtTW");
    lab_figure(L, "requests", n);
    lab_figure(L, "time_wait", (double)tw);
    lab_figure(L, "tw_overflow", (double)overflow);
    lab_figure(L, "handshakes", (double)handshakes);
    lab_figure(L, "tw_timer_left_s", left);
    lab_figure(L, "time_wait_after_61s", (double)lab_count_state(L, CLIENT, SK_TCP_TIME_WAIT));
    outcome_from_load(L, &ld, "requests");
    L->r->reproduced = !L->fix && tw == buckets && overflow == n - buckets && left > 50;
    L->r->fixed = L->fix && tw <= pool && overflow == 0;
    if (L->fix)
        lab_verdict(L, "Reusing %u connections for %u requests leaves %zu TIME_WAIT records instead of one per request, "
                       "and none overflows.",
                    pool, n, tw);
    else
        lab_verdict(L, "The client closes first, so each of its %u connections leaves TIME_WAIT for 60 s "
                       "(TCP_TIMEWAIT_LEN: tcp_fin_timeout=5 changed nothing, its timer read %.0f s); past "
                       "tcp_max_tw_buckets=%u the other %llu were destroyed at once and counted in TCPTimeWaitOverflow.",
                    n, left, buckets, (unsigned long long)overflow);
    lab_load_free(&ld);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_port_exhaustion(lab *L)
{
    unsigned n = L->scale;
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    if (!lab_sysctl(L, CLIENT, "net.ipv4.ip_local_port_range", "40000 40009"))
        return -1;
    if (L->fix && !lab_sysctl(L, CLIENT, "net.ipv4.tcp_tw_reuse", "1"))
        return -1;
    lab_baseline(L);
    lab_say(L, "The client opens %u connections, one every 200 ms, to the same server 10.0.0.2:80, with a local "
               "port range of only 10 ports (40000-40009); it closes first, so every port it used sits in "
               "TIME_WAIT for 60 s.%s",
            n, L->fix ? " Fix: net.ipv4.tcp_tw_reuse=1 (timestamps are on) lets connect() take over a TIME_WAIT "
                        "port idle for more than 1 s." : "");
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.conns = n;
    ld.parallel = 1;
    ld.interval = 200 * LAB_MS;
    lab_load_run(L, &ld, lab_now(L) + 60 * LAB_SEC);
    lab_load_idle(L, &ld, lab_now(L) + 100 * LAB_MS);
    const char *m = "after the connections";
    lab_view(L, CLIENT, m, "sysctl net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse");
    lab_view(L, CLIENT, m, "ss -tan state time-wait | wc -l");
    lab_view(L, CLIENT, m, "nstat TcpActiveOpens TcpExtTWRecycled");
    lab_figure(L, "connections", n);
    lab_figure(L, "failed", ld.failed);
    lab_figure(L, "completed", ld.completed);
    lab_figure(L, "time_wait", (double)lab_count_state(L, CLIENT, SK_TCP_TIME_WAIT));
    lab_figure(L, "tw_recycled", (double)lab_counter(L, CLIENT, "TcpExtTWRecycled"));
    lab_counter(L, CLIENT, "TcpActiveOpens");
    outcome_from_load(L, &ld, "connect()");
    L->r->reproduced = !L->fix && ld.failed > 0 && ld.first_err == EADDRNOTAVAIL;
    L->r->fixed = L->fix && ld.failed == 0;
    if (L->fix)
        lab_verdict(L, "With tcp_tw_reuse=1 connect() reused TIME_WAIT ports older than 1 s (TWRecycled %.0f): all "
                       "%u connections succeeded with the same 10 ports.",
                    lab_get_figure(L->r, "tw_recycled"), ld.completed);
    else
        lab_verdict(L, "Every port of ip_local_port_range was held by TIME_WAIT to the same destination, so %u "
                       "connect() calls failed with EADDRNOTAVAIL (ephemeral ports exhausted).",
                    ld.failed);
    lab_load_free(&ld);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_close_wait_leak(lab *L)
{
    unsigned n = L->scale;
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    lab_say(L, "The client makes %u requests and closes each connection after its response; the server "
               "application %s.",
            n, L->fix ? "calls close() when read() returns 0 (the fix)" : "never calls close() (a leak: EOF is ignored)");
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.conns = n;
    ld.never_close = !L->fix;
    lab_load_run(L, &ld, lab_now(L) + 30 * LAB_SEC);
    lab_load_idle(L, &ld, lab_now(L) + LAB_SEC);
    const char *m = "1 s after the client closed";
    lab_view(L, SERVER, m, "ss -tan state close-wait | wc -l");
    lab_view(L, CLIENT, m, "ss -tan state fin-wait-2 | wc -l");
    lab_view(L, CLIENT, m, "ss -tano state fin-wait-2 | head -3");
    lab_view(L, SERVER, m, "ss -tan state close-wait | head -3");
    size_t fw2 = lab_count_state(L, CLIENT, SK_TCP_FIN_WAIT2);
    lab_load_idle(L, &ld, lab_now(L) + 61 * LAB_SEC);
    const char *m2 = "61 s later (tcp_fin_timeout=60)";
    lab_view(L, SERVER, m2, "ss -tan state close-wait | wc -l");
    lab_view(L, CLIENT, m2, "ss -tan state fin-wait-2 | wc -l");
    lab_view(L, CLIENT, m2, "ss -tan state time-wait | wc -l");
    size_t cw = lab_count_state(L, SERVER, SK_TCP_CLOSE_WAIT);
    lab_figure(L, "requests", n);
    lab_figure(L, "close_wait", (double)cw);
    lab_figure(L, "fin_wait2_at_1s", (double)fw2);
    lab_figure(L, "fin_wait2_at_62s", (double)lab_count_state(L, CLIENT, SK_TCP_FIN_WAIT2));
    lab_figure(L, "client_time_wait", (double)lab_count_state(L, CLIENT, SK_TCP_TIME_WAIT));
    outcome_from_load(L, &ld, "requests");
    L->r->reproduced = !L->fix && cw == n && fw2 == n && lab_get_figure(L->r, "fin_wait2_at_62s") == 0;
    L->r->fixed = L->fix && cw == 0;
    if (L->fix)
        lab_verdict(L, "The server closes on EOF: its side goes LAST_ACK then CLOSED, the client's TIME_WAIT ends "
                       "normally, and no CLOSE_WAIT remains.");
    else
        lab_verdict(L, "The server application never closes its sockets after the client's FIN: %zu connections stay "
                       "in CLOSE_WAIT for ever (each one a file descriptor), while the client's orphaned FIN_WAIT_2 "
                       "expired after tcp_fin_timeout (60 s).",
                    cw);
    lab_load_free(&ld);
    return 0;
}

/* ------------------------------------------------------------------ */

static int abort_scenario(lab *L, bool unread)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.resp_len = 200000;
    ld.client_closes_first = false;
    if (unread) {
        ld.req_len = 300;
        ld.srv_read_limit = L->fix ? 0 : 100;
        lab_say(L, "The client sends a 300-byte request; the server %s, writes a 200000-byte response and closes.",
                L->fix ? "reads the whole request (the fix)" : "reads only the first 100 bytes (the headers, say)");
    } else {
        ld.linger0 = !L->fix;
        lab_say(L, "The client sends a request; the server writes a 200000-byte response and closes %s.",
                L->fix ? "normally (the fix: no SO_LINGER)"
                       : "after setting SO_LINGER {on, 0} (a common trick to avoid TIME_WAIT)");
    }
    lab_load_run(L, &ld, lab_now(L) + 30 * LAB_SEC);
    lab_load_idle(L, &ld, lab_now(L) + 100 * LAB_MS);
    const char *m = "after the exchange";
    lab_view(L, SERVER, m, "nstat TcpOutRsts TcpExtTCPAbortOnData TcpExtTCPAbortOnLinger TcpExtTCPAbortOnClose");
    lab_view(L, CLIENT, m, "nstat TcpEstabResets TcpInSegs");
    lab_view(L, SERVER, m, "ss -tan state time-wait");
    lab_figure(L, "response_bytes", (double)ld.resp_len);
    lab_figure(L, "received_bytes", (double)ld.bytes);
    lab_figure(L, "server_rsts", (double)lab_counter(L, SERVER, "TcpOutRsts"));
    lab_figure(L, "client_estab_resets", (double)lab_counter(L, CLIENT, "TcpEstabResets"));
    lab_figure(L, "server_time_wait", (double)lab_count_state(L, SERVER, SK_TCP_TIME_WAIT));
    lab_counter(L, SERVER, unread ? "TcpExtTCPAbortOnClose" : "TcpExtTCPAbortOnData");
    outcome_from_load(L, &ld, "the client's read of the response");
    bool reset = ld.failed == 1 && ld.first_err == ECONNRESET && (size_t)ld.bytes < ld.resp_len;
    L->r->reproduced = !L->fix && reset;
    L->r->fixed = L->fix && ld.completed == 1 && (size_t)ld.bytes == ld.resp_len;
    if (L->fix)
        lab_verdict(L, "A normal close sends FIN after the data: the client read all %lld bytes and EOF.", ld.bytes);
    else if (unread)
        lab_verdict(L, "close() with 200 unread request bytes made the server send RST instead of FIN (RFC 2525, "
                       "TCPAbortOnClose) and drop the unsent response: the client got %lld of %zu bytes, then "
                       "ECONNRESET.",
                    ld.bytes, ld.resp_len);
    else
        lab_verdict(L, "SO_LINGER 0 turned close() into an abort: RST instead of FIN, the unsent part of the "
                       "response discarded; the client got %lld of %zu bytes, then ECONNRESET.",
                    ld.bytes, ld.resp_len);
    lab_load_free(&ld);
    return 0;
}

int lab_linger_abort(lab *L) { return abort_scenario(L, false); }
int lab_unread_data_reset(lab *L) { return abort_scenario(L, true); }

/* ------------------------------------------------------------------ */

typedef struct final_ack {
    bool server_fin_seen, dropped;
    unsigned server_fins;
    sk_time_ns first_fin;
} final_ack;

static bool final_ack_drop(lab *L, const sk_segment *seg, void *ctx)
{
    final_ack *f = ctx;
    if (seg->src == LAB_SERVER_ADDR && (seg->flags & SK_TH_FIN)) {
        if (!f->server_fins++)
            f->first_fin = lab_now(L);
        f->server_fin_seen = true;
        return false;
    }
    if (L->fix || f->dropped || !f->server_fin_seen)
        return false;
    if (seg->src == LAB_CLIENT_ADDR && seg->flags == SK_TH_ACK && seg->payload_len == 0) {
        f->dropped = true;
        return true;
    }
    return false;
}

typedef struct closed_ctx {
    int host;
} closed_ctx;

static bool only_listeners(lab *L, void *ctx)
{
    closed_ctx *c = ctx;
    return lab_count_state(L, c->host, 0) == lab_count_state(L, c->host, SK_TCP_LISTEN);
}

int lab_lost_final_ack(lab *L)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    final_ack f = {0};
    L->drop = final_ack_drop;
    L->drop_ctx = &f;
    lab_say(L, "One request; the client closes first, the server closes on EOF (LAST_ACK).%s",
            L->fix ? " Contrast: nothing is lost." : " The client's last ACK, for the server's FIN, is lost.");
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    lab_load_run(L, &ld, lab_now(L) + 10 * LAB_SEC);
    lab_load_idle(L, &ld, lab_now(L) + 5 * LAB_MS);
    lab_view(L, SERVER, "just after the lost ACK", "ss -tano state last-ack");
    lab_view(L, CLIENT, "just after the lost ACK", "ss -tano state time-wait");
    closed_ctx c = {SERVER};
    lab_run_pred(L, only_listeners, &c, lab_now(L) + 10 * LAB_SEC);
    sk_time_ns closed_at = lab_now(L);
    lab_view(L, SERVER, "when the server's side is closed", "nstat TcpRetransSegs TcpOutSegs");
    lab_view(L, CLIENT, "when the server's side is closed", "ss -tan state time-wait");
    lab_figure(L, "server_fins", f.server_fins);
    lab_figure(L, "last_ack_ms", (double)(closed_at - f.first_fin) / (double)LAB_MS);
    lab_figure(L, "server_retrans", (double)lab_counter(L, SERVER, "TcpRetransSegs"));
    lab_figure(L, "client_time_wait", (double)lab_count_state(L, CLIENT, SK_TCP_TIME_WAIT));
    lab_figure(L, "server_left_open", (double)(lab_count_state(L, SERVER, 0) - lab_count_state(L, SERVER, SK_TCP_LISTEN)));
    outcome_from_load(L, &ld, "request");
    L->r->reproduced = !L->fix && f.dropped && f.server_fins == 2 && lab_get_figure(L->r, "server_left_open") == 0;
    if (L->fix)
        lab_verdict(L, "Without loss the server's LAST_ACK ends in %.1f ms with its first FIN acknowledged.",
                    lab_get_figure(L->r, "last_ack_ms"));
    else
        lab_verdict(L, "The final ACK was lost: LAST_ACK retransmitted its FIN after the RTO and the client, still in "
                       "TIME_WAIT, acknowledged it again, closing the server's side after %.0f ms; without TIME_WAIT "
                       "that FIN would have drawn a RST.",
                    lab_get_figure(L->r, "last_ack_ms"));
    lab_load_free(&ld);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_simultaneous_close(lab *L)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    int cfd, sfd;
    if (!lab_establish(L, lfd, &cfd, &sfd))
        return -1;
    lab_run_for(L, 10 * LAB_MS);
    lab_say(L, "A connection is established; then %s", L->fix ? "the client closes first and the server closes "
                                                                 "once it sees EOF (the ordinary close, as contrast)."
                                                               : "both applications call close() at the same instant, "
                                                                 "so the two FINs cross on the wire.");
    sk_close(lab_stack(L, CLIENT), cfd);
    if (!L->fix) {
        sk_close(lab_stack(L, SERVER), sfd);
    } else {
        lab_run_for(L, 1500 * SK_NSEC_PER_USEC);
        sk_close(lab_stack(L, SERVER), sfd);
    }
    lab_run_for(L, 1500 * SK_NSEC_PER_USEC);
    const char *m = "1.5 ms after the close";
    lab_view(L, CLIENT, m, "ss -tan");
    lab_view(L, SERVER, m, "ss -tan");
    size_t cc = lab_count_state(L, CLIENT, SK_TCP_CLOSING), sc = lab_count_state(L, SERVER, SK_TCP_CLOSING);
    lab_run_for(L, 10 * LAB_MS);
    lab_view(L, CLIENT, "10 ms later", "ss -tan state time-wait");
    lab_view(L, SERVER, "10 ms later", "ss -tan state time-wait");
    size_t ct = lab_count_state(L, CLIENT, SK_TCP_TIME_WAIT), st = lab_count_state(L, SERVER, SK_TCP_TIME_WAIT);
    lab_figure(L, "client_closing", (double)cc);
    lab_figure(L, "server_closing", (double)sc);
    lab_figure(L, "client_time_wait", (double)ct);
    lab_figure(L, "server_time_wait", (double)st);
    snprintf(L->r->outcome.text, sizeof(L->r->outcome.text), "both close() calls returned 0");
    L->r->reproduced = !L->fix && cc == 1 && sc == 1 && ct == 1 && st == 1;
    if (L->fix)
        lab_verdict(L, "In an ordinary close only the side that closed first (the client) keeps TIME_WAIT; the "
                       "other goes CLOSE_WAIT, LAST_ACK, CLOSED.");
    else
        lab_verdict(L, "The FINs crossed: each side went FIN_WAIT_1 -> CLOSING on the peer's FIN, then TIME_WAIT on "
                       "the ACK of its own, so both hosts hold TIME_WAIT.");
    return 0;
}

int lab_simultaneous_open(lab *L)
{
    lab_say(L, "%s", L->fix ? "Contrast: the server listens on port 6000 and the client 10.0.0.1:5000 connects to it "
                              "(the ordinary open)."
                            : "No listener: 10.0.0.1:5000 and 10.0.0.2:6000 each bind their port and connect() to "
                              "the other at the same instant, so the two SYNs cross.");
    int a, b = -1;
    if (L->fix) {
        int lfd = lab_listen(L, SERVER, 6000, 16);
        if (lfd < 0)
            return -1;
        a = lab_connect(L, CLIENT, LAB_SERVER_ADDR, 6000, 5000);
        (void)lfd;
    } else {
        a = lab_connect(L, CLIENT, LAB_SERVER_ADDR, 6000, 5000);
        b = lab_connect(L, SERVER, LAB_CLIENT_ADDR, 5000, 6000);
    }
    if (a < 0 || (!L->fix && b < 0)) {
        snprintf(L->error, sizeof(L->error), "connect: %s", sk_strerror(a < 0 ? a : b));
        return -1;
    }
    lab_run_for(L, 1500 * SK_NSEC_PER_USEC);
    const char *m = "1.5 ms: each SYN has arrived";
    lab_view(L, CLIENT, m, "ss -tan");
    lab_view(L, SERVER, m, "ss -tan");
    size_t cr = lab_count_state(L, CLIENT, SK_TCP_SYN_RECV), sr = lab_count_state(L, SERVER, SK_TCP_SYN_RECV);
    lab_run_for(L, 10 * LAB_MS);
    lab_view(L, CLIENT, "10 ms later", "ss -tan state established");
    lab_view(L, SERVER, "10 ms later", "ss -tan state established");
    size_t ce = lab_count_state(L, CLIENT, SK_TCP_ESTABLISHED), se = lab_count_state(L, SERVER, SK_TCP_ESTABLISHED);
    lab_figure(L, "client_syn_recv", (double)cr);
    lab_figure(L, "server_syn_recv", (double)sr);
    lab_figure(L, "client_established", (double)ce);
    lab_figure(L, "server_established", (double)se);
    lab_figure(L, "client_active_opens", (double)lab_counter(L, CLIENT, "TcpActiveOpens"));
    lab_figure(L, "server_active_opens", (double)lab_counter(L, SERVER, "TcpActiveOpens"));
    snprintf(L->r->outcome.text, sizeof(L->r->outcome.text), "connect() %s on %s", ce ? "succeeded" : "did not succeed",
             L->fix ? "the client" : "both hosts");
    L->r->reproduced = !L->fix && cr == 1 && sr == 1 && ce == 1 && se == 1;
    if (L->fix)
        lab_verdict(L, "An ordinary open: SYN, SYN-ACK, ACK; only the server passes through SYN_RECV (as a request "
                       "on its listener).");
    else
        lab_verdict(L, "The SYNs crossed: each side went SYN_SENT -> SYN_RECV on the peer's SYN, answered SYN-ACK, "
                       "and reached ESTABLISHED with no listener and two active opens (RFC 9293 §3.5).");
    return 0;
}

/* ------------------------------------------------------------------ */

typedef struct half_ctx {
    int cfd, sfd;
    bool srv_eof, srv_done, cli_eof;
    size_t srv_got, srv_sent, cli_got, total;
    int cli_err, srv_err;
} half_ctx;

static bool half_step(lab *L, void *ctx)
{
    half_ctx *h = ctx;
    sk_stack *c = lab_stack(L, CLIENT), *s = lab_stack(L, SERVER);
    static uint8_t buf[65536];
    static const uint8_t zeros[16384];
    for (;;) {
        bool moved = false;
        if (!h->srv_eof) {
            ssize_t n = sk_recv(s, h->sfd, buf, sizeof(buf), 0);
            if (n > 0) {
                h->srv_got += (size_t)n;
                moved = true;
            } else if (n == 0) {
                h->srv_eof = true;
                moved = true;
            }
        } else if (!h->srv_done) {
            ssize_t n = sk_send(s, h->sfd, zeros, h->total - h->srv_sent < sizeof(zeros) ? h->total - h->srv_sent
                                                                                          : sizeof(zeros), 0);
            if (n > 0) {
                h->srv_sent += (size_t)n;
                moved = true;
                if (h->srv_sent == h->total) {
                    sk_close(s, h->sfd);
                    h->srv_done = true;
                }
            } else if (n < 0 && n != -EAGAIN) {
                h->srv_err = (int)-n;
                sk_close(s, h->sfd);
                h->srv_done = true;
                moved = true;
            }
        }
        if (h->cfd >= 0 && !h->cli_eof) {
            ssize_t n = sk_recv(c, h->cfd, buf, sizeof(buf), 0);
            if (n > 0) {
                h->cli_got += (size_t)n;
                moved = true;
            } else if (n == 0) {
                h->cli_eof = true;
                sk_close(c, h->cfd);
                moved = true;
            } else if (n != -EAGAIN) {
                h->cli_err = (int)-n;
                h->cli_eof = true;
                moved = true;
            }
        }
        if (!moved)
            break;
    }
    return h->srv_done && (h->cfd < 0 || h->cli_eof);
}

int lab_half_close(lab *L)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    half_ctx h = {.total = 100000};
    if (!lab_establish(L, lfd, &h.cfd, &h.sfd))
        return -1;
    sk_stack *c = lab_stack(L, CLIENT);
    sk_send(c, h.cfd, "0123456789", 10, 0);
    lab_say(L, "The client sends its whole input (10 bytes) and %s; the server reads to EOF, then writes a "
               "100000-byte answer and closes (as `sort` or an rsh-style protocol does).",
            L->fix ? "calls close() (the contrast: it can no longer receive)" : "calls shutdown(SHUT_WR)");
    if (L->fix) {
        sk_close(c, h.cfd);
        h.cfd = -1;
    } else {
        sk_shutdown(c, h.cfd, SK_SHUT_WR);
    }
    lab_run_pred(L, half_step, &h, lab_now(L) + 5 * LAB_MS);
    lab_view(L, CLIENT, "while the server answers", "ss -tan");
    lab_view(L, SERVER, "while the server answers", "ss -tan");
    lab_run_pred(L, half_step, &h, lab_now(L) + 30 * LAB_SEC);
    lab_run_for(L, 10 * LAB_MS);
    lab_view(L, SERVER, "at the end", "nstat TcpOutRsts TcpEstabResets");
    lab_view(L, CLIENT, "at the end", "nstat TcpOutRsts TcpExtTCPAbortOnData");
    lab_figure(L, "answer_bytes", (double)h.total);
    lab_figure(L, "client_received", (double)h.cli_got);
    lab_figure(L, "server_received", (double)h.srv_got);
    lab_figure(L, "client_rsts", (double)lab_counter(L, CLIENT, "TcpOutRsts"));
    lab_outcome *o = &L->r->outcome;
    o->bytes = (long long)h.cli_got;
    snprintf(o->err, sizeof(o->err), "%s", h.srv_err ? sk_errno_name(h.srv_err) : "");
    snprintf(o->text, sizeof(o->text), "the client received %zu of %zu bytes%s%s", h.cli_got, h.total,
             h.srv_err ? "; the server's send failed with " : "", h.srv_err ? sk_errno_name(h.srv_err) : "");
    L->r->reproduced = !L->fix && h.cli_got == h.total && h.srv_got == 10;
    if (L->fix)
        lab_verdict(L, "close() instead of shutdown(SHUT_WR): the answer arrived at a closed socket, which answered "
                       "it with RST (TCPAbortOnData); the client received nothing.");
    else
        lab_verdict(L, "shutdown(SHUT_WR) sent FIN but kept the receive side open (FIN_WAIT_2 with data flowing in): "
                       "all %zu bytes of the answer arrived after the client's FIN.",
                    h.cli_got);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_short_vs_pool(lab *L)
{
    unsigned n = L->scale, pool = 10;
    int lfd = lab_listen(L, SERVER, LAB_PORT, 4096);
    if (lfd < 0)
        return -1;
    lab_load ld;
    lab_load_init(&ld, CLIENT, SERVER, lfd);
    ld.parallel = pool;
    if (L->fix) {
        ld.conns = pool;
        ld.per_conn = n / pool;
    } else {
        ld.conns = n;
    }
    lab_say(L, "%u requests, 10 in flight at a time, %s.", n,
            L->fix ? "over a pool of 10 connections reused for every request"
                   : "each on its own connection (connect, request, response, close)");
    sk_time_ns t0 = lab_now(L);
    lab_load_run(L, &ld, lab_now(L) + 60 * LAB_SEC);
    sk_time_ns took = lab_now(L) - t0;
    lab_load_idle(L, &ld, lab_now(L) + 100 * LAB_MS);
    const char *m = "after the requests";
    lab_view(L, CLIENT, m, "nstat TcpActiveOpens TcpOutSegs");
    lab_view(L, CLIENT, m, "ss -tan state time-wait | wc -l");
    lab_figure(L, "requests", n);
    lab_figure(L, "handshakes", (double)lab_counter(L, CLIENT, "TcpActiveOpens"));
    lab_figure(L, "segments", (double)lab_counter(L, CLIENT, "TcpOutSegs") + (double)lab_counter(L, SERVER, "TcpOutSegs"));
    lab_figure(L, "time_wait", (double)lab_count_state(L, CLIENT, SK_TCP_TIME_WAIT));
    lab_figure(L, "total_ms", (double)took / (double)LAB_MS);
    outcome_from_load(L, &ld, "requests");
    L->r->outcome.seconds = (double)took / (double)LAB_SEC;
    L->r->reproduced = !L->fix && lab_get_figure(L->r, "handshakes") == n;
    L->r->fixed = L->fix && lab_get_figure(L->r, "handshakes") == pool && ld.completed == pool;
    lab_verdict(L, "%u requests took %.0f handshakes, %.0f segments, %.0f TIME_WAIT records and %.1f ms.", n,
                lab_get_figure(L->r, "handshakes"), lab_get_figure(L->r, "segments"),
                lab_get_figure(L->r, "time_wait"), lab_get_figure(L->r, "total_ms"));
    lab_load_free(&ld);
    return 0;
}
