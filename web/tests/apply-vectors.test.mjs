// The dashboard's part of spec/test-vectors/apply.json: every document the agents
// refuse (the "validate" cases, and each "apply" case refused with config_invalid)
// is refused before it is sealed, and every document they accept passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

import { validateDocument, ConfigDocumentError } from '../js/crypto.js';

const dir = process.env.OPENCLAW_FLEET_VECTORS
  ? pathToFileURL(process.env.OPENCLAW_FLEET_VECTORS.replace(/\/?$/, '/'))
  : new URL('../../spec/test-vectors/', import.meta.url);
const vectors = JSON.parse(await readFile(new URL('apply.json', dir), 'utf8'));

const documentCases = [
  ...vectors.validate.map((c) => ({ name: c.name, document: c.document, refused: c.error !== null })),
  ...vectors.apply
    .filter((c) => c.error === undefined || c.error === 'config_invalid')
    .map((c) => ({ name: `apply: ${c.name}`, document: c.document, refused: c.error === 'config_invalid' })),
];

test('the vectors are there', () => {
  assert.ok(vectors.validate.length >= 20);
  assert.ok(documentCases.filter((c) => c.refused).length >= 25);
});

for (const c of documentCases) {
  test(`${c.refused ? 'refused' : 'accepted'}: ${c.name}`, () => {
    if (!c.refused) {
      assert.equal(validateDocument(structuredClone(c.document)), true);
      return;
    }
    assert.throws(() => validateDocument(structuredClone(c.document)), (e) => {
      assert.ok(e instanceof ConfigDocumentError, `${e}`);
      for (const value of Object.values(c.document?.env ?? {})) {
        if (typeof value === 'string' && value.length > 3) assert.ok(!e.message.includes(value));
      }
      return true;
    });
  });
}
