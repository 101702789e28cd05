"""make demo: a live uvs lab in network namespaces, end to end.

Builds the lab of Tests/live/lab.py (a client namespace with 8 addresses, the director, three
real servers running python3 -m http.server behind a bridge), starts `uvsd run` two-armed with
NAT and weighted round robin, runs 30 HTTP requests and one 4 MiB transfer through the VIP with
curl, prints what `uvsadm -L -n` and `uvsadm -L -n --stats` show and which server answered each
request, stops uvsd and removes the lab. Needs root (namespaces)."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "live"))
from lab import Lab, VIP, RS_ADDRS, CLIENT_NET  # noqa: E402

RULES = f"-A -t {VIP}:80 -s wrr\n" + "".join(
    f"-a -t {VIP}:80 -r {r}:80 -m -w {w}\n" for r, w in zip(RS_ADDRS, (3, 2, 1)))


def main():
    if os.geteuid() != 0:
        sys.exit("make demo needs root: it builds network namespaces")
    with Lab("nat") as lab:
        blob = lab.start_http_servers(payload_bytes=4 << 20)
        print("rules (ipvsadm -R format):\n" + RULES)
        lab.start_uvsd(RULES)
        served = {}
        for i in range(30):
            rc, name = lab.curl("name", src=f"{CLIENT_NET}.{1 + i % 8}")
            if rc != 0:
                sys.exit(f"request {i} failed (curl exit {rc})\n{lab.log()}")
            served[name] = served.get(name, 0) + 1
        rc, data = lab.curl_bytes("blob")
        same = rc == 0 and hashlib.sha256(data).digest() == hashlib.sha256(blob).digest()
        print("$ uvsadm -L -n")
        print(lab.uvsadm("-L", "-n").stdout)
        print("$ uvsadm -L -n --stats")
        print(lab.uvsadm("-L", "-n", "--stats").stdout)
        print("requests answered per real server (weights 3:2:1):")
        for i, r in enumerate(RS_ADDRS):
            print(f"  rs{i + 1} {r}: {served.get(f'rs{i + 1}', 0)}")
        print(f"4 MiB transfer through the VIP: {'identical' if same else 'FAILED'}")
        code = lab.stop_uvsd()
        print(f"uvsd stopped (exit {code}); lab removed")
        if not same or code != 0:
            sys.exit(1)


main()
