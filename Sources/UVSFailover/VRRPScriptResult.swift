/// A vrrp_script's verdict from its exit statuses (keepalived's rise/fall counting): up
/// after `rise` consecutive successes, down after `fall` consecutive failures; a script
/// that has not finished once is unknown (nil) unless `init_fail` starts it down. Its first
/// result decides at once, as keepalived leaves SCRIPT_INIT_STATE_INIT on the first exit.
public struct VRRPScriptResult: Sendable, Equatable {
    public let rise: Int
    public let fall: Int
    public private(set) var up: Bool?
    var successes = 0
    var failures = 0

    public init(rise: Int = 1, fall: Int = 1, initFail: Bool = false) {
        self.rise = max(1, rise); self.fall = max(1, fall)
        up = initFail ? false : nil
    }

    /// One run's outcome (exit 0 = success; a timeout or a signal is a failure). Returns
    /// true when the verdict changed.
    public mutating func record(success: Bool) -> Bool {
        let before = up
        if success {
            successes += 1; failures = 0
            if up == nil || successes >= rise { up = true }
        } else {
            failures += 1; successes = 0
            if up == nil || failures >= fall { up = false }
        }
        return up != before
    }
}
