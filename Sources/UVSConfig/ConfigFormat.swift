import UVSControl
import UVSPacket

/// The configuration file formats uvsd reads, and detection from the content.
public enum ConfigFormat: String, Sendable, CaseIterable {
    case keepalived, ldirectord, lvs, rules

    /// keepalived.conf has `virtual_server`/`vrrp_instance`/`global_defs` blocks; ldirectord.cf
    /// `virtual=` lines; lvs.cf `virtual NAME {` and `key = value` globals; anything else is
    /// taken as ipvsadm rules.
    public static func detect(_ text: String) -> ConfigFormat {
        for raw in text.split(separator: "\n") {
            let line = raw.drop(while: { $0 == " " || $0 == "\t" })
            if line.hasPrefix("#") || line.hasPrefix("!") || line.isEmpty { continue }
            let word = line.prefix(while: { $0 != " " && $0 != "\t" && $0 != "=" && $0 != "{" })
            switch word {
            case "virtual_server", "virtual_server_group", "vrrp_instance", "vrrp_sync_group", "global_defs",
                 "vrrp_script", "include":
                return .keepalived
            case "virtual" where line.dropFirst(7).drop(while: { $0 == " " }).hasPrefix("="): return .ldirectord
            case "virtual", "serial_no", "primary", "service", "network", "nat_router", "heartbeat":
                return .lvs
            case "checktimeout", "checkinterval", "autoreload", "quiescent", "logfile", "emailalert", "fallback":
                return .ldirectord
            default: continue
            }
        }
        return .rules
    }
}

/// Reading a configuration file of any format into the one model.
public enum ConfigLoader {
    public typealias FileError = ConfigText.FileError

    /// `configID`: keepalived's config id for `@ID` lines (default: the host name's first label).
    public static func load(path: String, format: ConfigFormat? = nil, configID: String? = nil) throws(FileError) -> DirectorConfig {
        guard let text = ConfigText.read(path) else { throw FileError(file: path, line: 1, message: "cannot read the file") }
        let f = format ?? ConfigFormat.detect(text)
        switch f {
        case .keepalived: return try KeepalivedReader.read(path: path, text: text, configID: configID)
        case .lvs: return try LvsReader.read(path: path, text: text)
        case .ldirectord: return try LdirectordReader.read(path: path, text: text)
        case .rules:
            throw FileError(file: path, line: 1, message: "no virtual service, virtual_server or virtual= in the file: not lvs.cf, ldirectord.cf or keepalived.conf")
        }
    }
}
