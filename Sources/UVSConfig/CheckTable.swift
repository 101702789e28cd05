/// `uvsd config --explain`: the checks of every real server, one line each.
public enum CheckTable {
    public static func render(_ cfg: DirectorConfig) -> String {
        var out = "\n# checks\n"
        out += "# real server            check       target                 every  timeout  retry  retry-delay  on failure\n"
        for s in cfg.services {
            for r in s.realServers {
                let sorry = s.sorryServer.map { "; all out: \($0.endpoint)" } ?? ""
                if r.checks.isEmpty {
                    out += "# \(pad(r.endpoint, 22)) (none: always up)\n"
                    continue
                }
                for c in r.checks where c.kind == .file {
                    // FILE_CHECK: no probe; the tracked file is read at every change.
                    let w = Int(c.setting("weight")?.first ?? "") ?? 0, rev = c.setting("reverse")?.first == "yes"
                    let effect = w == 0 ? (rev ? "out while it holds 0" : "out while it holds non-zero")
                        : "weight + \(rev ? "−" : "")\(w)×number; out at ≤ INT_MIN"
                    out += "# \(pad(r.endpoint, 22)) \(pad(c.kind.rawValue, 11)) \(pad(c.setting("file")?.first ?? "", 22)) "
                        + "\(pad("change", 6)) \(pad("-", 8)) \(pad("-", 6)) \(pad("-", 12)) \(effect)\(sorry)\n"
                }
                for c in r.checks where c.kind != .file {
                    // The probe goes to connect_ip/connect_port where set, else to the real server.
                    let target = c.connectIP == nil && c.connectPort == nil ? r.endpoint
                        : (c.connectIP ?? host(r.endpoint)) + ":" + (c.connectPort.map(String.init) ?? port(r.endpoint))
                    out += "# \(pad(r.endpoint, 22)) \(pad(c.kind.rawValue, 11)) \(pad(target, 22)) "
                        + "\(pad(fmt(c.interval), 6)) \(pad(fmt(c.timeout), 8)) \(pad(String(c.retry), 6)) "
                        + "\(pad(fmt(c.delayBeforeRetry), 12)) \(onFailure(cfg.format, r, c))\(sorry)\n"
                }
            }
        }
        return out
    }

    /// What a failure and a recovery do, as the file's own tool counts them.
    static func onFailure(_ format: ConfigFormat, _ r: ConfiguredRealServer, _ c: CheckSpec) -> String {
        let out = r.inhibitOnFailure ? "weight 0" : "removed"
        switch format {
        case .lvs:
            // nanny: one failure out; back after ⌊reentry/timeout⌋ passes in a row, at weight/32 doubling.
            let passes = max(1, c.interval > 0 ? Int(r.reentry / c.interval) : 0)
            return "\(out) at 1 fail; back after \(passes) pass\(passes == 1 ? "" : "es"), slow start"
        case .ldirectord:
            let n = max(1, r.failureCount)
            return "\(out) at \(n) fail\(n == 1 ? "" : "s") in a row; back at 1 pass"
        case .keepalived, .rules:
            // retry N: N + 1 failures in a row; a checker that starts up (no alpha) has none to spare.
            let start = r.alpha ? "starts down (alpha)" : "starts up, and its first fail takes it out"
            return "\(out) at \(c.retry + 1) fails in a row; back at 1 pass; \(start)"
        }
    }

    static func host(_ endpoint: String) -> String {
        if endpoint.hasPrefix("["), let e = endpoint.firstIndex(of: "]") { return String(endpoint[...e]) }
        return String(endpoint.prefix(while: { $0 != ":" }))
    }
    static func port(_ endpoint: String) -> String {
        endpoint.split(separator: ":").last.map(String.init) ?? "0"
    }
    static func fmt(_ v: Double) -> String { v == v.rounded() ? "\(Int(v))s" : "\(v)s" }
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
}
