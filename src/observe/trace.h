/*
 * Trace lines: datagrams as `tcpdump -nn` prints them, and the engine's
 * events (state changes, drops, timers) as lines that sit among them.
 *
 * The datagram format follows tcpdump 4.99 byte for byte, including its
 * relative sequence numbers, which need memory of each conversation: an
 * sk_trace holds that memory.  Use one sk_trace per capture point, exactly
 * as one tcpdump process would watch one interface.
 *
 * Every formatter works like snprintf: it writes at most `cap` bytes
 * including the terminating NUL, never a newline, and returns the length
 * the whole line needs.  SK_TRACE_LINE_MAX is enough for any line except
 * one quoting a pathologically long HTTP request line, which is cut.
 */
#ifndef SYNACK_OBSERVE_TRACE_H
#define SYNACK_OBSERVE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_TRACE_LINE_MAX 1024

/* tcpdump -S: print absolute sequence numbers and keep no state. */
#define SK_TRACE_ABSOLUTE_SEQ 0x1
/* tcpdump -v, for IPv6 datagrams: the header's fields in parentheses
 * (class, flowlabel, hlim, next-header, payload length), extension
 * header options, and the TCP checksum's verdict.  IPv4 lines are not
 * affected: tcpdump -v breaks them over two lines, which the one-line
 * contract of these formatters cannot hold. */
#define SK_TRACE_VERBOSE 0x2

typedef struct sk_trace sk_trace;

/* Returns NULL only when out of memory. */
sk_trace *sk_trace_new(unsigned flags);
void sk_trace_free(sk_trace *t);
/* Forgets every conversation, as a freshly started tcpdump would. */
void sk_trace_reset(sk_trace *t);
/* Conversations currently remembered for relative numbering. */
size_t sk_trace_conversations(const sk_trace *t);

/* "HH:MM:SS.uuuuuu": `now` taken as nanoseconds since midnight (it wraps
 * every 24 h), microseconds truncated as pcap's timestamps are. */
size_t sk_trace_format_time(sk_time_ns now, char *buf, size_t cap);

/* One IPv4 or IPv6 datagram as tcpdump -nn prints it, time first.  Malformed or
 * truncated datagrams give tcpdump's "[|tcp]", "truncated-ip", "bad-len"
 * style lines.  Updates `t`'s conversation memory. */
size_t sk_trace_format_datagram(sk_trace *t, sk_time_ns now, const uint8_t *datagram, size_t len,
                                char *buf, size_t cap);

/* Any engine event as one line.  SEGMENT_IN/OUT are formatted as
 * datagrams (then `t` must not be NULL); the others read
 *   10:00:00.000100 10.0.0.1:40000 SYN_SENT -> ESTABLISHED (rcv SYN,ACK)
 *   10:00:00.000100 10.0.0.2:80 drop TCPListenDrops from 10.0.0.1:40000
 *   10:00:00.200000 10.0.0.1:40000 timer retransmit
 *   10:00:00.000100 10.0.0.2:80 message: <text>
 *   10:00:00.000100 10.0.0.2:80 ready fd 4
 * so they can never be mistaken for a tcpdump packet line (which always
 * has "IP" as its second field). */
size_t sk_trace_format_event(sk_trace *t, const sk_event *ev, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
