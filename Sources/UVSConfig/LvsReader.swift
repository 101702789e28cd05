#if canImport(Glibc)
import Glibc
#endif
import UVSControl
import UVSPacket

/// piranha's lvs.cf (lvsconfig.c, spec §1.2–1.6) into the configuration model: what lvsd
/// creates (`-A` per active virtual) and what each nanny adds (`-a` per active server).
public enum LvsReader {
    public typealias FileError = ConfigText.FileError

    /// One `KEY = VALUE…` line or a block opener, tokenised as lvsconfig.c does.
    struct Line { var words: [String]; var number: Int }

    public static func read(path: String, text: String) throws(FileError) -> DirectorConfig {
        if text.isEmpty { throw FileError(file: path, line: 1, message: "Empty configuration") }
        let lines = try tokenise(text, file: path)
        var cfg = DirectorConfig()
        cfg.format = .lvs
        var g = Globals()
        var i = 0
        while i < lines.count {
            let l = lines[i]
            if l.words.count == 3, l.words[2] == "{", l.words[0] == "virtual" || l.words[0] == "failover" {
                let (block, next) = try readBlock(lines, from: i + 1, file: path, kind: l.words[0])
                if l.words[0] == "virtual" { g.virtuals.append((l, block)) }   // fos blocks: parsed, not run
                i = next
                continue
            }
            try g.set(l, file: path)
            i += 1
        }
        guard g.primary != nil else { throw FileError(file: path, line: 1, message: "primary is not set") }
        cfg.timeouts = (g.tcpTimeout, g.tcpfinTimeout, g.udpTimeout)
        var pulse = PulseConfig(source: g.primarySource ?? ConfigSource(file: path, line: 1), primary: IPAddr(g.primary!)!)
        pulse.backup = g.backup; pulse.primaryPrivate = g.primaryPrivate; pulse.backupPrivate = g.backupPrivate
        pulse.backupActive = g.backupActive; pulse.fos = g.fos; pulse.port = g.heartbeatPort
        pulse.keepalive = Double(g.keepalive); pulse.deadtime = Double(g.deadtime)
        pulse.monitorLinks = g.monitorLinks
        pulse.activeCommand = g.activeCommand; pulse.inactiveCommand = g.inactiveCommand
        if g.syncdaemon {
            cfg.failover.syncDaemon = SyncDaemonConfig(source: g.syncSource ?? ConfigSource(file: path, line: 1),
                                                       interface: g.syncIface, follow: .pulse)
            cfg.failover.syncDaemon!.syncID = g.syncID & 0xff
        }
        for (opener, body) in g.virtuals {
            var where_: FailoverAddress?
            if let s = try virtual(opener, body, method: g.method, rsh: g.rshCommand, file: path, address: &where_) {
                cfg.services.append(s)
                // pulse brings up each distinct VIP device (and the NAT router's) on activation.
                if let a = where_, !pulse.addresses.contains(where: { $0.address == a.address }) { pulse.addresses.append(a) }
            }
        }
        if let r = g.natRouter, !pulse.addresses.contains(where: { $0.address == r.address }) { pulse.addresses.append(r) }
        cfg.failover.pulse = pulse
        return cfg
    }

    // MARK: lexical rules

    /// Lines end at `\n` or `\r`; blank and `#` lines are skipped; tokens split on blanks; a
    /// token opening with `"` or `'` runs to the same quote and keeps both quotes.
    static func tokenise(_ text: String, file: String) throws(FileError) -> [Line] {
        var out: [Line] = []
        var n = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            n += 1
            // A CR ends a line too (lvsconfig.c): what follows it on the same LF line is a line of its own.
            for part in raw.split(separator: "\r", omittingEmptySubsequences: false) {
                let body = part.drop(while: { $0 == " " || $0 == "\t" })
                if body.isEmpty || body.hasPrefix("#") { continue }
                out.append(Line(words: try words(String(body), file: file, line: n), number: n))
            }
        }
        return out
    }

    static func words(_ s: String, file: String, line: Int) throws(FileError) -> [String] {
        var out: [String] = []
        let chars = Array(s)
        var i = 0
        while i < chars.count {
            if chars[i] == " " || chars[i] == "\t" { i += 1; continue }
            if chars[i] == "\"" || chars[i] == "'" {
                let q = chars[i]
                guard let end = chars[(i + 1)...].firstIndex(of: q) else {
                    throw FileError(file: file, line: line, message: "quotation mismatch")
                }
                out.append(String(chars[i...end]))
                i = end + 1
                continue
            }
            var j = i
            while j < chars.count, chars[j] != " ", chars[j] != "\t" { j += 1 }
            out.append(String(chars[i..<j]))
            i = j
        }
        return out
    }

    /// The lines of a block up to its lone `}`; nested `server NAME {` blocks are kept as
    /// their opener followed by their lines and a `}`. A missing final `}` goes undetected,
    /// as in lvsconfig.c.
    static func readBlock(_ lines: [Line], from start: Int, file: String, kind: String) throws(FileError) -> ([Line], Int) {
        var out: [Line] = []
        var depth = 0
        var i = start
        while i < lines.count {
            let l = lines[i]
            if l.words == ["}"] {
                if depth == 0 { return (out, i + 1) }
                depth -= 1
            } else if l.words.last == "{" {
                guard kind == "virtual", depth == 0, l.words.count == 3, l.words[0] == "server" else {
                    throw FileError(file: file, line: l.number, message: "unexpected block '\(l.words.joined(separator: " "))'")
                }
                depth += 1
            }
            out.append(l)
            i += 1
        }
        return (out, i)
    }

    // MARK: values

    static func value(_ l: Line, file: String, count: Int = 1) throws(FileError) -> [String] {
        guard l.words.count >= 2, l.words[1] == "=" else {
            throw FileError(file: file, line: l.number, message: "unknown command '\(l.words[0])'")
        }
        if l.words.count < 2 + count { throw FileError(file: file, line: l.number, message: "missing arguments") }
        if l.words.count > 2 + count { throw FileError(file: file, line: l.number, message: "unexpected arguments") }
        return Array(l.words[2...])
    }

    /// strtol base 0: `0x1f` hex, `010` octal.
    static func integer(_ l: Line, file: String) throws(FileError) -> Int {
        let v = try value(l, file: file)[0]
        var neg = false
        var s = Substring(v)
        if s.hasPrefix("-") { neg = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        let parsed: Int?
        if s.hasPrefix("0x") || s.hasPrefix("0X") { parsed = Int(s.dropFirst(2), radix: 16) }
        else if s.count > 1, s.hasPrefix("0") { parsed = Int(s.dropFirst(), radix: 8) }
        else { parsed = Int(s) }
        guard let p = parsed else { throw FileError(file: file, line: l.number, message: "'\(v)': integer expected") }
        return neg ? -p : p
    }

    static func boolean(_ l: Line, file: String) throws(FileError) -> Bool {
        let v = try integer(l, file: file)
        guard v == 0 || v == 1 else { throw FileError(file: file, line: l.number, message: "boolean expected") }
        return v == 1
    }

    /// inet_aton (so `10.1` is 10.0.0.1), else a host name resolved to IPv4.
    static func host(_ s: String, _ l: Line, file: String, resolve: Bool = true) throws(FileError) -> String {
        var a = in_addr()
        if inet_aton(s, &a) != 0 { return dotted(a) }
        if resolve {
            var hints = addrinfo()
            hints.ai_family = AF_INET
            var res: UnsafeMutablePointer<addrinfo>?
            if getaddrinfo(s, nil, &hints, &res) == 0, let r = res {
                defer { freeaddrinfo(res) }
                let sin = r.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                return dotted(sin.sin_addr)
            }
        }
        throw FileError(file: file, line: l.number, message: "'\(s)': not an IPv4 address\(resolve ? " or a host name" : "")")
    }

    static func dotted(_ a: in_addr) -> String {
        let v = UInt32(bigEndian: a.s_addr)
        return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
    }

    /// A number or an /etc/services tcp name (`port = http`).
    static func port(_ l: Line, file: String) throws(FileError) -> UInt16 {
        let v = try value(l, file: file)[0]
        if let p = try? integer(l, file: file), (0...65535).contains(p) { return UInt16(p) }
        if let se = getservbyname(v, "tcp") { return UInt16(bigEndian: UInt16(truncatingIfNeeded: se.pointee.s_port)) }
        throw FileError(file: file, line: l.number, message: "'\(v)': not a port")
    }

    /// lvsd strips one leading and one trailing double quote; single quotes stay.
    /// `eth0:1` → `eth0`: pulse's ifconfig alias names the device the address goes on.
    static func device(_ s: String) -> String { String(s.split(separator: ":", maxSplits: 1).first ?? Substring(s)) }

    static func unquote(_ s: String) -> String {
        var v = Substring(s)
        if v.hasPrefix("\"") { v = v.dropFirst() }
        if v.hasSuffix("\"") { v = v.dropLast() }
        return String(v)
    }

    // MARK: global part

    struct Globals {
        var primary: String?
        var method = "-m"
        var tcpTimeout: UInt32 = 0, tcpfinTimeout: UInt32 = 0, udpTimeout: UInt32 = 0
        var syncdaemon = false, syncIface = "eth0", syncID = 0, syncSource: ConfigSource?
        var rshCommand = "rsh"
        var virtuals: [(Line, [Line])] = []
        /// pulse's settings (spec failover §3.2).
        var primarySource: ConfigSource?
        var backup: IPAddr?, primaryPrivate: IPAddr?, backupPrivate: IPAddr?
        var backupActive = false, fos = false, monitorLinks = false
        var heartbeatPort: UInt16 = 539, keepalive = 2, deadtime = 5
        var activeCommand: [String]?, inactiveCommand: [String]?
        var natRouter: FailoverAddress?

        static let pulse: Set<String> = [
            "serial_no", "primary_private", "backup_private", "primary_shared", "backup_shared",
            "reservation_conflict_action", "backup_active", "heartbeat", "heartbeat_port", "keepalive", "deadtime",
            "nat_nmask", "debug_level", "monitor_links", "hard_shutdown", "service", "active_cmd", "inactive_cmd",
            "rsh_command", "ipvsadm", "sync", "backup",
        ]

        mutating func set(_ l: Line, file: String) throws(FileError) {
            let key = l.words[0]
            switch key {
            case "primary":
                let v = try LvsReader.host(try value(l, file: file)[0], l, file: file)
                guard v != "0.0.0.0" else { throw FileError(file: file, line: l.number, message: "primary must not be 0.0.0.0") }
                primary = v
                primarySource = ConfigSource(file: file, line: l.number)
            case "network":
                switch try value(l, file: file)[0] {
                case "direct": method = "-g"
                case "nat": method = "-m"
                case "tunnel": method = "-i"
                case let w: throw FileError(file: file, line: l.number, message: "network '\(w)': expected direct, nat or tunnel")
                }
            case "nat_router":
                let v = try value(l, file: file, count: 2)
                natRouter = FailoverAddress(address: IPAddr(try LvsReader.host(v[0], l, file: file, resolve: false))!, prefix: 32,
                                            device: LvsReader.device(v[1]))
            case "syncdaemon":
                syncdaemon = try boolean(l, file: file)
                syncSource = ConfigSource(file: file, line: l.number)
            case "syncd_iface": syncIface = try value(l, file: file)[0]
            case "syncd_id": syncID = try integer(l, file: file)
            case "rsh_command": rshCommand = try value(l, file: file)[0]
            case "tcp_timeout", "tcpfin_timeout", "udp_timeout":
                let v = try integer(l, file: file)
                guard v >= 0, v <= Int(Int32.max) else { throw FileError(file: file, line: l.number, message: "\(key): bad value") }
                if key == "tcp_timeout" { tcpTimeout = UInt32(v) } else if key == "tcpfin_timeout" { tcpfinTimeout = UInt32(v) } else { udpTimeout = UInt32(v) }
            case "backup_active": backupActive = try boolean(l, file: file)
            case "monitor_links": monitorLinks = try boolean(l, file: file)
            case "heartbeat", "hard_shutdown", "sync":
                _ = try boolean(l, file: file)   // parsed; pulse itself never reads them
            case "keepalive", "deadtime":
                let v = try integer(l, file: file)
                guard v > 0 else { throw FileError(file: file, line: l.number, message: "\(key) must be a positive number of seconds") }
                if key == "keepalive" { keepalive = v } else { deadtime = v }
            case "serial_no": _ = try integer(l, file: file)
            case "heartbeat_port": heartbeatPort = try LvsReader.port(l, file: file)
            case "backup", "primary_private", "backup_private":
                let a = IPAddr(try LvsReader.host(try value(l, file: file)[0], l, file: file))!
                if key == "backup" { backup = a } else if key == "primary_private" { primaryPrivate = a } else { backupPrivate = a }
            case "service":
                let v = try value(l, file: file)[0]
                guard v == "lvs" || v == "fos" else { throw FileError(file: file, line: l.number, message: "service must be lvs or fos") }
                fos = v == "fos"
            case "reservation_conflict_action":
                let v = try value(l, file: file)[0]
                guard v == "nothing" || v == "preempt" else { throw FileError(file: file, line: l.number, message: "reservation_conflict_action must be nothing or preempt") }
            case "active_cmd", "inactive_cmd":
                let v = Array(l.words.dropFirst(2)).map { LvsReader.unquote($0) }.flatMap { $0.split(separator: " ").map(String.init) }
                guard !v.isEmpty else { throw FileError(file: file, line: l.number, message: "missing arguments") }
                if key == "active_cmd" { activeCommand = v } else { inactiveCommand = v }
            default:
                guard Self.pulse.contains(key) else { throw FileError(file: file, line: l.number, message: "unknown command '\(key)'") }
                _ = try value(l, file: file)
            }
        }
    }

    // MARK: virtual and server blocks

    static let schedulers: Set<String> = ["lc", "rr", "wlc", "wrr", "lblc", "lblcr", "dh", "sh"]
    static let ignoredVirtualKeys: Set<String> = ["client_monitor", "start_cmd", "stop_cmd", "master", "vip_nmask"]

    /// One active virtual (nil when `active` is not 1: lvsd never starts it).
    static func virtual(_ opener: Line, _ body: [Line], method: String, rsh: String = "rsh", file: String,
                        address placed: inout FailoverAddress?) throws(FileError) -> ConfiguredService? {
        var active = false
        var vip: String?, fwmark = 0, udp = false, vport: UInt16 = 80
        var sched = "wlc", persistent = 0, pmask: String?
        var send: String?, expect: String?, useRegex = false, sendProgram: String?
        var timeout = 10, reentry = 180, quiesce = false, loadMonitor: String?, sorry: String?
        var servers: [(Line, [Line], UInt16)] = []
        var i = 0
        while i < body.count {
            let l = body[i]
            if l.words.last == "{" {
                var j = i + 1
                var inner: [Line] = []
                while j < body.count, body[j].words != ["}"] { inner.append(body[j]); j += 1 }
                // A server's default port is the virtual's port when its block is read.
                servers.append((l, inner, vport))
                i = j + 1
                continue
            }
            let key = l.words[0]
            switch key {
            case "active": active = try boolean(l, file: file)
            case "address":
                let v = try value(l, file: file, count: 2)
                vip = try host(v[0], l, file: file)
                placed = FailoverAddress(address: IPAddr(vip!)!, prefix: 32, device: LvsReader.device(v[1]))
            case "fwmark": fwmark = try integer(l, file: file)
            case "protocol":
                switch try value(l, file: file)[0] {
                case "tcp": udp = false
                case "udp": udp = true
                case let w: throw FileError(file: file, line: l.number, message: "protocol '\(w)': expected tcp or udp")
                }
            case "port": vport = try port(l, file: file)
            case "scheduler":
                let v = try value(l, file: file)[0]
                guard schedulers.contains(v) else { throw FileError(file: file, line: l.number, message: "scheduler '\(v)' is not one piranha knows (lc rr wlc wrr lblc lblcr dh sh)") }
                sched = v
            case "persistent": persistent = try integer(l, file: file)
            case "pmask":
                let v = try host(try value(l, file: file)[0], l, file: file, resolve: false)
                pmask = v == "255.255.255.255" ? nil : v
            case "send": send = unquote(try value(l, file: file)[0])
            case "expect": expect = unquote(try value(l, file: file)[0])
            case "use_regex": useRegex = try boolean(l, file: file)
            case "send_program": sendProgram = unquote(try value(l, file: file)[0])
            case "timeout": timeout = try integer(l, file: file)
            case "reentry": reentry = try integer(l, file: file)
            case "quiesce_server": quiesce = try boolean(l, file: file)
            case "load_monitor":
                let v = try value(l, file: file)[0]
                guard ["none", "rup", "ruptime", "uptime", "ssh", "rsh"].contains(v) else {
                    throw FileError(file: file, line: l.number, message: "load_monitor '\(v)': expected none, rup, ruptime, uptime, ssh or rsh")
                }
                loadMonitor = v == "none" ? nil : v
            case "sorry_server": sorry = try host(try value(l, file: file)[0], l, file: file, resolve: false)
            default:
                guard ignoredVirtualKeys.contains(key) else { throw FileError(file: file, line: l.number, message: "unknown command '\(key)'") }
                _ = try value(l, file: file)
            }
            i += 1
        }
        guard active else { return nil }
        guard let vip else { throw FileError(file: file, line: opener.number, message: "virtual \(opener.words[1]): no address") }
        guard timeout > 0 else { throw FileError(file: file, line: opener.number, message: "virtual \(opener.words[1]): timeout must be positive") }
        let selector: ConfiguredService.Selector = fwmark != 0
            ? .fwmark(UInt32(truncatingIfNeeded: fwmark), ipv6: false)
            : .address(proto: udp ? "-u" : "-t", endpoint: "\(vip):\(vport)")
        var svc = ConfiguredService(source: ConfigSource(file: file, line: opener.number), selector: selector)
        svc.scheduler = sched
        if persistent > 0 {
            svc.persistence = UInt32(persistent)
            svc.netmask = pmask
        }
        // nanny's default probe for a virtual on port 80 with no probe of its own.
        if vport == 80, send == nil, expect == nil, sendProgram == nil {
            send = "GET / HTTP/1.0\\r\\n\\r\\n"
            expect = "HTTP"
        }
        let period = Double(timeout)
        var checkSettings: [(String, [String])] = []
        if let send { checkSettings.append(("send", [send])) }
        if let expect { checkSettings.append(("expect", [expect])) }
        if useRegex { checkSettings.append(("use_regex", ["1"])) }
        if udp { checkSettings.append(("protocol", ["udp"])) }
        if let p = sendProgram { checkSettings.append(("send_program", [p])) }
        for (sl, lines, defaultPort) in servers {
            var address = "0.0.0.0", sActive = false, weight = 1, rport = defaultPort
            for l in lines {
                switch l.words[0] {
                case "address": address = try host(try value(l, file: file)[0], l, file: file)
                case "active": sActive = try boolean(l, file: file)
                case "weight": weight = try integer(l, file: file)
                case "port": rport = try port(l, file: file)
                default: throw FileError(file: file, line: l.number, message: "unknown command '\(l.words[0])'")
                }
            }
            guard sActive else { continue }   // never monitored, never added
            guard weight >= 0, weight <= Int(Int32.max) else { throw FileError(file: file, line: sl.number, message: "server \(sl.words[1]): bad weight") }
            var rs = ConfiguredRealServer(source: ConfigSource(file: file, line: sl.number), endpoint: "\(address):\(rport)")
            rs.method = method
            rs.weight = Int64(max(1, weight))   // weight 0 enters as 1 and never grows
            rs.inhibitOnFailure = quiesce
            rs.reentry = Double(reentry == 0 ? 180 : reentry)
            // nanny's load command: rup/ruptime RIP, or RSH RIP uptime (uptime: rsh_command).
            rs.loadMonitor = loadMonitor.map { m in
                switch m {
                case "rup", "ruptime": return [m, address]
                case "uptime": return [rsh, address, "uptime"]
                default: return [m, address, "uptime"]   // ssh, rsh
                }
            }
            rs.checks = [CheckSpec(kind: sendProgram != nil ? .sendProgram : .sendExpect,
                                   source: ConfigSource(file: file, line: opener.number),
                                   interval: period, timeout: period, retry: 0, delayBeforeRetry: period,
                                   connectIP: nil, connectPort: nil, bindTo: nil, settings: checkSettings)]
            svc.realServers.append(rs)
        }
        if let sorry {
            var s = ConfiguredRealServer(source: ConfigSource(file: file, line: opener.number), endpoint: "\(sorry):\(vport)")
            s.method = method
            svc.sorryServer = s
        }
        return svc
    }
}
