// Alerts: the owner's rules (create, enable or pause, delete) and the delivery
// log (newest first, "Load more" for older pages). A new rule's signing
// secret is shown once, in a dialog that removes it from the page when
// closed; the webhook URL is never shown again (only its host): Slack and
// Discord URLs embed a token.

import * as api from '../api.js';
import { h, field, button, busy, errorBox, toast, pageHeader, timeEl, secretField, fmtNum } from '../ui.js';
import { confirmDialog, openDialog } from '../dialog.js';

const CONDITIONS = {
  agent_offline: 'Agent offline',
  status_error: 'Status error',
  config_apply_failed: 'Config apply failed',
  gateway_unreachable: 'Gateway unreachable',
  cpu_above: 'CPU above',
  memory_above: 'Memory above',
  plaintext_secret: 'Agent secret sent in plaintext',
};
const THRESHOLD = new Set(['cpu_above', 'memory_above']);
const DURATION = new Set(['agent_offline', 'cpu_above', 'memory_above']);
const PAGE = 50;

/** The rule's condition in words. */
export function describeRule(r) {
  let text = CONDITIONS[r.condition] ?? r.condition;
  if (THRESHOLD.has(r.condition)) text += ` ${fmtNum(r.threshold)} %`;
  if (DURATION.has(r.condition)) text += ` for ${r.minutes} min`;
  return text;
}

function ruleForm(fleets, onCreated) {
  const name = h('input', { type: 'text', maxlength: 100, required: true, autocomplete: 'off', name: 'name' });
  const condition = h('select', { name: 'condition' },
    ...Object.entries(CONDITIONS).map(([v, label]) => h('option', { value: v }, label)));
  const threshold = h('input', { type: 'number', min: 1, max: 99, step: 'any', value: 90, name: 'threshold' });
  const minutes = h('input', { type: 'number', min: 0, max: 10080, step: 1, value: 5, name: 'minutes' });
  const cooldown = h('input', { type: 'number', min: 0, max: 1440, step: 1, value: 15, name: 'cooldown' });
  const fleet = h('select', { name: 'fleet' }, h('option', { value: '' }, 'Every agent'),
    ...fleets.map((f) => h('option', { value: f.id }, f.name)));
  const kind = h('select', { name: 'kind' },
    h('option', { value: 'generic' }, 'Generic JSON (signed)'),
    h('option', { value: 'slack' }, 'Slack'),
    h('option', { value: 'discord' }, 'Discord'));
  const url = h('input', { type: 'url', required: true, autocomplete: 'off', spellcheck: 'false', name: 'url', placeholder: 'https://…' });
  const fields = {
    name: field({ label: 'Rule name', input: name }),
    condition: field({ label: 'When', input: condition }),
    threshold: field({ label: 'Threshold (%)', input: threshold }),
    minutes: field({ label: 'For (minutes)', input: minutes }),
    fleet: field({ label: 'Agents', input: fleet }),
    cooldown: field({ label: 'Cooldown (minutes)', input: cooldown, hint: 'Repeats for the same agent within this time are not sent.' }),
    kind: field({ label: 'Webhook type', input: kind }),
    url: field({ label: 'Webhook URL', input: url, hint: 'Kept encrypted on the server and never shown again.' }),
  };
  const sync = () => {
    fields.threshold.hidden = !THRESHOLD.has(condition.value);
    fields.minutes.hidden = !DURATION.has(condition.value);
  };
  condition.addEventListener('change', sync);
  sync();
  const err = errorBox();
  const save = button('Create rule', { variant: 'primary', type: 'submit', iconName: 'plus' });
  const form = h('form', { class: 'card form-grid alert-rule-form', novalidate: true, 'aria-label': 'New alert rule' },
    h('h2', {}, 'New rule'), ...Object.values(fields), err, h('div', { class: 'form-actions' }, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    fields.name.setError('');
    fields.url.setError('');
    if (!name.value.trim()) { fields.name.setError('Enter a name.'); return name.focus(); }
    if (!url.value.trim()) { fields.url.setError('Enter the webhook URL.'); return url.focus(); }
    const body = {
      name: name.value.trim(),
      condition: condition.value,
      cooldown_minutes: Number(cooldown.value),
      webhook: { kind: kind.value, url: url.value.trim() },
    };
    if (THRESHOLD.has(condition.value)) body.threshold = Number(threshold.value);
    if (DURATION.has(condition.value)) body.minutes = Number(minutes.value);
    if (fleet.value) body.fleet_id = fleet.value;
    busy(save, async () => {
      try {
        const created = await api.alerts.create(body);
        url.value = '';
        name.value = '';
        showSecret(created);
        await onCreated();
      } catch (e2) {
        err.show(e2);
      }
    });
  });
  return form;
}

function showSecret(created) {
  const done = button('Done', { variant: 'primary' });
  const { close } = openDialog({
    title: `Rule “${created.rule.name}” created`,
    sensitive: true,
    body: [
      h('p', {}, 'Each notice carries the header ', h('code', {}, 'X-OpenClaw-Fleet-Signature: t=…,v1=…'),
        ': the HMAC-SHA256 of ', h('code', {}, 't.body'), ' under this signing secret. Copy it now: it is not shown again.'),
      secretField('Signing secret', created.signing_secret),
    ],
    actions: [done],
  });
  done.addEventListener('click', () => close());
}

function rulesTable(rules, fleets, reload, err) {
  const fleetName = (id) => fleets.find((f) => f.id === id)?.name ?? 'a fleet';
  return h('table', { class: 'table alert-rules' },
    h('caption', { class: 'sr-only' }, 'Alert rules'),
    h('thead', {}, h('tr', {}, ...['Name', 'When', 'Agents', 'Webhook', 'State', ''].map((c, i) =>
      h('th', { scope: 'col' }, i === 5 ? h('span', { class: 'sr-only' }, 'Actions') : c)))),
    h('tbody', {}, ...rules.map((r) => h('tr', { dataset: { id: r.id } },
      h('th', { scope: 'row', 'data-label': 'Name' }, r.name),
      h('td', { 'data-label': 'When' }, describeRule(r)),
      h('td', { 'data-label': 'Agents' }, r.fleet_id ? `Fleet ${fleetName(r.fleet_id)}` : 'Every agent'),
      h('td', { 'data-label': 'Webhook' }, `${r.webhook.kind} → `, h('span', { class: 'mono' }, r.webhook.host)),
      h('td', { 'data-label': 'State' }, r.enabled ? 'Active' : 'Paused'),
      h('td', { class: 'row-actions' },
        button(r.enabled ? 'Pause' : 'Resume', {
          variant: 'ghost', 'aria-label': `${r.enabled ? 'Pause' : 'Resume'} rule ${r.name}`,
          onclick: (e) => busy(e.currentTarget, async () => {
            try { await api.alerts.update(r.id, { enabled: !r.enabled }); await reload(); } catch (e2) { err.show(e2); }
          }),
        }),
        button('Delete', {
          variant: 'ghost-danger', iconName: 'trash', 'aria-label': `Delete rule ${r.name}`,
          onclick: async (e) => {
            const btn = e.currentTarget;
            const ok = await confirmDialog({ title: 'Delete this rule?', message: `“${r.name}” stops sending notices. Its deliveries stay in the log.`, confirmLabel: 'Delete rule', danger: true });
            if (!ok) return;
            await busy(btn, async () => {
              try { await api.alerts.remove(r.id); toast(`Rule “${r.name}” deleted.`); await reload(); } catch (e2) { err.show(e2); }
            });
          },
        }))))));
}

function deliveryRow(d) {
  const result = d.error
    ? h('span', { class: 'text-danger' }, d.http_status ? `HTTP ${d.http_status}: ${d.error}` : d.error)
    : `HTTP ${d.http_status}`;
  return h('tr', { dataset: { id: String(d.id), event: d.event } },
    h('td', { 'data-label': 'When' }, timeEl(d.ts)),
    h('th', { scope: 'row', 'data-label': 'Rule' }, d.rule_name),
    h('td', { 'data-label': 'Agent' }, d.agent_id ? h('a', { href: `#/agents/${d.agent_id}` }, d.agent_name ?? d.agent_id.slice(0, 8)) : '—'),
    h('td', { 'data-label': 'Event' }, d.event === 'firing' ? 'Firing' : 'Resolved'),
    h('td', { 'data-label': 'Result' }, result),
    h('td', { 'data-label': 'Attempts', class: 'num' }, String(d.attempts)));
}

export async function renderAlerts(view, ctx) {
  const rulesErr = errorBox();
  const rulesBox = h('div', { class: 'card flush' });
  const body = h('tbody');
  const deliveries = h('table', { class: 'table alert-deliveries' },
    h('caption', { class: 'sr-only' }, 'Deliveries'),
    h('thead', {}, h('tr', {}, ...['When', 'Rule', 'Agent', 'Event', 'Result', 'Attempts'].map((c) => h('th', { scope: 'col' }, c)))),
    body);
  const empty = h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, 'No deliveries yet'),
    h('p', { class: 'muted' }, 'Every notice sent, with the receiver’s answer, appears here.'));
  const delErr = errorBox();
  const more = button('Load more', { onclick: (ev) => busy(ev.currentTarget, () => loadDeliveries()) });
  more.hidden = true;
  let before = null;
  let fleets = [];

  async function loadRules() {
    rulesErr.hide();
    try {
      const { rules } = await api.alerts.list();
      if (!ctx.isCurrent()) return;
      rulesBox.replaceChildren(rules.length ? rulesTable(rules, fleets, loadRules, rulesErr) : h('div', { class: 'empty' },
        h('p', { class: 'empty-title' }, 'No rules yet'),
        h('p', { class: 'muted' }, 'Create a rule below to be told when an agent goes offline or fails.')));
    } catch (e) {
      if (ctx.isCurrent()) rulesErr.show(e);
    }
  }

  async function loadDeliveries({ reset = false } = {}) {
    delErr.hide();
    if (reset) before = null;
    try {
      const page = await api.alerts.deliveries({ before, limit: PAGE });
      if (!ctx.isCurrent()) return;
      if (reset) body.replaceChildren();
      body.append(...page.deliveries.map(deliveryRow));
      before = page.next_before;
      more.hidden = before === null || before === undefined;
      empty.hidden = body.childElementCount > 0;
      deliveries.hidden = !empty.hidden;
    } catch (e) {
      if (ctx.isCurrent()) delErr.show(e);
    }
  }

  fleets = (await api.fleets.list()).fleets;
  if (!ctx.isCurrent()) return;
  const refresh = button('Refresh', { iconName: 'rotate', onclick: (e) => busy(e.currentTarget, () => Promise.all([loadRules(), loadDeliveries({ reset: true })])) });
  view.append(pageHeader('Alerts', refresh),
    h('p', { class: 'muted' }, 'Rules send a webhook when an agent goes offline, reports an error or runs hot, and again when it recovers.'),
    h('section', { 'aria-labelledby': 'rules-h' }, h('h2', { id: 'rules-h' }, 'Rules'), rulesBox, rulesErr),
    ruleForm(fleets, loadRules),
    h('section', { 'aria-labelledby': 'deliveries-h' }, h('h2', { id: 'deliveries-h' }, 'Deliveries'),
      h('div', { class: 'card flush' }, deliveries, empty), delErr, h('div', { class: 'load-more' }, more)));
  await Promise.all([loadRules(), loadDeliveries({ reset: true })]);
}
