import Testing
import UVSControl
@testable import UVSEngine
import UVSPacket

/// Bad input never traps: mutated and truncated frames from both sides, through every
/// forwarding method, only ever give verdicts and counters.
struct RobustnessTests {
    @Test func mutatedFramesThroughEveryMethod() throws {
        let lab = try Lab("""
            -A -t 192.0.2.100:80 -s rr
            -a -t 192.0.2.100:80 -r 198.51.100.11:80 -g
            -a -t 192.0.2.100:80 -r 198.51.100.12:8080 -m
            -a -t 192.0.2.100:80 -r 198.51.100.13:80 -i --tun-type gue --tun-port 6080 --tun-csum
            -a -t 192.0.2.100:80 -r 198.51.100.14:80 -i --tun-type gre --tun-csum
            -A -u 192.0.2.100:53 -s wlc -p 30
            -a -u 192.0.2.100:53 -r 198.51.100.15:53 -m
            """)
        var seeds: [[UInt8]] = []
        for i in 0..<8 {
            seeds.append(Frames.tcp("203.0.113.\(i + 1)", UInt16(40000 + i), "192.0.2.100", 80, flags: 0x02, payload: i * 200))
            seeds.append(Frames.udp("203.0.113.\(i + 1)", 5000, "192.0.2.100", 53, payload: [UInt8](repeating: 7, count: i * 100)))
            // An ICMP error quoting a reply of the flow, from the client side.
            let quoted = Array(Frames.tcp("192.0.2.100", 80, "203.0.113.\(i + 1)", UInt16(40000 + i), flags: 0x12)[14..<54])
            seeds.append(Frames.ipv4("203.0.113.\(i + 1)", "192.0.2.100", proto: 1, l4: [3, 3, 0, 0, 0, 0, 0, 0] + quoted))
        }
        for s in seeds { lab.send(s) }
        var rng = SplitMix64(seed: 42)
        var verdicts = [String: Int]()
        for n in 0..<30_000 {
            var f = seeds[Int(rng.next() % UInt64(seeds.count))]
            switch rng.next() % 4 {
            case 0: f = Array(f.prefix(Int(rng.next() % UInt64(f.count + 1))))
            case 1:
                for _ in 0..<(1 + rng.next() % 4) {
                    let i = Int(rng.next() % UInt64(f.count))
                    f[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                }
            case 2:
                let i = 14 + Int(rng.next() % 40)
                if i < f.count { f[i] = UInt8(truncatingIfNeeded: rng.next()) }
            default:
                f += (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            let (v, _) = lab.send(f, from: n % 5 == 0 ? .server : .client, after: Time.millisecond * 7)
            verdicts[String(describing: v), default: 0] += 1
        }
        // Something of each kind happened, and the table is consistent.
        #expect(verdicts.keys.contains { $0.hasPrefix("dropped") })
        #expect(verdicts["sent", default: 0] > 1000)
        let live = lab.engine.conns.liveSlots().count
        let counted = lab.engine.dests.reduce(0) { $0 + Int($1.activeConns + $1.inactiveConns + $1.persistConns) }
        #expect(live == counted)
    }
}

struct ReassemblyTests {
    /// Two fragments of one UDP datagram (ID 77): offset 0 with MF, then the rest.
    func fragments(_ payload: Int) -> ([UInt8], [UInt8]) {
        let whole = Frames.udp("203.0.113.9", 5000, "192.0.2.100", 53, payload: [UInt8](repeating: 0x61, count: payload))
        let ip = Array(whole[14...])
        let first = 8 + 1000               // UDP header + 1000 bytes, a multiple of 8
        func frame(_ off: Int, _ body: ArraySlice<UInt8>, more: Bool) -> [UInt8] {
            var h = Array(ip[0..<20])
            let len = 20 + body.count
            h[2] = UInt8(len >> 8); h[3] = UInt8(len & 0xFF)
            h[4] = 0; h[5] = 77
            let fo = UInt16(off / 8) | (more ? 0x2000 : 0)
            h[6] = UInt8(fo >> 8); h[7] = UInt8(fo & 0xFF)
            h[10] = 0; h[11] = 0
            let c = h.withUnsafeBytes { Checksum.compute($0.baseAddress!, 20) }
            h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
            return Array(whole[0..<14]) + h + Array(body)
        }
        return (frame(0, ip[20..<(20 + first)], more: true), frame(first, ip[(20 + first)...], more: false))
    }

    @Test func heldThenForwardedInFragments() throws {
        let lab = try Lab("-A -u 192.0.2.100:53 -s rr\n-a -u 192.0.2.100:53 -r 198.51.100.11:53\n")
        let (a, b) = fragments(1500)
        #expect(lab.send(b).0 == .held)
        let (v, out) = lab.send(a)
        #expect(v == .sent && out.count == 2)
        #expect(out.map { $0.bytes.count } == [a.count, b.count])
        #expect(out[0].bytes[20] == 0x20 && out[1].bytes[20] == 0x00 && out[1].bytes[21] == 126)
    }

    @Test func incompleteDatagramsExpire() throws {
        let lab = try Lab("-A -u 192.0.2.100:53 -s rr\n-a -u 192.0.2.100:53 -r 198.51.100.11:53\n")
        let (a, b) = fragments(1500)
        #expect(lab.send(a).0 == .held)
        #expect(lab.send(b, after: Time.seconds(31)).0 == .held)   // the first part has expired
        #expect(lab.engine.dropCount(.fragmentTimeout) == 1)
    }
}
