/// One pulse daemon's decisions (spec §3.4, service = lvs): both nodes start inactive and send
/// "stopped" every `keepalive` seconds; `deadtime` seconds without a valid heartbeat while
/// inactive activates; "stopped" heard by the inactive master activates it; "running" heard by
/// an active backup deactivates it (both active: the backup yields). Pure; times in seconds.
public struct PulseNode: Sendable {
    public enum Action: Sendable, Equatable {
        case send(PulseHeartbeat)
        /// Start the LVS daemon, bring the VIPs up, send_arp (and the sync daemon to master).
        case activate(reason: String)
        /// Stop the LVS daemon, take the VIPs down (sync daemon to backup).
        case deactivate(reason: String)
        /// Already active and the partner claims to be too: re-announce the VIPs.
        case reannounce
    }

    public let isPrimary: Bool
    public let keepalive: Double
    public let deadtime: Double
    public let fos: Bool
    public private(set) var active = false
    public private(set) var nextSend: Double
    public private(set) var deadline: Double

    public init(isPrimary: Bool, keepalive: Double = 2, deadtime: Double = 5, fos: Bool = false, now: Double) {
        self.isPrimary = isPrimary; self.keepalive = keepalive; self.deadtime = deadtime; self.fos = fos
        nextSend = now
        deadline = now + deadtime
    }

    /// Call at least at `min(nextSend, deadline)`.
    public mutating func tick(now: Double) -> [Action] {
        var out: [Action] = []
        if now >= nextSend {
            out.append(.send(PulseHeartbeat.state(active: active, fos: fos)))
            nextSend = now + keepalive
        }
        if now >= deadline {
            deadline = now + deadtime
            if !active {
                active = true
                out.append(.activate(reason: "partner dead: activating lvs"))
            }
        }
        return out
    }

    /// A valid heartbeat from the partner.
    public mutating func received(_ h: PulseHeartbeat, now: Double) -> [Action] {
        deadline = now + deadtime
        let partnerActive = h == .lvsActive || h == .fosActive
        let partnerInactive = h == .lvsInactive || h == .fosInactive
        if partnerInactive && !active && isPrimary {
            active = true
            return [.activate(reason: "partner inactive: activating lvs")]
        }
        if partnerActive && active {
            if isPrimary { return [.reannounce] }
            active = false
            return [.deactivate(reason: "partner active: deactivating lvs")]
        }
        return []
    }

    /// SIGTERM / SIGINT: an active node deactivates.
    public mutating func stop() -> [Action] {
        defer { active = false }
        return active ? [.deactivate(reason: "shutting down")] : []
    }
}
