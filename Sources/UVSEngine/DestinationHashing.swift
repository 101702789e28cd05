import UVSPacket

/// dh (spec §2.12): 256 buckets, bucket i → the (i mod n)-th destination; keyed by the
/// packet's destination address with hash_32(·, 8). Rebuilt on add and delete only.
public struct DestinationHashing: Scheduler {
    public static let name = "dh"
    static let bits = 8
    /// List position per bucket, -1 when empty (positions only change on add and delete,
    /// which rebuild the table).
    /// In the scheduler's own storage (one load, no bounds check: the index has 8 bits).
    var buckets = InlineArray<256, Int32>(repeating: -1)

    public init(setup: SchedulerSetup, destinations: DestinationList) { rebuild(destinations) }

    mutating func rebuild(_ list: DestinationList) {
        for i in buckets.indices { buckets[i] = list.count == 0 ? -1 : Int32(i % list.count) }
    }

    public mutating func added(at position: Int, _ list: DestinationList) { rebuild(list) }
    public mutating func removed(at position: Int, _ list: DestinationList) { rebuild(list) }

    @inline(__always)
    public static func bucket(_ addr: IPAddr) -> Int { Int(hash32(addr.fold, bits: bits)) }

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        let pos = Int(buckets[Self.bucket(request.inverse ? request.src : request.dst)])
        guard pos >= 0, pos < list.count, list.eligible(pos) else { return nil }
        return pos
    }
}
