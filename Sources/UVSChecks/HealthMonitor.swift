#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import UVSConfig
import UVSHealth

/// Runs every real server's checks off the packet path — one task per checker on the checks'
/// event loop, each probing at its tool's pace — feeds the verdicts to the health state
/// machines and hands the resulting uvsadm commands to the director (which applies them
/// between batches). Also answers `uvsadm -L --checks` and SIGHUP reloads.
public final class HealthMonitor: @unchecked Sendable {
    /// Applies uvsadm commands (`-a`/`-e`/`-d` words); returns the error text, nil when applied.
    public typealias Apply = @Sendable ([[String]]) -> String?

    struct State {
        var config: DirectorConfig
        var services: [ServiceHealth]
        var applied: [[String: ServiceHealth.Entry]]
        var generation = 0
    }

    let group: MultiThreadedEventLoopGroup
    /// One per checks thread; a checker stays on one, and so do its connections.
    let executors: [EventLoopTaskExecutor]
    let state: NIOLockedValueBox<State>
    let apply: Apply
    let log: Logger
    let bind: String?
    let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    /// For measurements: each probe's scheduled time, start time and verdict (set before `start`).
    public var probeObserver: (@Sendable (Double, Double, ProbeVerdict) -> Void)?

    /// `threads`: the checks' event loops (off the workers' cores where the director pins them).
    /// `threadSetup` runs first on each of them (the director keeps them off its workers' CPUs).
    public init(_ config: DirectorConfig, bind: String? = nil, threads: Int = 2, threadSetup: (@Sendable () -> Void)? = nil,
                log: Logger, apply: @escaping Apply) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        if let setup = threadSetup { for loop in group.makeIterator() { loop.execute(setup) } }
        executors = group.makeIterator().map { EventLoopTaskExecutor($0) }
        let now = ProgramProbe.now()
        for f in config.trackedFiles { TrackedFileCheck.initialise(f) }
        var services = config.services.map { ServiceHealth($0, format: config.format, now: now) }
        Self.readTrackedFiles(&services, now: now)
        state = NIOLockedValueBox(State(config: config, services: services, applied: services.map { $0.desired() }))
        self.apply = apply
        self.log = log
        self.bind = bind
    }

    /// The table to start with, as `ipvsadm -R` text: every service, and the servers the
    /// tools add before any probe (keepalived without alpha, sorry/fallback servers).
    public func initialRules() -> String {
        state.withLockedValue { Self.table($0) }
    }

    static func table(_ s: State) -> String {
        var out = ""
        if let t = s.config.timeouts, t != (0, 0, 0) { out += "--set \(t.tcp) \(t.tcpfin) \(t.udp)\n" }
        for (i, svc) in s.services.enumerated() {
            out += svc.config.addWords.joined(separator: " ") + "\n"
            for (_, e) in s.applied[i].sorted(by: { $0.key < $1.key }) {
                out += (["-a"] + e.server.words(selector: svc.config.selectorWords, weight: e.weight)).joined(separator: " ") + "\n"
            }
        }
        return out
    }

    /// FILE_CHECK: keepalived reads the tracked files before it builds the table, so a server
    /// whose file says fault is never added.
    static func readTrackedFiles(_ services: inout [ServiceHealth], now: Double) {
        for i in services.indices {
            for j in services[i].servers.indices {
                for (k, c) in services[i].servers[j].config.checks.enumerated() where c.kind == .file {
                    guard let v = TrackedFileCheck.value(at: c.setting("file")?.first ?? "") else { continue }
                    let verdict = TrackedFileCheck.verdict(c, configuredWeight: services[i].servers[j].config.weight, value: v)
                    var weight: Int64?, reason = ""
                    switch verdict { case .pass(let w): weight = w; case .fail(let r): reason = r }
                    _ = services[i].record(server: j, checker: k, passed: verdict.passed, reason: reason, dynamicWeight: weight, now: now)
                }
                _ = services[i].updateQuorum()
            }
        }
    }

    /// Seconds on the monotonic clock the checks are timed by.
    public static func now() -> Double { ProgramProbe.now() }

    /// Starts every checker. keepalived spreads the first probes over 1 s + random(0…warmup),
    /// warmup = delay_loop; nanny and ldirectord probe at once.
    public func start() {
        let now = ProgramProbe.now()
        let gen = state.withLockedValue { s in
            if s.config.format == .keepalived {
                for i in s.services.indices {
                    for j in s.services[i].servers.indices {
                        for (k, c) in s.services[i].servers[j].config.checks.enumerated() where s.services[i].servers[j].nextProbe[k] <= now {
                            s.services[i].schedule(server: j, checker: k, at: now + 1 + Double.random(in: 0..<max(c.interval, 0.001)))
                        }
                    }
                }
            }
            return s.generation
        }
        var started: [Task<Void, Never>] = []
        let list = state.withLockedValue { s in
            s.services.indices.flatMap { i in s.services[i].servers.indices.flatMap { j in s.services[i].servers[j].checkers.indices.map { (i, j, $0) } } }
        }
        for (n, (i, j, k)) in list.enumerated() {
            let executor = executors[n % executors.count]
            let isFile = state.withLockedValue { $0.services[i].servers[j].config.checks[k].kind == .file }
            started.append(Task(executorPreference: executor) { [self] in
                if isFile { await self.watch(service: i, server: j, checker: k, generation: gen, on: executor) }
                else { await self.loop(service: i, server: j, checker: k, generation: gen, on: executor) }
            })
        }
        tasks.withLockedValue { $0 += started }
    }

    public func stop() {
        let t = tasks.withLockedValue { t in defer { t = [] }; return t }
        for x in t { x.cancel() }
        try? group.syncShutdownGracefully()
    }

    func loop(service i: Int, server j: Int, checker k: Int, generation: Int, on executor: EventLoopTaskExecutor) async {
        while !Task.isCancelled {
            guard let (spec, target, negotiate, at, format) = state.withLockedValue({ s -> (CheckSpec, ProbeTarget, Bool, Double, ConfigFormat)? in
                guard s.generation == generation else { return nil }
                let svc = s.services[i], srv = svc.servers[j]
                return (srv.config.checks[k], ProbeTarget(spec: srv.config.checks[k], server: srv.config, service: svc.config, bind: bind),
                        srv.checkers[k].nextIsNegotiate, srv.nextProbe[k], s.config.format)
            }) else { return }
            let wait = at - ProgramProbe.now()
            await executor.sleep(seconds: wait)
            if Task.isCancelled { return }
            let started = ProgramProbe.now()
            // ldirectord: a maintenance file forces the server down and skips the check.
            let maintenance = format == .ldirectord && inMaintenance(service: i, server: j)
            let verdict = maintenance ? .fail("Server in maintenance")
                : await Probe.run(spec, format: format, target: target, group: executor.loop, negotiate: negotiate)
            let now = ProgramProbe.now()
            probeObserver?(at, started, verdict)
            let ok = deliver(verdict, service: i, server: j, checker: k, generation: generation, forced: maintenance, now: now)
            if !ok { return }
            if let argv = loadCommand(service: i, server: j, generation: generation) {
                await measureLoad(argv, timeout: spec.timeout, service: i, server: j, generation: generation)
            }
        }
    }

    /// A checker's verdict into the health state and, where it changes the table, the
    /// commands; notify and quorum scripts run detached. False when a reload replaced the state.
    func deliver(_ verdict: ProbeVerdict, service i: Int, server j: Int, checker k: Int, generation: Int,
                 forced: Bool = false, now: Double) -> Bool {
        var scripts: [[String]] = []
        let ok = state.withLockedValue { s -> Bool in
            guard s.generation == generation else { return false }
            var weight: Int64?
            var reason = ""
            switch verdict {
            case .pass(let w): weight = w
            case .fail(let r): reason = r
            }
            let (changed, tableChanged) = s.services[i].record(server: j, checker: k, passed: verdict.passed, reason: reason,
                                                               dynamicWeight: weight, forced: forced, now: now)
            if let file = s.services[i].config.monitorFile, let id = s.services[i].servers[j].config.logID {
                MonitorFile.append(file, id: id, up: verdict.passed, message: reason)
            }
            guard tableChanged else { return true }
            let srv = s.services[i].servers[j]
            if changed {
                log.info("[\(srv.alive ? "up" : "down")] \(srv.config.endpoint) of \(s.services[i].config.selectorWords.joined(separator: " "))\(srv.alive ? "" : ": " + reason)")
                if let n = srv.alive ? srv.config.notifyUp : srv.config.notifyDown { scripts.append(n) }
            }
            scripts += applyPlace(&s, service: i, server: j)
            return true
        }
        for argv in scripts { Task.detached { _ = await ProgramProbe.run(argv, timeout: 60) } }
        return ok
    }

    /// ldirectord maintenancedir: a file named IP:PORT or IP (the real server's) exists there.
    /// (ldirectord also tries the server's reverse-DNS names; uvs resolves nothing.)
    func inMaintenance(service i: Int, server j: Int) -> Bool {
        guard let (dir, endpoint) = state.withLockedValue({ s in s.config.maintenanceDir.map { ($0, s.services[i].servers[j].config.endpoint) } })
        else { return false }
        let host = endpoint.hasPrefix("[") ? String(endpoint[...(endpoint.firstIndex(of: "]") ?? endpoint.startIndex)])
            : String(endpoint.prefix(while: { $0 != ":" }))
        return [endpoint, host].contains { access(dir + "/" + $0, F_OK) == 0 }
    }

    /// FILE_CHECK: re-reads the tracked file at every change of it, until cancelled.
    func watch(service i: Int, server j: Int, checker k: Int, generation: Int, on executor: EventLoopTaskExecutor) async {
        guard let (spec, weight) = state.withLockedValue({ s -> (CheckSpec, Int64)? in
            guard s.generation == generation else { return nil }
            let srv = s.services[i].servers[j]
            return (srv.config.checks[k], srv.config.weight)
        }) else { return }
        let path = spec.setting("file")?.first ?? ""
        let channel: Channel
        do {
            channel = try await TrackedFileCheck.watch(path: path, on: executor.loop) { [self] removed in
                guard let v = removed ? 0 : TrackedFileCheck.value(at: path) else {
                    log.info("track_file \(spec.setting("track_file")?.first ?? ""): \(path) holds no number in range, ignored")
                    return
                }
                _ = deliver(TrackedFileCheck.verdict(spec, configuredWeight: weight, value: v), service: i, server: j, checker: k,
                            generation: generation, now: ProgramProbe.now())
            }
        } catch {
            log.error("track_file \(path): cannot watch its directory: \(error)")
            return
        }
        await withTaskCancellationHandler {
            _ = try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// Brings server `j`'s place in the table (or, when the quorum moved, the whole service)
    /// to what its health wants; applied under the monitor's lock, so two checkers' changes
    /// reach the table in order. Returns the quorum scripts to run.
    func applyPlace(_ s: inout State, service i: Int, server j: Int) -> [[String]] {
        var scripts: [[String]] = []
        let cmds: [[String]]
        if let q = s.services[i].updateQuorum() {
            log.info("\(s.services[i].config.selectorWords.joined(separator: " ")): quorum \(q ? "gained" : "lost")")
            if let c = q ? s.services[i].config.quorumUp : s.services[i].config.quorumDown { scripts.append(c) }
            let want = s.services[i].desired()
            cmds = s.services[i].commands(from: s.applied[i], to: want)
            s.applied[i] = want
        } else {
            // Only this server's place changes.
            let ep = s.services[i].servers[j].config.endpoint
            let want = s.services[i].desired(server: j)
            cmds = s.services[i].commands(from: s.applied[i][ep].map { [ep: $0] } ?? [:], to: want.map { [ep: $0] } ?? [:])
            s.applied[i][ep] = want
        }
        if !cmds.isEmpty, let e = apply(cmds) { log.error("health: \(e)") }
        return scripts
    }

    /// nanny load_monitor: the load command when this round asks for the server's load.
    func loadCommand(service i: Int, server j: Int, generation: Int) -> [String]? {
        state.withLockedValue { s in
            guard s.generation == generation, s.services[i].servers[j].loadDue else { return nil }
            return s.services[i].servers[j].config.loadMonitor
        }
    }

    /// Runs the load command (killed at the check's timeout) and applies the weight it gives.
    func measureLoad(_ argv: [String], timeout: Double, service i: Int, server j: Int, generation: Int) async {
        let o = await ProgramProbe.run(argv, timeout: timeout)
        let load = o.status == 0 && !o.timedOut ? ServerHealth.load(from: String(decoding: o.output, as: UTF8.self)) : nil
        if load == nil { log.info("load_monitor \(argv.joined(separator: " ")): no load figure") }
        state.withLockedValue { s in
            guard s.generation == generation, s.services[i].applyLoad(server: j, load: load) else { return }
            _ = applyPlace(&s, service: i, server: j)
        }
    }

    /// SIGHUP: the new configuration replaces the old; servers whose checks did not change keep
    /// their state. `applyTable` installs the full new table (services included) as a diff.
    public func reload(_ next: DirectorConfig, applyTable: (String) -> String?) -> String? {
        let old = tasks.withLockedValue { t in defer { t = [] }; return t }
        for t in old { t.cancel() }
        let now = ProgramProbe.now()
        let err: String? = state.withLockedValue { s in
            var services: [ServiceHealth] = []
            for c in next.services {
                var h = ServiceHealth(c, format: next.format, now: now)
                if let prev = s.services.first(where: { $0.config.selector == c.selector }) {
                    for (j, r) in c.realServers.enumerated() {
                        if let o = prev.servers.first(where: { Self.sameServer($0.config, r) }) {
                            h.replace(server: j, with: o.carried(to: r, now: now))
                        }
                    }
                    _ = h.updateQuorum()
                }
                services.append(h)
            }
            for f in next.trackedFiles where !s.config.trackedFiles.contains(where: { $0.name == f.name }) { TrackedFileCheck.initialise(f) }
            Self.readTrackedFiles(&services, now: now)
            var trial = State(config: next, services: services, applied: services.map { $0.desired() }, generation: s.generation + 1)
            if let e = applyTable(Self.table(trial)) { return e }
            trial.generation = s.generation + 1
            s = trial
            return nil
        }
        start()
        return err
    }

    static func sameServer(_ a: ConfiguredRealServer, _ b: ConfiguredRealServer) -> Bool {
        a.endpoint == b.endpoint && a.checks.count == b.checks.count
            && zip(a.checks, b.checks).allSatisfy { $0.sameCheck(as: $1) }
            && a.inhibitOnFailure == b.inhibitOnFailure && a.failureCount == b.failureCount && a.reentry == b.reentry
    }

    /// `uvsadm -L --checks`, text or JSON.
    public func listing(json: Bool) -> String {
        let now = ProgramProbe.now()
        let wallNow = Double(time(nil))
        return state.withLockedValue { s in
            json ? CheckListing.json(s.services, now: now, wallNow: wallNow) : CheckListing.text(s.services, now: now, wallNow: wallNow)
        }
    }
}
