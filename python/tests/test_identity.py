"""The monitor's Ed25519 identity (spec/SPEC-identity.md): the key pair made on first run
(0600, symlink-safe, never shown), enrollment with the token, then handshakes with
`alg: "ed25519"`, against a test server that checks every signature strictly. The same flow
against the real server is in test_against_server.py."""

import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import MONITOR_PATH, load_monitor

M = load_monitor()
AGENT = "7f9c2f64-3b7e-4c1a-9d3e-2a6b8c0d1e2f"
TOKEN = "ocf_et_" + M.b64u_encode(bytes(range(100, 132)))
pytestmark = pytest.mark.skipif(M.load_ed25519() is None, reason="needs the 'cryptography' package")


class IdentityServer(object):
    """Enrollment and the Ed25519 handshake as the spec has them: the token is spent by a
    successful enrollment only; every refusal is the same 401 `unauthorized`."""

    def __init__(self, token=TOKEN):
        self.tokens = {token} if token else set()
        self.public_key = None
        self.enrolls = []
        self.handshakes = []
        self.seen = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode())
                if self.path == "/api/agents/enroll":
                    return self._answer(*owner.enroll(body))
                if self.path == "/api/agents/handshake":
                    return self._answer(*owner.handshake(body))
                self._answer(200, {"message": "Heartbeat received", "status": "healthy",
                                   "heartbeat_interval": 30, "config_version": 0})

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_port

    def enroll(self, body):
        self.enrolls.append(body)
        if set(body) != {"agent_id", "enrollment_token", "public_key", "timestamp", "signature"}:
            return 400, {"error": "invalid_request"}
        message = M.enroll_message(body["agent_id"], body["public_key"], body["timestamp"])
        if (body["agent_id"] != AGENT or body["enrollment_token"] not in self.tokens
                or abs(int(body["timestamp"]) - time.time()) > 60
                or not M.verify_ed25519(body["public_key"], message, body["signature"])):
            return 401, {"error": "unauthorized"}
        self.tokens.clear()
        self.public_key = body["public_key"]
        return 200, {"agent_id": AGENT, "identity": "ed25519"}

    def handshake(self, body):
        self.handshakes.append(body)
        message = M.handshake_message(body["agent_id"], body["timestamp"])
        if (body.get("alg") != "ed25519" or self.public_key is None or body["agent_id"] != AGENT
                or not M.verify_ed25519(self.public_key, message, body["signature"])):
            return 401, {"error": "unauthorized"}
        if (body["agent_id"], body["signature"]) in self.seen:
            return 401, {"error": "replayed"}
        self.seen.add((body["agent_id"], body["signature"]))
        return 200, {"token": "tok", "expires_in": 3600, "heartbeat_interval": 30, "policy": {},
                     "gateway_url": None, "config": None, "config_version": 0, "server_time": int(time.time())}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = IdentityServer()
    yield s
    s.close()


def settings(url, state_dir, token=TOKEN, identity_key=None):
    return M.Settings(url, AGENT, None, None, str(state_dir), "http://127.0.0.1:9",
                      enrollment_token=token, identity_key=identity_key)


def mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def key_file(state_dir):
    return state_dir / M.IDENTITY_KEY_FILE


def test_first_run_makes_a_0600_key_enrolls_once_then_handshakes(server, tmp_path, caplog):
    with caplog.at_level(logging.DEBUG):
        m = M.Monitor(settings(server.url, tmp_path))
        m.run_once()
    text = key_file(tmp_path).read_text()
    assert text.startswith("ocf_ik_") and mode(key_file(tmp_path)) == 0o600
    assert M.Ed25519Identity(M.parse_identity_key(text.strip())).public_key == server.public_key
    assert len(server.enrolls) == 1 and server.enrolls[0]["public_key"] == server.public_key
    assert [h["alg"] for h in server.handshakes] == ["ed25519"]
    assert "agent_secret" not in json.dumps(server.handshakes)
    record = json.loads((tmp_path / M.ENROLLMENT_FILE).read_text())
    assert record == {"schema": 1, "agent_id": AGENT, "public_key": server.public_key,
                      "token_sha256": M.token_digest(TOKEN)}
    assert mode(tmp_path / M.ENROLLMENT_FILE) == 0o600
    assert text.strip()[7:] not in caplog.text and TOKEN[7:] not in caplog.text
    assert server.public_key in caplog.text  # the public key is named, so the owner can compare

    # A restart reuses the key and presents the spent token no more.
    again = M.Monitor(settings(server.url, tmp_path))
    assert not again.enrollment_pending
    again.run_once()
    assert again.token == "tok" and len(server.enrolls) == 1
    assert key_file(tmp_path).read_text() == text


def test_a_new_token_re_enrolls_and_a_lost_answer_is_recovered(server, tmp_path):
    M.Monitor(settings(server.url, tmp_path)).run_once()
    new = "ocf_et_" + M.b64u_encode(os.urandom(32))
    server.tokens = {new}
    m = M.Monitor(settings(server.url, tmp_path, token=new))
    assert m.enrollment_pending
    m.run_once()
    assert len(server.enrolls) == 2 and not server.tokens
    # The enrollment succeeded but its answer never arrived (no record written): the spent
    # token is refused, a handshake shows the key is enrolled, and that is recorded.
    os.unlink(str(tmp_path / M.ENROLLMENT_FILE))
    m = M.Monitor(settings(server.url, tmp_path, token=new))
    m.run_once()
    assert m.token == "tok" and not m.enrollment_pending
    assert M.is_enrolled(str(tmp_path), AGENT, server.public_key, new)


def test_a_refused_token_stops_with_the_fix_and_spends_nothing(server, tmp_path):
    wrong = "ocf_et_" + M.b64u_encode(os.urandom(32))
    m = M.Monitor(settings(server.url, tmp_path, token=wrong))
    with pytest.raises(M.EnrollmentRefused) as e:
        m.handshake()
    assert "issue a new enrollment token" in str(e.value) and wrong[7:] not in str(e.value)
    assert server.tokens == {TOKEN} and server.public_key is None
    assert not (tmp_path / M.ENROLLMENT_FILE).exists()
    # The key made for the refused attempt stays: the right token enrolls that same key.
    made = key_file(tmp_path).read_text()
    M.Monitor(settings(server.url, tmp_path)).run_once()
    assert key_file(tmp_path).read_text() == made


def test_once_with_a_refused_token_exits_1_without_showing_token_or_key(server, tmp_path):
    wrong = "ocf_et_" + M.b64u_encode(os.urandom(32))
    r = run_cli(["--once", "--state-dir", str(tmp_path)], {
        "OPENCLAW_FLEET_URL": server.url, "OPENCLAW_FLEET_AGENT_ID": AGENT,
        "OPENCLAW_FLEET_ENROLLMENT_TOKEN": wrong, "OPENCLAW_GATEWAY_URL": "http://127.0.0.1:9/"})
    assert r.returncode == 1
    assert "refused the enrollment" in r.stderr.strip().splitlines()[-1]
    key = key_file(tmp_path).read_text().strip()
    for secret in (wrong, wrong[7:], key, key[7:]):
        assert secret not in r.stderr + r.stdout


def test_the_token_can_come_from_a_file_flag_and_the_key_from_the_environment(server, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    me, key = M.Ed25519Identity.generate()
    state = tmp_path / "state"
    r = run_cli(["--once", "--state-dir", str(state), "--enrollment-token-file", str(token_file)], {
        "OPENCLAW_FLEET_URL": server.url, "OPENCLAW_FLEET_AGENT_ID": AGENT,
        "OPENCLAW_FLEET_IDENTITY_KEY": key, "OPENCLAW_GATEWAY_URL": "http://127.0.0.1:9/"})
    assert r.returncode == 0, r.stderr
    assert server.public_key == me.public_key
    assert not key_file(state).exists(), "a key given in the environment is not written to disk"
    assert key not in r.stderr and TOKEN not in r.stderr


def test_without_a_token_an_existing_key_file_makes_it_an_ed25519_agent(server, tmp_path):
    M.Monitor(settings(server.url, tmp_path)).run_once()
    args = M.build_parser().parse_args(["--state-dir", str(tmp_path)])
    s = M.load_settings(args, {"OPENCLAW_FLEET_URL": server.url, "OPENCLAW_FLEET_AGENT_ID": AGENT})
    assert s.identity_type == "ed25519" and s.enrollment_token is None
    m = M.Monitor(s)
    m.run_once()
    assert m.token == "tok" and len(server.enrolls) == 1


def test_a_planted_symlink_is_never_written_through(server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    os.symlink(str(outside / "stolen-key"), str(key_file(state)))  # dangling: would be created
    with pytest.raises(M.SettingsError) as e:
        M.Monitor(settings(server.url, state))
    assert "symbolic link" in str(e.value)
    assert os.listdir(str(outside)) == []
    victim = outside / "victim"
    victim.write_text("ocf_ik_" + M.b64u_encode(bytes(32)) + "\n")
    os.chmod(str(victim), 0o600)
    os.unlink(str(key_file(state)))
    os.symlink(str(victim), str(key_file(state)))
    with pytest.raises(M.SettingsError):
        M.Monitor(settings(server.url, state))
    assert server.enrolls == []


def test_create_new_file_never_replaces_what_is_there(tmp_path):
    path = tmp_path / "k"
    assert M.create_new_file(str(path), b"one")
    assert not M.create_new_file(str(path), b"two")
    assert path.read_bytes() == b"one" and mode(path) == 0o600
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "link"))
    assert not M.create_new_file(str(tmp_path / "link"), b"three")
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(os.listdir(str(tmp_path))) == ["k", "link"], "temp file left behind"


@pytest.mark.parametrize("content,perm,words", [
    ("ocf_ik_" + M.b64u_encode(bytes(range(32))) + "\n", 0o644, "other users"),
    ("ocf_ik_" + M.b64u_encode(bytes(range(32))) + "\n", 0o640, "other users"),
    ("ocf_ik_not-a-key\n", 0o600, "does not hold an ocf_ik_ key"),
    ("", 0o600, "does not hold an ocf_ik_ key"),
])
def test_a_key_file_that_cannot_be_trusted_stops_the_start(tmp_path, content, perm, words):
    key_file(tmp_path).write_text(content)
    os.chmod(str(key_file(tmp_path)), perm)
    with pytest.raises(M.SettingsError) as e:
        M.Monitor(settings("http://127.0.0.1:9", tmp_path))
    assert words in str(e.value)
    assert content.strip()[7:] == "" or content.strip()[7:] not in str(e.value)
    assert key_file(tmp_path).read_text() == content


def run_cli(args, env, python_flags=()):
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    full_env.update(env)
    return subprocess.run([sys.executable] + list(python_flags) + [MONITOR_PATH] + args, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def base_env(tmp_path, **extra):
    env = {"OPENCLAW_FLEET_URL": "http://127.0.0.1:9", "OPENCLAW_FLEET_AGENT_ID": AGENT,
           "OPENCLAW_STATE_DIR": str(tmp_path)}
    env.update(extra)
    return env


def test_settings_refuse_a_secret_together_with_a_token_or_key(tmp_path):
    for extra in ({"OPENCLAW_FLEET_ENROLLMENT_TOKEN": TOKEN},
                  {"OPENCLAW_FLEET_IDENTITY_KEY": M.Ed25519Identity.generate()[1]}):
        env = base_env(tmp_path, OPENCLAW_FLEET_AGENT_SECRET="ocf_as_x", **extra)
        with pytest.raises(M.SettingsError) as e:
            M.load_settings(M.build_parser().parse_args([]), env)
        assert "only those of this agent's kind" in str(e.value)


def test_settings_name_both_kinds_when_nothing_is_set_and_refuse_malformed_values(tmp_path):
    r = run_cli(["--once"], base_env(tmp_path))
    assert r.returncode == 2
    assert "OPENCLAW_FLEET_AGENT_SECRET" in r.stderr and "OPENCLAW_FLEET_ENROLLMENT_TOKEN" in r.stderr
    bad_token = "ocf_et_" + M.b64u_encode(os.urandom(20))
    bad_key = "ocf_ik_" + M.b64u_encode(os.urandom(20))
    for name, value in (("OPENCLAW_FLEET_ENROLLMENT_TOKEN", bad_token), ("OPENCLAW_FLEET_IDENTITY_KEY", bad_key)):
        r = run_cli(["--once"], base_env(tmp_path, **{name: value}))
        assert r.returncode == 2 and name in r.stderr
        assert value[7:] not in r.stderr
    assert os.listdir(str(tmp_path)) == []


def test_without_cryptography_an_ed25519_agent_names_the_package_and_hmac_still_runs(tmp_path):
    probe = subprocess.run([sys.executable, "-S", "-c", "import cryptography"], stderr=subprocess.DEVNULL)
    if probe.returncode == 0:
        pytest.skip("cryptography is importable even without site-packages here")
    r = run_cli(["--once"], base_env(tmp_path, OPENCLAW_FLEET_ENROLLMENT_TOKEN=TOKEN), ["-S"])
    assert r.returncode == 2
    assert r.stderr.strip() == "openclaw-fleet-monitor: " + M.NO_ED25519_MESSAGE
    assert os.listdir(str(tmp_path)) == [], "no key is made without the package"
    r = run_cli(["--once"], base_env(tmp_path, OPENCLAW_FLEET_AGENT_SECRET="ocf_as_x"), ["-S"])
    assert r.returncode == 1 and "server unreachable" in r.stderr
