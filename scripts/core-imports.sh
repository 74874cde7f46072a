#!/bin/sh
# Prints the engine's import picture from the sources: which src/core file
# calls functions defined in which other, the pairs that call each other,
# and the groups of files that form a circle (strongly connected
# components), so a reshaping of the core can be compared before and
# after.  Headers can declare more than a file calls, so the calls,
# not the includes, are the dependencies.
#
#   sh scripts/core-imports.sh [SRC_CORE_DIR]      (default: src/core)
#   sh scripts/core-imports.sh -v [DIR]            also name the functions
#
# A function belongs to the .c file that defines it (a definition starts at
# column 0, is not static, and its name is followed by "(" on that line); a
# file uses it when the name appears in its text followed by "(" or as a
# value (function pointers).  static inline helpers in headers are not
# counted: their callers are.  Comments are stripped first.
set -eu
verbose=0
if [ "${1:-}" = "-v" ]; then
    verbose=1
    shift
fi
dir=${1:-src/core}
[ -d "$dir" ] || { echo "core-imports.sh: no directory $dir" >&2; exit 2; }
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT

# Comment-free copies (block and line comments; string contents left).
for f in "$dir"/*.c; do
    awk '
    {
        line = $0; out = ""
        while (line != "") {
            if (inblock) {
                i = index(line, "*/")
                if (!i) { line = ""; break }
                line = substr(line, i + 2); inblock = 0; continue
            }
            i = index(line, "/*"); j = index(line, "//")
            if (i && (!j || i < j)) { out = out substr(line, 1, i - 1) " "; line = substr(line, i + 2); inblock = 1; continue }
            if (j) { out = out substr(line, 1, j - 1); line = ""; break }
            out = out line; line = ""
        }
        print out
    }' "$f" >"$tmp/$(basename "$f")"
done

# name file: the non-static functions each file defines.
for f in "$tmp"/*.c; do
    b=$(basename "$f")
    awk -v file="$b" '
    /^[A-Za-z_]/ && !/^(static|typedef|extern|struct [A-Za-z_0-9]+ *\{|enum|union|#)/ && !/;[ \t]*$/ && /\(/ {
        s = $0; sub(/\(.*/, "", s); n = split(s, w, /[^A-Za-z_0-9]+/)
        name = w[n]; if (name == "" && n > 1) name = w[n - 1]
        if (name != "" && name !~ /^(if|for|while|switch|return|sizeof)$/) print name, file
    }' "$f"
done | sort -u >"$tmp/defs"

# user file name: each use of another file's function.
awk '{print $1}' "$tmp/defs" >"$tmp/names"
for f in "$tmp"/*.c; do
    b=$(basename "$f")
    grep -owE '[A-Za-z_][A-Za-z_0-9]*' "$f" | sort -u | grep -xFf "$tmp/names" | while read -r n; do
        owner=$(awk -v n="$n" '$1 == n {print $2; exit}' "$tmp/defs")
        if [ "$owner" != "$b" ]; then echo "$b $owner $n"; fi
    done
done | sort -u >"$tmp/uses"

echo "# src/core calls: FILE -> FILES whose functions it calls (how many functions)"
awk '{c[$1 " " $2]++} END {for (k in c) print k, c[k]}' "$tmp/uses" | sort | awk '
    $1 != cur { if (cur != "") print line; cur = $1; line = $1 " ->" }
    { line = line " " $2 "(" $3 ")" }
    END { if (cur != "") print line }'
ls "$tmp" | grep '\.c$' | sort >"$tmp/files"
awk '{print $1}' "$tmp/uses" | sort -u >"$tmp/callers"
comm -23 "$tmp/files" "$tmp/callers" | sed 's/$/ -> (nothing)/'
if [ "$verbose" = 1 ]; then
    echo
    echo "# the functions behind each arrow"
    awk '{k = $1 " -> " $2; f[k] = f[k] " " $3} END {for (k in f) print k ":" f[k]}' "$tmp/uses" | sort
fi

echo
echo "# mutual dependencies: pairs that call each other (functions each way)"
awk '{c[$1 " " $2]++} END {
        for (k in c) { split(k, p, " "); r = p[2] " " p[1]
            if ((r in c) && p[1] < p[2]) print p[1] " <-> " p[2] "  (" c[k] " / " c[r] ")" }
     }' "$tmp/uses" | sort

echo
echo "# circles: files that reach each other through calls (strongly connected components)"
awk -v files="$(tr '\n' ' ' <"$tmp/files")" '
    { if (!($1 in id)) { id[$1] = ++n; nm[n] = $1 } if (!($2 in id)) { id[$2] = ++n; nm[n] = $2 }
      r[id[$1], id[$2]] = 1 }
    END {
        for (k = 1; k <= n; k++) for (i = 1; i <= n; i++) if ((i, k) in r) for (j = 1; j <= n; j++) if ((k, j) in r) r[i, j] = 1
        for (i = 1; i <= n; i++) {
            if (done[i]) continue
            line = nm[i]; size = 1
            for (j = i + 1; j <= n; j++) if (((i, j) in r) && ((j, i) in r)) { line = line " " nm[j]; done[j] = 1; size++ }
            if (size > 1) { print "circle of " size ": " line; for (j = 1; j <= n; j++) if (index(" " line " ", " " nm[j] " ")) incircle[nm[j]] = 1 }
        }
        m = split(files, f, " "); out = ""
        for (i = 1; i <= m; i++) if (!(f[i] in incircle)) out = out " " f[i]
        print "outside every circle:" out
    }' "$tmp/uses" | while read -r line; do
    head=${line%%:*}
    printf '%s: %s\n' "$head" "$(echo "${line#*: }" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')"
done
