import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Logging
import UVSControl
import UVSEngine
import UVSIO
import UVSPacket

/// uvsd: the uvs director. `uvsd replay` runs a capture through the engine.
struct UVSD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uvsd",
        abstract: "uvs — a userspace IP Virtual Server (Linux IPVS) director.",
        subcommands: [RunCommand.self, ReplayCommand.self, ConfigCommand.self, DemoCommand.self])
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a pcap/pcapng capture through the engine on the capture's own clock.",
        discussion: """
            Same conventions as the kernel oracle (kipvs): RULES_FILE is `ipvsadm -R` format; OUTDIR \
            receives out.pcap, out-client.pcap, decisions.tsv and ipvsadm-{L,Lstats,Lc,S,timeout}.txt \
            (listings taken 2.5 s after the last packet). Exit status: 0 ok, 1 bad input, 2 usage.
            """)

    @Option(name: .long, help: "Replies from the real servers, replayed after the input (NAT).")
    var replies: String?
    @Option(name: .customLong("sysctl"), help: "KEY=VAL, e.g. net.ipv4.vs.sloppy_tcp=1 (repeatable).")
    var sysctls: [String] = []
    @Option(name: .customLong("rs-mac"), help: "IP=MAC of a real server (default 02:00:<its 4 last address bytes>).")
    var rsMACs: [String] = []
    @Option(name: .long, help: "Director address on the real-server link (tunnel source).")
    var dip: String?
    @Option(name: .customLong("dir-mac"), help: "Director ingress MAC (default: destination MAC of the input).")
    var dirMAC: String?
    @Option(name: .long, help: "Force this forwarding method on every real server: dr, nat or tun.")
    var mode: String?
    @Option(name: .long, help: "iptables mangle MARK rules (-A PREROUTING -t mangle ... -j MARK --set-mark N) for -f services.")
    var marks: String?
    @Argument(help: "Rules file (ipvsadm -R format).") var rules: String
    @Argument(help: "Input capture (pcap or pcapng).") var input: String
    @Argument(help: "Output directory.") var outdir: String

    func validate() throws {
        if let m = mode, !["dr", "nat", "tun"].contains(m) {
            throw ValidationError("--mode must be dr, nat or tun")
        }
    }

    func run() throws {
        var o = Replay.Options(rulesPath: rules, inputPath: input, outDir: outdir)
        o.repliesPath = replies
        o.sysctls = sysctls
        o.rsMACs = rsMACs
        o.dip = dip
        o.dirMAC = dirMAC
        o.mode = mode
        o.marksPath = marks
        do {
            let (s, engine) = try Replay(o).run()
            print("replayed \(s.inputFrames) input and \(s.replyFrames) reply frames: \(s.toServers) to real servers, \(s.toClients) to clients")
            // Every frame IPVS did not send is accounted for: left to the host, or dropped by reason.
            let drops = DropReason.allCases.filter { engine.dropCount($0) > 0 }.map { "\($0.name)=\(engine.dropCount($0))" }
            print("not IPVS traffic: \(engine.passed)" + (drops.isEmpty ? "" : "; dropped: " + drops.joined(separator: " ")))
        } catch {
            printError("uvsd: \(error.description)")
            throw ExitCode(1)
        }
    }
}

// ArgumentParser's usage errors exit 64; uvsd promises 2 (as ipvsadm's usage errors).
LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
do {
    var command = try UVSD.parseAsRoot()
    try command.run()
} catch {
    let code = UVSD.exitCode(for: error)
    if code == .success {
        print(UVSD.fullMessage(for: error))
        exit(0)
    }
    if let e = error as? ExitCode { exit(e.rawValue) }
    printError(UVSD.fullMessage(for: error))
    exit(code == .validationFailure ? 2 : code.rawValue)
}
