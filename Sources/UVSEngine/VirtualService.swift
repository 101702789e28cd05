import UVSPacket

/// Service flags (spec §1.1).
public enum ServiceFlags {
    public static let persistent: UInt32 = 0x0001
    public static let onePacket: UInt32 = 0x0004
    public static let sched1: UInt32 = 0x0008
    public static let sched2: UInt32 = 0x0010
    public static let sched3: UInt32 = 0x0020
}

/// What identifies a virtual service: (protocol, VIP, port) or a firewall mark.
public struct ServiceKey: Hashable, Sendable {
    public var proto: UInt8      // 6, 17, 132; 0 for fwmark services
    public var addr: IPAddr      // VIP (fwmark: zero of the family)
    public var port: UInt16
    public var fwmark: UInt32
    public var isV6: Bool

    public init(proto: UInt8, addr: IPAddr, port: UInt16) {
        self.proto = proto; self.addr = addr; self.port = port; fwmark = 0; isV6 = !addr.isV4
    }
    public init(fwmark: UInt32, v6: Bool) {
        proto = 0; addr = v6 ? .zero6 : .zero4; port = 0; self.fwmark = fwmark; isV6 = v6
    }
    public var isFwmark: Bool { fwmark != 0 }

    /// One word into the hasher instead of five fields: the service lookup of every new
    /// connection hashes a key (equality still compares every field).
    @inlinable public func hash(into h: inout Hasher) {
        var x = addr.hi &* 0x9E37_79B9_7F4A_7C15 ^ addr.lo
        x ^= (UInt64(port) << 48 | UInt64(proto) << 40 | UInt64(fwmark)) &* 0xC2B2_AE3D_27D4_EB4F
        h.combine(x)
    }
}

/// A virtual service (kernel: ip_vs_service).
public struct VirtualService: Sendable {
    public var key: ServiceKey
    public var schedulerName: String
    public var flags: UInt32
    /// Persistence timeout in seconds (0 unless persistent).
    public var timeout: UInt32
    /// IPv4: netmask as a prefix-less 32-bit value; IPv6: prefix length.
    public var netmask: UInt32
    public var persistenceEngine: String?
    /// Destinations in list order: newest first (indices into the engine's destination store).
    public var destinations: [Int32] = []
    public var counters = Counters()
    public var live = true

    public init(key: ServiceKey, schedulerName: String, flags: UInt32, timeout: UInt32, netmask: UInt32,
                persistenceEngine: String? = nil) {
        self.key = key; self.schedulerName = schedulerName; self.flags = flags
        self.timeout = timeout; self.netmask = netmask; self.persistenceEngine = persistenceEngine
    }

    @inlinable public var isPersistent: Bool { flags & ServiceFlags.persistent != 0 }
    @inlinable public var isOnePacket: Bool { flags & ServiceFlags.onePacket != 0 }

    /// The client network a persistence template is keyed by (spec §3.5 step 1).
    public func persistenceNet(_ client: IPAddr) -> IPAddr {
        if client.isV4 { return IPAddr(v4: client.v4 & netmask) }
        return client.masked(prefix: Int(netmask))
    }
}
