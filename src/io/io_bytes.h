/*
 * Loads and stores at any alignment for the I/O backends: network order
 * (big-endian) for IP and TCP headers, little-endian for the virtio-net
 * header (the legacy header is in the host's order, and TUN's users are
 * little-endian x86 and arm64), and the gathering of a stack's
 * scatter-gather pieces into one buffer.  One set for all of src/io.
 */
#ifndef SK_IO_BYTES_H
#define SK_IO_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "synack/synack.h"

static inline uint16_t io_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t io_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void io_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void io_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint16_t io_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline void io_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* A datagram handed over in pieces (sk_stack_params.transmitv), copied
 * once into `to`, which holds their total length. */
static inline void io_gather(uint8_t *to, const sk_iovec *iov, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        memcpy(to, iov[i].base, iov[i].len);
        to += iov[i].len;
    }
}

#endif
