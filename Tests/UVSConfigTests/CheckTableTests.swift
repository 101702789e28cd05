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

/// keepalived's track_file and FILE_CHECK (check_file.c, track_file.c).
struct FileCheckReaderTests {
    @Test func weightsResolveAndOrderMatters() throws {
        let cfg = try KeepalivedReader.read(path: "k.conf", text: """
            track_file maint {
                file /run/maint
                weight 0
            }
            track_file load {
                file /run/load
                weight -2 reverse
                init_file 7 overwrite
            }
            virtual_server 192.0.2.1 80 {
              real_server 10.0.0.1 80 { FILE_CHECK { track_file maint } }
              real_server 10.0.0.2 80 { FILE_CHECK { track_file load } }
              real_server 10.0.0.3 80 { FILE_CHECK { track_file load
                                                     weight 4 noreverse } }
            }
            """)
        #expect(cfg.trackedFiles == [TrackedFile(name: "maint", path: "/run/maint", weight: 0),
                                     TrackedFile(name: "load", path: "/run/load", weight: -2, reverse: true, initValue: 7, overwrite: true)])
        let c = cfg.services[0].realServers.map { $0.checks[0] }
        #expect(c.allSatisfy { $0.kind == .file && $0.retry == 0 })
        // FILE_CHECK without its own weight takes the track_file's weight and reverse.
        #expect(c[0].setting("weight") == ["0"] && c[0].setting("reverse") == ["no"])
        #expect(c[1].setting("weight") == ["-2"] && c[1].setting("reverse") == ["yes"] && c[1].setting("file") == ["/run/load"])
        #expect(c[2].setting("weight") == ["4"] && c[2].setting("reverse") == ["no"])
        // keepalived looks the name up as it parses: a track_file after its FILE_CHECK is unknown there.
        #expect(throws: KeepalivedReader.FileError.self) {
            try KeepalivedReader.read(path: "k.conf", text: """
                virtual_server 192.0.2.1 80 {
                  real_server 10.0.0.1 80 { FILE_CHECK { track_file later } }
                }
                track_file later {
                    file /run/later
                }
                """)
        }
        #expect(throws: KeepalivedReader.FileError.self) {
            try KeepalivedReader.read(path: "k.conf", text: "track_file t {\n weight 300\n file /x\n}\n")
        }
    }
}
