// DOM helpers shared by every view: element building (never innerHTML, so
// nothing the server sends can become markup), form fields, toasts, error
// boxes, relative times and copy-to-clipboard.

import { icon } from './icons.js';

let idSeq = 0;
export function uid(prefix = 'f') {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** A labelled form control: label, control, optional hint, and an error line. */
export function field({ label, input, hint, optional = false }) {
  const id = input.id || uid('in');
  input.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const errEl = h('p', { class: 'field-error', id: `${id}-err`, hidden: true });
  input.setAttribute('aria-describedby', [hintEl?.id, errEl.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' },
    h('label', { for: id }, label, optional ? h('span', { class: 'optional' }, ' (optional)') : null),
    input, hintEl, errEl);
  wrap.setError = (msg) => {
    errEl.textContent = msg || '';
    errEl.hidden = !msg;
    if (msg) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  return wrap;
}

export function button(label, { variant = 'secondary', type = 'button', iconName, onclick, ...rest } = {}) {
  return h('button', { type, class: `btn btn-${variant}`, onclick, ...rest },
    iconName ? icon(iconName) : null, h('span', {}, label));
}

/** Disables a button while `fn` runs and marks it busy, returning fn's result. */
export async function busy(btn, fn, busyLabel) {
  const span = btn.querySelector('span');
  const before = span?.textContent;
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  if (busyLabel && span) span.textContent = busyLabel;
  try {
    return await fn();
  } finally {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
    if (busyLabel && span) span.textContent = before;
  }
}

// ------------------------------------------------------------------ messages

export function toast(message, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const t = h('div', { class: `toast toast-${kind}` }, message);
  region.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** Text for any error: API errors carry {error, message}; others are generic. */
export function errorText(err) {
  if (err && err.code && err.message) return err.message;
  return 'Something went wrong. Please try again.';
}

/** A region that announces errors (role=alert) under a form or a section. */
export function errorBox() {
  const box = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  box.show = (err, extra) => {
    clear(box);
    const code = err?.code && err.code !== 'client' ? h('code', { class: 'err-code' }, err.code) : null;
    append(box, [icon('alert'), h('div', {}, h('p', {}, errorText(err), code ? ' ' : null, code), extra ?? null)]);
    box.hidden = false;
  };
  box.showText = (text) => box.show({ code: 'client', message: text });
  box.hide = () => { box.hidden = true; clear(box); };
  return box;
}

export function callout(kind, title, ...body) {
  return h('div', { class: `callout callout-${kind}` },
    icon(kind === 'danger' || kind === 'warn' ? 'alert' : 'info'),
    h('div', {}, title ? h('p', { class: 'callout-title' }, title) : null, ...body));
}

// --------------------------------------------------------------------- time

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'long' });
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function relTime(ts, now = Date.now() / 1000) {
  const d = Math.round(ts - now);
  const a = Math.abs(d);
  if (a < 10) return 'just now';
  if (a < 60) return rtf.format(d, 'second');
  if (a < 3600) return rtf.format(Math.round(d / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(d / 3600), 'hour');
  return rtf.format(Math.round(d / 86400), 'day');
}

export function fmtDateTime(ts) {
  return dtf.format(new Date(ts * 1000));
}

/** <time> showing a relative time that stays fresh (see startClock). */
export function timeEl(ts, never = 'Never') {
  if (!ts) return h('span', { class: 'muted' }, never);
  return h('time', {
    datetime: new Date(ts * 1000).toISOString(), title: fmtDateTime(ts), dataset: { ts: String(ts) },
  }, relTime(ts));
}

export function startClock() {
  setInterval(() => {
    const now = Date.now() / 1000;
    for (const t of document.querySelectorAll('time[data-ts]')) {
      const text = relTime(Number(t.dataset.ts), now);
      if (t.textContent !== text) t.textContent = text;
    }
  }, 5000);
}

// --------------------------------------------------------------------- copy

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API is missing outside secure contexts (plain http on a LAN).
    const ta = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

export function copyButton(getText, label = 'Copy', accessibleName) {
  const btn = button(label, { iconName: 'copy', variant: 'ghost', 'aria-label': accessibleName });
  btn.addEventListener('click', async () => {
    const ok = await copyText(getText());
    const span = btn.querySelector('span');
    span.textContent = ok ? 'Copied' : 'Copy failed';
    toast(ok ? 'Copied to the clipboard.' : 'Could not copy: select the text and copy it by hand.', ok ? 'info' : 'error');
    setTimeout(() => { span.textContent = label; }, 2000);
  });
  return btn;
}

/** A read-only, labelled, copyable secret value (fully visible: the user is here to copy it). */
export function secretField(label, value, hint) {
  const input = h('input', {
    type: 'text', class: 'mono secret-input', readonly: true, value, spellcheck: 'false',
    autocomplete: 'off', autocapitalize: 'off',
  });
  input.addEventListener('focus', () => input.select());
  const f = field({ label, input, hint });
  const row = h('div', { class: 'input-row' });
  f.replaceChild(row, input);
  row.append(input, copyButton(() => input.value, 'Copy', `Copy ${label.toLowerCase()}`));
  return f;
}

// ------------------------------------------------------------------- badges

const STATUS_TEXT = { healthy: 'Healthy', idle: 'Idle', error: 'Error', offline: 'Offline', pending: 'Pending' };
export const STATUSES = Object.keys(STATUS_TEXT);

export function statusBadge(status) {
  const s = STATUS_TEXT[status] ? status : 'pending';
  return h('span', { class: `badge badge-${s}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), STATUS_TEXT[s]);
}

export function fmtNum(v, digits = 1) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits).replace(/\.0+$/, '') : '—';
}

export function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' }, h('h1', { tabindex: '-1' }, title),
    actions.length ? h('div', { class: 'actions' }, ...actions) : null);
}
