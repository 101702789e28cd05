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

    let channel: Channel
    let reader: ExchangeReader
    var pending: [UInt8] = []
    var eof = false

    /// Connects to `host:port` (from `bind` when set); `tls` wraps the stream (no certificate
    /// verification: neither keepalived nor ldirectord verifies the real server).
    /// Connects, runs `body` on the connection and closes it, whatever `body` does.
    static func converse<R: Sendable>(group: EventLoopGroup, host: String, port: Int, bind: String?, tls: Bool = false,
                                      serverName: String? = nil, connectTimeout: Double, budget: Budget,
                                      _ body: (inout TCPExchange) async throws -> R) async throws -> R {
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(connectTimeout * 1e9)))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
        if let b = bind {
            do { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: b, port: 0)) } catch { throw Failure.connect("bindto \(b): \(error)") }
        }
        // An address, never a name: no resolver (and no AAAA query) between the check and its server.
        let address: SocketAddress
        do { address = try SocketAddress(ipAddress: host, port: port) } catch { throw Failure.connect("'\(host)' is not an address") }
        let reader = ExchangeReader()
        let channel: Channel
        do {
            channel = try await bootstrap.channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls {
                        var cfg = TLSConfiguration.makeClientConfiguration()
                        cfg.certificateVerification = .none
                        let ctx = try NIOSSLContext(configuration: cfg)
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: ctx, serverHostname: serverName))
                    }
                    if case .perRead(let t) = budget { reader.idleLimit = .nanoseconds(Int64(t * 1e9)) }
                    try channel.pipeline.syncOperations.addHandler(reader)
                }
            }.connect(to: address).get()
        } catch ChannelError.connectTimeout {
            throw Failure.connect("timed out")
        } catch {
            throw Failure.connect("\(error)")
        }
        var deadline: Scheduled<Void>?
        if case .total(let t) = budget {
            deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(t * 1e9))) { reader.timeOut(channel) }
        }
        defer {
            deadline?.cancel()
            channel.close(promise: nil)
        }
        var x = TCPExchange(channel: channel, reader: reader)
        return try await body(&x)
    }

    mutating func send(_ bytes: [UInt8]) async throws {
        do { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get() } catch { throw Failure.closed }
    }

    /// The connection's own address and port (SIP's Via).
    var local: (String, Int) {
        (channel.localAddress?.ipAddress ?? "0.0.0.0", channel.localAddress?.port ?? 0)
    }

    /// Half-closes the sending side (ldirectord's simpletcp).
    func finishSending() { channel.close(mode: .output, promise: nil) }

    /// One more chunk into `pending`; false at EOF. A timeout throws.
    mutating func readMore() async throws -> Bool {
        if eof { return false }
        let reader = self.reader
        let loop = channel.eventLoop
        let chunk = try await (loop.inEventLoop ? reader.next(loop) : loop.flatSubmit { reader.next(loop) }).get()
        switch chunk {
        case .data(let b):
            pending += b
            return true
        case .end(let timedOut, let failed):
            eof = true
            if timedOut { throw Failure.timeout }
            // A reset after some data still ends the stream; the verdict is the caller's.
            if failed && pending.isEmpty { throw Failure.closed }
            return false
        }
    }

    /// The next message of a framed protocol: `size` gives a message's total length from the
    /// bytes seen so far (nil: not enough yet); nil at EOF before a whole message.
    mutating func readMessage(size: ([UInt8]) -> Int?) async throws -> [UInt8]? {
        while true {
            if let n = size(pending), pending.count >= n {
                let m = Array(pending[..<n])
                pending.removeFirst(n)
                return m
            }
            guard try await readMore() else { return nil }
        }
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

/// The probe's end of the connection, on its event loop: buffers what arrives and hands it to
/// the one waiting read; `idleLimit` without a byte (the per-read budget) closes as a timeout.
/// One timer per connection, re-armed only when it fires early (not one per read, as
/// IdleStateHandler does).
final class ExchangeReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    enum Chunk { case data([UInt8]), end(timedOut: Bool, failed: Bool) }

    // Touched on the channel's event loop only.
    var buffered: [UInt8] = []
    var ended = false, timedOut = false, failed = false
    var waiter: EventLoopPromise<Chunk>?
    var idleLimit: TimeAmount?
    var lastRead = NIODeadline.now()
    var idleTimer: Scheduled<Void>?

    func channelActive(context: ChannelHandlerContext) {
        lastRead = .now()
        armIdle(context.channel, at: lastRead + (idleLimit ?? .zero))
        context.fireChannelActive()
    }

    func armIdle(_ channel: Channel, at deadline: NIODeadline) {
        guard idleLimit != nil else { return }
        idleTimer = channel.eventLoop.scheduleTask(deadline: deadline) { [self] in
            guard let limit = idleLimit, !ended else { return }
            let due = lastRead + limit
            if due <= .now() { timeOut(channel) } else { armIdle(channel, at: due) }
        }
    }

    func next(_ loop: EventLoop) -> EventLoopFuture<Chunk> {
        if !buffered.isEmpty {
            defer { buffered = [] }
            return loop.makeSucceededFuture(.data(buffered))
        }
        if ended { return loop.makeSucceededFuture(.end(timedOut: timedOut, failed: failed)) }
        let p = loop.makePromise(of: Chunk.self)
        waiter = p
        return p.futureResult
    }

    func wake() {
        guard let w = waiter else { return }
        waiter = nil
        if !buffered.isEmpty {
            w.succeed(.data(buffered))
            buffered = []
        } else if ended {
            w.succeed(.end(timedOut: timedOut, failed: failed))
        }
    }

    func timeOut(_ channel: Channel) {
        timedOut = true
        channel.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if idleLimit != nil { lastRead = .now() }
        buffered += unwrapInboundIn(data).readableBytesView
        wake()
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended = true
        idleTimer?.cancel()
        wake()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failed = true
        context.close(promise: nil)
    }
}
