#!/bin/sh
# scripts/core-imports.sh must give every core file a line in its first
# section and find at least one call between files (a parser that lost
# track of definitions would print "-> (nothing)" everywhere).
#   core_imports.sh SCRIPT CORE_DIR
set -eu
out=$(sh "$1" "$2")
fail() { echo "FAIL: $*"; echo "$out"; exit 1; }
for f in "$2"/*.c; do
    b=$(basename "$f")
    echo "$out" | grep -q "^$b -> " || fail "no line for $b"
done
echo "$out" | grep -qE '^[a-z_]+\.c -> [a-z_]+\.c\([0-9]+\)' || fail "no call between files found"
echo "$out" | grep -q '^# circles' || fail "no circles section"
echo "ok"
