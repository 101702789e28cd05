/// How `uvsd run` was asked to run.
public struct DirectorOptions: Sendable {
    public var rulesPath: String
    /// Client-side link (the VIPs' side); with no server interface, the only one.
    public var interface: String
    public var serverInterface: String?
    public var workers = 1
    /// CPUs the workers are pinned to, in turn (nil: the process's allowed CPUs).
    public var workerCPUs: [Int]?
    public var marksPath: String?
    public var controlPath = "/run/uvsd.sock"
    /// Receive ring per worker and link: block size, block count, block timeout.
    public var ringBlockSize: UInt32 = 1 << 20
    public var ringBlocks: UInt32 = 16
    public var ringTimeoutMs: UInt32 = 2
    /// Connection-table slots allocated up front per worker (it grows beyond, up to the limit).
    public var connections = 1 << 18
    public var sysctls: [String] = []
    /// Created once every ring is bound and the workers run.
    public var readyFile: String?
    /// Seconds between the counters log lines (0 = never).
    public var statsInterval = 10
    /// Send straight to the driver (PACKET_QDISC_BYPASS), as fast AF_PACKET forwarders do;
    /// off: frames go through the qdisc (tc egress, shaping) and tcpdump on the director's
    /// own interfaces sees them.
    public var bypassQdisc = true
    /// Seconds a neighbour's MAC is trusted without hearing from it; then it is asked again,
    /// and forgotten if it does not answer within 3 s (the kernel's base_reachable_time).
    public var neighbourReachable = 30
    /// The rules as `ipvsadm -R` text, when they come from a configuration file (rulesPath
    /// then names that file in messages).
    public var rulesText: String?
    public init(rulesPath: String, interface: String) {
        self.rulesPath = rulesPath; self.interface = interface
    }
}
