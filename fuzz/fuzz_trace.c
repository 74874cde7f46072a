/*
 * libFuzzer target for the capture-side decoders: the tcpdump-line
 * formatter (src/observe/trace.c) and sk_parse_segment, on datagrams of
 * either IP version.  The first byte picks the trace flags (bit 0 -S,
 * bit 1 -v); then datagrams, each a 2-byte big-endian length and its
 * bytes, go through one sk_trace in turn so the relative-number memory
 * sees whole conversations.  Each is formatted into a full line and into
 * an 8-byte buffer, and parsed with and without checksum checks.
 *
 * Invariants: no sanitizer report; a line never overruns its buffer,
 * is NUL-terminated, and the length returned is the length of the whole
 * line (what the full buffer holds, when it fits); a parse that succeeds
 * leaves its pointers inside the datagram.
 *
 *   ./build-fuzz/fuzz/fuzz_trace fuzz/corpus/trace
 * Seeds: fuzz/make_trace_seeds.py (IPv6 with extension headers, IPv4).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "observe/trace.h"
#include "synack/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = (data[0] & 1 ? SK_TRACE_ABSOLUTE_SEQ : 0) | (data[0] & 2 ? SK_TRACE_VERBOSE : 0);
    sk_trace *t = sk_trace_new(flags);
    if (!t)
        return 0;
    size_t i = 1;
    sk_time_ns now = 0;
    while (i + 2 <= size) {
        size_t n = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (n > size - i)
            n = size - i;
        /* A copy of exactly n bytes, so a read past the datagram is
         * caught by the sanitizer rather than landing in the input. */
        uint8_t *d = malloc(n ? n : 1);
        if (!d)
            break;
        memcpy(d, data + i, n);
        i += n;
        now += 1000;
        char line[SK_TRACE_LINE_MAX], tiny[8];
        size_t full = sk_trace_format_datagram(t, now, d, n, line, sizeof(line));
        if (strlen(line) >= sizeof(line) || (full < sizeof(line) && full != strlen(line)))
            abort();
        size_t cut = sk_trace_format_datagram(t, now, d, n, tiny, sizeof(tiny));
        if (strlen(tiny) >= sizeof(tiny) || cut < strlen(tiny))
            abort();
        for (int verify = 0; verify < 2; verify++) {
            sk_segment seg;
            if (sk_parse_segment(d, n, verify, &seg) != SK_PARSE_OK)
                continue;
            if (seg.l4_off > n || seg.ip_len > n || seg.options + seg.options_len > d + n ||
                seg.payload + seg.payload_len > d + n)
                abort();
        }
        free(d);
    }
    sk_trace_free(t);
    return 0;
}
