import UVSPacket

/// What an instance expects of the adverts it receives (spec §1.5).
public struct VRRPExpectations: Sendable {
    public var version: VRRPAdvert.Version
    public var ipv6: Bool
    public var authType: UInt8 = 0
    public var authData: [UInt8] = [UInt8](repeating: 0, count: 8)
    /// v2: seconds; compared only in v2.
    public var interval: UInt16
    public var addresses: [IPAddr]
    /// Multicast instance: TTL / hop limit must be 255.
    public var multicast = true
    public var v3ChecksumAsV2 = false
    public init(version: VRRPAdvert.Version, ipv6: Bool, interval: UInt16, addresses: [IPAddr]) {
        self.version = version; self.ipv6 = ipv6; self.interval = interval; self.addresses = addresses
    }
}

/// keepalived's receive validation, in its order; each rejection names the counter it bumps.
public enum VRRPReceive {
    public enum Rejection: String, Error, Sendable, Equatable {
        case packetLength = "packet_len_err", ttl = "ip_ttl_err", version = "version_err"
        case invalidAuthType = "invalid_authtype", authTypeMismatch = "authtype_mismatch", authFailure = "auth_failure"
        case intervalMismatch = "advert_interval_err", invalidType = "invalid_type_rcvd", checksum = "chk_err"
    }

    public struct Accepted: Sendable, Equatable {
        public var advert: VRRPAdvert
        /// The address list differs from ours: counted (addr_list_err), the advert still processed.
        public var addressListMismatch: Bool
    }

    /// Validates `message` (the bytes after the IP header) received with `ttl` from `src` to `dst`.
    public static func validate(_ message: [UInt8], ttl: UInt8, src: IPAddr, dst: IPAddr,
                                expect e: VRRPExpectations) -> Result<Accepted, Rejection> {
        guard message.count >= 8 else { return .failure(.packetLength) }
        let count = Int(message[3])
        let addrLen = e.ipv6 ? 16 : 4
        let wantLen = 8 + count * addrLen + (e.version == .v2 ? 8 : 0)
        // Ethernet padding after the message is tolerated.
        guard message.count >= wantLen else { return .failure(.packetLength) }
        let m = Array(message.prefix(wantLen))
        if e.multicast && ttl != 255 { return .failure(.ttl) }
        guard m[0] >> 4 == e.version.rawValue else { return .failure(.version) }
        if e.version == .v2 {
            guard m[4] <= 2 else { return .failure(.invalidAuthType) }
            guard m[4] == e.authType else { return .failure(.authTypeMismatch) }
            if e.authType == 1 {
                // All 8 bytes, in constant time.
                let got = m[(wantLen - 8)...]
                guard zip(got, e.authData).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else { return .failure(.authFailure) }
            }
            guard UInt16(m[5]) == e.interval else { return .failure(.intervalMismatch) }
        }
        guard m[0] & 0x0f == 1 else { return .failure(.invalidType) }
        let sum = VRRPAdvert.checksum(m, version: e.version, src: src, dst: dst, asV2: e.v3ChecksumAsV2)
        let carried = UInt16(m[6]) << 8 | UInt16(m[7])
        // keepalived stops verifying v3 IPv4 checksums with v3_checksum_as_v2.
        if !(e.version == .v3 && !e.ipv6 && e.v3ChecksumAsV2), sum != carried { return .failure(.checksum) }
        var addresses: [IPAddr] = []
        for k in 0..<count {
            let o = 8 + k * addrLen
            if e.ipv6 {
                var hi: UInt64 = 0, lo: UInt64 = 0
                for i in 0..<8 { hi = hi << 8 | UInt64(m[o + i]); lo = lo << 8 | UInt64(m[o + 8 + i]) }
                addresses.append(IPAddr(hi: hi, lo: lo))
            } else {
                addresses.append(IPAddr(v4: UInt32(m[o]) << 24 | UInt32(m[o + 1]) << 16 | UInt32(m[o + 2]) << 8 | UInt32(m[o + 3])))
            }
        }
        var a = VRRPAdvert(version: e.version, vrid: m[1], priority: m[2],
                           interval: e.version == .v2 ? UInt16(m[5]) : (UInt16(m[4] & 0x0f) << 8 | UInt16(m[5])), addresses: addresses)
        if e.version == .v2 { a.authType = m[4]; a.authData = Array(m[(wantLen - 8)...]) }
        let mismatch = addresses.count != e.addresses.count || !e.addresses.allSatisfy(addresses.contains)
        return .success(Accepted(advert: a, addressListMismatch: mismatch))
    }
}
