import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Logging
import UVSConfig
import UVSControl
import UVSLive

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the director on live interfaces (AF_PACKET rings).",
        discussion: """
            One-armed (DR/TUN, or NAT with the real servers on the same link): --interface only. \
            Two-armed: --interface for the clients' side, --server-interface for the real servers. \
            IF.N names VLAN N on trunk IF when no device of that name exists. SIGHUP re-reads the \
            rules (and marks) file and applies the difference; SIGTERM stops. uvsadm talks to \
            --control. Exit status: 0 after a clean stop, 1 when it cannot start.
            """)

    @Option(name: .long, help: "Rules file (ipvsadm -R format).") var rules: String?
    @Option(name: .long, help: "Configuration file: lvs.cf, ldirectord.cf or keepalived.conf (checks run as its tool runs them).")
    var config: String?
    @Option(name: .long, help: "Force the configuration's format: lvs, ldirectord or keepalived.") var format: String?
    @Option(name: .customLong("config-id"), help: "keepalived's config id for @ID lines (default: the host name's first label).")
    var configID: String?
    @Option(name: .customLong("check-source"), help: "Address the checks' connections leave from (default: the kernel's choice, the director's own address).")
    var checkSource: String?
    @Option(name: .long, help: "Client-side interface (the VIPs' link).") var interface: String
    @Option(name: .customLong("server-interface"), help: "Real-server-side interface (two-armed).") var serverInterface: String?
    @Option(name: .long, help: "Worker threads (one RX ring each per link, PACKET_FANOUT).") var workers = 1
    @Option(name: .long, help: "CPUs the workers are pinned to, in turn, e.g. 2,3 (default: the allowed CPUs); the checks run on the others.")
    var cpus: String?
    @Option(name: .long, help: "iptables mangle MARK rules for -f services.") var marks: String?
    @Option(name: .long, help: "Control socket path.") var control = "/run/uvsd.sock"
    @Option(name: .customLong("ring-block-size"), help: "RX ring block size in bytes.") var ringBlockSize: UInt32 = 1 << 20
    @Option(name: .customLong("ring-blocks"), help: "RX ring blocks per worker and link.") var ringBlocks: UInt32 = 16
    @Option(name: .customLong("ring-timeout"), help: "RX block retire timeout (ms).") var ringTimeout: UInt32 = 2
    @Option(name: .long, help: "Connection slots allocated up front per worker.") var connections = 1 << 18
    @Option(name: .customLong("sysctl"), help: "KEY=VAL engine sysctl (repeatable).") var sysctls: [String] = []
    @Option(name: .customLong("ready-file"), help: "Create this file once the director is running.") var readyFile: String?
    @Option(name: .customLong("stats-interval"), help: "Seconds between counter log lines (0: never).") var statsInterval = 10
    @Flag(name: .customLong("qdisc-bypass"), inversion: .prefixedNo,
          help: "Send past the qdisc (fast; tc egress and tcpdump on the director's interfaces do not see uvsd's frames).")
    var qdiscBypass = true
    @Option(name: .customLong("neighbour-reachable"),
            help: "Seconds a neighbour's MAC is used without hearing from it before it is asked again (forgotten 3 s later without an answer).")
    var neighbourReachable = 30
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func run() throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level \(logLevel): unknown level") }
        var log = Logger(label: "uvsd")
        log.logLevel = level
        guard (rules == nil) != (config == nil) else { throw ValidationError("give either --rules or --config") }
        if let f = format, ConfigFormat(rawValue: f) == nil || f == "rules" {
            throw ValidationError("--format must be lvs, ldirectord or keepalived")
        }
        var o = DirectorOptions(rulesPath: rules ?? config!, interface: interface)
        o.serverInterface = serverInterface
        o.workers = workers
        if let c = cpus {
            let list = c.split(separator: ",").map { Int($0) }
            guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0! >= 0 }) else { throw ValidationError("--cpus: '\(c)' is not a list of CPU numbers") }
            o.workerCPUs = list.map { $0! }
        }
        o.marksPath = marks
        o.controlPath = control
        o.ringBlockSize = ringBlockSize
        o.ringBlocks = ringBlocks
        o.ringTimeoutMs = ringTimeout
        o.connections = connections
        o.sysctls = sysctls
        o.readyFile = readyFile
        o.statsInterval = statsInterval
        o.bypassQdisc = qdiscBypass
        o.neighbourReachable = max(1, neighbourReachable)
        Director.blockSignals()
        do {
            if let config {
                try ConfiguredDirector.run(o, config: config, format: format.flatMap { ConfigFormat(rawValue: $0) }, configID: configID,
                                           checkSource: checkSource, log: log)
                return
            }
            let d = try Director(o, logger: log)
            try d.start()
            d.run()
        } catch let e as ConfigText.FileError {
            printError(e.description)
            throw ExitCode(1)
        } catch let e as LiveError {
            printError("uvsd: \(e.description)")
            throw ExitCode(1)
        } catch {
            printError("uvsd: \(error)")
            throw ExitCode(1)
        }
    }
}
