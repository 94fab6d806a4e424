// The dashboard's rollback check (web/js/rollback.js): the pure version rules,
// the per-agent "highest seen" record, and opening real sealed envelopes the
// way a hostile server would serve them (an older authentic envelope, a
// lower stored version, a version field rewritten outside the AAD).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DecryptError, generateEncryptionSecret, sealConfig } from '../js/crypto.js';
import {
  checkNext, checkOffered, openCurrent, recordSeen, RollbackError, seenVersion, VersionMismatchError,
} from '../js/rollback.js';

function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
    dump: () => JSON.stringify([...m]),
  };
}

const USER = '0b9d1c2e-1111-4a4a-8b8b-0123456789ab';
const AGENT = '7f3e2d1c-2222-4b4b-9c9c-0123456789ab';
const OTHER = '7f3e2d1c-3333-4b4b-9c9c-0123456789ab';

test('checkOffered: accepts the stored version at or above the record', () => {
  checkOffered({ stored: 0, offered: null, seen: 0 });
  checkOffered({ stored: 3, offered: 3, seen: 0 });
  checkOffered({ stored: 3, offered: 3, seen: 3 });
  checkOffered({ stored: 4, offered: 4, seen: 3 });
});

test('checkOffered: refuses rollbacks and inconsistent answers', () => {
  const cases = [
    [{ stored: 1, offered: 1, seen: 2 }, RollbackError, 'seen'],
    [{ stored: 0, offered: null, seen: 2 }, RollbackError, 'seen'],
    [{ stored: 2, offered: 1, seen: 0 }, RollbackError, 'stores'],
    [{ stored: 2, offered: 1, seen: 2 }, RollbackError, 'stores'],
    [{ stored: 2, offered: 3, seen: 0 }, VersionMismatchError],
    [{ stored: 2, offered: null, seen: 0 }, VersionMismatchError],
    [{ stored: -1, offered: null, seen: 0 }, VersionMismatchError],
    [{ stored: '2', offered: 2, seen: 0 }, VersionMismatchError],
  ];
  for (const [input, type, why] of cases) {
    assert.throws(() => checkOffered(input), (e) => {
      assert.ok(e instanceof type, `${JSON.stringify(input)}: ${e}`);
      if (why === 'seen') assert.match(e.message, /older config than one you’ve already seen: possible rollback/);
      if (why === 'stores') assert.match(e.message, /possible rollback/);
      return true;
    });
  }
});

test('checkNext: a save is sealed only above every version seen', () => {
  checkNext(1, 0);
  checkNext(4, 3);
  assert.throws(() => checkNext(3, 3), RollbackError);
  assert.throws(() => checkNext(2, 5), RollbackError);
});

test('the record is per user and agent, only ever raised, and holds no secret', () => {
  const s = memoryStorage();
  assert.equal(seenVersion(USER, AGENT, s), 0);
  recordSeen(USER, AGENT, 5, s);
  recordSeen(USER, AGENT, 3, s);
  assert.equal(seenVersion(USER, AGENT, s), 5);
  assert.equal(seenVersion(USER, OTHER, s), 0);
  assert.equal(seenVersion(OTHER, AGENT, s), 0);
  s.setItem(`ocf.seenConfig.${USER}.${OTHER}`, 'garbage');
  assert.equal(seenVersion(USER, OTHER, s), 0);
});

test('openCurrent: an older authentic envelope is refused once a newer one was seen', async () => {
  const s = memoryStorage();
  const secret = generateEncryptionSecret();
  const v1 = await sealConfig(secret, AGENT, 1, { schema: 1, env: { ANTHROPIC_API_KEY: 'old-value' }, openclaw: {} });
  const v2 = await sealConfig(secret, AGENT, 2, { schema: 1, env: { ANTHROPIC_API_KEY: 'new-value' }, openclaw: {} });
  const open = (stored, envelope) => openCurrent({ userId: USER, agentId: AGENT, secret, stored, envelope, storage: s });

  const first = await open(1, v1);
  assert.equal(first.version, 1);
  assert.equal(seenVersion(USER, AGENT, s), 1);
  const second = await open(2, v2);
  assert.equal(second.doc.env.ANTHROPIC_API_KEY, 'new-value');
  assert.equal(seenVersion(USER, AGENT, s), 2);

  // The hostile server replays version 1, claiming it is current.
  await assert.rejects(open(1, v1), RollbackError);
  // ... or claims version 2 but sends the old envelope.
  await assert.rejects(open(2, v1), RollbackError);
  // ... or claims there is no config at all.
  await assert.rejects(open(0, null), RollbackError);
  // ... or rewrites the envelope's version field: the AAD no longer matches.
  await assert.rejects(open(2, { ...v1, version: 2 }), DecryptError);
  await assert.rejects(open(3, { ...v1, version: 3 }), DecryptError);
  assert.equal(seenVersion(USER, AGENT, s), 2, 'a refused answer never moves the record');
  assert.ok(!s.dump().includes('value') && !s.dump().includes(secret), 'the record holds only versions');
});

test('openCurrent: a fresh browser accepts the current version and no config at version 0', async () => {
  const s = memoryStorage();
  const secret = generateEncryptionSecret();
  const none = await openCurrent({ userId: USER, agentId: AGENT, secret, stored: 0, envelope: null, storage: s });
  assert.equal(none.version, 0);
  assert.deepEqual(none.doc, { schema: 1, env: {}, openclaw: {} });
  const v3 = await sealConfig(secret, AGENT, 3, { schema: 1, env: {}, openclaw: { a: 1 } });
  const got = await openCurrent({ userId: USER, agentId: AGENT, secret, stored: 3, envelope: v3, storage: s });
  assert.deepEqual(got.doc.openclaw, { a: 1 });
  assert.equal(seenVersion(USER, AGENT, s), 3);
});
