/*
 * Recycle bins: small per-stack free lists that keep freed objects of one
 * size for reuse instead of returning them to the allocator.
 *
 * A bin is bounded (a cap per kind) and shrinks when idle: sk_recycle_trim,
 * run from sk_advance once a second, frees as many objects as the bin never
 * dipped below since the previous trim, since those were not needed.  A
 * stack that stops opening connections so gives its bins back within two
 * seconds, and memory figures count only live connections.
 */
#include "recycle.h"
#include "stack.h"

/* Under AddressSanitizer the bounded bins keep nothing, so that a use after
 * sk_tcb_free or a request's free still shows as one. */
#if defined(__SANITIZE_ADDRESS__)
#define SK_RECYCLE_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SK_RECYCLE_KEEP 0
#endif
#endif
#ifndef SK_RECYCLE_KEEP
#define SK_RECYCLE_KEEP 1
#endif

void *sk_recycle_take(const sk_stack *s, sk_recycle_bin *bin, size_t size)
{
    sk_recycled *o = bin->head;
    if (!o)
        return sk_calloc(s, 1, size);
    bin->head = o->next;
    bin->count--;
    if (bin->count < bin->low)
        bin->low = bin->count;
    memset(o, 0, size);
    return o;
}

void sk_recycle_give_max(const sk_stack *s, sk_recycle_bin *bin, void *obj, uint32_t max)
{
    if (!SK_RECYCLE_KEEP || bin->count >= max) {
        sk_free(s, obj);
        return;
    }
    sk_recycled *o = obj;
    o->next = bin->head;
    bin->head = o;
    bin->count++;
}

/* The same rule as sk_recycle_give_max, so the RACK and CUBIC bins keep
 * nothing under AddressSanitizer either (they did, hiding a use after
 * free of those records). */
void sk_recycle_give(const sk_stack *s, sk_recycle_bin *bin, void *obj)
{
    sk_recycle_give_max(s, bin, obj, SK_RECYCLE_MAX);
}

void sk_recycle_trim(const sk_stack *s, sk_recycle_bin *bin)
{
    for (uint32_t n = bin->low; n && bin->head; n--) {
        sk_recycled *o = bin->head;
        bin->head = o->next;
        bin->count--;
        sk_free(s, o);
    }
    bin->low = bin->count;
}

void sk_recycle_empty(const sk_stack *s, sk_recycle_bin *bin)
{
    while (bin->head) {
        sk_recycled *o = bin->head;
        bin->head = o->next;
        sk_free(s, o);
    }
    bin->count = 0;
    bin->low = 0;
}
