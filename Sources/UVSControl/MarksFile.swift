import UVSEngine
import UVSPacket

/// Reads the iptables mangle rules users already have for fwmark services, e.g.
/// `-A PREROUTING -t mangle -p tcp -d 192.0.2.100/32 --dport 80 -j MARK --set-mark 80`
/// (optionally prefixed by `iptables`/`ip6tables`), with `-s`, `-d`, `-p`, `--sport`/`--dport`
/// incl. `a:b` ranges, and `-m multiport --dports/--sports`. Anything else is refused with
/// the token named.
public enum MarksFile {
    public typealias Failure = ConfigText.FileError

    public static func parse(_ text: String, file: String) throws(Failure) -> [MarkRule] {
        var rules: [MarkRule] = []
        for (n, words) in ConfigText.lines(text).enumerated() where !words.isEmpty {
            var w = words
            if w[0] == "iptables" || w[0] == "ip6tables" { w.removeFirst() }
            do {
                rules.append(try rule(w))
            } catch {
                throw Failure(file: file, line: n + 1, message: error.message)
            }
        }
        return rules
    }

    struct Refusal: Error { var message: String }

    static func rule(_ w: [String]) throws(Refusal) -> MarkRule {
        var r = MarkRule()
        var i = 0
        var sawChain = false, sawMark = false
        func arg() throws(Refusal) -> String {
            guard i + 1 < w.count else { throw Refusal(message: "option '\(w[i])' needs a value") }
            i += 1
            return w[i]
        }
        func net(_ s: String) throws(Refusal) -> (IPAddr, Int) {
            let parts = s.split(separator: "/", maxSplits: 1).map(String.init)
            guard let a = IPAddr(parts[0]) else { throw Refusal(message: "bad address '\(s)'") }
            let maxLen = a.isV4 ? 32 : 128
            guard parts.count == 1 || (Int(parts[1]).map { $0 >= 0 && $0 <= maxLen } ?? false) else {
                throw Refusal(message: "bad prefix length in '\(s)'")
            }
            return (a, parts.count == 2 ? Int(parts[1])! : maxLen)
        }
        func ports(_ s: String) throws(Refusal) -> [ClosedRange<UInt16>] {
            var out: [ClosedRange<UInt16>] = []
            for item in s.split(separator: ",", omittingEmptySubsequences: false) {
                let ab = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let lo = ab[0].isEmpty ? 0 : UInt16(ab[0])
                let hi = ab.count == 2 ? (ab[1].isEmpty ? 65535 : UInt16(ab[1])) : lo
                guard let l = lo, let h = hi, l <= h else { throw Refusal(message: "bad port or range '\(item)'") }
                out.append(l...h)
            }
            return out
        }
        while i < w.count {
            let t = w[i]
            switch t {
            case "-A", "--append", "-I", "--insert":
                let chain = try arg()
                guard chain == "PREROUTING" else { throw Refusal(message: "unsupported chain '\(chain)' (uvs marks in PREROUTING)") }
                sawChain = true
                if t.hasPrefix("-I") || t == "--insert", i + 1 < w.count, Int(w[i + 1]) != nil { i += 1 }
            case "-t", "--table":
                let table = try arg()
                guard table == "mangle" else { throw Refusal(message: "unsupported table '\(table)' (only mangle)") }
            case "-p", "--protocol":
                switch try arg() {
                case "tcp", "6": r.proto = IPProto.tcp
                case "udp", "17": r.proto = IPProto.udp
                case "sctp", "132": r.proto = IPProto.sctp
                case "all", "0": r.proto = nil
                case let p: throw Refusal(message: "unsupported protocol '\(p)'")
                }
            case "-s", "--source", "--src": r.source = try net(try arg())
            case "-d", "--destination", "--dst": r.destination = try net(try arg())
            case "--dport", "--destination-port": r.destinationPorts = try ports(try arg())
            case "--sport", "--source-port": r.sourcePorts = try ports(try arg())
            case "--dports", "--destination-ports": r.destinationPorts = try ports(try arg())
            case "--sports", "--source-ports": r.sourcePorts = try ports(try arg())
            case "-m", "--match":
                let m = try arg()
                guard ["multiport", "tcp", "udp", "sctp"].contains(m) else { throw Refusal(message: "unsupported match '\(m)'") }
            case "-j", "--jump":
                let target = try arg()
                guard target == "MARK" else { throw Refusal(message: "unsupported target '\(target)' (only MARK)") }
            case "--set-mark", "--set-xmark":
                let v = try arg()
                let value = v.split(separator: "/").first.map(String.init) ?? v
                let parsed = value.hasPrefix("0x") ? UInt32(value.dropFirst(2), radix: 16) : UInt32(value)
                guard let m = parsed, m > 0 else { throw Refusal(message: "bad mark '\(v)'") }
                r.mark = m
                sawMark = true
            default:
                throw Refusal(message: "unsupported iptables syntax '\(t)'")
            }
            i += 1
        }
        guard sawChain else { throw Refusal(message: "missing '-A PREROUTING'") }
        guard sawMark else { throw Refusal(message: "missing '-j MARK --set-mark N'") }
        return r
    }
}
