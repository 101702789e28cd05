import Crypto
import NIOCore
import UVSConfig

/// HTTP_GET / SSL_GET as keepalived runs them, and ldirectord's http/https negotiate check.
enum HTTPProbe {
    struct Response { var status: Int; var body: [UInt8] }

    /// Splits a raw HTTP/1.x response into status and body (bounded by Content-Length).
    static func parse(_ raw: [UInt8]) -> Response? {
        guard let end = find(raw, [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: raw[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let first = lines.first, first.hasPrefix("HTTP/") else { return nil }
        let parts = first.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var body = Array(raw[(end + 4)...])
        for l in lines.dropFirst() {
            let kv = l.split(separator: ":", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "content-length",
               let n = Int(kv[1].drop(while: { $0 == " " })), n < body.count {
                body = Array(body[..<n])
            }
        }
        return Response(status: status, body: body)
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    static func md5Hex(_ body: [UInt8]) -> String {
        Hex.string(Insecure.MD5.hash(data: body))
    }

    static func hostHeader(_ t: ProbeTarget) -> String {
        t.ip.contains(":") ? "[\(t.ip)]:\(t.port)" : "\(t.ip):\(t.port)"
    }

    /// keepalived: every url must give a status in its list (200–299 by default), then its MD5
    /// digest, then its regex; each read has connect_timeout.
    static func keepalived(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        let tls = spec.kind == .https
        let vhost = spec.setting("virtualhost")?.first
        let proto = spec.setting("http_protocol")?.first ?? "1.0"
        for url in spec.settings where url.0 == "url" {
            var path = "/", codes: [ClosedRange<Int>] = [], digest: String?, regex: String?, noMatch = false
            var urlHost = vhost
            for p in url.1 {
                let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
                let v = kv.count == 2 ? kv[1] : ""
                switch kv[0] {
                case "path": path = v
                case "digest": digest = v.lowercased()
                case "virtualhost": urlHost = v
                case "regex": regex = v
                case "regex_no_match": noMatch = true
                case "status_code":
                    for w in v.split(separator: " ") {
                        let r = w.split(separator: "-").compactMap { Int($0) }
                        if r.count == 2 { codes.append(r[0]...r[1]) } else if r.count == 1 { codes.append(r[0]...r[0]) }
                    }
                default: break
                }
            }
            if codes.isEmpty { codes = [200...299] }
            var req = "GET \(path) HTTP/\(proto == "1.0C" ? "1.0" : proto)\r\nUser-Agent: KeepAliveClient\r\nHost: \(urlHost ?? hostHeader(t))\r\n"
            if proto == "1.0C" || proto == "1.1" { req += "Connection: close\r\n" }
            req += "\r\n"
            let raw = try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind, tls: tls,
                                                     serverName: urlHost, connectTimeout: spec.timeout,
                                                     budget: .perRead(spec.timeout)) { try await $0.exchange(Array(req.utf8)) }
            guard let r = parse(raw) else { return .fail("\(path): no HTTP response") }
            guard codes.contains(where: { $0.contains(r.status) }) else { return .fail("\(path): status \(r.status)") }
            if let d = digest, md5Hex(r.body) != d { return .fail("\(path): digest \(md5Hex(r.body)) differs") }
            if let re = regex {
                let matched = try matches(re, r.body)
                if matched == noMatch { return .fail("\(path): regex \(noMatch ? "matched" : "did not match")") }
            }
        }
        return .pass(weight: nil)
    }

    /// ldirectord: the url with `httpmethod`, `Host: virtualhost` or the server's address, the
    /// whole exchange within negotiatetimeout; any 2xx, and the body matching `receive` if set.
    static func ldirectord(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        let url = spec.setting("url")?.first ?? "/"
        var path = "/"
        if let s = HTTPProbe.find(Array(url.utf8), Array("://".utf8)) {
            let rest = Array(url.utf8)[(s + 3)...]
            if let slash = rest.firstIndex(of: UInt8(ascii: "/")) { path = String(decoding: rest[slash...], as: UTF8.self) }
        }
        let method = spec.setting("httpmethod")?.first ?? "GET"
        var host = spec.setting("virtualhost")?.first ?? (t.ip.contains(":") ? "[\(t.ip)]" : t.ip)
        var target = path
        if spec.setting("proxy") != nil {
            // http_proxy (LWP through a proxy): the absolute URI on the request line, Host its authority.
            target = url
            let rest = url.split(separator: "/", omittingEmptySubsequences: false)
            if rest.count > 2 { host = String(rest[2]) }
        }
        let req = "\(method) \(target) HTTP/1.0\r\nHost: \(host)\r\nUser-Agent: ldirectord (uvs)\r\nConnection: close\r\n\r\n"
        let raw = try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind, tls: spec.kind == .https,
                                                 serverName: spec.setting("virtualhost")?.first, connectTimeout: spec.timeout,
                                                 budget: .total(spec.timeout)) { try await $0.exchange(Array(req.utf8)) }
        guard let r = parse(raw) else { return .fail("no HTTP response") }
        guard (200...299).contains(r.status) else { return .fail("status \(r.status)") }
        if let re = spec.setting("receive")?.first, !re.isEmpty, try !matches(re, r.body) {
            return .fail("body does not match '\(re)'")
        }
        return .pass(weight: nil)
    }

    /// Perl/PCRE-style pattern, unanchored.
    static func matches(_ pattern: String, _ body: [UInt8]) throws -> Bool {
        let re = try Regex(pattern)
        return String(decoding: body, as: UTF8.self).contains(re)
    }
}
