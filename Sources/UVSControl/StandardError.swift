#if canImport(Glibc)
import Glibc
#endif

/// Writes a message to standard error (fd 2) without touching C's shared `stderr`.
public func printError(_ message: String) {
    var bytes = Array(message.utf8)
    if bytes.last != 10 { bytes.append(10) }
    bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
}

/// Writes text as it is (no newline added) to a file descriptor, all of it.
public func writeText(_ text: String, to fd: Int32) {
    let bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        off += n
    }
}
