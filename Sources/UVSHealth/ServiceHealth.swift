import UVSConfig

/// A virtual service's health: its servers, keepalived's quorum (with hysteresis) or the
/// "no server up" rule of lvsd and ldirectord, and from them the table the service should
/// have — which servers are in it at which weight, and whether the sorry server is.
public struct ServiceHealth: Sendable {
    public let config: ConfiguredService
    public let format: ConfigFormat
    public var servers: [ServerHealth]
    /// keepalived: quorum held; lvsd/ldirectord: at least one server up.
    public private(set) var quorumUp: Bool

    public init(_ config: ConfiguredService, format: ConfigFormat, now: Double) {
        self.config = config
        self.format = format
        servers = config.realServers.map { ServerHealth($0, format: format, now: now) }
        quorumUp = true
        quorumUp = format == .keepalived ? aliveWeight >= config.quorum + config.hysteresis : servers.contains(where: \.alive)
    }

    /// Sum of the alive servers' weights (keepalived's quorum figure).
    public var aliveWeight: Int64 { servers.filter(\.alive).reduce(0) { $0 + $1.weight } }

    /// Re-evaluates the quorum after a change; returns the new state when it changed.
    public mutating func updateQuorum() -> Bool? {
        let was = quorumUp
        if format == .keepalived {
            let s = aliveWeight
            if !quorumUp && s >= config.quorum + config.hysteresis { quorumUp = true }
            else if quorumUp && (s == 0 || s < config.quorum - config.hysteresis) { quorumUp = false }
        } else {
            quorumUp = servers.contains(where: \.alive)
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

    /// The servers the table should hold, keyed by endpoint, sorry server included.
    public func desired() -> [String: Entry] {
        var out: [String: Entry] = [:]
        let sorryInUse = !quorumUp && config.sorryServer != nil
        for s in servers {
            let c = s.config
            let quiesced: Bool
            switch format {
            case .lvs: quiesced = c.inhibitOnFailure && s.everUp
            default: quiesced = c.inhibitOnFailure
            }
            if s.alive && !(sorryInUse && format == .keepalived) {
                out[c.endpoint] = Entry(server: c, weight: s.weight)
            } else if quiesced {
                out[c.endpoint] = Entry(server: c, weight: 0)
            }
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
