import CPcap
import CUVSNet
import UVSPacket

/// Which frames belong to the director, and the classic-BPF programs derived from it:
/// the packet sockets' filter (what reaches userspace), the tc ingress program that keeps
/// the same frames off the host's own stack, and the fanout program that sends both
/// directions of a connection to the same worker.
struct TrafficSelection: Equatable {
    /// Addresses of the virtual services (fwmark rules' destinations included).
    var vips: [IPAddr] = []
    /// NAT real servers: their replies come back through the director.
    var natServers: [IPAddr] = []
    /// The director's own addresses (real servers' traffic to them stays with the host).
    var ownAddresses: [IPAddr] = []
    /// Destination networks of fwmark rules (`-d a.b.c.0/24`).
    var networks: [String] = []
    /// Any packet may be a service packet (fwmark rules without a destination).
    var everything = false
    /// Prefix of the widest persistence netmask per family: clients inside one prefix must
    /// meet the same worker, or their persistence template would be split.
    var persistPrefix4 = 32
    var persistPrefix6 = 128

    /// The pcap expression for frames IPVS handles; nil = none.
    var takenExpression: String? {
        // `ip`/`ip6` qualifiers: a bare `host` would match ARP's addresses too.
        func q(_ a: IPAddr) -> String { a.isV4 ? "ip" : "ip6" }
        if everything {
            let own = ownAddresses.map { "not \(q($0)) dst host \($0)" }
            return own.isEmpty ? "ip or ip6" : "(ip or ip6) and " + own.joined(separator: " and ")
        }
        var terms = Self.aggregate(vips).map { $0.1 == ($0.0.isV4 ? 32 : 128) ? "\(q($0.0)) dst host \($0.0)" : "\(q($0.0)) dst net \($0.0)/\($0.1)" }
            + networks.map { "\($0.contains(":") ? "ip6" : "ip") dst net \($0)" }
        terms += Self.aggregate(natServers).map { net in
            let sel = net.1 == (net.0.isV4 ? 32 : 128) ? "src host \(net.0)" : "src net \(net.0)/\(net.1)"
            return "(\(q(net.0)) \(sel)" + ownAddresses.filter { $0.isV4 == net.0.isV4 }.map { " and not \(q($0)) dst host \($0)" }.joined() + ")"
        }
        return terms.isEmpty ? nil : terms.joined(separator: " or ")
    }

    /// The receive sockets' filter (Ethernet framing): taken traffic, ARP, and neighbour
    /// solicitations/advertisements.
    func socketFilter() throws(LiveError) -> [sock_filter] {
        var expr = "arp or (icmp6 and (ip6[40] = 135 or ip6[40] = 136))"
        if let t = takenExpression { expr += " or (\(t))" }
        return try Self.compile(expr, linkType: DLT_EN10MB)
    }

    /// The tc ingress program (direct action; cls_bpf pushes the MAC header back at ingress,
    /// so it reads the frame like a socket filter): TC_ACT_SHOT for
    /// taken traffic of our VLAN (or untagged when vlan < 0), TC_ACT_OK for the rest.
    func ingressDropProgram(vlan: Int32) throws(LiveError) -> [sock_filter] {
        guard let t = takenExpression else { return [bpfStmt(0x06, 0)] }
        var prog = try Self.compile(t, linkType: DLT_EN10MB)
        for i in prog.indices where prog[i].code == 0x06 && prog[i].k != 0 { prog[i].k = 2 }  // ret #snaplen → SHOT
        // Prefix: only frames of our VLAN (the tag is skb metadata, not in the data).
        let adOff = UInt32(bitPattern: -0x1000)
        var prefix: [sock_filter] = [bpfStmt(0x20, adOff &+ 48)]  // ld vlan_tag_present
        if vlan < 0 {
            prefix.append(bpfJump(0x15, 0, 0, 0))  // jeq #0, jf → pass
        } else {
            prefix.append(bpfJump(0x15, 1, 0, 0))  // jeq #1, jf → pass
            prefix.append(bpfStmt(0x20, adOff &+ 44))  // ld vlan_tag
            prefix.append(bpfStmt(0x54, 0x0FFF))  // and #0xfff
            prefix.append(bpfJump(0x15, UInt32(vlan), 0, 0))
        }
        let total = prefix.count + prog.count + 1
        for i in prefix.indices where prefix[i].code == 0x15 {
            prefix[i].jf = UInt8(total - 1 - (i + 1))  // to the final `ret #0`
        }
        return prefix + prog + [bpfStmt(0x06, 0)]
    }

    /// The PACKET_FANOUT_CBPF program: a hash of the client's address (the source of
    /// packets to a VIP, the destination of anything else: NAT replies), masked to the
    /// persistence prefix; the kernel takes it modulo the number of workers.
    func fanoutProgram() -> [sock_filter] {
        let net = UInt32(bitPattern: -0x100000)  // SKF_NET_OFF: offsets from the network header
        var p: [sock_filter] = []
        // Placeholders patched below: [0] ldb ver, [1] rsh 4, [2] jeq 4, [3] jeq 6, [4] ret 0
        p.append(bpfStmt(0x30, net))  // ldb [net+0]
        p.append(bpfStmt(0x74, 4))  // rsh #4
        p.append(bpfJump(0x15, 4, 0, 0))
        p.append(bpfJump(0x15, 6, 0, 0))
        p.append(bpfStmt(0x06, 0))
        // IPv4 block: is the destination a VIP (any of the aggregated prefixes)?
        let v4Start = p.count
        let v4s = Self.aggregate(vips.filter(\.isV4))
        var jumpsToSrc4: [Int] = []
        if !v4s.isEmpty {
            p.append(bpfStmt(0x20, net &+ 16))  // ld dst
            p.append(bpfStmt(0x07, 0))  // tax
            for (a, len) in v4s {
                p.append(bpfStmt(0x87, 0))  // txa
                p.append(bpfStmt(0x54, Self.mask(len)))  // and #mask
                jumpsToSrc4.append(p.count); p.append(bpfJump(0x15, a.v4, 0, 0))
            }
        }
        // dst path: hash the destination
        p.append(bpfStmt(0x20, net &+ 16))
        let dst4Jump = p.count; p.append(bpfJump(0x05, 0, 0, 0))  // ja hash4
        let src4 = p.count
        p.append(bpfStmt(0x20, net &+ 12))
        let hash4 = p.count
        p.append(bpfStmt(0x54, Self.mask(persistPrefix4)))
        p.append(bpfStmt(0x24, 0x9E37_79B1))  // mul
        p.append(bpfStmt(0x74, 16))  // rsh
        p.append(bpfStmt(0x16, 0))  // ret a
        for j in jumpsToSrc4 { p[j].jt = UInt8(src4 - (j + 1)) }
        p[dst4Jump].k = UInt32(hash4 - (dst4Jump + 1))
        // IPv6 block: words compared in full; the hashed word lies inside the persistence prefix.
        let v6Start = p.count
        let word = UInt32(min(3, max(0, (persistPrefix6 - 1) / 32)))
        let wmask = Self.mask(persistPrefix6 - Int(word) * 32)
        let v6s = vips.filter { !$0.isV4 }
        var toSrc6: [Int] = []
        for v in v6s {
            let w = [UInt32(truncatingIfNeeded: v.hi >> 32), UInt32(truncatingIfNeeded: v.hi),
                     UInt32(truncatingIfNeeded: v.lo >> 32), UInt32(truncatingIfNeeded: v.lo)]
            let blockStart = p.count
            for (i, x) in w.enumerated() {
                p.append(bpfStmt(0x20, net &+ 24 &+ UInt32(4 * i)))
                p.append(bpfJump(0x15, x, 0, 0))
            }
            let next = p.count
            for i in 0..<4 { p[blockStart + 2 * i + 1].jf = UInt8(next - (blockStart + 2 * i + 2)) }
            toSrc6.append(next - 1)  // the last comparison's jt goes to src6
        }
        p.append(bpfStmt(0x20, net &+ 24 &+ 4 * word))
        let dst6Jump = p.count; p.append(bpfJump(0x05, 0, 0, 0))
        let src6 = p.count
        p.append(bpfStmt(0x20, net &+ 8 &+ 4 * word))
        let hash6 = p.count
        p.append(bpfStmt(0x54, wmask))
        p.append(bpfStmt(0x24, 0x9E37_79B1))
        p.append(bpfStmt(0x74, 16))
        p.append(bpfStmt(0x16, 0))
        for j in toSrc6 { p[j].jt = UInt8(src6 - (j + 1)) }
        p[dst6Jump].k = UInt32(hash6 - (dst6Jump + 1))
        p[2].jt = UInt8(v4Start - 3)
        p[3].jt = UInt8(v6Start - 4)
        return p
    }

    /// The fewest prefixes that cover exactly `addrs` (sibling prefixes merged bottom-up):
    /// thousands of consecutive VIPs become a handful of `dst net` terms, keeping the
    /// programs far below the kernel's 4096-instruction limit.
    static func aggregate(_ addrs: [IPAddr]) -> [(IPAddr, Int)] {
        var out: [(IPAddr, Int)] = addrs.filter { !$0.isV4 }.map { ($0, 128) }
        var level = Set(addrs.filter(\.isV4).map(\.v4))
        var len = 32
        while len > 0 && !level.isEmpty {
            var next = Set<UInt32>()
            let bit = UInt32(1) << UInt32(32 - len)
            for a in level {
                if a & bit == 0, level.contains(a | bit) { next.insert(a) } else if a & bit != 0, level.contains(a & ~bit) {
                    continue
                } else {
                    out.append((IPAddr(v4: a), len))
                }
            }
            level = next
            len -= 1
        }
        for a in level { out.append((IPAddr(v4: a), len)) }
        return out.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    /// The worker the fanout program sends a client's frames to (the same hash, modulo the
    /// number of workers as PACKET_FANOUT_CBPF takes it): where a synced connection belongs.
    func worker(forClient a: IPAddr, of n: Int) -> Int {
        guard n > 1 else { return 0 }
        let w: UInt32, m: UInt32
        if a.isV4 {
            w = a.v4
            m = Self.mask(persistPrefix4)
        } else {
            let word = min(3, max(0, (persistPrefix6 - 1) / 32))
            let words = [UInt32(truncatingIfNeeded: a.hi >> 32), UInt32(truncatingIfNeeded: a.hi),
                         UInt32(truncatingIfNeeded: a.lo >> 32), UInt32(truncatingIfNeeded: a.lo)]
            w = words[word]
            m = Self.mask(persistPrefix6 - word * 32)
        }
        return Int((((w & m) &* 0x9E37_79B1) >> 16) % UInt32(n))
    }

    static func mask(_ bits: Int) -> UInt32 { bits <= 0 ? 0 : (bits >= 32 ? ~0 : ~0 << UInt32(32 - bits)) }

    /// pcap_compile on a dead handle of the given link type.
    static func compile(_ expr: String, linkType: Int32) throws(LiveError) -> [sock_filter] {
        guard let h = pcap_open_dead(linkType, 262_144) else { throw LiveError("pcap_open_dead failed") }
        defer { pcap_close(h) }
        var prog = bpf_program()
        guard pcap_compile(h, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw LiveError("filter \"\(expr)\": \(String(cString: pcap_geterr(h)))")
        }
        defer { pcap_freecode(&prog) }
        return (0..<Int(prog.bf_len)).map { i in
            let x = prog.bf_insns[i]
            return sock_filter(code: x.code, jt: x.jt, jf: x.jf, k: x.k)
        }
    }

    /// tc's `bytecode` text: "N,code jt jf k,...".
    static func tcBytecode(_ p: [sock_filter]) -> String {
        "\(p.count)," + p.map { "\($0.code) \($0.jt) \($0.jf) \($0.k)" }.joined(separator: ",")
    }
}

func bpfStmt(_ code: UInt16, _ k: UInt32) -> sock_filter { sock_filter(code: code, jt: 0, jf: 0, k: k) }
func bpfJump(_ code: UInt16, _ k: UInt32, _ jt: UInt8, _ jf: UInt8) -> sock_filter {
    sock_filter(code: code, jt: jt, jf: jf, k: k)
}
