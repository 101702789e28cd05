import UVSEngine
import UVSPacket

/// Writes what the engine sends to out.pcap / out-client.pcap and keeps, per input flow,
/// what the oracle's decisions.tsv reports: packets in, frames out towards the real
/// servers, the method and the real server of those frames. Strings are made only when
/// the table is written, so the per-packet cost stays small.
struct ReplayOutput {
    let toServers: CaptureWriter
    let toClients: CaptureWriter
    let trackFlows: Bool
    var serverFrames = 0
    var clientFrames = 0
    /// Flow of the input frame being processed, -1 if it has none.
    var inputFlow = -1
    var inputIndex = 0

    typealias FlowKey = FlowTuple

    static let methodNames = ["DR", "NAT", "TUN-GRE", "TUN-GUE", "TUN-IPIP", "TUN-IPIP6"]

    /// Per flow; the first server and port are held inline (the common case), further
    /// ones in arrays that stay empty otherwise.
    struct Flow {
        var key: FlowKey
        var first: Int
        var nIn = 0
        var nOut = 0
        var methods: UInt8 = 0
        var server0: IPAddr? = nil
        var port0: UInt16? = nil
        var moreServers: [IPAddr] = []
        var morePorts: [UInt16] = []
        /// The connection slot whose frames were last attributed here: the next frame of the
        /// same connection adds only to the count.
        var lastConn: Int32 = -1

        var servers: [IPAddr] { server0.map { [$0] + moreServers } ?? [] }
        var ports: [UInt16] { port0.map { [$0] + morePorts } ?? [] }

        mutating func note(server: IPAddr, port: UInt16) {
            if server0 == nil { server0 = server } else if server0 != server && !moreServers.contains(server) { moreServers.append(server) }
            if port0 == nil { port0 = port } else if port0 != port && !morePorts.contains(port) { morePorts.append(port) }
        }
    }

    var flowIndex: [FlowKey: Int] = [:]
    var flows: [Flow] = []

    init(toServers: CaptureWriter, toClients: CaptureWriter, trackFlows: Bool) {
        self.toServers = toServers; self.toClients = toClients; self.trackFlows = trackFlows
    }

    /// Replies from the servers are not flows of the input.
    var fromServers = false
    /// Flow index + 1 per connection slot: most packets find their flow here, without
    /// hashing the key.
    var flowOfSlot: [Int32] = []

    mutating func noteInput() {
        inputIndex += 1
        inputFlow = -1
    }

    /// Finds (or creates) the flow of the frame just processed.
    mutating func resolveFlow(_ engine: inout Engine) {
        guard trackFlows else { return }
        let k = engine.lastFlow
        guard k.proto != 0, !fromServers else { return }
        var conn: Int32 = -1
        for i in 0..<engine.pendingCount where engine.pending[i].conn >= 0 {
            conn = engine.pending[i].conn
            break
        }
        if conn >= 0 && Int(conn) < flowOfSlot.count {
            let idx = Int(flowOfSlot[Int(conn)]) - 1
            if idx >= 0 && flows[idx].key == k { inputFlow = idx }
        }
        if inputFlow < 0 {
            if let i = flowIndex[k] {
                inputFlow = i
            } else {
                inputFlow = flows.count
                flowIndex[k] = inputFlow
                flows.append(Flow(key: k, first: inputIndex))
            }
            if conn >= 0 {
                if Int(conn) >= flowOfSlot.count { flowOfSlot += [Int32](repeating: 0, count: Int(conn) + 1 - flowOfSlot.count + 1024) }
                flowOfSlot[Int(conn)] = Int32(inputFlow + 1)
            }
        }
        flows[inputFlow].nIn += 1
    }

    /// Writes the frames of the last `process` call.
    /// (`inout`: the engine is used in place; passing it as a value copied it per frame.)
    mutating func record(_ engine: inout Engine, time: Nanos) {
        if trackFlows && !fromServers && engine.pendingCount == 1, let idx = sameAsLastTime(&engine) {
            // The common case: one more packet of a flow on the connection already
            // attributed to it, forwarded whole: two counts and the frame.
            let f = engine.pending[0]
            flows.withUnsafeMutableBufferPointer { Self.count(&$0[idx]) }
            inputFlow = idx
            toServers.write(UnsafeRawBufferPointer(start: f.bytes, count: f.count), time: time)
            serverFrames += 1
            return
        }
        resolveFlow(&engine)
        for i in 0..<engine.pendingCount {
            let f = engine.pending[i]
            let frame = UnsafeRawBufferPointer(start: f.bytes, count: f.count)
            if f.side == .server {
                toServers.write(frame, time: time)
                serverFrames += 1
                if trackFlows && inputFlow >= 0 && f.conn >= 0 { attribute(f, &engine) }
            } else {
                toClients.write(frame, time: time)
                clientFrames += 1
            }
        }
    }

    @inline(__always)
    static func count(_ flow: inout Flow) {
        flow.nIn += 1
        flow.nOut += 1
    }

    /// The flow of the single frame just sent to a server, when that frame is a whole
    /// (unfragmented) packet of the connection last attributed to the flow, to the same
    /// real server: exactly the case where `resolveFlow` + `attribute` only add to counts.
    mutating func sameAsLastTime(_ engine: inout Engine) -> Int? {
        let f = engine.pending[0]
        guard f.side == .server, f.conn >= 0, Int(f.conn) < flowOfSlot.count else { return nil }
        let idx = Int(flowOfSlot[Int(f.conn)]) - 1
        guard idx >= 0 else { return nil }
        if let fo = Self.ipv4Fragmentation(f), fo & 0x3FFF != 0 { return nil }
        let daddr = engine.conns.withEntry(f.conn) { $0.pointee.daddr }
        let k = engine.lastFlow
        // Read in place: a copy of the flow would retain its arrays.
        let same = flows.withUnsafeBufferPointer { b -> Bool in
            let fl = b.baseAddress! + idx
            return fl.pointee.lastConn == f.conn && fl.pointee.moreServers.isEmpty && fl.pointee.server0 == daddr
                && k.proto != 0 && fl.pointee.key == k
        }
        return same ? idx : nil
    }

    /// The flags and offset field of an IPv4 frame (untagged or 802.1Q), nil for anything else.
    static func ipv4Fragmentation(_ f: PendingFrame) -> UInt16? {
        let l3 = f.count > 18 && f.bytes.load(fromByteOffset: 12, as: UInt16.self) == EtherType.vlan.bigEndian ? 18 : 14
        guard f.count >= l3 + 8, f.bytes.load(fromByteOffset: l3, as: UInt8.self) >> 4 == 4 else { return nil }
        return UInt16(bigEndian: f.bytes.loadUnaligned(fromByteOffset: l3 + 6, as: UInt16.self))
    }

    /// How a frame towards the servers was forwarded, from its connection. A later
    /// fragment carries no inner header and is not attributed (as in the oracle).
    mutating func attribute(_ f: PendingFrame, _ engine: inout Engine) {
        let c = engine.conns[f.conn]
        // As the oracle's analysis: a fragment shows no ports (not attributed), except the
        // first fragment of a tunnel packet, whose inner header is whole.
        if let fo = Self.ipv4Fragmentation(f), fo & 0x1FFF != 0 || (fo & 0x2000 != 0 && c.method != .tunnel) { return }
        if flows[inputFlow].lastConn == f.conn && flows[inputFlow].server0 == c.daddr && flows[inputFlow].moreServers.isEmpty {
            flows[inputFlow].nOut += 1
            return
        }
        flows[inputFlow].lastConn = f.conn
        var method = 0
        var port = c.vport
        switch c.method {
        case .masquerade: method = 1; port = c.dport
        case .tunnel:
            switch engine.dests[Int(c.dest)].tunnelType {
            case .gre: method = 2
            case .gue: method = 3
            case .ipip: method = (c.daddr.isV4 && c.caddr.isV4) ? 4 : 5
            }
        default: method = 0
        }
        flows[inputFlow].nOut += 1
        flows[inputFlow].methods |= 1 << UInt8(method)
        flows[inputFlow].note(server: c.daddr, port: port)
    }

    /// decisions.tsv; the connection columns are the entries `ipvsadm -L -n -c` lists, as
    /// the oracle reads them (templates left out).
    func decisions(_ engine: borrowing Engine) -> String {
        var conns: [FlowKey: (IPAddr, UInt16, String)] = [:]
        for slot in engine.conns.liveSlots() {
            let c = engine.conns[slot]
            if c.isTemplate || c.proto == 0 { continue }
            let state = c.proto == IPProto.udp ? "UDP" : (TCPState(rawValue: c.state)?.name ?? "ERR!")
            conns[FlowKey(proto: c.proto, src: c.caddr, sport: c.cport, dst: c.vaddr, dport: c.vport)] = (c.daddr, c.dport, state)
        }
        var out = "first_in_idx\tproto\tclient_ip\tclient_port\tvip\tvport\tin_pkts\tout_pkts\tmethod\treal_server\trs_port\tconn_real_server\tconn_rs_port\tconn_state\tagree\n"
        for fl in flows {
            let k = fl.key
            let pname = k.proto == IPProto.tcp ? "TCP" : (k.proto == IPProto.udp ? "UDP" : String(k.proto))
            let c = conns[k]
            let servers = fl.servers.map(\.description)
            let rs = servers.isEmpty ? "-" : servers.joined(separator: ",")
            let rport = fl.ports.isEmpty ? "-" : fl.ports.map(String.init).joined(separator: ",")
            var agree = "-"
            if let c, !fl.servers.isEmpty { agree = fl.servers == [c.0] ? "yes" : "no" }
            let methods = (0..<Self.methodNames.count).filter { fl.methods & (1 << UInt8($0)) != 0 }.map { Self.methodNames[$0] }
            let cols: [String] = [
                String(fl.first), pname, k.src.description, String(k.sport), k.dst.description, String(k.dport),
                String(fl.nIn), String(fl.nOut), methods.isEmpty ? "-" : methods.sorted().joined(separator: ","),
                rs, rport, c.map { $0.0.description } ?? "-", c.map { String($0.1) } ?? "-", c?.2 ?? "-", agree,
            ]
            out += cols.joined(separator: "\t") + "\n"
        }
        return out
    }
}
