// Edits applied to a decrypted config document without retyping it: set or
// remove environment variables and merge an openclaw.json fragment (an RFC 7396
// merge patch: objects merge, null removes, anything else replaces). The same
// semantics as the operator CLI, pinned by spec/test-vectors/document-edits.json.
// Errors carry a `code` (the vectors' names) and never a value or a bad name.

import { isValidEnvName, isValidEnvValue, validateDocument } from './crypto.js';

export class EditError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'EditError';
    this.code = code;
  }
}

const isObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);

/** Checks an edit {set_env?, unset_env?, merge_openclaw?}; throws EditError. */
export function checkEdit(edit) {
  if (!isObject(edit)) throw new EditError('invalid_edit', 'an edit is an object');
  for (const key of Object.keys(edit)) {
    if (!['set_env', 'unset_env', 'merge_openclaw'].includes(key)) throw new EditError('invalid_edit', 'unknown key');
  }
  const unset = edit.unset_env ?? [];
  if (!Array.isArray(unset)) throw new EditError('invalid_edit', 'unset_env is a list');
  const set = edit.set_env ?? {};
  if (!isObject(set)) throw new EditError('invalid_edit', 'set_env is an object');
  for (const name of unset) {
    if (typeof name !== 'string') throw new EditError('invalid_edit', 'unset_env holds names');
    if (!isValidEnvName(name)) throw new EditError('invalid_env_name', 'an environment variable name must match ^[A-Z_][A-Z0-9_]*$');
  }
  for (const [name, value] of Object.entries(set)) {
    if (typeof value !== 'string') throw new EditError('invalid_edit', 'set_env values are strings');
    if (!isValidEnvName(name)) throw new EditError('invalid_env_name', 'an environment variable name must match ^[A-Z_][A-Z0-9_]*$');
    if (!isValidEnvValue(value)) throw new EditError('invalid_env_value', `the value of ${name} cannot be written to .env (a line break or NUL, or every quote kind)`);
    if (unset.includes(name)) throw new EditError('set_and_unset', `${name} is both set and removed in one edit`);
  }
  if ('merge_openclaw' in edit && !isObject(edit.merge_openclaw)) {
    throw new EditError('fragment_not_object', 'an openclaw fragment must be a JSON object');
  }
  return true;
}

function mergePatch(target, patch) {
  if (!isObject(patch)) return structuredClone(patch);
  const out = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function sameJson(a, b) {
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameJson(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  return a === b;
}

/**
 * Applies `edit` to `doc` (left untouched) and returns {doc, changed}. Throws
 * EditError for a bad edit and ConfigDocumentError (code invalid_document) for
 * a document that breaks SPEC §4.
 */
export function applyEdit(doc, edit) {
  checkEdit(edit);
  try {
    validateDocument(doc);
  } catch {
    throw new EditError('invalid_document', 'the stored config document is not valid');
  }
  const before = { ...doc, env: doc.env ?? {}, openclaw: doc.openclaw ?? {} };
  const env = { ...before.env };
  for (const name of edit.unset_env ?? []) delete env[name];
  Object.assign(env, edit.set_env ?? {});
  const openclaw = 'merge_openclaw' in edit ? mergePatch(before.openclaw, edit.merge_openclaw) : before.openclaw;
  const after = { ...before, env, openclaw };
  return { doc: after, changed: !sameJson(before, after) };
}
