import CPrefetch
import UVSPacket

/// Batch lookahead for the live edge: a table lookup is a dependent chain of two cache
/// misses (hash bucket, then entry), and a ring of frames streaming through the cache evicts
/// the table between packets. Asking for the bucket a few frames ahead, and for the entry
/// once the bucket has arrived, overlaps those misses with the work on earlier frames.
/// Hints only: nothing is read or written that the packet path depends on.
extension Engine {
    /// The client-side key of an untagged IPv4 TCP/UDP frame without options.
    @inline(__always)
    func prefetchKey(_ p: UnsafeRawPointer, _ len: Int) -> (IPAddr, UInt16, UInt8)? {
        guard len >= 42, p.loadUnaligned(fromByteOffset: 12, as: UInt16.self) == UInt16(0x0800).bigEndian,
              p.load(fromByteOffset: 14, as: UInt8.self) == 0x45 else { return nil }
        let proto = p.load(fromByteOffset: 23, as: UInt8.self)
        guard proto == IPProto.tcp || proto == IPProto.udp else { return nil }
        return (IPAddr.load(v4: p + 26), UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 34, as: UInt16.self)), proto)
    }

    /// Stage 1: the hash bucket of this frame's connection; returns the bucket for stage 2
    /// (-1 when the frame is not one the fast path looks up).
    public mutating func prefetchBucket(_ p: UnsafeRawPointer, _ len: Int) -> Int32 {
        guard let (a, port, proto) = prefetchKey(p, len) else { return -1 }
        return conns.prefetchBucket(a, port, proto)
    }

    /// Stage 2: the first entry of that bucket (its cache lines), once the bucket has arrived.
    public mutating func prefetchEntry(bucket: Int32) {
        if bucket >= 0 { conns.prefetchEntry(bucket: Int(bucket)) }
    }
}

extension ConnectionTable {
    @inline(__always)
    mutating func prefetchBucket(_ addr: IPAddr, _ port: UInt16, _ proto: UInt8) -> Int32 {
        let b = Int(bucket(addr, port, proto))
        buckets.withUnsafeBufferPointer { uvs_prefetch($0.baseAddress! + b) }
        return Int32(b)
    }

    @inline(__always)
    mutating func prefetchEntry(bucket b: Int) {
        let i = buckets[b]
        guard i >= 0 else { return }
        slots.withUnsafeBufferPointer { s in
            let e = UnsafeRawPointer(s.baseAddress! + Int(i))
            uvs_prefetch(e)
            uvs_prefetch(e + 64)
        }
    }
}
