import Testing
import UVSControl
@testable import UVSEngine
import UVSPacket

/// Connection synchronisation cases the oracle fixtures (sync-master*, sync-backup) do not
/// reach: the sync_threshold vector, maxlen smaller than an entry, the queue limit, a
/// postponed template, and a master→backup round trip through the wire format.
struct SyncTests {
    static let rules = """
    -A -t 192.0.2.100:80 -s rr
    -a -t 192.0.2.100:80 -r 198.51.100.11:80 -g
    -a -t 192.0.2.100:80 -r 198.51.100.12:80 -g
    -A -t 192.0.2.100:443 -s rr -p 100
    -a -t 192.0.2.100:443 -r 198.51.100.13:443 -g
    """

    func lab(_ sysctls: [String] = [], maxlen: Int = 0) throws -> Lab {
        let l = try Lab(Self.rules, sysctls: sysctls)
        var d = SyncDaemonConfig(role: .master)
        d.interface = "eth1"
        d.syncID = 3
        d.maxlen = maxlen
        try l.engine.startSyncDaemon(d, link: SyncLink(mtu: 1500, hasIPv4: true, hasIPv6: false))
        return l
    }

    /// A master after `flows` established connections from port 3000 on and a persistent
    /// one from port 4000, with its messages (the last one flushed).
    func masterAfter(flows: Int) throws -> (Lab, [[UInt8]]) {
        let master = try lab()
        for p in 0..<flows { flow(master, UInt16(3000 + p), packets: 3) }
        flow(master, 4000, packets: 3, vport: 443)
        master.engine.advance(to: master.now + SyncMaster.flushAge)
        return (master, messages(master))
    }

    func backupLab() throws -> Lab {
        let backup = try Lab(Self.rules)
        try backup.engine.startSyncDaemon(SyncDaemonConfig(role: .backup), link: SyncLink(mtu: 1500, hasIPv4: true, hasIPv6: false))
        return backup
    }

    func messages(_ l: Lab) -> [[UInt8]] {
        var out: [[UInt8]] = []
        l.engine.takeSyncMessages { out.append(Array($0)) }
        return out
    }

    /// Sends one established flow of `n` packets from client port `port`.
    func flow(_ l: Lab, _ port: UInt16, packets n: Int, vport: UInt16 = 80) {
        l.send(Frames.tcp("203.0.113.1", port, "192.0.2.100", vport, flags: 0x02))
        for _ in 1..<n { l.send(Frames.tcp("203.0.113.1", port, "192.0.2.100", vport, flags: 0x10, payload: 5)) }
    }

    func entries(_ msgs: [[UInt8]]) -> [SyncEntry] {
        var r: [SyncEntry] = []
        for m in msgs { m.withUnsafeBytes { SyncMessage.read($0, syncID: 0, entry: { r.append($0) }, rejected: { _ in }) } }
        return r
    }

    @Test func thresholdAndPeriod() throws {
        // Default "3 50": packets 3, 53, 103 of an established connection.
        let l = try lab()
        flow(l, 1000, packets: 110)
        l.engine.advance(to: l.now + SyncMaster.flushAge)
        #expect(entries(messages(l)).count == 3)
        // "2 0": once, at packet 2.
        let once = try lab(["sync_threshold=2 0"])
        flow(once, 1000, packets: 110)
        once.engine.advance(to: once.now + SyncMaster.flushAge)
        #expect(entries(messages(once)).count == 1)
        var s = Sysctls()
        #expect(throws: Sysctls.SetError.self) { try s.set("sync_threshold=50 50") }
        #expect(throws: Sysctls.SetError.self) { try s.set("sync_threshold=3") }
        try s.set("sync_threshold=4 0")
        #expect(s.value(of: "sync_threshold") == "4\t0")
    }

    @Test func partialMessageWaitsTwoSeconds() throws {
        let l = try lab()
        flow(l, 1000, packets: 3)
        #expect(messages(l).isEmpty)
        l.engine.advance(to: l.now + SyncMaster.flushAge - Time.millisecond)
        #expect(messages(l).isEmpty)
        l.engine.advance(to: l.now + SyncMaster.flushAge)
        let m = messages(l)
        #expect(m.count == 1 && m[0].count == 8 + 36 && m[0][1] == 3 && m[0][4] == 1 && m[0][5] == 1)
    }

    @Test func tinyMaxlenCarriesOneEntryEach() throws {
        // sync-maxlen 1: each buffer is made big enough for the one entry it starts with.
        let l = try lab(maxlen: 1)
        #expect(l.engine.syncDaemons[0].maxlen == 1)
        flow(l, 1000, packets: 3)
        flow(l, 1001, packets: 3)
        l.engine.advance(to: l.now + SyncMaster.flushAge)
        #expect(messages(l).map(\.count) == [44, 44])
    }

    @Test func fullQueueDiscardsAndCounts() throws {
        // Nobody drains: the queue fills, later messages are discarded (sync_qlen_max).
        let l = try lab(maxlen: 1)
        let capacity = l.engine.syncMaster!.capacity
        for p in 0..<(capacity + 5) { flow(l, UInt16(2000 + p), packets: 3) }
        #expect(l.engine.syncMaster!.queued == capacity)
        #expect(l.engine.syncMaster!.discarded >= 4)
        #expect(messages(l).count == capacity)
    }

    @Test func postponedTemplateIsSent() throws {
        // A persistence template that expires while it controls a connection is postponed by
        // 60 s, and the master sends it with the threshold count (ip_vs_conn_expire).
        let l = try lab()
        flow(l, 1000, packets: 3, vport: 443)
        l.engine.advance(to: l.now + SyncMaster.flushAge)
        let before = entries(messages(l))
        #expect(before.filter { $0.flags & ConnFlags.template != 0 }.count == 3)
        l.engine.advance(to: l.now + Time.seconds(101))
        l.engine.advance(to: l.now + Time.seconds(104))
        let after = entries(messages(l))
        #expect(after.count == 1 && after[0].flags & ConnFlags.template != 0 && after[0].timeout == 60)
    }

    @Test func garbageIsCountedNeverFatal() throws {
        // Datagrams from the network: random bytes, and valid messages with bytes flipped or
        // cut short, into a running backup. Nothing may trap; what is taken is consistent.
        let (_, valid) = try masterAfter(flows: 45)
        let backup = try backupLab()
        var rng = SplitMix64(seed: 99)
        for round in 0..<3000 {
            var m: [UInt8]
            if round % 3 == 0 {
                m = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if m.count >= 8 && round % 2 == 0 {
                    // plausible headers: right size, version 1
                    m[0] = 0; m[2] = UInt8(m.count >> 8); m[3] = UInt8(m.count & 0xFF); m[5] = 1; m[6] = 0; m[7] = 0
                }
            } else {
                m = valid[Int(rng.next() % UInt64(valid.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) { m[Int(rng.next() % UInt64(m.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                if round % 5 == 0 { m = Array(m.prefix(Int(rng.next() % UInt64(m.count)))) }
            }
            backup.now += Time.millisecond
            m.withUnsafeBytes { backup.engine.receiveSync($0, at: backup.now) }
        }
        #expect(backup.engine.syncBackup.messages == 3000)
        #expect(backup.engine.syncBackup.rejected > 0)
        // Counters stay consistent with the table: every bound connection is counted once.
        var active = 0, inactive = 0
        for slot in backup.engine.conns.liveSlots() {
            let c = backup.engine.conns[slot]
            guard c.dest >= 0, !c.isTemplate else { continue }
            if c.flags & ConnFlags.inactive != 0 { inactive += 1 } else { active += 1 }
        }
        #expect(active == backup.engine.dests.reduce(0) { $0 + Int($1.activeConns) })
        #expect(inactive == backup.engine.dests.reduce(0) { $0 + Int($1.inactiveConns) })
    }

    @Test func backupTakesWhatTheMasterSent() throws {
        let (master, msgs) = try masterAfter(flows: 50)
        #expect(msgs.count == 2)    // 40 entries fill a 1472-byte message
        let backup = try backupLab()
        for m in msgs { m.withUnsafeBytes { backup.engine.receiveSync($0, at: backup.now) } }
        #expect(backup.engine.syncBackup.entries == 54 && backup.engine.syncBackup.rejected == 0)
        var o = ListOptions()
        o.connections = true
        o.numeric = true
        let rows = { (e: Engine) in Set(Listing.connections(e, o).split(separator: "\n").dropFirst(2).map { String($0.prefix(3) + $0.dropFirst(10)) }) }
        #expect(rows(backup.engine) == rows(master.engine))
        // The synced connections carry on at the backup: same real server as the master chose.
        let (_, out) = backup.send(Frames.tcp("203.0.113.1", 3001, "192.0.2.100", 80, flags: 0x10, payload: 5))
        let (_, want) = master.send(Frames.tcp("203.0.113.1", 3001, "192.0.2.100", 80, flags: 0x10, payload: 5))
        #expect(out.count == 1 && out[0].bytes == want[0].bytes)
    }
}
