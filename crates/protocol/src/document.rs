//! The config document of SPEC §4, the plaintext inside an envelope. It holds
//! API keys and tokens, so it has no Debug or Serialize, its strings are
//! zeroized on drop, and its JSON form is written into a zeroizing buffer.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{ProtocolError, Result};

pub const SCHEMA: u64 = 1;

/// A decrypted, validated config: `env` goes to OpenClaw's `.env`, `openclaw`
/// is deep-merged into `openclaw.json`.
#[derive(Default)]
pub struct ConfigDocument {
    pub env: BTreeMap<String, String>,
    pub openclaw: Map<String, Value>,
}

/// `^[A-Z_][A-Z0-9_]*$`.
pub fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'_'))
        && bytes.all(|b| matches!(b, b'A'..=b'Z' | b'0'..=b'9' | b'_'))
}

/// An env value must fit on one `.env` line, in a process environment, and in
/// one of the quotings of [`dotenv_quote`].
pub fn valid_env_value(value: &str) -> bool {
    !value.contains(['\0', '\n', '\r']) && dotenv_quote(value).is_some()
}

/// The quote an agent writes `value` in so that every dotenv reader gets it
/// back unchanged (spec/test-vectors/apply.json): single quotes are literal
/// everywhere; double quotes expand escapes and may be interpolated, so they
/// serve only values without `"`, `\` and `$`; backticks are the last resort.
/// `None`: no quoting can carry the value, and the document is invalid.
pub fn dotenv_quote(value: &str) -> Option<char> {
    if !value.contains('\'') {
        Some('\'')
    } else if !value.contains(['"', '\\', '$']) {
        Some('"')
    } else if !value.contains('`') {
        Some('`')
    } else {
        None
    }
}

/// Wipes every string inside a JSON value (config documents hold secrets).
pub fn zeroize_value(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => s.zeroize(),
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
}

fn invalid(msg: &str) -> ProtocolError {
    ProtocolError::InvalidDocument(msg.to_owned())
}

/// Checks a document against the SPEC §4 rules without taking it apart:
/// `schema` 1, `env` an object of valid names to one-line strings, `openclaw`
/// an object (both may be absent). Unknown top-level keys are allowed.
pub fn check_document(root: &Value) -> Result<()> {
    let obj = root
        .as_object()
        .ok_or_else(|| invalid("not a JSON object"))?;
    match obj.get("schema") {
        None => return Err(invalid("missing field `schema`")),
        Some(v) if v.as_u64() == Some(SCHEMA) => {}
        Some(_) => return Err(invalid("unsupported `schema` (expected 1)")),
    }
    match obj.get("env") {
        None => {}
        Some(Value::Object(env)) => {
            for (name, value) in env {
                check_env_entry(name, value)?;
            }
        }
        Some(_) => return Err(invalid("`env` must be an object")),
    }
    match obj.get("openclaw") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(invalid("`openclaw` must be an object")),
    }
}

fn check_env_entry(name: &str, value: &Value) -> Result<()> {
    if !valid_env_name(name) {
        return Err(invalid("`env` name does not match ^[A-Z_][A-Z0-9_]*$"));
    }
    let Value::String(value) = value else {
        return Err(invalid("`env` values must be strings"));
    };
    if !valid_env_value(value) {
        return Err(invalid(
            "`env` value contains NUL or a line break, or a quote of every dotenv kind",
        ));
    }
    Ok(())
}

impl ConfigDocument {
    /// Parses and validates decrypted bytes. Unknown top-level keys are
    /// ignored (and zeroized); every string is moved, never copied.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut root: Value =
            serde_json::from_slice(bytes).map_err(|_| invalid("not valid JSON"))?;
        let result = Self::take_from(&mut root);
        zeroize_value(&mut root);
        result
    }

    fn take_from(root: &mut Value) -> Result<Self> {
        check_document(root)?;
        let mut doc = Self::default();
        if let Some(Value::Object(env)) = root.get_mut("env") {
            for (name, value) in env.iter_mut() {
                if let Value::String(value) = value {
                    doc.env.insert(name.clone(), std::mem::take(value));
                }
            }
        }
        if let Some(Value::Object(map)) = root.get_mut("openclaw") {
            doc.openclaw = std::mem::take(map);
        }
        Ok(doc)
    }

    /// `{"schema":1,"env":{…},"openclaw":{…}}`, written into a buffer sized
    /// up front so no reallocation leaves a copy behind.
    pub fn to_json_bytes(&self) -> Zeroizing<Vec<u8>> {
        #[derive(Serialize)]
        struct Out<'a> {
            schema: u64,
            env: &'a BTreeMap<String, String>,
            openclaw: &'a Map<String, Value>,
        }
        let out = Out {
            schema: SCHEMA,
            env: &self.env,
            openclaw: &self.openclaw,
        };
        let mut counter = Counter(0);
        serde_json::to_writer(&mut counter, &out).expect("a document always serializes");
        let mut buf = Zeroizing::new(Vec::with_capacity(counter.0));
        serde_json::to_writer(&mut *buf, &out).expect("a document always serializes");
        buf
    }
}

struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ConfigDocument {
    fn drop(&mut self) {
        for value in self.env.values_mut() {
            value.zeroize();
        }
        for value in self.openclaw.values_mut() {
            zeroize_value(value);
        }
    }
}
