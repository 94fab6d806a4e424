// Settings → account, in Chromium against the real server: the page says that
// a password change does not touch the master key or configs; sessions are
// listed (this one marked, another browser's shown with its user agent) and
// another can be ended, which signs that browser out; a password change needs
// the current password, signs every other session out, and only the new
// password logs in afterwards.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, login, randomToken,
} from './harness.js';

const EMAIL = `account-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const NEW_PASSWORD = `changed-pw-${randomToken(6)}`;
const OTHER_UA = `OtherBrowser/${randomToken(3)}`;

async function openSettings(page) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();
}

describe('account settings', () => {
  let server;
  let browser;
  let s;
  let other;
  const it = withScreenshots(nodeIt, () => [s?.page, other?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    other = await newPage(browser, { userAgent: OTHER_UA });
    await registerFirstAccount(s.page, server.url, EMAIL, PASSWORD);
    await s.page.getByRole('heading', { name: 'Set up your encryption master key' }).waitFor();
    await s.page.getByRole('link', { name: 'Not now' }).click();
    await s.page.getByRole('heading', { name: 'Agents' }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('says a password change leaves the master key and configs alone', async () => {
    await openSettings(s.page);
    await s.page.getByText(/does not touch your master key or any config/).waitFor();
    await s.page.getByRole('heading', { name: 'Sign-in password' }).waitFor();
  });

  it('lists sessions, marks this one, and ends another browser’s', async () => {
    await login(other.page, server.url, EMAIL, PASSWORD);
    await other.page.getByRole('heading', { name: /Agents|Set up your encryption master key/ }).first().waitFor();
    await s.page.reload();
    await s.page.getByRole('heading', { name: 'Sessions' }).waitFor();
    const list = s.page.getByRole('list', { name: 'Sessions' });
    await list.getByText(OTHER_UA).waitFor();
    assert.equal(await list.getByRole('listitem').count(), 2);
    const mine = list.locator('li[aria-current="true"]');
    await mine.getByText('This session').waitFor();
    assert.equal(await mine.getByRole('button').count(), 0, 'this session has no End button');
    const body = await s.page.locator('main').innerText();
    assert.ok(!/ocf_st_/.test(body), 'a session token is shown');

    await list.getByRole('button', { name: new RegExp(`End session: ${OTHER_UA}`) }).click();
    const confirm = s.page.getByRole('dialog', { name: 'End this session?' });
    await confirm.getByRole('button', { name: 'End session' }).click();
    await s.page.getByText('Session ended.').waitFor();
    await list.getByText(OTHER_UA).waitFor({ state: 'detached' });
    assert.equal(await list.getByRole('listitem').count(), 1);

    // The other browser is signed out at its next request.
    await other.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fleets' }).click().catch(() => {});
    await other.page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('needs the current password, then signs every other session out', async () => {
    await login(other.page, server.url, EMAIL, PASSWORD);
    await other.page.getByRole('heading', { name: /Agents|Set up your encryption master key/ }).first().waitFor();
    const { page } = s;
    await page.reload();
    const form = page.getByRole('form', { name: 'Change password' });
    await form.getByLabel('Current password').fill('not the password at all');
    await form.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await form.getByLabel('Type the new password again').fill(NEW_PASSWORD);
    await form.getByRole('button', { name: 'Change password' }).click();
    await form.getByText('That is not your current password.').waitFor();

    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed. 1 other session was signed out.').waitFor();
    assert.equal(await form.getByLabel('Current password').inputValue(), '');
    await page.getByRole('list', { name: 'Sessions' }).getByText(OTHER_UA).waitFor({ state: 'detached' });

    await other.page.reload();
    await other.page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await login(other.page, server.url, EMAIL, PASSWORD);
    await other.page.getByRole('alert').getByText('The email or password is not right.').waitFor();
    await login(other.page, server.url, EMAIL, NEW_PASSWORD);
    await other.page.getByRole('heading', { name: /Agents|Set up your encryption master key/ }).first().waitFor();
    assert.deepEqual([...s.problems, ...other.problems], []);
  });
});
