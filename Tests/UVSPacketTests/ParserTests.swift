import Testing
@testable import UVSPacket

struct ParserTests {
    static let syn: [UInt8] = {
        var f: [UInt8] = [2, 0, 0, 0, 0xD0, 1, 2, 0, 0, 0, 0xC1, 1, 0x08, 0x00]
        f += [0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 6, 0, 0, 203, 0, 113, 1, 192, 0, 2, 100]
        f += [0x9C, 0x41, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xFA, 0xF0, 0, 0, 0, 0, 2, 4, 5, 0xB4]
        return withHeaderChecksum(f, l3: 14)
    }()

    /// Fills in the IPv4 header checksum (the parser drops headers that do not verify).
    static func withHeaderChecksum(_ frame: [UInt8], l3: Int) -> [UInt8] {
        var f = frame
        let ihl = Int(f[l3] & 0x0F) * 4
        f[l3 + 10] = 0; f[l3 + 11] = 0
        let c = f[l3..<(l3 + ihl)].withUnsafeBytes { Checksum.compute($0.baseAddress!, ihl) }
        f[l3 + 10] = UInt8(c >> 8); f[l3 + 11] = UInt8(c & 0xFF)
        return f
    }

    func parse(_ f: [UInt8]) -> (ParseResult, ParsedPacket) {
        var p = ParsedPacket()
        let r = f.withUnsafeBytes { PacketParser.parse($0.baseAddress!, $0.count, &p) }
        return (r, p)
    }

    @Test func tcpSyn() {
        let (r, p) = parse(Self.syn)
        #expect(r == .ip)
        #expect(p.src == IPAddr("203.0.113.1")! && p.dst == IPAddr("192.0.2.100")!)
        #expect(p.sport == 40001 && p.dport == 80 && p.tcpFlags == 0x02 && p.df && p.ttl == 64)
        #expect(p.l4 == 34 && p.ipLen == 44)
    }

    /// Every truncation of a valid frame is dropped with a reason, never trapped on.
    @Test func everyTruncationIsDropped() {
        for n in 0..<Self.syn.count {
            let (r, _) = parse(Array(Self.syn.prefix(n)))
            guard case .drop(let reason) = r else {
                Issue.record("a \(n)-byte prefix was accepted")
                continue
            }
            #expect([.truncatedEthernet, .truncatedIPv4, .badIPv4Length, .truncatedTCP].contains(reason))
        }
    }

    @Test func malformedIPv4() {
        var f = Self.syn
        f[14] = 0x44          // IHL 4 (16 bytes)
        #expect(parse(f).0 == .drop(.badIPv4Header))
        f = Self.syn
        f[14] = 0x4F          // IHL 15 (60 bytes) beyond the total length
        #expect(parse(f).0 == .drop(.truncatedTCP) || parse(f).0 == .drop(.badIPv4Length))
        f = Self.syn
        f[17] = 200           // total length past the frame
        #expect(parse(f).0 == .drop(.badIPv4Length))
        f = Self.syn
        f[46] = 0x40          // TCP data offset 4 words
        #expect(parse(f).0 == .drop(.truncatedTCP))
        f = Self.syn
        f[22] = 63            // TTL changed, header checksum not: ip_rcv drops it
        #expect(parse(f).0 == .drop(.badIPv4Checksum))
    }

    @Test func ethernetPaddingIsNotPacket() {
        let (r, p) = parse(Self.syn + [0, 0, 0, 0, 0, 0])
        #expect(r == .ip && p.ipLen == 44)
    }

    @Test func vlanTag() {
        var f = Array(Self.syn.prefix(12)) + [0x81, 0x00, 0x00, 0x64]
        f += Self.syn.dropFirst(12)
        let (r, p) = parse(f)
        #expect(r == .ip && p.vlan == 100 && p.l3 == 18 && p.dport == 80)
    }

    @Test func notIP() {
        var f = Self.syn
        f[12] = 0x08; f[13] = 0x06
        #expect(parse(f).0 == .notIP(etherType: 0x0806))
    }

    /// IPv6 with hop-by-hop, destination options and a fragment header before UDP.
    @Test func ipv6ExtensionHeaders() {
        var f: [UInt8] = [2, 0, 0, 0, 0xD0, 1, 2, 0, 0, 0, 0xC1, 1, 0x86, 0xDD]
        let payload = 8 + 8 + 8 + 12
        f += [0x60, 0, 0, 0, 0, UInt8(payload), 0, 64]
        f += [0x20, 0x01, 0x0D, 0xB8, 0, 0x0C] + [UInt8](repeating: 0, count: 9) + [1]
        f += [0x20, 0x01, 0x0D, 0xB8, 0, 0x0A] + [UInt8](repeating: 0, count: 8) + [1, 0]
        f += [60, 0, 1, 4, 0, 0, 0, 0]          // hop-by-hop → dest opts
        f += [44, 0, 1, 4, 0, 0, 0, 0]          // dest opts → fragment
        f += [17, 0, 0, 1, 0, 0, 0, 7]          // fragment, offset 0, M=1 → UDP
        f += [0x13, 0x88, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4]
        let (r, p) = parse(f)
        #expect(r == .ip && p.isV6 && p.proto == 17 && p.ipHdrLen == 64 && p.sport == 5000 && p.dport == 53)
        #expect(p.fragment == .first)
        #expect(parse(Array(f.prefix(f.count - 10))).0 == .drop(.truncatedIPv6))
    }

    @Test func addresses() {
        #expect(IPAddr("10.0.0.1")!.fold == 0x0A00_0001)
        #expect(IPAddr("2001:db8::1")!.description == "2001:db8::1")
        #expect(IPAddr("192.0.2.1")!.description == "192.0.2.1")
        #expect(IPAddr("10.1.2.3")!.masked(prefix: 24) == IPAddr("10.1.2.0")!)
        #expect(IPAddr("2001:db8:1:2::5")!.masked(prefix: 48) == IPAddr("2001:db8:1::")!)
        #expect(IPAddr("300.1.1.1") == nil)
        #expect(MACAddr("02:00:c6:33:64:0b")!.description == "02:00:c6:33:64:0b")
    }
}
