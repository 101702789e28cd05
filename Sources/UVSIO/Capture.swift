#if canImport(Glibc)
import Glibc
#endif
import CPcap
import UVSPacket

/// Reads pcap and pcapng files through libpcap, presenting every packet as an Ethernet frame
/// (raw IP, Linux SLL/SLL2 and BSD loopback are wrapped, as the oracle does).
public final class CaptureReader {
    let handle: OpaquePointer
    public let linkType: Int32
    public let path: String
    let nano: Bool
    /// Ethernet addresses used when a packet has to be wrapped.
    public var wrapDestination = MACAddr("02:00:00:00:d0:01")!
    public var wrapSource = MACAddr("02:00:00:00:c1:01")!

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    public init(path: String) throws(Error) {
        var err = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        // Our own stream with a large buffer (libpcap reads each record with fread): far
        // fewer read calls than stdio's default 4 KiB, and no stdio locking per record (one
        // thread reads it). libpcap closes it.
        guard let file = fopen(path, "rb") else {
            throw Error(description: "\(path): \(String(cString: strerror(errno)))")
        }
        setvbuf(file, nil, _IOFBF, Self.streamBuffer)
        __fsetlocking(file, Int32(FSETLOCKING_BYCALLER))
        guard let h = pcap_fopen_offline(file, &err) else {
            fclose(file)
            throw Error(description: "\(path): \(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        handle = h
        linkType = pcap_datalink(h)
        nano = pcap_get_tstamp_precision(h) == Int32(PCAP_TSTAMP_PRECISION_NANO)
        self.path = path
        switch linkType {
        case DLT_EN10MB, DLT_RAW, 12, 14, DLT_LINUX_SLL, 276, DLT_NULL, 108: break
        default:
            pcap_close(h)
            throw Error(description: "\(path): unsupported link type \(linkType) (Ethernet, raw IP, Linux SLL or loopback expected)")
        }
    }

    deinit { pcap_close(handle) }

    static let streamBuffer = 1 << 20

    /// The next packet as an Ethernet frame written into `buf` at `headroom`: its length
    /// and timestamp in nanoseconds, or nil at the end of the file.
    public func next(into buf: UnsafeMutableRawPointer, capacity: Int, headroom: Int) throws(Error) -> (length: Int, time: Int64)? {
        var hdr: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        while true {
            let r = pcap_next_ex(handle, &hdr, &data)
            if r == -2 { return nil }
            if r < 0 {
                throw Error(description: "\(path): \(String(cString: pcap_geterr(handle)))")
            }
            guard r == 1, let h = hdr, let d = data else { continue }
            let caplen = Int(h.pointee.caplen)
            let ts = Int64(h.pointee.ts.tv_sec) * 1_000_000_000 + Int64(h.pointee.ts.tv_usec) * (nano ? 1 : 1000)
            let room = capacity - headroom
            let out = buf + headroom
            if linkType == DLT_EN10MB {
                let len = min(caplen, room)
                out.copyMemory(from: d, byteCount: len)
                return (len, ts)
            }
            var ethertype: UInt16 = 0
            var payload = 0
            switch linkType {
            case DLT_RAW, 12, 14:
                ethertype = caplen > 0 && d[0] >> 4 == 6 ? EtherType.ipv6 : EtherType.ipv4
            case DLT_LINUX_SLL:
                guard caplen >= 16 else { continue }
                ethertype = UInt16(d[14]) << 8 | UInt16(d[15]); payload = 16
            case 276:
                guard caplen >= 20 else { continue }
                ethertype = UInt16(d[0]) << 8 | UInt16(d[1]); payload = 20
            default:   // NULL / LOOP: a 4-byte address family, then IP
                guard caplen > 4 else { continue }
                ethertype = d[4] >> 4 == 6 ? EtherType.ipv6 : EtherType.ipv4; payload = 4
            }
            guard ethertype == EtherType.ipv4 || ethertype == EtherType.ipv6 else { continue }
            let body = min(caplen - payload, room - 14)
            wrapDestination.store(out)
            wrapSource.store(out + 6)
            out.storeBytes(of: ethertype.bigEndian, toByteOffset: 12, as: UInt16.self)
            (out + 14).copyMemory(from: d + payload, byteCount: body)
            return (14 + body, ts)
        }
    }

    /// Calls `body` with each packet (see `next`). Returns the number of packets read.
    @discardableResult
    public func forEach(into buf: UnsafeMutableRawPointer, capacity: Int, headroom: Int,
                        _ body: (_ frameLength: Int, _ time: Int64) -> Void) throws(Error) -> Int {
        var n = 0
        while let (len, ts) = try next(into: buf, capacity: capacity, headroom: headroom) {
            n += 1
            body(len, ts)
        }
        return n
    }
}

/// Writes Ethernet frames to a pcap file through libpcap.
public final class CaptureWriter {
    let dead: OpaquePointer
    let dumper: OpaquePointer

    public init(path: String) throws(CaptureReader.Error) {
        guard let d = pcap_open_dead(DLT_EN10MB, 262_144) else {
            throw CaptureReader.Error(description: "\(path): cannot create a pcap handle")
        }
        guard let file = fopen(path, "wb") else {
            pcap_close(d)
            throw CaptureReader.Error(description: "\(path): \(String(cString: strerror(errno)))")
        }
        setvbuf(file, nil, _IOFBF, CaptureReader.streamBuffer)
        __fsetlocking(file, Int32(FSETLOCKING_BYCALLER))
        guard let w = pcap_dump_fopen(d, file) else {
            // (libpcap has closed the stream when it could not write the header)
            let msg = String(cString: pcap_geterr(d))
            pcap_close(d)
            throw CaptureReader.Error(description: "\(path): \(msg)")
        }
        dead = d
        dumper = w
    }

    public func write(_ frame: UnsafeRawBufferPointer, time: Int64) {
        var h = pcap_pkthdr()
        h.ts.tv_sec = Int(time / 1_000_000_000)
        h.ts.tv_usec = Int((time % 1_000_000_000) / 1000)
        h.caplen = UInt32(frame.count)
        h.len = UInt32(frame.count)
        pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &h,
                  frame.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }

    public func close() {
        pcap_dump_close(dumper)
        pcap_close(dead)
    }
}
