// The agent list: filters by fleet and status, pagination, and rows that
// update live from the event stream (no refresh button).

import * as api from '../api.js';
import { subscribe } from '../live.js';
import { h, field, button, errorBox, pageHeader, statusBadge, timeEl, fmtNum, STATUSES } from '../ui.js';
import { icon } from '../icons.js';
import { openCreateAgent } from './agent-create.js';

const LIMIT = 25;

export async function renderAgents(view, ctx) {
  const { app, query } = ctx;
  const filters = {
    fleet: query.get('fleet') ?? '',
    status: STATUSES.includes(query.get('status')) ? query.get('status') : '',
    page: Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1),
  };
  const { fleets } = await api.fleets.list();
  const fleetNames = new Map(fleets.map((f) => [f.id, f.name]));

  const fleetSel = h('select', {}, h('option', { value: '' }, 'All fleets'),
    ...fleets.map((f) => h('option', { value: f.id, selected: f.id === filters.fleet }, f.name)));
  const statusSel = h('select', {}, h('option', { value: '' }, 'Any status'),
    ...STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s[0].toUpperCase() + s.slice(1))));
  const summary = h('p', { class: 'muted count', 'aria-live': 'polite' });
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
    if (filters.page > 1) q.set('page', String(filters.page));
    const s = q.toString();
    history.replaceState(null, '', `#/agents${s ? `?${s}` : ''}`);
  }

  function row(a) {
    const m = a.metrics ?? {};
    return h('tr', { dataset: { id: a.id } },
      h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `#/agents/${a.id}` }, a.name),
        a.plaintext_secret_seen_at ? h('span', { class: 'tag tag-danger', title: 'This agent sent its secret in plaintext' }, 'Rotate secret') : null),
      h('td', { 'data-label': 'Fleet' }, a.fleet_id ? fleetNames.get(a.fleet_id) ?? '—' : h('span', { class: 'muted' }, 'None')),
      h('td', { 'data-label': 'Status' }, statusBadge(a.status)),
      h('td', { 'data-label': 'Last seen' }, timeEl(a.last_seen)),
      h('td', { 'data-label': 'CPU', class: 'num' }, m.cpu_usage !== undefined ? `${fmtNum(m.cpu_usage)} %` : '—'),
      h('td', { 'data-label': 'Memory', class: 'num' }, m.memory_usage !== undefined ? `${fmtNum(m.memory_usage)} %` : '—'));
  }

  function table(agents) {
    rows.clear();
    const tbody = h('tbody', {}, ...agents.map((a) => {
      const r = row(a);
      rows.set(a.id, r);
      return r;
    }));
    return h('table', { class: 'table agents' },
      h('caption', { class: 'sr-only' }, 'Agents'),
      h('thead', {}, h('tr', {}, ...['Name', 'Fleet', 'Status', 'Last seen', 'CPU', 'Memory'].map((c, i) =>
        h('th', { scope: 'col', class: i >= 4 ? 'num' : null }, c)))),
      tbody);
  }

  async function load() {
    err.hide();
    let res;
    try {
      res = await api.agents.list({ fleet_id: filters.fleet, status: filters.status, page: filters.page, limit: LIMIT });
    } catch (e) {
      err.show(e);
      return;
    }
    if (!ctx.isCurrent()) return;
    const pages = Math.max(1, Math.ceil((res.total ?? 0) / LIMIT));
    if (filters.page > pages && res.total > 0) {
      filters.page = pages;
      syncUrl();
      return load();
    }
    shown = res.agents;
    const filtered = filters.fleet || filters.status;
    summary.textContent = `${res.total} agent${res.total === 1 ? '' : 's'}${filtered ? ' match' : ''}`;
    if (res.agents.length) body.replaceChildren(table(res.agents));
    else if (filtered) body.replaceChildren(h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, 'No agents match these filters')));
    else {
      body.replaceChildren(h('div', { class: 'empty' },
        h('p', { class: 'empty-title' }, 'No agents yet'),
        h('p', { class: 'muted' }, 'Create an agent, then run the install command on its host. It appears here as soon as it connects.')));
    }
    pager.replaceChildren();
    if (pages > 1) {
      const prev = button('Previous', { disabled: filters.page <= 1, onclick: () => go(filters.page - 1) });
      const next = button('Next', { disabled: filters.page >= pages, onclick: () => go(filters.page + 1) });
      pager.append(prev, h('span', { class: 'muted' }, `Page ${filters.page} of ${pages}`), next);
    }
  }

  function go(page) {
    filters.page = page;
    syncUrl();
    load();
  }

  fleetSel.addEventListener('change', () => { filters.fleet = fleetSel.value; go(1); });
  statusSel.addEventListener('change', () => { filters.status = statusSel.value; go(1); });

  let reloadTimer = null;
  const scheduleReload = () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 800);
  };
  ctx.onCleanup(() => clearTimeout(reloadTimer));
  ctx.onCleanup(subscribe((agent) => {
    const old = rows.get(agent.id);
    const matches = (!filters.fleet || agent.fleet_id === filters.fleet) && (!filters.status || agent.status === filters.status);
    if (old && matches) {
      const fresh = row(agent);
      if (shown.find((a) => a.id === agent.id)?.status !== agent.status) fresh.classList.add('flash');
      old.replaceWith(fresh);
      rows.set(agent.id, fresh);
      shown = shown.map((a) => (a.id === agent.id ? agent : a));
    } else if (old || matches) {
      scheduleReload();
    }
  }, {
    onDeleted: (id) => { if (rows.has(id)) scheduleReload(); },
    onFleet: (f) => {
      const known = fleetNames.has(f.id);
      fleetNames.set(f.id, f.name);
      const option = [...fleetSel.options].find((o) => o.value === f.id);
      if (option) option.textContent = f.name;
      else fleetSel.append(h('option', { value: f.id }, f.name));
      if (known && shown.some((a) => a.fleet_id === f.id)) scheduleReload();
    },
    onResync: scheduleReload,
  }));

  view.append(
    pageHeader('Agents', bulkLink, createBtn),
    h('div', { class: 'toolbar' },
      h('div', { class: 'filters' }, field({ label: 'Fleet', input: fleetSel }), field({ label: 'Status', input: statusSel })),
      summary),
    err, body, pager);
  await load();
}
