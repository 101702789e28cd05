/// When a director announces its VIPs (gratuitous ARP / unsolicited NA, spec §2.4): `batches`
/// batches `batchInterval` apart, each `rounds` rounds of one frame per address, then, while
/// master, `refreshRounds` rounds every `refresh`. Pure: times in µs.
public struct GARPSchedule: Sendable, Equatable {
    public var rounds: Int
    public var batches: Int
    public var batchInterval: Int64
    public var refresh: Int64 = 0
    public var refreshRounds = 1

    public init(rounds: Int, batches: Int, batchInterval: Int64, refresh: Int64 = 0, refreshRounds: Int = 1) {
        self.rounds = rounds; self.batches = batches; self.batchInterval = batchInterval
        self.refresh = refresh; self.refreshRounds = refreshRounds
    }

    /// keepalived: garp_master_repeat rounds now and again after garp_master_delay (no second
    /// batch when the delay is 0), then garp_master_refresh_repeat every garp_master_refresh.
    public static func keepalived(delay: Int64, repeatCount: Int, refresh: Int64 = 0, refreshRepeat: Int = 1) -> GARPSchedule {
        GARPSchedule(rounds: repeatCount, batches: delay > 0 ? 2 : 1, batchInterval: delay, refresh: refresh, refreshRounds: refreshRepeat)
    }

    /// piranha pulse: send_arp 5 times, 1 s apart.
    public static let pulse = GARPSchedule(rounds: 1, batches: 5, batchInterval: 1_000_000)

    /// The batches of an announcement starting at `start`.
    public func batchTimes(from start: Int64) -> [Int64] {
        (0..<max(1, batches)).map { start + Int64($0) * batchInterval }
    }
}
