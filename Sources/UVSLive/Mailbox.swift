#if canImport(Glibc)
import Glibc
#endif
import CUVSNet
import Dispatch
import Synchronization
import UVSEngine

/// Work for one worker thread, run between two blocks of frames with the worker's own
/// state (its engine included): configuration changes, snapshots for listings, learned
/// neighbours. The packet path never waits for it: the worker checks one atomic flag per
/// batch, and an eventfd wakes it when idle.
final class Job: @unchecked Sendable {
    let body: @Sendable (inout WorkerState) -> Void
    let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable (inout WorkerState) -> Void) { self.body = body }
}

final class Mailbox: Sendable {
    private let jobs = Mutex<[Job]>([])
    private let flag = Atomic<Bool>(false)
    let eventfd: Int32

    init() { eventfd = uvs_eventfd() }
    deinit { close(eventfd) }

    func post(_ job: Job) {
        jobs.withLock { $0.append(job) }
        flag.store(true, ordering: .releasing)
        uvs_eventfd_signal(eventfd)
    }

    @inline(__always) var hasWork: Bool { flag.load(ordering: .acquiring) }

    func take() -> [Job] {
        flag.store(false, ordering: .releasing)
        return jobs.withLock { j in
            let out = j
            j.removeAll()
            return out
        }
    }
}

/// A value handed from a worker thread back to the thread waiting on the job.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
