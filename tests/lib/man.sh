#!/bin/sh
# The built man pages match the installed program: one page per command
# that `synack --help` lists, each equal to what gen-man.sh makes from the
# binary now (so a changed --help without a rebuilt page fails), and each
# formats without a groff warning.
#   man.sh MAN_DIR SYNACK_BINARY SOURCE_DIR
set -eu
man=$1
synack=$2
src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh "$src/scripts/gen-man.sh" "$synack" "$tmp/man" >/dev/null
for cmd in $("$synack" --help | sed -n '/^commands:$/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'); do
    [ -f "$man/synack-$cmd.1" ] || { echo "FAIL: no man page for synack $cmd"; exit 1; }
done
diff -r "$tmp/man" "$man" || { echo "FAIL: man pages differ from synack --help now"; exit 1; }
if command -v groff >/dev/null; then
    for f in "$man"/*.1; do
        w=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
        [ -z "$w" ] || { echo "FAIL: $f: $w"; exit 1; }
    done
fi
echo "man: $(ls "$man" | wc -l) pages ok"
