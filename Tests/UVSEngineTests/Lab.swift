import UVSControl
import UVSEngine
import UVSPacket

/// Test frames with valid checksums, and an engine driven on a test clock.
enum Frames {
    static func ipv4(_ src: String, _ dst: String, proto: UInt8, l4: [UInt8], ttl: UInt8 = 64, df: Bool = true) -> [UInt8] {
        var f: [UInt8] = [2, 0, 0, 0, 0xD0, 1, 2, 0, 0, 0, 0xC1, 1, 0x08, 0x00]
        let total = 20 + l4.count
        var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, df ? 0x40 : 0, 0, ttl, proto, 0, 0]
        let s = IPAddr(src)!.v4, d = IPAddr(dst)!.v4
        for a in [s, d] { ip += [UInt8(a >> 24), UInt8((a >> 16) & 0xFF), UInt8((a >> 8) & 0xFF), UInt8(a & 0xFF)] }
        let c = ip.withUnsafeBytes { Checksum.compute($0.baseAddress!, 20) }
        ip[10] = UInt8(c >> 8); ip[11] = UInt8(c & 0xFF)
        var l = l4
        let off = proto == 6 ? 16 : (proto == 17 ? 6 : 2)
        if proto == 6 || proto == 17 || proto == 1 {
            let ps: UInt32 = proto == 1 ? 0 : Checksum.pseudo(src: IPAddr(src)!, dst: IPAddr(dst)!, proto: proto, length: l.count)
            var k = l.withUnsafeBytes { Checksum.compute($0.baseAddress!, $0.count, ps) }
            if proto == 17 && k == 0 { k = 0xFFFF }
            l[off] = UInt8(k >> 8); l[off + 1] = UInt8(k & 0xFF)
        }
        f += ip + l
        return f
    }

    static func tcp(_ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, flags: UInt8,
                    ttl: UInt8 = 64, payload: Int = 0) -> [UInt8] {
        var l: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                          0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xFA, 0xF0, 0, 0, 0, 0]
        l += [UInt8](repeating: 0x61, count: payload)
        return ipv4(src, dst, proto: 6, l4: l, ttl: ttl)
    }

    static func udp(_ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16, payload: [UInt8] = [1, 2, 3]) -> [UInt8] {
        let len = 8 + payload.count
        let l: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                          UInt8(len >> 8), UInt8(len & 0xFF), 0, 0] + payload
        return ipv4(src, dst, proto: 17, l4: l)
    }
}

struct Collector: FrameSink {
    struct Frame { var side: Side; var bytes: [UInt8]; var conn: Int32 }
    var frames: [Frame] = []
    mutating func emit(_ frame: UnsafeRawBufferPointer, side: Side, conn: Int32) {
        frames.append(Frame(side: side, bytes: Array(frame), conn: conn))
    }
}

final class Lab {
    var engine: Engine
    var now: Nanos = Time.seconds(1000)

    init(_ rules: String, sysctls: [String] = [], limit: Int = 1 << 20) throws {
        var s = Sysctls()
        for x in sysctls { try s.set(x) }
        var topo = Topology.oracleDefaults(directorIPv4: IPAddr("198.51.100.254")!, directorIPv6: IPAddr("2001:db8:b::fffe")!)
        for i in 1...40 {
            let a = IPAddr("198.51.100.\(i)")!
            topo.neighbours[a] = Topology.conventionalMAC(for: a)
        }
        engine = Engine(topology: topo, sysctls: s, initialConnections: 16, connectionLimit: limit)
        try Rules.load(rules, file: "rules", into: &engine)
    }

    /// Sends a frame at the current time (advanced by `after`), returns verdict and output.
    @discardableResult
    func send(_ frame: [UInt8], from side: Side = .client, after: Nanos = Time.millisecond) -> (Verdict, [Collector.Frame]) {
        now += after
        let cap = frame.count + 256
        let mem = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
        defer { mem.deallocate() }
        frame.withUnsafeBytes { (mem + 128).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var buf = PacketBuffer(base: mem, capacity: cap, start: 128, length: frame.count)
        var sink = Collector()
        let v = engine.process(&buf, from: side, at: now, into: &sink)
        return (v, sink.frames)
    }

    /// Real server (last octet) a frame towards the servers was sent to, by its MAC.
    static func server(_ f: Collector.Frame) -> Int { Int(f.bytes[5]) }

    func listing(_ configure: (inout ListOptions) -> Void = { _ in }) -> String {
        var o = ListOptions()
        o.numeric = true
        configure(&o)
        return Listing.list(engine, o)
    }

    func wait(_ d: Nanos) {
        now += d
        engine.advance(to: now)
    }
}
