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
# This run's namespaces (make-captures.py): named after this shell's pid,
# so a second run at once has its own.  make-captures.py removes them
# however it ends; this trap is for when it could not (killed outright).
SKAN_PREFIX="skan$$"
export SKAN_PREFIX
cleanup() {
    for n in c s r; do
        if ip netns list | awk '{print $1}' | grep -qx "$SKAN_PREFIX-$n"; then
            pids=$(ip netns pids "$SKAN_PREFIX-$n" 2>/dev/null || true)
            [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
            ip netns del "$SKAN_PREFIX-$n" 2>/dev/null || true
        fi
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
python3 "$here/../data/make-captures.py" "$dir"
SKAN_LIVE=1 python3 "$here/test_analyze.py" "$1" "$dir"
