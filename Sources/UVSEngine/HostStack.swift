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
        let orig = p + pkt.l3
        if pkt.isV6 {
            let tclass = UInt32(bigEndian: orig.loadUnaligned(as: UInt32.self)) >> 20 & 0xFF
            let flow = UInt32(truncatingIfNeeded: rng.next()) & 0xFFFFF
            ip.storeBytes(of: (UInt32(6) << 28 | tclass << 20 | flow).bigEndian, as: UInt32.self)
            ip.storeBytes(of: UInt16(len).bigEndian, toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: IPProto.icmpv6, toByteOffset: 6, as: UInt8.self)
            ip.storeBytes(of: UInt8(64), toByteOffset: 7, as: UInt8.self)
            pkt.dst.store(v6: ip + 8)
            pkt.src.store(v6: ip + 24)
            let ps = Checksum.pseudo(src: pkt.dst, dst: pkt.src, proto: IPProto.icmpv6, length: len)
            r.storeBytes(of: Checksum.compute(r, len, ps).bigEndian, toByteOffset: 2, as: UInt16.self)
        } else {
            ip.storeBytes(of: UInt8(0x45), as: UInt8.self)
            ip.storeBytes(of: orig.load(fromByteOffset: 1, as: UInt8.self), toByteOffset: 1, as: UInt8.self)
            ip.storeBytes(of: UInt16(20 + len).bigEndian, toByteOffset: 2, as: UInt16.self)
            ip.storeBytes(of: UInt16(truncatingIfNeeded: rng.next()).bigEndian, toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
            ip.storeBytes(of: UInt8(64), toByteOffset: 8, as: UInt8.self)
            ip.storeBytes(of: IPProto.icmp, toByteOffset: 9, as: UInt8.self)
            pkt.dst.store(v4: ip + 12)
            pkt.src.store(v4: ip + 16)
            refreshIPv4Checksum(ip)
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
        let orig = p + pkt.l3
        if pkt.isV6 {
            // The DS field less ECN, and a flow label from the kernel's per-boot flow hash
            // (not reproducible; any fresh value).
            let tclass = UInt32(bigEndian: orig.loadUnaligned(as: UInt32.self)) >> 20 & 0xFC
            let flow = UInt32(truncatingIfNeeded: rng.next()) & 0xFFFFF
            ip.storeBytes(of: (UInt32(6) << 28 | tclass << 20 | flow).bigEndian, as: UInt32.self)
            ip.storeBytes(of: UInt16(20).bigEndian, toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: IPProto.tcp, toByteOffset: 6, as: UInt8.self)
            ip.storeBytes(of: UInt8(64), toByteOffset: 7, as: UInt8.self)
            pkt.dst.store(v6: ip + 8)
            pkt.src.store(v6: ip + 24)
        } else {
            ip.storeBytes(of: UInt8(0x45), as: UInt8.self)
            ip.storeBytes(of: orig.load(fromByteOffset: 1, as: UInt8.self) & 0xFC, toByteOffset: 1, as: UInt8.self)
            ip.storeBytes(of: UInt16(40).bigEndian, toByteOffset: 2, as: UInt16.self)
            ip.storeBytes(of: UInt16(0), toByteOffset: 4, as: UInt16.self)
            ip.storeBytes(of: UInt16(0x4000).bigEndian, toByteOffset: 6, as: UInt16.self)
            ip.storeBytes(of: UInt8(64), toByteOffset: 8, as: UInt8.self)
            ip.storeBytes(of: IPProto.tcp, toByteOffset: 9, as: UInt8.self)
            pkt.dst.store(v4: ip + 12)
            pkt.src.store(v4: ip + 16)
            refreshIPv4Checksum(ip)
        }
        writeEthernet(f, dst: topology.clientGatewayMAC, src: topology.clientSideMAC, vlan: vlan,
                      ethertype: pkt.isV6 ? EtherType.ipv6 : EtherType.ipv4)
        queue(f, l2 + ipHdr + 20, .client, -1)
    }
}
