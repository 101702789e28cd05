import UVSPacket

/// mh (spec §2.14): Maglev consistent hashing. Each destination gets a permutation of the
/// prime-sized table (offset, skip from hsiphash of its address + port); slots are filled
/// round-robin, `turns` claims per visit from last_weight. Lookups hash the source
/// address (+ port with mh-port); mh-fallback probes on. Rebuilt on add, delete, edit.
public struct MaglevHashing: Scheduler {
    public static let name = "mh"
    /// Table sizes by CONFIG_IP_VS_MH_TAB_INDEX − 8.
    public static let primes = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071]
    public static let defaultIndex = 12
    public static let key1: (UInt64, UInt64) = (2_654_435_761, 2_654_435_761)
    public static let key2: (UInt64, UInt64) = (2_654_446_892, 2_654_446_892)

    public let size: Int
    let tabBits: Int
    /// ⌈2^64 / size⌉: `h % size` as two multiplications (Lemire's fastmod, exact for 32-bit
    /// h), where a 64-bit division per lookup cost more than the hash.
    let reciprocal: UInt64
    /// List position per slot, -1 when empty.
    public private(set) var lookup: [Int32]

    public init(setup: SchedulerSetup, destinations: DestinationList) {
        self.init(tableIndex: setup.sysctls.mhTableIndex, destinations: destinations)
    }

    public init(tableIndex: Int, destinations: DestinationList) {
        size = Self.primes[tableIndex - 8]
        reciprocal = UInt64.max / UInt64(size) &+ 1
        tabBits = tableIndex / 2
        lookup = []
        rebuild(destinations)
    }

    public static func permutation(_ addr: IPAddr, port: UInt16, size: Int) -> (offset: Int, skip: Int) {
        let v = UInt32(port) &+ addr.fold
        return (Int(HalfSipHash.hash(v, key: key1)) % size, Int(HalfSipHash.hash(v, key: key2)) % (size - 1) + 1)
    }

    /// The Maglev fill: destinations in order, each claiming `turns` slots per round at the
    /// next free position of its permutation, until every slot is owned.
    public static func populate(offsets: [Int], skips: [Int], turns: [Int], size: Int) -> [Int32] {
        var table = [Int32](repeating: -1, count: size)
        table.withUnsafeMutableBufferPointer { fill($0, offsets: offsets, skips: skips, turns: turns) }
        return table
    }

    /// The fill into an empty table (all -1), in place: a rebuild reuses the table's memory
    /// (at M = 65521 a fresh one is an mmap and 64 page faults).
    static func fill(_ t: UnsafeMutableBufferPointer<Int32>, offsets: [Int], skips: [Int], turns: [Int]) {
        let size = t.count
        guard turns.contains(where: { $0 > 0 }) else { return }
        var perm = offsets
        let count = offsets.count
        // The table is its own occupancy map (-1 = free): a probe is one load and one
        // compare (a separate bitmap cost a shift and a mask per probe, and was slower).
        perm.withUnsafeMutableBufferPointer { perm in
            skips.withUnsafeBufferPointer { skips in
                turns.withUnsafeBufferPointer { turns in
                    var n = 0
                    while n < size {
                        var d = 0
                        var claimed = 0
                        while d < count {
                            if turns[d] < 1 { d += 1; continue }
                            var c = perm[d]
                            let skip = skips[d], back = skips[d] &- size
                            // The next position without a branch on the wrap (taken at
                            // random, it mispredicted about every other probe): both
                            // candidates from c at once, the sign picks.
                            while t[c] >= 0 {
                                let ahead = c &+ skip, wrapped = c &+ back
                                c = wrapped < 0 ? ahead : wrapped
                            }
                            perm[d] = c
                            t[c] = Int32(truncatingIfNeeded: d)
                            n += 1
                            if n == size { return }
                            claimed += 1
                            if claimed >= turns[d] { claimed = 0; d += 1 }
                        }
                    }
                }
            }
        }
    }

    static func fls(_ x: Int) -> Int { x <= 0 ? 0 : Int.bitWidth - x.leadingZeroBitCount }

    mutating func rebuild(_ list: DestinationList) {
        if lookup.count == size {
            lookup.withUnsafeMutableBufferPointer { $0.update(repeating: -1) }
        } else {
            lookup = [Int32](repeating: -1, count: size)
        }
        guard list.count > 0, list.count <= size else { return }
        var g = 0, maxW = 0
        for i in 0..<list.count {
            let w = Int(list[i].lastWeight)
            if w > 0 { g = g > 0 ? Self.gcd(w, g) : w }
            maxW = max(maxW, w)
        }
        guard g > 0 else { return }
        let rshift = max(Self.fls(maxW / g) - tabBits, 0)
        var offsets: [Int] = [], skips: [Int] = [], turns: [Int] = []
        for i in 0..<list.count {
            let d = list[i]
            let (o, s) = Self.permutation(d.addr, port: d.port, size: size)
            offsets.append(o); skips.append(s)
            let lw = Int(d.lastWeight)
            let t = (lw / g) >> rshift
            turns.append(t != 0 ? t : (lw != 0 ? 1 : 0))
        }
        lookup.withUnsafeMutableBufferPointer { Self.fill($0, offsets: offsets, skips: skips, turns: turns) }
    }

    static func gcd(_ a: Int, _ b: Int) -> Int {
        var a = a, b = b
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    public mutating func added(at position: Int, _ list: DestinationList) { rebuild(list) }
    public mutating func removed(at position: Int, _ list: DestinationList) { rebuild(list) }
    public mutating func edited(at position: Int, _ list: DestinationList) { rebuild(list) }

    @inline(__always)
    public func slot(_ addr: IPAddr, port: UInt16, offset: Int = 0) -> Int {
        let h = HalfSipHash.hash(UInt32(truncatingIfNeeded: offset) &+ UInt32(port) &+ addr.fold, key: Self.key1)
        return Int((reciprocal &* UInt64(h)).multipliedFullWidth(by: UInt64(size)).high)
    }

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        let (addr, port) = request.sourceKey(usePort: request.serviceFlags & ServiceFlags.sched2 != 0)
        func usable(_ pos: Int32) -> Bool { list.eligible(Int(pos)) }
        let primary = slot(addr, port: port)
        let p = lookup[primary]
        guard p >= 0 else { return nil }
        if usable(p) { return Int(p) }
        guard request.serviceFlags & ServiceFlags.sched1 != 0 else { return nil }
        for k in 0..<size {
            let q = lookup[slot(addr, port: port, offset: (k + primary) % size)]
            if q < 0 { break }
            if usable(q) { return Int(q) }
        }
        return nil
    }
}
