#!/bin/sh
# The bash completion offers what synack's --help texts say: commands,
# each command's options, and -N the stacks whose control sockets exist.
#   completion.sh COMPLETION_FILE SYNACK_BINARY
set -eu
comp=$1
synack=$2
command -v bash >/dev/null || { echo "no bash: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/ctl"
python3 - "$tmp/ctl" <<'PY' || { echo "cannot make sockets"; exit 77; }
import socket, sys
for n in ("web-1", "web-2"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sys.argv[1] + "/" + n + ".sock")
PY
SYNACK_CONTROL_DIR="$tmp/ctl" bash -c '
set -u
. "$1"
complete_line() {
    read -r -a COMP_WORDS <<<"$1"
    [[ $1 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_WORDS[0]=$2
    _synack
    printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
}
fail=0
check() {
    got=$(complete_line "$1" "$2")
    if [[ $got != "$3" ]]; then echo "FAIL: \"$1\" -> \"$got\", want \"$3\""; fail=1; else echo "ok: \"$1\" -> $got"; fi
}
check "synack s" "$2" "script serve ss sysctl "
check "synack ss --j" "$2" "--json "
check "synack ss -N " "$2" "web-1 web-2 "
check "synack nstat -N web-2 -" "$2" "$(printf "%s\n" --help --json -N -a -n -r -s -z | sort | tr "\n" " ")"
check "synack serve --e" "$2" "--echo "
check "synack --v" "$2" "--version "
exit $fail
' sh "$comp" "$synack"
