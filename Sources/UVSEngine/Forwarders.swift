import UVSPacket

/// The transmitters (spec §5.5, §5.6): DR, NAT and TUN (IPIP, GUE, GRE), with the kernel's
/// TTL, MTU, checksum and encapsulation rules. All rewriting happens in the frame's buffer.
extension Engine {
    mutating func transmit(_ ci: Int32, _ c: Connection, _ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        guard c.dest >= 0, let mac = destMACs[Int(c.dest)] else {
            count(.unknownNeighbour)
            return .dropped(.unknownNeighbour)
        }
        let p = buf.frame
        let l3 = pkt.l3
        switch c.method {
        case .directRoute, .local, .bypass:
            if let r = routeOut(&buf, &pkt, mtu: topology.serverMTU, relayingICMP: false) { return r }
            if !pkt.isV6 { refreshIPv4Checksum(p + l3) }
            emit(&buf, l3: l3, side: .server, to: mac, ethertype: etherType(pkt), conn: ci)
            return .sent
        case .masquerade:
            if let r = routeOut(&buf, &pkt, mtu: topology.serverMTU, relayingICMP: false) { return r }
            dnat(p, &pkt, c)
            emit(&buf, l3: l3, side: .server, to: mac, ethertype: etherType(pkt), conn: ci)
            return .sent
        case .tunnel:
            return tunnel(ci, c, mac, &buf, &pkt)
        }
    }

    func etherType(_ pkt: ParsedPacket) -> UInt16 { pkt.isV6 ? EtherType.ipv6 : EtherType.ipv4 }

    /// __ip_vs_get_out_rt's checks: TTL (time exceeded), then the MTU (frag needed /
    /// packet too big). Returns a verdict when the packet must not go on.
    mutating func routeOut(_ buf: inout PacketBuffer, _ pkt: inout ParsedPacket, mtu: Int,
                                relayingICMP: Bool, dfApplies: Bool = true) -> Verdict? {
        let p = buf.frame
        let l3 = pkt.l3
        if pkt.ttl <= 1 {
            if !relayingICMP {
                if pkt.isV6 {
                    sendICMPError(buf, pkt, type: 3, code: 0, info: 0)
                } else {
                    sendICMPError(buf, pkt, type: 11, code: 0, info: 0)
                }
            }
            count(.ttlExceeded)
            return .dropped(.ttlExceeded)
        }
        if pkt.isV6 {
            pkt.ttl -= 1
            p.storeBytes(of: pkt.ttl, toByteOffset: l3 + 7, as: UInt8.self)
            if pkt.ipLen > mtu {
                if pkt.fragment != .later && !relayingICMP {
                    sendICMPError(buf, pkt, type: 2, code: 0, info: UInt32(mtu))
                }
                count(.mtuExceeded)
                return .dropped(.mtuExceeded)
            }
        } else {
            decrementTTLv4(p + l3)
            pkt.ttl -= 1
            if dfApplies && pkt.df && pkt.ipLen > mtu && !relayingICMP {
                sendICMPError(buf, pkt, type: 3, code: 4, info: UInt32(mtu))
                count(.mtuExceeded)
                return .dropped(.mtuExceeded)
            }
        }
        return nil
    }

    /// ip_decrease_ttl: TTL − 1 with the kernel's incremental checksum step.
    func decrementTTLv4(_ ip: UnsafeMutableRawPointer) {
        let ttl = ip.load(fromByteOffset: 8, as: UInt8.self)
        ip.storeBytes(of: ttl &- 1, toByteOffset: 8, as: UInt8.self)
        let check = UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        ip.storeBytes(of: Checksum.ttlDecrement(check: check).bigEndian, toByteOffset: 10, as: UInt16.self)
    }

    /// ip_send_check: full IPv4 header checksum.
    func refreshIPv4Checksum(_ ip: UnsafeMutableRawPointer) {
        let ihl = Int(ip.load(as: UInt8.self) & 0x0F) * 4
        ip.storeBytes(of: 0, toByteOffset: 10, as: UInt16.self)
        let c = ihl == 20 ? Checksum.ipv4Header20(ip) : Checksum.compute(ip, ihl)
        ip.storeBytes(of: c.bigEndian, toByteOffset: 10, as: UInt16.self)
    }

    /// DNAT of a request: destination := real server address and port (spec §5.6, §5.8).
    mutating func dnat(_ p: UnsafeMutableRawPointer, _ pkt: inout ParsedPacket, _ c: Connection) {
        rewriteTransport(p, &pkt, oldAddr: c.vaddr, newAddr: c.daddr, oldPort: c.vport, newPort: c.dport,
                         portOffset: 2, newSrc: pkt.src, newDst: c.daddr)
        let l3 = pkt.l3
        if pkt.isV6 {
            c.daddr.store(v6: p + l3 + 24)
        } else {
            c.daddr.store(v4: p + l3 + 16)
            refreshIPv4Checksum(p + l3)
        }
        pkt.dst = c.daddr
        pkt.dport = c.dport
    }

    /// SNAT of a reply: source := virtual address and port.
    mutating func snat(_ p: UnsafeMutableRawPointer, _ pkt: inout ParsedPacket, _ c: Connection) {
        rewriteTransport(p, &pkt, oldAddr: c.daddr, newAddr: c.vaddr, oldPort: c.dport, newPort: c.vport,
                         portOffset: 0, newSrc: c.vaddr, newDst: pkt.dst)
        let l3 = pkt.l3
        if pkt.isV6 {
            c.vaddr.store(v6: p + l3 + 8)
        } else {
            c.vaddr.store(v4: p + l3 + 12)
            refreshIPv4Checksum(p + l3)
        }
        pkt.src = c.vaddr
        pkt.sport = c.vport
    }

    /// Port rewrite and the transport checksum: the kernel's fast update, except that a
    /// UDP datagram without checksum gets a full one; a zero result is sent as 0xFFFF.
    mutating func rewriteTransport(_ p: UnsafeMutableRawPointer, _ pkt: inout ParsedPacket, oldAddr: IPAddr,
                          newAddr: IPAddr, oldPort: UInt16, newPort: UInt16, portOffset: Int,
                          newSrc: IPAddr, newDst: IPAddr) {
        let l4 = pkt.l4
        p.storeBytes(of: newPort.bigEndian, toByteOffset: l4 + portOffset, as: UInt16.self)
        if pkt.proto == IPProto.tcp {
            let old = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4 + 16, as: UInt16.self))
            let new = Checksum.natUpdate(check: old, oldAddr: oldAddr, newAddr: newAddr, oldPort: oldPort, newPort: newPort)
            p.storeBytes(of: new.bigEndian, toByteOffset: l4 + 16, as: UInt16.self)
        } else if pkt.proto == IPProto.udp {
            let old = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4 + 6, as: UInt16.self))
            var new: UInt16
            if old != 0 {
                new = Checksum.natUpdate(check: old, oldAddr: oldAddr, newAddr: newAddr, oldPort: oldPort, newPort: newPort)
            } else {
                p.storeBytes(of: 0, toByteOffset: l4 + 6, as: UInt16.self)
                let len = pkt.l4Len
                new = Checksum.compute(p + l4, len, Checksum.pseudo(src: newSrc, dst: newDst, proto: IPProto.udp, length: len))
            }
            if new == 0 { new = 0xFFFF }
            p.storeBytes(of: new.bigEndian, toByteOffset: l4 + 6, as: UInt16.self)
        }
    }

    /// Writes the Ethernet header for `side` in front of the IP packet at `l3` and emits it.
    mutating func emit(_ buf: inout PacketBuffer, l3: Int, side: Side, to mac: MACAddr,
                            ethertype: UInt16, conn: Int32) {
        let vlan = side == .server ? topology.serverVLAN : topology.clientVLAN
        let l2 = vlan >= 0 ? 18 : 14
        let end = buf.start + buf.length
        buf.start = buf.start + l3 - l2
        buf.length = end - buf.start
        writeEthernet(buf.frame, dst: mac, src: side == .server ? topology.serverSideMAC : topology.clientSideMAC,
                      vlan: vlan, ethertype: ethertype)
        if refragmentSize > 0 && ethertype == EtherType.ipv4 && buf.length - l2 > refragmentSize {
            // A reassembled datagram leaves in fragments no larger than the ones it came in.
            refragment(buf.frame, l2: l2, ipLen: buf.length - l2, size: refragmentSize, side: side, conn: conn)
            return
        }
        queue(buf.frame, buf.length, side, conn)
    }

    mutating func emitToClient(_ buf: inout PacketBuffer, l3: Int, ethertype: UInt16, conn: Int32) {
        emit(&buf, l3: l3, side: .client, to: topology.clientGatewayMAC, ethertype: ethertype, conn: conn)
    }

    func writeEthernet(_ p: UnsafeMutableRawPointer, dst: MACAddr, src: MACAddr, vlan: Int32, ethertype: UInt16) {
        dst.store(p)
        src.store(p + 6)
        if vlan >= 0 {
            p.storeBytes(of: EtherType.vlan.bigEndian, toByteOffset: 12, as: UInt16.self)
            p.storeBytes(of: UInt16(vlan).bigEndian, toByteOffset: 14, as: UInt16.self)
            p.storeBytes(of: ethertype.bigEndian, toByteOffset: 16, as: UInt16.self)
        } else {
            p.storeBytes(of: ethertype.bigEndian, toByteOffset: 12, as: UInt16.self)
        }
    }

    // MARK: TUN

    /// Encapsulation overhead for a destination (outer IP + GUE/GRE).
    func tunnelOverhead(_ rs: RealServer) -> Int {
        var n = rs.addr.isV4 ? 20 : 40
        switch rs.tunnelType {
        case .ipip: break
        case .gue: n += 12
        case .gre: n += rs.tunnelChecksum == .none ? 4 : 8
        }
        return n
    }

    mutating func tunnel(_ ci: Int32, _ c: Connection, _ mac: MACAddr, _ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        let rs = dests[Int(c.dest)]
        let overhead = tunnelOverhead(rs)
        let mtu = topology.serverMTU - overhead
        guard mtu >= (rs.addr.isV4 ? 68 : 1280) else {
            count(.tunnelMTUTooSmall)
            return .dropped(.tunnelMTUTooSmall)
        }
        if let r = routeOut(&buf, &pkt, mtu: mtu, relayingICMP: false, dfApplies: sysctls.pmtuDisc) {
            return r
        }
        let p = buf.frame
        let l3 = pkt.l3
        guard buf.start + l3 >= overhead + 18 else {
            count(.tunnelMTUTooSmall)
            return .dropped(.tunnelMTUTooSmall)
        }
        // Inner DS field with the ECN rule: copy, except CE becomes ECT(0).
        var ds = dsField(p + l3, v6: pkt.isV6)
        if ds & 3 == 3 { ds = (ds & ~3) | 2 }
        let df = sysctls.pmtuDisc && !pkt.isV6 && pkt.df
        let innerProto: UInt8 = pkt.isV6 ? IPProto.ipv6 : IPProto.ipip
        let ipLen = pkt.ipLen
        let outerL3 = l3 - overhead
        let ipHdr = rs.addr.isV4 ? 20 : 40
        let o = p + outerL3
        var proto = innerProto
        switch rs.tunnelType {
        case .ipip:
            break
        case .gue:
            proto = IPProto.udp
            let u = o + ipHdr
            let udpLen = 12 + ipLen
            u.storeBytes(of: gueSourcePort(pkt).bigEndian, as: UInt16.self)
            u.storeBytes(of: rs.tunnelPort.bigEndian, toByteOffset: 2, as: UInt16.self)
            u.storeBytes(of: UInt16(udpLen).bigEndian, toByteOffset: 4, as: UInt16.self)
            var check: UInt16 = 0
            if rs.tunnelChecksum != .none {
                // Left to checksum offload: only the pseudo-header sum is in the field.
                let src = rs.addr.isV4 ? topology.directorIPv4 : topology.directorIPv6
                check = ~Checksum.fold(Checksum.pseudo(src: src, dst: rs.addr, proto: IPProto.udp, length: udpLen))
            }
            u.storeBytes(of: check.bigEndian, toByteOffset: 6, as: UInt16.self)
            u.storeBytes(of: UInt8(0), toByteOffset: 8, as: UInt8.self)
            u.storeBytes(of: innerProto, toByteOffset: 9, as: UInt8.self)
            u.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
        case .gre:
            proto = IPProto.gre
            let g = o + ipHdr
            let csum = rs.tunnelChecksum != .none
            g.storeBytes(of: (csum ? UInt16(0x8000) : 0).bigEndian, as: UInt16.self)
            g.storeBytes(of: (pkt.isV6 ? EtherType.ipv6 : EtherType.ipv4).bigEndian, toByteOffset: 2, as: UInt16.self)
            if csum { g.storeBytes(of: UInt32(0), toByteOffset: 4, as: UInt32.self) }
        }
        let total = overhead + ipLen
        if rs.addr.isV4 {
            // ID 0 with DF; otherwise the kernel's generator (random here).
            let id: UInt16 = df ? 0 : UInt16(truncatingIfNeeded: rng.next())
            writeIPv4(o, tos: ds, length: total, id: id, dontFragment: df, ttl: pkt.ttl, proto: proto,
                      src: topology.directorIPv4, dst: rs.addr)
        } else {
            writeIPv6(o, trafficClass: ds, flowLabel: 0, payload: total - 40, next: proto, hopLimit: pkt.ttl,
                      src: topology.directorIPv6, dst: rs.addr)
        }
        if rs.addr.isV4 && total > topology.serverMTU {
            return fragmentAndEmit(&buf, outerL3: outerL3, total: total, rs: rs, mac: mac, conn: ci)
        }
        if !rs.addr.isV4 && total > topology.serverMTU {
            count(.mtuExceeded)
            return .dropped(.mtuExceeded)
        }
        emit(&buf, l3: outerL3, side: .server, to: mac, ethertype: rs.addr.isV4 ? EtherType.ipv4 : EtherType.ipv6,
             conn: ci)
        return .sent
    }

    /// GUE source port: a stable per-flow hash into the kernel's ephemeral range 32768–60999.
    func gueSourcePort(_ pkt: ParsedPacket) -> UInt16 {
        var h = UInt64(pkt.src.fold) << 32 | UInt64(pkt.dst.fold)
        h ^= UInt64(pkt.sport) << 16 | UInt64(pkt.dport) | UInt64(pkt.proto) << 40
        h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return UInt16(32768 + (h % (60999 - 32768 + 1)))
    }

    /// IPv4 fragmentation of an outer tunnel packet without DF (ip_fragment after
    /// encapsulation). Offloaded checksums are completed first, as the kernel does.
    mutating func fragmentAndEmit(_ buf: inout PacketBuffer, outerL3: Int, total: Int, rs: RealServer,
                                       mac: MACAddr, conn: Int32) -> Verdict {
        let o = buf.frame + outerL3
        let proto = o.load(fromByteOffset: 9, as: UInt8.self)
        if proto == IPProto.udp && rs.tunnelChecksum != .none {
            let len = total - 20
            o.storeBytes(of: UInt16(0), toByteOffset: 26, as: UInt16.self)
            var c = Checksum.compute(o + 20, len, Checksum.pseudo(src: topology.directorIPv4, dst: rs.addr,
                                                                   proto: IPProto.udp, length: len))
            if c == 0 { c = 0xFFFF }
            o.storeBytes(of: c.bigEndian, toByteOffset: 26, as: UInt16.self)
        } else if proto == IPProto.gre && rs.tunnelChecksum != .none {
            o.storeBytes(of: UInt16(0), toByteOffset: 24, as: UInt16.self)
            o.storeBytes(of: Checksum.compute(o + 20, total - 20).bigEndian, toByteOffset: 24, as: UInt16.self)
        }
        let maxData = (topology.serverMTU - 20) & ~7
        let vlan = topology.serverVLAN
        let l2 = vlan >= 0 ? 18 : 14
        var offset = 0
        let payload = total - 20
        while offset < payload {
            let n = min(maxData, payload - offset)
            let more = offset + n < payload
            let f = allocateScratch(l2 + 20 + n)
            writeEthernet(f, dst: mac, src: topology.serverSideMAC, vlan: vlan, ethertype: EtherType.ipv4)
            let ip = f + l2
            ip.copyMemory(from: o, byteCount: 20)
            (ip + 20).copyMemory(from: o + 20 + offset, byteCount: n)
            ip.storeBytes(of: UInt16(20 + n).bigEndian, toByteOffset: 2, as: UInt16.self)
            ip.storeBytes(of: (UInt16(offset / 8) | (more ? 0x2000 : 0)).bigEndian, toByteOffset: 6, as: UInt16.self)
            refreshIPv4Checksum(ip)
            queue(f, l2 + 20 + n, .server, conn)
            offset += n
        }
        return .sent
    }
}
