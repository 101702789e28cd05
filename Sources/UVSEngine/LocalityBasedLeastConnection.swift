import UVSPacket

/// lblc (spec §2.10): a per-service cache destination address → real server (1024 buckets),
/// kept while the server is usable and not "overloaded in lblc sense"; misses pick by wlc.
/// Entries expire by the kernel's 60 s garbage-collection timer, run here on the injected
/// clock when the scheduler is next consulted.
public struct LocalityBasedLeastConnection: Scheduler {
    public static let name = "lblc"
    static let bits = 10
    static let maxSize = 1024 * 16
    static let period: Nanos = Time.seconds(60)

    struct Entry { var dest: Int32; var lastUse: Nanos }
    var table: [IPAddr: Entry] = [:]
    var gc: CacheCollector
    let expiration: Nanos

    public init(setup: SchedulerSetup, destinations: DestinationList) {
        expiration = Time.seconds(setup.sysctls.lblcExpiration)
        gc = CacheCollector()
    }

    public static func bucket(_ addr: IPAddr) -> Int { Int(hash32(addr.fold, bits: bits)) }

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        let now = request.now
        var collector = gc
        collector.run(until: now, entries: table.count, collect: { full, t, goal in collect(full: full, at: t, goal: goal) })
        gc = collector
        let key = request.inverse ? request.src : request.dst
        if var e = table[key] {
            e.lastUse = now
            table[key] = e
            let d = list.store[Int(e.dest)]
            if d.available && d.weight > 0 && !LocalityBasedLeastConnection.overloaded(d, list),
               let pos = (0..<list.count).first(where: { list.id($0) == e.dest }) {
                return pos
            }
        }
        guard let pos = WeightedLeastConnection.pick(list) else { return nil }
        let id = list.id(pos)
        if table[key]?.dest != id { table[key] = Entry(dest: id, lastUse: now) }
        return pos
    }

    /// "Overloaded in lblc sense": more active connections than its weight while some
    /// server of the service has active * 2 < weight.
    static func overloaded(_ d: RealServer, _ list: DestinationList) -> Bool {
        guard d.activeConns > d.weight else { return false }
        for i in 0..<list.count where Int64(list[i].activeConns) * 2 < Int64(list[i].weight) { return true }
        return false
    }

    mutating func collect(full: Bool, at t: Nanos, goal: Int) {
        if full {
            table = table.filter { t < $0.value.lastUse + expiration }
        } else {
            var left = goal
            for (k, e) in table where left > 0 && t >= e.lastUse + Time.seconds(360) {
                table[k] = nil
                left -= 1
            }
        }
    }
}

/// The lblc/lblcr garbage-collection timer (every 60 s; a full check every 30th run, or a
/// partial one when the table holds more than 16384 entries), replayed lazily.
struct CacheCollector: Sendable {
    var counter = 1
    var nextRun: Nanos? = nil

    mutating func run(until now: Nanos, entries: Int, collect: (_ full: Bool, _ at: Nanos, _ goal: Int) -> Void) {
        guard let first = nextRun else {
            nextRun = now + LocalityBasedLeastConnection.period
            return
        }
        var t = first
        var n = entries
        while t <= now {
            if counter % 30 == 0 {
                collect(true, t, 0)
                counter = 1
            } else if n <= LocalityBasedLeastConnection.maxSize {
                // Nothing happens but the count: jump to the run before the next full check.
                let runsToFull = 30 - counter % 30
                let skip = min(runsToFull, Int((now - t) / LocalityBasedLeastConnection.period) + 1)
                counter += skip
                t += Nanos(skip) * LocalityBasedLeastConnection.period
                continue
            } else {
                let maxSize = LocalityBasedLeastConnection.maxSize
                collect(false, t, min((n - maxSize) * 4 / 3, maxSize / 2))
                n = maxSize
            }
            t += LocalityBasedLeastConnection.period
        }
        nextRun = t
    }
}
