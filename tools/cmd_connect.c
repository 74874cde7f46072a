/*
 * `synack connect`: the client side on a TUN device — an HTTP GET, a
 * file sent (then half-closed), or N bytes received — with synack's TCP
 * stack talking to the kernel's.
 *
 * One connection, driven from the loop's wakeups: connect, then send
 * and receive side by side (a peer that echoes must be read while the
 * file is still going out, or both ends fill up and stall), then close
 * and let the loop see the FIN exchange through before exiting.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "commands.h"
#include "synack-io/tun.h"
#include "tun_app.h"

#define CONNECT_IO_CHUNK 65536

typedef enum connect_mode { MODE_NONE, MODE_HTTP, MODE_SEND, MODE_RECV } connect_mode;
typedef enum connect_phase { PHASE_CONNECTING, PHASE_TRANSFER, PHASE_DONE } connect_phase;

typedef struct client {
    sk_tun_opts opt;
    connect_mode mode;
    const char *http_path, *send_path, *out_path;
    uint64_t recv_want;
    const char *remote_text;
    sk_endpoint remote;
    sk_loop *loop;
    sk_stack *stack;
    int fd;
    connect_phase phase;
    FILE *in, *out;

    /* what goes out: the request, or the file through `buf` */
    char request[1400];
    size_t request_len, request_off;
    uint8_t buf[CONNECT_IO_CHUNK];
    size_t buf_len, buf_off;
    bool send_done; /* all sent and SHUT_WR issued (or nothing to send) */

    /* what comes in */
    uint8_t rbuf[CONNECT_IO_CHUNK];
    char head[16384];
    size_t head_len;
    bool head_done;
    int status;
    bool has_length;
    bool server_closes; /* HTTP/1.0 without keep-alive, or Connection: close */
    uint64_t content_length, body_bytes;
    uint64_t sent, received;

    bool failed;
    sk_progress progress;

    /* socket options and --hold, for one connection or a fleet */
    bool keepalive, linger0, hold;
    /* --fastopen: TCP_FASTOPEN_CONNECT on every socket, so a request
     * rides in the SYN once a cookie is cached (the stack's cache serves
     * every later connection of a --count fleet) */
    bool fastopen;
    bool holding; /* transfer done, connection kept open until a signal */
    /* --count/--parallel: a fleet of connections in one stack */
    unsigned count, parallel;
    struct fleet_conn *fleet;
    unsigned started, completed, fleet_failed, held;
    int first_err;
} client;

/* One connection of a fleet: connect, send the request, read the answer
 * (an HTTP response by Content-Length or EOF, or --recv N bytes), close
 * (or hold). */
typedef enum { FC_IDLE, FC_CONNECTING, FC_SENDING, FC_READING, FC_HELD, FC_DONE } fc_phase;
typedef struct fleet_conn {
    int fd;
    fc_phase phase;
    size_t req_off;
    char head[2048];
    size_t head_len;
    bool head_done, has_length;
    bool server_closes; /* HTTP/1.0 or Connection: close: read on to its FIN */
    uint64_t want, got;
} fleet_conn;

static void fleet_run(client *c);
static void fleet_shutdown(client *c);

/* A new socket with the options every connection takes.  --fastopen
 * sets TCP_FASTOPEN_CONNECT: connect() returns at once and the first
 * write goes out in the SYN with a cached cookie, or the SYN asks for one
 * (Linux's tcp_fastopen_defer_connect). */
static int client_socket(client *c)
{
    int fd = sk_socket_family(c->stack, c->remote.family == SK_AF_INET6 ? SK_AF_INET6 : SK_AF_INET);
    if (fd < 0)
        return fd;
    int one = 1;
    if (c->keepalive)
        sk_setsockopt(c->stack, fd, SK_SOL_SOCKET, SK_SO_KEEPALIVE, &one, sizeof(one));
    if (c->fastopen) {
        int r = sk_setsockopt(c->stack, fd, SK_IPPROTO_TCP, SK_TCP_FASTOPEN_CONNECT, &one, sizeof(one));
        if (r < 0) {
            sk_close(c->stack, fd);
            return r;
        }
    }
    return fd;
}

static void client_fail(client *c, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", c->opt.cmd);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    c->failed = true;
}

static void client_socket_fail(client *c, const char *op, int err)
{
    char what[80];
    snprintf(what, sizeof(what), "%s %s", op, c->remote_text);
    sk_tun_socket_error(&c->opt, what, err);
    c->failed = true;
}

/* The transfer is over (or failed): close, and let the loop run the
 * stack until the connection has finished its FIN exchange. */
static void client_finish(client *c)
{
    if (c->phase == PHASE_DONE)
        return;
    c->phase = PHASE_DONE;
    sk_progress_done(&c->progress, &c->opt, c->mode == MODE_SEND ? "sent" : "received",
                     c->mode == MODE_SEND ? c->sent : c->received, sk_now(c->stack), c->opt.verbose);
    if (c->hold && !c->failed && c->fd >= 0 && !c->holding) {
        /* --hold: the connection stays as it is (ESTABLISHED, or
         * CLOSE_WAIT after the peer's FIN) until SIGINT/SIGTERM. */
        c->holding = true;
        fprintf(stderr, "%s: holding the connection open; Ctrl-C ends\n", c->opt.cmd);
        return;
    }
    if (c->fd >= 0 && c->linger0) {
        struct sk_linger lg = {.l_onoff = 1, .l_linger = 0};
        sk_setsockopt(c->stack, c->fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof(lg));
    }
    if (c->fd >= 0) {
        sk_close(c->stack, c->fd);
        c->fd = -1;
    }
    if (c->out && fflush(c->out) != 0 && !c->failed)
        client_fail(c, "writing %s: %s", c->out_path ? c->out_path : "standard output", strerror(errno));
    sk_loop_finish(c->loop);
}

static bool client_write(client *c, const void *p, size_t n)
{
    if (!c->out || n == 0)
        return true;
    if (fwrite(p, 1, n, c->out) != n) {
        client_fail(c, "writing %s: %s", c->out_path ? c->out_path : "standard output", strerror(errno));
        client_finish(c);
        return false;
    }
    return true;
}

/* Returns false when the transfer ended. */
static bool client_send(client *c)
{
    while (!c->send_done) {
        const void *p;
        size_t n;
        if (c->mode == MODE_SEND) {
            if (c->buf_off == c->buf_len) {
                c->buf_off = 0;
                c->buf_len = fread(c->buf, 1, sizeof(c->buf), c->in);
                if (c->buf_len == 0) {
                    if (ferror(c->in)) {
                        client_fail(c, "reading %s: %s", c->send_path, strerror(errno));
                        client_finish(c);
                        return false;
                    }
                    /* RFC 9293 CLOSE of the send side only: the peer sees
                     * EOF and may still answer. */
                    sk_shutdown(c->stack, c->fd, SK_SHUT_WR);
                    c->send_done = true;
                    break;
                }
            }
            p = c->buf + c->buf_off;
            n = c->buf_len - c->buf_off;
        } else {
            if (c->request_off == c->request_len) {
                c->send_done = true;
                break;
            }
            p = c->request + c->request_off;
            n = c->request_len - c->request_off;
        }
        ssize_t r = sk_send(c->stack, c->fd, p, n, 0);
        if (r == -EAGAIN)
            return true;
        if (r < 0) {
            client_socket_fail(c, "send to", (int)r);
            client_finish(c);
            return false;
        }
        c->sent += (uint64_t)r;
        if (c->mode == MODE_SEND)
            c->buf_off += (size_t)r;
        else
            c->request_off += (size_t)r;
    }
    return true;
}

static bool http_parse_head(client *c)
{
    char *line_end = strstr(c->head, "\r\n");
    if (line_end)
        *line_end = 0;
    char reason[128] = "";
    bool keep_alive = false;
    int major = 0, minor = 0;
    if (sscanf(c->head, "HTTP/%d.%d %d %127[^\r\n]", &major, &minor, &c->status, reason) < 3) {
        client_fail(c, "%s: not an HTTP response: '%.60s'", c->remote_text, c->head);
        return false;
    }
    for (char *h = line_end ? line_end + 2 : NULL; h && *h;) {
        char *next = strstr(h, "\r\n");
        if (next)
            *next = 0;
        if (!strncasecmp(h, "Connection:", 11)) {
            const char *v = h + 11 + strspn(h + 11, " \t");
            if (!strncasecmp(v, "close", 5))
                c->server_closes = true;
            else if (!strncasecmp(v, "keep-alive", 10))
                keep_alive = true;
        } else if (!strncasecmp(h, "Content-Length:", 15)) {
            c->has_length = sk_cli_parse_size(h + 15 + strspn(h + 15, " \t"), &c->content_length);
        } else if (!strncasecmp(h, "Transfer-Encoding:", 18)) {
            client_fail(c, "%s: the response uses Transfer-Encoding (%s), which this client does not decode",
                        c->remote_text, h + 18 + strspn(h + 18, " \t"));
            return false;
        }
        h = next ? next + 2 : NULL;
    }
    /* An HTTP/1.0 server closes unless it agreed to keep the connection. */
    if (major == 1 && minor == 0 && !keep_alive)
        c->server_closes = true;
    if (c->status < 200 || c->status > 299) {
        char st[16];
        snprintf(st, sizeof(st), "%d", c->status);
        client_fail(c, "server answered HTTP %s %s", st, reason);
        return false;
    }
    return true;
}

/* Takes received bytes; returns false when the transfer ended. */
static bool client_take(client *c, const uint8_t *p, size_t n)
{
    if (c->mode == MODE_HTTP && !c->head_done) {
        size_t room = sizeof(c->head) - 1 - c->head_len;
        size_t take = n < room ? n : room;
        memcpy(c->head + c->head_len, p, take);
        c->head_len += take;
        c->head[c->head_len] = 0;
        char *end = strstr(c->head, "\r\n\r\n");
        if (!end) {
            if (c->head_len == sizeof(c->head) - 1) {
                client_fail(c, "%s: response header longer than %s bytes", c->remote_text, "16383");
                client_finish(c);
                return false;
            }
            return true;
        }
        size_t head_bytes = (size_t)(end - c->head) + 4;
        size_t body_in_head = c->head_len - head_bytes;
        *end = 0;
        c->head_done = true;
        if (!http_parse_head(c)) {
            client_finish(c);
            return false;
        }
        /* Bytes of this read beyond the head are body. */
        size_t consumed_from_p = take - body_in_head;
        return client_take(c, p + consumed_from_p, n - consumed_from_p);
    }
    if (c->mode == MODE_HTTP) {
        if (c->has_length && c->body_bytes + n > c->content_length)
            n = (size_t)(c->content_length - c->body_bytes);
        c->body_bytes += n;
        if (!client_write(c, p, n))
            return false;
        if (c->has_length && c->body_bytes == c->content_length) {
            /* A server that said it will close gets to close first (RFC
             * 9112 §9.6): read on to its FIN, so the TIME_WAIT stays on its
             * side as it intends. */
            if (c->server_closes)
                return true;
            client_finish(c);
            return false;
        }
        return true;
    }
    if (c->mode == MODE_RECV) {
        uint64_t left = c->recv_want - (c->received - n);
        if (n > left)
            n = (size_t)left;
        if (!client_write(c, p, n))
            return false;
        if (c->received >= c->recv_want) {
            c->received = c->recv_want;
            client_finish(c);
            return false;
        }
        return true;
    }
    return client_write(c, p, n);
}

static void client_eof(client *c)
{
    char a[24], b[24];
    if (c->mode == MODE_HTTP && !c->head_done) {
        client_fail(c, "%s closed the connection before a complete response header%s", c->remote_text, "");
    } else if (c->mode == MODE_HTTP && c->has_length && c->body_bytes < c->content_length) {
        snprintf(a, sizeof(a), "%llu", (unsigned long long)c->body_bytes);
        snprintf(b, sizeof(b), "%llu", (unsigned long long)c->content_length);
        client_fail(c, "connection closed after %s of %s body bytes", a, b);
    } else if (c->mode == MODE_RECV && c->received < c->recv_want) {
        snprintf(a, sizeof(a), "%llu", (unsigned long long)c->received);
        snprintf(b, sizeof(b), "%llu", (unsigned long long)c->recv_want);
        client_fail(c, "connection closed after %s of %s bytes", a, b);
    }
    client_finish(c);
}

static void client_recv(client *c)
{
    for (;;) {
        ssize_t n = sk_recv(c->stack, c->fd, c->rbuf, sizeof(c->rbuf), 0);
        if (n == -EAGAIN)
            return;
        if (n < 0) {
            client_socket_fail(c, "recv from", (int)n);
            client_finish(c);
            return;
        }
        if (n == 0) {
            client_eof(c);
            return;
        }
        c->received += (uint64_t)n;
        if (!client_take(c, c->rbuf, (size_t)n))
            return;
    }
}

static void client_run(void *ctx, sk_loop *loop)
{
    client *c = ctx;
    (void)loop;
    if (c->fleet) {
        fleet_run(c);
        return;
    }
    if (c->holding)
        return;
    if (c->phase == PHASE_CONNECTING) {
        int r = sk_connect(c->stack, c->fd, &c->remote);
        if (r == -EALREADY || r == -EINPROGRESS)
            return;
        if (r < 0 && r != -EISCONN) {
            client_socket_fail(c, "connect to", r);
            client_finish(c);
            return;
        }
        c->phase = PHASE_TRANSFER;
        sk_progress_start(&c->progress, sk_now(c->stack));
        if (c->opt.verbose)
            fprintf(stderr, "%s: connected to %s\n", c->opt.cmd, c->remote_text);
    }
    if (c->phase != PHASE_TRANSFER)
        return;
    if (!client_send(c))
        return;
    client_recv(c);
    if (c->phase == PHASE_TRANSFER)
        sk_progress_update(&c->progress, &c->opt, c->mode == MODE_SEND ? "sent" : "received",
                           c->mode == MODE_SEND ? c->sent : c->received, sk_now(c->stack));
}

static void client_interrupted(void *ctx, sk_loop *loop)
{
    client *c = ctx;
    if (c->fleet) {
        fleet_shutdown(c);
        return;
    }
    if (c->holding) {
        c->hold = false;
        c->phase = PHASE_TRANSFER;
        client_finish(c);
        return;
    }
    if (c->phase == PHASE_DONE)
        return;
    int sig = sk_loop_signal(loop);
    client_fail(c, "interrupted (%s) during the transfer%s", sig ? strsignal(sig) : "shutdown", "");
    client_finish(c);
}

/* ------------------------------------------------------------------ */
/* --count / --parallel: many connections in one stack                   */
/* ------------------------------------------------------------------ */

static void fleet_fail(client *c, fleet_conn *f, int err)
{
    if (f->fd >= 0)
        sk_close(c->stack, f->fd);
    f->fd = -1;
    f->phase = FC_DONE;
    c->fleet_failed++;
    if (!c->first_err && err)
        c->first_err = err;
    if (c->opt.verbose)
        fprintf(stderr, "%s: connection %u: %s (%s)\n", c->opt.cmd, (unsigned)(f - c->fleet), sk_strerror(err),
                sk_errno_name(err));
}

static void fleet_done(client *c, fleet_conn *f)
{
    c->completed++;
    if (c->hold) {
        f->phase = FC_HELD;
        c->held++;
        return;
    }
    if (c->linger0) {
        struct sk_linger lg = {.l_onoff = 1, .l_linger = 0};
        sk_setsockopt(c->stack, f->fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof(lg));
    }
    sk_close(c->stack, f->fd);
    f->fd = -1;
    f->phase = FC_DONE;
}

/* Returns true when it made progress. */
static bool fleet_step(client *c, fleet_conn *f)
{
    switch (f->phase) {
    case FC_IDLE:
    case FC_HELD:
    case FC_DONE:
        return false;
    case FC_CONNECTING: {
        int ev = sk_poll(c->stack, f->fd);
        if (ev & (SK_POLLERR | SK_POLLHUP)) {
            int err = 0;
            size_t len = sizeof(err);
            sk_getsockopt(c->stack, f->fd, SK_SOL_SOCKET, SK_SO_ERROR, &err, &len);
            fleet_fail(c, f, err ? err : ECONNREFUSED);
            return true;
        }
        if (!(ev & SK_POLLOUT))
            return false;
        f->phase = c->request_len ? FC_SENDING : FC_READING;
        return true;
    }
    case FC_SENDING: {
        ssize_t n = sk_send(c->stack, f->fd, c->request + f->req_off, c->request_len - f->req_off, 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            fleet_fail(c, f, (int)-n);
            return true;
        }
        f->req_off += (size_t)n;
        c->sent += (uint64_t)n;
        if (f->req_off == c->request_len)
            f->phase = FC_READING;
        return true;
    }
    case FC_READING: {
        ssize_t n = sk_recv(c->stack, f->fd, c->rbuf, sizeof(c->rbuf), 0);
        if (n == -EAGAIN)
            return false;
        if (n < 0) {
            fleet_fail(c, f, (int)-n);
            return true;
        }
        if (n == 0) {
            /* EOF: complete if the answer was whole (or unbounded). */
            if ((c->mode == MODE_HTTP && f->head_done && (!f->has_length || f->got >= f->want)))
                fleet_done(c, f);
            else
                fleet_fail(c, f, ECONNRESET);
            return true;
        }
        c->received += (uint64_t)n;
        size_t off = 0;
        if (c->mode == MODE_HTTP && !f->head_done) {
            size_t take = (size_t)n < sizeof(f->head) - 1 - f->head_len ? (size_t)n : sizeof(f->head) - 1 - f->head_len;
            memcpy(f->head + f->head_len, c->rbuf, take);
            f->head_len += take;
            f->head[f->head_len] = 0;
            char *end = strstr(f->head, "\r\n\r\n");
            if (!end) {
                if (f->head_len == sizeof(f->head) - 1)
                    fleet_fail(c, f, EPROTO);
                return true;
            }
            size_t head_bytes = (size_t)(end - f->head) + 4;
            off = take - (f->head_len - head_bytes);
            f->head_done = true;
            int status = 0;
            if (sscanf(f->head, "HTTP/%*d.%*d %d", &status) != 1 || status < 200 || status > 299) {
                fleet_fail(c, f, EPROTO);
                return true;
            }
            /* A server that said it will close gets to close first (RFC
             * 9112 §9.6), as the single-connection client does. */
            f->server_closes = !strncmp(f->head, "HTTP/1.0", 8);
            for (char *h = strstr(f->head, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
                if (!strncasecmp(h + 2, "Connection:", 11)) {
                    const char *v = h + 2 + 11 + strspn(h + 2 + 11, " \t");
                    if (!strncasecmp(v, "close", 5))
                        f->server_closes = true;
                    else if (!strncasecmp(v, "keep-alive", 10))
                        f->server_closes = false;
                }
                if (!strncasecmp(h + 2, "Content-Length:", 15))
                    f->has_length = sk_cli_parse_size(h + 2 + 15 + strspn(h + 2 + 15, " \t"), &f->want) ||
                                    sscanf(h + 2 + 15, " %llu", (unsigned long long *)&f->want) == 1;
            }
        }
        f->got += (uint64_t)((size_t)n - off);
        bool whole = c->mode == MODE_RECV ? f->got >= c->recv_want : (f->head_done && f->has_length && f->got >= f->want);
        if (whole && !(c->mode == MODE_HTTP && f->server_closes))
            fleet_done(c, f);
        return true;
    }
    }
    return false;
}

static void fleet_finish_if_done(client *c)
{
    if (c->phase == PHASE_DONE || c->completed + c->fleet_failed < c->count)
        return;
    if (c->held && !c->holding) {
        c->holding = true;
        fprintf(stderr, "%s: %u connections done (%u failed); holding %u open; Ctrl-C ends\n", c->opt.cmd,
                c->completed, c->fleet_failed, c->held);
        return;
    }
    if (c->held)
        return;
    c->phase = PHASE_DONE;
    sk_loop_finish(c->loop);
}

static void fleet_run(client *c)
{
    bool moved;
    do {
        moved = false;
        unsigned active = 0;
        for (unsigned i = 0; i < c->started; i++)
            active += c->fleet[i].phase == FC_CONNECTING || c->fleet[i].phase == FC_SENDING ||
                      c->fleet[i].phase == FC_READING;
        while (c->started < c->count && active < c->parallel && c->phase != PHASE_DONE) {
            fleet_conn *f = &c->fleet[c->started++];
            f->fd = client_socket(c);
            int r = f->fd;
            if (r >= 0)
                r = sk_connect(c->stack, f->fd, &c->remote);
            if (r < 0 && r != -EINPROGRESS) {
                fleet_fail(c, f, -r);
            } else {
                f->phase = FC_CONNECTING;
                active++;
            }
            moved = true;
        }
        for (unsigned i = 0; i < c->started; i++)
            while (fleet_step(c, &c->fleet[i]))
                moved = true;
    } while (moved);
    fleet_finish_if_done(c);
}

static void fleet_shutdown(client *c)
{
    for (unsigned i = 0; i < c->started; i++) {
        fleet_conn *f = &c->fleet[i];
        if (f->fd >= 0) {
            if (c->linger0) {
                struct sk_linger lg = {.l_onoff = 1, .l_linger = 0};
                sk_setsockopt(c->stack, f->fd, SK_SOL_SOCKET, SK_SO_LINGER, &lg, sizeof(lg));
            }
            sk_close(c->stack, f->fd);
            f->fd = -1;
        }
        f->phase = FC_DONE;
    }
    c->held = 0;
    if (c->phase != PHASE_DONE) {
        c->phase = PHASE_DONE;
        sk_loop_finish(c->loop);
    }
}

static void client_report(void *ctx, sk_loop *loop)
{
    client *c = ctx;
    (void)loop;
    sk_cli_print_socket_table(stderr, c->stack);
}

static void sk_cmd_connect_usage(FILE *out)
{
    fprintf(out,
            "usage: synack connect A.B.C.D:PORT|[IPV6]:PORT [--tun NAME] [--addr A.B.C.D/N]\n"
            "                      [--addr6 ADDR/N]\n"
            "                      (--http PATH | --send FILE | --recv N) [-o FILE]\n"
            "                      [--fastopen]\n"
            "                      [--loss P] [--delay MS] [--reorder P] [--dup P] [--seed N]\n"
            "                      [--pcap FILE] [--sysctl NAME=VALUE] [--state-log] [--offload] [-v]\n"
            "                      [--count N] [--parallel P] [--keepalive] [--linger0] [--hold]\n"
            "\n"
            "Connects with synack's TCP stack over a TUN device and:\n"
            "  --http PATH  sends GET PATH and writes the response body (Content-Length or\n"
            "               up to EOF) to -o FILE or standard output; non-2xx fails\n"
            "  --send FILE  sends FILE ('-' for standard input), half-closes (SHUT_WR), and\n"
            "               writes whatever the peer sends back until its FIN\n"
            "  --recv N     reads N bytes (K, M, G suffixes) and closes\n"
            "  --fastopen   TCP_FASTOPEN_CONNECT: with a Fast Open cookie cached the first\n"
            "               write goes in the SYN (RFC 7413); without, the SYN asks for one\n"
            "While it runs, `synack ss`, `synack nstat` and `synack sysctl` (-N connect-ADDR)\n"
            "query the live stack.\n"
            "\n"
            "options:\n"
            "  -o FILE      where received bytes go (default standard output)\n"
            "  --count N    open N connections in this one stack, each doing the --http or\n"
            "               --recv transfer (bytes are counted, not written); a summary at the end\n"
            "  --parallel P at most P of them at once (default 1)\n"
            "  --keepalive  SO_KEEPALIVE on every connection\n"
            "  --linger0    close with SO_LINGER {1, 0}: RST instead of FIN, no TIME_WAIT\n"
            "  --hold       keep the connections open after the transfer until SIGINT/SIGTERM\n" SK_TUN_USAGE
            "  -v           report the connection and I/O counters\n"
            "  -h, --help   this text\n"
            "\n"
            "Errors are named as Linux names them, e.g. 'Connection refused (ECONNREFUSED)'.\n"
            "exit status: 0 when the transfer completed, 1 on failure, 2 on bad usage\n");
}

enum { OPT_HTTP = SK_TUN_OPT_LAST, OPT_SEND, OPT_RECV, OPT_COUNT, OPT_PARALLEL, OPT_KEEPALIVE, OPT_LINGER0, OPT_HOLD, OPT_FASTOPEN };

int sk_cmd_connect(int argc, char **argv)
{
    static const struct option longopts[] = {
        SK_TUN_LONGOPTS,
        {"http", required_argument, NULL, OPT_HTTP},
        {"send", required_argument, NULL, OPT_SEND},
        {"recv", required_argument, NULL, OPT_RECV},
        {"count", required_argument, NULL, OPT_COUNT},
        {"parallel", required_argument, NULL, OPT_PARALLEL},
        {"keepalive", no_argument, NULL, OPT_KEEPALIVE},
        {"linger0", no_argument, NULL, OPT_LINGER0},
        {"hold", no_argument, NULL, OPT_HOLD},
        {"fastopen", no_argument, NULL, OPT_FASTOPEN},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    client *c = calloc(1, sizeof(*c));
    if (!c) {
        fprintf(stderr, "synack connect: out of memory\n");
        return SK_CLI_EXIT_FAIL;
    }
    sk_tun_opts_init(&c->opt, "synack connect");
    c->fd = -1;
    int rc = SK_CLI_EXIT_USAGE;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":o:vh", longopts, NULL)) != -1) {
        int r = sk_tun_opts_parse(&c->opt, opt, optarg);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        connect_mode m = MODE_NONE;
        switch (opt) {
        case OPT_HTTP:
            if (optarg[0] != '/') {
                fprintf(stderr, "synack connect: --http wants a path starting with '/', not '%s'\n", optarg);
                goto out;
            }
            m = MODE_HTTP;
            c->http_path = optarg;
            break;
        case OPT_SEND:
            m = MODE_SEND;
            c->send_path = optarg;
            break;
        case OPT_RECV:
            if (!sk_cli_parse_size(optarg, &c->recv_want) || c->recv_want == 0) {
                fprintf(stderr, "synack connect: bad --recv '%s': give a byte count like 1024 or 64M\n", optarg);
                goto out;
            }
            m = MODE_RECV;
            break;
        case OPT_COUNT:
        case OPT_PARALLEL: {
            uint64_t v;
            if (!sk_cli_parse_size(optarg, &v) || v == 0 || v > 100000) {
                fprintf(stderr, "synack connect: bad %s '%s': give 1 to 100000\n",
                        opt == OPT_COUNT ? "--count" : "--parallel", optarg);
                goto out;
            }
            if (opt == OPT_COUNT)
                c->count = (unsigned)v;
            else
                c->parallel = (unsigned)v;
            break;
        }
        case OPT_KEEPALIVE:
            c->keepalive = true;
            break;
        case OPT_LINGER0:
            c->linger0 = true;
            break;
        case OPT_HOLD:
            c->hold = true;
            break;
        case OPT_FASTOPEN:
            c->fastopen = true;
            break;
        case 'o':
            c->out_path = optarg;
            break;
        case 'v':
            c->opt.verbose = true;
            break;
        case 'h':
            sk_cmd_connect_usage(stdout);
            rc = SK_CLI_EXIT_OK;
            goto out;
        case ':':
            fprintf(stderr, "synack connect: option '%s' needs a value\n", argv[optind - 1]);
            goto out;
        default:
            fprintf(stderr, "synack connect: unknown option '%s'\n", argv[optind - 1]);
            goto out;
        }
        if (m != MODE_NONE) {
            if (c->mode != MODE_NONE && c->mode != m) {
                fprintf(stderr, "synack connect: give only one of --http, --send, --recv\n");
                goto out;
            }
            c->mode = m;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, optind < argc ? "synack connect: unexpected argument '%s'\n"
                                      : "synack connect: which server? give A.B.C.D:PORT or [IPV6]:PORT%s\n",
                optind + 1 < argc ? argv[optind + 1] : "");
        goto out;
    }
    c->remote_text = argv[optind];
    char err[200];
    if (sk_parse_endpoint(c->remote_text, &c->remote, err, sizeof(err)) < 0) {
        fprintf(stderr, "synack connect: %s\n", err);
        goto out;
    }
    if (c->remote.family == SK_AF_INET6 && !c->opt.has_addr6) {
        fprintf(stderr, "synack connect: %s is IPv6: give synack an IPv6 address with --addr6 ADDR/N\n",
                c->remote_text);
        goto out;
    }
    if (c->mode == MODE_NONE) {
        fprintf(stderr, "synack connect: choose what to do: --http PATH, --send FILE or --recv N\n");
        goto out;
    }
    if (!c->count)
        c->count = 1;
    if (!c->parallel)
        c->parallel = 1;
    bool fleet = c->count > 1 || c->parallel > 1;
    if (fleet && c->mode == MODE_SEND) {
        fprintf(stderr, "synack connect: --count and --parallel go with --http or --recv\n");
        goto out;
    }
    if (fleet && c->out_path) {
        fprintf(stderr, "synack connect: with --count, received bytes are counted, not written: drop -o\n");
        goto out;
    }
    if (c->parallel > c->count)
        c->parallel = c->count;
    rc = SK_CLI_EXIT_FAIL;
    if (fleet) {
        c->fleet = calloc(c->count, sizeof(*c->fleet));
        if (!c->fleet) {
            fprintf(stderr, "synack connect: out of memory\n");
            goto out;
        }
        for (unsigned i = 0; i < c->count; i++)
            c->fleet[i].fd = -1;
    }
    if (c->mode == MODE_HTTP) {
        /* HTTP/1.0 so the body is never chunked (RFC 9112 §6.1: chunked
         * is for 1.1 recipients); Host for virtual hosting. */
        int n = snprintf(c->request, sizeof(c->request),
                         "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: synack/" SK_CLI_VERSION
                         "\r\nAccept: */*\r\n\r\n",
                         c->http_path, c->remote_text);
        if (n < 0 || (size_t)n >= sizeof(c->request)) {
            fprintf(stderr, "synack connect: --http path too long\n");
            goto out;
        }
        c->request_len = (size_t)n;
    }
    if (c->mode == MODE_SEND) {
        c->in = strcmp(c->send_path, "-") ? fopen(c->send_path, "rb") : stdin;
        if (!c->in) {
            fprintf(stderr, "synack connect: cannot open %s: %s\n", c->send_path, strerror(errno));
            goto out;
        }
    }
    if (c->fleet) {
        c->out = NULL;
    } else if (c->out_path) {
        c->out = fopen(c->out_path, "wb");
        if (!c->out) {
            fprintf(stderr, "synack connect: cannot create %s: %s\n", c->out_path, strerror(errno));
            goto out;
        }
    } else {
        c->out = stdout;
    }

    sk_loop_app app = {.ctx = c, .run = client_run, .shutdown = client_interrupted, .report = client_report,
                       .extra_fd = -1};
    c->loop = sk_tun_start(&c->opt, &app);
    if (!c->loop)
        goto out;
    c->stack = sk_loop_stack(c->loop);
    if (c->fleet) {
        fleet_run(c);
        int lr = sk_tun_run(&c->opt, c->loop);
        fprintf(stderr, "synack connect: %u connections to %s: %u completed, %u failed%s%s%s\n", c->count,
                c->remote_text, c->completed, c->fleet_failed, c->first_err ? " (first error " : "",
                c->first_err ? sk_errno_name(c->first_err) : "", c->first_err ? ")" : "");
        if (lr == 0 && c->fleet_failed == 0 && c->completed == c->count)
            rc = SK_CLI_EXIT_OK;
        goto out;
    }
    c->fd = client_socket(c);
    int r = c->fd < 0 ? c->fd : sk_connect(c->stack, c->fd, &c->remote);
    if (r < 0 && r != -EINPROGRESS) {
        client_socket_fail(c, "connect to", r);
        goto out;
    }
    if (sk_tun_run(&c->opt, c->loop) == 0 && !c->failed)
        rc = SK_CLI_EXIT_OK;
    if (c->phase != PHASE_DONE && !c->failed && !c->holding)
        fprintf(stderr, "synack connect: stopped before the transfer finished\n");
    if (c->opt.state_log)
        sk_cli_print_socket_table(stderr, c->stack);
out:
    if (c->in && c->in != stdin)
        fclose(c->in);
    if (c->out && c->out != stdout && fclose(c->out) != 0 && rc == SK_CLI_EXIT_OK) {
        fprintf(stderr, "synack connect: writing %s: %s\n", c->out_path, strerror(errno));
        rc = SK_CLI_EXIT_FAIL;
    }
    if (c->out == stdout && fflush(stdout) != 0 && rc == SK_CLI_EXIT_OK)
        rc = SK_CLI_EXIT_FAIL;
    sk_tun_stop(&c->opt);
    sk_loop_free(c->loop);
    free(c->fleet);
    free(c);
    return rc;
}
