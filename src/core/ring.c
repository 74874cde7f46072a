/*
 * Byte ring buffers for the send queue and the in-order receive queue.
 * Storage is allocated on first use and released when the queue drains,
 * so an idle connection holds no buffer memory at all.
 */

#include "stack.h"

static uint32_t round_pow2(uint32_t v)
{
    uint32_t p = 64;
    while (p < v && p < (1u << 31))
        p <<= 1;
    return p;
}

bool sk_ring_reserve(const sk_stack *s, sk_ring *r, uint32_t need)
{
    if (need <= r->cap)
        return true;
    uint32_t ncap = round_pow2(need);
    if (ncap < need)
        return false;
    uint8_t *nd = sk_malloc(s, ncap);
    if (!nd)
        return false;
    if (r->len)
        sk_ring_peek(r, 0, nd, r->len);
    sk_free(s, r->data);
    r->data = nd;
    r->cap = ncap;
    r->head = 0;
    return true;
}

uint32_t sk_ring_write(sk_ring *r, const void *src, uint32_t len)
{
    if (len > r->cap - r->len)
        len = r->cap - r->len;
    uint32_t tail = (r->head + r->len) & (r->cap - 1);
    uint32_t first = r->cap - tail < len ? r->cap - tail : len;
    memcpy(r->data + tail, src, first);
    memcpy(r->data, (const uint8_t *)src + first, len - first);
    r->len += len;
    return len;
}

uint32_t sk_ring_peek(const sk_ring *r, uint32_t off, void *dst, uint32_t len)
{
    if (off >= r->len)
        return 0;
    if (len > r->len - off)
        len = r->len - off;
    uint32_t start = (r->head + off) & (r->cap - 1);
    uint32_t first = r->cap - start < len ? r->cap - start : len;
    memcpy(dst, r->data + start, first);
    memcpy((uint8_t *)dst + first, r->data, len - first);
    return len;
}

void sk_ring_consume(sk_ring *r, uint32_t len)
{
    if (len > r->len)
        len = r->len;
    r->len -= len;
    r->head = r->len ? (r->head + len) & (r->cap - 1) : 0;
}

void sk_ring_free(const sk_stack *s, sk_ring *r)
{
    sk_free(s, r->data);
    r->data = NULL;
    r->cap = r->head = r->len = 0;
}

void sk_ring_drained(const sk_stack *s, sk_ring *r)
{
    if (r->len)
        return;
    if (r->cap <= 65536u)
        sk_ring_free(s, r);
    else
        r->head = 0;
}
