#if canImport(Glibc)
import Glibc
#endif
import UVSEngine
import UVSPacket

/// ipvsadm's listings (spec §6.4–§6.9), byte for byte, from the engine's state.
public enum Listing {
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
    static func rpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

    public static func protoName(_ p: UInt8) -> String {
        switch p {
        case IPProto.tcp: "TCP"
        case IPProto.udp: "UDP"
        case IPProto.sctp: "SCTP"
        case 0: "IP"
        case IPProto.icmp: "ICMP"
        default: "IP_\(p)"
        }
    }

    /// `addr:port` / `[v6]:port`, with names unless numeric.
    public static func endpoint(_ a: IPAddr, _ port: UInt16, proto: UInt8, numeric: Bool) -> String {
        var host = a.isV4 ? a.description : "[\(a.description)]"
        var portText = String(port)
        if !numeric {
            if let name = hostName(a) { host = a.isV4 ? name : name }
            if proto != 0, let s = serviceName(port, proto: proto) { portText = s }
        }
        return "\(host):\(portText)"
    }

    static func hostName(_ a: IPAddr) -> String? {
        guard a.isV4 else { return nil }
        var in4 = in_addr(s_addr: a.v4.bigEndian)
        guard let h = gethostbyaddr(&in4, socklen_t(MemoryLayout<in_addr>.size), AF_INET), let n = h.pointee.h_name else {
            return nil
        }
        return String(cString: n)
    }

    static func serviceName(_ port: UInt16, proto: UInt8) -> String? {
        let pname = proto == IPProto.udp ? "udp" : (proto == IPProto.sctp ? "sctp" : "tcp")
        guard let s = getservbyport(Int32(port.bigEndian), pname), let n = s.pointee.s_name else { return nil }
        return String(cString: n)
    }

    /// ipvsadm's (int)(a − b) comparison of unsigned 32-bit values.
    static func signedDiff(_ a: UInt32, _ b: UInt32) -> Int32 { Int32(bitPattern: a &- b) }

    static func addrCompare(_ a: IPAddr, _ b: IPAddr) -> Int {
        if a.isV4 != b.isV4 { return a.isV4 ? -1 : 1 }
        if a.isV4 { return Int(signedDiff(a.v4, b.v4)) }
        return a < b ? -1 : (a == b ? 0 : 1)
    }

    static func serviceLess(_ a: VirtualService, _ b: VirtualService) -> Bool {
        let fa = a.key.fwmark, fb = b.key.fwmark
        var r = Int(signedDiff(fa, fb))
        if r == 0 { r = (a.key.isV6 ? 10 : 2) - (b.key.isV6 ? 10 : 2) }
        if r == 0 { r = Int(a.key.proto) - Int(b.key.proto) }
        if r == 0 { r = addrCompare(a.key.addr, b.key.addr) }
        if r == 0 { r = Int(a.key.port) - Int(b.key.port) }
        return r < 0
    }

    static func destLess(_ a: RealServer, _ b: RealServer) -> Bool {
        var r = addrCompare(a.addr, b.addr)
        if r == 0 { r = Int(a.port) - Int(b.port) }
        return r < 0
    }

    static func services(_ e: Engine, _ o: ListOptions) -> [VirtualService] {
        var s = e.services.filter(\.live)
        if let k = o.service { s = s.filter { $0.key == k } }
        // Kernel dump order is a hash order; ipvsadm sorts unless --nosort (we then keep
        // creation order).
        return o.nosort ? s : s.sorted(by: serviceLess)
    }

    static func destinations(_ e: Engine, _ s: VirtualService, _ o: ListOptions) -> [RealServer] {
        let d = s.destinations.map { e.dests[Int($0)] }
        return o.nosort ? d : d.sorted(by: destLess)
    }

    static func serviceLabel(_ s: VirtualService, numeric: Bool) -> String {
        if s.key.isFwmark { return "FWM  \(s.key.fwmark)" + (s.key.isV6 ? " IPv6" : "") }
        let label = pad(protoName(s.key.proto), 4) + " " + endpoint(s.key.addr, s.key.port, proto: s.key.proto, numeric: numeric)
        return s.key.isV6 ? label : String(label.prefix(33))
    }

    static func destLabel(_ d: RealServer, _ s: VirtualService, numeric: Bool) -> String {
        let l = endpoint(d.addr, d.port, proto: s.key.isFwmark ? 0 : s.key.proto, numeric: numeric)
        return d.addr.isV4 ? String(l.prefix(28)) : l
    }

    static func schedFlagNames(_ s: VirtualService) -> String? {
        var names: [String] = []
        let base: [String]
        switch s.schedulerName {
        case "sh": base = ["sh-fallback", "sh-port", "flag-3"]
        case "mh": base = ["mh-fallback", "mh-port", "flag-3"]
        default: base = ["flag-1", "flag-2", "flag-3"]
        }
        if s.flags & ServiceFlags.sched1 != 0 { names.append(base[0]) }
        if s.flags & ServiceFlags.sched2 != 0 { names.append(base[1]) }
        if s.flags & ServiceFlags.sched3 != 0 { names.append(base[2]) }
        return names.isEmpty ? nil : names.joined(separator: ",")
    }

    static func maskText(_ s: VirtualService) -> String? {
        if s.key.isV6 { return s.netmask == 128 ? nil : String(s.netmask) }
        if s.netmask == 0xFFFF_FFFF { return nil }
        let m = s.netmask
        return "\(m >> 24).\((m >> 16) & 0xFF).\((m >> 8) & 0xFF).\(m & 0xFF)"
    }

    public static func largenum(_ v: UInt64, exact: Bool) -> String {
        if exact {
            let s = String(v)
            return rpad(s, s.count <= 8 ? 9 : s.count + 1)
        }
        if v < 100_000_000 { return rpad(String(v), 9) }
        if v < 1_000_000_000 { return rpad(String(v / 1000), 8) + "K" }
        if v < 100_000_000_000 { return rpad(String(v / 1_000_000), 8) + "M" }
        if v < 100_000_000_000_000 { return rpad(String(v / 1_000_000_000), 8) + "G" }
        return rpad(String(v / 1_000_000_000_000), 8) + "T"
    }

    /// `ipvsadm -L` in the format `o` asks for.
    public static func list(_ e: Engine, _ o: ListOptions) -> String {
        if o.timeouts {
            return "Timeout (tcp tcpfin udp): \(e.timeouts.established) \(e.timeouts.finWait) \(e.timeouts.udp)\n"
        }
        if o.daemons { return e.syncDaemons.map(\.listing).joined() }
        if o.connections { return connections(e, o) }
        var out = ""
        if o.service == nil { out += "IP Virtual Server version 1.2.1 (size=\(e.tableSizeReported))\n" }
        switch o.format {
        case .services:
            out += "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
        case .tunInfo:
            out += "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        case .stats:
            out += pad("Prot LocalAddress:Port", 33) + ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"].map { " " + rpad($0, 8) }.joined()
                + "\n  -> RemoteAddress:Port\n"
        case .rate:
            out += pad("Prot LocalAddress:Port", 33) + ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"].map { " " + rpad($0, 8) }.joined()
                + "\n  -> RemoteAddress:Port\n"
        case .thresholds:
            out += pad("Prot LocalAddress:Port", 33) + " " + ["Uthreshold", "Lthreshold", "ActiveConn", "InActConn"].map { pad($0, 10) }.joined(separator: " ")
                + "\n  -> RemoteAddress:Port\n"
        case .persistentConn:
            out += pad("Prot LocalAddress:Port", 33) + " " + pad("Weight", 9) + " " + pad("PersistConn", 11) + " "
                + pad("ActiveConn", 10) + " " + pad("InActConn", 10) + "\n  -> RemoteAddress:Port\n"
        }
        for s in services(e, o) {
            let label = serviceLabel(s, numeric: o.numeric)
            switch o.format {
            case .stats:
                let st = s.counters.shown
                out += pad(label, 33) + [st.conns, st.inPkts, st.outPkts, st.inBytes, st.outBytes].map { largenum($0, exact: o.exact) }.joined() + "\n"
            case .rate:
                let r = s.counters.estimator.shown
                out += pad(label, 33) + [r.cps, r.inPPS, r.outPPS, r.inBPS, r.outBPS].map { largenum($0, exact: o.exact) }.joined() + "\n"
            default:
                var line = label + " " + s.schedulerName
                if let f = schedFlagNames(s) { line += " (\(f))" }
                if s.isPersistent {
                    line += " persistent \(s.timeout)"
                    if let m = maskText(s) { line += " mask \(m)" }
                    if let pe = s.persistenceEngine { line += " pe \(pe)" }
                }
                if s.isOnePacket { line += " ops" }
                out += line + "\n"
            }
            for d in destinations(e, s, o) {
                let dl = destLabel(d, s, numeric: o.numeric)
                switch o.format {
                case .services:
                    out += "  -> " + pad(dl, 28) + " " + pad(d.method.listName, 7) + " " + pad(String(d.weight), 6) + " "
                        + pad(String(d.activeConns), 10) + " " + pad(String(d.inactiveConns), 10) + "\n"
                case .tunInfo:
                    out += "  -> " + pad(dl, 28) + " " + pad(d.method.listName, 7) + " " + pad(tunnelInfo(d), 13) + " "
                        + pad(String(d.weight), 6) + " " + pad(String(d.activeConns), 10) + " " + pad(String(d.inactiveConns), 10) + "\n"
                case .stats:
                    let st = d.counters.shown
                    out += "  -> " + pad(dl, 28) + [st.conns, st.inPkts, st.outPkts, st.inBytes, st.outBytes].map { largenum($0, exact: o.exact) }.joined() + "\n"
                case .rate:
                    let r = d.counters.estimator.shown
                    out += "  -> " + pad(dl, 28) + [r.cps, r.inPPS, r.outPPS].map { " " + rpad(String($0), 8) }.joined()
                        + largenum(r.inBPS, exact: o.exact) + largenum(r.outBPS, exact: o.exact) + "\n"
                case .thresholds:
                    out += "  -> " + pad(dl, 28) + " " + [String(d.upperThreshold), String(d.lowerThreshold), String(d.activeConns),
                                                          String(d.inactiveConns)].map { pad($0, 10) }.joined(separator: " ") + "\n"
                case .persistentConn:
                    out += "  -> " + pad(dl, 28) + " " + pad(String(d.weight), 9) + " " + pad(String(d.persistConns), 11) + " "
                        + pad(String(d.activeConns), 10) + " " + pad(String(d.inactiveConns), 10) + "\n"
                }
            }
        }
        return out
    }

    static func tunnelInfo(_ d: RealServer) -> String {
        guard d.method == .tunnel else { return "n/a" }
        let f = ["-c", "+c", "r+c"][Int(d.tunnelChecksum.rawValue)]
        switch d.tunnelType {
        case .ipip: return "ipip"
        case .gue: return "gue:\(d.tunnelPort):\(f)"
        case .gre: return "gre:\(f)"
        }
    }

    /// `ipvsadm -L -c`: rows in the table's slot order (the kernel's is a random hash order).
    public static func connections(_ e: Engine, _ o: ListOptions) -> String {
        var out = "IPVS connection entries\npro expire state       source             virtual            destination\n"
        for slot in e.conns.liveSlots() {
            let c = e.conns[slot]
            var left = (c.expires - e.now) / Time.second
            if left < 0 { left = 0 }
            let expire = (left / 60 < 10 ? "0" : "") + String(left / 60) + ":" + (left % 60 < 10 ? "0" : "") + String(left % 60)
            let state: String
            if c.isTemplate {
                state = c.state == TemplateState.assured.rawValue ? "ASSURED" : "NONE"
            } else if c.proto == IPProto.udp {
                state = "UDP"
            } else {
                state = TCPState(rawValue: c.state)?.name ?? "ERR!"
            }
            let proto = c.proto == 0 ? 0 : c.proto
            let src = endpoint(c.caddr, c.cport, proto: proto, numeric: o.numeric)
            let virt = endpoint(c.vaddr, c.vport, proto: proto, numeric: o.numeric)
            let dst = endpoint(c.daddr, c.dport, proto: proto, numeric: o.numeric)
            out += pad(protoName(c.proto), 3) + " " + pad(expire, 6) + " " + pad(state, 11) + " " + pad(src, 18) + " "
                + pad(virt, 18) + " " + dst + "\n"
        }
        return out
    }

    /// `ipvsadm -S [-n]`: the rules in restore format.
    public static func save(_ e: Engine, numeric: Bool) -> String {
        var out = ""
        for s in services(e, ListOptions()) {
            let sel: String
            if s.key.isFwmark {
                sel = "-f \(s.key.fwmark)" + (s.key.isV6 ? " -6" : "")
            } else {
                let opt = s.key.proto == IPProto.tcp ? "-t" : (s.key.proto == IPProto.udp ? "-u" : "--sctp-service")
                sel = opt + " " + endpoint(s.key.addr, s.key.port, proto: s.key.proto, numeric: numeric)
            }
            var line = "-A \(sel) -s \(s.schedulerName)"
            if s.isPersistent {
                line += " -p \(s.timeout)"
                if let m = maskText(s) { line += " -M \(m)" }
            }
            if let pe = s.persistenceEngine { line += " --pe \(pe)" }
            if s.isOnePacket { line += " -o" }
            if let f = schedFlagNames(s) { line += " -b \(f)" }
            out += line + "\n"
            for d in destinations(e, s, ListOptions()) {
                let m: String
                switch d.method {
                case .masquerade: m = "-m"
                case .tunnel: m = "-i"
                default: m = "-g"
                }
                var dl = "-a \(sel) -r \(endpoint(d.addr, d.port, proto: s.key.isFwmark ? 0 : s.key.proto, numeric: numeric)) \(m) -w \(d.weight)"
                if d.method == .tunnel {
                    let cs = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"][Int(d.tunnelChecksum.rawValue)]
                    switch d.tunnelType {
                    case .ipip: dl += " --tun-type ipip"
                    case .gue: dl += " --tun-type gue --tun-port \(d.tunnelPort) \(cs)"
                    case .gre: dl += " --tun-type gre \(cs)"
                    }
                }
                out += dl + "\n"
            }
        }
        return out
    }
}
