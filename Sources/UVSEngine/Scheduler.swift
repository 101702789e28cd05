import UVSPacket

/// What a scheduler may look at for one decision: the packet's addressing (spec §2.15) and
/// the service's destinations in list order (newest first).
public struct SchedulingRequest {
    public var proto: UInt8
    public var src: IPAddr
    public var dst: IPAddr
    public var sport: UInt16
    public var dport: UInt16
    /// Scheduled from an ICMP error's embedded header (roles swapped).
    public var inverse: Bool
    public var now: Nanos
    /// Two draws of the engine's injected random source (used by twos).
    public var random: (UInt64, UInt64)
    /// The service's flags (sh/mh read their fallback and port flags here).
    public var serviceFlags: UInt32

    public init(proto: UInt8, src: IPAddr, dst: IPAddr, sport: UInt16, dport: UInt16,
                inverse: Bool = false, now: Nanos = 0, random: (UInt64, UInt64) = (0, 0), serviceFlags: UInt32 = 0) {
        self.proto = proto; self.src = src; self.dst = dst; self.sport = sport; self.dport = dport
        self.inverse = inverse; self.now = now; self.random = random; self.serviceFlags = serviceFlags
    }

    /// The address and port source-keyed schedulers hash (spec §2.13–2.15): the source, or
    /// for an ICMP-embedded (inverse) header the destination; the port only with the
    /// scheduler's port flag and a protocol with ports.
    @inlinable public func sourceKey(usePort: Bool) -> (IPAddr, UInt16) {
        let addr = inverse ? dst : src
        guard usePort, proto == 6 || proto == 17 || proto == 132 else { return (addr, 0) }
        return (addr, inverse ? dport : sport)
    }
}

/// A read-only view of a service's destinations in list order (newest first), lent to a
/// scheduler for one call: it points into the engine's storage, so a decision costs no
/// copies and no reference counting. Build one with `DestinationList.with`.
public struct DestinationList {
    @usableFromInline let order: UnsafeBufferPointer<Int32>
    @usableFromInline let store: UnsafeBufferPointer<RealServer>
    /// Non-optional copies of the base addresses for the inner loops (no unwrap per read).
    @usableFromInline let orderBase: UnsafePointer<Int32>
    @usableFromInline let storeBase: UnsafePointer<RealServer>

    @usableFromInline init(order: UnsafeBufferPointer<Int32>, store: UnsafeBufferPointer<RealServer>) {
        self.order = order; self.store = store
        orderBase = order.baseAddress ?? DestinationList.emptyOrder
        storeBase = store.baseAddress ?? DestinationList.emptyStore
    }

    // Valid pointers for empty lists (never dereferenced: count is 0).
    @usableFromInline static var emptyOrder: UnsafePointer<Int32> { UnsafePointer(bitPattern: MemoryLayout<Int32>.alignment)! }
    @usableFromInline static var emptyStore: UnsafePointer<RealServer> { UnsafePointer(bitPattern: MemoryLayout<RealServer>.alignment)! }

    /// Lends `body` a view of `order` (destination indices) over `store`.
    @inlinable
    public static func with<R>(order: [Int32], store: ContiguousArray<RealServer>,
                               _ body: (DestinationList) throws -> R) rethrows -> R {
        try order.withUnsafeBufferPointer { o in
            try store.withUnsafeBufferPointer { s in try body(DestinationList(order: o, store: s)) }
        }
    }

    @inlinable public var count: Int { order.count }
    @inlinable public subscript(position: Int) -> RealServer { store[Int(order[position])] }

    // Field reads without copying the whole destination (schedulers' inner loops).
    @inlinable func server(_ p: Int) -> UnsafePointer<RealServer> { storeBase + Int(orderBase[p]) }
    @inlinable public func weight(_ p: Int) -> Int32 { server(p).pointee.weight }
    @inlinable public func activeConns(_ p: Int) -> Int32 { server(p).pointee.activeConns }
    @inlinable public func overloaded(_ p: Int) -> Bool { server(p).pointee.overloaded }
    @inlinable public func eligible(_ p: Int) -> Bool { server(p).pointee.schedulingWeight > 0 }
    @inlinable public func overhead(_ p: Int) -> Int64 { server(p).pointee.overhead }
    /// The weight while eligible, else 0 (`RealServer.schedulingWeight`).
    @inlinable public func schedulingWeight(_ p: Int) -> Int32 { server(p).pointee.schedulingWeight }
    /// The destination index (engine-wide) at a list position.
    @inlinable public func id(_ position: Int) -> Int32 { order[position] }
}

/// The configuration a scheduler is created with.
public struct SchedulerSetup {
    public var serviceFlags: UInt32
    public var sysctls: Sysctls
    public init(serviceFlags: UInt32, sysctls: Sysctls) { self.serviceFlags = serviceFlags; self.sysctls = sysctls }
}

/// An IPVS scheduler (spec §2): one file per algorithm, registered in `SchedulerRegistry`.
/// Selections return a list position, or nil for "no destination available".
public protocol Scheduler: Sendable {
    static var name: String { get }
    init(setup: SchedulerSetup, destinations: DestinationList)
    mutating func select(_ request: SchedulingRequest, _ destinations: DestinationList) -> Int?
    /// Hooks, called after the list changed (add: the new one is at position 0).
    mutating func added(at position: Int, _ destinations: DestinationList)
    mutating func removed(at position: Int, _ destinations: DestinationList)
    mutating func edited(at position: Int, _ destinations: DestinationList)
}

extension Scheduler {
    public mutating func added(at position: Int, _ destinations: DestinationList) {}
    public mutating func removed(at position: Int, _ destinations: DestinationList) {}
    public mutating func edited(at position: Int, _ destinations: DestinationList) {}
}

/// Name → scheduler type. Adding a scheduler = one file plus one line here.
public enum SchedulerRegistry {
    public static let all: [any Scheduler.Type] = [
        RoundRobin.self, WeightedRoundRobin.self, LeastConnection.self, WeightedLeastConnection.self,
        LocalityBasedLeastConnection.self, LocalityBasedLeastConnectionReplication.self,
        DestinationHashing.self, SourceHashing.self, MaglevHashing.self, ShortestExpectedDelay.self,
        NeverQueue.self, WeightedFailover.self, WeightedOverflow.self, PowerOfTwoChoices.self,
    ]

    public static func type(named name: String) -> (any Scheduler.Type)? {
        all.first { $0.name == name }
    }

    public static func make(_ name: String, setup: SchedulerSetup, destinations: DestinationList) -> SchedulerCell? {
        guard let t = type(named: name) else { return nil }
        return SchedulerCell.make(t, setup: setup, destinations: destinations)
    }
}

/// hash_32 of include/linux/hash.h: the top `bits` bits of x * GOLDEN_RATIO_32.
@inlinable public func hash32(_ x: UInt32, bits: Int) -> UInt32 {
    (x &* 0x61C8_8647) >> UInt32(32 - bits)
}
