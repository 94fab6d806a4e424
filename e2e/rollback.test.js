// The dashboard's rollback check (issue 8 item 15) against a hostile server:
// after version 2 was seen, playwright intercepts the agent's detail answer
// and serves the authentic version-1 answer captured earlier (or version 1's
// envelope under a "stored version 2" claim). The page must refuse and warn,
// never show the old values as current, and no save or restore may re-seal
// them: no config upload leaves the browser while the hostile answer is in place.
// A forged save answer (a far higher version) cannot raise the browser's record.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey, createAgent, randomToken,
} from './harness.js';

const PASSPHRASE = `amber lantern quiet frost ${randomToken(3)}`;
const OLD_KEY = `sk-ant-e2e-OLD-${randomToken(8)}`;
const NEW_KEY = `sk-ant-e2e-NEW-${randomToken(8)}`;

describe('rollback check against a hostile server', () => {
  let server;
  let browser;
  let s;
  let agentId;
  let oldAnswer;
  const uploads = [];
  const it = withScreenshots(nodeIt, () => [s?.page]);

  async function saveValue(page, value, version) {
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(value);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText(`Stored version ${version}`, { exact: false }).waitFor();
  }

  async function shownValues(page) {
    return page.locator('input, textarea').evaluateAll((els) => els.map((e) => e.value).join('\n'));
  }

  /** Serves `answer` instead of the server's for GET /api/agents/{id} (nothing else). */
  async function hostile(page, answer) {
    await page.route((url) => url.pathname === `/api/agents/${agentId}`, (route) => (
      route.request().method() === 'GET' ? route.fulfill({ json: answer }) : route.continue()));
  }

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    s.page.on('request', (r) => {
      if (r.method() === 'PUT' && r.url().endsWith('/config')) uploads.push(r.url());
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('saves version 1, captures its authentic answer, then saves version 2', async () => {
    const { page } = s;
    await registerFirstAccount(page, server.url, `rollback-${randomToken(4)}@example.com`, `account-pw-${randomToken(6)}`);
    await setUpMasterKey(page, PASSPHRASE);
    const made = await createAgent(page, { name: 'host-rb' });
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('link', { name: 'host-rb' }).click();
    agentId = page.url().split('/agents/')[1];
    await page.getByLabel('Name of variable 1').fill('ANTHROPIC_API_KEY');
    await saveValue(page, OLD_KEY, 1);
    oldAnswer = await page.evaluate(async (id) => (await fetch(`/api/agents/${id}`)).json(), agentId);
    assert.equal(oldAnswer.config_version, 1);
    assert.equal(oldAnswer.config.version, 1);
    await saveValue(page, NEW_KEY, 2);
    await page.reload();
    await page.getByText('Stored version 2', { exact: false }).waitFor();
    assert.equal(await page.getByLabel('Value of ANTHROPIC_API_KEY').inputValue(), NEW_KEY);
  });

  it('refuses and warns when the server replays the older authentic answer', async () => {
    const { page } = s;
    await hostile(page, oldAnswer);
    const before = uploads.length;
    await page.reload();
    const alert = page.getByRole('alert').filter({ hasText: 'possible rollback' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /older config than one you’ve already seen: possible rollback/);
    assert.match(await alert.innerText(), /version 1.*version 2/s);
    assert.equal(await page.getByRole('button', { name: 'Save config' }).count(), 0, 'no save offered over it');
    assert.ok(!(await shownValues(page)).includes(OLD_KEY), 'the old value is not shown');
    assert.ok(!(await page.locator('body').innerText()).includes(OLD_KEY));

    // A restore would re-seal content as "stored + 1" = 2, a version already seen: refused before any upload.
    const history = page.getByRole('region', { name: 'Config history' });
    await history.getByRole('button', { name: 'Restore version 2' }).click();
    await page.getByRole('dialog', { name: 'Restore version 2?' }).getByRole('button', { name: 'Restore version 2' }).click();
    await history.getByRole('alert').filter({ hasText: 'possible rollback' }).waitFor();
    assert.equal(uploads.length, before, 'nothing was re-sealed and uploaded');
    await page.unrouteAll();
  });

  it('refuses the old envelope under a "stored version 2" claim', async () => {
    const { page } = s;
    await hostile(page, { ...oldAnswer, config_version: 2 });
    await page.reload();
    const alert = page.getByRole('alert').filter({ hasText: 'possible rollback' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /older config \(version 1\) than the version it says it stores \(version 2\)/);
    assert.equal(await page.getByRole('button', { name: 'Save config' }).count(), 0);
    assert.ok(!(await shownValues(page)).includes(OLD_KEY));
    await page.unrouteAll();
  });

  it('shows the current version again once the server answers honestly, and saves version 3', async () => {
    const { page } = s;
    await page.unrouteAll();
    await page.reload();
    await page.getByText('Stored version 2', { exact: false }).waitFor();
    assert.equal(await page.getByLabel('Value of ANTHROPIC_API_KEY').inputValue(), NEW_KEY);
    await saveValue(page, `${NEW_KEY}-3`, 3);
    const seen = await page.evaluate((id) => Object.entries(localStorage).filter(([k]) => k.endsWith(id)), agentId);
    assert.deepEqual(seen.map(([, v]) => v), ['3'], 'the record holds the version only');
  });

  it('a hostile save answer cannot raise the record: it is refused and the next load still works', async () => {
    const { page } = s;
    await page.route((url) => url.pathname === `/api/agents/${agentId}/config`, async (route) => {
      const real = await route.fetch();
      await route.fulfill({ response: real, json: { config_version: 1000 } });
    });
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(`${NEW_KEY}-4`);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('The server says it stored version 1000 instead of 4.', { exact: false }).waitFor();
    await page.unrouteAll();
    const seen = await page.evaluate((id) => Object.entries(localStorage).filter(([k]) => k.endsWith(id)), agentId);
    assert.deepEqual(seen.map(([, v]) => v), ['3'], 'the unconfirmed answer did not move the record');
    await page.reload();
    await page.getByText('Stored version 4', { exact: false }).waitFor();
    assert.equal(await page.getByLabel('Value of ANTHROPIC_API_KEY').inputValue(), `${NEW_KEY}-4`);
  });

  it('broke no CSP rule and threw no error', () => {
    assert.deepEqual(s.problems, []);
  });
});
