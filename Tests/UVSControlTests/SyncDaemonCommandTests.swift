import Foundation
import Testing
@testable import UVSControl
import UVSEngine
import UVSPacket

/// `--start-daemon`, `--stop-daemon` and `-L --daemon` against kernel IPVS: every command of
/// fixtures/ipvsadm-daemon/commands.sh, run by ipvsadm in the oracle guest (transcript.txt:
/// output and exit status), run again here and compared line by line.
struct SyncDaemonCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The guest's links when the commands ran: dir-out has only the IPv4 director address.
    var links: [String: SyncLink] = [
        "dir-in": SyncLink(mtu: 1500, hasIPv4: true, hasIPv6: false),
        "dir-out": SyncLink(mtu: 1500, hasIPv4: true, hasIPv6: false),
        "lo": SyncLink(mtu: 65536, hasIPv4: true, hasIPv6: true),
    ]

    /// One command line as uvsadm runs it against uvsd: output and exit status.
    func run(_ words: [String], _ e: inout Engine) -> (String, Int32) {
        let cmd: IPVSCommand
        do { cmd = try CommandParser.parse(words) } catch { return (error.message + "\n", error.status) }
        switch cmd {
        case .list(let o): return (Listing.list(e, o), 0)
        case .save(let n): return (Listing.save(e, numeric: n), 0)
        default:
            do { try Rules.apply(cmd, to: &e, links: { links[$0] }) } catch { return (error.description + "\n", 255) }
            return ("", 0)
        }
    }

    @Test func transcriptOfTheKernel() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("fixtures/ipvsadm-daemon/transcript.txt"), encoding: .utf8)
        var e = Engine(topology: Topology.oracleDefaults(directorIPv4: IPAddr("198.51.100.254")!, directorIPv6: IPAddr("fdfe::fe")!,
                                                         clientSideMAC: MACAddr("02:00:00:00:d0:01")!))
        var checked = 0
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)[...]
        while let line = lines.popFirst() {
            guard line.hasPrefix("== ipvsadm") else { continue }
            var want = ""
            var status: Int32 = 0
            while let l = lines.popFirst() {
                if l.hasPrefix("rc=") { status = Int32(l.dropFirst(3))!; break }
                want += l + "\n"
            }
            let words = line.dropFirst("== ipvsadm ".count).split(separator: " ").map(String.init)
            let (got, rc) = run(words, &e)
            #expect(got == want, "ipvsadm \(words.joined(separator: " ")): printed \(got.debugDescription), kernel \(want.debugDescription)")
            #expect(rc == status, "ipvsadm \(words.joined(separator: " ")): exit \(rc), kernel \(status)")
            checked += 1
        }
        #expect(checked > 70)
    }

    @Test func secondCommandIsNamedAsPoptDoes() {
        do {
            _ = try CommandParser.parse(["--start-daemon", "master", "--stop-daemon", "master"])
            Issue.record("accepted two commands")
        } catch {
            #expect(error.message == "invalid option `master'")
        }
    }
}
