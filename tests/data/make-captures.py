#!/usr/bin/env python3
"""Makes the analyzer's test captures from the real Linux kernel.

Two network namespaces (PREFIX-c, PREFIX-s) joined by a veth pair; tcpdump
writes what the client side sees while skan_peer.py programs on both sides
produce one situation each.  Loss is made with nftables rules on the ingress of
the receiving side (nftables at prerouting), after tcpdump's tap, so the capture holds the segment
that was then dropped: exactly what a capture at that host shows.

Usage (root): make-captures.py OUTDIR [NAME...]

PREFIX is $SKAN_PREFIX, else "skan" and this process's id: namespaces and
devices are this run's own, so two runs at once (a plain and a sanitizer
pass, two developers) never meet, and they go however the run ends.
"""
import os
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from netns_run import exit_on_signals, ns, remove, sh  # noqa: E402
PEER = os.path.join(HERE, "skan_peer.py")
# Interface names have at most 15 characters: PREFIX-c0 leaves PREFIX 12.
PREFIX = os.environ.get("SKAN_PREFIX") or "skan%d" % os.getpid()
assert len(PREFIX) <= 12, "SKAN_PREFIX longer than 12 characters"
C, S, R = PREFIX + "-c", PREFIX + "-s", PREFIX + "-r"
C4, S4 = "10.77.0.1", "10.77.0.2"
C6, S6 = "fd77::1", "fd77::2"
CDEV, SDEV = PREFIX + "-c0", PREFIX + "-s0"
# The router of icmp_frag_needed and its links.
S1, R1, R2, C1 = PREFIX + "-s1", PREFIX + "-r1", PREFIX + "-r2", PREFIX + "-c1"


def setup():
    teardown()
    sh("ip", "netns", "add", C)
    sh("ip", "netns", "add", S)
    sh("ip", "link", "add", CDEV, "netns", C, "type", "veth", "peer", "name", SDEV, "netns", S)
    for n, dev, a4, a6 in ((C, CDEV, C4, C6), (S, SDEV, S4, S6)):
        sh("ip", "-n", n, "addr", "add", a4 + "/24", "dev", dev)
        sh("ip", "-n", n, "addr", "add", a6 + "/64", "dev", dev, "nodad")
        sh("ip", "-n", n, "link", "set", dev, "up")
        sh("ip", "-n", n, "link", "set", "lo", "up")
        # Segments on the wire as the MSS cuts them, not 64 KB GSO blobs.
        ns(n, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)
        # No router solicitations in the captures.
        ns(n, "sysctl", "-qw", "net.ipv6.conf.%s.router_solicitations=0" % dev, check=False)
    # Carrier up and IPv6 addresses usable before the first connect().
    time.sleep(1.0)


def mac(n):
    out = ns(n, "cat", "/sys/class/net/%s/address" % (CDEV if n == C else SDEV)).stdout
    return out.strip()


def teardown():
    remove(C, S, R)


def peer(n, *args):
    p = subprocess.Popen(["ip", "netns", "exec", n, sys.executable, PEER] + [str(a) for a in args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p


def wait_ready(p):
    line = p.stdout.readline()
    if "ready" not in line:
        raise RuntimeError("server did not start: " + line + p.stderr.read())


class Capture:
    def __init__(self, path, iface=CDEV, extra=(), where=C):
        self.path = path
        self.p = subprocess.Popen(["ip", "netns", "exec", where, "tcpdump", "-i", iface, "--immediate-mode", "-U", "-w", path] +
                                  list(extra) + ["tcp or icmp or (icmp6 and ip6[40] < 128)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # tcpdump prints "listening on" once the socket is bound.
        self.p.stderr.readline()
        time.sleep(0.3)

    def stop(self):
        time.sleep(0.3)
        # On a busy machine tcpdump may still be writing what the last
        # moments sent (a final FIN's ACK): wait until the file stops
        # growing, for up to a second more, since SIGINT drops what it has
        # not yet read.
        last, end = -1, time.time() + 1.0
        while time.time() < end:
            size = os.path.getsize(self.path) if os.path.exists(self.path) else 0
            if size == last:
                break
            last = size
            time.sleep(0.15)
        self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=10)


def finish(*procs, timeout=20):
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
            if os.environ.get("SKAN_VERBOSE"):
                print(" ".join(p.args[3:]), "->", out.strip(), err.strip(), file=sys.stderr)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def kill(*procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def nft_drop(n, rule):
    """Drops what `rule` selects at prerouting: after tcpdump's tap."""
    ns(n, "nft", "add", "table", "inet", "skan")
    ns(n, "nft", "add chain inet skan pre { type filter hook prerouting priority -300; }")
    ns(n, "nft", "add rule inet skan pre " + rule + " drop")


def nft_clear(n):
    ns(n, "nft", "delete", "table", "inet", "skan", check=False)


# ---------------------------------------------------------------- scenarios

def clean(out, host=S4, iface=CDEV, extra=()):
    cap = Capture(out, iface, extra)
    s = peer(S, "echo-server", host, 8080, 3)
    wait_ready(s)
    c = peer(C, "echo-client", host, 8080, 3)
    finish(c, s)
    cap.stop()


def time_wait_server(out):
    cap = Capture(out)
    s = peer(S, "echo-server", S4, 8080, 3, "server-first")
    wait_ready(s)
    c = peer(C, "echo-client", S4, 8080, 3, "server-first")
    finish(c, s)
    cap.stop()


def refused(out):
    cap = Capture(out)
    c = peer(C, "connect-fail", S4, 9)
    finish(c)
    cap.stop()


def unanswered(out):
    # The server's ingress drops every TCP segment to port 9: SYNs vanish.
    nft_drop(S, "tcp dport 9")
    cap = Capture(out)
    c = peer(C, "connect-fail", S4, 9, 3.5)
    finish(c)
    cap.stop()
    nft_clear(S)


def synack_retrans(out):
    # The client's pure ACKs (IP length 52: 20 + 20 + timestamps) to port
    # 8080 are lost at first: the server resends its SYN-ACK.
    s = peer(S, "hello-server", S4, 8080)
    wait_ready(s)
    nft_drop(S, "tcp dport 8080 tcp flags == ack ip length 52")
    cap = Capture(out)
    c = peer(C, "late-data-client", S4, 8080, 1.5)
    time.sleep(1.3)
    nft_clear(S)
    finish(c, s)
    cap.stop()


def close_wait(out):
    cap = Capture(out)
    s = peer(S, "close-wait-server", S4, 8080, 10)
    wait_ready(s)
    c = peer(C, "half-close-client", S4, 8080, 0.2)
    finish(c)
    time.sleep(3)
    cap.stop()
    kill(s)


def rst_linger(out):
    cap = Capture(out)
    s = peer(S, "echo-server", S4, 8080, 1)
    wait_ready(s)
    c = peer(C, "linger0-client", S4, 8080)
    finish(c, s)
    cap.stop()


def rst_unread(out):
    cap = Capture(out)
    s = peer(S, "unread-server", S4, 8080)
    wait_ready(s)
    c = peer(C, "send-wait-client", S4, 8080)
    finish(c, s)
    cap.stop()


def rst_middlebox(out, ttl=40):
    seqf = os.path.join(os.path.dirname(os.path.abspath(out)), PREFIX + "-seq.txt")
    if os.path.exists(seqf):
        os.unlink(seqf)
    cap = Capture(out)
    s = peer(S, "idle-server", S4, 8080, seqf)
    wait_ready(s)
    c = peer(C, "idle-client", S4, 8080, 3)
    for _ in range(50):
        if os.path.exists(seqf) and open(seqf).read().endswith("\n"):
            break
        time.sleep(0.05)
    time.sleep(0.3)
    f = peer(S, "forge-rst", C4, 8080, S4, seqf, ttl)
    finish(f, c)
    cap.stop()
    kill(s)


def zero_window(out):
    cap = Capture(out)
    s = peer(S, "slow-reader-server", S4, 8080, 1.5)
    wait_ready(s)
    c = peer(C, "bulk-client", S4, 8080, 30000)
    finish(c, s)
    cap.stop()


def retrans(out):
    # Every 7th full-size segment from the server is lost at the client's
    # prerouting hook, after tcpdump saw it.
    nft_drop(C, "tcp sport 8080 ip length >= 1024 numgen inc mod 7 == 0")
    s = peer(S, "bulk-server", S4, 8080, 60000)
    wait_ready(s)
    cap = Capture(out)
    c = peer(C, "bulk-get-client", S4, 8080)
    finish(c, s)
    cap.stop()
    nft_clear(C)


def mtu_blackhole(out):
    # Nothing of 1024 bytes or more from the server reaches the client
    # (a smaller link whose ICMP never comes back): full-size segments are
    # sent again and again while the handshake and small segments pass.
    nft_drop(C, "tcp sport 8080 ip length >= 1024")
    # A short minimum RTO on the server's route: the retransmissions come
    # within seconds.
    sh("ip", "-n", S, "route", "replace", "10.77.0.0/24", "dev", SDEV, "rto_min", "100ms")
    s = peer(S, "bulk-server", S4, 8080, 8000, 4)
    wait_ready(s)
    cap = Capture(out)
    c = peer(C, "bulk-get-client", S4, 8080, 3)
    time.sleep(2.5)
    cap.stop()
    finish(c)
    kill(s)
    nft_clear(C)
    sh("ip", "-n", S, "route", "replace", "10.77.0.0/24", "dev", SDEV, check=False)
    # The killed server's socket lives on as an orphan still resending its
    # data (tcp_orphan_retries); its next try, now let through, meets the
    # closed client and is reset.  Until then it would land in the next
    # scenario's capture as a connection of its own.
    gone(S, 8080)


def gone(n, port, timeout=15):
    """Waits until no socket but TIME-WAIT has local port `port` in n."""
    end = time.time() + timeout
    while time.time() < end:
        rows = ns(n, "ss", "-Htan", "sport = :%d" % port, check=False).stdout.splitlines()
        if all(r.startswith("TIME-WAIT") for r in rows):
            return
        time.sleep(0.1)
    raise RuntimeError("sockets on port %d in %s did not go: %s" % (port, n, rows))


def many_short(out):
    cap = Capture(out)
    s = peer(S, "echo-server", S4, 8080, 60, "client-first", 10)
    wait_ready(s)
    c = peer(C, "echo-client", S4, 8080, 60)
    finish(c, s, timeout=60)
    cap.stop()


def icmp_frag_needed(out):
    # Server -- router -- client, the router's link to the client with MTU
    # 1280: the router answers the server's 1500-byte DF segments with ICMP
    # "fragmentation needed" and the server's PMTU discovery shrinks them.
    # Captured at the server.
    sh("ip", "netns", "add", R)
    try:
        sh("ip", "link", "add", S1, "netns", S, "type", "veth", "peer", "name", R1, "netns", R)
        sh("ip", "link", "add", R2, "netns", R, "type", "veth", "peer", "name", C1, "netns", C)
        for n, dev, a in ((S, S1, "10.77.2.2/24"), (R, R1, "10.77.2.1/24"),
                          (R, R2, "10.77.3.1/24"), (C, C1, "10.77.3.2/24")):
            sh("ip", "-n", n, "addr", "add", a, "dev", dev)
            if dev == R2:
                sh("ip", "-n", n, "link", "set", dev, "mtu", "1280")
            sh("ip", "-n", n, "link", "set", dev, "up")
            ns(n, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=False)
        sh("ip", "-n", R, "link", "set", "lo", "up")
        ns(R, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "-n", C, "route", "add", "10.77.2.0/24", "via", "10.77.3.1")
        sh("ip", "-n", S, "route", "add", "10.77.3.0/24", "via", "10.77.2.1")
        time.sleep(1.0)
        cap = Capture(out, S1, where=S)
        s = peer(S, "bulk-server", "10.77.2.2", 8080, 8000, 1)
        wait_ready(s)
        c = peer(C, "bulk-get-client", "10.77.2.2", 8080)
        finish(c, s)
        cap.stop()
    finally:
        sh("ip", "netns", "del", R, check=False)


SCENARIOS = {
    "clean": lambda o: clean(o),
    "clean6-sll2": lambda o: clean(o, S6, "any"),
    "time-wait-server": time_wait_server,
    "refused": refused,
    "unanswered": unanswered,
    "synack-retrans": synack_retrans,
    "close-wait": close_wait,
    "rst-linger": rst_linger,
    "rst-unread": rst_unread,
    "rst-middlebox": rst_middlebox,
    # The same RST with the endpoint's TTL: only its IP ID gives it away.
    "rst-middlebox-ipid": lambda o: rst_middlebox(o, 64),
    "zero-window": zero_window,
    "retrans": retrans,
    "mtu-blackhole": mtu_blackhole,
    "many-short": many_short,
    "icmp-frag-needed": icmp_frag_needed,
}


# -------------------------------------------------- derived link types

def read_pcap(path):
    b = open(path, "rb").read()
    magic = struct.unpack("<I", b[:4])[0]
    assert magic in (0xa1b2c3d4, 0xa1b23c4d), "classic little-endian pcap expected"
    snap, lt = struct.unpack("<II", b[16:24])
    recs, off = [], 24
    while off + 16 <= len(b):
        s, us, cl, ol = struct.unpack("<IIII", b[off:off + 16])
        recs.append([s, us, b[off + 16:off + 16 + cl], ol])
        off += 16 + cl
    return b[:24], lt, recs


def write_pcap(path, lt, recs, snap=262144):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snap, lt))
        for s, us, data, ol in recs:
            f.write(struct.pack("<IIII", s, us, len(data), ol) + data)


def derive(outdir):
    _, lt, recs = read_pcap(os.path.join(outdir, "clean.pcap"))
    assert lt == 1
    ip = [[s, us, d[14:], ol - 14] for s, us, d, ol in recs]
    write_pcap(os.path.join(outdir, "clean-raw.pcap"), 101, ip)
    write_pcap(os.path.join(outdir, "clean-null.pcap"), 0,
               [[s, us, struct.pack("<I", 2) + d, ol + 4] for s, us, d, ol in ip])
    # Snaplen 54: Ethernet + IP + 20 bytes of TCP, options and payload cut.
    write_pcap(os.path.join(outdir, "clean-snap54.pcap"), 1,
               [[s, us, d[:54], ol] for s, us, d, ol in recs], 54)
    # The first handshake and the last teardown missing: mid-connection.
    write_pcap(os.path.join(outdir, "midstream.pcap"), 1, recs[2:-2])
    # Two packets' timestamps swapped.
    r2 = [list(r) for r in recs]
    r2[4][0], r2[4][1], r2[5][0], r2[5][1] = r2[5][0], r2[5][1], r2[4][0], r2[4][1]
    write_pcap(os.path.join(outdir, "clean-timeorder.pcap"), 1, r2)
    # 802.1Q tag 7 inserted after the MAC addresses (this kernel may lack
    # the 8021q module, so the tag is added here rather than on the wire).
    write_pcap(os.path.join(outdir, "clean-vlan.pcap"), 1,
               [[s, us, d[:12] + struct.pack("!HH", 0x8100, 7) + d[12:], ol + 4] for s, us, d, ol in recs])
    # Linux cooked v1 (what `tcpdump -i any` wrote before libpcap 1.10),
    # from the v2 capture: same packets, the older 16-byte header.
    _, lt2, r6 = read_pcap(os.path.join(outdir, "clean6-sll2.pcap"))
    assert lt2 == 276
    v1 = []
    for s_, us, d, ol in r6:
        proto, ifindex, hatype, pkttype, halen, addr = struct.unpack("!H2xIHBB8s", d[:20])
        v1.append([s_, us, struct.pack("!HHH8sH", pkttype, hatype, halen, addr, proto) + d[20:], ol - 4])
    write_pcap(os.path.join(outdir, "clean6-sll.pcap"), 113, v1)
    subprocess.run(["editcap", "-F", "pcapng", os.path.join(outdir, "clean6-sll2.pcap"),
                    os.path.join(outdir, "clean6-sll2.pcapng")], check=True)


def main():
    if os.geteuid() != 0:
        print("make-captures: needs root (network namespaces)", file=sys.stderr)
        sys.exit(77)
    outdir = sys.argv[1]
    names = sys.argv[2:] or list(SCENARIOS)
    os.makedirs(outdir, exist_ok=True)
    exit_on_signals()
    try:
        setup()
        for name in names:
            if name == "derive":
                continue
            print("make-captures:", name, file=sys.stderr)
            SCENARIOS[name](os.path.join(outdir, name + ".pcap"))
            time.sleep(0.2)
        if "clean" in names and "clean6-sll2" in names or "derive" in names:
            derive(outdir)
    finally:
        teardown()


if __name__ == "__main__":
    main()
