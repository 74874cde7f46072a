#!/bin/sh
# Who closes first keeps TIME_WAIT, seen from both sides.
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 8080 --http --state-log

# synack closes first (Connection: close): a Linux client reads to EOF
# (synack's FIN), sees its socket in CLOSE-WAIT, closes; the kernel's
# socket then goes LAST-ACK -> gone, and synack holds TIME_WAIT.
cat >"$WORK/closer.py" <<'PY'
import socket, subprocess, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=10)
port = s.getsockname()[1]
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
while s.recv(65536):
    pass
time.sleep(0.1)
ss = subprocess.run(["ss", "-Htan", "sport = :%d" % port], capture_output=True, text=True).stdout.split()
s.close()
print(port, ss[0] if ss else "none")
PY
set -- $(nsx python3 "$WORK/closer.py" $PEER) || fail "python client failed"
port=$1
[ "${2:-}" = CLOSE-WAIT ] || fail "kernel socket after synack's FIN: ${2:-?}, not CLOSE-WAIT"
sleep 0.3
if nsx ss -tan | grep -q ":$port "; then
    fail "kernel still has the connection: $(nsx ss -tan | grep ":$port ")"
fi
grep -q "10.77.0.1:$port FIN_WAIT_2 -> TIME_WAIT" "$WORK/serve.log" \
    || fail "synack's connection from port $port did not go FIN_WAIT_2 -> TIME_WAIT"
kill -USR1 "$SERVE_PID"
sleep 0.2
grep -q "TIME-WAIT.*10\.77\.0\.1:$port" "$WORK/serve.log" || fail "synack's socket table lacks TIME-WAIT for port $port"
note "synack closed first: kernel has nothing left for :$port, synack holds TIME-WAIT"
stop_serve

# The kernel closes first: python's http.server answers HTTP/1.0 and
# closes; the kernel holds TIME-WAIT, synack goes CLOSE_WAIT -> LAST_ACK -> CLOSED.
mkdir "$WORK/www"
echo hello >"$WORK/www/index.txt"
start_bg "$WORK/httpd.log" python3 -m http.server 8000 --bind $KERNEL --directory "$WORK/www"
wait_listen 8000
nsx "$SYNACK" connect $KERNEL:8000 --tun tun0 --addr $PEER/24 --http /index.txt --state-log -o "$WORK/got" \
    2>"$WORK/connect.log" || fail "synack connect failed"
grep -q hello "$WORK/got" || fail "wrong body"
nsx ss -tan state time-wait | grep -q "$KERNEL:8000 *$PEER:" || fail "kernel has no TIME-WAIT: $(nsx ss -tan)"
grep -q 'CLOSE_WAIT -> LAST_ACK' "$WORK/connect.log" || fail "synack did not pass CLOSE_WAIT -> LAST_ACK"
grep -q 'LAST_ACK -> CLOSED' "$WORK/connect.log" || fail "synack did not pass LAST_ACK -> CLOSED"
note "kernel closed first: kernel holds TIME-WAIT, synack went LAST_ACK -> CLOSED"
