#!/bin/sh
# IPv6 path MTU over TUN: the kernel downloads 4 MB from synack at
# [fd77::2]; midway, with the reader paused, an ICMPv6 Packet Too Big (mtu
# 1280) quoting synack's last segment is sent to it from the namespace, as
# a router on the path would (RFC 8201); every data segment after it must
# fit 1280 bytes, the body arrive whole, and synack count the message
# (Icmp6InPktTooBigs) and report the path MTU in ss -i.
. "$(dirname "$0")/lib.sh"
N=4000000
it_up6
start_serve --addr6 "$PEER6/64" --port 8080 --http
nsx python3 - "$PEER6" $N >"$WORK/pmtu6.out" 2>"$WORK/pmtu6.err" <<'PY' || fail "pmtu6: $(cat "$WORK/pmtu6.err")"
import socket, struct, sys, threading, time

peer, n = sys.argv[1], int(sys.argv[2])
peer_b = socket.inet_pton(socket.AF_INET6, peer)

sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
sniff.bind(("tun0", 0))
sniff.settimeout(0.2)
# A raw ICMPv6 socket: the kernel fills the checksum (RFC 3542 §3.1).
icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
state = {"last": None, "end": None, "icmp_at": None, "after": [], "done": False}

def watch():
    while not state["done"]:
        try:
            p = sniff.recv(65536)
        except socket.timeout:
            continue
        if len(p) < 60 or p[6] != 6 or p[8:24] != peer_b:
            continue
        total = 40 + struct.unpack("!H", p[4:6])[0]
        payload = total - 40 - (p[52] >> 4) * 4
        if payload <= 0:
            continue
        if state["icmp_at"] is None:
            seq = struct.unpack("!I", p[44:48])[0]
            end = (seq + payload) & 0xffffffff
            if state["end"] is None or ((end - state["end"]) & 0xffffffff) < 0x80000000:
                state["end"] = end
            if total > 1280:
                state["last"] = p[:60]
        else:
            state["after"].append(total)

t = threading.Thread(target=watch)
t.start()
time.sleep(0.2)
c = socket.create_connection((peer, 8080), timeout=20)
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
c.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % n)
data = b""
while len(data) < 1000000:
    data += c.recv(1 << 16)
# Stop reading: the window closes and synack's flight drains, so the end
# of its last data segment is SND.NXT (= SND.UNA), a sequence tcp_v6_err's
# check accepts; quote a full-size segment's headers with it.
time.sleep(1.0)
if state["last"] is None:
    sys.exit("synack never sent a datagram larger than 1280 bytes")
hdrs = state["last"]
quoted = hdrs[:44] + struct.pack("!I", state["end"]) + hdrs[48:60]
icmp.sendto(struct.pack("!BBHI", 2, 0, 0, 1280) + quoted, (peer, 0))
time.sleep(0.1)
state["icmp_at"] = time.monotonic()
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    data += b
c.close()
state["done"] = True
t.join()
head, _, body = data.partition(b"\r\n\r\n")
if len(body) != n:
    sys.exit("body of %d bytes, not %d" % (len(body), n))
if not state["after"]:
    sys.exit("no data segment seen after the Packet Too Big")
if max(state["after"]) > 1280:
    sys.exit("a %d-byte datagram after the Packet Too Big" % max(state["after"]))
print("ICMPv6 packet too big mtu 1280 after %d-byte datagrams; then %d data segments, the largest %d bytes"
      % (40 + struct.unpack("!H", hdrs[4:6])[0], len(state["after"]), max(state["after"])))
PY
note "$(cat "$WORK/pmtu6.out")"
out=$(nsx "$SYNACK" nstat -az Icmp6InPktTooBigs 2>&1 | awk '/Icmp6InPktTooBigs/ {print $2}')
[ "${out:-0}" -ge 1 ] || fail "synack counted ${out:-0} Icmp6InPktTooBigs"
note "synack Icmp6InPktTooBigs $out"
stop_serve
