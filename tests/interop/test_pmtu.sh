#!/bin/sh
# Path MTU over TUN: synack sends the kernel 4 MB in full-size segments;
# midway, with the reader paused, an ICMP fragmentation-needed (mtu 1200)
# quoting synack's last segment is sent to it from the namespace, as a
# router on the path would (pmtu_hop.py plays it); every data segment after
# it must fit 1200 bytes, and the body arrive whole.
. "$(dirname "$0")/lib.sh"
N=4000000
it_up
start_serve --port 8080 --http
nsx python3 "$IT_DIR/pmtu_hop.py" 4 "$PEER" $N >"$WORK/pmtu.out" 2>"$WORK/pmtu.err" || fail "pmtu: $(cat "$WORK/pmtu.err")"
note "$(cat "$WORK/pmtu.out")"
stop_serve
