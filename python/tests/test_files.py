"""The monitor's file handling: it never follows a symlink for a file it reads or writes,
writes atomically through an exclusively created temp file, and, run as root in a directory
owned by someone else, leaves the files it writes owned by that directory's owner.

These mirror the Rust agent's tests in crates/agent/src/fsutil.rs.
"""

import json
import os
import stat

import pytest

from conftest import load_monitor

M = load_monitor()
AGENT = "7f9c2f64-3b7e-4c1a-9d3e-2a6b8c0d1e2f"
SECRET = "ocf_es_" + M.b64u_encode(bytes(range(32)))
needs_crypto = pytest.mark.skipif(M.AESGCM is None, reason="the 'cryptography' package is not installed")
needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="changing a file's owner needs root")


def mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def victim(tmp_path, text="precious\n"):
    """A file outside the state directory that a planted link points at."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    path = outside / "victim"
    path.write_text(text)
    os.chmod(str(path), 0o644)
    return path


def state_dir(tmp_path):
    d = tmp_path / "openclaw"
    d.mkdir(exist_ok=True)
    return d


def assert_untouched(path, text="precious\n"):
    assert path.read_text() == text
    assert mode(path) == 0o644


def test_replaces_content_with_mode_0600_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    os.chmod(str(path), 0o644)
    M.write_atomic(str(path), b"new")
    assert path.read_bytes() == b"new"
    assert mode(path) == 0o600
    assert os.listdir(str(tmp_path)) == ["f"], "temp file left behind"


def test_write_refuses_a_symlink_and_leaves_its_target_alone(tmp_path):
    target = victim(tmp_path)
    link = state_dir(tmp_path) / ".env"
    os.symlink(str(target), str(link))
    with pytest.raises(M.SymlinkRefused) as e:
        M.write_atomic(str(link), b"ATTACKER=1\n")
    assert "symbolic link" in str(e.value) and e.value.filename == str(link)
    assert_untouched(target)
    assert os.path.islink(str(link))
    assert os.listdir(str(link.parent)) == [".env"], "temp file left behind"


def test_read_refuses_a_symlink_and_reads_regular_files(tmp_path):
    target = victim(tmp_path)
    d = state_dir(tmp_path)
    os.symlink(str(target), str(d / "openclaw.json"))
    with pytest.raises(M.SymlinkRefused):
        M.read_file(str(d / "openclaw.json"))
    assert M.read_file(str(d / "missing")) is None
    (d / "plain").write_bytes(b"x")
    assert M.read_file(str(d / "plain")) == b"x"
    os.mkfifo(str(d / "fifo"))
    with pytest.raises(OSError):
        M.read_file(str(d / "fifo"))  # a FIFO neither blocks the monitor nor is read


@pytest.mark.parametrize("name", [".env", "openclaw.json"])
def test_apply_refuses_a_symlinked_file_and_writes_nothing(tmp_path, name):
    target = victim(tmp_path, '{"a": 1}\n')
    d = state_dir(tmp_path)
    os.symlink(str(target), str(d / name))
    doc = {"schema": 1, "env": {"A": "1"}, "openclaw": {"b": 2}}
    with pytest.raises(M.SymlinkRefused):
        M.apply_document(str(d), doc, [])
    assert_untouched(target, '{"a": 1}\n')
    assert sorted(os.listdir(str(d))) == [name]


def test_a_symlinked_state_file_stops_the_start_with_a_clear_error(tmp_path):
    target = victim(tmp_path, json.dumps({"agent_id": AGENT, "config_version_applied": 1}))
    d = state_dir(tmp_path)
    os.symlink(str(target), str(d / M.STATE_FILE))
    settings = M.Settings("http://127.0.0.1:9", AGENT, "ocf_as_test", SECRET, str(d), "http://127.0.0.1:9")
    with pytest.raises(M.SettingsError) as e:
        M.Monitor(settings)
    assert "symbolic link" in str(e.value)
    with pytest.raises(M.SymlinkRefused):
        M.State(str(d), AGENT).load()
    state = M.State(str(d), AGENT)
    state.applied = 7
    with pytest.raises(M.SymlinkRefused):
        state.save()
    assert json.loads(target.read_text())["config_version_applied"] == 1
    assert mode(target) == 0o644


@needs_crypto
def test_the_monitor_reports_a_symlinked_env_as_a_write_failure(tmp_path):
    target = victim(tmp_path)
    d = state_dir(tmp_path)
    os.symlink(str(target), str(d / ".env"))
    settings = M.Settings("http://127.0.0.1:9", AGENT, "ocf_as_test", SECRET, str(d), "http://127.0.0.1:9")
    m = M.Monitor(settings)
    iv = bytes(12)
    doc = {"schema": 1, "env": {"ANTHROPIC_API_KEY": "sk-ant-x"}, "openclaw": {}}
    ct = M.AESGCM(M.config_key(SECRET, AGENT)).encrypt(iv, json.dumps(doc).encode(), M.config_aad(AGENT, 1))
    m.handle_config({"v": 1, "alg": "A256GCM", "agent_id": AGENT, "version": 1,
                     "iv": M.b64u_encode(iv), "ct": M.b64u_encode(ct)})
    assert m.config_error == "config_write_failed"
    assert m.state.applied == 0
    assert_untouched(target)


@needs_root
def test_as_root_files_written_into_another_users_directory_belong_to_that_user(tmp_path):
    d = tmp_path / "home-of-12345"
    d.mkdir()
    os.chown(str(d), 12345, 12345)
    M.apply_document(str(d / "openclaw"), {"schema": 1, "env": {"A": "1"}, "openclaw": {"b": 2}}, [])
    state = M.State(str(d / "openclaw"), AGENT)
    state.save()
    created = d / "openclaw"
    assert (os.stat(str(created)).st_uid, mode(created)) == (12345, 0o700)
    for name in (".env", "openclaw.json", M.STATE_FILE):
        st = os.stat(str(created / name))
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12345, 12345, 0o600), name
    mine = tmp_path / "root-owned"
    mine.mkdir()
    M.write_atomic(str(mine / "f"), b"x")
    assert os.stat(str(mine / "f")).st_uid == 0
