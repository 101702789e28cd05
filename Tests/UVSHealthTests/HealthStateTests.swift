import Testing
@testable import UVSHealth
import UVSConfig

/// Each tool's counting of check results, and the table it wants (spec §1.7, §2.9, §3.6).
struct HealthStateTests {
    func config(_ format: ConfigFormat, _ text: String) throws -> DirectorConfig {
        switch format {
        case .lvs: return try LvsReader.read(path: "/tmp/lvs.cf", text: text)
        case .ldirectord: return try LdirectordReader.read(path: "/tmp/ld.cf", text: text)
        default: return try KeepalivedReader.read(path: "/tmp/k.conf", text: text)
        }
    }

    @Test func keepalivedRetryAndAlpha() {
        // Without alpha: up before any probe, the first failure takes it out.
        var c = CheckerState(.keepalived(retry: 2, delayBeforeRetry: 3, interval: 6, downInterval: 6), alpha: false)
        #expect(c.up)
        #expect(c.record(passed: false) == (true, 6))
        // Once a probe passed, retry 2 means out on the 3rd failure in a row, retried after 3 s.
        #expect(c.record(passed: true) == (true, 6))
        #expect(c.record(passed: false) == (false, 3))
        #expect(c.record(passed: false) == (false, 3))
        #expect(c.record(passed: false) == (true, 6))
        #expect(!c.up)
        #expect(c.record(passed: false) == (false, 6))
        // With alpha: down until the first pass.
        var a = CheckerState(.keepalived(retry: 1, delayBeforeRetry: 1, interval: 5, downInterval: 5), alpha: true)
        #expect(!a.up)
        #expect(a.record(passed: true) == (true, 5))
    }

    @Test func nannyOneFailureOutReentryPassesBack() {
        // reentry 15 / timeout 6 → 2 passes; the very first pass adds at once.
        var n = CheckerState(.nanny(passesToReenter: 2, interval: 6), alpha: false)
        #expect(!n.up)
        #expect(n.record(passed: true).changed && n.up)
        #expect(n.record(passed: false).changed && !n.up)
        #expect(!n.record(passed: true).changed)
        #expect(n.record(passed: true).changed && n.up)
        // A failed first probe forces the full count.
        var f = CheckerState(.nanny(passesToReenter: 3, interval: 2), alpha: false)
        _ = f.record(passed: false)
        _ = f.record(passed: true); _ = f.record(passed: true)
        #expect(!f.up)
        _ = f.record(passed: true)
        #expect(f.up)
    }

    @Test func ldirectordFailureCountAndOneSuccess() {
        var l = CheckerState(.ldirectord(failureCount: 3, interval: 10, combinedConnects: nil), alpha: false)
        #expect(!l.up)
        #expect(l.record(passed: true).changed)
        _ = l.record(passed: false); _ = l.record(passed: false)
        #expect(l.up)   // soft failures 1/3, 2/3
        #expect(l.record(passed: false).changed && !l.up)
        #expect(l.record(passed: true).changed && l.up)
        // Combined: negotiate, then N connects, then negotiate; a failure makes the next a negotiate.
        var c = CheckerState(.ldirectord(failureCount: 1, interval: 10, combinedConnects: 2), alpha: false)
        #expect(c.nextIsNegotiate)
        _ = c.record(passed: true)
        #expect(!c.nextIsNegotiate)
        _ = c.record(passed: true)
        #expect(!c.nextIsNegotiate)
        _ = c.record(passed: true)
        #expect(c.nextIsNegotiate)
    }

    @Test func ldirectordForcedDownIgnoresFailurecount() {
        var c = CheckerState(.ldirectord(failureCount: 5, interval: 2, combinedConnects: nil), alpha: false)
        _ = c.record(passed: true)
        #expect(c.up)
        let (changed, next) = c.forceDown()
        #expect(changed && !c.up && next == 2)
        #expect(c.record(passed: true).changed && c.up)   // one success brings it back
    }

    @Test func nannySlowStartAndQuiesce() throws {
        let cfg = try config(.lvs, """
            primary = 10.0.0.1
            virtual v {
                active = 1
                address = 192.0.2.1 eth0
                port = 81
                timeout = 5
                reentry = 10
                quiesce_server = 1
                server s {
                    address = 10.0.0.11
                    active = 1
                    weight = 64
                }
            }
            """)
        var svc = ServiceHealth(cfg.services[0], format: .lvs, now: 0)
        #expect(svc.desired().isEmpty)   // never up yet: not listed even with quiesce
        _ = svc.record(server: 0, checker: 0, passed: true, now: 5)
        #expect(svc.desired()["10.0.0.11:81"]?.weight == 2)   // 64 >> 5
        // ⌊20/5⌋ = 4: doubling whenever nanny's pass counter (which started at C = 2) is a multiple of 4.
        var weights: [Int64] = []
        for t in 2...9 { _ = svc.record(server: 0, checker: 0, passed: true, now: Double(t * 5)); weights.append(svc.servers[0].weight) }
        #expect(weights == [4, 4, 4, 4, 8, 8, 8, 8])
        _ = svc.record(server: 0, checker: 0, passed: false, reason: "connect refused", now: 50)
        #expect(svc.desired()["10.0.0.11:81"]?.weight == 0)   // quiesced, still listed
        #expect(svc.servers[0].lastFailure?.reason == "connect refused")
    }

    @Test func nannyLoadMonitorAfterSlowStart() throws {
        let cfg = try config(.lvs, """
            primary = 10.0.0.1
            rsh_command = ssh
            virtual v {
                active = 1
                address = 192.0.2.1 eth0
                port = 81
                timeout = 10
                reentry = 10
                load_monitor = uptime
                server s {
                    address = 10.0.0.11
                    active = 1
                    weight = 2
                }
            }
            """)
        // uptime = rsh_command RIP uptime.
        #expect(cfg.services[0].realServers[0].loadMonitor == ["ssh", "10.0.0.11", "uptime"])
        var svc = ServiceHealth(cfg.services[0], format: .lvs, now: 0)
        _ = svc.record(server: 0, checker: 0, passed: true, now: 10)
        #expect(svc.servers[0].weight == 1 && !svc.servers[0].loadDue)   // max(1, 2 >> 5)
        // ⌊20/10⌋ = 2: at every even pass counter (it started at C = 1, the first pass made it 2)
        // the weight doubles to W = 2, and once there the server's load is asked instead.
        var due: [Bool] = [], weights: [Int64] = []
        for t in 2...5 {
            _ = svc.record(server: 0, checker: 0, passed: true, now: Double(t * 10))
            due.append(svc.servers[0].loadDue); weights.append(svc.servers[0].weight)
        }
        #expect(weights == [1, 2, 2, 2] && due == [false, false, false, true])
        // load 0.0: cur + (W/2)·∛1 = 3, a change ≥ W/4 — applied; the alive weight follows.
        let idle = svc.applyLoad(server: 0, load: 0.0)
        #expect(idle && svc.servers[0].weight == 3 && svc.aliveWeight == 3)
        #expect(!svc.servers[0].loadDue)
        // An unknown load leaves the weight; a load above 1 lowers it, never below W.
        let unknown = svc.applyLoad(server: 0, load: nil)
        let busy = svc.applyLoad(server: 0, load: 9)
        #expect(!unknown && busy && svc.servers[0].weight == 2)
    }

    @Test func nannyReadsTheLoadAfterTheFirstLoadColon() {
        #expect(ServerHealth.load(from: " 10:41:07 up 3 days,  2 users,  load average: 0.52, 0.58, 0.59\n") == 0.52)
        #expect(ServerHealth.load(from: "rs1   up  3 days, load average: 1.50, 1.00, 0.90") == 1.5)
        #expect(ServerHealth.load(from: "no figure here") == nil)
    }

    @Test func keepalivedQuorumAndSorryServer() throws {
        let cfg = try config(.keepalived, """
            virtual_server 192.0.2.1 80 {
                protocol TCP
                quorum 3
                hysteresis 1
                sorry_server 127.0.0.1 8080
                real_server 10.0.0.1 80 { weight 2
                    TCP_CHECK { } }
                real_server 10.0.0.2 80 { weight 2
                    inhibit_on_failure
                    TCP_CHECK { } }
            }
            """)
        var svc = ServiceHealth(cfg.services[0], format: .keepalived, now: 0)
        #expect(svc.quorumUp)   // 4 ≥ 3 + 1
        let full = svc.desired()
        #expect(full.keys.sorted() == ["10.0.0.1:80", "10.0.0.2:80"])
        _ = svc.record(server: 1, checker: 0, passed: false, now: 1)
        #expect(svc.updateQuorum() == nil)   // 2 is not below 3 − 1
        #expect(svc.desired()["10.0.0.2:80"]?.weight == 0)
        _ = svc.record(server: 0, checker: 0, passed: false, now: 2)
        #expect(svc.updateQuorum() == false)
        let sorry = svc.desired()
        #expect(sorry["127.0.0.1:8080"]?.weight == 1 && sorry["10.0.0.1:80"] == nil)
        let cmds = svc.commands(from: full, to: sorry)
        #expect(cmds == [["-e", "-t", "192.0.2.1:80", "-r", "10.0.0.2:80", "-m", "-w", "0"],
                         ["-a", "-t", "192.0.2.1:80", "-r", "127.0.0.1:8080", "-m", "-w", "1"],
                         ["-d", "-t", "192.0.2.1:80", "-r", "10.0.0.1:80"]])
        // Back: gained at ≥ quorum + hysteresis only.
        _ = svc.record(server: 0, checker: 0, passed: true, now: 3)
        #expect(svc.updateQuorum() == nil)
        _ = svc.record(server: 1, checker: 0, passed: true, now: 4)
        #expect(svc.updateQuorum() == true)
        #expect(svc.desired() == full)
    }

    @Test func ldirectordFallbackWhenNoRealIsUp() throws {
        let cfg = try config(.ldirectord, "virtual=192.0.2.1:80\n    real=10.0.0.1:80 gate\n    fallback=127.0.0.1:80\n")
        var svc = ServiceHealth(cfg.services[0], format: .ldirectord, now: 0)
        #expect(!svc.quorumUp && svc.desired().keys.sorted() == ["127.0.0.1:80"])
        _ = svc.record(server: 0, checker: 0, passed: true, now: 1)
        #expect(svc.updateQuorum() == true)
        #expect(svc.desired().keys.sorted() == ["10.0.0.1:80"])
    }
}
