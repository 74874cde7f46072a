#!/usr/bin/env python3
"""synack doctor against real kernel situations made in network namespaces.

Each scenario (CLOSE_WAIT leak, also through /proc/net/tcp and unprivileged;
TIME_WAIT overflow; full accept queue; exhausted ports; SYN floods with and
without cookies; resets and retransmissions at a high rate; a clean namespace)
builds its situation with python socket programs (and a raw
socket SYN flooder) in two namespaces of its own (PREFIX-d, PREFIX-f, PREFIX
"skand" and the process id: two runs at once never meet, and both go
however the run ends), runs `synack doctor --json`
inside the server's namespace, and asserts the exact set of finding ids.
Needs root; exits 77 (skipped) otherwise.

Usage: test_doctor.py SYNACK
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from netns_run import exit_on_signals, ns, remove, sh  # noqa: E402

SYNACK = os.path.abspath(sys.argv[1])
# Interface names have at most 15 characters: PREFIX-d0 leaves PREFIX 12.
PREFIX = "skand%d" % os.getpid()
D, F = PREFIX + "-d", PREFIX + "-f"
DDEV, FDEV = PREFIX + "-d0", PREFIX + "-f0"
failures = []

if os.geteuid() != 0:
    print("doctor: needs root (network namespaces); skipped")
    sys.exit(77)


def setup():
    teardown()
    sh("ip", "netns", "add", D)
    sh("ip", "netns", "add", F)
    sh("ip", "-n", D, "link", "set", "lo", "up")
    sh("ip", "-n", F, "link", "set", "lo", "up")
    sh("ip", "link", "add", DDEV, "netns", D, "type", "veth", "peer", "name", FDEV, "netns", F)
    sh("ip", "-n", D, "addr", "add", "10.78.0.2/24", "dev", DDEV)
    sh("ip", "-n", F, "addr", "add", "10.78.0.1/24", "dev", FDEV)
    sh("ip", "-n", D, "link", "set", DDEV, "up")
    sh("ip", "-n", F, "link", "set", FDEV, "up")
    # SYN-ACKs to the flood's fake sources go to the flooder namespace,
    # which does not forward them; accept those sources.
    sh("ip", "-n", D, "route", "add", "10.99.0.0/16", "via", "10.78.0.1")
    ns(D, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.%s.rp_filter=0" % DDEV)
    time.sleep(0.5)


def teardown():
    remove(D, F)


def py(n, code):
    return subprocess.Popen(["ip", "netns", "exec", n, sys.executable, "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ready(p):
    line = p.stdout.readline()
    if "ready" not in line:
        raise RuntimeError("helper failed: %r %s" % (line, p.stderr.read()))


def doctor(*args):
    p = ns(D, SYNACK, "doctor", "--json", "--interval", "1", *args, check=False)
    if p.returncode != 0:
        failures.append("doctor exited %d: %s" % (p.returncode, p.stderr))
        return {"findings": []}
    return json.loads(p.stdout)


def expect(name, d, ids):
    got = {f["id"] for f in d["findings"]}
    ok = got == set(ids)
    print("%s %s: findings %s" % ("ok  " if ok else "FAIL", name, sorted(got)))
    if not ok:
        failures.append("%s: findings %s, wanted %s\n%s" % (name, sorted(got), sorted(ids), json.dumps(d, indent=1)))
    return d


def stop(*ps):
    for p in ps:
        if p.poll() is None:
            p.kill()
        p.wait()


SERVER = """
import socket, sys, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("%s", %d)); ls.listen(%d)
print("ready", flush=True)
conns = []
mode = "%s"
while True:
    if mode == "noaccept":
        time.sleep(1); continue
    a, _ = ls.accept(); conns.append(a)
    if mode == "echo":
        a.recv(100); a.sendall(b"ok")
        if a.recv(100) == b"": a.close()
    # mode "hold": accept, never read, never close (CLOSE_WAIT once peers close)
"""

CLIENTS = """
import socket, time
cs = []
for i in range(%d):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("%s", %d))
    except BlockingIOError: pass
    cs.append(c)
    time.sleep(0.005)
time.sleep(0.5)
if "%s" == "close":
    for c in cs: c.close()
elif "%s" == "talk":
    for c in cs:
        c.setblocking(True); c.sendall(b"hi"); c.recv(10); c.close()
print("ready", flush=True)
time.sleep(60)
"""

FLOOD = """
import os, random, socket, struct, time
def csum(b):
    s = sum(struct.unpack("!%%dH" %% (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = socket.inet_aton("10.78.0.2")
print("ready", flush=True)
end = time.time() + %f
rnd = random.Random(7)
while time.time() < end:
    src = socket.inet_aton("10.99.%%d.%%d" %% (rnd.randrange(256), rnd.randrange(1, 255)))
    tcp = struct.pack("!HHIIBBHHH", rnd.randrange(1024, 65535), 8080, rnd.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, src, dst)
    r.sendto(ip + tcp, ("10.78.0.2", 0))
    time.sleep(0.002)
"""


def scenario_clean():
    s = py(D, SERVER % ("127.0.0.1", 8080, 128, "echo"))
    ready(s)
    c = py(D, CLIENTS % (1, "127.0.0.1", 8080, "none", "none"))
    ready(c)
    d = expect("clean", doctor(), [])
    stop(s, c)
    return d


def scenario_close_wait():
    s = py(D, SERVER % ("127.0.0.1", 8080, 128, "hold"))
    ready(s)
    c = py(D, CLIENTS % (20, "127.0.0.1", 8080, "close", "close"))
    ready(c)
    d = expect("close-wait leak", doctor(), ["close-wait"])
    ev = " ".join(x for f in d["findings"] for x in f["evidence"])
    if "python3 (pid" not in ev or "20 sockets in CLOSE-WAIT" not in ev:
        failures.append("close-wait evidence: " + ev)
    # The /proc/net/tcp fallback sees the same sockets and owners.
    d2 = doctor("--proc")
    ev2 = " ".join(x for f in d2["findings"] for x in f["evidence"])
    if [f["id"] for f in d2["findings"]] != ["close-wait"] or "python3 (pid" not in ev2 or \
            d2.get("source") != "/proc/net/tcp" or d2.get("states", {}).get("CLOSE-WAIT") != 20:
        failures.append("--proc fallback: %s" % json.dumps(d2))
    else:
        print("ok   close-wait leak through /proc/net/tcp")
    # Unprivileged: the same finding, no owner, and a word on what was not seen.
    if sh("sh", "-c", "command -v runuser", check=False).returncode == 0:
        p = ns(D, "runuser", "-u", "nobody", "--", SYNACK, "doctor", "--json", "--interval", "0.5", check=False)
        try:
            u = json.loads(p.stdout)
            uev = " ".join(x for f in u["findings"] for x in f["evidence"])
            if [f["id"] for f in u["findings"]] != ["close-wait"] or "unknown process" not in uev or \
                    not any("file descriptors" in x for x in u["not_seen"]):
                failures.append("unprivileged doctor: %s" % json.dumps(u))
            else:
                print("ok   close-wait leak, unprivileged: owner unknown, says so")
        except ValueError:
            failures.append("unprivileged doctor: %d %s %s" % (p.returncode, p.stdout, p.stderr))
    stop(s, c)


def scenario_time_wait():
    ns(D, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=8")
    s = py(D, SERVER % ("127.0.0.1", 8081, 128, "echo"))
    ready(s)
    c = py(D, CLIENTS % (20, "127.0.0.1", 8081, "talk", "talk"))
    ready(c)
    d = expect("TIME_WAIT overflow", doctor(), ["time-wait-overflow"])
    stop(s, c)
    ns(D, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=262144")
    return d


def scenario_accept_queue():
    s = py(D, SERVER % ("127.0.0.1", 8082, 2, "noaccept"))
    ready(s)
    c = py(D, CLIENTS % (10, "127.0.0.1", 8082, "none", "none"))
    ready(c)
    expect("accept queue full", doctor(), ["listen-overflow"])
    stop(s, c)


def scenario_ports():
    ns(D, "sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40019")
    s = py(D, SERVER % ("127.0.0.1", 8083, 128, "hold"))
    ready(s)
    c = py(D, CLIENTS % (18, "127.0.0.1", 8083, "none", "none"))
    ready(c)
    expect("ephemeral ports", doctor(), ["ephemeral-ports-exhausted"])
    stop(s, c)
    ns(D, "sysctl", "-qw", "net.ipv4.ip_local_port_range=32768 60999")


def scenario_flood(cookies):
    ns(D, "sysctl", "-qw", "net.ipv4.tcp_syncookies=%d" % cookies)
    s = py(D, SERVER % ("10.78.0.2", 8080, 16, "noaccept"))
    ready(s)
    f = py(F, FLOOD % 4.0)
    ready(f)
    time.sleep(1.0)
    want = ["syn-flood"] if cookies else ["syn-flood", "syncookies-disabled-under-flood"]
    d = expect("SYN flood, tcp_syncookies=%d" % cookies, doctor(), want)
    stop(s, f)
    ns(D, "sysctl", "-qw", "net.ipv4.tcp_syncookies=1")
    return d


RESETS = """
import socket, time
print("ready", flush=True)
end = time.time() + %f
while time.time() < end:
    c = socket.socket()
    try: c.connect(("127.0.0.1", 9))
    except OSError: pass
    c.close()
    time.sleep(0.005)
"""

BULK_SEND = """
import socket, time
print("ready", flush=True)
end = time.time() + %f
while time.time() < end:
    c = socket.create_connection(("10.78.0.1", 5001))
    try:
        c.sendall(b"x" * 2000000)
    except OSError:
        pass
    c.close()
"""

BULK_SINK = """
import socket, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("10.78.0.1", 5001)); ls.listen(16)
print("ready", flush=True)
def drain(a):
    while a.recv(65536): pass
    a.close()
while True:
    a, _ = ls.accept()
    threading.Thread(target=drain, args=(a,), daemon=True).start()
"""


def scenario_resets():
    c = py(D, RESETS % 3.0)
    ready(c)
    d = expect("connections refused at a high rate", doctor(), ["resets-high"])
    stop(c)
    return d


def scenario_retrans():
    # Every 10th data segment reaching the sink's namespace is dropped at
    # prerouting: the sender (in the doctor's namespace) retransmits.
    ns(F, "nft", "add", "table", "inet", "skan")
    ns(F, "nft", "add chain inet skan pre { type filter hook prerouting priority -300; }")
    ns(F, "nft", "add rule inet skan pre tcp dport 5001 ip length >= 1000 numgen inc mod 10 == 0 drop")
    k = py(F, BULK_SINK)
    ready(k)
    c = py(D, BULK_SEND % 3.0)
    ready(c)
    d = expect("loss on the path", doctor(), ["retransmissions-high"])
    stop(c, k)
    ns(F, "nft", "delete", "table", "inet", "skan", check=False)
    return d


exit_on_signals()
try:
    setup()
    scenario_clean()
    scenario_close_wait()
    scenario_time_wait()
    scenario_accept_queue()
    scenario_ports()
    scenario_flood(1)
    scenario_flood(0)
    scenario_resets()
    scenario_retrans()
    # --watch without a terminal: a header and one line per sample.
    p = ns(D, SYNACK, "doctor", "--watch", "0.2", "--count", "2", check=False)
    lines = p.stdout.splitlines()
    if p.returncode != 0 or len(lines) != 3 or not lines[0].startswith("time") or "|" not in lines[1]:
        failures.append("--watch: %d %r" % (p.returncode, lines))
finally:
    teardown()

for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
