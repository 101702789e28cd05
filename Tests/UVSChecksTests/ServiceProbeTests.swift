#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import UVSChecks
@testable import UVSConfig

/// The wire details of ldirectord's ftp, sip and radius checks.
struct ServiceProbeTests {
    @Test func radiusPasswordHidingMatchesRFC2865Example() {
        // RFC 2865 §7.1: User-Password "arctangent", secret "xyzzy5461".
        let auth: [UInt8] = [0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4, 0x22, 0x7a]
        let hidden = RADIUSProbe.hide(Array("arctangent".utf8), secret: Array("xyzzy5461".utf8), authenticator: auth)
        #expect(hidden == [0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a, 0x0a, 0xee])
        let req = RADIUSProbe.request(id: 0, authenticator: auth, login: "nemo", password: "arctangent", secret: "xyzzy5461")
        // Code 1, id 0, length 50, then User-Name, User-Password, NAS-IP-Address 127.0.0.1 (Authen::Radius's).
        #expect(Array(req[0..<4]) == [1, 0, 0, 50])
        #expect(Array(req[20..<26]) == [1, 6] + Array("nemo".utf8))
        #expect(Array(req[26..<28]) == [2, 18] && Array(req[28..<44]) == hidden)
        #expect(Array(req[44...]) == [4, 6, 127, 0, 0, 1])
    }

    @Test func ftpPassiveReply() {
        #expect(FTPProbe.passive("227 Entering Passive Mode (10,10,2,11,195,80).").map { $0.0 == "10.10.2.11" && $0.1 == 50000 } == true)
        #expect(FTPProbe.passive("227 Entering Passive Mode (10,10,2,11,195)") == nil)
        #expect(FTPProbe.passive("227 =300,1,1,1,1,1") == nil)
    }

    @Test func sipRequestAndVerdict() {
        let text = String(decoding: SIPProbe.request(login: "pbx@lab", from: ("10.0.0.1", 40000)), as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines[0] == "OPTIONS sip:pbx@lab SIP/2.0")
        #expect(lines[1] == "Via: SIP/2.0/UDP 10.0.0.1:40000;branch=z9hG4bKhjhs8ass877")
        #expect(lines.contains("CSeq: 63104 OPTIONS") && text.hasSuffix("Content-Length: 0\r\n\r\n"))
        #expect(SIPProbe.judge(Array("SIP/2.0 200 OK\r\nVia: x\r\n\r\n".utf8)).passed)
        #expect(!SIPProbe.judge(Array("SIP/2.0 404 Not Found\r\n".utf8)).passed)
        #expect(!SIPProbe.judge([]).passed)
    }

    @Test func ldirectordServiceDefaults() throws {
        let cfg = try LdirectordReader.read(path: "ld.cf", text: """
            virtual=192.0.2.1:21
            \treal=10.0.0.1:21 masq
            \tservice=ftp
            \trequest="x.txt"
            virtual=192.0.2.1:2121
            \treal=10.0.0.1:2121 masq
            \tcheckport=21
            virtual=192.0.2.1:5060
            \treal=10.0.0.1:5060 masq
            \tservice=sip
            \tprotocol=udp
            virtual=192.0.2.1:1812
            \treal=10.0.0.1:1812 masq
            \tservice=radius
            \tprotocol=udp
            \tsecret="k"
            \tchecktimeout=2
            \tnegotiatetimeout=7
            """)
        let host = LdirectordReader.hostname()
        let ftp = try #require(cfg.services[0].realServers[0].checks.first)
        #expect(ftp.kind == .ftp && ftp.setting("login") == ["anonymous"] && ftp.setting("passwd") == ["ldirectord@\(host)"])
        #expect(ftp.setting("request") == ["/x.txt"])
        // Port 2121 is no well-known service: no ftp check is derived from checkport alone.
        #expect(cfg.services[1].realServers[0].checks.first?.kind != .ftp)
        let sip = try #require(cfg.services[2].realServers[0].checks.first)
        #expect(sip.kind == .sip && sip.setting("login") == ["ldirectord@\(host)"] && sip.setting("protocol") == ["udp"])
        let radius = try #require(cfg.services[3].realServers[0].checks.first)
        #expect(radius.kind == .radius && radius.setting("secret") == ["k"] && radius.timeout == 2)
    }
}

/// FILE_CHECK's verdicts (track_file.c's update_track_file_status and process_track_file).
struct TrackedFileCheckTests {
    @Test func weightZeroIsUpDownAndReverseFlipsIt() {
        #expect(TrackedFileCheck.verdict(value: 0, weight: 0, reverse: false, configuredWeight: 5, name: "m") == .pass(weight: 5))
        #expect(!TrackedFileCheck.verdict(value: 1, weight: 0, reverse: false, configuredWeight: 5, name: "m").passed)
        #expect(!TrackedFileCheck.verdict(value: 0, weight: 0, reverse: true, configuredWeight: 5, name: "m").passed)
        #expect(TrackedFileCheck.verdict(value: -3, weight: 0, reverse: true, configuredWeight: 5, name: "m") == .pass(weight: 5))
    }

    @Test func weightedNumbersMoveTheWeight() {
        #expect(TrackedFileCheck.verdict(value: 3, weight: 2, reverse: false, configuredWeight: 5, name: "l") == .pass(weight: 11))
        #expect(TrackedFileCheck.verdict(value: 3, weight: 2, reverse: true, configuredWeight: 5, name: "l") == .pass(weight: 0))
        #expect(!TrackedFileCheck.verdict(value: Int64(Int32.min), weight: 1, reverse: false, configuredWeight: 5, name: "l").passed)
    }

    @Test func fileValuesAsKeepalivedReadsThem() throws {
        let dir = "/tmp/uvs-trackfile-\(getpid())"
        mkdir(dir, 0o755)
        defer { _ = unlink(dir + "/v"); rmdir(dir) }
        func put(_ s: String) {
            let fd = open(dir + "/v", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = Array(s.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        #expect(TrackedFileCheck.value(at: dir + "/v") == 0)   // missing: 0
        put("42\n"); #expect(TrackedFileCheck.value(at: dir + "/v") == 42)
        put("0x10"); #expect(TrackedFileCheck.value(at: dir + "/v") == 16)   // strtol base 0
        put("junk"); #expect(TrackedFileCheck.value(at: dir + "/v") == 0)
        put("99999999999"); #expect(TrackedFileCheck.value(at: dir + "/v") == nil)   // out of range: ignored
        // init_file writes only a missing file unless told to overwrite.
        TrackedFileCheck.initialise(TrackedFile(name: "v", path: dir + "/v", initValue: 5))
        #expect(TrackedFileCheck.value(at: dir + "/v") == nil)
        TrackedFileCheck.initialise(TrackedFile(name: "v", path: dir + "/v", initValue: 5, overwrite: true))
        #expect(TrackedFileCheck.value(at: dir + "/v") == 5)
    }
}

/// ldirectord's monitorfile lines.
struct MonitorFileTests {
    @Test func lineFormatAndEscapes() {
        setenv("TZ", "UTC", 1); tzset()
        let l = MonitorFile.line(id: "negotiate http tcp 10.0.0.1 80 1 masq /x ^ok", up: false,
                                 message: "status 500|boom\n", at: 1_796_288_408, pid: 42)
        #expect(l == "[Thu Dec  3 09:00:08 2026] [42] negotiate http tcp 10.0.0.1 80 1 masq /x ^ok [down] status 500%7cboom%0a\n")
        #expect(MonitorFile.line(id: "x", up: true, message: "", at: 0, pid: 1).hasSuffix("] [1] x [up] -\n"))
    }

    @Test func realIDsSqueezeColonsAsTrDoes() {
        #expect(LdirectordReader.squeezeColons("negotiate:http:tcp:10.0.0.1:80:::1:masq:/x:") == "negotiate http tcp 10.0.0.1 80 1 masq /x ")
    }
}

/// ldirectord's ldap check on the wire (RFC 4511 BER).
struct LDAPProbeTests {
    @Test func bindAndSearchEncoding() {
        let dn = Array("cn=admin,dc=lab".utf8), pw = Array("secret".utf8)
        #expect(LDAPProbe.bind(id: 1, dn: "cn=admin,dc=lab", password: "secret")
                == [0x30, 0x21, 0x02, 0x01, 0x01, 0x60, 0x1c, 0x02, 0x01, 0x03, 0x04, 0x0f] + dn + [0x80, 0x06] + pw)
        let s = LDAPProbe.search(id: 2, base: "dc=lab")
        #expect(Array(s.prefix(7)) == [0x30, 0x2b, 0x02, 0x01, 0x02, 0x63, 0x26])
        #expect(s.suffix(15) == [0x87, 0x0b] + Array("objectClass".utf8) + [0x30, 0x00])
        // A long-form length, and an element that is not complete yet.
        let long = LDAPProbe.tlv(0x04, [UInt8](repeating: 0x61, count: 300))
        #expect(Array(long.prefix(4)) == [0x04, 0x82, 0x01, 0x2c])
        #expect(LDAPProbe.element(long)?.end == 304 && LDAPProbe.element(Array(long.prefix(200))) == nil)
    }
}

/// ldirectord's pgsql check: PostgreSQL's password exchanges.
struct PostgresProbeTests {
    @Test func scramSHA256MatchesRFC7677() throws {
        let r = try #require(PostgresProbe.scramFinal(
            password: "pencil", clientFirstBare: "n=user,r=rOprNGfwEbeRWgbNEkqO",
            serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
        #expect(r.final == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        #expect(Base64.encode(r.serverSignature) == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    }

    @Test func md5PasswordAndFraming() {
        #expect(PostgresProbe.md5Password(user: "probe", password: "sesame", salt: [1, 2, 3, 4]) == "md580fae899fdb3ba6ad9571b2b62790fbe")
        #expect(PostgresProbe.message("Q", PostgresProbe.cstring("SELECT 1")) == [0x51, 0, 0, 0, 13] + Array("SELECT 1".utf8) + [0])
        let s = PostgresProbe.startup(user: "u", database: "")
        #expect(s == [0, 0, 0, 16, 0, 3, 0, 0] + Array("user".utf8) + [0, 0x75, 0, 0])
        #expect(Base64.decode(Base64.encode([0xff, 0x00, 0x10, 0x20])) == [0xff, 0x00, 0x10, 0x20])
    }
}

/// ldirectord's mysql check: the protocol-10 login.
struct MySQLProbeTests {
    @Test func nativePasswordAndHandshake() {
        let scramble = Array(UInt8(1)...UInt8(20))
        #expect(Hex.string(MySQLProbe.nativePassword("sesame", scramble: scramble)) == "bd1311674b08176dc159a8f9dc74318018dc1938")
        #expect(MySQLProbe.nativePassword("", scramble: scramble).isEmpty)
        // A greeting: version 10, "5.5.5-x\0", thread id, scramble 1-8, filler, caps, charset, status,
        // caps, length 21, reserved, scramble 9-20 + NUL, plugin name.
        let hello: [UInt8] = [10] + Array("5.5.5-x".utf8) + [0, 1, 0, 0, 0] + Array(scramble[0..<8]) + [0, 0xff, 0xf7, 33, 2, 0, 0xff, 0x81, 21]
            + [UInt8](repeating: 0, count: 10) + Array(scramble[8..<20]) + [0] + Array("mysql_native_password".utf8) + [0]
        #expect(MySQLProbe.scramble(ofHandshake: hello) == scramble)
        #expect(MySQLProbe.packet(1, [0xaa, 0xbb]) == [2, 0, 0, 1, 0xaa, 0xbb])
        let r = MySQLProbe.handshakeResponse(user: "probe", password: "sesame", database: "health", scramble: scramble)
        #expect(Array(r[0..<4]) == [0x09, 0xa2, 0x08, 0x00])   // PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | CONNECT_WITH_DB | …
        #expect(Array(r[32..<38]) == Array("probe".utf8) + [0] && r[38] == 20)
    }
}
