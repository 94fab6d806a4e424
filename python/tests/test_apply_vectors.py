"""Every case of spec/test-vectors/apply.json, as the Rust agent runs them: the files and
state before, a document sealed for the vectors' agent, then the exact files and state after,
or the refusal code with every file left as it was."""

import json
import os

import pytest

from conftest import load_monitor, load_vectors

M = load_monitor()
V = load_vectors("apply.json")
needs_crypto = pytest.mark.skipif(M.AESGCM is None, reason="cryptography is not installed")
SECRET = "ocf_es_" + M.b64u_encode(bytes(range(32)))


def seal(version, doc):
    iv = os.urandom(12)
    key = M.config_key(SECRET, V["agent_id"])
    ct = M.AESGCM(key).encrypt(iv, json.dumps(doc).encode("utf-8"), M.config_aad(V["agent_id"], version))
    return {"v": 1, "alg": "A256GCM", "agent_id": V["agent_id"], "version": version,
            "iv": M.b64u_encode(iv), "ct": M.b64u_encode(ct)}


def files_in(d):
    out = {}
    for name in os.listdir(str(d)):
        with open(os.path.join(str(d), name), "rb") as f:
            out[name] = f.read().decode("utf-8")
    return out


def test_the_vectors_are_all_there():
    assert len(V["apply"]) >= 30 and V["validate"]
    assert M.STATE_FILE == V["state_file"] and M.LEGACY_STATE_FILE == V["legacy_state_file"]


@needs_crypto
@pytest.mark.parametrize("case", V["apply"], ids=lambda c: c["name"])
def test_apply_vector(case, tmp_path):
    for name, text in case["files"].items():
        (tmp_path / name).write_bytes(text.encode("utf-8"))
    if "state" in case:
        (tmp_path / M.STATE_FILE).write_text(json.dumps(case["state"]))
    before = files_in(tmp_path)
    envelope = seal(case["version"], case["document"])
    if "error" in case:
        with pytest.raises(M.ConfigRejected) as e:
            M.apply_envelope(str(tmp_path), envelope, V["agent_id"], SECRET)
        assert e.value.code == case["error"]
        assert files_in(tmp_path) == before, "a refusal changed the files"
        return
    M.apply_envelope(str(tmp_path), envelope, V["agent_id"], SECRET)
    after = files_in(tmp_path)
    state = after.pop(M.STATE_FILE, None)
    assert (json.loads(state) if state is not None else None) == case["expect"]["state"]
    assert after == case["expect"]["files"]


@pytest.mark.parametrize("case", V["validate"], ids=lambda c: c["name"])
def test_validate_vector(case):
    if case["error"] is None:
        M.validate_document(case["document"])
    else:
        with pytest.raises(M.ConfigRejected) as e:
            M.validate_document(case["document"])
        assert e.value.code == case["error"]
