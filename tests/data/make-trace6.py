#!/usr/bin/env python3
"""Writes tests/trace6_vectors.h: IPv6 datagrams and the lines tcpdump
prints for them, with -nn and with -nn -v.

Run from the project root with tcpdump 4.99 installed:
    python3 tests/data/make-trace6.py > tests/trace6_vectors.h
The datagrams go to a LINKTYPE_RAW pcap in a temporary directory and are
read back with `tcpdump -nn -r` and `tcpdump -v -nn -r`.  Where synack
prints on purpose something else (it does not decode UDP or ICMPv6, and
a formatter of one line stops before -v's continuation lines) the
expected line is the one synack prints, marked in OVERRIDES.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def a6(s):
    return socket.inet_pton(socket.AF_INET6, s)


def tcp(src, dst, sp, dp, seq, ack, flags, win=64800, opts=b'', payload=b'', bad=False):
    doff = (20 + len(opts)) // 4
    seg = struct.pack('!HHIIBBHHH', sp, dp, seq, ack, doff << 4, flags, win, 0, 0) + opts + payload
    c = csum(src + dst + struct.pack('!IxxxB', len(seg), 6) + seg)
    if bad:
        c ^= 0x1234
    return seg[:16] + struct.pack('!H', c) + seg[18:]


def icmp6(src, dst, typ, code, rest, bad=False):
    msg = struct.pack('!BBH', typ, code, 0) + rest
    c = csum(src + dst + struct.pack('!IxxxB', len(msg), 58) + msg)
    if bad:
        c ^= 0x0101
    return msg[:2] + struct.pack('!H', c) + msg[4:]


def ip6(src, dst, nh, payload, flow=0, tc=0, hlim=64, plen=None):
    v = (6 << 28) | (tc << 20) | flow
    return struct.pack('!IHBB', v, len(payload) if plen is None else plen, nh, hlim) + src + dst + payload


S = a6('fd3d::1')
D = a6('fd3d::2')
F = a6('2001:db8::99')
SYN_OPTS = bytes([2, 4, 5, 0xa0, 4, 2, 8, 10]) + struct.pack('!II', 943809094, 0) + bytes([1, 3, 3, 10])
ACK = lambda src=S, dst=D: tcp(src, dst, 41000, 80, 1001, 5001, 0x10)

pk = []
pk.append(('syn', ip6(S, D, 6, tcp(S, D, 41000, 80, 1000, 0, 0x02, opts=SYN_OPTS), flow=0x66ee4)))
pk.append(('syn-ack, traffic class', ip6(D, S, 6, tcp(D, S, 80, 41000, 5000, 1001, 0x12, opts=SYN_OPTS),
                                          flow=0x4526b, tc=0x02)))
pk.append(('ack, relative', ip6(S, D, 6, ACK(), flow=0x66ee4)))
pk.append(('http request', ip6(S, D, 6, tcp(S, D, 41000, 80, 1001, 5001, 0x18,
                                            payload=b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'), flow=0x66ee4)))
pk.append(('bad checksum', ip6(S, D, 6, tcp(S, D, 41000, 80, 1001, 5001, 0x18, payload=b'abc', bad=True),
                               flow=0x66ee4)))
pk.append(('hop-by-hop padn', ip6(S, D, 0, bytes([6, 0, 1, 4, 0, 0, 0, 0]) + ACK())))
pk.append(('hop-by-hop router alert', ip6(S, D, 0, bytes([6, 0, 5, 2, 0, 0, 1, 0]) + ACK())))
pk.append(('destination options pad1', ip6(S, D, 60, bytes([6, 0, 0, 0, 0, 0, 0, 0]) + ACK())))
pk.append(('atomic fragment', ip6(S, D, 44, bytes([6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]) + ACK())))
pk.append(('later fragment', ip6(S, D, 44, bytes([6, 0, 0, 0x18, 0x12, 0x34, 0x56, 0x78]) + b'x' * 16)))
pk.append(('routing type 0', ip6(S, D, 43, bytes([6, 2, 0, 0, 0, 0, 0, 0]) + F + ACK(S, F))))
pk.append(('routing type 4', ip6(S, D, 43, bytes([6, 2, 4, 0, 0, 0, 0, 0]) + F + ACK())))
pk.append(('routing type 5', ip6(S, D, 43, bytes([6, 2, 5, 0, 0, 0, 0, 0]) + F + ACK())))
pk.append(('routing type 2', ip6(S, D, 43, bytes([6, 2, 2, 0, 0, 0, 0, 1]) + F + ACK(S, F))))
pk.append(('jumbo in destination options', ip6(S, D, 60, bytes([6, 0, 0xc2, 4, 0, 1, 0, 0]) + ACK())))
pk.append(('30 bytes', ip6(S, D, 6, tcp(S, D, 1, 2, 3, 4, 0x02))[:30]))
pk.append(('tcp cut at 50', ip6(S, D, 6, tcp(S, D, 41000, 80, 1, 2, 0x02, opts=SYN_OPTS))[:50]))
x = ip6(S, D, 6, ACK())
pk.append(('payload length past the capture', x[:4] + struct.pack('!H', 40) + x[6:]))
pk.append(('payload length 0', ip6(S, D, 6, ACK(), plen=0)))
pk.append(('udp', ip6(S, D, 17, b'\x00\x35\x10\x00\x00\x0c\x00\x00abcd')))
pk.append(('icmpv6', ip6(S, D, 58, b'\x80\x00\x00\x00\x00\x01\x00\x01abcdefgh')))
pk.append(('no next header', ip6(S, D, 59, b'')))
for sa, da in [('::ffff:10.0.0.1', '::ffff:10.0.0.2'), ('::1.2.3.4', '::1'),
               ('2001:db8:0:0:1:0:0:1', 'fe80::1'), ('2001:db8::', '::')]:
    s_, d_ = a6(sa), a6(da)
    pk.append(('same ports, ' + sa, ip6(s_, d_, 6, tcp(s_, d_, 443, 443, 7, 9, 0x12))))
    pk.append(('same ports back, ' + da, ip6(d_, s_, 6, tcp(d_, s_, 443, 443, 9, 8, 0x10))))
pk.append(('hop-by-hop cut', ip6(S, D, 0, bytes([6, 1, 1, 4, 0, 0, 0, 0]) + b'\0' * 2)))
pk.append(('jumbo with a payload length', ip6(S, D, 0, bytes([6, 0, 0xc2, 4, 0, 0, 0, 60]) + ACK())))
pk.append(('rst', ip6(D, S, 6, tcp(D, S, 80, 41000, 5001, 1001, 0x14))))

# ICMPv6: errors quote the datagram that caused them
Q = ip6(S, D, 6, tcp(S, D, 41000, 80, 1001, 5001, 0x18, payload=b'x' * 40))
LL1, LL2, ALLN = a6('fe80::1'), a6('fe80::2'), a6('ff02::1')
for what, typ, code, rest in [
        ('echo request', 128, 0, struct.pack('!HH', 7, 1) + b'ping' * 4),
        ('echo reply', 129, 0, struct.pack('!HH', 7, 1) + b'ping' * 4),
        ('packet too big', 2, 0, struct.pack('!I', 1280) + Q),
        ('unreachable route', 1, 0, bytes(4) + Q),
        ('unreachable prohibited', 1, 1, bytes(4) + Q),
        ('beyond scope', 1, 2, bytes(4) + Q),
        ('unreachable address', 1, 3, bytes(4) + Q),
        ('unreachable port', 1, 4, bytes(4) + Q),
        ('unreachable code 9', 1, 9, bytes(4) + Q),
        ('time exceeded', 3, 0, bytes(4) + Q),
        ('reassembly time exceeded', 3, 1, bytes(4) + Q),
        ('parameter problem', 4, 0, struct.pack('!I', 6) + Q),
        ('parameter problem next header', 4, 1, struct.pack('!I', 40) + Q),
        ('parameter problem option', 4, 2, struct.pack('!I', 42) + Q),
        ('parameter problem code 9', 4, 9, struct.pack('!I', 42) + Q),
        ('mtrace response', 200, 0, bytes(8)),
        ('unknown type', 250, 0, bytes(8)),
]:
    pk.append(('icmpv6 ' + what, ip6(D, S, 58, icmp6(D, S, typ, code, rest))))
pk.append(('icmpv6 echo, bad checksum', ip6(S, D, 58, icmp6(S, D, 128, 0, struct.pack('!HH', 1, 2), bad=True))))
pk.append(('icmpv6 echo cut', ip6(S, D, 58, icmp6(S, D, 128, 0, struct.pack('!HH', 1, 2)))[:46]))
pk.append(('icmpv6 cut before its type', ip6(S, D, 58, icmp6(S, D, 128, 0, struct.pack('!HH', 1, 2)))[:40]))
pk.append(('icmpv6 cut after its type', ip6(S, D, 58, icmp6(S, D, 128, 0, struct.pack('!HH', 1, 2)))[:41]))
pk.append(('neighbor solicitation', ip6(LL1, a6('ff02::1:ff00:2'), 58, icmp6(LL1, a6('ff02::1:ff00:2'), 135, 0,
                                                                            bytes(4) + LL2), hlim=255)))
pk.append(('neighbor advertisement', ip6(LL2, LL1, 58, icmp6(LL2, LL1, 136, 0, struct.pack('!I', 0x60000000) + LL2),
                                          hlim=255)))
pk.append(('router solicitation', ip6(LL1, a6('ff02::2'), 58, icmp6(LL1, a6('ff02::2'), 133, 0, bytes(4)), hlim=255)))
pk.append(('router advertisement', ip6(LL2, ALLN, 58, icmp6(LL2, ALLN, 134, 0, bytes([64, 0]) + struct.pack('!HII', 1800, 0, 0)),
                                       hlim=255)))
pk.append(('redirect', ip6(LL2, LL1, 58, icmp6(LL2, LL1, 137, 0, bytes(4) + LL2 + D), hlim=255)))
MLD = a6('ff02::16')
recs = (bytes([4, 0]) + struct.pack('!H', 0) + a6('ff02::1:ff00:2')
        + bytes([1, 0]) + struct.pack('!H', 1) + a6('ff05::fb') + a6('fd3d::9'))
pk.append(('mldv2 report', ip6(LL1, MLD, 0, bytes([58, 0, 5, 2, 0, 0, 1, 0])
                                + icmp6(LL1, MLD, 143, 0, struct.pack('!HH', 0, 2) + recs), hlim=1)))

# synack's deliberate differences: (index, -v?) -> line after the time
OVERRIDES = {
    ('udp', False): 'IP6 fd3d::1 > fd3d::2:  ip-proto-17 12',
    ('udp', True): 'IP6 (hlim 64, next-header UDP (17) payload length: 12) fd3d::1 > fd3d::2:  ip-proto-17 12',
}

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, 't.pcap')
    with open(path, 'wb') as out:
        out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        for i, (_, p) in enumerate(pk):
            out.write(struct.pack('<IIII', 36000 + i, 0, len(p), len(p)) + p)
    runs = {}
    for verbose in (False, True):
        args = ['tcpdump', '-nn'] + (['-v'] if verbose else []) + ['-r', path]
        text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        # -v's continuation lines (HTTP text) start with a tab
        lines = [l for l in text.split('\n') if l and not l.startswith('\t')]
        assert len(lines) == len(pk), (len(lines), len(pk))
        runs[verbose] = [l.split(' ', 1)[1] for l in lines]

print('/* Generated by tests/data/make-trace6.py from tcpdump %s: do not edit. */' %
      subprocess.run(['tcpdump', '--version'], capture_output=True, text=True).stdout.split()[2])
print('typedef struct trace6_vector {\n    const char *what;\n    size_t len;\n    const uint8_t *bytes;\n'
      '    const char *line, *line_v;\n} trace6_vector;\n')
print('static const trace6_vector trace6_vectors[] = {')
for i, (what, p) in enumerate(pk):
    line = OVERRIDES.get((what, False), runs[False][i])
    line_v = OVERRIDES.get((what, True), runs[True][i])
    hexs = ''.join('\\x%02x' % b for b in p)
    print('    {"%s", %d, (const uint8_t *)"%s",\n     "%s",\n     "%s"},' %
          (what, len(p), hexs, line.replace('\\', '\\\\').replace('"', '\\"'),
           line_v.replace('\\', '\\\\').replace('"', '\\"')))
print('};')
