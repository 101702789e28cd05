#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address in 16 bytes. IPv4 is held IPv4-mapped (::ffff:a.b.c.d), so an
/// address says by itself which family it is and compares/hashes without a side field.
public struct IPAddr: Hashable, Sendable, Comparable {
    /// Bytes 0..7 and 8..15 of the IPv6 form, big-endian (network order) as integers.
    public var hi: UInt64
    public var lo: UInt64

    @inlinable public init(hi: UInt64, lo: UInt64) { self.hi = hi; self.lo = lo }

    /// IPv4 from its host-order 32-bit value.
    @inlinable public init(v4 value: UInt32) { hi = 0; lo = 0x0000_FFFF_0000_0000 | UInt64(value) }

    // Computed, not stored: a stored static is a lazily initialised global, checked on
    // every use in the per-packet path.
    @inlinable public static var zero4: IPAddr { IPAddr(hi: 0, lo: 0x0000_FFFF_0000_0000) }
    @inlinable public static var zero6: IPAddr { IPAddr(hi: 0, lo: 0) }

    @inlinable public var isV4: Bool { hi == 0 && (lo >> 32) == 0xFFFF }
    /// Host-order IPv4 value (meaningful only when `isV4`).
    @inlinable public var v4: UInt32 { UInt32(truncatingIfNeeded: lo) }

    /// The kernel's fold of an address into 32 bits: the IPv4 value, or the XOR of the four
    /// 32-bit words of an IPv6 address (both in host order of the big-endian words).
    @inlinable public var fold: UInt32 {
        if isV4 { return v4 }
        return UInt32(truncatingIfNeeded: hi >> 32) ^ UInt32(truncatingIfNeeded: hi)
            ^ UInt32(truncatingIfNeeded: lo >> 32) ^ UInt32(truncatingIfNeeded: lo)
    }

    /// Reads 4 (IPv4) or 16 (IPv6) network-order bytes.
    @inlinable public static func load(v4 p: UnsafeRawPointer) -> IPAddr {
        IPAddr(v4: UInt32(bigEndian: p.loadUnaligned(as: UInt32.self)))
    }
    @inlinable public static func load(v6 p: UnsafeRawPointer) -> IPAddr {
        IPAddr(hi: UInt64(bigEndian: p.loadUnaligned(as: UInt64.self)),
               lo: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }
    @inlinable public func store(v4 p: UnsafeMutableRawPointer) {
        p.storeBytes(of: v4.bigEndian, as: UInt32.self)
    }
    @inlinable public func store(v6 p: UnsafeMutableRawPointer) {
        p.storeBytes(of: hi.bigEndian, as: UInt64.self)
        p.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
    }

    /// The 16 bytes of the IPv6 form (IPv4-mapped for IPv4), as 8 big-endian 16-bit words.
    @inlinable public var words16: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) {
        (UInt16(truncatingIfNeeded: hi >> 48), UInt16(truncatingIfNeeded: hi >> 32),
         UInt16(truncatingIfNeeded: hi >> 16), UInt16(truncatingIfNeeded: hi),
         UInt16(truncatingIfNeeded: lo >> 48), UInt16(truncatingIfNeeded: lo >> 32),
         UInt16(truncatingIfNeeded: lo >> 16), UInt16(truncatingIfNeeded: lo))
    }

    /// Keeps the first `bits` bits of the address within its family (IPv4: of the 32 bits).
    public func masked(prefix bits: Int) -> IPAddr {
        if isV4 {
            let m: UInt32 = bits <= 0 ? 0 : (bits >= 32 ? ~0 : ~0 << UInt32(32 - bits))
            return IPAddr(v4: v4 & m)
        }
        if bits >= 128 { return self }
        if bits <= 0 { return .zero6 }
        if bits <= 64 {
            return IPAddr(hi: bits == 64 ? hi : hi & (~0 << UInt64(64 - bits)), lo: 0)
        }
        return IPAddr(hi: hi, lo: lo & (~0 << UInt64(128 - bits)))
    }

    /// Parses dotted IPv4 or textual IPv6 (inet_pton).
    public init?(_ text: String) {
        var a4 = in_addr()
        if inet_pton(AF_INET, text, &a4) == 1 {
            self.init(v4: UInt32(bigEndian: a4.s_addr))
            return
        }
        var a6 = in6_addr()
        guard inet_pton(AF_INET6, text, &a6) == 1 else { return nil }
        var r = IPAddr.zero6
        withUnsafeBytes(of: &a6) { r = IPAddr.load(v6: $0.baseAddress!) }
        self = r
    }

    public var description: String {
        if isV4 {
            let v = v4
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        }
        var a6 = in6_addr()
        withUnsafeMutableBytes(of: &a6) { store(v6: $0.baseAddress!) }
        var buf = [CChar](repeating: 0, count: 64)
        _ = inet_ntop(AF_INET6, &a6, &buf, 64)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (a: IPAddr, b: IPAddr) -> Bool { (a.hi, a.lo) < (b.hi, b.lo) }
}

extension IPAddr: CustomStringConvertible {}

/// A 6-byte Ethernet address, held as a 48-bit integer (first byte most significant) so
/// it is written into a frame with two stores.
public struct MACAddr: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    @inlinable public init(value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }
    public init(_ b: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) {
        value = UInt64(b.0) << 40 | UInt64(b.1) << 32 | UInt64(b.2) << 24 | UInt64(b.3) << 16 | UInt64(b.4) << 8 | UInt64(b.5)
    }
    @inlinable public static var zero: MACAddr { MACAddr(value: 0) }

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.count >= 1, p.count <= 2, let b = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(b)
        }
        value = v
    }

    @inlinable @inline(__always) public func store(_ p: UnsafeMutableRawPointer) {
        p.storeBytes(of: UInt32(truncatingIfNeeded: value >> 16).bigEndian, as: UInt32.self)
        p.storeBytes(of: UInt16(truncatingIfNeeded: value).bigEndian, toByteOffset: 4, as: UInt16.self)
    }
    @inlinable public static func load(_ p: UnsafeRawPointer) -> MACAddr {
        MACAddr(value: UInt64(UInt32(bigEndian: p.loadUnaligned(as: UInt32.self))) << 16
            | UInt64(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))))
    }

    public var description: String {
        (0..<6).map { i -> String in
            let b = UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * i))
            return (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined(separator: ":")
    }
}
