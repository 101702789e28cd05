"""Writes crafted frames on an interface (AF_PACKET), for the VLAN and bad-input tests.

    frames.py IFACE VIP             tagged (VLAN 100) and untagged ARP requests and SYNs
    frames.py IFACE VIP --malformed truncated and corrupt IPv4/TCP frames to the VIP
"""
import socket
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip4(s):
    return socket.inet_aton(s)


def syn(src, dst, sport):
    tcp = struct.pack("!HHIIBBHHH", sport, 80, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + tcp


def arp_request(src_mac, src, target):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, ip4(src), b"\0" * 6, ip4(target))


def eth(dst, src, etype, payload, vlan=None):
    if vlan is None:
        return dst + src + struct.pack("!H", etype) + payload
    return dst + src + struct.pack("!HHH", 0x8100, vlan, etype) + payload


def main():
    iface, vip = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    me = open(f"/sys/class/net/{iface}/address").read().strip()
    src_mac = mac(me)
    bcast = b"\xff" * 6
    director = mac("02:00:0a:0a:01:fe")
    if "--malformed" in sys.argv:
        good = syn("10.10.1.9", vip, 50000)
        bad = [
            good[:20],                                    # IPv4 header only: truncated TCP
            b"\x46" + good[1:],                           # IHL says options that are not there
            good[:2] + b"\xff\xff" + good[4:],            # total length beyond the frame
            b"\x45\x00\x00",                              # 3 bytes of IPv4
        ]
        for p in bad:
            s.send(eth(director, src_mac, 0x0800, p))
        return
    # VLAN 100: ARP for the VIP and a SYN from 10.10.1.7; untagged: the same from .8
    s.send(eth(bcast, src_mac, 0x0806, arp_request(src_mac, "10.10.1.7", vip), vlan=100))
    s.send(eth(bcast, src_mac, 0x0806, arp_request(src_mac, "10.10.1.8", vip)))
    s.send(eth(director, src_mac, 0x0800, syn("10.10.1.7", vip, 40007), vlan=100))
    s.send(eth(director, src_mac, 0x0800, syn("10.10.1.8", vip, 40008)))


if __name__ == "__main__":
    main()
