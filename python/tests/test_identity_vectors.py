"""Every vector of spec/test-vectors/identity-ed25519.json, valid and invalid, with the
monitor's strict Ed25519 verification, plus the forgeries a lax verifier lets through."""

import pytest

from conftest import load_monitor, load_vectors

M = load_monitor()
VECTORS = load_vectors("identity-ed25519.json")
pytestmark = pytest.mark.skipif(M.load_ed25519() is None, reason="needs the 'cryptography' package")


def identity(key_text):
    return M.Ed25519Identity(M.parse_identity_key(key_text))


@pytest.mark.parametrize("v", VECTORS["valid"], ids=lambda v: v["agent_id"][:8])
def test_valid_vectors(v):
    me = identity(v["identity_key"])
    assert me.public_key == v["public_key"]
    message = M.handshake_message(v["agent_id"], v["timestamp"])
    assert message == v["message"].encode()
    assert me.sign(message) == v["signature"]
    assert me.handshake_body(v["agent_id"], v["timestamp"]) == {
        "agent_id": v["agent_id"], "timestamp": v["timestamp"], "alg": "ed25519", "signature": v["signature"]}
    assert M.verify_ed25519(v["public_key"], message, v["signature"])


@pytest.mark.parametrize("v", VECTORS["invalid"], ids=lambda v: v["why"])
def test_invalid_vectors(v):
    message = M.handshake_message(v["agent_id"], v["timestamp"])
    assert not M.verify_ed25519(v["public_key"], message, v["signature"])


@pytest.mark.parametrize("v", VECTORS["enroll"], ids=lambda v: v["agent_id"][:8])
def test_enroll_vectors(v):
    me = identity(v["identity_key"])
    assert me.public_key == v["public_key"]
    message = M.enroll_message(v["agent_id"], v["public_key"], v["timestamp"])
    assert message == v["message"].encode()
    assert me.sign(message) == v["signature"]
    body = me.enroll_body(v["agent_id"], v["enrollment_token"], v["timestamp"])
    assert body == {"agent_id": v["agent_id"], "enrollment_token": v["enrollment_token"],
                    "public_key": v["public_key"], "timestamp": v["timestamp"], "signature": v["signature"]}
    assert M.verify_ed25519(v["public_key"], message, v["signature"])
    # An enroll signature is no handshake signature, and the other way round.
    assert not M.verify_ed25519(v["public_key"], M.handshake_message(v["agent_id"], v["timestamp"]),
                                v["signature"])
    M.parse_enrollment_token(v["enrollment_token"])


def le(n):
    return n.to_bytes(32, "little")


SMALL_ORDER_KEYS = [le(y) for y in sorted(M.SMALL_ORDER_Y)] + [le(y | (1 << 255)) for y in (0, 1)]


@pytest.mark.parametrize("key", SMALL_ORDER_KEYS, ids=lambda k: k.hex()[:8] + ".." + k.hex()[-4:])
def test_a_small_order_public_key_is_refused(key):
    # With A of small order, R = the identity point and S = 0 "verify" for every message in
    # OpenSSL; strict verification refuses the key whatever the signature.
    forged = M.b64u_encode(le(1) + bytes(32))
    public_key = M.PK_PREFIX + M.b64u_encode(key)
    assert not M.verify_ed25519(public_key, M.handshake_message("a", "1"), forged)


def test_a_small_order_r_and_a_non_canonical_key_are_refused():
    v = VECTORS["valid"][0]
    message = M.handshake_message(v["agent_id"], v["timestamp"])
    sig = M.b64u_decode(v["signature"])
    for r in (le(1), le(0), le(M.ED25519_P - 1)):
        assert not M.verify_ed25519(v["public_key"], message, M.b64u_encode(r + sig[32:]))
    # y = p + 2 is the non-canonical encoding of y = 2.
    assert not M.verify_ed25519(M.PK_PREFIX + M.b64u_encode(le(M.ED25519_P + 2)), message, v["signature"])


def test_non_canonical_s_is_refused_by_the_explicit_check_too():
    v = VECTORS["valid"][0]
    sig = M.b64u_decode(v["signature"])
    s = int.from_bytes(sig[32:], "little") + M.ED25519_L
    assert s < 2 ** 256
    bad = M.b64u_encode(sig[:32] + s.to_bytes(32, "little"))
    assert not M.verify_ed25519(v["public_key"], M.handshake_message(v["agent_id"], v["timestamp"]), bad)


@pytest.mark.parametrize("bad", [
    "", "ocf_ik_", "ocf_pk_" + M.b64u_encode(bytes(32)), "ocf_ik_" + M.b64u_encode(bytes(31)),
    "ocf_ik_" + M.b64u_encode(bytes(33)), "ocf_ik_" + M.b64u_encode(bytes(range(32))) + "=",
    "ocf_ik_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", "OCF_IK_" + M.b64u_encode(bytes(32)),
])
def test_malformed_identity_keys_are_refused_without_being_repeated(bad):
    with pytest.raises(ValueError) as e:
        M.parse_identity_key(bad)
    assert not bad[7:] or bad[7:] not in str(e.value)


@pytest.mark.parametrize("bad", ["", "ocf_et_abc", "ocf_as_" + M.b64u_encode(bytes(32)),
                                 "ocf_et_" + M.b64u_encode(bytes(16))])
def test_malformed_enrollment_tokens_are_refused(bad):
    with pytest.raises(ValueError):
        M.parse_enrollment_token(bad)


def test_the_identity_never_shows_its_key():
    v = VECTORS["valid"][0]
    me = identity(v["identity_key"])
    seed = v["identity_key"][len("ocf_ik_"):]
    assert seed not in repr(me) and seed not in str(me) and v["public_key"] in repr(me)
    assert seed not in repr(vars(me))
