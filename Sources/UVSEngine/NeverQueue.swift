/// nq (spec §2.6): the first eligible destination with no active connection; otherwise
/// the sed choice (the kernel makes one pass; these two give the same result, and the
/// first is a cheap scan).
public struct NeverQueue: Scheduler {
    public static let name = "nq"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        for i in 0..<list.count {
            let s = list.server(i)
            if s.pointee.activeConns == 0 && s.pointee.schedulingWeight > 0 { return i }
        }
        return ShortestExpectedDelay.pick(list)
    }
}
