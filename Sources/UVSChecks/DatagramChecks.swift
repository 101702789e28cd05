import NIOCore
import UVSConfig

/// DNS_CHECK (keepalived), ldirectord's dns service, UDP_CHECK and PING_CHECK over
/// `DatagramProbe`.
enum DatagramChecks {
    static let dnsTypes: [String: UInt16] = ["A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28]

    /// A recursive query for `name` of `type` with `id`.
    static func query(id: UInt16, name: String, type: UInt16) -> [UInt8] {
        var q: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") where !label.isEmpty {
            let b = Array(label.utf8.prefix(63))
            q.append(UInt8(b.count)); q += b
        }
        q += [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        return q
    }

    /// A (possibly compressed) name at `off`; the offset after it.
    static func name(_ m: [UInt8], _ off: Int) -> (String, Int)? {
        var labels: [String] = [], i = off, end: Int?, hops = 0
        while i < m.count {
            let l = Int(m[i])
            if l == 0 { return (labels.joined(separator: "."), end ?? i + 1) }
            if l & 0xC0 == 0xC0 {
                guard i + 1 < m.count, hops < 16 else { return nil }
                if end == nil { end = i + 2 }
                i = (l & 0x3F) << 8 | Int(m[i + 1]); hops += 1
                continue
            }
            guard i + 1 + l <= m.count else { return nil }
            labels.append(String(decoding: m[(i + 1)..<(i + 1 + l)], as: UTF8.self))
            i += 1 + l
        }
        return nil
    }

    /// The A addresses and PTR names of the answer section.
    static func answers(_ m: [UInt8]) -> [String] {
        guard m.count >= 12 else { return [] }
        let qd = Int(m[4]) << 8 | Int(m[5]), an = Int(m[6]) << 8 | Int(m[7])
        var i = 12
        for _ in 0..<qd { guard let (_, n) = name(m, i) else { return [] }; i = n + 4 }
        var out: [String] = []
        for _ in 0..<an {
            guard let (_, n) = name(m, i), n + 10 <= m.count else { break }
            let type = Int(m[n]) << 8 | Int(m[n + 1]), rdlen = Int(m[n + 8]) << 8 | Int(m[n + 9])
            let rd = n + 10
            guard rd + rdlen <= m.count else { break }
            if type == 1, rdlen == 4 { out.append("\(m[rd]).\(m[rd + 1]).\(m[rd + 2]).\(m[rd + 3])") }
            if type == 12, let (p, _) = name(m, rd) { out.append(p) }
            i = rd + rdlen
        }
        return out
    }

    static func run(_ spec: CheckSpec, format: ConfigFormat, target t: ProbeTarget, group: EventLoopGroup) async throws -> ProbeVerdict {
        switch spec.kind {
        case .dns:
            let id = UInt16.random(in: 0...UInt16.max)
            if format == .ldirectord {
                // ldirectord: the request (less its '/') as an A query, or PTR for an address;
                // an answer A address or PTR name must match receive (empty receive: down).
                let qname = spec.setting("request")?.first ?? ""
                let receive = spec.setting("receive")?.first ?? ""
                guard !receive.isEmpty else { return .fail("dns: empty receive") }
                let q = query(id: id, name: qname, type: qname.split(separator: ".").allSatisfy({ Int($0) != nil }) ? 12 : 1)
                let reply: [UInt8]
                if spec.setting("protocol")?.first == "tcp" {
                    reply = try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind,
                                                           connectTimeout: spec.timeout, budget: .total(spec.timeout)) { c in
                        try await c.send([UInt8(q.count >> 8), UInt8(q.count & 0xff)] + q)
                        // A 2-byte length, then the message; what came before EOF otherwise.
                        let m = try await c.readMessage { $0.count >= 2 ? 2 + (Int($0[0]) << 8 | Int($0[1])) : nil }
                        return Array((m ?? c.pending).dropFirst(2))
                    }
                } else {
                    guard case .answer(let r) = await DatagramProbe.exchange(host: t.ip, port: t.port, bind: t.bind, request: q,
                                                                             timeout: spec.timeout, accept: { $0.count >= 2 && $0[0] == q[0] && $0[1] == q[1] })
                    else { return .fail("dns: no answer") }
                    reply = r
                }
                let re = try Regex(receive)
                return answers(reply).contains(where: { $0.contains(re) }) ? .pass(weight: nil) : .fail("dns: no answer matches '\(receive)'")
            }
            // keepalived: matching ID, QR set, RCODE 0 (the answers are not inspected).
            let type = dnsTypes[(spec.setting("type")?.first ?? "SOA").uppercased()] ?? 6
            let q = query(id: id, name: spec.setting("name")?.first ?? "", type: type)
            switch await DatagramProbe.exchange(host: t.ip, port: t.port, bind: t.bind, request: q, timeout: spec.timeout,
                                                accept: { $0.count >= 12 && $0[0] == q[0] && $0[1] == q[1] }) {
            case .answer(let r):
                guard r[2] & 0x80 != 0 else { return .fail("dns: not a response") }
                return r[3] & 0x0F == 0 ? .pass(weight: nil) : .fail("dns: rcode \(r[3] & 0x0F)")
            case .refused: return .fail("dns: port unreachable")
            case .silence: return .fail("dns: no answer")
            case .failed(let m): return .fail("dns: \(m)")
            }
        case .udp:
            // keepalived UDP_CHECK: an ICMP error fails; with require_reply an answer must come
            // (matching the hex pattern on the shorter length, `x` nibbles free).
            let payload = hex(spec.setting("payload")?.first) ?? (0..<8).map { _ in UInt8.random(in: 0...255) }
            let required = spec.setting("require_reply")
            let pattern = required?.first
            let minLen = Int(spec.setting("min_reply_length")?.first ?? "") ?? 0
            let maxLen = Int(spec.setting("max_reply_length")?.first ?? "") ?? 255
            switch await DatagramProbe.exchange(host: t.ip, port: t.port, bind: t.bind, request: payload, timeout: spec.timeout,
                                                accept: { _ in true }) {
            case .refused: return .fail("udp: port unreachable")
            case .failed(let m): return .fail("udp: \(m)")
            case .silence: return required == nil ? .pass(weight: nil) : .fail("udp: no reply")
            case .answer(let r):
                guard let p = pattern else { return .pass(weight: nil) }
                guard r.count >= minLen, r.count <= maxLen else { return .fail("udp: reply length \(r.count)") }
                return hexMatches(p, r) ? .pass(weight: nil) : .fail("udp: reply does not match \(p)")
            }
        case .ping:
            let v6 = t.ip.contains(":")
            let id = UInt16.random(in: 1...UInt16.max), seq = UInt16.random(in: 1...UInt16.max)
            var echo: [UInt8] = [v6 ? 128 : 8, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)]
            echo += Array("uvs health check".utf8)
            if !v6 { let c = checksum(echo); echo[2] = UInt8(c >> 8); echo[3] = UInt8(c & 0xff) }
            let tries = format == .ldirectord ? max(1, Int(spec.setting("count")?.first ?? "") ?? 1) : 1
            for _ in 0..<tries {
                let o = await DatagramProbe.exchange(host: t.ip, port: 0, bind: t.bind, raw: true, request: echo, timeout: spec.timeout) { d in
                    // IPv4 raw sockets deliver the IP header; IPv6 ones do not.
                    let off = v6 ? 0 : Int(d.first.map { $0 & 0x0F } ?? 5) * 4
                    guard d.count >= off + 8 else { return false }
                    return d[off] == (v6 ? 129 : 0) && d[off + 4] == echo[4] && d[off + 5] == echo[5] && d[off + 6] == echo[6] && d[off + 7] == echo[7]
                }
                if case .answer = o { return .pass(weight: nil) }
            }
            return .fail("ping: no echo reply")
        default:
            return .fail("not a datagram check")
        }
    }

    static func hex(_ s: String?) -> [UInt8]? {
        guard let s, !s.isEmpty, s.count % 2 == 0 else { return nil }
        let c = Array(s)
        return stride(from: 0, to: c.count, by: 2).compactMap { UInt8(String(c[$0...$0 + 1]), radix: 16) }
    }

    /// keepalived's require_reply pattern: hex with `x` as a free nibble, compared on the shorter length.
    static func hexMatches(_ pattern: String, _ reply: [UInt8]) -> Bool {
        let p = Array(pattern.lowercased())
        for i in 0..<min(p.count / 2, reply.count) {
            let hi = p[2 * i], lo = p[2 * i + 1], b = reply[i]
            if hi != "x", UInt8(String(hi), radix: 16) != b >> 4 { return false }
            if lo != "x", UInt8(String(lo), radix: 16) != b & 0x0F { return false }
        }
        return true
    }

    static func checksum(_ d: [UInt8]) -> UInt16 {
        var s: UInt32 = 0
        var i = 0
        while i + 1 < d.count { s += UInt32(d[i]) << 8 | UInt32(d[i + 1]); i += 2 }
        if i < d.count { s += UInt32(d[i]) << 8 }
        while s >> 16 != 0 { s = (s & 0xffff) + (s >> 16) }
        return ~UInt16(s)
    }
}
