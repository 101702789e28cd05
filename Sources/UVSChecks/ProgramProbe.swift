#if canImport(Glibc)
import Glibc
#endif

/// A check program (keepalived's MISC_CHECK, ldirectord's external, nanny's send_program):
/// spawned without a shell, stdin and stderr on /dev/null, stdout read, and killed at its
/// timeout (SIGTERM, SIGKILL `killAfter` seconds later). Polled from an async task, so a hung
/// program holds no thread and delays no other check.
enum ProgramProbe {
    struct Outcome { var status: Int32?; var signalled: Bool; var timedOut: Bool; var output: [UInt8] }

    static func run(_ argv: [String], timeout: Double, killAfter: Double = 2, outputLimit: Int = 4095) async -> Outcome {
        guard !argv.isEmpty else { return Outcome(status: nil, signalled: false, timedOut: false, output: []) }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return Outcome(status: nil, signalled: false, timedOut: false, output: []) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Its own process group, so the kill reaches what a script started too.
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, &cargs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            return Outcome(status: 127, signalled: false, timedOut: false, output: [])
        }
        defer { close(fds[0]) }
        let start = Self.now()
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        var status: Int32 = 0
        var termSent: Double?
        var timedOut = false
        while true {
            while out.count < outputLimit {
                let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, min(4096, outputLimit - out.count)) }
                if n <= 0 { break }
                out += buf[..<n]
            }
            let w = waitpid(pid, &status, WNOHANG)
            if w == pid { break }
            let t = Self.now() - start
            if termSent == nil && t >= timeout {
                timedOut = true
                kill(-pid, SIGTERM); kill(pid, SIGTERM)
                termSent = t
            } else if let s = termSent, t >= s + killAfter {
                kill(-pid, SIGKILL); kill(pid, SIGKILL)
            }
            try? await Task.sleep(nanoseconds: t < 0.05 ? 2_000_000 : 10_000_000)
        }
        let signalled = (status & 0x7F) != 0
        return Outcome(status: signalled ? nil : (status >> 8) & 0xFF, signalled: signalled, timedOut: timedOut, output: out)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
