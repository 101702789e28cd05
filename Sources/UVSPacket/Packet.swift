/// Protocol numbers used by the engine.
public enum IPProto {
    public static let icmp: UInt8 = 1
    public static let ipip: UInt8 = 4
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let ipv6: UInt8 = 41
    public static let gre: UInt8 = 47
    public static let icmpv6: UInt8 = 58
    public static let sctp: UInt8 = 132
}

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88A8
    public static let ipv6: UInt16 = 0x86DD
}

/// Why a frame was dropped. Every drop is counted under exactly one reason.
public enum DropReason: Int, CaseIterable, Sendable {
    case truncatedEthernet, truncatedIPv4, badIPv4Header, badIPv4Length, truncatedIPv6,
         badIPv6Header, truncatedTCP, truncatedUDP, truncatedICMP, badICMPChecksum,
         noDestination, destinationUnavailable, connectionTableFull, ttlExceeded, mtuExceeded,
         tunnelMTUTooSmall, reuseWithConntrack, icmpNotHandled, fragmentedICMPv6, unknownNeighbour,
         fragmentTimeout, fragmentMemoryFull, badFragment, badIPv4Checksum

    public var name: String {
        switch self {
        case .truncatedEthernet: "truncated-ethernet"
        case .truncatedIPv4: "truncated-ipv4"
        case .badIPv4Header: "bad-ipv4-header"
        case .badIPv4Checksum: "bad-ipv4-checksum"
        case .badIPv4Length: "bad-ipv4-length"
        case .truncatedIPv6: "truncated-ipv6"
        case .badIPv6Header: "bad-ipv6-header"
        case .truncatedTCP: "truncated-tcp"
        case .truncatedUDP: "truncated-udp"
        case .truncatedICMP: "truncated-icmp"
        case .badICMPChecksum: "bad-icmp-checksum"
        case .noDestination: "no-destination"
        case .destinationUnavailable: "destination-unavailable"
        case .connectionTableFull: "connection-table-full"
        case .ttlExceeded: "ttl-exceeded"
        case .mtuExceeded: "mtu-exceeded"
        case .tunnelMTUTooSmall: "tunnel-mtu-too-small"
        case .reuseWithConntrack: "reuse-with-conntrack"
        case .icmpNotHandled: "icmp-not-handled"
        case .fragmentedICMPv6: "fragmented-icmpv6"
        case .unknownNeighbour: "unknown-neighbour"
        case .fragmentTimeout: "fragment-timeout"
        case .fragmentMemoryFull: "fragment-memory-full"
        case .badFragment: "bad-fragment"
        }
    }
}

public enum Fragment: UInt8, Sendable {
    case none, first, later
}

/// What the parser learned about a frame. Offsets are from the start of the frame.
public struct ParsedPacket: Sendable {
    public var l2Len = 0
    /// 802.1Q VLAN id, or -1 when untagged.
    public var vlan: Int32 = -1
    public var isV6 = false
    /// Bytes from the IP header to the transport header (IPv4 options, IPv6 extension headers).
    public var ipHdrLen = 0
    /// Length of the IP packet (IPv4 total length / 40 + IPv6 payload length).
    public var ipLen = 0
    public var proto: UInt8 = 0
    public var src = IPAddr.zero4
    public var dst = IPAddr.zero4
    public var sport: UInt16 = 0
    public var dport: UInt16 = 0
    public var tcpFlags: UInt8 = 0
    public var ttl: UInt8 = 0
    public var df = false
    public var fragment = Fragment.none
    /// Offset of the IPv6 "next header" byte that names `proto` (for in-place updates).
    public var nextHeaderOffset = 0

    @inlinable public init() {}

    @inlinable public var l3: Int { l2Len }
    @inlinable public var l4: Int { l2Len + ipHdrLen }
    @inlinable public var l4Len: Int { ipLen - ipHdrLen }
    @inlinable public var hasPorts: Bool {
        fragment != .later && (proto == IPProto.tcp || proto == IPProto.udp || proto == IPProto.sctp)
    }
}

public enum ParseResult: Sendable, Equatable {
    case ip
    /// Not IPv4/IPv6 (ARP, LLDP, ...): not the engine's business.
    case notIP(etherType: UInt16)
    case drop(DropReason)
}

public enum PacketParser {
    /// Parses an Ethernet frame (with up to two VLAN tags).
    @inlinable
    public static func parse(_ p: UnsafeRawPointer, _ len: Int, _ out: inout ParsedPacket) -> ParseResult {
        guard len >= 14 else { return .drop(.truncatedEthernet) }
        var off = 12
        var et = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
        out.vlan = -1
        while et == EtherType.vlan || et == EtherType.qinq {
            guard len >= off + 6 else { return .drop(.truncatedEthernet) }
            out.vlan = Int32(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self)) & 0x0FFF)
            off += 4
            et = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
        }
        out.l2Len = off + 2
        switch et {
        case EtherType.ipv4: return parseIPv4(p, len, &out)
        case EtherType.ipv6: return parseIPv6(p, len, &out)
        default: return .notIP(etherType: et)
        }
    }

    /// Parses a frame whose IP header starts at `out.l2Len`.
    @inlinable
    public static func parseIP(_ p: UnsafeRawPointer, _ len: Int, _ out: inout ParsedPacket) -> ParseResult {
        guard len > out.l2Len else { return .drop(.truncatedIPv4) }
        switch p.load(fromByteOffset: out.l2Len, as: UInt8.self) >> 4 {
        case 4: return parseIPv4(p, len, &out)
        case 6: return parseIPv6(p, len, &out)
        default: return .drop(.badIPv4Header)
        }
    }

    @inlinable
    static func parseIPv4(_ p: UnsafeRawPointer, _ len: Int, _ out: inout ParsedPacket) -> ParseResult {
        let l3 = out.l2Len
        guard len >= l3 + 20 else { return .drop(.truncatedIPv4) }
        let vihl = p.load(fromByteOffset: l3, as: UInt8.self)
        let ihl = Int(vihl & 0x0F) * 4
        guard vihl >> 4 == 4, ihl >= 20 else { return .drop(.badIPv4Header) }
        let total = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l3 + 2, as: UInt16.self)))
        guard total >= ihl, l3 + total <= len else { return .drop(.badIPv4Length) }
        // ip_rcv drops a header whose checksum does not verify, before IPVS sees it.
        guard (ihl == 20 ? Checksum.ipv4Header20(p + l3) : Checksum.compute(p + l3, ihl)) == 0 else {
            return .drop(.badIPv4Checksum)
        }
        out.isV6 = false
        out.ipHdrLen = ihl
        out.ipLen = total
        let frag = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l3 + 6, as: UInt16.self))
        out.df = frag & 0x4000 != 0
        out.fragment = frag & 0x1FFF != 0 ? .later : (frag & 0x2000 != 0 ? .first : .none)
        out.ttl = p.load(fromByteOffset: l3 + 8, as: UInt8.self)
        out.proto = p.load(fromByteOffset: l3 + 9, as: UInt8.self)
        out.nextHeaderOffset = l3 + 9
        out.src = IPAddr.load(v4: p + l3 + 12)
        out.dst = IPAddr.load(v4: p + l3 + 16)
        return parseL4(p, l3 + total, &out)
    }

    @inlinable
    static func parseIPv6(_ p: UnsafeRawPointer, _ len: Int, _ out: inout ParsedPacket) -> ParseResult {
        let l3 = out.l2Len
        guard len >= l3 + 40 else { return .drop(.truncatedIPv6) }
        guard p.load(fromByteOffset: l3, as: UInt8.self) >> 4 == 6 else { return .drop(.badIPv6Header) }
        let payload = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l3 + 4, as: UInt16.self)))
        guard l3 + 40 + payload <= len else { return .drop(.truncatedIPv6) }
        out.isV6 = true
        out.ipLen = 40 + payload
        out.df = false
        out.fragment = .none
        out.ttl = p.load(fromByteOffset: l3 + 7, as: UInt8.self)
        out.src = IPAddr.load(v6: p + l3 + 8)
        out.dst = IPAddr.load(v6: p + l3 + 24)
        var nh = p.load(fromByteOffset: l3 + 6, as: UInt8.self)
        var nhOff = l3 + 6
        var off = l3 + 40
        let end = l3 + 40 + payload
        // Walk extension headers to the transport header.
        while true {
            switch nh {
            case 0, 43, 60:  // hop-by-hop, routing, destination options
                guard off + 8 <= end else { return .drop(.badIPv6Header) }
                nhOff = off
                nh = p.load(fromByteOffset: off, as: UInt8.self)
                off += (Int(p.load(fromByteOffset: off + 1, as: UInt8.self)) + 1) * 8
            case 44:  // fragment
                guard off + 8 <= end else { return .drop(.badIPv6Header) }
                nhOff = off
                nh = p.load(fromByteOffset: off, as: UInt8.self)
                let fo = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self))
                out.fragment = fo & 0xFFF8 != 0 ? .later : (fo & 1 != 0 ? .first : .none)
                off += 8
            case 51:  // AH
                guard off + 8 <= end else { return .drop(.badIPv6Header) }
                nhOff = off
                nh = p.load(fromByteOffset: off, as: UInt8.self)
                off += (Int(p.load(fromByteOffset: off + 1, as: UInt8.self)) + 2) * 4
            default:
                guard off <= end else { return .drop(.badIPv6Header) }
                out.proto = nh
                out.nextHeaderOffset = nhOff
                out.ipHdrLen = off - l3
                return parseL4(p, end, &out)
            }
        }
    }

    @inlinable
    static func parseL4(_ p: UnsafeRawPointer, _ end: Int, _ out: inout ParsedPacket) -> ParseResult {
        let l4 = out.l4
        out.sport = 0; out.dport = 0; out.tcpFlags = 0
        if out.fragment == .later { return .ip }
        switch out.proto {
        case IPProto.tcp:
            guard l4 + 20 <= end else { return .drop(.truncatedTCP) }
            let doff = Int(p.load(fromByteOffset: l4 + 12, as: UInt8.self) >> 4) * 4
            guard doff >= 20, l4 + doff <= end else { return .drop(.truncatedTCP) }
            out.tcpFlags = p.load(fromByteOffset: l4 + 13, as: UInt8.self)
        case IPProto.udp:
            guard l4 + 8 <= end else { return .drop(.truncatedUDP) }
        case IPProto.sctp:
            guard l4 + 12 <= end else { return .drop(.truncatedUDP) }
        case IPProto.icmp, IPProto.icmpv6:
            guard l4 + 8 <= end else { return .drop(.truncatedICMP) }
            return .ip
        default:
            return .ip
        }
        out.sport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4, as: UInt16.self))
        out.dport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4 + 2, as: UInt16.self))
        return .ip
    }

    /// The IP header (and first transport bytes) quoted inside an ICMP error, which starts at
    /// `off` and runs to `end`. The quote may be cut short: ports need only 4 bytes.
    @inlinable
    public static func parseEmbedded(_ p: UnsafeRawPointer, _ off: Int, _ end: Int, v6: Bool,
                                     _ out: inout ParsedPacket) -> Bool {
        out.fragment = .none
        out.sport = 0; out.dport = 0
        if !v6 {
            guard off + 20 <= end else { return false }
            let vihl = p.load(fromByteOffset: off, as: UInt8.self)
            let ihl = Int(vihl & 0x0F) * 4
            guard vihl >> 4 == 4, ihl >= 20, off + ihl <= end else { return false }
            out.isV6 = false
            out.ipHdrLen = ihl
            out.ipLen = Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off + 2, as: UInt16.self)))
            let frag = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off + 6, as: UInt16.self))
            out.fragment = frag & 0x1FFF != 0 ? .later : .none
            out.proto = p.load(fromByteOffset: off + 9, as: UInt8.self)
            out.nextHeaderOffset = off + 9
            out.src = IPAddr.load(v4: p + off + 12)
            out.dst = IPAddr.load(v4: p + off + 16)
        } else {
            guard off + 40 <= end, p.load(fromByteOffset: off, as: UInt8.self) >> 4 == 6 else { return false }
            out.isV6 = true
            out.ipLen = 40 + Int(UInt16(bigEndian: p.loadUnaligned(fromByteOffset: off + 4, as: UInt16.self)))
            out.src = IPAddr.load(v6: p + off + 8)
            out.dst = IPAddr.load(v6: p + off + 24)
            var nh = p.load(fromByteOffset: off + 6, as: UInt8.self)
            var nhOff = off + 6
            var o = off + 40
            while nh == 0 || nh == 43 || nh == 60 || nh == 44 {
                guard o + 8 <= end else { return false }
                nhOff = o
                let next = p.load(fromByteOffset: o, as: UInt8.self)
                if nh == 44 {
                    let fo = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: o + 2, as: UInt16.self))
                    if fo & 0xFFF8 != 0 { out.fragment = .later }
                    o += 8
                } else {
                    o += (Int(p.load(fromByteOffset: o + 1, as: UInt8.self)) + 1) * 8
                }
                nh = next
            }
            out.proto = nh
            out.nextHeaderOffset = nhOff
            out.ipHdrLen = o - off
        }
        let l4 = off + out.ipHdrLen
        if out.fragment != .later, out.proto == IPProto.tcp || out.proto == IPProto.udp || out.proto == IPProto.sctp {
            guard l4 + 4 <= end else { return false }
            out.sport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4, as: UInt16.self))
            out.dport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: l4 + 2, as: UInt16.self))
        }
        return true
    }
}
