import CUVSNet
import Testing
@testable import UVSLive
import UVSPacket

/// The classic-BPF programs uvsd hands the kernel, run here by a small interpreter with the
/// kernel's ancillary loads (VLAN metadata, offsets from the network header).
struct PacketFilterTests {
    static let vip = IPAddr("10.10.1.100")!
    static let rs = IPAddr("10.10.2.11")!
    static let dip = IPAddr("10.10.2.254")!

    /// Runs a program on an untagged Ethernet frame; `vlan` is the tag the NIC stripped.
    static func run(_ prog: [sock_filter], _ frame: [UInt8], vlan: Int32 = -1) -> UInt32 {
        var a: UInt32 = 0, x: UInt32 = 0, mem = [UInt32](repeating: 0, count: 16)
        var pc = 0
        func load(_ k: UInt32, _ size: Int) -> UInt32? {
            if k >= 0xFFFF_F000 {
                switch k &- 0xFFFF_F000 {
                case 44: return vlan >= 0 ? UInt32(vlan) : 0
                case 48: return vlan >= 0 ? 1 : 0
                default: return nil
                }
            }
            let off = k >= 0xFFF0_0000 ? 14 + Int(k &- 0xFFF0_0000) : Int(k)
            guard off >= 0, off + size <= frame.count else { return nil }
            return frame[off..<(off + size)].reduce(0) { $0 << 8 | UInt32($1) }
        }
        while pc < prog.count {
            let i = prog[pc]
            pc += 1
            switch i.code {
            case 0x20, 0x28, 0x30:
                guard let v = load(i.k, i.code == 0x20 ? 4 : (i.code == 0x28 ? 2 : 1)) else { return 0 }
                a = v
            case 0x40, 0x48, 0x50:
                guard let v = load(x &+ i.k, i.code == 0x40 ? 4 : (i.code == 0x48 ? 2 : 1)) else { return 0 }
                a = v
            case 0xB1:
                guard let v = load(i.k, 1) else { return 0 }
                x = (v & 0xF) * 4
            case 0x00: a = i.k
            case 0x01: x = i.k
            case 0x07: x = a
            case 0x87: a = x
            case 0x02: mem[Int(i.k)] = a
            case 0x03: mem[Int(i.k)] = x
            case 0x60: a = mem[Int(i.k)]
            case 0x61: x = mem[Int(i.k)]
            case 0x04: a = a &+ i.k
            case 0x14: a = a &- i.k
            case 0x24: a = a &* i.k
            case 0x44: a |= i.k
            case 0x54: a &= i.k
            case 0x64: a = a << i.k
            case 0x74: a = a >> i.k
            case 0x0C: a = a &+ x
            case 0x05: pc += Int(i.k)
            case 0x15, 0x25, 0x35, 0x45, 0x1D, 0x2D, 0x3D, 0x4D:
                let k = i.code & 0x08 != 0 ? x : i.k
                let t: Bool
                switch i.code & 0xF0 {
                case 0x10: t = a == k
                case 0x20: t = a > k
                case 0x30: t = a >= k
                default: t = a & k != 0
                }
                pc += Int(t ? i.jt : i.jf)
            case 0x06: return i.k
            case 0x16: return a
            default:
                Issue.record("unsupported BPF opcode \(i.code)")
                return 0
            }
        }
        return 0
    }

    static func frame(_ src: IPAddr, _ dst: IPAddr, sport: UInt16 = 40000, dport: UInt16 = 80) -> [UInt8] {
        var f: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]
        for a in [src.v4, dst.v4] { f += [UInt8(a >> 24), UInt8((a >> 16) & 0xFF), UInt8((a >> 8) & 0xFF), UInt8(a & 0xFF)] }
        f += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)] + [UInt8](repeating: 0, count: 16)
        return f
    }

    static func frame6(_ src: IPAddr, _ dst: IPAddr) -> [UInt8] {
        var f: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xDD, 0x60, 0, 0, 0, 0, 20, 6, 64]
        for a in [src, dst] {
            for v in [a.hi, a.lo] { f += (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
        }
        return f + [0x9C, 0x40, 0, 80] + [UInt8](repeating: 0, count: 16)
    }

    static func arp(target: IPAddr) -> [UInt8] {
        var f: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, 0, 2, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]
        f += [2, 0, 0, 0, 0, 2, 10, 10, 1, 1, 0, 0, 0, 0, 0, 0]
        let t = target.v4
        return f + [UInt8(t >> 24), UInt8((t >> 16) & 0xFF), UInt8((t >> 8) & 0xFF), UInt8(t & 0xFF)]
    }

    var nat: TrafficSelection {
        var s = TrafficSelection()
        s.vips = [Self.vip]
        s.natServers = [Self.rs]
        s.ownAddresses = [Self.dip]
        return s
    }

    @Test func prefixesCoverExactlyTheVIPs() {
        let a = (0..<256).map { IPAddr(v4: 0x0A00_0000 | UInt32($0)) }
        #expect(TrafficSelection.aggregate(a).map { "\($0.0)/\($0.1)" } == ["10.0.0.0/24"])
        #expect(TrafficSelection.aggregate([IPAddr("10.0.0.2")!, IPAddr("10.0.0.3")!]).map { "\($0.0)/\($0.1)" } == ["10.0.0.2/31"])
        #expect(TrafficSelection.aggregate([IPAddr("10.0.0.1")!, IPAddr("10.0.0.2")!]).map { "\($0.0)/\($0.1)" }
                == ["10.0.0.1/32", "10.0.0.2/32"])
        // 16,000 consecutive VIPs: a handful of prefixes, a short program.
        let many = (0..<16000).map { IPAddr(v4: 0x0A64_0000 + UInt32($0)) }
        var s = TrafficSelection()
        s.vips = many
        #expect(TrafficSelection.aggregate(many).count <= 8)
        #expect(((try? s.socketFilter())?.count ?? 9999) < 100)
    }

    @Test func socketFilterTakesServiceTrafficARPAndNATReplies() throws {
        let f = try nat.socketFilter()
        let client = IPAddr("10.10.1.7")!
        #expect(Self.run(f, Self.frame(client, Self.vip)) != 0)
        #expect(Self.run(f, Self.arp(target: Self.vip)) != 0)
        #expect(Self.run(f, Self.frame(Self.rs, client, sport: 80, dport: 40000)) != 0, "NAT reply")
        #expect(Self.run(f, Self.frame(Self.rs, Self.dip, dport: 22)) == 0, "a real server talking to the director itself")
        #expect(Self.run(f, Self.frame(client, IPAddr("10.10.1.254")!)) == 0)
    }

    @Test func ingressGuardDropsExactlyWhatUvsdTakes() throws {
        let client = IPAddr("10.10.1.7")!
        let g = try nat.ingressDropProgram(vlan: -1)
        #expect(Self.run(g, Self.frame(client, Self.vip)) == 2, "TC_ACT_SHOT")
        #expect(Self.run(g, Self.frame(Self.rs, client, sport: 80)) == 2)
        #expect(Self.run(g, Self.arp(target: Self.vip)) == 0, "ARP stays with the host")
        #expect(Self.run(g, Self.frame(client, IPAddr("10.10.1.254")!)) == 0)
        #expect(Self.run(g, Self.frame(client, Self.vip), vlan: 100) == 0, "another VLAN's frame")
        let v = try nat.ingressDropProgram(vlan: 100)
        #expect(Self.run(v, Self.frame(client, Self.vip), vlan: 100) == 2)
        #expect(Self.run(v, Self.frame(client, Self.vip), vlan: 200) == 0)
        #expect(Self.run(v, Self.frame(client, Self.vip)) == 0)
    }

    @Test func fanoutKeepsBothDirectionsOfAConnectionTogether() {
        let prog = nat.fanoutProgram()
        var workers = Set<UInt32>()
        for i in 1...200 {
            let client = IPAddr(v4: 0xC633_6400 + UInt32(i))  // 198.51.100.i
            let request = Self.run(prog, Self.frame(client, Self.vip))
            let reply = Self.run(prog, Self.frame(Self.rs, client, sport: 80, dport: 40000))
            #expect(request == reply, "client \(client)")
            workers.insert(request % 2)
        }
        #expect(workers == [0, 1], "clients spread over two workers")
    }

    @Test func syncedConnectionsGoToTheWorkerOfTheirClient() {
        // A backup hands each received entry to the worker the fanout program picks for the
        // client: the Swift hash must be the program's, for every worker count.
        var s = nat
        s.vips.append(IPAddr("2001:db8::100")!)
        for (p4, p6) in [(32, 128), (24, 64), (16, 48)] {
            s.persistPrefix4 = p4
            s.persistPrefix6 = p6
            let prog = s.fanoutProgram()
            for i in 1...100 {
                let c4 = IPAddr(v4: 0xC633_6400 &+ UInt32(i) &* 7919)
                let c6 = IPAddr(hi: 0x2001_0DB8_0000_0000 | UInt64(i) << 20, lo: UInt64(i) &* 0x9E37_79B9)
                let h4 = Self.run(prog, Self.frame(c4, Self.vip))
                let h6 = Self.run(prog, Self.frame6(c6, IPAddr("2001:db8::100")!))
                for n in 1...4 {
                    #expect(s.worker(forClient: c4, of: n) == Int(h4 % UInt32(n)))
                    #expect(s.worker(forClient: c6, of: n) == Int(h6 % UInt32(n)))
                }
            }
        }
    }

    @Test func fanoutKeepsAPersistenceNetworkTogether() {
        var s = nat
        s.persistPrefix4 = 24
        let prog = s.fanoutProgram()
        for net in 0..<50 {
            let base = 0x0A00_0000 + UInt32(net) << 8
            let values = Set((1...20).map { Self.run(prog, Self.frame(IPAddr(v4: base + UInt32($0)), Self.vip)) })
            #expect(values.count == 1)
        }
    }
}
