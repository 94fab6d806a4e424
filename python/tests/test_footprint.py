"""The monitor stays light: 'cryptography' (several MB once imported) is loaded only when a
config has to be decrypted, never at start or for heartbeats."""

import os
import subprocess
import sys

from conftest import MONITOR_PATH

HERE = os.path.dirname(os.path.abspath(__file__))


def run_python(code, *args):
    return subprocess.run([sys.executable, "-c", code] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_importing_the_monitor_and_building_a_monitor_does_not_import_cryptography(tmp_path):
    code = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest import load_monitor
M = load_monitor()
s = M.Settings("http://127.0.0.1:9", "7f9c2f64-3b7e-4c1a-9d3e-2a6b8c0d1e2f", "ocf_as_x",
               "ocf_es_" + M.b64u_encode(bytes(32)), sys.argv[2], "http://127.0.0.1:9")
m = M.Monitor(s)
assert m.can_apply_configs() == M.crypto_available()
m.heartbeat_body(None)
print(sorted(k for k in sys.modules if k.split(".")[0] == "cryptography"))
"""
    r = run_python(code, HERE, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout


def test_importtime_shows_no_cryptography_at_start():
    r = subprocess.run([sys.executable, "-X", "importtime", MONITOR_PATH, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert r.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if "|" in line]
    assert not [m for m in imported if m.split(".")[0] == "cryptography"], r.stderr[-2000:]
    assert "argparse" in imported, "importtime output was not read"


def test_decrypting_a_config_loads_it_on_demand():
    code = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest import load_monitor
M = load_monitor()
before = "cryptography" in sys.modules
try:
    M.decrypt_envelope("ocf_es_" + M.b64u_encode(bytes(32)), "a", {})
except M.ConfigRejected as e:
    code = e.code
print(before, "cryptography" in sys.modules, code)
"""
    r = run_python(code, HERE)
    assert r.returncode == 0, r.stderr
    before, after, code = r.stdout.split()
    assert before == "False"
    if M_has_crypto():
        assert (after, code) == ("True", "envelope_malformed")
    else:
        assert (after, code) == ("False", "no_crypto")


def M_has_crypto():
    return subprocess.run([sys.executable, "-c", "import cryptography"], stderr=subprocess.DEVNULL).returncode == 0
