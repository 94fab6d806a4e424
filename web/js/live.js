// Live updates from the server-sent event stream GET /api/events
// (`event: agent` with the Agent JSON, `agent_deleted` with {id}, `fleet`
// with the Fleet JSON, `fleet_deleted` with {id}, `resync` when events were
// lost). One EventSource per tab, shared by the
// views through subscribe(); its connection state drives the header's
// "Live" indicator.

const subscribers = new Set();
const stateListeners = new Set();
let source = null;
let retryTimer = null;
let state = 'off';

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

export function startLive(onClosed) {
  stopLive();
  setState('connecting');
  source = new EventSource('/api/events', { withCredentials: true });
  source.addEventListener('open', () => setState('live'));
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
  source.addEventListener('resync', () => {
    for (const sub of subscribers) sub.onResync?.();
  });
  source.addEventListener('error', () => {
    if (source?.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. a 401): ask the app whether the session is
      // still valid, then try again after a pause.
      setState('offline');
      source.close();
      source = null;
      retryTimer = setTimeout(async () => {
        if (await onClosed()) startLive(onClosed);
      }, 5000);
    } else {
      setState('connecting');
    }
  });
}

export function stopLive() {
  clearTimeout(retryTimer);
  retryTimer = null;
  source?.close();
  source = null;
  setState('off');
}
