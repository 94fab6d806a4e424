// Live agent updates from the server-sent event stream GET /api/events
// (`event: agent`, data = Agent JSON). One EventSource per tab, shared by the
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

/** fn(agent) for every agent change; returns the unsubscribe function. */
export function subscribe(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

export function startLive(onClosed) {
  stopLive();
  setState('connecting');
  source = new EventSource('/api/events', { withCredentials: true });
  source.addEventListener('open', () => setState('live'));
  source.addEventListener('agent', (e) => {
    let agent;
    try { agent = JSON.parse(e.data); } catch { return; }
    if (!agent || typeof agent.id !== 'string') return;
    for (const fn of subscribers) fn(agent);
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
