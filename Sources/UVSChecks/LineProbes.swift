#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import UVSConfig

/// Probes that talk a line protocol: nanny's send/expect, SMTP (keepalived's SMTP_CHECK and
/// ldirectord's smtp), and ldirectord's simpletcp, nntp, pop and imap.
enum LineProbes {
    static func run(_ spec: CheckSpec, format: ConfigFormat, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        let budget: TCPExchange.Budget = format == .keepalived || format == .lvs ? .perRead(spec.timeout) : .total(spec.timeout)
        return try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind,
                                              tls: spec.setting("tls") != nil,
                                              connectTimeout: spec.timeout, budget: budget) { c in
            try await converse(spec, format: format, &c)
        }
    }

    static func converse(_ spec: CheckSpec, format: ConfigFormat, _ c: inout TCPExchange) async throws -> ProbeVerdict {
        switch spec.kind {
        case .sendExpect:
            if let s = spec.setting("send")?.first { try await c.send(Array(unescape(s).utf8)) }
            guard let expectRaw = spec.setting("expect")?.first else { return .pass(weight: nil) }
            // nanny: one read; literal mode needs strlen(expect) bytes starting with expect,
            // use_regex an unanchored POSIX ERE on ≤ 254 bytes, `*` any byte.
            _ = try await c.readMore()
            let got = c.pending
            guard !got.isEmpty else { return .fail("no answer") }
            let expect = unescape(expectRaw)
            if expect == "*" { return .pass(weight: nil) }
            if spec.setting("use_regex") != nil {
                return try posixMatch(expect, Array(got.prefix(254))) ? .pass(weight: nil) : .fail("answer does not match /\(expect)/")
            }
            let e = Array(expect.utf8)
            return got.count >= e.count && Array(got.prefix(e.count)) == e
                ? .pass(weight: nil) : .fail("answer does not start with '\(expect)'")
        case .smtp:
            let banner = try await c.readLine()
            guard banner.hasPrefix("220") else { return .fail("banner '\(banner)'") }
            let helo = spec.setting("helo_name")?.first ?? (format == .keepalived ? "smtpchecker.keepalived.org" : "localhost")
            try await c.send(Array("HELO \(helo)\r\n".utf8))
            let reply = try await c.readLine()
            guard reply.hasPrefix("250") else { return .fail("HELO answered '\(reply)'") }
            try await c.send(Array("QUIT\r\n".utf8))
            _ = try? await c.readLine()
            return .pass(weight: nil)
        case .simpleTCP:
            let request = (spec.setting("request")?.first ?? "").split(separator: "\\n", omittingEmptySubsequences: false).joined(separator: "\n")
            try await c.send(Array(request.utf8))
            c.finishSending()
            let body = String(decoding: try await c.readAll(), as: UTF8.self)
            let receive = spec.setting("receive")?.first ?? ""
            let re = try Regex(receive)
            return body.split(separator: "\n").contains(where: { $0.contains(re) }) || receive.isEmpty
                ? .pass(weight: nil) : .fail("no line matches '\(receive)'")
        case .nntp:
            _ = try await c.readMore()
            return c.pending.first == UInt8(ascii: "2") ? .pass(weight: nil) : .fail("greeting does not start with 2")
        case .pop, .imap:
            let banner = try await c.readLine()
            let ok = spec.kind == .pop ? banner.hasPrefix("+OK") : banner.hasPrefix("* OK")
            guard ok else { return .fail("banner '\(banner)'") }
            guard let login = spec.setting("login")?.first else { return .pass(weight: nil) }
            let pass = spec.setting("passwd")?.first ?? ""
            if spec.kind == .pop {
                try await c.send(Array("USER \(login)\r\n".utf8))
                guard try await c.readLine().hasPrefix("+OK") else { return .fail("USER refused") }
                try await c.send(Array("PASS \(pass)\r\n".utf8))
                guard try await c.readLine().hasPrefix("+OK") else { return .fail("login refused") }
                try await c.send(Array("QUIT\r\n".utf8))
            } else {
                try await c.send(Array("a1 LOGIN \(login) \(pass)\r\n".utf8))
                var line = try await c.readLine()
                while line.hasPrefix("*") { line = try await c.readLine() }
                guard line.hasPrefix("a1 OK") else { return .fail("login refused") }
                try await c.send(Array("a2 LOGOUT\r\n".utf8))
            }
            return .pass(weight: nil)
        default:
            return .fail("not a line protocol")
        }
    }

    /// nanny's escapes: \n \r \t \\ \' \" (any other backslash pair stays as it is).
    static func unescape(_ s: String) -> String {
        var out = ""
        var it = s.makeIterator()
        while let ch = it.next() {
            guard ch == "\\" else { out.append(ch); continue }
            guard let n = it.next() else { out.append("\\"); break }
            switch n {
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "\\", "'", "\"": out.append(n)
            default: out.append("\\"); out.append(n)
            }
        }
        return out
    }

    /// An unanchored POSIX extended regular expression, as nanny's regcomp/regexec.
    static func posixMatch(_ pattern: String, _ data: [UInt8]) throws -> Bool {
        var re = regex_t()
        guard regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0 else { return false }
        defer { regfree(&re) }
        let text = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        return regexec(&re, text, 0, nil, 0) == 0
    }
}
