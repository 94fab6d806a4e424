// Screens at desktop and phone width, light and dark: each main page is
// captured as a PNG (into a temp dir named in the output, for a human to look
// at) and checked for what breaks a page silently: horizontal overflow at
// 390/360 px, controls without an accessible name, CSP violations, and
// keyboard use of dialogs.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, login, createFleet, createAgent,
  handshake, heartbeat, randomToken,
} from './harness.js';

const EMAIL = `screens-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const PASSPHRASE = `lantern copper willow summit ${randomToken(3)}`;
const OUT = process.env.E2E_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'ocf-screens-'));

/** Interactive elements that a screen reader could not name. */
function unnamedControls(page) {
  return page.evaluate(() => {
    const named = (el) => {
      if (el.getAttribute('aria-label')?.trim()) return true;
      const by = el.getAttribute('aria-labelledby');
      if (by && by.split(' ').some((id) => document.getElementById(id)?.textContent.trim())) return true;
      if (el.labels && el.labels.length) return true;
      if (el.tagName === 'INPUT' && ['submit', 'button'].includes(el.type) && el.value) return true;
      return !!el.textContent.trim();
    };
    return [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea')]
      .filter((el) => el.offsetParent !== null && !el.closest('[aria-hidden="true"]') && !named(el))
      .map((el) => el.outerHTML.slice(0, 120));
  });
}

function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

describe('screens', () => {
  let server;
  let browser;
  let s;
  let agentId;
  const it = withScreenshots(nodeIt, () => [s?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    const { page } = s;
    await registerFirstAccount(page, server.url, EMAIL, PASSWORD);
    await page.getByLabel('Master key passphrase').fill(PASSPHRASE);
    await page.getByLabel('Type it again').fill(PASSPHRASE);
    await page.getByLabel(/If you lose this key/).check();
    await page.getByRole('button', { name: 'Set up master key' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await createFleet(page, 'Production');
    const made = await createAgent(page, { name: 'gpu-box-01', fleet: 'Production' });
    agentId = made.install.match(/OPENCLAW_FLEET_AGENT_ID='([0-9a-f-]{36})'/)[1];
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    const other = await createAgent(page, { name: 'edge-paris-with-a-rather-long-name', fleet: 'Production' });
    await other.dialog.getByRole('button', { name: 'Done' }).click();
    const hs = await handshake(server.url, agentId, made.agentSecret);
    for (const [cpu, mem, lat] of [[12, 40, 8], [18, 41, 11], [25, 42, 9], [21, 42, 14]]) {
      await heartbeat(server.url, hs.body.token, agentId, { cpu_usage: cpu, memory_usage: mem, latency_ms: lat, uptime_hours: 5 }, { version: '0.1.0' });
    }
    await page.getByRole('link', { name: 'gpu-box-01' }).click();
    await page.getByLabel('Name of variable 1').fill('ANTHROPIC_API_KEY');
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(`sk-ant-${randomToken(8)}`);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('Stored version 1', { exact: false }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const pages = [
    ['agents', '#/agents', 'Agents'],
    ['agent', () => `#/agents/${agentId}`, 'gpu-box-01'],
    ['fleets', '#/fleets', 'Fleets'],
    ['activity', '#/activity', 'Activity'],
    ['alerts', '#/alerts', 'Alerts'],
    ['settings', '#/settings', 'Settings'],
    ['config-change', '#/config-change', 'Change many configs'],
  ];

  for (const scheme of ['light', 'dark']) {
    for (const width of [1280, 390]) {
      it(`main pages at ${width} px (${scheme}) fit, name every control, and are captured`, async (t) => {
        const { page } = s;
        await page.emulateMedia({ colorScheme: scheme });
        await page.setViewportSize({ width, height: 860 });
        for (const [name, hash, heading] of pages) {
          await page.goto(`${server.url}/${typeof hash === 'function' ? hash() : hash}`);
          await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
          await page.locator('#toasts .toast').first().waitFor({ state: 'detached', timeout: 10000 });
          assert.ok(await overflow(page) <= 0, `${name}: no horizontal scrolling at ${width} px`);
          assert.deepEqual(await unnamedControls(page), [], `${name}: every control has a name`);
          await page.screenshot({ path: join(OUT, `${scheme}-${width}-${name}.png`), fullPage: true });
        }
        t.diagnostic(`screenshots in ${OUT}`);
      });
    }
  }

  it('fits a 360 px phone too', async () => {
    const { page } = s;
    await page.setViewportSize({ width: 360, height: 740 });
    for (const [name, hash, heading] of pages) {
      await page.goto(`${server.url}/${typeof hash === 'function' ? hash() : hash}`);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      assert.ok(await overflow(page) <= 0, `${name}: no horizontal scrolling at 360 px`);
    }
  });

  it('sign-in and unlock screens fit a phone and are captured', async () => {
    const fresh = await newPage(browser, { viewport: { width: 390, height: 844 } });
    await fresh.page.goto(`${server.url}/`);
    await fresh.page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.ok(await overflow(fresh.page) <= 0);
    await fresh.page.screenshot({ path: join(OUT, 'light-390-login.png'), fullPage: true });
    await login(fresh.page, server.url, EMAIL, PASSWORD);
    await fresh.page.getByRole('heading', { name: 'Unlock' }).waitFor();
    assert.ok(await overflow(fresh.page) <= 0);
    assert.deepEqual(await unnamedControls(fresh.page), []);
    await fresh.page.screenshot({ path: join(OUT, 'light-390-unlock.png'), fullPage: true });
    assert.deepEqual(fresh.problems, []);
    await fresh.context.close();
  });

  it('works by keyboard: skip link, and dialogs that take and give back focus', async () => {
    const { page } = s;
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto(`${server.url}/#/agents`);
    await page.reload();
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    const opener = page.getByRole('button', { name: 'New agent' });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New agent' });
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.labels?.[0]?.textContent), 'Name');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'New agent');
  });

  it('broke no CSP rule and threw no error', () => {
    assert.deepEqual(s.problems, []);
  });
});
