#if canImport(Glibc)
import Glibc
#endif

/// Writes a message to standard error (fd 2) without touching C's shared `stderr`.
public func printError(_ message: String) {
    var bytes = Array(message.utf8)
    if bytes.last != 10 { bytes.append(10) }
    bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}
