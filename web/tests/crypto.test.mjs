// Unit tests for web/js/crypto.js: every shared vector (SPEC §8) plus the
// refusals the dashboard relies on. Run with `node --test web/tests/`.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

import * as C from '../js/crypto.js';

const vectorsDir = process.env.OPENCLAW_FLEET_VECTORS
  ? pathToFileURL(process.env.OPENCLAW_FLEET_VECTORS.replace(/\/?$/, '/'))
  : new URL('../../spec/test-vectors/', import.meta.url);

async function loadVectors(name) {
  return JSON.parse(await readFile(new URL(name, vectorsDir), 'utf8'));
}

const handshake = await loadVectors('handshake.json');
const masterKey = await loadVectors('master-key.json');
const configEnvelope = await loadVectors('config-envelope.json');

const te = new TextEncoder();
const hex = (b) => Buffer.from(b).toString('hex');

// Vectors share passphrase/salt pairs; PBKDF2 at 600000 iterations is worth caching.
const wkCache = new Map();
function wrapKeyBytesFor(passphrase, kdf) {
  const k = `${passphrase}\u0000${kdf.salt}\u0000${kdf.iterations}`;
  if (!wkCache.has(k)) {
    wkCache.set(k, C.deriveWrapKeyBytes(passphrase, kdf, { allowWeak: kdf.iterations < C.MIN_ITERATIONS }));
  }
  return wkCache.get(k);
}

describe('base64url', () => {
  test('round-trips and matches Node base64url for lengths 0..70', () => {
    for (let n = 0; n <= 70; n++) {
      const bytes = crypto.getRandomValues(new Uint8Array(n));
      const enc = C.b64uEncode(bytes);
      assert.equal(enc, Buffer.from(bytes).toString('base64url'));
      assert.deepEqual(C.b64uDecode(enc), bytes);
    }
  });

  test('known values', () => {
    assert.equal(C.b64uEncode(new Uint8Array([0xfb, 0xff, 0xfe])), '-__-');
    assert.deepEqual(C.b64uDecode('-__-'), new Uint8Array([0xfb, 0xff, 0xfe]));
    assert.deepEqual(C.b64uDecode(''), new Uint8Array(0));
  });

  for (const bad of ['AA==', 'AAA=', 'AB+/', 'AB/A', 'AA A', 'AAAAA', 'A', 'AB', 'AAB', 'é', 'AA\n', 'AA.A']) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => C.b64uDecode(bad), C.CryptoFormatError);
    });
  }

  test('rejects non-strings', () => {
    assert.throws(() => C.b64uDecode(null), C.CryptoFormatError);
    assert.throws(() => C.b64uEncode('abc'), TypeError);
  });
});

describe('kdf parameters', () => {
  test('newKdf gives the minimum iterations and a fresh 16-byte salt', () => {
    const a = C.newKdf();
    const b = C.newKdf();
    assert.deepEqual(Object.keys(a).sort(), ['alg', 'iterations', 'salt']);
    assert.equal(a.alg, 'PBKDF2-SHA256');
    assert.equal(a.iterations, 600000);
    assert.equal(C.b64uDecode(a.salt).length, 16);
    assert.notEqual(a.salt, b.salt);
    assert.equal(C.checkKdf(a), true);
  });

  test('constants', () => {
    assert.equal(C.MIN_ITERATIONS, 600000);
    assert.equal(C.MAX_ITERATIONS, 10000000);
  });

  const salt = 'zGMri_A5zTlhvNZfh8uvkg';
  const bad = {
    'iterations 599999': { alg: 'PBKDF2-SHA256', iterations: 599999, salt },
    'iterations 10000001': { alg: 'PBKDF2-SHA256', iterations: 10000001, salt },
    'hostile 1000 iterations': { alg: 'PBKDF2-SHA256', iterations: 1000, salt },
    'iterations as a string': { alg: 'PBKDF2-SHA256', iterations: '600000', salt },
    'fractional iterations': { alg: 'PBKDF2-SHA256', iterations: 600000.5, salt },
    'wrong alg': { alg: 'PBKDF2-SHA1', iterations: 600000, salt },
    '15-byte salt': { alg: 'PBKDF2-SHA256', iterations: 600000, salt: C.b64uEncode(new Uint8Array(15)) },
    '17-byte salt': { alg: 'PBKDF2-SHA256', iterations: 600000, salt: C.b64uEncode(new Uint8Array(17)) },
    'padded salt': { alg: 'PBKDF2-SHA256', iterations: 600000, salt: salt + '==' },
    'null': null,
  };
  for (const [name, kdf] of Object.entries(bad)) {
    test(`checkKdf and deriveWrapKey refuse ${name}`, async () => {
      assert.throws(() => C.checkKdf(kdf), C.WeakKdfError);
      await assert.rejects(C.deriveWrapKey('a passphrase long enough', kdf), C.WeakKdfError);
      await assert.rejects(C.deriveWrapKeyBytes('a passphrase long enough', kdf), C.WeakKdfError);
      await assert.rejects(C.deriveMasterKeyBytes('a passphrase long enough', kdf), C.WeakKdfError);
    });
  }

  test('allowWeak admits the 1000-iteration test vector but never more than the maximum', async () => {
    const weak = { alg: 'PBKDF2-SHA256', iterations: 1000, salt };
    assert.equal(C.checkKdf(weak, { allowWeak: true }), true);
    const key = await C.deriveWrapKey('a passphrase long enough', weak, { allowWeak: true });
    assert.equal(key.extractable, false);
    const huge = { alg: 'PBKDF2-SHA256', iterations: 10000001, salt };
    await assert.rejects(C.deriveWrapKey('x'.repeat(12), huge, { allowWeak: true }), C.WeakKdfError);
  });

  test('validatePassphrase wants at least 12 characters', () => {
    assert.throws(() => C.validatePassphrase('short'), C.CryptoFormatError);
    assert.throws(() => C.validatePassphrase('✓✓✓✓✓✓✓✓✓✓✓'), C.CryptoFormatError);
    assert.equal(C.validatePassphrase('✓✓✓✓✓✓✓✓✓✓✓✓'), true);
  });
});

describe('master-key vectors (SPEC §5)', () => {
  for (const [i, v] of masterKey.valid.entries()) {
    const opts = { allowWeak: v.kdf.iterations < C.MIN_ITERATIONS };
    test(`valid #${i}: MK, WK, key_check, wrapped_secret`, async () => {
      assert.equal(hex(te.encode(v.passphrase.normalize('NFC'))), v.passphrase_nfc_utf8_hex);
      const mk = await C.deriveMasterKeyBytes(v.passphrase, v.kdf, opts);
      assert.equal(hex(mk), v.master_key_hex);
      const wkBytes = await wrapKeyBytesFor(v.passphrase, v.kdf);
      assert.equal(hex(wkBytes), v.wrap_key_hex);

      assert.deepEqual(await C.makeKeyCheck(wkBytes, v.user_id, v.key_check.iv), v.key_check);
      assert.deepEqual(
        await C.wrapSecret(wkBytes, v.user_id, v.agent_id, v.encryption_secret, v.wrapped_secret.iv),
        v.wrapped_secret,
      );

      const wk = await C.deriveWrapKey(v.passphrase, v.kdf, opts);
      assert.equal(wk.extractable, false);
      assert.deepEqual([...wk.usages].sort(), ['decrypt', 'encrypt']);
      assert.equal(await C.verifyKeyCheck(wk, v.user_id, v.key_check), true);
      assert.equal(await C.unwrapSecret(wk, v.user_id, v.agent_id, v.wrapped_secret), v.encryption_secret);

      const imported = await C.importWrapKey(wkBytes);
      assert.equal(await C.verifyKeyCheck(imported, v.user_id, v.key_check), true);
    });
  }

  test('the passphrase is NFC-normalised before PBKDF2 (NFD and NFC forms agree)', async () => {
    const v = masterKey.valid.find((x) => x.passphrase.normalize('NFC') !== x.passphrase.normalize('NFD'));
    assert.ok(v, 'a vector with a character that has two normal forms');
    for (const form of ['NFC', 'NFD']) {
      const mk = await C.deriveMasterKeyBytes(v.passphrase.normalize(form), v.kdf);
      assert.equal(hex(mk), v.master_key_hex);
    }
  });

  for (const [i, v] of masterKey.invalid.entries()) {
    test(`invalid #${i}: ${v.why}`, async () => {
      const wk = await C.importWrapKey(await wrapKeyBytesFor(v.passphrase, v.kdf));
      let checked = 0;
      if (v.key_check) {
        assert.equal(await C.verifyKeyCheck(wk, v.user_id, v.key_check), false);
        checked++;
      }
      if (v.wrapped_secret) {
        await assert.rejects(C.unwrapSecret(wk, v.user_id, v.agent_id, v.wrapped_secret), C.DecryptError);
        checked++;
      }
      assert.ok(checked > 0, 'vector exercised');
    });
  }

  test('malformed key_check and wrapped_secret throw instead of answering', async () => {
    const v = masterKey.valid[2];
    const wk = await C.importWrapKey(await wrapKeyBytesFor(v.passphrase, v.kdf));
    const variants = [
      { ...v.key_check, extra: 1 },
      { ...v.key_check, v: 2 },
      { ...v.key_check, alg: 'A128GCM' },
      { ...v.key_check, iv: v.key_check.iv + '==' },
      { ...v.key_check, iv: 'AAAA' },
      { ...v.key_check, ct: 'AAAA' },
      [],
      null,
    ];
    for (const kc of variants) {
      await assert.rejects(C.verifyKeyCheck(wk, v.user_id, kc), C.CryptoFormatError);
      await assert.rejects(C.unwrapSecret(wk, v.user_id, v.agent_id, kc), C.CryptoFormatError);
    }
    await assert.rejects(C.verifyKeyCheck(wk, 'not-a-uuid', v.key_check), C.CryptoFormatError);
  });

  test('random-iv key_check and wrapped secret round-trip and differ each time', async () => {
    const v = masterKey.valid[2];
    const wk = await C.deriveWrapKey(v.passphrase, v.kdf, { allowWeak: true });
    const a = await C.makeKeyCheck(wk, v.user_id);
    const b = await C.makeKeyCheck(wk, v.user_id);
    assert.notEqual(a.iv, b.iv);
    assert.equal(await C.verifyKeyCheck(wk, v.user_id, a), true);
    const secret = C.generateEncryptionSecret();
    const w = await C.wrapSecret(wk, v.user_id, v.agent_id, secret);
    assert.equal(C.b64uDecode(w.iv).length, 12);
    assert.equal(await C.unwrapSecret(wk, v.user_id, v.agent_id, w), secret);
    const other = masterKey.valid[0];
    await assert.rejects(C.unwrapSecret(wk, other.user_id, v.agent_id, w), C.DecryptError);
  });
});

describe('encryption secret', () => {
  test('generate and parse', () => {
    const s = C.generateEncryptionSecret();
    assert.match(s, /^ocf_es_[A-Za-z0-9_-]{43}$/);
    assert.equal(C.parseEncryptionSecret(s).length, 32);
    assert.notEqual(s, C.generateEncryptionSecret());
  });

  const body = C.b64uEncode(new Uint8Array(32).fill(7));
  const bad = [
    body,
    'ocf_as_' + body,
    'OCF_ES_' + body,
    'ocf_es_' + C.b64uEncode(new Uint8Array(31)),
    'ocf_es_' + C.b64uEncode(new Uint8Array(33)),
    'ocf_es_' + body + '=',
    'ocf_es_' + body.slice(0, -1) + '+',
    '',
    null,
  ];
  for (const s of bad) {
    test(`parseEncryptionSecret refuses ${JSON.stringify(s)}`, () => {
      assert.throws(() => C.parseEncryptionSecret(s), C.CryptoFormatError);
    });
  }
});

describe('config-envelope vectors (SPEC §4)', () => {
  for (const [i, v] of configEnvelope.valid.entries()) {
    test(`valid #${i}: key, exact ciphertext, open`, async () => {
      assert.equal(hex(await C.configKeyBytes(v.encryption_secret, v.agent_id)), v.config_key_hex);
      const doc = JSON.parse(v.plaintext);
      assert.equal(JSON.stringify(doc), v.plaintext);
      const sealed = await C.sealConfig(v.encryption_secret, v.agent_id, v.envelope.version, doc, v.envelope.iv);
      assert.deepEqual(sealed, v.envelope);
      assert.deepEqual(await C.openConfig(v.encryption_secret, v.agent_id, v.envelope), doc);
      assert.equal(v.aad, `openclaw-fleet/config/v1|${v.agent_id}|${v.envelope.version}`);
    });
  }

  for (const [i, v] of configEnvelope.invalid.entries()) {
    test(`invalid #${i}: ${v.why}`, async () => {
      await assert.rejects(C.openConfig(v.encryption_secret, v.agent_id, v.envelope), Error);
    });
  }

  const base = configEnvelope.valid[0];
  const tampered = {
    'an extra field': { ...base.envelope, extra: true },
    'a missing field': (({ iv, ...rest }) => rest)(base.envelope),
    'version 0': { ...base.envelope, version: 0 },
    'version as a string': { ...base.envelope, version: '1' },
    'fractional version': { ...base.envelope, version: 1.5 },
    'v as a string': { ...base.envelope, v: '1' },
    'a 16-byte iv': { ...base.envelope, iv: C.b64uEncode(new Uint8Array(16)) },
    'a ct shorter than the tag': { ...base.envelope, ct: C.b64uEncode(new Uint8Array(15)) },
    'an array': [],
    'a JSON string': JSON.stringify(base.envelope),
  };
  for (const [name, env] of Object.entries(tampered)) {
    test(`openConfig refuses ${name}`, async () => {
      await assert.rejects(C.openConfig(base.encryption_secret, base.agent_id, env), C.CryptoFormatError);
    });
  }

  test('openConfig refuses an authentic envelope for another agent', async () => {
    const other = configEnvelope.valid[1];
    await assert.rejects(C.openConfig(base.encryption_secret, other.agent_id, base.envelope), /another agent/);
  });

  test('random-iv seal round-trips and never repeats the iv', async () => {
    const secret = C.generateEncryptionSecret();
    const doc = { schema: 1, env: { A_B: 'x y "z"' }, openclaw: { a: { b: [1, 2] } } };
    const e1 = await C.sealConfig(secret, base.agent_id, 3, doc);
    const e2 = await C.sealConfig(secret, base.agent_id, 3, doc);
    assert.notEqual(e1.iv, e2.iv);
    assert.deepEqual(await C.openConfig(secret, base.agent_id, e1), doc);
    assert.deepEqual(Object.keys(e1), ['v', 'alg', 'agent_id', 'version', 'iv', 'ct']);
  });

  // Documents that decrypt fine but break the §4 rules must still be refused.
  async function sealRaw(secret, agentId, version, text) {
    const ck = await C.configKeyBytes(secret, agentId);
    const key = await crypto.subtle.importKey('raw', ck, 'AES-GCM', false, ['encrypt']);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: te.encode(`openclaw-fleet/config/v1|${agentId}|${version}`) },
      key,
      te.encode(text),
    );
    return { v: 1, alg: 'A256GCM', agent_id: agentId, version, iv: C.b64uEncode(iv), ct: C.b64uEncode(new Uint8Array(ct)) };
  }
  const badDocs = {
    'schema 2': '{"schema":2,"env":{},"openclaw":{}}',
    'lowercase env name': '{"schema":1,"env":{"lower":"x"},"openclaw":{}}',
    'env name with a dash': '{"schema":1,"env":{"A-B":"x"},"openclaw":{}}',
    'env name starting with a digit': '{"schema":1,"env":{"1A":"x"},"openclaw":{}}',
    'numeric env value': '{"schema":1,"env":{"A":1},"openclaw":{}}',
    'openclaw array': '{"schema":1,"env":{},"openclaw":[]}',
    'an env value with a line break': '{"schema":1,"env":{"A":"a\\nb"}}',
    'not JSON': 'schema=1',
    'a JSON array': '[]',
  };
  for (const [name, text] of Object.entries(badDocs)) {
    test(`openConfig refuses an authentic document with ${name}`, async () => {
      const env = await sealRaw(base.encryption_secret, base.agent_id, 4, text);
      await assert.rejects(C.openConfig(base.encryption_secret, base.agent_id, env), C.ConfigDocumentError);
    });
  }

  test('sealConfig refuses bad input before encrypting', async () => {
    const doc = { schema: 1, env: {}, openclaw: {} };
    await assert.rejects(C.sealConfig(base.encryption_secret, base.agent_id, 0, doc), C.CryptoFormatError);
    await assert.rejects(C.sealConfig(base.encryption_secret, 'AGENT', 1, doc), C.CryptoFormatError);
    await assert.rejects(C.sealConfig('nope', base.agent_id, 1, doc), C.CryptoFormatError);
    await assert.rejects(
      C.sealConfig(base.encryption_secret, base.agent_id, 1, { ...doc, env: { 'bad name': 'x' } }),
      C.ConfigDocumentError,
    );
    await assert.rejects(C.sealConfig(base.encryption_secret, base.agent_id, 1, doc, 'AAAA'), C.CryptoFormatError);
  });
});

describe('config document rules', () => {
  test('env names', () => {
    for (const ok of ['A', '_', 'ANTHROPIC_API_KEY', '_X1', 'A_1_B']) assert.equal(C.validateEnvName(ok), true);
    for (const bad of ['', 'a', '1A', 'A-B', 'A B', 'Ä', 'A=B', 'A\n', null, 5]) {
      assert.throws(() => C.validateEnvName(bad), C.ConfigDocumentError);
      assert.equal(C.isValidEnvName(bad), false);
    }
  });

  test('documents', () => {
    assert.equal(C.validateDocument({ schema: 1, env: {}, openclaw: {} }), true);
    assert.equal(C.validateDocument({ schema: 1, env: { A: '' }, openclaw: { x: 1 }, note: 'ok' }), true);
    for (const bad of [
      null, [], {}, { schema: '1', env: {}, openclaw: {} }, { schema: 1, env: [], openclaw: {} },
      { schema: 1, env: { A: null }, openclaw: {} }, { schema: 1, env: {}, openclaw: null },
    ]) {
      assert.throws(() => C.validateDocument(bad), C.ConfigDocumentError);
    }
  });
});

describe('handshake vectors (SPEC §2)', () => {
  for (const [i, v] of handshake.valid.entries()) {
    test(`valid #${i}`, async () => {
      assert.equal(v.agent_id + v.timestamp, v.message);
      assert.equal(await C.signHandshake(v.agent_id, v.timestamp, v.agent_secret), v.signature);
      assert.equal(await C.signHandshake(v.agent_id, Number(v.timestamp), v.agent_secret), v.signature);
      assert.equal(await C.verifyHandshake(v.agent_id, v.timestamp, v.agent_secret, v.signature), true);
    });
  }
  for (const [i, v] of handshake.invalid.entries()) {
    test(`invalid #${i}: ${v.why}`, async () => {
      assert.notEqual(await C.signHandshake(v.agent_id, v.timestamp, v.agent_secret), v.signature);
      assert.equal(await C.verifyHandshake(v.agent_id, v.timestamp, v.agent_secret, v.signature), false);
    });
  }
  test('refuses non-canonical timestamps and empty secrets', async () => {
    const v = handshake.valid[0];
    await assert.rejects(C.signHandshake(v.agent_id, '01764326400', v.agent_secret), C.CryptoFormatError);
    await assert.rejects(C.signHandshake(v.agent_id, '-1', v.agent_secret), C.CryptoFormatError);
    await assert.rejects(C.signHandshake(v.agent_id, v.timestamp, ''), TypeError);
    assert.equal(await C.verifyHandshake(v.agent_id, v.timestamp, v.agent_secret, v.signature.toUpperCase()), false);
    assert.equal(await C.verifyHandshake(v.agent_id, v.timestamp, v.agent_secret, 'zz'), false);
  });
});
