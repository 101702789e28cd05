import Testing
@testable import UVSEngine
import UVSPacket

/// Expiry follows the connection's current timeout, earlier or later than the one its
/// timer was armed with (the kernel re-arms with mod_timer on every packet).
struct ExpiryTests {
    static let rules = """
        -A -t 192.0.2.100:80 -s rr
        -a -t 192.0.2.100:80 -r 198.51.100.11 -g
        """

    @Test func shorterTimeoutAfterEstablishedExpiresOnTime() throws {
        let lab = try Lab(Self.rules)
        lab.send(Frames.tcp("203.0.113.1", 40000, "192.0.2.100", 80, flags: 0x02))
        lab.send(Frames.tcp("203.0.113.1", 40000, "192.0.2.100", 80, flags: 0x10))
        lab.wait(Time.seconds(5))                 // past the first timer (3 s): re-armed to 900 s
        #expect(lab.engine.conns.count == 1)
        lab.send(Frames.tcp("203.0.113.1", 40000, "192.0.2.100", 80, flags: 0x04))   // RST: CLOSE, 10 s
        lab.wait(Time.seconds(9))
        #expect(lab.engine.conns.count == 1)
        lab.wait(Time.seconds(2))
        #expect(lab.engine.conns.count == 0)
        // The timer armed for 900 s is stale: dropped when it comes up, nothing re-armed.
        #expect(lab.engine.conns.timers.count == 1)
        lab.wait(Time.seconds(1000))
        #expect(lab.engine.conns.timers.count == 0)
    }

    /// A new connection sent on the fast path arms one timer, at its SYN_RECV expiry (the
    /// first frame takes the full path: it starts the estimators).
    @Test func newConnectionArmsOneTimer() throws {
        let lab = try Lab(Self.rules)
        lab.send(Frames.tcp("203.0.113.1", 40000, "192.0.2.100", 80, flags: 0x02))
        lab.send(Frames.tcp("203.0.113.2", 40000, "192.0.2.100", 80, flags: 0x02))
        let expiries = lab.engine.conns.timers.items.map(\.expires)
        #expect(expiries.count == 2)
        #expect(expiries.contains(lab.now + Time.seconds(60)) && !expiries.contains(lab.now + Time.seconds(3)))
    }

    @Test func synReceivedLastsItsTimeout() throws {
        let lab = try Lab(Self.rules)
        lab.send(Frames.tcp("203.0.113.1", 40000, "192.0.2.100", 80, flags: 0x02))   // SYN_RECV: 60 s
        lab.wait(Time.seconds(59))
        #expect(lab.engine.conns.count == 1)
        lab.wait(Time.seconds(2))
        #expect(lab.engine.conns.count == 0)
    }

    /// Expiries moved earlier again and again leave stale timers behind; when they fill the
    /// heap's reserved room they are swept out instead of the heap growing, and every entry
    /// still expires at its own time.
    @Test func staleTimersAreSweptNotGrown() {
        var t = ConnectionTable(initialCapacity: 16, limit: 16)
        let room = t.timers.capacity
        var slots: [Int32] = []
        for i in 0..<8 {
            var c = Connection()
            c.proto = 6; c.caddr = IPAddr(v4: 0x0A00_0000 + UInt32(i)); c.cport = 1000
            c.timeoutMs = 900_000; c.expires = Time.seconds(900)
            slots.append(t.insert(c))
        }
        // Each round moves every expiry 1 s earlier: a new timer each, the old one stale.
        for round in 1...40 {
            for s in slots { t[s].expires = Time.seconds(900 - round) }
            #expect(t.timers.capacity == room)
        }
        #expect(t.timers.count <= room)
        #expect(t.nextExpired(now: Time.seconds(859)) == nil)
        var due: [Int32] = []
        while let (s, at) = t.nextExpired(now: Time.seconds(860)) {
            #expect(at == Time.seconds(860))
            due.append(s)
            t.remove(s)
        }
        #expect(due.sorted() == slots.sorted())
        #expect(t.nextExpired(now: Time.seconds(2000)) == nil && t.timers.count == 0)
    }
}
