// Foundation flows against the real server: first account, fleets, an agent
// whose secret is shown exactly once, live updates from a host that connects,
// the plaintext-secret warning, rotation, deletion, logout and login.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, login, createFleet, createAgent,
  storageDump, handshake, heartbeat, randomToken,
} from './harness.js';

const EMAIL = `owner-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const ONCE = 'This secret is shown only now. Store it on the host; it cannot be shown again (rotate to get a new one).';

describe('dashboard foundation', () => {
  let server;
  let browser;
  let s;
  let agentId;
  let agentSecret;
  const secretsSeen = [];
  const it = withScreenshots(nodeIt, () => [s?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('offers first-account set-up on an empty server and signs in after registering', async () => {
    const { page } = s;
    await registerFirstAccount(page, server.url, EMAIL, PASSWORD);
    await page.getByRole('heading', { name: 'Set up your encryption master key' }).waitFor();
    await page.getByRole('link', { name: 'Not now' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.getByText('No agents yet').waitFor();
  });

  it('creates a fleet', async () => {
    await createFleet(s.page, 'Production');
    const row = s.page.getByRole('row', { name: /Production/ });
    assert.equal(await row.getByRole('cell').nth(0).innerText(), '0');
  });

  it('creates an agent and shows its secret exactly once', async () => {
    const { page } = s;
    const made = await createAgent(page, { name: 'edge-01', fleet: 'Production' });
    agentSecret = made.agentSecret;
    secretsSeen.push(agentSecret);
    assert.match(agentSecret, /^ocf_as_[A-Za-z0-9_-]{43}$/);
    await made.dialog.getByText(ONCE).waitFor();
    assert.equal(made.encryptionSecret, null, 'no encryption secret without a master key');
    assert.match(made.install, new RegExp(`OPENCLAW_FLEET_URL='${server.url}'`));
    const id = made.install.match(/OPENCLAW_FLEET_AGENT_ID='([0-9a-f-]{36})'/);
    assert.ok(id, 'install command names the agent id');
    agentId = id[1];
    assert.ok(made.install.includes(`OPENCLAW_FLEET_AGENT_SECRET='${agentSecret}'`));
    assert.ok(made.install.includes(`curl -fsSo "$f" '${server.url}/install.sh' && sudo sh "$f" <<'EOF'`));
    assert.ok(made.install.trimEnd().endsWith('EOF\nrm -f "$f"'));
    assert.ok(!made.install.includes('OPENCLAW_FLEET_ENCRYPTION_SECRET'));

    await made.dialog.getByRole('button', { name: 'Done' }).click();
    await made.dialog.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(agentSecret), 'secret gone from the page after closing');
    assert.ok(!(await storageDump(page)).includes(agentSecret), 'secret never stored in the browser');
    await page.reload();
    await page.getByRole('link', { name: 'edge-01' }).waitFor();
    assert.ok(!(await page.content()).includes(agentSecret), 'secret not shown again after a reload');
    for (const b of s.bodies) assert.ok(!b.split('\n')[0].includes(agentSecret), 'secret never in a URL');
  });

  it('lists the agent with its fleet and status, and filters', async () => {
    const { page } = s;
    const row = page.getByRole('row', { name: /edge-01/ });
    await row.getByText('Production').waitFor();
    await row.getByText('Pending').waitFor();
    await page.getByLabel('Status').selectOption('healthy');
    await page.getByText('No agents match these filters').waitFor();
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Fleet').selectOption({ label: 'Production' });
    await page.getByRole('row', { name: /edge-01/ }).waitFor();
  });

  it('updates the list live when the host connects (no reload)', async () => {
    const { page } = s;
    await page.getByText('Live', { exact: true }).waitFor();
    const hs = await handshake(server.url, agentId, agentSecret);
    assert.equal(hs.status, 200, JSON.stringify(hs.body));
    const hb = await heartbeat(server.url, hs.body.token, agentId,
      { cpu_usage: 12.5, memory_usage: 40.1, uptime_hours: 3, latency_ms: 8 }, { version: '0.1.0-e2e', config_delivery: 'not_set_up' });
    assert.equal(hb.status, 200, JSON.stringify(hb.body));
    const row = page.getByRole('row', { name: /edge-01/ });
    await row.getByText('Healthy').waitFor({ timeout: 10000 });
    await row.getByText('12.5 %').waitFor();
    s.token = hs.body.token;
  });

  it('shows the agent page with facts and charts that follow heartbeats live', async () => {
    const { page } = s;
    await page.getByRole('link', { name: 'edge-01' }).click();
    await page.getByRole('heading', { name: 'edge-01', level: 1 }).waitFor();
    await page.getByText('0.1.0-e2e').waitFor();
    // A monitor-only host (no ENCRYPTION_SECRET) says so in its heartbeat.
    await page.getByText('Config delivery not set up').waitFor();
    const cpu = page.getByRole('figure').filter({ hasText: 'CPU' });
    await cpu.getByText('12.5 %').waitFor();
    assert.ok(await cpu.locator('svg[role="img"]').count(), 'CPU chart drawn as inline SVG');
    await page.getByRole('button', { name: 'Last day' }).click();
    assert.equal(await page.getByRole('button', { name: 'Last day' }).getAttribute('aria-pressed'), 'true');
    const hb = await heartbeat(server.url, s.token, agentId, { cpu_usage: 55, memory_usage: 41, uptime_hours: 3, latency_ms: 9 });
    assert.equal(hb.status, 200);
    await cpu.getByText('55 %').waitFor({ timeout: 10000 });
    // The 30-day chart (hourly buckets, and the samples not rolled up yet) draws them too.
    await page.getByRole('button', { name: 'Last 30 days' }).click();
    assert.equal(await page.getByRole('button', { name: 'Last 30 days' }).getAttribute('aria-pressed'), 'true');
    await cpu.locator('svg[role="img"][aria-label*="latest"]').waitFor({ timeout: 10000 });
    await page.getByText('Set up your master key first').waitFor();
  });

  it('warns when the host sent its secret in plaintext, and rotates the secret once', async () => {
    const { page } = s;
    const leak = await fetch(`${server.url}/api/agents/handshake`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ agent_id: agentId, agent_secret: agentSecret }),
    });
    assert.equal(leak.status, 400);
    assert.equal((await leak.json()).error, 'plaintext_secret_rejected');
    await page.reload();
    await page.getByText('This agent sent its secret in plaintext — rotate it').waitFor();

    await page.getByRole('button', { name: 'Rotate secret', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: /Rotate the secret/ });
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const shown = page.getByRole('dialog', { name: /New secret for/ });
    const fresh = await shown.getByLabel('Agent secret', { exact: true }).inputValue();
    secretsSeen.push(fresh);
    assert.match(fresh, /^ocf_as_/);
    assert.notEqual(fresh, agentSecret);
    await shown.getByText(ONCE).waitFor();
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(fresh));
    assert.equal((await handshake(server.url, agentId, agentSecret)).status, 401, 'old secret refused');
    assert.equal((await handshake(server.url, agentId, fresh)).status, 200, 'new secret accepted');
  });

  it('deletes an agent only after confirmation', async () => {
    const { page } = s;
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete agent “edge-01”?' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByRole('heading', { name: 'edge-01', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('dialog', { name: 'Delete agent “edge-01”?' }).getByRole('button', { name: 'Delete agent' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.getByText('No agents yet').waitFor();
  });

  it('follows agents created and deleted elsewhere, live', async () => {
    const { page } = s;
    const login = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    const { token } = await login.json();
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    // A name is user input: the list shows it as text, never as markup.
    const name = 'made-elsewhere <img src=x onerror="window.__xss=1">';
    const made = await fetch(`${server.url}/api/agents`, { method: 'POST', headers: auth, body: JSON.stringify({ name }) });
    assert.equal(made.status, 201);
    const { agent } = await made.json();
    await page.getByRole('link', { name }).waitFor({ timeout: 10000 });
    assert.equal(await page.locator('main img').count(), 0, 'no element made from the name');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    const gone = await fetch(`${server.url}/api/agents/${agent.id}`, { method: 'DELETE', headers: auth });
    assert.equal(gone.status, 204);
    await page.getByRole('link', { name }).waitFor({ state: 'detached', timeout: 10000 });
    await page.getByText('No agents yet').waitFor();
  });

  it('deletes a fleet after confirmation', async () => {
    const { page } = s;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fleets' }).click();
    await page.getByRole('button', { name: 'Delete fleet Production' }).click();
    await page.getByRole('dialog', { name: /Delete fleet/ }).getByRole('button', { name: 'Delete fleet' }).click();
    await page.getByText('No fleets yet').waitFor();
  });

  it('logs out, refuses a wrong password, and logs in again', async () => {
    const { page } = s;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.goto(`${server.url}/#/agents`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await login(page, server.url, EMAIL, 'not-the-password-at-all');
    await page.getByText('The email or password is not right.').waitFor();
    await login(page, server.url, EMAIL, PASSWORD);
    await page.getByRole('heading', { name: 'Set up your encryption master key' }).waitFor();
  });

  it('never logged a secret, and the page broke no CSP rule', () => {
    assert.deepEqual(s.problems, []);
    const log = server.log();
    for (const secret of secretsSeen) assert.ok(!log.includes(secret), 'agent secret absent from the server log');
    assert.ok(!log.includes(PASSWORD), 'password absent from the server log');
  });
});
