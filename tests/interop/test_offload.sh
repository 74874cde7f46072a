#!/bin/sh
# synack serve --offload over IPv4 (TSO4): see offload.sh.
. "$(dirname "$0")/lib.sh"
FAMILY=4
. "$IT_DIR/offload.sh"
