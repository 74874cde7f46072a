#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_script_parse (fuzz/corpus/script_parse/):
every packet script written as C string literals in tests/test_script_*.c
(runs of adjacent literals holding at least one line), plus a few lines
for syntax those tests do not use."""
import ast
import hashlib
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "script_parse")
TESTS = os.path.join(HERE, "..", "tests")
LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
EXTRA = [
    "--tolerance_usecs=10000\n0 `sysctl -q net.ipv4.tcp_ecn=1`\n+0 %{ assert tcpi_rto == 200000 }%\n",
    "0.1~0.2 < [ect0] SEW 0:0(0) win 65535 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7,FO abcd,eol>\n",
    "+.3~+.4 > icmp unreachable frag_needed mtu 1200 [1:1001(1000)]\n",
    "* poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1 (note)\n",
    "0...0.5 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)\n",
    "0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
    "+0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0}, 0) = 10\n",
    "0 < . 1:1(0) ack 1 win 257 <sack 1:100 200:300,nop,nop>\n+0 > P. 1:11(10) ack 1 <...>\n",
]


def unescape(body):
    return ast.literal_eval('b"' + body + '"')


def scripts(path):
    text = open(path, encoding="utf-8").read()
    run, last_end = [], -1
    for m in LIT.finditer(text):
        between = text[last_end:m.start()] if last_end >= 0 else ""
        if run and between.strip(" \t\n\\") not in ("", "ACCEPTED"):
            yield b"".join(run)
            run = []
        try:
            run.append(unescape(m.group(1)))
        except (ValueError, SyntaxError):
            run = []
        last_end = m.end()
    if run:
        yield b"".join(run)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = set(s.encode() for s in EXTRA)
    for name in sorted(os.listdir(TESTS)):
        if name.startswith("test_script_") and name.endswith(".c"):
            seeds.update(s for s in scripts(os.path.join(TESTS, name)) if s.count(b"\n") >= 1)
    for s in seeds:
        with open(os.path.join(OUT, hashlib.sha1(s).hexdigest()[:16]), "wb") as f:
            f.write(s)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
