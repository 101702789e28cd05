#if canImport(Glibc)
import Glibc
#endif
import UVSEngine
import UVSPacket

/// One ipvsadm command (spec §6.1), parsed and validated.
public enum IPVSCommand: Equatable, Sendable {
    case addService(ServiceSpec)
    case editService(ServiceSpec)
    case deleteService(ServiceKey)
    case clear
    case addServer(ServiceKey, DestinationSpec)
    case editServer(ServiceKey, DestinationSpec)
    case deleteServer(ServiceKey, IPAddr, UInt16)
    case zero(ServiceKey?)
    case setTimeouts(tcp: Int, tcpfin: Int, udp: Int)
    case startDaemon(SyncDaemonConfig)
    case stopDaemon(SyncDaemonConfig.Role)
    case list(ListOptions)
    case save(numeric: Bool)
    case restore
    case help
    case version
}

/// What `-L` was asked to show.
public struct ListOptions: Equatable, Sendable {
    public enum Format: Equatable, Sendable { case services, stats, rate, thresholds, persistentConn, tunInfo }
    public var format = Format.services
    public var numeric = false
    public var connections = false
    public var timeouts = false
    public var daemons = false
    public var exact = false
    public var nosort = false
    public var service: ServiceKey? = nil
    public init() {}
}

/// A refused command line: ipvsadm's message and exit status (spec §6.10 item 3).
public struct CommandError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var status: Int32
    public init(_ message: String, status: Int32 = 2) { self.message = message; self.status = status }
    public var description: String { message }
}

/// The ipvsadm command line grammar: commands, options, legality table, ipvsadm's texts.
public enum CommandParser {
    enum Cmd: Int, CaseIterable {
        case add, edit, del, flush, list, addDest, delDest, editDest, timeout, startDaemon, stopDaemon,
             restore, save, zero
        var name: String {
            ["add-service", "edit-service", "delete-service", "flush", "list", "add-server", "delete-server",
             "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero"][rawValue]
        }
    }

    /// Options in the column order of ipvsadm's legality table.
    enum Opt: Int, CaseIterable {
        case numeric, connection, service, scheduler, persistent, netmask, realServer, forward, weight,
             uThreshold, lThreshold, mcastInterface, timeout, daemon, stats, rate, thresholds, persistentConn,
             nosort, syncid, exact, ops, pe, schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxlen, tunInfo,
             tunType, tunPort, tunNocsum, tunCsum, tunRemcsum
        var name: String {
            ["numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
             "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon",
             "stats", "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
             "sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type",
             "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum"][rawValue]
        }
    }

    /// The legality table (spec §6.1): x illegal, + required, 1 at most one of, space optional.
    static func legality(_ cmd: Cmd, _ opt: Opt) -> Character { legalityTable[cmd.rawValue][opt.rawValue] }

    /// Computed once: a `-R` batch parses tens of thousands of lines.
    static let legalityTable: [[Character]] = Cmd.allCases.map { c in Opt.allCases.map { rule(c, $0) } }

    static func rule(_ cmd: Cmd, _ opt: Opt) -> Character {
        var required: Set<Opt> = [], oneOf: Set<Opt> = [], optional: Set<Opt> = []
        switch cmd {
        case .add, .edit:
            required = [.service]; optional = [.scheduler, .persistent, .netmask, .ops, .pe, .schedFlags]
        case .del:
            required = [.service]
        case .flush, .timeout, .restore:
            break
        case .list:
            oneOf = [.connection, .service, .timeout, .daemon]
            optional = [.numeric, .stats, .rate, .thresholds, .persistentConn, .nosort, .syncid, .exact, .tunInfo]
        case .addDest, .editDest:
            required = [.service, .realServer]
            optional = [.forward, .weight, .uThreshold, .lThreshold, .tunType, .tunPort, .tunNocsum, .tunCsum, .tunRemcsum]
        case .delDest:
            required = [.service, .realServer]
        case .startDaemon:
            optional = [.mcastInterface, .syncid, .mcastGroup, .mcastPort, .mcastTTL, .syncMaxlen]
        case .stopDaemon:
            optional = [.syncid]
        case .save:
            optional = [.numeric]
        case .zero:
            optional = [.service]
        }
        if required.contains(opt) { return "+" }
        if oneOf.contains(opt) { return "1" }
        return optional.contains(opt) ? " " : "x"
    }

    struct State {
        var cmd: Cmd? = nil
        var cmdWord = ""
        var opts = Set<Opt>()
        var key: ServiceKey? = nil
        var proto: UInt8 = IPProto.tcp
        var svcPortGiven = false
        var scheduler = ""
        var flags: UInt32 = 0
        var timeout: UInt32 = 0
        var netmask: UInt32? = nil
        var netmaskIsV6Prefix = false
        var pe: String? = nil
        var schedFlags: [String] = []
        var fwmarkV6 = false
        var rsAddr: IPAddr? = nil
        var rsPort: UInt16? = nil
        var method = ForwardMethod.directRoute
        var weight: Int32 = 1
        var uThreshold: UInt32 = 0
        var lThreshold: UInt32 = 0
        var tunType = TunnelType.ipip
        var tunPort: UInt16 = 0
        var tunCsum = TunnelChecksum.none
        var list = ListOptions()
        var setValues: [Int] = []
        var daemon = SyncDaemonConfig(role: .master)
    }

    static func fail(_ m: String, _ status: Int32 = 2) -> CommandError { CommandError(m, status: status) }
    static let tryHint = "Try `ipvsadm -h' or 'ipvsadm --help' for more information."

    static let commandLetters: Set<Character> = ["A", "E", "D", "C", "L", "l", "a", "d", "e", "R", "S", "Z", "h", "v"]
    static let valueLetters: Set<Character> = ["t", "u", "f", "s", "r", "w", "x", "y", "M", "b", "p"]
    static let flagLetters: Set<Character> = ["6", "o", "g", "i", "m", "c", "n", "X"]

    /// popt's short-option clusters: `-Lnc` is `-L -n -c`, and an option that takes a value
    /// takes the rest of the cluster (`-t10.0.0.1:80`). A cluster with a letter that is no
    /// option there stays whole, so the error names it as popt does (`-LE` → invalid option
    /// `-LE').
    static func expandClusters(_ words: [String]) throws(CommandError) -> [String] {
        var out: [String] = []
        for (n, w) in words.enumerated() {
            guard w.count > 2, w.hasPrefix("-"), !w.hasPrefix("--"), Int(w) == nil else { out.append(w); continue }
            let letters = Array(w.dropFirst())
            var parts: [String] = []
            var ok = true
            var k = 0
            while k < letters.count {
                let c = letters[k]
                if n == 0 && k == 0 && commandLetters.contains(c) {
                    parts.append("-\(c)")
                } else if valueLetters.contains(c) {
                    parts.append("-\(c)")
                    if k + 1 < letters.count { parts.append(String(letters[(k + 1)...])) }
                    break
                } else if flagLetters.contains(c) {
                    parts.append("-\(c)")
                } else {
                    ok = false
                    break
                }
                k += 1
            }
            if ok {
                out += parts
            } else if n == 0 && commandLetters.contains(letters[0]) {
                throw fail("invalid option `\(w)'", 2)
            } else {
                out.append(w)
            }
        }
        return out
    }

    /// Parses the words of one command line (without the program name).
    public static func parse(_ words: [String]) throws(CommandError) -> IPVSCommand {
        var args = try expandClusters(words.filter { $0 != "ipvsadm" })
        if args.isEmpty { return .list(ListOptions()) }
        var st = State()
        // The first word must be a command (spec §6.10 item 2).
        let first = args.removeFirst()
        switch first {
        case "-A", "--add-service": st.cmd = .add
        case "-E", "--edit-service": st.cmd = .edit
        case "-D", "--delete-service": st.cmd = .del
        case "-C", "--clear": st.cmd = .flush
        case "-L", "-l", "--list": st.cmd = .list
        case "-a", "--add-server": st.cmd = .addDest
        case "-d", "--delete-server": st.cmd = .delDest
        case "-e", "--edit-server": st.cmd = .editDest
        case "--set": st.cmd = .timeout
        case "-R", "--restore": st.cmd = .restore
        case "-S", "--save": st.cmd = .save
        case "-Z", "--zero": st.cmd = .zero
        case "-h", "--help": return .help
        case "-v", "--version": return .version
        case "--start-daemon", "--stop-daemon":
            let start = first == "--start-daemon"
            st.cmd = start ? .startDaemon : .stopDaemon
            // popt: the argument is required; without it only the hint.
            guard !args.isEmpty else { throw fail(tryHint, 255) }
            guard let role = SyncDaemonConfig.Role(rawValue: args.removeFirst()) else {
                throw fail(start ? "illegal start-daemon parameter specified" : "illegal start_daemon specified")
            }
            st.daemon.role = role
        default:
            throw fail(tryHint, 255)
        }
        st.cmdWord = first
        if st.cmd == .timeout {
            for _ in 0..<3 {
                guard !args.isEmpty, !args[0].hasPrefix("-") || Int(args[0]) != nil else {
                    throw fail("--set option requires 3 timeout values")
                }
                let w = args.removeFirst()
                guard let v = Int(w), v >= 0, v <= 2_678_400 else { throw fail("invalid timeout value `\(w)' specified") }
                st.setValues.append(v)
            }
        }
        var i = 0
        func value(_ opt: String) throws(CommandError) -> String {
            guard i + 1 < args.count else { throw fail("\(opt): missing argument", 255) }
            i += 1
            return args[i]
        }
        func set(_ o: Opt) throws(CommandError) {
            if st.opts.contains(o) { throw fail("multiple '\(o.name)' options specified") }
            st.opts.insert(o)
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "-t", "--tcp-service", "-u", "--udp-service", "--sctp-service":
                try set(.service)
                st.proto = (a == "-t" || a == "--tcp-service") ? IPProto.tcp
                    : (a == "--sctp-service" ? IPProto.sctp : IPProto.udp)
                let v = try value(a)
                guard let (addr, port) = parseAddress(v, proto: st.proto) else {
                    throw fail("illegal virtual server address[:port] specified")
                }
                st.key = ServiceKey(proto: st.proto, addr: addr, port: port ?? 0)
                st.svcPortGiven = port != nil
            case "-f", "--fwmark-service":
                try set(.service)
                let v = try value(a)
                guard let m = UInt32(v), m > 0 else { throw fail("invalid fwmark value `\(v)' specified") }
                st.key = ServiceKey(fwmark: m, v6: false)
            case "-6", "--ipv6":
                guard let k = st.key, k.isFwmark else { throw fail("-6 used before -f\n") }
                st.key = ServiceKey(fwmark: k.fwmark, v6: true)
                st.fwmarkV6 = true
            case "-s", "--scheduler":
                try set(.scheduler)
                st.scheduler = String(try value(a).prefix(15))
            case "-p", "--persistent":
                try set(.persistent)
                st.flags |= ServiceFlags.persistent
                st.timeout = 360
                if i + 1 < args.count && !args[i + 1].hasPrefix("-") {
                    i += 1
                    guard let t = UInt32(args[i]), t >= 1, t <= 2_678_400 else {
                        throw fail("invalid timeout value `\(args[i])' specified")
                    }
                    st.timeout = t
                }
            case "-M", "--netmask":
                try set(.netmask)
                let v = try value(a)
                if let k = st.key, k.isV6 {
                    guard let n = UInt32(v), n >= 1, n <= 128 else { throw fail("illegal ipv6 netmask specified") }
                    st.netmask = n
                    st.netmaskIsV6Prefix = true
                } else {
                    var in4 = in_addr()
                    guard inet_aton(v, &in4) != 0 else { throw fail("illegal virtual server persistent mask specified") }
                    st.netmask = UInt32(bigEndian: in4.s_addr)
                }
            case "--pe":
                try set(.pe)
                st.pe = try value(a)
            case "-b", "--sched-flags":
                try set(.schedFlags)
                let v = try value(a)
                if !v.isEmpty {
                    let parts = v.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                    if parts.contains(where: \.isEmpty) { throw fail("invalid scheduler flag `\(v)'") }
                    st.schedFlags = parts
                }
            case "-o", "--ops":
                try set(.ops)
                st.flags |= ServiceFlags.onePacket
            case "-r", "--real-server":
                try set(.realServer)
                let v = try value(a)
                let rproto = st.key.map { $0.isFwmark ? IPProto.tcp : $0.proto } ?? st.proto
                guard let (addr, port) = parseAddress(v, proto: rproto) else {
                    throw fail("illegal real server address[:port] specified")
                }
                st.rsAddr = addr
                st.rsPort = port ?? st.key?.port ?? 0
            case "-g", "--gatewaying", "-i", "--ipip", "-m", "--masquerading":
                try set(.forward)
                st.method = (a == "-g" || a == "--gatewaying") ? .directRoute : ((a == "-i" || a == "--ipip") ? .tunnel : .masquerade)
            case "-w", "--weight":
                try set(.weight)
                let v = try value(a)
                guard let w = Int32(v), w >= 0 else { throw fail("illegal weight specified") }
                st.weight = w
            case "-x", "--u-threshold":
                try set(.uThreshold)
                let v = try value(a)
                guard let t = Int32(v), t >= 0 else { throw fail("illegal u_threshold specified") }
                st.uThreshold = UInt32(t)
            case "-y", "--l-threshold":
                try set(.lThreshold)
                let v = try value(a)
                guard let t = Int32(v), t >= 0 else { throw fail("illegal l_threshold specified") }
                st.lThreshold = UInt32(t)
            case "--tun-type":
                try set(.tunType)
                switch try value(a) {
                case "ipip": st.tunType = .ipip
                case "gue": st.tunType = .gue
                case "gre": st.tunType = .gre
                default: throw fail("illegal tunnel type specified")
                }
            case "--tun-port":
                try set(.tunPort)
                let v = try value(a)
                guard let p = UInt16(v), p > 0 else { throw fail("illegal tunnel port specified") }
                st.tunPort = p
            case "--tun-nocsum": try set(.tunNocsum); st.tunCsum = .none
            case "--tun-csum": try set(.tunCsum); st.tunCsum = .csum
            case "--tun-remcsum": try set(.tunRemcsum); st.tunCsum = .remcsum
            case "--mcast-interface":
                try set(.mcastInterface)
                st.daemon.interface = String(try value(a).prefix(15))
            case "--syncid":
                try set(.syncid)
                guard let n = UInt8(try value(a)) else { throw fail("illegal syncid specified") }
                st.daemon.syncID = n
            case "--mcast-group":
                try set(.mcastGroup)
                let v = try value(a)
                let v6 = v.contains(":")
                guard let g = IPAddr(v), g.isV4 != v6,
                      v6 ? g.hi >> 56 == 0xFF : g.v4 >> 28 == 0xE else {
                    throw fail("invalid IPv\(v6 ? 6 : 4) mcast-group `\(v)'")
                }
                st.daemon.group = g
            case "--mcast-port":
                try set(.mcastPort)
                guard let n = UInt16(try value(a)), n > 0 else { throw fail("illegal mcast-port specified") }
                st.daemon.port = n
            case "--mcast-ttl":
                try set(.mcastTTL)
                guard let n = UInt8(try value(a)), n > 0 else { throw fail("illegal mcast-ttl specified") }
                st.daemon.ttl = n
            case "--sync-maxlen":
                try set(.syncMaxlen)
                guard let n = Int(try value(a)), n >= 1, n <= 65535 - 28 else { throw fail("illegal sync-maxlen specified") }
                st.daemon.maxlen = n
            case "-c", "--connection": try set(.connection); st.list.connections = true
            case "--timeout": try set(.timeout); st.list.timeouts = true
            case "--daemon": try set(.daemon); st.list.daemons = true
            case "--stats": try set(.stats); st.list.format = .stats
            case "--rate": try set(.rate); st.list.format = .rate
            case "--thresholds": try set(.thresholds); st.list.format = .thresholds
            case "--persistent-conn": try set(.persistentConn); st.list.format = .persistentConn
            case "--tun-info": try set(.tunInfo); st.list.format = .tunInfo
            case "--exact", "-X": try set(.exact); st.list.exact = true
            case "-n", "--numeric": try set(.numeric); st.list.numeric = true
            case "--nosort": try set(.nosort); st.list.nosort = true
            case "--sort": break
            default:
                // A second command is an unknown option to popt; one that takes an argument
                // has consumed it, and popt names that word (spec §6.10 item 2).
                if (a == "--start-daemon" || a == "--stop-daemon") && i + 1 < args.count {
                    throw fail("invalid option `\(args[i + 1])'", 2)
                }
                if a.hasPrefix("-") {
                    throw fail("invalid option `\(a)'", 2)
                }
                throw fail("unexpected argument \(a)")
            }
            i += 1
        }
        return try finish(&st)
    }

    static func finish(_ st: inout State) throws(CommandError) -> IPVSCommand {
        let cmd = st.cmd!
        // Scheduler flags are checked after all options.
        var schedFlagBits: UInt32 = 0
        let sched = st.scheduler.isEmpty ? "wlc" : st.scheduler
        for f in st.schedFlags {
            switch f {
            case "flag-1": schedFlagBits |= ServiceFlags.sched1
            case "flag-2": schedFlagBits |= ServiceFlags.sched2
            case "flag-3": schedFlagBits |= ServiceFlags.sched3
            case "sh-fallback", "sh-port", "mh-fallback", "mh-port":
                guard f.hasPrefix(sched + "-") else { throw fail("incompatible scheduler flag `\(f)'") }
                schedFlagBits |= f.hasSuffix("fallback") ? ServiceFlags.sched1 : ServiceFlags.sched2
            default: throw fail("invalid scheduler flag `\(f)'")
            }
        }
        // The command × option legality table, in column order.
        var oneOf: Opt? = nil
        for o in Opt.allCases {
            let rule = legality(cmd, o)
            if !st.opts.contains(o) {
                if rule == "+" { throw fail("You need to supply the '\(o.name)' option for the '\(cmd.name)' command") }
            } else {
                if rule == "x" { throw fail("Illegal '\(o.name)' option with the '\(cmd.name)' command") }
                if rule == "1" {
                    if let prev = oneOf {
                        throw fail("The option '\(o.name)' conflicts with the '\(prev.name)' option in the '\(cmd.name)' command")
                    }
                    oneOf = o
                }
            }
        }
        switch cmd {
        case .add, .edit:
            let key = st.key!
            if !key.isFwmark && key.port == 0 && st.flags & ServiceFlags.persistent == 0 {
                throw fail("Zero port specified for non-persistent service")
            }
            if st.flags & ServiceFlags.onePacket != 0 && !key.isFwmark && key.proto != IPProto.udp {
                throw fail("One-Packet Scheduling is only for UDP virtual services")
            }
            var netmask = st.netmask
            if key.isV6 && !st.netmaskIsV6Prefix { netmask = nil }
            let spec = ServiceSpec(key: key, scheduler: sched, flags: st.flags | schedFlagBits,
                                   timeout: st.flags & ServiceFlags.persistent != 0 ? st.timeout : 0,
                                   netmask: netmask, persistenceEngine: st.pe)
            return cmd == .add ? .addService(spec) : .editService(spec)
        case .del: return .deleteService(st.key!)
        case .flush: return .clear
        case .addDest, .editDest, .delDest:
            let key = st.key!
            var port = st.rsPort ?? key.port
            let rs = st.rsAddr!
            if cmd == .delDest { return .deleteServer(key, rs, key.isFwmark ? port : (port)) }
            if rs.isV4 != !key.isV6 && st.method != .tunnel {
                throw fail("Operation not supported with specified address family")
            }
            // DR and TUN servers of port services use the service port.
            if !key.isFwmark && (st.method == .directRoute || st.method == .tunnel) { port = key.port }
            try checkTunnel(&st)
            let spec = DestinationSpec(addr: rs, port: port, method: st.method, weight: st.weight,
                                       upperThreshold: st.uThreshold, lowerThreshold: st.lThreshold,
                                       tunnelType: st.tunType, tunnelPort: st.tunPort, tunnelChecksum: st.tunCsum)
            return cmd == .addDest ? .addServer(key, spec) : .editServer(key, spec)
        case .timeout:
            return .setTimeouts(tcp: st.setValues[0], tcpfin: st.setValues[1], udp: st.setValues[2])
        case .list:
            var l = st.list
            l.service = st.key
            if (l.connections || l.timeouts || l.daemons) && l.format != .services && l.format != .persistentConn {
                throw fail("options conflicts in the list command")
            }
            if (l.timeouts || l.daemons) && l.format == .persistentConn {
                throw fail("options conflicts in the list command")
            }
            return .list(l)
        case .save: return .save(numeric: st.list.numeric)
        case .restore: return .restore
        case .zero: return .zero(st.key)
        case .startDaemon: return .startDaemon(st.daemon)
        case .stopDaemon: return .stopDaemon(st.daemon.role)
        }
    }

    static func checkTunnel(_ st: inout State) throws(CommandError) {
        let tunOpts: [Opt] = [.tunType, .tunPort, .tunNocsum, .tunCsum, .tunRemcsum]
        let given = tunOpts.filter { st.opts.contains($0) }
        if st.method != .tunnel {
            if !given.isEmpty { throw fail("Tunnel options conflict with forward method") }
            return
        }
        let typeName = ["ipip", "gue", "gre"][Int(st.tunType.rawValue)]
        // Legality per tunnel type, columns tun-port, tun-nocsum, tun-csum, tun-remcsum.
        let rules: [Opt: Character]
        switch st.tunType {
        case .ipip: rules = [.tunPort: "x", .tunNocsum: "x", .tunCsum: "x", .tunRemcsum: "x"]
        case .gue: rules = [.tunPort: "+", .tunNocsum: "1", .tunCsum: "1", .tunRemcsum: "1"]
        case .gre: rules = [.tunPort: "x", .tunNocsum: "1", .tunCsum: "1", .tunRemcsum: "x"]
        }
        var prev: Opt? = nil
        for o in [Opt.tunPort, .tunNocsum, .tunCsum, .tunRemcsum] {
            let r = rules[o] ?? " "
            if !st.opts.contains(o) {
                if r == "+" { throw fail("You need to supply the '\(o.name)' option for the '\(typeName)' tunnel type") }
                continue
            }
            if r == "x" { throw fail("Illegal '\(o.name)' option with the '\(typeName)' tunnel type") }
            if r == "1" {
                if let p = prev {
                    throw fail("The option '\(o.name)' conflicts with the '\(p.name)' option in the '\(typeName)' tunnel type")
                }
                prev = o
            }
        }
    }

    /// `addr[:port]`, `[v6addr]:port` or a bare IPv6 address; IPv4 in any inet_aton form;
    /// ports as numbers or /etc/services names for the protocol.
    public static func parseAddress(_ s: String, proto: UInt8) -> (IPAddr, UInt16?)? {
        var host = s
        var portText: String? = nil
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            host = String(s[s.index(after: s.startIndex)..<close])
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":"), rest.count > 1 else { return nil }
            portText = String(rest.dropFirst())
            guard let a = IPAddr(host), !a.isV4 else { return nil }
            guard let p = parsePort(portText!, proto: proto) else { return nil }
            return (a, p)
        }
        if s.filter({ $0 == ":" }).count > 1 {
            guard let a = IPAddr(s), !a.isV4 else { return nil }
            return (a, nil)
        }
        if let c = s.firstIndex(of: ":") {
            host = String(s[..<c])
            portText = String(s[s.index(after: c)...])
        }
        if !host.isEmpty && host.allSatisfy(\.isNumber) { return nil }
        var in4 = in_addr()
        guard inet_aton(host, &in4) != 0 else { return nil }
        let a = IPAddr(v4: UInt32(bigEndian: in4.s_addr))
        guard let pt = portText else { return (a, nil) }
        guard let p = parsePort(pt, proto: proto) else { return nil }
        return (a, p)
    }

    static func parsePort(_ s: String, proto: UInt8) -> UInt16? {
        if let v = Int(s.hasPrefix("+") ? String(s.dropFirst()) : s), v >= 0, v <= 65535 { return UInt16(v) }
        let pname = proto == IPProto.udp ? "udp" : (proto == IPProto.sctp ? "sctp" : "tcp")
        guard let ent = getservbyname(s, pname) else { return nil }
        return UInt16(bigEndian: UInt16(truncatingIfNeeded: ent.pointee.s_port))
    }

    /// Splits a restore-format line into words (blanks separate; no shell quoting).
    public static func words(_ line: String) -> [String] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }
}
