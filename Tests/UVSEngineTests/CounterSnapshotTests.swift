import Testing
import UVSControl
@testable import UVSEngine
import UVSPacket

/// Several workers' engines add up to one listing (the live director's `-L --stats`).
struct CounterSnapshotTests {
    static let rules = """
        -A -t 192.0.2.100:80 -s rr
        -a -t 192.0.2.100:80 -r 198.51.100.1:80 -g -w 1
        -a -t 192.0.2.100:80 -r 198.51.100.2:80 -g -w 1
        """

    @Test func workersSumIntoOneListing() throws {
        // Worker A sees 3 connections, worker B 2 (one finished): the listing shows 5. Each
        // worker's rr starts at the head of the list (.2 is newest).
        let a = try Lab(Self.rules), b = try Lab(Self.rules)
        for i in 1...3 { a.send(Frames.tcp("203.0.113.\(i)", 40000, "192.0.2.100", 80, flags: 0x02)) }
        b.send(Frames.tcp("203.0.113.9", 40000, "192.0.2.100", 80, flags: 0x02))
        b.send(Frames.tcp("203.0.113.10", 40000, "192.0.2.100", 80, flags: 0x02))
        b.send(Frames.tcp("203.0.113.10", 40000, "192.0.2.100", 80, flags: 0x11))  // FIN: TIME_WAIT
        var view = Engine(topology: a.engine.topology, initialConnections: 16)
        try Rules.load(Self.rules, file: "rules", into: &view)
        view.showCounters(of: [a.engine.counterSnapshot(), b.engine.counterSnapshot()])
        var o = ListOptions()
        o.numeric = true
        #expect(Listing.list(view, o) == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  192.0.2.100:80 rr
              -> 198.51.100.1:80              Route   1      1          1         
              -> 198.51.100.2:80              Route   1      3          0         

            """)
        o.format = .stats
        let stats = Listing.list(view, o)
        #expect(stats.contains("TCP  192.0.2.100:80                      5        6        0      240        0"), "\(stats)")
    }
}
