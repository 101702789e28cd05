import UVSConfig

/// One check of one real server, as its tool counts results: keepalived's checker (retry,
/// delay_before_retry, alpha), piranha's nanny (one failure out, ⌊reentry/timeout⌋ passes in a
/// row back) or ldirectord (failurecount failures out, one success back). Pure: the caller
/// probes, reports the verdict and waits the returned delay before the next probe.
public struct CheckerState: Sendable, Equatable {
    public enum Policy: Sendable, Equatable {
        case keepalived(retry: Int, delayBeforeRetry: Double, interval: Double, downInterval: Double)
        case nanny(passesToReenter: Int, interval: Double)
        case ldirectord(failureCount: Int, interval: Double, combinedConnects: Int?)
    }
    public let policy: Policy
    public private(set) var up: Bool
    /// keepalived: retries left before the checker goes down; nanny: passes in a row;
    /// ldirectord: failures in a row while up.
    public private(set) var count: Int
    /// nanny: the server has been added at least once (quiesce edits it to 0 afterwards).
    public private(set) var everUp: Bool
    /// ldirectord combined checktype: connect checks left before the next negotiate.
    public private(set) var connectsLeft = 0

    public init(_ policy: Policy, alpha: Bool) {
        self.policy = policy
        switch policy {
        case .keepalived:
            // Without alpha the checker starts up with its retries used: the first failure takes it out.
            up = !alpha; count = 0
        case .nanny(let c, _):
            up = false; count = c
        case .ldirectord:
            // ldirectord adds every server and takes it out again before its first round.
            up = false; count = 0
        }
        everUp = up
    }

    /// The policy of `spec` under `format`'s tool; `failureCount`, `reentry` from its server.
    public static func policy(for spec: CheckSpec, format: ConfigFormat, server: ConfiguredRealServer) -> Policy {
        switch format {
        case .lvs:
            let c = spec.interval > 0 ? Int(server.reentry / spec.interval) : 0
            return .nanny(passesToReenter: c, interval: spec.interval)
        case .ldirectord:
            return .ldirectord(failureCount: max(1, server.failureCount), interval: spec.interval,
                               combinedConnects: spec.setting("combined").flatMap { Int($0.first ?? "") })
        case .keepalived, .rules:
            // A failed HTTP/SSL url is re-polled every max(delay_before_retry, delay_loop).
            let down = spec.kind == .http || spec.kind == .https ? max(spec.delayBeforeRetry, spec.interval) : spec.interval
            return .keepalived(retry: spec.retry, delayBeforeRetry: spec.delayBeforeRetry, interval: spec.interval, downInterval: down)
        }
    }

    /// ldirectord's forced down (a maintenance file): out at once, whatever failurecount says.
    public mutating func forceDown() -> (changed: Bool, next: Double) {
        let was = up
        up = false; count = 0; connectsLeft = 0
        let next: Double
        switch policy {
        case let .keepalived(_, _, _, down): next = down
        case let .nanny(_, interval), let .ldirectord(_, interval, _): next = interval
        }
        return (was, next)
    }

    /// ldirectord combined checktype: whether the next probe is the full (negotiate) one.
    public var nextIsNegotiate: Bool { connectsLeft == 0 }

    /// Records a verdict; returns whether `up` changed and the delay before the next probe.
    public mutating func record(passed: Bool) -> (changed: Bool, next: Double) {
        let was = up
        let next: Double
        switch policy {
        case let .keepalived(retry, delayBeforeRetry, interval, downInterval):
            if passed {
                up = true; count = retry; next = interval
            } else if up && count > 0 {
                count -= 1; next = delayBeforeRetry
            } else {
                up = false; next = downInterval
            }
        case let .nanny(c, interval):
            if passed {
                count += 1
                if !up && count >= c { up = true; everUp = true }
            } else {
                count = 0; up = false
            }
            next = interval
        case let .ldirectord(failureCount, interval, combined):
            if passed {
                count = 0; up = true
                if let n = combined { connectsLeft = connectsLeft > 0 ? connectsLeft - 1 : n }
            } else {
                connectsLeft = 0
                if up {
                    count += 1
                    if count >= failureCount { up = false; count = 0 }
                }
            }
            next = interval
        }
        if up { everUp = true }
        return (was != up, next)
    }
}
