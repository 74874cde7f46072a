#!/bin/sh
# IPv6: synack connect [fd77::1]:8000 -> Linux's python3 http.server --bind ::,
# a 16 MiB file, sha256 checked.
. "$(dirname "$0")/lib.sh"
N=16777216
it_up6
mkdir "$WORK/www"
pattern_file $N "$WORK/www/big.bin"
start_bg "$WORK/httpd.log" python3 -m http.server 8000 --bind :: --directory "$WORK/www"
wait_listen 8000
t0=$(now_ms)
nsx "$SYNACK" connect "[$KERNEL6]:8000" --tun tun0 --addr $PEER/24 --addr6 "$PEER6/64" --http /big.bin \
    -o "$WORK/got" 2>"$WORK/connect.log" || fail "synack connect failed: $(cat "$WORK/connect.log")"
t1=$(now_ms)
[ "$(sha_of "$WORK/got")" = "$(pattern_sha $N)" ] || fail "16 MiB file: sha256 mismatch ($(stat -c %s "$WORK/got") bytes)"
grep -q "\"GET /big.bin HTTP/1.0\" 200" "$WORK/httpd.log" || fail "http.server log: $(cat "$WORK/httpd.log")"
grep -q "^$PEER6 - " "$WORK/httpd.log" || fail "http.server saw no IPv6 peer: $(cat "$WORK/httpd.log")"
note "16 MiB kernel -> synack over IPv6: $(rate $N $((t1 - t0)))"
