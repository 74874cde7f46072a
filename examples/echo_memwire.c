/*
 * An echo server and its client, two synack stacks in one process joined
 * by the in-memory wire (libsynack-io), in virtual time: 20 ms of delay
 * each way and 1% loss (a lost segment is retransmitted on the RTO), yet
 * it finishes in microseconds of real time.
 *
 *   cc echo_memwire.c $(pkg-config --cflags --libs synack-io) -o echo_memwire
 *   ./echo_memwire [MESSAGE]
 *
 * Prints what the client got back and exits 0 when it equals what it
 * sent.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <synack-io/memwire.h>
#include <synack/synack.h>

#define SERVER_ADDR 0x0a000001u /* 10.0.0.1 */
#define CLIENT_ADDR 0x0a000002u /* 10.0.0.2 */
#define PORT 7                  /* echo */

typedef struct echo {
    sk_stack *server, *client;
    int listen_fd, conn_fd, client_fd;
    const char *msg;
    size_t msg_len, sent, got;
    char reply[4096];
    bool client_closed, done;
} echo;

/* The server: accept one connection, send back what it reads, close when
 * the client has closed its side. */
static void serve(echo *e)
{
    if (e->conn_fd < 0) {
        e->conn_fd = sk_accept(e->server, e->listen_fd, NULL);
        if (e->conn_fd < 0)
            return; /* -EAGAIN: nobody yet */
    }
    char buf[1024];
    ssize_t n;
    while ((n = sk_recv(e->server, e->conn_fd, buf, sizeof buf, 0)) > 0)
        sk_send(e->server, e->conn_fd, buf, (size_t)n, 0); /* the buffer is far larger than this demo's data */
    if (n == 0) { /* the client's FIN */
        sk_close(e->server, e->conn_fd);
        e->conn_fd = -2;
    }
}

/* The client: send the message once connected, read the echo, close. */
static void client(echo *e)
{
    if (e->sent < e->msg_len) {
        ssize_t n = sk_send(e->client, e->client_fd, e->msg + e->sent, e->msg_len - e->sent, 0);
        if (n > 0)
            e->sent += (size_t)n;
        else if (n != -EAGAIN) /* -EAGAIN: still connecting */
            fprintf(stderr, "send: %s\n", sk_strerror((int)n));
    }
    ssize_t n;
    while ((n = sk_recv(e->client, e->client_fd, e->reply + e->got, sizeof e->reply - 1 - e->got, 0)) > 0)
        e->got += (size_t)n;
    if (e->got == e->msg_len && !e->client_closed) {
        sk_close(e->client, e->client_fd); /* FIN; TIME_WAIT follows */
        e->client_closed = true;
        e->done = true;
    }
}

/* Runs after every event on the wire (sk_wire_run_until_pred): the socket
 * calls happen here, outside the engine's callbacks. */
static bool step(void *ctx)
{
    echo *e = ctx;
    serve(e);
    client(e);
    return e->done;
}

int main(int argc, char **argv)
{
    echo e = {.listen_fd = -1, .conn_fd = -1, .client_fd = -1};
    e.msg = argc > 1 ? argv[1] : "hello, synack";
    e.msg_len = strlen(e.msg);
    if (e.msg_len >= sizeof e.reply) {
        fprintf(stderr, "message too long (at most %zu bytes)\n", sizeof e.reply - 1);
        return 2;
    }

    sk_wire *w = sk_wire_new(1, 0);
    e.server = sk_wire_add_host(w, SERVER_ADDR, NULL);
    e.client = sk_wire_add_host(w, CLIENT_ADDR, NULL);
    if (!w || !e.server || !e.client) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    sk_link_params link = {.delay = 20 * SK_NSEC_PER_MSEC, .loss = 0.01};
    sk_wire_set_link(w, 0, 0, &link);

    e.listen_fd = sk_socket(e.server);
    sk_endpoint local = {.addr = SERVER_ADDR, .port = PORT, .family = SK_AF_INET};
    int rc = sk_bind(e.server, e.listen_fd, &local);
    if (rc == 0)
        rc = sk_listen(e.server, e.listen_fd, 8);
    if (rc < 0) {
        fprintf(stderr, "listen: %s\n", sk_strerror(rc));
        return 1;
    }
    e.client_fd = sk_socket(e.client);
    rc = sk_connect(e.client, e.client_fd, &local);
    if (rc != -EINPROGRESS) {
        fprintf(stderr, "connect: %s\n", sk_strerror(rc));
        return 1;
    }

    bool ok = sk_wire_run_until_pred(w, step, &e, sk_wire_now(w) + 60 * SK_NSEC_PER_SEC);
    /* Let the closes finish (FIN exchange), in virtual time. */
    sk_wire_run_for(w, 2 * SK_NSEC_PER_SEC);
    e.reply[e.got] = '\0';
    printf("echoed %zu bytes in %.3f s of virtual time: %s\n", e.got,
           (double)sk_wire_now(w) / 1e9, e.reply);
    printf("client retransmitted %llu segments\n",
           (unsigned long long)sk_counter(e.client, "TcpRetransSegs"));
    sk_wire_free(w); /* frees both stacks */
    return ok && e.got == e.msg_len && memcmp(e.reply, e.msg, e.msg_len) == 0 ? 0 : 1;
}
