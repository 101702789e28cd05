#if canImport(Glibc)
import Glibc
#endif
import UVSControl
import UVSPacket

/// ldirectord.cf (read_config, ld_setup; spec §2.2–2.6) into the configuration model, with
/// ldirectord's code defaults (not its POD's where they differ).
public enum LdirectordReader {
    public typealias FileError = ConfigText.FileError

    /// ldirectord's negotiate services that uvs probes; the others are refused by name.
    static let probedServices: [String: CheckSpec.Kind] = [
        "http": .http, "https": .https, "smtp": .smtp, "submission": .smtp, "dns": .dns,
        "simpletcp": .simpleTCP, "nntp": .nntp, "pop": .pop, "imap": .imap, "ftp": .ftp, "sip": .sip, "radius": .radius,
        "pops": .pop, "imaps": .imap, "http_proxy": .http, "ldap": .ldap, "ldaps": .ldap, "pgsql": .pgsql, "mysql": .mysql,
    ]
    static let knownServices: Set<String> = [
        "dns", "ftp", "http", "https", "http_proxy", "imap", "imaps", "ldap", "ldaps", "nntp", "mysql", "none", "oracle",
        "pop", "pops", "radius", "pgsql", "sip", "smtp", "submission", "simpletcp",
    ]
    static let servicePorts: [String: UInt16] = [
        "ftp": 21, "smtp": 25, "dns": 53, "http": 80, "pop": 110, "nntp": 119, "imap": 143, "ldap": 389,
        "https": 443, "submission": 587, "ldaps": 636, "imaps": 993, "pops": 995, "oracle": 1521, "radius": 1812,
        "http_proxy": 3128, "mysql": 3306, "sip": 5060, "pgsql": 5432,
    ]

    /// Perl's `tr/:/ /s`: each run of ':' becomes one blank.
    static func squeezeColons(_ s: String) -> String {
        var out = "", previousColon = false
        for ch in s {
            if ch == ":" { if !previousColon { out.append(" ") }; previousColon = true }
            else { out.append(ch); previousColon = false }
        }
        return out
    }

    static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, 255) == 0 else { return "localhost" }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    struct Globals {
        var checkTimeout = -1, negotiateTimeout = -1, checkInterval = 10, checkCount = 1, failureCount = 1
        var quiescent = false, fork = false
        var fallback: (String, String?, String)?   // host, port, method word
        var fallbackCommand: String?
        var maintenanceDir: String?
    }

    struct Virtual {
        var line: Int
        var v6: Bool
        var host: String?, port: String?, fwmark: UInt32?
        var proto = "tcp", service: String?, serviceLine = 0, checktype = "negotiate", combined = 0
        var scheduler = "wrr", persistent: UInt32?, netmask: String?, ops = false
        var request = "/", receive = "", httpmethod = "GET", virtualhost: String?, login = "", passwd = "", secret = "", database = ""
        var checkcommand = "/bin/true", checkport: UInt16?
        var checkTimeout = -1, negotiateTimeout = -1, checkInterval: Int?, checkCount = -1, failureCount = -1
        var quiescent: Bool?
        var fallback: (String, String?, String)?, fallbackCommand: String?
        var monitorFile: String?
        var reals: [(String, Int)] = []
    }

    public static func read(path: String, text: String) throws(FileError) -> DirectorConfig {
        func fail(_ n: Int, _ m: String) -> FileError { FileError(file: path, line: n, message: m) }
        var g = Globals()
        var virtuals: [Virtual] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var n = 0
        while n < lines.count {
            let raw = lines[n]
            n += 1
            let line = n
            if raw.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            if raw.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("#") { continue }
            if let (k, v) = keyValue(raw), k == "virtual" || k == "virtual6" {
                var vs = try virtualLine(v, v6: k == "virtual6", line: line, path: path)
                // The block: indented lines (a TAB counts 4 blanks); comment lines keep it open.
                while n < lines.count {
                    let l = lines[n]
                    if l.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("#") { n += 1; continue }
                    var body = l
                    if let h = body.firstIndex(of: "#") { body = String(body[..<h]) }
                    body = body.split(separator: "\t", omittingEmptySubsequences: false).joined(separator: "    ")
                    guard body.hasPrefix("    "), body.drop(while: { $0 == " " }).isEmpty == false else { break }
                    n += 1
                    try directive(String(body.drop(while: { $0 == " " })), line: n, into: &vs, path: path)
                }
                if virtuals.contains(where: { $0.fwmark == vs.fwmark && $0.host == vs.host && $0.port == vs.port && $0.proto == vs.proto }) {
                    throw fail(n, "duplicate virtual server")
                }
                virtuals.append(vs)
                continue
            }
            try global(raw, line: line, into: &g, path: path)
        }
        var cfg = DirectorConfig()
        cfg.format = .ldirectord
        cfg.maintenanceDir = g.maintenanceDir
        for v in virtuals { if let s = try service(v, g, path: path) { cfg.services.append(s) } }
        return cfg
    }

    /// `key = value` with the key in column 0 (value unstripped at its end, as ldirectord reads it).
    static func keyValue(_ s: String) -> (String, String)? {
        let key = s.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
        guard !key.isEmpty else { return nil }
        let rest = s.dropFirst(key.count).drop(while: { $0 == " " || $0 == "\t" })
        guard rest.hasPrefix("=") else { return nil }
        return (String(key), String(rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" })))
    }

    /// The leading digits of a value, as ldirectord's `/(\d+)/` takes them.
    static func number(_ v: String) -> Int? {
        guard let start = v.firstIndex(where: { $0.isASCII && $0.isNumber }) else { return nil }
        return Int(v[start...].prefix(while: { $0.isASCII && $0.isNumber }))
    }

    static func yesNo(_ v: String, _ key: String, line: Int, path: String) throws(FileError) -> Bool {
        switch v {
        case "yes": return true
        case "no": return false
        default: throw FileError(file: path, line: line, message: "\(key) must be 'yes' or 'no'")
        }
    }

    /// A double-quoted value (to the last quote of the line); nil when unquoted.
    static func quoted(_ v: String) -> String? {
        guard v.hasPrefix("\""), let end = v.lastIndex(of: "\""), end > v.startIndex else { return nil }
        return String(v[v.index(after: v.startIndex)..<end])
    }

    static func global(_ raw: String, line: Int, into g: inout Globals, path: String) throws(FileError) {
        func fail(_ m: String) -> FileError { FileError(file: path, line: line, message: m) }
        // The value runs to the end of the line: a CR or a trailing comment stays in it.
        guard let (k, v) = keyValue(raw) else {
            if raw.hasPrefix("supervised") && raw.dropFirst(10).allSatisfy({ $0 == " " || $0 == "\t" }) { return }
            throw fail("Unknown command \(raw.trimmingSpaces)")
        }
        switch k {
        case "checktimeout", "negotiatetimeout":
            guard let x = number(v), x > 0 else { throw fail("invalid \(k == "checktimeout" ? "check" : "negotiate") timeout value") }
            if k == "checktimeout" { g.checkTimeout = x } else { g.negotiateTimeout = x }
        case "checkinterval", "checkcount", "failurecount":
            guard let x = number(v), x > 0 else { throw fail("invalid \(k) value") }
            if k == "checkinterval" { g.checkInterval = x } else if k == "checkcount" { g.checkCount = x } else { g.failureCount = x }
        case "connecttimeout": throw fail("connecttimeout directive deprecated in favour of negotiatetimeout")
        case "timeout": throw fail("timeout directive deprecated in favour of checktimeout and negotiatetimeout")
        case "fallback", "fallback6": g.fallback = try fallback(v, line: line, path: path)
        case "fallbackcommand":
            guard !v.isEmpty else { throw fail("invalid fallback command") }
            g.fallbackCommand = quoted(v) ?? v
        case "autoreload", "cleanstop", "readdquiescent":
            _ = try yesNo(v, k, line: line, path: path)
        case "fork": g.fork = try yesNo(v, k, line: line, path: path)
        case "supervised": _ = try yesNo(v, k, line: line, path: path)
        case "quiescent": g.quiescent = try yesNo(v, k, line: line, path: path)
        case "callback", "logfile":
            guard quoted(v) != nil else { throw fail("Unknown command \(raw.trimmingSpaces)") }
        case "maintenancedir":
            guard !v.isEmpty else { throw fail("maintenance directory not specified") }
            g.maintenanceDir = quoted(v) ?? v.trimmingSpaces
        case "emailalert", "emailalertfrom", "emailalertfreq", "emailalertstatus", "smtp", "execute":
            // Mail and other instances change no rule and no check uvs runs.
            if k == "execute" { throw fail("'\(k)' is not supported by uvs") }
        default: throw fail("Unknown command \(raw.trimmingSpaces)")
        }
    }

    static func fallback(_ v: String, line: Int, path: String) throws(FileError) -> (String, String?, String) {
        let parts = v.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
        guard (1...2).contains(parts.count) else { throw FileError(file: path, line: line, message: "invalid fallback server: \(v)") }
        let method = parts.count == 2 ? parts[1] : "gate"
        guard ["gate", "masq", "ipip"].contains(method) else {
            throw FileError(file: path, line: line, message: "forward method must be gate, masq or ipip")
        }
        var host = parts[0], port: String?
        if let c = host.lastIndex(of: ":"), !host.hasSuffix("]") || host.hasPrefix("[") && host[..<c].hasSuffix("]") {
            port = String(host[host.index(after: c)...])
            host = String(host[..<c])
        }
        return (host, port, method)
    }

    static func virtualLine(_ v: String, v6: Bool, line: Int, path: String) throws(FileError) -> Virtual {
        var vs = Virtual(line: line, v6: v6)
        let token = String(v.prefix(while: { $0 != " " && $0 != "\t" && $0 != "\r" }))
        if !v6, token.hasPrefix("[") {
            throw FileError(file: path, line: line, message: "cannot specify an IPv6 address here. please use \"virtual6\" instead.")
        }
        if token.hasPrefix("["), let e = token.firstIndex(of: "]"), token[token.index(after: e)...].hasPrefix(":") {
            vs.host = String(token[token.index(after: token.startIndex)..<e])
            vs.port = String(token[token.index(e, offsetBy: 2)...])
        } else if let c = token.lastIndex(of: ":") {
            vs.host = String(token[..<c]); vs.port = String(token[token.index(after: c)...])
        } else if let m = UInt32(token), m > 0 {
            vs.fwmark = m; vs.proto = "fwm"; vs.service = "none"
        } else {
            throw FileError(file: path, line: line, message: "invalid address for virtual server")
        }
        if vs.port == "53" || vs.port == "domain" { vs.proto = "udp" }
        return vs
    }

    static func directive(_ d: String, line: Int, into vs: inout Virtual, path: String) throws(FileError) {
        func fail(_ m: String) -> FileError { FileError(file: path, line: line, message: m) }
        guard let (k, v) = keyValue(d) else { throw fail("Unknown command \"\(d.trimmingSpaces)\"") }
        func needQuoted() throws(FileError) -> String {
            guard let q = quoted(v) else { throw fail("Unknown command \"\(d.trimmingSpaces)\"") }
            guard !q.isEmpty else { throw fail("invalid \(k) string") }
            return q
        }
        switch k {
        case "real", "real6":
            if (k == "real6") != vs.v6 { throw fail("cannot specify \"\(k)\" here.  please use \"\(vs.v6 ? "real6" : "real")\" instead") }
            vs.reals.append((v, line))
        case "request": vs.request = try needQuoted(); if !vs.request.hasPrefix("/") { vs.request = "/" + vs.request }
        case "receive": vs.receive = try needQuoted()
        case "login": vs.login = try needQuoted()
        case "passwd": vs.passwd = try needQuoted()
        case "secret": vs.secret = try needQuoted()
        case "database": vs.database = try needQuoted()
        case "load": _ = try needQuoted()
        case "checktype":
            if let x = number(v), v.first?.isNumber == true { vs.checktype = "combined"; vs.combined = x; break }
            let w = String(v.prefix(while: { $0.isLetter || $0 == "-" }))
            guard ["connect", "negotiate", "ping", "off", "on", "external", "external-perl"].contains(w) else {
                throw fail("checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \"ping\", \"external\", \"external-perl\" or a positive number")
            }
            vs.checktype = w
        case "checkcommand":
            let c = quoted(v) ?? v.trimmingSpaces
            guard !c.isEmpty else { throw fail("invalid check command") }
            vs.checkcommand = c
        case "checktimeout", "negotiatetimeout", "checkcount", "failurecount", "checkinterval":
            guard let x = number(v), x > 0 else { throw fail("invalid \(k)") }
            switch k {
            case "checktimeout": vs.checkTimeout = x
            case "negotiatetimeout": vs.negotiateTimeout = x
            case "checkcount": vs.checkCount = x
            case "failurecount": vs.failureCount = x
            default: vs.checkInterval = x
            }
        case "connecttimeout": throw fail("connecttimeout directive deprecated in favour of negotiatetimeout")
        case "checkport":
            guard let x = number(v) else { throw fail("invalid port") }
            guard x > 0, x < 65536 else { throw fail("checkport must be in range 1..65536") }
            vs.checkport = UInt16(x)
        case "scheduler":
            let s = String(v.drop(while: { !$0.isLowercase }).prefix(while: { $0.isLowercase && $0.isASCII }))
            guard !s.isEmpty else { throw fail("invalid scheduler, should be only lowercase letters (a-z)") }
            vs.scheduler = s
        case "persistent":
            guard let x = number(v) else { throw fail("invalid persistent timeout") }
            vs.persistent = UInt32(clamping: x)
        case "netmask":
            let m = v.trimmingSpaces
            if vs.v6 {
                guard let p = Int(m), (1...128).contains(p) else { throw fail("invalid netmask: a prefix length between 1 and 128 is required") }
            } else {
                guard m.split(separator: ".").count == 4, m.split(separator: ".").allSatisfy({ Int($0) != nil }) else {
                    throw fail("invalid netmask: dotted quad notation is required")
                }
            }
            vs.netmask = m
        case "protocol":
            let p = String(v.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" }))
            if vs.proto == "fwm" {
                guard p == "fwm" else { throw fail("protocol must be fwm if the virtual service is a fwmark (a number)") }
            } else {
                guard p == "tcp" || p == "udp" else { throw fail("protocol must be tcp or udp if the virtual service is an address and port") }
                vs.proto = p
            }
        case "ops": vs.ops = try yesNo(v, k, line: line, path: path)
        case "service":
            let s = String(v.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" }))
            guard knownServices.contains(s) else {
                throw fail("service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, nntp, mysql, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission")
            }
            vs.service = s
            vs.serviceLine = line
        case "httpmethod":
            let m = v.prefix(while: { $0.isLetter }).uppercased()
            guard m == "GET" || m == "HEAD" else { throw fail("httpmethod must be GET or HEAD") }
            vs.httpmethod = m
        case "virtualhost":
            vs.virtualhost = v.split(separator: "\"", omittingEmptySubsequences: true).first.map { String($0).trimmingSpaces }
        case "fallback", "fallback6":
            if (k == "fallback6") != vs.v6 { throw fail("cannot specify \"\(k)\" here.  please use \"\(vs.v6 ? "fallback6" : "fallback")\" instead") }
            vs.fallback = try fallback(v, line: line, path: path)
        case "fallbackcommand":
            let c = quoted(v) ?? v.trimmingSpaces
            guard !c.isEmpty else { throw fail("invalid fallback command") }
            vs.fallbackCommand = c
        case "quiescent": vs.quiescent = try yesNo(v, k, line: line, path: path)
        case "cleanstop": _ = try yesNo(v, k, line: line, path: path)
        case "emailalert", "emailalertfreq", "emailalertstatus", "smtp", "servicename", "comment": break
        case "monitorfile":
            // ldirectord opens it for appending as it reads the file.
            let f = quoted(v) ?? v
            let fd = open(f, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw fail("unable to open monitorfile \(f): \(String(decoding: Array(String(cString: strerror(errno)).utf8), as: UTF8.self))") }
            close(fd)
            vs.monitorFile = f
        default: throw fail("Unknown command \"\(d.trimmingSpaces)\"")
        }
    }

    // MARK: resolution and the model

    /// ld_gethostbyname: an address as it is, else the name resolved in the virtual's family.
    static func resolve(_ host: String, v6: Bool, line: Int, path: String, what: String) throws(FileError) -> String {
        var h = host
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if let a = IPAddr(h), a.isV4 != v6 { return "\(a)" }
        var hints = addrinfo()
        hints.ai_family = v6 ? AF_INET6 : AF_INET
        var res: UnsafeMutablePointer<addrinfo>?
        if getaddrinfo(h, nil, &hints, &res) == 0, let r = res {
            defer { freeaddrinfo(res) }
            var buf = [CChar](repeating: 0, count: 64)
            if getnameinfo(r.pointee.ai_addr, r.pointee.ai_addrlen, &buf, 64, nil, 0, NI_NUMERICHOST) == 0 {
                return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        throw FileError(file: path, line: line, message: "invalid address (\(host)) for \(what) (could not resolve host)")
    }

    static func portNumber(_ p: String, proto: String, line: Int, path: String) throws(FileError) -> UInt16 {
        if let x = UInt16(p) { return x }
        if let se = getservbyname(p, proto == "udp" ? "udp" : "tcp") {
            return UInt16(bigEndian: UInt16(truncatingIfNeeded: se.pointee.s_port))
        }
        throw FileError(file: path, line: line, message: "invalid port (\(p)) (could not resolve port)")
    }

    static func endpoint(_ ip: String, _ port: UInt16, v6: Bool) -> String { v6 ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    static func service(_ v: Virtual, _ g: Globals, path: String) throws(FileError) -> ConfiguredService? {
        func fail(_ n: Int, _ m: String) -> FileError { FileError(file: path, line: n, message: m) }
        let selector: ConfiguredService.Selector
        var vport: UInt16 = 0, vip = ""
        if let m = v.fwmark {
            selector = .fwmark(m, ipv6: v.v6)
        } else {
            vip = try resolve(v.host!, v6: v.v6, line: v.line, path: path, what: "virtual service")
            vport = try portNumber(v.port!, proto: v.proto, line: v.line, path: path)
            selector = .address(proto: v.proto == "udp" ? "-u" : "-t", endpoint: endpoint(vip, vport, v6: v.v6))
        }
        let serviceName = v.service ?? portService(vport)
        var svc = ConfiguredService(source: ConfigSource(file: path, line: v.line), selector: selector)
        svc.scheduler = v.scheduler
        svc.monitorFile = v.monitorFile
        if let p = v.persistent {
            svc.persistence = p
            svc.netmask = v.netmask
        }
        svc.onePacket = v.ops && v.proto == "udp"
        // ld_setup: checktimeout and negotiatetimeout default to each other, then to 5 and 30.
        let checkTimeout = [v.checkTimeout, v.negotiateTimeout, g.checkTimeout, g.negotiateTimeout].first(where: { $0 > 0 }) ?? 5
        let negotiateTimeout = [v.negotiateTimeout, v.checkTimeout, g.negotiateTimeout, g.checkTimeout].first(where: { $0 > 0 }) ?? 30
        let interval = Double(g.fork ? v.checkInterval ?? g.checkInterval : g.checkInterval)
        let failureCount = v.failureCount > 0 ? v.failureCount : g.failureCount
        let checkCount = v.checkCount > 0 ? v.checkCount : g.checkCount
        let quiescent = v.quiescent ?? g.quiescent
        // What probes the servers of this virtual.
        var kind: CheckSpec.Kind?
        var timeout = Double(checkTimeout)
        switch v.checktype {
        case "connect": kind = v.proto == "udp" ? .ping : .tcp
        case "ping": kind = .ping
        case "external", "external-perl": kind = .external
        case "on": kind = nil
        case "off": kind = .off
        default:   // negotiate, combined
            timeout = Double(negotiateTimeout)
            if serviceName == "none" { kind = nil; break }
            guard let k = probedServices[serviceName] else {
                throw fail(v.serviceLine > 0 ? v.serviceLine : v.line,
                           "service=\(serviceName): uvs does not implement ldirectord's \(serviceName) check (use checktype=connect or external)")
            }
            kind = k
        }
        for (text, line) in v.reals {
            for r in try reals(text, v, line: line, path: path) {
                var rs = ConfiguredRealServer(source: ConfigSource(file: path, line: line),
                                              endpoint: endpoint(r.ip, r.port, v6: v.v6))
                rs.method = r.method
                rs.weight = r.weight
                rs.upperThreshold = r.upper
                rs.lowerThreshold = r.lower
                rs.inhibitOnFailure = quiescent
                rs.failureCount = failureCount
                if v.monitorFile != nil {
                    let check = ["negotiate", "combined"].contains(v.checktype) ? "\(v.checktype):\(serviceName)"
                        : v.checktype.hasPrefix("external") ? "\(v.checktype):\(v.checkcommand)" : v.checktype
                    let forward = r.method == "-g" ? "gate" : r.method == "-i" ? "ipip" : "masq"
                    let id = [check, v.fwmark != nil ? "fwm" : v.proto, v.v6 ? "[\(r.ip)]" : r.ip, String(r.port), v.virtualhost ?? "",
                              v.checkport.map(String.init) ?? "", String(r.weight), forward, r.request ?? v.request,
                              r.request != nil ? r.receive ?? "" : v.receive].joined(separator: ":")
                    // tr/:/ /s then s/\\//g: runs of ':' become one blank (quotemeta's escapes are dropped again).
                    rs.logID = squeezeColons(id)
                }
                if let kind {
                    // Check port: checkport, else the real port, else the service's well-known port.
                    let cport = v.checkport ?? (r.port > 0 ? r.port : servicePorts[serviceName] ?? 0)
                    var spec = CheckSpec(kind: kind, source: ConfigSource(file: path, line: line), interval: interval,
                                         timeout: timeout, retry: 0, delayBeforeRetry: interval,
                                         connectIP: nil, connectPort: cport, bindTo: nil)
                    let request = r.request ?? v.request
                    let receive = r.request != nil ? r.receive ?? "" : v.receive
                    switch kind {
                    case .http, .https:
                        let scheme = kind == .http ? "http" : "https"
                        let uri = request.drop(while: { $0 == "/" })
                        // http_proxy: request is the absolute URI fetched through the real server.
                        let proxy = serviceName == "http_proxy"
                        let url = proxy || request.contains("\(scheme)://") ? String(uri) : "\(scheme)://\(endpoint(r.ip, cport, v6: v.v6))/\(uri)"
                        spec.settings = [("url", [url]), ("httpmethod", [v.httpmethod])]
                        if proxy { spec.settings.append(("proxy", ["yes"])) }
                        if !receive.isEmpty { spec.settings.append(("receive", [receive])) }
                        if let h = v.virtualhost { spec.settings.append(("virtualhost", [h])) }
                    case .dns, .simpleTCP:
                        spec.settings = [("request", [String(request.dropFirst())]), ("receive", [receive])]
                        if kind == .dns { spec.settings.append(("protocol", [v.proto])) }
                    case .pop, .imap, .smtp:
                        if !v.login.isEmpty { spec.settings = [("login", [v.login]), ("passwd", [v.passwd])] }
                        // pops / imaps: the same conversation inside TLS (Mail::POP3Client USESSL, IMAPClient Ssl).
                        if serviceName == "pops" || serviceName == "imaps" { spec.settings.append(("tls", ["yes"])) }
                    case .ping: spec.settings = [("count", [String(checkCount)])]
                    case .ftp:
                        // service=ftp (not a port-derived one) fills an empty login and passwd.
                        let named = v.service == "ftp"
                        spec.settings = [("request", [request]), ("receive", [receive]),
                                         ("login", [v.login.isEmpty && named ? "anonymous" : v.login]),
                                         ("passwd", [v.passwd.isEmpty && named ? "ldirectord@\(Self.hostname())" : v.passwd])]
                    case .sip:
                        spec.settings = [("login", [v.login.isEmpty && v.service == "sip" ? "ldirectord@\(Self.hostname())" : v.login]),
                                         ("protocol", [v.proto])]
                    case .pgsql, .mysql:
                        spec.settings = [("request", [String(request.dropFirst())]), ("login", [v.login]), ("passwd", [v.passwd]),
                                         ("database", [v.database])]
                    case .ldap:
                        // The alarm is checktimeout, Net::LDAP's timeout negotiatetimeout: the shorter rules.
                        spec.timeout = Double(min(checkTimeout, negotiateTimeout))
                        spec.settings = [("request", [String(request.dropFirst())]), ("receive", [receive]),
                                         ("login", [v.login]), ("passwd", [v.passwd])]
                        if serviceName == "ldaps" { spec.settings.append(("tls", ["yes"])) }
                    case .radius:
                        // The alarm is checktimeout, the answer's wait negotiatetimeout: the shorter rules.
                        spec.timeout = Double(min(checkTimeout, negotiateTimeout))
                        spec.settings = [("login", [v.login]), ("passwd", [v.passwd]), ("secret", [v.secret])]
                    case .external:
                        let args = v.fwmark != nil ? [String(v.fwmark!), "0"] : [v.v6 ? "[\(vip)]" : vip, String(vport)]
                        let cmd = v.checktype == "external-perl" ? ["perl", v.checkcommand] : [v.checkcommand]
                        spec.settings = [("command", cmd + args + [v.v6 ? "[\(r.ip)]" : r.ip, String(r.port)])]
                    default: break
                    }
                    if v.checktype == "combined" { spec.settings.append(("combined", [String(v.combined)])) }
                    rs.checks = [spec]
                }
                svc.realServers.append(rs)
            }
        }
        if let fb = v.fallback ?? g.fallback {
            let ip = try resolve(fb.0, v6: v.v6, line: v.line, path: path, what: "fallback server")
            let port = try fb.1.map { (p: String) throws(FileError) -> UInt16 in try portNumber(p, proto: v.proto, line: v.line, path: path) } ?? vport
            var s = ConfiguredRealServer(source: ConfigSource(file: path, line: v.line), endpoint: endpoint(ip, port, v6: v.v6))
            s.method = methodFlag(fb.2)
            svc.sorryServer = s
        }
        if let c = v.fallbackCommand ?? g.fallbackCommand {
            let virt = v.fwmark.map(String.init) ?? endpoint(vip, vport, v6: v.v6)
            svc.quorumDown = [c, "start", virt, v.proto]
            svc.quorumUp = [c, "stop", virt, v.proto]
        }
        return svc
    }

    static func portService(_ port: UInt16) -> String {
        servicePorts.first(where: { $0.value == port })?.key ?? "none"
    }

    /// `A->B`: the two ends of a range.
    static func splitRange(_ s: String) -> [String] {
        let c = Array(s)
        for i in 0..<max(0, c.count - 1) where c[i] == "-" && c[i + 1] == ">" {
            return [String(c[..<i]), String(c[(i + 2)...])]
        }
        return [s]
    }

    static func methodFlag(_ w: String) -> String { w == "gate" ? "-g" : w == "ipip" ? "-i" : "-m" }

    struct Real { var ip: String; var port: UInt16; var method: String; var weight: Int64; var upper: UInt32; var lower: UInt32; var request: String?; var receive: String? }

    /// `HOST[->HOST2][:PORT] gate|masq|ipip [WEIGHT] ["REQUEST", "RECEIVE"]` (l:/u: thresholds too).
    static func reals(_ text: String, _ v: Virtual, line: Int, path: String) throws(FileError) -> [Real] {
        func fail(_ m: String) -> FileError { FileError(file: path, line: line, message: m) }
        let t = String(text.filter { $0 != "\r" })
        guard let sp = t.firstIndex(where: { $0 == " " }) else { throw fail("invalid address for real server (wrong format)") }
        var addr = String(t[..<sp])
        var rest = Substring(t[sp...]).drop(while: { $0 == " " })
        var port = "0"
        if addr.hasPrefix("["), let e = addr.firstIndex(of: "]") {
            if addr[addr.index(after: e)...].hasPrefix(":") { port = String(addr[addr.index(e, offsetBy: 2)...]) }
            addr = String(addr[...e])
        } else if let c = addr.lastIndex(of: ":") {
            port = String(addr[addr.index(after: c)...]); addr = String(addr[..<c])
        }
        let range = splitRange(addr)
        let method = rest.prefix(while: { $0.isLetter })
        guard ["gate", "masq", "ipip"].contains(method) else { throw fail("forward method must be gate, masq or ipip") }
        rest = rest.dropFirst(method.count)
        var weight: Int64 = 1, upper: UInt32 = 0, lower: UInt32 = 0
        var request: String?, receive: String?
        let words = rest.split(separator: " ", omittingEmptySubsequences: true)
        var i = 0
        if i < words.count, let w = Int64(words[i]) { weight = w; i += 1 }
        let tail = words[i...].joined(separator: " ")
        var remaining = Substring(tail)
        if remaining.hasPrefix("\"") {
            // "REQUEST", "RECEIVE" (comma or blank between).
            let q = remaining.split(separator: "\"", omittingEmptySubsequences: false)
            guard q.count >= 5 else { throw fail("Invalid real server line, around \"\(tail)\"") }
            request = String(q[1]); receive = String(q[3])
            if !request!.hasPrefix("/") { request = "/" + request! }
            remaining = Substring(q[4...].joined(separator: "\""))
        }
        for w in remaining.split(separator: " ") {
            if w.hasPrefix("l:"), let x = UInt32(w.dropFirst(2)) { lower = x }
            else if w.hasPrefix("u:"), let x = UInt32(w.dropFirst(2)) { upper = x }
            else { throw fail("Invalid real server line, around \"\(remaining.trimmingSpaces)\"") }
        }
        let p = try portNumber(port, proto: v.proto, line: line, path: path)
        let first = try resolve(range[0], v6: v.v6, line: line, path: path, what: "real server")
        var ips = [first]
        if range.count == 2 {
            guard !v.v6 else { throw fail("Address range for IPv6 is not supported yet") }
            let last = try resolve(range[1], v6: false, line: line, path: path, what: "real server")
            guard let a = IPAddr(first), let b = IPAddr(last) else { throw fail("Invalid IP address") }
            let lo = a.v4, hi = b.v4
            guard lo <= hi else { throw fail("Invalid Range: \(first)-\(last): First value must be greater than or equal to the second value") }
            guard hi - lo < 65536 as UInt32 else { throw fail("Invalid Range: \(first)-\(last): more than 65536 addresses") }
            ips = (lo...hi).map { "\($0 >> 24).\($0 >> 16 & 0xff).\($0 >> 8 & 0xff).\($0 & 0xff)" }
        }
        return ips.map { Real(ip: $0, port: p, method: methodFlag(String(method)), weight: weight, upper: upper, lower: lower, request: request, receive: receive) }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).reversed())
    }
}
