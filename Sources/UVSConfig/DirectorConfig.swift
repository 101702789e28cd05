import UVSControl
import UVSPacket
import UVSEngine

/// The one configuration model that lvs.cf, ldirectord.cf and keepalived.conf all produce:
/// services with their real servers and checks, global timeouts, and the failover part
/// (VRRP or pulse, and the sync daemons that follow it).
public struct DirectorConfig: Sendable {
    /// The tool whose check semantics apply (nanny, ldirectord or keepalived).
    public var format: ConfigFormat = .keepalived
    public var services: [ConfiguredService] = []
    /// `--set TCP TCPFIN UDP` (0 = unchanged), when the file sets timeouts.
    public var timeouts: (tcp: UInt32, tcpfin: UInt32, udp: UInt32)?
    /// VRRP instances, sync groups and scripts, or pulse; the sync daemons.
    public var failover = FailoverConfig()
    /// ldirectord maintenancedir: a file named IP:PORT or IP there forces that real server down.
    public var maintenanceDir: String?
    /// keepalived `track_file` blocks (FILE_CHECK reads them; init_file is written at start).
    public var trackedFiles: [TrackedFile] = []
    public init() {}
}

/// Where a setting came from, for `FILE:LINE: message`.
public struct ConfigSource: Sendable, Equatable {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) { self.file = file; self.line = line }
}

/// A virtual service as ipvsadm -A would create it.
public struct ConfiguredService: Sendable {
    public enum Selector: Sendable, Equatable {
        case address(proto: String, endpoint: String)   // "-t"/"-u"/"--sctp-service", "IP:PORT" or "[IPv6]:PORT"
        case fwmark(UInt32, ipv6: Bool)
    }
    public var source: ConfigSource
    public var selector: Selector
    public var scheduler = "wlc"
    public var schedulerFlags: [String] = []
    public var persistence: UInt32?
    public var netmask: String?
    public var onePacket = false
    public var realServers: [ConfiguredRealServer] = []
    public var sorryServer: ConfiguredRealServer?
    public var quorum: Int64 = 1
    public var hysteresis: Int64 = 0
    /// keepalived quorum_up / quorum_down argv; ldirectord fallbackcommand (gets start|stop VIP:PORT PROTO).
    public var quorumUp: [String]?
    public var quorumDown: [String]?
    /// keepalived sorry_server_inhibit: the sorry server stays listed at weight 0.
    public var sorryInhibit = false
    /// ldirectord monitorfile: every check result of this virtual is appended there.
    public var monitorFile: String?
}

/// A real server as ipvsadm -a would add it at its configured weight, and how it is checked.
public struct ConfiguredRealServer: Sendable {
    public var source: ConfigSource
    public var endpoint: String            // "IP[:PORT]" ipvsadm form
    public var method: String = "-m"       // -g | -m | -i
    public var tunnel: [String] = []       // --tun-type … options
    public var weight: Int64 = 1
    public var upperThreshold: UInt32 = 0
    public var lowerThreshold: UInt32 = 0
    /// Failure sets weight 0 instead of removing the server.
    public var inhibitOnFailure = false
    /// Checks start failed (the server joins once they pass) instead of up.
    public var alpha = false
    /// ldirectord: consecutive failures before the server goes out (failurecount).
    public var failureCount = 1
    /// nanny: re-entry delay (s); the server returns after ⌊reentry/timeout⌋ passes in a row.
    public var reentry: Double = 0
    /// nanny load_monitor (none when nil): the command whose `load` figure scales the weight.
    public var loadMonitor: [String]?
    /// ldirectord: the real server's id in its monitorfile lines (get_real_id_str, ':' squeezed to ' ').
    public var logID: String?
    /// keepalived notify_up / notify_down argv.
    public var notifyUp: [String]?
    public var notifyDown: [String]?
    public var checks: [CheckSpec] = []
}

/// One health check of a real server, with its tool's timings (seconds).
public struct CheckSpec: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case tcp = "TCP_CHECK", http = "HTTP_GET", https = "SSL_GET", smtp = "SMTP_CHECK", misc = "MISC_CHECK"
        case dns = "DNS_CHECK", udp = "UDP_CHECK", ping = "PING_CHECK", file = "FILE_CHECK"
        /// nanny: connect, optional send, expect as a prefix or a regex (lvs.cf).
        case sendExpect = "send/expect"
        /// nanny send_program: its output compared with expect.
        case sendProgram = "send_program"
        /// ldirectord external: CHECKCOMMAND VIP VPORT RIP RPORT, exit 0 = up.
        case external = "external"
        /// ldirectord simpletcp / nntp / pop / imap: line protocols.
        case simpleTCP = "simpletcp", nntp = "nntp", pop = "pop", imap = "imap"
        /// ldirectord ftp (login, cwd /, binary, passive, get), sip (OPTIONS), radius (a password check).
        case ftp = "ftp", sip = "sip", radius = "radius", ldap = "ldap", pgsql = "pgsql", mysql = "mysql"
        /// ldirectord checktype=off: never up.
        case off = "off"
    }
    public var kind: Kind
    public var source: ConfigSource
    public var interval: Double
    public var timeout: Double
    public var retry: Int
    public var delayBeforeRetry: Double
    /// connect_ip / connect_port (nil: the real server's own), bindto.
    public var connectIP: String?
    public var connectPort: UInt16?
    public var bindTo: String?
    /// Type-specific settings (url paths, status codes, digests, misc_path, helo_name, …) as
    /// `keyword → values`, in file order.
    public var settings: [(String, [String])] = []

    /// The values of the last `key` setting.
    public func setting(_ key: String) -> [String]? { settings.last(where: { $0.0 == key })?.1 }

    /// The same check apart from where it was written (SIGHUP keeps such a check's state).
    public func sameCheck(as b: CheckSpec) -> Bool {
        var x = b
        x.source = source
        return self == x
    }

    public static func == (a: CheckSpec, b: CheckSpec) -> Bool {
        a.kind == b.kind && a.source == b.source && a.interval == b.interval && a.timeout == b.timeout
            && a.retry == b.retry && a.delayBeforeRetry == b.delayBeforeRetry && a.connectIP == b.connectIP
            && a.connectPort == b.connectPort && a.bindTo == b.bindTo
            && a.settings.map { $0.0 } == b.settings.map { $0.0 } && a.settings.map { $0.1 } == b.settings.map { $0.1 }
    }
}

/// keepalived's `track_file NAME { file PATH; weight W [reverse]; init_file [VALUE] [overwrite] }`.
public struct TrackedFile: Sendable, Equatable {
    public var name: String
    public var path: String
    public var weight = 1
    public var reverse = false
    /// init_file: the value to write at start (nil: no init_file); `overwrite` writes it even
    /// when the file exists.
    public var initValue: Int?
    public var overwrite = false
}
