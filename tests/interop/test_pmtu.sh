#!/bin/sh
# Path MTU over TUN: synack sends the kernel 4 MB in full-size segments;
# midway, with the reader paused, an ICMP fragmentation-needed (mtu 1200)
# quoting synack's last segment is sent to it from the namespace, as a
# router on the path would; every data segment after it must fit 1200
# bytes, and the body arrive whole.
. "$(dirname "$0")/lib.sh"
N=4000000
it_up
start_serve --port 8080 --http
nsx python3 - "$PEER" $N >"$WORK/pmtu.out" 2>"$WORK/pmtu.err" <<'PY' || fail "pmtu: $(cat "$WORK/pmtu.err")"
import socket, struct, sys, threading, time

peer, n = sys.argv[1], int(sys.argv[2])
peer_b = socket.inet_aton(peer)

def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
sniff.bind(("tun0", 0))
sniff.settimeout(0.2)
icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
state = {"last": None, "end": None, "icmp_at": None, "after": [], "done": False}

def watch():
    while not state["done"]:
        try:
            p = sniff.recv(65536)
        except socket.timeout:
            continue
        if len(p) < 40 or p[9] != 6 or p[12:16] != peer_b:
            continue
        total = struct.unpack("!H", p[2:4])[0]
        ihl = (p[0] & 15) * 4
        payload = total - ihl - (p[ihl + 12] >> 4) * 4
        if payload <= 0:
            continue
        if state["icmp_at"] is None:
            seq = struct.unpack("!I", p[ihl + 4:ihl + 8])[0]
            end = (seq + payload) & 0xffffffff
            if state["end"] is None or ((end - state["end"]) & 0xffffffff) < 0x80000000:
                state["end"] = end
            if total > 1200:
                state["last"] = p[:ihl + 20]
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
# of its last data segment is SND.NXT (= SND.UNA), a sequence RFC 5927's
# check accepts; quote a full-size segment's headers with it.
time.sleep(1.0)
if state["last"] is None:
    sys.exit("synack never sent a segment larger than 1200 bytes")
hdrs = state["last"]
ihl = (hdrs[0] & 15) * 4
quoted = hdrs[:ihl + 4] + struct.pack("!I", state["end"])
hdr = struct.pack("!BBHHH", 3, 4, 0, 0, 1200)
icmp.sendto(struct.pack("!BBHHH", 3, 4, csum(hdr + quoted), 0, 1200) + quoted, (peer, 0))
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
    sys.exit("no data segment seen after the ICMP")
if max(state["after"]) > 1200:
    sys.exit("a %d-byte datagram after the ICMP" % max(state["after"]))
print("ICMP frag-needed mtu 1200 after %d-byte segments; then %d data segments, the largest %d bytes"
      % (struct.unpack("!H", hdrs[2:4])[0], len(state["after"]), max(state["after"])))
PY
note "$(cat "$WORK/pmtu.out")"
stop_serve
