"""Without ENCRYPTION_SECRET the monitor runs monitor-only: it handshakes and heartbeats,
fetches and applies no config, says so in one line at start, and reports
`config_delivery: "not_set_up"` in every heartbeat."""

import os
import subprocess
import sys

from conftest import MONITOR_PATH, load_monitor
from test_handshake import AGENT, AGENT_SECRET, FakeServer

M = load_monitor()
SECRET = "ocf_es_" + M.b64u_encode(bytes(range(32)))


def run_once(server, state_dir, encryption_secret=None):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("OPENCLAW_"))
    env.update({"OPENCLAW_FLEET_URL": server.url, "OPENCLAW_FLEET_AGENT_ID": AGENT,
                "OPENCLAW_FLEET_AGENT_SECRET": AGENT_SECRET, "OPENCLAW_STATE_DIR": str(state_dir),
                "OPENCLAW_GATEWAY_URL": "http://127.0.0.1:9/"})
    if encryption_secret:
        env["OPENCLAW_FLEET_ENCRYPTION_SECRET"] = encryption_secret
    return subprocess.run([sys.executable, MONITOR_PATH, "--once"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60)


def test_without_the_secret_it_heartbeats_fetches_no_config_and_says_so_once(tmp_path):
    server = FakeServer()
    try:
        r = run_once(server, tmp_path)
    finally:
        server.close()
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("monitor-only") == 1, r.stderr
    assert len([line for line in r.stderr.splitlines() if line.strip()]) == 1, r.stderr
    assert server.gets == [], "a monitor-only run fetched a config"
    assert [b.get("config_delivery") for b in server.heartbeat_bodies] == ["not_set_up"]
    assert AGENT_SECRET not in r.stderr


def test_with_the_secret_it_fetches_configs_and_says_ready(tmp_path):
    server = FakeServer()
    try:
        r = run_once(server, tmp_path, SECRET)
    finally:
        server.close()
    assert r.returncode == 0, r.stderr
    assert "monitor-only" not in r.stderr
    if M.crypto_available():
        assert len(server.gets) == 1
        assert server.heartbeat_bodies[-1]["config_delivery"] == "ready"
    else:
        assert server.heartbeat_bodies[-1]["config_delivery"] == "not_set_up"


def test_heartbeat_body_reports_config_delivery(tmp_path):
    settings = M.Settings("http://127.0.0.1:9", AGENT, AGENT_SECRET, None, str(tmp_path), "http://127.0.0.1:9")
    assert M.Monitor(settings).heartbeat_body(1.0)["config_delivery"] == "not_set_up"
    settings.encryption_secret = SECRET
    want = "ready" if M.crypto_available() else "not_set_up"
    assert M.Monitor(settings).heartbeat_body(1.0)["config_delivery"] == want
