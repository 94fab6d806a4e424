"""The monitor as an Ed25519 agent against the REAL server (spec/SPEC-identity.md): it makes
its key pair, enrolls with the owner's token, handshakes, heartbeats and applies a config; a
spent token enrolls nothing else; an HMAC agent switched to Ed25519 is cut off until it enrolls.

Skipped unless OPENCLAW_FLEET_SERVER_BIN points to the server binary (see test_against_server.py).
"""

import json
import os
import secrets
import stat
import subprocess
import sys

import pytest

from conftest import MONITOR_PATH, load_monitor
from test_against_server import SERVER_BIN, Gateway, Server, admin, api, clean_env

M = load_monitor()
pytestmark = [
    pytest.mark.skipif(not SERVER_BIN, reason="set OPENCLAW_FLEET_SERVER_BIN to the server binary"),
    pytest.mark.skipif(M.load_ed25519() is None, reason="needs the 'cryptography' package"),
]


@pytest.fixture()
def owner(tmp_path):
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    email, password = "owner@example.com", "correct horse battery staple"
    (tmp_path / "password").write_text(password + "\n")
    admin(data_dir, "user", "create", "--email", email, "--password-file", str(tmp_path / "password"))
    server = Server(data_dir)
    try:
        status, login = api("POST", server.url + "/api/auth/login", {"email": email, "password": password})
        assert status == 200, login
        yield {"server": server, "token": login["token"], "tmp": tmp_path, "data_dir": data_dir}
    finally:
        server.stop()


def call(owner, method, path, body=None):
    return api(method, owner["server"].url + path, body, token=owner["token"])


def create_agent(owner, name, identity):
    status, made = call(owner, "POST", "/api/agents", {"name": name, "identity": identity})
    assert status == 201, made
    return made


def run_monitor(owner, agent_id, state_dir, credential, encryption_secret=None):
    env = clean_env()
    env.update({"OPENCLAW_FLEET_URL": owner["server"].url, "OPENCLAW_FLEET_AGENT_ID": agent_id,
                "OPENCLAW_STATE_DIR": str(state_dir), "OPENCLAW_GATEWAY_URL": "http://127.0.0.1:9/"})
    env.update(credential)
    if encryption_secret:
        env["OPENCLAW_FLEET_ENCRYPTION_SECRET"] = encryption_secret
    return subprocess.run([sys.executable, MONITOR_PATH, "--once"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def key_of(state_dir):
    path = os.path.join(str(state_dir), M.IDENTITY_KEY_FILE)
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    with open(path) as f:
        return f.read().strip()


def seal(enc, agent_id, version, doc):
    iv = os.urandom(12)
    ct = M.AESGCM(M.config_key(enc, agent_id)).encrypt(iv, json.dumps(doc).encode(), M.config_aad(agent_id, version))
    return {"v": 1, "alg": "A256GCM", "agent_id": agent_id, "version": version,
            "iv": M.b64u_encode(iv), "ct": M.b64u_encode(ct)}


def test_an_ed25519_monitor_enrolls_once_then_runs_like_an_hmac_one(owner):
    made = create_agent(owner, "ed-monitor", "ed25519")
    agent_id, token = made["agent"]["id"], made["enrollment_token"]
    assert "agent_secret" not in made and token.startswith("ocf_et_")
    enc = "ocf_es_" + M.b64u_encode(secrets.token_bytes(32))
    doc = {"schema": 1, "env": {"FLEET_ED_VAR": "signed, not shared"}, "openclaw": {}}
    status, answer = call(owner, "PUT", "/api/agents/%s/config" % agent_id, {"config": seal(enc, agent_id, 1, doc)})
    assert status == 200, answer

    state = owner["tmp"] / "host"
    with Gateway():
        r = run_monitor(owner, agent_id, state, {"OPENCLAW_FLEET_ENROLLMENT_TOKEN": token}, enc)
    assert r.returncode == 0, r.stderr
    key = key_of(state)
    public_key = M.Ed25519Identity(M.parse_identity_key(key)).public_key
    status, seen = call(owner, "GET", "/api/agents/" + agent_id)
    assert status == 200 and seen["identity"] == "ed25519" and seen["public_key"] == public_key, seen
    assert seen["last_seen"] is not None and seen["config_version_applied"] == 1
    with open(os.path.join(str(state), ".env")) as f:
        assert "FLEET_ED_VAR='signed, not shared'" in f.read()
    for secret in (key, key[7:], token):
        assert secret not in r.stdout + r.stderr and secret not in owner["server"].log()

    # Restarted: handshakes with the key, the spent token is not presented again.
    again = run_monitor(owner, agent_id, state, {"OPENCLAW_FLEET_ENROLLMENT_TOKEN": token}, enc)
    assert again.returncode == 0, again.stderr
    # A second host with the spent token enrolls nothing, and the first one's key still works.
    other = owner["tmp"] / "other-host"
    stolen = run_monitor(owner, agent_id, other, {"OPENCLAW_FLEET_ENROLLMENT_TOKEN": token})
    assert stolen.returncode == 1 and "refused the enrollment" in stolen.stderr, stolen.stderr
    assert call(owner, "GET", "/api/agents/" + agent_id)[1]["public_key"] == public_key
    # The key alone (no token) is enough once enrolled, from the environment too.
    third = owner["tmp"] / "key-from-env"
    r = run_monitor(owner, agent_id, third, {"OPENCLAW_FLEET_IDENTITY_KEY": key})
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(str(third), M.IDENTITY_KEY_FILE))


def test_switching_an_hmac_agent_cuts_its_secret_off_until_the_host_enrolls(owner):
    made = create_agent(owner, "was-hmac", "hmac")
    agent_id, agent_secret = made["agent"]["id"], made["agent_secret"]
    state = owner["tmp"] / "host"
    r = run_monitor(owner, agent_id, state, {"OPENCLAW_FLEET_AGENT_SECRET": agent_secret})
    assert r.returncode == 0, r.stderr

    status, issued = call(owner, "POST", "/api/agents/%s/enrollment-token" % agent_id)
    assert status == 200, issued
    token = issued["enrollment_token"]
    r = run_monitor(owner, agent_id, state, {"OPENCLAW_FLEET_AGENT_SECRET": agent_secret})
    assert r.returncode == 1 and "401" in r.stderr, "the deleted secret still handshakes: " + r.stderr
    r = run_monitor(owner, agent_id, state, {"OPENCLAW_FLEET_ENROLLMENT_TOKEN": token})
    assert r.returncode == 0, r.stderr
    status, seen = call(owner, "GET", "/api/agents/" + agent_id)
    assert seen["identity"] == "ed25519"
    assert seen["public_key"] == M.Ed25519Identity(M.parse_identity_key(key_of(state))).public_key
    assert agent_secret not in owner["server"].log()
