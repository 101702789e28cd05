/// twos (spec §2.9, Linux 6.2+): two weighted random picks, keep the less loaded
/// (32-bit int cross products, ties to the first pick). Randomness comes from the engine's
/// injected source through the request.
public struct PowerOfTwoChoices: Scheduler {
    public static let name = "twos"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        // The scheduling weight is the weight of an eligible server and 0 otherwise: one
        // field read per server (not a copy of the whole server).
        var total: Int64 = 0
        for i in 0..<list.count { total += Int64(list.schedulingWeight(i)) }
        guard total > 0 else { return nil }
        // Uniform in [0, total] (get_random_u32_below(total + 1)).
        var r1 = Int64(request.random.0 % UInt64(total + 1))
        var r2 = Int64(request.random.1 % UInt64(total + 1))
        var c1 = -1, c2 = -1
        for i in 0..<list.count {
            let w = Int64(list.schedulingWeight(i))
            guard w > 0 else { continue }
            if c1 < 0 { r1 -= w; if r1 <= 0 { c1 = i } }
            if c2 < 0 { r2 -= w; if r2 <= 0 { c2 = i } }
            if c1 >= 0 && c2 >= 0 { break }
        }
        guard c1 >= 0, c2 >= 0 else { return c1 >= 0 ? c1 : (c2 >= 0 ? c2 : nil) }
        let lhs = Int32(truncatingIfNeeded: Int64(list.weight(c2)) &* list.overhead(c1))
        let rhs = Int32(truncatingIfNeeded: Int64(list.weight(c1)) &* list.overhead(c2))
        return lhs > rhs ? c2 : c1
    }
}
