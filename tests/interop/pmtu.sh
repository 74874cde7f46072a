# The body of test_pmtu.sh (IPv4) and test_pmtu6.sh (IPv6), sourced after
# lib.sh with FAMILY set to 4 or 6.  Path MTU over TUN: the kernel
# downloads 4 MB from synack in full-size segments; midway, with the reader
# paused, an ICMP fragmentation-needed (IPv4, mtu 1200; RFC 1191) or an
# ICMPv6 Packet Too Big (IPv6, mtu 1280; RFC 8201) quoting synack's last
# segment is sent to it from the namespace, as a router on the path would;
# every data segment after it must fit the MTU, and the body arrive whole.
# Sets PMTU_OUT to the report's line.
N=4000000
if [ "$FAMILY" = 6 ]; then
    it_up6
    start_serve --addr6 "$PEER6/64" --port 8080 --http
    HOST=$PEER6
else
    it_up
    start_serve --port 8080 --http
    HOST=$PEER
fi
nsx python3 - "$FAMILY" "$HOST" $N >"$WORK/pmtu.out" 2>"$WORK/pmtu.err" <<'PY' || fail "pmtu over IPv$FAMILY: $(cat "$WORK/pmtu.err")"
import socket, struct, sys, threading, time

v6, peer, n = sys.argv[1] == "6", sys.argv[2], int(sys.argv[3])
mtu = 1280 if v6 else 1200
what = "Packet Too Big" if v6 else "ICMP"

def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

if v6:
    peer_b = socket.inet_pton(socket.AF_INET6, peer)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
    # A raw ICMPv6 socket: the kernel fills the checksum (RFC 3542 §3.1).
    icmp = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
else:
    peer_b = socket.inet_aton(peer)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sniff.bind(("tun0", 0))
sniff.settimeout(0.2)
state = {"last": None, "end": None, "icmp_at": None, "after": [], "done": False}

def tcp_of(p):
    """(datagram length, IP header length) of a TCP datagram from synack."""
    if v6:
        if len(p) < 60 or p[6] != 6 or p[8:24] != peer_b:
            return None
        return 40 + struct.unpack("!H", p[4:6])[0], 40
    if len(p) < 40 or p[9] != 6 or p[12:16] != peer_b:
        return None
    return struct.unpack("!H", p[2:4])[0], (p[0] & 15) * 4

def watch():
    while not state["done"]:
        try:
            p = sniff.recv(65536)
        except socket.timeout:
            continue
        t = tcp_of(p)
        if t is None:
            continue
        total, ihl = t
        payload = total - ihl - (p[ihl + 12] >> 4) * 4
        if payload <= 0:
            continue
        if state["icmp_at"] is None:
            seq = struct.unpack("!I", p[ihl + 4:ihl + 8])[0]
            end = (seq + payload) & 0xffffffff
            if state["end"] is None or ((end - state["end"]) & 0xffffffff) < 0x80000000:
                state["end"] = end
            if total > mtu:
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
# check (and tcp_v6_err's) accepts; quote a full-size segment's headers
# with it.
time.sleep(1.0)
if state["last"] is None:
    sys.exit("synack never sent a datagram larger than %d bytes" % mtu)
hdrs = state["last"]
if v6:
    quoted = hdrs[:44] + struct.pack("!I", state["end"]) + hdrs[48:60]
    icmp.sendto(struct.pack("!BBHI", 2, 0, 0, mtu) + quoted, (peer, 0))
else:
    ihl = (hdrs[0] & 15) * 4
    quoted = hdrs[:ihl + 4] + struct.pack("!I", state["end"])
    hdr = struct.pack("!BBHHH", 3, 4, 0, 0, mtu)
    icmp.sendto(struct.pack("!BBHHH", 3, 4, csum(hdr + quoted), 0, mtu) + quoted, (peer, 0))
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
    sys.exit("no data segment seen after the %s" % what)
if max(state["after"]) > mtu:
    sys.exit("a %d-byte datagram after the %s" % (max(state["after"]), what))
first = 40 + struct.unpack("!H", hdrs[4:6])[0] if v6 else struct.unpack("!H", hdrs[2:4])[0]
print("%s mtu %d after %d-byte datagrams; then %d data segments, the largest %d bytes"
      % ("ICMPv6 packet too big" if v6 else "ICMP frag-needed", mtu, first, len(state["after"]),
         max(state["after"])))
PY
note "$(cat "$WORK/pmtu.out")"
