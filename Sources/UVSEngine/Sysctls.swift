/// The engine's tunables, named and defaulted as /proc/sys/net/ipv4/vs/ (spec §8).
public struct Sysctls: Sendable, Equatable {
    public var expireNodestConn = false
    public var expireQuiescentTemplate = false
    public var connReuseMode = 1
    public var sloppyTCP = false
    public var scheduleICMP = false
    public var secureTCP = 0
    public var pmtuDisc = true
    public var natICMPSend = false
    public var cacheBypass = false
    public var snatReroute = true
    public var lblcExpiration = 86400
    public var lblcrExpiration = 86400
    public var ignoreTunneled = false
    /// Maglev table size index (the kernel's CONFIG_IP_VS_MH_TAB_INDEX, 8...17: 251 ... 131071
    /// slots; 12 = 4093). A uvs setting: the kernel fixes it at build time.
    public var mhTableIndex = 12
    /// Sync daemon (spec §7.3): message format sent, and when a connection is sent.
    public var syncVersion = 1
    public var syncThreshold = 3
    public var syncPeriod = 50
    public var syncPersistMode = false

    public init() {}

    /// The keys `--sysctl` accepts, with the kernel's names (with or without the
    /// `net.ipv4.vs.` prefix).
    public static let keys = [
        "expire_nodest_conn", "expire_quiescent_template", "conn_reuse_mode", "sloppy_tcp",
        "schedule_icmp", "secure_tcp", "pmtu_disc", "nat_icmp_send", "cache_bypass",
        "snat_reroute", "lblc_expiration", "lblcr_expiration", "ignore_tunneled", "mh_tab_index",
        "sync_version", "sync_threshold", "sync_persist_mode",
    ]

    public enum SetError: Error, Equatable, CustomStringConvertible {
        case unknownKey(String), badValue(String, String)
        public var description: String {
            switch self {
            case .unknownKey(let k): "unknown sysctl '\(k)' (known: \(Sysctls.keys.joined(separator: ", ")))"
            case .badValue(let k, let v): "invalid value '\(v)' for sysctl '\(k)'"
            }
        }
    }

    /// Sets `KEY=VAL` as the kernel would accept it.
    public mutating func set(_ assignment: String) throws(SetError) {
        guard let eq = assignment.firstIndex(of: "=") else { throw .badValue(assignment, "") }
        var key = String(assignment[..<eq])
        let value = String(assignment[assignment.index(after: eq)...])
        for prefix in ["net.ipv4.vs.", "net/ipv4/vs/"] where key.hasPrefix(prefix) {
            key.removeFirst(prefix.count)
        }
        guard Sysctls.keys.contains(key) else { throw .unknownKey(key) }
        if key == "sync_threshold" {
            // Two numbers, "threshold period": threshold < period unless period is 0.
            let parts = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { Int($0) }
            guard parts.count == 2, let t = parts[0], let p = parts[1], t >= 0, p >= 0, p == 0 || t < p else {
                throw .badValue(key, value)
            }
            syncThreshold = t; syncPeriod = p
            return
        }
        guard let n = Int(value), n >= 0 else { throw .badValue(key, value) }
        func flag() throws(SetError) -> Bool {
            guard n <= 1 else { throw .badValue(key, value) }
            return n == 1
        }
        switch key {
        case "expire_nodest_conn": expireNodestConn = try flag()
        case "expire_quiescent_template": expireQuiescentTemplate = try flag()
        case "conn_reuse_mode": connReuseMode = n
        case "sloppy_tcp": sloppyTCP = try flag()
        case "schedule_icmp": scheduleICMP = try flag()
        case "secure_tcp":
            guard n <= 3 else { throw .badValue(key, value) }
            secureTCP = n
        case "pmtu_disc": pmtuDisc = try flag()
        case "nat_icmp_send": natICMPSend = try flag()
        case "cache_bypass": cacheBypass = try flag()
        case "snat_reroute": snatReroute = try flag()
        case "lblc_expiration": lblcExpiration = n
        case "lblcr_expiration": lblcrExpiration = n
        case "ignore_tunneled": ignoreTunneled = try flag()
        case "mh_tab_index":
            guard n >= 8, n <= 17 else { throw .badValue(key, value) }
            mhTableIndex = n
        case "sync_version": syncVersion = try flag() ? 1 : 0
        case "sync_persist_mode": syncPersistMode = try flag()
        default: throw .unknownKey(key)
        }
    }

    /// The current value of `key` (with or without the `net.ipv4.vs.` prefix) as sysctl
    /// prints it, nil if unknown.
    public func value(of key: String) -> String? {
        var key = key
        for prefix in ["net.ipv4.vs.", "net/ipv4/vs/"] where key.hasPrefix(prefix) { key.removeFirst(prefix.count) }
        if key == "sync_threshold" { return "\(syncThreshold)\t\(syncPeriod)" }
        return number(key).map(String.init)
    }

    func number(_ key: String) -> Int? {
        switch key {
        case "expire_nodest_conn": return expireNodestConn ? 1 : 0
        case "expire_quiescent_template": return expireQuiescentTemplate ? 1 : 0
        case "conn_reuse_mode": return connReuseMode
        case "sloppy_tcp": return sloppyTCP ? 1 : 0
        case "schedule_icmp": return scheduleICMP ? 1 : 0
        case "secure_tcp": return secureTCP
        case "pmtu_disc": return pmtuDisc ? 1 : 0
        case "nat_icmp_send": return natICMPSend ? 1 : 0
        case "cache_bypass": return cacheBypass ? 1 : 0
        case "snat_reroute": return snatReroute ? 1 : 0
        case "lblc_expiration": return lblcExpiration
        case "lblcr_expiration": return lblcrExpiration
        case "ignore_tunneled": return ignoreTunneled ? 1 : 0
        case "mh_tab_index": return mhTableIndex
        case "sync_version": return syncVersion
        case "sync_persist_mode": return syncPersistMode ? 1 : 0
        default: return nil
        }
    }
}
