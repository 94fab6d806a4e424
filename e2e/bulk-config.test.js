// Fleet-wide config changes in the dashboard (issue 11 item 2): ANTHROPIC_API_KEY
// rotated on every host of a fleet in one step, with three real
// `openclaw-fleet-agent` processes running, each of which writes the new key to
// its .env; an agent without an encryption secret is reported, an agent of
// another fleet is left alone. A second change (remove a variable, merge an
// openclaw.json fragment) meets a real version conflict (another client saves
// meanwhile: retried) and a dropped upload (failed, then retried from the
// results). No request carries a value in plaintext.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  withScreenshots, cargoBinary, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey, randomToken,
} from './harness.js';
import { createFleetApi, ownerSession, provisionAgent, unlockedKey } from './provision.js';
import { openConfig, sealConfig } from '../web/js/crypto.js';

const EMAIL = `bulk-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const PASSPHRASE = `willow copper signal meadow ${randomToken(3)}`;
const OLD_KEY = `sk-ant-e2e-OLD-${randomToken(8)}`;
const NEW_KEY = `sk-ant-e2e-NEW-${randomToken(8)}`;
const KEEP = `keep-${randomToken(6)}`;

async function until(what, check, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const readEnv = (dir) => { try { return readFileSync(join(dir, '.env'), 'utf8'); } catch { return ''; } };
const readJson = (dir) => { try { return JSON.parse(readFileSync(join(dir, 'openclaw.json'), 'utf8')); } catch { return null; } };

describe('fleet-wide config change from the dashboard', () => {
  let server;
  let browser;
  let s;
  let api;
  let key;
  let fleet;
  const hosts = [];
  const children = [];
  const dirs = [];
  let bare;
  let outsider;
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
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('provisions a fleet of three running agents, one without a secret, and one elsewhere', async () => {
    const { page } = s;
    await registerFirstAccount(page, server.url, EMAIL, PASSWORD);
    await setUpMasterKey(page, PASSPHRASE);
    const session = await ownerSession(server.url, EMAIL, PASSWORD);
    api = session.api;
    key = { ...(await unlockedKey(api, PASSPHRASE)), userId: session.user.id };
    fleet = await createFleetApi(api, 'prod');
    const other = await createFleetApi(api, 'staging');
    const bin = cargoBinary('openclaw-fleet-agent', 'OPENCLAW_FLEET_AGENT_BIN');
    for (const [i, name] of ['host-a', 'host-b', 'host-c'].entries()) {
      // host-a already holds a config with another variable that must survive.
      const doc = i === 0 ? { schema: 1, env: { ANTHROPIC_API_KEY: OLD_KEY, OTHER_SETTING: KEEP }, openclaw: {} } : undefined;
      const a = await provisionAgent(api, { name, fleetId: fleet.id, key, doc });
      const dir = mkdtempSync(join(tmpdir(), `ocf-e2e-bulk-${name}-`));
      dirs.push(dir);
      children.push(spawn(bin, ['run'], {
        env: {
          PATH: process.env.PATH, HOME: dir, RUST_LOG: 'warn', OPENCLAW_STATE_DIR: dir,
          OPENCLAW_FLEET_URL: server.url, OPENCLAW_FLEET_AGENT_ID: a.id,
          OPENCLAW_FLEET_AGENT_SECRET: a.agentSecret, OPENCLAW_FLEET_ENCRYPTION_SECRET: a.encryptionSecret,
        },
        stdio: 'ignore',
      }));
      hosts.push({ ...a, dir });
    }
    bare = await provisionAgent(api, { name: 'host-d-no-secret', fleetId: fleet.id });
    outsider = await provisionAgent(api, { name: 'host-x', fleetId: other.id, key, doc: { schema: 1, env: { ANTHROPIC_API_KEY: OLD_KEY }, openclaw: {} } });
    await until('host-a applied its first config', () => readEnv(hosts[0].dir).includes(OLD_KEY));
  });

  it('rotates ANTHROPIC_API_KEY on every host of the fleet in one step', async () => {
    const { page } = s;
    await page.goto(`${server.url}/#/agents?fleet=${fleet.id}`);
    await page.getByRole('link', { name: 'Change configs' }).click();
    await page.getByRole('heading', { name: 'Change many configs', level: 1 }).waitFor();
    assert.equal(await page.getByLabel('Agents to choose from').inputValue(), fleet.id, 'the fleet filter carried over');
    await page.getByText('4 of 4 agents selected').waitFor();
    assert.equal(await page.getByLabel('host-x').count(), 0, 'agents of another fleet are not offered');
    await page.getByLabel('Variable to set, setting 1').fill('ANTHROPIC_API_KEY');
    await page.getByLabel('New value for ANTHROPIC_API_KEY').fill(NEW_KEY);
    assert.equal(await page.getByLabel('New value for ANTHROPIC_API_KEY').getAttribute('type'), 'password', 'masked');
    await page.getByRole('button', { name: 'Apply to 4 agents' }).click();
    await page.getByRole('dialog', { name: 'Change the config of 4 agents?' }).getByRole('button', { name: 'Apply change' }).click();
    await page.getByText('4 of 4 done', { exact: false }).waitFor({ timeout: 30000 });
    const results = page.getByRole('table', { name: 'Result per agent' });
    const result = (name) => results.getByRole('row', { name: new RegExp(`^${name}`) }).getByRole('cell').innerText();
    assert.equal(await result('host-a'), 'Applied as version 2');
    assert.equal(await result('host-b'), 'Applied as version 1');
    assert.equal(await result('host-c'), 'Applied as version 1');
    assert.equal(await result('host-d-no-secret'), 'Agent has no encryption secret yet');
    assert.equal(await page.getByRole('status').filter({ hasText: 'applied' }).innerText(), '3 applied · 1 without an encryption secret');
    assert.equal(await page.getByLabel('Config change progress').getAttribute('value'), '4');

    for (const h of hosts) {
      await until(`${h.name} wrote the new key`, () => readEnv(h.dir).includes(NEW_KEY));
      assert.ok(!readEnv(h.dir).includes(OLD_KEY), `${h.name} no longer has the old key`);
    }
    assert.ok(readEnv(hosts[0].dir).includes(KEEP), 'the other variable of host-a was kept');
    const x = (await api('GET', `/api/agents/${outsider.id}`)).body;
    assert.equal(x.config_version, 1, 'the agent of another fleet was not touched');
    assert.equal((await api('GET', `/api/agents/${bare.id}`)).body.config_version, 0);
    const a = (await api('GET', `/api/agents/${hosts[0].id}`)).body;
    assert.deepEqual((await openConfig(hosts[0].encryptionSecret, a.id, a.config)).env,
      { ANTHROPIC_API_KEY: NEW_KEY, OTHER_SETTING: KEEP });
  });

  it('retries a real version conflict, reports a dropped upload, and retries the failed one', async () => {
    const { page } = s;
    const [a, b] = hosts;
    // While the page reads host-a, another client saves version 3: the page's version 3 then meets a 409.
    let raced = false;
    await page.route((url) => url.pathname === `/api/agents/${a.id}`, async (route) => {
      const stale = await route.fetch();
      if (!raced && route.request().method() === 'GET') {
        raced = true;
        const cur = (await api('GET', `/api/agents/${a.id}`)).body;
        const doc = await openConfig(a.encryptionSecret, a.id, cur.config);
        doc.env.SAVED_ELSEWHERE = 'yes';
        const put = await api('PUT', `/api/agents/${a.id}/config`, { config: await sealConfig(a.encryptionSecret, a.id, cur.config_version + 1, doc) });
        assert.equal(put.status, 200);
      }
      await route.fulfill({ response: stale });
    });
    // host-b's first upload is dropped on the way.
    let dropped = false;
    await page.route((url) => url.pathname === `/api/agents/${b.id}/config`, (route) => {
      if (!dropped && route.request().method() === 'PUT') {
        dropped = true;
        return route.abort('connectionreset');
      }
      return route.continue();
    });

    await page.getByLabel('Do not set ANTHROPIC_API_KEY').click();
    await page.getByLabel('Variables to remove').fill('OTHER_SETTING');
    await page.getByLabel('Merge into openclaw.json').fill('{"agents": {"defaults": {"model": "bulk-model"}}}');
    // "Select none" acts on the agents the name filter shows: only host-d here.
    await page.getByLabel('Find by name').fill('no-secret');
    assert.equal(await page.getByLabel('host-a').isVisible(), false);
    await page.getByRole('button', { name: 'Select none' }).click();
    await page.getByLabel('Find by name').fill('');
    assert.equal(await page.getByLabel('host-d-no-secret').isChecked(), false);
    assert.equal(await page.getByLabel('host-a').isChecked(), true);
    await page.getByRole('button', { name: 'Apply to 3 agents' }).click();
    await page.getByRole('dialog', { name: 'Change the config of 3 agents?' }).getByRole('button', { name: 'Apply change' }).click();
    await page.getByText('3 of 3 done', { exact: false }).waitFor({ timeout: 30000 });
    const results = page.getByRole('table', { name: 'Result per agent' });
    const result = (name) => results.getByRole('row', { name: new RegExp(`^${name}`) }).getByRole('cell').innerText();
    assert.equal(await result('host-a'), 'Applied as version 4 (conflict retried 1×)');
    assert.match(await result('host-b'), /^Failed: /);
    assert.equal(await result('host-c'), 'Applied as version 2');

    await page.getByRole('button', { name: 'Retry 1 failed' }).click();
    await until('the retry finished', async () => (await result('host-b')) === 'Applied as version 2');
    assert.equal(await page.getByRole('button', { name: /Retry \d+ failed/ }).count(), 0);
    await page.unrouteAll();

    for (const h of hosts) {
      await until(`${h.name} merged the fragment`, () => readJson(h.dir)?.agents?.defaults?.model === 'bulk-model');
      assert.ok(readEnv(h.dir).includes(NEW_KEY));
    }
    await until('host-a dropped OTHER_SETTING', () => !readEnv(hosts[0].dir).includes(KEEP));
    assert.ok(readEnv(hosts[0].dir).includes('SAVED_ELSEWHERE'), 'the concurrent save was kept, not overwritten');
  });

  it('sent no value in plaintext, broke no CSP rule and threw no error', () => {
    const sent = s.bodies.join('\n');
    for (const v of [NEW_KEY, OLD_KEY, KEEP, 'bulk-model']) assert.ok(!sent.includes(v), 'no plaintext in requests');
    for (const v of [NEW_KEY, OLD_KEY, KEEP]) assert.ok(!server.log().includes(v), 'no plaintext in the server log');
    assert.deepEqual(s.problems, []);
  });
});
