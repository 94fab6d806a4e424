// The agent list page rendered by the dashboard in Chromium at 100 000 agents: starts the
// agent_list benchmark (which seeds the agents and measures the API), then, while it
// serves, opens the Agents page with each filter/search/sort and times from the URL
// change to the table showing its rows (the page's API calls, its counts and the DOM
// work), timed inside the page, plus the Next button (a keyset page). Prints p50/p95 per
// view. Not a test.
//
//   node e2e/bench/agent-list-render.mjs [sqlite|postgres] [AGENTS] [ROUNDS]
//
// AGENT_LIST_BENCH=path runs that built benchmark binary instead of `cargo bench` (e.g. a
// copy built from another commit, to compare two builds in the same run).

import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, newPage, login, setUpMasterKey } from '../harness.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [backend = 'sqlite', agents = '100000', roundsArg = '20'] = process.argv.slice(2);
const rounds = Number(roundsArg);

const args = [backend, agents, '20'];
const [cmd, cmdArgs] = process.env.AGENT_LIST_BENCH
  ? [process.env.AGENT_LIST_BENCH, args]
  : ['cargo', ['bench', '-p', 'openclaw-fleet', '--bench', 'agent_list', '--', ...args]];
const bench = spawn(cmd, cmdArgs, {
  cwd: ROOT, env: { ...process.env, OPENCLAW_FLEET_BENCH_SERVE: '600' }, stdio: ['pipe', 'pipe', 'inherit'],
});
const serving = await new Promise((res, rej) => {
  let out = '';
  bench.stdout.on('data', (c) => {
    out += c.toString();
    const m = out.match(/^SERVING (\S+) (\S+) (.+) (\S+)$/m);
    if (m) res({ url: m[1], email: m[2], password: m[3], fleet: m[4] });
  });
  bench.on('exit', (code) => rej(new Error(`benchmark exited with ${code}:\n${out}`)));
  bench.stdout.pipe(process.stderr); // its API figures, as it prints them
});

// In the page: from the hash change to the table's rows and the counts shown.
function renderTime(hash) {
  const t = performance.now();
  const shown = () => document.querySelector('table.agents tbody tr') && document.querySelector('.status-counts .chip');
  return new Promise((res) => {
    const seen = new MutationObserver(() => {
      if (shown()) { seen.disconnect(); res(performance.now() - t); }
    });
    seen.observe(document.body, { childList: true, subtree: true });
    location.hash = hash;
  });
}

const pct = (v, p) => [...v].sort((a, b) => a - b)[Math.max(0, Math.ceil(v.length * p) - 1)];
const browser = await launchBrowser();
try {
  const { page } = await newPage(browser);
  await login(page, serving.url, serving.email, serving.password);
  await setUpMasterKey(page, 'bench master key passphrase, long enough');
  const views = [
    ['all, oldest first', ''],
    ['all, newest first', 'sort=-created'],
    ['by name', 'sort=name'],
    ['seen most recently', 'sort=-last_seen'],
    ['status=error', 'status=error'],
    ['status=offline by name', 'status=offline&sort=name'],
    ['fleet', `fleet=${serving.fleet}`],
    ['fleet + status=error', `fleet=${serving.fleet}&status=error`],
    ['search "web-00"', 'q=web-00'],
  ];
  console.log(`${'view'.padEnd(26)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}   (${rounds} renders each, ${backend}, ${agents} agents)`);
  for (const [label, query] of [...views, ['next page (keyset)', null]]) {
    const times = [];
    for (let i = 0; i < rounds; i += 1) {
      if (query === null) {
        await page.goto(`${serving.url}/#/agents`);
        await page.locator('table.agents tbody tr').first().waitFor();
        const first = await page.locator('table.agents tbody tr').first().getAttribute('data-id');
        times.push(Math.round(await page.evaluate((id) => new Promise((res) => {
          const t = performance.now();
          const seen = new MutationObserver(() => {
            const r = document.querySelector('table.agents tbody tr');
            if (r && r.dataset.id !== id) { seen.disconnect(); res(performance.now() - t); }
          });
          seen.observe(document.body, { childList: true, subtree: true });
          [...document.querySelectorAll('nav.pager button')].find((b) => b.textContent.includes('Next')).click();
        }), first)));
        continue;
      }
      await page.goto(`${serving.url}/#/fleets`);
      await page.getByRole('heading', { name: 'Fleets' }).waitFor();
      // Timed inside the page (the automation's own round trips are not the dashboard's).
      times.push(Math.round(await page.evaluate(renderTime, `#/agents${query ? `?${query}` : ''}`)));
    }
    console.log(`${label.padEnd(26)} ${String(pct(times, 0.5)).padStart(8)} ${String(pct(times, 0.95)).padStart(8)}`);
  }
} finally {
  await browser.close();
  bench.stdin.end(); // the benchmark stops its server and exits
}
