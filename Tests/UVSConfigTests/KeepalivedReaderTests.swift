import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import UVSConfig
import UVSControl

/// keepalived.conf into IPVS rules: defaults, inheritance, lexical rules and refusals (spec §3).
struct KeepalivedReaderTests {
    func rules(_ text: String) throws -> String {
        try KeepalivedReader.read(path: "/tmp/k.conf", text: text).savedRules()
    }
    func error(_ text: String) -> String? {
        do { _ = try rules(text); return nil } catch { return "\(error)" }
    }

    @Test func intentAOfTheSpec() throws {
        // Spec §4 intent A: HTTP_GET, DR, wlc, inhibit_on_failure.
        let text = """
            virtual_server 192.0.2.10 80 {
                delay_loop 6
                lvs_sched wlc
                lvs_method DR
                protocol TCP
                real_server 10.0.0.11 80 {
                    weight 1
                    inhibit_on_failure
                    HTTP_GET {
                        url { path /health
                              status_code 200 }
                        connect_timeout 5
                        retry 2
                        delay_before_retry 6
                    }
                }
            }
            """
        #expect(try rules(text) == "-A -t 192.0.2.10:80 -s wlc\n-a -t 192.0.2.10:80 -r 10.0.0.11:80 -g -w 1\n")
        let cfg = try KeepalivedReader.read(path: "/tmp/k.conf", text: text)
        let c = try #require(cfg.services.first?.realServers.first?.checks.first)
        #expect(c.kind == .http && c.interval == 6 && c.timeout == 5 && c.retry == 2 && c.delayBeforeRetry == 6)
        #expect(c.settings.first?.1 == ["path=/health", "status_code=200"])
        #expect(cfg.services[0].realServers[0].inhibitOnFailure)
    }

    @Test func defaults() throws {
        // No protocol → UDP; no lvs_sched → wlc; no lvs_method → NAT; NAT RS without port →
        // the VS port; weight 1; persistence_timeout bare = 360; granularity with it.
        #expect(try rules("""
            virtual_server 192.0.2.1 53 {
              real_server 10.0.0.1 { }
            }
            """) == "-A -u 192.0.2.1:53 -s wlc\n-a -u 192.0.2.1:53 -r 10.0.0.1:53 -m -w 1\n")
        #expect(try rules("""
            virtual_server 192.0.2.1 80 { protocol tcp
              persistence_timeout
              persistence_granularity 255.255.255.0
              real_server 10.0.0.1 8080 { weight 3 } }
            """) == "-A -t 192.0.2.1:80 -s wlc -p 360 -M 255.255.255.0\n-a -t 192.0.2.1:80 -r 10.0.0.1:8080 -m -w 3\n")
        // Granularity alone enables persistence 360 s; a VS weight is its servers' default.
        #expect(try rules("""
            virtual_server 192.0.2.1 80 { protocol TCP
              persistence_granularity 255.255.0.0
              weight 4
              real_server 10.0.0.1 80 { } }
            """) == "-A -t 192.0.2.1:80 -s wlc -p 360 -M 255.255.0.0\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 4\n")
        // A VS without a port is forced persistent (360 s).
        #expect(try rules("virtual_server 192.0.2.1 { protocol TCP\nlvs_method DR\nreal_server 10.0.0.1 { } }")
                == "-A -t 192.0.2.1:0 -s wlc -p 360\n-a -t 192.0.2.1:0 -r 10.0.0.1:0 -g -w 1\n")
    }

    @Test func methodsAndPorts() throws {
        // DR/TUN real servers take the VS port; per-RS method overrides the VS's; tunnels.
        #expect(try rules("""
            virtual_server 192.0.2.1 80 {
              protocol TCP
              lb_kind DR
              lb_algo rr
              real_server 10.0.0.1 8080 { }
              real_server 10.0.0.2 80 { lvs_method TUN type gue port 6080 csum }
              real_server 10.0.0.3 81 { lvs_method NAT }
              real_server 10.0.0.1 80 { }
            }
            """) == """
            -A -t 192.0.2.1:80 -s rr
            -a -t 192.0.2.1:80 -r 10.0.0.1:80 -g -w 1
            -a -t 192.0.2.1:80 -r 10.0.0.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
            -a -t 192.0.2.1:80 -r 10.0.0.3:81 -m -w 1

            """)
        // fwmark: a DR server's port is cleared; sh flags after lvs_sched sh.
        #expect(try rules("virtual_server fwmark 7 { lvs_method DR\nlvs_sched sh\nsh-port\npersistence_timeout 60\nreal_server 10.0.0.9 80 { } }")
                == "-A -f 7 -s sh -p 60 -b sh-port\n-a -f 7 -r 10.0.0.9:0 -g -w 1\n")
    }

    @Test func groupsAndIPv6() throws {
        #expect(try rules("virtual_server 2001:db8::1 443 { protocol TCP\nlvs_method DR\nreal_server 2001:db8::10 443 { } }")
                == "-A -t [2001:db8::1]:443 -s wlc\n-a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -g -w 1\n")
        let r = try rules("virtual_server_group g {\n192.0.2.1-2 80\n}\nvirtual_server group g { protocol TCP\nreal_server 10.0.0.1 80 { } }")
        #expect(r == """
            -A -t 192.0.2.1:80 -s wlc
            -a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 1
            -A -t 192.0.2.2:80 -s wlc
            -a -t 192.0.2.2:80 -r 10.0.0.1:80 -m -w 1

            """)
    }

    @Test func lexicalRules() throws {
        // Comments with # and !, braces splitting lines, `{` on the next line, quotes.
        let text = """
            ! a comment
            virtual_server 192.0.2.1 80   # trailing
            {
              protocol TCP ! another
              real_server 10.0.0.1 80{ MISC_CHECK { misc_path "/bin/check 10.0.0.1 # not a comment"
              misc_timeout 3 } }
            }
            """
        let cfg = try KeepalivedReader.read(path: "/tmp/k.conf", text: text)
        let c = try #require(cfg.services.first?.realServers.first?.checks.first)
        #expect(c.kind == .misc && c.timeout == 3 && c.retry == 0 && c.delayBeforeRetry == 1)
        #expect(c.settings.first?.1 == ["/bin/check 10.0.0.1 # not a comment"])
    }

    @Test func checkerDefaults() throws {
        let cfg = try KeepalivedReader.read(path: "/tmp/k.conf", text: """
            virtual_server 192.0.2.1 80 { protocol TCP
              delay_loop 10
              real_server 10.0.0.1 80 {
                TCP_CHECK { connect_timeout 3 }
                DNS_CHECK { type A }
                SMTP_CHECK { helo_name me }
                MISC_CHECK { misc_path /bin/true }
              }
            }
            """)
        let cs = cfg.services[0].realServers[0].checks
        #expect(cs.map(\.kind) == [.tcp, .dns, .smtp, .misc])
        #expect(cs[0].retry == 1 && cs[0].delayBeforeRetry == 1 && cs[0].timeout == 3 && cs[0].interval == 10)
        #expect(cs[1].retry == 3 && cs[1].delayBeforeRetry == 10 && cs[1].timeout == 5)
        #expect(cs[3].retry == 0 && cs[3].timeout == 10)   // misc_timeout defaults to the VS delay_loop
    }

    @Test func parametersAndConditionalLines() throws {
        let text = """
            $IP=192.0.2.1
            $RS=10.0.0.$N
            $N=7
            $W=weight 4
            virtual_server $IP 80 {
              protocol TCP
              @dirA lb_algo rr
              @^dirA lb_algo sh
              real_server $RS 80 { $W }
              real_server 10.0.0.8 80 { weight 2$N }
            }
            """
        // $RS's value is scanned again ($N defined later, before use); a name needs a blank or
        // the end after it, not before it: "2$N" is 27.
        let ok = text
        #expect(try KeepalivedReader.read(path: "/tmp/k.conf", text: ok, configID: "dirA").savedRules() == """
            -A -t 192.0.2.1:80 -s rr
            -a -t 192.0.2.1:80 -r 10.0.0.7:80 -m -w 4
            -a -t 192.0.2.1:80 -r 10.0.0.8:80 -m -w 27

            """)
        #expect(error("$N=7\nvirtual_server 192.0.2.1 80 {\n real_server 10.0.0.8 80 { weight $N1 }\n}") == "/tmp/k.conf:3: 'weight' needs a number in 0…2147483647")
        #expect(try KeepalivedReader.read(path: "/tmp/k.conf", text: ok, configID: "dirB").savedRules().hasPrefix("-A -t 192.0.2.1:80 -s sh\n"))
        // An undefined name stays as written.
        #expect(error("virtual_server 192.0.2.1 $NOPORT {\n}") == "/tmp/k.conf:1: virtual_server: bad port '$NOPORT'")
    }

    @Test func refusals() {
        #expect(error("virtual_server 192.0.2.1 80 {\n  lvs_sched bogus\n  real_server 10.0.0.1 80 { }\n}")
                == "/tmp/k.conf:2: lvs_sched: unknown scheduler 'bogus'")
        #expect(error("virtual_server 192.0.2.1 80 {\n  frobnicate 1\n}") == "/tmp/k.conf:2: virtual_server: unknown keyword 'frobnicate'")
        #expect(error("virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 10.0.0.1 80 {\n  TCP_CHECK { bogus 3 }\n }\n}")
                == "/tmp/k.conf:4: TCP_CHECK: unknown keyword 'bogus'")
        #expect(error("virtual_server 192.0.2.1 80 {\n  sh-port\n}") == "/tmp/k.conf:2: 'sh-port' needs lvs_sched sh before it")
        #expect(error("}") == "/tmp/k.conf:1: extra '}'")
        #expect(error("virtual_server 192.0.2.1 80 {\n  protocol TCP") == "/tmp/k.conf:2: missing '}' at the end of the file")
        #expect(error("virtual_server 192.0.2.1 80 {\n misc_path \"unterminated\n}") == "/tmp/k.conf:2: unterminated quoted string")
        #expect(error("$MULTI=a \\") == "/tmp/k.conf:1: '$MULTI': multi-line definitions are not supported by uvs")
        #expect(error("$F(a)=x") == "/tmp/k.conf:1: '$F(': parameterised definitions are not supported by uvs")
        #expect(error("~SEQ(i, 1, 1, 3) virtual_server 192.0.2.$i 80 { }") == "/tmp/k.conf:1: '~SEQ': keepalived's sequences are not supported by uvs")
        #expect(error("virtual_server ${_RANDOM} 80 { }") == "/tmp/k.conf:1: '${_RANDOM}': keepalived's predefined _RANDOM is not supported by uvs")
        #expect(error("virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 10.0.0.1 80 {\n  HTTP_GET { connect_timeout 3 }\n }\n}")
                == "/tmp/k.conf:4: HTTP_GET needs at least one url")
        #expect(error("virtual_server 192.0.2.1 80 {\n lvs_method TUN type gue\n real_server 10.0.0.1 80 { }\n}")
                == "/tmp/k.conf:2: lvs_method TUN type gue needs a port")
        // ipvsadm's own legality checks still apply, named at the line: a negative weight is
        // refused by the reader; an unknown keyword in global_defs is refused by name.
        #expect(error("global_defs {\n  frob 1\n}") == "/tmp/k.conf:2: global_defs: 'frob' is not supported by uvs")
    }

    @Test func vrrpBlocksAreKeptAndFormatDetected() throws {
        let text = "vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n"
        let cfg = try KeepalivedReader.read(path: "/tmp/k.conf", text: text)
        #expect(cfg.failover.instances.count == 1 && cfg.services.isEmpty)
        #expect(try cfg.savedRules() == "")
        #expect(ConfigFormat.detect(text) == .keepalived)
        #expect(ConfigFormat.detect("-A -t 1.2.3.4:80 -s rr\n") == .rules)
        #expect(ConfigFormat.detect("checktimeout=3\nvirtual=1.2.3.4:80\n") == .ldirectord)
        #expect(ConfigFormat.detect("serial_no = 1\nprimary = 1.2.3.4\n") == .lvs)
    }

    @Test func timeoutsAndSyncDaemon() throws {
        let vi = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n"
        let cfg = try KeepalivedReader.read(path: "/tmp/k.conf", text: "lvs_timeouts tcp 900 udp 30\nglobal_defs {\n lvs_sync_daemon eth1 VI_1 id 5 maxlen 1400\n}\n" + vi)
        #expect(cfg.timeouts! == (900, 0, 30))
        let d = try #require(cfg.failover.syncDaemon)
        #expect(d.follow == .instance("VI_1"))
        #expect(d.startWords("backup") == ["--start-daemon", "backup", "--mcast-interface", "eth1", "--syncid", "5", "--sync-maxlen", "1400"])
        // Without id: the instance's VRID; without an instance: both daemons, id 0.
        let byVRID = try KeepalivedReader.read(path: "/tmp/k.conf", text: "global_defs {\n lvs_sync_daemon eth1 VI_1\n}\n" + vi)
        #expect(byVRID.failover.syncDaemon?.syncID == 51)
        let both = try KeepalivedReader.read(path: "/tmp/k.conf", text: "global_defs {\n lvs_sync_daemon eth1\n}\n")
        #expect(both.failover.syncDaemon?.follow == .both && both.failover.syncDaemon?.startWords("master").contains("0") == true)
        // keepalived knows lvs_sync_daemon only inside global_defs.
        #expect(throws: ConfigText.FileError.self) { try KeepalivedReader.read(path: "/tmp/k.conf", text: "lvs_sync_daemon eth1\n") }
    }

    @Test func includeIsRelativeToTheIncludingFileAndNamesItsLines() throws {
        let dir = "/tmp/uvs-include-\(UInt32.random(in: 0...UInt32.max))"
        #expect(system("mkdir -p \(dir)/conf.d") == 0)
        defer { _ = system("rm -rf \(dir)") }
        func write(_ path: String, _ text: String) throws {
            let f = try #require(fopen(path, "w")); fputs(text, f); fclose(f)
        }
        try write("\(dir)/main.conf", "include conf.d/*.conf\n")
        try write("\(dir)/conf.d/a.conf", "virtual_server 192.0.2.5 443 {\n protocol TCP\n real_server 10.0.0.5 443 { weight 2 }\n}\n")
        #expect(try KeepalivedReader.read(path: "\(dir)/main.conf").savedRules()
                == "-A -t 192.0.2.5:443 -s wlc\n-a -t 192.0.2.5:443 -r 10.0.0.5:443 -m -w 2\n")
        try write("\(dir)/conf.d/b.conf", "virtual_server 192.0.2.5 80 {\n protocol TCP\n bogus\n}\n")
        #expect(throws: ConfigText.FileError.self) { try KeepalivedReader.read(path: "\(dir)/main.conf") }
        do { _ = try KeepalivedReader.read(path: "\(dir)/main.conf") } catch {
            #expect(error.description == "\(dir)/conf.d/b.conf:3: virtual_server: unknown keyword 'bogus'")
        }
    }
}
