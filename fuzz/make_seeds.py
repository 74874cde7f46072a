#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_input (fuzz/corpus/input/).

    python3 fuzz/make_seeds.py [DEMO.pcap]

Each seed is a program in fuzz_input.c's format: one byte picks the
operation (0-3 template, 4 raw, 5 advance, 6 socket call, 7 deliver),
then its operands.  The template targets are the tuples fuzz_input's
setup creates, each answered as its peer would (SYNACK_FUZZ_TUPLES=1
lists them): 1 is A's ESTABLISHED connection with 6000 bytes in flight,
2 A's FIN_WAIT_2, 4 the orphaned FIN_WAIT_2, 6 TIME_WAIT, 9 CLOSE_WAIT,
10 SYN_SENT (SYN lost), 12 A's cookie SYN-ACK (an ACK completes it),
14 B's SYN-ACK from SYN_RECV; 0xe0 and up are fresh tuples (0xe5:
10.0.0.99 to A:80, 0xe7: 10.0.0.99 to B:80), and the first tuple seen
after the setup is number 15.  With a pcap of `synack demo --pcap` (raw IPv4, between
10.0.0.1 and 10.0.0.2 as the harness's stacks), every datagram of that
real exchange also becomes a raw seed, and the whole exchange one more.
"""
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "input")
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
# modes: bits 0-1 seq, 2-3 ack (0 exact, 1 int8 delta, 2 int16*16 delta,
# 3 absolute), 0x10 window, 0x20 tos, 0x40 options, 0x80 payload
OPT_MSS, OPT_SACKWS, OPT_TS, OPT_SACK = 1, 2, 4, 8


def template(target, flags, modes=0, seq=b"", ack=b"", win=None, tos=None, opts=None, payload=None,
             dt=0x41, fresh=b""):
    b = bytes([0, target, flags, 0, modes]) + fresh + seq + ack
    if modes & 0x10:
        b += struct.pack(">H", win)
    if modes & 0x20:
        b += bytes([tos])
    if modes & 0x40:
        b += opts
    if modes & 0x80:
        b += struct.pack(">H", len(payload)) + payload
    return b + bytes([dt])


def ts_opt():
    return bytes([OPT_TS, 0])


def advance(step, usec=0):
    return bytes([5, step, usec])


def deliver(n=32):
    return bytes([7 | ((n - 1) << 3)])


def raw(dgram, fix=True, to_b=False, dt=0x41):
    return bytes([4, (1 if fix else 0) | (0x80 if to_b else 0)]) + struct.pack(">H", len(dgram)) + dgram + bytes([dt])


def icmp_error(target, type_, code, mtu=0, delta=0, how=2, dt=0x41):
    """op_raw with bit 1: an ICMP error quoting what tuple `target`'s
    sender last sent, its sequence moved by `delta` (x1000 with how & 4)."""
    return bytes([4, how, type_, code]) + struct.pack(">HBb", mtu, target, delta) + bytes([dt])


def echo_request(to_b=False, ident=1, seq=1, data=bytes(range(56))):
    dst = 2 if to_b else 1
    icmp = bytes([8, 0, 0, 0]) + struct.pack(">HH", ident, seq) + data
    ip = bytes([0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 99, 10, 0, 0, dst])
    dg = ip[:2] + struct.pack(">H", len(ip) + len(icmp)) + ip[4:] + icmp
    return raw(dg, True, to_b)  # op_raw repairs both checksums


def icmp6(type_, code, rest, body, src=b"\xfd" + bytes(14) + b"\x09", dst=b"\xfd" + bytes(14) + b"\x01"):
    """A raw ICMPv6 datagram (op_raw repairs IPv4 checksums only, so the
    pseudo-header checksum is computed here) from fd00::9 to A's fd00::1."""
    msg = bytearray(bytes([type_, code, 0, 0]) + struct.pack(">I", rest) + body)
    pseudo = src + dst + struct.pack(">IxxxB", len(msg), 58) + bytes(msg)
    if len(pseudo) & 1:
        pseudo += b"\0"
    total = sum(struct.unpack(f">{len(pseudo) // 2}H", pseudo))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    msg[2:4] = struct.pack(">H", ~total & 0xFFFF)
    ip = bytes([0x60, 0, 0, 0]) + struct.pack(">HBB", len(msg), 58, 64) + src + dst
    return raw(ip + bytes(msg), False)


def quoted6(sport=80, dport=40000, seq=1, nh=6, ext=b""):
    """What A might have sent: IPv6 fd00::1 > fd00::2 with TCP, behind
    optional extension headers."""
    a, b = b"\xfd" + bytes(14) + b"\x01", b"\xfd" + bytes(14) + b"\x02"
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 0x50, ACK, 1000, 0, 0)
    return bytes([0x60, 0, 0, 0]) + struct.pack(">HBB", len(ext) + len(tcp), nh, 64) + a + b + ext + tcp


def call(side, fd_index, what, extra=b""):
    return bytes([6, (0x80 if side else 0) | fd_index, what]) + extra


def ip6_tcp(nh, ext, flags, payload=b""):
    """An IPv6 datagram from 2001:db8::99 to fd00::1:80 with extension
    headers `ext` (already chained, the first named by `nh`) before a TCP
    header; op_raw's repair fills the checksum."""
    tcp = struct.pack(">HHIIBBHHH", 40000, 80, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload
    body = ext + tcp
    src = bytes.fromhex("20010db8000000000000000000000099")
    dst = bytes.fromhex("fd000000000000000000000000000001")
    return struct.pack(">IHBB", 6 << 28 | 0x12345, len(body), nh, 64) + src + dst + body


IP6_SEEDS = {
    # hop-by-hop (PadN), destination options (Pad1s), an atomic fragment, a
    # routing header with no segments left: what Linux's ipv6_rcv walks
    "ip6_plain_syn": raw(ip6_tcp(6, b"", SYN)),
    "ip6_hbh_padn": raw(ip6_tcp(0, bytes([6, 0, 1, 4, 0, 0, 0, 0]), SYN)),
    "ip6_dstopt_pad1": raw(ip6_tcp(60, bytes([6, 0, 0, 0, 0, 0, 0, 0]), SYN)),
    "ip6_atomic_frag": raw(ip6_tcp(44, bytes([6, 0, 0, 0, 0, 0, 0, 7]), SYN)),
    "ip6_routing_done": raw(ip6_tcp(43, bytes([6, 2, 0, 0, 0, 0, 0, 0]) + bytes(16), SYN)),
    "ip6_chain": raw(ip6_tcp(0, bytes([60, 0, 1, 4, 0, 0, 0, 0]) + bytes([43, 0, 0, 0, 0, 0, 0, 0])
                             + bytes([6, 0, 0, 0, 0, 0, 0, 0]), SYN)),
    # faults each counted by name: a later fragment, hop-by-hop not first,
    # an option whose type asks for a drop, a routing header with segments left
    "ip6_later_frag": raw(ip6_tcp(44, bytes([6, 0, 0, 0x19, 0, 0, 0, 7]), ACK)),
    "ip6_hbh_not_first": raw(ip6_tcp(60, bytes([0, 0, 1, 4, 0, 0, 0, 0]) + bytes([6, 0, 1, 4, 0, 0, 0, 0]), SYN)),
    "ip6_option_drop": raw(ip6_tcp(60, bytes([6, 0, 0x80, 4, 0, 0, 0, 0]), SYN)),
    "ip6_routing_left": raw(ip6_tcp(43, bytes([6, 2, 0, 1, 0, 0, 0, 0]) + bytes(16), SYN)),
    "ip6_data": raw(ip6_tcp(6, b"", PSH | ACK, b"GET / HTTP/1.1\r\n\r\n")),
}

SEEDS = {
    "ack_all_in_flight": template(1, ACK, 0x40, opts=ts_opt()) + deliver(),
    "partial_ack_sack": template(1, ACK, 0x48, ack=struct.pack(">h", -280),
                                 opts=bytes([OPT_TS | OPT_SACK, 0, 1, 2, 0, 100, 3, 0, 200])) + deliver(),
    "dupacks": b"".join(template(1, ACK, 0x48, ack=struct.pack(">h", -375),
                                 opts=bytes([OPT_TS | OPT_SACK, 0, 0, 1, 0, 100])) for _ in range(4)) + deliver(),
    "data_in_order": template(1, PSH | ACK, 0xc0, opts=ts_opt(), payload=bytes(range(256)) * 4) + deliver(),
    "data_out_of_order": template(1, ACK, 0xc1, seq=bytes([100]), opts=ts_opt(), payload=b"x" * 500)
                         + template(1, PSH | ACK, 0xc0, opts=ts_opt(), payload=b"y" * 100) + deliver(),
    "fin_to_fin_wait_2": template(2, FIN | ACK, 0x40, opts=ts_opt()) + deliver() + advance(0xc4),
    "fin_to_orphan": template(4, FIN | ACK, 0x40, opts=ts_opt()) + deliver(),
    "rst_exact": template(1, RST, 0),
    "rst_in_window": template(1, RST, 0x01, seq=bytes([10])) + deliver(),
    "syn_in_established": template(1, SYN, 0x40, opts=bytes([OPT_MSS | OPT_SACKWS | OPT_TS, 7, 0])) + deliver(),
    "syn_to_time_wait": template(6, SYN, 0x43, seq=struct.pack(">I", 0x7fffffff),
                                 opts=bytes([OPT_MSS | OPT_SACKWS | OPT_TS, 7, 0])) + deliver(),
    "ack_to_time_wait": template(6, ACK, 0x40, opts=ts_opt()) + deliver(),
    "close_wait_then_close": call(0, 3, 3) + deliver() + template(9, ACK, 0x40, opts=ts_opt()) + deliver(),
    "syn_sent_synack": template(10, SYN | ACK, 0x43, seq=struct.pack(">I", 12345),
                                opts=bytes([OPT_MSS | OPT_SACKWS | OPT_TS, 7, 0])) + deliver(),
    "syn_sent_rst": template(10, RST | ACK, 0x03, seq=struct.pack(">I", 0)),
    "cookie_ack": template(12, ACK, 0x40, opts=ts_opt()) + call(0, 0, 4) + deliver(),
    "syn_recv_ack": template(14, ACK, 0x40, opts=ts_opt()) + call(1, 0, 4) + deliver(),
    "cookie_handshake": template(0xe5, SYN, 0x43, fresh=bytes([7]), seq=struct.pack(">I", 1000),
                                 opts=bytes([OPT_MSS | OPT_SACKWS | OPT_TS, 7, 0]))
                        + template(15, ACK, 0x40, opts=ts_opt()) + call(0, 0, 4) + deliver(),
    "syn_flood_b": b"".join(template(0xe7, SYN, 0x03, fresh=bytes([i]), seq=struct.pack(">I", i * 7919))
                            for i in range(6)) + deliver(),
    "timers": advance(0x43) + deliver() + advance(0x8a) + deliver() + advance(0xc8) + deliver() + advance(0xff),
    "keepalive": call(0, 1, 7) + call(0, 1, 6 | 0x30, b"\x00\x01") + advance(0xc2) + deliver() + advance(0xc2),
    "zero_window": template(1, ACK, 0x50, win=0, opts=ts_opt()) + advance(0x85) + deliver() + advance(0x90),
    "ecn_ce": template(1, PSH | ACK, 0xe0, tos=3, opts=ts_opt(), payload=b"ce" * 50) + deliver(),
    "sysctls": call(0, 1, 0x19, bytes([0x05])) + call(1, 1, 0x19, bytes([0x1c])) + advance(0xc4) + deliver(),
    "send_recv": call(0, 1, 0, b"\x20\x00") + deliver() + call(1, 1, 1, b"\x10\x00") + deliver() + advance(0x50),
    # ICMP (icmp.c, pmtu.c): echo, errors in and out of window, PMTU
    "icmp_echo": echo_request() + echo_request(True, 7, 9, b"") + deliver(),
    "icmp_frag_needed": icmp_error(1, 3, 4, mtu=1200, delta=-1) + deliver() + advance(0x50) + deliver(),
    "icmp_frag_needed_tiny": icmp_error(1, 3, 4, mtu=300, delta=-1) + deliver() + advance(0x50),
    "icmp_out_of_window": icmp_error(1, 3, 4, mtu=1200, delta=100, how=6) + icmp_error(1, 3, 1, delta=-100, how=6),
    "icmp_port_unreach_syn_sent": icmp_error(10, 3, 3, delta=-1) + deliver(),
    "icmp_host_unreach_soft": icmp_error(1, 3, 1, delta=-1) + advance(0xc8) + deliver() + advance(0xff),
    "icmp_req_sock": icmp_error(14, 11, 0, delta=-1) + icmp_error(14, 3, 1, delta=-1) + deliver(),
    "icmp_time_wait": icmp_error(6, 3, 3, delta=-1),
    "icmp_probing_timeouts": icmp_error(1, 4, 0, delta=-1, how=2 | 8) + advance(0xc8) + advance(0xc8)
                             + advance(0xff) + deliver(),
    # op_call's `what`: % 10 == 6 is setsockopt, >> 4 of 12..15 the IP level
    # ICMPv6 (icmp6.c): errors quoting a TCP header, through extension
    # headers, truncated, with a bad checksum; Packet Too Big above and
    # below IPV6_MIN_MTU
    "icmp6_echo": icmp6(128, 0, 0x00010001, bytes(range(56))),
    "icmp6_port_unreach": icmp6(1, 4, 0, quoted6()),
    "icmp6_pkt_too_big": icmp6(2, 0, 1400, quoted6()) + icmp6(2, 0, 1000, quoted6()),
    "icmp6_time_exceeded_ext": icmp6(3, 0, 0, quoted6(nh=60, ext=bytes([6, 0, 1, 4, 0, 0, 0, 0]))),
    "icmp6_param_problem_frag": icmp6(4, 0, 40, quoted6(nh=44, ext=bytes([6, 0, 0, 0, 0, 0, 0, 1]))),
    "icmp6_truncated_quote": icmp6(2, 0, 1280, quoted6()[:44]),
    "icmp6_bad_csum": icmp6(1, 4, 0, quoted6())[:-2] + bytes([0x5A, 0x41]),
    "icmp_ip_options": call(0, 1, 0xc4, b"\x00\x00") + call(0, 1, 0xd8, b"\x00\x01")
                       + call(0, 1, 0xe2, b"\x00\x10") + icmp_error(1, 3, 4, mtu=600, delta=-1) + deliver(),
}


def pcap_datagrams(path):
    d = open(path, "rb").read()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", d[:24])
    if magic != 0xA1B2C3D4 and magic != 0xA1B23C4D:
        raise SystemExit(f"{path}: not a little-endian pcap")
    if linktype not in (101, 228):
        raise SystemExit(f"{path}: linktype {linktype}, want 101 (raw IP) or 228 (raw IPv4)")
    off = 24
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack("<IIII", d[off:off + 16])
        yield d[off + 16:off + 16 + incl]
        off += 16 + incl


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = dict(SEEDS)
    seeds.update(IP6_SEEDS)
    if len(sys.argv) > 1:
        whole = b""
        for i, dg in enumerate(pcap_datagrams(sys.argv[1])):
            to_b = dg[19] == 2  # destination 10.0.0.2
            seeds[f"demo_{i:02d}"] = raw(dg, True, to_b)
            whole += raw(dg, True, to_b)
        seeds["demo_exchange"] = whole
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
