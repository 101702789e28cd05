import UVSPacket

/// Which link a frame arrived on or leaves by.
public enum Side: UInt8, Sendable {
    /// Towards clients (the VIP side).
    case client
    /// Towards real servers.
    case server
}

/// Receives the frames the engine sends. Generic, so calls are direct and allocation-free.
public protocol FrameSink {
    /// `conn` is the connection slot the frame belongs to, -1 for none.
    mutating func emit(_ frame: UnsafeRawBufferPointer, side: Side, conn: Int32)
}

/// What happened to one input frame.
public enum Verdict: Equatable, Sendable {
    /// IPVS transmitted it (possibly as several fragments).
    case sent
    /// Not IPVS traffic: left to the host stack.
    case passed
    case dropped(DropReason)
    /// An IPv4 fragment kept until its datagram is complete.
    case held
}

/// A frame in a buffer with headroom, so headers can be prepended in place
/// (Ethernet for a different link, tunnel encapsulation).
public struct PacketBuffer {
    public var base: UnsafeMutableRawPointer
    public var capacity: Int
    /// Offset of the first byte of the frame.
    public var start: Int
    public var length: Int

    public init(base: UnsafeMutableRawPointer, capacity: Int, start: Int, length: Int) {
        self.base = base; self.capacity = capacity; self.start = start; self.length = length
    }

    /// Headroom a buffer should leave before the frame for every transmit method.
    public static let headroom = 128

    @inlinable public var frame: UnsafeMutableRawPointer { base + start }
}

enum TCPFlag {
    static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, ack: UInt8 = 0x10
}

/// A frame the engine decided to send, pointing into the input buffer or the engine's
/// scratch arena; valid until the next call into the engine.
public struct PendingFrame {
    public var bytes: UnsafeMutableRawPointer
    public var count: Int
    public var side: Side
    public var conn: Int32
}

extension Engine {
    /// Runs one frame through IPVS at time `time` (spec §5) and hands what it sends to
    /// `sink`. Frames from the client side go through the request path, frames from the
    /// server side through the reply path.
    @inlinable
    public mutating func process<S: FrameSink>(_ buf: inout PacketBuffer, from side: Side, at time: Nanos,
                                               into sink: inout S) -> Verdict {
        let verdict = process(&buf, from: side, at: time)
        var i = 0
        while i < pendingCount {
            let f = pending[i]
            sink.emit(UnsafeRawBufferPointer(start: f.bytes, count: f.count), side: f.side, conn: f.conn)
            i += 1
        }
        return verdict
    }

    /// The same, leaving the frames to send in `pending` (for batching I/O edges).
    public mutating func process(_ buf: inout PacketBuffer, from side: Side, at time: Nanos) -> Verdict {
        if side == .client, let v = fastForward(&buf, at: time) { return v }
        pendingCount = 0
        scratchUsed = 0
        lastFlow.proto = 0
        if time >= conns.nextDue { advance(to: time) } else if time > now { now = time }
        if time >= fragmentsDue { expireFragments() }
        if time >= estimatorDue { runEstimators(until: time) }
        if time >= syncFlushDue { flushSync(at: time) }
        var pkt = ParsedPacket()
        switch PacketParser.parse(buf.frame, buf.length, &pkt) {
        case .ip: break
        case .notIP:
            passed &+= 1
            return .passed
        case .drop(let r):
            count(r)
            return .dropped(r)
        }
        buf.length = pkt.l3 + pkt.ipLen   // drop Ethernet padding
        if pkt.hasPorts && pkt.fragment == .none {
            lastFlow = FlowTuple(proto: pkt.proto, src: pkt.src, sport: pkt.sport, dst: pkt.dst, dport: pkt.dport)
        }
        return side == .client ? request(&buf, &pkt) : reply(&buf, &pkt)
    }

    mutating func queue(_ p: UnsafeMutableRawPointer, _ count: Int, _ side: Side, _ conn: Int32) {
        let f = PendingFrame(bytes: p, count: count, side: side, conn: conn)
        if pendingCount < pending.count { pending[pendingCount] = f } else { pending.append(f) }
        pendingCount += 1
    }

    /// Space for a generated frame; the arena is reset for every input frame.
    mutating func allocateScratch(_ size: Int) -> UnsafeMutableRawPointer {
        let aligned = (size + 63) & ~63
        precondition(scratchUsed + aligned <= Engine.scratchSize, "scratch arena exhausted")
        defer { scratchUsed += aligned }
        return scratch + scratchUsed
    }

    // MARK: request path (spec §5.2)


    mutating func request(_ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        // IPv4 requests reach IPVS reassembled (the kernel defragments before LOCAL_IN).
        if !pkt.isV6 && pkt.fragment != .none { return reassemble(buf, pkt) }
        let proto = pkt.proto
        if proto == (pkt.isV6 ? IPProto.icmpv6 : IPProto.icmp) { return requestICMP(&buf, &pkt) }
        guard proto == IPProto.tcp || proto == IPProto.udp, pkt.fragment != .later else {
            passed &+= 1
            return .passed
        }
        var ci = conns.lookupIn(proto: proto, caddr: pkt.src, cport: pkt.sport, vaddr: pkt.dst, vport: pkt.dport)
        if ci >= 0 {
            // Port reuse and unavailable destinations (spec §3.7).
            if proto == IPProto.tcp && pkt.tcpFlags & TCPFlag.syn != 0 && pkt.fragment == .none
                && shouldReschedule(ci) {
                if conns[ci].nControl == 0 { expireNow(ci) }
                ci = -1
            } else if conns[ci].dest >= 0 && !dests[Int(conns[ci].dest)].available {
                guard sysctls.expireNodestConn else {
                    count(.destinationUnavailable)
                    return .dropped(.destinationUnavailable)
                }
                if conns[ci].nControl == 0 { expireNow(ci) }
                ci = -1
            }
        }
        if ci < 0 {
            if proto == IPProto.tcp {
                let f = pkt.tcpFlags
                let mayStart = f & TCPFlag.rst == 0 && (f & TCPFlag.syn != 0 || sysctls.sloppyTCP)
                guard mayStart else { return toHost(buf, pkt) }
            }
            guard let svc = lookupService(pkt) else { return toHost(buf, pkt) }
            switch schedule(svc, &pkt) {
            case .connection(let c): ci = c
            case .pass:
                return toHost(buf, pkt)
            case .drop(let r):
                count(r)
                return .dropped(r)
            case .noDestination:
                return noDestination(svc, &buf, &pkt)
            }
        }
        return forwardRequest(ci, &buf, &pkt)
    }

    /// Stats, state transition, transmit and refresh for a request on connection `ci`.

    mutating func forwardRequest(_ ci: Int32, _ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        // Work on a copy of the entry and store it once: one table write per packet.
        var c = conns[ci]
        if c.dest >= 0 && dests[Int(c.dest)].available { countIn(c.dest, pkt.ipLen) }
        setState(&c, direction: c.flags & ConnFlags.noOutput != 0 ? .inputOnly : .input,
                 flags: pkt.tcpFlags, proto: pkt.proto)
        let onePacket = c.flags & ConnFlags.onePacket != 0
        if !onePacket {
            c.inPkts &+= 1
            c.expires = now + c.timeout
        }
        conns[ci] = c
        let verdict = transmit(ci, c, &buf, &pkt)
        if syncMaster != nil {
            syncConnection(ci, pkts: onePacket ? UInt32(sysctls.syncThreshold) : c.inPkts)
        }
        if onePacket { free(ci) }
        return verdict
    }

    mutating func shouldReschedule(_ ci: Int32) -> Bool {  // mutating: called in place (a non-mutating call copies the engine)
        let (dest, control, proto, s, flags) = conns.withEntry(ci) { c in
            (c.pointee.dest, c.pointee.control, c.pointee.proto, c.pointee.state, c.pointee.flags)
        }
        if sysctls.expireNodestConn && dest >= 0 && dests[Int(dest)].weight == 0 { return true }
        guard sysctls.connReuseMode != 0, control < 0 else { return false }
        if proto == IPProto.tcp {
            if s == TCPState.timeWait.rawValue || s == TCPState.close.rawValue { return true }
            if sysctls.connReuseMode & 2 != 0 && s == TCPState.finWait.rawValue
                && flags & ConnFlags.noOutput != 0 { return true }
        }
        return false
    }

    /// Packet-path service lookup, first hit wins (spec §1.1; fwmark services come later).

    mutating func lookupService(_ pkt: ParsedPacket) -> Int32? {
        if !marks.isEmpty {
            let m = mark(pkt)
            if m != 0, let s = serviceIndex[ServiceKey(fwmark: m, v6: pkt.isV6)] { return s }
        }
        return lookupService(proto: pkt.proto, addr: pkt.dst, port: pkt.dport)
    }

    mutating func lookupService(proto: UInt8, addr: IPAddr, port: UInt16) -> Int32? {
        let key = ServiceKey(proto: proto, addr: addr, port: port)
        if let s = serviceCache[key] { return s }
        if let s = serviceIndex[key] {
            serviceCache[key] = s
            return s
        }
        if proto == IPProto.tcp && ftpServices > 0 && (port == 20 || port >= 1024),
           let s = serviceIndex[ServiceKey(proto: proto, addr: addr, port: 21)] {
            return s
        }
        if port0Services > 0, let s = serviceIndex[ServiceKey(proto: proto, addr: addr, port: 0)] { return s }
        return nil
    }

    enum ScheduleResult {
        case connection(Int32), pass, drop(DropReason), noDestination
    }

    /// ip_vs_schedule (spec §3.5, §3.6).

    mutating func schedule(_ svc: Int32, _ pkt: inout ParsedPacket) -> ScheduleResult {
        if pkt.sport == 20 { return .pass }     // never schedule FTP data from real servers
        let serviceFlags = services[Int(svc)].flags
        if serviceFlags & ServiceFlags.persistent != 0 { return schedulePersistent(svc, &pkt) }
        let key = services[Int(svc)].key
        if !key.isFwmark && key.port != pkt.dport { return .noDestination }
        guard let pos = selectDestination(svc, pkt) else { return .noDestination }
        let d = services[Int(svc)].destinations[pos]
        var flags: UInt32 = 0
        if serviceFlags & ServiceFlags.onePacket != 0 && pkt.proto == IPProto.udp { flags |= ConnFlags.onePacket }
        let rs = dests[Int(d)]
        let dport = rs.port != 0 ? rs.port : pkt.dport
        let ci = newConnection(proto: pkt.proto, caddr: pkt.src, cport: pkt.sport, vaddr: pkt.dst,
                               vport: pkt.dport, dport: dport, dest: d, flags: flags, fwmark: 0)
        guard ci >= 0 else { return .drop(.connectionTableFull) }
        countConnection(d)
        return .connection(ci)
    }

    mutating func selectDestination(_ svc: Int32, _ pkt: ParsedPacket) -> Int? {
        selectDestination(svc, proto: pkt.proto, src: pkt.src, dst: pkt.dst, sport: pkt.sport, dport: pkt.dport)
    }

    mutating func selectDestination(_ svc: Int32, proto: UInt8, src: IPAddr, dst: IPAddr, sport: UInt16, dport: UInt16) -> Int? {
        let req = SchedulingRequest(proto: proto, src: src, dst: dst, sport: sport,
                                    dport: dport, now: now, random: (rng.next(), rng.next()),
                                    serviceFlags: services[Int(svc)].flags)
        guard let sched = scheduler(svc) else { return nil }
        return dests.withUnsafeBufferPointer { store in sched._withUnsafeGuaranteedRef { $0.decide(req, store: store) } }
    }

    mutating func schedulePersistent(_ svc: Int32, _ pkt: inout ParsedPacket) -> ScheduleResult {
        let s = services[Int(svc)]
        let snet = s.persistenceNet(pkt.src)
        var tproto = pkt.proto
        var tvaddr = pkt.dst
        var tvport: UInt16 = 0
        if pkt.dport == s.key.port {
            if s.key.port != 21 { tvport = pkt.dport }
        } else if s.key.isFwmark {
            tproto = 0
            tvaddr = IPAddr(v4: s.key.fwmark)
        }
        var ti = conns.lookupTemplate(proto: tproto, caddr: snet, vaddr: tvaddr, vport: tvport)
        if ti >= 0 && !templateValid(ti) {
            invalidateTemplate(ti)
            ti = -1
        }
        let d: Int32
        if ti < 0 {
            guard let pos = selectDestination(svc, pkt) else { return .noDestination }
            d = s.destinations[pos]
            let tdport: UInt16 = (pkt.dport == s.key.port && s.key.port != 21) ? dests[Int(d)].port : 0
            ti = newConnection(proto: tproto, caddr: snet, cport: 0, vaddr: tvaddr, vport: tvport,
                               dport: tdport, dest: d, flags: ConnFlags.template, fwmark: s.key.fwmark)
            guard ti >= 0 else { return .drop(.connectionTableFull) }
            conns[ti].timeoutMs = s.timeout &* 1000
        } else {
            d = conns[ti].dest
        }
        var dport = pkt.dport
        if dport == s.key.port && dests[Int(d)].port != 0 { dport = dests[Int(d)].port }
        var flags: UInt32 = 0
        if s.isOnePacket && pkt.proto == IPProto.udp { flags |= ConnFlags.onePacket }
        let ci = newConnection(proto: pkt.proto, caddr: pkt.src, cport: pkt.sport, vaddr: pkt.dst,
                               vport: pkt.dport, dport: dport, dest: d, flags: flags, fwmark: s.key.fwmark)
        guard ci >= 0 else {
            conns[ti].expires = now + conns[ti].timeout
            return .drop(.connectionTableFull)
        }
        conns[ci].control = ti
        conns[ti].nControl += 1
        conns[ti].expires = now + conns[ti].timeout
        countConnection(d)
        return .connection(ci)
    }

    mutating func templateValid(_ ti: Int32) -> Bool {  // mutating: in place, no engine copy per packet
        let d = conns[ti].dest
        guard d >= 0, dests[Int(d)].available else { return false }
        if sysctls.expireQuiescentTemplate && dests[Int(d)].weight == 0 { return false }
        return true
    }

    /// Re-keys an invalid template so it never matches again; its timer runs out as is.
    mutating func invalidateTemplate(_ ti: Int32) {
        guard conns[ti].vport != 0xFFFF else { return }
        conns.unhash(ti)
        conns[ti].dport = 0xFFFF
        conns[ti].vport = 0xFFFF
        conns[ti].cport = 0
        conns.rehash(ti)
    }

    /// ip_vs_conn_new + ip_vs_bind_dest (spec §3.2, §1.3).
    mutating func newConnection(proto: UInt8, caddr: IPAddr, cport: UInt16, vaddr: IPAddr, vport: UInt16,
                       dport: UInt16, dest d: Int32, flags: UInt32, fwmark: UInt32, armed: Bool = true) -> Int32 {
        var c = Connection()
        c.proto = proto; c.caddr = caddr; c.cport = cport; c.vaddr = vaddr; c.vport = vport
        c.daddr = dests[Int(d)].addr; c.dport = dport
        var f = flags | dests[Int(d)].connectionFlags
        if proto != IPProto.udp { f &= ~ConnFlags.onePacket }
        c.flags = f
        c.dest = d
        c.fwmark = fwmark
        c.timeoutMs = 3000
        c.expires = now + Time.seconds(3)
        let ci = conns.insert(c, hashed: f & ConnFlags.onePacket == 0, armed: armed)
        guard ci >= 0 else { return -1 }
        countBinding(Int(d), flags: f)
        return ci
    }

    /// A connection bound to destination `i`: its counters and the OVERLOAD rule (spec §1.3).
    mutating func countBinding(_ i: Int, flags f: UInt32) {
        if f & ConnFlags.template != 0 {
            dests[i].persistConns += 1
        } else if f & ConnFlags.inactive != 0 {
            dests[i].inactiveConns += 1
        } else {
            dests[i].activeConns += 1
        }
        if dests[i].upperThreshold != 0
            && UInt32(dests[i].activeConns + dests[i].inactiveConns) >= dests[i].upperThreshold {
            dests[i].overloaded = true
        }
    }

    mutating func countConnection(_ d: Int32) {
        dests[Int(d)].counters.current.conns &+= 1
        services[Int(dests[Int(d)].service)].counters.current.conns &+= 1
        totals.current.conns &+= 1
    }

    @inline(__always)
    mutating func countIn(_ d: Int32, _ bytes: Int) {
        let svc = dests.withUnsafeMutableBufferPointer { b -> Int in
            b[Int(d)].counters.current.countIn(bytes)
            return Int(b[Int(d)].service)
        }
        services.withUnsafeMutableBufferPointer { $0[svc].counters.current.countIn(bytes) }
        totals.current.countIn(bytes)
    }

    mutating func countOut(_ d: Int32, _ bytes: Int) {
        dests[Int(d)].counters.current.countOut(bytes)
        services[Int(dests[Int(d)].service)].counters.current.countOut(bytes)
        totals.current.countOut(bytes)
    }

    /// State transition (spec §4): TCP tables, UDP single state; active/inactive accounting.

    mutating func setState(_ c: inout Connection, direction: FlowDirection, flags: UInt8, proto: UInt8) {
        if direction == .output { c.flags &= ~ConnFlags.noOutput }
        if proto == IPProto.tcp {
            // TCPStateMachine.next, read from the engine's copy of the tables.
            let old = c.state <= TCPState.synAck.rawValue ? c.state : TCPState.none.rawValue
            var new = TCPState.close.rawValue
            if let ev = TCPStateMachine.event(flags: flags) {
                let i = TCPStateMachine.index(old, direction: direction, event: ev, secure: sysctls.secureTCP >= 2)
                new = tcpTransitions.withUnsafeBufferPointer { $0[i] }
            }
            enterTCPState(&c, from: old, to: new)
        } else if proto == IPProto.udp {
            c.timeoutMs = UInt32(timeouts.udp) &* 1000
            if direction == .output { assureTemplate(c) }
        }
    }

    /// A TCP state transition's bookkeeping (spec §4): active/inactive counters, the
    /// template's ASSURED mark on ESTABLISHED, and the new state's timeout.
    @inline(__always)
    mutating func enterTCPState(_ c: inout Connection, from old: UInt8, to new: UInt8) {
        if new != old {
            let d = c.dest
            let inactive = c.flags & ConnFlags.inactive != 0
            let active = TCPState.activeMask >> new & 1 != 0
            if d >= 0 {
                if !inactive && !active {
                    dests.withUnsafeMutableBufferPointer { $0[Int(d)].activeConns -= 1; $0[Int(d)].inactiveConns += 1 }
                    c.flags |= ConnFlags.inactive
                } else if inactive && active {
                    dests.withUnsafeMutableBufferPointer { $0[Int(d)].activeConns += 1; $0[Int(d)].inactiveConns -= 1 }
                    c.flags &= ~ConnFlags.inactive
                }
            }
            if new == TCPState.established.rawValue { assureTemplate(c) }
            c.state = new
        }
        c.timeoutMs = UInt32(timeouts.tcp[Int(new)]) &* 1000
    }

    mutating func assureTemplate(_ c: Connection) {
        if c.control >= 0 { conns[c.control].state = TemplateState.assured.rawValue }
    }

    /// No destination (spec §3.8): ICMP port unreachable to the client, packet dropped.
    mutating func noDestination(_ svc: Int32, _ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        let s = services[Int(svc)]
        if !s.key.isFwmark && s.key.port == 21 && pkt.dport != 21 { return toHost(buf, pkt) }
        if pkt.isV6 {
            sendICMPError(buf, pkt, type: 1, code: 4, info: 0)
        } else {
            sendICMPError(buf, pkt, type: 3, code: 3, info: 0)
        }
        count(.noDestination)
        return .dropped(.noDestination)
    }

    // MARK: reply path (spec §5.3)


    mutating func reply(_ buf: inout PacketBuffer, _ pkt: inout ParsedPacket) -> Verdict {
        let proto = pkt.proto
        if proto == (pkt.isV6 ? IPProto.icmpv6 : IPProto.icmp) { return replyICMP(&buf, &pkt) }
        guard proto == IPProto.tcp || proto == IPProto.udp, pkt.fragment != .later else {
            passed &+= 1
            return .passed
        }
        let ci = conns.lookupOut(proto: proto, saddr: pkt.src, sport: pkt.sport, caddr: pkt.dst, cport: pkt.dport)
        guard ci >= 0 else {
            passed &+= 1
            return .passed
        }
        // The director routes the reply: TTL/hop limit first (ip_forward), then SNAT.
        let p = buf.frame
        let l3 = pkt.l3
        if pkt.ttl <= 1 {
            count(.ttlExceeded)
            return .dropped(.ttlExceeded)
        }
        if pkt.isV6 {
            p.storeBytes(of: pkt.ttl &- 1, toByteOffset: l3 + 7, as: UInt8.self)
        } else {
            decrementTTLv4(p + l3)
        }
        var c = conns[ci]
        if c.method == .masquerade {
            snat(p, &pkt, c)
        }
        let d = c.dest
        if d >= 0 && dests[Int(d)].available { countOut(d, pkt.ipLen) }
        setState(&c, direction: .output, flags: pkt.tcpFlags, proto: proto)
        c.expires = now + c.timeout
        conns[ci] = c
        emitToClient(&buf, l3: l3, ethertype: pkt.isV6 ? EtherType.ipv6 : EtherType.ipv4, conn: ci)
        return .sent
    }
}

