#!/bin/sh
# Path MTU over TUN, IPv6: an ICMPv6 Packet Too Big (mtu 1280) in the
# middle of a download (RFC 8201); see pmtu.sh.  synack also counts the
# message (Icmp6InPktTooBigs).
. "$(dirname "$0")/lib.sh"
FAMILY=6
. "$IT_DIR/pmtu.sh"
out=$(nsx "$SYNACK" nstat -az Icmp6InPktTooBigs 2>&1 | awk '/Icmp6InPktTooBigs/ {print $2}')
[ "${out:-0}" -ge 1 ] || fail "synack counted ${out:-0} Icmp6InPktTooBigs"
note "synack Icmp6InPktTooBigs $out"
stop_serve
