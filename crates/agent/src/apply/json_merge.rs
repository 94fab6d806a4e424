//! Deep merge of a config's `openclaw` fragment into OpenClaw's own
//! `openclaw.json`, and removal of what an earlier fragment set that the new
//! one no longer holds. The agent remembers the leaf paths it manages (in
//! the state file) because the merged document alone cannot tell the owner's
//! keys from the agent's: only managed paths are ever removed.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The object keys leading from the document root to one value.
pub type KeyPath = Vec<String>;

/// Every leaf path of `fragment`: paths to non-object values and to empty
/// objects. Arrays are leaves: they are replaced whole, never merged.
pub fn leaf_paths(fragment: &Map<String, Value>) -> BTreeSet<KeyPath> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<(KeyPath, &Map<String, Value>)> = vec![(Vec::new(), fragment)];
    while let Some((prefix, map)) = stack.pop() {
        for (key, value) in map {
            let mut path = prefix.clone();
            path.push(key.clone());
            match value {
                Value::Object(inner) if !inner.is_empty() => stack.push((path, inner)),
                _ => {
                    out.insert(path);
                }
            }
        }
    }
    out
}

/// Merges `fragment` into `doc`: objects merge key by key, any other value
/// replaces what was there.
pub fn deep_merge(doc: &mut Map<String, Value>, fragment: &Map<String, Value>) {
    for (key, value) in fragment {
        match (doc.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(inner)) => deep_merge(existing, inner),
            (_, Value::Object(inner)) => {
                let mut fresh = Map::new();
                deep_merge(&mut fresh, inner);
                doc.insert(key.clone(), Value::Object(fresh));
            }
            (_, other) => {
                doc.insert(key.clone(), other.clone());
            }
        }
    }
}

/// Removes the value at `path`, then every object that the removal left
/// empty. A non-empty object found at `path` is kept: someone put keys there
/// that the agent never managed.
pub fn remove_path(doc: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        if !matches!(doc.get(first), Some(Value::Object(m)) if !m.is_empty()) {
            doc.remove(first);
        }
        return;
    }
    if let Some(Value::Object(inner)) = doc.get_mut(first) {
        let before = inner.len();
        remove_path(inner, rest);
        if inner.is_empty() && before > 0 {
            doc.remove(first);
        }
    }
}

/// One apply step: drops the paths in `previously_managed` that `fragment`
/// no longer holds, merges `fragment`, and returns the new managed set.
pub fn apply_fragment(
    doc: &mut Map<String, Value>,
    fragment: &Map<String, Value>,
    previously_managed: &BTreeSet<KeyPath>,
) -> BTreeSet<KeyPath> {
    let managed = leaf_paths(fragment);
    for stale in previously_managed.difference(&managed) {
        remove_path(doc, stale);
    }
    deep_merge(doc, fragment);
    managed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn path(p: &[&str]) -> KeyPath {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn merges_objects_and_replaces_scalars_and_arrays() {
        let mut doc = obj(json!({"gateway": {"port": 1, "bind": "lan"}, "list": [1, 2], "x": 1}));
        let frag = obj(json!({"gateway": {"port": 2, "auth": {"mode": "token"}}, "list": [3]}));
        deep_merge(&mut doc, &frag);
        assert_eq!(
            Value::Object(doc),
            json!({"gateway": {"port": 2, "bind": "lan", "auth": {"mode": "token"}}, "list": [3], "x": 1})
        );
    }

    #[test]
    fn leaf_paths_list_values_and_empty_objects() {
        let frag = obj(json!({"a": {"b": 1, "c": {"d": [1]}, "e": {}}, "f": null}));
        let expected: BTreeSet<KeyPath> = [
            path(&["a", "b"]),
            path(&["a", "c", "d"]),
            path(&["a", "e"]),
            path(&["f"]),
        ]
        .into_iter()
        .collect();
        assert_eq!(leaf_paths(&frag), expected);
    }

    #[test]
    fn removes_stale_managed_keys_but_keeps_unmanaged_ones() {
        let mut doc = obj(json!({"owner": {"theme": "dark"}, "agents": {"mine": true}}));
        let v1 = obj(json!({"agents": {"model": "a", "extra": {"deep": 1}}, "owner": {"k": 1}}));
        let managed_v1 = apply_fragment(&mut doc, &v1, &BTreeSet::new());
        let v2 = obj(json!({"agents": {"model": "b"}}));
        let managed_v2 = apply_fragment(&mut doc, &v2, &managed_v1);
        assert_eq!(
            Value::Object(doc),
            json!({"owner": {"theme": "dark"}, "agents": {"mine": true, "model": "b"}})
        );
        assert_eq!(
            managed_v2,
            [path(&["agents", "model"])].into_iter().collect()
        );
    }

    #[test]
    fn prunes_objects_emptied_by_removal_only() {
        let mut doc = obj(json!({"a": {"b": {"c": 1}}, "keep": {}}));
        remove_path(&mut doc, &path(&["a", "b", "c"]));
        assert_eq!(Value::Object(doc.clone()), json!({"keep": {}}));
        remove_path(&mut doc, &path(&["missing", "x"]));
        assert_eq!(Value::Object(doc), json!({"keep": {}}));
    }

    #[test]
    fn leaf_becoming_object_and_back() {
        let mut doc = Map::new();
        let m1 = apply_fragment(&mut doc, &obj(json!({"a": 1})), &BTreeSet::new());
        let m2 = apply_fragment(&mut doc, &obj(json!({"a": {"b": 2}})), &m1);
        assert_eq!(Value::Object(doc.clone()), json!({"a": {"b": 2}}));
        apply_fragment(&mut doc, &obj(json!({"a": 3})), &m2);
        assert_eq!(Value::Object(doc), json!({"a": 3}));
    }

    #[test]
    fn same_fragment_twice_is_a_no_op() {
        let frag = obj(json!({"a": {"b": [1, {"c": 2}]}, "d": "x"}));
        let mut doc = obj(json!({"z": 0}));
        let m = apply_fragment(&mut doc, &frag, &BTreeSet::new());
        let once = doc.clone();
        apply_fragment(&mut doc, &frag, &m);
        assert_eq!(doc, once);
    }
}
