import Testing
@testable import UVSLive
import UVSPacket

/// The frames uvsd crafts with libnet to own its VIPs and find its neighbours.
/// (libnet's advanced link mode needs a device and root; CI runs as root.)
struct LinkFramesTests {
    static let mac = MACAddr("02:00:00:00:aa:01")!
    static let asker = MACAddr("02:00:00:00:bb:02")!

    func hex(_ m: MACAddr) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: m.value >> UInt64(40 - 8 * $0)) } }

    @Test func arpReplyAndGratuitousARP() throws {
        let l = try LinkFrames(device: "lo", mac: Self.mac, vlan: -1)
        let vip = IPAddr("192.0.2.100")!, client = IPAddr("192.0.2.7")!
        let r = l.arpReply(vip: vip, to: Self.asker, askerIP: client)
        #expect(r.count == 42)
        #expect(Array(r[0..<6]) == hex(Self.asker) && Array(r[6..<12]) == hex(Self.mac))
        #expect(Array(r[12..<22]) == [0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2])  // ARP, Ethernet/IPv4, reply
        #expect(Array(r[22..<28]) == hex(Self.mac) && Array(r[28..<32]) == [192, 0, 2, 100])
        #expect(Array(r[32..<38]) == hex(Self.asker) && Array(r[38..<42]) == [192, 0, 2, 7])
        let g = l.gratuitousARP(vip: vip)
        #expect(Array(g[0..<6]) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(g[21] == 1 && Array(g[28..<32]) == Array(g[38..<42]), "a request with sender = target = VIP")
    }

    /// The takeover announcements byte for byte (spec failover §2.1, §2.2).
    @Test func keepalivedGARPAndPiranhaSendArp() throws {
        let l = try LinkFrames(device: "lo", mac: MACAddr("52:54:00:12:34:56")!, vlan: -1)
        let vip = IPAddr("192.168.200.16")!
        func bytes(_ s: String) -> [UInt8] { s.split(separator: " ").map { UInt8($0, radix: 16)! } }
        #expect(l.gratuitousARP(vip: vip, style: .keepalived) == bytes(
            "ff ff ff ff ff ff 52 54 00 12 34 56 08 06 00 01 08 00 06 04 00 01 52 54 00 12 34 56 c0 a8 c8 10 ff ff ff ff ff ff c0 a8 c8 10"))
        #expect(l.gratuitousARP(vip: vip, style: .sendArp) == bytes(
            "ff ff ff ff ff ff 52 54 00 12 34 56 08 06 00 01 08 00 06 04 00 02 52 54 00 12 34 56 c0 a8 c8 10 52 54 00 12 34 56 c0 a8 c8 10")
            + [UInt8](repeating: 0, count: 18))
    }

    @Test func taggedOnAVLAN() throws {
        let l = try LinkFrames(device: "lo", mac: Self.mac, vlan: 100)
        let q = l.arpRequest(target: IPAddr("10.0.0.9")!, sender: IPAddr("10.0.0.254")!)
        #expect(q.count == 46)
        #expect(Array(q[12..<18]) == [0x81, 0x00, 0x00, 100, 0x08, 0x06])
    }

    @Test func neighbourAdvertisementForAnIPv6VIP() throws {
        let l = try LinkFrames(device: "lo", mac: Self.mac, vlan: -1)
        let vip = IPAddr("2001:db8::100")!, client = IPAddr("2001:db8::7")!
        let f = l.neighbourAdvertisement(vip: vip, to: Self.asker, dstIP: client, solicited: true)
        #expect(f.count == 14 + 40 + 32)
        #expect(Array(f[12..<14]) == [0x86, 0xDD] && f[20] == 58 && f[21] == 255)   // ICMPv6, hop limit 255
        #expect(f[54] == 136 && f[58] == 0x60, "advertisement, solicited + override")
        var pkt = ParsedPacket()
        _ = f.withUnsafeBytes { PacketParser.parse($0.baseAddress!, $0.count, &pkt) }
        #expect(pkt.src == vip && pkt.dst == client)
        let sum = f.withUnsafeBytes {
            Checksum.compute($0.baseAddress! + 54, 32, Checksum.pseudo(src: vip, dst: client, proto: 58, length: 32))
        }
        #expect(sum == 0, "ICMPv6 checksum verifies")
        #expect(Array(f[78..<80]) == [2, 1] && Array(f[80..<86]) == hex(Self.mac), "target link-layer address option")
    }
}
