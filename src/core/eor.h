/*
 * The per-connection extension sk_tcb_ext and MSG_EOR record ends (eor.c).
 */
#ifndef SK_EOR_H
#define SK_EOR_H

#include "stack.h"

/* eor.c: sk_tcb_ext and MSG_EOR record ends */
sk_tcb_ext *sk_tcb_ext_get(const sk_stack *s, sk_tcb *t);
void sk_tcb_ext_free(const sk_stack *s, sk_tcb *t);
static inline int sk_linger_s(const sk_tcb *t) { return t->ext ? t->ext->linger_s : -1; }
static inline uint32_t sk_notsent_lowat_opt(const sk_tcb *t) { return t->ext ? t->ext->notsent_lowat : 0; }
bool sk_eor_reserve(const sk_stack *s, sk_tcb *t); /* room for one more sk_eor_mark */
void sk_eor_mark(sk_tcb *t, uint32_t end);
bool sk_eor_tail_closed(sk_tcb *t, uint32_t data_end); /* a record ends at data_end */
/* The record ends around seq: the last at or below it (*prev, when
 * *has_prev) and, returned true, the first above it (*next). */
bool sk_eor_around(sk_tcb *t, uint32_t seq, uint32_t *prev, bool *has_prev, uint32_t *next);
uint32_t sk_eor_clip(sk_tcb *t, uint32_t seq, uint32_t len); /* len cut at the next record end */
bool sk_eor_is_end(sk_tcb *t, uint32_t seq);
/* Segments [from, to) takes when no segment spans a record end */
uint32_t sk_eor_segs(sk_tcb *t, uint32_t from, uint32_t to, uint32_t mss);

#endif
