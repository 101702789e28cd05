/// A service's scheduler in a heap cell of its own: a decision is one virtual call that
/// mutates the scheduler in place. (As an `any Scheduler`, a scheduler larger than three
/// words lived in an existential box that every mutating call checked for uniqueness and
/// projected: about 50 instructions a decision, more than rr's whole choice.)
///
/// Engines stay values: the engine copies a cell it shares before calling it
/// (`isKnownUniquelyReferenced`), as an array would.
public class SchedulerCell {
    /// The service's list order (destination indices, newest first), copied in at every
    /// list change: a decision reads it from the cell it already holds, where reading the
    /// service's array cost a retain and a release per decision.
    final private(set) var order: UnsafeMutableBufferPointer<Int32> = .init(start: nil, count: 0)

    /// The subclass for one scheduler type is the only implementation; `make` builds it.
    fileprivate init() {}

    deinit { order.deallocate() }

    /// Builds the cell for a registered scheduler type.
    public static func make(_ type: any Scheduler.Type, setup: SchedulerSetup, destinations: DestinationList) -> SchedulerCell {
        let cell = type.makeCell(setup: setup, destinations: destinations)
        cell.setOrder(destinations.order)
        return cell
    }

    /// Takes the service's new list order (before the hooks run).
    final func setOrder(_ newOrder: UnsafeBufferPointer<Int32>) {
        if order.count != newOrder.count {
            order.deallocate()
            order = .allocate(capacity: newOrder.count)
        }
        _ = order.initialize(from: newOrder)
    }

    /// A decision over the cell's own list order and the engine's destination store.
    @inline(__always)
    final func decide(_ request: SchedulingRequest, store: UnsafeBufferPointer<RealServer>) -> Int? {
        select(request, DestinationList(order: UnsafeBufferPointer(order), store: store))
    }

    public func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? { preconditionFailure("abstract") }
    public func added(at position: Int, _ list: DestinationList) { preconditionFailure("abstract") }
    public func removed(at position: Int, _ list: DestinationList) { preconditionFailure("abstract") }
    public func edited(at position: Int, _ list: DestinationList) { preconditionFailure("abstract") }
    /// An independent copy (copy-on-write of a shared engine).
    public func copy() -> SchedulerCell { preconditionFailure("abstract") }
}

extension Scheduler {
    static func makeCell(setup: SchedulerSetup, destinations: DestinationList) -> SchedulerCell {
        TypedSchedulerCell(Self(setup: setup, destinations: destinations))
    }
}

/// The cell of one scheduler type. The state sits behind a pointer the cell owns: a
/// stored `var` of a class would cost a dynamic exclusivity check per call.
final class TypedSchedulerCell<S: Scheduler>: SchedulerCell {
    let state: UnsafeMutablePointer<S>

    init(_ scheduler: S) {
        state = .allocate(capacity: 1)
        state.initialize(to: scheduler)
        super.init()
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    override func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? { state.pointee.select(request, list) }
    override func added(at position: Int, _ list: DestinationList) { state.pointee.added(at: position, list) }
    override func removed(at position: Int, _ list: DestinationList) { state.pointee.removed(at: position, list) }
    override func edited(at position: Int, _ list: DestinationList) { state.pointee.edited(at: position, list) }
    override func copy() -> SchedulerCell {
        let cell = TypedSchedulerCell(state.pointee)
        cell.setOrder(UnsafeBufferPointer(order))
        return cell
    }
}
