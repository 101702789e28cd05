import Testing
@testable import UVSPacket

/// Software GSO and partial checksums: what the live director does to super-packets and to
/// frames from local senders before IPVS sees them.
struct SegmentationTests {
    /// An Ethernet/IPv4 (or IPv6)/TCP frame with correct checksums.
    static func tcpFrame(v6: Bool, payload: [UInt8], flags: UInt8 = 0x99, seq: UInt32 = 1000, id: UInt16 = 7) -> [UInt8] {
        let src = v6 ? IPAddr("2001:db8::1")! : IPAddr("10.0.0.1")!
        let dst = v6 ? IPAddr("2001:db8::2")! : IPAddr("10.0.0.2")!
        var tcp: [UInt8] = [0x9c, 0x40, 0x00, 0x50] + be32(seq) + be32(55) + [0x80, flags, 0xff, 0xff, 0, 0, 0, 0]
        tcp += [1, 1, 8, 10] + be32(1) + be32(2)   // NOP NOP timestamps (12 bytes of options)
        tcp += payload
        let pseudo = Checksum.pseudo(src: src, dst: dst, proto: 6, length: tcp.count)
        let c = tcp.withUnsafeBytes { Checksum.compute($0.baseAddress!, $0.count, pseudo) }
        tcp[16] = UInt8(c >> 8); tcp[17] = UInt8(c & 0xFF)
        var ip: [UInt8]
        if v6 {
            ip = [0x60, 0, 0, 0] + be16(UInt16(tcp.count)) + [6, 64] + bytes(src) + bytes(dst)
        } else {
            ip = [0x45, 0] + be16(UInt16(20 + tcp.count)) + be16(id) + [0x40, 0, 64, 6, 0, 0] + bytes(src).suffix(4) + bytes(dst).suffix(4)
            let h = ip.withUnsafeBytes { Checksum.compute($0.baseAddress!, 20) }
            ip[10] = UInt8(h >> 8); ip[11] = UInt8(h & 0xFF)
        }
        return [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1] + (v6 ? [0x86, 0xDD] : [0x08, 0x00]) + ip + tcp
    }

    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func bytes(_ a: IPAddr) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 16)
        b.withUnsafeMutableBytes { a.store(v6: $0.baseAddress!) }
        return b
    }

    func segments(_ frame: [UInt8], mtu: Int) -> [[UInt8]] {
        let out = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { out.deallocate() }
        var segs: [[UInt8]] = []
        let ok = frame.withUnsafeBytes {
            TCPSegmentation.segment($0.baseAddress!, $0.count, mtu: mtu, out: out, headroom: 64) { p, n in
                segs.append(Array(UnsafeRawBufferPointer(start: p, count: n)))
            }
        }
        #expect(ok)
        return segs
    }

    func valid(_ f: [UInt8]) -> Bool {
        var pkt = ParsedPacket()
        return f.withUnsafeBytes { b -> Bool in
            guard case .ip = PacketParser.parse(b.baseAddress!, b.count, &pkt) else { return false }
            let pseudo = Checksum.pseudo(src: pkt.src, dst: pkt.dst, proto: 6, length: pkt.l4Len)
            let tcpOK = Checksum.compute(b.baseAddress! + pkt.l4, pkt.l4Len, pseudo) == 0
            let ipOK = pkt.isV6 || Checksum.compute(b.baseAddress! + pkt.l3, 20) == 0
            return tcpOK && ipOK
        }
    }

    @Test(arguments: [false, true])
    func superPacketBecomesWireSegments(v6: Bool) {
        let payload = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let frame = Self.tcpFrame(v6: v6, payload: payload)
        #expect(valid(frame))
        let segs = segments(frame, mtu: 1500)
        let headers = 14 + (v6 ? 40 : 20) + 32
        let mss = 1500 - (headers - 14)
        #expect(segs.count == (payload.count + mss - 1) / mss)
        var joined: [UInt8] = []
        for (i, s) in segs.enumerated() {
            #expect(s.count <= 1514)
            #expect(valid(s), "segment \(i) checksums")
            let l4 = 14 + (v6 ? 40 : 20)
            let seq = UInt32(s[l4 + 4]) << 24 | UInt32(s[l4 + 5]) << 16 | UInt32(s[l4 + 6]) << 8 | UInt32(s[l4 + 7])
            #expect(seq == 1000 + UInt32(i * mss))
            let last = i == segs.count - 1
            #expect(s[l4 + 13] & 0x09 == (last ? 0x09 : 0), "FIN/PSH only on the last segment")
            #expect(s[l4 + 13] & 0x80 == (i == 0 ? 0x80 : 0), "CWR only on the first")
            if !v6 { #expect(UInt16(s[18]) << 8 | UInt16(s[19]) == 7 + UInt16(i), "IPv4 IDs count up") }
            joined += s[headers...]
        }
        #expect(joined == payload)
    }

    @Test func smallOrNonTCPFramesAreNotSplit() {
        let frame = Self.tcpFrame(v6: false, payload: [1, 2, 3])
        let out = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { out.deallocate() }
        let r = frame.withUnsafeBytes { TCPSegmentation.segment($0.baseAddress!, $0.count, mtu: 1500, out: out, headroom: 0) { _, _ in } }
        #expect(!r)
    }

    /// CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum; completing it gives
    /// the checksum a device would have written.
    @Test(arguments: [false, true])
    func partialChecksumCompleted(v6: Bool) {
        var frame = Self.tcpFrame(v6: v6, payload: Array(0..<200))
        let l4 = 14 + (v6 ? 40 : 20)
        let full = (frame[l4 + 16], frame[l4 + 17])
        var pkt = ParsedPacket()
        _ = frame.withUnsafeBytes { PacketParser.parse($0.baseAddress!, $0.count, &pkt) }
        let pseudo = Checksum.pseudo(src: pkt.src, dst: pkt.dst, proto: 6, length: pkt.l4Len)
        let partial = ~Checksum.fold(pseudo)
        frame[l4 + 16] = UInt8(partial >> 8); frame[l4 + 17] = UInt8(partial & 0xFF)
        #expect(frame.withUnsafeMutableBytes { Checksum.completePartial($0.baseAddress!, $0.count) })
        #expect((frame[l4 + 16], frame[l4 + 17]) == full)
    }
}
