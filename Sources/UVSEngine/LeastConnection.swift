/// lc (spec §2.3): least active*256 + inactive; ties to the earliest in list order.
public struct LeastConnection: Scheduler {
    public static let name = "lc"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        // Branch-free per destination: an ineligible one gets the sentinel load, which never
        // wins, and the first eligible one always beats it (loads stay far below Int64.max),
        // as the kernel's `!least`.
        var best = -1
        var bestLoad = Int64.max
        for i in 0..<list.count {
            let s = list.server(i)
            let load = s.pointee.schedulingWeight > 0 ? s.pointee.overhead : Int64.max
            if load < bestLoad { best = i; bestLoad = load }
        }
        return best < 0 ? nil : best
    }
}
