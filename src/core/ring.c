/*
 * Byte ring buffers for the send queue and the in-order receive queue.
 * Storage is allocated on first use and released when the queue drains,
 * so an idle connection holds no buffer memory at all.
 */

#include "recycle.h"
#include "stack.h"

/* The smallest buffers (a request or reply of up to 64 bytes, the common
 * case of request/response traffic) go through a per-stack bin rather
 * than malloc and free on every exchange.  It is bounded as the request
 * bin is (stack.h): 8, plus as many as the TCB bin holds, up to 256. */
#define RING_SMALL 64u

static uint8_t *ring_alloc(const sk_stack *s, uint32_t cap)
{
    if (cap == RING_SMALL) {
        sk_stack *m = (sk_stack *)s;
        sk_recycled *o = m->ring_bin.head;
        if (o) {
            m->ring_bin.head = o->next;
            if (--m->ring_bin.count < m->ring_bin.low)
                m->ring_bin.low = m->ring_bin.count;
            return (uint8_t *)o;
        }
    }
    return sk_malloc(s, cap);
}

static void ring_release(const sk_stack *s, uint8_t *data, uint32_t cap)
{
    if (cap != RING_SMALL) {
        sk_free(s, data);
        return;
    }
    sk_stack *m = (sk_stack *)s;
    uint32_t max = SK_RECYCLE_REQ_MAX + m->tcb_bin.count;
    sk_recycle_give_max(s, &m->ring_bin, data, max < SK_RECYCLE_TCB_MAX ? max : SK_RECYCLE_TCB_MAX);
}

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
    uint8_t *nd = ring_alloc(s, ncap);
    if (!nd)
        return false;
    if (r->len)
        sk_ring_peek(r, 0, nd, r->len);
    if (r->data)
        ring_release(s, r->data, r->cap);
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
    if (r->data)
        ring_release(s, r->data, r->cap);
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

unsigned sk_ring_pieces(const sk_ring *r, uint32_t off, uint32_t len, sk_iovec out[2])
{
    if (off >= r->len || !len)
        return 0;
    if (len > r->len - off)
        len = r->len - off;
    uint32_t start = (r->head + off) & (r->cap - 1);
    uint32_t first = r->cap - start < len ? r->cap - start : len;
    out[0].base = r->data + start;
    out[0].len = first;
    if (first == len)
        return 1;
    out[1].base = r->data;
    out[1].len = len - first;
    return 2;
}
