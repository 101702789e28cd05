#if canImport(Glibc)
import Glibc
#endif
import Testing
import UVSFailover
import UVSPacket

/// VRRP adverts against the spec's worked examples (§1.2, §1.3) and keepalived's receive checks (§1.5).
struct VRRPAdvertTests {
    let vip = IPAddr("192.168.200.16")!
    let src = IPAddr("192.168.1.10")!
    let group = IPAddr("224.0.0.18")!

    func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ") }

    @Test func v2WorkedExamples() {
        var a = VRRPAdvert(version: .v2, vrid: 51, priority: 100, interval: 1, addresses: [vip])
        #expect(hex(a.encode()) == "21 33 64 01 00 01 f2 10 c0 a8 c8 10 00 00 00 00 00 00 00 00")
        a.setPassword("1111")
        #expect(hex(a.encode()) == "21 33 64 01 01 01 8e ae c0 a8 c8 10 31 31 31 31 00 00 00 00")
        var resign = VRRPAdvert(version: .v2, vrid: 51, priority: 0, interval: 1, addresses: [vip])
        resign.authType = 0
        #expect(hex(resign.encode()) == "21 33 00 01 00 01 56 11 c0 a8 c8 10 00 00 00 00 00 00 00 00")
    }

    @Test func v3WorkedExamples() {
        let a = VRRPAdvert(version: .v3, vrid: 51, priority: 100, interval: 100, addresses: [vip])
        #expect(hex(a.encode(src: src, dst: group)) == "31 33 64 01 00 64 3f 6c c0 a8 c8 10")
        #expect(hex(a.encode(src: src, dst: group, v3ChecksumAsV2: true)) == "31 33 64 01 00 64 e1 ad c0 a8 c8 10")
    }

    @Test func receiveValidationInKeepalivedsOrder() {
        var e = VRRPExpectations(version: .v2, ipv6: false, interval: 1, addresses: [vip])
        e.authType = 1
        e.authData = Array("1111".utf8) + [0, 0, 0, 0]
        var a = VRRPAdvert(version: .v2, vrid: 51, priority: 100, interval: 1, addresses: [vip])
        a.setPassword("1111")
        let good = a.encode()
        func check(_ m: [UInt8], ttl: UInt8 = 255) -> VRRPReceive.Rejection? {
            if case .failure(let r) = VRRPReceive.validate(m, ttl: ttl, src: src, dst: group, expect: e) { return r }
            return nil
        }
        #expect(check(good) == nil)
        #expect(check(good + [0, 0, 0, 0]) == nil)                   // Ethernet padding
        #expect(check(Array(good.prefix(15))) == .packetLength)
        #expect(check(good, ttl: 64) == .ttl)
        var wrongPass = a; wrongPass.setPassword("2222")
        #expect(check(wrongPass.encode()) == .authFailure)
        var noAuth = a; noAuth.authType = 0
        #expect(check(noAuth.encode()) == .authTypeMismatch)
        var slow = a; slow.interval = 2
        #expect(check(slow.encode()) == .intervalMismatch)
        var corrupt = good; corrupt[6] ^= 1
        #expect(check(corrupt) == .checksum)
        var v3 = good; v3[0] = 0x31
        #expect(check(v3) == .version)
        // A different address list is counted but the advert is processed.
        let other = VRRPAdvert(version: .v2, vrid: 51, priority: 100, interval: 1, addresses: [IPAddr("192.168.200.17")!])
        var o = other; o.setPassword("1111")
        if case .success(let acc) = VRRPReceive.validate(o.encode(), ttl: 255, src: src, dst: group, expect: e) {
            #expect(acc.addressListMismatch && acc.advert.priority == 100)
        } else {
            Issue.record("a mismatching address list must still be accepted")
        }
    }

    @Test func v3IPv6ChecksumUsesItsPseudoHeader() {
        let ll = IPAddr("fe80::1")!, ff = IPAddr("ff02::12")!, v = IPAddr("2001:db8::10")!
        let a = VRRPAdvert(version: .v3, vrid: 7, priority: 200, interval: 100, addresses: [v])
        let m = a.encode(src: ll, dst: ff)
        #expect(m.count == 8 + 16)
        let e = VRRPExpectations(version: .v3, ipv6: true, interval: 100, addresses: [v])
        if case .success(let acc) = VRRPReceive.validate(m, ttl: 255, src: ll, dst: ff, expect: e) {
            #expect(acc.advert == a && !acc.addressListMismatch)
        } else {
            Issue.record("our own v3 IPv6 advert must validate")
        }
        // The same bytes from another source fail the pseudo-header checksum.
        if case .failure(let r) = VRRPReceive.validate(m, ttl: 255, src: IPAddr("fe80::2")!, dst: ff, expect: e) {
            #expect(r == .checksum)
        } else {
            Issue.record("a forged source must fail the checksum")
        }
    }
}

/// The adverts real keepalived sent (fixtures/vrrp/keepalived-adverts.txt): ours must be the
/// same bytes, and keepalived's must pass our receive checks.
struct KeepalivedAdvertFixtureTests {
    @Test func ourAdvertsAreKeepalivedsBytes() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let text = try #require(readAll("/" + path + "/fixtures/vrrp/keepalived-adverts.txt"))
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").map(String.init) }
        #expect(rows.count == 4)
        let vips = [IPAddr("192.168.200.16")!, IPAddr("192.168.200.17")!]
        for (i, r) in rows.enumerated() {
            let (src, dst, ttl) = (IPAddr(r[0])!, IPAddr(r[1])!, UInt8(r[2])!)
            let bytes = stride(from: 0, to: r[3].count, by: 2).map { UInt8(r[3].dropFirst($0).prefix(2), radix: 16)! }
            let v2 = i < 2
            var mine = VRRPAdvert(version: v2 ? .v2 : .v3, vrid: v2 ? 51 : 52, priority: i % 2 == 0 ? 100 : 0,
                                  interval: v2 ? 1 : 100, addresses: vips)
            if v2 { mine.setPassword("1111") }
            #expect(mine.encode(src: src, dst: dst) == bytes, "row \(i)")
            var e = VRRPExpectations(version: mine.version, ipv6: false, interval: mine.interval, addresses: vips)
            if v2 { e.authType = 1; e.authData = mine.authData }
            guard case .success(let acc) = VRRPReceive.validate(bytes, ttl: ttl, src: src, dst: dst, expect: e) else {
                Issue.record("keepalived's advert \(i) rejected"); continue
            }
            #expect(acc.advert == mine && !acc.addressListMismatch)
        }
    }

    func readAll(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, 4096, f)
            if n <= 0 { break }
            out += buf[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
