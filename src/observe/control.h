/*
 * The control socket: how `synack ss`, `synack nstat` and `synack sysctl`
 * in one terminal see a stack living in another process, as ss sees the
 * kernel.
 *
 * Every long-running synack process opens one Unix-domain stream socket
 * per stack, NAME.sock, in the control directory:
 *   $SYNACK_CONTROL_DIR if set (tests), else $XDG_RUNTIME_DIR/synack if
 *   XDG_RUNTIME_DIR is set and writable, else /run/synack
 * (created 0700, and it must belong to the user).  The file is removed
 * when the process closes it.
 *
 * Protocol, one request per connection.  The client sends one line of
 * shell-like words (double or single quotes, backslash escapes):
 *   ss ARGS | nstat [-z] [--json] [PATTERN...] | netstat -s |
 *   sysctl ARGS | counters | info | help
 * The server answers with records and closes:
 *   "O <len>\n" <len bytes of standard output>
 *   "E <len>\n" <len bytes of standard error>
 *   "X <status>\n"                      the exit status
 * Everything is computed inside the process, from its stack, between the
 * event loop's other work: accept, read and write never block.
 */
#ifndef SYNACK_OBSERVE_CONTROL_H
#define SYNACK_OBSERVE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "synack-io/control.h"
#include "synack/synack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The server side is the public API: synack-io/control.h. */

/* ---- client ------------------------------------------------------- */

typedef struct sk_control_entry {
    char name[64];
    char path[SK_CONTROL_PATH_MAX];
} sk_control_entry;

/* The stacks that answer, from every directory a client searches
 * ($SYNACK_CONTROL_DIR alone if set; else $XDG_RUNTIME_DIR/synack and
 * /run/synack), sorted by name.  *out is malloc'd.  Returns the count. */
size_t sk_control_list(sk_control_entry **out);
/* The same, and when a directory or socket refused this user (EACCES:
 * a stack run by another user), a sentence saying so in `denied` (""
 * when nothing refused). */
size_t sk_control_scan(sk_control_entry **out, char *denied, size_t denied_cap);
/* Picks the socket for `want` (NULL: the only one running): a path if it
 * contains '/', else a name, NAME.sock, or an unambiguous prefix.
 * Returns 0, or -1 with a sentence in err that lists what runs, or says
 * permission was denied where a stack of another user may run. */
int sk_control_find(const char *want, char *path, size_t cap, char *err, size_t errlen);

typedef struct sk_control_reply {
    char *out, *err; /* NUL-terminated, malloc'd */
    size_t out_len, err_len;
    int status;
} sk_control_reply;

/* Sends argv as one request to the socket at `path` and reads the whole
 * reply (5 s timeout).  Returns 0, or -errno with the reason in msg. */
int sk_control_call(const char *path, int argc, char *const *argv, sk_control_reply *reply, char *msg, size_t msglen);
void sk_control_reply_free(sk_control_reply *reply);

/* The request line for argv (the client's quoting); -EINVAL if an
 * argument holds a newline or the line would not fit in `cap`. */
int sk_control_encode(int argc, char *const *argv, char *line, size_t cap);
/* Splits a request line into words (in place); returns the count, or -1
 * on an unterminated quote or more than `max` words. */
int sk_control_split(char *line, char **words, int max);

#ifdef __cplusplus
}
#endif

#endif
