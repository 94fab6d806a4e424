// Provisioning through the owner API from Node, as a script would: a bearer
// session, fleets, agents, their browser-style encryption secrets wrapped
// under the master key (derived here from the passphrase with the account's
// kdf, exactly as web/js/crypto.js does in the browser), and sealed configs.
// Used by browser tests and benchmarks that need many agents quickly; what is
// under test still happens in the page.

import {
  deriveWrapKey, generateEncryptionSecret, sealConfig, wrapSecret,
} from '../web/js/crypto.js';

/** Signs in with a bearer token; returns an `api(method, path, body)` caller and the user. */
export async function ownerSession(url, email, password) {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login answered ${res.status}`);
  const { token, user } = await res.json();
  const api = async (method, path, body) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  return { api, user, token };
}

/** The master key's wrap key (the account must have one), and its key_check. */
export async function unlockedKey(api, passphrase) {
  const mk = await api('GET', '/api/me/master-key');
  if (mk.status !== 200 || !mk.body?.kdf) throw new Error('no master key');
  return { wk: await deriveWrapKey(passphrase, mk.body.kdf), keyCheck: mk.body.key_check };
}

function expect(r, status, what) {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function createFleetApi(api, name) {
  return expect(await api('POST', '/api/fleets', { name }), 201, 'create fleet');
}

/**
 * Creates an agent; with `key` ({wk, keyCheck, userId}) also gives it an
 * encryption secret, and with `doc` a first config (version 1).
 * Returns {id, name, agentSecret, encryptionSecret|null}.
 */
export async function provisionAgent(api, { name, fleetId, key, doc }) {
  const made = expect(await api('POST', '/api/agents', { name, fleet_id: fleetId ?? undefined }), 201, 'create agent');
  const id = made.agent.id;
  let encryptionSecret = null;
  if (key) {
    encryptionSecret = generateEncryptionSecret();
    const wrapped = await wrapSecret(key.wk, key.userId, id, encryptionSecret);
    expect(await api('PUT', `/api/agents/${id}/wrapped-secret`, { wrapped_secret: wrapped, key_check: key.keyCheck }), 200, 'wrap secret');
    if (doc) {
      const config = await sealConfig(encryptionSecret, id, 1, doc);
      expect(await api('PUT', `/api/agents/${id}/config`, { config }), 200, 'first config');
    }
  }
  return { id, name, agentSecret: made.agent_secret, encryptionSecret };
}

/** Runs `fn` over `items`, `n` at a time. */
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}
