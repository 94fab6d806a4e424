// The agent page's "Config history" card: the kept versions (number, time,
// which session saved it), a decrypted diff of any two while unlocked, and
// Restore, which re-seals an old version's content as a NEW version (stored
// + 1) so the agent's rollback protection stays intact. Envelopes are
// decrypted here only; nothing decrypted is sent anywhere.

import * as api from '../api.js';
import { openConfig, parseEnvelope, sealConfig, unwrapSecret } from '../crypto.js';
import { diffDocuments, pathText } from '../config-diff.js';
import { checkNext, recordSeen, RollbackError, seenVersion } from '../rollback.js';
import { h, button, busy, errorBox, field, timeEl, toast } from '../ui.js';
import { icon } from '../icons.js';
import { confirmDialog } from '../dialog.js';

const MASK = '••••••••';

function show(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function historySection(initial, ctx, { onRestored }) {
  const { app } = ctx;
  let detail = initial;
  let versions = [];
  let sessionId = null;
  const err = errorBox();
  const list = h('div', { class: 'history-list' });
  const compareArea = h('div', { class: 'stack' });
  const diffOut = h('div', { class: 'diff', 'aria-live': 'polite' });
  const el = h('section', { class: 'card', 'aria-labelledby': 'history-h' },
    h('div', { class: 'card-head' }, h('div', {},
      h('h2', { id: 'history-h' }, 'Config history'),
      h('p', { class: 'muted versions' }, 'The last 20 versions are kept. Compare two, or restore an old one as a new version.'))),
    err, list, compareArea, diffOut);

  const savedBy = (by) => {
    if (by === sessionId) return h('span', {}, 'this session');
    if (by === 'operator') return h('span', {}, 'operator command');
    return h('span', {}, 'session ', h('code', {}, by));
  };

  async function secret() {
    if (!detail.wrapped_secret) detail = await api.agents.get(detail.id);
    const wk = await app.wrapKey();
    if (!wk || !detail.wrapped_secret) return null;
    return unwrapSecret(wk, app.session.user.id, detail.id, detail.wrapped_secret);
  }

  /** Version `v`'s document, decrypted here; its envelope must say that version. */
  async function open(v, es) {
    const got = await api.agents.configVersion(detail.id, v);
    if (parseEnvelope(got.config).version !== v) throw new Error(`the server answered another version than ${v}`);
    return openConfig(es, detail.id, got.config);
  }

  function paintList() {
    if (!versions.length) {
      list.replaceChildren(h('p', { class: 'muted' }, 'No version saved since history began.'));
      compareArea.replaceChildren();
      return;
    }
    const current = detail.config_version ?? 0;
    list.replaceChildren(h('table', { class: 'table history' },
      h('caption', { class: 'sr-only' }, 'Saved config versions'),
      h('thead', {}, h('tr', {}, ...['Version', 'Saved', 'Saved by'].map((c) => h('th', { scope: 'col' }, c)),
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      h('tbody', {}, ...versions.map((v) => h('tr', { dataset: { version: String(v.version) } },
        h('th', { scope: 'row', 'data-label': 'Version' }, String(v.version),
          v.version === current ? h('span', { class: 'tag tag-ok' }, 'current') : null),
        h('td', { 'data-label': 'Saved' }, timeEl(v.saved_at)),
        h('td', { 'data-label': 'Saved by' }, savedBy(v.saved_by)),
        h('td', { class: 'row-actions' }, v.version === current ? null : button('Restore', {
          variant: 'ghost', iconName: 'rotate', 'aria-label': `Restore version ${v.version}`,
          onclick: (e) => restore(v.version, e.currentTarget),
        })))))));
    paintCompare();
  }

  function paintCompare() {
    if (versions.length < 2) {
      compareArea.replaceChildren();
      return;
    }
    if (app.keyState() !== 'unlocked') {
      compareArea.replaceChildren(h('p', { class: 'muted' }, icon('lock'), ' ',
        h('a', { href: `#/unlock?next=${encodeURIComponent(`/agents/${detail.id}`)}` }, 'Unlock'),
        ' to compare versions or restore one.'));
      return;
    }
    const opts = (selected) => versions.map((v) => h('option', { value: String(v.version), selected: v.version === selected }, `Version ${v.version}`));
    const older = h('select', {}, ...opts(versions[1].version));
    const newer = h('select', {}, ...opts(versions[0].version));
    const go = button('Show differences', { variant: 'primary', type: 'submit' });
    const form = h('form', { class: 'inline-form', novalidate: true, 'aria-label': 'Compare versions' },
      field({ label: 'From version', input: older }), field({ label: 'To version', input: newer }), go);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(go, () => compare(Number(older.value), Number(newer.value)), 'Decrypting…');
    });
    compareArea.replaceChildren(form);
  }

  async function compare(a, b) {
    err.hide();
    diffOut.replaceChildren();
    try {
      const es = await secret();
      if (!es) throw new Error('unlock first');
      const [docA, docB] = await Promise.all([open(a, es), open(b, es)]);
      renderDiff(a, b, diffDocuments(docA, docB));
    } catch (e) {
      err.showText(`Could not decrypt the versions: ${e.message ?? 'error'}.`);
    }
  }

  function renderDiff(a, b, changes) {
    const title = h('h3', {}, `Changes from version ${a} to version ${b}`);
    if (!changes.length) {
      diffOut.replaceChildren(title, h('p', { class: 'muted' }, 'The two versions hold the same config.'));
      return;
    }
    let revealed = false;
    const cell = (c, side) => {
      const v = c[side];
      if (v === undefined) return h('span', { class: 'muted' }, '—');
      return h('code', { class: 'break' }, c.section === 'env' && !revealed ? MASK : show(v));
    };
    const tbody = h('tbody');
    const paint = () => tbody.replaceChildren(...changes.map((c) => h('tr', { class: `diff-${c.kind}` },
      h('th', { scope: 'row', 'data-label': 'Setting' }, h('code', {}, pathText(c)),
        h('span', { class: 'muted' }, c.section === 'env' ? ' (.env)' : ' (openclaw.json)')),
      h('td', { 'data-label': 'Change' }, c.kind),
      h('td', { 'data-label': `Version ${a}` }, cell(c, 'before')),
      h('td', { 'data-label': `Version ${b}` }, cell(c, 'after')))));
    const toggle = button('Show values', { iconName: 'eye', 'aria-pressed': 'false' });
    toggle.addEventListener('click', () => {
      revealed = !revealed;
      toggle.setAttribute('aria-pressed', String(revealed));
      toggle.querySelector('span').textContent = revealed ? 'Hide values' : 'Show values';
      paint();
    });
    paint();
    diffOut.replaceChildren(h('div', { class: 'card-head' }, title, toggle),
      h('table', { class: 'table diff-table' },
        h('caption', { class: 'sr-only' }, `Changes from version ${a} to version ${b}`),
        h('thead', {}, h('tr', {}, ...['Setting', 'Change', `Version ${a}`, `Version ${b}`].map((c) => h('th', { scope: 'col' }, c)))),
        tbody));
  }

  async function restore(v, btn) {
    err.hide();
    if (app.keyState() !== 'unlocked') {
      err.showText('Unlock first: restoring decrypts the old version and encrypts it again in this browser.');
      return;
    }
    const ok = await confirmDialog({
      title: `Restore version ${v}?`,
      message: `Its content is saved again as a new version (after ${detail.config_version}), which the agent applies like any other change. `
        + 'Nothing is lost: the versions in between stay in the history.',
      confirmLabel: `Restore version ${v}`,
    });
    if (!ok) return;
    await busy(btn, async () => {
      try {
        const es = await secret();
        const doc = await open(v, es);
        detail = await api.agents.get(detail.id);
        const next = (detail.config_version ?? 0) + 1;
        checkNext(next, seenVersion(app.session.user.id, detail.id));
        const envelope = await sealConfig(es, detail.id, next, doc);
        await api.agents.putConfig(detail.id, envelope, { restoredFrom: v });
        recordSeen(app.session.user.id, detail.id, next);
        toast(`Version ${v} restored as version ${next}.`);
        detail = { ...detail, config_version: next };
        await load();
        onRestored?.();
      } catch (e) {
        if (e instanceof RollbackError) err.showText(`${e.message} Nothing was restored.`);
        else if (e.code === 'version_conflict') err.showText('Someone saved a new version meanwhile. Look at the history again, then restore.');
        else err.show(e.code ? e : { code: 'client', message: `Could not restore: ${e.message ?? 'error'}.` });
        await load().catch(() => {});
      }
    }, 'Restoring…');
  }

  async function load() {
    const [res, me] = await Promise.all([api.agents.configHistory(detail.id), sessionId ? null : api.auth.me()]);
    if (me) sessionId = me.session_id;
    if (!ctx.isCurrent()) return;
    versions = res.versions ?? [];
    paintList();
  }

  return {
    el,
    load,
    /** A live Agent update: reload when another version was stored. */
    update(a) {
      const moved = a.config_version !== detail.config_version;
      detail = { ...detail, ...a, config: detail.config, wrapped_secret: detail.wrapped_secret };
      if (moved) load().catch(() => {});
    },
  };
}
