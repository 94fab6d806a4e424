// OpenClaw Fleet client-side crypto (SPEC §0, §2, §4, §5), WebCrypto only.
//
// Owns every construction the dashboard needs so that no other module touches
// key material: base64url, the master-key derivation (PBKDF2 -> HKDF wrap key),
// key_check and wrapped ENCRYPTION_SECRET, config envelopes and the handshake
// HMAC (the last for tests and tooling). Runs unchanged in browsers and in
// Node >= 20, where `globalThis.crypto` is WebCrypto.
//
// Errors never carry secret material: messages name only what was wrong.

const subtle = globalThis.crypto.subtle;
const te = new TextEncoder();

export const MIN_ITERATIONS = 600000;
export const MAX_ITERATIONS = 10000000;
export const KDF_ALG = 'PBKDF2-SHA256';
export const ENVELOPE_ALG = 'A256GCM';
export const ENCRYPTION_SECRET_PREFIX = 'ocf_es_';
export const MIN_PASSPHRASE_LENGTH = 12;
export const KEY_CHECK_PLAINTEXT = 'openclaw-fleet key check v1';

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MASTER_SALT = 'openclaw-fleet/master/v1';
const CONFIG_SALT = 'openclaw-fleet/config/v1';
const KEYCHECK_AAD = 'openclaw-fleet/keycheck/v1|';
const WRAP_AAD = 'openclaw-fleet/wrap/v1|';
const CONFIG_AAD = 'openclaw-fleet/config/v1|';

export class CryptoFormatError extends Error {
  constructor(message) { super(message); this.name = 'CryptoFormatError'; }
}
export class WeakKdfError extends Error {
  constructor(message) { super(message); this.name = 'WeakKdfError'; }
}
export class DecryptError extends Error {
  constructor(message = 'authentication failed') { super(message); this.name = 'DecryptError'; }
}
export class ConfigDocumentError extends Error {
  constructor(message) { super(message); this.name = 'ConfigDocumentError'; }
}

// ---------------------------------------------------------------- base64url

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export function b64uEncode(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('b64uEncode expects a Uint8Array');
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

// Strict decoder: no padding, no whitespace, no standard-alphabet '+' '/', and
// only the canonical encoding (unused trailing bits must be zero), so that each
// byte string has exactly one accepted text form.
export function b64uDecode(text) {
  if (typeof text !== 'string') throw new CryptoFormatError('base64url: not a string');
  const len = text.length;
  if (len % 4 === 1) throw new CryptoFormatError('base64url: invalid length');
  const vals = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c] : -1;
    if (v < 0) throw new CryptoFormatError('base64url: invalid character');
    vals[i] = v;
  }
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    const n = (vals[i] << 18) | (vals[i + 1] << 12) | (vals[i + 2] << 6) | vals[i + 3];
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  const rest = len - i;
  if (rest === 2) {
    if (vals[i + 1] & 15) throw new CryptoFormatError('base64url: non-canonical trailing bits');
    out[o++] = (vals[i] << 2) | (vals[i + 1] >> 4);
  } else if (rest === 3) {
    if (vals[i + 2] & 3) throw new CryptoFormatError('base64url: non-canonical trailing bits');
    const n = (vals[i] << 10) | (vals[i + 1] << 4) | (vals[i + 2] >> 2);
    out[o++] = n >> 8;
    out[o++] = n & 255;
  }
  return out;
}

function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function hexToBytes(hex) {
  if (typeof hex !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(hex)) {
    throw new CryptoFormatError('hex: invalid');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

// ------------------------------------------------------------------ ids/AAD

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Ids go into AADs joined with '|'; requiring the SPEC's UUID form keeps every
// AAD unambiguous.
export function isUuid(id) {
  return typeof id === 'string' && UUID_RE.test(id);
}

function requireId(id, what) {
  if (!isUuid(id)) throw new CryptoFormatError(`${what} is not a lowercase UUID`);
  return id;
}

function requireVersion(version) {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new CryptoFormatError('config version must be an integer >= 1');
  }
  return version;
}

// -------------------------------------------------------------------- KDF

export function newKdf() {
  return { alg: KDF_ALG, iterations: MIN_ITERATIONS, salt: b64uEncode(randomBytes(SALT_BYTES)) };
}

// Parameters come from the server, which the dashboard must not trust to pick
// them: a hostile server could hand out 1 iteration, or 10^12 to hang the tab.
function parseKdf(kdf, allowWeak) {
  if (kdf === null || typeof kdf !== 'object' || Array.isArray(kdf)) {
    throw new WeakKdfError('kdf parameters missing');
  }
  if (kdf.alg !== KDF_ALG) throw new WeakKdfError('kdf algorithm not supported');
  const it = kdf.iterations;
  const min = allowWeak ? 1 : MIN_ITERATIONS;
  if (!Number.isSafeInteger(it) || it < min || it > MAX_ITERATIONS) {
    throw new WeakKdfError(`kdf iterations must be between ${MIN_ITERATIONS} and ${MAX_ITERATIONS}`);
  }
  let salt;
  try {
    salt = b64uDecode(kdf.salt);
  } catch {
    throw new WeakKdfError('kdf salt is not base64url');
  }
  if (salt.length !== SALT_BYTES) throw new WeakKdfError(`kdf salt must be ${SALT_BYTES} bytes`);
  return { iterations: it, salt };
}

export function checkKdf(kdf, { allowWeak = false } = {}) {
  parseKdf(kdf, allowWeak);
  return true;
}

export function validatePassphrase(passphrase) {
  if (typeof passphrase !== 'string') throw new TypeError('passphrase must be a string');
  if ([...passphrase.normalize('NFC')].length < MIN_PASSPHRASE_LENGTH) {
    throw new CryptoFormatError(`passphrase must have at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
  return true;
}

async function hkdf(ikm, salt, info) {
  const base = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: te.encode(salt), info: te.encode(info) },
    base,
    KEY_BYTES * 8,
  );
  return new Uint8Array(bits);
}

// MK = PBKDF2-HMAC-SHA256(utf8(NFC(passphrase)), salt, iterations, 32)
export async function deriveMasterKeyBytes(passphrase, kdf, { allowWeak = false } = {}) {
  const params = parseKdf(kdf, allowWeak);
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new TypeError('passphrase must be a non-empty string');
  }
  const pw = te.encode(passphrase.normalize('NFC'));
  try {
    const base = await subtle.importKey('raw', pw, 'PBKDF2', false, ['deriveBits']);
    const bits = await subtle.deriveBits(
      { name: 'PBKDF2', hash: 'SHA-256', salt: params.salt, iterations: params.iterations },
      base,
      KEY_BYTES * 8,
    );
    return new Uint8Array(bits);
  } finally {
    pw.fill(0);
  }
}

// WK = HKDF(salt "openclaw-fleet/master/v1", MK, info "wrap", 32). The extra
// HKDF step separates the wrap key from MK so later keys can be derived from
// MK with other labels without re-running PBKDF2.
export async function deriveWrapKeyBytes(passphrase, kdf, opts = {}) {
  const mk = await deriveMasterKeyBytes(passphrase, kdf, opts);
  try {
    return await hkdf(mk, MASTER_SALT, 'wrap');
  } finally {
    mk.fill(0);
  }
}

export async function importWrapKey(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
    throw new CryptoFormatError(`wrap key must be ${KEY_BYTES} bytes`);
  }
  return subtle.importKey('raw', bytes, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

export async function deriveWrapKey(passphrase, kdf, opts = {}) {
  const wk = await deriveWrapKeyBytes(passphrase, kdf, opts);
  try {
    return await importWrapKey(wk);
  } finally {
    wk.fill(0);
  }
}

// ---------------------------------------------------------------- AES-GCM

async function aesKey(key) {
  if (key instanceof Uint8Array) return importWrapKey(key);
  if (key && typeof key === 'object' && key.type === 'secret' && key.algorithm?.name === 'AES-GCM') {
    return key;
  }
  throw new TypeError('expected an AES-GCM CryptoKey or 32 key bytes');
}

function ivBytes(iv) {
  if (iv === undefined || iv === null) return randomBytes(IV_BYTES);
  const b = typeof iv === 'string' ? b64uDecode(iv) : iv;
  if (!(b instanceof Uint8Array) || b.length !== IV_BYTES) {
    throw new CryptoFormatError(`iv must be ${IV_BYTES} bytes`);
  }
  return b;
}

async function seal(key, plaintext, aad, iv) {
  const nonce = ivBytes(iv);
  const ct = await subtle.encrypt(
    { name: 'AES-GCM', iv: nonce, additionalData: te.encode(aad), tagLength: TAG_BYTES * 8 },
    await aesKey(key),
    plaintext,
  );
  return { iv: b64uEncode(nonce), ct: b64uEncode(new Uint8Array(ct)) };
}

async function open(key, iv, ct, aad) {
  const k = await aesKey(key);
  try {
    const pt = await subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: te.encode(aad), tagLength: TAG_BYTES * 8 },
      k,
      ct,
    );
    return new Uint8Array(pt);
  } catch {
    throw new DecryptError();
  }
}

// Parses {v:1, alg:"A256GCM", iv, ct, ...extraKeys} with exactly those keys.
function parseSealed(obj, extraKeys, what) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new CryptoFormatError(`${what} is not an object`);
  }
  const want = ['v', 'alg', 'iv', 'ct', ...extraKeys].sort();
  const got = Object.keys(obj).sort();
  if (got.length !== want.length || got.some((k, i) => k !== want[i])) {
    throw new CryptoFormatError(`${what} has unexpected fields`);
  }
  if (obj.v !== 1) throw new CryptoFormatError(`${what}: unsupported v`);
  if (obj.alg !== ENVELOPE_ALG) throw new CryptoFormatError(`${what}: unsupported alg`);
  const iv = b64uDecode(obj.iv);
  if (iv.length !== IV_BYTES) throw new CryptoFormatError(`${what}: iv must be ${IV_BYTES} bytes`);
  const ct = b64uDecode(obj.ct);
  if (ct.length < TAG_BYTES) throw new CryptoFormatError(`${what}: ciphertext too short`);
  return { iv, ct };
}

// --------------------------------------------------------------- key check

export async function makeKeyCheck(wk, userId, iv) {
  requireId(userId, 'user id');
  const sealed = await seal(wk, te.encode(KEY_CHECK_PLAINTEXT), KEYCHECK_AAD + userId, iv);
  return { v: 1, alg: ENVELOPE_ALG, ...sealed };
}

// false means "wrong passphrase"; a malformed key_check throws instead, since
// it says nothing about the passphrase.
export async function verifyKeyCheck(wk, userId, keyCheck) {
  requireId(userId, 'user id');
  const { iv, ct } = parseSealed(keyCheck, [], 'key_check');
  let pt;
  try {
    pt = await open(wk, iv, ct, KEYCHECK_AAD + userId);
  } catch (e) {
    if (e instanceof DecryptError) return false;
    throw e;
  }
  return new TextDecoder().decode(pt) === KEY_CHECK_PLAINTEXT;
}

// ------------------------------------------------------- encryption secret

export function generateEncryptionSecret() {
  const raw = randomBytes(KEY_BYTES);
  try {
    return ENCRYPTION_SECRET_PREFIX + b64uEncode(raw);
  } finally {
    raw.fill(0);
  }
}

export function parseEncryptionSecret(secret) {
  if (typeof secret !== 'string' || !secret.startsWith(ENCRYPTION_SECRET_PREFIX)) {
    throw new CryptoFormatError('encryption secret must start with ocf_es_');
  }
  let raw;
  try {
    raw = b64uDecode(secret.slice(ENCRYPTION_SECRET_PREFIX.length));
  } catch {
    throw new CryptoFormatError('encryption secret is not base64url');
  }
  if (raw.length !== KEY_BYTES) {
    raw.fill(0);
    throw new CryptoFormatError(`encryption secret must decode to ${KEY_BYTES} bytes`);
  }
  return raw;
}

export async function wrapSecret(wk, userId, agentId, secretString, iv) {
  requireId(userId, 'user id');
  requireId(agentId, 'agent id');
  const raw = parseEncryptionSecret(secretString);
  try {
    const sealed = await seal(wk, raw, WRAP_AAD + userId + '|' + agentId, iv);
    return { v: 1, alg: ENVELOPE_ALG, ...sealed };
  } finally {
    raw.fill(0);
  }
}

export async function unwrapSecret(wk, userId, agentId, wrapped) {
  requireId(userId, 'user id');
  requireId(agentId, 'agent id');
  const { iv, ct } = parseSealed(wrapped, [], 'wrapped_secret');
  const raw = await open(wk, iv, ct, WRAP_AAD + userId + '|' + agentId);
  try {
    if (raw.length !== KEY_BYTES) throw new CryptoFormatError('wrapped secret has the wrong length');
    return ENCRYPTION_SECRET_PREFIX + b64uEncode(raw);
  } finally {
    raw.fill(0);
  }
}

// ---------------------------------------------------------- config envelope

// CK = HKDF(salt "openclaw-fleet/config/v1", ENCRYPTION_SECRET bytes, info agent_id):
// one key per agent, so an envelope cannot be replayed to another agent even
// when two agents were (wrongly) given the same secret.
export async function configKeyBytes(secretString, agentId) {
  requireId(agentId, 'agent id');
  const raw = parseEncryptionSecret(secretString);
  try {
    return await hkdf(raw, CONFIG_SALT, agentId);
  } finally {
    raw.fill(0);
  }
}

async function configKey(secretString, agentId) {
  const ck = await configKeyBytes(secretString, agentId);
  try {
    return await importWrapKey(ck);
  } finally {
    ck.fill(0);
  }
}

function configAad(agentId, version) {
  return CONFIG_AAD + agentId + '|' + String(version);
}

export async function sealConfig(secretString, agentId, version, document, iv) {
  requireId(agentId, 'agent id');
  requireVersion(version);
  validateDocument(document);
  const key = await configKey(secretString, agentId);
  const sealed = await seal(key, te.encode(JSON.stringify(document)), configAad(agentId, version), iv);
  return { v: 1, alg: ENVELOPE_ALG, agent_id: agentId, version, iv: sealed.iv, ct: sealed.ct };
}

export function parseEnvelope(envelope) {
  const { iv, ct } = parseSealed(envelope, ['agent_id', 'version'], 'config envelope');
  requireId(envelope.agent_id, 'envelope agent_id');
  requireVersion(envelope.version);
  return { agentId: envelope.agent_id, version: envelope.version, iv, ct };
}

export async function openConfig(secretString, expectedAgentId, envelope) {
  return (await openConfigVersioned(secretString, expectedAgentId, envelope)).doc;
}

/**
 * Like openConfig, and also returns the version that was authenticated: the
 * one in the AAD the ciphertext was opened with (SPEC §4), so a caller's
 * rollback check never relies on an unauthenticated field.
 */
export async function openConfigVersioned(secretString, expectedAgentId, envelope) {
  requireId(expectedAgentId, 'agent id');
  const env = parseEnvelope(envelope);
  if (env.agentId !== expectedAgentId) {
    throw new CryptoFormatError('config envelope is for another agent');
  }
  const key = await configKey(secretString, expectedAgentId);
  const pt = await open(key, env.iv, env.ct, configAad(expectedAgentId, env.version));
  let doc;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(pt));
  } catch {
    throw new ConfigDocumentError('config document is not UTF-8 JSON');
  } finally {
    pt.fill(0);
  }
  validateDocument(doc);
  return { doc, version: env.version };
}

// ---------------------------------------------------------- config document

const ENV_NAME_RE = /^[A-Z_][A-Z0-9_]*$/;

export function isValidEnvName(name) {
  return typeof name === 'string' && ENV_NAME_RE.test(name);
}

export function validateEnvName(name) {
  if (!isValidEnvName(name)) throw new ConfigDocumentError('invalid environment variable name');
  return true;
}

function isPlainObject(x) {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * Whether an env value can be written to the host's .env so that every dotenv
 * reader gets it back: one line (no NUL, CR or LF), and not holding ' together
 * with " (or \ or $) and ` at once (spec/test-vectors/apply.json, "validate").
 */
export function isValidEnvValue(value) {
  if (typeof value !== 'string' || /[\0\r\n]/.test(value)) return false;
  return !value.includes("'") || !/["\\$]/.test(value) || !value.includes('`');
}

// SPEC §4 document rules, as every agent applies them (spec/test-vectors/apply.json,
// "validate"): env and openclaw may be absent; unknown top-level keys are tolerated
// (and ignored by agents) so that a later schema-1 field does not break older readers.
export function validateDocument(doc) {
  if (!isPlainObject(doc)) throw new ConfigDocumentError('config document must be an object');
  if (doc.schema !== 1) throw new ConfigDocumentError('config document schema must be 1');
  const env = 'env' in doc ? doc.env : {};
  if (!isPlainObject(env)) throw new ConfigDocumentError('config env must be an object');
  for (const [name, value] of Object.entries(env)) {
    validateEnvName(name);
    if (typeof value !== 'string') throw new ConfigDocumentError('config env values must be strings');
    if (!isValidEnvValue(value)) {
      throw new ConfigDocumentError(`the value of ${name} cannot be written to .env (a line break or NUL, or every quote kind)`);
    }
  }
  if ('openclaw' in doc && !isPlainObject(doc.openclaw)) throw new ConfigDocumentError('config openclaw must be an object');
  return true;
}

// -------------------------------------------------------------- handshake

// hex(HMAC-SHA256(key = utf8(whole AGENT_SECRET), msg = utf8(agent_id + ts)))
export async function signHandshake(agentId, timestamp, agentSecret) {
  if (typeof agentSecret !== 'string' || agentSecret.length === 0) {
    throw new TypeError('agent secret must be a non-empty string');
  }
  const ts = String(timestamp);
  if (!/^(?:0|[1-9][0-9]*)$/.test(ts)) throw new CryptoFormatError('timestamp must be canonical decimal digits');
  const key = await subtle.importKey(
    'raw', te.encode(agentSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'],
  );
  const mac = await subtle.sign('HMAC', key, te.encode(String(agentId) + ts));
  return bytesToHex(new Uint8Array(mac));
}

export async function verifyHandshake(agentId, timestamp, agentSecret, signatureHex) {
  const expected = hexToBytes(await signHandshake(agentId, timestamp, agentSecret));
  let given;
  try {
    given = hexToBytes(String(signatureHex));
  } catch {
    return false;
  }
  if (given.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ given[i];
  return diff === 0;
}
