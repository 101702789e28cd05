#if canImport(Glibc)
import Glibc
#endif
import UVSConfig
import UVSHealth

/// `uvsadm -L --checks`: each real server's check state — up or down, since when, the last
/// failure and its reason, the next probe — as text or JSON.
enum CheckListing {
    static func wall(_ t: Double, now: Double, wallNow: Double) -> String {
        var secs = time_t(wallNow - (now - t))
        var tm = tm()
        localtime_r(&secs, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday)) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))"
    }

    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }

    static func service(_ s: ServiceHealth) -> String {
        switch s.config.selector {
        case .address(let p, let ep): return (p == "-t" ? "TCP  " : p == "-u" ? "UDP  " : "SCTP ") + ep
        case .fwmark(let m, let v6): return "FWM  \(m)\(v6 ? " IPv6" : "")"
        }
    }

    static func checks(_ r: ServerHealth) -> String {
        r.config.checks.isEmpty ? "none" : r.config.checks.map(\.kind.rawValue).joined(separator: ",")
    }

    static func text(_ services: [ServiceHealth], now: Double, wallNow: Double) -> String {
        var out = "Prot LocalAddress:Port Quorum\n"
        out += "  -> RemoteAddress:Port           State Weight Check        Since               Next   Last failure\n"
        for s in services {
            out += service(s) + (s.quorumUp ? " up" : " down") + "\n"
            for r in s.servers {
                let next = r.nextProbe.min().map { max(0, $0 - now) }
                let nextText = next.map { String(Int(($0 * 10).rounded()) / 10) + "." + String(Int(($0 * 10).rounded()) % 10) + "s" } ?? "-"
                let failure = r.lastFailure.map { "\(wall($0.at, now: now, wallNow: wallNow)) \($0.reason)" } ?? "-"
                out += "  -> " + pad(r.config.endpoint, 28) + pad(r.alive ? "up" : "down", 6) + pad(String(r.weight), 7)
                    + pad(checks(r), 13) + pad(wall(r.since, now: now, wallNow: wallNow), 20) + pad(nextText, 7) + failure + "\n"
            }
        }
        return out
    }

    static func quote(_ s: String) -> String {
        var o = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": o += "\\\""
            case "\\": o += "\\\\"
            case "\n": o += "\\n"
            case "\r": o += "\\r"
            case "\t": o += "\\t"
            default:
                if u.value < 0x20 { o += "\\u00" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16) } else { o.unicodeScalars.append(u) }
            }
        }
        return o + "\""
    }

    static func json(_ services: [ServiceHealth], now: Double, wallNow: Double) -> String {
        var svcs: [String] = []
        for s in services {
            var servers: [String] = []
            for r in s.servers {
                let next = r.nextProbe.min().map { max(0, $0 - now) } ?? 0
                var f = "null"
                if let l = r.lastFailure {
                    f = "{\"at\":\(Int(wallNow - (now - l.at))),\"reason\":\(quote(l.reason))}"
                }
                servers.append("{\"address\":\(quote(r.config.endpoint)),\"state\":\(quote(r.alive ? "up" : "down")),"
                               + "\"weight\":\(r.weight),\"checks\":[\(r.config.checks.map { quote($0.kind.rawValue) }.joined(separator: ","))],"
                               + "\"since\":\(Int(wallNow - (now - r.since))),\"next_check_in\":\(Double(Int(next * 1000)) / 1000),"
                               + "\"last_failure\":\(f)}")
            }
            svcs.append("{\"service\":\(quote(service(s).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))),"
                        + "\"quorum\":\(quote(s.quorumUp ? "up" : "down")),\"servers\":[\(servers.joined(separator: ","))]}")
        }
        return "{\"services\":[\(svcs.joined(separator: ","))]}\n"
    }
}
