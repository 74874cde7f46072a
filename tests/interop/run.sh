#!/bin/sh
# Interop tests: synack against the Linux kernel over a TUN device, each
# test in a network namespace of its own.
#
#   tests/interop/run.sh SYNACK_BINARY [TEST_NAME...]
#
# Exits 77 (skipped, for ctest) when the machine cannot run them: not
# root, no /dev/net/tun, no network namespaces, or a missing tool.
# KEEP_LOGS=1 keeps a failed test's files.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
    echo "usage: $0 SYNACK_BINARY [TEST...]" >&2
    exit 2
fi
SYNACK=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
export SYNACK

skip() {
    echo "interop tests skipped: $*"
    exit 77
}
[ -x "$SYNACK" ] || { echo "no synack binary at $SYNACK" >&2; exit 2; }
[ "$(id -u)" = 0 ] || skip "they need root (network namespaces and a TUN device need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
for tool in ip ss curl python3 sha256sum timeout; do
    command -v $tool >/dev/null 2>&1 || skip "the '$tool' command is missing"
done
probe="sk-probe-$$"
ip netns add "$probe" 2>/dev/null || skip "cannot create a network namespace here"
ip netns del "$probe"

if [ $# -gt 0 ]; then
    tests=""
    for t in "$@"; do tests="$tests $here/${t%.sh}.sh"; done
else
    tests=$(ls "$here"/test_*.sh)
fi

passed=0 failed=0 skipped=0 failed_names=""
start=$(date +%s)
for t in $tests; do
    name=$(basename "$t" .sh)
    t0=$(date +%s%3N)
    out=$(timeout -s TERM 150 sh "$t" 2>&1)
    rc=$?
    t1=$(date +%s%3N)
    secs=$(awk -v ms=$((t1 - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
    case $rc in
    0) passed=$((passed + 1)); echo "PASS $name (${secs} s)" ;;
    77) skipped=$((skipped + 1)); echo "SKIP $name: $(echo "$out" | tail -1)" ;;
    124) failed=$((failed + 1)); failed_names="$failed_names $name"; echo "FAIL $name (timed out after 150 s)" ;;
    *) failed=$((failed + 1)); failed_names="$failed_names $name"; echo "FAIL $name (${secs} s, exit $rc)" ;;
    esac
    [ -n "$out" ] && echo "$out" | sed 's/^/    /'
done
echo "interop: $(( $(date +%s) - start )) s"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
