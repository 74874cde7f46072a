/*
 * `synack ss`, `synack nstat`, `synack netstat -s` and `synack sysctl`:
 * clients of the control socket (src/observe/control.h) of a running
 * synack process, which computes the answer from its live stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "observe/control.h"
#include "observe/nstat.h"

/* The words of a request, with -N NAME taken out. */
typedef struct request {
    const char *cmd; /* "synack ss", for messages */
    const char *stack_name;
    char **argv;
    int argc;
} request;

static void print_lines_prefixed(FILE *f, const char *prefix, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        fprintf(f, "%s%.*s", prefix, (int)n, p);
        if (!nl)
            fputc('\n', f);
        p += n;
    }
}

/* Takes -N NAME / -NNAME / --name NAME / --name=NAME out of argv (whose
 * argv[0] becomes the request's command word `word`). */
static int split_name(request *r, const char *cmd, const char *word, int argc, char **argv)
{
    r->cmd = cmd;
    r->stack_name = NULL;
    r->argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!r->argv) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return -1;
    }
    r->argc = 0;
    r->argv[r->argc++] = (char *)word;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-N") || !strcmp(a, "--name")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s wants the name of a running stack\n", cmd, a);
                return -1;
            }
            r->stack_name = argv[++i];
        } else if (!strncmp(a, "--name=", 7)) {
            r->stack_name = a + 7;
        } else if (!strncmp(a, "-N", 2) && a[2]) {
            r->stack_name = a + 2;
        } else {
            r->argv[r->argc++] = argv[i];
        }
    }
    return 0;
}

/* Finds the stack and asks it; prints the reply's stderr.  Returns the
 * exit status, or -1 when the reply is in `reply` for the caller. */
static int ask(const request *r, sk_control_reply *reply, char *path, size_t cap)
{
    char err[1024];
    if (sk_control_find(r->stack_name, path, cap, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", r->cmd, err);
        return SK_CLI_EXIT_FAIL;
    }
    if (sk_control_call(path, r->argc, r->argv, reply, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", r->cmd, err);
        return SK_CLI_EXIT_FAIL;
    }
    if (reply->err_len)
        print_lines_prefixed(stderr, "synack ", reply->err, reply->err_len);
    return -1;
}

/* Relays the request and prints the answer as it comes. */
static int relay(const char *cmd, const char *word, int argc, char **argv)
{
    request r;
    if (split_name(&r, cmd, word, argc, argv) < 0) {
        free(r.argv);
        return SK_CLI_EXIT_USAGE;
    }
    sk_control_reply reply;
    char path[SK_CONTROL_PATH_MAX];
    int rc = ask(&r, &reply, path, sizeof(path));
    free(r.argv);
    if (rc >= 0)
        return rc;
    fwrite(reply.out, 1, reply.out_len, stdout);
    rc = reply.status;
    sk_control_reply_free(&reply);
    fflush(stdout);
    return rc;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

static void list_running(FILE *out)
{
    sk_control_entry *v = NULL;
    char denied[SK_CONTROL_PATH_MAX + 96];
    size_t n = sk_control_scan(&v, denied, sizeof(denied));
    if (!n && denied[0])
        fprintf(out, "\nno synack stack of this user is running now (%s).\n", denied);
    else if (!n)
        fprintf(out, "\nno synack stack is running now.\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s  (%s)\n", i ? "" : "\nrunning now:\n", v[i].name, v[i].path);
    free(v);
}

/* ------------------------------------------------------------------ */
/* ss                                                                    */
/* ------------------------------------------------------------------ */

int sk_cmd_ss(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: synack ss [-N NAME] [-tan] [-l] [-o] [-i] [-s] [-H] [-4|-6] [--json] [state STATE]...\n"
               "                 [exclude STATE]... [FILTER]\n"
               "\n"
               "The socket table of a running synack stack, as ss(8) prints the kernel's.\n"
               "  -a  all sockets (without it, listeners, closed, SYN-RECV and TIME-WAIT are hidden)\n"
               "  -l  listening sockets only     -n  numeric ports     -H  no header line\n"
               "  -o  timers: timer:(on|keepalive|timewait|persist,TIME,RETRANS)\n"
               "  -i  TCP_INFO details            -s  summary          --json  JSON array\n"
               "  -4  IPv4 sockets (all of synack's)   -6  IPv6 sockets (none)\n"
               "  -N NAME  the stack to ask (needed when several run)\n"
               "states: established syn-sent syn-recv fin-wait-1 fin-wait-2 time-wait closed\n"
               "        close-wait last-ack listening closing; groups: all connected synchronized\n"
               "        bucket big\n"
               "filter: sport|dport OP [:]PORT, src|dst ADDR[/N][:PORT] (OP: = == != < > <= >=),\n"
               "        combined with and, or, not and parentheses\n");
        list_running(stdout);
        return SK_CLI_EXIT_OK;
    }
    return relay("synack ss", "ss", argc, argv);
}

/* ------------------------------------------------------------------ */
/* sysctl and netstat                                                    */
/* ------------------------------------------------------------------ */

int sk_cmd_sysctl(int argc, char **argv)
{
    if (wants_help(argc, argv) || argc < 2) {
        FILE *out = argc < 2 ? stderr : stdout;
        fprintf(out, "usage: synack sysctl [-N NAME] (-a | NAME... | -w NAME=VALUE...) [-n] [-q] [--json]\n"
                     "\n"
                     "Reads or sets a running stack's tunables, named as Linux's sysctls.\n");
        if (argc >= 2)
            list_running(out);
        return argc < 2 ? SK_CLI_EXIT_USAGE : SK_CLI_EXIT_OK;
    }
    return relay("synack sysctl", "sysctl", argc, argv);
}

int sk_cmd_netstat(int argc, char **argv)
{
    request r;
    if (wants_help(argc, argv)) {
        printf("usage: synack netstat -s [-N NAME]\n\nA running stack's counters, worded as netstat -s.\n");
        return SK_CLI_EXIT_OK;
    }
    if (split_name(&r, "synack netstat", "netstat", argc, argv) < 0) {
        free(r.argv);
        return SK_CLI_EXIT_USAGE;
    }
    bool ok = r.argc == 2 && !strcmp(r.argv[1], "-s");
    free(r.argv);
    if (!ok) {
        fprintf(stderr, "synack netstat: only -s (statistics) is supported; try `synack ss` for sockets\n");
        return SK_CLI_EXIT_USAGE;
    }
    return relay("synack netstat", "netstat", argc, argv);
}

/* ------------------------------------------------------------------ */
/* nstat                                                                 */
/* ------------------------------------------------------------------ */

typedef struct nstat_opts {
    bool absolute, zeros, no_update, reset, no_output, json;
    char **patterns;
    size_t npatterns;
} nstat_opts;

/* nstat keeps /tmp/.nstat.u$UID; synack keeps one history per user and
 * stack, under $XDG_RUNTIME_DIR when there is one. */
static int history_path(const char *stack, char *buf, size_t cap)
{
    const char *forced = getenv("SYNACK_NSTAT_HISTORY");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (forced && *forced)
        n = snprintf(buf, cap, "%s", forced);
    else if (xdg && *xdg && access(xdg, W_OK | X_OK) == 0)
        n = snprintf(buf, cap, "%s/synack-nstat.%s", xdg, stack);
    else
        n = snprintf(buf, cap, "/tmp/.synack-nstat.u%u.%s", (unsigned)getuid(), stack);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static const char *stack_of_path(const char *path, char *buf, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".sock"))
        len -= 5;
    snprintf(buf, cap, "%.*s", (int)len, base);
    return buf;
}

static int parse_nstat(nstat_opts *o, request *r)
{
    memset(o, 0, sizeof(*o));
    int i = 1;
    for (; i < r->argc && r->argv[i][0] == '-' && r->argv[i][1]; i++) {
        const char *a = r->argv[i];
        if (!strcmp(a, "--ignore"))
            o->absolute = true;
        else if (!strcmp(a, "--zeros"))
            o->zeros = true;
        else if (!strcmp(a, "--no-update"))
            o->no_update = true;
        else if (!strcmp(a, "--reset"))
            o->reset = true;
        else if (!strcmp(a, "--nooutput"))
            o->no_output = true;
        else if (!strcmp(a, "--json"))
            o->json = true;
        else if (a[1] == '-') {
            fprintf(stderr, "synack nstat: unknown option '%s'\n", a);
            return -1;
        } else {
            for (const char *c = a + 1; *c; c++) {
                switch (*c) {
                case 'a':
                    o->absolute = true;
                    break;
                case 'z':
                    o->zeros = true;
                    break;
                case 's':
                    o->no_update = true;
                    break;
                case 'r':
                    o->reset = true;
                    break;
                case 'n':
                    o->no_output = true;
                    break;
                case 'j':
                    o->json = true;
                    break;
                default:
                    fprintf(stderr, "synack nstat: unknown option '-%c' (-a -z -s -r -n --json)\n", *c);
                    return -1;
                }
            }
        }
    }
    o->patterns = r->argv + i;
    o->npatterns = (size_t)(r->argc - i);
    return 0;
}

/* Opens the history as nstat does: never through a symlink, and only a
 * regular file of ours with one link (it may live in /tmp). */
static int open_history(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        st.st_uid != getuid()) {
        close(fd);
        return -EPERM;
    }
    return fd;
}

int sk_cmd_nstat(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: synack nstat [-N NAME] [-a] [-z] [-s] [-r] [-n] [--json] [PATTERN...]\n"
               "\n"
               "A running stack's counters as nstat(8) prints the kernel's: by default what changed\n"
               "since this user's previous `synack nstat` of that stack (history kept per stack).\n"
               "  -a  absolute values     -z  also zero counters     -s  do not update the history\n"
               "  -r  reset the history   -n  print nothing, update the history\n"
               "PATTERN: shell globs on the full names, e.g. 'Tcp*' or TcpExtTW\n");
        list_running(stdout);
        return SK_CLI_EXIT_OK;
    }
    request r;
    nstat_opts o;
    if (split_name(&r, "synack nstat", "counters", argc, argv) < 0 || parse_nstat(&o, &r) < 0) {
        free(r.argv);
        return SK_CLI_EXIT_USAGE;
    }
    int patterns_at = r.argc - (int)o.npatterns;
    r.argc = 1; /* the request is "counters"; options are applied here */
    sk_control_reply reply;
    char path[SK_CONTROL_PATH_MAX];
    int rc = ask(&r, &reply, path, sizeof(path));
    if (rc >= 0) {
        free(r.argv);
        return rc;
    }
    sk_counter_set cur, prev;
    sk_counter_set_init(&cur);
    sk_counter_set_init(&prev);
    char err[256];
    FILE *in = fmemopen(reply.out, reply.out_len ? reply.out_len : 1, "r");
    if (!in || sk_counter_set_read(in, &cur, err, sizeof(err)) < 0) {
        fprintf(stderr, "synack nstat: bad counters from %s: %s\n", path, in ? err : strerror(errno));
        rc = SK_CLI_EXIT_FAIL;
        goto out;
    }
    fclose(in);
    in = NULL;

    char stack[64], hist[512];
    stack_of_path(path, stack, sizeof(stack));
    if (history_path(stack, hist, sizeof(hist)) < 0) {
        fprintf(stderr, "synack nstat: history path too long\n");
        rc = SK_CLI_EXIT_FAIL;
        goto out;
    }
    if (o.reset)
        unlink(hist);
    int hfd = -1;
    if (!o.absolute || !o.no_update) {
        hfd = open_history(hist);
        if (hfd < 0)
            fprintf(stderr, "synack nstat: history %s: %s; showing absolute values\n", hist,
                    hfd == -EPERM ? "not a private regular file of ours" : strerror(-hfd));
    }
    bool have_prev = false;
    if (hfd >= 0 && !o.absolute) {
        FILE *hf = fdopen(dup(hfd), "r");
        if (hf) {
            have_prev = sk_counter_set_read(hf, &prev, err, sizeof(err)) == 0 && prev.n > 0 &&
                        !strcmp(prev.instance, cur.instance);
            fclose(hf);
        }
    }
    if (!o.no_output)
        sk_nstat_print(stdout, &cur, have_prev ? &prev : NULL,
                       (o.zeros ? SK_NSTAT_ZEROS : 0) | (o.json ? SK_NSTAT_JSON : 0), r.argv + patterns_at,
                       o.npatterns);
    if (hfd >= 0 && !o.no_update) {
        FILE *hf = fdopen(dup(hfd), "w");
        if (hf && ftruncate(hfd, 0) == 0 && lseek(hfd, 0, SEEK_SET) == 0) {
            sk_counter_set_write(hf, &cur);
            if (fclose(hf) != 0)
                fprintf(stderr, "synack nstat: writing %s failed\n", hist);
        } else if (hf) {
            fclose(hf);
        }
    }
    if (hfd >= 0)
        close(hfd);
    rc = reply.status;
out:
    if (in)
        fclose(in);
    sk_counter_set_free(&cur);
    sk_counter_set_free(&prev);
    sk_control_reply_free(&reply);
    free(r.argv);
    fflush(stdout);
    return rc;
}
