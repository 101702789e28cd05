import UVSPacket

/// One vrrp_instance's state machine as keepalived runs it (spec §1.7–1.8): pure, on a clock in
/// microseconds the caller supplies. Inputs are start, stop, the timer's expiry and accepted
/// adverts (already validated by `VRRPReceive`); outputs are the actions the I/O edge performs.
public struct VRRPInstance: Sendable {
    public enum State: Int, Sendable { case initialize = 0, backup = 1, master = 2, fault = 3 }

    public enum Action: Sendable, Equatable {
        /// Send one advert with this priority (0: resigning).
        case advertise(priority: UInt8)
        /// Own the VIPs: add them, announce them (GARP / NA), sync daemon to master, notify.
        case takeOver
        /// Stop owning the VIPs at once.
        case release
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
        public init(ownAddress: IPAddr) { self.ownAddress = ownAddress }
    }

    public let config: Config
    public private(set) var state: State = .initialize
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

    public var masterDownInterval: Int64 { config.downTimerAdverts * masterAdverInterval + skew(priority: config.priority) }

    /// vrrp_init_state: an owner wanting MASTER is master at once; another wanting MASTER
    /// waits one interval plus the skew of priority 1; everyone else the full master-down timer.
    public mutating func start(now: Int64) -> [Action] {
        state = .backup
        if config.wantMaster && config.priority == 255 { deadline = now + 1 }
        else if config.wantMaster { deadline = now + masterAdverInterval + skew(priority: 1) }
        else { deadline = now + masterDownInterval }
        return []
    }

    /// The timer fired (call when `now >= deadline`).
    public mutating func timerExpired(now: Int64) -> [Action] {
        guard now >= deadline else { return [] }
        switch state {
        case .backup:
            // An advert first, so a live old master drops its VIPs; then the VIPs.
            state = .master
            master = nil
            preemptWindowStart = nil
            masterAdverInterval = config.advertInterval
            deadline = now + config.advertInterval
            return [.advertise(priority: config.priority), .takeOver]
        case .master:
            deadline = now + config.advertInterval
            return [.advertise(priority: config.priority)]
        case .initialize, .fault:
            return []
        }
    }

    /// An accepted advert from `source`.
    public mutating func received(_ advert: VRRPAdvert, from source: IPAddr, now: Int64) -> [Action] {
        switch state {
        case .backup:
            if advert.priority == 0 {
                deadline = now + skew(priority: config.priority)
                return []
            }
            let lower = advert.priority < config.priority
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
                return [.advertise(priority: config.priority)]
            }
            let theirs = advert.priority > config.priority
                || (advert.priority == config.priority && Self.higher(source, than: config.ownAddress))
            if !theirs { return [.advertise(priority: config.priority)] }   // stay master, tell the lower one
            state = .backup
            follow(advert, from: source, now: now)
            return [.release]
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
        if config.version == .v3 { masterAdverInterval = Int64(advert.interval) * 10_000 }
        deadline = now + masterDownInterval
    }

    /// Unsigned comparison in network order (IPv4 as one 32-bit word, IPv6 as four).
    static func higher(_ a: IPAddr, than b: IPAddr) -> Bool {
        a.isV4 && b.isV4 ? a.v4 > b.v4 : (a.hi, a.lo) > (b.hi, b.lo)
    }
}
