/// The connection table's expiry timers: a binary min-heap ordered by (expiry, slot), so
/// equal expiries come out in a fixed order. New connections arm timers with ever later
/// expiries, which a binary heap takes in one comparison (a min-max heap would climb its
/// max levels on every such insert).
@usableFromInline struct TimerQueue<T: Comparable> {
    private(set) var items = ContiguousArray<T>()

    var min: T? { items.first }
    var count: Int { items.count }
    var capacity: Int { items.capacity }

    mutating func reserveCapacity(_ n: Int) { items.reserveCapacity(n) }

    mutating func insert(_ x: T) {
        items.append(x)
        items.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard x < h[parent] else { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = x
        }
    }

    @discardableResult
    mutating func popMin() -> T? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return top }
        items.withUnsafeMutableBufferPointer { Self.siftDown(last, from: 0, in: $0) }
        return top
    }

    /// Keeps the items `keep` accepts and restores the heap (Floyd's bottom-up build, O(n)).
    mutating func keep(where keep: (T) -> Bool) {
        items.removeAll { !keep($0) }
        items.withUnsafeMutableBufferPointer { h in
            var start = h.count / 2 - 1
            while start >= 0 {
                Self.siftDown(h[start], from: start, in: h)
                start -= 1
            }
        }
    }

    /// Puts `x` at position `i` or below it, moving smaller children up.
    @inline(__always)
    static func siftDown(_ x: T, from i: Int, in h: UnsafeMutableBufferPointer<T>) {
        let n = h.count
        var i = i
        while true {
            var c = 2 * i + 1
            guard c < n else { break }
            if c + 1 < n && h[c + 1] < h[c] { c += 1 }
            guard h[c] < x else { break }
            h[i] = h[c]
            i = c
        }
        h[i] = x
    }
}
