/*
 * Big-endian (network order) loads and stores at any alignment: the one
 * set the core's parsers and builders share.
 */
#ifndef SK_BYTES_H
#define SK_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t sk_get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t sk_get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The stores as one swap and one unaligned store where the compiler says
 * the byte order: GCC's store merging turns the byte-wise form into a
 * long shift-and-or chain when two stores are adjacent (35 instructions
 * for a timestamp option's two words instead of 6). */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline void sk_put_be16(uint8_t *p, uint16_t v)
{
    v = __builtin_bswap16(v);
    memcpy(p, &v, 2);
}

static inline void sk_put_be32(uint8_t *p, uint32_t v)
{
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
}
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
static inline void sk_put_be16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void sk_put_be32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
#else
static inline void sk_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void sk_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
#endif

#endif
