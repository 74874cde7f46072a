/*
 * Lab scenarios about a connection's life against a peer that does not
 * answer, refuses, vanishes, stops reading, or is impersonated: SYN
 * retries, refused ports, keepalive, the zero window and blind resets.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab.h"

#define CLIENT 0
#define SERVER 1

typedef struct fd_ctx {
    int host, fd;
} fd_ctx;

/* The connect() finished, one way or the other. */
static bool connect_done(lab *L, void *ctx)
{
    fd_ctx *f = ctx;
    int ev = sk_poll(lab_stack(L, f->host), f->fd);
    return ev < 0 || (ev & (SK_POLLOUT | SK_POLLERR | SK_POLLHUP));
}

static bool has_error(lab *L, void *ctx)
{
    fd_ctx *f = ctx;
    int ev = sk_poll(lab_stack(L, f->host), f->fd);
    return ev < 0 || (ev & SK_POLLERR);
}

/* ------------------------------------------------------------------ */

int lab_syn_retries(lab *L)
{
    if (L->fix && !lab_sysctl(L, CLIENT, "net.ipv4.tcp_syn_retries", "2"))
        return -1;
    lab_baseline(L);
    L->dead_addr = LAB_SERVER_ADDR;
    lab_say(L, "The client connects to 10.0.0.2:80, a host that never answers (a firewall drops everything, or it "
               "is down).%s",
            L->fix ? " Knob: net.ipv4.tcp_syn_retries=2 (default 6)." : " net.ipv4.tcp_syn_retries is Linux's 6.");
    sk_time_ns t0 = lab_now(L);
    fd_ctx f = {CLIENT, lab_connect(L, CLIENT, LAB_SERVER_ADDR, LAB_PORT, 0)};
    if (f.fd < 0) {
        snprintf(L->error, sizeof(L->error), "connect: %s", sk_strerror(f.fd));
        return -1;
    }
    lab_run_for(L, 5 * LAB_SEC);
    lab_view(L, CLIENT, "5 s after connect()", "ss -tano state syn-sent");
    lab_run_pred(L, connect_done, &f, t0 + 300 * LAB_SEC);
    double secs = (double)(lab_now(L) - t0) / (double)LAB_SEC;
    int err = lab_so_error(L, CLIENT, f.fd);
    lab_view(L, CLIENT, "when connect() fails", "nstat TcpActiveOpens TcpExtTCPSynRetrans TcpAttemptFails");
    lab_figure(L, "seconds", secs);
    lab_figure(L, "syns_sent", 1 + (double)lab_counter(L, CLIENT, "TcpExtTCPSynRetrans"));
    lab_outcome *o = &L->r->outcome;
    o->seconds = secs;
    o->failed = 1;
    snprintf(o->err, sizeof(o->err), "%s", err ? sk_errno_name(err) : "");
    snprintf(o->text, sizeof(o->text), "connect() failed with %s after %.1f s", err ? sk_errno_name(err) : "no error",
             secs);
    L->r->reproduced = !L->fix && err == ETIMEDOUT && secs > 120 && secs < 135;
    L->r->fixed = L->fix && err == ETIMEDOUT && secs < 10;
    lab_verdict(L, "Nothing answered, so the SYN was sent %.0f times with exponential backoff (1, 2, 4, ... s) and "
                   "connect() gave up with ETIMEDOUT after %.0f s: \"filtered\" looks like a long wait, not a refusal.",
                lab_get_figure(L->r, "syns_sent"), secs);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_refused(lab *L)
{
    if (L->fix && lab_listen(L, SERVER, LAB_PORT, 128) < 0)
        return -1;
    lab_baseline(L);
    lab_say(L, "The client connects to 10.0.0.2:80, %s.",
            L->fix ? "where the service now listens (the fix: start it, or connect to the right port)"
                   : "a host that is up but where nothing listens on port 80");
    sk_time_ns t0 = lab_now(L);
    fd_ctx f = {CLIENT, lab_connect(L, CLIENT, LAB_SERVER_ADDR, LAB_PORT, 0)};
    if (f.fd < 0) {
        snprintf(L->error, sizeof(L->error), "connect: %s", sk_strerror(f.fd));
        return -1;
    }
    lab_run_pred(L, connect_done, &f, t0 + 300 * LAB_SEC);
    double secs = (double)(lab_now(L) - t0) / (double)LAB_SEC;
    int err = lab_so_error(L, CLIENT, f.fd);
    lab_run_for(L, 10 * LAB_MS);
    lab_view(L, SERVER, "after connect()", "ss -ltn");
    lab_view(L, SERVER, "after connect()", "nstat TcpOutRsts TcpPassiveOpens");
    lab_view(L, CLIENT, "after connect()", "nstat TcpActiveOpens TcpAttemptFails");
    lab_figure(L, "seconds", secs);
    lab_figure(L, "server_rsts", (double)lab_counter(L, SERVER, "TcpOutRsts"));
    lab_figure(L, "attempt_fails", (double)lab_counter(L, CLIENT, "TcpAttemptFails"));
    lab_outcome *o = &L->r->outcome;
    o->seconds = secs;
    o->ok = err == 0;
    o->failed = err != 0;
    snprintf(o->err, sizeof(o->err), "%s", err ? sk_errno_name(err) : "");
    snprintf(o->text, sizeof(o->text), "connect() %s after %.3f s", err ? sk_errno_name(err) : "succeeded", secs);
    L->r->reproduced = !L->fix && err == ECONNREFUSED && secs < 0.01;
    L->r->fixed = L->fix && err == 0;
    if (L->fix)
        lab_verdict(L, "With a listener the same connect() succeeds in %.3f s.", secs);
    else
        lab_verdict(L, "No socket listens on port 80, so the host answered the SYN with RST,ACK and connect() failed "
                       "with ECONNREFUSED after one round trip (%.3f s), unlike a filtered port's 127 s of SYN "
                       "retries (see syn-retries-timeout).",
                    secs);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_keepalive_dead_peer(lab *L)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 128);
    if (lfd < 0)
        return -1;
    int cfd, sfd;
    if (!lab_establish(L, lfd, &cfd, &sfd))
        return -1;
    if (L->fix) {
        int one = 1;
        sk_setsockopt(lab_stack(L, CLIENT), cfd, SK_SOL_SOCKET, SK_SO_KEEPALIVE, &one, sizeof(one));
    }
    lab_baseline(L);
    lab_say(L, "A connection is established and idle; at t=1 s the server vanishes without a word (power cut, a "
               "NAT or firewall forgets the flow): nothing it sends or is sent to it gets through. The client %s.",
            L->fix ? "has SO_KEEPALIVE on (the fix), with Linux's tcp_keepalive_time=7200, intvl=75, probes=9"
                   : "has no keepalive (the default)");
    lab_run_for(L, LAB_SEC);
    lab_note(L, "--- the server vanishes ---");
    L->dead_addr = LAB_SERVER_ADDR;
    sk_time_ns t0 = lab_now(L);
    lab_run_until(L, t0 + 7300 * LAB_SEC);
    lab_view(L, CLIENT, "2 h 1 min 40 s later", "ss -tano state established");
    lab_view(L, CLIENT, "2 h 1 min 40 s later", "nstat TcpExtTCPKeepAlive");
    fd_ctx f = {CLIENT, cfd};
    bool err = lab_run_pred(L, has_error, &f, t0 + 3 * 3600 * LAB_SEC);
    sk_time_ns when = lab_now(L);
    if (err)
        lab_run_until(L, t0 + 3 * 3600 * LAB_SEC);
    double secs = (double)(when - t0) / (double)LAB_SEC;
    int e = lab_so_error(L, CLIENT, cfd);
    lab_view(L, CLIENT, "3 h later", "ss -tan state established | wc -l");
    lab_view(L, CLIENT, "3 h later", "nstat TcpExtTCPKeepAlive TcpExtTCPAbortOnTimeout");
    lab_figure(L, "established_after_3h", (double)lab_count_state(L, CLIENT, SK_TCP_ESTABLISHED));
    lab_figure(L, "probes", (double)lab_counter(L, CLIENT, "TcpExtTCPKeepAlive"));
    lab_figure(L, "detected_after_s", err ? secs : -1);
    lab_counter(L, CLIENT, "TcpExtTCPAbortOnTimeout");
    lab_outcome *o = &L->r->outcome;
    o->seconds = err ? secs : 3 * 3600;
    o->failed = err;
    snprintf(o->err, sizeof(o->err), "%s", e ? sk_errno_name(e) : "");
    if (err)
        snprintf(o->text, sizeof(o->text), "the client's next call fails with %s, %.0f s after the peer vanished",
                 e ? sk_errno_name(e) : "an error", secs);
    else
        snprintf(o->text, sizeof(o->text), "after 3 h the client still believes the connection is established");
    L->r->reproduced = !L->fix && !err && lab_get_figure(L->r, "established_after_3h") == 1;
    L->r->fixed = L->fix && err && e == ETIMEDOUT && secs > 7800 && secs < 7900;
    if (L->fix)
        lab_verdict(L, "Keepalive probed after 7200 s idle, then every 75 s; after 9 unanswered probes the connection "
                       "was aborted with ETIMEDOUT at %.0f s.",
                    secs);
    else
        lab_verdict(L, "Without keepalive an idle connection to a vanished peer sends nothing, so nothing fails: it "
                       "stays ESTABLISHED for ever, holding its memory and descriptor.");
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_zero_window(lab *L)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 128);
    if (lfd < 0)
        return -1;
    lab_bulk z = {.total = 1u << 20, .reader = L->fix};
    if (!lab_establish(L, lfd, &z.cfd, &z.sfd))
        return -1;
    lab_baseline(L);
    lab_say(L, "The client writes 1 MiB as fast as it can; the server application %s.",
            L->fix ? "reads as the data arrives (the fix: a reader that keeps up)" : "does not read (stuck, or slow)");
    sk_time_ns t0 = lab_now(L);
    lab_run_pred(L, lab_bulk_step, &z, t0 + 10 * LAB_SEC);
    const char *m = "10 s after the first write";
    if (lab_now(L) < t0 + 10 * LAB_SEC)
        lab_run_until(L, t0 + 10 * LAB_SEC);
    lab_view(L, SERVER, m, "ss -tn state established");
    lab_view(L, CLIENT, m, "ss -tno state established");
    lab_view(L, SERVER, m, "nstat TcpExtTCPToZeroWindowAdv TcpExtTCPFromZeroWindowAdv");
    lab_view(L, CLIENT, m, "nstat TcpExtTCPWinProbe");
    int inq = sk_inq(lab_stack(L, SERVER), z.sfd);
    int outq = sk_outq(lab_stack(L, CLIENT), z.cfd);
    lab_figure(L, "bytes", (double)z.total);
    lab_figure(L, "written", (double)z.sent);
    lab_figure(L, "delivered", (double)(z.got + (size_t)(inq > 0 ? inq : 0)));
    lab_figure(L, "read", (double)z.got);
    lab_figure(L, "server_recv_q", inq);
    lab_figure(L, "client_send_q", outq);
    lab_figure(L, "zero_window_adv", (double)lab_counter(L, SERVER, "TcpExtTCPToZeroWindowAdv"));
    lab_figure(L, "window_probes", (double)lab_counter(L, CLIENT, "TcpExtTCPWinProbe"));
    lab_outcome *o = &L->r->outcome;
    o->bytes = (long long)z.got;
    if (z.done_at) {
        o->seconds = (double)(z.done_at - t0) / (double)LAB_SEC;
        snprintf(o->text, sizeof(o->text), "all %zu bytes written and read in %.3f s", z.total, o->seconds);
    } else {
        o->seconds = 10;
        snprintf(o->text, sizeof(o->text), "after 10 s the writer has placed %zu of %zu bytes and blocks (EAGAIN)",
                 z.sent, z.total);
        snprintf(o->err, sizeof(o->err), "EAGAIN");
    }
    L->r->reproduced = !L->fix && z.sent < z.total && lab_get_figure(L->r, "zero_window_adv") > 0 &&
                       lab_get_figure(L->r, "window_probes") > 0;
    L->r->fixed = L->fix && z.done_at && lab_get_figure(L->r, "zero_window_adv") == 0;
    if (L->fix)
        lab_verdict(L, "A reader that keeps up keeps the window open: 1 MiB in %.3f s, no zero window.", o->seconds);
    else
        lab_verdict(L, "The reader stopped, its receive buffer filled (Recv-Q %d) and it advertised a zero window; the "
                       "sender persists with window probes (%.0f so far) and its writes block with %d bytes queued.",
                    inq, lab_get_figure(L->r, "window_probes"), outq);
    return 0;
}

/* ------------------------------------------------------------------ */

int lab_blind_rst(lab *L)
{
    int lfd = lab_listen(L, SERVER, LAB_PORT, 128);
    if (lfd < 0)
        return -1;
    int cfd, sfd;
    if (!lab_establish(L, lfd, &cfd, &sfd))
        return -1;
    lab_run_for(L, 10 * LAB_MS);
    lab_baseline(L);
    /* rep_a is the client (it sent the SYN); rep_next[1] is what the
     * client expects next from the server: its RCV.NXT. */
    uint32_t rcv_nxt = L->rep_next[1];
    uint32_t seq = L->fix ? rcv_nxt : rcv_nxt + 5000;
    lab_say(L, "A connection 10.0.0.1 <-> 10.0.0.2:80 is established (server ISN %u, random per RFC 6528). An "
               "off-path attacker forges a RST from 10.0.0.2:80 to the client with sequence number %u: %s.",
            L->rep_isn[1], seq,
            L->fix ? "exactly RCV.NXT (the contrast: what an attacker who can predict the ISN would send)"
                   : "inside the window but not RCV.NXT (a blind guess)");
    sk_segment_spec sp = {
        .src = LAB_SERVER_ADDR,
        .dst = LAB_CLIENT_ADDR,
        .sport = LAB_PORT,
        .dport = L->rep_a.port,
        .seq = seq,
        .flags = SK_TH_RST,
    };
    lab_note(L, "--- the forged RST ---");
    lab_inject(L, &sp, 0);
    lab_run_for(L, 10 * LAB_MS);
    const char *m = "after the forged RST";
    lab_view(L, CLIENT, m, "ss -tan");
    lab_view(L, CLIENT, m, "nstat TcpExtTCPChallengeACK TcpEstabResets");
    int st = sk_state(lab_stack(L, CLIENT), cfd);
    int err = lab_so_error(L, CLIENT, cfd);
    lab_figure(L, "challenge_acks", (double)lab_counter(L, CLIENT, "TcpExtTCPChallengeACK"));
    lab_figure(L, "estab_resets", (double)lab_counter(L, CLIENT, "TcpEstabResets"));
    lab_figure(L, "established", st == SK_TCP_ESTABLISHED);
    lab_outcome *o = &L->r->outcome;
    snprintf(o->err, sizeof(o->err), "%s", err ? sk_errno_name(err) : "");
    snprintf(o->text, sizeof(o->text), "the client's connection is %s%s%s", sk_state_name(st > 0 ? st : SK_TCP_CLOSE),
             err ? ", error " : "", err ? sk_errno_name(err) : "");
    L->r->reproduced = !L->fix && st == SK_TCP_ESTABLISHED && lab_get_figure(L->r, "challenge_acks") == 1;
    if (L->fix)
        lab_verdict(L, "A RST at exactly RCV.NXT is accepted: the connection is reset (ECONNRESET) — which is why "
                       "sequence numbers must be unpredictable (RFC 6528).");
    else
        lab_verdict(L, "The forged RST was in the window but not at RCV.NXT, so the client answered with a challenge "
                       "ACK (RFC 5961 §3.2) and stayed ESTABLISHED; the real peer would have answered that ACK with "
                       "an exact RST, the attacker cannot.");
    return 0;
}
