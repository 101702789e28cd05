import UVSPacket

/// The established-flow fast path: the commonest packet a director sees — an untagged IPv4
/// TCP/UDP segment, no options, not fragmented, from a client, on an existing direct-routing
/// connection whose TCP state does not change (a retransmitted SYN included, unless the
/// port-reuse rules reschedule it) — handled with the fewest instructions. A master sync
/// daemon is offered the connection afterwards, as on the full path.
/// It has exactly the effects of the full path (`process` → `request` → `forwardRequest` →
/// DR `transmit`), in the same order; any packet outside those conditions (a SYN, a state
/// change, a due timer, an unavailable server, NAT or TUN, VLANs, MTU, a header checksum that
/// does not verify) returns nil before
/// anything is touched and takes the full path. The oracle fixtures run through both.
extension Engine {
    @inline(__always)
    mutating func fastForward(_ buf: inout PacketBuffer, at time: Nanos) -> Verdict? {
        guard time < conns.nextDue, time < fragmentsDue, time < estimatorDue, time < syncFlushDue,
              topology.serverVLAN < 0 else { return nil }
        let p = buf.frame
        let len = buf.length
        guard len >= 42, p.loadUnaligned(fromByteOffset: 12, as: UInt16.self) == UInt16(0x0800).bigEndian,
              p.load(fromByteOffset: 14, as: UInt8.self) == 0x45 else { return nil }
        let total = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt16.self)))
        let frag = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt16.self))
        let ttl = p.load(fromByteOffset: 22, as: UInt8.self)
        let proto = p.load(fromByteOffset: 23, as: UInt8.self)
        guard frag & 0x3FFF == 0, ttl > 1, 14 + total <= len, total <= topology.serverMTU,
              Checksum.ipv4Header20(p + 14) == 0 else { return nil }
        var tcpFlags: UInt8 = 0
        if proto == IPProto.tcp {
            guard total >= 40 else { return nil }
            let doff = Int(p.load(fromByteOffset: 46, as: UInt8.self) >> 4) * 4
            tcpFlags = p.load(fromByteOffset: 47, as: UInt8.self)
            guard doff >= 20, 20 + doff <= total else { return nil }
        } else {
            guard proto == IPProto.udp, total >= 28 else { return nil }
        }
        let src = IPAddr.load(v4: p + 26), dst = IPAddr.load(v4: p + 30)
        let sport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 34, as: UInt16.self))
        let dport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 36, as: UInt16.self))
        let ci = conns.lookupIn(proto: proto, caddr: src, cport: sport, vaddr: dst, vport: dport)
        guard ci >= 0 else {
            // No connection: a plain SYN may start one on the new-connection fast path.
            guard proto == IPProto.tcp, tcpFlags & (TCPFlag.syn | TCPFlag.ack | TCPFlag.rst | TCPFlag.fin) == TCPFlag.syn else { return nil }
            return fastNewConnection(&buf, total: total, ttl: ttl, src: src, dst: dst, sport: sport, dport: dport,
                                     tcpFlags: tcpFlags, at: time)
        }
        // A SYN on a connection the port-reuse rules would reschedule goes the full way.
        guard tcpFlags & TCPFlag.syn == 0 || !shouldReschedule(ci) else { return nil }
        let (flags, dest, state) = conns.withEntry(ci) { ($0.pointee.flags, $0.pointee.dest, $0.pointee.state) }
        let d = Int(dest)
        guard flags & (ConnFlags.fwdMask | ConnFlags.onePacket) == UInt32(ForwardMethod.directRoute.rawValue), d >= 0,
              dests.withUnsafeBufferPointer({ $0[d].available }),
              let mac = destMACs.withUnsafeBufferPointer({ $0[d] }) else { return nil }
        let timeoutMs: UInt32
        if proto == IPProto.tcp {
            guard let ev = TCPStateMachine.event(flags: tcpFlags), state <= TCPState.synAck.rawValue else { return nil }
            let direction = flags & ConnFlags.noOutput != 0 ? FlowDirection.inputOnly : .input
            guard tcpTransitions[TCPStateMachine.index(state, direction: direction, event: ev, secure: sysctls.secureTCP >= 2)]
                == state else { return nil }
            timeoutMs = UInt32(timeouts.tcp[Int(state)]) &* 1000
        } else {
            timeoutMs = UInt32(timeouts.udp) &* 1000
        }
        // Committed: the full path's effects, in its order.
        pendingCount = 0
        scratchUsed = 0
        if time > now { now = time }
        lastFlow = FlowTuple(proto: proto, src: src, sport: sport, dst: dst, dport: dport)
        buf.length = 14 + total
        countIn(Int32(d), total)
        Self.refresh(&conns[ci], timeoutMs: timeoutMs, now: now)
        sendDirect(p, total: total, ttl: ttl, to: mac, conn: ci)
        if syncMaster != nil { syncConnection(ci, pkts: conns.withEntry(ci) { $0.pointee.inPkts }) }
        return .sent
    }

    /// DR transmit of an untagged IPv4 frame whose header checksum verified:
    /// ip_decrease_ttl, then ip_send_check's full checksum — here the incremental update,
    /// which equals it except for its representation of zero (0xFFFF where the full sum
    /// gives 0x0000) — and the MAC rewrite.
    @inline(__always)
    mutating func sendDirect(_ p: UnsafeMutableRawPointer, total: Int, ttl: UInt8, to mac: MACAddr, conn ci: Int32) {
        p.storeBytes(of: ttl &- 1, toByteOffset: 22, as: UInt8.self)
        var check = Checksum.ttlDecrement(check: UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt16.self)))
        if check == 0xFFFF { check = 0 }
        p.storeBytes(of: check.bigEndian, toByteOffset: 24, as: UInt16.self)
        mac.store(p)
        topology.serverSideMAC.store(p + 6)
        queue(p, 14 + total, .server, ci)
    }

    /// One write access to the entry for the whole refresh.
    @inline(__always)
    static func refresh(_ c: inout Connection, timeoutMs: UInt32, now: Nanos) {
        c.timeoutMs = timeoutMs
        c.inPkts &+= 1
        c.expires = now + Nanos(timeoutMs) * Time.millisecond
    }
}
