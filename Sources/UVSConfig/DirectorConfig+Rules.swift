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
            let sel: [String]
            switch s.selector {
            case .address(let p, let ep): sel = [p, ep]
            case .fwmark(let m, let v6): sel = ["-f", String(m)] + (v6 ? ["-6"] : [])
            }
            var a = ["-A"] + sel + ["-s", s.scheduler]
            if let p = s.persistence {
                a += ["-p", String(p)]
                if let m = s.netmask { a += ["-M", m] }
            }
            if s.onePacket { a.append("-o") }
            if !s.schedulerFlags.isEmpty { a += ["-b", s.schedulerFlags.joined(separator: ",")] }
            out.append((s.source, a))
            for r in s.realServers {
                // ldirectord checktype=off: never up, so absent (or quiesced at weight 0).
                let never = r.checks.contains { $0.kind == .off }
                if never && !r.inhibitOnFailure { continue }
                var d = ["-a"] + sel + ["-r", r.endpoint, r.method, "-w", String(never ? 0 : r.weight)] + r.tunnel
                if r.upperThreshold > 0 { d += ["-x", String(r.upperThreshold)] }
                if r.lowerThreshold > 0 { d += ["-y", String(r.lowerThreshold)] }
                out.append((r.source, d))
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
