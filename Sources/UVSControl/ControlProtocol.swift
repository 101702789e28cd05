/// uvsadm ↔ uvsd over the control socket: one request, one response, per connection.
///
///     request:  "UVS1" u32 argc { u32 len, bytes }*argc  u32 len, stdin bytes
///     response: "UVS1" i32 status  u32 len, stdout bytes  u32 len, stderr bytes
///
/// Integers are big-endian. The daemon runs the command line exactly as ipvsadm would
/// and returns what ipvsadm would print and its exit status. Requests are bounded.
public enum ControlProtocol {
    public static let magic: [UInt8] = Array("UVS1".utf8)
    /// Largest request accepted (a `-R` of ~16,000 services is about 1 MiB).
    public static let maxRequest = 64 << 20

    public struct Request: Equatable, Sendable {
        public var arguments: [String]
        public var input: [UInt8]
        public init(arguments: [String], input: [UInt8] = []) { self.arguments = arguments; self.input = input }
    }

    public struct Response: Equatable, Sendable {
        public var status: Int32
        public var output: String
        public var error: String
        public init(status: Int32, output: String = "", error: String = "") {
            self.status = status; self.output = output; self.error = error
        }
    }

    public enum DecodeError: Error, Equatable { case incomplete, badMagic, tooLarge }

    static func put(_ v: UInt32, _ out: inout [UInt8]) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func putBytes(_ b: [UInt8], _ out: inout [UInt8]) {
        put(UInt32(b.count), &out)
        out += b
    }

    public static func encode(_ r: Request) -> [UInt8] {
        var out = magic
        put(UInt32(r.arguments.count), &out)
        for a in r.arguments { putBytes(Array(a.utf8), &out) }
        putBytes(r.input, &out)
        return out
    }

    public static func encode(_ r: Response) -> [UInt8] {
        var out = magic
        put(UInt32(bitPattern: r.status), &out)
        putBytes(Array(r.output.utf8), &out)
        putBytes(Array(r.error.utf8), &out)
        return out
    }

    /// A cursor over received bytes; `incomplete` means "read more".
    struct Reader {
        let b: [UInt8]
        var i = 0
        mutating func u32() throws(DecodeError) -> UInt32 {
            guard i + 4 <= b.count else { throw .incomplete }
            defer { i += 4 }
            return UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
        }
        mutating func bytes() throws(DecodeError) -> [UInt8] {
            let n = Int(try u32())
            guard n <= ControlProtocol.maxRequest else { throw .tooLarge }
            guard i + n <= b.count else { throw .incomplete }
            defer { i += n }
            return Array(b[i..<(i + n)])
        }
        mutating func header() throws(DecodeError) {
            guard b.count >= 4 else { throw .incomplete }
            guard Array(b[0..<4]) == ControlProtocol.magic else { throw .badMagic }
            i = 4
        }
    }

    public static func decodeRequest(_ b: [UInt8]) throws(DecodeError) -> Request {
        guard b.count <= maxRequest else { throw .tooLarge }
        var r = Reader(b: b)
        try r.header()
        let argc = Int(try r.u32())
        guard argc <= 4096 else { throw .tooLarge }
        var args: [String] = []
        for _ in 0..<argc { args.append(String(decoding: try r.bytes(), as: UTF8.self)) }
        return Request(arguments: args, input: try r.bytes())
    }

    public static func decodeResponse(_ b: [UInt8]) throws(DecodeError) -> Response {
        var r = Reader(b: b)
        try r.header()
        let status = Int32(bitPattern: try r.u32())
        let out = String(decoding: try r.bytes(), as: UTF8.self)
        let err = String(decoding: try r.bytes(), as: UTF8.self)
        return Response(status: status, output: out, error: err)
    }
}
