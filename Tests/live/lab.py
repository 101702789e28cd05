"""A network-namespace lab for the live director (modelled on the kernel's IPVS selftest).

    clients ns (cl)            director ns (lb)               switch ns (sw)      real servers
    eth0 10.10.1.1-8/24 ---- d0 10.10.1.254/24                 br0 ---- rs1 eth0 10.10.2.11/24
                             d1 10.10.2.254/24 ------------------|----- rs2 eth0 10.10.2.12/24
                                                                 `----- rs3 eth0 10.10.2.13/24

The VIP 10.10.1.100 is on the clients' link; uvsd answers ARP for it on d0. Real servers
route through 10.10.2.254 (the director's kernel forwards DR replies; NAT replies are uvsd's).
DR servers carry the VIP on lo with arp_ignore=1/arp_announce=2. Everything lives in
namespaces this lab creates (unique prefix) and removes, even on failure.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

VIP = "10.10.1.100"
CLIENT_NET = "10.10.1"
SERVER_NET = "10.10.2"
RS_ADDRS = [f"{SERVER_NET}.{11 + i}" for i in range(3)]
DIP_CLIENT = f"{CLIENT_NET}.254"
DIP_SERVER = f"{SERVER_NET}.254"
ONE_ARMED_VIP = f"{SERVER_NET}.100"


def sh(*args, check=True, capture=True, timeout=30, **kw):
    r = subprocess.run(list(args), capture_output=capture, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} -> {r.returncode}: {r.stderr.strip()}")
    return r


class Lab:
    def __init__(self, mode="dr", servers=3, root=None, one_armed=False):
        self.mode = mode
        # One-armed: clients, director and real servers share the bridge (10.10.2.0/24) and
        # the VIP is ONE_ARMED_VIP; the director's only link is d1.
        self.one_armed = one_armed
        self.vip = ONE_ARMED_VIP if one_armed else VIP
        self.prefix = f"uvs{os.getpid() % 100000}"
        self.ns = {n: f"{self.prefix}-{n}" for n in ["cl", "lb", "sw"] + [f"rs{i + 1}" for i in range(servers)]}
        self.servers = servers
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="uvs-lab-")
        self.root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    # ---- helpers ----
    def ip(self, ns, *args, check=True):
        return sh("ip", "-n", self.ns[ns], *args, check=check)

    def run(self, ns, *args, check=True, timeout=30, capture=True):
        return sh("ip", "netns", "exec", self.ns[ns], *args, check=check, timeout=timeout, capture=capture)

    def spawn(self, ns, *args, log=None, **kw):
        out = open(log, "w") if log else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[ns], *args], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        if log:
            out.close()  # the child has its own descriptor
        self.procs.append(p)
        return p

    def sysctl(self, ns, key, value):
        self.run(ns, "sysctl", "-qw", f"{key}={value}")

    # ---- build / tear down ----
    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()

    def up(self):
        for n in self.ns.values():
            sh("ip", "netns", "add", n)
        for n in self.ns:
            self.ip(n, "link", "set", "lo", "up")
        self.ip("sw", "link", "add", "br0", "type", "bridge")
        self.ip("sw", "link", "set", "br0", "up")
        if self.one_armed:
            # clients on the bridge, beside the director and the real servers
            self.ip("cl", "link", "add", "eth0", "address", "02:00:0a:0a:01:01", "type", "veth", "peer", "name",
                    "p-cl", "netns", self.ns["sw"])
            self.ip("sw", "link", "set", "p-cl", "master", "br0", "up")
            for i in range(1, 9):
                self.ip("cl", "addr", "add", f"{SERVER_NET}.{i}/24", "dev", "eth0")
            self.ip("cl", "link", "set", "eth0", "up")
        else:
            # client link
            self.ip("cl", "link", "add", "eth0", "address", "02:00:0a:0a:01:01", "type", "veth", "peer", "name", "d0",
                    "netns", self.ns["lb"])
            self.ip("lb", "link", "set", "d0", "address", "02:00:0a:0a:01:fe")
            for i in range(1, 9):
                self.ip("cl", "addr", "add", f"{CLIENT_NET}.{i}/24", "dev", "eth0")
            self.ip("cl", "link", "set", "eth0", "up")
            self.ip("lb", "addr", "add", f"{DIP_CLIENT}/24", "dev", "d0")
            self.ip("lb", "link", "set", "d0", "up")
        # switch with the director's server side and the real servers
        self.ip("lb", "link", "add", "d1", "address", "02:00:0a:0a:02:fe", "type", "veth", "peer", "name", "p-lb",
                "netns", self.ns["sw"])
        self.ip("lb", "addr", "add", f"{DIP_SERVER}/24", "dev", "d1")
        self.ip("lb", "link", "set", "d1", "up")
        self.ip("sw", "link", "set", "p-lb", "master", "br0", "up")
        for i in range(self.servers):
            rs = f"rs{i + 1}"
            self.ip(rs, "link", "add", "eth0", "address", f"02:00:0a:0a:02:{11 + i:02x}", "type", "veth", "peer",
                    "name", f"p-{rs}", "netns", self.ns["sw"])
            self.ip("sw", "link", "set", f"p-{rs}", "master", "br0", "up")
            self.ip(rs, "addr", "add", f"{RS_ADDRS[i]}/24", "dev", "eth0")
            self.ip(rs, "link", "set", "eth0", "up")
            self.ip(rs, "route", "add", "default", "via", DIP_SERVER)
            if self.mode == "dr":
                self.ip(rs, "addr", "add", f"{self.vip}/32", "dev", "lo")
                self.sysctl(rs, "net.ipv4.conf.all.arp_ignore", 1)
                self.sysctl(rs, "net.ipv4.conf.all.arp_announce", 2)
                self.sysctl(rs, "net.ipv4.conf.eth0.arp_ignore", 1)
                self.sysctl(rs, "net.ipv4.conf.eth0.arp_announce", 2)
        self.sysctl("lb", "net.ipv4.ip_forward", 1)
        for k in ["all", "default", "d1"] + ([] if self.one_armed else ["d0"]):
            self.sysctl("lb", f"net.ipv4.conf.{k}.rp_filter", 0)
        # no IPv6 DAD delays or router solicitations to wait for
        for n in self.ns:
            self.sysctl(n, "net.ipv6.conf.all.disable_ipv6", 1)

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 5
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        self.procs.clear()
        for n in self.ns.values():
            sh("ip", "netns", "del", n, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- services ----
    def start_http_servers(self, payload_bytes=1 << 20):
        """python3 -m http.server on port 80 in every real server, each serving `name` (its
        own name) and `blob` (the same random payload everywhere)."""
        blob = os.urandom(payload_bytes)
        for i in range(self.servers):
            rs = f"rs{i + 1}"
            d = os.path.join(self.tmp, rs)
            os.makedirs(d)
            with open(os.path.join(d, "name"), "w") as f:
                f.write(rs)
            with open(os.path.join(d, "blob"), "wb") as f:
                f.write(blob)
            self.spawn(rs, "python3", "-m", "http.server", "80", "--bind", "0.0.0.0", "--directory", d,
                       log=os.path.join(self.tmp, f"{rs}-http.log"))
        for i in range(self.servers):
            self.wait_port(f"rs{i + 1}", 80)
        return blob

    def start_udp_echo(self, port=53):
        code = ("import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                f"s.bind(('0.0.0.0',{port}));n=sys.argv[1].encode()\n"
                "while True:\n d,a=s.recvfrom(2048);s.sendto(n+b':'+d,a)")
        for i in range(self.servers):
            self.spawn(f"rs{i + 1}", "python3", "-c", code, f"rs{i + 1}")

    def wait_port(self, ns, port, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.run(ns, "ss", "-Hltn", f"sport = :{port}", check=False)
            if r.stdout.strip():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{ns}: nothing listens on port {port}")

    # ---- the director ----
    def uvsd_path(self):
        # UVS_BUILD=release|debug picks one; else the most recently built.
        configs = [os.environ["UVS_BUILD"]] if os.environ.get("UVS_BUILD") else ["release", "debug"]
        paths = [os.path.join(self.root, ".build", c, "uvsd") for c in configs]
        paths = [p for p in paths if os.path.exists(p)]
        if not paths:
            raise RuntimeError("uvsd is not built (swift build)")
        return max(paths, key=os.path.getmtime)

    def start_uvsd(self, rules=None, extra=(), workers=1, interface=None, config=None, config_name="director.conf"):
        """uvsd run with ipvsadm rules (--rules) or a configuration file (--config)."""
        interface = interface or ("d1" if self.one_armed else "d0")
        self.rules_path = os.path.join(self.tmp, config_name if config is not None else "rules")
        with open(self.rules_path, "w") as f:
            f.write(config if config is not None else rules)
        self.control = os.path.join(self.tmp, "uvsd.sock")
        ready = os.path.join(self.tmp, "ready")
        self.uvsd_log = os.path.join(self.tmp, "uvsd.log")
        args = [self.uvsd_path(), "run", "--config" if config is not None else "--rules", self.rules_path, "--interface", interface,
                "--control", self.control, "--ready-file", ready, "--workers", str(workers),
                "--ring-blocks", "4", "--stats-interval", "1"]
        if not self.one_armed:
            args += ["--server-interface", "d1"]
        self.uvsd = self.spawn("lb", *args, *extra, log=self.uvsd_log)
        deadline = time.time() + 20
        while not os.path.exists(ready):
            if self.uvsd.poll() is not None:
                raise RuntimeError(f"uvsd exited {self.uvsd.returncode}: {self.log()}")
            if time.time() > deadline:
                raise RuntimeError(f"uvsd not ready: {self.log()}")
            time.sleep(0.05)
        return self.uvsd

    def host_state(self):
        """The director namespace's links, addresses, routes, neighbours' permanent entries
        and tc state, as text: uvsd must leave it exactly as it found it."""
        out = []
        for cmd in (["ip", "-d", "link"], ["ip", "addr"], ["ip", "route"], ["ip", "neigh", "show", "nud", "permanent"]):
            text = self.run("lb", *cmd).stdout
            # carrier comes and goes with the peers (not ours to compare)
            text = re.sub(r"NO-CARRIER,|,LOWER_UP| state \w+", "", text)
            out.append(text)
        for dev in ["d0", "d1"]:
            out.append(self.run("lb", "tc", "qdisc", "show", "dev", dev, check=False).stdout)
            out.append(self.run("lb", "tc", "filter", "show", "dev", dev, "ingress", check=False).stdout)
        return "\n".join(out)

    def log(self):
        with open(self.uvsd_log) as f:
            return f.read()

    def uvsadm(self, *args, stdin=None, check=True):
        env = dict(os.environ, UVS_CONTROL=self.control)
        p = os.path.join(os.path.dirname(self.uvsd_path()), "uvsadm")
        r = subprocess.run([p, *args], input=stdin, capture_output=True, text=True, env=env, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"uvsadm {' '.join(args)} -> {r.returncode}: {r.stderr}")
        return r

    def stop_uvsd(self, timeout=5):
        self.uvsd.send_signal(signal.SIGTERM)
        return self.uvsd.wait(timeout=timeout)

    # ---- clients ----
    def curl(self, path, src=None, timeout=10):
        args = ["curl", "-s", "--max-time", str(timeout), "-o", "-", f"http://{self.vip}/{path}"]
        if src:
            args[1:1] = ["--interface", src]
        r = self.run("cl", *args, check=False, timeout=timeout + 5)
        return r.returncode, r.stdout

    def curl_bytes(self, path, src=None, timeout=20):
        args = ["curl", "-s", "--max-time", str(timeout), "-o", "-", f"http://{self.vip}/{path}"]
        if src:
            args[1:1] = ["--interface", src]
        r = subprocess.run(["ip", "netns", "exec", self.ns["cl"], *args], capture_output=True, timeout=timeout + 5)
        return r.returncode, r.stdout


class ReplayLab(Lab):
    """For oracle fixtures: the kernel oracle's MACs and next hops, replayed live.

        cl ns: eth0 (sends the fixture's input)  ---  lb ns: d0 = 02:00:00:00:d0:01
        sw ns: p-lb (sends replies, captures)    ---  lb ns: d1 = 02:00:00:00:d0:02

    Real servers have permanent neighbour entries 02:00:<last 4 address bytes> on d1 and the
    clients sit behind a gateway whose MAC is the oracle's 02:00:00:00:c1:01."""

    def __init__(self, real_servers, dip="198.51.100.254/24"):
        super().__init__(mode="replay", servers=0)
        self.real_servers = real_servers
        self.dip = dip

    def up(self):
        for n in self.ns.values():
            sh("ip", "netns", "add", n)
        for n in self.ns:
            self.ip(n, "link", "set", "lo", "up")
            self.sysctl(n, "net.ipv6.conf.all.disable_ipv6", 1)
        self.ip("cl", "link", "add", "eth0", "address", "02:00:00:00:c1:01", "type", "veth", "peer", "name", "d0",
                "netns", self.ns["lb"])
        self.ip("lb", "link", "set", "d0", "address", "02:00:00:00:d0:01")
        self.ip("lb", "link", "add", "d1", "address", "02:00:00:00:d0:02", "type", "veth", "peer", "name", "p-lb",
                "netns", self.ns["sw"])
        for ns, dev in [("cl", "eth0"), ("lb", "d0"), ("lb", "d1"), ("sw", "p-lb")]:
            self.ip(ns, "link", "set", dev, "up")
        self.ip("lb", "addr", "add", "10.99.0.254/24", "dev", "d0")
        self.ip("lb", "addr", "add", self.dip, "dev", "d1")
        self.ip("lb", "neigh", "add", "10.99.0.1", "lladdr", "02:00:00:00:c1:01", "nud", "permanent", "dev", "d0")
        self.ip("lb", "route", "add", "default", "via", "10.99.0.1", "dev", "d0")
        for r in self.real_servers:
            b = [int(x) for x in r.split(".")]
            mac = "02:00:%02x:%02x:%02x:%02x" % tuple(b)
            self.ip("lb", "neigh", "add", r, "lladdr", mac, "nud", "permanent", "dev", "d1")
        for k in ["all", "default", "d0", "d1"]:
            self.sysctl("lb", f"net.ipv4.conf.{k}.rp_filter", 0)


class SyncLab(Lab):
    """The DR lab plus a backup director (bk) beside the real servers:

        bk ns: e1 10.10.2.253/24 on the server bridge (sync messages arrive here)
               e0 to a dead end (its client side: the VIP stays with the master)

    The master (lb) sends its sync messages from d1 (10.10.2.254) to 224.0.0.81."""

    def __init__(self):
        super().__init__(mode="dr")
        self.ns["bk"] = f"{self.prefix}-bk"

    def up(self):
        super().up()
        self.ip("bk", "link", "add", "e1", "address", "02:00:0a:0a:02:fd", "type", "veth", "peer", "name", "p-bk1",
                "netns", self.ns["sw"])
        self.ip("sw", "link", "set", "p-bk1", "master", "br0", "up")
        self.ip("bk", "addr", "add", f"{SERVER_NET}.253/24", "dev", "e1")
        self.ip("bk", "link", "add", "e0", "address", "02:00:0a:0a:03:fd", "type", "veth", "peer", "name", "p-bk0",
                "netns", self.ns["sw"])
        self.ip("sw", "link", "set", "p-bk0", "up")
        for dev in ("e0", "e1"):
            self.ip("bk", "link", "set", dev, "up")
        self.sysctl("bk", "net.ipv4.conf.all.rp_filter", 0)
        self.sysctl("bk", "net.ipv4.conf.e1.rp_filter", 0)

    def start_backup(self, rules, workers=2):
        """A second uvsd in bk, with its own control socket (self.backup_control)."""
        path = os.path.join(self.tmp, "rules-backup")
        with open(path, "w") as f:
            f.write(rules)
        self.backup_control = os.path.join(self.tmp, "uvsd-backup.sock")
        ready = os.path.join(self.tmp, "ready-backup")
        self.backup_log = os.path.join(self.tmp, "uvsd-backup.log")
        self.backup = self.spawn("bk", self.uvsd_path(), "run", "--rules", path, "--interface", "e0",
                                 "--server-interface", "e1", "--control", self.backup_control, "--ready-file", ready,
                                 "--workers", str(workers), "--ring-blocks", "4", log=self.backup_log)
        deadline = time.time() + 20
        while not os.path.exists(ready):
            if self.backup.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"backup uvsd not ready: {open(self.backup_log).read()}")
            time.sleep(0.05)

    def uvsadm_backup(self, *args, check=True):
        saved = self.control
        self.control = self.backup_control
        try:
            return self.uvsadm(*args, check=check)
        finally:
            self.control = saved
