#!/bin/sh
# curl downloads 64 MiB from synack's HTTP server; sha256 against the pattern.
. "$(dirname "$0")/lib.sh"
N=67108864
it_up
start_serve --port 8080 --http
t0=$(now_ms)
nsx curl -sS -m 60 -o "$WORK/body" "http://$PEER:8080/bytes/$N" || fail "curl failed"
t1=$(now_ms)
[ "$(stat -c %s "$WORK/body")" = $N ] || fail "got $(stat -c %s "$WORK/body") bytes, not $N"
[ "$(sha_of "$WORK/body")" = "$(pattern_sha $N)" ] || fail "64 MiB body: sha256 mismatch"
note "64 MiB synack -> kernel: $(rate $N $((t1 - t0)))"
stop_serve
