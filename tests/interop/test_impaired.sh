#!/bin/sh
# 2% loss, 2% reordering and 1% duplication in synack's backend (both directions): 64 MiB
# each way arrives byte-exact.
. "$(dirname "$0")/lib.sh"
N=67108864
IMPAIR="--loss 0.02 --reorder 0.02 --dup 0.01 --delay 0.2 --seed 11"
it_up
start_serve --port 8080 --http $IMPAIR -v
t0=$(now_ms)
nsx curl -sS -m 120 -o "$WORK/down" "http://$PEER:8080/bytes/$N" || fail "curl failed"
t1=$(now_ms)
[ "$(sha_of "$WORK/down")" = "$(pattern_sha $N)" ] || fail "synack -> kernel: sha256 mismatch ($(stat -c %s "$WORK/down") bytes)"
stop_serve
note "64 MiB synack -> kernel under loss+reorder+dup: $(rate $N $((t1 - t0))); $(grep -o 'impaired: [^;]*' "$WORK/serve.log")"

mkdir "$WORK/www"
pattern_file $N "$WORK/www/big.bin"
start_bg "$WORK/httpd.log" python3 -m http.server 8000 --bind $KERNEL --directory "$WORK/www"
wait_listen 8000
t0=$(now_ms)
nsx "$SYNACK" connect $KERNEL:8000 --tun tun0 --addr $PEER/24 --http /big.bin -o "$WORK/up" $IMPAIR -v \
    2>"$WORK/connect.log" || fail "synack connect failed: $(tail -3 "$WORK/connect.log")"
t1=$(now_ms)
[ "$(sha_of "$WORK/up")" = "$(pattern_sha $N)" ] || fail "kernel -> synack: sha256 mismatch"
note "64 MiB kernel -> synack under loss+reorder+dup: $(rate $N $((t1 - t0))); $(grep -o 'impaired: [^;]*' "$WORK/connect.log")"
