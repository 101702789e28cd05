#if canImport(Glibc)
import Glibc
#endif
import CUVSNet
import Synchronization

/// Set once, when the director stops.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// One worker thread, pinned to a CPU, owning a `WorkerState` for its lifetime.
final class Worker: @unchecked Sendable {
    let id: Int
    let cpu: Int32
    let mailbox = Mailbox()
    private let stop: StopFlag
    /// Held here before start and after exit; the thread owns it in between.
    private var state: WorkerState?
    private var thread = pthread_t()

    init(id: Int, cpu: Int32, state: WorkerState, stop: StopFlag) {
        self.id = id; self.cpu = cpu; self.state = state; self.stop = stop
    }

    func start() {
        thread = Threads.start { self.main() }
    }

    private func main() {
        _ = uvs_pin_thread(cpu)
        var s = state.take()!
        s.run(stop: stop, mailbox: mailbox)
        state = s
    }

    /// Waits for the thread and closes its sockets.
    func join() {
        pthread_join(thread, nil)
        guard var s = state.take() else { return }
        s.flush()
        for i in s.rings.indices { s.rings[i].close() }
        for i in s.tx.indices { s.tx[i].close() }
        s.release()
    }

    /// Runs `body` on the worker thread between two batches; returns when it has run.
    func perform(_ body: @escaping @Sendable (inout WorkerState) -> Void) {
        let job = Job(body)
        mailbox.post(job)
        job.done.wait()
    }

    /// Posts `body` without waiting.
    func post(_ body: @escaping @Sendable (inout WorkerState) -> Void) {
        mailbox.post(Job(body))
    }
}
