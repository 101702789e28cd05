import CUVSNet
import UVSPacket

/// The host kernel's neighbour table and default route, read over rtnetlink: the first
/// source of real-server and gateway MACs (permanent entries included).
enum KernelNeighbours {
    struct Entry {
        var ifindex: Int32; var addr: IPAddr; var mac: MACAddr
        /// NUD_PERMANENT or NUD_NOARP: configured, never aged.
        var permanent: Bool
    }

    private final class Collector { var entries: [Entry] = [] }

    /// Usable entries (reachable, stale, delay, probe, permanent, noarp).
    static func dump() -> [Entry] {
        let c = Collector()
        let ctx = Unmanaged.passUnretained(c).toOpaque()
        _ = uvs_neigh_dump({ ctx, ifindex, family, addr, mac, state in
            // NUD_INCOMPLETE 0x01 and NUD_FAILED 0x20 carry no usable address.
            guard let ctx, let addr, let mac, state & 0x21 == 0 else { return }
            let a = family == 2 ? IPAddr.load(v4: addr) : IPAddr.load(v6: addr)
            let c = Unmanaged<Collector>.fromOpaque(ctx).takeUnretainedValue()
            c.entries.append(Entry(ifindex: ifindex, addr: a, mac: MACAddr.load(mac), permanent: state & 0xC0 != 0))
        }, ctx)
        return c.entries
    }

    static func defaultGateway4(ifindex: Int32) -> IPAddr? {
        var gw: UInt32 = 0
        guard uvs_default_gateway4(ifindex, &gw) == 0, gw != 0 else { return nil }
        return IPAddr(v4: UInt32(bigEndian: gw))
    }
}
