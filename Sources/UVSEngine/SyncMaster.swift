import UVSPacket

/// The master side of connection synchronisation (spec §7.1, §7.3): which connections are
/// sent when, packed into messages of at most `maxlen` bytes. The engine only builds the
/// messages; the I/O edge sends them (`Engine.takeSyncMessages`), as the kernel's sender
/// thread does. Buffers are allocated once, when the daemon starts: the packet path that
/// appends an entry allocates nothing.
public struct SyncMaster {
    public let syncID: UInt8
    public let maxlen: Int
    /// Messages waiting for the edge, and those discarded because the queue was full.
    public internal(set) var queued = 0
    public internal(set) var discarded: UInt64 = 0

    let outbox: SyncOutbox
    /// The message being filled: its slot, write offset, format and first use.
    var current = -1
    var head = 0
    var end = 0
    var currentVersion = 1
    var firstUse: Nanos = 0
    var firstQueued = 0

    /// A partially filled message is sent once it is this old (IPVS_SYNC_FLUSH_TIME).
    public static let flushAge = Time.seconds(2)

    public init(syncID: UInt8, maxlen: Int) {
        self.syncID = syncID
        self.maxlen = maxlen
        // ip_vs_sync_buff_create: a buffer holds at least one entry.
        let slotSize = max(maxlen, SyncMessage.headerSize + SyncMessage.entrySizeV6)
        outbox = SyncOutbox(slotSize: slotSize, slots: max(16, min(1024, (4 << 20) / slotSize)))
    }

    var capacity: Int { outbox.slots }

    /// Appends an entry of `size` bytes in format `version`, starting a new message when the
    /// current one is of the other format or has no room (the full one is queued).
    mutating func reserve(_ size: Int, version: Int, at now: Nanos) -> UnsafeMutableRawPointer? {
        if current >= 0 {
            let pad = version == 1 ? (4 - head) & 3 : 0
            if head + pad + size > end || currentVersion != version {
                queueCurrent()
            }
        }
        if current < 0 {
            guard queued < capacity else {
                discarded &+= 1
                return nil
            }
            current = (firstQueued + queued) % capacity
            currentVersion = version
            firstUse = now
            let p = outbox.slot(current)
            if version == 1 {
                SyncMessage.writeHeader(p, syncID: syncID)
                head = SyncMessage.headerSize
            } else {
                SyncMessage.writeHeaderV0(p, syncID: syncID)
                head = SyncMessage.headerSizeV0
            }
            // ip_vs_sync_buff_create: maxlen, or room for this one entry if more.
            end = max(size + head, maxlen)
        }
        let p = outbox.slot(current)
        var pad = version == 1 ? (4 - head) & 3 : 0
        while pad > 0 {
            p.storeBytes(of: 0, toByteOffset: head, as: UInt8.self)
            head += 1
            pad -= 1
        }
        let at = p + head
        head += size
        // Header: size and entry count (v1 at 2 and 4, v0 at 2 and 0).
        p.storeBytes(of: UInt16(head).bigEndian, toByteOffset: 2, as: UInt16.self)
        let countAt = version == 1 ? 4 : 0
        p.storeBytes(of: p.load(fromByteOffset: countAt, as: UInt8.self) &+ 1, toByteOffset: countAt, as: UInt8.self)
        return at
    }

    /// Closes the current message and queues it for the edge.
    mutating func queueCurrent() {
        guard current >= 0 else { return }
        outbox.lengths[current] = head
        queued += 1
        current = -1
    }

    /// When the current message must go out even if not full.
    var flushDue: Nanos { current >= 0 ? firstUse + SyncMaster.flushAge : .max }

    /// Hands the queued messages to `send`, oldest first.
    mutating func drain(_ send: (UnsafeRawBufferPointer) -> Void) {
        while queued > 0 {
            send(UnsafeRawBufferPointer(start: outbox.slot(firstQueued), count: outbox.lengths[firstQueued]))
            firstQueued = (firstQueued + 1) % capacity
            queued -= 1
        }
    }
}

/// The message buffers of a master, allocated once.
final class SyncOutbox {
    let slots: Int
    let stride: Int
    let memory: UnsafeMutableRawPointer
    var lengths: [Int]

    init(slotSize: Int, slots: Int) {
        self.slots = slots
        stride = (slotSize + 63) & ~63
        memory = UnsafeMutableRawPointer.allocate(byteCount: stride * slots, alignment: 64)
        lengths = [Int](repeating: 0, count: slots)
    }
    deinit { memory.deallocate() }

    @inline(__always) func slot(_ i: Int) -> UnsafeMutableRawPointer { memory + i * stride }
}

extension Engine {
    /// Starts the master daemon's side in this engine.
    public mutating func startSyncMaster(syncID: UInt8, maxlen: Int) {
        syncMaster = SyncMaster(syncID: syncID, maxlen: maxlen)
    }

    /// Stops it; what was not sent yet is dropped, as stop_sync_thread does.
    public mutating func stopSyncMaster() {
        syncMaster = nil
        syncFlushDue = .max
    }

    /// The messages built so far, for the edge to send, oldest first.
    public mutating func takeSyncMessages(_ send: (UnsafeRawBufferPointer) -> Void) {
        guard syncMaster != nil else { return }
        syncMaster!.drain(send)
    }

    /// Queues the current message when it is old enough (the sender thread's flush).
    mutating func flushSync(at t: Nanos) {
        guard syncMaster != nil, t >= syncMaster!.flushDue else { return }
        syncMaster!.queueCurrent()
        syncFlushDue = .max
    }

    /// ip_vs_sync_conn: offers connection `ci` after a packet (`pkts` = its in_pkts), then
    /// its controllers (a template counts one more packet each time).
    mutating func syncConnection(_ ci: Int32, pkts: UInt32) {
        let v0 = sysctls.syncVersion == 0
        var i = ci
        var n = pkts
        var first = true
        while true {
            let c = conns[i]
            if v0 {
                // Version 0 carries IPv4 only, and stops at the first connection not sent.
                guard c.caddr.isV4, c.flags & ConnFlags.onePacket == 0, syncNeeded(i, pkts: n) else { return }
                appendSyncEntry(i, version: 0)
            } else if !(first && c.flags & ConnFlags.onePacket != 0) && syncNeeded(i, pkts: n) {
                appendSyncEntry(i, version: 1)
            }
            first = false
            let t = conns[i].control
            guard t >= 0 else { return }
            if conns[t].isTemplate {
                conns[t].inPkts &+= 1
                n = conns[t].inPkts
            } else {
                n = UInt32(sysctls.syncThreshold)
            }
            i = t
        }
    }

    /// ip_vs_sync_conn_needed with sync_refresh_period 0 (spec §7.3); records the state sent.
    mutating func syncNeeded(_ ci: Int32, pkts: UInt32) -> Bool {
        let c = conns[ci]
        var forced = false
        if !c.isTemplate {
            if sysctls.syncPersistMode && inPersistence(ci) { return false }
            if c.proto == IPProto.tcp {
                let synced: [TCPState] = [.established, .finWait, .close, .closeWait, .timeWait]
                guard let s = TCPState(rawValue: c.state), synced.contains(s) else { return false }
                forced = c.state != c.oldState && s != .established
            }
        }
        if !forced {
            let period = UInt32(sysctls.syncPeriod), threshold = UInt32(sysctls.syncThreshold)
            if period > 0 {
                if !c.isTemplate && pkts % period != threshold { return false }
            } else if pkts != threshold {
                return false
            }
        }
        conns[ci].oldState = c.state
        return true
    }

    func inPersistence(_ ci: Int32) -> Bool {
        var t = conns[ci].control
        while t >= 0 {
            if conns[t].isTemplate { return true }
            t = conns[t].control
        }
        return false
    }

    mutating func appendSyncEntry(_ ci: Int32, version: Int) {
        let e = SyncEntry(conns[ci])
        let size = version == 1 ? SyncMessage.entrySize(v6: e.isV6) : SyncMessage.entrySizeV0
        guard let p = syncMaster!.reserve(size, version: version, at: now) else { return }
        if version == 1 {
            _ = SyncMessage.writeEntry(e, at: p)
        } else {
            _ = SyncMessage.writeEntryV0(e, at: p)
        }
        syncFlushDue = syncMaster!.flushDue
    }
}
