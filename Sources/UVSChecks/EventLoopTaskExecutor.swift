import NIOCore

/// Runs the checks' tasks on the checks' event loop thread itself. Without it every `await`
/// on a NIO future hops between the loop and Swift's global pool — two thread wake-ups per
/// I/O step, which at 10,000 checks a second cost more than the checks.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let loop: EventLoop
    init(_ loop: EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Sleeps on the loop's own timer (cancellable), so the task wakes on the loop thread.
    func sleep(seconds: Double) async {
        guard seconds > 0 else { return }
        let scheduled = loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {}
        await withTaskCancellationHandler {
            _ = try? await scheduled.futureResult.get()
        } onCancel: {
            scheduled.cancel()
        }
    }
}
