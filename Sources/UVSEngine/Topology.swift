import UVSPacket

/// Where the director sits at layer 2/3: its own addresses, next hops and link MTUs.
/// (Resolving neighbours is the I/O edge's job; the engine only reads this table.)
public struct Topology: Sendable {
    /// The director's MAC on the client-side link (source of frames towards clients).
    public var clientSideMAC: MACAddr
    /// Next hop towards clients (the client-side router or the client itself).
    public var clientGatewayMAC: MACAddr
    /// The director's MAC on the real-server link.
    public var serverSideMAC: MACAddr
    /// The director's own address on the real-server link: source of tunnel packets.
    public var directorIPv4: IPAddr
    public var directorIPv6: IPAddr
    public var clientMTU = 1500
    public var serverMTU = 1500
    /// 802.1Q tag of each side's frames, -1 = untagged.
    public var clientVLAN: Int32 = -1
    public var serverVLAN: Int32 = -1
    /// Real servers' (and gateways') MACs by address.
    public var neighbours: [IPAddr: MACAddr] = [:]

    public init(clientSideMAC: MACAddr, clientGatewayMAC: MACAddr, serverSideMAC: MACAddr,
                directorIPv4: IPAddr, directorIPv6: IPAddr) {
        self.clientSideMAC = clientSideMAC; self.clientGatewayMAC = clientGatewayMAC
        self.serverSideMAC = serverSideMAC; self.directorIPv4 = directorIPv4; self.directorIPv6 = directorIPv6
    }

    /// The kernel oracle's lab conventions (../shared/oracle/README.md "MACs").
    public static func oracleDefaults(directorIPv4: IPAddr, directorIPv6: IPAddr,
                                      clientSideMAC: MACAddr = MACAddr("02:00:00:00:d0:01")!) -> Topology {
        Topology(clientSideMAC: clientSideMAC, clientGatewayMAC: MACAddr("02:00:00:00:c1:01")!,
                 serverSideMAC: MACAddr("02:00:00:00:d0:02")!, directorIPv4: directorIPv4,
                 directorIPv6: directorIPv6)
    }

    /// 02:00 followed by the last four bytes of the address (the oracle's real-server MACs).
    public static func conventionalMAC(for addr: IPAddr) -> MACAddr {
        let v = UInt32(truncatingIfNeeded: addr.lo)
        return MACAddr((0x02, 0x00, UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)))
    }
}
