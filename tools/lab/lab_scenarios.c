/*
 * The lab's scenarios, in the order `synack lab` lists them.  Finding ids
 * are the vocabulary `synack analyze`/`doctor` use for the same problems.
 */
#include <string.h>

#include "lab.h"

static const lab_scenario scenarios[] = {
    {"time-wait-pileup", "short connections pile up TIME_WAIT on the side that closes first", "time-wait",
     "reuse connections (HTTP keep-alive: 10 connections for all requests)", NULL, NULL, 200, lab_time_wait_pileup},
    {"port-exhaustion", "TIME_WAIT holds every local port: connect() fails with EADDRNOTAVAIL",
     "ephemeral-ports-exhausted", "net.ipv4.tcp_tw_reuse=1 (with timestamps)", NULL, NULL, 30, lab_port_exhaustion},
    {"close-wait-leak", "the server never closes after the client does: CLOSE_WAIT accumulates", "close-wait",
     "the application closes when read() returns 0", NULL, NULL, 20, lab_close_wait_leak},
    {"syn-flood", "spoofed SYNs fill the SYN queue; legitimate clients cannot connect", "syn-flood",
     "net.ipv4.tcp_syncookies=1 (Linux's default)", NULL, NULL, 200, lab_syn_flood},
    {"accept-queue-overflow", "the application accepts too slowly: ListenOverflows, delays, resets",
     "listen-overflow", "listen() with a backlog that covers the burst (1024; somaxconn 4096)", NULL, NULL, 100,
     lab_accept_overflow},
    {"backlog-spike", "a burst against somaxconn=128: some connections slow, the rest instant", "listen-overflow",
     "net.core.somaxconn=4096 and net.ipv4.tcp_max_syn_backlog=4096", NULL, NULL, 300, lab_backlog_spike},
    {"syn-retries-timeout", "connecting to a host that never answers: ETIMEDOUT after 127 s", "syn-unanswered",
     "net.ipv4.tcp_syn_retries=2: fail after 7 s instead of 127 s", NULL, NULL, 0, lab_syn_retries},
    {"connection-refused", "RST,ACK from a closed port: ECONNREFUSED at once", "syn-refused",
     "start the service (a listener on the port)", NULL, NULL, 0, lab_refused},
    {"linger-abort", "SO_LINGER 0 then close(): RST, the peer gets ECONNRESET and loses data", "rst-abort",
     "close normally (no SO_LINGER 0)", NULL, NULL, 0, lab_linger_abort},
    {"unread-data-reset", "close() with unread received data sends RST; the peer loses the response", "rst-abort",
     "read the whole request before closing", NULL, NULL, 0, lab_unread_data_reset},
    {"keepalive-dead-peer", "the peer vanishes: without keepalive the connection lives for ever", NULL,
     "SO_KEEPALIVE (tcp_keepalive_time 7200, intvl 75, probes 9)", NULL, NULL, 0, lab_keepalive_dead_peer},
    {"zero-window", "a reader that stops: zero window, window probes, a blocked writer", "zero-window",
     "a reader that keeps up", NULL, NULL, 0, lab_zero_window},
    {"mtu-blackhole", "large segments vanish on a path whose ICMP is filtered: the transfer hangs", "mtu-blackhole-suspected",
     "net.ipv4.tcp_mtu_probing=1 (or let ICMP fragmentation-needed through)", NULL, NULL, 0, lab_mtu_blackhole},
    {"mtu-frag-needed", "a hop with a smaller MTU says so (ICMP fragmentation-needed): the MSS drops at once", NULL,
     NULL, "the same hop silent, with tcp_mtu_probing=1", NULL, 0, lab_mtu_frag_needed},
    {"lost-final-ack", "the last ACK is lost: LAST_ACK retransmits its FIN, TIME_WAIT answers it", NULL, NULL,
     "the same close without loss", NULL, 0, lab_lost_final_ack},
    {"simultaneous-close", "both sides close at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both", NULL, NULL,
     "an ordinary close", NULL, 0, lab_simultaneous_close},
    {"simultaneous-open", "both sides connect at once: SYN_SENT -> SYN_RECV -> ESTABLISHED", NULL, NULL,
     "an ordinary open against a listener", NULL, 0, lab_simultaneous_open},
    {"half-close", "shutdown(SHUT_WR): the peer keeps sending and the data arrives", NULL, NULL,
     "close() instead of shutdown(SHUT_WR)", NULL, 0, lab_half_close},
    {"blind-rst", "an off-path RST with a guessed sequence number draws a challenge ACK", NULL, NULL,
     "a RST at exactly RCV.NXT (a predicted sequence number)", NULL, 0, lab_blind_rst},
    {"fast-open", "Fast Open saves a round trip; a middlebox blackholing SYNs with data makes it fail", NULL,
     "net.ipv4.tcp_fastopen_blackhole_timeout_sec=3600: detect the blackhole and stop sending data in SYNs", NULL,
     NULL, 0, lab_fast_open},
    {"short-connections-vs-pool", "a connection per request versus a pool of 10", "time-wait",
     "a pool of 10 connections reused for every request", NULL, NULL, 100, lab_short_vs_pool},
};

const lab_scenario *lab_scenarios(size_t *n)
{
    *n = sizeof(scenarios) / sizeof(scenarios[0]);
    return scenarios;
}

const lab_scenario *lab_find(const char *name)
{
    size_t n;
    const lab_scenario *s = lab_scenarios(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s[i].name, name))
            return &s[i];
    return NULL;
}
