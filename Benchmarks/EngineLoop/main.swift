import UVSControl
import UVSEngine
import UVSPacket
#if canImport(Glibc)
import Glibc
#endif

// A plain loop over the engine's hot path, for `perf record` / `valgrind --tool=callgrind`
// (the package-benchmark runner needs its host process). Usage: EngineLoop existing|new [N]
struct NullSink: FrameSink {
    var frames = 0
    mutating func emit(_ frame: UnsafeRawBufferPointer, side: Side, conn: Int32) { frames &+= 1 }
}

func frame(client: UInt32, port: UInt16, flags: UInt8) -> [UInt8] {
    var f: [UInt8] = [2, 0, 0, 0, 0xD0, 1, 2, 0, 0, 0, 0xC1, 1, 0x08, 0x00, 0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]
    f += [UInt8(client >> 24), UInt8((client >> 16) & 0xFF), UInt8((client >> 8) & 0xFF), UInt8(client & 0xFF), 192, 0, 2, 100]
    f += [UInt8(port >> 8), UInt8(port & 0xFF), 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xFA, 0xF0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    let c = f[14..<34].withUnsafeBytes { Checksum.compute($0.baseAddress!, 20) }
    f[24] = UInt8(c >> 8); f[25] = UInt8(c & 0xFF)
    return f
}

/// The loop lives in a function so the engine is a local (globals of top-level code get
/// runtime exclusivity checks).
func run(mode: String, n: Int) {
    let newConnections = mode == "new"
    var topo = Topology.oracleDefaults(directorIPv4: IPAddr("198.51.100.254")!, directorIPv6: IPAddr("2001:db8:b::fffe")!)
    for i in 11...13 { topo.neighbours[IPAddr("198.51.100.\(i)")!] = Topology.conventionalMAC(for: IPAddr("198.51.100.\(i)")!) }
    // "new": a table of at least 1 M slots whatever n is, so runs of different lengths set up
    // the same table and the difference of two (Benchmarks/instructions.sh) is per SYN only.
    var engine = Engine(topology: topo, initialConnections: mode == "new" ? max(n + 16, 1 << 20) : 4096, connectionLimit: 1 << 26)
    try! Rules.load("-A -t 192.0.2.100:80 -s rr\n-a -t 192.0.2.100:80 -r 198.51.100.11\n-a -t 192.0.2.100:80 -r 198.51.100.12\n-a -t 192.0.2.100:80 -r 198.51.100.13\n", file: "loop", into: &engine)
    let mem = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 64)
    var sink = NullSink()
    var t: Int64 = 1_000_000_000
    let flows = 1000
    var templates = [UInt8]()
    for i in 0..<flows {
        let syn = frame(client: 0xCB00_7100 + UInt32(i), port: 40000, flags: 0x02)
        syn.withUnsafeBytes { (mem + 128).copyMemory(from: $0.baseAddress!, byteCount: 60) }
        var b = PacketBuffer(base: mem, capacity: 2048, start: 128, length: 60)
        _ = engine.process(&b, from: .client, at: t, into: &sink)
        templates += frame(client: 0xCB00_7100 + UInt32(i), port: 40000, flags: 0x10)
    }
    var syn = frame(client: 0xCB00_0000, port: 1024, flags: 0x02)
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    templates.withUnsafeBytes { all in
        var i = 0
        for k in 0..<n {
            t &+= 100
            if newConnections {
                let c = UInt32(k + 1)
                syn[27] = UInt8(c >> 16); syn[28] = UInt8((c >> 8) & 0xFF); syn[29] = UInt8(c & 0xFF); syn[34] = UInt8(0x80 | (c >> 24))
                syn.withUnsafeBytes { (mem + 128).copyMemory(from: $0.baseAddress!, byteCount: 60) }
                // A valid header checksum for the new source (what a sender would have written).
                let ip = mem + 128 + 14
                ip.storeBytes(of: 0, toByteOffset: 10, as: UInt16.self)
                ip.storeBytes(of: Checksum.ipv4Header20(ip).bigEndian, toByteOffset: 10, as: UInt16.self)
            } else {
                (mem + 128).copyMemory(from: all.baseAddress! + i * 60, byteCount: 60)
                i = i + 1 == flows ? 0 : i + 1
            }
            var b = PacketBuffer(base: mem, capacity: 2048, start: 128, length: 60)
            _ = engine.process(&b, from: .client, at: t, into: &sink)
        }
    }
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let ns = Double(end.tv_sec - start.tv_sec) * 1e9 + Double(end.tv_nsec - start.tv_nsec)
    let perPacket = (ns / Double(n) * 10).rounded() / 10
    let mpps = (Double(n) / ns * 1e5).rounded() / 100
    print("\(mode): \(n) packets, \(perPacket) ns/packet, \(mpps) Mpps, frames out \(sink.frames), connections \(engine.conns.count)")
}

/// `EngineLoop mh N`: builds the Maglev table (M = 65521, 100 servers) N times.
func buildMaglev(_ n: Int) {
    var store = ContiguousArray<RealServer>()
    for i in 0..<100 {
        store.append(RealServer(addr: IPAddr(v4: 0x0A00_0000 + UInt32(i)), port: 80, method: .directRoute,
                                weight: Int32(1 + i % 3), service: 0))
    }
    let order: [Int32] = (0..<100).reversed()
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    var owners = 0
    DestinationList.with(order: order, store: store) { list in
        for _ in 0..<n { owners &+= Int(MaglevHashing(tableIndex: 16, destinations: list).lookup[7]) }
    }
    clock_gettime(CLOCK_MONOTONIC, &end)
    let ms = (Double(end.tv_sec - start.tv_sec) * 1e3 + Double(end.tv_nsec - start.tv_nsec) / 1e6) / Double(n)
    print("mh build M=65521, 100 servers: \((ms * 1000).rounded() / 1000) ms (\(owners))")
}

/// `EngineLoop sched NAME SERVERS N`: N decisions of one scheduler.
func decide(_ name: String, servers: Int, n: Int) {
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
    let sched = DestinationList.with(order: order, store: store) { SchedulerRegistry.make(name, setup: setup, destinations: $0)! }
    var req = SchedulingRequest(proto: 6, src: IPAddr(v4: 0xCB00_7101), dst: IPAddr(v4: 0xC000_0264), sport: 40000, dport: 80)
    var sum = 0
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    DestinationList.with(order: order, store: store) { list in
        var k: UInt32 = 0
        for _ in 0..<n {
            k &+= 0x9E37_79B9
            req.src = IPAddr(v4: k)
            req.dst = IPAddr(v4: k & 0xFFF)
            sum &+= sched.select(req, list) ?? -1
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end)
    let ns = (Double(end.tv_sec - start.tv_sec) * 1e9 + Double(end.tv_nsec - start.tv_nsec)) / Double(n)
    print("\(name) \(servers) servers: \((ns * 10).rounded() / 10) ns/decision (\(sum))")
}

if CommandLine.arguments.count > 4 && CommandLine.arguments[1] == "sched" {
    decide(CommandLine.arguments[2], servers: Int(CommandLine.arguments[3])!, n: Int(CommandLine.arguments[4])!)
} else if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "mh" {
    buildMaglev(CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 50)
} else {
run(mode: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "existing",
    n: CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 10_000_000)
}
