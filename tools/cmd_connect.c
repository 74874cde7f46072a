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
#include "synack/tun.h"
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
    /* --fastopen: TCP_FASTOPEN_CONNECT, so the request rides in the SYN
     * once a cookie is cached; --repeat: that many more GETs, one after
     * another on new connections of the same stack (and cookie cache). */
    bool fastopen;
    unsigned repeat;
} client;

static int client_open(client *c);

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
    if (c->fd >= 0) {
        sk_close(c->stack, c->fd);
        c->fd = -1;
    }
    if (c->out && fflush(c->out) != 0 && !c->failed)
        client_fail(c, "writing %s: %s", c->out_path ? c->out_path : "standard output", strerror(errno));
    if (c->repeat && !c->failed) {
        /* The next GET, from a clean slate but the same stack. */
        c->repeat--;
        c->request_off = 0;
        c->send_done = false;
        c->head_len = 0;
        c->head_done = false;
        c->status = 0;
        c->has_length = c->server_closes = false;
        c->content_length = c->body_bytes = c->sent = c->received = 0;
        c->phase = PHASE_CONNECTING;
        int r = client_open(c);
        if (r >= 0 || r == -EINPROGRESS)
            return;
        client_socket_fail(c, "connect to", r);
    }
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
            c->has_length = sk_parse_size(h + 15 + strspn(h + 15, " \t"), &c->content_length);
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
    if (c->phase == PHASE_DONE)
        return;
    int sig = sk_loop_signal(loop);
    client_fail(c, "interrupted (%s) during the transfer%s", sig ? strsignal(sig) : "shutdown", "");
    client_finish(c);
}

static void client_report(void *ctx, sk_loop *loop)
{
    client *c = ctx;
    (void)loop;
    sk_cli_print_socket_table(stderr, c->stack);
}

/* A new socket (TCP_FASTOPEN_CONNECT with --fastopen) and its connect. */
static int client_open(client *c)
{
    c->fd = sk_socket(c->stack);
    if (c->fd < 0)
        return c->fd;
    if (c->fastopen) {
        int on = 1;
        int r = sk_setsockopt(c->stack, c->fd, SK_IPPROTO_TCP, SK_TCP_FASTOPEN_CONNECT, &on, sizeof on);
        if (r < 0)
            return r;
    }
    return sk_connect(c->stack, c->fd, &c->remote);
}

void sk_cmd_connect_usage(FILE *out)
{
    fprintf(out,
            "usage: synack connect A.B.C.D:PORT [--tun NAME] [--addr A.B.C.D/N]\n"
            "                      (--http PATH | --send FILE | --recv N) [-o FILE]\n"
            "                      [--fastopen] [--repeat N]\n"
            "                      [--loss P] [--delay MS] [--reorder P] [--dup P] [--seed N]\n"
            "                      [--pcap FILE] [--sysctl NAME=VALUE] [--state-log] [-v]\n"
            "\n"
            "Connects with synack's TCP stack over a TUN device and:\n"
            "  --http PATH  sends GET PATH and writes the response body (Content-Length or\n"
            "               up to EOF) to -o FILE or standard output; non-2xx fails\n"
            "  --send FILE  sends FILE ('-' for standard input), half-closes (SHUT_WR), and\n"
            "               writes whatever the peer sends back until its FIN\n"
            "  --recv N     reads N bytes (K, M, G suffixes) and closes\n"
            "  --fastopen   TCP_FASTOPEN_CONNECT: with a Fast Open cookie cached the first\n"
            "               write goes in the SYN (RFC 7413); without, the SYN asks for one\n"
            "  --repeat N   with --http, N more GETs on new connections of the same stack\n"
            "While it runs, `synack ss`, `synack nstat` and `synack sysctl` (-N connect-ADDR)\n"
            "query the live stack.\n"
            "\n"
            "options:\n"
            "  -o FILE      where received bytes go (default standard output)\n" SK_TUN_USAGE
            "  -v           report the connection and I/O counters\n"
            "  -h, --help   this text\n"
            "\n"
            "Errors are named as Linux names them, e.g. 'Connection refused (ECONNREFUSED)'.\n"
            "exit status: 0 when the transfer completed, 1 on failure, 2 on bad usage\n");
}

enum { OPT_HTTP = SK_TUN_OPT_LAST, OPT_SEND, OPT_RECV, OPT_FASTOPEN, OPT_REPEAT };

int sk_cmd_connect(int argc, char **argv)
{
    static const struct option longopts[] = {
        SK_TUN_LONGOPTS,
        {"http", required_argument, NULL, OPT_HTTP},
        {"send", required_argument, NULL, OPT_SEND},
        {"recv", required_argument, NULL, OPT_RECV},
        {"fastopen", no_argument, NULL, OPT_FASTOPEN},
        {"repeat", required_argument, NULL, OPT_REPEAT},
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
            if (!sk_parse_size(optarg, &c->recv_want) || c->recv_want == 0) {
                fprintf(stderr, "synack connect: bad --recv '%s': give a byte count like 1024 or 64M\n", optarg);
                goto out;
            }
            m = MODE_RECV;
            break;
        case OPT_FASTOPEN:
            c->fastopen = true;
            break;
        case OPT_REPEAT: {
            char *end = NULL;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!*optarg || *end || v > 1000) {
                fprintf(stderr, "synack connect: bad --repeat '%s': give 0 to 1000\n", optarg);
                goto out;
            }
            c->repeat = (unsigned)v;
            break;
        }
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
                                      : "synack connect: which server? give A.B.C.D:PORT%s\n",
                optind + 1 < argc ? argv[optind + 1] : "");
        goto out;
    }
    c->remote_text = argv[optind];
    char err[200];
    if (sk_parse_ipv4_endpoint(c->remote_text, &c->remote, err, sizeof(err)) < 0) {
        fprintf(stderr, "synack connect: %s\n", err);
        goto out;
    }
    if (c->mode == MODE_NONE) {
        fprintf(stderr, "synack connect: choose what to do: --http PATH, --send FILE or --recv N\n");
        goto out;
    }
    if (c->repeat && c->mode != MODE_HTTP) {
        fprintf(stderr, "synack connect: --repeat goes with --http only\n");
        goto out;
    }
    rc = SK_CLI_EXIT_FAIL;
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
    if (c->out_path) {
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
    int r = client_open(c);
    if (r < 0 && r != -EINPROGRESS) {
        client_socket_fail(c, "connect to", r);
        goto out;
    }
    if (sk_tun_run(&c->opt, c->loop) == 0 && !c->failed)
        rc = SK_CLI_EXIT_OK;
    if (c->phase != PHASE_DONE && !c->failed)
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
    free(c);
    return rc;
}
