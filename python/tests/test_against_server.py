"""The monitor against the REAL server binary, end to end.

Skipped unless OPENCLAW_FLEET_SERVER_BIN points to the server binary, e.g.
    cargo build -p openclaw-fleet
    OPENCLAW_FLEET_SERVER_BIN=target/debug/openclaw-fleet python3 -m pytest python/tests -q

The server's command line lives in the helpers `server_command` and `admin`
below, so a change to it is a change in one place.
"""

import http.server
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import MONITOR_PATH, load_monitor

SERVER_BIN = os.environ.get("OPENCLAW_FLEET_SERVER_BIN")
pytestmark = pytest.mark.skipif(
    not SERVER_BIN, reason="set OPENCLAW_FLEET_SERVER_BIN to the server binary (target/debug/openclaw-fleet)")

M = load_monitor()
LISTENING = re.compile(r"listening on (https?://[^\s\"',]+)")
START_TIMEOUT = 60


def clean_env():
    """The caller's environment without settings that would leak into the server or monitor."""
    return dict((k, v) for k, v in os.environ.items()
                if not k.startswith(("OPENCLAW_", "INTERNAL_ENCRYPTION_KEY", "DATABASE_URL")))


def server_command(data_dir, extra=()):
    return [os.path.abspath(SERVER_BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir] + list(extra)


def admin(data_dir, *args):
    """Runs `BIN <args> --data-dir D` and returns its JSON output."""
    cmd = [os.path.abspath(SERVER_BIN)] + list(args) + ["--data-dir", data_dir]
    r = subprocess.run(cmd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    assert r.returncode == 0, "%s failed (%d): %s" % (" ".join(args[:2]), r.returncode, r.stderr[-2000:])
    return json.loads(r.stdout)


class Server(object):
    """The real server on 127.0.0.1:0; `url` is read from its 'listening on' line."""

    def __init__(self, data_dir, extra=()):
        self.proc = subprocess.Popen(server_command(data_dir, extra), env=clean_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, universal_newlines=True)
        self.lines = queue.Queue()
        self.output = []
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()
        self.url = self._wait_for_address()

    def _pump(self, stream):
        for line in stream:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_address(self):
        deadline = time.monotonic() + START_TIMEOUT
        closed = 0
        while closed < 2:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                closed += 1
                continue
            match = LISTENING.search(line)
            if match:
                return match.group(1).rstrip("/")
        self.stop()
        raise AssertionError("server did not report 'listening on': %s" % "".join(self.output)[-3000:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        return "".join(self.output)


def api(method, url, body=None, token=None, context=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw.decode()) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw.decode()) if raw else None)


class Gateway(object):
    """A listener standing where the OpenClaw gateway would be, so the probe has something to time."""

    def __enter__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_port
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def fleet(tmp_path):
    """A fresh data dir with one owner and one agent, and the server running on it."""
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    email, password = "owner@example.com", "correct horse battery staple"
    password_file = tmp_path / "password"
    password_file.write_text(password + "\n")
    admin(data_dir, "user", "create", "--email", email, "--password-file", str(password_file))
    created = admin(data_dir, "agent", "create", "--owner", email, "--name", "monitor-e2e")
    agent = created.get("agent") if isinstance(created.get("agent"), dict) else created
    server = Server(data_dir)
    try:
        status, login = api("POST", server.url + "/api/auth/login", {"email": email, "password": password})
        assert status == 200, login
        yield {"server": server, "agent_id": agent["id"], "agent_secret": created["agent_secret"],
               "owner_token": login["token"], "state_dir": str(tmp_path / "openclaw")}
    finally:
        server.stop()


def run_monitor(fleet, gateway_url, agent_secret=None, encryption_secret=None, ca_file=None):
    env = clean_env()
    if ca_file:
        env["OPENCLAW_FLEET_CA_FILE"] = ca_file
    env.update({"OPENCLAW_FLEET_URL": fleet["server"].url, "OPENCLAW_FLEET_AGENT_ID": fleet["agent_id"],
                "OPENCLAW_FLEET_AGENT_SECRET": agent_secret or fleet["agent_secret"],
                "OPENCLAW_STATE_DIR": fleet["state_dir"], "OPENCLAW_GATEWAY_URL": gateway_url})
    if encryption_secret:
        env["OPENCLAW_FLEET_ENCRYPTION_SECRET"] = encryption_secret
    return subprocess.run([sys.executable, MONITOR_PATH, "--once"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def owner_view(fleet):
    status, agent = api("GET", "%s/api/agents/%s" % (fleet["server"].url, fleet["agent_id"]),
                        token=fleet["owner_token"])
    assert status == 200, agent
    return agent


def test_once_handshakes_and_the_owner_sees_the_heartbeat(fleet):
    assert owner_view(fleet)["last_seen"] is None
    with Gateway() as gw:
        r = run_monitor(fleet, gw.url)
    assert r.returncode == 0, r.stderr
    agent = owner_view(fleet)
    assert agent["last_seen"] is not None
    assert agent["status"] == "healthy"
    assert isinstance(agent["metrics"]["latency_ms"], (int, float))
    for secret in (fleet["agent_secret"], fleet["owner_token"]):
        assert secret not in r.stdout + r.stderr
        assert secret not in fleet["server"].log()


def test_once_reports_an_unreachable_gateway(fleet):
    r = run_monitor(fleet, "http://127.0.0.1:9/")
    assert r.returncode == 0, r.stderr
    agent = owner_view(fleet)
    assert agent["status"] == "error" and agent["error"] == "gateway_unreachable"


def test_once_with_a_wrong_secret_fails_with_401(fleet):
    r = run_monitor(fleet, "http://127.0.0.1:9/", agent_secret="ocf_as_" + M.b64u_encode(os.urandom(32)))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "openclaw-fleet-monitor: server answered 401 unauthorized"
    assert owner_view(fleet)["last_seen"] is None


@pytest.mark.skipif(M.AESGCM is None, reason="the 'cryptography' package is not installed")
def test_once_applies_a_config_saved_by_the_owner(fleet):
    enc = "ocf_es_" + M.b64u_encode(secrets.token_bytes(32))
    doc = {"schema": 1, "env": {"FLEET_E2E_VAR": "hello from the fleet"}, "openclaw": {}}
    iv = os.urandom(12)
    key = M.config_key(enc, fleet["agent_id"])
    ct = M.AESGCM(key).encrypt(iv, json.dumps(doc).encode(), M.config_aad(fleet["agent_id"], 1))
    envelope = {"v": 1, "alg": "A256GCM", "agent_id": fleet["agent_id"], "version": 1,
                "iv": M.b64u_encode(iv), "ct": M.b64u_encode(ct)}
    status, answer = api("PUT", "%s/api/agents/%s/config" % (fleet["server"].url, fleet["agent_id"]),
                         {"config": envelope}, token=fleet["owner_token"])
    assert status == 200, answer

    with Gateway() as gw:
        r = run_monitor(fleet, gw.url, encryption_secret=enc)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(fleet["state_dir"], ".env")) as f:
        assert "FLEET_E2E_VAR='hello from the fleet'" in f.read()
    agent = owner_view(fleet)
    assert agent["config_version_applied"] == 1
    assert agent["status"] == "healthy"
    assert enc not in r.stdout + r.stderr and "hello from the fleet" not in fleet["server"].log()


def start_monitor(fleet, gateway_url, extra=()):
    env = clean_env()
    env.update({"OPENCLAW_FLEET_URL": fleet["server"].url, "OPENCLAW_FLEET_AGENT_ID": fleet["agent_id"],
                "OPENCLAW_FLEET_AGENT_SECRET": fleet["agent_secret"],
                "OPENCLAW_STATE_DIR": fleet["state_dir"], "OPENCLAW_GATEWAY_URL": gateway_url})
    return subprocess.Popen([sys.executable, MONITOR_PATH, "--once", "--verbose"] + list(extra), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def test_two_runs_in_the_same_second_both_succeed(fleet):
    """A restart right after a run signs the same second: the server answers 'replayed' and the
    monitor signs the next second instead of exiting 1."""
    collided = False
    for _ in range(3):
        time.sleep(1.02 - time.time() % 1)  # both start just after a second begins
        runs = [start_monitor(fleet, "http://127.0.0.1:9/") for _ in range(2)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in runs]
        for p in runs:
            p.stdout.close()
            p.stderr.close()
        for code, stderr in results:
            assert code == 0, stderr
        collided = any("already used this second" in stderr for _, stderr in results)
        if collided:
            break
    assert collided, "the two runs never signed the same second: nothing was tested"


HEARTBEAT_DRIVER = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest import load_monitor
M = load_monitor()
url, agent, secret, enc, state = sys.argv[2:7]
m = M.Monitor(M.Settings(url, agent, secret, enc, state, "http://127.0.0.1:9/"))
m.run_once()
m.heartbeat()
print(m.can_apply_configs(), sorted(k for k in sys.modules if k.split(".")[0] == "cryptography"))
"""


def test_heartbeating_with_config_delivery_set_up_does_not_import_cryptography(fleet):
    enc = "ocf_es_" + M.b64u_encode(secrets.token_bytes(32))
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([sys.executable, "-c", HEARTBEAT_DRIVER, here, fleet["server"].url, fleet["agent_id"],
                        fleet["agent_secret"], enc, fleet["state_dir"]], env=clean_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(None, 1) == [str(M.crypto_available()), "[]\n"], r.stdout
    assert owner_view(fleet)["last_seen"] is not None


def test_monitor_only_is_shown_to_the_owner_as_config_delivery_not_set_up(fleet):
    doc_env = {"schema": 1, "env": {"NOT_APPLIED": "x"}, "openclaw": {}}
    enc = "ocf_es_" + M.b64u_encode(secrets.token_bytes(32))
    if M.crypto_available():
        iv = os.urandom(12)
        ct = M.AESGCM(M.config_key(enc, fleet["agent_id"])).encrypt(
            iv, json.dumps(doc_env).encode(), M.config_aad(fleet["agent_id"], 1))
        envelope = {"v": 1, "alg": "A256GCM", "agent_id": fleet["agent_id"], "version": 1,
                    "iv": M.b64u_encode(iv), "ct": M.b64u_encode(ct)}
        status, answer = api("PUT", "%s/api/agents/%s/config" % (fleet["server"].url, fleet["agent_id"]),
                             {"config": envelope}, token=fleet["owner_token"])
        assert status == 200, answer
    r = run_monitor(fleet, "http://127.0.0.1:9/")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("monitor-only") == 1, r.stderr
    agent = owner_view(fleet)
    assert agent["config_delivery"] == "not_set_up" and agent["last_seen"] is not None
    assert not os.path.exists(os.path.join(fleet["state_dir"], ".env")), "a monitor-only run applied a config"
    if M.crypto_available():
        r = run_monitor(fleet, "http://127.0.0.1:9/", encryption_secret=enc)
        assert r.returncode == 0, r.stderr
        assert owner_view(fleet)["config_delivery"] == "ready"


def make_test_pki(directory):
    """A test CA and a certificate for 127.0.0.1 it signed: (ca.pem, cert.pem, key.pem) paths."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "monitor test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ("ca.pem", "cert.pem", "key.pem")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


def test_over_https_the_monitor_trusts_a_private_ca_only_through_its_ca_file(tmp_path):
    pytest.importorskip("cryptography")
    import ssl
    ca_file, cert, key = make_test_pki(str(tmp_path))
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    email, password = "owner@example.com", "correct horse battery staple"
    (tmp_path / "password").write_text(password + "\n")
    admin(data_dir, "user", "create", "--email", email, "--password-file", str(tmp_path / "password"))
    created = admin(data_dir, "agent", "create", "--owner", email, "--name", "tls-monitor")
    agent = created.get("agent") if isinstance(created.get("agent"), dict) else created
    server = Server(data_dir, ["--tls-cert", cert, "--tls-key", key])
    try:
        assert server.url.startswith("https://127.0.0.1:"), server.url
        fleet = {"server": server, "agent_id": agent["id"], "agent_secret": created["agent_secret"],
                 "state_dir": str(tmp_path / "openclaw")}

        r = run_monitor(fleet, "http://127.0.0.1:9/")
        assert r.returncode == 1
        last = r.stderr.strip().splitlines()[-1]
        assert "TLS certificate is not trusted" in last and "OPENCLAW_FLEET_CA_FILE" in last, r.stderr

        junk = tmp_path / "junk.pem"
        junk.write_text("not a certificate\n")
        r = run_monitor(fleet, "http://127.0.0.1:9/", ca_file=str(junk))
        assert r.returncode == 2 and "OPENCLAW_FLEET_CA_FILE" in r.stderr, r.stderr

        r = run_monitor(fleet, "http://127.0.0.1:9/", ca_file=ca_file)
        assert r.returncode == 0, r.stderr
        ctx = ssl.create_default_context(cafile=ca_file)
        status, login = api("POST", server.url + "/api/auth/login", {"email": email, "password": password},
                            context=ctx)
        assert status == 200, login
        status, seen = api("GET", "%s/api/agents/%s" % (server.url, agent["id"]), token=login["token"],
                           context=ctx)
        assert status == 200 and seen["last_seen"] is not None, seen
    finally:
        server.stop()
