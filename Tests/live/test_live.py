"""Integration tests of `uvsd run` and `uvsadm` in network namespaces (root required).

Real servers are real TCP/UDP servers (python3 -m http.server, a UDP echo), clients are curl
and python sockets; every namespace is created by the test and removed afterwards.
Run: python3 -m unittest -v Tests/live/test_live.py (from the project root, after swift build).
"""
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import (Lab, ReplayLab, SyncLab, VIP, RS_ADDRS, CLIENT_NET, SERVER_NET, DIP_SERVER, ONE_ARMED_VIP, sh)  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "fixtures", "scenarios")


def rules_for(method, sched="rr", weights=(1, 1, 1), extra=""):
    m = {"dr": "-g", "nat": "-m", "tun": "-i"}[method]
    out = f"-A -t {VIP}:80 -s {sched} {extra}\n"
    for r, w in zip(RS_ADDRS, weights):
        out += f"-a -t {VIP}:80 -r {r}:80 {m} -w {w}\n"
    return out


def counts(names):
    c = {}
    for n in names:
        c[n] = c.get(n, 0) + 1
    return c


class LiveTestCase(unittest.TestCase):
    def requests(self, lab, n, sources=None):
        """n sequential HTTP requests for /name, cycling through client source addresses."""
        names = []
        for i in range(n):
            src = sources[i % len(sources)] if sources else None
            rc, out = lab.curl("name", src=src)
            self.assertEqual(rc, 0, f"request {i} from {src} failed (curl {rc}); uvsd log:\n{lab.log()[-2000:]}")
            names.append(out)
        return names

    def assertHostClean(self, lab):
        """Nothing of uvsd is left in the director's namespace."""
        for dev in ["d0", "d1"]:
            f = lab.run("lb", "tc", "filter", "show", "dev", dev, "ingress", check=False).stdout
            self.assertNotIn("49133", f, f"tc filter left on {dev}")
            q = lab.run("lb", "tc", "qdisc", "show", "dev", dev).stdout
            self.assertNotIn("clsact", q, f"clsact left on {dev}")
        self.assertFalse(os.path.exists(lab.control), "control socket left behind")


class DirectRouting(LiveTestCase):
    def test_dr_round_robin_transfers_and_listing(self):
        with Lab("dr") as lab:
            blob = lab.start_http_servers()
            before = lab.host_state()
            cap = os.path.join(lab.tmp, "garp.txt")
            lab.spawn("cl", "tcpdump", "-l", "-nni", "eth0", "arp", log=cap)
            time.sleep(1)
            lab.start_uvsd(rules_for("dr"))
            names = self.requests(lab, 30, sources=[f"{CLIENT_NET}.{i}" for i in range(1, 9)])
            # rr over a newest-first list: rs3, rs2, rs1, ...
            self.assertEqual(names[:3], ["rs3", "rs2", "rs1"])
            self.assertEqual(counts(names), {"rs1": 10, "rs2": 10, "rs3": 10})
            for i in range(3):
                rc, data = lab.curl_bytes("blob")
                self.assertEqual(rc, 0)
                self.assertEqual(hashlib.sha256(data).hexdigest(), hashlib.sha256(blob).hexdigest())
            listing = lab.uvsadm("-L", "-n").stdout
            self.assertIn(f"TCP  {VIP}:80 rr\n", listing)
            rows = re.findall(r"  -> (\S+)\s+Route\s+1\s+(\d+)\s+(\d+)", listing)
            self.assertEqual(sorted(r[0] for r in rows), [f"{a}:80" for a in RS_ADDRS])
            self.assertEqual(sum(int(a) + int(b) for _, a, b in rows), 33)
            stats = lab.uvsadm("-L", "-n", "--stats").stdout
            self.assertRegex(stats, rf"TCP  {re.escape(VIP)}:80\s+33\s")
            # gratuitous ARP for the VIP at start, as keepalived's: a request from the VIP for the VIP, target MAC broadcast
            self.assertIn(f"Request who-has {VIP} (ff:ff:ff:ff:ff:ff) tell {VIP}", read(cap))
            self.assertEqual(lab.stop_uvsd(), 0)
            self.assertHostClean(lab)
            self.assertEqual(lab.host_state(), before, "links, addresses, routes and tc as before uvsd")

    def test_one_armed_dr(self):
        with Lab("dr", one_armed=True) as lab:
            blob = lab.start_http_servers()
            rules = f"-A -t {ONE_ARMED_VIP}:80 -s wrr\n" + "".join(
                f"-a -t {ONE_ARMED_VIP}:80 -r {r}:80 -g -w {w}\n" for r, w in zip(RS_ADDRS, (1, 0, 2)))
            lab.start_uvsd(rules)
            names = self.requests(lab, 9, sources=[f"{SERVER_NET}.{i}" for i in range(1, 9)])
            self.assertEqual(counts(names), {"rs1": 3, "rs3": 6}, "weights 1:0:2")
            rc, data = lab.curl_bytes("blob")
            self.assertEqual((rc, hashlib.sha256(data).digest()), (0, hashlib.sha256(blob).digest()))

    def test_persistence_holds_per_client(self):
        with Lab("dr") as lab:
            lab.start_http_servers(payload_bytes=1024)
            lab.start_uvsd(rules_for("dr", extra="-p 300"))
            per_client = {}
            for rnd in range(3):
                for i in range(1, 9):
                    src = f"{CLIENT_NET}.{i}"
                    rc, out = lab.curl("name", src=src)
                    self.assertEqual(rc, 0)
                    per_client.setdefault(src, set()).add(out)
            for src, servers in per_client.items():
                self.assertEqual(len(servers), 1, f"{src} moved between {servers}")
            # rr across templates: 8 clients over 3 servers
            self.assertEqual(len(set().union(*per_client.values())), 3)
            conns = lab.uvsadm("-L", "-n", "-c").stdout
            self.assertEqual(conns.count("ASSURED") + conns.count("NONE "), 8, conns)


class Masquerading(LiveTestCase):
    def test_nat_weighted_round_robin_tcp_and_udp(self):
        with Lab("nat") as lab:
            blob = lab.start_http_servers()
            lab.start_udp_echo(53)
            rules = rules_for("nat", sched="wrr", weights=(3, 2, 1))
            rules += f"-A -u {VIP}:53 -s rr\n" + "".join(f"-a -u {VIP}:53 -r {r}:53 -m\n" for r in RS_ADDRS)
            lab.start_uvsd(rules)
            names = self.requests(lab, 12)
            self.assertEqual(counts(names), {"rs1": 6, "rs2": 4, "rs3": 2})
            rc, data = lab.curl_bytes("blob")
            self.assertEqual((rc, hashlib.sha256(data).digest()), (0, hashlib.sha256(blob).digest()))
            code = ("import socket,sys\nout=[]\nfor i in range(6):\n s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                    f" s.settimeout(3);s.sendto(b'q%d'%i,('{VIP}',53));d,a=s.recvfrom(100)\n"
                    f" assert a==('{VIP}',53),a\n out.append(d.decode())\nprint(' '.join(out))")
            r = lab.run("cl", "python3", "-c", code, check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            answers = r.stdout.split()
            self.assertEqual(answers, ["rs3:q0", "rs2:q1", "rs1:q2", "rs3:q3", "rs2:q4", "rs1:q5"])

    def test_two_workers_keep_both_directions_together(self):
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=256 << 10)
            lab.start_uvsd(rules_for("nat"), workers=2)
            names = self.requests(lab, 24, sources=[f"{CLIENT_NET}.{i}" for i in range(1, 9)])
            self.assertEqual(len(names), 24)
            for i in range(1, 9):
                rc, data = lab.curl_bytes("blob", src=f"{CLIENT_NET}.{i}")
                self.assertEqual((rc, len(data)), (0, 256 << 10))
            stats = lab.uvsadm("-L", "-n", "--stats").stdout
            self.assertRegex(stats, rf"TCP  {re.escape(VIP)}:80\s+32\s", stats)

    def test_two_workers_with_a_service_added_at_run_time(self):
        # The fanout program follows the VIPs: a NAT service added through uvsadm after the
        # start must still bring both directions of each connection to one worker.
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1024)
            lab.start_uvsd("", workers=2)
            lab.uvsadm("-R", stdin=rules_for("nat"))
            names = self.requests(lab, 16, sources=[f"{CLIENT_NET}.{i}" for i in range(1, 9)])
            # (each worker has its own round robin: every server serves, the split varies)
            self.assertEqual(set(names), {"rs1", "rs2", "rs3"})

    def test_sighup_changes_rules_mid_transfer(self):
        with Lab("nat") as lab:
            blob = lab.start_http_servers(payload_bytes=8 << 20)
            lab.start_uvsd(f"-A -t {VIP}:80 -s rr\n-a -t {VIP}:80 -r {RS_ADDRS[0]}:80 -m -w 1\n")
            result = {}

            def transfer():
                r = subprocess.run(["ip", "netns", "exec", lab.ns["cl"], "curl", "-s", "--limit-rate", "2M",
                                    "--max-time", "30", "-o", "-", f"http://{VIP}/blob"], capture_output=True)
                result["rc"], result["data"] = r.returncode, r.stdout

            t = threading.Thread(target=transfer)
            t.start()
            time.sleep(1.5)
            # rs1 quiesced (weight 0), rs2 added: the running transfer must go on.
            with open(lab.rules_path, "w") as f:
                f.write(f"-A -t {VIP}:80 -s rr\n-a -t {VIP}:80 -r {RS_ADDRS[0]}:80 -m -w 0\n"
                        f"-a -t {VIP}:80 -r {RS_ADDRS[1]}:80 -m -w 1\n")
            lab.uvsd.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            listing = lab.uvsadm("-L", "-n").stdout
            m = re.search(rf"-> {RS_ADDRS[0]}:80\s+Masq\s+0\s+(\d+)\s+(\d+)", listing)
            self.assertTrue(m, listing)
            self.assertEqual(int(m[1]) + int(m[2]), 1, "the running transfer keeps its connection")
            self.assertEqual(self.requests(lab, 3), ["rs2"] * 3)
            # A broken file on SIGHUP is refused as a whole, naming the line; rules stay.
            with open(lab.rules_path, "w") as f:
                f.write(f"-A -t {VIP}:80 -s rr\n-a -t {VIP}:80 -r {RS_ADDRS[2]}:80 -m -w 1\n-a -t {VIP}:80 -r nonsense -m\n")
            lab.uvsd.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            self.assertIn(f"{lab.rules_path}:3:", lab.log())
            after = lab.uvsadm("-L", "-n").stdout
            self.assertRegex(after, rf"-> {RS_ADDRS[0]}:80\s+Masq\s+0\s")
            self.assertRegex(after, rf"-> {RS_ADDRS[1]}:80\s+Masq\s+1\s")
            self.assertNotIn(RS_ADDRS[2], after)
            t.join(timeout=40)
            self.assertEqual(result.get("rc"), 0)
            self.assertEqual(hashlib.sha256(result["data"]).digest(), hashlib.sha256(blob).digest())
            self.assertEqual(self.requests(lab, 2), ["rs2"] * 2)


class Tunnelling(LiveTestCase):
    def test_ipip_frames_on_the_server_link(self):
        # This kernel has no ipip module: the real servers cannot decapsulate, so the
        # encapsulated frames are checked on the wire.
        with Lab("dr") as lab:
            lab.start_uvsd(rules_for("tun"))
            cap = os.path.join(lab.tmp, "tun.pcap")
            lab.spawn("sw", "tcpdump", "-U", "-nni", "p-lb", "-w", cap, "ip proto 4")
            time.sleep(1)
            for i in range(1, 4):
                lab.curl("name", src=f"{CLIENT_NET}.{i}", timeout=1)
            time.sleep(0.5)
            r = sh("tcpdump", "-nnr", cap, check=False)
            lines = [l for l in r.stdout.splitlines() if "IP " in l]
            self.assertGreaterEqual(len(lines), 3, r.stdout)
            for rs in RS_ADDRS:
                self.assertTrue(any(f"{DIP_SERVER} > {rs}: IP {CLIENT_NET}." in l and f"> {VIP}.80: Flags [S]" in l
                                    for l in lines), f"no IPIP SYN to {rs}:\n{r.stdout}")


class VLANTrunk(LiveTestCase):
    def test_vlan_on_trunk_answers_and_forwards_only_its_vlan(self):
        with Lab("dr") as lab:
            lab.start_uvsd(rules_for("dr"), interface="d0.100")
            cap = os.path.join(lab.tmp, "cl.txt")
            dump = lab.spawn("cl", "tcpdump", "-l", "-enni", "eth0", "arp or vlan", log=cap)
            rs_cap = os.path.join(lab.tmp, "rs.txt")
            lab.spawn("sw", "tcpdump", "-l", "-nni", "p-lb", f"dst host {VIP}", log=rs_cap)
            time.sleep(1)
            sender = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frames.py")
            lab.run("cl", "python3", sender, "eth0", VIP)
            time.sleep(1)
            text = read(cap)
            # the tagged ARP request is answered, tagged; the untagged one is not
            self.assertEqual(len(re.findall(rf"vlan 100.*Reply {re.escape(VIP)} is-at", text)), 1, text)
            self.assertEqual(len(re.findall(rf"Reply {re.escape(VIP)} is-at", text)), 1, text)
            rs_text = read(rs_cap)
            self.assertEqual(len(re.findall(r"10\.10\.1\.7\.\d+ > .*Flags \[S\]", rs_text)), 1, rs_text)
            self.assertNotIn("10.10.1.8.", rs_text)
            drops = lab.uvsadm("--drops").stdout
            self.assertRegex(drops, r"other-vlan [1-9]")


class Faults(LiveTestCase):
    def start_fails(self, lab, args, rules=None, expect=""):
        rules_path = os.path.join(lab.tmp, "rules")
        with open(rules_path, "w") as f:
            f.write(rules if rules is not None else rules_for("dr"))
        control = os.path.join(lab.tmp, "uvsd.sock")
        lab.control = control
        t = time.time()
        r = lab.run("lb", lab.uvsd_path(), "run", "--rules", rules_path, "--control", control, *args, check=False,
                    timeout=20)
        self.assertLess(time.time() - t, 10)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(expect, r.stderr)
        self.assertHostClean(lab)
        return r.stderr

    def test_refusals_leave_nothing_behind(self):
        with Lab("dr") as lab:
            self.start_fails(lab, ["--interface", "nosuch0"], expect="interface nosuch0: no such device")
            self.start_fails(lab, ["--interface", "d0"], rules=f"-A -t {VIP}:80 -s rr\n-a -t {VIP}:80 -r 1.2.3.4:80 -x 1 -y 5\n",
                             expect="rules:2: Numerical result out of range")
            self.start_fails(lab, ["--interface", "d0"], rules="-A -t 10.0.0.1:80 -s nosuch\n",
                             expect="rules:1: Scheduler or persistence engine not found")
            self.start_fails(lab, ["--interface", "d0", "--rules", "/nonexistent"], expect="cannot read the rules file")
            lab.ip("lb", "addr", "add", f"{VIP}/32", "dev", "lo")
            self.start_fails(lab, ["--interface", "d0"], expect=f"VIP {VIP} is configured on this host (dev lo)")
            lab.ip("lb", "addr", "del", f"{VIP}/32", "dev", "lo")
            rules_path = os.path.join(lab.tmp, "rules")
            r = lab.run("lb", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", lab.uvsd_path(), "run",
                        "--rules", rules_path, "--interface", "d0", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("needs root", r.stderr)

    def test_unanswered_neighbour_queues_then_drops_others_flow(self):
        with Lab("dr") as lab:
            lab.start_http_servers(payload_bytes=1024)
            ghost = "10.10.2.50"  # nobody answers ARP for it
            lab.start_uvsd(f"-A -t {VIP}:80 -s rr\n-a -t {VIP}:80 -r {RS_ADDRS[0]}:80 -g\n-a -t {VIP}:80 -r {ghost}:80 -g\n")
            ok = 0
            for i in range(1, 7):
                rc, out = lab.curl("name", src=f"{CLIENT_NET}.{i}", timeout=2)
                ok += rc == 0 and out == "rs1"
            self.assertEqual(ok, 3)
            time.sleep(4)  # past the 3 s resolution timeout
            drops = dict(l.split() for l in lab.uvsadm("--drops").stdout.splitlines())
            self.assertGreater(int(drops["neighbour-unresolved"]), 0)
            # and rs1 keeps serving
            answers = [lab.curl("name", src=f"{CLIENT_NET}.{i}", timeout=2) for i in (7, 8)]
            self.assertIn((0, "rs1"), answers)

    def test_real_server_that_stops_answering_arp(self):
        with Lab("dr", servers=2) as lab:
            lab.start_http_servers(payload_bytes=1024)
            rules = f"-A -t {VIP}:80 -s rr\n" + "".join(f"-a -t {VIP}:80 -r {r}:80 -g\n" for r in RS_ADDRS[:2])
            lab.start_uvsd(rules, extra=["--neighbour-reachable", "2"])
            self.assertEqual(sorted(self.requests(lab, 4)), ["rs1", "rs1", "rs2", "rs2"])
            lab.ip("rs1", "link", "set", "eth0", "arp", "off")
            time.sleep(7)  # 2 s unconfirmed, asked, 3 s without an answer: forgotten
            self.assertIn(f"real server {RS_ADDRS[0]} stopped answering ARP", lab.log())
            answers = [lab.curl("name", src=f"{CLIENT_NET}.{i}", timeout=2) for i in range(1, 5)]
            self.assertEqual([a for a in answers if a[0] == 0], [(0, "rs2")] * 2, answers)
            time.sleep(4)
            drops = dict(l.split() for l in lab.uvsadm("--drops").stdout.splitlines())
            self.assertGreater(int(drops["neighbour-unresolved"]), 0)
            self.assertIsNone(lab.uvsd.poll())

    def test_malformed_frames_are_counted_not_fatal(self):
        with Lab("dr") as lab:
            lab.start_http_servers(payload_bytes=1024)
            lab.start_uvsd(rules_for("dr"))
            sender = os.path.join(os.path.dirname(os.path.abspath(__file__)), "frames.py")
            lab.run("cl", "python3", sender, "eth0", VIP, "--malformed")
            self.assertIsNone(lab.uvsd.poll())
            drops = dict(l.split() for l in lab.uvsadm("--drops").stdout.splitlines())
            # a header alone and a total length past the frame; IHL covering bytes that are not
            # a header (its checksum cannot verify). The 3-byte one never passes the socket filter.
            self.assertEqual(int(drops["bad-ipv4-length"]), 2, drops)
            self.assertEqual(int(drops["bad-ipv4-checksum"]), 1, drops)
            self.assertEqual(len(self.requests(lab, 3)), 3)


class Control(LiveTestCase):
    def test_uvsadm_against_a_running_uvsd(self):
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1024)
            lab.start_uvsd("")
            # the seeds' command lines, verbatim
            lab.uvsadm("-A", "-t", f"{VIP}:80", "-s", "wlc")
            for r in RS_ADDRS:
                lab.uvsadm("-a", "-t", f"{VIP}:80", "-r", f"{r}:80", "-m", "-w", "1")
            lab.uvsadm("--set", "1200", "0", "0")
            self.assertEqual(lab.uvsadm("-L", "--timeout").stdout, "Timeout (tcp tcpfin udp): 1200 120 300\n")
            names = self.requests(lab, 6)
            self.assertEqual(sorted(set(names)), ["rs1", "rs2", "rs3"])
            e = lab.uvsadm("-A", "-t", f"{VIP}:80", check=False)
            self.assertEqual((e.returncode, e.stderr), (255, "Service already exists\n"))
            e = lab.uvsadm("-a", "-t", f"{VIP}:80", "-r", "10.10.2.99:80", "-w", "-1", check=False)
            self.assertEqual((e.returncode, e.stderr.strip()), (2, "illegal weight specified"))
            # -S | -R round trip, and an atomic -R failure
            saved = lab.uvsadm("-S", "-n").stdout
            self.assertEqual(saved, f"-A -t {VIP}:80 -s wlc\n" + "".join(
                f"-a -t {VIP}:80 -r {r}:80 -m -w 1\n" for r in RS_ADDRS))
            lab.uvsadm("-C")
            self.assertEqual(lab.uvsadm("-S", "-n").stdout, "")
            lab.uvsadm("-R", stdin=saved)
            self.assertEqual(lab.uvsadm("-S", "-n").stdout, saved)
            bad = f"-A -t 10.10.1.101:80 -s rr\n-a -t 10.10.1.101:80 -r 10.10.2.11:80 -m\n-A -t {VIP}:80\n"
            e = lab.uvsadm("-R", stdin=bad, check=False)
            self.assertEqual(e.returncode, 255)
            self.assertIn("line 3: Service already exists", e.stderr)
            self.assertEqual(lab.uvsadm("-S", "-n").stdout, saved)
            # sysctls and zeroing
            self.assertEqual(lab.uvsadm("--sysctl", "expire_nodest_conn").stdout, "net.ipv4.vs.expire_nodest_conn = 0\n")
            lab.uvsadm("--sysctl", "expire_nodest_conn=1")
            self.assertEqual(lab.uvsadm("--sysctl", "net.ipv4.vs.expire_nodest_conn").stdout,
                             "net.ipv4.vs.expire_nodest_conn = 1\n")
            self.assertEqual(lab.uvsadm("--sysctl", "nosuch=1", check=False).returncode, 2)
            lab.uvsadm("-Z")
            self.assertRegex(lab.uvsadm("-L", "-n", "--stats").stdout, rf"TCP  {re.escape(VIP)}:80\s+0\s+0\s+0\s+0\s+0\n")

    def test_seed_command_lines_verbatim(self):
        with Lab("dr") as lab:
            lab.start_uvsd("")
            env = dict(os.environ, UVS_CONTROL=lab.control, PATH=os.path.dirname(lab.uvsd_path()) + ":" + os.environ["PATH"])
            sysconfig = os.path.join(lab.tmp, "ipvsadm")
            with open(sysconfig, "w") as f:
                f.write(f"# /etc/sysconfig/ipvsadm\n-A -t {VIP}:22\n-A -t {VIP}:2972 -p\n-A -t {VIP}:9671\n"
                        f"# the end\n-D -t {VIP}:9671\n--set 1200 0 0\n")
            script = f"""set -e
                uvsadm -A -t 10.0.0.5:25 -s lblc -p
                uvsadm -a -t 10.0.0.5:25 -r 10.0.1.5 -m
                grep -v '^#' {sysconfig} | uvsadm -R
                uvsadm -A -t 130.88.203.1:80 -s wlc -p
                for i in $(seq 1 200); do uvsadm -a -t 130.88.203.1:80 -r 130.88.204.$i:80 -g -w 1000; done
                """
            r = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            listing = lab.uvsadm("-L", "-n").stdout
            self.assertIn("TCP  10.0.0.5:25 lblc persistent 360\n  -> 10.0.1.5:25                  Masq    1      0          0", listing)
            self.assertIn(f"TCP  {VIP}:2972 wlc persistent 360\n", listing)
            self.assertIn(f"TCP  {VIP}:22 wlc\n", listing)
            self.assertNotIn(":9671", listing)
            self.assertEqual(len(re.findall(r"-> 130\.88\.204\.\d+:80 +Route +1000 ", listing)), 200)
            self.assertEqual(lab.uvsadm().stdout, lab.uvsadm("-L").stdout, "no arguments = -L")
            self.assertEqual(lab.uvsadm("-L", "--timeout").stdout, "Timeout (tcp tcpfin udp): 1200 120 300\n")
            self.assertEqual(lab.uvsadm("-Lnc").stdout,
                             "IPVS connection entries\npro expire state       source             virtual            destination\n")
            rate = lab.uvsadm("-L", "-n", "--rate", "-t", "10.0.0.5:25").stdout
            self.assertTrue(rate.startswith("Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"), rate)
            e = lab.uvsadm("-L", "-t", "10.9.9.9:80", check=False)
            self.assertEqual((e.returncode, e.stderr), (1, "No such service\n"))

    def test_concurrent_clients_during_traffic(self):
        with Lab("nat") as lab:
            lab.start_http_servers(payload_bytes=1024)
            lab.start_uvsd(rules_for("nat"))
            errors = []

            def lister():
                for _ in range(20):
                    r = lab.uvsadm("-L", "-n", check=False)
                    if r.returncode != 0 or f"TCP  {VIP}:80 rr" not in r.stdout:
                        errors.append(r.stderr or r.stdout)

            def editor():
                for i in range(20):
                    r = lab.uvsadm("-e", "-t", f"{VIP}:80", "-r", f"{RS_ADDRS[0]}:80", "-m", "-w", str(1 + i % 3),
                                   check=False)
                    if r.returncode != 0:
                        errors.append(r.stderr)

            threads = [threading.Thread(target=lister) for _ in range(3)] + [threading.Thread(target=editor)]
            for t in threads:
                t.start()
            self.assertEqual(len(self.requests(lab, 15)), 15)
            for t in threads:
                t.join()
            self.assertEqual(errors, [])

    def test_no_daemon(self):
        env = dict(os.environ, UVS_CONTROL="/nonexistent/uvsd.sock")
        p = os.path.join(os.path.dirname(Lab().uvsd_path()), "uvsadm")
        r = subprocess.run([p, "-L", "-n"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot reach uvsd at /nonexistent/uvsd.sock: no running uvsd", r.stderr)


class ConnectionSync(LiveTestCase):
    def test_master_to_backup_over_the_wire(self):
        """A master director syncs real TCP connections to a backup director: the backup's
        table follows the master's, state changes included (spec §7)."""
        with SyncLab() as lab:
            lab.start_http_servers(payload_bytes=1024)
            # the master daemon from the rules file, the backup's through uvsadm
            lab.start_uvsd(rules_for("dr") + "--start-daemon master --mcast-interface d1 --syncid 7\n", workers=2)
            lab.start_backup(rules_for("dr"))
            lab.uvsadm_backup("--start-daemon", "backup", "--mcast-interface", "e1", "--syncid", "7")
            self.assertEqual(lab.uvsadm("-L", "--daemon").stdout,
                             "master sync daemon (mcast=d1, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n")
            self.assertEqual(lab.uvsadm_backup("-L", "--daemon").stdout,
                             "backup sync daemon (mcast=e1, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n")
            r = lab.uvsadm_backup("--start-daemon", "master", "--mcast-interface", "nosuch", check=False)
            self.assertEqual((r.returncode, r.stderr), (255, "No such device\n"))
            r = lab.uvsadm("--start-daemon", "master", "--mcast-interface", "d1", check=False)
            self.assertEqual((r.returncode, r.stderr), (255, "Daemon has already run\n"))

            # Six open connections from different clients: SYN, ACK and a partial request
            # (the server waits for the rest) are the 3 packets after which one is synced.
            code = ("import socket,sys,time\n"
                    "ss=[]\n"
                    "for i in range(1,7):\n"
                    " s=socket.socket();s.bind((f'10.10.1.{i}',0));s.connect(('" + VIP + "',80))\n"
                    " s.send(b'GET /name HTTP/1.1\\r\\nHost: x\\r\\n');ss.append(s)\n"
                    "sys.stdout.write('open\\n');sys.stdout.flush();sys.stdin.readline()\n"
                    "for s in ss: s.send(b'\\r\\n'); s.recv(4096); s.close()\n"
                    "time.sleep(0.5)\n")
            p = subprocess.Popen(["ip", "netns", "exec", lab.ns["cl"], "python3", "-c", code], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(p.stdout.readline(), "open\n")

                def table(fn):
                    return sorted(r for r in connection_rows(fn("-L", "-n", "-c").stdout) if "10.10.1." in r)

                # a partly filled message is sent 2 s after its first entry
                master, backup = [], None
                for _ in range(40):
                    master = table(lab.uvsadm)
                    backup = table(lab.uvsadm_backup)
                    if len(backup) == 6:
                        break
                    time.sleep(0.1)
                self.assertEqual(len(master), 6, master)
                self.assertTrue(all("ESTABLISHED" in r for r in master), master)
                self.assertEqual(backup, master)
                # the backup counts them on its real servers, as the master does
                def counts_of(fn):
                    return [l.split()[-2:] for l in fn("-L", "-n").stdout.splitlines() if "->" in l and "Route" in l]
                self.assertEqual(counts_of(lab.uvsadm_backup), counts_of(lab.uvsadm))

                # The clients finish: the FIN state changes are sent at once (no threshold).
                p.stdin.write("\n")
                p.stdin.flush()
                p.wait(timeout=20)
                for _ in range(40):
                    master = table(lab.uvsadm)
                    backup = table(lab.uvsadm_backup)
                    if backup == master and not any("ESTABLISHED" in r for r in backup):
                        break
                    time.sleep(0.1)
                self.assertEqual(backup, master)
                self.assertFalse(any("ESTABLISHED" in r for r in backup), backup)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdin.close()
                p.stdout.close()
            if os.environ.get("UVS_TEST_VERBOSE"):
                print("\nmaster:", master, "\nbackup:", backup, file=sys.stderr)
            drops = dict(l.split() for l in lab.uvsadm("--drops").stdout.splitlines())
            self.assertEqual(drops["sync-send-error"], "0")
            self.assertEqual(dict(l.split() for l in lab.uvsadm_backup("--drops").stdout.splitlines())["sync-message-rejected"], "0")

            lab.uvsadm_backup("--stop-daemon", "backup")
            self.assertEqual(lab.uvsadm_backup("-L", "--daemon").stdout, "")
            r = lab.uvsadm_backup("--stop-daemon", "backup", check=False)
            self.assertEqual((r.returncode, r.stderr), (255, "No daemon is running\n"))
            self.assertEqual(lab.stop_uvsd(), 0)


class OracleReplayedLive(LiveTestCase):
    """The oracle's captures replayed into a live uvsd: the frames on the wire and the
    listings must be the kernel's."""

    def replay(self, scenario, interfaces=None):
        d = os.path.join(FIXTURES, scenario)
        rules = read(os.path.join(d, "rules.txt"))
        for oracle_name, ours in (interfaces or {}).items():
            rules = rules.replace(f"--mcast-interface {oracle_name}", f"--mcast-interface {ours}")
        rss = sorted(set(re.findall(r"-r \[?([0-9.]+)\]?:", rules)))
        with ReplayLab(rss) as lab:
            lab.start_uvsd(rules)
            out_cap = os.path.join(lab.tmp, "out.pcap")
            cli_cap = os.path.join(lab.tmp, "out-client.pcap")
            lab.spawn("sw", "tcpdump", "-U", "-Q", "in", "-i", "p-lb", "-w", out_cap)
            lab.spawn("cl", "tcpdump", "-U", "-Q", "in", "-i", "eth0", "-w", cli_cap, "not arp")
            time.sleep(1)
            lab.run("cl", "tcpreplay", "-q", "-i", "eth0", os.path.join(d, "input.pcap"))
            replies = os.path.join(d, "replies.pcap")
            if os.path.exists(replies):
                time.sleep(0.3)
                lab.run("sw", "tcpreplay", "-q", "-i", "p-lb", replies)
            # Until the listing is the kernel's or 6 s pass (a loaded machine can lag the rings).
            want = read(os.path.join(d, "expected", "ipvsadm-L.txt"))
            deadline = time.time() + 6
            time.sleep(1.5)
            listing = lab.uvsadm("-L", "-n").stdout
            while listing != want and time.time() < deadline:
                time.sleep(0.2)
                listing = lab.uvsadm("-L", "-n").stdout
            stats = lab.uvsadm("-L", "-n", "--stats").stdout
            conns = lab.uvsadm("-L", "-n", "-c").stdout
            for p in lab.procs[1:]:
                p.send_signal(signal.SIGINT)
            time.sleep(0.5)
            got = frames(out_cap)
            got_cli = frames(cli_cap)
        exp = os.path.join(d, "expected")
        self.assertEqual(listing, read(os.path.join(exp, "ipvsadm-L.txt")))
        self.assertEqual(stats, read(os.path.join(exp, "ipvsadm-Lstats.txt")))
        self.assertEqual(connection_rows(conns), connection_rows(read(os.path.join(exp, "ipvsadm-Lc.txt"))))
        # IGMP reports (a backup joining its group) are the host stack's, not IPVS's.
        self.assertEqual([f.hex() for f in got if not is_arp(f) and not is_igmp(f)],
                         [f.hex() for f in frames(os.path.join(exp, "out.pcap")) if not is_igmp(f)])
        self.assertEqual([f.hex() for f in got_cli if not is_igmp(f)],
                         [f.hex() for f in frames(os.path.join(exp, "out-client.pcap")) if not is_igmp(f)])

    def test_dr_wlc_lifecycle(self):
        self.replay("dr-wlc-lifecycle")

    def test_dr_wrr(self):
        self.replay("dr-wrr")

    def test_persist(self):
        self.replay("persist")

    def test_nat_lifecycle(self):
        self.replay("nat-lifecycle")

    def test_sync_backup(self):
        # Sync messages received by a live backup daemon (on d0, the oracle's dir-in): the
        # connections they create and update, and the frames of those connections afterwards.
        self.replay("sync-backup", interfaces={"dir-in": "d0"})


def read(path):
    with open(path) as f:
        return f.read()


def is_igmp(f):
    return len(f) >= 24 and f[12:14] == b"\x08\x00" and f[23] == 2


def connection_rows(listing):
    """`-L -n -c` rows without the expiry column (a time), in any order (hash order)."""
    return sorted(line[:4] + line[10:] for line in listing.splitlines()[2:])


def is_arp(f):
    return len(f) >= 14 and f[12:14] == b"\x08\x06"


def frames(path):
    """The frames of a classic pcap file."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    i = 24
    while i + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[i:i + 16])
        out.append(data[i + 16:i + 16 + incl])
        i += 16 + incl
    return out


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("the live tests need root (network namespaces)", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
