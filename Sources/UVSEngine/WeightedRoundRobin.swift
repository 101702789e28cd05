/// wrr (spec §2.2): the kernel's current-weight walk with gcd steps.
public struct WeightedRoundRobin: Scheduler {
    public static let name = "wrr"
    var cursor = -1     // list position, -1 = head
    var cw: Int32 = 0
    var mw: Int32 = 0
    var di: Int32 = 1

    public init(setup: SchedulerSetup, destinations: DestinationList) {
        recompute(destinations)
        cw = mw
    }

    static func gcd(_ a: Int32, _ b: Int32) -> Int32 {
        var a = a, b = b
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    mutating func recompute(_ list: DestinationList) {
        var g: Int32 = 0, maxW: Int32 = 0
        for i in 0..<list.count {
            let w = list[i].weight
            if w > 0 { g = g == 0 ? w : Self.gcd(w, g) }
            maxW = max(maxW, w)
        }
        di = g == 0 ? 1 : g
        mw = maxW - (di - 1)
        cursor = -1
    }

    mutating func changed(_ list: DestinationList) {
        recompute(list)
        if cw > mw || cw == 0 {
            cw = mw
        } else if di > 1 {
            cw = (cw / di) * di + 1
        }
    }

    public mutating func added(at position: Int, _ list: DestinationList) { changed(list) }
    public mutating func removed(at position: Int, _ list: DestinationList) { changed(list) }
    public mutating func edited(at position: Int, _ list: DestinationList) { changed(list) }

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        if mw == 0 { return nil }
        let n = list.count
        let last = cursor
        var stop = -2           // no stop position
        var lastPass = false, restarted = false
        var pos = cursor
        while true {
            pos += 1
            while pos < n {
                if list.schedulingWeight(pos) >= cw {   // cw ≥ 1: not OVERLOAD, weight ≥ cw
                    cursor = pos
                    return pos
                }
                if pos == stop {
                    cursor = pos
                    return nil
                }
                pos += 1
            }
            cw -= di
            if cw <= 0 {
                cw = mw
                if lastPass || last < 0 {
                    cursor = -1
                    return nil
                }
                restarted = true
            }
            lastPass = cw <= di
            if lastPass && restarted && last >= 0 { stop = last }
            pos = -1
        }
    }
}
