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
        gc.run(until: now, table: &table, expiration: expiration) { $0.lastUse }
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
}

/// The lblc/lblcr garbage-collection timer (every 60 s; a full check every 30th run, or a
/// partial one when the table holds more than 16384 entries), replayed lazily.
struct CacheCollector: Sendable {
    var counter = 1
    var nextRun: Nanos? = nil

    mutating func run<V>(until now: Nanos, table: inout [IPAddr: V], expiration: Nanos, lastUse: (V) -> Nanos) {
        guard let first = nextRun else {
            nextRun = now + LocalityBasedLeastConnection.period
            return
        }
        let period = LocalityBasedLeastConnection.period, maxSize = LocalityBasedLeastConnection.maxSize
        var t = first
        while t <= now {
            if counter % 30 == 0 {
                // Full check: everything unused for the expiration time goes.
                let at = t
                table = table.filter { at < lastUse($0.value) + expiration }
                counter = 1
            } else if table.count <= maxSize {
                // Nothing happens but the count: jump to the run before the next full check.
                let skip = min(30 - counter % 30, Int((now - t) / period) + 1)
                counter += skip
                t += Nanos(skip) * period
                continue
            } else {
                // Over the size limit: drop up to `goal` entries idle for 6 minutes.
                var goal = min((table.count - maxSize) * 4 / 3, maxSize / 2)
                for (k, v) in table where goal > 0 && t >= lastUse(v) + Time.seconds(360) {
                    table[k] = nil
                    goal -= 1
                }
            }
            t += period
        }
        nextRun = t
    }
}
