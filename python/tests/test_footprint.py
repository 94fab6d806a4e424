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
        assert (after, code) == ("True", "config_invalid")
    else:
        assert (after, code) == ("False", "no_crypto")


def M_has_crypto():
    return subprocess.run([sys.executable, "-c", "import cryptography"], stderr=subprocess.DEVNULL).returncode == 0


def test_without_a_proxy_urllib_is_not_loaded():
    code = """
import sys
sys.path.insert(0, sys.argv[1])
import openclaw_fleet_monitor as M
c = M.Client("http://127.0.0.1:9", environ={})
print(getattr(c.send, "direct", False), "urllib.request" in sys.modules, "tempfile" in sys.modules)
"""
    # -S: site-packages' .pth files may import tempfile themselves on some machines.
    r = subprocess.run([sys.executable, "-S", "-c", code, os.path.dirname(MONITOR_PATH)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "False", "False"], r.stdout


class Recorder(object):
    """A listener that records request lines and answers with `status` and `headers`."""

    def __init__(self, status, headers=(), body=b'{"token": "t"}'):
        import http.server
        import threading
        self.lines = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                owner.lines.append(self.requestline)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_port

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_redirect_is_never_followed():
    from conftest import load_monitor
    M = load_monitor()
    elsewhere = Recorder(200)
    server = Recorder(307, [("Location", elsewhere.url + "/steal")])
    try:
        import pytest
        with pytest.raises(M.Unreachable) as e:
            M.Client(server.url, environ={}).call("POST", "/api/heartbeat", {"x": 1}, token="tok")
        assert "307" in str(e.value)
        assert elsewhere.lines == [] and server.lines == ["POST /api/heartbeat HTTP/1.1"]
    finally:
        server.close()
        elsewhere.close()


def test_a_configured_proxy_is_used(monkeypatch):
    from conftest import load_monitor
    M = load_monitor()
    proxy = Recorder(200)
    try:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        answer = M.Client("http://fleet.invalid:8080").call("POST", "/api/agents/handshake", {"a": 1})
        assert answer == {"token": "t"}
        assert proxy.lines == ["POST http://fleet.invalid:8080/api/agents/handshake HTTP/1.1"]
    finally:
        proxy.close()
