/// track_interface / track_script verdicts turned into an instance's effective priority and
/// FAULT, as keepalived's vrrp_track.c computes them: a weighted tracker adds its weight
/// (× −1 with `reverse`) while up if the weight is positive, while down if it is negative;
/// a weight-0 tracker puts the instance in FAULT while down (while up with `reverse`). The
/// sum moves the priority within 1…254 and never touches a configured 255.
public struct VRRPTracker: Sendable, Equatable {
    public var weight: Int
    public var reverse: Bool
    /// nil: a script that has not finished once yet (keepalived's INIT): it neither adds
    /// nor faults, but keeps a weight-0 tracked instance from leaving INIT.
    public var up: Bool?
    public init(weight: Int = 0, reverse: Bool = false, up: Bool? = true) {
        self.weight = weight; self.reverse = reverse; self.up = up
    }

    var contribution: Int {
        guard let up, weight != 0 else { return 0 }
        return (up && weight > 0) || (!up && weight < 0) ? weight * (reverse ? -1 : 1) : 0
    }

    var faults: Bool {
        guard let up, weight == 0 else { return false }
        return up == reverse
    }
}

public enum VRRPTracking {
    public struct Verdict: Sendable, Equatable {
        public var priority: UInt8
        public var fault: Bool
        /// A weight-0 script has no result yet: the instance waits in INIT.
        public var waiting: Bool
        public init(priority: UInt8, fault: Bool, waiting: Bool) {
            self.priority = priority; self.fault = fault; self.waiting = waiting
        }
    }

    public static func evaluate(base: UInt8, _ trackers: [VRRPTracker]) -> Verdict {
        let fault = trackers.contains(where: \.faults)
        let waiting = trackers.contains { $0.weight == 0 && $0.up == nil }
        guard base != 255 else { return Verdict(priority: 255, fault: fault, waiting: waiting) }
        let total = Int(base) + trackers.reduce(0) { $0 + $1.contribution }
        return Verdict(priority: UInt8(min(254, max(1, total))), fault: fault, waiting: waiting)
    }
}
