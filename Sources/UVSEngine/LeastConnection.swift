/// lc (spec §2.3): least active*256 + inactive; ties to the earliest in list order.
public struct LeastConnection: Scheduler {
    public static let name = "lc"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        // One address per destination, fields read from it; the first eligible one always
        // beats the sentinel (loads stay far below Int64.max), as the kernel's `!least`.
        var best = -1
        var bestLoad = Int64.max
        for i in 0..<list.count {
            let s = list.server(i)
            guard s.pointee.weight > 0, !s.pointee.overloaded else { continue }
            let load = Int64(s.pointee.activeConns) &<< 8 &+ Int64(s.pointee.inactiveConns)
            if load < bestLoad { best = i; bestLoad = load }
        }
        return best < 0 ? nil : best
    }
}
