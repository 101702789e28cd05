import Testing
import UVSFailover
import UVSPacket

/// Trackers, vrrp_script counting, sync groups and the GARP schedule (spec §1.8, §1.9, §2.4).
struct VRRPSystemTests {
    let me = IPAddr("192.168.1.10")!, peer = IPAddr("192.168.1.11")!
    let vip = IPAddr("192.168.200.16")!

    func instance(_ p: UInt8, master: Bool = false) -> VRRPInstance {
        var c = VRRPInstance.Config(ownAddress: me)
        c.priority = p; c.wantMaster = master
        return VRRPInstance(c)
    }

    @Test func trackerArithmeticAsKeepalived() {
        // weight > 0 adds while up, < 0 subtracts while down; reverse flips the sign.
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(weight: 20, up: true)]).priority == 120)
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(weight: 20, up: false)]).priority == 100)
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(weight: -30, up: false)]).priority == 70)
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(weight: -30, up: true)]).priority == 100)
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(weight: 20, reverse: true, up: true)]).priority == 80)
        // Clamped to 1…254; 255 never moves.
        #expect(VRRPTracking.evaluate(base: 250, [VRRPTracker(weight: 20, up: true)]).priority == 254)
        #expect(VRRPTracking.evaluate(base: 10, [VRRPTracker(weight: -30, up: false)]).priority == 1)
        #expect(VRRPTracking.evaluate(base: 255, [VRRPTracker(weight: -30, up: false)]).priority == 255)
        // Weight 0: FAULT while down (while up with reverse); unknown waits.
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(up: false)]).fault)
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(reverse: true, up: true)]).fault)
        #expect(VRRPTracking.evaluate(base: 100, [VRRPTracker(up: nil)]) == .init(priority: 100, fault: false, waiting: true))
    }

    @Test func scriptRiseAndFall() {
        var r = VRRPScriptResult(rise: 2, fall: 3)
        #expect(r.up == nil)
        #expect(r.record(success: true) && r.up == true)      // the first result decides
        #expect(!r.record(success: false) && !r.record(success: false) && r.up == true)
        #expect(r.record(success: false) && r.up == false)    // third failure
        #expect(!r.record(success: true) && r.record(success: true) && r.up == true)
        #expect(VRRPScriptResult(initFail: true).up == false)
    }

    @Test func aWeightZeroTrackerFaultsAndRecovers() {
        var s = VRRPSystem([instance(100, master: true)], trackers: [[VRRPTracker(up: true)]])
        _ = s.start(now: 0)
        _ = s.tick(now: s.deadline)
        #expect(s.instances[0].state == .master)
        let down = s.setTracker(instance: 0, tracker: 0, up: false, now: 5_000_000)
        #expect(down.map(\.action) == [.advertise(priority: 0), .release, .entered(.fault)])
        let up = s.setTracker(instance: 0, tracker: 0, up: true, now: 9_000_000)
        #expect(up.map(\.action) == [.entered(.backup)] && s.instances[0].state == .backup)
    }

    @Test func aScriptWithoutResultKeepsItsInstanceInInit() {
        var s = VRRPSystem([instance(100)], trackers: [[VRRPTracker(up: nil)]])
        #expect(s.start(now: 0).isEmpty && s.instances[0].state == .initialize)
        #expect(s.setTracker(instance: 0, tracker: 0, up: true, now: 2_000_000).map(\.action) == [.entered(.backup)])
        #expect(s.instances[0].deadline == 2_000_000 + 3_609_375)
    }

    @Test func syncGroupMovesTogether() {
        var s = VRRPSystem([instance(100), instance(100)], groups: [[0, 1]],
                           trackers: [[], [VRRPTracker(up: true)]])
        _ = s.start(now: 0)
        // Both timers expire together: the first waits for its partner, the second takes both.
        let events = s.tick(now: 3_609_375)
        #expect(s.instances.allSatisfy { $0.state == .master })
        #expect(events.filter { $0.action == .takeOver }.map(\.instance).sorted() == [0, 1])
        // One member hears a higher master: both go back.
        let adv = VRRPAdvert(version: .v2, vrid: 51, priority: 200, interval: 1, addresses: [vip])
        let back = s.received(adv, from: peer, instance: 0, now: 4_000_000)
        #expect(back.filter { $0.action == .release }.map(\.instance).sorted() == [0, 1])
        #expect(s.instances.allSatisfy { $0.state == .backup })
        // One member's tracker faults: the group faults.
        let fault = s.setTracker(instance: 1, tracker: 0, up: false, now: 5_000_000)
        #expect(fault.filter { $0.action == .entered(.fault) }.map(\.instance).sorted() == [0, 1])
    }

    @Test func garpBatches() {
        let k = GARPSchedule.keepalived(delay: 5_000_000, repeatCount: 5)
        #expect(k.rounds == 5 && k.batchTimes(from: 100) == [100, 5_000_100])
        #expect(GARPSchedule.keepalived(delay: 0, repeatCount: 3).batchTimes(from: 0) == [0])
        #expect(GARPSchedule.pulse.batchTimes(from: 0) == [0, 1_000_000, 2_000_000, 3_000_000, 4_000_000])
    }
}
