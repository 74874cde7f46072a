/*
 * Recycle bins (recycle.c): per-stack free lists of one object size.
 */
#ifndef SK_RECYCLE_H
#define SK_RECYCLE_H

#include "stack.h"

void *sk_recycle_take(const sk_stack *s, sk_recycle_bin *bin, size_t size);
void sk_recycle_give(const sk_stack *s, sk_recycle_bin *bin, void *obj);
void sk_recycle_give_max(const sk_stack *s, sk_recycle_bin *bin, void *obj, uint32_t max);
void sk_recycle_trim(const sk_stack *s, sk_recycle_bin *bin);
void sk_recycle_empty(const sk_stack *s, sk_recycle_bin *bin);

#endif
