import UVSPacket

/// One engine's counters, keyed by what they count (services by key, destinations by
/// service and address), so that several workers' engines add up into one listing even
/// when their destination stores are ordered differently.
public struct CounterSnapshot: Sendable {
    public struct DestinationKey: Hashable, Sendable {
        public var service: ServiceKey
        public var addr: IPAddr
        public var port: UInt16
    }
    public struct DestinationCounts: Sendable {
        public var active: Int32 = 0, inactive: Int32 = 0, persistent: Int32 = 0
        public var counters = Counters()
    }
    public var services: [ServiceKey: Counters] = [:]
    public var destinations: [DestinationKey: DestinationCounts] = [:]
    public var totals = Counters()
    public var drops: [UInt64] = []
    public var passed: UInt64 = 0
    public var connections = 0
    public init() {}
}

extension Counters {
    /// Sum of two workers' counters (rates add up: the estimator is linear).
    public static func + (a: Counters, b: Counters) -> Counters {
        var r = a
        r.current = a.current + b.current
        r.zeroPoint = a.zeroPoint + b.zeroPoint
        r.estimator = a.estimator + b.estimator
        return r
    }
}

extension Stats {
    public static func + (a: Stats, b: Stats) -> Stats {
        var r = Stats()
        r.conns = a.conns &+ b.conns; r.inPkts = a.inPkts &+ b.inPkts; r.outPkts = a.outPkts &+ b.outPkts
        r.inBytes = a.inBytes &+ b.inBytes; r.outBytes = a.outBytes &+ b.outBytes
        return r
    }
}

extension RateEstimator {
    static func + (a: RateEstimator, b: RateEstimator) -> RateEstimator {
        var r = a
        r.last = a.last + b.last
        r.cps += b.cps; r.inPPS += b.inPPS; r.outPPS += b.outPPS; r.inBPS += b.inBPS; r.outBPS += b.outBPS
        return r
    }
}

extension Engine {
    /// This engine's counters (live services and their current destinations).
    public func counterSnapshot() -> CounterSnapshot {
        var s = CounterSnapshot()
        for svc in services where svc.live {
            s.services[svc.key] = svc.counters
            for d in svc.destinations {
                let x = dests[Int(d)]
                s.destinations[.init(service: svc.key, addr: x.addr, port: x.port)] =
                    .init(active: x.activeConns, inactive: x.inactiveConns, persistent: x.persistConns, counters: x.counters)
            }
        }
        s.totals = totals
        s.drops = drops
        s.passed = passed
        s.connections = conns.count
        return s
    }

    /// Replaces this engine's counters with the sum of `snapshots` (a configuration-only
    /// engine becomes the listing view of all workers).
    public mutating func showCounters(of snapshots: [CounterSnapshot]) {
        for i in services.indices where services[i].live {
            let key = services[i].key
            services[i].counters = snapshots.reduce(Counters()) { $0 + ($1.services[key] ?? Counters()) }
            for d in services[i].destinations {
                let k = CounterSnapshot.DestinationKey(service: key, addr: dests[Int(d)].addr, port: dests[Int(d)].port)
                var sum = CounterSnapshot.DestinationCounts()
                for s in snapshots {
                    guard let x = s.destinations[k] else { continue }
                    sum.active += x.active; sum.inactive += x.inactive; sum.persistent += x.persistent
                    sum.counters = sum.counters + x.counters
                }
                dests[Int(d)].activeConns = sum.active
                dests[Int(d)].inactiveConns = sum.inactive
                dests[Int(d)].persistConns = sum.persistent
                dests[Int(d)].counters = sum.counters
            }
        }
        totals = snapshots.reduce(Counters()) { $0 + $1.totals }
    }
}
