#if canImport(Glibc)
import Glibc
#endif

/// uvsadm's side of the control socket.
public enum ControlClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The address of a control socket, nil when the path does not fit.
    public static func socketAddress(_ path: String) -> sockaddr_un? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { b in for (i, c) in path.utf8.enumerated() { b[i] = c } }
        return addr
    }

    public static func send(_ req: ControlProtocol.Request, to path: String) -> Result<ControlProtocol.Response, Failure> {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { return .failure(Failure(description: String(cString: strerror(errno)))) }
        defer { close(s) }
        guard var addr = socketAddress(path) else { return .failure(Failure(description: "socket path too long")) }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            let e = errno
            let why = (e == ENOENT || e == ECONNREFUSED) ? "no running uvsd" : String(cString: strerror(e))
            return .failure(Failure(description: why))
        }
        let bytes = ControlProtocol.encode(req)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(s, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return .failure(Failure(description: "connection lost while sending")) }
            off += n
        }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(s, $0.baseAddress, 65536, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buf[..<n]
        }
        do { return .success(try ControlProtocol.decodeResponse(data)) } catch {
            return .failure(Failure(description: "uvsd closed the connection without an answer"))
        }
    }
}
