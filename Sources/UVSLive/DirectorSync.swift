#if canImport(Glibc)
import Glibc
#endif
import UVSControl
import UVSEngine
import UVSPacket

/// The sync daemons of a running director (spec §7): sockets opened before a change is
/// committed (so a failure changes nothing), the master's messages sent by each worker
/// after its batch, the backup's entries handed to the worker that owns the client.
extension Director {
    /// New sockets for the daemons that change: nil = unchanged, -1 = stopped.
    struct SyncChange {
        var masterFD: Int32?
        var backupFD: Int32?
        /// The backup daemon the new receiving socket is for.
        var backup: SyncDaemonConfig? = nil
    }

    func prepareSync(from old: [SyncDaemonConfig], to new: [SyncDaemonConfig]) throws(SyncSockets.Failure) -> SyncChange {
        var change = SyncChange()
        let (oldMaster, newMaster) = (old.first { $0.role == .master }, new.first { $0.role == .master })
        let (oldBackup, newBackup) = (old.first { $0.role == .backup }, new.first { $0.role == .backup })
        if oldMaster != newMaster { change.masterFD = try newMaster.map { d throws(SyncSockets.Failure) in try SyncSockets.openMaster(d) } ?? -1 }
        if oldBackup != newBackup {
            do {
                change.backupFD = try newBackup.map { d throws(SyncSockets.Failure) in try SyncSockets.openBackup(d) } ?? -1
                change.backup = newBackup
            } catch {
                if let fd = change.masterFD, fd >= 0 { close(fd) }
                throw error
            }
        }
        return change
    }

    /// Takes the new sockets (under `lock`, after the workers follow the configuration):
    /// the replaced master socket is closed, the replaced receiver stopped.
    func commitSync(_ change: SyncChange) {
        if let fd = change.masterFD {
            if syncMasterFD >= 0 { close(syncMasterFD) }
            syncMasterFD = fd
        }
        if let fd = change.backupFD {
            syncReceiver?.stop()
            syncReceiver = nil
            if fd >= 0, let backup = change.backup {
                let id = backup.syncID
                syncReceiver = SyncReceiver(fd: fd) { [weak self] d in self?.receivedSync(d, syncID: id) }
            }
        }
    }

    /// One datagram to the backup's group: decoded once, each entry to its client's worker.
    /// (On the receiving thread: takes only `syncLock`.)
    func receivedSync(_ d: UnsafeRawBufferPointer, syncID: UInt8) {
        guard !workers.isEmpty else { return }
        let sel = syncLock.with { syncSelection }
        var perWorker = [[SyncEntry]](repeating: [], count: workers.count)
        var rejected: UInt64 = 0
        let n = workers.count
        SyncMessage.read(d, syncID: syncID, entry: { perWorker[sel.worker(forClient: $0.caddr, of: n)].append($0) },
                         rejected: { _ in rejected += 1 })
        syncLock.with {
            syncMessages &+= 1
            syncRejected &+= rejected
        }
        for (i, list) in perWorker.enumerated() where !list.isEmpty {
            workers[i].post { s in
                s.engine.advance(to: max(s.now(), s.engine.now))
                for e in list { s.engine.applySync(e) }
            }
        }
    }
}
