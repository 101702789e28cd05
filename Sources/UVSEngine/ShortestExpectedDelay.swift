/// sed (spec §2.5): least (active + 1) / weight by signed 64-bit cross products; ties keep
/// the earlier destination.
public struct ShortestExpectedDelay: Scheduler {
    public static let name = "sed"
    public init(setup: SchedulerSetup, destinations: DestinationList) {}

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        Self.pick(list)
    }

    /// The sed choice: least (active + 1)/weight by cross products, ties to the earliest;
    /// after the first eligible destination only OVERLOAD is skipped, as in the kernel
    /// (`schedulingWeight` is 0 when overloaded, and 0 never wins). One running minimum
    /// with the rare improvement out of line: measured faster here than wlc's two minima.
    static func pick(_ list: DestinationList) -> Int? {
        let n = list.count
        var i = 0
        while i < n && list.schedulingWeight(i) == 0 { i &+= 1 }
        guard i < n else { return nil }
        var best = i
        var bestLoad = list.server(i).pointee.sedOverhead
        var bestWeight = Int64(list.schedulingWeight(i))
        i &+= 1
        while i < n {
            let s = list.server(i)
            let load = s.pointee.sedOverhead
            let w = Int64(s.pointee.schedulingWeight)
            if _slowPath(bestLoad &* w > load &* bestWeight) {
                best = i; bestLoad = load; bestWeight = w
            }
            i &+= 1
        }
        return best
    }
}
