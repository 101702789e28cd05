import UVSPacket

/// All vrrp_instances of one director with their trackers and sync groups, as keepalived's
/// VRRP process runs them: routes timers, adverts and tracker verdicts to the instances and
/// keeps each sync group together (spec §1.8) — a member may become master only when every
/// member wants it, then all are master; one falling back to BACKUP or into FAULT takes the
/// others with it. Pure: the I/O edge supplies the clock (µs) and performs the events.
public struct VRRPSystem: Sendable {
    public struct Event: Sendable, Equatable {
        public var instance: Int
        public var action: VRRPInstance.Action
    }

    public private(set) var instances: [VRRPInstance]
    public private(set) var trackers: [[VRRPTracker]]
    let groups: [[Int]]
    let groupOf: [Int?]

    /// `groups`: member indexes; `trackers[i]`: instance i's trackers (a sync group's own
    /// trackers are listed under each member).
    public init(_ instances: [VRRPInstance], groups: [[Int]] = [], trackers: [[VRRPTracker]]? = nil) {
        self.instances = instances
        self.trackers = trackers ?? Array(repeating: [], count: instances.count)
        self.groups = groups
        var of = [Int?](repeating: nil, count: instances.count)
        for (g, members) in groups.enumerated() { for m in members { of[m] = g } }
        groupOf = of
    }

    public var deadline: Int64 { instances.map(\.deadline).min() ?? .max }

    func verdict(_ i: Int) -> VRRPTracking.Verdict {
        VRRPTracking.evaluate(base: instances[i].config.priority, trackers[i])
    }

    /// The members of i's group (just i when it has none).
    func members(_ i: Int) -> [Int] { groupOf[i].map { groups[$0] } ?? [i] }

    func groupFault(_ i: Int) -> Bool { members(i).contains { verdict($0).fault } }
    func groupWaiting(_ i: Int) -> Bool { members(i).contains { verdict($0).waiting } }

    public mutating func start(now: Int64) -> [Event] {
        var out: [Event] = []
        for i in instances.indices {
            instances[i].setPriority(verdict(i).priority)
            if groupWaiting(i) { continue }   // INIT until its weight-0 scripts report
            out += instances[i].start(now: now, fault: groupFault(i)).map { Event(instance: i, action: $0) }
        }
        return out
    }

    public mutating func tick(now: Int64) -> [Event] {
        var out: [Event] = []
        for i in instances.indices where now >= instances[i].deadline {
            let ready = members(i).allSatisfy { $0 == i || instances[$0].wantsMaster || instances[$0].state == .master }
            out += propagate(i, instances[i].timerExpired(now: now, groupReady: ready), now: now)
        }
        return out
    }

    public mutating func received(_ advert: VRRPAdvert, from source: IPAddr, instance i: Int, now: Int64) -> [Event] {
        propagate(i, instances[i].received(advert, from: source, now: now), now: now)
    }

    /// Tracker `t` of instance `i` changed (an interface went down, a script's verdict moved).
    public mutating func setTracker(instance i: Int, tracker t: Int, up: Bool?, now: Int64) -> [Event] {
        guard trackers[i].indices.contains(t), trackers[i][t].up != up else { return [] }
        trackers[i][t].up = up
        instances[i].setPriority(verdict(i).priority)
        var out: [Event] = []
        let fault = groupFault(i)
        for m in members(i) {
            let s = instances[m].state
            if s == .initialize && !groupWaiting(m) && instances[m].deadline == .max {
                out += instances[m].start(now: now, fault: fault).map { Event(instance: m, action: $0) }
            } else if fault && s != .fault && s != .initialize {
                out += instances[m].enterFault().map { Event(instance: m, action: $0) }
            } else if !fault && s == .fault {
                out += instances[m].leaveFault(now: now).map { Event(instance: m, action: $0) }
            }
        }
        return out
    }

    /// Every master resigns (priority 0) and releases its VIPs.
    public mutating func stop() -> [Event] {
        var out: [Event] = []
        for i in instances.indices { out += instances[i].stop().map { Event(instance: i, action: $0) } }
        return out
    }

    /// The group follows what instance i did on its own.
    mutating func propagate(_ i: Int, _ actions: [VRRPInstance.Action], now: Int64) -> [Event] {
        var out = actions.map { Event(instance: i, action: $0) }
        guard groupOf[i] != nil else { return out }
        for a in actions {
            for m in members(i) where m != i {
                switch a {
                case .entered(.master): out += instances[m].forceMaster(now: now).map { Event(instance: m, action: $0) }
                case .entered(.backup): out += instances[m].forceBackup(now: now).map { Event(instance: m, action: $0) }
                default: break
                }
            }
        }
        return out
    }
}
