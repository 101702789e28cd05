/// Frames from a local sender (a veth peer, a tap) may arrive with checksum offload still
/// pending (CHECKSUM_PARTIAL; AF_PACKET flags them TP_STATUS_CSUMNOTREADY): the TCP/UDP
/// checksum field holds only the folded pseudo-header sum. The kernel's own IPVS completes
/// such checksums before they leave the host; a userspace director must do the same before
/// the frame goes back on a wire.
extension Checksum {
    /// Completes the transport checksum of a TCP or UDP frame whose checksum field holds the
    /// pseudo-header sum. Returns false (frame untouched) for anything else.
    public static func completePartial(_ p: UnsafeMutableRawPointer, _ len: Int) -> Bool {
        var pkt = ParsedPacket()
        guard case .ip = PacketParser.parse(p, len, &pkt), pkt.fragment == .none else { return false }
        let field: Int
        switch pkt.proto {
        case IPProto.tcp: field = 16
        case IPProto.udp: field = 6
        default: return false
        }
        let l4 = pkt.l4, n = pkt.l4Len
        guard n >= field + 2, l4 + n <= len else { return false }
        // The field's content (the pseudo-header sum) is part of the sum: exactly what the
        // device would have added.
        var c = compute(p + l4, n)
        if c == 0 && pkt.proto == IPProto.udp { c = 0xFFFF }
        p.storeBytes(of: c.bigEndian, toByteOffset: l4 + field, as: UInt16.self)
        return true
    }
}
