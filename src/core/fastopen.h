/*
 * TCP Fast Open (fastopen.c, RFC 7413) as Linux's tcp_fastopen.c.
 */
#ifndef SK_FASTOPEN_H
#define SK_FASTOPEN_H

#include "stack.h"

/* fastopen.c: TCP Fast Open (RFC 7413) as Linux's tcp_fastopen.c */
typedef struct sk_fo_cookie {
    int8_t len; /* -1 none, 0 request, else bytes */
    bool exp;
    uint8_t val[SK_TFO_COOKIE_MAX];
} sk_fo_cookie;
enum { SK_TFO_CLIENT_ENABLE = 1, SK_TFO_SERVER_ENABLE = 2, SK_TFO_CLIENT_NO_COOKIE = 4,
       SK_TFO_SERVER_COOKIE_NOT_REQD = 0x200, SK_TFO_SERVER_WO_SOCKOPT1 = 0x400 };
/* For IPv6: SipHash over both 16-byte addresses, as Linux's __tcp_fastopen_cookie_gen_cipher. */
void sk_fastopen_cookie_gen6(const uint8_t key[16], const uint8_t saddr[16], const uint8_t daddr[16], uint8_t out[8]);
/* A SYN at a listener: returns true when a Fast Open child should take it
 * (Linux's tcp_try_fastopen before tcp_fastopen_create_child); `foc` ends
 * as the cookie the SYN-ACK carries (len -1: none). */
bool sk_fastopen_try(sk_stack *s, sk_tcb *l, const sk_segment *seg, sk_fo_cookie *foc);
/* The child was created (true) or could not be (false): counters and queue. */
void sk_fastopen_child_created(sk_stack *s, sk_tcb *l, bool ok, bool alt_key, sk_fo_cookie *foc);
/* A Fast Open child leaves SYN_RECV or dies: its listener's pending count drops. */
void sk_fastopen_child_done(sk_stack *s, sk_tcb *t);
void sk_fastopen_listen(sk_stack *s, sk_tcb *t, int backlog, bool was_listening);
int sk_fastopen_setsockopt(sk_stack *s, sk_tcb *t, int name, const void *val, size_t len);
int sk_fastopen_getsockopt(sk_stack *s, sk_tcb *t, int name, void *val, size_t *len);
/* Client: the cookie to put in our SYN for t's destination; false when
 * the SYN should go without data (Linux's tcp_fastopen_cookie_check). */
bool sk_fastopen_cookie_check(sk_stack *s, sk_tcb *t, sk_fo_cookie *foc);
/* Client: a SYN-ACK arrived for a SYN that asked or used a cookie
 * (Linux's tcp_rcv_fastopen_synack); returns true when the SYN's data
 * must be sent again. */
bool sk_fastopen_synack(sk_stack *s, sk_tcb *t, const sk_segment *seg);
/* Client: our SYN timed out (tcp_fastopen_active_detect_blackhole and the
 * cookie cache's syn_loss). */
void sk_fastopen_syn_timeout(sk_stack *s, sk_tcb *t, bool expired);
uint16_t sk_fastopen_cached_mss(sk_stack *s, const sk_tcb *t);
void sk_fastopen_free(sk_stack *s);
/* A key for the stack: the sysctl's, or one made once from the stack's secret. */
const uint8_t *sk_fastopen_stack_key(sk_stack *s, int *count);

#endif
