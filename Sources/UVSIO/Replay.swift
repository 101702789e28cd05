#if canImport(Glibc)
import Glibc
#endif
import UVSControl
import UVSEngine
import UVSPacket

/// `uvsd replay`: a capture through the engine on the capture's own clock, with the
/// kernel oracle's conventions and outputs (../shared/oracle/README.md), so the two diff.
public struct Replay {
    public struct Options {
        public var rulesPath: String
        public var inputPath: String
        public var outDir: String
        public var repliesPath: String? = nil
        public var sysctls: [String] = []
        public var rsMACs: [String] = []
        public var dip: String? = nil
        public var dirMAC: String? = nil
        public var mode: String? = nil
        /// iptables mangle MARK rules for fwmark services.
        public var marksPath: String? = nil
        /// Write decisions.tsv (costs a per-packet flow lookup).
        public var decisions = true
        public init(rulesPath: String, inputPath: String, outDir: String) {
            self.rulesPath = rulesPath; self.inputPath = inputPath; self.outDir = outDir
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// Settle time before replies (the oracle's --settle) and listing delay after the last packet.
    public static let settle: Nanos = 300 * Time.millisecond
    public static let listingDelay: Nanos = 2500 * Time.millisecond
    /// The oracle director's own address on its client link (dir-in).
    static let clientSideAddress = IPAddr("198.18.255.254")!

    public struct Summary {
        public var inputFrames = 0
        public var replyFrames = 0
        public var toServers = 0
        public var toClients = 0
    }

    let options: Options
    public init(_ options: Options) { self.options = options }

    /// Runs the replay and writes OUTDIR. Throws `Failure` for bad input (nothing written
    /// beyond what was already in OUTDIR).
    public func run() throws(Failure) -> (Summary, Engine) {
        let o = options
        guard let rulesText = ConfigText.read(o.rulesPath) else { throw Failure("\(o.rulesPath): cannot read the rules file") }
        var sysctls = Sysctls()
        for s in o.sysctls {
            do { try sysctls.set(s) } catch { throw Failure("--sysctl \(s): \(error)") }
        }
        let text = o.mode.map { Self.forceMode(rulesText, mode: $0) } ?? rulesText
        let commands: [(line: Int, command: IPVSCommand)]
        do { commands = try Rules.parse(text, file: o.rulesPath) } catch { throw Failure(error.description) }

        // Topology: the oracle's addresses and MACs.
        var rips: [IPAddr] = [], vips: [IPAddr] = []
        for (_, c) in commands {
            switch c {
            case .addServer(let k, let d), .editServer(let k, let d):
                if !rips.contains(d.addr) { rips.append(d.addr) }
                if !k.isFwmark && !vips.contains(k.addr) { vips.append(k.addr) }
            case .addService(let s), .editService(let s):
                if !s.key.isFwmark && !vips.contains(s.key.addr) { vips.append(s.key.addr) }
            default: break
            }
        }
        var taken = Set(vips + rips)
        taken.insert(Self.clientSideAddress)
        let dip4: IPAddr
        if let d = o.dip {
            guard let a = IPAddr(d) else { throw Failure("--dip \(d): not an address") }
            dip4 = a
        } else {
            dip4 = Self.pickDirectorAddress(rips, taken: taken, v4: true) ?? IPAddr("198.18.254.254")!
        }
        let dip6 = Self.pickDirectorAddress(rips, taken: taken, v4: false) ?? IPAddr("fdfe::fe")!

        let reader: CaptureReader
        do { reader = try CaptureReader(path: o.inputPath) } catch { throw Failure(error.description) }
        let repliesReader: CaptureReader?
        if let r = o.repliesPath {
            do { repliesReader = try CaptureReader(path: r) } catch { throw Failure(error.description) }
        } else {
            repliesReader = nil
        }
        let dirMAC: MACAddr
        if let m = o.dirMAC {
            guard let mac = MACAddr(m) else { throw Failure("--dir-mac \(m): not a MAC address") }
            dirMAC = mac
        } else {
            dirMAC = try Self.firstDestinationMAC(o.inputPath) ?? MACAddr("02:00:00:00:d0:01")!
        }
        var topo = Topology.oracleDefaults(directorIPv4: dip4, directorIPv6: dip6, clientSideMAC: dirMAC)
        for r in rips { topo.neighbours[r] = Topology.conventionalMAC(for: r) }
        for kv in o.rsMACs {
            let parts = kv.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let a = IPAddr(parts[0]), let m = MACAddr(parts[1]) else {
                throw Failure("--rs-mac \(kv): expected IP=MAC")
            }
            topo.neighbours[a] = m
        }
        var engine = Engine(topology: topo, sysctls: sysctls)
        if let m = o.marksPath {
            guard let text = ConfigText.read(m) else { throw Failure("\(m): cannot read the marks file") }
            do { engine.marks = try MarksFile.parse(text, file: m) } catch { throw Failure(error.description) }
        }
        // The oracle guest's interfaces, for sync daemons (--mcast-interface).
        let hasV6 = rips.contains { !$0.isV4 }
        let links: [String: SyncLink] = [
            "dir-in": SyncLink(mtu: 1500, hasIPv4: true, hasIPv6: hasV6),
            "dir-out": SyncLink(mtu: 1500, hasIPv4: true, hasIPv6: hasV6),
            "lo": SyncLink(mtu: 65536, hasIPv4: true, hasIPv6: true),
        ]
        for (line, c) in commands {
            do { try Rules.apply(c, to: &engine, links: { links[$0] }) } catch {
                throw Failure("\(o.rulesPath):\(line): \(error.description)")
            }
        }

        // Outputs.
        guard makeDirectories(o.outDir) else { throw Failure("\(o.outDir): cannot create the directory") }
        let toServers: CaptureWriter, toClients: CaptureWriter
        do {
            toServers = try CaptureWriter(path: o.outDir + "/out.pcap")
            toClients = try CaptureWriter(path: o.outDir + "/out-client.pcap")
        } catch { throw Failure(error.description) }
        var sink = ReplayOutput(toServers: toServers, toClients: toClients, trackFlows: o.decisions)
        // A master's messages leave by its interface; a backup takes the datagrams to its
        // group arriving on its interface.
        let sideOf: [String: Side] = ["dir-in": .client, "dir-out": .server]
        let master = engine.syncDaemons.first { $0.role == .master }
        let masterSide = master.flatMap { sideOf[$0.interface] }
        var syncOut = master.map {
            SyncDatagram($0, source: masterSide == .client ? Self.clientSideAddress : ($0.multicastGroup.isV4 ? dip4 : dip6),
                         sourceMAC: masterSide == .client ? dirMAC : topo.serverSideMAC)
        }
        let backup = engine.syncDaemons.first { $0.role == .backup }
        let backupSide = backup.flatMap { sideOf[$0.interface] }
        // Plain flags for the per-frame loop (testing the optionals copies them each time).
        let hasMaster = master != nil, hasBackup = backup != nil
        let syncFrame = UnsafeMutableRawPointer.allocate(byteCount: 65536 + 128, alignment: 16)
        defer { syncFrame.deallocate() }
        func sendSync(_ engine: inout Engine, at t: Nanos) {
            engine.takeSyncMessages { m in
                guard let side = masterSide else { return }
                let n = syncOut!.frame(m, into: syncFrame)
                let frame = UnsafeRawBufferPointer(start: syncFrame, count: n)
                if side == .server { toServers.write(frame, time: t) } else { toClients.write(frame, time: t) }
            }
        }
        func receiveSync(_ engine: inout Engine, _ buf: PacketBuffer, from side: Side, at t: Nanos) {
            guard let b = backup, side == backupSide,
                  let payload = SyncDatagram.payload(of: buf.frame, buf.length, group: b.multicastGroup, port: b.multicastPort) else { return }
            engine.receiveSync(payload, at: t)
        }
        var summary = Summary()
        let capacity = 65536 + PacketBuffer.headroom
        let mem = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { mem.deallocate() }
        var last: Nanos = 0
        reader.wrapDestination = dirMAC
        do {
            // A plain loop, so the engine stays a local the compiler can borrow (a closure
            // capture would box it and copy it on every read).
            while let (len, ts) = try reader.next(into: mem, capacity: capacity, headroom: PacketBuffer.headroom) {
                summary.inputFrames += 1
                let t = max(ts, last)
                last = t
                let f = mem + PacketBuffer.headroom
                // Frames for another unicast MAC are taken as addressed to the director.
                if len >= 14 && f.load(as: UInt8.self) & 1 == 0 { dirMAC.store(f) }
                var buf = PacketBuffer(base: mem, capacity: capacity, start: PacketBuffer.headroom, length: len)
                sink.noteInput()
                let verdict = engine.process(&buf, from: .client, at: t)
                sink.record(&engine, time: t)
                if hasBackup && verdict == .passed { receiveSync(&engine, buf, from: .client, at: t) }
                if hasMaster { sendSync(&engine, at: t) }
            }
            if let rr = repliesReader {
                var first: Nanos? = nil
                let base = last + Self.settle
                while let (len, ts) = try rr.next(into: mem, capacity: capacity, headroom: PacketBuffer.headroom) {
                    summary.replyFrames += 1
                    let f0 = first ?? ts
                    first = f0
                    let t = max(base + (ts - f0), last)
                    last = t
                    var buf = PacketBuffer(base: mem, capacity: capacity, start: PacketBuffer.headroom, length: len)
                    sink.inputFlow = -1
                    sink.fromServers = true
                    let verdict = engine.process(&buf, from: .server, at: t)
                    sink.record(&engine, time: t)
                    if hasBackup && verdict == .passed { receiveSync(&engine, buf, from: .server, at: t) }
                    if hasMaster { sendSync(&engine, at: t) }
                }
                last += Self.settle
            }
            // Messages still filling go out while the capture runs (the oracle's settle).
            if hasMaster {
                engine.advance(to: last + Self.settle)
                sendSync(&engine, at: last + Self.settle)
            }
        } catch {
            toServers.close(); toClients.close()
            throw Failure(error.description)
        }
        toServers.close()
        toClients.close()
        summary.toServers = sink.serverFrames
        summary.toClients = sink.clientFrames

        engine.advance(to: last + Self.listingDelay)
        var numeric = ListOptions()
        numeric.numeric = true
        var stats = numeric
        stats.format = .stats
        var conns = numeric
        conns.connections = true
        var timeouts = ListOptions()
        timeouts.timeouts = true
        let files: [(String, String)] = [
            ("ipvsadm-L.txt", Listing.list(engine, numeric)),
            ("ipvsadm-Lstats.txt", Listing.list(engine, stats)),
            ("ipvsadm-Lc.txt", Listing.list(engine, conns)),
            ("ipvsadm-S.txt", Listing.save(engine, numeric: true)),
            ("ipvsadm-timeout.txt", Listing.list(engine, timeouts)),
        ]
        for (name, content) in files {
            guard writeFile(o.outDir + "/" + name, content) else { throw Failure("\(o.outDir)/\(name): cannot write") }
        }
        if o.decisions {
            guard writeFile(o.outDir + "/decisions.tsv", sink.decisions(engine)) else {
                throw Failure("\(o.outDir)/decisions.tsv: cannot write")
            }
        }
        return (summary, engine)
    }

    /// `--mode`: every real server gets this forwarding method (as kipvs --mode does).
    static func forceMode(_ text: String, mode: String) -> String {
        let flag = ["dr": "-g", "nat": "-m", "tun": "-i"][mode] ?? "-g"
        let fwd: Set<String> = ["-g", "--gatewaying", "-m", "--masquerading", "-i", "--ipip"]
        return ConfigText.lines(text).map { words -> String in
            var w = words
            if w.first == "ipvsadm" { w.removeFirst() }
            guard let c = w.first, ["-a", "--add-server", "-e", "--edit-server"].contains(c) else { return words.joined(separator: " ") }
            return (w.filter { !fwd.contains($0) } + [flag]).joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// The oracle's director address: the highest free host of the first real server's /24
    /// (IPv4) or low 16 bits (IPv6).
    static func pickDirectorAddress(_ rips: [IPAddr], taken: Set<IPAddr>, v4: Bool) -> IPAddr? {
        guard let first = rips.first(where: { $0.isV4 == v4 }) else { return nil }
        if v4 {
            let net = first.v4 & ~0xFF
            for x in stride(from: UInt32(254), to: 0, by: -1) where !taken.contains(IPAddr(v4: net | x)) {
                return IPAddr(v4: net | x)
            }
        } else {
            let net = first.lo & ~0xFFFF
            for x in stride(from: UInt64(0xFFFE), to: 0, by: -1) where !taken.contains(IPAddr(hi: first.hi, lo: net | x)) {
                return IPAddr(hi: first.hi, lo: net | x)
            }
        }
        return nil
    }

    /// The destination MAC of the first unicast IP frame (the oracle's director ingress MAC).
    static func firstDestinationMAC(_ path: String) throws(Failure) -> MACAddr? {
        let r: CaptureReader
        do { r = try CaptureReader(path: path) } catch { throw Failure(error.description) }
        guard r.linkType == 1 else { return nil }
        let mem = UnsafeMutableRawPointer.allocate(byteCount: 65536 + 64, alignment: 16)
        defer { mem.deallocate() }
        var found: MACAddr? = nil
        do {
            while found == nil, let (len, _) = try r.next(into: mem, capacity: 65536 + 64, headroom: 0) {
                var p = ParsedPacket()
                if case .ip = PacketParser.parse(mem, len, &p), mem.load(as: UInt8.self) & 1 == 0 {
                    found = MACAddr.load(mem)
                }
            }
        } catch { throw Failure(error.description) }
        return found
    }
}

func writeFile(_ path: String, _ text: String) -> Bool {
    guard let f = fopen(path, "wb") else { return false }
    defer { fclose(f) }
    let bytes = Array(text.utf8)
    return fwrite(bytes, 1, bytes.count, f) == bytes.count
}

/// mkdir -p.
func makeDirectories(_ path: String) -> Bool {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for part in path.split(separator: "/") {
        prefix += part + "/"
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
    }
    return true
}
