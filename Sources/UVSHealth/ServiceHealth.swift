import UVSConfig

/// A virtual service's health: its servers, keepalived's quorum (with hysteresis) or the
/// "no server up" rule of lvsd and ldirectord, and from them the table the service should
/// have — which servers are in it at which weight, and whether the sorry server is.
public struct ServiceHealth: Sendable {
    public let config: ConfiguredService
    public let format: ConfigFormat
    public private(set) var servers: [ServerHealth]
    /// keepalived: quorum held; lvsd/ldirectord: at least one server up.
    public private(set) var quorumUp: Bool
    /// Kept current by `record`, so a probe costs the same with 10 servers or 10,000.
    public private(set) var aliveWeight: Int64 = 0
    public private(set) var aliveCount = 0

    public init(_ config: ConfiguredService, format: ConfigFormat, now: Double) {
        self.config = config
        self.format = format
        servers = config.realServers.map { ServerHealth($0, format: format, now: now) }
        quorumUp = true
        recount()
        quorumUp = format == .keepalived ? aliveWeight >= config.quorum + config.hysteresis : aliveCount > 0
    }

    mutating func recount() {
        aliveWeight = 0; aliveCount = 0
        for s in servers where s.alive { aliveWeight += s.weight; aliveCount += 1 }
    }

    /// Records a verdict of server `j`'s checker `k` (see `ServerHealth.record`); returns
    /// whether the server's place in the table may have changed (liveness or weight).
    public mutating func record(server j: Int, checker k: Int, passed: Bool, reason: String = "", dynamicWeight: Int64? = nil,
                                forced: Bool = false, now: Double) -> (changed: Bool, tableChanged: Bool) {
        // The sums are adjusted for this server alone.
        var s = servers[j]
        let before = (s.alive, s.weight)
        let (changed, _) = s.record(checker: k, passed: passed, reason: reason, dynamicWeight: dynamicWeight, forced: forced, now: now)
        let after = (s.alive, s.weight)
        servers[j] = s
        aliveWeight += (after.0 ? after.1 : 0) - (before.0 ? before.1 : 0)
        aliveCount += (after.0 ? 1 : 0) - (before.0 ? 1 : 0)
        return (changed, before != after)
    }

    /// nanny load_monitor: server `j`'s load average (nil: unknown); returns whether its weight changed.
    public mutating func applyLoad(server j: Int, load: Double?) -> Bool {
        let before = servers[j].weight
        if let l = load { servers[j].applyLoad(l) } else { servers[j].loadUnknown() }
        if servers[j].alive { aliveWeight += servers[j].weight - before }
        return servers[j].weight != before
    }

    /// A reload carries server `j`'s state over.
    public mutating func replace(server j: Int, with h: ServerHealth) {
        servers[j] = h
        recount()
    }

    /// Sets when checker `k` of server `j` probes next.
    public mutating func schedule(server j: Int, checker k: Int, at t: Double) {
        servers[j].nextProbe[k] = t
    }

    /// Re-evaluates the quorum after a change; returns the new state when it changed.
    public mutating func updateQuorum() -> Bool? {
        let was = quorumUp
        if format == .keepalived {
            let s = aliveWeight
            if !quorumUp && s >= config.quorum + config.hysteresis { quorumUp = true }
            else if quorumUp && (s == 0 || s < config.quorum - config.hysteresis) { quorumUp = false }
        } else {
            quorumUp = aliveCount > 0
        }
        return was == quorumUp ? nil : quorumUp
    }

    /// One entry of the wanted table: a server at a weight.
    public struct Entry: Sendable, Equatable {
        public var server: ConfiguredRealServer
        public var weight: Int64
        public static func == (a: Entry, b: Entry) -> Bool {
            a.weight == b.weight && a.server.endpoint == b.server.endpoint && a.server.method == b.server.method
                && a.server.tunnel == b.server.tunnel && a.server.upperThreshold == b.server.upperThreshold
                && a.server.lowerThreshold == b.server.lowerThreshold
        }
    }

    var sorryInUse: Bool { !quorumUp && config.sorryServer != nil }

    /// Server `j`'s entry in the wanted table (nil: not in it).
    public func desired(server j: Int) -> Entry? {
        let s = servers[j], c = s.config
        let quiesced = format == .lvs ? c.inhibitOnFailure && s.everUp : c.inhibitOnFailure
        if s.alive && !(sorryInUse && format == .keepalived) { return Entry(server: c, weight: s.weight) }
        return quiesced ? Entry(server: c, weight: 0) : nil
    }

    /// The servers the table should hold, keyed by endpoint, sorry server included.
    public func desired() -> [String: Entry] {
        var out: [String: Entry] = [:]
        for j in servers.indices {
            if let e = desired(server: j) { out[e.server.endpoint] = e }
        }
        if let sorry = config.sorryServer {
            if sorryInUse { out[sorry.endpoint] = Entry(server: sorry, weight: 1) }
            else if config.sorryInhibit { out[sorry.endpoint] = Entry(server: sorry, weight: 0) }
        }
        return out
    }

    /// The uvsadm commands that turn the table `from` into the table `to` for this service.
    public func commands(from old: [String: Entry], to new: [String: Entry]) -> [[String]] {
        let sel = config.selectorWords
        var out: [[String]] = []
        for (ep, e) in new.sorted(by: { $0.key < $1.key }) {
            if let o = old[ep] {
                if o != e { out.append(["-e"] + e.server.words(selector: sel, weight: e.weight)) }
            } else {
                out.append(["-a"] + e.server.words(selector: sel, weight: e.weight))
            }
        }
        for ep in old.keys.sorted() where new[ep] == nil {
            out.append(["-d"] + sel + ["-r", ep])
        }
        return out
    }
}
