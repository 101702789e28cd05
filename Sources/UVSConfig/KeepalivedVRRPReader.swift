import UVSControl
import UVSPacket

/// keepalived.conf's VRRP part (vrrp_parser.c; ops-spec-failover §1.8–1.10) into the failover
/// model, with keepalived's defaults and its completion rules (vrrp_complete_instance). A
/// keyword uvs does not act on is refused by name; a value keepalived would log and replace
/// by its default is an error here, so the pair never runs on a guess.
enum KeepalivedVRRPReader {
    typealias FileError = ConfigText.FileError
    static func err(_ st: ConfigStatement, _ m: String) -> FileError { KeepalivedReader.err(st, m) }

    /// global_defs' vrrp_* defaults.
    struct Globals {
        var garpMasterDelay: Double = 5, garpMasterRepeat = 5
        var garpMasterRefresh: Double = 0, garpMasterRefreshRepeat = 1
        var garpLowerPrioDelay: Double?, garpLowerPrioRepeat: Int?
        var version: UInt8?
        var mcastGroup4 = IPAddr("224.0.0.18")!, mcastGroup6 = IPAddr("ff02::12")!
        var garpInterval: Double = 0, gnaInterval: Double = 0
        var skipCheckAdvAddr = false
        var lowerPrioNoAdvert = false, higherPrioSendAdvert = false

        mutating func read(_ c: ConfigStatement) throws(FileError) -> Bool {
            switch c.keyword {
            case "vrrp_garp_master_delay": garpMasterDelay = try KeepalivedReader.timer(c)
            case "vrrp_garp_master_repeat": garpMasterRepeat = try count(c)
            case "vrrp_garp_master_refresh": garpMasterRefresh = try KeepalivedReader.timer(c)
            case "vrrp_garp_master_refresh_repeat": garpMasterRefreshRepeat = try count(c)
            case "vrrp_garp_lower_prio_delay": garpLowerPrioDelay = try KeepalivedReader.timer(c)
            case "vrrp_garp_lower_prio_repeat": garpLowerPrioRepeat = try count(c)
            case "vrrp_garp_interval": garpInterval = try KeepalivedReader.timer(c)
            case "vrrp_gna_interval": gnaInterval = try KeepalivedReader.timer(c)
            case "vrrp_version":
                guard let v = c.arguments.first.flatMap(UInt8.init), v == 2 || v == 3 else { throw err(c, "vrrp_version must be 2 or 3") }
                version = v
            case "vrrp_mcast_group4":
                guard let a = c.arguments.first.flatMap(IPAddr.init), a.isV4, a.v4 >> 28 == 0xE else { throw err(c, "vrrp_mcast_group4 needs an IPv4 multicast address") }
                mcastGroup4 = a
            case "vrrp_mcast_group6":
                guard let a = c.arguments.first.flatMap(IPAddr.init), !a.isV4, a.hi >> 56 == 0xFF else { throw err(c, "vrrp_mcast_group6 needs an IPv6 multicast address") }
                mcastGroup6 = a
            case "vrrp_skip_check_adv_addr": skipCheckAdvAddr = try KeepalivedReader.bool(c)
            case "vrrp_lower_prio_no_advert": lowerPrioNoAdvert = try KeepalivedReader.bool(c)
            case "vrrp_higher_prio_send_advert": higherPrioSendAdvert = try KeepalivedReader.bool(c)
            default: return false
            }
            return true
        }
    }

    static func count(_ st: ConfigStatement, _ range: ClosedRange<Int> = 0...255) throws(FileError) -> Int {
        guard st.arguments.count == 1, let v = Int(st.arguments[0]), range.contains(v) else {
            throw err(st, "'\(st.keyword)' needs a number in \(range.lowerBound)..\(range.upperBound)")
        }
        return v
    }

    /// Reads the VRRP blocks (in file order) and completes them as keepalived does.
    static func read(_ blocks: [ConfigStatement], globals g: Globals, syncDaemon: ConfigStatement?) throws(FileError) -> FailoverConfig {
        var f = FailoverConfig()
        for st in blocks {
            switch st.keyword {
            case "vrrp_instance": f.instances.append(try instance(st, g))
            case "vrrp_sync_group": f.syncGroups.append(try syncGroup(st))
            case "vrrp_script": f.scripts.append(try script(st))
            default: continue
            }
        }
        try complete(&f, blocks: blocks)
        if let sd = syncDaemon { f.syncDaemon = try self.syncDaemon(sd, instances: f.instances) }
        return f
    }

    static func unique(_ names: [(String, ConfigSource)], _ kind: String) throws(FileError) {
        var seen = Set<String>()
        for (n, s) in names where !seen.insert(n).inserted {
            throw FileError(file: s.file, line: s.line, message: "\(kind) \(n) is defined twice")
        }
    }

    /// Cross-block rules: names unique, tracked scripts and group members exist, one
    /// instance per interface and VRID and family, a member in one group only.
    static func complete(_ f: inout FailoverConfig, blocks: [ConfigStatement]) throws(FileError) {
        try unique(f.instances.map { ($0.name, $0.source) }, "vrrp_instance")
        try unique(f.scripts.map { ($0.name, $0.source) }, "vrrp_script")
        try unique(f.syncGroups.map { ($0.name, $0.source) }, "vrrp_sync_group")
        let scripts = Set(f.scripts.map(\.name))
        for i in f.instances {
            for t in i.trackScripts where !scripts.contains(t.name) {
                throw FileError(file: i.source.file, line: i.source.line, message: "vrrp_instance \(i.name): track_script \(t.name) is not a vrrp_script")
            }
        }
        var key = Set<String>()
        for i in f.instances where !key.insert("\(i.interface)/\(i.vrid)/\(i.isIPv6)").inserted {
            throw FileError(file: i.source.file, line: i.source.line,
                            message: "vrrp_instance \(i.name): VRID \(i.vrid) is already used on \(i.interface)")
        }
        let names = Set(f.instances.map(\.name))
        var member: [String: String] = [:]
        for g in f.syncGroups {
            for m in g.members {
                guard names.contains(m) else { throw FileError(file: g.source.file, line: g.source.line, message: "vrrp_sync_group \(g.name): \(m) is not a vrrp_instance") }
                if let other = member[m] { throw FileError(file: g.source.file, line: g.source.line, message: "vrrp_sync_group \(g.name): \(m) is already in \(other)") }
                member[m] = g.name
            }
        }
        // keepalived drops a sync-group member's weighted trackers ("ignoring tracked script
        // … with weights due to SYNC group") and `keepalived -t` fails: refused here.
        for i in f.instances where member[i.name] != nil {
            for t in i.trackScripts {
                let w = t.weight ?? f.scripts.first { $0.name == t.name }?.weight ?? 0
                if w != 0 {
                    throw FileError(file: i.source.file, line: i.source.line,
                                    message: "vrrp_instance \(i.name): track_script \(t.name) has weight \(w), which keepalived ignores in a sync group")
                }
            }
            for t in i.trackInterfaces where t.weight != 0 {
                throw FileError(file: i.source.file, line: i.source.line,
                                message: "vrrp_instance \(i.name): track_interface \(t.name) has weight \(t.weight), which keepalived ignores in a sync group")
            }
        }
    }

    // MARK: vrrp_instance

    static let refused: [String: String] = [
        "use_vmac": "uvs owns the VIPs itself: a macvlan with the virtual MAC would take the frames past it",
        "vmac_xmit_base": "goes with use_vmac, which uvs does not run",
        "strict_mode": "uvs does not run keepalived's strict mode (it also changes firewall and GARP rules)",
        "virtual_routes": "uvs does not add routes", "virtual_rules": "uvs does not add policy rules",
        "track_file": "VRRP track files are not run by uvs (FILE_CHECK's are)",
        "track_process": "uvs does not track processes", "track_bfd": "uvs does not run BFD",
        "track_src_ip": "uvs does not track the source address",
        "notify_fifo": "uvs runs notify scripts, not fifos", "notify_master_rx_lower_pri": "not run by uvs",
        "kernel_rx_buf_size": "not used by uvs", "old_unicast_checksum": "uvs sends and accepts only the current unicast checksum",
        "accept": "uvs answers only the services on its VIPs (keepalived's no-accept needs a firewall)",
        "no_accept": "uvs answers only the services on its VIPs (keepalived's no-accept needs a firewall)",
        "unicast_fault_no_peer": "not run by uvs", "check_unicast_src": "not run by uvs",
        "linkbeat_use_polling": "uvs follows links through the kernel's flags",
    ]

    static func instance(_ st: ConfigStatement, _ g: Globals) throws(FileError) -> VRRPInstanceConfig {
        guard st.arguments.count == 1, let body = st.children else { throw err(st, "vrrp_instance takes a name and a block") }
        var v = VRRPInstanceConfig(name: st.arguments[0], source: ConfigSource(file: st.file, line: st.line))
        v.garpMasterDelay = g.garpMasterDelay; v.garpMasterRepeat = g.garpMasterRepeat
        v.garpMasterRefresh = g.garpMasterRefresh; v.garpMasterRefreshRepeat = g.garpMasterRefreshRepeat
        v.mcastGroup4 = g.mcastGroup4; v.mcastGroup6 = g.mcastGroup6
        v.garpInterval = g.garpInterval; v.gnaInterval = g.gnaInterval
        v.skipCheckAdvAddr = g.skipCheckAdvAddr
        v.lowerPrioNoAdvert = g.lowerPrioNoAdvert; v.higherPrioSendAdvert = g.higherPrioSendAdvert
        var priority: UInt8?, state: String?, version: UInt8?, lowerDelay: Double?, lowerRepeat: Int?
        var authType: String?, usesUnicast = false, sawVIPs = false
        func name(_ c: ConfigStatement) throws(FileError) -> String {
            guard c.arguments.count == 1 else { throw err(c, "\(c.keyword) takes one value") }
            return c.arguments[0]
        }
        for c in body {
            if let why = refused[c.keyword] { throw err(c, "vrrp_instance \(v.name): '\(c.keyword)' is not supported by uvs: \(why)") }
            switch c.keyword {
            case "state":
                let s = try name(c)
                guard s == "MASTER" || s == "BACKUP" else { throw err(c, "state must be MASTER or BACKUP") }
                if state != "MASTER" { state = s }   // keepalived: MASTER, once set, stays
            case "interface": v.interface = try name(c)
            case "virtual_router_id": v.vrid = UInt8(try count(c, 1...255))
            case "priority": priority = UInt8(try count(c, 1...255))
            case "advert_int":
                guard c.arguments.count == 1, let s = Double(c.arguments[0]), s > 0, s <= 255 else { throw err(c, "advert_int must be a time in seconds > 0") }
                v.advertInterval = Int64(s * 1_000_000)
            case "version":
                guard let n = c.arguments.first.flatMap(UInt8.init), n == 2 || n == 3 else { throw err(c, "version must be 2 or 3") }
                version = n
            case "nopreempt": v.nopreempt = true
            case "preempt": v.nopreempt = false
            case "preempt_delay":
                guard c.arguments.count == 1, let s = Double(c.arguments[0]), (0...1000).contains(s) else { throw err(c, "preempt_delay must be 0..1000 seconds") }
                v.preemptDelay = Int64(s * 1_000_000)
            case "authentication":
                for a in c.children ?? [] {
                    switch a.keyword {
                    case "auth_type":
                        let t = try name(a)
                        if t == "AH" { throw err(a, "auth_type AH is not supported by uvs (IPsec AH around VRRP)") }
                        guard t == "PASS" else { throw err(a, "auth_type must be PASS or AH") }
                        authType = t
                    case "auth_pass": v.authPass = String(decoding: Array(try name(a).utf8.prefix(8)), as: UTF8.self)
                    default: throw err(a, "authentication: unknown keyword '\(a.keyword)'")
                    }
                }
            case "virtual_ipaddress":
                sawVIPs = true
                v.addresses += try addresses(c, block: c.keyword)
            case "virtual_ipaddress_excluded": v.excludedAddresses += try addresses(c, block: c.keyword)
            case "mcast_src_ip", "unicast_src_ip":
                guard let a = IPAddr(try name(c)) else { throw err(c, "\(c.keyword): '\(c.arguments[0])' is not an address") }
                v.sourceAddress = a
                if c.keyword == "unicast_src_ip" { usesUnicast = true }
            case "unicast_peer":
                usesUnicast = true
                for p in c.children ?? [] {
                    guard let a = IPAddr(p.keyword) else { throw err(p, "unicast_peer: '\(p.keyword)' is not an address") }
                    if !p.arguments.isEmpty { throw err(p, "unicast_peer \(p.keyword): min_ttl/max_ttl are not supported by uvs") }
                    v.unicastPeers.append(a)
                }
            case "unicast_ttl": v.unicastTTL = UInt8(try count(c, 1...255))
            case "mcast_dst_ip":
                guard let a = IPAddr(try name(c)) else { throw err(c, "mcast_dst_ip: not an address") }
                if a.isV4 { v.mcastGroup4 = a } else { v.mcastGroup6 = a }
            case "garp_master_delay": v.garpMasterDelay = try KeepalivedReader.timer(c)
            case "garp_master_repeat": v.garpMasterRepeat = try count(c)
            case "garp_master_refresh": v.garpMasterRefresh = try KeepalivedReader.timer(c)
            case "garp_master_refresh_repeat": v.garpMasterRefreshRepeat = try count(c)
            case "garp_lower_prio_delay": lowerDelay = try KeepalivedReader.timer(c)
            case "garp_lower_prio_repeat": lowerRepeat = try count(c)
            case "lower_prio_no_advert": v.lowerPrioNoAdvert = try KeepalivedReader.bool(c)
            case "higher_prio_send_advert": v.higherPrioSendAdvert = try KeepalivedReader.bool(c)
            case "skip_check_adv_addr": v.skipCheckAdvAddr = try KeepalivedReader.bool(c)
            case "dont_track_primary": v.dontTrackPrimary = true
            case "v3_checksum_as_v2": v.v3ChecksumAsV2 = true
            case "notify_master": v.notify.master = KeepalivedReader.script(c)
            case "notify_backup": v.notify.backup = KeepalivedReader.script(c)
            case "notify_fault": v.notify.fault = KeepalivedReader.script(c)
            case "notify_stop": v.notify.stop = KeepalivedReader.script(c)
            case "notify": v.notify.any = KeepalivedReader.script(c)
            case "track_interface":
                for t in c.children ?? [] { v.trackInterfaces.append(try trackedInterface(t)) }
            case "track_script":
                for t in c.children ?? [] { v.trackScripts.append(try trackedScript(t)) }
            case "smtp_alert", "debug":
                break   // mail and log verbosity: no VRRP decision depends on them
            default:
                throw err(c, "vrrp_instance \(v.name): unknown keyword '\(c.keyword)'")
            }
        }
        // vrrp_complete_instance's rules.
        let src = ConfigStatement(keyword: "vrrp_instance", arguments: [v.name], children: nil, file: st.file, line: st.line)
        guard !v.interface.isEmpty else { throw err(src, "vrrp_instance \(v.name): no interface") }
        guard v.vrid != 0 else { throw err(src, "vrrp_instance \(v.name): no virtual_router_id") }
        guard sawVIPs, !v.addresses.isEmpty else { throw err(src, "vrrp_instance \(v.name): no virtual_ipaddress (uvs needs the addresses it moves)") }
        let v6 = !v.addresses[0].address.isV4
        if v.addresses.contains(where: { $0.address.isV4 == v6 }) { throw err(src, "vrrp_instance \(v.name): virtual_ipaddress mixes IPv4 and IPv6") }
        if let s = v.sourceAddress, s.isV4 == v6 { throw err(src, "vrrp_instance \(v.name): the source address is not of the VIPs' family") }
        if v.unicastPeers.contains(where: { $0.isV4 == v6 }) { throw err(src, "vrrp_instance \(v.name): a unicast_peer is not of the VIPs' family") }
        v.version = version ?? g.version ?? (v6 ? 3 : 2)
        if v6 && v.version == 2 { throw err(src, "vrrp_instance \(v.name): VRRP version 2 does not carry IPv6 (use version 3)") }
        if authType != nil || v.authPass != nil {
            guard authType != nil, v.authPass != nil else { throw err(src, "vrrp_instance \(v.name): authentication needs auth_type and auth_pass") }
            if v.version == 3 { throw err(src, "vrrp_instance \(v.name): VRRP version 3 has no authentication") }
        }
        if v.version == 2 {
            // Whole seconds on the wire; keepalived rounds.
            v.advertInterval = max(1, (v.advertInterval + 500_000) / 1_000_000) * 1_000_000
        } else {
            v.advertInterval = min(4095, max(1, (v.advertInterval + 5_000) / 10_000)) * 10_000
        }
        v.wantMaster = state == "MASTER" || (state == nil && priority == 255)
        v.priority = priority ?? (v.wantMaster ? 255 : 100)
        if (v.nopreempt || v.preemptDelay > 0) && v.wantMaster {
            throw err(src, "vrrp_instance \(v.name): nopreempt and preempt_delay need state BACKUP")
        }
        if v.priority == 255 && (v.nopreempt || v.preemptDelay > 0) {
            throw err(src, "vrrp_instance \(v.name): the address owner (priority 255) always preempts")
        }
        if usesUnicast && v.unicastPeers.isEmpty { throw err(src, "vrrp_instance \(v.name): unicast_src_ip without unicast_peer") }
        v.garpLowerPrioDelay = lowerDelay ?? g.garpLowerPrioDelay ?? v.garpMasterDelay
        v.garpLowerPrioRepeat = lowerRepeat ?? g.garpLowerPrioRepeat ?? v.garpMasterRepeat
        return v
    }

    /// `ADDR[/LEN] [brd A] [dev IF] [scope S] [label L] …`: the address and its device; the
    /// kernel-address options change nothing for uvs, which answers for the VIP itself.
    static func addresses(_ st: ConfigStatement, block: String) throws(FileError) -> [FailoverAddress] {
        let withValue: Set<String> = ["brd", "broadcast", "dev", "scope", "label", "peer", "preferred_lft", "track_group"]
        let flags: Set<String> = ["home", "-nodad", "nodad", "mngtmpaddr", "noprefixroute", "autojoin", "no_track"]
        var out: [FailoverAddress] = []
        for c in st.children ?? [] {
            let parts = c.keyword.split(separator: "/", maxSplits: 1)
            guard let a = IPAddr(String(parts[0])) else { throw err(c, "\(block): '\(c.keyword)' is not an address") }
            var prefix = a.isV4 ? 32 : 128
            if parts.count == 2 {
                guard let p = Int(parts[1]), (0...prefix).contains(p) else { throw err(c, "\(block): bad prefix length in '\(c.keyword)'") }
                prefix = p
            }
            var fa = FailoverAddress(address: a, prefix: prefix)
            var i = 0
            while i < c.arguments.count {
                let w = c.arguments[i]
                if w == "use_vmac" { throw err(c, "\(block): use_vmac is not supported by uvs: \(refused["use_vmac"]!)") }
                if flags.contains(w) { i += 1; continue }
                guard withValue.contains(w) else { throw err(c, "\(block): unknown option '\(w)'") }
                guard i + 1 < c.arguments.count else { throw err(c, "\(block): '\(w)' needs a value") }
                if w == "dev" { fa.device = c.arguments[i + 1] }
                i += 2
            }
            out.append(fa)
        }
        return out
    }

    static func trackedInterface(_ t: ConfigStatement) throws(FileError) -> TrackedInterface {
        var ti = TrackedInterface(name: t.keyword)
        let a = t.arguments
        if !a.isEmpty {
            guard a[0] == "weight", a.count >= 2, let w = Int(a[1]), (-253...253).contains(w) else {
                throw err(t, "track_interface \(t.keyword): expected 'weight W' with W in -253..253")
            }
            ti.weight = w
            if a.count == 3 {
                guard a[2] == "reverse" else { throw err(t, "track_interface \(t.keyword): unknown option '\(a[2])'") }
                ti.reverse = true
            } else if a.count > 3 { throw err(t, "track_interface \(t.keyword): too many options") }
        }
        return ti
    }

    static func trackedScript(_ t: ConfigStatement) throws(FileError) -> TrackedScript {
        var ts = TrackedScript(name: t.keyword)
        let a = t.arguments
        if !a.isEmpty {
            guard a[0] == "weight", a.count >= 2, let w = Int(a[1]), (-253...253).contains(w) else {
                throw err(t, "track_script \(t.keyword): expected 'weight W' with W in -253..253")
            }
            ts.weight = w
            if a.count == 3 {
                guard a[2] == "reverse" || a[2] == "noreverse" else { throw err(t, "track_script \(t.keyword): unknown option '\(a[2])'") }
                ts.reverse = a[2] == "reverse"
            } else if a.count > 3 { throw err(t, "track_script \(t.keyword): too many options") }
        }
        return ts
    }

    // MARK: vrrp_script, vrrp_sync_group, lvs_sync_daemon

    static func script(_ st: ConfigStatement) throws(FileError) -> VRRPScriptConfig {
        guard st.arguments.count == 1, let body = st.children else { throw err(st, "vrrp_script takes a name and a block") }
        var s = VRRPScriptConfig(name: st.arguments[0], source: ConfigSource(file: st.file, line: st.line))
        for c in body {
            switch c.keyword {
            case "script": s.command = KeepalivedReader.script(c)
            case "interval":
                let v = try KeepalivedReader.timer(c)
                guard v > 0 else { throw err(c, "vrrp_script \(s.name): interval must be > 0") }
                s.interval = v
            case "timeout":
                let v = try KeepalivedReader.timer(c)
                guard v > 0 else { throw err(c, "vrrp_script \(s.name): timeout must be > 0") }
                s.timeout = v
            case "weight":
                guard c.arguments.count >= 1, let w = Int(c.arguments[0]), (-253...253).contains(w) else {
                    throw err(c, "vrrp_script \(s.name): weight must be in -253..253")
                }
                s.weight = w
                if c.arguments.count == 2 {
                    guard c.arguments[1] == "reverse" || c.arguments[1] == "noreverse" else { throw err(c, "vrrp_script \(s.name): unknown weight option '\(c.arguments[1])'") }
                    s.weightReverse = c.arguments[1] == "reverse"
                }
            case "rise": s.rise = try count(c, 1...Int(Int32.max))
            case "fall": s.fall = try count(c, 1...Int(Int32.max))
            case "init_fail": s.initFail = true
            case "user": throw err(c, "vrrp_script \(s.name): 'user' is not supported by uvs: scripts run as uvsd's own user")
            default: throw err(c, "vrrp_script \(s.name): unknown keyword '\(c.keyword)'")
            }
        }
        guard !s.command.isEmpty else { throw err(st, "vrrp_script \(s.name): no script") }
        return s
    }

    static func syncGroup(_ st: ConfigStatement) throws(FileError) -> VRRPSyncGroupConfig {
        guard st.arguments.count == 1, let body = st.children else { throw err(st, "vrrp_sync_group takes a name and a block") }
        var g = VRRPSyncGroupConfig(name: st.arguments[0], source: ConfigSource(file: st.file, line: st.line))
        for c in body {
            switch c.keyword {
            case "group": g.members = (c.children ?? []).flatMap { [$0.keyword] + $0.arguments }
            case "notify_master": g.notify.master = KeepalivedReader.script(c)
            case "notify_backup": g.notify.backup = KeepalivedReader.script(c)
            case "notify_fault": g.notify.fault = KeepalivedReader.script(c)
            case "notify_stop": g.notify.stop = KeepalivedReader.script(c)
            case "notify": g.notify.any = KeepalivedReader.script(c)
            case "smtp_alert": break
            default: throw err(c, "vrrp_sync_group \(g.name): '\(c.keyword)' is not supported by uvs")
            }
        }
        guard !g.members.isEmpty else { throw err(st, "vrrp_sync_group \(g.name): empty group") }
        return g
    }

    /// `lvs_sync_daemon IF [INSTANCE] [id N] [maxlen L] [port P] [ttl T] [group A]`.
    static func syncDaemon(_ st: ConfigStatement, instances: [VRRPInstanceConfig]) throws(FileError) -> SyncDaemonConfig {
        let a = st.arguments
        guard let ifname = a.first else { throw err(st, "lvs_sync_daemon needs an interface") }
        var i = 1
        var follow = SyncDaemonConfig.Follow.both
        if i < a.count, !["id", "maxlen", "port", "ttl", "group"].contains(a[i]) {
            guard instances.contains(where: { $0.name == a[i] }) else { throw err(st, "lvs_sync_daemon: \(a[i]) is not a vrrp_instance") }
            follow = .instance(a[i])
            i += 1
        }
        var d = SyncDaemonConfig(source: ConfigSource(file: st.file, line: st.line), interface: ifname, follow: follow)
        while i < a.count {
            guard i + 1 < a.count, let n = Int(a[i + 1]) ?? (a[i] == "group" ? 0 : nil) else { throw err(st, "lvs_sync_daemon: '\(a[i])' needs a value") }
            switch a[i] {
            case "id":
                guard (0...255).contains(n) else { throw err(st, "lvs_sync_daemon: id must be 0..255") }
                d.syncID = n
            case "maxlen": d.maxlen = n
            case "port": d.port = n
            case "ttl": d.ttl = n
            case "group":
                guard IPAddr(a[i + 1]) != nil else { throw err(st, "lvs_sync_daemon: group needs an address") }
                d.group = a[i + 1]
            default: throw err(st, "lvs_sync_daemon: unknown option '\(a[i])'")
            }
            i += 2
        }
        // Sync ID: `id`, else the followed instance's VRID, else 0.
        if d.syncID == nil, case .instance(let n) = follow { d.syncID = instances.first { $0.name == n }.map { Int($0.vrid) } }
        return d
    }
}
