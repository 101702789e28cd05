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
        var first = -1
        for i in 0..<list.count where list.eligible(i) {
            first = i
            break
        }
        guard first >= 0 else { return nil }
        var best = first
        var bestLoad = list.overhead(first)
        var bestWeight = Int64(list.weight(first))
        var i = first &+ 1
        while i < list.count {
            let s = list.server(i)
            if !s.pointee.overloaded {
                let load = Int64(s.pointee.activeConns) &<< 8 &+ Int64(s.pointee.inactiveConns)
                let w = Int64(s.pointee.weight)
                if bestLoad &* w > load &* bestWeight {
                    best = i; bestLoad = load; bestWeight = w
                }
            }
            i &+= 1
        }
        return best
    }
}
