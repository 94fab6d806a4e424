// The activity log: what happened to the account and its agents, newest
// first, with who did it and from where; "Load more" reads the next (older)
// page. The agent page shows the same table for one agent. Entries never hold
// a value (the server records field names and version numbers only).

import * as api from '../api.js';
import { h, button, busy, errorBox, pageHeader, timeEl } from '../ui.js';

const PAGE = 50;

const WHAT = {
  sign_in: 'Signed in',
  sign_in_failed: 'Failed sign-in',
  sign_out: 'Signed out',
  session_ended: 'Ended a session',
  password_changed: 'Changed the password',
  password_reset: 'Password reset by the operator',
  master_key_set: 'Set up the master key',
  master_key_changed: 'Changed the master key',
  agent_created: 'Created an agent',
  agent_edited: 'Edited an agent',
  agent_deleted: 'Deleted an agent',
  secret_rotated: 'Rotated an agent secret',
  config_saved: 'Saved a config',
  plaintext_secret_seen: 'Agent secret sent in plaintext',
  alert_rule_created: 'Created an alert rule',
  alert_rule_edited: 'Edited an alert rule',
  alert_rule_deleted: 'Deleted an alert rule',
};

const FIELD = { name: 'name', fleet_id: 'fleet', policy_profile: 'policy profile', gateway_url: 'gateway URL' };

/** The action in words, with its facts (never a value: there is none to show). */
export function describe(e) {
  const d = e.detail ?? {};
  let text = WHAT[e.action] ?? e.action;
  if ((e.action === 'agent_edited' || e.action === 'alert_rule_edited') && Array.isArray(d.fields)) {
    text += `: ${d.fields.map((f) => FIELD[f] ?? f).join(', ')}`;
  } else if (e.action === 'config_saved' && d.version) {
    text += `: version ${d.version}`;
    if (d.restored_from) text += ` (restored from version ${d.restored_from})`;
  } else if (e.action === 'master_key_changed' && typeof d.rewrapped === 'number') {
    text += ` (${d.rewrapped} secret${d.rewrapped === 1 ? '' : 's'} re-wrapped)`;
  } else if ((e.action === 'password_changed' || e.action === 'password_reset') && typeof d.sessions_ended === 'number') {
    text += ` (${d.sessions_ended} session${d.sessions_ended === 1 ? '' : 's'} ended)`;
  }
  if (e.count > 1) text += ` × ${e.count}`;
  return text;
}

const short = (id) => String(id ?? '').slice(0, 8);

function objectCell(e) {
  if (e.object_kind === 'agent' && e.object_id) {
    const name = e.object_name || `agent ${short(e.object_id)}`;
    return e.action === 'agent_deleted' ? h('span', {}, name) : h('a', { href: `#/agents/${e.object_id}` }, name);
  }
  if (e.object_kind === 'session' && e.object_id) return h('span', { class: 'mono' }, `session ${short(e.object_id)}`);
  if (e.object_kind === 'account') return h('span', {}, 'your account');
  if (e.object_kind === 'alert_rule') return h('a', { href: '#/alerts' }, e.object_name || `rule ${short(e.object_id)}`);
  return h('span', { class: 'muted' }, '—');
}

function actorText(e, currentSession) {
  if (e.actor_kind === 'session') return e.actor_id === currentSession ? 'this session' : `session ${short(e.actor_id)}`;
  if (e.actor_kind === 'operator') return 'server operator';
  if (e.actor_kind === 'agent') return 'the agent';
  return 'not signed in';
}

function whenCell(e) {
  if (e.count > 1 && e.last_ts !== e.ts) return h('span', {}, timeEl(e.last_ts), h('span', { class: 'muted' }, ' (first '), timeEl(e.ts), h('span', { class: 'muted' }, ')'));
  return timeEl(e.ts);
}

function row(e, currentSession, showObject) {
  return h('tr', { dataset: { id: String(e.id), action: e.action } },
    h('td', { 'data-label': 'When' }, whenCell(e)),
    h('th', { scope: 'row', 'data-label': 'What' }, describe(e)),
    showObject ? h('td', { 'data-label': 'Object' }, objectCell(e)) : null,
    h('td', { 'data-label': 'By' }, actorText(e, currentSession)),
    h('td', { 'data-label': 'From', class: 'mono' }, e.client_addr ?? '—'));
}

/** A table of entries that more rows can be added to. */
function entryTable(caption, showObject) {
  const body = h('tbody');
  const table = h('table', { class: 'table activity-table' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {},
      ...['When', 'What', showObject ? 'Object' : null, 'By', 'From'].filter(Boolean)
        .map((c) => h('th', { scope: 'col' }, c)))),
    body);
  return { table, body };
}

/**
 * A paged list: the first page, then "Load more" for each older one.
 * `objectId` keeps one object's entries.
 */
function pagedList(ctx, { objectId, caption, emptyText, limit = PAGE, boxed = true }) {
  // One object's list does not repeat the object on every row.
  const showObject = !objectId;
  const { table, body } = entryTable(caption, showObject);
  const err = errorBox();
  const more = button('Load more', { onclick: (ev) => busy(ev.currentTarget, () => load()) });
  more.hidden = true;
  const empty = h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, 'Nothing yet'), h('p', { class: 'muted' }, emptyText));
  empty.hidden = true;
  const el = h('div', {}, h('div', { class: boxed ? 'card flush' : 'table-wrap' }, table, empty), err, h('div', { class: 'load-more' }, more));
  let before = null;
  let currentSession = null;

  async function load({ reset = false } = {}) {
    err.hide();
    if (reset) before = null;
    try {
      if (currentSession === null) currentSession = (await api.auth.me()).session_id ?? '';
      const page = await api.activity.list({ before, limit, object_id: objectId });
      if (!ctx.isCurrent()) return;
      if (reset) body.replaceChildren();
      body.append(...page.entries.map((e) => row(e, currentSession, showObject)));
      before = page.next_before;
      more.hidden = before === null || before === undefined;
      empty.hidden = body.childElementCount > 0;
      table.hidden = !empty.hidden;
    } catch (e) {
      if (ctx.isCurrent()) err.show(e);
    }
  }
  return { el, load };
}

export async function renderActivity(view, ctx) {
  const list = pagedList(ctx, {
    caption: 'Activity',
    emptyText: 'Sign-ins, changes to agents, configs and keys appear here.',
  });
  const refresh = button('Refresh', { iconName: 'rotate', onclick: (e) => busy(e.currentTarget, () => list.load({ reset: true })) });
  view.append(pageHeader('Activity', refresh),
    h('p', { class: 'muted' }, 'What happened to your account and agents: who did it and from where. Values are never recorded.'),
    list.el);
  await list.load();
}

/** The agent page's card: that agent's recent entries. */
export function activitySection(agent, ctx) {
  const list = pagedList(ctx, {
    objectId: agent.id,
    caption: `Activity of ${agent.name}`,
    emptyText: 'Nothing recorded for this agent yet.',
    limit: 10,
    boxed: false,
  });
  const el = h('section', { class: 'card', 'aria-labelledby': 'activity-h' },
    h('div', { class: 'card-head' }, h('h2', { id: 'activity-h' }, 'Recent activity'), h('a', { href: '#/activity' }, 'All activity')),
    list.el);
  return { el, load: () => list.load({ reset: true }) };
}
