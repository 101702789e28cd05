import Foundation
import Testing
@testable import UVSIO
import UVSEngine

/// The same packets as pcapng, raw IP and Linux SLL captures replay to the same output as
/// the Ethernet pcap (the oracle wraps non-Ethernet packets the same way).
struct CaptureFormatTests {
    static let scenario = OracleFixtureTests.root.appendingPathComponent("fixtures/scenarios/nat-lifecycle").path

    func frames(_ path: String) throws -> [(Data, UInt32, UInt32)] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        var out: [(Data, UInt32, UInt32)] = []
        var off = 24
        func u32(_ o: Int) -> UInt32 { d[o..<(o + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
        while off + 16 <= d.count {
            let sec = u32(off), usec = u32(off + 4), len = Int(u32(off + 8))
            out.append((d[(off + 16)..<(off + 16 + len)], sec, usec))
            off += 16 + len
        }
        return out
    }

    func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }

    /// A classic pcap with `linktype`, each Ethernet frame turned into that link's framing.
    func writePcap(_ path: String, linktype: UInt32, _ fs: [(Data, UInt32, UInt32)], framing: (Data) -> Data) throws {
        var d = le32(0xA1B2_C3D4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65535) + le32(linktype)
        for (f, s, u) in fs {
            let b = framing(f)
            d += le32(s) + le32(u) + le32(UInt32(b.count)) + le32(UInt32(b.count)) + b
        }
        try d.write(to: URL(fileURLWithPath: path))
    }

    /// pcapng: section header, one Ethernet interface (µs timestamps), enhanced packet blocks.
    func writePcapng(_ path: String, _ fs: [(Data, UInt32, UInt32)]) throws {
        func block(_ type: UInt32, _ body: Data) -> Data {
            let len = UInt32(12 + body.count)
            return le32(type) + le32(len) + body + le32(len)
        }
        var d = block(0x0A0D_0D0A, le32(0x1A2B_3C4D) + le16(1) + le16(0) + Data(repeating: 0xFF, count: 8))
        d += block(1, le16(1) + le16(0) + le32(65535))
        for (f, s, u) in fs {
            let ts = UInt64(s) * 1_000_000 + UInt64(u)
            var body = le32(0) + le32(UInt32(ts >> 32)) + le32(UInt32(ts & 0xFFFF_FFFF)) + le32(UInt32(f.count)) + le32(UInt32(f.count)) + f
            while body.count % 4 != 0 { body.append(0) }
            d += block(6, body)
        }
        try d.write(to: URL(fileURLWithPath: path))
    }

    func replay(_ input: String, _ tag: String) throws -> [String: Data] {
        let out = NSTemporaryDirectory() + "uvs-fmt-\(tag)-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var o = Replay.Options(rulesPath: Self.scenario + "/rules.txt", inputPath: input, outDir: out)
        o.repliesPath = Self.scenario + "/replies.pcap"
        _ = try Replay(o).run()
        var r: [String: Data] = [:]
        for f in ["out.pcap", "out-client.pcap", "decisions.tsv", "ipvsadm-Lstats.txt"] {
            r[f] = try Data(contentsOf: URL(fileURLWithPath: out + "/" + f))
        }
        // Frame bytes only (timestamps of the pcap records may differ by format precision).
        for f in ["out.pcap", "out-client.pcap"] { r[f] = Data(try frames(out + "/" + f).flatMap { $0.0 }) }
        return r
    }

    @Test func everyLinkTypeGivesTheSameOutput() throws {
        let fs = try frames(Self.scenario + "/input.pcap")
        let base = NSTemporaryDirectory() + "uvs-fmt-\(getpid())"
        defer { for s in ["ng", "raw", "sll"] { try? FileManager.default.removeItem(atPath: base + "." + s) } }
        let want = try replay(Self.scenario + "/input.pcap", "eth")
        try writePcapng(base + ".ng", fs)
        try writePcap(base + ".raw", linktype: 101, fs) { $0.dropFirst(14) }
        try writePcap(base + ".sll", linktype: 113, fs) { f in
            // packet type 0, ARPHRD_ETHER, address length 6, the source MAC, 2 bytes pad, protocol
            Data([0, 0, 0, 1, 0, 6]) + f[f.startIndex + 6..<f.startIndex + 12] + Data([0, 0]) + f[f.startIndex + 12..<f.startIndex + 14] + f.dropFirst(14)
        }
        for (tag, path) in [("pcapng", base + ".ng"), ("raw IP", base + ".raw"), ("Linux SLL", base + ".sll")] {
            let got = try replay(path, tag)
            for (k, v) in want { #expect(got[k] == v, "\(tag): \(k) differs from the Ethernet capture's") }
        }
    }
}
