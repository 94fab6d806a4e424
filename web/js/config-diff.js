// The differences between two decrypted config documents, for the config
// history view: environment variables by name, and the openclaw fragment by
// path (nested objects are walked; arrays and scalars compare as whole
// values). Pure and DOM-free, so it runs under node --test.

const isObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);

function same(a, b) {
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && same(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  return a === b;
}

/** Leaf values of an object by path (["a", "b"] for {a: {b: 1}}); empty objects are leaves. */
function leaves(obj, prefix = [], out = new Map()) {
  const keys = Object.keys(obj);
  if (!keys.length && prefix.length) out.set(JSON.stringify(prefix), { path: prefix, value: obj });
  for (const key of keys) {
    const path = [...prefix, key];
    if (isObject(obj[key]) && Object.keys(obj[key]).length) leaves(obj[key], path, out);
    else out.set(JSON.stringify(path), { path, value: obj[key] });
  }
  return out;
}

function byPath(x, y) {
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

function change(section, path, before, after) {
  if (before === undefined) return { section, path, kind: 'added', after };
  if (after === undefined) return { section, path, kind: 'removed', before };
  return { section, path, kind: 'changed', before, after };
}

/**
 * Changes from `older` to `newer`: [{section: 'env'|'openclaw', path: [..],
 * kind: 'added'|'removed'|'changed', before?, after?}], env first, each
 * section sorted by path.
 */
export function diffDocuments(older, newer) {
  const out = [];
  const envA = older?.env ?? {};
  const envB = newer?.env ?? {};
  for (const name of [...new Set([...Object.keys(envA), ...Object.keys(envB)])].sort()) {
    if (envA[name] !== envB[name]) out.push(change('env', [name], envA[name], envB[name]));
  }
  const a = leaves(isObject(older?.openclaw) ? older.openclaw : {});
  const b = leaves(isObject(newer?.openclaw) ? newer.openclaw : {});
  const keys = [...new Set([...a.keys(), ...b.keys()])].map(JSON.parse).sort(byPath).map((p) => JSON.stringify(p));
  for (const key of keys) {
    const before = a.get(key);
    const after = b.get(key);
    if (before && after && same(before.value, after.value)) continue;
    out.push(change('openclaw', (before ?? after).path, before?.value, after?.value));
  }
  return out;
}

/** A path as people read it: env names as they are, openclaw paths dotted. */
export function pathText({ section, path }) {
  if (section === 'env') return path[0];
  return path.map((p) => (/^[A-Za-z_$][\w$-]*$/.test(p) ? p : JSON.stringify(p))).join('.');
}
