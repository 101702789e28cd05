#if canImport(Glibc)
import Glibc
#endif
import CUVSNet
import Logging
import UVSControl
import UVSEngine
import UVSPacket

/// `uvsd run`: the live director. Sets up the links (rings, filters, the tc guard that keeps
/// the host's stack off the VIP traffic), runs one engine per worker thread, answers ARP/ND
/// for the VIPs, serves the control socket, reloads the rules on SIGHUP, and on exit leaves
/// the host exactly as it found it.
public final class Director: @unchecked Sendable {
    let options: DirectorOptions
    let log: Logger
    let client: NetworkInterface
    let server: NetworkInterface
    let oneArmed: Bool
    let stopFlag = StopFlag()
    let epoch = uvs_monotonic_ns()
    var workers: [Worker] = []
    var guards: [IngressGuard] = []
    var control: ControlServer?
    var userSecondsAtReady = 0.0

    /// Control-plane state, under `lock`: the configuration every worker's engine follows.
    let lock = Lock()
    var config: Engine
    var marks: [MarkRule] = []
    var selection = TrafficSelection()
    /// Next hops known to all workers (learned by ARP/ND or read from the kernel), under
    /// its own lock: workers report to it while the control plane may wait for them.
    let neighbourLock = Lock()
    var neighbours: [IPAddr: MACAddr] = [:]
    var reachability: [IPAddr: NeighbourState] = [:]
    var clientGateway: IPAddr?
    /// Sync daemons (under `lock`): the master's socket, which the workers send on, and the
    /// backup's receiving thread.
    var syncMasterFD: Int32 = -1
    var syncReceiver: SyncReceiver?
    /// What the receiving thread reads, under its own lock (it must never wait for `lock`:
    /// stopping it joins the thread while `lock` is held): the traffic selection the fanout
    /// program was made from, and its counters.
    let syncLock = Lock()
    var syncSelection = TrafficSelection()
    var syncMessages: UInt64 = 0
    var syncRejected: UInt64 = 0
    /// Set before `start` when a configuration file drives the director: what SIGHUP does
    /// instead of re-reading the rules, and uvsadm commands the director does not know
    /// (`-L --checks`), answered by the health checks.
    public var reloadHandler: (@Sendable () -> Void)?
    public var controlExtension: (@Sendable ([String]) -> ControlProtocol.Response?)?

    public init(_ options: DirectorOptions, logger: Logger) throws(LiveError) {
        self.options = options
        log = logger
        guard geteuid() == 0 else {
            throw LiveError("uvsd run needs root (CAP_NET_RAW for the packet sockets, CAP_NET_ADMIN for tc)")
        }
        guard (1...64).contains(options.workers) else { throw LiveError("--workers must be 1...64") }
        do {
            client = try NetworkInterface(options.interface)
            server = try options.serverInterface.map { (n: String) throws(NetworkInterface.Failure) in try NetworkInterface(n) } ?? client
        } catch { throw LiveError(error.description) }
        oneArmed = options.serverInterface == nil || (server.device == client.device && server.vlan == client.vlan)
        for i in oneArmed ? [client] : [client, server] where !i.isUp {
            throw LiveError("interface \(i.device) is down (ip link set \(i.device) up)")
        }
        var sys = Sysctls()
        for s in options.sysctls {
            do { try sys.set(s) } catch { throw LiveError("--sysctl \(s): \(error)") }
        }
        // The configuration, validated as a whole before anything is touched.
        let (cfg, marks) = try Self.loadConfiguration(options, topology: Self.placeholderTopology, sysctls: sys)
        config = cfg
        self.marks = marks
        try checkVIPsNotOnHost()
    }

    static var placeholderTopology: Topology {
        Topology(clientSideMAC: .zero, clientGatewayMAC: .zero, serverSideMAC: .zero, directorIPv4: .zero4, directorIPv6: .zero6)
    }

    /// Reads the rules (and marks) file into a configuration-only engine: all or nothing,
    /// errors as `FILE:N: message`.
    static func loadConfiguration(_ o: DirectorOptions, topology: Topology, sysctls: Sysctls)
        throws(LiveError) -> (Engine, [MarkRule]) {
        guard let text = o.rulesText ?? ConfigText.read(o.rulesPath) else { throw LiveError("\(o.rulesPath): cannot read the rules file") }
        var e = Engine(topology: topology, sysctls: sysctls, initialConnections: 16)
        do { try Rules.load(text, file: o.rulesPath, into: &e, links: SyncSockets.link) } catch { throw LiveError(error.description) }
        var marks: [MarkRule] = []
        if let m = o.marksPath {
            guard let t = ConfigText.read(m) else { throw LiveError("\(m): cannot read the marks file") }
            do { marks = try MarksFile.parse(t, file: m) } catch { throw LiveError(error.description) }
        }
        e.marks = marks
        return (e, marks)
    }

    /// Addresses the director answers for: every non-fwmark VIP and the marks' destinations.
    static func vips(_ e: Engine, _ marks: [MarkRule]) -> [IPAddr] {
        var seen = Set<IPAddr>(), out: [IPAddr] = []
        for s in e.services where s.live && !s.key.isFwmark && seen.insert(s.key.addr).inserted { out.append(s.key.addr) }
        for m in marks {
            if let d = m.destination, d.1 == (d.0.isV4 ? 32 : 128), seen.insert(d.0).inserted { out.append(d.0) }
        }
        return out
    }

    static func realServers(_ e: Engine) -> [IPAddr] {
        var seen = Set<IPAddr>(), out: [IPAddr] = []
        for s in e.services where s.live {
            for d in s.destinations where seen.insert(e.dests[Int(d)].addr).inserted { out.append(e.dests[Int(d)].addr) }
        }
        return out
    }

    func checkVIPsNotOnHost() throws(LiveError) {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return }
        defer { freeifaddrs(list) }
        let vips = Set(Self.vips(config, marks))
        var p = list
        while let ifa = p {
            defer { p = ifa.pointee.ifa_next }
            guard let sa = ifa.pointee.ifa_addr, let a = IPAddr(sockaddr: sa), vips.contains(a) else { continue }
            let dev = String(cString: ifa.pointee.ifa_name)
            let len = a.isV4 ? 32 : 128
            throw LiveError("VIP \(a) is configured on this host (dev \(dev)); uvsd owns the VIPs itself: "
                + "remove it first (ip addr del \(a)/\(len) dev \(dev), with its real prefix length)")
        }
    }

    func selectionFor(_ e: Engine, _ marks: [MarkRule]) -> TrafficSelection {
        var s = TrafficSelection()
        var nat = Set<IPAddr>()
        s.vips = Self.vips(e, marks)
        s.everything = marks.contains { $0.destination == nil }
        for m in marks { if let d = m.destination, d.1 != (d.0.isV4 ? 32 : 128) { s.networks.append("\(d.0)/\(d.1)") } }
        for svc in e.services where svc.live {
            for d in svc.destinations where e.dests[Int(d)].method == .masquerade { nat.insert(e.dests[Int(d)].addr) }
            if svc.isPersistent {
                if svc.key.isV6 { s.persistPrefix6 = min(s.persistPrefix6, Int(svc.netmask)) } else {
                    s.persistPrefix4 = min(s.persistPrefix4, svc.netmask.nonzeroBitCount)
                }
            }
        }
        s.natServers = nat.sorted()
        s.ownAddresses = NetworkInterface.addresses(of: client.device) + (oneArmed ? [] : NetworkInterface.addresses(of: server.device))
        return s
    }

    // MARK: start

    /// Brings the director up. On failure everything already set up is undone.
    public func start() throws(LiveError) {
        do {
            try setUp()
        } catch {
            tearDown()
            throw error
        }
    }

    private func setUp() throws(LiveError) {
        // Topology from the links and the kernel's neighbour table.
        let serverAddrs = NetworkInterface.addresses(of: server.device)
        let dip4 = serverAddrs.first(where: \.isV4) ?? .zero4
        let dip6 = serverAddrs.first(where: { !$0.isV4 && ($0.hi >> 48) != 0xFE80 }) ?? .zero6
        var topo = Topology(clientSideMAC: client.mac, clientGatewayMAC: .zero, serverSideMAC: server.mac,
                            directorIPv4: dip4, directorIPv6: dip6)
        topo.clientMTU = client.mtu; topo.serverMTU = server.mtu
        topo.clientVLAN = client.vlan; topo.serverVLAN = server.vlan
        let kernel = KernelNeighbours.dump()
        clientGateway = KernelNeighbours.defaultGateway4(ifindex: client.index)
        if let gw = clientGateway, let m = kernel.first(where: { $0.addr == gw && $0.ifindex == client.index })?.mac {
            topo.clientGatewayMAC = m
            neighbours[gw] = m
        }
        for r in Self.realServers(config) {
            let e = kernel.first { $0.addr == r && $0.ifindex == server.index }
            topo.neighbours[r] = e?.mac ?? .zero   // zero: resolved by ARP/ND when first needed
            if let e {
                neighbours[r] = e.mac
                reachability[r] = NeighbourState(confirmed: uvs_monotonic_ns(), permanent: e.permanent)
            }
        }
        if config.dests.contains(where: { $0.method == .tunnel }) && dip4 == .zero4 {
            throw LiveError("tunnel (-i) real servers need an IPv4 address on \(server.device) as the tunnel source")
        }
        selection = selectionFor(config, marks)
        syncLock.with { syncSelection = selection }
        let sockFilter = try selection.socketFilter()
        let fanout = selection.fanoutProgram()
        if options.workers > 1 && fanout.contains(where: { $0.jt == 255 || $0.jf == 255 }) {
            throw LiveError("too many VIPs for one fanout program; use --workers 1")
        }

        // Sync daemons of the rules file: their sockets first, the workers send on the master's.
        let syncChange: SyncChange
        do { syncChange = try prepareSync(from: [], to: config.syncDaemons) } catch { throw LiveError(error.description) }

        // Workers: an engine, rings and sockets each.
        let cpus = Self.cpuRotation(options)
        let groupBase = UInt16(truncatingIfNeeded: getpid() & 0x3FFF) << 1
        var geometry = PacketRing.Geometry()
        geometry.blockSize = options.ringBlockSize; geometry.blocks = options.ringBlocks; geometry.timeoutMs = options.ringTimeoutMs
        let fanoutGroup: (Int) -> UInt16 = { self.options.workers > 1 ? (groupBase | UInt16($0)) &+ 1 : 0 }
        // Every engine first (their tables are the slow part of the start), then every
        // receiving socket in quick succession: a harness that takes "receiving sockets bound
        // and stable for a moment" as ready never sees a partial set.
        var engines: [Engine] = []
        for w in 0..<options.workers {
            var engine = Engine(topology: topo, sysctls: config.sysctls, seed: UInt64(w + 1) &* 0x9E37_79B9_7F4A_7C15,
                                initialConnections: options.connections)
            engine.marks = marks
            engine.timeouts = config.timeouts
            for c in RulesDiff.commands(from: Engine(topology: topo, initialConnections: 16), to: config) {
                do { try Rules.apply(c, to: &engine) } catch { throw LiveError("rules: \(error.description)") }
            }
            engines.append(engine)
        }
        for w in 0..<options.workers {
            // Moved out of the list, so the worker holds its tables alone (no copy on write).
            let engine = engines.removeFirst()
            var rings = [try PacketRing(interface: client, side: .client, geometry: geometry, filter: sockFilter,
                                        fanoutGroup: fanoutGroup(0), fanout: fanout)]
            var tx = [try FrameTransmitter(interface: client, bypassQdisc: options.bypassQdisc)]
            if !oneArmed {
                rings.append(try PacketRing(interface: server, side: .server, geometry: geometry, filter: sockFilter,
                                            fanoutGroup: fanoutGroup(1), fanout: fanout))
                tx.append(try FrameTransmitter(interface: server, bypassQdisc: options.bypassQdisc))
            }
            let links = [try LinkFrames(device: client.device, mac: client.mac, vlan: client.vlan),
                         try LinkFrames(device: server.device, mac: server.mac, vlan: server.vlan)]
            let clientOwn = NetworkInterface.addresses(of: client.device).first(where: \.isV4) ?? .zero4
            var state = WorkerState(engine: engine, rings: rings, tx: tx, oneArmed: oneArmed, links: links,
                                    ownAddress: [clientOwn, dip4 == .zero4 ? clientOwn : dip4],
                                    clientGateway: clientGateway, epoch: epoch,
                                    learned: { [weak self] a, m, s in self?.learned(a, m, side: s) })
            state.vips = Set(selection.vips)
            state.engine.adoptSyncDaemons(config.syncDaemons)
            state.syncFD = syncChange.masterFD ?? -1
            let cpu = cpus.isEmpty ? -1 : cpus[w % cpus.count]
            workers.append(Worker(id: w, cpu: Int32(cpu), state: state, stop: stopFlag))
        }

        // Keep the host's stack off what we take, then start.
        guards.append(IngressGuard(device: client.device, vlan: client.vlan))
        if !oneArmed && server.device != client.device { guards.append(IngressGuard(device: server.device, vlan: server.vlan)) }
        for g in guards { try g.install(selection) }
        for w in workers { w.start() }
        lock.with { commitSync(syncChange) }
        announceVIPs(selection.vips)
        control = try ControlServer(path: options.controlPath, director: self)
        userSecondsAtReady = Self.userSeconds()
        if let f = options.readyFile { let fd = creat(f, 0o644); if fd >= 0 { close(fd) } }
        log.info("uvsd running", metadata: [
            "client": "\(client)", "server": "\(oneArmed ? "(one-armed)" : server.description)",
            "workers": "\(options.workers)", "services": "\(config.services.filter(\.live).count)",
            "vips": "\(selection.vips.map(\.description).joined(separator: ","))",
        ])
    }

    static func userSeconds() -> Double {
        var ru = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &ru)
        return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6
    }

    /// The CPUs the workers of `options` run on.
    public static func workerCPUs(_ options: DirectorOptions) -> [Int] {
        let cpus = cpuRotation(options)
        return cpus.isEmpty ? [] : Array(Set((0..<options.workers).map { cpus[$0 % cpus.count] })).sorted()
    }

    /// Lets the calling thread run only on the allowed CPUs no worker is pinned to (all of
    /// them when the workers take every one): the checks' threads, off the packet path.
    public static func keepOffWorkers(_ options: DirectorOptions) {
        let busy = Set(workerCPUs(options))
        let free = allowedCPUs().filter { !busy.contains($0) }
        if !free.isEmpty { _ = free.map(Int32.init).withUnsafeBufferPointer { uvs_pin_thread_set($0.baseAddress, Int32($0.count)) } }
    }

    /// The CPUs worker w is pinned to in turn (cpus[w % count]).
    static func cpuRotation(_ options: DirectorOptions) -> [Int] { options.workerCPUs ?? allowedCPUs() }

    static func allowedCPUs() -> [Int] {
        var buf = [Int32](repeating: 0, count: 1024)
        let n = Int(uvs_allowed_cpus(&buf, 1024))
        return buf[..<n].map(Int.init)
    }

    /// Gratuitous ARP (and unsolicited NA) for every VIP, as piranha's send_arp on takeover.
    func announceVIPs(_ vips: [IPAddr]) {
        guard let w = workers.first, !vips.isEmpty else { return }
        w.post { s in
            for v in vips {
                if v.isV4 {
                    s.sendNow(s.links[0].gratuitousARP(vip: v), side: .client)
                } else {
                    let all = IPAddr(hi: 0xFF02_0000_0000_0000, lo: 1)
                    s.sendNow(s.links[0].neighbourAdvertisement(vip: v, to: MACAddr(value: 0x3333_0000_0001), dstIP: all,
                                                                  solicited: false), side: .client)
                }
            }
        }
    }

    // MARK: neighbours

    /// What the director knows of a next hop's reachability (server side).
    struct NeighbourState {
        var confirmed: UInt64
        var probed: UInt64? = nil
        var permanent = false
    }

    /// A worker heard from a neighbour (ARP/ND): tell every worker once if its MAC is new.
    func learned(_ addr: IPAddr, _ mac: MACAddr, side: Side, confirmed: Bool = true, permanent: Bool = false) {
        let now = uvs_monotonic_ns()
        let changed = neighbourLock.with { () -> Bool in
            if confirmed || permanent || reachability[addr] == nil {
                reachability[addr] = NeighbourState(confirmed: now, permanent: permanent)
            }
            if neighbours[addr] == mac { return false }
            neighbours[addr] = mac
            return true
        }
        guard changed else { return }
        log.debug("neighbour \(addr) is at \(mac)")
        for w in workers { w.post { $0.neighbourResolved(addr, mac, side: side) } }
    }

    /// Picks up changes in the kernel's neighbour table (e.g. an operator's `ip neigh replace`).
    func refreshNeighbours() {
        let kernel = KernelNeighbours.dump()
        let wanted = Set(neighbourLock.with { Array(neighbours.keys) } + lock.with { Self.realServers(config) })
        for e in kernel where e.ifindex == server.index && wanted.contains(e.addr) {
            learned(e.addr, e.mac, side: .server, confirmed: false, permanent: e.permanent)
        }
    }

    /// Real servers not heard from for `neighbourReachable` seconds are asked again; one
    /// that stays silent 3 s more is forgotten: its frames then wait for it (bounded) and
    /// are dropped and counted, while everything else keeps flowing.
    func ageNeighbours() {
        let now = uvs_monotonic_ns()
        let reachable = UInt64(options.neighbourReachable) * 1_000_000_000
        let servers = Set(lock.with { Self.realServers(config) })
        var ask: [IPAddr] = [], forget: [IPAddr] = []
        neighbourLock.with {
            for (a, st) in reachability where !st.permanent && servers.contains(a) && neighbours[a] != nil {
                if let p = st.probed {
                    if now - p > 3_000_000_000 { forget.append(a) }
                } else if now - st.confirmed > reachable {
                    reachability[a]!.probed = now
                    ask.append(a)
                }
            }
            for a in forget {
                neighbours[a] = nil
                reachability[a] = nil
            }
        }
        if let w = workers.first, !ask.isEmpty {
            let addrs = ask
            w.post { s in for a in addrs { s.ask(a, side: .server) } }
        }
        for a in forget {
            log.warning("real server \(a) stopped answering ARP/ND: its frames wait for it, then are dropped")
            for w in workers { w.post { $0.neighbourLost(a) } }
        }
    }

    // MARK: run

    /// Serves until SIGTERM/SIGINT; SIGHUP reloads the rules. Returns after a clean stop.
    public func run() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, s) }
        var lastStats = uvs_monotonic_ns(), lastNeigh = lastStats
        while true {
            var ts = timespec(tv_sec: 1, tv_nsec: 0)
            let sig = sigtimedwait(&set, nil, &ts)
            if sig == SIGTERM || sig == SIGINT {
                log.info("signal \(sig == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
                break
            }
            if sig == SIGHUP {
                if let h = reloadHandler { h() } else { reload() }
            }
            let now = uvs_monotonic_ns()
            if options.statsInterval > 0 && now - lastStats >= UInt64(options.statsInterval) * 1_000_000_000 {
                lastStats = now
                logCounters()
            }
            if now - lastNeigh >= 5_000_000_000 {
                lastNeigh = now
                refreshNeighbours()
            }
            ageNeighbours()
        }
        stop()
    }

    /// Blocks the signals `run` waits for; call before any thread starts.
    public static func blockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    func stop() {
        let totals = edgeCounters()
        tearDown()
        // For ../shared/limit: PACKET_STATISTICS and user CPU time (all of it, and since the
        // director was ready, per frame received).
        let user = Self.userSeconds()
        let running = user - userSecondsAtReady
        let perFrame = totals.received > 0 ? Int(running * 1e9 / Double(totals.received)) : 0
        writeText("uvsd stopped: received=\(totals.received) sent=\(totals.sent) tp_packets=\(totals.received) "
                  + "tp_drops=\(totals.ringDrops) user_s=\(user) user_ns_per_frame_after_ready=\(perFrame)\n", to: 1)
    }

    /// Undoes setup: tc filters, control socket, ready file. Safe after a partial start.
    func tearDown() {
        lock.with { commitSync(SyncChange(masterFD: -1, backupFD: -1)) }
        if !workers.isEmpty {
            stopFlag.set()
            for w in workers { w.join() }
            workers.removeAll()
        }
        control?.close()
        control = nil
        for g in guards { g.remove() }
        guards.removeAll()
        if let f = options.readyFile { unlink(f) }
    }

    // MARK: counters

    /// Engine snapshots from every worker (each taken between two batches).
    func snapshots() -> [CounterSnapshot] {
        workers.map { w in
            let box = ResultBox<CounterSnapshot>()
            w.perform { box.value = $0.engine.counterSnapshot() }
            return box.value!
        }
    }

    func edgeCounters() -> EdgeCounters {
        workers.reduce(EdgeCounters()) { sum, w in
            let box = ResultBox<EdgeCounters>()
            w.perform { s in
                for i in s.rings.indices { s.counters.ringDrops &+= UInt64(s.rings[i].statistics().drops) }
                box.value = s.currentCounters
            }
            return sum + box.value!
        }
    }

    /// The drop counters by reason: the engine's and the edge's.
    func dropReport() -> [(String, UInt64)] {
        let snaps = snapshots()
        var out: [(String, UInt64)] = DropReason.allCases.map { r in (r.name, snaps.reduce(0) { $0 + ($1.drops.count > r.rawValue ? $1.drops[r.rawValue] : 0) }) }
        out += edgeCounters().drops
        out.append(("sync-message-rejected", syncLock.with { syncRejected }))
        return out
    }

    func logCounters() {
        let snaps = snapshots()
        let edge = edgeCounters()
        let drops = dropReport().filter { $0.1 > 0 }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        let conns = snaps.reduce(0) { $0 + $1.connections }
        let daemons = lock.with { config.syncDaemons.map(\.role) }
        let received = syncLock.with { syncMessages }
        let sync = (daemons.contains(.master) ? " sync-sent=\(edge.syncSent)" : "")
            + (daemons.contains(.backup) ? " sync-received=\(received)" : "")
        log.info("counters: received=\(edge.received) sent=\(edge.sent) staged=\(edge.staged) connections=\(conns) arp-replies=\(edge.arpReplies)\(sync) drops: \(drops.isEmpty ? "none" : drops)")
    }
}
