/*
 * A scripted server for one client connection of the test fixture: the
 * real server's view of the client's data is dropped and the test answers
 * by hand, with cumulative ACKs and SACK blocks it chooses.  Loss-recovery
 * and SACK tests use it to put the client's sender in any situation.
 */
#ifndef SK_TEST_SCRIPTED_PEER_H
#define SK_TEST_SCRIPTED_PEER_H

#include "harness.h"

typedef struct sk_test_peer {
    sk_fixture *f;
    sk_conn_pair p;
    uint32_t s_seq, c_isn;
    uint16_t mss, win;
} sk_test_peer;

/* Establishes a connection to port 80 without timestamps and window
 * scaling (and without SACK when `sack` is false), then drops everything
 * the client sends to the real server from now on. */
sk_test_peer sk_test_peer_setup(sk_fixture *f, bool sack);
/* An ACK from the scripted server; sequence numbers relative to the
 * client's ISN, SACK blocks as [start, end) pairs. */
void sk_test_peer_ack(sk_test_peer *pr, uint32_t ack, const uint32_t *sack, unsigned nblocks);
/* The client's TCP_INFO. */
struct sk_tcp_info sk_test_peer_info(sk_test_peer *pr);
/* The client writes `segs` full-sized segments; 30 ms pass. */
void sk_test_peer_send(sk_test_peer *pr, unsigned segs);

#endif
