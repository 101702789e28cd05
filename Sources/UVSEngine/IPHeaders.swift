import UVSPacket

/// Writing the IP headers of packets the director builds (tunnel outers, ICMP errors,
/// resets, echo replies): one place for the field layout.
extension Engine {
    /// A 20-byte IPv4 header with its checksum.
    func writeIPv4(_ ip: UnsafeMutableRawPointer, tos: UInt8, length: Int, id: UInt16, dontFragment: Bool,
                   ttl: UInt8, proto: UInt8, src: IPAddr, dst: IPAddr) {
        ip.storeBytes(of: UInt8(0x45), as: UInt8.self)
        ip.storeBytes(of: tos, toByteOffset: 1, as: UInt8.self)
        ip.storeBytes(of: UInt16(length).bigEndian, toByteOffset: 2, as: UInt16.self)
        ip.storeBytes(of: id.bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: (dontFragment ? UInt16(0x4000) : 0).bigEndian, toByteOffset: 6, as: UInt16.self)
        ip.storeBytes(of: ttl, toByteOffset: 8, as: UInt8.self)
        ip.storeBytes(of: proto, toByteOffset: 9, as: UInt8.self)
        src.store(v4: ip + 12)
        dst.store(v4: ip + 16)
        refreshIPv4Checksum(ip)
    }

    /// A 40-byte IPv6 header.
    func writeIPv6(_ ip: UnsafeMutableRawPointer, trafficClass: UInt8, flowLabel: UInt32, payload: Int,
                   next: UInt8, hopLimit: UInt8, src: IPAddr, dst: IPAddr) {
        let vtf = UInt32(6) << 28 | UInt32(trafficClass) << 20 | (flowLabel & 0xFFFFF)
        ip.storeBytes(of: vtf.bigEndian, as: UInt32.self)
        ip.storeBytes(of: UInt16(payload).bigEndian, toByteOffset: 4, as: UInt16.self)
        ip.storeBytes(of: next, toByteOffset: 6, as: UInt8.self)
        ip.storeBytes(of: hopLimit, toByteOffset: 7, as: UInt8.self)
        src.store(v6: ip + 8)
        dst.store(v6: ip + 24)
    }

    /// The DS field (TOS / traffic class) of the IP packet at `ip`.
    func dsField(_ ip: UnsafeMutableRawPointer, v6: Bool) -> UInt8 {
        v6 ? UInt8(truncatingIfNeeded: UInt32(bigEndian: ip.loadUnaligned(as: UInt32.self)) >> 20)
            : ip.load(fromByteOffset: 1, as: UInt8.self)
    }
}
