/*
 * The TUN backend: a Linux TUN device carrying bare IPv4 datagrams
 * (IFF_TUN | IFF_NO_PI) between the kernel and a synack stack.
 *
 * Every call returns a negative errno on failure and writes a sentence
 * for a person into `err`, naming what was wrong and what to do.
 */
#ifndef SYNACK_TUN_H
#define SYNACK_TUN_H

#include "synack/export.h"

#include <stddef.h>
#include <stdint.h>

#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_tun_info {
    char name[16]; /* the interface name the kernel settled on (IFNAMSIZ) */
    uint16_t mtu;  /* the device's MTU, 0 if it could not be read          */
    unsigned flags; /* SK_TUN_* in effect: those asked for, and with
                       SK_TUN_VNET_HDR the offloads the kernel accepted   */
} sk_tun_info;

/* sk_tun_open_flags() flags, and sk_tun_info.flags. */
/* IFF_VNET_HDR: every read and write starts with a 10-byte virtio-net
 * header (struct virtio_net_hdr); sk_loop_params.flags SK_LOOP_VNET_HDR
 * tells the loop so.  The descriptor also asks for the offloads below. */
#define SK_TUN_VNET_HDR 0x1u
/* IFF_MULTI_QUEUE: each open attaches one more queue of the same device
 * (made with `ip tuntap add ... multi_queue`, or created by the first
 * open); the kernel steers each flow to one queue. */
#define SK_TUN_MULTI_QUEUE 0x2u
/* Reported only: the kernel completes the checksums synack leaves
 * partial, and marks what it sends (TUN_F_CSUM). */
#define SK_TUN_CSUM 0x4u
/* Reported only: the kernel may send TCP super-segments up to 64 KiB
 * (TUN_F_TSO4 / TUN_F_TSO6), which the stack takes whole, as from GRO. */
#define SK_TUN_TSO 0x8u

/* Opens /dev/net/tun and attaches to the TUN device `name`, creating it
 * when it does not exist (that needs CAP_NET_ADMIN) or attaching to one
 * made beforehand with `ip tuntap add dev NAME mode tun`.  The descriptor
 * is non-blocking and close-on-exec.  Returns it, or -errno:
 *   -EACCES/-EPERM  no permission (needs CAP_NET_ADMIN or root)
 *   -EBUSY          another process holds the device
 *   -EINVAL         `name` is empty, too long, or the device is not a TUN
 *   -ENOENT         /dev/net/tun is missing (no tun module)            */
SK_EXPORT int sk_tun_open(const char *name, sk_tun_info *info, char *err, size_t errlen);
/* The same with SK_TUN_VNET_HDR and/or SK_TUN_MULTI_QUEUE (0 is
 * sk_tun_open).  -EINVAL also when the device exists with a different
 * multi-queue setting. */
SK_EXPORT int sk_tun_open_flags(const char *name, unsigned flags, sk_tun_info *info, char *err, size_t errlen);

/* Parses "A.B.C.D" or "A.B.C.D/N" into a host-order address and prefix
 * length (32 when absent).  Returns 0 or -EINVAL, saying which part of
 * `text` is wrong. */
SK_EXPORT int sk_parse_ipv4_prefix(const char *text, uint32_t *addr, int *prefix, char *err, size_t errlen);

/* Parses "A.B.C.D:PORT" (port 1..65535).  Returns 0 or -EINVAL. */
SK_EXPORT int sk_parse_ipv4_endpoint(const char *text, sk_endpoint *ep, char *err, size_t errlen);

/* "10.77.0.2" into buf (at least 16 bytes). */
SK_EXPORT void sk_format_ipv4(uint32_t addr, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
