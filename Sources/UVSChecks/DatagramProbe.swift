#if canImport(Glibc)
import Glibc
#endif

/// One datagram exchange for UDP_CHECK, DNS_CHECK and PING_CHECK: a non-blocking socket
/// connected to the server, one request, then answers (or an ICMP error, ECONNREFUSED on a
/// connected UDP socket) collected until `accept` takes one or the timeout passes. Polled from
/// an async task, so a silent server holds no thread.
enum DatagramProbe {
    enum Outcome { case answer([UInt8]), refused, silence, failed(String) }

    /// `kind`: SOCK_DGRAM with IPPROTO_UDP, or SOCK_RAW with IPPROTO_ICMP(V6) for ping.
    /// `requestFrom`, when set, builds the request from the socket's own address and port (SIP's Via).
    static func exchange(host: String, port: Int, bind: String?, raw icmp: Bool = false, request: [UInt8],
                         requestFrom: (((String, Int)) -> [UInt8])? = nil,
                         timeout: Double, accept: ([UInt8]) -> Bool) async -> Outcome {
        var ss = sockaddr_storage()
        var len: socklen_t = 0
        let v6 = host.contains(":")
        if v6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(icmp ? 0 : port).bigEndian)
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else { return .failed("'\(host)' is not an address") }
            withUnsafeBytes(of: a) { src in withUnsafeMutableBytes(of: &ss) { $0.copyMemory(from: src) } }
            len = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(icmp ? 0 : port).bigEndian)
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { return .failed("'\(host)' is not an address") }
            withUnsafeBytes(of: a) { src in withUnsafeMutableBytes(of: &ss) { $0.copyMemory(from: src) } }
            len = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let type = Int32(icmp ? SOCK_RAW.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let proto = icmp ? (v6 ? Int32(IPPROTO_ICMPV6) : Int32(IPPROTO_ICMP)) : Int32(IPPROTO_UDP)
        let fd = socket(v6 ? AF_INET6 : AF_INET, type, proto)
        guard fd >= 0 else { return .failed("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if let b = bind {
            var la = sockaddr_in()
            la.sin_family = sa_family_t(AF_INET)
            if !v6, inet_pton(AF_INET, b, &la.sin_addr) == 1 {
                _ = withUnsafePointer(to: &la) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
        }
        let rc = withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, len) } }
        guard rc == 0 else { return .failed("connect: \(String(cString: strerror(errno)))") }
        var request = request
        if let build = requestFrom { request = build(localAddress(fd) ?? (v6 ? "::" : "0.0.0.0", 0)) }
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { return .failed("send: \(String(cString: strerror(errno)))") }
        let deadline = ProgramProbe.now() + timeout
        var buf = [UInt8](repeating: 0, count: 65536)
        while ProgramProbe.now() < deadline {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if n > 0 {
                let d = Array(buf[..<n])
                if accept(d) { return .answer(d) }
                continue
            }
            if n < 0 && errno == ECONNREFUSED { return .refused }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                return .failed("recv: \(String(cString: strerror(errno)))")
            }
            if Task.isCancelled { return .silence }
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
        return .silence
    }

    /// The connected socket's own address and port.
    static func localAddress(_ fd: Int32) -> (String, Int)? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        guard withUnsafeMutablePointer(to: &ss, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }) == 0 else { return nil }
        var text = [CChar](repeating: 0, count: 64)
        func string() -> String { String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        if Int32(ss.ss_family) == AF_INET6 {
            return withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                var addr = a.pointee.sin6_addr
                inet_ntop(AF_INET6, &addr, &text, 64)
                return (string(), Int(UInt16(bigEndian: a.pointee.sin6_port)))
            } }
        }
        return withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
            var addr = a.pointee.sin_addr
            inet_ntop(AF_INET, &addr, &text, 64)
            return (string(), Int(UInt16(bigEndian: a.pointee.sin_port)))
        } }
    }
}
