/*
 * The control socket (control.h): a non-blocking line server inside a
 * synack process, and the client that `synack ss` and friends use.
 */
#include "observe/control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "observe/nstat.h"
#include "observe/ss.h"
#include "observe/sysctl.h"

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_LINE_MAX 4096
#define CONTROL_MAX_WORDS 128
#define CONTROL_LISTENER UINT64_MAX

typedef struct control_client {
    int fd; /* -1: free slot */
    uint64_t age;
    char in[CONTROL_LINE_MAX];
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    bool writing;
} control_client;

struct sk_control {
    int listen_fd, epoll_fd;
    char path[SK_CONTROL_PATH_MAX];
    char name[64];
    char instance[96];
    sk_stack *stack;
    sk_control_clock_fn clock;
    void *clock_ctx;
    uint64_t next_age;
    control_client clients[CONTROL_MAX_CLIENTS];
};

/* ------------------------------------------------------------------ */
/* Words                                                                 */
/* ------------------------------------------------------------------ */

int sk_control_encode(int argc, char *const *argv, char *line, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strchr(a, '\n') || strchr(a, '\r'))
            return -EINVAL;
        bool plain = *a && !strpbrk(a, " \t\"'\\");
        if (i > 0) {
            if (len + 1 >= cap)
                return -EINVAL;
            line[len++] = ' ';
        }
        if (!plain && len + 1 < cap)
            line[len++] = '"';
        for (; *a; a++) {
            if (!plain && (*a == '"' || *a == '\\')) {
                if (len + 1 >= cap)
                    return -EINVAL;
                line[len++] = '\\';
            }
            if (len + 1 >= cap)
                return -EINVAL;
            line[len++] = *a;
        }
        if (!plain) {
            if (len + 1 >= cap)
                return -EINVAL;
            line[len++] = '"';
        }
    }
    if (len + 2 > cap)
        return -EINVAL;
    line[len++] = '\n';
    line[len] = '\0';
    return (int)len;
}

int sk_control_split(char *line, char **words, int max)
{
    int n = 0;
    char *r = line, *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
            r++;
        if (!*r)
            return n;
        if (n == max)
            return -1;
        words[n++] = w;
        char quote = 0;
        for (; *r; r++) {
            if (quote) {
                if (*r == quote)
                    quote = 0;
                else if (quote == '"' && *r == '\\' && r[1])
                    *w++ = *++r;
                else
                    *w++ = *r;
            } else if (*r == '"' || *r == '\'') {
                quote = *r;
            } else if (*r == '\\' && r[1]) {
                *w++ = *++r;
            } else if (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r') {
                break;
            } else {
                *w++ = *r;
            }
        }
        if (quote)
            return -1;
        bool more = *r != '\0';
        if (more)
            r++;
        *w++ = '\0';
        if (!more)
            return n;
    }
}

/* ------------------------------------------------------------------ */
/* Answering                                                             */
/* ------------------------------------------------------------------ */

static int answer_nstat(sk_stack *stack, const char *instance, int argc, char **argv, FILE *out, FILE *err)
{
    unsigned flags = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json"))
            flags |= SK_NSTAT_JSON;
        else if (!strcmp(argv[i], "--zeros"))
            flags |= SK_NSTAT_ZEROS;
        else if (!strcmp(argv[i], "--ignore"))
            continue;
        else if (argv[i][1] == '-') {
            fprintf(err, "nstat: unknown option '%s'\n", argv[i]);
            return 2;
        } else {
            for (const char *c = argv[i] + 1; *c; c++) {
                if (*c == 'z')
                    flags |= SK_NSTAT_ZEROS;
                else if (*c == 'j')
                    flags |= SK_NSTAT_JSON;
                else if (*c != 'a') {
                    fprintf(err, "nstat: unknown option '-%c' (the server prints absolute values: -a -z --json)\n",
                            *c);
                    return 2;
                }
            }
        }
    }
    sk_counter_set cs;
    sk_counter_set_init(&cs);
    if (sk_counter_set_from_stack(&cs, stack, instance) < 0) {
        fprintf(err, "nstat: out of memory\n");
        sk_counter_set_free(&cs);
        return 1;
    }
    sk_nstat_print(out, &cs, NULL, flags, argv + i, (size_t)(argc - i));
    sk_counter_set_free(&cs);
    return 0;
}

static int answer_counters(sk_stack *stack, const char *instance, FILE *out, FILE *err, bool netstat)
{
    sk_counter_set cs;
    sk_counter_set_init(&cs);
    int rc = sk_counter_set_from_stack(&cs, stack, instance);
    if (rc < 0)
        fprintf(err, "out of memory\n");
    else if (netstat)
        sk_netstat_print(out, &cs);
    else
        sk_counter_set_write(out, &cs);
    sk_counter_set_free(&cs);
    return rc < 0 ? 1 : 0;
}

static int sk_control_answer(sk_stack *stack, sk_time_ns now, const char *name, const char *instance, const char *line,
                      FILE *out, FILE *err)
{
    char buf[CONTROL_LINE_MAX];
    char *argv[CONTROL_MAX_WORDS];
    snprintf(buf, sizeof(buf), "%s", line);
    int argc = sk_control_split(buf, argv, CONTROL_MAX_WORDS);
    if (argc < 0) {
        fprintf(err, "synack: cannot read the request: unterminated quote or more than %d words\n",
                CONTROL_MAX_WORDS);
        return 2;
    }
    if (argc == 0) {
        fprintf(err, "synack: empty request (try 'help')\n");
        return 2;
    }
    if (!stack) {
        fprintf(err, "synack: the stack of '%s' is not running yet\n", name ? name : "?");
        return 1;
    }
    const char *cmd = argv[0];
    if (!strcmp(cmd, "ss"))
        return sk_ss_run(stack, now, argc, argv, out, err);
    if (!strcmp(cmd, "nstat"))
        return answer_nstat(stack, instance, argc, argv, out, err);
    if (!strcmp(cmd, "sysctl"))
        return sk_sysctl_run(stack, argc, argv, out, err);
    if (!strcmp(cmd, "counters"))
        return answer_counters(stack, instance, out, err, false);
    if (!strcmp(cmd, "netstat")) {
        if (argc != 2 || strcmp(argv[1], "-s")) {
            fprintf(err, "netstat: synack answers 'netstat -s' only\n");
            return 2;
        }
        return answer_counters(stack, instance, out, err, true);
    }
    if (!strcmp(cmd, "info")) {
        uint32_t a = sk_stack_addr(stack);
        fprintf(out, "name %s\npid %ld\naddr %u.%u.%u.%u\ninstance %s\n", name ? name : "", (long)getpid(),
                a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff, instance ? instance : "");
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        fprintf(out, "requests: ss ARGS | nstat [-z] [--json] [PATTERN...] | netstat -s | sysctl ARGS |\n"
                     "          counters | info | help\n");
        return 0;
    }
    fprintf(err, "synack: unknown request '%s' (try 'help')\n", cmd);
    return 2;
}

/* ------------------------------------------------------------------ */
/* Directories                                                           */
/* ------------------------------------------------------------------ */

static int ensure_private_dir(const char *dir, bool create, char *err, size_t errlen)
{
    if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(e));
        return -e;
    }
    struct stat st;
    if (lstat(dir, &st) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", dir, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        return -ENOTDIR;
    }
    /* Whoever owns the directory can put a socket there that answers
     * for "our" stack: only trust our own. */
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s belongs to another user (uid %u)", dir, (unsigned)st.st_uid);
        return -EPERM;
    }
    return 0;
}

static int sk_control_dir(char *buf, size_t cap, bool create, char *err, size_t errlen)
{
    const char *forced = getenv(SK_CONTROL_DIR_ENV);
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (forced && *forced)
        n = snprintf(buf, cap, "%s", forced);
    else if (xdg && *xdg && access(xdg, W_OK | X_OK) == 0)
        n = snprintf(buf, cap, "%s/synack", xdg);
    else
        n = snprintf(buf, cap, "/run/synack");
    /* Room for "/" + a name + "-PID.sock" within sun_path. */
    if (n < 0 || (size_t)n >= cap || (size_t)n + 40 > SK_CONTROL_PATH_MAX) {
        snprintf(err, errlen, "control directory path too long for a Unix socket: %s", buf);
        return -ENAMETOOLONG;
    }
    return ensure_private_dir(buf, create, err, errlen);
}

/* 0 when something answers at `path`, else -errno of the connect. */
static int socket_probe(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* "permission denied on PATH (owner uid U, mode 0700)": what a user is
 * told when a stack may be there but belongs to someone else. */
static void note_denied(const char *path, char *denied, size_t cap)
{
    if (!denied || !cap || denied[0])
        return;
    struct stat st;
    if (stat(path, &st) == 0)
        snprintf(denied, cap, "permission denied on %s (owner uid %u, mode %04o; this is uid %u)", path,
                 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
    else
        snprintf(denied, cap, "permission denied on %s (this is uid %u)", path, (unsigned)geteuid());
}

/* ------------------------------------------------------------------ */
/* Server                                                                */
/* ------------------------------------------------------------------ */

static void sanitize_name(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        char ch = *in;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == '-';
        out[n++] = ok ? ch : '-';
    }
    out[n] = '\0';
    if (!n)
        snprintf(out, cap, "synack");
}

static int bind_socket(int fd, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

sk_control *sk_control_open(const char *dir, const char *name, sk_stack *stack, char *err, size_t errlen)
{
    char dirbuf[SK_CONTROL_PATH_MAX];
    if (!dir) {
        if (sk_control_dir(dirbuf, sizeof(dirbuf), true, err, errlen) < 0)
            return NULL;
        dir = dirbuf;
    } else if (ensure_private_dir(dir, true, err, errlen) < 0) {
        return NULL;
    }
    sk_control *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->listen_fd = c->epoll_fd = -1;
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
    c->stack = stack;
    char base[48];
    sanitize_name(name ? name : "synack", base, sizeof(base));

    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (c->listen_fd < 0 || c->epoll_fd < 0) {
        snprintf(err, errlen, "%s: %s", c->listen_fd < 0 ? "socket" : "epoll_create1", strerror(errno));
        goto fail;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt == 0)
            snprintf(c->name, sizeof(c->name), "%s", base);
        else
            snprintf(c->name, sizeof(c->name), "%s-%ld", base, (long)getpid());
        int n = snprintf(c->path, sizeof(c->path), "%s/%s.sock", dir, c->name);
        if (n < 0 || (size_t)n >= sizeof(c->path)) {
            snprintf(err, errlen, "control socket path too long: %s/%s.sock", dir, c->name);
            goto fail;
        }
        if (bind_socket(c->listen_fd, c->path) == 0)
            break;
        if (errno != EADDRINUSE) {
            snprintf(err, errlen, "bind %s: %s", c->path, strerror(errno));
            goto fail;
        }
        /* Left behind by a process that died without cleaning up: take
         * it over.  A live owner keeps its name; we take NAME-PID. */
        if (socket_probe(c->path) < 0) {
            unlink(c->path);
            if (bind_socket(c->listen_fd, c->path) == 0)
                break;
        }
        if (attempt == 1) {
            snprintf(err, errlen, "bind %s: %s", c->path, strerror(EADDRINUSE));
            goto fail;
        }
    }
    if (listen(c->listen_fd, 16) < 0) {
        snprintf(err, errlen, "listen on %s: %s", c->path, strerror(errno));
        unlink(c->path);
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CONTROL_LISTENER};
    if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0) {
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        unlink(c->path);
        goto fail;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(c->instance, sizeof(c->instance), "pid=%ld started=%lld.%09ld", (long)getpid(),
             (long long)ts.tv_sec, ts.tv_nsec);
    return c;
fail:
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->epoll_fd >= 0)
        close(c->epoll_fd);
    free(c);
    return NULL;
}

void sk_control_set_stack(sk_control *c, sk_stack *stack)
{
    c->stack = stack;
}

void sk_control_set_clock(sk_control *c, sk_control_clock_fn clock, void *ctx)
{
    c->clock = clock;
    c->clock_ctx = ctx;
}

int sk_control_fd(const sk_control *c)
{
    return c->epoll_fd;
}

const char *sk_control_path(const sk_control *c)
{
    return c->path;
}

const char *sk_control_name(const sk_control *c)
{
    return c->name;
}

static void drop_client(sk_control *c, control_client *cl)
{
    if (cl->fd >= 0) {
        epoll_ctl(c->epoll_fd, EPOLL_CTL_DEL, cl->fd, NULL);
        close(cl->fd);
    }
    free(cl->out);
    cl->out = NULL;
    cl->fd = -1;
    cl->in_len = cl->out_len = cl->out_off = 0;
    cl->writing = false;
}

static void accept_clients(sk_control *c)
{
    for (;;) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a client gone before we got to it */
        control_client *slot = NULL, *oldest = NULL;
        for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
            control_client *cl = &c->clients[i];
            if (cl->fd < 0) {
                slot = cl;
                break;
            }
            if (!oldest || cl->age < oldest->age)
                oldest = cl;
        }
        /* All slots busy (clients that connect and say nothing): the
         * oldest makes room, so a stuck client cannot lock ss out. */
        if (!slot) {
            drop_client(c, oldest);
            slot = oldest;
        }
        slot->fd = fd;
        slot->age = c->next_age++;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(slot - c->clients)};
        if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
            drop_client(c, slot);
    }
}

static void append_record(FILE *f, char kind, const char *data, size_t len)
{
    fprintf(f, "%c %zu\n", kind, len);
    if (len)
        fwrite(data, 1, len, f);
}

static void flush_client(sk_control *c, control_client *cl)
{
    while (cl->out_off < cl->out_len) {
        ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)(cl - c->clients)};
                epoll_ctl(c->epoll_fd, EPOLL_CTL_MOD, cl->fd, &ev);
                return;
            }
            if (errno == EINTR)
                continue;
            break;
        }
        cl->out_off += (size_t)n;
    }
    drop_client(c, cl);
}

static void answer_client(sk_control *c, control_client *cl)
{
    char *obuf = NULL, *ebuf = NULL, *resp = NULL;
    size_t olen = 0, elen = 0, rlen = 0;
    FILE *out = open_memstream(&obuf, &olen);
    FILE *err = open_memstream(&ebuf, &elen);
    FILE *r = NULL;
    if (!out || !err)
        goto oom;
    sk_time_ns now = c->clock ? c->clock(c->clock_ctx) : c->stack ? sk_now(c->stack) : 0;
    int status = sk_control_answer(c->stack, now, c->name, c->instance, cl->in, out, err);
    fclose(out);
    fclose(err);
    out = err = NULL;
    r = open_memstream(&resp, &rlen);
    if (!r)
        goto oom;
    append_record(r, 'O', obuf, olen);
    append_record(r, 'E', ebuf, elen);
    fprintf(r, "X %d\n", status);
    fclose(r);
    free(obuf);
    free(ebuf);
    cl->out = resp;
    cl->out_len = rlen;
    cl->out_off = 0;
    cl->writing = true;
    flush_client(c, cl);
    return;
oom:
    if (out)
        fclose(out);
    if (err)
        fclose(err);
    free(obuf);
    free(ebuf);
    drop_client(c, cl);
}

static void read_client(sk_control *c, control_client *cl)
{
    for (;;) {
        size_t room = sizeof(cl->in) - 1 - cl->in_len;
        if (room == 0) {
            static const char why[] = "synack: request longer than 4095 bytes\n";
            char reply[128];
            int n = snprintf(reply, sizeof(reply), "O 0\nE %zu\n%sX 2\n", sizeof(why) - 1, why);
            send(cl->fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
            drop_client(c, cl);
            return;
        }
        ssize_t n = recv(cl->fd, cl->in + cl->in_len, room, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                drop_client(c, cl);
            return;
        }
        if (n == 0) {
            /* EOF: a request without its newline still counts; nothing
             * at all was a probe (sk_control_list) and needs no answer. */
            if (cl->in_len == 0) {
                drop_client(c, cl);
                return;
            }
            cl->in[cl->in_len] = '\0';
            answer_client(c, cl);
            return;
        }
        cl->in_len += (size_t)n;
        cl->in[cl->in_len] = '\0';
        char *nl = memchr(cl->in, '\n', cl->in_len);
        if (nl) {
            *nl = '\0';
            answer_client(c, cl);
            return;
        }
    }
}

void sk_control_service(sk_control *c)
{
    struct epoll_event ev[CONTROL_MAX_CLIENTS + 1];
    int n = epoll_wait(c->epoll_fd, ev, CONTROL_MAX_CLIENTS + 1, 0);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == CONTROL_LISTENER) {
            accept_clients(c);
            continue;
        }
        control_client *cl = &c->clients[ev[i].data.u64];
        if (cl->fd < 0)
            continue;
        if (cl->writing)
            flush_client(c, cl);
        else if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            read_client(c, cl);
    }
}

void sk_control_close(sk_control *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
        drop_client(c, &c->clients[i]);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        unlink(c->path);
    }
    if (c->epoll_fd >= 0)
        close(c->epoll_fd);
    free(c);
}

/* ------------------------------------------------------------------ */
/* Client                                                                */
/* ------------------------------------------------------------------ */

static size_t search_dirs(char dirs[2][SK_CONTROL_PATH_MAX])
{
    const char *forced = getenv(SK_CONTROL_DIR_ENV);
    if (forced && *forced) {
        snprintf(dirs[0], SK_CONTROL_PATH_MAX, "%s", forced);
        return 1;
    }
    size_t n = 0;
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && *xdg)
        snprintf(dirs[n++], SK_CONTROL_PATH_MAX, "%s/synack", xdg);
    snprintf(dirs[n++], SK_CONTROL_PATH_MAX, "/run/synack");
    return n;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const sk_control_entry *)a)->name, ((const sk_control_entry *)b)->name);
}

size_t sk_control_list(sk_control_entry **out)
{
    return sk_control_scan(out, NULL, 0);
}

size_t sk_control_scan(sk_control_entry **out, char *denied, size_t denied_cap)
{
    char dirs[2][SK_CONTROL_PATH_MAX];
    size_t ndirs = search_dirs(dirs);
    sk_control_entry *v = NULL;
    size_t n = 0, cap = 0;
    if (denied && denied_cap)
        denied[0] = '\0';
    for (size_t d = 0; d < ndirs; d++) {
        DIR *dh = opendir(dirs[d]);
        if (!dh) {
            /* A root-owned 0700 /run/synack, say: its stacks exist but are
             * not this user's to observe, which is not "none running". */
            if (errno == EACCES || errno == EPERM)
                note_denied(dirs[d], denied, denied_cap);
            continue;
        }
        struct dirent *de;
        while ((de = readdir(dh)) != NULL) {
            size_t len = strlen(de->d_name);
            if (len <= 5 || strcmp(de->d_name + len - 5, ".sock") || len - 5 >= sizeof(v->name))
                continue;
            char path[SK_CONTROL_PATH_MAX];
            int pl = snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
            if (pl < 0 || (size_t)pl >= sizeof(path))
                continue;
            int probe = socket_probe(path);
            if (probe == -EACCES || probe == -EPERM)
                note_denied(path, denied, denied_cap);
            if (probe < 0)
                continue;
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                dup |= !strncmp(v[k].name, de->d_name, len - 5) && v[k].name[len - 5] == '\0';
            if (dup)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                sk_control_entry *grown = realloc(v, cap * sizeof(*grown));
                if (!grown)
                    break;
                v = grown;
            }
            snprintf(v[n].name, sizeof(v[n].name), "%.*s", (int)(len - 5), de->d_name);
            snprintf(v[n].path, sizeof(v[n].path), "%s", path);
            n++;
        }
        closedir(dh);
    }
    if (n)
        qsort(v, n, sizeof(*v), entry_cmp);
    *out = v;
    return n;
}

static void list_names(const sk_control_entry *v, size_t n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", v[i].name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

int sk_control_find(const char *want, char *path, size_t cap, char *err, size_t errlen)
{
    if (want && strchr(want, '/')) {
        snprintf(path, cap, "%s", want);
        return 0;
    }
    sk_control_entry *v = NULL;
    char denied[SK_CONTROL_PATH_MAX + 96];
    size_t n = sk_control_scan(&v, denied, sizeof(denied));
    char names[512];
    list_names(v, n, names, sizeof(names));
    int rc = -1;
    if (n == 0 && denied[0]) {
        snprintf(err, errlen, "%s: a stack there belongs to another user; run as that user (e.g. with sudo)",
                 denied);
    } else if (n == 0) {
        char dirs[2][SK_CONTROL_PATH_MAX];
        size_t nd = search_dirs(dirs);
        snprintf(err, errlen,
                 "no synack stack is running (no control socket answers in %s%s%s); start one with "
                 "`synack demo --hold`, `synack serve` or `synack connect`",
                 dirs[0], nd > 1 ? " or " : "", nd > 1 ? dirs[1] : "");
    } else if (!want) {
        if (n == 1) {
            snprintf(path, cap, "%s", v[0].path);
            rc = 0;
        } else {
            snprintf(err, errlen, "%zu synack stacks are running: %s; pick one with -N NAME", n, names);
        }
    } else {
        size_t wl = strlen(want);
        if (wl > 5 && !strcmp(want + wl - 5, ".sock"))
            wl -= 5;
        size_t exact = n, prefix = n, nprefix = 0;
        for (size_t i = 0; i < n; i++) {
            if (strlen(v[i].name) == wl && !strncmp(v[i].name, want, wl))
                exact = i;
            else if (!strncmp(v[i].name, want, wl)) {
                prefix = i;
                nprefix++;
            }
        }
        if (exact < n || nprefix == 1) {
            snprintf(path, cap, "%s", v[exact < n ? exact : prefix].path);
            rc = 0;
        } else if (nprefix > 1) {
            snprintf(err, errlen, "'%s' matches several running stacks: %s; give the full name", want, names);
        } else {
            snprintf(err, errlen, "no stack named '%s' is running; running: %s%s%s", want, names,
                     denied[0] ? "; and " : "", denied);
        }
    }
    free(v);
    return rc;
}

void sk_control_reply_free(sk_control_reply *reply)
{
    free(reply->out);
    free(reply->err);
    memset(reply, 0, sizeof(*reply));
}

/* Reads "K <len>\n" then len bytes from the buffer at *pos. */
static bool take_record(const char *buf, size_t len, size_t *pos, char kind, char **data, size_t *dlen)
{
    if (*pos + 2 > len || buf[*pos] != kind || buf[*pos + 1] != ' ')
        return false;
    const char *nl = memchr(buf + *pos, '\n', len - *pos);
    if (!nl)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(buf + *pos + 2, &end, 10);
    if (errno || end != nl)
        return false;
    size_t start = (size_t)(nl - buf) + 1;
    if (n > len - start)
        return false;
    if (data) {
        *data = malloc((size_t)n + 1);
        if (!*data)
            return false;
        memcpy(*data, buf + start, (size_t)n);
        (*data)[n] = '\0';
        *dlen = (size_t)n;
    }
    *pos = start + (size_t)n;
    return true;
}

int sk_control_call(const char *path, int argc, char *const *argv, sk_control_reply *reply, char *msg, size_t msglen)
{
    memset(reply, 0, sizeof(*reply));
    char line[CONTROL_LINE_MAX];
    int len = sk_control_encode(argc, argv, line, sizeof(line));
    if (len < 0) {
        snprintf(msg, msglen, "the request is too long or holds a newline");
        return -EINVAL;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, msglen, "socket: %s", strerror(errno));
        return -errno;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        close(fd);
        snprintf(msg, msglen, "%s: path too long for a Unix socket", path);
        return -ENAMETOOLONG;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (e == EACCES || e == EPERM) {
            char denied[SK_CONTROL_PATH_MAX + 96] = "";
            note_denied(path, denied, sizeof(denied));
            snprintf(msg, msglen, "%s: the stack belongs to another user; run as that user (e.g. with sudo)",
                     denied);
        } else {
            snprintf(msg, msglen, "connect %s: %s", path, strerror(e));
        }
        close(fd);
        return -e;
    }
    for (int off = 0; off < len;) {
        ssize_t n = send(fd, line + off, (size_t)(len - off), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            snprintf(msg, msglen, "sending to %s: %s", path, strerror(e));
            close(fd);
            return -e;
        }
        off += (int)n;
    }
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    int rc = 0;
    for (;;) {
        if (blen + 4096 > bcap) {
            bcap = bcap ? bcap * 2 : 16384;
            char *grown = realloc(buf, bcap);
            if (!grown) {
                rc = -ENOMEM;
                snprintf(msg, msglen, "out of memory");
                break;
            }
            buf = grown;
        }
        ssize_t n = recv(fd, buf + blen, bcap - blen, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            snprintf(msg, msglen, "reading from %s: %s", path,
                     errno == EAGAIN ? "no answer within 5 s" : strerror(errno));
            break;
        }
        if (n == 0)
            break;
        blen += (size_t)n;
    }
    close(fd);
    if (rc == 0) {
        size_t pos = 0;
        if (!take_record(buf, blen, &pos, 'O', &reply->out, &reply->out_len) ||
            !take_record(buf, blen, &pos, 'E', &reply->err, &reply->err_len) || pos + 2 > blen ||
            buf[pos] != 'X' || buf[pos + 1] != ' ') {
            rc = -EPROTO;
            snprintf(msg, msglen, "%s answered something that is not a synack control reply", path);
        } else {
            reply->status = atoi(buf + pos + 2);
        }
    }
    free(buf);
    if (rc < 0)
        sk_control_reply_free(reply);
    return rc;
}
