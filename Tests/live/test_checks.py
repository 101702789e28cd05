"""Health checks live: uvsd run --config with each format's file, real servers that really fail
and recover (process killed, link down, wrong content, scripts' exit codes), asserting the
listing, the weights, the check-state listing and where new connections go."""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Lab, VIP, RS_ADDRS  # noqa: E402
from test_live import LiveTestCase  # noqa: E402


def http_server(lab, rs):
    """The Popen of rs's http.server (started by lab.start_http_servers)."""
    for p in lab.procs:
        if p.args[3] == lab.ns[rs] and "http.server" in p.args:
            return p
    raise RuntimeError(f"no http.server in {rs}")


def kill(p):
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()


def restart_http(lab, rs):
    d = os.path.join(lab.tmp, rs)
    lab.spawn(rs, "python3", "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", d,
              log=os.path.join(lab.tmp, f"{rs}-http2.log"))
    lab.wait_port(rs, 80)


def self_signed(lab, name):
    """A throwaway certificate and key (openssl) in the lab's directory: (cert, key)."""
    cert, key = os.path.join(lab.tmp, f"{name}.crt"), os.path.join(lab.tmp, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


HTTPS_SERVER = """
import http.server, ssl, sys, os
os.chdir(sys.argv[1])
httpd = http.server.HTTPServer(('0.0.0.0', 443), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
"""

POP3S_SERVER = """
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 995))
s.listen(16)
def serve(c):
    try:
        c = ctx.wrap_socket(c, server_side=True)
        f = c.makefile('rwb')
        f.write(b'+OK POP3 ready\\r\\n'); f.flush()
        for line in f:
            cmd = line.strip().split(b' ')
            if cmd[0] == b'USER': f.write(b'+OK\\r\\n')
            elif cmd[0] == b'PASS': f.write(b'+OK\\r\\n' if cmd[1:] == [b'letmein'] else b'-ERR denied\\r\\n')
            elif cmd[0] == b'QUIT': f.write(b'+OK bye\\r\\n'); f.flush(); break
            f.flush()
        c.close()
    except Exception:
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def nanny_conf(settings, weights):
    """An lvs.cf (NAT) with one virtual on VIP:80 checked by nanny's send/expect every second,
    `settings` added to the virtual, a server per address of `weights`."""
    lines = ["primary = 10.10.1.254", "service = lvs", "network = nat", "virtual web {", "  active = 1",
             f"  address = {VIP} d0:1", "  port = 80", '  send = "GET /name HTTP/1.0\\r\\n\\r\\n"',
             '  expect = "HTTP/1.0 200"', "  timeout = 1"]
    lines += [f"  {k} = {v}" for k, v in settings.items()]
    for i, (a, w) in enumerate(weights.items()):
        lines += [f"  server rs{i + 1} {{", f"    address = {a}", "    active = 1", f"    weight = {w}", "  }"]
    return "\n".join(lines + ["}"]) + "\n"


class CheckAssertions(LiveTestCase):
    def servers(self, lab):
        """{RIP:PORT: weight} of the listing (uvsadm -L -n)."""
        out = {}
        for line in lab.uvsadm("-L", "-n").stdout.splitlines():
            w = line.split()
            if line.startswith("  ->") and len(w) >= 4 and w[1][0].isdigit():
                out[w[1]] = int(w[3])
        return out

    def wait_for(self, lab, what, predicate, timeout):
        deadline = time.time() + timeout
        start = time.time()
        while time.time() < deadline:
            v = self.servers(lab)
            if predicate(v):
                return time.time() - start
            time.sleep(0.1)
        self.fail(f"{what}: not within {timeout} s; listing {self.servers(lab)}\n"
                  f"{lab.uvsadm('-L', '--checks').stdout}\nuvsd log:\n{lab.log()[-3000:]}")

    def checks(self, lab):
        return json.loads(lab.uvsadm("-L", "--checks", "--json").stdout)

    def sql_lab(self, lab, server, service, port, database, denied):
        """ldirectord's SQL checks against `server` (the Popen of a real database on rs1:port):
        one virtual whose query returns a row (up), one whose query returns none, one with a
        wrong password (both down, `denied` in the reason), then the server killed (down)."""
        def virtual(vport, request, passwd):
            return (f"virtual={VIP}:{vport}\n\treal={RS_ADDRS[0]}:{port} masq\n\tservice={service}\n\trequest=\"{request}\"\n"
                    f"\tlogin=\"probe\"\n\tpasswd=\"{passwd}\"\n\tdatabase=\"{database}\"\n")
        cf = ("checktimeout=3\nnegotiatetimeout=3\ncheckinterval=1\n" + virtual(port, "SELECT 1", "sesame")
              + virtual(port + 1, "SELECT 1 FROM (SELECT 1) AS t WHERE 1 = 0", "sesame") + virtual(port + 2, "SELECT 1", "wrong"))
        lab.start_uvsd(config=cf, config_name="ldirectord.cf")
        good, empty, wrong = (f"TCP {VIP}:{port + i}" for i in range(3))
        def state():
            return {s["service"]: s["servers"][0] for s in self.checks(lab)["services"]}
        def until(predicate, timeout):
            deadline = time.time() + timeout
            while time.time() < deadline and not predicate():
                time.sleep(0.1)
        # Every check must have finished once: ldirectord's servers start down, so "down" alone
        # says nothing until a failure has been recorded (SCRAM on a slow machine takes a while).
        until(lambda: (lambda st: st[good]["state"] == "up" and st[empty]["last_failure"] is not None
                       and st[wrong]["last_failure"] is not None)(state()), 12)
        st = state()
        self.assertEqual(st[good]["state"], "up", lab.uvsadm("-L", "--checks").stdout)
        self.assertEqual(st[empty]["state"], "down")
        self.assertIn("no row", st[empty]["last_failure"]["reason"])
        self.assertEqual(st[wrong]["state"], "down")
        self.assertIn(denied, st[wrong]["last_failure"]["reason"])
        kill(server)
        until(lambda: state()[good]["state"] == "down", 6)
        self.assertEqual(state()[good]["state"], "down")


class HealthChecks(CheckAssertions):

    def test_keepalived_http_tcp_and_misc_checks(self):
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1 << 16)
            flag = os.path.join(lab.tmp, "rs3-ok")
            open(flag, "w").close()
            script = os.path.join(lab.tmp, "check.sh")
            with open(script, "w") as f:
                f.write(f"#!/bin/sh\n[ -e {flag} ] && exit 0\nsleep 30\n")
            os.chmod(script, 0o755)
            conf = f"""
                global_defs {{ router_id lab }}
                virtual_server {VIP} 80 {{
                    delay_loop 1
                    lvs_sched rr
                    lvs_method NAT
                    protocol TCP
                    real_server {RS_ADDRS[0]} 80 {{
                        HTTP_GET {{ url {{ path /name
                                          status_code 200 }}
                                    connect_timeout 1
                                    retry 1
                                    delay_before_retry 1 }}
                    }}
                    real_server {RS_ADDRS[1]} 80 {{
                        TCP_CHECK {{ connect_timeout 1
                                     retry 0 }}
                    }}
                    real_server {RS_ADDRS[2]} 80 {{
                        weight 2
                        inhibit_on_failure
                        MISC_CHECK {{ misc_path "{script}"
                                      misc_timeout 1 }}
                    }}
                }}
                """
            lab.start_uvsd(config=conf, config_name="keepalived.conf")
            full = {f"{RS_ADDRS[0]}:80": 1, f"{RS_ADDRS[1]}:80": 1, f"{RS_ADDRS[2]}:80": 2}
            self.assertEqual(self.servers(lab), full)   # keepalived adds every server before its first probe
            names = self.requests(lab, 8)
            self.assertEqual(set(names), {"rs1", "rs2", "rs3"}, lab.uvsadm("-L", "--checks").stdout + lab.log()[-3000:])

            # rs2's server killed: connections refused; TCP_CHECK retry 0 → out at the first failure.
            kill(http_server(lab, "rs2"))
            took = self.wait_for(lab, "rs2 removed", lambda v: f"{RS_ADDRS[1]}:80" not in v, 5)
            self.assertLess(took, 3.5)
            self.assertNotIn("rs2", self.requests(lab, 9))
            c = self.checks(lab)["services"][0]["servers"]
            rs2 = [s for s in c if s["address"] == f"{RS_ADDRS[1]}:80"][0]
            self.assertEqual(rs2["state"], "down")
            self.assertIn("connect", rs2["last_failure"]["reason"])
            text = lab.uvsadm("-L", "--checks").stdout
            self.assertRegex(text, rf"{RS_ADDRS[1]}:80\s+down\s+1\s+TCP_CHECK")

            # Back: one success brings the checker up.
            restart_http(lab, "rs2")
            self.wait_for(lab, "rs2 back", lambda v: v.get(f"{RS_ADDRS[1]}:80") == 1, 5)

            # rs1 answers 404 (wrong status): retry 1 → out on the 2nd failure, ≈ 1 s later.
            os.rename(os.path.join(lab.tmp, "rs1", "name"), os.path.join(lab.tmp, "rs1", "gone"))
            self.wait_for(lab, "rs1 removed on 404", lambda v: f"{RS_ADDRS[0]}:80" not in v, 6)
            self.assertIn("status 404", [s for s in self.checks(lab)["services"][0]["servers"]
                                         if s["address"] == f"{RS_ADDRS[0]}:80"][0]["last_failure"]["reason"])
            os.rename(os.path.join(lab.tmp, "rs1", "gone"), os.path.join(lab.tmp, "rs1", "name"))
            self.wait_for(lab, "rs1 back", lambda v: f"{RS_ADDRS[0]}:80" in v, 5)

            # The check script hangs: killed at misc_timeout, and inhibit_on_failure sets weight 0.
            os.unlink(flag)
            self.wait_for(lab, "rs3 quiesced", lambda v: v.get(f"{RS_ADDRS[2]}:80") == 0, 6)
            self.assertNotIn("rs3", self.requests(lab, 6))
            ps = lab.run("lb", "ps", "-eo", "args").stdout
            self.assertNotIn("sleep 30", ps, "the hung check script was not killed")
            open(flag, "w").close()
            self.wait_for(lab, "rs3 back at weight 2", lambda v: v.get(f"{RS_ADDRS[2]}:80") == 2, 5)

            # rs2's link down: TCP connect times out (1 s) → out.
            lab.ip("rs2", "link", "set", "eth0", "down")
            self.wait_for(lab, "rs2 removed on timeout", lambda v: f"{RS_ADDRS[1]}:80" not in v, 5)
            lab.ip("rs2", "link", "set", "eth0", "up")
            lab.ip("rs2", "route", "add", "default", "via", "10.10.2.254", check=False)
            self.wait_for(lab, "rs2 back after its link", lambda v: f"{RS_ADDRS[1]}:80" in v, 6)

            # SIGHUP: a changed weight applies, unchanged servers keep their state; a bad file
            # is refused whole and the running table stays.
            with open(lab.rules_path, "w") as f:
                f.write(conf.replace("weight 2", "weight 5"))
            lab.uvsd.send_signal(signal.SIGHUP)
            self.wait_for(lab, "weight 5 after SIGHUP", lambda v: v.get(f"{RS_ADDRS[2]}:80") == 5, 5)
            before = self.servers(lab)
            with open(lab.rules_path, "w") as f:
                f.write(conf.replace("lvs_sched rr", "lvs_sched rr\n bogus_keyword 1"))
            lab.uvsd.send_signal(signal.SIGHUP)
            time.sleep(1)
            self.assertIn("keepalived.conf:", lab.log())
            self.assertIn("unknown keyword 'bogus_keyword'", lab.log())
            self.assertEqual(set(self.servers(lab)), set(before))
            self.assertEqual(lab.stop_uvsd(), 0)

    def test_lvs_cf_nanny_quiesces_and_established_transfers_finish(self):
        with Lab("nat") as lab:
            blob = lab.start_http_servers(payload_bytes=1 << 17)
            conf = nanny_conf({"reentry": 2, "quiesce_server": 1, "scheduler": "rr"}, {a: 64 for a in RS_ADDRS[:2]})
            lab.start_uvsd(config=conf, config_name="lvs.cf")
            # nanny adds a server at its first pass, at W/32.
            self.wait_for(lab, "both servers in at 64 >> 5", lambda v: v == {f"{RS_ADDRS[0]}:80": 2, f"{RS_ADDRS[1]}:80": 2}, 5)
            # A slow transfer from rs2 is under way when rs2's check starts failing (404).
            t = subprocess.Popen(["ip", "netns", "exec", lab.ns["cl"], "curl", "-s", "--limit-rate", "40k", "--max-time", "30",
                                  "-o", "-", f"http://{VIP}/blob", "--interface", "10.10.1.2"], stdout=subprocess.PIPE)
            deadline = time.time() + 5
            while time.time() < deadline:
                conns = lab.uvsadm("-L", "-n", "-c").stdout
                if "10.10.1.2:" in conns:
                    break
                time.sleep(0.1)
            target = [l for l in lab.uvsadm("-L", "-n", "-c").stdout.splitlines() if "10.10.1.2:" in l][0].split()[-1]
            rs = "rs1" if target.startswith(RS_ADDRS[0]) else "rs2"
            os.rename(os.path.join(lab.tmp, rs, "name"), os.path.join(lab.tmp, rs, "gone"))
            addr = f"{RS_ADDRS[0] if rs == 'rs1' else RS_ADDRS[1]}:80"
            # One failed probe quiesces it (weight 0, still listed).
            took = self.wait_for(lab, f"{rs} quiesced", lambda v: v.get(addr) == 0, 4)
            self.assertLess(took, 3)
            names = self.requests(lab, 6)
            self.assertNotIn(rs, names)
            out, _ = t.communicate(timeout=40)
            self.assertEqual(out, blob, "the established transfer on the quiesced server did not finish intact")
            # Re-entry after ⌊reentry/timeout⌋ = 2 passes in a row, again at W/32.
            os.rename(os.path.join(lab.tmp, rs, "gone"), os.path.join(lab.tmp, rs, "name"))
            took = self.wait_for(lab, f"{rs} back", lambda v: v.get(addr) == 2, 6)
            self.assertGreater(took, 0.9)

    def test_lvs_cf_load_monitor_raises_an_idle_servers_weight(self):
        """nanny's load_monitor: once the slow start reaches W, every ⌊20/timeout⌋-th pass runs
        `rup RIP` and an idle server's weight goes above W (cur + W/2·∛(1 − load)). rup is a
        stand-in on uvsd's PATH that reports the load it is given and records its arguments."""
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1 << 10)
            bin_dir = os.path.join(lab.tmp, "bin")
            os.makedirs(bin_dir)
            calls = os.path.join(lab.tmp, "rup-calls")
            with open(os.path.join(bin_dir, "rup"), "w") as f:
                f.write(f"#!/bin/sh\necho \"$@\" >> {calls}\n"
                        f"echo \"$1      up  3 days,  1:02,  load average: 0.00, 0.01, 0.05\"\n")
            os.chmod(os.path.join(bin_dir, "rup"), 0o755)
            conf = nanny_conf({"reentry": 18, "load_monitor": "rup", "scheduler": "wrr"}, {RS_ADDRS[0]: 2})
            # The lab's first ARP exchange takes ~1 s; a failed first probe would cost C = 18 passes.
            lab.run("lb", "curl", "-s", "-o", "/dev/null", f"http://{RS_ADDRS[0]}/name")
            path = os.environ["PATH"]
            os.environ["PATH"] = bin_dir + ":" + path
            try:
                lab.start_uvsd(config=conf, config_name="lvs.cf")
            finally:
                os.environ["PATH"] = path
            addr = f"{RS_ADDRS[0]}:80"
            # Pass counter from C = 18: in at 19 (W/32 → 1), doubled to W at 20, load asked at 40.
            self.wait_for(lab, "in at 1", lambda v: v.get(addr) == 1, 4)
            self.wait_for(lab, "slow start reaches W = 2", lambda v: v.get(addr) == 2, 4)
            self.assertFalse(os.path.exists(calls), "the load was asked before the slow start ended")
            self.wait_for(lab, "load 0.00 raises the weight to 3", lambda v: v.get(addr) == 3, 30)
            with open(calls) as f:
                self.assertEqual(f.read().split(), [RS_ADDRS[0]])

    def test_ldirectord_cf_failurecount_and_fallback(self):
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1 << 10)
            conf = f"""checktimeout=1
checkinterval=1
failurecount=2
virtual={VIP}:80
\treal={RS_ADDRS[0]}:80 masq 1
\treal={RS_ADDRS[1]}:80 masq 3
\tservice=http
\trequest="name"
\treceive="^rs"
\tscheduler=wrr
\tfallback={RS_ADDRS[2]}:80 masq
"""
            lab.start_uvsd(config=conf, config_name="ldirectord.cf")
            both = {f"{RS_ADDRS[0]}:80": 1, f"{RS_ADDRS[1]}:80": 3}
            self.wait_for(lab, "both servers up after the first round", lambda v: v == both, 5)
            kill(http_server(lab, "rs1"))
            took = self.wait_for(lab, "rs1 out after 2 failures", lambda v: f"{RS_ADDRS[0]}:80" not in v, 6)
            self.assertGreater(took, 0.9)   # failurecount 2: the first failure is a soft one
            self.assertEqual(set(self.requests(lab, 4)), {"rs2"})
            kill(http_server(lab, "rs2"))
            self.wait_for(lab, "fallback in", lambda v: v == {f"{RS_ADDRS[2]}:80": 1}, 6)
            self.assertEqual(set(self.requests(lab, 3)), {"rs3"})
            restart_http(lab, "rs1")
            self.wait_for(lab, "rs1 back, fallback out", lambda v: v == {f"{RS_ADDRS[0]}:80": 1}, 5)


    def test_keepalived_ssl_get_digest_and_status(self):
        """SSL_GET against python's ssl-wrapped http.server: the MD5 digest of the body as genhash
        computes it; a changed body or a wrong status takes the server out."""
        with Lab("nat") as lab:
            cert, key = self_signed(lab, "rs1")
            site = os.path.join(lab.tmp, "site")
            os.makedirs(site)
            page = os.path.join(site, "health.html")
            body = b"healthy\n"
            with open(page, "wb") as f:
                f.write(body)
            lab.spawn("rs1", "python3", "-c", HTTPS_SERVER, site, cert, key, log=os.path.join(lab.tmp, "https.log"))
            lab.wait_port("rs1", 443)
            conf = f"""
                virtual_server {VIP} 443 {{
                    delay_loop 1
                    lvs_method NAT
                    protocol TCP
                    real_server {RS_ADDRS[0]} 443 {{
                        SSL_GET {{
                            url {{
                                path /health.html
                                digest {hashlib.md5(body).hexdigest()}
                            }}
                            connect_timeout 1
                            retry 0
                        }}
                    }}
                }}
                """
            lab.start_uvsd(config=conf, config_name="keepalived.conf")
            self.wait_for(lab, "SSL_GET up", lambda v: v == {f"{RS_ADDRS[0]}:443": 1}, 4)
            with open(page, "wb") as f:
                f.write(b"changed\n")
            self.wait_for(lab, "SSL_GET out on a changed digest", lambda v: v == {}, 4)
            reason = self.checks(lab)["services"][0]["servers"][0]["last_failure"]["reason"]
            self.assertIn("digest " + hashlib.md5(b"changed\n").hexdigest(), reason)
            with open(page, "wb") as f:
                f.write(body)
            self.wait_for(lab, "SSL_GET back", lambda v: v == {f"{RS_ADDRS[0]}:443": 1}, 4)
            os.remove(page)                           # 404
            self.wait_for(lab, "SSL_GET out on 404", lambda v: v == {}, 4)
            self.assertIn("status 404", self.checks(lab)["services"][0]["servers"][0]["last_failure"]["reason"])

    def test_keepalived_file_check_follows_its_tracked_files(self):
        """FILE_CHECK: a maintenance file (weight 0: non-zero takes the server out), a weighted
        one (number × weight added to the server's), a file that says fault before start (never
        added), changes followed at once through inotify, a removed file read as 0."""
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1 << 10)
            maint, load, held = (os.path.join(lab.tmp, n) for n in ("maint", "load", "held"))
            with open(held, "w") as f:
                f.write("1\n")
            conf = f"""
                track_file maint {{
                    file {maint}
                    weight 0
                    init_file 0
                }}
                track_file load {{
                    file {load}
                    weight 2
                }}
                track_file held {{
                    file {held}
                    weight 0
                }}
                virtual_server {VIP} 80 {{
                    delay_loop 1
                    lvs_method NAT
                    protocol TCP
                    lvs_sched wrr
                    real_server {RS_ADDRS[0]} 80 {{ weight 1
                        FILE_CHECK {{ track_file maint }} }}
                    real_server {RS_ADDRS[1]} 80 {{ weight 1
                        FILE_CHECK {{ track_file load }} }}
                    real_server {RS_ADDRS[2]} 80 {{ weight 1
                        FILE_CHECK {{ track_file held }} }}
                }}
                """
            lab.start_uvsd(config=conf, config_name="keepalived.conf")
            rs1, rs2, rs3 = (f"{a}:80" for a in RS_ADDRS)
            # At once: held's 1 kept rs3 out of the first table; init_file wrote maint's 0.
            self.assertEqual(self.servers(lab), {rs1: 1, rs2: 1})
            with open(maint) as f:
                self.assertEqual(f.read(), "0\n")
            with open(maint, "w") as f:
                f.write("1\n")
            took = self.wait_for(lab, "rs1 out for maintenance", lambda v: rs1 not in v, 2)
            self.assertLess(took, 0.5)   # inotify, not a poll
            self.assertEqual(set(self.requests(lab, 4)), {"rs2"})
            os.remove(maint)              # a removed file reads as 0
            self.wait_for(lab, "rs1 back", lambda v: rs1 in v, 2)
            with open(load, "w") as f:
                f.write("3\n")
            self.wait_for(lab, "rs2 at 1 + 2×3", lambda v: v.get(rs2) == 7, 2)
            tmp = load + ".new"
            with open(tmp, "w") as f:
                f.write("-1\n")
            os.rename(tmp, load)          # moved in
            self.wait_for(lab, "rs2 at max(0, 1 − 2)", lambda v: v.get(rs2) == 0, 2)
            with open(held, "w") as f:
                f.write("0\n")
            self.wait_for(lab, "rs3 in once its file says 0", lambda v: v.get(rs3) == 1, 2)
            self.assertIn("track_file held", json.dumps(self.checks(lab)))

    def test_ldirectord_maintenancedir_forces_a_server_down(self):
        """maintenancedir: a file named IP:PORT (one service) or IP (every service of that
        server) takes it out at its next check despite failurecount, and its removal lets the
        check bring it back."""
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1 << 10)
            maint = os.path.join(lab.tmp, "maintenance")
            os.makedirs(maint)
            monitor = os.path.join(lab.tmp, "monitor.log")
            conf = f"""checktimeout=1
checkinterval=1
failurecount=5
maintenancedir={maint}
virtual={VIP}:80
\tmonitorfile="{monitor}"
\treal={RS_ADDRS[0]}:80 masq 1
\treal={RS_ADDRS[1]}:80 masq 1
\tservice=http
\trequest="name"
\treceive="^rs"
"""
            lab.start_uvsd(config=conf, config_name="ldirectord.cf")
            both = {f"{RS_ADDRS[0]}:80": 1, f"{RS_ADDRS[1]}:80": 1}
            self.wait_for(lab, "both up", lambda v: v == both, 5)
            open(os.path.join(maint, f"{RS_ADDRS[0]}:80"), "w").close()
            took = self.wait_for(lab, "rs1 out for maintenance", lambda v: f"{RS_ADDRS[0]}:80" not in v, 3)
            self.assertLess(took, 2.5)   # forced: not after failurecount = 5 checks
            self.assertEqual(set(self.requests(lab, 4)), {"rs2"})
            reason = [s for s in self.checks(lab)["services"][0]["servers"] if s["address"] == f"{RS_ADDRS[0]}:80"][0]
            self.assertEqual(reason["last_failure"]["reason"], "Server in maintenance")
            os.remove(os.path.join(maint, f"{RS_ADDRS[0]}:80"))
            self.wait_for(lab, "rs1 back", lambda v: v == both, 3)
            open(os.path.join(maint, RS_ADDRS[1]), "w").close()   # the whole server
            self.wait_for(lab, "rs2 out for maintenance", lambda v: v == {f"{RS_ADDRS[0]}:80": 1}, 3)
            # monitorfile: a line per check, ldirectord's format and real-server id.
            with open(monitor) as f:
                lines = f.read().splitlines()
            stamp = r"\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] \[\d+\] "
            rs1_id = re.escape(f"negotiate http tcp {RS_ADDRS[0]} 80 1 masq /name ^rs")
            self.assertTrue(any(re.fullmatch(stamp + rs1_id + r" \[up\] -", l) for l in lines), lines[:4])
            self.assertTrue(any(re.fullmatch(stamp + rs1_id + r" \[down\] Server in maintenance", l) for l in lines), lines)

class DatagramChecks(CheckAssertions):
    def test_keepalived_dns_udp_and_ping_checks(self):
        with Lab("nat") as lab:
            dns = lab.spawn("rs1", "dnsmasq", "-k", "--port=53", "--no-resolv", "--no-hosts", "--bind-interfaces",
                            f"--listen-address={RS_ADDRS[0]}", "--address=/svc.lab/10.10.2.11", "--pid-file=",
                            "--user=root", "--group=root", log=os.path.join(lab.tmp, "dnsmasq.log"))
            code = ("import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',53))\n"
                    "while True:\n d,a=s.recvfrom(2048);s.sendto(b'ok'+d,a)")
            echo = lab.spawn("rs2", "python3", "-c", code)
            time.sleep(0.5)
            conf = f"""
                virtual_server {VIP} 53 {{
                    delay_loop 1
                    lvs_method NAT
                    protocol UDP
                    real_server {RS_ADDRS[0]} 53 {{ DNS_CHECK {{ type A
                                                               name svc.lab
                                                               connect_timeout 1
                                                               retry 0 }} }}
                    real_server {RS_ADDRS[1]} 53 {{ UDP_CHECK {{ payload 68656c6c6f
                                                               require_reply 6f6bxx65
                                                               connect_timeout 1
                                                               retry 0 }} }}
                    real_server {RS_ADDRS[2]} 53 {{ PING_CHECK {{ connect_timeout 1
                                                                retry 0 }} }}
                }}
                """
            lab.start_uvsd(config=conf, config_name="keepalived.conf")
            all3 = {f"{a}:53": 1 for a in RS_ADDRS}
            time.sleep(3)   # first probes within 1 s + delay_loop
            self.assertEqual(self.servers(lab), all3, lab.uvsadm("-L", "--checks").stdout)
            kill(dns)       # port unreachable
            self.wait_for(lab, "rs1 out (DNS)", lambda v: f"{RS_ADDRS[0]}:53" not in v, 5)
            kill(echo)      # port unreachable
            self.wait_for(lab, "rs2 out (UDP)", lambda v: f"{RS_ADDRS[1]}:53" not in v, 5)
            lab.ip("rs3", "link", "set", "eth0", "down")   # no echo reply
            self.wait_for(lab, "rs3 out (ping)", lambda v: v == {}, 5)
            reasons = {s["address"]: s["last_failure"]["reason"] for s in self.checks(lab)["services"][0]["servers"]}
            self.assertIn("dns", reasons[f"{RS_ADDRS[0]}:53"])
            self.assertIn("udp: port unreachable", reasons[f"{RS_ADDRS[1]}:53"])
            self.assertIn("ping", reasons[f"{RS_ADDRS[2]}:53"])


SIP_RESPONDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 5060))
while True:
    d, a = s.recvfrom(4096)
    lines = d.decode().split('\\r\\n')
    via = [l for l in lines if l.startswith('Via: SIP/2.0/UDP ')]
    # ldirectord's request: OPTIONS for sip:LOGIN, Via naming the socket it came from.
    ok = lines[0] == 'OPTIONS sip:' + sys.argv[1] + ' SIP/2.0' and via and via[0].split()[2].split(';')[0] == '%s:%d' % a
    status = open(sys.argv[2]).read().strip() if ok else 'SIP/2.0 400 Bad Request'
    s.sendto((status + '\\r\\nContent-Length: 0\\r\\n\\r\\n').encode(), a)
"""

RADIUS_RESPONDER = """
import hashlib, socket, sys
secret = sys.argv[1].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 1812))
while True:
    d, a = s.recvfrom(4096)
    ident, auth, attrs, user, pw = d[1], d[4:20], d[20:], b'', b''
    while len(attrs) >= 2:
        t, l = attrs[0], attrs[1]
        v = attrs[2:l]
        if t == 1: user = v
        if t == 2:   # RFC 2865 5.2: un-hide the password
            prev = auth
            for i in range(0, len(v), 16):
                b = hashlib.md5(secret + prev).digest()
                pw += bytes(x ^ y for x, y in zip(v[i:i + 16], b))
                prev = v[i:i + 16]
        attrs = attrs[l:]
    pw = pw.rstrip(b'\\0')
    open(sys.argv[2], 'a').write(user.decode() + ':' + pw.decode() + '\\n')
    code = 2 if pw == b'sesame' else 3   # Accept, else Reject (ldirectord: either is up)
    s.sendto(bytes([code, ident, 0, 20]) + hashlib.md5(bytes([code, ident, 0, 20]) + auth + secret).digest(), a)
"""


class LdirectordServiceChecks(CheckAssertions):
    """ldirectord's ftp, sip, radius and pops negotiate checks against a real FTP server (pyftpdlib)
    and SIP / RADIUS / POP3-over-TLS responders that verify what the check sends."""

    @unittest.skipUnless(subprocess.run(["/usr/bin/python3", "-c", "import pyftpdlib"], capture_output=True).returncode == 0,
                         "pyftpdlib is not installed (apt install python3-pyftpdlib)")
    def test_ftp_sip_radius_and_pops(self):
        with Lab("nat") as lab:
            ftpdir = os.path.join(lab.tmp, "ftp")
            os.makedirs(ftpdir)
            health = os.path.join(ftpdir, "health.txt")
            with open(health, "w") as f:
                f.write("ftp is fine\n")
            ftp = lab.spawn("rs1", "/usr/bin/python3", "-m", "pyftpdlib", "-p", "21", "-d", ftpdir,
                            log=os.path.join(lab.tmp, "ftp.log"))
            sip_status = os.path.join(lab.tmp, "sip-status")
            with open(sip_status, "w") as f:
                f.write("SIP/2.0 200 OK")
            lab.spawn("rs2", "python3", "-c", SIP_RESPONDER, "pbx@lab", sip_status)
            seen = os.path.join(lab.tmp, "radius-seen")
            radius = lab.spawn("rs3", "python3", "-c", RADIUS_RESPONDER, "s3cret", seen)
            cert, key = self_signed(lab, "rs3")
            lab.spawn("rs3", "python3", "-c", POP3S_SERVER, cert, key)
            lab.wait_port("rs3", 995)
            lab.wait_port("rs1", 21)
            time.sleep(0.5)
            conf = f"""checktimeout=1
negotiatetimeout=1
checkinterval=1
virtual={VIP}:21
\treal={RS_ADDRS[0]}:21 masq 1
\tservice=ftp
\trequest="health.txt"
\treceive="is fine"
virtual={VIP}:5060
\treal={RS_ADDRS[1]}:5060 masq 2
\tservice=sip
\tprotocol=udp
\tlogin="pbx@lab"
virtual={VIP}:1812
\treal={RS_ADDRS[2]}:1812 masq 3
\tservice=radius
\tprotocol=udp
\tlogin="probe"
\tpasswd="sesame"
\tsecret="s3cret"
virtual={VIP}:995
\treal={RS_ADDRS[2]}:995 masq 4
\tservice=pops
\tlogin="probe"
\tpasswd="letmein"
"""
            lab.start_uvsd(config=conf, config_name="ldirectord.cf")
            everything = {f"{RS_ADDRS[0]}:21": 1, f"{RS_ADDRS[1]}:5060": 2, f"{RS_ADDRS[2]}:1812": 3,
                          f"{RS_ADDRS[2]}:995": 4}
            self.wait_for(lab, "ftp, sip, radius and pops servers up", lambda v: v == everything, 6)
            with open(seen) as f:
                self.assertIn("probe:sesame\n", f.read())   # the password arrived hidden and intact

            with open(health, "w") as f:                     # wrong content
                f.write("ftp is broken\n")
            self.wait_for(lab, "ftp out on wrong content", lambda v: f"{RS_ADDRS[0]}:21" not in v, 4)
            with open(health, "w") as f:
                f.write("ftp is fine again\n")
            self.wait_for(lab, "ftp back", lambda v: f"{RS_ADDRS[0]}:21" in v, 4)
            kill(ftp)                                        # RST
            self.wait_for(lab, "ftp out when killed", lambda v: f"{RS_ADDRS[0]}:21" not in v, 4)

            with open(sip_status, "w") as f:                 # a SIP error status
                f.write("SIP/2.0 503 Service Unavailable")
            self.wait_for(lab, "sip out on 503", lambda v: f"{RS_ADDRS[1]}:5060" not in v, 4)
            with open(sip_status, "w") as f:
                f.write("SIP/2.0 200 OK")
            self.wait_for(lab, "sip back", lambda v: f"{RS_ADDRS[1]}:5060" in v, 4)

            kill(radius)                                     # no answer (port unreachable)
            self.wait_for(lab, "radius out", lambda v: f"{RS_ADDRS[2]}:1812" not in v, 4)
            reasons = {s["address"]: s["last_failure"]["reason"] for svc in self.checks(lab)["services"]
                       for s in svc["servers"] if s.get("last_failure")}
            self.assertIn("ftp", reasons[f"{RS_ADDRS[0]}:21"])
            self.assertIn("503", reasons[f"{RS_ADDRS[1]}:5060"])
            self.assertIn("radius", reasons[f"{RS_ADDRS[2]}:1812"])


class LdirectordLDAPCheck(CheckAssertions):
    @unittest.skipUnless(os.path.exists("/usr/sbin/slapd"), "slapd is not installed (apt install slapd)")
    def test_ldap_bind_and_base_search_against_slapd(self):
        """service=ldap against OpenLDAP's slapd (a private configuration in the lab): a bind and
        a base search that finds exactly the base entry is up; a wrong password, a missing base
        or a killed server is down."""
        with Lab("nat") as lab:
            d = os.path.join(lab.tmp, "ldap")
            os.makedirs(os.path.join(d, "db"))
            conf = os.path.join(d, "slapd.conf")
            with open(conf, "w") as f:
                f.write("include /etc/ldap/schema/core.schema\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                        f"pidfile {d}/slapd.pid\ndatabase mdb\nsuffix \"dc=lab\"\nrootdn \"cn=admin,dc=lab\"\n"
                        f"rootpw secret\ndirectory {d}/db\n")
            with open(os.path.join(d, "base.ldif"), "w") as f:
                f.write("dn: dc=lab\nobjectClass: dcObject\nobjectClass: organization\no: lab\ndc: lab\n")
            subprocess.run(["slapadd", "-f", conf, "-l", os.path.join(d, "base.ldif")], check=True, capture_output=True)
            slapd = lab.spawn("rs1", "slapd", "-f", conf, "-h", f"ldap://{RS_ADDRS[0]}:389/", "-d", "0",
                              log=os.path.join(lab.tmp, "slapd.log"))
            lab.wait_port("rs1", 389)
            def virtual(port, request, passwd):
                return (f"virtual={VIP}:{port}\n\treal={RS_ADDRS[0]}:389 masq\n\tservice=ldap\n\trequest=\"{request}\"\n"
                        f"\treceive=\"^dc=lab$\"\n\tlogin=\"cn=admin,dc=lab\"\n\tpasswd=\"{passwd}\"\n")
            cf = ("checktimeout=2\nnegotiatetimeout=2\ncheckinterval=1\n" + virtual(389, "dc=lab", "secret")
                  + virtual(390, "dc=lab", "wrong") + virtual(391, "dc=nosuch", "secret"))
            lab.start_uvsd(config=cf, config_name="ldirectord.cf")
            good = f"-> {RS_ADDRS[0]}:389"
            def listing():
                return lab.uvsadm("-L", "-n").stdout
            deadline = time.time() + 6
            while time.time() < deadline and good not in listing():
                time.sleep(0.1)
            services = {s["service"]: s["servers"][0] for s in self.checks(lab)["services"]}
            self.assertEqual(services[f"TCP {VIP}:389"]["state"], "up", lab.uvsadm("-L", "--checks").stdout)
            self.assertEqual(services[f"TCP {VIP}:390"]["state"], "down")
            self.assertIn("bind failed", services[f"TCP {VIP}:390"]["last_failure"]["reason"])
            self.assertEqual(services[f"TCP {VIP}:391"]["state"], "down")
            self.assertIn("0 entries", services[f"TCP {VIP}:391"]["last_failure"]["reason"])
            kill(slapd)
            deadline = time.time() + 6
            while time.time() < deadline and self.checks(lab)["services"][0]["servers"][0]["state"] == "up":
                time.sleep(0.1)
            self.assertEqual(self.checks(lab)["services"][0]["servers"][0]["state"], "down")

def postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return found[-1] if found else None


class LdirectordPgsqlCheck(CheckAssertions):
    @unittest.skipUnless(postgres_bin(), "PostgreSQL is not installed (apt install postgresql)")
    def test_pgsql_login_and_query_against_postgres(self):
        """service=pgsql against a real PostgreSQL (its own cluster in the lab, SCRAM-SHA-256 on
        TCP): a query that returns a row is up; no row, a wrong password or a killed server is down."""
        pg = os.path.dirname(postgres_bin())
        with Lab("nat") as lab:
            os.chmod(lab.tmp, 0o755)
            d = os.path.join(lab.tmp, "pg")
            os.makedirs(d)
            with open(os.path.join(d, "pw"), "w") as f:
                f.write("sesame\n")
            shutil.chown(d, "postgres")
            subprocess.run(["runuser", "-u", "postgres", "--", f"{pg}/initdb", "-D", f"{d}/data", "-U", "probe",
                            f"--pwfile={d}/pw", "--auth-host=scram-sha-256", "--auth-local=trust"],
                           check=True, capture_output=True)
            with open(f"{d}/data/pg_hba.conf", "a") as f:
                f.write("host all all 0.0.0.0/0 scram-sha-256\n")   # the director's address is not local
            server = lab.spawn("rs1", "runuser", "-u", "postgres", "--", f"{pg}/postgres", "-D", f"{d}/data",
                               "-h", RS_ADDRS[0], "-k", d, "-p", "5432", log=os.path.join(lab.tmp, "postgres.log"))
            lab.wait_port("rs1", 5432)
            self.sql_lab(lab, server, "pgsql", 5432, "postgres", "password authentication failed")

class LdirectordMySQLCheck(CheckAssertions):
    @unittest.skipUnless(shutil.which("mariadbd") and shutil.which("mariadb-install-db"),
                         "MariaDB is not installed (apt install mariadb-server-core mariadb-client-core)")
    def test_mysql_login_and_query_against_mariadb(self):
        """service=mysql against a real MariaDB (its own data directory in the lab): a query that
        returns a row is up; no row, a wrong password or a killed server is down."""
        with Lab("nat") as lab:
            d = os.path.join(lab.tmp, "my")
            os.makedirs(d)
            subprocess.run(["mariadb-install-db", "--user=root", f"--datadir={d}/data", "--auth-root-authentication-method=socket",
                            "--skip-test-db"], check=True, capture_output=True)
            server = lab.spawn("rs1", "mariadbd", "--user=root", f"--datadir={d}/data", f"--socket={d}/sock", "--port=3306",
                               f"--bind-address={RS_ADDRS[0]}", f"--pid-file={d}/pid", f"--log-error={d}/err.log",
                               "--skip-name-resolve")   # no DNS in the lab
            lab.wait_port("rs1", 3306)
            subprocess.run(["mariadb", "-S", f"{d}/sock", "-e", "CREATE USER probe@'%' IDENTIFIED BY 'sesame'; CREATE DATABASE health; GRANT SELECT ON health.* TO probe@'%'"],
                           check=True, capture_output=True)
            self.sql_lab(lab, server, "mysql", 3306, "health", "Access denied")

class LdirectordProxyCheck(CheckAssertions):
    @unittest.skipUnless(shutil.which("tinyproxy"), "tinyproxy is not installed (apt install tinyproxy-bin)")
    def test_http_proxy_through_tinyproxy(self):
        """service=http_proxy: the absolute URI fetched through the real server, a real proxy
        (tinyproxy), whose origin then fails and recovers."""
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1 << 10)
            conf = os.path.join(lab.tmp, "tinyproxy.conf")
            with open(conf, "w") as f:
                f.write("User nobody\nGroup nogroup\nPort 3128\nListen 0.0.0.0\nTimeout 2\nLogLevel Info\n")
            proxy = lab.spawn("rs1", "tinyproxy", "-d", "-c", conf, log=os.path.join(lab.tmp, "tinyproxy.log"))
            lab.wait_port("rs1", 3128)
            cf = f"""checktimeout=2
negotiatetimeout=2
checkinterval=1
virtual={VIP}:3128
\treal={RS_ADDRS[0]}:3128 masq 1
\tservice=http_proxy
\trequest="http://{RS_ADDRS[1]}:80/name"
\treceive="^rs2"
"""
            lab.start_uvsd(config=cf, config_name="ldirectord.cf")
            up = {f"{RS_ADDRS[0]}:3128": 1}
            self.wait_for(lab, "proxy up (origin answers through it)", lambda v: v == up, 6)
            kill(http_server(lab, "rs2"))             # the proxy now answers with an error status
            self.wait_for(lab, "proxy out when its origin fails", lambda v: v == {}, 6)
            self.assertIn("status", self.checks(lab)["services"][0]["servers"][0]["last_failure"]["reason"])
            restart_http(lab, "rs2")
            self.wait_for(lab, "proxy back", lambda v: v == up, 6)
            kill(proxy)
            self.wait_for(lab, "proxy out when killed", lambda v: v == {}, 6)


class DebianLdirectord(CheckAssertions):
    """The unmodified ldirectord from Debian drives uvsd through uvsadm installed as ipvsadm
    (an overlay on /usr/sbin in ldirectord's private mount namespace, never the host's)."""

    @unittest.skipUnless(os.path.exists("/usr/sbin/ldirectord"), "ldirectord is not installed (apt install ldirectord)")
    def test_ldirectord_through_uvsadm(self):
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1 << 10)
            lab.start_uvsd("")   # no rules: ldirectord creates the service
            upper = os.path.join(lab.tmp, "sbin-upper")
            work = os.path.join(lab.tmp, "sbin-work")
            os.makedirs(upper)
            os.makedirs(work)
            uvsadm = os.path.join(os.path.dirname(lab.uvsd_path()), "uvsadm")
            with open(os.path.join(upper, "ipvsadm"), "w") as f:
                f.write(f"#!/bin/sh\nUVS_CONTROL={lab.control} exec {uvsadm} \"$@\"\n")
            os.chmod(os.path.join(upper, "ipvsadm"), 0o755)
            cf = os.path.join(lab.tmp, "ldirectord.cf")
            with open(cf, "w") as f:
                f.write(f"""checktimeout=1
checkinterval=1
supervised=yes
quiescent=no
virtual={VIP}:80
\treal={RS_ADDRS[0]}:80 masq 1
\treal={RS_ADDRS[1]}:80 masq 2
\tservice=http
\trequest="name"
\treceive="rs"
\tscheduler=wrr
\tprotocol=tcp
\tchecktype=negotiate
""")
            script = (f"mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir={upper},workdir={work} /usr/sbin && "
                      f"[ \"$(readlink -f /sbin/ipvsadm)\" = /usr/sbin/ipvsadm ] && grep -q uvsadm /usr/sbin/ipvsadm && "
                      f"exec /usr/sbin/ldirectord {cf} start")
            ld = lab.spawn("lb", "unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                           log=os.path.join(lab.tmp, "ldirectord.log"))

            def ldlog():
                with open(os.path.join(lab.tmp, "ldirectord.log")) as f:
                    return f.read()[-3000:]
            deadline = time.time() + 20
            want = {f"{RS_ADDRS[0]}:80": 1, f"{RS_ADDRS[1]}:80": 2}
            while time.time() < deadline and self.servers(lab) != want:
                self.assertIsNone(ld.poll(), f"ldirectord exited: {ldlog()}")
                time.sleep(0.2)
            self.assertEqual(self.servers(lab), want, ldlog())
            self.assertIn(f"TCP  {VIP}:80 wrr", lab.uvsadm("-L", "-n").stdout)
            self.assertEqual(set(self.requests(lab, 6)), {"rs1", "rs2"})
            # The host's ipvsadm was never touched: the kernel has no IPVS service of ours.
            self.assertNotIn(VIP, sh_out(["cat", "/proc/net/ip_vs"]))
            kill(http_server(lab, "rs2"))
            self.wait_for(lab, "ldirectord removed rs2", lambda v: v == {f"{RS_ADDRS[0]}:80": 1}, 10)
            self.assertEqual(set(self.requests(lab, 3)), {"rs1"})
            restart_http(lab, "rs2")
            self.wait_for(lab, "ldirectord restored rs2", lambda v: v == want, 10)
            # Stop (TERM): cleanstop removes the servers and the service.
            os.killpg(ld.pid, signal.SIGTERM)
            ld.wait(timeout=15)
            self.assertNotIn(VIP, lab.uvsadm("-L", "-n").stdout)


def sh_out(args):
    r = subprocess.run(args, capture_output=True, text=True)
    return r.stdout


if __name__ == "__main__":
    unittest.main()
