/*
 * `synack serve`: a server on a TUN device — HTTP/1.1, echo, discard or
 * a byte source — for many concurrent connections.
 *
 * Every wakeup of the loop the server accepts what the listener has
 * queued (up to --max-conns; beyond that connections wait in the accept
 * queue, and the listener's backlog decides, as on Linux), then serves
 * each connection as far as its buffers allow: sk_send and sk_recv stop
 * at -EAGAIN and the next wakeup (an ACK opening the window, new data)
 * carries on.  Nothing blocks.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "synack-io/tun.h"
#include "tun_app.h"

#define SERVE_REQUEST_MAX 8192
#define SERVE_IO_CHUNK 65536
#define SERVE_MAX_QUEUES 64

typedef enum serve_mode { MODE_NONE, MODE_HTTP, MODE_ECHO, MODE_DISCARD, MODE_SOURCE } serve_mode;

typedef struct serve_conn {
    int fd;
    sk_endpoint peer;
    char in[SERVE_REQUEST_MAX];
    size_t in_len;  /* HTTP: request bytes buffered; echo: bytes to echo */
    size_t in_off;  /* echo: bytes of `in` already echoed               */
    bool peer_eof;
    bool responding;
    char head[512]; /* response header (and a small body)               */
    size_t head_len, head_off;
    uint64_t body_len, body_off; /* generated pattern after the head   */
    bool close_after;
    bool draining; /* shutting down: close once nothing is pending      */
    bool leaked;   /* --never-close: EOF seen, close() never called     */
    sk_time_ns next_read; /* --read-delay: no read before this time    */
} serve_conn;

typedef struct serve {
    sk_tun_opts opt;
    serve_mode mode;
    uint16_t port;
    size_t max_conns;
    bool abort_after_request;
    /* Application behaviours, the ones operators meet as bugs (`synack
     * lab` reproduces each in virtual time). */
    bool never_close;        /* CLOSE_WAIT leak: never close() on EOF       */
    bool no_read;            /* never read: the window closes                */
    bool linger0;            /* every close() with SO_LINGER {1, 0}: RST     */
    bool keepalive;          /* SO_KEEPALIVE on accepted sockets             */
    sk_time_ns accept_delay; /* accept() one connection per this period    */
    sk_time_ns read_delay;   /* read one chunk per this period               */
    sk_time_ns next_accept;
    sk_loop *loop;
    sk_stack *stack;
    int listen_fd;
    serve_conn **conns;
    size_t nconns;
    uint64_t accepted;
    uint64_t bytes_in, bytes_out;
    sk_progress progress;
    bool progress_started;
    /* --queues N: one serve per TUN queue, each with its own stack, loop
     * and thread; queue 0 runs on the main thread and takes the signals.
     * The others learn of a shutdown through their eventfd and *cmd. */
    struct serve **all;
    unsigned nall;
    int wake_fd;
    atomic_int *cmd; /* 0 run, 1 graceful shutdown, 2 stop */
    atomic_bool report_asked; /* SIGUSR1 on queue 0: print this queue's table */
    pthread_t thread;
    bool thread_started;
    bool ran;
    int run_rc;
} serve;

static const char serve_index[] = "<!doctype html>\n"
                                  "<html><head><title>synack</title></head>\n"
                                  "<body><h1>synack</h1><p>Hello from a user-space TCP stack.</p>\n"
                                  "<p>Try <a href=\"/bytes/1024\">/bytes/N</a>.</p></body></html>\n";

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static void conn_close(serve *s, size_t i, bool abortive)
{
    serve_conn *c = s->conns[i];
    if (abortive || s->linger0) {
        /* SO_LINGER {1, 0}: close sends RST and drops the queues
         * (Linux tcp_close with linger 0, RFC 9293 ABORT). */
        struct sk_linger lg = {.l_onoff = 1, .l_linger = 0};
        sk_setsockopt(s->stack, c->fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof(lg));
    }
    sk_close(s->stack, c->fd);
    free(c);
    s->conns[i] = s->conns[--s->nconns];
}

static void conn_error(serve *s, size_t i, const char *op, int err)
{
    serve_conn *c = s->conns[i];
    if (s->opt.verbose || (err != -ECONNRESET && err != -EPIPE)) {
        char peer[48], what[96];
        sk_format_addr(&c->peer, peer, sizeof(peer));
        snprintf(what, sizeof(what), "%s from %s:%u", op, peer, c->peer.port);
        sk_tun_socket_error(&s->opt, what, err);
    }
    sk_close(s->stack, c->fd);
    free(c);
    s->conns[i] = s->conns[--s->nconns];
}

/* Sends the pending head then body; returns 1 when all is sent, 0 when
 * the send buffer is full, or -errno. */
static int conn_flush_response(serve *s, serve_conn *c)
{
    while (c->head_off < c->head_len) {
        ssize_t n = sk_send(s->stack, c->fd, c->head + c->head_off, c->head_len - c->head_off, 0);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return (int)n;
        c->head_off += (size_t)n;
        s->bytes_out += (uint64_t)n;
    }
    while (c->body_off < c->body_len) {
        size_t want = SERVE_IO_CHUNK;
        if (c->body_len - c->body_off < want)
            want = (size_t)(c->body_len - c->body_off);
        const uint8_t *p = sk_pattern_at(c->body_off, &want);
        ssize_t n = sk_send(s->stack, c->fd, p, want, 0);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return (int)n;
        c->body_off += (uint64_t)n;
        s->bytes_out += (uint64_t)n;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* HTTP/1.1 (RFC 9112), just what a test server needs                   */
/* ------------------------------------------------------------------ */

/* Whether the comma-separated header value contains `token`. */
static bool header_has_token(const char *v, size_t vlen, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i + tl <= vlen; i++) {
        if (strncasecmp(v + i, token, tl) == 0 && (i == 0 || v[i - 1] == ' ' || v[i - 1] == ',') &&
            (i + tl == vlen || v[i + tl] == ' ' || v[i + tl] == ',' || v[i + tl] == '\t'))
            return true;
    }
    return false;
}

static void set_response(serve_conn *c, int status, const char *reason, const char *type, const char *body,
                         uint64_t generated_len, bool head_only)
{
    size_t body_len = body ? strlen(body) : 0;
    uint64_t content_length = body ? body_len : generated_len;
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %d %s\r\nServer: synack/" SK_CLI_VERSION "\r\nContent-Type: %s\r\n"
                     "Content-Length: %llu\r\n%s\r\n",
                     status, reason, type, (unsigned long long)content_length,
                     c->close_after ? "Connection: close\r\n" : "");
    c->head_len = (size_t)n;
    if (body && !head_only && c->head_len + body_len < sizeof(c->head)) {
        memcpy(c->head + c->head_len, body, body_len);
        c->head_len += body_len;
    }
    c->head_off = 0;
    c->body_len = head_only || body ? 0 : generated_len;
    c->body_off = 0;
    c->responding = true;
}

/* Parses one complete request at the front of c->in, if there is one,
 * and prepares its response.  Returns 1 when a request was taken, 0 when
 * more bytes are needed, -1 when the request is unusable (400 queued). */
static int http_take_request(serve *s, serve_conn *c)
{
    char *end = NULL;
    for (size_t i = 0; i + 3 < c->in_len; i++) {
        if (!memcmp(c->in + i, "\r\n\r\n", 4)) {
            end = c->in + i;
            break;
        }
    }
    if (!end) {
        if (c->in_len == sizeof(c->in)) {
            c->close_after = true;
            set_response(c, 431, "Request Header Fields Too Large", "text/plain",
                         "request header too large\n", 0, false);
            c->in_len = 0;
            return -1;
        }
        return 0;
    }
    size_t req_len = (size_t)(end - c->in) + 4;
    *end = 0;
    char *line_end = strstr(c->in, "\r\n");
    if (line_end)
        *line_end = 0;
    char method[16], target[1024], version[16];
    bool ok = sscanf(c->in, "%15s %1023s %15s", method, target, version) == 3 &&
              !strncmp(version, "HTTP/1.", 7);
    bool http10 = ok && !strcmp(version, "HTTP/1.0");
    /* HTTP/1.1 is persistent unless "close"; 1.0 only with "keep-alive"
     * (RFC 9112 §9.3). */
    bool keep = ok && !http10;
    bool has_body = false;
    for (char *h = line_end ? line_end + 2 : NULL; h && *h;) {
        char *next = strstr(h, "\r\n");
        size_t hl = next ? (size_t)(next - h) : strlen(h);
        char *colon = memchr(h, ':', hl);
        if (colon) {
            size_t nl = (size_t)(colon - h);
            const char *v = colon + 1;
            size_t vl = hl - nl - 1;
            if (nl == 10 && !strncasecmp(h, "Connection", 10)) {
                if (header_has_token(v, vl, "close"))
                    keep = false;
                else if (header_has_token(v, vl, "keep-alive"))
                    keep = true;
            } else if ((nl == 14 && !strncasecmp(h, "Content-Length", 14) && strtoull(v, NULL, 10) > 0) ||
                       (nl == 17 && !strncasecmp(h, "Transfer-Encoding", 17))) {
                has_body = true;
            }
        }
        h = next ? next + 2 : NULL;
    }
    memmove(c->in, c->in + req_len, c->in_len - req_len);
    c->in_len -= req_len;
    c->close_after = !keep || c->draining;

    if (!ok) {
        c->close_after = true;
        set_response(c, 400, "Bad Request", "text/plain", "bad request\n", 0, false);
        return -1;
    }
    bool head_only = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head_only) {
        /* A body we do not read would be taken for the next request. */
        c->close_after = true;
        set_response(c, 405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", 0, false);
        return 1;
    }
    if (has_body) {
        c->close_after = true;
        set_response(c, 400, "Bad Request", "text/plain", "a GET with a body\n", 0, false);
        return -1;
    }
    uint64_t n;
    if (!strcmp(target, "/")) {
        set_response(c, 200, "OK", "text/html", serve_index, 0, head_only);
    } else if (!strncmp(target, "/bytes/", 7) && sk_cli_parse_size(target + 7, &n)) {
        set_response(c, 200, "OK", "application/octet-stream", NULL, n, head_only);
    } else {
        set_response(c, 404, "Not Found", "text/plain", "not found\n", 0, head_only);
    }
    return 1;
}

#define SERVE_SLOW_READ 4096

/* --no-read and --read-delay: how much the application reads now (0:
 * nothing), given what it wants. */
static size_t read_allowance(serve *s, serve_conn *c, size_t want)
{
    if (s->no_read && !c->draining)
        return 0;
    if (!s->read_delay || c->draining)
        return want;
    sk_time_ns now = sk_loop_clock();
    if (now < c->next_read)
        return 0;
    c->next_read = now + s->read_delay;
    return want < SERVE_SLOW_READ ? want : SERVE_SLOW_READ;
}

/* --never-close: the peer's EOF is seen and ignored, so the socket stays
 * in CLOSE_WAIT until the process exits (a descriptor leak). */
static bool leak_on_eof(serve *s, serve_conn *c)
{
    if (!s->never_close || c->draining)
        return false;
    if (!c->leaked && s->opt.verbose) {
        char a[48];
        sk_format_addr(&c->peer, a, sizeof(a));
        fprintf(stderr, "%s: %s:%u closed; --never-close: not closing (CLOSE_WAIT)\n", s->opt.cmd, a,
                c->peer.port);
    }
    c->leaked = true;
    return true;
}

/* Returns false when the connection was closed (and removed). */
static bool serve_http(serve *s, size_t i)
{
    serve_conn *c = s->conns[i];
    if (c->leaked && !c->draining)
        return true;
    for (;;) {
        if (c->responding) {
            int r = conn_flush_response(s, c);
            if (r < 0) {
                conn_error(s, i, "send", r);
                return false;
            }
            if (r == 0)
                return true;
            c->responding = false;
            if (c->close_after) {
                conn_close(s, i, false);
                return false;
            }
        }
        int taken = http_take_request(s, c);
        if (taken != 0) {
            if (s->abort_after_request) {
                conn_close(s, i, true);
                return false;
            }
            continue;
        }
        if (c->peer_eof && leak_on_eof(s, c))
            return true;
        if (c->draining || c->peer_eof) {
            conn_close(s, i, false);
            return false;
        }
        size_t room = read_allowance(s, c, sizeof(c->in) - c->in_len);
        if (room == 0)
            return true;
        ssize_t n = sk_recv(s->stack, c->fd, c->in + c->in_len, room, 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            conn_error(s, i, "recv", (int)n);
            return false;
        }
        if (n == 0)
            c->peer_eof = true;
        c->in_len += (size_t)n;
        s->bytes_in += (uint64_t)n;
    }
}

/* Echo, discard and source. */
static bool serve_stream(serve *s, size_t i)
{
    serve_conn *c = s->conns[i];
    if (c->leaked && !c->draining)
        return true;
    for (;;) {
        if (s->mode == MODE_ECHO && c->in_off < c->in_len) {
            ssize_t n = sk_send(s->stack, c->fd, c->in + c->in_off, c->in_len - c->in_off, 0);
            if (n == -EAGAIN)
                return true;
            if (n < 0) {
                conn_error(s, i, "send", (int)n);
                return false;
            }
            c->in_off += (size_t)n;
            s->bytes_out += (uint64_t)n;
            continue;
        }
        while (s->mode == MODE_SOURCE && !c->peer_eof && !c->draining) {
            size_t want = SERVE_IO_CHUNK;
            const uint8_t *p = sk_pattern_at(c->body_off, &want);
            ssize_t n = sk_send(s->stack, c->fd, p, want, 0);
            if (n == -EAGAIN)
                break;
            if (n < 0) {
                conn_error(s, i, "send", (int)n);
                return false;
            }
            c->body_off += (uint64_t)n;
            s->bytes_out += (uint64_t)n;
        }
        if (c->peer_eof || c->draining) {
            /* Echo: everything received has been echoed; the peer's FIN
             * is answered with ours, which is what a half-closing client
             * waits for. */
            if (c->peer_eof && leak_on_eof(s, c))
                return true;
            conn_close(s, i, false);
            return false;
        }
        c->in_len = c->in_off = 0;
        size_t room = read_allowance(s, c, sizeof(c->in));
        if (room == 0)
            return true;
        ssize_t n = sk_recv(s->stack, c->fd, c->in, room, 0);
        if (n == -EAGAIN)
            return true;
        if (n < 0) {
            conn_error(s, i, "recv", (int)n);
            return false;
        }
        if (n == 0)
            c->peer_eof = true;
        s->bytes_in += (uint64_t)n;
        if (s->mode == MODE_ECHO)
            c->in_len = (size_t)n;
    }
}

static void serve_accept(serve *s)
{
    while (s->listen_fd >= 0 && s->nconns < s->max_conns) {
        if (s->accept_delay) {
            sk_time_ns now = sk_loop_clock();
            if (now < s->next_accept)
                return;
        }
        sk_endpoint peer;
        int fd = sk_accept(s->stack, s->listen_fd, &peer);
        if (fd == -EAGAIN)
            return;
        if (fd < 0) {
            sk_tun_socket_error(&s->opt, "accept", fd);
            return;
        }
        serve_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            sk_close(s->stack, fd);
            fprintf(stderr, "%s: out of memory; connection closed\n", s->opt.cmd);
            continue;
        }
        c->fd = fd;
        c->peer = peer;
        if (s->keepalive) {
            int one = 1;
            sk_setsockopt(s->stack, fd, SK_SOL_SOCKET, SK_SO_KEEPALIVE, &one, sizeof(one));
        }
        if (s->accept_delay)
            s->next_accept = sk_loop_clock() + s->accept_delay;
        s->conns[s->nconns++] = c;
        s->accepted++;
        if (s->opt.verbose) {
            char a[48];
            sk_format_addr(&peer, a, sizeof(a));
            fprintf(stderr, "%s: accepted %s:%u (%zu open)\n", s->opt.cmd, a, peer.port, s->nconns);
        }
    }
}

static void serve_run(void *ctx, sk_loop *loop)
{
    serve *s = ctx;
    serve_accept(s);
    for (size_t i = 0; i < s->nconns;) {
        serve_conn *c = s->conns[i];
        bool open = s->mode == MODE_HTTP ? serve_http(s, i) : serve_stream(s, i);
        /* A closed connection's slot now holds the last one: revisit it. */
        if (open || (i < s->nconns && s->conns[i] == c))
            i++;
    }
    sk_time_ns now = sk_now(s->stack);
    if (!s->progress_started) {
        sk_progress_start(&s->progress, now);
        s->progress_started = true;
    }
    sk_progress_update(&s->progress, &s->opt, "served", s->bytes_out + s->bytes_in, now);
    (void)loop;
}

/* The next time a paced accept() or read() is due. */
static sk_time_ns serve_deadline(void *ctx)
{
    serve *s = ctx;
    sk_time_ns d = SK_TIME_NEVER;
    if (s->accept_delay && s->listen_fd >= 0 && s->nconns < s->max_conns)
        d = s->next_accept;
    if (s->read_delay)
        for (size_t i = 0; i < s->nconns; i++)
            if (!s->conns[i]->leaked && !s->conns[i]->peer_eof && s->conns[i]->next_read < d)
                d = s->conns[i]->next_read;
    return d;
}

/* Tells the other queues' loops what the first one does: a graceful
 * shutdown (1) or an immediate stop (2). */
static void serve_tell_queues(serve *s, int cmd)
{
    if (s->opt.queue != 0 || !s->cmd)
        return;
    atomic_store(s->cmd, cmd);
    uint64_t one = 1;
    for (unsigned i = 1; i < s->nall; i++)
        if (write(s->all[i]->wake_fd, &one, sizeof(one)) < 0)
            fprintf(stderr, "%s: cannot wake queue %u: %s\n", s->opt.cmd, i, strerror(errno));
}

static void serve_wake(void *ctx, sk_loop *loop, int fd, uint32_t revents)
{
    serve *s = ctx;
    uint64_t v;
    (void)revents;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    if (atomic_exchange(&s->report_asked, false)) {
        /* Each queue prints its own table from its own thread: a stack is
         * only ever touched by the thread that runs its loop. */
        flockfile(stderr);
        fprintf(stderr, "%s: queue %u:\n", s->opt.cmd, s->opt.queue);
        sk_cli_print_socket_table(stderr, s->stack);
        fflush(stderr);
        funlockfile(stderr);
    }
    int cmd = atomic_load(s->cmd);
    if (cmd >= 1)
        sk_loop_finish(loop);
    if (cmd >= 2)
        sk_loop_stop(loop);
}

static void serve_shutdown(void *ctx, sk_loop *loop)
{
    serve *s = ctx;
    serve_tell_queues(s, 1);
    if (s->listen_fd >= 0) {
        sk_close(s->stack, s->listen_fd);
        s->listen_fd = -1;
    }
    /* Responses under way are finished within the grace period; idle
     * connections close now (FIN), as a server draining for a restart. */
    for (size_t i = 0; i < s->nconns; i++)
        s->conns[i]->draining = true;
    if (s->opt.verbose || s->nconns)
        fprintf(stderr, "%s: %s, closing %zu connection%s\n", s->opt.cmd,
                sk_loop_signal(loop) ? strsignal(sk_loop_signal(loop)) : "shutting down", s->nconns,
                s->nconns == 1 ? "" : "s");
    serve_run(s, loop);
}

static void serve_report(void *ctx, sk_loop *loop)
{
    serve *s = ctx;
    (void)loop;
    flockfile(stderr);
    if (s->nall > 1)
        fprintf(stderr, "%s: queue 0:\n", s->opt.cmd);
    sk_cli_print_socket_table(stderr, s->stack);
    fflush(stderr);
    funlockfile(stderr);
    uint64_t one = 1;
    for (unsigned i = 1; i < s->nall; i++) {
        atomic_store(&s->all[i]->report_asked, true);
        if (write(s->all[i]->wake_fd, &one, sizeof(one)) < 0)
            fprintf(stderr, "%s: cannot wake queue %u: %s\n", s->opt.cmd, i, strerror(errno));
    }
}

/* ------------------------------------------------------------------ */
/* Queues                                                               */
/* ------------------------------------------------------------------ */

static void serve_free(serve *s)
{
    if (!s)
        return;
    if (s->conns) {
        for (size_t i = 0; i < s->nconns; i++)
            free(s->conns[i]);
        free(s->conns);
    }
    sk_tun_stop(&s->opt);
    sk_loop_free(s->loop);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s);
}

/* Attaches one queue and listens on it.  Every queue's stack has its
 * own listener on the same address and port, as SO_REUSEPORT gives each
 * socket of a group its own: the kernel picks the queue by flow hash
 * and keeps a flow on it (tun_automq_select_queue and the flow table
 * tun_flow_update fills from what this queue writes), so the whole of a
 * connection lives on one stack. */
static int serve_open(serve *s)
{
    sk_loop_app app = {.ctx = s, .run = serve_run, .shutdown = serve_shutdown, .report = serve_report,
                       .extra_fd = -1, .deadline = serve_deadline};
    s->loop = sk_tun_start(&s->opt, &app);
    if (!s->loop)
        return -1;
    s->stack = sk_loop_stack(s->loop);
    if (s->wake_fd >= 0 && sk_loop_add_fd(s->loop, s->wake_fd, EPOLLIN, serve_wake, s) < 0) {
        fprintf(stderr, "%s: cannot watch queue %u's wake-up descriptor\n", s->opt.cmd, s->opt.queue);
        return -1;
    }

    /* With an IPv6 address too, one dual-stack listener on [::]:port as a
     * Linux server bound to :: has (IPv4 peers seen as ::ffff:a.b.c.d). */
    s->listen_fd = sk_socket_family(s->stack, s->opt.has_addr6 ? SK_AF_INET6 : SK_AF_INET);
    int one = 1;
    static const uint8_t any6[16];
    sk_endpoint local = s->opt.has_addr6 ? sk_endpoint_ipv6(any6, s->port) : sk_endpoint_ipv4(s->opt.addr, s->port);
    int err = s->listen_fd < 0 ? s->listen_fd : 0;
    if (!err)
        err = sk_setsockopt(s->stack, s->listen_fd, SK_SOL_SOCKET, SK_SO_REUSEADDR, &one, sizeof(one));
    if (!err)
        err = sk_bind(s->stack, s->listen_fd, &local);
    if (!err)
        err = sk_listen(s->stack, s->listen_fd, 4096);
    if (err) {
        char what[64];
        snprintf(what, sizeof(what), "listen on %s port %u", s->opt.addr_text, s->port);
        sk_tun_socket_error(&s->opt, what, err);
        return -1;
    }
    return 0;
}

static void serve_summary(serve *s)
{
    if (s->opt.state_log || s->opt.verbose)
        sk_cli_print_socket_table(stderr, s->stack);
    if (s->nall > 1)
        fprintf(stderr, "%s: queue %u: %llu connections, %llu bytes in, %llu bytes out\n", s->opt.cmd,
                s->opt.queue, (unsigned long long)s->accepted, (unsigned long long)s->bytes_in,
                (unsigned long long)s->bytes_out);
    else if (s->opt.verbose || s->progress.printed)
        fprintf(stderr, "%s: %llu connections, %llu bytes in, %llu bytes out\n", s->opt.cmd,
                (unsigned long long)s->accepted, (unsigned long long)s->bytes_in,
                (unsigned long long)s->bytes_out);
}

static void count_busy(void *ctx, const sk_sock_info *info)
{
    if (info->state != SK_TCP_TIME_WAIT && info->state != SK_TCP_CLOSE && info->state != SK_TCP_LISTEN)
        (*(size_t *)ctx)++;
}

static void *serve_thread(void *arg)
{
    serve *s = arg;
    s->ran = true;
    s->run_rc = sk_tun_run(&s->opt, s->loop);
    return NULL;
}

/* Opens every queue (queue 0 first: its loop blocks the signals, and the
 * threads started afterwards inherit that mask, so only queue 0's
 * signalfd sees them), runs queues 1..N-1 on threads of their own and
 * queue 0 on this one, and waits for all. */
static int serve_queues(serve *s0)
{
    unsigned n = s0->opt.queues > 1 ? s0->opt.queues : 1;
    serve *all[SERVE_MAX_QUEUES];
    atomic_int cmd = 0;
    int rc = SK_CLI_EXIT_FAIL;
    unsigned made = 1;
    all[0] = s0;
    sk_pattern_at(0, &(size_t){1}); /* fills the shared pattern before any thread reads it */
    for (; made < n; made++) {
        serve *q = malloc(sizeof(*q));
        if (!q) {
            fprintf(stderr, "synack serve: out of memory\n");
            goto out;
        }
        *q = *s0;
        atomic_init(&q->report_asked, false);
        q->conns = calloc(q->max_conns, sizeof(*q->conns));
        q->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        q->opt.queue = made;
        all[made] = q;
        if (!q->conns || q->wake_fd < 0) {
            fprintf(stderr, "synack serve: out of memory or eventfd: %s\n", strerror(errno));
            made++;
            goto out;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        all[i]->all = all;
        all[i]->nall = n;
        all[i]->cmd = &cmd;
    }
    for (unsigned i = 0; i < n; i++)
        if (serve_open(all[i]) < 0)
            goto out;
    {
        static const char *mode_names[] = {"", "HTTP", "echo", "discard", "source"};
        char a[16], queues[32] = "";
        sk_format_ipv4(s0->opt.addr, a, sizeof(a));
        if (n > 1)
            snprintf(queues, sizeof(queues), " (%u queues)", n);
        if (s0->opt.has_addr6) {
            char a6[48];
            sk_endpoint e6 = sk_endpoint_ipv6(s0->opt.addr6, 0);
            sk_format_addr(&e6, a6, sizeof(a6));
            fprintf(stderr, "%s: %s on %s:%u and [%s]:%u via %s%s\n", s0->opt.cmd, mode_names[s0->mode], a,
                    s0->port, a6, s0->port, s0->opt.tun, queues);
        } else {
            fprintf(stderr, "%s: %s on %s:%u via %s%s\n", s0->opt.cmd, mode_names[s0->mode], a, s0->port,
                    s0->opt.tun, queues);
        }
    }
    for (unsigned i = 1; i < n; i++) {
        int e = pthread_create(&all[i]->thread, NULL, serve_thread, all[i]);
        if (e) {
            fprintf(stderr, "synack serve: cannot start queue %u's thread: %s\n", i, strerror(e));
            serve_tell_queues(s0, 2);
            goto out;
        }
        all[i]->thread_started = true;
    }
    s0->ran = true;
    rc = sk_tun_run(&s0->opt, s0->loop) == 0 ? SK_CLI_EXIT_OK : SK_CLI_EXIT_FAIL;
    /* Queue 0's loop ends when its own connections are done (the others
     * go on finishing theirs), after its grace period (it reset what was
     * left), on an I/O error (the others end the graceful way), or at a
     * second signal, which leaves connections open: then the others stop
     * at once too. */
    size_t busy = 0;
    sk_sockets(s0->stack, count_busy, &busy);
    serve_tell_queues(s0, busy ? 2 : 1);
out:
    for (unsigned i = 1; i < made; i++) {
        if (all[i]->thread_started) {
            pthread_join(all[i]->thread, NULL);
            if (all[i]->run_rc != 0)
                rc = SK_CLI_EXIT_FAIL;
        }
    }
    for (unsigned i = 0; i < made; i++)
        if (all[i]->ran)
            serve_summary(all[i]);
    for (unsigned i = 1; i < made; i++) {
        /* A queue's conns array and stack are its own; s0's are freed by
         * the caller. */
        serve_free(all[i]);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Command                                                              */
/* ------------------------------------------------------------------ */

static void sk_cmd_serve_usage(FILE *out)
{
    fprintf(out,
            "usage: synack serve [--tun NAME] [--addr A.B.C.D/N] [--addr6 ADDR/N] [--port N]\n"
            "                    (--http | --echo | --discard | --source) [--max-conns N]\n"
            "                    [--abort-after-request] [--never-close] [--no-read]\n"
            "                    [--read-delay MS] [--accept-delay MS] [--linger0] [--keepalive]\n"
            "                    [--queues N|auto] [--offload]\n"
            "                    [--loss P] [--delay MS] [--reorder P]\n"
            "                    [--dup P] [--seed N] [--pcap FILE] [--sysctl NAME=VALUE]\n"
            "                    [--state-log] [-v]\n"
            "\n"
            "Serves on a TUN device with synack's TCP stack until SIGINT or SIGTERM, then\n"
            "closes its connections (FIN), lets them finish for up to 3 s, and exits.\n"
            "SIGUSR1 prints the stack's sockets as `ss -tan` does, on stderr; while it runs,\n"
            "`synack ss`, `synack nstat` and `synack sysctl` (-N serve-ADDR) query the live stack.\n"
            "\n"
            "modes:\n"
            "  --http       HTTP/1.1: GET / a small page, GET /bytes/N N bytes where byte i is\n"
            "               (i*31+7)&0xff, 404 otherwise; keep-alive unless Connection: close\n"
            "  --echo       send back what arrives; close after the peer's FIN\n"
            "  --discard    read and drop\n"
            "  --source     send the byte pattern until the peer closes\n"
            "\n"
            "options:\n"
            "  --port N     port to listen on (default 8080)\n"
            "  --max-conns N  connections served at once (default 1024; more wait in the backlog)\n"
            "  --abort-after-request  answer a request by closing with SO_LINGER 0 (RST)\n"
            "  --queues N|auto  attach N queues of a multi-queue TUN (IFF_MULTI_QUEUE; auto: one\n"
            "               per online CPU; make the device with `ip tuntap add dev NAME mode\n"
            "               tun multi_queue`), each served by its own stack and thread; the\n"
            "               kernel keeps each flow on one queue.  Queue 0 answers `synack ss\n"
            "               -N serve-ADDR`, queue I -N serve-ADDR-qI; SIGUSR1 prints every table\n"
            "application behaviours (the bugs operators meet; see `synack lab`):\n"
            "  --never-close     never close() after the peer's FIN: CLOSE_WAIT accumulates\n"
            "  --no-read         never read: the receive window fills and closes\n"
            "  --read-delay MS   read at most 4 KiB per MS milliseconds (a slow reader)\n"
            "  --accept-delay MS accept() at most one connection per MS (the accept queue fills)\n"
            "  --linger0         close every connection with SO_LINGER {1, 0}: RST, no TIME_WAIT\n"
            "  --keepalive       SO_KEEPALIVE on every accepted connection\n"
            SK_TUN_USAGE
            "  -v           report connections and I/O counters\n"
            "  -h, --help   this text\n"
            "\n"
            "exit status: 0 after a clean shutdown, 1 on failure, 2 on bad usage\n");
}

enum {
    OPT_PORT = SK_TUN_OPT_LAST,
    OPT_HTTP,
    OPT_ECHO,
    OPT_DISCARD,
    OPT_SOURCE,
    OPT_MAX_CONNS,
    OPT_ABORT,
    OPT_NEVER_CLOSE,
    OPT_NO_READ,
    OPT_READ_DELAY,
    OPT_ACCEPT_DELAY,
    OPT_LINGER0,
    OPT_KEEPALIVE,
    OPT_QUEUES
};

/* Milliseconds from 1 to 3600000, as nanoseconds; 0 on a bad value. */
static sk_time_ns parse_ms(const char *arg)
{
    uint64_t v;
    if (!sk_cli_parse_size(arg, &v) || v == 0 || v > 3600000)
        return 0;
    return (sk_time_ns)v * SK_NSEC_PER_MSEC;
}

int sk_cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        SK_TUN_LONGOPTS,
        {"port", required_argument, NULL, OPT_PORT},
        {"http", no_argument, NULL, OPT_HTTP},
        {"echo", no_argument, NULL, OPT_ECHO},
        {"discard", no_argument, NULL, OPT_DISCARD},
        {"source", no_argument, NULL, OPT_SOURCE},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"abort-after-request", no_argument, NULL, OPT_ABORT},
        {"never-close", no_argument, NULL, OPT_NEVER_CLOSE},
        {"no-read", no_argument, NULL, OPT_NO_READ},
        {"read-delay", required_argument, NULL, OPT_READ_DELAY},
        {"accept-delay", required_argument, NULL, OPT_ACCEPT_DELAY},
        {"linger0", no_argument, NULL, OPT_LINGER0},
        {"keepalive", no_argument, NULL, OPT_KEEPALIVE},
        {"queues", required_argument, NULL, OPT_QUEUES},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    serve *s = calloc(1, sizeof(*s));
    if (!s) {
        fprintf(stderr, "synack serve: out of memory\n");
        return SK_CLI_EXIT_FAIL;
    }
    sk_tun_opts_init(&s->opt, "synack serve");
    s->port = 8080;
    s->max_conns = 1024;
    s->listen_fd = -1;
    s->wake_fd = -1;
    int rc = SK_CLI_EXIT_USAGE;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
        int r = sk_tun_opts_parse(&s->opt, c, optarg);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        uint64_t v;
        switch (c) {
        case OPT_PORT:
            if (!sk_cli_parse_size(optarg, &v) || v == 0 || v > 65535) {
                fprintf(stderr, "synack serve: bad port '%s': give 1 to 65535\n", optarg);
                goto out;
            }
            s->port = (uint16_t)v;
            break;
        case OPT_HTTP:
        case OPT_ECHO:
        case OPT_DISCARD:
        case OPT_SOURCE: {
            serve_mode m = c == OPT_HTTP ? MODE_HTTP : c == OPT_ECHO ? MODE_ECHO : c == OPT_DISCARD ? MODE_DISCARD : MODE_SOURCE;
            if (s->mode != MODE_NONE && s->mode != m) {
                fprintf(stderr, "synack serve: give only one of --http, --echo, --discard, --source\n");
                goto out;
            }
            s->mode = m;
            break;
        }
        case OPT_MAX_CONNS:
            if (!sk_cli_parse_size(optarg, &v) || v == 0 || v > 1000000) {
                fprintf(stderr, "synack serve: bad --max-conns '%s': give 1 to 1000000\n", optarg);
                goto out;
            }
            s->max_conns = (size_t)v;
            break;
        case OPT_ABORT:
            s->abort_after_request = true;
            break;
        case OPT_NEVER_CLOSE:
            s->never_close = true;
            break;
        case OPT_NO_READ:
            s->no_read = true;
            break;
        case OPT_LINGER0:
            s->linger0 = true;
            break;
        case OPT_KEEPALIVE:
            s->keepalive = true;
            break;
        case OPT_QUEUES:
            if (!strcmp(optarg, "auto")) {
                /* One queue per online CPU, as a NIC gets one per core. */
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                v = n < 1 ? 1 : n > SERVE_MAX_QUEUES ? SERVE_MAX_QUEUES : (uint64_t)n;
            } else if (!sk_cli_parse_size(optarg, &v) || v == 0 || v > SERVE_MAX_QUEUES) {
                fprintf(stderr, "synack serve: bad --queues '%s': give 1 to %d, or auto\n", optarg,
                        SERVE_MAX_QUEUES);
                goto out;
            }
            s->opt.queues = (unsigned)v;
            break;
        case OPT_READ_DELAY:
        case OPT_ACCEPT_DELAY: {
            sk_time_ns t = parse_ms(optarg);
            if (!t) {
                fprintf(stderr, "synack serve: bad %s '%s': give milliseconds from 1 to 3600000\n",
                        c == OPT_READ_DELAY ? "--read-delay" : "--accept-delay", optarg);
                goto out;
            }
            if (c == OPT_READ_DELAY)
                s->read_delay = t;
            else
                s->accept_delay = t;
            break;
        }
        case 'v':
            s->opt.verbose = true;
            break;
        case 'h':
            sk_cmd_serve_usage(stdout);
            rc = SK_CLI_EXIT_OK;
            goto out;
        case ':':
            fprintf(stderr, "synack serve: option '%s' needs a value\n", argv[optind - 1]);
            goto out;
        default:
            fprintf(stderr, "synack serve: unknown option '%s'\n", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "synack serve: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (s->mode == MODE_NONE) {
        fprintf(stderr, "synack serve: choose what to serve: --http, --echo, --discard or --source\n");
        goto out;
    }
    if (s->abort_after_request && s->mode != MODE_HTTP) {
        fprintf(stderr, "synack serve: --abort-after-request goes with --http\n");
        goto out;
    }
    rc = SK_CLI_EXIT_FAIL;
    s->conns = calloc(s->max_conns, sizeof(*s->conns));
    if (!s->conns) {
        fprintf(stderr, "synack serve: out of memory\n");
        goto out;
    }
    if (s->no_read && s->read_delay) {
        fprintf(stderr, "synack serve: give only one of --no-read and --read-delay\n");
        goto out;
    }
    if (s->opt.queues > 1 && s->opt.pcap) {
        /* One file per stack would interleave nothing; one file for all
         * would need a lock on every datagram. */
        fprintf(stderr, "synack serve: --pcap goes with one queue\n");
        goto out;
    }
    if (s->opt.queues > 1 && (s->read_delay || s->accept_delay)) {
        /* Both pace with one clock per stack; with several the pace would
         * be per queue, not what the option promises. */
        fprintf(stderr, "synack serve: --read-delay and --accept-delay go with one queue\n");
        goto out;
    }
    rc = serve_queues(s);
out:
    serve_free(s);
    return rc;
}
