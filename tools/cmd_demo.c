/*
 * `synack demo`: two stacks on the in-memory wire, client 10.0.0.1 and
 * server 10.0.0.2:80.  The client connects, sends a small HTTP request
 * and reads to EOF; the server answers and closes after its response.
 * Every datagram put on the wire is printed as tcpdump -nn would print
 * it, among the state changes of both stacks, through TIME_WAIT until
 * no connection is left; then an `ss -tan` table taken while TIME_WAIT
 * still stood, and each host's lifecycle counters.
 *
 * Everything runs in virtual time from 10:00:00, driven with the socket
 * API between wire steps, never blocking; the same flags always print
 * the same output.  With --hold the process then stays up with both
 * stacks, their clocks following real time, and answers `synack ss`,
 * `synack nstat` and `synack sysctl` on two control sockets
 * (demo-client, demo-server) until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hold.h"
#include "observe/pcap.h"
#include "observe/trace.h"
#include "synack-io/memwire.h"
#include "synack/synack.h"

#define DEMO_CLIENT_ADDR 0x0a000001u /* 10.0.0.1 */
#define DEMO_SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
#define DEMO_SERVER_PORT 80
#define DEMO_START (36000ull * SK_NSEC_PER_SEC) /* 10:00:00 */
/* Long enough for Linux's SYN retries (1+2+4+8+16+32 s) and a few data
 * retransmissions at high loss; past it the run is declared failed. */
#define DEMO_EXCHANGE_LIMIT (300ull * SK_NSEC_PER_SEC)
/* TIME_WAIT is 60 s (TCP_TIMEWAIT_LEN); LAST_ACK may still be
 * retransmitting its FIN, so allow well beyond that. */
#define DEMO_DRAIN_LIMIT (300ull * SK_NSEC_PER_SEC)

static const char demo_request[] = "GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n";
static const char demo_response[] = "HTTP/1.1 200 OK\r\n"
                                    "Content-Type: text/plain\r\n"
                                    "Content-Length: 13\r\n"
                                    "Connection: close\r\n"
                                    "\r\n"
                                    "hello, world\n";

typedef struct demo_options {
    double loss;
    uint64_t seed;
    double delay_ms;
    const char *pcap_path;
    bool absolute_seq;
    bool hold;
    bool verbose;
} demo_options;

typedef enum client_phase { CLIENT_CONNECTING, CLIENT_SENDING, CLIENT_READING, CLIENT_DONE } client_phase;
typedef enum server_phase { SERVER_ACCEPTING, SERVER_READING, SERVER_SENDING, SERVER_DONE } server_phase;

typedef struct demo {
    demo_options opt;
    sk_wire *wire;
    sk_stack *client, *server;
    sk_trace *trace;
    sk_pcap *pcap;
    bool pcap_failed;

    /* The last datagram line printed, so a loss right after it can be
     * marked with "^" instead of repeating the datagram. */
    uint8_t last_sent[2048];
    size_t last_sent_len;
    bool last_line_is_sent;

    int listen_fd, server_fd, client_fd;
    client_phase cphase;
    server_phase sphase;
    size_t request_sent, response_sent;
    char request_seen[256];
    size_t request_len;
    char response_seen[512];
    size_t response_len;
    char failure[256];
} demo;

/* ------------------------------------------------------------------ */
/* Output                                                                */
/* ------------------------------------------------------------------ */

static void demo_print(demo *d, const char *line)
{
    fputs(line, stdout);
    fputc('\n', stdout);
    d->last_line_is_sent = false;
}

static void demo_on_wire(void *ctx, sk_time_ns now, sk_wire_fate fate, const uint8_t *dgram, size_t len)
{
    demo *d = ctx;
    char line[SK_TRACE_LINE_MAX];
    switch (fate) {
    case SK_WIRE_SENT:
        sk_trace_format_datagram(d->trace, now, dgram, len, line, sizeof(line));
        demo_print(d, line);
        if (len <= sizeof(d->last_sent)) {
            memcpy(d->last_sent, dgram, len);
            d->last_sent_len = len;
            d->last_line_is_sent = true;
        }
        if (d->pcap && sk_pcap_write(d->pcap, now, dgram, len) == -EIO && !d->pcap_failed) {
            d->pcap_failed = true;
            fprintf(stderr, "synack demo: write error on %s; capture stopped\n", d->opt.pcap_path);
        }
        break;
    case SK_WIRE_LOST:
    case SK_WIRE_TOO_BIG:
    case SK_WIRE_NO_ROUTE: {
        const char *what = fate == SK_WIRE_LOST      ? "lost on the wire"
                           : fate == SK_WIRE_TOO_BIG ? "dropped by the wire: larger than the link MTU"
                                                     : "dropped by the wire: no host has that address";
        if (d->last_line_is_sent && len == d->last_sent_len && !memcmp(dgram, d->last_sent, len)) {
            printf("    ^ %s\n", what);
        } else {
            char time[32];
            sk_trace_format_time(now, time, sizeof(time));
            printf("%s %s:\n    ", time, what);
            sk_trace_format_datagram(d->trace, now, dgram, len, line, sizeof(line));
            puts(line);
        }
        d->last_line_is_sent = false;
        break;
    }
    case SK_WIRE_DELIVERED:
        break;
    }
}

static void demo_on_event(void *ctx, const sk_event *ev)
{
    demo *d = ctx;
    bool show;
    switch (ev->type) {
    case SK_EV_STATE:
    case SK_EV_DROP:
    case SK_EV_MESSAGE:
        show = true;
        break;
    case SK_EV_TIMER:
        /* A retransmission timeout explains the repeated segment after
         * it; the other timers (delayed ACK, ...) only with -v. */
        show = d->opt.verbose || (ev->timer && !strcmp(ev->timer, "retransmit"));
        break;
    default:
        /* Segments are printed from the wire's tap, once each. */
        show = false;
        break;
    }
    if (!show)
        return;
    char line[SK_TRACE_LINE_MAX];
    sk_trace_format_event(d->trace, ev, line, sizeof(line));
    demo_print(d, line);
}

/* ------------------------------------------------------------------ */
/* The two applications, advanced between wire steps                     */
/* ------------------------------------------------------------------ */

static void demo_fail(demo *d, const char *who, const char *what, int err)
{
    if (d->failure[0])
        return;
    if (err)
        snprintf(d->failure, sizeof(d->failure), "%s: %s: %s (%s)", who, what, sk_strerror(err), sk_errno_name(err));
    else
        snprintf(d->failure, sizeof(d->failure), "%s: %s", who, what);
}

static int so_error(sk_stack *s, int fd)
{
    int err = 0;
    size_t len = sizeof(err);
    int rc = sk_getsockopt(s, fd, SK_SOL_SOCKET, SK_SO_ERROR, &err, &len);
    return rc < 0 ? rc : err;
}

/* Each step returns true when it made progress, so the caller loops until
 * neither application can move without the wire. */
static bool client_step(demo *d)
{
    sk_stack *s = d->client;
    switch (d->cphase) {
    case CLIENT_CONNECTING: {
        int ev = sk_poll(s, d->client_fd);
        if (ev < 0) {
            demo_fail(d, "client", "poll", ev);
            return false;
        }
        if (ev & (SK_POLLERR | SK_POLLHUP)) {
            int err = so_error(s, d->client_fd);
            demo_fail(d, "client", "connect failed", err ? err : ECONNREFUSED);
            return false;
        }
        if (!(ev & SK_POLLOUT))
            return false;
        d->cphase = CLIENT_SENDING;
        return true;
    }
    case CLIENT_SENDING: {
        size_t total = sizeof(demo_request) - 1;
        ssize_t n = sk_send(s, d->client_fd, demo_request + d->request_sent, total - d->request_sent, 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            demo_fail(d, "client", "send", (int)n);
            return false;
        }
        d->request_sent += (size_t)n;
        if (d->request_sent == total)
            d->cphase = CLIENT_READING;
        return n > 0;
    }
    case CLIENT_READING: {
        char buf[512];
        ssize_t n = sk_recv(s, d->client_fd, buf, sizeof(buf), 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            demo_fail(d, "client", "recv", (int)n);
            return false;
        }
        if (n == 0) {
            /* EOF: the server closed after its response; close too. */
            int rc = sk_close(s, d->client_fd);
            if (rc < 0)
                demo_fail(d, "client", "close", rc);
            d->client_fd = -1;
            d->cphase = CLIENT_DONE;
            return true;
        }
        size_t room = sizeof(d->response_seen) - d->response_len;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        memcpy(d->response_seen + d->response_len, buf, keep);
        d->response_len += keep;
        return true;
    }
    case CLIENT_DONE:
        return false;
    }
    return false;
}

static bool server_step(demo *d)
{
    sk_stack *s = d->server;
    switch (d->sphase) {
    case SERVER_ACCEPTING: {
        sk_endpoint peer;
        int fd = sk_accept(s, d->listen_fd, &peer);
        if (fd == -EAGAIN)
            return false;
        if (fd < 0) {
            demo_fail(d, "server", "accept", fd);
            return false;
        }
        d->server_fd = fd;
        d->sphase = SERVER_READING;
        return true;
    }
    case SERVER_READING: {
        char buf[256];
        ssize_t n = sk_recv(s, d->server_fd, buf, sizeof(buf), 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            demo_fail(d, "server", "recv", (int)n);
            return false;
        }
        if (n == 0) {
            demo_fail(d, "server", "the client closed before its request was complete", 0);
            return false;
        }
        size_t room = sizeof(d->request_seen) - 1 - d->request_len;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        memcpy(d->request_seen + d->request_len, buf, keep);
        d->request_len += keep;
        d->request_seen[d->request_len] = '\0';
        if (strstr(d->request_seen, "\r\n\r\n"))
            d->sphase = SERVER_SENDING;
        return true;
    }
    case SERVER_SENDING: {
        size_t total = sizeof(demo_response) - 1;
        ssize_t n = sk_send(s, d->server_fd, demo_response + d->response_sent, total - d->response_sent, 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            demo_fail(d, "server", "send", (int)n);
            return false;
        }
        d->response_sent += (size_t)n;
        if (d->response_sent == total) {
            /* close() after the last send: the FIN follows the data. */
            int rc = sk_close(s, d->server_fd);
            if (rc < 0)
                demo_fail(d, "server", "close", rc);
            d->server_fd = -1;
            d->sphase = SERVER_DONE;
        }
        return true;
    }
    case SERVER_DONE:
        return false;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Running the wire                                                      */
/* ------------------------------------------------------------------ */

typedef struct sock_census {
    size_t total, listen, time_wait;
} sock_census;

static void census_visit(void *ctx, const sk_sock_info *info)
{
    sock_census *c = ctx;
    c->total++;
    if (info->state == SK_TCP_LISTEN)
        c->listen++;
    else if (info->state == SK_TCP_TIME_WAIT)
        c->time_wait++;
}

static sock_census census(demo *d)
{
    sock_census c = {0};
    sk_sockets(d->client, census_visit, &c);
    sk_sockets(d->server, census_visit, &c);
    return c;
}

static sk_stack *add_host(demo *d, uint32_t addr, const char *name)
{
    sk_stack_params p;
    sk_cli_host_params(d->opt.seed, addr, &p);
    p.name = name;
    p.on_event = demo_on_event;
    p.event_ctx = d;
    return sk_wire_add_host(d->wire, addr, &p);
}

static int demo_setup(demo *d)
{
    d->listen_fd = d->server_fd = d->client_fd = -1;
    d->trace = sk_trace_new(d->opt.absolute_seq ? SK_TRACE_ABSOLUTE_SEQ : 0);
    d->wire = sk_wire_new(d->opt.seed, DEMO_START);
    if (!d->trace || !d->wire) {
        fprintf(stderr, "synack demo: out of memory\n");
        return SK_CLI_EXIT_FAIL;
    }
    if (d->opt.pcap_path) {
        char err[512];
        d->pcap = sk_pcap_open(d->opt.pcap_path, NULL, err, sizeof(err));
        if (!d->pcap) {
            fprintf(stderr, "synack demo: %s\n", err);
            return SK_CLI_EXIT_FAIL;
        }
    }
    sk_link_params link = {
        .delay = (sk_time_ns)(d->opt.delay_ms * (double)SK_NSEC_PER_MSEC + 0.5),
        .loss = d->opt.loss,
    };
    sk_wire_set_link(d->wire, DEMO_CLIENT_ADDR, DEMO_SERVER_ADDR, &link);
    sk_wire_set_link(d->wire, DEMO_SERVER_ADDR, DEMO_CLIENT_ADDR, &link);
    sk_wire_set_tap(d->wire, demo_on_wire, d);
    d->client = add_host(d, DEMO_CLIENT_ADDR, "client");
    d->server = add_host(d, DEMO_SERVER_ADDR, "server");
    if (!d->client || !d->server) {
        fprintf(stderr, "synack demo: cannot create the stacks\n");
        return SK_CLI_EXIT_FAIL;
    }

    d->listen_fd = sk_socket(d->server);
    int one = 1;
    sk_endpoint any = {.addr = 0, .port = DEMO_SERVER_PORT, .family = SK_AF_INET};
    int rc = d->listen_fd < 0 ? d->listen_fd : sk_setsockopt(d->server, d->listen_fd, SK_SOL_SOCKET, SK_SO_REUSEADDR, &one, sizeof(one));
    if (rc >= 0)
        rc = sk_bind(d->server, d->listen_fd, &any);
    if (rc >= 0)
        rc = sk_listen(d->server, d->listen_fd, 128);
    if (rc < 0) {
        fprintf(stderr, "synack demo: server cannot listen on port %d: %s\n", DEMO_SERVER_PORT, sk_strerror(rc));
        return SK_CLI_EXIT_FAIL;
    }

    d->client_fd = sk_socket(d->client);
    sk_endpoint server = {.addr = DEMO_SERVER_ADDR, .port = DEMO_SERVER_PORT, .family = SK_AF_INET};
    rc = d->client_fd < 0 ? d->client_fd : sk_connect(d->client, d->client_fd, &server);
    if (rc != -EINPROGRESS && rc != 0) {
        fprintf(stderr, "synack demo: client cannot connect: %s\n", sk_strerror(rc));
        return SK_CLI_EXIT_FAIL;
    }
    return SK_CLI_EXIT_OK;
}

static const char *phase_state(demo *d, sk_stack *s, int fd)
{
    int st = fd >= 0 ? sk_state(s, fd) : -1;
    return st > 0 ? sk_state_name(st) : "closed";
}

/* Runs both applications and the wire until both are done. */
static int run_exchange(demo *d)
{
    sk_time_ns limit = DEMO_START + DEMO_EXCHANGE_LIMIT;
    for (;;) {
        bool moved;
        do {
            moved = client_step(d);
            moved |= server_step(d);
        } while (moved && !d->failure[0]);
        if (d->failure[0]) {
            fprintf(stderr, "synack demo: %s\n", d->failure);
            return SK_CLI_EXIT_FAIL;
        }
        if (d->cphase == CLIENT_DONE && d->sphase == SERVER_DONE)
            return SK_CLI_EXIT_OK;
        sk_time_ns next = sk_wire_next_event(d->wire);
        if (next == SK_TIME_NEVER || next > limit) {
            fprintf(stderr,
                    "synack demo: the exchange did not complete within %llu s of virtual time "
                    "(client %s, server %s)\n",
                    (unsigned long long)(DEMO_EXCHANGE_LIMIT / SK_NSEC_PER_SEC),
                    d->cphase == CLIENT_DONE ? "done" : phase_state(d, d->client, d->client_fd),
                    d->sphase == SERVER_DONE ? "done"
                    : d->server_fd >= 0      ? phase_state(d, d->server, d->server_fd)
                                             : "waiting in accept()");
            return SK_CLI_EXIT_FAIL;
        }
        sk_wire_step(d->wire);
    }
}

/* Steps the wire until only listeners and TIME_WAIT records remain (the
 * moment `ss` is worth reading) or, with `until_empty`, until only
 * listeners remain.  Returns false on reaching `limit` first. */
static bool run_until_quiet(demo *d, bool until_empty, sk_time_ns limit)
{
    for (;;) {
        sock_census c = census(d);
        size_t busy = c.total - c.listen - (until_empty ? 0 : c.time_wait);
        if (busy == 0)
            return true;
        sk_time_ns next = sk_wire_next_event(d->wire);
        if (next == SK_TIME_NEVER || next > limit)
            return false;
        sk_wire_step(d->wire);
    }
}

static void print_tables(demo *d)
{
    char now[32];
    sk_trace_format_time(sk_wire_now(d->wire), now, sizeof(now));
    printf("\n$ ss -tan    # on client 10.0.0.1 at %s\n", now);
    sk_cli_print_socket_table(stdout, d->client);
    printf("\n$ ss -tan    # on server 10.0.0.2 at %s\n", now);
    sk_cli_print_socket_table(stdout, d->server);
    printf("\n");
}

static void print_counters(demo *d)
{
    static const char *const names[][2] = {
        {"Tcp", "ActiveOpens"}, {"Tcp", "PassiveOpens"}, {"Tcp", "CurrEstab"},   {"TcpExt", "TW"},
        {"Tcp", "OutRsts"},     {"Tcp", "RetransSegs"},  {"Tcp", "InSegs"},      {"Tcp", "OutSegs"},
    };
    printf("%-18s %10s %10s\n", "counter", "client", "server");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char full[64];
        snprintf(full, sizeof(full), "%s%s", names[i][0], names[i][1]);
        printf("%-18s %10llu %10llu\n", full, (unsigned long long)sk_counter(d->client, full),
               (unsigned long long)sk_counter(d->server, full));
    }
}

/* ------------------------------------------------------------------ */
/* --hold: the stacks stay up, observable from other terminals           */
/* ------------------------------------------------------------------ */

static int demo_hold(demo *d)
{
    sk_stack *const stacks[2] = {d->client, d->server};
    static const char *const names[2] = {"demo-client", "demo-server"};
    return sk_cli_hold("synack demo", d->wire, stacks, names, 2);
}

static int demo_run(demo *d)
{
    int rc = demo_setup(d);
    if (rc != SK_CLI_EXIT_OK)
        return rc;
    rc = run_exchange(d);
    if (rc != SK_CLI_EXIT_OK)
        return rc;
    if (d->request_len != sizeof(demo_request) - 1 || memcmp(d->request_seen, demo_request, d->request_len)) {
        fprintf(stderr, "synack demo: the server received a different request than the client sent\n");
        return SK_CLI_EXIT_FAIL;
    }
    if (d->response_len != sizeof(demo_response) - 1 ||
        memcmp(d->response_seen, demo_response, d->response_len)) {
        fprintf(stderr, "synack demo: the client received %zu bytes, not the %zu-byte response sent\n",
                d->response_len, sizeof(demo_response) - 1);
        return SK_CLI_EXIT_FAIL;
    }

    /* The table is taken once the last FIN is acknowledged, while the
     * active closer (the server, which closed first) is in TIME_WAIT. */
    sk_time_ns limit = sk_wire_now(d->wire) + DEMO_DRAIN_LIMIT;
    if (!run_until_quiet(d, false, limit)) {
        fprintf(stderr, "synack demo: the connection did not finish closing within %llu s of virtual time\n",
                (unsigned long long)(DEMO_DRAIN_LIMIT / SK_NSEC_PER_SEC));
        return SK_CLI_EXIT_FAIL;
    }
    print_tables(d);
    if (!d->opt.hold) {
        fflush(stdout);
        if (!run_until_quiet(d, true, limit)) {
            fprintf(stderr, "synack demo: TIME_WAIT did not end within %llu s of virtual time\n",
                    (unsigned long long)(DEMO_DRAIN_LIMIT / SK_NSEC_PER_SEC));
            return SK_CLI_EXIT_FAIL;
        }
        int cr = sk_close(d->server, d->listen_fd);
        if (cr < 0) {
            fprintf(stderr, "synack demo: closing the listener: %s\n", sk_strerror(cr));
            return SK_CLI_EXIT_FAIL;
        }
        d->listen_fd = -1;
        printf("\n");
    }
    print_counters(d);
    if (d->pcap) {
        printf("\n%llu datagrams written to %s\n", (unsigned long long)sk_pcap_packets_written(d->pcap),
               d->opt.pcap_path);
    }
    if (d->opt.hold)
        return demo_hold(d);
    return SK_CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Command line                                                          */
/* ------------------------------------------------------------------ */

static void sk_cmd_demo_usage(FILE *out)
{
    fprintf(out,
            "usage: synack demo [--loss P] [--seed N] [--delay MS] [--pcap FILE] [-S] [--hold] [-v]\n"
            "\n"
            "A client (10.0.0.1) and a server (10.0.0.2, port 80) on synack's in-memory wire:\n"
            "the client sends one HTTP request, the server answers and closes, the client\n"
            "reads to EOF and closes.  Prints every datagram put on the wire as tcpdump -nn\n"
            "would, and the state changes of both stacks, in virtual time from 10:00:00,\n"
            "through TIME_WAIT (60 s) to CLOSED; then `ss -tan` of both hosts taken while\n"
            "TIME_WAIT stood, and their lifecycle counters.\n"
            "\n"
            "options:\n"
            "  --loss P      drop each datagram with probability P (0 <= P <= 1), both ways\n"
            "  --seed N      seed of the wire's and the stacks' randomness (default 1)\n"
            "  --delay MS    one-way delay in milliseconds (default 1)\n"
            "  --pcap FILE   also write the datagrams to FILE (pcap, raw IPv4), as a\n"
            "                capture on the sending host would: lost ones included\n"
            "  -S            absolute sequence numbers (tcpdump -S)\n"
            "  --hold        after the tables, keep both stacks up in real time (TIME_WAIT\n"
            "                included) until SIGINT/SIGTERM, observable from another\n"
            "                terminal: synack ss|nstat|sysctl -N demo-client|demo-server\n"
            "  -v            also print every timer event\n"
            "  -h, --help    this text\n"
            "\n"
            "exit status: 0 when the exchange completed, 1 when it did not, 2 on bad usage\n");
}

#define usage_error(...)                                                                          \
    sk_cli_usage_error("demo",                                                                     \
                       "\nusage: synack demo [--loss P] [--seed N] [--delay MS] [--pcap FILE] [-S] "  \
                       "[--hold] [-v]\nTry 'synack demo --help' for more.\n",                       \
                       __VA_ARGS__)

int sk_cmd_demo(int argc, char **argv)
{
    demo_options opt = {.loss = 0, .seed = 1, .delay_ms = 1};
    enum { OPT_LOSS = 256, OPT_SEED, OPT_DELAY, OPT_PCAP, OPT_HOLD };
    static const struct option longopts[] = {
        {"loss", required_argument, NULL, OPT_LOSS}, {"seed", required_argument, NULL, OPT_SEED},
        {"delay", required_argument, NULL, OPT_DELAY}, {"pcap", required_argument, NULL, OPT_PCAP},
        {"hold", no_argument, NULL, OPT_HOLD},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    optind = 1;
    int c;
    unsigned long long v;
    while ((c = getopt_long(argc, argv, ":Svh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LOSS:
            if (!sk_cli_parse_double(optarg, 0.0, 1.0, &opt.loss))
                return usage_error("--loss wants a probability between 0 and 1, not '%s'", optarg);
            break;
        case OPT_SEED:
            if (!sk_cli_parse_uint(optarg, UINT64_MAX, &v))
                return usage_error("--seed wants a non-negative integer, not '%s'", optarg);
            opt.seed = v;
            break;
        case OPT_DELAY:
            if (!sk_cli_parse_double(optarg, 0.0, 60000.0, &opt.delay_ms))
                return usage_error("--delay wants milliseconds between 0 and 60000, not '%s'", optarg);
            break;
        case OPT_PCAP:
            if (!optarg[0])
                return usage_error("--pcap wants a file name");
            opt.pcap_path = optarg;
            break;
        case OPT_HOLD:
            opt.hold = true;
            break;
        case 'S':
            opt.absolute_seq = true;
            break;
        case 'v':
            opt.verbose = true;
            break;
        case 'h':
            sk_cmd_demo_usage(stdout);
            return SK_CLI_EXIT_OK;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    demo *d = calloc(1, sizeof(*d));
    if (!d) {
        fprintf(stderr, "synack demo: out of memory\n");
        return SK_CLI_EXIT_FAIL;
    }
    d->opt = opt;
    int rc = demo_run(d);
    if (d->pcap && sk_pcap_close(d->pcap) != 0 && rc == SK_CLI_EXIT_OK) {
        fprintf(stderr, "synack demo: error writing %s\n", opt.pcap_path);
        rc = SK_CLI_EXIT_FAIL;
    }
    sk_wire_free(d->wire);
    sk_trace_free(d->trace);
    free(d);
    fflush(stdout);
    return rc;
}
