import UVSPacket

/// lblcr (spec §2.11): like lblc, but each destination address maps to a set of servers:
/// the least loaded member serves; when it is overloaded in lblc sense a wlc pick joins the
/// set; an old set sheds its most loaded member.
public struct LocalityBasedLeastConnectionReplication: Scheduler {
    public static let name = "lblcr"

    struct Entry { var members: [Int32]; var lastUse: Nanos; var lastMod: Nanos }
    var table: [IPAddr: Entry] = [:]
    var gc = CacheCollector()
    let expiration: Nanos

    public init(setup: SchedulerSetup, destinations: DestinationList) {
        expiration = Time.seconds(setup.sysctls.lblcrExpiration)
    }

    /// set-min: first available member with weight > 0 and OVERLOAD clear, then later
    /// non-OVERLOAD available members by the wlc cross product.
    static func setMin(_ members: [Int32], _ list: DestinationList) -> Int32? {
        var m: Int32? = nil
        for id in members {
            let d = list.store[Int(id)]
            if d.overloaded { continue }
            guard let cur = m else {
                if d.weight > 0 && d.available { m = id }
                continue
            }
            let c = list.store[Int(cur)]
            if c.overhead &* Int64(d.weight) > d.overhead &* Int64(c.weight) && d.available { m = id }
        }
        return m
    }

    /// set-max: first member with weight > 0, then later ones by the opposite comparison.
    static func setMax(_ members: [Int32], _ list: DestinationList) -> Int32? {
        var m: Int32? = nil
        for id in members {
            let d = list.store[Int(id)]
            guard d.weight > 0 else { continue }
            guard let cur = m else { m = id; continue }
            let c = list.store[Int(cur)]
            if c.overhead &* Int64(d.weight) < d.overhead &* Int64(c.weight) { m = id }
        }
        return m
    }

    func position(_ id: Int32, _ list: DestinationList) -> Int? { (0..<list.count).first { list.id($0) == id } }

    public mutating func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? {
        let now = request.now
        let exp = expiration
        gc.run(until: now, table: &table, expiration: exp) { $0.lastUse }
        let key = request.inverse ? request.src : request.dst
        if var e = table[key] {
            e.lastUse = now
            let d = Self.setMin(e.members, list)
            if e.members.count > 1 && now > e.lastMod + exp, let worst = Self.setMax(e.members, list) {
                e.members.removeAll { $0 == worst }
                e.lastMod = now
            }
            table[key] = e
            if let d, !LocalityBasedLeastConnection.overloaded(list.store[Int(d)], list), let pos = position(d, list) {
                return pos
            }
            guard let pos = WeightedLeastConnection.pick(list) else { return nil }
            let id = list.id(pos)
            if !e.members.contains(id) {
                e.members.insert(id, at: 0)
                e.lastMod = now
                table[key] = e
            }
            return pos
        }
        guard let pos = WeightedLeastConnection.pick(list) else { return nil }
        table[key] = Entry(members: [list.id(pos)], lastUse: now, lastMod: now)
        return pos
    }
}
