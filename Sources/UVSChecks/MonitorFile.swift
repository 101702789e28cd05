#if canImport(Glibc)
import Glibc
#endif

/// ldirectord's monitorfile: a line per check result, `[localtime] [pid] REAL-ID [up|down] MESSAGE`,
/// the message URI-escaped for `%`, `|`, CR and LF ("-" when there is none).
enum MonitorFile {
    static func line(id: String, up: Bool, message: String, at t: time_t = time(nil), pid: Int32 = getpid()) -> String {
        var tm = tm()
        var t = t
        localtime_r(&t, &tm)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, 64, "%a %b %e %H:%M:%S %Y", &tm)   // Perl's scalar localtime()
        let stamp = String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var msg: [UInt8] = []
        for b in (message.isEmpty ? "-" : message).utf8 {
            if b == UInt8(ascii: "%") || b == UInt8(ascii: "|") || b == 13 || b == 10 {
                let h = String(b, radix: 16)
                msg += Array(("%" + (h.count == 1 ? "0" + h : h)).utf8)
            } else {
                msg.append(b)
            }
        }
        return "[\(stamp)] [\(pid)] \(id) [\(up ? "up" : "down")] \(String(decoding: msg, as: UTF8.self))\n"
    }

    static func append(_ path: String, id: String, up: Bool, message: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let bytes = Array(line(id: id, up: up, message: message).utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
