import Testing
import UVSFailover
import UVSPacket

/// piranha pulse's heartbeat and decisions (spec §3.3–3.4).
struct PulseTests {
    let primary = IPAddr("10.10.1.11")!, backup = IPAddr("10.10.1.12")!

    @Test func magicsInHostByteOrder() {
        #expect(PulseHeartbeat.lvsActive.bytes == [0xda, 0xdb, 0xad, 0xbd])
        #expect(PulseHeartbeat.state(active: false, fos: false) == .lvsInactive)
        #expect(PulseHeartbeat.state(active: true, fos: true) == .fosActive)
        #expect(PulseHeartbeat.decode([0xbd, 0xda, 0xbd, 0xad], from: backup, partner: [backup]) == .success(.lvsInactive))
        #expect(PulseHeartbeat.decode([0xda, 0xdb, 0xad, 0xbd], from: IPAddr("10.10.1.99")!, partner: [backup]) == .failure(.unexpectedSource))
        #expect(PulseHeartbeat.decode([0xda, 0xdb, 0xad], from: backup, partner: [backup]) == .failure(.badLength))
        #expect(PulseHeartbeat.decode([1, 2, 3, 4], from: backup, partner: [backup]) == .failure(.unknownMagic))
    }

    @Test func coldStartBothUp() {
        var m = PulseNode(isPrimary: true, keepalive: 3, deadtime: 6, now: 0)
        var b = PulseNode(isPrimary: false, keepalive: 3, deadtime: 6, now: 0)
        #expect(m.tick(now: 0) == [.send(.lvsInactive)] && b.tick(now: 0) == [.send(.lvsInactive)])
        // The master activates on the backup's first "stopped"; the backup stays inactive.
        #expect(m.received(.lvsInactive, now: 0.1) == [.activate(reason: "partner inactive: activating lvs")])
        #expect(b.received(.lvsInactive, now: 0.1).isEmpty)
        #expect(m.tick(now: 3) == [.send(.lvsActive)])
        #expect(b.received(.lvsActive, now: 3.1).isEmpty && !b.active)
    }

    @Test func partnerDeadAfterDeadtimeAndBothActiveResolves() {
        var b = PulseNode(isPrimary: false, keepalive: 3, deadtime: 6, now: 0)
        _ = b.tick(now: 0)
        _ = b.received(.lvsActive, now: 1)
        #expect(b.tick(now: 3) == [.send(.lvsInactive)])
        // Silence from 1 s: dead at 7 s, not before.
        #expect(b.tick(now: 6.9) == [.send(.lvsInactive)] && !b.active)
        #expect(b.tick(now: 7) == [.activate(reason: "partner dead: activating lvs")] && b.active)
        // The master comes back active: the backup yields; the master, hearing the backup active, re-announces.
        #expect(b.received(.lvsActive, now: 8) == [.deactivate(reason: "partner active: deactivating lvs")] && !b.active)
        var m = PulseNode(isPrimary: true, keepalive: 3, deadtime: 6, now: 0)
        _ = m.received(.lvsInactive, now: 0)
        #expect(m.received(.lvsActive, now: 1) == [.reannounce] && m.active)
        #expect(m.stop() == [.deactivate(reason: "shutting down")])
    }
}
