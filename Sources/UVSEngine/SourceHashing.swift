import UVSPacket

/// sh (spec §2.13): 256 buckets filled in list order, max(weight, 1) consecutive buckets per
/// destination; keyed by source address (+ source port with sh-port); sh-fallback probes
/// the table for a usable destination. Rebuilt on add, delete and edit.
public struct SourceHashing: Scheduler {
    public static let name = "sh"
    static let bits = 8
    static let size = 1 << bits
    /// List position per bucket, -1 when empty.
    /// In the scheduler's own storage: a lookup is one load, with no buffer to reach and no
    /// bounds check (the index is masked to 8 bits).
    var buckets = InlineArray<256, Int32>(repeating: -1)

    public init(setup: SchedulerSetup, destinations: DestinationList) { rebuild(destinations) }

    mutating func rebuild(_ list: DestinationList) {
        guard list.count > 0 else {
            buckets = InlineArray(repeating: -1)
            return
        }
        var p = 0, used: Int32 = 0
        for i in 0..<Self.size {
            buckets[i] = Int32(p)
            used += 1
            if used >= list[p].weight {
                p = (p + 1) % list.count
                used = 0
            }
        }
    }

    public mutating func added(at position: Int, _ list: DestinationList) { rebuild(list) }
    public mutating func removed(at position: Int, _ list: DestinationList) { rebuild(list) }
    public mutating func edited(at position: Int, _ list: DestinationList) { rebuild(list) }

    /// Bucket for a key with probe offset `offset` (0 = primary).
    @inline(__always)
    public static func bucket(_ addr: IPAddr, port: UInt16, offset: Int = 0) -> Int {
        (offset + Int(hash32(UInt32(port) &+ addr.fold, bits: bits))) & (size - 1)
    }

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        let (addr, port) = request.sourceKey(usePort: request.serviceFlags & ServiceFlags.sched2 != 0)
        func usable(_ pos: Int32) -> Bool { list.eligible(Int(pos)) }
        let primary = Self.bucket(addr, port: port)
        let p = buckets[primary]
        guard p >= 0 else { return nil }
        if usable(p) { return Int(p) }
        guard request.serviceFlags & ServiceFlags.sched1 != 0 else { return nil }
        for k in 0..<Self.size {
            let q = buckets[Self.bucket(addr, port: port, offset: (k + primary) % Self.size)]
            if q < 0 { break }
            if usable(q) { return Int(q) }
        }
        return nil
    }
}
