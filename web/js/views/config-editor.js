// The decrypted config editor: env vars as a name/value table (values masked
// until revealed; names checked live), the `openclaw` fragment as JSON, and
// Save = seal a new envelope with version stored + 1 and PUT it (never at or
// below a version this browser has seen: rollback.js). A 409
// version_conflict is explained, with a way to reload.

import * as api from '../api.js';
import { isValidEnvName, isValidEnvValue, sealConfig } from '../crypto.js';
import { checkNext, RollbackError } from '../rollback.js';
import { h, button, busy, errorBox, toast, uid } from '../ui.js';
import { icon } from '../icons.js';

const NAME_RULE = 'Use capital letters, digits and _, not starting with a digit.';
const VALUE_RULE = 'This value cannot be written to the .env file: it holds a line break, or \' together with " (or \\ or $) and `.';

export function configEditor({ agent, secret, doc, version, seen = () => 0, userReload, onSaved }) {
  const rowsEl = h('tbody');
  const rows = [];
  const err = errorBox();
  const conflict = h('div', { class: 'alert alert-warn', role: 'alert', hidden: true });
  const dirtyNote = h('span', { class: 'muted dirty', 'aria-live': 'polite' });
  let base = version;
  let dirty = false;
  const markDirty = () => { dirty = true; dirtyNote.textContent = 'Unsaved changes'; };

  function addRow(name = '', value = '') {
    const n = h('input', { type: 'text', class: 'mono', value: name, spellcheck: 'false', autocomplete: 'off', autocapitalize: 'characters' });
    const v = h('input', { type: 'password', class: 'mono', value, spellcheck: 'false', autocomplete: 'off' });
    const reveal = h('button', { type: 'button', class: 'btn btn-ghost icon-btn', 'aria-pressed': 'false' }, icon('eye'));
    const remove = h('button', { type: 'button', class: 'btn btn-ghost-danger icon-btn' }, icon('trash'));
    const msg = h('p', { class: 'field-error', id: uid('env-err'), hidden: true });
    n.setAttribute('aria-describedby', msg.id);
    const row = { n, v, msg, tr: null };
    const label = () => {
      const index = `variable ${rows.indexOf(row) + 1}`;
      const shown = n.value.trim() || index;
      n.setAttribute('aria-label', `Name of ${index}`);
      v.setAttribute('aria-label', `Value of ${shown}`);
      reveal.setAttribute('aria-label', `Show ${shown}`);
      remove.setAttribute('aria-label', `Remove ${shown}`);
    };
    n.addEventListener('input', () => { label(); checkNames(); markDirty(); });
    v.addEventListener('input', markDirty);
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
      checkNames();
      markDirty();
      addBtn.focus();
    });
    row.label = label;
    row.tr = h('tr', {},
      h('td', { 'data-label': 'Name' }, n, msg),
      h('td', { 'data-label': 'Value' }, h('div', { class: 'input-row' }, v, reveal)),
      h('td', { class: 'row-actions' }, remove));
    rows.push(row);
    rowsEl.append(row.tr);
    label();
    return row;
  }

  function checkNames() {
    const seen = new Map();
    let ok = true;
    for (const r of rows) {
      const name = r.n.value.trim();
      let problem = '';
      if (!name) problem = r.v.value ? 'Enter a name.' : '';
      else if (!isValidEnvName(name)) problem = NAME_RULE;
      else if (seen.has(name)) problem = `${name} is already set above.`;
      else if (!isValidEnvValue(r.v.value)) problem = VALUE_RULE;
      seen.set(name, true);
      r.msg.textContent = problem;
      r.msg.hidden = !problem;
      if (problem) r.n.setAttribute('aria-invalid', 'true');
      else r.n.removeAttribute('aria-invalid');
      ok &&= !problem;
    }
    return ok;
  }

  const addBtn = button('Add variable', { iconName: 'plus', onclick: () => { addRow().n.focus(); markDirty(); } });
  for (const [k, val] of Object.entries(doc.env ?? {})) addRow(k, val);
  if (!rows.length) addRow();

  const jsonId = uid('oc');
  const jsonErr = h('p', { class: 'field-error', id: `${jsonId}-err`, hidden: true });
  const json = h('textarea', {
    id: jsonId, class: 'mono json', rows: '8', spellcheck: 'false', 'aria-describedby': `${jsonId}-hint ${jsonId}-err`,
  });
  json.value = JSON.stringify(doc.openclaw ?? {}, null, 2);
  const parseJson = () => {
    let value;
    let problem = '';
    try {
      value = json.value.trim() ? JSON.parse(json.value) : {};
      if (value === null || typeof value !== 'object' || Array.isArray(value)) problem = 'It must be a JSON object: { … }.';
    } catch (e) {
      problem = `Not valid JSON: ${e.message}`;
    }
    jsonErr.textContent = problem;
    jsonErr.hidden = !problem;
    if (problem) json.setAttribute('aria-invalid', 'true');
    else json.removeAttribute('aria-invalid');
    return problem ? null : value;
  };
  json.addEventListener('input', () => { parseJson(); markDirty(); });

  const save = button('Save config', { variant: 'primary', type: 'submit' });
  const form = h('form', { class: 'stack config-form', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Environment variables'),
      h('p', { class: 'hint' }, 'Written to the OpenClaw .env file on the host. Values stay masked until you show them.'),
      h('table', { class: 'env-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Value'),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        rowsEl),
      addBtn),
    h('div', { class: 'field' },
      h('label', { for: jsonId }, 'OpenClaw settings (openclaw.json fragment)'),
      h('p', { class: 'hint', id: `${jsonId}-hint` }, 'A JSON object deep-merged into openclaw.json on the host.'),
      json, jsonErr),
    conflict, err,
    h('div', { class: 'actions' }, save, dirtyNote));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hide();
    const namesOk = checkNames();
    const openclaw = parseJson();
    if (!namesOk || !openclaw) {
      err.showText('Fix the highlighted fields first.');
      return;
    }
    const env = {};
    for (const r of rows) if (r.n.value.trim()) env[r.n.value.trim()] = r.v.value;
    const next = { ...doc, schema: 1, env, openclaw };
    busy(save, async () => {
      try {
        checkNext(base + 1, seen());
        const envelope = await sealConfig(secret, agent.id, base + 1, next);
        const res = await api.agents.putConfig(agent.id, envelope);
        if (res?.config_version !== base + 1) {
          err.showText(`The server says it stored version ${res?.config_version} instead of ${base + 1}. Reload before saving again.`);
          return;
        }
        base += 1;
        dirty = false;
        dirtyNote.textContent = '';
        conflict.hidden = true;
        toast(`Config version ${base} saved. The agent picks it up within seconds.`);
        onSaved?.(base);
      } catch (e2) {
        if (e2.code === 'version_conflict') showConflict(e2.body?.stored_version);
        else if (e2 instanceof RollbackError) showConflict(e2.floor);
        else err.show(e2);
      }
    }, 'Encrypting and saving…');
  });

  function showConflict(stored) {
    conflict.replaceChildren(icon('alert'), h('div', {},
      h('p', {}, `Someone else saved version ${stored ?? 'a newer version'} meanwhile. `
        + 'Reload to see it; your unsaved changes here will be lost, so copy anything you need first.'),
      button('Reload', { onclick: userReload })));
    conflict.hidden = false;
  }

  const onBeforeUnload = (e) => { if (dirty) e.preventDefault(); };
  window.addEventListener('beforeunload', onBeforeUnload);

  return {
    el: form,
    isDirty: () => dirty,
    destroy: () => window.removeEventListener('beforeunload', onBeforeUnload),
    /** The stored version moved elsewhere (live event). */
    newerStored(stored) {
      if (stored > base) showConflict(stored);
    },
  };
}
