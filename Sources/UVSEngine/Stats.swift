/// IPVS counters for a real server, a service or the whole director (spec §9).
public struct Stats: Sendable, Equatable {
    public var conns: UInt64 = 0
    public var inPkts: UInt64 = 0
    public var outPkts: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0
    public init() {}

    @inlinable mutating func countIn(_ bytes: Int) { inPkts &+= 1; inBytes &+= UInt64(bytes) }
    @inlinable mutating func countOut(_ bytes: Int) { outPkts &+= 1; outBytes &+= UInt64(bytes) }

    public static func - (a: Stats, b: Stats) -> Stats {
        var r = Stats()
        r.conns = a.conns &- b.conns; r.inPkts = a.inPkts &- b.inPkts; r.outPkts = a.outPkts &- b.outPkts
        r.inBytes = a.inBytes &- b.inBytes; r.outBytes = a.outBytes &- b.outBytes
        return r
    }
}

/// Counters with the `-Z` zero point kept apart (displayed = current − zero point).
public struct Counters: Sendable, Equatable {
    public var current = Stats()
    public var zeroPoint = Stats()
    public init() {}
    public var shown: Stats { current - zeroPoint }
    public mutating func zero() { zeroPoint = current }
}
