// Alerts in the dashboard: the owner creates a rule on the Alerts page (main
// navigation) pointing at a real webhook receiver in this test, sees the
// signing secret once, an agent reports an error over the real API, and the
// delivery shows in the log with the receiver's answer; the receiver checks
// the HMAC signature. The URL (a secret) is never shown again, the page and
// the answers it received hold neither it nor the signing secret.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey, createAgent,
  handshake, heartbeat, randomToken,
} from './harness.js';

const EMAIL = `alerts-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const HOOK_TOKEN = `hooktoken${randomToken(8)}`;
const PASSPHRASE = `copper lantern willow ember ${randomToken(3)}`;

/** A webhook receiver on 127.0.0.1: records every request. */
function startReceiver() {
  const hits = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      hits.push({ url: req.url, signature: req.headers['x-openclaw-fleet-signature'], body: Buffer.concat(chunks) });
      res.writeHead(200).end('ok');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    hits, url: `http://127.0.0.1:${server.address().port}`, close: () => server.close(),
  })));
}

function verify(hit, secret) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(hit.signature ?? '');
  if (!m) return false;
  const mac = createHmac('sha256', secret).update(`${m[1]}.`).update(hit.body).digest();
  return timingSafeEqual(mac, Buffer.from(m[2], 'hex')) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

describe('alerts', () => {
  let server;
  let receiver;
  let browser;
  let s;
  let secret;
  const answers = [];
  const it = withScreenshots(nodeIt, () => [s?.page]);

  before(async () => {
    receiver = await startReceiver();
    server = await startServer(['--alert-webhooks-allow-private']);
    browser = await launchBrowser();
    s = await newPage(browser);
    s.page.on('response', async (r) => {
      if (r.url().includes('/api/alerts')) answers.push(await r.text().catch(() => ''));
    });
    await registerFirstAccount(s.page, server.url, EMAIL, PASSWORD);
    await setUpMasterKey(s.page, PASSPHRASE);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    receiver?.close();
  });

  it('creates a rule and shows its signing secret once', async () => {
    const { page } = s;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
    await page.getByText('No rules yet').waitFor();
    const form = page.getByRole('form', { name: 'New alert rule' });
    await form.getByLabel('Rule name').fill('errors to ops');
    await form.getByLabel('When').selectOption('status_error');
    assert.equal(await form.getByLabel('Threshold (%)').isVisible(), false, 'no threshold for status errors');
    await form.getByLabel('Webhook URL').fill(`${receiver.url}/hook/${HOOK_TOKEN}`);
    await form.getByRole('button', { name: 'Create rule' }).click();
    const shown = page.getByRole('dialog', { name: 'Rule “errors to ops” created' });
    secret = await shown.getByLabel('Signing secret', { exact: true }).inputValue();
    assert.match(secret, /^ocf_whs_/);
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    const rules = page.getByRole('table', { name: 'Alert rules' });
    const row = rules.getByRole('row', { name: /errors to ops/ });
    await row.getByText('Status error').waitFor();
    await row.getByText('127.0.0.1').waitFor();
    assert.ok(!(await page.content()).includes(HOOK_TOKEN), 'the URL is not shown again');
  });

  it('lists the delivery of a notice the receiver verified', async () => {
    const { page } = s;
    const made = await createAgent(page, { name: 'web-7' });
    const agentId = made.install.match(/OPENCLAW_FLEET_AGENT_ID='([0-9a-f-]{36})'/)[1];
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    const hs = await handshake(server.url, agentId, made.agentSecret);
    assert.equal(hs.status, 200);
    const hb = await heartbeat(server.url, hs.body.token, agentId, { cpu_usage: 3 }, { status: 'error', error: 'gateway_unreachable' });
    assert.equal(hb.status, 200);
    for (let i = 0; i < 100 && receiver.hits.length === 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.equal(receiver.hits.length, 1, 'one notice');
    const hit = receiver.hits[0];
    assert.equal(hit.url, `/hook/${HOOK_TOKEN}`);
    assert.ok(verify(hit, secret), 'the signature verifies');
    assert.ok(!verify(hit, `${secret}x`), 'a wrong secret does not verify');
    const body = JSON.parse(hit.body);
    assert.equal(body.event, 'firing');
    assert.equal(body.agent.name, 'web-7');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
    const table = page.getByRole('table', { name: 'Deliveries' });
    const row = table.getByRole('row', { name: /errors to ops/ });
    await row.waitFor();
    await row.getByText('Firing').waitFor();
    await row.getByText('HTTP 200').waitFor();
    await row.getByRole('link', { name: 'web-7' }).waitFor();
  });

  it('pauses and deletes a rule; the activity log names the changes', async () => {
    const { page } = s;
    const rules = page.getByRole('table', { name: 'Alert rules' });
    await rules.getByRole('button', { name: 'Pause rule errors to ops' }).click();
    await rules.getByRole('row', { name: /errors to ops/ }).getByText('Paused').waitFor();
    await rules.getByRole('button', { name: 'Delete rule errors to ops' }).click();
    await page.getByRole('dialog', { name: 'Delete this rule?' }).getByRole('button', { name: 'Delete rule' }).click();
    await page.getByText('No rules yet').waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
    const table = page.getByRole('table', { name: 'Activity' });
    await table.getByRole('row', { name: /Deleted an alert rule/ }).waitFor();
    await table.getByRole('row', { name: /Edited an alert rule: enabled/ }).waitFor();
    await table.getByRole('row', { name: /Created an alert rule/ }).waitFor();
  });

  it('never shows or receives the URL or the secret afterwards', async () => {
    const received = answers.join('\n');
    assert.ok(answers.length >= 3, 'the alert answers were captured');
    const afterCreate = answers.filter((a) => !a.includes('signing_secret')).join('\n');
    assert.ok(!received.includes(HOOK_TOKEN), 'no URL in any answer');
    assert.ok(!afterCreate.includes(secret), 'the secret only in the creation answer');
    assert.ok(!(await s.page.content()).includes(secret));
    assert.ok(!server.log().includes(HOOK_TOKEN), 'no URL in the server log');
    assert.ok(!server.log().includes(secret), 'no secret in the server log');
    assert.deepEqual(s.problems, []);
  });
});
