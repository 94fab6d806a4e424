// MITM simulation: every party — the dashboard in Chromium, the Rust host agent,
// the Python monitor and the operator CLI — talks to the real server through a
// recording proxy. After
// provisioning (account, master key, agent: the one moment its secrets are shown),
// the proxy records every byte of a whole working session: login, unlock, a config
// holding marker values saved in the browser, the agent applying it once and then
// live over its long poll, the monitor handshaking, heartbeating and applying it, and
// the dashboard decrypting it again after a reload, then the operator CLI logging in,
// decrypting the config, rotating a key read from its standard input and logging out,
// and the agent applying that. A network observer's copy of all
// that must hold no secret and no plaintext config value, in any common encoding.
// A second server does the same for Ed25519 agents (below): no identity key on the
// wire, and no recorded enrollment or handshake that can be replayed.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  withScreenshots, cargoBinary, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey,
  createAgent, installEnv, login, randomToken,
} from './harness.js';
import { startRecordingProxy } from './recording-proxy.js';
import {
  b64uDecode, configKeyBytes, deriveMasterKeyBytes, deriveWrapKeyBytes,
} from '../web/js/crypto.js';

const ROOT = resolve(import.meta.dirname, '..');
const EMAIL = `mitm-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const PASSPHRASE = `lantern quiver saffron delta ${randomToken(4)}`;
const API_KEY = `sk-ant-mitm-${randomToken(12)}`;
const GATEWAY = `gw-${randomToken(12)}`;
const GATEWAY_2 = `gw-${randomToken(12)}`;
const MODEL = `mitm-model-${randomToken(6)}`;
const CLI_KEY = `sk-ant-cli-${randomToken(12)}`;

/** The environment for a host process: ours, without proxies or fleet settings. */
function hostEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(https?_proxy|all_proxy|no_proxy|OPENCLAW_)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd, args, env, { timeoutMs = 45000 } = {}) {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((res) => child.on('exit', (code) => { clearTimeout(timer); res({ code, out }); }));
  return { child, done, output: () => out };
}

/** Runs `cmd`, writing `input` to its standard input. */
function runWithInput(cmd, args, env, input) {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  child.stdin.end(input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  return new Promise((res) => child.on('exit', (code) => { clearTimeout(timer); res({ code, stdout, stderr }); }));
}

async function until(what, check, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A handshake signs (agent id, unix second) and each signature is single-use, so two
// processes of one agent must not handshake within the same second.
const nextSecond = () => new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));

const readEnv = (dir) => (existsSync(join(dir, '.env')) ? readFileSync(join(dir, '.env'), 'utf8') : '');

/** Every spelling of `bytes` an observer might find: raw, hex, base64 (std, url, padded or not). */
function spellings(label, bytes, text) {
  const buf = Buffer.from(bytes);
  const std = buf.toString('base64');
  const url = buf.toString('base64url');
  const out = [
    [`${label} (raw)`, buf],
    [`${label} (hex)`, buf.toString('hex')],
    [`${label} (HEX)`, buf.toString('hex').toUpperCase()],
    [`${label} (base64)`, std],
    [`${label} (base64, no padding)`, std.replace(/=+$/, '')],
    [`${label} (base64url)`, url],
    [`${label} (base64url, padded)`, url + '='.repeat((4 - (url.length % 4)) % 4)],
  ];
  if (text !== undefined) out.push([`${label} (URL-encoded)`, encodeURIComponent(text)]);
  return out.map(([l, n]) => [l, Buffer.isBuffer(n) ? n : Buffer.from(n)]);
}

const textSpellings = (label, text) => spellings(label, Buffer.from(text, 'utf8'), text);

describe('a network observer after provisioning', () => {
  let server;
  let proxy;
  let browser;
  let s;
  let gateway;
  let made;
  let env;
  const dirs = [];
  const it = withScreenshots(nodeIt, () => [s?.page]);
  const tempDir = (tag) => {
    const d = mkdtempSync(join(tmpdir(), `ocf-mitm-${tag}-`));
    dirs.push(d);
    return d;
  };

  before(async () => {
    server = await startServer();
    proxy = await startRecordingProxy(server.url);
    browser = await launchBrowser();
    gateway = createServer((_req, res) => res.end('ok'));
    await new Promise((r) => gateway.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    gateway?.close();
    await browser?.close();
    await proxy?.close();
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('provisions through the proxy: account, master key, agent (secrets shown once)', async () => {
    s = await newPage(browser);
    await registerFirstAccount(s.page, proxy.url, EMAIL, PASSWORD);
    await setUpMasterKey(s.page, PASSPHRASE);
    made = await createAgent(s.page, { name: 'mitm-01' });
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    env = installEnv(made.install);
    assert.equal(env.OPENCLAW_FLEET_URL, proxy.url, 'the install command names the address the browser used');
    assert.match(env.OPENCLAW_FLEET_ENCRYPTION_SECRET, /^ocf_es_/);
    await s.context.close();
  });

  it('records a whole working session: login, unlock, config saved, applied by agent and monitor, reloaded', async () => {
    proxy.start();
    s = await newPage(browser);
    const { page } = s;
    await login(page, proxy.url, EMAIL, PASSWORD);
    await page.getByRole('heading', { name: 'Unlock' }).waitFor();
    await page.getByLabel('Master key passphrase').fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.getByRole('link', { name: 'mitm-01' }).click();
    await page.getByLabel('Name of variable 1').fill('ANTHROPIC_API_KEY');
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(API_KEY);
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Name of variable 2').fill('OPENCLAW_GATEWAY_TOKEN');
    await page.getByLabel('Value of OPENCLAW_GATEWAY_TOKEN').fill(GATEWAY);
    await page.getByLabel('OpenClaw settings (openclaw.json fragment)').fill(`{"agents": {"defaults": {"model": "${MODEL}"}}}`);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('Stored version 1', { exact: false }).waitFor();

    // The Rust agent, once: handshake, config, apply, heartbeat.
    const agentBin = cargoBinary('openclaw-fleet-agent', 'OPENCLAW_FLEET_AGENT_BIN');
    const agentDir = tempDir('agent');
    const agentEnv = hostEnv({
      ...env,
      HOME: agentDir,
      OPENCLAW_STATE_DIR: agentDir,
      OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${gateway.address().port}`,
    });
    const once = await run(agentBin, ['run', '--once'], agentEnv).done;
    assert.equal(once.code, 0, once.out);
    const applied = readEnv(agentDir);
    assert.ok(applied.includes(API_KEY) && applied.includes(GATEWAY), 'the agent wrote version 1');
    assert.equal(JSON.parse(readFileSync(join(agentDir, 'openclaw.json'), 'utf8')).agents.defaults.model, MODEL);

    // The agent running: a new version reaches it over its long poll.
    await nextSecond();
    const daemon = run(agentBin, ['run'], agentEnv, { timeoutMs: 60000 });
    await page.getByText('agent applied version 1', { exact: false }).waitFor({ timeout: 15000 });
    await page.getByLabel('Value of OPENCLAW_GATEWAY_TOKEN').fill(GATEWAY_2);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('Stored version 2', { exact: false }).waitFor();
    await until('the running agent to apply version 2', () => readEnv(agentDir).includes(GATEWAY_2));
    await page.getByText('agent applied version 2', { exact: false }).waitFor({ timeout: 15000 });
    daemon.child.kill('SIGTERM');
    const stopped = await daemon.done;
    assert.ok(!stopped.out.includes(GATEWAY_2), 'agent output holds no config value');

    // The Python monitor, once, with its own state directory.
    const monitorDir = tempDir('monitor');
    await nextSecond();
    const mon = await run('python3', ['python/openclaw_fleet_monitor.py', '--once'], hostEnv({
      ...env,
      OPENCLAW_STATE_DIR: monitorDir,
      OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${gateway.address().port}`,
    })).done;
    assert.equal(mon.code, 0, mon.out);
    const monEnv = readEnv(monitorDir);
    assert.ok(monEnv.includes(API_KEY) && monEnv.includes(GATEWAY_2), 'the monitor wrote version 2');

    // The dashboard decrypts the stored config again after a reload.
    await page.reload();
    const value = page.getByLabel('Value of OPENCLAW_GATEWAY_TOKEN');
    await value.waitFor();
    assert.equal(await value.inputValue(), GATEWAY_2);
    await page.getByText('agent applied version 2', { exact: false }).waitFor({ timeout: 15000 });
    proxy.stop();
    assert.deepEqual(s.problems, []);
  });

  it('records the operator CLI: login, decrypt, a key rotated from stdin, applied by the agent, logout', async () => {
    const ctl = cargoBinary('openclaw-fleet-ctl', 'OPENCLAW_FLEET_CTL_BIN');
    const home = tempDir('ctl');
    const keyFile = join(home, 'master.key');
    writeFileSync(keyFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    const ctlEnv = hostEnv({ HOME: home, OPENCLAW_FLEET_CTL_CONFIG: join(home, 'config') });
    proxy.start();
    const login = await runWithInput(ctl, ['login', '--url', proxy.url, '--email', EMAIL, '--password-file', '-'], ctlEnv, `${PASSWORD}\n`);
    assert.equal(login.code, 0, login.stderr);
    const got = await runWithInput(ctl, ['config', 'get', 'mitm-01', '--master-key-file', keyFile], ctlEnv);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).env.OPENCLAW_GATEWAY_TOKEN, GATEWAY_2, 'the CLI decrypts what the browser saved');
    const set = await runWithInput(ctl, ['--json', 'env', 'set', 'ANTHROPIC_API_KEY', '--agent', 'mitm-01', '--master-key-file', keyFile], ctlEnv, CLI_KEY);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).version, 3);
    assert.ok(!`${set.stdout}${set.stderr}${login.stdout}${login.stderr}`.includes(CLI_KEY), 'no value in the CLI output');

    const agentDir = tempDir('agent-cli');
    await nextSecond();
    const once = await run(cargoBinary('openclaw-fleet-agent', 'OPENCLAW_FLEET_AGENT_BIN'), ['run', '--once'], hostEnv({
      ...env,
      HOME: agentDir,
      OPENCLAW_STATE_DIR: agentDir,
      OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${gateway.address().port}`,
    })).done;
    assert.equal(once.code, 0, once.out);
    assert.ok(readEnv(agentDir).includes(CLI_KEY), 'the agent wrote the key the CLI set');
    const logout = await runWithInput(ctl, ['logout'], ctlEnv);
    assert.equal(logout.code, 0, logout.stderr);
    proxy.stop();
  });

  it('captured a real session (so the search below is not vacuous)', () => {
    const ex = proxy.exchanges();
    const count = (method, re, status = 200) => ex.filter((e) => e.method === method && re.test(e.path) && e.status === status).length;
    const agentId = env.OPENCLAW_FLEET_AGENT_ID;
    assert.ok(count('POST', /^\/api\/auth\/login$/) >= 1, 'a login');
    assert.ok(count('GET', /^\/api\/me\/master-key$/) >= 1, 'the master-key parameters');
    assert.ok(count('POST', /^\/api\/agents\/handshake$/) >= 3, 'handshakes of the agent (twice) and the monitor');
    assert.ok(count('POST', /^\/api\/heartbeat$/) >= 3, 'heartbeats of the agent and the monitor');
    assert.ok(count('GET', new RegExp(`^/api/agents/${agentId}/config\\?after_version=`)) >= 1, 'a long poll');
    const saves = ex.filter((e) => e.method === 'PUT' && e.path === `/api/agents/${agentId}/config` && e.status === 200);
    assert.equal(saves.length, 3, 'two config saves in the browser, one by the CLI');
    assert.ok(proxy.capture().includes(Buffer.from('user-agent: openclaw-fleet-ctl/')), 'the CLI went through the proxy');
    for (const save of saves) {
      const envelope = JSON.parse(save.request).config;
      assert.deepEqual(Object.keys(envelope).sort(), ['agent_id', 'alg', 'ct', 'iv', 'v', 'version']);
      assert.ok(b64uDecode(envelope.ct).length > 60, 'the envelope carries the config, encrypted');
    }
    const delivered = ex.filter((e) => e.path.startsWith(`/api/agents/${agentId}/config`) && e.method === 'GET' && e.response.includes('"ct"'));
    assert.ok(delivered.length >= 1, 'an envelope delivered to a host');
    assert.ok(proxy.capture().length > 50000, `only ${proxy.capture().length} bytes captured`);
  });

  it('holds no secret, derived key or config value, in any spelling', async () => {
    const capture = proxy.capture();
    const agentId = env.OPENCLAW_FLEET_AGENT_ID;
    const agentSecret = env.OPENCLAW_FLEET_AGENT_SECRET;
    const encSecret = env.OPENCLAW_FLEET_ENCRYPTION_SECRET;
    // The public KDF parameters, read straight from the server (not through the proxy).
    const session = await (await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    })).json();
    const { kdf } = await (await fetch(`${server.url}/api/me/master-key`, {
      headers: { Authorization: `Bearer ${session.token}` },
    })).json();
    const needles = [
      ...textSpellings('AGENT_SECRET', agentSecret),
      ...spellings('AGENT_SECRET bytes', b64uDecode(agentSecret.slice('ocf_as_'.length))),
      ...textSpellings('ENCRYPTION_SECRET', encSecret),
      ...spellings('ENCRYPTION_SECRET bytes', b64uDecode(encSecret.slice('ocf_es_'.length))),
      ...textSpellings('master passphrase', PASSPHRASE),
      ...spellings('MK', await deriveMasterKeyBytes(PASSPHRASE, kdf)),
      ...spellings('WK', await deriveWrapKeyBytes(PASSPHRASE, kdf)),
      ...spellings('config key', await configKeyBytes(encSecret, agentId)),
      ...textSpellings('ANTHROPIC_API_KEY value', API_KEY),
      ...textSpellings('OPENCLAW_GATEWAY_TOKEN value', GATEWAY),
      ...textSpellings('OPENCLAW_GATEWAY_TOKEN value v2', GATEWAY_2),
      ...textSpellings('openclaw.json value', MODEL),
      ...textSpellings('value set with the CLI', CLI_KEY),
    ];
    assert.ok(needles.length >= 90);
    const found = needles.filter(([, n]) => capture.includes(n)).map(([label]) => label);
    assert.deepEqual(found, [], `seen on the wire after provisioning: ${found.join(', ')}`);
    // The search works: what the observer does see is found in the same capture — the
    // account password in the login body is the price of a login without TLS.
    for (const visible of [agentId, '"alg":"A256GCM"', 'POST /api/heartbeat', kdf.salt, PASSWORD]) {
      assert.ok(capture.includes(Buffer.from(visible)), `${visible} is in the capture`);
    }
  });
});

// The Ed25519 path through the same recording proxy: an agent created in the
// dashboard with an enrollment token, the Rust agent and the Python monitor each
// making a key pair, enrolling and handshaking through the proxy. The recording
// holds no identity key in any spelling, and neither a recorded enrollment nor a
// recorded handshake gets anywhere when an observer replays it.
describe('a network observer of Ed25519 agents', () => {
  let server;
  let proxy;
  let browser;
  let gateway;
  let page;
  const dirs = [];
  const keys = [];
  const tokens = [];
  const it = withScreenshots(nodeIt, () => [page]);
  const tempDir = (tag) => {
    const d = mkdtempSync(join(tmpdir(), `ocf-mitm-ed-${tag}-`));
    dirs.push(d);
    return d;
  };

  before(async () => {
    server = await startServer();
    proxy = await startRecordingProxy(server.url);
    browser = await launchBrowser();
    gateway = createServer((_req, res) => res.end('ok'));
    await new Promise((r) => gateway.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    gateway?.close();
    await browser?.close();
    await proxy?.close();
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the agent and the monitor enroll and handshake through the proxy', async () => {
    const s = await newPage(browser);
    page = s.page;
    await registerFirstAccount(s.page, proxy.url, EMAIL, PASSWORD);
    await setUpMasterKey(s.page, PASSPHRASE);
    const hosts = [
      ['agent', cargoBinary('openclaw-fleet-agent', 'OPENCLAW_FLEET_AGENT_BIN'), ['run', '--once']],
      ['monitor', 'python3', ['python/openclaw_fleet_monitor.py', '--once']],
    ];
    for (const [tag, cmd, args] of hosts) {
      const made = await createAgent(s.page, { name: `mitm-ed-${tag}`, identity: 'ed25519' });
      await made.dialog.getByRole('button', { name: 'Done' }).click();
      const hostSettings = installEnv(made.install);
      tokens.push(made.enrollmentToken);
      const dir = tempDir(tag);
      proxy.start();
      const done = await run(cmd, args, hostEnv({
        ...hostSettings,
        HOME: dir,
        OPENCLAW_STATE_DIR: dir,
        OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${gateway.address().port}`,
      })).done;
      proxy.stop();
      assert.equal(done.code, 0, done.out);
      keys.push(readFileSync(join(dir, '.fleet-agent-identity-key'), 'utf8').trim());
    }
    assert.deepEqual(s.problems, []);
    await s.context.close();
  });

  it('recorded no identity key, and a replayed enrollment or handshake is refused', async () => {
    const capture = proxy.capture();
    const ex = proxy.exchanges();
    const enrolls = ex.filter((e) => e.method === 'POST' && e.path === '/api/agents/enroll' && e.status === 200);
    const handshakes = ex.filter((e) => e.method === 'POST' && e.path === '/api/agents/handshake' && e.status === 200);
    assert.equal(enrolls.length, 2, 'the agent and the monitor enrolled through the proxy');
    assert.ok(handshakes.length >= 2, 'and handshaked through it');
    for (const h of handshakes) assert.equal(JSON.parse(h.request).alg, 'ed25519');

    const needles = keys.flatMap((key, i) => [
      ...textSpellings(`identity key ${i}`, key),
      ...spellings(`identity key ${i} seed`, b64uDecode(key.slice('ocf_ik_'.length))),
    ]);
    const found = needles.filter(([, n]) => capture.includes(n)).map(([label]) => label);
    assert.deepEqual(found, [], `seen on the wire: ${found.join(', ')}`);
    // The search works: the enrollment token does cross the wire, once, at enrollment.
    for (const token of tokens) assert.ok(capture.includes(Buffer.from(token)), 'the token is in the capture');

    const replay = async (e) => {
      const res = await fetch(`${server.url}${e.path}`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: e.request,
      });
      return res.status;
    };
    for (const e of [...enrolls, ...handshakes]) {
      assert.equal(await replay(e), 401, `a replayed ${e.path} was accepted`);
    }
  });
});
