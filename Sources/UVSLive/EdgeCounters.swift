/// What the live edge counts besides the engine's own drops (by reason).
public struct EdgeCounters: Sendable {
    public var received: UInt64 = 0
    public var sent: UInt64 = 0
    /// Frames copied before sending (built by the engine, or by uvsd: not in the ring).
    public var staged: UInt64 = 0
    /// GRO/GSO super-packets cut back into wire-sized segments.
    public var segmented: UInt64 = 0
    /// Frames longer than the ring's frame slot (snaplen < length).
    public var truncated: UInt64 = 0
    /// Frames of another VLAN on a trunk (not ours).
    public var otherVLAN: UInt64 = 0
    public var arpReplies: UInt64 = 0
    public var neighbourAdvertisements: UInt64 = 0
    /// Frames held while their next hop was being resolved.
    public var neighbourQueued: UInt64 = 0
    /// Dropped: the per-neighbour queue was full.
    public var neighbourQueueFull: UInt64 = 0
    /// Dropped: the next hop did not answer ARP/ND in time.
    public var neighbourUnresolved: UInt64 = 0
    /// Transmission failures (sendmmsg) and kernel ring drops (PACKET_STATISTICS).
    public var transmitErrors: UInt64 = 0
    public var ringDrops: UInt64 = 0
    /// Sync master: messages sent, failed sends, and messages discarded on a full queue.
    public var syncSent: UInt64 = 0
    public var syncSendErrors: UInt64 = 0
    public var syncDiscarded: UInt64 = 0

    public init() {}

    public static func + (a: EdgeCounters, b: EdgeCounters) -> EdgeCounters {
        var r = a
        r.received &+= b.received; r.sent &+= b.sent; r.segmented &+= b.segmented; r.staged &+= b.staged; r.truncated &+= b.truncated; r.otherVLAN &+= b.otherVLAN
        r.arpReplies &+= b.arpReplies; r.neighbourAdvertisements &+= b.neighbourAdvertisements
        r.neighbourQueued &+= b.neighbourQueued; r.neighbourQueueFull &+= b.neighbourQueueFull
        r.neighbourUnresolved &+= b.neighbourUnresolved; r.transmitErrors &+= b.transmitErrors
        r.ringDrops &+= b.ringDrops
        r.syncSent &+= b.syncSent; r.syncSendErrors &+= b.syncSendErrors; r.syncDiscarded &+= b.syncDiscarded
        return r
    }

    /// Drop counters by name, as `uvsadm --drops` and the periodic log line show them.
    public var drops: [(String, UInt64)] {
        [("truncated-frame", truncated), ("other-vlan", otherVLAN), ("neighbour-queue-full", neighbourQueueFull),
         ("neighbour-unresolved", neighbourUnresolved), ("transmit-error", transmitErrors), ("ring-full", ringDrops),
         ("sync-send-error", syncSendErrors), ("sync-queue-full", syncDiscarded)]
    }
}
