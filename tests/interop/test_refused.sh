#!/bin/sh
# Connection refused both ways, at once (RST answering the SYN).
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 8080 --http
t0=$(now_ms)
if nsx curl -sS -v -m 10 "http://$PEER:9/" >"$WORK/out" 2>"$WORK/curl.err"; then fail "curl to a closed port succeeded"; fi
t1=$(now_ms)
grep -q 'Connection refused' "$WORK/curl.err" || fail "curl said: $(cat "$WORK/curl.err")"
[ $((t1 - t0)) -lt 2000 ] || fail "refusal took $((t1 - t0)) ms"
note "curl -> closed synack port: $(grep -o "connect to.*refused" "$WORK/curl.err") in $((t1 - t0)) ms"
stop_serve

if nsx "$SYNACK" connect $KERNEL:9 --tun tun0 --addr $PEER/24 --recv 10 >"$WORK/out" 2>"$WORK/connect.err"; then
    fail "synack connect to a closed kernel port succeeded"
fi
grep -q 'Connection refused (ECONNREFUSED)' "$WORK/connect.err" || fail "synack connect said: $(cat "$WORK/connect.err")"
note "synack -> closed kernel port: $(cat "$WORK/connect.err")"
