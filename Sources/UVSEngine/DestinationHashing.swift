import UVSPacket

/// dh (spec §2.12): 256 buckets, bucket i → the (i mod n)-th destination; keyed by the
/// packet's destination address with hash_32(·, 8). Rebuilt on add and delete only.
public struct DestinationHashing: Scheduler {
    public static let name = "dh"
    static let bits = 8
    /// Destination index per bucket, -1 when empty.
    var buckets = [Int32](repeating: -1, count: 1 << DestinationHashing.bits)

    public init(setup: SchedulerSetup, destinations: DestinationList) { rebuild(destinations) }

    mutating func rebuild(_ list: DestinationList) {
        for i in buckets.indices { buckets[i] = list.count == 0 ? -1 : list.id(i % list.count) }
    }

    public mutating func added(at position: Int, _ list: DestinationList) { rebuild(list) }
    public mutating func removed(at position: Int, _ list: DestinationList) { rebuild(list) }

    public static func bucket(_ addr: IPAddr) -> Int { Int(hash32(addr.fold, bits: bits)) }

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        let id = buckets[Self.bucket(request.inverse ? request.src : request.dst)]
        guard id >= 0 else { return nil }
        let d = list.store[Int(id)]
        guard d.available, d.weight > 0, !d.overloaded else { return nil }
        return (0..<list.count).first { list.id($0) == id }
    }
}
