/// fo (spec §2.7): the highest weight among destinations without OVERLOAD (weight > 0);
/// ties go to the earliest in list order.
public struct WeightedFailover: Scheduler {
    public static let name = "fo"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        var best = -1
        var bestWeight: Int32 = 0
        for i in 0..<list.count {
            let w = list.weight(i)
            if !list.overloaded(i) && w > bestWeight { best = i; bestWeight = w }
        }
        return best < 0 ? nil : best
    }
}
