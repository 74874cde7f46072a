#!/bin/sh
# The kernel pings synack: echo requests over TUN answered byte for byte
# (icmp.c), from a raw ICMP socket in the namespace, as ping(8) sends them.
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 8080 --http
nsx python3 - "$PEER" >"$WORK/ping.out" 2>"$WORK/ping.err" <<'PY' || fail "ping: $(cat "$WORK/ping.err")"
import os, socket, struct, sys, time

peer = sys.argv[1]

def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
ident = os.getpid() & 0xffff
got = 0
for seq in range(1, 4):
    data = bytes(range(56))
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + data), ident, seq) + data
    t0 = time.monotonic()
    s.sendto(pkt, (peer, 0))
    while True:
        r, addr = s.recvfrom(2048)
        ihl = (r[0] & 15) * 4
        icmp = r[ihl:]
        if addr[0] != peer or icmp[0] != 0:
            continue
        t, code, c, i, q = struct.unpack("!BBHHH", icmp[:8])
        if i != ident or q != seq:
            continue
        if csum(icmp) != 0:
            sys.exit("bad ICMP checksum in the reply")
        if icmp[8:] != data:
            sys.exit("the reply's data differs")
        if r[8] != 64:
            sys.exit("reply TTL %d, not 64" % r[8])
        got += 1
        print("64 bytes from %s: icmp_seq=%d ttl=%d time=%.2f ms" % (peer, seq, r[8], (time.monotonic() - t0) * 1e3))
        break
print("3 packets transmitted, %d received" % got)
PY
grep -q "3 packets transmitted, 3 received" "$WORK/ping.out" || fail "ping: $(cat "$WORK/ping.out")"
note "$(tail -1 "$WORK/ping.out")"
stop_serve
exit 0
