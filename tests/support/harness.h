/*
 * Scenario-test harness: hosts on an in-memory wire, a recorded trace of
 * every datagram, and assertions that read like packet traces.
 *
 *   sk_fixture *f = *state;                 // client 10.0.0.1, server 10.0.0.2
 *   sk_test_listen(f, f->server, 80, 16);
 *   sk_conn_pair p = sk_test_establish(f, 80);
 *   sk_close(f->client, p.cfd);
 *   sk_test_run_for(f, SEC(1));
 *   EXPECT_SEGMENTS(f, "c>s S seq 0", "s>c S. seq 0 ack 1", "c>s . ack 1",
 *                      "c>s F. seq 1 ack 1", "s>c . ack 2");
 *
 * A segment description is "FROM>TO FLAGS [field value]...":
 *   FROM, TO  host labels ("c", "s", "c2", ...; "*" matches any host);
 *   FLAGS     tcpdump's letters: S SYN, F FIN, R RST, P PSH, U URG,
 *             E ECE, W CWR, "." ACK, e.g. "S.", "F.", "R.", "P.";
 *             "none" for no flag; "*" for any flags;
 *   seq N     sequence number, relative to the sender's ISN once a SYN
 *             of that flow has been seen (absolute before, as tcpdump);
 *   seq N:M   also requires payload length M - N;
 *   ack N     acknowledgment, relative to the receiver's ISN likewise;
 *   len N     payload length;  win N  raw window field;
 *   abs       this description's seq/ack are absolute numbers.
 * Fields not named are not checked.
 */
#ifndef SYNACK_TEST_HARNESS_H
#define SYNACK_TEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "synack-io/memwire.h"
#include "synack/packet.h"
#include "synack/synack.h"

#define SEC(x) ((sk_time_ns)(x) * SK_NSEC_PER_SEC)
#define MSEC(x) ((sk_time_ns)(x) * SK_NSEC_PER_MSEC)

#define SK_TEST_CLIENT_ADDR 0x0a000001u /* 10.0.0.1 */
#define SK_TEST_SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
#define SK_TEST_MAX_HOSTS 8
#define SK_TEST_MAX_DROP_RULES 16

/* One datagram a stack (or the test) put on the wire. */
typedef struct sk_trace_entry {
    size_t index;
    sk_time_ns time;       /* wire time it was sent                      */
    sk_wire_fate fate;     /* SK_WIRE_SENT, or the fate that dropped it  */
    unsigned delivered;    /* copies delivered so far (best effort)      */
    bool injected;         /* put there by the test, not by a stack      */
    uint8_t *bytes;
    size_t len;
    bool parsed;           /* false: seg is invalid, see parse_error     */
    sk_parse_error parse_error;
    sk_segment seg;        /* pointers refer into bytes                  */
    const char *from, *to; /* host labels, "?" for unknown addresses     */
    bool seq_known, ack_known; /* relative numbers available             */
    uint32_t rel_seq, rel_ack;
} sk_trace_entry;

/* One SK_EV_STATE event. */
typedef struct sk_state_change {
    sk_time_ns time;
    const char *host;
    int fd;
    sk_endpoint local, remote;
    int from, to;
    char cause[48];
} sk_state_change;

typedef struct sk_fixture_host {
    uint32_t addr;
    char label[8];
    sk_stack *stack; /* NULL for a label only (sk_test_add_label) */
} sk_fixture_host;

typedef struct sk_drop_rule {
    char desc[96];
    int remaining; /* -1: forever */
} sk_drop_rule;

typedef struct sk_fixture_opts {
    uint64_t seed;        /* wire and stack seeds (default 1)           */
    sk_time_ns delay;     /* one-way delay on every link (default 10 ms) */
    sk_time_ns start;     /* the wire's initial clock (default 1 s)      */
} sk_fixture_opts;

typedef struct sk_fixture {
    sk_wire *wire;
    sk_stack *client; /* "c", 10.0.0.1 */
    sk_stack *server; /* "s", 10.0.0.2 */
    sk_time_ns start;
    uint64_t seed;
    sk_time_ns delay;

    sk_fixture_host hosts[SK_TEST_MAX_HOSTS];
    size_t host_count;

    bool recording; /* false: keep learning ISNs but store no entries */
    sk_trace_entry *trace;
    size_t trace_len, trace_cap;
    size_t cursor; /* next entry EXPECT_SEGMENTS looks at */
    bool last_sent_valid;
    bool injecting; /* set around sk_wire_inject so the tap marks it */

    sk_state_change *changes;
    size_t change_len, change_cap;

    sk_drop_rule drops[SK_TEST_MAX_DROP_RULES];
    size_t drop_count;

    struct sk_isn_entry {
        uint32_t src, dst; /* IPv4 addresses; for IPv6 those of the hosts holding the addresses */
        uint16_t sport, dport;
        uint32_t isn;
        bool v6;
    } *isns;
    size_t isn_len, isn_cap;

    int listen_fd;      /* server listener made by sk_test_listen, or -1 */
    uint16_t listen_port;

    /* Extra event hook, called for every event of every host. */
    sk_event_fn on_event;
    void *event_ctx;
} sk_fixture;

/* A connected pair made by sk_test_establish. */
typedef struct sk_conn_pair {
    int cfd;   /* on f->client */
    int sfd;   /* accepted on f->server */
    uint16_t cport, sport;
} sk_conn_pair;

/* ---- fixture lifecycle ------------------------------------------- */

sk_fixture *sk_test_fixture_new(const sk_fixture_opts *opts);
void sk_test_fixture_free(sk_fixture *f);
/* cmocka setup/teardown: *state becomes a default fixture. */
int sk_test_setup(void **state);
int sk_test_teardown(void **state);
/* Adds another host ("c2", 10.0.0.3, ...) with the fixture's events. */
sk_stack *sk_test_add_host(sk_fixture *f, const char *label, uint32_t addr);
/* Names an address no stack answers for: a peer the test plays by
 * injecting its segments (what is sent to it stays in the trace). */
void sk_test_add_label(sk_fixture *f, const char *label, uint32_t addr);
/* Records the ISN of the flow src:sport > dst:dport, so relative numbers
 * work for a peer the test plays (injected SYNs teach nothing). */
void sk_test_learn_isn(sk_fixture *f, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                       uint32_t isn);
const char *sk_test_label(const sk_fixture *f, uint32_t addr);
/* Sets impairments from `from` to `to` (0 means any, so 0, 0 is every
 * direction); the delay stays the fixture's when p->delay is 0. */
void sk_test_set_link(sk_fixture *f, uint32_t from, uint32_t to, const sk_link_params *p);
/* Sets a sysctl, failing the test if refused. */
void sk_test_sysctl(sk_stack *s, const char *name, const char *value);

/* ---- running ------------------------------------------------------ */

/* Time since the fixture started. */
sk_time_ns sk_test_elapsed(const sk_fixture *f);
void sk_test_run_for(sk_fixture *f, sk_time_ns d);
void sk_test_run_until(sk_fixture *f, sk_time_ns abs);
bool sk_test_run_until_pred(sk_fixture *f, bool (*pred)(void *ctx), void *ctx, sk_time_ns within);
/* Runs until sk_state(s, fd) == state or `within` has passed; returns
 * whether the state was reached. */
bool sk_test_run_until_state(sk_fixture *f, sk_stack *s, int fd, int state, sk_time_ns within);
#define ASSERT_RUN_UNTIL_STATE(f, s, fd, state, within)                                           \
    sk_test_assert_state_reached((f), (s), (fd), (state), (within), __FILE__, __LINE__)
void sk_test_assert_state_reached(sk_fixture *f, sk_stack *s, int fd, int state, sk_time_ns within,
                                  const char *file, int line);

/* ---- sockets -------------------------------------------------------- */

/* A listener on f->server (remembered as f->listen_fd) or any stack. */
int sk_test_listen(sk_fixture *f, sk_stack *s, uint16_t port, int backlog);
/* New socket on s, connect() to addr:port, asserting -EINPROGRESS. */
int sk_test_connect(sk_fixture *f, sk_stack *s, uint32_t addr, uint16_t port);
/* f->client connects to f->server:port (listening via sk_test_listen;
 * it listens with backlog 128 if not yet); runs until the client is
 * ESTABLISHED and the server accepted; asserts both ESTABLISHED. */
sk_conn_pair sk_test_establish(sk_fixture *f, uint16_t port);
/* The same with a client socket the test made (and set options on). */
sk_conn_pair sk_test_establish_socket(sk_fixture *f, int cfd, uint16_t port);
/* The same over IPv6 (after sk_test_setup_v6): f->server listens on
 * [::]:port (backlog 16), an AF_INET6 socket of f->client connects to
 * fd00::2; runs until the client is ESTABLISHED and 50 ms more, then
 * accepts.  cport and sport are left 0. */
sk_conn_pair sk_test_establish6(sk_fixture *f, uint16_t port);
int sk_test_so_error(sk_stack *s, int fd);
uint16_t sk_test_local_port(sk_stack *s, int fd);
/* An AF_INET6 endpoint from an address's text ("fd00::1", "::ffff:10.0.0.2"). */
sk_endpoint sk_test_ep6(const char *text, uint16_t port);
/* Fills in the checksum of the ICMPv6 message after the 40-byte IPv6
 * header `ip6` (RFC 4443 §2.3: over the pseudo-header and the message);
 * the header's payload length must already be set. */
void sk_test_icmp6_checksum(uint8_t *ip6);
/* Gives the client fd00::1/64 and the server fd00::2/64 beside their
 * IPv4 addresses. */
void sk_test_setup_v6(sk_fixture *f);
/* TCP_INFO of a socket (the call must succeed). */
struct sk_tcp_info sk_test_tcp_info(sk_stack *s, int fd);
/* Puts a datagram the test built on the wire, recorded as injected. */
void sk_test_inject_raw(sk_fixture *f, const uint8_t *d, size_t n);
/* Entry e as tcpdump prints it, without the timestamp (static buffer). */
const char *sk_test_line(const sk_trace_entry *e);
/* The state of the connection with that tuple in the socket table
 * (including TIME_WAIT and orphans), or 0 when there is none. */
int sk_test_tuple_state(sk_stack *s, uint16_t lport, uint32_t raddr, uint16_t rport);
/* Sockets in the table in `state`. */
size_t sk_test_count_state(sk_stack *s, int state);

/* Deterministic data pattern: byte at stream offset i. */
uint8_t sk_test_pattern(uint64_t i);
/* Streams `len` pattern bytes from (tx,txfd) to (rx,rxfd), reading as it
 * goes and checking every byte; returns bytes received intact (stops at
 * the first wrong byte) once all arrived or `within` passed. */
size_t sk_test_transfer(sk_fixture *f, sk_stack *tx, int txfd, sk_stack *rx, int rxfd, size_t len,
                        sk_time_ns within);
/* Reads everything readable now (up to cap); returns bytes read, or a
 * negative errno if the first recv failed. */
ssize_t sk_test_drain(sk_stack *s, int fd, uint8_t *buf, size_t cap);

/* ---- the trace ---------------------------------------------------- */

/* Asserts the next recorded segments match the descriptions in order
 * (and advances the cursor past them); on mismatch prints the whole
 * trace with the cursor and fails. */
#define EXPECT_SEGMENTS(f, ...)                                                                  \
    sk_test_expect_segments((f), __FILE__, __LINE__, (const char *[]){__VA_ARGS__, NULL})
void sk_test_expect_segments(sk_fixture *f, const char *file, int line, const char *const *descs);
/* Skips recorded segments until one matches; fails if none does. */
#define EXPECT_EVENTUALLY(f, desc) sk_test_expect_eventually((f), __FILE__, __LINE__, (desc))
const sk_trace_entry *sk_test_expect_eventually(sk_fixture *f, const char *file, int line,
                                                const char *desc);
/* Asserts nothing was recorded past the cursor. */
#define EXPECT_NO_MORE_SEGMENTS(f) sk_test_expect_no_more((f), __FILE__, __LINE__)
void sk_test_expect_no_more(sk_fixture *f, const char *file, int line);
/* Moves the cursor past everything recorded so far. */
void sk_test_skip(sk_fixture *f);
/* Parses tcpdump's flag letters as descriptions use them ("S.", "F.",
 * "R", "none"); false for anything else. */
bool sk_test_parse_flags(const char *tok, uint16_t *flags);
/* Whether entry e matches the description (a bad description fails). */
bool sk_test_matches(const sk_fixture *f, const sk_trace_entry *e, const char *desc);
/* Number of recorded entries from `from` on that match. */
size_t sk_test_count(const sk_fixture *f, size_t from, const char *desc);
/* The first entry at or after `from` matching, or NULL. */
const sk_trace_entry *sk_test_find(const sk_fixture *f, size_t from, const char *desc);
/* The last entry matching, or NULL. */
const sk_trace_entry *sk_test_last(const sk_fixture *f, const char *desc);
void sk_test_print_trace(const sk_fixture *f, size_t mark);
/* An MTU probe (RFC 4821) as a path MTU test expects it: a data segment
 * of `len` bytes, and whether the hop let it through. */
typedef struct sk_test_probe {
    uint32_t len;
    bool fits;
} sk_test_probe;
/* Asserts segments of these lengths were sent from `from` on, in this
 * order (others between them), each SENT or TOO_BIG as `fits` says. */
void sk_test_expect_probes(const sk_fixture *f, size_t from, const sk_test_probe *probes, size_t n);
void sk_test_format_entry(const sk_fixture *f, const sk_trace_entry *e, char *buf, size_t len);

/* ---- impairing and injecting -------------------------------------- */

/* Drops the next `count` datagrams matching desc (-1: all from now on). */
void sk_test_drop(sk_fixture *f, const char *desc, int count);
/* Builds a datagram from spec and puts it on the wire now (no impairments). */
void sk_test_inject(sk_fixture *f, const sk_segment_spec *spec);
/* Puts a copy of a recorded datagram on the wire again. */
void sk_test_reinject(sk_fixture *f, const sk_trace_entry *e);

/* ---- state transitions --------------------------------------------- */

/* Asserts the SK_EV_STATE events of connection (stack, local port,
 * remote port) went through exactly these states (space-separated
 * names; "SYN_RECV"/"SYN_RECEIVED", "FIN_WAIT_1", "CLOSED"...), each
 * from the one before. */
#define EXPECT_TRANSITIONS(f, s, lport, rport, states)                                            \
    sk_test_expect_transitions((f), (s), (lport), (rport), (states), __FILE__, __LINE__)
void sk_test_expect_transitions(sk_fixture *f, sk_stack *s, uint16_t lport, uint16_t rport,
                                const char *states, const char *file, int line);
/* The time of the last transition to `state` of that connection, or
 * SK_TIME_NEVER. */
sk_time_ns sk_test_transition_time(const sk_fixture *f, sk_stack *s, uint16_t lport, uint16_t rport,
                                   int state);
const char *sk_test_state_name(int state);
void sk_test_print_transitions(const sk_fixture *f);

#endif
