#!/usr/bin/env python3
"""OpenClaw Fleet monitor: the one-file, standard-library alternative agent.

It speaks SPEC §2-§4 to an OpenClaw Fleet server: a signed handshake, periodic
heartbeats with basic Linux metrics and the local gateway's latency, and
end-to-end encrypted configs that it decrypts (when the optional
'cryptography' package is installed) and writes into the OpenClaw state
directory. It never prints or logs a secret, a token or a config value:
log lines name only the agent id, HTTP status codes and error codes.

It identifies itself with the agent secret (HMAC, SPEC §2) or with an Ed25519 key pair
it makes on the host and enrolls once with an enrollment token (spec/SPEC-identity.md),
after which the server holds only its public key.

Python >= 3.8; only the standard library, plus 'cryptography' for configs and for Ed25519.
"""

import argparse
import base64
import copy
import errno
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import os
import random
import re
import signal
import ssl
import stat
import sys
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Tuple

# 'cryptography' costs about 8 MB of memory once imported, so it is loaded only when a config
# has to be decrypted (load_aesgcm); a monitor that only heartbeats never imports it.
_AESGCM_LOADED = False
_AESGCM = None  # type: Any


def load_aesgcm():
    # type: () -> Any
    """cryptography's AESGCM class, imported on first use; None when it cannot be imported."""
    global _AESGCM, _AESGCM_LOADED
    if not _AESGCM_LOADED:
        _AESGCM_LOADED = True
        import warnings
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "Python 3.8 is deprecated": noise on every start
                from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            _AESGCM = AESGCM
        except Exception:  # ImportError, or a broken native build
            _AESGCM = None
    return _AESGCM


def crypto_available():
    # type: () -> bool
    """Whether 'cryptography' looks installed, without importing it (a broken build is found
    out, and reported, when the first config arrives)."""
    if _AESGCM_LOADED:
        return _AESGCM is not None
    import importlib.util
    try:
        return importlib.util.find_spec("cryptography") is not None
    except (ImportError, ValueError):
        return False


def __getattr__(name):
    # type: (str) -> Any
    """`openclaw_fleet_monitor.AESGCM` for callers (tests) still reads the class, loading it."""
    if name == "AESGCM":
        return load_aesgcm()
    raise AttributeError(name)


_ED25519_LOADED = False
_ED25519 = None  # type: Any


def load_ed25519():
    # type: () -> Any
    """cryptography's Ed25519 classes (private key, public key, InvalidSignature, raw
    serialization), imported on first use (only an Ed25519 agent needs them); None when
    they cannot be imported."""
    global _ED25519, _ED25519_LOADED
    if not _ED25519_LOADED:
        _ED25519_LOADED = True
        import warnings
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from cryptography.exceptions import InvalidSignature
                from cryptography.hazmat.primitives import serialization
                from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
            _ED25519 = (Ed25519PrivateKey, Ed25519PublicKey, InvalidSignature, serialization)
        except Exception:  # ImportError, or a broken native build
            _ED25519 = None
    return _ED25519

__version__ = "0.1.0"
PROG = "openclaw-fleet-monitor"
LOG = logging.getLogger(PROG)

NO_CRYPTO_MESSAGE = (
    "config decryption needs the 'cryptography' package (pip install cryptography); "
    "configs are not applied"
)
NO_ED25519_MESSAGE = (
    "an Ed25519 identity needs the 'cryptography' package (pip install cryptography); "
    "install it, or run this agent with an HMAC agent secret (OPENCLAW_FLEET_AGENT_SECRET)"
)
ENV_BEGIN = "# >>> openclaw-fleet managed >>>"
ENV_END = "# <<< openclaw-fleet managed <<<"
STATE_FILE = ".fleet-agent-state.json"  # shared with the Rust agent, same format
LEGACY_STATE_FILE = ".fleet-monitor-state.json"
ES_PREFIX = "ocf_es_"
IK_PREFIX = "ocf_ik_"
PK_PREFIX = "ocf_pk_"
ET_PREFIX = "ocf_et_"
# Both in the state directory, shared with the Rust agent (same names, same formats).
IDENTITY_KEY_FILE = ".fleet-agent-identity-key"
ENROLLMENT_FILE = ".fleet-agent-enrollment.json"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
B64U_RE = re.compile(r"^[A-Za-z0-9_-]*$")
BACKOFF_CAP = 60.0
MIN_INTERVAL = 5
MAX_INTERVAL = 3600
HTTP_TIMEOUT = 15.0
GATEWAY_TIMEOUT = 3.0
MAX_RESPONSE = 2 * 1024 * 1024
# A 401 timestamp_out_of_window is unauthenticated: its server_time is adopted only this close
# to the host's clock, so an on-path attacker cannot make us sign handshakes for a time it picks.
DEFAULT_MAX_CLOCK_CORRECTION = 600
MAX_CLOCK_CORRECTION_LIMIT = 86400
MAX_CLOCK_CORRECTION_ENV = "OPENCLAW_FLEET_MAX_CLOCK_CORRECTION"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


# --------------------------------------------------------------------- crypto

def sign_handshake(agent_id, timestamp, agent_secret):
    # type: (str, str, str) -> str
    """hex(HMAC-SHA256(key=utf8(whole AGENT_SECRET), msg=utf8(agent_id + ts))), SPEC §2."""
    return hmac.new(agent_secret.encode(), (agent_id + timestamp).encode(), hashlib.sha256).hexdigest()


def b64u_encode(data):
    # type: (bytes) -> str
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    # type: (Any) -> bytes
    """Strict base64url (SPEC §0): no padding, URL alphabet only, canonical form only."""
    if not isinstance(text, str) or not B64U_RE.match(text) or len(text) % 4 == 1:
        raise ValueError("invalid base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u_encode(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def hkdf_sha256(salt, ikm, info, length=32):
    # type: (bytes, bytes, bytes, int) -> bytes
    """RFC 5869 HKDF with SHA-256 (stdlib hmac, so it works without 'cryptography')."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def parse_encryption_secret(secret):
    # type: (str) -> bytes
    if not isinstance(secret, str) or not secret.startswith(ES_PREFIX):
        raise ValueError("encryption secret must start with " + ES_PREFIX)
    raw = b64u_decode(secret[len(ES_PREFIX):])
    if len(raw) != 32:
        raise ValueError("encryption secret must decode to 32 bytes")
    return raw


def config_key(secret, agent_id):
    # type: (str, str) -> bytes
    """CK = HKDF(salt="openclaw-fleet/config/v1", ikm=secret bytes, info=agent_id), SPEC §4."""
    return hkdf_sha256(b"openclaw-fleet/config/v1", parse_encryption_secret(secret), agent_id.encode())


def config_aad(agent_id, version):
    # type: (str, int) -> bytes
    return ("openclaw-fleet/config/v1|%s|%d" % (agent_id, version)).encode()


class ConfigRejected(Exception):
    """A config the agent must refuse; `code` is short and safe to log and report."""

    def __init__(self, code):
        # type: (str) -> None
        Exception.__init__(self, code)
        self.code = code


def _is_int(x):
    # type: (Any) -> bool
    return isinstance(x, int) and not isinstance(x, bool)


def parse_envelope(envelope):
    # type: (Any) -> Tuple[str, int, bytes, bytes]
    if not isinstance(envelope, dict):
        raise ConfigRejected("config_invalid")
    if set(envelope) != {"v", "alg", "agent_id", "version", "iv", "ct"}:
        raise ConfigRejected("config_invalid")
    if not _is_int(envelope["v"]) or envelope["v"] != 1:
        raise ConfigRejected("config_invalid")
    if envelope["alg"] != "A256GCM":
        raise ConfigRejected("config_invalid")
    version = envelope["version"]
    if not _is_int(version) or version < 1:
        raise ConfigRejected("config_invalid")
    agent_id = envelope["agent_id"]
    if not isinstance(agent_id, str):
        raise ConfigRejected("config_invalid")
    try:
        iv = b64u_decode(envelope["iv"])
        ct = b64u_decode(envelope["ct"])
    except ValueError:
        raise ConfigRejected("config_invalid")
    if len(iv) != 12 or len(ct) < 16:
        raise ConfigRejected("config_invalid")
    return agent_id, version, iv, ct


def validate_document(doc):
    # type: (Any) -> Tuple[Dict[str, str], Dict[str, Any]]
    """SPEC §4 document rules (spec/test-vectors/apply.json "validate"); returns (env, openclaw).

    env and openclaw may be absent (read as {}); unknown top-level keys are ignored.
    """
    if not isinstance(doc, dict) or not _is_int(doc.get("schema")) or doc.get("schema") != 1:
        raise ConfigRejected("config_invalid")
    env = doc.get("env", {})
    openclaw = doc.get("openclaw", {})
    if not isinstance(env, dict) or not isinstance(openclaw, dict):
        raise ConfigRejected("config_invalid")
    for name, value in env.items():
        if not ENV_NAME_RE.match(name) or not isinstance(value, str) or dotenv_quote(value) is None:
            raise ConfigRejected("config_invalid")
    return env, openclaw


def decrypt_envelope(secret, expected_agent_id, envelope):
    # type: (str, str, Any) -> Tuple[int, bytes]
    """Checks and decrypts a config envelope; returns (version, plaintext bytes)."""
    aesgcm = load_aesgcm()
    if aesgcm is None:
        raise ConfigRejected("no_crypto")
    agent_id, version, iv, ct = parse_envelope(envelope)
    if agent_id != expected_agent_id:
        raise ConfigRejected("config_wrong_agent")
    try:
        key = config_key(secret, expected_agent_id)
    except ValueError:
        raise ConfigRejected("bad_encryption_secret")
    try:
        plaintext = aesgcm(key).decrypt(iv, ct, config_aad(agent_id, version))
    except Exception:
        raise ConfigRejected("config_auth_failed")
    return version, plaintext


def open_config(secret, expected_agent_id, envelope, last_applied=0):
    # type: (str, str, Any, int) -> Tuple[int, Dict[str, Any]]
    """SPEC §4 agent checks: right agent, no rollback, authentic, valid document."""
    agent_id, version, _, _ = parse_envelope(envelope)
    if agent_id != expected_agent_id:
        raise ConfigRejected("config_wrong_agent")
    if version < last_applied:
        raise ConfigRejected("config_rollback")
    version, plaintext = decrypt_envelope(secret, expected_agent_id, envelope)
    try:
        doc = json.loads(plaintext.decode("utf-8"))
    except ValueError:
        raise ConfigRejected("config_invalid")
    validate_document(doc)
    return version, doc


# ------------------------------------------------------------------ identity
#
# spec/SPEC-identity.md: an Ed25519 key pair made on the host. The server stores only the
# public key, so neither a database dump nor the server's internal key can sign as the agent.

# The order of the Ed25519 group (signatures with S >= L are non-canonical) and the field prime.
ED25519_L = 2 ** 252 + 27742317777372353535851937790883648493
ED25519_P = 2 ** 255 - 19
# y coordinates (sign bit cleared) of the points of order 1, 2, 4 and 8, including their
# non-canonical encodings y + p: a public key or signature R among them is refused, as
# libsodium and ed25519-dalek's verify_strict do (OpenSSL accepts them: with A of small order
# and R = identity, S = 0, a "signature" verifies for every message).
_ORDER8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022
SMALL_ORDER_Y = frozenset([0, 1, ED25519_P - 1, ED25519_P, ED25519_P + 1, _ORDER8_Y, ED25519_P - _ORDER8_Y])


def _prefixed_32(text, prefix, what):
    # type: (Any, str, str) -> bytes
    """The 32 bytes of `prefix` + b64u(32 bytes); the error never repeats the text."""
    if not isinstance(text, str) or not text.startswith(prefix):
        raise ValueError("%s must start with %s" % (what, prefix))
    try:
        raw = b64u_decode(text[len(prefix):])
    except ValueError:
        raise ValueError("%s is not %s followed by base64url" % (what, prefix))
    if len(raw) != 32:
        raise ValueError("%s must be %s followed by 32 base64url-encoded bytes" % (what, prefix))
    return raw


def parse_identity_key(text):
    # type: (Any) -> bytes
    """The 32-byte Ed25519 seed of an `ocf_ik_` identity key."""
    return _prefixed_32(text, IK_PREFIX, "the identity key")


def parse_public_key(text):
    # type: (Any) -> bytes
    return _prefixed_32(text, PK_PREFIX, "the public key")


def parse_enrollment_token(text):
    # type: (Any) -> bytes
    return _prefixed_32(text, ET_PREFIX, "the enrollment token")


def parse_signature(text):
    # type: (Any) -> bytes
    """b64u of exactly 64 bytes, no padding; hex, standard or padded base64 are malformed."""
    raw = b64u_decode(text)
    if len(raw) != 64:
        raise ValueError("an Ed25519 signature is 64 bytes")
    return raw


def handshake_message(agent_id, timestamp):
    # type: (str, str) -> bytes
    return ("openclaw-fleet/handshake/v1|%s|%s" % (agent_id, timestamp)).encode("utf-8")


def enroll_message(agent_id, public_key, timestamp):
    # type: (str, str, str) -> bytes
    return ("openclaw-fleet/enroll/v1|%s|%s|%s" % (agent_id, public_key, timestamp)).encode("utf-8")


def _has_small_order(encoded):
    # type: (bytes) -> bool
    return int.from_bytes(encoded, "little") & ((1 << 255) - 1) in SMALL_ORDER_Y


def verify_ed25519(public_key, message, signature):
    # type: (str, bytes, str) -> bool
    """Strict Ed25519 verification of a `signature` (b64u) by `public_key` (ocf_pk_).

    Malformed encodings, a public key that is non-canonical or of small order, an R of small
    order and a non-canonical S (S >= L) are refused before cryptography's check.
    """
    ed = load_ed25519()
    if ed is None:
        raise SettingsError(NO_ED25519_MESSAGE)
    try:
        key = parse_public_key(public_key)
        sig = parse_signature(signature)
    except ValueError:
        return False
    if int.from_bytes(key, "little") & ((1 << 255) - 1) >= ED25519_P or _has_small_order(key):
        return False
    if _has_small_order(sig[:32]) or int.from_bytes(sig[32:], "little") >= ED25519_L:
        return False
    try:
        ed[1].from_public_bytes(key).verify(sig, message)
    except (ed[2], ValueError):
        return False
    return True


class Ed25519Identity(object):
    """The agent's Ed25519 key pair. The seed is never shown: not by repr, not in an error."""

    alg = "ed25519"

    def __init__(self, seed):
        # type: (bytes) -> None
        ed = load_ed25519()
        if ed is None:
            raise SettingsError(NO_ED25519_MESSAGE)
        self._key = ed[0].from_private_bytes(seed)
        raw = self._key.public_key().public_bytes(ed[3].Encoding.Raw, ed[3].PublicFormat.Raw)
        self.public_key = PK_PREFIX + b64u_encode(raw)

    @staticmethod
    def generate():
        # type: () -> Tuple[Ed25519Identity, str]
        """A new identity and its `ocf_ik_` text (for the key file, nothing else)."""
        seed = os.urandom(32)
        return Ed25519Identity(seed), IK_PREFIX + b64u_encode(seed)

    def __repr__(self):
        # type: () -> str
        return "Ed25519Identity(%s)" % self.public_key

    def sign(self, message):
        # type: (bytes) -> str
        return b64u_encode(self._key.sign(message))

    def handshake_body(self, agent_id, timestamp):
        # type: (str, str) -> Dict[str, Any]
        return {"agent_id": agent_id, "timestamp": timestamp, "alg": self.alg,
                "signature": self.sign(handshake_message(agent_id, timestamp))}

    def enroll_body(self, agent_id, token, timestamp):
        # type: (str, str, str) -> Dict[str, Any]
        return {"agent_id": agent_id, "enrollment_token": token, "public_key": self.public_key,
                "timestamp": timestamp, "signature": self.sign(enroll_message(agent_id, self.public_key, timestamp))}


class HmacIdentity(object):
    """The agent secret of SPEC §2 (the server holds it too)."""

    alg = "hmac"
    public_key = None  # type: Optional[str]

    def __init__(self, secret):
        # type: (str) -> None
        self._secret = secret

    def __repr__(self):
        # type: () -> str
        return "HmacIdentity()"

    def handshake_body(self, agent_id, timestamp):
        # type: (str, str) -> Dict[str, Any]
        return {"agent_id": agent_id, "timestamp": timestamp,
                "signature": sign_handshake(agent_id, timestamp, self._secret)}


# ------------------------------------------------------------- file writing
#
# How a document is applied is pinned by spec/test-vectors/apply.json, which
# the Rust agent runs too (docs/config-semantics.md).

class SymlinkRefused(OSError):
    """A file the monitor reads or writes is a symbolic link: it is never followed."""

    def __init__(self, path):
        # type: (str) -> None
        OSError.__init__(self, errno.ELOOP, "is a symbolic link; refusing to follow it (replace it with a "
                                            "regular file)", path)


def _dir_owner(directory):
    # type: (str) -> Optional[Tuple[int, int]]
    """The (uid, gid) new files in `directory` get: its owner's, when we run as root there.

    Running as root (e.g. a system service) in a directory that belongs to the user who runs
    OpenClaw, a root-owned 0600 file would lock that user out of their own .env.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    st = os.stat(directory)
    if st.st_uid == 0 and st.st_gid == 0:
        return None
    return st.st_uid, st.st_gid


def read_file(path):
    # type: (str) -> Optional[bytes]
    """The bytes of `path`, or None when it does not exist; a symlink or non-regular file is refused."""
    flags = os.O_RDONLY | _NOFOLLOW | _CLOEXEC | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP or os.path.islink(path):
            raise SymlinkRefused(path)
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(errno.EINVAL, "is not a regular file", path)
        return f.read()


def write_atomic(path, data, mode=0o600):
    # type: (str, bytes, int) -> None
    """Replaces `path` with `data`: readers see the old or the new file, never half of one.

    The temp file is created exclusively (O_EXCL, O_NOFOLLOW) in the same directory, fsynced,
    then renamed onto the name with os.replace, and the directory is fsynced. The name is never
    followed: a symlink there is refused and its target left as it was. Run as root in a
    directory owned by another user, the file is given to that user before the rename.
    """
    directory = os.path.dirname(path) or "."
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise SymlinkRefused(path)
    except FileNotFoundError:
        pass
    owner = _dir_owner(directory)
    tmp, fd = _exclusive_temp(directory, path, 0o600)
    try:
        _fill(fd, data, mode, owner)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def make_private_dir(directory):
    # type: (str) -> None
    """Creates `directory` (0700) if missing, owned like its parent when we run as root."""
    if os.path.isdir(directory):
        return
    parent = os.path.dirname(os.path.abspath(directory))
    if parent != directory:
        make_private_dir(parent)
    owner = _dir_owner(parent)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        return
    if owner is not None:
        os.chown(directory, owner[0], owner[1])


def dotenv_quote(value):
    # type: (str) -> Optional[str]
    """The quote every dotenv reader reads `value` back from unchanged, or None.

    Single quotes are literal everywhere; double quotes expand escapes and may be
    interpolated, so they serve only values without `"`, `\\` and `$`; backticks
    are the last resort. No line break or NUL fits on a .env line.
    """
    if "\0" in value or "\n" in value or "\r" in value:
        return None
    if "'" not in value:
        return "'"
    if '"' not in value and "\\" not in value and "$" not in value:
        return '"'
    if "`" not in value:
        return "`"
    return None


def env_line(name, value):
    # type: (str, str) -> str
    """One dotenv assignment, quoted so that dotenv parsers read the value back unchanged."""
    quote = dotenv_quote(value)
    if quote is None:
        raise ConfigRejected("config_invalid")
    return "%s=%s%s%s" % (name, quote, value, quote)


MARKER_SPACE = " \t\r\n"


def merge_env_text(old, env):
    # type: (str, Dict[str, str]) -> str
    """Replaces the managed block of a .env text with `env`, keeping every other line byte for byte.

    The block is moved to the end so that it wins over a duplicate foreign line
    for dotenv parsers where the last assignment counts. Markers that do not pair
    up (a second block, an end without a begin, a begin without an end) refuse
    the config rather than guess which lines are ours.
    """
    newline = "\r\n" if "\r\n" in old else "\n"
    kept = []  # type: List[str]
    inside = False
    blocks = 0
    for line in _split_lf(old):
        marker = line.strip(MARKER_SPACE)
        if marker == ENV_BEGIN:
            if inside:
                raise ConfigRejected("env_file_corrupt")
            inside = True
            blocks += 1
        elif marker == ENV_END:
            if not inside:
                raise ConfigRejected("env_file_corrupt")
            inside = False
        elif not inside:
            kept.append(line)
    if inside or blocks > 1:
        raise ConfigRejected("env_file_corrupt")
    text = "".join(kept)
    if not env:
        return text
    if text and not text.endswith("\n"):
        text += newline
    block = [ENV_BEGIN] + [env_line(k, env[k]) for k in sorted(env)] + [ENV_END]
    return text + newline.join(block) + newline


def _split_lf(text):
    # type: (str) -> List[str]
    """Lines split at LF only, each keeping its ending (a lone CR is not a line break in .env)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


class Json5Error(ValueError):
    pass


class _Json5(object):
    """A small reader for JSON5 (what OpenClaw's openclaw.json is): comments, trailing
    commas, unquoted keys, single-quoted strings, hex and signed numbers. The
    standard library has none. NaN and Infinity are refused: they cannot be
    written back as JSON."""

    SPACE = " \t\n\r\v\f\u00a0\u2028\u2029\ufeff"
    ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "0": "\0"}

    def __init__(self, text):
        # type: (str) -> None
        self.s = text
        self.i = 0

    def fail(self):
        raise Json5Error("JSON5 syntax error at offset %d" % self.i)

    def skip(self):
        # type: () -> None
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in self.SPACE:
                self.i += 1
            elif s.startswith("//", self.i):
                end = len(s)
                for stop in "\n\r\u2028\u2029":
                    j = s.find(stop, self.i)
                    if j != -1:
                        end = min(end, j)
                self.i = end
            elif s.startswith("/*", self.i):
                j = s.find("*/", self.i + 2)
                if j == -1:
                    self.fail()
                self.i = j + 2
            else:
                return

    def parse(self):
        # type: () -> Any
        self.skip()
        value = self.value(0)
        self.skip()
        if self.i != len(self.s):
            self.fail()
        return value

    def value(self, depth):
        # type: (int) -> Any
        if depth > 500:
            self.fail()
        s = self.s
        if self.i >= len(s):
            self.fail()
        c = s[self.i]
        if c == "{":
            return self.obj(depth)
        if c == "[":
            return self.arr(depth)
        if c in "\"'":
            return self.string()
        for word, val in (("null", None), ("true", True), ("false", False)):
            if s.startswith(word, self.i) and not self._ident_char(self.i + len(word)):
                self.i += len(word)
                return val
        return self.number()

    def _ident_char(self, j):
        # type: (int) -> bool
        return j < len(self.s) and (self.s[j].isalnum() or self.s[j] in "_$")

    def obj(self, depth):
        # type: (int) -> Dict[str, Any]
        out = {}  # type: Dict[str, Any]
        self.i += 1
        while True:
            self.skip()
            if self.s.startswith("}", self.i):
                self.i += 1
                return out
            key = self.string() if self.s[self.i:self.i + 1] in ("\"", "'") else self.identifier()
            self.skip()
            if not self.s.startswith(":", self.i):
                self.fail()
            self.i += 1
            self.skip()
            out[key] = self.value(depth + 1)
            self.skip()
            if self.s.startswith(",", self.i):
                self.i += 1
            elif not self.s.startswith("}", self.i):
                self.fail()

    def arr(self, depth):
        # type: (int) -> List[Any]
        out = []  # type: List[Any]
        self.i += 1
        while True:
            self.skip()
            if self.s.startswith("]", self.i):
                self.i += 1
                return out
            out.append(self.value(depth + 1))
            self.skip()
            if self.s.startswith(",", self.i):
                self.i += 1
            elif not self.s.startswith("]", self.i):
                self.fail()

    def identifier(self):
        # type: () -> str
        m = re.compile(r"[A-Za-z_$\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*").match(self.s, self.i)
        if not m or not all(ch.isalnum() or ch in "_$" for ch in m.group()):
            self.fail()
        self.i = m.end()
        return m.group()

    def string(self):
        # type: () -> str
        s = self.s
        quote = s[self.i]
        self.i += 1
        out = []  # type: List[str]
        while True:
            if self.i >= len(s):
                self.fail()
            c = s[self.i]
            self.i += 1
            if c == quote:
                return "".join(out)
            if c in "\n\r":
                self.fail()
            if c != "\\":
                out.append(c)
                continue
            if self.i >= len(s):
                self.fail()
            e = s[self.i]
            self.i += 1
            if e in self.ESCAPES and not (e == "0" and s[self.i:self.i + 1].isdigit()):
                out.append(self.ESCAPES[e])
            elif e in "xu":
                n = 2 if e == "x" else 4
                digits = s[self.i:self.i + n]
                if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    self.fail()
                self.i += n
                code = int(digits, 16)
                if 0xD800 <= code < 0xDC00 and s.startswith("\\u", self.i):
                    low = s[self.i + 2:self.i + 6]
                    if len(low) == 4 and all(d in "0123456789abcdefABCDEF" for d in low) and 0xDC00 <= int(low, 16) < 0xE000:
                        code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
                        self.i += 6
                out.append(chr(code))
            elif e == "\r":
                if s.startswith("\n", self.i):
                    self.i += 1
            elif e in "\n\u2028\u2029":
                pass
            elif e.isdigit():
                self.fail()
            else:
                out.append(e)

    NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")

    def number(self):
        # type: () -> Any
        m = self.NUMBER.match(self.s, self.i)
        if not m or self._ident_char(m.end()):
            self.fail()
        self.i = m.end()
        text = m.group()
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-")
        if body[:2] in ("0x", "0X"):
            return sign * int(body[2:], 16)
        if "." in body or "e" in body or "E" in body:
            return float(text)
        if len(body) > 1 and body.startswith("0"):
            self.fail()
        return int(text)


def parse_json5(text):
    # type: (str) -> Any
    return _Json5(text).parse()


def leaf_paths(obj, prefix=()):
    # type: (Dict[str, Any], Tuple[str, ...]) -> List[List[str]]
    """Key paths of what a fragment manages: non-object values and empty objects, sorted."""
    out = []  # type: List[List[str]]
    for key, value in obj.items():
        if isinstance(value, dict) and value:
            out.extend(leaf_paths(value, prefix + (key,)))
        else:
            out.append(list(prefix + (key,)))
    return sorted(out)


def _remove_path(obj, path):
    # type: (Dict[str, Any], List[str]) -> None
    """Removes the value at `path` (unless it is a non-empty object: keys someone else put
    there), then every object that this removal left empty."""
    first, rest = path[0], path[1:]
    if not rest:
        value = obj.get(first)
        if not (isinstance(value, dict) and value):
            obj.pop(first, None)
        return
    inner = obj.get(first)
    if isinstance(inner, dict) and inner:
        _remove_path(inner, rest)
        if not inner:
            del obj[first]


def _deep_merge(dst, src):
    # type: (Dict[str, Any], Dict[str, Any]) -> None
    for key, value in src.items():
        if isinstance(value, dict):
            if not isinstance(dst.get(key), dict):
                dst[key] = {}
            _deep_merge(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)


def merge_openclaw(current, fragment, previous_paths):
    # type: (Dict[str, Any], Dict[str, Any], List[List[str]]) -> Dict[str, Any]
    """Deep-merges `fragment`, first removing what the last version set and this one drops."""
    result = copy.deepcopy(current)
    keep = set(tuple(p) for p in leaf_paths(fragment))
    for path in previous_paths:
        if path and tuple(path) not in keep:
            _remove_path(result, path)
    _deep_merge(result, fragment)
    return result


def _json_text(value):
    # type: (Any) -> str
    """openclaw.json as both agents write it: sorted keys, 2-space indent, UTF-8, final newline."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"


def apply_document(state_dir, doc, previous_paths):
    # type: (str, Dict[str, Any], List[List[str]]) -> List[List[str]]
    """Writes env into .env and openclaw into openclaw.json; returns the new managed paths.

    Everything is computed before anything is written, so a refused document
    leaves both files as they were. openclaw.json is read as JSON5, and only when
    there is something to merge or remove; when its content changes it is
    rewritten as JSON, the previous bytes kept in openclaw.json.bak.
    """
    env, fragment = validate_document(doc)
    make_private_dir(state_dir)
    env_path = os.path.join(state_dir, ".env")
    env_bytes = read_file(env_path)
    try:
        old_env = None if env_bytes is None else env_bytes.decode("utf-8")  # type: Optional[str]
    except UnicodeDecodeError:
        raise ConfigRejected("env_file_corrupt")
    new_env = merge_env_text(old_env or "", env)

    json_path = os.path.join(state_dir, "openclaw.json")
    old_json = None  # type: Optional[bytes]
    new_json = None  # type: Optional[bytes]
    if fragment or previous_paths:
        old_json = read_file(json_path)
        try:
            current = {} if old_json is None else parse_json5(old_json.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and Json5Error included
            raise ConfigRejected("openclaw_json_invalid")
        if not isinstance(current, dict):
            raise ConfigRejected("openclaw_json_invalid")
        try:
            before = _json_text(current)
            after = _json_text(merge_openclaw(current, fragment, previous_paths))
        except ValueError:
            raise ConfigRejected("openclaw_json_invalid")
        if before != after or (old_json is None and after != "{}\n"):
            new_json = after.encode("utf-8")

    if new_json is not None:
        if old_json is not None:
            write_atomic(os.path.join(state_dir, "openclaw.json.bak"), old_json)
        write_atomic(json_path, new_json)
    if old_env is not None and old_env != new_env or old_env is None and new_env:
        write_atomic(env_path, new_env.encode("utf-8"))
    return leaf_paths(fragment)


class State(object):
    """The rollback floor and managed openclaw.json paths, in the file the Rust agent uses too.

    `.fleet-agent-state.json`: {"schema": 1, "agent_id", "config_version_applied",
    "managed_env", "managed_openclaw"}. The monitor's former `.fleet-monitor-state.json`
    is read when the shared file does not exist yet, and removed once it is written.
    """

    FIELDS = ("schema", "agent_id", "config_version_applied", "managed_env", "managed_openclaw")

    def __init__(self, state_dir, agent_id):
        # type: (str, str) -> None
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, STATE_FILE)
        self.agent_id = agent_id
        self.owner = None  # type: Optional[str]
        self.version = 0
        self.applied = 0
        self.managed_env = []  # type: List[str]
        self.openclaw_paths = []  # type: List[List[str]]

    @staticmethod
    def _read(path):
        # type: (str) -> Any
        raw = read_file(path)
        if raw is None:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            raise ConfigRejected("state_file_error")

    @staticmethod
    def _paths(value):
        # type: (Any) -> List[List[str]]
        if not isinstance(value, list) or not all(
                isinstance(p, list) and p and all(isinstance(k, str) for k in p) for p in value):
            raise ConfigRejected("state_file_error")
        return sorted(value)

    def load(self):
        # type: () -> State
        """Raises ConfigRejected("state_file_error") for a file it cannot trust."""
        data = self._read(self.path)
        if data is not None:
            if (not isinstance(data, dict) or set(data) - set(self.FIELDS) or data.get("schema") != 1
                    or not _is_int(data.get("config_version_applied")) or data["config_version_applied"] < 0
                    or not (data.get("agent_id") is None or isinstance(data.get("agent_id"), str))):
                raise ConfigRejected("state_file_error")
            env = data.get("managed_env", [])
            if not isinstance(env, list) or not all(isinstance(n, str) for n in env):
                raise ConfigRejected("state_file_error")
            self.managed_env = sorted(env)
            self.openclaw_paths = self._paths(data.get("managed_openclaw", []))
        else:
            data = self._read(os.path.join(self.state_dir, LEGACY_STATE_FILE))
            if data is None:
                return self
            if not isinstance(data, dict) or not _is_int(data.get("config_version_applied", 0)):
                raise ConfigRejected("state_file_error")
            self.openclaw_paths = self._paths(data.get("openclaw_paths", []))
        self.owner = data.get("agent_id")
        self.version = data.get("config_version_applied", 0)
        self.applied = self.version if self.owner == self.agent_id else 0
        return self

    def save(self):
        # type: () -> None
        make_private_dir(self.state_dir)
        data = {"schema": 1, "agent_id": self.agent_id, "config_version_applied": self.applied,
                "managed_env": sorted(self.managed_env), "managed_openclaw": sorted(self.openclaw_paths)}
        write_atomic(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        self.owner, self.version = self.agent_id, self.applied
        try:
            os.unlink(os.path.join(self.state_dir, LEGACY_STATE_FILE))
        except FileNotFoundError:
            pass


def apply_envelope(state_dir, envelope, agent_id, secret):
    # type: (str, Any, str, str) -> Tuple[bool, State]
    """The Rust agent's apply_envelope: checks `envelope` against the state in `state_dir`
    and, when it is new and sound, writes it. Returns (changed-version, state); False
    when the envelope holds the version already applied."""
    agent, version, _, _ = parse_envelope(envelope)
    if agent != agent_id:
        raise ConfigRejected("config_wrong_agent")
    state = State(state_dir, agent_id).load()
    if version < state.applied:
        raise ConfigRejected("config_rollback")
    if version == state.applied:
        return False, state
    version, doc = open_config(secret, agent_id, envelope, state.applied)
    env, _ = validate_document(doc)
    state.openclaw_paths = apply_document(state_dir, doc, state.openclaw_paths)
    state.managed_env = sorted(env)
    state.applied = version
    state.save()
    return True, state


# ------------------------------------------------------------ identity files

def create_new_file(path, data, mode=0o600):
    # type: (str, bytes, int) -> bool
    """Writes a file that must not exist yet; False (nothing written) when something is there.

    The bytes go to a temporary file created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW) and
    fsynced, which is then hard-linked to `path`: link(2) never follows or replaces what is at
    `path` (a file, a symlink, even a dangling one), so a racing writer or a planted link can
    neither be overwritten nor written through, and no reader sees a half-written file. Where
    hard links are not supported, `path` itself is created exclusively. Run as root in a
    directory owned by another user, the file is given to that user.
    """
    directory = os.path.dirname(path) or "."
    owner = _dir_owner(directory)
    tmp, fd = _exclusive_temp(directory, path, mode)
    try:
        _fill(fd, data, mode, owner)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            return _create_in_place(path, data, mode, owner)
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    _fsync_dir(directory)
    return True


def _create_in_place(path, data, mode, owner):
    # type: (str, bytes, int, Optional[Tuple[int, int]]) -> bool
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)
    except FileExistsError:
        return False
    try:
        _fill(fd, data, mode, owner)
    except BaseException:
        os.unlink(path)
        raise
    return True


def _exclusive_temp(directory, path, mode):
    # type: (str, str, int) -> Tuple[str, int]
    """A new temporary file beside `path`, created exclusively and never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    for _ in range(16):
        tmp = os.path.join(directory, ".%s.tmp-%s" % (os.path.basename(path), os.urandom(8).hex()))
        try:
            return tmp, os.open(tmp, flags, mode)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "cannot create a temporary file", directory)


def _fill(fd, data, mode, owner):
    # type: (int, bytes, int, Optional[Tuple[int, int]]) -> None
    """Writes `data` to the new file `fd` (closed after), owned by `owner`, mode `mode`, fsynced."""
    with os.fdopen(fd, "wb") as f:
        if owner is not None:
            os.fchown(f.fileno(), owner[0], owner[1])
        os.fchmod(f.fileno(), mode)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(directory):
    # type: (str) -> None
    try:
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def read_private_file(path):
    # type: (str) -> Optional[bytes]
    """read_file, refusing a file that other users may read or write (it holds a secret)."""
    raw = read_file(path)
    if raw is not None and os.lstat(path).st_mode & 0o077:
        raise OSError(errno.EACCES, "is accessible to other users; restrict it with chmod 600", path)
    return raw


def load_identity(state_dir, key_text=None):
    # type: (str, Optional[str]) -> Tuple[Ed25519Identity, bool]
    """The agent's Ed25519 identity and whether it was made just now.

    `key_text` (OPENCLAW_FLEET_IDENTITY_KEY[_FILE]) wins; otherwise the key is read from
    <state_dir>/.fleet-agent-identity-key, which is made (mode 0600) on first run. Raises
    SettingsError naming the file, never its content.
    """
    if key_text is not None:
        try:
            return Ed25519Identity(parse_identity_key(key_text)), False
        except ValueError as e:
            raise SettingsError("OPENCLAW_FLEET_IDENTITY_KEY: %s" % e)
    path = os.path.join(state_dir, IDENTITY_KEY_FILE)
    for _ in range(2):
        try:
            raw = read_private_file(path)
        except OSError as e:
            raise SettingsError("identity key file %s %s" % (path, e.strerror or e.__class__.__name__))
        if raw is not None:
            try:
                return Ed25519Identity(parse_identity_key(raw.decode("utf-8").strip())), False
            except (ValueError, UnicodeDecodeError):
                raise SettingsError("identity key file %s does not hold an ocf_ik_ key; remove it to make a new "
                                    "key pair (and enroll it with a new enrollment token)" % path)
        identity, text = Ed25519Identity.generate()
        try:
            make_private_dir(state_dir)
            if create_new_file(path, (text + "\n").encode("ascii")):
                return identity, True
        except OSError as e:
            raise SettingsError("cannot create the identity key file %s: %s"
                                % (path, e.strerror or e.__class__.__name__))
    raise SettingsError("identity key file %s keeps changing" % path)


def token_digest(token):
    # type: (str) -> str
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_enrollment(state_dir):
    # type: (str) -> Optional[Dict[str, Any]]
    """The record of the last enrollment ({"schema": 1, "agent_id", "public_key",
    "token_sha256"}), or None when there is none or it cannot be read (then the monitor
    enrolls again, which the server refuses harmlessly if the token is spent)."""
    try:
        raw = read_file(os.path.join(state_dir, ENROLLMENT_FILE))
        data = None if raw is None else json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == 1 else None


def write_enrollment(state_dir, agent_id, public_key, token):
    # type: (str, str, str, str) -> None
    """Records that `public_key` was enrolled for `agent_id` with `token` (its SHA-256 only:
    the token is spent), so a restart does not present the spent token again."""
    data = {"schema": 1, "agent_id": agent_id, "public_key": public_key, "token_sha256": token_digest(token)}
    make_private_dir(state_dir)
    write_atomic(os.path.join(state_dir, ENROLLMENT_FILE), (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def is_enrolled(state_dir, agent_id, public_key, token):
    # type: (str, str, str, str) -> bool
    record = read_enrollment(state_dir)
    return (record is not None and record.get("agent_id") == agent_id and record.get("public_key") == public_key
            and hmac.compare_digest(str(record.get("token_sha256")), token_digest(token)))


# ------------------------------------------------------------------ metrics

class CpuSampler(object):
    """cpu_usage in percent from the deltas of the aggregate line of /proc/stat."""

    def __init__(self, path="/proc/stat"):
        # type: (str) -> None
        self.path = path
        self.prev = None  # type: Optional[Tuple[int, int]]

    def _read(self):
        # type: () -> Optional[Tuple[int, int]]
        try:
            with open(self.path) as f:
                fields = f.readline().split()
        except OSError:
            return None
        if not fields or fields[0] != "cpu":
            return None
        values = [int(x) for x in fields[1:9]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    def usage(self):
        # type: () -> Optional[float]
        if self.prev is None:
            self.prev = self._read()
            time.sleep(0.25)
        cur = self._read()
        prev, self.prev = self.prev, cur
        if prev is None or cur is None or cur[0] <= prev[0]:
            return None
        total, idle = cur[0] - prev[0], cur[1] - prev[1]
        return round(100.0 * (total - idle) / total, 1)


def memory_usage(path="/proc/meminfo"):
    # type: (str) -> Optional[float]
    info = {}  # type: Dict[str, int]
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    info[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return None
    total = info.get("MemTotal")
    if not total:
        return None
    available = info.get("MemAvailable")
    if available is None:
        available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
    return round(100.0 * (total - available) / total, 1)


def disk_usage(path="/"):
    # type: (str) -> Optional[float]
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    if used + avail <= 0:
        return None
    return round(100.0 * used / (used + avail), 1)


def uptime_hours(path="/proc/uptime"):
    # type: (str) -> Optional[float]
    try:
        with open(path) as f:
            return round(float(f.read().split()[0]) / 3600.0, 2)
    except (OSError, ValueError, IndexError):
        return None


def load_avg():
    # type: () -> Optional[float]
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def probe_gateway(url):
    # type: (str) -> Optional[float]
    """Milliseconds until the gateway answers a GET (any HTTP status), None if it does not.
    Never through a proxy, never following a redirect."""
    start = time.monotonic()
    try:
        conn, target = _connection(url, GATEWAY_TIMEOUT)
        try:
            conn.request("GET", target, headers={"User-Agent": "%s/%s" % (PROG, __version__)})
            conn.getresponse().read(1)
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError):
        return None
    return round((time.monotonic() - start) * 1000.0, 1)


# --------------------------------------------------------------------- HTTP
#
# Requests go through http.client directly: it never follows a redirect (which would carry
# the bearer token or signed body elsewhere), and it spares the ~2 MB urllib.request costs
# (it imports tempfile, shutil, bz2, lzma). Only when a proxy is configured in the
# environment is urllib loaded, for its proxy handling (http_proxy, https_proxy, no_proxy).

PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def tls_context(ca_file=None):
    # type: (Optional[str]) -> ssl.SSLContext
    """The operating system's trusted roots, plus the CA certificates in `ca_file` (PEM)."""
    ctx = ssl.create_default_context()
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as e:
            raise SettingsError("OPENCLAW_FLEET_CA_FILE %s: not a readable PEM certificate file (%s)"
                                % (ca_file, getattr(e, "strerror", None) or e.__class__.__name__))
    return ctx


def _connection(url, timeout, context=None):
    # type: (str, float, Optional[ssl.SSLContext]) -> Tuple[Any, str]
    """An unopened http.client connection to `url`'s host (no proxy) and the request target."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        raise ValueError("URL without a host")
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=context or ssl.create_default_context())  # type: Any
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    else:
        raise ValueError("not an http:// or https:// URL")
    return conn, (parts.path or "/") + ("?" + parts.query if parts.query else "")


def _direct_sender(context):
    # type: (Optional[ssl.SSLContext]) -> Callable[[str, str, Optional[bytes], Dict[str, str], float], Tuple[int, Optional[str], bytes]]
    def send(method, url, data, headers, timeout):
        # type: (str, str, Optional[bytes], Dict[str, str], float) -> Tuple[int, Optional[str], bytes]
        return _send_direct(method, url, data, headers, timeout, context)
    send.direct = True  # type: ignore
    return send


def _send_direct(method, url, data, headers, timeout, context=None):
    # type: (str, str, Optional[bytes], Dict[str, str], float, Optional[ssl.SSLContext]) -> Tuple[int, Optional[str], bytes]
    conn, target = _connection(url, timeout, context)
    try:
        conn.request(method, target, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Retry-After"), resp.read(MAX_RESPONSE + 1)
    finally:
        conn.close()


def _urllib_sender(context):
    # type: (Optional[ssl.SSLContext]) -> Callable[[str, str, Optional[bytes], Dict[str, str], float], Tuple[int, Optional[str], bytes]]
    """The same request through urllib, for its proxy support; redirects are not followed."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401
            return None

    opener = urllib.request.build_opener(NoRedirect(), urllib.request.HTTPSHandler(context=context))

    def send(method, url, data, headers, timeout):
        # type: (str, str, Optional[bytes], Dict[str, str], float) -> Tuple[int, Optional[str], bytes]
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with opener.open(req, timeout=timeout) as resp:
                return resp.status, resp.headers.get("Retry-After"), resp.read(MAX_RESPONSE + 1)
        except urllib.error.HTTPError as e:
            try:
                return e.code, e.headers.get("Retry-After"), e.read(MAX_RESPONSE + 1)
            finally:
                e.close()
        except urllib.error.URLError as e:
            if isinstance(e.reason, OSError):
                raise e.reason  # reported by Client.call like a direct connection's error
            raise Unreachable(str(e.reason) if isinstance(e.reason, str) else e.__class__.__name__)

    return send


class Unreachable(Exception):
    """The server did not answer usably (network error, timeout, 5xx)."""


class ApiError(Exception):
    """A 4xx answer; `code` is the SPEC error code."""

    def __init__(self, status, code, body, retry_after=None):
        # type: (int, str, Dict[str, Any], Optional[float]) -> None
        Exception.__init__(self, "%d %s" % (status, code))
        self.status = status
        self.code = code
        self.body = body
        self.retry_after = retry_after


class SettingsError(Exception):
    pass


def _parse_json(raw):
    # type: (bytes) -> Dict[str, Any]
    if len(raw) > MAX_RESPONSE:
        raise Unreachable("response too large")
    try:
        data = json.loads(raw.decode("utf-8")) if raw else {}
    except ValueError:
        raise Unreachable("response is not JSON")
    if not isinstance(data, dict):
        raise Unreachable("response is not a JSON object")
    return data


class Client(object):
    def __init__(self, base_url, ca_file=None, environ=None):
        # type: (str, Optional[str], Optional[Dict[str, str]]) -> None
        self.base = base_url.rstrip("/")
        env = os.environ if environ is None else environ
        # Loading the CA bundle costs about 2 MB: only for an https:// server (or to report a
        # bad OPENCLAW_FLEET_CA_FILE at start).
        context = tls_context(ca_file) if ca_file or self.base.lower().startswith("https:") else None
        proxied = any(env.get(k) for k in PROXY_ENV)
        self.send = _urllib_sender(context) if proxied else _direct_sender(context)

    def call(self, method, path, body=None, token=None, timeout=HTTP_TIMEOUT):
        # type: (str, str, Optional[Dict[str, Any]], Optional[str], float) -> Dict[str, Any]
        headers = {"Accept": "application/json", "User-Agent": "%s/%s" % (PROG, __version__)}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        try:
            status, retry_after, raw = self.send(method, self.base + path, data, headers, timeout)
        except ssl.SSLCertVerificationError as e:
            raise Unreachable("the server's TLS certificate is not trusted (%s); if a private CA "
                              "signed it, set OPENCLAW_FLEET_CA_FILE to that CA's PEM file"
                              % (e.verify_message or "verification failed"))
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise Unreachable(str(e) or e.__class__.__name__)
        if 200 <= status < 300:
            return _parse_json(raw)
        if status >= 500 or status < 400:
            raise Unreachable("HTTP %d" % status)
        try:
            payload = _parse_json(raw)
        except Unreachable:
            payload = {}
        code = payload.get("error") if isinstance(payload.get("error"), str) else "http_%d" % status
        retry = None
        try:
            retry = float(retry_after or "")
        except (TypeError, ValueError):
            pass
        raise ApiError(status, code, payload, retry)


# ------------------------------------------------------------------ monitor

def backoff_delay(failures, rng=random.random):
    # type: (int, Callable[[], float]) -> float
    """Exponential backoff with equal jitter: in [d/2, d], d = min(60, 2^(failures-1))."""
    ceiling = min(BACKOFF_CAP, 2.0 ** max(0, min(failures - 1, 16)))
    return ceiling / 2.0 + rng() * ceiling / 2.0


def clamp_interval(value, default):
    # type: (Any, int) -> int
    if not _is_int(value):
        return default
    return max(MIN_INTERVAL, min(MAX_INTERVAL, value))


class ClockSkewError(Exception):
    """The server's clock is further from this host's than the monitor may correct by itself."""

    def __init__(self, skew, bound):
        # type: (int, int) -> None
        Exception.__init__(self, "this host's clock is off by %+d s from the server's (more than the %d s "
                                 "corrected automatically, %s); fix this host's clock (e.g. enable NTP)"
                           % (skew, bound, MAX_CLOCK_CORRECTION_ENV))
        self.skew = skew
        self.bound = bound


class EnrollmentRefused(Exception):
    """The server refused the enrollment token and this key does not handshake either."""

    def __init__(self):
        # type: () -> None
        Exception.__init__(self, "the server refused the enrollment: the enrollment token is wrong, spent or "
                                 "expired, or the agent was deleted or is not an Ed25519 agent; issue a new "
                                 "enrollment token for this agent in the dashboard and set it in "
                                 "OPENCLAW_FLEET_ENROLLMENT_TOKEN")


class Settings(object):
    """`agent_secret` for an HMAC agent; None for an Ed25519 one, which may have an
    `enrollment_token` to enroll with and an `identity_key` overriding the key file."""

    def __init__(self, url, agent_id, agent_secret, encryption_secret, state_dir, gateway_url,
                 interval=None, max_clock_correction=DEFAULT_MAX_CLOCK_CORRECTION, ca_file=None,
                 enrollment_token=None, identity_key=None):
        # type: (str, str, Optional[str], Optional[str], str, str, Optional[int], int, Optional[str], Optional[str], Optional[str]) -> None
        self.enrollment_token = enrollment_token
        self.identity_key = identity_key
        self.max_clock_correction = max_clock_correction
        self.url = url
        self.ca_file = ca_file
        self.agent_id = agent_id
        self.agent_secret = agent_secret
        self.encryption_secret = encryption_secret
        self.state_dir = state_dir
        self.gateway_url = gateway_url
        self.interval = interval

    @property
    def identity_type(self):
        # type: () -> str
        return "hmac" if self.agent_secret else "ed25519"

    def __repr__(self):
        # type: () -> str
        return "Settings(%s, %s)" % (self.agent_id, self.identity_type)


def read_setting(environ, name):
    # type: (Dict[str, str], str) -> Optional[str]
    """NAME or NAME_FILE (the file's content without its trailing newline)."""
    direct = environ.get(name) or None
    path = environ.get(name + "_FILE") or None
    if direct is not None and path is not None:
        raise SettingsError("set only one of %s and %s_FILE" % (name, name))
    if path is None:
        return direct
    try:
        with open(path, "r", encoding="utf-8") as f:
            value = f.read().rstrip("\r\n")
    except OSError as e:
        raise SettingsError("cannot read %s_FILE: %s" % (name, e.strerror or e.__class__.__name__))
    if not value:
        raise SettingsError("%s_FILE is empty" % name)
    return value


def load_settings(args, environ):
    # type: (argparse.Namespace, Dict[str, str]) -> Settings
    url = args.url or read_setting(environ, "OPENCLAW_FLEET_URL")
    agent_id = args.agent_id or read_setting(environ, "OPENCLAW_FLEET_AGENT_ID")
    secret = read_setting(environ, "OPENCLAW_FLEET_AGENT_SECRET")
    enc = read_setting(environ, "OPENCLAW_FLEET_ENCRYPTION_SECRET")
    if not url:
        raise SettingsError("server URL missing: set OPENCLAW_FLEET_URL or pass --url")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SettingsError("server URL must be http:// or https://")
    if not agent_id:
        raise SettingsError("agent id missing: set OPENCLAW_FLEET_AGENT_ID or pass --agent-id")
    agent_id = agent_id.strip().lower()
    if not UUID_RE.match(agent_id):
        raise SettingsError("agent id must be a UUID")
    state_dir = args.state_dir or environ.get("OPENCLAW_STATE_DIR") or os.path.join(os.path.expanduser("~"), ".openclaw")
    token, identity_key = _ed25519_settings(args, environ)
    if secret and (token or identity_key):
        raise SettingsError("OPENCLAW_FLEET_AGENT_SECRET is for an HMAC agent, OPENCLAW_FLEET_ENROLLMENT_TOKEN and "
                            "OPENCLAW_FLEET_IDENTITY_KEY for an Ed25519 agent: set only those of this agent's kind")
    if not secret and not token and not identity_key and not os.path.lexists(os.path.join(state_dir, IDENTITY_KEY_FILE)):
        raise SettingsError("agent secret or enrollment token missing: set OPENCLAW_FLEET_AGENT_SECRET (HMAC agent) "
                            "or OPENCLAW_FLEET_ENROLLMENT_TOKEN (Ed25519 agent), or their _FILE variants")
    if not secret and load_ed25519() is None:
        raise SettingsError(NO_ED25519_MESSAGE)
    if enc is not None:
        try:
            parse_encryption_secret(enc)
        except ValueError:
            raise SettingsError("OPENCLAW_FLEET_ENCRYPTION_SECRET must be ocf_es_ followed by 32 base64url bytes")
    gateway = environ.get("OPENCLAW_GATEWAY_URL") or "http://127.0.0.1:18789"
    if args.interval is not None and args.interval < 1:
        raise SettingsError("--interval must be at least 1 second")
    bound = args.max_clock_correction
    if bound is None:
        text = (environ.get(MAX_CLOCK_CORRECTION_ENV) or "").strip()
        bound = int(text) if text.isdigit() else (DEFAULT_MAX_CLOCK_CORRECTION if not text else -1)
    if not 0 <= bound <= MAX_CLOCK_CORRECTION_LIMIT:
        raise SettingsError("%s must be a number of seconds from 0 to %d"
                            % (MAX_CLOCK_CORRECTION_ENV, MAX_CLOCK_CORRECTION_LIMIT))
    ca_file = environ.get("OPENCLAW_FLEET_CA_FILE") or None
    return Settings(url, agent_id, secret, enc, state_dir, gateway, args.interval, bound, ca_file,
                    enrollment_token=token, identity_key=identity_key)


def _ed25519_settings(args, environ):
    # type: (argparse.Namespace, Dict[str, str]) -> Tuple[Optional[str], Optional[str]]
    """The enrollment token (environment, or the file named by --enrollment-token-file) and
    the identity key override, both checked for their form (errors never quote them)."""
    token = read_setting(environ, "OPENCLAW_FLEET_ENROLLMENT_TOKEN")
    if args.enrollment_token_file:
        if token is not None:
            raise SettingsError("set only one of --enrollment-token-file and OPENCLAW_FLEET_ENROLLMENT_TOKEN[_FILE]")
        token = read_setting({"OPENCLAW_FLEET_ENROLLMENT_TOKEN_FILE": args.enrollment_token_file},
                             "OPENCLAW_FLEET_ENROLLMENT_TOKEN")
    if token is not None:
        token = token.strip()
        try:
            parse_enrollment_token(token)
        except ValueError:
            raise SettingsError("OPENCLAW_FLEET_ENROLLMENT_TOKEN must be ocf_et_ followed by 32 base64url bytes")
    identity_key = read_setting(environ, "OPENCLAW_FLEET_IDENTITY_KEY")
    if identity_key is not None:
        identity_key = identity_key.strip()
        try:
            parse_identity_key(identity_key)
        except ValueError:
            raise SettingsError("OPENCLAW_FLEET_IDENTITY_KEY must be ocf_ik_ followed by 32 base64url bytes")
    return token, identity_key


def _is_loopback(host):
    # type: (str) -> bool
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Monitor(object):
    def __init__(self, settings, clock=time.time, sleep=time.sleep):
        # type: (Settings, Callable[[], float], Callable[[float], None]) -> None
        self.s = settings
        self.clock = clock
        self.sleep = sleep
        self.client = Client(settings.url, settings.ca_file)
        self.cpu = CpuSampler()
        self.enrollment_pending = False
        if settings.agent_secret:
            self.identity = HmacIdentity(settings.agent_secret)  # type: Any
        else:
            self.identity, made = load_identity(settings.state_dir, settings.identity_key)
            if made:
                LOG.info("%s made a new Ed25519 identity key in %s (public key %s)", self.log_prefix(),
                         os.path.join(settings.state_dir, IDENTITY_KEY_FILE), self.identity.public_key)
            token = settings.enrollment_token
            self.enrollment_pending = token is not None and not is_enrolled(
                settings.state_dir, settings.agent_id, self.identity.public_key, token)
        try:
            self.state = State(settings.state_dir, settings.agent_id).load()
        except ConfigRejected:
            raise SettingsError("state file %s is unreadable; fix or remove it"
                                % os.path.join(settings.state_dir, STATE_FILE))
        except OSError as e:
            raise SettingsError("state file in %s: %s" % (settings.state_dir, e.strerror or e.__class__.__name__))
        self.clock_offset = 0.0
        self.last_ts = 0
        self.token = None  # type: Optional[str]
        self.token_expires = 0.0
        self.interval = 30
        self.seen_version = self.state.applied
        self.config_error = None  # type: Optional[str]
        self.rejected_version = 0
        self._said_no_crypto = False
        self._said_no_secret = False

    # -- helpers

    def log_prefix(self):
        # type: () -> str
        return "agent %s:" % self.s.agent_id

    def heartbeat_interval(self):
        # type: () -> int
        return self.s.interval if self.s.interval else self.interval

    def can_apply_configs(self):
        # type: () -> bool
        return self.s.encryption_secret is not None and crypto_available()

    def _explain_no_apply(self):
        # type: () -> None
        if not crypto_available():
            if not self._said_no_crypto:
                self._said_no_crypto = True
                LOG.warning(NO_CRYPTO_MESSAGE)
        elif self.s.encryption_secret is None and not self._said_no_secret:
            self._said_no_secret = True
            LOG.warning("OPENCLAW_FLEET_ENCRYPTION_SECRET is not set: running monitor-only (handshakes and "
                        "heartbeats; no config is fetched or applied, and the dashboard shows config "
                        "delivery not set up)")

    def _take_session(self, answer):
        # type: (Dict[str, Any]) -> None
        token = answer.get("token")
        if isinstance(token, str) and token:
            self.token = token
            expires = answer.get("expires_in")
            self.token_expires = self.clock() + (expires if _is_int(expires) and expires > 0 else 3600)
        self.interval = clamp_interval(answer.get("heartbeat_interval"), self.interval)

    # -- protocol steps

    def handshake(self):
        # type: () -> Dict[str, Any]
        """SPEC §2 (or the Ed25519 handshake, enrolling first when a new token is configured)."""
        if self.enrollment_pending:
            return self.enroll()
        return self._handshake()

    def _handshake(self):
        # type: () -> Dict[str, Any]
        agent_id = self.s.agent_id
        answer = self._post_signed("/api/agents/handshake", lambda ts: self.identity.handshake_body(agent_id, ts))
        if not isinstance(answer.get("token"), str) or not answer.get("token"):
            raise Unreachable("handshake answer without token")
        self._take_session(answer)
        LOG.info("%s handshake ok", self.log_prefix())
        if "config" in answer:
            self.handle_config(answer.get("config"))
        return answer

    def enroll(self):
        # type: () -> Dict[str, Any]
        """spec/SPEC-identity.md: presents the enrollment token with this host's public key,
        then handshakes. The server answers every refusal with the same 401; when the token
        turns out spent, a handshake tells whether it was spent by this very key (an
        enrollment whose answer was lost), which is then recorded like a success."""
        token = self.s.enrollment_token or ""
        agent_id = self.s.agent_id
        try:
            self._post_signed("/api/agents/enroll",
                              lambda ts: self.identity.enroll_body(agent_id, token, ts))
        except ApiError as e:
            if e.status != 401:
                raise
            try:
                answer = self._handshake()
            except ApiError as again:
                if again.status != 401:
                    raise
                raise EnrollmentRefused()
            self._enrolled(token)
            return answer
        LOG.info("%s enrolled the Ed25519 public key %s", self.log_prefix(), self.identity.public_key)
        self._enrolled(token)
        return self._handshake()

    def _enrolled(self, token):
        # type: (str) -> None
        self.enrollment_pending = False
        try:
            write_enrollment(self.s.state_dir, self.s.agent_id, self.identity.public_key, token)
        except OSError as e:
            LOG.warning("%s enrollment not recorded in %s (%s): the next start presents the spent token "
                        "once more", self.log_prefix(), self.s.state_dir, e.strerror or e.__class__.__name__)

    def _post_signed(self, path, build):
        # type: (str, Callable[[str], Dict[str, Any]]) -> Dict[str, Any]
        """POSTs the body `build(timestamp)` signs, with two bounded retries.

        On 401 timestamp_out_of_window the clock offset is taken from server_time, once, and
        only within --max-clock-correction of the host's clock (the answer is unauthenticated);
        beyond that nothing is signed for the server's time: ClockSkewError. On 401 replayed
        (another run signed this second), it waits for the next second and signs again, once.
        """
        corrected = resigned = False
        while True:
            ts = max(int(self.clock() + self.clock_offset), self.last_ts + 1)
            self.last_ts = ts
            try:
                return self.client.call("POST", path, build(str(ts)))
            except ApiError as e:
                server_time = e.body.get("server_time")
                if (not corrected and e.status == 401 and e.code == "timestamp_out_of_window"
                        and _is_int(server_time)):
                    corrected = True
                    skew = int(round(server_time - self.clock()))
                    if abs(skew) > self.s.max_clock_correction:
                        LOG.error("%s clock is off by %+d s from the server's: not corrected (bound %d s)",
                                  self.log_prefix(), skew, self.s.max_clock_correction)
                        raise ClockSkewError(skew, self.s.max_clock_correction)
                    self.clock_offset = float(skew)
                    self.last_ts = 0
                    LOG.warning("%s clock is off by %+d s from the server's; corrected from server_time",
                                self.log_prefix(), skew)
                    continue
                if not resigned and e.status == 401 and e.code == "replayed":
                    resigned = True
                    LOG.info("%s signature already used this second (a restart?); signing the "
                             "next second", self.log_prefix())
                    self._wait_past(ts)
                    continue
                raise

    def _wait_past(self, ts):
        # type: (int) -> None
        """Sleeps until the corrected clock is past second `ts` (at most 2 s)."""
        remaining = ts + 1 - (self.clock() + self.clock_offset)
        if remaining > 0:
            self.sleep(min(remaining + 0.01, 2.0))

    def metrics(self, latency):
        # type: (Optional[float]) -> Dict[str, float]
        values = {"cpu_usage": self.cpu.usage(), "memory_usage": memory_usage(), "disk_usage": disk_usage(),
                  "load_avg": load_avg(), "uptime_hours": uptime_hours(), "latency_ms": latency}
        return dict((k, v) for k, v in values.items() if v is not None)

    def heartbeat_body(self, latency):
        # type: (Optional[float]) -> Dict[str, Any]
        body = {"agent_id": self.s.agent_id, "status": "healthy", "metrics": self.metrics(latency),
                "version": "%s/%s" % (PROG, __version__)}  # type: Dict[str, Any]
        error = self.config_error or (None if latency is not None else "gateway_unreachable")
        if error:
            body["status"] = "error"
            body["error"] = error
        if self.state.applied:
            body["config_version_applied"] = self.state.applied
        body["config_delivery"] = "ready" if self.can_apply_configs() else "not_set_up"
        return body

    def heartbeat(self):
        # type: () -> Dict[str, Any]
        if self.token is None:
            raise ApiError(401, "unauthorized", {})
        body = self.heartbeat_body(probe_gateway(self.s.gateway_url))
        answer = self.client.call("POST", "/api/heartbeat", body, token=self.token)
        self._take_session(answer)
        LOG.debug("%s heartbeat ok (%s)", self.log_prefix(), body["status"])
        version = answer.get("config_version")
        if _is_int(version) and version > self.seen_version and self.can_apply_configs():
            self.fetch_config()
        return answer

    def fetch_config(self, wait=0):
        # type: (int) -> Dict[str, Any]
        path = "/api/agents/%s/config" % self.s.agent_id
        if wait > 0:
            path += "?after_version=%d&wait=%d" % (max(self.seen_version, self.state.applied), wait)
        answer = self.client.call("GET", path, token=self.token, timeout=HTTP_TIMEOUT + wait)
        self.handle_config(answer.get("config"))
        return answer

    def handle_config(self, envelope):
        # type: (Any) -> None
        """Applies a newer envelope, or refuses it and keeps the last good config (SPEC §4)."""
        if envelope is None:
            return
        if not self.can_apply_configs():
            self._explain_no_apply()
            return
        version = envelope.get("version") if isinstance(envelope, dict) else None
        if _is_int(version) and version == self.state.applied:
            self.config_error = None
            return
        if _is_int(version) and self.config_error and version == self.rejected_version:
            return
        try:
            _, self.state = apply_envelope(self.s.state_dir, envelope, self.s.agent_id,
                                           self.s.encryption_secret or "")
            version = self.state.applied
        except ConfigRejected as e:
            if _is_int(version):
                self.seen_version = max(self.seen_version, version)
                self.rejected_version = version
            self.config_error = e.code
            LOG.error("%s config rejected: %s", self.log_prefix(), e.code)
            return
        except OSError as e:
            self.config_error = "config_write_failed"
            where = (" (%s)" % e.filename) if isinstance(e.filename, str) else ""
            LOG.error("%s config not written%s: %s", self.log_prefix(), where, e.strerror or e.__class__.__name__)
            return
        self.seen_version = max(self.seen_version, version)
        self.config_error = None
        LOG.info("%s config version %d applied", self.log_prefix(), version)

    # -- drivers

    def run_once(self):
        # type: () -> int
        """One handshake, one config fetch, one heartbeat (reporting what the fetch did)."""
        self.handshake()
        if self.can_apply_configs():
            self.fetch_config()
        self.heartbeat()
        return 0

    def run_forever(self):
        # type: () -> None
        failures = 0
        while True:
            try:
                if self.token is None or self.clock() > self.token_expires - 60:
                    self.token = None
                    self.handshake()
                self.heartbeat()
                failures = 0
            except ApiError as e:
                failures += 1
                LOG.warning("%s server answered %d %s", self.log_prefix(), e.status, e.code)
                if e.status == 401:
                    self.token = None
                    if failures == 1:
                        continue
                delay = backoff_delay(failures)
                if e.status == 429 and e.retry_after is not None:
                    delay = max(delay, min(e.retry_after, 600.0))
                self.sleep(delay)
                continue
            except Unreachable as e:
                failures += 1
                delay = backoff_delay(failures)
                LOG.warning("%s server unreachable (%s); retrying in %.0f s", self.log_prefix(), e, delay)
                self.sleep(delay)
                continue
            except ClockSkewError:
                failures += 1
                self.sleep(backoff_delay(failures))
                continue
            except EnrollmentRefused as e:
                failures += 1
                LOG.error("%s %s", self.log_prefix(), e)
                self.sleep(max(backoff_delay(failures), 60.0))
                continue
            self.wait_until(self.clock() + self.heartbeat_interval())

    def wait_until(self, deadline):
        # type: (float) -> None
        """Sleeps until the next heartbeat, long-polling for configs meanwhile (SPEC §3)."""
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return
            if remaining < 1 or not self.can_apply_configs() or self.token is None:
                self.sleep(remaining)
                return
            started = self.clock()
            try:
                self.fetch_config(wait=min(int(remaining), 60))
                if self.clock() - started < 1.0:
                    self.sleep(1.0)
            except ApiError as e:
                if e.status == 401:
                    self.token = None
                LOG.debug("%s config poll: %d %s", self.log_prefix(), e.status, e.code)
                self.sleep(max(0, deadline - self.clock()))
                return
            except Unreachable:
                self.sleep(max(0, deadline - self.clock()))
                return


# ---------------------------------------------------------------------- CLI

EPILOG = """\
settings (environment; each secret may instead come from NAME_FILE, a file
whose content is used without its trailing newline):
  OPENCLAW_FLEET_URL                server URL, e.g. https://fleet.example.com (or --url)
  OPENCLAW_FLEET_AGENT_ID           the agent's id (or --agent-id)
  OPENCLAW_FLEET_AGENT_SECRET       ocf_as_... an HMAC agent's secret, shown once when the
                                    agent was created
  OPENCLAW_FLEET_ENROLLMENT_TOKEN   ocf_et_... an Ed25519 agent's enrollment token, shown once
                                    in the dashboard (or --enrollment-token-file); spent on
                                    first start, after which the key pair identifies the agent
                                    (needs: pip install cryptography)
  OPENCLAW_FLEET_IDENTITY_KEY       ocf_ik_... optional: the Ed25519 identity key, instead of
                                    <state dir>/.fleet-agent-identity-key, which is made
                                    (mode 0600) on first run when neither is there
  OPENCLAW_FLEET_ENCRYPTION_SECRET  ocf_es_... optional: decrypt and apply configs
                                    (needs: pip install cryptography); without it the
                                    monitor runs monitor-only (heartbeats, no configs)
  OPENCLAW_STATE_DIR                OpenClaw state directory (default ~/.openclaw)
  OPENCLAW_GATEWAY_URL              gateway probed for latency (default http://127.0.0.1:18789)
  OPENCLAW_FLEET_MAX_CLOCK_CORRECTION  seconds of clock skew corrected from the server's
                                    server_time (default 600, 0 = never; or --max-clock-correction);
                                    beyond it the monitor stops: fix this host's clock
  OPENCLAW_FLEET_CA_FILE            PEM CA certificate(s) trusted for the server, in
                                    addition to the operating system's roots

Configs are written to <state dir>/.env (inside a managed block; other lines
are kept) and merged into <state dir>/openclaw.json, both mode 0600.

exit status: 0 ok; 1 server refused or unreachable (--once); 2 bad settings;
3 config rejected (--once).

examples:
  OPENCLAW_FLEET_AGENT_SECRET_FILE=/etc/openclaw-fleet/agent-secret \\
  %(prog)s --url https://fleet.example.com --agent-id 75d490bd-b9e2-44ea-a49c-ea2cf9b45726 --once

  %(prog)s --url https://fleet.example.com --agent-id 75d490bd-b9e2-44ea-a49c-ea2cf9b45726 \\
      --enrollment-token-file /etc/openclaw-fleet/enrollment-token --once
"""


def build_parser():
    # type: () -> argparse.ArgumentParser
    p = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Report this host's health to an OpenClaw Fleet server and apply its "
                    "end-to-end encrypted configs. Secrets are read from the environment, never from flags.")
    p.add_argument("command", nargs="?", choices=["run"], default="run",
                   help="run: handshake, then heartbeat at the server's interval until stopped (default)")
    p.add_argument("--once", action="store_true",
                   help="one handshake, one config fetch and one heartbeat, then exit")
    p.add_argument("--url", help="server URL (overrides OPENCLAW_FLEET_URL)")
    p.add_argument("--agent-id", help="agent id (overrides OPENCLAW_FLEET_AGENT_ID)")
    p.add_argument("--interval", type=int, metavar="SECONDS",
                   help="heartbeat interval, overriding the server's policy")
    p.add_argument("--max-clock-correction", type=int, metavar="SECONDS",
                   help="largest clock skew corrected from the server's time (default 600; "
                        "overrides OPENCLAW_FLEET_MAX_CLOCK_CORRECTION)")
    p.add_argument("--enrollment-token-file", metavar="FILE",
                   help="file holding an Ed25519 agent's ocf_et_ enrollment token (instead of "
                        "OPENCLAW_FLEET_ENROLLMENT_TOKEN[_FILE]; the token itself is never a flag)")
    p.add_argument("--state-dir", metavar="DIR", help="OpenClaw state directory (overrides OPENCLAW_STATE_DIR)")
    p.add_argument("--verbose", "-v", action="store_true", help="log every heartbeat")
    p.add_argument("--version", action="version", version="%(prog)s " + __version__)
    return p


def main(argv=None, environ=None):
    # type: (Optional[List[str]], Optional[Dict[str, str]]) -> int
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s",
                        level=logging.DEBUG if args.verbose else (logging.WARNING if args.once else logging.INFO))

    def fail(code, message):
        # type: (int, str) -> int
        sys.stderr.write("%s: %s\n" % (PROG, message))
        return code

    try:
        settings = load_settings(args, dict(os.environ) if environ is None else environ)
        monitor = Monitor(settings)
    except SettingsError as e:
        return fail(2, str(e))
    if not monitor.can_apply_configs():
        monitor._explain_no_apply()  # the one line saying configs are not applied, at start
    host = urllib.parse.urlsplit(settings.url).hostname or ""
    if settings.url.startswith("http://") and not _is_loopback(host):
        LOG.warning("the server URL is plain http to another host: tokens would travel unencrypted")
    if args.once:
        try:
            monitor.run_once()
        except ApiError as e:
            return fail(1, "server answered %d %s" % (e.status, e.code))
        except Unreachable as e:
            return fail(1, "server unreachable (%s)" % e)
        except (ClockSkewError, EnrollmentRefused) as e:
            return fail(1, str(e))
        if monitor.config_error:
            return fail(3, monitor.config_error)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    LOG.info("agent %s: monitoring started", settings.agent_id)
    try:
        monitor.run_forever()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
