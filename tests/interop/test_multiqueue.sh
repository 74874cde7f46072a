#!/bin/sh
# synack serve --queues 2 on a multi-queue TUN: the kernel spreads flows
# over the queues by hash and keeps each on its queue, each queue has a
# stack of its own, and every connection completes.  200 HTTP requests on
# 200 connections (8 at a time, each body checked) must all succeed, both
# stacks must have served some (the chance that 200 flows hash to one
# queue is 2^-199), each stack's control socket answers for itself, and
# the per-queue counts add up to 200.
. "$(dirname "$0")/lib.sh"
C=200
export TUN_MULTI_QUEUE=1
# A control directory of this test's own: stacks of other tests or other
# users on this machine may have the same names.
export SYNACK_CONTROL_DIR="$WORK/control"
mkdir -m 700 "$SYNACK_CONTROL_DIR"
it_up
start_serve --port 8080 --http --queues 2 --offload
grep -q '(2 queues)' "$WORK/serve.log" || fail "serve did not start 2 queues: $(cat "$WORK/serve.log")"
nsx python3 - "$PEER" "$C" <<'PY' || fail "the requests did not all complete"
import socket, sys, threading
host, n = sys.argv[1], int(sys.argv[2])
body = bytes((i * 31 + 7) & 0xff for i in range(5000))
lock = threading.Lock(); done = [0]; errors = []
def worker(k):
    for _ in range(k):
        try:
            s = socket.create_connection((host, 8080), timeout=10)
            s.sendall(b"GET /bytes/5000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            d = b""
            while True:
                r = s.recv(65536)
                if not r:
                    break
                d += r
            s.close()
            head, _, got = d.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200") or got != body:
                raise Exception("bad response: %r" % head[:40])
            with lock:
                done[0] += 1
        except Exception as e:
            with lock:
                errors.append(str(e))
t = [threading.Thread(target=worker, args=(n // 8,)) for _ in range(8)]
[x.start() for x in t]; [x.join() for x in t]
if errors or done[0] != n:
    sys.exit("%d of %d done; %s" % (done[0], n, errors[:3]))
PY
note "$C connections over 2 queues, every body right"

# Each queue's stack answers on its own control socket.
opens() { "$SYNACK" nstat -N "$1" -a TcpPassiveOpens 2>/dev/null | awk '/TcpPassiveOpens/ {print $2}'; }
q0=$(opens "serve-$PEER")
q1=$(opens "serve-$PEER-q1")
[ -n "$q0" ] && [ -n "$q1" ] || fail "the control sockets did not answer: '$q0' '$q1'"
[ "$q0" -gt 0 ] && [ "$q1" -gt 0 ] || fail "one queue got every connection: $q0 and $q1"
[ $((q0 + q1)) = $C ] || fail "the queues opened $q0 + $q1 connections, not $C"
note "passive opens per queue: $q0 and $q1"

# SIGUSR1 to the process: every queue prints its own table.
kill -USR1 "$SERVE_PID"
i=0
until grep -q 'queue 1:$' "$WORK/serve.log"; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "SIGUSR1 did not make queue 1 print its table"
    sleep 0.05
done
grep -q 'queue 0:$' "$WORK/serve.log" || fail "SIGUSR1 did not make queue 0 print its table"

stop_serve
a0=$(sed -n 's/.*queue 0: \([0-9]*\) connections.*/\1/p' "$WORK/serve.log")
a1=$(sed -n 's/.*queue 1: \([0-9]*\) connections.*/\1/p' "$WORK/serve.log")
[ "$a0" = "$q0" ] && [ "$a1" = "$q1" ] || fail "accepted per queue $a0/$a1, passive opens $q0/$q1"
