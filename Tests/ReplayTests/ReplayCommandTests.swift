import Foundation
import Testing

/// `uvsd replay` as a command: exit status 0 / 1 (bad input) / 2 (usage), clear messages.
struct ReplayCommandTests {
    static let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("uvsd").path
    static let fixture = OracleFixtureTests.root.appendingPathComponent("fixtures/scenarios/dr-rr").path

    func run(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.bin)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (p.terminationStatus, text)
    }

    func temp(_ name: String, _ content: String) throws -> String {
        let path = NSTemporaryDirectory() + "uvs-\(getpid())-\(name)"
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func ok() throws {
        let out = NSTemporaryDirectory() + "uvs-ok-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (status, _) = try run(["replay", Self.fixture + "/rules.txt", Self.fixture + "/input.pcap", out])
        #expect(status == 0)
        #expect(FileManager.default.fileExists(atPath: out + "/ipvsadm-L.txt"))
    }

    @Test func badRulesLine() throws {
        let rules = try temp("bad.rules", "-A -t 192.0.2.100:80 -s rr\n-a -t 192.0.2.100:80 -r 198.51.100.11 -x 5 -y 9\n")
        let (status, msg) = try run(["replay", rules, Self.fixture + "/input.pcap", NSTemporaryDirectory() + "uvs-never"])
        #expect(status == 1)
        #expect(msg == "uvsd: \(rules):2: Numerical result out of range\n")
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "uvs-never"))
        let rules2 = try temp("bad2.rules", "-A -t 192.0.2.100:80 -s nosuch\n")
        #expect(try run(["replay", rules2, Self.fixture + "/input.pcap", "/tmp/x"]) == (1, "uvsd: \(rules2):1: Scheduler or persistence engine not found\n"))
    }

    @Test func badCapture() throws {
        let notPcap = try temp("not.pcap", "this is not a capture file\n")
        let (status, msg) = try run(["replay", Self.fixture + "/rules.txt", notPcap, "/tmp/uvs-x"])
        #expect(status == 1)
        #expect(msg.hasPrefix("uvsd: \(notPcap): "))
        // A capture cut in the middle of a record: libpcap reports it; nothing is half-done.
        let truncated = NSTemporaryDirectory() + "uvs-\(getpid())-trunc.pcap"
        try Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/input.pcap")).prefix(150).write(to: URL(fileURLWithPath: truncated))
        let (st, m) = try run(["replay", Self.fixture + "/rules.txt", truncated, "/tmp/uvs-x"])
        #expect(st == 1 && m.contains("truncated"))
        #expect(try run(["replay", Self.fixture + "/rules.txt", "/nonexistent.pcap", "/tmp/uvs-x"]).0 == 1)
    }

    @Test func usage() throws {
        #expect(try run(["replay", "only-one-arg"]).0 == 2)
        #expect(try run(["replay", "--mode", "xyz", "a", "b", "c"]).0 == 2)
        #expect(try run(["replay", "--help"]).0 == 0)
    }
}
