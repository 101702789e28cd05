import Testing
@testable import UVSPacket

struct ChecksumTests {
    func sum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
        bytes.withUnsafeBytes { Checksum.compute($0.baseAddress!, $0.count, initial) }
    }

    /// RFC 1071's worked IPv4 header (checksum field zero) → 0xB861.
    @Test func rfc1071Header() {
        let h: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
                          0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7]
        #expect(sum(h) == 0xB861)
        var withSum = h
        withSum[10] = 0xB8; withSum[11] = 0x61
        #expect(sum(withSum) == 0)
    }

    @Test func fastIPv4HeaderSum() {
        var rng = UInt64(99)
        for _ in 0..<1000 {
            var h = (0..<20).map { _ -> UInt8 in rng = rng &* 6364136223846793005 &+ 1; return UInt8(truncatingIfNeeded: rng >> 33) }
            h[10] = 0; h[11] = 0
            #expect(h.withUnsafeBytes { Checksum.ipv4Header20($0.baseAddress!) } == sum(h))
        }
    }

    @Test func oddLengthPadsWithZero() {
        #expect(sum([0x01]) == ~UInt16(0x0100))
        #expect(sum([0x12, 0x34, 0x56]) == ~UInt16(0x1234 &+ 0x5600))
    }

    /// RFC 1624 §3: equation 3 gives the right answer where the old equation 2 did not:
    /// a sum of 0xFFFF (checksum 0) updated to 0xFFFE (checksum 1).
    @Test func rfc1624Equation3() {
        // data [0x0001, 0xFFFE] → checksum 0x0000; word 0x0001 becomes 0x0000.
        #expect(sum([0x00, 0x01, 0xFF, 0xFE]) == 0x0000)
        #expect(Checksum.update16(check: 0x0000, old: 0x0001, new: 0x0000) == 0x0001)
        #expect(sum([0x00, 0x00, 0xFF, 0xFE]) == 0x0001)
    }

    /// Incremental updates equal a full recomputation (random data, fixed seed).
    @Test func incrementalMatchesFull() {
        var rng = UInt64(0x1234_5678)
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 16 }
        for _ in 0..<2000 {
            var data = (0..<40).map { _ in UInt8(truncatingIfNeeded: next()) }
            data[16] = 0; data[17] = 0
            let c = sum(data)
            let i = Int(next() % 8) * 2
            guard i != 16 else { continue }
            let old = UInt16(data[i]) << 8 | UInt16(data[i + 1])
            let new = UInt16(truncatingIfNeeded: next())
            data[i] = UInt8(new >> 8); data[i + 1] = UInt8(new & 0xFF)
            #expect(Checksum.update16(check: c, old: old, new: new) == sum(data))
        }
    }

    /// The kernel's TTL decrement step agrees with a full header checksum.
    @Test func ttlDecrementMatchesFull() {
        for ttl in [2, 64, 65, 128, 255] as [UInt8] {
            for id in stride(from: 0, to: 65536, by: 997) {
                var h: [UInt8] = [0x45, 0, 0, 60, UInt8(id >> 8), UInt8(id & 0xFF), 0x40, 0, ttl, 6, 0, 0,
                                  203, 0, 113, 1, 192, 0, 2, 100]
                let c = sum(h)
                h[8] = ttl - 1
                #expect(Checksum.ttlDecrement(check: c) == sum(h))
            }
        }
    }

    /// IPVS's NAT update (address + port) equals recomputing the TCP checksum.
    @Test func natUpdateMatchesFull() {
        let src = IPAddr("203.0.113.7")!, vip = IPAddr("192.0.2.100")!, rip = IPAddr("198.51.100.11")!
        var seg: [UInt8] = [0x9C, 0x41, 0x00, 0x50, 0, 0, 0x03, 0xE8, 0, 0, 0, 0, 0x50, 0x02, 0xFA, 0xF0, 0, 0, 0, 0]
        let before = sum(seg, initial: Checksum.pseudo(src: src, dst: vip, proto: 6, length: seg.count))
        seg[2] = 0x1F; seg[3] = 0x90   // port 80 → 8080
        let after = sum(seg, initial: Checksum.pseudo(src: src, dst: rip, proto: 6, length: seg.count))
        #expect(Checksum.natUpdate(check: before, oldAddr: vip, newAddr: rip, oldPort: 80, newPort: 8080) == after)
        let v6a = IPAddr("2001:db8:a::100")!, v6b = IPAddr("2001:db8:b::21")!, c6 = IPAddr("2001:db8:c::1")!
        seg[2] = 0x00; seg[3] = 0x50
        let b6 = sum(seg, initial: Checksum.pseudo(src: c6, dst: v6a, proto: 6, length: seg.count))
        seg[2] = 0x1F; seg[3] = 0x91
        let a6 = sum(seg, initial: Checksum.pseudo(src: c6, dst: v6b, proto: 6, length: seg.count))
        #expect(Checksum.natUpdate(check: b6, oldAddr: v6a, newAddr: v6b, oldPort: 80, newPort: 8081) == a6)
    }
}
