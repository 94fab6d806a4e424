//! Edits an operator makes to a decrypted config document without retyping
//! it: set or remove environment variables, and merge an `openclaw.json`
//! fragment. The operator CLI and the dashboard's fleet-wide changes apply
//! the same edit to many agents, so the semantics are data: every case in
//! `spec/test-vectors/document-edits.json` runs against this module.
//!
//! The fragment is an RFC 7396 JSON merge patch on `openclaw`: objects merge
//! key by key, `null` removes a key, anything else (arrays included)
//! replaces. Removals run before additions; naming one variable in both is
//! refused as ambiguous. Unknown top-level keys of the document are kept.
//! Values are secrets: no refusal names a value, and none names an invalid
//! variable name (an operator who typed a secret where a name belongs must
//! not see it echoed into a terminal log).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::document::{check_document, valid_env_name, valid_env_value, zeroize_value};
use crate::error::{ProtocolError, Result};

/// Why an edit was refused; `code` is the name the shared vectors use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditRefusal {
    #[error("an environment variable name must match ^[A-Z_][A-Z0-9_]*$")]
    EnvName,
    #[error("the value of {0} contains NUL or a line break, or all of ', \" (or \\ or $) and `")]
    EnvValue(String),
    #[error("{0} is both set and removed in one edit")]
    SetAndUnset(String),
    #[error("an openclaw fragment must be a JSON object")]
    FragmentNotObject,
    #[error("malformed edit: {0}")]
    Malformed(&'static str),
}

impl EditRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::EnvName => "invalid_env_name",
            Self::EnvValue(_) => "invalid_env_value",
            Self::SetAndUnset(_) => "set_and_unset",
            Self::FragmentNotObject => "fragment_not_object",
            Self::Malformed(_) => "invalid_edit",
        }
    }
}

fn refuse<T>(why: EditRefusal) -> Result<T> {
    Err(ProtocolError::InvalidEdit(why))
}

/// One edit, built from validated parts. Holds secret values, so it has no
/// Debug, Clone or Serialize and wipes its strings on drop.
#[derive(Default)]
pub struct DocumentEdit {
    set_env: BTreeMap<String, Zeroizing<String>>,
    unset_env: BTreeSet<String>,
    merge_openclaw: Vec<Value>,
}

impl DocumentEdit {
    /// The vector form `{"set_env": {…}, "unset_env": […], "merge_openclaw": {…}}`,
    /// every key optional, no other key allowed.
    pub fn parse(value: &Value) -> Result<Self> {
        let obj = match value {
            Value::Object(obj) => obj,
            _ => return refuse(EditRefusal::Malformed("an edit is a JSON object")),
        };
        let mut edit = Self::default();
        for (key, part) in obj {
            match (key.as_str(), part) {
                ("unset_env", Value::Array(names)) => {
                    for name in names {
                        let Value::String(name) = name else {
                            return refuse(EditRefusal::Malformed("`unset_env` holds names"));
                        };
                        edit.unset_env(name)?;
                    }
                }
                ("set_env", Value::Object(vars)) => {
                    for (name, value) in vars {
                        let Value::String(value) = value else {
                            return refuse(EditRefusal::Malformed("`set_env` values are strings"));
                        };
                        edit.set_env(name, Zeroizing::new(value.clone()))?;
                    }
                }
                ("merge_openclaw", fragment) => edit.merge_openclaw(fragment.clone())?,
                ("unset_env", _) => return refuse(EditRefusal::Malformed("`unset_env` is a list")),
                ("set_env", _) => return refuse(EditRefusal::Malformed("`set_env` is an object")),
                _ => return refuse(EditRefusal::Malformed("unknown key")),
            }
        }
        Ok(edit)
    }

    pub fn set_env(&mut self, name: &str, value: Zeroizing<String>) -> Result<()> {
        if !valid_env_name(name) {
            return refuse(EditRefusal::EnvName);
        }
        if !valid_env_value(&value) {
            return refuse(EditRefusal::EnvValue(name.to_owned()));
        }
        if self.unset_env.contains(name) {
            return refuse(EditRefusal::SetAndUnset(name.to_owned()));
        }
        self.set_env.insert(name.to_owned(), value);
        Ok(())
    }

    pub fn unset_env(&mut self, name: &str) -> Result<()> {
        if !valid_env_name(name) {
            return refuse(EditRefusal::EnvName);
        }
        if self.set_env.contains_key(name) {
            return refuse(EditRefusal::SetAndUnset(name.to_owned()));
        }
        self.unset_env.insert(name.to_owned());
        Ok(())
    }

    /// Adds a merge patch for `openclaw`; several are applied in order.
    pub fn merge_openclaw(&mut self, mut fragment: Value) -> Result<()> {
        if !fragment.is_object() {
            zeroize_value(&mut fragment);
            return refuse(EditRefusal::FragmentNotObject);
        }
        self.merge_openclaw.push(fragment);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.set_env.is_empty() && self.unset_env.is_empty() && self.merge_openclaw.is_empty()
    }

    /// The variable names this edit sets and removes (never values).
    pub fn env_names(&self) -> (Vec<&str>, Vec<&str>) {
        (
            self.set_env.keys().map(String::as_str).collect(),
            self.unset_env.iter().map(String::as_str).collect(),
        )
    }

    /// Applies the edit to a valid document in place and says whether its
    /// content changed (a missing `env` or `openclaw` counts as `{}`). A
    /// document that breaks SPEC §4 is refused and left as it was.
    pub fn apply(&self, doc: &mut Value) -> Result<bool> {
        check_document(doc)?;
        let obj = doc.as_object_mut().expect("checked: an object");
        for key in ["env", "openclaw"] {
            obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
        }
        let mut before = Value::Object(obj.clone());
        let env = obj["env"].as_object_mut().expect("checked: an object");
        for name in &self.unset_env {
            if let Some(mut old) = env.remove(name) {
                zeroize_value(&mut old);
            }
        }
        for (name, value) in &self.set_env {
            let new = Value::String(value.as_str().to_owned());
            if let Some(mut old) = env.insert(name.clone(), new) {
                zeroize_value(&mut old);
            }
        }
        for fragment in &self.merge_openclaw {
            merge_patch(&mut obj["openclaw"], fragment);
        }
        let changed = before != *doc;
        zeroize_value(&mut before);
        Ok(changed)
    }
}

/// RFC 7396 section 2, written out rather than taken from a crate so that
/// every value it removes or replaces is wiped.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        let mut old = std::mem::replace(target, patch.clone());
        zeroize_value(&mut old);
        return;
    };
    if !target.is_object() {
        let mut old = std::mem::replace(target, Value::Object(Map::new()));
        zeroize_value(&mut old);
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            if let Some(mut old) = map.remove(key) {
                zeroize_value(&mut old);
            }
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

impl Drop for DocumentEdit {
    fn drop(&mut self) {
        for fragment in &mut self.merge_openclaw {
            zeroize_value(fragment);
        }
    }
}
