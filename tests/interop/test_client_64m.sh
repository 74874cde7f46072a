#!/bin/sh
# synack connect -> Linux's python3 http.server: a 64 MiB file, sha256 checked.
. "$(dirname "$0")/lib.sh"
N=67108864
it_up
mkdir "$WORK/www"
pattern_file $N "$WORK/www/big.bin"
start_bg "$WORK/httpd.log" python3 -m http.server 8000 --bind $KERNEL --directory "$WORK/www"
wait_listen 8000
t0=$(now_ms)
nsx "$SYNACK" connect $KERNEL:8000 --tun tun0 --addr $PEER/24 --http /big.bin -o "$WORK/got" 2>"$WORK/connect.log" \
    || fail "synack connect failed: $(cat "$WORK/connect.log")"
t1=$(now_ms)
[ "$(sha_of "$WORK/got")" = "$(pattern_sha $N)" ] || fail "64 MiB file: sha256 mismatch ($(stat -c %s "$WORK/got") bytes)"
note "64 MiB kernel -> synack: $(rate $N $((t1 - t0)))"
