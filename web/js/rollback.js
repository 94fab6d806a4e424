// The dashboard's rollback check (SPEC §4; docs/security.md "Rollback"). This
// browser remembers, per signed-in user and agent, the highest config version
// it has seen (opened or saved): a number in localStorage, never a secret. An
// envelope older than that, or older than the version the server says it
// stores, is refused and never shown as current nor re-sealed; the version
// compared is the one authenticated by the envelope's AAD. Same rules as the
// operator CLI's seen-versions record (crates/ctl/src/configs.rs).

import { openConfigVersioned, parseEnvelope } from './crypto.js';

export const EMPTY_DOC = Object.freeze({ schema: 1, env: Object.freeze({}), openclaw: Object.freeze({}) });

export class RollbackError extends Error {
  /** `offered` is below `floor`, which the server `stores` or this browser has `seen`. */
  constructor(offered, floor, why) {
    super(why === 'stores'
      ? `The server sent an older config (version ${offered}) than the version it says it stores (version ${floor}): possible rollback.`
      : `The server sent an older config than one you’ve already seen: possible rollback. It offers version ${offered}; this browser has already seen version ${floor}.`);
    this.name = 'RollbackError';
    this.code = 'rollback';
    this.offered = offered;
    this.floor = floor;
  }
}

export class VersionMismatchError extends Error {
  constructor(stored, offered) {
    super(offered === null
      ? `The server says it stores config version ${stored} but sent no config.`
      : `The server says it stores config version ${stored} but sent version ${offered}.`);
    this.name = 'VersionMismatchError';
    this.code = 'version_mismatch';
  }
}

/**
 * Pure check of what the server offers: `stored` (its config_version),
 * `offered` (the envelope's version, null without an envelope) against
 * `seen` (this browser's record). Throws RollbackError or VersionMismatchError.
 */
export function checkOffered({ stored, offered, seen }) {
  const s = Number.isSafeInteger(stored) && stored >= 0 ? stored : NaN;
  if (Number.isNaN(s)) throw new VersionMismatchError(stored, offered);
  if (s < seen) throw new RollbackError(offered ?? s, seen, 'seen');
  if (offered === null) {
    if (s !== 0) throw new VersionMismatchError(s, null);
    return;
  }
  if (offered < s) throw new RollbackError(offered, s, 'stores');
  if (offered < seen) throw new RollbackError(offered, seen, 'seen');
  if (offered !== s) throw new VersionMismatchError(s, offered);
}

/** Pure: sealing `next` is allowed only above every version seen. */
export function checkNext(next, seen) {
  if (!(next > seen)) throw new RollbackError(next - 1, seen, 'seen');
}

const storeKey = (userId, agentId) => `ocf.seenConfig.${userId}.${agentId}`;
const defaultStorage = () => globalThis.localStorage;

/** The highest version this browser has seen for the agent (0: none). */
export function seenVersion(userId, agentId, storage = defaultStorage()) {
  const n = Number(storage?.getItem(storeKey(userId, agentId)));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** Raises the record to `version`; never lowers it. */
export function recordSeen(userId, agentId, version, storage = defaultStorage()) {
  if (Number.isSafeInteger(version) && version > seenVersion(userId, agentId, storage)) {
    storage?.setItem(storeKey(userId, agentId), String(version));
  }
}

/**
 * Checks and decrypts an agent's current config as the server gave it
 * ({config, config_version}); returns {doc, version}, version 0 for none.
 * Records the authenticated version as seen.
 */
export async function openCurrent({ userId, agentId, secret, stored, envelope, storage = defaultStorage() }) {
  const seen = seenVersion(userId, agentId, storage);
  if (!envelope) {
    checkOffered({ stored, offered: null, seen });
    return { doc: EMPTY_DOC, version: 0 };
  }
  checkOffered({ stored, offered: parseEnvelope(envelope).version, seen });
  const { doc, version } = await openConfigVersioned(secret, agentId, envelope);
  checkOffered({ stored, offered: version, seen });
  recordSeen(userId, agentId, version, storage);
  return { doc, version };
}
