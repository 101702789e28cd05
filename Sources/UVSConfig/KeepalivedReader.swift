import UVSControl
import UVSPacket
import UVSEngine

/// keepalived.conf's LVS part (check_parser.c, spec §3.2–3.6) into the configuration model,
/// with keepalived's defaults. A keyword uvs does not implement is refused by name.
public enum KeepalivedReader {
    public typealias FileError = ConfigText.FileError

    public static func read(path: String, text: String? = nil, configID: String? = nil) throws(FileError) -> DirectorConfig {
        let stmts = try KeepalivedLexer.statements(KeepalivedLexer.tokens(path: path, text: text, configID: configID))
        var cfg = DirectorConfig()
        var groups: [String: [ConfigStatement]] = [:]
        for st in stmts where st.keyword == "virtual_server_group" {
            guard st.arguments.count == 1, let c = st.children else { throw err(st, "virtual_server_group takes a name and a block") }
            groups[st.arguments[0]] = c
        }
        var tracked: [String: TrackedFile] = [:]
        var vrrpGlobals = KeepalivedVRRPReader.Globals()
        var failoverBlocks: [ConfigStatement] = []
        var syncDaemon: ConfigStatement?
        for st in stmts {
            switch st.keyword {
            case "global_defs": try globalDefs(st, vrrp: &vrrpGlobals, syncDaemon: &syncDaemon)
            case "virtual_server_group": break
            case "virtual_server": cfg.services += try virtualServer(st, groups: groups, tracked: tracked)
            case "track_file", "vrrp_track_file":
                // Known from here on (keepalived looks a FILE_CHECK's track_file up as it parses).
                let f = try trackedFile(st)
                tracked[f.name] = f
                cfg.trackedFiles.append(f)
            case "vrrp_instance", "vrrp_sync_group", "vrrp_script":
                failoverBlocks.append(st)
            case "static_ipaddress", "static_routes", "static_rules":
                throw err(st, "'\(st.keyword)' is not supported by uvs: it does not configure the host's addresses or routes")
            case "lvs_timeouts":
                var t: (UInt32, UInt32, UInt32) = (0, 0, 0)
                var i = 0
                while i + 1 < st.arguments.count {
                    guard let v = UInt32(st.arguments[i + 1]) else { throw err(st, "lvs_timeouts: bad value '\(st.arguments[i + 1])'") }
                    switch st.arguments[i] {
                    case "tcp": t.0 = v
                    case "tcpfin": t.1 = v
                    case "udp": t.2 = v
                    default: throw err(st, "lvs_timeouts: unknown timeout '\(st.arguments[i])'")
                    }
                    i += 2
                }
                if i != st.arguments.count { throw err(st, "lvs_timeouts: a timeout without a value") }
                cfg.timeouts = t
            default:
                throw err(st, "unknown keyword '\(st.keyword)'")
            }
        }
        cfg.failover = try KeepalivedVRRPReader.read(failoverBlocks, globals: vrrpGlobals, syncDaemon: syncDaemon)
        return cfg
    }

    static func err(_ st: ConfigStatement, _ m: String) -> FileError {
        FileError(file: st.file, line: st.line, message: m)
    }

    /// global_defs: what uvs reads is the LVS part; the rest names mail and identity settings
    /// that change no rule and no check, accepted by name.
    static let globalKeywords: Set<String> = [
        "router_id", "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout",
        "smtp_helo_name", "enable_script_security", "script_user", "checker_log_all_failures",
        "rs_init_notifies", "no_checker_emails", "lvs_flush", "lvs_flush_on_stop", "vrrp_priority", "checker_priority",
    ]
    static func globalDefs(_ st: ConfigStatement, vrrp: inout KeepalivedVRRPReader.Globals,
                           syncDaemon: inout ConfigStatement?) throws(FileError) {
        for c in st.children ?? [] {
            if try vrrp.read(c) { continue }
            if c.keyword == "lvs_sync_daemon" {
                if syncDaemon != nil { throw err(c, "lvs_sync_daemon is given twice (keepalived runs one sync configuration)") }
                syncDaemon = c
                continue
            }
            if !globalKeywords.contains(c.keyword) { throw err(c, "global_defs: '\(c.keyword)' is not supported by uvs") }
        }
    }

    // MARK: virtual_server

    /// What a real server and its checkers inherit from the virtual server (§3.4).
    struct Inherited {
        var delayLoop = 60.0, connectTimeout = 5.0
        var retry: Int?, delayBeforeRetry: Double?
        var alpha = false, inhibit = false
        var weight: Int64 = 1
        var method = "-m", tunnel: [String] = []
        var vhost: String?
        var trackedFiles: [String: TrackedFile] = [:]
    }

    /// `track_file NAME { file PATH  weight W [reverse]  init_file [VALUE] [overwrite] }`.
    static func trackedFile(_ st: ConfigStatement) throws(FileError) -> TrackedFile {
        guard st.arguments.count == 1, let body = st.children else { throw err(st, "\(st.keyword) takes a name and a block") }
        var f = TrackedFile(name: st.arguments[0], path: "")
        for c in body {
            switch c.keyword {
            case "file":
                guard c.arguments.count == 1 else { throw err(c, "track_file \(f.name): file needs a path") }
                f.path = c.arguments[0]
            case "weight":
                guard let w = c.arguments.first.flatMap({ Int($0) }), (-254...254).contains(w) else {
                    throw err(c, "track_file \(f.name): weight must be in -254…254")
                }
                f.weight = w
                if c.arguments.count > 1 {
                    guard c.arguments[1] == "reverse", c.arguments.count == 2 else { throw err(c, "track_file \(f.name): unknown weight option '\(c.arguments[1])'") }
                    f.reverse = true
                }
            case "init_file":
                f.initValue = 0
                for a in c.arguments {
                    if a == "overwrite" { f.overwrite = true }
                    else if let v = Int(a), (-254...254).contains(v) { f.initValue = v }
                    else { throw err(c, "track_file \(f.name): init_file value '\(a)' is not in -254…254") }
                }
            default: throw err(c, "track_file: unknown keyword '\(c.keyword)'")
            }
        }
        guard !f.path.isEmpty else { throw err(st, "track_file \(f.name) has no file") }
        return f
    }

    /// A script keyword's argv: keepalived splits the (quote-stripped) words on blanks again;
    /// a trailing `USER [GROUP]` is not taken apart (uvs runs scripts as itself).
    static func script(_ st: ConfigStatement) -> [String] {
        st.arguments.flatMap { $0.split(separator: " ").map(String.init) }
    }

    static func bool(_ st: ConfigStatement) throws(FileError) -> Bool {
        guard let v = st.arguments.first else { return true }
        switch v.lowercased() {
        case "on", "true", "yes": return true
        case "off", "false", "no": return false
        default: throw err(st, "'\(st.keyword)': '\(v)' is not a boolean")
        }
    }

    static func timer(_ st: ConfigStatement) throws(FileError) -> Double {
        guard st.arguments.count == 1, let v = Double(st.arguments[0]), v >= 0 else {
            throw err(st, "'\(st.keyword)' needs a time in seconds")
        }
        return v
    }

    static func int(_ st: ConfigStatement, _ range: ClosedRange<Int64>) throws(FileError) -> Int64 {
        guard st.arguments.count == 1, let v = Int64(st.arguments[0]), range.contains(v) else {
            throw err(st, "'\(st.keyword)' needs a number in \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    /// `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]` (case-sensitive).
    static func method(_ st: ConfigStatement) throws(FileError) -> (String, [String]) {
        let a = st.arguments
        switch a.first {
        case "NAT" where a.count == 1: return ("-m", [])
        case "DR" where a.count == 1: return ("-g", [])
        case "TUN":
            var type = "ipip", port: String?, csum: String?
            var i = 1
            while i < a.count {
                switch a[i] {
                case "type" where i + 1 < a.count: type = a[i + 1]; i += 2
                case "port" where i + 1 < a.count: port = a[i + 1]; i += 2
                case "nocsum", "csum", "remcsum": csum = a[i]; i += 1
                default: throw err(st, "lvs_method: unknown tunnel option '\(a[i])'")
                }
            }
            switch type {
            case "ipip":
                if port != nil || csum != nil { throw err(st, "lvs_method TUN type ipip takes no port or checksum option") }
                return ("-i", [])
            case "gue":
                guard let port else { throw err(st, "lvs_method TUN type gue needs a port") }
                return ("-i", ["--tun-type", "gue", "--tun-port", port] + (csum.map { ["--tun-\($0)"] } ?? []))
            case "gre":
                if port != nil { throw err(st, "lvs_method TUN type gre takes no port") }
                if csum == "remcsum" { throw err(st, "lvs_method TUN type gre: remcsum is not allowed") }
                return ("-i", ["--tun-type", "gre"] + (csum.map { ["--tun-\($0)"] } ?? []))
            default: throw err(st, "lvs_method: unknown tunnel type '\(type)'")
            }
        default:
            throw err(st, "lvs_method: '\(a.joined(separator: " "))' is not NAT, DR or TUN")
        }
    }

    static let schedulers: Set<String> = ["rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos"]

    /// The selectors of a `virtual_server` line: one, or one per group entry.
    static func selectors(_ st: ConfigStatement, groups: [String: [ConfigStatement]]) throws(FileError)
        -> [(addr: IPAddr?, port: UInt16?, fwmark: UInt32?, v6: Bool)] {
        let a = st.arguments
        if a.first == "fwmark" {
            guard a.count == 2, let m = UInt32(a[1]), m > 0 else { throw err(st, "virtual_server fwmark needs a mark") }
            return [(nil, nil, m, false)]
        }
        if a.first == "group" {
            guard a.count == 2, let entries = groups[a[1]] else {
                throw err(st, "virtual_server group: no virtual_server_group '\(a.dropFirst().joined())'")
            }
            var out: [(IPAddr?, UInt16?, UInt32?, Bool)] = []
            for e in entries {
                if e.keyword == "fwmark" {
                    guard let m = e.arguments.first.flatMap({ UInt32($0) }), m > 0 else { throw err(e, "fwmark needs a mark") }
                    out.append((nil, nil, m, e.arguments.dropFirst().first == "inet6"))
                    continue
                }
                let port = try e.arguments.first.map { (p: String) throws(FileError) -> UInt16 in
                    guard let v = UInt16(p) else { throw err(e, "bad port '\(p)'") }
                    return v
                }
                for addr in try groupAddresses(e) { out.append((addr, port == 0 ? nil : port, nil, addr.isV4 == false)) }
            }
            return out
        }
        guard (1...2).contains(a.count), let addr = IPAddr(a[0]) else {
            throw err(st, "virtual_server needs IP [PORT], fwmark N or group NAME")
        }
        var port: UInt16?
        if a.count == 2 {
            guard let p = UInt16(a[1]) else { throw err(st, "virtual_server: bad port '\(a[1])'") }
            port = p == 0 ? nil : p
        }
        return [(addr, port, nil, addr.isV4 == false)]
    }

    /// `IP`, `IP-LAST` (last octet, inclusive) of a virtual_server_group.
    static func groupAddresses(_ e: ConfigStatement) throws(FileError) -> [IPAddr] {
        let k = e.keyword
        if let single = IPAddr(k) { return [single] }
        let parts = k.split(separator: "-", maxSplits: 1).map(String.init)
        guard parts.count == 2, let first = IPAddr(parts[0]), first.isV4, let last = UInt8(parts[1]) else {
            throw err(e, "virtual_server_group: bad address '\(k)'")
        }
        let octets = parts[0].split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 4, octets[3] < last else { throw err(e, "virtual_server_group: range '\(k)' must go upwards") }
        return (octets[3]...last).compactMap { IPAddr("\(octets[0]).\(octets[1]).\(octets[2]).\($0)") }
    }

    static func endpoint(_ a: IPAddr, _ port: UInt16?) -> String {
        let s = "\(a)"
        guard let port else { return a.isV4 == false ? "[\(s)]" : s }
        return a.isV4 == false ? "[\(s)]:\(port)" : "\(s):\(port)"
    }

    static func virtualServer(_ st: ConfigStatement, groups: [String: [ConfigStatement]],
                              tracked: [String: TrackedFile] = [:]) throws(FileError) -> [ConfiguredService] {
        guard let body = st.children else { throw err(st, "virtual_server needs a block") }
        var inh = Inherited()
        inh.trackedFiles = tracked
        var proto: String?
        var sched = "wlc", flags: [String] = []
        var persistence: UInt32?, granularity: String?
        var ops = false
        var quorum: Int64 = 1, hysteresis: Int64 = 0
        var reals: [ConfigStatement] = []
        var sorry: ConfigStatement?
        var sorryInhibit = false, sorryMethod: String?, sorryTunnel: [String] = []
        var quorumUp: [String]?, quorumDown: [String]?
        for c in body {
            switch c.keyword {
            case "lvs_sched", "lb_algo":
                guard c.arguments.count == 1, schedulers.contains(c.arguments[0]) else {
                    throw err(c, "\(c.keyword): unknown scheduler '\(c.arguments.joined(separator: " "))'")
                }
                sched = c.arguments[0]
            case "lvs_method", "lb_kind": (inh.method, inh.tunnel) = try method(c)
            case "protocol":
                switch c.arguments.first?.uppercased() {
                case "TCP": proto = "-t"
                case "UDP": proto = "-u"
                case "SCTP": proto = "--sctp-service"
                default: throw err(c, "protocol must be TCP, UDP or SCTP")
                }
            case "persistence_timeout":
                persistence = c.arguments.isEmpty ? 360 : UInt32(try int(c, 0...2_678_400))
            case "persistence_granularity":
                guard c.arguments.count == 1 else { throw err(c, "persistence_granularity needs a mask") }
                granularity = c.arguments[0]
            case "ops": ops = true
            case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
                guard sched == String(c.keyword.prefix(2)) else {
                    throw err(c, "'\(c.keyword)' needs lvs_sched \(c.keyword.prefix(2)) before it")
                }
                flags.append(c.keyword)
            case "delay_loop": inh.delayLoop = try timer(c)
            case "connect_timeout": inh.connectTimeout = try timer(c)
            case "retry": inh.retry = Int(try int(c, 1...Int64(Int32.max)))
            case "delay_before_retry": inh.delayBeforeRetry = try timer(c)
            case "alpha": inh.alpha = try bool(c)
            case "inhibit_on_failure": inh.inhibit = try bool(c)
            case "omega", "ha_suspend", "smtp_alert", "warmup", "snmp_name", "ip_family": break
            case "virtualhost": inh.vhost = c.arguments.first
            case "quorum": quorum = try int(c, 1...Int64(UInt32.max))
            case "hysteresis": hysteresis = try int(c, 0...Int64(UInt32.max))
            case "quorum_up": quorumUp = script(c)
            case "quorum_down": quorumDown = script(c)
            case "weight": inh.weight = try int(c, 1...Int64(Int32.max))
            case "sorry_server": sorry = c
            case "sorry_server_inhibit", "sorry_server_lvs_method":
                guard sorry != nil else { throw err(c, "'\(c.keyword)' must follow sorry_server") }
                if c.keyword == "sorry_server_inhibit" { sorryInhibit = try bool(c) }
                else { (sorryMethod, sorryTunnel) = try method(c) }
            case "real_server": reals.append(c)
            default: throw err(c, "virtual_server: unknown keyword '\(c.keyword)'")
            }
        }
        if persistence == nil, granularity != nil { persistence = 360 }
        let sels = try selectors(st, groups: groups)
        var out: [ConfiguredService] = []
        for sel in sels {
            let isFwmark = sel.fwmark != nil
            // Missing protocol: keepalived logs an error and takes UDP (since 1.3.6).
            let p = proto ?? "-u"
            var persist = persistence
            if !isFwmark && sel.port == nil && persist == nil { persist = 360 }
            let selector: ConfiguredService.Selector = isFwmark
                ? .fwmark(sel.fwmark!, ipv6: sel.v6)
                : .address(proto: p, endpoint: endpoint(sel.addr!, sel.port))
            var svc = ConfiguredService(source: ConfigSource(file: st.file, line: st.line), selector: selector)
            svc.scheduler = sched
            svc.schedulerFlags = flags
            svc.persistence = persist
            if persist != nil, let g = granularity {
                svc.netmask = g
            }
            svc.onePacket = ops && (p == "-u") && !isFwmark
            svc.quorum = quorum
            svc.hysteresis = hysteresis
            svc.quorumUp = quorumUp
            svc.quorumDown = quorumDown
            svc.sorryInhibit = sorryInhibit
            var seen = Set<String>()
            for r in reals {
                // Duplicate real servers are dropped.
                let rs = try realServer(r, inh, vsPort: sel.port, fwmark: isFwmark)
                if seen.insert(rs.endpoint).inserted { svc.realServers.append(rs) }
            }
            if let s = sorry {
                guard let a = s.arguments.first.flatMap({ IPAddr($0) }) else { throw err(s, "sorry_server needs IP [PORT]") }
                let port = s.arguments.dropFirst().first.flatMap { UInt16($0) } ?? sel.port
                svc.sorryServer = ConfiguredRealServer(source: ConfigSource(file: s.file, line: s.line),
                                                       endpoint: endpoint(a, port), method: sorryMethod ?? inh.method,
                                                       tunnel: sorryMethod == nil ? inh.tunnel : sorryTunnel)
            }
            // A virtual server without a real server is dropped, as keepalived drops it.
            if !svc.realServers.isEmpty { out.append(svc) }
        }
        return out
    }

    static func realServer(_ st: ConfigStatement, _ vs: Inherited, vsPort: UInt16?, fwmark: Bool) throws(FileError) -> ConfiguredRealServer {
        let a = st.arguments
        guard (1...2).contains(a.count), let addr = IPAddr(a[0]) else { throw err(st, "real_server needs IP [PORT]") }
        var port: UInt16? = nil
        if a.count == 2 {
            guard let p = UInt16(a[1]) else { throw err(st, "real_server: bad port '\(a[1])'") }
            port = p == 0 ? nil : p
        }
        var inh = vs
        var rs = ConfiguredRealServer(source: ConfigSource(file: st.file, line: st.line), endpoint: "")
        var checkers: [ConfigStatement] = []
        for c in st.children ?? [] {
            switch c.keyword {
            case "weight": inh.weight = try int(c, 0...Int64(Int32.max))
            case "lvs_method", "lb_kind": (inh.method, inh.tunnel) = try method(c)
            case "uthreshold": rs.upperThreshold = UInt32(try int(c, 0...Int64(Int32.max)))
            case "lthreshold": rs.lowerThreshold = UInt32(try int(c, 0...Int64(Int32.max)))
            case "inhibit_on_failure": inh.inhibit = try bool(c)
            case "alpha": inh.alpha = try bool(c)
            case "retry": inh.retry = Int(try int(c, 1...Int64(Int32.max)))
            case "delay_before_retry": inh.delayBeforeRetry = try timer(c)
            case "connect_timeout": inh.connectTimeout = try timer(c)
            case "delay_loop": inh.delayLoop = try timer(c)
            case "virtualhost": inh.vhost = c.arguments.first
            case "notify_up": rs.notifyUp = script(c)
            case "notify_down": rs.notifyDown = script(c)
            case "smtp_alert", "warmup", "snmp_name": break
            case "TCP_CHECK", "HTTP_GET", "SSL_GET", "SMTP_CHECK", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK":
                checkers.append(c)
            default: throw err(c, "real_server: unknown keyword '\(c.keyword)'")
            }
        }
        // NAT without a port takes the service's; DR/TUN always use the service's; fwmark: none.
        var rport = port
        if inh.method != "-m" || rport == nil { rport = vsPort }
        if fwmark && inh.method != "-m" { rport = nil }
        rs.endpoint = endpoint(addr, rport)
        rs.method = inh.method
        rs.tunnel = inh.tunnel
        rs.weight = inh.weight
        rs.inhibitOnFailure = inh.inhibit
        rs.alpha = inh.alpha
        for c in checkers { rs.checks.append(try KeepalivedCheckReader.check(c, inherited: inh)) }
        return rs
    }
}
