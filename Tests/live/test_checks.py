"""Health checks live: uvsd run --config with each format's file, real servers that really fail
and recover (process killed, link down, wrong content, scripts' exit codes), asserting the
listing, the weights, the check-state listing and where new connections go."""
import json
import os
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


class HealthChecks(LiveTestCase):
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


if __name__ == "__main__":
    unittest.main()
