import UVSControl
import UVSEngine
import UVSPacket

/// What the control socket and SIGHUP do to a running director. Every change is checked
/// on a copy of the configuration first and reaches the workers only when all of it is
/// valid; workers apply it between two batches, keeping every existing connection.
extension Director {
    typealias Response = ControlProtocol.Response

    func execute(_ req: ControlProtocol.Request) -> Response {
        let args = req.arguments
        if let ext = controlExtension, let r = ext(args) { return r }
        if args.first == "--sysctl" { return sysctl(Array(args.dropFirst())) }
        if args == ["--drops"] {
            let lines = dropReport().map { "\($0.0) \($0.1)\n" }.joined()
            return Response(status: 0, output: lines)
        }
        let cmd: IPVSCommand
        do { cmd = try CommandParser.parse(args) } catch {
            return Response(status: error.status, error: error.message + "\n")
        }
        switch cmd {
        case .help: return Response(status: 0, output: Help.text + "\n")
        case .version: return Response(status: 0, output: "uvsadm v1.31 (uvs, ipvsadm-compatible)\n")
        case .list(let o): return list(o)
        case .save(let numeric): return Response(status: 0, output: lock.with { Listing.save(config, numeric: numeric) })
        case .restore: return restore(req.input)
        default:
            if let e = apply([(nil, cmd)], source: "uvsadm") { return Response(status: 255, error: e + "\n") }
            return Response(status: 0)
        }
    }

    func list(_ o: ListOptions) -> Response {
        if o.connections {
            var text = ""
            for (i, w) in workers.enumerated() {
                let box = ResultBox<String>()
                w.perform { box.value = Listing.connections($0.engine, o) }
                let t = box.value!
                // One header for all workers.
                text += i == 0 ? t : t.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n")
            }
            return Response(status: 0, output: text)
        }
        return lock.with {
            if let k = o.service, !config.services.contains(where: { $0.live && $0.key == k }) {
                return Response(status: 1, error: "No such service\n")
            }
            var view = config
            view.showCounters(of: snapshots())
            return Response(status: 0, output: Listing.list(view, o))
        }
    }

    /// `-R`: the whole batch or nothing, the failing line reported.
    func restore(_ input: [UInt8]) -> Response {
        var cmds: [(Int?, IPVSCommand)] = []
        for (n, line) in String(decoding: input, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = CommandParser.words(String(line)).filter { $0 != "ipvsadm" }
            if words.isEmpty { continue }
            do {
                let c = try CommandParser.parse(words)
                switch c {
                case .list, .save, .restore, .help, .version:
                    return Response(status: 2, error: "-R line \(n + 1): '\(words[0])' is not a configuration command; nothing was changed\n")
                default: cmds.append((n + 1, c))
                }
            } catch {
                return Response(status: error.status, error: "-R line \(n + 1): \(error.message)\nnothing was changed\n")
            }
        }
        if let e = apply(cmds, source: "-R") { return Response(status: 255, error: e + "\nnothing was changed\n") }
        return Response(status: 0)
    }

    /// Applies `commands` atomically; returns the error text, or nil when applied.
    func apply(_ commands: [(line: Int?, command: IPVSCommand)], source: String, marks newMarks: [MarkRule]? = nil) -> String? {
        lock.with { () -> String? in
            var trial = config
            for (line, c) in commands {
                do { try Rules.apply(c, to: &trial, links: SyncSockets.link) } catch {
                    return (line.map { "\(source) line \($0): " } ?? "") + String(describing: error)
                }
            }
            let syncChange: SyncChange
            do { syncChange = try prepareSync(from: config.syncDaemons, to: trial.syncDaemons) } catch {
                return "uvsd: \(String(describing: error))"
            }
            let daemons = trial.syncDaemons
            let masterFD = syncChange.masterFD ?? syncMasterFD
            let marks = newMarks ?? self.marks
            trial.marks = marks
            // Next hops for new real servers: known, from the kernel, or to be resolved.
            let known = neighbourLock.with { neighbours }
            var macs: [IPAddr: MACAddr] = [:]
            let kernel = KernelNeighbours.dump()
            for r in Self.realServers(trial) {
                macs[r] = known[r] ?? kernel.first(where: { $0.addr == r && $0.ifindex == server.index })?.mac ?? .zero
            }
            let sel = selectionFor(trial, marks)
            let vips = Set(sel.vips)
            let nextHops = macs
            let cmds = commands.map(\.command)
            for w in workers {
                w.perform { s in
                    for (a, m) in nextHops where s.engine.topology.neighbours[a] == nil { s.engine.setNeighbour(a, m) }
                    for c in cmds { try? Rules.apply(c, to: &s.engine) }
                    s.engine.marks = marks
                    s.vips = vips
                    s.engine.adoptSyncDaemons(daemons)
                    s.syncFD = masterFD
                }
            }
            commitSync(syncChange)
            config = trial
            self.marks = marks
            if sel != selection { updateFilters(sel) }
            return nil
        }
    }

    /// New services or NAT servers: every ring's filter and the tc guard follow.
    func updateFilters(_ sel: TrafficSelection) {
        let added = sel.vips.filter { !selection.vips.contains($0) }
        selection = sel
        syncLock.with { syncSelection = sel }
        guard let filter = try? sel.socketFilter() else { log.error("cannot compile the new socket filter"); return }
        for w in workers {
            w.perform { s in for i in s.rings.indices { _ = s.rings[i].replaceFilter(filter) } }
        }
        // The fanout program knows the VIPs and the persistence netmask: a new VIP's clients
        // must be hashed by their own address too (one ring per link is enough: the program
        // is the group's).
        if workers.count > 1, let first = workers.first {
            let program = sel.fanoutProgram()
            let log = self.log
            first.perform { s in
                for i in s.rings.indices where !s.rings[i].replaceFanout(program) {
                    log.error("cannot replace the fanout program: the new services' flows may split across workers")
                }
            }
        }
        for g in guards {
            do { try g.install(sel) } catch { log.error("\(error.description)") }
        }
        announceVIPs(added)
    }

    /// SIGHUP: re-read the rules (and marks) file and apply only the difference.
    func reload() {
        if let e = replaceRules(with: nil) { log.error("SIGHUP: \(e); keeping the previous rules") }
    }

    /// Makes the table that of `text` (ipvsadm -R; nil: the rules file again), applying only
    /// the difference, every existing connection kept. Returns the error, nil when applied.
    public func replaceRules(with text: String?) -> String? {
        var o = options
        if let t = text { o.rulesText = t } else { o.rulesText = nil }
        let (next, marks): (Engine, [MarkRule])
        do {
            (next, marks) = try Self.loadConfiguration(o, topology: Self.placeholderTopology, sysctls: config.sysctls)
        } catch {
            return error.description
        }
        let cmds = lock.with { RulesDiff.commands(from: config, to: next) }
        if let e = apply(cmds.map { (nil, $0) }, source: options.rulesPath, marks: marks) { return e }
        log.info("rules reloaded, \(cmds.count) change(s)")
        return nil
    }

    /// uvsadm commands (words, as `uvsadm` takes them) from the health checks, all or nothing.
    public func applyCommands(_ commands: [[String]], source: String) -> String? {
        var parsed: [(Int?, IPVSCommand)] = []
        for w in commands {
            do { parsed.append((nil, try CommandParser.parse(w))) } catch { return "\(w.joined(separator: " ")): \(error.message)" }
        }
        return apply(parsed, source: source)
    }

    /// `uvsadm --sysctl KEY[=VAL]...`: read or set the engine's sysctls.
    func sysctl(_ args: [String]) -> Response {
        guard !args.isEmpty else {
            let s = lock.with { config.sysctls }
            return Response(status: 0, output: Sysctls.keys.map { "net.ipv4.vs.\($0) = \(s.value(of: $0)!)\n" }.joined())
        }
        var out = ""
        return lock.with { () -> Response in
            var trial = config.sysctls
            for a in args {
                if a.contains("=") {
                    do { try trial.set(a) } catch { return Response(status: 2, error: "uvsadm: \(error)\n") }
                } else {
                    guard let v = trial.value(of: a) else {
                        return Response(status: 2, error: "uvsadm: \(Sysctls.SetError.unknownKey(a))\n")
                    }
                    let key = a.hasPrefix("net.ipv4.vs.") ? a : "net.ipv4.vs." + a
                    out += "\(key) = \(v)\n"
                }
            }
            let s = trial
            config.sysctls = s
            for w in workers { w.perform { $0.engine.sysctls = s } }
            return Response(status: 0, output: out)
        }
    }
}
