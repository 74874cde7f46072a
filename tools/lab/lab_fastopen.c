/*
 * fast-open: TCP Fast Open (RFC 7413) as an operator meets it.
 *
 * A client asks the same server for a 100-byte request's 1000-byte answer
 * over a path with a 50 ms round trip.  Its first connection asks for a
 * cookie (a SYN with an empty Fast Open option): the answer comes two
 * round trips after the first sendto().  The second carries the request in
 * the SYN with the cookie: one round trip.  Through a middlebox that strips
 * the option the server sees data in a plain SYN, acknowledges the SYN
 * alone, and the client sends the request again (TCPFastOpenActiveFail):
 * two round trips, nothing lost.  Then a middlebox appears that
 * blackholes every flow whose SYN carries data (a firewall that drops the
 * flow it does not understand): that connection's SYNs all vanish and it
 * fails.  What follows depends on Linux's active-side blackhole detection
 * (tcp_fastopen_active_detect_blackhole): with
 * net.ipv4.tcp_fastopen_blackhole_timeout_sec = 0, Linux's default since
 * 5.14, nothing is learned and the next connection sends its data in the
 * SYN again and fails the same way; with it set (3600, the earlier
 * default: the fix) the second SYN timeout of a Fast Open connection
 * counts TCPFastOpenBlackhole and turns active Fast Open off, so the next
 * connection opens plainly and gets its answer.
 */
#include <errno.h>
#include <string.h>

#include "lab.h"

#define CLIENT 0
#define SERVER 1
#define REQ_LEN 100
#define RESP_LEN 1000
#define FO_PORT_BASE 40001

/* The middleboxes: `strip` overwrites the Fast Open option of every SYN
 * with NOPs, as boxes that scrub options they do not know do; `on` drops
 * every flow whose SYN carries data, once it sees one. */
typedef struct fo_box {
    bool strip;
    unsigned stripped;
    bool on;
    uint16_t blocked[8];
    int nblocked;
    unsigned dropped;
} fo_box;

static bool box_blocked(const fo_box *b, uint16_t port)
{
    for (int i = 0; i < b->nblocked; i++)
        if (b->blocked[i] == port)
            return true;
    return false;
}

/* Rewrites a SYN without its Fast Open option (kind 34, or 254 with
 * magic 0xF989): the same datagram, the option's bytes turned to NOPs. */
static bool strip_fo(lab *L, const sk_segment *seg)
{
    uint8_t opts[40];
    size_t n = seg->options_len < sizeof(opts) ? seg->options_len : sizeof(opts);
    memcpy(opts, seg->options, n);
    bool found = false;
    for (size_t i = 0; i < n;) {
        uint8_t kind = opts[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n || opts[i + 1] < 2 || i + opts[i + 1] > n)
            break;
        uint8_t len = opts[i + 1];
        if (kind == 34 || (kind == 254 && len >= 4 && opts[i + 2] == 0xf9 && opts[i + 3] == 0x89)) {
            memset(opts + i, 1, len);
            found = true;
        }
        i += len;
    }
    if (!found)
        return false;
    sk_segment_spec spec = {.src = seg->src, .dst = seg->dst, .sport = seg->sport, .dport = seg->dport,
                            .seq = seg->seq, .ack = seg->ack, .flags = seg->flags, .window = seg->window,
                            .ttl = seg->ttl, .tos = seg->tos, .ip_id = seg->ip_id, .df = seg->df,
                            .options = opts, .options_len = n, .payload = seg->payload,
                            .payload_len = seg->payload_len};
    lab_inject(L, &spec, 25 * LAB_MS);
    return true;
}

static bool box_drop(lab *L, const sk_segment *seg, void *ctx)
{
    fo_box *b = ctx;
    if (b->strip && (seg->flags & SK_TH_SYN) && strip_fo(L, seg)) {
        b->stripped++;
        return true; /* the rewritten copy goes on in its place */
    }
    if (!b->on)
        return false;
    uint16_t cport = seg->src == LAB_CLIENT_ADDR ? seg->sport : seg->dport;
    if (seg->src == LAB_CLIENT_ADDR && (seg->flags & SK_TH_SYN) && seg->payload_len > 0 && !box_blocked(b, cport) &&
        b->nblocked < (int)(sizeof(b->blocked) / sizeof(b->blocked[0])))
        b->blocked[b->nblocked++] = cport;
    if (box_blocked(b, cport)) {
        b->dropped++;
        return true;
    }
    return false;
}

/* One request/response over a Fast Open client socket, with the server
 * application answering as soon as the request is in. */
typedef struct fo_conn {
    int cfd;
    uint16_t port;
    sk_time_ns t0, first_byte, end;
    size_t sent, got;
    bool syn_data;  /* sendto() put bytes in the SYN */
    int err;        /* errno the client saw, 0 if none */
    /* server side */
    int lfd, sfd;
    size_t sreq;
    bool answered;
} fo_conn;

static void serve(lab *L, fo_conn *c)
{
    sk_stack *s = lab_stack(L, SERVER);
    if (c->sfd < 0) {
        sk_endpoint peer;
        int fd = sk_accept(s, c->lfd, &peer);
        if (fd < 0)
            return;
        c->sfd = fd;
    }
    uint8_t buf[2048];
    ssize_t n;
    while ((n = sk_recv(s, c->sfd, buf, sizeof(buf), 0)) > 0)
        c->sreq += (size_t)n;
    if (!c->answered && c->sreq >= REQ_LEN) {
        uint8_t resp[RESP_LEN];
        memset(resp, 'r', sizeof(resp));
        if (sk_send(s, c->sfd, resp, sizeof(resp), 0) == RESP_LEN)
            c->answered = true;
    }
}

static bool conn_step(lab *L, void *ctx)
{
    fo_conn *c = ctx;
    sk_stack *s = lab_stack(L, CLIENT);
    serve(L, c);
    int ev = sk_poll(s, c->cfd);
    if (ev < 0 || (ev & SK_POLLERR)) {
        c->err = lab_so_error(L, CLIENT, c->cfd);
        if (!c->err)
            c->err = ECONNRESET;
        return true;
    }
    if (c->sent < REQ_LEN && (ev & SK_POLLOUT)) {
        uint8_t req[REQ_LEN];
        memset(req, 'q', sizeof(req));
        ssize_t n = sk_send(s, c->cfd, req + c->sent, REQ_LEN - c->sent, 0);
        if (n > 0)
            c->sent += (size_t)n;
    }
    uint8_t buf[2048];
    ssize_t n;
    while ((n = sk_recv(s, c->cfd, buf, sizeof(buf), 0)) > 0) {
        if (!c->got)
            c->first_byte = lab_now(L);
        c->got += (size_t)n;
    }
    return c->got >= RESP_LEN;
}

/* Opens connection number k (its own client port) with sendto(MSG_FASTOPEN)
 * of the request and runs it to the answer or failure. */
static void fo_connect(lab *L, fo_conn *c, int lfd, int k, bool watch)
{
    sk_stack *s = lab_stack(L, CLIENT);
    memset(c, 0, sizeof(*c));
    c->lfd = lfd;
    c->sfd = -1;
    c->port = (uint16_t)(FO_PORT_BASE + k);
    c->cfd = sk_socket(s);
    sk_endpoint me = {.addr = 0, .port = c->port, .family = SK_AF_INET};
    sk_bind(s, c->cfd, &me);
    if (watch) {
        sk_endpoint a = {.addr = LAB_CLIENT_ADDR, .port = c->port, .family = SK_AF_INET};
        sk_endpoint b = {.addr = LAB_SERVER_ADDR, .port = LAB_PORT, .family = SK_AF_INET};
        lab_watch(L, a, b);
    }
    uint8_t req[REQ_LEN];
    memset(req, 'q', sizeof(req));
    sk_endpoint to = {.addr = LAB_SERVER_ADDR, .port = LAB_PORT, .family = SK_AF_INET};
    c->t0 = lab_now(L);
    ssize_t n = sk_sendto(s, c->cfd, req, sizeof(req), SK_MSG_FASTOPEN, &to);
    if (n > 0) {
        c->sent = (size_t)n;
        c->syn_data = true;
    } else if (n != -EINPROGRESS) {
        c->err = (int)-n;
        return;
    }
    lab_run_pred(L, conn_step, c, c->t0 + 60 * LAB_SEC);
    c->end = lab_now(L);
    if (!c->err && c->got < RESP_LEN)
        c->err = ETIMEDOUT;
    sk_close(s, c->cfd);
    if (c->sfd >= 0)
        sk_close(lab_stack(L, SERVER), c->sfd);
    lab_run_for(L, 200 * LAB_MS);
}

static double ttfb_ms(const fo_conn *c)
{
    return c->got ? (double)(c->first_byte - c->t0) / (double)LAB_MS : -1;
}

int lab_fast_open(lab *L)
{
    sk_link_params link = {.delay = 25 * LAB_MS};
    sk_wire_set_link(L->wire, 0, 0, &link);
    if (!lab_sysctl(L, SERVER, "net.ipv4.tcp_fastopen", "3") ||
        !lab_sysctl(L, CLIENT, "net.ipv4.tcp_syn_retries", "3"))
        return -1;
    if (L->fix && !lab_sysctl(L, CLIENT, "net.ipv4.tcp_fastopen_blackhole_timeout_sec", "3600"))
        return -1;
    int lfd = lab_listen(L, SERVER, LAB_PORT, 128);
    if (lfd < 0)
        return -1;
    int qlen = 16;
    sk_setsockopt(lab_stack(L, SERVER), lfd, SK_IPPROTO_TCP, SK_TCP_FASTOPEN, &qlen, sizeof(qlen));
    fo_box box = {0};
    L->drop = box_drop;
    L->drop_ctx = &box;
    lab_baseline(L);
    lab_say(L,
            "A client fetches a %d-byte answer to a %d-byte request with sendto(MSG_FASTOPEN) from a server whose "
            "listener has TCP_FASTOPEN (net.ipv4.tcp_fastopen=3), over a 50 ms round trip, five times: a first "
            "connection, a second, a third through a middlebox that strips the Fast Open option from SYNs, then "
            "two after another starts blackholing every flow whose SYN carries data. The client has tcp_syn_retries=3 (a connection gives up after 15 s) and %s.",
            RESP_LEN, REQ_LEN,
            L->fix ? "tcp_fastopen_blackhole_timeout_sec=3600 (the fix: blackhole detection on, as before Linux 5.14)"
                   : "tcp_fastopen_blackhole_timeout_sec=0 (Linux's default since 5.14: no blackhole detection)");

    fo_conn a, b, c, d;
    lab_note(L, "--- connection 1: no cookie yet, the SYN asks for one ---");
    fo_connect(L, &a, lfd, 0, false);
    lab_note(L, "--- connection 2: the request rides in the SYN with the cookie (the timeline follows it) ---");
    fo_connect(L, &b, lfd, 1, true);
    lab_view(L, CLIENT, "after two connections", "nstat TcpExtTCPFastOpenActive TcpExtTCPFastOpenCookieReqd");
    lab_view(L, SERVER, "after two connections",
             "nstat TcpExtTCPFastOpenPassive TcpExtTCPFastOpenCookieReqd TcpExtTCPFastOpenPassiveFail");

    box.strip = true;
    lab_note(L, "--- a middlebox now strips the Fast Open option from SYNs ---");
    fo_conn x;
    uint64_t fail_before = lab_counter(L, CLIENT, "TcpExtTCPFastOpenActiveFail");
    fo_connect(L, &x, lfd, 9, false);
    uint64_t strip_fails = lab_counter(L, CLIENT, "TcpExtTCPFastOpenActiveFail") - fail_before;
    lab_note(L, "--- connection 3: data in the SYN, but the server saw no cookie: it acknowledged the SYN alone and "
                "the client sent the request again; answered after %.0f ms ---",
             ttfb_ms(&x));
    lab_view(L, CLIENT, "behind the option-stripping middlebox", "nstat TcpExtTCPFastOpenActiveFail TcpRetransSegs");
    box.strip = false;

    box.on = true;
    lab_note(L, "--- the stripping middlebox is gone; another now drops every flow whose SYN carries data ---");
    fo_connect(L, &c, lfd, 2, false);
    lab_note(L, "--- connection 4: SYN with data at 0 s, plain SYNs at 1, 3 and 7 s, all dropped: %s after %.0f s%s ---",
             c.err ? sk_errno_name(c.err) : "answered", (double)(c.end - c.t0) / (double)LAB_SEC,
             lab_counter(L, CLIENT, "TcpExtTCPFastOpenBlackhole") ? "; the second SYN timeout counted TCPFastOpenBlackhole"
                                                                   : "");
    lab_view(L, CLIENT, "after the first blackholed connection",
             "nstat TcpExtTCPFastOpenActiveFail TcpExtTCPFastOpenBlackhole TcpExtTCPSynRetrans");
    lab_view(L, CLIENT, "after the first blackholed connection", "sysctl net.ipv4.tcp_fastopen_blackhole_timeout_sec");
    fo_connect(L, &d, lfd, 3, false);
    lab_note(L, "--- connection 5: %s: %s ---",
             d.syn_data ? "data in the SYN again (the cookie is still cached)" : "a plain SYN (active Fast Open is off)",
             d.err ? sk_errno_name(d.err) : "answered");
    lab_view(L, CLIENT, "after the next connection",
             "nstat -a TcpExtTCPFastOpenActive TcpExtTCPFastOpenActiveFail TcpExtTCPFastOpenBlackhole");

    lab_figure(L, "ttfb_cookie_request_ms", ttfb_ms(&a));
    lab_figure(L, "ttfb_fast_open_ms", ttfb_ms(&b));
    lab_figure(L, "saved_ms", ttfb_ms(&a) - ttfb_ms(&b));
    lab_figure(L, "first_syn_data", a.syn_data);
    lab_figure(L, "second_syn_data", b.syn_data);
    lab_figure(L, "stripped_syn_data", x.syn_data);
    lab_figure(L, "stripped_ttfb_ms", ttfb_ms(&x));
    lab_figure(L, "stripped_active_fail", (double)strip_fails);
    lab_figure(L, "stripped_options", box.stripped);
    lab_figure(L, "blackholed_failed", c.err != 0);
    lab_figure(L, "blackholed_seconds", (double)(c.end - c.t0) / (double)LAB_SEC);
    lab_figure(L, "next_syn_data", d.syn_data);
    lab_figure(L, "next_failed", d.err != 0);
    lab_figure(L, "next_ttfb_ms", ttfb_ms(&d));
    lab_figure(L, "middlebox_drops", box.dropped);
    lab_figure(L, "blackhole_detected", (double)lab_counter(L, CLIENT, "TcpExtTCPFastOpenBlackhole"));
    lab_figure(L, "active", (double)lab_counter(L, CLIENT, "TcpExtTCPFastOpenActive"));
    lab_figure(L, "active_fail", (double)lab_counter(L, CLIENT, "TcpExtTCPFastOpenActiveFail"));
    lab_figure(L, "passive", (double)lab_counter(L, SERVER, "TcpExtTCPFastOpenPassive"));

    lab_outcome *o = &L->r->outcome;
    o->ok = (a.err == 0) + (b.err == 0) + (x.err == 0) + (c.err == 0) + (d.err == 0);
    o->failed = 5 - o->ok;
    o->bytes = (long long)(a.got + b.got + x.got + c.got + d.got);
    o->seconds = (double)(d.end - d.t0) / (double)LAB_SEC;
    snprintf(o->err, sizeof(o->err), "%s", d.err ? sk_errno_name(d.err) : "");
    snprintf(o->text, sizeof(o->text),
             "answers after %.0f ms (cookie request), %.0f ms (data in the SYN) and %.0f ms (option stripped); "
             "behind the blackholing middlebox: %s, then %s",
             ttfb_ms(&a), ttfb_ms(&b), ttfb_ms(&x), c.err ? sk_errno_name(c.err) : "answered",
             d.err ? sk_errno_name(d.err) : (d.syn_data ? "answered with data in the SYN" : "answered without Fast Open"));
    bool saved = a.err == 0 && b.err == 0 && !a.syn_data && b.syn_data && ttfb_ms(&b) < ttfb_ms(&a);
    L->r->reproduced = !L->fix && saved && c.err != 0 && d.err != 0 && d.syn_data;
    L->r->fixed = L->fix && saved && c.err != 0 && d.err == 0 && !d.syn_data;
    if (L->fix)
        lab_verdict(L,
                    "Fast Open saved %.0f ms of %.0f (one round trip) on a repeat connection; an option-stripping "
                    "middlebox only costs the saving (the server ignored the SYN's data and it was sent again). Behind "
                    "the blackholing middlebox the first connection still failed, but its second SYN timeout counted "
                    "TCPFastOpenBlackhole and turned active Fast Open off for an hour, so the next connection opened "
                    "without data in its SYN and got its answer in %.0f ms.",
                    ttfb_ms(&a) - ttfb_ms(&b), ttfb_ms(&a), ttfb_ms(&d));
    else
        lab_verdict(L,
                    "Fast Open saved %.0f ms of %.0f (one round trip) on a repeat connection; an option-stripping "
                    "middlebox only costs the saving (the server ignored the SYN's data and it was sent again). Behind "
                    "a middlebox that blackholes flows whose SYN carries data every Fast Open connection fails (%s after 15 s): with "
                    "tcp_fastopen_blackhole_timeout_sec=0 nothing is learned from the failures and the cached cookie "
                    "keeps putting data in the SYN; set it (3600) or turn Fast Open off for that path.",
                    ttfb_ms(&a) - ttfb_ms(&b), ttfb_ms(&a), d.err ? sk_errno_name(d.err) : "none");
    return 0;
}
