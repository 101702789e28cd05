import Crypto
import NIOCore
import UVSConfig

/// ldirectord's mysql check (DBI / DBD::mysql): log in as login with passwd (mysql_native_password,
/// also after an authentication switch) to database, run the request (less its leading '/');
/// up when it returns at least one row. Bounded by negotiatetimeout (ldirectord sets none).
enum MySQLProbe {
    /// A packet: 3-byte little-endian length, sequence id, payload.
    static func packet(_ seq: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [UInt8(payload.count & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count >> 16 & 0xff), seq] + payload
    }

    /// mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); empty for no password.
    static func nativePassword(_ password: String, scramble: [UInt8]) -> [UInt8] {
        guard !password.isEmpty else { return [] }
        let h1 = Array(Insecure.SHA1.hash(data: Array(password.utf8)))
        let h2 = Array(Insecure.SHA1.hash(data: h1))
        let h3 = Array(Insecure.SHA1.hash(data: scramble + h2))
        return zip(h1, h3).map { $0 ^ $1 }
    }

    /// The 20-byte scramble of a protocol-10 handshake.
    static func scramble(ofHandshake p: [UInt8]) -> [UInt8]? {
        guard p.first == 10, let versionEnd = p[1...].firstIndex(of: 0) else { return nil }
        let part1 = versionEnd + 1 + 4
        guard p.count >= part1 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 12 else { return nil }
        let part2 = part1 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
        return Array(p[part1..<(part1 + 8)]) + Array(p[part2..<(part2 + 12)])
    }

    /// HandshakeResponse41 with mysql_native_password.
    static func handshakeResponse(user: String, password: String, database: String, scramble: [UInt8]) -> [UInt8] {
        // LONG_PASSWORD | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION | PLUGIN_AUTH (| CONNECT_WITH_DB)
        var caps: UInt32 = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x80000
        if !database.isEmpty { caps |= 0x8 }
        let auth = nativePassword(password, scramble: scramble)
        var p: [UInt8] = [UInt8(caps & 0xff), UInt8(caps >> 8 & 0xff), UInt8(caps >> 16 & 0xff), UInt8(caps >> 24 & 0xff),
                          0, 0, 0, 1, 33] + [UInt8](repeating: 0, count: 23)
        p += Array(user.utf8) + [0] + [UInt8(auth.count)] + auth
        if !database.isEmpty { p += Array(database.utf8) + [0] }
        p += Array("mysql_native_password".utf8) + [0]
        return p
    }

    static func errorText(_ p: [UInt8]) -> String {
        // 0xff, code (2), '#', SQL state (5), message
        let start = p.count > 3 && p[3] == UInt8(ascii: "#") ? 9 : 3
        return p.count > start ? String(decoding: p[start...], as: UTF8.self) : "error"
    }

    static func isEOF(_ p: [UInt8]) -> Bool { p.first == 0xfe && p.count < 9 }

    static func run(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        let user = spec.setting("login")?.first ?? "", password = spec.setting("passwd")?.first ?? ""
        let database = spec.setting("database")?.first ?? ""
        let query = spec.setting("request")?.first ?? ""
        guard !user.isEmpty, !query.isEmpty else { return .fail("mysql: Must specify a login and request string") }
        return try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind,
                                              connectTimeout: spec.timeout, budget: .total(spec.timeout)) { c in
            // A 3-byte little-endian length, the sequence id, the payload.
            func next() async throws -> (UInt8, [UInt8])? {
                guard let m = try await c.readMessage(size: { p in
                    p.count >= 4 ? 4 + (Int(p[0]) | Int(p[1]) << 8 | Int(p[2]) << 16) : nil
                }) else { return nil }
                return (m[3], Array(m[4...]))
            }
            guard let (_, hello) = try await next() else { return .fail("mysql: no greeting") }
            if hello.first == 0xff { return .fail("mysql: \(errorText(hello))") }
            guard let scramble = scramble(ofHandshake: hello) else { return .fail("mysql: not a protocol 10 greeting") }
            try await c.send(packet(1, handshakeResponse(user: user, password: password, database: database, scramble: scramble)))
            while true {
                guard let (seq, reply) = try await next(), let first = reply.first else { return .fail("mysql: connection closed during login") }
                if first == 0x00 { break }
                if first == 0xff { return .fail("mysql: \(errorText(reply))") }
                guard first == 0xfe, let nameEnd = reply[1...].firstIndex(of: 0) else { return .fail("mysql: unexpected login reply") }
                // AuthSwitchRequest: plugin name, then its data (a new scramble).
                let plugin = String(decoding: reply[1..<nameEnd], as: UTF8.self)
                guard plugin == "mysql_native_password" else { return .fail("mysql: authentication plugin \(plugin) is not supported") }
                let data = Array(reply[(nameEnd + 1)...].prefix(20))
                try await c.send(packet(seq &+ 1, nativePassword(password, scramble: data)))
            }
            try await c.send(packet(0, [0x03] + Array(query.utf8)))
            guard let (_, head) = try await next(), let first = head.first else { return .fail("mysql: no answer to the query") }
            if first == 0xff { return .fail("mysql: \(errorText(head))") }
            if first == 0x00 { return .fail("mysql: the query returned no row") }   // OK: no result set
            // Column definitions up to EOF, then rows up to EOF.
            while true {
                guard let (_, p) = try await next() else { return .fail("mysql: connection closed in the result") }
                if isEOF(p) { break }
            }
            var rows = 0
            while true {
                guard let (_, p) = try await next() else { return .fail("mysql: connection closed in the result") }
                if p.first == 0xff { return .fail("mysql: \(errorText(p))") }
                if isEOF(p) { break }
                rows += 1
            }
            try? await c.send(packet(0, [0x01]))
            return rows > 0 ? .pass(weight: nil) : .fail("mysql: the query returned no row")
        }
    }
}
