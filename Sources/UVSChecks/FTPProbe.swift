import NIOCore
import UVSConfig

/// ldirectord's ftp check (Net::FTP): login, `CWD /`, `TYPE I`, `PASV`, `RETR request` on the
/// passive data connection, QUIT; each step within negotiatetimeout. ldirectord only logs a
/// failed step and matches `receive` against whatever was downloaded; uvs does the same, except
/// that an empty receive needs a complete download (an empty Perl pattern would pass a dead
/// server — see README).
enum FTPProbe {
    static func run(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async -> ProbeVerdict {
        let file = spec.setting("request")?.first ?? "/"
        let receive = spec.setting("receive")?.first ?? ""
        var login = spec.setting("login")?.first ?? ""
        if login.isEmpty { login = "anonymous" }   // Net::FTP's default user
        var pass = spec.setting("passwd")?.first ?? ""
        if pass.isEmpty && login == "anonymous" { pass = "-anonymous@" }
        var downloaded: [UInt8] = []
        var complete = false
        var problem = ""
        do {
            try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind,
                                           connectTimeout: spec.timeout, budget: .perRead(spec.timeout)) { c in
                guard try await reply(&c).hasPrefix("2") else { throw Step("greeting") }
                var r = try await command(&c, "USER \(login)")
                if r.hasPrefix("3") { r = try await command(&c, "PASS \(pass)") }
                guard r.hasPrefix("2") else { throw Step("login: \(r)") }
                guard try await command(&c, "CWD /").hasPrefix("2") else { throw Step("cwd /") }
                guard try await command(&c, "TYPE I").hasPrefix("2") else { throw Step("binary") }
                let pasv = try await command(&c, "PASV")
                guard pasv.hasPrefix("227"), let (host, port) = passive(pasv) else { throw Step("pasv: \(pasv)") }
                // The data connection, to the address the server gave (the control peer's if none).
                let dataHost = host == "0.0.0.0" ? t.ip : host
                try await TCPExchange.converse(group: group, host: dataHost, port: port, bind: t.bind,
                                               connectTimeout: spec.timeout, budget: .perRead(spec.timeout)) { d in
                    let start = try await command(&c, "RETR \(file)")
                    guard start.hasPrefix("1") || start.hasPrefix("2") else { throw Step("get \(file): \(start)") }
                    downloaded = try await d.readAll()
                }
                let done = try await reply(&c)
                complete = done.hasPrefix("2")
                if !complete { throw Step("get \(file): \(done)") }
                _ = try? await command(&c, "QUIT")
            }
        } catch {
            problem = "\(error)"
        }
        if receive.isEmpty {
            return complete ? .pass(weight: nil) : .fail("ftp: \(problem)")
        }
        do {
            if try HTTPProbe.matches(receive, downloaded) { return .pass(weight: nil) }
        } catch {
            return .fail("ftp: receive '\(receive)' is not a pattern")
        }
        return .fail("ftp: download does not match '\(receive)'" + (problem.isEmpty ? "" : " (\(problem))"))
    }

    struct Step: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func command(_ c: inout TCPExchange, _ line: String) async throws -> String {
        try await c.send(Array((line + "\r\n").utf8))
        return try await reply(&c)
    }

    /// One reply; a multi-line one (`123-` … `123 `) read to its last line.
    static func reply(_ c: inout TCPExchange) async throws -> String {
        let first = try await c.readLine()
        guard first.count >= 4, Array(first.utf8)[3] == UInt8(ascii: "-") else { return first }
        let end = String(first.prefix(3)) + " "
        while true {
            let l = try await c.readLine()
            if l.hasPrefix(end) { return l }
        }
    }

    /// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`.
    static func passive(_ reply: String) -> (String, Int)? {
        let digits = reply.drop(while: { !$0.isNumber }).dropFirst(3)
        let nums = digits.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard nums.count >= 6, nums.prefix(6).allSatisfy({ (0...255).contains($0) }) else { return nil }
        return (nums[0..<4].map(String.init).joined(separator: "."), nums[4] * 256 + nums[5])
    }
}
