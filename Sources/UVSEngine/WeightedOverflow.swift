/// ovf (spec §2.8): the highest weight among destinations that are not overloaded, have
/// weight > 0 and no more active connections than their weight; ties to the earliest.
public struct WeightedOverflow: Scheduler {
    public static let name = "ovf"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        WeightedFailover.heaviest(list) { list.activeConns($0) <= list.weight($0) }
    }
}
