// The dashboard's document edits against every shared vector
// (spec/test-vectors/document-edits.json), as the operator CLI runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

import { applyEdit, EditError } from '../js/config-edits.js';

const dir = process.env.OPENCLAW_FLEET_VECTORS
  ? pathToFileURL(process.env.OPENCLAW_FLEET_VECTORS.replace(/\/?$/, '/'))
  : new URL('../../spec/test-vectors/', import.meta.url);
const vectors = JSON.parse(await readFile(new URL('document-edits.json', dir), 'utf8'));

for (const c of vectors.valid) {
  test(`edit: ${c.name}`, () => {
    const input = structuredClone(c.document);
    const { doc, changed } = applyEdit(input, c.edit);
    assert.deepEqual(doc, c.result);
    assert.equal(changed, c.changed);
    assert.deepEqual(input, c.document, 'the input document is left untouched');
  });
}

for (const c of vectors.invalid) {
  test(`edit refused: ${c.name}`, () => {
    assert.throws(() => applyEdit(structuredClone(c.document), c.edit), (e) => {
      assert.ok(e instanceof EditError, `${e}`);
      assert.equal(e.code, c.error);
      for (const value of Object.values(c.edit.set_env ?? {})) {
        if (typeof value === 'string' && value.length > 1) assert.ok(!e.message.includes(value));
      }
      return true;
    });
  });
}
