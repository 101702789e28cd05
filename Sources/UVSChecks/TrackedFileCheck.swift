#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import UVSConfig

/// keepalived's FILE_CHECK: no probe; the number in a tracked file decides, re-read whenever
/// the file is written, moved in or removed (inotify on its directory, as keepalived watches it).
enum TrackedFileCheck {
    /// The file's number as keepalived reads it: up to 127 bytes through strtol (base 0); a
    /// missing or empty file is 0; nil when the number is out of range (the change is ignored).
    static func value(at path: String) -> Int64? {
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buf = [CChar](repeating: 0, count: 128)
        let n = read(fd, &buf, 127)
        guard n > 0 else { return 0 }
        errno = 0
        let v = strtol(buf, nil, 0)
        if errno != 0 || v < Int(Int32.min) || v > Int(Int32.max) + 1 { return nil }
        return Int64(v)
    }

    /// Weight 0: a non-zero number (reversed: zero) is a fault. Otherwise number × weight
    /// (× −1 reversed) is added to the configured weight; INT_MIN or less is a fault.
    static func verdict(value: Int64, weight: Int, reverse: Bool, configuredWeight: Int64, name: String) -> ProbeVerdict {
        if weight == 0 {
            return (value != 0) != reverse ? .fail("track_file \(name): \(value)") : .pass(weight: configuredWeight)
        }
        let status = max(Int64(Int32.min), min(Int64(Int32.max), value * Int64(weight) * (reverse ? -1 : 1)))
        if status == Int64(Int32.min) { return .fail("track_file \(name): \(value) (fault)") }
        return .pass(weight: max(0, min(65535, configuredWeight + status)))
    }

    static func verdict(_ spec: CheckSpec, configuredWeight: Int64, value: Int64) -> ProbeVerdict {
        verdict(value: value, weight: Int(spec.setting("weight")?.first ?? "") ?? 1, reverse: spec.setting("reverse")?.first == "yes",
                configuredWeight: configuredWeight, name: spec.setting("track_file")?.first ?? "")
    }

    /// init_file: writes the value when the file is missing (or always, with overwrite).
    static func initialise(_ f: TrackedFile) {
        guard let v = f.initValue else { return }
        var st = stat()
        if stat(f.path, &st) == 0 && !f.overwrite { return }
        let fd = open(f.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let text = Array("\(v)\n".utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Watches the file's directory on `loop` and calls `changed` (on the loop) when the
    /// file is closed after writing or moved in (false) or removed or moved away (true).
    static func watch(path: String, on loop: EventLoop, changed: @escaping @Sendable (_ removed: Bool) -> Void) async throws -> Channel {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]).isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw ChannelError.operationUnsupported }
        // IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE
        guard inotify_add_watch(fd, dir, 0x8 | 0x40 | 0x80 | 0x200) >= 0 else {
            close(fd)
            throw ChannelError.operationUnsupported
        }
        do {
            return try await NIOPipeBootstrap(group: loop)
                .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(InotifyEvents(name: name, changed: changed)) } }
                .takingOwnershipOfDescriptor(input: fd).get()
        } catch {
            close(fd)
            throw error
        }
    }
}

/// Splits the inotify stream into events (wd, mask, cookie, len, name) and reports the ones
/// about one file name.
final class InotifyEvents: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let name: [UInt8]
    let changed: @Sendable (Bool) -> Void
    var pending = ByteBuffer()
    init(name: String, changed: @escaping @Sendable (Bool) -> Void) { self.name = Array(name.utf8); self.changed = changed }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        pending.writeBuffer(&b)
        while pending.readableBytes >= 16,
              let len = pending.getInteger(at: pending.readerIndex + 12, endianness: .host, as: UInt32.self),
              pending.readableBytes >= 16 + Int(len) {
            let mask = pending.getInteger(at: pending.readerIndex + 4, endianness: .host, as: UInt32.self) ?? 0
            let raw = pending.getBytes(at: pending.readerIndex + 16, length: Int(len)) ?? []
            pending.moveReaderIndex(forwardBy: 16 + Int(len))
            guard mask & 0x4000_0000 == 0, Array(raw.prefix(while: { $0 != 0 })) == name else { continue }   // IN_ISDIR
            if mask & (0x40 | 0x200) != 0 { changed(true) } else if mask & (0x8 | 0x80) != 0 { changed(false) }
        }
        pending.discardReadBytes()
    }
}
