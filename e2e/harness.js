// Shared set-up for the browser tests: builds and starts the REAL server
// binary on 127.0.0.1:0 with a fresh data directory, launches the system
// Chromium through playwright-core (no browser download), and offers a few
// helpers that drive the dashboard the way a user does (roles and labels).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** The binary of a workspace package: from `envVar` if set, else built with cargo. */
export function cargoBinary(pkg, envVar) {
  if (process.env[envVar]) return process.env[envVar];
  const built = spawnSync('cargo', ['build', '-p', pkg], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error(`cargo build -p ${pkg} failed`);
  return join(ROOT, 'target', 'debug', pkg);
}

const serverBinary = () => cargoBinary('openclaw-fleet', 'OPENCLAW_FLEET_BIN');

/**
 * Starts `openclaw-fleet serve` and resolves once it logs `listening on http://ADDR`.
 * `dataDir` and `listen` restart a server on an earlier one's data and address.
 */
export async function startServer(extraArgs = [], { dataDir: reuse, listen = '127.0.0.1:0' } = {}) {
  const bin = serverBinary();
  const dataDir = reuse ?? mkdtempSync(join(tmpdir(), 'ocf-e2e-data-'));
  const child = spawn(bin, ['serve', '--listen', listen, '--data-dir', dataDir, ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start within 60 s:\n${log}`)), 60000);
    const onData = (chunk) => {
      log += chunk.toString();
      const m = log.match(/listening on (http:\/\/[^\s"']+)/);
      if (m) {
        clearTimeout(timer);
        res(m[1].replace(/\/$/, ''));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  child.stdout.on('data', (c) => { log += c.toString(); });
  child.stderr.on('data', (c) => { log += c.toString(); });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return {
    url,
    dataDir,
    listen: new URL(url).host,
    log: () => log,
    /**
     * Sends SIGTERM and resolves with the exit {code, signal, ms}; keeps the data. A
     * server still running after `killAfterMs` is killed (and reports SIGKILL).
     */
    async terminate({ killAfterMs = 15000 } = {}) {
      const started = Date.now();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      const exit = await exited;
      clearTimeout(timer);
      return { ...exit, ms: Date.now() - started };
    },
    /** Every byte the server wrote under its data directory, as latin1 text (for leak checks). */
    dataBytes() {
      const walk = (d) => readdirSync(d).flatMap((n) => {
        const p = join(d, n);
        return statSync(p).isDirectory() ? walk(p) : [readFileSync(p).toString('latin1')];
      });
      return walk(dataDir).join('\n');
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    // CHROMIUM_EXTRA_ARGS (space-separated), e.g. the benchmarks' `--disable-gpu-vsync
    // --disable-frame-rate-limit` to time frames without the wait for the next vsync.
    args: [...CHROMIUM_ARGS, ...(process.env.CHROMIUM_EXTRA_ARGS ?? '').split(' ').filter(Boolean)],
  });
}

/**
 * A new page that records what must never happen: uncaught errors and CSP
 * violations (which would mean the app relies on something the server's
 * policy forbids). Also records every request body sent to the server.
 */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...opts });
  const page = await context.newPage();
  const problems = [];
  const bodies = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
  });
  page.on('request', (r) => {
    bodies.push(`${r.method()} ${r.url()}\n${r.postData() ?? ''}`);
  });
  return { context, page, problems, bodies };
}

export function randomToken(n = 10) {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Storage of the page (local and session) as one string, for "never stored" checks. */
export async function storageDump(page) {
  return page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }));
}

// ------------------------------------------------------------------ flows

export async function registerFirstAccount(page, url, email, password) {
  await page.goto(`${url}/`);
  await page.getByRole('heading', { name: 'Create the first account' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password').fill(password);
  await page.getByRole('button', { name: 'Create account and sign in' }).click();
}

/** On the set-up screen: passphrase twice, the acknowledgement, submit; lands on Agents. */
export async function setUpMasterKey(page, passphrase) {
  await page.getByRole('heading', { name: 'Set up your encryption master key' }).waitFor();
  await page.getByLabel('Master key passphrase').fill(passphrase);
  await page.getByLabel('Type it again').fill(passphrase);
  await page.getByLabel(/If you lose this key/).check();
  await page.getByRole('button', { name: 'Set up master key' }).click();
  await page.getByRole('heading', { name: 'Agents' }).waitFor();
}

/** NAME='value' pairs of an install command, as an environment object. */
export function installEnv(command) {
  const env = {};
  for (const m of command.matchAll(/^([A-Z_]+)='([^']*)'(?: \\)?$/gm)) env[m[1]] = m[2];
  return env;
}

export async function login(page, url, email, password) {
  await page.goto(`${url}/#/login`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function createFleet(page, name) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Fleets' }).click();
  await page.getByLabel('New fleet name').fill(name);
  await page.getByRole('button', { name: 'Create fleet' }).click();
  await page.getByRole('link', { name }).waitFor();
}

/**
 * Creates an agent from the list page; returns the open "created" dialog's values. `identity`
 * picks the radio: 'hmac' (an agent secret) unless 'ed25519' (an enrollment token, the
 * dialog's default) is asked for.
 */
export async function createAgent(page, { name, fleet, identity = 'hmac' }) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Agents' }).click();
  await page.getByRole('button', { name: 'New agent' }).click();
  const form = page.getByRole('dialog', { name: 'New agent' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  if (fleet) await form.getByLabel('Fleet').selectOption({ label: fleet });
  await form.getByLabel(identity === 'ed25519' ? /^Ed25519 key pair/ : /^Shared secret \(HMAC\)/).check();
  await form.getByRole('button', { name: 'Create agent' }).click();
  const shown = page.getByRole('dialog', { name: `Agent “${name}” created` });
  await shown.waitFor();
  const es = shown.getByLabel('Encryption secret', { exact: true });
  const credential = shown.getByLabel(identity === 'ed25519' ? 'Enrollment token' : 'Agent secret', { exact: true });
  return {
    dialog: shown,
    agentSecret: identity === 'ed25519' ? null : await credential.inputValue(),
    enrollmentToken: identity === 'ed25519' ? await credential.inputValue() : null,
    encryptionSecret: (await es.count()) ? await es.inputValue() : null,
    install: await shown.getByLabel('Install command', { exact: true }).inputValue(),
  };
}

// ------------------------------------------------------- host side (SPEC §2-3)

/** Signs and sends a handshake as the agent host would; returns {status, body}. */
export async function handshake(url, agentId, agentSecret) {
  const { signHandshake } = await import('../web/js/crypto.js');
  const ts = Math.floor(Date.now() / 1000);
  const signature = await signHandshake(agentId, ts, agentSecret);
  const res = await fetch(`${url}/api/agents/handshake`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ agent_id: agentId, timestamp: String(ts), signature }),
  });
  return { status: res.status, body: await res.json() };
}

export async function heartbeat(url, token, agentId, metrics, extra = {}) {
  const res = await fetch(`${url}/api/heartbeat`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ agent_id: agentId, status: 'healthy', metrics, ...extra }),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Wraps node:test's `it` so that a failing step leaves screenshots of the
 * given pages (in a temp dir, named in the failure output) for diagnosis.
 */
export function withScreenshots(it, pages) {
  return (name, fn) => it(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const dir = mkdtempSync(join(tmpdir(), 'ocf-e2e-failure-'));
      for (const [i, p] of pages().filter(Boolean).entries()) {
        await p.screenshot({ path: join(dir, `page-${i}.png`), fullPage: true }).catch(() => {});
      }
      e.message = `${e.message}\n(screenshots in ${dir})`;
      throw e;
    }
  });
}
