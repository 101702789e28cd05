import Testing
import UVSControl
@testable import UVSEngine
import UVSPacket

/// Scheduler decisions driven through the engine, checked against the spec's rules (§2).
struct SchedulerTests {
    static let vip = "192.0.2.100"

    func picks(_ lab: Lab, _ n: Int, base: Int = 1) -> [Int] {
        (0..<n).map { i in
            let (_, out) = lab.send(Frames.tcp("203.0.113.\(base + i)", 40000, Self.vip, 80, flags: 0x02))
            return out.first.map(Lab.server) ?? -1
        }
    }

    /// Spec §2.2: list order A(w4), B(w3), C(w2) cycles A A B A B C A B C. Built the ipvsadm
    /// way (service first, then servers one by one), the add hooks leave cw = 1 from the
    /// first add, so one pass over everyone comes first (as the kernel oracle shows for its
    /// wrr example).
    @Test func wrrWorkedExample() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s wrr
            -a -t 192.0.2.100:80 -r 198.51.100.13 -w 2
            -a -t 192.0.2.100:80 -r 198.51.100.12 -w 3
            -a -t 192.0.2.100:80 -r 198.51.100.11 -w 4
            """)
        let cycle = [11, 11, 12, 11, 12, 13, 11, 12, 13]
        #expect(picks(lab, 18) == [11, 12, 13] + cycle + cycle.prefix(6))
    }

    /// Spec §2.1: the first pick is the newest server; deleting the server under the cursor
    /// continues with the one that followed it.
    @Test func rrCursorAcrossDelete() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11
            -a -t 192.0.2.100:80 -r 198.51.100.12
            -a -t 192.0.2.100:80 -r 198.51.100.13
            """)
        #expect(picks(lab, 2) == [13, 12])
        try lab.engine.deleteDestination(ServiceKey(proto: 6, addr: IPAddr(Self.vip)!, port: 80),
                                         addr: IPAddr("198.51.100.12")!, port: 80)
        #expect(picks(lab, 4, base: 10) == [11, 13, 11, 13])
    }

    /// Spec §2.0/§2.4: weight 0 is never chosen; wlc ties keep the earlier (newer) server.
    @Test func wlcTiesAndQuiesce() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80
            -a -t 192.0.2.100:80 -r 198.51.100.11 -w 1
            -a -t 192.0.2.100:80 -r 198.51.100.12 -w 0
            -a -t 192.0.2.100:80 -r 198.51.100.13 -w 1
            """)
        // Loads: .13 0/1 and .11 0/1 tie → .13 (first in list order); then .11 (1*1 > 0*1)...
        #expect(picks(lab, 4) == [13, 11, 13, 11])
    }

    /// lc compares active*256 + inactive: a finished connection weighs 1, an active one 256.
    @Test func lcOverhead() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s lc
            -a -t 192.0.2.100:80 -r 198.51.100.11
            -a -t 192.0.2.100:80 -r 198.51.100.12
            """)
        #expect(picks(lab, 2) == [12, 11])
        lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x10))   // .12's → ESTABLISHED
        lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x04))   // → CLOSE (inactive)
        // .12: 0*256+1 = 1 < .11: 256 → .12, then .12 again (257 vs 256 → .11)
        #expect(picks(lab, 2, base: 50) == [12, 11])
    }

    /// Spec §1.3: reaching the upper threshold sets OVERLOAD; freeing below 3/4 clears it.
    @Test func upperThreshold() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11 -x 2
            -a -t 192.0.2.100:80 -r 198.51.100.12
            """)
        #expect(picks(lab, 6) == [12, 11, 12, 11, 12, 12])
        // Reset both of .11's connections: CLOSE lasts 10 s; after that they are freed.
        for c in ["203.0.113.2", "203.0.113.4"] {
            lab.send(Frames.tcp(c, 40000, Self.vip, 80, flags: 0x10))
            lab.send(Frames.tcp(c, 40000, Self.vip, 80, flags: 0x04))
        }
        #expect(picks(lab, 1, base: 60) == [12])
        lab.wait(Time.seconds(11))
        #expect(picks(lab, 2, base: 70) == [11, 12])
    }

    @Test func unknownSchedulerIsRefused() throws {
        let lab = try Lab("")
        #expect(throws: IPVSError.schedulerNotFound) {
            try lab.engine.addService(ServiceSpec(key: ServiceKey(proto: 6, addr: IPAddr(Self.vip)!, port: 80), scheduler: "RR"))
        }
    }
}
