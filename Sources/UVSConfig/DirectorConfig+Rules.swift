import UVSControl
import UVSPacket
import UVSEngine

/// The IPVS rules a configuration stands for once every real server's checks pass: the
/// ipvsadm command lines its tool would issue, validated by ipvsadm's own grammar.
extension DirectorConfig {
    public typealias FileError = ConfigText.FileError

    /// ipvsadm argv, each with the line of the file it comes from.
    public func ipvsCommands() -> [(source: ConfigSource, words: [String])] {
        var out: [(ConfigSource, [String])] = []
        if let t = timeouts {
            out.append((services.first?.source ?? ConfigSource(file: "", line: 0),
                        ["--set", String(t.tcp), String(t.tcpfin), String(t.udp)]))
        }
        for s in services {
            out.append((s.source, s.addWords))
            for r in s.realServers {
                // ldirectord checktype=off: never up, so absent (or quiesced at weight 0).
                let never = r.checks.contains { $0.kind == .off }
                if never && !r.inhibitOnFailure { continue }
                out.append((r.source, ["-a"] + r.words(selector: s.selectorWords, weight: never ? 0 : r.weight)))
            }
        }
        return out
    }

    /// Applies the rules to `engine` (all or nothing for the caller: build into a copy).
    public func apply(to engine: inout Engine) throws(FileError) {
        for (src, words) in ipvsCommands() {
            do {
                let cmd = try CommandParser.parse(words)
                try Rules.apply(cmd, to: &engine)
            } catch let e as CommandError {
                throw FileError(file: src.file, line: src.line, message: e.message)
            } catch let e as IPVSError {
                throw FileError(file: src.file, line: src.line, message: e.description)
            } catch {
                throw FileError(file: src.file, line: src.line, message: "\(error)")
            }
        }
    }

    /// The IPVS table of the configuration at full health (no packet goes through it).
    public func engine() throws(FileError) -> Engine {
        var e = Engine(topology: .oracleDefaults(directorIPv4: IPAddr("192.0.2.254")!,
                                                  directorIPv6: IPAddr("2001:db8::fffe")!),
                       initialConnections: 16)
        try apply(to: &e)
        return e
    }

    /// `ipvsadm -S -n` of the configuration at full health.
    public func savedRules() throws(FileError) -> String {
        Listing.save(try engine(), numeric: true)
    }
}

extension ConfiguredService {
    /// ipvsadm's words for the service: `-t|-u|--sctp-service ADDR:PORT` or `-f MARK [-6]`.
    public var selectorWords: [String] {
        switch selector {
        case .address(let p, let ep): return [p, ep]
        case .fwmark(let m, let v6): return ["-f", String(m)] + (v6 ? ["-6"] : [])
        }
    }

    /// `ipvsadm -A` of the service.
    public var addWords: [String] {
        var a = ["-A"] + selectorWords + ["-s", scheduler]
        if let p = persistence {
            a += ["-p", String(p)]
            if let m = netmask { a += ["-M", m] }
        }
        if onePacket { a.append("-o") }
        if !schedulerFlags.isEmpty { a += ["-b", schedulerFlags.joined(separator: ",")] }
        return a
    }
}

extension ConfiguredRealServer {
    /// What follows `-a`/`-e` for this server at `weight`.
    public func words(selector: [String], weight: Int64) -> [String] {
        var d = selector + ["-r", endpoint, method, "-w", String(weight)] + tunnel
        if upperThreshold > 0 { d += ["-x", String(upperThreshold)] }
        if lowerThreshold > 0 { d += ["-y", String(lowerThreshold)] }
        return d
    }
}
