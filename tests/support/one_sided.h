/*
 * One-sided tests: one socket of one stack, its peer played by the test.
 *
 * The stack under test is the fixture's server, "s" (10.0.0.2); the peer
 * is "p" (10.0.0.9), an address no stack answers for: the test writes the
 * peer's segments and reads the socket's replies in the trace.  The peer
 * offers MSS 1000 and nothing else (no timestamps, SACK or window
 * scaling), so every reply is a bare header whose numbers read as in
 * tcpdump, relative to each side's ISN:
 *
 *   sk_one t = sk_one_open(f, SK_TCP_FIN_WAIT2, SK_ONE_PASSIVE);
 *   sk_one_send(&t, "F. seq 1 ack 2");
 *   EXPECT_SEGMENTS(f, "s>p . seq 2 ack 2");
 *   EXPECT_ONE_STATE(&t, SK_TCP_TIME_WAIT);
 *
 * sk_one_open gets there only through the public API and injected
 * segments, with the socket's stream at relative sequence 1 and the
 * peer's at 1 (plus one for each FIN either has sent):
 *   passive  LISTEN on port 80; the peer's SYN from port 40000 makes
 *            SYN_RECEIVED (a request on the listener, fd -1); its ACK makes
 *            ESTABLISHED and the test accepts the socket;
 *   active   connect() to the peer's port 80 makes SYN_SENT; the peer's
 *            SYN makes SYN_RECEIVED (simultaneous open, a full socket); its
 *            SYN-ACK makes ESTABLISHED;
 *   then     FIN_WAIT_1 is ESTABLISHED + shutdown(SHUT_WR) (the fd stays
 *            open, so the full socket handles what follows; tests of the
 *            orphaned states close() themselves); FIN_WAIT_2 the peer's ACK
 *            of that FIN; CLOSING the peer's FIN crossing it; TIME_WAIT the
 *            peer's FIN in FIN_WAIT_2; CLOSE_WAIT the peer's FIN in
 *            ESTABLISHED; LAST_ACK shutdown(SHUT_WR) in CLOSE_WAIT.
 * Every step asserts the exact segment Linux sends, and the cursor is left
 * after the last of them.
 */
#ifndef SK_TEST_ONE_SIDED_H
#define SK_TEST_ONE_SIDED_H

#include "harness.h"

#define SK_ONE_PEER_ADDR 0x0a000009u /* 10.0.0.9, "p" */
#define SK_ONE_PEER_ISN 1000000000u
#define SK_ONE_PEER_WINDOW 10000
#define SK_ONE_PEER_MSS 1000

typedef enum sk_one_path {
    SK_ONE_PASSIVE, /* listen, the peer connects */
    SK_ONE_ACTIVE,  /* connect to the peer */
} sk_one_path;

typedef struct sk_one {
    sk_fixture *f;
    sk_stack *s;        /* the stack under test, f->server */
    int fd;             /* the socket: the listener in LISTEN, -1 for a request */
    int lfd;            /* the listener of a passive open, else -1 */
    uint16_t port;      /* its local port */
    uint16_t peer_port; /* the peer's */
} sk_one;

/* cmocka setup/teardown: *state is a fixture with the label "p". */
int sk_one_setup(void **state);
int sk_one_teardown(void **state);

/* A socket in `state` reached by `path` (see above). */
sk_one sk_one_open(sk_fixture *f, int state, sk_one_path path);

/* Puts one segment from the peer on the wire and lets 1 ms pass, long
 * enough for an immediate reply, short of any timer.  The description is
 * "FLAGS [seq N] [ack N] [win N] [len N] [val N ecr N] [abs] [sackOK]":
 * tcpdump's flag letters, seq relative to the peer's ISN and ack to the
 * socket's (absolute with abs), the window (SK_ONE_PEER_WINDOW unless
 * given), N bytes of payload ("abcd..."), a timestamp option (RFC 7323)
 * with val and ecr.  A SYN carries MSS SK_ONE_PEER_MSS, and SACK-permitted
 * with sackOK. */
void sk_one_send(sk_one *t, const char *desc);

/* The state of the connection (the socket table's, TIME_WAIT records and
 * requests included): SK_TCP_CLOSE once it has none. */
int sk_one_state(const sk_one *t);
#define EXPECT_ONE_STATE(t, state) sk_one_expect_state((t), (state), __FILE__, __LINE__)
void sk_one_expect_state(const sk_one *t, int state, const char *file, int line);

#endif
