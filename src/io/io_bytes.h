/*
 * Loads and stores at any alignment for the I/O backends: network order
 * (big-endian) for IP and TCP headers, little-endian for the virtio-net
 * header (the legacy header is in the host's order, and TUN's users are
 * little-endian x86 and arm64).  One set for all of src/io.
 */
#ifndef SK_IO_BYTES_H
#define SK_IO_BYTES_H

#include <stdint.h>

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

#endif
