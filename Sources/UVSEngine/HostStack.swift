import UVSPacket

/// What the director's own stack does with a packet IPVS leaves alone. uvs owns its VIPs
/// (the kernel oracle has them on `lo`), so for a TCP segment or UDP datagram addressed to
/// a VIP that no connection or service takes, it answers as Linux would: a TCP reset
/// (tcp_v4/v6_send_reset) or an ICMP port unreachable (the UDP layer's icmp_send); and it
/// answers pings to a VIP.
extension Engine {
    mutating func toHost(_ buf: PacketBuffer, _ pkt: ParsedPacket) -> Verdict {
        passed &+= 1
        guard answersForVIPs, vips.contains(pkt.dst), pkt.fragment != .later else { return .passed }
        if pkt.proto == IPProto.tcp {
            sendReset(buf, pkt)
        } else if pkt.proto == IPProto.udp {
            if pkt.isV6 {
                sendICMPError(buf, pkt, type: 1, code: 4, info: 0)
            } else {
                sendICMPError(buf, pkt, type: 3, code: 3, info: 0)
            }
        } else if pkt.proto == (pkt.isV6 ? IPProto.icmpv6 : IPProto.icmp) {
            sendEchoReply(buf, pkt)
        }
        return .passed
    }

    /// icmp_echo / icmpv6_echo_reply: the request's identifier, sequence and data back to
    /// the sender; TTL/hop limit 64, IPv4 ID from the generator (DF clear), the request's
    /// DS field, a fresh IPv6 flow label.
    mutating func sendEchoReply(_ buf: PacketBuffer, _ pkt: ParsedPacket) {
        let p = buf.frame
        let icmp = p + pkt.l4
        let type = icmp.load(as: UInt8.self), code = icmp.load(fromByteOffset: 1, as: UInt8.self)
        guard code == 0, type == (pkt.isV6 ? 128 : 8) else { return }
        let len = pkt.l4Len
        let vlan = topology.clientVLAN
        let l2 = vlan >= 0 ? 18 : 14
        let ipHdr = pkt.isV6 ? 40 : 20
        let f = allocateScratch(l2 + ipHdr + len)
        let ip = f + l2
        let r = ip + ipHdr
        r.copyMemory(from: icmp, byteCount: len)
        r.storeBytes(of: UInt8(pkt.isV6 ? 129 : 0), as: UInt8.self)
        r.storeBytes(of: UInt16(0), toByteOffset: 2, as: UInt16.self)
        let ds = dsField(p + pkt.l3, v6: pkt.isV6)
        if pkt.isV6 {
            writeIPv6(ip, trafficClass: ds, flowLabel: UInt32(truncatingIfNeeded: rng.next()), payload: len,
                      next: IPProto.icmpv6, hopLimit: 64, src: pkt.dst, dst: pkt.src)
            let ps = Checksum.pseudo(src: pkt.dst, dst: pkt.src, proto: IPProto.icmpv6, length: len)
            r.storeBytes(of: Checksum.compute(r, len, ps).bigEndian, toByteOffset: 2, as: UInt16.self)
        } else {
            writeIPv4(ip, tos: ds, length: 20 + len, id: UInt16(truncatingIfNeeded: rng.next()), dontFragment: false,
                      ttl: 64, proto: IPProto.icmp, src: pkt.dst, dst: pkt.src)
            r.storeBytes(of: Checksum.compute(r, len).bigEndian, toByteOffset: 2, as: UInt16.self)
        }
        writeEthernet(f, dst: topology.clientGatewayMAC, src: topology.clientSideMAC, vlan: vlan,
                      ethertype: pkt.isV6 ? EtherType.ipv6 : EtherType.ipv4)
        queue(f, l2 + ipHdr + len, .client, -1)
    }

    /// A reset for a segment no socket takes: RST with seq = the segment's ACK, or
    /// RST|ACK acknowledging it; no options, window 0; IPv4 DF with ID 0, TTL 64, the
    /// segment's TOS less ECN.
    mutating func sendReset(_ buf: PacketBuffer, _ pkt: ParsedPacket) {
        let p = buf.frame
        let th = p + pkt.l4
        let flags = th.load(fromByteOffset: 13, as: UInt8.self)
        if flags & TCPFlag.rst != 0 { return }
        let seq = UInt32(bigEndian: th.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let ackSeq = UInt32(bigEndian: th.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let doff = Int(th.load(fromByteOffset: 12, as: UInt8.self) >> 4) * 4
        let payload = pkt.l4Len - doff
        let vlan = topology.clientVLAN
        let l2 = vlan >= 0 ? 18 : 14
        let ipHdr = pkt.isV6 ? 40 : 20
        let f = allocateScratch(l2 + ipHdr + 20)
        let ip = f + l2
        let t = ip + ipHdr
        t.storeBytes(of: pkt.dport.bigEndian, as: UInt16.self)
        t.storeBytes(of: pkt.sport.bigEndian, toByteOffset: 2, as: UInt16.self)
        if flags & TCPFlag.ack != 0 {
            t.storeBytes(of: ackSeq.bigEndian, toByteOffset: 4, as: UInt32.self)
            t.storeBytes(of: UInt32(0), toByteOffset: 8, as: UInt32.self)
            t.storeBytes(of: UInt16(0x5004).bigEndian, toByteOffset: 12, as: UInt16.self)
        } else {
            let syn: UInt32 = flags & TCPFlag.syn != 0 ? 1 : 0, fin: UInt32 = flags & TCPFlag.fin != 0 ? 1 : 0
            t.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self)
            t.storeBytes(of: (seq &+ syn &+ fin &+ UInt32(payload)).bigEndian, toByteOffset: 8, as: UInt32.self)
            t.storeBytes(of: UInt16(0x5014).bigEndian, toByteOffset: 12, as: UInt16.self)
        }
        t.storeBytes(of: UInt32(0), toByteOffset: 14, as: UInt32.self)   // window, checksum
        t.storeBytes(of: UInt16(0), toByteOffset: 18, as: UInt16.self)   // urgent pointer
        let ps = Checksum.pseudo(src: pkt.dst, dst: pkt.src, proto: IPProto.tcp, length: 20)
        // IPv4 resets carry a full checksum; IPv6 ones leave it to offload (CHECKSUM_PARTIAL),
        // so the wire shows the pseudo-header sum, as the oracle does.
        let check = pkt.isV6 ? ~Checksum.fold(ps) : Checksum.compute(t, 20, ps)
        t.storeBytes(of: check.bigEndian, toByteOffset: 16, as: UInt16.self)
        // The DS field less ECN; IPv6: a flow label from the kernel's per-boot flow hash (not
        // reproducible; any fresh value); IPv4: DF with ID 0.
        let ds = dsField(p + pkt.l3, v6: pkt.isV6) & 0xFC
        if pkt.isV6 {
            writeIPv6(ip, trafficClass: ds, flowLabel: UInt32(truncatingIfNeeded: rng.next()), payload: 20,
                      next: IPProto.tcp, hopLimit: 64, src: pkt.dst, dst: pkt.src)
        } else {
            writeIPv4(ip, tos: ds, length: 40, id: 0, dontFragment: true, ttl: 64, proto: IPProto.tcp,
                      src: pkt.dst, dst: pkt.src)
        }
        writeEthernet(f, dst: topology.clientGatewayMAC, src: topology.clientSideMAC, vlan: vlan,
                      ethertype: pkt.isV6 ? EtherType.ipv6 : EtherType.ipv4)
        queue(f, l2 + ipHdr + 20, .client, -1)
    }
}
