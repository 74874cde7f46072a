/*
 * System calls of packetdrill scripts mapped onto synack's socket API.
 *
 * Script fds are the numbers the script gives them and map to synack
 * handles.  synack's calls never block; a call
 * on a socket without O_NONBLOCK that would block becomes a pending call
 * retried after every step of the stack, the way packetdrill's syscall
 * thread sleeps in the kernel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script/names.h"
#include "script/run_internal.h"

#define SK_EAGAIN 11
#define SK_EBADF 9
#define SK_EFAULT 14
#define SK_EINVAL 22
#define SK_EMFILE 24
#define SK_ENOTSOCK 88
#define SK_ENOPROTOOPT 92
#define SK_EOPNOTSUPP 95
#define SK_EISCONN 106
#define SK_EALREADY 114
#define SK_EINPROGRESS 115

#define LINUX_O_RDWR 2
#define LINUX_O_NONBLOCK 0x800
#define LINUX_MSG_DONTWAIT 0x40
#define LINUX_MSG_FASTOPEN 0x20000000

/* ------------------------------------------------------------------ */
/* Expressions                                                          */
/* ------------------------------------------------------------------ */

static bool eval_int(sk_runner *r, const sk_script_expr *e, int64_t *out)
{
    switch (e->kind) {
    case SK_SEXPR_INT: *out = e->num; return true;
    case SK_SEXPR_NAME:
        if (sk_script_constant(e->text, out))
            return true;
        sk_run_skip(r, "unknown constant %s", e->text);
        return false;
    case SK_SEXPR_BINARY: {
        int64_t a, b;
        if (!eval_int(r, e->lhs, &a) || !eval_int(r, e->rhs, &b))
            return false;
        *out = e->op == '&' ? (a & b) : (a | b);
        return true;
    }
    case SK_SEXPR_LIST:
        if (e->count == 1)
            return eval_int(r, e->items[0], out);
        break;
    default: break;
    }
    sk_run_fail(r, "expected an integer expression at column %d", e->col);
    return false;
}

static const sk_script_expr *arg(const sk_script_syscall *sc, size_t i)
{
    return i < sc->arg_count ? sc->args[i] : NULL;
}

static bool need_args(sk_runner *r, const sk_script_syscall *sc, size_t n)
{
    if (sc->arg_count >= n)
        return true;
    sk_run_fail(r, "%s() needs %zu arguments, got %zu", sc->name, n, sc->arg_count);
    return false;
}

static bool arg_int(sk_runner *r, const sk_script_syscall *sc, size_t i, int64_t *out)
{
    return need_args(r, sc, i + 1) && eval_int(r, sc->args[i], out);
}

static bool is_null(const sk_script_expr *e)
{
    return e && ((e->kind == SK_SEXPR_NAME && strcmp(e->text, "NULL") == 0) ||
                 (e->kind == SK_SEXPR_INT && e->num == 0));
}

static const sk_script_expr *field(const sk_script_expr *st, const char *name)
{
    if (!st || st->kind != SK_SEXPR_STRUCT)
        return NULL;
    for (size_t i = 0; i < st->count; i++)
        if (st->items[i]->kind == SK_SEXPR_FIELD && strcmp(st->items[i]->text, name) == 0)
            return st->items[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* File descriptors                                                     */
/* ------------------------------------------------------------------ */

/* packetdrill maps the fd a script names ("socket(...) = 4") to whatever
 * the kernel returned, so the script's number is taken when it is free;
 * otherwise the lowest free one from 3, as a process would get. */
static int alloc_fd(sk_runner *r, sk_run_fd_kind kind, int handle, const sk_script_syscall *sc)
{
    int64_t want;
    if (sc->ret->kind == SK_SEXPR_INT && !sc->errno_name) {
        want = sc->ret->num;
        /* A number still in use is taken over, as packetdrill's newest
         * socket shadows an older one with the same script fd (the old
         * socket stays open, out of the script's reach). */
        if (want >= 3 && want < SK_RUN_MAX_FDS) {
            memset(&r->fds[want], 0, sizeof(r->fds[want]));
            r->fds[want].kind = kind;
            r->fds[want].handle = handle;
            return (int)want;
        }
    }
    for (int fd = 3; fd < SK_RUN_MAX_FDS; fd++) {
        if (r->fds[fd].kind == SK_FD_FREE) {
            memset(&r->fds[fd], 0, sizeof(r->fds[fd]));
            r->fds[fd].kind = kind;
            r->fds[fd].handle = handle;
            return fd;
        }
    }
    return -SK_EMFILE;
}

static sk_run_fd *sock_fd(sk_runner *r, int64_t fd)
{
    if (fd < 0 || fd >= SK_RUN_MAX_FDS || r->fds[fd].kind != SK_FD_SOCKET)
        return NULL;
    return &r->fds[fd];
}

static int fd_of_handle(const sk_runner *r, int handle)
{
    for (int fd = 3; fd < SK_RUN_MAX_FDS; fd++)
        if (r->fds[fd].kind == SK_FD_SOCKET && r->fds[fd].handle == handle)
            return fd;
    return -1;
}

void sk_run_on_ready(sk_runner *r, int handle)
{
    int fd = fd_of_handle(r, handle);
    if (fd < 0)
        return;
    for (int e = 3; e < SK_RUN_MAX_FDS; e++) {
        if (r->fds[e].kind != SK_FD_EPOLL)
            continue;
        for (size_t i = 0; i < r->fds[e].reg_count; i++)
            if (r->fds[e].regs[i].fd == fd)
                r->fds[e].regs[i].pending = true;
    }
}

/* ------------------------------------------------------------------ */
/* Results                                                              */
/* ------------------------------------------------------------------ */

static void describe_result(int64_t v, char *buf, size_t cap)
{
    if (v < 0)
        snprintf(buf, cap, "-1 %s", sk_script_errno_text((int)-v));
    else
        snprintf(buf, cap, "%lld", (long long)v);
}

/* Compares a call's result (>= 0, or -errno) with "= ret [ERRNO]". */
static bool check_result(sk_runner *r, const sk_script_syscall *sc, int64_t got)
{
    int64_t want;
    if (!eval_int(r, sc->ret, &want))
        return false;
    char gbuf[64], wbuf[64];
    describe_result(got, gbuf, sizeof(gbuf));
    if (want == -1 || sc->errno_name) {
        int want_errno = 0;
        if (sc->errno_name && !sk_script_errno_value(sc->errno_name, &want_errno)) {
            sk_run_skip(r, "unknown errno name %s", sc->errno_name);
            return false;
        }
        snprintf(wbuf, sizeof(wbuf), "-1 %s", sc->errno_name ? sc->errno_name : "(any errno)");
        if (got < 0 && (!sc->errno_name || -got == want_errno))
            return true;
    } else {
        describe_result(want, wbuf, sizeof(wbuf));
        if (got == want)
            return true;
    }
    sk_run_fail(r, "%s() expected = %s, got = %s", sc->name, wbuf, gbuf);
    return false;
}

/* ------------------------------------------------------------------ */
/* Operations that may block                                            */
/* ------------------------------------------------------------------ */

static void *scratch(size_t len)
{
    return calloc(1, len ? len : 1);
}

static int64_t do_send(sk_runner *r, sk_run_fd *f, size_t len, int flags)
{
    void *buf = scratch(len);
    if (!buf)
        return -12;
    int64_t n = r->be->send(r, f->handle, buf, len, flags & ~LINUX_MSG_DONTWAIT);
    free(buf);
    return n;
}

static int64_t do_recv(sk_runner *r, sk_run_fd *f, size_t len, int flags)
{
    void *buf = scratch(len);
    if (!buf)
        return -12;
    int64_t n = r->be->recv(r, f->handle, buf, len, flags & ~LINUX_MSG_DONTWAIT);
    free(buf);
    return n;
}

/* recvmsg's msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ,
 * cmsg_data=N}]: after the read, the socket (TCP_INQ set) reports N
 * bytes still to read (tcp_inq_hint).  Other control messages are not
 * something synack produces: the script is skipped.  Returns false when
 * the run stopped (failed or skipped). */
static bool check_recvmsg_control(sk_runner *r, const sk_script_syscall *sc, sk_run_fd *f)
{
    const sk_script_expr *ctl = field(sc->args[1], "msg_control");
    if (!ctl)
        return true;
    if (ctl->rhs->kind != SK_SEXPR_LIST) {
        sk_run_fail(r, "recvmsg() expects msg_control=[{cmsg_level=..., cmsg_type=..., cmsg_data=...}]");
        return false;
    }
    for (size_t i = 0; i < ctl->rhs->count; i++) {
        const sk_script_expr *c = ctl->rhs->items[i];
        const sk_script_expr *lv = field(c, "cmsg_level"), *ty = field(c, "cmsg_type"), *da = field(c, "cmsg_data");
        int64_t level, type, want;
        if (!lv || !ty || !da || !eval_int(r, lv->rhs, &level) || !eval_int(r, ty->rhs, &type))
            return false;
        if (level != SK_IPPROTO_TCP || type != SK_TCP_INQ) {
            sk_run_skip(r, "recvmsg() control message level %lld type %lld", (long long)level, (long long)type);
            return false;
        }
        int on = 0;
        size_t olen = sizeof on;
        if (r->be->getsockopt(r, f->handle, SK_IPPROTO_TCP, SK_TCP_INQ, &on, &olen) != 0 || !on) {
            sk_run_fail(r, "recvmsg() expected a TCP_CM_INQ control message, but TCP_INQ is off");
            return false;
        }
        if (!eval_int(r, da->rhs, &want))
            return false;
        int64_t got = r->be->inq_hint(r, f->handle);
        if (got != want) {
            sk_run_fail(r, "recvmsg() TCP_CM_INQ expected %lld, got %lld", (long long)want, (long long)got);
            return false;
        }
    }
    return true;
}

/* Evaluates poll(2)'s [{fd, events, revents}] list; returns the count of
 * entries with events and writes each revents. */
static int run_poll(sk_runner *r, const sk_script_expr *list, int *revents, size_t cap, size_t *count)
{
    int ready = 0, fds[64] = {0}, evs[64] = {0};
    *count = 0;
    if (!list || list->kind != SK_SEXPR_LIST) {
        sk_run_fail(r, "poll() expects a [{fd=..., events=..., revents=...}] list");
        return -1;
    }
    for (size_t i = 0; i < list->count && i < cap; i++) {
        const sk_script_expr *fd_e = field(list->items[i], "fd"), *ev_e = field(list->items[i], "events");
        int64_t fd, events;
        if (!fd_e || !ev_e || !eval_int(r, fd_e->rhs, &fd) || !eval_int(r, ev_e->rhs, &events)) {
            if (!r->done)
                sk_run_fail(r, "poll() entry %zu lacks fd= or events=", i + 1);
            return -1;
        }
        fds[i] = (int)fd;
        evs[i] = (int)events;
        (*count)++;
    }
    r->be->poll(r, fds, evs, revents, *count);
    for (size_t i = 0; i < *count; i++)
        if (revents[i])
            ready++;
    return ready;
}

/* ------------------------------------------------------------------ */
/* Completion of a call                                                 */
/* ------------------------------------------------------------------ */

static void check_epoll_result(sk_runner *r, const sk_script_syscall *sc, int n, uint32_t events, uint64_t data)
{
    if (!check_result(r, sc, n) || n <= 0)
        return;
    const sk_script_expr *st = arg(sc, 1);
    const sk_script_expr *ev_e = field(st, "events"), *fd_e = field(st, "fd");
    if (!fd_e)
        fd_e = field(st, "u64");
    if (!fd_e)
        fd_e = field(st, "ptr");
    int64_t want_ev, want_fd;
    if (ev_e) {
        if (!eval_int(r, ev_e->rhs, &want_ev))
            return;
        if ((uint32_t)want_ev != events) {
            sk_run_fail(r, "epoll_wait() expected events=0x%x, got events=0x%x", (unsigned)want_ev, events);
            return;
        }
    }
    if (fd_e && fd_e->rhs->kind != SK_SEXPR_ELLIPSIS) {
        if (!eval_int(r, fd_e->rhs, &want_fd))
            return;
        if ((uint64_t)want_fd != data)
            sk_run_fail(r, "epoll_wait() expected fd=%lld, got fd=%llu", (long long)want_fd,
                        (unsigned long long)data);
    }
}

static void check_poll_result(sk_runner *r, const sk_script_syscall *sc, int n, const int *revents, size_t count)
{
    if (!check_result(r, sc, n))
        return;
    const sk_script_expr *list = arg(sc, 0);
    for (size_t i = 0; i < count; i++) {
        const sk_script_expr *re = field(list->items[i], "revents");
        int64_t want;
        if (!re)
            continue;
        if (!eval_int(r, re->rhs, &want))
            return;
        if (want != revents[i]) {
            sk_run_fail(r, "poll() entry %zu expected revents=0x%x, got revents=0x%x", i + 1, (unsigned)want,
                        (unsigned)revents[i]);
            return;
        }
    }
}

/* Attempts the pending call once.  Returns true when it completed (and
 * was checked). */
static bool attempt(sk_runner *r, sk_run_pending *p, bool final)
{
    const sk_script_syscall *sc = &p->ev->syscall;
    sk_run_fd *f = sock_fd(r, p->fd);
    int64_t res = 0;
    bool started = p->started;
    p->started = true;
    p->in_flight = false;
    switch (p->op) {
    case SK_OP_NONE: return true;
    case SK_OP_ACCEPT: {
        if (!f) {
            res = -SK_EBADF;
            break;
        }
        sk_endpoint peer;
        r->call = p;
        int h = r->be->accept(r, f->handle, &peer);
        r->call = NULL;
        if (p->in_flight)
            return false;
        if (h == -SK_EAGAIN && !final)
            return false;
        if (h >= 0) {
            int fd = alloc_fd(r, SK_FD_SOCKET, h, sc);
            if (fd >= 0)
                r->info_fd = fd;
            res = fd;
        } else {
            res = h;
        }
        break;
    }
    case SK_OP_CONNECT: {
        if (!f) {
            res = -SK_EBADF;
            break;
        }
        sk_endpoint remote = sk_run_remote_ep(r, SK_RUN_REMOTE_PORT);
        r->call = p;
        int c = r->be->connect(r, f->handle, &remote);
        r->call = NULL;
        if (p->in_flight)
            return false;
        if ((c == -SK_EALREADY || c == -SK_EINPROGRESS) && !final)
            return false;
        res = c == -SK_EISCONN ? 0 : c;
        break;
    }
    case SK_OP_READ:
        if (!f) {
            res = -SK_EBADF;
            break;
        }
        r->call = p;
        res = do_recv(r, f, p->len, p->flags);
        r->call = NULL;
        if (p->in_flight)
            return false;
        if (res == -SK_EAGAIN && !final)
            return false;
        if (res >= 0 && strcmp(sc->name, "recvmsg") == 0 && !check_recvmsg_control(r, sc, f))
            return true;
        break;
    case SK_OP_WRITE:
        if (!f) {
            res = -SK_EBADF;
            break;
        }
        /* A writer blocked in sk_stream_wait_memory() is woken only once
         * the socket is writable as poll() reports it (Linux's
         * sk_stream_is_writeable: free space >= half what is queued), not
         * by every byte acknowledged. */
        if ((started || p->await_conn) && !final && !p->threaded) {
            int fd = p->fd, want = SK_POLLOUT, got = 0;
            r->be->poll(r, &fd, &want, &got, 1);
            if (!(got & (SK_POLLOUT | (p->await_conn ? SK_POLLERR | SK_POLLHUP : 0))))
                return false;
        }
        if (p->whole_sendto) {
            void *buf = scratch(p->len);
            sk_endpoint remote = sk_run_remote_ep(r, SK_RUN_REMOTE_PORT);
            r->call = p;
            int64_t n = r->be->sendto(r, f->handle, buf, p->len, p->flags, &remote, p->family);
            r->call = NULL;
            free(buf);
            if (p->in_flight)
                return false;
            res = n;
            goto complete;
        }
        if (p->await_conn) {
            if (r->be->write_waiting)
                r->be->write_waiting(r, f->handle, false);
            /* The handshake of a MSG_FASTOPEN write ended: a refused or
             * reset connection fails the whole call, data in the SYN or
             * not (tcp_sendmsg_fastopen returns the connect error). */
            int err = 0;
            size_t elen = sizeof err;
            if (r->be->getsockopt(r, f->handle, 1 /* SOL_SOCKET */, 4 /* SO_ERROR */, &err, &elen) == 0 && err) {
                res = -err; /* consumed, as sock_error() consumes it */
                goto complete;
            }
            p->await_conn = false;
        }
        while (p->done < p->len) {
            r->call = p;
            int64_t n = do_send(r, f, p->len - p->done, p->flags);
            r->call = NULL;
            if (p->in_flight)
                return false;
            if (n > 0) {
                p->done += (size_t)n;
                continue;
            }
            if (n == -SK_EAGAIN && !final) {
                /* Asleep in sk_stream_wait_connect or _wait_memory, a
                 * writer counts in Linux's sk_write_pending: while the
                 * handshake runs, the SYN-ACK's ACK waits for its data. */
                if (r->be->write_waiting && !p->waiting) {
                    r->be->write_waiting(r, f->handle, true);
                    p->waiting = true;
                }
                return false;
            }
            if (n < 0 && p->done == 0) {
                res = n;
                break;
            }
            res = (int64_t)p->done;
            break;
        }
        if (p->done >= p->len)
            res = (int64_t)p->done;
        if (p->waiting && r->be->write_waiting)
            r->be->write_waiting(r, f->handle, false);
        break;
    case SK_OP_POLL: {
        int revents[64];
        size_t count;
        r->call = p;
        int n = run_poll(r, arg(sc, 0), revents, 64, &count);
        r->call = NULL;
        if (n < 0)
            return true;
        if (p->in_flight)
            return false;
        if (n == 0 && !final && r->now < p->timeout_at)
            return false;
        r->pending.op = SK_OP_NONE;
        check_poll_result(r, sc, n, revents, count);
        goto timing;
    }
    case SK_OP_EPOLL_WAIT: {
        int64_t maxev;
        if (!eval_int(r, arg(sc, 2), &maxev))
            return true;
        uint32_t events = 0;
        uint64_t data = 0;
        int n = 0;
        if (p->fd < 0 || p->fd >= SK_RUN_MAX_FDS || r->fds[p->fd].kind != SK_FD_EPOLL)
            n = -SK_EBADF;
        else {
            r->call = p;
            n = r->be->epoll_wait(r, p->fd, (int)maxev, &events, &data);
            r->call = NULL;
            if (p->in_flight)
                return false;
        }
        if (n == 0 && !final && r->now < p->timeout_at)
            return false;
        r->pending.op = SK_OP_NONE;
        check_epoll_result(r, sc, n, events, data);
        goto timing;
    }
    }
complete:
    r->pending.op = SK_OP_NONE;
    check_result(r, sc, res);
timing:;
    /* A call made on a thread of its own returned when that thread says. */
    sk_time_ns end = p->returned_at ? p->returned_at : r->now;
    if (!r->done && (end + r->tolerance < p->expect_end || end > p->give_up))
        sk_run_fail(r, "%s() expected to return at %.6f, returned at %.6f", sc->name,
                    (double)(int64_t)(p->expect_end - r->base) / 1e9, (double)(int64_t)(end - r->base) / 1e9);
    return true;
}

bool sk_run_pending_poll(sk_runner *r)
{
    if (r->pending.op == SK_OP_NONE || r->done)
        return true;
    sk_run_pending p = r->pending;
    bool completed = attempt(r, &p, false);
    if (!completed)
        r->pending = p; /* keeps a partial write's progress */
    if (!completed && r->now >= p.give_up) {
        r->pending.op = SK_OP_NONE;
        r->ev = p.ev;
        sk_run_fail(r, "%s() still blocked at %.6f, expected to return by %.6f", p.ev->syscall.name,
                    (double)(int64_t)(r->now - r->base) / 1e9, (double)(int64_t)(p.expect_end - r->base) / 1e9);
    }
    return completed;
}

void sk_run_pending_finish(sk_runner *r)
{
    if (r->pending.op == SK_OP_NONE || r->done)
        return;
    const sk_script_event *saved = r->ev;
    r->ev = r->pending.ev;
    sk_time_ns limit = r->pending.give_up;
    if (r->pending.timeout_at != SK_TIME_NEVER && r->pending.timeout_at < limit)
        limit = r->pending.timeout_at;
    /* Errors found while finishing are the blocking call's line. */
    while (!r->done && r->pending.op != SK_OP_NONE) {
        sk_time_ns d = r->be->next_deadline(r);
        sk_time_ns step = d == SK_TIME_NEVER || d > limit ? limit : (d > r->now ? d : r->now);
        sk_run_advance_to(r, step);
        if (r->pending.op != SK_OP_NONE && r->now >= limit) {
            sk_run_pending p = r->pending;
            r->pending.op = SK_OP_NONE;
            if (!attempt(r, &p, r->now >= p.give_up || p.timeout_at <= r->now))
                sk_run_fail(r, "%s() still blocked at %.6f", p.ev->syscall.name,
                            (double)(int64_t)(r->now - r->base) / 1e9);
        }
    }
    if (!r->done)
        r->ev = saved;
}

/* Starts a call that may block: completes it now if it can, else leaves
 * it pending (socket without O_NONBLOCK) or returns EAGAIN. */
static void start_op(sk_runner *r, const sk_script_event *ev, sk_run_op op, int fd, size_t len, int flags,
                     bool may_block, sk_time_ns expect_end, sk_time_ns timeout_at)
{
    sk_run_pending p = {
        .op = op,
        .ev = ev,
        .fd = fd,
        .len = len,
        .flags = flags,
        .expect_end = expect_end,
        .give_up = expect_end + r->tolerance,
        .timeout_at = timeout_at,
    };
    r->pending = p;
    if (attempt(r, &r->pending, !may_block))
        return;
    sk_run_trace(r, "%s() blocks", ev->syscall.name);
}

/* ------------------------------------------------------------------ */
/* Individual calls                                                     */
/* ------------------------------------------------------------------ */

static bool unsupported_result(sk_runner *r, const sk_script_syscall *sc, int64_t got, const char *what)
{
    /* An option synack lacks is a feature gap, not a wrong answer. */
    int64_t want;
    if ((got == -SK_ENOPROTOOPT || got == -SK_EOPNOTSUPP) && eval_int(r, sc->ret, &want) && want >= 0) {
        sk_run_skip(r, "%s: synack answers %s", what, sk_script_errno_text((int)-got));
        return true;
    }
    return false;
}

static void describe_opt(const sk_script_syscall *sc, char *buf, size_t cap)
{
    const sk_script_expr *lv = arg(sc, 1), *nm = arg(sc, 2);
    snprintf(buf, cap, "%s(%s, %s)", sc->name, lv && lv->kind == SK_SEXPR_NAME ? lv->text : "?",
             nm && nm->kind == SK_SEXPR_NAME ? nm->text : "?");
}

static void sys_setsockopt(sk_runner *r, const sk_script_syscall *sc)
{
    int64_t fd, level, name, optlen;
    if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 1, &level) || !arg_int(r, sc, 2, &name) ||
        !arg_int(r, sc, 4, &optlen))
        return;
    sk_run_fd *f = sock_fd(r, fd);
    const sk_script_expr *v = sc->args[3];
    uint8_t buf[256] = {0};
    if (optlen < 0 || optlen > (int64_t)sizeof(buf)) {
        sk_run_fail(r, "setsockopt() option length %lld out of range", (long long)optlen);
        return;
    }
    if (v->kind == SK_SEXPR_STRUCT) {
        const sk_script_expr *on = field(v, "l_onoff"), *lg = field(v, "l_linger");
        int64_t a = 0, b = 0;
        if (!on || !lg || !eval_int(r, on->rhs, &a) || !eval_int(r, lg->rhs, &b)) {
            if (!r->done)
                sk_run_skip(r, "setsockopt() with a struct other than linger");
            return;
        }
        struct sk_linger l = {(int)a, (int)b};
        memcpy(buf, &l, sizeof(l));
    } else if (v->kind == SK_SEXPR_STRING) {
        memcpy(buf, v->text, v->len < sizeof(buf) ? v->len : sizeof(buf));
    } else if (!is_null(v)) {
        int64_t x;
        if (!eval_int(r, v, &x))
            return;
        int32_t i32 = (int32_t)x;
        memcpy(buf, &i32, sizeof(i32));
    }
    int64_t res = f ? r->be->setsockopt(r, f->handle, (int)level, (int)name, buf, (size_t)optlen) : -SK_EBADF;
    if (res == 0 && level == 6 && name == 30 /* TCP_FASTOPEN_CONNECT */) {
        int32_t on;
        memcpy(&on, buf, sizeof on);
        f->fo_connect = on != 0;
    }
    char what[128];
    describe_opt(sc, what, sizeof(what));
    if (!unsupported_result(r, sc, res, what))
        check_result(r, sc, res);
}

static void sys_getsockopt(sk_runner *r, const sk_script_syscall *sc)
{
    int64_t fd, level, name, want_len = 4;
    if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 1, &level) || !arg_int(r, sc, 2, &name) ||
        !need_args(r, sc, 5))
        return;
    if (sc->args[4]->kind != SK_SEXPR_ELLIPSIS && !eval_int(r, sc->args[4], &want_len))
        return;
    sk_run_fd *f = sock_fd(r, fd);
    uint8_t buf[512] = {0};
    size_t len = want_len > 0 && want_len <= (int64_t)sizeof(buf) ? (size_t)want_len : sizeof(buf);
    int64_t res = f ? r->be->getsockopt(r, f->handle, (int)level, (int)name, buf, &len) : -SK_EBADF;
    char what[128];
    describe_opt(sc, what, sizeof(what));
    if (unsupported_result(r, sc, res, what) || !check_result(r, sc, res) || res < 0)
        return;
    const sk_script_expr *v = sc->args[3];
    if (v->kind == SK_SEXPR_LIST && v->count == 1) {
        int64_t want;
        if (!eval_int(r, v, &want))
            return;
        int32_t got = 0;
        memcpy(&got, buf, len < 4 ? len : 4);
        if ((uint32_t)got != (uint32_t)want) {
            sk_run_fail(r, "%s expected value %lld, got %d", what, (long long)want, got);
            return;
        }
    } else if (v->kind == SK_SEXPR_STRUCT && field(v, "l_onoff")) {
        struct sk_linger l;
        memcpy(&l, buf, sizeof(l));
        int64_t on = 0, lg = 0;
        if (!eval_int(r, field(v, "l_onoff")->rhs, &on))
            return;
        if (field(v, "l_linger") && !eval_int(r, field(v, "l_linger")->rhs, &lg))
            return;
        if (l.l_onoff != on || l.l_linger != lg) {
            sk_run_fail(r, "%s expected {l_onoff=%lld, l_linger=%lld}, got {l_onoff=%d, l_linger=%d}", what,
                        (long long)on, (long long)lg, l.l_onoff, l.l_linger);
            return;
        }
    }
    if ((int64_t)len != want_len && sc->args[4]->kind != SK_SEXPR_ELLIPSIS)
        sk_run_fail(r, "%s expected length %lld, got %zu", what, (long long)want_len, len);
}

static void sys_fcntl(sk_runner *r, const sk_script_syscall *sc)
{
    int64_t fd, cmd, v = 0;
    if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 1, &cmd))
        return;
    if (sc->arg_count > 2 && !eval_int(r, sc->args[2], &v))
        return;
    if (fd < 0 || fd >= SK_RUN_MAX_FDS || r->fds[fd].kind == SK_FD_FREE) {
        check_result(r, sc, -SK_EBADF);
        return;
    }
    sk_run_fd *f = &r->fds[fd];
    switch (cmd) {
    case 3: /* F_GETFL: sockets are O_RDWR */
        check_result(r, sc, LINUX_O_RDWR | (f->nonblock ? LINUX_O_NONBLOCK : 0));
        return;
    case 4: /* F_SETFL */
        f->nonblock = (v & LINUX_O_NONBLOCK) != 0;
        /* The runner keeps the flag (it decides what blocks); the stack
         * is told as well, as a process's fcntl would tell the kernel. */
        check_result(r, sc, f->kind == SK_FD_SOCKET ? r->be->set_nonblock(r, f->handle, f->nonblock) : 0);
        return;
    case 1: /* F_GETFD */
    case 2: /* F_SETFD */
        check_result(r, sc, 0);
        return;
    }
    sk_run_skip(r, "fcntl command %lld", (long long)cmd);
}

/* Total length of a sendmsg/recvmsg msghdr's iovecs, from msg_iov(N)=[{..., len}]. */
static bool msg_len(sk_runner *r, const sk_script_expr *msg, size_t *len, bool *null_buf)
{
    const sk_script_expr *iov = field(msg, "msg_iov");
    *len = 0;
    *null_buf = false;
    if (!iov || iov->rhs->kind != SK_SEXPR_LIST) {
        sk_run_fail(r, "sendmsg()/recvmsg() expects msg_iov(N)=[{..., len}, ...]");
        return false;
    }
    for (size_t i = 0; i < iov->rhs->count; i++) {
        const sk_script_expr *e = iov->rhs->items[i];
        int64_t n;
        if (e->kind != SK_SEXPR_STRUCT || e->count != 2 || !eval_int(r, e->items[1], &n))
            return false;
        if (is_null(e->items[0]) && n > 0)
            *null_buf = true;
        *len += (size_t)n;
    }
    return true;
}

static void sys_send(sk_runner *r, const sk_script_event *ev, sk_time_ns expect_end)
{
    const sk_script_syscall *sc = &ev->syscall;
    int64_t fd, len = 0, flags = 0;
    bool null_buf = false;
    size_t total = 0;
    if (!arg_int(r, sc, 0, &fd))
        return;
    if (strcmp(sc->name, "sendmsg") == 0) {
        if (!need_args(r, sc, 3) || !msg_len(r, sc->args[1], &total, &null_buf) || !eval_int(r, sc->args[2], &flags))
            return;
    } else {
        if (!arg_int(r, sc, 2, &len))
            return;
        if (strcmp(sc->name, "write") != 0 && !arg_int(r, sc, 3, &flags))
            return;
        null_buf = is_null(arg(sc, 1)) && len > 0;
        total = (size_t)len;
    }
    sk_run_fd *f = sock_fd(r, fd);
    if (!f) {
        check_result(r, sc, -SK_EBADF);
        return;
    }
    /* TCP_FASTOPEN_CONNECT's first write is a MSG_FASTOPEN send: with
     * the SYN deferred it connects, and a blocking writer waits for the
     * handshake (tcp_sendmsg_locked's DEFER_CONNECT path). */
    bool deferred = false;
    if (f->fo_connect && !(flags & LINUX_MSG_FASTOPEN)) {
        f->fo_connect = false;
        int fdv = (int)fd, want = SK_POLLOUT, got = 0;
        r->be->poll(r, &fdv, &want, &got, 1);
        deferred = (got & SK_POLLOUT) && r->be->sendto;
    }
    /* sendto()'s address family when the script names it instead of
     * `...` (sendto-af-unspec: AF_UNSPEC). */
    const sk_script_expr *dest = strcmp(sc->name, "sendto") == 0 ? arg(sc, 4) : NULL;
    int64_t family = sk_run_remote_ep(r, SK_RUN_REMOTE_PORT).family; /* `...`: the run's version */
    if (dest && dest->kind == SK_SEXPR_NAME && !eval_int(r, dest, &family))
        return;
    if (((flags & LINUX_MSG_FASTOPEN) || deferred) && !null_buf) {
        if (!r->be->sendto) {
            sk_run_skip(r, "%s() with MSG_FASTOPEN: the backend has no sendto", sc->name);
            return;
        }
        /* Linux's tcp_sendmsg_fastopen(): connect, with what fits in the
         * SYN.  A blocking caller then waits for the handshake and sends
         * the rest (__inet_stream_connect, then tcp_sendmsg_locked). */
        bool blocks = !f->nonblock && !(flags & LINUX_MSG_DONTWAIT);
        if (blocks && r->be->sendto_blocks) {
            /* The object waits for the handshake itself (as Linux's
             * sendto does, counting the writer in sk_write_pending). */
            sk_run_pending p = {.op = SK_OP_WRITE, .ev = ev, .fd = (int)fd, .len = total,
                                .flags = (int)flags, .whole_sendto = true, .family = (int)family,
                                .expect_end = expect_end, .give_up = expect_end + r->tolerance,
                                .timeout_at = SK_TIME_NEVER};
            r->pending = p;
            sk_run_pending_poll(r);
            return;
        }
        void *buf = scratch(total);
        sk_endpoint remote = sk_run_remote_ep(r, SK_RUN_REMOTE_PORT);
        int64_t n = r->be->sendto(r, f->handle, buf, total, (int)(flags & ~LINUX_MSG_DONTWAIT), &remote, (int)family);
        free(buf);
        bool blocking = !f->nonblock && !(flags & LINUX_MSG_DONTWAIT);
        if (!blocking || (n < 0 && n != -SK_EINPROGRESS)) {
            check_result(r, sc, n);
            return;
        }
        /* Linux's inet_wait_for_connect counts the writer in
         * sk_write_pending only while data is left for after the SYN
         * (fastopen_req->data): the SYN-ACK's ACK then waits for it. */
        if (r->be->write_waiting && total && (n == -SK_EINPROGRESS || (n >= 0 && (size_t)n < total)))
            r->be->write_waiting(r, f->handle, true);
        sk_run_pending p = {.op = SK_OP_WRITE, .ev = ev, .fd = (int)fd, .len = total,
                            .done = n > 0 ? (size_t)n : 0, .flags = (int)(flags & ~LINUX_MSG_FASTOPEN),
                            .await_conn = true, .expect_end = expect_end, .give_up = expect_end + r->tolerance,
                            .timeout_at = SK_TIME_NEVER};
        r->pending = p;
        sk_run_pending_poll(r);
        return;
    }
    if (null_buf) {
        /* A NULL buffer: Linux fails the copy from user memory with
         * EFAULT once the socket could accept data; emulate that. */
        int64_t probe = r->be->send(r, f->handle, "", 0, (int)flags);
        check_result(r, sc, probe < 0 ? probe : -SK_EFAULT);
        return;
    }
    bool may_block = !f->nonblock && !(flags & LINUX_MSG_DONTWAIT);
    start_op(r, ev, SK_OP_WRITE, (int)fd, total, (int)flags, may_block, expect_end, SK_TIME_NEVER);
    if (!r->done && r->pending.op == SK_OP_NONE)
        return;
    if (!r->done && (flags & ~(int64_t)(LINUX_MSG_DONTWAIT | 0x80 | 0x4000 | 0x8000 | 0x2)) != 0)
        sk_run_trace(r, "flags 0x%llx passed to sk_send", (long long)flags);
}

static void sys_recv(sk_runner *r, const sk_script_event *ev, sk_time_ns expect_end)
{
    const sk_script_syscall *sc = &ev->syscall;
    int64_t fd, len, flags = 0;
    if (strcmp(sc->name, "recvmsg") == 0) {
        size_t total = 0;
        bool null_buf = false;
        if (!arg_int(r, sc, 0, &fd) || !need_args(r, sc, 3) || !msg_len(r, sc->args[1], &total, &null_buf) ||
            !eval_int(r, sc->args[2], &flags))
            return;
        if (field(sc->args[1], "msg_control") && !r->be->inq_hint) {
            sk_run_skip(r, "recvmsg() control messages: the %s backend cannot report TCP_CM_INQ", r->be->name);
            return;
        }
        len = (int64_t)total;
    } else {
        if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 2, &len))
            return;
        if (strcmp(sc->name, "read") != 0 && !arg_int(r, sc, 3, &flags))
            return;
    }
    sk_run_fd *f = sock_fd(r, fd);
    if (!f) {
        check_result(r, sc, -SK_EBADF);
        return;
    }
    if (is_null(arg(sc, 1)) && len > 0) {
        /* As for send: EFAULT only once there is data to copy. */
        uint8_t b;
        int64_t probe = r->be->recv(r, f->handle, &b, 1, 0x2 /* MSG_PEEK */);
        if (probe > 0 || probe != -SK_EAGAIN || f->nonblock) {
            check_result(r, sc, probe > 0 ? -SK_EFAULT : probe);
            return;
        }
    }
    bool may_block = !f->nonblock && !(flags & LINUX_MSG_DONTWAIT);
    start_op(r, ev, SK_OP_READ, (int)fd, (size_t)len, (int)flags, may_block, expect_end, SK_TIME_NEVER);
}

static void sys_epoll_ctl(sk_runner *r, const sk_script_syscall *sc)
{
    int64_t epfd, op, fd, events = 0, data = 0;
    if (!arg_int(r, sc, 0, &epfd) || !arg_int(r, sc, 1, &op) || !arg_int(r, sc, 2, &fd))
        return;
    const sk_script_expr *st = arg(sc, 3);
    const sk_script_expr *ev_e = field(st, "events"), *d = field(st, "fd");
    if (!d)
        d = field(st, "u64");
    if (!d)
        d = field(st, "ptr");
    if (ev_e && !eval_int(r, ev_e->rhs, &events))
        return;
    if (d && !eval_int(r, d->rhs, &data))
        return;
    if (epfd < 0 || epfd >= SK_RUN_MAX_FDS || r->fds[epfd].kind != SK_FD_EPOLL || !sock_fd(r, fd)) {
        check_result(r, sc, -SK_EBADF);
        return;
    }
    int rc = r->be->epoll_ctl(r, (int)epfd, (int)op, (int)fd, (uint32_t)events, (uint64_t)data);
    if (rc == -28 /* ENOSPC */) {
        sk_run_skip(r, "more than %d fds in one epoll set", SK_RUN_MAX_EPOLL_REGS);
        return;
    }
    check_result(r, sc, rc);
}

static void sys_close(sk_runner *r, const sk_script_syscall *sc)
{
    int64_t fd;
    if (!arg_int(r, sc, 0, &fd))
        return;
    if (fd < 0 || fd >= SK_RUN_MAX_FDS || r->fds[fd].kind == SK_FD_FREE) {
        check_result(r, sc, -SK_EBADF);
        return;
    }
    int64_t res = 0;
    if (r->fds[fd].kind == SK_FD_EPOLL)
        res = r->be->epoll_close(r, r->fds[fd].handle);
    if (r->fds[fd].kind == SK_FD_SOCKET) {
        res = r->be->close_sock(r, r->fds[fd].handle);
        for (int e = 3; e < SK_RUN_MAX_FDS; e++) {
            sk_run_fd *ep = &r->fds[e];
            for (size_t i = 0; ep->kind == SK_FD_EPOLL && i < ep->reg_count; i++)
                if (ep->regs[i].fd == fd)
                    ep->regs[i--] = ep->regs[--ep->reg_count];
        }
    }
    memset(&r->fds[fd], 0, sizeof(r->fds[fd]));
    check_result(r, sc, res);
}

void sk_run_syscall(sk_runner *r, const sk_script_event *ev, int64_t start_usecs, int64_t end_usecs)
{
    const sk_script_syscall *sc = &ev->syscall;
    const char *n = sc->name;
    sk_time_ns expect_end = sk_run_script_ns(r, end_usecs);
    int64_t fd = -1, v = 0;
    (void)start_usecs;
    sk_run_trace(r, "%s()", n);

    if (strcmp(n, "socket") == 0) {
        /* `...` is the run's family, as packetdrill fills it in from
         * --ip_version (AF_INET6 for ipv6 and ipv4-mapped-ipv6). */
        int64_t domain = sk_run_socket_family(r);
        if (need_args(r, sc, 3) && sc->args[0]->kind != SK_SEXPR_ELLIPSIS && !eval_int(r, sc->args[0], &domain))
            return;
        if (domain != SK_AF_INET && domain != SK_AF_INET6) {
            sk_run_skip(r, "socket() domain %lld: synack has AF_INET and AF_INET6 only", (long long)domain);
            return;
        }
        int h = r->be->socket(r, (int)domain);
        if (h >= 0)
            r->socket_epoch++;
        if (r->done)
            return;
        int64_t res = h;
        if (h >= 0) {
            res = alloc_fd(r, SK_FD_SOCKET, h, sc);
            if (res >= 0)
                r->info_fd = (int)res;
        }
        check_result(r, sc, res);
    } else if (strcmp(n, "bind") == 0) {
        if (!arg_int(r, sc, 0, &fd))
            return;
        sk_run_fd *f = sock_fd(r, fd);
        sk_endpoint local = sk_run_local_ep(r, SK_RUN_LOCAL_PORT);
        check_result(r, sc, f ? r->be->bind(r, f->handle, &local) : -SK_EBADF);
    } else if (strcmp(n, "listen") == 0) {
        if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 1, &v))
            return;
        sk_run_fd *f = sock_fd(r, fd);
        int64_t res = f ? r->be->listen(r, f->handle, (int)v) : -SK_EBADF;
        if (res == 0) {
            sk_endpoint local;
            f->listener = true;
            if (r->be->getname && r->be->getname(r, f->handle, false, &local) == 0 && local.port)
                r->listen_port = local.port;
        }
        check_result(r, sc, res);
    } else if (strcmp(n, "accept") == 0 || strcmp(n, "accept4") == 0) {
        if (!arg_int(r, sc, 0, &fd))
            return;
        sk_run_fd *f = sock_fd(r, fd);
        start_op(r, ev, SK_OP_ACCEPT, (int)fd, 0, 0, f && !f->nonblock, expect_end, SK_TIME_NEVER);
    } else if (strcmp(n, "connect") == 0) {
        if (!arg_int(r, sc, 0, &fd))
            return;
        sk_run_fd *f = sock_fd(r, fd);
        if (!f) {
            check_result(r, sc, -SK_EBADF);
            return;
        }
        sk_endpoint remote = sk_run_remote_ep(r, SK_RUN_REMOTE_PORT);
        sk_run_pending p = {.op = SK_OP_CONNECT, .ev = ev, .fd = (int)fd, .expect_end = expect_end,
                            .give_up = expect_end + r->tolerance, .timeout_at = SK_TIME_NEVER};
        r->call = &p;
        int c = r->be->connect(r, f->handle, &remote);
        r->call = NULL;
        if (p.in_flight || (c == -SK_EINPROGRESS && !f->nonblock)) {
            p.started = true;
            r->pending = p;
            sk_run_pending_poll(r);
        } else if (p.threaded) {
            /* Returned at once on packetdrill's system-call thread: checked
             * as a blocking call is, at the time that thread read. */
            int64_t res = c == -SK_EISCONN ? 0 : c;
            if (check_result(r, sc, res) && (p.returned_at + r->tolerance < p.expect_end || p.returned_at > p.give_up))
                sk_run_fail(r, "%s() expected to return at %.6f, returned at %.6f", sc->name,
                            (double)(int64_t)(p.expect_end - r->base) / 1e9,
                            (double)(int64_t)(p.returned_at - r->base) / 1e9);
        } else {
            check_result(r, sc, c);
        }
    } else if (strcmp(n, "write") == 0 || strcmp(n, "send") == 0 || strcmp(n, "sendto") == 0 ||
               strcmp(n, "sendmsg") == 0) {
        sys_send(r, ev, expect_end);
    } else if (strcmp(n, "read") == 0 || strcmp(n, "recv") == 0 || strcmp(n, "recvfrom") == 0 ||
               strcmp(n, "recvmsg") == 0) {
        sys_recv(r, ev, expect_end);
    } else if (strcmp(n, "close") == 0) {
        sys_close(r, sc);
    } else if (strcmp(n, "shutdown") == 0) {
        if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 1, &v))
            return;
        sk_run_fd *f = sock_fd(r, fd);
        check_result(r, sc, f ? r->be->shutdown(r, f->handle, (int)v) : -SK_EBADF);
    } else if (strcmp(n, "setsockopt") == 0) {
        sys_setsockopt(r, sc);
    } else if (strcmp(n, "getsockopt") == 0) {
        sys_getsockopt(r, sc);
    } else if (strcmp(n, "fcntl") == 0) {
        sys_fcntl(r, sc);
    } else if (strcmp(n, "ioctl") == 0) {
        int64_t req, want;
        if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 1, &req) || !arg_int(r, sc, 2, &want))
            return;
        sk_run_fd *f = sock_fd(r, fd);
        int64_t got;
        if (req == 0x541B || req == 0x5411)
            got = f ? r->be->ioctl_q(r, f->handle, (unsigned long)req) : -SK_EBADF;
        else {
            sk_run_skip(r, "ioctl request 0x%llx", (long long)req);
            return;
        }
        if (!check_result(r, sc, got < 0 ? got : 0) || got < 0)
            return;
        if (got != want)
            sk_run_fail(r, "ioctl() expected [%lld], got [%lld]", (long long)want, (long long)got);
    } else if (strcmp(n, "poll") == 0) {
        int64_t timeout;
        if (!arg_int(r, sc, 2, &timeout))
            return;
        sk_time_ns t = timeout < 0 ? SK_TIME_NEVER : r->now + (sk_time_ns)timeout * SK_NSEC_PER_MSEC;
        start_op(r, ev, SK_OP_POLL, -1, 0, 0, timeout != 0, expect_end, t);
    } else if (strcmp(n, "epoll_create") == 0 || strcmp(n, "epoll_create1") == 0) {
        int h = r->be->epoll_create(r);
        check_result(r, sc, h < 0 ? h : alloc_fd(r, SK_FD_EPOLL, h, sc));
    } else if (strcmp(n, "epoll_ctl") == 0) {
        sys_epoll_ctl(r, sc);
    } else if (strcmp(n, "epoll_wait") == 0 || strcmp(n, "epoll_pwait") == 0) {
        int64_t timeout;
        if (!arg_int(r, sc, 0, &fd) || !arg_int(r, sc, 3, &timeout))
            return;
        sk_time_ns t = timeout < 0 ? SK_TIME_NEVER : r->now + (sk_time_ns)timeout * SK_NSEC_PER_MSEC;
        start_op(r, ev, SK_OP_EPOLL_WAIT, (int)fd, 0, 0, timeout != 0, expect_end, t);
    } else if (strcmp(n, "getsockname") == 0 || strcmp(n, "getpeername") == 0) {
        if (!arg_int(r, sc, 0, &fd))
            return;
        sk_run_fd *f = sock_fd(r, fd);
        sk_endpoint e;
        if (!r->be->getname) {
            sk_run_skip(r, "%s() is not in the %s backend's interface", n, r->be->name);
            return;
        }
        int64_t res = !f ? -SK_EBADF : r->be->getname(r, f->handle, n[3] == 'p', &e);
        check_result(r, sc, res);
    } else {
        sk_run_skip(r, "system call %s() is not supported by the runner", n);
    }
}
