import Testing
import UVSFailover
import UVSPacket

/// keepalived's VRRP timers and transitions (spec §1.7–1.8).
struct VRRPInstanceTests {
    let me = IPAddr("192.168.1.10")!, peerLow = IPAddr("192.168.1.9")!, peerHigh = IPAddr("192.168.1.11")!
    let vip = IPAddr("192.168.200.16")!

    func instance(_ p: UInt8, master: Bool = false, v3: Bool = false, nopreempt: Bool = false, delay: Int64 = 0) -> VRRPInstance {
        var c = VRRPInstance.Config(ownAddress: me)
        c.priority = p; c.wantMaster = master; c.nopreempt = nopreempt; c.preemptDelay = delay
        if v3 { c.version = .v3 }
        return VRRPInstance(c)
    }
    func advert(_ p: UInt8, v3: Bool = false, cs: UInt16 = 100) -> VRRPAdvert {
        VRRPAdvert(version: v3 ? .v3 : .v2, vrid: 51, priority: p, interval: v3 ? cs : 1, addresses: [vip])
    }

    @Test func masterDownIntervalsAtOneSecond() {
        // The spec's table: p=1 → 3.996093, 50 → 3.804687, 100 → 3.609375, 150 → 3.414062,
        // 200 → 3.218750, 254 → 3.007812, 255 → 3.003906 s (µs, truncated).
        let want: [(UInt8, Int64)] = [(1, 3_996_093), (50, 3_804_687), (100, 3_609_375), (150, 3_414_062),
                                      (200, 3_218_750), (254, 3_007_812), (255, 3_003_906)]
        for (p, us) in want {
            #expect(instance(p).masterDownInterval == us, "priority \(p)")
            #expect(instance(p, v3: true).masterDownInterval == us, "v3 priority \(p)")
        }
    }

    @Test func startUp() {
        var owner = instance(255, master: true)
        _ = owner.start(now: 0)
        #expect(owner.deadline == 1)
        #expect(owner.timerExpired(now: 1) == [.advertise(priority: 255), .takeOver, .entered(.master)] && owner.state == .master)
        var wants = instance(150, master: true)
        _ = wants.start(now: 0)
        #expect(wants.deadline == 1_000_000 + 996_093)   // one interval + skew(1)
        var backup = instance(100)
        _ = backup.start(now: 0)
        #expect(backup.state == .backup && backup.deadline == 3_609_375)
    }

    @Test func backupFollowsDiscardsAndPreempts() {
        var b = instance(100)
        _ = b.start(now: 0)
        _ = b.received(advert(150), from: peerHigh, now: 1_000_000)
        #expect(b.deadline == 1_000_000 + 3_609_375 && b.master?.priority == 150)
        // Equal priority is followed without comparing addresses.
        _ = b.received(advert(100), from: peerLow, now: 2_000_000)
        #expect(b.deadline == 2_000_000 + 3_609_375)
        // Lower: discarded, the timer keeps running, and its expiry is the preemption.
        _ = b.received(advert(50), from: peerLow, now: 3_000_000)
        #expect(b.deadline == 2_000_000 + 3_609_375)
        #expect(b.timerExpired(now: b.deadline) == [.advertise(priority: 100), .takeOver, .entered(.master)])
        // nopreempt follows the lower master.
        var n = instance(100, nopreempt: true)
        _ = n.start(now: 0)
        _ = n.received(advert(50), from: peerLow, now: 1_000_000)
        #expect(n.deadline == 1_000_000 + 3_609_375)
        // Priority 0: skew only.
        _ = n.received(advert(0), from: peerLow, now: 2_000_000)
        #expect(n.deadline == 2_000_000 + 609_375)
    }

    @Test func preemptDelayWindow() {
        var b = instance(100, delay: 5_000_000)
        _ = b.start(now: 0)
        _ = b.received(advert(50), from: peerLow, now: 1_000_000)   // opens the window: followed
        #expect(b.deadline == 1_000_000 + 3_609_375)
        _ = b.received(advert(50), from: peerLow, now: 4_000_000)
        #expect(b.deadline == 4_000_000 + 3_609_375)
        _ = b.received(advert(50), from: peerLow, now: 6_500_000)   // window over: discarded
        #expect(b.deadline == 4_000_000 + 3_609_375)
    }

    @Test func masterTieBreakAndResignation() {
        var m = instance(100, master: true)
        _ = m.start(now: 0)
        _ = m.timerExpired(now: m.deadline)
        #expect(m.state == .master)
        // Equal priority from a lower address: stay master, advertise at once.
        #expect(m.received(advert(100), from: peerLow, now: 3_000_000) == [.advertise(priority: 100), .reannounce] && m.state == .master)
        // Priority 0 from a resigning peer: advertise at once.
        #expect(m.received(advert(0), from: peerLow, now: 3_100_000) == [.advertise(priority: 100)])
        // Equal priority from a higher address: back off, release the VIPs, no priority-0 advert.
        #expect(m.received(advert(100), from: peerHigh, now: 3_200_000) == [.release, .entered(.backup)] && m.state == .backup)
        #expect(m.master?.address == peerHigh)
        // A master stopping resigns.
        var s = instance(255, master: true)
        _ = s.start(now: 0); _ = s.timerExpired(now: 1)
        #expect(s.stop() == [.advertise(priority: 0), .release])
        var quiet = instance(100)
        _ = quiet.start(now: 0)
        #expect(quiet.stop().isEmpty)
    }

    @Test func v3AdoptsTheMastersInterval() {
        var b = instance(100, v3: true)
        _ = b.start(now: 0)
        _ = b.received(advert(200, v3: true, cs: 50), from: peerHigh, now: 0)
        #expect(b.masterAdverInterval == 500_000)
        // 3 × 0.5 s + (156 × 50 × 625 / 16) µs
        #expect(b.deadline == 1_500_000 + 156 * 50 * 625 / 16)
        _ = b.timerExpired(now: b.deadline)
        #expect(b.state == .master && b.masterAdverInterval == 1_000_000)   // a new master returns to its own
    }

    @Test func trackersMoveThePriorityAndTheTimer() {
        var b = instance(100)
        _ = b.start(now: 0)
        b.setPriority(150)
        // The running master-down timer moves by the change in skew (3.609375 → 3.414062 s).
        #expect(b.priority == 150 && b.deadline == 3_414_062)
        var owner = instance(255, master: true)
        owner.setPriority(200)
        #expect(owner.priority == 255)
    }

    @Test func faultResignsAndLeavingItRestarts() {
        var m = instance(100, master: true)
        _ = m.start(now: 0)
        _ = m.timerExpired(now: m.deadline)
        #expect(m.enterFault() == [.advertise(priority: 0), .release, .entered(.fault)] && m.deadline == .max)
        #expect(m.received(advert(200), from: peerHigh, now: 5_000_000).isEmpty && m.state == .fault)
        #expect(m.leaveFault(now: 10_000_000) == [.entered(.backup)] && m.deadline == 10_000_000 + 1_000_000 + 996_093)
        var b = instance(100)
        _ = b.start(now: 0)
        #expect(b.enterFault() == [.entered(.fault)])
    }

    @Test func lowerPriorityAnswersUnlessToldNot() {
        var c = VRRPInstance.Config(ownAddress: me)
        c.priority = 200; c.wantMaster = true; c.lowerPrioNoAdvert = true; c.higherPrioSendAdvert = true
        var m = VRRPInstance(c)
        _ = m.start(now: 0)
        _ = m.timerExpired(now: m.deadline)
        #expect(m.received(advert(100), from: peerHigh, now: 2_000_000) == [.reannounce])
        #expect(m.received(advert(250), from: peerLow, now: 2_100_000) == [.advertise(priority: 200), .release, .entered(.backup)])
    }
}
