// The whole chain with the real host agent: a config encrypted in the
// browser is decrypted and applied by `openclaw-fleet-agent`, run with the
// exact environment of the dashboard's install command, and the dashboard
// then shows, live, that the agent applied that version.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  withScreenshots, cargoBinary, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey,
  createAgent, installEnv, randomToken,
} from './harness.js';

const PASSPHRASE = `granite ember hollow pepper ${randomToken(3)}`;
const MARKER = `sk-ant-e2e-MARKER-${randomToken(8)}`;

function runAgent(bin, env) {
  return new Promise((resolve) => {
    const child = spawn(bin, ['run', '--once'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe('dashboard and the real host agent', () => {
  let server;
  let browser;
  let s;
  let gateway;
  let stateDir;
  let made;
  const it = withScreenshots(nodeIt, () => [s?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    stateDir = mkdtempSync(join(tmpdir(), 'ocf-e2e-openclaw-'));
    gateway = createServer((_req, res) => res.end('ok'));
    await new Promise((r) => gateway.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    gateway?.close();
    await browser?.close();
    await server?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('saves a config for a new agent in the browser', async () => {
    const { page } = s;
    await registerFirstAccount(page, server.url, `host-${randomToken(4)}@example.com`, `account-pw-${randomToken(6)}`);
    await setUpMasterKey(page, PASSPHRASE);
    made = await createAgent(page, { name: 'host-01' });
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('link', { name: 'host-01' }).click();
    await page.getByLabel('Name of variable 1').fill('ANTHROPIC_API_KEY');
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(MARKER);
    await page.getByLabel('OpenClaw settings (openclaw.json fragment)').fill('{"agents": {"defaults": {"model": "e2e-model"}}}');
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('agent applied none yet', { exact: false }).waitFor();
  });

  it('is applied by the agent run with the install command, and shown as applied live', async () => {
    const { page } = s;
    const env = installEnv(made.install);
    assert.deepEqual(Object.keys(env).sort(), [
      'OPENCLAW_FLEET_AGENT_ID', 'OPENCLAW_FLEET_AGENT_SECRET', 'OPENCLAW_FLEET_ENCRYPTION_SECRET', 'OPENCLAW_FLEET_URL',
    ]);
    const bin = cargoBinary('openclaw-fleet-agent', 'OPENCLAW_FLEET_AGENT_BIN');
    const { code, out } = await runAgent(bin, {
      PATH: process.env.PATH,
      HOME: stateDir,
      ...env,
      OPENCLAW_STATE_DIR: stateDir,
      OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${gateway.address().port}`,
    });
    assert.equal(code, 0, out);
    assert.ok(readFileSync(join(stateDir, '.env'), 'utf8').includes(MARKER), 'the agent wrote the decrypted value');
    for (const file of ['.env', 'openclaw.json']) {
      assert.equal(statSync(join(stateDir, file)).mode & 0o777, 0o600, `${file} is private to its owner`);
    }
    const stored = server.dataBytes();
    assert.ok(stored.length > 0, 'the server wrote its database');
    for (const secret of [MARKER, env.OPENCLAW_FLEET_ENCRYPTION_SECRET]) {
      assert.ok(!stored.includes(secret), 'the database files hold no plaintext secret');
    }
    assert.equal(JSON.parse(readFileSync(join(stateDir, 'openclaw.json'), 'utf8')).agents.defaults.model, 'e2e-model');
    for (const secret of [MARKER, env.OPENCLAW_FLEET_AGENT_SECRET, env.OPENCLAW_FLEET_ENCRYPTION_SECRET]) {
      assert.ok(!out.includes(secret), 'agent output holds no secret');
      assert.ok(!server.log().includes(secret), 'server log holds no secret');
    }

    await page.getByText('Stored version 1 · agent applied version 1', { exact: false }).waitFor({ timeout: 10000 });
    await page.getByText('up to date').waitFor();
    await page.getByRole('heading', { name: 'host-01', level: 1 }).locator('..').getByText('Healthy').waitFor();
  });

  it('broke no CSP rule and threw no error', () => {
    assert.deepEqual(s.problems, []);
  });
});
