import Benchmark
import UVSControl
import UVSEngine
import UVSPacket

/// The engine in memory: per-packet cost of existing flows and of new connections, the
/// connection table at 1M and 10M entries, and scheduler decisions.
/// Run: `swift package --disable-sandbox benchmark` (release build).

/// A sink that only counts (the cost measured is the engine's, not I/O's).
struct CountingSink: FrameSink {
    var frames = 0
    var bytes = 0
    @inline(__always) mutating func emit(_ frame: UnsafeRawBufferPointer, side: Side, conn: Int32) {
        frames &+= 1
        bytes &+= frame.count
    }
}

/// A DR lab: VIP 192.0.2.100:80, three real servers, rules as ipvsadm would give them.
func makeEngine(scheduler: String = "rr", limit: Int = 1 << 24, initial: Int = 1 << 16) -> Engine {
    var topo = Topology.oracleDefaults(directorIPv4: IPAddr("198.51.100.254")!, directorIPv6: IPAddr("2001:db8:b::fffe")!)
    for i in 11...13 {
        let a = IPAddr("198.51.100.\(i)")!
        topo.neighbours[a] = Topology.conventionalMAC(for: a)
    }
    var e = Engine(topology: topo, initialConnections: initial, connectionLimit: limit)
    try! Rules.load("""
        -A -t 192.0.2.100:80 -s \(scheduler)
        -a -t 192.0.2.100:80 -r 198.51.100.11 -w 1
        -a -t 192.0.2.100:80 -r 198.51.100.12 -w 2
        -a -t 192.0.2.100:80 -r 198.51.100.13 -w 3
        """, file: "bench", into: &e)
    return e
}

/// A 60-byte TCP frame from 203.x.y.z:port to the VIP with the given flags.
func tcpFrame(client: UInt32, port: UInt16, flags: UInt8) -> [UInt8] {
    var f: [UInt8] = [2, 0, 0, 0, 0xD0, 1, 2, 0, 0, 0, 0xC1, 1, 0x08, 0x00]
    f += [0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]
    f += [UInt8(client >> 24), UInt8((client >> 16) & 0xFF), UInt8((client >> 8) & 0xFF), UInt8(client & 0xFF), 192, 0, 2, 100]
    f += [UInt8(port >> 8), UInt8(port & 0xFF), 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xFA, 0xF0, 0, 0, 0, 0]
    f += [0, 0, 0, 0, 0, 0]
    let c = f[14..<34].withUnsafeBytes { Checksum.compute($0.baseAddress!, 20) }
    f[24] = UInt8(c >> 8); f[25] = UInt8(c & 0xFF)
    return f
}

/// A buffer with headroom, refilled with the template before each packet (the way a NIC
/// fills a ring slot), so every iteration processes a fresh frame.
final class Slot {
    let mem = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
    func load(_ frame: UnsafeRawBufferPointer) -> PacketBuffer {
        (mem + PacketBuffer.headroom).copyMemory(from: frame.baseAddress!, byteCount: frame.count)
        return PacketBuffer(base: mem, capacity: 2048, start: PacketBuffer.headroom, length: frame.count)
    }
    deinit { mem.deallocate() }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        scalingFactor: .mega,
        maxDuration: .seconds(5),
        maxIterations: 5)

    Benchmark("Engine: existing-flow DR packet (1,000 flows)") { benchmark in
        var engine = makeEngine()
        let flows = 1000
        var templates: [[UInt8]] = []
        let slot = Slot()
        var sink = CountingSink()
        var t: Int64 = 1_000_000_000
        for i in 0..<flows {
            let syn = tcpFrame(client: 0xCB00_7100 + UInt32(i), port: 40000, flags: 0x02)
            syn.withUnsafeBytes { var b = slot.load($0); _ = engine.process(&b, from: .client, at: t, into: &sink) }
            templates.append(tcpFrame(client: 0xCB00_7100 + UInt32(i), port: 40000, flags: 0x10))
        }
        let flat = templates.flatMap { $0 }
        let size = templates[0].count
        benchmark.startMeasurement()
        flat.withUnsafeBytes { all in
            var i = 0
            for _ in benchmark.scaledIterations {
                t &+= 100
                var b = slot.load(UnsafeRawBufferPointer(rebasing: all[(i * size)..<((i + 1) * size)]))
                blackHole(engine.process(&b, from: .client, at: t, into: &sink))
                i = i + 1 == flows ? 0 : i + 1
            }
        }
        benchmark.stopMeasurement()
        precondition(sink.frames >= flows)
    }

    Benchmark("Engine: new connection (SYN, DR, rr)") { benchmark in
        var engine = makeEngine(limit: 1 << 25, initial: 1 << 21)
        let slot = Slot()
        var sink = CountingSink()
        var frame = tcpFrame(client: 0xCB00_0000, port: 1024, flags: 0x02)
        var t: Int64 = 1_000_000_000
        var n: UInt32 = 0
        var count = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            // A new client address and port for every SYN, with the header checksum a sender
            // would have written (the engine verifies it, as ip_rcv does).
            n &+= 1
            frame[27] = UInt8(n >> 16); frame[28] = UInt8((n >> 8) & 0xFF); frame[29] = UInt8(n & 0xFF)
            frame[34] = UInt8(0x80 | (n >> 24))
            frame[24] = 0; frame[25] = 0
            let c = frame.withUnsafeBytes { Checksum.ipv4Header20($0.baseAddress! + 14) }
            frame[24] = UInt8(c >> 8); frame[25] = UInt8(c & 0xFF)
            t &+= 1000
            frame.withUnsafeBytes { var b = slot.load($0); blackHole(engine.process(&b, from: .client, at: t, into: &sink)) }
            count += 1
        }
        benchmark.stopMeasurement()
        // Every SYN opened a connection and was forwarded (a dropped frame would not count).
        precondition(engine.conns.count >= count && sink.frames >= count, "SYNs were not scheduled")
    }

    for size in [1_000_000, 10_000_000] {
        Benchmark("ConnectionTable: lookup hit at \(size / 1_000_000)M entries",
                  configuration: .init(metrics: [.wallClock, .throughput, .peakMemoryResident, .mallocCountTotal],
                                       scalingFactor: .mega, maxDuration: .seconds(10), maxIterations: 3)) { benchmark in
            var table = ConnectionTable(initialCapacity: size, limit: size)
            let vip = IPAddr(v4: 0xC000_0264)
            for i in 0..<size {
                var c = Connection()
                c.proto = 6; c.caddr = IPAddr(v4: 0x0A00_0000 | UInt32(i >> 8)); c.cport = UInt16(1024 + (i & 0xFF))
                c.vaddr = vip; c.vport = 80; c.daddr = vip; c.expires = 1_000_000_000_000
                _ = table.insert(c)
            }
            var x: UInt64 = 88172645463325252
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17
                let i = Int(x % UInt64(size))
                blackHole(table.lookupIn(proto: 6, caddr: IPAddr(v4: 0x0A00_0000 | UInt32(i >> 8)),
                                         cport: UInt16(1024 + (i & 0xFF)), vaddr: vip, vport: 80))
            }
            benchmark.stopMeasurement()
        }

        Benchmark("ConnectionTable: insert+remove at \(size / 1_000_000)M entries",
                  configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                       scalingFactor: .mega, maxDuration: .seconds(10), maxIterations: 3)) { benchmark in
            var table = ConnectionTable(initialCapacity: size + 1, limit: size + 1)
            let vip = IPAddr(v4: 0xC000_0264)
            var c = Connection()
            c.proto = 6; c.vaddr = vip; c.vport = 80; c.daddr = vip; c.expires = 1_000_000_000_000
            for i in 0..<size {
                c.caddr = IPAddr(v4: 0x0A00_0000 | UInt32(i >> 8)); c.cport = UInt16(1024 + (i & 0xFF))
                _ = table.insert(c)
            }
            c.caddr = IPAddr(v4: 0x0B00_0000)
            benchmark.startMeasurement()
            var n: UInt32 = 0
            for _ in benchmark.scaledIterations {
                n &+= 1
                c.cport = UInt16(truncatingIfNeeded: n)
                let s = table.insert(c)
                table.remove(s)
            }
            benchmark.stopMeasurement()
        }
    }

    // Decisions of every scheduler at 4, 32 and 256 servers (varied weights and loads,
    // one quiesced server; the key varies per decision for the hashing schedulers).
    for name in SchedulerRegistry.all.map({ $0.name }) {
        for servers in [4, 32, 256] {
            Benchmark("Scheduler: \(name) decision, \(servers) servers",
                      configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .mega,
                                           maxDuration: .seconds(2), maxIterations: 5)) { benchmark in
                var store = ContiguousArray<RealServer>()
                for i in 0..<servers {
                    var rs = RealServer(addr: IPAddr(v4: 0x0A00_0000 + UInt32(i)), port: 80, method: .directRoute,
                                        weight: i == 1 ? 0 : Int32(1 + i % 7), service: 0)
                    rs.activeConns = Int32(i * 37 % 101)
                    rs.inactiveConns = Int32(i * 53 % 211)
                    store.append(rs)
                }
                let order: [Int32] = (0..<Int32(servers)).reversed()
                let setup = SchedulerSetup(serviceFlags: 0, sysctls: Sysctls())
                let sched = DestinationList.with(order: [], store: store) { SchedulerRegistry.make(name, setup: setup, destinations: $0)! }
                for i in 0..<servers {
                    DestinationList.with(order: Array(order.suffix(i + 1)), store: store) { sched.added(at: 0, $0) }
                }
                var req = SchedulingRequest(proto: 6, src: IPAddr(v4: 0xCB00_7101), dst: IPAddr(v4: 0xC000_0264), sport: 40000, dport: 80)
                DestinationList.with(order: order, store: store) { list in
                    var n: UInt32 = 0
                    // The choices are summed and the sum kept, rather than an opaque call
                    // per decision timed with each one.
                    var sum = 0
                    benchmark.startMeasurement()
                    for _ in benchmark.scaledIterations {
                        n &+= 0x9E37_79B9
                        req.src = IPAddr(v4: n)
                        req.dst = IPAddr(v4: n & 0xFFF)   // lblc/lblcr/dh: 4096 destination addresses
                        req.random = (UInt64(n), UInt64(n >> 3))
                        sum &+= sched.select(req, list) ?? -1
                    }
                    benchmark.stopMeasurement()
                    blackHole(sum)
                }
            }
        }
    }

    for size in [4093, 65521] {
        Benchmark("Scheduler: mh table build, M = \(size), 100 servers",
                  configuration: .init(metrics: [.wallClock, .mallocCountTotal], scalingFactor: .one,
                                       maxDuration: .seconds(3), maxIterations: 50)) { benchmark in
            var store = ContiguousArray<RealServer>()
            for i in 0..<100 {
                store.append(RealServer(addr: IPAddr(v4: 0x0A00_0000 + UInt32(i)), port: 80, method: .directRoute,
                                        weight: Int32(1 + i % 3), service: 0))
            }
            let order: [Int32] = (0..<100).reversed()
            let index = MaglevHashing.primes.firstIndex(of: size)! + 8
            DestinationList.with(order: order, store: store) { list in
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(MaglevHashing(tableIndex: index, destinations: list))
                }
            }
        }
    }
}
