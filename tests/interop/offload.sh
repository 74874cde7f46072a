# The body of test_offload.sh (IPv4) and test_offload6.sh (IPv6), sourced
# after lib.sh with FAMILY set to 4 or 6: synack serve --offload, the TUN
# with a virtio-net header, checksum offload and the kernel's TSO (TSO4
# or TSO6 as the family gives).  Each path moves 64 MiB down with its
# sha256 checked:
#  - local: curl in the TUN's namespace, whose TCP leaves its checksums
#    partial (NEEDS_CSUM) and hands synack 64 KiB super-segments, and gets
#    synack's segments coalesced into super-segments with partial
#    checksums, taken whole by its own TCP;
#  - forwarded: curl in a second namespace, routed through the first over
#    a veth pair with checksum offload off on both ends, so the router's
#    kernel must split synack's super-segments (tcp_gso_segment) and
#    complete their checksums in software before the veth
#    and the client's kernel verifies every one (TcpInCsumErrors), and the
#    client's checksums reach synack unvouched, verified by the loop.
# Then 8 MiB echoed back through each path and 64 MiB uploaded to
# --discard locally, as super-segments, every byte counted.
command -v ethtool >/dev/null 2>&1 || { echo "ethtool is missing"; exit 77; }
N=67108864
CNS="${NS}c"
VR="${IT_NS_PREFIX:-sk}r$$"
VC="${IT_NS_PREFIX:-sk}c$$"
VR=$(printf '%s' "$VR" | cut -c1-15)
VC=$(printf '%s' "$VC" | cut -c1-15)
if [ "$FAMILY" = 6 ]; then
    it_up6
    SERVE6="--addr6 $PEER6/64"
    HOST=$PEER6
    URLHOST="[$PEER6]"
    R_ADDR=fd78::1/64 C_ADDR=fd78::2/64 VIA=fd78::1 SYNACK_NET=fd77::/64
    NODAD=nodad # usable at once, without duplicate address detection
    FORWARD=/proc/sys/net/ipv6/conf/all/forwarding
else
    it_up
    SERVE6=""
    HOST=$PEER
    URLHOST=$PEER
    R_ADDR=10.78.0.1/24 C_ADDR=10.78.0.2/24 VIA=10.78.0.1 SYNACK_NET=10.77.0.0/24
    NODAD=
    FORWARD=/proc/sys/net/ipv4/ip_forward
fi
URL="http://$URLHOST:8080/bytes/$N"

# shellcheck disable=SC2086 # SERVE6 is two words or none
start_serve $SERVE6 --port 8080 --http --offload -v
grep -q 'checksum offload, TSO' "$WORK/serve.log" || fail "the kernel did not take checksum offload and TSO: $(head -1 "$WORK/serve.log")"

# Local: download.
nsx curl -"$FAMILY" -sS -m 60 -o "$WORK/body" "$URL" || fail "curl failed"
[ "$(stat -c %s "$WORK/body")" = $N ] || fail "got $(stat -c %s "$WORK/body") bytes, not $N"
[ "$(sha_of "$WORK/body")" = "$(pattern_sha $N)" ] || fail "64 MiB download: sha256 mismatch"
note "local download over IPv$FAMILY: 64 MiB, sha256 right"

# Forwarded: a client namespace behind a veth pair, offloads off.
ip netns add "$CNS" || fail "cannot create $CNS"
IT_EXTRA_NS="$CNS"
ip link add "$VR" netns "$NS" type veth peer name "$VC" netns "$CNS" || fail "cannot create the veth pair"
nsx ip addr add "$R_ADDR" dev "$VR" $NODAD
nsx ip link set "$VR" up
ip -n "$CNS" addr add "$C_ADDR" dev "$VC" $NODAD
ip -n "$CNS" link set "$VC" up
ip -n "$CNS" link set lo up
ip -n "$CNS" route add "$SYNACK_NET" via "$VIA"
nsx sh -c "echo 1 > $FORWARD"
nsx ethtool -K "$VR" tx off rx off >/dev/null 2>&1 || fail "ethtool -K $VR tx off rx off"
ip netns exec "$CNS" ethtool -K "$VC" tx off rx off >/dev/null 2>&1 || fail "ethtool -K $VC tx off rx off"
before=$(ip netns exec "$CNS" nstat -az TcpInCsumErrors | awk '/TcpInCsumErrors/ {print $2}')
ip netns exec "$CNS" curl -"$FAMILY" -sS -m 60 -o "$WORK/fwd" "$URL" || fail "forwarded curl failed"
[ "$(stat -c %s "$WORK/fwd")" = $N ] || fail "forwarded: got $(stat -c %s "$WORK/fwd") bytes, not $N"
[ "$(sha_of "$WORK/fwd")" = "$(pattern_sha $N)" ] || fail "forwarded 64 MiB download: sha256 mismatch"
after=$(ip netns exec "$CNS" nstat -az TcpInCsumErrors | awk '/TcpInCsumErrors/ {print $2}')
[ "$before" = "$after" ] || fail "the client's kernel counted $((after - before)) TCP checksum errors"
note "forwarded download over IPv$FAMILY: 64 MiB, sha256 right, client TcpInCsumErrors stayed $after"

# An upload through both paths: synack echoes 8 MiB back, compared byte
# for byte; the local one arrives as super-segments.
echo_check() { # namespace
    ip netns exec "$1" python3 - "$HOST" 8081 8388608 <<'PY' || fail "echo through $1 failed"
import hashlib, socket, sys, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = bytes((i * 31 + 7) & 0xff for i in range(256)) * (n // 256)
s = socket.create_connection((host, port), timeout=30)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
got = bytearray()
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    got += b
t.join()
if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
    sys.exit("echoed %d bytes, not the %d sent" % (len(got), n))
PY
}
stop_serve
# shellcheck disable=SC2086
LOG=$WORK/echo.log start_serve $SERVE6 --port 8081 --echo --offload -v
echo_check "$NS"
echo_check "$CNS"
note "8 MiB echoed through each path, sha256 right"
stop_serve

# 64 MiB up to --discard from the local side: every byte read, once.
# shellcheck disable=SC2086
LOG=$WORK/discard.log start_serve $SERVE6 --port 8082 --discard --offload -v
nsx python3 - "$HOST" 8082 $N <<'PY' || fail "upload to --discard failed"
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = bytes((i * 31 + 7) & 0xff for i in range(256)) * 4096
s = socket.create_connection((host, port), timeout=30)
for _ in range(n // len(block)):
    s.sendall(block)
s.shutdown(socket.SHUT_WR)
if s.recv(1):
    sys.exit("--discard sent data back")
PY
stop_serve
grep -q ": 1 connections, $N bytes in, 0 bytes out" "$WORK/discard.log" ||
    fail "--discard did not read $N bytes: $(grep 'bytes in' "$WORK/discard.log")"
note "64 MiB uploaded to --discard, all of it read"

# The loop's own account: super-segments taken, nothing refused.
for log in "$WORK/serve.log" "$WORK/echo.log" "$WORK/discard.log"; do
    line=$(grep 'tun offload:' "$log") || fail "no offload line in $(basename "$log")"
    echo "$line" | grep -q ', 0 bad virtio-net headers, 0 TCP checksum errors' || fail "$line"
done
gso=$(sed -n 's/.*tun offload: \([0-9]*\) super-segments.*/\1/p' "$WORK/echo.log")
[ "$gso" -gt 0 ] || fail "the local echo upload came as no super-segments"
up=$(sed -n 's/.*tun offload: \([0-9]*\) super-segments.*/\1/p' "$WORK/discard.log")
[ "$up" -gt 0 ] || fail "the 64 MiB upload came as no super-segments"
out=$(sed -n 's/.*; \([0-9]*\) super-segments written.*/\1/p' "$WORK/serve.log")
[ "$out" -gt 0 ] || fail "the downloads went out as no super-segments"
note "synack took $gso + $up super-segments and wrote $out, refused no header, found no bad checksum"
