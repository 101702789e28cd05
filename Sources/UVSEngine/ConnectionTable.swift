import CPrefetch
import UVSPacket

/// The connection table: a slab of fixed-size entries, a chained hash index keyed by the
/// client side (caddr, cport, proto) as the kernel's, and lazy expiry timers.
///
/// A refresh only writes `expires`; the timer heap keeps the expiry it was armed with and,
/// when that comes due, re-arms to the entry's current expiry if it moved later. So a packet
/// on an existing connection touches no heap and allocates nothing. An expiry that moves
/// earlier than the armed one (a shorter timeout: a RST on an established connection) arms
/// a new timer at once, as the kernel's mod_timer. An entry remembers the expiry its live
/// timer was armed with; any other timer of its slot is stale and dropped when it comes up,
/// and when the heap's reserved room is full the stale ones are swept out first (so it never
/// grows past one timer per slot).
public struct ConnectionTable {
    @usableFromInline var slots: ContiguousArray<Connection> = []
    @usableFromInline var buckets: ContiguousArray<Int32> = []
    @usableFromInline var mask: UInt32 = 0
    @usableFromInline var freeHead: Int32 = -1
    @usableFromInline var timers = TimerQueue<Timer>() { didSet { nextDue = timers.min?.expires ?? .max } }
    /// Expiry of the earliest armed timer (Int64.max when none): one compare per packet.
    public private(set) var nextDue: Nanos = .max
    @usableFromInline let seed: UInt32
    public private(set) var count = 0
    /// Entries the table may hold before it refuses new ones (counted as a drop).
    public var limit: Int

    /// "No live timer" in `Connection.armed`.
    @usableFromInline static let noTimer: Nanos = .min

    /// A heap entry: the slot to look at and when. The expiry is kept as two 32-bit halves,
    /// so an entry takes 12 bytes (an Int64 field would align it to 16).
    @usableFromInline struct Timer: Comparable {
        var expiresLow: UInt32
        var expiresHigh: Int32
        var slot: Int32
        init(expires: Nanos, slot: Int32) {
            expiresLow = UInt32(truncatingIfNeeded: expires)
            expiresHigh = Int32(truncatingIfNeeded: expires >> 32)
            self.slot = slot
        }
        var expires: Nanos { Int64(expiresHigh) << 32 | Int64(expiresLow) }
        @usableFromInline static func < (a: Timer, b: Timer) -> Bool {
            a.expires < b.expires || (a.expires == b.expires && a.slot < b.slot)
        }
        @usableFromInline static func == (a: Timer, b: Timer) -> Bool { a.expires == b.expires && a.slot == b.slot }
    }

    /// `initialCapacity` slots are allocated up front; the table doubles up to `limit`.
    public init(initialCapacity: Int = 4096, limit: Int = 1 << 24, seed: UInt32 = 0x5EED_1D05) {
        self.limit = limit
        self.seed = seed
        reserve(max(16, initialCapacity))
    }

    public var capacity: Int { slots.count }

    /// Grows the slab and rebuilds the index (never on the per-packet path of a hit).
    public mutating func reserve(_ n: Int) {
        guard n > slots.count else { return }
        let old = slots.count
        let head = freeHead
        slots = slots.withUnsafeBufferPointer { current in
            Self.hugePageArray(count: n) { base in
                if old > 0 { base.initialize(from: current.baseAddress!, count: old) }
                var c = Connection()
                for i in old..<n {
                    c.next = i + 1 < n ? Int32(i + 1) : head
                    (base + i).initialize(to: c)
                }
            }
        }
        freeHead = Int32(old)
        // Up to two entries per bucket: chains stay short, the index costs 2–4 bytes an entry.
        var nb = 16
        while nb * 2 < n { nb <<= 1 }
        buckets = Self.hugePageArray(count: nb) { $0.initialize(repeating: -1, count: nb) }
        mask = UInt32(nb - 1)
        for i in 0..<old where slots[i].flags & ConnFlags.hashed != 0 {
            let b = Int(bucket(slots[i].caddr, slots[i].cport, slots[i].proto))
            slots[i].next = buckets[b]
            buckets[b] = Int32(i)
        }
        timers.reserveCapacity(n)
    }

    /// A new array of `count` elements, asked for huge pages before its memory is first
    /// touched (a lookup is a random access into it).
    static func hugePageArray<T>(count: Int, _ initialize: (UnsafeMutablePointer<T>) -> Void) -> ContiguousArray<T> {
        ContiguousArray(unsafeUninitializedCapacity: count) { buf, initialized in
            if let base = buf.baseAddress {
                uvs_advise_huge_pages(UnsafeMutableRawPointer(base), count * MemoryLayout<T>.stride)
                initialize(base)
            }
            initialized = count
        }
    }

    /// Client-side key hash (the kernel hashes the same fields with a seeded jhash). Each
    /// field is multiplied by its own odd constant before mixing, so structured keys
    /// (sequential addresses and ports) spread as well as random ones.
    @inlinable func bucket(_ addr: IPAddr, _ port: UInt16, _ proto: UInt8) -> UInt32 {
        var h = addr.lo &* 0x9E37_79B9_7F4A_7C15
        h ^= addr.hi &* 0xC2B2_AE3D_27D4_EB4F
        h ^= (UInt64(port) << 8 | UInt64(proto) | UInt64(seed) << 32) &* 0x1656_67B1_9E37_79F9
        h ^= h >> 29
        h &*= 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return UInt32(truncatingIfNeeded: h) & mask
    }

    @inlinable public subscript(slot: Int32) -> Connection {
        _read { yield slots[Int(slot)] }
        _modify {
            yield &slots[Int(slot)]
            let (flags, expires, armed) = slots.withUnsafeBufferPointer {
                ($0[Int(slot)].flags, $0[Int(slot)].expires, $0[Int(slot)].armed)
            }
            // A hashed entry with no timer (its first packet is done: `noTimer` is below every
            // expiry) or whose expiry moved earlier than its timer's gets one now.
            let live = ConnFlags.inUse | ConnFlags.hashed
            if flags & live == live && (expires < armed || armed == Self.noTimer) { armTimer(slot) }
        }
    }

    /// Reads an entry in place (no copy of the whole entry).
    @inlinable public func withEntry<R>(_ slot: Int32, _ body: (UnsafePointer<Connection>) -> R) -> R {
        slots.withUnsafeBufferPointer { body($0.baseAddress! + Int(slot)) }
    }

    // MARK: lookups (spec §3.3)

    /// In-lookup: a client → virtual packet.
    @inlinable
    public func lookupIn(proto: UInt8, caddr: IPAddr, cport: UInt16, vaddr: IPAddr, vport: UInt16) -> Int32 {
        var i = buckets[Int(bucket(caddr, cport, proto))]
        return slots.withUnsafeBufferPointer { s in
            while i >= 0 {
                let c = s.baseAddress! + Int(i)
                if c.pointee.cport == cport && c.pointee.vport == vport && c.pointee.caddr == caddr
                    && c.pointee.vaddr == vaddr && c.pointee.proto == proto && c.pointee.flags & ConnFlags.template == 0 {
                    return i
                }
                i = c.pointee.next
            }
            return -1
        }
    }

    /// Out-lookup: a server → client packet from (saddr, sport) to (caddr, cport).
    @inlinable
    public func lookupOut(proto: UInt8, saddr: IPAddr, sport: UInt16, caddr: IPAddr, cport: UInt16) -> Int32 {
        var i = buckets[Int(bucket(caddr, cport, proto))]
        while i >= 0 {
            let c = slots[Int(i)]
            if c.cport == cport && c.caddr == caddr && c.proto == proto && c.flags & ConnFlags.template == 0 {
                if c.flags & ConnFlags.fwdMask == UInt32(ForwardMethod.masquerade.rawValue) {
                    if c.daddr == saddr && c.dport == sport { return i }
                } else if c.vaddr == saddr && c.vport == sport {
                    return i
                }
            }
            i = c.next
        }
        return -1
    }

    /// Template lookup (cport is always 0 in templates).
    public func lookupTemplate(proto: UInt8, caddr: IPAddr, vaddr: IPAddr, vport: UInt16) -> Int32 {
        var i = buckets[Int(bucket(caddr, 0, proto))]
        while i >= 0 {
            let c = slots[Int(i)]
            if c.flags & ConnFlags.template != 0 && c.cport == 0 && c.caddr == caddr
                && c.vaddr == vaddr && c.vport == vport && c.proto == proto {
                return i
            }
            i = c.next
        }
        return -1
    }

    // MARK: insert / remove

    /// Takes a free slot for `conn` (hashed unless it is a one-packet connection) and arms
    /// its timer, or leaves that to the caller's first write of the entry (`armed: false`:
    /// a new connection whose first packet sets its real timeout, so its timer is armed
    /// once, at that expiry). Returns -1 when the table is full.
    public mutating func insert(_ conn: Connection, hashed: Bool = true, armed: Bool = true) -> Int32 {
        if freeHead < 0 {
            guard slots.count < limit else { return -1 }
            reserve(min(limit, slots.count * 2))
        }
        let i = freeHead
        freeHead = slots[Int(i)].next
        var c = conn
        c.armed = Self.noTimer
        c.flags |= ConnFlags.inUse
        if hashed {
            c.flags |= ConnFlags.hashed
            let b = Int(bucket(c.caddr, c.cport, c.proto))
            c.next = buckets[b]
            buckets[b] = i
        } else {
            c.next = -1
        }
        slots[Int(i)] = c
        count += 1
        if hashed && armed { armTimer(i) }
        return i
    }

    /// Removes the entry from the index (it can never match again) and frees the slot.
    public mutating func remove(_ i: Int32) {
        unhash(i)
        slots[Int(i)].flags = 0
        slots[Int(i)].armed = Self.noTimer
        slots[Int(i)].next = freeHead
        freeHead = i
        count -= 1
    }

    /// Takes the entry out of the hash index, keeping the slot (used when re-keying).
    public mutating func unhash(_ i: Int32) {
        guard slots[Int(i)].flags & ConnFlags.hashed != 0 else { return }
        let c = slots[Int(i)]
        let b = Int(bucket(c.caddr, c.cport, c.proto))
        if buckets[b] == i {
            buckets[b] = c.next
        } else {
            var p = buckets[b]
            while p >= 0 {
                if slots[Int(p)].next == i { slots[Int(p)].next = c.next; break }
                p = slots[Int(p)].next
            }
        }
        slots[Int(i)].flags &= ~ConnFlags.hashed
        slots[Int(i)].next = -1
    }

    /// Puts an entry (back) into the hash index under its current key.
    public mutating func rehash(_ i: Int32) {
        unhash(i)
        let c = slots[Int(i)]
        let b = Int(bucket(c.caddr, c.cport, c.proto))
        slots[Int(i)].next = buckets[b]
        slots[Int(i)].flags |= ConnFlags.hashed
        buckets[b] = i
    }

    /// Arms the entry's timer at its current expiry; any earlier-armed one becomes stale.
    public mutating func armTimer(_ i: Int32) {
        let expires = slots.withUnsafeMutableBufferPointer { s in
            let e = s.baseAddress! + Int(i)
            e.pointee.armed = e.pointee.expires
            return e.pointee.expires
        }
        insertTimer(Timer(expires: expires, slot: i))
    }

    /// A timer into the heap. When its reserved room (one timer per slot) is full, the
    /// stale timers are swept out first (timers moved earlier leave their old ones behind),
    /// so the heap does not grow for them. Only if live timers still fill three quarters of
    /// it does it double, so that sweeps stay rare (amortised O(1) a timer).
    @usableFromInline mutating func insertTimer(_ t: Timer) {
        if timers.count == timers.capacity {
            slots.withUnsafeBufferPointer { s in
                timers.keep { s[Int($0.slot)].flags & ConnFlags.inUse != 0 && s[Int($0.slot)].armed == $0.expires }
            }
            if timers.count * 4 > timers.capacity * 3 { timers.reserveCapacity(timers.capacity * 2) }
        }
        timers.insert(t)
    }

    /// Next live entry whose expiry has come (≤ now), if any. Entries refreshed since their
    /// timer was armed are re-armed on the way; stale timers are dropped.
    public mutating func nextExpired(now: Nanos) -> (slot: Int32, at: Nanos)? {
        while let t = timers.min, t.expires <= now {
            _ = timers.popMin()
            let c = slots[Int(t.slot)]
            guard c.flags & ConnFlags.inUse != 0, c.armed == t.expires else { continue }
            if c.expires > t.expires {
                // Refreshed since armed: re-arm at the current expiry.
                armTimer(t.slot)
                continue
            }
            // Due: the caller expires it, or re-arms it.
            slots[Int(t.slot)].armed = Self.noTimer
            return (t.slot, c.expires)
        }
        return nil
    }

    /// Slots of all live, hashed entries in slot order.
    public func liveSlots() -> [Int32] {
        var r: [Int32] = []
        r.reserveCapacity(count)
        for i in 0..<slots.count where slots[i].flags & ConnFlags.hashed != 0 { r.append(Int32(i)) }
        return r
    }

    /// Bytes held per connection at worst, including its index (≤ 1 bucket per entry) and
    /// its timer entry.
    public static var bytesPerEntry: Int {
        MemoryLayout<Connection>.stride + MemoryLayout<Int32>.stride + MemoryLayout<Timer>.stride
    }
}
