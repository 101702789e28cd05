#if canImport(Glibc)
import Glibc
#endif

/// The line format shared by rules and marks files: one command a line, blanks separate
/// words (no shell quoting), `#` starts a comment.
public enum ConfigText {
    /// A whole (text) file, nil when it cannot be read.
    public static func read(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        if ferror(f) != 0 { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The words of every line, in order (index = line number − 1); comment-only and blank
    /// lines give no words.
    public static func lines(_ text: String) -> [[String]] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { raw in
            var line = Substring(raw)
            if let h = line.firstIndex(of: "#") { line = line[..<h] }
            return CommandParser.words(String(line))
        }
    }

    /// An error in such a file: `FILE:LINE: message`.
    public struct FileError: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String
        public init(file: String, line: Int, message: String) { self.file = file; self.line = line; self.message = message }
        public var description: String { "\(file):\(line): \(message)" }
    }
}
