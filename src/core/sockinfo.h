/*
 * TCP_INFO (sockinfo.c).
 */
#ifndef SK_SOCKINFO_H
#define SK_SOCKINFO_H

#include "stack.h"

void sk_fill_tcp_info(sk_stack *s, const sk_tcb *t, struct sk_tcp_info *ti);

#endif
