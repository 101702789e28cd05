import NIOCore
import UVSConfig

/// A probe's verdict: passed (with keepalived misc_dynamic's weight), or failed and why.
public enum ProbeVerdict: Sendable, Equatable {
    case pass(weight: Int64?)
    case fail(String)
    public var passed: Bool { if case .pass = self { return true } else { return false } }
}

/// What a probe is aimed at: the real server (or connect_ip/connect_port), and the
/// virtual service for programs that are told about it.
struct ProbeTarget: Sendable {
    var ip: String
    var port: Int
    var vip: String
    var vport: Int
    var fwmark: UInt32?
    var configuredWeight: Int64
    var bind: String?

    init(spec: CheckSpec, server: ConfiguredRealServer, service: ConfiguredService, bind: String?) {
        let (rip, rport) = Self.split(server.endpoint)
        ip = spec.connectIP ?? rip
        port = Int(spec.connectPort ?? UInt16(rport))
        switch service.selector {
        case .address(_, let ep): (vip, vport) = Self.split(ep); fwmark = nil
        case .fwmark(let m, _): vip = ""; vport = 0; fwmark = m
        }
        configuredWeight = server.weight
        self.bind = spec.bindTo ?? bind
    }

    /// "IP:PORT" or "[IPv6]:PORT" → (IP, PORT).
    static func split(_ ep: String) -> (String, Int) {
        if ep.hasPrefix("["), let e = ep.firstIndex(of: "]") {
            let host = String(ep[ep.index(after: ep.startIndex)..<e])
            let rest = ep[ep.index(after: e)...]
            return (host, Int(rest.dropFirst()) ?? 0)
        }
        guard let c = ep.lastIndex(of: ":") else { return (ep, 0) }
        return (String(ep[..<c]), Int(ep[ep.index(after: c)...]) ?? 0)
    }
}

/// Runs one probe of `spec` under its tool's rules.
enum Probe {
    static func run(_ spec: CheckSpec, format: ConfigFormat, target t: ProbeTarget, group: EventLoopGroup,
                    negotiate: Bool = true) async -> ProbeVerdict {
        do {
            switch spec.kind {
            case .tcp:
                return try await connectOnly(spec, t, group)
            case .http, .https:
                if format == .ldirectord && !negotiate { return try await connectOnly(spec, t, group) }
                return format == .ldirectord
                    ? try await HTTPProbe.ldirectord(spec, t, group)
                    : try await HTTPProbe.keepalived(spec, t, group)
            case .smtp, .sendExpect, .simpleTCP, .nntp, .pop, .imap:
                if format == .ldirectord && !negotiate { return try await connectOnly(spec, t, group) }
                return try await LineProbes.run(spec, format: format, t, group)
            case .misc, .external, .sendProgram:
                return await programs(spec, t)
            case .off:
                return .fail("checktype=off")
            case .ftp:
                return await FTPProbe.run(spec, t, group)
            case .sip:
                return try await SIPProbe.run(spec, t, group)
            case .radius:
                return await RADIUSProbe.run(spec, t)
            case .ldap:
                return try await LDAPProbe.run(spec, t, group)
            case .pgsql:
                return try await PostgresProbe.run(spec, t, group)
            case .mysql:
                return try await MySQLProbe.run(spec, t, group)
            case .dns, .udp, .ping:
                return try await DatagramChecks.run(spec, format: format, target: t, group: group)
            case .file:
                return .fail("FILE_CHECK has no probe (its tracked file is watched)")
            }
        } catch {
            return .fail("\(error)")
        }
    }

    static func connectOnly(_ spec: CheckSpec, _ t: ProbeTarget, _ group: EventLoopGroup) async throws -> ProbeVerdict {
        try await TCPExchange.converse(group: group, host: t.ip, port: t.port, bind: t.bind,
                                       connectTimeout: spec.timeout, budget: .total(spec.timeout)) { _ in .pass(weight: nil) }
    }

    static func programs(_ spec: CheckSpec, _ t: ProbeTarget) async -> ProbeVerdict {
        switch spec.kind {
        case .misc:
            // keepalived: misc_path's words, TERM at misc_timeout, KILL 2 s later; exit 0 = up;
            // misc_dynamic: 1 = down, 0 = the configured weight, 2–255 = weight status − 2.
            let argv = (spec.setting("misc_path") ?? []).flatMap { $0.split(separator: " ").map(String.init) }
            let o = await ProgramProbe.run(argv, timeout: spec.timeout)
            guard let st = o.status, !o.timedOut else { return .fail(o.timedOut ? "misc_path timed out (killed)" : "misc_path killed by a signal") }
            if spec.setting("misc_dynamic") != nil {
                switch st {
                case 0: return .pass(weight: t.configuredWeight)
                case 1: return .fail("misc_path exited 1")
                default: return .pass(weight: Int64(st) - 2)
                }
            }
            return st == 0 ? .pass(weight: nil) : .fail("misc_path exited \(st)")
        case .external:
            let o = await ProgramProbe.run(spec.setting("command") ?? [], timeout: spec.timeout, killAfter: 1)
            if o.timedOut { return .fail("checkcommand timed out (killed)") }
            return o.status == 0 ? .pass(weight: nil) : .fail("checkcommand exited \(o.status.map(String.init) ?? "on a signal")")
        default:
            // nanny's send_program: split on blanks, a word that is exactly %h / %p is the server's
            // address / port; its output, less the last byte, must equal expect. A program that
            // fails, crashes or hangs is a failure (nanny counts it healthy: see README).
            let line = spec.setting("send_program")?.first ?? ""
            let argv = line.split(separator: " ").map { $0 == "%h" ? t.ip : $0 == "%p" ? String(t.port) : String($0) }
            let o = await ProgramProbe.run(argv, timeout: spec.timeout, killAfter: 0)
            guard o.status == 0, !o.timedOut else {
                return .fail(o.timedOut ? "send_program timed out (killed)" : "send_program exited \(o.status.map(String.init) ?? "on a signal")")
            }
            let result = String(decoding: o.output.dropLast(), as: UTF8.self)
            guard let expect = spec.setting("expect")?.first else { return .fail("send_program: no expect to compare with") }
            return result == LineProbes.unescape(expect) ? .pass(weight: nil) : .fail("send_program printed '\(result)', expected '\(expect)'")
        }
    }
}
