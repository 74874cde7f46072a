/*
 * The control socket: how `synack ss`, `synack nstat`, `synack netstat -s`
 * and `synack sysctl` in another terminal see a stack living in this
 * process, as ss(8) sees the kernel.  Any program embedding synack can
 * expose its stacks this way:
 *
 *     sk_control *c = sk_control_open(NULL, "myapp", stack, err, sizeof err);
 *     ... wait for sk_control_fd(c) to be readable in the event loop ...
 *     sk_control_service(c);
 *     ...
 *     sk_control_close(c);
 *
 * and then `synack ss -N myapp -tan` lists its sockets.
 *
 * One Unix-domain stream socket per stack, NAME.sock, in the control
 * directory: $SYNACK_CONTROL_DIR if set, else $XDG_RUNTIME_DIR/synack if
 * XDG_RUNTIME_DIR is set and writable, else /run/synack (created 0700;
 * it must belong to the user).  The file is removed by sk_control_close.
 *
 * Every request is answered inside sk_control_service, from the stack,
 * without blocking: accept, read and write use non-blocking descriptors,
 * and a request that is not complete yet waits for the next call.  The
 * answer reads the stack (sockets, counters) and sysctl may write its
 * tunables, so sk_control_service must run on the thread that owns the
 * stack, between its sk_input/sk_advance calls, never inside a callback.
 */
#ifndef SYNACK_CONTROL_H
#define SYNACK_CONTROL_H

#include <stddef.h>

#include "synack/export.h"
#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SK_CONTROL_PATH_MAX 108 /* sizeof(sun_path) */
#define SK_CONTROL_DIR_ENV "SYNACK_CONTROL_DIR"

typedef struct sk_control sk_control;
typedef sk_time_ns (*sk_control_clock_fn)(void *ctx);

/* Opens NAME.sock in `dir` (NULL: the control directory above, created
 * if needed).  When a live process already holds that name, the socket
 * is NAME-PID.sock instead; a stale file (nobody answers) is replaced.
 * `stack` may be NULL until sk_control_set_stack.  Returns NULL with the
 * reason in err. */
SK_EXPORT sk_control *sk_control_open(const char *dir, const char *name, sk_stack *stack, char *err, size_t errlen);
/* Changes (or sets) the stack answered for; while it is NULL, requests
 * get "the stack of NAME is not running yet" and exit status 1. */
SK_EXPORT void sk_control_set_stack(sk_control *c, sk_stack *stack);
/* The clock timers are measured against (default: sk_now of the stack,
 * which in a real-time loop may lag between wakeups). */
SK_EXPORT void sk_control_set_clock(sk_control *c, sk_control_clock_fn clock, void *ctx);
/* One descriptor to wait on for reading (an epoll set holding the
 * listening socket and the connections); when it is readable, call
 * sk_control_service. */
SK_EXPORT int sk_control_fd(const sk_control *c);
/* Accepts, reads, answers and writes whatever is ready, without
 * blocking. */
SK_EXPORT void sk_control_service(sk_control *c);
/* The socket's path ("/run/user/1000/synack/myapp.sock"). */
SK_EXPORT const char *sk_control_path(const sk_control *c);
/* The stack's name as clients pick it with -N ("myapp"). */
SK_EXPORT const char *sk_control_name(const sk_control *c);
/* Closes every connection and removes the socket file; NULL is a no-op. */
SK_EXPORT void sk_control_close(sk_control *c);

#ifdef __cplusplus
}
#endif

#endif
