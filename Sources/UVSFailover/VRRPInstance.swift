import UVSPacket

/// One vrrp_instance's state machine as keepalived runs it (spec §1.7–1.8): pure, on a clock in
/// microseconds the caller supplies. Inputs are start, stop, the timer's expiry, accepted
/// adverts (already validated by `VRRPReceive`), the trackers' verdicts (effective priority,
/// fault) and, for sync groups, the group's orders; outputs are the actions the I/O edge performs.
public struct VRRPInstance: Sendable {
    public enum State: Int, Sendable { case initialize = 0, backup = 1, master = 2, fault = 3 }

    public enum Action: Sendable, Equatable {
        /// Send one advert with this priority (0: resigning).
        case advertise(priority: UInt8)
        /// Own the VIPs: add them, announce them (GARP / NA), sync daemon to master, notify.
        case takeOver
        /// Stop owning the VIPs at once.
        case release
        /// Master heard a lower priority: announce the VIPs again (garp_lower_prio_*).
        case reannounce
        /// The state changed (notify scripts, the sync daemon's role, the listing).
        case entered(State)
    }

    public struct Config: Sendable {
        public var version: VRRPAdvert.Version = .v2
        /// 1…255 (255: the address owner).
        public var priority: UInt8 = 100
        /// `state MASTER` in the file.
        public var wantMaster = false
        /// advert_int in µs (v2: whole seconds; v3: 10 ms steps).
        public var advertInterval: Int64 = 1_000_000
        public var nopreempt = false
        /// preempt_delay in µs (0: none).
        public var preemptDelay: Int64 = 0
        /// The address adverts are compared by: mcast_src_ip / unicast_src_ip, else the interface's primary.
        public var ownAddress: IPAddr
        public var downTimerAdverts: Int64 = 3
        /// lower_prio_no_advert: a master hearing a lower priority does not answer at once.
        public var lowerPrioNoAdvert = false
        /// higher_prio_send_advert: a master backing off sends one own advert first.
        public var higherPrioSendAdvert = false
        public init(ownAddress: IPAddr) { self.ownAddress = ownAddress }
    }

    public let config: Config
    public private(set) var state: State = .initialize
    /// The priority adverts carry and timers use: the configured one moved by the trackers
    /// within 1…254; a configured 255 never moves.
    public private(set) var priority: UInt8
    /// The master-down timer expired while a sync-group partner was not ready (keepalived's
    /// wantstate MASTER).
    public private(set) var wantsMaster = false
    /// v3: the master's interval, learnt from its adverts (v2: always ours).
    public private(set) var masterAdverInterval: Int64
    /// When the timer fires next: the master-down timer in BACKUP, the next advert in MASTER.
    public private(set) var deadline: Int64 = .max
    /// The master we follow (BACKUP).
    public private(set) var master: (address: IPAddr, priority: UInt8)?
    /// preempt_delay: when the first lower-priority advert opened the window.
    var preemptWindowStart: Int64?

    public init(_ config: Config) {
        self.config = config
        priority = config.priority
        masterAdverInterval = config.advertInterval
    }

    /// keepalived's skew in µs for priority `p` (integer arithmetic, as vrrp.c does it).
    public func skew(priority p: UInt8) -> Int64 {
        let q = 256 - Int64(p)
        switch config.version {
        case .v2: return q * 1_000_000 / 256
        case .v3: return q * (masterAdverInterval / 10_000) * 625 / 16
        }
    }

    public var masterDownInterval: Int64 { config.downTimerAdverts * masterAdverInterval + skew(priority: priority) }

    /// vrrp_init_state: an owner wanting MASTER is master at once; another wanting MASTER
    /// waits one interval plus the skew of priority 1; everyone else the full master-down timer.
    /// `fault`: a tracker is down at start-up (the instance starts in FAULT, silent).
    public mutating func start(now: Int64, fault: Bool = false) -> [Action] {
        if fault {
            state = .fault
            deadline = .max
            return [.entered(.fault)]
        }
        state = .backup
        wantsMaster = false
        masterAdverInterval = config.advertInterval
        if config.wantMaster && config.priority == 255 { deadline = now + 1 }
        else if config.wantMaster { deadline = now + masterAdverInterval + skew(priority: 1) }
        else { deadline = now + masterDownInterval }
        return [.entered(.backup)]
    }

    /// The timer fired (call when `now >= deadline`). `groupReady` false: a sync-group
    /// partner does not want MASTER yet, so this one waits another interval wanting it.
    public mutating func timerExpired(now: Int64, groupReady: Bool = true) -> [Action] {
        guard now >= deadline else { return [] }
        switch state {
        case .backup:
            guard groupReady else {
                wantsMaster = true
                deadline = now + masterAdverInterval
                return []
            }
            return becomeMaster(now: now)
        case .master:
            deadline = now + config.advertInterval
            return [.advertise(priority: priority)]
        case .initialize, .fault:
            return []
        }
    }

    /// An advert first, so a live old master drops its VIPs; then the VIPs.
    mutating func becomeMaster(now: Int64) -> [Action] {
        state = .master
        wantsMaster = false
        master = nil
        preemptWindowStart = nil
        masterAdverInterval = config.advertInterval
        deadline = now + config.advertInterval
        return [.advertise(priority: priority), .takeOver, .entered(.master)]
    }

    /// A sync-group partner became master: this one follows at once (vrrp_sync_master).
    public mutating func forceMaster(now: Int64) -> [Action] {
        state == .backup ? becomeMaster(now: now) : []
    }

    /// A sync-group partner went back to BACKUP: this one follows, VIPs released, no advert.
    public mutating func forceBackup(now: Int64) -> [Action] {
        guard state == .master else { return [] }
        state = .backup
        deadline = now + masterDownInterval
        return [.release, .entered(.backup)]
    }

    /// The trackers moved the priority (already clamped by `VRRPTracking`). A backup's
    /// running master-down timer moves by the change in skew, as keepalived moves it.
    public mutating func setPriority(_ p: UInt8) {
        guard config.priority != 255, p != priority else { return }
        let before = masterDownInterval
        priority = p
        if state == .backup && deadline != .max { deadline += masterDownInterval - before }
    }

    /// A tracker (or a sync-group partner) went down: a master resigns with priority 0.
    public mutating func enterFault() -> [Action] {
        guard state != .fault else { return [] }
        let wasMaster = state == .master
        state = .fault
        wantsMaster = false
        deadline = .max
        return (wasMaster ? [.advertise(priority: 0), .release] : []) + [.entered(.fault)]
    }

    /// Every tracker is up again: BACKUP with a full timer, or as at start-up when MASTER is wanted.
    public mutating func leaveFault(now: Int64) -> [Action] {
        guard state == .fault else { return [] }
        return start(now: now)
    }

    /// An accepted advert from `source`.
    public mutating func received(_ advert: VRRPAdvert, from source: IPAddr, now: Int64) -> [Action] {
        switch state {
        case .backup:
            if advert.priority == 0 {
                deadline = now + skew(priority: priority)
                return []
            }
            let lower = advert.priority < priority
            if lower && !config.nopreempt {
                if config.preemptDelay > 0 {
                    // The first lower advert opens the window; inside it lower adverts are still accepted.
                    let start = preemptWindowStart ?? now
                    preemptWindowStart = start
                    if now < start + config.preemptDelay { follow(advert, from: source, now: now); return [] }
                }
                return []   // discarded: the running timer makes us master
            }
            if !lower { preemptWindowStart = nil }
            follow(advert, from: source, now: now)
            return []
        case .master:
            if advert.priority == 0 {
                deadline = now + config.advertInterval
                return [.advertise(priority: priority)]
            }
            let theirs = advert.priority > priority
                || (advert.priority == priority && Self.higher(source, than: config.ownAddress))
            if !theirs {
                // Stay master: tell the lower one at once (RFC 9568) and re-announce the VIPs.
                return (config.lowerPrioNoAdvert ? [] : [.advertise(priority: priority)]) + [.reannounce]
            }
            state = .backup
            follow(advert, from: source, now: now)
            return (config.higherPrioSendAdvert ? [.advertise(priority: priority)] : []) + [.release, .entered(.backup)]
        case .initialize, .fault:
            return []
        }
    }

    /// restore_vrrp_interfaces: a master resigns with a priority-0 advert and releases the VIPs.
    public mutating func stop() -> [Action] {
        defer { state = .initialize; deadline = .max }
        return state == .master ? [.advertise(priority: 0), .release] : []
    }

    mutating func follow(_ advert: VRRPAdvert, from source: IPAddr, now: Int64) {
        master = (source, advert.priority)
        wantsMaster = false
        if config.version == .v3 { masterAdverInterval = Int64(advert.interval) * 10_000 }
        deadline = now + masterDownInterval
    }

    /// Unsigned comparison in network order (IPv4 as one 32-bit word, IPv6 as four).
    static func higher(_ a: IPAddr, than b: IPAddr) -> Bool {
        a.isV4 && b.isV4 ? a.v4 > b.v4 : (a.hi, a.lo) > (b.hi, b.lo)
    }
}
