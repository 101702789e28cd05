import UVSEngine
import UVSPacket

/// Writes what the engine sends to out.pcap / out-client.pcap and keeps, per input flow,
/// what the oracle's decisions.tsv reports: packets in, frames out towards the real
/// servers, the method and the real server seen in those frames.
struct ReplaySink: FrameSink {
    let toServers: CaptureWriter
    let toClients: CaptureWriter
    /// Real server by MAC, to name the server of a DR frame (as the oracle does).
    let serverByMAC: [MACAddr: IPAddr]
    let trackFlows: Bool
    var time: Nanos = 0
    var serverFrames = 0
    var clientFrames = 0
    /// Flow of the input frame being processed, -1 if it has none.
    var inputFlow = -1
    var inputIndex = 0

    struct FlowKey: Hashable {
        var proto: UInt8, src: IPAddr, sport: UInt16, dst: IPAddr, dport: UInt16
    }

    struct Flow {
        var key: FlowKey
        var first: Int
        var nIn = 0
        var nOut = 0
        var methods: Set<String> = []
        var servers: [String] = []
        var ports: [String] = []
    }

    var flowIndex: [FlowKey: Int] = [:]
    var flows: [Flow] = []

    init(toServers: CaptureWriter, toClients: CaptureWriter, neighbours: [IPAddr: MACAddr], trackFlows: Bool) {
        self.toServers = toServers; self.toClients = toClients; self.trackFlows = trackFlows
        var m: [MACAddr: IPAddr] = [:]
        for (a, mac) in neighbours { m[mac] = a }
        serverByMAC = m
    }

    mutating func noteInput(_ buf: PacketBuffer) {
        inputIndex += 1
        inputFlow = -1
        guard trackFlows else { return }
        var p = ParsedPacket()
        guard case .ip = PacketParser.parse(buf.frame, buf.length, &p), p.hasPorts, p.fragment == .none else { return }
        let k = FlowKey(proto: p.proto, src: p.src, sport: p.sport, dst: p.dst, dport: p.dport)
        if let i = flowIndex[k] {
            inputFlow = i
        } else {
            inputFlow = flows.count
            flowIndex[k] = inputFlow
            flows.append(Flow(key: k, first: inputIndex))
        }
        flows[inputFlow].nIn += 1
    }

    mutating func emit(_ frame: UnsafeRawBufferPointer, side: Side, conn: Int32) {
        if side == .server {
            toServers.write(frame, time: time)
            serverFrames += 1
            if trackFlows && inputFlow >= 0 { attribute(frame, conn: conn) }
        } else {
            toClients.write(frame, time: time)
            clientFrames += 1
        }
    }

    /// Which flow a frame towards the servers belongs to, and how it was forwarded.
    mutating func attribute(_ frame: UnsafeRawBufferPointer, conn: Int32) {
        let base = UnsafeMutableRawPointer(mutating: frame.baseAddress!)
        var p = ParsedPacket()
        guard case .ip = PacketParser.parse(base, frame.count, &p) else { return }
        let flow = flows[inputFlow].key
        var method: String
        var server: IPAddr
        var port: UInt16
        if p.hasPorts && p.fragment == .none && p.proto == flow.proto && p.src == flow.src && p.sport == flow.sport
            && !(p.proto == IPProto.udp && p.dst != flow.dst && isGUE(base, p)) {
            if p.dst == flow.dst && p.dport == flow.dport {
                method = "DR"
                server = serverByMAC[MACAddr.load(base)] ?? p.dst
            } else {
                method = "NAT"
                server = p.dst
            }
            port = p.dport
        } else {
            // Tunnel: the inner packet must be a first (or only) piece with its ports.
            guard p.fragment != .later else { return }
            var innerOff = p.l4
            switch p.proto {
            case IPProto.ipip, IPProto.ipv6: method = (!p.isV6 && p.proto == IPProto.ipip) ? "TUN-IPIP" : "TUN-IPIP6"
            case IPProto.gre:
                let flags = base.load(fromByteOffset: p.l4, as: UInt8.self)
                innerOff += 4 + ((flags & 0x80 != 0) ? 4 : 0) + ((flags & 0x20 != 0) ? 4 : 0) + ((flags & 0x10 != 0) ? 4 : 0)
                method = "TUN-GRE"
            case IPProto.udp:
                guard isGUE(base, p) else { return }
                innerOff += 12 + 4 * Int(base.load(fromByteOffset: p.l4 + 8, as: UInt8.self) & 0x1F)
                method = "TUN-GUE"
            default: return
            }
            var inner = ParsedPacket()
            inner.l2Len = innerOff
            let end = p.l3 + p.ipLen
            guard innerOff < end else { return }
            let v = base.load(fromByteOffset: innerOff, as: UInt8.self) >> 4
            guard PacketParser.parseEmbedded(base, innerOff, end, v6: v == 6, &inner), inner.hasPorts,
                  inner.proto == flow.proto, inner.src == flow.src, inner.sport == flow.sport else { return }
            server = p.dst
            port = inner.dport
        }
        flows[inputFlow].nOut += 1
        flows[inputFlow].methods.insert(method)
        let s = server.description
        if !flows[inputFlow].servers.contains(s) { flows[inputFlow].servers.append(s) }
        if !flows[inputFlow].ports.contains(String(port)) { flows[inputFlow].ports.append(String(port)) }
    }

    func isGUE(_ base: UnsafeMutableRawPointer, _ p: ParsedPacket) -> Bool {
        guard p.proto == IPProto.udp, p.l4Len >= 13 else { return false }
        let g = base.load(fromByteOffset: p.l4 + 8, as: UInt8.self)
        let inner = p.l4 + 12 + 4 * Int(g & 0x1F)
        guard g >> 6 == 0, inner < p.l3 + p.ipLen else { return false }
        let v = base.load(fromByteOffset: inner, as: UInt8.self) >> 4
        return v == 4 || v == 6
    }

    /// decisions.tsv, with the connection columns read from the `-Lc -n` listing as the
    /// oracle reads them.
    func decisions(_ lc: String) -> String {
        var conns: [String: (String, String, String)] = [:]
        for line in lc.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count == 6, ["TCP", "UDP", "SCTP", "IP"].contains(f[0]),
                  let (cip, cport) = splitEndpoint(f[3]), let (vip, vport) = splitEndpoint(f[4]),
                  let (rip, rport) = splitEndpoint(f[5]) else { continue }
            if (cport == "0" && f[2] == "NONE") || f[0] == "IP" { continue }
            conns["\(f[0])|\(cip)|\(cport)|\(vip)|\(vport)"] = (rip, rport, f[2])
        }
        var out = "first_in_idx\tproto\tclient_ip\tclient_port\tvip\tvport\tin_pkts\tout_pkts\tmethod\treal_server\trs_port\tconn_real_server\tconn_rs_port\tconn_state\tagree\n"
        for fl in flows {
            let k = fl.key
            let pname = k.proto == IPProto.tcp ? "TCP" : (k.proto == IPProto.udp ? "UDP" : String(k.proto))
            let c = conns["\(pname)|\(k.src)|\(k.sport)|\(k.dst)|\(k.dport)"]
            let rs = fl.servers.isEmpty ? "-" : fl.servers.joined(separator: ",")
            let rport = fl.ports.isEmpty ? "-" : fl.ports.joined(separator: ",")
            var agree = "-"
            if let c, !fl.servers.isEmpty { agree = fl.servers == [c.0] ? "yes" : "no" }
            let cols: [String] = [
                String(fl.first), pname, k.src.description, String(k.sport), k.dst.description, String(k.dport),
                String(fl.nIn), String(fl.nOut), fl.methods.isEmpty ? "-" : fl.methods.sorted().joined(separator: ","),
                rs, rport, c?.0 ?? "-", c?.1 ?? "-", c?.2 ?? "-", agree,
            ]
            out += cols.joined(separator: "\t") + "\n"
        }
        return out
    }

    func splitEndpoint(_ s: String) -> (String, String)? {
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]"), s[s.index(after: close)...].hasPrefix(":") else { return nil }
            return (String(s[s.index(after: s.startIndex)..<close]), String(s[s.index(close, offsetBy: 2)...]))
        }
        guard let c = s.lastIndex(of: ":") else { return nil }
        return (String(s[..<c]), String(s[s.index(after: c)...]))
    }
}
