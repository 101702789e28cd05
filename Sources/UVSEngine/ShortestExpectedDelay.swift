/// sed (spec §2.5): least (active + 1) / weight by signed 64-bit cross products; ties keep
/// the earlier destination.
public struct ShortestExpectedDelay: Scheduler {
    public static let name = "sed"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        Self.pick(list)
    }

    /// The sed choice: least (active + 1)/weight, scanned as wlc's.
    static func pick(_ list: DestinationList) -> Int? {
        WeightedLeastConnection.leastRatio(list) { $0.pointee.sedOverhead }
    }
}
