/*
 * Recycle bins: small per-stack free lists that keep freed objects of one
 * size for reuse instead of returning them to the allocator.
 */
#include "recycle.h"
#include "stack.h"

void *sk_recycle_take(const sk_stack *s, sk_recycle_bin *bin, size_t size)
{
    sk_recycled *o = bin->head;
    if (!o)
        return sk_calloc(s, 1, size);
    bin->head = o->next;
    bin->count--;
    memset(o, 0, size);
    return o;
}

void sk_recycle_give(const sk_stack *s, sk_recycle_bin *bin, void *obj)
{
    if (bin->count >= SK_RECYCLE_MAX) {
        sk_free(s, obj);
        return;
    }
    sk_recycled *o = obj;
    o->next = bin->head;
    bin->head = o;
    bin->count++;
}

void sk_recycle_empty(const sk_stack *s, sk_recycle_bin *bin)
{
    while (bin->head) {
        sk_recycled *o = bin->head;
        bin->head = o->next;
        sk_free(s, o);
    }
    bin->count = 0;
}
