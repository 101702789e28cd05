import Testing
@testable import UVSConfig
import UVSControl

/// ldirectord.cf into IPVS rules and checks: blocks, defaults, derived timeouts, refusals (spec §2).
struct LdirectordReaderTests {
    func read(_ text: String) throws -> DirectorConfig { try LdirectordReader.read(path: "/tmp/ld.cf", text: text) }
    func rules(_ text: String) throws -> String { try read(text).savedRules() }
    func error(_ text: String) -> String? {
        do { _ = try rules(text); return nil } catch { return "\(error)" }
    }

    @Test func maintenancedirIsKept() throws {
        let cfg = try read("maintenancedir = \"/var/lib/ld/maint\"\nvirtual=192.0.2.10:80\n\treal=10.0.0.11:80 gate\n")
        #expect(cfg.maintenanceDir == "/var/lib/ld/maint")
        #expect(error("maintenancedir=\nvirtual=192.0.2.10:80\n\treal=10.0.0.11:80 gate\n")?.hasSuffix("maintenance directory not specified") == true)
    }

    @Test func intentAOfTheSpec() throws {
        let cfg = try read("""
            checkinterval=6
            failurecount=3
            quiescent=yes
            negotiatetimeout=5
            virtual=192.0.2.10:80
            \treal=10.0.0.11:80 gate 1
            \tservice=http
            \tchecktype=negotiate
            \trequest="/health"
            \tscheduler=wlc
            \tprotocol=tcp
            """)
        #expect(try cfg.savedRules() == "-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 10.0.0.11:80 -g -w 1\n")
        let r = cfg.services[0].realServers[0]
        #expect(r.failureCount == 3 && r.inhibitOnFailure)
        let c = try #require(r.checks.first)
        #expect(c.kind == .http && c.interval == 6 && c.timeout == 5 && c.retry == 0)
        #expect(c.setting("url") == ["http://10.0.0.11:80/health"] && c.setting("httpmethod") == ["GET"])
    }

    @Test func defaults() throws {
        // (ipvsadm gives a DR server the service's port.) wrr, negotiate, service from the port (80 → http), udp for port 53, request "/",
        // checktimeout 5 / negotiatetimeout 30, interval 10, failurecount 1, quiescent no,
        // real port 0 and weight 1 by default; fwmark virtuals are not checked.
        let cfg = try read("""
            virtual=192.0.2.1:80
                real=10.0.0.1:80 masq
            virtual=192.0.2.1:53
                real=10.0.0.2 gate 5
            virtual=9
                real=10.0.0.3 gate
            """)
        #expect(try cfg.savedRules() == """
            -A -t 192.0.2.1:80 -s wrr
            -a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 1
            -A -u 192.0.2.1:53 -s wrr
            -a -u 192.0.2.1:53 -r 10.0.0.2:53 -g -w 5
            -A -f 9 -s wrr
            -a -f 9 -r 10.0.0.3:0 -g -w 1

            """)
        let http = cfg.services[0].realServers[0].checks[0]
        #expect(http.kind == .http && http.timeout == 30 && http.interval == 10 && http.setting("url") == ["http://10.0.0.1:80/"])
        let dns = cfg.services[1].realServers[0].checks[0]
        #expect(dns.kind == .dns && dns.connectPort == 53 && dns.setting("protocol") == ["udp"])
        #expect(cfg.services[2].realServers[0].checks.isEmpty)
        #expect(!cfg.services[0].realServers[0].inhibitOnFailure && cfg.services[0].realServers[0].failureCount == 1)
    }

    @Test func derivedTimeouts() throws {
        // checktimeout ← virtual check → virtual negotiate → global check → global negotiate → 5.
        let cfg = try read("""
            negotiatetimeout=7
            virtual=192.0.2.1:25
                real=10.0.0.1:25 gate
                checktype=connect
            virtual=192.0.2.1:26
                real=10.0.0.1:26 gate
                service=smtp
                checktimeout=3
            """)
        #expect(cfg.services[0].realServers[0].checks[0].kind == .tcp && cfg.services[0].realServers[0].checks[0].timeout == 7)
        #expect(cfg.services[1].realServers[0].checks[0].kind == .smtp && cfg.services[1].realServers[0].checks[0].timeout == 3)
    }

    @Test func realLines() throws {
        // Ranges, weights, per-real request/receive, thresholds, checkport, external arguments.
        let cfg = try read("""
            virtual=192.0.2.1:8080
                real=10.0.0.1->10.0.0.3:8080 masq 2 "/ping", "pong" l:5 u:50
                service=http
                checkport=9000
            virtual=192.0.2.2:22
                real=10.0.0.9:22 gate
                checktype=external
                checkcommand="/usr/local/bin/chk"
                fallback=127.0.0.1:22 masq
            """)
        #expect(try cfg.savedRules() == """
            -A -t 192.0.2.1:8080 -s wrr
            -a -t 192.0.2.1:8080 -r 10.0.0.1:8080 -m -w 2
            -a -t 192.0.2.1:8080 -r 10.0.0.2:8080 -m -w 2
            -a -t 192.0.2.1:8080 -r 10.0.0.3:8080 -m -w 2
            -A -t 192.0.2.2:22 -s wrr
            -a -t 192.0.2.2:22 -r 10.0.0.9:22 -g -w 1

            """)
        // ipvsadm -S prints no thresholds; they are in the model.
        #expect(cfg.services[0].realServers[2].upperThreshold == 50 && cfg.services[0].realServers[2].lowerThreshold == 5)
        let c = cfg.services[0].realServers[1].checks[0]
        #expect(c.setting("url") == ["http://10.0.0.2:9000/ping"] && c.setting("receive") == ["pong"])
        let e = cfg.services[1].realServers[0].checks[0]
        #expect(e.kind == .external && e.setting("command") == ["/usr/local/bin/chk", "192.0.2.2", "22", "10.0.0.9", "22"])
        #expect(cfg.services[1].sorryServer?.endpoint == "127.0.0.1:22" && cfg.services[1].sorryServer?.method == "-m")
    }

    @Test func lexicalRules() throws {
        // A comment line (any indentation) keeps the block open; an empty line closes it, so
        // the indented lines after it are unknown global commands; text from `#` is cut in a
        // block but a global value runs to the end of its line.
        #expect(try rules("virtual=192.0.2.1:80\n    real=10.0.0.1:80 gate\n# note\n        # note\n    scheduler=rr # x\n")
                == "-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -g -w 1\n")
        #expect(error("virtual=192.0.2.1:80\n    real=10.0.0.1:80 gate\n\n    scheduler=rr\n") == "/tmp/ld.cf:4: Unknown command scheduler=rr")
        #expect(error("quiescent = yes # x\n") == "/tmp/ld.cf:1: quiescent must be 'yes' or 'no'")
        #expect(error("quiescent = yes\r\n") == "/tmp/ld.cf:1: quiescent must be 'yes' or 'no'")
        #expect(error("logfile=/var/log/x\n") == "/tmp/ld.cf:1: Unknown command logfile=/var/log/x")
        #expect(error("virtual=192.0.2.1:80\n    request=/x\n") == "/tmp/ld.cf:2: Unknown command \"request=/x\"")
    }

    @Test func refusals() {
        // Port 1521 derives service=oracle, which uvs does not run.
        #expect(error("virtual=192.0.2.1:1521\n    real=10.0.0.1:1521 gate\n")?
            .hasPrefix("/tmp/ld.cf:1: service=oracle: uvs does not implement") == true)
        #expect(error("virtual=192.0.2.1:80\n    real=10.0.0.1:80 bridge\n") == "/tmp/ld.cf:2: forward method must be gate, masq or ipip")
        #expect(error("virtual=192.0.2.1:80\nvirtual=192.0.2.1:80\n") == "/tmp/ld.cf:2: duplicate virtual server")
        #expect(error("timeout=3\n") == "/tmp/ld.cf:1: timeout directive deprecated in favour of checktimeout and negotiatetimeout")
        #expect(error("virtual=192.0.2.1:80\n    checktype=sometimes\n")?.hasPrefix("/tmp/ld.cf:2: checktype must be") == true)
        #expect(error("virtual=[2001:db8::1]:80\n") == "/tmp/ld.cf:1: cannot specify an IPv6 address here. please use \"virtual6\" instead.")
    }

    @Test func checktypeOffAndOn() throws {
        #expect(try rules("virtual=192.0.2.1:80\n    real=10.0.0.1:80 gate\n    checktype=off\n") == "-A -t 192.0.2.1:80 -s wrr\n")
        #expect(try rules("quiescent=yes\nvirtual=192.0.2.1:80\n    real=10.0.0.1:80 gate\n    checktype=off\n")
                == "-A -t 192.0.2.1:80 -s wrr\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -g -w 0\n")
        let cfg = try read("virtual=192.0.2.1:80\n    real=10.0.0.1:80 gate\n    checktype=on\n")
        #expect(cfg.services[0].realServers[0].checks.isEmpty)
    }
}
