// Editing in place: an agent's name, fleet, policy profile and gateway URL on
// its page, and a fleet's name on the fleets page. A second tab of the same
// owner sees each change live (no reload), and the server refuses what it
// refuses at creation.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey, createFleet,
  createAgent, randomToken,
} from './harness.js';

const PASSPHRASE = `marble otter lantern quarry ${randomToken(3)}`;

describe('editing agents and fleets in place', () => {
  let server;
  let browser;
  let s;
  let watcher;
  let agentId;
  const it = withScreenshots(nodeIt, () => [s?.page, watcher?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    const { page } = s;
    await registerFirstAccount(page, server.url, `edit-${randomToken(4)}@example.com`, `account-pw-${randomToken(6)}`);
    await setUpMasterKey(page, PASSPHRASE);
    await createFleet(page, 'Alpha');
    await createFleet(page, 'Bravo');
    const made = await createAgent(page, { name: 'web-01', fleet: 'Alpha' });
    agentId = made.install.match(/OPENCLAW_FLEET_AGENT_ID='([0-9a-f-]{36})'/)[1];
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    // A second tab of the same session, on the agent list.
    watcher = { page: await s.context.newPage() };
    await watcher.page.goto(`${server.url}/#/agents`);
    await watcher.page.getByRole('link', { name: 'web-01' }).waitFor();
    await page.bringToFront();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('edits an agent on its page, and another tab sees it live', async () => {
    const { page } = s;
    await page.getByRole('link', { name: 'web-01' }).click();
    await page.getByRole('heading', { name: 'web-01', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit agent web-01' });
    await form.getByLabel('Name', { exact: true }).fill('web-one');
    await form.getByLabel('Fleet').selectOption({ label: 'Bravo' });
    await form.getByLabel('Policy profile').selectOption('exec');
    await form.getByLabel(/Gateway URL/).fill('https://gw.example.com:18789');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'web-one', level: 1 }).waitFor();
    const overview = page.getByRole('region', { name: 'Overview' });
    await overview.getByText('https://gw.example.com:18789').waitFor();
    await overview.getByRole('link', { name: 'Bravo' }).waitFor();
    await overview.getByText('every 60 s').waitFor();
    assert.equal(await page.title(), 'web-one · OpenClaw Fleet');

    const row = watcher.page.locator(`tr[data-id="${agentId}"]`);
    await row.getByRole('link', { name: 'web-one' }).waitFor();
    await row.getByText('Bravo').waitFor();

    const detail = await page.evaluate((id) => fetch(`/api/agents/${id}`).then((r) => r.json()), agentId);
    assert.equal(detail.name, 'web-one');
    assert.equal(detail.policy_profile, 'exec');
    assert.equal(detail.gateway_url, 'https://gw.example.com:18789');
  });

  it('clears the gateway URL and the fleet, and refuses what creation refuses', async () => {
    const { page } = s;
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit agent web-one' });
    await form.getByLabel(/Gateway URL/).fill('');
    await form.getByLabel('Fleet').selectOption({ label: 'No fleet' });
    await form.getByRole('button', { name: 'Save changes' }).click();
    const overview = page.getByRole('region', { name: 'Overview' });
    await overview.getByText('Default').waitFor();
    await overview.getByText('None').waitFor();

    // A name the server refuses (a control character slips past the browser's own check).
    await page.getByRole('button', { name: 'Edit' }).click();
    await form.getByLabel('Name', { exact: true }).fill('bad\u0007name');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.getByText('name must be 1 to 100 characters, without control characters').waitFor();
    await form.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'web-one', level: 1 }).waitFor();
  });

  it('renames a fleet in place; the agent list follows live', async () => {
    const { page } = s;
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit agent web-one' });
    await form.getByLabel('Fleet').selectOption({ label: 'Alpha' });
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('region', { name: 'Overview' }).getByRole('link', { name: 'Alpha' }).waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fleets' }).click();
    await page.getByRole('button', { name: 'Rename fleet Alpha' }).click();
    const name = page.getByLabel('New name for fleet Alpha');
    await name.fill('Bravo');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('A fleet named “Bravo” already exists.').waitFor();
    await name.fill('Production');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('link', { name: 'Production' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Alpha' }).count(), 0);

    await watcher.page.locator(`tr[data-id="${agentId}"]`).getByText('Production').waitFor();
    await watcher.page.getByLabel('Fleet').locator('option', { hasText: 'Production' }).waitFor({ state: 'attached' });
  });

  it('broke no CSP rule and threw no error', () => {
    assert.deepEqual(s.problems, []);
  });
});
