// Benchmark: a fleet-wide config change of AGENTS agents (default 1000) made
// in the dashboard, in headless Chromium against the real server. Provisions
// the agents through the owner API (each with a wrapped encryption secret and
// a first config), then times "Change configs" rotating ANTHROPIC_API_KEY on
// the whole fleet, from the confirming click to "N of N done". Baseline in the
// same run: the same per-agent work one agent at a time (concurrency 1) on a
// sample of the agents. Prints the figures; target ≤ 30 s for 1000 agents.
//
//   node e2e/bench/bulk-config.mjs [AGENTS] [SAMPLE]
//   OPENCLAW_FLEET_BIN=target/release/openclaw-fleet node e2e/bench/bulk-config.mjs

import { cpus, loadavg } from 'node:os';
import {
  startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey, randomToken,
} from '../harness.js';
import { createFleetApi, ownerSession, pool, provisionAgent, unlockedKey } from '../provision.js';

const AGENTS = Number(process.argv[2] ?? 1000);
const SAMPLE = Math.min(AGENTS, Number(process.argv[3] ?? 50));
const EMAIL = `bench-${randomToken(4)}@example.com`;
const PASSWORD = `account-pw-${randomToken(6)}`;
const PASSPHRASE = `bench orbit lantern cedar ${randomToken(3)}`;

const server = await startServer();
const browser = await launchBrowser();
try {
  const { page, problems } = await newPage(browser);
  await registerFirstAccount(page, server.url, EMAIL, PASSWORD);
  await setUpMasterKey(page, PASSPHRASE);
  const { api, user } = await ownerSession(server.url, EMAIL, PASSWORD);
  const key = { ...(await unlockedKey(api, PASSPHRASE)), userId: user.id };
  const fleet = await createFleetApi(api, 'bench');

  let t = performance.now();
  const names = Array.from({ length: AGENTS }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
  const made = await pool(names, 16, (name) => provisionAgent(api, {
    name, fleetId: fleet.id, key, doc: { schema: 1, env: { ANTHROPIC_API_KEY: `old-${randomToken(4)}`, OTHER: 'x' }, openclaw: {} },
  }));
  console.log(`provisioned ${made.length} agents (wrapped secret + config v1) through the API in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // Baseline: the same per-agent work, one agent at a time, on a sample; then the
  // same engine at the page's concurrency without the page (no DOM updates).
  const sample = made.slice(0, SAMPLE).map((a) => a.id);
  const engine = (ids, concurrency) => page.evaluate(async ({ ids, userId, concurrency }) => {
    const api = await import('/js/api.js');
    const { wrapKey } = await import('/js/keystore.js');
    const { changeMany } = await import('/js/bulk-config.js');
    const started = performance.now();
    const results = await changeMany(ids, { set_env: { BASELINE: 'y' } }, {
      api: { get: (id) => api.agents.get(id), putConfig: (id, env) => api.agents.putConfig(id, env) },
      wrapKey: await wrapKey(userId), userId,
    }, { concurrency });
    return { ms: performance.now() - started, applied: [...results.values()].filter((r) => r.state === 'applied').length };
  }, { ids, userId: user.id, concurrency });
  const baseline = await engine(sample, 1);
  if (baseline.applied !== SAMPLE) throw new Error(`baseline applied ${baseline.applied} of ${SAMPLE}`);
  const perAgentSeq = baseline.ms / SAMPLE;
  const parallelIds = made.slice(SAMPLE, SAMPLE * 5).map((a) => a.id);
  const parallel = await engine(parallelIds, 8);
  const perAgentPar = parallel.ms / parallelIds.length;

  await page.goto(`${server.url}/#/config-change?fleet=${fleet.id}`);
  await page.getByText(`${AGENTS} of ${AGENTS} agents selected`).waitFor({ timeout: 120000 });
  await page.getByLabel('Variable to set, setting 1').fill('ANTHROPIC_API_KEY');
  await page.getByLabel('New value for ANTHROPIC_API_KEY').fill(`sk-ant-bench-${randomToken(8)}`);
  await page.getByRole('button', { name: `Apply to ${AGENTS} agents` }).click();
  const confirm = page.getByRole('dialog').getByRole('button', { name: 'Apply change' });
  await confirm.waitFor();
  t = performance.now();
  await confirm.click();
  await page.getByText(`${AGENTS} of ${AGENTS} done in`, { exact: false }).waitFor({ timeout: 600000 });
  const wall = (performance.now() - t) / 1000;
  const totals = await page.getByRole('status').filter({ hasText: 'applied' }).innerText();
  if (totals !== `${AGENTS} applied`) throw new Error(`not all applied: ${totals}`);
  if (problems.length) throw new Error(problems.join('\n'));

  const perAgent = (wall * 1000) / AGENTS;
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`baseline, one agent at a time (${SAMPLE} agents): ${perAgentSeq.toFixed(1)} ms per agent → ${((perAgentSeq * AGENTS) / 1000).toFixed(1)} s for ${AGENTS}`);
  console.log(`the same engine, 8 at a time, no page updates (${parallelIds.length} agents): ${perAgentPar.toFixed(1)} ms per agent`);
  console.log(`dashboard "Change configs", ${AGENTS} agents: ${wall.toFixed(1)} s (${perAgent.toFixed(1)} ms per agent; target ≤ 30 s) → ${totals}`);
  console.log(`ratio vs one at a time: ${(perAgent / perAgentSeq).toFixed(2)} (${(perAgentSeq / perAgent).toFixed(1)}× faster)`);
} finally {
  await browser.close();
  await server.stop();
}
