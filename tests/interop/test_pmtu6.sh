#!/bin/sh
# IPv6 path MTU over TUN: the kernel downloads 4 MB from synack at
# [fd77::2]; midway, with the reader paused, an ICMPv6 Packet Too Big (mtu
# 1280) quoting synack's last segment is sent to it from the namespace, as
# a router on the path would (RFC 8201; pmtu_hop.py plays it); every data segment after it must
# fit 1280 bytes, the body arrive whole, and synack count the message
# (Icmp6InPktTooBigs) and report the path MTU in ss -i.
. "$(dirname "$0")/lib.sh"
N=4000000
it_up6
start_serve --addr6 "$PEER6/64" --port 8080 --http
nsx python3 "$IT_DIR/pmtu_hop.py" 6 "$PEER6" $N >"$WORK/pmtu6.out" 2>"$WORK/pmtu6.err" || fail "pmtu6: $(cat "$WORK/pmtu6.err")"
note "$(cat "$WORK/pmtu6.out")"
out=$(nsx "$SYNACK" nstat -az Icmp6InPktTooBigs 2>&1 | awk '/Icmp6InPktTooBigs/ {print $2}')
[ "${out:-0}" -ge 1 ] || fail "synack counted ${out:-0} Icmp6InPktTooBigs"
note "synack Icmp6InPktTooBigs $out"
stop_serve
