/*
 * The control socket (src/observe/control.c), in-process: a server for a
 * live stack in a temporary directory, and the client code `synack ss`
 * and `synack sysctl` use, talking over a real Unix socket.
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "observe/control.h"
#include "observe/ss.h"

typedef struct call {
    const char *path;
    char *const *argv;
    int argc;
    sk_control_reply reply;
    int rc;
    char msg[256];
    atomic_bool done;
} call;

static void *client_thread(void *arg)
{
    call *c = arg;
    c->rc = sk_control_call(c->path, c->argc, c->argv, &c->reply, c->msg, sizeof(c->msg));
    atomic_store(&c->done, true);
    return NULL;
}

/* Runs one client request in a thread while this thread serves it the
 * way an event loop would: wait for the control fd, then service. */
static void round_trip(sk_control *ctl, const char *path, int argc, char *const *argv, call *c)
{
    memset(c, 0, sizeof(*c));
    c->path = path;
    c->argc = argc;
    c->argv = argv;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, c), 0);
    while (!atomic_load(&c->done)) {
        struct pollfd p = {.fd = sk_control_fd(ctl), .events = POLLIN};
        if (poll(&p, 1, 20) > 0)
            sk_control_service(ctl);
    }
    pthread_join(t, NULL);
    if (c->rc < 0)
        fail_msg("request failed: %s", c->msg);
}

static char *local_ss(sk_stack *s, const char *a1)
{
    char *argv[] = {"ss", (char *)a1, NULL};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    sk_ss_run(s, sk_now(s), 2, argv, f, f);
    fclose(f);
    return out;
}

typedef struct ctl_env {
    char dir[64];
    sk_fixture *f;
    sk_conn_pair pair;
} ctl_env;

static int setup(void **state)
{
    ctl_env *e = calloc(1, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/synack-ctl-test-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    setenv(SK_CONTROL_DIR_ENV, e->dir, 1);
    e->f = sk_test_fixture_new(NULL);
    e->pair = sk_test_establish(e->f, 80);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    ctl_env *e = *state;
    sk_test_fixture_free(e->f);
    rmdir(e->dir);
    unsetenv(SK_CONTROL_DIR_ENV);
    free(e);
    return 0;
}

static void test_ss_and_sysctl_over_the_socket(void **state)
{
    ctl_env *e = *state;
    char err[256], path[SK_CONTROL_PATH_MAX], want_path[SK_CONTROL_PATH_MAX];
    sk_control *ctl = sk_control_open(NULL, "test-server", e->f->server, err, sizeof(err));
    if (!ctl)
        fail_msg("%s", err);
    snprintf(want_path, sizeof(want_path), "%s/test-server.sock", e->dir);
    assert_string_equal(sk_control_path(ctl), want_path);
    assert_string_equal(sk_control_name(ctl), "test-server");
    struct stat st;
    assert_int_equal(stat(e->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* The only stack running: found without a name. */
    assert_int_equal(sk_control_find(NULL, path, sizeof(path), err, sizeof(err)), 0);
    assert_string_equal(path, want_path);

    char *ss_argv[] = {"ss", "-tan"};
    call c;
    round_trip(ctl, path, 2, ss_argv, &c);
    char *expected = local_ss(e->f->server, "-tan");
    assert_int_equal(c.reply.status, 0);
    assert_string_equal(c.reply.out, expected);
    assert_string_equal(c.reply.err, "");
    char table[256];
    snprintf(table, sizeof(table),
             "State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n"
             "LISTEN 0      128         10.0.0.2:80        0.0.0.0:*\n"
             "ESTAB  0      0           10.0.0.2:80       10.0.0.1:%u\n",
             e->pair.cport);
    assert_string_equal(c.reply.out, table);
    free(expected);
    sk_control_reply_free(&c.reply);

    /* A write acts on the live stack. */
    char *w_argv[] = {"sysctl", "-w", "net.ipv4.tcp_fin_timeout=30"};
    round_trip(ctl, path, 3, w_argv, &c);
    assert_int_equal(c.reply.status, 0);
    assert_string_equal(c.reply.out, "net.ipv4.tcp_fin_timeout = 30\n");
    sk_control_reply_free(&c.reply);
    char v[64];
    assert_int_equal(sk_sysctl_get(e->f->server, "net.ipv4.tcp_fin_timeout", v, sizeof(v)), 0);
    assert_string_equal(v, "30");

    /* A value with blanks travels as one word. */
    char *rmem_argv[] = {"sysctl", "-w", "net.ipv4.tcp_rmem=4096 65536 1048576"};
    round_trip(ctl, path, 3, rmem_argv, &c);
    assert_int_equal(c.reply.status, 0);
    assert_string_equal(c.reply.out, "net.ipv4.tcp_rmem = 4096 65536 1048576\n");
    sk_control_reply_free(&c.reply);
    assert_int_equal(sk_sysctl_get(e->f->server, "net.ipv4.tcp_rmem", v, sizeof(v)), 0);
    assert_string_equal(v, "4096\t65536\t1048576");

    /* A refused value: the engine's message, a failing status. */
    char msg[256], want_err[300];
    sk_sysctl_set(e->f->server, "net.ipv4.tcp_fin_timeout", "-5x", msg, sizeof(msg));
    snprintf(want_err, sizeof(want_err), "sysctl: %s\n", msg);
    char *bad_argv[] = {"sysctl", "-w", "net.ipv4.tcp_fin_timeout=-5x"};
    round_trip(ctl, path, 3, bad_argv, &c);
    assert_int_equal(c.reply.status, 1);
    assert_string_equal(c.reply.out, "");
    assert_string_equal(c.reply.err, want_err);
    sk_control_reply_free(&c.reply);

    char *what_argv[] = {"frobnicate"};
    round_trip(ctl, path, 1, what_argv, &c);
    assert_int_equal(c.reply.status, 2);
    assert_string_equal(c.reply.err, "synack: unknown request 'frobnicate' (try 'help')\n");
    sk_control_reply_free(&c.reply);

    sk_control_close(ctl);
    assert_int_equal(access(want_path, F_OK), -1);
    assert_int_equal(sk_control_find(NULL, path, sizeof(path), err, sizeof(err)), -1);
    char want_msg[300];
    snprintf(want_msg, sizeof(want_msg),
             "no synack stack is running (no control socket answers in %s); start one with `synack demo --hold`, "
             "`synack serve` or `synack connect`",
             e->dir);
    assert_string_equal(err, want_msg);
}

static void test_names_several_stacks_and_stale_files(void **state)
{
    ctl_env *e = *state;
    char err[256], path[SK_CONTROL_PATH_MAX];
    sk_control *a = sk_control_open(NULL, "demo-client", e->f->client, err, sizeof(err));
    sk_control *b = sk_control_open(NULL, "demo-server", e->f->server, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    /* The same name while its owner lives: NAME-PID. */
    sk_control *dup = sk_control_open(NULL, "demo-server", e->f->server, err, sizeof(err));
    assert_non_null(dup);
    char want[64];
    snprintf(want, sizeof(want), "demo-server-%ld", (long)getpid());
    assert_string_equal(sk_control_name(dup), want);
    sk_control_close(dup);

    assert_int_equal(sk_control_find(NULL, path, sizeof(path), err, sizeof(err)), -1);
    assert_string_equal(err, "2 synack stacks are running: demo-client, demo-server; pick one with -N NAME");
    assert_int_equal(sk_control_find("demo", path, sizeof(path), err, sizeof(err)), -1);
    assert_string_equal(err, "'demo' matches several running stacks: demo-client, demo-server; give the full name");
    assert_int_equal(sk_control_find("nope", path, sizeof(path), err, sizeof(err)), -1);
    assert_string_equal(err, "no stack named 'nope' is running; running: demo-client, demo-server");
    assert_int_equal(sk_control_find("demo-server", path, sizeof(path), err, sizeof(err)), 0);
    assert_string_equal(path, sk_control_path(b));
    assert_int_equal(sk_control_find("demo-c", path, sizeof(path), err, sizeof(err)), 0);
    assert_string_equal(path, sk_control_path(a));
    sk_control_close(a);
    sk_control_close(b);

    /* A socket file nobody answers on (a process killed with SIGKILL)
     * is not listed, and the next server of that name takes it over. */
    char stale[SK_CONTROL_PATH_MAX];
    snprintf(stale, sizeof(stale), "%s/serve-10.77.0.2.sock", e->dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", stale);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    assert_int_equal(access(stale, F_OK), 0);
    sk_control_entry *list = NULL;
    assert_int_equal(sk_control_list(&list), 0);
    free(list);
    sk_control *s = sk_control_open(NULL, "serve-10.77.0.2", e->f->server, err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(sk_control_path(s), stale);
    sk_control_close(s);
    assert_int_equal(access(stale, F_OK), -1);
}

static void test_request_words_survive_quoting(void **state)
{
    (void)state;
    char *argv[] = {"sysctl", "-w", "net.ipv4.tcp_rmem=4096 131072 6291456", "a\"b\\c", "", "it's"};
    char line[512];
    int len = sk_control_encode(6, argv, line, sizeof(line));
    assert_true(len > 0);
    assert_string_equal(line,
                        "sysctl -w \"net.ipv4.tcp_rmem=4096 131072 6291456\" \"a\\\"b\\\\c\" \"\" \"it's\"\n");
    char *words[8];
    assert_int_equal(sk_control_split(line, words, 8), 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(words[i], argv[i]);
    char *nl[] = {"ss", "a\nb"};
    assert_int_equal(sk_control_encode(2, nl, line, sizeof(line)), -EINVAL);
    char open_quote[] = "ss \"-tan";
    assert_int_equal(sk_control_split(open_quote, words, 8), -1);
    char hand_typed[] = "sysctl -w net.ipv4.tcp_rmem='4096 1 2'";
    assert_int_equal(sk_control_split(hand_typed, words, 8), 3);
    assert_string_equal(words[2], "net.ipv4.tcp_rmem=4096 1 2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ss_and_sysctl_over_the_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names_several_stacks_and_stale_files, setup, teardown),
        cmocka_unit_test(test_request_words_survive_quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
