#!/bin/sh
# HTTP/1.1 keep-alive: curl fetches two URLs over one connection.
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 8080 --http
nsx curl -sS -v -m 10 -o "$WORK/a" "http://$PEER:8080/bytes/5000" -o "$WORK/b" "http://$PEER:8080/bytes/7000" \
    2>"$WORK/curl.log" || fail "curl failed: $(cat "$WORK/curl.log")"
grep -q 'Re-using existing connection' "$WORK/curl.log" || fail "curl did not reuse the connection"
[ "$(grep -c 'Connected to' "$WORK/curl.log")" = 1 ] || fail "curl connected more than once"
[ "$(sha_of "$WORK/a")" = "$(pattern_sha 5000)" ] || fail "first body wrong"
[ "$(sha_of "$WORK/b")" = "$(pattern_sha 7000)" ] || fail "second body wrong"
# Connection: close is honoured: the server closes after the response.
nsx curl -sS -v -m 10 -H 'Connection: close' -o /dev/null "http://$PEER:8080/" 2>"$WORK/close.log" || fail "curl with Connection: close failed"
grep -qi '< Connection: close' "$WORK/close.log" || fail "no Connection: close in the response"
note "two requests on one connection; Connection: close honoured"
stop_serve
