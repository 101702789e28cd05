/// Keeps the frames uvsd takes away from the host's own IP stack: a tc ingress classic-BPF
/// program (cls_bpf, direct action) that drops exactly those frames. tc ingress runs after
/// the AF_PACKET taps, so uvsd still sees them; the host never routes, answers or resets
/// them. Installed at start, replaced when the services change, removed at exit, leaving
/// tc as it was (a clsact qdisc uvsd added is deleted again; one that was there stays).
final class IngressGuard {
    let device: String
    let vlan: Int32
    /// Our filter's preference; unique enough not to meet anyone else's filters.
    let preference = "49133"
    private var createdQdisc = false
    private var installed = false

    init(device: String, vlan: Int32) { self.device = device; self.vlan = vlan }

    /// Installs (or replaces) the drop program for `selection`.
    func install(_ selection: TrafficSelection) throws(LiveError) {
        let prog = try selection.ingressDropProgram(vlan: vlan)
        if !installed {
            let show = ExternalCommand.run(["tc", "qdisc", "show", "dev", device])
            guard show.status == 0 else { throw LiveError("tc qdisc show dev \(device): \(show.output)") }
            if !show.output.contains("qdisc clsact") && !show.output.contains("qdisc ingress") {
                let add = ExternalCommand.run(["tc", "qdisc", "add", "dev", device, "clsact"])
                guard add.status == 0 else { throw LiveError("tc qdisc add dev \(device) clsact: \(trimmed(add.output))") }
                createdQdisc = true
            }
        }
        let r = ExternalCommand.run(["tc", "filter", "replace", "dev", device, "ingress", "pref", preference,
                                     "handle", "1", "protocol", "all", "bpf", "da", "bytecode",
                                     TrafficSelection.tcBytecode(prog)])
        guard r.status == 0 else {
            remove()
            throw LiveError("tc filter on \(device) ingress (cls_bpf): \(trimmed(r.output))")
        }
        installed = true
    }

    /// Removes what `install` added. Safe to call more than once.
    func remove() {
        if installed {
            _ = ExternalCommand.run(["tc", "filter", "del", "dev", device, "ingress", "pref", preference])
            installed = false
        }
        if createdQdisc {
            _ = ExternalCommand.run(["tc", "qdisc", "del", "dev", device, "clsact"])
            createdQdisc = false
        }
    }

    private func trimmed(_ s: String) -> String {
        s.split(separator: "\n").first.map(String.init) ?? s
    }
}
