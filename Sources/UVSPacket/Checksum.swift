/// Internet checksums (RFC 1071) and the kernel's incremental updates (RFC 1624 style).
/// All arithmetic is on big-endian 16-bit words with a 32-bit end-around-carry accumulator,
/// which gives the same bytes as the kernel's little-endian arithmetic: a one's-complement
/// sum commutes with byte swapping, including the representation of zero.
public enum Checksum {
    /// One's-complement add with end-around carry (the kernel's csum_add).
    @inlinable @inline(__always)
    public static func add(_ a: UInt32, _ b: UInt32) -> UInt32 {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? r &+ 1 : r
    }

    /// Folds to 16 bits and complements (csum_fold).
    @inlinable @inline(__always)
    public static func fold(_ s: UInt32) -> UInt16 {
        var x = (s & 0xFFFF) &+ (s >> 16)
        x = (x & 0xFFFF) &+ (x >> 16)
        return ~UInt16(truncatingIfNeeded: x)
    }

    /// Unfolded sum of `len` bytes as big-endian 16-bit words (odd last byte padded with 0).
    @inlinable
    public static func partial(_ p: UnsafeRawPointer, _ len: Int, _ initial: UInt32 = 0) -> UInt32 {
        var acc = UInt64(initial)
        var i = 0
        while i + 8 <= len {
            let w = UInt64(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            acc &+= (w >> 48) &+ ((w >> 32) & 0xFFFF) &+ ((w >> 16) & 0xFFFF) &+ (w & 0xFFFF)
            i += 8
        }
        while i + 2 <= len {
            acc &+= UInt64(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i += 2
        }
        if i < len { acc &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
        while acc >> 32 != 0 { acc = (acc & 0xFFFF_FFFF) &+ (acc >> 32) }
        return UInt32(acc)
    }

    /// Complete checksum of a buffer (e.g. the IPv4 header with its checksum field zeroed).
    @inlinable
    public static func compute(_ p: UnsafeRawPointer, _ len: Int, _ initial: UInt32 = 0) -> UInt16 {
        fold(partial(p, len, initial))
    }

    /// Checksum of a 20-byte IPv4 header (field zeroed by the caller): five 32-bit loads.
    /// The sum is taken on native-order words; one's-complement sums commute with byte
    /// order, so swapping the folded result gives the big-endian checksum.
    @inlinable @inline(__always)
    public static func ipv4Header20(_ p: UnsafeRawPointer) -> UInt16 {
        var s = UInt64(p.loadUnaligned(as: UInt32.self))
        s &+= UInt64(p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        s &+= UInt64(p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        s &+= UInt64(p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        s &+= UInt64(p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        s = (s & 0xFFFF_FFFF) &+ (s >> 32)
        s = (s & 0xFFFF_FFFF) &+ (s >> 32)
        var x = (UInt32(truncatingIfNeeded: s) & 0xFFFF) &+ (UInt32(truncatingIfNeeded: s) >> 16)
        x = (x & 0xFFFF) &+ (x >> 16)
        return (~UInt16(truncatingIfNeeded: x)).byteSwapped
    }

    /// Pseudo-header sums for TCP/UDP/ICMPv6.
    @inlinable
    public static func pseudo(src: IPAddr, dst: IPAddr, proto: UInt8, length: Int) -> UInt32 {
        var s: UInt32
        if src.isV4 {
            s = (src.v4 >> 16) &+ (src.v4 & 0xFFFF) &+ (dst.v4 >> 16) &+ (dst.v4 & 0xFFFF)
        } else {
            s = words(src) &+ words(dst)
        }
        s = add(s, UInt32(proto))
        s = add(s, UInt32(truncatingIfNeeded: length))
        return s
    }

    @inlinable static func words(_ a: IPAddr) -> UInt32 {
        var s: UInt64 = (a.hi >> 48) &+ ((a.hi >> 32) & 0xFFFF) &+ ((a.hi >> 16) & 0xFFFF) &+ (a.hi & 0xFFFF)
        s &+= (a.lo >> 48) &+ ((a.lo >> 32) & 0xFFFF) &+ ((a.lo >> 16) & 0xFFFF) &+ (a.lo & 0xFFFF)
        while s >> 32 != 0 { s = (s & 0xFFFF_FFFF) &+ (s >> 32) }
        return UInt32(s)
    }

    /// IPVS's fast TCP/UDP checksum update for an address and port change
    /// (tcp_fast_csum_update: diff2 of the port, then diff4/diff16 of the address).
    @inlinable
    public static func natUpdate(check: UInt16, oldAddr: IPAddr, newAddr: IPAddr,
                                 oldPort: UInt16, newPort: UInt16) -> UInt16 {
        var s = ~UInt32(check)                       // ~csum_unfold(check)
        s = add(s, UInt32(~oldPort))
        s = add(s, UInt32(newPort))
        if oldAddr.isV4 {
            let o = ~oldAddr.v4, n = newAddr.v4
            s = add(s, o >> 16); s = add(s, o & 0xFFFF)
            s = add(s, n >> 16); s = add(s, n & 0xFFFF)
        } else {
            s = addComplemented(s, oldAddr)
            s = add(s, words(newAddr))
        }
        return fold(s)
    }

    /// Adds the one's complement of each 16-bit word of an address.
    @inlinable static func addComplemented(_ s0: UInt32, _ a: IPAddr) -> UInt32 {
        var s = s0
        let w = a.words16
        s = add(s, UInt32(~w.0)); s = add(s, UInt32(~w.1)); s = add(s, UInt32(~w.2)); s = add(s, UInt32(~w.3))
        s = add(s, UInt32(~w.4)); s = add(s, UInt32(~w.5)); s = add(s, UInt32(~w.6)); s = add(s, UInt32(~w.7))
        return s
    }

    /// Generic RFC 1624 update of a checksum for one 16-bit field changing from `old` to `new`.
    @inlinable
    public static func update16(check: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        var s = ~UInt32(check)
        s = add(s, UInt32(~old))
        s = add(s, UInt32(new))
        return fold(s)
    }

    /// The kernel's ip_decrease_ttl checksum step, reproduced bit for bit
    /// (it works on the little-endian value of the field).
    @inlinable
    public static func ttlDecrement(check: UInt16) -> UInt16 {
        var le = UInt32(check.byteSwapped) &+ 0x0001
        le = le &+ (le >= 0xFFFF ? 1 : 0)
        return UInt16(truncatingIfNeeded: le).byteSwapped
    }
}
