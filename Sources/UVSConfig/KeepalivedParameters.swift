#if canImport(Glibc)
import Glibc
#endif
import UVSControl

/// keepalived's text rewriting before a line is read (lib/parser.c): `$NAME=value` defines a
/// parameter, `$NAME` (before a blank or the line's end) and `${NAME}` are replaced by its
/// value in later lines — the replacement is scanned again, an undefined name stays as
/// written — and `@ID line` / `@^ID line` keep the line only on (only off) the director whose
/// config id is ID (`--config-id`, default the host name's first label). Multi-line and
/// parameterised definitions, sequences and the predefined names other than `_PWD`, `_HASH`
/// and `_BANG` are refused by name.
struct KeepalivedParameters {
    typealias FileError = ConfigText.FileError
    var values: [String: String] = [:]
    let configID: String

    init(configID: String?) {
        self.configID = configID ?? Self.defaultConfigID()
    }

    static func defaultConfigID() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, 255) == 0 else { return "" }
        let name = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(name.prefix(while: { $0 != "." }))
    }

    static func isNameStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
    static func isName(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }

    /// The line as keepalived reads it, or nil when it is a definition or not for this director.
    mutating func rewrite(_ raw: String, file: String, line: Int) throws(FileError) -> String? {
        func fail(_ m: String) -> FileError { FileError(file: file, line: line, message: m) }
        var text = Substring(raw.drop(while: { $0 == " " || $0 == "\t" }))
        if text.hasPrefix("@") {
            var id = text.dropFirst()
            let negate = id.hasPrefix("^")
            if negate { id = id.dropFirst() }
            let name = id.prefix(while: { $0 != " " && $0 != "\t" })
            guard !name.isEmpty else { throw fail("'@': a conditional line needs a config id") }
            if (name == configID) == negate { return nil }
            text = id.dropFirst(name.count).drop(while: { $0 == " " || $0 == "\t" })
        }
        if text.hasPrefix("~SEQ") || text.hasPrefix("~LST") {
            throw fail("'\(text.prefix(while: { $0 != "(" }))': keepalived's sequences are not supported by uvs")
        }
        if text.hasPrefix("$"), let c = text.dropFirst().first, Self.isNameStart(c) {
            let name = text.dropFirst().prefix(while: Self.isName)
            let rest = text.dropFirst(1 + name.count)
            if rest.hasPrefix("=") {
                var value = rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
                while let l = value.last, l == " " || l == "\t" || l == "\r" { value = value.dropLast() }
                if value.hasSuffix("\\") { throw fail("'$\(name)': multi-line definitions are not supported by uvs") }
                values[String(name)] = String(value)
                return nil
            }
            if rest.hasPrefix("(") { throw fail("'$\(name)(': parameterised definitions are not supported by uvs") }
        }
        return try substitute(String(text), file: file, line: line)
    }

    /// Replaces every defined `$NAME` / `${NAME}`, scanning each replacement again.
    func substitute(_ s: String, file: String, line: Int) throws(FileError) -> String {
        var chars = Array(s)
        var i = 0, replaced = 0
        while i < chars.count {
            guard chars[i] == "$", i + 1 < chars.count else { i += 1; continue }
            let braces = chars[i + 1] == "{"
            var j = i + (braces ? 2 : 1)
            guard j < chars.count, Self.isNameStart(chars[j]) else { i += 1; continue }
            let start = j
            while j < chars.count, Self.isName(chars[j]) { j += 1 }
            let name = String(chars[start..<j])
            if braces { guard j < chars.count, chars[j] == "}" else { i += 1; continue }; j += 1 }
            else if j < chars.count, chars[j] != " ", chars[j] != "\t" { i += 1; continue }
            guard let value = try lookup(name, file: file, line: line) else { i += 1; continue }
            replaced += 1
            if replaced > 1000 { throw FileError(file: file, line: line, message: "'$\(name)': parameter substitution does not end") }
            chars.replaceSubrange(i..<j, with: Array(value))
        }
        return String(chars)
    }

    func lookup(_ name: String, file: String, line: Int) throws(FileError) -> String? {
        if let v = values[name] { return v }
        switch name {
        case "_HASH": return "#"
        case "_BANG": return "!"
        case "_PWD":
            guard let slash = file.lastIndex(of: "/") else { return "." }
            return String(file[..<slash])
        case _ where name.hasPrefix("_"):
            throw FileError(file: file, line: line, message: "'${\(name)}': keepalived's predefined \(name) is not supported by uvs")
        default: return nil
        }
    }
}
