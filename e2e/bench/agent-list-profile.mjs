// Where the milliseconds of opening the Agents page go, in Chromium: starts the agent_list
// benchmark's server like agent-list-render.mjs, opens the Agents page from the Fleets
// page ROUNDS times under a DevTools trace (devtools.timeline, v8, loading), and prints per
// opening the renderer main thread's top-level tasks and the API calls' send / response /
// finish, from the hash change (t = 0) to the rows and counts in the DOM (mark `shown`) and
// the next frame's paint; then the same split summed over the openings. Not a test.
//
//   node e2e/bench/agent-list-profile.mjs [sqlite|postgres] [AGENTS] [ROUNDS] [QUERY]
//
// AGENT_LIST_BENCH=path runs that built benchmark binary (as in agent-list-render.mjs);
// AGENT_LIST_WEB=dir serves the page that directory's dashboard (as there). Each opening
// also splits the time from `shown` to `painted`: the wait before the frame's task starts
// (vsync alignment and other tasks: not this page's work), the frame's own work (style,
// layout, paint, commit), and what ran after it before the timer.

import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, newPage, login, setUpMasterKey } from '../harness.js';
import { dashboardFrom } from './dashboard-from.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const [backend = 'sqlite', agents = '100000', roundsArg = '5', query = 'status=error'] = process.argv.slice(2);
const rounds = Number(roundsArg);

const args = [backend, agents, '3'];
const [cmd, cmdArgs] = process.env.AGENT_LIST_BENCH
  ? [process.env.AGENT_LIST_BENCH, args]
  : ['cargo', ['bench', '-p', 'openclaw-fleet', '--bench', 'agent_list', '--', ...args]];
// AGENT_LIST_URL=url profiles a dashboard already served there, signed in without a password.
const bench = process.env.AGENT_LIST_URL ? null : spawn(cmd, cmdArgs, {
  cwd: ROOT, env: { ...process.env, OPENCLAW_FLEET_BENCH_SERVE: '600' }, stdio: ['pipe', 'pipe', 'inherit'],
});
const serving = bench === null ? { url: process.env.AGENT_LIST_URL, fleet: 'f' } : await new Promise((res, rej) => {
  let out = '';
  bench.stdout.on('data', (c) => {
    out += c.toString();
    const m = out.match(/^SERVING (\S+) (\S+) (.+) (\S+)$/m);
    if (m) res({ url: m[1], email: m[2], password: m[3], fleet: m[4] });
  });
  bench.on('exit', (code) => rej(new Error(`benchmark exited with ${code}:\n${out}`)));
});

// In the page: marks `go` at the hash change, `shown` when the rows and counts are in the
// DOM, `painted` after the next frame (a rAF, then a task after it).
function open(hash) {
  return new Promise((res) => {
    const shown = () => document.querySelector('table.agents tbody tr') && document.querySelector('.status-counts .chip');
    const seen = new MutationObserver(() => {
      if (!shown()) return;
      seen.disconnect();
      performance.mark('shown');
      requestAnimationFrame(() => setTimeout(() => { performance.mark('painted'); res(); }, 0));
    });
    seen.observe(document.body, { childList: true, subtree: true });
    performance.mark('go');
    location.hash = hash;
  });
}

const CATEGORIES = [
  'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink.user_timing',
  'loading', 'toplevel', 'blink', 'netlog',
].join(',');

const browser = await launchBrowser();
const totals = new Map();
const requests = new Map();
try {
  const { page } = await newPage(browser);
  if (process.env.AGENT_LIST_WEB) await dashboardFrom(page, process.env.AGENT_LIST_WEB, serving.url);
  if (bench) {
    await login(page, serving.url, serving.email, serving.password);
    await setUpMasterKey(page, 'bench master key passphrase, long enough');
  }
  const hash = `#/agents?${query.replace('FLEET', serving.fleet)}`;
  for (let i = 0; i < rounds + 1; i += 1) {
    await page.goto(`${serving.url}/#/fleets`);
    await page.getByRole('heading', { name: 'Fleets' }).waitFor();
    await page.waitForTimeout(100);
    await browser.startTracing(page, { categories: CATEGORIES.split(',') });
    await page.evaluate(open, hash);
    const trace = JSON.parse((await browser.stopTracing()).toString());
    if (i > 0) report(trace.traceEvents ?? trace, i); // the first opening warms the caches
  }
  console.log(`\nsummed over ${rounds} openings of ${hash} (ms, main thread, go -> painted):`);
  for (const [k, v] of [...totals].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(44)} ${(v / rounds).toFixed(2).padStart(7)} per opening`);
} finally {
  await browser.close();
  bench?.stdin.end();
}

function report(events, n) {
  const marks = {};
  for (const e of events) if (['go', 'shown', 'painted'].includes(e.name) && e.cat.includes('user_timing')) marks[e.name] ??= e;
  if (!marks.go || !marks.painted) {
    console.log(`opening ${n}: marks missing`);
    return;
  }
  const { pid, tid } = marks.go;
  const t0 = marks.go.ts;
  const ms = (ts) => ((ts - t0) / 1000).toFixed(1).padStart(6);
  const end = marks.painted.ts;
  console.log(`\nopening ${n}: shown at ${ms(marks.shown.ts)} ms, painted at ${ms(end)} ms`);
  const main = events.filter((e) => e.pid === pid && e.tid === tid && e.ts >= t0 - 2000 && e.ts <= end);
  // Top-level tasks on the main thread and, inside each, the named work it did.
  const tasks = main.filter((e) => e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask' && e.dur > 100);
  const inner = main.filter((e) => e.ph === 'X' && e.dur >= 50 && !/RunTask/.test(e.name));
  for (const t of tasks) {
    const kids = inner.filter((e) => e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur);
    const top = kids.filter((k) => !kids.some((o) => o !== k && o.ts <= k.ts && o.ts + o.dur >= k.ts + k.dur && o.dur > k.dur));
    const what = top.map((k) => `${label(k)} ${(k.dur / 1000).toFixed(1)}`).join(', ');
    console.log(`  ${ms(t.ts)} +${(t.dur / 1000).toFixed(1).padStart(5)}  ${what}`);
    if (process.env.TREE) tree(kids, t, 2);
    for (const k of kids) {
      const key = label(k);
      if (top.includes(k)) totals.set(key, (totals.get(key) ?? 0) + k.dur / 1000);
    }
    totals.set('(all tasks)', (totals.get('(all tasks)') ?? 0) + t.dur / 1000);
  }
  // shown -> painted: the first task after `shown` that draws a frame is the frame.
  const frame = tasks.find((t) => t.ts >= marks.shown.ts
    && inner.some((e) => e.name === 'WebFrameWidgetImpl::BeginMainFrame' && e.ts >= t.ts && e.ts <= t.ts + t.dur));
  if (frame) {
    const split = {
      'shown -> frame task starts (wait)': (frame.ts - marks.shown.ts) / 1000,
      'frame task (style, layout, paint, commit)': frame.dur / 1000,
      'frame task ends -> painted': (end - frame.ts - frame.dur) / 1000,
    };
    console.log(`  ${Object.entries(split).map(([k, v]) => `${k} ${v.toFixed(1)}`).join('; ')}`);
    for (const [k, v] of Object.entries(split)) totals.set(`= ${k}`, (totals.get(`= ${k}`) ?? 0) + v);
  }
  for (const e of events) {
    if (!['ResourceSendRequest', 'ResourceReceiveResponse', 'ResourceFinish'].includes(e.name) || e.ts < t0 || e.ts > end) continue;
    const d = e.args?.data ?? {};
    const url = d.url ?? requests.get(d.requestId) ?? d.requestId;
    if (d.url) requests.set(d.requestId, d.url);
    console.log(`  ${ms(e.ts)}  ${e.name.replace('Resource', '').padEnd(15)} ${String(url).replace(/^https?:\/\/[^/]+/, '')}`);
  }
}


function label(e) {
  const d = e.args?.data ?? {};
  if (e.name === 'FunctionCall') return `FunctionCall ${(d.functionName || '?')}@${String(d.url ?? '').split('/').pop()}:${d.lineNumber ?? ''}`;
  if (e.name === 'EventDispatch') return `EventDispatch ${d.type}`;
  if (e.name === 'TimerFire') return 'TimerFire';
  return e.name;
}

// The nested events of a task, indented, those of at least 0.2 ms.
function tree(kids, parent, depth) {
  const direct = kids.filter((k) => k !== parent && k.ts >= parent.ts && k.ts + k.dur <= parent.ts + parent.dur
    && !kids.some((o) => o !== k && o !== parent && o.ts >= parent.ts && o.ts + o.dur <= parent.ts + parent.dur && o.ts <= k.ts && o.ts + o.dur >= k.ts + k.dur && o.dur > k.dur));
  for (const k of direct) {
    if (k.dur < 200) continue;
    console.log(`${' '.repeat(depth * 2 + 10)}${(k.dur / 1000).toFixed(1).padStart(5)} ${label(k)}`);
    tree(kids, k, depth + 1);
  }
}
