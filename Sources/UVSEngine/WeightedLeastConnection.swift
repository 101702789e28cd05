/// wlc (spec §2.4, the ipvsadm default): least overhead/weight by signed 64-bit cross
/// products; ties keep the earlier destination.
public struct WeightedLeastConnection: Scheduler {
    public static let name = "wlc"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        Self.pick(list)
    }

    /// The wlc choice (also lblc's and lblcr's fallback).
    public static func pick(_ list: DestinationList) -> Int? {
        leastRatio(list) { $0.pointee.overhead }
    }

    /// The destination with the least load/weight, ties to the earliest, as the kernel's
    /// scan of wlc and sed: the first eligible destination, then only OVERLOAD skipped.
    /// `schedulingWeight` is 0 for an overloaded or weight-0 destination and 0 never wins
    /// the comparison, so the loop has no flag test. Two running minima over alternate
    /// destinations, merged at the end, halve the chain of dependent multiplications (the
    /// strict comparisons make the result the first minimum either way).
    @inline(__always)
    static func leastRatio(_ list: DestinationList, load: (UnsafePointer<RealServer>) -> Int64) -> Int? {
        let n = list.count
        var i = 0
        while i < n && list.schedulingWeight(i) == 0 { i &+= 1 }
        guard i < n else { return nil }
        var aPos = i, aLoad = load(list.server(i)), aWeight = Int64(list.schedulingWeight(i))
        var bPos = aPos, bLoad = aLoad, bWeight = aWeight
        i &+= 1
        while i &+ 1 < n {
            let s = list.server(i), t = list.server(i &+ 1)
            let sLoad = load(s), sWeight = Int64(s.pointee.schedulingWeight)
            let tLoad = load(t), tWeight = Int64(t.pointee.schedulingWeight)
            if aLoad &* sWeight > sLoad &* aWeight { aPos = i; aLoad = sLoad; aWeight = sWeight }
            if bLoad &* tWeight > tLoad &* bWeight { bPos = i &+ 1; bLoad = tLoad; bWeight = tWeight }
            i &+= 2
        }
        if i < n {
            let s = list.server(i)
            let sLoad = load(s), sWeight = Int64(s.pointee.schedulingWeight)
            if aLoad &* sWeight > sLoad &* aWeight { aPos = i; aLoad = sLoad; aWeight = sWeight }
        }
        let a = aLoad &* bWeight, b = bLoad &* aWeight
        return a > b || (a == b && bPos < aPos) ? bPos : aPos
    }
}
