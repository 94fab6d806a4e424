// The one door to the HTTP API (docs/api.md). Every call sends and receives
// JSON with the same-origin session cookie, turns `{error, message}` answers
// into ApiError, and hands a 401 to the app (which goes to the login page).
// Secrets only ever travel in request bodies, never in URLs.

const BASE = '/api';

export class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const DEFAULT_MESSAGES = {
  0: 'The server could not be reached. Check the connection and try again.',
  401: 'Your session has ended. Please sign in again.',
  403: 'This action is not allowed.',
  404: 'Not found.',
  413: 'The request is too large.',
  429: 'Too many attempts. Wait a moment and try again.',
  500: 'The server had a problem. Please try again.',
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function request(method, path, { body, expect401 = false } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, 'network_error', DEFAULT_MESSAGES[0]);
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (res.ok) return data;
  const code = typeof data?.error === 'string' ? data.error : `http_${res.status}`;
  const message = typeof data?.message === 'string' && data.message
    ? data.message
    : DEFAULT_MESSAGES[res.status] ?? (res.status >= 500 ? DEFAULT_MESSAGES[500] : 'The server refused the request.');
  const err = new ApiError(res.status, code, message, data);
  if (res.status === 429) {
    const after = Number(res.headers.get('Retry-After'));
    if (after > 0) err.message = `${message} (try again in ${after} s)`;
  }
  if (res.status === 401 && !expect401) onUnauthorized(err);
  throw err;
}

const get = (p, o) => request('GET', p, o);
const id = (x) => encodeURIComponent(x);
const qs = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};

export const auth = {
  status: () => get('/auth/status', { expect401: true }),
  register: (email, password) => request('POST', '/auth/register', { body: { email, password } }),
  login: (email, password) => request('POST', '/auth/login', { body: { email, password }, expect401: true }),
  logout: () => request('POST', '/auth/logout', { expect401: true }),
  me: () => get('/me', { expect401: true }),
};

export const me = {
  changePassword: (current_password, new_password) => request('POST', '/me/password', { body: { current_password, new_password } }),
  sessions: () => get('/me/sessions'),
  endSession: (sessionId) => request('DELETE', `/me/sessions/${id(sessionId)}`),
};

export const masterKey = {
  get: () => get('/me/master-key'),
  put: (body) => request('PUT', '/me/master-key', { body }),
};

// The fleet list as last read, kept for the agent list's names and filter (see fleets.kept).
let fleetsKept = null;
let fleetsKeptList = null;
/** Forgets the kept list when a write settles (either way: a failed write may have landed). */
const forgettingFleets = (p) => p.finally(() => fleets.forget());

export const fleets = {
  list: () => get('/fleets'),
  /**
   * The fleets, read once and kept until fleets.forget() (any fleet change: the app calls it
   * on live fleet events, a resync, a (re)connected stream and a session change; this
   * module on its own fleet writes). For names, not for agent counts.
   */
  kept() {
    if (!fleetsKept) {
      const asked = get('/fleets').then(({ fleets: list }) => {
        if (fleetsKept === asked) fleetsKeptList = list;
        return list;
      });
      asked.catch(() => { if (fleetsKept === asked) fleets.forget(); });
      fleetsKept = asked;
    }
    return fleetsKept;
  },
  /** The kept list if it has come, else null (to draw names without waiting). */
  keptNow: () => fleetsKeptList,
  forget() {
    fleetsKept = null;
    fleetsKeptList = null;
  },
  create: (name) => forgettingFleets(request('POST', '/fleets', { body: { name } })),
  rename: (fleetId, name) => forgettingFleets(request('PATCH', `/fleets/${id(fleetId)}`, { body: { name } })),
  remove: (fleetId) => forgettingFleets(request('DELETE', `/fleets/${id(fleetId)}`)),
};

export const agents = {
  /** Keyset pages: pass the previous page's `next_cursor` as `cursor` (same filters and sort). */
  list: ({ fleet_id, status, q, sort, cursor, limit = 50 } = {}) => get(`/agents${qs({ fleet_id, status, q, sort, cursor, limit })}`),
  get: (agentId) => get(`/agents/${id(agentId)}`),
  create: (body) => request('POST', '/agents', { body }),
  /** Only the fields given change; null clears fleet_id or gateway_url. */
  update: (agentId, changes) => request('PATCH', `/agents/${id(agentId)}`, { body: changes }),
  remove: (agentId) => request('DELETE', `/agents/${id(agentId)}`),
  putWrappedSecret: (agentId, body) => request('PUT', `/agents/${id(agentId)}/wrapped-secret`, { body }),
  putConfig: (agentId, config, { restoredFrom } = {}) => request('PUT', `/agents/${id(agentId)}/config`, {
    body: restoredFrom ? { config, restored_from: restoredFrom } : { config },
  }),
  configHistory: (agentId) => get(`/agents/${id(agentId)}/config/history`),
  configVersion: (agentId, version) => get(`/agents/${id(agentId)}/config/history/${encodeURIComponent(version)}`),
  rotateSecret: (agentId) => request('POST', `/agents/${id(agentId)}/rotate-secret`),
  /** Issues a one-time enrollment token; an HMAC agent becomes an Ed25519 one (its secret is deleted). */
  enrollmentToken: (agentId) => request('POST', `/agents/${id(agentId)}/enrollment-token`),
  metrics: (agentId, since) => get(`/agents/${id(agentId)}/metrics${qs({ since })}`),
};

export const activity = {
  /** Newest first; `before` is the `next_before` of the previous page. */
  list: ({ before, limit = 50, object_id } = {}) => get(`/activity${qs({ before, limit, object_id })}`),
};

export const alerts = {
  list: () => get('/alerts/rules'),
  create: (body) => request('POST', '/alerts/rules', { body }),
  update: (ruleId, changes) => request('PATCH', `/alerts/rules/${id(ruleId)}`, { body: changes }),
  remove: (ruleId) => request('DELETE', `/alerts/rules/${id(ruleId)}`),
  /** Newest first; `before` is the `next_before` of the previous page. */
  deliveries: ({ before, limit = 50, rule_id } = {}) => get(`/alerts/deliveries${qs({ before, limit, rule_id })}`),
};

export const policies = {
  list: () => get('/policies'),
};

/** Every agent of the owner (or of one fleet), page by page. */
export async function allAgents(limit = 100, { fleet_id } = {}) {
  const out = [];
  let cursor;
  for (;;) {
    const res = await agents.list({ fleet_id, cursor, limit });
    out.push(...(res.agents ?? []));
    if (!res.next_cursor) return out;
    cursor = res.next_cursor;
  }
}
