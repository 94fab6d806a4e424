// Ed25519 agents end to end (spec/SPEC-identity.md): the dashboard offers
// Ed25519 by default and shows the one-time enrollment token with the install
// command; the real host agent, run with exactly that command's settings, makes
// its key pair, enrolls, goes online and applies the config saved in the
// browser. An HMAC agent is switched to Ed25519: its secret stops working at
// once, and the host is back after enrolling with the new token.

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  withScreenshots, cargoBinary, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey,
  createAgent, installEnv, randomToken,
} from './harness.js';

const PASSPHRASE = `cobalt willow ferry lantern ${randomToken(3)}`;
const MARKER = `sk-ant-e2e-ED25519-${randomToken(8)}`;
const KEY_FILE = '.fleet-agent-identity-key';

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

/** The `ocf_pk_` public key of an `ocf_ik_` identity key (Node's own Ed25519). */
function publicKeyOf(identityKey) {
  const seed = Buffer.from(identityKey.slice('ocf_ik_'.length), 'base64url');
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  return `ocf_pk_${jwk.x}`;
}

describe('Ed25519 agents: dashboard, enrollment and the real host agent', () => {
  let server;
  let browser;
  let s;
  let gateway;
  const dirs = [];
  let edAgent;
  let bin;
  const it = withScreenshots(nodeIt, () => [s?.page]);

  const stateDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'ocf-e2e-ed25519-'));
    dirs.push(d);
    return d;
  };
  const hostEnv = (env, dir) => ({
    PATH: process.env.PATH,
    HOME: dir,
    ...env,
    OPENCLAW_STATE_DIR: dir,
    OPENCLAW_GATEWAY_URL: `http://127.0.0.1:${gateway.address().port}`,
  });

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    gateway = createServer((_req, res) => res.end('ok'));
    await new Promise((r) => gateway.listen(0, '127.0.0.1', r));
    bin = cargoBinary('openclaw-fleet-agent', 'OPENCLAW_FLEET_AGENT_BIN');
  });

  after(async () => {
    gateway?.close();
    await browser?.close();
    await server?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('offers Ed25519 by default and shows the enrollment token once, in the install command', async () => {
    const { page } = s;
    await registerFirstAccount(page, server.url, `ed-${randomToken(4)}@example.com`, `account-pw-${randomToken(6)}`);
    await setUpMasterKey(page, PASSPHRASE);
    await page.getByRole('button', { name: 'New agent' }).click();
    const form = page.getByRole('dialog', { name: 'New agent' });
    assert.equal(await form.getByLabel(/^Ed25519 key pair/).isChecked(), true, 'Ed25519 is the default');
    assert.equal(await form.getByLabel(/^Shared secret \(HMAC\)/).isChecked(), false);
    await form.getByRole('button', { name: 'Cancel' }).click();

    edAgent = await createAgent(page, { name: 'ed-01', identity: 'ed25519' });
    assert.match(edAgent.enrollmentToken, /^ocf_et_[A-Za-z0-9_-]{43}$/);
    assert.equal(await edAgent.dialog.getByLabel('Agent secret', { exact: true }).count(), 0);
    await edAgent.dialog.getByText('This token is shown only now').waitFor();
    const env = installEnv(edAgent.install);
    assert.deepEqual(Object.keys(env).sort(), [
      'OPENCLAW_FLEET_AGENT_ID', 'OPENCLAW_FLEET_ENCRYPTION_SECRET', 'OPENCLAW_FLEET_ENROLLMENT_TOKEN', 'OPENCLAW_FLEET_URL',
    ]);
    assert.equal(env.OPENCLAW_FLEET_ENROLLMENT_TOKEN, edAgent.enrollmentToken);
    await edAgent.dialog.getByRole('button', { name: 'Done' }).click();

    await page.getByRole('link', { name: 'ed-01' }).click();
    await page.getByText('waiting for the host to enroll with its token').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Rotate secret', exact: true }).count(), 0);
    await page.getByRole('button', { name: 'New enrollment token' }).waitFor();
    await page.getByLabel('Name of variable 1').fill('ANTHROPIC_API_KEY');
    await page.getByLabel('Value of ANTHROPIC_API_KEY').fill(MARKER);
    await page.getByRole('button', { name: 'Save config' }).click();
    await page.getByText('agent applied none yet', { exact: false }).waitFor();
  });

  it('the agent run with the install command enrolls, goes online and writes its config', async () => {
    const { page } = s;
    const env = installEnv(edAgent.install);
    const dir = stateDir();
    const { code, out } = await runAgent(bin, hostEnv(env, dir));
    assert.equal(code, 0, out);
    const keyPath = join(dir, KEY_FILE);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600, 'the identity key is private to its owner');
    const identityKey = readFileSync(keyPath, 'utf8').trim();
    assert.match(identityKey, /^ocf_ik_[A-Za-z0-9_-]{43}$/);
    assert.ok(readFileSync(join(dir, '.env'), 'utf8').includes(MARKER), 'the agent wrote the decrypted value');

    // The dashboard shows the public key the host made, and the applied config, live.
    await page.getByText(publicKeyOf(identityKey)).waitFor({ timeout: 10000 });
    await page.getByText('Stored version 1 · agent applied version 1', { exact: false }).waitFor({ timeout: 10000 });
    await page.getByRole('heading', { name: 'ed-01', level: 1 }).locator('..').getByText('Healthy').waitFor();

    const stored = server.dataBytes();
    const seed = identityKey.slice('ocf_ik_'.length);
    for (const secret of [identityKey, seed, edAgent.enrollmentToken, MARKER]) {
      assert.ok(!stored.includes(secret), 'the database holds neither the key, the token nor the config');
      assert.ok(!server.log().includes(secret), 'the server log holds no secret');
      assert.ok(!out.includes(secret), 'the agent log holds no secret');
    }

    // Restarted, the agent handshakes with its key and does not present the spent token again.
    const again = await runAgent(bin, hostEnv(env, dir));
    assert.equal(again.code, 0, again.out);
    // Another host (another key pair) cannot use the spent token.
    const thief = await runAgent(bin, hostEnv(env, stateDir()));
    assert.notEqual(thief.code, 0, 'a spent enrollment token enrolls nothing');
    await page.getByText(publicKeyOf(identityKey)).waitFor();
  });

  it('switches an HMAC agent to Ed25519: cut off at once, back after enrolling', async () => {
    const { page } = s;
    const made = await createAgent(page, { name: 'hmac-01' });
    assert.match(made.agentSecret, /^ocf_as_/);
    await made.dialog.getByRole('button', { name: 'Done' }).click();
    const dir = stateDir();
    const oldEnv = installEnv(made.install);
    const first = await runAgent(bin, hostEnv(oldEnv, dir));
    assert.equal(first.code, 0, first.out);

    await page.getByRole('link', { name: 'hmac-01' }).click();
    await page.getByText('Shared secret (HMAC)').waitFor();
    await page.getByRole('button', { name: 'Switch to Ed25519' }).click();
    const confirm = page.getByRole('dialog', { name: 'Switch “hmac-01” to Ed25519?' });
    await confirm.getByText('the host is cut off until it enrolls', { exact: false }).waitFor();
    await confirm.getByRole('button', { name: 'Switch to Ed25519' }).click();
    const shown = page.getByRole('dialog', { name: '“hmac-01” switched to Ed25519' });
    const token = await shown.getByLabel('Enrollment token', { exact: true }).inputValue();
    assert.match(token, /^ocf_et_/);
    const newEnv = installEnv(await shown.getByLabel('Install command', { exact: true }).inputValue());
    assert.equal(newEnv.OPENCLAW_FLEET_ENROLLMENT_TOKEN, token);
    assert.equal(newEnv.OPENCLAW_FLEET_ENCRYPTION_SECRET, oldEnv.OPENCLAW_FLEET_ENCRYPTION_SECRET,
      'unlocked, the command keeps the host\'s encryption secret');
    assert.ok(!('OPENCLAW_FLEET_AGENT_SECRET' in newEnv));
    await shown.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'New enrollment token' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Rotate secret', exact: true }).count(), 0);

    const cut = await runAgent(bin, hostEnv(oldEnv, dir));
    assert.notEqual(cut.code, 0, 'the HMAC secret no longer works');
    const back = await runAgent(bin, hostEnv(newEnv, dir));
    assert.equal(back.code, 0, back.out);
    const identityKey = readFileSync(join(dir, KEY_FILE), 'utf8').trim();
    await page.getByText(publicKeyOf(identityKey)).waitFor({ timeout: 10000 });
    assert.ok(!server.dataBytes().includes(made.agentSecret), 'the old secret is not stored in plaintext');
  });

  it('broke no CSP rule and threw no error', () => {
    assert.deepEqual(s.problems, []);
  });
});
