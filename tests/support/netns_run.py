"""Network namespaces of one test run, for the root tests written in Python
(tests/data/make-captures.py, tests/doctor/test_doctor.py).

Each run names its namespaces after its own process id, so runs at once
never meet; remove() takes them down with whatever still runs inside, and
exit_on_signals() makes SIGTERM, SIGHUP and SIGINT end the run through the
caller's `finally`, as a failure does.
"""
import os
import signal
import subprocess


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ns(n, *cmd, check=True):
    return sh("ip", "netns", "exec", n, *cmd, check=check)


def remove(*names):
    """Kills the processes inside each namespace (a deleted namespace's name
    goes, its processes would live on), then deletes it and so its veths."""
    for n in names:
        for pid in sh("ip", "netns", "pids", n, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        sh("ip", "netns", "del", n, check=False)


def _exit(signum, frame):
    raise SystemExit(128 + signum)


def exit_on_signals():
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _exit)
