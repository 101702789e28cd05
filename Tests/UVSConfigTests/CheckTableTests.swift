import Testing
@testable import UVSConfig

/// `uvsd config --explain`: the "on failure" column says what each file's own tool does.
struct CheckTableTests {
    func column(_ cfg: DirectorConfig) -> [String] {
        CheckTable.render(cfg).split(separator: "\n").filter { $0.hasPrefix("# 10.") }
            .map { String($0.split(separator: "  ").last!.drop(while: { $0 == " " })) }
    }

    @Test func keepalivedCountsRetryPlusOneAndAlpha() throws {
        let cfg = try KeepalivedReader.read(path: "k.conf", text: """
            virtual_server 192.0.2.1 80 {
              sorry_server 10.0.9.9 80
              real_server 10.0.0.1 80 { inhibit_on_failure
                TCP_CHECK { retry 2 } }
              real_server 10.0.0.2 80 { alpha
                HTTP_GET { url { path / } } }
            }
            """)
        #expect(column(cfg) == [
            "weight 0 at 3 fails in a row; back at 1 pass; starts up, and its first fail takes it out; all out: 10.0.9.9:80",
            "removed at 2 fails in a row; back at 1 pass; starts down (alpha); all out: 10.0.9.9:80",
        ])
    }

    @Test func nannyOutAtOneFailBackAfterReentryPasses() throws {
        let cfg = try LvsReader.read(path: "lvs.cf", text: """
            service = lvs
            primary = 10.0.0.254
            virtual web {
                active = 1
                address = 192.0.2.1 eth0:1
                port = 80
                timeout = 5
                reentry = 15
                quiesce_server = 1
                server a {
                    address = 10.0.0.1
                    active = 1
                }
            }
            """)
        #expect(column(cfg) == ["weight 0 at 1 fail; back after 3 passes, slow start"])
    }

    @Test func ldirectordFailurecount() throws {
        let cfg = try LdirectordReader.read(path: "ld.cf", text: """
            failurecount=4
            quiescent=no
            virtual=192.0.2.1:80
            \treal=10.0.0.1:80 gate 1
            \tchecktype=connect
            """)
        #expect(column(cfg) == ["removed at 4 fails in a row; back at 1 pass"])
    }
}
