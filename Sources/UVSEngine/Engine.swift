import UVSPacket

/// A complete service definition as ipvsadm sends it (full replacement, spec §6.2).
public struct ServiceSpec: Sendable, Equatable {
    public var key: ServiceKey
    public var scheduler: String
    public var flags: UInt32
    public var timeout: UInt32
    public var netmask: UInt32
    public var persistenceEngine: String?

    public init(key: ServiceKey, scheduler: String = "wlc", flags: UInt32 = 0, timeout: UInt32 = 0,
                netmask: UInt32? = nil, persistenceEngine: String? = nil) {
        self.key = key; self.scheduler = scheduler; self.flags = flags; self.timeout = timeout
        self.netmask = netmask ?? (key.isV6 ? 128 : 0xFFFF_FFFF)
        self.persistenceEngine = persistenceEngine
    }
}



/// A complete destination definition as ipvsadm sends it.
public struct DestinationSpec: Sendable, Equatable {
    public var addr: IPAddr
    public var port: UInt16
    public var method: ForwardMethod
    public var weight: Int32
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32
    public var tunnelType: TunnelType
    public var tunnelPort: UInt16
    public var tunnelChecksum: TunnelChecksum

    public init(addr: IPAddr, port: UInt16, method: ForwardMethod = .directRoute, weight: Int32 = 1,
                upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0, tunnelType: TunnelType = .ipip,
                tunnelPort: UInt16 = 0, tunnelChecksum: TunnelChecksum = .none) {
        self.addr = addr; self.port = port; self.method = method; self.weight = weight
        self.upperThreshold = upperThreshold; self.lowerThreshold = lowerThreshold
        self.tunnelType = tunnelType; self.tunnelPort = tunnelPort; self.tunnelChecksum = tunnelChecksum
    }
}

/// The IPVS engine: services, real servers, the connection table and the packet path.
/// Pure and deterministic: time comes with every call, randomness from the seeded source.
/// One engine belongs to one worker thread. A struct, so the per-packet path works on
/// its own storage with static exclusivity (no runtime access checks, no ARC).
public struct Engine {
    public var sysctls: Sysctls
    public var timeouts = Timeouts()
    public var topology: Topology
    public internal(set) var services: [VirtualService] = []
    var schedulers: ContiguousArray<SchedulerCell?> = []
    var serviceIndex: [ServiceKey: Int32] = [:] { didSet { serviceCache.removeAll() } }
    /// Recent packet-path service lookups (direct-mapped): a new connection to a known VIP
    /// skips hashing the key through the dictionary. Cleared whenever services change.
    var serviceCache = ServiceCache()
    var port0Services = 0
    var ftpServices = 0
    public internal(set) var dests = ContiguousArray<RealServer>()
    /// Deleted destinations by identity, for resurrection (checked against the trash rule).
    var trashed: [TrashKey: Int32] = [:]
    struct TrashKey: Hashable { var service: Int32; var addr: IPAddr; var port: UInt16 }
    /// Packet-marking rules for firewall-mark services (uvs marks packets itself).
    public var marks: [MarkRule] = []
    /// Addresses of (non-fwmark) services: the director's own, answered for by `toHost`.
    var vips: Set<IPAddr> = []
    /// Answer for the VIPs as the director's stack would (resets, port unreachables).
    public var answersForVIPs = true
    /// Resolved next-hop MAC per destination (parallel to `dests`).
    var destMACs = ContiguousArray<MACAddr?>()
    public internal(set) var conns: ConnectionTable
    public internal(set) var totals = Counters()
    public internal(set) var drops = [UInt64](repeating: 0, count: DropReason.allCases.count)
    /// Frames the engine left to the host stack (not IPVS traffic).
    public internal(set) var passed: UInt64 = 0
    /// The connection table size the listing reports (`size=`), as conn_tab_bits = 12.
    public var tableSizeReported = 4096
    public internal(set) var now: Nanos = 0
    var rng: SplitMix64
    /// Per-client ICMP error rate limiter state (token bucket, burst 6, 1/s).
    var icmpPeers: [IPAddr: (tokens: Nanos, last: Nanos)] = [:]
    /// Scratch space for generated frames (ICMP errors, second fragments).
    /// Room for every frame one input can generate: a 64 KiB packet in fragments, or ICMP errors.
    static let scratchSize = 256 * 1024
    let scratchBox = Scratch(size: Engine.scratchSize)
    var scratch: UnsafeMutableRawPointer { scratchBox.pointer }
    var scratchUsed = 0
    /// What the last `process` call sends, in order: the first `pendingCount` entries
    /// (the array only grows, so steady state appends nothing).
    public internal(set) var pending = ContiguousArray<PendingFrame>()
    public internal(set) var pendingCount = 0
    /// IPv4 datagrams being reassembled, and when the oldest expires.
    var fragments: [FragmentKey: FragmentQueue] = [:]
    var fragmentsDue: Nanos = .max
    var fragmentBytes = 0
    /// While a reassembled datagram is sent: the largest fragment it came in (0 otherwise).
    var refragmentSize = 0
    /// When the 2-second rate estimators run next (armed at the first packet).
    var estimatorDue: Nanos = .min
    /// The flow of the last input frame, before any rewriting (proto 0 when it was not a
    /// TCP/UDP packet with ports).
    public internal(set) var lastFlow = FlowTuple()
    /// The sync daemons' sides in this engine (spec §7): the master's message builder, and
    /// the backup's SyncID (0 = accept all) with its counters.
    public internal(set) var syncDaemons: [SyncDaemonConfig] = []
    public internal(set) var syncMaster: SyncMaster?
    var syncFlushDue: Nanos = .max
    public internal(set) var syncBackupID: UInt8?
    public internal(set) var syncBackup = SyncBackupCounters()
    /// The TCP transition tables, held here so the fast path reads them without a lazy
    /// global's initialisation check.
    let tcpTransitions = TCPStateMachine.tables

    public init(topology: Topology, sysctls: Sysctls = Sysctls(), seed: UInt64 = 1,
                initialConnections: Int = 4096, connectionLimit: Int = 1 << 24) {
        self.topology = topology
        self.sysctls = sysctls
        rng = SplitMix64(seed: seed)
        pending.reserveCapacity(64)
        conns = ConnectionTable(initialCapacity: initialConnections, limit: connectionLimit,
                                seed: UInt32(truncatingIfNeeded: seed &* 0x9E37_79B9))
    }

    @inline(__always) mutating func count(_ r: DropReason) { drops[r.rawValue] &+= 1 }

    public func dropCount(_ r: DropReason) -> UInt64 { drops[r.rawValue] }

    // MARK: configuration (spec §1.1, §1.2)

    /// Runs a scheduler hook with the service's current destination list (after the cell
    /// has taken the new order).
    mutating func notifyScheduler(_ svc: Int32, _ hook: (SchedulerCell, DestinationList) -> Void) {
        guard let sched = scheduler(svc) else { return }
        sched._withUnsafeGuaranteedRef { cell in
            DestinationList.with(order: services[Int(svc)].destinations, store: dests) {
                cell.setOrder($0.order)
                hook(cell, $0)
            }
        }
    }

    /// The service's scheduler cell (nil when it has none), copied first if another engine
    /// value shares it. Unretained: the engine's array keeps it alive, and nothing changes
    /// the array while the caller uses it, so a decision costs no reference counting.
    @inline(__always)
    mutating func scheduler(_ svc: Int32) -> Unmanaged<SchedulerCell>? {
        schedulers.withUnsafeMutableBufferPointer { cells in
            let i = Int(svc)
            guard cells[i] != nil else { return nil }
            if !isKnownUniquelyReferenced(&cells[i]) { cells[i] = cells[i]!.copy() }
            return Unmanaged.passUnretained(cells[i]!)
        }
    }

    func makeScheduler(_ name: String, flags: UInt32, _ svc: Int32?) -> SchedulerCell? {
        DestinationList.with(order: svc.map { services[Int($0)].destinations } ?? [], store: dests) {
            SchedulerRegistry.make(name, setup: SchedulerSetup(serviceFlags: flags, sysctls: sysctls), destinations: $0)
        }
    }

    public mutating func addService(_ spec: ServiceSpec) throws(IPVSError) {
        guard serviceIndex[spec.key] == nil else { throw .serviceExists }
        try validate(spec)
        let idx = Int32(services.count)
        let svc = VirtualService(key: spec.key, schedulerName: spec.scheduler, flags: spec.flags,
                                 timeout: spec.timeout, netmask: spec.netmask,
                                 persistenceEngine: spec.persistenceEngine)
        services.append(svc)
        schedulers.append(makeScheduler(spec.scheduler, flags: spec.flags, nil))
        serviceIndex[spec.key] = idx
        if !spec.key.isFwmark && spec.key.port == 0 { port0Services += 1 }
        if !spec.key.isFwmark { vips.insert(spec.key.addr) }
        if !spec.key.isFwmark && spec.key.port == 21 { ftpServices += 1 }
    }

    func validate(_ spec: ServiceSpec) throws(IPVSError) {
        guard spec.scheduler == "none" || SchedulerRegistry.type(named: spec.scheduler) != nil else {
            throw .schedulerNotFound
        }
        if let pe = spec.persistenceEngine, pe != "sip" { throw .schedulerNotFound }
        if spec.key.isV6 && (spec.netmask < 1 || spec.netmask > 128) { throw .invalidOperation }
    }

    public mutating func editService(_ spec: ServiceSpec) throws(IPVSError) {
        guard let idx = serviceIndex[spec.key] else { throw .noSuchService }
        try validate(spec)
        let i = Int(idx)
        if services[i].schedulerName != spec.scheduler || services[i].flags != spec.flags {
            // A new scheduler starts with fresh state; the same one keeps its state unless
            // its flags changed (sh/mh rebuild on flag change).
            if services[i].schedulerName != spec.scheduler {
                schedulers[i] = makeScheduler(spec.scheduler, flags: spec.flags, idx)
            }
        }
        services[i].schedulerName = spec.scheduler
        services[i].flags = spec.flags
        services[i].timeout = spec.timeout
        services[i].netmask = spec.netmask
        services[i].persistenceEngine = spec.persistenceEngine
    }

    public mutating func deleteService(_ key: ServiceKey) throws(IPVSError) {
        guard let idx = serviceIndex[key] else { throw .noSuchService }
        let i = Int(idx)
        for d in services[i].destinations { trash(d) }
        services[i].destinations = []
        services[i].live = false
        schedulers[i] = nil
        serviceIndex[key] = nil
        if !key.isFwmark && key.port == 0 { port0Services -= 1 }
        vips = Set(services.filter { $0.live && !$0.key.isFwmark }.map(\.key.addr))
        if !key.isFwmark && key.port == 21 { ftpServices -= 1 }
    }

    public mutating func clear() {
        for key in liveServiceKeys() { try? deleteService(key) }
    }

    public func liveServiceKeys() -> [ServiceKey] {
        services.filter(\.live).map(\.key)
    }

    mutating func trash(_ d: Int32) {
        dests[Int(d)].available = false
        dests[Int(d)].trashedAt = now
        trashed[TrashKey(service: dests[Int(d)].service, addr: dests[Int(d)].addr, port: dests[Int(d)].port)] = d
        if sysctls.expireNodestConn { expireConnections(ofUnavailable: d) }
    }

    func findDestination(_ svc: Int32, _ addr: IPAddr, _ port: UInt16) -> Int? {
        services[Int(svc)].destinations.firstIndex {
            dests[Int($0)].addr == addr && dests[Int($0)].port == port
        }
    }

    func checkDestination(_ svc: Int32, _ spec: DestinationSpec) throws(IPVSError) {
        if spec.weight < 0 { throw .outOfRange }
        if spec.lowerThreshold > spec.upperThreshold { throw .outOfRange }
        if spec.method == .tunnel && spec.tunnelType == .gue && spec.tunnelPort == 0 { throw .invalidOperation }
        let a = spec.addr
        if a.isV4 {
            let v = a.v4
            if v == 0 || v == 0xFFFF_FFFF || v >> 28 == 0xE { throw .invalidOperation }
        } else {
            if a.hi >> 56 == 0xFF || a.hi >> 54 == 0x3FA || (a.hi == 0 && a.lo <= 1) { throw .invalidOperation }
        }
        if a.isV4 != !services[Int(svc)].key.isV6 && spec.method != .tunnel { throw .invalidOperation }
    }

    mutating func apply(_ spec: DestinationSpec, to d: Int32, add: Bool) {
        let i = Int(d)
        if add || spec.weight != 0 { dests[i].lastWeight = spec.weight }
        dests[i].weight = spec.weight
        dests[i].method = spec.method
        dests[i].available = true
        dests[i].trashedAt = nil
        if spec.upperThreshold == 0 || spec.upperThreshold > dests[i].upperThreshold { dests[i].overloaded = false }
        dests[i].upperThreshold = spec.upperThreshold
        dests[i].lowerThreshold = spec.lowerThreshold
        dests[i].tunnelType = spec.tunnelType
        dests[i].tunnelPort = spec.tunnelPort
        dests[i].tunnelChecksum = spec.tunnelChecksum
        destMACs[i] = topology.neighbours[spec.addr]
    }

    public mutating func addDestination(_ key: ServiceKey, _ spec: DestinationSpec) throws(IPVSError) {
        guard let svc = serviceIndex[key] else { throw .serviceNotDefined }
        try checkDestination(svc, spec)
        if findDestination(svc, spec.addr, spec.port) != nil { throw .destinationExists }
        // A deleted destination still in the trash is resurrected with its counters.
        let d: Int32
        // Only destinations still in the trash can come back (a short list, pruned here).
        let key = TrashKey(service: svc, addr: spec.addr, port: spec.port)
        if let t = trashed.removeValue(forKey: key), !dests[Int(t)].available, inTrash(t) {
            d = t
        } else {
            d = Int32(dests.count)
            dests.append(RealServer(addr: spec.addr, port: spec.port, method: spec.method,
                                    weight: spec.weight, service: svc))
            destMACs.append(nil)
        }
        apply(spec, to: d, add: true)
        services[Int(svc)].destinations.insert(d, at: 0)
        notifyScheduler(svc) { $0.added(at: 0, $1) }
    }

    /// Trash rule: kept while referenced, or for 120 s after its last use.
    func inTrash(_ d: Int32) -> Bool {
        let x = dests[Int(d)]
        guard let t = x.trashedAt else { return false }
        return x.activeConns + x.inactiveConns + x.persistConns > 0 || now - t < Time.seconds(120)
    }

    public mutating func editDestination(_ key: ServiceKey, _ spec: DestinationSpec) throws(IPVSError) {
        guard let svc = serviceIndex[key] else { throw .serviceNotDefined }
        try checkDestination(svc, spec)
        guard let pos = findDestination(svc, spec.addr, spec.port) else { throw .noSuchDestination }
        apply(spec, to: services[Int(svc)].destinations[pos], add: false)
        notifyScheduler(svc) { $0.edited(at: pos, $1) }
    }

    public mutating func deleteDestination(_ key: ServiceKey, addr: IPAddr, port: UInt16) throws(IPVSError) {
        guard let svc = serviceIndex[key] else { throw .serviceNotDefined }
        guard let pos = findDestination(svc, addr, port) else { throw .noSuchDestination }
        let d = services[Int(svc)].destinations.remove(at: pos)
        notifyScheduler(svc) { $0.removed(at: pos, $1) }
        trash(d)
    }

    /// `-Z`: zero one service (and its destinations) or everything.
    public mutating func zero(_ key: ServiceKey?) throws(IPVSError) {
        if let key {
            guard let svc = serviceIndex[key] else { throw .noSuchService }
            services[Int(svc)].counters.zero()
            for d in services[Int(svc)].destinations { dests[Int(d)].counters.zero() }
        } else {
            for i in services.indices { services[i].counters.zero() }
            for i in dests.indices { dests[i].counters.zero() }
            totals.zero()
        }
    }

    /// Updates a neighbour's MAC (e.g. resolved by ARP at the edge).
    public mutating func setNeighbour(_ addr: IPAddr, _ mac: MACAddr) {
        topology.neighbours[addr] = mac
        for i in dests.indices where dests[i].addr == addr { destMACs[i] = mac }
    }

    // MARK: time

    /// Moves the engine's clock forward (never back) and runs due expiry timers.
    /// Timers fire in order, each at its own time (so a postponed template is re-armed
    /// from the moment it expired, as the kernel's timer would).
    public mutating func advance(to t: Nanos) {
        if t >= estimatorDue { runEstimators(until: t) }
        if t >= syncFlushDue { flushSync(at: t) }
        while let (slot, at) = conns.nextExpired(now: max(t, now)) {
            if at > now { now = at }
            expire(slot)
        }
        if t > now { now = t }
    }

    /// Connection expiry (spec §3.4).
    mutating func expire(_ i: Int32) {
        let c = conns[i]
        if c.nControl > 0 {
            // Still controls connections: check again in 60 s (one write: the table arms
            // the timer the expiry left unarmed).
            conns[i].postpone(timeoutMs: 60_000, now: now)
            if syncMaster != nil { syncConnection(i, pkts: UInt32(sysctls.syncThreshold)) }
            return
        }
        free(i)
    }

    /// Unlinks a connection from its controller and destination and frees the slot.
    mutating func free(_ i: Int32) {
        let c = conns[i]
        if c.control >= 0 {
            let t = c.control
            conns[t].nControl -= 1
            // A force-dropped child takes an idle, unassured template with it.
            if c.timeoutMs == 0 && conns[t].nControl == 0 && conns[t].state != TemplateState.assured.rawValue {
                expireNow(t)
            }
        }
        unbind(i)
        conns.remove(i)
    }

    /// "Expire now": the timer fires at the current time.
    mutating func expireNow(_ i: Int32) {
        conns[i].postpone(timeoutMs: 0, now: now)
        conns.armTimer(i)
    }

    /// Destination counters when a connection is freed (spec §1.3).
    mutating func unbind(_ i: Int32) {
        let c = conns[i]
        guard c.dest >= 0 else { return }
        let d = Int(c.dest)
        if c.isTemplate {
            dests[d].persistConns -= 1
        } else if c.flags & ConnFlags.inactive != 0 {
            dests[d].inactiveConns -= 1
        } else {
            dests[d].activeConns -= 1
        }
        let load = UInt32(max(0, dests[d].activeConns + dests[d].inactiveConns))
        if dests[d].lowerThreshold != 0 {
            if load < dests[d].lowerThreshold { dests[d].overloaded = false }
        } else if dests[d].upperThreshold != 0 {
            if UInt64(load) * 4 < UInt64(dests[d].upperThreshold) * 3 { dests[d].overloaded = false }
        } else {
            dests[d].overloaded = false
        }
        conns[i].dest = -1
    }

    /// expire_nodest_conn sweep after a delete (spec §3.7).
    mutating func expireConnections(ofUnavailable d: Int32) {
        for s in conns.liveSlots() where conns[s].dest == d && conns[s].nControl == 0 {
            expireNow(s)
        }
    }

}

/// An owned, fixed scratch buffer (freed with its last owner).
final class Scratch {
    let pointer: UnsafeMutableRawPointer
    init(size: Int) { pointer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16) }
    deinit { pointer.deallocate() }
}

/// A transport flow as the client sent it.
public struct FlowTuple: Hashable, Sendable {
    public var proto: UInt8 = 0
    public var src = IPAddr.zero4
    public var sport: UInt16 = 0
    public var dst = IPAddr.zero4
    public var dport: UInt16 = 0
    public init() {}
    public init(proto: UInt8, src: IPAddr, sport: UInt16, dst: IPAddr, dport: UInt16) {
        self.proto = proto; self.src = src; self.sport = sport; self.dst = dst; self.dport = dport
    }
}

extension Engine {
    static let estimatorPeriod = Time.seconds(2)

    /// Runs the rate estimators for every 2-second step up to `t` (after 64 idle steps the
    /// averages have decayed to nothing, so longer gaps are cut short).
    mutating func runEstimators(until t: Nanos) {
        if estimatorDue == .min {
            estimatorDue = t + Engine.estimatorPeriod
            return
        }
        var steps = 0
        while estimatorDue <= t {
            if steps < 64 {
                for i in dests.indices { dests[i].counters.estimator.tick(dests[i].counters.current) }
                for i in services.indices { services[i].counters.estimator.tick(services[i].counters.current) }
                totals.estimator.tick(totals.current)
            }
            steps += 1
            estimatorDue += Engine.estimatorPeriod
            if steps >= 64 && estimatorDue <= t {
                estimatorDue += (t - estimatorDue) / Engine.estimatorPeriod * Engine.estimatorPeriod
            }
        }
    }
}
