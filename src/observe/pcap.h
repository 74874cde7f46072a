/*
 * Capture files: classic pcap (the format tcpdump -w writes), link type
 * LINKTYPE_RAW (101) since synack's datagrams are bare IP of either
 * version (the first nibble tells which; LINKTYPE_IPV4 would hold IPv4
 * only), microsecond timestamps taken from the virtual clock.
 *
 * With libpcap available (SYNACK_HAVE_PCAP) files are written through it;
 * a small built-in writer produces the same bytes without it, so nothing
 * depends on libpcap being installed.
 */
#ifndef SYNACK_OBSERVE_PCAP_H
#define SYNACK_OBSERVE_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_PCAP_LINKTYPE_RAW 101
#define SK_PCAP_SNAPLEN 65535u

typedef struct sk_pcap sk_pcap;

typedef struct sk_pcap_options {
    /* Stop writing before the file would exceed this many bytes (headers
     * included); 0 means no limit. */
    uint64_t max_bytes;
    /* Use the built-in writer even when libpcap is available. */
    bool builtin_writer;
} sk_pcap_options;

/* Creates (truncates) `path` and writes the file header.  `opts` may be
 * NULL.  On failure returns NULL with the reason in err. */
sk_pcap *sk_pcap_open(const char *path, const sk_pcap_options *opts, char *err, size_t errlen);

/* Appends one datagram stamped `now` (nanoseconds; truncated to
 * microseconds).  Datagrams longer than SK_PCAP_SNAPLEN are cut to it, as
 * a capture would.  Returns 0; -ENOSPC once the size limit has been hit
 * (this and every later datagram are not written); -EIO on a write
 * error (also sticky). */
int sk_pcap_write(sk_pcap *p, sk_time_ns now, const uint8_t *datagram, size_t len);

/* Whether a datagram was refused because of max_bytes. */
bool sk_pcap_limit_reached(const sk_pcap *p);
uint64_t sk_pcap_bytes_written(const sk_pcap *p);
uint64_t sk_pcap_packets_written(const sk_pcap *p);
/* Datagrams not written because of the limit or an error. */
uint64_t sk_pcap_packets_dropped(const sk_pcap *p);

/* Flushes and closes; returns 0, or -EIO if any write failed.  NULL is
 * accepted and returns 0. */
int sk_pcap_close(sk_pcap *p);

#ifdef __cplusplus
}
#endif

#endif
