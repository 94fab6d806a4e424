//! Rewriting `.env` and `openclaw.json` for one config document: both new
//! contents are computed before anything is written, every write is atomic
//! and private, and when a write or OpenClaw's own check fails the files
//! written so far are put back as they were. `openclaw.json` is read as
//! JSON5 and, when its content changes, rewritten as plain JSON (sorted keys,
//! two-space indent; comments are not kept) with the previous bytes in
//! `openclaw.json.bak` (docs/config-semantics.md).

use std::path::{Path, PathBuf};

use openclaw_fleet_protocol::{zeroize_value, ConfigDocument};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{env_file, json_merge, ApplyError, Validator};
use super::{ENV_FILE, OPENCLAW_JSON, OPENCLAW_JSON_BACKUP};
use crate::fsutil;
use crate::state::AgentState;

/// One file's content before and after, kept to restore on a failed check.
struct Rewrite {
    path: PathBuf,
    before: Option<Zeroizing<Vec<u8>>>,
    after: Zeroizing<Vec<u8>>,
}

/// Writes `.env` and `openclaw.json` for `doc`; true when either changed.
pub(super) fn write_document(
    dir: &Path,
    doc: &ConfigDocument,
    state: &AgentState,
    validator: &Validator,
) -> Result<bool, ApplyError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ApplyError::Io { path, source }
    };
    fsutil::ensure_private_dir(dir).map_err(io_err(dir))?;
    let mut rewrites = Vec::new();
    if let Some(r) = env_rewrite(dir, doc)? {
        rewrites.push(r);
    }
    if let Some(r) = json_rewrite(dir, doc, state)? {
        if let Some(before) = &r.before {
            let backup = dir.join(OPENCLAW_JSON_BACKUP);
            fsutil::write_atomic(&backup, before).map_err(io_err(&backup))?;
        }
        rewrites.push(r);
    }
    for (i, r) in rewrites.iter().enumerate() {
        if let Err(source) = fsutil::write_atomic(&r.path, &r.after) {
            restore(&rewrites[..i]);
            return Err(ApplyError::Io {
                path: r.path.clone(),
                source,
            });
        }
    }
    if !rewrites.is_empty() {
        if let Err(e) = validator.run(dir) {
            restore(&rewrites);
            return Err(ApplyError::Validate(e));
        }
    }
    Ok(!rewrites.is_empty())
}

fn restore(done: &[Rewrite]) {
    for r in done.iter().rev() {
        let result = match &r.before {
            Some(before) => fsutil::write_atomic(&r.path, before),
            None => std::fs::remove_file(&r.path),
        };
        if let Err(e) = result {
            tracing::error!(file = %r.path.display(), error = %e, "could not restore file");
        }
    }
}

fn env_rewrite(dir: &Path, doc: &ConfigDocument) -> Result<Option<Rewrite>, ApplyError> {
    let path = dir.join(ENV_FILE);
    let before = read_private(&path)?;
    let text = match &before {
        Some(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| ApplyError::EnvFile(env_file::EnvFileError::NotUtf8))?,
        None => "",
    };
    let rendered = env_file::render(text, &doc.env).map_err(ApplyError::EnvFile)?;
    let after = Zeroizing::new(rendered.as_bytes().to_vec());
    let unchanged = match &before {
        Some(b) => b.as_slice() == after.as_slice(),
        None => doc.env.is_empty(),
    };
    Ok((!unchanged).then_some(Rewrite {
        path,
        before,
        after,
    }))
}

fn json_rewrite(
    dir: &Path,
    doc: &ConfigDocument,
    state: &AgentState,
) -> Result<Option<Rewrite>, ApplyError> {
    if doc.openclaw.is_empty() && state.managed_openclaw.is_empty() {
        // Nothing to merge or remove: the owner's file is not even read.
        return Ok(None);
    }
    let path = dir.join(OPENCLAW_JSON);
    let before = read_private(&path)?;
    let local_err = |reason: &str| ApplyError::LocalConfig {
        path: path.clone(),
        reason: reason.to_owned(),
    };
    let mut current = Scrubbed(match &before {
        None => Map::new(),
        Some(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|_| local_err("not UTF-8"))?;
            if json5::from_str::<FiniteNumbers>(text).is_err() {
                return Err(local_err("syntax error, or NaN or Infinity"));
            }
            match json5::from_str::<Value>(text) {
                Ok(Value::Object(map)) => map,
                Ok(mut other) => {
                    zeroize_value(&mut other);
                    return Err(local_err("the top level is not an object"));
                }
                Err(_) => return Err(local_err("syntax error")),
            }
        }
    });
    let original = Scrubbed(current.0.clone());
    json_merge::apply_fragment(&mut current.0, &doc.openclaw, &state.managed_openclaw);
    if current.0 == original.0 && (before.is_some() || current.0.is_empty()) {
        return Ok(None);
    }
    let mut after = Zeroizing::new(
        serde_json::to_vec_pretty(&current.0).expect("a JSON map always serializes"),
    );
    after.push(b'\n');
    Ok(Some(Rewrite {
        path,
        before,
        after,
    }))
}

/// A pass over a JSON5 text that fails on `NaN` and `Infinity`: JSON cannot
/// hold them, and read into a [`Value`] they would silently become `null`.
struct FiniteNumbers;

impl<'de> serde::Deserialize<'de> for FiniteNumbers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FiniteNumbers)
    }
}

impl<'de> serde::de::Visitor<'de> for FiniteNumbers {
    type Value = FiniteNumbers;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON5 value without NaN or Infinity")
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self, E> {
        if v.is_finite() {
            Ok(Self)
        } else {
            Err(E::custom("NaN or Infinity"))
        }
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(Self)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(Self)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(Self)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(Self)
    }

    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(Self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<FiniteNumbers>()?.is_some() {}
        Ok(Self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, FiniteNumbers>()?
            .is_some()
        {}
        Ok(Self)
    }
}

/// A JSON map read from `openclaw.json`, whose strings (tokens, keys) are
/// wiped when it is dropped.
struct Scrubbed(Map<String, Value>);

impl Drop for Scrubbed {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            zeroize_value(value);
        }
    }
}

fn read_private(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, ApplyError> {
    fsutil::read_optional(path)
        .map(|b| b.map(Zeroizing::new))
        .map_err(|source| ApplyError::Io {
            path: path.to_path_buf(),
            source,
        })
}
