"""`GET /install.sh` against the REAL server: the installer downloads the agent from the
server's own /downloads/, checks it against SHA256SUMS, and installs into a throwaway root
(--prefix). Every file, owner and mode is checked; a tampered artifact is refused and
nothing is installed; secrets are taken from standard input only.

Skipped unless OPENCLAW_FLEET_SERVER_BIN points to the server binary. With
OPENCLAW_FLEET_AGENT_BIN, the real agent binary is the served artifact.
"""

import hashlib
import json
import os
import platform
import pwd
import grp
import shutil
import stat
import subprocess
import urllib.request

import pytest

from conftest import MONITOR_PATH
from test_against_server import SERVER_BIN, Server

pytestmark = pytest.mark.skipif(
    not SERVER_BIN, reason="set OPENCLAW_FLEET_SERVER_BIN to the server binary (target/debug/openclaw-fleet)")

AGENT_ID = "75d490bd-b9e2-44ea-a49c-ea2cf9b45726"
AGENT_SECRET = "ocf_as_" + "A" * 43
ENC_SECRET = "ocf_es_" + "B" * 43
ARCH = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
ARTIFACT = "openclaw-fleet-agent-0.1.0-%s-linux" % ARCH
SHELL = shutil.which("dash") or "/bin/sh"


def run_user():
    """root can hand the env file to another user; anyone else installs for themselves."""
    if os.geteuid() == 0:
        return "nobody"
    return pwd.getpwuid(os.geteuid()).pw_name


def settings_text(url):
    return ("OPENCLAW_FLEET_URL='%s'\nOPENCLAW_FLEET_AGENT_ID='%s'\n"
            "OPENCLAW_FLEET_AGENT_SECRET='%s'\nOPENCLAW_FLEET_ENCRYPTION_SECRET='%s'\n"
            % (url, AGENT_ID, AGENT_SECRET, ENC_SECRET))


@pytest.fixture()
def dist(tmp_path):
    d = tmp_path / "dist"
    d.mkdir()
    agent = os.environ.get("OPENCLAW_FLEET_AGENT_BIN")
    if agent:
        shutil.copyfile(agent, str(d / ARTIFACT))
    else:
        (d / ARTIFACT).write_bytes(b"#!/bin/sh\necho openclaw-fleet-agent stand-in\n")
    (d / "openclaw-fleet_0.1.0-1_amd64.deb").write_bytes(b"the server package is not served")
    (d / "notes.txt").write_bytes(b"neither is this")
    return d


@pytest.fixture()
def server(tmp_path, dist):
    data_dir = str(tmp_path / "data")
    s = Server(data_dir, ["--agent-dist", str(dist)])
    try:
        yield s
    finally:
        s.stop()


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.read(), resp.headers


def installer(server, tmp_path):
    body, headers = fetch(server.url + "/install.sh")
    assert headers["Content-Type"].startswith("text/plain")
    path = tmp_path / "install.sh"
    path.write_bytes(body)
    return str(path)


def install(script, prefix, stdin, *args):
    return subprocess.run([SHELL, script, "--prefix", str(prefix), "--user", run_user()] + list(args),
                          input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)


def owner_mode(path):
    st = os.lstat(str(path))
    return pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)


def test_downloads_list_the_monitor_and_the_agent_artifacts_with_their_sha256(server, dist):
    body, _ = fetch(server.url + "/downloads/")
    index = json.loads(body.decode())
    names = [f["name"] for f in index["files"]]
    assert names == sorted([ARTIFACT, "openclaw_fleet_monitor.py"]), names
    sums, _ = fetch(server.url + "/downloads/SHA256SUMS")
    with open(MONITOR_PATH, "rb") as f:
        monitor = f.read()
    expected = {
        ARTIFACT: hashlib.sha256((dist / ARTIFACT).read_bytes()).hexdigest(),
        "openclaw_fleet_monitor.py": hashlib.sha256(monitor).hexdigest(),
    }
    assert sums.decode() == "".join("%s  %s\n" % (expected[n], n) for n in sorted(expected))
    for entry in index["files"]:
        assert entry["sha256"] == expected[entry["name"]]
        served, headers = fetch(server.url + entry["url"])
        assert hashlib.sha256(served).hexdigest() == entry["sha256"]
        assert headers["X-Checksum-Sha256"] == entry["sha256"]
    # What is not an agent artifact, or not in the list, is not served.
    for name in ("openclaw-fleet_0.1.0-1_amd64.deb", "notes.txt", "..%2Fdata%2Finternal.key"):
        with pytest.raises(urllib.error.HTTPError) as e:
            fetch(server.url + "/downloads/" + name)
        assert e.value.code == 404


def test_install_sh_installs_the_agent_with_private_settings(server, tmp_path, dist):
    script = installer(server, tmp_path)
    prefix = tmp_path / "root"
    r = install(script, prefix, settings_text(server.url))
    assert r.returncode == 0, r.stderr
    for secret in (AGENT_SECRET, ENC_SECRET):
        assert secret not in r.stdout + r.stderr

    user = run_user()
    group = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    me = pwd.getpwuid(os.geteuid()).pw_name
    binary = prefix / "usr/local/bin/openclaw-fleet-agent"
    assert owner_mode(binary) == (me, 0o755)
    assert binary.read_bytes() == (dist / ARTIFACT).read_bytes()

    env_file = prefix / "etc/openclaw-fleet/agent.env"
    assert owner_mode(env_file) == (user, 0o600)
    lines = [l for l in env_file.read_text().splitlines() if not l.startswith("#")]
    home = pwd.getpwnam(user).pw_dir
    assert lines == [
        "OPENCLAW_FLEET_URL='%s'" % server.url,
        "OPENCLAW_FLEET_AGENT_ID='%s'" % AGENT_ID,
        "OPENCLAW_FLEET_AGENT_SECRET='%s'" % AGENT_SECRET,
        "OPENCLAW_FLEET_ENCRYPTION_SECRET='%s'" % ENC_SECRET,
        "OPENCLAW_STATE_DIR='%s/.openclaw'" % home,
    ]
    assert owner_mode(prefix / "etc/openclaw-fleet") == (me, 0o755)

    unit = prefix / "etc/systemd/system/openclaw-fleet-agent.service"
    assert owner_mode(unit) == (me, 0o644)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(repo, "packaging/systemd/openclaw-fleet-agent.service")) as f:
        assert unit.read_text() == f.read(), "the unit is the packaged one"
    dropin = prefix / "etc/systemd/system/openclaw-fleet-agent.service.d/install.conf"
    assert owner_mode(dropin) == (me, 0o644)
    text = dropin.read_text()
    assert "User=%s\n" % user in text and "Group=%s\n" % group in text
    assert "ExecStart=\nExecStart=/usr/local/bin/openclaw-fleet-agent run\n" in text
    for path in (unit, dropin):
        assert AGENT_SECRET not in path.read_text()

    installed = sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*") if p.is_file())
    assert installed == sorted([
        "etc/openclaw-fleet/agent.env",
        "etc/systemd/system/openclaw-fleet-agent.service",
        "etc/systemd/system/openclaw-fleet-agent.service.d/install.conf",
        "usr/local/bin/openclaw-fleet-agent",
    ]), installed

    if os.environ.get("OPENCLAW_FLEET_AGENT_BIN"):
        v = subprocess.run([str(binary), "version"], stdout=subprocess.PIPE, universal_newlines=True)
        assert v.returncode == 0 and v.stdout.strip()


def test_an_ed25519_agent_is_installed_with_its_enrollment_token_and_no_secret(server, tmp_path):
    script = installer(server, tmp_path)
    token = "ocf_et_" + "C" * 43
    base = "OPENCLAW_FLEET_URL='%s'\nOPENCLAW_FLEET_AGENT_ID='%s'\n" % (server.url, AGENT_ID)
    prefix = tmp_path / "root"
    r = install(script, prefix, base + "OPENCLAW_FLEET_ENROLLMENT_TOKEN='%s'\n" % token)
    assert r.returncode == 0, r.stderr
    assert token not in r.stdout + r.stderr
    env_file = prefix / "etc/openclaw-fleet/agent.env"
    assert owner_mode(env_file) == (run_user(), 0o600)
    lines = [l for l in env_file.read_text().splitlines() if not l.startswith("#")]
    assert lines[:3] == ["OPENCLAW_FLEET_URL='%s'" % server.url, "OPENCLAW_FLEET_AGENT_ID='%s'" % AGENT_ID,
                         "OPENCLAW_FLEET_ENROLLMENT_TOKEN='%s'" % token]
    assert "SECRET" not in env_file.read_text()
    # One identity per agent: a secret and a token together, or neither, install nothing.
    for settings in (base + "OPENCLAW_FLEET_AGENT_SECRET='%s'\nOPENCLAW_FLEET_ENROLLMENT_TOKEN='%s'\n"
                     % (AGENT_SECRET, token), base):
        other = tmp_path / "other"
        r = install(script, other, settings)
        assert r.returncode != 0 and "OPENCLAW_FLEET_ENROLLMENT_TOKEN" in r.stderr, r.stderr
        assert token not in r.stderr and AGENT_SECRET not in r.stderr
        assert not other.exists() or not any(other.rglob("*"))


def test_install_sh_installs_the_monitor_when_asked(server, tmp_path):
    script = installer(server, tmp_path)
    prefix = tmp_path / "root"
    r = install(script, prefix, settings_text(server.url), "--kind", "monitor")
    assert r.returncode == 0, r.stderr
    monitor = prefix / "usr/local/lib/openclaw-fleet/openclaw_fleet_monitor.py"
    with open(MONITOR_PATH, "rb") as f:
        assert monitor.read_bytes() == f.read()
    assert owner_mode(monitor)[1] == 0o644
    assert owner_mode(prefix / "usr/local/lib/openclaw-fleet")[1] == 0o755
    dropin = (prefix / "etc/systemd/system/openclaw-fleet-agent.service.d/install.conf").read_text()
    assert "ExecStart=/usr/bin/python3 /usr/local/lib/openclaw-fleet/openclaw_fleet_monitor.py run\n" in dropin
    assert owner_mode(prefix / "etc/openclaw-fleet/agent.env") == (run_user(), 0o600)


def test_a_tampered_artifact_is_refused_and_nothing_is_installed(server, tmp_path, dist):
    script = installer(server, tmp_path)
    # The file changes after the server hashed it: what is served no longer matches SHA256SUMS.
    with open(str(dist / ARTIFACT), "ab") as f:
        f.write(b"\x00tampered")
    prefix = tmp_path / "root"
    r = install(script, prefix, settings_text(server.url))
    assert r.returncode != 0
    assert "checksum mismatch" in r.stderr, r.stderr
    assert not prefix.exists() or not any(prefix.rglob("*")), list(prefix.rglob("*"))


def test_secrets_are_never_taken_from_arguments_and_bad_settings_are_refused(server, tmp_path):
    script = installer(server, tmp_path)
    prefix = tmp_path / "root"
    r = install(script, prefix, "", "--agent-secret", AGENT_SECRET)
    assert r.returncode != 0 and "never from arguments" in r.stderr
    for bad in ("OPENCLAW_FLEET_AGENT_SECRET='x$(touch %s)'\n" % (tmp_path / "pwned"),
                "PATH='/tmp'\n",
                "OPENCLAW_FLEET_URL='%s'\n" % server.url):  # no id, no secret
        r = install(script, prefix, bad)
        assert r.returncode != 0, bad
    assert not (tmp_path / "pwned").exists()
    assert not prefix.exists() or not any(prefix.rglob("*"))
    # A settings file works as standard input does.
    settings = tmp_path / "settings"
    settings.write_text(settings_text(server.url))
    os.chmod(str(settings), 0o600)
    r = subprocess.run([SHELL, script, "--prefix", str(prefix), "--user", run_user(),
                        "--settings-file", str(settings)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (prefix / "etc/openclaw-fleet/agent.env").exists()


def test_the_installer_is_posix_sh():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = os.path.join(repo, "crates/server/assets/install.sh")
    for shell in filter(None, {SHELL, "/bin/sh", shutil.which("dash"), shutil.which("bash")}):
        r = subprocess.run([shell, "-n", script], stderr=subprocess.PIPE, universal_newlines=True)
        assert r.returncode == 0, (shell, r.stderr)
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        r = subprocess.run([shellcheck, "-s", "sh", script], stdout=subprocess.PIPE, universal_newlines=True)
        assert r.returncode == 0, r.stdout
