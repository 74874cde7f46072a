#!/bin/sh
# Every public function is documented in its header: the line before
# each SK_EXPORT declaration ends a comment, or the declaration carries
# a trailing comment.  Lists the undocumented ones; exit 1 if any.
#   check-api-docs.sh HEADER...
awk '
    /^SK_EXPORT/ {
        name = $0; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
        total++
        if (prev !~ /\*\/[ \t]*$/ && $0 !~ /\/\*/) { print FILENAME ": " name " is not documented"; bad++ }
    }
    { if ($0 !~ /^[ \t]*$/) prev = $0 }
    FNR == 1 { prev = "" }
    END { printf "%d public functions, %d undocumented\n", total, bad; exit bad > 0 }
' "$@"
