import UVSPacket

/// The new-connection fast path: a plain TCP SYN (no ACK, RST or FIN) for which the
/// established-flow fast path found no connection, to a non-persistent port service, without
/// fwmark rules. It has exactly the effects of the full path (`request` → `schedule` →
/// `newConnection` → `forwardRequest` → DR `transmit`) in the same order; fastForward has
/// checked the frame (untagged IPv4 without options or fragments, a verified header
/// checksum, TTL > 1, fits the MTU) and that no timer is due. Anything else returns nil
/// before a single effect and takes the full path; once scheduled, a server that is not
/// direct-routing (or has no known MAC) continues on the full path's `forwardRequest`.
extension Engine {
    @inline(never)
    mutating func fastNewConnection(_ buf: inout PacketBuffer, total: Int, ttl: UInt8, src: IPAddr, dst: IPAddr,
                                    sport: UInt16, dport: UInt16, tcpFlags: UInt8, at time: Nanos) -> Verdict? {
        guard marks.isEmpty, sport != 20, let svc = lookupService(proto: IPProto.tcp, addr: dst, port: dport) else { return nil }
        let eligible = services.withUnsafeBufferPointer { s in
            s[Int(svc)].flags & ServiceFlags.persistent == 0 && !s[Int(svc)].key.isFwmark && s[Int(svc)].key.port == dport
        }
        guard eligible else { return nil }
        // Committed: the full path's effects, in its order.
        pendingCount = 0
        scratchUsed = 0
        if time > now { now = time }
        lastFlow = FlowTuple(proto: IPProto.tcp, src: src, sport: sport, dst: dst, dport: dport)
        buf.length = 14 + total
        guard let pos = selectDestination(svc, proto: IPProto.tcp, src: src, dst: dst, sport: sport, dport: dport) else {
            var pkt = Self.parsed(buf)
            return noDestination(svc, &buf, &pkt)
        }
        let d = services.withUnsafeBufferPointer { $0[Int(svc)].destinations[pos] }
        let (rsPort, method) = dests.withUnsafeBufferPointer { ($0[Int(d)].port, $0[Int(d)].method) }
        let mac = destMACs.withUnsafeBufferPointer { $0[Int(d)] }
        let direct = method == .directRoute && mac != nil
        // Sent below, the entry's first write sets its real timeout and arms its one timer
        // (not a 3 s one re-armed later, a heap pop per connection).
        let ci = newConnection(proto: IPProto.tcp, caddr: src, cport: sport, vaddr: dst, vport: dport,
                               dport: rsPort != 0 ? rsPort : dport, dest: d, flags: 0, fwmark: 0, armed: !direct)
        guard ci >= 0 else {
            count(.connectionTableFull)
            return .dropped(.connectionTableFull)
        }
        countConnection(d)
        guard direct, let mac else {
            var pkt = Self.parsed(buf)
            return forwardRequest(ci, &buf, &pkt)
        }
        // forwardRequest: counters, the state transition, the refresh.
        countIn(d, total)
        var c = conns[ci]
        setState(&c, direction: c.flags & ConnFlags.noOutput != 0 ? .inputOnly : .input, flags: tcpFlags, proto: IPProto.tcp)
        c.inPkts &+= 1
        c.expires = now + c.timeout
        conns[ci] = c
        sendDirect(buf.frame, total: total, ttl: ttl, to: mac, conn: ci)
        if syncMaster != nil { syncConnection(ci, pkts: c.inPkts) }
        return .sent
    }

    /// The frame as the full path would have parsed it (it passed fastForward's checks),
    /// for continuing there.
    static func parsed(_ buf: PacketBuffer) -> ParsedPacket {
        var pkt = ParsedPacket()
        _ = PacketParser.parse(buf.frame, buf.length, &pkt)
        return pkt
    }
}
