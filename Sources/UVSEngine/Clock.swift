/// Engine time: nanoseconds on an injected clock (a capture's timestamps in replay, the
/// monotonic clock when live). The engine never reads a clock itself.
public typealias Nanos = Int64

public enum Time {
    public static let second: Nanos = 1_000_000_000
    public static let millisecond: Nanos = 1_000_000
    @inlinable public static func seconds(_ s: Int) -> Nanos { Nanos(s) * second }
}

/// Injected randomness (IPv4 IDs of generated packets, twos). Deterministic by default.
public protocol RandomSource {
    mutating func next() -> UInt64
}

/// SplitMix64: small, fast, and reproducible from its seed.
public struct SplitMix64: RandomSource, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    @inlinable public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
