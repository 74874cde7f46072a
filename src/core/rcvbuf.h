/*
 * The receive-buffer memory model (rcvbuf.c).
 */
#ifndef SK_RCVBUF_H
#define SK_RCVBUF_H

#include "stack.h"

/* rcvbuf.c: the receive-buffer memory model (Linux's sk_rmem_alloc
 * against sk_rcvbuf, tcp_grow_window, tcp_rcv_space_adjust, pruning). */
uint32_t sk_rcv_truesize(uint32_t len);
uint32_t sk_rmem_alloc(const sk_tcb *t);
uint32_t sk_full_space(const sk_stack *s, const sk_tcb *t);
uint32_t sk_rcv_initial_clamp(const sk_stack *s, const sk_tcb *t, uint32_t user_clamp);
bool sk_rmem_schedule(sk_stack *s, sk_tcb *t, uint32_t seq, uint32_t len, uint32_t truesize);
void sk_rcvq_charge(sk_tcb *t, uint32_t truesize);
void sk_rcvq_uncharge(sk_tcb *t, uint32_t consumed, uint32_t before);
void sk_grow_window(sk_stack *s, sk_tcb *t, uint32_t len, uint32_t truesize);
void sk_rcvbuf_established(sk_stack *s, sk_tcb *t);
void sk_rcv_rtt_on_data(sk_stack *s, sk_tcb *t, const sk_segment *seg, uint32_t len);
void sk_rcv_space_adjust(sk_stack *s, sk_tcb *t);
/* In-order data copied straight into a buffer posted by sk_recv_post
 * (socket.c); returns the bytes taken. */
uint32_t sk_recv_direct(sk_stack *s, sk_tcb *t, const uint8_t *data, uint32_t len);
uint32_t sk_rcvq_space(const sk_tcb *t);
/* The receive window (Linux's tcp_select_initial_window, tcp_space,
 * __tcp_select_window, tcp_select_window): what the buffer lets us offer. */
uint32_t sk_win_from_space(const sk_stack *s, uint32_t space);
void sk_init_rcv_window(sk_stack *s, uint32_t rcvbuf, uint16_t mss, bool ws_ok, uint32_t *rcv_wnd,
                        uint8_t *rcv_wscale, uint32_t *window_clamp);
uint32_t sk_receive_space(const sk_stack *s, const sk_tcb *t);
/* The window we would offer now (Linux's __tcp_select_window), bytes. */
uint32_t sk_compute_window(sk_stack *s, sk_tcb *t);
uint16_t sk_select_window(sk_stack *s, sk_tcb *t);

#endif
