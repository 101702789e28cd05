import UVSPacket

/// Forwarding methods with the kernel's codes (spec §1.2).
public enum ForwardMethod: UInt8, Sendable, CaseIterable {
    case masquerade = 0, local = 1, tunnel = 2, directRoute = 3, bypass = 4

    /// Listing name (ipvsadm -L).
    public var listName: String {
        switch self {
        case .masquerade: "Masq"
        case .local: "Local"
        case .tunnel: "Tunnel"
        case .directRoute: "Route"
        case .bypass: "Bypass"
        }
    }
}

public enum TunnelType: UInt8, Sendable {
    case ipip = 0, gue = 1, gre = 2
}

public enum TunnelChecksum: UInt8, Sendable {
    case none = 0, csum = 1, remcsum = 2
}

/// A real server (kernel: ip_vs_dest) of one virtual service.
public struct RealServer: Sendable {
    // What schedulers read, together at the start (one cache line).
    /// active*256 + inactive: the kernel's ip_vs_dest_conn_overhead, kept up to date by the
    /// counters' observers so the least-connection loops read one field.
    public internal(set) var overhead: Int64 = 0
    /// active + 1: the kernel's ip_vs_sed_dest_overhead (sed, nq), kept the same way.
    public internal(set) var sedOverhead: Int64 = 1
    /// The weight while eligible for new connections (weight > 0 and not OVERLOAD), else 0:
    /// one field and no flag test per destination in the least-connection loops (a
    /// destination of weight 0 never wins their comparisons).
    public internal(set) var schedulingWeight: Int32
    public var weight: Int32 { didSet { refreshDerived() } }
    public var activeConns: Int32 = 0 { didSet { refreshDerived() } }
    public var inactiveConns: Int32 = 0 { didSet { refreshDerived() } }
    public var persistConns: Int32 = 0
    /// The latest non-zero weight (used by mh).
    public var lastWeight: Int32
    public var available = true
    public var overloaded = false { didSet { refreshDerived() } }
    public var method: ForwardMethod
    public var port: UInt16
    public var addr: IPAddr
    public var upperThreshold: UInt32 = 0
    public var lowerThreshold: UInt32 = 0
    public var tunnelType = TunnelType.ipip
    public var tunnelChecksum = TunnelChecksum.none
    public var tunnelPort: UInt16 = 0
    /// Index of the owning service.
    public var service: Int32
    /// When it went to the trash (deleted while still referenced), else nil.
    public var trashedAt: Nanos? = nil
    public var counters = Counters()

    public init(addr: IPAddr, port: UInt16, method: ForwardMethod, weight: Int32, service: Int32) {
        self.addr = addr; self.port = port; self.method = method; self.weight = weight
        self.lastWeight = weight; self.service = service
        schedulingWeight = max(weight, 0)
    }

    @usableFromInline mutating func refreshDerived() {
        overhead = Int64(activeConns) &<< 8 &+ Int64(inactiveConns)
        sedOverhead = Int64(activeConns) &+ 1
        schedulingWeight = overloaded || weight < 0 ? 0 : weight
    }

    /// Connection flags new connections copy from the destination (spec §1.2 item 3):
    /// method | INACTIVE, plus NOOUTPUT unless NAT.
    @inlinable var connectionFlags: UInt32 {
        var f = UInt32(method.rawValue) | ConnFlags.inactive
        if method != .masquerade { f |= ConnFlags.noOutput }
        return f
    }
}
