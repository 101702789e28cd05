import UVSPacket

/// ICMP: errors the director generates (icmp_send / icmpv6_send as the kernel builds them,
/// spec §0.4) and errors about tracked connections relayed both ways (spec §5.4).
extension Engine {
    /// Builds and emits an ICMP(v6) error about the IP packet in `buf` towards its source.
    /// The frame is counted in the connection it belongs to when the kernel's out-hook
    /// would match it (the embedded packet looked up inverted).
    mutating func sendICMPError(_ buf: PacketBuffer, _ pkt: ParsedPacket, type: UInt8, code: UInt8,
                                     info: UInt32) {
        let orig = buf.frame + pkt.l3
        // Never about ICMP errors or non-first fragments.
        if pkt.fragment == .later { return }
        if pkt.proto == IPProto.icmp && !pkt.isV6 {
            let t = orig.load(fromByteOffset: pkt.ipHdrLen, as: UInt8.self)
            if t == 3 || t == 4 || t == 5 || t == 11 || t == 12 { return }
        }
        if pkt.proto == IPProto.icmpv6 && pkt.isV6 && orig.load(fromByteOffset: pkt.ipHdrLen, as: UInt8.self) < 128 {
            return
        }
        guard icmpAllowed(to: pkt.src, v6: pkt.isV6, type: type, code: code) else { return }
        let vlan = topology.clientVLAN
        let l2 = vlan >= 0 ? 18 : 14
        let f = allocateScratch(l2 + 48 + 1232)
        let ip = f + l2
        let ipLen: Int
        if !pkt.isV6 {
            let quote = min(pkt.ipLen, 576 - 20 - 8)
            ipLen = 28 + quote
            let tos = (orig.load(fromByteOffset: 1, as: UInt8.self) & 0x1E) | 0xC0
            writeIPv4(ip, tos: tos, length: ipLen, id: UInt16(truncatingIfNeeded: rng.next()), dontFragment: false,
                      ttl: 64, proto: IPProto.icmp, src: pkt.dst, dst: pkt.src)
            let icmp = ip + 20
            icmp.storeBytes(of: type, as: UInt8.self)
            icmp.storeBytes(of: code, toByteOffset: 1, as: UInt8.self)
            icmp.storeBytes(of: UInt16(0), toByteOffset: 2, as: UInt16.self)
            icmp.storeBytes(of: info.bigEndian, toByteOffset: 4, as: UInt32.self)
            (icmp + 8).copyMemory(from: orig, byteCount: quote)
            icmp.storeBytes(of: Checksum.compute(icmp, 8 + quote).bigEndian, toByteOffset: 2, as: UInt16.self)
        } else {
            let quote = min(pkt.ipLen, 1280 - 40 - 8)
            ipLen = 48 + quote
            writeIPv6(ip, trafficClass: 0, flowLabel: UInt32(truncatingIfNeeded: rng.next()), payload: 8 + quote,
                      next: IPProto.icmpv6, hopLimit: 64, src: pkt.dst, dst: pkt.src)
            let icmp = ip + 40
            icmp.storeBytes(of: type, as: UInt8.self)
            icmp.storeBytes(of: code, toByteOffset: 1, as: UInt8.self)
            icmp.storeBytes(of: UInt16(0), toByteOffset: 2, as: UInt16.self)
            icmp.storeBytes(of: info.bigEndian, toByteOffset: 4, as: UInt32.self)
            (icmp + 8).copyMemory(from: orig, byteCount: quote)
            let ps = Checksum.pseudo(src: pkt.dst, dst: pkt.src, proto: IPProto.icmpv6, length: 8 + quote)
            icmp.storeBytes(of: Checksum.compute(icmp, 8 + quote, ps).bigEndian, toByteOffset: 2, as: UInt16.self)
        }
        writeEthernet(f, dst: topology.clientGatewayMAC, src: topology.clientSideMAC, vlan: vlan,
                      ethertype: pkt.isV6 ? EtherType.ipv6 : EtherType.ipv4)
        var ci: Int32 = -1
        if pkt.hasPorts {
            ci = conns.lookupOut(proto: pkt.proto, saddr: pkt.dst, sport: pkt.dport, caddr: pkt.src, cport: pkt.sport)
            if ci >= 0, conns[ci].dest >= 0, dests[Int(conns[ci].dest)].available {
                countOut(conns[ci].dest, ipLen)
            }
        }
        queue(f, l2 + ipLen, .client, ci)
    }

    /// The kernel's per-destination ICMP rate limit: a token bucket of 1 s per message,
    /// burst 6; PMTU messages are never limited.
    mutating func icmpAllowed(to peer: IPAddr, v6: Bool, type: UInt8, code: UInt8) -> Bool {
        if v6 {
            if type == 2 || type >= 128 { return true }
        } else {
            if type == 3 && code == 4 { return true }
            if !(type == 3 || type == 4 || type == 11 || type == 12) { return true }
        }
        let second = Time.second
        var entry = icmpPeers[peer] ?? (tokens: 0, last: now - 60 * second)
        entry.tokens += now - entry.last
        entry.last = now
        if entry.tokens > 6 * second { entry.tokens = 6 * second }
        var ok = false
        if entry.tokens >= second {
            entry.tokens -= second
            ok = true
        }
        icmpPeers[peer] = entry
        return ok
    }

    /// Is this an ICMP error type IPVS relates to connections?
    func isRelatedError(_ p: UnsafeMutableRawPointer, _ pkt: ParsedPacket) -> Bool {
        let type = p.load(fromByteOffset: pkt.l4, as: UInt8.self)
        return pkt.isV6 ? type < 128 : (type == 3 || type == 4 || type == 11)
    }

    /// The TCP/UDP packet an ICMP error quotes, if it quotes one with its ports.
    func quotedTransport(_ p: UnsafeMutableRawPointer, _ pkt: ParsedPacket) -> ParsedPacket? {
        var inner = ParsedPacket()
        guard PacketParser.parseEmbedded(p, pkt.l4 + 8, pkt.l3 + pkt.ipLen, v6: pkt.isV6, &inner),
              inner.proto == IPProto.tcp || inner.proto == IPProto.udp, inner.hasPorts else { return nil }
        return inner
    }

    func icmpChecksumValid(_ p: UnsafeMutableRawPointer, _ pkt: ParsedPacket) -> Bool {
        let initial: UInt32 = pkt.isV6
            ? Checksum.pseudo(src: pkt.src, dst: pkt.dst, proto: IPProto.icmpv6, length: pkt.l4Len) : 0
        return Checksum.compute(p + pkt.l4, pkt.l4Len, initial) == 0
    }

    /// ICMP errors from clients about a connection (ip_vs_in_icmp).
    mutating func requestICMP(_ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        let p = buf.frame
        guard isRelatedError(p, pkt) else { return toHost(buf, pkt) }
        if pkt.isV6 && pkt.fragment != .none {
            count(.fragmentedICMPv6)
            return .dropped(.fragmentedICMPv6)
        }
        guard let inner = quotedTransport(p, pkt) else { passed &+= 1; return .passed }
        // The quoted packet went VIP → client: look the connection up inverted.
        let ci = conns.lookupIn(proto: inner.proto, caddr: inner.dst, cport: inner.dport, vaddr: inner.src, vport: inner.sport)
        guard ci >= 0 else { passed &+= 1; return .passed }
        guard icmpChecksumValid(p, pkt) else {
            count(.badICMPChecksum)
            return .dropped(.badICMPChecksum)
        }
        let c = conns[ci]
        if c.dest >= 0 && dests[Int(c.dest)].available { countIn(c.dest, pkt.ipLen) }
        guard c.method == .masquerade else {
            return transmitRelayed(ci, &buf, &pkt)
        }
        guard c.dest >= 0, let mac = destMACs[Int(c.dest)] else {
            count(.unknownNeighbour)
            return .dropped(.unknownNeighbour)
        }
        if let r = routeOut(&buf, &pkt, mtu: topology.serverMTU, relayingICMP: true) { return r }
        natICMP(p, pkt, inner, c, towardsServer: true)
        emit(&buf, l3: pkt.l3, side: .server, to: mac, ethertype: etherType(pkt), conn: ci)
        return .sent
    }

    /// DR/TUN forward an ICMP error like any packet of the connection (no ICMP about it).
    mutating func transmitRelayed(_ ci: Int32, _ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        if pkt.ttl <= 1 {
            count(.ttlExceeded)
            return .dropped(.ttlExceeded)
        }
        return transmit(ci, conns[ci], &buf, &pkt)
    }

    /// ICMP errors from real servers about a connection (ip_vs_out_icmp).
    mutating func replyICMP(_ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        let p = buf.frame
        guard isRelatedError(p, pkt), let inner = quotedTransport(p, pkt) else { passed &+= 1; return .passed }
        // The quoted packet went client → real server.
        let ci = conns.lookupOut(proto: inner.proto, saddr: inner.dst, sport: inner.dport, caddr: inner.src, cport: inner.sport)
        guard ci >= 0 else { passed &+= 1; return .passed }
        if pkt.isV6 {
            // Kernel 6.1 does not deliver a real server's ICMPv6 error about a connection
            // to the client (observed with the oracle, fixtures/scenarios/ipv6).
            count(.icmpNotHandled)
            return .dropped(.icmpNotHandled)
        }
        if pkt.ttl <= 1 {
            count(.ttlExceeded)
            return .dropped(.ttlExceeded)
        }
        if pkt.isV6 {
            p.storeBytes(of: pkt.ttl &- 1, toByteOffset: pkt.l3 + 7, as: UInt8.self)
        } else {
            decrementTTLv4(p + pkt.l3)
        }
        let c = conns[ci]
        if c.method == .masquerade { natICMP(p, pkt, inner, c, towardsServer: false) }
        if c.dest >= 0 && dests[Int(c.dest)].available { countOut(c.dest, pkt.ipLen) }
        emitToClient(&buf, l3: pkt.l3, ethertype: etherType(pkt), conn: ci)
        return .sent
    }

    /// ip_vs_nat_icmp(_v6): rewrite the outer and the quoted addresses and the quoted port,
    /// both IPv4 header checksums, and the whole ICMP checksum. The quoted transport
    /// checksum is left as it was.
    mutating func natICMP(_ p: UnsafeMutableRawPointer, _ pkt: ParsedPacket, _ inner: ParsedPacket, _ c: Connection,
                 towardsServer: Bool) {
        let l3 = pkt.l3
        let e = pkt.l4 + 8           // embedded IP header
        let el4 = e + inner.ipHdrLen
        if !pkt.isV6 {
            if towardsServer {
                c.daddr.store(v4: p + l3 + 16)
                c.daddr.store(v4: p + e + 12)
                p.storeBytes(of: c.dport.bigEndian, toByteOffset: el4, as: UInt16.self)
            } else {
                c.vaddr.store(v4: p + l3 + 12)
                c.vaddr.store(v4: p + e + 16)
                p.storeBytes(of: c.vport.bigEndian, toByteOffset: el4 + 2, as: UInt16.self)
            }
            refreshIPv4Checksum(p + l3)
            refreshIPv4Checksum(p + e)
            p.storeBytes(of: UInt16(0), toByteOffset: pkt.l4 + 2, as: UInt16.self)
            p.storeBytes(of: Checksum.compute(p + pkt.l4, pkt.l4Len).bigEndian, toByteOffset: pkt.l4 + 2, as: UInt16.self)
        } else {
            var src = pkt.src, dst = pkt.dst
            if towardsServer {
                c.daddr.store(v6: p + l3 + 24)
                c.daddr.store(v6: p + e + 8)
                p.storeBytes(of: c.dport.bigEndian, toByteOffset: el4, as: UInt16.self)
                dst = c.daddr
            } else {
                c.vaddr.store(v6: p + l3 + 8)
                c.vaddr.store(v6: p + e + 24)
                p.storeBytes(of: c.vport.bigEndian, toByteOffset: el4 + 2, as: UInt16.self)
                src = c.vaddr
            }
            // The kernel leaves this checksum to offload (CHECKSUM_PARTIAL): what goes on
            // the wire from the director is the pseudo-header sum alone, as the oracle shows.
            let ps = Checksum.pseudo(src: src, dst: dst, proto: IPProto.icmpv6, length: pkt.l4Len)
            p.storeBytes(of: (~Checksum.fold(ps)).bigEndian, toByteOffset: pkt.l4 + 2, as: UInt16.self)
        }
    }
}
