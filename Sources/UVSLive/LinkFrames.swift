#if canImport(Glibc)
import Glibc
#endif
import CLibnet
import CUVSNet
import UVSPacket

/// The layer-2 frames uvsd writes for itself, crafted with libnet: ARP requests (resolving
/// real servers and clients), ARP replies and gratuitous ARP for the VIPs, and IPv6
/// neighbour solicitations/advertisements. Slow path only: one libnet context per worker
/// and link (advanced link mode, so frames can be culled), sent on the worker's own socket
/// within its batch.
final class LinkFrames {
    private let l: UnsafeMutablePointer<libnet_t>
    let mac: MACAddr
    let vlan: Int32

    init(device: String, mac: MACAddr, vlan: Int32) throws(LiveError) {
        var err = [CChar](repeating: 0, count: Int(LIBNET_ERRBUF_SIZE))
        guard let l = libnet_init(Int32(LIBNET_LINK_ADV), device, &err) else {
            throw LiveError("libnet_init: \(cText(err))")
        }
        self.l = l; self.mac = mac; self.vlan = vlan
        // libnet opened an ETH_P_ALL packet socket that would be handed a copy of every
        // frame on the link (a clone per packet, never read). We only build frames with it:
        // re-binding to protocol 0 unhooks it from the receive path.
        _ = uvs_packet_unhook(libnet_getfd(l), Int32(if_nametoindex(device)))
    }

    deinit { libnet_destroy(l) }

    static let broadcast = MACAddr(value: 0xFFFF_FFFF_FFFF)

    /// ARP request "who has `target`? tell `sender`" (broadcast).
    func arpRequest(target: IPAddr, sender: IPAddr) -> [UInt8] {
        arp(op: UInt16(ARPOP_REQUEST), sha: mac, spa: sender, tha: .zero, tpa: target, to: Self.broadcast)
    }

    /// ARP reply "`vip` is at our MAC" to the asker.
    func arpReply(vip: IPAddr, to asker: MACAddr, askerIP: IPAddr) -> [UInt8] {
        arp(op: UInt16(ARPOP_REPLY), sha: mac, spa: vip, tha: asker, tpa: askerIP, to: asker)
    }

    /// How a takeover announces a VIP: keepalived's GARP (vrrp_arp.c: a request, target MAC
    /// broadcast) or piranha's send_arp (a reply with our MAC as the target, padded to 60 bytes).
    enum Announcement { case keepalived, sendArp }

    /// Gratuitous ARP for `vip`: sender = target = vip, to the broadcast address.
    func gratuitousARP(vip: IPAddr, style: Announcement = .keepalived) -> [UInt8] {
        switch style {
        case .keepalived:
            return arp(op: UInt16(ARPOP_REQUEST), sha: mac, spa: vip, tha: Self.broadcast, tpa: vip, to: Self.broadcast)
        case .sendArp:
            let f = arp(op: UInt16(ARPOP_REPLY), sha: mac, spa: vip, tha: mac, tpa: vip, to: Self.broadcast)
            return f + [UInt8](repeating: 0, count: max(0, 60 - f.count))
        }
    }

    private func arp(op: UInt16, sha: MACAddr, spa: IPAddr, tha: MACAddr, tpa: IPAddr, to dst: MACAddr) -> [UInt8] {
        var shaB = bytes(sha), thaB = bytes(tha), spaB = bytes4(spa), tpaB = bytes4(tpa)
        _ = libnet_build_arp(UInt16(ARPHRD_ETHER), UInt16(ETHERTYPE_IP), 6, 4, op, &shaB, &spaB, &thaB, &tpaB,
                             nil, 0, l, 0)
        return finish(dst: dst, ethertype: UInt16(ETHERTYPE_ARP))
    }

    /// Neighbour advertisement for `vip` (solicited: to the asker; unsolicited: all nodes).
    func neighbourAdvertisement(vip: IPAddr, to dstMAC: MACAddr, dstIP: IPAddr, solicited: Bool) -> [UInt8] {
        var opt = bytes(mac)
        let flags: UInt32 = (solicited ? 0x4000_0000 : 0) | 0x2000_0000  // S, O
        _ = libnet_build_icmpv6_ndp_opt(UInt8(ND_OPT_TARGET_LINKADDR), &opt, 6, l, 0)
        _ = libnet_build_icmpv6_ndp_nadv(UInt8(ND_NEIGHBOR_ADVERT), 0, 0, flags, in6(vip), nil, 0, l, 0)
        _ = libnet_build_ipv6(0, 0, 32, UInt8(IPPROTO_ICMPV6), 255, in6(vip), in6(dstIP), nil, 0, l, 0)
        return finish(dst: dstMAC, ethertype: UInt16(ETHERTYPE_IPV6))
    }

    /// Neighbour solicitation for `target` from `sender`, to its solicited-node group.
    func neighbourSolicitation(target: IPAddr, sender: IPAddr) -> [UInt8] {
        var opt = bytes(mac)
        let group = IPAddr(hi: 0xFF02_0000_0000_0000, lo: 0x0000_0001_FF00_0000 | (target.lo & 0xFF_FFFF))
        let groupMAC = MACAddr(value: 0x3333_0000_0000 | (group.lo & 0xFFFF_FFFF))
        _ = libnet_build_icmpv6_ndp_opt(UInt8(ND_OPT_SOURCE_LINKADDR), &opt, 6, l, 0)
        _ = libnet_build_icmpv6_ndp_nsol(UInt8(ND_NEIGHBOR_SOLICIT), 0, 0, in6(target), nil, 0, l, 0)
        _ = libnet_build_ipv6(0, 0, 32, UInt8(IPPROTO_ICMPV6), 255, in6(sender), in6(group), nil, 0, l, 0)
        return finish(dst: groupMAC, ethertype: UInt16(ETHERTYPE_IPV6))
    }

    private func finish(dst: MACAddr, ethertype: UInt16) -> [UInt8] {
        var d = bytes(dst), s = bytes(mac)
        if vlan >= 0 {
            _ = libnet_build_802_1q(&d, &s, UInt16(ETHERTYPE_VLAN), 0, 0, UInt16(vlan), ethertype, nil, 0, l, 0)
        } else {
            _ = libnet_build_ethernet(&d, &s, ethertype, nil, 0, l, 0)
        }
        var p: UnsafeMutablePointer<UInt8>?
        var n: UInt32 = 0
        defer { libnet_clear_packet(l) }
        guard libnet_adv_cull_packet(l, &p, &n) == 1, let p else { return [] }
        defer { libnet_adv_free_packet(l, p) }
        return Array(UnsafeBufferPointer(start: p, count: Int(n)))
    }

    private func bytes(_ m: MACAddr) -> [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: m.value >> UInt64(40 - 8 * $0)) } }
    private func bytes4(_ a: IPAddr) -> [UInt8] { let v = a.v4; return [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    private func in6(_ a: IPAddr) -> libnet_in6_addr {
        var r = libnet_in6_addr()
        withUnsafeMutableBytes(of: &r) { a.store(v6: $0.baseAddress!) }
        return r
    }
}
