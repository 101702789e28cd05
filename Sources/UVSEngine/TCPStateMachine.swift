/// IPVS connection states (spec §4). TCP uses 0...10; UDP has the single state NORMAL (0).
public enum TCPState: UInt8, CaseIterable, Sendable {
    case none = 0, established, synSent, synRecv, finWait, timeWait, close, closeWait, lastAck,
         listen, synAck

    public var name: String {
        switch self {
        case .none: "NONE"
        case .established: "ESTABLISHED"
        case .synSent: "SYN_SENT"
        case .synRecv: "SYN_RECV"
        case .finWait: "FIN_WAIT"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .listen: "LISTEN"
        case .synAck: "SYNACK"
        }
    }

    /// States counted in ActiveConn.
    @inlinable public var isActive: Bool { Self.activeMask >> rawValue & 1 != 0 }
    /// The same as a bit per state: ESTABLISHED, SYN_SENT, SYN_RECV, SYNACK.
    public static let activeMask: UInt16 = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 10
}

/// Direction of a packet relative to its connection.
public enum FlowDirection: Int, Sendable {
    /// client → server on a connection that has seen server → client packets (NAT)
    case input = 0
    /// server → client
    case output = 1
    /// client → server on a NOOUTPUT connection (DR, TUN, local)
    case inputOnly = 2
}

/// The TCP transition tables of spec §4.1, normal and secure_tcp.
public enum TCPStateMachine {
    /// Event index: rst 3, syn 0, fin 1, ack 2; nil = no flags (→ CLOSE).
    @inlinable public static func event(flags: UInt8) -> Int? {
        if flags & 0x04 != 0 { return 3 }
        if flags & 0x02 != 0 { return 0 }
        if flags & 0x01 != 0 { return 1 }
        if flags & 0x10 != 0 { return 2 }
        return nil
    }

    // Rows: [direction][event] → next state per current state (NO ES SS SR FW TW CL CW LA LI SA).
    private static let NO: UInt8 = 0, ES: UInt8 = 1, SS: UInt8 = 2, SR: UInt8 = 3, FW: UInt8 = 4,
        TW: UInt8 = 5, CL: UInt8 = 6, CW: UInt8 = 7, LA: UInt8 = 8, LI: UInt8 = 9, SA: UInt8 = 10

    /// Flattened [table(2)][direction(3)][event(4)][state(11)].
    @usableFromInline static let tables: [UInt8] = {
        let normal: [[[UInt8]]] = [
            // INPUT
            [[SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
             [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
             [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
             [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR]],
            // OUTPUT
            [[SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
             [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
             [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
             [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL]],
            // INPUT-ONLY
            [[SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
             [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
             [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
             [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL]],
        ]
        var secure = normal
        // INPUT: syn@SA → SA; fin@SA → SA; ack@SR → SR; ack@SA → SA; rst@SA → CL.
        secure[0][0][10] = SA; secure[0][1][10] = SA; secure[0][2][3] = SR; secure[0][2][10] = SA
        secure[0][3][10] = CL
        // OUTPUT: syn@SR → SA; syn@SA → SA.
        secure[1][0][3] = SA; secure[1][0][10] = SA
        // INPUT-ONLY: syn@NO,FW,TW,CL,CW,LA,LI,SA → SA.
        for s in [0, 4, 5, 6, 7, 8, 9, 10] { secure[2][0][s] = SA }
        return (normal + secure).flatMap { $0.flatMap { $0 } }
    }()

    /// Where the next state of (`state`, `direction`, `event`) lies in `tables`.
    @inlinable @inline(__always)
    public static func index(_ state: UInt8, direction: FlowDirection, event ev: Int, secure: Bool) -> Int {
        ((secure ? 3 : 0) + direction.rawValue) * 44 + ev * 11 + Int(state)
    }

    @inlinable
    public static func next(_ state: TCPState, direction: FlowDirection, flags: UInt8,
                            secure: Bool) -> TCPState {
        guard let ev = event(flags: flags) else { return .close }
        return TCPState(rawValue: tables[index(state.rawValue, direction: direction, event: ev, secure: secure)])!
    }
}

/// Per-state timeouts (spec §4.1, §4.2), changed by `--set`.
public struct Timeouts: Sendable, Equatable {
    /// Seconds per TCP state, indexed by TCPState.rawValue.
    public var tcp: [Int] = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120]
    public var udp = 300

    public init() {}

    public var established: Int { tcp[Int(TCPState.established.rawValue)] }
    public var finWait: Int { tcp[Int(TCPState.finWait.rawValue)] }

    /// `ipvsadm --set tcp tcpfin udp`: 0 leaves a value unchanged.
    public mutating func set(tcp t: Int, tcpfin: Int, udp u: Int) {
        if t > 0 { tcp[Int(TCPState.established.rawValue)] = t }
        if tcpfin > 0 { tcp[Int(TCPState.finWait.rawValue)] = tcpfin }
        if u > 0 { udp = u }
    }
}
