import UVSPacket

/// What a backup did with the sync messages it received.
public struct SyncBackupCounters: Sendable, Equatable {
    public var messages: UInt64 = 0
    public var entries: UInt64 = 0
    /// Messages or entries the kernel would also drop (size, SyncID, format, protocol, state).
    public var rejected: UInt64 = 0
    public init() {}
}

/// The backup side of connection synchronisation (spec §7.4): ip_vs_proc_conn. Synced
/// connections are ordinary entries; when the VIPs move here, packets match them.
extension Engine {
    /// Applies one received datagram (the UDP payload) at time `t`. Ignored when no backup
    /// daemon runs.
    public mutating func receiveSync(_ datagram: UnsafeRawBufferPointer, at t: Nanos) {
        guard let id = syncBackupID else { return }
        advance(to: t)
        syncBackup.messages &+= 1
        var entries: [SyncEntry] = []
        var rejected: UInt64 = 0
        SyncMessage.read(datagram, syncID: id, entry: { entries.append($0) }, rejected: { _ in rejected += 1 })
        syncBackup.rejected &+= rejected
        for e in entries { applySync(e) }
    }

    /// ip_vs_proc_sync_conn's checks, then ip_vs_proc_conn.
    public mutating func applySync(_ e: SyncEntry) {
        var flags = e.flags & SyncMessage.backupMask | ConnFlags.sync
        let template = flags & ConnFlags.template != 0
        if !template {
            // Protocols uvs tracks, and a state that exists for them.
            let states: Int
            switch e.proto {
            case IPProto.tcp: states = TCPState.allCases.count
            case IPProto.udp: states = 2
            default: states = 0
            }
            guard Int(e.state) < states else {
                syncBackup.rejected &+= 1
                return
            }
        }
        // No persistence engines here: the kernel skips an entry whose engine it lacks.
        guard !e.hasPersistenceEngine else {
            syncBackup.rejected &+= 1
            return
        }
        syncBackup.entries &+= 1
        var vaddr = e.vaddr
        if template && e.proto == 0 && !vaddr.isV4 { vaddr = IPAddr(v4: UInt32(truncatingIfNeeded: vaddr.hi >> 32)) }
        var ci: Int32
        if !template {
            ci = conns.lookupIn(proto: e.proto, caddr: e.caddr, cport: e.cport, vaddr: vaddr, vport: e.vport)
            if ci >= 0 && (conns[ci].dport != e.dport || conns[ci].daddr != e.daddr) {
                // Another real server: an active entry replaces ours, an inactive one is the
                // expiry notice of a connection already replaced.
                guard flags & ConnFlags.inactive == 0 else { return }
                expireNow(ci)
                ci = -1
            }
        } else {
            ci = conns.lookupTemplate(proto: e.proto, caddr: e.caddr, vaddr: vaddr, vport: e.vport)
        }
        if ci >= 0 {
            let c = conns[ci]
            if (c.flags ^ flags) & ConnFlags.inactive != 0 && !template && c.dest >= 0 {
                let d = Int(c.dest)
                if flags & ConnFlags.inactive != 0 {
                    dests[d].activeConns -= 1
                    dests[d].inactiveConns += 1
                } else {
                    dests[d].activeConns += 1
                    dests[d].inactiveConns -= 1
                }
            }
            flags &= SyncMessage.backupUpdateMask
            flags |= c.flags & ~SyncMessage.backupUpdateMask
            conns[ci].flags = flags
            if c.dest < 0, let d = syncDestination(conns[ci]) { bindSynced(ci, d) }
        } else {
            var c = Connection()
            c.proto = e.proto; c.caddr = e.caddr; c.cport = e.cport; c.vaddr = vaddr; c.vport = e.vport
            c.daddr = e.daddr; c.dport = e.dport; c.fwmark = e.fwmark
            c.flags = flags
            c.timeoutMs = 3000
            c.expires = now + Time.seconds(3)
            let d = syncDestination(c)
            ci = conns.insert(c)
            guard ci >= 0 else {
                count(.connectionTableFull)
                return
            }
            if let d { bindSynced(ci, d) }
        }
        conns[ci].inPkts = UInt32(sysctls.syncThreshold)
        conns[ci].state = UInt8(truncatingIfNeeded: e.state)
        conns[ci].oldState = conns[ci].state
        let seconds: UInt32
        if e.timeout != 0 {
            seconds = min(e.timeout, UInt32.max / 1000)
        } else if !template && e.proto == IPProto.tcp {
            seconds = UInt32(timeouts.tcp[Int(e.state)])
        } else if !template && e.proto == IPProto.udp {
            seconds = UInt32(timeouts.udp)
        } else {
            seconds = 180
        }
        // One write: the table arms a timer if the expiry moved earlier.
        conns[ci].postpone(timeoutMs: seconds &* 1000, now: now)
    }

    /// ip_vs_find_dest: the service by fwmark first, then by address; the real server by
    /// address and port (port 0 first for fwmark services not forwarding by NAT).
    mutating func syncDestination(_ c: Connection) -> Int32? {
        var svc: Int32? = nil
        if c.fwmark != 0 { svc = serviceIndex[ServiceKey(fwmark: c.fwmark, v6: !c.caddr.isV4)] }
        if svc == nil { svc = lookupService(proto: c.proto, addr: c.vaddr, port: c.vport) }
        guard let s = svc else { return nil }
        var port = c.dport
        if c.fwmark != 0 && c.flags & ConnFlags.fwdMask != UInt32(ForwardMethod.masquerade.rawValue) { port = 0 }
        if let pos = findDestination(s, c.daddr, port) { return services[Int(s)].destinations[pos] }
        if let pos = findDestination(s, c.daddr, port ^ c.dport) { return services[Int(s)].destinations[pos] }
        return nil
    }

    /// ip_vs_bind_dest for a synced connection: the forwarding method comes from the
    /// backup's real server, the activity from the message.
    mutating func bindSynced(_ ci: Int32, _ d: Int32) {
        let i = Int(d)
        var destFlags = dests[i].connectionFlags
        if conns[ci].proto != IPProto.udp { destFlags &= ~ConnFlags.onePacket }
        var f = conns[ci].flags
        if f & ConnFlags.template == 0 { destFlags &= ~ConnFlags.inactive }
        f &= ~(ConnFlags.fwdMask | ConnFlags.noOutput)
        f |= destFlags
        conns[ci].flags = f
        conns[ci].dest = d
        countBinding(i, flags: f)
    }
}
