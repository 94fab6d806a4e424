// Live updates from the server-sent event stream GET /api/events
// (`event: agent` with the Agent JSON, `agent_deleted` with {id}, `fleet`
// with the Fleet JSON, `fleet_deleted` with {id}, `resync` when events were
// lost, `agents_changed` with {count} on a scoped stream). One stream per tab,
// shared by the views through subscribe(); its connection state drives the
// header's "Live" indicator. After the stream comes back from a drop (a server
// restart, a network blip) subscribers are told to resync: whatever changed
// while the page was away arrived as no event.
//
// Scope: a view that shows few agents of many names them with watchAgents()
// (the list: its page's rows; an agent's page: that agent). While any view
// watches, the stream is `?watch=<their ids>&others=coarse`: those agents'
// changes one by one and first, every other agent's change only counted
// (`agents_changed`, at most once a second). With no watcher it carries every
// change. When the scope changes the new stream is opened before the old one is
// closed (the server subscribes before it answers), so no change falls between
// them; a change both carried is delivered once.

const subscribers = new Set();
const stateListeners = new Set();
/** What views watch: each an array of agent ids, or null while not known yet. */
const watchers = new Set();
/** The server's limit on watched ids. */
const MAX_WATCH = 200;
/** How long after a switch an agent event identical to the last one delivered is dropped (ms). */
const DEDUPE_FOR = 2000;

/** The stream events are taken from: { es, url }. */
let current = null;
/** A stream of another scope, opening; it replaces `current` once open. */
let pending = null;
let onClosedFn = null;
let started = false;
let scheduled = false;
let retryTimer = null;
let state = 'off';
/** The stream has been open since startLive(): any later open is a reconnect. */
let wasLive = false;
/** Agent id → the last event data delivered, kept while two streams may carry the same change. */
let recent = null;
let recentTimer = null;

function setState(s) {
  state = s;
  for (const fn of stateListeners) fn(s);
}

export function liveState() {
  return state;
}

export function onLiveState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

/**
 * onAgent(agent) for every agent change; optional onDeleted(id) when one is
 * deleted, onFleet(fleet) when a fleet is created or renamed,
 * onFleetDeleted(id), onAgentsChanged(count) when agents not watched changed
 * (scoped stream), and onResync() when the stream lost events and lists
 * should be reloaded. Returns the unsubscribe function.
 */
export function subscribe(onAgent, { onDeleted, onFleet, onFleetDeleted, onAgentsChanged, onResync } = {}) {
  const sub = { onAgent, onDeleted, onFleet, onFleetDeleted, onAgentsChanged, onResync };
  subscribers.add(sub);
  return () => subscribers.delete(sub);
}

/**
 * Scopes the stream to the agents a view shows. Until set(ids) is called the
 * stream in place is kept (no switch to a scope about to change again).
 * Returns { set(ids), release() }.
 */
export function watchAgents() {
  const w = { ids: null };
  watchers.add(w);
  return {
    set(ids) {
      w.ids = [...ids];
      schedule();
    },
    release() {
      watchers.delete(w);
      schedule();
    },
  };
}

/** The stream the views want now, or null while a watcher does not know its ids yet. */
function wantedUrl() {
  if (!watchers.size) return '/api/events';
  const ids = new Set();
  for (const w of watchers) {
    if (!w.ids) return null;
    for (const id of w.ids) ids.add(id);
  }
  const list = [...ids].sort().slice(0, MAX_WATCH);
  return `/api/events?${list.length ? `watch=${list.map(encodeURIComponent).join(',')}&` : ''}others=coarse`;
}

function schedule() {
  if (!started || scheduled) return;
  scheduled = true;
  // After the task that changed the scope: a route change releases one view's
  // watch and starts the next's, which makes one switch.
  setTimeout(() => {
    scheduled = false;
    reconcile();
  });
}

function reconcile() {
  if (!started || retryTimer) return; // (a retry after a failure opens the wanted one)
  const url = wantedUrl();
  if (url === null || url === (pending ?? current)?.url) return;
  pending?.es.close();
  pending = null;
  if (url === current?.url) return; // (back to the scope in place)
  if (current?.es.readyState === EventSource.OPEN) {
    pending = open(url);
    remember();
  } else {
    current?.es.close();
    current = open(url);
  }
}

/** Starts (or extends) the window in which an agent event already delivered is dropped. */
function remember() {
  recent ??= new Map();
  clearTimeout(recentTimer);
  recentTimer = null;
}

function forgetLater() {
  clearTimeout(recentTimer);
  recentTimer = setTimeout(() => { recent = null; }, DEDUPE_FOR);
}

function parse(e) {
  try {
    return JSON.parse(e.data);
  } catch {
    return null;
  }
}

function resync() {
  for (const sub of subscribers) sub.onResync?.();
}

/**
 * Opens the stream. States: 'connecting' (first attempt), 'live',
 * 'reconnecting' (lost after being live; the browser or we retry) and
 * 'offline' (never connected; retrying).
 */
export function startLive(onClosed) {
  stopLive();
  onClosedFn = onClosed;
  started = true;
  setState('connecting');
  // Opened once the view being drawn has said what it watches.
  schedule();
}

function open(url) {
  const es = new EventSource(url, { withCredentials: true });
  const conn = { es, url };
  const mine = () => conn === current || conn === pending;
  es.addEventListener('open', () => {
    if (conn === pending) {
      // The old stream carried every change until the new one was subscribed.
      const gapless = current?.es.readyState === EventSource.OPEN;
      current?.es.close();
      current = pending;
      pending = null;
      forgetLater();
      const reconnected = wasLive && !gapless;
      wasLive = true;
      setState('live');
      if (reconnected) resync();
      return;
    }
    if (conn !== current) return;
    const reconnected = wasLive;
    wasLive = true;
    setState('live');
    if (reconnected) resync();
  });
  es.addEventListener('agent', (e) => {
    if (!mine()) return;
    const agent = parse(e);
    if (!agent || typeof agent.id !== 'string') return;
    if (recent) {
      if (recent.get(agent.id) === e.data) return;
      recent.set(agent.id, e.data);
    }
    for (const sub of subscribers) sub.onAgent(agent);
  });
  const forward = (name, handler, valid) => es.addEventListener(name, (e) => {
    if (!mine()) return;
    const value = valid(parse(e));
    if (value === undefined) return;
    for (const sub of subscribers) sub[handler]?.(value);
  });
  const id = (d) => (typeof d?.id === 'string' ? d.id : undefined);
  forward('agent_deleted', 'onDeleted', id);
  forward('fleet', 'onFleet', (d) => (id(d) === undefined ? undefined : d));
  forward('fleet_deleted', 'onFleetDeleted', id);
  forward('agents_changed', 'onAgentsChanged', (d) => (Number.isInteger(d?.count) ? d.count : undefined));
  es.addEventListener('resync', () => {
    if (mine()) resync();
  });
  es.addEventListener('error', () => {
    if (conn === pending) {
      // The switch failed (the old stream still serves): try again later.
      if (es.readyState === EventSource.CLOSED) {
        pending = null;
        retryLater();
      }
      return;
    }
    if (conn !== current) return;
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. a 401): ask the app whether the session is
      // still valid, then try again after a pause.
      setState(wasLive ? 'reconnecting' : 'offline');
      es.close();
      current = null;
      retryLater();
    } else {
      setState(wasLive ? 'reconnecting' : 'connecting');
    }
  });
  return conn;
}

function retryLater() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(async () => {
    retryTimer = null;
    if (await onClosedFn()) reconcile();
  }, 5000);
}

export function stopLive() {
  clearTimeout(retryTimer);
  retryTimer = null;
  current?.es.close();
  pending?.es.close();
  current = null;
  pending = null;
  started = false;
  wasLive = false;
  recent = null;
  clearTimeout(recentTimer);
  setState('off');
}
