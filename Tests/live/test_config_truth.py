"""keepalived's own verdict on a file (`keepalived -t -f FILE`) against uvsd config's: the files
keepalived accepts load in uvs, the ones it refuses are refused with FILE:LINE."""
import glob
import os
import re
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "fixtures", "configs", "keepalived")


def uvsd():
    b = os.environ.get("UVS_BUILD", "debug")
    return os.path.join(ROOT, ".build", b, "uvsd")


@unittest.skipUnless(os.path.exists("/usr/sbin/keepalived"), "keepalived is not installed (apt install keepalived)")
class KeepalivedAgrees(unittest.TestCase):
    """keepalived -t checks that a VRRP instance's interfaces exist: it runs in a namespace of
    our own with eth0 and eth1 (veth ends), removed afterwards."""

    @classmethod
    def setUpClass(cls):
        cls.ns = f"uvs-kt-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", cls.ns], check=True)
        for i in (0, 1):
            subprocess.run(["ip", "-n", cls.ns, "link", "add", f"eth{i}", "type", "veth", "peer", "name", f"kt{i}"], check=True)
            subprocess.run(["ip", "-n", cls.ns, "link", "set", f"eth{i}", "up"], check=True)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["ip", "netns", "del", cls.ns])

    def test_fixtures(self):
        files = sorted(glob.glob(os.path.join(FIXTURES, "*.conf")))
        self.assertGreaterEqual(len(files), 5)
        for f in files:
            k = subprocess.run(["ip", "netns", "exec", self.ns, "keepalived", "-t", "-f", f], capture_output=True, text=True, timeout=30)
            u = subprocess.run([uvsd(), "config", f], capture_output=True, text=True, timeout=30)
            name = os.path.basename(f)
            self.assertEqual(k.returncode == 0, name.startswith("ok-"), f"keepalived -t on {name}: {k.stderr}")
            self.assertEqual(u.returncode == 0, k.returncode == 0, f"uvsd config on {name}: {u.stderr}")
            if u.returncode != 0:
                self.assertRegex(u.stderr, rf"^{re.escape(f)}:\d+: ", name)
                # keepalived names the same line.
                line = re.search(r":(\d+): ", u.stderr).group(1)
                self.assertIn(f"Line {line})", k.stderr + k.stdout, name)


if __name__ == "__main__":
    unittest.main()
