import Testing
@testable import UVSControl
import UVSEngine
import UVSPacket

/// ipvsadm's grammar and messages (spec §6.1–§6.3, §6.10).
struct CommandParserTests {
    func error(_ line: String) -> CommandError? {
        do {
            _ = try CommandParser.parse(CommandParser.words(line))
            return nil
        } catch {
            return error
        }
    }

    @Test func seedCommandLines() throws {
        // From the seeds: ipvsadm -A -t 10.0.0.5:25 -s lblc -p ; -a ... -m ; --set 1200 0 0
        let a = try CommandParser.parse(CommandParser.words("-A -t 10.0.0.5:25 -s wlc -p"))
        guard case .addService(let s) = a else { Issue.record("not -A"); return }
        #expect(s.scheduler == "wlc" && s.timeout == 360 && s.flags == ServiceFlags.persistent && s.netmask == 0xFFFF_FFFF)
        let e = try CommandParser.parse(CommandParser.words("-a -t 10.0.0.5:25 -r 192.168.1.2 -m -w 2"))
        guard case .addServer(let k, let d) = e else { Issue.record("not -a"); return }
        #expect(k.port == 25 && d.port == 25 && d.method == .masquerade && d.weight == 2)
        #expect(try CommandParser.parse(["--set", "1200", "0", "0"]) == .setTimeouts(tcp: 1200, tcpfin: 0, udp: 0))
        #expect(try CommandParser.parse([]) == .list(ListOptions()))
        #expect(try CommandParser.parse(CommandParser.words("ipvsadm -A -t 10.0.0.1:http -s rr")) != .clear)
    }

    @Test func defaults() throws {
        guard case .addService(let s) = try CommandParser.parse(CommandParser.words("-A -u [2001:db8::1]:53")) else {
            Issue.record("not -A"); return
        }
        #expect(s.scheduler == "wlc" && s.key.isV6 && s.key.proto == 17 && s.netmask == 128 && s.timeout == 0)
        guard case .addServer(_, let d) = try CommandParser.parse(CommandParser.words("-a -t 1.2.3.4:80 -r 5.6.7.8:8080")) else {
            Issue.record("not -a"); return
        }
        // DR forces the service port; weight 1; ipip.
        #expect(d.method == .directRoute && d.port == 80 && d.weight == 1 && d.tunnelType == .ipip)
    }

    @Test func messages() {
        #expect(error("-A -t 1.2.3.4:80 -r 5.6.7.8")?.message == "Illegal 'real-server' option with the 'add-service' command")
        #expect(error("-a -t 1.2.3.4:80")?.message == "You need to supply the 'real-server' option for the 'add-server' command")
        #expect(error("-L -c -t 1.2.3.4:80")?.message == "The option 'service-address' conflicts with the 'connection' option in the 'list' command")
        #expect(error("-A -t 1.2.3.4")?.message == "Zero port specified for non-persistent service")
        #expect(error("-A -t 1.2.3.4:80 -o")?.message == "One-Packet Scheduling is only for UDP virtual services")
        #expect(error("-a -t 1.2.3.4:80 -r 5.6.7.8 -w -1")?.message == "illegal weight specified")
        #expect(error("-a -t 1.2.3.4:80 -r 5.6.7.8 -w 2147483648")?.message == "illegal weight specified")
        #expect(error("-A -t 1234 -s rr")?.message == "illegal virtual server address[:port] specified")
        #expect(error("-A -t 1.2.3.4:80 -s rr -s wlc")?.message == "multiple 'scheduler' options specified")
        #expect(error("-A -t 1.2.3.4:80 -p 0")?.message == "invalid timeout value `0' specified")
        #expect(error("-A -t 1.2.3.4:80 -b sh-port")?.message == "incompatible scheduler flag `sh-port'")
        #expect(error("-A -t 1.2.3.4:80 -b bogus")?.message == "invalid scheduler flag `bogus'")
        #expect(error("-A -t 1.2.3.4:80 -b ,")?.message == "invalid scheduler flag `,'")
        #expect(error("-a -t 1.2.3.4:80 -r 5.6.7.8 -i --tun-type gue")?.message == "You need to supply the 'tun-port' option for the 'gue' tunnel type")
        #expect(error("-a -t 1.2.3.4:80 -r 5.6.7.8 -i --tun-port 6080")?.message == "Illegal 'tun-port' option with the 'ipip' tunnel type")
        #expect(error("-a -t 1.2.3.4:80 -r 5.6.7.8 -m --tun-csum")?.message == "Tunnel options conflict with forward method")
        #expect(error("-a -t 1.2.3.4:80 -r 5.6.7.8 -i --tun-type gre --tun-csum --tun-nocsum")?.message
                    == "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type")
        #expect(error("--set 1 2")?.message == "--set option requires 3 timeout values")
        #expect(error("-L -6")?.message == "-6 used before -f\n")
        #expect(error("-n")?.status == 255)
        #expect(error("-A -t 1.2.3.4:80 extra")?.message == "unexpected argument extra")
    }

    @Test func addressForms() {
        #expect(CommandParser.parseAddress("0x0a100001:80", proto: 6)! == (IPAddr("10.16.0.1")!, 80))
        #expect(CommandParser.parseAddress("10.16.2", proto: 6)! == (IPAddr("10.16.0.2")!, nil))
        #expect(CommandParser.parseAddress("[2001:db8::1]:443", proto: 6)! == (IPAddr("2001:db8::1")!, 443))
        #expect(CommandParser.parseAddress("2001:db8::1", proto: 6)! == (IPAddr("2001:db8::1")!, nil))
        #expect(CommandParser.parseAddress("[2001:db8::1]", proto: 6) == nil)
        #expect(CommandParser.parseAddress("1.2.3.4:65536", proto: 6) == nil)
    }
}

struct RulesAndListingTests {
    @Test func rulesFileErrorNamesTheLine() {
        let text = "# comment\n-A -t 10.0.0.1:80 -s rr\n\n-a -t 10.0.0.1:80 -r 10.0.0.2 -w x\n"
        #expect(throws: (any Error).self) { try Rules.parse(text, file: "r.txt") }
        do {
            _ = try Rules.parse(text, file: "r.txt")
        } catch {
            #expect(error.description == "r.txt:4: illegal weight specified")
        }
    }

    @Test func rulesFileKernelErrorNamesTheLine() throws {
        var e = Engine(topology: Topology.oracleDefaults(directorIPv4: IPAddr("10.0.0.254")!, directorIPv6: IPAddr("fd00::fe")!))
        do {
            try Rules.load("-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s wlc\n", file: "r.txt", into: &e)
            Issue.record("duplicate service accepted")
        } catch {
            #expect(error.description == "r.txt:2: Service already exists")
        }
    }

    /// Spec §6.6 worked example of the number formats.
    @Test func largenum() {
        let row = [1234, 56789, 43210, 123_456_789, 98_765_432_101].map { Listing.largenum(UInt64($0), exact: false) }.joined()
        #expect(row == "     1234    56789    43210  123456K   98765M")
        #expect(Listing.largenum(60_000_000, exact: false) == " 60000000")
        #expect(Listing.largenum(48_000_000_000, exact: false) == "   48000M")
        #expect(Listing.largenum(123_456_789, exact: true) == " 123456789")
    }

    /// Spec §6.9 worked example (its rr/wlc parts): -S output, sorted as ipvsadm sorts.
    @Test func saveFormat() throws {
        var e = Engine(topology: Topology.oracleDefaults(directorIPv4: IPAddr("192.168.1.254")!, directorIPv6: IPAddr("fd00::fe")!))
        let rules = """
            -A -f 1 -s rr
            -a -f 1 -r 192.168.1.11:0 -i -w 1 --tun-type ipip
            -A -t 10.0.0.1:80 -s wlc
            -a -t 10.0.0.1:80 -r 192.168.1.13:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
            -a -t 10.0.0.1:80 -r 192.168.1.12:80 -m -w 2
            -a -t 10.0.0.1:80 -r 192.168.1.11:80 -m -w 1
            """
        try Rules.load(rules, file: "r", into: &e)
        #expect(Listing.save(e, numeric: true) == """
            -A -t 10.0.0.1:80 -s wlc
            -a -t 10.0.0.1:80 -r 192.168.1.11:80 -m -w 1
            -a -t 10.0.0.1:80 -r 192.168.1.12:80 -m -w 2
            -a -t 10.0.0.1:80 -r 192.168.1.13:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
            -A -f 1 -s rr
            -a -f 1 -r 192.168.1.11:0 -i -w 1 --tun-type ipip

            """)
        var o = ListOptions()
        o.numeric = true
        #expect(Listing.list(e, o) == """
            IP Virtual Server version 1.2.1 (size=4096)
            Prot LocalAddress:Port Scheduler Flags
              -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
            TCP  10.0.0.1:80 wlc
              -> 192.168.1.11:80              Masq    1      0          0         \n\
              -> 192.168.1.12:80              Masq    2      0          0         \n\
              -> 192.168.1.13:80              Tunnel  1      0          0         \n\
            FWM  1 rr
              -> 192.168.1.11:0               Tunnel  1      0          0         \n
            """)
        o.format = .tunInfo
        #expect(Listing.list(e, o).contains("  -> 192.168.1.13:80              Tunnel  gue:6080:-c   1      0          0         \n"))
    }

    /// ipvsadm's signed-difference comparator: 192.168.x sorts before 10.x.
    @Test func signedDifferenceSort() throws {
        var e = Engine(topology: Topology.oracleDefaults(directorIPv4: IPAddr("10.0.0.254")!, directorIPv6: IPAddr("fd00::fe")!))
        try Rules.load("-A -t 10.0.0.1:80\n-A -t 192.168.0.1:80\n-A -t 172.16.0.1:80\n", file: "r", into: &e)
        let order = Listing.save(e, numeric: true).split(separator: "\n").map { $0.split(separator: " ")[2] }
        #expect(order == ["172.16.0.1:80", "192.168.0.1:80", "10.0.0.1:80"])
    }
}

/// The iptables mangle rules uvs applies itself for fwmark services.
struct MarksFileTests {
    @Test func rulesUsersHave() throws {
        let text = """
            # from the seeds' "Multi-port Services"
            iptables -A PREROUTING -t mangle -p tcp -d 192.0.2.100/32 --dport 80 -j MARK --set-mark 80
            -A PREROUTING -t mangle -p tcp -s 10.0.0.0/8 -d 192.0.2.100 -m multiport --dports 443,8000:8099 -j MARK --set-mark 0x1bb
            -A PREROUTING -t mangle -p udp --sport 1024: -j MARK --set-mark 7
            """
        let r = try MarksFile.parse(text, file: "marks")
        #expect(r.count == 3)
        #expect(r[0].proto == 6 && r[0].destination!.1 == 32 && r[0].destinationPorts == [80...80] && r[0].mark == 80)
        #expect(r[1].source!.0 == IPAddr("10.0.0.0")! && r[1].source!.1 == 8 && r[1].destinationPorts == [443...443, 8000...8099])
        #expect(r[1].mark == 443 && r[2].sourcePorts == [1024...65535] && r[2].proto == 17)
        let vip = IPAddr("192.0.2.100")!
        #expect(r[1].matches(proto: 6, src: IPAddr("10.9.8.7")!, dst: vip, sport: 5000, dport: 8042, hasPorts: true))
        #expect(!r[1].matches(proto: 6, src: IPAddr("11.9.8.7")!, dst: vip, sport: 5000, dport: 8042, hasPorts: true))
        #expect(!r[1].matches(proto: 6, src: IPAddr("10.9.8.7")!, dst: vip, sport: 5000, dport: 8100, hasPorts: true))
    }

    @Test func unsupportedSyntaxNamesTheToken() {
        func message(_ line: String) -> String? {
            do { _ = try MarksFile.parse(line, file: "m"); return nil } catch { return error.description }
        }
        #expect(message("-A PREROUTING -t mangle ! -s 10.0.0.1 -j MARK --set-mark 1") == "m:1: unsupported iptables syntax '!'")
        #expect(message("-A PREROUTING -t mangle -p tcp -j ACCEPT") == "m:1: unsupported target 'ACCEPT' (only MARK)")
        #expect(message("-A INPUT -t mangle -j MARK --set-mark 1") == "m:1: unsupported chain 'INPUT' (uvs marks in PREROUTING)")
        #expect(message("-A PREROUTING -t mangle -m state --state NEW -j MARK --set-mark 1") == "m:1: unsupported match 'state'")
        #expect(message("\n-A PREROUTING -t filter -j MARK --set-mark 1") == "m:2: unsupported table 'filter' (only mangle)")
        #expect(message("-A PREROUTING -t mangle -p tcp --dport 90:80 -j MARK --set-mark 1") == "m:1: bad port or range '90:80'")
    }
}

/// popt's short-option clusters, as the seeds use them (`ipvsadm -Lnc`).
struct OptionClusterTests {
    @Test func clustersExpand() throws {
        guard case .list(let o) = try CommandParser.parse(["-Lnc"]) else { Issue.record("not -L"); return }
        #expect(o.numeric && o.connections)
        guard case .addService(let s) = try CommandParser.parse(["-At10.0.0.1:80", "-swrr"]) else { Issue.record("not -A"); return }
        #expect(s.key.port == 80 && s.scheduler == "wrr")
    }

    @Test func clusterErrorsNameTheCluster() {
        #expect(throws: CommandError("invalid option `-LE'", status: 2)) { try CommandParser.parse(["-LE"]) }
        #expect(throws: CommandError("invalid option `-nq'", status: 2)) { try CommandParser.parse(["-L", "-nq"]) }
        #expect { try CommandParser.parse(["-nL"]) } throws: { ($0 as? CommandError)?.status == 255 }
    }
}
