#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import Synchronization
import UVSChecks
import UVSConfig

// The checks at scale: N real servers, each with keepalived's HTTP_GET every second, against
// an HTTP responder in another process (`serve`). Reports how late probes start (p50/p99),
// checks per second and the monitor's CPU per 1,000 checks/s.
//   HealthScale serve PORT
//   HealthScale run SERVERS SECONDS PORT [THREADS [FAILING]]
// FAILING more servers are blackholed (their connects time out after 3 s): the healthy servers'
// lateness is reported apart.

/// Answers every request with a fixed 200 and closes.
final class Responder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let body = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
        // Close once written (a promise, so the context stays on its event loop).
        let p = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: body)), promise: p)
        let ch = context.channel
        p.futureResult.whenComplete { _ in ch.close(promise: nil) }
    }
}

func serve(port: Int) throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let ch = try ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 4096)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { $0.pipeline.addHandler(Responder()) }
        .bind(host: "0.0.0.0", port: port).wait()
    // PORT+1 listens and never accepts: once its queue is full, SYNs are dropped and the
    // failing servers' checks wait out their connect_timeout (a blackholed server).
    let hang = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(hang, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = in_port_t(UInt16(port + 1).bigEndian)
    _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(hang, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    listen(hang, 1)
    try ch.closeFuture.wait()
}

func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

func run(servers: Int, seconds: Double, port: Int, threads: Int, failing: Int) throws {
    var text = "virtual_server 192.0.2.1 \(port) {\n  protocol TCP\n  delay_loop 1\n"
    for i in 0..<servers {
        // 127.0.0.0/8 is all local: one responder on 0.0.0.0 stands for N servers.
        text += "  real_server 127.\(1 + i / 62500).\(i / 250 % 250).\(i % 250 + 1) \(port) { HTTP_GET { url { path /\n status_code 200 }\n connect_timeout 3 } }\n"
    }
    for i in 0..<failing {
        text += "  real_server 127.200.\(i / 250 % 250).\(i % 250 + 1) \(port + 1) { HTTP_GET { url { path /\n status_code 200 }\n connect_timeout 3 } }\n"
    }
    text += "}\n"
    let cfg = try KeepalivedReader.read(path: "scale.conf", text: text)
    let lateness = Mutex<[Double]>([])
    let healthyLateness = Mutex<[Double]>([])
    let failures = Mutex([String: Int]())
    var log = Logger(label: "scale")
    log.logLevel = .warning
    let monitor = HealthMonitor(cfg, threads: threads, log: log) { _ in nil }
    let warm = HealthMonitor.now() + 3   // the first probes are spread over 1 s + delay_loop
    monitor.probeObserver = { scheduled, started, verdict in
        guard started > warm else { return }
        lateness.withLock { $0.append(max(0, started - scheduled)) }
        if verdict.passed { healthyLateness.withLock { $0.append(max(0, started - scheduled)) } }
        if case .fail(let why) = verdict { failures.withLock { $0[why, default: 0] += 1 } }
    }
    monitor.start()
    sleep(3)
    let (c0, t0) = (cpuSeconds(), HealthMonitor.now())
    usleep(useconds_t(seconds * 1_000_000))
    let (c1, t1) = (cpuSeconds(), HealthMonitor.now())
    monitor.stop()
    let l = lateness.withLock { $0 }.sorted()
    guard !l.isEmpty else { print("no probes"); exit(1) }
    let rate = Double(l.count) / (t1 - t0)
    let cpu = (c1 - c0) / (t1 - t0)
    func ms(_ q: Double) -> String { String(Int((l[min(l.count - 1, Int(q * Double(l.count)))] * 1000).rounded())) }
    let failed = failures.withLock { $0 }
    print("servers=\(servers) checks=\(l.count) checks/s=\(Int(rate)) failed=\(failed.values.reduce(0, +)) "
          + "lateness p50=\(ms(0.5)) ms p99=\(ms(0.99)) ms max=\(ms(1)) ms "
          + "cpu=\(Int(cpu * 100))% of a core, \(Int(cpu / (rate / 1000) * 1000)) ms CPU per s per 1,000 checks/s")
    for (why, n) in failed.sorted(by: { $0.value > $1.value }).prefix(3) { print("  \(n) failed: \(why)") }
    if failing > 0 {
        let h = healthyLateness.withLock { $0 }.sorted()
        func hms(_ q: Double) -> String { h.isEmpty ? "-" : String(Int((h[min(h.count - 1, Int(q * Double(h.count)))] * 1000).rounded())) }
        print("  healthy servers' probes: \(h.count), lateness p50=\(hms(0.5)) ms p99=\(hms(0.99)) ms max=\(hms(1)) ms")
    }
}

let a = CommandLine.arguments
if a.count == 3, a[1] == "serve" { try serve(port: Int(a[2])!) }
else if a.count >= 5, a[1] == "run" {
    try run(servers: Int(a[2])!, seconds: Double(a[3])!, port: Int(a[4])!, threads: a.count > 5 ? Int(a[5])! : 2,
            failing: a.count > 6 ? Int(a[6])! : 0)
} else { print("usage: HealthScale serve PORT | run SERVERS SECONDS PORT [THREADS [FAILING]]"); exit(2) }
