import Logging
import Synchronization
import UVSChecks
import UVSConfig
import UVSControl
import UVSLive

/// `uvsd run --config FILE`: the director with the file's services and its tool's health
/// checks. The checks decide which servers are in the table; SIGHUP re-reads the file and
/// applies only the difference; `uvsadm -L --checks [--json]` shows the checks' state.
enum ConfiguredDirector {
    /// The director the checks apply their commands to (set once it exists).
    final class Target: Sendable {
        let director = Mutex<Director?>(nil)
    }

    static func run(_ options: DirectorOptions, config path: String, format: ConfigFormat?, configID: String? = nil, checkSource: String?,
                    log: Logger) throws {
        let cfg = try ConfigLoader.load(path: path, format: format, configID: configID)
        let target = Target()
        let monitor = HealthMonitor(cfg, bind: checkSource, threadSetup: { Director.keepOffWorkers(options) }, log: log) { cmds in
            guard let d = target.director.withLock({ $0 }) else { return "the director is not running" }
            return d.applyCommands(cmds, source: "health check")
        }
        var o = options
        o.rulesText = monitor.initialRules()
        let d = try Director(o, logger: log)
        d.reloadHandler = {
            do {
                let next = try ConfigLoader.load(path: path, format: format, configID: configID)
                if let e = monitor.reload(next, applyTable: { d.replaceRules(with: $0) }) {
                    log.error("SIGHUP: \(e); keeping the running configuration")
                } else {
                    log.info("SIGHUP: \(path) reloaded")
                }
            } catch {
                log.error("SIGHUP: \(error); keeping the running configuration")
            }
        }
        d.controlExtension = { args in
            guard args.contains("--checks") else { return nil }
            let rest = args.filter { $0 != "--checks" && $0 != "--json" && $0 != "-n" && $0 != "--numeric" }
            guard rest == ["-L"] || rest == ["--list"] || rest == ["-l"] else {
                return ControlProtocol.Response(status: 2, error: "uvsadm: --checks goes with -L [-n] [--json] only\n")
            }
            return ControlProtocol.Response(status: 0, output: monitor.listing(json: args.contains("--json")))
        }
        target.director.withLock { $0 = d }
        try d.start()
        monitor.start()
        d.run()
        monitor.stop()
    }
}
