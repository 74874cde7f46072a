#!/usr/bin/env python3
"""Every `synack lab` scenario, run with --json --fix: the unfixed run must
reproduce its problem with the exact figures that prove it, the fixed run
(or the contrast) must show the changed figures.  Also: determinism for a
seed, the list, the text output's shape, and usage errors.

usage: lab_test.py PATH/TO/synack
"""
import json
import subprocess
import sys

SYNACK = sys.argv[1]
failures = []


def run(*args, expect_rc=0):
    p = subprocess.run([SYNACK, "lab", *args], capture_output=True, text=True, timeout=120)
    if p.returncode != expect_rc:
        failures.append(f"synack lab {' '.join(args)}: exit {p.returncode}, wanted {expect_rc}: {p.stderr.strip()}")
    return p


def lab(name, *extra):
    p = run(name, "--json", "--fix", *extra)
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError as e:
        failures.append(f"{name}: not JSON: {e}: {p.stdout[:200]}")
        return None


def check(name, cond, what):
    if not cond:
        failures.append(f"{name}: {what}")


def view(run_, command, host=None, index=0):
    hits = [v for v in run_["views"] if v["command"] == command and (host is None or v["host"] == host)]
    return hits[index]["output"] if len(hits) > index else None


def expect(name, fig_unfixed, fig_fixed, fixed=True, finding=None, errno=None, fixed_errno=None):
    d = lab(name)
    if d is None:
        return None
    check(name, d["scenario"] == name, "scenario field")
    check(name, d["reproduced"] is True, "not reproduced")
    check(name, d["fixed"] is fixed, f"fixed is {d['fixed']}, wanted {fixed}")
    if finding is not None:
        check(name, d["finding"] == finding, f"finding {d['finding']!r}, wanted {finding!r}")
    for key in ("views", "counters", "outcome", "figures", "verdict", "timeline"):
        check(name, key in d and key in d["fixed_run"], f"missing {key}")
    check(name, len(d["views"]) > 0 and len(d["views"]) == len(d["fixed_run"]["views"]), "views do not pair up")
    for k, v in fig_unfixed.items():
        got = d["figures"].get(k)
        ok = v(got) if callable(v) else got == v
        check(name, ok, f"figure {k} = {got}, wanted {v if not callable(v) else 'a different value'}")
    for k, v in fig_fixed.items():
        got = d["fixed_run"]["figures"].get(k)
        ok = v(got) if callable(v) else got == v
        check(name, ok, f"fixed figure {k} = {got}, wanted {v if not callable(v) else 'a different value'}")
    if errno is not None:
        check(name, d["outcome"]["errno"] == errno, f"errno {d['outcome']['errno']}, wanted {errno}")
    if fixed_errno is not None:
        check(name, d["fixed_run"]["outcome"]["errno"] == fixed_errno,
              f"fixed errno {d['fixed_run']['outcome']['errno']}, wanted {fixed_errno}")
    return d


# --- closing ---------------------------------------------------------------
d = expect("time-wait-pileup",
           {"time_wait": 100, "tw_overflow": 100, "handshakes": 200, "time_wait_after_61s": 0,
            "tw_timer_left_s": lambda v: 59 < v <= 60},
           {"time_wait": 10, "tw_overflow": 0, "handshakes": 10}, finding="time-wait")
if d:
    check("time-wait-pileup", view(d, "ss -tan state time-wait | wc -l", "client") == "101\n",
          "ss | wc -l on the client should count 100 records and the header")
    check("time-wait-pileup", "TcpExtTCPTimeWaitOverflow       100" in view(d, "nstat TcpActiveOpens TcpExtTW TcpExtTCPTimeWaitOverflow"),
          "nstat does not show the overflow")
    check("time-wait-pileup", "timer:(timewait,59sec,0)" in view(d, "ss -tano state time-wait | head -3"),
          "TIME_WAIT timer is not 60 s despite tcp_fin_timeout=5")
    check("time-wait-pileup", "net.ipv4.tcp_fin_timeout = 5" in view(d, "sysctl net.ipv4.tcp_fin_timeout net.ipv4.tcp_max_tw_buckets"),
          "sysctl view")
    check("time-wait-pileup", "TIME_WAIT -> CLOSED (timer expired)" in d["timeline"], "timeline lacks TIME_WAIT's end")
    check("time-wait-pileup", "Flags [S]," in d["timeline"], "timeline lacks the SYN")

expect("port-exhaustion", {"failed": 20, "completed": 10, "time_wait": 10, "tw_recycled": 0},
       {"failed": 0, "completed": 30, "tw_recycled": 20}, finding="ephemeral-ports-exhausted", errno="EADDRNOTAVAIL")

d = expect("close-wait-leak", {"close_wait": 20, "fin_wait2_at_1s": 20, "fin_wait2_at_62s": 0},
           {"close_wait": 0, "fin_wait2_at_1s": 0}, finding="close-wait")
if d:
    check("close-wait-leak", view(d, "ss -tan state close-wait | wc -l", "server", 1) == "21\n",
          "CLOSE_WAIT should still be 20 after 61 s")

d = expect("linger-abort", {"received_bytes": lambda v: 0 < v < 200000, "server_time_wait": 0,
                        "client_estab_resets": 1},
       {"received_bytes": 200000, "server_time_wait": 1, "server_rsts": 0}, finding="rst-abort",
       errno="ECONNRESET")
if d:
    # Linux counts an SO_LINGER 0 abort as TCPAbortOnData (tcp_disconnect).
    check("linger-abort", d["counters"].get("server.TcpExtTCPAbortOnData") == 1,
          f"TCPAbortOnData {d['counters'].get('server.TcpExtTCPAbortOnData')}")
d = expect("unread-data-reset", {"received_bytes": lambda v: 0 < v < 200000, "client_estab_resets": 1},
           {"received_bytes": 200000, "server_rsts": 0}, finding="rst-abort", errno="ECONNRESET")
if d:
    check("unread-data-reset", d["counters"].get("server.TcpExtTCPAbortOnClose") == 1,
          f"TCPAbortOnClose {d['counters'].get('server.TcpExtTCPAbortOnClose')}")
d = expect("lost-final-ack", {"server_fins": 2, "server_retrans": 1, "client_time_wait": 1, "server_left_open": 0,
                              "last_ack_ms": lambda v: 200 <= v < 1100},
           {"server_fins": 1, "server_retrans": 0}, fixed=False)
if d:
    check("lost-final-ack", "^ lost on the wire" in d["timeline"], "timeline does not mark the lost ACK")
expect("simultaneous-close", {"client_closing": 1, "server_closing": 1, "client_time_wait": 1, "server_time_wait": 1},
       {"client_closing": 0, "server_closing": 0, "client_time_wait": 1, "server_time_wait": 0}, fixed=False)
d = expect("simultaneous-open", {"client_syn_recv": 1, "server_syn_recv": 1, "client_established": 1,
                                 "server_established": 1, "server_active_opens": 1},
           {"client_syn_recv": 0, "server_active_opens": 0, "client_established": 1}, fixed=False)
if d:
    check("simultaneous-open", "SYN_SENT -> SYN_RCVD" in d["timeline"], "timeline lacks SYN_SENT -> SYN_RCVD")
expect("half-close", {"client_received": 100000, "server_received": 10, "client_rsts": 0},
       {"client_received": 0, "client_rsts": lambda v: v >= 1}, fixed=False)
expect("short-connections-vs-pool", {"handshakes": 100, "time_wait": 100},
       {"handshakes": 10, "time_wait": 10, "segments": lambda v: v < 400}, finding="time-wait")

# --- listening ---------------------------------------------------------------
d = expect("syn-flood", {"clients_completed": 0, "clients_stuck_syn_sent": 5, "syn_recv": 128,
                         "req_q_full_drop": lambda v: v > 1000, "req_q_full_do_cookies": 0},
           {"clients_completed": 5, "req_q_full_drop": 0, "syncookies_recv": 5,
            "req_q_full_do_cookies": lambda v: v > 100}, finding="syn-flood")
if d:
    check("syn-flood", "Possible SYN flooding on port 0.0.0.0:80. Dropping request." in view(d, "dmesg | grep SYN"),
          "dmesg line without cookies")
    check("syn-flood", "Possible SYN flooding on port 0.0.0.0:80. Sending cookies." in
          view(d["fixed_run"], "dmesg | grep SYN"), "dmesg line with cookies")
    check("syn-flood", "LISTEN 0      128" in view(d, "ss -ltn"), "ss -ltn Send-Q is the backlog")
d = expect("accept-queue-overflow", {"listen_overflows": lambda v: v > 0, "slow": lambda v: v > 0,
                                 "abort_failed": lambda v: v > 0, "abort_rsts": lambda v: v > 0},
       {"listen_overflows": 0, "slow": 0, "failed": 0, "abort_failed": 0}, finding="listen-overflow")
if d:
    # ss -ltn during the arrivals: Recv-Q one past the backlog (Linux's
    # sk_acceptq_is_full is "more than"), Send-Q the backlog.
    check("accept-queue-overflow", "LISTEN 9      8 " in view(d, "ss -ltn"), f"ss -ltn: {view(d, 'ss -ltn')!r}")
d = expect("backlog-spike", {"listen_overflows": lambda v: v > 0, "slow": lambda v: 0 < v < 300, "completed": 300},
           {"listen_overflows": 0, "slow": 0, "completed": 300}, finding="listen-overflow")
if d:
    check("backlog-spike", "LISTEN 129    128 " in view(d, "ss -ltn"), f"ss -ltn: {view(d, 'ss -ltn')!r}")
    check("backlog-spike", "LISTEN 300    4096 " in view(d["fixed_run"], "ss -ltn"),
          f"fixed ss -ltn: {view(d['fixed_run'], 'ss -ltn')!r}")

# --- connecting ------------------------------------------------------------
expect("syn-retries-timeout", {"seconds": 127, "syns_sent": 7}, {"seconds": 7, "syns_sent": 3},
       finding="syn-unanswered", errno="ETIMEDOUT", fixed_errno="ETIMEDOUT")
expect("connection-refused", {"seconds": 0.002, "server_rsts": 1, "attempt_fails": 1},
       {"server_rsts": 0, "attempt_fails": 0}, finding="syn-refused", errno="ECONNREFUSED")
expect("keepalive-dead-peer", {"established_after_3h": 1, "probes": 0, "detected_after_s": -1},
       {"established_after_3h": 0, "probes": 9, "detected_after_s": lambda v: 7870 <= v <= 7880},
       fixed_errno="ETIMEDOUT")
expect("zero-window", {"zero_window_adv": lambda v: v >= 1, "window_probes": lambda v: v >= 1,
                       "written": lambda v: v < 1048576, "read": 0},
       {"zero_window_adv": 0, "read": 1048576}, finding="zero-window")
# A 1400-byte hop: silent, the transfer hangs in RTOs (tcp_mtu_probing=0);
# with probing, black-hole detection and the RFC 4821 search end at MSS 1347.
d = expect("mtu-blackhole", {"delivered": 0, "timeouts": 7, "mss": 1448, "mtup_fail": 0},
           {"delivered": 1048576, "mss": 1347, "mtup_fail": 3, "mtup_success": 3, "pmtu": 1500},
           finding="mtu-blackhole-suspected")
# Fragmentation-needed: the MSS drops to 1348 at once, no timeout.
d = expect("mtu-frag-needed", {"delivered": 1048576, "timeouts": 0, "mss": 1348, "pmtu": 1400,
                               "icmp_frag_needed": lambda v: v >= 1},
           {"delivered": 1048576, "mss": 1347, "icmp_frag_needed": 0}, fixed=False)
if d is not None:
    check("mtu-frag-needed", "need to frag (mtu 1400), length 556" in d["timeline"], "the ICMP line in the timeline")
expect("blind-rst", {"challenge_acks": 1, "estab_resets": 0, "established": 1},
       {"challenge_acks": 0, "estab_resets": 1, "established": 0}, fixed=False, fixed_errno="ECONNRESET")

# --- Fast Open ---------------------------------------------------------------
# RTT 50 ms: the cookie request's answer after two round trips, the data in
# the SYN's after one, through an option-stripping box two again (the data
# sent twice); behind the blackholing middlebox the first connection
# fails (SYNs at 0, 1, 3, 7 s; gives up at 15 s), and only with blackhole
# detection does the next one open without data and get its answer.
d = expect("fast-open",
           {"ttfb_cookie_request_ms": 100, "ttfb_fast_open_ms": 50, "saved_ms": 50, "first_syn_data": 0,
            "second_syn_data": 1, "blackholed_failed": 1, "blackholed_seconds": 15, "next_syn_data": 1,
            "next_failed": 1, "blackhole_detected": 0, "active": 1, "active_fail": 5, "passive": 1,
            "middlebox_drops": 8, "stripped_syn_data": 1, "stripped_ttfb_ms": 100, "stripped_active_fail": 1,
            "stripped_options": 1},
           {"saved_ms": 50, "blackholed_failed": 1, "next_syn_data": 0, "next_failed": 0, "next_ttfb_ms": 100,
            "blackhole_detected": 1, "active_fail": 3, "middlebox_drops": 4}, errno="ETIMEDOUT")
if d:
    check("fast-open", "TcpExtTCPFastOpenBlackhole      1" in
          view(d["fixed_run"], "nstat TcpExtTCPFastOpenActiveFail TcpExtTCPFastOpenBlackhole TcpExtTCPSynRetrans"),
          "the fixed run's nstat shows the blackhole")
    check("fast-open", "tfo  cookie " in d["timeline"] and "length 100: HTTP" in d["timeline"],
          "the timeline shows the cookie and the data in the SYN")

# --- the command ------------------------------------------------------------
p = run()
check("list", "time-wait-pileup" in p.stdout and "mtu-blackhole" in p.stdout and "mtu-frag-needed" in p.stdout,
      "the list")
run("no-such-scenario", expect_rc=2)
run("time-wait-pileup", "--scale", "x", expect_rc=2)
names = [line.split()[0] for line in p.stdout.splitlines()[2:] if line.strip() and "unavailable" not in line]
check("list", len(names) == 21, f"{len(names)} runnable scenarios listed")
for name in names:
    a = run(name, "--json", "--seed", "7").stdout
    b = run(name, "--json", "--seed", "7").stdout
    check("determinism", a == b and a, f"{name}: two runs with --seed 7 differ")
c = run("time-wait-pileup", "--json", "--scale", "40").stdout
try:
    check("scale", json.loads(c)["figures"]["time_wait"] == 20, "--scale 40 should leave 20 TIME_WAIT")
except (json.JSONDecodeError, KeyError) as e:
    failures.append(f"scale: {e}")
t = run("close-wait-leak", "--fix").stdout
for s in ("== Timeline", "$ ss -tan state close-wait | wc -l", "# without the fix", "== Verdict", "fixed: yes",
          "reproduced: yes"):
    check("text", s in t, f"text output lacks {s!r}")

# --pcap: every datagram of the run, in a file tcpdump reads (header 24 bytes,
# then 16 per record plus the datagram).
import os
import tempfile
import time

with tempfile.TemporaryDirectory() as tmp:
    pcap = os.path.join(tmp, "cr.pcap")
    run("connection-refused", "--pcap", pcap)
    try:
        data = open(pcap, "rb").read()
        # SYN (60 bytes with options) and RST,ACK (40): 24 + 16 + 60 + 16 + 40
        check("pcap", len(data) == 24 + 16 + 60 + 16 + 40, f"pcap is {len(data)} bytes")
    except OSError as e:
        failures.append(f"pcap: {e}")

    # --hold: the stacks stay up, observable with synack ss -N lab-server.
    env = dict(os.environ, SYNACK_CONTROL_DIR=os.path.join(tmp, "ctl"))
    p = subprocess.Popen([SYNACK, "lab", "close-wait-leak", "--hold"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        sock = os.path.join(tmp, "ctl", "lab-server.sock")
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        q = subprocess.run([SYNACK, "ss", "-N", "lab-server", "-tan", "state", "close-wait"], env=env,
                           capture_output=True, text=True, timeout=10)
        check("hold", len(q.stdout.strip().splitlines()) == 21,
              f"ss -N lab-server should list 20 CLOSE-WAIT: {q.stdout!r} {q.stderr!r}")
    finally:
        p.terminate()
        rc = p.wait(timeout=10)
        check("hold", rc == 0, f"lab --hold exited {rc} on SIGTERM: {p.stderr.read()}")

if failures:
    for f in failures:
        print("FAIL:", f)
    sys.exit(1)
print("all lab scenarios reproduce and their fixes work")
