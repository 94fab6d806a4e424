// The top bar: brand, main navigation, the master-key state (Lock / Unlock),
// the live-connection indicator and Log out. Drawn again only when what it shows changes
// (user, navigation or not, key state, the Unlock link's way back); a route change within
// the same bar only moves the current-page mark.

import { h, clear } from './ui.js';
import { icon, logo } from './icons.js';
import { onLiveState } from './live.js';

let unsubscribeLive = null;
let drawn = null; // what the bar shows now (see barKey)

const LIVE_TEXT = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline', off: '' };

function barKey(app, nav) {
  if (!app.session.user) return null;
  const state = nav === null || nav === undefined ? 'bare' : app.keyState();
  return JSON.stringify([app.session.user.id, state, state === 'unlocked' ? '' : app.currentPath()]);
}

export function renderTopbar(el, app, nav) {
  const key = barKey(app, nav);
  if (key !== null && key === drawn && el.isConnected) {
    for (const a of el.querySelectorAll('nav.mainnav a')) {
      if (a.getAttribute('href') === `#/${nav}`) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    return;
  }
  drawn = key;
  unsubscribeLive?.();
  unsubscribeLive = null;
  clear(el);
  if (!app.session.user) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const brand = h('a', { class: 'brand', href: '#/agents' }, logo(), h('span', {}, 'OpenClaw Fleet'));
  const right = h('div', { class: 'topbar-right' });

  if (nav !== null && nav !== undefined) {
    const live = h('span', { class: 'live', role: 'status', title: 'Agent updates arrive live from the server' });
    unsubscribeLive = onLiveState((s) => {
      live.className = `live live-${s}`;
      live.setAttribute('aria-label', `Live updates: ${LIVE_TEXT[s] || 'off'}`);
      live.replaceChildren(h('span', { class: 'dot', 'aria-hidden': 'true' }), LIVE_TEXT[s] ?? '');
    });
    right.append(live, keyControl(app));
  }
  right.append(h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => app.logout() },
    icon('logout'), h('span', {}, 'Log out')));

  const links = nav === null || nav === undefined ? null : h('nav', { class: 'mainnav', 'aria-label': 'Main' },
    ...[['agents', 'Agents'], ['fleets', 'Fleets'], ['activity', 'Activity'], ['alerts', 'Alerts'], ['settings', 'Settings']].map(([key, label]) =>
      h('a', { href: `#/${key}`, 'aria-current': key === nav ? 'page' : null }, label)));

  el.append(h('div', { class: 'topbar-inner' }, brand, links, right));
}

function keyControl(app) {
  const state = app.keyState();
  const next = encodeURIComponent(app.currentPath());
  if (state === 'unlocked') {
    return h('button', {
      type: 'button', class: 'btn btn-ghost key-state key-unlocked', onclick: () => app.lock(),
      title: 'Master key unlocked in this tab. Click to lock.',
    }, icon('unlock'), h('span', {}, 'Lock'));
  }
  if (state === 'locked') {
    return h('a', { class: 'btn btn-ghost key-state key-locked', href: `#/unlock?next=${next}`, title: 'Config values are hidden while locked' },
      icon('lock'), h('span', {}, 'Unlock'));
  }
  return h('a', { class: 'btn btn-ghost key-state key-none', href: `#/master-key?next=${next}` },
    icon('key'), h('span', {}, 'Set up master key'));
}
