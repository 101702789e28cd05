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
    public var estimator = RateEstimator()
    public init() {}
    public var shown: Stats { current - zeroPoint }
    /// `-Z`: the counters start again from zero and so do the rates.
    public mutating func zero() {
        zeroPoint = current
        estimator = RateEstimator()
        estimator.last = current
    }
}

/// The kernel's rate estimator (spec §9): every 2 s the counters' growth is folded into
/// exponentially weighted averages (factor 1/4), kept scaled (2^10 for per-second counts,
/// 2^5 for bytes) and rounded when shown.
public struct RateEstimator: Sendable, Equatable {
    var last = Stats()
    var cps: Int64 = 0, inPPS: Int64 = 0, outPPS: Int64 = 0, inBPS: Int64 = 0, outBPS: Int64 = 0
    public init() {}

    static func fold(_ avg: inout Int64, _ sample: Int64) { avg += (sample - avg) >> 2 }

    /// One 2-second step with the counters as they are now.
    mutating func tick(_ s: Stats) {
        Self.fold(&cps, Int64(bitPattern: s.conns &- last.conns) << 9)
        Self.fold(&inPPS, Int64(bitPattern: s.inPkts &- last.inPkts) << 9)
        Self.fold(&outPPS, Int64(bitPattern: s.outPkts &- last.outPkts) << 9)
        Self.fold(&inBPS, Int64(bitPattern: s.inBytes &- last.inBytes) << 4)
        Self.fold(&outBPS, Int64(bitPattern: s.outBytes &- last.outBytes) << 4)
        last = s
    }

    /// Shown values: connections, packets in and out per second; bytes in and out per second.
    public var shown: (cps: UInt64, inPPS: UInt64, outPPS: UInt64, inBPS: UInt64, outBPS: UInt64) {
        func count(_ a: Int64) -> UInt64 { UInt64(max(0, (a + 0x1FF) >> 10)) }
        func bytes(_ a: Int64) -> UInt64 { UInt64(max(0, (a + 0xF) >> 5)) }
        return (count(cps), count(inPPS), count(outPPS), bytes(inBPS), bytes(outBPS))
    }
}
