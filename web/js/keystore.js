// The unlocked state of the master key (SPEC §5). Holds only the derived wrap
// key WK, base64url in sessionStorage (tab-scoped, gone when the tab closes),
// never the passphrase. Lock, logout and idle time clear it; an explicit lock
// or logout is broadcast so the owner's other tabs lock too.

import {
  b64uDecode, b64uEncode, checkKdf, deriveWrapKeyBytes, importWrapKey, makeKeyCheck, newKdf,
  verifyKeyCheck,
} from './crypto.js';

const STORE = 'ocf.wrapKey';
const AUTOLOCK = 'ocf.autolockMinutes';
export const DEFAULT_AUTOLOCK_MINUTES = 15;
export const MAX_AUTOLOCK_MINUTES = 1440;

export class WrongKeyError extends Error {
  constructor() {
    super('wrong master key');
    this.name = 'WrongKeyError';
  }
}

let cached = null;
const listeners = new Set();
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('ocf-keystore') : null;
channel?.addEventListener('message', (e) => {
  if (e.data === 'lock') lock({ broadcast: false, reason: 'other-tab' });
});

export function onKeyChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(reason) {
  for (const fn of listeners) fn(reason);
}

function read() {
  try {
    const v = JSON.parse(sessionStorage.getItem(STORE));
    return v && typeof v.k === 'string' && typeof v.u === 'string' ? v : null;
  } catch {
    return null;
  }
}

export function autolockMinutes() {
  const n = Number(localStorage.getItem(AUTOLOCK));
  return Number.isInteger(n) && n >= 1 && n <= MAX_AUTOLOCK_MINUTES ? n : DEFAULT_AUTOLOCK_MINUTES;
}

export function setAutolockMinutes(n) {
  localStorage.setItem(AUTOLOCK, String(n));
}

function expired(v) {
  return Date.now() - (Number(v.t) || 0) > autolockMinutes() * 60000;
}

export function isUnlocked(userId) {
  const v = read();
  return !!v && v.u === userId && !expired(v);
}

/** The wrap key as a non-extractable CryptoKey, or null while locked. */
export async function wrapKey(userId) {
  const v = read();
  if (!v || v.u !== userId || expired(v)) {
    if (v) lock({ broadcast: false, reason: 'idle' });
    return null;
  }
  if (cached && cached.u === userId && cached.k === v.k) return cached.key;
  const bytes = b64uDecode(v.k);
  try {
    const key = await importWrapKey(bytes);
    cached = { u: userId, k: v.k, key };
    return key;
  } finally {
    bytes.fill(0);
  }
}

function store(userId, bytes, key) {
  const k = b64uEncode(bytes);
  bytes.fill(0);
  sessionStorage.setItem(STORE, JSON.stringify({ u: userId, k, t: Date.now() }));
  cached = { u: userId, k, key };
  emit('unlock');
}

/**
 * Derives WK from the passphrase with the server's kdf (refused by crypto.js
 * when the parameters are weak: WeakKdfError) and checks it against key_check.
 */
export async function deriveChecked(passphrase, { kdf, key_check: keyCheck }, userId) {
  checkKdf(kdf);
  const bytes = await deriveWrapKeyBytes(passphrase, kdf);
  const key = await importWrapKey(bytes);
  if (!(await verifyKeyCheck(key, userId, keyCheck))) {
    bytes.fill(0);
    throw new WrongKeyError();
  }
  return { bytes, key };
}

export async function unlock(passphrase, masterKeyInfo, userId) {
  const { bytes, key } = await deriveChecked(passphrase, masterKeyInfo, userId);
  store(userId, bytes, key);
}

/** Fresh kdf parameters, the derived key and its key_check, for set-up and for a change. */
export async function createMasterKey(passphrase, userId) {
  const kdf = newKdf();
  const bytes = await deriveWrapKeyBytes(passphrase, kdf);
  const key = await importWrapKey(bytes);
  const keyCheck = await makeKeyCheck(key, userId);
  return { kdf, keyCheck, bytes, key };
}

/** Makes a freshly created key the unlocked one (after the server accepted it). */
export function adopt(userId, { bytes, key }) {
  store(userId, bytes, key);
}

export function lock({ broadcast = true, reason = 'lock' } = {}) {
  const had = read() !== null || cached !== null;
  sessionStorage.removeItem(STORE);
  cached = null;
  if (broadcast) channel?.postMessage('lock');
  if (had) emit(reason);
}

let lastWrite = 0;
function touch() {
  const v = read();
  if (!v) return;
  if (expired(v)) {
    lock({ broadcast: false, reason: 'idle' });
    return;
  }
  const now = Date.now();
  if (now - lastWrite > 5000) {
    lastWrite = now;
    sessionStorage.setItem(STORE, JSON.stringify({ ...v, t: now }));
  }
}

export function startAutoLock() {
  for (const ev of ['pointerdown', 'keydown', 'wheel', 'touchstart']) {
    document.addEventListener(ev, touch, { passive: true, capture: true });
  }
  setInterval(() => {
    const v = read();
    if (v && expired(v)) lock({ broadcast: false, reason: 'idle' });
  }, 10000);
}
