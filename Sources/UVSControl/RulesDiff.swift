import UVSEngine

/// The ipvsadm commands that turn one configuration into another, touching only what
/// differs: a SIGHUP reload applies these, so unchanged services and servers (and their
/// connections, counters and scheduler state) are left alone.
public enum RulesDiff {
    public static func serviceSpec(_ s: VirtualService) -> ServiceSpec {
        ServiceSpec(key: s.key, scheduler: s.schedulerName, flags: s.flags, timeout: s.timeout, netmask: s.netmask,
                    persistenceEngine: s.persistenceEngine)
    }

    public static func destinationSpec(_ d: RealServer) -> DestinationSpec {
        DestinationSpec(addr: d.addr, port: d.port, method: d.method, weight: d.weight, upperThreshold: d.upperThreshold,
                        lowerThreshold: d.lowerThreshold, tunnelType: d.tunnelType, tunnelPort: d.tunnelPort,
                        tunnelChecksum: d.tunnelChecksum)
    }

    public static func commands(from old: Engine, to new: Engine) -> [IPVSCommand] {
        var out: [IPVSCommand] = []
        let oldServices = Dictionary(old.services.filter(\.live).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let newServices = new.services.filter(\.live)
        let newKeys = Set(newServices.map(\.key))
        for s in old.services where s.live && !newKeys.contains(s.key) { out.append(.deleteService(s.key)) }
        for s in newServices {
            let spec = serviceSpec(s)
            // Oldest first, so the list ends up newest-first as the rules file built it.
            let newDests = s.destinations.reversed().map { new.dests[Int($0)] }
            guard let o = oldServices[s.key] else {
                out.append(.addService(spec))
                out += newDests.map { .addServer(s.key, destinationSpec($0)) }
                continue
            }
            if serviceSpec(o) != spec { out.append(.editService(spec)) }
            let oldDests = o.destinations.map { old.dests[Int($0)] }
            for d in oldDests where !newDests.contains(where: { $0.addr == d.addr && $0.port == d.port }) {
                out.append(.deleteServer(s.key, d.addr, d.port))
            }
            for d in newDests {
                let spec = destinationSpec(d)
                if let od = oldDests.first(where: { $0.addr == d.addr && $0.port == d.port }) {
                    if destinationSpec(od) != spec { out.append(.editServer(s.key, spec)) }
                } else {
                    out.append(.addServer(s.key, spec))
                }
            }
        }
        let t = new.timeouts
        if t != old.timeouts { out.append(.setTimeouts(tcp: t.established, tcpfin: t.finWait, udp: t.udp)) }
        // Sync daemons: a changed one is stopped and started again.
        for d in old.syncDaemons where !new.syncDaemons.contains(d) { out.append(.stopDaemon(d.role)) }
        for d in new.syncDaemons where !old.syncDaemons.contains(d) { out.append(.startDaemon(d)) }
        return out
    }
}
