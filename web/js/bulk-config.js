// One config change applied to many agents from the browser (issue 11 item 2).
// For each agent: read its detail, unwrap its ENCRYPTION_SECRET with the
// unlocked wrap key, open the current envelope under the rollback check
// (rollback.js), apply the edit (config-edits.js, the semantics shared with
// the operator CLI), seal stored + 1 and upload it with the server's version
// check; a lost race (409) re-reads and re-applies, a bounded number of times.
// Agents run a few at a time. Nothing decrypted leaves this module except
// inside a new envelope.

import { sealConfig, unwrapSecret } from './crypto.js';
import { applyEdit } from './config-edits.js';
import { checkNext, openCurrent, recordSeen, seenVersion } from './rollback.js';

/** Saves tried per agent before a conflict is reported (as the CLI). */
export const MAX_ATTEMPTS = 5;
export const DEFAULT_CONCURRENCY = 8;

/** Result states, one per agent. */
export const APPLIED = 'applied';
export const UNCHANGED = 'unchanged';
export const NO_SECRET = 'no_secret';
export const FAILED = 'failed';

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Applies `edit` to one agent's config. `api` is {get(id), putConfig(id, envelope)}.
 * Returns {state, version?, retries?, error?}; never throws.
 */
export async function changeOne(agentId, edit, { api, wrapKey, userId, storage }) {
  let retries = 0;
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const detail = await api.get(agentId);
      if (!detail.wrapped_secret) return { state: NO_SECRET };
      const secret = await unwrapSecret(wrapKey, userId, agentId, detail.wrapped_secret);
      const { doc, version } = await openCurrent({
        userId, agentId, secret, stored: detail.config_version ?? 0, envelope: detail.config, storage,
      });
      const { doc: next, changed } = applyEdit(doc, edit);
      if (!changed) return { state: UNCHANGED, version, retries };
      checkNext(version + 1, seenVersion(userId, agentId, storage));
      const envelope = await sealConfig(secret, agentId, version + 1, next);
      try {
        const saved = await api.putConfig(agentId, envelope);
        if (saved?.config_version !== version + 1) {
          throw new Error(`the server says it stored version ${saved?.config_version} instead of ${version + 1}`);
        }
        recordSeen(userId, agentId, version + 1, storage);
        return { state: APPLIED, version: version + 1, retries };
      } catch (e) {
        if (e?.code !== 'version_conflict' || attempt + 1 >= MAX_ATTEMPTS) throw e;
        retries += 1;
        await pause((20 + Math.random() * 80) * 2 ** attempt);
      }
    }
  } catch (e) {
    return { state: FAILED, retries, error: e, code: e?.code ?? e?.name ?? 'error' };
  }
  return { state: FAILED, retries, code: 'version_conflict' };
}

/**
 * Runs changeOne over `ids`, at most `concurrency` at a time; calls
 * onResult(id, result, doneCount) as each finishes. Resolves to a Map id → result.
 */
export async function changeMany(ids, edit, deps, { concurrency = DEFAULT_CONCURRENCY, onResult } = {}) {
  const results = new Map();
  let next = 0;
  async function worker() {
    while (next < ids.length) {
      const id = ids[next];
      next += 1;
      const result = await changeOne(id, edit, deps);
      results.set(id, result);
      onResult?.(id, result, results.size);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  return results;
}

/** Text for a result, with no value in it. */
export function describeResult(r) {
  const retried = r.retries ? ` (conflict retried ${r.retries}×)` : '';
  switch (r.state) {
    case APPLIED: return `Applied as version ${r.version}${retried}`;
    case UNCHANGED: return `Already up to date (version ${r.version})`;
    case NO_SECRET: return 'Agent has no encryption secret yet';
    default: return `Failed: ${r.error?.message ?? r.code}${retried}`;
  }
}
