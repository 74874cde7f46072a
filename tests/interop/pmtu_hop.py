# Plays a router with a smaller MTU on the path of a download from synack
# (tests/interop/test_pmtu.sh and test_pmtu6.sh): reads 1 MB, pauses so
# that synack's flight drains, sends it an ICMP fragmentation-needed (IPv4)
# or an ICMPv6 Packet Too Big quoting its last full-size segment with
# SND.NXT as the sequence (which the RFC 5927 / tcp_v6_err window check
# accepts), reads the rest, and checks that every data segment after the
# message fits the new MTU and the body arrives whole.
#
#   python3 pmtu_hop.py 4|6 PEER_ADDRESS BYTES
import socket, struct, sys, threading, time

family, peer, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
v6 = family == 6
mtu = 1280 if v6 else 1200
msg = "the Packet Too Big" if v6 else "the ICMP"
peer_b = socket.inet_pton(socket.AF_INET6, peer) if v6 else socket.inet_aton(peer)


def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def parse(p):
    """(total length, TCP header offset) of a datagram from synack, else None."""
    if v6:
        if len(p) < 60 or p[6] != 6 or p[8:24] != peer_b:
            return None
        return 40 + struct.unpack("!H", p[4:6])[0], 40
    if len(p) < 40 or p[9] != 6 or p[12:16] != peer_b:
        return None
    return struct.unpack("!H", p[2:4])[0], (p[0] & 15) * 4


sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD if v6 else 0x0800))
sniff.bind(("tun0", 0))
sniff.settimeout(0.2)
# A raw ICMPv6 socket has the kernel fill the checksum (RFC 3542 §3.1).
icmp = (socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) if v6
        else socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
state = {"last": None, "end": None, "icmp_at": None, "after": [], "done": False}


def watch():
    while not state["done"]:
        try:
            p = sniff.recv(65536)
        except socket.timeout:
            continue
        got = parse(p)
        if not got:
            continue
        total, th = got
        payload = total - th - (p[th + 12] >> 4) * 4
        if payload <= 0:
            continue
        if state["icmp_at"] is None:
            seq = struct.unpack("!I", p[th + 4:th + 8])[0]
            end = (seq + payload) & 0xffffffff
            if state["end"] is None or ((end - state["end"]) & 0xffffffff) < 0x80000000:
                state["end"] = end
            if total > mtu:
                state["last"] = p[:th + 20]
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
# of its last data segment is SND.NXT (= SND.UNA).
time.sleep(1.0)
if state["last"] is None:
    sys.exit("synack never sent a datagram larger than %d bytes" % mtu)
hdrs = state["last"]
if v6:
    quoted = hdrs[:44] + struct.pack("!I", state["end"]) + hdrs[48:60]
    icmp.sendto(struct.pack("!BBHI", 2, 0, 0, mtu) + quoted, (peer, 0))
    first = 40 + struct.unpack("!H", hdrs[4:6])[0]
else:
    ihl = (hdrs[0] & 15) * 4
    quoted = hdrs[:ihl + 4] + struct.pack("!I", state["end"])
    hdr = struct.pack("!BBHHH", 3, 4, 0, 0, mtu)
    icmp.sendto(struct.pack("!BBHHH", 3, 4, csum(hdr + quoted), 0, mtu) + quoted, (peer, 0))
    first = struct.unpack("!H", hdrs[2:4])[0]
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
    sys.exit("no data segment seen after %s" % msg)
if max(state["after"]) > mtu:
    sys.exit("a %d-byte datagram after %s" % (max(state["after"]), msg))
what = "ICMPv6 packet too big" if v6 else "ICMP frag-needed"
print("%s mtu %d after %d-byte datagrams; then %d data segments, the largest %d bytes"
      % (what, mtu, first, len(state["after"]), max(state["after"])))
