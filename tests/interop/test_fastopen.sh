#!/bin/sh
# TCP Fast Open (RFC 7413) both ways against Linux, seen from the kernel
# side with tcpdump: the first connection asks for and gets a cookie, the
# second carries its request in the SYN.
#   1. Linux client (python, MSG_FASTOPEN, tcp_fastopen=1) -> synack serve
#      with Fast Open on every listener (tcp_fastopen=0x403).
#   2. synack connect --fastopen --count 2 -> a Linux server
#      (tcp_fastopen=3, TCP_FASTOPEN on the listener).
. "$(dirname "$0")/lib.sh"
NS="sktfo-$$" # a prefix no other test uses
command -v tcpdump >/dev/null 2>&1 || { echo "  tcpdump missing: skipped"; exit 0; }
it_up
nsx sysctl -qw net.ipv4.tcp_fastopen=1

# SYNs seen on the kernel's side of tun0, as tcpdump prints them.
start_capture() {
    nsx tcpdump -l -n -i tun0 -s 200 'tcp[tcpflags] & tcp-syn != 0' >"$WORK/$1.cap" 2>"$WORK/$1.tcpdump.err" &
    IT_PIDS="$IT_PIDS $!"
    CAP_PID=$!
    i=0
    while ! grep -q "listening on" "$WORK/$1.tcpdump.err" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "tcpdump did not start"
        sleep 0.05
    done
}
stop_capture() {
    sleep 0.3
    kill -TERM "$CAP_PID" 2>/dev/null || true
    wait "$CAP_PID" 2>/dev/null || true
}

# --- 1: Linux client, synack server -------------------------------------
start_capture linux-client
start_serve --port 8080 --http --sysctl net.ipv4.tcp_fastopen=0x403
nsx timeout 20 python3 - "$PEER" >"$WORK/client.log" 2>&1 <<'PY' || fail "python client: $(cat "$WORK/client.log")"
import socket, sys
peer = sys.argv[1]
for i in range(2):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # blocking, as curl --tcp-fastopen: a timeout would make it non-blocking
    s.sendto(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", socket.MSG_FASTOPEN, (peer, 8080))
    s.settimeout(10)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    print(i, data.split(b"\r\n", 1)[0].decode())
PY
stop_capture
grep -c "200" "$WORK/client.log" | grep -q '^2$' || fail "python client: $(cat "$WORK/client.log")"
# client SYNs: kernel (10.77.0.1) -> synack
grep "IP $KERNEL\.[0-9]* > $PEER\.8080: Flags \[S\]," "$WORK/linux-client.cap" >"$WORK/syn1" || true
[ "$(wc -l <"$WORK/syn1")" -eq 2 ] || fail "expected 2 client SYNs, saw: $(cat "$WORK/linux-client.cap")"
sed -n 1p "$WORK/syn1" | grep -q "tfo  cookiereq" || fail "first SYN asks no cookie: $(sed -n 1p "$WORK/syn1")"
sed -n 1p "$WORK/syn1" | grep -q "length 0" || fail "first SYN carries data: $(sed -n 1p "$WORK/syn1")"
sed -n 2p "$WORK/syn1" | grep -q "tfo  cookie [0-9a-f]\{16\}" || fail "second SYN has no cookie: $(sed -n 2p "$WORK/syn1")"
sed -n 2p "$WORK/syn1" | grep -q "length 0" && fail "second SYN carries no data: $(sed -n 2p "$WORK/syn1")"
grep "IP $PEER\.8080 > $KERNEL\.[0-9]*: Flags \[S\.\]," "$WORK/linux-client.cap" >"$WORK/synack1" || true
sed -n 1p "$WORK/synack1" | grep -q "tfo  cookie [0-9a-f]\{16\}" || fail "synack's SYN-ACK gave no cookie: $(cat "$WORK/synack1")"
note "Linux client -> synack: $(sed -n 2p "$WORK/syn1" | grep -o 'seq [0-9:]*.*length [0-9]*' | sed 's/options.*length/... length/')"
stop_serve

# --- 2: synack client, Linux server -------------------------------------
nsx sysctl -qw net.ipv4.tcp_fastopen=3
cat >"$WORK/server.py" <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
s.bind(("0.0.0.0", 8081))
s.listen(16)
for i in range(2):
    c, _ = s.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        b = c.recv(4096)
        if not b:
            break
        req += b
    body = b"fast open %d\n" % i
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    c.close()
PY
start_bg "$WORK/server.log" timeout 30 python3 "$WORK/server.py"
SERVER_PID=$BG_PID
wait_listen 8081
start_capture synack-client
nsx timeout 20 "$SYNACK" connect $KERNEL:8081 --tun tun0 --addr $PEER/24 --fastopen --count 2 --http / \
    >"$WORK/connect.log" 2>&1 || fail "synack connect: $(cat "$WORK/connect.log")"
stop_capture
wait "$SERVER_PID" 2>/dev/null || true
# the two GETs, one after another in one stack (--parallel 1): the second
# takes the cookie the first was given
grep -q "2 connections to .*: 2 completed, 0 failed" "$WORK/connect.log" || fail "synack connect: $(cat "$WORK/connect.log")"
grep "IP $PEER\.[0-9]* > $KERNEL\.8081: Flags \[S\]," "$WORK/synack-client.cap" >"$WORK/syn2" || true
[ "$(wc -l <"$WORK/syn2")" -eq 2 ] || fail "expected 2 synack SYNs, saw: $(cat "$WORK/synack-client.cap")"
sed -n 1p "$WORK/syn2" | grep -q "tfo  cookiereq" || fail "synack's first SYN asks no cookie: $(sed -n 1p "$WORK/syn2")"
sed -n 2p "$WORK/syn2" | grep -q "tfo  cookie [0-9a-f]\{16\}" || fail "synack's second SYN: $(sed -n 2p "$WORK/syn2")"
sed -n 2p "$WORK/syn2" | grep -q "length 0" && fail "synack's second SYN carries no data: $(sed -n 2p "$WORK/syn2")"
nsx nstat -az TcpExtTCPFastOpenPassive 2>/dev/null | grep -q 'TcpExtTCPFastOpenPassive *1 ' ||
    fail "the kernel took no Fast Open SYN: $(nsx nstat -az TcpExtTCPFastOpenPassive 2>&1)"
note "synack client -> Linux: $(sed -n 2p "$WORK/syn2" | grep -o 'seq [0-9:]*.*length [0-9]*' | sed 's/options.*length/... length/')"
