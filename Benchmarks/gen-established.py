#!/usr/bin/python3
"""Writes a pcap of N frames of established TCP flows to VIP 192.0.2.100:80 (DR bench input).

F flows open with a SYN, then ACK segments cycle over them, 1 µs apart. 60-byte frames
(Ethernet + IPv4 + TCP + padding), valid IPv4 header checksums.
usage: gen-established.py OUT.pcap [N=1000000] [F=1000]
"""
import struct
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
flows = int(sys.argv[3]) if len(sys.argv) > 3 else 1000


def csum(b):
    s = sum(struct.unpack("!10H", b))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(i, flags):
    src = bytes([203, 0, 100 + (i >> 8), i & 0xFF])
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0x4000, 64, 6, 0, src, bytes([192, 0, 2, 100])))
    ip[10:12] = struct.pack("!H", csum(bytes(ip)))
    tcp = struct.pack("!HHIIBBHHH", 40000 + (i % 20000), 80, 1, 0, 0x50, flags, 64240, 0, 0)
    return b"\x02\x00\x00\x00\xd0\x01\x02\x00\x00\x00\xc1\x01\x08\x00" + bytes(ip) + tcp + b"\0" * 6


with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    syns = [frame(i, 0x02) for i in range(flows)]
    acks = [frame(i, 0x10) for i in range(flows)]
    t = 1_700_000_000_000_000
    for k in range(n):
        fr = syns[k] if k < flows else acks[k % flows]
        t += 1
        f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(fr), len(fr)))
        f.write(fr)
print(f"wrote {n} frames ({flows} flows) to {out}")
