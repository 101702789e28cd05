/// sed (spec §2.5): least (active + 1) / weight by signed 64-bit cross products; ties keep
/// the earlier destination.
public struct ShortestExpectedDelay: Scheduler {
    public static let name = "sed"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        Self.pick(list)
    }

    static func pick(_ list: DestinationList) -> Int? {
        var best = -1
        var bestLoad: Int64 = 0, bestWeight: Int64 = 0
        for i in 0..<list.count {
            let s = list.server(i)
            guard s.pointee.weight > 0, !s.pointee.overloaded else { continue }
            let load = Int64(s.pointee.activeConns) &+ 1
            let w = Int64(s.pointee.weight)
            if best < 0 || bestLoad &* w > load &* bestWeight {
                best = i; bestLoad = load; bestWeight = w
            }
        }
        return best < 0 ? nil : best
    }
}
