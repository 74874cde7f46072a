#!/bin/sh
# Path MTU over TUN, IPv4: an ICMP fragmentation-needed (mtu 1200) in the
# middle of a download; see pmtu.sh.
. "$(dirname "$0")/lib.sh"
FAMILY=4
. "$IT_DIR/pmtu.sh"
stop_serve
