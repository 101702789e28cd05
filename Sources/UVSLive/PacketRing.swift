import CUVSNet
import UVSEngine

/// A TPACKET_V3 receive ring on one link (kernel-filled blocks of frames, read in place).
/// Owned by one worker thread.
struct PacketRing {
    var ring = uvs_ring()
    let side: Side
    let vlan: Int32
    /// The link's MTU: anything longer arrived as a GRO/GSO super-packet.
    let mtu: Int

    struct Geometry: Sendable {
        var blockSize: UInt32 = 1 << 20
        var blocks: UInt32 = 16
        var timeoutMs: UInt32 = 2
    }

    /// Extra headroom requested before every frame (PACKET_RESERVE). None is needed: a V3
    /// frame already starts 82 bytes after its own tpacket3_hdr (header, sockaddr_ll,
    /// alignment), and once the header has been read those bytes are the frame's headroom,
    /// room for the largest tunnel header (IPv6 + UDP + GUE, 52 bytes) and a VLAN tag. Every
    /// reserved byte would cost ring capacity (a 60-byte frame occupies 144 bytes).
    static let headroom: UInt32 = 0

    init(interface: NetworkInterface, side: Side, geometry g: Geometry, filter: [sock_filter],
         fanoutGroup: UInt16, fanout: [sock_filter]) throws(LiveError) {
        self.side = side
        vlan = interface.vlan
        mtu = interface.mtu
        var err = [CChar](repeating: 0, count: 256)
        let r = filter.withUnsafeBufferPointer { f in
            fanout.withUnsafeBufferPointer { fo in
                uvs_ring_open(&ring, interface.index, g.blockSize, g.blocks, g.timeoutMs, Self.headroom,
                              f.baseAddress, UInt32(f.count), fanoutGroup, fo.baseAddress, UInt32(fo.count), &err, 256)
            }
        }
        if r != 0 { throw LiveError("\(interface.name): receive ring: \(cText(err))") }
    }

    var fd: Int32 { ring.fd }

    mutating func replaceFilter(_ filter: [sock_filter]) -> Bool {
        filter.withUnsafeBufferPointer { uvs_ring_set_filter(ring.fd, $0.baseAddress, UInt32($0.count)) } == 0
    }

    /// Replaces the fanout program of the group this ring is in (every worker's ring of the link).
    func replaceFanout(_ program: [sock_filter]) -> Bool {
        program.withUnsafeBufferPointer { uvs_ring_set_fanout(ring.fd, $0.baseAddress, UInt32($0.count)) } == 0
    }

    /// Kernel counters since the last call: frames seen, frames dropped for a full ring.
    func statistics() -> (packets: UInt32, drops: UInt32) {
        var p: UInt32 = 0, d: UInt32 = 0
        _ = uvs_ring_stats(ring.fd, &p, &d)
        return (p, d)
    }

    mutating func close() { uvs_ring_close(&ring) }
}

/// Batched transmission on one link: frames are collected per block and sent with one
/// sendmmsg() call (measured on veth as fast as or faster than a TX ring; see README).
struct FrameTransmitter {
    var tx = uvs_tx()

    init(interface: NetworkInterface, bypassQdisc: Bool, batch: UInt32 = 256) throws(LiveError) {
        var err = [CChar](repeating: 0, count: 256)
        if uvs_tx_open(&tx, interface.index, batch, bypassQdisc ? 1 : 0, &err, 256) != 0 {
            throw LiveError("\(interface.name): transmit socket: \(cText(err))")
        }
    }

    @inline(__always) mutating func add(_ p: UnsafeMutableRawPointer, _ len: Int) {
        uvs_tx_add(&tx, p, UInt32(len))
    }

    mutating func flush() { if tx.n > 0 { uvs_tx_flush(&tx) } }
    var pending: Int { Int(tx.n) }
    var sent: UInt64 { tx.sent }
    var errors: UInt64 { tx.errors }
    mutating func close() { uvs_tx_close(&tx) }
}

/// An error of the live director's setup, with the message the user sees.
public struct LiveError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// A NUL-terminated C buffer as text.
func cText(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
