#!/usr/bin/env python3
"""Seeds for fuzz_analyze from the analyzer's committed kernel captures.

fuzz_analyze reads: one byte choosing the link type (its index in the
target's table, high bit = frames were truncated by the snap length), then
frames, each a 2-byte big-endian length, a byte moving the clock, and the
frame's bytes.  This turns classic pcap files of tests/data into that form.

    python3 fuzz/make_analyze_seeds.py tests/data fuzz/corpus/analyze
"""
import os
import struct
import sys

# pcap link types -> index in fuzz_analyze.c's dlts[] table.
LINKTYPES = {1: 0, 113: 1, 276: 2, 101: 3, 228: 4, 229: 5, 0: 6, 108: 7}


def convert(path):
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        endian = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        endian = '>'
    else:
        return None  # pcapng: left to the real reader's tests
    linktype = struct.unpack(endian + 'I', data[20:24])[0] & 0xffff
    if linktype not in LINKTYPES:
        return None
    out = bytearray([LINKTYPES[linktype]])
    off, prev = 24, None
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack(endian + 'IIII', data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        now = sec * 1000 + usec // 1000
        dt = 0 if prev is None else max(0, min(199, now - prev))
        prev = now
        out += struct.pack('>HB', len(frame), dt) + frame
    return bytes(out)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        if not name.endswith('.pcap'):
            continue
        seed = convert(os.path.join(src, name))
        if seed:
            with open(os.path.join(dst, name[:-5]), 'wb') as f:
                f.write(seed)


if __name__ == '__main__':
    main()
