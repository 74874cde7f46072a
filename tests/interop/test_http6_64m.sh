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
# ss -6 on synack's side while a slow IPv6 download runs: the row reads
# as ss prints an IPv6 connection, [addr]:port; -4 does not list it.
nsx curl -6 -sS -m 30 --limit-rate 200k -o /dev/null "http://[$PEER6]:8080/bytes/4000000" &
CURL_PID=$!
IT_PIDS="$IT_PIDS $CURL_PID"
i=0
while ! nsx "$SYNACK" ss -Htn6 state established >"$WORK/ss6" 2>&1 || ! grep -q . "$WORK/ss6"; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "synack ss -6 lists no established connection: $(cat "$WORK/ss6")"
    sleep 0.05
done
grep -Eq "^[0-9]+ +[0-9]+ +\[$PEER6\]:8080 +\[$KERNEL6\]:[0-9]+\$" "$WORK/ss6" || fail "synack ss -6: $(cat "$WORK/ss6")"
nsx "$SYNACK" ss -Htn4 state established >"$WORK/ss4" 2>&1
! grep -q . "$WORK/ss4" || fail "synack ss -4 lists the IPv6 connection: $(cat "$WORK/ss4")"
note "synack ss -6: $(head -1 "$WORK/ss6" | tr -s ' ')"
kill "$CURL_PID" 2>/dev/null || true
wait "$CURL_PID" 2>/dev/null || true
# The same server still answers IPv4 (dual-stack listener).
nsx curl -4 -sS -m 10 -o "$WORK/small" "http://$PEER:8080/bytes/1000" || fail "curl -4 to the dual-stack server failed"
[ "$(stat -c %s "$WORK/small")" = 1000 ] || fail "IPv4 body: $(stat -c %s "$WORK/small") bytes"
stop_serve
