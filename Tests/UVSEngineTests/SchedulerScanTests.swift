import Testing
@testable import UVSEngine
import UVSPacket

/// The least-connection family's fast scans (derived fields, two running minima, no flag
/// tests) against literal transcriptions of the kernel's loops (spec §2.3–2.6,
/// ip_vs_{lc,wlc,sed,nq}_schedule), on random lists with ties, weight 0 and OVERLOAD; and
/// the scheduler cells' copy-on-write between engine values.
struct SchedulerScanTests {
    /// One destination as the kernel's loops see it.
    struct Dest { var weight: Int32; var active: Int32; var inactive: Int32; var overloaded: Bool }

    static func lcOverhead(_ d: Dest) -> Int64 { Int64(d.active) * 256 + Int64(d.inactive) }

    static func kernelLC(_ l: [Dest]) -> Int? {
        var least: Int?, loh: Int64 = 0
        for (i, d) in l.enumerated() {
            if d.overloaded || d.weight == 0 { continue }
            let doh = lcOverhead(d)
            if least == nil || doh < loh { least = i; loh = doh }
        }
        return least
    }

    /// wlc and sed: the first eligible, then every non-overloaded one compared by cross products.
    static func kernelRatio(_ l: [Dest], _ overhead: (Dest) -> Int64) -> Int? {
        guard let first = l.firstIndex(where: { !$0.overloaded && $0.weight > 0 }) else { return nil }
        var least = first, loh = overhead(l[first])
        for i in (first + 1)..<max(first + 1, l.count) {
            let d = l[i]
            if d.overloaded { continue }
            let doh = overhead(d)
            if loh * Int64(d.weight) > doh * Int64(l[least].weight) { least = i; loh = doh }
        }
        return least
    }

    static func kernelNQ(_ l: [Dest]) -> Int? {
        var least: Int?, loh: Int64 = 0
        for (i, d) in l.enumerated() {
            if d.overloaded || d.weight == 0 { continue }
            let doh = Int64(d.active) + 1
            if d.active == 0 { return i }
            if least == nil || loh * Int64(d.weight) > doh * Int64(l[least!].weight) { least = i; loh = doh }
        }
        return least
    }

    /// Deterministic xorshift (the test's own; small values make ties common).
    struct Rand { var s: UInt64; mutating func next(_ n: UInt64) -> Int32 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return Int32(s % n) } }

    @Test func leastConnectionScansMatchTheKernelLoops() {
        var r = Rand(s: 0x2545_F491_4F6C_DD1D)
        let setup = SchedulerSetup(serviceFlags: 0, sysctls: Sysctls())
        var checked = 0
        for round in 0..<4000 {
            let n = Int(r.next(40))
            var dests: [Dest] = []
            var store = ContiguousArray<RealServer>()
            for i in 0..<n {
                let d = Dest(weight: r.next(4) == 0 ? 0 : r.next(5) + 1, active: r.next(round % 2 == 0 ? 3 : 40),
                             inactive: r.next(round % 3 == 0 ? 2 : 300), overloaded: r.next(6) == 0)
                dests.append(d)
                // Built the way the engine changes them (the observers keep the derived fields).
                var rs = RealServer(addr: IPAddr(v4: UInt32(i)), port: 80, method: .directRoute, weight: 9, service: 0)
                rs.activeConns = 7; rs.inactiveConns = 3; rs.overloaded = true
                rs.weight = d.weight; rs.activeConns = d.active; rs.inactiveConns = d.inactive; rs.overloaded = d.overloaded
                store.append(rs)
            }
            // The list order is a shuffle of the store, as after deletes and re-adds.
            var order = (0..<Int32(n)).map { $0 }
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(r.next(UInt64(i + 1)))) }
            let listed = order.map { dests[Int($0)] }
            DestinationList.with(order: order, store: store) { list in
                var lc = LeastConnection(setup: setup, destinations: list)
                var wlc = WeightedLeastConnection(setup: setup, destinations: list)
                var sed = ShortestExpectedDelay(setup: setup, destinations: list)
                var nq = NeverQueue(setup: setup, destinations: list)
                let req = SchedulingRequest(proto: 6, src: IPAddr(v4: 1), dst: IPAddr(v4: 2), sport: 1, dport: 80)
                #expect(lc.select(req, list) == Self.kernelLC(listed), "lc \(listed)")
                #expect(wlc.select(req, list) == Self.kernelRatio(listed, Self.lcOverhead), "wlc \(listed)")
                #expect(sed.select(req, list) == Self.kernelRatio(listed) { Int64($0.active) + 1 }, "sed \(listed)")
                #expect(nq.select(req, list) == Self.kernelNQ(listed), "nq \(listed)")
            }
            checked += 1
        }
        #expect(checked == 4000)
    }

    /// A copied engine decides on its own scheduler state: rr's cursor moves in one copy only.
    @Test func copiedEnginesKeepTheirOwnSchedulerState() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11 -g
            -a -t 192.0.2.100:80 -r 198.51.100.12 -g
            -a -t 192.0.2.100:80 -r 198.51.100.13 -g
            """)
        var a = lab.engine
        var b = a
        let pick = { (e: inout Engine) -> Int? in e.selectDestination(0, proto: 6, src: IPAddr(v4: 1), dst: IPAddr(v4: 2), sport: 1, dport: 80) }
        #expect(pick(&a) == 0 && pick(&a) == 1)
        #expect(pick(&b) == 0)      // b's cursor did not move with a's
        #expect(pick(&a) == 2 && pick(&b) == 1)
    }
}
