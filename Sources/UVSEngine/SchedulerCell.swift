/// A service's scheduler in a heap cell of its own: a decision is one virtual call that
/// mutates the scheduler in place. (As an `any Scheduler`, a scheduler larger than three
/// words lived in an existential box that every mutating call checked for uniqueness and
/// projected: about 50 instructions a decision, more than rr's whole choice.)
///
/// Engines stay values: the engine copies a cell it shares before calling it
/// (`isKnownUniquelyReferenced`), as an array would.
public class SchedulerCell {
    /// The subclass for one scheduler type is the only implementation; `make` builds it.
    fileprivate init() {}

    /// Builds the cell for a registered scheduler type.
    public static func make(_ type: any Scheduler.Type, setup: SchedulerSetup, destinations: DestinationList) -> SchedulerCell {
        type.makeCell(setup: setup, destinations: destinations)
    }

    public func select(_ request: SchedulingRequest, _ list: DestinationList) -> Int? { preconditionFailure("abstract") }
    public func added(at position: Int, _ list: DestinationList) { preconditionFailure("abstract") }
    public func removed(at position: Int, _ list: DestinationList) { preconditionFailure("abstract") }
    public func edited(at position: Int, _ list: DestinationList) { preconditionFailure("abstract") }
    /// An independent copy (copy-on-write of a shared engine).
    public func copy() -> SchedulerCell { preconditionFailure("abstract") }
    /// The scheduler itself (tests).
    public var scheduler: any Scheduler { preconditionFailure("abstract") }
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
    override func copy() -> SchedulerCell { TypedSchedulerCell(state.pointee) }
    override var scheduler: any Scheduler { state.pointee }
}
