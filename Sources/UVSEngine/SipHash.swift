/// The kernel's hsiphash on a 64-bit kernel: SipHash-1-3 with 64-bit words, key words
/// zero-extended, over a 4-byte message (spec §2.14); returns the low 32 bits.
public enum HalfSipHash {
    @inlinable @inline(__always)
    static func round(_ v0: inout UInt64, _ v1: inout UInt64, _ v2: inout UInt64, _ v3: inout UInt64) {
        v0 &+= v1; v1 = v1.rotl(13); v1 ^= v0; v0 = v0.rotl(32)
        v2 &+= v3; v3 = v3.rotl(16); v3 ^= v2
        v0 &+= v3; v3 = v3.rotl(21); v3 ^= v0
        v2 &+= v1; v1 = v1.rotl(17); v1 ^= v2; v2 = v2.rotl(32)
    }

    /// Always inlined: with the schedulers' constant keys the key setup and part of the
    /// first round fold away.
    @inlinable @inline(__always)
    public static func hash(_ value: UInt32, key: (UInt64, UInt64)) -> UInt32 {
        var v0: UInt64 = 0x736F_6D65_7073_6575 ^ key.0
        var v1: UInt64 = 0x646F_7261_6E64_6F6D ^ key.1
        var v2: UInt64 = 0x6C79_6765_6E65_7261 ^ key.0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ key.1
        let b = UInt64(4) << 56 | UInt64(value)
        v3 ^= b
        round(&v0, &v1, &v2, &v3)
        v0 ^= b
        v2 ^= 0xFF
        round(&v0, &v1, &v2, &v3)
        round(&v0, &v1, &v2, &v3)
        round(&v0, &v1, &v2, &v3)
        return UInt32(truncatingIfNeeded: v0 ^ v1 ^ v2 ^ v3)
    }

    /// Full SipHash-2-4 over bytes (to check the round function against the published
    /// reference vectors).
    public static func sipHash24(_ data: [UInt8], key: (UInt64, UInt64)) -> UInt64 {
        var v0: UInt64 = 0x736F_6D65_7073_6575 ^ key.0
        var v1: UInt64 = 0x646F_7261_6E64_6F6D ^ key.1
        var v2: UInt64 = 0x6C79_6765_6E65_7261 ^ key.0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ key.1
        var i = 0
        while i + 8 <= data.count {
            var m: UInt64 = 0
            for k in 0..<8 { m |= UInt64(data[i + k]) << UInt64(8 * k) }
            v3 ^= m; round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3); v0 ^= m
            i += 8
        }
        var b = UInt64(data.count & 0xFF) << 56
        for k in 0..<(data.count - i) { b |= UInt64(data[i + k]) << UInt64(8 * k) }
        v3 ^= b; round(&v0, &v1, &v2, &v3); round(&v0, &v1, &v2, &v3); v0 ^= b
        v2 ^= 0xFF
        for _ in 0..<4 { round(&v0, &v1, &v2, &v3) }
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inlinable @inline(__always) func rotl(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
