// A restart with dashboards and agents connected is a blip: the REAL server
// binary gets SIGTERM with three event streams, fifty config long-polls, a
// dashboard tab and three real agents (two `openclaw-fleet-agent`, one
// Python monitor) connected, and heartbeats in flight. It must exit 0 within
// 5 s, lose no acknowledged heartbeat, come back on the same address, and
// every agent must reconnect within one backoff step. The dashboard says it is
// reconnecting while the server is away and, once back, shows what changed
// meanwhile without a reload.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  withScreenshots, cargoBinary, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey,
  handshake, randomToken,
} from './harness.js';
import { generateEncryptionSecret, sealConfig } from '../web/js/crypto.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EMAIL = `restart-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;

/** Owner API calls with a bearer session token. */
function ownerApi(base, token) {
  return async (method, path, body) => {
    const res = await fetch(`${base()}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

/** Resolves once `check()` is truthy (polled every 100 ms), failing after `ms`. */
async function until(what, check, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Opens an event stream; `ended` resolves with everything it delivered once it ends. */
async function openStream(url, token) {
  const res = await fetch(`${url}/api/events`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let seen = '';
  const ended = (async () => {
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch {
        return { seen, ended: 'error' };
      }
      if (chunk.done) return { seen, ended: 'done' };
      seen += decoder.decode(chunk.value);
    }
  })();
  return { ended };
}

/**
 * The longest backoff step an agent can be in after `outageMs` of failures: the
 * agents back off exponentially from 1 s with equal jitter (each delay in
 * [ceiling/2, ceiling]), so after t seconds the current step's ceiling is at
 * most 2t + 1 s.
 */
const oneBackoffStepMs = (outageMs) => 2 * outageMs + 1000;

describe('a restart with dashboards and agents connected', () => {
  let server;
  let browser;
  let s;
  let api;
  const agents = [];
  const children = [];
  const stateDirs = [];
  let outage;
  const it = withScreenshots(nodeIt, () => [s?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await browser?.close();
    await server?.stop();
    for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
  });

  /** Saves config `version` for every real agent and waits until each applied it. */
  async function deliverConfig(version) {
    for (const a of agents) {
      const envelope = await sealConfig(a.encryptionSecret, a.id, version, {
        schema: 1, env: { FLEET_RESTART_TEST: `v${version}` }, openclaw: {},
      });
      const r = await api('PUT', `/api/agents/${a.id}/config`, { config: envelope });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const started = Date.now();
    const took = {};
    await until(`every agent to apply config ${version}`, async () => {
      for (const a of agents) {
        if (took[a.name] !== undefined) continue;
        const r = await api('GET', `/api/agents/${a.id}`);
        if (r.body?.config_version_applied === version) took[a.name] = Date.now() - started;
      }
      return Object.keys(took).length === agents.length;
    }, 30000);
    return took;
  }

  it('runs the dashboard and three real agents against the server', async () => {
    const { page } = s;
    await registerFirstAccount(page, server.url, EMAIL, PASSWORD);
    await setUpMasterKey(page, `ember granite hollow ${randomToken(3)}`);
    await page.getByRole('status', { name: 'Live updates: Live' }).waitFor();
    const login = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    api = ownerApi(() => server.url, (await login.json()).token);

    const agentBin = cargoBinary('openclaw-fleet-agent', 'OPENCLAW_FLEET_AGENT_BIN');
    const python = spawnSync('python3', ['-c', 'import cryptography'], { stdio: 'ignore' });
    assert.equal(python.status, 0, 'the Python monitor needs `cryptography` (pip install cryptography)');
    for (const [name, kind] of [['rust-1', 'rust'], ['rust-2', 'rust'], ['python-1', 'python']]) {
      const r = await api('POST', '/api/agents', { name });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const a = { name, id: r.body.agent.id, secret: r.body.agent_secret, encryptionSecret: generateEncryptionSecret() };
      const stateDir = mkdtempSync(join(tmpdir(), 'ocf-e2e-restart-'));
      stateDirs.push(stateDir);
      const env = {
        PATH: process.env.PATH, HOME: stateDir, RUST_LOG: 'info',
        OPENCLAW_FLEET_URL: server.url, OPENCLAW_FLEET_AGENT_ID: a.id,
        OPENCLAW_FLEET_AGENT_SECRET: a.secret, OPENCLAW_FLEET_ENCRYPTION_SECRET: a.encryptionSecret,
        OPENCLAW_STATE_DIR: stateDir,
      };
      const child = kind === 'rust'
        ? spawn(agentBin, ['run'], { env, stdio: 'ignore' })
        : spawn('python3', [join(ROOT, 'python/openclaw_fleet_monitor.py'), 'run', '--interval', '1'], { env, stdio: 'ignore' });
      children.push(child);
      agents.push(a);
    }
    // Their config long-polls are live: a saved config reaches every host.
    await deliverConfig(1);
  });

  it('drains and exits 0 within 5 s with streams, long-polls and heartbeats open', async (t) => {
    const owner = (await fetch(`${server.url}/api/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    }).then((r) => r.json())).token;
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);

    const streams = await Promise.all([0, 1, 2].map(() => openStream(server.url, owner)));
    // Fifty long-polls, ten from each of five more agents; none has anything newer.
    const polls = [];
    const beaters = [];
    for (let i = 0; i < 5; i += 1) {
      const r = await api('POST', '/api/agents', { name: `poller-${i}` });
      const id = r.body.agent.id;
      const hs = await handshake(server.url, id, r.body.agent_secret);
      assert.equal(hs.status, 200, JSON.stringify(hs.body));
      const token = hs.body.token;
      for (let j = 0; j < 10; j += 1) {
        polls.push(fetch(`${server.url}/api/agents/${id}/config?after_version=0&wait=60`, {
          headers: { Authorization: `Bearer ${token}` },
        }).then(async (res) => ({ status: res.status, body: await res.json(), at: Date.now() })));
      }
      if (i < 2) beaters.push({ id, token, acknowledged: 0 });
    }
    // Two of them send heartbeats back to back until the server is gone.
    const sending = beaters.map(async (b) => {
      for (let seq = 1; ; seq += 1) {
        try {
          const res = await fetch(`${server.url}/api/heartbeat`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${b.token}` },
            body: JSON.stringify({ agent_id: b.id, status: 'healthy', metrics: { seq } }),
          });
          if (res.status !== 200) return;
          b.acknowledged = seq;
        } catch {
          return;
        }
      }
    });
    await until('heartbeats to flow', () => beaters.every((b) => b.acknowledged >= 3));

    const sigterm = Date.now();
    const exit = await server.terminate();
    assert.equal(exit.signal, null, `killed by ${exit.signal}`);
    assert.equal(exit.code, 0, server.log());
    assert.ok(exit.ms < 5000, `the server took ${exit.ms} ms to exit`);
    t.diagnostic(`exited ${exit.ms} ms after SIGTERM`);

    for (const stream of await Promise.all(streams.map((st) => st.ended))) {
      assert.match(stream.seen, /^retry: \d+$/m, `no retry hint in ${JSON.stringify(stream.seen)}`);
    }
    const answers = await Promise.all(polls);
    assert.equal(answers.length, 50);
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.deepEqual(a.body, { config: null, config_version: 0 });
      assert.ok(a.at - sigterm < 5000);
    }
    await Promise.all(sending);
    outage = { started: sigterm, beaters };
  });

  it('shows the dashboard as reconnecting while the server is away', async () => {
    const { page } = s;
    await page.evaluate(() => { window.notReloaded = true; });
    await page.getByRole('status', { name: 'Live updates: Reconnecting…' }).waitFor();
  });

  it('comes back on the same address; nothing acknowledged is lost; every agent reconnects within one backoff step', async (t) => {
    // Changed while the server was away, with the operator CLI on the same data.
    const cli = spawnSync(cargoBinary('openclaw-fleet', 'OPENCLAW_FLEET_BIN'),
      ['agent', 'create', '--owner', EMAIL, '--name', 'made-while-away', '--data-dir', server.dataDir], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);

    const before = server;
    server = await startServer([], { dataDir: before.dataDir, listen: before.listen });
    assert.equal(server.url, before.url);
    const down = Date.now() - outage.started;

    for (const b of outage.beaters) {
      const r = await api('GET', `/api/agents/${b.id}`);
      assert.ok(r.body.metrics.seq >= b.acknowledged,
        `heartbeat ${b.acknowledged} was acknowledged, the database holds ${r.body.metrics.seq}`);
    }
    const took = await deliverConfig(2);
    t.diagnostic(`outage ${down} ms; config delivered and reported after ${JSON.stringify(took)} ms`);
    for (const [name, ms] of Object.entries(took)) {
      // Plus up to 2 s for the config to arrive and the next heartbeat to report it.
      assert.ok(ms <= oneBackoffStepMs(down) + 2000,
        `${name} took ${ms} ms after a ${down} ms outage (one backoff step: ${oneBackoffStepMs(down)} ms)`);
    }
  });

  it('resyncs the open dashboard view after the reconnect, without a reload', async () => {
    const { page } = s;
    await page.getByRole('status', { name: 'Live updates: Live' }).waitFor({ timeout: 15000 });
    await page.getByRole('row', { name: /made-while-away/ }).waitFor({ timeout: 10000 });
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was reloaded');
    assert.deepEqual(s.problems, []);
  });
});
