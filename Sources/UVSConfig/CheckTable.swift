/// `uvsd config --explain`: the checks of every real server, one line each.
public enum CheckTable {
    public static func render(_ cfg: DirectorConfig) -> String {
        var out = "\n# checks\n"
        out += "# real server            check       target                 every  timeout  retry  retry-delay  on failure\n"
        for s in cfg.services {
            for r in s.realServers {
                let failure = r.inhibitOnFailure ? "weight 0" : "removed"
                if r.checks.isEmpty {
                    out += "# \(pad(r.endpoint, 22)) (none: always up)\n"
                    continue
                }
                for c in r.checks {
                    // The probe goes to connect_ip/connect_port where set, else to the real server.
                    let target = c.connectIP == nil && c.connectPort == nil ? r.endpoint
                        : (c.connectIP ?? host(r.endpoint)) + ":" + (c.connectPort.map(String.init) ?? port(r.endpoint))
                    out += "# \(pad(r.endpoint, 22)) \(pad(c.kind.rawValue, 11)) \(pad(target, 22)) "
                        + "\(pad(fmt(c.interval), 6)) \(pad(fmt(c.timeout), 8)) \(pad(String(c.retry), 6)) "
                        + "\(pad(fmt(c.delayBeforeRetry), 12)) \(failure)\n"
                }
            }
        }
        return out
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
