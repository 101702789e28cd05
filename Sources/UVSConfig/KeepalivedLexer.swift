#if canImport(Glibc)
import Glibc
#endif
import UVSControl
import UVSPacket

/// One statement of keepalived.conf: a keyword, its arguments and, for a block, the
/// statements inside it — with the file and line it came from.
public struct ConfigStatement: Sendable, Equatable {
    public var keyword: String
    public var arguments: [String]
    public var children: [ConfigStatement]?
    public var file: String
    public var line: Int
}

/// keepalived's lexical rules (lib/parser.c, spec §3.1): `#` and `!` start a comment outside
/// double quotes, `{` and `}` split lines, `"…"` is one token, `include` pulls in files
/// (glob, relative to the including file's directory).
enum KeepalivedLexer {
    typealias FileError = ConfigText.FileError

    struct Token { var text: String; var quoted: Bool; var file: String; var line: Int }

    /// Reads `path` and its includes into a flat token stream, braces as their own tokens.
    static func tokens(path: String, text: String? = nil, configID: String? = nil) throws(FileError) -> [Token] {
        var params = KeepalivedParameters(configID: configID)
        return try tokens(path: path, text: text, depth: 0, params: &params)
    }

    /// `params`: keepalived's definitions are global, across includes.
    static func tokens(path: String, text: String?, depth: Int, params: inout KeepalivedParameters) throws(FileError) -> [Token] {
        guard depth < 32 else { throw FileError(file: path, line: 1, message: "include nesting too deep") }
        guard let body = text ?? ConfigText.read(path) else {
            throw FileError(file: path, line: 0, message: "cannot read the file")
        }
        var out: [Token] = []
        for (n, raw) in body.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard let text = try params.rewrite(String(raw), file: path, line: n + 1) else { continue }
            let line = try lineTokens(text, file: path, line: n + 1)
            if let first = line.first, !first.quoted, first.text == "include" {
                guard line.count == 2 else {
                    throw FileError(file: path, line: n + 1, message: "include takes one file pattern")
                }
                for f in includeMatches(line[1].text, relativeTo: path) {
                    out += try tokens(path: f, text: nil, depth: depth + 1, params: &params)
                }
                continue
            }
            out += line
        }
        return out
    }

    /// The tokens of one line.
    static func lineTokens(_ s: String, file: String, line: Int) throws(FileError) -> [Token] {
        var out: [Token] = []
        var cur = ""
        var quoted = false, inQuote = false, escape = false
        func flush() {
            if !cur.isEmpty || quoted { out.append(Token(text: cur, quoted: quoted, file: file, line: line)) }
            cur = ""; quoted = false
        }
        for ch in s {
            if inQuote {
                if ch == "\"" { inQuote = false } else { cur.append(ch) }
                continue
            }
            if escape {
                cur.append(ch); escape = false; continue
            }
            switch ch {
            case "\\": escape = true
            case "#", "!": flush(); return out
            case "\"": inQuote = true; quoted = true
            case " ", "\t", "\r": flush()
            case "{", "}":
                flush()
                out.append(Token(text: String(ch), quoted: false, file: file, line: line))
            default: cur.append(ch)
            }
        }
        if inQuote { throw FileError(file: file, line: line, message: "unterminated quoted string") }
        if escape { cur.append("\\") }
        flush()
        return out
    }

    static func includeMatches(_ pattern: String, relativeTo file: String) -> [String] {
        var p = pattern
        if !p.hasPrefix("/"), let slash = file.lastIndex(of: "/") {
            p = String(file[...slash]) + p
        }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(p, Int32(GLOB_BRACE), nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
    }

    /// Statements from tokens: a keyword and its arguments run to the end of their line; a `{`
    /// (on that line or the next) opens the statement's block, `}` closes it.
    static func statements(_ toks: [Token]) throws(FileError) -> [ConfigStatement] {
        var i = 0
        func block(top: Bool) throws(FileError) -> [ConfigStatement] {
            var out: [ConfigStatement] = []
            while i < toks.count {
                let t = toks[i]
                if t.text == "}" && !t.quoted {
                    if top { throw FileError(file: t.file, line: t.line, message: "extra '}'") }
                    i += 1
                    return out
                }
                if t.text == "{" && !t.quoted {
                    throw FileError(file: t.file, line: t.line, message: "'{' without a keyword")
                }
                i += 1
                var st = ConfigStatement(keyword: t.text, arguments: [], children: nil, file: t.file, line: t.line)
                while i < toks.count, toks[i].file == t.file, toks[i].line == t.line,
                      toks[i].quoted || (toks[i].text != "{" && toks[i].text != "}") {
                    st.arguments.append(toks[i].text); i += 1
                }
                if i < toks.count, toks[i].text == "{", !toks[i].quoted {
                    i += 1
                    st.children = try block(top: false)
                }
                out.append(st)
            }
            if !top, let last = toks.last {
                throw FileError(file: last.file, line: last.line, message: "missing '}' at the end of the file")
            }
            return out
        }
        return try block(top: true)
    }
}

