import UVSPacket

/// A connection-sync daemon as ipvsadm starts it (`--start-daemon`, spec §7.1): requested
/// values, then the kernel's defaults filled in when it starts.
public struct SyncDaemonConfig: Equatable, Sendable {
    public enum Role: String, Sendable { case master, backup }
    public var role: Role
    public var interface = "eth0"
    public var syncID: UInt8 = 0
    /// 0 = the default for the role and group family.
    public var maxlen = 0
    /// nil = 224.0.0.81.
    public var group: IPAddr? = nil
    public var port: UInt16 = 0
    public var ttl: UInt8 = 0

    public init(role: Role) { self.role = role }

    public static let defaultGroup = IPAddr(v4: 0xE000_0051)
    public static let defaultPort: UInt16 = 8848

    /// The values in effect: the kernel's defaults (224.0.0.81, 8848, TTL 1) where unset.
    public var multicastGroup: IPAddr { group ?? Self.defaultGroup }
    public var multicastPort: UInt16 { port != 0 ? port : Self.defaultPort }
    public var multicastTTL: UInt8 { ttl != 0 ? ttl : 1 }

    /// `ipvsadm -L --daemon`'s line (spec §6.8).
    public var listing: String {
        var s = "\(role.rawValue) sync daemon (mcast=\(interface), syncid=\(syncID)"
        if maxlen != 0 { s += ", maxlen=\(maxlen)" }
        if let g = group { s += ", group=\(g)" }
        if port != 0 { s += ", port=\(port)" }
        if ttl != 0 { s += ", ttl=\(ttl)" }
        return s + ")\n"
    }
}

/// What starting a daemon needs to know of its interface.
public struct SyncLink: Equatable, Sendable {
    public var mtu: Int
    public var hasIPv4: Bool
    public var hasIPv6: Bool
    public init(mtu: Int, hasIPv4: Bool, hasIPv6: Bool) { self.mtu = mtu; self.hasIPv4 = hasIPv4; self.hasIPv6 = hasIPv6 }
}

extension Engine {
    /// start_sync_thread's checks and defaults; then this engine's side of the daemon.
    /// `link` is the interface, nil when there is no such device.
    public mutating func startSyncDaemon(_ request: SyncDaemonConfig, link: SyncLink?) throws(IPVSError) {
        guard !syncDaemons.contains(where: { $0.role == request.role }) else { throw .daemonRunning }
        var c = request
        c.group = c.multicastGroup
        c.port = c.multicastPort
        c.ttl = c.multicastTTL
        guard let link else { throw .noSuchDevice }
        let v6 = !c.multicastGroup.isV4
        let headers = v6 ? 48 : 28
        let backup = c.role == .backup
        let mtu = backup ? min(max(link.mtu, 1500), 65535) : 1500
        if c.maxlen != 0 {
            c.maxlen = min(max(c.maxlen, backup ? 1024 : 1), 65535 - headers)
        } else {
            c.maxlen = mtu - headers
        }
        // The master sends from an address of the group's family on the interface.
        if !backup && !(v6 ? link.hasIPv6 : link.hasIPv4) { throw .addressNotAvailable }
        syncDaemons.append(c)
        syncDaemons.sort { $0.role == .master && $1.role == .backup }
        adoptSyncDaemons(syncDaemons)
    }

    /// stop_sync_thread: by role (the SyncID is not compared).
    public mutating func stopSyncDaemon(_ role: SyncDaemonConfig.Role) throws(IPVSError) {
        guard let i = syncDaemons.firstIndex(where: { $0.role == role }) else { throw .noDaemon }
        syncDaemons.remove(at: i)
        adoptSyncDaemons(syncDaemons)
    }

    /// Takes the daemons started elsewhere (a director's worker engines follow its
    /// configuration), starting and stopping this engine's sides to match.
    public mutating func adoptSyncDaemons(_ daemons: [SyncDaemonConfig]) {
        syncDaemons = daemons
        let master = daemons.first { $0.role == .master }
        if let m = master {
            if syncMaster == nil || syncMaster!.syncID != m.syncID || syncMaster!.maxlen != m.maxlen {
                startSyncMaster(syncID: m.syncID, maxlen: m.maxlen)
            }
        } else if syncMaster != nil {
            stopSyncMaster()
        }
        syncBackupID = daemons.first { $0.role == .backup }?.syncID
    }
}
