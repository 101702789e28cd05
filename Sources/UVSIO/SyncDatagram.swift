import UVSEngine
import UVSPacket

/// Sync messages as frames on a replayed link: what the kernel's sync socket sends (a UDP
/// datagram to the multicast group, from the interface's address, TTL from the daemon,
/// DF clear as IP_PMTUDISC_DONT leaves it) and which received frames it takes.
struct SyncDatagram {
    let group: IPAddr
    let port: UInt16
    let ttl: UInt8
    let source: IPAddr
    let sourceMAC: MACAddr
    /// The kernel picks an ephemeral source port and IP IDs (randomised, spec §0).
    let sourcePort: UInt16 = 40000
    var ipID: UInt16 = 1

    init(_ d: SyncDaemonConfig, source: IPAddr, sourceMAC: MACAddr) {
        group = d.multicastGroup
        port = d.multicastPort
        ttl = d.multicastTTL
        self.source = source
        self.sourceMAC = sourceMAC
    }

    /// The multicast MAC of the group (RFC 1112 / RFC 2464).
    var groupMAC: MACAddr {
        group.isV4 ? MACAddr(value: 0x0100_5E00_0000 | UInt64(group.v4 & 0x7F_FFFF))
                   : MACAddr(value: 0x3333_0000_0000 | (group.lo & 0xFFFF_FFFF))
    }

    /// The frame carrying `payload`, written into `out` (room for 14 + 48 + payload bytes).
    mutating func frame(_ payload: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int {
        let v6 = !group.isV4
        groupMAC.store(out)
        sourceMAC.store(out + 6)
        out.storeBytes(of: (v6 ? EtherType.ipv6 : EtherType.ipv4).bigEndian, toByteOffset: 12, as: UInt16.self)
        let ip = out + 14
        let ipHeader = v6 ? 40 : 20
        let udp = ip + ipHeader
        let udpLen = 8 + payload.count
        if v6 {
            ip.storeBytes(of: UInt32(0x6000_0000).bigEndian, as: UInt32.self)
            ip.storeBytes(of: UInt16(udpLen).bigEndian, toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: IPProto.udp, toByteOffset: 6, as: UInt8.self)
            ip.storeBytes(of: ttl, toByteOffset: 7, as: UInt8.self)
            source.store(v6: ip + 8)
            group.store(v6: ip + 24)
        } else {
            ip.storeBytes(of: 0x45, as: UInt8.self)
            ip.storeBytes(of: 0, toByteOffset: 1, as: UInt8.self)
            ip.storeBytes(of: UInt16(20 + udpLen).bigEndian, toByteOffset: 2, as: UInt16.self)
            ip.storeBytes(of: ipID.bigEndian, toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
            ip.storeBytes(of: ttl, toByteOffset: 8, as: UInt8.self)
            ip.storeBytes(of: IPProto.udp, toByteOffset: 9, as: UInt8.self)
            ip.storeBytes(of: 0, toByteOffset: 10, as: UInt16.self)
            source.store(v4: ip + 12)
            group.store(v4: ip + 16)
            ip.storeBytes(of: Checksum.compute(ip, 20).bigEndian, toByteOffset: 10, as: UInt16.self)
            ipID &+= 1
        }
        udp.storeBytes(of: sourcePort.bigEndian, as: UInt16.self)
        udp.storeBytes(of: port.bigEndian, toByteOffset: 2, as: UInt16.self)
        udp.storeBytes(of: UInt16(udpLen).bigEndian, toByteOffset: 4, as: UInt16.self)
        udp.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
        if payload.count > 0 { (udp + 8).copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
        var check = Checksum.compute(udp, udpLen, Checksum.pseudo(src: source, dst: group, proto: IPProto.udp, length: udpLen))
        if check == 0 { check = 0xFFFF }
        udp.storeBytes(of: check.bigEndian, toByteOffset: 6, as: UInt16.self)
        return 14 + ipHeader + udpLen
    }

    /// The sync payload of a received frame, when it is a whole UDP datagram to the backup's
    /// group and port with a valid checksum (what its socket would receive).
    static func payload(of frame: UnsafeRawPointer, _ length: Int, group: IPAddr, port: UInt16) -> UnsafeRawBufferPointer? {
        var pkt = ParsedPacket()
        guard case .ip = PacketParser.parse(frame, length, &pkt), pkt.proto == IPProto.udp,
              pkt.fragment == .none, pkt.dst == group, pkt.dport == port, pkt.l4Len >= 8 else { return nil }
        let udp = frame + pkt.l4
        let udpLen = Int(UInt16(bigEndian: udp.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        guard udpLen >= 8, udpLen <= pkt.l4Len else { return nil }
        let check = udp.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
        if check != 0 || pkt.isV6 {
            let pseudo = Checksum.pseudo(src: pkt.src, dst: pkt.dst, proto: IPProto.udp, length: udpLen)
            guard Checksum.compute(udp, udpLen, pseudo) == 0 else { return nil }
        }
        return UnsafeRawBufferPointer(start: udp + 8, count: udpLen - 8)
    }
}
