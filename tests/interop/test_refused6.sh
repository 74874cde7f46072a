#!/bin/sh
# IPv6: connection refused both ways, at once (RST answering the SYN).
. "$(dirname "$0")/lib.sh"
it_up6
start_serve --addr6 "$PEER6/64" --port 8080 --http
t0=$(now_ms)
rc=0
nsx curl -6 -sS -v -m 10 "http://[$PEER6]:9/" >"$WORK/out" 2>"$WORK/curl.err" || rc=$?
t1=$(now_ms)
[ $rc = 7 ] || fail "curl -6 to a closed port exited $rc, not 7 (could not connect): $(cat "$WORK/curl.err")"
grep -q 'Connection refused' "$WORK/curl.err" || fail "curl said: $(cat "$WORK/curl.err")"
[ $((t1 - t0)) -lt 2000 ] || fail "refusal took $((t1 - t0)) ms"
note "curl -6 -> closed synack port: refused (exit 7) in $((t1 - t0)) ms"
stop_serve

if nsx "$SYNACK" connect "[$KERNEL6]:9" --tun tun0 --addr6 "$PEER6/64" --recv 10 >"$WORK/out" 2>"$WORK/connect.err"; then
    fail "synack connect to a closed kernel port succeeded"
fi
grep -q 'Connection refused (ECONNREFUSED)' "$WORK/connect.err" || fail "synack connect said: $(cat "$WORK/connect.err")"
note "synack -> closed kernel IPv6 port: $(cat "$WORK/connect.err")"
