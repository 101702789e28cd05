/// Software TCP segmentation, as the kernel's GSO does it. A packet socket sees GRO/GSO
/// "super-packets" (up to 64 KiB from a local veth sender or a NIC's GRO) that were never a
/// frame on any wire; the director cuts them back into wire-sized segments before IPVS sees
/// them, so every rule (MTU, NAT, tunnels) applies to real frames.
public enum TCPSegmentation {
    /// Splits the TCP frame `p` (IP packet longer than `mtu`) into segments of at most `mtu`
    /// bytes of IP each, written one at a time at `out + headroom` and handed to `body`.
    /// IPv4 IDs count up from the original, sequence numbers advance, FIN/PSH stay on the
    /// last segment and CWR on the first, checksums are computed in full.
    /// Returns false (nothing emitted) when the frame is not a TCP packet that can be split.
    public static func segment(_ p: UnsafeRawPointer, _ len: Int, mtu: Int, out: UnsafeMutableRawPointer,
                               headroom: Int, _ body: (UnsafeMutableRawPointer, Int) -> Void) -> Bool {
        var pkt = ParsedPacket()
        guard case .ip = PacketParser.parse(p, len, &pkt), pkt.proto == IPProto.tcp, pkt.fragment == .none,
              pkt.l3 + pkt.ipLen <= len else { return false }
        let l3 = pkt.l3, l4 = pkt.l4
        guard l4 + 20 <= len else { return false }
        let tcpHdr = Int(p.load(fromByteOffset: l4 + 12, as: UInt8.self) >> 4) * 4
        guard tcpHdr >= 20, l4 + tcpHdr <= l3 + pkt.ipLen else { return false }
        let headers = l4 + tcpHdr
        let payload = l3 + pkt.ipLen - headers
        let mss = mtu - (headers - l3)
        guard mss > 0, payload > mss else { return false }
        let seq0 = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: l4 + 4, as: UInt32.self))
        let flags = p.load(fromByteOffset: l4 + 13, as: UInt8.self)
        let id0 = pkt.isV6 ? 0 : UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l3 + 4, as: UInt16.self))
        var off = 0
        var i: UInt16 = 0
        while off < payload {
            let n = min(mss, payload - off)
            let last = off + n == payload
            let f = out + headroom
            f.copyMemory(from: p, byteCount: headers)
            (f + headers).copyMemory(from: p + headers + off, byteCount: n)
            let ipLen = headers - l3 + n
            if pkt.isV6 {
                f.storeBytes(of: UInt16(ipLen - 40).bigEndian, toByteOffset: l3 + 4, as: UInt16.self)
            } else {
                f.storeBytes(of: UInt16(ipLen).bigEndian, toByteOffset: l3 + 2, as: UInt16.self)
                f.storeBytes(of: (id0 &+ i).bigEndian, toByteOffset: l3 + 4, as: UInt16.self)
                f.storeBytes(of: 0, toByteOffset: l3 + 10, as: UInt16.self)
                let hl = l4 - l3
                f.storeBytes(of: Checksum.compute(f + l3, hl).bigEndian, toByteOffset: l3 + 10, as: UInt16.self)
            }
            f.storeBytes(of: (seq0 &+ UInt32(off)).bigEndian, toByteOffset: l4 + 4, as: UInt32.self)
            var fl = flags
            if !last { fl &= ~0x09 }       // FIN, PSH only on the last segment
            if off > 0 { fl &= ~0x80 }     // CWR only on the first
            f.storeBytes(of: fl, toByteOffset: l4 + 13, as: UInt8.self)
            f.storeBytes(of: 0, toByteOffset: l4 + 16, as: UInt16.self)
            let tcpLen = tcpHdr + n
            let c = Checksum.compute(f + l4, tcpLen, Checksum.pseudo(src: pkt.src, dst: pkt.dst, proto: IPProto.tcp, length: tcpLen))
            f.storeBytes(of: c.bigEndian, toByteOffset: l4 + 16, as: UInt16.self)
            body(f, headers + n)
            off += n
            i &+= 1
        }
        return true
    }
}
