#!/bin/sh
# 100 sequential and 50 concurrent curl connections to synack's HTTP server.
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 8080 --http
want=$(pattern_sha 20000)
i=0
while [ $i -lt 100 ]; do
    nsx curl -sS -m 10 -o "$WORK/seq" "http://$PEER:8080/bytes/20000" || fail "sequential request $i failed"
    [ "$(sha_of "$WORK/seq")" = "$want" ] || fail "sequential request $i: wrong body"
    i=$((i + 1))
done
note "100 sequential connections ok"

pids=""
i=0
while [ $i -lt 50 ]; do
    nsx curl -sS -m 30 -o "$WORK/par.$i" "http://$PEER:8080/bytes/$((200000 + i))" 2>"$WORK/par.$i.err" &
    pids="$pids $!"
    i=$((i + 1))
done
IT_PIDS="$IT_PIDS $pids"
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
[ $failed = 0 ] || fail "$failed of 50 concurrent curls failed: $(cat "$WORK"/par.*.err | sort | uniq -c)"
i=0
while [ $i -lt 50 ]; do
    [ "$(sha_of "$WORK/par.$i")" = "$(pattern_sha $((200000 + i)))" ] || fail "concurrent request $i: wrong body"
    i=$((i + 1))
done
note "50 concurrent connections ok"
stop_serve
