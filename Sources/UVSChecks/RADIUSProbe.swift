#if canImport(Glibc)
import Glibc
#endif
import Crypto
import UVSConfig

/// ldirectord's radius check (Authen::Radius check_pwd): an Access-Request with User-Name,
/// User-Password hidden with the shared secret (RFC 2865 §5.2) and NAS-IP-Address; any answer
/// to it — Accept, Reject or Challenge — is up, as in ldirectord; silence within the timeout
/// is down. An answer must carry the request's identifier.
enum RADIUSProbe {
    static func request(id: UInt8, authenticator: [UInt8], login: String, password: String, secret: String) -> [UInt8] {
        var attrs: [UInt8] = []
        func add(_ type: UInt8, _ value: [UInt8]) { attrs += [type, UInt8(value.count + 2)] + value }
        add(1, Array(login.utf8.prefix(253)))
        add(2, hide(Array(password.utf8), secret: Array(secret.utf8), authenticator: authenticator))
        add(4, [127, 0, 0, 1])
        let length = 20 + attrs.count
        return [1, id, UInt8(length >> 8), UInt8(length & 0xff)] + authenticator + attrs
    }

    /// User-Password: padded to 16-byte blocks, each XORed with MD5(secret + previous block).
    static func hide(_ password: [UInt8], secret: [UInt8], authenticator: [UInt8]) -> [UInt8] {
        var p = Array(password.prefix(128))
        let padded = max(16, (p.count + 15) / 16 * 16)
        p += [UInt8](repeating: 0, count: padded - p.count)
        var out: [UInt8] = []
        var previous = authenticator
        for block in stride(from: 0, to: p.count, by: 16) {
            let b = Array(Insecure.MD5.hash(data: secret + previous))
            let c = (0..<16).map { p[block + $0] ^ b[$0] }
            out += c
            previous = c
        }
        return out
    }

    static func run(_ spec: CheckSpec, _ t: ProbeTarget) async -> ProbeVerdict {
        let id = UInt8.random(in: 0...255)
        let auth = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let req = request(id: id, authenticator: auth, login: spec.setting("login")?.first ?? "",
                          password: spec.setting("passwd")?.first ?? "", secret: spec.setting("secret")?.first ?? "")
        switch await DatagramProbe.exchange(host: t.ip, port: t.port, bind: t.bind, request: req, timeout: spec.timeout,
                                            accept: { $0.count >= 20 && $0[1] == id && [2, 3, 11].contains($0[0]) }) {
        case .answer: return .pass(weight: nil)
        case .refused: return .fail("radius: port unreachable")
        case .silence: return .fail("radius: no answer")
        case .failed(let m): return .fail("radius: \(m)")
        }
    }
}
