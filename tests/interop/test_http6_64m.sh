#!/bin/sh
# IPv6: curl -6 downloads 64 MiB from synack's HTTP server at [fd77::2];
# sha256 against the pattern; the capture's first datagrams are IPv6.
. "$(dirname "$0")/lib.sh"
N=67108864
it_up6
start_serve --addr6 "$PEER6/64" --port 8080 --http
grep -q " and \[$PEER6\]:8080 " "$WORK/serve.log" || fail "serve does not listen on [$PEER6]:8080: $(cat "$WORK/serve.log")"
t0=$(now_ms)
nsx curl -6 -sS -m 60 -o "$WORK/body" "http://[$PEER6]:8080/bytes/$N" || fail "curl -6 failed"
t1=$(now_ms)
[ "$(stat -c %s "$WORK/body")" = $N ] || fail "got $(stat -c %s "$WORK/body") bytes, not $N"
[ "$(sha_of "$WORK/body")" = "$(pattern_sha $N)" ] || fail "64 MiB body over IPv6: sha256 mismatch"
note "64 MiB synack -> kernel over IPv6: $(rate $N $((t1 - t0)))"
# The kernel saw an IPv6 connection (its TIME-WAIT or closed socket aside,
# nstat counts the segments): Ip6OutRequests grew by thousands.
out=$(nsx nstat -az Ip6OutRequests | awk '/Ip6OutRequests/ {print $2}')
[ "${out:-0}" -gt 1000 ] || fail "the kernel sent only ${out:-0} IPv6 datagrams"
# The same server still answers IPv4 (dual-stack listener).
nsx curl -4 -sS -m 10 -o "$WORK/small" "http://$PEER:8080/bytes/1000" || fail "curl -4 to the dual-stack server failed"
[ "$(stat -c %s "$WORK/small")" = 1000 ] || fail "IPv4 body: $(stat -c %s "$WORK/small") bytes"
stop_serve
