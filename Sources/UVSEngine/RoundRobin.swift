/// rr (spec §2.1): cyclic scan from the position after the cursor, up to and including it.
public struct RoundRobin: Scheduler {
    public static let name = "rr"
    /// List position of the last choice, -1 = the list head.
    var cursor = -1

    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        let n = list.count
        guard n > 0 else { return nil }
        let start = cursor
        var pos = start
        for _ in 0..<n {
            pos = pos + 1 >= n ? 0 : pos + 1
            if list.eligible(pos) {
                cursor = pos
                return pos
            }
        }
        return nil
    }

    public mutating func added(at position: Int, _ list: DestinationList) {
        if cursor >= position { cursor += 1 }
    }

    public mutating func removed(at position: Int, _ list: DestinationList) {
        // The cursor moves to the element before the deleted one (or the head).
        if cursor >= position { cursor -= 1 }
    }
}
