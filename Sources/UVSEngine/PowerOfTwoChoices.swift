/// twos (spec §2.9, Linux 6.2+): two weighted random picks, keep the less loaded
/// (32-bit int cross products, ties to the first pick). Randomness comes from the engine's
/// injected source through the request.
public struct PowerOfTwoChoices: Scheduler {
    public static let name = "twos"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        var total: Int64 = 0
        for i in 0..<list.count where list[i].eligible { total += Int64(list[i].weight) }
        guard total > 0 else { return nil }
        // Uniform in [0, total] (get_random_u32_below(total + 1)).
        var r1 = Int64(request.random.0 % UInt64(total + 1))
        var r2 = Int64(request.random.1 % UInt64(total + 1))
        var c1 = -1, c2 = -1
        for i in 0..<list.count where list[i].eligible {
            let w = Int64(list[i].weight)
            if c1 < 0 { r1 -= w; if r1 <= 0 { c1 = i } }
            if c2 < 0 { r2 -= w; if r2 <= 0 { c2 = i } }
            if c1 >= 0 && c2 >= 0 { break }
        }
        guard c1 >= 0, c2 >= 0 else { return c1 >= 0 ? c1 : (c2 >= 0 ? c2 : nil) }
        let d1 = list[c1], d2 = list[c2]
        let lhs = Int32(truncatingIfNeeded: Int64(d2.weight) &* d1.overhead)
        let rhs = Int32(truncatingIfNeeded: Int64(d1.weight) &* d2.overhead)
        return lhs > rhs ? c2 : c1
    }
}
