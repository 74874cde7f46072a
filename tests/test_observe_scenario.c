/*
 * Observability of whole scenarios on the in-memory wire: the tcpdump
 * and state lines of a client's request and active close, exact for a
 * fixed seed, and the counters Linux would show after each lifecycle.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "observe/ss.h"
#include "observe/trace.h"

#define CLIENT 0x0a000001u
#define SERVER 0x0a000002u
#define START (36000ull * SK_NSEC_PER_SEC) /* 10:00:00 */

typedef struct recorder {
    sk_trace *trace;
    char *text;
    size_t len;
    FILE *out;
    unsigned unasked; /* events of a type the hosts' event_mask leaves out */
} recorder;

static void on_wire(void *ctx, sk_time_ns now, sk_wire_fate fate, const uint8_t *d, size_t len)
{
    recorder *r = ctx;
    if (fate != SK_WIRE_SENT)
        return;
    char line[SK_TRACE_LINE_MAX];
    sk_trace_format_datagram(r->trace, now, d, len, line, sizeof(line));
    fprintf(r->out, "%s\n", line);
}

static void on_event(void *ctx, const sk_event *ev)
{
    recorder *r = ctx;
    if (ev->type != SK_EV_STATE) {
        r->unasked++;
        return;
    }
    char line[SK_TRACE_LINE_MAX];
    sk_trace_format_event(r->trace, ev, line, sizeof(line));
    fprintf(r->out, "%s\n", line);
}

static sk_stack *host(sk_wire *w, recorder *r, uint32_t addr, const char *name)
{
    sk_stack_params p;
    memset(&p, 0, sizeof(p));
    p.seed = addr * 7919u;
    for (size_t i = 0; i < sizeof(p.secret); i++)
        p.secret[i] = (uint8_t)(addr + i);
    p.name = name;
    p.on_event = on_event;
    p.event_ctx = r;
    /* The state log is all this consumer reads: the stack builds no
     * event for the datagrams (the tap sees those). */
    p.event_mask = SK_EVMASK(SK_EV_STATE);
    sk_stack *s = sk_wire_add_host(w, addr, &p);
    assert_non_null(s);
    return s;
}

typedef struct pair_ctx {
    sk_stack *s;
    int fd;
    int want;
} pair_ctx;

static bool state_is(void *ctx)
{
    pair_ctx *p = ctx;
    return sk_state(p->s, p->fd) == p->want;
}

static bool readable(void *ctx)
{
    pair_ctx *p = ctx;
    return (sk_poll(p->s, p->fd) & SK_POLLIN) != 0;
}

/* What tcpdump -nn and the engine's state log show for the exchange
 * below (seed 42, 1 ms each way): Linux's handshake options, the request
 * in one PSH segment, the server's FIN carrying its ACK (a 3-segment
 * close), and TIME_WAIT ending 60 s (TCP_TIMEWAIT_LEN) after it began. */
#define EXPECTED_TRACE \
    "10:00:00.000000 10.0.0.2:80 CLOSED -> LISTEN (listen())\n" \
    "10:00:00.000000 10.0.0.1:55932 CLOSED -> SYN_SENT (connect())\n" \
    "10:00:00.000000 IP 10.0.0.1.55932 > 10.0.0.2.80: Flags [S], seq 3389129143, win 64240, options [mss 1460,sackOK,TS val 910570130 ecr 0,nop,wscale 10], length 0\n" \
    "10:00:00.001000 10.0.0.2:80 LISTEN -> SYN_RCVD (rcv SYN)\n" \
    "10:00:00.001000 IP 10.0.0.2.80 > 10.0.0.1.55932: Flags [S.], seq 3197982266, ack 3389129144, win 65160, options [mss 1460,sackOK,TS val 4283282766 ecr 910570130,nop,wscale 10], length 0\n" \
    "10:00:00.002000 10.0.0.1:55932 SYN_SENT -> ESTABLISHED (rcv SYN,ACK)\n" \
    "10:00:00.002000 IP 10.0.0.1.55932 > 10.0.0.2.80: Flags [.], ack 1, win 63, options [nop,nop,TS val 910570132 ecr 4283282766], length 0\n" \
    "10:00:00.002000 IP 10.0.0.1.55932 > 10.0.0.2.80: Flags [P.], seq 1:19, ack 1, win 63, options [nop,nop,TS val 910570132 ecr 4283282766], length 18: HTTP: GET / HTTP/1.0\n" \
    "10:00:00.003000 10.0.0.2:80 SYN_RCVD -> ESTABLISHED (rcv ACK)\n" \
    "10:00:00.003000 IP 10.0.0.2.80 > 10.0.0.1.55932: Flags [.], ack 19, win 64, options [nop,nop,TS val 4283282768 ecr 910570132], length 0\n" \
    "10:00:00.003000 10.0.0.1:55932 ESTABLISHED -> FIN_WAIT_1 (close())\n" \
    "10:00:00.003000 IP 10.0.0.1.55932 > 10.0.0.2.80: Flags [F.], seq 19, ack 1, win 63, options [nop,nop,TS val 910570133 ecr 4283282766], length 0\n" \
    "10:00:00.004000 10.0.0.2:80 ESTABLISHED -> CLOSE_WAIT (rcv FIN)\n" \
    "10:00:00.004000 10.0.0.2:80 CLOSE_WAIT -> LAST_ACK (close())\n" \
    "10:00:00.004000 IP 10.0.0.2.80 > 10.0.0.1.55932: Flags [F.], seq 1, ack 20, win 64, options [nop,nop,TS val 4283282769 ecr 910570133], length 0\n" \
    "10:00:00.005000 10.0.0.1:55932 FIN_WAIT_1 -> FIN_WAIT_2 (rcv ACK of FIN)\n" \
    "10:00:00.005000 IP 10.0.0.1.55932 > 10.0.0.2.80: Flags [.], ack 2, win 63, options [nop,nop,TS val 910570135 ecr 4283282769], length 0\n" \
    "10:00:00.005000 10.0.0.1:55932 FIN_WAIT_2 -> TIME_WAIT (rcv FIN)\n" \
    "10:00:00.006000 10.0.0.2:80 LAST_ACK -> CLOSED (rcv ACK of FIN)\n" \
    "10:01:00.005000 10.0.0.1:55932 TIME_WAIT -> CLOSED (timer expired)\n"

/* The client sends an 18-byte request and closes first; the server
 * reads to EOF and closes: the client goes through TIME_WAIT. */
static void test_trace_of_request_and_active_close(void **state)
{
    (void)state;
    recorder r = {.trace = sk_trace_new(0)};
    r.out = open_memstream(&r.text, &r.len);
    sk_wire *w = sk_wire_new(42, START);
    sk_link_params link = {.delay = SK_NSEC_PER_MSEC};
    sk_wire_set_link(w, 0, 0, &link);
    sk_wire_set_tap(w, on_wire, &r);
    sk_stack *c = host(w, &r, CLIENT, "client"), *s = host(w, &r, SERVER, "server");

    int lfd = sk_socket(s);
    sk_endpoint any = {.addr = 0, .port = 80, .family = SK_AF_INET}, dst = {.addr = SERVER, .port = 80, .family = SK_AF_INET};
    assert_int_equal(sk_bind(s, lfd, &any), 0);
    assert_int_equal(sk_listen(s, lfd, 16), 0);
    int cfd = sk_socket(c);
    assert_int_equal(sk_connect(c, cfd, &dst), -EINPROGRESS);
    pair_ctx cp = {c, cfd, SK_TCP_ESTABLISHED};
    assert_true(sk_wire_run_until_pred(w, state_is, &cp, START + SK_NSEC_PER_SEC));
    assert_int_equal(sk_send(c, cfd, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
    int sfd = -EAGAIN;
    pair_ctx sp = {s, lfd, 0};
    assert_true(sk_wire_run_until_pred(w, readable, &sp, START + SK_NSEC_PER_SEC));
    sfd = sk_accept(s, lfd, NULL);
    assert_true(sfd >= 0);
    sp.fd = sfd;
    assert_true(sk_wire_run_until_pred(w, readable, &sp, START + SK_NSEC_PER_SEC));
    char buf[64];
    assert_int_equal(sk_recv(s, sfd, buf, sizeof(buf), 0), 18);
    assert_int_equal(sk_close(c, cfd), 0);
    assert_true(sk_wire_run_until_pred(w, readable, &sp, START + 2 * SK_NSEC_PER_SEC));
    assert_int_equal(sk_recv(s, sfd, buf, sizeof(buf), 0), 0);
    assert_int_equal(sk_close(s, sfd), 0);
    sk_wire_run_for(w, 61 * SK_NSEC_PER_SEC);
    fclose(r.out);

    const char *expected = EXPECTED_TRACE;
    if (strcmp(r.text, expected)) {
        fprintf(stderr, "--- got ---\n%s--- expected ---\n%s", r.text, expected);
        fail();
    }
    assert_int_equal(r.unasked, 0);
    free(r.text);
    sk_trace_free(r.trace);
    sk_wire_free(w);
}

static char *ss_live(sk_stack *s, const char *args)
{
    char buf[256];
    char *argv[16];
    int argc = 0;
    argv[argc++] = "ss";
    snprintf(buf, sizeof(buf), "%s", args);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_int_equal(sk_ss_run(s, sk_now(s), argc, argv, f, f), 0);
    fclose(f);
    return out;
}

#define ASSERT_LIVE(stack, args, expected)                                                                      \
    do {                                                                                                        \
        char *got_ = ss_live((stack), (args));                                                                  \
        if (strcmp(got_, (expected))) {                                                                         \
            fprintf(stderr, "ss %s\n--- got ---\n%s--- expected ---\n%s", (args), got_, (expected));             \
            fail();                                                                                             \
        }                                                                                                       \
        free(got_);                                                                                             \
    } while (0)

/* An active close on the client: ActiveOpens there, PassiveOpens on the
 * server, CurrEstab back to 0 on both, and TW counted on the client
 * when its TIME_WAIT ends (Linux counts it at the end, in the timer). */
static void test_counters_after_client_active_close(void **state)
{
    sk_fixture *f = *state;
    sk_conn_pair p = sk_test_establish(f, 80);
    assert_int_equal(sk_counter(f->client, "TcpCurrEstab"), 1);
    assert_int_equal(sk_counter(f->server, "TcpCurrEstab"), 1);
    assert_int_equal(sk_close(f->client, p.cfd), 0);
    sk_test_run_for(f, MSEC(100));
    uint8_t buf[16];
    assert_int_equal(sk_test_drain(f->server, p.sfd, buf, sizeof(buf)), 0);
    assert_int_equal(sk_close(f->server, p.sfd), 0);
    sk_test_run_for(f, MSEC(100));

    /* Half a second into TIME_WAIT, as `synack ss` would show it. */
    char expected[512];
    assert_true(p.cport >= 10000); /* five digits: the column layout below */
    snprintf(expected, sizeof(expected),
             "Recv-Q Send-Q Local Address:Port  Peer Address:Port\n"
             "0      0           10.0.0.1:%u     10.0.0.2:80   timer:(timewait,59sec,0)\n",
             p.cport);
    ASSERT_LIVE(f->client, "-tno state time-wait", expected);
    ASSERT_LIVE(f->server, "-tan", "State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
                                   "LISTEN 0      128         10.0.0.2:80        0.0.0.0:*\n");
    assert_int_equal(sk_counter(f->client, "TcpActiveOpens"), 1);
    assert_int_equal(sk_counter(f->client, "TcpPassiveOpens"), 0);
    assert_int_equal(sk_counter(f->server, "TcpPassiveOpens"), 1);
    assert_int_equal(sk_counter(f->server, "TcpActiveOpens"), 0);
    assert_int_equal(sk_counter(f->client, "TcpCurrEstab"), 0);
    assert_int_equal(sk_counter(f->server, "TcpCurrEstab"), 0);
    /* Counted when the record is scheduled (Linux's __inet_twsk_schedule). */
    assert_int_equal(sk_counter(f->client, "TcpExtTW"), 1);

    sk_test_run_for(f, SEC(60));
    assert_int_equal(sk_counter(f->client, "TcpExtTW"), 1);
    assert_int_equal(sk_counter(f->server, "TcpExtTW"), 0);
    assert_int_equal(sk_counter(f->client, "TcpOutRsts"), 0);
    assert_int_equal(sk_counter(f->server, "TcpOutRsts"), 0);
    ASSERT_LIVE(f->client, "-tan", "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n");
}

/* A SYN to a port nobody listens on: the server answers RST (OutRsts),
 * the client's attempt fails (AttemptFails), nothing is established. */
static void test_counters_after_refused_connect(void **state)
{
    sk_fixture *f = *state;
    int fd = sk_test_connect(f, f->client, SK_TEST_SERVER_ADDR, 81);
    sk_test_run_for(f, MSEC(100));
    assert_int_equal(sk_test_so_error(f->client, fd), ECONNREFUSED);
    assert_int_equal(sk_counter(f->server, "TcpOutRsts"), 1);
    assert_int_equal(sk_counter(f->client, "TcpActiveOpens"), 1);
    assert_int_equal(sk_counter(f->client, "TcpAttemptFails"), 1);
    assert_int_equal(sk_counter(f->client, "TcpEstabResets"), 0);
    assert_int_equal(sk_counter(f->client, "TcpCurrEstab"), 0);
    assert_int_equal(sk_counter(f->server, "TcpPassiveOpens"), 0);
    assert_int_equal(sk_close(f->client, fd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_of_request_and_active_close),
        cmocka_unit_test_setup_teardown(test_counters_after_client_active_close, sk_test_setup, sk_test_teardown),
        cmocka_unit_test_setup_teardown(test_counters_after_refused_connect, sk_test_setup, sk_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
