import UVSPacket

/// A small direct-mapped cache in front of the service dictionary: the key's own cheap mix
/// picks one of 64 entries, a full key comparison confirms it. Misses fall through to the
/// dictionary (and fill the entry); it holds only positive answers.
struct ServiceCache {
    private var keys = ContiguousArray<ServiceKey>(repeating: ServiceKey(fwmark: 0, v6: false), count: 64)
    private var values = ContiguousArray<Int32>(repeating: -1, count: 64)

    @inline(__always) static func slot(_ k: ServiceKey) -> Int {
        var x = k.addr.lo ^ k.addr.hi ^ (UInt64(k.port) << 16 | UInt64(k.proto) | UInt64(k.fwmark) << 24)
        x &*= 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: x >> 58)
    }

    /// The entry filled last, checked first: with one VIP (the common case) every lookup
    /// ends here, without the mix.
    private var lastKey = ServiceKey(fwmark: 0, v6: false)
    private var lastValue: Int32 = -1

    subscript(key: ServiceKey) -> Int32? {
        get {
            if lastValue >= 0 && lastKey == key { return lastValue }
            let i = Self.slot(key)
            return values[i] >= 0 && keys[i] == key ? values[i] : nil
        }
        set {
            let i = Self.slot(key)
            keys[i] = key
            values[i] = newValue ?? -1
            lastKey = key
            lastValue = newValue ?? -1
        }
    }

    mutating func removeAll() {
        for i in values.indices { values[i] = -1 }
        lastValue = -1
    }
}
