#if canImport(Glibc)
import Glibc
#endif
import UVSControl
import UVSPacket

/// A link uvsd works on: a device, or VLAN N on a trunk when `--interface trunk.N` names
/// no device (this kernel has no 8021q module, so VLAN devices may not exist).
public struct NetworkInterface: Sendable, CustomStringConvertible {
    /// What the user wrote (`eth0`, `eth0.100`).
    public let name: String
    /// The device frames are received and sent on (the trunk for a VLAN on a trunk).
    public let device: String
    public let index: Int32
    public let mac: MACAddr
    public let mtu: Int
    /// VLAN ID uvsd filters on and tags with, -1 = untagged.
    public let vlan: Int32
    public var description: String { vlan >= 0 ? "\(device) VLAN \(vlan)" : device }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ name: String) throws(Failure) {
        self.name = name
        if let info = Self.deviceInfo(name) {
            device = name; (index, mac, mtu) = info; vlan = -1
            return
        }
        // `trunk.N`: VLAN N on the trunk device.
        if let dot = name.lastIndex(of: "."), let id = Int32(name[name.index(after: dot)...]), (1...4094).contains(id),
           let info = Self.deviceInfo(String(name[..<dot])) {
            device = String(name[..<dot]); (index, mac, mtu) = info; vlan = id
            return
        }
        throw Failure(description: "interface \(name): no such device (and not TRUNK.VLAN on an existing trunk)")
    }

    static func deviceInfo(_ dev: String) -> (Int32, MACAddr, Int)? {
        guard !dev.contains("/"), !dev.isEmpty else { return nil }
        let base = "/sys/class/net/\(dev)/"
        guard let idx = readSmallFile(base + "ifindex").flatMap({ Int32($0) }),
              let mac = readSmallFile(base + "address").flatMap({ MACAddr($0) }),
              let mtu = readSmallFile(base + "mtu").flatMap({ Int($0) }) else { return nil }
        return (idx, mac, mtu)
    }

    /// Whether the device is administratively up.
    public var isUp: Bool {
        guard let flags = readSmallFile("/sys/class/net/\(device)/flags"), let v = Int(flags.dropFirst(2), radix: 16) else {
            return false
        }
        return v & 1 != 0
    }

    /// The device's own IPv4/IPv6 addresses (getifaddrs).
    public var addresses: [IPAddr] { Self.addresses(of: device) }

    public static func addresses(of dev: String?) -> [IPAddr] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var out: [IPAddr] = []
        var p = list
        while let ifa = p {
            defer { p = ifa.pointee.ifa_next }
            guard let sa = ifa.pointee.ifa_addr else { continue }
            if let dev, String(cString: ifa.pointee.ifa_name) != dev { continue }
            if let a = IPAddr(sockaddr: sa) { out.append(a) }
        }
        return out
    }
}

extension IPAddr {
    /// From a sockaddr_in / sockaddr_in6 (nil for other families).
    init?(sockaddr sa: UnsafePointer<sockaddr>) {
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let v = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            self = IPAddr(v4: UInt32(bigEndian: v))
        case AF_INET6:
            let a6 = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            self = withUnsafeBytes(of: a6) { IPAddr.load(v6: $0.baseAddress!) }
        default:
            return nil
        }
    }
}

/// Contents of a small text file (sysfs, procfs) without the trailing newline.
func readSmallFile(_ path: String) -> String? {
    guard var s = ConfigText.read(path) else { return nil }
    while s.last == "\n" { s.removeLast() }
    return s
}
