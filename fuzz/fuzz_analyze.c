/*
 * libFuzzer entry point for the capture analyzer's decoder and connection
 * tracker: the input's first byte picks a link type, the rest is cut into
 * frames by 2-byte big-endian lengths, each fed to ska_feed with a time
 * that may go backwards.  Then every live connection is retired and the
 * findings computed, so the whole path from bytes to findings runs.
 *
 *   ./build-fuzz/fuzz/fuzz_analyze fuzz/corpus/analyze
 *
 * Seeds: fuzz/make_analyze_seeds.py turns the kernel captures of
 * tests/data into this form.
 */
#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>

#include "analyze/analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
                               DLT_IPV4,   DLT_IPV6,      DLT_NULL,       DLT_LOOP};
    if (size < 1)
        return 0;
    ska_options o;
    ska_options_default(&o);
    o.short_min = 2;
    o.close_wait_secs = 0;
    ska *a = ska_new(&o);
    if (!a)
        return 0;
    int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
    size_t i = 1;
    int64_t t = 1700000000LL * 1000000000LL;
    while (i + 3 <= size) {
        size_t n = (size_t)data[i] << 8 | data[i + 1];
        /* The third byte moves the clock: mostly forward, sometimes back,
         * sometimes by minutes (to retire connections). */
        uint8_t dt = data[i + 2];
        t += dt < 200 ? (int64_t)dt * 1000000 : dt < 250 ? -(int64_t)(dt - 199) * 1000000 : (int64_t)dt * 1000000000LL;
        i += 3;
        if (n > size - i)
            n = size - i;
        ska_feed(a, dlt, t, data + i, n, n + (data[0] & 0x80 ? 100 : 0));
        i += n;
    }
    ska_finish(a);
    const ska_finding *f[SKA_NFINDINGS];
    (void)ska_get_findings(a, f, SKA_NFINDINGS);
    ska_free(a);
    return 0;
}
