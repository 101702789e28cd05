import Testing
import UVSControl
@testable import UVSEngine
import UVSPacket

/// The spec's §10 test vectors, the Maglev paper's worked example, and twos statistics.
struct SchedulerVectorTests {
    @Test func hashVectors() {
        #expect(SourceHashing.bucket(IPAddr("192.168.0.100")!, port: 0) == 144)
        #expect(SourceHashing.bucket(IPAddr("10.0.0.1")!, port: 0) == 39)
        #expect(SourceHashing.bucket(IPAddr("10.0.0.1")!, port: 12345) == 134)
        #expect(DestinationHashing.bucket(IPAddr("192.168.0.100")!) == 144)
        #expect(LocalityBasedLeastConnection.bucket(IPAddr("10.1.2.3")!) == 10)
        #expect(LocalityBasedLeastConnection.bucket(IPAddr("192.168.0.1")!) == 769)
    }

    /// SipHash round function against the published SipHash-2-4 vectors.
    @Test func sipHashReference() {
        let key = (UInt64(0x0706_0504_0302_0100), UInt64(0x0F0E_0D0C_0B0A_0908))
        #expect(HalfSipHash.sipHash24([], key: key) == 0x726F_DB47_DD0E_0E31)
        #expect(HalfSipHash.sipHash24(Array(0..<15), key: key) == 0xA129_CA61_49BE_45E5)
    }

    func engine(_ rules: String) throws -> Engine { try Lab(rules).engine }

    /// §10: sh table for list order C(w1), B(w2), A(w1).
    @Test func shTable() throws {
        let e = try engine("""
            -A -t 10.0.0.1:80 -s sh
            -a -t 10.0.0.1:80 -r 192.168.1.10 -w 1
            -a -t 10.0.0.1:80 -r 192.168.1.11 -w 2
            -a -t 10.0.0.1:80 -r 192.168.1.12 -w 1
            """)
        let order = e.services[0].destinations
        let sh = DestinationList.with(order: order, store: e.dests) { SourceHashing(setup: SchedulerSetup(serviceFlags: 0, sysctls: Sysctls()), destinations: $0) }
        // positions: 0 = C(.12), 1 = B(.11), 2 = A(.10)
        let buckets = (0..<256).map { sh.buckets[$0] }
        #expect(Array(buckets.prefix(10)) == [0, 1, 1, 2, 0, 1, 1, 2, 0, 1])
        #expect(buckets.filter { $0 == 1 }.count == 128 && buckets.filter { $0 == 0 }.count == 64)
        #expect(buckets[144] == 0 && buckets[39] == 2)
    }

    /// §10: mh offsets/skips, slot counts and owners, and a lookup.
    @Test func mhVectors() throws {
        let m = 4093
        #expect(MaglevHashing.permutation(IPAddr("192.168.1.11")!, port: 80, size: m) == (2340, 414))
        #expect(MaglevHashing.permutation(IPAddr("192.168.1.12")!, port: 80, size: m) == (3773, 149))
        #expect(MaglevHashing.permutation(IPAddr("192.168.1.13")!, port: 80, size: m) == (1731, 3635))
        let e = try engine("""
            -A -t 10.0.0.1:80 -s mh
            -a -t 10.0.0.1:80 -r 192.168.1.11:80
            -a -t 10.0.0.1:80 -r 192.168.1.12:80
            -a -t 10.0.0.1:80 -r 192.168.1.13:80
            """)
        let mh = DestinationList.with(order: e.services[0].destinations, store: e.dests) { MaglevHashing(tableIndex: 12, destinations: $0) }
        // positions: 0 = .13, 1 = .12, 2 = .11
        #expect(mh.lookup.filter { $0 == 0 }.count == 1365)
        #expect(mh.lookup.filter { $0 == 1 }.count == 1364 && mh.lookup.filter { $0 == 2 }.count == 1364)
        #expect(Array(mh.lookup.prefix(8)) == [1, 0, 0, 0, 2, 1, 2, 1])
        #expect(mh.slot(IPAddr("10.0.0.1")!, port: 0) == 3711 && mh.lookup[3711] == 1)
    }

    @Test func maglevSlotIsTheHashModuloTheTableSize() {
        // The lookup's multiply-shift modulo against the plain `%`, for every table size.
        var rng = SplitMix64(seed: 7)
        for index in 8...17 {
            let mh = DestinationList.with(order: [], store: []) { MaglevHashing(tableIndex: index, destinations: $0) }
            for k in 0..<20_000 {
                let addr = k < 2 ? IPAddr(v4: k == 0 ? 0 : .max) : IPAddr(v4: UInt32(truncatingIfNeeded: rng.next()))
                let port = UInt16(truncatingIfNeeded: rng.next())
                let offset = Int(rng.next() % 200_000)
                let h = HalfSipHash.hash(UInt32(truncatingIfNeeded: offset) &+ UInt32(port) &+ addr.fold, key: MaglevHashing.key1)
                #expect(mh.slot(addr, port: port, offset: offset) == Int(h) % mh.size)
            }
        }
    }

    /// The Maglev paper (NSDI'16) Table 1: M = 7; B0 (3, 4), B1 (0, 2), B2 (3, 1).
    @Test func maglevPaperExample() {
        let t = MaglevHashing.populate(offsets: [3, 0, 3], skips: [4, 2, 1], turns: [1, 1, 1], size: 7)
        #expect(t == [1, 0, 1, 0, 2, 2, 0])
    }

    /// twos (no oracle: Linux 6.2+): the rule of §2.9 on a seeded source, and its
    /// distribution: with equal loads a server is picked in proportion to its weight.
    @Test func twosRuleAndDistribution() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s twos
            -a -t 192.0.2.100:80 -r 198.51.100.11 -w 1
            -a -t 192.0.2.100:80 -r 198.51.100.12 -w 3
            -a -t 192.0.2.100:80 -r 198.51.100.13 -w 0
            """)
        // Direct rule check: list .13(w0) .12(w3) .11(w1); T = 4; r = 0 → first eligible (.12);
        // r = 4 → .11. Loads equal → the first pick wins.
        let e = lab.engine
        let order = e.services[0].destinations
        DestinationList.with(order: order, store: e.dests) { list in
            var s = PowerOfTwoChoices(setup: SchedulerSetup(serviceFlags: 0, sysctls: Sysctls()), destinations: list)
            var req = SchedulingRequest(proto: 6, src: IPAddr("1.1.1.1")!, dst: IPAddr("192.0.2.100")!, sport: 1, dport: 80)
            req.random = (0, 4)
            #expect(s.select(req, list) == 1)
            req.random = (4, 0)
            #expect(s.select(req, list) == 2)
            req.random = (3, 9)          // 3 → .12 (3 − 3 = 0), 9 mod 5 = 4 → .11
            #expect(s.select(req, list) == 1)
        }
        // Distribution over many connections that finish at once (loads stay equal).
        var counts = [Int: Int]()
        for i in 0..<4000 {
            let c = "10.\(i / 250).\(i % 250).1"
            let (_, out) = lab.send(Frames.tcp(c, 40000, "192.0.2.100", 80, flags: 0x02))
            counts[Lab.server(out[0]), default: 0] += 1
            lab.send(Frames.tcp(c, 40000, "192.0.2.100", 80, flags: 0x10))
            lab.send(Frames.tcp(c, 40000, "192.0.2.100", 80, flags: 0x04))
        }
        #expect(counts[13] == nil)
        let share12 = Double(counts[12] ?? 0) / 4000
        // Power of two with loads kept near equal: .12 (3/4 of the weight) gets well over half.
        #expect(share12 > 0.6 && share12 < 0.95)
    }
}
