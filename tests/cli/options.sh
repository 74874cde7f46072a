#!/bin/sh
# Every command reads option values through tools/cli.c: a bad value is a
# usage error (exit 2) naming the option and the value, whatever the
# command; a good one is taken.  Only commands that fail fast are run.
set -u
synack="$1"
fail() { echo "FAIL: $*"; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# usage_error CMD... -- EXPECTED-TEXT: exit 2 and the text on stderr.
bad() {
    want=$1
    shift
    "$@" >/dev/null 2>"$out"; rc=$?
    [ $rc -eq 2 ] || fail "$*: exit $rc, want 2 ($(cat "$out"))"
    grep -qF -- "$want" "$out" || fail "$*: no '$want' in: $(cat "$out")"
}
bad "--seed wants a non-negative integer, not '-1'" "$synack" demo --seed -1
bad "--seed wants a non-negative integer, not '1x'" "$synack" demo --seed 1x
bad "--seed wants a non-negative integer, not '0x'" "$synack" lab --seed 0x
bad "--loss wants a probability between 0 and 1, not 'nan'" "$synack" demo --loss nan
bad "--rate wants SYNs per second" "$synack" flood --rate ''
bad "--duration wants seconds" "$synack" flood --duration 0
bad "--scale wants an integer from 10 to 100000, not '9'" "$synack" lab --scale 9
bad "--conn wants a connection number (1, 2, ...), not '0'" "$synack" analyze --conn=0 x.pcap
bad "--close-wait wants seconds, not ''" "$synack" analyze --close-wait '' x.pcap
bad "one capture file at a time" "$synack" analyze a.pcap b.pcap
bad "--interval wants seconds (0-3600), not ''" "$synack" doctor --interval ''
bad "--count wants a positive number, not '0'" "$synack" doctor --watch 1 --count 0
bad "option '--watch' needs a value" "$synack" doctor --watch
bad "unknown option '--nope'" "$synack" flood --nope
# Good values are taken: a seed in hex gives the same run as in decimal.
"$synack" demo --seed 0x10 >"$out" 2>&1 || fail "demo --seed 0x10: $(cat "$out")"
"$synack" demo --seed 16 | cmp -s - "$out" || fail "demo --seed 0x10 and --seed 16 differ"
echo "option values checked alike by every command"
