// The dashboard's scoped event stream (issue 10): the Agents list watches the rows of the
// page it shows and the agent page its agent (`/api/events?watch=…&others=coarse`); other
// agents' changes arrive as a count on which the list reloads. A heartbeat of a shown agent
// updates its row live, an agent created elsewhere shows in the counts, paging moves the
// watch, the agent page follows its agent, and no stream names an id the owner does not own.
// (The server's side, another owner's id in `watch` matching nothing, is tested in the api
// suite: tests/api/events_watch.rs.)

import { after, before, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import {
  withScreenshots, startServer, launchBrowser, newPage, registerFirstAccount, setUpMasterKey,
  handshake, heartbeat, randomToken,
} from './harness.js';
import { ownerSession, pool, provisionAgent } from './provision.js';

const AGENTS = 30; // a page shows 25

describe('scoped live stream of the agent list and the agent page', () => {
  let server;
  let browser;
  let s;
  let api;
  let agents;
  /** Every event stream the page opened: its URL, watched ids and whether `others=coarse`. */
  const streams = [];
  const it = withScreenshots(nodeIt, () => [s?.page]);

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    s = await newPage(browser);
    const email = `scoped-${randomToken(4)}@example.com`;
    const password = `account-pw-${randomToken(6)}`;
    await registerFirstAccount(s.page, server.url, email, password);
    await setUpMasterKey(s.page, `marble otter lantern quarry ${randomToken(3)}`);
    ({ api } = await ownerSession(server.url, email, password));
    const names = Array.from({ length: AGENTS }, (_, i) => `host-${String(i).padStart(2, '0')}`);
    agents = [];
    for (const name of names) agents.push(await provisionAgent(api, { name })); // created in order
    await pool(agents, 4, async (a) => {
      const hs = await handshake(server.url, a.id, a.agentSecret);
      assert.equal(hs.status, 200, JSON.stringify(hs.body));
      a.token = hs.body.token;
    });
    s.page.on('request', (r) => {
      if (r.resourceType() !== 'eventsource') return;
      const q = new URL(r.url()).searchParams;
      streams.push({ url: r.url(), ids: q.get('watch')?.split(',') ?? [], coarse: q.get('others') === 'coarse' });
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Waits until the page's newest stream watches exactly `ids` and has been answered. */
  async function watching(ids) {
    const want = [...ids].sort().join(',');
    const deadline = Date.now() + 10000;
    for (;;) {
      const last = streams.at(-1);
      if (last?.coarse && [...last.ids].sort().join(',') === want) break;
      assert.ok(Date.now() < deadline, `streams opened: ${JSON.stringify(streams.map((x) => x.url))}`);
      await new Promise((r) => { setTimeout(r, 50); });
    }
    // Open on the server (it subscribes before it answers) and in the page.
    await s.page.getByRole('status', { name: 'Live updates: Live' }).waitFor();
    await new Promise((r) => { setTimeout(r, 300); });
  }

  const rowOf = (a) => s.page.locator(`tr[data-id="${a.id}"]`);
  /** The agents of the rows shown (the list's order: created, then id). */
  const shownRows = async () => {
    const ids = await s.page.locator('table.agents tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
    return ids.map((id) => agents.find((a) => a.id === id));
  };
  let firstPage;
  let other; // an agent of the second page
  const beat = async (a, cpu) => {
    const hb = await heartbeat(server.url, a.token, a.id, { cpu_usage: cpu, memory_usage: 10, uptime_hours: 1, latency_ms: 5 });
    assert.equal(hb.status, 200, JSON.stringify(hb.body));
  };

  it('watches the rows shown, and a heartbeat of one updates its row live', async () => {
    const { page } = s;
    await page.goto(`${server.url}/#/agents`);
    await page.reload();
    await page.locator('table.agents tbody tr').nth(24).waitFor();
    firstPage = await shownRows();
    assert.equal(firstPage.length, 25);
    await watching(firstPage.map((a) => a.id));
    await beat(firstPage[3], 33.5);
    await rowOf(firstPage[3]).getByText('33.5 %').waitFor({ timeout: 3000 });
    await rowOf(firstPage[3]).getByText('Healthy').waitFor();
  });

  it('counts an agent created elsewhere (not on the page): the list reloads', async () => {
    const { page } = s;
    const focused = rowOf(firstPage[5]).getByRole('link');
    await focused.focus();
    // The list orders by creation time (whole seconds), then id: on a fast machine every
    // agent above was created within one second, and a new agent of that same second
    // could land on the first page by its id (seen in CI). A later second puts it last.
    await new Promise((r) => { setTimeout(r, 1100); });
    const made = await provisionAgent(api, { name: 'host-new' });
    agents.push(made);
    await page.getByText(`${AGENTS + 1} agents`).waitFor({ timeout: 5000 });
    await page.getByRole('group', { name: 'Agent counts' }).getByRole('button', { name: `All ${AGENTS + 1}` }).waitFor();
    // Reloaded in place: same page, same rows, the focus kept.
    assert.equal(await page.locator('tbody tr').count(), 25);
    assert.equal(await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.id), firstPage[5].id);
    // The new agent was not on the page: it was counted, not watched.
    assert.ok(!streams.at(-1).ids.includes(made.id));
  });

  it('moves the watch to the next page, whose agents update live', async () => {
    const { page } = s;
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2').waitFor();
    const second = await shownRows();
    assert.equal(second.length, AGENTS + 1 - 25);
    assert.ok(second.every((a) => !firstPage.includes(a)));
    await watching(second.map((a) => a.id));
    other = second.find((a) => a.token);
    await beat(other, 71.5);
    await rowOf(other).getByText('71.5 %').waitFor({ timeout: 3000 });
  });

  it('follows the agent on its page', async () => {
    const { page } = s;
    await rowOf(other).getByRole('link').click();
    await page.getByRole('heading', { name: other.name, level: 1 }).waitFor();
    await watching([other.id]);
    await beat(other, 64);
    await page.getByRole('figure').filter({ hasText: 'CPU' }).getByText('64 %').waitFor({ timeout: 3000 });
  });

  it('names only the owner’s agents in its streams', async () => {
    const owned = new Set(agents.map((a) => a.id));
    const named = streams.flatMap((x) => x.ids);
    assert.ok(named.length >= 25 + 5 + 1, JSON.stringify(streams));
    for (const id of named) assert.ok(owned.has(id), `stream watched ${id}`);
    // Never more than the server takes.
    for (const x of streams) assert.ok(x.ids.length <= 200);
  });
});
