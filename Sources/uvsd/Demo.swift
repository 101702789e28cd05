import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import UVSControl
import UVSEngine
import UVSIO

/// `uvsd demo`: replays the bundled demo capture and prints the listings.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Replay the bundled demo lab (fixtures/demo) and print the ipvsadm listings.")

    @Option(name: .long, help: "Directory holding rules.txt, input.pcap and replies.pcap.")
    var lab = "fixtures/demo"
    @Option(name: .long, help: "Where the outputs go.")
    var out = "/tmp/uvs-demo"

    func run() throws {
        var o = Replay.Options(rulesPath: lab + "/rules.txt", inputPath: lab + "/input.pcap", outDir: out)
        if access(lab + "/replies.pcap", R_OK) == 0 { o.repliesPath = lab + "/replies.pcap" }
        do {
            let (s, engine) = try Replay(o).run()
            var l = ListOptions()
            l.numeric = true
            print("uvs demo: \(s.inputFrames) client frames and \(s.replyFrames) server replies through the engine")
            print("$ uvsadm -L -n")
            print(Listing.list(engine, l), terminator: "")
            l.format = .stats
            print("$ uvsadm -L -n --stats")
            print(Listing.list(engine, l), terminator: "")
            print("frames to real servers: \(s.toServers) (\(out)/out.pcap), to clients: \(s.toClients) (\(out)/out-client.pcap)")
        } catch {
            printError("uvsd: \(error.description)")
            throw ExitCode(1)
        }
    }
}
