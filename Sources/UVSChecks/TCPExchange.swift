import NIOCore
import NIOPosix
import NIOSSL
import NIOConcurrencyHelpers

/// A probe's TCP (or TLS) conversation with a real server on the checks' event loop: connect
/// within a timeout, then reads that end at EOF, at a per-read idle timeout (keepalived's
/// connect_timeout per I/O step) or at a deadline for the whole exchange (ldirectord's alarm).
/// A timeout closes the connection, so a server that accepts and never answers costs at most
/// the budget.
struct TCPExchange {
    enum Failure: Error, CustomStringConvertible {
        case connect(String), timeout, closed
        var description: String {
            switch self {
            case .connect(let m): return "connect: \(m)"
            case .timeout: return "timed out"
            case .closed: return "connection closed"
            }
        }
    }

    /// How long reads may take.
    enum Budget { case perRead(Double), total(Double) }

    let timedOut: NIOLockedValueBox<Bool>
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var pending: [UInt8] = []
    var eof = false

    /// Connects to `host:port` (from `bind` when set); `tls` wraps the stream (no certificate
    /// verification: neither keepalived nor ldirectord verifies the real server).
    /// Connects, runs `body` on the connection and closes it, whatever `body` does.
    static func converse<R: Sendable>(group: EventLoopGroup, host: String, port: Int, bind: String?, tls: Bool = false,
                                      serverName: String? = nil, connectTimeout: Double, budget: Budget,
                                      _ body: (inout TCPExchange) async throws -> R) async throws -> R {
        let flag = NIOLockedValueBox(false)
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(connectTimeout * 1e9)))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
        if let b = bind {
            do { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: b, port: 0)) } catch { throw Failure.connect("bindto \(b): \(error)") }
        }
        // An address, never a name: no resolver (and no AAAA query) between the check and its server.
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: host, port: port) } catch { throw Failure.connect("'\(host)' is not an address") }
        let ch: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            ch = try await bootstrap.connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls {
                        var cfg = TLSConfiguration.makeClientConfiguration()
                        cfg.certificateVerification = .none
                        let ctx = try NIOSSLContext(configuration: cfg)
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: ctx, serverHostname: serverName))
                    }
                    switch budget {
                    case .perRead(let t):
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .nanoseconds(Int64(t * 1e9))))
                        try channel.pipeline.syncOperations.addHandler(TimeoutCloser(flag: flag))
                    case .total(let t):
                        channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(t * 1e9))) {
                            flag.withLockedValue { $0 = true }
                            channel.close(promise: nil)
                        }
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        } catch ChannelError.connectTimeout {
            throw Failure.connect("timed out")
        } catch {
            throw Failure.connect("\(error)")
        }
        return try await ch.executeThenClose { inbound, outbound in
            var x = TCPExchange(timedOut: flag, iterator: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&x)
        }
    }

    mutating func send(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Half-closes the sending side (ldirectord's simpletcp).
    func finishSending() { outbound.finish() }

    /// One more chunk into `pending`; false at EOF. A timeout throws.
    mutating func readMore() async throws -> Bool {
        if eof { return false }
        do {
            if let b = try await iterator.next() {
                pending += b.readableBytesView
                return true
            }
        } catch {
            if timedOut.withLockedValue({ $0 }) { throw Failure.timeout }
            // A reset after some data still ends the stream; the verdict is the caller's.
            eof = true
            if pending.isEmpty { throw Failure.closed }
            return false
        }
        eof = true
        if timedOut.withLockedValue({ $0 }) { throw Failure.timeout }
        return false
    }

    /// Reads until `pending` holds a full line (CRLF or LF) and returns it without the ending.
    mutating func readLine() async throws -> String {
        while true {
            if let nl = pending.firstIndex(of: 10) {
                var line = Array(pending[..<nl])
                pending.removeSubrange(...nl)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try await readMore() else {
                if pending.isEmpty { throw Failure.closed }
                defer { pending = [] }
                return String(decoding: pending, as: UTF8.self)
            }
        }
    }

    /// Reads to EOF.
    mutating func readAll(limit: Int = 1 << 22) async throws -> [UInt8] {
        while pending.count < limit, try await readMore() {}
        return pending
    }

    /// Sends a request and reads the answer to EOF.
    mutating func exchange(_ request: [UInt8]) async throws -> [UInt8] {
        try await send(request)
        return try await readAll()
    }
}

/// Closes the connection at the idle-state event and remembers it was a timeout.
final class TimeoutCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let flag: NIOLockedValueBox<Bool>
    init(flag: NIOLockedValueBox<Bool>) { self.flag = flag }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            flag.withLockedValue { $0 = true }
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
