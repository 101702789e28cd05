/// ovf (spec §2.8): the highest weight among destinations that are not overloaded, have
/// weight > 0 and no more active connections than their weight; ties to the earliest.
public struct WeightedOverflow: Scheduler {
    public static let name = "ovf"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        var best = -1
        var bestWeight: Int32 = 0
        for i in 0..<list.count {
            let w = list.weight(i)
            guard !list.overloaded(i), w > 0, list.activeConns(i) <= w else { continue }
            if w > bestWeight { best = i; bestWeight = w }
        }
        return best < 0 ? nil : best
    }
}
