#!/bin/sh
# synack serve --offload over IPv6 (TSO6 both ways, checksums over
# RFC 8200's pseudo-header): see offload.sh.
. "$(dirname "$0")/lib.sh"
FAMILY=6
. "$IT_DIR/offload.sh"
