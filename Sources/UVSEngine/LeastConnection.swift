/// lc (spec §2.3): least active*256 + inactive; ties to the earliest in list order.
public struct LeastConnection: Scheduler {
    public static let name = "lc"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        var best = -1
        var bestLoad: Int64 = 0
        for i in 0..<list.count {
            guard list.eligible(i) else { continue }
            let load = list.overhead(i)
            if best < 0 || load < bestLoad { best = i; bestLoad = load }
        }
        return best < 0 ? nil : best
    }
}
