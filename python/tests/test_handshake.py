"""The monitor's handshake retries against a test server that checks real signatures:
a clock correction from an (unauthenticated) 401 server_time is adopted only within the
bound, and a 'replayed' answer is met by signing the next second, once.
"""

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import MONITOR_PATH, load_monitor

M = load_monitor()
AGENT = "7f9c2f64-3b7e-4c1a-9d3e-2a6b8c0d1e2f"
AGENT_SECRET = "ocf_as_" + M.b64u_encode(bytes(range(1, 33)))
WINDOW = 60


class FakeServer(object):
    """Speaks SPEC §2-§3 with a clock `offset` seconds away from this host's; records every
    handshake body it receives. `replay_first` answers the first valid signature 'replayed'."""

    def __init__(self, offset=0, replay_first=False):
        self.offset = offset
        self.replay_first = replay_first
        self.handshakes = []
        self.heartbeats = 0
        self.heartbeat_bodies = []
        self.gets = []
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
                if self.path == "/api/heartbeat":
                    owner.heartbeats += 1
                    owner.heartbeat_bodies.append(body)
                    return self._answer(200, {"message": "Heartbeat received", "status": "healthy",
                                              "heartbeat_interval": 30, "config_version": 0})
                owner.handshakes.append(body)
                now = int(time.time()) + owner.offset
                ts = int(body["timestamp"])
                if abs(now - ts) > WINDOW:
                    return self._answer(401, {"error": "timestamp_out_of_window", "server_time": now})
                good = M.sign_handshake(body["agent_id"], body["timestamp"], AGENT_SECRET)
                if good != body["signature"]:
                    return self._answer(401, {"error": "unauthorized"})
                if owner.replay_first:
                    owner.replay_first = False
                    return self._answer(401, {"error": "replayed"})
                self._answer(200, {"token": "tok", "expires_in": 3600, "heartbeat_interval": 30,
                                   "policy": {}, "gateway_url": None, "config": None,
                                   "config_version": 0, "server_time": now})

            def do_GET(self):
                owner.gets.append(self.path)
                self._answer(200, {"config": None, "config_version": 0})

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_port

    def stamps(self):
        return [int(h["timestamp"]) for h in self.handshakes]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server_at(request):
    servers = []

    def make(offset=0, replay_first=False):
        s = FakeServer(offset, replay_first)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def monitor(url, tmp_path, bound=M.DEFAULT_MAX_CLOCK_CORRECTION, sleeps=None):
    settings = M.Settings(url, AGENT, AGENT_SECRET, None, str(tmp_path), "http://127.0.0.1:9",
                          max_clock_correction=bound)
    return M.Monitor(settings, sleep=(sleeps.append if sleeps is not None else time.sleep))


def test_a_skew_of_five_minutes_is_adopted_and_logged(server_at, tmp_path, caplog):
    server = server_at(300)
    m = monitor(server.url, tmp_path)
    with caplog.at_level(logging.WARNING):
        m.handshake()
    assert 298 <= m.clock_offset <= 302
    first, second = server.stamps()
    assert abs(first - time.time()) < 5 and abs(second - (time.time() + 300)) < 5
    assert re.search(r"clock is off by \+(29[89]|30[01]) s", caplog.text), caplog.text
    assert AGENT_SECRET not in caplog.text


def test_a_skew_of_one_day_is_refused_and_nothing_is_signed_for_that_time(server_at, tmp_path):
    server = server_at(86400)
    m = monitor(server.url, tmp_path)
    with pytest.raises(M.ClockSkewError) as e:
        m.handshake()
    assert "fix this host's clock" in str(e.value) and re.search(r"off by \+86(399|400|401) s", str(e.value))
    assert m.clock_offset == 0
    assert server.stamps() and all(abs(ts - time.time()) < 5 for ts in server.stamps())


def test_the_bound_is_a_setting(server_at, tmp_path):
    server = server_at(300)
    with pytest.raises(M.ClockSkewError):
        monitor(server.url, tmp_path, bound=0).handshake()
    assert all(abs(ts - time.time()) < 5 for ts in server.stamps())
    args = M.build_parser().parse_args(["--once"])
    env = {"OPENCLAW_FLEET_URL": server.url, "OPENCLAW_FLEET_AGENT_ID": AGENT,
           "OPENCLAW_FLEET_AGENT_SECRET": AGENT_SECRET}
    assert M.load_settings(args, env).max_clock_correction == 600
    env[M.MAX_CLOCK_CORRECTION_ENV] = "120"
    assert M.load_settings(args, env).max_clock_correction == 120
    args = M.build_parser().parse_args(["--once", "--max-clock-correction", "30"])
    assert M.load_settings(args, env).max_clock_correction == 30
    for bad in ("-1", "ten", "86401"):
        env[M.MAX_CLOCK_CORRECTION_ENV] = bad
        with pytest.raises(M.SettingsError):
            M.load_settings(M.build_parser().parse_args([]), env)


def test_once_beyond_the_bound_exits_1_with_the_fix_your_clock_line(server_at, tmp_path):
    server = server_at(86400)
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("OPENCLAW_"))
    env.update({"OPENCLAW_FLEET_URL": server.url, "OPENCLAW_FLEET_AGENT_ID": AGENT,
                "OPENCLAW_FLEET_AGENT_SECRET": AGENT_SECRET, "OPENCLAW_STATE_DIR": str(tmp_path),
                "OPENCLAW_GATEWAY_URL": "http://127.0.0.1:9/"})
    r = subprocess.run([sys.executable, MONITOR_PATH, "--once"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert re.search(r"this host's clock is off by \+86(399|400|401) s", last), r.stderr
    assert "fix this host's clock" in last
    assert AGENT_SECRET not in r.stderr
    assert server.heartbeats == 0
    assert all(abs(ts - time.time()) < 60 for ts in server.stamps())


def test_replayed_is_met_by_signing_the_next_second_once(server_at, tmp_path):
    server = server_at(0, replay_first=True)
    sleeps = []
    m = monitor(server.url, tmp_path, sleeps=sleeps)
    m.handshake()
    first, second = server.stamps()
    assert second == first + 1
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 2.0
    # A second 'replayed' in a row is an answer, not a reason to loop.
    server.replay_first = True
    m2 = monitor(server.url, tmp_path, sleeps=[])
    m2.last_ts = int(time.time()) + 5
    server.handshakes[:] = []
    m2.handshake()
    assert len(server.stamps()) == 2
