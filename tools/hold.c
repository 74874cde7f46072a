#include "hold.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "synack-io/control.h"

static sk_time_ns monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (sk_time_ns)ts.tv_sec * SK_NSEC_PER_SEC + (sk_time_ns)ts.tv_nsec;
}

static void close_all(sk_control **ctl, int n)
{
    for (int i = 0; i < n; i++)
        sk_control_close(ctl[i]);
}

int sk_cli_hold(const char *cmd, sk_wire *wire, sk_stack *const *stacks, const char *const *names, int n)
{
    char err[256];
    sk_control **ctl = calloc((size_t)n, sizeof(*ctl));
    struct pollfd *fds = calloc((size_t)n + 1, sizeof(*fds));
    if (!ctl || !fds || n < 1) {
        free(ctl);
        free(fds);
        fprintf(stderr, "%s: --hold: %s\n", cmd, n < 1 ? "no stacks" : strerror(ENOMEM));
        return SK_CLI_EXIT_FAIL;
    }
    int rc = SK_CLI_EXIT_FAIL;
    for (int i = 0; i < n; i++) {
        ctl[i] = sk_control_open(NULL, names[i], stacks[i], err, sizeof(err));
        if (!ctl[i]) {
            fprintf(stderr, "%s: --hold: control socket for %s: %s\n", cmd, names[i], err);
            close_all(ctl, i);
            goto out;
        }
    }
    /* Signals are read from a descriptor, so the wait below is one poll
     * and no handler runs in the middle of the stacks' work. */
    sigset_t mask, old;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, &old);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        fprintf(stderr, "%s: --hold: signalfd: %s\n", cmd, strerror(errno));
        sigprocmask(SIG_SETMASK, &old, NULL);
        close_all(ctl, n);
        goto out;
    }
    fprintf(stderr,
            "%s: holding the stacks in real time; try `synack ss -N %s -tano` or `synack nstat -N %s` in "
            "another terminal (%s); Ctrl-C ends\n",
            cmd, sk_control_name(ctl[0]), sk_control_name(ctl[n - 1]), sk_control_path(ctl[0]));
    fflush(stdout);

    /* Virtual time goes on from where the run left it, one virtual
     * nanosecond per real one, so TIME_WAIT counts down as it would. */
    sk_time_ns vstart = sk_wire_now(wire), rstart = monotonic_ns();
    for (;;) {
        sk_time_ns vnow = vstart + (monotonic_ns() - rstart);
        sk_time_ns next = sk_wire_next_event(wire);
        int timeout = -1;
        if (next != SK_TIME_NEVER) {
            sk_time_ns wait = next > vnow ? next - vnow : 0;
            sk_time_ns ms = (wait + SK_NSEC_PER_MSEC - 1) / SK_NSEC_PER_MSEC;
            timeout = ms > 60000 ? 60000 : (int)ms;
        }
        fds[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (int i = 0; i < n; i++)
            fds[1 + i] = (struct pollfd){.fd = sk_control_fd(ctl[i]), .events = POLLIN};
        int ready = poll(fds, (nfds_t)n + 1, timeout);
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "%s: poll: %s\n", cmd, strerror(errno));
            break;
        }
        sk_wire_run_until(wire, vstart + (monotonic_ns() - rstart));
        fflush(stdout);
        if (ready > 0 && (fds[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                fprintf(stderr, "%s: %s, stopping\n", cmd, strsignal((int)si.ssi_signo));
            break;
        }
        for (int i = 0; i < n; i++)
            if (ready > 0 && fds[1 + i].revents)
                sk_control_service(ctl[i]);
    }
    close_all(ctl, n);
    close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    rc = SK_CLI_EXIT_OK;
out:
    free(ctl);
    free(fds);
    return rc;
}
