import Testing
@testable import UVSControl
import UVSEngine
import UVSPacket

/// The control socket's wire format, and the rules difference a SIGHUP applies.
struct ControlPlaneTests {
    @Test func requestAndResponseRoundTrip() throws {
        let req = ControlProtocol.Request(arguments: ["-A", "-t", "10.0.0.1:80", "-s", "wlc", ""], input: Array("-C\n".utf8))
        let bytes = ControlProtocol.encode(req)
        #expect(try ControlProtocol.decodeRequest(bytes) == req)
        // Every strict prefix is incomplete (the server reads more), never a wrong request.
        for n in 0..<bytes.count {
            #expect(throws: ControlProtocol.DecodeError.incomplete) { try ControlProtocol.decodeRequest(Array(bytes[..<n])) }
        }
        let resp = ControlProtocol.Response(status: 255, output: "", error: "Service already exists\n")
        #expect(try ControlProtocol.decodeResponse(ControlProtocol.encode(resp)) == resp)
    }

    @Test func badRequestsAreRefused() {
        #expect(throws: ControlProtocol.DecodeError.badMagic) { try ControlProtocol.decodeRequest(Array("HTTP/1.1".utf8)) }
        var huge = ControlProtocol.magic
        huge += [0, 0, 0, 1, 0x7F, 0xFF, 0xFF, 0xFF]  // one argument of 2 GiB
        #expect(throws: ControlProtocol.DecodeError.tooLarge) { try ControlProtocol.decodeRequest(huge) }
    }

    func engine(_ rules: String) throws -> Engine {
        let topo = Topology.oracleDefaults(directorIPv4: IPAddr("198.51.100.254")!, directorIPv6: IPAddr("::1")!)
        var e = Engine(topology: topo, initialConnections: 16)
        try Rules.load(rules, file: "rules", into: &e)
        return e
    }

    @Test func reloadAppliesOnlyTheDifference() throws {
        let old = try engine("""
            -A -t 10.0.0.1:80 -s wlc
            -a -t 10.0.0.1:80 -r 192.168.1.11:80 -m -w 1
            -a -t 10.0.0.1:80 -r 192.168.1.12:80 -m -w 2
            -A -u 10.0.0.1:53 -s rr
            -a -u 10.0.0.1:53 -r 192.168.1.11:53 -m
            -A -t 10.0.0.2:443 -s sh -b sh-port
            -a -t 10.0.0.2:443 -r 192.168.1.20:443 -g
            """)
        let new = try engine("""
            -A -t 10.0.0.1:80 -s wlc
            -a -t 10.0.0.1:80 -r 192.168.1.11:80 -m -w 0
            -a -t 10.0.0.1:80 -r 192.168.1.12:80 -m -w 2
            -a -t 10.0.0.1:80 -r 192.168.1.13:80 -m -w 1
            -A -t 10.0.0.2:443 -s mh -b mh-port
            -a -t 10.0.0.2:443 -r 192.168.1.20:443 -g
            --set 1200 0 0
            """)
        let cmds = RulesDiff.commands(from: old, to: new)
        let k80 = ServiceKey(proto: IPProto.tcp, addr: IPAddr("10.0.0.1")!, port: 80)
        #expect(cmds.contains(.deleteService(ServiceKey(proto: IPProto.udp, addr: IPAddr("10.0.0.1")!, port: 53))))
        #expect(cmds.contains { if case .editServer(k80, let d) = $0 { return d.weight == 0 } else { return false } })
        #expect(cmds.contains { if case .addServer(k80, let d) = $0 { return d.addr == IPAddr("192.168.1.13")! } else { return false } })
        #expect(cmds.contains { if case .editService(let s) = $0 { return s.scheduler == "mh" } else { return false } })
        #expect(!cmds.contains { if case .addService = $0 { return true } else { return false } }, "kept services are not re-added")
        #expect(cmds.count == 5)
        var applied = old
        for c in cmds { try Rules.apply(c, to: &applied) }
        #expect(Listing.save(applied, numeric: true) == Listing.save(new, numeric: true))
        #expect(applied.timeouts == new.timeouts)
        #expect(RulesDiff.commands(from: new, to: applied).isEmpty)
    }
}
