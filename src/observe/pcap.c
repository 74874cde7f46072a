/*
 * pcap writer: libpcap's dumper when available, else a built-in writer of
 * the classic format (a 24-byte file header, then a 16-byte header per
 * record, all in the writer's byte order, which readers detect from the
 * magic number).  Both produce identical bytes.
 */
#include "observe/pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SYNACK_HAVE_PCAP
#include <pcap/pcap.h>
#endif

#define PCAP_FILE_HEADER_LEN 24u
#define PCAP_RECORD_HEADER_LEN 16u
#define PCAP_MAGIC_USEC 0xa1b2c3d4u

struct sk_pcap {
    FILE *file; /* built-in writer */
#ifdef SYNACK_HAVE_PCAP
    pcap_t *dead;
    pcap_dumper_t *dumper;
#endif
    uint64_t max_bytes;
    uint64_t bytes;
    uint64_t packets;
    uint64_t dropped;
    bool limit_reached;
    bool failed;
};

static void set_err(char *err, size_t errlen, const char *what, const char *path, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "%s %s: %s", what, path, why);
}

static bool builtin_open(sk_pcap *p, const char *path, char *err, size_t errlen)
{
    p->file = fopen(path, "wb");
    if (!p->file) {
        set_err(err, errlen, "cannot create", path, strerror(errno));
        return false;
    }
    uint32_t magic = PCAP_MAGIC_USEC;
    uint16_t major = 2, minor = 4;
    int32_t thiszone = 0;
    uint32_t sigfigs = 0, snaplen = SK_PCAP_SNAPLEN, linktype = SK_PCAP_LINKTYPE_RAW;
    uint8_t hdr[PCAP_FILE_HEADER_LEN];
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, &major, 2);
    memcpy(hdr + 6, &minor, 2);
    memcpy(hdr + 8, &thiszone, 4);
    memcpy(hdr + 12, &sigfigs, 4);
    memcpy(hdr + 16, &snaplen, 4);
    memcpy(hdr + 20, &linktype, 4);
    if (fwrite(hdr, 1, sizeof(hdr), p->file) != sizeof(hdr)) {
        set_err(err, errlen, "cannot write", path, strerror(errno));
        fclose(p->file);
        p->file = NULL;
        return false;
    }
    return true;
}

#ifdef SYNACK_HAVE_PCAP
static bool libpcap_open(sk_pcap *p, const char *path, char *err, size_t errlen)
{
    /* DLT_RAW is written to the file as LINKTYPE_RAW (101). */
    int dlt = DLT_RAW;
    p->dead = pcap_open_dead_with_tstamp_precision(dlt, (int)SK_PCAP_SNAPLEN,
                                                   PCAP_TSTAMP_PRECISION_MICRO);
    if (!p->dead) {
        set_err(err, errlen, "cannot create", path, "pcap_open_dead failed");
        return false;
    }
    p->dumper = pcap_dump_open(p->dead, path);
    if (!p->dumper) {
        set_err(err, errlen, "cannot create", path, pcap_geterr(p->dead));
        pcap_close(p->dead);
        p->dead = NULL;
        return false;
    }
    return true;
}
#endif

sk_pcap *sk_pcap_open(const char *path, const sk_pcap_options *opts, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path || !path[0]) {
        set_err(err, errlen, "cannot create", "capture file", "no path given");
        return NULL;
    }
    sk_pcap_options o = {0};
    if (opts)
        o = *opts;
    if (o.max_bytes != 0 && o.max_bytes < PCAP_FILE_HEADER_LEN) {
        set_err(err, errlen, "cannot create", path, "size limit is smaller than the 24-byte file header");
        return NULL;
    }
    sk_pcap *p = calloc(1, sizeof(*p));
    if (!p) {
        set_err(err, errlen, "cannot create", path, "out of memory");
        return NULL;
    }
    p->max_bytes = o.max_bytes;
    bool ok;
#ifdef SYNACK_HAVE_PCAP
    ok = o.builtin_writer ? builtin_open(p, path, err, errlen) : libpcap_open(p, path, err, errlen);
#else
    ok = builtin_open(p, path, err, errlen);
#endif
    if (!ok) {
        free(p);
        return NULL;
    }
    p->bytes = PCAP_FILE_HEADER_LEN;
    return p;
}

int sk_pcap_write(sk_pcap *p, sk_time_ns now, const uint8_t *datagram, size_t len)
{
    if (!p)
        return -EINVAL;
    if (p->failed) {
        p->dropped++;
        return -EIO;
    }
    if (p->limit_reached) {
        p->dropped++;
        return -ENOSPC;
    }
    if (!datagram)
        len = 0;
    uint32_t caplen = len > SK_PCAP_SNAPLEN ? SK_PCAP_SNAPLEN : (uint32_t)len;
    uint64_t record = PCAP_RECORD_HEADER_LEN + (uint64_t)caplen;
    if (p->max_bytes != 0 && p->bytes + record > p->max_bytes) {
        /* Like tcpdump -C, the limit is checked before a record so the file
         * never holds half of one; unlike -C nothing rotates: we stop. */
        p->limit_reached = true;
        p->dropped++;
        return -ENOSPC;
    }
    uint32_t ts_sec = (uint32_t)(now / SK_NSEC_PER_SEC);
    uint32_t ts_usec = (uint32_t)(now % SK_NSEC_PER_SEC / SK_NSEC_PER_USEC);
    uint32_t orig_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
#ifdef SYNACK_HAVE_PCAP
    if (p->dumper) {
        struct pcap_pkthdr h;
        memset(&h, 0, sizeof(h));
        h.ts.tv_sec = (time_t)ts_sec;
        h.ts.tv_usec = (suseconds_t)ts_usec;
        h.caplen = caplen;
        h.len = orig_len;
        pcap_dump((u_char *)p->dumper, &h, datagram);
        if (ferror(pcap_dump_file(p->dumper))) {
            p->failed = true;
            p->dropped++;
            return -EIO;
        }
        p->bytes += record;
        p->packets++;
        return 0;
    }
#endif
    uint32_t rec[4] = {ts_sec, ts_usec, caplen, orig_len};
    if (fwrite(rec, 1, sizeof(rec), p->file) != sizeof(rec) ||
        (caplen && fwrite(datagram, 1, caplen, p->file) != caplen)) {
        p->failed = true;
        p->dropped++;
        return -EIO;
    }
    p->bytes += record;
    p->packets++;
    return 0;
}

bool sk_pcap_limit_reached(const sk_pcap *p)
{
    return p && p->limit_reached;
}

uint64_t sk_pcap_bytes_written(const sk_pcap *p)
{
    return p ? p->bytes : 0;
}

uint64_t sk_pcap_packets_written(const sk_pcap *p)
{
    return p ? p->packets : 0;
}

uint64_t sk_pcap_packets_dropped(const sk_pcap *p)
{
    return p ? p->dropped : 0;
}

int sk_pcap_close(sk_pcap *p)
{
    if (!p)
        return 0;
    bool failed = p->failed;
#ifdef SYNACK_HAVE_PCAP
    if (p->dumper) {
        if (pcap_dump_flush(p->dumper) != 0)
            failed = true;
        pcap_dump_close(p->dumper);
        pcap_close(p->dead);
    }
#endif
    if (p->file) {
        if (fflush(p->file) != 0 || ferror(p->file))
            failed = true;
        if (fclose(p->file) != 0)
            failed = true;
    }
    free(p);
    return failed ? -EIO : 0;
}
