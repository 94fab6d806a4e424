// The dashboard a hostile server cannot tamper with: `openclaw-fleet-ctl dashboard`
// serves the dashboard built into the CLI binary on 127.0.0.1 and forwards /api to the
// real server. In Chromium, through the local URL only: sign in, set up the master key,
// create an agent (a second tab follows it live over the forwarded event stream), save
// an encrypted config, reload and read it back. Every request of the page goes to the
// local origin; none reaches the server directly.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  withScreenshots, cargoBinary, startServer, launchBrowser, newPage, setUpMasterKey, createAgent, login,
  randomToken,
} from './harness.js';

const EMAIL = `local-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const PASSPHRASE = `harbor violet compass ember ${randomToken(3)}`;
const MARKER = `sk-local-${randomToken(10)}`;

/** Starts `openclaw-fleet-ctl dashboard --server URL`; resolves with its local URL. */
async function startLocalDashboard(serverUrl) {
  const home = mkdtempSync(join(tmpdir(), 'ocf-e2e-ctl-'));
  const bin = cargoBinary('openclaw-fleet-ctl', 'OPENCLAW_FLEET_CTL_BIN');
  const child = spawn(bin, ['dashboard', '--server', serverUrl], {
    env: { PATH: process.env.PATH, HOME: home, OPENCLAW_FLEET_CTL_CONFIG: join(home, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`ctl dashboard did not start:\n${out}`)), 60000);
    const onData = (c) => {
      out += c;
      const m = out.match(/Local dashboard: (http:\/\/127\.0\.0\.1:\d+)\//);
      if (m) { clearTimeout(timer); res(m[1]); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); rej(new Error(`ctl dashboard exited ${code}:\n${out}`)); });
  });
  return {
    url,
    output: () => out,
    stop() {
      child.kill('SIGTERM');
      rmSync(home, { recursive: true, force: true });
    },
  };
}

describe('the local dashboard of openclaw-fleet-ctl', () => {
  let server;
  let local;
  let browser;
  let s;
  let watcher;
  let agentId;
  const it = withScreenshots(nodeIt, () => [s?.page, watcher?.page]);

  before(async () => {
    server = await startServer();
    const reg = await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    assert.equal(reg.status, 201);
    local = await startLocalDashboard(server.url);
    browser = await launchBrowser();
    s = await newPage(browser);
  });

  after(async () => {
    await browser?.close();
    local?.stop();
    await server?.stop();
  });

  it('signs in and sets up the master key through the local URL', async () => {
    const { page } = s;
    await login(page, local.url, EMAIL, PASSWORD);
    await setUpMasterKey(page, PASSPHRASE);
    const csp = await page.evaluate(() => fetch('/').then((r) => r.headers.get('content-security-policy')));
    assert.match(csp, /script-src 'self'/);
  });

  it('creates an agent, and a second tab sees it live over the forwarded event stream', async () => {
    const { page } = s;
    watcher = { page: await s.context.newPage() };
    await watcher.page.goto(`${local.url}/#/agents`);
    await watcher.page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.bringToFront();
    const made = await createAgent(page, { name: 'local-01' });
    agentId = made.install.match(/OPENCLAW_FLEET_AGENT_ID='([0-9a-f-]{36})'/)[1];
    assert.ok(made.install.includes(`OPENCLAW_FLEET_URL='${server.url}'`), 'the install command names the server, not 127.0.0.1');
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    await made.dialog.waitFor({ state: 'detached' });
    await watcher.page.getByRole('link', { name: 'local-01' }).waitFor({ timeout: 15000 });
  });

  it('saves an encrypted config and reads it back after a reload', async () => {
    const { page } = s;
    await page.getByRole('link', { name: 'local-01' }).click();
    await page.getByRole('heading', { name: 'Encrypted config' }).waitFor();
    await page.getByLabel('Name of variable 1').fill('ANTHROPIC_API_KEY');
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(MARKER);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('Stored version 1', { exact: false }).waitFor();

    // What the server stored is an envelope, saved by this session.
    const detail = await page.evaluate((id) => fetch(`/api/agents/${id}`).then((r) => r.json()), agentId);
    assert.equal(detail.config_version, 1);
    assert.equal(detail.config.agent_id, agentId);
    assert.ok(!JSON.stringify(detail).includes(MARKER));

    await page.reload();
    await page.getByRole('heading', { name: 'local-01', level: 1 }).waitFor();
    const value = page.getByLabel('Value of ANTHROPIC_API_KEY');
    await value.waitFor();
    assert.equal(await value.inputValue(), MARKER, 'decrypted in the browser again');
  });

  it('sent every request to the local origin, none straight to the server', async () => {
    const requests = s.bodies.map((b) => b.split('\n')[0]);
    assert.ok(requests.some((r) => r.startsWith(`PUT ${local.url}/api/agents/`)), 'the save went through the local dashboard');
    for (const r of requests) assert.ok(r.split(' ')[1].startsWith(`${local.url}/`), `request to the local origin: ${r}`);
    for (const b of s.bodies) assert.ok(!b.includes(MARKER), 'no config value in any request');
    assert.deepEqual(s.problems, []);
    assert.ok(!local.output().includes(MARKER) && !local.output().includes(PASSWORD), 'the CLI logged no secret');
  });
});
