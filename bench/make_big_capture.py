#!/usr/bin/env python3
"""Writes a large synthetic capture for `synack analyze`'s benchmark.

N connections of 20 packets each (handshake, a request, a 5-segment
response with its ACKs, a FIN exchange), Ethernet/IPv4, cut at snaplen 96
as `tcpdump -s 96` would, 200 new connections per second of capture time:
so about 12,000 connections are live (open or in TIME-WAIT) at any moment
however long the file, which is what bounds the analyzer's memory.  Every
25th connection loses one response segment and retransmits it.

Usage: make_big_capture.py OUT.pcap [PACKETS]   (default 1,000,000)
"""
import random
import struct
import sys

out = sys.argv[1]
target = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
SNAP = 96
eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
rnd = random.Random(42)


def seg(src, dst, sp, dp, seq, ack, flags, win, plen, ident):
    tcp = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, win, 0, 0)
    tot = 20 + 20 + plen
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ident & 0xffff, 0x4000, 64, 6, 0, src, dst)
    frame = eth + ip + tcp + b"\0" * plen
    return frame[:SNAP], len(frame)


def conn_packets(i, t0):
    cl = struct.pack("!I", (10 << 24) | (1 << 16) | (i % 250 + 1))
    sv = struct.pack("!I", (10 << 24) | (2 << 16) | (i % 7 + 1))
    cp = 10000 + (i * 7) % 50000
    sp = 443
    a, b = rnd.getrandbits(32), rnd.getrandbits(32)
    t = t0
    pk = []

    def add(dt, *args):
        nonlocal t
        t += dt
        pk.append((t, seg(*args)))
    S, A, P, F = 0x02, 0x10, 0x08, 0x01
    add(0, cl, sv, cp, sp, a, 0, S, 64240, 0, 1)
    add(0.0002, sv, cl, sp, cp, b, a + 1, S | A, 65160, 0, 0)
    add(0.0002, cl, sv, cp, sp, a + 1, b + 1, A, 502, 0, 2)
    add(0.0001, cl, sv, cp, sp, a + 1, b + 1, P | A, 502, 200, 3)
    add(0.0002, sv, cl, sp, cp, b + 1, a + 201, A, 509, 0, 1)
    off = b + 1
    lose = i % 25 == 0
    for k in range(5):
        add(0.0003, sv, cl, sp, cp, off + 1448 * k, a + 201, A, 509, 1448, 2 + k)
        if k % 2 == 1:
            add(0.0001, cl, sv, cp, sp, a + 201, off + 1448 * (k + 1), A, 502, 0, 4 + k)
    if lose:
        add(0.2, sv, cl, sp, cp, off + 1448 * 4, a + 201, A, 509, 1448, 9)
    else:
        add(0.0001, sv, cl, sp, cp, off + 1448 * 5, a + 201, P | A, 509, 100, 9)
    end = off + 1448 * 5 + 100
    add(0.0001, cl, sv, cp, sp, a + 201, end, A, 502, 0, 10)
    add(0.0001, cl, sv, cp, sp, a + 201, end, A, 502, 0, 11)  # window probe-like duplicate
    add(0.05, cl, sv, cp, sp, a + 201, end, F | A, 502, 0, 12)
    add(0.0002, sv, cl, sp, cp, end, a + 202, F | A, 509, 0, 10)
    add(0.0002, cl, sv, cp, sp, a + 202, end + 1, A, 502, 0, 13)
    while len(pk) < 20:
        add(0.0001, cl, sv, cp, sp, a + 202, end + 1, A, 502, 0, 14)
    return pk


with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, SNAP, 1))
    base = 1764748800.0  # 2025-12-03 08:00:00 UTC
    pending = []
    import heapq
    n = 0
    i = 0
    while n < target:
        t0 = base + i / 200.0
        for p in conn_packets(i, t0):
            heapq.heappush(pending, (p[0], i, p[1]))
        i += 1
        # Flush what can no longer be preceded by a later connection.
        while pending and pending[0][0] < t0 and n < target:
            t, _, (data, orig) = heapq.heappop(pending)
            s = int(t)
            us = int(round((t - s) * 1e6))
            if us >= 1000000:
                s, us = s + 1, us - 1000000
            f.write(struct.pack("<IIII", s, us, len(data), orig) + data)
            n += 1
    print("wrote %d packets, %d connections" % (n, i), file=sys.stderr)
