import ArgumentParser
import UVSConfig
import UVSControl

/// `uvsd config FILE`: the offline check before deploying — the IPVS rules the file's tool
/// would install once every real server's checks pass, in `ipvsadm -S -n` format.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a configuration file and print the IPVS rules it stands for (ipvsadm -S -n).",
        discussion: "Errors: FILE:LINE: message on standard error, exit 1.")

    @Option(name: .long, help: "Force the format: lvs, ldirectord or keepalived (detected from the content otherwise).")
    var format: String?
    @Option(name: .customLong("config-id"), help: "keepalived's config id for @ID lines (default: the host name's first label).")
    var configID: String?
    @Flag(name: .long, help: "Also print a table of the checks.")
    var explain = false
    @Argument(help: "The configuration file.") var file: String

    func validate() throws {
        if let f = format, ConfigFormat(rawValue: f) == nil {
            throw ValidationError("--format must be one of \(ConfigFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        do {
            let cfg = try ConfigLoader.load(path: file, format: format.flatMap { ConfigFormat(rawValue: $0) }, configID: configID)
            print(try cfg.savedRules(), terminator: "")
            if explain { print(CheckTable.render(cfg), terminator: "") }
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}
