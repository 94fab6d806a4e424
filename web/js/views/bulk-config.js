// "Change many configs": pick agents (all, a fleet, or some of them), then set
// or remove environment variables and/or merge an openclaw.json fragment for
// all of them in one step. The work happens in this browser (bulk-config.js):
// each agent's config is decrypted, edited, sealed as a new version and
// uploaded with the version check. A progress bar, one result per agent, and
// a retry for the ones that failed. Values are masked and never leave the
// browser except inside envelopes.

import * as api from '../api.js';
import { isValidEnvName } from '../crypto.js';
import { checkEdit } from '../config-edits.js';
import { APPLIED, FAILED, NO_SECRET, UNCHANGED, changeMany, describeResult } from '../bulk-config.js';
import { h, field, button, busy, errorBox, callout, pageHeader, toast, uid } from '../ui.js';
import { icon } from '../icons.js';
import { confirmDialog } from '../dialog.js';

const STATE_TAG = { [APPLIED]: 'tag-ok', [UNCHANGED]: 'tag-ok', [NO_SECRET]: 'tag-warn', [FAILED]: 'tag-danger' };

export async function renderBulkConfig(view, ctx) {
  const { app, query } = ctx;
  const header = pageHeader('Change many configs');
  if (app.keyState() !== 'unlocked') {
    const next = encodeURIComponent(`/config-change${location.hash.includes('?') ? `?${location.hash.split('?')[1]}` : ''}`);
    const none = app.keyState() === 'none';
    view.append(header, callout('info', none ? 'Set up your master key first' : 'Unlock to change configs',
      h('p', {}, 'Each agent’s config is decrypted, changed and encrypted again in this browser, with your master key.'),
      h('p', {}, h('a', { class: 'btn btn-primary', href: `#/${none ? 'master-key' : 'unlock'}?next=${next}` },
        icon(none ? 'key' : 'unlock'), h('span', {}, none ? 'Set up master key' : 'Unlock')))));
    return;
  }

  const { fleets } = await api.fleets.list();
  const fleetNames = new Map(fleets.map((f) => [f.id, f.name]));
  let scope = query.get('fleet') ?? '';
  if (scope && !fleetNames.has(scope)) scope = '';

  // ---------------------------------------------------------------- agents
  const scopeSel = h('select', {}, h('option', { value: '' }, 'All agents'),
    ...fleets.map((f) => h('option', { value: f.id, selected: f.id === scope }, `Fleet ${f.name}`)));
  const pickList = h('ul', { class: 'pick-list', role: 'list' });
  const pickCount = h('p', { class: 'muted count', 'aria-live': 'polite' });
  const boxes = new Map();
  let agents = [];
  const selected = () => agents.filter((a) => boxes.get(a.id)?.checked);

  const applyBtn = button('Apply to 0 agents', { variant: 'primary', type: 'submit' });
  function count() {
    const n = selected().length;
    pickCount.textContent = `${n} of ${agents.length} agent${agents.length === 1 ? '' : 's'} selected`;
    applyBtn.querySelector('span').textContent = `Apply to ${n} agent${n === 1 ? '' : 's'}`;
  }
  async function loadAgents() {
    agents = await api.allAgents(200, { fleet_id: scope });
    if (!ctx.isCurrent()) return;
    agents.sort((a, b) => a.name.localeCompare(b.name));
    boxes.clear();
    pickList.replaceChildren(...agents.map((a) => {
      const box = h('input', { type: 'checkbox', checked: true, id: uid('pick') });
      box.addEventListener('change', count);
      boxes.set(a.id, box);
      return h('li', {}, box, h('span', {}, h('label', { for: box.id }, a.name),
        a.fleet_id && !scope ? h('span', { class: 'muted' }, ` · ${fleetNames.get(a.fleet_id) ?? ''}`) : null));
    }));
    if (!agents.length) pickList.append(h('li', { class: 'muted' }, 'No agents here.'));
    applyFind();
    count();
  }
  scopeSel.addEventListener('change', () => {
    scope = scopeSel.value;
    history.replaceState(null, '', `#/config-change${scope ? `?fleet=${encodeURIComponent(scope)}` : ''}`);
    loadAgents().catch((e) => formErr.show(e));
  });
  // "Select all / none" act on the agents the name filter shows.
  const findInput = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const visible = (box) => !box.closest('li').hidden;
  function applyFind() {
    const q = findInput.value.trim().toLowerCase();
    for (const a of agents) boxes.get(a.id).closest('li').hidden = !!q && !a.name.toLowerCase().includes(q);
  }
  findInput.addEventListener('input', applyFind);
  const setAll = (on) => { for (const b of boxes.values()) if (visible(b)) b.checked = on; count(); };

  // ---------------------------------------------------------------- change
  const setRows = h('tbody');
  const rows = [];
  function addRow() {
    const n = h('input', { type: 'text', class: 'mono', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'characters' });
    const v = h('input', { type: 'password', class: 'mono', spellcheck: 'false', autocomplete: 'off' });
    const reveal = h('button', { type: 'button', class: 'btn btn-ghost icon-btn', 'aria-pressed': 'false' }, icon('eye'));
    const remove = h('button', { type: 'button', class: 'btn btn-ghost-danger icon-btn' }, icon('trash'));
    const row = { n, v };
    const label = () => {
      const index = `setting ${rows.indexOf(row) + 1}`;
      const shown = n.value.trim() || index;
      n.setAttribute('aria-label', `Variable to set, ${index}`);
      v.setAttribute('aria-label', `New value for ${shown}`);
      reveal.setAttribute('aria-label', `Show ${shown}`);
      remove.setAttribute('aria-label', `Do not set ${shown}`);
    };
    row.label = label;
    n.addEventListener('input', label);
    reveal.addEventListener('click', () => {
      const show = v.type === 'password';
      v.type = show ? 'text' : 'password';
      reveal.setAttribute('aria-pressed', String(show));
      reveal.replaceChildren(icon(show ? 'eyeOff' : 'eye'));
    });
    remove.addEventListener('click', () => {
      rows.splice(rows.indexOf(row), 1);
      row.tr.remove();
      rows.forEach((r) => r.label());
      addBtn.focus();
    });
    row.tr = h('tr', {},
      h('td', { 'data-label': 'Name' }, n),
      h('td', { 'data-label': 'New value' }, h('div', { class: 'input-row' }, v, reveal)),
      h('td', { class: 'row-actions' }, remove));
    rows.push(row);
    setRows.append(row.tr);
    label();
    return row;
  }
  const addBtn = button('Add a variable to set', { iconName: 'plus', onclick: () => addRow().n.focus() });
  addRow();

  const unsetInput = h('input', { type: 'text', class: 'mono', spellcheck: 'false', autocomplete: 'off', autocapitalize: 'characters' });
  const unsetField = field({ label: 'Variables to remove', input: unsetInput, hint: 'Names separated by spaces or commas.', optional: true });
  const mergeInput = h('textarea', { class: 'mono json', rows: '5', spellcheck: 'false' });
  const mergeField = field({
    label: 'Merge into openclaw.json', input: mergeInput, optional: true,
    hint: 'A JSON object merged into each agent’s openclaw.json fragment: objects merge, null removes a key, anything else replaces.',
  });

  const formErr = errorBox();
  const form = h('form', { class: 'stack bulk-form', novalidate: true, 'aria-label': 'Change for the selected agents' },
    h('section', { class: 'card stack', 'aria-labelledby': 'bulk-agents-h' },
      h('div', { class: 'card-head' }, h('h2', { id: 'bulk-agents-h' }, 'Agents'), pickCount),
      h('div', { class: 'toolbar' },
        h('div', { class: 'filters' }, field({ label: 'Agents to choose from', input: scopeSel }), field({ label: 'Find by name', input: findInput })),
        h('div', { class: 'actions' }, button('Select all', { onclick: () => setAll(true) }), button('Select none', { onclick: () => setAll(false) }))),
      pickList),
    h('section', { class: 'card stack', 'aria-labelledby': 'bulk-change-h' },
      h('h2', { id: 'bulk-change-h' }, 'Change'),
      h('fieldset', {}, h('legend', {}, 'Set environment variables'),
        h('p', { class: 'hint' }, 'Set on every selected agent, replacing its value there. Values stay masked until you show them.'),
        h('table', { class: 'env-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'New value'),
            h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
          setRows),
        addBtn),
      unsetField, mergeField),
    formErr,
    h('div', { class: 'actions' }, applyBtn));

  function readEdit() {
    formErr.hide();
    unsetField.setError('');
    mergeField.setError('');
    const edit = {};
    const set = {};
    for (const r of rows) {
      const name = r.n.value.trim();
      if (!name && !r.v.value) continue;
      if (!isValidEnvName(name)) throw new Error(`“${name || '(empty)'}” is not a variable name: use capital letters, digits and _, not starting with a digit.`);
      if (name in set) throw new Error(`${name} is set twice.`);
      set[name] = r.v.value;
    }
    if (Object.keys(set).length) edit.set_env = set;
    const unset = unsetInput.value.split(/[\s,]+/).filter(Boolean);
    if (unset.some((n) => !isValidEnvName(n))) {
      unsetField.setError('Use capital letters, digits and _, not starting with a digit.');
      throw new Error('Fix the highlighted fields first.');
    }
    if (unset.length) edit.unset_env = unset;
    if (mergeInput.value.trim()) {
      try {
        edit.merge_openclaw = JSON.parse(mergeInput.value);
      } catch (e) {
        mergeField.setError(`Not valid JSON: ${e.message}`);
        throw new Error('Fix the highlighted fields first.');
      }
    }
    if (!Object.keys(edit).length) throw new Error('Nothing to change: set or remove a variable, or give a fragment to merge.');
    try {
      checkEdit(edit);
    } catch (e) {
      if (e.code === 'fragment_not_object') mergeField.setError('It must be a JSON object: { … }.');
      throw new Error(e.code === 'set_and_unset' ? `${e.message}.` : `${e.message[0].toUpperCase()}${e.message.slice(1)}.`);
    }
    return edit;
  }

  // ---------------------------------------------------------------- run
  const progress = h('progress', { class: 'bulk-progress', max: '1', value: '0', 'aria-label': 'Config change progress' });
  const progressText = h('p', { class: 'muted', 'aria-live': 'polite' });
  const totals = h('p', { class: 'bulk-totals', role: 'status' });
  const resultsBody = h('tbody');
  const retryBtn = button('Retry failed', { iconName: 'rotate', hidden: true });
  const resultsCard = h('section', { class: 'card stack', 'aria-labelledby': 'bulk-results-h', hidden: true },
    h('div', { class: 'card-head' }, h('h2', { id: 'bulk-results-h' }, 'Results'), retryBtn),
    progress, progressText, totals,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table bulk-results' },
      h('caption', { class: 'sr-only' }, 'Result per agent'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'Result'))),
      resultsBody)));

  const results = new Map();
  const resultRows = new Map();
  let lastEdit = null;
  let running = false;
  ctx.setLeaveGuard(() => running);

  function paintTotals() {
    const by = (s) => [...results.values()].filter((r) => r.state === s).length;
    const parts = [[APPLIED, 'applied'], [UNCHANGED, 'already up to date'], [NO_SECRET, 'without an encryption secret'], [FAILED, 'failed']]
      .map(([s, text]) => [by(s), text]).filter(([n]) => n).map(([n, text]) => `${n} ${text}`);
    totals.textContent = parts.join(' · ');
    const failed = by(FAILED);
    retryBtn.hidden = running || failed === 0;
    retryBtn.querySelector('span').textContent = `Retry ${failed} failed`;
  }

  function paintResult(agent, r, into) {
    const cell = h('td', { 'data-label': 'Result' }, h('span', { class: `tag ${STATE_TAG[r.state] ?? ''}` }, describeResult(r)));
    const tr = h('tr', { dataset: { id: agent.id, state: r.state } },
      h('th', { scope: 'row', 'data-label': 'Agent' }, h('a', { href: `#/agents/${agent.id}` }, agent.name)), cell);
    const old = resultRows.get(agent.id);
    if (old?.isConnected) old.replaceWith(tr);
    else into.append(tr);
    resultRows.set(agent.id, tr);
  }

  // Results are painted in batches (a few times a second), not one by one: with
  // a thousand agents, re-laying out the table per result would cost more than the work.
  const pending = new Map();
  let flushTimer = null;
  let runState = { done: 0, total: 0 };
  function flush() {
    clearTimeout(flushTimer);
    flushTimer = null;
    if (!ctx.isCurrent()) return;
    const fresh = document.createDocumentFragment();
    for (const [agent, r] of pending.values()) paintResult(agent, r, fresh);
    pending.clear();
    resultsBody.append(fresh);
    progress.value = runState.done;
    progressText.textContent = `${runState.done} of ${runState.total} done`;
    paintTotals();
  }

  async function run(targets, edit) {
    const wrapKey = await app.wrapKey();
    if (!wrapKey) throw new Error('The master key was locked. Unlock and try again.');
    running = true;
    resultsCard.hidden = false;
    retryBtn.hidden = true;
    progress.max = targets.length;
    runState = { done: 0, total: targets.length };
    const started = performance.now();
    const byId = new Map(targets.map((a) => [a.id, a]));
    for (const a of targets) results.delete(a.id);
    flush();
    try {
      await changeMany(targets.map((a) => a.id), edit, {
        api: { get: (id) => api.agents.get(id), putConfig: (id, env) => api.agents.putConfig(id, env) },
        wrapKey,
        userId: app.session.user.id,
      }, {
        onResult: (id, r, done) => {
          results.set(id, r);
          pending.set(id, [byId.get(id), r]);
          runState.done = done;
          flushTimer ??= setTimeout(flush, 250);
        },
      });
    } finally {
      running = false;
      flush();
    }
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    progressText.textContent = `${targets.length} of ${targets.length} done in ${secs} s`;
    const failed = targets.filter((a) => results.get(a.id)?.state === FAILED).length;
    toast(failed ? `${failed} of ${targets.length} agents failed. Retry them from the results.` : `Config changed on ${targets.length} agents.`,
      failed ? 'error' : 'info');
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (running) return;
    let edit;
    try {
      edit = readEdit();
    } catch (e2) {
      formErr.showText(e2.message);
      return;
    }
    const targets = selected();
    if (!targets.length) {
      formErr.showText('Select at least one agent.');
      return;
    }
    const ok = await confirmDialog({
      title: `Change the config of ${targets.length} agent${targets.length === 1 ? '' : 's'}?`,
      message: 'Each selected agent gets a new config version, which it applies within seconds if it is running.',
      confirmLabel: 'Apply change',
    });
    if (!ok) return;
    lastEdit = edit;
    await busy(applyBtn, () => run(targets, edit).catch((e2) => formErr.show(e2)), 'Applying…');
  });

  retryBtn.addEventListener('click', () => {
    if (running || !lastEdit) return;
    const failed = agents.filter((a) => results.get(a.id)?.state === FAILED);
    const known = new Set(failed.map((a) => a.id));
    for (const [id, r] of results) {
      if (r.state === FAILED && !known.has(id)) failed.push({ id, name: resultRows.get(id)?.querySelector('a')?.textContent ?? id });
    }
    busy(retryBtn, () => run(failed, lastEdit).catch((e2) => formErr.show(e2)), 'Retrying…');
  });

  view.append(header,
    h('p', { class: 'muted' }, 'Set or remove environment variables, or merge OpenClaw settings, on many agents at once. '
      + 'Each config is decrypted, changed and encrypted again in this browser; every agent gets a new version.'),
    form, resultsCard);
  await loadAgents();
  if (!ctx.isCurrent()) return;
  if (query.get('fleet') && !scope) toast('That fleet no longer exists; showing all agents.');
}
