#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import UVSEngine
import UVSPacket

/// The sync daemons' sockets (spec §7.1), as ip_vs_sync.c opens them: the master's UDP
/// socket sends to the group from the interface's address (multicast loop off, TTL, no path
/// MTU discovery); the backup's joins the group on the interface and receives. The engines
/// build and apply the messages; these only move them.
enum SyncSockets {
    /// What `--start-daemon` needs of an interface; nil when there is no such device.
    static func link(_ name: String) -> SyncLink? {
        guard let (_, _, mtu) = NetworkInterface.deviceInfo(name) else { return nil }
        let addrs = NetworkInterface.addresses(of: name)
        return SyncLink(mtu: mtu, hasIPv4: addrs.contains(where: \.isV4), hasIPv6: addrs.contains { !$0.isV4 && $0.hi >> 54 != 0x3FA })
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
    }

    static func sockaddr(_ a: IPAddr, port: UInt16, ifindex: Int32 = 0) -> sockaddr_storage {
        var ss = sockaddr_storage()
        withUnsafeMutableBytes(of: &ss) { b in
            if a.isV4 {
                var s = sockaddr_in()
                s.sin_family = sa_family_t(AF_INET)
                s.sin_port = port.bigEndian
                s.sin_addr.s_addr = a.v4.bigEndian
                withUnsafeBytes(of: &s) { b.copyMemory(from: $0) }
            } else {
                var s = sockaddr_in6()
                s.sin6_family = sa_family_t(AF_INET6)
                s.sin6_port = port.bigEndian
                s.sin6_scope_id = UInt32(ifindex)
                withUnsafeMutableBytes(of: &s.sin6_addr) { a.store(v6: $0.baseAddress!) }
                withUnsafeBytes(of: &s) { b.copyMemory(from: $0) }
            }
        }
        return ss
    }

    static func option<T: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: T) -> Bool {
        withUnsafeBytes(of: value) { setsockopt(fd, level, name, $0.baseAddress, socklen_t($0.count)) == 0 }
    }

    static func connectOrBind(_ fd: Int32, _ a: IPAddr, port: UInt16, ifindex: Int32 = 0, connect doConnect: Bool) -> Bool {
        var ss = sockaddr(a, port: port, ifindex: ifindex)
        let len = socklen_t(a.isV4 ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
        return withUnsafePointer(to: &ss) { p in
            p.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                doConnect ? Glibc.connect(fd, $0, len) == 0 : bind(fd, $0, len) == 0
            }
        }
    }

    /// The master's socket, connected to the group; datagrams are sent with `send`.
    /// A UDP socket of the group's family, bound to the daemon's interface.
    static func openSocket(_ d: SyncDaemonConfig) throws(Failure) -> (fd: Int32, index: Int32, group: IPAddr) {
        let group = d.multicastGroup
        guard let (index, _, _) = NetworkInterface.deviceInfo(d.interface) else { throw Failure("no device \(d.interface)") }
        let fd = socket(group.isV4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket") }
        guard setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d.interface, socklen_t(d.interface.utf8.count)) == 0 else {
            let f = Failure("sync socket on \(d.interface)")
            close(fd)
            throw f
        }
        return (fd, index, group)
    }

    static func openMaster(_ d: SyncDaemonConfig) throws(Failure) -> Int32 {
        let (fd, index, group) = try openSocket(d)
        let v4 = group.isV4
        var ok: Bool
        if v4 {
            var m = ip_mreqn()
            m.imr_ifindex = index
            ok = option(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, m)
                && option(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, Int32(0))
                && option(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, Int32(d.multicastTTL))
                && option(fd, Int32(IPPROTO_IP), IP_MTU_DISCOVER, Int32(IP_PMTUDISC_DONT))
        } else {
            ok = option(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, index)
                && option(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, Int32(0))
                && option(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, Int32(d.multicastTTL))
                && option(fd, Int32(IPPROTO_IPV6), IPV6_MTU_DISCOVER, Int32(IPV6_PMTUDISC_DONT))
        }
        // From the interface's own address (bind_mcastif_addr).
        if ok, let src = NetworkInterface.addresses(of: d.interface).first(where: { $0.isV4 == v4 && ($0.isV4 || $0.hi >> 54 != 0x3FA) }) {
            ok = connectOrBind(fd, src, port: 0, ifindex: index, connect: false)
        }
        ok = ok && connectOrBind(fd, group, port: d.multicastPort, ifindex: index, connect: true)
        guard ok else {
            let f = Failure("sync master socket on \(d.interface)")
            close(fd)
            throw f
        }
        return fd
    }

    /// The backup's socket: bound to the group and port, member of the group on the interface.
    static func openBackup(_ d: SyncDaemonConfig) throws(Failure) -> Int32 {
        let (fd, index, group) = try openSocket(d)
        let v4 = group.isV4
        var ok = option(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1))
            && connectOrBind(fd, group, port: d.multicastPort, ifindex: index, connect: false)
        if v4 {
            var m = ip_mreqn()
            m.imr_multiaddr.s_addr = group.v4.bigEndian
            m.imr_ifindex = index
            ok = ok && option(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, m)
        } else {
            var m = ipv6_mreq()
            withUnsafeMutableBytes(of: &m.ipv6mr_multiaddr) { group.store(v6: $0.baseAddress!) }
            m.ipv6mr_interface = UInt32(index)
            let size = socklen_t(MemoryLayout<ipv6_mreq>.size)
            ok = ok && withUnsafeBytes(of: &m) { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_ADD_MEMBERSHIP, $0.baseAddress, size) == 0 }
        }
        guard ok else {
            let f = Failure("sync backup socket on \(d.interface)")
            close(fd)
            throw f
        }
        return fd
    }
}

/// The backup daemon's receiving thread: every datagram to the group goes to `deliver`.
final class SyncReceiver: @unchecked Sendable {
    let fd: Int32
    private let stopping = Atomic<Bool>(false)
    private var thread = pthread_t()
    private let deliver: (UnsafeRawBufferPointer) -> Void

    init(fd: Int32, deliver: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.fd = fd
        self.deliver = deliver
        thread = Threads.start { self.loop() }
    }

    private func loop() {
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
        defer { buf.deallocate() }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while !stopping.load(ordering: .relaxed) {
            guard poll(&p, 1, 200) > 0 else { continue }
            let n = recv(fd, buf, 65536, Int32(MSG_DONTWAIT))
            if n > 0 { deliver(UnsafeRawBufferPointer(start: buf, count: n)) }
        }
    }

    /// Stops the thread and closes the socket.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        pthread_join(thread, nil)
        close(fd)
    }
}
