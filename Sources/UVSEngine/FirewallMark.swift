import UVSPacket

/// A packet-marking rule, the part of an iptables mangle MARK rule uvs applies itself
/// (kernel IPVS needs iptables to mark packets for fwmark services). Matches are ANDed;
/// like iptables' MARK target, every matching rule sets the mark, so the last one wins.
public struct MarkRule: Sendable, Equatable {
    public var proto: UInt8? = nil            // nil = any
    public var source: (IPAddr, Int)? = nil   // address, prefix length
    public var destination: (IPAddr, Int)? = nil
    public var sourcePorts: [ClosedRange<UInt16>] = []
    public var destinationPorts: [ClosedRange<UInt16>] = []
    public var mark: UInt32 = 0

    public init() {}

    public static func == (a: MarkRule, b: MarkRule) -> Bool {
        a.proto == b.proto && a.source?.0 == b.source?.0 && a.source?.1 == b.source?.1
            && a.destination?.0 == b.destination?.0 && a.destination?.1 == b.destination?.1
            && a.sourcePorts == b.sourcePorts && a.destinationPorts == b.destinationPorts && a.mark == b.mark
    }

    static func inNet(_ a: IPAddr, _ net: (IPAddr, Int)) -> Bool {
        a.isV4 == net.0.isV4 && a.masked(prefix: net.1) == net.0.masked(prefix: net.1)
    }

    public func matches(proto p: UInt8, src: IPAddr, dst: IPAddr, sport: UInt16, dport: UInt16, hasPorts: Bool) -> Bool {
        if let want = proto, want != p { return false }
        if let s = source, !Self.inNet(src, s) { return false }
        if let d = destination, !Self.inNet(dst, d) { return false }
        if !sourcePorts.isEmpty && !(hasPorts && sourcePorts.contains { $0.contains(sport) }) { return false }
        if !destinationPorts.isEmpty && !(hasPorts && destinationPorts.contains { $0.contains(dport) }) { return false }
        return true
    }
}

extension Engine {
    /// The mark the rules give a packet (0 = none).
    mutating func mark(_ pkt: ParsedPacket) -> UInt32 {  // mutating: in place, no engine copy per packet
        var m: UInt32 = 0
        for r in marks where r.matches(proto: pkt.proto, src: pkt.src, dst: pkt.dst, sport: pkt.sport,
                                       dport: pkt.dport, hasPorts: pkt.hasPorts) {
            m = r.mark
        }
        return m
    }
}
