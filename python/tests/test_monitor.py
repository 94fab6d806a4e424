"""Tests for python/openclaw_fleet_monitor.py: SPEC §8 vectors, config checks, file merging, CLI."""

import hashlib
import hmac
import http.server
import json
import os
import socket
import stat
import subprocess
import sys
import threading

import pytest

from conftest import MONITOR_PATH, load_monitor, load_vectors

M = load_monitor()
HANDSHAKE = load_vectors("handshake.json")
CONFIG = load_vectors("config-envelope.json")
needs_crypto = pytest.mark.skipif(
    M.AESGCM is None, reason="the 'cryptography' package is not installed (pip install cryptography)")


# ----------------------------------------------------------------- handshake

@pytest.mark.parametrize("v", HANDSHAKE["valid"], ids=lambda v: v["agent_id"][:8] + "-" + v["timestamp"])
def test_handshake_valid_vectors(v):
    assert v["agent_id"] + v["timestamp"] == v["message"]
    assert M.sign_handshake(v["agent_id"], v["timestamp"], v["agent_secret"]) == v["signature"]
    one_line = hmac.new(v["agent_secret"].encode(), (v["agent_id"] + v["timestamp"]).encode(),
                        hashlib.sha256).hexdigest()
    assert one_line == v["signature"]


@pytest.mark.parametrize("v", HANDSHAKE["invalid"], ids=lambda v: v["why"])
def test_handshake_invalid_vectors(v):
    mine = M.sign_handshake(v["agent_id"], v["timestamp"], v["agent_secret"])
    assert not hmac.compare_digest(mine, v["signature"])


# -------------------------------------------------------------------- base64

@pytest.mark.parametrize("n", range(0, 40))
def test_b64u_round_trip(n):
    data = os.urandom(n)
    text = M.b64u_encode(data)
    assert "=" not in text
    assert M.b64u_decode(text) == data


@pytest.mark.parametrize("bad", ["AA==", "AAA=", "AB+/", "AB/A", "AA A", "A", "AAAAA", "AB", "AAB", "é", "AA\n", 3])
def test_b64u_rejects(bad):
    with pytest.raises(ValueError):
        M.b64u_decode(bad)


def test_hkdf_rfc5869_case_1():
    okm = M.hkdf_sha256(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")


@pytest.mark.parametrize("v", CONFIG["valid"], ids=lambda v: v["agent_id"][:8])
def test_config_key_vectors(v):
    assert M.config_key(v["encryption_secret"], v["agent_id"]).hex() == v["config_key_hex"]
    assert M.config_aad(v["agent_id"], v["envelope"]["version"]) == v["aad"].encode()


@pytest.mark.parametrize("bad", [
    "uCnu8972yijA7PEJhfDsyAC978ckYREWkPjtWreD0ao",
    "ocf_es_U2VxRXWI9bgUoCfyoMjUhFNPCknCSaf7kRryt8yQnQ",
    "ocf_es_" + "A" * 44,
    "ocf_es_uCnu8972yijA7PEJhfDsyAC978ckYREWkPjtWreD0ao=",
])
def test_encryption_secret_parse_rejects(bad):
    with pytest.raises(ValueError):
        M.parse_encryption_secret(bad)


# ----------------------------------------------------------- config envelope

@needs_crypto
@pytest.mark.parametrize("v", CONFIG["valid"], ids=lambda v: v["agent_id"][:8])
def test_config_valid_vectors(v):
    version, plaintext = M.decrypt_envelope(v["encryption_secret"], v["agent_id"], v["envelope"])
    assert version == v["envelope"]["version"]
    assert plaintext == v["plaintext"].encode("utf-8")
    assert M.open_config(v["encryption_secret"], v["agent_id"], v["envelope"]) == (version, json.loads(v["plaintext"]))
    key = M.config_key(v["encryption_secret"], v["agent_id"])
    ct = M.AESGCM(key).encrypt(M.b64u_decode(v["envelope"]["iv"]), plaintext, v["aad"].encode())
    assert M.b64u_encode(ct) == v["envelope"]["ct"]


@needs_crypto
@pytest.mark.parametrize("v", CONFIG["invalid"], ids=lambda v: v["why"])
def test_config_invalid_vectors(v):
    with pytest.raises(M.ConfigRejected):
        M.open_config(v["encryption_secret"], v["agent_id"], v["envelope"])


def seal(secret, agent_id, version, doc_or_text, iv=None):
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    iv = iv or os.urandom(12)
    ct = M.AESGCM(M.config_key(secret, agent_id)).encrypt(iv, text.encode("utf-8"), M.config_aad(agent_id, version))
    return {"v": 1, "alg": "A256GCM", "agent_id": agent_id, "version": version,
            "iv": M.b64u_encode(iv), "ct": M.b64u_encode(ct)}


V0 = CONFIG["valid"][0]
SECRET, AGENT = V0["encryption_secret"], V0["agent_id"]


@needs_crypto
def test_open_config_refuses_another_agents_envelope_and_rollback():
    other = CONFIG["valid"][1]
    with pytest.raises(M.ConfigRejected) as e:
        M.open_config(SECRET, other["agent_id"], V0["envelope"])
    assert e.value.code == "config_wrong_agent"
    with pytest.raises(M.ConfigRejected) as e:
        M.open_config(SECRET, AGENT, V0["envelope"], last_applied=2)
    assert e.value.code == "config_rollback"
    assert M.open_config(SECRET, AGENT, V0["envelope"], last_applied=1)[0] == 1


@needs_crypto
@pytest.mark.parametrize("change", [
    {"extra": 1}, {"version": 0}, {"version": "1"}, {"version": True}, {"version": 1.0}, {"v": True},
    {"ct": "AAAA"}, {"iv": M.b64u_encode(bytes(16))},
])
def test_open_config_refuses_malformed_envelopes(change):
    env = dict(V0["envelope"], **change)
    with pytest.raises(M.ConfigRejected):
        M.open_config(SECRET, AGENT, env)


@needs_crypto
@pytest.mark.parametrize("text", [
    '{"schema":2,"env":{},"openclaw":{}}',
    '{"schema":true,"env":{},"openclaw":{}}',
    '{"schema":1,"env":{"lower":"x"},"openclaw":{}}',
    '{"schema":1,"env":{"A-B":"x"},"openclaw":{}}',
    '{"schema":1,"env":{"A":1},"openclaw":{}}',
    '{"schema":1,"env":{},"openclaw":[]}',
    '{"schema":1,"env":{"A":"a\\nb"}}',
    '[]',
    'not json',
])
def test_open_config_refuses_bad_documents(text):
    with pytest.raises(M.ConfigRejected) as e:
        M.open_config(SECRET, AGENT, seal(SECRET, AGENT, 3, text))
    assert e.value.code == "config_invalid"


# ------------------------------------------------------------- .env merging

def env_file(tmp_path, text=None):
    path = tmp_path / ".env"
    if text is not None:
        path.write_text(text)
    return path


def apply_env(tmp_path, env, openclaw=None, previous=None):
    return M.apply_document(str(tmp_path), {"schema": 1, "env": env, "openclaw": openclaw or {}}, previous or [])


def test_env_and_openclaw_json_are_0600(tmp_path):
    """The byte-level rules (blocks, markers, CRLF, quoting, merge, removal) are the shared
    vectors of spec/test-vectors/apply.json (test_apply_vectors.py); here: file modes."""
    path = env_file(tmp_path, "# mine\n")
    os.chmod(str(path), 0o644)
    apply_env(tmp_path, {"ANTHROPIC_API_KEY": "sk-1"}, {"gateway": {"port": 1}})
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(tmp_path / "openclaw.json")).st_mode) == 0o600
    apply_env(tmp_path, {}, {"gateway": {"port": 2}}, [["gateway", "port"]])
    assert stat.S_IMODE(os.stat(str(tmp_path / "openclaw.json.bak")).st_mode) == 0o600


def test_json5_reader_reads_what_openclaw_writes():
    text = """// c\n{a: 1, 'b': 'x\\'y', "c": [0x1F, -2, +3, .5, 1e2,], /* d */ d: {e: null, f: true,},}"""
    assert M.parse_json5(text) == {"a": 1, "b": "x'y", "c": [31, -2, 3, 0.5, 100.0], "d": {"e": None, "f": True}}
    for bad in ["{a: 1", "{a: NaN}", "{a: Infinity}", "[1,,]", "{'a' 1}", "/* open", "01", "{a: 'x\ny'}"]:
        with pytest.raises(ValueError):
            M.parse_json5(bad)


# --------------------------------------------------- monitor config handling

def make_monitor(tmp_path, secret=SECRET, agent=AGENT):
    settings = M.Settings("http://127.0.0.1:9", agent, "ocf_as_test", secret, str(tmp_path), "http://127.0.0.1:9")
    return M.Monitor(settings)


@needs_crypto
def test_monitor_applies_then_refuses_rollback_and_reports_it(tmp_path):
    m = make_monitor(tmp_path)
    m.handle_config(seal(SECRET, AGENT, 2, {"schema": 1, "env": {"NEW": "v2"}, "openclaw": {}}))
    assert m.state.applied == 2 and m.config_error is None
    good = (tmp_path / ".env").read_text()
    assert "NEW='v2'" in good

    m.handle_config(V0["envelope"])
    assert m.config_error == "config_rollback"
    assert (tmp_path / ".env").read_text() == good
    body = m.heartbeat_body(5.0)
    assert body["status"] == "error" and body["error"] == "config_rollback"
    assert body["config_version_applied"] == 2

    state = json.loads((tmp_path / M.STATE_FILE).read_text())
    assert state["config_version_applied"] == 2 and state["agent_id"] == AGENT
    assert stat.S_IMODE(os.stat(str(tmp_path / M.STATE_FILE)).st_mode) == 0o600
    assert make_monitor(tmp_path).state.applied == 2

    m.handle_config(seal(SECRET, AGENT, 3, {"schema": 1, "env": {"NEW": "v3"}, "openclaw": {}}))
    assert m.config_error is None and m.heartbeat_body(5.0)["status"] == "healthy"


@needs_crypto
def test_monitor_refuses_other_agent_and_forged_envelopes(tmp_path):
    m = make_monitor(tmp_path)
    other = CONFIG["valid"][1]
    forged = seal("ocf_es_" + M.b64u_encode(bytes(32)), AGENT, 5, {"schema": 1, "env": {"X": "1"}, "openclaw": {}})
    for env, code in [(other["envelope"], "config_wrong_agent"), (CONFIG["invalid"][0]["envelope"], None),
                      (forged, "config_auth_failed")]:
        m.config_error = None
        m.handle_config(env)
        assert m.config_error is not None and m.config_error == (code or m.config_error)
    assert not (tmp_path / ".env").exists()
    assert m.state.applied == 0


def test_state_for_another_agent_does_not_carry_its_version(tmp_path):
    (tmp_path / M.STATE_FILE).write_text(json.dumps(
        {"schema": 1, "agent_id": CONFIG["valid"][1]["agent_id"], "config_version_applied": 9,
         "managed_env": [], "managed_openclaw": [["a"]]}))
    m = make_monitor(tmp_path)
    assert m.state.applied == 0 and m.state.openclaw_paths == [["a"]]


def test_corrupt_state_file_stops_start_instead_of_forgetting_the_version(tmp_path):
    (tmp_path / M.STATE_FILE).write_text("{")
    with pytest.raises(M.SettingsError):
        make_monitor(tmp_path)


# ------------------------------------------------------------------ metrics

def test_heartbeat_body_reports_gateway_unreachable_and_numbers_only(tmp_path):
    m = make_monitor(tmp_path)
    body = m.heartbeat_body(None)
    assert body["status"] == "error" and body["error"] == "gateway_unreachable"
    assert "latency_ms" not in body["metrics"]
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in body["metrics"].values())
    assert "config_version_applied" not in body
    healthy = m.heartbeat_body(3.5)
    assert healthy["status"] == "healthy" and "error" not in healthy and healthy["metrics"]["latency_ms"] == 3.5


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_linux_metrics_are_in_range():
    cpu = M.CpuSampler().usage()
    assert cpu is not None and 0.0 <= cpu <= 100.0
    for value in (M.memory_usage(), M.disk_usage()):
        assert value is not None and 0.0 <= value <= 100.0
    assert M.uptime_hours() > 0
    assert M.load_avg() >= 0


def test_cpu_usage_from_proc_stat_deltas(tmp_path):
    path = tmp_path / "stat"
    path.write_text("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 1 1 1\n")
    sampler = M.CpuSampler(str(path))
    sampler.prev = sampler._read()
    path.write_text("cpu  150 0 150 850 50 0 0 0 0 0\n")
    assert sampler.usage() == 50.0


def test_memory_usage_prefers_memavailable(tmp_path):
    path = tmp_path / "meminfo"
    path.write_text("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\nCached: 500 kB\n")
    assert M.memory_usage(str(path)) == 75.0


def test_probe_gateway_measures_a_real_listener_and_reports_a_closed_port():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        latency = M.probe_gateway("http://127.0.0.1:%d/" % server.server_port)
    finally:
        server.shutdown()
        server.server_close()
    assert latency is not None and latency >= 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert M.probe_gateway("http://127.0.0.1:%d/" % closed) is None


@pytest.mark.parametrize("failures,low,high", [(1, 0.5, 1), (2, 1, 2), (3, 2, 4), (7, 30, 60), (50, 30, 60)])
def test_backoff_grows_with_jitter_and_caps_at_60(failures, low, high):
    assert M.backoff_delay(failures, lambda: 0.0) == low
    assert M.backoff_delay(failures, lambda: 1.0) == high


def test_interval_is_clamped():
    assert M.clamp_interval(30, 10) == 30
    assert M.clamp_interval(0, 10) == M.MIN_INTERVAL
    assert M.clamp_interval(10 ** 9, 10) == M.MAX_INTERVAL
    assert M.clamp_interval("30", 10) == 10


# ------------------------------------------------------------ settings / CLI

def test_file_settings_strip_the_trailing_newline(tmp_path):
    f = tmp_path / "s"
    f.write_text("ocf_as_abc\n")
    assert M.read_setting({"X_FILE": str(f)}, "X") == "ocf_as_abc"
    with pytest.raises(M.SettingsError):
        M.read_setting({"X_FILE": str(f), "X": "y"}, "X")
    with pytest.raises(M.SettingsError):
        M.read_setting({"X_FILE": str(tmp_path / "missing")}, "X")


def run_cli(args, env, python_flags=()):
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": env.pop("HOME", "/nonexistent")}
    full_env.update(env)
    return subprocess.run([sys.executable] + list(python_flags) + [MONITOR_PATH] + args, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % s.getsockname()[1]


def test_help_documents_the_settings():
    r = run_cli(["--help"], {})
    assert r.returncode == 0
    for word in ["--once", "--url", "--agent-id", "--interval", "--state-dir", "--verbose",
                 "OPENCLAW_FLEET_AGENT_SECRET", "_FILE", "OPENCLAW_GATEWAY_URL", "run"]:
        assert word in r.stdout


def test_missing_settings_exit_2_with_one_line():
    r = run_cli(["--once"], {"OPENCLAW_FLEET_URL": "http://127.0.0.1:9"})
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "agent id" in r.stderr


def test_once_against_nothing_fails_with_one_line_and_no_secret(tmp_path):
    secret = "ocf_as_" + M.b64u_encode(os.urandom(32))
    r = run_cli(["--once", "--state-dir", str(tmp_path)], {
        "OPENCLAW_FLEET_URL": closed_port_url(), "OPENCLAW_FLEET_AGENT_ID": AGENT,
        "OPENCLAW_FLEET_AGENT_SECRET": secret, "OPENCLAW_FLEET_ENCRYPTION_SECRET": SECRET})
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("openclaw-fleet-monitor: server unreachable")
    assert secret not in r.stderr + r.stdout and SECRET not in r.stderr + r.stdout


def test_without_cryptography_it_says_so_once(tmp_path):
    # -S leaves out site-packages, which is where 'cryptography' lives.
    r = run_cli(["--once", "--state-dir", str(tmp_path)], {
        "OPENCLAW_FLEET_URL": closed_port_url(), "OPENCLAW_FLEET_AGENT_ID": AGENT,
        "OPENCLAW_FLEET_AGENT_SECRET": "ocf_as_x", "OPENCLAW_FLEET_ENCRYPTION_SECRET": SECRET}, ["-S"])
    probe = subprocess.run([sys.executable, "-S", "-c", "import cryptography"], stderr=subprocess.DEVNULL)
    if probe.returncode == 0:
        pytest.skip("cryptography is importable even without site-packages here")
    assert r.stderr.count(M.NO_CRYPTO_MESSAGE) == 1
    assert r.returncode == 1
