import NIOCore
import UVSConfig

/// ldirectord's sip check: an OPTIONS request for `sip:LOGIN` over TCP or UDP (the virtual's
/// protocol), the whole exchange within negotiatetimeout; up when the first line of the reply
/// starts `SIP/2.0 200 OK`.
enum SIPProbe {
    static func request(login: String, from local: (String, Int)) -> [UInt8] {
        let callID = Hex.string((0..<8).map { _ in UInt8.random(in: 0...255) })
        let text = "OPTIONS sip:\(login) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP \(local.0):\(local.1);branch=z9hG4bKhjhs8ass877\r\n"
            + "Max-Forwards: 70\r\n"
            + "To: <sip:\(login)>\r\n"
            + "From: <sip:\(login)>;tag=1928301774\r\n"
            + "Call-ID: \(callID)\r\n"
            + "CSeq: 63104 OPTIONS\r\n"
            + "Contact: <sip:\(login)>\r\n"
            + "Accept: application/sdp\r\n"
            + "Content-Length: 0\r\n\r\n"
        return Array(text.utf8)
    }

    /// The verdict on a reply's first line.
    static func judge(_ reply: [UInt8]) -> ProbeVerdict {
        let first = String(decoding: reply.prefix(while: { $0 != 10 && $0 != 13 }), as: UTF8.self)
        if first.isEmpty { return .fail("sip: no reply") }
        return first.hasPrefix("SIP/2.0 200 OK") ? .pass(weight: nil) : .fail("sip: '\(first)'")
    }

    static func run(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        let login = spec.setting("login")?.first ?? ""
        if spec.setting("protocol")?.first == "udp" {
            switch await DatagramProbe.exchange(host: t.ip, port: t.port, bind: t.bind, request: [],
                                                requestFrom: { request(login: login, from: $0) },
                                                timeout: spec.timeout, accept: { _ in true }) {
            case .answer(let r): return judge(r)
            case .refused: return .fail("sip: port unreachable")
            case .silence: return .fail("sip: no reply")
            case .failed(let m): return .fail("sip: \(m)")
            }
        }
        return try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind,
                                              connectTimeout: spec.timeout, budget: .total(spec.timeout)) { c in
            try await c.send(request(login: login, from: c.local))
            return judge(Array(try await c.readLine().utf8))
        }
    }
}
