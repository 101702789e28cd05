import UVSPacket

/// IPv4 reassembly before IPVS, as the kernel's defragmentation before LOCAL_IN: fragments
/// are held (30 s, ipfrag_time; 4 MiB in all, ipfrag_high_thresh) until the datagram is
/// whole, which then goes through IPVS and leaves re-fragmented to the size of the largest
/// fragment it came in (IPCB frag_max_size), offsets in order, the first fragment's header.
struct FragmentKey: Hashable {
    var src: IPAddr, dst: IPAddr, id: UInt16, proto: UInt8
}

struct FragmentQueue {
    var header: [UInt8] = []          // the offset-0 fragment's IP header
    var l2: [UInt8] = []              // its Ethernet header
    var payload: [UInt8] = []
    var have: [(Int, Int)] = []       // received [start, end) ranges
    var total: Int? = nil             // known once the last fragment arrived
    var largest = 0                   // largest fragment (IP length)
    var expires: Nanos = 0

    var complete: Bool {
        guard let total, !header.isEmpty else { return false }
        var covered = 0
        for (a, b) in have.sorted(by: { $0.0 < $1.0 }) {
            if a > covered { return false }
            covered = max(covered, b)
        }
        return covered >= total
    }
}

extension Engine {
    static let fragmentTime = Time.seconds(30)
    static let fragmentMemory = 4 << 20

    mutating func reassemble(_ buf: PacketBuffer, _ pkt: ParsedPacket) -> Verdict {
        let p = buf.frame
        let ip = p + pkt.l3
        let fo = UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        let offset = Int(fo & 0x1FFF) * 8
        let more = fo & 0x2000 != 0
        let len = pkt.ipLen - pkt.ipHdrLen
        guard offset + len <= 65535 - pkt.ipHdrLen, more ? len % 8 == 0 && len > 0 : true else {
            count(.badFragment)
            return .dropped(.badFragment)
        }
        let key = FragmentKey(src: pkt.src, dst: pkt.dst,
                              id: UInt16(bigEndian: ip.loadUnaligned(fromByteOffset: 4, as: UInt16.self)), proto: pkt.proto)
        var q = fragments[key] ?? FragmentQueue()
        if q.have.isEmpty {
            guard fragmentBytes + 65535 <= Engine.fragmentMemory else {
                count(.fragmentMemoryFull)
                return .dropped(.fragmentMemoryFull)
            }
            q.expires = now + Engine.fragmentTime
            fragmentsDue = min(fragmentsDue, q.expires)
            fragmentBytes += 65535
        }
        if q.payload.count < offset + len { q.payload += [UInt8](repeating: 0, count: offset + len - q.payload.count) }
        q.payload.withUnsafeMutableBytes { ($0.baseAddress! + offset).copyMemory(from: ip + pkt.ipHdrLen, byteCount: len) }
        q.have.append((offset, offset + len))
        q.largest = max(q.largest, pkt.ipLen)
        if offset == 0 {
            q.header = Array(UnsafeRawBufferPointer(start: ip, count: pkt.ipHdrLen))
            q.l2 = Array(UnsafeRawBufferPointer(start: p, count: pkt.l3))
        }
        if !more { q.total = offset + len }
        guard q.complete, let total = q.total else {
            fragments[key] = q
            return .held
        }
        fragments[key] = nil
        fragmentBytes -= 65535
        // The whole datagram, in scratch with headroom for any transmit method.
        let hdr = q.header.count
        let frameLen = q.l2.count + hdr + total
        let room = allocateScratch(PacketBuffer.headroom + frameLen)
        var whole = PacketBuffer(base: room, capacity: PacketBuffer.headroom + frameLen, start: PacketBuffer.headroom,
                                 length: frameLen)
        let f = whole.frame
        q.l2.withUnsafeBytes { f.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let h = f + q.l2.count
        q.header.withUnsafeBytes { h.copyMemory(from: $0.baseAddress!, byteCount: hdr) }
        q.payload.withUnsafeBytes { (h + hdr).copyMemory(from: $0.baseAddress!, byteCount: total) }
        h.storeBytes(of: UInt16(hdr + total).bigEndian, toByteOffset: 2, as: UInt16.self)
        h.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        refreshIPv4Checksum(h)
        var full = ParsedPacket()
        guard case .ip = PacketParser.parse(f, frameLen, &full) else {
            count(.badFragment)
            return .dropped(.badFragment)
        }
        refragmentSize = q.largest
        defer { refragmentSize = 0 }
        return request(&whole, &full)
    }

    /// Splits the IPv4 packet at `frame + l2` into fragments of at most `size` bytes.
    mutating func refragment(_ frame: UnsafeMutableRawPointer, l2: Int, ipLen: Int, size: Int, side: Side, conn: Int32) {
        let ip = frame + l2
        let hdr = Int(ip.load(as: UInt8.self) & 0x0F) * 4
        let chunk = (size - hdr) & ~7
        let payload = ipLen - hdr
        var offset = 0
        while offset < payload {
            let n = min(chunk, payload - offset)
            let out = allocateScratch(l2 + hdr + n)
            out.copyMemory(from: frame, byteCount: l2 + hdr)
            (out + l2 + hdr).copyMemory(from: ip + hdr + offset, byteCount: n)
            let o = out + l2
            o.storeBytes(of: UInt16(hdr + n).bigEndian, toByteOffset: 2, as: UInt16.self)
            let more = offset + n < payload
            o.storeBytes(of: (UInt16(offset / 8) | (more ? 0x2000 : 0)).bigEndian, toByteOffset: 6, as: UInt16.self)
            refreshIPv4Checksum(o)
            queue(out, l2 + hdr + n, side, conn)
            offset += n
        }
    }

    /// Datagrams not complete within ipfrag_time are dropped.
    mutating func expireFragments() {
        var next = Nanos.max
        for (k, q) in fragments {
            if q.expires <= now {
                fragments[k] = nil
                fragmentBytes -= 65535
                count(.fragmentTimeout)
            } else {
                next = min(next, q.expires)
            }
        }
        fragmentsDue = next
    }
}
