#if canImport(Glibc)
import Glibc
#endif
import UVSControl

// uvsadm: ipvsadm's command line for a running uvsd. The command is validated here (so a
// typo gets ipvsadm's message without a daemon) and then run by uvsd, which answers with
// what ipvsadm would print and its exit status.
let args = Array(CommandLine.arguments.dropFirst())
let socketPath = getenv("UVS_CONTROL").map { String(cString: $0) } ?? "/run/uvsd.sock"

var input: [UInt8] = []
// `-L --checks [--json]` is uvs's own listing (the health checks' state): uvsd answers it.
let checksListing = args.contains("--checks")
if args.first != "--sysctl" && args != ["--drops"] && !checksListing {
    do {
        switch try CommandParser.parse(args) {
        case .help:
            print(Help.text)
            exit(0)
        case .version:
            print("uvsadm v1.31 (uvs, ipvsadm-compatible)")
            exit(0)
        case .restore:
            input = readAllStandardInput()
        default:
            break
        }
    } catch {
        printError(error.message)
        exit(error.status)
    }
}

switch ControlClient.send(ControlProtocol.Request(arguments: args, input: input), to: socketPath) {
case .success(let r):
    writeText(r.output, to: 1)
    writeText(r.error, to: 2)
    exit(r.status)
case .failure(let e):
    printError("uvsadm: cannot reach uvsd at \(socketPath): \(e.description)")
    exit(1)
}

func readAllStandardInput() -> [UInt8] {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(0, &buf, 65536)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out += buf[..<n]
    }
    return out
}
