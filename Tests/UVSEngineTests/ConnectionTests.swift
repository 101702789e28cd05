import Testing
import UVSControl
@testable import UVSEngine
import UVSPacket

struct ConnectionTests {
    static let vip = "192.0.2.100"
    static let key = ServiceKey(proto: 6, addr: IPAddr("192.0.2.100")!, port: 80)

    func syn(_ c: String, _ port: UInt16 = 40000) -> [UInt8] { Frames.tcp(c, port, Self.vip, 80, flags: 0x02) }

    /// Spec §4.1 typical life cycles, by table lookups.
    @Test func tcpTables() {
        typealias M = TCPStateMachine
        let syn: UInt8 = 0x02, ack: UInt8 = 0x10, fin: UInt8 = 0x11, rst: UInt8 = 0x04, synack: UInt8 = 0x12
        // NAT: client SYN → SYN_RECV, server SYN+ACK stays SYN_RECV, client ACK → ESTABLISHED.
        var s = M.next(.none, direction: .input, flags: syn, secure: false)
        #expect(s == .synRecv)
        s = M.next(s, direction: .output, flags: synack, secure: false)
        #expect(s == .synRecv)
        s = M.next(s, direction: .input, flags: ack, secure: false)
        #expect(s == .established)
        #expect(M.next(s, direction: .input, flags: fin, secure: false) == .closeWait)
        #expect(M.next(s, direction: .output, flags: fin, secure: false) == .finWait)
        // DR/TUN: client FIN → FIN_WAIT; further ACKs stay FIN_WAIT.
        s = M.next(.established, direction: .inputOnly, flags: fin, secure: false)
        #expect(s == .finWait)
        #expect(M.next(s, direction: .inputOnly, flags: ack, secure: false) == .finWait)
        #expect(M.next(.established, direction: .inputOnly, flags: rst, secure: false) == .close)
        #expect(M.next(.established, direction: .inputOnly, flags: 0, secure: false) == .close)
        // secure_tcp: DR's first SYN → SYNACK; NAT client ACKs keep SYN_RECV.
        #expect(M.next(.none, direction: .inputOnly, flags: syn, secure: true) == .synAck)
        #expect(M.next(.synRecv, direction: .input, flags: ack, secure: true) == .synRecv)
        #expect(M.next(.synAck, direction: .output, flags: ack, secure: true) == .established)
    }

    /// Spec §3.4/§3.5: a template that still controls a connection when it expires is
    /// re-armed for 60 s, and from then on every refresh uses 60 s, not the service timeout.
    @Test func templateRecheckEvery60s() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr -p 10 -M 255.255.255.0
            -a -t 192.0.2.100:80 -r 198.51.100.11
            -a -t 192.0.2.100:80 -r 198.51.100.12
            """)
        let (_, o1) = lab.send(syn("10.0.0.1"))
        #expect(Lab.server(o1[0]) == 12)
        func templateExpiry() -> String? {
            lab.listing { $0.connections = true }.split(separator: "\n").first { $0.contains("10.0.0.0:0") }
                .map { String($0.dropFirst(4).prefix(5)) }
        }
        lab.wait(Time.millisecond)
        #expect(templateExpiry() == "00:09")
        lab.wait(Time.seconds(11) - Time.millisecond)
        #expect(templateExpiry() == "00:59")
        let (_, o2) = lab.send(syn("10.0.0.2"), after: Time.seconds(1))   // same /24 → same server
        #expect(Lab.server(o2[0]) == 12)
        lab.wait(Time.millisecond)
        #expect(templateExpiry() == "00:59")
        let (_, o3) = lab.send(syn("10.0.1.2"))                            // another /24 → rr
        #expect(Lab.server(o3[0]) == 11)
    }

    /// Spec §3.7: a SYN on a CLOSE connection is scheduled afresh (conn_reuse_mode 1).
    @Test func portReuse() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11
            -a -t 192.0.2.100:80 -r 198.51.100.12
            """)
        #expect(Lab.server(lab.send(syn("203.0.113.9")).1[0]) == 12)
        // ACK → ESTABLISHED, RST → CLOSE (a RST on SYN_RECV would keep SYN_RECV).
        lab.send(Frames.tcp("203.0.113.9", 40000, Self.vip, 80, flags: 0x10))
        lab.send(Frames.tcp("203.0.113.9", 40000, Self.vip, 80, flags: 0x04))
        #expect(Lab.server(lab.send(syn("203.0.113.9")).1[0]) == 11)
        lab.wait(Time.millisecond)
        let conns = lab.listing { $0.connections = true }.split(separator: "\n").dropFirst(2)
        #expect(conns.count == 1 && conns[conns.startIndex].hasSuffix("198.51.100.11:80"))
        #expect(lab.listing { $0.format = .stats }.contains("TCP  192.0.2.100:80                      2        4"))
    }

    /// Spec §3.7: packets of a connection whose server was deleted are dropped, unless
    /// expire_nodest_conn expires the connection.
    @Test func deletedDestination() throws {
        for nodest in [false, true] {
            let lab = try Lab("""
                -A -t 192.0.2.100:80 -s rr
                -a -t 192.0.2.100:80 -r 198.51.100.11
                """, sysctls: nodest ? ["expire_nodest_conn=1"] : [])
            lab.send(syn("203.0.113.5"))
            try lab.engine.deleteDestination(Self.key, addr: IPAddr("198.51.100.11")!, port: 80)
            let (v, out) = lab.send(Frames.tcp("203.0.113.5", 40000, Self.vip, 80, flags: 0x10))
            #expect(v == (nodest ? .passed : .dropped(.destinationUnavailable)))
            if nodest {
                // The entry is gone: the VIP's own stack resets the stray ACK.
                #expect(out.count == 1 && out[0].side == .client && out[0].bytes[47] == 0x04)
            } else {
                #expect(out.isEmpty)
            }
        }
    }

    /// Weight 0 quiesces: the existing connection keeps flowing, new ones go elsewhere.
    @Test func quiescedServerKeepsConnections() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11
            -a -t 192.0.2.100:80 -r 198.51.100.12
            """)
        #expect(Lab.server(lab.send(syn("203.0.113.1")).1[0]) == 12)
        try Rules.apply(try CommandParser.parse(CommandParser.words("-e -t 192.0.2.100:80 -r 198.51.100.12 -w 0")), to: &lab.engine)
        #expect(Lab.server(lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x10)).1[0]) == 12)
        #expect((2...5).map { Lab.server(lab.send(syn("203.0.113.\($0)")).1[0]) } == [11, 11, 11, 11])
    }

    @Test func tableFullIsCountedNotFatal() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11
            """, limit: 16)
        for i in 0..<16 { #expect(lab.send(syn("203.0.113.\(i + 1)")).0 == .sent) }
        #expect(lab.send(syn("203.0.113.200")).0 == .dropped(.connectionTableFull))
        #expect(lab.engine.dropCount(.connectionTableFull) == 1)
        #expect(lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x10)).0 == .sent)
    }

    /// Spec §3.8 + §0.4: no destination → port unreachable, rate limited per client
    /// (burst 6, then one a second).
    @Test func noDestinationICMPRateLimit() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s wlc
            -a -t 192.0.2.100:80 -r 198.51.100.11 -w 0
            """)
        var icmps = 0
        for i in 0..<8 {
            let (v, out) = lab.send(syn("203.0.113.1", UInt16(41000 + i)))
            #expect(v == .dropped(.noDestination))
            icmps += out.count
            if let f = out.first {
                #expect(f.side == .client && f.bytes[23] == 1 && f.bytes[34] == 3 && f.bytes[35] == 3)
            }
        }
        #expect(icmps == 6)
        #expect(lab.send(syn("203.0.113.1", 42000), after: Time.seconds(1)).1.count == 1)
        #expect(lab.send(syn("203.0.113.2", 42000)).1.count == 1)
    }

    /// Spec §3.9: one-packet scheduling schedules every UDP datagram and keeps nothing.
    @Test func onePacketScheduling() throws {
        let lab = try Lab("""
            -A -u 192.0.2.100:53 -s rr -o
            -a -u 192.0.2.100:53 -r 198.51.100.11
            -a -u 192.0.2.100:53 -r 198.51.100.12
            """)
        let servers = (0..<4).map { _ in Lab.server(lab.send(Frames.udp("203.0.113.1", 5000, Self.vip, 53)).1[0]) }
        #expect(servers == [12, 11, 12, 11])
        #expect(lab.listing { $0.connections = true }.split(separator: "\n").count == 2)
        #expect(lab.engine.conns.count == 0)
    }

    /// Spec §5.8: a UDP datagram without checksum gets a full one when NAT-ed.
    @Test func natUDPZeroChecksum() throws {
        let lab = try Lab("""
            -A -u 192.0.2.100:53 -s rr
            -a -u 192.0.2.100:53 -r 198.51.100.11:5353 -m
            """)
        var f = Frames.udp("203.0.113.1", 5000, Self.vip, 53)
        f[40] = 0; f[41] = 0
        let out = lab.send(f).1[0].bytes
        #expect(out[40] != 0 || out[41] != 0)
        let ps = Checksum.pseudo(src: IPAddr("203.0.113.1")!, dst: IPAddr("198.51.100.11")!, proto: 17, length: 11)
        #expect(Array(out[34...]).withUnsafeBytes { Checksum.compute($0.baseAddress!, 11, ps) } == 0)
        #expect(out[36] == 0x14 && out[37] == 0xE9)   // port 5353
    }

    /// Spec §0.2: the director's time-exceeded for a DR connection counts in its OutPkts.
    @Test func ttlExpiryOnDR() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11
            """)
        let (v, out) = lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x02, ttl: 1))
        #expect(v == .dropped(.ttlExceeded))
        #expect(out.count == 1 && out[0].side == .client && out[0].bytes[34] == 11)
        #expect(lab.listing { $0.format = .stats }.contains("TCP  192.0.2.100:80                      1        1        1       40       68"))
        #expect(lab.listing().contains("  -> 198.51.100.11:80" + String(repeating: " ", count: 13) + "Route   1      1          0         \n"))
    }

    @Test func bytesPerConnection() {
        #expect(ConnectionTable.bytesPerEntry <= 128)
        #expect(MemoryLayout<Connection>.stride == 112 && MemoryLayout<ConnectionTable.Timer>.stride == 12)
    }
}

struct ServiceLookupTests {
    static let vip = "192.0.2.100"

    /// Spec §1.1: a port-0 (persistent) service catches every port of its VIP; the
    /// connection keeps the packet's port (spec §3.5 step 6).
    @Test func portZeroService() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:0 -s rr -p
            -a -t 192.0.2.100:0 -r 198.51.100.11 -w 1
            """)
        let (v, out) = lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 8443, flags: 0x02))
        #expect(v == .sent && Lab.server(out[0]) == 11)
        #expect(out[0].bytes[36] == 0x20 && out[0].bytes[37] == 0xFB)        // still port 8443
        let c = lab.listing { $0.connections = true }
        #expect(c.contains("192.0.2.100:8443   198.51.100.11:8443"))
        #expect(c.contains("TCP 06:00  NONE        203.0.113.1:0      192.0.2.100:0      198.51.100.11:0"))
    }

    /// Spec §1.1 step 3: with a port-21 service, TCP to port 20 or an unprivileged port of
    /// the VIP finds it (passive FTP data).
    @Test func ftpDataFindsPort21Service() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:21 -s rr -p
            -a -t 192.0.2.100:21 -r 198.51.100.11 -w 1
            """)
        #expect(lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 21, flags: 0x02)).0 == .sent)
        #expect(lab.send(Frames.tcp("203.0.113.1", 40001, Self.vip, 50000, flags: 0x02)).0 == .sent)
        #expect(lab.send(Frames.tcp("203.0.113.1", 40002, Self.vip, 443, flags: 0x02)).0 == .passed)
    }

    /// Spec §1.2: a deleted server still referenced stays in the trash; re-adding it
    /// resurrects it with its counters.
    @Test func trashResurrection() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11 -w 1
            """)
        lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x02))
        try Rules.apply(try CommandParser.parse(CommandParser.words("-d -t 192.0.2.100:80 -r 198.51.100.11")), to: &lab.engine)
        #expect(!lab.listing().contains("198.51.100.11"))
        try Rules.apply(try CommandParser.parse(CommandParser.words("-a -t 192.0.2.100:80 -r 198.51.100.11 -w 3")), to: &lab.engine)
        #expect(lab.listing().contains("  -> 198.51.100.11:80             Route   3      1          0         \n"))
        #expect(lab.listing { $0.format = .stats }.contains("  -> 198.51.100.11:80                    1        1        0       40        0"))
    }

    /// Spec §3.5 step 3: with expire_quiescent_template, a template whose server was
    /// quiesced is not used; without it, persistence outlives the weight change.
    @Test func quiescentTemplate() throws {
        for expire in [false, true] {
            let lab = try Lab("""
                -A -t 192.0.2.100:80 -s rr -p 300
                -a -t 192.0.2.100:80 -r 198.51.100.11 -w 1
                -a -t 192.0.2.100:80 -r 198.51.100.12 -w 1
                """, sysctls: expire ? ["expire_quiescent_template=1"] : [])
            #expect(Lab.server(lab.send(Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x02)).1[0]) == 12)
            try Rules.apply(try CommandParser.parse(CommandParser.words("-e -t 192.0.2.100:80 -r 198.51.100.12 -w 0")), to: &lab.engine)
            let next = Lab.server(lab.send(Frames.tcp("203.0.113.1", 40001, Self.vip, 80, flags: 0x02)).1[0])
            #expect(next == (expire ? 11 : 12))
        }
    }

    /// Malformed frames are dropped and counted by reason; nothing traps.
    @Test func malformedFramesCounted() throws {
        let lab = try Lab("-A -t 192.0.2.100:80 -s rr\n-a -t 192.0.2.100:80 -r 198.51.100.11\n")
        var f = Frames.tcp("203.0.113.1", 40000, Self.vip, 80, flags: 0x02)
        f[17] = 0xFF                                   // total length beyond the frame
        #expect(lab.send(f).0 == .dropped(.badIPv4Length))
        #expect(lab.send(Array(f.prefix(20))).0 == .dropped(.truncatedIPv4))
        #expect(lab.engine.dropCount(.badIPv4Length) == 1 && lab.engine.dropCount(.truncatedIPv4) == 1)
    }
}

/// Spec §9: rates come from 2-second samples folded into averages with weight 1/4.
struct RateEstimatorTests {
    @Test func constantRateConverges() throws {
        let lab = try Lab("-A -u 192.0.2.100:53 -s rr\n-a -u 192.0.2.100:53 -r 198.51.100.11:53\n")
        // 50 datagrams a second (31 bytes each: 20 + 8 + 3) for 20.5 s from one client.
        for _ in 0..<1025 { lab.send(Frames.udp("203.0.113.1", 5000, "192.0.2.100", 53), after: 20 * Time.millisecond) }
        // The spec's arithmetic: ten 2-second steps of 100 packets (3,100 bytes).
        var pps: Int64 = 0, bps: Int64 = 0
        for _ in 0..<10 {
            pps += ((100 << 9) - pps) >> 2
            bps += ((3100 << 4) - bps) >> 2
        }
        let inPPS = (pps + 0x1FF) >> 10, inBPS = (bps + 0xF) >> 5
        #expect(inPPS == 47 && inBPS == 1463)
        // Spec §6.6 layout: service label in 33 columns + five numbers in 9; destination label
        // in 28 + three numbers as " %8" + two in 9.
        func right(_ v: Int64, _ w: Int) -> String { String(repeating: " ", count: w - String(v).count) + String(v) }
        func left(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: w - s.count) }
        let service = left("UDP  192.0.2.100:53", 33) + [0, inPPS, 0, inBPS, 0].map { right($0, 9) }.joined() + "\n"
        func server(_ p: Int64, _ b: Int64) -> String {
            "  -> " + left("198.51.100.11:53", 28) + [0, p, 0].map { " " + right($0, 8) }.joined() + right(b, 9) + right(0, 9) + "\n"
        }
        let listing = lab.listing { $0.format = .rate }
        #expect(listing.contains(service))
        #expect(listing.contains(server(inPPS, inBPS)))
        // -Z restarts the rates.
        try lab.engine.zero(nil)
        #expect(lab.listing { $0.format = .rate }.contains(server(0, 0)))
    }
}
