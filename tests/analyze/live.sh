#!/bin/sh
# Captures made now from the running kernel (tests/data/make-captures.py),
# then the same checks as on the committed ones.  Root only: 77 otherwise.
#   tests/analyze/live.sh SYNACK
set -eu
[ "$(id -u)" = 0 ] || { echo "analyze_live: needs root (network namespaces); skipped"; exit 77; }
for t in tcpdump nft ethtool editcap; do
    command -v $t >/dev/null 2>&1 || { echo "analyze_live: $t missing; skipped"; exit 77; }
done
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/skan-live.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 "$here/../data/make-captures.py" "$dir"
SKAN_LIVE=1 python3 "$here/test_analyze.py" "$1" "$dir"
