#!/bin/sh
# Regenerates the analyzer's committed test captures from the real Linux
# kernel (root: network namespaces skanPID-c/skanPID-s, tcpdump, nft, ethtool).
#   tests/data/make-captures.sh [OUTDIR] [SCENARIO...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
[ $# -gt 0 ] && shift
exec python3 "$here/make-captures.py" "$out" "$@"
