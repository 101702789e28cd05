/// fo (spec §2.7): the highest weight among destinations without OVERLOAD (weight > 0);
/// ties go to the earliest in list order.
public struct WeightedFailover: Scheduler {
    public static let name = "fo"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        Self.heaviest(list) { _ in true }
    }

    /// The first destination of highest weight (> 0, no OVERLOAD) among those `admit` lets in.
    static func heaviest(_ list: DestinationList, admit: (Int) -> Bool) -> Int? {
        var best = -1
        var bestWeight: Int32 = 0
        for i in 0..<list.count where !list.overloaded(i) && list.weight(i) > bestWeight && admit(i) {
            best = i
            bestWeight = list.weight(i)
        }
        return best < 0 ? nil : best
    }
}
