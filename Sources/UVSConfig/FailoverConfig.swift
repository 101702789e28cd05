import UVSPacket

/// The failover part of the one configuration model: keepalived's VRRP instances, sync groups
/// and scripts, or piranha pulse's heartbeat, and how the IPVS sync daemons follow the roles.
public struct FailoverConfig: Sendable, Equatable {
    public var instances: [VRRPInstanceConfig] = []
    public var syncGroups: [VRRPSyncGroupConfig] = []
    public var scripts: [VRRPScriptConfig] = []
    public var pulse: PulseConfig?
    /// The sync daemons, when the file manages them.
    public var syncDaemon: SyncDaemonConfig?
    public init() {}

    public var isEmpty: Bool { instances.isEmpty && pulse == nil }

    /// Every address the failover moves (VIPs and excluded VIPs of all instances, pulse's VIPs).
    public var managedAddresses: Set<IPAddr> {
        var s = Set<IPAddr>()
        for i in instances { for a in i.addresses + i.excludedAddresses { s.insert(a.address) } }
        if let p = pulse { for a in p.addresses { s.insert(a.address) } }
        return s
    }
}

/// One address a failover instance owns: `192.168.200.16/24 dev eth0 label eth0:1`.
public struct FailoverAddress: Sendable, Equatable, Hashable {
    public var address: IPAddr
    public var prefix: Int
    /// The interface it lives on (nil: the instance's).
    public var device: String?
    public init(address: IPAddr, prefix: Int, device: String? = nil) {
        self.address = address; self.prefix = prefix; self.device = device
    }
}

/// A `vrrp_instance` with keepalived's defaults (ops-spec-failover §1.8–1.9).
public struct VRRPInstanceConfig: Sendable, Equatable {
    public var name: String
    public var source: ConfigSource
    public var interface = ""
    public var vrid: UInt8 = 0
    /// Configured priority (255: the address owner); nil in the file → 255 if state MASTER, else 100.
    public var priority: UInt8 = 100
    public var wantMaster = false
    /// advert_int in µs as keepalived keeps it (v2: whole seconds when sent; v3: centiseconds).
    public var advertInterval: Int64 = 1_000_000
    public var version: UInt8 = 2
    public var nopreempt = false
    public var preemptDelay: Int64 = 0
    /// auth_type PASS with auth_pass (v2 only); nil: no authentication.
    public var authPass: String?
    public var addresses: [FailoverAddress] = []
    public var excludedAddresses: [FailoverAddress] = []
    /// mcast_src_ip / unicast_src_ip: the adverts' source and the tie-break address.
    public var sourceAddress: IPAddr?
    public var unicastPeers: [IPAddr] = []
    public var unicastTTL: UInt8 = 255
    public var mcastGroup4 = IPAddr("224.0.0.18")!
    public var mcastGroup6 = IPAddr("ff02::12")!
    public var v3ChecksumAsV2 = false
    public var garpMasterDelay: Double = 5
    public var garpMasterRepeat = 5
    public var garpMasterRefresh: Double = 0
    public var garpMasterRefreshRepeat = 1
    public var garpLowerPrioDelay: Double = 5
    public var garpLowerPrioRepeat = 5
    /// vrrp_garp_interval / vrrp_gna_interval: the least spacing between two GARPs / NAs (s).
    public var garpInterval: Double = 0
    public var gnaInterval: Double = 0
    public var lowerPrioNoAdvert = false
    public var higherPrioSendAdvert = false
    public var dontTrackPrimary = false
    public var skipCheckAdvAddr = false
    public var trackInterfaces: [TrackedInterface] = []
    public var trackScripts: [TrackedScript] = []
    public var notify = NotifyScripts()
    public init(name: String, source: ConfigSource) { self.name = name; self.source = source }

    public var isIPv6: Bool { addresses.first.map { !$0.address.isV4 } ?? false }
}

/// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop` (run as written) and `notify`
/// (run with `INSTANCE|GROUP NAME STATE PRIORITY` appended), each an argv.
public struct NotifyScripts: Sendable, Equatable {
    public var master: [String]?
    public var backup: [String]?
    public var fault: [String]?
    public var stop: [String]?
    public var any: [String]?
    public init() {}
}

/// `track_interface { IF [weight W [reverse]] }`: weight 0 → FAULT while the link is down.
public struct TrackedInterface: Sendable, Equatable {
    public var name: String
    public var weight: Int = 0
    public var reverse = false
}

/// `track_script { NAME [weight W [reverse|noreverse]] }`; nil weight: the script's own.
public struct TrackedScript: Sendable, Equatable {
    public var name: String
    public var weight: Int?
    public var reverse: Bool?
}

/// `vrrp_script NAME { script; interval 1; timeout; weight 0; rise 1; fall 1; init_fail }`.
public struct VRRPScriptConfig: Sendable, Equatable {
    public var name: String
    public var source: ConfigSource
    public var command: [String] = []
    public var interval: Double = 1
    /// nil: the interval (keepalived's default).
    public var timeout: Double?
    public var weight = 0
    public var weightReverse = false
    public var rise = 1
    public var fall = 1
    public var initFail = false
    public init(name: String, source: ConfigSource) { self.name = name; self.source = source }
}

/// `vrrp_sync_group NAME { group { VI_1 VI_2 } notify_* }`: members change state together.
public struct VRRPSyncGroupConfig: Sendable, Equatable {
    public var name: String
    public var source: ConfigSource
    public var members: [String] = []
    public var notify = NotifyScripts()
    public init(name: String, source: ConfigSource) { self.name = name; self.source = source }
}

/// piranha lvs.cf's pulse settings (ops-spec-failover §3.2), lvsParseConfig's defaults.
public struct PulseConfig: Sendable, Equatable {
    public var source: ConfigSource
    public var primary: IPAddr
    public var backup: IPAddr?
    public var primaryPrivate: IPAddr?
    public var backupPrivate: IPAddr?
    public var backupActive = false
    public var fos = false
    public var port: UInt16 = 539
    public var keepalive: Double = 2
    public var deadtime: Double = 5
    public var monitorLinks = false
    public var activeCommand: [String]?
    public var inactiveCommand: [String]?
    /// The virtuals' `address = VIP DEV[:alias]` and the NAT router's, moved on (de)activation.
    public var addresses: [FailoverAddress] = []
    public init(source: ConfigSource, primary: IPAddr) { self.source = source; self.primary = primary }
}

/// The IPVS sync daemons under failover (§1.10, §3.6): which interface and id, and whose
/// state they follow. `followInstance` nil under keepalived: both daemons all the time.
public struct SyncDaemonConfig: Sendable, Equatable {
    public var source: ConfigSource
    public var interface: String
    public var syncID: Int?
    public var maxlen: Int?
    public var port: Int?
    public var ttl: Int?
    public var group: String?
    public enum Follow: Sendable, Equatable {
        /// keepalived without an instance: master and backup threads from start to exit.
        case both
        /// keepalived with an instance: backup, master while it is MASTER.
        case instance(String)
        /// lvs.cf syncdaemon = 1: backup, master while pulse is active.
        case pulse
    }
    public var follow: Follow
    public init(source: ConfigSource, interface: String, follow: Follow) {
        self.source = source; self.interface = interface; self.follow = follow
    }

    /// `--start-daemon ROLE …` as keepalived and pulse issue it (options only when configured).
    public func startWords(_ role: String, defaultID: Int = 0) -> [String] {
        var w = ["--start-daemon", role, "--mcast-interface", interface, "--syncid", String(syncID ?? defaultID)]
        if let m = maxlen { w += ["--sync-maxlen", String(m)] }
        if let p = port { w += ["--mcast-port", String(p)] }
        if let t = ttl { w += ["--mcast-ttl", String(t)] }
        if let g = group { w += ["--mcast-group", g] }
        return w
    }
}
