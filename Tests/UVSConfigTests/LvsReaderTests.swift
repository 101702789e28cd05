import Testing
@testable import UVSConfig
import UVSControl

/// piranha's lvs.cf into IPVS rules and nanny checks: lexical rules, defaults, refusals (spec §1).
struct LvsReaderTests {
    func read(_ text: String) throws -> DirectorConfig { try LvsReader.read(path: "/tmp/lvs.cf", text: text) }
    func rules(_ text: String) throws -> String { try read(text).savedRules() }
    func error(_ text: String) -> String? {
        do { _ = try rules(text); return nil } catch { return "\(error)" }
    }
    let head = "primary = 10.0.0.1\nnetwork = direct\n"

    @Test func seed000LoadsAndGivesItsListing() throws {
        // The article's `ipvsadm -L -n`: one wlc service persistent 1200, two Route servers of weight 1.
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let cfg = try ConfigLoader.load(path: "/" + path + "/fixtures/configs/seed000-lvs.cf")
        #expect(cfg.format == .lvs)
        var o = ListOptions()
        o.numeric = true
        let listing = Listing.list(try cfg.engine(), o).split(separator: "\n").dropFirst(3).joined(separator: "\n")
        #expect(listing == """
            TCP  10.10.1.100:8443 wlc persistent 1200
              -> 10.10.1.21:8443              Route   1      0          0         
              -> 10.10.1.22:8443              Route   1      0          0         
            """)
        let c = try #require(cfg.services.first?.realServers.first?.checks.first)
        #expect(c.kind == .sendProgram && c.interval == 6 && c.timeout == 6)
        #expect(c.setting("send_program") == ["/usr/local/sbin/check_https %h 8443"] && c.setting("expect") == ["200 OK"])
        #expect(cfg.services[0].realServers[0].reentry == 15)
        #expect(cfg.failover.syncDaemon?.startWords("master") == ["--start-daemon", "master", "--mcast-interface", "eth0", "--syncid", "0"])
        #expect(cfg.failover.syncDaemon?.follow == .pulse)
        let pulse = try #require(cfg.failover.pulse)
        #expect(pulse.keepalive == 3 && pulse.deadtime == 6 && pulse.port == 539)
        #expect(pulse.addresses.map(\.address.description) == ["10.10.1.100"])
    }

    @Test func theDamagedSeedIsRefusedAtItsFirstBadLine() {
        // The page as extracted: `primary =` has lost its value.
        #expect(error("serial_no = 12\nprimary =\nservice = lvs\n") == "/tmp/lvs.cf:2: missing arguments")
        #expect(error(head + "virtual v {\n active = 1\n address = eth3:0\n}\n") == "/tmp/lvs.cf:5: missing arguments")
    }

    @Test func defaults() throws {
        // port 80, tcp, wlc, NAT (`network` absent), weight 1; inactive virtuals and servers are
        // not started; a port-80 virtual without a probe gets nanny's GET / expect HTTP.
        let cfg = try read("""
            primary = 10.0.0.1
            virtual web {
                active = 1
                address = 192.0.2.10 eth0:1
                server a {
                    address = 10.0.0.11
                    active = 1
                }
                server b {
                    address = 10.0.0.12
                }
            }
            virtual off {
                address = 192.0.2.11 eth0:2
            }
            """)
        #expect(try cfg.savedRules() == "-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 10.0.0.11:80 -m -w 1\n")
        let c = try #require(cfg.services.first?.realServers.first?.checks.first)
        #expect(c.kind == .sendExpect && c.interval == 10 && c.timeout == 10)
        #expect(c.setting("send") == ["GET / HTTP/1.0\\r\\n\\r\\n"] && c.setting("expect") == ["HTTP"])
        #expect(cfg.services[0].realServers[0].reentry == 180)
        #expect(cfg.timeouts! == (0, 0, 0))
    }

    @Test func valuesAsLvsconfigReadsThem() throws {
        // strtol base 0 (0x1f = 31, 010 = 8), inet_aton's short forms, service names, the server's
        // default port is the virtual's when its block is read, pmask only with persistence,
        // fwmark replaces the address, udp, sorry_server kept for the checks.
        let cfg = try read(head + """
            tcp_timeout = 0x1f
            virtual v {
                active = 1
                address = 10.1 eth0:1
                server early {
                    address = 10.0.0.1
                    active = 1
                    weight = 010
                }
                port = https
                persistent = 300
                pmask = 255.255.255.0
                scheduler = sh
                sorry_server = 127.0.0.1
                server late {
                    address = 10.0.0.2
                    active = 1
                    weight = 0
                }
            }
            virtual m {
                active = 1
                address = 192.0.2.1 eth0
                fwmark = 7
                protocol = udp
                expect = "*"
                server s {
                    address = 10.0.0.3
                    active = 1
                    port = 53
                }
            }
            """)
        #expect(try cfg.savedRules() == """
            -A -t 10.0.0.1:443 -s sh -p 300 -M 255.255.255.0
            -a -t 10.0.0.1:443 -r 10.0.0.1:443 -g -w 8
            -a -t 10.0.0.1:443 -r 10.0.0.2:443 -g -w 1
            -A -f 7 -s wlc
            -a -f 7 -r 10.0.0.3:53 -g -w 1

            """)
        #expect(cfg.timeouts! == (31, 0, 0))
        // nanny probes the port the server block got (ipvsadm gives DR servers the service's).
        #expect(cfg.services[0].realServers[0].endpoint == "10.0.0.1:80")
        #expect(cfg.services[0].sorryServer?.endpoint == "127.0.0.1:443")
        #expect(cfg.services[1].realServers[0].checks[0].setting("protocol") == ["udp"])
    }

    @Test func lexicalRules() throws {
        // `=` must stand alone; one value; quotes keep blanks; lvsd strips double quotes only;
        // a later `#` is a token; CR ends a line; last setting wins.
        #expect(error(head + "keepalive=3\n") == "/tmp/lvs.cf:3: unknown command 'keepalive=3'")
        #expect(error(head + "keepalive = 3 4\n") == "/tmp/lvs.cf:3: unexpected arguments")
        #expect(error(head + "keepalive = 3 # x\n") == "/tmp/lvs.cf:3: unexpected arguments")
        #expect(error(head + "virtual v {\n send = \"GET /\n}\n") == "/tmp/lvs.cf:4: quotation mismatch")
        let cfg = try read(head + "virtual v {\r active = 1\r address = 192.0.2.1 eth0\r port = 25\r"
                           + " send = 'HELO x'\r expect = \"250 ok\"\r timeout = 3\r timeout = 4\r"
                           + " server s {\r address = 10.0.0.1\r active = 1\r }\r}\r")
        let c = try #require(cfg.services.first?.realServers.first?.checks.first)
        #expect(c.setting("send") == ["'HELO x'"] && c.setting("expect") == ["250 ok"] && c.timeout == 4)
    }

    @Test func refusals() {
        #expect(error("") == "/tmp/lvs.cf:1: Empty configuration")
        #expect(error("network = direct\n") == "/tmp/lvs.cf:1: primary is not set")
        #expect(error(head + "bogus = 1\n") == "/tmp/lvs.cf:3: unknown command 'bogus'")
        #expect(error(head + "heartbeat = 2\n") == "/tmp/lvs.cf:3: boolean expected")
        #expect(error(head + "virtual v {\n active = 1\n address = 1.2.3.4 eth0\n scheduler = mh\n}\n")?
            .hasPrefix("/tmp/lvs.cf:6: scheduler 'mh' is not one piranha knows") == true)
        #expect(error(head + "virtual v {\n active = 1\n address = 1.2.3.4 eth0\n nmask = 1\n}\n") == "/tmp/lvs.cf:6: unknown command 'nmask'")
        #expect(error(head + "virtual v {\n active = 1\n}\n") == "/tmp/lvs.cf:3: virtual v: no address")
        #expect(error(head + "network = bridge\n") == "/tmp/lvs.cf:3: network 'bridge': expected direct, nat or tunnel")
    }

    @Test func formatDetection() {
        #expect(ConfigFormat.detect("serial_no = 1\nprimary = 1.2.3.4\n") == .lvs)
        #expect(ConfigFormat.detect("# x\ncheckinterval=5\nvirtual=1.2.3.4:80\n") == .ldirectord)
        #expect(ConfigFormat.detect("virtual = 1.2.3.4:80\n") == .ldirectord)
        #expect(ConfigFormat.detect("-A -t 1.2.3.4:80\n") == .rules)
    }
}
