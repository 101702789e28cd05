#if canImport(Glibc)
import Glibc
#endif
import CUVSNet
import Synchronization
import UVSEngine
import UVSPacket

/// Everything one worker thread owns: its engine (connection table, schedulers), its
/// receive rings and transmit sockets, and the frames waiting for a neighbour. Lives in a
/// local variable of the worker thread, so the packet path runs with static exclusivity
/// and touches nothing shared but one atomic flag per batch.
struct WorkerState {
    var engine: Engine
    var rings: [PacketRing]
    /// Transmitters by side: [client, server] (the same socket twice when one-armed).
    var tx: [FrameTransmitter]
    let oneArmed: Bool
    let links: [LinkFrames]
    /// The director's own address on each side (ARP sender), zero4 when it has none.
    let ownAddress: [IPAddr]
    /// The next hop towards clients when they are behind a router; nil = on-link clients.
    var clientGateway: IPAddr?
    /// On-link clients' MACs (learned from their ARP for the VIP, or resolved).
    var clientNeighbours: [IPAddr: MACAddr] = [:]
    /// VIPs we answer ARP/ND for on the client side.
    var vips: Set<IPAddr> = []
    var counters = EdgeCounters()
    /// The sync master's socket (the director's), -1 when no master daemon runs.
    var syncFD: Int32 = -1
    /// Called (on this thread) when ARP/ND taught us something another worker may need.
    let learned: @Sendable (IPAddr, MACAddr, Side) -> Void
    let epoch: UInt64

    /// Frames copied out of the engine's scratch (generated ICMP, fragments) until sent.
    let staging: UnsafeMutableRawPointer
    static let stagingSize = 4 << 20
    /// Where a super-packet's segments are built, one at a time (with headroom).
    let segments: UnsafeMutableRawPointer
    var stagingUsed = 0
    /// The block being processed: frames inside it are sent in place.
    var blockLow: UnsafeMutableRawPointer? = nil
    var blockHigh: UnsafeMutableRawPointer? = nil

    struct Waiting {
        var frames: [[UInt8]] = []
        var side: Side
        var firstAsked: Nanos
        var lastAsked: Nanos
    }
    /// Frames per next hop waiting for ARP/ND; bounded per neighbour and in neighbours.
    var unresolved: [IPAddr: Waiting] = [:]
    static let queuePerNeighbour = 64
    static let maxWaitingNeighbours = 1024
    static let resolveTimeout: Nanos = 3 * Time.second

    init(engine: Engine, rings: [PacketRing], tx: [FrameTransmitter], oneArmed: Bool, links: [LinkFrames],
         ownAddress: [IPAddr], clientGateway: IPAddr?, epoch: UInt64,
         learned: @escaping @Sendable (IPAddr, MACAddr, Side) -> Void) {
        self.engine = engine; self.rings = rings; self.tx = tx; self.oneArmed = oneArmed; self.links = links
        self.ownAddress = ownAddress; self.clientGateway = clientGateway; self.epoch = epoch; self.learned = learned
        staging = UnsafeMutableRawPointer.allocate(byteCount: Self.stagingSize, alignment: 64)
        segments = UnsafeMutableRawPointer.allocate(byteCount: 16384, alignment: 64)
    }

    func release() {
        staging.deallocate()
        segments.deallocate()
    }

    @inline(__always) func now() -> Nanos { Nanos(uvs_monotonic_ns() &- epoch) }
    @inline(__always) func txIndex(_ side: Side) -> Int { oneArmed ? 0 : Int(side.rawValue) }

    // MARK: the loop

    mutating func run(stop: StopFlag, mailbox: Mailbox) {
        var fds = rings.map(\.fd)
        fds.append(mailbox.eventfd)
        var lastHousekeeping: Nanos = 0
        while !stop.isSet {
            if mailbox.hasWork { runJobs(mailbox) }
            var worked = false
            for i in rings.indices {
                guard let bd = uvs_ring_block(&rings[i].ring) else { continue }
                processBlock(bd, ring: i)
                uvs_ring_release(&rings[i].ring, bd)
                worked = true
            }
            let t = now()
            if !worked || t - lastHousekeeping > 100 * Time.millisecond {
                lastHousekeeping = t
                engine.advance(to: max(t, engine.now))
                expireWaiting(t)
                sendSyncMessages()
            }
            if !worked {
                _ = fds.withUnsafeBufferPointer { uvs_wait($0.baseAddress, UInt32($0.count), 100) }
                uvs_eventfd_drain(mailbox.eventfd)
            }
        }
        if mailbox.hasWork { runJobs(mailbox) }
    }

    mutating func runJobs(_ mailbox: Mailbox) {
        for job in mailbox.take() {
            job.body(&self)
            job.done.signal()
        }
    }

    /// One TPACKET_V3 block: every frame through the engine, then one sendmmsg per link.
    mutating func processBlock(_ bd: UnsafeMutablePointer<tpacket_block_desc>, ring i: Int) {
        let count = uvs_block_count(bd)
        let side = rings[i].side
        let vlan = rings[i].vlan
        let mtu = rings[i].mtu
        blockLow = UnsafeMutableRawPointer(bd)
        blockHigh = blockLow! + Int(rings[i].ring.block_size)
        let t = now()
        var h = uvs_block_first(bd)!
        // Lookahead (see Engine.prefetchBucket): frame n + 4's bucket, frame n + 2's entry,
        // the buckets kept by frame number modulo 4 between the two stages.
        var far = h
        var buckets = SIMD4<Int32>(repeating: -1)
        var k: UInt32 = 0
        while k < 4 && k < count {
            buckets[Int(k)] = prefetchBucket(far)
            far = uvs_frame_next(far)
            k += 1
        }
        k = 0
        while k < 2 && k < count {
            engine.prefetchEntry(bucket: buckets[Int(k)])
            k += 1
        }
        var n: UInt32 = 0
        while n < count {
            if n + 4 < count { buckets[Int(n & 3)] = prefetchBucket(far); far = uvs_frame_next(far) }
            if n + 2 < count { engine.prefetchEntry(bucket: buckets[Int((n + 2) & 3)]) }
            n += 1
            // Everything needed from the frame's tpacket3_hdr is read first: from then on the
            // header's bytes are the frame's headroom.
            let frame = h
            h = uvs_frame_next(h)
            let len = Int(uvs_frame_snaplen(frame))
            guard len == Int(uvs_frame_len(frame)) else { counters.truncated &+= 1; continue }
            guard uvs_frame_vlan(frame) == vlan else { counters.otherVLAN &+= 1; continue }
            let csumPending = uvs_frame_csum_pending(frame) != 0
            let base = UnsafeMutableRawPointer(frame)
            let data = UnsafeMutableRawPointer(uvs_frame_data(frame)!)
            let headroom = data - base
            if len > mtu &+ 14 {
                // A GRO/GSO super-packet: back into wire-sized segments first.
                if TCPSegmentation.segment(data, len, mtu: mtu, out: segments, headroom: Self.segmentHeadroom, { seg, n in
                    handle(seg, n, headroom: Self.segmentHeadroom, side: side, at: t)
                }) {
                    counters.segmented &+= 1
                    continue
                }
            }
            if csumPending { _ = Checksum.completePartial(data, len) }
            handle(data, len, headroom: headroom, side: side, at: t)
        }
        counters.received &+= UInt64(count)
        flush()
        sendSyncMessages()
        blockLow = nil
        blockHigh = nil
    }

    static let segmentHeadroom = 128

    /// Mutating on purpose: it reaches the engine in place (a non-mutating call copied the
    /// whole engine value per frame).
    @inline(__always)
    mutating func prefetchBucket(_ frame: UnsafeMutablePointer<tpacket3_hdr>) -> Int32 {
        engine.prefetchBucket(UnsafeRawPointer(uvs_frame_data(frame)!), Int(uvs_frame_snaplen(frame)))
    }

    @inline(__always)
    mutating func handle(_ p: UnsafeMutableRawPointer, _ len: Int, headroom: Int, side: Side, at t: Nanos) {
        guard len >= 14 else { counters.truncated &+= 1; return }
        let ethertype = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
        if ethertype == EtherType.arp { return arp(p, len, side: side) }
        if ethertype == EtherType.ipv6 && len >= 78 && p.load(fromByteOffset: 20, as: UInt8.self) == 58 {
            let type = p.load(fromByteOffset: 54, as: UInt8.self)
            if type == 135 || type == 136 { return neighbourDiscovery(p, len, side: side, type: type) }
        }
        var buf = PacketBuffer(base: p - headroom, capacity: headroom + len, start: headroom, length: len)
        _ = engine.process(&buf, from: side, at: t)
        var i = 0
        while i < engine.pendingCount {
            let f = engine.pending[i]
            send(f.bytes, f.count, side: f.side, conn: f.conn)
            i += 1
        }
    }

    @inline(__always)
    mutating func send(_ bytes: UnsafeMutableRawPointer, _ len: Int, side: Side, conn: Int32) {
        var p = bytes
        if let lo = blockLow, let hi = blockHigh, p >= lo && p < hi {
            // in place, in the ring block (sent before the block goes back to the kernel)
        } else {
            guard let s = stage(p, len) else { return }
            p = s
        }
        if p.loadUnaligned(as: UInt32.self) == 0 && p.loadUnaligned(fromByteOffset: 4, as: UInt16.self) == 0 {
            return unresolvedNextHop(p, len, side: side, conn: conn)
        }
        tx[txIndex(side)].add(p, len)
    }

    /// Copies a frame into the staging area (flushing first when it is full).
    mutating func stage(_ p: UnsafeMutableRawPointer, _ len: Int) -> UnsafeMutableRawPointer? {
        guard len <= Self.stagingSize else { counters.transmitErrors &+= 1; return nil }
        counters.staged &+= 1
        let aligned = (len + 63) & ~63
        if stagingUsed + aligned > Self.stagingSize { flush() }
        let d = staging + stagingUsed
        d.copyMemory(from: p, byteCount: len)
        stagingUsed += aligned
        return d
    }

    /// The sync messages the engine built during the batch: one datagram each.
    mutating func sendSyncMessages() {
        guard engine.syncMaster != nil else { return }
        let fd = syncFD
        var sent: UInt64 = 0, failed: UInt64 = 0
        engine.takeSyncMessages { m in
            if fd >= 0 && Glibc.send(fd, m.baseAddress, m.count, Int32(MSG_DONTWAIT)) == m.count { sent += 1 } else { failed += 1 }
        }
        counters.syncSent &+= sent
        counters.syncSendErrors &+= failed
    }

    /// Counters with the transmit sockets' totals.
    var currentCounters: EdgeCounters {
        var c = counters
        for i in tx.indices {
            c.sent &+= tx[i].sent
            c.transmitErrors &+= tx[i].errors
        }
        c.syncDiscarded = engine.syncMaster?.discarded ?? 0
        return c
    }

    mutating func flush() {
        for i in tx.indices where tx[i].pending > 0 { tx[i].flush() }
        stagingUsed = 0
    }

    /// Sends a frame uvsd built itself (ARP, ND) right away.
    mutating func sendNow(_ frame: [UInt8], side: Side) {
        guard !frame.isEmpty else { return }
        frame.withUnsafeBytes { b in
            if let s = stage(UnsafeMutableRawPointer(mutating: b.baseAddress!), b.count) { tx[txIndex(side)].add(s, b.count) }
        }
        flush()
    }

    // MARK: neighbours

    /// A frame whose next hop's MAC is not known yet: on-link clients from the learned
    /// table, everything else queued (bounded) while ARP/ND asks.
    mutating func unresolvedNextHop(_ p: UnsafeMutableRawPointer, _ len: Int, side: Side, conn: Int32) {
        let hop: IPAddr
        if side == .server {
            guard conn >= 0 else { counters.neighbourUnresolved &+= 1; return }
            let c = engine.conns[conn]
            guard c.dest >= 0 else { counters.neighbourUnresolved &+= 1; return }
            hop = engine.dests[Int(c.dest)].addr
        } else if let gw = clientGateway {
            hop = gw
        } else {
            guard let dst = Self.destinationAddress(p, len) else { counters.neighbourUnresolved &+= 1; return }
            if let mac = clientNeighbours[dst] {
                mac.store(p)
                tx[txIndex(side)].add(p, len)
                return
            }
            hop = dst
        }
        let t = now()
        if unresolved[hop] == nil {
            guard unresolved.count < Self.maxWaitingNeighbours else { counters.neighbourQueueFull &+= 1; return }
            unresolved[hop] = Waiting(side: side, firstAsked: t, lastAsked: t)
            ask(hop, side: side)
        }
        guard unresolved[hop]!.frames.count < Self.queuePerNeighbour else { counters.neighbourQueueFull &+= 1; return }
        unresolved[hop]!.frames.append(Array(UnsafeRawBufferPointer(start: p, count: len)))
        counters.neighbourQueued &+= 1
    }

    /// The IP destination of an Ethernet frame (untagged or 802.1Q).
    static func destinationAddress(_ p: UnsafeMutableRawPointer, _ len: Int) -> IPAddr? {
        var l3 = 14
        var et = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
        if et == EtherType.vlan {
            guard len >= 18 else { return nil }
            et = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
            l3 = 18
        }
        if et == EtherType.ipv4 && len >= l3 + 20 { return IPAddr.load(v4: p + l3 + 16) }
        if et == EtherType.ipv6 && len >= l3 + 40 { return IPAddr.load(v6: p + l3 + 24) }
        return nil
    }

    mutating func ask(_ hop: IPAddr, side: Side) {
        let link = links[Int(side.rawValue)]
        let own = ownAddress[Int(side.rawValue)]
        if hop.isV4 {
            sendNow(link.arpRequest(target: hop, sender: own.isV4 ? own : .zero4), side: side)
        } else {
            sendNow(link.neighbourSolicitation(target: hop, sender: own.isV4 ? .zero6 : own), side: side)
        }
    }

    /// Re-asks every second; after `resolveTimeout` the waiting frames are dropped (counted).
    mutating func expireWaiting(_ t: Nanos) {
        guard !unresolved.isEmpty else { return }
        for (hop, w) in unresolved {
            if t - w.firstAsked > Self.resolveTimeout {
                counters.neighbourUnresolved &+= UInt64(w.frames.count)
                unresolved[hop] = nil
            } else if t - w.lastAsked >= Time.second {
                unresolved[hop]!.lastAsked = t
                ask(hop, side: w.side)
            }
        }
    }

    /// A neighbour became known (here or on another worker): update, send what waited.
    mutating func neighbourResolved(_ addr: IPAddr, _ mac: MACAddr, side: Side) {
        if side == .client && clientGateway == nil { clientNeighbours[addr] = mac }
        if clientGateway == addr { engine.topology.clientGatewayMAC = mac }
        if side == .server || oneArmed {
            if engine.dests.contains(where: { $0.addr == addr }) || engine.topology.neighbours[addr] != nil {
                engine.setNeighbour(addr, mac)
            }
        }
        guard let w = unresolved.removeValue(forKey: addr) else { return }
        for var f in w.frames {
            f.withUnsafeMutableBytes { b in
                mac.store(b.baseAddress!)
                if let s = stage(b.baseAddress!, b.count) { tx[txIndex(w.side)].add(s, b.count) }
            }
        }
        flush()
    }

    /// A real server stopped answering: its MAC is no longer used; frames for it wait.
    mutating func neighbourLost(_ addr: IPAddr) {
        if engine.dests.contains(where: { $0.addr == addr }) { engine.setNeighbour(addr, .zero) }
    }

    // MARK: ARP and ND for the VIPs

    mutating func arp(_ p: UnsafeMutableRawPointer, _ len: Int, side: Side) {
        guard len >= 42,
              UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 14, as: UInt16.self)) == 1,
              UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt16.self)) == EtherType.ipv4,
              p.load(fromByteOffset: 18, as: UInt8.self) == 6, p.load(fromByteOffset: 19, as: UInt8.self) == 4 else { return }
        let op = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt16.self))
        let sha = MACAddr.load(p + 22)
        let spa = IPAddr.load(v4: p + 28)
        let tpa = IPAddr.load(v4: p + 38)
        if op == 1 && side == .client && vips.contains(tpa) && spa != tpa {
            sendNow(links[0].arpReply(vip: tpa, to: sha, askerIP: spa), side: .client)
            counters.arpReplies &+= 1
        }
        // Learn what we wait for, what we use, and the clients that ask for a VIP.
        // (Replies go to the director, which tells every worker: the one that asked may be
        // another one, since ARP always lands on the first worker.)
        guard spa != .zero4, !vips.contains(spa) else { return }
        let asksForVIP = op == 1 && side == .client && vips.contains(tpa)
        let replyToUs = op == 2 && MACAddr.load(p + 32) == links[Int(side.rawValue)].mac
        if asksForVIP || replyToUs || unresolved[spa] != nil || clientGateway == spa
            || knownNeighbourChanged(spa, sha, side: side) {
            learned(spa, sha, side)
        }
    }

    func knownNeighbourChanged(_ a: IPAddr, _ mac: MACAddr, side: Side) -> Bool {
        if let m = engine.topology.neighbours[a], m != mac { return true }
        if side == .client, let m = clientNeighbours[a], m != mac { return true }
        return false
    }

    mutating func neighbourDiscovery(_ p: UnsafeMutableRawPointer, _ len: Int, side: Side, type: UInt8) {
        let src = IPAddr.load(v6: p + 22)
        let target = IPAddr.load(v6: p + 62)
        let srcMAC = MACAddr.load(p + 6)
        if type == 135 {
            if side == .client && vips.contains(target) && src != .zero6 {
                sendNow(links[0].neighbourAdvertisement(vip: target, to: srcMAC, dstIP: src, solicited: true), side: .client)
                counters.neighbourAdvertisements &+= 1
                learned(src, srcMAC, side)
            }
        } else if unresolved[target] != nil || knownNeighbourChanged(target, srcMAC, side: side) {
            // Advertisement: the target's link-layer address option, else the frame's source.
            var mac = srcMAC
            if len >= 86 && p.load(fromByteOffset: 78, as: UInt8.self) == 2 { mac = MACAddr.load(p + 80) }
            learned(target, mac, side)
        }
    }
}
