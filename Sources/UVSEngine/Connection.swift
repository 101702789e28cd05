import UVSPacket

/// Connection flags (spec §3.1), plus one internal bit for slot bookkeeping.
public enum ConnFlags {
    public static let fwdMask: UInt32 = 0x0007
    public static let sync: UInt32 = 0x0020
    public static let hashed: UInt32 = 0x0040
    public static let noOutput: UInt32 = 0x0080
    public static let inactive: UInt32 = 0x0100
    public static let noCport: UInt32 = 0x0800
    public static let template: UInt32 = 0x1000
    public static let onePacket: UInt32 = 0x2000
    /// Internal: the slot holds a live connection.
    @usableFromInline static let inUse: UInt32 = 0x8000_0000
}

/// Template states (spec §3.5).
public enum TemplateState: UInt8 {
    case none = 0, assured = 1
}

/// One entry of the connection table (kernel: ip_vs_conn). 112 bytes.
public struct Connection: Sendable {
    public var caddr: IPAddr
    public var vaddr: IPAddr
    public var daddr: IPAddr
    public var cport: UInt16
    public var vport: UInt16
    public var dport: UInt16
    public var proto: UInt8
    /// TCPState raw value, UDP 0, or TemplateState for templates.
    public var state: UInt8
    /// The state last sent by the sync master (kernel: old_state).
    public var oldState: UInt8
    public var flags: UInt32
    public var expires: Nanos
    /// Current timeout in milliseconds, applied on every refresh. (After `expires`: no
    /// padding before it, 112 bytes in all.)
    public var timeoutMs: UInt32
    /// Destination index, -1 when unbound.
    public var dest: Int32
    /// Controlling template's slot, -1 when none.
    public var control: Int32
    public var nControl: Int32
    public var inPkts: UInt32
    public var fwmark: UInt32
    @usableFromInline var next: Int32
    /// The expiry the entry's live timer was armed with (`ConnectionTable.noTimer`: none).
    /// A timer whose expiry is not this one is stale and dropped when it comes up.
    @usableFromInline var armed: Nanos

    public init() {
        caddr = .zero4; vaddr = .zero4; daddr = .zero4
        cport = 0; vport = 0; dport = 0; proto = 0; state = 0; oldState = 0; flags = 0; timeoutMs = 0; expires = 0
        dest = -1; control = -1; nControl = 0; inPkts = 0; fwmark = 0; next = -1; armed = .min
    }

    @inlinable public var isTemplate: Bool { flags & ConnFlags.template != 0 }
    @inlinable public var method: ForwardMethod { ForwardMethod(rawValue: UInt8(flags & ConnFlags.fwdMask)) ?? .directRoute }
    @inlinable public var isV6: Bool { !caddr.isV4 }
    @inlinable public var timeout: Nanos { Nanos(timeoutMs) * Time.millisecond }

    /// Sets the timeout and the expiry from it (apply through the table's subscript in one
    /// write, so the table sees the expiry move).
    @inlinable public mutating func postpone(timeoutMs ms: UInt32, now: Nanos) {
        timeoutMs = ms
        expires = now + timeout
    }
}
