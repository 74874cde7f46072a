/*
 * synack-conformance: runs the packetdrill conformance tiers kept under
 * shared/conformance and holds the results to an expectations file.  A
 * test tool, built beside the tests and not installed (ctest's
 * `conformance` and `conformance_so`, `make conformance`); the user's
 * `synack script` runs one script the same way.
 *
 * Each script runs in its own child process (a few at a time), so a crash
 * or a hang in the engine costs one script, not the run, and the whole run
 * takes seconds on two cores.  Paths in results and in the expectations file
 * are relative to packetdrill-gtests/, as in the tier lists.
 *
 * The expectations file lists every script expected not to pass, one per
 * line, as `PATH FAIL|SKIP reason`; `#` starts a comment.  The run fails when
 * a script not listed does not pass, when a listed script passes (the file
 * must stay true) and when a listed outcome differs from the one observed.
 */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "script/script.h"

/* ctest's SKIP_RETURN_CODE: the shared test data is not there. */
#define CONF_EXIT_SKIP 77
#define CONF_MAX_TIERS 9
#define CONF_MSG_MAX 2048

typedef enum conf_outcome { CONF_PASS, CONF_FAIL, CONF_SKIP, CONF_NONE } conf_outcome;

static const char *outcome_word(conf_outcome o)
{
    switch (o) {
    case CONF_PASS: return "PASS";
    case CONF_FAIL: return "FAIL";
    case CONF_SKIP: return "SKIP";
    case CONF_NONE: break;
    }
    return "NONE";
}

typedef struct conf_job {
    int tier;
    char *path;               /* relative to packetdrill-gtests/ */
    conf_outcome outcome;
    char *msg;
    /* while running */
    pid_t pid;
    int fd;
    char buf[CONF_MSG_MAX + 2];
    size_t used;
    double started;
} conf_job;

typedef struct conf_expect {
    char *path;
    conf_outcome outcome;
    char *reason;
    int line;
    bool seen;
} conf_expect;

typedef struct conf_list {
    char **items;
    size_t count, cap;
} conf_list;

static void conf_usage(FILE *out)
{
    fprintf(out,
            "usage: synack-conformance [--shared DIR] [--expect FILE] [--tier N]... [-j N]\n"
            "                          [--timeout SEC] [--so PATH] [--ip_version V]\n"
            "                          [--write-expectations] [-v]\n"
            "  Runs the packetdrill scripts of DIR/conformance/tierN-*.txt (all tiers unless\n"
            "  --tier is given), skipping those in out-of-scope.txt, each in a fresh stack in\n"
            "  virtual time.  Prints `tierN: P passed, F failed, S skipped` per tier, then the\n"
            "  failures, then compares the results with the expectations FILE.\n"
            "  --shared DIR          the shared data directory (default $SYNACK_SHARED_DIR)\n"
            "  --expect FILE         scripts expected to fail or skip: `PATH FAIL|SKIP reason`\n"
            "  --expect-overlay F    entries of F replace FILE's for the same script: the\n"
            "                        few outcomes that differ under --so or in IPv6\n"
            "                        (repeatable; a later file's entry wins)\n"
            "  --tier N              run tier N only (repeatable)\n"
            "  -j N                  scripts run at once (default: the number of CPUs)\n"
            "  --timeout SEC         real-time limit per script (default 60)\n"
            "  --write-expectations  rewrite FILE from this run: drop scripts that now pass,\n"
            "                        correct outcomes, keep reasons and comments, and append\n"
            "                        new entries (reason: the runner's message) to review\n"
            "  --so PATH             drive the packetdrill shared object PATH (e.g.\n"
            "                        build/libsynack-packetdrill.so) through packetdrill's\n"
            "                        struct packetdrill_interface instead of the linked\n"
            "                        engine (see `synack script --help`)\n"
            "  --ip_version V        run every script that names no version as ipv4\n"
            "                        (default), ipv6 or ipv4-mapped-ipv6, as the kernel\n"
            "                        runner's second pass does\n"
            "  -v                    also list skipped scripts with their reasons\n"
            "exit status: 0 results as expected, 1 not, 2 usage error, 77 DIR missing\n");
}

static void *xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "synack-conformance: out of memory\n");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = xalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

static void list_add(conf_list *l, const char *s)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **items = realloc(l->items, cap * sizeof(*items));
        if (!items) {
            fprintf(stderr, "synack-conformance: out of memory\n");
            exit(1);
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = xstrdup(s);
}

static bool list_has(const conf_list *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i], s))
            return true;
    return false;
}

static void list_free(conf_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

/* One path per line; blank lines and `#` comments are ignored. */
static bool read_list(const char *file, conf_list *out)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return false;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *p = trim(line);
        if (*p)
            list_add(out, p);
    }
    fclose(f);
    return true;
}

/* The tier lists are named tierN-WHAT.txt. */
static bool find_tier_file(const char *confdir, int tier, char *out, size_t outlen)
{
    DIR *d = opendir(confdir);
    if (!d)
        return false;
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "tier%d-", tier);
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (!strncmp(de->d_name, prefix, strlen(prefix)) && n > 4 && !strcmp(de->d_name + n - 4, ".txt")) {
            snprintf(out, outlen, "%s/%s", confdir, de->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --so PATH, made absolute: children chdir() before loading it. */
static const char *conf_so_path;
/* --ip_version: the pass's version for scripts that name none. */
static const char *conf_ip_version;

/* In the child: run one script, write "P|F|S message" to fd, exit. */
static void run_child(const char *gtests, const char *path, int fd)
{
    char msg[CONF_MSG_MAX];
    char rec[CONF_MSG_MAX + 2];
    conf_outcome o = CONF_FAIL;
    msg[0] = 0;
    /* Scripts name ../common/defaults.sh relative to themselves and the
     * runner's messages name the path it was given: run from gtests/ so
     * both are as the tier lists write them. */
    if (chdir(gtests) != 0) {
        snprintf(msg, sizeof(msg), "cannot enter %.1000s: %s", gtests, strerror(errno));
    } else {
        sk_script *s = sk_script_parse_file(path, msg, sizeof(msg));
        if (s) {
            sk_script_run_opts opts = {.so_path = conf_so_path, .ip_version = conf_ip_version};
            switch (sk_script_run(s, &opts, msg, sizeof(msg))) {
            case SK_SCRIPT_PASS: o = CONF_PASS; break;
            case SK_SCRIPT_FAIL: o = CONF_FAIL; break;
            case SK_SCRIPT_SKIP: o = CONF_SKIP; break;
            }
            sk_script_free(s);
        }
    }
    int n = snprintf(rec, sizeof(rec), "%c%s", outcome_word(o)[0], msg);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(rec) ? (size_t)n : sizeof(rec) - 1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, rec + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    /* exit(), not _exit(): under ASan the leak check runs at exit and a
     * report turns the status non-zero, which the parent reports. */
    exit(0);
}

static void job_set(conf_job *j, conf_outcome o, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void job_set(conf_job *j, conf_outcome o, const char *fmt, ...)
{
    char msg[CONF_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    j->outcome = o;
    free(j->msg);
    j->msg = xstrdup(msg);
}

static void job_finish(conf_job *j, bool timed_out, int timeout)
{
    int status = 0;
    if (timed_out)
        kill(j->pid, SIGKILL);
    while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(j->fd);
    j->fd = -1;
    j->buf[j->used] = 0;
    if (timed_out) {
        job_set(j, CONF_FAIL, "%s: still running after %d s of real time (killed)", j->path, timeout);
    } else if (WIFSIGNALED(status)) {
        job_set(j, CONF_FAIL, "%s: the runner died of signal %d (%s)%s%s", j->path, WTERMSIG(status),
                strsignal(WTERMSIG(status)), j->used ? " after: " : "", j->used ? j->buf + 1 : "");
    } else if (j->used == 0) {
        job_set(j, CONF_FAIL, "%s: the runner exited with status %d before reporting", j->path,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        job_set(j, CONF_FAIL, "%s: the runner exited with status %d after its %s (a sanitizer report?) %s",
                j->path, WEXITSTATUS(status), j->buf[0] == 'P' ? "PASS" : "result", j->buf + 1);
    } else {
        conf_outcome o = j->buf[0] == 'P' ? CONF_PASS : j->buf[0] == 'S' ? CONF_SKIP : CONF_FAIL;
        job_set(j, o, "%s", j->buf + 1);
    }
}

/* Runs every job, at most `parallel` at once. */
static void run_jobs(conf_job *jobs, size_t count, const char *gtests, int parallel, int timeout)
{
    size_t next = 0, running = 0;
    conf_job **active = xalloc((size_t)parallel * sizeof(*active));
    struct pollfd *pfds = xalloc((size_t)parallel * sizeof(*pfds));
    while (next < count || running > 0) {
        while (running < (size_t)parallel && next < count) {
            conf_job *j = &jobs[next++];
            int p[2];
            if (pipe(p) != 0) {
                job_set(j, CONF_FAIL, "%s: pipe: %s", j->path, strerror(errno));
                continue;
            }
            fflush(stdout);
            fflush(stderr);
            pid_t pid = fork();
            if (pid < 0) {
                close(p[0]);
                close(p[1]);
                job_set(j, CONF_FAIL, "%s: fork: %s", j->path, strerror(errno));
                continue;
            }
            if (pid == 0) {
                close(p[0]);
                for (size_t k = 0; k < running; k++)
                    close(active[k]->fd);
                run_child(gtests, j->path, p[1]);
            }
            close(p[1]);
            j->pid = pid;
            j->fd = p[0];
            j->used = 0;
            j->started = mono_seconds();
            active[running++] = j;
        }
        for (size_t k = 0; k < running; k++)
            pfds[k] = (struct pollfd){.fd = active[k]->fd, .events = POLLIN};
        int rc = poll(pfds, running, 200);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "synack-conformance: poll: %s\n", strerror(errno));
            exit(1);
        }
        double now = mono_seconds();
        for (size_t k = 0; k < running;) {
            conf_job *j = active[k];
            bool ended = false, timed_out = false;
            if (rc > 0 && (pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) {
                char tmp[512];
                ssize_t n = read(j->fd, tmp, sizeof(tmp));
                if (n > 0) {
                    size_t room = CONF_MSG_MAX + 1 - j->used;
                    size_t take = (size_t)n < room ? (size_t)n : room;
                    memcpy(j->buf + j->used, tmp, take);
                    j->used += take;
                } else if (n == 0 || errno != EINTR) {
                    ended = true;
                }
            }
            if (!ended && now - j->started > timeout)
                ended = timed_out = true;
            if (ended) {
                job_finish(j, timed_out, timeout);
                active[k] = active[--running];
                pfds[k] = pfds[running];
            } else {
                k++;
            }
        }
    }
    free(active);
    free(pfds);
}

static conf_outcome parse_outcome(const char *w)
{
    if (!strcmp(w, "FAIL"))
        return CONF_FAIL;
    if (!strcmp(w, "SKIP"))
        return CONF_SKIP;
    return CONF_NONE;
}

/* Reads FILE; a malformed line is an error (the file must stay exact). */
static bool read_expectations(const char *file, conf_expect **out, size_t *count, bool *exists)
{
    *out = NULL;
    *count = 0;
    FILE *f = fopen(file, "r");
    *exists = f != NULL;
    if (!f)
        return errno == ENOENT;
    size_t cap = 0;
    char line[4096];
    int lineno = 0;
    bool ok = true;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = trim(line);
        if (!*p || *p == '#')
            continue;
        char *path = strtok(p, " \t");
        char *word = strtok(NULL, " \t");
        char *reason = strtok(NULL, "");
        conf_outcome o = word ? parse_outcome(word) : CONF_NONE;
        reason = reason ? trim(reason) : NULL;
        if (o == CONF_NONE || !reason || !*reason) {
            fprintf(stderr, "%s:%d: expected `PATH FAIL|SKIP reason`\n", file, lineno);
            ok = false;
            continue;
        }
        for (size_t i = 0; i < *count; i++) {
            if (!strcmp((*out)[i].path, path)) {
                fprintf(stderr, "%s:%d: %s is already listed on line %d\n", file, lineno, path, (*out)[i].line);
                ok = false;
            }
        }
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            conf_expect *n = realloc(*out, cap * sizeof(**out));
            if (!n) {
                fprintf(stderr, "synack-conformance: out of memory\n");
                exit(1);
            }
            *out = n;
        }
        (*out)[(*count)++] = (conf_expect){xstrdup(path), o, xstrdup(reason), lineno, false};
    }
    fclose(f);
    return ok;
}

static conf_expect *find_expect(conf_expect *e, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(e[i].path, path))
            return &e[i];
    return NULL;
}

/* --expect-overlay FILE: a second backend (--so) shares the expectations
 * file, and the few scripts whose outcome legitimately differs there are
 * listed in an overlay whose entries replace the main file's. */
static bool apply_overlay(const char *file, conf_expect **exp, size_t *nexp)
{
    conf_expect *ov = NULL;
    size_t nov = 0;
    bool exists = false;
    bool ok = read_expectations(file, &ov, &nov, &exists);
    if (!exists) {
        fprintf(stderr, "synack-conformance: cannot read %s\n", file);
        ok = false;
    }
    for (size_t i = 0; i < nov; i++) {
        conf_expect *e = find_expect(*exp, *nexp, ov[i].path);
        if (e) {
            free(e->reason);
            free(ov[i].path);
            e->outcome = ov[i].outcome;
            e->reason = ov[i].reason;
            continue;
        }
        conf_expect *n = realloc(*exp, (*nexp + 1) * sizeof(**exp));
        if (!n) {
            fprintf(stderr, "synack-conformance: out of memory\n");
            exit(1);
        }
        *exp = n;
        (*exp)[(*nexp)++] = ov[i];
    }
    free(ov);
    return ok;
}

static const conf_job *find_job(const conf_job *jobs, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(jobs[i].path, path))
            return &jobs[i];
    return NULL;
}

/* The runner's message starts with "path:line: "; the reason of a new
 * entry keeps only what follows the path. */
static const char *message_body(const conf_job *j)
{
    size_t n = strlen(j->path);
    if (!strncmp(j->msg, j->path, n) && j->msg[n] == ':') {
        const char *p = j->msg + n + 1;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == ':')
            p++;
        while (*p == ' ')
            p++;
        return p;
    }
    return j->msg;
}

/* Rewrites FILE in place: comments and order are kept, entries for scripts
 * that now pass are dropped, outcomes are corrected (reason kept), and
 * scripts newly failing or skipping are appended under a marker comment,
 * their reason being the runner's message until someone writes a real one.
 * Entries of tiers not run this time are kept untouched; with every tier
 * run, an entry naming no script run is dropped as stale. */
static int write_expectations(const char *file, const conf_job *jobs, size_t njobs, bool all_tiers)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    FILE *in = fopen(file, "r");
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "synack-conformance: cannot write %s: %s\n", tmp, strerror(errno));
        if (in)
            fclose(in);
        return 1;
    }
    conf_list listed = {0};
    unsigned dropped = 0, changed = 0, added = 0;
    if (!in) {
        fprintf(out, "# Conformance scripts expected not to pass: `PATH FAIL|SKIP reason`.\n"
                     "# Checked by `synack-conformance` (make conformance, ctest -R conformance).\n\n");
    }
    char line[4096];
    while (in && fgets(line, sizeof(line), in)) {
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", line);
        char *p = trim(copy);
        if (!*p || *p == '#') {
            fputs(line, out);
            continue;
        }
        char *path = strtok(p, " \t");
        char *word = strtok(NULL, " \t");
        char *reason = strtok(NULL, "");
        static char no_reason[1];
        reason = reason ? trim(reason) : no_reason;
        list_add(&listed, path);
        const conf_job *j = find_job(jobs, njobs, path);
        if (!j && all_tiers) {
            printf("expectations: dropped %s (in no tier list, or out of scope)\n", path);
            dropped++;
            continue;
        }
        if (!j) {
            fputs(line, out);
            continue;
        }
        if (j->outcome == CONF_PASS) {
            printf("expectations: dropped %s (now passes)\n", path);
            dropped++;
            continue;
        }
        if (!word || parse_outcome(word) != j->outcome) {
            printf("expectations: %s is now %s\n", path, outcome_word(j->outcome));
            changed++;
        }
        fprintf(out, "%s %s %s\n", path, outcome_word(j->outcome), reason);
    }
    bool header = false;
    for (size_t i = 0; i < njobs; i++) {
        const conf_job *j = &jobs[i];
        if (j->outcome == CONF_PASS || list_has(&listed, j->path))
            continue;
        if (!header) {
            fprintf(out, "\n# New since the last review: the reason is the runner's message; write a\n"
                         "# real one and move the line under its group.\n");
            header = true;
        }
        fprintf(out, "%s %s %s\n", j->path, outcome_word(j->outcome), message_body(j));
        printf("expectations: added %s %s\n", j->path, outcome_word(j->outcome));
        added++;
    }
    if (in)
        fclose(in);
    list_free(&listed);
    if (fclose(out) != 0 || rename(tmp, file) != 0) {
        fprintf(stderr, "synack-conformance: cannot write %s: %s\n", file, strerror(errno));
        return 1;
    }
    printf("expectations: wrote %s (%u dropped, %u changed, %u added)\n", file, dropped, changed, added);
    return 0;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv)
{
    const char *shared = getenv("SYNACK_SHARED_DIR");
    const char *expect_file = NULL;
    /* Overlays apply in order, a later one's entry replacing an earlier
     * one's: the .so's and the IPv6 pass's differences combine. */
    const char *overlay_files[4] = {NULL};
    size_t noverlays = 0;
    bool tiers_wanted[CONF_MAX_TIERS + 1] = {false};
    bool any_tier = false, write_mode = false, verbose = false;
    long parallel = sysconf(_SC_NPROCESSORS_ONLN);
    int timeout = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            conf_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--shared") && v) {
            shared = v;
            i++;
        } else if (!strcmp(a, "--expect") && v) {
            expect_file = v;
            i++;
        } else if (!strcmp(a, "--expect-overlay") && v) {
            if (noverlays == sizeof(overlay_files) / sizeof(overlay_files[0])) {
                fprintf(stderr, "synack-conformance: at most 4 --expect-overlay files\n");
                return 2;
            }
            overlay_files[noverlays++] = v;
            i++;
        } else if (!strcmp(a, "--tier") && v) {
            int t = atoi(v);
            if (t < 1 || t > CONF_MAX_TIERS) {
                fprintf(stderr, "synack-conformance: bad tier %s\n", v);
                return 2;
            }
            tiers_wanted[t] = any_tier = true;
            i++;
        } else if (!strcmp(a, "--so") && v) {
            static char so_abs[PATH_MAX];
            if (!realpath(v, so_abs)) {
                fprintf(stderr, "synack-conformance: %s: %s\n", v, strerror(errno));
                return 2;
            }
            conf_so_path = so_abs;
            i++;
        } else if (!strcmp(a, "--ip_version") && v) {
            if (strcmp(v, "ipv4") && strcmp(v, "ipv6") && strcmp(v, "ipv4-mapped-ipv6")) {
                fprintf(stderr, "synack-conformance: --ip_version ipv4, ipv6 or ipv4-mapped-ipv6, not %s\n", v);
                return 2;
            }
            conf_ip_version = v;
            i++;
        } else if (!strcmp(a, "-j") && v) {
            parallel = atol(v);
            i++;
        } else if (!strcmp(a, "--timeout") && v) {
            timeout = atoi(v);
            i++;
        } else if (!strcmp(a, "--write-expectations")) {
            write_mode = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else {
            fprintf(stderr, "synack-conformance: unknown or incomplete option %s\n", a);
            conf_usage(stderr);
            return 2;
        }
    }
    if (parallel < 1)
        parallel = 1;
    if (parallel > 64)
        parallel = 64;
    if (timeout < 1)
        timeout = 1;
    if (write_mode && !expect_file) {
        fprintf(stderr, "synack-conformance: --write-expectations needs --expect FILE\n");
        return 2;
    }
    char confdir[2048], gtests[2200];
    snprintf(confdir, sizeof(confdir), "%s/conformance", shared ? shared : "");
    snprintf(gtests, sizeof(gtests), "%s/packetdrill-gtests", confdir);
    if (!shared || !is_dir(gtests)) {
        printf("conformance: SKIP: no conformance scripts at %s (set --shared DIR or SYNACK_SHARED_DIR)\n",
               shared ? gtests : "(no --shared DIR given)");
        return CONF_EXIT_SKIP;
    }

    conf_list out_of_scope = {0};
    char file[4096];
    snprintf(file, sizeof(file), "%s/out-of-scope.txt", confdir);
    read_list(file, &out_of_scope);

    conf_job *jobs = NULL;
    size_t njobs = 0, cap = 0;
    int tiers[CONF_MAX_TIERS];
    size_t ntiers = 0;
    for (int t = 1; t <= CONF_MAX_TIERS; t++) {
        if (any_tier && !tiers_wanted[t])
            continue;
        if (!find_tier_file(confdir, t, file, sizeof(file))) {
            if (tiers_wanted[t]) {
                fprintf(stderr, "synack-conformance: no %s/tier%d-*.txt\n", confdir, t);
                return 2;
            }
            continue;
        }
        conf_list scripts = {0};
        if (!read_list(file, &scripts)) {
            fprintf(stderr, "synack-conformance: cannot read %s\n", file);
            return 1;
        }
        tiers[ntiers++] = t;
        for (size_t i = 0; i < scripts.count; i++) {
            if (list_has(&out_of_scope, scripts.items[i]))
                continue;
            if (njobs == cap) {
                cap = cap ? cap * 2 : 128;
                conf_job *n = realloc(jobs, cap * sizeof(*jobs));
                if (!n) {
                    fprintf(stderr, "synack-conformance: out of memory\n");
                    return 1;
                }
                jobs = n;
            }
            jobs[njobs++] = (conf_job){.tier = t, .path = xstrdup(scripts.items[i]), .outcome = CONF_NONE, .fd = -1};
        }
        list_free(&scripts);
    }
    if (ntiers == 0) {
        fprintf(stderr, "synack-conformance: no tier lists in %s\n", confdir);
        return 1;
    }

    run_jobs(jobs, njobs, gtests, (int)parallel, timeout);

    for (size_t k = 0; k < ntiers; k++) {
        unsigned p = 0, f = 0, s = 0;
        for (size_t i = 0; i < njobs; i++) {
            if (jobs[i].tier != tiers[k])
                continue;
            p += jobs[i].outcome == CONF_PASS;
            f += jobs[i].outcome == CONF_FAIL;
            s += jobs[i].outcome == CONF_SKIP;
        }
        printf("tier%d: %u passed, %u failed, %u skipped\n", tiers[k], p, f, s);
    }
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].outcome == CONF_FAIL)
            printf("FAIL %s: %s\n", jobs[i].path, jobs[i].msg);
    if (verbose)
        for (size_t i = 0; i < njobs; i++)
            if (jobs[i].outcome == CONF_SKIP)
                printf("SKIP %s: %s\n", jobs[i].path, jobs[i].msg);

    int rc = 0;
    if (write_mode) {
        rc = write_expectations(expect_file, jobs, njobs, !any_tier);
    } else if (expect_file) {
        conf_expect *exp = NULL;
        size_t nexp = 0;
        bool exists = false;
        if (!read_expectations(expect_file, &exp, &nexp, &exists)) {
            fprintf(stderr, "synack-conformance: %s is malformed\n", expect_file);
            rc = 1;
        }
        for (size_t k = 0; k < noverlays; k++) {
            if (!apply_overlay(overlay_files[k], &exp, &nexp)) {
                fprintf(stderr, "synack-conformance: %s is malformed\n", overlay_files[k]);
                rc = 1;
            }
        }
        unsigned as_expected = 0, wrong = 0;
        for (size_t i = 0; i < njobs; i++) {
            const conf_job *j = &jobs[i];
            conf_expect *e = find_expect(exp, nexp, j->path);
            conf_outcome want = e ? e->outcome : CONF_PASS;
            if (e)
                e->seen = true;
            if (j->outcome == want) {
                as_expected++;
                continue;
            }
            wrong++;
            if (!e)
                printf("UNEXPECTED %s %s: expected to pass (fix it, or list it in %s with its reason)\n",
                       outcome_word(j->outcome), j->path, expect_file);
            else if (j->outcome == CONF_PASS)
                printf("UNEXPECTED PASS %s: listed as %s (\"%s\"): remove it from %s\n", j->path,
                       outcome_word(e->outcome), e->reason, expect_file);
            else
                printf("UNEXPECTED %s %s: listed as %s (\"%s\"): update %s\n", outcome_word(j->outcome), j->path,
                       outcome_word(e->outcome), e->reason, expect_file);
        }
        /* With every tier run, an entry naming no script run is stale
         * (renamed, moved out of scope, or a typo). */
        for (size_t i = 0; i < nexp && !any_tier; i++) {
            if (exp[i].seen)
                continue;
            wrong++;
            printf("STALE %s:%d: %s is in no tier list or is out of scope: remove it\n", expect_file,
                   exp[i].line, exp[i].path);
        }
        if (wrong) {
            printf("conformance: %u scripts as expected, %u not: fix them or update %s\n"
                   "  (`synack-conformance --shared DIR --expect FILE --write-expectations` rewrites it)\n",
                   as_expected, wrong, expect_file);
            rc = 1;
        } else {
            printf("conformance: all %u scripts as expected by %s%s\n", as_expected, expect_file,
                   exists ? "" : " (absent: every script expected to pass)");
        }
        for (size_t i = 0; i < nexp; i++) {
            free(exp[i].path);
            free(exp[i].reason);
        }
        free(exp);
    } else {
        for (size_t i = 0; i < njobs; i++)
            if (jobs[i].outcome == CONF_FAIL)
                rc = 1;
    }
    for (size_t i = 0; i < njobs; i++) {
        free(jobs[i].path);
        free(jobs[i].msg);
    }
    free(jobs);
    list_free(&out_of_scope);
    return rc;
}
