// Live updates from the server-sent event stream GET /api/events
// (`event: agent` with the Agent JSON, `agent_deleted` with {id}, `fleet`
// with the Fleet JSON, `fleet_deleted` with {id}, `resync` when events were
// lost). One EventSource per tab, shared by the
// views through subscribe(); its connection state drives the header's
// "Live" indicator. After the stream comes back from a drop (a server
// restart, a network blip) subscribers are told to resync: whatever changed
// while the page was away arrived as no event.

const subscribers = new Set();
const stateListeners = new Set();
let source = null;
let retryTimer = null;
let state = 'off';
/** The stream has been open since startLive(): any later open is a reconnect. */
let wasLive = false;

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
 * onFleetDeleted(id), and onResync() when the stream lost events and lists
 * should be reloaded. Returns the unsubscribe function.
 */
export function subscribe(onAgent, { onDeleted, onFleet, onFleetDeleted, onResync } = {}) {
  const sub = { onAgent, onDeleted, onFleet, onFleetDeleted, onResync };
  subscribers.add(sub);
  return () => subscribers.delete(sub);
}

function parse(e) {
  try {
    return JSON.parse(e.data);
  } catch {
    return null;
  }
}

/**
 * Opens the stream. States: 'connecting' (first attempt), 'live',
 * 'reconnecting' (lost after being live; the browser or we retry) and
 * 'offline' (never connected; retrying).
 */
export function startLive(onClosed) {
  stopLive();
  setState('connecting');
  connect(onClosed);
}

function resync() {
  for (const sub of subscribers) sub.onResync?.();
}

function connect(onClosed) {
  source = new EventSource('/api/events', { withCredentials: true });
  source.addEventListener('open', () => {
    const reconnected = wasLive;
    wasLive = true;
    setState('live');
    if (reconnected) resync();
  });
  source.addEventListener('agent', (e) => {
    const agent = parse(e);
    if (!agent || typeof agent.id !== 'string') return;
    for (const sub of subscribers) sub.onAgent(agent);
  });
  source.addEventListener('agent_deleted', (e) => {
    const id = parse(e)?.id;
    if (typeof id !== 'string') return;
    for (const sub of subscribers) sub.onDeleted?.(id);
  });
  source.addEventListener('fleet', (e) => {
    const fleet = parse(e);
    if (!fleet || typeof fleet.id !== 'string') return;
    for (const sub of subscribers) sub.onFleet?.(fleet);
  });
  source.addEventListener('fleet_deleted', (e) => {
    const id = parse(e)?.id;
    if (typeof id !== 'string') return;
    for (const sub of subscribers) sub.onFleetDeleted?.(id);
  });
  source.addEventListener('resync', resync);
  source.addEventListener('error', () => {
    if (source?.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. a 401): ask the app whether the session is
      // still valid, then try again after a pause.
      setState(wasLive ? 'reconnecting' : 'offline');
      source.close();
      source = null;
      retryTimer = setTimeout(async () => {
        if (await onClosed()) connect(onClosed);
      }, 5000);
    } else {
      setState(wasLive ? 'reconnecting' : 'connecting');
    }
  });
}

export function stopLive() {
  clearTimeout(retryTimer);
  retryTimer = null;
  source?.close();
  source = null;
  wasLive = false;
  setState('off');
}
