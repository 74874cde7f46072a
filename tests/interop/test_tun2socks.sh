#!/bin/sh
# The transparent forwarder (examples/tun2socks, issue 13): a client
# namespace whose default routes (IPv4 and IPv6) go through a TUN device
# owned by tun2socks, which runs in a second namespace and forwards each
# connection to its real destination through the kernel's sockets.  Three
# python http.servers listen there on different addresses and ports; curl
# fetches from all of them at once through the forwarder (sha256 checked),
# a destination with no server is reset at once, and `synack ss` shows the
# forwarder's sockets at the original destinations.
IT_NS_PREFIX=t2s
. "$(dirname "$0")/lib.sh"

T2S="$(dirname "$SYNACK")/examples/tun2socks"
[ -x "$T2S" ] || { echo "no tun2socks example at $T2S (build the examples)"; exit 77; }

# $NS (t2s-tun2socks-PID): tun2socks and the servers; $CNS: the client.
CNS=$(printf 't2s-c-%s' "$$" | cut -c1-30)
ip netns add "$NS" || fail "could not create namespace $NS"
ip netns add "$CNS" || fail "could not create namespace $CNS"
IT_EXTRA_NS="$CNS"
ip -n "$NS" link set lo up
ip -n "$CNS" link set lo up
# The destinations: addresses of the forwarder's namespace (on lo), so
# its kernel sockets reach them without leaving it.
ip -n "$NS" addr add 10.79.0.2/32 dev lo
ip -n "$NS" addr add 10.79.0.3/32 dev lo
ip -n "$NS" addr add fd79::2/128 dev lo nodad

# The TUN device: made in the forwarder's namespace so tun2socks can
# attach to it by name, then moved to the client's (the descriptor stays
# with tun2socks).
ip -n "$NS" tuntap add dev t2s0 mode tun
start_bg "$WORK/t2s.log" "$T2S" t2s0
T2S_PID=$BG_PID
i=0
while ! grep -q 'forwarding' "$WORK/t2s.log" 2>/dev/null; do
    kill -0 "$T2S_PID" 2>/dev/null || fail "tun2socks exited early"
    i=$((i + 1))
    [ $i -lt 100 ] || fail "tun2socks did not start in 5 s"
    sleep 0.05
done
ip -n "$NS" link set t2s0 netns "$CNS"
ip netns exec "$CNS" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/t2s0/router_solicitations' 2>/dev/null || true
ip -n "$CNS" addr add 10.78.0.1/24 dev t2s0
ip -n "$CNS" addr add fd78::1/64 dev t2s0 nodad
ip -n "$CNS" link set t2s0 up
ip -n "$CNS" route add default dev t2s0
ip -n "$CNS" -6 route add default dev t2s0

# The servers: three addresses, three ports, one IPv6.
mkdir -p "$WORK/www"
pattern_file 3000000 "$WORK/www/a"
pattern_file 5000000 "$WORK/www/b"
pattern_file 2000000 "$WORK/www/c"
want_a=$(sha_of "$WORK/www/a")
want_b=$(sha_of "$WORK/www/b")
want_c=$(sha_of "$WORK/www/c")
start_bg "$WORK/http1.log" python3 -m http.server 8001 --bind 10.79.0.2 --directory "$WORK/www"
start_bg "$WORK/http2.log" python3 -m http.server 8002 --bind 10.79.0.3 --directory "$WORK/www"
start_bg "$WORK/http3.log" python3 -m http.server 8003 --bind fd79::2 --directory "$WORK/www"
wait_listen 8001
wait_listen 8002
wait_listen 8003

cns() { ip netns exec "$CNS" "$@"; }

# Several destinations at once, each twice.
pids=""
for n in 1 2; do
    cns curl -sS -m 30 -o "$WORK/got1.$n" http://10.79.0.2:8001/a 2>"$WORK/curl1.$n.err" &
    pids="$pids $!"
    cns curl -sS -m 30 -o "$WORK/got2.$n" http://10.79.0.3:8002/b 2>"$WORK/curl2.$n.err" &
    pids="$pids $!"
    cns curl -sS -m 30 -o "$WORK/got3.$n" "http://[fd79::2]:8003/c" 2>"$WORK/curl3.$n.err" &
    pids="$pids $!"
done
IT_PIDS="$IT_PIDS $pids"
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
[ $failed = 0 ] || fail "$failed of 6 fetches failed: $(cat "$WORK"/curl*.err)"
for n in 1 2; do
    [ "$(sha_of "$WORK/got1.$n")" = "$want_a" ] || fail "10.79.0.2:8001: wrong body"
    [ "$(sha_of "$WORK/got2.$n")" = "$want_b" ] || fail "10.79.0.3:8002: wrong body"
    [ "$(sha_of "$WORK/got3.$n")" = "$want_c" ] || fail "[fd79::2]:8003: wrong body"
done
note "6 concurrent fetches from 3 destinations (IPv4 and IPv6) through the forwarder, sha256 ok"
grep -q '10\.78\.0\.1 port [0-9]* -> 10\.79\.0\.3 port 8002: closed' "$WORK/t2s.log" ||
    fail "tun2socks did not log the relay to 10.79.0.3:8002"

# One larger transfer alone, for a figure.
pattern_file 33554432 "$WORK/www/big"
t0=$(now_ms)
cns curl -sS -m 60 -o "$WORK/got.big" http://10.79.0.2:8001/big 2>"$WORK/big.err" || fail "32 MiB fetch: $(cat "$WORK/big.err")"
t1=$(now_ms)
[ "$(sha_of "$WORK/got.big")" = "$(sha_of "$WORK/www/big")" ] || fail "32 MiB fetch: wrong body"
note "32 MiB through the forwarder: sha256 ok, $(rate 33554432 $((t1 - t0)))"
rm -f "$WORK/got.big" "$WORK/www/big"

# Half-close both ways, and the upload direction: the client sends 4 MB
# and its FIN; the server reads to the end, answers with the sha256 of
# what it got, and closes; the client reads that to the end.
cat >"$WORK/sink.py" <<'PY'
import hashlib, socket, sys
srv = socket.create_server(("10.79.0.3", 8004))
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    h = hashlib.sha256()
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b)
    c.sendall(h.hexdigest().encode())
    c.close()
PY
cat >"$WORK/upload.py" <<'PY'
import socket, sys
data = open(sys.argv[1], "rb").read()
s = socket.create_connection(("10.79.0.3", 8004), timeout=20)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    got += b
print(got.decode())
PY
start_bg "$WORK/sink.log" python3 "$WORK/sink.py"
wait_listen 8004
pattern_file 4000000 "$WORK/up"
got=$(cns python3 "$WORK/upload.py" "$WORK/up" 2>"$WORK/upload.err") || fail "upload failed: $(cat "$WORK/upload.err")"
[ "$got" = "$(sha_of "$WORK/up")" ] || fail "upload: the server got $got"
note "4 MB upload, FIN passed on, the server's answer and FIN passed back: sha256 ok"

# A destination where nothing listens: the kernel's connect is refused,
# and the client's connection is reset at once.
t0=$(now_ms)
rc=0
cns curl -sS -m 10 -o /dev/null http://10.79.0.2:8009/ 2>"$WORK/refused.err" || rc=$?
t1=$(now_ms)
# The handshake with the forwarder completes before its own connect is
# refused (as with Linux's TPROXY), so the RST meets curl while it is
# still connecting (7, "Couldn't connect") or reading (56, reset).
case $rc in
7 | 56) ;;
0) fail "a fetch from a closed port succeeded" ;;
*) fail "closed port: curl exited $rc: $(cat "$WORK/refused.err")" ;;
esac
[ $((t1 - t0)) -lt 2000 ] || fail "closed port: curl took $((t1 - t0)) ms"
grep -q '10\.79\.0\.2 port 8009: Connection refused' "$WORK/t2s.log" || fail "tun2socks did not log the refusal"
note "closed destination port: $(head -c 80 "$WORK/refused.err") after $((t1 - t0)) ms"

# While a connection is open, the forwarder's socket table lists it at the
# original destination (its local address is 10.79.0.3:8002).
cns curl -sS -m 30 --limit-rate 200k -o "$WORK/slow" http://10.79.0.3:8002/b 2>"$WORK/slow.err" &
SLOW=$!
IT_PIDS="$IT_PIDS $SLOW"
i=0
while ! "$SYNACK" ss -N tun2socks -tn 2>/dev/null | grep -q '10\.79\.0\.3:8002 *10\.78\.0\.1:'; do
    i=$((i + 1))
    [ $i -lt 60 ] || fail "ss -N tun2socks never listed 10.79.0.3:8002: $("$SYNACK" ss -N tun2socks -tan 2>&1)"
    sleep 0.05
done
note "ss: $("$SYNACK" ss -N tun2socks -tn | grep '10\.79\.0\.3:8002' | head -1 | tr -s ' ')"
kill "$SLOW" 2>/dev/null || true
wait "$SLOW" 2>/dev/null || true

kill -TERM "$T2S_PID"
rc=0
wait "$T2S_PID" || rc=$?
[ $rc = 0 ] || fail "tun2socks exited $rc after SIGTERM"
