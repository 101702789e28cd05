import Crypto
import NIOCore
import UVSConfig

/// ldirectord's pgsql check (DBI / DBD::Pg): connect as login to database (the login's own when
/// unset) with passwd — cleartext, MD5 or SCRAM-SHA-256, whichever the server asks for — run
/// the request (less its leading '/') as a simple query; up when it returns at least one row.
/// ldirectord gives the connection no timeout; uvs bounds the exchange by negotiatetimeout.
enum PostgresProbe {
    static func int32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    static func cstring(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
    static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] { [UInt8(ascii: type.unicodeScalars.first!)] + int32(body.count + 4) + body }

    /// StartupMessage, protocol 3.0.
    static func startup(user: String, database: String) -> [UInt8] {
        var body = int32(196_608) + cstring("user") + cstring(user)
        if !database.isEmpty { body += cstring("database") + cstring(database) }
        body += [0]
        return int32(body.count + 4) + body
    }

    /// "md5" + md5(md5(password + user) + salt), hex.
    static func md5Password(user: String, password: String, salt: [UInt8]) -> String {
        let inner = Hex.string(Insecure.MD5.hash(data: Array((password + user).utf8)))
        return "md5" + Hex.string(Insecure.MD5.hash(data: Array(inner.utf8) + salt))
    }

    /// SCRAM-SHA-256 (RFC 5802 / 7677): the client-final message and the server signature expected.
    static func scramFinal(password: String, clientFirstBare: String, serverFirst: String) -> (final: String, serverSignature: [UInt8])? {
        var nonce = "", salt: [UInt8] = [], iterations = 0
        for part in serverFirst.split(separator: ",") {
            let v = String(part.dropFirst(2))
            if part.hasPrefix("r=") { nonce = v }
            if part.hasPrefix("s=") { salt = Base64.decode(v) ?? [] }
            if part.hasPrefix("i=") { iterations = Int(v) ?? 0 }
        }
        guard !nonce.isEmpty, !salt.isEmpty, iterations > 0 else { return nil }
        let key = SymmetricKey(data: Array(password.utf8))
        // Hi(): PBKDF2 with HMAC-SHA-256, one block.
        var u = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var salted = u
        for _ in 1..<iterations {
            u = Array(HMAC<SHA256>.authenticationCode(for: u, using: key))
            for k in salted.indices { salted[k] ^= u[k] }
        }
        let saltedKey = SymmetricKey(data: salted)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: saltedKey))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let withoutProof = "c=biws,r=" + nonce
        let auth = Array((clientFirstBare + "," + serverFirst + "," + withoutProof).utf8)
        let signature = Array(HMAC<SHA256>.authenticationCode(for: auth, using: SymmetricKey(data: storedKey)))
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        let serverKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: saltedKey))
        let serverSignature = Array(HMAC<SHA256>.authenticationCode(for: auth, using: SymmetricKey(data: serverKey)))
        return (withoutProof + ",p=" + Base64.encode(proof), serverSignature)
    }

    /// The 'M' field of an ErrorResponse.
    static func errorText(_ body: [UInt8]) -> String {
        var i = 0
        while i < body.count, body[i] != 0 {
            let field = body[i]
            let end = body[(i + 1)...].firstIndex(of: 0) ?? body.count
            if field == UInt8(ascii: "M") { return String(decoding: body[(i + 1)..<end], as: UTF8.self) }
            i = end + 1
        }
        return "error"
    }

    static func run(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        let user = spec.setting("login")?.first ?? "", password = spec.setting("passwd")?.first ?? ""
        let database = spec.setting("database")?.first ?? ""
        let query = spec.setting("request")?.first ?? ""
        // ldirectord logs this at every check and keeps the server down.
        guard !user.isEmpty, !query.isEmpty else { return .fail("pgsql: Must specify a login and request string") }
        return try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind,
                                              connectTimeout: spec.timeout, budget: .total(spec.timeout)) { c in
            // Type byte, then a 32-bit length that counts itself.
            func next() async throws -> (UInt8, [UInt8])? {
                guard let m = try await c.readMessage(size: { p in
                    p.count >= 5 ? 1 + max(4, Int(p[1]) << 24 | Int(p[2]) << 16 | Int(p[3]) << 8 | Int(p[4])) : nil
                }) else { return nil }
                return (m[0], Array(m[5...]))
            }
            try await c.send(startup(user: user, database: database))
            var clientFirstBare = "", expectedSignature: [UInt8]?
            // Authentication, then the server's parameters up to ReadyForQuery.
            login: while true {
                guard let (type, body) = try await next() else { return .fail("pgsql: connection closed during login") }
                switch type {
                case UInt8(ascii: "E"): return .fail("pgsql: \(errorText(body))")
                case UInt8(ascii: "Z"): break login
                case UInt8(ascii: "R"):
                    guard body.count >= 4 else { return .fail("pgsql: bad authentication request") }
                    let code = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                    switch code {
                    case 0: continue
                    case 3: try await c.send(message("p", cstring(password)))
                    case 5 where body.count >= 8:
                        try await c.send(message("p", cstring(md5Password(user: user, password: password, salt: Array(body[4..<8])))))
                    case 10:
                        let mechanisms = body[4...].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                        guard mechanisms.contains("SCRAM-SHA-256") else { return .fail("pgsql: no SASL mechanism uvs speaks") }
                        let nonce = Base64.encode((0..<18).map { _ in UInt8.random(in: 0...255) })
                        clientFirstBare = "n=,r=" + nonce
                        let first = Array(("n,," + clientFirstBare).utf8)
                        try await c.send(message("p", cstring("SCRAM-SHA-256") + int32(first.count) + first))
                    case 11:
                        guard let (final, sig) = scramFinal(password: password, clientFirstBare: clientFirstBare,
                                                           serverFirst: String(decoding: body[4...], as: UTF8.self)) else {
                            return .fail("pgsql: bad SCRAM challenge")
                        }
                        expectedSignature = sig
                        try await c.send(message("p", Array(final.utf8)))
                    case 12:
                        let v = String(decoding: body[4...], as: UTF8.self)
                        guard v.hasPrefix("v="), Base64.decode(String(v.dropFirst(2))) == expectedSignature else {
                            return .fail("pgsql: the server's SCRAM signature is wrong")
                        }
                    default: return .fail("pgsql: authentication method \(code) is not supported")
                    }
                default: continue   // ParameterStatus, BackendKeyData, NoticeResponse
                }
            }
            try await c.send(message("Q", cstring(query)))
            var rows = 0
            while true {
                guard let (type, body) = try await next() else { return .fail("pgsql: connection closed during the query") }
                if type == UInt8(ascii: "E") { return .fail("pgsql: \(errorText(body))") }
                if type == UInt8(ascii: "D") { rows += 1 }
                if type == UInt8(ascii: "Z") { break }
            }
            try? await c.send(message("X", []))
            return rows > 0 ? .pass(weight: nil) : .fail("pgsql: the query returned no row")
        }
    }
}
