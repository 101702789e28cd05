import Foundation
import Testing
import UVSControl
import UVSEngine
@testable import UVSIO
import UVSPacket

/// `uvsd replay` against the kernel oracle's golden outputs (fixtures/scenarios/*/expected,
/// made by fixtures/make.sh with ../shared/oracle). Every frame must be byte-identical except
/// the fields the kernel itself randomises (spec §0): the IPv4 ID (and so the header
/// checksum) of the director's own ICMP errors and of tunnel packets without DF, the ICMPv6
/// flow label of its own ICMPv6 errors, and the GUE source port.
struct OracleFixtureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let scenarios: [String] = {
        let dir = root.appendingPathComponent("fixtures/scenarios").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }()

    @Test func fixturesArePresent() {
        #expect(Self.scenarios.count >= 9, "fixtures/scenarios holds the oracle scenarios")
    }

    @Test(arguments: scenarios)
    func replayMatchesKernel(_ name: String) throws {
        let dir = Self.root.appendingPathComponent("fixtures/scenarios/\(name)").path
        let out = NSTemporaryDirectory() + "uvs-fixture-\(name)-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var o = Replay.Options(rulesPath: dir + "/rules.txt", inputPath: dir + "/input.pcap", outDir: out)
        if FileManager.default.fileExists(atPath: dir + "/replies.pcap") { o.repliesPath = dir + "/replies.pcap" }
        if FileManager.default.fileExists(atPath: dir + "/marks.txt") { o.marksPath = dir + "/marks.txt" }
        // The oracle options the fixture was made with (fixtures/make.sh passes `args`).
        let args = ((try? String(contentsOfFile: dir + "/args", encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        var i = 0
        while i + 1 < args.count {
            switch args[i] {
            case "--sysctl": o.sysctls.append(args[i + 1])
            case "--mode": o.mode = args[i + 1]
            case "--rs-mac": o.rsMACs.append(args[i + 1])
            case "--dip": o.dip = args[i + 1]
            default: Issue.record("\(name)/args: option \(args[i]) is not replayed")
            }
            i += 2
        }
        let (_, engine) = try Replay(o).run()
        let expected = dir + "/expected/"
        for f in ["decisions.tsv", "ipvsadm-L.txt", "ipvsadm-Lstats.txt", "ipvsadm-S.txt", "ipvsadm-timeout.txt"] {
            let want = try String(contentsOfFile: expected + f, encoding: .utf8)
            let got = try String(contentsOfFile: out + "/" + f, encoding: .utf8)
            #expect(got == want, "\(name)/\(f) differs from the kernel")
        }
        try compareConnections(name, try String(contentsOfFile: expected + "ipvsadm-Lc.txt", encoding: .utf8),
                               try String(contentsOfFile: out + "/ipvsadm-Lc.txt", encoding: .utf8))
        let vips = Set(engine.services.filter(\.live).map(\.key.addr))
        for f in ["out.pcap", "out-client.pcap"] {
            // Sync messages go out from the kernel's sender thread, at times of its own:
            // they are compared among themselves, in order. IGMP reports of a backup's group
            // membership are the host stack's, not IPVS's.
            let (wantSync, want) = Self.separateSync(try frames(expected + f))
            let (gotSync, got) = Self.separateSync(try frames(out + "/" + f))
            #expect(got.count == want.count, "\(name)/\(f): \(got.count) frames, kernel sent \(want.count)")
            for (i, (g, w)) in zip(got, want).enumerated() {
                let (gm, wm) = (masked(g, vips: vips, checkOurs: true), masked(w, vips: vips, checkOurs: false))
                #expect(gm == wm, "\(name)/\(f) frame \(i + 1) differs: \(firstDifference(gm, wm))")
            }
            #expect(gotSync.count == wantSync.count, "\(name)/\(f): \(gotSync.count) sync messages, kernel sent \(wantSync.count)")
            for (i, (g, w)) in zip(gotSync, wantSync).enumerated() {
                let (gm, wm) = (maskedSync(g, checkOurs: true), maskedSync(w, checkOurs: false))
                #expect(gm == wm, "\(name)/\(f) sync message \(i + 1) differs: \(firstDifference(gm, wm))")
            }
        }
    }

    /// (UDP datagrams to a multicast group, the rest without IGMP).
    static func separateSync(_ frames: [[UInt8]]) -> ([[UInt8]], [[UInt8]]) {
        var sync: [[UInt8]] = [], rest: [[UInt8]] = []
        for f in frames {
            var pkt = ParsedPacket()
            let kind = f.withUnsafeBytes { b -> Int in
                guard case .ip = PacketParser.parse(b.baseAddress!, b.count, &pkt) else { return 0 }
                if pkt.proto == 2 { return 2 }
                let multicast = pkt.isV6 ? pkt.dst.hi >> 56 == 0xFF : pkt.dst.v4 >> 28 == 0xE
                return multicast && pkt.proto == IPProto.udp ? 1 : 0
            }
            if kind == 1 { sync.append(f) } else if kind == 0 { rest.append(f) }
        }
        return (sync, rest)
    }

    /// A sync datagram without what the kernel randomises (IPv4 ID, the ephemeral source
    /// port) and the checksums covering them; ours must have valid checksums.
    func maskedSync(_ frame: [UInt8], checkOurs: Bool) -> [UInt8] {
        var f = frame
        f.withUnsafeMutableBytes { b in
            let p = b.baseAddress!
            var pkt = ParsedPacket()
            guard case .ip = PacketParser.parse(p, b.count, &pkt) else { return }
            if checkOurs {
                let pseudo = Checksum.pseudo(src: pkt.src, dst: pkt.dst, proto: IPProto.udp, length: pkt.l4Len)
                #expect(Checksum.compute(p + pkt.l4, pkt.l4Len, pseudo) == 0, "bad UDP checksum")
                if !pkt.isV6 { #expect(Checksum.compute(p + pkt.l3, pkt.ipHdrLen) == 0, "bad IPv4 header checksum") }
            }
            if !pkt.isV6 { for i in [4, 5, 10, 11] { p.storeBytes(of: UInt8(0), toByteOffset: pkt.l3 + i, as: UInt8.self) } }
            for i in [0, 1, 6, 7] { p.storeBytes(of: UInt8(0), toByteOffset: pkt.l4 + i, as: UInt8.self) }
        }
        return f
    }

    /// -Lc rows in any order (the kernel's is a random hash order); expiry within 2 s.
    func compareConnections(_ name: String, _ want: String, _ got: String) throws {
        func rows(_ s: String) -> [String: Int] {
            var r: [String: Int] = [:]
            for line in s.split(separator: "\n").dropFirst(2) {
                let l = String(line)
                let key = String(l.prefix(3)) + String(l.dropFirst(10))
                let t = l.dropFirst(4).prefix(6).trimmingCharacters(in: .whitespaces).split(separator: ":")
                r[key] = Int(t[0])! * 60 + Int(t[1])!
            }
            return r
        }
        let (w, g) = (rows(want), rows(got))
        #expect(Set(w.keys) == Set(g.keys), "\(name): connection table differs: missing \(Set(w.keys).subtracting(g.keys)), extra \(Set(g.keys).subtracting(w.keys))")
        for (k, t) in w {
            if let u = g[k] { #expect(abs(u - t) <= 2, "\(name): expiry of \(k): \(u) s, kernel \(t) s") }
        }
        let header = "IPVS connection entries\npro expire state       source             virtual            destination\n"
        #expect(got.hasPrefix(header))
    }

    func frames(_ path: String) throws -> [[UInt8]] {
        let r = try CaptureReader(path: path)
        let mem = UnsafeMutableRawPointer.allocate(byteCount: 70000, alignment: 16)
        defer { mem.deallocate() }
        var out: [[UInt8]] = []
        try r.forEach(into: mem, capacity: 70000, headroom: 0) { len, _ in
            out.append(Array(UnsafeRawBufferPointer(start: mem, count: len)))
        }
        return out
    }

    /// Zeroes the fields the kernel randomises; for our frames also checks that what was
    /// masked is still internally valid (header checksum).
    func masked(_ frame: [UInt8], vips: Set<IPAddr>, checkOurs: Bool) -> [UInt8] {
        var f = frame
        f.withUnsafeMutableBytes { b in
            let p = b.baseAddress!
            var pkt = ParsedPacket()
            guard case .ip = PacketParser.parse(p, b.count, &pkt) else { return }
            let l3 = pkt.l3
            if !pkt.isV6 {
                let ownICMP = pkt.proto == IPProto.icmp && vips.contains(pkt.src)
                let tunnel = [IPProto.ipip, IPProto.ipv6, IPProto.gre].contains(pkt.proto) || isGUE(p, pkt)
                if (ownICMP || (tunnel && !pkt.df)) {
                    if checkOurs { #expect(Checksum.compute(p + l3, pkt.ipHdrLen) == 0, "bad IPv4 header checksum") }
                    for i in [4, 5, 10, 11] { p.storeBytes(of: UInt8(0), toByteOffset: l3 + i, as: UInt8.self) }
                }
                if isGUE(p, pkt) { p.storeBytes(of: UInt16(0), toByteOffset: pkt.l4, as: UInt16.self) }
            } else {
                // The director's own ICMPv6 and TCP resets carry a flow label from a per-boot hash.
                let ownReset = pkt.proto == IPProto.tcp && pkt.tcpFlags & 0x04 != 0
                if (pkt.proto == IPProto.icmpv6 || ownReset) && vips.contains(pkt.src) {
                    let w = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: l3, as: UInt32.self)) & 0xFFF0_0000
                    p.storeBytes(of: w.bigEndian, toByteOffset: l3, as: UInt32.self)
                }
                if isGUE(p, pkt) { p.storeBytes(of: UInt16(0), toByteOffset: pkt.l4, as: UInt16.self) }
            }
        }
        return f
    }

    func isGUE(_ p: UnsafeMutableRawPointer, _ pkt: ParsedPacket) -> Bool {
        guard pkt.proto == IPProto.udp, pkt.fragment == .none, pkt.l4Len >= 13 else { return false }
        let dport = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: pkt.l4 + 2, as: UInt16.self))
        let g = p.load(fromByteOffset: pkt.l4 + 8, as: UInt8.self)
        let v = p.load(fromByteOffset: pkt.l4 + 12 + 4 * Int(g & 0x1F), as: UInt8.self) >> 4
        return dport >= 6000 && dport <= 7000 && g >> 6 == 0 && (v == 4 || v == 6)
    }

    func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
        let n = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
        return "at byte \(n) of \(a.count)/\(b.count)"
    }
}
