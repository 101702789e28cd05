import NIOCore
import UVSConfig

/// ldirectord's ldap / ldaps check (Net::LDAP): a simple bind (login and passwd when both are
/// set, else anonymous), a base-scope search of the request (less its leading '/') with the
/// filter (objectClass=*); up when exactly one entry comes back and, if receive is set, its DN
/// matches it. The whole exchange within the check's timeout.
enum LDAPProbe {
    /// BER: a tag, a definite length (short or long form), the content.
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        let n = content.count
        let length: [UInt8] = n < 0x80 ? [UInt8(n)] : n < 0x100 ? [0x81, UInt8(n)] : [0x82, UInt8(n >> 8), UInt8(n & 0xff)]
        return [tag] + length + content
    }

    static func integer(_ v: Int) -> [UInt8] { tlv(0x02, [UInt8(v)]) }
    static func octets(_ s: String) -> [UInt8] { tlv(0x04, Array(s.utf8)) }
    static func message(id: Int, _ op: [UInt8]) -> [UInt8] { tlv(0x30, integer(id) + op) }

    /// BindRequest [APPLICATION 0]: version 3, name, simple [0] password.
    static func bind(id: Int, dn: String, password: String) -> [UInt8] {
        message(id: id, tlv(0x60, integer(3) + octets(dn) + tlv(0x80, Array(password.utf8))))
    }

    /// SearchRequest [APPLICATION 3]: base scope, never deref, no limits, all attributes,
    /// filter present [7] "objectClass".
    static func search(id: Int, base: String) -> [UInt8] {
        message(id: id, tlv(0x63, octets(base) + tlv(0x0a, [0]) + tlv(0x0a, [0]) + integer(0) + integer(0)
                                  + tlv(0x01, [0]) + tlv(0x87, Array("objectClass".utf8)) + tlv(0x30, [])))
    }

    static let unbind: [UInt8] = [0x30, 0x05, 0x02, 0x01, 0x03, 0x42, 0x00]

    /// One BER element at the start of `b`: (tag, content range, total length); nil if incomplete.
    static func element(_ b: [UInt8], at start: Int = 0) -> (tag: UInt8, content: Range<Int>, end: Int)? {
        guard b.count >= start + 2 else { return nil }
        var i = start + 1
        var len = Int(b[i]); i += 1
        if len & 0x80 != 0 {
            let n = len & 0x7f
            guard n >= 1, n <= 3, b.count >= i + n else { return nil }
            len = b[i..<(i + n)].reduce(0) { $0 << 8 | Int($1) }
            i += n
        }
        guard b.count >= i + len else { return nil }
        return (b[start], i..<(i + len), i + len)
    }

    /// The protocol op of an LDAPMessage: (op tag, op content).
    static func op(_ msg: [UInt8]) -> (UInt8, [UInt8])? {
        guard let m = element(msg), m.tag == 0x30, let id = element(msg, at: m.content.lowerBound), id.tag == 0x02,
              let o = element(msg, at: id.end) else { return nil }
        return (o.tag, Array(msg[o.content]))
    }

    /// The resultCode of a Bind/SearchDone response's content.
    static func resultCode(_ content: [UInt8]) -> Int? {
        guard let e = element(content), e.tag == 0x0a, !e.content.isEmpty else { return nil }
        return Int(content[e.content.lowerBound])
    }

    static func run(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        let login = spec.setting("login")?.first ?? "", pass = spec.setting("passwd")?.first ?? ""
        let base = spec.setting("request")?.first ?? ""
        let receive = spec.setting("receive")?.first ?? ""
        return try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind, tls: spec.setting("tls") != nil,
                                              connectTimeout: spec.timeout, budget: .total(spec.timeout)) { c in
            func next() async throws -> [UInt8]? { try await c.readMessage { element($0)?.end } }
            let anonymous = login.isEmpty || pass.isEmpty
            try await c.send(bind(id: 1, dn: anonymous ? "" : login, password: anonymous ? "" : pass))
            guard let b = try await next(), let (tag, content) = op(b), tag == 0x61, resultCode(content) == 0 else {
                return .fail("ldap: bind failed")
            }
            try await c.send(search(id: 2, base: base))
            var dns: [String] = []
            while true {
                guard let m = try await next(), let (tag, content) = op(m) else { return .fail("ldap: no answer received") }
                if tag == 0x64, let dn = element(content), dn.tag == 0x04 {
                    dns.append(String(decoding: content[dn.content], as: UTF8.self))
                } else if tag == 0x65 {
                    break
                }
            }
            try? await c.send(unbind)
            guard dns.count == 1 else { return .fail("ldap: \(dns.count) entries for base '\(base)'") }
            if !receive.isEmpty, try !HTTPProbe.matches(receive, Array(dns[0].utf8)) {
                return .fail("ldap: response mismatch ('\(dns[0])')")
            }
            return .pass(weight: nil)
        }
    }
}
