import Testing
@testable import UVSConfig
import UVSControl
import UVSPacket

/// keepalived.conf's vrrp_instance / vrrp_sync_group / vrrp_script: defaults as
/// vrrp_complete_instance sets them, and refusals at the offending line.
struct KeepalivedVRRPReaderTests {
    func read(_ text: String) throws -> FailoverConfig { try KeepalivedReader.read(path: "/tmp/v.conf", text: text).failover }
    func error(_ text: String) -> String? {
        do { _ = try read(text); return nil } catch { return "\(error)" }
    }
    func instance(_ body: String) -> String {
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.16\n }\n\(body)}\n"
    }

    @Test func defaults() throws {
        let v = try #require(try read(instance("")).instances.first)
        // No state, no priority: BACKUP at 100; v2, 1 s, 5 GARPs now and 5 after 5 s.
        #expect(!v.wantMaster && v.priority == 100 && v.version == 2 && v.advertInterval == 1_000_000)
        #expect(v.garpMasterDelay == 5 && v.garpMasterRepeat == 5 && v.garpLowerPrioDelay == 5 && v.garpLowerPrioRepeat == 5)
        #expect(v.garpMasterRefresh == 0 && v.garpMasterRefreshRepeat == 1)
        #expect(v.addresses == [FailoverAddress(address: IPAddr("192.0.2.16")!, prefix: 32)])
        #expect(v.mcastGroup4 == IPAddr("224.0.0.18")! && v.authPass == nil && !v.nopreempt)
        // state MASTER without priority: 255; priority 255 without state: MASTER.
        #expect(try read(instance(" state MASTER\n")).instances[0].priority == 255)
        #expect(try read(instance(" priority 255\n")).instances[0].wantMaster)
        // MASTER once set stays (a later BACKUP is ignored, as keepalived logs).
        #expect(try read(instance(" state MASTER\n state BACKUP\n priority 150\n")).instances[0].wantMaster)
    }

    @Test func intervalsRoundAsKeepalivedSendsThem() throws {
        #expect(try read(instance(" advert_int 1.4\n")).instances[0].advertInterval == 1_000_000)
        #expect(try read(instance(" advert_int 2.5\n")).instances[0].advertInterval == 3_000_000)
        #expect(try read(instance(" version 3\n advert_int 0.254\n")).instances[0].advertInterval == 250_000)
        #expect(try read(instance(" version 3\n advert_int 0.001\n")).instances[0].advertInterval == 10_000)
        #expect(try read(instance(" preempt_delay 2.5\n")).instances[0].preemptDelay == 2_500_000)
    }

    @Test func ipv6IsVersion3AndAddressesCarryTheirDevice() throws {
        let text = "vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  2001:db8::10/64 dev eth1 nodad\n }\n"
            + " virtual_ipaddress_excluded {\n  192.0.2.99/24 brd 192.0.2.255 dev eth0 label eth0:9\n }\n}\n"
        let v = try #require(try read(text).instances.first)
        #expect(v.version == 3 && v.isIPv6)
        #expect(v.addresses == [FailoverAddress(address: IPAddr("2001:db8::10")!, prefix: 64, device: "eth1")])
        #expect(v.excludedAddresses == [FailoverAddress(address: IPAddr("192.0.2.99")!, prefix: 24, device: "eth0")])
    }

    @Test func authenticationIsThePasswordsFirstEightBytes() throws {
        let v = try read(instance(" authentication {\n  auth_type PASS\n  auth_pass 0123456789\n }\n")).instances[0]
        #expect(v.authPass == "01234567")
        #expect(error(instance(" authentication {\n  auth_type AH\n  auth_pass x\n }\n"))
                == "/tmp/v.conf:8: auth_type AH is not supported by uvs (IPsec AH around VRRP)")
        #expect(error(instance(" version 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n"))
                == "/tmp/v.conf:1: vrrp_instance VI_1: VRRP version 3 has no authentication")
    }

    @Test func trackersScriptsAndNotify() throws {
        let text = "vrrp_script chk {\n script \"/bin/check arg\"\n interval 2\n weight -20\n fall 3\n rise 2\n}\n"
            + instance(" track_script {\n  chk\n  chk weight 10 reverse\n }\n track_interface {\n  eth1 weight -30\n  eth2\n }\n"
                       + " notify \"/usr/bin/n x\"\n notify_master /usr/bin/m\n")
        let f = try read(text)
        #expect(f.scripts == [{
            var s = VRRPScriptConfig(name: "chk", source: ConfigSource(file: "/tmp/v.conf", line: 1))
            s.command = ["/bin/check", "arg"]; s.interval = 2; s.weight = -20; s.fall = 3; s.rise = 2
            return s
        }()])
        let v = f.instances[0]
        #expect(v.trackScripts == [TrackedScript(name: "chk"), TrackedScript(name: "chk", weight: 10, reverse: true)])
        #expect(v.trackInterfaces == [TrackedInterface(name: "eth1", weight: -30), TrackedInterface(name: "eth2")])
        #expect(v.notify.any == ["/usr/bin/n", "x"] && v.notify.master == ["/usr/bin/m"])
        #expect(error(instance(" track_script {\n  nope\n }\n")) == "/tmp/v.conf:1: vrrp_instance VI_1: track_script nope is not a vrrp_script")
    }

    @Test func syncGroups() throws {
        let two = instance("") + "vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 52\n virtual_ipaddress {\n  10.0.0.254\n }\n}\n"
        let f = try read(two + "vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n notify_master /bin/g\n}\n")
        #expect(f.syncGroups.first?.members == ["VI_1", "VI_2"] && f.syncGroups.first?.notify.master == ["/bin/g"])
        #expect(error(two + "vrrp_sync_group G {\n group {\n  VI_3\n }\n}\n") == "/tmp/v.conf:15: vrrp_sync_group G: VI_3 is not a vrrp_instance")
        // A member's weighted tracker: keepalived ignores it and -t fails.
        let weighted = "vrrp_script s {\n script /bin/true\n weight 5\n}\n" + instance(" track_script {\n  s\n }\n")
            + "vrrp_sync_group G {\n group {\n  VI_1\n }\n}\n"
        #expect(error(weighted) == "/tmp/v.conf:5: vrrp_instance VI_1: track_script s has weight 5, which keepalived ignores in a sync group")
    }

    @Test func refusalsNameTheLine() {
        #expect(error(instance(" use_vmac\n"))?.hasPrefix("/tmp/v.conf:7: vrrp_instance VI_1: 'use_vmac' is not supported by uvs") == true)
        #expect(error(instance(" frobnicate 1\n")) == "/tmp/v.conf:7: vrrp_instance VI_1: unknown keyword 'frobnicate'")
        #expect(error("vrrp_instance VI_1 {\n interface eth0\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n")
                == "/tmp/v.conf:1: vrrp_instance VI_1: no virtual_router_id")
        #expect(error("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 300\n}\n")
                == "/tmp/v.conf:3: 'virtual_router_id' needs a number in 1..255")
        #expect(error(instance(" state MASTER\n nopreempt\n")) == "/tmp/v.conf:1: vrrp_instance VI_1: nopreempt and preempt_delay need state BACKUP")
        #expect(error(instance("") + "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.17\n }\n}\n")
                == "/tmp/v.conf:8: vrrp_instance VI_2: VRID 51 is already used on eth0")
        #expect(error(instance("") + instance("")) == "/tmp/v.conf:8: vrrp_instance VI_1 is defined twice")
        #expect(error("vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n  2001:db8::1\n }\n}\n")
                == "/tmp/v.conf:1: vrrp_instance V: virtual_ipaddress mixes IPv4 and IPv6")
        #expect(error(instance(" unicast_src_ip 192.0.2.1\n")) == "/tmp/v.conf:1: vrrp_instance VI_1: unicast_src_ip without unicast_peer")
        #expect(error("global_defs {\n vrrp_strict\n}\n") == "/tmp/v.conf:2: global_defs: 'vrrp_strict' is not supported by uvs")
    }

    @Test func globalsAreTheInstancesDefaults() throws {
        let f = try read("global_defs {\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 3\n vrrp_version 3\n vrrp_mcast_group4 224.0.0.19\n}\n" + instance(""))
        let v = f.instances[0]
        #expect(v.garpMasterDelay == 2 && v.garpMasterRepeat == 3 && v.garpLowerPrioDelay == 2 && v.garpLowerPrioRepeat == 3)
        #expect(v.version == 3 && v.mcastGroup4 == IPAddr("224.0.0.19")!)
    }
}
