import UVSPacket

/// piranha pulse's heartbeat (spec §3.3): a UDP datagram of exactly 4 bytes, a 32-bit magic in
/// the sender's host byte order (little-endian on the x86 directors pulse ran on).
public enum PulseHeartbeat: UInt32, Sendable {
    case lvsActive = 0xBDAD_DBDA, lvsInactive = 0xADBD_DABD
    case fosActive = 0xBEEF_BABE, fosInactive = 0xDEAD_BEEF
    case fosStopMe = 0xDEAD_DADA
    case hold = 0xDEAF_BABE, held = 0xDEAF_DADA

    /// The magic for "running" / "stopped" under `service = lvs | fos`.
    public static func state(active: Bool, fos: Bool) -> PulseHeartbeat {
        fos ? (active ? .fosActive : .fosInactive) : (active ? .lvsActive : .lvsInactive)
    }

    public var bytes: [UInt8] {
        let v = rawValue
        return [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
    }

    public enum Rejection: String, Error, Sendable {
        /// "Unexpected heartbeat": not from the partner's public or private address.
        case unexpectedSource = "unexpected heartbeat"
        /// "bad heartbeat packet": not 4 bytes.
        case badLength = "bad heartbeat packet"
        /// "Incompatible heartbeat received": not a known magic.
        case unknownMagic = "incompatible heartbeat"
    }

    /// A received datagram, from `source`, checked as pulse checks it.
    public static func decode(_ payload: [UInt8], from source: IPAddr, partner: [IPAddr]) -> Result<PulseHeartbeat, Rejection> {
        guard partner.contains(source) else { return .failure(.unexpectedSource) }
        guard payload.count == 4 else { return .failure(.badLength) }
        let v = UInt32(payload[0]) | UInt32(payload[1]) << 8 | UInt32(payload[2]) << 16 | UInt32(payload[3]) << 24
        guard let h = PulseHeartbeat(rawValue: v) else { return .failure(.unknownMagic) }
        return .success(h)
    }
}
