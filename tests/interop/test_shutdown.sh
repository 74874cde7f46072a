#!/bin/sh
# SIGTERM mid-transfer: synack serve stops accepting, finishes the
# response under way within its grace period, closes with FIN and exits 0;
# the client gets every byte.
. "$(dirname "$0")/lib.sh"
N=16777216
it_up
start_serve --port 8080 --http
nsx curl -sS -m 30 --limit-rate 10M -o "$WORK/body" "http://$PEER:8080/bytes/$N" 2>"$WORK/curl.err" &
CURL_PID=$!
IT_PIDS="$IT_PIDS $CURL_PID"
sleep 0.5
stop_serve
wait "$CURL_PID" || fail "curl failed: $(cat "$WORK/curl.err")"
[ "$(sha_of "$WORK/body")" = "$(pattern_sha $N)" ] || fail "body cut short: $(stat -c %s "$WORK/body") bytes"
grep -q 'closing 1 connection' "$WORK/serve.log" || fail "server did not report draining"
note "SIGTERM during a 16 MiB response: all bytes delivered, exit 0"
if nsx curl -sS -m 1 "http://$PEER:8080/" >/dev/null 2>&1; then fail "server still answers after exit"; fi
