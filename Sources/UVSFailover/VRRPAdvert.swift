import UVSPacket

/// A VRRP advertisement as keepalived builds it (RFC 3768 v2, RFC 5798/9568 v3; spec §1.2–1.4):
/// the bytes after the IP header. v2 carries whole seconds and an 8-byte authentication field;
/// v3 carries centiseconds in 12 bits and no authentication.
public struct VRRPAdvert: Equatable, Sendable {
    public enum Version: UInt8, Sendable { case v2 = 2, v3 = 3 }
    public var version: Version
    public var vrid: UInt8
    public var priority: UInt8
    /// v2: seconds (1…255); v3: centiseconds (1…4095).
    public var interval: UInt16
    /// v2 only: 0 none, 1 PASS, 2 AH.
    public var authType: UInt8 = 0
    /// v2 only: the 8 bytes after the addresses (PASS: the password, zero-padded).
    public var authData: [UInt8] = [UInt8](repeating: 0, count: 8)
    public var addresses: [IPAddr]

    public init(version: Version, vrid: UInt8, priority: UInt8, interval: UInt16, addresses: [IPAddr]) {
        self.version = version; self.vrid = vrid; self.priority = priority; self.interval = interval; self.addresses = addresses
    }

    /// keepalived's `auth_pass`: truncated to 8 bytes, zero-padded.
    public mutating func setPassword(_ pass: String) {
        authType = 1
        authData = Array(Array(pass.utf8).prefix(8)) + [UInt8](repeating: 0, count: max(0, 8 - pass.utf8.count))
    }

    var isV6: Bool { addresses.first.map { !$0.isV4 } ?? false }

    /// The message with its checksum. v3 over IPv4 sums a pseudo-header of `src`/`dst` (the
    /// peer when unicasting) unless `v3ChecksumAsV2`; v3 over IPv6 always sums its pseudo-header.
    public func encode(src: IPAddr? = nil, dst: IPAddr? = nil, v3ChecksumAsV2: Bool = false) -> [UInt8] {
        var b: [UInt8] = [version.rawValue << 4 | 1, vrid, priority, UInt8(addresses.count)]
        switch version {
        case .v2: b += [authType, UInt8(truncatingIfNeeded: interval)]
        case .v3: b += [UInt8(interval >> 8 & 0x0f), UInt8(interval & 0xff)]
        }
        b += [0, 0]
        for a in addresses { b += a.isV4 ? Self.bytes4(a) : Self.bytes16(a) }
        if version == .v2 { b += authData }
        let c = Self.checksum(b, version: version, src: src, dst: dst, asV2: v3ChecksumAsV2)
        b[6] = UInt8(c >> 8); b[7] = UInt8(c & 0xff)
        return b
    }

    /// The checksum of `message` (its checksum field taken as zero).
    public static func checksum(_ message: [UInt8], version: Version, src: IPAddr?, dst: IPAddr?, asV2: Bool) -> UInt16 {
        var m = message
        if m.count >= 8 { m[6] = 0; m[7] = 0 }
        var initial: UInt32 = 0
        if version == .v3, let s = src, let d = dst, !(asV2 && s.isV4) {
            initial = Checksum.pseudo(src: s, dst: d, proto: 112, length: m.count)
        }
        return m.withUnsafeBytes { Checksum.compute($0.baseAddress!, $0.count, initial) }
    }

    static func bytes4(_ a: IPAddr) -> [UInt8] { [UInt8(a.v4 >> 24), UInt8(a.v4 >> 16 & 0xff), UInt8(a.v4 >> 8 & 0xff), UInt8(a.v4 & 0xff)] }
    static func bytes16(_ a: IPAddr) -> [UInt8] {
        (0..<8).map { UInt8(a.hi >> (56 - 8 * UInt64($0)) & 0xff) } + (0..<8).map { UInt8(a.lo >> (56 - 8 * UInt64($0)) & 0xff) }
    }
}
