// Dashboard entry point: session state, the hash router (#/agents,
// #/agents/<id>, #/fleets, #/activity, #/alerts, #/settings, plus the sign-in and master-key
// screens) and the top bar. Views live in views/*.js and render into a fresh
// container; whatever they subscribe to is released when the route changes.
// The router runs on `popstate`, which the browser fires inside the URL change (a link,
// location.hash, Back), so a view starts its API calls in that same task instead of one
// task and often one frame later at `hashchange` (kept for a hash changed without it).

import * as api from './api.js';
import * as keystore from './keystore.js';
import { startLive, stopLive, subscribe, onLiveState } from './live.js';
import { loadServerUrl } from './server-url.js';
import { h, clear, startClock, toast, errorBox } from './ui.js';
import { closeDialogs, confirmDialog } from './dialog.js';
import { renderTopbar } from './topbar.js';
import { renderLogin, renderFirstAccount } from './views/login.js';
import { renderMasterKeySetup, renderUnlock } from './views/masterkey.js';
import { renderAgents } from './views/agents.js';
import { renderAgent } from './views/agent.js';
import { renderFleets } from './views/fleets.js';
import { renderSettings } from './views/settings.js';
import { renderBulkConfig } from './views/bulk-config.js';
import { renderActivity } from './views/activity.js';
import { renderAlerts } from './views/alerts.js';

const ROUTES = [
  { re: /^\/login$/, view: renderLogin, title: 'Sign in', public: true },
  { re: /^\/setup$/, view: renderFirstAccount, title: 'Create the first account', public: true },
  { re: /^\/master-key$/, view: renderMasterKeySetup, title: 'Set up your encryption master key', bare: true },
  { re: /^\/unlock$/, view: renderUnlock, title: 'Unlock', bare: true },
  { re: /^\/agents$/, view: renderAgents, title: 'Agents', nav: 'agents' },
  { re: /^\/agents\/([0-9a-f-]{36})$/, view: renderAgent, title: 'Agent', nav: 'agents' },
  { re: /^\/config-change$/, view: renderBulkConfig, title: 'Change many configs', nav: 'agents' },
  { re: /^\/fleets$/, view: renderFleets, title: 'Fleets', nav: 'fleets' },
  { re: /^\/activity$/, view: renderActivity, title: 'Activity', nav: 'activity' },
  { re: /^\/alerts$/, view: renderAlerts, title: 'Alerts', nav: 'alerts' },
  { re: /^\/settings$/, view: renderSettings, title: 'Settings', nav: 'settings' },
];

const session = { user: null, masterKey: null };

export const app = {
  session,
  /** Goes to a route; `force` skips the unsaved-changes question. */
  navigate(hash, { force = false } = {}) {
    if (force) leaveGuard = null;
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  /** 'none' (no master key yet), 'locked' or 'unlocked'. */
  keyState() {
    if (!session.masterKey?.kdf) return 'none';
    return keystore.isUnlocked(session.user.id) ? 'unlocked' : 'locked';
  },
  wrapKey: () => keystore.wrapKey(session.user.id),
  async reloadMasterKey() {
    session.masterKey = await api.masterKey.get();
  },
  /** Where to go once signed in, given where the user was heading. */
  async enter(user, next) {
    api.fleets.forget();
    session.user = user;
    await app.reloadMasterKey();
    startLive(checkSession);
    const target = next && next.startsWith('/') && !next.startsWith('/login') ? `#${next}` : '#/agents';
    const state = app.keyState();
    if (state === 'none') app.navigate(`#/master-key?next=${encodeURIComponent(target.slice(1))}`);
    else if (state === 'locked') app.navigate(`#/unlock?next=${encodeURIComponent(target.slice(1))}`);
    else app.navigate(target);
  },
  async logout() {
    closeDialogs();
    keystore.lock();
    stopLive();
    try { await api.auth.logout(); } catch { /* the session is dropped locally either way */ }
    session.user = null;
    session.masterKey = null;
    api.fleets.forget();
    app.navigate('#/login', { force: true });
  },
  lock() {
    keystore.lock();
    toast('Locked. Config values are hidden until you unlock.');
  },
  currentPath: () => parse().path,
};

function parse() {
  const raw = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  const [path, q = ''] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(q) };
}

async function checkSession() {
  try {
    await api.auth.me();
    return true;
  } catch (e) {
    if (e.status === 401) sessionLost();
    return e.status !== 401;
  }
}

function sessionLost() {
  if (!session.user) return;
  session.user = null;
  session.masterKey = null;
  api.fleets.forget();
  closeDialogs();
  keystore.lock({ broadcast: false, reason: 'logout' });
  stopLive();
  toast('Your session has ended. Please sign in again.', 'error');
  const here = parse().path;
  app.navigate(`#/login${here.startsWith('/login') ? '' : `?next=${encodeURIComponent(here)}`}`, { force: true });
}

let cleanups = [];
let firstRender = true;
let leaveGuard = null;
let shownHash = '';

async function route({ force = false } = {}) {
  if (!force && leaveGuard?.() && location.hash !== shownHash) {
    const wanted = location.hash;
    history.replaceState(null, '', shownHash);
    const leave = await confirmDialog({
      title: 'Leave without saving?',
      message: 'The config has changes that are not saved. They will be lost.',
      confirmLabel: 'Leave without saving',
      danger: true,
    });
    if (!leave) return;
    history.replaceState(null, '', wanted);
  }
  leaveGuard = null;
  shownHash = location.hash;
  const { path, query } = parse();
  const match = ROUTES.map((r) => ({ r, m: path.match(r.re) })).find((x) => x.m);
  if (!match) return app.navigate(session.user ? '#/agents' : '#/login');
  const { r, m } = match;
  if (!r.public && !session.user) {
    const status = await api.auth.status().catch(() => ({ has_users: true }));
    return app.navigate(status.has_users ? `#/login?next=${encodeURIComponent(path)}` : '#/setup');
  }
  if (r.public && session.user) return app.navigate('#/agents');

  for (const fn of cleanups) fn();
  cleanups = [];
  let current = true;
  cleanups.push(() => { current = false; });
  const ctx = {
    app,
    params: m.slice(1),
    query,
    isCurrent: () => current,
    onCleanup(fn) {
      if (current) cleanups.push(fn);
      else fn();
    },
    setTitle(t) { document.title = `${t} · OpenClaw Fleet`; },
    /** fn() → true while leaving the view would lose work (asks first). */
    setLeaveGuard(fn) { if (current) leaveGuard = fn; },
  };

  ctx.setTitle(r.title);
  const main = clear(document.getElementById('main'));
  const view = h('div', { class: 'view' });
  main.append(view);
  // The view's synchronous part first: it starts its API calls before the top bar is drawn.
  const rendered = r.view(view, ctx);
  if (current) { // (a view may have gone elsewhere at once)
    document.body.classList.toggle('bare', !!(r.public || r.bare));
    renderTopbar(document.getElementById('topbar'), app, r.public || r.bare ? null : r.nav);
  }
  try {
    await rendered;
  } catch (e) {
    if (!current || e.status === 401) return;
    const box = errorBox();
    box.show(e);
    view.replaceChildren(box);
  }
  if (current && !firstRender) (view.querySelector('h1') ?? main).focus({ preventScroll: true });
  firstRender = false;
}

async function boot() {
  api.setUnauthorizedHandler(sessionLost);
  keystore.startAutoLock();
  startClock();
  keystore.onKeyChange((reason) => {
    if (!session.user) return;
    if (reason === 'idle') {
      const n = keystore.autolockMinutes();
      toast(`Locked after ${n} idle minute${n === 1 ? '' : 's'}.`);
    }
    if (reason !== 'unlock') {
      closeDialogs({ sensitiveOnly: true });
      route({ force: true });
    }
    else renderTopbar(document.getElementById('topbar'), app, ROUTES.find((r) => r.re.test(parse().path))?.nav);
  });
  document.querySelector('.skip-link')?.addEventListener('click', (e) => {
    e.preventDefault();
    document.getElementById('main').focus();
  });
  const serverUrlLoaded = loadServerUrl();
  try {
    session.user = await api.auth.me();
    await app.reloadMasterKey();
  } catch (e) {
    session.user = null;
    if (e.status !== 401) toast(e.message, 'error');
  }
  // The kept fleet list (the agent list's names) is forgotten on any fleet change and whenever
  // the stream (re)connects: changes made while it was down came as no event.
  subscribe(() => {}, { onFleet: api.fleets.forget, onFleetDeleted: api.fleets.forget, onResync: api.fleets.forget });
  onLiveState(() => api.fleets.forget());
  await serverUrlLoaded;
  const onUrl = () => { if (location.hash !== shownHash) route(); };
  window.addEventListener('popstate', onUrl);
  window.addEventListener('hashchange', onUrl);
  route();
  // After the view's synchronous part: the stream opens with the scope it asks for.
  if (session.user) startLive(checkSession);
}

boot();
