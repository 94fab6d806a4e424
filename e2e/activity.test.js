// The activity log in the dashboard: after real actions (a failed sign-in from
// elsewhere, the master key set up, an agent created, renamed, its config
// saved, its secret rotated), the Activity page in the main navigation lists
// them newest first with time, what, object (linked to the agent), who and
// from where; "Load more" reads older pages; the agent page shows that
// agent's own entries. No value — secret, password, config value — appears on
// the page or in any answer the page received.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey, createAgent,
  randomToken,
} from './harness.js';

const EMAIL = `activity-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const WRONG = `wrong-pw-${randomToken(6)}`;
const PASSPHRASE = `quartz meadow falcon ember ${randomToken(3)}`;
const API_KEY = `sk-ant-activity-${randomToken(8)}`;

describe('activity log', () => {
  let server;
  let browser;
  let s;
  let agentId;
  const secrets = [];
  const answers = [];
  const it = withScreenshots(nodeIt, () => [s?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    const { page } = s;
    page.on('response', async (r) => {
      if (r.url().includes('/api/activity')) answers.push(await r.text().catch(() => ''));
    });
    await registerFirstAccount(page, server.url, EMAIL, PASSWORD);
    await setUpMasterKey(page, PASSPHRASE);
    // Someone elsewhere gets the password wrong, twice.
    for (let i = 0; i < 2; i += 1) {
      const r = await fetch(`${server.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: EMAIL, password: WRONG }),
      });
      assert.equal(r.status, 401);
    }
    const made = await createAgent(page, { name: 'db-01' });
    secrets.push(made.agentSecret, made.encryptionSecret);
    agentId = made.install.match(/OPENCLAW_FLEET_AGENT_ID='([0-9a-f-]{36})'/)[1];
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('link', { name: 'db-01' }).click();
    await page.getByRole('heading', { name: 'db-01', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit agent db-01' });
    await form.getByLabel('Name', { exact: true }).fill('db-primary');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'db-primary', level: 1 }).waitFor();
    await page.getByLabel('Name of variable 1').fill('ANTHROPIC_API_KEY');
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(API_KEY);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('Stored version 1', { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Rotate secret', exact: true }).click();
    await page.getByRole('dialog', { name: /Rotate the secret/ }).getByRole('button', { name: 'Rotate secret' }).click();
    const shown = page.getByRole('dialog', { name: /New secret for/ });
    secrets.push(await shown.getByLabel('Agent secret', { exact: true }).inputValue());
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists what happened, newest first, with the object linked', async () => {
    const { page } = s;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
    const table = page.getByRole('table', { name: 'Activity' });
    await table.getByRole('row', { name: /Rotated an agent secret/ }).waitFor();
    const whats = await table.locator('tbody th').allInnerTexts();
    assert.deepEqual(whats, [
      'Rotated an agent secret',
      'Saved a config: version 1',
      'Edited an agent: name',
      'Created an agent',
      'Failed sign-in × 2',
      'Set up the master key',
      'Signed in',
    ]);
    const created = table.getByRole('row', { name: /Created an agent/ });
    await created.getByText('this session').waitFor();
    await created.getByText('127.0.0.1').waitFor();
    // The name when it happened; the link goes to the agent as it is now.
    await created.getByRole('link', { name: 'db-01' }).waitFor();
    const failed = table.getByRole('row', { name: /Failed sign-in/ });
    await failed.getByText('not signed in').waitFor();
    await failed.getByText('your account').waitFor();
    await table.getByRole('row', { name: /Saved a config/ }).getByRole('link', { name: 'db-primary' }).click();
    await page.getByRole('heading', { name: 'db-primary', level: 1 }).waitFor();
  });

  it("shows the agent's own entries on its page", async () => {
    const { page } = s;
    const section = page.getByRole('region', { name: 'Recent activity' });
    const table = section.getByRole('table', { name: 'Activity of db-primary' });
    await table.getByRole('row', { name: /Rotated an agent secret/ }).waitFor();
    assert.deepEqual(await table.locator('tbody th').allInnerTexts(), [
      'Rotated an agent secret',
      'Saved a config: version 1',
      'Edited an agent: name',
      'Created an agent',
    ]);
    await section.getByRole('link', { name: 'All activity' }).click();
    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
  });

  it('loads older pages on demand', async () => {
    const { page } = s;
    // 60 more agents, made through the API as a script would.
    const made = await page.evaluate(async () => {
      const out = [];
      for (let i = 0; i < 60; i += 1) {
        const r = await fetch('/api/agents', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ name: `bulk-${i}` }),
        });
        out.push(r.status === 201 ? (await r.json()).agent_secret : `status ${r.status}`);
      }
      return out;
    });
    secrets.push(...made);
    assert.ok(made.every((x) => x.startsWith('ocf_as_')), made.find((x) => !x.startsWith('ocf_as_')));
    await page.getByRole('button', { name: 'Refresh' }).click();
    const table = page.getByRole('table', { name: 'Activity' });
    await table.getByRole('link', { name: 'bulk-59' }).waitFor();
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await table.getByRole('row', { name: /Signed in/ }).waitFor();
    assert.equal(await rows.count(), 67);
    await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'hidden' });
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first, no repeats');
    assert.equal(new Set(ids).size, ids.length);
  });

  it('never shows or receives a value', async () => {
    const { page } = s;
    const content = await page.content();
    const received = answers.join('\n');
    assert.ok(answers.length >= 4, 'the activity answers were captured');
    for (const value of [PASSWORD, WRONG, PASSPHRASE, API_KEY, ...secrets.filter(Boolean)]) {
      assert.ok(!content.includes(value), 'no value on the page');
      assert.ok(!received.includes(value), 'no value in an activity answer');
    }
    assert.ok(!received.includes('ocf_'), 'no secret-looking text at all');
    assert.deepEqual(s.problems, []);
  });
});
