/// nq (spec §2.6): the first eligible destination with no active connection; otherwise
/// the sed choice (one kernel pass, the same result as these two).
public struct NeverQueue: Scheduler {
    public static let name = "nq"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        for i in 0..<list.count {
            let s = list.server(i)
            if s.pointee.weight > 0 && !s.pointee.overloaded && s.pointee.activeConns == 0 { return i }
        }
        return ShortestExpectedDelay.pick(list)
    }
}
