/// sed (spec §2.5): least (active + 1) / weight by signed 64-bit cross products; ties keep
/// the earlier destination.
public struct ShortestExpectedDelay: Scheduler {
    public static let name = "sed"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        var best = -1
        var bestLoad: Int64 = 0, bestWeight: Int64 = 0
        for i in 0..<list.count {
            guard list.eligible(i) else { continue }
            let load = Int64(list.activeConns(i)) + 1
            if best < 0 || bestLoad * Int64(list.weight(i)) > load * bestWeight {
                best = i; bestLoad = load; bestWeight = Int64(list.weight(i))
            }
        }
        return best < 0 ? nil : best
    }
}
