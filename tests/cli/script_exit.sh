#!/bin/sh
# `synack script` exit statuses: a pass is 0, a skip 77 (never 0: a skipped
# script proved nothing), a failure 1, and input without end (/dev/zero) a
# clear error rather than unbounded memory.
set -u
synack="$1"
dir=$(mktemp -d /tmp/synack-script-exit-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

printf '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0\n' > "$dir/pass.pkt"
# An address family synack does not have (1 is AF_UNIX): a skip.
printf '0 socket(1, SOCK_STREAM, IPPROTO_TCP) = 3\n' > "$dir/skip.pkt"
printf '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = -1 EBADF (Bad file descriptor)\n' > "$dir/fail.pkt"

"$synack" script "$dir/pass.pkt" > "$dir/out" 2>&1; rc=$?
[ $rc -eq 0 ] || fail "pass.pkt exited $rc: $(cat "$dir/out")"
"$synack" script "$dir/skip.pkt" > "$dir/out" 2>&1; rc=$?
[ $rc -eq 77 ] || fail "skip.pkt exited $rc, want 77: $(cat "$dir/out")"
grep -q "^SKIP $dir/skip.pkt: " "$dir/out" || fail "skip.pkt: no SKIP line: $(cat "$dir/out")"
"$synack" script "$dir/pass.pkt" "$dir/skip.pkt" > "$dir/out" 2>&1; rc=$?
[ $rc -eq 77 ] || fail "pass.pkt skip.pkt exited $rc, want 77"
"$synack" script "$dir/skip.pkt" "$dir/fail.pkt" > "$dir/out" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "skip.pkt fail.pkt exited $rc, want 1"
"$synack" script /dev/zero > "$dir/out" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "/dev/zero exited $rc, want 1"
grep -q "^FAIL /dev/zero: /dev/zero: script larger than 1048576 bytes$" "$dir/out" || fail "/dev/zero: $(cat "$dir/out")"
echo "script exit statuses as documented"
