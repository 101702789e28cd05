import UVSControl
import UVSPacket

/// keepalived's checker blocks (§3.5) into check specifications, with each checker's
/// defaults for retry and delay_before_retry.
enum KeepalivedCheckReader {
    typealias FileError = ConfigText.FileError

    static let connectionKeywords: Set<String> = ["connect_ip", "connect_port", "bindto", "bind_port", "bind_if",
                                                  "connect_timeout", "fwmark"]
    static let commonKeywords: Set<String> = ["retry", "nb_get_retry", "delay_before_retry", "warmup", "delay_loop",
                                              "alpha", "log_all_failures"]
    /// Each checker's own keywords (sub-blocks such as `url { }` included by name).
    static let ownKeywords: [CheckSpec.Kind: Set<String>] = [
        .tcp: [],
        .http: ["url", "virtualhost", "http_protocol", "fast_recovery", "enable_sni", "sni_name", "tls_compliant"],
        .smtp: ["helo_name"],
        .misc: ["misc_path", "misc_timeout", "misc_dynamic", "user"],
        .dns: ["type", "name"],
        .udp: ["payload", "require_reply", "min_reply_length", "max_reply_length"],
        .ping: [],
        .file: [],
    ]
    static let urlKeywords: Set<String> = ["path", "digest", "status_code", "virtualhost", "regex", "regex_no_match"]

    /// FILE_CHECK { track_file NAME  weight W [reverse|noreverse] }: no probe, the tracked
    /// file's number decides (settings: file, weight, reverse; weight 0 takes the track_file's).
    static func fileCheck(_ st: ConfigStatement, _ base: CheckSpec, _ inh: KeepalivedReader.Inherited) throws(FileError) -> CheckSpec {
        var spec = base
        spec.retry = 0   // a fault takes the checker down at once
        var file: TrackedFile?, weight = 0, reverse = false
        for c in st.children ?? [] {
            switch c.keyword {
            case "track_file":
                guard c.arguments.count == 1 else { throw KeepalivedReader.err(c, "FILE_CHECK: track_file needs a name") }
                guard let f = inh.trackedFiles[c.arguments[0]] else {
                    throw KeepalivedReader.err(c, "track_file \(c.arguments[0]) not found (its block must come before this FILE_CHECK)")
                }
                file = f
            case "weight":
                guard let w = c.arguments.first.flatMap({ Int($0) }), (-65535...65535).contains(w) else {
                    throw KeepalivedReader.err(c, "FILE_CHECK: weight must be in -65535…65535")
                }
                weight = w
                if c.arguments.count > 1 {
                    guard ["reverse", "noreverse"].contains(c.arguments[1]), c.arguments.count == 2 else {
                        throw KeepalivedReader.err(c, "FILE_CHECK: unknown weight option '\(c.arguments[1])'")
                    }
                    reverse = c.arguments[1] == "reverse"
                }
            default: throw KeepalivedReader.err(c, "FILE_CHECK: unknown keyword '\(c.keyword)'")
            }
        }
        guard let f = file else { throw KeepalivedReader.err(st, "FILE_CHECK has no track_file") }
        if weight == 0 { weight = f.weight; reverse = f.reverse }
        spec.settings = [("track_file", [f.name]), ("file", [f.path]), ("weight", [String(weight)]), ("reverse", [reverse ? "yes" : "no"])]
        return spec
    }

    static func check(_ st: ConfigStatement, inherited inh: KeepalivedReader.Inherited) throws(FileError) -> CheckSpec {
        let kind = CheckSpec.Kind(rawValue: st.keyword)!
        let own = ownKeywords[kind == .https ? .http : kind] ?? []
        let isMisc = kind == .misc
        // Checker defaults (§3.5): retry / delay_before_retry.
        var retry: Int, dbr: Double
        switch kind {
        case .http, .https: retry = 1; dbr = 3
        case .dns: retry = 3; dbr = inh.delayLoop
        case .misc: retry = 0; dbr = 1
        default: retry = 1; dbr = 1
        }
        if let r = inh.retry { retry = r }
        if let d = inh.delayBeforeRetry { dbr = d }
        var spec = CheckSpec(kind: kind, source: ConfigSource(file: st.file, line: st.line),
                             interval: inh.delayLoop, timeout: isMisc ? inh.delayLoop : inh.connectTimeout,
                             retry: retry, delayBeforeRetry: dbr)
        if kind == .file { return try fileCheck(st, spec, inh) }
        if let v = inh.vhost { spec.settings.append(("virtualhost", [v])) }
        for c in st.children ?? [] {
            let k = c.keyword
            switch k {
            case "retry", "nb_get_retry":
                spec.retry = Int(try KeepalivedReader.int(c, 0...Int64(Int32.max)))
            case "delay_before_retry": spec.delayBeforeRetry = try KeepalivedReader.timer(c)
            case "delay_loop": spec.interval = try KeepalivedReader.timer(c)
            case "connect_timeout" where !isMisc: spec.timeout = try KeepalivedReader.timer(c)
            case "misc_timeout" where isMisc: spec.timeout = try KeepalivedReader.timer(c)
            case "connect_ip" where !isMisc:
                guard c.arguments.count == 1, IPAddr(c.arguments[0]) != nil else { throw KeepalivedReader.err(c, "connect_ip needs an address") }
                spec.connectIP = c.arguments[0]
            case "connect_port" where !isMisc:
                guard c.arguments.count == 1, let p = UInt16(c.arguments[0]) else { throw KeepalivedReader.err(c, "connect_port needs a port") }
                spec.connectPort = p
            case "bindto" where !isMisc:
                guard c.arguments.count == 1, IPAddr(c.arguments[0]) != nil else { throw KeepalivedReader.err(c, "bindto needs an address") }
                spec.bindTo = c.arguments[0]
            case "url" where kind == .http || kind == .https:
                var parts: [String] = []
                for u in c.children ?? [] {
                    guard urlKeywords.contains(u.keyword) else { throw KeepalivedReader.err(u, "url: unknown keyword '\(u.keyword)'") }
                    parts.append(u.keyword + "=" + u.arguments.joined(separator: " "))
                }
                guard parts.contains(where: { $0.hasPrefix("path=") }) else { throw KeepalivedReader.err(c, "url needs a path") }
                spec.settings.append(("url", parts))
            default:
                if commonKeywords.contains(k) || connectionKeywords.contains(k) && !isMisc || own.contains(k) {
                    spec.settings.append((k, c.arguments))
                } else {
                    throw KeepalivedReader.err(c, "\(st.keyword): unknown keyword '\(k)'")
                }
            }
        }
        if kind == .misc, !spec.settings.contains(where: { $0.0 == "misc_path" }) {
            throw KeepalivedReader.err(st, "MISC_CHECK needs misc_path")
        }
        if (kind == .http || kind == .https), !spec.settings.contains(where: { $0.0 == "url" }) {
            throw KeepalivedReader.err(st, "\(st.keyword) needs at least one url")
        }
        return spec
    }
}
