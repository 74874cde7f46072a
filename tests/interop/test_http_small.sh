#!/bin/sh
# curl -> synack HTTP server: the index page, HEAD, a small body, a 404.
. "$(dirname "$0")/lib.sh"
it_up
start_serve --port 8080 --http

nsx curl -sS -m 10 -o "$WORK/index.html" -w '%{http_code}' "http://$PEER:8080/" >"$WORK/code" || fail "curl / failed"
[ "$(cat "$WORK/code")" = 200 ] || fail "GET / answered $(cat "$WORK/code")"
grep -q '<h1>synack</h1>' "$WORK/index.html" || fail "GET / body: $(cat "$WORK/index.html")"

nsx curl -sS -m 10 -I "http://$PEER:8080/bytes/12345" >"$WORK/head" || fail "curl -I failed"
grep -qi '^Content-Length: 12345' "$WORK/head" || fail "HEAD lacks Content-Length: $(cat "$WORK/head")"

nsx curl -sS -m 10 -o "$WORK/small" "http://$PEER:8080/bytes/100000" || fail "curl /bytes/100000 failed"
[ "$(sha_of "$WORK/small")" = "$(pattern_sha 100000)" ] || fail "/bytes/100000: wrong bytes"

code=$(nsx curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$PEER:8080/nothing/here") || true
[ "$code" = 404 ] || fail "unknown path answered $code, not 404"

stop_serve
note "index page, HEAD, 100 kB body and 404 ok"
