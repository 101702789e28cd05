#if canImport(Glibc)
import Glibc
#endif
import UVSControl

// uvsadm: ipvsadm's command line for a running uvsd. This build parses and validates every
// command exactly as ipvsadm does; commands that need the daemon report that none is reachable.
let args = Array(CommandLine.arguments.dropFirst())
let socketPath = getenv("UVS_CONTROL").map { String(cString: $0) } ?? "/run/uvsd.sock"
do {
    switch try CommandParser.parse(args) {
    case .help:
        print(Help.text)
    case .version:
        print("uvsadm v1.31 (uvs, ipvsadm-compatible)")
    default:
        printError("uvsadm: cannot reach uvsd at \(socketPath): no running uvsd")
        exit(1)
    }
} catch {
    printError(error.message)
    exit(error.status)
}
