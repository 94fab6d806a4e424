// The agent list: filters by fleet and status, name search and sort, all applied by the
// server (keyset pages behind its opaque cursor), status counts, and rows that update
// live from the event stream (no refresh button).
// Opening it asks for the first page before building anything; the fleet names come from
// the list the app keeps (api.fleets.kept), asked beside the page only when not kept yet.
// The table is built once; a page, filter or sort change replaces its rows only.
// The live stream watches the rows shown; the other agents' changes come as a count
// (`agents_changed`) on which the page reloads, at most every RELOAD_EVERY ms.

import * as api from '../api.js';
import { subscribe, watchAgents } from '../live.js';
import { h, field, button, errorBox, pageHeader, statusBadge, timeEl, fmtNum, STATUSES } from '../ui.js';
import { icon } from '../icons.js';
import { openCreateAgent } from './agent-create.js';

const LIMIT = 25;
const SORTS = [
  ['created', 'Oldest first'], ['-created', 'Newest first'],
  ['name', 'Name A–Z'], ['-name', 'Name Z–A'],
  ['-last_seen', 'Seen most recently'], ['last_seen', 'Seen least recently'],
];
// Live changes reload the page at most this often (ms): at 100 000 agents events never stop.
const RELOAD_EVERY = 1500;

export async function renderAgents(view, ctx) {
  const { app, query } = ctx;
  const sortOf = (v) => (SORTS.some(([s]) => s === v) ? v : 'created');
  const filters = {
    fleet: query.get('fleet') ?? '',
    status: STATUSES.includes(query.get('status')) ? query.get('status') : '',
    q: (query.get('q') ?? '').slice(0, 100),
    sort: sortOf(query.get('sort')),
  };
  // The cursors of the pages before this one (the first page has none).
  let cursors = [];
  let cursor = null;
  const ask = () => api.agents.list({
    fleet_id: filters.fleet, status: filters.status, q: filters.q,
    sort: filters.q ? undefined : filters.sort, cursor, limit: LIMIT,
  });
  const firstPage = ask();
  const watching = watchAgents();
  ctx.onCleanup(watching.release);
  firstPage.catch(() => {}); // shown by load()
  // The fleets (names for the rows and the filter): the kept list if it is here, else asked
  // for together with the first page (rows drawn as soon as they come, names filled in).
  const keptFleets = api.fleets.keptNow();
  const fleetsAsked = keptFleets ? null : api.fleets.kept();
  let fleetNames = null;
  const fleetChanges = []; // live fleet events before the list came

  const fleetSel = h('select', {}, h('option', { value: '' }, 'All fleets'),
    filters.fleet ? h('option', { value: filters.fleet, selected: true }, 'Loading…') : null);
  const statusSel = h('select', {}, h('option', { value: '' }, 'Any status'),
    ...STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s[0].toUpperCase() + s.slice(1))));
  const search = h('input', { type: 'search', value: filters.q, maxlength: '100', placeholder: 'Name starts with…', autocomplete: 'off' });
  const sortSel = h('select', {}, ...SORTS.map(([v, label]) => h('option', { value: v, selected: v === filters.sort }, label)));
  const summary = h('p', { class: 'muted count', 'aria-live': 'polite' });
  const counts = h('div', { class: 'status-counts', role: 'group', 'aria-label': 'Agent counts' });
  const err = errorBox();
  const body = h('div', { class: 'card flush' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pagination' });
  const rows = new Map();
  let shown = [];

  const createBtn = button('New agent', {
    variant: 'primary', iconName: 'plus',
    onclick: () => openCreateAgent(app, { fleetId: filters.fleet, onCreated: () => load() }).catch((e) => err.show(e)),
  });

  const bulkLink = h('a', { class: 'btn btn-secondary', href: '#/config-change' }, icon('edit'), h('span', {}, 'Change configs'));
  const syncBulkLink = () => bulkLink.setAttribute('href', `#/config-change${filters.fleet ? `?fleet=${encodeURIComponent(filters.fleet)}` : ''}`);
  syncBulkLink();

  function syncUrl() {
    syncBulkLink();
    const q = new URLSearchParams();
    if (filters.fleet) q.set('fleet', filters.fleet);
    if (filters.status) q.set('status', filters.status);
    if (filters.q) q.set('q', filters.q);
    if (filters.sort !== 'created') q.set('sort', filters.sort);
    const s = q.toString();
    history.replaceState(null, '', `#/agents${s ? `?${s}` : ''}`);
  }

  function row(a) {
    const m = a.metrics ?? {};
    return h('tr', { dataset: { id: a.id } },
      h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `#/agents/${a.id}` }, a.name),
        a.plaintext_secret_seen_at ? h('span', { class: 'tag tag-danger', title: 'This agent sent its secret in plaintext' }, 'Rotate secret') : null),
      h('td', { 'data-label': 'Fleet' }, a.fleet_id ? (fleetNames ? fleetNames.get(a.fleet_id) ?? '—' : '…') : h('span', { class: 'muted' }, 'None')),
      h('td', { 'data-label': 'Status' }, statusBadge(a.status)),
      h('td', { 'data-label': 'Last seen' }, timeEl(a.last_seen)),
      h('td', { 'data-label': 'CPU', class: 'num' }, m.cpu_usage !== undefined ? `${fmtNum(m.cpu_usage)} %` : '—'),
      h('td', { 'data-label': 'Memory', class: 'num' }, m.memory_usage !== undefined ? `${fmtNum(m.memory_usage)} %` : '—'));
  }

  const tbody = h('tbody');
  const tableEl = h('table', { class: 'table agents' },
    h('caption', { class: 'sr-only' }, 'Agents'),
    h('thead', {}, h('tr', {}, ...['Name', 'Fleet', 'Status', 'Last seen', 'CPU', 'Memory'].map((c, i) =>
      h('th', { scope: 'col', class: i >= 4 ? 'num' : null }, c)))),
    tbody);

  function table(agents) {
    // A reload of the same page keeps the focus on the row's link (keyboard users).
    const focused = tbody.contains(document.activeElement) ? document.activeElement.closest('tr')?.dataset.id : null;
    rows.clear();
    tbody.replaceChildren(...agents.map((a) => {
      const r = row(a);
      rows.set(a.id, r);
      return r;
    }));
    if (focused) rows.get(focused)?.querySelector('a')?.focus({ preventScroll: true });
    return tableEl;
  }

  function redrawRow(a) {
    const old = rows.get(a.id);
    if (!old) return null;
    const fresh = row(a);
    old.replaceWith(fresh);
    rows.set(a.id, fresh);
    return fresh;
  }

  function showFleets(fleets) {
    fleetNames = new Map(fleets.map((f) => [f.id, f.name]));
    fleetSel.replaceChildren(h('option', { value: '' }, 'All fleets'),
      ...fleets.map((f) => h('option', { value: f.id, selected: f.id === filters.fleet }, f.name)));
    shown.forEach(redrawRow); // rows drawn before the names came
    fleetChanges.splice(0).forEach(fleetChanged);
  }

  function fleetChanged(f) {
    if (!fleetNames) {
      fleetChanges.push(f);
      return;
    }
    const known = fleetNames.has(f.id);
    fleetNames.set(f.id, f.name);
    const option = [...fleetSel.options].find((o) => o.value === f.id);
    if (option) option.textContent = f.name;
    else fleetSel.append(h('option', { value: f.id }, f.name));
    if (known && shown.some((a) => a.fleet_id === f.id)) scheduleReload();
  }

  function renderCounts(c) {
    const chip = (status, label, n) => h('button', {
      type: 'button', class: `chip${filters.status === status ? ' active' : ''}`,
      'aria-pressed': String(filters.status === status),
      onclick: () => { filters.status = status; statusSel.value = status; restart(); },
    }, label, ' ', h('span', { class: 'num' }, n.toLocaleString()));
    counts.replaceChildren(chip('', 'All', c.total),
      ...STATUSES.map((s) => chip(s, s[0].toUpperCase() + s.slice(1), c[s] ?? 0)));
  }

  async function load(asked = ask()) {
    err.hide();
    let res;
    try {
      res = await asked;
    } catch (e) {
      err.show(e);
      watching.set(shown.map((a) => a.id));
      return;
    }
    if (!ctx.isCurrent()) return;
    if (!res.agents.length && cursors.length) {
      // This page emptied meanwhile (agents deleted): back to the first.
      cursors = [];
      cursor = null;
      return load();
    }
    shown = res.agents;
    watching.set(shown.map((a) => a.id));
    renderCounts(res.counts);
    const filtered = filters.fleet || filters.status || filters.q;
    const total = res.total;
    summary.textContent = total === null || total === undefined
      ? `${res.agents.length}${res.next_cursor ? '+' : ''} agent${res.agents.length === 1 && !res.next_cursor ? '' : 's'} match`
      : `${total.toLocaleString()} agent${total === 1 ? '' : 's'}${filtered ? ' match' : ''}`;
    if (res.agents.length) {
      if (tableEl.parentNode !== body) body.replaceChildren(tableEl);
      table(res.agents);
    }
    else if (filtered) body.replaceChildren(h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, 'No agents match these filters')));
    else {
      body.replaceChildren(h('div', { class: 'empty' },
        h('p', { class: 'empty-title' }, 'No agents yet'),
        h('p', { class: 'muted' }, 'Create an agent, then run the install command on its host. It appears here as soon as it connects.')));
    }
    pager.replaceChildren();
    if (cursors.length || res.next_cursor) {
      const prev = button('Previous', { disabled: !cursors.length, onclick: () => { cursor = cursors.pop(); load(); } });
      const next = button('Next', {
        disabled: !res.next_cursor,
        onclick: () => { cursors.push(cursor); cursor = res.next_cursor; load(); },
      });
      pager.append(prev, h('span', { class: 'muted' }, `Page ${cursors.length + 1}`), next);
    }
  }

  // A new filter, search or sort starts again at the first page.
  function restart() {
    cursors = [];
    cursor = null;
    syncUrl();
    load();
  }

  fleetSel.addEventListener('change', () => { filters.fleet = fleetSel.value; restart(); });
  statusSel.addEventListener('change', () => { filters.status = statusSel.value; restart(); });
  sortSel.addEventListener('change', () => { filters.sort = sortOf(sortSel.value); restart(); });
  let searchTimer = null;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      filters.q = search.value.trim().slice(0, 100);
      sortSel.disabled = Boolean(filters.q);
      restart();
    }, 250);
  });
  sortSel.disabled = Boolean(filters.q);

  let reloadTimer = null;
  const scheduleReload = () => {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => { reloadTimer = null; load(); }, RELOAD_EVERY);
  };
  ctx.onCleanup(() => { clearTimeout(reloadTimer); clearTimeout(searchTimer); });
  ctx.onCleanup(subscribe((agent) => {
    const old = rows.get(agent.id);
    const matches = (!filters.fleet || agent.fleet_id === filters.fleet) && (!filters.status || agent.status === filters.status);
    if (old && matches) {
      const before = shown.find((a) => a.id === agent.id);
      const fresh = redrawRow(agent);
      if (before?.status !== agent.status) {
        fresh.classList.add('flash');
        scheduleReload(); // the counts changed
      }
      shown = shown.map((a) => (a.id === agent.id ? agent : a));
    } else if (old || matches) {
      scheduleReload();
    }
  }, {
    onDeleted: () => scheduleReload(),
    onAgentsChanged: () => scheduleReload(),
    onFleet: fleetChanged,
    onResync: scheduleReload,
  }));

  view.append(
    pageHeader('Agents', bulkLink, createBtn),
    h('div', { class: 'toolbar' },
      h('div', { class: 'filters' },
        field({ label: 'Search', input: search }),
        field({ label: 'Fleet', input: fleetSel }),
        field({ label: 'Status', input: statusSel }),
        field({ label: 'Sort', input: sortSel })),
      summary),
    counts, err, body, pager);
  if (keptFleets) showFleets(keptFleets);
  const fleetsShown = fleetsAsked?.then((fleets) => {
    if (ctx.isCurrent()) showFleets(fleets);
  }, (e) => {
    if (ctx.isCurrent()) err.show(e);
  });
  await Promise.all([load(firstPage), fleetsShown]);
}
