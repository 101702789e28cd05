import UVSEngine

/// Applying ipvsadm commands to an engine, and rules files (`ipvsadm -R` format).
public enum Rules {
    public typealias FileError = ConfigText.FileError

    /// Parses every line first; nothing is applied unless all lines parse and apply.
    /// Blank lines and `#` comments are skipped.
    public static func parse(_ text: String, file: String) throws(FileError) -> [(line: Int, command: IPVSCommand)] {
        var out: [(Int, IPVSCommand)] = []
        for (n, words) in ConfigText.lines(text).enumerated() where !words.isEmpty {
            let cmd: IPVSCommand
            do {
                cmd = try CommandParser.parse(words)
            } catch {
                throw FileError(file: file, line: n + 1, message: error.message)
            }
            switch cmd {
            case .list, .save, .restore, .help, .version:
                throw FileError(file: file, line: n + 1, message: "'\(words[0])' is not a configuration command")
            default:
                out.append((n + 1, cmd))
            }
        }
        return out
    }

    /// Applies one configuration command. Sync daemons start on the interfaces `links`
    /// knows (nil: no such device); without `links` daemon commands are left to the caller.
    public static func apply(_ cmd: IPVSCommand, to e: inout Engine,
                             links: ((String) -> SyncLink?)? = nil) throws(IPVSError) {
        switch cmd {
        case .startDaemon(let d):
            if let links { try e.startSyncDaemon(d, link: links(d.interface)) }
        case .stopDaemon(let role):
            if links != nil { try e.stopSyncDaemon(role) }
        case .addService(let s): try e.addService(s)
        case .editService(let s): try e.editService(s)
        case .deleteService(let k): try e.deleteService(k)
        case .clear: e.clear()
        case .addServer(let k, let d): try e.addDestination(k, d)
        case .editServer(let k, let d): try e.editDestination(k, d)
        case .deleteServer(let k, let a, let p): try e.deleteDestination(k, addr: a, port: p)
        case .zero(let k): try e.zero(k)
        case .setTimeouts(let t, let f, let u): e.timeouts.set(tcp: t, tcpfin: f, udp: u)
        case .list, .save, .restore, .help, .version: break
        }
    }

    /// Loads a rules file into a fresh engine configuration: all or nothing.
    public static func load(_ text: String, file: String, into e: inout Engine,
                            links: ((String) -> SyncLink?)? = nil) throws(FileError) {
        let cmds = try parse(text, file: file)
        for (line, cmd) in cmds {
            do {
                try apply(cmd, to: &e, links: links)
            } catch {
                throw FileError(file: file, line: line, message: error.description)
            }
        }
    }
}
