/// nq (spec §2.6): the first eligible destination with no active connection; otherwise
/// the sed choice.
public struct NeverQueue: Scheduler {
    public static let name = "nq"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        var best = -1
        var bestLoad: Int64 = 0, bestWeight: Int64 = 0
        for i in 0..<list.count {
            guard list.eligible(i) else { continue }
            if list.activeConns(i) == 0 { return i }
            let load = Int64(list.activeConns(i)) + 1
            if best < 0 || bestLoad * Int64(list.weight(i)) > load * bestWeight {
                best = i; bestLoad = load; bestWeight = Int64(list.weight(i))
            }
        }
        return best < 0 ? nil : best
    }
}
