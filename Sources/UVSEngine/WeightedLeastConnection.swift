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
        for i in 0..<list.count where list[i].eligible {
            first = i
            break
        }
        guard first >= 0 else { return nil }
        var best = first
        var bestLoad = list[first].overhead
        var bestWeight = Int64(list[first].weight)
        var i = first + 1
        while i < list.count {
            let d = list[i]
            if !d.overloaded {
                let load = d.overhead
                if bestLoad * Int64(d.weight) > load * bestWeight {
                    best = i; bestLoad = load; bestWeight = Int64(d.weight)
                }
            }
            i += 1
        }
        return best
    }
}
