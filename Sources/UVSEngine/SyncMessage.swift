import UVSPacket

/// One connection as the synchronisation protocol carries it (spec §7.2): the fields of
/// ip_vs_sync_v4/v6. Ports and addresses in host order here, network order on the wire.
public struct SyncEntry: Equatable, Sendable {
    public var proto: UInt8 = 0
    public var flags: UInt32 = 0
    public var state: UInt16 = 0
    public var cport: UInt16 = 0
    public var vport: UInt16 = 0
    public var dport: UInt16 = 0
    public var fwmark: UInt32 = 0
    /// Seconds; 0 = not carried (version 0 messages).
    public var timeout: UInt32 = 0
    public var caddr = IPAddr.zero4
    public var vaddr = IPAddr.zero4
    public var daddr = IPAddr.zero4
    /// The entry carried persistence-engine data (uvs has no persistence engines).
    public var hasPersistenceEngine = false

    public init() {}

    public init(_ c: Connection) {
        proto = c.proto; flags = c.flags & SyncMessage.sentFlags; state = UInt16(c.state)
        cport = c.cport; vport = c.vport; dport = c.dport; fwmark = c.fwmark
        timeout = c.timeoutMs / 1000
        caddr = c.caddr; vaddr = c.vaddr; daddr = c.daddr
    }

    @inlinable public var isV6: Bool { !caddr.isV4 }
}

/// The wire formats of the sync daemon (spec §7.2), version 1 (default) and version 0.
/// Writers take a buffer the caller sized; readers check every length against the datagram.
public enum SyncMessage {
    public static let headerSize = 8
    public static let headerSizeV0 = 4
    public static let entrySizeV4 = 36
    public static let entrySizeV6 = 72
    public static let entrySizeV0 = 24
    /// The connection flags a master sends: all but HASHED (and uvs's internal bits).
    public static let sentFlags: UInt32 = 0x0001_FFFF & ~ConnFlags.hashed
    /// What a backup keeps of them (IP_VS_CONN_F_BACKUP_MASK).
    public static let backupMask: UInt32 = ConnFlags.fwdMask | ConnFlags.noOutput | ConnFlags.inactive
        | 0x0600 | ConnFlags.noCport | ConnFlags.template
    /// What a backup updates on an entry it already has (IP_VS_CONN_F_BACKUP_UPD_MASK).
    public static let backupUpdateMask: UInt32 = ConnFlags.inactive | 0x0600

    // MARK: writing

    /// Starts a message: the version 1 header with no entries.
    public static func writeHeader(_ p: UnsafeMutableRawPointer, syncID: UInt8) {
        p.storeBytes(of: 0, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: syncID, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: UInt16(headerSize).bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: 0, toByteOffset: 4, as: UInt8.self)
        p.storeBytes(of: 1, toByteOffset: 5, as: UInt8.self)
        p.storeBytes(of: 0, toByteOffset: 6, as: UInt16.self)
    }

    /// Starts a version 0 message.
    public static func writeHeaderV0(_ p: UnsafeMutableRawPointer, syncID: UInt8) {
        p.storeBytes(of: 0, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: syncID, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: UInt16(headerSizeV0).bigEndian, toByteOffset: 2, as: UInt16.self)
    }

    @inlinable public static func entrySize(v6: Bool) -> Int { v6 ? entrySizeV6 : entrySizeV4 }

    /// Writes one version 1 entry at `p` (room for `entrySize` bytes) and returns its size.
    public static func writeEntry(_ e: SyncEntry, at p: UnsafeMutableRawPointer) -> Int {
        let v6 = e.isV6
        let size = entrySize(v6: v6)
        p.storeBytes(of: v6 ? 1 : 0, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: e.proto, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: UInt16(size).bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: e.flags.bigEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: e.state.bigEndian, toByteOffset: 8, as: UInt16.self)
        p.storeBytes(of: e.cport.bigEndian, toByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: e.vport.bigEndian, toByteOffset: 12, as: UInt16.self)
        p.storeBytes(of: e.dport.bigEndian, toByteOffset: 14, as: UInt16.self)
        p.storeBytes(of: e.fwmark.bigEndian, toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: e.timeout.bigEndian, toByteOffset: 20, as: UInt32.self)
        if v6 {
            e.caddr.store(v6: p + 24)
            storeVirtual(e, v6: true, p + 40)
            e.daddr.store(v6: p + 56)
        } else {
            e.caddr.store(v4: p + 24)
            storeVirtual(e, v6: false, p + 28)
            e.daddr.store(v4: p + 32)
        }
        return size
    }

    /// Writes one version 0 entry (IPv4 only) and returns its size.
    public static func writeEntryV0(_ e: SyncEntry, at p: UnsafeMutableRawPointer) -> Int {
        p.storeBytes(of: 0, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: e.proto, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: e.cport.bigEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: e.vport.bigEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: e.dport.bigEndian, toByteOffset: 6, as: UInt16.self)
        e.caddr.store(v4: p + 8)
        e.vaddr.store(v4: p + 12)
        e.daddr.store(v4: p + 16)
        p.storeBytes(of: UInt16(truncatingIfNeeded: e.flags).bigEndian, toByteOffset: 20, as: UInt16.self)
        p.storeBytes(of: e.state.bigEndian, toByteOffset: 22, as: UInt16.self)
        return entrySizeV0
    }

    /// A fwmark template's virtual address is the mark in its first 32-bit word (the kernel's
    /// `{ .ip = htonl(fwmark) }`), also in the IPv6 form.
    static func storeVirtual(_ e: SyncEntry, v6: Bool, _ p: UnsafeMutableRawPointer) {
        if v6 && e.proto == 0 && e.vaddr.isV4 {
            IPAddr.zero6.store(v6: p)
            p.storeBytes(of: e.vaddr.v4.bigEndian, as: UInt32.self)
        } else if v6 {
            e.vaddr.store(v6: p)
        } else {
            e.vaddr.store(v4: p)
        }
    }

    // MARK: reading (ip_vs_process_message, ip_vs_proc_sync_conn)

    /// Why a message or an entry was not applied.
    public enum Rejection: Equatable, Sendable {
        case tooShort, badSize, otherSyncID, truncated, badEntry, unknownOption
    }

    /// Decodes a received datagram, calling `entry` for every valid entry in order, and
    /// `rejected` for what the kernel drops (a whole message, the rest of one, or one entry).
    /// `syncID` 0 accepts every SyncID.
    public static func read(_ d: UnsafeRawBufferPointer, syncID: UInt8,
                            entry: (SyncEntry) -> Void, rejected: (Rejection) -> Void) {
        guard d.count >= headerSizeV0, let base = d.baseAddress else { return rejected(.tooShort) }
        let size = Int(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        guard size == d.count else { return rejected(.badSize) }
        let id = base.load(fromByteOffset: 1, as: UInt8.self)
        guard syncID == 0 || id == syncID else { return rejected(.otherSyncID) }
        let v1 = d.count >= headerSize && base.load(fromByteOffset: 5, as: UInt8.self) == 1
            && base.load(fromByteOffset: 0, as: UInt8.self) == 0
            && base.loadUnaligned(fromByteOffset: 6, as: UInt16.self) == 0
        guard v1 else { return readV0(d, entry: entry, rejected: rejected) }
        let count = Int(base.load(fromByteOffset: 4, as: UInt8.self))
        var at = headerSize
        for _ in 0..<count {
            guard at + entrySizeV4 <= d.count else { return rejected(.truncated) }
            let verSize = UInt16(bigEndian: base.loadUnaligned(fromByteOffset: at + 2, as: UInt16.self))
            let len = Int(verSize & 0x0FFF)
            guard at + len <= d.count else { return rejected(.truncated) }
            guard verSize >> 12 == 0 else { return rejected(.badEntry) }
            switch readEntry(base + at, len) {
            case .entry(let e): entry(e)
            case .skip(let r): rejected(r)
            case .dropRest: return rejected(.badEntry)
            }
            at += (len + 3) & ~3
        }
    }

    enum EntryResult { case entry(SyncEntry), skip(Rejection), dropRest }

    static func readEntry(_ p: UnsafeRawPointer, _ len: Int) -> EntryResult {
        let type = p.load(as: UInt8.self)
        let v6: Bool
        if type & 1 != 0 { v6 = true } else if type == 0 { v6 = false } else { return .dropRest }
        let fixed = entrySize(v6: v6)
        guard fixed <= len else { return .dropRest }
        var e = SyncEntry()
        e.proto = p.load(fromByteOffset: 1, as: UInt8.self)
        e.flags = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        e.state = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        e.cport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
        e.vport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
        e.dport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
        e.fwmark = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        e.timeout = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        if v6 {
            e.caddr = IPAddr.load(v6: p + 24)
            e.vaddr = IPAddr.load(v6: p + 40)
            e.daddr = IPAddr.load(v6: p + 56)
        } else {
            e.caddr = IPAddr.load(v4: p + 24)
            e.vaddr = IPAddr.load(v4: p + 28)
            e.daddr = IPAddr.load(v4: p + 32)
        }
        // Options: type, length, data. Length 0, overruns and duplicates drop the rest of
        // the message; an unknown mandatory option skips this entry.
        var at = fixed
        var seen: UInt8 = 0
        var skip = false
        while at < len {
            guard at + 2 <= len else { return .dropRest }
            let t = p.load(fromByteOffset: at, as: UInt8.self)
            let l = Int(p.load(fromByteOffset: at + 1, as: UInt8.self))
            at += 2
            guard l > 0, at + l <= len else { return .dropRest }
            switch t & ~0x40 {
            case 1:   // SEQ_DATA: exactly two ip_vs_seq
                guard l == 24, seen & 1 == 0 else { return .dropRest }
                seen |= 1
            case 2:   // PE_DATA
                guard l <= 255, seen & 2 == 0 else { return .dropRest }
                seen |= 2
            case 3:   // PE_NAME
                guard l <= 16, seen & 4 == 0 else { return .dropRest }
                seen |= 4
            default:
                if t & 0x40 == 0 { skip = true }
            }
            at += l
        }
        if skip { return .skip(.unknownOption) }
        e.hasPersistenceEngine = seen & 6 != 0
        return .entry(e)
    }

    static func readV0(_ d: UnsafeRawBufferPointer, entry: (SyncEntry) -> Void, rejected: (Rejection) -> Void) {
        let base = d.baseAddress!
        let count = Int(base.load(as: UInt8.self))
        var at = headerSizeV0
        for _ in 0..<count {
            guard at + entrySizeV0 <= d.count else { return rejected(.truncated) }
            let p = base + at
            var e = SyncEntry()
            e.proto = p.load(fromByteOffset: 1, as: UInt8.self)
            e.cport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            e.vport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
            e.dport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            e.caddr = IPAddr.load(v4: p + 8)
            e.vaddr = IPAddr.load(v4: p + 12)
            e.daddr = IPAddr.load(v4: p + 16)
            e.flags = UInt32(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt16.self)))
            e.state = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 22, as: UInt16.self))
            // Sequence data (host order, FTP helper) follows when the flags say so.
            at += e.flags & 0x0600 != 0 ? 48 : entrySizeV0
            guard at <= d.count else { return rejected(.truncated) }
            entry(e)
        }
    }
}
