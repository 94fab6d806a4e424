// The config history's diff of two decrypted documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { diffDocuments, pathText } from '../js/config-diff.js';

const doc = (env, openclaw) => ({ schema: 1, env, openclaw });

test('identical documents have no differences', () => {
  const d = doc({ A: '1' }, { agents: { defaults: { model: 'x', tags: ['a', 'b'] } } });
  assert.deepEqual(diffDocuments(d, structuredClone(d)), []);
});

test('env variables are added, removed and changed by name', () => {
  const changes = diffDocuments(doc({ KEEP: 'k', OLD: 'o', KEY: 'v1' }, {}), doc({ KEEP: 'k', KEY: 'v2', NEW: 'n' }, {}));
  assert.deepEqual(changes, [
    { section: 'env', path: ['KEY'], kind: 'changed', before: 'v1', after: 'v2' },
    { section: 'env', path: ['NEW'], kind: 'added', after: 'n' },
    { section: 'env', path: ['OLD'], kind: 'removed', before: 'o' },
  ]);
});

test('openclaw fragments are compared by path; arrays are whole values', () => {
  const older = doc({}, { agents: { defaults: { model: 'a', tags: ['x'] }, list: [] }, gone: { deep: 1 } });
  const newer = doc({}, { agents: { defaults: { model: 'b', tags: ['x', 'y'] }, list: [] }, added: {} });
  const changes = diffDocuments(older, newer);
  assert.deepEqual(changes.map((c) => [pathText(c), c.kind]), [
    ['added', 'added'],
    ['agents.defaults.model', 'changed'],
    ['agents.defaults.tags', 'changed'],
    ['gone.deep', 'removed'],
  ]);
  assert.deepEqual(changes[2].after, ['x', 'y']);
});

test('a value that turns from an object into a scalar shows both sides', () => {
  const changes = diffDocuments(doc({}, { a: { b: 1 } }), doc({}, { a: 2 }));
  assert.deepEqual(changes.map((c) => [pathText(c), c.kind]), [['a', 'added'], ['a.b', 'removed']]);
});

test('missing sections read as empty, and odd keys are quoted', () => {
  const changes = diffDocuments({ schema: 1 }, doc({ A: 'x' }, { 'my key': { 'a.b': true } }));
  assert.deepEqual(changes.map(pathText), ['A', '"my key"."a.b"']);
});
