/*
 * The send-buffer memory model (sndbuf.c).
 */
#ifndef SK_SNDBUF_H
#define SK_SNDBUF_H

#include "stack.h"

/* sndbuf.c: send-buffer memory, after Linux's sk_wmem_queued/sk_sndbuf. */
void sk_meminfo(const sk_tcb *t, uint32_t out[SK_MEMINFO_VARS]);
bool sk_stream_memory_free(const sk_stack *s, const sk_tcb *t);
bool sk_stream_is_writeable(const sk_stack *s, const sk_tcb *t);
void sk_chrono_run(const sk_stack *s, sk_tcb *t, uint32_t *mark, uint8_t bit, bool on);
void sk_sndbuf_established(sk_stack *s, sk_tcb *t); /* tcp_init_buffer_space */
void sk_check_space(sk_stack *s, sk_tcb *t, bool head_fresh); /* tcp_check_space, after an ACK */
void sk_sndbuf_after_xmit(sk_stack *s, sk_tcb *t);
/* The end of tcp_write_xmit: the rwnd-limited chrono starts or stops.  The
 * test is inline because it runs after every burst and almost always
 * finds nothing to change. */
void sk_rwnd_chrono_update(sk_stack *s, sk_tcb *t, bool limited);
static inline void sk_rwnd_chrono(sk_stack *s, sk_tcb *t, bool limited)
{
    if (limited ? !(t->sndstate & SK_SND_LIMITED) : t->ext != NULL)
        sk_rwnd_chrono_update(s, t, limited);
}
uint32_t sk_chrono_ms(const sk_stack *s, const sk_tcb *t, uint32_t mark, uint8_t running);
/* Linux's tcp_xmit_size_goal: how big an skb of the send queue may be. */
uint32_t sk_size_goal(const sk_tcb *t);

#endif
