#!/bin/sh
# Abortive close: synack closes with SO_LINGER 0 after a request; Linux
# clients see "Connection reset by peer".
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 8080 --http --abort-after-request
if nsx curl -sS -m 10 "http://$PEER:8080/" >"$WORK/out" 2>"$WORK/curl.err"; then fail "curl succeeded"; fi
grep -q 'Connection reset by peer' "$WORK/curl.err" || fail "curl said: $(cat "$WORK/curl.err")"
note "curl: $(cat "$WORK/curl.err")"
cat >"$WORK/reset.py" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    data = s.recv(100)
    time.sleep(0.2)
    s.sendall(b"more")
    data = s.recv(100)
    print("no reset, got %r" % data)
    sys.exit(1)
except ConnectionResetError as e:
    print("ConnectionResetError:", e)
PY
nsx python3 "$WORK/reset.py" $PEER 8080 >"$WORK/py.log" 2>&1 || fail "python: $(cat "$WORK/py.log")"
grep -q 'Connection reset by peer' "$WORK/py.log" || fail "python: $(cat "$WORK/py.log")"
note "python: $(cat "$WORK/py.log")"
stop_serve
