#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import UVSControl

/// The control socket: a Unix stream socket (mode 0600, root's), one request per
/// connection, several clients at once (a thread each, bounded), requests bounded in size
/// and time. Commands run one at a time on the director (its configuration lock).
final class ControlServer: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private weak var director: Director?
    private var thread = pthread_t()
    private let stopping = Atomic<Bool>(false)
    private let clients = Atomic<Int>(0)
    static let maxClients = 32

    init(path: String, director: Director) throws(LiveError) {
        self.path = path
        self.director = director
        guard var addr = ControlClient.socketAddress(path) else { throw LiveError("control socket path too long: \(path)") }
        if Self.someoneListens(path) { throw LiveError("\(path): another uvsd is already serving this control socket") }
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LiveError("control socket: \(String(cString: strerror(errno)))") }
        let old = umask(0o077)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(old)
        guard r == 0, chmod(path, 0o600) == 0, chown(path, 0, 0) == 0, listen(fd, 64) == 0 else {
            let e = String(cString: strerror(errno))
            Glibc.close(fd)
            unlink(path)
            throw LiveError("control socket \(path): \(e)")
        }
        thread = Threads.start { self.acceptLoop() }
    }

    static func someoneListens(_ path: String) -> Bool {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { return false }
        defer { Glibc.close(s) }
        guard var addr = ControlClient.socketAddress(path) else { return false }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }

    private func acceptLoop() {
        while !stopping.load(ordering: .relaxed) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { continue }
            if clients.load(ordering: .relaxed) >= Self.maxClients {
                respond(c, ControlProtocol.Response(status: 1, error: "uvsd: too many control clients, try again\n"))
                Glibc.close(c)
                continue
            }
            clients.add(1, ordering: .relaxed)
            Threads.start(detached: true) { self.serve(c) }
        }
    }

    private func serve(_ c: Int32) {
        defer { Glibc.close(c); clients.subtract(1, ordering: .relaxed) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            switch Result(catching: { () throws(ControlProtocol.DecodeError) in try ControlProtocol.decodeRequest(data) }) {
            case .success(let req):
                let resp = director?.execute(req) ?? ControlProtocol.Response(status: 1, error: "uvsd: stopping\n")
                respond(c, resp)
                return
            case .failure(.incomplete):
                let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, 65536, 0) }
                if n <= 0 { return }  // closed or timed out: nothing applied
                data += buf[..<n]
            case .failure(let e):
                respond(c, ControlProtocol.Response(status: 1, error: "uvsd: bad control request (\(e))\n"))
                return
            }
        }
    }

    private func respond(_ c: Int32, _ r: ControlProtocol.Response) {
        let bytes = ControlProtocol.encode(r)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    func close() {
        stopping.store(true, ordering: .relaxed)
        pthread_join(thread, nil)
        Glibc.close(fd)
        unlink(path)
    }
}
