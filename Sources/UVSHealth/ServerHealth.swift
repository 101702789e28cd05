import UVSConfig

/// A real server's health: its checkers, the weight its tool gives it now (nanny's slow start,
/// keepalived's misc_dynamic), and what `uvsadm -L --checks` shows (since when, the last
/// failure and its reason). Times are seconds on the caller's clock.
public struct ServerHealth: Sendable {
    public let config: ConfiguredRealServer
    public let format: ConfigFormat
    public private(set) var checkers: [CheckerState]
    /// The weight the server has when it is in the table.
    public private(set) var weight: Int64
    public private(set) var since: Double
    public private(set) var lastFailure: (at: Double, reason: String)?
    /// When each checker probes next (set by the runner).
    public var nextProbe: [Double]
    /// nanny load_monitor: the slow start is done and this round asks the server's load
    /// (the runner runs the load command, then `applyLoad` or `loadUnknown`).
    public private(set) var loadDue = false

    public init(_ config: ConfiguredRealServer, format: ConfigFormat, now: Double) {
        self.config = config
        self.format = format
        checkers = config.checks.map {
            CheckerState(CheckerState.policy(for: $0, format: format, server: config), alpha: config.alpha)
        }
        weight = config.weight
        since = now
        nextProbe = config.checks.map { _ in now }
    }

    /// Alive iff every checker is up (no checkers: always alive); ldirectord's checktype=off is
    /// a checker that never passes.
    public var alive: Bool { checkers.allSatisfy(\.up) }

    /// nanny: the server was in the table once, so quiescing leaves it there at weight 0.
    public var everUp: Bool { checkers.allSatisfy(\.everUp) }

    /// Records checker `i`'s verdict; `dynamicWeight` is keepalived's misc_dynamic weight.
    /// Returns whether the server's liveness changed and the delay before that checker's next probe.
    /// `forced`: a failure that takes the checker down at once (ldirectord's maintenance files).
    public mutating func record(checker i: Int, passed: Bool, reason: String = "", dynamicWeight: Int64? = nil,
                                forced: Bool = false, now: Double) -> (changed: Bool, next: Double) {
        let was = alive
        let (_, next) = forced && !passed ? checkers[i].forceDown() : checkers[i].record(passed: passed)
        if !passed { lastFailure = (now, reason) }
        let isNow = alive
        if was != isNow { since = now }
        switch format {
        case .lvs:
            if isNow && !was {
                weight = max(1, config.weight >> 5)   // nanny's slow start from W/32
            } else if isNow, passed, case let .nanny(_, interval) = checkers[i].policy {
                // Doubling towards W every ~20 s: at every ⌊20/I⌋-th pass, or every pass when I > 20.
                let every = interval > 20 ? 1 : max(1, Int(20 / interval))
                if checkers[i].count % every == 0 {
                    if weight < config.weight { weight = min(config.weight, 2 * weight) }
                    else if config.loadMonitor != nil { loadDue = true }
                }
            }
        default:
            if let w = dynamicWeight { weight = w }
        }
        nextProbe[i] = now + next
        return (was != isNow, next)
    }

    /// nanny load_monitor: the weight from the server's load average (only raises it above W;
    /// applied when the change is at least W/4).
    public mutating func applyLoad(_ load: Double) {
        loadDue = false
        let w = Double(config.weight), cur = Double(weight)
        guard load >= 0, load != 1 else { return }
        var next: Double
        if load < 1 { next = min(cur + (w / 2) * cbrt(1 - load), 10 * w) }
        else { next = max(cur - (w / 2) * cbrt(load - 1), w) }
        next = next.rounded(.down)
        if abs(next - cur) >= w / 4 { weight = Int64(next) }
    }

    /// The load command failed or printed no load: the weight stays.
    public mutating func loadUnknown() { loadDue = false }

    /// nanny's reading of the load command's output: the number after the first ':' that
    /// follows the first "load" (uptime's and rup's "load average: 0.52, …"); nil if none.
    public static func load(from output: String) -> Double? {
        guard let l = output.firstRange(of: "load"), let colon = output[l.upperBound...].firstIndex(of: ":") else { return nil }
        let rest = output[output.index(after: colon)...].drop(while: { $0 == " " })
        return Double(String(rest.prefix(while: { $0.isNumber || $0 == "." })))
    }

    /// A reload that keeps this server: its state carries over to the new configuration.
    public func carried(to config: ConfiguredRealServer, now: Double) -> ServerHealth {
        var h = ServerHealth(config, format: format, now: now)
        h.checkers = checkers
        // A changed configured weight applies at once; nanny's slow start goes on below it.
        h.weight = format == .lvs ? min(weight, config.weight) : (config.weight == self.config.weight ? weight : config.weight)
        h.since = since
        h.lastFailure = lastFailure
        h.nextProbe = nextProbe
        return h
    }
}

#if canImport(Glibc)
import Glibc
#endif
