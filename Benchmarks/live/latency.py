"""Added latency of uvsd against ../shared/limit's C forwarder (same topology, same
generator, interleaved): p50/p99 of the one-way time of probe frames from the generator's
namespace through the director to the sink, under background load from limit's gen.

    python3 Benchmarks/live/latency.py [--reps 3] [--load PPS] [--probes N] [--workers N]

Topology and addresses are ../shared/limit's (g0 | l0 director l1 | s0; VIP 198.19.0.1:80,
real server 198.19.1.10 with a permanent neighbour entry). Probe k is a SYN from
198.18.255.(k % 200 + 1) port 60000 + k // 200 with TCP seq k; it is timestamped just before
send() and by the kernel on arrival at the sink (SO_TIMESTAMPNS). Root."""
import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tests", "live"))
from frames import csum  # noqa: E402  (the live tests' frame helpers)
LIMIT = os.path.join(ROOT, "..", "shared", "limit")
NS = {k: f"uvslat{os.getpid() % 10000}-{k}" for k in ("gen", "lb", "sink")}
MAC = {"g0": "02:00:00:00:00:01", "l0": "02:00:00:00:01:01", "l1": "02:00:00:00:02:01", "s0": "02:00:00:00:02:02"}
VIP, RS, LB_OUT = "198.19.0.1", "198.19.1.10", "198.19.1.1"


def sh(*a, check=True):
    return subprocess.run(a, check=check, capture_output=True, text=True)


def nsx(ns, *a, **kw):
    return sh("ip", "netns", "exec", NS[ns], *a, **kw)


def probe(k):
    src = bytes([198, 18, 255, k % 200 + 1])
    dst = socket.inet_aton(VIP)
    tcp = struct.pack("!HHIIBBHHH", 60000 + k // 200, 80, k, 0, 0x50, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, 20) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, k & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
    return mac(MAC["l0"]) + mac(MAC["g0"]) + b"\x08\x00" + ip + tcp + b"\0" * 6


SENDER = r'''
import socket, struct, sys, time
iface, n, rate, path = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
frames = [bytes.fromhex(l) for l in open(path)]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((iface, 0))
out = []
t0 = time.time()
for k in range(n):
    while time.time() < t0 + k / rate: pass
    t = time.time_ns(); s.send(frames[k]); out.append(t)
print(" ".join(map(str, out)))
'''

RECEIVER = r'''
import socket, struct, sys, select, time
iface, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); s.bind((iface, 0))
s.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
print("ready", flush=True)
got = {}
deadline = None
while len(got) < n:
    r, _, _ = select.select([s], [], [], 1.0)
    if not r:
        if deadline and time.time() > deadline: break
        continue
    data, anc, _, _ = s.recvmsg(2048, 64)
    if len(data) < 54 or data[12:14] != b"\x08\x00" or data[26:29] != bytes([198, 18, 255]): continue
    k = struct.unpack("!I", data[38:42])[0]
    for lvl, typ, val in anc:
        if typ == 35:  # SCM_TIMESTAMPNS
            sec, nsec = struct.unpack("qq", val[:16]); got[k] = sec * 10**9 + nsec
    if deadline is None: deadline = time.time() + 30
print(" ".join(f"{k}:{v}" for k, v in got.items()))
'''


def setup(tmp):
    for n in NS.values():
        sh("ip", "netns", "add", n)
    for k in NS:
        nsx(k, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "-n", NS[k], "link", "set", "lo", "up")
    sh("ip", "link", "add", "g0", "address", MAC["g0"], "netns", NS["gen"], "type", "veth", "peer", "name", "l0",
       "address", MAC["l0"], "netns", NS["lb"])
    sh("ip", "link", "add", "l1", "address", MAC["l1"], "netns", NS["lb"], "type", "veth", "peer", "name", "s0",
       "address", MAC["s0"], "netns", NS["sink"])
    for ns, dev in [("gen", "g0"), ("lb", "l0"), ("lb", "l1"), ("sink", "s0")]:
        sh("ip", "-n", NS[ns], "link", "set", dev, "up")
    sh("ip", "-n", NS["lb"], "addr", "add", f"{LB_OUT}/24", "dev", "l1")
    sh("ip", "-n", NS["lb"], "neigh", "replace", RS, "lladdr", MAC["s0"], "dev", "l1", "nud", "permanent")
    for ns, dev in [("lb", "l0"), ("sink", "s0")]:
        sh("tc", "-n", NS[ns], "qdisc", "add", "dev", dev, "clsact")
        sh("tc", "-n", NS[ns], "filter", "add", "dev", dev, "ingress", "bpf", "da", "bytecode", "1,6 0 0 2")
    sh("gcc", "-O2", "-o", f"{tmp}/gen", f"{LIMIT}/src/gen.c")
    sh("gcc", "-O2", "-pthread", "-o", f"{tmp}/fwd", f"{LIMIT}/src/fwd.c")
    with open(f"{tmp}/rules", "w") as f:
        f.write(f"-A -t {VIP}:80 -s rr\n-a -t {VIP}:80 -r {RS}:80 -g -w 1\n")


def teardown():
    for n in NS.values():
        sh("ip", "netns", "del", n, check=False)


def measure(tmp, label, cmd, load, probes, rate):
    ready = f"{tmp}/ready"
    if os.path.exists(ready):
        os.unlink(ready)
    fwd = subprocess.Popen(["ip", "netns", "exec", NS["lb"], "taskset", "-c", "1", "bash", "-c", cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           env=dict(os.environ, READY=ready))
    try:
        t = time.time()
        while not os.path.exists(ready):
            if time.time() - t > 20 or fwd.poll() is not None:
                raise RuntimeError(f"{label} not ready")
            time.sleep(0.05)
        gen = subprocess.Popen(["ip", "netns", "exec", NS["gen"], "taskset", "-c", "0", f"{tmp}/gen", "-i", "g0",
                                "-d", MAC["l0"], "-m", "mmsg", "-r", str(load), "-t", "60"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        rx = subprocess.Popen(["ip", "netns", "exec", NS["sink"], "python3", "-c", RECEIVER, "s0", str(probes)],
                              stdout=subprocess.PIPE, text=True)
        assert rx.stdout.readline().strip() == "ready"
        time.sleep(1)
        tx = nsx("gen", "taskset", "-c", "0", "python3", "-c", SENDER, "g0", str(probes), str(rate), f"{tmp}/probes")
        sent = list(map(int, tx.stdout.split()))
        out, _ = rx.communicate(timeout=60)
        os.killpg(gen.pid, signal.SIGTERM)
        gen.wait()
        got = dict(map(int, x.split(":")) for x in out.split())
        lat = sorted((got[k] - sent[k]) / 1000 for k in got)
        if not lat:
            raise RuntimeError(f"{label}: no probe arrived")
        return lat[len(lat) // 2], lat[int(len(lat) * 0.99)], len(lat)
    finally:
        os.killpg(fwd.pid, signal.SIGTERM)
        fwd.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--load", type=int, default=100000, help="background pps from limit's gen (existing flows)")
    ap.add_argument("--probes", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=2000, help="probe frames per second")
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="uvs-lat-")
    with open(f"{tmp}/probes", "w") as f:
        for k in range(a.probes):
            f.write(probe(k).hex() + "\n")
    uvsd = os.path.join(ROOT, ".build", "release", "uvsd")
    ring = "--ring-block-size 262144 --ring-blocks 64 --ring-timeout 2"
    forwarders = {
        "C": f"exec {tmp}/fwd -m v3mmsg -B 262144 -N 64 -T 2 -i l0 -o l1 -d {MAC['s0']} -s {MAC['l1']} -t 0 -r $READY",
        "uvsd": f"exec {uvsd} run --rules {tmp}/rules --interface l0 --server-interface l1 --workers {a.workers} "
                f"{ring} --control {tmp}/sock --ready-file $READY --stats-interval 0",
    }
    results = {k: [] for k in forwarders}
    try:
        setup(tmp)
        for rep in range(a.reps):
            order = list(forwarders) if rep % 2 == 0 else list(reversed(forwarders))
            for label in order:
                p50, p99, n = measure(tmp, label, forwarders[label], a.load, a.probes, a.rate)
                results[label].append((p50, p99))
                print(f"rep {rep + 1} {label}: p50 {p50:.1f} us, p99 {p99:.1f} us ({n}/{a.probes} probes)", flush=True)
    finally:
        teardown()
    med = lambda xs: sorted(xs)[len(xs) // 2]
    for label in forwarders:
        print(f"{label}: p50 {med([r[0] for r in results[label]]):.1f} us, p99 {med([r[1] for r in results[label]]):.1f} us")
    d50 = med([u[0] - c[0] for u, c in zip(results["uvsd"], results["C"])])
    d99 = med([u[1] - c[1] for u, c in zip(results["uvsd"], results["C"])])
    print(f"added latency uvsd - C (median of interleaved pairs): p50 {d50:+.1f} us, p99 {d99:+.1f} us")


main()
