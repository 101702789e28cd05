/// RFC 4648 base64, for SCRAM's nonces, salts and proofs.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        for chunk in stride(from: 0, to: bytes.count, by: 3) {
            let b = Array(bytes[chunk..<min(chunk + 3, bytes.count)]) + [0, 0]
            let n = Int(b[0]) << 16 | Int(b[1]) << 8 | Int(b[2])
            let count = min(3, bytes.count - chunk)
            for k in 0..<4 { out.append(k <= count ? alphabet[n >> (18 - 6 * k) & 63] : UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ s: String) -> [UInt8]? {
        var out: [UInt8] = [], acc = 0, bits = 0
        for ch in s.utf8 where ch != UInt8(ascii: "=") {
            guard let v = alphabet.firstIndex(of: ch) else { return nil }
            acc = acc << 6 | v; bits += 6
            if bits >= 8 { bits -= 8; out.append(UInt8(acc >> bits & 0xff)) }
        }
        return out
    }
}
