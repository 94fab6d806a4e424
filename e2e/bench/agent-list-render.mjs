// The agent list page rendered by the dashboard in Chromium at 100 000 agents: starts the
// agent_list benchmark (which seeds the agents and measures the API), then, while it
// serves, times each view from the URL change to the table showing its rows and the status
// counts (the page's API calls, their answers and the DOM work), inside the page:
//
// - "open …": the Agents page opened from the Fleets page with a filter/search/sort in its
//   URL (location.hash set; t = 0 there);
// - "in page: …": on the open Agents page, the status filter, the sort, the search box (t = 0
//   at the URL change, i.e. after the search box's 250 ms typing pause) and the Next button
//   (a keyset page; t = 0 at the click);
//
// up to the moment the new rows and counts are in the document (a MutationObserver: "dom"),
// to the end of their style and layout, forced at once there ("layout": the page's work
// without the wait for a frame), and to the end of the next frame the browser draws after
// them (a requestAnimationFrame, then a task after it: "frame", which includes the wait for
// the next vsync, up to 16.7 ms at 60 Hz; CHROMIUM_EXTRA_ARGS='--disable-gpu-vsync
// --disable-frame-rate-limit' takes that wait out). Prints p50/p95 per view. Not a test.
//
//   node e2e/bench/agent-list-render.mjs [sqlite|postgres] [AGENTS] [ROUNDS]
//
// AGENT_LIST_BENCH=path runs that built benchmark binary instead of `cargo bench` (e.g. a
// copy built from another commit). AGENT_LIST_BENCH=pathA,pathB runs both, each seeding and
// serving its own database, and alternates them round by round in one browser (A, B, A,
// B…: the same load on both), printing each one's figures and B/A; each build is named by
// its binary's directory.
// AGENT_LIST_WEB=dirA,dirB compares two dashboards on ONE server instead: two pages, each
// given the dashboard's files (index.html, js/, css/) from its directory (e.g. main's web/
// from `git archive`) by DevTools request interception of those files only, at page load;
// the API calls are not intercepted. A, B, A, B… as above; each named by its directory.

import { spawn } from 'node:child_process';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, newPage, login, setUpMasterKey } from '../harness.js';
import { dashboardFrom } from './dashboard-from.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [backend = 'sqlite', agents = '100000', roundsArg = '20'] = process.argv.slice(2);
const rounds = Number(roundsArg);

// The API benchmark's requests per combination before it serves (AGENT_LIST_REQUESTS: fewer
// to reach the browser measure sooner).
const args = [backend, agents, process.env.AGENT_LIST_REQUESTS ?? '20'];
const builds = process.env.AGENT_LIST_BENCH
  ? process.env.AGENT_LIST_BENCH.split(',').map((bin) => ({ name: basename(dirname(bin)), cmd: bin, cmdArgs: args }))
  : [{ name: 'this tree', cmd: 'cargo', cmdArgs: ['bench', '-p', 'openclaw-fleet', '--bench', 'agent_list', '--', ...args] }];

const webDirs = process.env.AGENT_LIST_WEB?.split(',') ?? [];
if (webDirs.length) builds.splice(1);

const benches = []; // every benchmark started, told to stop at the end

/** Starts one build's benchmark; resolves with its server's URL and login once it serves. */
function serve(build) {
  const bench = spawn(build.cmd, build.cmdArgs, {
    cwd: ROOT, env: { ...process.env, OPENCLAW_FLEET_BENCH_SERVE: '1800' }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  benches.push(bench);
  return new Promise((res, rej) => {
    let out = '';
    bench.stdout.on('data', (c) => {
      out += c.toString();
      const m = out.match(/^SERVING (\S+) (\S+) (.+) (\S+)$/m);
      if (m) res({ url: m[1], email: m[2], password: m[3], fleet: m[4] });
    });
    bench.on('exit', (code) => rej(new Error(`benchmark exited with ${code}:\n${out}`)));
    bench.stdout.on('data', (c) => process.stderr.write(`[${build.name}] ${c}`)); // its API figures
  });
}

// In the page. Resolves with [ms to the rows and counts in the document, ms to the end of
// the next frame], from `start()` (which changes the URL or clicks) or, with
// `fromUrlChange`, from the moment the view changes the URL itself (history.replaceState).
function timed([kind, arg]) {
  const rowsNow = () => document.querySelector('table.agents tbody tr');
  const chipNow = () => document.querySelector('.status-counts .chip');
  const [row0, chip0] = [rowsNow(), chipNow()];
  const shown = () => {
    const [row, chip] = [rowsNow(), chipNow()];
    return row && chip && row !== row0 && chip !== chip0 && (kind !== 'next' || row.dataset.id !== row0.dataset.id);
  };
  return new Promise((res) => {
    let t = performance.now();
    const replace = history.replaceState;
    if (kind === 'search') {
      history.replaceState = function urlChanged(...a) {
        t = performance.now();
        history.replaceState = replace;
        return replace.apply(this, a);
      };
    }
    const seen = new MutationObserver(() => {
      if (!shown()) return;
      seen.disconnect();
      const inDom = performance.now() - t;
      void document.body.offsetHeight; // style and layout now, not at the frame
      const laidOut = performance.now() - t;
      requestAnimationFrame(() => setTimeout(() => res([inDom, laidOut, performance.now() - t]), 0));
    });
    seen.observe(document.body, { childList: true, subtree: true });
    const label = (name) => [...document.querySelectorAll('label')].find((l) => l.textContent === name)?.control;
    if (kind === 'open') location.hash = arg;
    else if (kind === 'next') [...document.querySelectorAll('nav.pager button')].find((b) => b.textContent.includes('Next')).click();
    else if (kind === 'search') {
      const box = label('Search');
      box.value = arg;
      box.dispatchEvent(new Event('input', { bubbles: true }));
    } else {
      const sel = label(kind === 'status' ? 'Status' : 'Sort');
      t = performance.now();
      sel.value = arg;
      sel.dispatchEvent(new Event('change', { bubbles: true }));
    }
  });
}

const pct = (v, p) => [...v].sort((a, b) => a - b)[Math.max(0, Math.ceil(v.length * p) - 1)];
const browser = await launchBrowser();
try {
  let servers = await Promise.all(builds.map(serve));
  if (webDirs.length) {
    servers = webDirs.map(() => servers[0]);
    builds.splice(0, 1, ...webDirs.map((d) => ({ name: basename(resolve(d, '..')) })));
  }
  const pages = [];
  for (const [i, s] of servers.entries()) {
    const { page } = await newPage(browser);
    if (webDirs.length) await dashboardFrom(page, webDirs[i], s.url);
    await login(page, s.url, s.email, s.password);
    if (i === 0 || !webDirs.length) await setUpMasterKey(page, 'bench master key passphrase, long enough');
    else { // the same account: its master key is set up, this tab unlocks it
      await page.getByLabel('Master key passphrase').fill('bench master key passphrase, long enough');
      await page.getByRole('button', { name: 'Unlock' }).click();
      await page.getByRole('heading', { name: 'Agents' }).waitFor();
    }
    pages.push(page);
  }
  const views = [
    ['open: all, oldest first', ''],
    ['open: all, newest first', 'sort=-created'],
    ['open: by name', 'sort=name'],
    ['open: seen most recently', 'sort=-last_seen'],
    ['open: status=error', 'status=error'],
    ['open: status=offline, name', 'status=offline&sort=name'],
    ['open: fleet', 'fleet=FLEET'],
    ['open: fleet + status=error', 'fleet=FLEET&status=error'],
    ['open: search "web-00"', 'q=web-00'],
    ['in page: status=error', ['status', 'error']],
    ['in page: sort by name', ['sort', 'name']],
    ['in page: search "web-00"', ['search', 'web-00']],
    ['in page: next page', ['next']],
  ];
  const head = builds.map((b) => `${b.name.slice(0, 21).padStart(21)}`).join(' ');
  console.log(`\n${'(ms: to rows+counts in DOM / laid out / next frame)'.padEnd(30)} ${head}${builds.length === 2 ? '   B/A p50' : ''}`);
  console.log(`${'view'.padEnd(30)} ${builds.map(() => '  p50 dom/lay/frame  p95 dom/lay/frame').join(' ')}   (${rounds} each, ${backend}, ${agents} agents)`);
  for (const [label, what] of views) {
    const times = builds.map(() => []);
    for (let i = 0; i < rounds; i += 1) {
      for (const [b, page] of pages.entries()) {
        const url = servers[b].url;
        if (typeof what === 'string') {
          await page.goto(`${url}/#/fleets`);
          await page.locator('main table:not(.agents) tbody tr').first().waitFor(); // the Fleets page drawn, its call done
          times[b].push(await page.evaluate(timed, ['open', `#/agents${what ? `?${what.replaceAll('FLEET', servers[b].fleet)}` : ''}`]));
        } else {
          await page.goto(`${url}/#/fleets`);
          await page.locator('main table:not(.agents) tbody tr').first().waitFor();
          await page.goto(`${url}/#/agents`);
          await page.locator('table.agents tbody tr').first().waitFor();
          // The fleet names drawn too (rows show '…' until then).
          await page.waitForFunction(() => ![...document.querySelectorAll('table.agents td')].some((td) => td.textContent === '…'));
          times[b].push(await page.evaluate(timed, what));
        }
      }
    }
    const fmt = (v) => v.toFixed(0);
    const cols = times.map((tt) => {
      const at = (p) => [0, 1, 2].map((k) => fmt(pct(tt.map((x) => x[k]), p))).join('/');
      return `${at(0.5).padStart(17)} ${at(0.95).padStart(18)}`;
    });
    const ratio = times.length === 2 ? `   ${(pct(times[1].map((x) => x[0]), 0.5) / pct(times[0].map((x) => x[0]), 0.5)).toFixed(2)}` : '';
    console.log(`${label.padEnd(30)} ${cols.join('  ')}${ratio}`);
  }
} finally {
  await browser.close();
  for (const b of benches) b.stdin.end(); // each benchmark stops its server and exits
}
