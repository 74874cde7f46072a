#!/usr/bin/env python3
"""Seeds for fuzz_trace, and an IPv6 seed for fuzz_analyze, from the
datagrams of tests/trace6_vectors.h (tcpdump-checked IPv6 datagrams with
hop-by-hop, destination options, fragment and routing headers) plus an
IPv4 exchange.

    python3 fuzz/make_trace_seeds.py

fuzz_trace's input: a flags byte (bit 0 -S, bit 1 -v), then datagrams as
a 2-byte big-endian length and the bytes.  fuzz_analyze's: a link-type
index (3: DLT_RAW), then frames as a 2-byte length, a clock byte, bytes.
"""
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def vectors():
    text = open(os.path.join(ROOT, "tests", "trace6_vectors.h")).read()
    for what, hexs in re.findall(r'\{"([^"]*)", \d+, \(const uint8_t \*\)"((?:\\x[0-9a-f]{2})*)"', text):
        yield what, bytes(int(h, 16) for h in re.findall(r"\\x([0-9a-f]{2})", hexs))


def ip4_tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    return ip + tcp


def main():
    out = os.path.join(ROOT, "fuzz", "corpus", "trace")
    os.makedirs(out, exist_ok=True)
    vs = list(vectors())
    whole = b"".join(struct.pack(">H", len(d)) + d for _, d in vs)
    for flags in range(4):
        open(os.path.join(out, "ip6_all_%d" % flags), "wb").write(bytes([flags]) + whole)
    for what, d in vs:
        name = "ip6_" + re.sub(r"[^a-z0-9]+", "_", what.lower()).strip("_")
        open(os.path.join(out, name), "wb").write(bytes([2]) + struct.pack(">H", len(d)) + d)
    a, b = [10, 0, 0, 1], [10, 0, 0, 2]
    v4 = [ip4_tcp(a, b, 40000, 80, 100, 0, 0x02), ip4_tcp(b, a, 80, 40000, 900, 101, 0x12),
          ip4_tcp(a, b, 40000, 80, 101, 901, 0x18, b"GET / HTTP/1.1\r\n\r\n")]
    open(os.path.join(out, "ip4_exchange"), "wb").write(
        bytes([0]) + b"".join(struct.pack(">H", len(d)) + d for d in v4))
    ana = bytes([3]) + b"".join(struct.pack(">HB", len(d), 1) + d for _, d in vs)
    open(os.path.join(ROOT, "fuzz", "corpus", "analyze", "ip6_exthdrs"), "wb").write(ana)
    print("%d seeds in %s" % (len(vs) + 5, out))


if __name__ == "__main__":
    main()
