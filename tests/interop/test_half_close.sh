#!/bin/sh
# Half-close both ways round: a Linux client shuts down its sending side
# and still reads everything synack sends; synack shuts down its sending
# side and still reads everything Linux sends.
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 7 --echo
cat >"$WORK/halfclose.py" <<'PY'
import socket, sys, hashlib
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=20)
if mode == "echo":
    data = bytes((i * 7 + 3) & 0xff for i in range(1 << 20))
else:
    data = b"GET /bytes/300000 HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
s.close()
if mode == "echo":
    ok = bytes(got) == data
else:
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    want = (bytes(((i * 31 + 7) & 0xff) for i in range(256)) * 2000)[:300000]
    ok = head.startswith(b"HTTP/1.1 200") and body == want
print("ok" if ok else "mismatch: %d bytes" % len(got))
sys.exit(0 if ok else 1)
PY
nsx python3 "$WORK/halfclose.py" $PEER 7 echo >"$WORK/py.log" 2>&1 || fail "echo after SHUT_WR: $(cat "$WORK/py.log")"
note "Linux SHUT_WR after 1 MiB to synack echo: all echoed back"
stop_serve

LOG=$WORK/serve2.log start_serve --port 8080 --http
nsx python3 "$WORK/halfclose.py" $PEER 8080 http >"$WORK/py2.log" 2>&1 || fail "HTTP after SHUT_WR: $(cat "$WORK/py2.log")"
note "Linux SHUT_WR after an HTTP request: whole response read"
stop_serve

# synack half-closes: it sends a file, SHUT_WR, and reads Linux's echo to EOF.
cat >"$WORK/echod.py" <<'PY'
import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(1)
c, _ = l.accept()
while True:
    b = c.recv(65536)
    if not b:
        break
    c.sendall(b)
c.close()
PY
start_bg "$WORK/echod.log" python3 "$WORK/echod.py" $KERNEL 7007
wait_listen 7007
pattern_file 3000000 "$WORK/send.bin"
nsx "$SYNACK" connect $KERNEL:7007 --tun tun0 --addr $PEER/24 --send "$WORK/send.bin" -o "$WORK/echoed.bin" \
    2>"$WORK/connect.log" || fail "synack connect --send failed: $(cat "$WORK/connect.log")"
cmp -s "$WORK/send.bin" "$WORK/echoed.bin" || fail "synack SHUT_WR: echo differs ($(stat -c %s "$WORK/echoed.bin") bytes)"
note "synack SHUT_WR after 3 MB to a Linux echo: all read back"
