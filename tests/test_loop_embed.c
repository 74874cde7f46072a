/*
 * sk_loop as an embedder uses it: signals stay the application's unless
 * it asks (SK_LOOP_SIGNALS), and any number of the application's
 * descriptors are watched (sk_loop_add_fd), added and removed at any
 * time, also from inside a callback.  A SOCK_SEQPACKET socketpair stands
 * in for the TUN device.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "synack-io/loop.h"
#include "synack/synack.h"

typedef struct fixture {
    sk_loop *loop;
    int dev[2];
    int pipes[3][2];
    int hits[3];
    int order[8], norder;
    int stop_at; /* sk_loop_stop once this many callbacks ran */
} fixture;

static void app_run(void *ctx, sk_loop *loop)
{
    fixture *f = ctx;
    if (f->stop_at && f->norder >= f->stop_at)
        sk_loop_stop(loop);
}

static sk_loop *new_loop(fixture *f, unsigned flags)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f->dev), 0);
    sk_loop_params p;
    memset(&p, 0, sizeof(p));
    p.tun_fd = f->dev[0];
    p.flags = flags;
    p.stack.addr = 0x0a4d0002u;
    p.stack.seed = 1;
    sk_loop_app app = {.ctx = f, .run = app_run, .extra_fd = -1};
    char err[200];
    sk_loop *l = sk_loop_new(&p, &app, err, sizeof(err));
    assert_non_null(l);
    return l;
}

static void test_loop_leaves_signals(void **state)
{
    fixture f = {0};
    sigset_t before, during, after;
    struct sigaction pipe_before, pipe_during;
    sigprocmask(SIG_SETMASK, NULL, &before);
    sigaction(SIGPIPE, NULL, &pipe_before);
    sk_loop *l = new_loop(&f, 0);
    sigprocmask(SIG_SETMASK, NULL, &during);
    sigaction(SIGPIPE, NULL, &pipe_during);
    for (int sig = 1; sig < 32; sig++)
        assert_int_equal(sigismember(&during, sig), sigismember(&before, sig));
    assert_ptr_equal(pipe_during.sa_handler, pipe_before.sa_handler);
    sk_loop_free(l);
    close(f.dev[1]);

    /* Asked for, the loop takes them, and gives them back at free. */
    l = new_loop(&f, SK_LOOP_SIGNALS);
    sigprocmask(SIG_SETMASK, NULL, &during);
    sigaction(SIGPIPE, NULL, &pipe_during);
    assert_true(sigismember(&during, SIGINT) && sigismember(&during, SIGTERM) && sigismember(&during, SIGUSR1));
    assert_ptr_equal(pipe_during.sa_handler, SIG_IGN);
    sk_loop_free(l);
    close(f.dev[1]);
    sigprocmask(SIG_SETMASK, NULL, &after);
    for (int sig = 1; sig < 32; sig++)
        assert_int_equal(sigismember(&after, sig), sigismember(&before, sig));
}

static void on_pipe(void *ctx, sk_loop *loop, int fd, uint32_t revents)
{
    fixture *f = ctx;
    assert_true(revents & EPOLLIN);
    for (int i = 0; i < 3; i++) {
        if (fd != f->pipes[i][0])
            continue;
        char c;
        assert_int_equal(read(fd, &c, 1), 1);
        f->hits[i]++;
        f->order[f->norder++] = i;
        if (i == 2) /* from inside a callback: stop watching pipe 1 */
            assert_int_equal(sk_loop_del_fd(loop, f->pipes[1][0]), 0);
        return;
    }
    fail_msg("callback for an unknown descriptor %d", fd);
}

static void test_loop_many_fds(void **state)
{
    fixture f = {0};
    f.loop = new_loop(&f, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pipe(f.pipes[i]), 0);
        assert_int_equal(sk_loop_add_fd(f.loop, f.pipes[i][0], EPOLLIN, on_pipe, &f), 0);
    }
    assert_int_equal(sk_loop_add_fd(f.loop, f.pipes[0][0], EPOLLIN, on_pipe, &f), -EEXIST);
    assert_int_equal(sk_loop_add_fd(f.loop, -1, EPOLLIN, on_pipe, &f), -EINVAL);
    assert_int_equal(sk_loop_add_fd(f.loop, f.pipes[0][0] + 1000, EPOLLIN, on_pipe, &f), -EBADF);
    assert_int_equal(sk_loop_del_fd(f.loop, 999), -ENOENT);
    assert_int_equal(sk_loop_mod_fd(f.loop, 999, EPOLLIN), -ENOENT);

    /* Pipe 2 first: its callback removes pipe 1.  Then pipes 0 and 1
     * get a byte each, and only pipe 0's callback runs. */
    char err[200];
    alarm(10); /* a loop that never wakes up fails instead of hanging */
    f.stop_at = 1;
    assert_int_equal(write(f.pipes[2][1], "x", 1), 1);
    assert_int_equal(sk_loop_run(f.loop, err, sizeof(err)), 0);
    assert_int_equal(f.norder, 1);
    assert_int_equal(f.hits[2], 1);
    f.stop_at = 2;
    assert_int_equal(write(f.pipes[1][1], "y", 1), 1);
    assert_int_equal(write(f.pipes[0][1], "z", 1), 1);
    assert_int_equal(sk_loop_run(f.loop, err, sizeof(err)), 0);
    alarm(0);
    assert_int_equal(f.norder, 2);
    assert_int_equal(f.order[1], 0);
    assert_int_equal(f.hits[0], 1);
    assert_int_equal(f.hits[1], 0);
    assert_int_equal(sk_loop_del_fd(f.loop, f.pipes[1][0]), -ENOENT);
    assert_int_equal(sk_loop_mod_fd(f.loop, f.pipes[0][0], EPOLLIN | EPOLLOUT), 0);
    sk_loop_free(f.loop);
    /* The loop never closes the application's descriptors. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(write(f.pipes[i][1], "w", 1), 1);
        close(f.pipes[i][0]);
        close(f.pipes[i][1]);
    }
    close(f.dev[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_leaves_signals),
        cmocka_unit_test(test_loop_many_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
